// Relationships of one type entering the given nodes, with their endpoints' keys and properties
// (slots: src, src_key, type, dst, dst_key).
// @param keys: keys of the target nodes
UNWIND $keys AS k
MATCH (a:{{src}})-[r:{{type}}]->(b:{{dst}})
WHERE b.{{dst_key}} = k
RETURN a.{{src_key}} AS src, b.{{dst_key}} AS dst, properties(r) AS props

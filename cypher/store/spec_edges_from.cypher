// Relationships of one type leaving the given nodes, with their endpoints' keys and properties
// (slots: src, src_key, type, dst, dst_key).
// @param keys: keys of the source nodes
UNWIND $keys AS k
MATCH (a:{{src}})-[r:{{type}}]->(b:{{dst}})
WHERE a.{{src_key}} = k
RETURN a.{{src_key}} AS src, b.{{dst_key}} AS dst, properties(r) AS props

// Endpoints (internal ids) and properties of every relationship of one type (slots: src, type, dst).
MATCH (a:{{src}})-[r:{{type}}]->(b:{{dst}})
RETURN id(a) AS src, id(b) AS dst, properties(r) AS props

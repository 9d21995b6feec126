// Endpoints (node keys) and properties of every relationship of one type (slots: src, type, dst).
MATCH (a:{{src}})-[r:{{type}}]->(b:{{dst}})
RETURN a.id AS src, b.id AS dst, properties(r) AS props

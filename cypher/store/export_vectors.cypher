// Feature vectors of the nodes of one label that hold one (slot: label).
MATCH (n:{{label}})
WHERE n.vector IS NOT NULL
RETURN id(n) AS nid, n.vector AS vector

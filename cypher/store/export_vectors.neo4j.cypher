// Feature vectors of the nodes of one label that hold one, by node key (slot: label).
MATCH (n:{{label}})
WHERE n.vector IS NOT NULL
RETURN n.id AS nid, n.vector AS vector

// Internal id and key of every node of one label (slot: label).
MATCH (n:{{label}})
RETURN id(n) AS nid, n.id AS key

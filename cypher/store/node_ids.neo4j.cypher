// Element ids of existing nodes of one label, by key (slot: label).
// @param keys: list of node keys
UNWIND $keys AS k
MATCH (n:{{label}} {id: k})
RETURN k AS key, elementId(n) AS nid

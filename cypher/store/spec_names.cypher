// Display names held in one property by the given nodes of one label (slots: label, key, prop).
// @param keys: node keys
UNWIND $keys AS k
MATCH (n:{{label}})
WHERE n.{{key}} = k AND n.{{prop}} IS NOT NULL
RETURN n.{{key}} AS key, n.{{prop}} AS name

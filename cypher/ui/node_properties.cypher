// One node's labels, properties and degree (relationships in either direction), for the
// dashboard's inspector. Nothing for an unknown node.
// @param label: the node's label
// @param id: the node's id
MATCH (n)
WHERE n.id = $id AND $label IN labels(n)
OPTIONAL MATCH (n)-[r]-()
RETURN labels(n) AS labels, properties(n) AS properties, count(r) AS degree
LIMIT 1

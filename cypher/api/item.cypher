// One item for the HTTP API: its properties (the `vector` of modality nodes is not among them),
// its attribute entities (label, id, relationship type, display name) and how many users
// interacted with it. Returns nothing for an unknown id. Slots: the served run's spec's labels
// and key properties (item, item_id, user; `Video`, `id`, `User` in kgrec's own schema).
// @param item_id: the item's key
MATCH (v:{{item}})
WHERE v.{{item_id}} = $item_id
OPTIONAL MATCH (v)-[r]->(a)
WHERE NOT a:Visual AND NOT a:Acoustic AND NOT a:Textual
WITH v, collect(DISTINCT [labels(a)[0], a.id, type(r), coalesce(a.title, a.name, a.id)])
     AS attributes
OPTIONAL MATCH (u:{{user}})-[]->(v)
RETURN properties(v) AS properties, attributes, count(DISTINCT u) AS users

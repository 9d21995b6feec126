// Items linked to any of the given entities (their genres, tags, artists...), for a dataset
// spec's `filters.subgraph` (slots filled from the spec: item, item_id).
// @param entities: keys (`id` properties) of the linking entities, e.g. ["Crime", "Film-Noir"]
MATCH (v:{{item}})-[]->(e)
WHERE e.id IN $entities
RETURN DISTINCT v.{{item_id}} AS item

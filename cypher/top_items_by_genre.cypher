// The most-interacted videos of a genre: distinct users who interacted with each (any
// User->Video relationship) and the number of interaction relationships, ranked by users,
// then interactions, then id. The genre name matches case-insensitively.
// @param genre: the Genre's id, e.g. "Comedy"
// @param limit: most rows to return (default: 20)
MATCH (g:Genre)<-[:HAS_GENRE]-(v:Video)
WHERE toLower(g.id) = toLower($genre)
OPTIONAL MATCH (u:User)-[r]->(v)
WITH v, count(DISTINCT u) AS users, count(r) AS interactions
RETURN v.id AS item_id, v.title AS title, users, interactions
ORDER BY users DESC, interactions DESC, item_id
LIMIT $limit

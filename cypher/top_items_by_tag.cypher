// The most-interacted videos carrying a tag: distinct users who interacted with each (any
// User->Video relationship) and the number of interaction relationships, ranked by users,
// then interactions, then id. The tag matches case-insensitively.
// @param tag: the Tag's id, e.g. "slow motion"
// @param limit: most rows to return (default: 20)
MATCH (t:Tag)<-[:HAS_TAG]-(v:Video)
WHERE toLower(t.id) = toLower($tag)
OPTIONAL MATCH (u:User)-[r]->(v)
WITH v, count(DISTINCT u) AS users, count(r) AS interactions
RETURN v.id AS item_id, v.title AS title, users, interactions
ORDER BY users DESC, interactions DESC, item_id
LIMIT $limit

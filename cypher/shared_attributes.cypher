// Unseen videos that share attributes (genre, tag, creator, decade) with a user's history,
// ranked by how many distinct attributes they share (then by id). `shared` lists them as
// 'Label: id'. Any User->Video relationship counts as seen.
// @param user_id: the User's id
// @param limit: most rows to return (default: 20)
MATCH (u:User {id: $user_id})-[]->(h:Video)
WITH collect(DISTINCT h) AS seen
UNWIND seen AS h
MATCH (h)-[:HAS_GENRE|HAS_TAG|CREATED_BY|RELEASED_IN]->(a)
WITH seen, collect(DISTINCT a) AS attrs
UNWIND attrs AS a
MATCH (a)<-[:HAS_GENRE|HAS_TAG|CREATED_BY|RELEASED_IN]-(c:Video)
WHERE NOT c IN seen
WITH c, collect(DISTINCT labels(a)[0] + ': ' + a.id) AS shared
RETURN c.id AS item_id, c.title AS title, size(shared) AS shared_count, shared
ORDER BY shared_count DESC, item_id
LIMIT $limit

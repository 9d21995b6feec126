// Who watched this video also watched: other videos ranked by the number of distinct users who
// interacted (any User->Video relationship) with both, then by id.
// @param item_id: the Video's id
// @param limit: most rows to return (default: 20)
MATCH (x:Video {id: $item_id})<-[]-(u:User)
WITH x, collect(DISTINCT u) AS users
UNWIND users AS u
MATCH (u)-[]->(y:Video)
WHERE y <> x
WITH y, count(DISTINCT u) AS co_users
RETURN y.id AS item_id, y.title AS title, co_users
ORDER BY co_users DESC, item_id
LIMIT $limit

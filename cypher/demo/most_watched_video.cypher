// The demo's example video: the one with the most interactions from users (ties by id).
MATCH (:User)-[r]->(v:Video)
RETURN v.id AS id, count(r) AS n
ORDER BY n DESC, id
LIMIT 1

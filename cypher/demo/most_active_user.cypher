// The demo's example user: the one with the most interactions with videos (ties by id).
MATCH (u:User)-[r]->(:Video)
RETURN u.id AS id, count(r) AS n
ORDER BY n DESC, id
LIMIT 1

// The demo's example genre: the first by id.
MATCH (g:Genre)
RETURN g.id AS id
ORDER BY id
LIMIT 1

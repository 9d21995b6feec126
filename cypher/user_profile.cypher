// A user's profile: their attribute entities (age group, gender, occupation, ...) and their
// history, one row per video they interacted with: the interaction kinds (relationship types,
// sorted), the rating (RATED only, else null), the latest ts and the first ts. Newest first;
// a user without history gives one row with a null item. Returns nothing for an unknown user.
// @param user_id: the User's id
// @param limit: most history rows to return (default: 50)
MATCH (u:User {id: $user_id})
OPTIONAL MATCH (u)-[ra]->(a)
WHERE NOT a:Video
WITH u, collect(DISTINCT labels(a)[0] + ': ' + a.id) AS attributes
OPTIONAL MATCH (u)-[r]->(v:Video)
WITH u, attributes, v, collect(DISTINCT type(r)) AS kinds, max(r.rating) AS rating,
     max(r.ts) AS ts, min(r.ts) AS first_ts
RETURN u.id AS user_id, u.age AS age, attributes, v.id AS item_id, v.title AS title,
       kinds, rating, ts, first_ts
ORDER BY coalesce(ts, -1) DESC, item_id
LIMIT $limit

// Users with at least `min_interactions` interactions at or after `since` (unix seconds), for a
// dataset spec's `filters.subgraph` (slots filled from the spec: user, item, user_id, timestamp).
// @param since: earliest interaction time, unix seconds
// @param min_interactions: fewest interactions since then (default: 1)
MATCH (u:{{user}})-[r]->(:{{item}})
WHERE r.{{timestamp}} >= $since
WITH u, count(r) AS n
WHERE n >= $min_interactions
RETURN u.{{user_id}} AS user

// Explanation paths between a user and a video: simple paths (no node twice) of at most
// $max_len relationships in either direction, shortest first. Each row gives the labels and
// ids of the nodes along the path (user first, video last), the relationship types and, for
// each relationship, whether it points along the path (true: from nodes[k] to nodes[k+1]).
// The literal bound 3 is the most $max_len can ask for (bounds cannot be parameters).
// @param user_id: the User's id
// @param item_id: the Video's id
// @param max_len: most relationships on a path, 1 to 3 (default: 3)
// @param limit: most paths to return (default: 25)
MATCH (u:User {id: $user_id}), (i:Video {id: $item_id})
MATCH p = (u)-[*1..3]-(i)
WHERE length(p) <= $max_len
  AND all(a IN range(0, length(p) - 1)
          WHERE all(b IN range(a + 1, length(p)) WHERE nodes(p)[a] <> nodes(p)[b]))
WITH p, length(p) AS len, [x IN nodes(p) | labels(x)[0]] AS node_labels,
     [x IN nodes(p) | x.id] AS node_ids, [r IN relationships(p) | type(r)] AS rel_types
RETURN len, node_labels, node_ids, rel_types,
       [k IN range(0, len - 1) | startNode(relationships(p)[k]) = nodes(p)[k]] AS forward
ORDER BY len, node_ids, rel_types
LIMIT $limit

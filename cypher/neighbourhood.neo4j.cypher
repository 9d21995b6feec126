// A node's neighbourhood: the distinct nodes within $hops hops (either direction) of every
// node whose id is $id (a video id also names its Visual/Acoustic/Textual nodes; $label picks
// one label), each at its shortest distance, nearest first, then by label and id.
// Expanded level by level with DISTINCT, so a hub costs its neighbours, not its paths.
// Labels cannot be parameters: centre nodes are found by id over all labels (no index).
// Neo4j: subqueries take their variables through a scope clause, CALL (a, b) { ... }, since
// an importing WITH (and a subquery without a scope clause) is deprecated from Neo4j 5.23.
// @param id: the centre node's id
// @param label: only centre nodes with this label, or null for any (default: null)
// @param hops: how far to look, 1 to 3 (default: 2)
// @param limit: most rows to return (default: 100)
MATCH (n)
WHERE n.id = $id AND ($label IS NULL OR $label IN labels(n))
OPTIONAL MATCH (n)-[]-(m1)
WITH n, collect(DISTINCT m1) AS l1
OPTIONAL MATCH (n)-[]-()-[]-(m2)
WHERE $hops >= 2 AND m2 <> n AND NOT m2 IN l1
WITH n, l1, collect(DISTINCT m2) AS l2
CALL (n, l1, l2) {
  UNWIND CASE WHEN $hops >= 3 THEN l2 ELSE [] END AS b
  MATCH (b)-[]-(m3)
  WHERE m3 <> n AND NOT m3 IN l1 AND NOT m3 IN l2
  RETURN collect(DISTINCT m3) AS l3
}
UNWIND [m IN l1 | [m, 1]] + [m IN l2 | [m, 2]] + [m IN l3 | [m, 3]] AS found
WITH n, found[0] AS m, found[1] AS hops
RETURN labels(n)[0] AS centre_label, n.id AS centre_id, hops, labels(m)[0] AS label,
       m.id AS id, coalesce(m.title, m.name) AS name
ORDER BY centre_label, hops, label, id
LIMIT $limit

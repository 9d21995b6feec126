// The neighbourhood of one node as a graph for drawing: the node with label $label and id $id,
// the distinct nodes within $hops hops of it (either direction), nearest first, at most $limit
// nodes in all (the centre counts), and the relationships among the nodes kept. One row per
// node: label, id, name (title or name), hops from the centre (0 for the centre) and `out`,
// its outgoing relationships to other kept nodes as [type, target label, target id].
// Expanded level by level with DISTINCT, so a hub costs its neighbours, not its paths.
// Neo4j: the subquery imports its variables with a scope clause (5.23+; the importing WITH is
// deprecated).
// @param label: the centre node's label
// @param id: the centre node's id
// @param hops: how far to look, 1 to 3 (default: 1)
// @param limit: most nodes to return, the centre included (default: 60)
MATCH (n)
WHERE n.id = $id AND $label IN labels(n)
WITH n LIMIT 1
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
WITH n, l1, l2, ([n] + l1 + l2 + l3)[0..$limit] AS keep
UNWIND keep AS a
OPTIONAL MATCH (a)-[r]->(b)
WHERE b IN keep
WITH n, l1, l2, a, collect([type(r), labels(b)[0], b.id]) AS out
RETURN labels(a)[0] AS label, a.id AS id, coalesce(a.title, a.name) AS name,
       CASE WHEN a = n THEN 0 WHEN a IN l1 THEN 1 WHEN a IN l2 THEN 2 ELSE 3 END AS hops,
       [x IN out WHERE x[0] IS NOT NULL] AS out
ORDER BY hops, label, id

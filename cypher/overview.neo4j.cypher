// Graph overview: how many nodes carry each label and how many relationships have each type,
// as one result set of rows (kind: 'node' or 'relationship', name, count), largest first
// within each kind.
// Neo4j: subqueries take their variables through a scope clause, CALL (a, b) { ... }, since
// an importing WITH (and a subquery without a scope clause) is deprecated from Neo4j 5.23.
CALL () {
  MATCH (n)
  UNWIND labels(n) AS name
  RETURN 'node' AS kind, name, count(*) AS count
  UNION ALL
  MATCH ()-[r]->()
  RETURN 'relationship' AS kind, type(r) AS name, count(*) AS count
}
RETURN kind, name, count
ORDER BY kind, count DESC, name

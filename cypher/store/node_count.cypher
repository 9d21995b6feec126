// Number of nodes in the graph (Neo4j answers from its count store; 0 means a fresh load).
MATCH (n)
RETURN count(n) AS count

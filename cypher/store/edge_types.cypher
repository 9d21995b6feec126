// The distinct (source label, relationship type, target label) triples in the graph.
MATCH (a)-[r]->(b)
RETURN DISTINCT labels(a)[0] AS src, type(r) AS type, labels(b)[0] AS dst

// Which labels carry learned knowledge-graph embeddings (the `embedding` property that
// `kgrec embed` writes back): per label, how many nodes have one.
MATCH (n)
WHERE n.embedding IS NOT NULL
RETURN labels(n)[0] AS label, count(n) AS nodes
ORDER BY label

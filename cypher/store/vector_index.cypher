// Cosine vector index (HNSW) on an embedding property of one label (slots: label, prop).
// @param dim: the vectors' dimension
CREATE VECTOR INDEX FOR (n:{{label}}) ON (n.{{prop}})
OPTIONS {dimension: $dim, similarityFunction: 'cosine'}

// Cosine vector index on an embedding property of one label, named `<prop>_<label>`
// (slots: index, label, prop).
// @param dim: the vectors' dimension
CREATE VECTOR INDEX {{index}} IF NOT EXISTS FOR (n:{{label}}) ON (n.{{prop}})
OPTIONS {indexConfig: {`vector.dimensions`: $dim, `vector.similarity_function`: 'cosine'}}

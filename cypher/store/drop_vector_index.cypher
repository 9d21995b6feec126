// Drop the vector index on an embedding property of one label (slots: label, prop); fails
// when there is none, which the caller ignores.
DROP VECTOR INDEX FOR (n:{{label}}) ON (n.{{prop}})

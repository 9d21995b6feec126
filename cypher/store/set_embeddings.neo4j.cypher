// Learned embeddings as a list<float> property of nodes of one label, by key
// (slots: label, prop). Returns how many nodes were found and written.
// @param rows: list of [key, [float, ...]]
UNWIND $rows AS row
MATCH (n:{{label}} {id: row[0]})
SET n.{{prop}} = row[1]
RETURN count(n) AS written

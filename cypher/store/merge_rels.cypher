// Upsert relationships between nodes given by internal id, one per (source, target, type).
// @param rows: list of [source internal id, target internal id, {properties}]
UNWIND $rows AS r
WITH r[0] AS s, r[1] AS t, r[2] AS p
MATCH (a) WHERE id(a) = s
MATCH (b) WHERE id(b) = t
MERGE (a)-[e:{{type}}]->(b)
SET e += p

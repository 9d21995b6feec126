// Upsert nodes of one label by key, returning their element ids (slot: label).
// Neo4j: the MERGE finds existing nodes through the uniqueness constraint on :Label(id).
// @param rows: list of [key, {properties}]
UNWIND $rows AS row
MERGE (n:{{label}} {id: row[0]})
SET n += row[1]
RETURN row[0] AS key, elementId(n) AS nid

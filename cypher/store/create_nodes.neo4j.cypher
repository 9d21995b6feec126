// Fresh load: create nodes of one label, returning their element ids (slot: label).
// Neo4j: the uniqueness constraint on :Label(id) (schema_node) refuses a repeated key.
// @param rows: list of [key, {properties}]
UNWIND $rows AS row
CREATE (n:{{label}} {id: row[0]})
SET n += row[1]
RETURN row[0] AS key, elementId(n) AS nid

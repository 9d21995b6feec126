// Fresh load: create nodes of one label, returning their internal ids (slot: label).
// @param rows: list of [key, {properties}]
UNWIND $rows AS row
CREATE (n:{{label}} {id: row[0]})
SET n += row[1]
RETURN row[0] AS key, id(n) AS nid

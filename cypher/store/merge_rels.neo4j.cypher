// Upsert relationships between nodes given by key, one per (source, target, type) (slots: src,
// type, dst); returns how many were written. Neo4j: endpoints are found through the uniqueness
// constraints on :Label(id).
// @param rows: list of [source key, target key, {properties}]
UNWIND $rows AS r
MATCH (a:{{src}} {id: r[0]})
MATCH (b:{{dst}} {id: r[1]})
MERGE (a)-[e:{{type}}]->(b)
SET e += r[2]
RETURN count(e) AS written

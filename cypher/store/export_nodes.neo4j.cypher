// The key of every node of one label (slot: label), twice: Neo4j exports name nodes by their
// key, unique per label (uniqueness constraint), instead of an internal id.
MATCH (n:{{label}})
RETURN n.id AS nid, n.id AS key

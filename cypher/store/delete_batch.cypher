// Delete up to $limit nodes with their relationships; returns how many went.
// @param limit: nodes per batch (default: 10000)
MATCH (n)
WITH n LIMIT $limit
DETACH DELETE n
RETURN count(*) AS deleted

// Delete up to $limit relationships of one type between two labels (slots: src, type, dst);
// returns how many went. Run until it returns 0 to delete them all.
// @param limit: relationships per batch (default: 10000)
MATCH (:{{src}})-[r:{{type}}]->(:{{dst}})
WITH r LIMIT $limit
DELETE r
RETURN count(*) AS deleted

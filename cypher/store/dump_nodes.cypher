// One page of the nodes of one label with all their properties, in key order, after the key
// $after (keyset paging; null: from the first) (slot: label).
// @param after: the last key of the previous page, or null for the first page (default: null)
// @param page: nodes per page (default: 10000)
MATCH (n:{{label}})
WHERE $after IS NULL OR n.id > $after
RETURN n.id AS key, properties(n) AS props
ORDER BY n.id
LIMIT $page

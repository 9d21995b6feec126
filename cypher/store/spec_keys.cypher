// One page of the keys of one label's nodes, in key order (slots: label, key).
// @param after: the last key of the previous page (default: null)
// @param page: most keys returned (default: 20000)
MATCH (n:{{label}})
WHERE n.{{key}} IS NOT NULL AND ($after IS NULL OR n.{{key}} > $after)
RETURN n.{{key}} AS key
ORDER BY key
LIMIT $page

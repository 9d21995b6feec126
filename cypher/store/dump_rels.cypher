// The relationships of one type between two labels (slots: src, type, dst) that leave one page
// of source nodes, taken in key order after the key $after (keyset paging over the sources;
// null: from the first). A source without such relationships gives one row with a null dst,
// so the caller sees every source key of the page.
// @param after: the last source key of the previous page, or null for the first (default: null)
// @param page: source nodes per page (default: 10000)
MATCH (a:{{src}})
WHERE $after IS NULL OR a.id > $after
WITH a
ORDER BY a.id
LIMIT $page
OPTIONAL MATCH (a)-[r:{{type}}]->(b:{{dst}})
RETURN a.id AS src, b.id AS dst, properties(r) AS props

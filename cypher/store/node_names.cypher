// Display names of the nodes of one label (slot: label): a video's title, else a name property;
// nodes with neither are left out (they are shown by id).
MATCH (n:{{label}})
WHERE n.title IS NOT NULL OR n.name IS NOT NULL
RETURN n.id AS key, coalesce(n.title, n.name) AS name

// Nodes for the dashboard's search box: every node whose id, title or name contains $text
// (case-insensitive), optionally only those carrying $label. Exact id matches first, then
// shorter ids, then by label and id. Modality nodes (Visual/Acoustic/Textual) share their
// video's id and are left out unless $label asks for them.
// @param text: part of an id, title or name
// @param label: only nodes with this label, or null for any (default: null)
// @param limit: most rows to return (default: 20)
MATCH (n)
WHERE ($label IS NULL OR $label IN labels(n))
  AND ($label IS NOT NULL OR NOT (n:Visual OR n:Acoustic OR n:Textual))
  AND (toLower(toString(n.id)) CONTAINS toLower($text)
       OR toLower(coalesce(n.title, n.name, '')) CONTAINS toLower($text))
WITH n, toString(n.id) AS id
RETURN labels(n)[0] AS label, n.id AS id, coalesce(n.title, n.name) AS name,
       toLower(id) = toLower($text) AS exact
ORDER BY exact DESC, size(id), label, id
LIMIT $limit

// Degree distribution per label: for each label and degree (relationships in either
// direction), how many nodes have that degree. Ordered by label, then degree.
// @param label: only nodes with this label, or null for every label (default: null)
MATCH (n)
WHERE $label IS NULL OR $label IN labels(n)
OPTIONAL MATCH (n)-[r]-()
WITH labels(n)[0] AS label, n, count(r) AS degree
RETURN label, degree, count(n) AS nodes
ORDER BY label, degree

// Number of nodes of one label without a key property, and of all its nodes (slots: label, key).
MATCH (n:{{label}})
RETURN sum(CASE WHEN n.{{key}} IS NULL THEN 1 ELSE 0 END) AS missing, count(n) AS total

// Number of nodes per label (nodes carry one label in this graph model).
MATCH (n)
RETURN labels(n)[0] AS label, count(n) AS count

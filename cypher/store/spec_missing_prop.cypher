// Number of relationships of one type without a property, and of all of them
// (slots: src, type, dst, prop).
MATCH (:{{src}})-[r:{{type}}]->(:{{dst}})
RETURN sum(CASE WHEN r.{{prop}} IS NULL THEN 1 ELSE 0 END) AS missing, count(r) AS total

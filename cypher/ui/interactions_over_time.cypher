// User->Video interactions over time: the number of relationships of each type whose `ts`
// (unix seconds) falls in each bucket of $bucket seconds; `bucket` is the bucket's start in
// unix seconds. Interactions without ts are left out. Ordered by bucket, then type.
// @param bucket: bucket width in seconds (default: 86400)
MATCH (:User)-[r]->(:Video)
WHERE r.ts IS NOT NULL
WITH type(r) AS kind, toInteger(r.ts) AS ts
RETURN ts - ts % $bucket AS bucket, kind, count(*) AS interactions
ORDER BY bucket, kind

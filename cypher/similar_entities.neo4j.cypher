// The entities nearest to one entity by their learned knowledge-graph embeddings (TransR or
// TransE vectors that `kgrec embed` writes to the `embedding` property, with a cosine vector
// index `embedding_<Label>` per label), most similar first, ties by id. By default the
// neighbours have the entity's own label; $target_label asks for another (e.g. the Genres
// nearest a Video: one embedding space). similarity is the exact cosine similarity (1 same
// direction, -1 opposite), the same number on every backend. When the target label holds fewer
// than $exact_limit other nodes with an embedding, every one of them is scored (brute force,
// exact). Above that, the vector index (HNSW, approximate, and quantised by default) is asked
// for 10 * $limit + 100 nearest candidates, which are re-scored exactly. An entity without an
// embedding returns nothing; zero vectors (no direction) and vectors of another dimension are
// left out. Neo4j: the cosine is computed here with reduce() over the float lists (64-bit),
// not taken from the index score or vector.similarity.cosine, which both report (1 + cos) / 2.
// @param id: the entity's id
// @param label: the entity's label (Video, Genre, User, ...)
// @param target_label: label of the entities to return, or null for the entity's own (default: null)
// @param limit: most rows to return (default: 10)
// @param exact_limit: score every candidate exactly below this many, else use the vector index (default: 5000)
MATCH (x)
WHERE x.id = $id AND $label IN labels(x) AND x.embedding IS NOT NULL
WITH x, coalesce($target_label, $label) AS target, x.embedding AS a
WITH x, target, a, sqrt(reduce(s = 0.0, v IN a | s + v * v)) AS na
WHERE na > 0
CALL (x, target) {
  MATCH (c)
  WHERE target IN labels(c) AND c.embedding IS NOT NULL AND c <> x
  WITH c LIMIT $exact_limit
  RETURN collect(c) AS few
}
CALL (x, target, few) {
  UNWIND CASE WHEN size(few) < $exact_limit THEN few ELSE [] END AS node
  RETURN node
  UNION ALL
  UNWIND CASE WHEN size(few) < $exact_limit THEN [] ELSE ['embedding_' + target] END AS idx
  CALL db.index.vector.queryNodes(idx, 10 * $limit + 100, x.embedding) YIELD node
  WITH x, node WHERE node <> x
  RETURN node
}
WITH node, a, na, node.embedding AS b
WHERE size(b) = size(a)
WITH node, na, reduce(s = 0.0, i IN range(0, size(a) - 1) | s + a[i] * b[i]) AS dot,
     sqrt(reduce(s = 0.0, v IN b | s + v * v)) AS nb
WHERE nb > 0
RETURN labels(node)[0] AS label, node.id AS id, coalesce(node.title, node.name) AS name,
       dot / (na * nb) AS similarity
ORDER BY similarity DESC, id
LIMIT $limit

// The entities nearest to one entity by their learned knowledge-graph embeddings (TransR or
// TransE vectors that `kgrec embed` writes to the `embedding` property, with a cosine vector
// index per label), most similar first, ties by id. By default the neighbours have the entity's
// own label; $target_label asks for another (e.g. the Genres nearest a Video: one embedding
// space). similarity is the exact cosine similarity (1 same direction, -1 opposite), the same
// number on every backend. When the target label holds fewer than $exact_limit other nodes with
// an embedding, every one of them is scored (brute force, exact). Above that, the vector index
// (HNSW, approximate) is asked for 10 * $limit + 100 nearest candidates, which are re-scored
// exactly. An entity without an embedding returns nothing; zero vectors (no direction) are
// left out. FalkorDB: vec.cosineDistance is 1 - cosine, computed on the float32 vectors.
// @param id: the entity's id
// @param label: the entity's label (Video, Genre, User, ...)
// @param target_label: label of the entities to return, or null for the entity's own (default: null)
// @param limit: most rows to return (default: 10)
// @param exact_limit: score every candidate exactly below this many, else use the vector index (default: 5000)
MATCH (x)
WHERE x.id = $id AND $label IN labels(x) AND x.embedding IS NOT NULL
WITH x, coalesce($target_label, $label) AS target
CALL {
  WITH x, target
  MATCH (c)
  WHERE target IN labels(c) AND c.embedding IS NOT NULL AND c <> x
  WITH c LIMIT $exact_limit
  RETURN collect(c) AS few
}
CALL {
  WITH x, target, few
  WITH few WHERE size(few) < $exact_limit
  UNWIND few AS node
  RETURN node
  UNION ALL
  WITH x, target, few
  WITH x, target WHERE size(few) >= $exact_limit
  CALL db.idx.vector.queryNodes(target, 'embedding', 10 * $limit + 100, x.embedding)
  YIELD node
  WITH x, node WHERE node <> x
  RETURN node
}
WITH node, 1.0 - vec.cosineDistance(x.embedding, node.embedding) AS similarity
WHERE similarity = similarity
RETURN labels(node)[0] AS label, node.id AS id, coalesce(node.title, node.name) AS name,
       similarity
ORDER BY similarity DESC, id
LIMIT $limit

// The entities nearest to one entity by their learned knowledge-graph embeddings (TransR or
// TransE vectors that `kgrec embed` writes to the `embedding` property, with a cosine vector
// index `embedding_<Label>` per label), most similar first. By default the neighbours have the
// entity's own label; $target_label asks for another (e.g. the Genres nearest a Video).
// similarity is the cosine similarity (Neo4j's index score s is (1 + cos) / 2).
// @param id: the entity's id
// @param label: the entity's label (Video, Genre, User, ...)
// @param target_label: label of the entities to return, or null for the entity's own (default: null)
// @param limit: most rows to return (default: 10)
MATCH (x)
WHERE x.id = $id AND $label IN labels(x) AND x.embedding IS NOT NULL
CALL db.index.vector.queryNodes('embedding_' + coalesce($target_label, $label), $limit + 1,
                                x.embedding) YIELD node, score
WITH x, node, score
WHERE node <> x
RETURN labels(node)[0] AS label, node.id AS id, coalesce(node.title, node.name) AS name,
       2.0 * score - 1.0 AS similarity
ORDER BY similarity DESC, id
LIMIT $limit

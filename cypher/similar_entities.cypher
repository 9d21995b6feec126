// The entities nearest to one entity by their learned knowledge-graph embeddings (TransR or
// TransE vectors that `kgrec embed` writes to the `embedding` property, with a cosine vector
// index per label), most similar first. By default the neighbours have the entity's own label;
// $target_label asks for another (e.g. the Genres nearest a Video: one embedding space).
// similarity is the cosine similarity, 1 for the same direction. Uses the vector index
// (approximate nearest neighbours); an entity without an embedding returns nothing.
// @param id: the entity's id
// @param label: the entity's label (Video, Genre, User, ...)
// @param target_label: label of the entities to return, or null for the entity's own (default: null)
// @param limit: most rows to return (default: 10)
MATCH (x)
WHERE x.id = $id AND $label IN labels(x) AND x.embedding IS NOT NULL
CALL db.idx.vector.queryNodes(coalesce($target_label, $label), 'embedding', $limit + 1,
                              x.embedding) YIELD node, score
WITH x, node, score
WHERE node <> x
RETURN labels(node)[0] AS label, node.id AS id, coalesce(node.title, node.name) AS name,
       1.0 - score AS similarity
ORDER BY similarity DESC, id
LIMIT $limit

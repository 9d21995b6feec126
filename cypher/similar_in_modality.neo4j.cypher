// Videos most similar to a video in one modality (Visual, Acoustic or Textual), best first.
// Where materialised SIMILAR_VISUAL / SIMILAR_ACOUSTIC / SIMILAR_TEXTUAL {score} relationships
// join the video to other videos, their scores are used (source 'materialised'); otherwise the
// cosine similarity of the modality nodes' `vector` properties is computed here against every
// other video (source 'computed', O(videos)). An unknown modality returns nothing.
// Neo4j: subqueries take their variables through a scope clause, CALL (a, b) { ... }, since
// an importing WITH (and a subquery without a scope clause) is deprecated from Neo4j 5.23.
// @param item_id: the Video's id
// @param modality: "Visual", "Acoustic" or "Textual" (default: "Visual")
// @param limit: most rows to return (default: 10)
MATCH (x:Video {id: $item_id})
WITH x, [(x)-[s]-(m:Video) WHERE type(s) = 'SIMILAR_' + toUpper($modality) | [m, s.score]]
        AS materialised
CALL (x, materialised) {
  UNWIND materialised AS pair
  RETURN pair[0] AS y, pair[1] AS score, 'materialised' AS source
  UNION ALL
  MATCH (x)-[hx]->(a)
  WHERE size(materialised) = 0 AND type(hx) = 'HAS_' + toUpper($modality)
    AND a.vector IS NOT NULL
  WITH x, a.vector AS av, sqrt(reduce(s = 0.0, e IN a.vector | s + e * e)) AS an
  MATCH (y:Video)-[hy]->(b)
  WHERE type(hy) = 'HAS_' + toUpper($modality) AND y <> x AND b.vector IS NOT NULL
  WITH y, an, b.vector AS bv, av
  WITH y, an, reduce(s = 0.0, k IN range(0, size(av) - 1) | s + av[k] * bv[k]) AS dot,
       sqrt(reduce(s = 0.0, e IN bv | s + e * e)) AS bn
  RETURN y, CASE WHEN an * bn = 0 THEN 0.0 ELSE dot / (an * bn) END AS score,
         'computed' AS source
}
RETURN y.id AS item_id, y.title AS title, score, source
ORDER BY score DESC, item_id
LIMIT $limit

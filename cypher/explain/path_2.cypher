// One explanation path of 2 relationships as stored in the graph: its nodes matched by
// label and key, joined by relationships of the path's types, each pointing the path's way.
// Built by recommend.explain.cypher: labels, types and the key property are slots checked as
// identifiers; node keys and directions are parameters.
// @param k0: the user's key
// @param k1: the key of node 1 along the path
// @param k2: the video's key
// @param forward: one boolean per relationship, true where it points from node k to node k+1
MATCH p = (n0:{{label0}} {{{key}}: $k0})-[r1:{{type1}}]-(n1:{{label1}} {{{key}}: $k1})-[r2:{{type2}}]-(n2:{{label2}} {{{key}}: $k2})
WHERE all(k IN range(0, length(p) - 1)
          WHERE (startNode(relationships(p)[k]) = nodes(p)[k]) = $forward[k])
RETURN [x IN nodes(p) | labels(x)[0]] AS node_labels, [x IN nodes(p) | x.{{key}}] AS node_ids,
       [r IN relationships(p) | type(r)] AS rel_types,
       [k IN range(0, length(p) - 1) | startNode(relationships(p)[k]) = nodes(p)[k]] AS forward
LIMIT 1

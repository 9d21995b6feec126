"""Path explanations: the knowledge-graph paths from a user to a recommended item, scored by the
trained model, with a plain sentence each.

The search runs over a :class:`PathGraph` held in memory, built from a run's training data only
(training interactions, the item KG, the user KG, and item–item multimodal similarity), never
from validation or test pairs. One concept per module:

* :mod:`~recommend.explain.names`: display names, cached in a run directory (``names.json``);
* :mod:`~recommend.explain.graph`: :class:`PathGraph`, the CSR graph with a weight per directed
  edge;
* :mod:`~recommend.explain.build`: :func:`build_path_graph` from a run's training data;
* :mod:`~recommend.explain.introspect`: what is read off a model, through the hooks of
  :class:`~recommend.models.base.Recommender` (``scoring_vectors``, ``attention_encoders``,
  ``path_weights``);
* :mod:`~recommend.explain.weights`: edge weights ``w(a -> b)`` from a model (attention,
  embedding cosine, or uniform) and the path score ``prod_k w(x_k -> x_{k+1})``;
* :mod:`~recommend.explain.evidence`: :class:`EvidenceRule`, which interactions a reason may
  cite (positive evidence only);
* :mod:`~recommend.explain.ranking`: :class:`PathRanking`, the model's path weight combined with
  the specificity of the linking entities (``model``, ``balanced``, ``specific``, ``faithful``);
* :mod:`~recommend.explain.search`: :class:`PathSearch`, the bidirectional beam search;
* :mod:`~recommend.explain.sentences`: :func:`describe`, a plain sentence per path;
* :mod:`~recommend.explain.cypher`: :func:`path_cypher`, the read-only statement that shows a
  path in the graph;
* :mod:`~recommend.explain.counterfactual`: :class:`Masker`, the item's score and rank with a
  path's edges masked;
* :mod:`~recommend.explain.attribution`: :class:`LocalMasking`, what masking a path would cost
  the score, estimated from the two ends' own layer states (the default ranking's order);
* :mod:`~recommend.explain.explainer`: :class:`Explainer`, top-N reasons for (user, item).
"""

from recommend.explain.attribution import LocalMasking, NotLocal
from recommend.explain.build import build_path_graph
from recommend.explain.counterfactual import Masker, NotMaskable, add_counterfactuals, hops_of
from recommend.explain.cypher import KEY_PROPERTY, path_cypher
from recommend.explain.evidence import POSITIVE_KINDS, RATING_THRESHOLD, EvidenceRule
from recommend.explain.explainer import Explainer
from recommend.explain.graph import PathGraph, UnknownEntity
from recommend.explain.introspect import model_encoders, model_vectors
from recommend.explain.names import (
    NAMES_FILE,
    Names,
    display_name,
    load_names,
    names_from_graph_data,
    save_names,
)
from recommend.explain.ranking import DEFAULT_RANKING, PRESETS, PathRanking
from recommend.explain.search import MAX_LEN, PathSearch, Walks
from recommend.explain.sentences import Hop, describe
from recommend.explain.weights import (
    EMBED_TAU,
    OUTSIDE_SCALE,
    attention_weights,
    embedding_weights,
    model_weights,
    node_vectors,
)

__all__ = [
    "LocalMasking",
    "NotLocal",
    "DEFAULT_RANKING",
    "EMBED_TAU",
    "KEY_PROPERTY",
    "MAX_LEN",
    "NAMES_FILE",
    "OUTSIDE_SCALE",
    "POSITIVE_KINDS",
    "PRESETS",
    "RATING_THRESHOLD",
    "EvidenceRule",
    "Explainer",
    "Hop",
    "Masker",
    "Names",
    "NotMaskable",
    "PathGraph",
    "PathRanking",
    "PathSearch",
    "UnknownEntity",
    "Walks",
    "add_counterfactuals",
    "attention_weights",
    "build_path_graph",
    "describe",
    "display_name",
    "embedding_weights",
    "load_names",
    "model_encoders",
    "model_vectors",
    "model_weights",
    "hops_of",
    "names_from_graph_data",
    "node_vectors",
    "path_cypher",
    "save_names",
]

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
* :mod:`~recommend.explain.search`: :class:`PathSearch`, the bidirectional beam search;
* :mod:`~recommend.explain.sentences`: :func:`describe`, a plain sentence per path;
* :mod:`~recommend.explain.explainer`: :class:`Explainer`, top-N reasons for (user, item).
"""

from recommend.explain.build import build_path_graph
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
    "EMBED_TAU",
    "MAX_LEN",
    "NAMES_FILE",
    "OUTSIDE_SCALE",
    "Explainer",
    "Hop",
    "Names",
    "PathGraph",
    "PathSearch",
    "UnknownEntity",
    "Walks",
    "attention_weights",
    "build_path_graph",
    "describe",
    "display_name",
    "embedding_weights",
    "load_names",
    "model_encoders",
    "model_vectors",
    "model_weights",
    "names_from_graph_data",
    "node_vectors",
    "save_names",
]

"""Translational knowledge-graph embeddings (TransR, TransE): training on triples exported by
Cypher, filtered link-prediction evaluation, write-back to the graph.

Importing this package registers the models in :data:`REGISTRY`.
"""

from embed import transe, transr  # noqa: F401 - register the models
from embed.base import REGISTRY, KGEConfig, KGEModel, build
from embed.evaluate import evaluate
from embed.train import TrainConfig, fit
from embed.triples import TripleSet, from_export, split_triples

__all__ = [
    "REGISTRY",
    "KGEConfig",
    "KGEModel",
    "TrainConfig",
    "TripleSet",
    "build",
    "evaluate",
    "fit",
    "from_export",
    "split_triples",
]

"""Translational knowledge-graph embeddings (TransR, TransE): training on triples exported by
Cypher, filtered link-prediction evaluation, write-back to the graph.

The names below load on first use (PEP 562): a package that only needs one module (the command
line, ``kgrec.cli.embed``) must not pay for importing torch. Asking for any of them (or
:func:`embed.base.build`) registers the models in :data:`REGISTRY` first. The evaluation
function is ``embed.evaluate.evaluate`` (``embed.evaluate`` is its module).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "REGISTRY": "embed.base",
    "KGEConfig": "embed.base",
    "KGEModel": "embed.base",
    "build": "embed.base",
    "TrainConfig": "embed.train",
    "fit": "embed.train",
    "TripleSet": "embed.triples",
    "from_export": "embed.triples",
    "split_triples": "embed.triples",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'embed' has no attribute {name!r}")
    importlib.import_module("embed.transe")  # register the models
    importlib.import_module("embed.transr")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


__all__ = sorted(_EXPORTS)

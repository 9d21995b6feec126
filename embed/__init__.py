"""Translational knowledge-graph embeddings (TransR, TransE): training on triples exported by
Cypher, filtered link-prediction evaluation, write-back to the graph.

The names below load on first use (PEP 562): a package that only needs one module (the command
line, ``kgrec.cli.embed``) must not pay for importing torch. Asking for any of them (or
:func:`embed.base.build`) registers the models in :data:`REGISTRY` first. The evaluation
function is ``embed.evaluate.evaluate`` (``embed.evaluate`` is its module).
"""

from __future__ import annotations

from kgrec.lazy import lazy_exports

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


# asking for any name registers the models first
__getattr__ = lazy_exports(__name__, _EXPORTS, first=("embed.transe", "embed.transr"))


__all__ = sorted(_EXPORTS)

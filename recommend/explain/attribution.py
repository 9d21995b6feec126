"""What masking a path would cost the score, estimated in microseconds: a local view of the
deletion test of :mod:`~recommend.explain.counterfactual`.

Masking the edges of a path ``u = x0, x1, ..., xL = i`` moves the score ``<U_u, V_i>`` mostly
through the two edges at its ends: ``u`` no longer aggregates ``x1`` and ``i`` no longer
aggregates ``x_{L-1}``. :class:`LocalMasking` recomputes the user's and the item's own layer
states with that one neighbour left out (every other entity's states held as they are, the
model's own aggregators, layer fusion and normalisation applied:
:meth:`~recommend.models.encoder.CKGEncoder.cut`), in every encoder that holds the edge, and
estimates the path's drop as

    drop(p) = <U_u - U_u\\x1, V_i> + <U_u, V_i - V_i\\x_{L-1}>

The middle edges of a path of three or more hops, and what the masked edges change in other
entities' states, are left out (second order). The benchmark measures how well the estimate
picks the path whose exact masking costs most (benchmarks/explain.py, ``faithful``).

Models describe themselves through :meth:`~recommend.models.base.Recommender.encoder_traces`
and :meth:`~recommend.models.base.Recommender.vectors_from_states` (``kgat``, ``mmkgat``);
others have no local view (:class:`NotLocal`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from kgrec.schema import USER, VIDEO
from recommend.data import RecData
from recommend.explain.graph import PathGraph
from recommend.explain.introspect import model_encoders, model_vectors

if TYPE_CHECKING:
    from recommend.models.base import Recommender


class NotLocal(ValueError):
    """The model gives no encoder traces to recompute a node's states from."""


class LocalMasking:
    """Estimated score drops of paths under masking (module docstring).

    Args:
        model: a trained model with attention encoders and the two hooks.
        data: its training data.
        g: the explanation graph whose node ids paths use.
        vectors: the model's :func:`model_vectors`, when the caller has them already.

    Raises:
        NotLocal: the model has no encoder traces.
    """

    def __init__(
        self,
        model: Recommender,
        data: RecData,
        g: PathGraph,
        vectors: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        model.eval()
        traces = model.encoder_traces()
        encoders = model_encoders(model, data, g)
        if not traces or len(traces) != len(encoders):
            name = getattr(model, "name", type(model).__name__)
            raise NotLocal(f"{name} gives no encoder traces: no local view of masking")
        self.model, self.g, self.traces = model, g, traces
        self.encoders = [enc for enc, _ in encoders]
        self.entity: list[np.ndarray] = []  # g node -> the encoder's entity id (-1: none)
        for _, emap in encoders:
            inv = np.full(g.n_nodes, -1, dtype=np.int64)
            ok = emap >= 0
            inv[emap[ok]] = np.flatnonzero(ok)
            self.entity.append(inv)
        self.users, self.items = vectors if vectors is not None else model_vectors(model)
        self._lock = threading.Lock()

    def without_both(
        self, users: Sequence[int], user_nbrs: Sequence[int],
        items: Sequence[int], item_nbrs: Sequence[int],
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The scoring vectors of ``users[k]`` with their edges to ``user_nbrs[k]`` left out of
        their aggregation, and of the videos ``items[k]`` without their edges to
        ``item_nbrs[k]`` (node ids of ``g``), in one pass through each encoder's layers.
        Shapes: ``([K_u, D], [K_i, D])``."""
        node = np.asarray([*users, *items], dtype=np.int64)
        nbr = np.asarray([*user_nbrs, *item_nbrs], dtype=np.int64)
        k = len(users)
        if not len(node):
            empty = np.zeros((0, self.users.shape[1]), np.float32)
            return empty, empty
        states = []
        with self._lock, torch.no_grad():
            for enc, trace, inv in zip(self.encoders, self.traces, self.entity, strict=True):
                a = inv[node]
                if (a < 0).any():  # the node is not in this encoder: nothing of it to recompute
                    raise NotLocal(f"node {int(node[a < 0][0])} is not in every encoder")
                states.append(enc.cut(trace, torch.as_tensor(a), torch.as_tensor(inv[nbr])))
            out = []
            for side, rows in (("user", slice(0, k)), ("item", slice(k, len(node)))):
                part = [st[:, rows] for st in states]
                vec = self.model.vectors_from_states(side, part)  # type: ignore[arg-type]
                out.append(np.asarray(vec.detach().cpu().float().numpy()))
        return out[0], out[1]

    def drops(self, user: int, item: int, paths: Sequence[Sequence[int]]) -> np.ndarray:
        """Estimated score drop of ``(user, item)`` (node ids) when each path's edges are
        masked. Shapes: ``[P]``."""
        return self.drops_many(user, [(item, paths)])[0]

    def drops_many(
        self, user: int, requests: Sequence[tuple[int, Sequence[Sequence[int]]]]
    ) -> list[np.ndarray]:
        """:meth:`drops` for several items of one user (``(item node, paths)`` each), the
        local states of every item computed in one batch."""
        g = self.g
        u = user - g.offsets[USER]
        uvec = self.users[u]
        firsts = sorted({int(p[1]) for _, paths in requests for p in paths})
        pairs = sorted({(item, int(p[-2])) for item, paths in requests for p in paths})
        cut_u, cut_i = self.without_both([user] * len(firsts), firsts,
                                         [a for a, _ in pairs], [b for _, b in pairs])  # fmt: skip
        rows_u = dict(zip(firsts, cut_u, strict=True))
        rows_i = {pair: cut_i[k] for k, pair in enumerate(pairs)}
        out = []
        for item, paths in requests:
            if not paths:
                out.append(np.zeros(0))
                continue
            ivec = self.items[item - g.offsets[VIDEO]]
            base = float(uvec @ ivec)
            without_u = np.stack([rows_u[int(p[1])] for p in paths]) @ ivec
            without_i = np.stack([rows_i[(item, int(p[-2]))] for p in paths]) @ uvec
            out.append(np.asarray(2 * base - without_u - without_i, dtype=np.float64))
        return out

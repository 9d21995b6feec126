"""What the explainer reads off a trained model: the vectors behind its scores and its attentive
encoders, through the hooks of :class:`~recommend.models.base.Recommender`.

Each model describes itself in its own file by overriding ``Recommender.scoring_vectors``,
``Recommender.attention_encoders`` or ``Recommender.path_weights`` where the defaults do not fit
it; nothing here names a model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from kgrec.schema import USER, VIDEO
from recommend.data import RecData
from recommend.explain.graph import PathGraph, entity_map

if TYPE_CHECKING:
    from recommend.models.base import Recommender


def model_vectors(model: Recommender) -> tuple[np.ndarray, np.ndarray]:
    """User and item vectors whose inner products are the model's scores: its
    :meth:`~recommend.models.base.Recommender.scoring_vectors`, in eval mode, without gradients.

    The graph models give their propagated vectors, BPR-MF its embedding tables, popularity its
    counts; any other model falls back to its full score matrix against the identity (exact,
    ``[n_users, n_items]``).

    Shapes: ``([n_users, D], [n_items, D])``, float32.
    """
    with torch.no_grad():
        model.eval()
        u, v = model.scoring_vectors()
    return (
        np.ascontiguousarray(u.detach().cpu().float().numpy()),
        np.ascontiguousarray(v.detach().cpu().float().numpy()),
    )


def side_entities(side: str, data: RecData, g: PathGraph) -> np.ndarray:
    """``g``'s node id of every entity of one side's collaborative KG (-1 for entities outside
    ``g``): the side's KG entities (its anchors first), then the other side's anchors.

    ``"item"``: items, the item KG, then users (KGAT's graph, MMKGAT's ``G_i``); ``"user"``:
    users, the user KG, then items (MMKGAT's ``G_u``). Shapes: ``[n_entities]``.
    """
    n_users, n_items = data.n_users, data.n_items
    if side == "user":
        return np.r_[entity_map(data.user_kg, USER, 0, g.offsets), n_users + np.arange(n_items)]
    if side == "item":
        return np.r_[entity_map(data.item_kg, VIDEO, n_users, g.offsets), np.arange(n_users)]
    raise ValueError(f"an attentive encoder's side is 'user' or 'item', not {side!r}")


def model_encoders(model: Recommender, data: RecData, g: PathGraph) -> list[tuple[Any, np.ndarray]]:
    """The attentive encoders of a model
    (:meth:`~recommend.models.base.Recommender.attention_encoders`: MMKGAT's ``enc_u`` and
    ``enc_i``, KGAT's ``encoder``; empty for other models), each with the map from its entity
    ids to ``g``'s node ids (-1 for entities outside ``g``, :func:`side_entities`)."""
    return [(enc, side_entities(side, data, g)) for enc, side in model.attention_encoders()]

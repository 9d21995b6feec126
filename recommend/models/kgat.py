"""KGAT: Knowledge Graph Attention Network (Wang et al., KDD 2019)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from recommend.data import RecData
from recommend.models.base import ModelConfig, ModelOptions, Recommender, option, register
from recommend.models.encoder import CKGEncoder, Trace
from recommend.models.graph import collab_graph
from recommend.models.losses import bpr_loss
from recommend.models.search import Choice, shared


@dataclass(frozen=True)
class KGATOptions(ModelOptions):
    """KGAT's options (``ModelConfig.extra``)."""

    transr_on: Literal["ckg", "kg"] = option(
        "ckg",
        "TransR's triples: the whole collaborative KG, inverse edges included (the reference "
        "code's), or the item KG's triples only (RecBole's)",
        search=Choice(["ckg", "kg"]),
    )


@register
class KGAT(Recommender):
    """KGAT on the collaborative KG of user–item interactions and the item KG.

    Entity space: items ``[0, n_items)`` (the item KG's anchors), the item KG's other entities,
    then users. Relations: one ``INTERACT`` relation, the item KG's relations, and the inverse
    of each. Attentive propagation (KGAT eqs 3–5) with bi-interaction aggregation (eq 8), the
    layer outputs concatenated (eq 11), inner-product score (eq 12), BPR + L2 (eq 13), and TransR
    (eqs 1–2) on the CKG triples through :meth:`kg_loss`, alternating with the CF updates
    (the trainer's KG pass). Reference code: https://github.com/xiangwang1223/knowledge_graph_attention_network

    Args:
        data: training data; ``train`` pairs and ``item_kg``.
        config: ``dim`` (default: 64, every layer keeps it), ``layers`` (default: 3),
            ``dropout`` (default: 0.1, message dropout), ``l2`` (default: 1e-4, on the batch's
            layer-0 embeddings), ``kg_l2`` (default: 1e-5), ``extra``: :class:`KGATOptions`
            (``transr_on``, default ``"ckg"``, the reference code's TransR over the whole
            collaborative KG; ``"kg"``, RecBole's, over the item KG's triples only).

    Shapes:
        users, pos: ``[B]``; neg: ``[B]`` or ``[B, N]``; score_all(users): ``[B, n_items]``;
        kg_graphs()["ckg"]: ``[3, T]``; propagate() -> (``[n_users, D]``, ``[n_items, D]``),
        ``D = dim * (layers + 1)``.
    """

    name = "kgat"
    # why these defaults: benchmarks/results/tuning_notes.md
    defaults: ClassVar[dict[str, Any]] = {"lr": 5e-3, "extra": {"transr_on": "kg"}}
    path_weights = "embedding"  # when the attention is missing
    options_type = KGATOptions
    search_space = shared("lr", "l2", "layers", "dropout")
    options: KGATOptions

    def __init__(self, data: RecData, config: ModelConfig) -> None:
        super().__init__(data, config)
        self.transr_on = self.options.transr_on
        kg = data.item_kg
        self.user_offset = kg.n_entities
        n_ent = kg.n_entities + self.n_users
        inter = (
            data.train[:, 1],
            np.zeros(len(data.train), np.int64),
            data.train[:, 0] + self.user_offset,
        )
        # item -> user, so the item KG's anchors (items) are heads in both parts
        graph = collab_graph(
            [inter, (kg.heads, kg.relations + 1, kg.tails)], n_ent, kg.n_relations + 1
        )
        self.emb = nn.Embedding(n_ent, config.dim)
        nn.init.xavier_uniform_(self.emb.weight)
        self.encoder = CKGEncoder(graph, config.dim, config.layers, config.dropout)
        self.encoder.refresh(self.emb.weight)

    def entity_states(self) -> Tensor:
        """Concatenated layer states of every entity. Shapes: ``[N, dim * (layers + 1)]``."""
        states = self.encoder(self.emb.weight)
        return states.permute(1, 0, 2).reshape(states.shape[1], -1)

    def propagate(self) -> tuple[Tensor, Tensor]:
        """Users' and items' rows of :meth:`entity_states`.
        Shapes: ``([n_users, dim * (layers + 1)], [n_items, dim * (layers + 1)])``."""
        out = self.entity_states()
        return out[self.user_offset : self.user_offset + self.n_users], out[: self.n_items]

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        self.forget_scoring()
        uid = users + self.user_offset
        rows, inv = torch.unique(torch.cat([uid, pos, neg.reshape(-1)]), return_inverse=True)
        if self.encoder.prunes(len(rows)):  # a small part of a large graph: the last layer
            states = self.encoder.forward_rows(self.emb.weight, rows)  # for its rows alone
            vec = states.permute(1, 0, 2).reshape(len(rows), -1)[inv]
            b = users.numel()
            u, p, n = vec[:b], vec[b : 2 * b], vec[2 * b :].view(*neg.shape, -1)
        else:
            uv, iv = self.propagate()
            u, p, n = uv[users], iv[pos], iv[neg]
        s_pos = (u * p).sum(-1)
        s_neg = (u.unsqueeze(1) * n).sum(-1) if n.dim() == 3 else (u * n).sum(-1)
        ego = self.emb.weight
        reg = (ego[uid].pow(2).sum() + ego[pos].pow(2).sum() + ego[neg].pow(2).sum()) / (
            2 * users.numel()
        )
        return bpr_loss(s_pos, s_neg) + self.config.l2 * reg

    def kg_graphs(self) -> dict[str, Tensor]:
        # KGAT's reference code trains TransR on the whole CKG, inverse edges included;
        # RecBole's KGAT on the item KG's triples only (much shorter KG pass, same propagation)
        edges = self.encoder.edges
        if self.transr_on == "kg":
            n_rel = self.encoder.transr.rel.shape[0] // 2  # forward relations; 0 is INTERACT
            edges = edges[:, (edges[1] != 0) & (edges[1] != n_rel)]
        return {"ckg": edges}

    def kg_loss(self, graph: str, h: Tensor, r: Tensor, t_pos: Tensor, t_neg: Tensor) -> Tensor:
        self.forget_scoring()
        return self.encoder.kg_loss(self.emb.weight, h, r, t_pos, t_neg, self.config.kg_l2)

    @torch.no_grad()
    def refresh(self) -> None:
        self.encoder.refresh(self.emb.weight)
        self.forget_scoring()

    def scoring_vectors(self) -> tuple[Tensor, Tensor]:
        """:meth:`propagate` (the score is their inner product)."""
        return self.propagate()

    def encoder_traces(self) -> list[Trace]:
        return [self.encoder.trace(self.emb.weight)]

    def vectors_from_states(self, side: Literal["user", "item"], states: list[Tensor]) -> Tensor:
        """The layer states concatenated (:meth:`entity_states`)."""
        (s,) = states
        return s.permute(1, 0, 2).reshape(s.shape[1], -1)

    def attention_encoders(self) -> list[tuple[nn.Module, Literal["user", "item"]]]:
        # the CKG's entities: items, the item KG's other entities, then users
        return [(self.encoder, "item")]

"""TransR (Lin et al., AAAI 2015, "Learning Entity and Relation Embeddings for Knowledge Graph
Completion"; seed paper 000 eq 10)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from embed.base import KGEConfig, KGEModel, clamp_norm, register


@register
class TransR(KGEModel):
    r"""Entities in one space, each relation with its own space and projection matrix.

    .. math::
        d_r(h, t) = \lVert c(\mathbf{h} M_r) + \mathbf{r} - c(\mathbf{t} M_r) \rVert_p^p

    with :math:`\mathbf{h}, \mathbf{t} \in \mathbb{R}^k`, :math:`\mathbf{r} \in \mathbb{R}^d`,
    :math:`M_r \in \mathbb{R}^{k \times d}`. Constraints as in the paper:
    :math:`\lVert h \rVert, \lVert r \rVert \le 1` (rows rescaled after every step) and
    :math:`\lVert h M_r \rVert, \lVert t M_r \rVert \le 1` (:math:`c`, a differentiable rescaling
    in the forward pass, as PyKEEN and OpenKE do). ``M_r`` starts as the identity when
    ``k = d`` (the paper initialises TransR from TransE; with identity projections the first
    steps *are* TransE's), small Xavier-uniform entries otherwise.

    Speed: a batch is never expanded to per-triple ``[B, k, d]`` matrices. ``"grouped"``
    projection sorts the batch by relation and does one ``[n_r·c, k] @ [k, d]`` matmul per
    relation present; ``"dense"`` projects every entity under every relation in one batched
    matmul (``[R, E, d]``), cheaper on small graphs with many relations (Nations).

    Args:
        n_entities, n_relations: sizes.
        config: ``dim`` = k (default: 64), ``rel_dim`` = d (default: k), ``p`` (default: 2),
            ``power`` (default: True), ``projection`` (default: ``"auto"``).

    Shapes:
        ``proj``: ``[n_relations, k, d]``.
    """

    name = "transr"

    def __init__(self, n_entities: int, n_relations: int, config: KGEConfig) -> None:
        super().__init__(n_entities, n_relations, config)
        k, d = config.dim, config.rel_dim or config.dim
        if config.projection not in ("auto", "grouped", "dense"):
            raise ValueError(f"unknown projection {config.projection!r}: auto, grouped or dense")
        self.proj = nn.Parameter(torch.empty(n_relations, k, d))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.ent.weight)
        nn.init.xavier_uniform_(self.rel.weight)
        k, d = self.proj.shape[1:]
        if k == d:
            self.proj.data.copy_(torch.eye(k).expand_as(self.proj))
        else:
            # Xavier over the whole [R, k, d] tensor (PyKEEN's choice): small entries, so the
            # first steps move entities and relations before the projections (better early MRR
            # on Nations than per-matrix Xavier)
            nn.init.xavier_uniform_(self.proj.data)
        self.constrain_()

    def project(self, ent: Tensor, rel: Tensor) -> Tensor:
        b, c = ent.shape
        mode = self.config.projection
        if mode == "auto":
            mode = "dense" if self.n_relations * self.n_entities <= b * c else "grouped"
        if mode == "dense":
            every = torch.einsum("ek,rkd->red", self.ent.weight, self.proj)
            return clamp_norm(every, p=self.p)[rel[:, None], ent]
        order = torch.argsort(rel)
        counts = torch.bincount(rel, minlength=self.n_relations)
        present = torch.nonzero(counts).squeeze(1)
        x = self.ent(ent[order])  # [B, c, k], rows sorted by relation
        chunks = torch.split(x, counts[present].tolist())
        out = torch.cat([xc @ self.proj[r] for xc, r in zip(chunks, present.tolist(), strict=True)])
        return clamp_norm(out[torch.argsort(order)], p=self.p)

    def project_all(self, r: int) -> Tensor:
        return clamp_norm(self.ent.weight @ self.proj[r], p=self.p)

    @torch.no_grad()
    def constrain_(self) -> None:
        self.ent.weight.copy_(clamp_norm(self.ent.weight, p=self.p))
        self.rel.weight.copy_(clamp_norm(self.rel.weight, p=self.p))

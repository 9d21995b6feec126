"""Translational KG embedding models: one base, a name registry, the losses.

A model scores a triple by a distance ``d(h, r, t) = ‖π_r(h) + r − π_r(t)‖`` (lower is more
plausible), where ``π_r`` maps entity vectors into relation ``r``'s space (the identity for
TransE, a learned matrix for TransR). Subclasses implement only the projections:
:meth:`KGEModel.project` for a batch and :meth:`KGEModel.project_all` for every entity under one
relation; the base turns them into training distances, all-entity scores and constraints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

REGISTRY: dict[str, type[KGEModel]] = {}


@dataclass
class KGEConfig:
    """Model hyper-parameters.

    Args:
        dim: entity embedding size (default: 64).
        rel_dim: relation space size; ``None`` means ``dim`` (default: None; TransR only).
        p: the norm of the distance, 1 or 2 (default: 2).
        power: use ``‖·‖_p^p`` instead of ``‖·‖_p``; with ``p=2`` this is the paper's squared
            distance (default: True).
        projection: TransR's batch projection, ``"grouped"`` (one matmul per relation over the
            batch rows of that relation), ``"dense"`` (every entity under every relation at
            once: cheaper when ``relations × entities`` is smaller than the batch's entity
            slots) or ``"auto"`` (the cheaper of the two per batch) (default: ``"auto"``).
    """

    dim: int = 64
    rel_dim: int | None = None
    p: int = 2
    power: bool = True
    projection: str = "auto"


def register(cls: type[KGEModel]) -> type[KGEModel]:
    REGISTRY[cls.name] = cls
    return cls


def build(name: str, n_entities: int, n_relations: int, config: KGEConfig) -> KGEModel:
    if name not in REGISTRY:  # the models register themselves when their module is imported
        import embed.transe
        import embed.transr  # noqa: F401
    if name not in REGISTRY:
        raise ValueError(f"unknown embedding model {name!r}; available: {', '.join(REGISTRY)}")
    if config.p not in (1, 2):
        raise ValueError(f"norm p must be 1 or 2, got {config.p}")
    return REGISTRY[name](n_entities, n_relations, config)


def clamp_norm(x: Tensor, maxnorm: float = 1.0, p: int = 2) -> Tensor:
    """Scale rows of ``x`` down to norm ``maxnorm`` where they exceed it (differentiable)."""
    norm = torch.linalg.vector_norm(x, ord=p, dim=-1, keepdim=True)
    return x * (maxnorm / norm.clamp_min(maxnorm))


class KGEModel(nn.Module):
    """Base of the translational models.

    Args:
        n_entities: number of entities.
        n_relations: number of relations.
        config: see :class:`KGEConfig`.

    Shapes:
        distance(h, r, t): h, t ``[B, m]`` entity ids, r ``[B]`` -> ``[B, m]``;
        score_tails(h, r) / score_heads(r, t): ``[B]`` -> ``[B, n_entities]`` distances.
    """

    name: ClassVar[str] = ""

    def __init__(self, n_entities: int, n_relations: int, config: KGEConfig) -> None:
        super().__init__()
        self.n_entities, self.n_relations, self.config = n_entities, n_relations, config
        self.p, self.power = config.p, config.power
        self.ent = nn.Embedding(n_entities, config.dim)
        self.rel = nn.Embedding(n_relations, config.rel_dim or config.dim)

    # -- what a subclass provides -----------------------------------------------------------
    def project(self, ent: Tensor, rel: Tensor) -> Tensor:
        """Entities ``ent [B, c]`` in the space of their row's relation ``rel [B]``:
        ``[B, c, rel_dim]``."""
        raise NotImplementedError

    def project_all(self, r: int) -> Tensor:
        """Every entity in relation ``r``'s space: ``[n_entities, rel_dim]``."""
        raise NotImplementedError

    @torch.no_grad()
    def constrain_(self) -> None:
        """Enforce the norm constraints after an optimiser step."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------
    def _norm(self, x: Tensor) -> Tensor:
        if self.power:
            return x.abs().pow(self.p).sum(-1) if self.p != 2 else x.pow(2).sum(-1)
        return torch.linalg.vector_norm(x, ord=self.p, dim=-1)

    def distance(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        """Distances of the triples ``(h[b, j], r[b], t[b, j])``; one projection call for all."""
        m = h.shape[1]
        proj = self.project(torch.cat([h, t], dim=1), r)
        return self._norm(proj[:, :m] + self.rel(r)[:, None, :] - proj[:, m:])

    def _to_all(self, query: Tensor, cands: Tensor) -> Tensor:
        """``d(query_b, cand_e)`` for every pair: ``[B, E]``."""
        if self.p == 2:
            d2 = torch.cdist(query, cands).pow(2)
            return d2 if self.power else d2.sqrt()
        d = torch.cdist(query, cands, p=float(self.p))
        return d.pow(self.p) if self.power else d

    def score_tails(self, h: Tensor, r: int) -> Tensor:
        """Distances of ``(h_b, r, e)`` for every entity ``e``: ``[B, E]`` (one relation)."""
        allp = self.project_all(r)
        return self._to_all(allp[h] + self.rel.weight[r], allp)

    def score_heads(self, r: int, t: Tensor) -> Tensor:
        """Distances of ``(e, r, t_b)`` for every entity ``e``: ``[B, E]`` (one relation)."""
        allp = self.project_all(r)
        return self._to_all(allp[t] - self.rel.weight[r], allp)

    def entity_vectors(self) -> Tensor:
        """The entity embeddings written back to the graph: ``[n_entities, dim]``."""
        return self.ent.weight.detach()

    def extra_repr(self) -> str:
        c = self.config
        return f"entities={self.n_entities}, relations={self.n_relations}, dim={c.dim}, p={c.p}"


def margin_loss(pos: Tensor, neg: Tensor, margin: float = 1.0) -> Tensor:
    """Pairwise hinge of Lin et al. (2015): ``mean(max(0, γ + d(pos) − d(neg)))``.

    Shapes: pos ``[B]``, neg ``[B, n]``.
    """
    return F.relu(margin + pos[:, None] - neg).mean()


def softplus_loss(pos: Tensor, neg: Tensor) -> Tensor:
    """Point-wise logistic loss on the score ``−d``: ``softplus(d(pos))`` for true triples,
    ``softplus(−d(neg))`` for corrupted ones, averaged over all of them (PyKEEN's SoftplusLoss).
    """
    total = F.softplus(pos).sum() + F.softplus(-neg).sum()
    return total / (pos.numel() + neg.numel())


LOSSES = ("margin", "softplus")


def loss_fn(name: str, pos: Tensor, neg: Tensor, margin: float) -> Tensor:
    if name == "margin":
        return margin_loss(pos, neg, margin)
    if name == "softplus":
        return softplus_loss(pos, neg)
    raise ValueError(f"unknown loss {name!r}; available: {', '.join(LOSSES)}")

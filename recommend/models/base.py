"""The base every recommender shares, and the name registry the CLI and configs use.

Training is not a method of the model: the trainer samples BPR triples (and KG triples for the
graphs a model exposes through :meth:`Recommender.kg_graphs`), calls the losses, and calls
:meth:`Recommender.refresh` after each epoch. Scoring goes through :meth:`prepare_scoring` then
:meth:`score_all` in user batches. A model describes itself to the path explainer
(:mod:`recommend.explain`) through :meth:`Recommender.scoring_vectors`,
:meth:`Recommender.attention_encoders` and :attr:`Recommender.path_weights`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from recommend.data import RecData


@dataclass
class ModelConfig:
    """Hyper-parameters shared by the models; each model reads what it uses.

    Args:
        dim: embedding size (default: 64).
        layers: propagation layers (default: 3).
        l2: weight of the L2 penalty on the embeddings used in a batch (default: 1e-4).
        dropout: message dropout in propagation (default: 0.1).
        kg_l2: L2 weight inside the TransR loss (default: 1e-5).
        extra: model-specific settings.
    """

    dim: int = 64
    layers: int = 3
    l2: float = 1e-4
    dropout: float = 0.1
    kg_l2: float = 1e-5
    extra: dict[str, Any] = field(default_factory=dict)


class Recommender(nn.Module):
    """Base of all models.

    Shapes:
        users, pos, neg: ``[B]`` int64.
        score_all(users): ``[B, n_items]``.
    """

    name: ClassVar[str] = ""
    # settings this model trains best with: ModelConfig and TrainConfig fields, and
    # "rating_kinds"; anything the user gives explicitly wins (see recommend.train.configs_for)
    defaults: ClassVar[dict[str, Any]] = {}
    # how recommend.explain weighs path edges when the model has no attention to show
    # (attention_encoders): "embedding", a softmax of the cosines of scoring_vectors over each
    # node's edges, or "uniform", 1 / degree
    path_weights: ClassVar[Literal["embedding", "uniform"]] = "uniform"

    def __init__(self, data: RecData, config: ModelConfig) -> None:
        super().__init__()
        self.n_users, self.n_items = data.n_users, data.n_items
        self.config = config

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        """BPR loss plus L2 for one batch of (user, positive item, negative item)."""
        raise NotImplementedError

    def kg_graphs(self) -> dict[str, Tensor]:
        """Graphs to sample for a KG loss: name -> ``[3, T]`` (head, relation, tail)."""
        return {}

    def kg_loss(self, graph: str, h: Tensor, r: Tensor, t_pos: Tensor, t_neg: Tensor) -> Tensor:
        """TransR (or similar) loss on one batch of triples of ``graph``."""
        raise NotImplementedError(f"{self.name} has no KG loss")

    def refresh(self) -> None:  # noqa: B027 - optional hook
        """Called after every training epoch (e.g. to recompute attention weights)."""

    def prepare_scoring(self) -> None:  # noqa: B027 - optional hook
        """Called once before :meth:`score_all` batches (e.g. to propagate embeddings once)."""

    def score_all(self, users: Tensor) -> Tensor:
        raise NotImplementedError

    def scoring_vectors(self) -> tuple[Tensor, Tensor]:
        """User and item vectors whose inner products are the scores (for serving and the
        explainer; called without gradients, in eval mode).

        The default is exact for any model, and large: every user's :meth:`score_all` row
        against the identity. Models with vectors of their own override it.

        Shapes: ``([n_users, D], [n_items, D])``; ``D = n_items`` by default.
        """
        self.prepare_scoring()
        return self.score_all(torch.arange(self.n_users)), torch.eye(self.n_items)

    def attention_encoders(self) -> list[tuple[nn.Module, Literal["user", "item"]]]:
        """The attentive encoders whose attention π weighs explanation paths, each with the side
        whose collaborative KG it propagates over, which fixes its entity ids: ``"item"``, the
        item KG's entities (items first) then users; ``"user"``, the user KG's (users first) then
        items. An encoder exposes ``edges`` ``[3, E]`` (head, relation, tail) and ``att`` ``[E]``
        (:class:`~recommend.models.layers.CKGEncoder`). Default: none."""
        return []

    @property
    def trainable(self) -> bool:
        return any(p.requires_grad for p in self.parameters())

    def extra_repr(self) -> str:
        return f"n_users={self.n_users}, n_items={self.n_items}, dim={self.config.dim}"


REGISTRY: dict[str, type[Recommender]] = {}


def register(cls: type[Recommender]) -> type[Recommender]:
    """Class decorator: make a model available by its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    REGISTRY[cls.name] = cls
    return cls


def build(name: str, data: RecData, config: ModelConfig | None = None) -> Recommender:
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](data, config or ModelConfig())


def device_of(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")

"""SimGCL (Yu et al., SIGIR 2022, "Are Graph Augmentations Necessary? Simple Graph Contrastive
Learning for Recommendation"): LightGCN whose contrastive views come from uniform noise added to
every propagated layer instead of graph dropout.

Reference code: https://github.com/Coder-Yu/SELFRec (``model/graph/SimGCL.py``); the layer mean
without the ego layer, the noise and the InfoNCE over the batch's unique users and items follow
it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recommend.data import RecData
from recommend.models.base import ModelConfig, ModelOptions, Recommender, option, register
from recommend.models.encoder import perturb
from recommend.models.losses import inner_product_bpr
from recommend.models.search import IntRange, LogUniform, Uniform, shared
from recommend.models.sparse import spmm, sym_norm_adj


def noisy_layers(adj: Tensor, ego: Tensor, layers: int, eps: float) -> list[Tensor]:
    """LightGCN's layers ``E^{(1)} … E^{(L)}`` of ``ego`` over the symmetric ``adj``, each
    (when ``eps > 0``) moved by :func:`~recommend.models.encoder.perturb` (SimGCL eq 7); the
    noisy layer feeds the next one.

    Shapes:
        adj: CSR ``[n, n]``; ego: ``[n, d]``; returns ``layers`` tensors ``[n, d]``.
    """
    out = []
    x = ego
    for _ in range(layers):
        x = perturb(spmm(adj, adj, x), eps)  # symmetric: Aᵀ = A
        out.append(x)
    return out


def info_nce(view1: Tensor, view2: Tensor, tau: float) -> Tensor:
    """InfoNCE between two views of the same rows (SimGCL eq 3): row ``i`` of ``view1`` should
    be closer in cosine to row ``i`` of ``view2`` than to any other row of it, at temperature
    ``tau``; averaged over the rows.

    Shapes:
        view1, view2: ``[N, d]``; returns a scalar.
    """
    logits = (F.normalize(view1, dim=-1) / tau) @ F.normalize(view2, dim=-1).T
    return F.cross_entropy(logits, torch.arange(len(logits), device=logits.device))


@dataclass(frozen=True)
class SimGCLOptions(ModelOptions):
    """SimGCL's options (``ModelConfig.extra``)."""

    eps: float = option(
        0.1,
        "length of the noise added to every propagated layer of each view (>= 0; paper: 0.1)",
        search=Uniform(0.01, 0.5),
    )
    tau: float = option(
        0.2,
        "temperature of the InfoNCE between the two views (> 0; paper: 0.2)",
        search=LogUniform(0.05, 1.0),
    )
    cl_weight: float = option(
        0.2,
        "weight λ of the contrastive loss beside BPR (>= 0; paper: 0.2 on its sparse data; "
        "dense ML-100K needs ~0.005, see benchmarks/results/tuning_notes.md)",
        search=LogUniform(1e-4, 1.0),
    )


@register
class SimGCL(Recommender):
    """LightGCN propagation ``E^{(l+1)} = D^{-1/2} A D^{-1/2} E^{(l)}``, final embedding the mean
    of ``E^{(1)} … E^{(L)}`` (the ego layer left out, as in the reference code), inner-product
    scores. Loss: BPR on the clean embeddings plus L2 on the batch's layer-0 rows, plus
    ``λ · (InfoNCE(users) + InfoNCE(items))`` between two noisy propagations
    (:func:`noisy_layers`), over the batch's unique users and unique positive items.

    Each training step propagates three times (clean, two views); scoring uses the clean one.

    Args:
        data: training data; ``train`` pairs make the graph.
        config: ``dim`` (default: 64), ``layers`` (>= 1; default here: 2, as in the paper's
            code), ``l2`` (default: 1e-4), ``extra``: :class:`SimGCLOptions` (``eps``, ``tau``,
            ``cl_weight``; :attr:`defaults` sets ``cl_weight`` 0.005 and lr 1e-2, tuned on
            ML-100K, where the paper's 0.2 collapses: benchmarks/results/tuning_notes.md).

    Shapes:
        users, pos: ``[B]``; neg: ``[B]`` or ``[B, N]``; score_all(users): ``[B, n_items]``;
        propagate() -> (``[n_users, dim]``, ``[n_items, dim]``).
    """

    name = "simgcl"
    # why these defaults: benchmarks/results/tuning_notes.md
    defaults: ClassVar[dict[str, Any]] = {"layers": 2, "lr": 1e-2, "extra": {"cl_weight": 0.005}}
    path_weights = "embedding"
    options_type = SimGCLOptions
    search_space = shared("lr", "l2", layers=IntRange(1, 3))
    options: SimGCLOptions
    adj: Tensor

    def __init__(self, data: RecData, config: ModelConfig) -> None:
        super().__init__(data, config)
        self.check_options()
        self.emb = nn.Embedding(self.n_users + self.n_items, config.dim)
        # Xavier per table, users and items apart, as the reference code initialises them
        nn.init.xavier_uniform_(self.emb.weight[: self.n_users])
        nn.init.xavier_uniform_(self.emb.weight[self.n_users :])
        tr = torch.as_tensor(data.train)
        self.register_buffer(
            "adj", sym_norm_adj(tr[:, 0], tr[:, 1] + self.n_users, self.n_users + self.n_items)
        )

    def check_options(self) -> None:
        """Raise ValueError, naming the model and the setting, for a value out of range."""
        o = self.options
        if self.config.layers < 1:
            raise ValueError(f"{self.name}: layers must be >= 1, not {self.config.layers}")
        if not o.eps >= 0:
            raise ValueError(f"{self.name}: eps must be >= 0, not {o.eps}")
        if not o.tau > 0:
            raise ValueError(f"{self.name}: tau must be > 0, not {o.tau}")
        if not o.cl_weight >= 0:
            raise ValueError(f"{self.name}: cl_weight must be >= 0, not {o.cl_weight}")

    def split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Rows ``[n_users + n_items, d]`` as (users, items)."""
        return x[: self.n_users], x[self.n_users :]

    def view(self, eps: float) -> tuple[Tensor, Tensor]:
        """The mean of layers 1..L, each with noise of length ``eps`` (0: none)."""
        layers = noisy_layers(self.adj, self.emb.weight, self.config.layers, eps)
        return self.split(torch.stack(layers).mean(0))

    def propagate(self) -> tuple[Tensor, Tensor]:
        """The clean final embeddings (the mean of layers 1..L).
        Shapes: ``([n_users, dim], [n_items, dim])``."""
        return self.view(0.0)

    def contrast(
        self, users: Tensor, pos: Tensor, a: tuple[Tensor, Tensor], b: tuple[Tensor, Tensor]
    ) -> Tensor:
        """InfoNCE of views ``a`` and ``b`` (each (users, items)) over the batch's unique users
        plus that over its unique positive items."""
        u, i = users.unique(), pos.unique()
        return info_nce(a[0][u], b[0][u], self.options.tau) + info_nce(
            a[1][i], b[1][i], self.options.tau
        )

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        self.forget_scoring()
        uv, iv = self.propagate()
        loss = inner_product_bpr(
            uv, iv, self.emb.weight, self.n_users, users, pos, neg, self.config.l2
        )
        if self.options.cl_weight > 0:
            eps = self.options.eps
            loss = loss + self.options.cl_weight * self.contrast(
                users, pos, self.view(eps), self.view(eps)
            )
        return loss

    def scoring_vectors(self) -> tuple[Tensor, Tensor]:
        """:meth:`propagate`'s embeddings (the score is their inner product)."""
        return self.propagate()

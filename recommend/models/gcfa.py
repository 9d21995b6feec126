"""GCFA: the graph neural rating model with importance-based neighbour sampling, pooling
aggregation and attention over a user's interactions (paper 003). The paper's metrics (AUC,
NDCG@1, NDCG@2) are :func:`recommend.metrics.paper_metrics`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import softmax as scatter_softmax

from recommend.data import RecData
from recommend.models.base import ModelConfig, ModelOptions, Recommender, option, register
from recommend.models.search import Choice, IntRange, LogUniform, shared
from recommend.models.sparse import sparse_adj


@dataclass(frozen=True)
class GCFAOptions(ModelOptions):
    """GCFA's options (``ModelConfig.extra``)."""

    neighbours: int = option(
        10,
        "neighbours kept per user (user-user) and per item (item-item) by importance",
        search=IntRange(5, 30, step=5),
    )
    tau: float = option(
        0.1,
        "softmax temperature over the kept neighbours' tightness (eq 3)",
        search=LogUniform(0.02, 1.0),
    )
    pool: Literal["weighted", "max"] = option(
        "weighted",
        "pooling after the FC of the neighbours: the softmax(tightness)-weighted mean "
        "(eqs 2-3) or the element-wise max (GraphSAGE's pooling aggregator)",
        search=Choice(["weighted", "max"]),
    )


def importance_neighbours(
    pairs: np.ndarray, n_rows: int, n_cols: int, size: int, block: int = 512
) -> tuple[Tensor, Tensor]:
    """The ``size`` most tightly related rows of every row of a bipartite interaction matrix.

    Tightness of two users (or two items) is the cosine of their interaction vectors,
    ``|N(a) ∩ N(b)| / sqrt(|N(a)| |N(b)|)``: co-interactions, discounted for very active users
    and very popular items. Rows sharing nothing are never neighbours, a row is never its own;
    ties go to the lower id. Co-occurrences are computed in row blocks (``O(block * n_rows)``
    memory).

    Args:
        pairs: int64 ``[N, 2]`` (row, column) pairs, e.g. training (user, item) pairs.
        n_rows, n_cols: sizes.
        size: neighbours per row.

    Returns:
        (ids int64 ``[n_rows, S]``, tightness float32 ``[n_rows, S]``) with
        ``S = min(size, n_rows - 1)``; a row with fewer related rows is padded with id 0 and
        tightness ``-inf``.
    """
    p = torch.as_tensor(np.unique(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), axis=0))
    kk = max(min(size, n_rows - 1), 0)
    ids = torch.zeros(n_rows, kk, dtype=torch.int64)
    tight = torch.full((n_rows, kk), -float("inf"))
    if len(p) == 0 or kk == 0:
        return ids, tight
    ones = torch.ones(len(p))
    r = sparse_adj(p[:, 0], p[:, 1], ones, max(n_rows, n_cols))  # CSR [n, n], rows = rows
    deg = torch.bincount(p[:, 0], minlength=n_rows).float()
    for start in range(0, n_rows, block):
        rows = torch.arange(start, min(start + block, n_rows))
        dense = torch.zeros(len(rows), max(n_rows, n_cols))
        m = (p[:, 0] >= start) & (p[:, 0] < start + len(rows))
        dense[p[m, 0] - start, p[m, 1]] = 1.0
        co = torch.sparse.mm(r, dense.T).T[:, :n_rows]  # [B, n_rows] co-interaction counts
        cos = co / (deg[rows].unsqueeze(1) * deg.unsqueeze(0)).clamp(min=1e-12).sqrt()
        cos[co <= 0] = -float("inf")
        cos[torch.arange(len(rows)), rows] = -float("inf")
        val, idx = torch.sort(cos, dim=1, descending=True, stable=True)
        val, idx = val[:, :kk], idx[:, :kk]
        idx = torch.where(torch.isfinite(val), idx, torch.zeros_like(idx))
        ids[rows], tight[rows] = idx, val
    return ids, tight


class PoolingAggregator(nn.Module):
    """Neighbours through a fully connected layer, pooled, then combined with the node itself.

    ``m_n = ReLU(W_p e_n + b_p)``; ``e_N = Σ_n g(r_{·n}) m_n`` with ``g`` the softmax of the
    neighbours' tightness over temperature ``tau`` (eqs 2–3; or an element-wise max over the
    ``m_n``); ``agg = ReLU(W (e + e_N) + b)`` (eq 4).

    Args:
        dim: embedding size.
        pool: ``"weighted"`` or ``"max"``.
        tau: softmax temperature.

    Shapes:
        forward(ego ``[N, dim]``, ids ``[N, S]``, tightness ``[N, S]``) -> ``[N, dim]``.
    """

    def __init__(self, dim: int, pool: str = "weighted", tau: float = 0.1) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.combine = nn.Linear(dim, dim)
        self.pool, self.tau = pool, tau
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.xavier_uniform_(self.combine.weight)

    def weights(self, tightness: Tensor) -> Tensor:
        """``g`` of eq 3. Shapes: ``[N, S]``, each row summing to 1 (0 for no neighbours)."""
        return torch.nan_to_num(torch.softmax(tightness / self.tau, dim=1), nan=0.0)

    def forward(self, ego: Tensor, ids: Tensor, tightness: Tensor) -> Tensor:
        msg = F.relu(self.fc(ego))[ids]  # [N, S, dim]
        if ids.shape[1] == 0:  # a single node: no neighbours at all
            side = torch.zeros_like(ego)
        elif self.pool == "max":
            has = torch.isfinite(tightness).unsqueeze(-1)
            side = msg.masked_fill(~has, 0.0).max(1).values  # messages are >= 0 after ReLU
        else:
            side = (self.weights(tightness).unsqueeze(-1) * msg).sum(1)
        return F.relu(self.combine(ego + side))


class InteractionAttention(nn.Module):
    """One side of GCFA: interactions as (other end ⊕ rating level) through a two-layer net
    (eq 6), attention over a node's interactions (eqs 9–10), the weighted sum through a layer
    (eq 8), then ``[h ⊕ agg]`` through a two-layer net (the final representation).

    The interaction net sees only (other end, level), so it runs once per distinct pair of them,
    not once per interaction; the attention's first layer is split the same way.

    Args:
        dim: embedding size.
        dropout: dropout before the final two-layer net.

    Shapes:
        forward(anchor ``[N_a, dim]`` (the aggregated node), other ``[N_o, dim]``, levels
        ``[R, dim]``, anchor index ``[E]``, other index ``[E]``, level index ``[E]``)
        -> ``[N_a, dim]``.
    """

    def __init__(self, dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.g = nn.Sequential(nn.Linear(2 * dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.att_x = nn.Linear(dim, dim)
        self.att_a = nn.Linear(dim, dim, bias=False)
        self.att_out = nn.Linear(dim, 1)
        self.h = nn.Linear(dim, dim)
        self.out = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(2 * dim, dim), nn.ReLU(), nn.Linear(dim, dim)
        )
        for mod in self.modules():
            if isinstance(mod, nn.Linear):
                nn.init.xavier_uniform_(mod.weight)

    def interactions(self, other: Tensor, levels: Tensor, o_idx: Tensor, r_idx: Tensor) -> Tensor:
        """``x = g([e_o ⊕ e_r])`` (eq 6) of each listed (other, level). Shapes: ``[C, dim]``."""
        return self.g(torch.cat([other[o_idx], levels[r_idx]], dim=1))

    def attention(self, x: Tensor, anchor: Tensor, combo: Tensor, a_idx: Tensor) -> Tensor:
        """``β`` of eqs 9–10 per interaction, softmax over each anchor's interactions.

        ``β* = w_2ᵀ ReLU(W_1 [x ⊕ e_a] + b_1) + b_2``, with ``W_1 [x ⊕ e_a]`` computed as
        ``W_x x + W_a e_a``. Shapes: x ``[C, dim]``, combo/a_idx ``[E]`` -> ``[E]``.
        """
        pre = self.att_x(x)[combo] + self.att_a(anchor)[a_idx]
        logits = self.att_out(F.relu(pre)).squeeze(-1)
        return scatter_softmax(logits, a_idx, num_nodes=anchor.shape[0])

    def forward(
        self,
        anchor: Tensor,
        other: Tensor,
        levels: Tensor,
        combo_other: Tensor,
        combo_level: Tensor,
        combo: Tensor,
        a_idx: Tensor,
    ) -> Tensor:
        x = self.interactions(other, levels, combo_other, combo_level)
        beta = self.attention(x, anchor, combo, a_idx)
        pooled = torch.zeros_like(anchor).index_add_(0, a_idx, beta.unsqueeze(1) * x[combo])
        h = F.relu(self.h(pooled))  # eq 8
        return self.out(torch.cat([h, anchor], dim=1))


def _combos(other: np.ndarray, level: np.ndarray, n_levels: int) -> tuple[Tensor, ...]:
    """Distinct (other, level) pairs and each interaction's index into them."""
    key = other.astype(np.int64) * max(n_levels, 1) + level.astype(np.int64)
    uniq, inv = np.unique(key, return_inverse=True)
    return (
        torch.as_tensor(uniq // max(n_levels, 1)),
        torch.as_tensor(uniq % max(n_levels, 1)),
        torch.as_tensor(inv.reshape(-1).astype(np.int64)),
    )


@register
class GCFA(Recommender):
    """GCFA (paper 003, Sec. 3): a GraphRec-style model on the user–item graph.

    * Embeddings (eq 1): users ``U``, items ``V`` and rating levels ``R`` (one per interaction
      kind of ``train_kinds_all``; with ``rating_kinds`` these are ``RATED_1..RATED_5``, the
      paper's "viewpoints"), Xavier-initialised.
    * Importance-based neighbour sampling: every user keeps the ``neighbours`` users with the
      tightest relation (cosine of co-interactions, :func:`importance_neighbours`), every
      item likewise; fixed once from the training pairs.
    * Pooling aggregation (eqs 2–4, :class:`PoolingAggregator`): the neighbours through an FC
      layer, pooled with the softmax of their tightness, combined with the node: ``agg_u``,
      ``agg_i``.
    * User side (eqs 5–10, :class:`InteractionAttention`): each interaction ``(u, i, r)`` is
      ``x = g_v([e_i ⊕ e_r])``, attention ``β`` over the user's interactions from
      ``[x ⊕ agg_u]``, ``h_u = ReLU(W Σ β x + b)``, ``z_u = MLP([h_u ⊕ agg_u])``. The item side
      is symmetric over the item's users (eq 12): ``z_i = MLP([h_i ⊕ agg_i])``.
    * Score ``z_uᵀ z_i``; loss (eq 13) the cross-entropy of observed pairs against sampled
      unobserved ones, ``-ln σ(s⁺) - ln(1 - σ(s⁻))``, plus ``l2`` on the batch's embeddings.
      The negatives are the trainer's BPR negatives (uniform over the user's non-items).

    Args:
        data: ``train_kinds_all`` (user, item, kind) interactions; ``train`` for neighbours.
        config: ``dim`` (default: 64), ``l2`` (default: 1e-4), ``dropout`` (default: 0.1,
            before the final nets), ``extra`` (:class:`GCFAOptions`): ``neighbours`` (default:
            10), ``tau`` (default: 0.1), ``pool`` (default: ``"weighted"``; ``"max"``).

    Shapes:
        users, pos: ``[B]``; neg: ``[B]`` or ``[B, N]``; score_all(users): ``[B, n_items]``;
        propagate() -> (``[n_users, dim]``, ``[n_items, dim]``).
    Training defaults (:attr:`defaults`): ``rating_kinds`` (one level per rating value),
    batches of 8192 pairs, Adam lr 5e-3.
    """

    name = "gcfa"
    # why these defaults: benchmarks/results/tuning_notes.md
    defaults: ClassVar[dict[str, Any]] = {"rating_kinds": True, "batch_size": 8192, "lr": 5e-3}
    options_type = GCFAOptions
    search_space = shared("lr", "l2", "dropout")
    options: GCFAOptions

    def __init__(self, data: RecData, config: ModelConfig) -> None:
        super().__init__(data, config)
        opts = self.options
        dim = config.dim
        n_levels = max(len(data.kind_names), 1)
        self.user_emb = nn.Embedding(self.n_users, dim)
        self.item_emb = nn.Embedding(self.n_items, dim)
        self.level_emb = nn.Embedding(n_levels, dim)
        for e in (self.user_emb, self.item_emb, self.level_emb):
            nn.init.xavier_uniform_(e.weight)

        size = opts.neighbours
        ids, tight = importance_neighbours(data.train, self.n_users, self.n_items, size)
        self.register_buffer("user_nbr", ids, persistent=False)
        self.register_buffer("user_tight", tight, persistent=False)
        ids, tight = importance_neighbours(data.train[:, ::-1], self.n_items, self.n_users, size)
        self.register_buffer("item_nbr", ids, persistent=False)
        self.register_buffer("item_tight", tight, persistent=False)
        self.user_agg = PoolingAggregator(dim, opts.pool, opts.tau)
        self.item_agg = PoolingAggregator(dim, opts.pool, opts.tau)

        inter = np.asarray(data.train_kinds_all, dtype=np.int64).reshape(-1, 3)
        for side, a_col, o_col in (("u", 0, 1), ("i", 1, 0)):
            c_other, c_level, combo = _combos(inter[:, o_col], inter[:, 2], n_levels)
            self.register_buffer(f"{side}_c_other", c_other, persistent=False)
            self.register_buffer(f"{side}_c_level", c_level, persistent=False)
            self.register_buffer(f"{side}_combo", combo, persistent=False)
            self.register_buffer(f"{side}_anchor", torch.as_tensor(inter[:, a_col]),
                                 persistent=False)  # fmt: skip
        self.user_side = InteractionAttention(dim, config.dropout)
        self.item_side = InteractionAttention(dim, config.dropout)

    def aggregated(self) -> tuple[Tensor, Tensor]:
        """``agg_u``, ``agg_i`` (eqs 2–4). Shapes: ``([n_users, dim], [n_items, dim])``."""
        u = self.user_agg(self.user_emb.weight, self.user_nbr, self.user_tight)
        i = self.item_agg(self.item_emb.weight, self.item_nbr, self.item_tight)
        return u, i

    def propagate(self) -> tuple[Tensor, Tensor]:
        """Final user and item vectors ``z_u``, ``z_i``.
        Shapes: ``([n_users, dim], [n_items, dim])``."""
        agg_u, agg_i = self.aggregated()
        levels = self.level_emb.weight
        z_u = self.user_side(agg_u, self.item_emb.weight, levels, self.u_c_other,
                             self.u_c_level, self.u_combo, self.u_anchor)  # fmt: skip
        z_i = self.item_side(agg_i, self.user_emb.weight, levels, self.i_c_other,
                             self.i_c_level, self.i_combo, self.i_anchor)  # fmt: skip
        return z_u, z_i

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        """Eq 13: cross-entropy of the observed pairs (label 1) and the sampled ones (0)."""
        self.forget_scoring()
        zu, zi = self.propagate()
        u = zu[users]
        s_pos = (u * zi[pos]).sum(-1)
        n = zi[neg]
        s_neg = (u.unsqueeze(1) * n).sum(-1) if n.dim() == 3 else (u * n).sum(-1)
        ce = F.softplus(-s_pos).mean() + F.softplus(s_neg).mean()
        reg = (
            self.user_emb.weight[users].pow(2).sum()
            + self.item_emb.weight[pos].pow(2).sum()
            + self.item_emb.weight[neg].pow(2).sum()
        ) / (2 * users.numel())
        return ce + self.config.l2 * reg

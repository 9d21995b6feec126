"""LUDP: Learning the User's Deeper Preferences (Lei et al., ACM TOMM 19(3s), 2023; paper 001).

LightGCN on the user–item graph, item-ID propagation on per-modality item–item kNN graphs,
user modality preferences mean-pooled from the features of the user's items, both fused over
modalities and added to the collaborative embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recommend.data import RecData
from recommend.knn import knn_graph
from recommend.models.base import ModelConfig, ModelOptions, Recommender, option, register
from recommend.models.losses import inner_product_bpr
from recommend.models.search import Choice, IntRange, shared
from recommend.models.sparse import sparse_adj, spmm, sym_norm_adj


@dataclass(frozen=True)
class LUDPOptions(ModelOptions):
    """LUDP's options (``ModelConfig.extra``)."""

    k: int = option(
        10,
        "neighbours per item in each modality's kNN graph (eq 4; the paper tries 5-50)",
        search=Choice([5, 10, 20, 50]),
    )
    item_layers: int = option(
        2,
        "propagation layers on the kNN graphs (eq 5; the paper's best on MovieLens is 2)",
        search=IntRange(1, 3),
    )
    knn_norm: Literal["paper", "sym"] = option(
        "paper",
        "kNN propagation: eq 5's h_i <- sum_j h_j / sqrt(|N_i|), or LATTICE's D^-1/2 S D^-1/2 "
        "over the similarity-weighted kNN graph",
    )
    fusion: Literal["attention", "sum", "concat"] = option(
        "attention",
        "how the modalities are fused, item side (eqs 6-8) and user side (eq 12); concat: "
        "concatenation then a fully connected layer (the paper's Sec. 5.3.4)",
        search=Choice(["attention", "sum", "concat"]),
    )
    modalities: list[str] | str | None = option(
        None, "modality labels to use (default: every label of data.item_features)"
    )
    item_graph: bool = option(True, "use the item-item graphs (False: Sec. 5.3.2's H = 0)")
    user_pref: bool = option(True, "use the user preferences (False: Sec. 5.3.2's P = 0)")
    pref_dim: int | None = option(
        None, "size d'_m of the transformed modality features (eq 10; default: dim)"
    )
    layer_comb: Literal["sum", "mean"] = option(
        "sum",
        "combination of the user-item layers (eq 2): the paper's sum or LightGCN's mean",
        search=Choice(["sum", "mean"]),
    )


class ModalityAttention(nn.Module):
    """``w^m = qᵀ tanh(W h^m + b)``, ``α^m = softmax_m(w^m)``, output ``Σ_m α^m h^m``
    (eqs 6–8; the same form for the user side, eq 12).

    Args:
        dim: size of each modality's vector.

    Shapes:
        forward(states ``[M, N, dim]``, mask ``[M, N]`` bool or None) -> ``[N, dim]``;
        weights(...) -> ``[M, N]`` summing to 1 over the modalities a row has (0 if none).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.query = nn.Linear(dim, 1, bias=False)
        nn.init.xavier_uniform_(self.proj.weight)
        nn.init.xavier_uniform_(self.query.weight)

    def weights(self, states: Tensor, mask: Tensor | None = None) -> Tensor:
        logits = self.query(torch.tanh(self.proj(states))).squeeze(-1)
        if mask is not None:
            logits = logits.masked_fill(~mask, -float("inf"))
        w = torch.softmax(logits, dim=0)
        return torch.nan_to_num(w, nan=0.0)  # a row with no modality at all: all weights 0

    def forward(self, states: Tensor, mask: Tensor | None = None) -> Tensor:
        return (self.weights(states, mask).unsqueeze(-1) * states).sum(0)


@register
class LUDP(Recommender):
    """LUDP (paper 001, Sec. 4).

    * Collaborative part (eqs 1–2): LightGCN propagation of the ID embeddings ``e_u, e_i`` on
      the symmetric-normalised user–item graph; ``E = Σ_{l=0..L} e^{(l)}`` (the paper sums
      the layers).
    * Item–item graphs (eqs 3–5): per modality ``m`` the top-``k`` cosine kNN graph of the item
      features (:func:`recommend.knn.knn_graph`), on which the item ID embeddings (the same
      ``e_i``) propagate without transform or activation, ``h^{(l+1)}_i = Σ_{j∈N_i}
      h^{(l)}_j / sqrt(|N_i|)``; ``h^m`` is the last layer. Fused by attention (eqs 6–8) into
      ``H``; an item without a modality leaves it out of its softmax.
    * User preferences (eqs 9–12): ``p^m_u = LeakyReLU(W_1^m mean_{j∈N_u} e^m_j)`` over the
      user's training items that have the modality, ``p̂^m_u = LeakyReLU(W_2^m p^m_u) + e_u``,
      fused by a second attention into ``P``.
    * ``e*_u = E_u + P``, ``e*_i = E_i + H`` (eq 13), score ``e*_uᵀ e*_i`` (eq 14), BPR with L2
      on the batch's ID embeddings (eq 15).

    The pre-trained features are fixed here (the paper fine-tunes them); ``W_1`` adapts them.
    With no modality (or both ablation switches off) the model is LightGCN with summed layers.

    Args:
        data: ``train`` pairs and ``item_features`` (per label ``[n_items, d_m]``, zero rows for
            items without that modality).
        config: ``dim`` (default: 64), ``layers`` (default: 3, user–item graph), ``l2``
            (default: 1e-4), ``extra`` (:class:`LUDPOptions`): ``k`` (default: 10),
            ``item_layers`` (default: 2),
            ``knn_norm`` (default: ``"paper"``; ``"sym"``), ``fusion`` (default:
            ``"attention"``; ``"sum"``, ``"concat"``), ``modalities`` (default: all labels),
            ``item_graph`` / ``user_pref`` (default: True; False for the ablations),
            ``pref_dim`` (default: ``dim``), ``layer_comb`` (default: ``"sum"``, eq 2;
            ``"mean"`` as LightGCN).

    Shapes:
        users, pos: ``[B]``; neg: ``[B]`` or ``[B, N]``; score_all(users): ``[B, n_items]``;
        propagate() -> (``[n_users, dim]``, ``[n_items, dim]``).
    """

    name = "ludp"
    options_type = LUDPOptions
    search_space = shared("lr", "l2", "layers")
    options: LUDPOptions
    adj: Tensor
    has_mod: Tensor

    def __init__(self, data: RecData, config: ModelConfig) -> None:
        super().__init__(data, config)
        opts = self.options
        self.k = opts.k
        self.item_layers = opts.item_layers
        self.knn_norm = opts.knn_norm
        self.fusion = opts.fusion
        self.use_item_graph = opts.item_graph
        self.use_user_pref = opts.user_pref
        self.layer_comb = opts.layer_comb
        available = sorted(data.item_features)
        if opts.modalities is None:
            labels = available
        elif isinstance(opts.modalities, str):
            labels = [opts.modalities]
        else:
            labels = list(opts.modalities)
        missing = [lab for lab in labels if lab not in data.item_features]
        if missing:
            raise ValueError(
                f"ludp: no {', '.join(missing)} features in the data "
                f"(modalities here: {', '.join(available) or 'none'})"
            )
        # a modality no item has would only add zeros
        self.modalities: list[str] = [
            lab for lab in labels if bool(np.any(data.item_features[lab]))
        ]
        dim = config.dim
        pref_dim = int(opts.pref_dim or dim)

        self.emb = nn.Embedding(self.n_users + self.n_items, dim)
        nn.init.normal_(self.emb.weight, std=0.1)
        tr = torch.as_tensor(data.train)
        n = self.n_users + self.n_items
        self.register_buffer(
            "adj", sym_norm_adj(tr[:, 0], tr[:, 1] + self.n_users, n), persistent=False
        )

        n_mod = len(self.modalities)
        has_mod = torch.zeros(n_mod, self.n_items, dtype=torch.bool)
        self.w1 = nn.ModuleList()
        self.w2 = nn.ModuleList()
        for m, label in enumerate(self.modalities):
            feats = np.asarray(data.item_features[label], dtype=np.float32)
            has_mod[m] = torch.as_tensor(np.linalg.norm(feats, axis=1) > 0)
            if self.use_item_graph:
                a = self._item_adjacency(feats)
                self.register_buffer(f"item_adj{m}", a, persistent=False)
                self.register_buffer(f"item_adj_t{m}", _transpose(a), persistent=False)
            if self.use_user_pref:
                self.register_buffer(
                    f"user_feat{m}", self._user_mean(data.train, feats), persistent=False
                )
                self.w1.append(nn.Linear(feats.shape[1], pref_dim, bias=False))
                self.w2.append(nn.Linear(pref_dim, dim, bias=False))
        self.register_buffer("has_mod", has_mod, persistent=False)
        for lin in [*self.w1, *self.w2]:
            nn.init.xavier_uniform_(lin.weight)
        self.item_att: nn.Module | None = None
        self.user_att: nn.Module | None = None
        if self.fusion == "attention":
            self.item_att, self.user_att = ModalityAttention(dim), ModalityAttention(dim)
        elif self.fusion == "concat" and n_mod:
            self.item_att, self.user_att = nn.Linear(n_mod * dim, dim), nn.Linear(n_mod * dim, dim)

    # --- graphs --------------------------------------------------------------------------------
    def _item_adjacency(self, feats: np.ndarray) -> Tensor:
        """The CSR ``[n_items, n_items]`` propagation matrix of one modality's kNN graph."""
        g = knn_graph(feats, self.k)
        src, dst = torch.as_tensor(g.src), torch.as_tensor(g.dst)
        if self.knn_norm == "paper":  # eq 5: 1 / sqrt(|N_i|) for each of i's neighbours
            deg = torch.bincount(src, minlength=self.n_items).float().clamp(min=1)
            values = deg[src].pow(-0.5)
        else:  # LATTICE: D^-1/2 G D^-1/2 with G weighted by the similarity, D its row sums
            w = torch.as_tensor(g.score).clamp(min=0)
            d = torch.zeros(self.n_items).index_add_(0, src, w).clamp(min=1e-12).pow(-0.5)
            values = d[src] * w * d[dst]
        return sparse_adj(src, dst, values, self.n_items)

    def _user_mean(self, train: np.ndarray, feats: np.ndarray) -> Tensor:
        """Each user's mean feature over their training items that have the modality (eq 10's
        pooling, taken before the linear ``W_1``, which commutes with the mean)."""
        pairs = np.asarray(train, dtype=np.int64).reshape(-1, 2)
        has = np.linalg.norm(feats, axis=1) > 0
        pairs = pairs[has[pairs[:, 1]]]
        sums = np.zeros((self.n_users, feats.shape[1]), np.float64)
        np.add.at(sums, pairs[:, 0], feats[pairs[:, 1]])
        counts = np.bincount(pairs[:, 0], minlength=self.n_users).clip(min=1)
        return torch.as_tensor((sums / counts[:, None]).astype(np.float32))

    # --- forward -------------------------------------------------------------------------------
    def collaborative(self) -> Tensor:
        """``E`` of eq 2 for every node. Shapes: ``[n_users + n_items, dim]``."""
        x = self.emb.weight
        acc = x
        for _ in range(self.config.layers):
            x = spmm(self.adj, self.adj, x)
            acc = acc + x
        return acc if self.layer_comb == "sum" else acc / (self.config.layers + 1)

    def item_modal_states(self) -> Tensor:
        """``h^m`` of every modality (eq 5). Shapes: ``[M, n_items, dim]``."""
        ego = self.emb.weight[self.n_users :]
        states = []
        for m in range(len(self.modalities)):
            a, a_t = getattr(self, f"item_adj{m}"), getattr(self, f"item_adj_t{m}")
            h = ego
            for _ in range(self.item_layers):
                h = spmm(a, a_t, h)
            states.append(h)
        return torch.stack(states)

    def user_modal_states(self) -> Tensor:
        """``p̂^m`` of every modality (eqs 10–11). Shapes: ``[M, n_users, dim]``."""
        e_u = self.emb.weight[: self.n_users]
        states = []
        for m in range(len(self.modalities)):
            p = F.leaky_relu(self.w1[m](getattr(self, f"user_feat{m}")))
            states.append(F.leaky_relu(self.w2[m](p)) + e_u)
        return torch.stack(states)

    def _fuse(self, states: Tensor, att: nn.Module | None, mask: Tensor | None) -> Tensor:
        if self.fusion == "sum" or att is None:
            return states.sum(0) if mask is None else (states * mask.unsqueeze(-1)).sum(0)
        if self.fusion == "concat":
            return att(states.permute(1, 0, 2).reshape(states.shape[1], -1))
        return att(states, mask)

    def propagate(self) -> tuple[Tensor, Tensor]:
        """``e*_u`` and ``e*_i`` (eq 13). Shapes: ``([n_users, dim], [n_items, dim])``."""
        out = self.collaborative()
        users, items = out[: self.n_users], out[self.n_users :]
        if self.modalities and self.use_item_graph:
            items = items + self._fuse(self.item_modal_states(), self.item_att, self.has_mod)
        if self.modalities and self.use_user_pref:
            users = users + self._fuse(self.user_modal_states(), self.user_att, None)
        return users, items

    def modality_weights(self) -> dict[str, Tensor]:
        """Attention weights per modality (eqs 7 and 12), for inspection.

        Shapes: ``{"item": [M, n_items], "user": [M, n_users]}`` (attention fusion only).
        """
        out: dict[str, Tensor] = {}
        with torch.no_grad():
            if isinstance(self.item_att, ModalityAttention) and self.use_item_graph:
                out["item"] = self.item_att.weights(self.item_modal_states(), self.has_mod)
            if isinstance(self.user_att, ModalityAttention) and self.use_user_pref:
                out["user"] = self.user_att.weights(self.user_modal_states())
        return out

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        self.forget_scoring()
        uv, iv = self.propagate()
        return inner_product_bpr(
            uv, iv, self.emb.weight, self.n_users, users, pos, neg, self.config.l2
        )

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, modalities={self.modalities}, k={self.k}, "
            f"fusion={self.fusion}, item_graph={self.use_item_graph}, "
            f"user_pref={self.use_user_pref}"
        )


def _transpose(a: Tensor) -> Tensor:
    """CSR transpose (the kNN graph is directed)."""
    coo = a.to_sparse_coo().coalesce()
    r, c = coo.indices()
    return sparse_adj(c, r, coo.values(), a.shape[0])

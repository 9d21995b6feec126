"""Pieces the graph recommenders share: collaborative-KG assembly, sparse adjacency, the TransR
loss, attentive edge weights, the bi-interaction aggregator and the layer attention.

Everything is plain ``torch`` (plus :func:`torch_geometric.utils.softmax` for the per-head
softmax), so the same code runs on CPU and CUDA.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import softmax as scatter_softmax

Triples = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(heads, relations, tails), int64 ``[T]`` each."""


@dataclass
class CollabGraph:
    """A collaborative knowledge graph over one contiguous entity space.

    Attributes:
        n_entities: number of entities.
        n_relations: number of relations, inverses included.
        triples: int64 ``[3, T]`` (head, relation, tail) without inverses: what TransR trains on.
        edges: int64 ``[3, E]`` (head, relation, tail) with inverses: what propagation uses.
    """

    n_entities: int
    n_relations: int
    triples: Tensor
    edges: Tensor


def collab_graph(parts: list[Triples], n_entities: int, n_relations: int) -> CollabGraph:
    """Stack ``(heads, relations, tails)`` parts and add an inverse relation for each relation.

    The inverse of relation ``r`` is ``r + n_relations``, so a head's neighbourhood holds both
    directions (KGAT, Sec. 2.1: "we consider the inverse direction of each triple").

    Args:
        parts: triples over the joint entity space, relations in ``[0, n_relations)``.
        n_entities: size of the entity space.
        n_relations: number of forward relations.
    """
    h = torch.from_numpy(np.concatenate([p[0] for p in parts]).astype(np.int64))
    r = torch.from_numpy(np.concatenate([p[1] for p in parts]).astype(np.int64))
    t = torch.from_numpy(np.concatenate([p[2] for p in parts]).astype(np.int64))
    triples = torch.stack([h, r, t])
    edges = torch.stack([torch.cat([h, t]), torch.cat([r, r + n_relations]), torch.cat([t, h])])
    return CollabGraph(n_entities, 2 * n_relations, triples, edges)


def sparse_adj(rows: Tensor, cols: Tensor, values: Tensor, n: int) -> Tensor:
    """A ``[n, n]`` CSR matrix (duplicates summed): ``A @ X`` aggregates ``X[cols]`` into rows.

    CSR because its ``mm`` is the fastest sparse kernel on CPU and its backward to the dense
    operand is supported.
    """
    coo = torch.sparse_coo_tensor(
        torch.stack([rows, cols]), values, (n, n), check_invariants=False
    ).coalesce()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta"
        return coo.to_sparse_csr()


class CSRPattern:
    """The sparsity pattern of ``A[rows, cols]`` fixed once, so new values cost one scatter.

    Attention models recompute their edge weights every epoch but never their edges; building
    the CSR structure (sort, coalesce, compress) once and then only scattering the values into
    their slots makes :meth:`CKGEncoder.refresh` an order of magnitude cheaper.

    Args:
        rows, cols: int64 ``[E]`` (duplicates share a slot; their values are summed).
        n: matrix size (square ``[n, n]``).
    """

    def __init__(self, rows: Tensor, cols: Tensor, n: int) -> None:
        key = rows * n + cols
        uniq, self.slot = torch.unique(key, sorted=True, return_inverse=True)
        self.n = n
        self.col = (uniq % n).contiguous()
        counts = torch.bincount(uniq // n, minlength=n)
        self.crow = torch.zeros(n + 1, dtype=torch.int64, device=rows.device)
        self.crow[1:] = torch.cumsum(counts, 0)

    def matrix(self, values: Tensor) -> Tensor:
        """The CSR ``[n, n]`` with ``values`` (``[E]``, in the order of the edges given)."""
        v = torch.zeros(len(self.col), dtype=values.dtype, device=values.device)
        v.index_add_(0, self.slot, values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta"
            return torch.sparse_csr_tensor(self.crow, self.col, v, (self.n, self.n))


class _SpMM(torch.autograd.Function):
    """``A @ x`` whose backward uses a precomputed ``Aᵀ`` (CSR).

    torch's own backward for a sparse operand converts the gradient path to CSR on every call,
    which costs ~10x the forward; the transpose is fixed per graph, so it is built once.
    """

    @staticmethod
    def forward(ctx, a: Tensor, a_t: Tensor, x: Tensor) -> Tensor:
        ctx.a_t = a_t
        return torch.sparse.mm(a, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, None, Tensor]:
        return None, None, torch.sparse.mm(ctx.a_t, grad)


def spmm(a: Tensor, a_t: Tensor, x: Tensor) -> Tensor:
    """Sparse ``a @ x`` differentiable in ``x`` only (the adjacency is not learned by gradient).

    Args:
        a: CSR ``[n, m]``.
        a_t: CSR ``[m, n]``, the transpose of ``a`` (``a`` itself when symmetric).
        x: dense ``[m, d]``.
    """
    return _SpMM.apply(a, a_t, x)


def sym_norm_adj(rows: Tensor, cols: Tensor, n: int) -> Tensor:
    """``D^{-1/2} A D^{-1/2}`` of the undirected graph with the given (one-way) edges.

    Shapes:
        rows, cols: ``[E]``; returns a CSR ``[n, n]``.
    """
    r = torch.cat([rows, cols])
    c = torch.cat([cols, rows])
    deg = torch.bincount(r, minlength=n).float().clamp(min=1)
    dinv = deg.pow(-0.5)
    return sparse_adj(r, c, dinv[r] * dinv[c], n)


def bpr_loss(pos: Tensor, neg: Tensor) -> Tensor:
    """``-ln σ(pos - neg)``, averaged; ``neg`` may hold several negatives per row.

    Shapes:
        pos: ``[B]``; neg: ``[B]`` or ``[B, N]``.
    """
    if neg.dim() == 2:
        pos = pos.unsqueeze(1)
    return F.softplus(neg - pos).mean()


def cf_objective(model: str, extra: dict[str, Any]) -> tuple[str, float]:
    """The CF objective a model's ``extra`` settings ask for: ``(cf_loss, tau)``, validated.

    ``extra["cf_loss"]`` is ``"bpr"`` (default), ``"softmax"`` (:func:`softmax_cf_loss`) or
    ``"sampled_softmax"`` (:func:`sampled_softmax_cf_loss`, for catalogues too large for the
    full one); models trained with either softmax score by cosine. ``extra["tau"]`` is the
    temperature (default: 0.2).
    """
    kind, tau = str(extra.get("cf_loss", "bpr")), float(extra.get("tau", 0.2))
    if kind not in CF_LOSSES:
        raise ValueError(
            f"{model}: cf_loss must be one of {', '.join(map(repr, CF_LOSSES))}, not {kind!r}"
        )
    if not tau > 0:
        raise ValueError(f"{model}: tau must be > 0, not {tau}")
    return kind, tau


CF_LOSSES = ("bpr", "softmax", "sampled_softmax")


def softmax_objective(
    kind: str, users: Tensor, items: Tensor, pos: Tensor, neg: Tensor, tau: float
) -> Tensor:
    """:func:`softmax_cf_loss` or :func:`sampled_softmax_cf_loss`, by ``kind``."""
    if kind == "softmax":
        return softmax_cf_loss(users, items, pos, tau)
    return sampled_softmax_cf_loss(users, items, pos, neg, tau)


def softmax_cf_loss(users: Tensor, items: Tensor, pos: Tensor, tau: float) -> Tensor:
    """Cross-entropy of the positive item against the whole catalogue (full softmax), with
    cosine scores divided by the temperature ``tau``.

    Unlike BPR, every item is a negative in every step and the hardest ones weigh most; on a
    catalogue of thousands of items the ``[B, n_items]`` logits cost about one scoring batch.

    Shapes:
        users: ``[B, D]`` the batch's user vectors; items: ``[n_items, D]``; pos: ``[B]``.
    """
    # 1/tau folded into the [B, D] side: one [B, n_items] pass less, forward and backward
    logits = (F.normalize(users, dim=-1) / tau) @ F.normalize(items, dim=-1).T
    return F.cross_entropy(logits, pos)


def sampled_softmax_cf_loss(
    users: Tensor, items: Tensor, pos: Tensor, neg: Tensor, tau: float
) -> Tensor:
    """:func:`softmax_cf_loss` estimated from sampled negatives, for large catalogues.

    The batch's negatives (``neg``, uniform over items) are shared by every row, so a batch of
    ``B`` rows with ``S = neg.numel()`` negatives costs ``[B, S]`` logits instead of
    ``[B, n_items]``. Each negative's logit is raised by ``log((n_items - 1) / S)``, the
    correction for uniform sampling, so that the sampled terms estimate the sum over the whole
    catalogue; a sampled negative equal to a row's positive is left out of that row. With
    every other item sampled once the loss is exactly :func:`softmax_cf_loss`.

    Shapes:
        users: ``[B, D]``; items: ``[n_items, D]``; pos: ``[B]``; neg: ``[B]`` or ``[B, N]``.
    """
    negs = neg.reshape(-1)
    u = F.normalize(users, dim=-1) / tau
    s_pos = (u * F.normalize(items[pos], dim=-1)).sum(-1, keepdim=True)
    s_neg = u @ F.normalize(items[negs], dim=-1).T + math.log((items.shape[0] - 1) / negs.numel())
    s_neg = s_neg.masked_fill(negs.unsqueeze(0) == pos.unsqueeze(1), float("-inf"))
    return (torch.logsumexp(torch.cat([s_pos, s_neg], 1), 1) - s_pos.squeeze(1)).mean()


class TransR(nn.Module):
    """Relation embeddings and projections for TransR (Lin et al., AAAI 2015), as in KGAT eq (1)
    and the paper's eq (10).

    ``g(h, r, t) = ||W_r e_h + e_r - W_r e_t||²``; the loss is
    ``-ln σ(g(h, r, t') - g(h, r, t))`` over sampled corrupt tails ``t'``.

    Args:
        n_relations: number of relations (inverses included).
        dim: entity size.
        rel_dim: relation-space size (default: ``dim``).

    Shapes:
        rel: ``[R, k]``; W: ``[R, d, k]``.
    """

    def __init__(self, n_relations: int, dim: int, rel_dim: int | None = None) -> None:
        super().__init__()
        k = rel_dim or dim
        self.rel = nn.Parameter(torch.empty(n_relations, k))
        self.W = nn.Parameter(torch.empty(n_relations, dim, k))
        nn.init.xavier_uniform_(self.rel)
        nn.init.xavier_uniform_(self.W)

    def loss(self, e_h: Tensor, r: Tensor, e_tp: Tensor, e_tn: Tensor, l2: float) -> Tensor:
        """Eq (10) plus ``l2`` times the mean squared norms of the projected vectors.

        Shapes:
            e_h, e_tp, e_tn: ``[B, d]``; r: ``[B]``.
        """
        # group the batch by relation: one [n_r, d] @ [d, k] per relation instead of gathering
        # a [B, d, k] stack of matrices (32 MB at B=2048, and as much again in backward)
        order = torch.argsort(r)
        rels, counts = torch.unique_consecutive(r[order], return_counts=True)
        x = torch.stack([e_h[order], e_tp[order], e_tn[order]])
        chunks = x.split(counts.tolist(), dim=1)
        proj = torch.cat(
            [c @ self.W[rel] for c, rel in zip(chunks, rels.tolist(), strict=True)], dim=1
        )
        ph, pp, pn = proj[0], proj[1], proj[2]
        er = self.rel[r[order]]
        g_pos = (ph + er - pp).pow(2).sum(1)
        g_neg = (ph + er - pn).pow(2).sum(1)
        reg = (ph.pow(2).sum(1) + er.pow(2).sum(1) + pp.pow(2).sum(1) + pn.pow(2).sum(1)) / 2
        return F.softplus(g_pos - g_neg).mean() + l2 * reg.mean()

    @torch.no_grad()
    def attention(self, ent: Tensor, edges: Tensor, n_entities: int) -> Tensor:
        """Attentive weights π(h, r, t) (eqs 12–13; KGAT eqs 4–5), one per edge.

        ``π'(h, r, t) = (W_r e_t)ᵀ tanh(W_r e_h + e_r)``, softmax-normalised over each head's
        edges. Per relation one matmul projects the entities (every entity when the relation
        has more edge ends than there are entities, else only its edges' ends), so no
        ``[E, d, k]`` stack of matrices is ever gathered.

        Shapes:
            ent: ``[N, d]``; edges: ``[3, E]``; returns ``[E]`` summing to 1 per head.
        """
        h, r, t = edges
        order = torch.argsort(r, stable=True)
        rels, counts = torch.unique_consecutive(r[order], return_counts=True)
        hs, ts = h[order], t[order]
        parts = []
        start = 0
        for rel, c in zip(rels.tolist(), counts.tolist(), strict=True):
            W = self.W[rel]
            hr, tr = hs[start : start + c], ts[start : start + c]
            if 2 * c > ent.shape[0]:  # project every entity once, then gather
                proj = ent @ W
                ph, pt = proj[hr], proj[tr]
            else:  # a rare relation: project only its edges' ends
                ph, pt = ent[hr] @ W, ent[tr] @ W
            parts.append((pt * torch.tanh(ph + self.rel[rel])).sum(1))
            start += c
        logits = torch.empty(h.numel(), device=ent.device, dtype=ent.dtype)
        logits[order] = torch.cat(parts) if parts else logits[:0]
        return scatter_softmax(logits, h, num_nodes=n_entities)


class BiInteraction(nn.Module):
    """Bi-interaction aggregator (KGAT eq 8; the paper's eq 14).

    ``f = LeakyReLU(W1 (e_h + e_N)) + LeakyReLU(W2 (e_h ⊙ e_N))``, then message dropout.

    Args:
        in_dim: input size.
        out_dim: output size.
        dropout: message dropout (default: 0.1).
    """

    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.w1 = nn.Linear(in_dim, out_dim)
        self.w2 = nn.Linear(in_dim, out_dim)
        self.dropout = nn.Dropout(dropout)
        nn.init.xavier_uniform_(self.w1.weight)
        nn.init.xavier_uniform_(self.w2.weight)

    def forward(self, ego: Tensor, side: Tensor) -> Tensor:
        """Shapes: ego, side: ``[N, in_dim]`` -> ``[N, out_dim]``."""
        out = F.leaky_relu(self.w1(ego + side), 0.2) + F.leaky_relu(self.w2(ego * side), 0.2)
        return self.dropout(out)


class LinearAggregator(nn.Module):
    """``f = e_N``: the neighbourhood alone, no transform, no self term (LightGCN's layer).

    The alternative to :class:`BiInteraction` for small, dense interaction graphs, where the
    transforms and the self term let a model memorise its training pairs.

    Args:
        dropout: message dropout (default: 0.1).
    """

    def __init__(self, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, ego: Tensor, side: Tensor) -> Tensor:
        """Shapes: ego, side: ``[N, dim]`` -> ``[N, dim]``."""
        return self.dropout(side)


AGGREGATORS = ("bi", "linear")


class LayerAttention(nn.Module):
    """Attention over the layer outputs of a node (the paper's fusion of multi-layer states,
    Sec. 1 and 3.4), so the shallow structure of early layers takes part in the prediction.

    ``α_{v,l} = softmax_l(qᵀ tanh(W e_v^{(l)} + b))``; output ``Σ_l α_{v,l} e_v^{(l)}``.

    Args:
        dim: size of each layer's state.
        hidden: size of the scoring projection (default: ``dim``).

    Shapes:
        states: ``[L+1, N, dim]`` -> ``[N, dim]``.
    """

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, hidden or dim)
        self.query = nn.Linear(hidden or dim, 1, bias=False)
        nn.init.xavier_uniform_(self.proj.weight)
        nn.init.zeros_(self.query.weight)  # start from the plain mean of the layers

    def weights(self, states: Tensor) -> Tensor:
        """Shapes: states ``[L+1, N, dim]`` -> ``[L+1, N]`` summing to 1 over layers."""
        return torch.softmax(self.query(torch.tanh(self.proj(states))).squeeze(-1), dim=0)

    def forward(self, states: Tensor) -> Tensor:
        return (self.weights(states).unsqueeze(-1) * states).sum(0)


class CKGEncoder(nn.Module):
    """Attentive propagation over one collaborative KG, as in KGAT (Wang et al., KDD 2019,
    Sec. 3.2) and the paper's eqs (11)–(15).

    Holds the graph, its TransR relation space and one :class:`BiInteraction` per layer.
    The attention π(h, r, t) is computed without gradient in :meth:`refresh` (the trainer calls
    it after each epoch, KGAT's alternating scheme) and stored as a sparse matrix, so a forward
    pass is one sparse matmul per layer: ``e_N = A_π E`` (eq 11).

    Args:
        graph: the collaborative KG (edges with inverses).
        dim: entity size, kept by every layer.
        layers: number of propagation layers (default: 3).
        dropout: message dropout after each aggregation (default: 0.1).
        degree_norm: scale each edge's attention by ``sqrt(deg(h) / deg(t))`` (default:
            False, the papers' row-stochastic π).
        aggregator: ``"bi"`` (:class:`BiInteraction`, the papers') or ``"linear"``
            (:class:`LinearAggregator`) (default: ``"bi"``).

    Shapes:
        forward(ego): ``[N, dim]`` -> ``[layers + 1, N, dim]`` (layer 0 is ``ego``).
    """

    edges: Tensor
    triples: Tensor
    edge_scale: Tensor

    def __init__(
        self,
        graph: CollabGraph,
        dim: int,
        layers: int = 3,
        dropout: float = 0.1,
        degree_norm: bool = False,
        aggregator: str = "bi",
    ) -> None:
        super().__init__()
        self.n_entities = graph.n_entities
        self.register_buffer("edges", graph.edges)
        # with degree_norm an edge's weight is π(h, r, t) · sqrt(deg h / deg t): uniform
        # attention then gives GCN's symmetric 1 / sqrt(deg h · deg t), so a popular tail
        # speaks less loudly to each of its many heads
        h, _, t = graph.edges
        deg = torch.bincount(h, minlength=graph.n_entities).float().clamp(min=1)
        scale = (deg[h] / deg[t]).sqrt() if degree_norm else torch.ones(h.numel())
        self.register_buffer("edge_scale", scale, persistent=False)
        self.register_buffer("triples", graph.triples)
        self.transr = TransR(graph.n_relations, dim)
        if aggregator not in AGGREGATORS:
            raise ValueError(f"unknown aggregator {aggregator!r}; one of {', '.join(AGGREGATORS)}")
        self.aggs = nn.ModuleList(
            BiInteraction(dim, dim, dropout) if aggregator == "bi" else LinearAggregator(dropout)
            for _ in range(layers)
        )
        self._patterns: tuple[CSRPattern, CSRPattern] | None = None
        # placeholders until the first refresh; the owner must call refresh(ego) once built
        self.adj: Tensor = torch.empty(0)
        self.adj_t: Tensor = torch.empty(0)
        self.att: Tensor = torch.empty(0)

    @torch.no_grad()
    def refresh(self, ego: Tensor) -> None:
        """Recompute π for every edge from ``ego`` and rebuild the sparse matrices."""
        self.att = self.transr.attention(ego, self.edges, self.n_entities)
        self.set_weights(self.att * self.edge_scale)

    @torch.no_grad()
    def set_weights(self, weights: Tensor) -> None:
        """Propagate with these edge weights (``[E]``, aligned with :attr:`edges`) from now on,
        e.g. attention with some edges masked to zero."""
        h, _, t = self.edges
        pats = self._patterns
        if pats is None or pats[0].crow.device != h.device:
            pats = self._patterns = (
                CSRPattern(h, t, self.n_entities),
                CSRPattern(t, h, self.n_entities),
            )
        self.adj = pats[0].matrix(weights)
        self.adj_t = pats[1].matrix(weights)

    def forward(self, ego: Tensor, normalize: bool = True) -> Tensor:
        """Layer states; with ``normalize`` each propagated layer is L2-normalised per row (as
        KGAT's reference code does before concatenation)."""
        if self.adj.device != ego.device or self.adj.numel() == 0:
            self.refresh(ego.detach())  # first use, or the module moved to another device
        states = [ego]
        x = ego
        for agg in self.aggs:
            x = agg(x, spmm(self.adj, self.adj_t, x))
            states.append(F.normalize(x, dim=1) if normalize else x)
        return torch.stack(states)

    def kg_loss(
        self, ego: Tensor, h: Tensor, r: Tensor, t_pos: Tensor, t_neg: Tensor, l2: float
    ) -> Tensor:
        """TransR loss (eq 10) on a batch of this graph's triples, entities taken from ``ego``."""
        return self.transr.loss(ego[h], r, ego[t_pos], ego[t_neg], l2)

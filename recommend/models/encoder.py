"""Attentive propagation over a collaborative KG: the bi-interaction and linear aggregators,
the layer attention and :class:`CKGEncoder` (KGAT, MMKGAT)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recommend.models.graph import CollabGraph
from recommend.models.sparse import CSRPattern, spmm
from recommend.models.transr import TransR


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

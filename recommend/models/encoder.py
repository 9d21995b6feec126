"""Attentive propagation over a collaborative KG: the bi-interaction and linear aggregators,
the layer attention and :class:`CKGEncoder` (KGAT, MMKGAT)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recommend.models.graph import CollabGraph
from recommend.models.neighbours import Blocks, row_block
from recommend.models.sparse import CSRPattern, spmm
from recommend.models.transr import TransR


def perturb(x: Tensor, eps: float) -> Tensor:
    """``x`` moved by ``Δ = eps · sign(x) ⊙ r / ‖r‖``, ``r ~ U(0, 1)^d`` per row (SimGCL eq 7:
    a step of length ``eps`` into the row's own hyperoctant, so the noise turns a vector by a
    small angle without flipping it); ``x`` itself when ``eps`` is 0.

    Shapes: ``[n, d]`` -> ``[n, d]``.
    """
    if eps == 0:
        return x
    return x + eps * torch.sign(x) * F.normalize(torch.rand_like(x), dim=-1)


class MessageDropout(nn.Module):
    """Inverted dropout (:class:`torch.nn.Dropout`'s), with its mask drawn as ``uniform >= p``.

    On CPU ``nn.Dropout`` draws its mask with ``bernoulli_``, about twice the cost of
    ``rand_like`` and a comparison; the graph encoders drop every layer's whole ``[N, dim]``
    output each step (``bernoulli_`` was ~10% of an ML-100K mmkgat epoch in
    ``benchmarks/epoch_cost.py --profile``). The masks have the same distribution and come
    from the same generator; CUDA keeps torch's fused kernel.

    Args:
        p: probability of zeroing an element, in ``[0, 1)``.
    """

    def __init__(self, p: float = 0.1) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout must be in [0, 1), not {p}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, True)
        keep = torch.rand_like(x) >= self.p
        return x * (keep.to(x.dtype) / (1 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


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
        self.dropout = MessageDropout(dropout)
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
        self.dropout = MessageDropout(dropout)

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


@dataclass(frozen=True)
class Trace:
    """What :meth:`CKGEncoder.trace` keeps of one propagation: each layer's input
    (``inputs[0]`` is layer 0, ``inputs[l]`` the unnormalised output of layer ``l``), whether
    the states are L2-normalised per layer, each layer's aggregated neighbourhood
    (``sides[l] = A inputs[l]``) and the entries of the propagation matrix ``A``: ``val`` at
    ``keys = row * n + col``, sorted, one per entity pair."""

    inputs: list[Tensor]
    normalize: bool
    sides: list[Tensor]
    keys: Tensor
    val: Tensor


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
        plain: bool ``[n_entities]``: edges to or from these entities keep their plain
            attention under ``degree_norm`` (default: none). For feature entities that belong
            to one item each (multimodal nodes): scaled by ``sqrt(deg h / 1)`` they would
            outweigh the item's whole neighbourhood.
        noise: length of SimGCL's noise (:func:`perturb`) added to every propagated layer
            in training mode (default: 0, none).

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
        plain: Tensor | None = None,
        noise: float = 0.0,
    ) -> None:
        super().__init__()
        if not noise >= 0:
            raise ValueError(f"noise must be >= 0, not {noise}")
        self.n_entities = graph.n_entities
        self.register_buffer("edges", graph.edges)
        # with degree_norm an edge's weight is π(h, r, t) · sqrt(deg h / deg t): uniform
        # attention then gives GCN's symmetric 1 / sqrt(deg h · deg t), so a popular tail
        # speaks less loudly to each of its many heads
        h, _, t = graph.edges
        deg = torch.bincount(h, minlength=graph.n_entities).float().clamp(min=1)
        scale = (deg[h] / deg[t]).sqrt() if degree_norm else torch.ones(h.numel())
        if plain is not None and degree_norm:  # a feature entity is no popular neighbour
            scale = torch.where(plain[h] | plain[t], torch.ones_like(scale), scale)
        self.register_buffer("edge_scale", scale, persistent=False)
        self.register_buffer("triples", graph.triples)
        self.transr = TransR(graph.n_relations, dim)
        if aggregator not in AGGREGATORS:
            raise ValueError(f"unknown aggregator {aggregator!r}; one of {', '.join(AGGREGATORS)}")
        self.aggs = nn.ModuleList(
            BiInteraction(dim, dim, dropout) if aggregator == "bi" else LinearAggregator(dropout)
            for _ in range(layers)
        )
        # SimGCL's perturbation (:func:`perturb`) of every propagated layer while training,
        # before it feeds the next one (0: off)
        self.noise = float(noise)
        self._patterns: tuple[CSRPattern, CSRPattern] | None = None
        # placeholders until the first refresh; the owner must call refresh(ego) once built
        self.adj: Tensor = torch.empty(0)
        self.adj_t: Tensor = torch.empty(0)
        self.att: Tensor = torch.empty(0)

    @torch.no_grad()
    def refresh(self, ego: Tensor) -> None:
        """Recompute π for every edge from ``ego`` and rebuild the sparse matrices."""
        self.att = self._attention(ego)
        self.set_weights(self.att * self.edge_scale)

    # edges per TransR.attention call in refresh: its [edges, dim] temporaries stay this size
    attention_chunk = 250_000

    def _attention(self, ego: Tensor) -> Tensor:
        """π of every edge; on a large graph over chunks of whole heads (π is a softmax over
        a head's edges, so a chunk holding all of its heads' edges gives their exact values)."""
        n_edges, chunk = self.edges.shape[1], self.attention_chunk
        if n_edges <= chunk:
            return self.transr.attention(ego, self.edges, self.n_entities)
        order = torch.argsort(self.edges[0], stable=True)
        ends = torch.cumsum(torch.bincount(self.edges[0], minlength=self.n_entities), 0)
        att = torch.empty(n_edges, dtype=ego.dtype, device=ego.device)
        start = 0
        while start < n_edges:  # each chunk ends at the last head boundary within reach
            i = int(torch.searchsorted(ends, min(start + chunk, n_edges), right=True))
            stop = int(ends[i - 1]) if i > 0 else 0
            if stop <= start:  # end of the head at `start` when that head alone is larger
                stop = int(ends[int(torch.searchsorted(ends, start, right=True))])
            idx = order[start:stop]
            att[idx] = self.transr.attention(ego, self.edges[:, idx], self.n_entities)
            start = stop
        return att

    @property
    def train_noise(self) -> float:
        """:attr:`noise` in training mode, 0 in evaluation mode."""
        return self.noise if self.training else 0.0

    def stale(self, ego: Tensor) -> bool:
        """Whether the propagation matrices must be (re)built before use with ``ego``: on
        first use, or after the module moved to another device."""
        return self.adj.numel() == 0 or self.adj.device != ego.device

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
        if self.stale(ego):
            self.refresh(ego.detach())
        states = [ego]
        x, eps = ego, self.train_noise
        for agg in self.aggs:
            x = perturb(agg(x, spmm(self.adj, self.adj_t, x)), eps)
            states.append(F.normalize(x, dim=1) if normalize else x)
        return torch.stack(states)

    # rows (distinct) under this share of the entities: states_of computes the last layer
    # for them alone (amazon-book's 95k-node graphs, a batch's ~6k rows: README, "Training
    # at scale")
    prune_below = 0.2

    def states_of(self, ego: Tensor, rows: Tensor, normalize: bool = True) -> Tensor:
        """``forward(ego, normalize)[:, rows]``, by :meth:`forward_rows` when the rows are
        under :attr:`prune_below` of the entities, else by :meth:`forward`.

        Shapes: ego ``[N, dim]``, rows ``[R]`` (distinct) -> ``[layers + 1, R, dim]``.
        """
        if self.prunes(len(rows)):
            return self.forward_rows(ego, rows, normalize)
        return self(ego, normalize)[:, rows]

    def prunes(self, n_rows: int) -> bool:
        """Whether :meth:`states_of` computes the last layer for ``n_rows`` rows alone."""
        return n_rows < self.prune_below * self.n_entities

    def forward_rows(self, ego: Tensor, rows: Tensor, normalize: bool = True) -> Tensor:
        """:meth:`forward`'s states of ``rows`` only, the last layer computed for them alone
        (its aggregation over their CSR rows, :func:`recommend.models.neighbours.row_block`):
        for a batch that holds a small part of a large graph, one layer's transforms over a
        few thousand rows instead of every entity, and no ``[L+1, N, dim]`` stack.

        Shapes: ego ``[N, dim]``, rows ``[R]`` (distinct) -> ``[layers + 1, R, dim]``.
        """
        if self.stale(ego):
            self.refresh(ego.detach())
        states = [ego[rows]]
        x, eps = ego, self.train_noise
        for agg in self.aggs[:-1]:
            x = perturb(agg(x, spmm(self.adj, self.adj_t, x)), eps)
            states.append(F.normalize(x[rows], dim=1) if normalize else x[rows])
        a, a_t = row_block(self.adj, rows)
        x = perturb(self.aggs[-1](x[rows], spmm(a, a_t, x)), eps)
        states.append(F.normalize(x, dim=1) if normalize else x)
        return torch.stack(states)

    def forward_blocks(self, ego: Tensor, blocks: Blocks, normalize: bool = True) -> Tensor:
        """:meth:`forward`'s rows of the seeds only, propagated over sampled blocks
        (:func:`recommend.models.neighbours.sample_blocks` on :attr:`adj`): layer ``l``
        runs on the nodes within ``L - l`` hops, so the cost follows the sample, not the graph.
        Equal to ``forward(full_ego)[:, seeds]`` when every node's whole row was taken.

        Shapes:
            ego: ``[blocks.sizes[-1], dim]``, the layer-0 rows of ``blocks.nodes``;
            returns ``[layers + 1, n_seeds, dim]`` in the order of the seeds sampled.
        """
        n_layers = len(self.aggs)
        if blocks.hops != n_layers:
            raise ValueError(f"{blocks.hops}-hop blocks for a {n_layers}-layer encoder")
        n0 = blocks.sizes[0]
        states = [ego[:n0]]
        x, eps = ego, self.train_noise
        for layer, agg in enumerate(self.aggs):
            k = n_layers - layer  # x holds the nodes within k hops; block k maps them to k-1
            a, a_t = blocks.matrices[k - 1]
            x = perturb(agg(x[: blocks.sizes[k - 1]], spmm(a, a_t, x)), eps)
            states.append((F.normalize(x, dim=1) if normalize else x)[:n0])
        return torch.stack(states)[:, blocks.seed_index]

    @torch.no_grad()
    def trace(self, ego: Tensor, normalize: bool = True) -> Trace:
        """:meth:`forward`'s layer inputs (``[ego, x_1, ..., x_L]``, unnormalised), kept for
        :meth:`cut`."""
        if self.stale(ego):
            self.refresh(ego)
        inputs, sides = [ego], []
        for agg in self.aggs:
            sides.append(spmm(self.adj, self.adj_t, inputs[-1]))
            inputs.append(agg(inputs[-1], sides[-1]))
        adj = self.adj
        rows = torch.repeat_interleave(
            torch.arange(self.n_entities, device=ego.device), adj.crow_indices().diff()
        )
        keys = rows * self.n_entities + adj.col_indices()  # row-major, columns sorted: sorted
        return Trace(inputs, normalize, sides, keys, adj.values())

    @torch.no_grad()
    def cut(self, trace: Trace, nodes: Tensor, cols: Tensor) -> Tensor:
        """The layer states of ``nodes[k]`` with its edges to ``cols[k]`` (-1 for none) left
        out of its own aggregation at every layer, every other entity's states as in
        ``trace``: masking an edge, seen from one end, to first order.

        Shapes: nodes, cols ``[K]`` -> ``[L+1, K, dim]`` (a row with -1 is :meth:`forward`'s).
        """
        safe = cols.clamp(min=0)
        want = nodes * self.n_entities + safe
        pos = torch.searchsorted(trace.keys, want).clamp(max=max(len(trace.keys) - 1, 0))
        hit = (cols >= 0) & (trace.keys[pos] == want)
        w = torch.where(hit, trace.val[pos], torch.zeros_like(trace.val[pos])).unsqueeze(1)
        x = trace.inputs[0][nodes]
        states = [x]
        for layer, agg in enumerate(self.aggs):
            x = agg(x, trace.sides[layer][nodes] - w * trace.inputs[layer][safe])
            states.append(F.normalize(x, dim=1) if trace.normalize else x)
        return torch.stack(states)

    def kg_loss(
        self, ego: Tensor, h: Tensor, r: Tensor, t_pos: Tensor, t_neg: Tensor, l2: float
    ) -> Tensor:
        """TransR loss (eq 10) on a batch of this graph's triples, entities taken from ``ego``."""
        return self.transr.loss(ego[h], r, ego[t_pos], ego[t_neg], l2)

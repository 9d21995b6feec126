"""Neighbour sampling on a propagation CSR: the L-hop blocks around a batch's seed nodes, for
mini-batch training on graphs whose full propagation does not fit (GraphSAGE's sampler,
Hamilton et al., NeurIPS 2017; PyG's ``NeighborLoader`` samples the same way).

Every node is expanded once, when it first enters the sample: up to ``fanout`` of its CSR
slots are drawn uniformly *with replacement* (every slot, weight unchanged, when its row has no
more than ``fanout``), each weighted by the edge's current weight times ``deg / fanout``, so a
sampled row's sum is an unbiased estimate of the full row's (``E[Â x] = A x``). Hop ``k``'s
block holds the sampled edges of the nodes within ``k - 1`` hops, so propagating layer
``l`` over block ``L - l + 1`` gives the seeds' layer-``L`` states; with every fanout at least
the largest degree (or ``-1``) they equal the full propagation's rows exactly
(:meth:`recommend.models.encoder.CKGEncoder.forward_blocks`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import torch
from torch import Tensor

from recommend.models.base import REGISTRY, ModelOptions, Recommender, option


@dataclass(frozen=True)
class SamplerOptions(ModelOptions):
    """The options of a model that can train on sampled neighbourhoods (``kgrec train
    --sampler neighbour --fanout N``)."""

    sampler: Literal["full", "neighbour"] = option(
        "full",
        "what a CF batch propagates over: the whole graphs, or neighbourhoods sampled around "
        "its users and items (for graphs too large to propagate whole; evaluation stays full)",
    )
    fanout: int | list[int] = option(
        10,
        "neighbours sampled per node and hop with sampler 'neighbour': one for every hop, or "
        "a list of one per layer (nearest hop first); -1 takes them all",
    )


def sampler_options(
    model: type[Recommender], sampler: str | None, fanout: list[int] | None
) -> dict[str, Any]:
    """``kgrec train --sampler`` / ``--fanout`` as ``ModelConfig.extra`` entries (one fanout
    given: that int).

    Raises:
        ValueError: either is given for a model without :class:`SamplerOptions` (the message
            names it and the models that have them).
    """
    given = {"sampler": sampler, "fanout": fanout[0] if fanout and len(fanout) == 1 else fanout}
    given = {k: v for k, v in given.items() if v is not None}
    if given and not issubclass(model.options_type, SamplerOptions):
        able = [m for m, c in REGISTRY.items() if issubclass(c.options_type, SamplerOptions)]
        raise ValueError(
            f"--{'/--'.join(given)}: {model.name} has no neighbour sampler (no option "
            f"{', '.join(sorted({f.name for f in fields(SamplerOptions)}))}); "
            f"models with one: {', '.join(sorted(able)) or 'none'}"
        )
    return given


@dataclass
class Blocks:
    """The sampled neighbourhood of some seed nodes, hop by hop.

    Attributes:
        nodes: int64 ``[sizes[-1]]`` global node ids; the first ``sizes[k]`` are the nodes
            within ``k`` hops (the seeds first, each hop's new nodes after the previous ones).
        sizes: ``[L + 1]`` node counts per hop (``sizes[0]``: the distinct seeds).
        seed_index: int64 ``[n_seeds]`` each given seed's position in ``nodes`` (seeds may
            repeat).
        matrices: per hop ``k = 1..L``, the CSR ``[sizes[k-1], sizes[k]]`` of sampled weights
            (local ids) and its transpose, as :func:`recommend.models.sparse.spmm` takes them.
        edges: sampled edges up to each hop, cumulative (``matrices[k-1]`` holds the first
            ``edges[k-1]`` draws, duplicates included).
    """

    nodes: Tensor
    sizes: list[int]
    seed_index: Tensor
    matrices: list[tuple[Tensor, Tensor]]
    edges: list[int]

    @property
    def hops(self) -> int:
        return len(self.matrices)


def layer_fanouts(fanout: int | Sequence[int], layers: int, model: str) -> list[int]:
    """Per-hop fanouts (nearest hop first) from one fanout or a list of one per layer.

    Raises:
        ValueError: a list of the wrong length, or a fanout that is neither positive nor -1
            (the message names ``model``).
    """
    out = [fanout] * layers if isinstance(fanout, int) else list(fanout)
    if len(out) != layers or any(f == 0 or f < -1 for f in out):
        raise ValueError(
            f"{model}: fanout must be a positive int or -1 (every neighbour), or a list of "
            f"{layers} of them (one per layer), not {fanout!r}"
        )
    return out


def _sample_rows(
    adj: Tensor, rows: Tensor, fanout: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor, Tensor]:
    """Sampled slots of ``rows`` of the CSR ``adj``: (index into ``rows``, column, weight)."""
    crow, col, val = adj.crow_indices(), adj.col_indices(), adj.values()
    start = crow[rows]
    deg = crow[rows + 1] - start
    take = deg if fanout < 0 else deg.clamp(max=fanout)
    row_of = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), take)
    first = torch.cumsum(take, 0) - take  # where each row's draws begin
    if fanout < 0:  # every slot of every row: nothing to draw
        pos = start[row_of] + torch.arange(len(row_of), device=rows.device) - first[row_of]
        return row_of, col[pos], val[pos]
    d = deg[row_of]
    every = d == take[row_of]  # the whole row: no draw, no rescaling
    u = torch.rand(len(row_of), generator=generator, dtype=val.dtype).to(rows.device)
    drawn = torch.minimum((u * d).long(), d - 1)
    pick = torch.where(every, torch.arange(len(row_of), device=rows.device) - first[row_of], drawn)
    pos = start[row_of] + pick
    scale = torch.where(every, torch.ones_like(u), d.to(val.dtype) / max(fanout, 1))
    return row_of, col[pos], val[pos] * scale


class _LocalIds:
    """Global -> local node ids of one sample: a table over the graph's nodes, so that adding
    a hop's nodes costs a scan of the table, not a sort of the hop's edges."""

    def __init__(self, seeds: Tensor, n: int) -> None:
        self.nodes = seeds
        self.local = torch.full((n,), -1, dtype=torch.long, device=seeds.device)
        self.local[seeds] = torch.arange(len(seeds), device=seeds.device)

    def add(self, ids: Tensor) -> Tensor:
        """Append the nodes of ``ids`` not yet in the sample; the local id of each of ids."""
        seen = torch.zeros_like(self.local, dtype=torch.bool)
        seen[ids] = True
        new = torch.nonzero(seen & (self.local < 0)).flatten()
        self.local[new] = torch.arange(len(new), device=new.device) + len(self.nodes)
        self.nodes = torch.cat([self.nodes, new])
        return self.local[ids]


def _csr(crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta"
        a = torch.sparse_csr_tensor(crow, col, values, shape)
        # cuSPARSE assumes sorted, distinct columns in a row (the CPU kernel does not)
        return a.to_sparse_coo().coalesce().to_sparse_csr() if a.is_cuda else a


def _crow(rows: Tensor, n_rows: int) -> Tensor:
    """CSR row pointers of sorted row ids."""
    crow = torch.zeros(n_rows + 1, dtype=torch.long, device=rows.device)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=n_rows), 0)
    return crow


def sample_blocks(
    adj: Tensor,
    seeds: Tensor,
    fanouts: Sequence[int],
    generator: torch.Generator | None = None,
) -> Blocks:
    """The ``len(fanouts)``-hop sampled neighbourhood of ``seeds`` in the CSR ``adj``.

    No sort runs over the sampled edges but one (for the transposes): the draws come out row
    by row, so every block is a prefix of the same CSR arrays. A block's columns are neither
    sorted within a row nor distinct (a slot drawn twice appears twice), which ``torch.sparse
    .mm`` sums as it goes on the CPU (on CUDA the blocks are coalesced for cuSPARSE).

    Args:
        adj: CSR ``[N, N]`` whose row ``h`` holds the weights ``h`` aggregates with
            (:attr:`CKGEncoder.adj`: π · scale).
        seeds: int64 ``[S]`` node ids (repeats allowed).
        fanouts: slots drawn per node at each hop, nearest first; ``-1`` takes every slot.
        generator: CPU source of the draws (default: torch's global generator).

    Shapes:
        returns :class:`Blocks` with ``len(fanouts)`` hops.
    """
    distinct, seed_index = torch.unique(seeds, return_inverse=True)
    ids = _LocalIds(distinct, adj.shape[0])
    sizes, counts = [len(distinct)], [0]
    rows: list[Tensor] = []
    cols: list[Tensor] = []
    weights: list[Tensor] = []
    for fanout in fanouts:
        done = sizes[-2] if len(sizes) > 1 else 0  # nodes expanded by earlier hops
        r, c, w = _sample_rows(adj, ids.nodes[done:], fanout, generator)
        rows.append(r + done)
        cols.append(ids.add(c))
        weights.append(w)
        sizes.append(len(ids.nodes))
        counts.append(counts[-1] + len(r))
    row, col, val = torch.cat(rows), torch.cat(cols), torch.cat(weights)
    crow = _crow(row, sizes[-2])
    by_col = torch.argsort(col, stable=True)
    matrices = []
    for k in range(1, len(fanouts) + 1):
        n_dst, n_src, e = sizes[k - 1], sizes[k], counts[k]
        a = _csr(crow[: n_dst + 1], col[:e], val[:e], (n_dst, n_src))
        t = by_col[by_col < e]  # block k's edges in column order
        a_t = _csr(_crow(col[t], n_src), row[t], val[t], (n_src, n_dst))
        matrices.append((a, a_t))
    return Blocks(ids.nodes, sizes, seed_index, matrices, counts[1:])


def row_block(adj: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
    """The rows ``rows`` of the CSR ``adj`` as a CSR ``[R, N]`` and its transpose ``[N, R]``,
    as :func:`recommend.models.sparse.spmm` takes them: ``a @ x == (adj @ x)[rows]``.

    Shapes: adj ``[N, N]``, rows int64 ``[R]`` -> (``[R, N]``, ``[N, R]``).
    """
    n = adj.shape[1]
    row, col, val = _sample_rows(adj, rows, -1, None)
    a = _csr(_crow(row, len(rows)), col, val, (len(rows), n))
    by_col = torch.argsort(col, stable=True)
    a_t = _csr(_crow(col[by_col], n), row[by_col], val[by_col], (n, len(rows)))
    return a, a_t


def member_positions(keys: Tensor, ids: Tensor) -> tuple[Tensor, Tensor]:
    """Which of ``ids`` occur in ``keys`` (distinct): ``(positions in ids, positions in keys)``.

    Shapes: keys ``[K]``, ids ``[n]`` -> two int64 ``[m]``.
    """
    if len(keys) == 0:
        empty = torch.zeros(0, dtype=torch.long, device=ids.device)
        return empty, empty
    sorted_keys, order = torch.sort(keys)
    pos = torch.searchsorted(sorted_keys, ids).clamp_(max=len(keys) - 1)
    hit = torch.nonzero(sorted_keys[pos] == ids).flatten()
    return hit, order[pos[hit]]

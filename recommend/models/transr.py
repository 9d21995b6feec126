"""TransR (Lin et al., AAAI 2015) relation spaces: the KG loss and the attentive edge weights
π(h, r, t) of KGAT and MMKGAT (:func:`torch_geometric.utils.softmax` for the per-head
softmax)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import softmax as scatter_softmax


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
                # tanh(W_r e_h + e_r) depends on the head only: once per entity, not per edge
                parts.append((proj[tr] * torch.tanh(proj + self.rel[rel])[hr]).sum(1))
            else:  # a rare relation: project only its edges' ends
                ph, pt = ent[hr] @ W, ent[tr] @ W
                parts.append((pt * torch.tanh(ph + self.rel[rel])).sum(1))
            start += c
        logits = torch.empty(h.numel(), device=ent.device, dtype=ent.dtype)
        logits[order] = torch.cat(parts) if parts else logits[:0]
        return scatter_softmax(logits, h, num_nodes=n_entities)

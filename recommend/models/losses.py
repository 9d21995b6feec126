"""The CF losses the models share: BPR, and the full and sampled softmax of cosines (with the
options that choose between them)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recommend.metrics.ranking import csr, gather_rows
from recommend.models.base import ModelOptions, option


def bpr_loss(pos: Tensor, neg: Tensor) -> Tensor:
    """``-ln σ(pos - neg)``, averaged; ``neg`` may hold several negatives per row.

    Shapes:
        pos: ``[B]``; neg: ``[B]`` or ``[B, N]``.
    """
    if neg.dim() == 2:
        pos = pos.unsqueeze(1)
    return F.softplus(neg - pos).mean()


@dataclass(frozen=True)
class CFObjectiveOptions(ModelOptions):
    """The options of a model that trains with :func:`cf_objective`'s choice of objective."""

    cf_loss: Literal["bpr", "softmax", "sampled_softmax"] = option(
        "bpr",
        "the CF objective: BPR, the full-catalogue softmax of cosines (scores become cosines) "
        "or that softmax estimated from the batch's negatives (for large catalogues)",
    )
    tau: float = option(0.2, "temperature of the softmax objectives (> 0)")
    mask_positives: bool = option(
        False,
        "the softmax (full or sampled) leaves a user's other training items out of each row's "
        "denominator (they are not negatives): a positive is contrasted with non-items only",
    )


def cf_objective(model: str, options: CFObjectiveOptions) -> tuple[str, float]:
    """The CF objective a model's options ask for: ``(cf_loss, tau)``, validated.

    ``options.cf_loss`` is ``"bpr"`` (default), ``"softmax"`` (:func:`softmax_cf_loss`) or
    ``"sampled_softmax"`` (:func:`sampled_softmax_cf_loss`, for catalogues too large for the
    full one); models trained with either softmax score by cosine. ``options.tau`` is the
    temperature (default: 0.2).
    """
    kind, tau = str(options.cf_loss), float(options.tau)
    if kind not in CF_LOSSES:
        raise ValueError(
            f"{model}: cf_loss must be one of {', '.join(map(repr, CF_LOSSES))}, not {kind!r}"
        )
    if not tau > 0:
        raise ValueError(f"{model}: tau must be > 0, not {tau}")
    if options.mask_positives and kind == "bpr":
        raise ValueError(f"{model}: mask_positives applies to a softmax cf_loss, not to 'bpr'")
    return kind, tau


CF_LOSSES = ("bpr", "softmax", "sampled_softmax")


def inner_product_bpr(
    uv: Tensor, iv: Tensor, ego: Tensor, n_users: int,
    users: Tensor, pos: Tensor, neg: Tensor, l2: float,
) -> Tensor:  # fmt: skip
    """BPR on inner products of propagated vectors, plus the L2 term on the layer-0 embeddings
    of the batch (LightGCN's eq. 15; LUDP reuses it).

    Args:
        uv: user vectors ``[n_users, D]``; iv: item vectors ``[n_items, D]``.
        ego: the layer-0 table ``[n_users + n_items, D]``, users first.
        users, pos: ``[B]``; neg: ``[B]`` or ``[B, S]`` (S negatives per row).
        l2: weight of the L2 term, which is divided by ``2B``.
    """
    u, p, n = uv[users], iv[pos], iv[neg]
    s_pos = (u * p).sum(-1)
    s_neg = (u.unsqueeze(1) * n).sum(-1) if n.dim() == 3 else (u * n).sum(-1)
    reg = (
        ego[users].pow(2).sum() + ego[pos + n_users].pow(2).sum() + ego[neg + n_users].pow(2).sum()
    ) / (2 * users.numel())
    return bpr_loss(s_pos, s_neg) + l2 * reg


def scored_vectors(kind: str, uv: Tensor, iv: Tensor) -> tuple[Tensor, Tensor]:
    """The vectors whose inner product is the score: as they are under BPR, unit length under
    a softmax objective (which trains cosine scores)."""
    if kind != "bpr":
        uv, iv = F.normalize(uv, dim=-1), F.normalize(iv, dim=-1)
    return uv, iv


def softmax_objective(
    kind: str, users: Tensor, items: Tensor, pos: Tensor, neg: Tensor, tau: float,
    user_ids: Tensor | None = None, positives: PositiveSets | None = None,
) -> Tensor:  # fmt: skip
    """:func:`softmax_cf_loss` or :func:`sampled_softmax_cf_loss`, by ``kind`` (``user_ids``:
    the batch's user ids, which let the full softmax score each distinct user once;
    ``positives``: the users' training items, left out of the denominators; needs
    ``user_ids``)."""
    if kind == "softmax":
        sets = None if positives is None else positives.sets
        return softmax_cf_loss(users, items, pos, tau, user_ids, sets)
    held = held_negatives(positives, user_ids, neg)
    return sampled_softmax_cf_loss(users, items, pos, neg, tau, held=held)


# logits held at once by the catalogue softmax: the batch's rows are taken in chunks of about
# this many elements (8 MiB in float32), so no [B, n_items] matrix is ever allocated
_CHUNK_ELEMENTS = 1 << 21


class _CatalogueLogSumExp(torch.autograd.Function):
    """``Σ_j w_j logsumexp_n(u_j · i_n)`` over the whole catalogue, in row chunks.

    Its gradient is formed in the same pass (``w_j softmax_j`` against the items and the
    users): the softmax is at hand there, and recomputing it in backward would cost one more
    ``[B, n_items] x D`` product. Memory is ``O(chunk · n_items)`` instead of the three
    ``[B, n_items]`` matrices of ``cross_entropy`` (logits, log-softmax, one-hot gradient),
    whose first-touch page faults cost as much as the arithmetic on CPU.
    """

    @staticmethod
    def forward(
        ctx: Any, u: Tensor, items: Tensor, w: Tensor, masked: tuple[Tensor, Tensor] | None = None
    ) -> Tensor:
        grad = ctx.needs_input_grad[0] or ctx.needs_input_grad[1]
        gu = torch.empty_like(u) if grad else None
        gi = torch.zeros_like(items) if grad else None
        total = u.new_zeros(())
        step = max(1, _CHUNK_ELEMENTS // max(1, items.shape[0]))
        for s in range(0, u.shape[0], step):
            uc, wc = u[s : s + step], w[s : s + step]
            x = uc @ items.T  # [c, n_items]
            m = x.max(1, keepdim=True).values
            x.sub_(m).exp_()  # in place: x is exp(logit - max) from here on
            if masked is not None:  # (row, item) pairs left out of the sum
                x[_chunk_pairs(masked, s, step)] = 0.0
            z = x.sum(1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)
            total = total + (wc * (m + z.log()).squeeze(1)).sum()
            if gu is not None and gi is not None:
                x.mul_(wc.unsqueeze(1) / z)  # w_j softmax_j
                gu[s : s + step] = x @ items
                gi.addmm_(x.T, uc)
        ctx.save_for_backward(gu, gi)
        return total

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:
        gu, gi = ctx.saved_tensors
        return g * gu, g * gi, None, None


def first_rows(ids: Tensor) -> tuple[Tensor, Tensor]:
    """One row index per distinct value of ``ids`` (in sorted order of the values) and how
    many rows hold that value. Shapes: ids ``[B]`` -> (``[U]``, ``[U]``)."""
    uniq, inv, counts = torch.unique(ids, return_inverse=True, return_counts=True)
    first = torch.empty(len(uniq), dtype=torch.long, device=ids.device)
    first.scatter_(0, inv, torch.arange(len(ids), device=ids.device))
    return first, counts


def softmax_cf_loss(
    users: Tensor, items: Tensor, pos: Tensor, tau: float, user_ids: Tensor | None = None,
    positives: tuple[Tensor, Tensor] | None = None,
) -> Tensor:  # fmt: skip
    """Cross-entropy of the positive item against the whole catalogue (full softmax), with
    cosine scores divided by the temperature ``tau``.

    Unlike BPR, every item is a negative in every step and the hardest ones weigh most. The
    ``[B, n_items]`` logits are never held at once (:class:`_CatalogueLogSumExp` takes the
    rows in chunks and forms the gradient in the same pass), and with ``user_ids`` a user who
    appears in several rows of the batch has their log-partition computed once (a row's
    ``logsumexp`` depends on its user only): on ML-100K a batch of 2048 rows holds about 830
    users. The value is ``cross_entropy`` of the full logits either way.

    Shapes:
        users: ``[B, D]`` the batch's user vectors; items: ``[n_items, D]``; pos: ``[B]``;
        user_ids: ``[B]``, the users the rows belong to (equal ids, equal rows), or None.
        positives: every user's training items as a CSR (``PositiveSets.sets``): each row's
            denominator is then its positive and the items outside the user's set
            (``mask_positives``); needs ``user_ids``.
    """
    # 1/tau folded into the [B, D] side: one [B, n_items] pass less, forward and backward
    u = F.normalize(users, dim=-1) / tau
    it = F.normalize(items, dim=-1)
    s_pos = (u * it[pos]).sum(-1)
    b = users.shape[0]
    if positives is not None:
        if user_ids is None:
            raise ValueError("softmax_cf_loss: positives need the batch's user_ids")
        return _masked_softmax_loss(u, it, s_pos, user_ids, positives)
    if user_ids is None:
        rows, w = u, u.new_full((b,), 1.0 / b)
    else:  # one row per distinct user, weighted by how many rows it stands for
        first, counts = first_rows(user_ids)
        rows, w = u[first], counts.to(u.dtype) / b
    lse: Tensor = _CatalogueLogSumExp.apply(rows, it, w)
    return lse - s_pos.mean()


def sampled_softmax_cf_loss(
    users: Tensor, items: Tensor, pos: Tensor, neg: Tensor, tau: float,
    n_items: int | None = None, held: Tensor | None = None,
) -> Tensor:  # fmt: skip
    """:func:`softmax_cf_loss` estimated from sampled negatives, for large catalogues.

    The batch's negatives (``neg``, uniform over items) are shared by every row, so a batch of
    ``B`` rows with ``S = neg.numel()`` negatives costs ``[B, S]`` logits instead of
    ``[B, n_items]``. Each negative's logit is raised by ``log((n_items - 1) / S)``, the
    correction for uniform sampling, so that the sampled terms estimate the sum over the whole
    catalogue; a sampled negative equal to a row's positive is left out of that row. With
    every other item sampled once the loss is exactly :func:`softmax_cf_loss`.

    Shapes:
        users: ``[B, D]``; items: ``[n_items, D]``; pos: ``[B]``; neg: ``[B]`` or ``[B, N]``,
        indices into ``items``; n_items: the catalogue's size when ``items`` holds only the
        batch's items (default: ``items.shape[0]``); held: ``[B, neg.numel()]``, True where
        the negative is one of the row's user's training items (left out; ``mask_positives``).
    """
    negs = neg.reshape(-1)
    n = items.shape[0] if n_items is None else n_items
    u = F.normalize(users, dim=-1) / tau
    s_pos = (u * F.normalize(items[pos], dim=-1)).sum(-1, keepdim=True)
    s_neg = u @ F.normalize(items[negs], dim=-1).T + math.log((n - 1) / negs.numel())
    drop = negs.unsqueeze(0) == pos.unsqueeze(1)
    s_neg = s_neg.masked_fill(drop if held is None else drop | held, float("-inf"))
    return (torch.logsumexp(torch.cat([s_pos, s_neg], 1), 1) - s_pos.squeeze(1)).mean()


class PositiveSets(nn.Module):
    """Each user's training items: a CSR (:func:`recommend.metrics.ranking.csr`) and the
    sorted keys ``user * n_items + item``, held as non-persistent buffers, so that they move
    with the model and stay out of its checkpoints (they are rebuilt from the training data)."""

    indptr: Tensor
    items: Tensor
    keys: Tensor

    def __init__(self, train: np.ndarray, n_users: int, n_items: int) -> None:
        super().__init__()
        indptr, items = csr(train, n_users)
        self.n_items = n_items
        self.register_buffer("indptr", indptr, persistent=False)
        self.register_buffer("items", items, persistent=False)
        users = torch.repeat_interleave(torch.arange(n_users), indptr.diff())
        self.register_buffer("keys", users * n_items + items, persistent=False)  # ascending

    @property
    def sets(self) -> tuple[Tensor, Tensor]:
        return self.indptr, self.items

    def holds(self, users: Tensor, items: Tensor) -> Tensor:
        """Whether ``items[j]`` is a training item of ``users[i]``.
        Shapes: users ``[B]``, items ``[S]`` -> ``[B, S]`` bool."""
        keys = users.unsqueeze(1) * self.n_items + items.unsqueeze(0)
        at = torch.searchsorted(self.keys, keys).clamp_max(max(len(self.keys) - 1, 0))
        return self.keys[at] == keys if len(self.keys) else torch.zeros_like(keys, dtype=torch.bool)


def held_negatives(
    positives: PositiveSets | None, user_ids: Tensor | None, neg: Tensor
) -> Tensor | None:
    """:meth:`PositiveSets.holds` for the batch's shared negatives (``neg`` flattened), the
    ``held`` of :func:`sampled_softmax_cf_loss`; None without ``positives``."""
    if positives is None:
        return None
    if user_ids is None:
        raise ValueError("the sampled softmax's positives need the batch's user_ids")
    return positives.holds(user_ids, neg.reshape(-1))


def masked_positives(model: nn.Module, options: CFObjectiveOptions) -> PositiveSets | None:
    """The ``positives`` a model's full softmax leaves out (``options.mask_positives``), from its
    :class:`PositiveSets` submodule ``positives``; None when the option is off."""
    if not options.mask_positives:
        return None
    sets = model.get_submodule("positives")
    assert isinstance(sets, PositiveSets)
    return sets


def _chunk_pairs(masked: tuple[Tensor, Tensor], s: int, step: int) -> tuple[Tensor, Tensor]:
    """The (row, item) pairs of ``masked`` (rows ascending) in rows ``s .. s + step - 1``, as
    an index into that chunk's ``[step, n_items]`` logits."""
    rows, cols = masked
    lo, hi = torch.searchsorted(rows, torch.tensor([s, s + step], device=rows.device)).tolist()
    return rows[lo:hi] - s, cols[lo:hi]


@torch.no_grad()
def _masked_logsumexp(rows: Tensor, items: Tensor, masked: tuple[Tensor, Tensor]) -> Tensor:
    """``logsumexp`` of each row's logits against the items not masked for it (``-inf`` where
    none is left), in row chunks. Shapes: rows ``[U, D]``, items ``[n_items, D]`` -> ``[U]``."""
    out = rows.new_empty(rows.shape[0])
    step = max(1, _CHUNK_ELEMENTS // max(1, items.shape[0]))
    for s in range(0, rows.shape[0], step):
        x = rows[s : s + step] @ items.T
        x[_chunk_pairs(masked, s, step)] = float("-inf")
        out[s : s + step] = torch.logsumexp(x, 1)
    return out


def _masked_softmax_loss(
    u: Tensor, it: Tensor, s_pos: Tensor, user_ids: Tensor, positives: tuple[Tensor, Tensor]
) -> Tensor:
    """:func:`softmax_cf_loss` with each row's denominator its positive plus the user's
    non-items: ``mean_r [logaddexp(L_j(r), s_r) - s_r]``, ``L_j`` the log-sum over the items
    outside user ``j``'s set, computed once per distinct user. ``L`` is found first without
    gradient; its gradient, ``Σ_r σ(L_j - s_r) ∂L_j``, then flows through
    :class:`_CatalogueLogSumExp` weighted by those sigmoids, and the detached correction
    makes the value exact."""
    first, _ = first_rows(user_ids)
    uniq = user_ids[first]  # ascending
    inv = torch.searchsorted(uniq, user_ids)
    rows = u[first]
    masked = gather_rows(*positives, uniq)
    lse = _masked_logsumexp(rows.detach(), it.detach(), masked)[inv]  # [B], no gradient
    p_neg = torch.sigmoid(lse - s_pos.detach())  # ∂ logaddexp(L, s) / ∂L
    b = u.shape[0]
    w = torch.zeros(len(uniq), dtype=u.dtype, device=u.device).index_add_(0, inv, p_neg) / b
    finite = torch.where(torch.isfinite(lse), lse, torch.zeros_like(lse))
    total: Tensor = _CatalogueLogSumExp.apply(rows, it, w, masked)
    return total + (torch.logaddexp(lse, s_pos) - p_neg * finite - s_pos).mean()

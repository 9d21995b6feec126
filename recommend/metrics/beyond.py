"""Beyond accuracy: what the top-K lists recommend, whatever the targets.

One small class per measure. A :class:`ListMetric` gives each user's value from that user's
list (the :class:`~recommend.metrics.Evaluator` averages them over the users that have one);
a :class:`CatalogueMetric` gives one value from how often each item of the catalogue was
recommended over all lists. With ``L_u`` the top-K list of user ``u`` (the items that are
candidates: an excluded item never counts, even where fewer than K remain), ``pop_i`` the
number of training interactions of item ``i`` (one per user: training pairs are unique),
``n_users`` all users and ``n_items`` the catalogue:

* ``novelty@K`` (:class:`Novelty`): ``mean_{i in L_u} -log2(max(pop_i, 1) / n_users)``, the
  mean self-information of the recommended items (Zhou et al., PNAS 2010); an item nobody
  trained on counts as one interaction, so its novelty is the largest finite one,
  ``log2(n_users)``.
* ``arp@K`` (:class:`AveragePopularity`): ``mean_{i in L_u} pop_i`` (Abdollahpouri et al.,
  2019).
* ``ild@K`` (:class:`IntraListDiversity`): the mean over pairs ``i < j`` of ``L_u`` of the
  cosine distance ``1 - |A_i & A_j| / sqrt(|A_i| |A_j|)`` between the items' KG attribute sets
  (:func:`item_attributes`); only items with attributes take part, and a list with fewer than
  two of them has no value.
* ``coverage@K`` (:class:`Coverage`): ``|union_u L_u| / n_items``.
* ``gini@K`` (:class:`Gini`): the Gini index of the recommendation counts ``c_i`` of all
  ``n_items`` items (zero counts included), sorted ascending:
  ``sum_{r=1..n} (2r - n - 1) c_(r) / (n * sum_i c_i)``; 0 when every item is recommended
  equally often, ``(n - 1) / n`` when a single item takes every slot.

Everything is a batch of torch operations: no Python loop over users or items.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from torch import Tensor

from recommend.metrics.ranking import MAX_BATCH_CELLS, csr, gather_rows

if TYPE_CHECKING:
    from recommend.data import KGTriples


@dataclass
class TopLists:
    """The top-K lists of one batch of users.

    Attributes:
        items: int64 ``[B, K]``, each row ranked best first.
        valid: bool ``[B, K]``, the item is a candidate (``False`` for the excluded items
            ``topk`` had to return for a user with fewer than K candidates).
    """

    items: Tensor
    valid: Tensor


class ListMetric:
    """A per-user measure of the list alone; ``name`` is the metric's name before ``@K``.

    Subclasses name their tensors in ``tensors`` so :meth:`to` can move them.
    """

    name: ClassVar[str]
    tensors: ClassVar[tuple[str, ...]] = ()

    def __call__(self, lists: TopLists) -> Tensor:
        """float64 ``[B]``, NaN for a user whose list gives no value."""
        raise NotImplementedError

    def to(self, device: torch.device) -> None:
        for name in self.tensors:
            setattr(self, name, getattr(self, name).to(device))


def _list_mean(values: Tensor, lists: TopLists) -> Tensor:
    """Mean of per-item ``values`` over each list's candidates (NaN for an empty list)."""
    v = values[lists.items] * lists.valid
    return v.sum(1) / lists.valid.sum(1).to(torch.float64)


class Novelty(ListMetric):
    """``novelty@K``: mean self-information ``-log2(max(pop_i, 1) / n_users)`` of the list.

    Args:
        popularity: int64 ``[n_items]`` training interactions per item.
        n_users: all users of the data.
    """

    name = "novelty"
    tensors = ("info",)

    def __init__(self, popularity: Tensor, n_users: int) -> None:
        pop = popularity.to(torch.float64).clamp(min=1.0)
        self.info = -torch.log2(pop / max(n_users, 1))

    def __call__(self, lists: TopLists) -> Tensor:
        return _list_mean(self.info, lists)


class AveragePopularity(ListMetric):
    """``arp@K``: mean training interactions ``pop_i`` of the list's items."""

    name = "arp"
    tensors = ("pop",)

    def __init__(self, popularity: Tensor) -> None:
        self.pop = popularity.to(torch.float64)

    def __call__(self, lists: TopLists) -> Tensor:
        return _list_mean(self.pop, lists)


def item_attributes(kg: KGTriples, n_items: int) -> np.ndarray:
    """``(item, attribute entity)`` pairs: every direct neighbour of an item in the item KG.

    A triple with an item (an anchor, id ``< n_items``) at one end gives its other end as an
    attribute of that item, in either direction and whatever the relation. Not attributes:
    other items (item-item edges such as ``SIMILAR_*`` are derived from the features) and the
    modality entities (those with ``entity_features``: one private node per item and modality).

    Returns:
        int64 ``[P, 2]``, unique, sorted.
    """
    h = np.asarray(kg.heads, np.int64)
    t = np.asarray(kg.tails, np.int64)
    pairs = np.concatenate([np.stack([h, t], 1), np.stack([t, h], 1)])
    keep = (pairs[:, 0] < n_items) & (pairs[:, 1] >= n_items)
    pairs = pairs[keep]
    modal = [np.asarray(ids, np.int64) for ids, _ in kg.entity_features.values()]
    if modal:
        pairs = pairs[~np.isin(pairs[:, 1], np.concatenate(modal))]
    return np.unique(pairs, axis=0) if len(pairs) else np.zeros((0, 2), np.int64)


class IntraListDiversity(ListMetric):
    """``ild@K``: mean pairwise cosine distance of the list's KG attribute sets.

    With unit rows ``a_i = A_i / sqrt(|A_i|)`` the similarities of all pairs of a list sum to
    ``(||sum_i a_i||^2 - m) / 2`` (``m`` items with attributes, each ``||a_i||^2 = 1``), so a
    batch costs one sparse sum over its ``B * K * attributes`` entries, not ``K^2`` pairs.

    Args:
        attributes: int64 ``[P, 2]`` (item, attribute) pairs (:func:`item_attributes`).
        n_items: the catalogue size.
        dense_cells: sum the rows in a dense ``[B, n_attributes]`` matrix while it has at
            most this many cells (default: 16M), else over the sorted (user, attribute) keys.
    """

    name = "ild"
    tensors = ("ptr", "idx", "weight", "has")

    def __init__(
        self, attributes: np.ndarray, n_items: int, dense_cells: int = MAX_BATCH_CELLS
    ) -> None:
        self.dense_cells = dense_cells
        pairs = np.asarray(attributes, np.int64).reshape(-1, 2)
        if len(pairs) and (pairs[:, 0].min() < 0 or pairs[:, 0].max() >= n_items):
            raise ValueError(f"attribute pairs name items outside 0..{n_items - 1}")
        # attributes renumbered 0..n_attr-1 (entity ids start after the items)
        _, compact = np.unique(pairs[:, 1], return_inverse=True)
        pairs = np.stack([pairs[:, 0], compact.reshape(-1)], 1)
        self.ptr, self.idx = csr(pairs, n_items)
        deg = (self.ptr[1:] - self.ptr[:-1]).to(torch.float64)
        self.weight = torch.where(deg > 0, deg.clamp(min=1.0).rsqrt(), torch.zeros_like(deg))
        self.has = deg > 0
        self.n_attr = int(pairs[:, 1].max()) + 1 if len(pairs) else 1

    def __call__(self, lists: TopLists) -> Tensor:
        b, k = lists.items.shape
        dev = lists.items.device
        valid = lists.valid.flatten()
        items = lists.items.flatten()[valid]
        row = torch.arange(b, device=dev).repeat_interleave(k)[valid]
        local, attr = gather_rows(self.ptr, self.idx, items)
        user, w = row[local], self.weight[items][local]
        sq = torch.zeros(b, dtype=torch.float64, device=dev)
        if b * self.n_attr <= self.dense_cells:  # the sum of each user's unit rows
            rows = torch.zeros(b * self.n_attr, dtype=torch.float64, device=dev)
            rows.index_add_(0, user * self.n_attr + attr, w)
            sq = rows.view(b, self.n_attr).square().sum(1)
        else:  # the same, as (user, attribute) -> value over the keys that occur
            key, inverse = torch.unique(user * self.n_attr + attr, return_inverse=True)
            summed = torch.zeros(len(key), dtype=torch.float64, device=dev)
            summed.index_add_(0, inverse, w)
            sq.index_add_(0, torch.div(key, self.n_attr, rounding_mode="floor"), summed.square())
        m = torch.zeros(b, dtype=torch.float64, device=dev)
        m.index_add_(0, row, self.has[items].to(torch.float64))
        pairs2 = m * (m - 1)  # twice the number of pairs
        ild = 1.0 - (sq - m) / pairs2
        ild = ild.clamp(0.0, 1.0)  # rounding: identical sets may give -1e-16
        return torch.where(pairs2 > 0, ild, torch.full_like(ild, math.nan))


class CatalogueMetric:
    """A measure of the recommendation counts of the whole catalogue (one value, no user's)."""

    name: ClassVar[str]

    def __call__(self, counts: Tensor) -> float:
        """``counts``: int64 ``[n_items]``, how many lists hold each item."""
        raise NotImplementedError


class Coverage(CatalogueMetric):
    """``coverage@K``: the share of the catalogue in at least one list."""

    name = "coverage"

    def __call__(self, counts: Tensor) -> float:
        return float((counts > 0).sum()) / max(len(counts), 1)


class Gini(CatalogueMetric):
    """``gini@K``: the Gini index of the recommendation counts (0 = all items equally)."""

    name = "gini"

    def __call__(self, counts: Tensor) -> float:
        c = torch.sort(counts.to(torch.float64)).values
        n, total = len(c), float(c.sum())
        if n == 0 or total == 0:
            return math.nan
        r = torch.arange(1, n + 1, dtype=torch.float64, device=c.device)
        return float(((2 * r - n - 1) * c).sum()) / (n * total)


def list_metrics(
    popularity: Tensor, n_users: int, attributes: np.ndarray | None, n_items: int
) -> list[ListMetric]:
    """The per-user beyond-accuracy measures (ILD only where items have attributes)."""
    out: list[ListMetric] = [Novelty(popularity, n_users), AveragePopularity(popularity)]
    if attributes is not None and len(attributes):
        out.append(IntraListDiversity(attributes, n_items))
    return out


CATALOGUE_METRICS: tuple[CatalogueMetric, ...] = (Coverage(), Gini())

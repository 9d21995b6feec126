"""MGNN: the multimodal graph neural network recommender of seed paper 002 (a multi-hop
multimodal neighbourhood around each user's clicked videos, per-type encoders, fusion by
concatenation and projection, recall then ranking)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from kgrec.schema import ACOUSTIC, VISUAL
from recommend.data import RecData
from recommend.media import AudioCNN, ClipCNN3D, ItemMedia, PosterCNN, load_item_media
from recommend.models.base import ModelConfig, ModelOptions, Recommender, option, register
from recommend.models.losses import bpr_loss
from recommend.models.search import Choice, shared
from recommend.models.sparse import spmm

_MEDIA_FIELD = {"poster": "posters", "audio": "audio", "clip": "clips"}


@dataclass(frozen=True)
class MGNNOptions(ModelOptions):
    """MGNN's options (``ModelConfig.extra``)."""

    related: Literal["attribute", "click", "both"] = option(
        "both",
        "which videos count as related to a video (the ripple's next circle): those sharing an "
        "attribute node, those clicked by the same users, or both, averaged",
        search=Choice(["attribute", "click", "both"]),
    )
    candidates: int = option(
        100,
        "size of the recall stage; its candidates are re-scored by the ranking stage "
        "(0: recall scores only)",
        search=Choice([0, 50, 100, 200]),
    )
    media_dir: str | None = option(
        None,
        "a raw-media folder (docs/rawmedia_format.md): items with media files there are "
        "encoded by the CNNs from their files instead of a dense layer on their features",
    )


def _csr(rows: Tensor, cols: Tensor, vals: Tensor, shape: tuple[int, int]) -> Tensor:
    """A CSR ``[shape]`` matrix (duplicates summed)."""
    coo = torch.sparse_coo_tensor(torch.stack([rows, cols]), vals, shape, check_invariants=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "CSR support is in beta"
        return coo.coalesce().to_sparse_csr()


def _mean_op(rows: Tensor, cols: Tensor, n_rows: int, n_cols: int) -> tuple[Tensor, Tensor]:
    """The row-mean operator of a 0/1 incidence (``M @ X`` averages ``X[cols]`` per row; rows
    without entries give zeros) and its transpose (for the backward pass of :func:`spmm`).

    Shapes:
        rows, cols: ``[E]`` (unique pairs); returns CSR ``[n_rows, n_cols]`` and its transpose.
    """
    deg = torch.bincount(rows, minlength=n_rows).float().clamp(min=1)
    vals = 1.0 / deg[rows]
    return _csr(rows, cols, vals, (n_rows, n_cols)), _csr(cols, rows, vals, (n_cols, n_rows))


@register
class MGNN(Recommender):
    """Multimodal graph neural network over the ripple of each user's clicked videos.

    Paper 002, Sec. 2. **Multimodal feature coding**: each video ``i`` is described by the nodes
    around it, each encoded by a per-type encoder: its own ID embedding (eq 3, ``Em(item)``),
    its attribute nodes (genre, tag, person, decade, ...: an embedding per node, averaged; eq 1),
    and its multimodal nodes (eq 2): a dense layer on the precomputed feature vector of each
    modality of ``item_features`` (Visual/Acoustic/Textual), or, for videos with media files
    under ``extra["media_dir"]``, the CNN encoders of :mod:`recommend.media` (poster CNN plus
    clip 3D CNN for Visual, log-mel + CNN for Acoustic), trained end to end. The parts are
    **fused by concatenation and a projection**:
    ``z_i = W_f [Em(i); mean Em(attr); enc_1(i); …; enc_M(i)]``.

    **Ripple** (Sec. 2.1): hop 0 is the set of the user's clicked (training) videos; hop
    ``k`` spreads one circle further, to the videos related to hop ``k-1``'s videos (sharing an
    attribute node and/or clicked by the same users, ``extra["related"]``), as a weighted
    multiset: ``h^0 = z``, ``h^k = R h^{k-1}`` with ``R`` the row-normalised related-video
    operator, and the user's hop-``k`` summary ``o_u^k`` is the mean of ``h^k`` over the
    clicked videos. The user vector fuses the user's own embedding and the ``K+1`` hop
    summaries the same way: ``u = W_u [Em(u); o_u^0; …; o_u^K]``, ``K = config.layers``.

    **Recall and ranking** (Fig. 3): the recall score is the inner product ``u·z_i`` over all
    items; the top ``extra["candidates"]`` not yet clicked are re-scored by the ranking stage,
    ``u·z_i + MLP([u; z_i; u⊙z_i])`` (its last layer starts at zero, so ranking starts as
    recall), and placed above the other items in that order. Both stages train on each batch:
    ``BPR(recall) + BPR(ranking) + λ‖Θ‖²`` on the batch's ID embeddings.

    Every step encodes every item (the ripple needs all of them), so with ``media_dir`` the
    CNNs run over all media items per step: meant for catalogues of some thousands of videos;
    beyond that, train on the descriptors the raw-media ingest stores (the dense-layer path).

    Args:
        data: training data (``train``, ``item_kg`` for the attribute nodes, ``item_features``
            for the precomputed multimodal features).
        config: ``dim`` (default: 64; the paper uses 1024), ``layers`` = ``K`` hops (default:
            3), ``dropout`` (default: 0.1, on the fused item and user vectors), ``l2``
            (default: 1e-4), ``extra["related"]`` (default: ``"both"``; ``"attribute"``,
            ``"click"``), ``extra["candidates"]`` (default: 100; 0 turns ranking off),
            ``extra["media_dir"]`` (default: None).
        media: media tensors to use instead of loading ``extra["media_dir"]`` (default: None).

    Shapes:
        users, pos: ``[B]``; neg: ``[B]`` or ``[B, N]``; score_all(users): ``[B, n_items]``;
        item_vectors(): ``[n_items, dim]``; user_vectors(): ``[n_users, dim]``.
    """

    name = "mgnn"
    options_type = MGNNOptions
    search_space = shared("lr", "l2", "layers", "dropout")
    options: MGNNOptions
    attr_idx: Tensor
    item_attr: Tensor
    item_attr_t: Tensor
    attr_item: Tensor
    attr_item_t: Tensor
    click: Tensor
    click_t: Tensor
    clicked_by: Tensor
    clicked_by_t: Tensor

    def __init__(self, data: RecData, config: ModelConfig, media: ItemMedia | None = None) -> None:
        super().__init__(data, config)
        opts = self.options
        self.related = opts.related
        self.candidates = opts.candidates
        self.hops = config.layers
        d = config.dim

        self.item_emb = nn.Embedding(self.n_items, d)
        self.user_emb = nn.Embedding(self.n_users, d)
        nn.init.normal_(self.item_emb.weight, std=0.1)
        nn.init.normal_(self.user_emb.weight, std=0.1)

        # attribute nodes: item-KG entities that are neither items nor multimodal nodes
        kg = data.item_kg
        modal = np.zeros(kg.n_entities, bool)
        for ids, _ in kg.entity_features.values():
            modal[np.asarray(ids, np.int64)] = True
        heads, tails = np.asarray(kg.heads, np.int64), np.asarray(kg.tails, np.int64)
        keep = (heads < self.n_items) & (tails >= self.n_items) & ~modal[tails]
        pairs = np.unique(np.stack([heads[keep], tails[keep]], 1), axis=0).reshape(-1, 2)
        attr_ids, attr_col = np.unique(pairs[:, 1], return_inverse=True)
        self.n_attrs = len(attr_ids)
        self.register_buffer("attr_idx", torch.as_tensor(attr_ids))  # entity id of each column
        self.attr_emb = nn.Embedding(max(self.n_attrs, 1), d)
        nn.init.normal_(self.attr_emb.weight, std=0.1)
        it = torch.as_tensor(pairs[:, 0])
        at = torch.as_tensor(attr_col.reshape(-1).astype(np.int64))
        self._set_ops(data.train, it, at)

        # multimodal nodes: one dense layer per precomputed modality, CNNs for media files
        media_dir = opts.media_dir
        if media is None and media_dir:
            media = load_item_media(str(media_dir), [str(k) for k in data.item_ids])
        self.modal_labels = sorted(data.item_features)
        if media is not None:
            if len(media.poster_items) or len(media.clip_items):
                self.modal_labels = sorted({*self.modal_labels, VISUAL})
            if len(media.audio_items):
                self.modal_labels = sorted({*self.modal_labels, ACOUSTIC})
        self.dense = nn.ModuleDict()
        for k, label in enumerate(self.modal_labels):
            if label in data.item_features:
                x = torch.as_tensor(np.asarray(data.item_features[label], np.float32))
                self.register_buffer(f"x{k}", x)
                self.dense[label] = nn.Linear(x.shape[1], d)
        self.cnn = nn.ModuleDict()
        if media is not None:
            for key, items, enc in (
                ("poster", media.poster_items, PosterCNN),
                ("audio", media.audio_items, AudioCNN),
                ("clip", media.clip_items, ClipCNN3D),
            ):
                if len(items):
                    self.cnn[key] = enc(d)
                    # read again from media_dir when a run is loaded: not in checkpoints
                    self.register_buffer(f"{key}_items", items, persistent=False)
                    data_ = getattr(media, _MEDIA_FIELD[key])
                    self.register_buffer(f"{key}_data", data_, persistent=False)

        self.fuse_item = nn.Linear((2 + len(self.modal_labels)) * d, d)
        self.fuse_user = nn.Linear((2 + self.hops) * d, d)
        last = nn.Linear(d, 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.ranker = nn.Sequential(nn.Linear(3 * d, d), nn.ReLU(), last)
        self.drop = nn.Dropout(config.dropout)

    def _set_ops(self, train: np.ndarray, item_of_attr: Tensor, attr_col: Tensor) -> None:
        """The sparse operators (not learned, rebuilt from the data; so not in checkpoints)."""
        n_a = max(self.n_attrs, 1)
        tr = torch.as_tensor(np.asarray(train, np.int64).reshape(-1, 2))
        ops = {
            "item_attr": _mean_op(item_of_attr, attr_col, self.n_items, n_a),
            "attr_item": _mean_op(attr_col, item_of_attr, n_a, self.n_items),
            "click": _mean_op(tr[:, 0], tr[:, 1], self.n_users, self.n_items),
            "clicked_by": _mean_op(tr[:, 1], tr[:, 0], self.n_items, self.n_users),
        }
        for name, (a, a_t) in ops.items():
            self.register_buffer(name, a, persistent=False)
            self.register_buffer(f"{name}_t", a_t, persistent=False)

    # --- encoders --------------------------------------------------------------------------
    def modality_vectors(self) -> list[Tensor]:
        """One ``[n_items, dim]`` encoding per modality of :attr:`modal_labels`: the dense layer
        on the precomputed features, replaced by the CNN output(s) for items with media."""
        out = []
        d = self.config.dim
        for k, label in enumerate(self.modal_labels):
            if label in self.dense:
                v = self.dense[label](getattr(self, f"x{k}"))
            else:
                v = self.item_emb.weight.new_zeros(self.n_items, d)
            parts = {VISUAL: ("poster", "clip"), ACOUSTIC: ("audio",)}.get(label, ())
            from_media = [p for p in parts if p in self.cnn]
            if from_media:
                acc = torch.zeros_like(v)
                has = torch.zeros(self.n_items, dtype=torch.bool, device=v.device)
                for p in from_media:  # eq 2 sums the encoders of a video's media
                    items = getattr(self, f"{p}_items")
                    acc = acc.index_add(0, items, self.cnn[p](getattr(self, f"{p}_data")))
                    has[items] = True
                v = torch.where(has.unsqueeze(1), acc, v)
            out.append(v)
        return out

    def item_vectors(self) -> Tensor:
        """``z = W_f [Em(i); mean Em(attr); enc_m(i) …]``. Shapes: ``[n_items, dim]``."""
        ids = self.item_emb.weight
        attrs = spmm(self.item_attr, self.item_attr_t, self.attr_emb.weight)
        return self.fuse_item(torch.cat([ids, attrs, *self.modality_vectors()], dim=1))

    def related_videos(self, h: Tensor) -> Tensor:
        """One ripple step: each video's mean over its related videos. Shapes: ``[n_items, d]``."""
        parts = []
        if self.related in ("attribute", "both"):
            by_attr = spmm(self.attr_item, self.attr_item_t, h)
            parts.append(spmm(self.item_attr, self.item_attr_t, by_attr))
        if self.related in ("click", "both"):
            by_user = spmm(self.click, self.click_t, h)
            parts.append(spmm(self.clicked_by, self.clicked_by_t, by_user))
        return parts[0] if len(parts) == 1 else (parts[0] + parts[1]) / 2

    def propagate(self) -> tuple[Tensor, Tensor]:
        """User and item vectors. Shapes: ``([n_users, dim], [n_items, dim])``."""
        z = self.drop(self.item_vectors())
        hops = [spmm(self.click, self.click_t, z)]
        h = z
        for _ in range(self.hops):
            h = self.related_videos(h)
            hops.append(spmm(self.click, self.click_t, h))
        u = self.fuse_user(torch.cat([self.user_emb.weight, *hops], dim=1))
        return self.drop(u), z

    def user_vectors(self) -> Tensor:
        return self.propagate()[0]

    # --- scores ----------------------------------------------------------------------------
    def rank_scores(self, u: Tensor, z: Tensor) -> Tensor:
        """Ranking stage: ``u·z + MLP([u; z; u⊙z])``. Shapes: ``[..., d]`` -> ``[...]``."""
        u = u.expand_as(z)
        return (u * z).sum(-1) + self.ranker(torch.cat([u, z, u * z], dim=-1)).squeeze(-1)

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        self.forget_scoring()
        uv, iv = self.propagate()
        u, p, n = uv[users], iv[pos], iv[neg]
        un = u.unsqueeze(1) if n.dim() == 3 else u
        recall = bpr_loss((u * p).sum(-1), (un * n).sum(-1))
        ranking = bpr_loss(self.rank_scores(u, p), self.rank_scores(un, n))
        reg = (
            self.user_emb.weight[users].pow(2).sum()
            + self.item_emb.weight[pos].pow(2).sum()
            + self.item_emb.weight[neg].pow(2).sum()
        ) / (2 * users.numel())
        return recall + ranking + self.config.l2 * reg

    def score_all(self, users: Tensor) -> Tensor:
        """Recall over all items, then the ranking stage on the top candidates.

        Candidates are the ``candidates`` best recall scores among the items the user has not
        clicked in training; they get their ranking scores and the other items their recall
        scores shifted below the lowest of those, so candidates rank first, in ranking order.
        """
        uv, iv = self.cached_representation()
        u = uv[users]
        s = u @ iv.T
        c = min(self.candidates, self.n_items)
        if c <= 0:
            return s
        top = self._unclicked(users, s).topk(c, dim=1).indices
        r = self.rank_scores(u.unsqueeze(1), iv[top])
        shift = s.max(dim=1, keepdim=True).values - r.min(dim=1, keepdim=True).values + 1.0
        return (s - shift).scatter(1, top, r)

    def _unclicked(self, users: Tensor, s: Tensor) -> Tensor:
        """``s`` with each user's training clicks set to ``-inf`` (read from the CSR rows)."""
        crow, col = self.click.crow_indices(), self.click.col_indices()
        start, count = crow[users], crow[users + 1] - crow[users]
        rows = torch.repeat_interleave(torch.arange(len(users), device=s.device), count)
        offset = torch.arange(int(count.sum()), device=s.device) - torch.repeat_interleave(
            torch.cumsum(count, 0) - count, count
        )
        cols = col[torch.repeat_interleave(start, count) + offset]
        return s.index_put((rows, cols), torch.tensor(-torch.inf, device=s.device))

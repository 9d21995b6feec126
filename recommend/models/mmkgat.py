"""MMKGAT: the hybrid multimodal KG attention recommender of seed paper 000 (user-side and
item-side collaborative KGs, fine-grained interaction relations, multimodal entities, layer
attention)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from recommend.data import RecData
from recommend.models import neighbours as nb
from recommend.models.base import ModelConfig, Recommender, register
from recommend.models.encoder import CKGEncoder, LayerAttention, Trace
from recommend.models.graph import collab_graph
from recommend.models.losses import (
    PositiveSets,
    bpr_loss,
    cf_objective,
    first_rows,
    held_negatives,
    masked_positives,
    sampled_softmax_cf_loss,
    scored_vectors,
    softmax_objective,
)
from recommend.models.mmkgat_options import (
    MMKGATOptions,
    modal_rows,
    side_graph,
    without_modal,
    without_triples,
)
from recommend.models.search import shared
from recommend.models.simgcl import info_nce


@register
class MMKGAT(Recommender):
    """Multimodal KG attention network with a user-side and an item-side collaborative KG.

    Paper 000, Sec. 3: the user-side graph ``G_u`` joins users, their attributes and the items
    they interacted with (eq 8); the item-side graph ``G_i`` joins items, their attribute and
    multimodal entities and the users who interacted with them (eq 9). Every fine-grained
    interaction kind (``train_kinds_all``, e.g. RATED_1..RATED_5, LIKED, FINISHED) is its own
    relation (the paper's composite relation), so TransR and the attention can tell them apart.
    A multimodal entity's layer-0 embedding is a learned linear projection of its feature vector
    (``entity_features``). Each graph is encoded by TransR (eq 10, :meth:`kg_loss`), propagated
    with the attention π(h, r, t) of eqs (11)–(13) and aggregated by bi-interaction (eq 14);
    the per-layer states are fused by a learned per-node attention over layers (so the shallow
    layers take part), the two graphs' user vectors and item vectors are concatenated, and the
    score is their inner product (eq 16). Loss: ``L_KGu + L_KGi + L_CF + λ‖Θ‖²`` (eq 17), the KG
    terms through the trainer's KG pass.

    Args:
        data: training data (``train_kinds_all``, ``user_kg``, ``item_kg``).
        config: ``dim`` (default: 64, per graph; the score uses the two graphs' vectors
            concatenated), ``layers`` (default: 3, the paper's best), ``dropout`` (default: 0.1),
            ``l2`` (default: 1e-4, λ on the batch's layer-0 embeddings), ``kg_l2`` (default:
            1e-5), ``extra``: :class:`MMKGATOptions` (each option's default and meaning are
            its fields'; among them the layer fusion, the CF objective and its temperature,
            the sampler, where multimodal features enter, and the contrastive terms:
            ``cl_weight`` for :meth:`graph_contrast`, ``noise`` for SimGCL's perturbation,
            ``xcl_weight`` for XSimGCL's cross-layer InfoNCE, :meth:`contrasts`).

    Shapes:
        users, pos: ``[B]``; neg: ``[B]`` or ``[B, N]``; score_all(users): ``[B, n_items]``;
        kg_graphs(): ``{"user": [3, T_u], "item": [3, T_i]}`` in each graph's entity space.
    Training defaults (:attr:`defaults`, from ML-100K development runs): Adam lr 5e-3,
    early-stopping patience 20, dropout 0.2, ``degree_norm``, the softmax CF objective at
    temperature 0.2 (``extra["cf_loss"]``, ``extra["tau"]``: cross-entropy of cosines over the
    whole catalogue instead of eq 15's BPR) and ``transr_on="kg"``; what was tried without
    gain: benchmarks/results/tuning_notes.md. Also in :attr:`defaults`: the user-side graph
    without the users' attributes (``extra["user_attributes"]`` False: on ML-100K they add no
    accuracy, and a model that leans on a gender shared by 670 users explains itself through
    it), so ``G_u`` holds users and their items.
    """

    name = "mmkgat"
    # why these defaults: benchmarks/results/tuning_notes.md
    defaults: ClassVar[dict[str, Any]] = {
        "lr": 5e-3,
        "dropout": 0.2,
        "patience": 20,
        "extra": {
            "degree_norm": True,
            "cf_loss": "softmax",
            "tau": 0.2,
            "transr_on": "kg",
            "user_attributes": False,
        },
    }
    path_weights = "embedding"  # when the attention is missing
    options_type = MMKGATOptions
    search_space = shared("lr", "l2", "layers", "dropout")
    options: MMKGATOptions

    def __init__(self, data: RecData, config: ModelConfig) -> None:
        super().__init__(data, config)
        opts = self.options
        self.fusion, self.normalize = opts.fusion, opts.normalize
        self.reg = opts.reg
        self.transr_on = opts.transr_on
        self.cf_objective, self.tau = cf_objective(self.name, opts)
        opts.check(self.name, config.layers)
        if self.cf_objective == "softmax" and self.n_items > opts.full_softmax_items:
            self.cf_objective = "sampled_softmax"  # the full one costs [B, n_items] a step
        self.fanouts = nb.layer_fanouts(opts.fanout, config.layers, self.name)
        if opts.sampler == "neighbour" and self.cf_objective == "softmax":
            self.cf_objective = "sampled_softmax"  # the full one needs every item's vector
        dim, n_kinds = config.dim, len(data.kind_names)
        enc_opts: dict[str, Any] = {"degree_norm": opts.degree_norm, "aggregator": opts.aggregator,
                                    "noise": opts.noise}  # fmt: skip
        inter = np.asarray(data.train_kinds_all, dtype=np.int64)

        user_kg = data.user_kg if opts.user_attributes else without_triples(data.user_kg)
        parts, n_ent_u, n_rel_u = side_graph(user_kg, self.n_users, self.n_items, inter, 0, n_kinds)
        self.item_offset_u = data.user_kg.n_entities  # items in G_u
        self.n_kg_rel_u, self.n_kg_rel_i = data.user_kg.n_relations, data.item_kg.n_relations
        self.n_rel_fwd = {"user": n_rel_u}
        self.enc_u = CKGEncoder(
            collab_graph(parts, n_ent_u, n_rel_u), dim, config.layers, config.dropout, **enc_opts
        )
        self.modalities = opts.modalities
        item_kg = data.item_kg if self.modalities == "nodes" else without_modal(data.item_kg)
        parts, n_ent_i, n_rel_i = side_graph(item_kg, self.n_items, self.n_users, inter, 1, n_kinds)
        self.user_offset_i = data.item_kg.n_entities  # users in G_i
        self.n_rel_fwd["item"] = n_rel_i
        plain = torch.zeros(n_ent_i, dtype=torch.bool)
        if opts.modal_degree == "plain":
            for ids, _ in item_kg.entity_features.values():
                plain[torch.as_tensor(np.asarray(ids, np.int64))] = True
        self.enc_i = CKGEncoder(
            collab_graph(parts, n_ent_i, n_rel_i), dim, config.layers, config.dropout,
            plain=plain, **enc_opts,
        )  # fmt: skip

        if opts.mask_positives:
            self.positives = PositiveSets(data.train, self.n_users, self.n_items)
        self.emb_u = nn.Embedding(n_ent_u, dim)
        self.emb_i = nn.Embedding(n_ent_i, dim)
        nn.init.xavier_uniform_(self.emb_u.weight)
        nn.init.xavier_uniform_(self.emb_i.weight)

        # multimodal entities ("nodes"): layer-0 embedding = Linear(feature), their table rows
        # unused; "items": each item's layer-0 embedding plus Linear(its feature vector)
        self.modal = nn.ModuleDict()
        self.modal_labels: list[str] = []
        for label, (ids, feats) in modal_rows(data, self.modalities).items():
            key = f"m{len(self.modal_labels)}"
            self.modal[key] = nn.Linear(feats.shape[1], dim)
            self.register_buffer(f"{key}_ids", torch.as_tensor(np.asarray(ids, np.int64)))
            self.register_buffer(f"{key}_x", torch.as_tensor(np.asarray(feats, np.float32)))
            self.modal_labels.append(label)

        if self.fusion == "attention":
            self.att_u = LayerAttention(dim)
            self.att_i = LayerAttention(dim)
        self.refresh()

    # --- layer 0 ---------------------------------------------------------------------------
    def ego_u(self) -> Tensor:
        """Layer-0 embeddings of ``G_u``. Shapes: ``[N_u, dim]``."""
        return self.emb_u.weight

    def ego_i(self) -> Tensor:
        """Layer-0 embeddings of ``G_i``, multimodal rows projected from their features.
        Shapes: ``[N_i, dim]``."""
        ego = self.emb_i.weight
        add = self.modalities == "items"  # else the modal entities' own rows are replaced
        for k in range(len(self.modal_labels)):
            key = f"m{k}"
            ids, x = getattr(self, f"{key}_ids"), getattr(self, f"{key}_x")
            ego = ego.index_put((ids,), self.modal[key](x), accumulate=add)
        return ego

    # --- propagation -----------------------------------------------------------------------
    def _fuse(self, states: Tensor, graph: int) -> Tensor:
        """One graph's (0: ``G_u``, 1: ``G_i``) layer states fused.
        Shapes: ``[L+1, N, dim]`` -> ``[N, D']``."""
        att: LayerAttention | None = getattr(self, ("att_u", "att_i")[graph], None)
        if self.fusion == "concat":
            return states.permute(1, 0, 2).reshape(states.shape[1], -1)
        return states.mean(0) if self.fusion == "mean" or att is None else att(states)

    def propagate(self) -> tuple[Tensor, Tensor]:
        """User and item vectors: each graph's fused states, the two graphs concatenated.

        Shapes: ``([n_users, D], [n_items, D])`` with ``D = 2 * dim`` (``2 * dim * (L+1)``
        for concat fusion).
        """
        su = self._fuse(self.enc_u(self.ego_u(), self.normalize), 0)
        si = self._fuse(self.enc_i(self.ego_i(), self.normalize), 1)
        users = torch.cat([su[: self.n_users], si[self.user_offset_i :]], dim=1)
        items = torch.cat([su[self.item_offset_u :], si[: self.n_items]], dim=1)
        return users, items

    def graph_contrast(self, users: Tensor, items: Tensor) -> Tensor:
        """``extra["cl_weight"]`` times the InfoNCE between each node's two views, its fused
        state in ``G_u`` and in ``G_i`` (the two halves of its vector): the two collaborative
        KGs as contrastive views, as KGCL contrasts KG-augmented graphs; over distinct users
        and distinct items, at ``extra["cl_tau"]``; 0 when ``cl_weight`` is 0.
        Shapes: users ``[U, D]``, items ``[I, D]`` (one row per distinct node) -> scalar."""
        w, tau = self.options.cl_weight, self.options.cl_tau
        if w == 0:
            return users.new_zeros(())
        h = users.shape[1] // 2
        return w * (info_nce(users[:, :h], users[:, h:], tau)
                    + info_nce(items[:, :h], items[:, h:], tau))  # fmt: skip

    def _ego_reg(self, users: Tensor, *items: Tensor) -> Tensor:
        """Squared norms of the layer-0 rows of these users and items, in both graphs."""
        eu, ei = self.emb_u.weight, self.emb_i.weight
        reg = eu[users].pow(2).sum() + ei[users + self.user_offset_i].pow(2).sum()
        for i in items:
            reg = reg + eu[i + self.item_offset_u].pow(2).sum() + ei[i].pow(2).sum()
        return reg

    def batch_vectors(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`propagate`'s rows of these users and items only: the layer fusion runs on
        their distinct rows, and in a graph where those are few the last layer is computed for
        them alone (:meth:`CKGEncoder.states_of`: the same rows at a fraction of the cost).
        Shapes: users ``[B]``, items ``[K]`` -> ``([B, D], [K, D])``."""
        return self._vectors(self._graph_states(users, items), users.numel())

    def _graph_states(self, users: Tensor, items: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Per graph, the layer states of the batch's distinct rows and where each of
        ``users`` then ``items`` is among them. Shapes: ``([L+1, R, dim], [B + K])``."""
        if self.options.sampler == "neighbour":
            return self._sampled_states(users, items)
        out = []
        for enc, seeds, ego in (
            (self.enc_u, torch.cat([users, items + self.item_offset_u]), self.ego_u()),
            (self.enc_i, torch.cat([users + self.user_offset_i, items]), self.ego_i()),
        ):
            rows, inv = torch.unique(seeds, return_inverse=True)
            out.append((enc.states_of(ego, rows, self.normalize), inv))
        return out

    def _vectors(self, graph_states: list[tuple[Tensor, Tensor]], b: int,
                 layer: int | None = None) -> tuple[Tensor, Tensor]:  # fmt: skip
        """The first ``b`` seeds' (users') and the rest's (items') vectors from
        :meth:`_graph_states`: the two graphs' fused states concatenated, or their states at
        ``layer``. Shapes: ``([b, D], [K, D])``."""
        fu, fi = [(self._fuse(states, g) if layer is None else states[layer])[inv]
                  for g, (states, inv) in enumerate(graph_states)]  # fmt: skip
        return torch.cat([fu[:b], fi[:b]], dim=1), torch.cat([fu[b:], fi[b:]], dim=1)

    def contrasts(self, gs: list[tuple[Tensor, Tensor]], user_ids: Tensor, users: Tensor,
                  items: Tensor, keep: Tensor) -> Tensor:  # fmt: skip
        """The contrastive terms beside the CF loss, over the batch's distinct users (the
        first row of each id in ``user_ids``) and the items ``keep`` picks out of ``items``:
        the graph contrast (:meth:`graph_contrast`) and XSimGCL's cross-layer InfoNCE of each
        fused vector against its two graphs' ``xcl_layer`` states (noisy under ``noise``),
        times ``xcl_weight`` at ``xcl_tau``. ``gs``: the :meth:`_graph_states` the vectors came
        from. Shapes: user_ids ``[b]``, users ``[b, D]``, items ``[K, D]``, keep ``[K']`` ->
        scalar (0. when both are off)."""
        o = self.options
        if not (o.cl_weight or o.xcl_weight):
            return users.new_zeros(())
        first, b = first_rows(user_ids)[0], user_ids.numel()
        out = self.graph_contrast(users[first], items[keep])  # 0. when cl_weight is
        if o.xcl_weight:
            lu, li = self._vectors(gs, b, o.xcl_layer)
            out = out + o.xcl_weight * (info_nce(users[first], lu[first], o.xcl_tau)
                                        + info_nce(items[keep], li[keep], o.xcl_tau))  # fmt: skip
        return out

    def _ego_i_rows(self, ids: Tensor) -> Tensor:
        """:meth:`ego_i`'s rows ``ids``, projecting only the multimodal ones among them.
        Shapes: ``[n]`` -> ``[n, dim]``."""
        ego = self.emb_i.weight[ids]
        for k in range(len(self.modal_labels)):
            hit, rows = nb.member_positions(getattr(self, f"m{k}_ids"), ids)
            proj = self.modal[f"m{k}"](getattr(self, f"m{k}_x")[rows])
            ego = ego.index_put((hit,), proj, accumulate=self.modalities == "items")
        return ego

    def _sampled_states(self, users: Tensor, items: Tensor) -> list[tuple[Tensor, Tensor]]:
        """:meth:`_graph_states` propagated over neighbourhoods sampled around the batch's
        users and items in each graph (``extra["fanout"]`` per hop, draws from torch's global
        generator, which the trainer seeds and checkpoints)."""
        if self.enc_u.stale(self.emb_u.weight):
            self.refresh()
        out = []
        for enc, seeds, ego_rows in (
            (self.enc_u, torch.cat([users, items + self.item_offset_u]),
             lambda ids: self.ego_u()[ids]),
            (self.enc_i, torch.cat([users + self.user_offset_i, items]), self._ego_i_rows),
        ):  # fmt: skip
            blocks = nb.sample_blocks(enc.adj, seeds, self.fanouts)
            states = enc.forward_blocks(ego_rows(blocks.nodes), blocks, self.normalize)
            out.append((states, torch.arange(len(seeds), device=seeds.device)))
        return out

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        self.forget_scoring()
        if self.cf_objective == "softmax":  # every item's vector, the batch's users' only
            uniq, inv = torch.unique(users, return_inverse=True)
            gs = self._graph_states(uniq, torch.arange(self.n_items, device=users.device))
            uv, iv = self._vectors(gs, uniq.numel())
            loss = softmax_objective(
                self.cf_objective, uv[inv], iv, pos, neg, self.tau, user_ids=users,
                positives=masked_positives(self, self.options),
            )  # fmt: skip
            loss = loss + self.contrasts(gs, uniq, uv, iv, torch.unique(pos))
            return loss + self.config.l2 * self._ego_reg(users, pos) / (2 * users.numel())
        # only the batch's items: each distinct one fused once
        ids, inv = torch.unique(torch.cat([pos, neg.reshape(-1)]), return_inverse=True)
        b = users.numel()
        gs = self._graph_states(users, ids)
        u, it = self._vectors(gs, b)
        cl = self.contrasts(gs, users, u, it, torch.arange(ids.numel(), device=ids.device))
        if self.cf_objective == "sampled_softmax":
            held = held_negatives(masked_positives(self, self.options), users, neg)
            loss = sampled_softmax_cf_loss(u, it, inv[:b], inv[b:], self.tau, self.n_items, held)
            return loss + cl + self.config.l2 * self._ego_reg(users, pos) / (2 * b)
        p, n = it[inv[:b]], it[inv[b:]].view(*neg.shape, -1)
        s_pos = (u * p).sum(-1)
        s_neg = (u.unsqueeze(1) * n).sum(-1) if n.dim() == 3 else (u * n).sum(-1)
        if self.reg == "final":
            reg = u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()
        else:  # λ‖Θ‖² on the layer-0 rows this batch touches, both graphs
            reg = self._ego_reg(users, pos, neg)
        return bpr_loss(s_pos, s_neg) + cl + self.config.l2 * reg / (2 * b)

    # --- KG ----------------------------------------------------------------------------------
    def kg_graphs(self) -> dict[str, Tensor]:
        # TransR trains on each collaborative KG, inverse edges included (as KGAT does)
        graphs = {"user": self.enc_u.edges, "item": self.enc_i.edges}
        if self.transr_on == "kg":  # drop the interaction relations and their inverses
            n_kg = {"user": self.n_kg_rel_u, "item": self.n_kg_rel_i}
            for name, edges in graphs.items():
                n_fwd = self.n_rel_fwd[name]
                graphs[name] = edges[:, edges[1] % n_fwd < n_kg[name]]
        return graphs

    def kg_loss(self, graph: str, h: Tensor, r: Tensor, t_pos: Tensor, t_neg: Tensor) -> Tensor:
        self.forget_scoring()
        if graph == "user":
            enc, ego, n_kg = self.enc_u, self.ego_u(), self.n_kg_rel_u
        elif graph == "item":
            enc, ego, n_kg = self.enc_i, self.ego_i(), self.n_kg_rel_i
        else:
            raise KeyError(f"mmkgat has graphs 'user' and 'item', not {graph!r}")
        if self.transr_on != "ckg_rel":
            return enc.kg_loss(ego, h, r, t_pos, t_neg, self.config.kg_l2)
        # interaction triples fit only their relation's projection and vector (the attention
        # on interaction edges is learned); the entities stay the CF objective's
        inter = (r % self.n_rel_fwd[graph] >= n_kg).unsqueeze(1)
        e_h, e_tp, e_tn = (torch.where(inter, ego[i].detach(), ego[i]) for i in (h, t_pos, t_neg))
        return enc.transr.loss(e_h, r, e_tp, e_tn, self.config.kg_l2)

    @torch.no_grad()
    def refresh(self) -> None:
        """Recompute the attention π of both graphs (eqs 12–13) from the current embeddings."""
        self.enc_u.refresh(self.ego_u())
        self.enc_i.refresh(self.ego_i())
        self.forget_scoring()

    def layer_weights(self) -> dict[str, Tensor]:
        """Mean attention weight of each layer per graph (for inspection). Shapes: ``[L+1]``."""
        out = {}
        with torch.no_grad():
            for name, enc, ego in (("user", self.enc_u, self.ego_u()),
                                   ("item", self.enc_i, self.ego_i())):  # fmt: skip
                states, att = enc(ego, self.normalize), getattr(self, f"att_{name[0]}", None)
                w = att.weights(states) if att is not None else states.new_full(
                    states.shape[:2], 1.0 / states.shape[0])  # fmt: skip
                out[name] = w.mean(1)
        return out

    def scoring_representation(self) -> tuple[Tensor, Tensor]:
        """User and item vectors whose inner product is the score: :meth:`propagate`'s, unit
        length under the softmax objective (which trains cosine scores)."""
        return scored_vectors(self.cf_objective, *self.propagate())

    def scoring_vectors(self) -> tuple[Tensor, Tensor]:
        """:meth:`scoring_representation` (the score is their inner product)."""
        return self.scoring_representation()

    def attention_encoders(self) -> list[tuple[nn.Module, Literal["user", "item"]]]:
        # G_u: users, the user KG, then items; G_i: items, the item KG, then users
        return [(self.enc_u, "user"), (self.enc_i, "item")]

    def encoder_traces(self) -> list[Trace]:
        return [self.enc_u.trace(self.ego_u(), self.normalize),
                self.enc_i.trace(self.ego_i(), self.normalize)]  # fmt: skip

    def vectors_from_states(self, side: Literal["user", "item"], states: list[Tensor]) -> Tensor:
        """The two graphs' fused states concatenated (:meth:`propagate`), unit length under
        the softmax objective (:meth:`scoring_representation`)."""
        del side  # users and items fuse alike
        su, si = states
        v = torch.cat([self._fuse(su, 0), self._fuse(si, 1)], dim=1)
        return scored_vectors(self.cf_objective, v, v[:0])[0]

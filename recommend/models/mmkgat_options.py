"""MMKGAT's typed options (``ModelConfig.extra``) and how its two collaborative KGs are made:
the triples of each side, and what leaves them (multimodal entities that do not enter as
entities, the users' attributes) (:mod:`recommend.models.mmkgat`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from recommend.data import KGTriples, RecData
from recommend.models import neighbours as nb
from recommend.models.base import option
from recommend.models.graph import Triples
from recommend.models.losses import CFObjectiveOptions
from recommend.models.search import Choice, LogUniform


@dataclass(frozen=True)
class MMKGATOptions(CFObjectiveOptions, nb.SamplerOptions):
    """MMKGAT's options (``ModelConfig.extra``); ``cf_loss`` is "bpr" for eq 15 or "softmax"
    (full-catalogue cross-entropy of cosine scores over temperature ``tau``; scoring then ranks
    by cosine; with ``sampler`` "neighbour", "sampled_softmax")."""

    search_spaces = {"tau": LogUniform(0.05, 1.0)}

    fusion: Literal["attention", "mean", "concat"] = option(
        "attention",
        "how the layer states of a graph become one vector: the paper's attention, "
        "LightGCN's mean or KGAT's concatenation",
        search=Choice(["attention", "mean"]),
    )
    normalize: bool = option(
        False, "L2-normalise each propagated layer's state before fusion (as KGAT's code does)"
    )
    reg: Literal["ego", "final"] = option(
        "ego",
        "what λ‖Θ‖² penalises: the layer-0 rows a batch touches, or the batch's fused user and "
        "item vectors (KGAT's code), which also reins in the transforms",
    )
    degree_norm: bool = option(
        False,
        "scale attention by sqrt(deg h / deg t) (GCN's normalisation under uniform π)",
        search=Choice([True, False]),
    )
    aggregator: Literal["bi", "linear"] = option(
        "bi", "the layer aggregator: bi-interaction (eq 14) or LightGCN's linear e_N"
    )
    transr_on: Literal["ckg", "kg", "ckg_rel"] = option(
        "ckg",
        "TransR (eq 10) over each whole collaborative KG, its KG triples only (the interactions "
        "left to the CF loss), or the whole graph with interaction triples moving only their "
        "relation's parameters",
    )
    modalities: Literal["nodes", "items", "off"] = option(
        "nodes",
        "where multimodal features enter: as entities of the item-side graph whose layer-0 "
        "embedding projects their vector (the paper's), added to their items' own layer-0 "
        "embeddings (the entities leave the graph), or not at all",
        search=Choice(["nodes", "items", "off"]),
    )
    modal_degree: Literal["plain", "scaled"] = option(
        "plain",
        "under degree_norm, edges of multimodal entities keep their plain attention, or are "
        "scaled like any other edge (by sqrt(deg item / 1): louder than the item's users)",
    )
    user_attributes: bool = option(
        True,
        "the user-side graph holds the users' attribute triples (gender, age, occupation...); "
        "False leaves it users and their items only",
    )
    cl_weight: float = option(
        0.0,
        "weight of the InfoNCE between each batch node's two views (its state in the user-side "
        "and in the item-side graph) beside the CF loss (0: off)",
    )
    cl_tau: float = option(0.2, "temperature of that InfoNCE (> 0)")
    noise: float = option(
        0.0,
        "length eps of SimGCL's noise added to every propagated layer of both graphs while "
        "training (>= 0; 0: off), a push towards uniformly spread vectors",
    )
    xcl_weight: float = option(
        0.0,
        "weight of XSimGCL's cross-layer InfoNCE beside the CF loss: each batch node's fused "
        "vector against its layer-xcl_layer states in both graphs, noisy under noise (0: off)",
    )
    xcl_layer: int = option(1, "the layer contrasted with the fused vector (0..layers; 0: ego)")
    xcl_tau: float = option(0.15, "temperature of the cross-layer InfoNCE (> 0; XSimGCL: 0.15)")
    full_softmax_items: int = option(
        20_000,
        "the most items the softmax objective ranks whole: above, cf_loss 'softmax' is "
        "estimated from the batch's negatives ('sampled_softmax'), which costs [B, B] logits "
        "instead of [B, n_items]",
    )

    def check(self, model: str, layers: int) -> None:
        """Refuse values out of their options' range.

        Raises:
            ValueError: naming the option, its range and the value.
        """
        x = self.xcl_weight
        for key, ok, bound in (
            ("cl_weight", self.cl_weight >= 0, ">= 0"), ("cl_tau", self.cl_tau > 0, "> 0"),
            ("noise", self.noise >= 0, ">= 0"),
            ("xcl_weight", x >= 0 and (x == 0 or self.fusion != "concat"),
             ">= 0, and 0 under fusion 'concat' (a layer's states are not its vectors' size)"),
            ("xcl_tau", self.xcl_tau > 0, "> 0"),
            ("xcl_layer", 0 <= self.xcl_layer <= layers, f"in 0..{layers} (the layers)"),
        ):  # fmt: skip
            if not ok:
                raise ValueError(f"{model}: {key} must be {bound}, not {getattr(self, key)}")


def without_modal(kg: KGTriples) -> KGTriples:
    """``kg`` without the triples that touch a multimodal entity (the entities stay, unlinked)."""
    modal = np.zeros(kg.n_entities, dtype=bool)
    for ids, _ in kg.entity_features.values():
        modal[np.asarray(ids, np.int64)] = True
    keep = ~(modal[kg.heads] | modal[kg.tails])
    return replace(
        kg, heads=kg.heads[keep], relations=kg.relations[keep], tails=kg.tails[keep],
        entity_features={},
    )  # fmt: skip


def modal_rows(data: RecData, modalities: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The rows whose layer-0 embedding a feature projection gives or adds to, by feature
    label: ``(ids, features)``, the item KG's multimodal entities under ``modalities``
    "nodes", the items with a non-zero feature vector under "items", none under "off"."""
    if modalities == "nodes":
        return dict(data.item_kg.entity_features)
    if modalities == "items":
        return {label: (np.flatnonzero(np.abs(x).sum(1) > 0), x[np.abs(x).sum(1) > 0])
                for label, x in data.item_features.items()}  # fmt: skip
    return {}


def without_triples(kg: KGTriples) -> KGTriples:
    """``kg``'s entities and relations without any triple (the anchors left unlinked)."""
    keep = np.zeros(len(kg.heads), dtype=bool)
    return replace(kg, heads=kg.heads[keep], relations=kg.relations[keep], tails=kg.tails[keep])


def side_graph(
    kg: KGTriples, n_anchor: int, n_other: int, inter: np.ndarray, anchor_col: int, n_kinds: int
) -> tuple[list[Triples], int, int]:
    """Triples of one collaborative KG (eqs 3–9): the side's KG plus the interactions.

    Entity space: the KG's entities (anchors first), then the other side's anchors (items for the
    user-side graph, users for the item-side graph). Relations: the KG's relations, then one per
    interaction kind, anchor -> other side (eq 8: "takes the user node as the starting point").

    Returns:
        (parts, n_entities, n_relations) for :func:`collab_graph`.
    """
    other = inter[:, 1 - anchor_col] + kg.n_entities
    parts: list[Triples] = [
        (kg.heads, kg.relations, kg.tails),
        (inter[:, anchor_col], inter[:, 2] + kg.n_relations, other),
    ]
    return parts, kg.n_entities + n_other, kg.n_relations + n_kinds

"""XSimGCL (Yu et al., IEEE TKDE 2023, "XSimGCL: Towards Extremely Simple Graph Contrastive
Learning for Recommendation"): SimGCL with one noisy propagation per step, contrasting its final
embedding with one of its own layers (cross-layer contrast).

Reference code: https://github.com/Coder-Yu/SELFRec (``model/graph/XSimGCL.py``,
``conf/XSimGCL.yaml``: 2 layers, ``l*`` 1, λ 0.2, ε 0.2, τ 0.15), which this follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from recommend.models.base import option, register
from recommend.models.losses import inner_product_bpr
from recommend.models.search import Choice, LogUniform, Uniform
from recommend.models.simgcl import SimGCL, SimGCLOptions, noisy_layers


@dataclass(frozen=True)
class XSimGCLOptions(SimGCLOptions):
    """XSimGCL's options (``ModelConfig.extra``): SimGCL's, with the reference's defaults, and
    the layer contrasted with the final embedding."""

    eps: float = option(
        0.2,
        "length of the noise added to every propagated layer (>= 0; paper: 0.2)",
        search=Uniform(0.01, 0.5),
    )
    tau: float = option(
        0.15,
        "temperature of the cross-layer InfoNCE (> 0; paper: 0.15)",
        search=LogUniform(0.05, 1.0),
    )
    cl_weight: float = option(
        0.2,
        "weight λ of the contrastive loss beside BPR (>= 0; paper: 0.2 on its sparse data; "
        "dense ML-100K needs ~0.01, see benchmarks/results/tuning_notes.md)",
        search=LogUniform(1e-4, 1.0),
    )
    layer_cl: int = option(
        1,
        "the layer l* whose noisy embedding is contrasted with the final one (0..layers; "
        "0: the ego layer; paper: 1)",
        search=Choice([0, 1]),
    )


@register
class XSimGCL(SimGCL):
    """One noisy LightGCN propagation per step (:func:`~recommend.models.simgcl.noisy_layers`)
    serves both losses: BPR (plus L2 on the batch's layer-0 rows) on its final embedding, the
    mean of ``E'^{(1)} … E'^{(L)}``, and ``λ · (InfoNCE(users) + InfoNCE(items))`` between that
    final embedding and layer ``l*``'s, over the batch's unique users and positive items.
    Scoring uses the clean propagation (no noise), as SimGCL does.

    A step costs one propagation where SimGCL's costs three.

    Args:
        data: training data; ``train`` pairs make the graph.
        config: ``dim`` (default: 64), ``layers`` (>= 1; default here: 2), ``l2`` (default:
            1e-4), ``extra``: :class:`XSimGCLOptions` (``eps``, ``tau``, ``cl_weight``,
            ``layer_cl``; :attr:`defaults` sets ``cl_weight`` 0.01, tuned on ML-100K:
            benchmarks/results/tuning_notes.md).

    Shapes:
        users, pos: ``[B]``; neg: ``[B]`` or ``[B, N]``; score_all(users): ``[B, n_items]``;
        propagate() -> (``[n_users, dim]``, ``[n_items, dim]``).
    """

    name = "xsimgcl"
    # why these defaults: benchmarks/results/tuning_notes.md
    defaults: ClassVar[dict[str, Any]] = {"layers": 2, "lr": 5e-3, "extra": {"cl_weight": 0.01}}
    options_type = XSimGCLOptions
    options: XSimGCLOptions

    def check_options(self) -> None:
        super().check_options()
        layer, layers = self.options.layer_cl, self.config.layers
        if not 0 <= layer <= layers:
            raise ValueError(f"{self.name}: layer_cl must be in 0..{layers} (layers), not {layer}")

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        self.forget_scoring()
        o = self.options
        ego = self.emb.weight
        layers = noisy_layers(self.adj, ego, self.config.layers, o.eps)
        final = self.split(torch.stack(layers).mean(0))
        loss = inner_product_bpr(*final, ego, self.n_users, users, pos, neg, self.config.l2)
        if o.cl_weight > 0:
            cl = self.split(([ego, *layers])[o.layer_cl])
            loss = loss + o.cl_weight * self.contrast(users, pos, final, cl)
        return loss

"""TransE (Bordes et al., NeurIPS 2013, "Translating Embeddings for Modeling Multi-relational
Data"): the simple baseline on the same base as TransR."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from embed.base import KGEConfig, KGEModel, register


@register
class TransE(KGEModel):
    r"""One space for entities and relations: :math:`d(h, r, t) = \lVert h + r - t \rVert_p^p`.

    As in the paper, relations are L2-normalised once at initialisation and entities are
    renormalised to unit length after every step.

    Args:
        n_entities, n_relations: sizes.
        config: ``dim`` (default: 64), ``p`` (default: 2), ``power`` (default: True);
            ``rel_dim`` must be ``None`` or equal ``dim``.
    """

    name = "transe"

    def __init__(self, n_entities: int, n_relations: int, config: KGEConfig) -> None:
        if config.rel_dim not in (None, config.dim):
            raise ValueError("transe: rel_dim must equal dim")
        super().__init__(n_entities, n_relations, config)
        nn.init.xavier_uniform_(self.ent.weight)
        nn.init.xavier_uniform_(self.rel.weight)
        with torch.no_grad():
            self.rel.weight.copy_(F.normalize(self.rel.weight, dim=-1))
        self.constrain_()

    def project(self, ent: Tensor, rel: Tensor) -> Tensor:
        return self.ent(ent)

    def project_all(self, r: int) -> Tensor:
        return self.ent.weight

    @torch.no_grad()
    def constrain_(self) -> None:
        self.ent.weight.copy_(F.normalize(self.ent.weight, dim=-1))

"""The settings of a training run: :class:`TrainConfig` (optimisation), :class:`RunSettings`
(model, training and data options together) and :func:`configs_for`, which layers a model's
defaults under what the user gives.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from recommend.models.base import REGISTRY, ModelConfig


@dataclass
class TrainConfig:
    """Optimisation settings.

    Args:
        epochs: most epochs (default: 400).
        batch_size: BPR pairs per batch (default: 2048).
        kg_batch_size: KG triples per batch (default: 2048).
        lr: Adam learning rate (default: 1e-3).
        weight_decay: Adam weight decay (default: 0; models put their L2 into their losses).
        patience: evaluations without a better validation score before stopping (default: 10).
        eval_every: epochs between validations (default: 1).
        monitor: validation metric to maximise (default: ``"recall@20"``).
        n_neg: negatives per positive (default: 1).
        seed: seed of everything (default: 0).
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"`` (default: ``"auto"``).
        threads: torch CPU threads (default: None, torch's choice).
        eval_batch_users: users per scoring batch (default: None, sized to the catalogue).
        kg: run the KG pass for models that have graphs (default: True).
    """

    epochs: int = 400
    batch_size: int = 2048
    kg_batch_size: int = 2048
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 10
    eval_every: int = 1
    monitor: str = "recall@20"
    n_neg: int = 1
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    eval_batch_users: int | None = None
    kg: bool = True


@dataclass
class RunSettings:
    """A model's configuration, its training configuration and the data option, resolved."""

    model: ModelConfig
    train: TrainConfig
    rating_kinds: bool = False


def configs_for(model: str, **given: Any) -> RunSettings:
    """Resolve the settings of a run: dataclass defaults, then the model's
    :attr:`Recommender.defaults`, then every value in ``given`` that is not None.

    Args:
        model: a registered model name.
        given: ModelConfig / TrainConfig fields and ``rating_kinds``; None means "not given".

    Raises:
        KeyError: an unknown model; TypeError: a key that is no setting.
    """
    if model not in REGISTRY:
        raise KeyError(f"unknown model {model!r}; available: {', '.join(sorted(REGISTRY))}")
    base = REGISTRY[model].defaults
    merged = {**base, **{k: v for k, v in given.items() if v is not None}}
    merged["extra"] = {**base.get("extra", {}), **(given.get("extra") or {})}
    m_fields = {f.name for f in fields(ModelConfig)}
    t_fields = {f.name for f in fields(TrainConfig)}
    unknown = set(merged) - m_fields - t_fields - {"rating_kinds"}
    if unknown:
        raise TypeError(f"not a model or training setting: {', '.join(sorted(unknown))}")
    return RunSettings(
        ModelConfig(**{k: v for k, v in merged.items() if k in m_fields}),
        TrainConfig(**{k: v for k, v in merged.items() if k in t_fields}),
        bool(merged.get("rating_kinds", False)),
    )

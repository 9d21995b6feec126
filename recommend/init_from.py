"""Start a recommender from a TransR/TransE embedding run (``kgrec train --init-from RUN``).

The layer-0 entity tables of the KG models (``kgat``'s ``emb``; ``mmkgat``'s ``emb_u`` and
``emb_i``) get the embedding run's vectors, matched by node label and key through the two runs'
id maps; rows with no match (a node the embedding run did not see) keep their initialisation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from kgrec.schema import USER, VIDEO
from recommend.data import RecData, load_export
from recommend.models.base import Recommender
from recommend.runs import CONFIG, EXPORT, Run, write_json

Initializer = Callable[[Recommender, RecData], None]


def entity_tables(model: Recommender, data: RecData) -> list[tuple[str, Tensor, dict[str, int]]]:
    """The model's layer-0 tables as (name, weight, first row of each label).

    Raises:
        ValueError: the model has no entity tables to initialise.
    """
    from recommend.models.kgat import KGAT
    from recommend.models.mmkgat import MMKGAT

    if isinstance(model, MMKGAT):  # one table per graph: G_u (users, their KG, items), G_i
        return [
            ("emb_u", model.emb_u.weight, {**data.user_kg.offsets, VIDEO: model.item_offset_u}),
            ("emb_i", model.emb_i.weight, {**data.item_kg.offsets, USER: model.user_offset_i}),
        ]
    if isinstance(model, KGAT):  # the items' KG, then the users
        return [("emb", model.emb.weight, {**data.item_kg.offsets, USER: model.user_offset})]
    raise ValueError(
        f"--init-from: model {type(model).__name__!r} has no layer-0 entity embeddings to "
        "initialise (it works with kgat and mmkgat)"
    )


def copy_embeddings(
    model: Recommender,
    data: RecData,
    label_keys: dict[str, pd.Index],
    vectors: dict[str, tuple[pd.Index, np.ndarray]],
) -> dict[str, int]:
    """Copy ``vectors`` (per label: keys, ``[n, dim]``) into the model's entity tables.

    Args:
        label_keys: per label, the recommender run's node keys (position = id of that label).
        vectors: from :meth:`embed.runs.EmbedRun.entity_embeddings`.

    Returns:
        rows written per ``table:label``.

    Raises:
        ValueError: the dimensions differ, or no row matched.
    """
    tables = entity_tables(model, data)
    dims = {m.shape[1] for _, m in vectors.values()}
    for tname, weight, _ in tables:
        if dims and dims != {weight.shape[1]}:
            raise ValueError(
                f"--init-from: the embedding run has dimension {sorted(dims)[0]} but "
                f"{type(model).__name__}.{tname} has {weight.shape[1]}: train with "
                f"--dim {sorted(dims)[0]} or embed with --dim {weight.shape[1]}"
            )
    written: dict[str, int] = {}
    with torch.no_grad():
        for tname, weight, offsets in tables:
            for label, offset in offsets.items():
                if label not in vectors or label not in label_keys:
                    continue
                emb_keys, mat = vectors[label]
                pos = emb_keys.get_indexer(label_keys[label])
                rows = np.flatnonzero(pos >= 0)
                if not len(rows):
                    continue
                src = torch.as_tensor(mat[pos[rows]], dtype=weight.dtype, device=weight.device)
                weight[torch.as_tensor(rows + offset, device=weight.device)] = src
                written[f"{tname}:{label}"] = len(rows)
    if not written:
        raise ValueError("--init-from: no node of the embedding run matches this graph's nodes")
    return written


def initializer(embed_run: Path | str, run: Run) -> Initializer:
    """An ``init`` hook for :func:`recommend.train.train_run` that copies ``embed_run``'s
    vectors and records what it copied in the recommender run's ``config.json``."""
    from embed.runs import EmbedRun

    source = EmbedRun(Path(embed_run))
    vectors = source.entity_embeddings()  # fails early on an unfinished run

    def init(model: Recommender, data: RecData) -> None:
        keys = dict(load_export(run.path / EXPORT).ids)
        keys[USER], keys[VIDEO] = data.user_ids, data.item_ids
        written = copy_embeddings(model, data, keys, vectors)
        cfg: dict[str, Any] = run.config
        cfg["init_from"] = {"run": str(source.path), "model": source.config["model"],
                            "rows": written}  # fmt: skip
        write_json(run.path / CONFIG, cfg)

    return init

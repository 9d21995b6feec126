"""Serving a trained run: ranked, path-explained recommendations as plain dicts.

:class:`RecommenderService` loads a run directory (its cached export, split and ``best.pt``),
precomputes every user's and item's vector once, so scoring a user is one matrix-vector product
``V @ u``, and builds the explanation graph (:mod:`recommend.explain`). Nothing here talks to
the graph database: display names come from the run's ``names.json`` cache (written by
``kgrec serve``/``kgrec recommend`` from the store, or by whoever built the run), ids otherwise.

The HTTP API, the CLI and the dashboard all call :meth:`RecommenderService.recommend`; its
arguments and the shape of its answer are stable::

    svc = RecommenderService.load("latest")            # or a run path / name / name prefix
    svc.recommend("196", k=10, explain=True, paths=3)
    {"user": "196", "run": "20261123-...-mmkgat-ml-100k-s0",
     "items": [{"item": "1240", "score": 5.21, "rank": 1, "name": "Heat (1995)",
                "reasons": [{"path": [{"id": "196", "label": "User", "name": "user 196"}, ...],
                             "relations": ["RATED", "HAS_GENRE", "HAS_GENRE"],
                             "score": 0.0012, "text": "You rated ..."}]}, ...]}
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from kgrec.schema import USER, VIDEO
from kgrec.spec import run_spec
from recommend.data import Split, build_recdata, load_export
from recommend.explain import (
    DEFAULT_RANKING,
    MAX_LEN,
    EvidenceRule,
    Explainer,
    LocalMasking,
    Masker,
    Names,
    NotLocal,
    PathGraph,
    UnknownEntity,
    add_counterfactuals,
    build_path_graph,
    display_name,
    load_names,
    model_vectors,
    model_weights,
    node_vectors,
    save_names,
)
from recommend.explain.build import training_ratings
from recommend.explain.from_spec import evidence_rule
from recommend.runs import EXPORT, SPLIT, Run, find_run

MAX_K = 500
"""Most items one request may ask for."""
MAX_PATHS = 10
"""Most explanation paths per item."""
MAX_MASKED = 10
"""Most paths one request masks for counterfactuals (one propagation each); the rest get
``counterfactual: null``."""


class RecommenderService:
    """One loaded run, ready to answer requests (thread-safe: read-only after construction).

    Args:
        run: the run directory.
        names: display names (default: the run's ``names.json``, else ids).
        max_len: default longest explanation path (default: 3; at most 4).
        sim_k: nearest videos per modality for similarity edges (default: 5).
        threads: torch CPU threads while loading (default: 1: the model's many small kernels
            ran 4-6x slower with 2 threads on a busy 2-core machine; None keeps torch's).
        evidence: which interactions reasons may cite (default: :class:`EvidenceRule`'s).
        path_ranking: default ranking of paths, a name of :data:`~recommend.explain.PRESETS`
            (default: ``balanced``; see :mod:`recommend.explain.ranking`).
    """

    def __init__(
        self,
        run: Run,
        names: Names | None = None,
        max_len: int = 3,
        sim_k: int = 5,
        threads: int | None = 1,
        evidence: EvidenceRule | None = None,
        path_ranking: str = DEFAULT_RANKING,
    ) -> None:
        before = torch.get_num_threads()
        self.threads = threads
        if threads:
            torch.set_num_threads(threads)
        try:
            self._load(run, names, max_len, sim_k, evidence, path_ranking)
        finally:
            torch.set_num_threads(before)
        self._masker: Masker | None = None
        self._masker_lock = threading.Lock()

    def _load(
        self,
        run: Run,
        names: Names | None,
        max_len: int,
        sim_k: int,
        evidence: EvidenceRule | None,
        path_ranking: str,
    ) -> None:
        t0 = time.perf_counter()
        self.run = run
        cfg = run.config
        self.model_name = str(cfg.get("model"))
        self.dataset = str(cfg.get("dataset"))
        export = load_export(run.path / EXPORT)
        split = Split.load(run.path / SPLIT)
        self.data = data = build_recdata(
            export, split, rating_kinds=bool(cfg.get("rating_kinds", False))
        )
        model = run.load_model("best", data, "cpu")
        self.user_vecs, self.item_vecs = model_vectors(model)
        self.user_ids = pd.Index([str(x) for x in data.user_ids])
        self.item_ids = pd.Index([str(x) for x in data.item_ids])
        # training items per user (CSR), excluded from that user's recommendations
        tr = data.train
        order = np.lexsort((tr[:, 1], tr[:, 0]))
        self._seen_ptr = np.r_[0, np.cumsum(np.bincount(tr[:, 0], minlength=data.n_users))]
        self._seen = tr[order, 1]
        self.names: Names = names if names is not None else (load_names(run.path) or {})
        self.graph: PathGraph = build_path_graph(
            data, export.ids, training_ratings(export, tr, data.n_items), sim_k=sim_k
        )
        weights, self.path_scoring = model_weights(
            self.graph, model, data, (self.user_vecs, self.item_vecs)
        )
        self.graph.set_weights(weights)
        if evidence is None:  # what the run's dataset spec marks as positive evidence
            evidence = evidence_rule(run_spec(run.path), export)
        try:
            masking: LocalMasking | None = LocalMasking(
                model, data, self.graph, (self.user_vecs, self.item_vecs)
            )
        except NotLocal:
            masking = None
        self.explainer = Explainer(
            self.graph, self.names, max_len=max_len, evidence=evidence, ranking=path_ranking,
            source_labels=export.source_labels, masking=masking,
        )  # fmt: skip
        self._entity_vecs = self._normalised(
            node_vectors(self.graph, self.user_vecs, self.item_vecs)
        )
        del model, export
        self.load_seconds = time.perf_counter() - t0

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        ref: str | Path = "latest",
        runs_dir: Path | None = None,
        names: Names | None = None,
        **kwargs: Any,
    ) -> RecommenderService:
        """Load a run by path, name, unique name prefix or ``latest`` (in ``runs_dir``,
        default: ``Settings.runs_dir``)."""
        if runs_dir is None:
            from kgrec.settings import get_settings

            runs_dir = get_settings().runs_dir
        return cls(find_run(ref, runs_dir), names=names, **kwargs)

    @staticmethod
    def _normalised(x: np.ndarray) -> np.ndarray:
        n = np.linalg.norm(x, axis=1, keepdims=True)
        return (x / np.maximum(n, 1e-12)).astype(np.float32)

    def set_names(self, names: Names, cache: bool = True) -> None:
        """Use ``names`` for display (and cache them in the run directory)."""
        self.names = names
        self.explainer.names = names
        if cache:
            save_names(self.run.path, names)

    # -- lookups ----------------------------------------------------------------------------
    @property
    def run_name(self) -> str:
        return self.run.name

    def user_index(self, user_id: str) -> int:
        pos = int(self.user_ids.get_indexer(pd.Index([str(user_id)]))[0])
        if pos < 0:
            raise UnknownEntity(f"unknown user {user_id!r} (not in run {self.run_name})")
        return pos

    def item_index(self, item_id: str) -> int:
        pos = int(self.item_ids.get_indexer(pd.Index([str(item_id)]))[0])
        if pos < 0:
            raise UnknownEntity(f"unknown item {item_id!r} (not in run {self.run_name})")
        return pos

    def item_name(self, item: int) -> str:
        return display_name(VIDEO, str(self.item_ids[item]), self.names)

    def seen(self, user: int) -> np.ndarray:
        """Items ``user`` interacted with in training."""
        return self._seen[self._seen_ptr[user] : self._seen_ptr[user + 1]]

    # -- scoring ----------------------------------------------------------------------------
    def scores(self, user: int) -> np.ndarray:
        """The model's score of every item for ``user`` (one matrix-vector product)."""
        return np.asarray(self.item_vecs @ self.user_vecs[user])

    def top_items(self, user: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best items the user did not train on: (item indices, scores), best first."""
        s = self.scores(user).astype(np.float64)
        s[self.seen(user)] = -np.inf
        k = max(0, min(k, int(np.isfinite(s).sum())))
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        top = np.argpartition(-s, k - 1)[:k]
        top = top[np.lexsort((top, -s[top]))]
        return top, s[top]

    def recommend(
        self,
        user_id: str,
        k: int = 10,
        explain: bool = True,
        paths: int = 3,
        max_len: int | None = None,
        path_ranking: str | None = None,
        counterfactual: bool = False,
    ) -> dict[str, Any]:
        """The ``k`` best unseen items for a user, each with its ``paths`` best reasons.

        Args:
            user_id: the User's id (its ``id`` property in the graph).
            k: how many items, 1 to :data:`MAX_K` (default: 10).
            explain: add reasons (default: True).
            paths: reasons per item, 0 to :data:`MAX_PATHS` (default: 3).
            max_len: longest path, 1 to 4 (default: the service's, 3).
            path_ranking: a name of :data:`~recommend.explain.PRESETS` (default: the service's).
            counterfactual: give each reason the item's score and rank with the path's edges
                masked (at most :data:`MAX_MASKED` paths per request; attention models only).

        Returns:
            ``{"user", "run", "model", "path_ranking", "items": [{"item", "name", "score",
            "rank", "reasons": [{"path": [{"id", "label", "name"}], "relations", "forward",
            "score", "rank_score", "text", "cypher": {"statement", "params"},
            "counterfactual"}]}], "cost": {"total_ms", "explain_ms", "counterfactual_ms",
            "masked_paths"}}`` (``reasons`` is empty when ``explain`` is false).

        Raises:
            UnknownEntity: the user is not in the run.
            ValueError: ``k``, ``paths``, ``max_len`` or ``path_ranking`` out of range, or a
                counterfactual asked of a model without attention.
        """
        t0 = time.perf_counter()
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must be 1 to {MAX_K}, got {k}")
        self._check(paths, max_len, 0)
        u = self.user_index(user_id)
        items, scores = self.top_items(u, k)
        ranking = path_ranking or self.explainer.ranking.name
        search = None
        if explain and paths > 0 and len(items):
            search = self.explainer.search(self.graph.offsets[USER] + u, max_len, ranking)
        out = []
        shown: list[tuple[int, dict[str, Any]]] = []
        per_item: list[list[dict[str, Any]]] = [[] for _ in items]
        if search is not None:
            nodes = [self.graph.offsets[VIDEO] + i for i in items.tolist()]
            per_item = self.explainer.explain_many(search.user, nodes, paths, search, ranking)
        for rank, (i, s) in enumerate(zip(items.tolist(), scores.tolist(), strict=True), 1):
            reasons = per_item[rank - 1]
            shown += [(i, r) for r in reasons]
            out.append({"item": str(self.item_ids[i]), "name": self.item_name(i),
                        "score": float(s), "rank": rank, "reasons": reasons})  # fmt: skip
        t1 = time.perf_counter()
        masked = self._counterfactuals(u, shown) if counterfactual and shown else 0
        t2 = time.perf_counter()
        ms = lambda a, b: round((b - a) * 1000, 2)  # noqa: E731
        cost = {"total_ms": ms(t0, t2), "explain_ms": ms(t0, t1),
                "counterfactual_ms": ms(t1, t2), "masked_paths": masked}  # fmt: skip
        return {"user": str(user_id), "run": self.run_name, "model": self.model_name,
                "path_ranking": ranking, "items": out, "cost": cost}  # fmt: skip

    def explain(
        self,
        user_id: str,
        item_id: str,
        paths: int = 3,
        max_len: int | None = None,
        path_ranking: str | None = None,
        counterfactual: bool = False,
    ) -> list[dict[str, Any]]:
        """Reasons for one (user, item) pair, recommended or not."""
        self._check(paths, max_len, 1)
        u, i = self.user_index(user_id), self.item_index(item_id)
        g = self.graph
        search = self.explainer.search(g.offsets[USER] + u, max_len, path_ranking)
        reasons = self.explainer.explain(
            search.user, g.offsets[VIDEO] + i, paths, search, path_ranking
        )
        if counterfactual:
            self._counterfactuals(u, [(i, r) for r in reasons])
        return reasons

    @staticmethod
    def _check(paths: int, max_len: int | None, least: int) -> None:
        if not least <= paths <= MAX_PATHS:
            raise ValueError(f"paths must be {least} to {MAX_PATHS}, got {paths}")
        if max_len is not None and not 1 <= max_len <= MAX_LEN:
            raise ValueError(f"max_len must be 1 to {MAX_LEN}, got {max_len}")

    def masker(self) -> Masker:
        """The model loaded for masking (once, on the first counterfactual).

        Raises:
            ValueError: the model has no attention edges to mask.
        """
        with self._masker_lock:
            if self._masker is None:
                before = torch.get_num_threads()
                if self.threads:
                    torch.set_num_threads(self.threads)
                try:
                    model = self.run.load_model("best", self.data, "cpu")
                    self._masker = Masker(model, self.data, self.graph)
                finally:
                    torch.set_num_threads(before)
            return self._masker

    def _counterfactuals(self, user: int, reasons: list[tuple[int, dict[str, Any]]]) -> int:
        """Add ``counterfactual`` to each reason (:func:`add_counterfactuals`)."""
        return add_counterfactuals(self.masker(), self.explainer, user, reasons, self.seen(user),
                                   MAX_MASKED)  # fmt: skip

    def similar(self, label: str, entity_id: str, k: int = 10) -> list[dict[str, Any]]:
        """The ``k`` entities of the same label nearest to one (cosine of the vectors the
        explanations use: the model's user/item vectors, an entity's mean of its neighbours')."""
        g = self.graph
        node = g.node(label, entity_id)
        start = g.offsets[label]
        end = start + int((g.label_idx == g.labels.index(label)).sum())
        block = self._entity_vecs[start:end]
        sims = block @ self._entity_vecs[node]
        sims[node - start] = -np.inf
        k = max(0, min(k, end - start - 1))
        if k == 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.lexsort((top, -sims[top]))]
        return [{**self.explainer.node_dict(start + int(j)), "score": float(sims[j])} for j in top]

    def labels_of(self, entity_id: str) -> list[str]:
        """Labels having a node with this id (an id can name a user and a video)."""
        out = []
        for label in self.graph.labels:
            try:
                self.graph.node(label, entity_id)
            except UnknownEntity:
                continue
            out.append(label)
        return out

    def info(self) -> dict[str, Any]:
        """What is being served."""
        return {
            "run": self.run_name,
            "model": self.model_name,
            "dataset": self.dataset,
            "users": self.data.n_users,
            "items": self.data.n_items,
            "path_scoring": self.path_scoring,
            "graph_nodes": self.graph.n_nodes,
            "graph_edges": self.graph.n_edges,
            "load_seconds": round(self.load_seconds, 3),
        }


def names_from_store(store: Any, labels: Mapping[str, Any] | list[str]) -> Names:
    """Display names (``title``, else ``name``) of the nodes of ``labels`` read from a store."""
    out: Names = {}
    for label in labels:
        rows = store.run("store/node_names", label=label).rows
        if rows:
            out[str(label)] = {str(k): str(v) for k, v in rows if k is not None and v is not None}
    return out

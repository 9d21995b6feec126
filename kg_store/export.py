"""Training exports: contiguous integer ids, edge lists per relationship type, feature matrices.

No model code here: plain numpy/pandas that ``recommend`` and ``embed`` turn into tensors. An
export saved to a directory (:meth:`GraphExport.save`, :meth:`GraphExport.load`) is::

    ids.npz         per label, the node keys as a unicode array (position = contiguous id)
    features.npz    per label, the float32 feature matrix
    edges.npz       per relationship type ``e<j>``, its columns ``e<j>.<col>`` (string columns
                    with a ``e<j>.<col>.null`` mask)
    manifest.json   ``{"version": 1, "edges": [{"key", "rows", "columns"}, ...],
                    "source_labels": {...}}``

An export made through a dataset spec (:mod:`kgrec.spec`) names its user and item labels by their
roles, ``User`` and ``Video`` (:mod:`kgrec.schema`), so that every model and the explainer read
one shape; ``source_labels`` maps those role labels back to the graph's own (``{"User":
"Customer", "Video": "Movie"}``) for everything a person reads and for Cypher sent back to the
graph. Labels other than the two roles keep their names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kg_store.graph_data import GraphData

EdgeKey = tuple[str, str, str]  # (src_label, type, dst_label)


@dataclass
class GraphExport:
    """A graph as arrays.

    Attributes:
        ids: per label, the node keys; position ``i`` is the contiguous id ``i`` of that label.
        edges: per ``(src_label, type, dst_label)``, a frame with int64 ``src`` and ``dst``
            (contiguous ids of their labels) and one column per relationship property.
        features: per label holding ``vector`` properties, a float32 matrix ``[len(ids), dim]``.
        source_labels: role label -> the graph's own label, where they differ (see the module
            docstring); empty for a graph in kgrec's own schema.
    """

    ids: dict[str, pd.Index] = field(default_factory=dict)
    edges: dict[EdgeKey, pd.DataFrame] = field(default_factory=dict)
    features: dict[str, np.ndarray] = field(default_factory=dict)
    source_labels: dict[str, str] = field(default_factory=dict)

    def num_nodes(self, label: str) -> int:
        return len(self.ids.get(label, ()))

    def source_label(self, label: str) -> str:
        """The graph's own name of ``label`` (``Customer`` for the role ``User``)."""
        return self.source_labels.get(label, label)

    def edge_index(self, key: EdgeKey) -> np.ndarray:
        """``[2, E]`` int64 array of one relationship type."""
        f = self.edges[key]
        return np.stack([f["src"].to_numpy(np.int64), f["dst"].to_numpy(np.int64)])

    def types(self) -> list[EdgeKey]:
        return sorted(self.edges)

    def summary(self) -> dict[str, object]:
        return {
            "nodes": {k: len(v) for k, v in sorted(self.ids.items())},
            "edges": {"-".join(k): len(v) for k, v in sorted(self.edges.items())},
            "features": {k: list(v.shape) for k, v in sorted(self.features.items())},
        }

    # -- a directory of arrays ----------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the export as ``.npz`` files plus a ``manifest.json`` under ``directory``.

        No pickles: string columns are stored as unicode arrays with a null mask.
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        savez(d / "ids.npz", {lab: np.asarray(idx, dtype=str) for lab, idx in self.ids.items()})
        savez(d / "features.npz", {lab: np.asarray(m) for lab, m in self.features.items()})
        manifest: list[dict[str, object]] = []
        arrays: dict[str, np.ndarray] = {}
        for j, (key, f) in enumerate(sorted(self.edges.items())):
            cols: list[dict[str, str]] = []
            for c in f.columns:
                v = f[c]
                if v.dtype == object or pd.api.types.is_string_dtype(v.dtype):
                    null = v.isna().to_numpy()
                    arrays[f"e{j}.{c}"] = np.where(null, "", v.astype(str).to_numpy()).astype(str)
                    arrays[f"e{j}.{c}.null"] = null
                    cols.append({"name": str(c), "kind": "str"})
                else:
                    arrays[f"e{j}.{c}"] = v.to_numpy()
                    cols.append({"name": str(c), "kind": "num"})
            manifest.append({"key": list(key), "rows": len(f), "columns": cols})
        savez(d / "edges.npz", arrays)
        (d / "manifest.json").write_text(json.dumps(
            {"version": 1, "edges": manifest, "source_labels": self.source_labels}, indent=1
        ))  # fmt: skip
        return d

    @classmethod
    def load(cls, directory: str | Path) -> GraphExport:
        """Read an export written by :meth:`save`."""
        d = Path(directory)
        manifest = json.loads((d / "manifest.json").read_text())
        out = cls(source_labels={str(k): str(v) for k, v in
                                 manifest.get("source_labels", {}).items()})  # fmt: skip
        with np.load(d / "ids.npz", allow_pickle=False) as z:
            out.ids = {lab: pd.Index(z[lab].astype(object), name=lab) for lab in z.files}
        with np.load(d / "features.npz", allow_pickle=False) as z:
            out.features = {lab: z[lab].astype(np.float32) for lab in z.files}
        with np.load(d / "edges.npz", allow_pickle=False) as z:
            for j, e in enumerate(manifest["edges"]):
                cols: dict[str, object] = {}
                for c in e["columns"]:
                    v = z[f"e{j}.{c['name']}"]
                    if c["kind"] == "str":
                        s = pd.Series(v.astype(object))
                        s[z[f"e{j}.{c['name']}.null"]] = None
                        cols[c["name"]] = s
                    else:
                        cols[c["name"]] = v
                key = tuple(e["key"])
                out.edges[(key[0], key[1], key[2])] = pd.DataFrame(cols)
        return out

    @classmethod
    def from_graph_data(cls, graph: GraphData) -> GraphExport:
        """The export a store would give after loading ``graph``, built without a store.

        Node ids sort by key string and edge rows by ``(src, dst)``, as
        :meth:`GraphStore.export` does; ``vector`` node properties become feature matrices.
        For tests and benchmarks that skip the database round trip.
        """
        g = graph.merged()
        out = cls()
        pos: dict[str, pd.Index] = {}
        for ns in g.nodes:
            keys = pd.Index(sorted(ns.frame["id"].astype(str).unique()), name=ns.label)
            out.ids[ns.label] = keys
            pos[ns.label] = keys
            if "vector" in ns.frame.columns:
                fr = ns.frame.dropna(subset=["vector"])
                if len(fr):
                    mat = np.zeros((len(keys), len(fr["vector"].iloc[0])), np.float32)
                    mat[keys.get_indexer(pd.Index(fr["id"].astype(str)))] = np.stack(
                        [np.asarray(v, np.float32) for v in fr["vector"]]
                    )
                    out.features[ns.label] = mat
        for rs in g.rels:
            src = pos[rs.src_label].get_indexer(pd.Index(rs.frame["src"].astype(str)))
            dst = pos[rs.dst_label].get_indexer(pd.Index(rs.frame["dst"].astype(str)))
            if (src < 0).any() or (dst < 0).any():
                raise ValueError(
                    f"{rs.type}: endpoint not among the {rs.src_label}/{rs.dst_label} nodes"
                )
            frame = pd.DataFrame({"src": src.astype(np.int64), "dst": dst.astype(np.int64)})
            for c in rs.frame.columns:
                if c not in ("src", "dst"):
                    frame[c] = rs.frame[c].to_numpy()
            key = (rs.src_label, rs.type, rs.dst_label)
            out.edges[key] = frame.sort_values(["src", "dst"], ignore_index=True)
        return out


def savez(path: Path, arrays: dict[str, np.ndarray], compress: bool = False) -> None:
    """``np.savez`` (or ``savez_compressed``) of named arrays."""
    # numpy's stubs type ``**kwds`` loosely; one place for the ignore
    save = np.savez_compressed if compress else np.savez
    save(path, **arrays)  # type: ignore[arg-type]


def id_array(values: list[Any]) -> np.ndarray:
    """Node ids as the backend returned them: int64 for internal integer ids (FalkorDB), else an
    object array of strings (Neo4j exports name nodes by their key)."""
    if not values or isinstance(values[0], int | np.integer):
        return np.fromiter(values, dtype=np.int64, count=len(values))
    return np.asarray([str(v) for v in values], dtype=object)


def remap(internal: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Map backend node ids to contiguous positions.

    Args:
        internal: ids to translate, shape ``[E]``: integers or strings, as ``order``.
        order: ids of a label's nodes, position = contiguous id, shape ``[N]``; unique.
    """
    if len(internal) == 0:
        return np.zeros(0, dtype=np.int64)
    if order.dtype.kind not in "iu" or internal.dtype.kind not in "iu":
        index = pd.Index(order)
        if not index.is_unique:
            raise ValueError("node ids repeat among the exported nodes of a label")
        found = index.get_indexer(internal)
        if bool((found < 0).any()):
            raise ValueError("edge endpoint not among the exported nodes of its label")
        return found.astype(np.int64)
    sorter = np.argsort(order, kind="stable")
    pos = np.searchsorted(order, internal, sorter=sorter)
    pos = np.clip(pos, 0, len(order) - 1)
    found = order[sorter[pos]] == internal
    if not bool(np.all(found)):
        raise ValueError("edge endpoint not among the exported nodes of its label")
    return sorter[pos].astype(np.int64)

"""What a loader hands to the store: nodes per label and relationships per type, as frames.

Every node has a string key ``id`` unique within its label. Relationship frames name their
endpoints by those keys (``src``, ``dst``); other columns become properties. Frames are
validated by the loaders; the store only checks identifiers it must put into Cypher text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_identifier(name: str, what: str = "label") -> str:
    """Return ``name`` back-ticked, or raise if it is not a plain identifier.

    Labels and relationship types cannot be Cypher parameters; this is the one place where
    they are put into statement text, and only after this check.
    """
    if not _IDENTIFIER.match(name):
        raise ValueError(f"invalid {what} {name!r}: use letters, digits and underscores")
    return f"`{name}`"


@dataclass
class NodeSet:
    """Nodes of one label. ``frame`` has a string ``id`` column plus property columns."""

    label: str
    frame: pd.DataFrame

    def __post_init__(self) -> None:
        check_identifier(self.label)
        if "id" not in self.frame.columns:
            raise ValueError(f"NodeSet {self.label}: frame has no 'id' column")


@dataclass
class RelSet:
    """Relationships of one type from ``src_label`` nodes to ``dst_label`` nodes.

    ``frame`` has ``src`` and ``dst`` key columns plus property columns. Relationships are
    unique per (src, dst, type): a repeated pair keeps its last row's properties.
    """

    type: str
    src_label: str
    dst_label: str
    frame: pd.DataFrame

    def __post_init__(self) -> None:
        check_identifier(self.type, "relationship type")
        check_identifier(self.src_label)
        check_identifier(self.dst_label)
        missing = {"src", "dst"} - set(self.frame.columns)
        if missing:
            raise ValueError(f"RelSet {self.type}: frame lacks columns {sorted(missing)}")


@dataclass
class GraphData:
    """A batch of nodes and relationships to load together.

    ``dataset`` names where it comes from (``"movielens:ml-100k"``); a graph records the
    datasets loaded into it and refuses to merge another one by accident (see
    :meth:`kg_store.GraphStore.load`). None: no bookkeeping (a load from Python).
    """

    nodes: list[NodeSet] = field(default_factory=list)
    rels: list[RelSet] = field(default_factory=list)
    dataset: str | None = None

    def node_count(self) -> int:
        return sum(len(n.frame) for n in self.nodes)

    def rel_count(self) -> int:
        return sum(len(r.frame) for r in self.rels)

    def merged(self) -> GraphData:
        """Concatenate sets with the same label / type, dropping duplicate keys (last wins)."""
        nodes: dict[str, list[pd.DataFrame]] = {}
        for n in self.nodes:
            nodes.setdefault(n.label, []).append(n.frame)
        rels: dict[tuple[str, str, str], list[pd.DataFrame]] = {}
        for r in self.rels:
            rels.setdefault((r.type, r.src_label, r.dst_label), []).append(r.frame)
        out = GraphData(dataset=self.dataset)
        for label, frames in nodes.items():
            f = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            f = f.assign(id=f["id"].astype(str)).drop_duplicates("id", keep="last")
            out.nodes.append(NodeSet(label, f.reset_index(drop=True)))
        for (t, s, d), frames in rels.items():
            f = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            f = f.assign(src=f["src"].astype(str), dst=f["dst"].astype(str))
            f = f.drop_duplicates(["src", "dst"], keep="last")
            out.rels.append(RelSet(t, s, d, f.reset_index(drop=True)))
        return out

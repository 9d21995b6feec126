"""Graphs to draw: nodes and relationships gathered from query results, drawn with vis-network.

:class:`GraphView` is the one shape every page draws. It is filled from the rows of the
dashboard's neighbourhood query (:meth:`GraphView.add_neighbourhood`), from any result holding
node, relationship or path values of either backend (:func:`from_result`), from the library's
``paths_user_item`` rows, or from explanation paths (:meth:`GraphView.add_path`). :func:`draw`
renders it with ``streamlit-agraph`` (vis-network bundled in the package, so nothing is fetched
at run time) and returns the key of the node the user clicked.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# label -> (colour, vis-network shape); unknown labels get a colour from their name's hash
STYLE: dict[str, tuple[str, str]] = {
    "User": ("#4e79a7", "dot"),
    "Video": ("#f28e2b", "square"),
    "Genre": ("#59a14f", "diamond"),
    "Tag": ("#76b7b2", "triangle"),
    "Person": ("#e15759", "star"),
    "Decade": ("#edc948", "hexagon"),
    "Occupation": ("#b07aa1", "triangleDown"),
    "AgeGroup": ("#ff9da7", "triangleDown"),
    "Gender": ("#9c755f", "triangleDown"),
    "Visual": ("#bab0ac", "ellipse"),
    "Acoustic": ("#bab0ac", "ellipse"),
    "Textual": ("#bab0ac", "ellipse"),
    "Entity": ("#86bcb6", "dot"),
}
_PALETTE = ("#8cd17d", "#b6992d", "#499894", "#d37295", "#fabfd2", "#79706e", "#d4a6c8")
_EDGE_PALETTE = ("#7f7f7f", "#6b8fb8", "#8fb86b", "#b88f6b", "#9a6bb8", "#6bb8b0", "#b86b8a")
EDGE_CAPTIONS = 40
"""Relationship types are written on the edges up to this many edges (always on hover)."""
HIGHLIGHT = "#d62728"
# relationships point from users to videos to attribute entities (kgrec/schema.py)
_RANK = {"User": 0, "Video": 1}
PLACEHOLDER = "Node"
"""Label of a relationship's endpoint that the result did not return."""
MUTED = "#c8c8c8"


def style(label: str) -> tuple[str, str]:
    """Colour and shape of a label (stable for labels not in :data:`STYLE`)."""
    if label in STYLE:
        return STYLE[label]
    h = int(hashlib.md5(label.encode()).hexdigest()[:8], 16)
    return _PALETTE[h % len(_PALETTE)], "dot"


def edge_colour(rel: str) -> str:
    """A stable colour per relationship type (captions are dropped on crowded graphs)."""
    h = int(hashlib.md5(rel.encode()).hexdigest()[:8], 16)
    return _EDGE_PALETTE[h % len(_EDGE_PALETTE)]


def node_key(label: str, id_: object) -> str:
    """The key of a node in a view: ids are unique within a label only."""
    return f"{label}:{id_}"


@dataclass
class GNode:
    key: str
    label: str
    id: str
    name: str | None = None
    props: dict[str, Any] = field(default_factory=dict)
    hops: int | None = None

    @property
    def caption(self) -> str:
        text = self.name if self.name and self.name != self.id else self.id
        return text if len(text) <= 28 else text[:26] + "…"


@dataclass(frozen=True)
class GEdge:
    src: str
    type: str
    dst: str


@dataclass
class GraphView:
    """Nodes by key and relationships between them; adding the same thing twice is harmless."""

    nodes: dict[str, GNode] = field(default_factory=dict)
    edges: list[GEdge] = field(default_factory=list)

    def add_node(
        self, label: str, id_: object, name: object = None, *, key: str | None = None, **kw: Any
    ) -> str:
        key = key or node_key(label, id_)
        node = self.nodes.get(key)
        if node is None:
            text = None if name is None else str(name)
            self.nodes[key] = GNode(key, label, str(id_), text, **kw)
        else:
            if node.label == PLACEHOLDER and label != PLACEHOLDER:  # an edge's endpoint, now known
                node.label, node.id, node.props = label, str(id_), kw.get("props", node.props)
            if node.name is None and name is not None:
                node.name = str(name)
            hops = kw.get("hops")
            if hops is not None and (node.hops is None or hops < node.hops):
                node.hops = hops
        return key

    def add_edge(self, src: str, type_: str, dst: str) -> None:
        e = GEdge(src, type_, dst)
        if e not in self._edge_set():
            self.edges.append(e)

    def _edge_set(self) -> set[GEdge]:
        return set(self.edges)

    def add_neighbourhood(self, records: Iterable[dict[str, Any]]) -> None:
        """Rows of ``ui/neighbourhood_graph``: label, id, name, hops, out."""
        rows = list(records)
        for r in rows:
            self.add_node(r["label"], r["id"], r["name"], hops=r["hops"])
        seen = self._edge_set()
        for r in rows:
            src = node_key(r["label"], r["id"])
            for rel, label, id_ in r["out"] or []:
                e = GEdge(src, rel, node_key(label, id_))
                if e not in seen and e.dst in self.nodes:
                    seen.add(e)
                    self.edges.append(e)

    def add_path(
        self,
        nodes: Sequence[dict[str, Any]],
        relations: Sequence[str],
        forward: Sequence[bool] | None = None,
    ) -> list[str]:
        """An explanation path: ``nodes`` as ``{id, label, name}`` from the user to the item,
        one relation between each pair. ``forward[k]`` says whether relation ``k`` points along
        the path; without it the graph model decides (users point at videos, videos and users
        at their attributes). Returns the keys along the path."""
        keys = [self.add_node(str(n.get("label")), n.get("id"), n.get("name")) for n in nodes]
        for k, (a, b, rel) in enumerate(zip(keys, keys[1:], relations, strict=False)):
            if forward is not None and k < len(forward):
                along = bool(forward[k])
            else:
                along = _RANK.get(self.nodes[a].label, 2) <= _RANK.get(self.nodes[b].label, 2)
            self.add_edge(a, str(rel), b) if along else self.add_edge(b, str(rel), a)
        return keys

    def types(self) -> list[str]:
        return sorted({e.type for e in self.edges})

    def labels(self) -> list[str]:
        return sorted({n.label for n in self.nodes.values()})


# -- results of any query ---------------------------------------------------------------------
def _is_node(v: Any) -> bool:
    return hasattr(v, "labels") and (hasattr(v, "properties") or hasattr(v, "element_id"))


def _is_edge(v: Any) -> bool:
    return (hasattr(v, "relation") and hasattr(v, "src_node")) or (
        hasattr(v, "start_node") and hasattr(v, "type") and hasattr(v, "element_id")
    )


def _is_path(v: Any) -> bool:
    return (callable(getattr(v, "nodes", None)) and callable(getattr(v, "edges", None))) or (
        hasattr(v, "relationships") and hasattr(v, "start_node") and not _is_edge(v)
    )


def _props(v: Any) -> dict[str, Any]:
    if hasattr(v, "properties") and isinstance(v.properties, dict):
        return dict(v.properties)
    try:
        return dict(v)
    except (TypeError, ValueError):
        return {}


def _internal(v: Any) -> str:
    return str(getattr(v, "element_id", None) or getattr(v, "id", None))


def _add_value_node(view: GraphView, v: Any) -> str:
    labels = v.labels if isinstance(v.labels, list | tuple) else sorted(v.labels or [])
    label = str(labels[0]) if labels else "Node"
    props = _props(v)
    key = f"#{_internal(v)}"
    name = props.get("title", props.get("name"))
    return view.add_node(label, props.get("id", key), name, key=key, props=props)


def _endpoint(view: GraphView, v: Any) -> str:
    if _is_node(v):
        return _add_value_node(view, v)
    key = f"#{v}"  # FalkorDB edges carry their endpoints' internal ids only
    if key not in view.nodes:
        view.add_node(PLACEHOLDER, key, None, key=key)
    return key


def _add_value(view: GraphView, v: Any) -> None:
    if _is_node(v):
        _add_value_node(view, v)
    elif _is_edge(v):
        if hasattr(v, "relation"):
            src, dst, rel = v.src_node, v.dest_node, v.relation
        else:
            src, dst, rel = v.start_node, v.end_node, v.type
        view.add_edge(_endpoint(view, src), str(rel), _endpoint(view, dst))
    elif _is_path(v):
        nodes = v.nodes() if callable(v.nodes) else v.nodes
        rels = v.edges() if callable(getattr(v, "edges", None)) else v.relationships
        for n in nodes:
            _add_value_node(view, n)
        for r in rels:
            _add_value(view, r)
    elif isinstance(v, list | tuple):
        for x in v:
            _add_value(view, x)


def from_result(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> GraphView | None:
    """A graph of the nodes, relationships and paths in a result, or ``None`` when it holds
    none. Rows shaped like the library's ``paths_user_item`` (``node_labels``, ``node_ids``,
    ``rel_types``, ``forward``) are drawn as their paths."""
    view = GraphView()
    cols = list(columns)
    if {"node_labels", "node_ids", "rel_types"} <= set(cols):
        i_l, i_i, i_r = cols.index("node_labels"), cols.index("node_ids"), cols.index("rel_types")
        i_f = cols.index("forward") if "forward" in cols else None
        for row in rows:
            keys = [view.add_node(str(lb), i) for lb, i in zip(row[i_l], row[i_i], strict=False)]
            fwd = row[i_f] if i_f is not None else [True] * len(row[i_r])
            for k, rel in enumerate(row[i_r]):
                a, b = keys[k], keys[k + 1]
                view.add_edge(a, str(rel), b) if fwd[k] else view.add_edge(b, str(rel), a)
    else:
        for row in rows:  # nodes first, so relationships find their endpoints
            for v in sorted(row, key=lambda x: not _is_node(x)):
                _add_value(view, v)
    return view if view.nodes else None


def display_value(v: Any) -> Any:
    """A table cell: scalars as they are, nodes/relationships/paths as short text, lists and
    maps as JSON (long vectors abridged)."""
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if _is_node(v):
        labels = v.labels if isinstance(v.labels, list | tuple) else sorted(v.labels or [])
        props = _props(v)
        shown = {k: abridge(x) for k, x in props.items()}
        return f"(:{':'.join(map(str, labels))} {json.dumps(shown, default=str)})"
    if _is_edge(v):
        return f"[:{getattr(v, 'relation', None) or getattr(v, 'type', '')}]"
    if _is_path(v):
        nodes = v.nodes() if callable(v.nodes) else v.nodes
        return " - ".join(str(_props(n).get("id", "?")) for n in nodes)
    return json.dumps(abridge(v), default=str)


def abridge(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: abridge(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        if len(v) > 8 and all(isinstance(x, int | float) for x in v):
            return f"[{len(v)} numbers: {', '.join(f'{x:.3g}' for x in v[:3])}, …]"
        return [abridge(x) for x in v]
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return display_value(v)


# -- drawing ----------------------------------------------------------------------------------
def legend_html(labels: Iterable[str], types: Iterable[str] = ()) -> str:
    """Coloured swatches for the labels drawn (and lines for the relationship types)."""
    parts = []
    for rel in types:
        parts.append(
            f'<span style="display:inline-block;margin-right:12px">'
            f'<span style="display:inline-block;width:16px;height:3px;vertical-align:middle;'
            f'background:{edge_colour(rel)};margin-right:4px"></span>{html.escape(rel)}</span>'
        )
    if parts:
        parts.append("<br/>")
    for label in labels:
        colour, shape = style(label)
        parts.append(
            f'<span style="display:inline-block;margin-right:12px">'
            f'<span style="display:inline-block;width:11px;height:11px;background:{colour};'
            f"border-radius:{'50%' if shape in ('dot', 'ellipse') else '2px'};"
            f'margin-right:4px"></span>{html.escape(label)}</span>'
        )
    return '<div style="font-size:0.85rem">' + "".join(parts) + "</div>"


def draw(
    view: GraphView,
    *,
    height: int = 520,
    highlight: Sequence[str] = (),
    centre: Sequence[str] = (),
    physics: bool = True,
) -> str | None:
    """Draw ``view``; nodes and relationships along ``highlight`` (keys in order) stand out,
    others are muted when a highlight is given. Returns the clicked node's key, if any."""
    from streamlit_agraph import Config, Edge, Node, agraph

    on_path = set(highlight)
    path_edges = {(a, b) for a, b in zip(highlight, highlight[1:], strict=False)}
    nodes = []
    for n in view.nodes.values():
        colour, shape = style(n.label)
        muted = bool(on_path) and n.key not in on_path
        nodes.append(
            Node(
                id=n.key,
                label=n.caption,
                color=MUTED if muted else colour,
                shape=shape,
                size=22 if n.key in centre or n.key in on_path else 14,
                borderWidth=3 if n.key in centre else 1,
                font={"color": "#999999" if muted else "#222222", "size": 13},
            )
        )
    edges = []
    captions = len(view.edges) <= EDGE_CAPTIONS or bool(on_path)
    between: dict[frozenset[str], int] = {}
    for e in view.edges:
        # several relationships between two nodes: bend all but the first apart
        pair = frozenset((e.src, e.dst))
        k = between[pair] = between.get(pair, -1) + 1
        smooth = {"enabled": k > 0, "type": "curvedCW", "roundness": 0.2 * k}
        hot = (e.src, e.dst) in path_edges or (e.dst, e.src) in path_edges
        colour = HIGHLIGHT if hot else (MUTED if on_path else edge_colour(e.type))
        edges.append(
            Edge(
                source=e.src,
                target=e.dst,
                label=e.type if captions or hot else None,
                title=e.type,
                color=colour,
                width=4 if hot else 1.5,
                smooth=smooth,
                font={"size": 10, "color": "#555555", "strokeWidth": 0},
            )
        )
    config = Config(
        height=height,
        directed=True,
        physics=physics,
        hierarchical=False,
        nodeHighlightBehavior=True,
        highlightColor=HIGHLIGHT,
    )
    config.width = "100%"  # fill the column (Config itself only takes pixels)
    for node in nodes:
        # the component opens a node's title as a URL on double-click: no titles on nodes
        node.title = None
    clicked = agraph(nodes=nodes, edges=edges, config=config)
    return str(clicked) if clicked else None

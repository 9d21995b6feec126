"""Explore: find a node, draw its neighbourhood, expand nodes, inspect properties."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui import data
from ui.graph import GraphView, abridge, draw, legend_html, node_key

ANY = "any label"


def split_key(key: str) -> tuple[str, str]:
    label, _, id_ = key.partition(":")
    return label, id_


def _set_centre(key: str) -> None:
    st.session_state["explore_centres"] = [key]
    st.session_state["explore_selected"] = key


def render() -> None:
    st.title("Explore")
    state = st.session_state
    state.setdefault("explore_centres", [])
    state.setdefault("explore_selected", None)
    state.setdefault("explore_clicked", None)

    labels = [ANY, *data.stats()["nodes"].keys()]
    c1, c2, c3, c4 = st.columns([3, 1.3, 1, 1.3])
    text = c1.text_input("Find a node by name or id", key="explore_text",
                         placeholder="e.g. u3, Comedy, Midnight")  # fmt: skip
    label = c2.selectbox("label", labels, key="explore_label")
    hops = c3.slider("hops", 1, 3, 1, key="explore_hops")
    limit = c4.slider("most nodes per centre", 10, 300, 60, step=10, key="explore_limit")

    params: dict[str, Any] = {"text": text.strip(), "limit": 25}
    params["label"] = None if label == ANY else label
    if not params["text"] and label == ANY and "User" in labels:
        params["label"] = "User"  # before any search: start from a user
    with data.shown_errors("The search"):
        matches = data.query("ui/find_nodes", params).records()
    if not matches:
        st.warning(f"No node's id, title or name contains {text!r}.")
        return
    options = [node_key(m["label"], m["id"]) for m in matches]
    names = {node_key(m["label"], m["id"]): m["name"] for m in matches}

    def fmt(key: str) -> str:
        lb, i = split_key(key)
        name = names.get(key)
        return f"{lb} · {i}" + (f" · {name}" if name and name != i else "")

    pick = st.selectbox(
        f"matches ({len(matches)}{'+' if len(matches) == 25 else ''})",
        options,
        format_func=fmt,
        key="explore_match",
        on_change=lambda: _set_centre(st.session_state["explore_match"]),
    )
    search = (text.strip(), label)
    if not state["explore_centres"] or state.get("explore_search") != search:
        _set_centre(pick)  # a new search shows its best match
    state["explore_search"] = search

    view = GraphView()
    with data.shown_errors("The neighbourhood query"), st.spinner("Expanding…"):
        for key in state["explore_centres"]:
            lb, i = split_key(key)
            rows = data.query(
                "ui/neighbourhood_graph", {"label": lb, "id": i, "hops": hops, "limit": limit}
            ).records()
            view.add_neighbourhood(rows)
    if not view.nodes:
        st.warning("That node is no longer in the graph.")
        state["explore_centres"] = []
        return

    left, right = st.columns([3, 1.2])
    with left:
        clicked = draw(view, centre=state["explore_centres"], height=560)
        if clicked and clicked != state["explore_clicked"]:
            state["explore_clicked"] = clicked
            state["explore_selected"] = clicked
        st.markdown(legend_html(view.labels(), view.types()), unsafe_allow_html=True)
        st.caption(
            f"{len(view.nodes)} nodes, {len(view.edges)} relationships around "
            f"{', '.join(state['explore_centres'])} ({hops} hop{'s' if hops > 1 else ''}); "
            f"relationship types: {', '.join(view.types()) or 'none'}. "
            "Click a node to inspect it; drag to move, scroll to zoom."
        )
    with right:
        _inspector(view)


def _inspector(view: GraphView) -> None:
    state = st.session_state
    keys = list(view.nodes)
    if state["explore_selected"] not in view.nodes:
        state["explore_selected"] = state["explore_centres"][0]
    index = keys.index(state["explore_selected"]) if state["explore_selected"] in keys else 0
    sel = st.selectbox(
        "node",
        keys,
        index=index,
        format_func=lambda k: f"{view.nodes[k].label} · {view.nodes[k].caption}",
        key=f"explore_node_{state['explore_selected']}",
    )
    state["explore_selected"] = sel
    lb, i = split_key(sel)
    b1, b2, b3 = st.columns(3)
    if b1.button("Expand", key="explore_expand", help="Add this node's neighbourhood"):
        if sel not in state["explore_centres"]:
            state["explore_centres"].append(sel)
        st.rerun()
    if b2.button("Centre", key="explore_centre", help="Show only this node's neighbourhood"):
        _set_centre(sel)
        st.rerun()
    if b3.button("Reset", key="explore_reset", help="Back to the search result"):
        state["explore_centres"] = []
        st.rerun()
    with data.shown_errors("Reading the node"):
        rec = data.query("ui/node_properties", {"label": lb, "id": i}).records()
    if not rec:
        st.write("Not found.")
        return
    props = dict(rec[0]["properties"] or {})
    st.markdown(f"**{':'.join(rec[0]['labels'])}** `{i}` · degree {rec[0]['degree']}")
    rows = [(k, str(abridge(v))) for k, v in sorted(props.items())]
    st.dataframe(pd.DataFrame(rows, columns=["property", "value"]), hide_index=True)
    neighbours = [e for e in view.edges if sel in (e.src, e.dst)]
    if neighbours:
        st.caption("relationships drawn")
        st.dataframe(
            pd.DataFrame(
                [
                    (e.type, e.dst if e.src == sel else e.src, "out" if e.src == sel else "in")
                    for e in neighbours
                ],
                columns=["type", "other node", "direction"],
            ),  # fmt: skip
            hide_index=True,
            height=min(300, 36 + 35 * len(neighbours)),
        )

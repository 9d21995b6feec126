"""Query: a library query with its parameters as form fields, or free read-only Cypher; the
answer as a table, as a graph when it holds nodes, relationships or paths, and as CSV."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from kg_store import QueryResult, ReadOnlyViolation, StoreError, library
from ui import data
from ui.graph import display_value, draw, from_result, legend_html

# a parameter of this name is prefilled with an id of this label found in the graph
EXAMPLE_LABEL = {"user_id": "User", "item_id": "Video", "genre": "Genre", "tag": "Tag",
                 "id": "Video"}  # fmt: skip
HANDOVER = "query_handover"
"""Session key of a statement handed over by another page (``{"statement", "params"}``: the
Recommend page's "Run on the Query page"); the Query page opens it in "Your Cypher" and runs it."""
# the editor's starting text, shown to the analyst (not a statement the dashboard runs)
EXAMPLE_CYPHER = (
    "MATCH (u:User)-[r:LIKED]->(v:Video)-[g:HAS_GENRE]->(x:Genre)\n"  # layout: cypher
    "RETURN u, r, v, g, x\nLIMIT 30"
)


def render() -> None:
    st.title("Query")
    st.caption(
        "Read-only: statements that could write (CREATE, MERGE, SET, DELETE, …) are refused "
        f"before they reach the store. At most {data.settings().max_rows:,} rows and "
        f"{data.settings().query_timeout:g} s per query."
    )
    handed = st.session_state.pop(HANDOVER, None)
    if handed:  # fill the editor with it (widget state is set before the widgets exist)
        st.session_state["query_cypher"] = handed["statement"]
        st.session_state["query_cypher_params"] = json.dumps(handed.get("params") or {})
    lib_tab, own_tab = st.tabs(["Library query", "Your Cypher"],
                               default="Your Cypher" if handed else None)  # fmt: skip
    with lib_tab:
        _library_form()
    with own_tab:
        _cypher_form(run_now=bool(handed))
    shown = st.session_state.get("query_answer")
    if shown:
        _answer(*shown)


def _field(name: str, p: library.Param) -> Any:
    key = f"query_{name}_{p.name}"
    label = f"{p.name}{'' if p.required else ' (optional)'}"
    help_ = p.description
    d = p.default
    if isinstance(d, bool):
        return st.checkbox(label, value=d, key=key, help=help_)
    if isinstance(d, int):
        return int(st.number_input(label, value=d, step=1, key=key, help=help_))
    if isinstance(d, float):
        return float(st.number_input(label, value=d, key=key, help=help_))
    if isinstance(d, list | dict):
        raw = st.text_input(label + " (JSON)", value=json.dumps(d), key=key, help=help_)
        try:
            return json.loads(raw)
        except json.JSONDecodeError as e:
            raise ValueError(f"parameter {p.name!r}: not valid JSON ({e.msg})") from e
    example = ""
    if p.required and p.name in EXAMPLE_LABEL:
        example = data.example_id(EXAMPLE_LABEL[p.name])
    raw = st.text_input(label, value=example if d is None else str(d), key=key, help=help_)
    if not p.required and d is None and not raw.strip():
        return None
    return raw


def _library_form() -> None:
    names = data.library_names()
    name = st.selectbox("query", names, key="query_name")
    st_ = data.statement(name)
    st.markdown(st_.description)
    with st.form(f"query_form_{name}"):
        values: dict[str, Any] = {}
        bad: list[str] = []
        cols = st.columns(min(3, max(1, len(st_.params))))
        for k, p in enumerate(st_.params):
            with cols[k % len(cols)]:
                try:
                    values[p.name] = _field(name, p)
                except ValueError as e:
                    bad.append(str(e))
        with st.expander("Cypher"):
            st.code(st_.text, language="cypher")
        submitted = st.form_submit_button("Run query", type="primary")
    if submitted:
        if bad:
            st.error("; ".join(bad))
            return
        missing = [p.name for p in st_.params if p.required and values.get(p.name) in ("", None)]
        if missing:
            st.error(f"Fill in {', '.join(missing)} first.")
            return
        _run(f"{name} {json.dumps(values)}", lambda: data.query(name, values))


def _cypher_form(run_now: bool = False) -> None:
    """Free read-only Cypher with JSON parameters; ``run_now``: run what is in the editor
    without waiting for the button (a statement handed over from another page)."""
    if "query_cypher" not in st.session_state:
        st.session_state["query_cypher"] = EXAMPLE_CYPHER
    with st.form("query_cypher_form"):
        text = st.text_area("Cypher", height=140, key="query_cypher")
        raw = st.text_input("parameters (JSON object)", value="{}", key="query_cypher_params",
                            help='e.g. {"k0": "196"}: the statement reads them as $k0')  # fmt: skip
        max_rows = st.number_input(
            "most rows", 1, data.settings().max_rows, min(200, data.settings().max_rows)
        )
        submitted = st.form_submit_button("Run Cypher", type="primary")
    if submitted or run_now:
        try:
            params = json.loads(raw or "{}")
            if not isinstance(params, dict):
                raise ValueError("a JSON object is needed")
        except ValueError as e:
            st.error(f"parameters: not a JSON object ({e})")
            return
        s = data.settings()
        title = "the path from Recommend" if run_now else "your Cypher"
        _run(title, lambda: data.store().read_only(text, params, max_rows=int(max_rows),
                                                   timeout=s.query_timeout))  # fmt: skip


def _run(title: str, call: Any) -> None:
    try:
        with st.spinner("Running…"):
            res: QueryResult = call()
    except ReadOnlyViolation as e:
        st.session_state["query_answer"] = None
        st.error(f"Not run: {data.plain_error(e)}.")
        return
    except (StoreError, ValueError) as e:
        st.session_state["query_answer"] = None
        st.error(f"The query failed: {data.plain_error(e)}")
        return
    st.session_state["query_answer"] = (title, res)


def _answer(title: str, res: QueryResult) -> None:
    st.subheader("Answer")
    note = " — truncated at the row cap" if res.truncated else ""
    st.caption(f"{title}: {len(res.rows)} row(s) in {res.elapsed_s * 1000:.0f} ms{note}")
    if not res.columns:
        st.info("The query returned no columns.")
        return
    table = pd.DataFrame([[display_value(v) for v in row] for row in res.rows], columns=res.columns)
    for c in table.columns:  # Arrow needs one type per column
        kinds = {type(v) for v in table[c] if v is not None}
        if len(kinds) > 1:
            table[c] = [None if v is None else str(v) for v in table[c]]
    st.dataframe(table, hide_index=True, width="stretch")
    st.download_button(
        "Download CSV",
        table.to_csv(index=False).encode(),
        file_name="query.csv",
        mime="text/csv",
        key="query_csv",
    )
    view = from_result(res.columns, res.rows)
    if view:
        st.subheader("As a graph")
        draw(view, height=520)
        st.markdown(legend_html(view.labels(), view.types()), unsafe_allow_html=True)
        st.caption(
            f"{len(view.nodes)} nodes, {len(view.edges)} relationships; "
            f"types: {', '.join(view.types()) or 'none'}"
        )

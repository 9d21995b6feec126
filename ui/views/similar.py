"""Similar: the entities nearest to one, by the TransR embeddings written back to the graph
(``cypher/similar_entities.cypher``), or by the vectors of a trained recommendation run."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from kg_store import StoreError
from ui import data
from ui.graph import node_key

QUERY = "similar_entities"
TRANSR = "TransR embeddings in the graph"
RUN = "a recommendation run's vectors"
NO_EMBEDDINGS = (
    "No TransR embeddings in this graph yet. Train and write them back first: "
    "`kgrec embed --model transr` (see the README)."
)


def render() -> None:
    st.title("Similar")
    labels = list(data.stats()["nodes"])
    if not labels:
        st.info("The graph is empty.")
        return
    source = st.radio("by", [TRANSR, RUN], horizontal=True, key="sim_source")
    c1, c2, c3 = st.columns([1, 3, 1])
    default = labels.index("Video") if "Video" in labels else 0
    label = c1.selectbox("label", labels, index=default, key="sim_label")
    text = c2.text_input("entity (name or id)", key="sim_text", placeholder="e.g. v3, Comedy")
    k = int(c3.number_input("how many", 1, 100, 10, key="sim_k"))
    with data.shown_errors("The search"):
        matches = data.query("ui/find_nodes", {"text": text.strip(), "label": label,
                                               "limit": 25}).records()  # fmt: skip
    if not matches:
        st.warning(f"No {label} matches {text!r}.")
        return
    names = {str(m["id"]): m["name"] for m in matches}
    entity = st.selectbox(
        "entity",
        list(names),
        format_func=lambda i: f"{i} · {names[i]}" if names[i] and names[i] != i else i,
        key="sim_entity",
    )
    if source == TRANSR:
        _by_embeddings(label, entity, k)
    else:
        _by_run(label, entity, k)


def _params(name: str, label: str, entity: str, k: int) -> dict[str, Any]:
    """Fill the library query's parameters by their names: the entity's id and label, and the
    number of neighbours; the rest keep their defaults."""
    out: dict[str, Any] = {}
    for p in data.statement(name).params:
        n = p.name.lower()
        if n in ("id", "entity_id", "node_id", "item_id") or n.endswith("_id"):
            out[p.name] = entity
        elif "label" in n:
            out[p.name] = label
        elif n in ("k", "limit", "top", "top_k", "n"):
            out[p.name] = k
    return out


def _by_embeddings(label: str, entity: str, k: int) -> None:
    if not data.has_query(QUERY):
        st.info(f"{NO_EMBEDDINGS} (this installation has no `cypher/{QUERY}.cypher` yet)")
        return
    st.caption(data.statement(QUERY).description)
    try:
        with st.spinner("Searching the nearest entities…"):
            res = data.query(QUERY, _params(QUERY, label, entity, k))
    except (StoreError, ValueError) as e:
        msg = data.plain_error(e)
        if "embedding" in msg.lower() or "index" in msg.lower() or "vector" in msg.lower():
            st.info(f"{NO_EMBEDDINGS} ({msg})")
        else:
            st.error(f"The similarity query failed: {msg}")
        return
    if not res.rows:
        st.info(f"{NO_EMBEDDINGS} ({label} {entity} has no embedding.)")
        return
    st.dataframe(pd.DataFrame(res.rows, columns=res.columns), hide_index=True, width="stretch")


def _by_run(label: str, entity: str, k: int) -> None:
    from ui.views.recommend import servable_runs, service

    runs = servable_runs(str(data.settings().runs_dir))
    if not runs:
        st.info("No trained run yet: `kgrec train --model bprmf` makes one.")
        return
    by_name = {r["run"]: r for r in runs}
    name = st.selectbox(
        "run",
        list(by_name),
        format_func=lambda n: f"{by_name[n]['model']} · {by_name[n]['dataset']} · {n}",
        key="sim_run",
    )
    with st.spinner(f"Loading run {name}…"), data.shown_errors("Loading the run"):
        svc = service(by_name[name]["path"])
    st.caption(
        "Cosine similarity of the vectors the run's explanations use: the model's user and "
        "item vectors; an attribute entity's is the mean of its neighbours'."
    )
    try:
        rows = svc.similar(label, entity, k)
    except (KeyError, ValueError) as e:
        st.info(f"{node_key(label, entity)} is not in run {name}: {data.plain_error(e)}")
        return
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

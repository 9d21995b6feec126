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
TRANSR = "knowledge-graph embeddings (TransR/TransE) in the graph"
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
    embedded: dict[str, int] = {}
    if source == TRANSR:
        with data.shown_errors("Looking for embeddings"):
            embedded = {r["label"]: r["nodes"] for r in data.query("ui/embedding_counts").records()}
        if not embedded:
            st.info(NO_EMBEDDINGS)
            return
        st.caption(
            "Embeddings in the graph: " + ", ".join(f"{lb} {n:,}" for lb, n in embedded.items())
        )
        labels = [lb for lb in labels if lb in embedded]
    c1, c2, c3 = st.columns([1, 3, 1])
    default = labels.index("Video") if "Video" in labels else 0
    label = c1.selectbox("label", labels, index=default, key=f"sim_label_{source}")
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
        _by_embeddings(label, entity, k, list(embedded))
    else:
        _by_run(label, entity, k)


def _by_embeddings(label: str, entity: str, k: int, labels: list[str]) -> None:
    if not data.has_query(QUERY):
        st.info(f"This installation has no `cypher/{QUERY}.cypher` yet.")
        return
    target = st.selectbox(
        "nearest entities with label", labels, index=labels.index(label), key="sim_target"
    )
    st.caption(data.statement(QUERY).description)
    params: dict[str, Any] = {"id": entity, "label": label, "limit": k}
    params["target_label"] = None if target == label else target
    try:
        with st.spinner("Searching the nearest entities…"):
            res = data.query(QUERY, params)
    except (StoreError, ValueError) as e:
        st.error(f"The similarity query failed: {data.plain_error(e)}")
        return
    if not res.rows:
        st.info(f"{label} {entity} has no embedding: {NO_EMBEDDINGS}")
        return
    st.caption(f"the {len(res.rows)} {target} entities nearest to {label} {entity}")
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

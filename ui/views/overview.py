"""Overview: counts by label and relationship type, degree distributions, interactions over
time."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ui import data

BUCKETS = {"day": 86_400, "week": 7 * 86_400, "30 days": 30 * 86_400}


def render() -> None:
    st.title("Overview")
    st.caption(data.store().describe())
    with data.shown_errors("Reading the graph statistics"), st.spinner("Counting nodes…"):
        counts = data.stats()
    nodes = pd.DataFrame(counts["nodes"].items(), columns=["label", "nodes"])
    rels = pd.DataFrame(counts["relationships"].items(), columns=["type", "relationships"])
    if nodes.empty:
        st.info(
            "The graph is empty. Load data first, e.g. "
            "`kgrec ingest synthetic --users 500 --videos 300`."
        )
        return
    a, b, c = st.columns(3)
    a.metric("nodes", f"{int(nodes['nodes'].sum()):,}")
    b.metric("relationships", f"{int(rels['relationships'].sum()):,}")
    c.metric("labels / types", f"{len(nodes)} / {len(rels)}")

    left, right = st.columns(2)
    with left:
        st.subheader("Nodes by label")
        st.altair_chart(_bars(nodes, "label", "nodes"), width="stretch")
    with right:
        st.subheader("Relationships by type")
        st.altair_chart(_bars(rels, "type", "relationships"), width="stretch")

    st.subheader("Degree distribution")
    labels = nodes["label"].tolist()
    default = labels.index("Video") if "Video" in labels else 0
    label = st.selectbox("label", labels, index=default, key="overview_degree_label")
    with data.shown_errors("The degree query"), st.spinner("Counting degrees…"):
        deg = data.frame("ui/degree_distribution", {"label": label})
    deg = deg[deg["label"] == label]
    if deg.empty:
        st.write("No nodes with this label.")
    else:
        mean = float((deg["degree"] * deg["nodes"]).sum() / deg["nodes"].sum())
        st.caption(
            f"{label}: degree {int(deg['degree'].min())} to {int(deg['degree'].max())}, "
            f"mean {mean:.1f} (relationships in either direction)"
        )
        chart = (
            alt.Chart(deg)
            .mark_bar()
            .encode(
                x=alt.X("degree:Q", bin=alt.Bin(maxbins=40), title="degree"),
                y=alt.Y("sum(nodes):Q", title="nodes"),
                tooltip=["degree", "nodes"],
            )
        )
        st.altair_chart(chart, width="stretch")

    st.subheader("Interactions over time")
    width = st.radio("bucket", list(BUCKETS), index=1, horizontal=True, key="overview_bucket")
    with data.shown_errors("The interactions query"), st.spinner("Counting interactions…"):
        ts = data.frame("ui/interactions_over_time", {"bucket": BUCKETS[width]})
    if ts.empty:
        st.write("No User→Video interaction carries a timestamp (`ts`).")
        return
    ts["date"] = pd.to_datetime(ts["bucket"], unit="s")
    chart = (
        alt.Chart(ts)
        .mark_line(point=len(ts) < 80)
        .encode(
            x=alt.X("date:T", title=f"{width} starting"),
            y=alt.Y("interactions:Q"),
            color=alt.Color("kind:N", title="interaction"),
            tooltip=["date:T", "kind", "interactions"],
        )
    )
    st.altair_chart(chart, width="stretch")


def _bars(df: pd.DataFrame, key: str, value: str) -> alt.Chart:
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X(f"{value}:Q"),
            y=alt.Y(f"{key}:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False)),
            tooltip=[key, value],
        )
        .properties(height=alt.Step(22))
    )

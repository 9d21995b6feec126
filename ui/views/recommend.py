"""Recommend: pick a run and a user; the user's profile and history, the top-K items with their
scores and whole first reason, and for a chosen item its explanation paths drawn as a graph, the
path highlighted, what the item would lose without it (counterfactual), and the Cypher that shows
it in the graph, which the Query page runs on request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from ui import data
from ui.graph import GraphView, draw, legend_html
from ui.views import query

if TYPE_CHECKING:
    from recommend.serving import RecommenderService


@st.cache_data(ttl=10, show_spinner=False)
def servable_runs(runs_dir: str) -> list[dict[str, Any]]:
    """Finished runs with best weights, newest first."""
    from recommend.runs import BEST, list_runs

    out = []
    for run in reversed(list_runs(Path(runs_dir))):
        if (run.path / BEST).exists():
            s = run.summary()
            out.append({"run": run.name, "path": str(run.path), "model": s["model"],
                        "dataset": s["dataset"], "status": s["status"]})  # fmt: skip
    return out


@st.cache_resource(max_entries=3, show_spinner=False)
def service(run_path: str) -> RecommenderService:
    """A loaded run (weights, vectors and the explanation graph), kept for every session.

    Display names come from the run's ``names.json``; without it they are read from the
    store graph the run was trained on, when that graph exists."""
    from recommend.runs import Run
    from recommend.serving import RecommenderService, names_from_store

    svc = RecommenderService(Run(Path(run_path)))
    if not svc.names:
        try:
            names = names_from_store(data.store(svc.dataset), svc.graph.labels)
        except Exception:  # noqa: BLE001 - names are a nicety: ids are shown instead
            names = {}
        if names:
            svc.set_names(names, cache=False)
    return svc


def render() -> None:
    st.title("Recommend")
    try:
        import recommend.serving  # noqa: F401
    except ImportError as e:
        st.error(f"Serving is not available in this installation: {e}")
        return
    from recommend.explain import PRESETS

    runs = servable_runs(str(data.settings().runs_dir))
    if not runs:
        st.info(
            f"No trained run in {data.settings().runs_dir}. Train one first, e.g. "
            "`kgrec train --model bprmf`."
        )
        return
    c1, c2, c3, c4, c5 = st.columns([3, 2, 1, 1, 1])
    by_name = {r["run"]: r for r in runs}
    name = c1.selectbox(
        "run",
        list(by_name),
        format_func=lambda n: f"{by_name[n]['model']} · {by_name[n]['dataset']} · {n}",
        key="rec_run",
    )
    with st.spinner(f"Loading run {name}…"), data.shown_errors("Loading the run"):
        svc = service(by_name[name]["path"])
    users = svc.user_ids.tolist()
    user = c2.selectbox(f"user ({len(users):,} in the run)", users, key="rec_user")
    k = c3.number_input("top K", 1, 100, 10, key="rec_k")
    n_paths = c4.number_input("paths per item", 1, 10, 3, key="rec_paths")
    ranking = c5.selectbox(
        "path ranking",
        list(PRESETS),
        index=list(PRESETS).index(svc.explainer.ranking.name),
        key="rec_ranking",
        help="model: the model's path weight alone; balanced: combined with how specific the "
        "linking entities are, the paths whose masking would cost the score most first, the "
        "user's own history before demographics; specific: mostly specificity; faithful: the "
        "costliest to mask first, demographics included.",
    )
    maskable = svc.path_scoring.startswith("attention")
    counterfactual = st.checkbox(
        "counterfactual: each path's item rank without it (one propagation per path)",
        key="rec_counterfactual",
        disabled=not maskable,
        help=None if maskable else "Only models that propagate over attention edges.",
    )
    info = svc.info()
    st.caption(
        f"model {info['model']} on {info['dataset']}: {info['users']:,} users, "
        f"{info['items']:,} items; paths scored by {info['path_scoring']}; "
        f"loaded in {info['load_seconds']:.1f} s"
    )

    with st.spinner("Ranking and explaining…"), data.shown_errors("Recommending"):
        answer = svc.recommend(str(user), k=int(k), explain=True, paths=int(n_paths),
                               path_ranking=ranking,
                               counterfactual=bool(counterfactual and maskable))  # fmt: skip
    items = answer["items"]

    prof, recs = st.columns([1, 2])
    with prof:
        _profile(svc.dataset, str(user))
    with recs:
        st.subheader(f"Top {len(items)} for user {user}")
        table = pd.DataFrame(
            [{"rank": it["rank"], "item": it["item"], "name": it.get("name", it["item"]),
              "score": f"{it['score']:.4f}",
              "why": it["reasons"][0]["text"] if it["reasons"] else ""} for it in items]
        )  # fmt: skip
        st.table(table.set_index("rank"))  # a static table wraps the whole first reason
        cost = answer["cost"]
        st.caption(
            f"paths ranked {answer['path_ranking']}; explained in {cost['explain_ms']:.0f} ms"
            + (f", {cost['masked_paths']} path(s) masked in {cost['counterfactual_ms']:.0f} ms"
               if cost["masked_paths"] else "")
        )  # fmt: skip
    if not items:
        st.info("Nothing to recommend: the user has interacted with every item.")
        return
    _explanation(items)


def _profile(graph: str, user: str) -> None:
    st.subheader("Profile")
    try:
        rows = data.query("user_profile", {"user_id": user, "limit": 50}, graph=graph).records()
    except Exception as e:  # noqa: BLE001 - the run's graph may not be in this store
        st.caption(f"No profile: graph {graph!r} could not be read ({data.plain_error(e)}).")
        return
    if not rows:
        st.caption(f"User {user} is not in graph {graph!r} of this store.")
        return
    first = rows[0]
    attrs = ", ".join(first["attributes"] or []) or "none"
    st.markdown(f"**attributes**: {attrs}" + (f" · age {first['age']}" if first["age"] else ""))
    hist = pd.DataFrame(
        [{"item": r["item_id"], "title": r["title"], "kinds": ", ".join(r["kinds"] or []),
          "rating": r["rating"], "when": r["ts"]} for r in rows if r["item_id"] is not None]
    )  # fmt: skip
    if hist.empty:
        st.caption("no history")
        return
    if hist["when"].notna().any():
        hist["when"] = pd.to_datetime(hist["when"], unit="s", errors="coerce")
    if hist["rating"].isna().all():
        hist = hist.drop(columns="rating")
    st.caption(f"history: {len(hist)} video(s), newest first")
    st.dataframe(hist, hide_index=True, height=min(420, 38 + 35 * len(hist)))


def _explanation(items: list[dict[str, Any]]) -> None:
    st.subheader("Why?")
    by_rank = {it["rank"]: it for it in items}
    rank = st.selectbox(
        "recommendation",
        list(by_rank),
        format_func=lambda r: f"#{r} {by_rank[r].get('name', by_rank[r]['item'])}",
        key="rec_item",
    )
    item = by_rank[rank]
    reasons = item["reasons"]
    if not reasons:
        st.info("No path of the explanation graph joins this user to this item.")
        return
    pick = st.radio(
        "path",
        list(range(len(reasons))),
        format_func=lambda j: f"{reasons[j]['text']}  (score {reasons[j]['score']:.3g})",
        key=f"rec_path_{rank}",
    )
    view = GraphView()
    chosen: list[str] = []
    for j, r in enumerate(reasons):
        keys = view.add_path(r["path"], r["relations"], r.get("forward"))
        if j == pick:
            chosen = keys
    reason = reasons[pick]
    st.info(reason["text"])
    cf = reason.get("counterfactual")
    if cf:
        st.markdown(
            f"**Without this path** it would fall from #{cf['base_rank']} to #{cf['rank']} "
            f"(score {cf['base_score']:.4f} → {cf['score']:.4f})."
        )
    left, right = st.columns([3, 2])
    with left:
        draw(view, highlight=chosen, centre=chosen[:1] + chosen[-1:], height=420)
        st.markdown(legend_html(view.labels()), unsafe_allow_html=True)
    with right, st.expander("Show in Cypher", expanded=False):
        _cypher(reason, rank, pick)
    st.caption(
        f"{len(reasons)} path(s) from the user to {item.get('name', item['item'])}; "
        f"the chosen one in red: {' → '.join(reason['relations'])}"
    )


def _cypher(reason: dict[str, Any], rank: int, pick: int) -> None:
    """The path's read-only statement and parameters, and a button that runs it on the Query
    page."""
    cy = reason["cypher"]
    if any(rel.startswith("SIMILAR_") for rel in reason["relations"]):
        st.caption(
            "SIMILAR_* steps are the explainer's nearest-neighbour links between videos: the "
            "statement finds them once `kgrec similar build` has written them to the graph."
        )
    st.code(cy["statement"], language="cypher")
    st.caption("parameters (in Neo4j Browser: `:param` each, or `kgrec query --cypher` with -p)")
    st.code(json.dumps(cy["params"]), language="json")
    if st.button("Run on the Query page", key=f"rec_cypher_{rank}_{pick}"):
        st.session_state[query.HANDOVER] = {"statement": cy["statement"], "params": cy["params"]}
        st.switch_page(st.Page(query.render, title="Query", url_path="query"))

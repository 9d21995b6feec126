"""Models: training runs with their test metrics, per-epoch curves, and a comparison across
models and datasets from the recommendation benchmark's JSON files."""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from ui import data

METRICS = ("precision@10", "recall@10", "recall@20", "ndcg@10", "ndcg@20", "hit@20", "auc")


@st.cache_data(ttl=10, show_spinner=False)
def runs_table(runs_dir: str) -> pd.DataFrame:
    from recommend.runs import list_runs

    rows = []
    for run in reversed(list_runs(Path(runs_dir))):  # newest first
        s = run.summary()
        row = {k: s[k] for k in ("run", "model", "dataset", "seed", "status", "epochs",
                                 "best_epoch")}  # fmt: skip
        row.update({m: s["test"].get(m) for m in METRICS})
        rows.append(row)
    return pd.DataFrame(rows)


def render() -> None:
    st.title("Models")
    runs_dir = data.settings().runs_dir
    table = runs_table(str(runs_dir))
    st.subheader("Runs")
    if table.empty:
        st.info(f"No runs in {runs_dir} yet: `kgrec train --model bprmf` makes one.")
    else:
        st.caption(f"{len(table)} run(s) in {runs_dir}; test metrics of the best weights")
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={m: st.column_config.NumberColumn(format="%.4f")
                                    for m in METRICS})  # fmt: skip
        _curves(runs_dir, table["run"].tolist())
    st.subheader("Benchmark comparison")
    _benchmarks()


def _curves(runs_dir: Path, names: list[str]) -> None:
    from recommend.runs import METRICS_CSV, find_run

    st.subheader("Per-epoch curves")
    name = st.selectbox("run", names, key="models_run")
    run = find_run(name, runs_dir)
    csv = run.path / METRICS_CSV
    if not csv.exists():
        st.write("This run has no per-epoch metrics yet.")
        return
    hist = pd.read_csv(csv)
    losses = [c for c in hist.columns if c.endswith("loss")]
    valid = [c for c in hist.columns if c.startswith("valid_")]
    left, right = st.columns(2)
    with left:
        st.caption("training losses")
        if losses:
            st.line_chart(hist.set_index("epoch")[losses], x_label="epoch")
    with right:
        st.caption("validation metrics")
        if valid:
            v = hist.dropna(subset=valid, how="all").set_index("epoch")[valid]
            st.line_chart(v.rename(columns=lambda c: c.removeprefix("valid_")), x_label="epoch")
        else:
            st.write("no validation in this run")
    with st.expander("configuration and result"):
        st.json({"config": run.config, "result": run.result}, expanded=False)


def _benchmark_files() -> list[Path]:
    home = data.settings().home
    patterns = [
        str(home / "benchmarks" / "*.json"),
        "benchmarks/results/*.json",  # the figures the README quotes
        "benchmarks/*.json",
        "*.json",
    ]
    extra = st.session_state.get("models_bench_glob", "").strip()
    if extra:
        patterns.insert(0, extra)
    found: dict[Path, None] = {}
    for pattern in patterns:
        for f in sorted(glob.glob(pattern)):
            found[Path(f).resolve()] = None
    return list(found)


def _load_benchmark(name: str, raw: str) -> list[dict[str, Any]]:
    """Rows of one ``benchmarks/recommend.py --json`` file: model, dataset, metric mean/std."""
    obj = json.loads(raw)
    if not isinstance(obj, dict) or "summary" not in obj:
        return []
    dataset = Path(str(obj.get("args", {}).get("data", name))).name
    rows = []
    for r in obj["summary"]:
        row: dict[str, Any] = {"dataset": dataset, "model": r.get("model"), "file": name,
                               "seeds": len(r.get("seeds", []))}  # fmt: skip
        for k, v in r.items():
            if isinstance(v, dict) and "mean" in v:
                row[k] = v["mean"]
                row[f"{k} ±"] = v.get("std", 0.0)
            elif k in ("best_epoch", "seconds_per_epoch", "eval_seconds", "peak_rss_mib"):
                row[k] = v
        rows.append(row)
    return rows


def _benchmarks() -> None:
    st.text_input(
        "benchmark JSON files (glob)",
        key="models_bench_glob",
        placeholder="e.g. results/*.json; also searched: KGREC_HOME/benchmarks, "
        "./benchmarks/results, ./benchmarks, .",
    )
    uploaded = st.file_uploader("or add files", type="json", accept_multiple_files=True)
    rows: list[dict[str, Any]] = []
    problems = []
    for path in _benchmark_files():
        try:
            rows += _load_benchmark(path.name, path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            problems.append(f"{path}: {e}")
    for up in uploaded or []:
        try:
            rows += _load_benchmark(up.name, up.getvalue().decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            problems.append(f"{up.name}: {e}")
    for p in problems:
        st.warning(f"Skipped {p}")
    if not rows:
        st.info(
            "No benchmark results found. "
            "`python benchmarks/recommend.py --data … --json recommend.json` writes one."
        )
        return
    table = pd.DataFrame(rows)
    metrics = [m for m in METRICS if m in table.columns]
    st.dataframe(table, hide_index=True, width="stretch")
    if metrics:
        first = metrics.index("recall@20") if "recall@20" in metrics else 0
        metric = st.selectbox("compare on", metrics, index=first, key="models_bench_metric")
        chart = (
            alt.Chart(table)
            .mark_bar()
            .encode(
                x=alt.X(f"{metric}:Q"),
                y=alt.Y("model:N", title=None),
                color="model:N",
                row=alt.Row("dataset:N", title=None),
                tooltip=["dataset", "model", metric, f"{metric} ±"],
            )
        )
        st.altair_chart(chart)

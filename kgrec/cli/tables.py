"""Metric values as ``kgrec train``, ``evaluate`` and ``compare`` print them.

Light on purpose (rich only), like :mod:`kgrec.cli.console`.
"""

from __future__ import annotations

from rich.table import Table

# one measure a row, one cut-off a column; accuracy, then beyond accuracy
ACCURACY = ("precision", "recall", "ndcg", "hit", "mrr", "map")
BEYOND = ("coverage", "gini", "novelty", "arp", "ild")
PLAIN = ("novelty", "arp")  # bits and interaction counts, not shares: two decimals


def metric_value(name: str, v: float | None, signed: bool = False) -> str:
    """``v`` of metric ``name`` (``"recall@20"``): four decimals, two for novelty and ARP."""
    if v is None:
        return "-"
    places = 2 if name.partition("@")[0] in PLAIN else 4
    return f"{v:{'+' if signed else ''}.{places}f}"


def metrics_table(title: str, metrics: dict[str, float]) -> Table:
    """``name@K`` metrics as rows of measures and columns of cut-offs, AUC (no cut-off) in the
    first column; a measure the evaluation did not give (ILD without KG attributes) is left
    out."""
    ks = sorted({int(c) for name in metrics if (c := name.partition("@")[2]).isdigit()})
    t = Table(title=title, min_width=len(title))  # a narrow table would wrap a run's name
    t.add_column("metric")
    for k in ks:
        t.add_column(f"@{k}", justify="right")
    if not ks:
        t.add_column("value", justify="right")
    for group in (ACCURACY, BEYOND):
        rows = [m for m in group if any(f"{m}@{k}" in metrics for k in ks)]
        for m in rows:
            t.add_row(m, *[metric_value(f"{m}@{k}", metrics.get(f"{m}@{k}")) for k in ks])
        if group is ACCURACY and "auc" in metrics:
            t.add_row("auc", metric_value("auc", metrics["auc"]), *[""] * (len(ks) - 1))
        if group is ACCURACY and rows:
            t.add_section()
    return t

"""``kgrec compare RUN_A RUN_B``: two runs on the same split, metric by metric, with paired
tests over the users (:mod:`recommend.compare`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from kgrec.cli.console import err, fail, out, run_errors
from kgrec.cli.tables import metric_value

if TYPE_CHECKING:
    from recommend.compare import Comparison

RunArg = "its path, name, name prefix or 'latest'."


def _p(v: float | None) -> str:
    if v is None:
        return "-"
    text = f"{v:.3g}" if v >= 1e-4 else f"{v:.1e}"
    return f"[bold]{text}[/]" if v < 0.05 else text


def _table(cmp: Comparison, name_a: str, name_b: str) -> Table:
    t = Table(
        title=f"B - A on {cmp.split}, {cmp.users} users\nA {name_a}\nB {name_b}",
        caption="p: two-sided paired tests over the users with a value in both runs (bold: "
        "below 0.05, uncorrected); coverage, gini: one value per run, no test",
    )
    for col in ("metric", "A", "B", "B - A", "rel.", "n", "wilcoxon p", "t-test p"):
        t.add_column(col, justify="left" if col == "metric" else "right")
    for r in cmp.rows():
        m = r["metric"]
        rel = "-" if r["relative"] is None else f"{100 * r['relative']:+.1f}%"
        n = "-" if r["n"] is None else str(r["n"])
        diff = metric_value(m, r["diff"], signed=True)
        t.add_row(m, metric_value(m, r["a"]), metric_value(m, r["b"]), diff, rel, n,
                  _p(r["wilcoxon_p"]), _p(r["ttest_p"]))  # fmt: skip
    return t


def compare(
    run_a: Annotated[str, typer.Argument(help=f"Run A: {RunArg}")],
    run_b: Annotated[str, typer.Argument(help=f"Run B: {RunArg}")],
    split: Annotated[str, typer.Option(help="test | valid.")] = "test",
    device: Annotated[
        str, typer.Option(help="auto | cpu | cuda, for a run evaluated again.")
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Compare two runs of the same split: each metric's difference B - A, with Wilcoxon
    signed-rank and paired t-test p-values over the users.

    The per-user values of a run's test are saved when it finishes (per_user_test.npz); a run
    without them (an older run, or --split valid) is evaluated again from its best weights.
    """
    from kgrec.device import resolve_device
    from kgrec.runs import jsonsafe
    from kgrec.settings import get_settings
    from recommend.compare import compare_runs
    from recommend.runs import Run, find_run

    with run_errors():
        if split not in ("test", "valid"):
            raise fail(f"--split is test or valid, got {split!r}")
        runs_dir = get_settings().runs_dir
        a, b = find_run(run_a, runs_dir), find_run(run_b, runs_dir)
        for r in (a, b):
            if r.status != "done":
                raise fail(f"run {r.name} is {r.status}: it has no best weights to compare "
                           f"(finish it with `kgrec train --resume {r.name}`)")  # fmt: skip

        def again(r: Run) -> None:
            err.print(f"{r.name}: no saved per-user {split} values, evaluating its best weights",
                      highlight=False)  # fmt: skip

        cmp = compare_runs(a, b, split, resolve_device(device), on_recompute=again)
    if as_json:
        doc: dict[str, Any] = {"a": a.name, "b": b.name, **cmp.as_dict()}
        print(json.dumps(jsonsafe(doc, finite=True)))
        return
    out.print(_table(cmp, a.name, b.name))
    if cmp.only_one:
        out.print(f"not compared (in one run only): {', '.join(cmp.only_one)}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the ``kgrec`` app."""
    app.command("compare")(compare)

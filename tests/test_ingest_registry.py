"""The loader registry (:mod:`kg_ingest.registry`) and the ``kgrec ingest`` commands built
from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from kg_ingest import registry
from kg_ingest.registry import LOADERS, Loader, Option
from kgrec.cli import ingest
from tests.conftest import FIXTURES
from tests.test_cli import kgrec


def _commands(help_text: str) -> list[str]:
    """The command names of a help screen's "Commands" panel, in order."""
    panel = help_text.split("Commands", 1)[1].split("╰", 1)[0]
    names = []
    for line in panel.splitlines()[1:]:
        cell = line.strip().strip("│")
        if cell[:1] == " " and cell[1:2] not in ("", " "):
            names.append(cell.split()[0])
    return names


def test_ingest_help_lists_exactly_the_registered_loaders(tmp_path: Path) -> None:
    proc = kgrec(tmp_path, "ingest", "--help")
    assert _commands(proc.stdout) == list(LOADERS) == [
        "movielens", "kgat", "microvideo", "rawmedia", "synthetic", "recbole", "csv", "table",
    ]  # fmt: skip
    for loader in LOADERS.values():
        assert loader.help in proc.stdout


def test_dataset_names_are_as_graphs_record_them(tmp_path: Path) -> None:
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    assert LOADERS["movielens"].dataset(folder) == "movielens:ml-100k"
    assert LOADERS["kgat"].dataset(tmp_path / "x" / ".." / "ml-100k") == "kgat:ml-100k"
    options = {"seed": 3, "users": 40, "videos": 30}  # the declared order wins
    assert LOADERS["synthetic"].dataset(options) == "synthetic:users=40,videos=30,seed=3"


def test_parse_calls_the_loader_and_names_the_dataset() -> None:
    data = LOADERS["synthetic"].parse({"users": 5, "videos": 4, "seed": 1})
    assert data.dataset == "synthetic:users=5,videos=4,seed=1" and data.node_count() > 0
    data = LOADERS["kgat"].parse(FIXTURES / "kgat")
    assert data.dataset == "kgat:kgat" and data.rel_count() > 0


def test_a_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register(LOADERS["kgat"])


def test_a_new_loader_is_one_registration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``ingest_app`` makes a command of any Loader: a folder argument or its options, then
    --graph and --merge."""
    calls: list[tuple[str, Any, str | None, bool]] = []

    def fake_load(loader: Loader, source: Any, graph: str | None, merge: bool = False) -> None:
        calls.append((loader.name, source, graph, merge))

    monkeypatch.setattr(ingest, "load", fake_load)
    folder = Loader(name="csvdir", title="CSV", help="A folder of CSVs.", function="m:f")
    sized = Loader(name="toy", title="toy", help="A toy graph.", function="m:g",
                   options=(Option("items", 7, "Number of items.", min=1, max=9),))  # fmt: skip
    app = typer.Typer()
    app.add_typer(ingest.ingest_app([folder, sized]), name="ingest")
    runner = CliRunner()

    shown = runner.invoke(app, ["ingest", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and _commands(shown.output) == ["csvdir", "toy"]
    toy_help = runner.invoke(app, ["ingest", "toy", "--help"], env={"COLUMNS": "200"}).output
    for text in ("--items", "Number of items.", "--graph", "--merge", "A toy graph."):
        assert text in toy_help

    assert runner.invoke(app, ["ingest", "csvdir", str(tmp_path), "--merge"]).exit_code == 0
    assert runner.invoke(app, ["ingest", "toy", "--graph", "g"]).exit_code == 0
    assert runner.invoke(app, ["ingest", "toy", "--items", "3"]).exit_code == 0
    assert runner.invoke(app, ["ingest", "toy", "--items", "10"]).exit_code == 2  # over max
    assert runner.invoke(app, ["ingest", "csvdir", str(tmp_path / "nope")]).exit_code == 2
    assert calls == [
        ("csvdir", tmp_path, None, True),
        ("toy", {"items": 7}, "g", False),
        ("toy", {"items": 3}, None, False),
    ]


def test_the_command_line_imports_no_loader() -> None:
    """The registry names its loaders' functions: ``kgrec`` starts without numpy/pandas."""
    code = ("import sys, kgrec.cli, kg_ingest.registry; "
            "print(sorted(m for m in ('numpy', 'pandas', 'torch', 'kg_ingest.synthetic', "
            "'kg_ingest.movielens') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_db_status_imports_no_torch(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom kgrec.cli import app\n"
        "try:\n    app(['db', 'status'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'fastapi', 'streamlit') if m in sys.modules))"
    )
    env = {"PATH": "/usr/bin:/bin", "KGREC_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr


def test_a_refusal_inside_run_errors_is_one_line(tmp_path: Path) -> None:
    """``fail`` inside ``run_errors`` (which catches RuntimeError, as typer.Exit is) prints
    its line once, not a second ``error: 1``."""
    proc = kgrec(tmp_path, "train", ok=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["error: --model is required (or --resume RUN)"]

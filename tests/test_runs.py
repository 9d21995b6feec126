"""The run-directory base both kinds of training run share (kgrec.runs), and export I/O in
kg_store: file names and formats as the runs written before the base existed."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from embed.runs import EmbedRun
from embed.runs import find_run as find_embed_run
from kg_store.export import GraphExport
from kgrec.runs import (
    RunDir,
    jsonsafe,
    new_run_dir,
    read_json,
    save_checkpoint,
    seed_everything,
    write_json,
)
from recommend.runs import Run, find_run, list_runs


def test_jsonsafe_is_what_json_dumps_with_str_default_writes() -> None:
    v = {"a": (1, 2.5, None), "b": np.int64(3), "c": Path("x/y"), "d": [True, "s", {"e": 1}]}
    assert json.dumps(jsonsafe(v)) == json.dumps(v, default=str)
    assert jsonsafe(np.float64(0.5)) == 0.5 and jsonsafe(np.int64(3)) == "3"


def test_run_dirs_are_unique_and_named_as_before(tmp_path: Path) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5)
    a = new_run_dir(tmp_path, "kgat", "ml 100k/x", 7, now=now)
    b = new_run_dir(tmp_path, "kgat", "ml 100k/x", 7, now=now)
    assert a.name == "20260102-030405-kgat-ml_100k_x-s7" and b.name == a.name + "-1"
    assert a.is_dir() and b.is_dir()


def _old_run(root: Path, name: str, noun_result: dict[str, object]) -> Path:
    """A run directory as both kinds wrote them before kgrec.runs (indent 2, one JSON a line)."""
    p = root / name
    p.mkdir(parents=True)
    (p / "config.json").write_text(json.dumps({"model": "m", "seed": 0}, indent=2))
    (p / "metrics.jsonl").write_text('{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "loss": 0.25}\n')
    (p / "result.json").write_text(json.dumps(noun_result, indent=2))
    return p


def test_old_run_directories_load_and_are_found(tmp_path: Path) -> None:
    p1 = _old_run(tmp_path, "20250101-000000-m-d-s0", {"test": {"recall@20": 0.5}})
    p2 = _old_run(tmp_path, "20250102-000000-m-d-s0", {"mrr": 0.25})
    (tmp_path / "not-a-run").mkdir()
    for cls in (Run, EmbedRun):
        runs = cls.list_in(tmp_path)
        assert [r.path for r in runs] == [p1, p2] and all(isinstance(r, cls) for r in runs)
        assert cls.find("latest", tmp_path).path == p2
        assert cls.find("20250101", tmp_path).path == p1
        assert cls.find(str(p1), tmp_path / "elsewhere").path == p1
        assert cls(p1).history() == [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]
        assert cls(p1).config == {"model": "m", "seed": 0} and cls(p1).status == "done"
    assert Run(p1).result == {"test": {"recall@20": 0.5}}
    assert [r.name for r in list_runs(tmp_path)] == [p1.name, p2.name]
    assert find_embed_run("latest", tmp_path).result == {"mrr": 0.25}
    with pytest.raises(ValueError, match="matches 2 runs"):
        find_run("2025", tmp_path)
    with pytest.raises(ValueError, match="matches 2 embedding runs"):
        find_embed_run("2025", tmp_path)
    with pytest.raises(FileNotFoundError, match="no embedding run 'x'"):
        find_embed_run("x", tmp_path)
    with pytest.raises(FileNotFoundError, match="no runs in"):
        find_run("latest", tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="is not an embedding run"):
        _ = EmbedRun(tmp_path / "not-a-run").config
    with pytest.raises(FileNotFoundError, match="is not a run directory"):
        _ = Run(tmp_path / "not-a-run").config


def test_history_result_and_checkpoint_files(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    assert run.history() == [] and run.result is None and run.status == "started"
    run.append_history({"epoch": 1, "loss": 1.0})
    run.append_history({"epoch": 2, "loss": 0.5})
    assert (tmp_path / "metrics.jsonl").read_text() == (
        '{"epoch": 1, "loss": 1.0}\n{"epoch": 2, "loss": 0.5}\n'
    )
    run.write_history(run.history()[:1])
    assert run.history() == [{"epoch": 1, "loss": 1.0}]
    run.clear_history()
    assert not (tmp_path / "metrics.jsonl").exists()
    save_checkpoint({"epoch": 2}, tmp_path / "last.pt")
    assert run.status == "interrupted" and not list(tmp_path.glob("*.tmp"))
    run.write_result({"epochs": 2, "n": np.int64(4)})
    assert (tmp_path / "result.json").read_text() == '{\n  "epochs": 2,\n  "n": "4"\n}'
    assert run.status == "done" and read_json(tmp_path / "result.json") == {"epochs": 2, "n": "4"}
    write_json(tmp_path / "x.json", [1])
    assert read_json(tmp_path / "x.json") == [1] and read_json(tmp_path / "none.json") is None


def test_seed_everything_seeds_python_numpy_and_torch() -> None:
    def draw() -> tuple[float, float, float]:
        return random.random(), float(np.random.rand()), float(torch.rand(()))

    seed_everything(5)
    a = draw()
    seed_everything(5)
    assert draw() == a


def test_export_saves_and_loads_in_kg_store(tmp_path: Path) -> None:
    e = GraphExport()
    e.ids = {"User": pd.Index(["u1", "u2"]), "Video": pd.Index(["v1"])}
    e.edges = {("User", "RATED", "Video"): pd.DataFrame(
        {"src": [0, 1], "dst": [0, 0], "rating": [4.0, 5.0], "note": ["a", None]}
    )}  # fmt: skip
    e.features = {"Video": np.ones((1, 3), np.float32)}
    d = e.save(tmp_path / "export")
    assert sorted(p.name for p in d.iterdir()) == [
        "edges.npz", "features.npz", "ids.npz", "manifest.json"
    ]  # fmt: skip
    f = GraphExport.load(d)
    assert {k: list(v) for k, v in f.ids.items()} == {"User": ["u1", "u2"], "Video": ["v1"]}
    got = f.edges[("User", "RATED", "Video")]
    assert got["rating"].tolist() == [4.0, 5.0]
    assert got["note"][0] == "a" and pd.isna(got["note"][1])
    assert np.array_equal(f.features["Video"], e.features["Video"])

"""benchmarks/paired_seeds.py: the across-seeds paired test averages each user's difference."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from recommend.metrics.evaluator import Evaluation

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "paired_seeds.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("paired_seeds", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _ev(users: list[int], recall: list[float]) -> Evaluation:
    return Evaluation(np.asarray(users), {"recall@20": np.asarray(recall, float)}, {})


def test_pooled_averages_each_user_over_seeds_on_common_users() -> None:
    mod = _module()
    # seed 0: users 0-2; seed 1: users 0-3 (user 3 is not in every seed: left out)
    s0 = (_ev([0, 1, 2], [0.0, 0.5, 1.0]), _ev([0, 1, 2], [0.5, 0.5, 1.0]))
    s1 = (_ev([0, 1, 2, 3], [0.2, 0.1, 0.0, 0.9]), _ev([0, 1, 2, 3], [0.4, 0.3, 0.0, 0.0]))
    t = mod._pooled([s0, s1], "recall@20")
    assert t.n == 3
    # per-user means: a = [0.1, 0.3, 0.5], b = [0.45, 0.4, 0.5]
    assert t.a == pytest.approx(0.3)
    assert t.b == pytest.approx(1.35 / 3)
    assert t.diff == pytest.approx(1.35 / 3 - 0.3)
    assert t.ttest_p is not None and 0 < t.ttest_p < 1


def test_runs_need_run_directories(tmp_path: Path) -> None:
    mod = _module()
    with pytest.raises(SystemExit, match="names no run directory"):
        mod._runs({"runs": [{"model": "bprmf", "seed": 0}]}, tmp_path / "r.json")
    with pytest.raises(SystemExit, match="no runs"):
        mod._runs({}, tmp_path / "r.json")
    runs = mod._runs({"runs": [{"model": "bprmf", "seed": 1, "run": "/x/r1"}]}, tmp_path)
    assert runs == {"bprmf": {1: Path("/x/r1")}}


def test_tagged_files_name_their_models_and_clashes_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mod = _module()
    assert mod.tagged("a.json") == (Path("a.json"), "")
    assert mod.tagged("a.json=mask") == (Path("a.json"), "mask")
    odd = tmp_path / "x=y.json"
    odd.write_text("{}")
    assert mod.tagged(str(odd)) == (odd, "")  # an existing file's own name wins
    with pytest.raises(SystemExit, match="FILE=TAG"):
        mod.tagged("a.json=")
    one = {"runs": [{"model": "lightgcn", "seed": 0, "run": str(tmp_path / "r0")}]}
    for name in ("p.json", "q.json"):
        (tmp_path / name).write_text(__import__("json").dumps(one))
    p, q = str(tmp_path / "p.json"), str(tmp_path / "q.json")
    monkeypatch.setattr("sys.argv", ["paired_seeds.py", p, q, "--base", "lightgcn"])
    with pytest.raises(SystemExit, match=r"lightgcn seed 0 is in an earlier file too"):
        mod.main()
    seen: dict[str, object] = {}
    monkeypatch.setattr(mod, "compare_seeds", lambda runs, base, metrics: seen.update(runs) or [])
    monkeypatch.setattr("sys.argv", ["paired_seeds.py", p, f"{q}=mask", "--base", "lightgcn"])
    mod.main()
    assert seen == {"lightgcn": {0: tmp_path / "r0"}, "lightgcn[mask]": {0: tmp_path / "r0"}}

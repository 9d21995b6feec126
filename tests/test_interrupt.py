"""Ctrl-C (SIGINT) during ``kgrec train`` / ``kgrec embed``: the process stops within seconds
with exit code 130 and ``last.pt`` written, and ``--resume`` continues from it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_cli import KGREC, _env, kgrec

STOP_S = 5.0  # the issue asks for 2 s; slack for slow CI machines


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("kgrec-home")
    kgrec(path, "ingest", "synthetic", "--users", "300", "--videos", "200", "--graph", "syn")
    yield path
    subprocess.run([KGREC, "db", "stop"], env=_env(path), capture_output=True, timeout=60)


def _interrupt(home: Path, root: Path, *args: str) -> tuple[Path, float, str]:
    """Start ``kgrec *args``, wait for its first epoch record, SIGINT it; return the run
    directory and the seconds from the signal to the exit."""
    proc = subprocess.Popen([KGREC, *args], env=_env(home), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = [p for p in root.glob("*/metrics.jsonl") if p.read_text().strip()]
            if runs:
                break
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.05)
        else:
            pytest.fail("training did not start")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"kgrec {args[0]}: stopped {elapsed:.2f}s after SIGINT")
    assert proc.returncode == 130, stderr
    return runs[0].parent, elapsed, stderr


def test_train_sigint_stops_and_resumes(home: Path) -> None:
    run, elapsed, stderr = _interrupt(
        home, home / "runs", "train", "--model", "mmkgat", "--dataset", "syn",
        "--epochs", "1000", "--threads", "1", "--device", "cpu",
    )  # fmt: skip
    assert elapsed < STOP_S
    assert (run / "last.pt").is_file() and not (run / "result.json").exists()
    assert f"kgrec train --resume {run.name}" in stderr
    done = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert done == list(range(1, len(done) + 1))
    rows = json.loads(kgrec(home, "runs", "--json").stdout)
    assert [r["status"] for r in rows if r["run"] == run.name] == ["interrupted"]
    # resume: the saved epochs stay, the run finishes (at patience or the epochs)
    res = json.loads(kgrec(home, "train", "--resume", run.name, "--epochs", str(len(done) + 2),
                           "--threads", "1", "--device", "cpu", "--json").stdout)  # fmt: skip
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == list(range(1, res["epochs"] + 1))
    assert len(done) <= res["epochs"] <= len(done) + 2
    assert (run / "result.json").is_file()


def test_embed_sigint_stops_and_resumes(home: Path) -> None:
    run, elapsed, stderr = _interrupt(
        home, home / "embeddings", "embed", "--graph", "syn", "--epochs", "100000",
        "--threads", "1", "--device", "cpu", "--no-write-back",
    )  # fmt: skip
    assert elapsed < STOP_S
    assert (run / "last.pt").is_file() and not (run / "result.json").exists()
    assert f"kgrec embed --resume {run.name}" in stderr
    saved = len((run / "metrics.jsonl").read_text().splitlines())
    res = json.loads(kgrec(home, "embed", "--resume", run.name, "--epochs", str(saved + 2),
                           "--threads", "1", "--device", "cpu", "--no-write-back",
                           "--json").stdout)  # fmt: skip
    assert res["epochs"] == saved + 2

"""``kgrec recommend`` and ``kgrec serve`` as a user runs them: subprocesses, a real uvicorn
server answering over loopback HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving_run import ServedRun, kgrec_serve, served_run, stop_all

KGREC = str(Path(sys.executable).with_name("kgrec"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRun]:
    yield served_run(tmp_path_factory)
    stop_all()


def _env(served: ServedRun) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGREC_")}
    env.update(KGREC_HOME=str(served.home), KGREC_GRAPH="served", COLUMNS="200")
    return env


def test_recommend_command(served: ServedRun) -> None:
    user = str(served.run.data().user_ids[1])
    proc = subprocess.run(
        [KGREC, "recommend", "--user", user, "-k", "4", "--explain", "--paths", "2", "--json"],
        env=_env(served), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)  # one JSON object on stdout
    assert answer["user"] == user and answer["run"] == served.run.name
    assert [it["rank"] for it in answer["items"]] == [1, 2, 3, 4]
    assert all(len(it["reasons"]) <= 2 for it in answer["items"])
    bad = subprocess.run([KGREC, "recommend", "--user", "nobody"], env=_env(served),
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert bad.returncode == 1 and "unknown user 'nobody'" in bad.stderr


def test_serve_answers_over_http(served: ServedRun) -> None:
    served_by = kgrec_serve(KGREC, _env(served), "--run", served.run.name)
    with served_by as base, httpx.Client(base_url=base, timeout=30) as c:
        user = str(served.run.data().user_ids[1])
        rec = c.get(f"/users/{user}/recommendations", params={"k": 3, "paths": 1})
        assert rec.status_code == 200 and rec.headers["content-type"] == "application/json"
        body = rec.json()
        assert body["run"] == served.run.name and len(body["items"]) == 3
        assert c.get("/users/nobody/recommendations").status_code == 404
        assert c.get(f"/users/{user}/recommendations", params={"k": -1}).status_code == 422
        assert c.get(f"/users/{user}").json()["id"] == user
        assert c.get("/runs").json()["served"] == served.run.name
        spec = c.get("/openapi.json").json()
        assert "/users/{user_id}/recommendations" in spec["paths"]

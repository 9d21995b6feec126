"""``/runs``: the training runs on disk, and which one is served."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter

from api.deps import OptionalServiceDep, SettingsDep
from api.schemas import RunInfo, RunList
from kgrec.spec import SpecError, run_spec
from recommend.runs import list_runs

router = APIRouter(prefix="/runs", tags=["runs"])


def _num(d: Any) -> dict[str, float]:
    if not isinstance(d, dict):
        return {}
    return {str(k): float(v) for k, v in d.items()
            if isinstance(v, int | float) and math.isfinite(v)}  # fmt: skip


@router.get("", operation_id="listRuns", response_model=RunList)
def runs(settings: SettingsDep, svc: OptionalServiceDep) -> RunList:
    """Training runs under ``KGREC_HOME/runs``, oldest first, with their test metrics."""
    served = svc.run_name if svc is not None else None
    out = []
    for run in list_runs(settings.runs_dir):
        s = run.summary()
        try:
            spec = run_spec(run.path)
            labels = {"user": spec.user.label, "item": spec.item.label}
        except SpecError:  # one unreadable run does not hide the others
            labels = {}
        out.append(RunInfo(
            run=s["run"], model=s.get("model"), dataset=s.get("dataset"),
            seed=s.get("seed") if isinstance(s.get("seed"), int) else None,
            status=str(s.get("status")), epochs=s.get("epochs"), best_epoch=s.get("best_epoch"),
            test=_num(s.get("test")), served=s["run"] == served,
            labels=labels,
        ))  # fmt: skip
    return RunList(served=served, data=out, count=len(out))

"""Run directories, the part every kind of training run shares (embedding runs in
:mod:`embed.runs`, recommender runs in :mod:`recommend.runs`).

A run is one directory ``<root>/<YYYYmmdd-HHMMSS>-<model>-<dataset>-s<seed>[-n]/`` holding at
least::

    config.json      what was run (written once by ``start_run``, indented JSON)
    metrics.jsonl    one JSON object per finished epoch
    last.pt          the checkpoint of the last saved epoch (its content is the trainer's)
    result.json      the final metrics (indented JSON)

and, where the kind evaluates user by user (recommender runs), ``per_user_test.npz``: the final
test metrics of each user (``users`` and one array per metric; :meth:`RunDir.write_per_user`).
The kinds add their own files beside these. Everything here is plain files: no model code and
no database. :func:`seed_everything` is the one seeding function both trainers call.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar, TypeVar

import numpy as np

CONFIG = "config.json"
METRICS = "metrics.jsonl"
LAST = "last.pt"
RESULT = "result.json"
PER_USER = "per_user_{split}.npz"
"""Per-user metric values of one split's evaluation: :meth:`RunDir.write_per_user`."""
PER_USER_TEST = PER_USER.format(split="test")

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


# -- values and files --------------------------------------------------------------------------


def jsonsafe(v: Any, *, finite: bool = False, str_keys: bool = False, unwrap: bool = False) -> Any:
    """``v`` as JSON carries it: dicts and lists (tuples) recursively, ``str``, ``int``,
    ``float``, ``bool`` and ``None`` as they are, anything else (numpy integers, paths, …) its
    ``str``; ``json.dumps(jsonsafe(v))`` is ``json.dumps(v, default=str)``.

    The one JSON-safe value helper (run files, ``kgrec query``'s output, the API's answers).

    Args:
        finite: NaN and ±inf become ``None`` (JSON has no such numbers; the API's answers).
        str_keys: dict keys become their ``str``.
        unwrap: anything with a dict ``properties`` (the drivers' nodes, relationships) becomes
            that dict (a query's result values).
    """

    def safe(v: Any) -> Any:
        if isinstance(v, float):
            return None if finite and not math.isfinite(v) else v
        if isinstance(v, str | int | bool) or v is None:
            return v
        if isinstance(v, dict):
            return {(str(k) if str_keys else k): safe(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [safe(x) for x in v]
        if unwrap:
            props = getattr(v, "properties", None)  # nodes, relationships from the drivers
            if isinstance(props, dict):
                return safe(props)
        return str(v)

    return safe(v)


def write_json(path: Path, obj: Any) -> None:
    """Write indented JSON atomically, so a killed process never leaves half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None where there is no such file."""
    return json.loads(path.read_text()) if path.is_file() else None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file ([] where there is none)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def save_checkpoint(obj: Any, path: Path) -> None:
    """``torch.save`` atomically: an interruption leaves the previous checkpoint intact."""
    import torch  # here: reading and writing run files must not load torch

    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and every CUDA device) once, before a model is built."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


# -- Ctrl-C --------------------------------------------------------------------------------------


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped at a SIGINT. ``path`` (the run directory, None without one) holds a
    ``last.pt`` of ``epoch`` finished epochs to resume from. A ``KeyboardInterrupt``, so that
    ``except Exception`` does not swallow it."""

    def __init__(self, path: Path | None = None, epoch: int = 0) -> None:
        super().__init__(f"interrupted after epoch {epoch}")
        self.path = path
        self.epoch = epoch


class StopFlag:
    """Set by the first SIGINT while :func:`sigint_stops` is active; trainers call
    :meth:`check` between batches and evaluation batches."""

    def __init__(self) -> None:
        self.requested = False

    def check(self) -> None:
        """Raise :class:`TrainingInterrupted` once a stop was requested."""
        if self.requested:
            raise TrainingInterrupted()


@contextmanager
def sigint_stops() -> Iterator[StopFlag]:
    """For the duration of training: the first SIGINT only sets the yielded flag (and puts
    back the default action, so a second one kills the process at once); the previous handler
    is restored on leaving. Off the main thread (where Python cannot handle signals) the flag
    is never set."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        flag.requested = True
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


# -- run directories ---------------------------------------------------------------------------


def new_run_dir(
    root: Path, model: str, dataset: str, seed: int, now: datetime | None = None
) -> Path:
    """Create and return a fresh run directory (a suffix keeps two runs in a second apart)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{_UNSAFE.sub('_', model)}-{_UNSAFE.sub('_', dataset)}-s{seed}"
    root.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        path = root / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run directory name for {base} in {root}")


R = TypeVar("R", bound="RunDir")


@dataclass
class RunDir:
    """One run directory: its configuration, per-epoch history and result.

    Subclasses name themselves in messages with :attr:`noun` (``"run"``, ``"embedding run"``)
    and say what a directory without ``config.json`` is not with :attr:`not_a_run`.
    """

    path: Path

    noun: ClassVar[str] = "run"
    not_a_run: ClassVar[str] = "a run directory"

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config(self) -> dict[str, Any]:
        cfg = read_json(self.path / CONFIG)
        if cfg is None:
            raise FileNotFoundError(f"{self.path} is not {self.not_a_run} (no {CONFIG})")
        return dict(cfg)

    def write_config(self, config: dict[str, Any]) -> None:
        write_json(self.path / CONFIG, config)

    @property
    def result(self) -> dict[str, Any] | None:
        res = read_json(self.path / RESULT)
        return None if res is None else dict(res)

    def write_result(self, result: dict[str, Any]) -> None:
        write_json(self.path / RESULT, result)

    # -- per-user values
    def per_user_path(self, split: str = "test") -> Path:
        return self.path / PER_USER.format(split=split)

    def write_per_user(self, arrays: dict[str, np.ndarray], split: str = "test") -> Path:
        """Save named arrays (``users`` and one per metric) as ``per_user_<split>.npz``,
        atomically."""
        path = self.per_user_path(split)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:  # a file object: np.savez would append ".npz" to a name
            np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
        return path

    def read_per_user(self, split: str = "test") -> dict[str, np.ndarray] | None:
        """The arrays of ``per_user_<split>.npz``, or None where the run has none (a run
        from before the file existed, or a split never saved)."""
        path = self.per_user_path(split)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: not a per-user values file ({e})") from e

    @property
    def status(self) -> str:
        """``done`` (a result), ``interrupted`` (a checkpoint, no result) or ``started``."""
        if (self.path / RESULT).exists():
            return "done"
        if (self.path / LAST).exists():
            return "interrupted"
        return "started"

    # -- metrics.jsonl
    def history(self) -> list[dict[str, Any]]:
        """Per-epoch records of ``metrics.jsonl``."""
        return read_jsonl(self.path / METRICS)

    def append_history(self, record: dict[str, Any]) -> None:
        with (self.path / METRICS).open("a") as f:
            f.write(json.dumps(record) + "\n")

    def write_history(self, records: list[dict[str, Any]]) -> None:
        """Replace ``metrics.jsonl`` with ``records`` (an empty list leaves an empty file)."""
        (self.path / METRICS).write_text("".join(json.dumps(r) + "\n" for r in records))

    def clear_history(self) -> None:
        (self.path / METRICS).unlink(missing_ok=True)

    # -- finding runs
    @classmethod
    def list_in(cls: type[R], root: Path) -> list[R]:
        """Run directories under ``root``, oldest first (names start with their timestamp)."""
        if not root.is_dir():
            return []
        return [cls(p) for p in sorted(root.iterdir()) if (p / CONFIG).is_file()]

    @classmethod
    def find(cls: type[R], ref: str | Path, root: Path) -> R:
        """A run by path, by directory name, by a unique prefix of the name, or ``latest``."""
        p = Path(ref)
        if (p / CONFIG).is_file():
            return cls(p)
        runs = cls.list_in(root)
        if str(ref) == "latest":
            if not runs:
                raise FileNotFoundError(f"no {cls.noun}s in {root}")
            return runs[-1]
        matches = [r for r in runs if r.name == str(ref)] or [
            r for r in runs if r.name.startswith(str(ref))
        ]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise FileNotFoundError(f"no {cls.noun} {str(ref)!r} in {root}")
        raise ValueError(f"{str(ref)!r} matches {len(matches)} {cls.noun}s: use the full name")

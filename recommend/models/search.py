"""Search spaces of hyper-parameters: the values ``kgrec tune`` may try for one setting.

A space is declared next to what it searches:

* a model option's, with the option: ``tau: float = option(0.2, "…", search=LogUniform(0.05,
  1.0))`` (:func:`recommend.models.base.option`); an option its class inherits gets one in the
  class's ``search_spaces`` (:meth:`recommend.models.base.ModelOptions.search_space`);
* the shared settings a model tunes (``ModelConfig`` / ``TrainConfig`` fields: ``lr``, ``l2``,
  ``layers``, …), in the model's ``Recommender.search_space``, built with :func:`shared` from
  the one table of their ranges, :data:`SHARED` (a model may narrow one by keyword).

A space suggests a value from an Optuna trial (anything with ``suggest_float``,
``suggest_int`` and ``suggest_categorical``: this module does not import optuna), says whether
a value lies in it, and round-trips through JSON (``tune.json`` keeps the space a study
started with, so a resumed study searches the same one).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Protocol

Scalar = None | bool | int | float | str


class Trial(Protocol):
    """What a space asks of an ``optuna.trial.Trial``."""

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class Space(ABC):
    """The values one setting may take in a search."""

    kind: ClassVar[str]

    @abstractmethod
    def suggest(self, trial: Trial, name: str) -> Any:
        """A value for ``name`` from ``trial``."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` lies in the space."""

    def to_json(self) -> dict[str, Any]:
        """``{"kind": …, <fields>}``; :func:`space_from_json` reads it back."""
        return {"kind": self.kind, **{f.name: _plain(getattr(self, f.name)) for f in fields(self)}}

    def __str__(self) -> str:
        args = ", ".join(repr(getattr(self, f.name)) for f in fields(self))
        return f"{self.kind}({args})"


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


@dataclass(frozen=True)
class Uniform(Space):
    """A float drawn uniformly from ``[low, high]``."""

    low: float
    high: float
    kind: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        if not (_number(self.low) and _number(self.high) and self.low < self.high):
            raise ValueError(f"{self.kind}: need finite numbers low < high, not {self}")

    def suggest(self, trial: Trial, name: str) -> float:
        return trial.suggest_float(name, float(self.low), float(self.high))

    def contains(self, value: Any) -> bool:
        return _number(value) and self.low <= value <= self.high


@dataclass(frozen=True)
class LogUniform(Uniform):
    """A float whose logarithm is drawn uniformly from ``[log low, log high]`` (``low > 0``)."""

    kind: ClassVar[str] = "loguniform"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.low <= 0:
            raise ValueError(f"{self.kind}: low must be > 0, not {self.low!r}")

    def suggest(self, trial: Trial, name: str) -> float:
        return trial.suggest_float(name, float(self.low), float(self.high), log=True)


@dataclass(frozen=True)
class IntRange(Space):
    """An int of ``low, low + step, …, high`` (``log``: drawn on a log scale, step 1)."""

    low: int
    high: int
    step: int = 1
    log: bool = False
    kind: ClassVar[str] = "int"

    def __post_init__(self) -> None:
        ints = all(type(v) is int for v in (self.low, self.high, self.step))
        if not (ints and self.low < self.high and self.step >= 1):
            raise ValueError(f"{self.kind}: need ints low < high and step >= 1, not {self}")
        if (self.high - self.low) % self.step:
            raise ValueError(f"{self.kind}: high - low must be a multiple of step, not {self}")
        if self.log and (self.low < 1 or self.step != 1):
            raise ValueError(f"{self.kind}: a log range needs low >= 1 and step 1, not {self}")

    def suggest(self, trial: Trial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log)

    def contains(self, value: Any) -> bool:
        return (
            type(value) is int
            and self.low <= value <= self.high
            and (value - self.low) % self.step == 0
        )


@dataclass(frozen=True)
class Choice(Space):
    """One of ``values``: distinct scalars (None, bool, int, float or str), as Optuna's
    categorical distributions take them."""

    values: Sequence[Scalar]  # kept as a tuple
    kind: ClassVar[str] = "choice"

    def __post_init__(self) -> None:
        values = tuple(self.values) if isinstance(self.values, list | tuple) else None
        if not values:
            raise ValueError(f"{self.kind}: needs a non-empty list of values, not {self.values!r}")
        bad = [v for v in values if not (v is None or isinstance(v, bool | int | float | str))]
        if bad:
            raise ValueError(f"{self.kind}: values must be None, bool, int, float or str: {bad!r}")
        if len({(type(v), v) for v in values}) < len(values):
            raise ValueError(f"{self.kind}: values repeat: {list(values)!r}")
        object.__setattr__(self, "values", values)

    def suggest(self, trial: Trial, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.values))

    def contains(self, value: Any) -> bool:
        # 1 is not True: compare type and value
        return any(type(value) is type(v) and value == v for v in self.values)

    def __str__(self) -> str:
        return f"{self.kind}({list(self.values)!r})"


KINDS: dict[str, type[Space]] = {c.kind: c for c in (Uniform, LogUniform, IntRange, Choice)}


def space_from_json(obj: Any, where: str) -> Space:
    """The space :meth:`Space.to_json` wrote.

    Raises:
        ValueError: not such an object; the message starts with ``where`` (e.g. ``tune.json
            space.lr``).
    """
    if not isinstance(obj, Mapping) or obj.get("kind") not in KINDS:
        kinds = ", ".join(KINDS)
        raise ValueError(f"{where}: expected an object with kind one of {kinds}, not {obj!r}")
    cls = KINDS[str(obj["kind"])]
    args = {k: v for k, v in obj.items() if k != "kind"}
    names = {f.name for f in fields(cls)}
    if set(args) - names:
        raise ValueError(f"{where}: {cls.kind} takes {', '.join(sorted(names))}, not {obj!r}")
    try:
        return cls(**args)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from e


# the ranges of the shared settings (ModelConfig / TrainConfig fields), in one place; a model
# picks the ones it reads with shared(...)
SHARED: dict[str, Space] = {
    "lr": LogUniform(5e-4, 2e-2),
    "l2": LogUniform(1e-6, 1e-2),
    "kg_l2": LogUniform(1e-6, 1e-3),
    "dropout": Uniform(0.0, 0.5),
    "layers": IntRange(1, 4),
    "dim": Choice([32, 64, 128]),
    "batch_size": Choice([1024, 2048, 4096]),
    "n_neg": IntRange(1, 8, log=True),
}


def shared(*names: str, **narrowed: Space) -> dict[str, Space]:
    """The :data:`SHARED` spaces of ``names``, and ``narrowed`` ones of this model's own:
    ``shared("lr", "l2", layers=IntRange(1, 3))``.

    Raises:
        ValueError: a name :data:`SHARED` has no range for (give it one by keyword).
    """
    unknown = [n for n in names if n not in SHARED]
    if unknown:
        raise ValueError(
            f"no shared search space for {', '.join(unknown)}; shared: {', '.join(SHARED)}"
        )
    return {**{n: SHARED[n] for n in names}, **narrowed}

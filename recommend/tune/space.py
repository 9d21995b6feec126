"""The search space of a study: the shared settings and model options a model declares
searchable (:mod:`recommend.models.search`), checked against what the model takes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from recommend.config import TrainConfig, configs_for
from recommend.models.base import REGISTRY, ModelConfig, Recommender
from recommend.models.search import Space, space_from_json

if TYPE_CHECKING:
    import optuna

# settings a search may not set: the budget, the metric, the seed and where training runs
NOT_TUNABLE = ("extra", "epochs", "patience", "eval_every", "monitor", "seed", "device",
               "threads", "eval_batch_users", "kg")  # fmt: skip
TUNABLE = tuple(
    f.name for f in (*fields(ModelConfig), *fields(TrainConfig)) if f.name not in NOT_TUNABLE
)


@dataclass(frozen=True)
class TuneSpace:
    """What a study searches: shared settings (ModelConfig / TrainConfig fields) and the
    model's options (``ModelConfig.extra``), each by name (one namespace: no name twice)."""

    settings: dict[str, Space]
    options: dict[str, Space]

    def __post_init__(self) -> None:
        both = sorted(set(self.settings) & set(self.options))
        if both:
            raise ValueError(f"search space: {', '.join(both)} both a setting and an option")

    def items(self) -> Iterator[tuple[str, Space]]:
        yield from self.settings.items()
        yield from self.options.items()

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """One value per name, from ``trial``."""
        return {name: space.suggest(trial, name) for name, space in self.items()}

    def given(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` as :func:`recommend.config.configs_for` takes them."""
        extra = {k: v for k, v in params.items() if k in self.options}
        return {**{k: v for k, v in params.items() if k in self.settings}, "extra": extra}

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": {k: s.to_json() for k, s in self.settings.items()},
            "options": {k: s.to_json() for k, s in self.options.items()},
        }

    @classmethod
    def from_json(cls, obj: Any, model: str, where: str) -> TuneSpace:
        """The space :meth:`to_json` wrote, checked against ``model``'s settings and options.

        Raises:
            ValueError: a malformed space or a name that is no setting / option, naming
                ``where`` and the key.
        """
        if not isinstance(obj, dict) or set(obj) != {"settings", "options"}:
            raise ValueError(f"{where}: expected {{'settings': ..., 'options': ...}}, not {obj!r}")
        parts = {}
        for part in ("settings", "options"):
            if not isinstance(obj[part], dict):
                raise ValueError(f"{where}.{part}: expected an object, not {obj[part]!r}")
            parts[part] = {
                k: space_from_json(v, f"{where}.{part}.{k}") for k, v in obj[part].items()
            }
        return checked_space(model, parts["settings"], parts["options"], where)


def checked_space(
    model: str, settings: dict[str, Space], options: dict[str, Space], where: str
) -> TuneSpace:
    """A :class:`TuneSpace` whose every name is a tunable setting or an option of ``model``.

    Raises:
        KeyError: an unknown model; ValueError: an unknown name (the message lists the valid
            ones).
    """
    cls = _model_class(model)
    bad = sorted(set(settings) - set(TUNABLE))
    if bad:
        raise ValueError(f"{where}: {', '.join(bad)} is no tunable setting; tunable: "
                         f"{', '.join(TUNABLE)}")  # fmt: skip
    opts = {f.name for f in fields(cls.options_type)}
    bad = sorted(set(options) - opts)
    if bad:
        raise ValueError(f"{where}: {model} has no option {', '.join(bad)}; its options: "
                         f"{', '.join(sorted(opts)) or 'none'}")  # fmt: skip
    return TuneSpace(dict(settings), dict(options))


def model_space(model: str) -> TuneSpace:
    """The space ``model`` declares: :attr:`Recommender.search_space` and its options'
    :meth:`~recommend.models.base.ModelOptions.search_space`.

    Raises:
        ValueError: the declaration names something that is no setting or option, or the
            model declares nothing to search.
    """
    cls = _model_class(model)
    space = checked_space(model, cls.search_space, cls.options_type.search_space(),
                          f"{cls.__qualname__}.search_space")  # fmt: skip
    if not space.settings and not space.options:
        raise ValueError(f"{model} declares no search space: nothing to tune")
    return space


def _model_class(model: str) -> type[Recommender]:
    if model not in REGISTRY:
        raise KeyError(f"unknown model {model!r}; available: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[model]


def default_params(model: str, space: TuneSpace) -> dict[str, Any]:
    """The model's own settings for each name of ``space``, where they lie in it."""
    rs = configs_for(model)
    values = {**asdict(rs.model), **asdict(rs.train)}
    out: dict[str, Any] = {}
    for name, sp in space.items():
        value = values["extra"].get(name, _option_default(model, name)) if (
            name in space.options) else values[name]  # fmt: skip
        if sp.contains(value):
            out[name] = value
    return out


def _option_default(model: str, name: str) -> Any:
    (f,) = [f for f in fields(REGISTRY[model].options_type) if f.name == name]
    return f.default

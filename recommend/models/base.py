"""The base every recommender shares, and the name registry the CLI and configs use.

Training is not a method of the model: the trainer samples BPR triples (and KG triples for the
graphs a model exposes through :meth:`Recommender.kg_graphs`), calls the losses, and calls
:meth:`Recommender.refresh` after each epoch. Scoring goes through :meth:`prepare_scoring` then
:meth:`score_all` in user batches; a model that scores from propagated vectors only says what
they are (:meth:`Recommender.scoring_representation`, by default :meth:`Recommender.propagate`)
and the base caches them. A model's own settings (``ModelConfig.extra``) are a typed, frozen
dataclass declared next to it (:attr:`Recommender.options_type`, a :class:`ModelOptions`),
parsed and checked by :meth:`Recommender.parse_options`. A model describes itself to the path
explainer (:mod:`recommend.explain`) through :meth:`Recommender.scoring_vectors`,
:meth:`Recommender.attention_encoders` and :attr:`Recommender.path_weights`. What ``kgrec
tune`` searches is declared here too: each option's space with the option (:func:`option`'s
``search``), the shared settings' in :attr:`Recommender.search_space`
(:mod:`recommend.models.search`).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, get_type_hints

import torch
from torch import Tensor, nn

from recommend.data import RecData
from recommend.models.search import Space

if TYPE_CHECKING:
    from recommend.models.encoder import Trace


@dataclass
class ModelConfig:
    """Hyper-parameters shared by the models; each model reads what it uses.

    Args:
        dim: embedding size (default: 64).
        layers: propagation layers (default: 3).
        l2: weight of the L2 penalty on the embeddings used in a batch (default: 1e-4).
        dropout: message dropout in propagation (default: 0.1).
        kg_l2: L2 weight inside the TransR loss (default: 1e-5).
        extra: model-specific settings, by name: the fields of the model's
            :attr:`Recommender.options_type` (checked by :meth:`Recommender.parse_options`).
    """

    dim: int = 64
    layers: int = 3
    l2: float = 1e-4
    dropout: float = 0.1
    kg_l2: float = 1e-5
    extra: dict[str, Any] = field(default_factory=dict)


def option(default: Any, help: str, search: Space | None = None) -> Any:
    """A field of a :class:`ModelOptions` dataclass: its default, a one-line description and,
    for ``kgrec tune``, the values a search may try (a :mod:`recommend.models.search` space;
    default: None, the option is not searched)."""
    return field(default=default, metadata={"help": help, "search": search})


@dataclass(frozen=True)
class ModelOptions:
    """Base of each model's options, a frozen dataclass whose fields (declared with
    :func:`option`) are the keys ``ModelConfig.extra`` may hold for that model. This one has
    none (models without options of their own)."""

    # search spaces of options declared by a parent class (or None: not searched here), which
    # override the parents' own `option(search=...)`
    search_spaces: ClassVar[Mapping[str, Space | None]] = {}

    @classmethod
    def help(cls) -> dict[str, str]:
        """Each option's one-line description, by name."""
        return {f.name: str(f.metadata.get("help", "")) for f in fields(cls)}

    @classmethod
    def search_space(cls) -> dict[str, Space]:
        """The options ``kgrec tune`` searches, by name: each field's ``option(search=...)``,
        then :attr:`search_spaces`.

        Raises:
            ValueError: :attr:`search_spaces` names no option of this class.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(cls.search_spaces) - names)
        if unknown:
            raise ValueError(
                f"{cls.__qualname__}.search_spaces: no option {', '.join(map(repr, unknown))}; "
                f"its options: {', '.join(sorted(names)) or 'none'}"
            )
        spaces = {f.name: f.metadata.get("search") for f in fields(cls)}
        spaces.update(cls.search_spaces)
        return {name: space for name, space in spaces.items() if space is not None}


OptionsT = TypeVar("OptionsT", bound=ModelOptions)


def _coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """``(True, value as tp)`` if ``value`` is of the annotated type ``tp``, else ``(False,
    None)``. Types: ``Any``, ``None``, bool, int, float (ints accepted, made float), str,
    ``Literal[...]``, ``list[X]`` and unions of these; a bool is not an int or a float."""
    if tp is Any:
        return True, value
    if tp is None or tp is type(None):
        return value is None, None
    origin = typing.get_origin(tp)
    if origin is Literal:
        return any(type(value) is type(c) and value == c for c in typing.get_args(tp)), value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            ok, out = _coerce(value, arg)
            if ok:
                return True, out
        return False, None
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        if not isinstance(value, list | tuple):
            return False, None
        items = [_coerce(v, item) for v in value]
        return all(ok for ok, _ in items), [v for _, v in items]
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else None
    if isinstance(tp, type):
        return isinstance(value, tp), value
    raise TypeError(f"unsupported option type {tp!r}")


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(tp)))
    if tp is type(None):
        return "None"
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", None) or str(tp)


class Recommender(nn.Module):
    """Base of all models.

    Shapes:
        users, pos, neg: ``[B]`` int64.
        score_all(users): ``[B, n_items]``.
    """

    name: ClassVar[str] = ""
    # settings this model trains best with: ModelConfig and TrainConfig fields, and
    # "rating_kinds"; anything the user gives explicitly wins (see recommend.train.configs_for)
    defaults: ClassVar[dict[str, Any]] = {}
    # how recommend.explain weighs path edges when the model has no attention to show
    # (attention_encoders): "embedding", a softmax of the cosines of scoring_vectors over each
    # node's edges, or "uniform", 1 / degree
    path_weights: ClassVar[Literal["embedding", "uniform"]] = "uniform"
    # the model's own settings (ModelConfig.extra), parsed into :attr:`options`
    options_type: ClassVar[type[ModelOptions]] = ModelOptions
    # what `kgrec tune` searches of the shared settings (ModelConfig / TrainConfig fields) this
    # model reads, built with recommend.models.search.shared; its options' spaces are declared
    # with them (ModelOptions.search_space)
    search_space: ClassVar[dict[str, Space]] = {}
    options: ModelOptions

    def __init__(self, data: RecData, config: ModelConfig) -> None:
        super().__init__()
        self.n_users, self.n_items = data.n_users, data.n_items
        self.config = config
        self.options = self.parse_options(config.extra, self.options_type)
        self._scoring_cache: tuple[Tensor, Tensor] | None = None

    @classmethod
    def parse_options(cls, extra: Mapping[str, Any], options_type: type[OptionsT]) -> OptionsT:
        """``extra`` as ``options_type``: every key must be one of its fields and every value
        of the field's type; the fields ``extra`` leaves out keep their defaults.

        Raises:
            ValueError: a key that is no option of this model (the message names the model
                and lists its options), or a value of the wrong type (naming the key).
        """
        spec: dict[str, Field[Any]] = {f.name: f for f in fields(options_type)}
        unknown = sorted(set(extra) - set(spec))
        if unknown:
            listed = f"its options: {', '.join(sorted(spec))}" if spec else "it has no options"
            names = ", ".join(map(repr, unknown))
            raise ValueError(f"{cls.name} has no option {names}; {listed}")
        hints = get_type_hints(options_type)
        values: dict[str, Any] = {}
        for key, value in extra.items():
            tp = hints[key]
            ok, out = _coerce(value, tp)
            if not ok:
                raise ValueError(
                    f"{cls.name}: {key} must be {_type_name(tp)}, not {value!r}"
                    + ("" if typing.get_origin(tp) is Literal else f" ({type(value).__name__})")
                )
            values[key] = out
        return options_type(**values)

    def cf_loss(self, users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        """BPR loss plus L2 for one batch of (user, positive item, negative item)."""
        raise NotImplementedError

    def kg_graphs(self) -> dict[str, Tensor]:
        """Graphs to sample for a KG loss: name -> ``[3, T]`` (head, relation, tail)."""
        return {}

    def kg_loss(self, graph: str, h: Tensor, r: Tensor, t_pos: Tensor, t_neg: Tensor) -> Tensor:
        """TransR (or similar) loss on one batch of triples of ``graph``."""
        raise NotImplementedError(f"{self.name} has no KG loss")

    def refresh(self) -> None:  # noqa: B027 - optional hook
        """Called after every training epoch (e.g. to recompute attention weights)."""

    def propagate(self) -> tuple[Tensor, Tensor]:
        """The final user and item vectors of a propagating model, with gradients (what its
        losses use). Shapes: ``([n_users, D], [n_items, D])``."""
        raise NotImplementedError(f"{self.name} does not propagate")

    def scoring_representation(self) -> tuple[Tensor, Tensor]:
        """The user and item vectors :meth:`score_all` scores from (cached once per
        :meth:`prepare_scoring`). Default: :meth:`propagate`.
        Shapes: ``([n_users, D], [n_items, D])``."""
        return self.propagate()

    def forget_scoring(self) -> None:
        """Drop the cached scoring representation (the parameters or attention changed)."""
        self._scoring_cache = None

    @classmethod
    def has_representation(cls) -> bool:
        """Whether the model scores from vectors of its own (overrides :meth:`propagate` or
        :meth:`scoring_representation`); one without them scores by its own :meth:`score_all`
        and has nothing to cache."""
        return (
            cls.scoring_representation is not Recommender.scoring_representation
            or cls.propagate is not Recommender.propagate
        )

    @torch.no_grad()
    def prepare_scoring(self) -> None:
        """Called once before :meth:`score_all` batches (in eval mode): computes and caches
        :meth:`scoring_representation`; nothing for a model without one."""
        if self.has_representation():
            self._scoring_cache = self.scoring_representation()

    def cached_representation(self) -> tuple[Tensor, Tensor]:
        """The representation :meth:`prepare_scoring` cached, else computed now."""
        cache = self._scoring_cache
        return cache if cache is not None else self.scoring_representation()

    def score_all(self, users: Tensor) -> Tensor:
        """Scores of ``users`` against every item: by default the inner products of the
        cached :meth:`scoring_representation`. Shapes: ``[B]`` -> ``[B, n_items]``."""
        uv, iv = self.cached_representation()
        return uv[users] @ iv.T

    def scoring_vectors(self) -> tuple[Tensor, Tensor]:
        """User and item vectors whose inner products are the scores (for serving and the
        explainer; called without gradients, in eval mode).

        The default is exact for any model, and large: every user's :meth:`score_all` row
        against the identity. Models with vectors of their own override it.

        Shapes: ``([n_users, D], [n_items, D])``; ``D = n_items`` by default.
        """
        self.prepare_scoring()
        return self.score_all(torch.arange(self.n_users)), torch.eye(self.n_items)

    def attention_encoders(self) -> list[tuple[nn.Module, Literal["user", "item"]]]:
        """The attentive encoders whose attention π weighs explanation paths, each with the side
        whose collaborative KG it propagates over, which fixes its entity ids: ``"item"``, the
        item KG's entities (items first) then users; ``"user"``, the user KG's (users first) then
        items. An encoder exposes ``edges`` ``[3, E]`` (head, relation, tail) and ``att`` ``[E]``
        (:class:`~recommend.models.encoder.CKGEncoder`). Default: none."""
        return []

    def encoder_traces(self) -> list[Trace]:
        """One :meth:`~recommend.models.encoder.CKGEncoder.trace` per attention encoder, in the
        order of :meth:`attention_encoders` (in eval mode, without gradients): what a local
        view of masking (:mod:`recommend.explain.attribution`) recomputes from. Default: none,
        the model cannot be seen that way."""
        return []

    def vectors_from_states(self, side: Literal["user", "item"], states: list[Tensor]) -> Tensor:
        """The scoring vectors (as :meth:`scoring_vectors` gives them) of ``K`` users or items
        from their layer states in each attention encoder (``[L+1, K, dim]`` each, in the order
        of :meth:`attention_encoders`). Shapes: ``[K, D]``."""
        raise NotImplementedError(f"{self.name} does not score from encoder states")

    @property
    def trainable(self) -> bool:
        return any(p.requires_grad for p in self.parameters())

    def extra_repr(self) -> str:
        return f"n_users={self.n_users}, n_items={self.n_items}, dim={self.config.dim}"


REGISTRY: dict[str, type[Recommender]] = {}


def register(cls: type[Recommender]) -> type[Recommender]:
    """Class decorator: make a model available by its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    REGISTRY[cls.name] = cls
    return cls


def build(name: str, data: RecData, config: ModelConfig | None = None) -> Recommender:
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](data, config or ModelConfig())


def device_of(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")

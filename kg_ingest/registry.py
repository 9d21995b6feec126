"""The loaders ``kgrec ingest`` offers: one :class:`Loader` per source, registered by name.

A loader reads its source either from one folder (``kgrec ingest movielens PATH``) or, with
:attr:`Loader.options`, from command-line options alone (``kgrec ingest synthetic --users
N``). It names its function as ``"module:function"``: importing this module imports no loader
(nor numpy or pandas), so ``kgrec --help`` stays fast. A new source format is one
:func:`register` call below; ``kgrec ingest <name>`` is built from it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from kg_store.graph_data import GraphData


@dataclass(frozen=True)
class Option:
    """An integer option of a loader that takes no folder: ``--<name>``, with its default,
    help and allowed range (``None``: no bound)."""

    name: str
    default: int
    help: str
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class Loader:
    """One source format.

    Args:
        name: the ``kgrec ingest`` command, and the prefix of the dataset name a graph records.
        title: how messages name the source (``"parsing and validating MovieLens ..."``).
        help: the command's one-line help.
        function: ``"module:function"``, called with the folder's path, or with the options
            as keywords; it returns the parsed and validated :class:`GraphData`.
        options: empty: the source is one folder; else the options that make it.
    """

    name: str
    title: str
    help: str
    function: str
    options: tuple[Option, ...] = ()

    @property
    def takes_folder(self) -> bool:
        return not self.options

    def dataset(self, source: Path | Mapping[str, int]) -> str:
        """The name a graph records for the dataset: ``movielens:<folder's name>``, or the
        options in order (``synthetic:users=500,videos=300,seed=0``)."""
        if isinstance(source, Path):
            return f"{self.name}:{source.resolve().name}"
        return f"{self.name}:" + ",".join(f"{o.name}={source[o.name]}" for o in self.options)

    def parse(self, source: Path | Mapping[str, int]) -> GraphData:
        """Parse and validate the source (a folder, or the options by name) into GraphData
        named :meth:`dataset`. The loaders raise :class:`kg_ingest.errors.IngestError`."""
        module, _, attr = self.function.partition(":")
        fn = cast("Callable[..., GraphData]", getattr(importlib.import_module(module), attr))
        data = fn(source) if isinstance(source, Path) else fn(**source)
        data.dataset = self.dataset(source)
        return data


LOADERS: dict[str, Loader] = {}
"""The registered loaders by name, in registration order (the order ``kgrec ingest --help``
lists them)."""


def register(loader: Loader) -> Loader:
    """Add ``loader``; a name can be registered once."""
    if loader.name in LOADERS:
        raise ValueError(f"a loader named {loader.name!r} is already registered")
    LOADERS[loader.name] = loader
    return loader


register(Loader(
    name="movielens",
    title="MovieLens",
    help="MovieLens 100K (u.data, u.item, u.user), 1M (*.dat) or latest (*.csv).",
    function="kg_ingest.movielens:load_movielens",
))  # fmt: skip
register(Loader(
    name="kgat",
    title="KGAT",
    help="KGAT format: train.txt/test.txt, optional kg_final.txt and *_list.txt id maps.",
    function="kg_ingest.kgat:load_kgat",
))  # fmt: skip
register(Loader(
    name="microvideo",
    title="micro-video",
    help="Micro-video format (docs/microvideo_format.md): interactions, videos, modality .npy.",
    function="kg_ingest.microvideo:load_microvideo",
))  # fmt: skip
register(Loader(
    name="rawmedia",
    title="raw-media",
    help="Raw-media format (docs/rawmedia_format.md): micro-video CSVs + media/<video>/ files.",
    function="kg_ingest.rawmedia:load_rawmedia",
))  # fmt: skip
register(Loader(
    name="synthetic",
    title="synthetic",
    help="A seeded synthetic micro-video KG whose interactions follow latent tastes.",
    function="kg_ingest.synthetic:generate",
    # the ranges of kg_ingest.synthetic (MIN_/MAX_USERS, MIN_/MAX_VIDEOS; a test checks), as
    # literals: that module imports numpy
    options=(
        Option("users", 500, "Number of users.", min=1, max=1_000_000),
        Option("videos", 300, "Number of videos.", min=2, max=1_000_000),
        Option("seed", 0, "Random seed."),
    ),
))  # fmt: skip

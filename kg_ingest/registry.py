"""The loaders ``kgrec ingest`` offers: one :class:`Loader` per source, registered by name.

A loader reads its source from one folder (``kgrec ingest movielens PATH``), one file
(``kgrec ingest table FILE --user-col U ...``) or command-line options alone (``kgrec ingest
synthetic --users N``); folders and files may take :attr:`Loader.options` too. It names its
function as ``"module:function"``: importing this module imports no loader (nor numpy or
pandas), so ``kgrec --help`` stays fast. A new source format is one :func:`register` call
below; ``kgrec ingest <name>`` is built from it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from kg_store.graph_data import GraphData

OPTION_KINDS = ("int", "str", "file", "list")
SOURCES = ("folder", "file", "")


@dataclass(frozen=True)
class Option:
    """An option of a loader: ``--<name>`` (underscores written as dashes), with its default
    and help.

    Args:
        name: the keyword the loader's function takes (``user_col`` -> ``--user-col``).
        default: the value when the option is not given (``None``: not given).
        help: the option's help.
        min: the smallest allowed value of an ``int`` option (``None``: no bound).
        max: the largest allowed value of an ``int`` option (``None``: no bound).
        kind: ``"int"``, ``"str"``, ``"file"`` (an existing file's path) or ``"list"``
            (a string option that may be repeated; the function gets a list).
        required: the command refuses to run without it.
    """

    name: str
    default: int | str | None
    help: str
    min: int | None = None
    max: int | None = None
    kind: str = "int"
    required: bool = False

    def __post_init__(self) -> None:
        if self.kind not in OPTION_KINDS:
            raise ValueError(f"option {self.name!r}: kind must be one of {OPTION_KINDS}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Loader:
    """One source format.

    Args:
        name: the ``kgrec ingest`` command, and the prefix of the dataset name a graph records.
        title: how messages name the source (``"parsing and validating MovieLens ..."``).
        help: the command's one-line help.
        function: ``"module:function"``, called with the folder's or file's path and the
            options as keywords (or with the options alone); it returns the parsed and
            validated :class:`GraphData`.
        options: the options of the command (besides ``--graph`` and ``--merge``).
        source: ``"folder"``, ``"file"``, or ``""`` when the options alone make the source
            (default: a folder for a loader without options, else the options alone).
    """

    name: str
    title: str
    help: str
    function: str
    options: tuple[Option, ...] = ()
    source: str | None = None

    def __post_init__(self) -> None:
        if self.source is not None and self.source not in SOURCES:
            raise ValueError(f"loader {self.name!r}: source must be one of {SOURCES}")

    @property
    def argument(self) -> str:
        """What the command's argument is: ``"folder"``, ``"file"`` or ``""`` (none)."""
        if self.source is not None:
            return self.source
        return "" if self.options else "folder"

    @property
    def takes_folder(self) -> bool:
        return self.argument == "folder"

    def dataset(self, source: Path | Mapping[str, object]) -> str:
        """The name a graph records for the dataset: ``movielens:<folder's name>``,
        ``table:<file's name>``, or the options in order (``synthetic:users=500,videos=300,
        seed=0``). A loader may name its dataset itself (``recbole:<atomic files' name>``)."""
        if isinstance(source, Path):
            return f"{self.name}:{source.resolve().name}"
        return f"{self.name}:" + ",".join(f"{o.name}={source[o.name]}" for o in self.options)

    def parse(
        self, source: Path | Mapping[str, object], options: Mapping[str, object] | None = None
    ) -> GraphData:
        """Parse and validate the source (a folder or file with its ``options``, or the
        options by name) into GraphData named :meth:`dataset` unless the loader named it.
        The loaders raise :class:`kg_ingest.errors.IngestError`."""
        module, _, attr = self.function.partition(":")
        fn = cast("Callable[..., GraphData]", getattr(importlib.import_module(module), attr))
        if isinstance(source, Path):
            data = fn(source, **dict(options or {}))
        else:
            data = fn(**source)
        if not data.dataset:
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
register(Loader(
    name="recbole",
    title="RecBole",
    help="RecBole atomic files: <name>.inter, optional .user, .item, .kg, .link, .net.",
    function="kg_ingest.recbole:load_recbole",
    source="folder",
    options=(
        Option("dataset_name", None, "The files' name (<name>.inter; default: the folder's "
               "name, or its one *.inter).", kind="str"),
    ),
))  # fmt: skip
register(Loader(
    name="csv",
    title="neo4j-admin CSV",
    help="neo4j-admin import CSV files: node files (:ID, :LABEL) and relationship files "
    "(:START_ID, :END_ID, :TYPE).",
    function="kg_ingest.admin_csv:load_admin_csv",
))  # fmt: skip
register(Loader(
    name="table",
    title="interaction table",
    help="One interaction table (CSV, TSV or Parquet), optional item attributes and KG triples.",
    function="kg_ingest.table:load_table",
    source="file",
    options=(
        Option("user_col", None, "Column of the user ids.", kind="str", required=True),
        Option("item_col", None, "Column of the item ids.", kind="str", required=True),
        Option("rating_col", None, "Column of the ratings (RATED; default: INTERACTED).",
               kind="str"),
        Option("time_col", None, "Column of the times (unix seconds or dates).", kind="str"),
        Option("sep", None, "Separator of text files (default: by extension, else sniffed; "
               "'tab' for a tab).", kind="str"),
        Option("items", None, "Item attribute table (one row per item).", kind="file"),
        Option("item_key", None, "Item id column of --items (default: the --item-col name).",
               kind="str"),
        Option("multi", None, "A '|'-separated column of --items whose values become "
               "attribute entities (repeatable).", kind="list"),
        Option("triples", None, "KG triples table with head, relation and tail columns.",
               kind="file"),
    ),
))  # fmt: skip

"""Loads named, parameterised Cypher statements from the ``cypher`` package folder.

A file starts with ``//`` comment lines: a description, then ``// @param NAME: text`` lines
(``(default: V)`` at the end gives a default, parsed as JSON when it can be). The rest is the
statement. ``{{label}}``-style slots are filled only with identifiers checked by
:func:`kg_store.graph_data.check_identifier`; user values always travel as ``$params``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cypher
from kg_store.errors import UnknownQuery
from kg_store.graph_data import check_identifier

CYPHER_DIR = Path(cypher.__file__).resolve().parent
DIALECTS = ("falkordb", "neo4j")
_PARAM = re.compile(r"^@param\s+(\w+)\s*:\s*(.*)$")
_DEFAULT = re.compile(r"\(default:\s*(.*)\)\s*$")
_SLOT = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    default: object = None
    required: bool = True


@dataclass(frozen=True)
class Statement:
    """One named statement: its text for a dialect, description and parameters."""

    name: str
    text: str
    description: str
    params: tuple[Param, ...] = field(default_factory=tuple)
    path: Path | None = None

    def render(self, **slots: str) -> str:
        """Fill ``{{slot}}`` placeholders with checked, back-ticked identifiers."""

        def fill(m: re.Match[str]) -> str:
            key = m.group(1)
            if key not in slots:
                raise ValueError(f"{self.name}: no value for slot {{{{{key}}}}}")
            return check_identifier(slots[key], key)

        return _SLOT.sub(fill, self.text)

    def bind(self, given: dict[str, object]) -> dict[str, object]:
        """Complete ``given`` with defaults; raise on missing or unknown parameters."""
        names = {p.name for p in self.params}
        unknown = sorted(set(given) - names)
        if unknown:
            raise ValueError(
                f"query {self.name!r} has no parameter(s) {unknown}; "
                f"it takes {sorted(names) or 'none'}"
            )
        out: dict[str, object] = {}
        for p in self.params:
            if p.name in given:
                out[p.name] = given[p.name]
            elif p.required:
                raise ValueError(f"query {self.name!r} needs parameter {p.name!r}: {p.description}")
            else:
                out[p.name] = p.default
        return out


def _parse(name: str, path: Path) -> Statement:
    lines = path.read_text(encoding="utf-8").splitlines()
    doc: list[str] = []
    params: list[Param] = []
    i = 0
    while i < len(lines) and (lines[i].startswith("//") or not lines[i].strip()):
        text = lines[i][2:].strip() if lines[i].startswith("//") else ""
        m = _PARAM.match(text)
        if m:
            desc = m.group(2)
            d = _DEFAULT.search(desc)
            if d:
                raw = d.group(1).strip()
                try:
                    default: object = json.loads(raw)
                except json.JSONDecodeError:
                    default = raw
                params.append(Param(m.group(1), desc, default, required=False))
            else:
                params.append(Param(m.group(1), desc))
        elif text:
            doc.append(text)
        i += 1
    body = "\n".join(lines[i:]).strip().rstrip(";")
    if not body:
        raise ValueError(f"{path}: no statement after the header comment")
    return Statement(name, body, " ".join(doc), tuple(params), path)


def parse_file(path: Path) -> Statement:
    """A statement from an analyst's own ``.cypher`` file (same header format), named by its
    file name."""
    return _parse(path.stem, path)


@cache
def load(name: str, dialect: str) -> Statement:
    """The statement ``name`` (e.g. ``overview`` or ``store/merge_nodes``) for ``dialect``."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}")
    if not re.fullmatch(r"[\w/]+", name) or ".." in name:
        raise UnknownQuery(f"invalid query name {name!r}")
    for candidate in (CYPHER_DIR / f"{name}.{dialect}.cypher", CYPHER_DIR / f"{name}.cypher"):
        if candidate.is_file():
            return _parse(name, candidate)
    raise UnknownQuery(
        f"no query named {name!r} in {CYPHER_DIR}; known: {', '.join(library_names())}"
    )


def library_names() -> list[str]:
    """Names of the analysts' queries (top level of the folder)."""
    names = set()
    for p in CYPHER_DIR.glob("*.cypher"):
        stem = p.name[: -len(".cypher")]
        base, _, dialect = stem.rpartition(".")
        names.add(base if dialect in DIALECTS and base else stem)
    return sorted(names)

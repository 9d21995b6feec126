"""The house rules of ARCHITECTURE.md, read from the code: every import of one of our packages
goes to a lower floor, no package imports a sibling's private names, no cycle. The few
exceptions that remain are listed here with their reason, and each must still exist (an
exception that is gone is removed from the list)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kgrec", "cypher", "kg_store", "kg_ingest", "embed", "recommend", "api", "ui")

# floor of a module: its most specific prefix here (kgrec.cli is the top floor, the rest of
# kgrec the ground floor)
FLOORS = {
    "kgrec": 0,  # settings, device, graph schema
    "cypher": 0,  # statement files only
    "kg_store": 1,
    "kg_ingest": 2,
    "embed": 2,
    "recommend": 3,
    "api": 4,
    "ui": 5,
    "kgrec.cli": 6,
}
# what each floor's package may import besides the ground floor (ARCHITECTURE.md's table)
MAY_IMPORT = {
    "kgrec": set(),
    "cypher": set(),
    "kg_store": set(),
    "kg_ingest": {"kg_store"},
    "embed": {"kg_store"},
    "recommend": {"kg_store", "embed"},
    "api": {"kg_store", "embed", "recommend"},
    "ui": {"kg_store", "embed", "recommend"},
    "kgrec.cli": set(FLOORS),
}
GROUND = {"kgrec", "cypher"}
# imports that break the rules today, with the reason; each must still be in the code
EXCEPTIONS: dict[tuple[str, str], str] = {}


def _floor(module: str) -> tuple[str, int]:
    best = max((p for p in FLOORS if module == p or module.startswith(p + ".")), key=len)
    return best, FLOORS[best]


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every absolute import of ours."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names], node.lineno))
    return [f for f in found if f[0].split(".")[0] in PACKAGES]


def _violations() -> tuple[list[str], set[tuple[str, str]]]:
    bad, used = [], set()
    for module, path in _modules().items():
        home, floor = _floor(module)
        for target, names, line in _imports(path):
            there, target_floor = _floor(target)
            if (
                there == home
                or target.split(".")[0] == module.split(".")[0]
                and (home != "kgrec.cli" and there != "kgrec.cli")
            ):
                continue  # inside one package (kgrec's ground modules among themselves)
            where = f"{path.relative_to(ROOT)}:{line}: {module} imports {target}"
            key = (module, target)
            if key in EXCEPTIONS:
                used.add(key)
                continue
            if any(n.startswith("_") for n in names) or any(
                p.startswith("_") and p != "__init__" for p in target.split(".")[1:]
            ):
                bad.append(f"{where} (a private name of another package)")
            if there not in GROUND and there not in MAY_IMPORT[home]:
                bad.append(f"{where} ({home} may not import {there}: ARCHITECTURE.md)")
    return bad, used


def test_imports_go_down_the_floors() -> None:
    bad, _ = _violations()
    assert not bad, "imports against ARCHITECTURE.md's floors:\n" + "\n".join(bad)


def test_listed_exceptions_still_exist() -> None:
    _, used = _violations()
    stale = set(EXCEPTIONS) - used
    assert not stale, f"these exceptions are gone from the code: remove them from the list {stale}"


@pytest.mark.parametrize(
    "package",
    ["kgrec.settings", "kgrec.schema", "kgrec.device", "kgrec.runs", "kgrec.media", "kgrec.lazy"],
)
def test_ground_floor_imports_nothing_of_ours(package: str) -> None:
    path = ROOT / (package.replace(".", "/") + ".py")
    assert [t for t, _, _ in _imports(path)] == []


def test_no_cypher_text_outside_cypher() -> None:
    """Statements live in cypher/*.cypher; code runs them by name (analysts' own text comes in
    as data). A MATCH ... RETURN string literal in a package is a statement that escaped."""
    import re

    pattern = re.compile(r"""["'](?:MATCH|CREATE|MERGE|UNWIND|CALL)(?:\s+[(\w{]|\s*\()""")
    escaped = []
    for module, path in _modules().items():
        if module.startswith("cypher"):
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line) and "layout: cypher" not in line:
                escaped.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not escaped, "Cypher outside cypher/:\n" + "\n".join(escaped)


MAX_LINES = 400


def test_no_source_file_grows_past_the_limit() -> None:
    """A module past ~400 lines holds more than one job: split it (tests are exempt)."""
    root = Path(__file__).resolve().parents[1]
    long = {
        str(p.relative_to(root)): n
        for pkg in ("kgrec", "kg_store", "kg_ingest", "embed", "recommend", "api", "ui", "cypher")
        for p in (root / pkg).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"over {MAX_LINES} lines: {long}"

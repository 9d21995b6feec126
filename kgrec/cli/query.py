"""``kgrec stats`` and ``kgrec query``: counts, and the read-only Cypher library."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from kgrec.cli.console import GraphOpt, JsonOpt, domain_errors, fail, jsonable, out, settings


def print_stats(counts: dict[str, dict[str, int]]) -> None:
    table = Table(title="graph statistics")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("count", justify="right")
    for kind, key in (("node", "nodes"), ("relationship", "relationships")):
        for name, n in counts[key].items():
            table.add_row(kind, name, f"{n:,}")
    out.print(table)


def stats(graph: GraphOpt = None, as_json: JsonOpt = False) -> None:
    """Node counts per label and relationship counts per type."""
    from kg_store import open_store

    with domain_errors():
        store = open_store(settings(), graph)
        counts = store.stats()
        store.close()
    if as_json:
        print(json.dumps(counts))
    else:
        print_stats(counts)


def _coerce(value: str, default: object) -> object:
    """``key=value`` strings take the type of the parameter's default; ids stay strings."""
    if isinstance(default, bool):
        return value.lower() in ("1", "true", "yes")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, list):
        return json.loads(value)
    return value


def parse_params(name: str | None, raw: list[str], dialect: str) -> dict[str, object]:
    """``key=value`` (typed by the parameter's default) or ``key:=JSON``."""
    from kg_store import library

    defaults: dict[str, object] = {}
    if name:
        defaults = {p.name: p.default for p in library.load(name, dialect).params}
    params: dict[str, object] = {}
    for item in raw:
        if ":=" in item:
            key, _, val = item.partition(":=")
            try:
                params[key] = json.loads(val)
            except json.JSONDecodeError as e:
                raise ValueError(f"--param {item!r}: not valid JSON after ':='") from e
        elif "=" in item:
            key, _, val = item.partition("=")
            try:
                params[key] = _coerce(val, defaults.get(key))
            except ValueError as e:
                raise ValueError(f"--param {item!r}: {e}") from e
        else:
            raise ValueError(f"--param {item!r}: expected key=value or key:=JSON")
    return params


def print_result(res: Any, as_json: bool, title: str = "") -> None:
    if as_json:
        print(json.dumps({
            "columns": res.columns, "rows": jsonable(res.rows),
            "truncated": res.truncated, "elapsed_s": round(res.elapsed_s, 4),
        }))  # fmt: skip
        return
    table = Table(title=title or None)
    for c in res.columns:
        table.add_column(c)
    for row in res.rows:
        table.add_row(*[json.dumps(jsonable(v)) if not isinstance(v, str) else v for v in row])
    out.print(table)
    note = " (truncated at the row cap)" if res.truncated else ""
    out.print(f"{len(res.rows)} row(s) in {res.elapsed_s * 1000:.0f} ms{note}")


def query(
    name: Annotated[str | None, typer.Argument(help="Library query name (see --list).")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="key=value or key:=JSON.")
    ] = None,
    cypher: Annotated[
        str | None, typer.Option("--cypher", help="Your own read-only Cypher.")
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the library queries.")] = False,
    max_rows: Annotated[int | None, typer.Option(help="Row cap (default KGREC_MAX_ROWS).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Time cap in seconds.")] = None,
    graph: GraphOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a library query by name, or --cypher TEXT. Read-only: writes are refused."""
    from kg_store import library, open_store

    s = settings()
    if list_:
        rows = []
        for n in library.library_names():
            st = library.load(n, "falkordb")
            rows.append({"name": n, "description": st.description,
                         "params": {p.name: p.default for p in st.params}})  # fmt: skip
        if as_json:
            print(json.dumps(rows))
        else:
            table = Table(title="Cypher library")
            for c in ("name", "description", "params"):
                table.add_column(c)
            for r in rows:
                table.add_row(str(r["name"]), str(r["description"]), json.dumps(r["params"]))
            out.print(table)
        return
    if (name is None) == (cypher is None):
        raise fail("give a library query NAME or --cypher TEXT (not both); --list shows names", 2)
    cap_rows = max_rows or s.max_rows
    cap_time = timeout or s.query_timeout
    with domain_errors():
        store = open_store(s, graph)
        params = parse_params(name, param or [], store.dialect)
        if name is not None:
            res = store.query(name, params, max_rows=cap_rows, timeout=cap_time)
        else:
            assert cypher is not None
            res = store.read_only(cypher, params, max_rows=cap_rows, timeout=cap_time)
        store.close()
    print_result(res, as_json, title=name or "")


def register(app: typer.Typer) -> None:
    """Add ``stats`` and ``query``."""
    app.command()(stats)
    app.command()(query)

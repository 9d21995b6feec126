"""Column-wise encoding of UNWIND batches as Cypher literals for FalkorDB's parameter header.

FalkorDB receives parameters as Cypher text (``CYPHER rows=[...] UNWIND $rows ...``). The
client's generic encoder walks every value in Python and took half of a bulk load's time; this
encoder converts whole columns at once (numpy for numbers) and only joins strings per row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kg_store.graph_data import check_identifier


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _float(x: float) -> str:
    if not math.isfinite(x):
        raise ValueError(f"cannot store {x} in a graph property (NaN/inf in a vector)")
    # 8 significant digits round-trip float32 features; keep a '.' so 2.0 stays a float
    s = f"{x:.8g}"
    return s if ("." in s or "e" in s or "n" in s) else s + ".0"


def _value(v: object) -> str:
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        return repr(float(v))
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, list | tuple):
        if v and all(isinstance(x, float) for x in v):
            return "[" + ",".join(map(_float, v)) + "]"
        return "[" + ",".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot store a {type(v).__name__} as a graph property")


def column(col: pd.Series) -> list[str | None]:
    """Each value as a Cypher literal, ``None`` where missing."""
    missing = col.isna().to_numpy()
    has_missing = bool(missing.any())
    kind = col.dtype.kind
    if kind in "iu" and not has_missing:
        return col.to_numpy(np.int64).astype(str).tolist()
    if kind == "f" and not has_missing:
        return [repr(x) for x in col.to_numpy(np.float64).tolist()]
    if kind == "b" and not has_missing:
        return ["true" if x else "false" for x in col.tolist()]
    values = col.tolist()
    return [None if m else _value(v) for v, m in zip(values, missing.tolist(), strict=True)]


def maps(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """One Cypher map literal per row over ``columns``, leaving out missing values."""
    if not columns:
        return ["{}"] * len(frame)
    parts: list[list[str | None]] = []
    for c in columns:
        key = check_identifier(c, "property") + ":"
        parts.append([None if v is None else key + v for v in column(frame[c])])
    if all(None not in p for p in parts):
        return ["{" + ",".join(row) + "}" for row in zip(*parts, strict=True)]  # type: ignore[arg-type,unused-ignore]
    return [
        "{" + ",".join(x for x in row if x is not None) + "}" for row in zip(*parts, strict=True)
    ]


def rows(*cols: Sequence[str]) -> str:
    """``[[c1,c2,...],...]`` from columns of literals."""
    return "[" + ",".join("[" + ",".join(r) + "]" for r in zip(*cols, strict=True)) + "]"

"""The FalkorDB batch encoder: values survive the trip as the same types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kg_store import literals
from kg_store.falkordb_store import FalkorDBStore


def test_maps_leave_out_missing_and_escape_strings() -> None:
    f = pd.DataFrame({"a": pd.array([1, None], "Int64"), "s": ['q"x\\y', None], "b": [True, False]})
    assert literals.maps(f, ["a", "s", "b"]) == ['{`a`:1,`s`:"q\\"x\\\\y",`b`:true}', "{`b`:false}"]


def test_non_finite_vectors_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN/inf"):
        literals.maps(pd.DataFrame({"v": [[float("nan"), 1.0]]}), ["v"])


def test_round_trip_through_falkordb(falkordb_store: FalkorDBStore) -> None:
    f = pd.DataFrame(
        {
            "s": ['it\'s "x" \\ y', "ünïcode"],
            "i": [1, -(2**40)],
            "x": [0.1, 2.0],
            "v": [np.array([1.5, 2.0], dtype=np.float32), np.array([0.25, -3.0], np.float32)],
        }
    )
    got = falkordb_store._on(
        falkordb_store._graph,
        f"CYPHER rows={literals.rows(literals.maps(f, list(f.columns)))} "
        "UNWIND $rows AS r RETURN r[0].s, r[0].i, r[0].x, r[0].v",
        None,
    ).rows
    assert got == [
        ['it\'s "x" \\ y', 1, 0.1, [1.5, 2.0]],
        ["ünïcode", -(2**40), 2.0, [0.25, -3.0]],
    ]
    assert all(isinstance(x, float) for x in got[0][3])

"""Loaders: source formats parsed and validated into GraphData, written through kg_store.

:mod:`kg_ingest.registry` lists them for ``kgrec ingest``. The names below load on first use
(PEP 562): the loaders import numpy and pandas, which the ``kgrec`` command (it imports the
registry and :class:`IngestError`) must not pay for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kg_ingest.errors import IngestError
from kgrec.lazy import lazy_exports

if TYPE_CHECKING:
    from kg_ingest.admin_csv import load_admin_csv
    from kg_ingest.admin_csv_write import write_admin_csv
    from kg_ingest.kgat import load_kgat
    from kg_ingest.microvideo import load_microvideo
    from kg_ingest.movielens import load_movielens
    from kg_ingest.rawmedia import load_rawmedia
    from kg_ingest.recbole import load_recbole
    from kg_ingest.recbole_write import write_recbole
    from kg_ingest.table import load_table
    from kg_ingest.text import embed_texts, text_backend

_EXPORTS = {
    "embed_texts": "kg_ingest.text",
    "load_admin_csv": "kg_ingest.admin_csv",
    "load_kgat": "kg_ingest.kgat",
    "load_microvideo": "kg_ingest.microvideo",
    "load_movielens": "kg_ingest.movielens",
    "load_rawmedia": "kg_ingest.rawmedia",
    "load_recbole": "kg_ingest.recbole",
    "load_table": "kg_ingest.table",
    "text_backend": "kg_ingest.text",
    "write_admin_csv": "kg_ingest.admin_csv_write",
    "write_recbole": "kg_ingest.recbole_write",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "IngestError",
    "embed_texts",
    "load_admin_csv",
    "load_kgat",
    "load_microvideo",
    "load_movielens",
    "load_rawmedia",
    "load_recbole",
    "load_table",
    "text_backend",
    "write_admin_csv",
    "write_recbole",
]

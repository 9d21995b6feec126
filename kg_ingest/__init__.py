"""Loaders: source formats parsed and validated into GraphData, written through kg_store."""

from __future__ import annotations

from kg_ingest.errors import IngestError
from kg_ingest.kgat import load_kgat
from kg_ingest.microvideo import load_microvideo
from kg_ingest.movielens import load_movielens
from kg_ingest.rawmedia import load_rawmedia
from kg_ingest.text import embed_texts, text_backend

__all__ = [
    "IngestError",
    "embed_texts",
    "load_kgat",
    "load_microvideo",
    "load_movielens",
    "load_rawmedia",
    "text_backend",
]

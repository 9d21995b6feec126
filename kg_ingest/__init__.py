"""Loaders: source formats parsed and validated into GraphData, written through kg_store."""

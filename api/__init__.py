"""api: see ARCHITECTURE.md (built by later issues)."""

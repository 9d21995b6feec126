"""embed: see ARCHITECTURE.md (built by later issues)."""

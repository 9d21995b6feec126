"""The dashboard's pages, one module each, each with a ``render()`` that draws it."""

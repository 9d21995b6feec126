"""Package names loaded on first use (PEP 562), for packages whose ``__init__`` must stay cheap
to import (the command line imports one module of them and must not pay for torch or pandas).
Ground floor: imports nothing of ours."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str], *, first: Iterable[str] = ()
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``exports[name]`` (a module path) on first use,
    after the modules in ``first`` (e.g. the ones that register models), and keeps the value
    in the package so the next lookup is a plain attribute."""
    before = tuple(first)

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        for module in before:
            importlib.import_module(module)
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__

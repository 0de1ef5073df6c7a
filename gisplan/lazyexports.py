"""A package's public names imported from their modules on first use (PEP 562), so that importing the package
(`gisplan`, `gisplan.outputs`, `gisplan.workflows`) does not import every module a command may not need."""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, public: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of `package`: name → the module that defines it, imported when the
    name is first asked for and kept in the package's namespace afterwards."""

    def get(name: str) -> Any:
        if name not in public:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(import_module(public[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def names() -> list[str]:
        return sorted({*vars(sys.modules[package]), *public})

    return get, names

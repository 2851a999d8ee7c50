"""Lazy re-exports (PEP 562) shared by the package's ``__init__`` modules.

Public names are listed once per package as ``name -> defining module``; the defining module is
imported on first access only, so ``import pyannote_notebook`` (and the light ``evaluate`` CLI
path) never pays for matplotlib, pandas, scipy, FastAPI or onnxruntime it does not use.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str], submodules: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for ``package`` re-exporting ``exports`` lazily.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : Mapping[str, str]
        Public name -> module that defines it.
    submodules : Iterable[str]
        Subpackages reachable as attributes before anyone imported them.

    An unknown name raises ``AttributeError`` as for any module; an import error of the defining
    module propagates unchanged (it names the missing dependency).
    """
    subs = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        namespace = vars(sys.modules[package])
        if name in subs:
            return importlib.import_module(f"{package}.{name}")
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        namespace = vars(sys.modules[package])
        return sorted(set(namespace) | set(exports) | subs)

    return __getattr__, __dir__

"""Results layer: a job's output as Annotation / DataFrames, and the RTTM / UEM formats.

Names are imported lazily (PEP 562): ``pyannote_notebook.results.formats`` is on the light
``evaluate`` CLI path, which must not pay for pandas or pyannote.core through this package.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "Result": "pyannote_notebook.results.result",
    "read_rttm": "pyannote_notebook.results.formats",
    "write_rttm": "pyannote_notebook.results.formats",
    "read_uem": "pyannote_notebook.results.formats",
    "write_uem": "pyannote_notebook.results.formats",
    "annotation_to_dataframe": "pyannote_notebook.results.formats",
    "dataframe_to_annotations": "pyannote_notebook.results.formats",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pyannote_notebook.results' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

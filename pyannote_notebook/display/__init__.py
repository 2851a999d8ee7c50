"""Display layer: timelines, comparison plots, talk-time bars, notebook reprs.

Every function builds its own :class:`matplotlib.figure.Figure` (or draws on a given Axes) and
returns a :class:`Plot` ``(figure, axes)`` that renders itself in notebooks; pyplot's global state
is never touched. Names load lazily so that importing the package does not import matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "plot_timeline": "pyannote_notebook.display.timeline",
    "plot_comparison": "pyannote_notebook.display.comparison",
    "plot_speaker_time": "pyannote_notebook.display.bars",
    "figure_to_png": "pyannote_notebook.display.html",
    "png_data_uri": "pyannote_notebook.display.html",
    "Plot": "pyannote_notebook.display.html",
    "label_color": "pyannote_notebook.display.colors",
    "color_map": "pyannote_notebook.display.colors",
    "PALETTE": "pyannote_notebook.display.colors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pyannote_notebook.display' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

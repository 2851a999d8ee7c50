"""Display layer: timelines, comparison plots, talk-time bars, notebook reprs.

Every function builds its own :class:`matplotlib.figure.Figure` (or draws on a given Axes) and
returns a :class:`Plot` ``(figure, axes)`` that renders itself in notebooks; pyplot's global state
is never touched. Names load lazily so that importing the package does not import matplotlib.
"""

from __future__ import annotations

from pyannote_notebook._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""PNG and HTML rendering that works headless (``MPLBACKEND=Agg``, no pyplot state).

With Agg exported, Jupyter shows a bare figure only under ``%matplotlib inline``; objects with
``_repr_png_`` always render (a known Jupyter trap). So plots return :class:`Plot`, a
``(figure, axes)`` named tuple that renders itself, and results embed their timeline as a
base64 PNG in ``_repr_html_``.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["Plot", "figure_to_png", "png_data_uri", "result_html"]


def figure_to_png(fig: Any, *, dpi: int = 100) -> bytes:
    """Render a matplotlib Figure to PNG bytes with the Agg renderer (no pyplot needed).

    Raises whatever matplotlib raises if the figure cannot be drawn (e.g. ValueError for an
    absurd size); nothing is left open.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for an inline ``<img>``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class Plot(NamedTuple):
    """What the plot functions return: unpack as ``fig, ax = plot_timeline(...)``.

    As the last expression of a notebook cell it renders as an image (``_repr_png_``), with any
    backend, without pyplot and without being drawn twice.
    """

    figure: Any
    axes: Any

    def _repr_png_(self) -> bytes:
        return figure_to_png(self.figure)

    def to_png(self, *, dpi: int = 100) -> bytes:
        """PNG bytes of the figure."""
        return figure_to_png(self.figure, dpi=dpi)

    def savefig(self, *args: Any, **kwargs: Any) -> None:
        """``Figure.savefig`` of the figure."""
        kwargs.setdefault("bbox_inches", "tight")
        self.figure.savefig(*args, **kwargs)


def result_html(summary: Mapping[str, Any], png: bytes | None) -> str:
    """A small two-column table of ``summary`` plus the PNG (if any) as an inline image."""
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in summary.items()
    )
    img = (
        f"<img src='{png_data_uri(png)}' alt='speaker timeline' style='max-width:100%'/>"
        if png
        else ""
    )
    return f"<div class='pyannote-notebook-result'><table>{rows}</table>{img}</div>"

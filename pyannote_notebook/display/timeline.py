"""Speaker timelines drawn with one PolyCollection per speaker.

Why not pyannote.core's notebook display: it keeps one shared time window per process (a second
annotation with another range renders blank) and draws one artist per segment. Here every call
builds its own :class:`matplotlib.figure.Figure` (no pyplot global state), and the rectangles of a
speaker are a single collection built from a numpy vertex array, so a 10 h file with 100k turns
costs a handful of artists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pyannote_notebook.analysis.stats import as_turns, overlap_regions
from pyannote_notebook.display.colors import color_map
from pyannote_notebook.display.html import Plot
from pyannote_notebook.errors import InvalidOption

__all__ = ["plot_timeline", "format_time", "time_formatter", "new_axes", "add_bars", "parse_window"]

LONG_FILE = 600.0  # seconds: beyond this span the axis reads mm:ss (h:mm:ss beyond an hour)


def format_time(seconds: float, with_hours: bool = False) -> str:
    """``754 -> "12:34"``, ``3725 -> "1:02:05"`` (with_hours or >= 1 h); negative keeps a sign."""
    sign = "-" if seconds < 0 else ""
    total = int(round(abs(seconds)))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    if with_hours or h:
        return f"{sign}{h}:{m:02d}:{s:02d}"
    return f"{sign}{m:02d}:{s:02d}"


def time_formatter(span_end: float) -> Any:
    """A FuncFormatter writing mm:ss (h:mm:ss when the axis reaches an hour)."""
    from matplotlib.ticker import FuncFormatter

    with_hours = span_end >= 3600
    return FuncFormatter(lambda x, _pos: format_time(x, with_hours))


def parse_window(window: Any) -> tuple[float, float] | None:
    """``None``, a ``(start, end)`` pair or a Segment-like (``.start``/``.end``) -> floats.

    Raises
    ------
    InvalidOption
        Not a pair of finite numbers with start < end.
    """
    if window is None:
        return None
    try:
        if hasattr(window, "start") and hasattr(window, "end"):
            w0, w1 = float(window.start), float(window.end)
        else:
            w0, w1 = (float(v) for v in window)
    except (TypeError, ValueError):
        raise InvalidOption("window", f"expected (start, end) in seconds, got {window!r}") from None
    if not (np.isfinite(w0) and np.isfinite(w1) and w0 < w1):
        raise InvalidOption("window", f"start must be < end (finite seconds), got ({w0}, {w1})")
    return w0, w1


def new_axes(ax: Any, n_rows: int, figsize: tuple[float, float] | None) -> tuple[Any, Any]:
    """Use ``ax`` (and its figure) or build a fresh Figure without touching pyplot."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize or (12.0, 0.45 * max(n_rows, 1) + 1.3))
    return fig, fig.add_subplot()


def _clip(start: np.ndarray, end: np.ndarray, window: tuple[float, float] | None
          ) -> tuple[np.ndarray, np.ndarray]:
    if window is None:
        return start, end
    s, e = np.maximum(start, window[0]), np.minimum(end, window[1])
    keep = e > s
    return s[keep], e[keep]


def add_bars(ax: Any, start: np.ndarray, end: np.ndarray, y0: float, height: float, *,
             gid: str, **kw: Any) -> Any:
    """Add one PolyCollection of rectangles ``[start, end] x [y0, y0 + height]`` to ``ax``."""
    from matplotlib.collections import PolyCollection

    n = len(start)
    verts = np.empty((n, 4, 2))
    verts[:, 0, 0] = verts[:, 1, 0] = start
    verts[:, 2, 0] = verts[:, 3, 0] = end
    verts[:, 0, 1] = verts[:, 3, 1] = y0
    verts[:, 1, 1] = verts[:, 2, 1] = y0 + height
    coll = PolyCollection(verts, closed=True, **kw)
    coll.set_gid(gid)
    ax.add_collection(coll, autolim=False)
    return coll


_STEPS = (60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def use_clock_axis(axis: Any, lo: float, hi: float) -> None:
    """mm:ss (or h:mm:ss) labels on whole-minute ticks, at most ~10 of them."""
    from matplotlib.ticker import MultipleLocator

    step = next((s for s in _STEPS if (hi - lo) / s <= 10), _STEPS[-1])
    axis.set_major_locator(MultipleLocator(step))
    axis.set_major_formatter(time_formatter(hi))


def finish_time_axis(ax: Any, xlim: tuple[float, float]) -> None:
    """Set xlim and the seconds / mm:ss formatter (mm:ss when the view spans > 10 min)."""
    ax.set_xlim(*xlim)
    if xlim[1] - xlim[0] > LONG_FILE:
        use_clock_axis(ax.xaxis, xlim[0], xlim[1])
        ax.set_xlabel("time (h:mm:ss)" if xlim[1] >= 3600 else "time (mm:ss)")
    else:
        ax.set_xlabel("time (s)")


def plot_timeline(
    result_or_annotation: Any,
    ax: Any = None,
    *,
    window: Any = None,
    colors: Mapping[str, str] | None = None,
    title: str | None = None,
    show_overlap: bool = True,
    figsize: tuple[float, float] | None = None,
) -> Plot:
    """One row per speaker (sorted labels, first on top), turns as coloured bars.

    Parameters
    ----------
    result_or_annotation : Result or pyannote.core.Annotation
    ax : matplotlib Axes, optional
        Draw there; otherwise a new :class:`~matplotlib.figure.Figure` (pyplot untouched).
    window : (start, end) or Segment, optional
        Show only this time range (turns are cropped to it; xlim is exactly the window).
    colors : Mapping[label, colour], optional
        Overrides the default colours, which are stable across calls and distinct within the
        plot (:func:`~pyannote_notebook.display.colors.color_map`).
    title : str, optional
        Defaults to the uri.
    show_overlap : bool
        Draw regions where two or more speakers talk as a translucent hatched band over all
        rows (one collection, gid ``"overlap"``).

    Returns
    -------
    Plot
        ``(figure, axes)``; renders itself in notebooks. Speaker collections have gid
        ``"speaker:<label>"``.

    Raises
    ------
    InvalidOption
        Bad ``window`` or input type.
    """
    data = as_turns(result_or_annotation)
    win = parse_window(window)
    labels = data.labels
    n = len(labels)
    fig, ax = new_axes(ax, n, figsize)
    palette = color_map(labels, colors)
    for i, label in enumerate(labels):
        y = n - 1 - i
        mask = data.codes == i
        s, e = _clip(data.start[mask], data.end[mask], win)
        add_bars(ax, s, e, y + 0.1, 0.8, gid=f"speaker:{label}", facecolors=palette[label],
                 edgecolors="none", label=str(label))
    if show_overlap and n > 1:
        regions = overlap_regions(data)
        s, e = _clip(regions[:, 0], regions[:, 1], win)
        if len(s):
            add_bars(ax, s, e, 0.0, float(n), gid="overlap", facecolors=(0.0, 0.0, 0.0, 0.12),
                     edgecolors=(0.0, 0.0, 0.0, 0.35), linewidths=0.0, hatch="///",
                     label="overlap")
            ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize="small",
                      frameon=False, handles=[ax.collections[-1]])
    xlim = win if win is not None else (0.0, data.duration if data.duration > 0 else 1.0)
    finish_time_axis(ax, xlim)
    ax.set_ylim(0, max(n, 1))
    ax.set_yticks([n - 1 - i + 0.5 for i in range(n)])
    ax.set_yticklabels([str(lbl) for lbl in labels])
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    title = title if title is not None else data.uri
    if title:
        ax.set_title(str(title))
    return Plot(fig, ax)

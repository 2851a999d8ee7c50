"""Horizontal bars of talk time: per speaker for one file, stacked per file for a corpus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pyannote_notebook.analysis.stats import CorpusStats, speaker_stats
from pyannote_notebook.display.colors import color_map
from pyannote_notebook.display.html import Plot
from pyannote_notebook.display.timeline import LONG_FILE, new_axes, use_clock_axis
from pyannote_notebook.errors import InvalidOption

__all__ = ["plot_speaker_time"]


def plot_speaker_time(
    stats: Any,
    ax: Any = None,
    *,
    colors: Mapping[str, str] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Plot:
    """Talk time per speaker as horizontal bars.

    Parameters
    ----------
    stats : DataFrame, CorpusStats, Result or Annotation
        * a :func:`~pyannote_notebook.analysis.stats.speaker_stats` DataFrame (columns
          ``speaker, talk_time``, optionally ``share``): one bar per row, first row on top,
          labelled with its share in percent;
        * a DataFrame that also has a ``uri`` column (``CorpusStats.speakers``) or a
          :class:`CorpusStats`: one bar per file, stacked by speaker in row order;
        * a Result / Annotation: its ``speaker_stats`` first.
    ax, colors, title, figsize
        As for :func:`~pyannote_notebook.display.plot_timeline`.

    Returns
    -------
    Plot
        ``(figure, axes)``; ``axes.patches`` holds one rectangle per (file,) speaker row, in row
        order, each with gid ``"<label>"`` (``"<uri>/<label>"`` for a corpus).

    Raises
    ------
    InvalidOption
        A DataFrame without ``speaker`` and ``talk_time`` columns, or another type.
    """
    if isinstance(stats, CorpusStats):
        df = stats.speakers
    elif hasattr(stats, "columns"):
        df = stats
    elif hasattr(stats, "itertracks") or hasattr(stats, "annotation") or hasattr(stats, "turn_arrays"):
        df = speaker_stats(stats)
        title = title if title is not None else getattr(getattr(stats, "annotation", stats), "uri", None)
    else:
        raise InvalidOption(
            "stats", f"expected speaker_stats DataFrame, CorpusStats, Result or Annotation, "
            f"got {type(stats).__name__}"
        )
    missing = {"speaker", "talk_time"} - set(df.columns)
    if missing:
        raise InvalidOption("stats", f"DataFrame lacks column(s) {sorted(missing)}")

    corpus = "uri" in df.columns
    groups = list(dict.fromkeys(df["uri"].tolist())) if corpus else df["speaker"].tolist()
    fig, ax = new_axes(ax, len(groups), figsize)
    n = len(groups)
    seen: set[str] = set()
    palette = color_map(df["speaker"].tolist(), colors)  # all labels of the plot: distinct
    if corpus:
        left = dict.fromkeys(groups, 0.0)
        for uri, label, t in zip(df["uri"].tolist(), df["speaker"].tolist(),
                                 df["talk_time"].to_numpy(np.float64).tolist()):
            y = n - 1 - groups.index(uri)
            bar = ax.barh(y, t, left=left[uri], height=0.7, color=palette[label],
                          edgecolor="white", linewidth=0.5,
                          label=str(label) if label not in seen else "_nolegend_")
            bar.patches[0].set_gid(f"{uri}/{label}")
            seen.add(label)
            left[uri] += t
        ax.set_yticks([n - 1 - i for i in range(n)])
        ax.set_yticklabels([str(g) for g in groups])
        if seen:
            ax.legend(loc="lower right", fontsize="small", framealpha=0.8)
        xmax = max(left.values(), default=0.0)
    else:
        times = df["talk_time"].to_numpy(np.float64)
        ys = np.arange(n - 1, -1, -1, dtype=float)
        bars = ax.barh(ys, times, height=0.7,
                       color=[palette[lbl] for lbl in groups])
        for patch, lbl in zip(bars.patches, groups):
            patch.set_gid(str(lbl))
        if "share" in df.columns:
            ax.bar_label(bars, labels=[f"{100 * s:.1f} %" for s in df["share"].tolist()],
                         padding=3, fontsize="small")
        ax.set_yticks(ys)
        ax.set_yticklabels([str(g) for g in groups])
        xmax = float(times.max()) if n else 0.0
    ax.set_xlim(0, xmax * 1.12 if xmax > 0 else 1.0)
    if xmax > LONG_FILE:
        use_clock_axis(ax.xaxis, 0.0, xmax * 1.12)
        ax.set_xlabel("talk time (h:mm:ss)" if xmax >= 3600 else "talk time (mm:ss)")
    else:
        ax.set_xlabel("talk time (s)")
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    if title:
        ax.set_title(str(title))
    return Plot(fig, ax)

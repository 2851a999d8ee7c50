"""Reference-vs-hypothesis timeline with the scorer's errors drawn underneath.

The hypothesis is relabelled with the md-eval optimal mapping
(:func:`pyannote_notebook.analysis.scoring.optimal_mapping`), so a hypothesis speaker shares the
colour of the reference speaker it is mapped to; unmatched hypothesis speakers are drawn in greys.
Error bands come from :func:`pyannote_notebook.analysis.scoring.error_regions` (same collar, UEM
and overlap rules as the score), so what is drawn is what is counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pyannote_notebook.analysis.stats import as_turns
from pyannote_notebook.display.colors import UNMATCHED, color_map
from pyannote_notebook.display.html import Plot
from pyannote_notebook.display.timeline import _clip, add_bars, finish_time_axis, new_axes, parse_window

__all__ = ["plot_comparison", "ERROR_COLORS"]

#: Colour of each error band (also used in the legend).
ERROR_COLORS: dict[str, str] = {
    "missed": "#e41a1c",
    "false_alarm": "#ff7f00",
    "confusion": "#984ea3",
}
_ERROR_NAMES = {"missed": "missed", "false_alarm": "false alarm", "confusion": "confusion"}
#: Hatches tell error bands from speaker bars even where colours are close.
_ERROR_HATCH = {"missed": "xxx", "false_alarm": "///", "confusion": "..."}


def _annotation(x: Any) -> Any:
    return getattr(x, "annotation", x)


def plot_comparison(
    reference: Any,
    hypothesis: Any,
    *,
    uem: Any = None,
    collar: float = 0.0,
    skip_overlap: bool = False,
    ax: Any = None,
    window: Any = None,
    colors: Mapping[str, str] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Plot:
    """Reference rows above hypothesis rows, then three error rows.

    Rows from top: one per reference speaker (``ref <label>``), one per hypothesis speaker
    (``hyp <label> → <ref label>`` or ``hyp <label> (unmatched)``), ordered like the reference
    speakers they map to, then ``missed``, ``false alarm`` and ``confusion`` (one collection each,
    gids ``"missed"``, ``"false_alarm"``, ``"confusion"``, one rectangle per merged error region).
    Time outside the scored region (UEM, collars) is shaded grey (gid ``"not_scored"``).

    Parameters
    ----------
    reference, hypothesis : Result or pyannote.core.Annotation
    uem : Timeline, list of (start, end), optional
        Scored region, as for :func:`pyannote_notebook.analysis.scoring.evaluate`.
    collar : float
        md-eval per-side collar in seconds.
    skip_overlap : bool
        Exclude overlapped reference speech from scoring (as the scorer does).
    ax, window, colors, title, figsize
        As for :func:`~pyannote_notebook.display.plot_timeline`.

    Returns
    -------
    Plot
        ``(figure, axes)``; speaker collections have gids ``"ref:<label>"`` / ``"hyp:<label>"``.

    Raises
    ------
    InvalidOption, FormatError
        Bad window / inputs, as raised by the scorer.
    """
    from pyannote_notebook.analysis.scoring import error_regions, optimal_mapping

    ref_ann, hyp_ann = _annotation(reference), _annotation(hypothesis)
    ref, hyp = as_turns(ref_ann), as_turns(hyp_ann)
    mapping: dict[str, str] = dict(optimal_mapping(ref_ann, hyp_ann, uem=uem))
    errors = error_regions(ref_ann, hyp_ann, uem=uem, collar=collar, skip_overlap=skip_overlap)
    win = parse_window(window)

    ref_rank = {lbl: i for i, lbl in enumerate(ref.labels)}
    hyp_order = sorted(
        hyp.labels,
        key=lambda h: (0, ref_rank[mapping[h]], str(h)) if mapping.get(h) in ref_rank
        else (1, 0, str(h)),
    )
    ref_colors = color_map(ref.labels, colors)  # distinct within the plot
    hyp_colors: dict[str, Any] = {}
    unmatched = 0
    for h in hyp_order:
        if mapping.get(h) in ref_rank:
            hyp_colors[h] = ref_colors[mapping[h]]
        else:
            hyp_colors[h] = UNMATCHED[unmatched % len(UNMATCHED)]
            unmatched += 1

    rows: list[tuple[str, str, np.ndarray, np.ndarray, Any]] = []  # (ticklabel, gid, s, e, color)
    for i, lbl in enumerate(ref.labels):
        m = ref.codes == i
        rows.append((f"ref {lbl}", f"ref:{lbl}", ref.start[m], ref.end[m], ref_colors[lbl]))
    hyp_index = {lbl: i for i, lbl in enumerate(hyp.labels)}
    for h in hyp_order:
        m = hyp.codes == hyp_index[h]
        tick = f"hyp {h} → {mapping[h]}" if h in hyp_colors and mapping.get(h) in ref_rank \
            else f"hyp {h} (unmatched)"
        rows.append((tick, f"hyp:{h}", hyp.start[m], hyp.end[m], hyp_colors[h]))
    for key in ("missed", "false_alarm", "confusion"):
        reg = np.asarray(errors.get(key, []), dtype=np.float64).reshape(-1, 2)
        rows.append((_ERROR_NAMES[key], key, reg[:, 0], reg[:, 1], ERROR_COLORS[key]))

    n = len(rows)
    fig, ax = new_axes(ax, n, figsize)
    end = max(ref.duration, hyp.duration, 1e-9)
    xlim = win if win is not None else (0.0, end if end > 1e-9 else 1.0)
    for r, (tick, gid, s, e, color) in enumerate(rows):
        s, e = _clip(s, e, win)
        if gid in _ERROR_HATCH:
            add_bars(ax, s, e, n - 1 - r + 0.1, 0.8, gid=gid, facecolors=color,
                     edgecolors="white", linewidths=0.0, hatch=_ERROR_HATCH[gid])
        else:
            add_bars(ax, s, e, n - 1 - r + 0.1, 0.8, gid=gid, facecolors=color,
                     edgecolors="none")
    # separators between the reference, hypothesis and error blocks
    n_err = 3
    for y in (n - len(ref.labels), n_err):
        ax.axhline(y, color="black", linewidth=0.6)

    scored = np.asarray(errors.get("scored", []), dtype=np.float64).reshape(-1, 2)
    if "scored" in errors:
        # complement of the scored regions within the view
        bounds = np.concatenate([[xlim[0]], scored.ravel(), [xlim[1]]])
        gaps_s, gaps_e = bounds[0::2], bounds[1::2]
        gaps_s, gaps_e = np.maximum(gaps_s, xlim[0]), np.minimum(gaps_e, xlim[1])
        keep = gaps_e > gaps_s + 1e-9
        if keep.any():
            add_bars(ax, gaps_s[keep], gaps_e[keep], 0.0, float(n), gid="not_scored",
                     facecolors=(0.5, 0.5, 0.5, 0.15), edgecolors="none", zorder=0.5)

    from matplotlib.patches import Patch

    handles = [Patch(facecolor=ERROR_COLORS[k], edgecolor="white", hatch=_ERROR_HATCH[k],
                     label=_ERROR_NAMES[k]) for k in ERROR_COLORS]
    if any(c.get_gid() == "not_scored" for c in ax.collections):
        handles.append(Patch(facecolor=(0.5, 0.5, 0.5, 0.3), label="not scored"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize="small",
              frameon=False)
    finish_time_axis(ax, xlim)
    ax.set_ylim(0, n)
    ax.set_yticks([n - 1 - r + 0.5 for r in range(n)])
    ax.set_yticklabels([row[0] for row in rows])
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    title = title if title is not None else (ref.uri or hyp.uri)
    if title:
        ax.set_title(str(title))
    return Plot(fig, ax)

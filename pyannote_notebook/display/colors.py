"""Speaker colours: stable across calls, distinct within a plot.

Every plotting function colours the labels it draws with :func:`color_map`, which takes *all*
labels of the plot at once:

1. an explicit ``colors[label]`` always wins;
2. pyannote-style labels keep their indexed palette colour (``SPEAKER_07`` -> ``PALETTE[7]``);
3. other labels keep their hashed colour (CRC-32 of the label modulo the palette size; Python's
   ``hash`` is salted per process, hence not used)

unless that colour is already taken in the plot (by an explicit colour, a pyannote-style label,
or a label that sorts earlier), in which case the label gets the first free palette colour. The
assignment depends only on the *set* of labels (and ``colors``), so the same labels get the same
colours in every plot, every call and every process; and up to ``len(PALETTE)`` (20) labels of
one plot always get distinct colours (beyond that, colours repeat). :func:`label_color` gives a
label's preferred colour on its own, without looking at the other labels.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["PALETTE", "UNMATCHED", "label_color", "color_map"]

#: Tableau-20 reordered: the ten strong colours first, then their light variants.
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)

#: Colours for hypothesis speakers left unmatched by the optimal mapping (comparison plots).
UNMATCHED: tuple[str, ...] = ("#404040", "#606060", "#808080", "#a0a0a0", "#303030")

_NUMBERED = re.compile(r"^(?:SPEAKER|SPK|spk|speaker|S)[_ -]?(\d+)$")


def _preferred(label: Any) -> tuple[bool, int]:
    """(is a pyannote-style numbered label, preferred palette index)."""
    match = _NUMBERED.match(str(label))
    if match:
        return True, int(match.group(1)) % len(PALETTE)
    return False, zlib.crc32(str(label).encode("utf-8")) % len(PALETTE)


def label_color(label: str, colors: Mapping[str, str] | None = None) -> str:
    """Preferred colour (hex string) of ``label`` on its own: ``colors[label]`` if given, else
    ``PALETTE[nn]`` for ``SPEAKER_nn``-style labels, else the CRC-32-hashed palette colour.

    Two labels may share a preferred colour (``"Alice"`` and ``"Carol"`` do); plots resolve such
    collisions with :func:`color_map`, which sees all labels of the plot.
    """
    if colors is not None and label in colors:
        return colors[label]
    return PALETTE[_preferred(label)[1]]


def _palette_index(color: Any) -> int | None:
    """Index of ``color`` in :data:`PALETTE` (any matplotlib colour spec), or None."""
    try:
        from matplotlib.colors import to_hex

        return PALETTE.index(to_hex(color))
    except (ImportError, ValueError, TypeError):
        return None


def color_map(labels: Iterable[Any], colors: Mapping[Any, Any] | None = None) -> dict[Any, Any]:
    """``{label: colour}`` for all labels of one plot, distinct whenever possible.

    Parameters
    ----------
    labels : iterable
        Every label drawn in the plot (duplicates and order do not matter).
    colors : Mapping[label, colour], optional
        Explicit colours; they win, and default colours avoid them.

    Returns
    -------
    dict
        Keys in first-appearance order of ``labels``. Rules (see the module docstring):
        explicit colours; ``SPEAKER_nn`` labels get ``PALETTE[nn % 20]`` (the smallest
        ``nn`` first when two share it, e.g. ``SPEAKER_00`` and ``SPEAKER_20``); the other
        labels, in sorted order, their CRC-32 colour. A label whose preferred colour is taken
        gets the first free palette colour (lowest index); once all 20 are in use (more than
        20 labels), it keeps its preferred colour. Deterministic: same set of labels (and
        ``colors``) -> same colours.
    """
    unique = list(dict.fromkeys(labels))
    out: dict[Any, Any] = {}
    taken: set[int] = set()
    rest = []
    for label in unique:
        if colors is not None and label in colors:
            out[label] = colors[label]
            index = _palette_index(colors[label])
            if index is not None:
                taken.add(index)
        else:
            rest.append(label)
    # SPEAKER_nn labels first (by nn), then the others by name: the order depends on the set only
    ranked = []
    for label in rest:
        match = _NUMBERED.match(str(label))
        number = int(match.group(1)) if match else -1
        ranked.append(((match is None, number, str(label), type(label).__name__), label))
    ranked.sort(key=lambda pair: pair[0])
    numbered_taken: set[int] = set()  # explicit colours do not move SPEAKER_nn labels
    for _, label in ranked:
        numbered, index = _preferred(label)
        blocked = numbered_taken if numbered else taken
        if index in blocked and len(taken) < len(PALETTE):
            index = min(set(range(len(PALETTE))) - taken)
        taken.add(index)
        if numbered:
            numbered_taken.add(index)
        out[label] = PALETTE[index]
    return {label: out[label] for label in unique}

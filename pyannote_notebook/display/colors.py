"""Stable colours per speaker label.

The same label gets the same colour in every plot, every call and every process: a fixed
palette indexed by ``n`` for pyannote-style labels (``SPEAKER_07`` -> colour 7, so the first
twenty default labels never collide) and by a CRC-32 of the label otherwise (Python's ``hash`` is
salted per process, hence not used). An explicit mapping always wins.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping

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


def label_color(label: str, colors: Mapping[str, str] | None = None) -> str:
    """Colour (hex string) of ``label``: ``colors[label]`` if given, else the stable default."""
    if colors is not None and label in colors:
        return colors[label]
    match = _NUMBERED.match(str(label))
    if match:
        return PALETTE[int(match.group(1)) % len(PALETTE)]
    return PALETTE[zlib.crc32(str(label).encode("utf-8")) % len(PALETTE)]


def color_map(labels: Iterable[str], colors: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{label: colour}`` for several labels (see :func:`label_color`)."""
    return {label: label_color(label, colors) for label in labels}

"""The one rule for reading a 2-D audio array: which axis holds the channels.

Shared by the upload path (``api.upload``: arrays are written to a WAV before upload) and the
local engine (``engine.audio``), so both accept and refuse the same shapes. Pure Python: no
optional dependency.
"""

from __future__ import annotations

__all__ = ["MAX_CHANNELS", "frames_first", "AMBIGUOUS_LAYOUT_HINT"]

MAX_CHANNELS = 32
"""Largest channel count accepted on the first axis, i.e. in the ``(channels, frames)`` form."""

AMBIGUOUS_LAYOUT_HINT = (
    "cannot tell frames from channels. Pass it as (frames, channels) with more frames than "
    "channels (soundfile's layout, e.g. samples.T for a (channels, frames) array), or mix it to "
    "mono yourself and pass a 1-D array"
)


def frames_first(rows: int, cols: int) -> bool | None:
    """Layout of a ``(rows, cols)`` audio array.

    Returns ``True`` for ``(frames, channels)`` (soundfile's layout, the documented one: the
    first axis is the longer), ``False`` for ``(channels, frames)`` (pyannote/torchaudio's
    layout), taken only when unambiguous: at most :data:`MAX_CHANNELS` rows and more than
    :data:`MAX_CHANNELS` columns (``(2, 16000)``); ``None`` when ambiguous: a square array, or
    fewer rows than columns with both axes <= 32 (``(4, 10)``: 4 frames of 10 channels or 4
    channels of 10 frames?) or more than 32 rows (``(40, 4000)``).
    """
    if rows > cols:
        return True
    if rows <= MAX_CHANNELS < cols:
        return False
    return None

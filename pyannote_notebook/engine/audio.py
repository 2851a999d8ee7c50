"""Audio loading for the local engine: any file soundfile reads -> float32 mono at 16 kHz.

Formats are whatever the platform's libsndfile supports (WAV, FLAC, OGG/Vorbis, Opus, and MP3
with libsndfile >= 1.1). Channels are averaged; the rate is converted with
:func:`scipy.signal.resample_poly` (polyphase, anti-aliased).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from pyannote_notebook._layout import AMBIGUOUS_LAYOUT_HINT, MAX_CHANNELS, frames_first
from pyannote_notebook.errors import AudioError, InvalidOption

__all__ = ["SAMPLE_RATE", "MAX_CHANNELS", "load_audio", "to_mono_16k"]

SAMPLE_RATE = 16000


def _frames_channels(x: np.ndarray, name: str) -> np.ndarray:
    """Return 2-D ``x`` as ``(frames, channels)``, or raise when its layout is ambiguous (the
    rule: :func:`pyannote_notebook._layout.frames_first`)."""
    layout = frames_first(*x.shape)
    if layout is None:
        raise AudioError(f"{name}: ambiguous 2-D audio array of shape {x.shape}: "
                         f"{AMBIGUOUS_LAYOUT_HINT}")
    return x if layout else x.T


def to_mono_16k(samples: np.ndarray, sample_rate: int, *, name: str = "<array>") -> np.ndarray:
    """Mix ``samples`` to mono and resample to 16 kHz.

    Parameters
    ----------
    samples : numpy.ndarray
        ``(frames,)`` mono, or ``(frames, channels)`` (soundfile's layout, the documented one).
        ``(channels, frames)`` is also accepted when unambiguous: at most 32 channels and more
        than 32 frames (``(2, 16000)`` is read as 2 channels). Channels are averaged.
    sample_rate : int
        Rate of ``samples`` in Hz.
    name : str
        Names the input in error messages.

    Raises
    ------
    AudioError
        Empty input, non-finite samples, more than 2 dimensions, or a 2-D array whose layout is
        ambiguous (square, or fewer rows than columns with both axes <= 32 or more than 32
        rows); the message names ``name`` and the shape and says how to pass the array.
    """
    x = np.asarray(samples)
    if x.ndim not in (1, 2):
        raise AudioError(f"{name}: expected 1-D or 2-D audio samples, got shape {x.shape}")
    if x.size == 0:
        raise AudioError(f"{name}: the audio is empty (0 samples, shape {x.shape})")
    if np.issubdtype(x.dtype, np.integer):  # scale before mixing (the mean is a float)
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max)
    x = x.astype(np.float32, copy=False)
    if x.ndim == 2:
        x = _frames_channels(x, name).mean(axis=1, dtype=np.float32)
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{name}: the audio contains NaN or infinite samples")
    sample_rate = int(sample_rate)
    if sample_rate != SAMPLE_RATE:
        from scipy.signal import resample_poly

        frac = Fraction(SAMPLE_RATE, sample_rate).limit_denominator(1000)
        x = resample_poly(x, frac.numerator, frac.denominator).astype(np.float32)
        if x.size == 0:
            raise AudioError(f"{name}: the audio is empty after resampling")
    return np.ascontiguousarray(x)


def load_audio(path: str | Path | np.ndarray, sample_rate: int | None = None
               ) -> tuple[np.ndarray, int]:
    """Read an audio file (or take an array) as float32 mono samples at 16 kHz.

    Parameters
    ----------
    path : str, Path or numpy.ndarray
        A file soundfile can read, or samples (then ``sample_rate`` is required): ``(frames,)``
        or ``(frames, channels)``; ``(channels, frames)`` only when unambiguous (see
        :func:`to_mono_16k`).
    sample_rate : int, optional
        Rate of an array input; ignored for files.

    Returns
    -------
    (numpy.ndarray, int)
        ``float32`` samples in [-1, 1] and ``16000``.

    Raises
    ------
    AudioError
        The file does not exist, cannot be decoded, or holds no samples (the message names it);
        an array of ambiguous layout (see :func:`to_mono_16k`).
    InvalidOption
        An array was given without ``sample_rate``.
    """
    if isinstance(path, np.ndarray):
        if sample_rate is None or int(sample_rate) <= 0:
            raise InvalidOption("sample_rate", "required (a positive integer) with an array input")
        return to_mono_16k(path, int(sample_rate)), SAMPLE_RATE
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise AudioError(f"{p}: no such audio file")
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioError(f"{p}: cannot decode audio ({exc})") from exc
    if data.shape[0] == 0:
        raise AudioError(f"{p}: the audio file is empty (0 samples)")
    # soundfile's layout is known to be (frames, channels): mix here rather than let
    # to_mono_16k guess it (a file of a few frames and more channels is not ambiguous)
    data = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    return to_mono_16k(data, sr, name=str(p)), SAMPLE_RATE

"""Audio loading for the local engine: any file soundfile reads -> float32 mono at 16 kHz.

Formats are whatever the platform's libsndfile supports (WAV, FLAC, OGG/Vorbis, Opus, and MP3
with libsndfile >= 1.1). Channels are averaged; the rate is converted with
:func:`scipy.signal.resample_poly` (polyphase, anti-aliased).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from pyannote_notebook.errors import AudioError, InvalidOption

__all__ = ["SAMPLE_RATE", "load_audio", "to_mono_16k"]

SAMPLE_RATE = 16000


def to_mono_16k(samples: np.ndarray, sample_rate: int, *, name: str = "<array>") -> np.ndarray:
    """Mix ``samples`` (``(n,)`` or ``(n, channels)``) to mono and resample to 16 kHz.

    Raises
    ------
    AudioError
        Empty input, non-finite samples or more than 2 dimensions (message names ``name``).
    """
    x = np.asarray(samples)
    if x.ndim == 2:
        # soundfile gives (frames, channels); accept (channels, frames) for few channels
        if x.shape[0] <= 8 < x.shape[1]:
            x = x.T
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise AudioError(f"{name}: expected 1-D or 2-D audio samples, got shape {x.shape}")
    if x.size == 0:
        raise AudioError(f"{name}: the audio is empty (0 samples)")
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max)
    x = x.astype(np.float32, copy=False)
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
        A file soundfile can read, or samples (then ``sample_rate`` is required).
    sample_rate : int, optional
        Rate of an array input; ignored for files.

    Returns
    -------
    (numpy.ndarray, int)
        ``float32`` samples in [-1, 1] and ``16000``.

    Raises
    ------
    AudioError
        The file does not exist, cannot be decoded, or holds no samples (the message names it).
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
    if data.shape[1] == 1:
        data = data[:, 0]  # a contiguous view: no copy for mono files
    return to_mono_16k(data, sr, name=str(p)), SAMPLE_RATE

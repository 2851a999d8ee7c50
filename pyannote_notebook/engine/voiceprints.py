"""Voiceprints: the embedding of a single-speaker clip as an opaque base64 string.

Format (version 1, 519 bytes before base64): ``b"PNVP"``, a version byte, the dimension as
uint16 little-endian, then the unit-norm GE2E embedding as float16 little-endian. The string is
opaque to callers, as the cloud's is; only this engine reads it back.
"""

from __future__ import annotations

import base64
import binascii
import struct
from pathlib import Path

import numpy as np

from pyannote_notebook.engine.audio import SAMPLE_RATE, load_audio
from pyannote_notebook.errors import EngineError

__all__ = ["MAX_VOICEPRINT_SECONDS", "voiceprint", "embed_clip", "encode_voiceprint",
           "decode_voiceprint", "too_long_message"]

MAX_VOICEPRINT_SECONDS = 30.0
_MAGIC = b"PNVP"
_VERSION = 1
_HEADER = struct.Struct("<4sBH")


def too_long_message(duration: float) -> str:
    """The error text for a clip above the 30 s limit (worded like the cloud's limit)."""
    return (f"Audio duration must be at most {MAX_VOICEPRINT_SECONDS:g} seconds for a voiceprint "
            f"(got {duration:.1f} s); cut a single-speaker clip of 30 s or less")


def encode_voiceprint(embedding: np.ndarray) -> str:
    """Serialise a 1-D embedding into the versioned base64 string."""
    v = np.asarray(embedding, dtype=np.float32).ravel()
    v = v / max(float(np.linalg.norm(v)), 1e-12)
    raw = _HEADER.pack(_MAGIC, _VERSION, v.size) + v.astype("<f2").tobytes()
    return base64.b64encode(raw).decode("ascii")


def decode_voiceprint(text: str) -> np.ndarray:
    """Parse a string made by :func:`encode_voiceprint` back into a unit float32 vector.

    Raises
    ------
    EngineError
        Not base64, wrong magic or version, or wrong length ("not a voiceprint of the local
        engine": cloud voiceprints cannot be used locally and vice versa).
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, AttributeError) as exc:
        raise EngineError("not a voiceprint of the local engine (invalid base64)") from exc
    if len(raw) < _HEADER.size:
        raise EngineError("not a voiceprint of the local engine (too short)")
    magic, version, dim = _HEADER.unpack_from(raw)
    if magic != _MAGIC:
        raise EngineError("not a voiceprint of the local engine (cloud voiceprints only work "
                          "with the cloud)")
    if version != _VERSION:
        raise EngineError(f"unsupported local voiceprint version {version}")
    body = raw[_HEADER.size:]
    if len(body) != 2 * dim:
        raise EngineError("not a voiceprint of the local engine (truncated)")
    v = np.frombuffer(body, dtype="<f2").astype(np.float32)
    if not np.all(np.isfinite(v)) or np.linalg.norm(v) == 0:
        raise EngineError("not a voiceprint of the local engine (invalid values)")
    return v / np.linalg.norm(v)


def embed_clip(wav: np.ndarray, *, name: str = "<audio>") -> np.ndarray:
    """Unit embedding of the speech in a 16 kHz single-speaker clip of at most 30 s.

    Raises
    ------
    EngineError
        Longer than 30 s, or less than 0.5 s of speech detected.
    """
    from pyannote_notebook.engine.encoder import get_encoder
    from pyannote_notebook.engine.vad import speech_regions

    duration = len(wav) / SAMPLE_RATE
    if duration > MAX_VOICEPRINT_SECONDS:
        raise EngineError(too_long_message(duration))
    regions = speech_regions(wav)
    speech = np.concatenate([wav[int(s * SAMPLE_RATE):int(e * SAMPLE_RATE)] for s, e in regions]) \
        if regions else np.zeros(0, dtype=np.float32)
    if len(speech) < 0.5 * SAMPLE_RATE:
        raise EngineError(f"{name}: less than 0.5 s of speech detected; a voiceprint needs a clip "
                          "of one person speaking")
    return get_encoder().embed_utterance(speech)


def voiceprint(audio: str | Path | np.ndarray, *, sample_rate: int | None = None) -> str:
    """Make a voiceprint from a single-speaker clip (file or array) of at most 30 s.

    Returns
    -------
    str
        The opaque base64 voiceprint (usable with :func:`pyannote_notebook.engine.identify`).

    Raises
    ------
    AudioError
        Unreadable or empty audio, or a 2-D array of ambiguous layout (see
        :func:`pyannote_notebook.engine.audio.to_mono_16k`).
    EngineError
        The clip is longer than 30 s or holds no speech.
    """
    wav, _ = load_audio(audio, sample_rate)
    name = str(audio) if not isinstance(audio, np.ndarray) else "<array>"
    return encode_voiceprint(embed_clip(wav, name=name))

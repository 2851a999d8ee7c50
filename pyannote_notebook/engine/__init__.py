"""The offline diarization engine: silero VAD + GE2E embeddings + spectral clustering, no torch.

Public functions (imported lazily so ``import pyannote_notebook.engine`` stays cheap):
:func:`diarize`, :func:`voiceprint`, :func:`identify`, :func:`load_audio`.
"""

from __future__ import annotations

from pyannote_notebook._lazy import lazy_exports

__all__ = ["diarize", "voiceprint", "identify", "load_audio", "LocalJobEngine"]

_EXPORTS = {
    "diarize": "pyannote_notebook.engine.pipeline",
    "voiceprint": "pyannote_notebook.engine.voiceprints",
    "identify": "pyannote_notebook.engine.identification",
    "load_audio": "pyannote_notebook.engine.audio",
    "LocalJobEngine": "pyannote_notebook.engine.service",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

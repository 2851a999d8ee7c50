"""The offline diarization engine: silero VAD + GE2E embeddings + spectral clustering, no torch.

Public functions (imported lazily so ``import pyannote_notebook.engine`` stays cheap):
:func:`diarize`, :func:`voiceprint`, :func:`identify`, :func:`load_audio`.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["diarize", "voiceprint", "identify", "load_audio", "LocalJobEngine"]

_EXPORTS = {
    "diarize": "pyannote_notebook.engine.pipeline",
    "voiceprint": "pyannote_notebook.engine.voiceprints",
    "identify": "pyannote_notebook.engine.identification",
    "load_audio": "pyannote_notebook.engine.audio",
    "LocalJobEngine": "pyannote_notebook.engine.service",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pyannote_notebook.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

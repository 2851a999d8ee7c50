"""pyannote-notebook: diarize audio from Jupyter with pyannoteAI or offline, keep every result,
analyse and plot it.

Public names are imported lazily (PEP 562) so that ``import pyannote_notebook`` stays fast:
matplotlib, pandas, scipy and the engine load only when a name that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    **{
        name: "pyannote_notebook.errors"
        for name in (
            "PyannoteNotebookError", "InvalidOption", "APIError", "FieldError", "BadRequest",
            "AuthenticationError", "PaymentRequired", "NotFound", "PayloadTooLarge",
            "RateLimited", "ServerError", "ConnectionFailed", "JobError", "JobFailed",
            "JobCanceled", "WaitTimeout", "StoreError", "SignatureError", "FormatError",
            "EngineError", "AudioError", "WeightsMissing", "ServerStartError",
        )
    },
    "Secret": "pyannote_notebook.config",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pyannote_notebook' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

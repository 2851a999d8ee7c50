"""pyannoteAI-compatible HTTP server on loopback (FastAPI + uvicorn), for tests and offline use.

``start_server(...)`` returns a :class:`ServerHandle`; clients use ``handle.base_url``
(``http://HOST:PORT/v1``) exactly as they would ``https://api.pyannote.ai/v1``. Jobs run on a
pluggable engine: :class:`ScriptedEngine` (outputs, durations and failures scripted per test) or the
offline engine (``engine="local"``). Fault injection (:class:`Faults`) and rate limits
(:class:`RateLimits`) make client robustness testable.

Names are imported lazily (PEP 562): ``from pyannote_notebook.server import Faults`` does not
import FastAPI or uvicorn; ``start_server`` does. Nothing here imports the client side
(``api``, ``jobs``, ``results``...).
"""

from __future__ import annotations

from pyannote_notebook._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "start_server": "pyannote_notebook.server.handle",
    "ServerHandle": "pyannote_notebook.server.handle",
    "ScriptedEngine": "pyannote_notebook.server.scripted",
    "Script": "pyannote_notebook.server.scripted",
    "generate_output": "pyannote_notebook.server.scripted",
    "Faults": "pyannote_notebook.server.faults",
    "RateLimits": "pyannote_notebook.server.limits",
    "JobEngine": "pyannote_notebook.server.engines",
    "get_engine": "pyannote_notebook.server.engines",
    "ServerStats": "pyannote_notebook.server.stats",
    "sign_webhook": "pyannote_notebook.server.delivery",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

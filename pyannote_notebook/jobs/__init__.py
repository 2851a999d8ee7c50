"""jobs layer: the local store, high-level functions, batches, webhooks and progress.

Names are imported lazily (PEP 562) so that ``import pyannote_notebook.jobs`` stays light.
"""

from __future__ import annotations

from typing import Any

from pyannote_notebook._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "JobStore": "pyannote_notebook.jobs.store",
    "JobRecord": "pyannote_notebook.jobs.store",
    "content_key": "pyannote_notebook.jobs.store",
    "Job": "pyannote_notebook.jobs.handle",
    "Batch": "pyannote_notebook.jobs.batch",
    "NotSubmitted": "pyannote_notebook.jobs.batch",
    "Session": "pyannote_notebook.jobs.session",
    "configure": "pyannote_notebook.jobs.session",
    "get_session": "pyannote_notebook.jobs.session",
    "diarize": "pyannote_notebook.jobs.session",
    "submit": "pyannote_notebook.jobs.session",
    "identify": "pyannote_notebook.jobs.session",
    "voiceprint": "pyannote_notebook.jobs.session",
    "diarize_many": "pyannote_notebook.jobs.session",
    "job": "pyannote_notebook.jobs.session",
    "jobs": "pyannote_notebook.jobs.session",
    "adiarize": "pyannote_notebook.jobs.session",
    "asubmit": "pyannote_notebook.jobs.session",
    "adiarize_many": "pyannote_notebook.jobs.session",
    "verify_signature": "pyannote_notebook.jobs.webhooks",
    "WebhookHandler": "pyannote_notebook.jobs.webhooks",
    "WebhookReceiver": "pyannote_notebook.jobs.webhooks",
    "make_progress": "pyannote_notebook.jobs.progress",
    "embedded_server": "pyannote_notebook.jobs.session",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


class _CallableModule(__import__("types").ModuleType):
    """Makes ``pyannote_notebook.jobs(status=None)`` list the store's jobs.

    ``jobs`` is both this package and the public function listing jobs; once the package is
    imported, ``pyannote_notebook.jobs`` is the package, so the package itself forwards calls.
    """

    def __call__(self, status: str | None = None, **kw: Any) -> Any:
        from .session import jobs as _jobs

        return _jobs(status, **kw)


__import__("sys").modules[__name__].__class__ = _CallableModule

"""The notebook-facing job handle: a stored job that can be waited on, from any kernel.

It wraps the API client's :class:`pyannote_notebook.api.Job` and the :class:`JobStore`: what the
store already knows (a finished job's output) is answered without any request, so re-running a
cell after the job finished costs nothing, and after the service deleted the output (24 h) it is
still there.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ..errors import JobCanceled, JobFailed, PyannoteNotebookError
from .store import TERMINAL_STATUSES, JobStore

if TYPE_CHECKING:  # pragma: no cover
    from ..api import Client
    from ..results import Result

__all__ = ["Job"]

log = logging.getLogger(__name__)


class Job:
    """A submitted job, re-attachable by id (``pyannote_notebook.job(job_id)``).

    Attributes
    ----------
    id : str
        The service's job id.
    kind : str | None
        ``"diarize"``, ``"identify"`` or ``"voiceprint"``.
    uri : str | None
        File id given to the :class:`~pyannote_notebook.results.Result`.
    """

    def __init__(
        self,
        job_id: str,
        *,
        client: Client,
        store: JobStore,
        kind: str | None = None,
        uri: str | None = None,
        audio: str | None = None,
        audio_duration: float | None = None,
    ) -> None:
        self.id = job_id
        self.kind = kind
        self.uri = uri
        self.audio = audio
        self.client = client
        self.store = store
        self._audio_duration = audio_duration
        self._api_job: Any = None

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, kind={self.kind!r}, status={self.status!r}, uri={self.uri!r})"

    @property
    def api_job(self) -> Any:
        """The client-level :class:`pyannote_notebook.api.Job` (created on first use, no request)."""
        if self._api_job is None:
            self._api_job = self.client.job(self.id, kind=self.kind)
            if self._audio_duration is not None and getattr(self._api_job, "audio_duration", None) is None:
                try:
                    self._api_job.audio_duration = self._audio_duration
                except AttributeError:  # pragma: no cover - read-only in some client versions
                    pass
        return self._api_job

    @property
    def record(self) -> Any:
        """The store's row for this job (``JobRecord``) or ``None``."""
        return self.store.get(self.id)

    @property
    def status(self) -> str | None:
        """Last known status (from the store; no request)."""
        rec = self.store.get(self.id)
        if rec is not None:
            return rec.status
        info = getattr(self._api_job, "info", None)
        return getattr(info, "status", None)

    def done(self) -> bool:
        """Whether the job is known to be finished (no request)."""
        return self.status in TERMINAL_STATUSES

    def refresh(self) -> str:
        """Fetch the job once (one GET; the store records it) and return its status.

        Raises the client's errors (``NotFound`` for an unknown id, ``ConnectionFailed``...).
        """
        return self.api_job.refresh().status

    def _stored_outcome(self) -> dict[str, Any] | None:
        rec = self.store.get(self.id)
        if rec is None or rec.status not in TERMINAL_STATUSES:
            return None
        if rec.status == "failed":
            raise JobFailed(self.id, rec.error if rec.error is not None else self._fetch_error())
        if rec.status == "canceled":
            raise JobCanceled(self.id, rec.error)
        return rec.output

    def _fetch_error(self) -> str | None:
        """The service's error text of a job stored as failed without one (a failed webhook
        carries no output): one GET, recorded in the store; None when it cannot be had."""
        try:
            out = self.api_job.refresh().output
        except PyannoteNotebookError as exc:
            log.info("could not fetch the error text of failed job %s: %s", self.id, exc)
            return None
        err = out.get("error") if isinstance(out, dict) else None
        return str(err) if err is not None else None

    def wait(self, timeout: float | None = None, poll: float | None = None) -> dict[str, Any]:
        """Return the job's raw output, waiting for it if needed.

        A finished job known to the store returns at once without any request. Otherwise the
        client waits (adaptive polling; a webhook wakes it at once) and the store records every
        status it sees.

        Raises
        ------
        JobFailed, JobCanceled
            The job ended that way (from the store or the service).
        WaitTimeout
            ``timeout`` seconds passed; the job keeps running (re-attach with ``job(id)``).
        """
        output = self._stored_outcome()
        if output is not None:
            return output
        return self.api_job.wait(timeout=timeout, poll=poll)

    def result(self, timeout: float | None = None) -> Result:
        """The job's :class:`~pyannote_notebook.results.Result` (waits like :meth:`wait`)."""
        from ..results import Result

        output = self.wait(timeout)
        return Result.from_json(output, uri=self.uri, job_id=self.id, kind=self.kind,
                                audio=None if self.uri else self.audio)

    async def wait_async(self, timeout: float | None = None) -> dict[str, Any]:
        """Awaitable :meth:`wait` (runs in a worker thread; safe in Jupyter's running loop)."""
        return await asyncio.to_thread(self.wait, timeout)

    async def result_async(self, timeout: float | None = None) -> Result:
        """Awaitable :meth:`result` (``result = await job.result_async()``)."""
        return await asyncio.to_thread(self.result, timeout)

    #: Alias of :meth:`result_async` (the issue's spelling).
    await_result = result_async

    def __await__(self) -> Any:
        """``result = await job`` is ``await job.result_async()``."""
        return self.result_async().__await__()

"""The :class:`Job` handle and :func:`notify_job`, the webhook wake-up.

``Job.wait`` never plain-sleeps: it waits on a ``threading.Condition`` registered under the job
id, with the poll delay as timeout. A webhook receiver calls :func:`notify_job` with the webhook
body; every ``wait`` on that id wakes at once and, when the body carries the output, returns it
without another request (a status-only or ``failed`` webhook costs one GET, for the output or
the error text).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from pyannote_notebook.api.models import JobInfo
from pyannote_notebook.api.polling import PollPlanner, estimator_for
from pyannote_notebook.errors import (
    ConnectionFailed,
    InvalidOption,
    JobCanceled,
    JobError,
    JobFailed,
    RateLimited,
    ServerError,
    WaitTimeout,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyannote_notebook.api.client import Client

__all__ = ["Job", "notify_job"]

logger = logging.getLogger("pyannote_notebook.api")


class _Waiter:
    __slots__ = ("cond", "payload")

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.payload: JobInfo | None = None


_WAITERS: dict[str, list[_Waiter]] = {}
_WAITERS_LOCK = threading.Lock()
#: Notifications that found nobody waiting, kept for the next ``wait`` on that id: a webhook
#: that lands between a caller's store check and its ``wait`` must not be lost.
_UNCLAIMED: OrderedDict[str, JobInfo] = OrderedDict()
UNCLAIMED_MAX = 256


def _register(job_id: str) -> _Waiter:
    waiter = _Waiter()
    with _WAITERS_LOCK:
        _WAITERS.setdefault(job_id, []).append(waiter)
        waiter.payload = _UNCLAIMED.pop(job_id, None)
    return waiter


def _unregister(job_id: str, waiter: _Waiter) -> None:
    with _WAITERS_LOCK:
        waiters = _WAITERS.get(job_id, [])
        if waiter in waiters:
            waiters.remove(waiter)
        if not waiters:
            _WAITERS.pop(job_id, None)


def notify_job(info_or_json: JobInfo | dict[str, Any]) -> bool:
    """Wake every ``Job.wait`` on this job id at once (call it from a webhook receiver).

    Parameters
    ----------
    info_or_json : JobInfo | dict
        A :class:`JobInfo`, or the webhook body ``{"jobId", "status", "output"?}``.

    Returns
    -------
    bool
        Whether some ``wait`` was waiting on that id. ``False``: nobody was woken; the
        notification is kept for the next ``wait`` on that id (the most recent
        :data:`UNCLAIMED_MAX` such notifications are kept, in memory).

    Raises
    ------
    InvalidOption
        The body has no ``jobId``.
    """
    if isinstance(info_or_json, JobInfo):
        info = info_or_json
    elif isinstance(info_or_json, dict):
        info = JobInfo.from_json(info_or_json)
    else:
        raise InvalidOption("info_or_json", "must be a JobInfo or a webhook body dict")
    if not info.job_id:
        raise InvalidOption("info_or_json", "the webhook body has no 'jobId'")
    with _WAITERS_LOCK:
        waiters = list(_WAITERS.get(info.job_id, ()))
        if not waiters:
            _UNCLAIMED[info.job_id] = info
            _UNCLAIMED.move_to_end(info.job_id)
            while len(_UNCLAIMED) > UNCLAIMED_MAX:
                _UNCLAIMED.popitem(last=False)
    for waiter in waiters:
        with waiter.cond:
            waiter.payload = info
            waiter.cond.notify_all()
    return bool(waiters)


class Job:
    """Handle of one job on the service (diarize, identify or voiceprint).

    Attributes
    ----------
    id : str
        The service's job id.
    kind : str | None
        ``"diarize" | "identify" | "voiceprint"`` when known.
    client : Client
    audio_duration : float | None
        Seconds of audio, when known; it lets :meth:`wait` poll when completion is likely.
    info : JobInfo | None
        The last observation of the job (``None`` for a re-attached job not yet refreshed).
    """

    def __init__(self, client: Client, job_id: str, kind: str | None = None, *,
                 info: JobInfo | None = None, audio_duration: float | None = None,
                 created_monotonic: float | None = None) -> None:
        self.id = job_id
        self.kind = kind
        self.client = client
        self.audio_duration = audio_duration
        self.info = info
        self._created_monotonic = created_monotonic
        self._recorded = False

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, kind={self.kind!r}, status={self.status!r})"

    @property
    def status(self) -> str:
        """Last known status (``"unknown"`` before the first observation); makes no request."""
        return self.info.status if self.info is not None else "unknown"

    def refresh(self) -> JobInfo:
        """``GET /v1/jobs/{id}`` (retried on transient failures) and return the new :class:`JobInfo`.

        Raises
        ------
        NotFound, AuthenticationError, ServerError, ConnectionFailed, RateLimited
            As :meth:`Client.get_job`, once retries are exhausted.
        """
        self.info = self.client.get_job(self.id)
        return self.info

    def done(self) -> bool:
        """Whether the job has finished; makes one GET unless a terminal status is already known."""
        if self.info is None or not self.info.done:
            self.refresh()
        return bool(self.info and self.info.done)

    # ------------------------------------------------------------------ waiting

    def _origin(self) -> float:
        """Monotonic time of the job's creation (for predictions)."""
        if self._created_monotonic is not None:
            return self._created_monotonic
        if self.info is not None and self.info.created_at is not None:
            age = time.time() - self.info.created_at.timestamp()
            return time.monotonic() - max(0.0, age)
        return time.monotonic()

    def _record(self, info: JobInfo) -> None:
        if self._recorded or info.status != "succeeded" or not self.audio_duration:
            return
        seconds = info.processing_seconds
        if seconds is None and self._created_monotonic is not None:
            seconds = time.monotonic() - self._created_monotonic
        if seconds is not None:
            estimator_for(self.client.base_url, self.kind).record(seconds, self.audio_duration)
            self._recorded = True

    def _finish(self, info: JobInfo) -> dict[str, Any]:
        output = info.output
        if info.status == "succeeded":
            if output is None:
                raise JobError(
                    self.id,
                    f"job {self.id} succeeded but its output is no longer available (the service "
                    "deletes outputs 24 h after completion); submit the job again",
                )
            self._record(info)
            return output
        if info.status == "failed":
            raise JobFailed(self.id, (output or {}).get("error"))
        raise JobCanceled(self.id, (output or {}).get("error"))

    def _try_refresh(self, deadline: float | None = None) -> tuple[JobInfo | None, float | None]:
        """One refresh bounded by ``deadline`` (monotonic; see :meth:`Client.get_job`).

        Transient failures (after the client's own retries, or when a retry would end past the
        deadline) are logged, not raised; returns ``(info or None, Retry-After or None)``.
        """
        try:
            self.info = self.client.get_job(self.id, deadline=deadline)
            return self.info, None
        except RateLimited as exc:
            logger.warning("job %s: rate limited while polling; waiting %s s", self.id,
                           exc.retry_after)
            return None, exc.retry_after
        except (ServerError, ConnectionFailed) as exc:
            logger.warning("job %s: poll failed (%s); will retry", self.id, type(exc).__name__)
            return None, None

    def wait(self, timeout: float | None = None, poll: float | None = None) -> dict[str, Any]:
        """Block until the job finishes and return its output dict.

        Parameters
        ----------
        timeout : float, optional
            Give up after this many seconds (``None``: wait forever). It bounds everything the
            wait does: every poll is made with this deadline (the rate-budget wait, each
            attempt's connect/read timeout and every retry sleep, ``Retry-After`` included, are
            capped at the time left; a retry that would end past the deadline is not made), so
            :class:`WaitTimeout` is raised at ``timeout`` s, not later. A ``Retry-After`` that
            fits before the deadline is honoured.
        poll : float, optional
            Fixed polling interval in seconds. ``None`` (default) polls adaptively: first poll
            near 1 s, then backoff x1.5 up to 10 s; when the audio duration is known and jobs of
            this kind were seen finishing, it sleeps until shortly before the predicted
            completion and then polls every 0.25-0.5 s. ``Retry-After`` and the server's
            remaining read budget stretch the delays. A :func:`notify_job` call for this id
            wakes the wait at once.

        Returns
        -------
        dict
            The job output (``output`` of the job JSON).

        Raises
        ------
        JobFailed
            The job failed; ``.error`` holds the service's error text.
        JobCanceled
            The job was canceled.
        WaitTimeout
            ``timeout`` passed; a ``TimeoutError`` naming the job and its last known status.
            The job keeps running on the service: re-attach later with
            ``client.job(job_id).wait()``.
        JobError
            The job succeeded but its output has expired.
        NotFound, AuthenticationError
            The job id is unknown / the key is refused. Transient errors (5xx, connection,
            429) while polling are logged and polling continues until ``timeout``.
        """
        if timeout is not None and (isinstance(timeout, bool) or not timeout >= 0):
            raise InvalidOption("timeout", f"must be None or a number >= 0, got {timeout!r}")
        if poll is not None and (isinstance(poll, bool) or not poll > 0):
            raise InvalidOption("poll", f"must be None or a number > 0, got {poll!r}")
        if self.info is not None and self.info.done and (
                self.info.status != "succeeded" or self.info.output is not None):
            return self._finish(self.info)

        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        planner = PollPlanner(started=self._origin(), audio_duration=self.audio_duration,
                              estimator=estimator_for(self.client.base_url, self.kind))
        budget = self.client.rate_budget

        def pressure() -> float:
            return budget.pressure("read") if budget is not None else 0.0

        waiter = _register(self.id)
        try:
            if self.info is None:
                next_at = start  # re-attached: look at once
            else:
                next_at = start + (poll if poll is not None else planner.next_delay(start, pressure()))
            while True:
                with waiter.cond:
                    while waiter.payload is None:
                        now = time.monotonic()
                        until = next_at if deadline is None else min(next_at, deadline)
                        if now >= until:
                            break
                        waiter.cond.wait(until - now)
                    hook, waiter.payload = waiter.payload, None
                if hook is not None:
                    hook = dataclasses.replace(
                        hook, kind=hook.kind or self.kind,
                        created_at=hook.created_at or (self.info.created_at if self.info else None),
                        updated_at=hook.updated_at or (self.info.updated_at if self.info else None),
                    )
                    self.client._emit(hook)
                    if hook.status == "succeeded" and hook.output is not None:
                        self.info = hook
                        return self._finish(hook)
                    # status-only, failed (error text is only on GET) or non-terminal: one GET
                elif deadline is not None and time.monotonic() >= deadline:
                    raise WaitTimeout(self.id, timeout if timeout is not None else 0.0,
                                      self.status if self.info is not None else None)
                info, retry_after = self._try_refresh(deadline)
                if info is not None and info.done:
                    return self._finish(info)
                if info is not None and self._created_monotonic is None:
                    planner.started = self._origin()  # re-attached: origin from createdAt
                now = time.monotonic()
                delay = poll if poll is not None else planner.next_delay(now, pressure())
                if retry_after is not None:
                    delay = max(delay, retry_after)
                next_at = now + delay
        finally:
            _unregister(self.id, waiter)

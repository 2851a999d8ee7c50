"""Many files at once: submit with bounded concurrency, poll cheaply, keep results in input order.

Why hand-written: the service allows ~100 job-creating requests and ~300 job reads a minute per
team. A loop of ``Job.wait`` calls would spend one GET per job per poll; this module instead

* submits (upload + create) from a thread pool of ``max_concurrency`` workers, every request
  going through the client's shared :class:`~pyannote_notebook.api.RateBudget` (so the budget,
  not the pool, paces a large batch and no 429 reaches the user in steady state);
* polls the pending jobs with one listing (``GET /v2/jobs``, newest first, 100 per page) when that
  costs fewer requests than one GET per pending job (pending jobs > 2 x the pages needed), and
  then GETs only the jobs the listing shows as finished, to fetch their outputs;
* reads the store before every poll: outputs a webhook receiver (or another kernel) already wrote
  there finish their item with no request at all.

Each failure is captured in its slot (the exception object) without stopping the others; the
store records every job as soon as it is created, so a killed kernel that runs the same cell again
re-attaches to the same jobs and submits nothing twice.

``timeout`` is a deadline for the whole call (``timeout`` seconds after it starts), not a per-file
bound. At the deadline:

* no new submission starts: queued inputs are cancelled, and a stop flag is checked before each
  upload and before each job-creating request, so nothing is billed after the deadline;
* a submission already in flight (at most ``max_concurrency`` of them; a create request cannot be
  recalled once sent) is allowed to finish, so its job is recorded in the store and the batch; the
  call therefore returns at the deadline plus at most the duration of those requests;
* polling stops (a poll in progress is cut at the deadline: ``get_job(deadline=...)``);
* every input not finished holds a :class:`~pyannote_notebook.errors.WaitTimeout`: with the real job
  id and last known status when its job was created (the job keeps running; running the same call
  again re-attaches to it from the store), or a :class:`NotSubmitted` (a ``WaitTimeout`` with no job
  id) saying it was not submitted before the timeout and nothing was billed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import JobCanceled, JobError, JobFailed, WaitTimeout
from .progress import make_progress, status_bucket
from .store import TERMINAL_STATUSES, JobStore

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..api import Client
    from .handle import Job
    from .session import Session

__all__ = ["Batch", "BatchItem", "NotSubmitted", "run_batch"]

log = logging.getLogger(__name__)

PAGE_SIZE = 100
NOT_SUBMITTED = "not submitted"


class NotSubmitted(WaitTimeout):
    """A batch input that was not submitted before the batch's ``timeout``: nothing was billed.

    A :class:`~pyannote_notebook.errors.WaitTimeout` (so a ``TimeoutError``) whose ``job_id`` is
    ``None``: no job exists for it. Running the same call again submits it.
    """

    def __init__(self, label: str, timeout: float) -> None:
        self.timeout = timeout
        self.last_status = None
        JobError.__init__(
            self, None,  # type: ignore[arg-type]  # no job was created
            f"{label or 'input'}: not submitted before the timeout ({timeout:g} s); nothing was "
            "billed. Run the same call again to submit it",
        )


class _Stopped(Exception):
    """Raised by :class:`_StopGate` when the batch's deadline passed before a billable request."""


class _StopGate:
    """The batch's client, refusing to start an upload or a job creation once ``stop`` is set.

    Everything else is the wrapped client's (attribute access is delegated), so the session's
    submission code runs unchanged; the gate is only the point where "no new billed request after
    the deadline" is checked, just before each upload and each create.
    """

    def __init__(self, client: Client, stop: threading.Event) -> None:
        self._client = client
        self._stop = stop

    #: The client methods that start a billable request (an upload or a job creation).
    GATED = frozenset(("upload", "diarize", "identify", "voiceprint", "submit"))

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in self.GATED:
            return attribute

        def gated(*args: Any, **kwargs: Any) -> Any:
            if self._stop.is_set():
                raise _Stopped()
            return attribute(*args, **kwargs)

        return gated


@dataclass
class BatchItem:
    """State of one input of a batch."""

    index: int
    audio: Any
    label: str = ""
    uri: str | None = None
    job: Job | None = None
    state: str = "uploading"
    result: Any = None
    error: BaseException | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    submitted_wall: float | None = None

    @property
    def done(self) -> bool:
        return self.finished is not None


class Batch:
    """Results of :func:`diarize_many`, in input order.

    Attributes
    ----------
    results : list
        One entry per input: a :class:`~pyannote_notebook.results.Result`, or the exception
        that input ended with (``JobFailed``, ``APIError``, ``InvalidOption``...).
    summary : pandas.DataFrame
        One row per input: input, uri, job_id, status, error, elapsed (seconds).
    failed : list[int]
        Indices of the inputs that failed.
    """

    def __init__(self, items: Sequence[BatchItem], elapsed: float) -> None:
        self._items = list(items)
        self.elapsed = elapsed
        self.results: list[Any] = [it.error if it.error is not None else it.result
                                   for it in self._items]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.results)

    def __getitem__(self, index: int) -> Any:
        return self.results[index]

    def __repr__(self) -> str:
        return f"Batch({len(self)} inputs, {len(self.failed)} failed, {self.elapsed:.1f} s)"

    @property
    def failed(self) -> list[int]:
        """Indices of inputs whose slot holds an exception."""
        return [i for i, r in enumerate(self.results) if isinstance(r, BaseException)]

    @property
    def job_ids(self) -> list[str | None]:
        """Job id of every input (``None`` where no job was created)."""
        return [it.job.id if it.job is not None else None for it in self._items]

    @property
    def summary(self) -> pd.DataFrame:
        """One row per input: input, uri, job_id, status, error, elapsed."""
        import pandas as pd

        rows = {
            "input": [it.label for it in self._items],
            "uri": [it.uri for it in self._items],
            "job_id": [it.job.id if it.job is not None else None for it in self._items],
            "status": [
                "failed" if it.error is not None and it.state not in ("failed", "canceled")
                and not isinstance(it.error, WaitTimeout)
                else it.state for it in self._items
            ],
            "error": [None if it.error is None else f"{type(it.error).__name__}: {it.error}"
                      for it in self._items],
            "elapsed": [(it.finished or time.monotonic()) - it.started for it in self._items],
        }
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        return self.summary._repr_html_()  # type: ignore[operator]


class _Runner:
    def __init__(
        self,
        session: Session,
        audios: list[Any],
        *,
        kind: str,
        options: Mapping[str, Any],
        client: Client,
        store: JobStore,
        max_concurrency: int,
        progress: Any,
        timeout: float | None,
        force: bool,
        sample_rate: int | None,
        poll_min: float = 0.5,
        poll_max: float = 5.0,
    ) -> None:
        self.session = session
        self.kind = kind
        self.options = dict(options)
        self.client = client
        self.store = store
        self.max_concurrency = max(1, int(max_concurrency))
        self.timeout = timeout
        self.force = force
        self.sample_rate = sample_rate
        self.items = [BatchItem(i, a) for i, a in enumerate(audios)]
        self.reporter = make_progress(progress, len(self.items), desc=kind)
        self.lock = threading.Lock()
        self.changed = threading.Event()
        self.poll_min = poll_min
        self.poll_max = poll_max
        self.list_pages_estimate = 1
        self.requests = {"list": 0, "get": 0}
        self._forced_hashes: set[str] = set()
        self.list_gap = 1.0
        self._last_list = -float("inf")
        self.stop = threading.Event()  # set at the deadline: no new upload or create starts
        self.gate = _StopGate(client, self.stop)
        self.deadline: float | None = None

    # ------------------------------------------------------------------ bookkeeping

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        with self.lock:
            for it in self.items:
                bucket = "failed" if it.error is not None else status_bucket(it.state)
                out[bucket] = out.get(bucket, 0) + 1
        return out

    def _finish(self, it: BatchItem, *, result: Any = None, error: BaseException | None = None,
                state: str | None = None) -> None:
        with self.lock:
            if it.done:
                return
            it.result, it.error = result, error
            if state is not None:
                it.state = state
            it.finished = time.monotonic()
        self.changed.set()

    def _finish_from_output(self, it: BatchItem, status: str, output: Any, error: str | None) -> None:
        assert it.job is not None
        if status == "failed":
            self._finish(it, error=JobFailed(it.job.id, error), state="failed")
        elif status == "canceled":
            self._finish(it, error=JobCanceled(it.job.id, error), state="canceled")
        else:
            from ..results import Result

            try:
                res = Result.from_json(output, uri=it.uri, job_id=it.job.id, kind=self.kind)
            except Exception as exc:  # malformed output: that input fails, others go on
                self._finish(it, error=exc, state="succeeded")
                return
            self._finish(it, result=res, state="succeeded")

    # ------------------------------------------------------------------ submission

    def _submit_one(self, it: BatchItem, keys: dict[str, threading.Lock]) -> None:
        from .session import prepare_audio

        if self.stop.is_set():
            self._not_submitted(it)
            return
        try:
            prep = prepare_audio(it.audio, sample_rate=self.sample_rate)
            it.label, it.uri = prep.label, prep.uri
            # the same content twice in one batch: the second waits for the first's row and
            # re-attaches to its job instead of submitting again
            with self.lock:
                key_lock = keys.setdefault(prep.audio_hash, threading.Lock())
            try:
                def on_state(s: str) -> None:
                    with self.lock:
                        it.state = s
                    self.changed.set()

                with key_lock:
                    if self.stop.is_set():
                        raise _Stopped()
                    # the gate refuses an upload or a create once the deadline has passed
                    job = self.session._submit(
                        self.kind, prep, self.options, client=self.gate,  # type: ignore[arg-type]
                        store=self.store,
                        force=self.force and not self._forced(prep.audio_hash), on_state=on_state)
            finally:
                prep.close()
            if job.client is self.gate:
                job.client = self.client
            rec = self.store.get(job.id)
            with self.lock:
                it.job = job
                it.state = rec.status if rec is not None else "created"
                it.submitted_wall = rec.created_at if rec is not None else time.time()
            self.changed.set()
            if rec is not None and rec.status in TERMINAL_STATUSES and (
                    rec.output is not None or rec.status != "succeeded"):
                self._finish_from_output(it, rec.status, rec.output, rec.error)
        except _Stopped:
            self._not_submitted(it)
        except Exception as exc:
            self._finish(it, error=exc, state="error")

    def _not_submitted(self, it: BatchItem) -> None:
        if not it.label:
            it.label = _label(it.audio)
        self._finish(it, error=NotSubmitted(it.label, self.timeout or 0.0), state=NOT_SUBMITTED)

    def _forced(self, audio_hash: str) -> bool:
        """With force=True, only the first occurrence of a content is resubmitted."""
        with self.lock:
            seen = audio_hash in self._forced_hashes
            self._forced_hashes.add(audio_hash)
        return seen

    # ------------------------------------------------------------------ polling

    def _pending(self) -> list[BatchItem]:
        with self.lock:
            return [it for it in self.items if it.job is not None and not it.done]

    def _from_store(self, pending: list[BatchItem]) -> list[BatchItem]:
        """Finish what the store already knows (webhooks, other kernels); return the rest."""
        recs = self.store.get_many([it.job.id for it in pending])  # type: ignore[union-attr]
        rest = []
        for it in pending:
            rec = recs.get(it.job.id)  # type: ignore[union-attr]
            if rec is None:
                rest.append(it)
                continue
            with self.lock:
                it.state = rec.status
            # a failed webhook carries no error text: such jobs get one GET for it
            if rec.status in TERMINAL_STATUSES and (
                    rec.output is not None or rec.status == "canceled"
                    or (rec.status == "failed" and rec.error is not None)):
                self._finish_from_output(it, rec.status, rec.output, rec.error)
            else:
                rest.append(it)
        return rest

    def _get(self, it: BatchItem) -> None:
        assert it.job is not None
        try:
            self.requests["get"] += 1
            info = self.client.get_job(it.job.id, deadline=self.deadline)  # the store records it
        except Exception as exc:
            from ..errors import NotFound

            if isinstance(exc, NotFound):
                self._finish(it, error=exc, state="error")
            else:  # transient after the client's retries: try again next round
                log.warning("poll of job %s failed: %s", it.job.id, exc)
            return
        with self.lock:
            it.state = info.status
        if info.status in TERMINAL_STATUSES:
            out = info.output
            err = out.get("error") if isinstance(out, dict) else None
            if info.status == "succeeded" and out is None:
                rec = self.store.get(it.job.id)
                out = rec.output if rec is not None else None
                if out is None:
                    from ..errors import NotFound

                    self._finish(it, error=NotFound(
                        f"job {it.job.id} succeeded but its output is gone (deleted 24 h after "
                        "completion); resubmit with force=True"), state="error")
                    return
            self._finish_from_output(it, info.status, out, err)

    def _list_round(self, pending: list[BatchItem]) -> list[BatchItem]:
        """One listing pass; returns the pending items the listing shows as finished or missed."""
        want = {it.job.id: it for it in pending}  # type: ignore[union-attr]
        oldest = min((it.submitted_wall or time.time()) for it in pending) - 300.0
        seen: set[str] = set()
        finished: list[BatchItem] = []
        pages = 0
        count = 0
        try:
            for summary in self.client.list_jobs(page_size=PAGE_SIZE):
                count += 1
                if count % PAGE_SIZE == 1:
                    pages += 1
                    self.requests["list"] += 1
                it = want.get(summary.job_id)
                if it is not None:
                    seen.add(summary.job_id)
                    with self.lock:
                        it.state = summary.status
                    if summary.status in TERMINAL_STATUSES:
                        finished.append(it)
                if len(seen) == len(want):
                    break
                created = summary.created_at
                if created is not None and created < datetime.fromtimestamp(oldest, timezone.utc):
                    break
        except Exception as exc:
            log.warning("job listing failed (%s); falling back to per-job polls", exc)
            return list(pending)
        self.list_pages_estimate = max(1, pages)
        missed = [it for jid, it in want.items() if jid not in seen]
        return finished + missed

    def _poll_round(self) -> bool:
        """Poll once; True if any item changed."""
        pending = self._pending()
        if not pending:
            return False
        pending = self._from_store(pending)
        if not pending:
            return True
        if len(pending) > 2 * self.list_pages_estimate:
            now = time.monotonic()
            if now - self._last_list < self.list_gap:
                return True  # listings cost pages: at most one per list_gap s (keep the pace)
            self._last_list = now
            to_get = self._list_round(pending)
        else:
            to_get = pending
        for it in to_get:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                break
            self._get(it)
        return bool(to_get)

    # ------------------------------------------------------------------ main loop

    def run(self, raise_on_error: bool) -> Batch:
        start = time.monotonic()
        deadline = None if self.timeout is None else start + self.timeout
        self.deadline = deadline
        self.reporter.update(self.counts())
        pool = ThreadPoolExecutor(max_workers=self.max_concurrency,
                                  thread_name_prefix="pyannote-batch")
        keys: dict[str, threading.Lock] = {}
        futures = [pool.submit(self._submit_one, it, keys) for it in self.items]
        interval = self.poll_min
        timed_out = False
        try:
            while True:
                all_submitted = all(f.done() for f in futures)
                changed = self._poll_round()
                self.reporter.update(self.counts())
                with self.lock:
                    remaining = [it for it in self.items if not it.done]
                if all_submitted and not remaining:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    timed_out = True
                    break
                interval = self.poll_min if changed else min(interval * 1.5, self.poll_max)
                wait = interval if deadline is None else min(interval, deadline - time.monotonic())
                self.changed.wait(max(0.0, wait))
                self.changed.clear()
        finally:
            # the deadline (or an interrupt): start nothing new; in-flight submissions finish and
            # are recorded (a sent create cannot be recalled)
            self.stop.set()
            for fut in futures:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            if timed_out:
                self._expire()
            self.reporter.close(self.counts())
        batch = Batch(self.items, time.monotonic() - start)
        if raise_on_error and batch.failed:
            raise batch.results[batch.failed[0]]
        return batch

    def _expire(self) -> None:
        """At the deadline, after the pool stopped: every unfinished input gets its timeout error."""
        for it in self.items:
            if it.done:
                continue
            if it.job is not None:
                self._finish(it, error=WaitTimeout(it.job.id, self.timeout or 0.0, it.state))
            else:
                self._not_submitted(it)


def _label(audio: Any) -> str:
    """A short name for an input that was never prepared (never submitted)."""
    try:
        import os

        if isinstance(audio, (str, os.PathLike)):
            return os.path.basename(os.fspath(audio)) or str(audio)
    except TypeError:  # pragma: no cover
        pass
    return type(audio).__name__


def run_batch(
    session: Session,
    audios: list[Any],
    *,
    kind: str,
    options: Mapping[str, Any],
    client: Client,
    store: JobStore,
    max_concurrency: int = 8,
    raise_on_error: bool = False,
    progress: Any = None,
    timeout: float | None = None,
    force: bool = False,
    sample_rate: int | None = None,
) -> Batch:
    """Run a batch (see module docstring) and return a :class:`Batch`.

    ``raise_on_error=True`` raises the first failure in input order **after every input has
    finished** (nothing is abandoned half-way).

    ``timeout`` (seconds, ``None``: no limit) is a deadline for the whole call, counted from its
    start. At the deadline no new upload or job creation starts (queued inputs are cancelled); a
    submission already in flight may complete and is recorded (store and batch), so the call
    returns at the deadline plus at most the duration of the in-flight requests. Unfinished inputs
    then hold a :class:`WaitTimeout` naming their job id and last status (the job keeps running;
    run the same call again to re-attach), or a :class:`NotSubmitted` when no job was created for
    them (nothing billed; the summary's status says ``"not submitted"``).
    """
    runner = _Runner(session, audios, kind=kind, options=options, client=client, store=store,
                     max_concurrency=max_concurrency, progress=progress, timeout=timeout,
                     force=force, sample_rate=sample_rate)
    return runner.run(raise_on_error)

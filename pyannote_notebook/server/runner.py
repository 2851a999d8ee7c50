"""Job lifecycle of the local server: create, run on the engine, finish, expire, list.

Jobs live in memory (the server is a loopback emulator; a restart forgets them, as a cloud job
store outlives nothing here). Statuses go ``created`` -> ``running`` (when a worker picks the job
up) -> ``succeeded`` | ``failed`` | ``canceled``. ``output`` is deleted ``output_ttl`` seconds
after completion; the job itself stays readable. On a terminal status the webhook, if any, is
handed to :class:`~pyannote_notebook.server.delivery.WebhookDelivery`.

Audio inputs: ``media://`` keys resolve through :class:`~pyannote_notebook.server.storage.UploadStore`;
``http(s)`` URLs are downloaded (streamed, bounded by ``max_download_bytes`` and
``download_timeout`` in total: the transfer runs in a helper thread the worker waits on with the
time left, so a sender trickling bytes cannot hold a worker past the limit). Any failure there, or an :class:`~pyannote_notebook.errors.AudioError`
from the engine, fails the job with the cloud's text "Could not load audio".

Jobs belong to the API key that created them (``owner``, an
:func:`~pyannote_notebook.server.storage.owner_id`): their ``media://`` inputs resolve in that
key's namespace, and :meth:`JobRunner.get` / the list methods given an ``owner`` only see that
key's jobs. :meth:`JobRunner.snapshot` and the stats stay global (test assertions).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from ..errors import AudioError, EngineError, JobCanceled
from .delivery import WebhookDelivery
from .engines import JobEngine
from .scripted import DEFAULT_FAILURE
from .stats import ServerStats
from .storage import UploadStore, probe_duration

__all__ = ["JobRunner", "JobRecord", "iso_timestamp", "COULD_NOT_LOAD_AUDIO", "TERMINAL"]

log = logging.getLogger(__name__)

COULD_NOT_LOAD_AUDIO = "Could not load audio"
CANCELED_TEXT = "The job was canceled."
TERMINAL = frozenset({"succeeded", "failed", "canceled"})
DOWNLOAD_CHUNK = 1 << 16


def iso_timestamp(ts: float) -> str:
    """ISO-8601 UTC with milliseconds, e.g. ``"2026-11-24T04:03:16.123Z"``."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@dataclass
class JobRecord:
    """Server-side state of one job (times are epoch seconds)."""

    job_id: str
    kind: str
    seq: int
    url: str
    params: dict[str, Any]
    webhook: str | None
    webhook_status_only: bool
    created_at: float
    updated_at: float
    status: str = "created"
    started_at: float | None = None
    completed_at: float | None = None
    output: dict[str, Any] | None = None
    output_deleted: bool = False
    audio_duration: float | None = None
    owner: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class JobRunner:
    """Create and execute jobs on an engine with ``job_workers`` threads.

    Parameters
    ----------
    engine : JobEngine
        Runs the jobs.
    uploads : UploadStore
        Resolves ``media://`` URLs and holds temporary downloads.
    delivery : WebhookDelivery
        Sends webhooks on terminal statuses.
    stats : ServerStats
        Counts created jobs.
    output_ttl : float
        Seconds after completion before ``output`` is deleted.
    job_workers : int
        Jobs executing at once; further jobs wait in ``created``.
    max_download_bytes, download_timeout : int, float
        Limits of http(s) audio downloads (size, total seconds).
    clock : Callable[[], float]
        Time source (epoch seconds).
    """

    def __init__(self, engine: JobEngine, uploads: UploadStore, delivery: WebhookDelivery,
                 stats: ServerStats, *, output_ttl: float = 24 * 3600.0, job_workers: int = 2,
                 max_download_bytes: int = 1 << 30, download_timeout: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        if job_workers < 1:
            raise ValueError(f"job_workers must be >= 1, got {job_workers}")
        self.engine = engine
        self.uploads = uploads
        self.delivery = delivery
        self.stats = stats
        self.output_ttl = float(output_ttl)
        self.max_download_bytes = int(max_download_bytes)
        self.download_timeout = float(download_timeout)
        self._clock = clock
        self._jobs: dict[str, JobRecord] = {}
        self._order: list[JobRecord] = []
        self._cond = threading.Condition()
        self._active = 0
        self._stopping = False
        self._pool = ThreadPoolExecutor(max_workers=job_workers, thread_name_prefix="pyannote-job")

    # ------------------------------------------------------------------ create

    def create(self, kind: str, body: dict[str, Any], owner: str = "") -> JobRecord:
        """Register a validated job request (nulls already removed) of API key ``owner`` (an
        ``owner_id``) and queue it."""
        now = self._clock()
        params = {k: v for k, v in body.items() if k != "url"}
        with self._cond:
            job = JobRecord(
                job_id=str(uuid.uuid4()), kind=kind, seq=len(self._order), url=body["url"],
                params=params, webhook=body.get("webhook"),
                webhook_status_only=bool(body.get("webhookStatusOnly", False)),
                created_at=now, updated_at=now, owner=owner)
            self._jobs[job.job_id] = job
            self._order.append(job)
            self._active += 1
        self.stats.count_job(kind)
        try:
            self._pool.submit(self._execute, job)
        except RuntimeError:  # shutting down
            self._finish(job, "failed", {"error": "The server is shutting down."})
        return job

    # ------------------------------------------------------------------ execute

    def _execute(self, job: JobRecord) -> None:
        with self._cond:
            stopping = self._stopping
            if not stopping:
                job.status = "running"
                job.started_at = job.updated_at = self._clock()
        if stopping:
            self._finish(job, "failed", {"error": "The server is shutting down."})
            return
        cleanup: Path | None = None
        try:
            path, cleanup = self._fetch_audio(job.url, job.owner)
            job.audio_duration = probe_duration(path)
            kwargs: dict[str, Any] = {"audio_duration": job.audio_duration}
            if getattr(self.engine, "accepts_url", False):
                kwargs["url"] = job.url
            output = self.engine.run(job.kind, path, dict(job.params), **kwargs)
            if not isinstance(output, dict):
                raise EngineError(f"engine {getattr(self.engine, 'name', '?')} returned no output dict")
            self._finish(job, "succeeded", output)
        except JobCanceled as exc:
            self._finish(job, "canceled", {"error": exc.error or CANCELED_TEXT})
        except AudioError as exc:
            log.info("job %s: could not load audio: %s", job.job_id, exc)
            self._finish(job, "failed", {"error": COULD_NOT_LOAD_AUDIO})
        except EngineError as exc:
            self._finish(job, "failed", {"error": str(exc) or DEFAULT_FAILURE})
        except Exception:  # noqa: BLE001 - an engine bug fails the job, never the worker
            log.exception("job %s crashed in engine %s", job.job_id, getattr(self.engine, "name", "?"))
            self._finish(job, "failed", {"error": DEFAULT_FAILURE})
        finally:
            if cleanup is not None:
                cleanup.unlink(missing_ok=True)

    def _fetch_audio(self, url: str, owner: str) -> tuple[Path, Path | None]:
        """Return (local path, temporary file to delete or None). Raises AudioError."""
        if url.startswith("media://"):
            try:
                path = self.uploads.path_for(url, owner)
            except ValueError as exc:  # a job created without an owner (direct API use)
                raise AudioError(str(exc)) from exc
            if not path.is_file():
                raise AudioError(f"nothing was uploaded under {url}")
            return path, None
        target = self.uploads.new_download_path()
        try:
            self._download(url, target)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target, target

    def _download(self, url: str, target: Path) -> None:
        """Download ``url`` into ``target`` within ``download_timeout`` seconds in total.

        The transfer runs in a daemon helper thread; this worker waits for it at most
        ``download_timeout`` seconds. On expiry the transfer is abandoned: its socket is shut down
        (so a blocked read returns at once) and the helper stops before its next write and deletes
        what it wrote.

        Raises
        ------
        AudioError
            Non-2xx answer, more than ``max_download_bytes``, a network error, or the time limit.
        """
        transfer = _Transfer(url, target, self.max_download_bytes, self.download_timeout)
        helper = threading.Thread(target=transfer.run, name="pyannote-download", daemon=True)
        helper.start()
        if not transfer.done.wait(self.download_timeout):
            transfer.abandon()
            raise AudioError(f"download took longer than {self.download_timeout:g} s")
        if transfer.error is not None:
            raise transfer.error

    def _finish(self, job: JobRecord, status: str, output: dict[str, Any]) -> None:
        with self._cond:
            job.status = status
            job.output = output
            job.completed_at = job.updated_at = self._clock()
        if job.webhook:
            payload: dict[str, Any] = {"jobId": job.job_id, "status": status}
            if status == "succeeded" and not job.webhook_status_only:
                payload["output"] = output
            self.delivery.submit(job.webhook, payload)
        with self._cond:  # after the webhook is queued, so wait_idle() covers it
            self._active -= 1
            self._cond.notify_all()

    # ------------------------------------------------------------------ read

    def _expire(self, job: JobRecord, now: float) -> None:
        if (job.output is not None and job.completed_at is not None
                and now >= job.completed_at + self.output_ttl):
            job.output = None
            job.output_deleted = True

    def get(self, job_id: str, owner: str | None = None) -> dict[str, Any] | None:
        """The wire JSON of one job, or None when unknown (or, with ``owner``, another key's)."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None or (owner is not None and job.owner != owner):
                return None
            self._expire(job, self._clock())
            data: dict[str, Any] = {
                "jobId": job.job_id, "status": job.status,
                "createdAt": iso_timestamp(job.created_at), "updatedAt": iso_timestamp(job.updated_at),
            }
            if job.output is not None:
                data["output"] = job.output
            return data

    def _filtered(self, status: str | None, owner: str | None) -> list[JobRecord]:
        jobs = reversed(self._order)
        return [j for j in jobs
                if (status is None or j.status == status) and (owner is None or j.owner == owner)]

    @staticmethod
    def _item(job: JobRecord) -> dict[str, Any]:
        return {"id": job.job_id, "status": job.status, "createdAt": iso_timestamp(job.created_at)}

    def list_v2(self, limit: int = 10, cursor: str | None = None, status: str | None = None,
                owner: str | None = None) -> dict[str, Any]:
        """``GET /v2/jobs``: newest first, ``limit`` items after ``cursor`` (a job id); with
        ``owner``, only that key's jobs.

        Raises
        ------
        KeyError
            ``cursor`` is not a known job id (of ``owner``).
        """
        with self._cond:
            jobs = self._filtered(status, owner)
            if cursor is not None:
                anchor = self._jobs.get(cursor)
                if anchor is None or (owner is not None and anchor.owner != owner):
                    raise KeyError(cursor)
                jobs = [j for j in jobs if j.seq < anchor.seq]
            page = jobs[:limit]
            more = len(jobs) > limit
            return {"items": [self._item(j) for j in page],
                    "nextCursor": page[-1].job_id if more and page else None}

    def list_v1(self, take: int = 10, skip: int = 0, status: str | None = None,
                owner: str | None = None) -> dict[str, Any]:
        """``GET /v1/jobs``: newest first, ``take`` items after skipping ``skip``; with ``total``;
        with ``owner``, only that key's jobs."""
        with self._cond:
            jobs = self._filtered(status, owner)
            return {"items": [self._item(j) for j in jobs[skip:skip + take]], "total": len(jobs)}

    def snapshot(self) -> list[dict[str, Any]]:
        """Every job, oldest first, as plain dicts for assertions (times: ISO strings and epoch)."""
        with self._cond:
            now = self._clock()
            out = []
            for job in self._order:
                self._expire(job, now)
                out.append({
                    "job_id": job.job_id, "owner": job.owner, "kind": job.kind, "status": job.status, "url": job.url,
                    "params": dict(job.params), "webhook": job.webhook,
                    "created_at": iso_timestamp(job.created_at), "updated_at": iso_timestamp(job.updated_at),
                    "created_ts": job.created_at, "started_ts": job.started_at,
                    "completed_ts": job.completed_at, "audio_duration": job.audio_duration,
                    "has_output": job.output is not None, "output_deleted": job.output_deleted,
                    "output": job.output,
                })
            return out

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job is created/running; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._active == 0, timeout)

    # ------------------------------------------------------------------ stop

    def stop(self, *, wait: bool = True) -> None:
        """Stop taking jobs, wake scripted sleepers, drop queued jobs and wait for running ones.

        ``wait=False`` (at interpreter exit) returns at once; a job the local engine is
        computing still finishes before the process ends.
        """
        with self._cond:
            self._stopping = True
        interrupt = getattr(self.engine, "interrupt", None)
        if callable(interrupt):
            interrupt()
        self._pool.shutdown(wait=wait, cancel_futures=True)


class _Transfer:
    """One http(s) download run by a helper thread (see :meth:`JobRunner._download`).

    Reads with ``read1`` (whatever has arrived, up to a chunk) so the abandon flag is checked
    after every network read, not every 64 KiB. The outcome is in ``error`` (None = the file is
    complete) once ``done`` is set.
    """

    def __init__(self, url: str, target: Path, limit: int, timeout: float) -> None:
        self.url = url
        self.target = target
        self.limit = limit
        self.timeout = timeout
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._abandoned = threading.Event()
        self._lock = threading.Lock()
        self._response: requests.Response | None = None

    def run(self) -> None:
        try:
            self._transfer()
        except requests.RequestException as exc:
            self.error = AudioError(f"download failed: {type(exc).__name__}")
        except (AudioError, OSError, ValueError) as exc:  # ValueError: write to a closed file
            self.error = exc if isinstance(exc, AudioError) else AudioError(f"download failed: {exc}")
        except BaseException as exc:  # noqa: BLE001 - reported to the worker, never lost
            self.error = exc
        finally:
            if self._abandoned.is_set():
                self.target.unlink(missing_ok=True)
            self.done.set()

    def _transfer(self) -> None:
        with requests.get(self.url, stream=True, timeout=self.timeout) as response:
            with self._lock:
                self._response = response
                if self._abandoned.is_set():
                    return
            if not 200 <= response.status_code < 300:
                raise AudioError(f"download answered HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.limit:
                raise AudioError(f"file of {declared} bytes exceeds {self.limit} bytes")
            size = 0
            with open(self.target, "wb") as out:
                while not self._abandoned.is_set():
                    chunk = response.raw.read1(DOWNLOAD_CHUNK, decode_content=True)
                    if not chunk:
                        return
                    size += len(chunk)
                    if size > self.limit:
                        raise AudioError(f"file exceeds {self.limit} bytes")
                    if self._abandoned.is_set():
                        return
                    out.write(chunk)

    def abandon(self) -> None:
        """Give up: the helper stops at its next read and deletes its file. Never raises."""
        self._abandoned.set()
        with self._lock:
            response = self._response
        if response is None:
            return  # still connecting: bounded by the connect/read timeout, then it sees the flag
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv at once
            except OSError:
                pass

"""Job lifecycle of the local server: create, run on the engine, finish, expire, list.

Jobs live in memory (the server is a loopback emulator; a restart forgets them, as a cloud job
store outlives nothing here). Statuses go ``created`` -> ``running`` (when a worker picks the job
up) -> ``succeeded`` | ``failed`` | ``canceled``. ``output`` is deleted ``output_ttl`` seconds
after completion; the job itself stays readable. On a terminal status the webhook, if any, is
handed to :class:`~pyannote_notebook.server.delivery.WebhookDelivery`.

Audio inputs: ``media://`` keys resolve through :class:`~pyannote_notebook.server.storage.UploadStore`;
``http(s)`` URLs are downloaded (streamed, bounded by ``max_download_bytes`` and
``download_timeout`` in total). Any failure there, or an :class:`~pyannote_notebook.errors.AudioError`
from the engine, fails the job with the cloud's text "Could not load audio".
"""

from __future__ import annotations

import logging
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

    def create(self, kind: str, body: dict[str, Any]) -> JobRecord:
        """Register a validated job request (nulls already removed) and queue it."""
        now = self._clock()
        params = {k: v for k, v in body.items() if k != "url"}
        with self._cond:
            job = JobRecord(
                job_id=str(uuid.uuid4()), kind=kind, seq=len(self._order), url=body["url"],
                params=params, webhook=body.get("webhook"),
                webhook_status_only=bool(body.get("webhookStatusOnly", False)),
                created_at=now, updated_at=now)
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
            path, cleanup = self._fetch_audio(job.url)
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

    def _fetch_audio(self, url: str) -> tuple[Path, Path | None]:
        """Return (local path, temporary file to delete or None). Raises AudioError."""
        if url.startswith("media://"):
            path = self.uploads.path_for(url)
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
        deadline = time.monotonic() + self.download_timeout
        limit = self.max_download_bytes
        try:
            with requests.get(url, stream=True, timeout=self.download_timeout) as response:
                if not 200 <= response.status_code < 300:
                    raise AudioError(f"download answered HTTP {response.status_code}")
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise AudioError(f"file of {declared} bytes exceeds {limit} bytes")
                size = 0
                with open(target, "wb") as out:
                    for chunk in response.iter_content(DOWNLOAD_CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise AudioError(f"file exceeds {limit} bytes")
                        if time.monotonic() > deadline:
                            raise AudioError(f"download took longer than {self.download_timeout:g} s")
                        out.write(chunk)
        except requests.RequestException as exc:
            raise AudioError(f"download failed: {type(exc).__name__}") from exc

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

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The wire JSON of one job, or None when unknown."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            self._expire(job, self._clock())
            data: dict[str, Any] = {
                "jobId": job.job_id, "status": job.status,
                "createdAt": iso_timestamp(job.created_at), "updatedAt": iso_timestamp(job.updated_at),
            }
            if job.output is not None:
                data["output"] = job.output
            return data

    def _filtered(self, status: str | None) -> list[JobRecord]:
        jobs = reversed(self._order)
        return [j for j in jobs if status is None or j.status == status]

    @staticmethod
    def _item(job: JobRecord) -> dict[str, Any]:
        return {"id": job.job_id, "status": job.status, "createdAt": iso_timestamp(job.created_at)}

    def list_v2(self, limit: int = 10, cursor: str | None = None, status: str | None = None) -> dict[str, Any]:
        """``GET /v2/jobs``: newest first, ``limit`` items after ``cursor`` (a job id).

        Raises
        ------
        KeyError
            ``cursor`` is not a known job id.
        """
        with self._cond:
            jobs = self._filtered(status)
            if cursor is not None:
                anchor = self._jobs.get(cursor)
                if anchor is None:
                    raise KeyError(cursor)
                jobs = [j for j in jobs if j.seq < anchor.seq]
            page = jobs[:limit]
            more = len(jobs) > limit
            return {"items": [self._item(j) for j in page],
                    "nextCursor": page[-1].job_id if more and page else None}

    def list_v1(self, take: int = 10, skip: int = 0, status: str | None = None) -> dict[str, Any]:
        """``GET /v1/jobs``: newest first, ``take`` items after skipping ``skip``; with ``total``."""
        with self._cond:
            jobs = self._filtered(status)
            return {"items": [self._item(j) for j in jobs[skip:skip + take]], "total": len(jobs)}

    def snapshot(self) -> list[dict[str, Any]]:
        """Every job, oldest first, as plain dicts for assertions (times: ISO strings and epoch)."""
        with self._cond:
            now = self._clock()
            out = []
            for job in self._order:
                self._expire(job, now)
                out.append({
                    "job_id": job.job_id, "kind": job.kind, "status": job.status, "url": job.url,
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

    def stop(self) -> None:
        """Stop taking jobs, wake scripted sleepers, wait for running jobs, drop queued ones."""
        with self._cond:
            self._stopping = True
        interrupt = getattr(self.engine, "interrupt", None)
        if callable(interrupt):
            interrupt()
        self._pool.shutdown(wait=True, cancel_futures=True)

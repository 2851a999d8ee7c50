"""Local SQLite job store: every job id, upload and raw output, kept across kernel restarts.

Why hand-written: the store is a thin layer over the stdlib :mod:`sqlite3` (no ORM needed for three
tables), but it carries three rules that no library gives for free:

* **monotonic status**: a job's status never goes backwards (``succeeded`` stays ``succeeded``,
  a stored output is never replaced by ``None``), whatever order updates arrive in (polls, webhooks,
  two kernels);
* **safe concurrency**: one file shared by threads and processes (WAL journal, ``busy_timeout``,
  ``BEGIN IMMEDIATE`` for read-modify-write, and a retry with backoff so that "database is locked"
  never reaches the user);
* **versioned schema**: ``PRAGMA user_version`` plus an ordered list of migrations
  (:data:`MIGRATIONS`); opening a file applies the missing steps in one transaction each;
* **one submission per content address**: :meth:`JobStore.claim` atomically claims a content key
  (``claims`` table, schema v2) so that two threads or processes submitting the same audio with the
  same options create ONE paid job: the first claims and submits, the others wait for its job row
  and re-attach. A claim whose owner died is taken over after ``claim_ttl`` seconds (600 by
  default), or at once when the owner was a process on this host that no longer exists.

The API key is never written here: rows hold job ids, URLs without query strings, hashes,
options and outputs only.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from ..config import default_store_path
from ..errors import StoreError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "DEFAULT_CLAIM_TTL",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TERMINAL_STATUSES",
    "JobRecord",
    "JobStore",
    "content_key",
    "new_claim_owner",
    "status_rank",
]

#: Statuses after which nothing changes any more.
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})
_RANK = {"created": 0, "pending": 0, "running": 1, "succeeded": 2, "failed": 2, "canceled": 2}

#: Default validity of an uploaded ``media://`` copy (the service keeps uploads >= 24 h).
DEFAULT_UPLOAD_TTL = 24 * 3600.0

#: Default age (s) after which a submission claim is considered dead (its owner crashed).
DEFAULT_CLAIM_TTL = 600.0

#: Statuses a reusable job row can have (failed/canceled jobs are submitted again).
_REUSABLE = "status NOT IN ('failed', 'canceled')"


def status_rank(status: str | None) -> int:
    """Order of a status in the job lifecycle (unknown and ``None`` rank lowest)."""
    return _RANK.get(status or "", -1)


def content_key(base_url: str, kind: str, audio_hash: str, options_canonical: str) -> str:
    """Content address of a submission: ``sha256(base_url|kind|audio_hash|options)`` in hex.

    Two submissions with the same key would produce the same result on the same service, so the
    second one re-attaches to the first instead of paying again.
    """
    text = "|".join([base_url.rstrip("/"), kind, audio_hash, options_canonical])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- schema migrations


def _migrate_v0_to_v1(con: sqlite3.Connection) -> None:
    con.execute(
        """CREATE TABLE IF NOT EXISTS jobs (
            job_id TEXT PRIMARY KEY,
            kind TEXT,
            base_url TEXT,
            media_url TEXT,
            audio_hash TEXT,
            audio_name TEXT,
            options_json TEXT,
            key TEXT,
            status TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            output_json TEXT,
            error TEXT,
            submitted_at REAL,
            finished_at REAL
        )"""
    )
    con.execute("CREATE INDEX IF NOT EXISTS jobs_key ON jobs(key)")
    con.execute("CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status)")
    con.execute(
        """CREATE TABLE IF NOT EXISTS uploads (
            audio_hash TEXT NOT NULL,
            base_url TEXT NOT NULL,
            media_url TEXT NOT NULL,
            size INTEGER,
            uploaded_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (audio_hash, base_url)
        )"""
    )
    con.execute(
        """CREATE TABLE IF NOT EXISTS webhook_events (
            job_id TEXT NOT NULL,
            status TEXT NOT NULL,
            received_at REAL NOT NULL,
            PRIMARY KEY (job_id, status)
        )"""
    )


def _migrate_v1_to_v2(con: sqlite3.Connection) -> None:
    # one row per content key being submitted right now (see JobStore.claim)
    con.execute(
        """CREATE TABLE IF NOT EXISTS claims (
            key TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            claimed_at REAL NOT NULL
        )"""
    )


#: ``MIGRATIONS[i]`` upgrades a file from ``user_version == i`` to ``i + 1``. Append new steps;
#: never edit a released one. Each runs inside its own ``BEGIN IMMEDIATE`` transaction.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_v0_to_v1, _migrate_v1_to_v2]
SCHEMA_VERSION = len(MIGRATIONS)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class JobRecord:
    """One row of the ``jobs`` table, decoded.

    ``output`` is the raw output JSON decoded (``None`` until first seen); ``output_json`` the
    verbatim text stored.
    """

    job_id: str
    kind: str | None
    base_url: str | None
    media_url: str | None
    audio_hash: str | None
    audio_name: str | None
    options_json: str | None
    key: str | None
    status: str
    created_at: float
    updated_at: float
    output_json: str | None
    error: str | None
    submitted_at: float | None
    finished_at: float | None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def output(self) -> dict[str, Any] | None:
        """The stored output, decoded (``None`` when not seen yet)."""
        if self.output_json is None:
            return None
        if "output" not in self._cache:
            self._cache["output"] = json.loads(self.output_json)
        return self._cache["output"]

    @property
    def options(self) -> dict[str, Any]:
        """The canonical options the job was submitted with (``{}`` when unknown)."""
        return json.loads(self.options_json) if self.options_json else {}

    @property
    def done(self) -> bool:
        """Whether the job reached a terminal status."""
        return self.status in TERMINAL_STATUSES


_JOB_COLUMNS = (
    "job_id", "kind", "base_url", "media_url", "audio_hash", "audio_name", "options_json", "key",
    "status", "created_at", "updated_at", "output_json", "error", "submitted_at", "finished_at",
)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _process_prefix() -> str:
    """``host:pid:``: the start of every claim owner id of this process."""
    return f"{socket.gethostname()}:{os.getpid()}:"


def new_claim_owner() -> str:
    """A unique claim owner id: ``host:pid:uuid`` (host and pid let a crashed owner be detected)."""
    return f"{_process_prefix()}{uuid.uuid4().hex}"


def _owner_is_dead(owner: str) -> bool:
    """True when ``owner`` names a process on this host that no longer exists (POSIX only)."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or os.name != "posix" or parts[0] != socket.gethostname():
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. PermissionError: it exists under another user
        return False
    return False


def _dump_output(output: Any) -> str:
    return json.dumps(output, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _error_of(status: str | None, output: Mapping[str, Any] | None) -> str | None:
    if status in ("failed", "canceled") and isinstance(output, Mapping):
        err = output.get("error")
        return str(err) if err is not None else None
    return None


class JobStore:
    """A SQLite file recording jobs, uploads and webhook deliveries.

    Parameters
    ----------
    path : str or PathLike, optional
        The database file. Default: ``PYANNOTE_NOTEBOOK_STORE``, else
        ``~/.cache/pyannote-notebook/jobs.sqlite3`` (see :func:`config.default_store_path`);
        ``":memory:"`` keeps everything in memory (one connection, tests only).
    busy_timeout : float
        Seconds SQLite itself waits on a lock held by another connection.
    max_wait : float
        Total seconds a write keeps retrying (with jittered backoff) while the file stays locked,
        before raising :class:`~pyannote_notebook.errors.StoreError`.
    claim_ttl : float
        Age (s) after which a submission claim (:meth:`claim`) is considered abandoned and may be
        taken over. A process that crashes while submitting therefore delays other processes on
        other hosts submitting the same content by at most ``claim_ttl`` (on the same host, a
        dead owner process is detected at once).

    Notes
    -----
    One connection per thread (and per process: a forked child opens its own). Every write is a
    short transaction; read-modify-write steps use ``BEGIN IMMEDIATE`` so two processes cannot
    lose each other's updates. Failure to open, migrate or write raises ``StoreError`` naming the
    file and what to do.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        busy_timeout: float = 5.0,
        max_wait: float = 60.0,
        claim_ttl: float = DEFAULT_CLAIM_TTL,
    ) -> None:
        self._memory = str(path) == ":memory:"
        self.path: Path = Path(":memory:") if self._memory else default_store_path(path)
        self.busy_timeout = float(busy_timeout)
        self.max_wait = float(max_wait)
        self.claim_ttl = float(claim_ttl)
        self._local = threading.local()
        self._lock = threading.RLock() if self._memory else None
        self._memory_con: sqlite3.Connection | None = None
        if not self._memory:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the folder of the job store {self.path}: {exc}. Set "
                    "PYANNOTE_NOTEBOOK_STORE or pass store= to a writable path"
                ) from exc
        self._migrate()

    def __repr__(self) -> str:
        return f"JobStore({str(self.path)!r})"

    # ------------------------------------------------------------------ connections

    def _connect(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(
                str(self.path),
                timeout=self.busy_timeout,
                isolation_level=None,  # autocommit; transactions are explicit
                check_same_thread=not self._memory,
            )
            con.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            if not self._memory:
                self._retry(lambda: con.execute("PRAGMA journal_mode = WAL"))
                con.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the job store {self.path}: {exc}. Check the path is a writable "
                "SQLite file (PYANNOTE_NOTEBOOK_STORE or store=)"
            ) from exc
        return con

    def _con(self) -> sqlite3.Connection:
        if self._memory:
            if self._memory_con is None:
                self._memory_con = self._connect()
            return self._memory_con
        local = self._local
        con = getattr(local, "con", None)
        if con is None or getattr(local, "pid", None) != os.getpid():
            con = self._connect()
            local.con = con
            local.pid = os.getpid()
        return con

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        con = self._memory_con if self._memory else getattr(self._local, "con", None)
        if con is not None:
            con.close()
        if self._memory:
            self._memory_con = None
        else:
            self._local.con = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions

    def _retry(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` and retry while SQLite reports a lock, with jittered backoff."""
        deadline = time.monotonic() + self.max_wait
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise StoreError(
                        f"job store {self.path} stayed locked for {self.max_wait:g} s ({exc}); "
                        "another process holds it: retry later"
                        if _is_busy(exc)
                        else f"job store {self.path}: {exc}"
                    ) from exc
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.25)

    @contextmanager
    def _lock_ctx(self) -> Iterator[None]:
        if self._lock is None:
            yield
        else:
            with self._lock:
                yield

    def _transaction(self, fn: Callable[[sqlite3.Connection], Any], *, write: bool = True) -> Any:
        """Run ``fn(con)`` inside ``BEGIN IMMEDIATE`` (or a plain read), retrying on locks."""

        def attempt() -> Any:
            con = self._con()
            if not write:
                return fn(con)
            con.execute("BEGIN IMMEDIATE")
            try:
                result = fn(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            return result

        with self._lock_ctx():
            try:
                return self._retry(attempt)
            except sqlite3.Error as exc:
                raise StoreError(f"job store {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        def step(con: sqlite3.Connection) -> bool:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"job store {self.path} has schema version {version}, newer than this "
                    f"pyannote-notebook understands ({len(MIGRATIONS)}): upgrade the package or "
                    "use another store path"
                )
            if version == len(MIGRATIONS):
                return False
            MIGRATIONS[version](con)
            con.execute(f"PRAGMA user_version = {version + 1}")
            return True

        while self._transaction(step):
            pass

    @property
    def schema_version(self) -> int:
        """The file's ``PRAGMA user_version``."""
        return self._transaction(
            lambda con: con.execute("PRAGMA user_version").fetchone()[0], write=False
        )

    # ------------------------------------------------------------------ jobs

    @staticmethod
    def _row(row: Sequence[Any] | None) -> JobRecord | None:
        if row is None:
            return None
        return JobRecord(*row)

    def record_submission(
        self,
        job_id: str,
        *,
        kind: str,
        base_url: str,
        media_url: str | None = None,
        audio_hash: str | None = None,
        audio_name: str | None = None,
        options_json: str | None = None,
        key: str | None = None,
        status: str = "created",
        now: float | None = None,
    ) -> JobRecord:
        """Insert a freshly created job, or fill in the metadata of a row a listener already wrote.

        Never lowers a status already stored (a fast job may have finished before this call).
        When ``key`` is given, the submission claim on it (:meth:`claim`) is released in the same
        transaction. Raises ``StoreError`` when the file cannot be written.
        """
        now = time.time() if now is None else now

        def fn(con: sqlite3.Connection) -> JobRecord:
            cur = con.execute("SELECT status FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if cur is None:
                con.execute(
                    "INSERT INTO jobs (job_id, kind, base_url, media_url, audio_hash, audio_name,"
                    " options_json, key, status, created_at, updated_at, submitted_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (job_id, kind, base_url, media_url, audio_hash, audio_name, options_json, key,
                     status, now, now, now),
                )
            else:
                new_status = status if status_rank(status) > status_rank(cur[0]) else cur[0]
                con.execute(
                    "UPDATE jobs SET kind = COALESCE(?, kind), base_url = COALESCE(?, base_url),"
                    " media_url = COALESCE(?, media_url), audio_hash = COALESCE(?, audio_hash),"
                    " audio_name = COALESCE(?, audio_name),"
                    " options_json = COALESCE(?, options_json), key = COALESCE(?, key),"
                    " status = ?, updated_at = ?, submitted_at = COALESCE(submitted_at, ?)"
                    " WHERE job_id = ?",
                    (kind, base_url, media_url, audio_hash, audio_name, options_json, key,
                     new_status, now, now, job_id),
                )
            if key is not None:  # the job row now answers waiters: the claim is done
                con.execute("DELETE FROM claims WHERE key = ?", (key,))
            return self._row(
                con.execute(
                    f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs WHERE job_id = ?", (job_id,)
                ).fetchone()
            )  # type: ignore[return-value]

        return self._transaction(fn)

    @staticmethod
    def _apply_status(
        con: sqlite3.Connection,
        job_id: str,
        status: str,
        output: Mapping[str, Any] | None,
        now: float,
        *,
        kind: str | None = None,
        base_url: str | None = None,
    ) -> bool:
        """Monotonic status/output update inside an open transaction; True when a row changed."""
        row = con.execute(
            "SELECT status, output_json IS NOT NULL FROM jobs WHERE job_id = ?", (job_id,)
        ).fetchone()
        out_text = _dump_output(output) if output is not None else None
        error = _error_of(status, output)
        finished = now if status in TERMINAL_STATUSES else None
        if row is None:
            con.execute(
                "INSERT INTO jobs (job_id, kind, base_url, status, created_at, updated_at,"
                " output_json, error, finished_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (job_id, kind, base_url, status, now, now, out_text, error, finished),
            )
            return True
        old_status, has_output = row
        changed = False
        if status_rank(status) > status_rank(old_status):
            con.execute(
                "UPDATE jobs SET status = ?, updated_at = ?, finished_at = COALESCE(finished_at, ?),"
                " error = COALESCE(error, ?) WHERE job_id = ?",
                (status, now, finished, error, job_id),
            )
            if status == "failed":
                # the upload it read may be gone (server restarted, other API key, expired
                # early): never hand that media:// url out again; the next attempt re-uploads
                con.execute("DELETE FROM uploads WHERE media_url ="
                            " (SELECT media_url FROM jobs WHERE job_id = ?)", (job_id,))
            changed = True
        elif status == old_status and error is not None:
            con.execute("UPDATE jobs SET error = COALESCE(error, ?) WHERE job_id = ?",
                        (error, job_id))
        # the output is stored the first time it is seen, and only for the status the row holds
        effective = status if status_rank(status) > status_rank(old_status) else old_status
        if out_text is not None and not has_output and effective == status:
            con.execute(
                "UPDATE jobs SET output_json = ?, updated_at = ? WHERE job_id = ?",
                (out_text, now, job_id),
            )
            changed = True
        return changed

    def update(
        self,
        job_id: str,
        status: str,
        output: Mapping[str, Any] | None = None,
        *,
        now: float | None = None,
    ) -> bool:
        """Record a status (and output) seen for ``job_id``; monotonic; True if the row changed.

        A status lower than the stored one is ignored; an output already stored is never
        replaced. An unknown job gets a minimal row. Raises ``StoreError`` on write failure.
        """
        now = time.time() if now is None else now
        return bool(self._transaction(lambda con: self._apply_status(con, job_id, status, output, now)))

    def record_info(self, info: Any) -> None:
        """Client listener: record a :class:`pyannote_notebook.api.JobInfo` (or a job dict).

        Register with ``client.listeners.append(store.record_info)``. Accepts objects with
        ``job_id``/``status``/``output`` attributes, or dicts shaped like the API's job JSON
        (``jobId``/``id``, ``status``, ``output``).
        """
        if isinstance(info, Mapping):
            job_id = info.get("jobId") or info.get("job_id") or info.get("id")
            status = info.get("status")
            output = info.get("output")
        else:
            job_id = getattr(info, "job_id", None)
            status = getattr(info, "status", None)
            output = getattr(info, "output", None)
        if not job_id or not status:
            return
        self.update(str(job_id), str(status), output if isinstance(output, Mapping) else None)

    def get(self, job_id: str) -> JobRecord | None:
        """The stored row of ``job_id``, or ``None``."""
        return self._transaction(
            lambda con: self._row(
                con.execute(
                    f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs WHERE job_id = ?", (job_id,)
                ).fetchone()
            ),
            write=False,
        )

    def get_many(self, job_ids: Sequence[str]) -> dict[str, JobRecord]:
        """Rows of several jobs at once (missing ids are absent from the result)."""
        ids = list(job_ids)
        out: dict[str, JobRecord] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))

            def fn(con: sqlite3.Connection, chunk: list[str] = chunk, marks: str = marks) -> list:
                return con.execute(
                    f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs WHERE job_id IN ({marks})", chunk
                ).fetchall()

            for row in self._transaction(fn, write=False):
                rec = JobRecord(*row)
                out[rec.job_id] = rec
        return out

    def find(self, key: str) -> JobRecord | None:
        """The most recent reusable job with content address ``key`` (not failed/canceled)."""
        return self._transaction(
            lambda con: self._row(
                con.execute(
                    f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs WHERE key = ?"
                    f" AND {_REUSABLE}"
                    " ORDER BY (status = 'succeeded') DESC, created_at DESC LIMIT 1",
                    (key,),
                ).fetchone()
            ),
            write=False,
        )

    # ------------------------------------------------------------------ submission claims

    def claim(self, key: str, owner: str, ttl: float | None = None, *,
              now: float | None = None) -> str:
        """Try to become the one submitter of content address ``key``; one atomic transaction.

        Parameters
        ----------
        key : str
            The content address (:func:`content_key`).
        owner : str
            Who claims (:func:`new_claim_owner`: ``host:pid:uuid``).
        ttl : float, optional
            Age (s) after which another owner's claim is considered dead (default
            :attr:`claim_ttl`).

        Returns
        -------
        str
            ``"job"`` when a reusable job row (not failed/canceled) with this key exists: re-attach
            to it (:meth:`find`), nothing claimed. ``"claimed"`` when ``owner`` now holds the claim
            (new, already its own, or taken over from an owner whose claim is older than ``ttl`` or
            whose process on this host is gone). ``"busy"`` when a live claim of another owner
            exists: poll again later (its job row appears, or its claim is released or expires).

        Raises ``StoreError`` when the file cannot be written.
        """
        ttl = self.claim_ttl if ttl is None else float(ttl)

        def fn(con: sqlite3.Connection) -> str:
            t = time.time() if now is None else now
            if con.execute(f"SELECT 1 FROM jobs WHERE key = ? AND {_REUSABLE} LIMIT 1",
                           (key,)).fetchone():
                return "job"
            row = con.execute("SELECT owner, claimed_at FROM claims WHERE key = ?",
                              (key,)).fetchone()
            if row is not None and row[0] != owner and t - row[1] < ttl \
                    and not _owner_is_dead(row[0]):
                return "busy"
            con.execute("INSERT OR REPLACE INTO claims (key, owner, claimed_at) VALUES (?,?,?)",
                        (key, owner, t))
            return "claimed"

        return str(self._transaction(fn))

    def release(self, key: str, owner: str) -> bool:
        """Drop ``owner``'s claim on ``key`` (no-op when it holds none); True if one was dropped."""
        return bool(self._transaction(
            lambda con: con.execute("DELETE FROM claims WHERE key = ? AND owner = ?",
                                    (key, owner)).rowcount
        ))

    # ------------------------------------------------------------------ reconciliation witness

    def known_job_ids(self, since: float) -> set[str]:
        """Ids of jobs recorded here since ``since`` (epoch s, minus a minute of clock slack):
        jobs of other kernels sharing this file, which a client reconciling a lost create answer
        must not adopt (:attr:`pyannote_notebook.api.Client.witnesses`)."""
        return self._transaction(
            lambda con: {r[0] for r in con.execute(
                "SELECT job_id FROM jobs WHERE created_at >= ?", (since - 60.0,)).fetchall()},
            write=False,
        )

    def rival_creates(self, since: float) -> int:
        """Submission claims held by other processes (live ones): jobs they may be creating
        right now, indistinguishable in the service's listing from this process's own."""
        me = _process_prefix()
        return sum(1 for _key, owner, _t in self.claims()
                   if not owner.startswith(me) and not _owner_is_dead(owner))

    def claims(self) -> list[tuple[str, str, float]]:
        """Every live-or-stale submission claim as (key, owner, claimed_at)."""
        return self._transaction(
            lambda con: [tuple(r) for r in con.execute(
                "SELECT key, owner, claimed_at FROM claims ORDER BY claimed_at").fetchall()],
            write=False,
        )

    def list(self, status: str | Sequence[str] | None = None) -> list[JobRecord]:
        """All stored jobs (newest first), optionally only those with the given status(es)."""
        statuses = [status] if isinstance(status, str) else list(status or [])
        where = f" WHERE status IN ({','.join('?' * len(statuses))})" if statuses else ""
        return self._transaction(
            lambda con: [
                JobRecord(*row)
                for row in con.execute(
                    f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs{where}"
                    " ORDER BY created_at DESC, rowid DESC",
                    statuses,
                ).fetchall()
            ],
            write=False,
        )

    def dataframe(self, status: str | Sequence[str] | None = None) -> pd.DataFrame:
        """The stored jobs as a DataFrame (one row per job, newest first, times as UTC datetimes).

        Columns: job_id, kind, status, audio_name, media_url, created_at, updated_at,
        finished_at, error, has_output, options, base_url.
        """
        import pandas as pd

        rows = self.list(status)
        cols: dict[str, list[Any]] = {
            "job_id": [r.job_id for r in rows],
            "kind": [r.kind for r in rows],
            "status": [r.status for r in rows],
            "audio_name": [r.audio_name for r in rows],
            "media_url": [r.media_url for r in rows],
            "created_at": [r.created_at for r in rows],
            "updated_at": [r.updated_at for r in rows],
            "finished_at": [r.finished_at for r in rows],
            "error": [r.error for r in rows],
            "has_output": [r.output_json is not None for r in rows],
            "options": [r.options_json for r in rows],
            "base_url": [r.base_url for r in rows],
        }
        df = pd.DataFrame(cols)
        for col in ("created_at", "updated_at", "finished_at"):
            df[col] = pd.to_datetime(df[col].astype("float64"), unit="s", utc=True)
        return df

    # ------------------------------------------------------------------ uploads

    def record_upload(
        self,
        audio_hash: str,
        base_url: str,
        media_url: str,
        *,
        size: int | None = None,
        ttl: float = DEFAULT_UPLOAD_TTL,
        now: float | None = None,
    ) -> None:
        """Remember that ``audio_hash`` is available at ``media_url`` on ``base_url`` for ``ttl`` s."""
        now = time.time() if now is None else now
        self._transaction(
            lambda con: con.execute(
                "INSERT OR REPLACE INTO uploads (audio_hash, base_url, media_url, size,"
                " uploaded_at, expires_at) VALUES (?,?,?,?,?,?)",
                (audio_hash, base_url.rstrip("/"), media_url, size, now, now + ttl),
            )
        )

    def find_upload(self, audio_hash: str, base_url: str, *, now: float | None = None,
                    margin: float = 3600.0) -> str | None:
        """A ``media://`` url holding this content that stays valid ``margin`` s more, or None."""
        now = time.time() if now is None else now
        row = self._transaction(
            lambda con: con.execute(
                "SELECT media_url FROM uploads WHERE audio_hash = ? AND base_url = ?"
                " AND expires_at > ?",
                (audio_hash, base_url.rstrip("/"), now + margin),
            ).fetchone(),
            write=False,
        )
        return row[0] if row else None

    # ------------------------------------------------------------------ webhooks

    def apply_webhook(
        self, job_id: str, status: str, output: Mapping[str, Any] | None = None,
        *, now: float | None = None,
    ) -> bool:
        """Record a webhook delivery; False (and nothing written) if (job, status) was seen before.

        The de-duplication event and the job update are one transaction: a delivery that fails
        half-way leaves no trace, so the sender's retry is processed normally.
        """
        now = time.time() if now is None else now

        def fn(con: sqlite3.Connection) -> bool:
            cur = con.execute(
                "INSERT OR IGNORE INTO webhook_events (job_id, status, received_at) VALUES (?,?,?)",
                (job_id, status, now),
            )
            if cur.rowcount == 0:
                return False
            self._apply_status(con, job_id, status, output, now)
            return True

        return bool(self._transaction(fn))

    def webhook_events(self) -> list[tuple[str, str, float]]:
        """All recorded webhook deliveries as (job_id, status, received_at)."""
        return self._transaction(
            lambda con: [tuple(r) for r in con.execute(
                "SELECT job_id, status, received_at FROM webhook_events ORDER BY received_at"
            ).fetchall()],
            write=False,
        )

    def counts(self) -> dict[str, int]:
        """Number of rows per table (handy in tests and diagnostics)."""

        def fn(con: sqlite3.Connection) -> dict[str, int]:
            return {
                table: con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("jobs", "uploads", "webhook_events")
            }

        return self._transaction(fn, write=False)

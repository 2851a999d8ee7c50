"""The face a notebook uses: ``diarize``, ``submit``, ``diarize_many``, ``job``, ``jobs``...

A :class:`Session` holds a client, a store and settings; the module-level functions use a default
session that :func:`configure` changes. Every submission is content-addressed
(``sha256(base_url | kind | audio hash | canonical options)``): when the store already knows the
same submission, it re-attaches to that job (running) or returns its stored output (finished)
**without any request**; ``force=True`` submits again. An upload is reused while its ``media://``
copy is valid.

Concurrent submissions of the same content (threads, or processes sharing one store file) create
ONE job: inside a process a lock per (store file, content key) serialises find -> upload -> create
-> record; across processes the store's atomic claim (:meth:`JobStore.claim`) elects one
submitter while the others poll the store until its job row appears and re-attach to it. A process
that crashes mid-submission delays the others by at most ``claim_ttl`` (600 s by default; at once
on the same host, where a dead owner pid is detected). ``force=True`` skips all of this: one new
paid job per call.

A local file that libsndfile cannot read is refused before any request, unless its extension is
one of the compressed containers the service decodes but a local libsndfile build may not
(:data:`LENIENT_EXTENSIONS`): an ``.rttm`` or ``.txt`` passed by mistake is never uploaded.

The embedded default: with no API key configured and no ``base_url``/``client`` given, the first
call starts (once per process) the local pyannoteAI-compatible server with the offline engine in
a background thread and points the same client at it, announcing it once.

Async twins (``adiarize``, ``asubmit``, ``adiarize_many``, ``Job.result_async``) run the sync core
in a worker thread (:func:`asyncio.to_thread`): they never call ``asyncio.run``, so they work in
Jupyter's running event loop.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import resolve_api_key
from ..errors import InvalidOption, JobFailed
from .handle import Job
from .progress import make_progress
from .store import JobStore, content_key, new_claim_owner

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..api import Client
    from ..results import Result
    from .batch import Batch

__all__ = [
    "Session",
    "adiarize",
    "adiarize_many",
    "asubmit",
    "configure",
    "diarize",
    "diarize_many",
    "embedded_server",
    "get_session",
    "identify",
    "job",
    "jobs",
    "submit",
    "voiceprint",
]

log = logging.getLogger(__name__)

_URL_RE = re.compile(r"^(https?|media)://", re.IGNORECASE)
_KINDS = ("diarize", "identify", "voiceprint")


# --------------------------------------------------------------------------- embedded server

_EMBEDDED: dict[str, Any] = {}
_EMBEDDED_LOCK = threading.Lock()
_ATEXIT_REGISTERED = False


def _stop_embedded_servers() -> None:
    """``atexit`` hook: stop every embedded server cleanly (sockets, threads, temporary store).

    Without it the interpreter finalises the servers' ``TemporaryDirectory`` implicitly and warns
    (``ResourceWarning: Implicitly cleaning up ...``). Errors are logged, never raised.
    """
    with _EMBEDDED_LOCK:
        handles = list(_EMBEDDED.values())
        _EMBEDDED.clear()
    for handle in handles:
        try:
            handle.stop()
        except Exception as exc:  # noqa: BLE001 - best effort at exit, never raise
            log.debug("stopping the embedded server at exit failed: %s", exc)


def embedded_server(engine: str = "local", *, announce: bool = True) -> Any:
    """The process-wide local server for ``engine``, started on first use (background thread).

    Announces itself once with one printed line; stopped cleanly at interpreter exit. Raises
    :class:`~pyannote_notebook.errors.ServerStartError` if it cannot start (e.g. the local engine
    is not installed; the message says what to install or how to set an API key).
    """
    with _EMBEDDED_LOCK:
        handle = _EMBEDDED.get(engine)
        if handle is None:
            from ..server import start_server

            global _ATEXIT_REGISTERED
            handle = start_server(engine=engine)
            _EMBEDDED[engine] = handle
            if not _ATEXIT_REGISTERED:
                atexit.register(_stop_embedded_servers)
                _ATEXIT_REGISTERED = True
            if announce:
                what = "the local offline engine" if engine == "local" else f"the {engine} engine"
                print(
                    f"No pyannoteAI API key found: using {what} (not the cloud model) at "
                    f"{handle.base_url}",
                    file=sys.stdout,
                    flush=True,
                )
        return handle


# --------------------------------------------------------------------------- audio inputs

#: Extensions of containers/codecs the service decodes (ffmpeg) but a local libsndfile build may
#: not (MP3 needs libsndfile >= 1.1, Opus >= 1.0.29, FLAC/Vorbis optional at build time, AAC and
#: video containers never; WAV may carry MP3/AAC/other codecs libsndfile lacks). A file with one
#: of these extensions that libsndfile cannot read is still uploaded; any other unreadable local
#: file is refused before any request.
LENIENT_EXTENSIONS = frozenset({
    ".mp3", ".mp2", ".mpga", ".m4a", ".m4b", ".aac", ".mp4", ".m4v", ".webm", ".weba", ".wma",
    ".wmv", ".asf", ".opus", ".ogg", ".oga", ".amr", ".3gp", ".3g2", ".mov", ".mkv", ".mka",
    ".avi", ".flv", ".ts", ".flac", ".wav", ".ac3", ".caf",
})


def check_audio_file(path: str) -> float | None:
    """Refuse a local file that is surely not audio; return its duration (s) when measurable.

    Uses ``soundfile.info`` when soundfile is importable (else nothing is checked and ``None`` is
    returned). A file libsndfile cannot read passes (duration ``None``) when its extension is in
    :data:`LENIENT_EXTENSIONS`; otherwise raises :class:`InvalidOption` (option ``audio``) naming
    the file and libsndfile's reason. Never sends anything.
    """
    try:
        import soundfile
    except (ImportError, OSError):  # not installed or libsndfile missing: the service decides
        return None
    try:
        info = soundfile.info(path)
    except Exception as exc:
        if Path(path).suffix.lower() in LENIENT_EXTENSIONS:
            return None
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InvalidOption(
            "audio",
            f"{path} is not an audio file libsndfile can read ({reason}); pass a WAV/FLAC/OGG/MP3 "
            "file (or another format the service decodes, with its usual extension), a URL, "
            "bytes, or an array with sample_rate=",
        ) from exc
    duration = float(getattr(info, "duration", 0.0) or 0.0)
    return duration if duration > 0 else None


@dataclass
class PreparedAudio:
    """An input resolved to what a submission needs (content hash, URL or upload source)."""

    label: str
    uri: str | None
    audio_path: str | None
    url: str | None
    source: Any
    audio_hash: str
    duration: float | None

    def close(self) -> None:
        if self.source is not None:
            self.source.close()


def prepare_audio(audio: Any, *, sample_rate: int | None = None, uri: str | None = None) -> PreparedAudio:
    """Resolve ``audio`` (path, URL, bytes, file object, array + ``sample_rate``) and hash it.

    An ``http(s)://`` or ``media://`` string is used as is (no upload; its hash is the URL's).
    Raises :class:`InvalidOption` (option ``audio``) for unsupported inputs, missing files and
    local files that are not audio (see :func:`check_audio_file`), before any request.
    """
    if isinstance(audio, str) and _URL_RE.match(audio):
        name = audio.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        return PreparedAudio(
            label=audio.split("?", 1)[0], uri=uri or (Path(name).stem or None), audio_path=None,
            url=audio, source=None,
            audio_hash="url:" + hashlib.sha256(audio.encode("utf-8")).hexdigest(), duration=None,
        )
    from ..api.upload import prepare_source

    path: str | None = None
    checked_duration: float | None = None
    if isinstance(audio, (str, os.PathLike)):
        path = str(audio)
        if not Path(path).is_file():
            raise InvalidOption("audio", f"no such file: {path}")
        checked_duration = check_audio_file(path)
        label = path
    elif isinstance(audio, (bytes, bytearray, memoryview)):
        label = f"<{len(audio)} bytes>"
    elif hasattr(audio, "read"):
        label = str(getattr(audio, "name", "<file object>"))
    elif hasattr(audio, "shape"):
        label = f"<array {tuple(audio.shape)} @ {sample_rate} Hz>"
    elif isinstance(audio, Mapping):
        label = str(audio.get("audio", "<waveform>"))
        if "audio" in audio:
            path = str(audio["audio"])
            if Path(path).is_file():
                checked_duration = check_audio_file(path)
    else:
        label = f"<{type(audio).__name__}>"
    source = prepare_source(audio, sample_rate)
    if uri is None and path is not None:
        uri = Path(path).stem
    duration = source.duration if source.duration is not None else checked_duration
    return PreparedAudio(label=label, uri=uri, audio_path=path, url=None, source=source,
                         audio_hash=source.sha256, duration=duration)


def _options_object(kind: str, options: Mapping[str, Any]) -> Any:
    """Validate ``options`` for ``kind`` before anything is sent (placeholder url)."""
    from ..api.options import (
        DiarizeOptions,
        IdentifyOptions,
        VoiceprintOptions,
        option_names,
    )

    cls = {"diarize": DiarizeOptions, "identify": IdentifyOptions, "voiceprint": VoiceprintOptions}[kind]
    allowed = set(option_names(cls)) - {"url"}
    for name in options:
        if name not in allowed:
            raise InvalidOption(name, f"unknown {kind} option; allowed: {', '.join(sorted(allowed))}")
    return cls(url="media://pyannote-notebook/placeholder", **options)


# --------------------------------------------------------------------------- submission locks

# (store identity, content key) -> [lock, users]: shared by every Session of this process that
# uses the same store file, dropped when its last user leaves.
_KEY_LOCKS: dict[tuple[str, str], list[Any]] = {}
_KEY_LOCKS_GUARD = threading.Lock()


def _store_identity(store: JobStore) -> str:
    if str(store.path) == ":memory:":
        return f":memory:{id(store)}"
    try:
        return str(store.path.resolve())
    except OSError:  # pragma: no cover - unresolvable path: fall back to the text
        return str(store.path)


@contextmanager
def _key_lock(store: JobStore, key: str) -> Iterator[None]:
    """Hold this process's lock for ``key`` on ``store``'s file (blocks while another thread
    of this process submits the same content)."""
    ident = (_store_identity(store), key)
    with _KEY_LOCKS_GUARD:
        entry = _KEY_LOCKS.setdefault(ident, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with _KEY_LOCKS_GUARD:
            entry[1] -= 1
            if entry[1] == 0:
                _KEY_LOCKS.pop(ident, None)


# --------------------------------------------------------------------------- session


class Session:
    """Client + store + settings used by the high-level functions.

    Parameters
    ----------
    api_key, base_url : str, optional
        Passed to :class:`pyannote_notebook.api.Client`. With neither (and no key in the
        environment) the embedded local server is used.
    client : Client, optional
        Use this client as is (its ``base_url`` keys the store's content addresses).
    store : JobStore or path, optional
        Default: ``PYANNOTE_NOTEBOOK_STORE`` or the user cache file.
    progress : bool | str | callable, optional
        Default progress setting (see :func:`pyannote_notebook.jobs.progress.make_progress`).
    embedded_engine : str
        Engine of the embedded server (``"local"``; tests use ``"scripted"``).
    rate_budget : RateBudget, optional
        Budget of a client this session builds (default: the service's published limits).
    claim_ttl : float, optional
        Seconds after which another process's unfinished submission claim on the same content
        is considered dead and taken over (default: the store's ``claim_ttl``, 600 s).
    claim_poll : float
        Seconds between store checks while another process submits the same content.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        client: Client | None = None,
        store: JobStore | str | os.PathLike[str] | None = None,
        progress: Any = None,
        timeout: float | None = None,
        embedded_engine: str = "local",
        rate_budget: Any = None,
        claim_ttl: float | None = None,
        claim_poll: float = 0.2,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.progress = progress
        self.timeout = timeout
        self.embedded_engine = embedded_engine
        self.rate_budget = rate_budget
        self.claim_ttl = claim_ttl
        self.claim_poll = claim_poll
        self._client = client
        self._store_arg = store
        self._store: JobStore | None = store if isinstance(store, JobStore) else None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        client = repr(self._client) if self._client is not None else "<lazy>"
        return f"Session(client={client}, store={self._store_arg!r})"

    def configure(self, **settings: Any) -> Session:
        """Change settings (``api_key``, ``base_url``, ``client``, ``store``, ``progress``,
        ``timeout``, ``embedded_engine``, ``rate_budget``, ``claim_ttl``, ``claim_poll``); the
        client/store are rebuilt lazily."""
        allowed = {"api_key", "base_url", "client", "store", "progress", "timeout",
                   "embedded_engine", "rate_budget", "claim_ttl", "claim_poll"}
        for name in settings:
            if name not in allowed:
                raise InvalidOption(name, f"unknown setting; allowed: {', '.join(sorted(allowed))}")
        with self._lock:
            if {"api_key", "base_url", "client", "embedded_engine", "rate_budget"} & settings.keys():
                self._client = settings.get("client")
            if "store" in settings:
                store = settings["store"]
                self._store_arg = store
                self._store = store if isinstance(store, JobStore) else None
            for name in ("api_key", "base_url", "progress", "timeout", "embedded_engine",
                         "rate_budget", "claim_ttl", "claim_poll"):
                if name in settings:
                    setattr(self, name, settings[name])
        return self

    # ------------------------------------------------------------------ resources

    @property
    def store(self) -> JobStore:
        """The job store (opened on first use)."""
        with self._lock:
            if self._store is None:
                self._store = JobStore(self._store_arg)  # type: ignore[arg-type]
            return self._store

    @property
    def client(self) -> Client:
        """The API client (built on first use; the embedded server when no key is set)."""
        with self._lock:
            if self._client is None:
                from ..api import Client

                kw: dict[str, Any] = {}
                if self.rate_budget is not None:
                    kw["rate_budget"] = self.rate_budget
                if resolve_api_key(self.api_key) is None and self.base_url is None \
                        and not os.environ.get("PYANNOTEAI_BASE_URL"):
                    handle = embedded_server(self.embedded_engine)
                    self._client = Client(api_key=handle.api_key, base_url=handle.base_url, **kw)
                else:
                    self._client = Client(api_key=self.api_key, base_url=self.base_url, **kw)
            return self._client

    def _resolve(self, client: Client | None, store: Any) -> tuple[Client, JobStore]:
        c = client if client is not None else self.client
        if store is None:
            s = self.store
        elif isinstance(store, JobStore):
            s = store
        else:
            s = JobStore(store)
        attach_store(c, s)
        return c, s

    # ------------------------------------------------------------------ core

    def _submit(
        self,
        kind: str,
        prep: PreparedAudio,
        options: Mapping[str, Any],
        *,
        client: Client,
        store: JobStore,
        force: bool = False,
        on_state: Callable[[str], None] | None = None,
    ) -> Job:
        """Re-attach or upload + create one job; the store row is written before returning.

        Without ``force``, at most one job is created per content key even under concurrency:
        the per-key lock (threads) and the store claim (processes) are held from before the upload
        until the job row is recorded or the submission failed; a waiter re-attaches to the job
        the winner recorded (or takes over if the winner failed or its claim expired).
        """
        opts = _options_object(kind, options)
        base_url = str(client.base_url).rstrip("/")
        canonical = opts.canonical()
        key = content_key(base_url, kind, prep.audio_hash, canonical)
        common: dict[str, Any] = {
            "client": client, "store": store, "kind": kind, "uri": prep.uri,
            "audio": prep.audio_path, "audio_duration": prep.duration,
        }
        create: dict[str, Any] = {
            "kind": kind, "prep": prep, "options": options, "client": client, "store": store,
            "base_url": base_url, "canonical": canonical, "key": key, "common": common,
            "on_state": on_state,
        }
        owner = new_claim_owner()
        if force:  # pay again: one new job per call; a unique claim only marks "creating"
            marker = f"{key}#force#{owner}"
            store.claim(marker, owner, self.claim_ttl)
            try:
                return self._create(**create)
            finally:
                store.release(marker, owner)
        with _key_lock(store, key):
            waiting = False
            while True:
                rec = store.find(key)
                if rec is not None:
                    log.debug("re-attaching to job %s (%s)", rec.job_id, rec.status)
                    return Job(rec.job_id, **common)
                state = store.claim(key, owner, self.claim_ttl)
                if state == "claimed":
                    break
                if state == "busy":
                    if not waiting:
                        log.info("another process is submitting the same %s of %s: waiting "
                                 "for its job", kind, prep.label)
                        waiting = True
                    time.sleep(self.claim_poll)
            try:
                return self._create(**create)
            finally:
                store.release(key, owner)

    def _create(
        self,
        *,
        kind: str,
        prep: PreparedAudio,
        options: Mapping[str, Any],
        client: Client,
        store: JobStore,
        base_url: str,
        canonical: str,
        key: str,
        common: dict[str, Any],
        on_state: Callable[[str], None] | None,
    ) -> Job:
        """Upload (unless a valid ``media://`` copy is known), create the job, record its row."""
        if prep.url is not None:
            media_url = prep.url
        else:
            media_url = store.find_upload(prep.audio_hash, base_url)
            if media_url is None:
                if on_state is not None:
                    on_state("uploading")
                if prep.audio_path is not None:
                    media_url = client.upload(prep.audio_path)
                else:
                    with prep.source.open() as fh:
                        media_url = client.upload(fh)
                store.record_upload(prep.audio_hash, base_url, media_url, size=prep.source.size)
        call_kw = dict(options)
        if prep.duration is not None:
            call_kw["audio_duration"] = prep.duration
        if kind == "diarize":
            api_job = client.diarize(media_url, **call_kw)
        elif kind == "identify":
            vps = call_kw.pop("voiceprints")
            api_job = client.identify(media_url, vps, **call_kw)
        else:
            api_job = client.voiceprint(media_url, **call_kw)
        info = getattr(api_job, "info", None)
        store.record_submission(
            api_job.id, kind=kind, base_url=base_url, media_url=media_url,
            audio_hash=prep.audio_hash, audio_name=prep.label, options_json=canonical, key=key,
            status=getattr(info, "status", None) or "created",
        )
        handle = Job(api_job.id, **common)
        handle._api_job = api_job
        return handle

    # ------------------------------------------------------------------ public

    def submit(
        self,
        audio: Any,
        *,
        kind: str = "diarize",
        uri: str | None = None,
        force: bool = False,
        sample_rate: int | None = None,
        store: Any = None,
        client: Client | None = None,
        **options: Any,
    ) -> Job:
        """Submit one job without waiting; returns a :class:`Job` (re-attached when known).

        Raises :class:`InvalidOption` (before any request) for bad options or audio, and the
        client's errors for upload/creation failures (the job row is written before returning).
        """
        if kind not in _KINDS:
            raise InvalidOption("kind", f"must be one of {', '.join(_KINDS)}, got {kind!r}")
        _options_object(kind, options)  # validate before resolving the client (no server start)
        prep = prepare_audio(audio, sample_rate=sample_rate, uri=uri)  # bad audio: no server start
        try:
            c, s = self._resolve(client, store)
            return self._submit(kind, prep, options, client=c, store=s, force=force)
        finally:
            prep.close()

    def diarize(
        self,
        audio: Any,
        *,
        uri: str | None = None,
        force: bool = False,
        progress: Any = None,
        timeout: float | None = None,
        sample_rate: int | None = None,
        store: Any = None,
        client: Client | None = None,
        kind: str = "diarize",
        **options: Any,
    ) -> Result:
        """Diarize one recording: upload if local, submit, wait, return a ``Result``.

        Re-running a finished call returns the stored result with zero requests.

        Raises
        ------
        InvalidOption
            Bad options or audio (nothing sent).
        JobFailed, JobCanceled
            The job ended that way.
        WaitTimeout
            ``timeout`` s passed; the job keeps running (``job(id).result()`` re-attaches).
        APIError, ConnectionFailed
            Upload or creation failed after the client's retries.
        """
        reporter = make_progress(self.progress if progress is None else progress, 1, desc=kind)
        state = {"s": "uploading"}

        def on_state(s: str) -> None:
            state["s"] = s
            reporter.update({s: 1})

        try:
            if kind not in _KINDS:
                raise InvalidOption("kind", f"must be one of {', '.join(_KINDS)}, got {kind!r}")
            _options_object(kind, options)
            prep = prepare_audio(audio, sample_rate=sample_rate, uri=uri)
            try:
                c, s = self._resolve(client, store)
                handle = self._submit(kind, prep, options, client=c, store=s, force=force,
                                      on_state=on_state)
            finally:
                prep.close()
            on_state(handle.status or "created")

            def follow(info: Any) -> None:  # show created -> running -> ... as polls see it
                if info.job_id == handle.id and info.status:
                    on_state(info.status)

            c.listeners.append(follow)
            try:
                result = handle.result(timeout=self.timeout if timeout is None else timeout)
            finally:
                c.listeners.remove(follow)
        except BaseException:
            reporter.close({"failed": 1})
            raise
        reporter.close({"done": 1})
        return result

    def identify(self, audio: Any, voiceprints: Any, **options: Any) -> Result:
        """Diarize and identify speakers against ``voiceprints`` ({label: voiceprint}).

        Same behaviour and errors as :meth:`diarize`.
        """
        return self.diarize(audio, kind="identify", voiceprints=voiceprints, **options)

    def voiceprint(self, audio: Any, **options: Any) -> str:
        """Make a voiceprint of a single-speaker clip (<= 30 s); returns the voiceprint string.

        Same behaviour and errors as :meth:`diarize`.
        """
        result = self.diarize(audio, kind="voiceprint", **options)
        vp = result.voiceprint
        if not isinstance(vp, str):  # pragma: no cover - Result validates this
            raise JobFailed(result.job_id or "<unknown>", "voiceprint output without voiceprint")
        return vp

    def diarize_many(
        self,
        audios: Iterable[Any],
        *,
        max_concurrency: int = 8,
        raise_on_error: bool = False,
        progress: Any = None,
        timeout: float | None = None,
        force: bool = False,
        kind: str = "diarize",
        sample_rate: int | None = None,
        store: Any = None,
        client: Client | None = None,
        **options: Any,
    ) -> Batch:
        """Diarize many recordings with one shared rate budget; returns a :class:`Batch`.

        ``Batch.results`` holds, in input order, a ``Result`` or the exception of that input
        (each failure is captured without stopping the others); ``Batch.summary`` is a DataFrame
        (input, uri, job_id, status, error, elapsed). Inputs already known to the store are
        re-attached or answered from it without requests (re-running after a kernel crash
        submits nothing twice).

        Parameters
        ----------
        max_concurrency : int
            Worker threads hashing, uploading and submitting (requests are paced by the client's
            rate budget, shared by all of them and by the polls).
        raise_on_error : bool
            Raise the first failure in input order **after every input has finished**.
        timeout : float, optional
            A deadline for the whole call (seconds). After it nothing new is uploaded or
            submitted and polling stops; a submission already in flight finishes and is
            recorded (a sent create cannot be recalled), so the call returns at the deadline
            plus at most ``max_concurrency`` in-flight requests. Unfinished inputs hold a
            ``WaitTimeout`` naming their job (it keeps running; the same call again
            re-attaches) or, when no job was created, ``NotSubmitted`` (nothing was billed).

        Raises
        ------
        InvalidOption
            Bad options (before anything is sent). Per-file problems (missing file, failed job,
            API errors after retries) are captured in the results instead.
        """
        from .batch import run_batch

        if kind not in _KINDS:
            raise InvalidOption("kind", f"must be one of {', '.join(_KINDS)}, got {kind!r}")
        _options_object(kind, options)
        c, s = self._resolve(client, store)
        return run_batch(
            self, list(audios), kind=kind, options=options, client=c, store=s,
            max_concurrency=max_concurrency, raise_on_error=raise_on_error,
            progress=self.progress if progress is None else progress,
            timeout=self.timeout if timeout is None else timeout, force=force,
            sample_rate=sample_rate,
        )

    def job(self, job_id: str, *, client: Client | None = None, store: Any = None) -> Job:
        """Re-attach to ``job_id`` (kind and file from the store when known; no request)."""
        c, s = self._resolve(client, store)
        rec = s.get(job_id)
        uri = None
        if rec is not None and rec.audio_name and not rec.audio_name.startswith("<"):
            uri = Path(rec.audio_name.split("?", 1)[0]).stem or None
        return Job(job_id, client=c, store=s, kind=rec.kind if rec else None, uri=uri)

    def jobs(self, status: str | None = None, *, store: Any = None) -> pd.DataFrame:
        """What the store knows, as a DataFrame (newest first); no request."""
        s = self.store if store is None else (store if isinstance(store, JobStore) else JobStore(store))
        return s.dataframe(status)

    # ------------------------------------------------------------------ async twins

    async def adiarize(self, audio: Any, **kw: Any) -> Result:
        """Awaitable :meth:`diarize` (worker thread; safe inside Jupyter's loop)."""
        return await asyncio.to_thread(lambda: self.diarize(audio, **kw))

    async def asubmit(self, audio: Any, **kw: Any) -> Job:
        """Awaitable :meth:`submit`."""
        return await asyncio.to_thread(lambda: self.submit(audio, **kw))

    async def adiarize_many(self, audios: Iterable[Any], **kw: Any) -> Batch:
        """Awaitable :meth:`diarize_many`."""
        items = list(audios)
        return await asyncio.to_thread(lambda: self.diarize_many(items, **kw))


def attach_store(client: Any, store: JobStore) -> None:
    """Register ``store.record_info`` as a listener of ``client`` and the store as a
    reconciliation witness (once per store)."""
    witnesses = getattr(client, "witnesses", None)
    if witnesses is not None and not any(w is store for w in witnesses):
        witnesses.append(store)  # reconciling a lost create answer consults the shared store
    listeners = getattr(client, "listeners", None)
    if listeners is None:
        return
    for fn in listeners:
        if getattr(fn, "__self__", None) is store:
            return
    listeners.append(store.record_info)


# --------------------------------------------------------------------------- default session

_DEFAULT = Session()


def get_session() -> Session:
    """The module-level default session."""
    return _DEFAULT


def configure(**settings: Any) -> Session:
    """Change the default session (``api_key=``, ``base_url=``, ``client=``, ``store=``,
    ``progress=``, ``timeout=``, ``embedded_engine=``, ``rate_budget=``)."""
    return _DEFAULT.configure(**settings)


def diarize(audio: Any, **kw: Any) -> Result:
    """Diarize one recording with the default session; see :meth:`Session.diarize`."""
    return _DEFAULT.diarize(audio, **kw)


def submit(audio: Any, **kw: Any) -> Job:
    """Submit one job (non-blocking) with the default session; see :meth:`Session.submit`."""
    return _DEFAULT.submit(audio, **kw)


def identify(audio: Any, voiceprints: Any, **kw: Any) -> Result:
    """Identify speakers with the default session; see :meth:`Session.identify`."""
    return _DEFAULT.identify(audio, voiceprints, **kw)


def voiceprint(audio: Any, **kw: Any) -> str:
    """Make a voiceprint with the default session; see :meth:`Session.voiceprint`."""
    return _DEFAULT.voiceprint(audio, **kw)


def diarize_many(audios: Iterable[Any], **kw: Any) -> Batch:
    """Diarize many recordings with the default session; see :meth:`Session.diarize_many`."""
    return _DEFAULT.diarize_many(audios, **kw)


def job(job_id: str, **kw: Any) -> Job:
    """Re-attach to a job with the default session; see :meth:`Session.job`."""
    return _DEFAULT.job(job_id, **kw)


def jobs(status: str | None = None, **kw: Any) -> pd.DataFrame:
    """The default store's jobs as a DataFrame; see :meth:`Session.jobs`."""
    return _DEFAULT.jobs(status, **kw)


async def adiarize(audio: Any, **kw: Any) -> Result:
    """Awaitable :func:`diarize`."""
    return await _DEFAULT.adiarize(audio, **kw)


async def asubmit(audio: Any, **kw: Any) -> Job:
    """Awaitable :func:`submit`."""
    return await _DEFAULT.asubmit(audio, **kw)


async def adiarize_many(audios: Iterable[Any], **kw: Any) -> Batch:
    """Awaitable :func:`diarize_many`."""
    return await _DEFAULT.adiarize_many(audios, **kw)


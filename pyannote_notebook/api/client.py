"""The pyannoteAI REST client: :class:`Client`.

One ``requests.Session`` per client (a pooled ``HTTPAdapter`` whose urllib3 ``Retry`` retries
only connection set-up failures), a :class:`~pyannote_notebook.api.ratelimit.RateBudget`, and two
retry policies:

* **Reads and idempotent writes** (GET, ``POST /media/input`` which only returns a URL, the
  upload PUT): retried on connection errors, read timeouts, 429 and 5xx with jittered
  exponential backoff, honouring ``Retry-After``, up to ``max_retries`` times.
* **Job-creating POSTs** (diarize, identify, voiceprint) are billed, so they are *not* retried
  blindly. They are retried only when the server certainly did not act (the connection could
  not be opened; 429). After an *ambiguous* failure (5xx, read timeout, connection dropped after
  the request was sent) the client reconciles: creates are serialized per client by a lock, and
  the client lists ``/v2/jobs`` (newest first) for jobs created since just before it sent the
  request and not known to this client. Exactly one -> it is adopted (no second job, no double
  billing); none -> the job was not created, so the POST is retried; several -> it raises
  :class:`~pyannote_notebook.errors.ConnectionFailed` asking to check ``client.list_jobs()``.
  After a read timeout the server may still be working on the request, so the list is read a
  second time, ``min(timeout, 5)`` s later, before concluding "not created".
  The service's listing carries no input URL, so a job created in that second by *another*
  client of the same team is indistinguishable from ours. Witnesses narrow this down:
  ``client.witnesses`` holds objects with ``known_job_ids(since)`` (job ids recorded elsewhere,
  e.g. by other kernels sharing the job store: never adopted) and ``rival_creates(since)``
  (other processes creating jobs at the same time: then a single candidate is not adopted, the
  client refuses to guess). The jobs layer registers its store as a witness. Clients of the same
  team that share no store stay invisible: that residual case is documented, not detectable.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from pyannote_notebook.api.job import Job
from pyannote_notebook.api.models import JobInfo, JobSummary
from pyannote_notebook.api.options import (
    JOB_STATUSES,
    DiarizeOptions,
    IdentifyOptions,
    VoiceprintOptions,
    validate_media_url,
)
from pyannote_notebook.api.ratelimit import RateBudget
from pyannote_notebook.api.retry import (
    DeadlineReached,
    adapter_retry,
    backoff_delay,
    connection_error,
    error_from_response,
    is_connect_error,
    parse_retry_after,
    redact,
    safe_path,
)
from pyannote_notebook.api.upload import Progress, StreamingBody, prepare_source
from pyannote_notebook.config import Secret, resolve_api_key, resolve_base_url
from pyannote_notebook.errors import (
    APIError,
    AuthenticationError,
    ConnectionFailed,
    InvalidOption,
    PyannoteNotebookError,
)

__all__ = ["Client"]

logger = logging.getLogger("pyannote_notebook.api")

_Options = DiarizeOptions | IdentifyOptions | VoiceprintOptions
_PATHS = {"diarize": "/diarize", "identify": "/identify", "voiceprint": "/voiceprint"}
_RECONCILE_MARGIN = 1.5  # seconds before the send time still searched (clock granularity)


class _RedactSignedURLs(logging.Filter):
    """Strip query strings (pre-signed upload/download tokens) from urllib3's debug lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) and "?" in a else a
                                for a in record.args)
        return True


_URLLIB3_LOGGER = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _RedactSignedURLs) for f in _URLLIB3_LOGGER.filters):
    _URLLIB3_LOGGER.addFilter(_RedactSignedURLs())


def _version() -> str:
    try:
        from pyannote_notebook import __version__

        return str(__version__)
    except Exception:  # pragma: no cover
        return "0"


class Client:
    """Client of the pyannoteAI API (or of a compatible server such as ``pyannote-notebook serve``).

    Parameters
    ----------
    api_key : str, optional
        The API key; else ``PYANNOTEAI_API_KEY``, else ``PYANNOTE_API_KEY``. Held as a
        :class:`~pyannote_notebook.config.Secret`: never shown in reprs, logs or errors. A
        missing key raises :class:`AuthenticationError` at the first request, not here.
    base_url : str, optional
        The argument, else ``PYANNOTEAI_BASE_URL``, else ``https://api.pyannote.ai/v1``.
    timeout : float
        Seconds for connecting and for each read (per attempt). A read timeout on a GET is
        retried; on a job-creating POST it triggers reconciliation (see module docstring).
    max_retries : int
        Retries per request after the first attempt.
    rate_budget : RateBudget | False | None
        ``None``: the service's published limits (100 creates, 300 reads per minute);
        ``False``: no client-side limiting; or a :class:`RateBudget` shared with other clients.
    user_agent : str, optional
    session : requests.Session, optional
        Used as is (no adapter is mounted on it), e.g. for proxies or tests.

    No network request is made here.
    """

    def __init__(self, api_key: str | Secret | None = None, base_url: str | None = None, *,
                 timeout: float = 30.0, max_retries: int = 5,
                 rate_budget: RateBudget | bool | None = None, user_agent: str | None = None,
                 session: requests.Session | None = None) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise InvalidOption("timeout", f"must be a number > 0, got {timeout!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidOption("max_retries", f"must be an integer >= 0, got {max_retries!r}")
        self._key: Secret | None = resolve_api_key(api_key)
        self.base_url: str = resolve_base_url(base_url)
        if not self.base_url.lower().startswith(("http://", "https://")):
            raise InvalidOption("base_url", f"must be an http(s):// URL, got {self.base_url!r}")
        self._root = self.base_url[:-3] if self.base_url.endswith("/v1") else self.base_url
        self.timeout = float(timeout)
        self.max_retries = max_retries
        if rate_budget is None or rate_budget is True:
            rate_budget = RateBudget()
        elif rate_budget is False:
            rate_budget = None
        elif not isinstance(rate_budget, RateBudget):
            raise InvalidOption("rate_budget", "must be a RateBudget, None or False")
        self.rate_budget: RateBudget | None = rate_budget
        self.user_agent = user_agent or f"pyannote-notebook/{_version()}"
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=adapter_retry())
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self._session = session
        self.listeners: list[Callable[[JobInfo], None]] = []
        #: Objects with ``known_job_ids(since) -> set[str]`` and ``rival_creates(since) -> int``
        #: consulted when reconciling an ambiguous create (see the module docstring).
        self.witnesses: list[Any] = []
        self._known: set[str] = set()
        self._kinds: dict[str, str] = {}
        self._state_lock = threading.Lock()
        self._create_lock = threading.Lock()
        self._durations: dict[str, float] = {}
        self._clock_offset = 0.0  # server clock - local clock (from Date headers, if > 2 s)
        self._sleep: Callable[[float], None] = time.sleep
        self._rng = random.Random()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"

    __str__ = __repr__

    def close(self) -> None:
        """Close the HTTP session's pooled connections."""
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _secrets(self) -> tuple[str, ...]:
        return (self._key.reveal(),) if self._key else ()

    def _headers(self, auth: bool) -> dict[str, str]:
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if auth:
            if not self._key:
                raise AuthenticationError(
                    "no API key: pass Client(api_key=...) or set the PYANNOTEAI_API_KEY (or "
                    "PYANNOTE_API_KEY) environment variable"
                )
            headers["Authorization"] = f"Bearer {self._key.reveal()}"
        return headers

    def _send(self, method: str, url: str, *, auth: bool = True, json: Any = None,
              params: Mapping[str, Any] | None = None, data: Any = None,
              timeout: float | None = None) -> requests.Response:
        headers = self._headers(auth)
        resp = self._session.request(method, url, headers=headers, json=json, params=params,
                                     data=data, timeout=self.timeout if timeout is None else timeout,
                                     allow_redirects=False)
        logger.debug("%s %s -> %s", method, safe_path(url), resp.status_code)
        date = resp.headers.get("Date")
        if date:
            try:
                offset = email.utils.parsedate_to_datetime(date).timestamp() - time.time()
                self._clock_offset = offset if abs(offset) > 2.0 else 0.0
            except (TypeError, ValueError):
                pass
        return resp

    def _observe(self, bucket: str | None, resp: requests.Response) -> float | None:
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        if bucket and self.rate_budget is not None:
            self.rate_budget.observe(bucket, resp.status_code, resp.headers,
                                     retry_after if resp.status_code == 429 else None)
        return retry_after

    def _request(self, method: str, url: str, *, bucket: str | None, auth: bool = True,
                 json: Any = None, params: Mapping[str, Any] | None = None,
                 body: Callable[[], Any] | None = None,
                 deadline: float | None = None) -> requests.Response:
        """Send an idempotent request with retries; return the 2xx/3xx response.

        Retries connection errors, timeouts, 429 and 5xx up to ``max_retries`` times (jittered
        exponential backoff, ``Retry-After`` honoured), taking a rate-budget token per attempt.

        ``deadline`` (a ``time.monotonic()`` value, used by ``Job.wait(timeout=...)``) bounds the
        whole call: the rate-budget wait and each attempt's connect/read timeout are capped at the
        time left, and a retry whose delay (backoff or ``Retry-After``) would end past the deadline
        is not made: the last error is raised at once instead (so the caller can keep listening
        for a webhook until its deadline). No attempt starts once the deadline has passed.

        Raises
        ------
        APIError subclass
            For an error status (after retries for 429/5xx, or when the next retry would end
            past ``deadline``; a 429 carries ``retry_after``).
        ConnectionFailed
            When the last attempt could not complete.
        DeadlineReached
            (a ``ConnectionFailed``) ``deadline`` passed before an attempt could start.
        """
        attempt = 0
        while True:
            timeout: float | None = None
            left: float | None = None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DeadlineReached(f"{method} {safe_path(url)}: not sent, the caller's "
                                          "deadline has passed")
                timeout = min(self.timeout, left)
            budget = self.rate_budget if bucket else None
            if budget is not None:
                if not budget.acquire(bucket, timeout=left, until_release=True):
                    raise DeadlineReached(f"{method} {safe_path(url)}: not sent, no rate-budget "
                                          "token before the caller's deadline")
                if deadline is not None:
                    timeout = min(self.timeout, max(0.001, deadline - time.monotonic()))
            error: PyannoteNotebookError
            try:
                with _holding(budget, bucket):
                    resp = self._send(method, url, auth=auth, json=json, params=params,
                                      data=body() if body is not None else None, timeout=timeout)
            except requests.RequestException as exc:
                error = connection_error(method, url, exc, *self._secrets())
                if attempt >= self.max_retries:
                    raise error from None
                delay = backoff_delay(attempt, rng=self._rng)
                logger.info("%s %s failed (%s); retry %d in %.2f s", method, safe_path(url),
                            type(exc).__name__, attempt + 1, delay)
            else:
                retry_after = self._observe(bucket, resp)
                if resp.status_code < 400:
                    return resp
                error = error_from_response(method, url, resp, *self._secrets())
                if not (resp.status_code == 429 or resp.status_code >= 500) \
                        or attempt >= self.max_retries:
                    raise error
                delay = retry_after if retry_after is not None \
                    else backoff_delay(attempt, rng=self._rng)
                logger.info("%s %s -> %d; retry %d in %.2f s", method, safe_path(url),
                            resp.status_code, attempt + 1, delay)
                resp.close()
            if deadline is not None and time.monotonic() + delay >= deadline:
                logger.info("%s %s: the retry would end past the caller's deadline; giving up",
                            method, safe_path(url))
                raise error
            attempt += 1
            self._sleep(delay)

    def _json(self, method: str, url: str, resp: requests.Response) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise APIError("the answer is not JSON", status_code=resp.status_code, method=method,
                           path=safe_path(url)) from None

    def _emit(self, info: JobInfo) -> None:
        """Give ``info`` to every listener; a failing listener is logged, never raised."""
        for listener in list(self.listeners):
            try:
                listener(info)
            except Exception as exc:
                logger.warning("job listener %r failed: %s: %s", listener, type(exc).__name__,
                               redact(str(exc), *self._secrets()))

    def _see(self, job_id: str, kind: str | None = None) -> None:
        with self._state_lock:
            self._known.add(job_id)
            if kind:
                self._kinds[job_id] = kind

    # ------------------------------------------------------------------ simple endpoints

    def check(self) -> dict[str, Any]:
        """``GET /v1/test``: verify the key and the service; return its JSON answer.

        Raises
        ------
        AuthenticationError
            Missing or refused key.
        ConnectionFailed, ServerError
            The service is unreachable or failing (after retries).
        """
        url = self.base_url + "/test"
        return self._json("GET", url, self._request("GET", url, bucket=None))

    def get_job(self, job_id: str, *, deadline: float | None = None) -> JobInfo:
        """``GET /v1/jobs/{job_id}``: the job's status and output (retried on transient failures).

        Parameters
        ----------
        job_id : str
        deadline : float, optional
            A ``time.monotonic()`` value no sleep, retry or read goes past (what
            ``Job.wait(timeout=...)`` passes); ``None``: only ``timeout``/``max_retries`` bound it.

        Raises
        ------
        NotFound
            Unknown job id.
        ConnectionFailed, ServerError, RateLimited
            After ``max_retries`` retries, or when the next retry would end past ``deadline``
            (``DeadlineReached``, a ``ConnectionFailed``, when it passed before a request).
        """
        if not isinstance(job_id, str) or not job_id:
            raise InvalidOption("job_id", f"must be a non-empty string, got {job_id!r}")
        url = f"{self.base_url}/jobs/{quote(job_id, safe='')}"
        data = self._json("GET", url, self._request("GET", url, bucket="read", deadline=deadline))
        if not isinstance(data, dict):
            raise APIError("job answer is not a JSON object", method="GET", path=safe_path(url))
        with self._state_lock:
            kind = self._kinds.get(job_id)
        info = JobInfo.from_json(data, kind=kind)
        self._see(info.job_id or job_id)
        self._emit(info)
        return info

    def list_jobs(self, status: str | None = None, limit: int | None = None,
                  page_size: int = 100) -> Iterator[JobSummary]:
        """Iterate over the team's jobs, newest first (``GET /v2/jobs``, following ``nextCursor``).

        Arguments are validated at once; requests are made lazily, one page at a time, as the
        iterator is consumed (each page retried on transient failures).

        Parameters
        ----------
        status : str, optional
            Only jobs with this status (pending, created, running, succeeded, failed, canceled).
        limit : int, optional
            Stop after this many jobs.
        page_size : int
            Jobs per request, 1-100.
        """
        if status is not None and status not in JOB_STATUSES:
            raise InvalidOption("status", f"{status!r} is not one of {', '.join(JOB_STATUSES)}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise InvalidOption("limit", f"must be None or an integer >= 1, got {limit!r}")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 100:
            raise InvalidOption("page_size", f"must be an integer from 1 to 100, got {page_size!r}")
        return self._iter_jobs(status, limit, page_size)

    def _iter_jobs(self, status: str | None, limit: int | None,
                   page_size: int) -> Iterator[JobSummary]:
        url = self._root + "/v2/jobs"
        cursor: str | None = None
        count = 0
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if cursor:
                params["cursor"] = cursor
            if status:
                params["status"] = status
            page = self._json("GET", url, self._request("GET", url, bucket="read", params=params))
            for item in page.get("items") or []:
                yield JobSummary.from_json(item)
                count += 1
                if limit is not None and count >= limit:
                    return
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def job(self, job_id: str, kind: str | None = None, *,
            audio_duration: float | None = None) -> Job:
        """Re-attach to a job by id (no request is made); ``.wait()`` on it as on a new one."""
        if not isinstance(job_id, str) or not job_id:
            raise InvalidOption("job_id", f"must be a non-empty string, got {job_id!r}")
        if kind is not None and kind not in _PATHS:
            raise InvalidOption("kind", f"must be one of {', '.join(_PATHS)}, got {kind!r}")
        with self._state_lock:
            kind = kind or self._kinds.get(job_id)
        return Job(self, job_id, kind, audio_duration=_check_duration(audio_duration))

    # ------------------------------------------------------------------ upload

    def upload(self, audio: Any, media_url: str | None = None, *,
               progress: Progress | None = None, sample_rate: int | None = None,
               chunk_size: int = 1 << 20) -> str:
        """Upload audio to the service's temporary storage and return its ``media://`` URL.

        ``POST /v1/media/input`` (retried: it only hands out a URL), then ``PUT`` to the
        pre-signed URL, streaming from disk in ``chunk_size`` pieces (never read whole into
        memory; retried from the start on transient failures).

        Parameters
        ----------
        audio : path | bytes | binary file object | numpy array
            An array needs ``sample_rate`` and is written to a temporary WAV first. Also
            ``{"audio": path}`` / ``{"waveform": array, "sample_rate": int}``.
        media_url : str, optional
            Key to store under; default ``media://pyannote-notebook/<first 40 hex of SHA-256>``,
            so the same content gets the same key.
        progress : callable, optional
            ``progress(completed_bytes, total_bytes)``: ``(0, total)`` first, then after each
            chunk, ending with ``(total, total)``; restarts from 0 if the PUT is retried.
        chunk_size : int
            Bytes per chunk of the PUT body.

        Raises
        ------
        InvalidOption
            Bad ``audio``/``media_url``/``chunk_size``; nothing is sent.
        PayloadTooLarge
            The storage refused the size (413).
        APIError, ConnectionFailed
            Other failures after retries.
        """
        if media_url is not None:
            validate_media_url(media_url, "media_url")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise InvalidOption("chunk_size", f"must be an integer >= 1, got {chunk_size!r}")
        if progress is not None and not callable(progress):
            raise InvalidOption("progress", "must be callable as progress(completed, total)")
        self._headers(auth=True)  # a missing key fails before the file is hashed
        source = prepare_source(audio, sample_rate)
        try:
            url = media_url or f"media://pyannote-notebook/{source.sha256[:40]}"
            endpoint = self.base_url + "/media/input"
            answer = self._json("POST", endpoint, self._request(
                "POST", endpoint, bucket="create", json={"url": url}))
            presigned = answer.get("url") if isinstance(answer, dict) else None
            if not isinstance(presigned, str) or not presigned.lower().startswith(("http://", "https://")):
                raise APIError("POST /media/input answered without an upload URL",
                               method="POST", path=safe_path(endpoint))
            self._request("PUT", presigned, bucket=None, auth=False,
                          body=lambda: StreamingBody(source, chunk_size, progress))
            if source.duration:
                with self._state_lock:
                    self._durations[url] = source.duration
            logger.info("uploaded %d bytes to %s", source.size, url)
            return url
        finally:
            source.close()

    def download_url(self, media_url: str) -> str:
        """``POST /v1/media/output``: a pre-signed GET URL for ``media_url`` (treat it as a secret).

        Raises
        ------
        InvalidOption
            ``media_url`` is not a valid ``media://`` key (nothing sent).
        BadRequest, NotFound, ConnectionFailed
            As answered by the service, after retries.
        """
        validate_media_url(media_url, "media_url")
        endpoint = self.base_url + "/media/output"
        answer = self._json("POST", endpoint, self._request(
            "POST", endpoint, bucket="create", json={"url": media_url}))
        url = answer.get("url") if isinstance(answer, dict) else None
        if not isinstance(url, str):
            raise APIError("POST /media/output answered without a URL", method="POST",
                           path=safe_path(endpoint))
        return url

    # ------------------------------------------------------------------ jobs

    def diarize(self, url: str, *, model: str = "precision-2", num_speakers: int | None = None,
                min_speakers: int | None = None, max_speakers: int | None = None,
                exclusive: bool = False, confidence: bool = False,
                turn_level_confidence: bool = False, transcription: bool = False,
                transcription_config: str | Mapping[str, str] | None = None,
                webhook: str | None = None, webhook_status_only: bool = False,
                audio_duration: float | None = None) -> Job:
        """Submit a diarization job (``POST /v1/diarize``) and return its :class:`Job`.

        Options are validated first (:class:`InvalidOption`, nothing sent). The POST is billed,
        so it is never retried blindly: see the module docstring (reconciliation through
        ``/v2/jobs`` after an ambiguous failure, so that one call creates at most one job).
        ``audio_duration`` (seconds; known automatically for files this client uploaded) helps
        ``Job.wait`` poll when completion is likely.

        Raises
        ------
        InvalidOption, BadRequest, AuthenticationError, PaymentRequired, RateLimited
        ConnectionFailed
            Also when several unknown jobs appeared and the client cannot tell which is its own.
        """
        options = DiarizeOptions(
            url=url, model=model, num_speakers=num_speakers, min_speakers=min_speakers,
            max_speakers=max_speakers, exclusive=exclusive, confidence=confidence,
            turn_level_confidence=turn_level_confidence, transcription=transcription,
            transcription_config=transcription_config, webhook=webhook,
            webhook_status_only=webhook_status_only)
        return self.submit(options, audio_duration=audio_duration)

    def identify(self, url: str, voiceprints: Mapping[str, str] | Sequence[Any], *,
                 matching_exclusive: bool = True, matching_threshold: float = 0.0,
                 model: str = "precision-2", num_speakers: int | None = None,
                 min_speakers: int | None = None, max_speakers: int | None = None,
                 exclusive: bool = False, confidence: bool = False,
                 turn_level_confidence: bool = False, webhook: str | None = None,
                 webhook_status_only: bool = False, audio_duration: float | None = None) -> Job:
        """Submit an identification job (``POST /v1/identify``); see :meth:`diarize`.

        ``voiceprints``: ``{label: voiceprint}`` or ``[(label, voiceprint), ...]`` (1-50).
        """
        options = IdentifyOptions(
            url=url, voiceprints=voiceprints, matching_exclusive=matching_exclusive,
            matching_threshold=matching_threshold, model=model, num_speakers=num_speakers,
            min_speakers=min_speakers, max_speakers=max_speakers, exclusive=exclusive,
            confidence=confidence, turn_level_confidence=turn_level_confidence,
            webhook=webhook, webhook_status_only=webhook_status_only)
        return self.submit(options, audio_duration=audio_duration)

    def voiceprint(self, url: str, *, model: str = "precision-2", webhook: str | None = None,
                   webhook_status_only: bool = False, audio_duration: float | None = None) -> Job:
        """Submit a voiceprint job (``POST /v1/voiceprint``); see :meth:`diarize`."""
        options = VoiceprintOptions(url=url, model=model, webhook=webhook,
                                    webhook_status_only=webhook_status_only)
        return self.submit(options, audio_duration=audio_duration)

    def submit(self, options: _Options, *, audio_duration: float | None = None) -> Job:
        """Submit a job from already-built options (what diarize/identify/voiceprint call)."""
        if not isinstance(options, (DiarizeOptions, IdentifyOptions, VoiceprintOptions)):
            raise InvalidOption("options", "must be DiarizeOptions, IdentifyOptions or VoiceprintOptions")
        duration = _check_duration(audio_duration)
        if duration is None:
            with self._state_lock:
                duration = self._durations.get(options.url)
        return self._create(options, duration)

    def _create(self, options: _Options, duration: float | None) -> Job:
        kind = options.kind
        url = self.base_url + _PATHS[kind]
        body = options.to_json()
        self._headers(auth=True)  # missing key: fail before taking the lock or a token
        with self._create_lock:
            attempt = 0
            while True:
                budget = self.rate_budget
                if budget is not None:
                    budget.acquire("create", until_release=True)
                sent_at = time.time()
                ambiguous: BaseException | None = None
                delay: float | None = None
                try:
                    with _holding(budget, "create"):
                        resp = self._send("POST", url, json=body)
                except requests.RequestException as exc:
                    if not is_connect_error(exc):
                        ambiguous = exc
                    elif attempt >= self.max_retries:
                        raise connection_error("POST", url, exc, *self._secrets(),
                                               note="no job was created") from None
                else:
                    retry_after = self._observe("create", resp)
                    if resp.status_code < 300:
                        return self._adopt_created(resp, url, kind, duration)
                    if resp.status_code >= 500:
                        ambiguous = error_from_response("POST", url, resp, *self._secrets())
                    elif resp.status_code != 429 or attempt >= self.max_retries:
                        raise error_from_response("POST", url, resp, *self._secrets())
                    else:
                        delay = retry_after
                    resp.close()
                if ambiguous is not None:
                    job = self._reconcile(url, kind, sent_at, ambiguous, duration)
                    if job is None and isinstance(ambiguous, requests.exceptions.ReadTimeout):
                        # the server may still be handling the request: look once more later
                        self._sleep(min(self.timeout, 5.0))
                        job = self._reconcile(url, kind, sent_at, ambiguous, duration)
                    if job is not None:
                        return job
                    if attempt >= self.max_retries:
                        if isinstance(ambiguous, PyannoteNotebookError):
                            raise ambiguous
                        raise connection_error("POST", url, ambiguous, *self._secrets(),
                                               note="no job was created (checked /v2/jobs)")
                if delay is None:
                    delay = backoff_delay(attempt, rng=self._rng)
                logger.info("POST %s not accepted (attempt %d); retry in %.2f s",
                            safe_path(url), attempt + 1, delay)
                attempt += 1
                self._sleep(delay)

    def _adopt_created(self, resp: requests.Response, url: str, kind: str,
                       duration: float | None) -> Job:
        data = self._json("POST", url, resp)
        job_id = data.get("jobId") if isinstance(data, dict) else None
        if not isinstance(job_id, str) or not job_id:
            raise APIError("job created but the answer has no jobId", status_code=resp.status_code,
                           method="POST", path=safe_path(url), body=data)
        self._see(job_id, kind)
        info = JobInfo.from_json(data, kind=kind)
        self._emit(info)
        return Job(self, job_id, kind, info=info, audio_duration=duration,
                   created_monotonic=time.monotonic())

    def _reconcile(self, url: str, kind: str, sent_at: float, cause: BaseException,
                   duration: float | None) -> Job | None:
        """After an ambiguous create failure: find the job it may have created (see module doc)."""
        since = sent_at + self._clock_offset - _RECONCILE_MARGIN
        what = type(cause).__name__ if not isinstance(cause, APIError) else f"HTTP {cause.status_code}"
        with self._state_lock:
            known = set(self._known)
        candidates: list[JobSummary] = []
        try:
            for item in self._iter_jobs(None, None, 100):
                if item.created_at is None:
                    continue
                if item.created_at.timestamp() < since:
                    break
                if item.job_id not in known:
                    candidates.append(item)
        except PyannoteNotebookError as exc:
            raise ConnectionFailed(
                f"POST {safe_path(url)}: the answer was lost ({what}) and listing jobs to check "
                f"whether it was created failed ({type(exc).__name__}). The job may have been "
                "created: check client.list_jobs() before submitting again (each job is billed)"
            ) from None
        rivals = 0
        if candidates:
            try:
                for witness in list(self.witnesses):
                    elsewhere = set(witness.known_job_ids(since))
                    candidates = [c for c in candidates if c.job_id not in elsewhere]
                    rivals += int(witness.rival_creates(since))
            except Exception as exc:  # noqa: BLE001 - a witness that fails cannot vouch
                logger.warning("reconciliation witness failed (%s: %s); not adopting",
                               type(exc).__name__, exc)
                rivals += 1
        if len(candidates) == 1 and rivals:
            raise ConnectionFailed(
                f"POST {safe_path(url)}: the answer was lost ({what}); job "
                f"{candidates[0].job_id} was created since it was sent, but {rivals} other "
                "submitter(s) sharing the job store were creating jobs at the same time, so it "
                "may not be this request's job. Check client.list_jobs() and re-attach with "
                "client.job(id) instead of submitting again (each job is billed)"
            )
        if len(candidates) == 1:
            item = candidates[0]
            logger.warning("POST %s: answer lost (%s); adopted job %s created at %s",
                           safe_path(url), what, item.job_id, item.created_at)
            self._see(item.job_id, kind)
            info = JobInfo(item.job_id, item.status, item.created_at, None, None,
                           raw={"id": item.job_id, "status": item.status}, kind=kind)
            self._emit(info)
            created = time.monotonic() - max(0.0, time.time() - item.created_at.timestamp())
            return Job(self, item.job_id, kind, info=info, audio_duration=duration,
                       created_monotonic=created)
        if candidates:
            ids = ", ".join(c.job_id for c in candidates)
            raise ConnectionFailed(
                f"POST {safe_path(url)}: the answer was lost ({what}) and {len(candidates)} "
                f"unknown jobs were created since it was sent ({ids}); one of them may be this "
                "request's job. Check client.list_jobs() and re-attach with client.job(id) "
                "instead of submitting again (each job is billed)"
            )
        logger.info("POST %s: answer lost (%s); no job was created, retrying", safe_path(url), what)
        return None


@contextlib.contextmanager
def _holding(budget: RateBudget | None, bucket: str | None) -> Iterator[None]:
    """Give back, when the block ends (answer or error), the token of ``bucket`` that the
    caller took with ``budget.acquire(..., until_release=True)``; nothing without a budget."""
    try:
        yield
    finally:
        if budget is not None and bucket:
            budget.release(bucket)


def _check_duration(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidOption("audio_duration", f"must be None or seconds > 0, got {value!r}")
    return float(value)

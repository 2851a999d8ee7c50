"""One exception hierarchy for the whole package.

Every error raised on purpose by pyannote-notebook derives from :class:`PyannoteNotebookError`,
so ``except PyannoteNotebookError`` catches all of them. Where the meaning matches a builtin the
class also derives from it (``WaitTimeout`` is a ``TimeoutError``, ``InvalidOption`` a
``ValueError``, ``ConnectionFailed`` a ``ConnectionError``...), so generic code keeps working.

Rules every subclass follows:

* the message says what went wrong **and what to do next**;
* no secret (API key, webhook secret, signed URL) ever appears in a message or a repr.

The layers raise:

* ``api/``: :class:`APIError` and its HTTP-status subclasses, :class:`ConnectionFailed`,
  :class:`InvalidOption` (client-side validation, raised before any request is sent);
* ``jobs/``: :class:`JobFailed`, :class:`JobCanceled`, :class:`WaitTimeout`,
  :class:`StoreError`, :class:`SignatureError`;
* ``results/`` and ``analysis/``: :class:`FormatError` (file and line), :class:`InvalidOption`;
* ``engine/``: :class:`EngineError`, :class:`AudioError`, :class:`WeightsMissing`;
* ``server/``: :class:`ServerStartError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "PyannoteNotebookError",
    "InvalidOption",
    "APIError",
    "FieldError",
    "BadRequest",
    "AuthenticationError",
    "PaymentRequired",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "ConnectionFailed",
    "JobError",
    "JobFailed",
    "JobCanceled",
    "WaitTimeout",
    "StoreError",
    "SignatureError",
    "FormatError",
    "EngineError",
    "AudioError",
    "WeightsMissing",
    "ServerStartError",
]


class PyannoteNotebookError(Exception):
    """Base class of every error pyannote-notebook raises on purpose."""


class InvalidOption(PyannoteNotebookError, ValueError):
    """A request option or function argument is invalid; nothing was sent or changed.

    Parameters
    ----------
    option : str
        Name of the offending option as the user spells it (``"num_speakers"``).
    message : str
        What is wrong and what is allowed.
    """

    def __init__(self, option: str, message: str) -> None:
        self.option = option
        super().__init__(f"{option}: {message}")


# --------------------------------------------------------------------------- HTTP API errors


@dataclass(frozen=True)
class FieldError:
    """One entry of a 400 response's ``errors`` list."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class APIError(PyannoteNotebookError):
    """The pyannoteAI API (or a compatible server) answered with an error status.

    Attributes
    ----------
    status_code : int | None
        HTTP status of the response.
    message : str
        The service's ``message`` field (or the reason phrase).
    request_id : str | None
        The service's ``requestId`` when it sent one; quote it to support.
    method, path : str | None
        The request that failed (path only: never the query string or a signed URL).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        body: Any = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.method = method
        self.path = path
        self.body = body
        where = f"{method} {path}: " if method and path else ""
        status = f"HTTP {status_code}: " if status_code else ""
        rid = f" (requestId {request_id})" if request_id else ""
        super().__init__(f"{where}{status}{message}{rid}{self._hint()}")

    def _hint(self) -> str:
        return ""


class BadRequest(APIError, ValueError):
    """400: the service rejected the request; ``errors`` lists the fields at fault."""

    def __init__(self, message: str, *, errors: list[FieldError] | None = None, **kw: Any) -> None:
        self.errors: list[FieldError] = list(errors or [])
        if self.errors:
            message = f"{message} [" + "; ".join(str(e) for e in self.errors) + "]"
        super().__init__(message, **kw)


class AuthenticationError(APIError):
    """401: the API key is missing or unknown."""

    def _hint(self) -> str:
        return (
            ". Check the key (argument api_key=, or PYANNOTEAI_API_KEY); create one at "
            "dashboard.pyannote.ai"
        )


class PaymentRequired(APIError):
    """402: the team has no subscription or is over its budget."""


class NotFound(APIError, LookupError):
    """404: unknown job id or resource (or its output expired)."""


class PayloadTooLarge(APIError):
    """413: the upload is larger than the service accepts."""


class RateLimited(APIError):
    """429: too many requests. ``retry_after`` is the wait (seconds) the service asked for."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)

    def _hint(self) -> str:
        if self.retry_after is not None:
            return f"; retry after {self.retry_after:g} s"
        return ""


class ServerError(APIError):
    """5xx: the service failed; the request may be retried later."""


class ConnectionFailed(PyannoteNotebookError, ConnectionError):
    """The service could not be reached (DNS, refused, reset, read timeout)."""


# --------------------------------------------------------------------------- jobs


class JobError(PyannoteNotebookError):
    """Base class of errors about one job; ``job_id`` names it."""

    def __init__(self, job_id: str, message: str) -> None:
        self.job_id = job_id
        super().__init__(message)


class JobFailed(JobError):
    """The job ended with status ``failed``; ``error`` is the service's error text."""

    def __init__(self, job_id: str, error: str | None) -> None:
        self.error = error or "no error text given"
        super().__init__(job_id, f"job {job_id} failed: {self.error}")


class JobCanceled(JobError):
    """The job ended with status ``canceled``."""

    def __init__(self, job_id: str, error: str | None = None) -> None:
        self.error = error
        extra = f": {error}" if error else ""
        super().__init__(job_id, f"job {job_id} was canceled{extra}")


class WaitTimeout(JobError, TimeoutError):
    """Waiting for a job took longer than ``timeout``; **the job keeps running**.

    Re-attach later with ``client.job(job_id)`` (or ``pyannote_notebook.job(job_id)``) and call
    ``.wait()`` again: nothing is submitted twice.
    """

    def __init__(self, job_id: str, timeout: float, last_status: str | None = None) -> None:
        self.timeout = timeout
        self.last_status = last_status
        status = f" (last status: {last_status})" if last_status else ""
        super().__init__(
            job_id,
            f"job {job_id} not finished after {timeout:g} s{status}. The job keeps running on "
            f"the service; re-attach with client.job({job_id!r}).wait() or "
            f"pyannote_notebook.job({job_id!r}).result()",
        )


class StoreError(PyannoteNotebookError):
    """The local SQLite job store could not be opened, migrated or written."""


class SignatureError(PyannoteNotebookError):
    """A webhook request failed verification (missing/bad signature, stale timestamp)."""


# --------------------------------------------------------------------------- files


class FormatError(PyannoteNotebookError, ValueError):
    """A file (RTTM, UEM, JSON output) is malformed.

    Attributes
    ----------
    path : str | None
        File name (or ``"<string>"``).
    line : int | None
        1-based line number of the offending line.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = ""
        if path is not None and line is not None:
            where = f"{path}:{line}: "
        elif path is not None:
            where = f"{path}: "
        elif line is not None:
            where = f"line {line}: "
        self.reason = message
        super().__init__(f"{where}{message}")


# --------------------------------------------------------------------------- engine / server


class EngineError(PyannoteNotebookError):
    """The local diarization engine failed."""


class AudioError(EngineError, ValueError):
    """An audio file is unreadable, empty or of an unsupported format."""


class WeightsMissing(EngineError, FileNotFoundError):
    """Model weights for the local engine are not installed (message gives the pip command)."""


class ServerStartError(PyannoteNotebookError, RuntimeError):
    """The local pyannoteAI-compatible server could not start."""

"""Retry policy pieces: backoff delays, ``Retry-After`` parsing, failure classification, and the
mapping of HTTP answers to the exception hierarchy.

Why not only urllib3's ``Retry``: it retries inside the adapter, where the client can neither
spend a rate-budget token per attempt nor run the reconciliation that job-creating POSTs need
after an ambiguous failure (see ``client.py``). The adapter still retries the one case that is
always safe (the connection could not be opened, so nothing was sent) and we reuse urllib3's
``Retry-After`` parser.
"""

from __future__ import annotations

import random
import re
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

from pyannote_notebook.errors import (
    APIError,
    AuthenticationError,
    BadRequest,
    ConnectionFailed,
    FieldError,
    NotFound,
    PayloadTooLarge,
    PaymentRequired,
    RateLimited,
    ServerError,
)

__all__ = [
    "backoff_delay",
    "parse_retry_after",
    "is_connect_error",
    "error_from_response",
    "connection_error",
    "redact",
    "redact_json",
    "adapter_retry",
    "DeadlineReached",
]

_RETRY_AFTER = Retry()


class DeadlineReached(ConnectionFailed):
    """A request with a caller's deadline (``Job.wait(timeout=...)``) could not be answered in time.

    Raised by the client instead of starting an attempt (or taking a rate-budget token) once the
    deadline has passed; ``Job.wait`` turns it into :class:`~pyannote_notebook.errors.WaitTimeout`.
    """


def adapter_retry(connect: int = 2) -> Retry:
    """The ``Retry`` mounted on the client's adapter: connection-setup failures only.

    Nothing was sent when the connection could not be opened, so this is safe for every method,
    including job-creating POSTs; reads, statuses and everything else are left to the client.
    """
    return Retry(total=None, connect=connect, read=0, status=0, other=0, redirect=None,
                 backoff_factor=0.1, backoff_max=2.0, raise_on_status=False)


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 30.0,
                  rng: random.Random | None = None) -> float:
    """Jittered exponential backoff: ``d = min(cap, base * 2**attempt)``, uniform in [d/2, d]."""
    d = min(cap, base * (2 ** max(0, attempt)))
    r = (rng or random).random()
    return d / 2 + r * d / 2


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date); ``None`` if absent/bad."""
    if value is None:
        return None
    try:
        return max(0.0, float(_RETRY_AFTER.parse_retry_after(str(value))))
    except Exception:  # urllib3 raises InvalidHeader on garbage
        return None


def is_connect_error(exc: BaseException) -> bool:
    """Whether ``exc`` proves the request was never sent (connection could not be opened)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ProxyError):
        return True
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (NewConnectionError, ConnectTimeoutError, ConnectionRefusedError)):
            return True
        if isinstance(item, BaseException):
            stack.extend(item.args)
            stack.append(getattr(item, "reason", None))
            stack.append(item.__cause__)
            stack.append(item.__context__)
    return False


_QUERY = re.compile(r"\?[^\s'\"<>)]*")


def redact(text: str, *secrets: str) -> str:
    """Remove query strings (signed URLs) and the given secrets from ``text``."""
    text = _QUERY.sub("?<redacted>", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def redact_json(value: Any, *secrets: str) -> Any:
    """``value`` (parsed JSON) with :func:`redact` applied to every string in it."""
    if isinstance(value, str):
        return redact(value, *secrets)
    if isinstance(value, dict):
        return {redact(str(k), *secrets): redact_json(v, *secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v, *secrets) for v in value]
    return value


def safe_path(url: str) -> str:
    """The path of ``url`` without scheme, host or query (safe to show)."""
    return urlsplit(url).path or "/"


def connection_error(method: str, url: str, exc: BaseException, *secrets: str,
                     note: str = "") -> ConnectionFailed:
    """A :class:`ConnectionFailed` describing ``exc`` without query strings or secrets."""
    parts = urlsplit(url)
    reason = redact(f"{type(exc).__name__}: {exc}", *secrets)
    if len(reason) > 300:
        reason = reason[:300] + "..."
    msg = (f"{method} {parts.scheme}://{parts.netloc}{parts.path}: could not complete the request "
           f"({reason}). Check the network and the base URL"
           f"{'; ' + note if note else ''}")
    return ConnectionFailed(msg)


def error_from_response(method: str, url: str, response: requests.Response,
                        *secrets: str) -> APIError:
    """Map an error response to the exception hierarchy (400/401/402/404/413/429/5xx)."""
    status = response.status_code
    body: object = None
    try:
        body = redact_json(response.json(), *secrets)  # a server may echo the key back
    except ValueError:
        body = None
    message = ""
    request_id = None
    field_errors: list[FieldError] = []
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("detail") or "")
        request_id = body.get("requestId")
        for item in body.get("errors") or []:
            if isinstance(item, dict):
                field_errors.append(FieldError(str(item.get("field", "")),
                                               str(item.get("message", ""))))
    if not message:
        message = response.reason or f"HTTP {status}"
    message = redact(message, *secrets)
    kw = dict(status_code=status, request_id=request_id, method=method, path=safe_path(url),
              body=body)
    if status == 400:
        return BadRequest(message, errors=field_errors, **kw)
    if status == 401:
        return AuthenticationError(message, **kw)
    if status == 402:
        return PaymentRequired(message, **kw)
    if status == 404:
        return NotFound(message, **kw)
    if status == 413:
        return PayloadTooLarge(message, **kw)
    if status == 429:
        return RateLimited(message, retry_after=parse_retry_after(response.headers.get("Retry-After")),
                           **kw)
    if status >= 500:
        return ServerError(message, **kw)
    return APIError(message, **kw)

"""Signed webhook delivery with the cloud's retry policy, sent with ``requests``.

On a job's terminal status the server POSTs ``{jobId, status, output?}``. Each attempt carries
``X-Request-Timestamp`` (unix seconds) and ``X-Signature`` = base64 (or hex) of
HMAC-SHA256(secret as UTF-8, ``f"v0:{timestamp}:{raw_body}"``), computed over the exact bytes
sent. A failed attempt (timeout, connection failure, more than 2 redirects, non-2xx status, any
other error) is retried up to ``len(retry_delays)`` times after those delays, each retry carrying
``x-retry-num`` (1, 2, 3) and ``x-retry-reason`` (why the *previous* attempt failed).

Redirects are followed by hand (``allow_redirects=False``): ``requests`` would turn the POST into
a GET on 301/302/303 and drop the body, so a webhook behind a redirect would be lost while
recorded as delivered. Each redirect re-POSTs the same body with the same signature headers to
``Location``; the contract allows at most :data:`MAX_REDIRECTS`, one more fails the attempt with
``too_many_redirects``.

Deliveries run on a small thread pool; waits between retries end early when the server stops.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests

from .stats import ServerStats

__all__ = ["WebhookDelivery", "DeliveryAttempt", "sign_webhook", "retry_reason"]

log = logging.getLogger(__name__)
MAX_REDIRECTS = 2
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def sign_webhook(secret: str, timestamp: int | str, body: bytes, encoding: str = "base64") -> str:
    """Signature of one webhook: base64 or hex of HMAC-SHA256(secret, ``v0:{ts}:{body}``)."""
    content = b"v0:" + str(timestamp).encode("ascii") + b":" + body
    digest = hmac.new(secret.encode("utf-8"), content, hashlib.sha256)
    if encoding == "hex":
        return digest.hexdigest()
    return base64.b64encode(digest.digest()).decode("ascii")


def retry_reason(exc: BaseException | None, status_code: int | None = None) -> str:
    """The ``x-retry-reason`` code describing a failed attempt."""
    if exc is None:
        return "http_error" if status_code is not None else "unknown_error"
    if isinstance(exc, requests.Timeout):
        return "http_timeout"
    if isinstance(exc, requests.TooManyRedirects):
        return "too_many_redirects"
    if isinstance(exc, requests.exceptions.SSLError):
        return "ssl_error"
    if isinstance(exc, requests.ConnectionError):
        return "connection_failed"
    return "unknown_error"


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of a webhook (``retry_num`` 0 = first attempt)."""

    job_id: str
    url: str
    retry_num: int
    retry_reason: str | None
    status_code: int | None
    outcome: str  # "delivered" or the reason code of the failure
    at: float


class WebhookDelivery:
    """Deliver webhooks in the background.

    Parameters
    ----------
    secret : str
        Signing secret (used as UTF-8 bytes).
    encoding : str
        ``"base64"`` (default, as the docs' prose says) or ``"hex"``.
    retry_delays : Sequence[float]
        Delay before retry 1, 2, 3... (the cloud: 0 s, 60 s, 300 s).
    timeout : float
        Seconds each attempt may take (connect + read) before it counts as ``http_timeout``.
    stats : ServerStats
        Where attempts are counted.
    """

    def __init__(self, secret: str, encoding: str = "base64", retry_delays: Sequence[float] = (0.0, 60.0, 300.0),
                 timeout: float = 10.0, stats: ServerStats | None = None, workers: int = 4) -> None:
        if encoding not in ("base64", "hex"):
            raise ValueError(f"signature encoding must be 'base64' or 'hex', got {encoding!r}")
        self._secret = secret
        self.encoding = encoding
        self.retry_delays = tuple(float(d) for d in retry_delays)
        self.timeout = float(timeout)
        self.stats = stats or ServerStats()
        self.attempts: list[DeliveryAttempt] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pyannote-webhook")
        self._pending: set[Future[None]] = set()

    def __repr__(self) -> str:
        return f"WebhookDelivery(encoding={self.encoding!r}, retry_delays={self.retry_delays!r})"

    def submit(self, url: str, payload: dict[str, Any]) -> None:
        """Queue the delivery of ``payload`` to ``url``; returns at once. Never raises."""
        if self._stopping.is_set():
            return
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        try:
            future = self._pool.submit(self._deliver, url, str(payload.get("jobId")), body)
        except RuntimeError:  # pool shut down concurrently
            return
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def idle(self) -> bool:
        """Whether no delivery is queued or in progress."""
        with self._lock:
            return not self._pending

    def _deliver(self, url: str, job_id: str, body: bytes) -> None:
        reason: str | None = None
        for retry_num in range(len(self.retry_delays) + 1):
            if retry_num:
                if self._stopping.wait(self.retry_delays[retry_num - 1]):
                    return
            status_code, outcome = self._attempt(url, body, retry_num, reason)
            with self._lock:
                self.attempts.append(DeliveryAttempt(job_id, url, retry_num, reason, status_code,
                                                     outcome, time.time()))
            if outcome == "delivered":
                return
            reason = outcome
        log.warning("webhook for job %s not delivered after %d attempts (last: %s)",
                    job_id, len(self.retry_delays) + 1, reason)

    def _attempt(self, url: str, body: bytes, retry_num: int, reason: str | None) -> tuple[int | None, str]:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Request-Timestamp": str(timestamp),
            "X-Signature": sign_webhook(self._secret, timestamp, body, self.encoding),
        }
        if retry_num:
            headers["x-retry-num"] = str(retry_num)
            headers["x-retry-reason"] = reason or "unknown_error"
        self.stats.count_webhook_attempt()
        try:
            with requests.Session() as session:
                for redirects in range(MAX_REDIRECTS + 1):
                    response = session.post(url, data=body, headers=headers, timeout=self.timeout,
                                            allow_redirects=False)
                    response.close()
                    location = response.headers.get("Location")
                    if response.status_code not in REDIRECT_STATUSES or not location:
                        break
                    if redirects == MAX_REDIRECTS:
                        return response.status_code, "too_many_redirects"
                    url = urljoin(url, location)  # same body, same signed headers
        except Exception as exc:  # noqa: BLE001 - every failure is a retry reason
            return None, retry_reason(exc)
        if 200 <= response.status_code < 300:
            return response.status_code, "delivered"
        return response.status_code, "http_error"

    def stop(self, *, wait: bool = True) -> None:
        """Stop retrying and drop queued deliveries; waits for in-flight attempts, each bounded by
        the per-attempt ``timeout`` (``wait=False``, at interpreter exit: returns at once, and
        the exit still joins an attempt in flight)."""
        self._stopping.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)

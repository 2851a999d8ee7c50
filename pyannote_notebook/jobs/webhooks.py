"""Receive pyannoteAI webhooks: verify the signature, de-duplicate, store, wake the waiter.

Why hand-written: the service signs ``v0:{timestamp}:{raw body}`` with HMAC-SHA256 and its docs
disagree on the encoding (prose: base64; sample code: hex), so :func:`verify_signature` accepts
both, with a constant-time comparison (:func:`hmac.compare_digest`) and a timestamp tolerance the
docs leave to the receiver. The receiver itself is the stdlib :class:`http.server.ThreadingHTTPServer`
in a background thread: a notebook needs no extra web framework to get callbacks.

Framework-neutral use (:class:`WebhookHandler`) from a FastAPI app::

    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from pyannote_notebook.jobs.webhooks import WebhookHandler

    handler = WebhookHandler(secret=os.environ["PYANNOTEAI_WEBHOOK_SECRET"])
    app = FastAPI()

    @app.post("/webhook")
    async def webhook(request: Request):
        status, payload = handler.handle(await request.body(), request.headers)
        return JSONResponse(payload, status_code=status)

and from Flask::

    from flask import Flask, request, jsonify

    app = Flask(__name__)

    @app.post("/webhook")
    def webhook():
        status, payload = handler.handle(request.get_data(), request.headers)
        return jsonify(payload), status
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from ..config import Secret
from ..errors import InvalidOption, SignatureError
from .store import JobStore

__all__ = ["verify_signature", "WebhookHandler", "WebhookReceiver"]

log = logging.getLogger(__name__)

_TS_RE = re.compile(r"-?[0-9]{1,15}")
_STATUSES = frozenset({"created", "pending", "running", "succeeded", "failed", "canceled"})


def _secret_bytes(secret: str | bytes | Secret) -> bytes:
    if isinstance(secret, Secret):
        return secret.reveal().encode("utf-8")
    if isinstance(secret, bytes):
        return secret
    return str(secret).encode("utf-8")


def verify_signature(
    body: bytes,
    timestamp: str | int | None,
    signature: str | None,
    secret: str | Secret,
    *,
    tolerance: float = 300,
    now: float | None = None,
) -> None:
    """Check a webhook's ``X-Signature`` against ``HMAC-SHA256(secret, "v0:{timestamp}:" + body)``.

    Parameters
    ----------
    body : bytes
        The raw request body, exactly as received (before any JSON parsing).
    timestamp : str or int
        The ``X-Request-Timestamp`` header (unix seconds).
    signature : str
        The ``X-Signature`` header: base64 **or** hex of the HMAC digest (both are accepted,
        as the service's docs disagree).
    secret : str or Secret
        The team's webhook secret (used as UTF-8 bytes).
    tolerance : float
        Maximum distance in seconds between ``timestamp`` and ``now`` (past or future).
    now : float, optional
        Current unix time (tests); default :func:`time.time`.

    Raises
    ------
    SignatureError
        Missing header, non-numeric timestamp, timestamp older or newer than ``tolerance``, or a
        signature that matches neither encoding. The message never contains the secret or the
        expected signature. Returns ``None`` when the request is authentic.
    """
    if timestamp is None or str(timestamp).strip() == "":
        raise SignatureError("missing X-Request-Timestamp header: not a pyannoteAI webhook")
    if signature is None or str(signature).strip() == "":
        raise SignatureError("missing X-Signature header: not a pyannoteAI webhook")
    ts_text = str(timestamp).strip()
    if not _TS_RE.fullmatch(ts_text):
        raise SignatureError(
            f"X-Request-Timestamp {ts_text[:40]!r} is not a number of seconds since the epoch"
        )
    ts = int(ts_text)
    now = time.time() if now is None else float(now)
    if ts < now - tolerance:
        raise SignatureError(
            f"stale webhook: timestamp {ts} is {now - ts:.0f} s old (tolerance {tolerance:g} s); "
            "a replayed request or a clock far off"
        )
    if ts > now + tolerance:
        raise SignatureError(
            f"webhook timestamp {ts} is {ts - now:.0f} s in the future (tolerance {tolerance:g} s); "
            "check the clock"
        )
    if isinstance(body, str):
        body = body.encode("utf-8")
    mac = hmac.new(
        _secret_bytes(secret), b"v0:" + ts_text.encode("ascii") + b":" + bytes(body), hashlib.sha256
    ).digest()
    given = str(signature).strip()
    candidates: list[bytes] = []
    try:
        candidates.append(base64.b64decode(given, validate=True))
    except (binascii.Error, ValueError):
        pass
    if len(given) == 64:
        try:
            candidates.append(bytes.fromhex(given))
        except ValueError:
            pass
    # compare every candidate (no early exit on the first decoding that fails)
    ok = False
    for cand in candidates:
        ok |= hmac.compare_digest(cand, mac)
    if not ok:
        raise SignatureError(
            "webhook signature does not match: the body was altered or the webhook secret is "
            "wrong (use the secret shown on dashboard.pyannote.ai > Webhooks)"
        )


class _Headers:
    """Case-insensitive view over any headers mapping."""

    def __init__(self, headers: Mapping[str, str] | Any) -> None:
        items = headers.items() if hasattr(headers, "items") else headers
        self._d = {str(k).lower(): str(v) for k, v in items}

    def get(self, name: str) -> str | None:
        return self._d.get(name.lower())


def _validate_payload(data: Any) -> str | None:
    """Schema check of a webhook body; returns the problem or None."""
    if not isinstance(data, dict):
        return "body must be a JSON object"
    job_id = data.get("jobId")
    if not isinstance(job_id, str) or not job_id.strip() or len(job_id) > 200:
        return "jobId: missing or not a string"
    status = data.get("status")
    if status not in _STATUSES:
        return f"status: {str(status)[:40]!r} is not a job status"
    if "output" in data and data["output"] is not None and not isinstance(data["output"], dict):
        return "output: must be an object"
    return None


class WebhookHandler:
    """Framework-neutral webhook endpoint: ``handle(body, headers) -> (status_code, payload)``.

    Parameters
    ----------
    secret : str or Secret
        The webhook secret (never shown in ``repr`` or logs).
    store : JobStore, optional
        Where outputs are written (de-duplication uses its ``webhook_events`` table). Without a
        store, deliveries are de-duplicated in memory for the handler's lifetime.
    tolerance : float
        Timestamp tolerance (seconds), see :func:`verify_signature`.
    max_body : int
        Larger bodies are answered 413 without being read further or verified.

    Notes
    -----
    Answers: 413 too large, 401 bad/missing signature or stale timestamp, 400 not JSON or not a
    job payload, 200 accepted (``{"ok": true, "duplicate": bool}``). A rejected request never
    touches the store. An accepted, new delivery is stored and then passed to
    :func:`pyannote_notebook.api.notify_job`, which wakes a ``Job.wait`` on that id at once.
    A store failure answers 500 so the service retries.
    """

    def __init__(
        self,
        secret: str | Secret,
        store: JobStore | None = None,
        *,
        tolerance: float = 300,
        max_body: int = 1 << 20,
    ) -> None:
        self._secret = secret if isinstance(secret, Secret) else Secret(secret)
        self.store = store
        self.tolerance = tolerance
        self.max_body = int(max_body)
        self._seen: set[tuple[str, str]] = set()
        self._seen_lock = threading.Lock()
        self.accepted = 0
        self.rejected = 0
        self.duplicates = 0

    def __repr__(self) -> str:
        return f"WebhookHandler(secret=***, store={self.store!r}, tolerance={self.tolerance!r})"

    def _reject(self, code: int, message: str) -> tuple[int, dict[str, Any]]:
        self.rejected += 1
        log.info("webhook rejected (%d): %s", code, message)
        return code, {"ok": False, "error": message}

    def handle(
        self, body: bytes, headers: Mapping[str, str] | Any, *, now: float | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Verify and process one delivery; returns ``(http_status, json_payload)``.

        Never raises for bad input (it is answered 4xx); a store error answers 500.
        """
        if body is None:
            body = b""
        if len(body) > self.max_body:
            return self._reject(413, f"body larger than {self.max_body} bytes")
        h = _Headers(headers)
        try:
            verify_signature(
                body, h.get("X-Request-Timestamp"), h.get("X-Signature"), self._secret,
                tolerance=self.tolerance, now=now,
            )
        except SignatureError as exc:
            return self._reject(401, str(exc))
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return self._reject(400, "body is not valid JSON")
        problem = _validate_payload(data)
        if problem is not None:
            return self._reject(400, problem)
        job_id: str = data["jobId"]
        status: str = data["status"]
        output = data.get("output") if isinstance(data.get("output"), dict) else None
        if self.store is not None:
            try:
                new = self.store.apply_webhook(job_id, status, output)
            except Exception as exc:  # the service will retry
                log.warning("webhook for job %s not stored: %s", job_id, exc)
                return 500, {"ok": False, "error": "could not store the delivery; retry"}
        else:
            with self._seen_lock:
                new = (job_id, status) not in self._seen
                self._seen.add((job_id, status))
        if not new:
            self.duplicates += 1
            return 200, {"ok": True, "duplicate": True}
        self.accepted += 1
        try:
            from ..api import notify_job

            notify_job(data)
        except Exception as exc:  # pragma: no cover - waking is best effort; polling is the fallback
            log.warning("could not notify waiters of job %s: %s", job_id, exc)
        return 200, {"ok": True, "duplicate": False}


class WebhookReceiver:
    """A webhook endpoint in a background thread (stdlib ``ThreadingHTTPServer``) on loopback.

    Parameters
    ----------
    secret : str or Secret
        The webhook secret of the server that will call back.
    port : int
        0 picks a free port (see :attr:`url`).
    host : str
        Interface to bind (default loopback).
    store : JobStore, str, Path, None or False
        Where accepted deliveries are written (:class:`WebhookHandler`). ``None`` (default): the
        default store file, the one ``pyannote_notebook.diarize`` uses (``PYANNOTE_NOTEBOOK_STORE``
        or the user cache), so an output delivered while nobody waits is kept past the service's
        24 h deletion. A path opens that file. ``False``: nothing is written (deliveries are only
        de-duplicated in memory and wake waiters).
    tolerance, max_body
        Passed to the :class:`WebhookHandler`.

    Examples
    --------
    >>> with WebhookReceiver(secret, store=store) as rx:               # doctest: +SKIP
    ...     job = submit("call.wav", webhook=rx.url)
    ...     job.result()  # woken by the webhook, polling is only a slow fallback

    Notes
    -----
    Every POST, on any path, is answered by the handler; a body without ``Content-Length`` is
    answered 411 and one above ``max_body`` 413 before reading it. ``stop()`` shuts the server
    down and joins its thread.
    """

    def __init__(
        self,
        secret: str | Secret,
        port: int = 0,
        host: str = "127.0.0.1",
        store: JobStore | str | os.PathLike[str] | None | Literal[False] = None,
        *,
        tolerance: float = 300,
        max_body: int = 1 << 20,
    ) -> None:
        if store is False:
            resolved: JobStore | None = None
        elif isinstance(store, JobStore):
            resolved = store
        elif store is None or isinstance(store, (str, os.PathLike)):
            resolved = JobStore(store)
        else:
            raise InvalidOption("store", f"must be a JobStore, a path, None or False, got {type(store).__name__}")
        self.handler = WebhookHandler(secret, resolved, tolerance=tolerance, max_body=max_body)
        self.host = host
        self.port = int(port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        return f"WebhookReceiver(url={self.url if self._server else None!r}, {state})"

    @property
    def url(self) -> str:
        """The URL to pass as ``webhook=`` (valid once started)."""
        if self._server is None:
            raise RuntimeError("WebhookReceiver is not started: call .start() or use `with`")
        return f"http://{self.host}:{self.port}/webhook"

    def start(self) -> WebhookReceiver:
        """Bind and serve in a daemon thread; returns self. Idempotent."""
        if self._server is not None:
            return self
        handler = self.handler

        class _Req(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if code >= 400:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                length_text = self.headers.get("Content-Length")
                if length_text is None or not length_text.strip().isdigit():
                    handler.rejected += 1
                    self._send(411, {"ok": False, "error": "Content-Length required"})
                    return
                length = int(length_text)
                if length > handler.max_body:
                    handler.rejected += 1
                    self._send(413, {"ok": False, "error": f"body larger than {handler.max_body} bytes"})
                    return
                body = self.rfile.read(length)
                code, payload = handler.handle(body, dict(self.headers.items()))
                self._send(code, payload)

            def do_GET(self) -> None:  # noqa: N802
                self._send(405, {"ok": False, "error": "POST webhooks here"})

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                log.debug("webhook receiver: " + format, *args)

        server = ThreadingHTTPServer((self.host, self.port), _Req)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"pyannote-webhook-{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and join the thread. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

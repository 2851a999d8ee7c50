"""Test helpers around the local server: a WAV writer and a webhook receiver.

``WebhookReceiver`` is a deliberately tiny ``http.server`` receiver that records every request
(raw body bytes and headers) and answers with scripted statuses, so tests can verify signatures
themselves and observe retries. It is a test instrument, not the production receiver (that lives
on the client side, in ``pyannote_notebook.jobs``).
"""

from __future__ import annotations

import math
import struct
import threading
import time
import wave
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

    from .handle import ServerHandle

__all__ = ["write_wav", "WebhookReceiver", "ReceivedRequest", "upload_file", "wait_job"]


def write_wav(path: str | Path, seconds: float = 3.0, sample_rate: int = 16000,
              frequency: float = 220.0) -> Path:
    """Write a mono 16-bit sine-tone WAV file with the stdlib ``wave`` module; return its path."""
    path = Path(path)
    n = int(round(seconds * sample_rate))
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * frequency * i / sample_rate)))
                      for i in range(n))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(frames)
    return path


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the receiver got (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class WebhookReceiver:
    """Loopback HTTP server recording POSTs; answers ``statuses`` in order, then ``default``.

    Parameters
    ----------
    statuses : Iterable[int]
        Status codes of the first answers (e.g. ``[500, 200]`` to force one retry).
    default : int
        Status of every later answer.
    delay : float
        Seconds to wait before answering (to provoke webhook timeouts).
    redirects : Mapping[str, tuple[int, str]] | None
        Request path -> (3xx status, ``Location``) answered instead of the scripted status
        (requests of any method on that path are recorded too).
    """

    def __init__(self, statuses: Iterable[int] = (), default: int = 200, delay: float = 0.0,
                 redirects: Mapping[str, tuple[int, str]] | None = None) -> None:
        self._statuses = list(statuses)
        self.default = default
        self.delay = delay
        self.redirects = dict(redirects or {})
        self.requests: list[ReceivedRequest] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                location = None
                with receiver._cond:
                    receiver.requests.append(ReceivedRequest(
                        self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                        time.time()))
                    if self.path in receiver.redirects:
                        status, location = receiver.redirects[self.path]
                    else:
                        status = receiver._statuses.pop(0) if receiver._statuses else receiver.default
                    receiver._cond.notify_all()
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    if location is not None:
                        self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

            do_GET = do_POST  # a redirect turned into GET would be recorded, not lost

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver",
                                        daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Wait until ``count`` requests arrived; return them all (raises TimeoutError otherwise)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(f"received {len(self.requests)} webhook requests, expected {count}")
            return list(self.requests)

    def stop(self) -> None:
        """Stop the receiver."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _session(handle: ServerHandle, session: requests.Session | None) -> requests.Session:
    import requests

    if session is not None:
        return session
    new = requests.Session()
    new.headers["Authorization"] = f"Bearer {handle.api_key}"
    return new


def upload_file(handle: ServerHandle, path: str | Path, key: str,
                session: requests.Session | None = None) -> str:
    """Upload ``path`` under ``media://{key}`` through the presigned flow; return the media URL.

    Raises
    ------
    AssertionError
        The server answered something else than 201 (URL) or 200 (PUT); the message has the body.
    """
    import requests

    media = f"media://{key}"
    s = _session(handle, session)
    answer = s.post(f"{handle.base_url}/media/input", json={"url": media}, timeout=10)
    assert answer.status_code == 201, answer.text
    with open(path, "rb") as f:
        put = requests.put(answer.json()["url"], data=f, timeout=30)
    assert put.status_code == 200, put.text
    return media


def wait_job(handle: ServerHandle, job_id: str, session: requests.Session | None = None,
             timeout: float = 10.0, interval: float = 0.02) -> dict[str, Any]:
    """Poll ``GET /v1/jobs/{job_id}`` until the job is terminal and return its JSON.

    Raises
    ------
    TimeoutError
        Still not terminal after ``timeout`` seconds (the message gives the last status).
    """
    s = _session(handle, session)
    deadline = time.monotonic() + timeout
    while True:
        job = s.get(f"{handle.base_url}/jobs/{job_id}", timeout=10).json()
        if job.get("status") in ("succeeded", "failed", "canceled"):
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job.get('status')} after {timeout:g} s")
        time.sleep(interval)

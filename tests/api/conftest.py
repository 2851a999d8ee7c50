"""Fixtures of the api tests: a fake transport (a requests adapter answering from Python) for
unit tests, and the real loopback server for end-to-end tests."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from pyannote_notebook.api import Client

FAKE_BASE = "http://fake.test/v1"
FAKE_KEY = "sk_unit_test_key_0123456789"


@dataclass
class Call:
    method: str
    url: str
    path: str
    headers: dict[str, str]
    json: Any
    body: Any  # the raw body object handed to the transport (before consumption)
    data: bytes | None = None  # consumed body bytes (PUT; only when keep_bodies)
    size: int = 0  # bytes of a consumed streamed body
    max_chunk: int = 0
    sha256: str = ""


Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]


@dataclass
class FakeAdapter(BaseAdapter):
    """Routes requests to handlers ``handler(call, match) -> (status, json[, headers])`` or raises."""

    routes: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    keep_bodies: bool = True

    def __post_init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def route(self, method: str, pattern: str, handler: Callable[..., Reply] | Reply) -> None:
        if not callable(handler):
            reply = handler
            handler = lambda call, m: reply  # noqa: E731
        self.routes.insert(0, (method, re.compile(pattern + r"(\?.*)?$"), handler))

    def seq(self, method: str, pattern: str, replies: list[Any]) -> None:
        """Answer successive requests with ``replies`` (the last one repeats); exceptions are raised."""
        items = list(replies)

        def handler(call: Call, m: re.Match[str]) -> Reply:
            item = items.pop(0) if len(items) > 1 else items[0]
            if isinstance(item, BaseException):
                raise item
            if callable(item):
                return item(call, m)
            return item

        self.route(method, pattern, handler)

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:
        from urllib.parse import urlsplit

        parts = urlsplit(request.url)
        body = request.body
        payload = None
        if isinstance(body, (bytes, str)) and body:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
        call = Call(request.method or "", request.url or "", parts.path, dict(request.headers),
                    payload, body)
        with self.lock:
            self.calls.append(call)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for method, pattern, handler in self.routes:
            m = pattern.match(target)
            if method == request.method and m:
                if body is not None and not isinstance(body, (bytes, str)):
                    self._consume(call, body)
                reply = handler(call, m)
                break
        else:
            reply = (599, {"message": f"no fake route for {request.method} {target}"})
        status, data, *rest = reply
        resp = requests.Response()
        resp.status_code = status
        resp.headers = CaseInsensitiveDict(rest[0] if rest else {})
        resp._content = json.dumps(data).encode() if data is not None else b""
        resp.url = request.url or ""
        resp.request = request
        resp.reason = "fake"
        return resp

    def close(self) -> None:
        pass

    def _consume(self, call: Call, body: Any) -> None:
        import hashlib

        digest = hashlib.sha256()
        parts: list[bytes] = []
        for chunk in body:
            chunk = bytes(chunk)
            digest.update(chunk)
            call.size += len(chunk)
            call.max_chunk = max(call.max_chunk, len(chunk))
            if self.keep_bodies:
                parts.append(chunk)
        call.sha256 = digest.hexdigest()
        if self.keep_bodies:
            call.data = b"".join(parts)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(1 for c in self.calls if (method is None or c.method == method)
                   and (path is None or c.path == path))


@pytest.fixture
def fake() -> FakeAdapter:
    return FakeAdapter()


@pytest.fixture
def make_client(fake: FakeAdapter) -> Callable[..., Client]:
    """Build a Client on the fake transport; sleeps are recorded in ``client.slept``, not slept."""

    def make(**kw: Any) -> Client:
        session = requests.Session()
        session.mount("http://fake.test", fake)
        kw.setdefault("api_key", FAKE_KEY)
        kw.setdefault("base_url", FAKE_BASE)
        kw.setdefault("rate_budget", False)
        client = Client(session=session, **kw)
        client.slept = []  # type: ignore[attr-defined]
        client._sleep = client.slept.append  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def client(make_client: Callable[..., Client]) -> Client:
    return make_client()


# --------------------------------------------------------------------------- loopback server


@pytest.fixture
def server():
    """A real local server (scripted engine, fast webhook retries) on a free loopback port."""
    from pyannote_notebook.server import ScriptedEngine, start_server

    handle = start_server(engine=ScriptedEngine(), webhook_retry_delays=(0.0, 0.05, 0.1),
                          webhook_timeout=2.0, job_workers=4)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def live(server) -> Client:
    """A client of ``server`` (default rate budget)."""
    with Client(server.api_key, server.base_url, timeout=10.0) as c:
        yield c


@pytest.fixture
def wav(tmp_path):
    from pyannote_notebook.server.testing import write_wav

    return write_wav(tmp_path / "tone.wav", seconds=3.0)

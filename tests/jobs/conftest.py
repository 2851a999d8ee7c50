"""Fixtures for the jobs tests: a real local server (scripted engine) and a session on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pyannote_notebook.api import Client
from pyannote_notebook.jobs.session import Session
from pyannote_notebook.server import Script, ScriptedEngine, start_server
from pyannote_notebook.server.testing import write_wav


@pytest.fixture
def server() -> Iterator:
    handle = start_server(engine=ScriptedEngine(default=Script(duration=0.05)),
                          webhook_retry_delays=(0.0, 0.05, 0.1), webhook_timeout=2.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def session(server, tmp_path: Path) -> Session:
    client = Client(api_key=server.api_key, base_url=server.base_url)
    return Session(client=client, store=tmp_path / "jobs.sqlite3", progress=False)


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    return write_wav(tmp_path / "meeting.wav", seconds=2.0)


def total_requests(handle) -> int:
    return sum(handle.stats.requests.values())

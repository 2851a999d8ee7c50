"""Fixtures of the server tests: a started scripted server, a WAV file, an authenticated session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from pyannote_notebook.server.handle import ServerHandle


@pytest.fixture
def api(pyannote_server: ServerHandle) -> Iterator[requests.Session]:
    """A requests session sending the server's API key."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {pyannote_server.api_key}"
        yield session

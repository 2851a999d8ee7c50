"""pytest fixtures for the local server. Load with ``pytest_plugins = ["pyannote_notebook.server.pytest_plugin"]``.

* ``pyannote_server``: a started server (function scope) with a fresh :class:`ScriptedEngine`,
  fast webhook retries (0, 0.05, 0.1 s) and a 2 s webhook timeout; stopped after the test.
* ``pyannote_wav``: a 3 s mono 16 kHz WAV file in the test's tmp_path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .handle import ServerHandle, start_server
from .scripted import ScriptedEngine
from .testing import write_wav

FAST_RETRIES = (0.0, 0.05, 0.1)


@pytest.fixture
def pyannote_server() -> Iterator[ServerHandle]:
    """A running local server on a free loopback port, scripted engine."""
    handle = start_server(engine=ScriptedEngine(), webhook_retry_delays=FAST_RETRIES, webhook_timeout=2.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def pyannote_wav(tmp_path: Path) -> Path:
    """A 3-second WAV file (mono, 16 kHz, 16-bit sine tone)."""
    return write_wav(tmp_path / "tone.wav", seconds=3.0)

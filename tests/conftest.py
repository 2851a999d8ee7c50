"""Top-level test configuration shared by every area of the suite."""

from __future__ import annotations

import os

pytest_plugins = ["pyannote_notebook.server.pytest_plugin"]

# Headless plotting everywhere; notebooks set their own backend in-kernel.
os.environ.setdefault("MPLBACKEND", "Agg")
# Never let a developer's real key or store leak into tests.
for _var in ("PYANNOTEAI_API_KEY", "PYANNOTE_API_KEY", "PYANNOTEAI_BASE_URL"):
    os.environ.pop(_var, None)

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_store(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Point the default job store at a per-run file, never at the user's cache."""
    os.environ["PYANNOTE_NOTEBOOK_STORE"] = str(tmp_path_factory.mktemp("store") / "jobs.sqlite3")

"""ServerStats.job_reads_by_agent: job GETs counted per (job id, User-Agent family)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from urllib3.util import SKIP_HEADER

from pyannote_notebook.server import Script, ScriptedEngine, start_server
from pyannote_notebook.server.handle import ServerHandle
from pyannote_notebook.server.stats import agent_family
from pyannote_notebook.server.testing import upload_file, write_wav


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    handle = start_server(engine=ScriptedEngine())
    try:
        yield handle
    finally:
        handle.stop()


def _finished_job(handle: ServerHandle, tmp_path: Path) -> str:
    media = upload_file(handle, write_wav(tmp_path / "tone.wav", seconds=0.5), "agents")
    handle.engine.script(media, Script(duration=0.0))
    answer = requests.post(f"{handle.base_url}/diarize", json={"url": media},
                           headers={"Authorization": f"Bearer {handle.api_key}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    job_id = answer.json()["jobId"]
    deadline = time.monotonic() + 10
    while handle.jobs_snapshot()[0]["status"] != "succeeded":  # no GET: that would be counted
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return job_id


def test_agent_family() -> None:
    assert agent_family("pyannote-notebook/0.1.0") == "pyannote-notebook"
    assert agent_family("pyannoteAI-sdk-python/0.4.0") == "pyannoteAI-sdk-python"
    assert agent_family("curl") == "curl"
    assert agent_family("") == "" and agent_family(None) == ""


def test_job_reads_counted_per_user_agent(server: ServerHandle, tmp_path: Path) -> None:
    job_id = _finished_job(server, tmp_path)
    url = f"{server.base_url}/jobs/{job_id}"
    auth = {"Authorization": f"Bearer {server.api_key}"}
    for agent, times in (("pyannote-notebook/0.1.0", 3), ("pyannoteAI-sdk-python/0.4.0", 2)):
        for _ in range(times):
            assert requests.get(url, headers={**auth, "User-Agent": agent}, timeout=10).status_code == 200
    # no User-Agent at all (urllib3 would add its own unless told to skip it)
    no_agent = {**auth, "User-Agent": SKIP_HEADER}
    assert requests.get(url, headers=no_agent, timeout=10).status_code == 200
    # a 404 (unknown job) is not a job read
    assert requests.get(f"{server.base_url}/jobs/nope", headers=auth, timeout=10).status_code == 404

    stats = server.stats
    assert dict(stats.job_reads_by_agent) == {
        (job_id, "pyannote-notebook"): 3,
        (job_id, "pyannoteAI-sdk-python"): 2,
        (job_id, ""): 1,
    }
    assert stats.job_reads[job_id] == 6


def test_real_clients_report_their_families(server: ServerHandle, tmp_path: Path) -> None:
    """Our Client and the official SDK land under the families the await benchmark reads."""
    from pyannoteai.sdk import Client as SDKClient

    from pyannote_notebook.api import Client

    job_id = _finished_job(server, tmp_path)
    assert Client(server.api_key, server.base_url).job(job_id).wait(timeout=10) is not None
    original = SDKClient.API_URL
    SDKClient.API_URL = server.base_url
    try:
        sdk = SDKClient(server.api_key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the SDK recommends webhooks
            assert sdk.retrieve(job_id, every_seconds=1)["status"] == "succeeded"
    finally:
        SDKClient.API_URL = original
    assert dict(server.stats.job_reads_by_agent) == {
        (job_id, "pyannote-notebook"): 1,
        (job_id, "pyannoteAI-sdk-python"): 1,
    }

"""start_server / ServerHandle lifecycle, secrets hygiene, and the `pyannote-notebook serve` CLI."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import requests

from pyannote_notebook.errors import ServerStartError
from pyannote_notebook.server import Script, start_server
from pyannote_notebook.server.testing import upload_file


def _server_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("pyannote-", "webhook-receiver"))]


def test_port_zero_urls_and_clean_stop(pyannote_wav: Path) -> None:
    before = set(_server_threads())
    handle = start_server(engine=ScriptedEngineWithSlowJob())
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", handle.base_url)
    assert handle.port > 0 and handle.root_url == handle.base_url[:-3]
    assert requests.get(f"{handle.root_url}/v2/jobs",
                        headers={"Authorization": f"Bearer {handle.api_key}"}).status_code == 200
    store = handle.store_dir
    assert store.is_dir()
    # a job still running for a minute must not block stop()
    media = upload_file(handle, pyannote_wav, "x")
    requests.post(f"{handle.base_url}/diarize", json={"url": media},
                  headers={"Authorization": f"Bearer {handle.api_key}"})
    time.sleep(0.2)
    assert handle.jobs_snapshot()[0]["status"] == "running"
    start = time.monotonic()
    handle.stop()
    assert time.monotonic() - start < 5
    handle.stop()  # idempotent
    assert not handle.running
    assert not store.exists()  # temporary store removed
    assert set(_server_threads()) <= before
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{handle.base_url}/test", timeout=2)


class ScriptedEngineWithSlowJob:
    """Wraps a ScriptedEngine whose every job runs for 60 s (woken by interrupt on stop)."""

    def __new__(cls):  # type: ignore[misc]
        from pyannote_notebook.server import ScriptedEngine

        return ScriptedEngine(default=Script(duration=60.0))


def test_repr_and_logs_never_show_secrets(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    with start_server(api_keys=["sk_super_secret_key"], webhook_secret="whsec_very_secret",
                      store_dir=tmp_path / "store") as handle:
        text = repr(handle) + str(handle) + repr(handle.stats) + repr(handle._state)
        requests.get(f"{handle.base_url}/test", headers={"Authorization": "Bearer sk_super_secret_key"})
        requests.get(f"{handle.base_url}/test", headers={"Authorization": "Bearer sk_wrong_key_guess"})
        assert handle.api_key == "sk_super_secret_key" and handle.webhook_secret == "whsec_very_secret"
    assert (tmp_path / "store" / "uploads").is_dir()  # a given store_dir is kept
    for secret in ("sk_super_secret_key", "whsec_very_secret", "sk_wrong_key_guess"):
        assert secret not in text
        assert secret not in caplog.text


def test_generated_key_and_secret_are_distinct_and_strong() -> None:
    with start_server() as a, start_server() as b:
        assert len(a.api_key) >= 40 and a.api_key != b.api_key
        assert a.webhook_secret != b.webhook_secret and a.webhook_secret != a.api_key


def test_start_errors_are_typed() -> None:
    with start_server() as handle:
        with pytest.raises(ServerStartError, match=rf"cannot listen on 127\.0\.0\.1:{handle.port}"):
            start_server(port=handle.port)
    with pytest.raises(ServerStartError, match="signature_encoding must be 'base64' or 'hex'"):
        start_server(signature_encoding="b32")
    with pytest.raises(ServerStartError, match="API keys must be non-empty strings without whitespace"):
        start_server(api_keys=["two words"])
    with pytest.raises(ServerStartError, match="API keys must be non-empty strings without whitespace"):
        start_server(unpaid_keys=["unpaid key"])
    with pytest.raises(ServerStartError, match="^a key cannot be both in api_keys and in unpaid_keys$"):
        start_server(api_keys=["k"], unpaid_keys=["k"])
    with pytest.raises(ServerStartError, match="job_workers must be >= 1"):
        start_server(job_workers=0)


def test_jobs_snapshot_fields(pyannote_server, api, pyannote_wav: Path) -> None:  # type: ignore[no-untyped-def]
    media = upload_file(pyannote_server, pyannote_wav, "snap", api)
    job_id = api.post(f"{pyannote_server.base_url}/voiceprint",
                      json={"url": media, "webhook": "http://127.0.0.1:9/h"}).json()["jobId"]
    assert pyannote_server.wait_idle(10)
    (snap,) = pyannote_server.jobs_snapshot()
    assert snap["job_id"] == job_id and snap["kind"] == "voiceprint" and snap["status"] == "succeeded"
    assert snap["url"] == media and snap["webhook"] == "http://127.0.0.1:9/h"
    assert snap["params"] == {"webhook": "http://127.0.0.1:9/h"}
    assert snap["created_ts"] <= snap["started_ts"] <= snap["completed_ts"]
    assert snap["has_output"] and "voiceprint" in snap["output"]
    assert pyannote_server.stats.requests[("POST", "/v1/voiceprint")] == 1
    assert pyannote_server.stats.job_reads[job_id] == 0


def _start_cli(*extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "pyannote_notebook.cli", "serve", "--port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 20.0) -> str:
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            break
        lines.append(line)
        if marker in line:
            return "".join(lines)
    proc.kill()
    raise AssertionError("CLI output so far:\n" + "".join(lines) + proc.stderr.read())  # type: ignore[union-attr]


def test_cli_serve_prints_url_and_generated_key_and_stops_on_ctrl_c() -> None:
    proc = _start_cli("--engine", "scripted")
    try:
        out = _read_until(proc, "Press Ctrl-C")
        base_url = re.search(r"at (http://127\.0\.0\.1:\d+/v1)\n", out).group(1)  # type: ignore[union-attr]
        key = re.search(r"API key \(generated\): (\S+)", out).group(1)  # type: ignore[union-attr]
        assert "webhook secret (generated, base64 signatures): " in out
        answer = requests.get(f"{base_url}/test", headers={"Authorization": f"Bearer {key}"})
        assert answer.json() == {"status": "OK", "message": "Test connection successful"}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
        assert "server stopped" in proc.stdout.read()  # type: ignore[union-attr]
    finally:
        proc.kill()


def test_cli_serve_with_given_key_and_rate_limit() -> None:
    proc = _start_cli("--engine", "scripted", "--api-key", "cli-key", "--rate-limit", "1",
                      "--webhook-secret", "s3cret", "--signature-encoding", "hex",
                      "--unpaid-key", "unpaid-key")
    try:
        out = _read_until(proc, "Press Ctrl-C")
        assert "cli-key" not in out and "s3cret" not in out and "generated" not in out
        assert "unpaid-key" not in out
        base_url = re.search(r"at (http://127\.0\.0\.1:\d+/v1)\n", out).group(1)  # type: ignore[union-attr]
        headers = {"Authorization": "Bearer cli-key"}
        first = requests.post(f"{base_url}/media/input", json={"url": "media://a"}, headers=headers)
        assert first.status_code == 201 and first.headers["X-RateLimit-Limit"] == "1"
        second = requests.post(f"{base_url}/media/input", json={"url": "media://a"}, headers=headers)
        assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
        unpaid = requests.get(f"{base_url}/test", headers={"Authorization": "Bearer unpaid-key"})
        assert unpaid.status_code == 402 and unpaid.json()["message"] == "Subscription is required"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        proc.kill()


def test_cli_serve_defaults_to_the_published_limits_and_0_lifts_them() -> None:
    for extra, expected in ([], ("100", "300")), (["--rate-limit", "0", "--read-rate-limit", "0"],
                                                   (None, None)):
        proc = _start_cli("--engine", "scripted", "--api-key", "k", *extra)
        try:
            out = _read_until(proc, "Press Ctrl-C")
            base_url = re.search(r"at (http://127\.0\.0\.1:\d+/v1)\n", out).group(1)  # type: ignore[union-attr]
            headers = {"Authorization": "Bearer k"}
            create = requests.post(f"{base_url}/media/input", json={"url": "media://a"},
                                   headers=headers)
            read = requests.get(f"{base_url.removesuffix('/v1')}/v2/jobs", headers=headers)
            assert (create.status_code, read.status_code) == (201, 200)
            assert (create.headers.get("X-RateLimit-Limit"),
                    read.headers.get("X-RateLimit-Limit")) == expected
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
        finally:
            proc.kill()


def test_cli_serve_bad_engine_exits_2_with_message() -> None:
    proc = _start_cli("--engine", "gpu")
    assert proc.wait(30) == 2
    assert "pyannote-notebook serve: error: unknown engine 'gpu'" in proc.stderr.read()  # type: ignore[union-attr]


def test_a_server_never_stopped_lets_the_process_exit(tmp_path) -> None:
    # a webhook to a dead receiver waits 0 s, 60 s, then 300 s between retries; the interpreter used
    # to join that worker at exit (a kernel took 6 minutes to shut down)
    script = tmp_path / "exit.py"
    script.write_text(textwrap.dedent("""
        import time
        from pyannote_notebook.api import Client
        from pyannote_notebook.server import Script, ScriptedEngine, start_server
        h = start_server(engine=ScriptedEngine(default=Script(duration=0.05)))
        c = Client(h.api_key, h.base_url)
        c.diarize("media://x", webhook="http://127.0.0.1:9/hook")  # nothing listens on port 9
        while not h.webhook_attempts:
            time.sleep(0.02)
        print("first attempt:", h.webhook_attempts[0].outcome)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=150)  # the retry delays alone would take 360 s
    assert out.returncode == 0, out.stderr
    assert out.stdout == "first attempt: connection_failed\n"

"""End-to-end: the client against the real local server over loopback HTTP."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from pyannote_notebook.api import Client, DiarizeOptions, RateBudget, notify_job
from pyannote_notebook.errors import (
    AuthenticationError,
    ConnectionFailed,
    BadRequest,
    JobCanceled,
    JobFailed,
    NotFound,
    PayloadTooLarge,
    PaymentRequired,
    RateLimited,
    WaitTimeout,
)


def test_check_and_bad_key(server, live, caplog):
    caplog.set_level(logging.DEBUG)
    assert live.check() == {"status": "OK", "message": "Test connection successful"}
    bad = Client("sk_wrong_key_987654321", server.base_url)
    with pytest.raises(AuthenticationError) as err:
        bad.check()
    assert err.value.status_code == 401
    assert "sk_wrong_key_987654321" not in str(err.value)
    assert "PYANNOTEAI_API_KEY" in str(err.value)
    assert server.api_key not in caplog.text and "sk_wrong_key_987654321" not in caplog.text


def test_upload_diarize_wait_with_a_real_wav(server, live, wav, caplog):
    caplog.set_level(logging.DEBUG)
    seen = []
    live.listeners.append(seen.append)
    progress = []
    url = live.upload(wav, progress=lambda done, total: progress.append((done, total)))
    size = wav.stat().st_size
    assert url.startswith("media://pyannote-notebook/") and len(url) == len("media://pyannote-notebook/") + 40
    assert progress[0] == (0, size) and progress[-1] == (size, size)
    job = live.diarize(url, exclusive=True, num_speakers=2)
    assert job.audio_duration == pytest.approx(3.0)
    out = job.wait(timeout=20)
    assert {t["speaker"] for t in out["diarization"]} == {"SPEAKER_00", "SPEAKER_01"}
    assert "exclusiveDiarization" in out
    assert out["exclusiveDiarization"][-1]["end"] == pytest.approx(3.0)  # the WAV's duration
    call = server.engine.calls[-1]
    assert call.kind == "diarize" and call.url == url
    assert call.params["numSpeakers"] == 2 and call.params["exclusive"] is True
    assert job.status == "succeeded" and job.done()
    info = live.get_job(job.id)
    assert info.output == out and info.kind == "diarize"
    assert info.created_at is not None and info.updated_at >= info.created_at
    assert seen[0].status == "created" and seen[-1].status == "succeeded"
    # same content -> same key; re-upload is idempotent
    assert live.upload(wav.read_bytes()) == url
    # /media/output hands out a GET URL that serves the bytes back
    got = requests.get(live.download_url(url), timeout=10)
    assert got.status_code == 200 and got.content == wav.read_bytes()
    # debug logs (ours and urllib3's) show neither the key nor the signed upload query
    assert '"PUT /storage/upload?<redacted> HTTP/1.1" 200' in caplog.text
    assert server.api_key not in caplog.text and "token=" not in caplog.text


def test_voiceprint_then_identify(server, live, wav):
    url = live.upload(wav, media_url="media://people/alice.wav")
    vp = live.voiceprint(url).wait(timeout=20)["voiceprint"]
    assert isinstance(vp, str) and vp
    out = live.identify(url, {"Alice": vp}, matching_threshold=10).wait(timeout=20)
    assert "identification" in out
    call = server.engine.calls[-1]
    assert call.kind == "identify"
    assert call.params["voiceprints"] == [{"label": "Alice", "voiceprint": vp}]
    assert call.params["matching"] == {"exclusive": True, "threshold": 10.0}


def test_server_side_400_maps_field_errors(server, live, wav):
    url = live.upload(wav)
    opts = DiarizeOptions(url)
    object.__setattr__(opts, "num_speakers", 0)       # bypass client-side validation
    with pytest.raises(BadRequest) as err:
        live.submit(opts)
    assert err.value.status_code == 400
    assert [e.field for e in err.value.errors] == ["numSpeakers"]
    assert "Invalid request [numSpeakers:" in str(err.value)
    assert server.stats.jobs_created == 0


def test_unknown_job_404(server, live):
    missing = str(uuid.uuid4())
    with pytest.raises(NotFound) as err:
        live.get_job(missing)
    assert err.value.status_code == 404 and f"GET /v1/jobs/{missing}" in str(err.value)
    with pytest.raises(NotFound):
        live.job(missing).wait(timeout=5)


def test_team_without_subscription_gets_402(wav):
    from pyannote_notebook.server import start_server

    unpaid = "sk_unpaid_team_key_0123456789"
    with start_server(unpaid_keys=[unpaid]) as handle:
        c = Client(unpaid, handle.base_url)
        with pytest.raises(PaymentRequired) as err:
            c.check()
        assert err.value.status_code == 402
        rid = err.value.request_id
        assert isinstance(rid, str) and len(rid) == 36
        assert str(err.value) == f"GET /v1/test: HTTP 402: Subscription is required (requestId {rid})"
        with pytest.raises(PaymentRequired):
            c.upload(wav)
        with pytest.raises(PaymentRequired):
            c.diarize("media://somewhere")              # not retried: 402 is final
        assert handle.stats.requests[("POST", "/v1/diarize")] == 1
        assert handle.stats.jobs_created == 0
        assert unpaid not in str(err.value) and unpaid not in repr(err.value.__dict__)
        assert Client(handle.api_key, handle.base_url).check()["status"] == "OK"


def test_upload_too_large_413(tmp_path):
    from pyannote_notebook.server import start_server

    with start_server(max_upload_bytes=1000) as handle:
        c = Client(handle.api_key, handle.base_url)
        with pytest.raises(PayloadTooLarge) as err:
            c.upload(b"\0" * 5000)
        assert err.value.status_code == 413
        assert "?" not in str(err.value)              # no signed query string


def test_wait_failure_cancel_timeout_and_reattach(server, live, wav):
    from pyannote_notebook.server import Script

    url = live.upload(wav)
    server.engine.push(Script(error="Could not decode the speakers"))
    with pytest.raises(JobFailed) as err:
        live.diarize(url).wait(timeout=20)
    assert err.value.error == "Could not decode the speakers"
    assert str(err.value) == f"job {err.value.job_id} failed: Could not decode the speakers"

    server.engine.push(Script(status="canceled"))
    with pytest.raises(JobCanceled):
        live.diarize(url).wait(timeout=20)

    server.engine.push(Script(duration=2.0, output={"diarization": [{"speaker": "SPEAKER_00",
                                                                     "start": 0.0, "end": 1.5}]}))
    job = live.diarize(url)
    with pytest.raises(WaitTimeout) as err:
        job.wait(timeout=0.3)
    assert isinstance(err.value, TimeoutError)
    assert job.id in str(err.value) and "keeps running" in str(err.value)
    assert f"client.job({job.id!r}).wait()" in str(err.value)
    again = Client(server.api_key, server.base_url).job(job.id)   # e.g. a new session
    assert again.wait(timeout=20) == {"diarization": [{"speaker": "SPEAKER_00", "start": 0.0,
                                                       "end": 1.5}]}
    assert server.stats.jobs_created == 3


def test_list_jobs_pagination(server, live, wav):
    url = live.upload(wav)
    created = [live.diarize(url).id for _ in range(25)]
    before = server.stats.requests[("GET", "/v2/jobs")]
    listed = [s.job_id for s in live.list_jobs(page_size=10)]
    assert server.stats.requests[("GET", "/v2/jobs")] - before == 3
    assert listed == created[::-1]                    # newest first, no duplicates
    assert len(set(listed)) == 25
    assert [s.job_id for s in live.list_jobs(limit=4, page_size=3)] == created[::-1][:4]
    for job_id in created:
        live.job(job_id).wait(timeout=20)
    assert len(list(live.list_jobs(status="succeeded"))) == 25
    assert list(live.list_jobs(status="running")) == []


def test_retry_after_honoured_on_429(tmp_path, wav):
    from pyannote_notebook.server import RateLimits, start_server

    # 2 reads per 1 s fixed window
    with start_server(rate_limits=RateLimits(create_per_minute=100, read_per_minute=120,
                                             window=1.0)) as h:
        strict = Client(h.api_key, h.base_url, max_retries=0, rate_budget=False)
        job = strict.diarize(strict.upload(wav))
        with pytest.raises(RateLimited) as err:
            for _ in range(10):                   # 3 in a row cannot all fit in one window
                strict.get_job(job.id)
        assert err.value.status_code == 429 and err.value.retry_after is not None
        assert 0 < err.value.retry_after <= 1

        patient = Client(h.api_key, h.base_url, rate_budget=False)
        slept: list[float] = []

        def sleep(s: float) -> None:
            slept.append(s)
            time.sleep(s)

        patient._sleep = sleep
        for _ in range(3):
            assert patient.get_job(job.id).job_id == job.id
        assert slept and all(0 < s <= 1 for s in slept)  # waited exactly what Retry-After said
        assert h.stats.responses_by_status[429] >= 2


class _HookServer:
    """A webhook receiver that hands every body to notify_job."""

    def __init__(self) -> None:
        woke: list[bool] = []
        self.woke = woke

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                woke.append(notify_job(json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def test_webhook_notify_wakes_waiter_immediately(server, live, wav):
    from pyannote_notebook.server import Script

    hooks = _HookServer()
    try:
        url = live.upload(wav)
        server.engine.push(Script(duration=1.0, output={"diarization": [], "warning": "hooked"}))
        job = live.diarize(url, webhook=hooks.url)
        out = job.wait(poll=60.0, timeout=30)       # no poll before 60 s: only the webhook can wake it
        assert out == {"diarization": [], "warning": "hooked"}
        assert hooks.woke == [True]
        assert server.stats.job_reads[job.id] == 0   # output came with the webhook: no GET

        server.engine.push(Script(duration=0.5))
        job = live.diarize(url, webhook=hooks.url, webhook_status_only=True)
        out = job.wait(poll=60.0, timeout=30)
        assert "diarization" in out
        assert server.stats.job_reads[job.id] == 1   # status-only webhook: exactly one GET
    finally:
        hooks.stop()


def test_fifty_jobs_under_twenty_percent_faults(server, wav):
    from pyannote_notebook.server import Faults, Script

    # 100 uploads + creates exceed the default create budget (100/min): widen it, this test is
    # about faults, not about the budget
    c = Client(server.api_key, server.base_url, timeout=5.0, max_retries=8,
               rate_budget=RateBudget(create_per_minute=1000, read_per_minute=3000))
    c._rng.seed(7)
    urls = [c.upload(wav, media_url=f"media://batch/{i:02d}.wav") for i in range(50)]
    for i, url in enumerate(urls):
        server.engine.script(url, Script(duration=0.05, output={
            "diarization": [{"speaker": "SPEAKER_00", "start": 0.0, "end": float(i)}]}))
    server.faults = Faults(error_rate=0.08, drop_rate=0.08, drop_after_create=0.6,
                           burst_429_every=25, burst_429_length=2, retry_after=1, seed=2026)
    jobs = [c.diarize(url) for url in urls]
    with ThreadPoolExecutor(8) as pool:
        outputs = list(pool.map(lambda j: j.wait(timeout=120), jobs))
    server.faults = None
    assert server.stats.jobs_created == 50                       # no duplicate job
    assert len({j.id for j in jobs}) == 50
    assert [o["diarization"][0]["end"] for o in outputs] == [float(i) for i in range(50)]
    statuses = server.stats.responses_by_status
    assert sum(n for s, n in statuses.items() if s >= 500) > 0    # faults really happened
    assert statuses[429] > 0
    assert server.stats.dropped_connections > 0


def test_create_under_persistent_5xx_never_creates_and_reports(server, wav):
    from pyannote_notebook.errors import ServerError
    from pyannote_notebook.server import Faults

    c = Client(server.api_key, server.base_url, max_retries=2)
    c._sleep = lambda s: None
    url = c.upload(wav)
    server.faults = Faults(error_rate=1.0, paths=["/v1/diarize"], error_statuses=(503,))
    with pytest.raises(ServerError, match="HTTP 503"):
        c.diarize(url)
    server.faults = None
    assert server.stats.requests[("POST", "/v1/diarize")] == 3        # 1 + max_retries
    assert server.stats.requests[("GET", "/v2/jobs")] == 3            # reconciled each time
    assert server.stats.jobs_created == 0


def test_refused_connection_is_connection_failed():
    import socket

    with socket.socket() as s:                      # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = Client("sk_refused_key_123", f"http://127.0.0.1:{port}/v1", max_retries=1)
    c._sleep = lambda s: None
    with pytest.raises(ConnectionFailed) as err:
        c.diarize("media://x")
    msg = str(err.value)
    assert msg.startswith(f"POST http://127.0.0.1:{port}/v1/diarize: could not complete the request")
    assert "no job was created" in msg and "sk_refused_key_123" not in msg
    with pytest.raises(ConnectionFailed):
        c.check()

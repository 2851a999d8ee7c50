"""Fault injection (5xx, drops before/after job creation, slow replies, 429 bursts) and rate limits."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import pytest
import requests

from pyannote_notebook.errors import InvalidOption
from pyannote_notebook.server import Faults, RateLimits, start_server
from pyannote_notebook.server.handle import ServerHandle
from pyannote_notebook.server.limits import RateLimiter
from pyannote_notebook.server.testing import upload_file, wait_job


def test_error_rate_one_answers_5xx_and_creates_nothing(pyannote_server: ServerHandle, api: requests.Session,
                                                        pyannote_wav: Path) -> None:
    media = upload_file(pyannote_server, pyannote_wav, "e", api)
    pyannote_server.faults = Faults(error_rate=1.0, seed=1)
    statuses = [api.post(f"{pyannote_server.base_url}/diarize", json={"url": media}).status_code
                for _ in range(10)]
    assert set(statuses) <= {500, 502, 503} and len(statuses) == 10
    answer = api.get(f"{pyannote_server.base_url}/test")
    assert answer.json()["message"] == "Internal server error (injected fault)"
    assert pyannote_server.stats.jobs_created == 0
    # also before authentication: a bad key gets the 5xx, not a 401
    assert requests.get(f"{pyannote_server.base_url}/test").status_code in {500, 502, 503}
    pyannote_server.faults = None
    assert api.post(f"{pyannote_server.base_url}/diarize", json={"url": media}).status_code == 200
    assert pyannote_server.stats.jobs_created == 1


def test_drop_before_closes_without_answer_and_creates_nothing(pyannote_server: ServerHandle,
                                                               api: requests.Session) -> None:
    pyannote_server.faults = Faults(drop_rate=1.0, drop_after_create=0.0)
    with pytest.raises(requests.ConnectionError, match="without response"):
        api.post(f"{pyannote_server.base_url}/diarize", json={"url": "media://a"})
    assert pyannote_server.stats.jobs_created == 0
    assert pyannote_server.stats.dropped_connections == 1
    assert sum(pyannote_server.stats.responses_by_status.values()) == 0


def test_drop_after_create_creates_the_job_but_loses_the_answer(pyannote_server: ServerHandle,
                                                                api: requests.Session, pyannote_wav: Path) -> None:
    media = upload_file(pyannote_server, pyannote_wav, "d", api)
    pyannote_server.faults = Faults(drop_rate=1.0, drop_after_create=1.0, paths=["/v1/diarize"])
    sent_at = time.time()
    with pytest.raises(requests.ConnectionError):
        api.post(f"{pyannote_server.base_url}/diarize", json={"url": media})
    assert pyannote_server.stats.jobs_created == 1  # the double-billing hazard
    # the client can reconcile through /v2/jobs: the job is listed, created after the POST was sent
    listed = api.get(f"{pyannote_server.root_url}/v2/jobs").json()["items"]
    assert len(listed) == 1
    created = listed[0]["createdAt"]
    assert time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sent_at)) <= created[:19]
    assert wait_job(pyannote_server, listed[0]["id"], api)["status"] == "succeeded"
    # reads are not in `paths`: never dropped
    assert pyannote_server.stats.dropped_connections == 1


def test_paths_restrict_faults_and_storage_is_exempt_by_default(pyannote_server: ServerHandle,
                                                                api: requests.Session, pyannote_wav: Path) -> None:
    pyannote_server.faults = Faults(error_rate=1.0)
    media_put = None
    # storage routes are never faulted unless named; get a PUT url with faults off
    pyannote_server.faults = None
    media_put = api.post(f"{pyannote_server.base_url}/media/input", json={"url": "media://p"}).json()["url"]
    pyannote_server.faults = Faults(error_rate=1.0)
    assert requests.put(media_put, data=pyannote_wav.read_bytes()).status_code == 200
    pyannote_server.faults = Faults(error_rate=1.0, paths=["/v1/jobs/{job_id}"])
    assert api.get(f"{pyannote_server.base_url}/test").status_code == 200
    job_id = api.post(f"{pyannote_server.base_url}/diarize", json={"url": "media://p"}).json()["jobId"]
    assert api.get(f"{pyannote_server.base_url}/jobs/{job_id}").status_code in {500, 502, 503}
    pyannote_server.faults = Faults(error_rate=1.0, paths=["/storage"])
    assert requests.put(media_put, data=b"x").status_code in {500, 502, 503}
    assert api.get(f"{pyannote_server.base_url}/jobs/{job_id}").status_code == 200


def test_slow_replies(pyannote_server: ServerHandle, api: requests.Session) -> None:
    pyannote_server.faults = Faults(slow_rate=1.0, slow_seconds=0.3)
    start = time.monotonic()
    assert api.get(f"{pyannote_server.base_url}/test").status_code == 200
    assert time.monotonic() - start >= 0.3
    with pytest.raises(requests.ReadTimeout):
        api.get(f"{pyannote_server.base_url}/test", timeout=0.1)


def test_429_bursts(pyannote_server: ServerHandle, api: requests.Session) -> None:
    pyannote_server.faults = Faults(burst_429_every=4, burst_429_length=2, retry_after=3)
    answers = [api.get(f"{pyannote_server.base_url}/test") for _ in range(10)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429, 200, 200, 429, 429, 200]
    limited = answers[3]
    assert limited.headers["Retry-After"] == "3"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["X-RateLimit-Reset"]) >= int(time.time())
    assert set(limited.json()) == {"message", "requestId"}


def test_seeded_faults_are_reproducible() -> None:
    def draw(seed: int) -> list:
        faults = Faults(error_rate=0.2, drop_rate=0.2, slow_rate=0.1, slow_seconds=0.5, seed=seed)
        return [faults.decide("/v1/diarize", "/v1/diarize", creates_job=True) for _ in range(200)]

    first, second = draw(7), draw(7)
    assert first == second
    errors = sum(d.error_status is not None for d in first)
    drops = [d.drop for d in first if d.drop]
    assert 20 <= errors <= 60 and 15 <= len(drops) <= 60
    assert {"before", "after"} == set(drops)
    assert Faults(drop_rate=1.0).decide("/v1/test", "/v1/test", creates_job=False).drop == "before"
    with pytest.raises(ValueError, match="error_rate must be within"):
        Faults(error_rate=1.5)


def test_rate_limits_headers_and_429(pyannote_wav: Path) -> None:
    # 3 creates per 3 s window; the 4 requests need to share one window (3 s is ample margin)
    limits = RateLimits(create_per_minute=60, read_per_minute=100, window=3.0)
    with start_server(rate_limits=limits, api_keys=["k1", "k2"]) as handle, requests.Session() as api:
        api.headers["Authorization"] = "Bearer k1"
        time.sleep(3.0 - time.time() % 3.0 + 0.02)  # align on the start of a window
        window_end = (int(time.time() // 3.0) + 1) * 3
        answers = [api.post(f"{handle.base_url}/diarize", json={"url": "media://a"}) for _ in range(3)]
        before = time.time()
        answers.append(api.post(f"{handle.base_url}/diarize", json={"url": "media://a"}))
        after = time.time()
        assert after < window_end, "the 4 requests did not fit in one window"
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["X-RateLimit-Limit"] for a in answers] == ["3"] * 4
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
        assert "X-RateLimit-Reset" not in answers[0].headers
        refused = answers[3]
        assert int(refused.headers["Retry-After"]) in {math.ceil(window_end - before),
                                                      math.ceil(window_end - after)}
        assert int(refused.headers["X-RateLimit-Reset"]) == window_end
        body = refused.json()
        assert set(body) == {"message", "requestId"}
        assert body["message"] == "Too many requests: at most 3 create requests per 3 s window"
        assert handle.stats.jobs_created == 3
        # the read group and the other key have their own budgets; /v1/test is not limited
        read = api.get(f"{handle.root_url}/v2/jobs")
        assert read.status_code == 200 and read.headers["X-RateLimit-Remaining"] == "4"
        other = requests.post(f"{handle.base_url}/media/input", json={"url": "media://b"},
                              headers={"Authorization": "Bearer k2"})
        assert other.status_code == 201 and other.headers["X-RateLimit-Remaining"] == "2"
        assert "X-RateLimit-Limit" not in api.get(f"{handle.base_url}/test").headers
        time.sleep(max(0.0, window_end - time.time()) + 0.02)  # the next window
        assert api.post(f"{handle.base_url}/diarize", json={"url": "media://a"}).status_code == 200


def test_rate_limiter_unit_is_fixed_window_and_thread_safe() -> None:
    import threading

    now = [1000.0]
    limiter = RateLimiter(RateLimits(create_per_minute=60, read_per_minute=None, window=10.0), clock=lambda: now[0])
    assert limiter.hit("k", "read") is None  # unlimited
    results: list[bool] = []

    def worker() -> None:
        for _ in range(5):
            results.append(limiter.hit("k", "create").allowed)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 10 and results.count(False) == 10  # 60/min over 10 s -> 10
    refused = limiter.hit("k", "create")
    assert refused.headers(now=1003.0) == {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0",
                                           "X-RateLimit-Reset": "1010", "Retry-After": "7"}
    now[0] = 1010.0
    assert limiter.hit("k", "create").remaining == 9


def test_burst_length_must_be_shorter_than_the_period() -> None:
    with pytest.raises(InvalidOption, match=r"burst_429_length: Faults.burst_429_length \(2\) must be smaller "
                                            r"than burst_429_every \(2\)") as caught:
        Faults(burst_429_every=2, burst_429_length=2)
    assert caught.value.option == "burst_429_length" and isinstance(caught.value, ValueError)
    with pytest.raises(InvalidOption, match="burst_429_length"):
        Faults(burst_429_every=1)  # length 1 >= period 1: a 429 every time
    assert Faults(burst_429_every=3, burst_429_length=2).burst_429_length == 2
    assert Faults(burst_429_every=0, burst_429_length=5).burst_429_every == 0  # bursts off: any length


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_client_hanging_up_during_a_slow_create_ends_quietly(pyannote_server: ServerHandle,
                                                            api: requests.Session, pyannote_wav: Path) -> None:
    media = upload_file(pyannote_server, pyannote_wav, "d", api)
    records = _Records()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "uvicorn", "pyannote_notebook")]
    for logger in loggers:
        logger.addHandler(records)
    try:
        pyannote_server.faults = Faults(slow_rate=1.0, slow_seconds=0.6, paths=["/v1/diarize"])
        with pytest.raises(requests.ReadTimeout):
            api.post(f"{pyannote_server.base_url}/diarize", json={"url": media}, timeout=0.2)
        deadline = time.monotonic() + 5
        while pyannote_server.stats.responses_by_status.get(499, 0) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for logger in loggers:
            logger.removeHandler(records)
    assert pyannote_server.stats.responses_by_status[499] == 1  # the request ended (nobody read it)
    assert pyannote_server.stats.responses_by_status.get(500, 0) == 0
    assert pyannote_server.jobs_snapshot() == [] and pyannote_server.stats.jobs_created == 0
    assert [r.getMessage() for r in records.records if r.levelno >= logging.WARNING] == []
    pyannote_server.faults = None
    assert api.post(f"{pyannote_server.base_url}/diarize", json={"url": media}).status_code == 200  # still serving

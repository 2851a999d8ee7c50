"""Job.wait(timeout=...) is a deadline for everything the wait does (loopback server, real HTTP).

Regression tests for a reviewed defect: the client's retry loop slept ``Retry-After`` (5 s) or
backed off after dropped connections without knowing the wait's deadline, so ``wait(timeout=2)``
raised after 16 s. The bound asserted here (timeout + 1 s) is the functional property of a
timeout, not a performance figure.
"""

from __future__ import annotations

import time

import pytest

from pyannote_notebook.api import Client
from pyannote_notebook.api.retry import DeadlineReached
from pyannote_notebook.errors import ConnectionFailed, WaitTimeout
from pyannote_notebook.server import Faults, Script, start_server

OUTPUT = {"diarization": [{"speaker": "SPEAKER_00", "start": 0.0, "end": 1.0}]}


@pytest.fixture
def handle():
    h = start_server()
    try:
        yield h
    finally:
        h.stop()


def _job(h, wav, duration: float):
    client = Client(h.api_key, h.base_url, timeout=2, max_retries=3, rate_budget=False)
    h.engine.push(Script(duration=duration, output=OUTPUT))
    return client, client.diarize(client.upload(wav))


def _reattach_and_finish(h, job_id: str) -> None:
    h.faults = None
    again = Client(h.api_key, h.base_url, rate_budget=False).job(job_id)
    assert again.wait(timeout=30) == OUTPUT
    assert h.stats.jobs_created == 1


def test_wait_timeout_not_extended_by_retry_after(handle, wav):
    client, job = _job(handle, wav, duration=4.0)
    # every 2nd GET of the job is a 429 with Retry-After: 5 (longer than the whole wait)
    handle.faults = Faults(burst_429_every=2, retry_after=5, paths=["/v1/jobs/{job_id}"])
    assert client.get_job(job.id).status in ("created", "running")  # GET 1 passes; next is 429
    start = time.monotonic()
    with pytest.raises(WaitTimeout) as err:
        job.wait(timeout=2.0)
    elapsed = time.monotonic() - start
    # honouring Retry-After: 5 would end past 6 s; the slack above 2 s is for a loaded machine
    assert 2.0 <= elapsed < 4.0
    assert handle.stats.responses_by_status[429] == 1  # Retry-After did not fit: not retried
    assert err.value.job_id == job.id
    assert err.value.last_status in ("created", "running")
    assert str(err.value).startswith(f"job {job.id} not finished after 2 s (last status: ")
    _reattach_and_finish(handle, job.id)


def test_wait_timeout_not_extended_by_dropped_connections(handle, wav):
    _, job = _job(handle, wav, duration=4.0)
    handle.faults = Faults(drop_rate=1.0, paths=["/v1/jobs/{job_id}"])
    start = time.monotonic()
    with pytest.raises(WaitTimeout) as err:
        job.wait(timeout=2.0)
    elapsed = time.monotonic() - start
    assert 2.0 <= elapsed < 4.0  # the deadline, plus slack for a loaded machine
    assert handle.stats.dropped_connections >= 1
    assert err.value.job_id == job.id and err.value.last_status == "created"
    _reattach_and_finish(handle, job.id)


def test_retry_after_that_fits_is_still_honoured(handle, wav):
    client, job = _job(handle, wav, duration=30.0)
    handle.faults = Faults(burst_429_every=2, retry_after=1, paths=["/v1/jobs/{job_id}"])
    client.get_job(job.id)  # GET 1 passes; the wait's first GET is a 429 with Retry-After: 1
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        time.sleep(s)

    client._sleep = sleep
    start = time.monotonic()
    with pytest.raises(WaitTimeout):
        job.wait(timeout=3.0, poll=0.5)
    elapsed = time.monotonic() - start
    assert slept[0] == 1.0  # the 429's Retry-After, slept inside the retry loop
    assert all(s <= 3.0 for s in slept)
    assert 3.0 <= elapsed < 5.0  # the deadline, plus slack for a loaded machine


def test_get_job_with_a_past_deadline_sends_nothing(handle, wav):
    client, job = _job(handle, wav, duration=1.0)
    before = handle.stats.requests[("GET", "/v1/jobs/{job_id}")]
    with pytest.raises(DeadlineReached) as err:
        client.get_job(job.id, deadline=time.monotonic() - 0.1)
    assert isinstance(err.value, ConnectionFailed)
    assert str(err.value) == (f"GET /v1/jobs/{job.id}: not sent, the caller's deadline has "
                              "passed")
    assert handle.stats.requests[("GET", "/v1/jobs/{job_id}")] == before

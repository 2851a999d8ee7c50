"""RateBudget (fake clock), PollPlanner schedules, RateEstimator, notify_job wake-up, wait
outcomes on the fake transport."""

from __future__ import annotations

import threading
import time

import pytest

from pyannote_notebook.api import RateBudget, notify_job
from pyannote_notebook.api.polling import PollPlanner, RateEstimator
from pyannote_notebook.api.ratelimit import Bucket
from pyannote_notebook.errors import InvalidOption, JobCanceled, JobError, JobFailed, WaitTimeout

JOB = "3c8a89a5-dcc6-4edb-a75d-ffd64739674d"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_bucket_allows_limit_per_window_then_reports_delay():
    clock = Clock()
    b = Bucket(3, 60.0, clock)
    assert [b.acquire(timeout=0) for _ in range(4)] == [True, True, True, False]
    clock.t += 10
    assert b.delay() == pytest.approx(50.0)
    clock.t += 50
    assert b.acquire(timeout=0) is True
    assert b.delay() == 0.0  # two tokens from t=1000 came back too


def test_bucket_is_thread_safe():
    b = Bucket(7, 3600.0)
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            ok = b.acquire(timeout=0)
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 7 and len(results) == 40


def test_budget_learns_from_headers():
    clock = Clock()
    budget = RateBudget(100, 300, clock=clock)
    budget.observe("read", 200, {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "10"})
    assert budget.buckets["read"].limit == 300         # configured limit kept
    assert budget.pressure("read") == pytest.approx(0.8)
    reset = time.time() + 20
    budget.observe("create", 200, {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                                   "X-RateLimit-Reset": f"{reset:.3f}"})
    assert budget.buckets["create"].delay() == pytest.approx(20, abs=0.5)
    budget.observe("read", 429, {}, retry_after=7.0)
    assert budget.buckets["read"].delay() == pytest.approx(7.0)
    assert budget.acquire("read", timeout=0) is False
    assert repr(budget) == "RateBudget(create_per_minute=100, read_per_minute=300)"


def test_token_held_in_flight_returns_one_window_after_release():
    clock = Clock()
    b = Bucket(2, window=10.0, clock=clock)
    assert b.acquire(timeout=0, until_release=True) and b.acquire(timeout=0, until_release=True)
    assert b.acquire(timeout=0) is False          # both in flight
    assert b.delay() == 10.0                      # nothing to count on before a release
    clock.t += 3.0
    b.release()                                   # answered 3 s in: free again 10 s later
    clock.t += 9.9
    assert b.acquire(timeout=0) is False
    clock.t += 0.1
    assert b.acquire(timeout=0) is True
    b.release()
    with pytest.raises(RuntimeError, match="without a matching acquire"):
        b.release()


def test_remaining_zero_without_reset_holds_until_the_window_boundary(monkeypatch):
    from pyannote_notebook.api import ratelimit

    clock = Clock()
    budget = RateBudget(100, 300, window=60.0, clock=clock)
    monkeypatch.setattr(ratelimit.time, "time", lambda: 1_800_000_045.0)  # 15 s before a boundary
    budget.observe("read", 200, {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0"})
    assert budget.buckets["read"].delay() == pytest.approx(15.0)
    assert budget.buckets["create"].delay() == 0.0
    budget.observe("create", 200, {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "3"})
    assert budget.buckets["create"].delay() == 0.0


def test_planner_doubles_backoff_under_read_pressure():
    calm, busy = PollPlanner(started=0.0), PollPlanner(started=0.0)
    assert [calm.next_delay(0.0, pressure=0.5) for _ in range(3)] == pytest.approx([1.0, 1.5, 2.25])
    assert [busy.next_delay(0.0, pressure=0.9) for _ in range(3)] == pytest.approx([2.0, 3.0, 4.5])
    assert [busy.next_delay(0.0, pressure=0.9) for _ in range(6)][-1] == pytest.approx(20.0)  # 2 x cap


def test_planner_backoff_without_prediction():
    p = PollPlanner(started=0.0)
    delays = [p.next_delay(0.0) for _ in range(9)]
    assert delays == pytest.approx([1.0, 1.5, 2.25, 3.375, 5.0625, 7.59375, 10.0, 10.0, 10.0])


def test_planner_sleeps_until_predicted_completion_then_polls_densely():
    est = RateEstimator()
    est.record(5.0, 50.0)                      # 0.1 processing-s per audio-s
    p = PollPlanner(started=0.0, audio_duration=100.0, estimator=est)
    done_at, u = p.prediction()
    assert done_at == pytest.approx(10.0) and u == pytest.approx(0.45)
    assert p.next_delay(0.0) == pytest.approx(9.55)   # short job: straight to done_at - u
    assert p.next_delay(9.55) == 0.25          # dense
    assert p.next_delay(10.3) == 0.25
    assert p.next_delay(10.6) == 1.0           # window passed: back to backoff
    assert p.next_delay(11.6) == 1.5


def test_planner_halves_long_sleeps_and_estimator_spread():
    est = RateEstimator()
    for ratio in (0.1, 0.1, 0.12, 0.08):
        est.record(ratio * 1000, 1000)
    rate, spread = est.estimate()
    assert rate == pytest.approx(0.1) and spread == pytest.approx(0.1)
    p = PollPlanner(started=0.0, audio_duration=1200.0, estimator=est)
    done_at, u = p.prediction()
    assert done_at == pytest.approx(120.0)
    assert u == pytest.approx(0.25 + 2.4 + 24.0)
    p.next_delay(0.0)
    lo = done_at - u
    assert p.next_delay(1.0) == pytest.approx((lo - 1.0) / 2)
    assert p.next_delay(0.0, pressure=0.0) >= 10.0


def test_notify_job_returns_false_when_nobody_waits():
    from pyannote_notebook.api import job as jobmod

    assert notify_job({"jobId": "nobody", "status": "succeeded"}) is False
    assert jobmod._UNCLAIMED.pop("nobody").status == "succeeded"
    with pytest.raises(InvalidOption, match="no 'jobId'"):
        notify_job({"status": "succeeded"})


def test_notification_before_the_wait_starts_is_not_lost(client, fake):
    # the webhook lands between the caller's store check and its wait(): kept for that wait
    from pyannote_notebook.api import job as jobmod

    fake.route("POST", "/v1/diarize", (200, {"jobId": "early", "status": "created"}))
    fake.route("GET", "/v1/jobs/early", (200, {"jobId": "early", "status": "running"}))
    job = client.diarize("media://a")
    assert notify_job({"jobId": "early", "status": "succeeded", "output": {"diarization": ["e"]}}) is False
    assert job.wait(poll=60.0) == {"diarization": ["e"]}
    assert fake.count("GET") == 0  # a poll would have come 60 s later and GET once and "early" not in jobmod._UNCLAIMED
    # bounded: only the most recent UNCLAIMED_MAX are kept
    for i in range(jobmod.UNCLAIMED_MAX + 10):
        notify_job({"jobId": f"n{i}", "status": "succeeded"})
    assert len(jobmod._UNCLAIMED) == jobmod.UNCLAIMED_MAX
    assert "n0" not in jobmod._UNCLAIMED and f"n{jobmod.UNCLAIMED_MAX + 9}" in jobmod._UNCLAIMED
    jobmod._UNCLAIMED.clear()


def _run_wait(job, **kw):
    box: dict = {}

    def target():
        t0 = time.monotonic()
        try:
            box["result"] = job.wait(**kw)
        except Exception as exc:  # noqa: BLE001
            box["error"] = exc
        box["elapsed"] = time.monotonic() - t0

    th = threading.Thread(target=target)
    th.start()
    return th, box


def _until_waiting(job_id: str) -> None:
    from pyannote_notebook.api import job as jobmod

    for _ in range(500):
        if jobmod._WAITERS.get(job_id):
            return
        time.sleep(0.005)
    raise AssertionError("wait() never registered")


def test_notify_with_output_wakes_waiter_without_another_get(client, fake):
    fake.route("POST", "/v1/diarize", (200, {"jobId": JOB, "status": "created"}))
    fake.route("GET", f"/v1/jobs/{JOB}", (200, {"jobId": JOB, "status": "running"}))
    job = client.diarize("media://a")
    th, box = _run_wait(job, poll=60.0)
    _until_waiting(JOB)
    assert notify_job({"jobId": JOB, "status": "succeeded", "output": {"diarization": ["w"]}})
    th.join(5)
    assert not th.is_alive()  # woken by the notification: its next poll was 60 s away
    assert box["result"] == {"diarization": ["w"]}
    assert fake.count("GET") == 0


def test_status_only_webhook_costs_one_get(client, fake):
    fake.route("POST", "/v1/diarize", (200, {"jobId": JOB, "status": "created"}))
    fake.route("GET", f"/v1/jobs/{JOB}", (200, {"jobId": JOB, "status": "failed",
                                                "output": {"error": "Could not load audio"}}))
    job = client.diarize("media://a")
    th, box = _run_wait(job, poll=60.0)
    _until_waiting(JOB)
    notify_job({"jobId": JOB, "status": "failed"})
    th.join(5)
    assert isinstance(box["error"], JobFailed)
    assert box["error"].error == "Could not load audio"
    assert str(box["error"]) == f"job {JOB} failed: Could not load audio"
    assert fake.count("GET") == 1


def test_wait_outcomes_on_fake(client, fake):
    fake.route("GET", "/v1/jobs/c", (200, {"jobId": "c", "status": "canceled"}))
    with pytest.raises(JobCanceled, match="^job c was canceled$"):
        client.job("c").wait()
    fake.route("GET", "/v1/jobs/e", (200, {"jobId": "e", "status": "succeeded"}))
    with pytest.raises(JobError, match="output is no longer available"):
        client.job("e").wait()
    fake.route("GET", "/v1/jobs/r", (200, {"jobId": "r", "status": "running"}))
    with pytest.raises(WaitTimeout) as err:
        client.job("r").wait(timeout=0.2, poll=0.05)
    assert isinstance(err.value, TimeoutError)
    assert "job r not finished after 0.2 s (last status: running)" in str(err.value)
    assert "client.job('r').wait()" in str(err.value)
    with pytest.raises(InvalidOption, match="^poll: "):
        client.job("r").wait(poll=0)
    with pytest.raises(InvalidOption, match="^timeout: "):
        client.job("r").wait(timeout=-1)


def test_wait_keeps_polling_through_transient_errors(make_client, fake):
    c = make_client(max_retries=0)
    fake.seq("GET", "/v1/jobs/t", [(503, {"message": "down"}), (429, {"message": "x"}),
                                   (200, {"jobId": "t", "status": "succeeded", "output": {"k": 1}})])
    assert c.job("t").wait(poll=0.01) == {"k": 1}
    assert fake.count("GET") == 3

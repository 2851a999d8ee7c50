"""diarize_many over a real server: order, per-file failures, rate limits, faults, SIGKILL recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from pyannote_notebook.api import Client, RateBudget
from pyannote_notebook.errors import InvalidOption, JobFailed, RateLimited
from pyannote_notebook.jobs.session import Session
from pyannote_notebook.jobs.store import JobStore
from pyannote_notebook.server import Faults, RateLimits, Script, ScriptedEngine, start_server
from pyannote_notebook.server.testing import write_wav

from .conftest import total_requests


def make_wavs(folder: Path, n: int) -> list[Path]:
    # distinct content per file (different lengths and tones)
    return [write_wav(folder / f"f{i:03d}.wav", seconds=0.2 + 0.01 * (i % 50),
                      frequency=200.0 + i) for i in range(n)]


def test_results_in_input_order_with_failures_captured(server, session, tmp_path):
    wavs = make_wavs(tmp_path, 6)
    from pyannote_notebook.api.upload import prepare_source

    # rules are matched last-added first; uploads are keyed by content hash
    server.engine.script(lambda kind, params: True, Script(duration=0.2))
    bad = prepare_source(wavs[2]).sha256[:40]
    server.engine.script(bad, Script(error="Could not load audio", status="failed"))
    missing = str(tmp_path / "missing.wav")
    batch = session.diarize_many([*wavs, missing, wavs[0]])
    assert len(batch) == 8
    assert batch.failed == [2, 6]
    assert isinstance(batch.results[2], JobFailed) and batch.results[2].error == "Could not load audio"
    assert isinstance(batch.results[6], InvalidOption) and "no such file" in str(batch.results[6])
    assert [r.uri for i, r in enumerate(batch) if i not in (2, 6)] == [
        "f000", "f001", "f003", "f004", "f005", "f000"]
    # the duplicate input shares the first one's job
    assert batch.results[7].job_id == batch.results[0].job_id
    assert server.stats.jobs_created == 6
    summary = batch.summary
    assert list(summary.columns) == ["input", "uri", "job_id", "status", "error", "elapsed"]
    assert list(summary["status"]) == ["succeeded", "succeeded", "failed", "succeeded",
                                       "succeeded", "succeeded", "failed", "succeeded"]
    assert summary["error"].iloc[2] == f"JobFailed: job {batch.job_ids[2]} failed: Could not load audio"
    assert summary["job_id"].isna().tolist() == [False] * 6 + [True, False]
    assert (summary["elapsed"] > 0).all()

    # raise_on_error: the first failure in input order, after everything finished
    before = server.stats.jobs_created
    with pytest.raises(JobFailed, match="Could not load audio"):
        session.diarize_many([*wavs, missing], raise_on_error=True)
    # finished jobs re-used; only the failed one is submitted again
    assert server.stats.jobs_created == before + 1


def test_rerun_of_finished_batch_makes_zero_requests(server, session, tmp_path):
    wavs = make_wavs(tmp_path, 10)
    first = session.diarize_many(wavs)
    before = total_requests(server)
    again = session.diarize_many(wavs)
    assert total_requests(server) == before
    assert [r.job_id for r in again] == [r.job_id for r in first]
    assert [r.raw for r in again] == [r.raw for r in first]


def test_listing_replaces_per_job_polls(server, session, tmp_path):
    # Jobs stay running until released, so what is measured is the polling policy, not the
    # race between this machine's upload speed and the jobs' running time.
    wavs = make_wavs(tmp_path, 40)
    release = threading.Event()
    server.engine.script(lambda kind, params: True, Script(duration=0.0, hold=release))
    out: dict = {}
    runner = threading.Thread(
        target=lambda: out.update(batch=session.diarize_many(wavs, max_concurrency=8)), daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 120
        while server.stats.jobs_created < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.stats.jobs_created == 40
        time.sleep(0.5)  # the submitting workers return and the next poll round starts
        reads_held = server.stats.requests[("GET", "/v1/jobs/{job_id}")]
        lists_held = server.stats.requests[("GET", "/v2/jobs")]
        time.sleep(3.0)
        # 40 pending jobs: one listing per round, no per-job GET
        assert server.stats.requests[("GET", "/v1/jobs/{job_id}")] == reads_held
        assert server.stats.requests[("GET", "/v2/jobs")] >= lists_held + 1
    finally:
        release.set()
        runner.join(60)
    batch = out["batch"]
    assert batch.failed == []
    assert all(r.speakers == ["SPEAKER_00", "SPEAKER_01"] for r in batch)
    reads = server.stats.requests[("GET", "/v1/jobs/{job_id}")]
    # every job read, for its output, once the listing shows it finished
    assert set(server.stats.job_reads) == set(batch.job_ids)
    assert reads - reads_held >= 40
    assert reads + server.stats.requests[("GET", "/v2/jobs")] < 40 * 2


def test_progress_hook_in_batch(server, session, tmp_path):
    calls = []
    batch = session.diarize_many(make_wavs(tmp_path, 3),
                                 progress=lambda step, counts, file=None, total=None,
                                 completed=None: calls.append((counts, total, completed)))
    assert batch.failed == []
    assert calls[-1] == ({"uploading": 0, "queued": 0, "running": 0, "done": 3, "failed": 0}, 3, 3)
    assert all(c[1] == 3 for c in calls)


def test_200_jobs_low_rate_limits_no_429_reaches_user(tmp_path):
    # limits bind: 400 creates (upload + diarize) at 80 per 2 s window -> about 10 s
    limits = RateLimits(create_per_minute=2400, read_per_minute=4800, window=2.0)
    handle = start_server(engine=ScriptedEngine(default=Script(duration=0.3)), rate_limits=limits,
                          job_workers=8)
    try:
        budget = RateBudget(create_per_minute=80, read_per_minute=160, window=2.0)
        client = Client(api_key=handle.api_key, base_url=handle.base_url, rate_budget=budget)
        session = Session(client=client, store=tmp_path / "s.sqlite3", progress=False)
        wavs = make_wavs(tmp_path, 200)
        batch = session.diarize_many(wavs, max_concurrency=8)
        assert batch.failed == [], batch.summary[batch.summary.error.notna()].head()
        assert not any(isinstance(r, RateLimited) for r in batch)
        assert handle.stats.jobs_created == 200
        store = JobStore(tmp_path / "s.sqlite3")
        recs = store.list()
        assert len(recs) == 200 and all(r.status == "succeeded" and r.output is not None
                                        for r in recs)
        snap = {j["job_id"]: j["output"] for j in handle.jobs_snapshot()}
        assert all(snap[r.job_id] == r.output for r in recs)
        # steady state: tokens held until the answer keep every request under the server's
        # limits however late it arrives (see api/ratelimit.py): not a single 429
        assert handle.stats.responses_by_status.get(429, 0) == 0
    finally:
        handle.stop()


@pytest.mark.slow
def test_200_jobs_with_20_percent_faults_nothing_lost_or_duplicated(tmp_path):
    faults = Faults(error_rate=0.1, drop_rate=0.05, burst_429_every=20, burst_429_length=2,
                    retry_after=1, seed=7)
    handle = start_server(engine=ScriptedEngine(default=Script(duration=0.2)), faults=faults,
                          job_workers=8)
    try:
        client = Client(api_key=handle.api_key, base_url=handle.base_url, max_retries=12,
                        timeout=5.0, rate_budget=False)
        session = Session(client=client, store=tmp_path / "s.sqlite3", progress=False)
        wavs = make_wavs(tmp_path, 200)
        batch = session.diarize_many(wavs, max_concurrency=8)
        assert batch.failed == [], batch.summary[batch.summary.error.notna()].head()
        assert handle.stats.dropped_connections > 0
        assert handle.stats.responses_by_status.get(500, 0) + handle.stats.responses_by_status.get(
            502, 0) + handle.stats.responses_by_status.get(503, 0) > 0
        assert handle.stats.jobs_created == 200  # no duplicate job (drop-after-create reconciled)
        snap = {j["job_id"]: j["output"] for j in handle.jobs_snapshot()}
        assert sorted(snap) == sorted(batch.job_ids)
        assert all(snap[r.job_id] == r.raw for r in batch)
    finally:
        handle.stop()


CHILD = textwrap.dedent("""
    import sys
    from pyannote_notebook.api import Client
    from pyannote_notebook.jobs.session import Session
    base_url, key, store, folder = sys.argv[1:5]
    import pathlib
    wavs = sorted(pathlib.Path(folder).glob("*.wav"))
    s = Session(client=Client(api_key=key, base_url=base_url), store=store, progress=False)
    batch = s.diarize_many(wavs, max_concurrency=4)
    print("RESULT", ",".join(r.job_id for r in batch), flush=True)
""")


def test_sigkill_while_waiting_then_rerun_reattaches(server, tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    n = 12
    make_wavs(folder, n)
    server.engine.script(lambda kind, params: True, Script(duration=1.5))
    store_path = tmp_path / "s.sqlite3"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    args = [sys.executable, str(script), server.base_url, server.api_key, str(store_path), str(folder)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if store_path.exists() and server.stats.jobs_created == n:
            store = JobStore(store_path)
            if sum(r.key is not None for r in store.list()) == n:
                break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("child never submitted all jobs")
    assert proc.poll() is None  # still waiting on the batch
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    created = server.stats.jobs_created
    uploads = server.stats.requests[("POST", "/v1/media/input")]

    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    ids = out.stdout.split("RESULT ", 1)[1].strip().split(",")
    assert server.stats.jobs_created == created == n  # zero new submissions
    assert server.stats.requests[("POST", "/v1/media/input")] == uploads  # zero new uploads
    snap = {j["job_id"]: j for j in server.jobs_snapshot()}
    assert sorted(ids) == sorted(snap)
    store = JobStore(store_path)
    assert all(store.get(i).output == snap[i]["output"] for i in ids)


def test_timeout_is_a_deadline_for_the_whole_batch(server, session, tmp_path):
    """Regression (review): the batch ran 10 s past timeout=1 and created all 5 billed jobs."""
    from pyannote_notebook.errors import WaitTimeout
    from pyannote_notebook.jobs.batch import NotSubmitted

    wavs = make_wavs(tmp_path, 5)
    server.engine.script(lambda kind, params: True, Script(duration=3.0))  # outlives the batch
    # every create takes 2 s: the first is in flight at the 1 s deadline, nothing else may start
    server.faults = Faults(slow_rate=1.0, slow_seconds=2.0, paths=["/v1/diarize"])
    start = time.monotonic()
    batch = session.diarize_many(wavs, max_concurrency=1, timeout=1.0)
    elapsed = time.monotonic() - start
    # the deadline plus the in-flight create (2 s), plus slack for a loaded machine; without the
    # deadline the 5 creates alone take 10 s
    assert elapsed < 1.0 + 2.0 + 3.0
    assert server.stats.jobs_created == 1
    assert server.stats.requests[("POST", "/v1/diarize")] == 1
    assert server.stats.requests[("POST", "/v1/media/input")] == 1  # no upload after the deadline

    created = [j["job_id"] for j in server.jobs_snapshot()]
    assert batch.job_ids == [created[0], None, None, None, None]
    first = batch.results[0]
    assert type(first) is WaitTimeout and first.job_id == created[0]
    assert first.last_status == "created"
    assert str(first).startswith(f"job {created[0]} not finished after 1 s (last status: created)")
    for i in range(1, 5):
        err = batch.results[i]
        assert isinstance(err, NotSubmitted) and isinstance(err, WaitTimeout)
        assert err.job_id is None
        assert str(err) == (f"f{i:03d}.wav: not submitted before the timeout (1 s); nothing was "
                            "billed. Run the same call again to submit it")
    summary = batch.summary
    assert summary["job_id"].iloc[0] == created[0] and summary["job_id"].iloc[1:].isna().all()
    assert list(summary["status"]) == ["created"] + ["not submitted"] * 4
    assert summary["error"].iloc[1] == f"NotSubmitted: {batch.results[1]}"
    # the created job is in the store, under the content key a rerun looks up
    assert session.store.get(created[0]).key is not None

    # a rerun re-attaches to that job and submits only the four others
    server.faults = None
    server.engine.script(lambda kind, params: True, Script(duration=0.05))
    again = session.diarize_many(wavs, max_concurrency=1, timeout=60)
    assert server.stats.jobs_created == 5
    assert again.failed == [] and again.job_ids[0] == created[0]
    assert len(set(again.job_ids)) == 5

"""Under 20 % injected faults the server gives a careful client what it needs to lose nothing and
double-bill nothing: injected 5xx create no job, drops after creation leave a job that /v2/jobs
lists with a millisecond createdAt later than the send time, and reads can simply be retried."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import requests

from pyannote_notebook.server import Faults, Script, start_server
from pyannote_notebook.server.testing import upload_file


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _get(session: requests.Session, url: str, **kw: object) -> dict:
    """GET retried on connection errors, 429 and 5xx (reads are safe to repeat)."""
    for _ in range(100):
        try:
            answer = session.get(url, timeout=5, **kw)  # type: ignore[arg-type]
        except requests.ConnectionError:
            continue
        if answer.status_code == 429:
            time.sleep(0.01)
            continue
        if answer.status_code >= 500:
            continue
        answer.raise_for_status()
        return answer.json()
    raise AssertionError(f"GET {url} kept failing")


def _submit(session: requests.Session, base: str, root: str, media: str, known: set[str]) -> str:
    """Create one job; after an ambiguous failure, reconcile through /v2/jobs instead of retrying blindly."""
    for _ in range(100):
        sent = time.time()
        try:
            answer = session.post(f"{base}/diarize", json={"url": media}, timeout=5)
        except requests.ConnectionError:
            answer = None
        if answer is not None and answer.status_code == 200:
            job_id = answer.json()["jobId"]
            known.add(job_id)
            return job_id
        if answer is not None and (answer.status_code == 429 or answer.status_code < 500):
            time.sleep(0.01)
            continue
        # 5xx or dropped: did the job get created?
        items = _get(session, f"{root}/v2/jobs", params={"limit": 20})["items"]
        adopted = [i["id"] for i in items if i["id"] not in known and _epoch(i["createdAt"]) >= sent - 0.002]
        assert len(adopted) <= 1  # one submission in flight at a time
        if adopted:
            known.add(adopted[0])
            return adopted[0]
    raise AssertionError("could not submit")


def test_fifty_jobs_at_twenty_percent_faults_lose_nothing_and_duplicate_nothing(pyannote_wav: Path) -> None:
    with start_server(job_workers=4) as handle, requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {handle.api_key}"
        media = upload_file(handle, pyannote_wav, "fifty", api)
        handle.engine.default = Script(duration=0.01)
        handle.faults = Faults(error_rate=0.08, drop_rate=0.08, burst_429_every=25, slow_rate=0.04,
                               slow_seconds=0.05, seed=20)
        known: set[str] = set()
        ids = [_submit(api, handle.base_url, handle.root_url, media, known) for _ in range(50)]
        outputs = {}
        for job_id in ids:
            while True:
                job = _get(api, f"{handle.base_url}/jobs/{job_id}")
                if job["status"] == "succeeded":
                    outputs[job_id] = job["output"]
                    break
                time.sleep(0.01)
        stats = handle.stats
        assert len(set(ids)) == 50 and len(outputs) == 50
        assert stats.jobs_created == 50  # no duplicate job despite the faults
        assert all(o["diarization"][-1]["end"] == 3.0 for o in outputs.values())
        # faults really happened, of every kind
        errors = sum(n for s, n in stats.responses_by_status.items() if s >= 500)
        assert stats.dropped_connections >= 1 and errors >= 1 and stats.responses_by_status[429] >= 1
        assert stats.dropped_connections + errors + stats.responses_by_status[429] >= 10

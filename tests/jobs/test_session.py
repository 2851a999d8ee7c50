"""High-level functions over a real loopback server (scripted engine) and a real SQLite store."""

from __future__ import annotations

import asyncio
import io
import json
import time

import numpy as np
import pytest

from pyannote_notebook.api import Client
from pyannote_notebook.errors import InvalidOption, JobFailed, WaitTimeout
from pyannote_notebook.jobs import session as session_mod
from pyannote_notebook.jobs.handle import Job
from pyannote_notebook.jobs.session import Session
from pyannote_notebook.jobs.store import JobStore
from pyannote_notebook.jobs.webhooks import WebhookReceiver
from pyannote_notebook.server import Script
from pyannote_notebook.server.testing import write_wav

from .conftest import total_requests

OUTPUT = {
    "diarization": [
        {"speaker": "SPEAKER_00", "start": 0.125, "end": 1.5},
        {"speaker": "SPEAKER_01", "start": 1.25, "end": 2.0},
    ],
    "exclusiveDiarization": [
        {"speaker": "SPEAKER_00", "start": 0.125, "end": 1.25},
        {"speaker": "SPEAKER_01", "start": 1.25, "end": 2.0},
    ],
}


def test_diarize_returns_result_and_rerun_makes_zero_requests(server, session, wav):
    server.engine.script(lambda kind, params: True, Script(output=OUTPUT, duration=0.05))
    result = session.diarize(wav, exclusive=True)
    assert result.uri == "meeting"
    assert result.speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert result.raw == OUTPUT
    rec = session.store.get(result.job_id)
    assert rec.status == "succeeded" and json.loads(rec.output_json) == OUTPUT
    assert rec.audio_name == str(wav) and rec.kind == "diarize"
    assert server.stats.jobs_created == 1

    before = total_requests(server)
    again = session.diarize(wav, exclusive=True)
    assert total_requests(server) == before  # zero requests
    assert again.job_id == result.job_id and again.raw == OUTPUT

    # different options -> a new job, but the upload is reused (no second media/input)
    session.diarize(wav, exclusive=True, num_speakers=2)
    assert server.stats.jobs_created == 2
    assert server.stats.requests[("POST", "/v1/media/input")] == 1
    # force=True pays again
    forced = session.diarize(wav, exclusive=True, force=True)
    assert server.stats.jobs_created == 3 and forced.job_id != result.job_id


def test_submit_writes_row_before_returning_and_job_reattaches(server, session, wav):
    server.engine.push(Script(output=OUTPUT, duration=0.3))
    job = session.submit(wav, exclusive=True)
    assert isinstance(job, Job)
    rec = session.store.get(job.id)  # written before submit returned
    assert rec is not None and rec.key is not None and rec.media_url.startswith("media://")
    assert rec.status in ("created", "running")
    res = job.result(timeout=30)
    assert res.raw == OUTPUT and res.uri == "meeting"

    before = total_requests(server)
    other = session.job(job.id)
    assert other.kind == "diarize" and other.uri == "meeting" and other.done()
    assert other.result().raw == OUTPUT
    assert total_requests(server) == before

    df = session.jobs()
    assert list(df["job_id"]) == [job.id]
    assert list(df["status"]) == ["succeeded"] and bool(df["has_output"].iloc[0])
    assert session.jobs(status="failed").empty


def test_running_job_reattached_not_resubmitted(server, session, wav):
    server.engine.push(Script(output=OUTPUT, duration=1.0))
    first = session.submit(wav)
    second = session.submit(wav)  # still running: re-attach
    assert second.id == first.id
    assert server.stats.jobs_created == 1
    assert second.result(timeout=30).raw == OUTPUT


def test_failed_job_raises_and_is_resubmitted_next_time(server, session, wav):
    server.engine.push(Script(error="Could not load audio", status="failed"))
    with pytest.raises(JobFailed, match=r"failed: Could not load audio") as info:
        session.diarize(wav)
    rec = session.store.get(info.value.job_id)
    assert rec.status == "failed" and rec.error == "Could not load audio"
    result = session.diarize(wav)  # failed jobs are not reused
    assert server.stats.jobs_created == 2 and result.job_id != info.value.job_id


def test_input_types_bytes_fileobj_array_and_url(server, session, wav, tmp_path):
    data = wav.read_bytes()
    r_bytes = session.diarize(data)
    # the same content as a file object: same content address -> same job, no request
    before = total_requests(server)
    r_file = session.diarize(io.BytesIO(data), uri="from-file")
    assert total_requests(server) == before
    assert r_file.job_id == r_bytes.job_id and r_file.uri == "from-file"
    # numpy array
    samples = (np.sin(np.linspace(0, 400, 16000)) * 0.3).astype(np.float32)
    r_arr = session.diarize(samples, sample_rate=16000)
    assert r_arr.job_id not in (r_bytes.job_id,)
    # a media:// URL already uploaded: no upload
    uploads = server.stats.requests[("POST", "/v1/media/input")]
    media = session.store.get(r_bytes.job_id).media_url
    r_url = session.diarize(media, num_speakers=2)
    assert server.stats.requests[("POST", "/v1/media/input")] == uploads
    assert session.store.get(r_url.job_id).media_url == media
    assert server.stats.jobs_created == 3


def test_bad_options_sent_nothing(server, session, wav):
    with pytest.raises(InvalidOption, match="num_speakers"):
        session.diarize(wav, num_speakers=2, min_speakers=1)
    with pytest.raises(InvalidOption, match="^colour: unknown diarize option"):
        session.diarize(wav, colour="red")
    with pytest.raises(InvalidOption, match="audio: no such file"):
        session.diarize(str(wav) + ".missing")
    assert total_requests(server) == 0


def test_identify_and_voiceprint(server, session, wav):
    vp = session.voiceprint(wav)
    assert isinstance(vp, str) and len(vp) > 10
    res = session.identify(wav, {"Alice": vp})
    assert res.kind == "identify"
    assert server.stats.jobs_created_by_kind == {"voiceprint": 1, "identify": 1}
    before = total_requests(server)
    assert session.voiceprint(wav) == vp
    assert total_requests(server) == before


def test_wait_timeout_names_job_and_job_reattaches(server, session, wav):
    server.engine.push(Script(output=OUTPUT, duration=1.5))
    with pytest.raises(WaitTimeout) as info:
        session.diarize(wav, timeout=0.2)
    assert info.value.job_id in str(info.value)
    assert session.job(info.value.job_id).result(timeout=30).raw == OUTPUT


def test_async_twins_inside_a_running_loop(server, session, wav, tmp_path):
    other = write_wav(tmp_path / "other.wav", seconds=1.0)

    async def main():
        assert asyncio.get_running_loop().is_running()
        r1 = await session.adiarize(wav)
        job = await session.asubmit(other)
        r2 = await job  # Job is awaitable
        r3 = await job.result_async()
        batch = await session.adiarize_many([wav, other])
        return r1, r2, r3, batch

    r1, r2, r3, batch = asyncio.run(main())
    assert r1.uri == "meeting" and r2.uri == "other" and r3.job_id == r2.job_id
    assert [r.job_id for r in batch.results] == [r1.job_id, r2.job_id]
    assert server.stats.jobs_created == 2


def test_webhook_wakes_waiter_without_polling(server, tmp_path, wav):
    client = Client(api_key=server.api_key, base_url=server.base_url)
    session = Session(client=client, store=tmp_path / "s.sqlite3", progress=False)
    server.engine.push(Script(output=OUTPUT, duration=0.5))
    with WebhookReceiver(server.webhook_secret, store=session.store) as rx:
        job = session.submit(wav, webhook=rx.url)
        out = job.wait(timeout=30, poll=60.0)  # polling every 60 s: only the webhook can wake it
    assert out == OUTPUT
    assert server.stats.job_reads[job.id] == 0
    assert rx.handler.accepted == 1
    assert session.store.get(job.id).output == OUTPUT
    assert [e[:2] for e in session.store.webhook_events()] == [(job.id, "succeeded")]


def test_webhook_does_not_change_content_address(server, session, wav):
    with WebhookReceiver(server.webhook_secret, store=session.store) as rx:
        first = session.diarize(wav, webhook=rx.url)
    before = total_requests(server)
    assert session.diarize(wav).job_id == first.job_id
    assert total_requests(server) == before


def test_api_key_never_in_store_file(server, session, wav, tmp_path):
    session.diarize(wav)
    session.store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("jobs.sqlite3*"))
    assert raw and server.api_key.encode() not in raw


def test_two_sessions_same_store_share_results(server, session, wav, tmp_path):
    r = session.diarize(wav)
    other = Session(client=Client(api_key=server.api_key, base_url=server.base_url),
                    store=tmp_path / "jobs.sqlite3", progress=False)
    before = total_requests(server)
    assert other.diarize(wav).job_id == r.job_id
    assert total_requests(server) == before


def test_embedded_default_starts_once_and_announces(tmp_path, wav, capsys, monkeypatch):
    for var in ("PYANNOTEAI_API_KEY", "PYANNOTE_API_KEY", "PYANNOTEAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(session_mod, "_EMBEDDED", {})
    s1 = Session(store=tmp_path / "e.sqlite3", embedded_engine="scripted", progress=False)
    s2 = Session(store=tmp_path / "e.sqlite3", embedded_engine="scripted", progress=False)
    try:
        r = s1.diarize(wav)
        assert s2.diarize(wav).job_id == r.job_id
        handle = session_mod._EMBEDDED["scripted"]
        assert s1.client.base_url == handle.base_url == s2.client.base_url
        out = capsys.readouterr().out
        assert out.count("No pyannoteAI API key found") == 1
        assert out.strip() == ("No pyannoteAI API key found: using the scripted engine (not the "
                               f"cloud model) at {handle.base_url}")
        assert handle.stats.jobs_created == 1
    finally:
        session_mod._EMBEDDED["scripted"].stop()


def test_configure_default_session(server, tmp_path, wav):
    from pyannote_notebook import jobs

    old = (session_mod._DEFAULT._client, session_mod._DEFAULT._store_arg, session_mod._DEFAULT._store)
    try:
        jobs.configure(client=Client(api_key=server.api_key, base_url=server.base_url),
                       store=tmp_path / "d.sqlite3", progress=False)
        r = jobs.diarize(wav)
        assert jobs.job(r.job_id).result().raw == r.raw
        assert list(jobs.jobs()["job_id"]) == [r.job_id]
        assert list(jobs()["job_id"]) == [r.job_id]  # the package itself is callable
        with pytest.raises(InvalidOption, match="^colour: unknown setting"):
            jobs.configure(colour="red")
    finally:
        session_mod._DEFAULT._client, session_mod._DEFAULT._store_arg, session_mod._DEFAULT._store = old


def test_single_diarize_progress_follows_the_job_status(server, session, wav):
    server.engine.script(lambda kind, params: True, Script(output=OUTPUT, duration=2.5))
    seen: list[dict[str, int]] = []

    def hook(step, counts, file=None, total=None, completed=None):
        seen.append({k: v for k, v in counts.items() if v})

    session.diarize(wav, exclusive=True, progress=hook)
    states = [next(iter(c)) for c in seen if len(c) == 1]
    # upload first, then the job as polls see it, then done (the hook is called again on close)
    assert states == ["uploading", "queued", "running", "done", "done"]


# --------------------------------------------------------------------------- one job per content


def _key_of(session, wav, **options):
    from pyannote_notebook.jobs.session import _options_object, prepare_audio
    from pyannote_notebook.jobs.store import content_key

    prep = prepare_audio(wav)
    prep.close()
    canonical = _options_object("diarize", options).canonical()
    return content_key(str(session.client.base_url), "diarize", prep.audio_hash, canonical)


def test_concurrent_threads_same_file_create_one_job(server, session, wav, tmp_path):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    server.engine.script(lambda kind, params: True, Script(output=OUTPUT, duration=0.5))
    # three Session objects (each its own client) on the same store file, started together
    sessions = [session] + [
        Session(client=Client(api_key=server.api_key, base_url=server.base_url),
                store=tmp_path / "jobs.sqlite3", progress=False)
        for _ in range(2)
    ]
    barrier = threading.Barrier(3)

    def run(s):
        barrier.wait()  # all three look the key up at the same moment
        return s.diarize(wav, num_speakers=2)

    with ThreadPoolExecutor(3) as pool:
        results = [f.result(timeout=60) for f in [pool.submit(run, s) for s in sessions]]
    assert server.stats.jobs_created == 1
    assert server.stats.requests[("POST", "/v1/media/input")] == 1
    assert len({r.job_id for r in results}) == 1
    assert [r.raw for r in results] == [OUTPUT] * 3
    assert session.store.claims() == []
    assert session_mod._KEY_LOCKS == {}  # per-key locks are dropped after use


_CHILD = r'''
import json, os, sys, time
from pathlib import Path
ready = Path(sys.argv[2])
(ready / f"ready-{os.getpid()}").touch()
deadline = time.time() + 60
while len(list(ready.glob("ready-*"))) < int(sys.argv[3]) and time.time() < deadline:
    time.sleep(0.005)
from pyannote_notebook.jobs import session as s
r = s.diarize(sys.argv[1], num_speakers=2, progress=False)
print(json.dumps({"job_id": r.job_id, "raw": r.raw}))
'''


def test_concurrent_processes_same_store_create_one_job(server, wav, tmp_path):
    import os
    import subprocess
    import sys

    from pyannote_notebook.jobs.store import JobStore

    server.engine.script(lambda kind, params: True, Script(output=OUTPUT, duration=1.0))
    store_path = tmp_path / "shared.sqlite3"
    JobStore(store_path).close()  # created (and migrated) before the race
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    ready = tmp_path / "ready"
    ready.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYANNOTE",))}
    env.update(PYANNOTEAI_BASE_URL=server.base_url, PYANNOTEAI_API_KEY=server.api_key,
               PYANNOTE_NOTEBOOK_STORE=str(store_path))
    n = 3
    procs = [subprocess.Popen([sys.executable, str(script), str(wav), str(ready), str(n)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(n)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * n, [e for _, e in outs]
    got = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]
    assert server.stats.jobs_created == 1
    assert server.stats.requests[("POST", "/v1/media/input")] == 1
    assert len({g["job_id"] for g in got}) == 1
    assert [g["raw"] for g in got] == [OUTPUT] * n
    store = JobStore(store_path)
    assert [r.job_id for r in store.list()] == [got[0]["job_id"]]
    assert store.claims() == []


def test_stale_claim_of_a_dead_owner_is_taken_over(server, session, wav):
    import time

    key = _key_of(session, wav)
    # another host's claim, 700 s old (> the default ttl of 600 s): its owner died mid-upload
    session.store._transaction(lambda con: con.execute(
        "INSERT INTO claims (key, owner, claimed_at) VALUES (?, ?, ?)",
        (key, "crashed-host.example:999:0a0a", time.time() - 700.0)))
    result = session.diarize(wav)  # takes the claim over at once, no waiting
    assert server.stats.jobs_created == 1
    assert session.store.get(result.job_id).key == key
    assert session.store.claims() == []


def test_live_claim_makes_waiter_reattach_to_the_winners_job(server, session, wav, tmp_path):
    import threading
    import time

    server.engine.script(lambda kind, params: True, Script(output=OUTPUT, duration=0.2))
    key = _key_of(session, wav)
    assert session.store.claim(key, "other-host.example:1:feed") == "claimed"  # "another process"
    box: dict = {}
    waiter = threading.Thread(target=lambda: box.setdefault("r", session.diarize(wav)))
    waiter.start()
    time.sleep(1.0)
    assert waiter.is_alive() and server.stats.jobs_created == 0  # waiting on the claim
    # the other process now records its job (force=True: no claim, pays once)
    other = Session(client=Client(api_key=server.api_key, base_url=server.base_url),
                    store=tmp_path / "jobs.sqlite3", progress=False)
    winner = other.submit(wav, force=True)
    waiter.join(30)
    assert not waiter.is_alive()
    assert box["r"].job_id == winner.id and box["r"].raw == OUTPUT
    assert server.stats.jobs_created == 1
    assert session.store.claims() == []


def test_expired_claim_is_taken_over_with_a_short_ttl(server, wav, tmp_path):
    session = Session(client=Client(api_key=server.api_key, base_url=server.base_url),
                      store=tmp_path / "jobs.sqlite3", progress=False, claim_ttl=0.5,
                      claim_poll=0.05)
    key = _key_of(session, wav)
    assert session.store.claim(key, "other-host.example:1:feed") == "claimed"
    result = session.diarize(wav)
    assert server.stats.jobs_created == 1
    assert session.store.get(result.job_id).key == key
    assert session.store.claims() == []


def test_force_skips_the_claim(server, session, wav):
    key = _key_of(session, wav)
    assert session.store.claim(key, "other-host.example:1:feed") == "claimed"  # live, 600 s
    job = session.submit(wav, force=True)  # does not wait for the other submitter
    assert server.stats.jobs_created == 1 and session.store.get(job.id).key == key
    job2 = session.submit(wav, force=True)
    assert server.stats.jobs_created == 2 and job2.id != job.id


def test_failed_submission_releases_the_claim(server, session, wav):
    client = session.client

    def boom(*a, **kw):
        raise RuntimeError("POST failed")

    client.diarize = boom  # instance attribute: only this client fails
    with pytest.raises(RuntimeError, match="POST failed"):
        session.diarize(wav)
    assert session.store.claims() == [] and server.stats.jobs_created == 0
    del client.diarize
    result = session.diarize(wav)  # nothing left blocking the next attempt
    assert server.stats.jobs_created == 1 and session.store.get(result.job_id).status == "succeeded"


# --------------------------------------------------------------------------- local audio check


def test_non_audio_file_refused_before_any_request(server, session, tmp_path, monkeypatch):
    rttm = tmp_path / "meeting.rttm"
    rttm.write_text("SPEAKER meeting 1 0.000 1.000 <NA> <NA> spk0 <NA> <NA>\n")
    with pytest.raises(InvalidOption, match=r"^audio: .*meeting\.rttm is not an audio file "
                                            r"libsndfile can read \(.+\)"):
        session.diarize(rttm)
    with pytest.raises(InvalidOption, match=r"meeting\.rttm is not an audio file"):
        session.submit(str(rttm))
    batch = session.diarize_many([rttm])
    assert isinstance(batch.results[0], InvalidOption)
    assert "meeting.rttm is not an audio file" in str(batch.results[0])
    assert total_requests(server) == 0 and server.stats.jobs_created == 0
    # the embedded server is not even started
    for var in ("PYANNOTEAI_API_KEY", "PYANNOTE_API_KEY", "PYANNOTEAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(session_mod, "_EMBEDDED", {})
    embedded = Session(store=tmp_path / "e.sqlite3", embedded_engine="scripted", progress=False)
    with pytest.raises(InvalidOption, match="not an audio file"):
        embedded.diarize(rttm)
    assert session_mod._EMBEDDED == {}


def test_readable_audio_accepted_with_duration_hint(server, session, tmp_path):
    import soundfile as sf

    flac = tmp_path / "clip.flac"
    sf.write(flac, (np.sin(np.linspace(0, 900, 24000)) * 0.3).astype(np.float32), 16000)
    job = session.submit(flac)
    assert job.api_job.audio_duration == 1.5  # 24000 frames at 16 kHz, measured locally
    assert session_mod.check_audio_file(str(flac)) == 1.5
    assert session.submit(write_wav(tmp_path / "w.wav", seconds=2.0)).api_job.audio_duration == 2.0
    assert server.stats.jobs_created == 2


def test_unreadable_compressed_container_is_left_to_the_service(server, session, tmp_path):
    # libsndfile may lack MP3/AAC/Opus on some platforms: such files are not refused locally
    fake = tmp_path / "talk.mp3"
    fake.write_bytes(b"\x00garbage, not an mp3\x01" * 50)
    job = session.submit(fake)
    assert server.stats.jobs_created == 1
    assert session.store.get(job.id).audio_name == str(fake)
    assert session_mod.check_audio_file(str(fake)) is None


# --------------------------------------------------------------------------- interpreter exit


def test_embedded_server_stopped_cleanly_at_exit(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pyannote_notebook.jobs.session import Session\n"
        "from pyannote_notebook.server.testing import write_wav\n"
        "wav = write_wav(sys.argv[1] + '/a.wav', seconds=1.0)\n"
        "s = Session(store=sys.argv[1] + '/s.sqlite3', embedded_engine='scripted', progress=False)\n"
        "print('JOB', s.diarize(wav).job_id)\n"
    )
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYANNOTEAI_API_KEY", "PYANNOTE_API_KEY", "PYANNOTEAI_BASE_URL")}
    proc = subprocess.run([sys.executable, "-W", "default::ResourceWarning", "-c", code,
                           str(tmp_path)], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert "No pyannoteAI API key found" in proc.stdout and "JOB " in proc.stdout
    assert "Implicitly cleaning up" not in proc.stderr
    assert "ResourceWarning" not in proc.stderr, proc.stderr


def test_failed_job_reported_by_webhook_keeps_the_services_error_text(server, tmp_path, wav):
    # a failed webhook has no output: the error text costs exactly one GET, single and batch
    client = Client(api_key=server.api_key, base_url=server.base_url)
    session = Session(client=client, store=tmp_path / "s.sqlite3", progress=False)
    server.engine.script(lambda kind, params: True,
                         Script(error="Could not load audio", status="failed", duration=0.3))
    with WebhookReceiver(server.webhook_secret, store=session.store) as rx:
        job = session.submit(wav, webhook=rx.url)
        for _ in range(300):
            if session.store.get(job.id).status == "failed":
                break
            time.sleep(0.02)
        assert session.store.get(job.id).error is None  # what the webhook alone tells
        with pytest.raises(JobFailed) as err:
            job.wait(timeout=30, poll=60.0)
        assert err.value.error == "Could not load audio"
        assert server.stats.job_reads[job.id] == 1
        assert session.store.get(job.id).error == "Could not load audio"

        other = write_wav(tmp_path / "other.wav", seconds=1.0, frequency=330.0)
        batch = session.diarize_many([other], webhook=rx.url)
    assert isinstance(batch.results[0], JobFailed)
    assert batch.results[0].error == "Could not load audio"
    assert rx.handler.accepted == 2


def test_webhook_receiver_writes_to_the_default_store(server, tmp_path, monkeypatch, wav):
    # with no store= the receiver writes where pn.diarize reads: an output delivered while
    # nobody waits survives the service's 24 h deletion
    monkeypatch.setenv("PYANNOTE_NOTEBOOK_STORE", str(tmp_path / "default.sqlite3"))
    client = Client(api_key=server.api_key, base_url=server.base_url)
    with WebhookReceiver(server.webhook_secret) as rx:
        job = client.diarize(client.upload(wav), webhook=rx.url)
        for _ in range(300):
            if rx.handler.accepted:
                break
            time.sleep(0.02)
    assert rx.handler.accepted == 1
    rec = JobStore(tmp_path / "default.sqlite3").get(job.id)
    assert rec.status == "succeeded" and rec.output["diarization"]
    assert WebhookReceiver(server.webhook_secret, store=False).handler.store is None
    with pytest.raises(InvalidOption, match="store"):
        WebhookReceiver(server.webhook_secret, store=42)


def test_upload_of_a_failed_job_is_not_reused(server, session, wav):
    # e.g. the server lost its uploads (restart) or they belong to another key: the job fails
    # with "Could not load audio"; the retry must upload again instead of failing forever
    uploads = ("POST", "/v1/media/input")
    first = session.diarize(wav)
    assert server.stats.requests[uploads] == 1
    assert session.diarize(wav, force=True).job_id != first.job_id
    assert server.stats.requests[uploads] == 1  # a valid upload is reused
    server.engine.push(Script(error="Could not load audio", status="failed"))
    with pytest.raises(JobFailed, match="Could not load audio"):
        session.diarize(wav, force=True)
    assert session.store.counts()["uploads"] == 0
    again = session.diarize(wav, force=True)
    assert again.speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert server.stats.requests[uploads] == 2
    assert session.store.counts()["uploads"] == 1

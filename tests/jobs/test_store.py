"""JobStore: schema, monotonic updates, uploads, migrations, concurrency across processes."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sqlite3

import pytest

from pyannote_notebook.errors import StoreError
from pyannote_notebook.jobs import store as store_mod
from pyannote_notebook.jobs.store import JobStore, content_key


def test_new_file_has_schema_v2_and_tables(tmp_path):
    s = JobStore(tmp_path / "a.sqlite3")
    assert s.schema_version == 2 == store_mod.SCHEMA_VERSION
    assert s.counts() == {"jobs": 0, "uploads": 0, "webhook_events": 0}
    assert s.claims() == []
    con = sqlite3.connect(tmp_path / "a.sqlite3")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"jobs", "uploads", "webhook_events", "claims"}


def test_path_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PYANNOTE_NOTEBOOK_STORE", str(tmp_path / "env.sqlite3"))
    s = JobStore()
    assert s.path == tmp_path / "env.sqlite3"
    assert (tmp_path / "env.sqlite3").exists()


def test_submission_then_status_is_monotonic(tmp_path):
    s = JobStore(tmp_path / "s.sqlite3")
    s.record_submission("j1", kind="diarize", base_url="http://x/v1", media_url="media://a",
                        audio_hash="h", audio_name="a.wav", options_json='{"model":"precision-2"}',
                        key="k1", now=100.0)
    assert s.get("j1").status == "created"
    assert s.update("j1", "running", now=101.0) is True
    out = {"diarization": [{"speaker": "SPEAKER_00", "start": 0.5, "end": 1.25}]}
    assert s.update("j1", "succeeded", out, now=102.0) is True
    # older news arriving late never lowers the status nor erases the output
    assert s.update("j1", "running", now=103.0) is False
    assert s.update("j1", "succeeded", None, now=104.0) is False
    assert s.update("j1", "failed", {"error": "boom"}, now=105.0) is False
    rec = s.get("j1")
    assert rec.status == "succeeded"
    assert rec.output == out
    assert rec.output_json == '{"diarization":[{"speaker":"SPEAKER_00","start":0.5,"end":1.25}]}'
    assert rec.finished_at == 102.0
    assert rec.kind == "diarize" and rec.audio_name == "a.wav"
    assert rec.options == {"model": "precision-2"}


def test_output_first_seen_is_kept_verbatim(tmp_path):
    s = JobStore(tmp_path / "s.sqlite3")
    s.update("j", "succeeded", {"b": 1, "a": 2.0})
    s.update("j", "succeeded", {"b": 99})
    assert s.get("j").output_json == '{"b":1,"a":2.0}'


def test_failed_job_keeps_error_and_is_not_reused(tmp_path):
    s = JobStore(tmp_path / "s.sqlite3")
    s.record_submission("j", kind="diarize", base_url="u", key="K")
    s.update("j", "failed", {"error": "Could not load audio"})
    rec = s.get("j")
    assert rec.status == "failed" and rec.error == "Could not load audio"
    assert s.find("K") is None


def test_find_prefers_succeeded_then_newest(tmp_path):
    s = JobStore(tmp_path / "s.sqlite3")
    s.record_submission("old", kind="diarize", base_url="u", key="K", now=1.0)
    s.update("old", "succeeded", {"diarization": []}, now=2.0)
    s.record_submission("new", kind="diarize", base_url="u", key="K", now=3.0)
    assert s.find("K").job_id == "old"
    assert s.find("other") is None


def test_record_submission_after_listener_keeps_higher_status(tmp_path):
    # the client's listener may write the row (and even the final status) before the
    # session adds the metadata
    s = JobStore(tmp_path / "s.sqlite3")
    s.record_info({"jobId": "j", "status": "succeeded", "output": {"diarization": []}})
    rec = s.record_submission("j", kind="diarize", base_url="http://b/v1", audio_hash="h", key="K")
    assert rec.status == "succeeded"
    assert rec.base_url == "http://b/v1"
    assert rec.output == {"diarization": []}


def test_record_info_accepts_objects(tmp_path):
    class Info:
        job_id = "j"
        status = "running"
        output = None

    s = JobStore(tmp_path / "s.sqlite3")
    s.record_info(Info())
    assert s.get("j").status == "running"
    s.record_info({"status": "running"})  # no id: ignored
    assert s.counts()["jobs"] == 1


def test_content_key_depends_on_every_part():
    base = content_key("http://a/v1", "diarize", "h", "{}")
    assert base == content_key("http://a/v1/", "diarize", "h", "{}")
    assert len({base, content_key("http://b/v1", "diarize", "h", "{}"),
                content_key("http://a/v1", "identify", "h", "{}"),
                content_key("http://a/v1", "diarize", "h2", "{}"),
                content_key("http://a/v1", "diarize", "h", '{"x":1}')}) == 5


def test_uploads_valid_until_expiry(tmp_path):
    s = JobStore(tmp_path / "s.sqlite3")
    s.record_upload("h", "http://a/v1", "media://x", size=10, ttl=24 * 3600, now=1000.0)
    assert s.find_upload("h", "http://a/v1", now=1000.0) == "media://x"
    assert s.find_upload("h", "http://a/v1/", now=1000.0 + 20 * 3600) == "media://x"
    # less than the margin (1 h) left: not reused
    assert s.find_upload("h", "http://a/v1", now=1000.0 + 23.5 * 3600) is None
    assert s.find_upload("h", "http://other/v1", now=1000.0) is None


def test_webhook_events_deduplicate(tmp_path):
    s = JobStore(tmp_path / "s.sqlite3")
    assert s.apply_webhook("j", "succeeded", {"diarization": []}) is True
    assert s.apply_webhook("j", "succeeded", {"diarization": [1]}) is False
    assert s.get("j").output == {"diarization": []}
    assert [e[:2] for e in s.webhook_events()] == [("j", "succeeded")]


def test_api_key_never_stored(tmp_path):
    key = "sk_live_supersecret_0123456789"
    s = JobStore(tmp_path / "s.sqlite3")
    s.record_submission("j", kind="diarize", base_url="http://a/v1", media_url="media://m",
                        options_json="{}", key=content_key("http://a/v1", "diarize", "h", "{}"))
    s.update("j", "succeeded", {"diarization": []})
    s.close()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert key.encode() not in data
    assert b"media://m" in data  # sanity: the bytes we grep do contain the rows


def test_dataframe(tmp_path):
    s = JobStore(tmp_path / "s.sqlite3")
    s.record_submission("a", kind="diarize", base_url="u", audio_name="a.wav", now=10.0)
    s.record_submission("b", kind="voiceprint", base_url="u", audio_name="b.wav", now=20.0)
    s.update("b", "failed", {"error": "bad"})
    df = s.dataframe()
    assert list(df["job_id"]) == ["b", "a"]
    assert list(df["status"]) == ["failed", "created"]
    assert df["error"].iloc[0] == "bad" and df["error"].isna().tolist() == [False, True]
    assert str(df["created_at"].dtype).startswith("datetime64")
    assert df["created_at"].iloc[1].timestamp() == 10.0
    assert list(s.dataframe(status="created")["job_id"]) == ["a"]


def test_newer_schema_refused(tmp_path):
    path = tmp_path / "future.sqlite3"
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(StoreError, match=r"schema version 99, newer than .*\(2\)"):
        JobStore(path)


def _v1_file(path):
    """A store file exactly as schema v1 left it (the real v0 -> v1 step), holding rows."""
    con = sqlite3.connect(path, isolation_level=None)
    store_mod.MIGRATIONS[0](con)
    con.execute("PRAGMA user_version = 1")
    con.execute(
        "INSERT INTO jobs (job_id, kind, base_url, key, status, created_at, updated_at,"
        " output_json, finished_at) VALUES ('j', 'diarize', 'u', 'K', 'succeeded', 5.0, 6.0,"
        " '{\"diarization\":[]}', 6.0)")
    con.execute("INSERT INTO jobs (job_id, kind, base_url, key, status, created_at, updated_at)"
                " VALUES ('r', 'diarize', 'u', 'K2', 'created', 7.0, 7.0)")
    con.execute("INSERT INTO uploads VALUES ('h', 'u', 'media://m', 10, 1.0, 1e12)")
    con.execute("INSERT INTO webhook_events VALUES ('j', 'succeeded', 6.0)")
    assert con.execute("SELECT name FROM sqlite_master WHERE name='claims'").fetchone() is None
    con.close()


def test_migration_v1_to_v2_adds_claims_and_keeps_rows(tmp_path):
    path = tmp_path / "m.sqlite3"
    _v1_file(path)
    s = JobStore(path)  # the real MIGRATIONS: v1 -> v2
    assert s.schema_version == 2
    assert s.counts() == {"jobs": 2, "uploads": 1, "webhook_events": 1}
    rec = s.get("j")
    assert (rec.status, rec.output, rec.key, rec.created_at) == ("succeeded", {"diarization": []},
                                                                 "K", 5.0)
    assert s.get("r").status == "created"
    assert s.find_upload("h", "u") == "media://m"
    assert [e[:2] for e in s.webhook_events()] == [("j", "succeeded")]
    # the new table works on the migrated file
    assert s.claims() == []
    assert s.claim("K", "me") == "job"
    assert s.claim("new-key", "me", now=10.0) == "claimed"
    assert s.claims() == [("new-key", "me", 10.0)]


def test_migration_mechanism_accepts_a_next_step(tmp_path, monkeypatch):
    path = tmp_path / "m.sqlite3"
    s = JobStore(path)
    s.record_submission("j", kind="diarize", base_url="u", key="K")
    s.update("j", "succeeded", {"diarization": []})
    s.record_upload("h", "u", "media://m")
    s.close()

    def v2_to_v3(con):
        con.execute("ALTER TABLE jobs ADD COLUMN note TEXT DEFAULT 'migrated'")

    monkeypatch.setattr(store_mod, "MIGRATIONS", [*store_mod.MIGRATIONS, v2_to_v3])
    s2 = JobStore(path)
    assert s2.schema_version == 3
    assert s2.get("j").output == {"diarization": []}
    assert s2.find_upload("h", "u") == "media://m"
    con = sqlite3.connect(path)
    assert con.execute("SELECT note FROM jobs WHERE job_id='j'").fetchone() == ("migrated",)


def test_unwritable_path_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the folder of the job store"):
        JobStore(blocker / "sub" / "jobs.sqlite3")


def test_corrupt_file_is_a_store_error(tmp_path):
    path = tmp_path / "bad.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="bad.sqlite3"):
        JobStore(path)


def _writer(path: str, prefix: str, n: int) -> None:
    s = JobStore(path, busy_timeout=0.05)  # tiny busy timeout: the retry loop must do the work
    for i in range(n):
        s.record_submission(f"{prefix}{i}", kind="diarize", base_url="u", key=f"k{i}")
        s.update(f"{prefix}{i}", "running")
        # read-modify-write on a shared row: a counter in the output of job "shared"
        def bump(con):
            row = con.execute("SELECT output_json FROM jobs WHERE job_id='shared'").fetchone()
            n_ = json.loads(row[0])["n"] + 1
            con.execute("UPDATE jobs SET output_json=? WHERE job_id='shared'",
                        (json.dumps({"n": n_}),))
        s._transaction(bump)


def test_two_processes_no_lost_update(tmp_path):
    path = str(tmp_path / "c.sqlite3")
    s = JobStore(path)
    s.update("shared", "running", None)
    s._transaction(lambda con: con.execute(
        "UPDATE jobs SET output_json='{\"n\": 0}' WHERE job_id='shared'"))
    n = 150
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, p, n)) for p in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert s.get("shared").output == {"n": 2 * n}
    assert s.counts()["jobs"] == 2 * n + 1
    assert {r.status for r in s.list() if r.job_id != "shared"} == {"running"}


# --------------------------------------------------------------------------- submission claims


def test_claim_busy_release_and_job(tmp_path):
    s = JobStore(tmp_path / "c.sqlite3")
    assert s.claim("K", "host:1:a", now=100.0) == "claimed"
    assert s.claim("K", "host:1:b", now=101.0) == "busy"
    assert s.claim("K", "host:1:a", now=102.0) == "claimed"  # its own claim: refreshed
    assert s.claims() == [("K", "host:1:a", 102.0)]
    assert s.release("K", "host:1:b") is False  # not the owner: nothing dropped
    assert s.claim("K", "host:1:b", now=103.0) == "busy"
    assert s.release("K", "host:1:a") is True
    assert s.claims() == []
    assert s.claim("K", "host:1:b", now=104.0) == "claimed"
    # the winner records its job: the claim goes in the same transaction, then everyone sees it
    s.record_submission("job-1", kind="diarize", base_url="u", key="K")
    assert s.claims() == []
    assert s.claim("K", "host:1:c") == "job"
    assert s.claims() == []  # "job" claims nothing


def test_claim_ignores_failed_jobs(tmp_path):
    s = JobStore(tmp_path / "c.sqlite3")
    s.record_submission("bad", kind="diarize", base_url="u", key="K")
    s.update("bad", "failed", {"error": "Could not load audio"})
    assert s.claim("K", "me") == "claimed"


def test_stale_claim_is_taken_over(tmp_path):
    s = JobStore(tmp_path / "c.sqlite3", claim_ttl=600.0)
    dead = "another-host.example:4242:0123abcd"  # another host: only its age tells it died
    s._transaction(lambda con: con.execute(
        "INSERT INTO claims (key, owner, claimed_at) VALUES ('K', ?, ?)", (dead, 1000.0)))
    assert s.claim("K", "me", now=1000.0 + 599.0) == "busy"
    assert s.claim("K", "me", now=1000.0 + 601.0) == "claimed"
    assert s.claims() == [("K", "me", 1601.0)]
    # ttl per call overrides the store's
    assert s.claim("K", "you", ttl=1.0, now=1603.0) == "claimed"
    assert s.claims()[0][1] == "you"


def test_claim_of_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path):
    import socket
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: its pid no longer exists
    s = JobStore(tmp_path / "c.sqlite3")
    owner = f"{socket.gethostname()}:{proc.pid}:deadbeef"
    s._transaction(lambda con: con.execute(
        "INSERT INTO claims (key, owner, claimed_at) VALUES ('K', ?, ?)", (owner, 1e12)))
    assert s.claim("K", "me", now=1e12) == "claimed"
    # a live process on this host keeps its claim
    live = f"{socket.gethostname()}:{os.getppid()}:cafe"
    s._transaction(lambda con: con.execute(
        "INSERT OR REPLACE INTO claims (key, owner, claimed_at) VALUES ('K2', ?, ?)", (live, 1e12)))
    assert s.claim("K2", "me", now=1e12) == "busy"


def test_new_claim_owner_is_unique_and_names_this_process():
    import socket

    a, b = store_mod.new_claim_owner(), store_mod.new_claim_owner()
    assert a != b
    host, pid, tag = a.rsplit(":", 2)
    assert (host, int(pid), len(tag)) == (socket.gethostname(), os.getpid(), 32)


def _claimer(path: str, key: str, start: float, out) -> None:
    import time as _t

    s = JobStore(path, busy_timeout=0.05)
    while _t.time() < start:
        _t.sleep(0.001)
    owner = store_mod.new_claim_owner()
    out.put((owner, s.claim(key, owner)))


def test_claim_is_atomic_across_processes(tmp_path):
    import time as _t

    path = str(tmp_path / "c.sqlite3")
    JobStore(path)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    start = _t.time() + 3.0  # spawned interpreters need a moment to start
    procs = [ctx.Process(target=_claimer, args=(path, "K", start, q)) for _ in range(4)]
    for p in procs:
        p.start()
    got = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
    assert sorted(state for _, state in got) == ["busy", "busy", "busy", "claimed"]
    winner = next(owner for owner, state in got if state == "claimed")
    assert [c[:2] for c in JobStore(path).claims()] == [("K", winner)]

"""Per-API-key namespaces: uploads, media:// job inputs, job reads and lists of one key are
invisible to another key (the cloud's namespace is per team/key)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pyannote_notebook.server import start_server
from pyannote_notebook.server.handle import ServerHandle
from pyannote_notebook.server.storage import owner_id
from pyannote_notebook.server.testing import upload_file, wait_job, write_wav

KEY_A, KEY_B = "key-alpha-0123456789", "key-bravo-9876543210"


@pytest.fixture
def two_keys() -> Iterator[tuple[ServerHandle, requests.Session, requests.Session]]:
    with start_server(api_keys=[KEY_A, KEY_B]) as handle, requests.Session() as a, requests.Session() as b:
        a.headers["Authorization"] = f"Bearer {KEY_A}"
        b.headers["Authorization"] = f"Bearer {KEY_B}"
        yield handle, a, b


def _diarize(handle: ServerHandle, session: requests.Session, url: str) -> dict:
    answer = session.post(f"{handle.base_url}/diarize", json={"url": url})
    assert answer.status_code == 200, answer.text
    return wait_job(handle, answer.json()["jobId"], session)


def test_same_media_key_is_two_files_and_inputs_resolve_per_key(
        two_keys: tuple[ServerHandle, requests.Session, requests.Session], tmp_path: Path) -> None:
    handle, a, b = two_keys
    one = write_wav(tmp_path / "one.wav", seconds=1.0)
    two = write_wav(tmp_path / "two.wav", seconds=2.0)
    upload_file(handle, one, "shared", a)
    upload_file(handle, two, "shared", b)  # same name, other key: does not replace A's file
    upload_file(handle, one, "only-a", a)
    assert _diarize(handle, a, "media://shared")["output"]["diarization"][-1]["end"] == 1.0
    assert _diarize(handle, b, "media://shared")["output"]["diarization"][-1]["end"] == 2.0
    # B cannot use or download A's upload
    assert _diarize(handle, b, "media://only-a")["output"] == {"error": "Could not load audio"}
    b_get = requests.get(b.post(f"{handle.base_url}/media/output", json={"url": "media://only-a"}).json()["url"])
    assert b_get.status_code == 404 and b_get.json()["message"] == "Nothing was uploaded under media://only-a"
    a_get = requests.get(a.post(f"{handle.base_url}/media/output", json={"url": "media://only-a"}).json()["url"])
    assert a_get.status_code == 200 and a_get.content == one.read_bytes()
    # on disk: one directory per key, named by a hash of the key, never the key
    stored = sorted(p.relative_to(handle.store_dir / "uploads").as_posix()
                    for p in (handle.store_dir / "uploads").rglob("*.bin"))
    digest = {k: hashlib.sha256(f"media://{k}".encode()).hexdigest() for k in ("shared", "only-a")}
    assert stored == sorted([f"{owner_id(KEY_A)}/{digest['shared']}.bin", f"{owner_id(KEY_A)}/{digest['only-a']}.bin",
                             f"{owner_id(KEY_B)}/{digest['shared']}.bin"])
    assert owner_id(KEY_A) != owner_id(KEY_B)
    assert all(KEY_A not in p and KEY_B not in p for p in stored)


def test_jobs_of_another_key_are_404_and_not_listed(
        two_keys: tuple[ServerHandle, requests.Session, requests.Session], tmp_path: Path) -> None:
    handle, a, b = two_keys
    wav = write_wav(tmp_path / "a.wav", seconds=1.0)
    media_a = upload_file(handle, wav, "x", a)
    media_b = upload_file(handle, wav, "x", b)
    a_jobs = [_diarize(handle, a, media_a)["jobId"] for _ in range(3)]
    b_jobs = [_diarize(handle, b, media_b)["jobId"] for _ in range(2)]
    other = b.get(f"{handle.base_url}/jobs/{a_jobs[0]}")
    assert other.status_code == 404 and other.json()["message"] == f"Job {a_jobs[0]} not found"
    assert a.get(f"{handle.base_url}/jobs/{a_jobs[0]}").json()["status"] == "succeeded"
    assert [i["id"] for i in a.get(f"{handle.root_url}/v2/jobs").json()["items"]] == a_jobs[::-1]
    assert [i["id"] for i in b.get(f"{handle.root_url}/v2/jobs").json()["items"]] == b_jobs[::-1]
    v1 = b.get(f"{handle.base_url}/jobs", params={"take": 100}).json()
    assert v1["total"] == 2 and [i["id"] for i in v1["items"]] == b_jobs[::-1]
    assert a.get(f"{handle.base_url}/jobs", params={"status": "succeeded"}).json()["total"] == 3
    # another key's job id is no cursor
    page = a.get(f"{handle.root_url}/v2/jobs", params={"limit": 1}).json()
    assert page["nextCursor"] == a_jobs[2]
    assert a.get(f"{handle.root_url}/v2/jobs", params={"limit": 5, "cursor": a_jobs[2]}).json()["items"][0]["id"] \
        == a_jobs[1]
    foreign = b.get(f"{handle.root_url}/v2/jobs", params={"cursor": a_jobs[2]})
    assert foreign.status_code == 400 and foreign.json()["errors"][0]["field"] == "cursor"
    # the test-side snapshot stays global, tagged with the owner
    snapshot = handle.jobs_snapshot()
    assert [j["job_id"] for j in snapshot] == a_jobs + b_jobs
    assert [j["owner"] for j in snapshot] == [owner_id(KEY_A)] * 3 + [owner_id(KEY_B)] * 2
    assert handle.stats.jobs_created == 5

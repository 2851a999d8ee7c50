"""Every endpoint of the local server over real loopback HTTP (scripted engine)."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import requests

from pyannote_notebook.server import Script, start_server
from pyannote_notebook.server.handle import ServerHandle
from pyannote_notebook.server.testing import upload_file, wait_job

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_test_endpoint_answers_ok(pyannote_server: ServerHandle, api: requests.Session) -> None:
    answer = api.get(f"{pyannote_server.base_url}/test")
    assert answer.status_code == 200
    assert answer.json() == {"status": "OK", "message": "Test connection successful"}


def test_missing_and_unknown_keys_get_401(pyannote_server: ServerHandle) -> None:
    base = pyannote_server.base_url
    for headers, message in [
        ({}, "Missing API key: send the header 'Authorization: Bearer <API key>'"),
        ({"Authorization": "Basic abc"}, "Missing API key: send the header 'Authorization: Bearer <API key>'"),
        ({"Authorization": "Bearer "}, "Missing API key: send the header 'Authorization: Bearer <API key>'"),
        ({"Authorization": "Bearer not-the-key"}, "Invalid API key"),
        ({"Authorization": f"Bearer {pyannote_server.api_key}x"}, "Invalid API key"),
    ]:
        for method, path in [("GET", "/test"), ("POST", "/diarize"), ("GET", f"/jobs/{uuid.uuid4()}")]:
            answer = requests.request(method, base + path, headers=headers, json={"url": "media://x"})
            assert answer.status_code == 401, (headers, path)
            body = answer.json()
            assert body["message"] == message
            uuid.UUID(body["requestId"])
    assert pyannote_server.stats.jobs_created == 0


def test_several_keys_are_accepted() -> None:
    with start_server(api_keys=["key-one", "key-two"]) as handle:
        for key in ("key-one", "key-two"):
            answer = requests.get(f"{handle.base_url}/test", headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 200
        assert handle.api_key == "key-one"
        assert requests.get(f"{handle.base_url}/test",
                            headers={"Authorization": "Bearer key-three"}).status_code == 401


def test_diarize_lifecycle_with_timestamps(pyannote_server: ServerHandle, api: requests.Session,
                                           pyannote_wav: Path) -> None:
    media = upload_file(pyannote_server, pyannote_wav, "meetings/a.wav", api)
    pyannote_server.engine.push(Script(duration=0.5))
    created = api.post(f"{pyannote_server.base_url}/diarize",
                       json={"url": media, "exclusive": True, "numSpeakers": None, "model": None})
    assert created.status_code == 200
    body = created.json()
    assert body["status"] == "created" and set(body) == {"jobId", "status"}
    assert uuid.UUID(body["jobId"]).version == 4
    time.sleep(0.2)
    running = api.get(f"{pyannote_server.base_url}/jobs/{body['jobId']}").json()
    assert running["status"] == "running"
    assert "output" not in running
    job = wait_job(pyannote_server, body["jobId"], api)
    assert job["status"] == "succeeded"
    assert set(job) == {"jobId", "status", "createdAt", "updatedAt", "output"}
    assert ISO_MS.match(job["createdAt"]) and ISO_MS.match(job["updatedAt"])
    assert job["updatedAt"] > job["createdAt"]
    output = job["output"]
    # 3 s of audio, 2 speakers x 2 turns of 0.75 s each
    assert output["exclusiveDiarization"] == [
        {"speaker": "SPEAKER_00", "start": 0.0, "end": 0.75},
        {"speaker": "SPEAKER_01", "start": 0.75, "end": 1.5},
        {"speaker": "SPEAKER_00", "start": 1.5, "end": 2.25},
        {"speaker": "SPEAKER_01", "start": 2.25, "end": 3.0},
    ]
    assert [t["end"] for t in output["diarization"]] == [0.938, 1.688, 2.438, 3.0]
    # params reach the engine camelCase, nulls removed, url removed
    call = pyannote_server.engine.calls[-1]
    assert call.kind == "diarize" and call.url == media
    assert call.params == {"exclusive": True}
    snap = pyannote_server.jobs_snapshot()[-1]
    assert snap["job_id"] == body["jobId"] and snap["kind"] == "diarize"
    assert abs(snap["audio_duration"] - 3.0) < 1e-9
    assert snap["completed_ts"] - snap["started_ts"] >= 0.5


def test_identify_and_voiceprint_jobs(pyannote_server: ServerHandle, api: requests.Session,
                                      pyannote_wav: Path) -> None:
    media = upload_file(pyannote_server, pyannote_wav, "clip", api)
    vp = api.post(f"{pyannote_server.base_url}/voiceprint", json={"url": media})
    assert vp.status_code == 200
    voiceprint = wait_job(pyannote_server, vp.json()["jobId"], api)["output"]["voiceprint"]
    assert isinstance(voiceprint, str) and len(voiceprint) > 20
    ident = api.post(f"{pyannote_server.base_url}/identify", json={
        "url": media, "voiceprints": [{"label": "Alice", "voiceprint": voiceprint}],
        "matching": {"exclusive": True, "threshold": 50}, "exclusive": True})
    assert ident.status_code == 200
    output = wait_job(pyannote_server, ident.json()["jobId"], api)["output"]
    assert output["voiceprints"] == [
        {"speaker": "SPEAKER_00", "match": "Alice", "confidence": {"Alice": 80}},
        {"speaker": "SPEAKER_01", "match": None, "confidence": {"Alice": 20}},
    ]
    assert [(s["speaker"], s["diarizationSpeaker"], s["match"]) for s in output["identification"]] == [
        ("Alice", "SPEAKER_00", "Alice"), ("SPEAKER_01", "SPEAKER_01", None),
        ("Alice", "SPEAKER_00", "Alice"), ("SPEAKER_01", "SPEAKER_01", None)]
    assert "exclusiveDiarization" in output
    assert pyannote_server.stats.jobs_created_by_kind == {"voiceprint": 1, "identify": 1}


def test_unknown_and_malformed_job_ids_get_404(pyannote_server: ServerHandle, api: requests.Session) -> None:
    for job_id in (str(uuid.uuid4()), "not-a-uuid", "12"):
        answer = api.get(f"{pyannote_server.base_url}/jobs/{job_id}")
        assert answer.status_code == 404
        body = answer.json()
        assert body["message"] == f"Job {job_id} not found"
        uuid.UUID(body["requestId"])
    traversal = api.get(f"{pyannote_server.base_url}/jobs/..%2F..%2Fetc")
    assert traversal.status_code == 404 and traversal.json()["message"] == "Not Found"


def test_unknown_route_and_method_use_api_error_shape(pyannote_server: ServerHandle,
                                                      api: requests.Session) -> None:
    missing = api.get(f"{pyannote_server.root_url}/v1/nothing")
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
    wrong = api.delete(f"{pyannote_server.base_url}/test")
    assert wrong.status_code == 405 and wrong.json()["message"] == "Method Not Allowed"


def _create_many(handle: ServerHandle, api: requests.Session, media: str, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        answer = api.post(f"{handle.base_url}/diarize", json={"url": media})
        assert answer.status_code == 200
        ids.append(answer.json()["jobId"])
    return ids


def test_v2_jobs_cursor_pagination(pyannote_server: ServerHandle, api: requests.Session,
                                   pyannote_wav: Path) -> None:
    media = upload_file(pyannote_server, pyannote_wav, "p", api)
    ids = _create_many(pyannote_server, api, media, 25)
    assert pyannote_server.wait_idle(10)
    pages, cursor = [], None
    while True:
        params = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        page = api.get(f"{pyannote_server.root_url}/v2/jobs", params=params).json()
        pages.append(page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert cursor == page["items"][-1]["id"]
    assert [len(p) for p in pages] == [10, 10, 5]
    listed = [item["id"] for p in pages for item in p]
    assert listed == ids[::-1]  # newest first, no duplicates, nothing missing
    assert all(set(item) == {"id", "status", "createdAt"} for p in pages for item in p)
    assert all(item["status"] == "succeeded" for p in pages for item in p)
    default = api.get(f"{pyannote_server.root_url}/v2/jobs").json()
    assert len(default["items"]) == 10 and default["nextCursor"] == ids[-10]


def test_v2_jobs_status_filter_and_bad_query(pyannote_server: ServerHandle, api: requests.Session,
                                            pyannote_wav: Path) -> None:
    media = upload_file(pyannote_server, pyannote_wav, "f", api)
    pyannote_server.engine.script("f", Script(error="scripted failure"))
    failed = _create_many(pyannote_server, api, media, 3)
    assert pyannote_server.wait_idle(10)  # scripts are resolved when a job starts running
    pyannote_server.engine.clear()
    ok = _create_many(pyannote_server, api, media, 2)
    assert pyannote_server.wait_idle(10)
    root = pyannote_server.root_url
    only_failed = api.get(f"{root}/v2/jobs", params={"status": "failed", "limit": 2}).json()
    assert [i["id"] for i in only_failed["items"]] == failed[::-1][:2]
    rest = api.get(f"{root}/v2/jobs", params={"status": "failed", "cursor": only_failed["nextCursor"]}).json()
    assert [i["id"] for i in rest["items"]] == [failed[0]] and rest["nextCursor"] is None
    succeeded = api.get(f"{root}/v2/jobs", params={"status": "succeeded"}).json()
    assert [i["id"] for i in succeeded["items"]] == ok[::-1]
    for params, field, message in [
        ({"limit": 0}, "limit", "Must be between 1 and 100"),
        ({"limit": 101}, "limit", "Must be between 1 and 100"),
        ({"limit": "ten"}, "limit", "Must be an integer"),
        ({"status": "done"}, "status", "Must be one of: pending, created, running, succeeded, failed, canceled"),
        ({"cursor": str(uuid.uuid4())}, "cursor", "Unknown cursor: pass the nextCursor of a previous response"),
    ]:
        answer = api.get(f"{root}/v2/jobs", params=params)
        assert answer.status_code == 400
        assert answer.json() == {"message": "Invalid request", "errors": [{"field": field, "message": message}]}


def test_v1_jobs_take_skip(pyannote_server: ServerHandle, api: requests.Session, pyannote_wav: Path) -> None:
    media = upload_file(pyannote_server, pyannote_wav, "t", api)
    ids = _create_many(pyannote_server, api, media, 7)
    first = api.get(f"{pyannote_server.base_url}/jobs", params={"take": 3}).json()
    assert first["total"] == 7 and [i["id"] for i in first["items"]] == ids[::-1][:3]
    last = api.get(f"{pyannote_server.base_url}/jobs", params={"take": 3, "skip": 6}).json()
    assert [i["id"] for i in last["items"]] == [ids[0]]
    assert api.get(f"{pyannote_server.base_url}/jobs", params={"skip": 10}).json() == {"items": [], "total": 7}
    bad = api.get(f"{pyannote_server.base_url}/jobs", params={"take": 500, "skip": -1})
    assert bad.status_code == 400
    assert bad.json()["errors"] == [{"field": "take", "message": "Must be between 1 and 100"},
                                    {"field": "skip", "message": "Must be >= 0"}]


def test_output_expires_after_ttl(pyannote_wav: Path) -> None:
    with start_server(output_ttl=0.3) as handle, requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {handle.api_key}"
        media = upload_file(handle, pyannote_wav, "ttl", api)
        job_id = api.post(f"{handle.base_url}/diarize", json={"url": media}).json()["jobId"]
        job = wait_job(handle, job_id, api)
        assert "diarization" in job["output"]
        time.sleep(0.4)
        expired = api.get(f"{handle.base_url}/jobs/{job_id}")
        assert expired.status_code == 200
        assert expired.json()["status"] == "succeeded" and "output" not in expired.json()
        assert handle.jobs_snapshot()[0]["output_deleted"] is True


def test_failed_and_canceled_jobs(pyannote_server: ServerHandle, api: requests.Session, pyannote_wav: Path) -> None:
    media = upload_file(pyannote_server, pyannote_wav, "x", api)
    engine = pyannote_server.engine
    engine.push(Script(error="Audio is too noisy"))
    engine.push(Script(status="failed"))
    engine.push(Script(status="canceled"))
    results = [wait_job(pyannote_server, api.post(f"{pyannote_server.base_url}/diarize",
                                                  json={"url": media}).json()["jobId"], api) for _ in range(3)]
    assert [(r["status"], r["output"]) for r in results] == [
        ("failed", {"error": "Audio is too noisy"}),
        ("failed", {"error": "An error occurred while processing the audio."}),
        ("canceled", {"error": "The job was canceled."}),
    ]


def test_missing_media_fails_job_with_could_not_load_audio(pyannote_server: ServerHandle,
                                                           api: requests.Session) -> None:
    answer = api.post(f"{pyannote_server.base_url}/diarize", json={"url": "media://never-uploaded"})
    assert answer.status_code == 200
    job = wait_job(pyannote_server, answer.json()["jobId"], api)
    assert job["status"] == "failed" and job["output"] == {"error": "Could not load audio"}
    assert pyannote_server.engine.calls == []  # the engine never ran

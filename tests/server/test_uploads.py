"""Presigned uploads and downloads, media:// keys that try to escape, http(s) audio inputs."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from pathlib import Path

import requests

from pyannote_notebook.server import start_server
from pyannote_notebook.server.handle import ServerHandle
from pyannote_notebook.server.storage import owner_id
from pyannote_notebook.server.testing import upload_file, wait_job, write_wav


def _put_url(handle: ServerHandle, api: requests.Session, media: str) -> str:
    answer = api.post(f"{handle.base_url}/media/input", json={"url": media})
    assert answer.status_code == 201
    return answer.json()["url"]


def test_upload_then_download_round_trip(pyannote_server: ServerHandle, api: requests.Session,
                                         pyannote_wav: Path) -> None:
    put_url = _put_url(pyannote_server, api, "media://meetings/2024-01-15/call.wav")
    assert put_url.startswith(f"{pyannote_server.root_url}/storage/upload?token=")
    with open(pyannote_wav, "rb") as f:  # no Authorization header, any content type
        put = requests.put(put_url, data=f, headers={"Content-Type": "audio/wav"})
    assert put.status_code == 200
    assert put.headers["X-Upload-Size"] == str(pyannote_wav.stat().st_size)
    out = api.post(f"{pyannote_server.base_url}/media/output", json={"url": "media://meetings/2024-01-15/call.wav"})
    assert out.status_code == 201
    got = requests.get(out.json()["url"])
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(pyannote_wav.read_bytes()).hexdigest()
    # stored under a hash of the key inside uploads/, nowhere else
    files = [p for p in pyannote_server.store_dir.rglob("*") if p.is_file()]
    expected = hashlib.sha256(b"media://meetings/2024-01-15/call.wav").hexdigest() + ".bin"
    owner = owner_id(pyannote_server.api_key)  # the key's namespace: a hash, never the key
    assert owner == hashlib.sha256(pyannote_server.api_key.encode()).hexdigest()[:32]
    assert [p.relative_to(pyannote_server.store_dir).as_posix() for p in files] == [f"uploads/{owner}/{expected}"]


def test_reupload_replaces_content(pyannote_server: ServerHandle, api: requests.Session, tmp_path: Path) -> None:
    a = write_wav(tmp_path / "a.wav", seconds=1.0)
    b = write_wav(tmp_path / "b.wav", seconds=2.0)
    upload_file(pyannote_server, a, "same", api)
    media = upload_file(pyannote_server, b, "same", api)
    job = wait_job(pyannote_server, api.post(f"{pyannote_server.base_url}/diarize",
                                             json={"url": media}).json()["jobId"], api)
    assert job["output"]["diarization"][-1]["end"] == 2.0  # the 2-second file is used


def test_presigned_tokens_cannot_be_forged_or_reused_for_another_operation(
        pyannote_server: ServerHandle, api: requests.Session) -> None:
    put_url = _put_url(pyannote_server, api, "media://k")
    token = put_url.split("token=")[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for url, message in [
        (f"{pyannote_server.root_url}/storage/upload?token={forged}", "Upload URL refused: Invalid signature"),
        (f"{pyannote_server.root_url}/storage/upload?token=garbage", "Upload URL refused: Malformed token"),
        (f"{pyannote_server.root_url}/storage/upload", "Upload URL refused: Malformed token"),
    ]:
        answer = requests.put(url, data=b"x")
        assert answer.status_code == 403 and answer.json()["message"] == message
    wrong_op = requests.get(f"{pyannote_server.root_url}/storage/download?token={token}")
    assert wrong_op.status_code == 403
    assert wrong_op.json()["message"] == "Download URL refused: Token does not allow GET"
    assert list(pyannote_server.store_dir.joinpath("uploads").rglob("*.bin")) == []


def test_expired_upload_url_is_refused(pyannote_server: ServerHandle, api: requests.Session) -> None:
    pyannote_server._state.uploads.url_ttl = 0.05
    put_url = _put_url(pyannote_server, api, "media://late")
    time.sleep(0.1)
    answer = requests.put(put_url, data=b"x")
    assert answer.status_code == 403
    assert answer.json()["message"] == "Upload URL refused: Token expired; request a new URL"


def test_download_of_missing_key_is_404(pyannote_server: ServerHandle, api: requests.Session) -> None:
    url = api.post(f"{pyannote_server.base_url}/media/output", json={"url": "media://nothing"}).json()["url"]
    answer = requests.get(url)
    assert answer.status_code == 404 and answer.json()["message"] == "Nothing was uploaded under media://nothing"


def test_upload_above_limit_gets_413_by_content_length_and_by_counting(tmp_path: Path) -> None:
    with start_server(max_upload_bytes=1000) as handle, requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {handle.api_key}"
        declared = requests.put(_put_url(handle, api, "media://big"), data=b"x" * 1001)
        assert declared.status_code == 413
        assert declared.json()["message"] == "Upload of 1001 bytes exceeds the limit of 1000 bytes"

        def chunks():  # no Content-Length: chunked transfer, the server counts
            for _ in range(3):
                yield b"y" * 400

        counted = requests.put(_put_url(handle, api, "media://big"), data=chunks())
        assert counted.status_code == 413
        assert counted.json()["message"] == "Upload exceeds the limit of 1000 bytes"
        assert list(handle.store_dir.joinpath("uploads").iterdir()) == []  # nothing stored, no partial file
        # a much larger body is drained, so the sender reads the 413 instead of a reset
        large = requests.put(_put_url(handle, api, "media://big"), data=b"w" * (4 << 20))
        assert large.status_code == 413
        assert large.json()["message"] == "Upload of 4194304 bytes exceeds the limit of 1000 bytes"
        exact = requests.put(_put_url(handle, api, "media://big"), data=b"z" * 1000)
        assert exact.status_code == 200
        assert handle.stats.responses_by_status[413] == 3


def test_media_keys_never_escape_the_upload_area(pyannote_server: ServerHandle, api: requests.Session,
                                                 pyannote_wav: Path) -> None:
    store = pyannote_server.store_dir
    outside = store / "x"
    write_wav(outside, seconds=1.0)  # a real audio file just outside uploads/
    # media://../x is a valid key pattern but maps to a hashed file, not to store/x
    job = wait_job(pyannote_server, api.post(f"{pyannote_server.base_url}/diarize",
                                             json={"url": "media://../x"}).json()["jobId"], api)
    assert job["status"] == "failed" and job["output"] == {"error": "Could not load audio"}
    for key in ("../x", "a/../../etc", "../../../../tmp/evil", "./.", "/abs"):
        media = upload_file(pyannote_server, pyannote_wav, key, api)
        job = wait_job(pyannote_server, api.post(f"{pyannote_server.base_url}/diarize",
                                                 json={"url": media}).json()["jobId"], api)
        assert job["status"] == "succeeded"  # the uploaded bytes are found again under the same key
    stored = sorted(p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file())
    assert len(stored) == 6
    assert "x" in stored and all(p.startswith("uploads/") and p.endswith(".bin") for p in stored if p != "x")
    assert outside.stat().st_size == 44 + 2 * 16000  # untouched


def test_http_url_is_downloaded(pyannote_server: ServerHandle, api: requests.Session, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "remote.wav", seconds=2.0)
    upload_file(pyannote_server, wav, "remote", api)
    public = api.post(f"{pyannote_server.base_url}/media/output", json={"url": "media://remote"}).json()["url"]
    answer = api.post(f"{pyannote_server.base_url}/diarize", json={"url": public, "exclusive": True})
    assert answer.status_code == 200
    job = wait_job(pyannote_server, answer.json()["jobId"], api)
    assert job["status"] == "succeeded"
    assert job["output"]["exclusiveDiarization"][-1]["end"] == 2.0  # duration read from the download
    assert list(pyannote_server.store_dir.joinpath("downloads").iterdir()) == []  # temp file removed


def test_unreachable_or_oversized_http_audio_fails_the_job(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "big.wav", seconds=1.0)
    with start_server(max_download_bytes=1000, download_timeout=2.0) as handle, requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {handle.api_key}"
        upload_file(handle, wav, "big", api)
        too_big = api.post(f"{handle.base_url}/media/output", json={"url": "media://big"}).json()["url"]
        missing = api.post(f"{handle.base_url}/media/output", json={"url": "media://missing"}).json()["url"]
        closed_port = "http://127.0.0.1:9/a.wav"
        for url in (too_big, missing, closed_port):
            created = api.post(f"{handle.base_url}/diarize", json={"url": url})
            assert created.status_code == 200  # not a 400: the job fails
            job = wait_job(handle, created.json()["jobId"], api)
            assert (job["status"], job["output"]) == ("failed", {"error": "Could not load audio"})
        assert handle.engine.calls == []


class _TricklingSource:
    """A one-connection HTTP source: headers at once, then 1 byte every ``interval`` seconds for at
    most ``count`` bytes (bounded: it stops itself, or when the reader hangs up)."""

    def __init__(self, count: int = 200, interval: float = 0.1) -> None:
        self.count, self.interval = count, interval
        self.sent = 0
        self.peer_closed = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(10)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/slow.wav"
        self.thread = threading.Thread(target=self._serve, name="trickle", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        finally:
            self._listener.close()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nConnection: close\r\n\r\n")
            try:
                for _ in range(self.count):
                    conn.sendall(b"R")
                    self.sent += 1
                    time.sleep(self.interval)
            except OSError:  # the downloader shut its socket down
                self.peer_closed = True


def test_trickling_http_source_is_cut_at_download_timeout(tmp_path: Path) -> None:
    # 200 bytes at 10 bytes/s would hold the (only) worker 20 s; download_timeout is 1 s
    source = _TricklingSource(count=200, interval=0.1)
    wav = write_wav(tmp_path / "next.wav", seconds=1.0)
    with start_server(download_timeout=1.0, job_workers=1) as handle, requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {handle.api_key}"
        slow_id = api.post(f"{handle.base_url}/diarize", json={"url": source.url}).json()["jobId"]
        next_id = api.post(f"{handle.base_url}/diarize", json={"url": upload_file(handle, wav, "next", api)}).json()["jobId"]
        slow = wait_job(handle, slow_id, api, timeout=8.0)
        assert (slow["status"], slow["output"]) == ("failed", {"error": "Could not load audio"})
        assert wait_job(handle, next_id, api, timeout=5.0)["status"] == "succeeded"  # the worker is free
        source.thread.join(5)
        assert not source.thread.is_alive()
        assert source.peer_closed and source.sent < 100  # the transfer was cut, not read to the end
        assert handle.engine.calls[0].url == "media://next"  # the slow job never reached the engine
        assert list(handle.store_dir.joinpath("downloads").iterdir()) == []  # partial file removed

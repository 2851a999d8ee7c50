"""Upload on the fake transport: every input type, streaming (no whole-file bytes body, low
peak memory), progress values, content-addressed default key, measured duration."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
import wave

import numpy as np
import pytest

from pyannote_notebook.api.upload import StreamingBody
from pyannote_notebook.errors import InvalidOption, PayloadTooLarge

PUT_URL = "http://fake.test/upload/abc?token=SIGNED"


def _wav_bytes(seconds: float, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        t = np.arange(int(seconds * rate)) / rate
        w.writeframes((np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes())
    return buf.getvalue()


@pytest.fixture
def storage(fake):
    """Fake /media/input + PUT; returns the dict of uploaded bodies by media url."""
    stored: dict[str, bytes] = {}
    pending: list[str] = []

    def media_input(call, m):
        pending.append(call.json["url"])
        return (201, {"url": PUT_URL})

    def put(call, m):
        stored[pending[-1]] = call.data
        return (200, None)

    fake.route("POST", "/v1/media/input", media_input)
    fake.route("PUT", "/upload/abc", put)
    fake.route("POST", "/v1/diarize", (200, {"jobId": "j-1", "status": "created"}))
    return stored


def _key(data: bytes) -> str:
    return "media://pyannote-notebook/" + hashlib.sha256(data).hexdigest()[:40]


def test_upload_path_streams_and_measures_duration(client, fake, storage, tmp_path):
    data = _wav_bytes(2.5)
    path = tmp_path / "a.wav"
    path.write_bytes(data)
    url = client.upload(path)
    assert url == _key(data)
    assert storage[url] == data
    put = [c for c in fake.calls if c.method == "PUT"][0]
    assert isinstance(put.body, StreamingBody) and not isinstance(put.body, bytes)
    assert put.headers["Content-Length"] == str(len(data))
    assert "Authorization" not in put.headers       # the key never goes to the storage host
    assert fake.calls[0].headers["Authorization"].startswith("Bearer ")
    job = client.diarize(url)
    assert job.audio_duration == pytest.approx(2.5)  # measured with wave, carried to the job


def test_upload_bytes_file_object_and_custom_key(client, storage):
    data = _wav_bytes(0.5)
    assert client.upload(data) == _key(data)
    fh = io.BytesIO(b"junk" + data)
    fh.seek(4)                                       # uploads from the current position
    assert client.upload(fh, media_url="media://mine/x.wav") == "media://mine/x.wav"
    assert storage["media://mine/x.wav"] == data
    assert fh.read(0) == b""                          # caller's file object still usable


def test_upload_non_seekable_stream(client, storage):
    data = os.urandom(300_000)

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.src = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, b):
            chunk = self.src.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    url = client.upload(Pipe())
    assert url == _key(data) and storage[url] == data


def test_upload_numpy_array_as_wav(client, storage):
    rate = 8000
    samples = (np.sin(np.arange(rate * 2) / 5.0) * 0.5).astype(np.float32)
    url = client.upload(samples[None, :], sample_rate=rate)   # (channel, time)
    body = storage[url]
    from scipy.io import wavfile

    got_rate, got = wavfile.read(io.BytesIO(body))
    assert got_rate == rate and got.shape == (rate * 2,)
    np.testing.assert_array_equal(got, samples)
    assert client._durations[url] == pytest.approx(2.0)
    url2 = client.upload({"waveform": samples, "sample_rate": rate})
    assert url2 == url                                          # same content, same key


def test_upload_array_layouts_follow_the_engines_rule(client, storage):
    from scipy.io import wavfile

    rate = 8000
    stereo = np.stack([np.linspace(-0.5, 0.5, rate), np.linspace(0.5, -0.5, rate)]).astype(np.float32)
    for given in (stereo, stereo.T):                # (channels, frames) and (frames, channels)
        _, got = wavfile.read(io.BytesIO(storage[client.upload(given, sample_rate=rate)]))
        assert got.shape == (rate, 2)
        np.testing.assert_array_equal(got, stereo.T)
    for shape in ((4, 10), (40, 4000), (16, 16)):   # as ambiguous for the upload as for the engine
        with pytest.raises(InvalidOption, match=rf"^audio: ambiguous array of shape \({shape[0]}, "
                                                rf"{shape[1]}\): cannot tell frames from channels"):
            client.upload(np.zeros(shape, dtype=np.float32), sample_rate=rate)
    with pytest.raises(InvalidOption, match="got shape \\(0,\\)"):
        client.upload(np.zeros(0, dtype=np.float32), sample_rate=rate)


def test_upload_bad_inputs(client, fake, tmp_path):
    with pytest.raises(InvalidOption, match="^sample_rate: is required"):
        client.upload(np.zeros(10, dtype=np.float32))
    with pytest.raises(InvalidOption, match="^audio: no such file: .*missing.wav"):
        client.upload(tmp_path / "missing.wav")
    with pytest.raises(InvalidOption, match=r"^audio: file object must be opened in binary mode"):
        client.upload(io.StringIO("text"))
    with pytest.raises(InvalidOption, match="^audio: unsupported type int"):
        client.upload(42)
    assert fake.calls == []


def test_progress_values(client, storage):
    data = os.urandom(2_500_000)
    seen: list[tuple[int, int]] = []
    client.upload(data, progress=lambda done, total: seen.append((done, total)),
                  chunk_size=1_000_000)
    n = len(data)
    assert seen == [(0, n), (1_000_000, n), (2_000_000, n), (n, n)]


def test_upload_413_maps_to_payload_too_large_without_signed_query(client, fake):
    fake.route("POST", "/v1/media/input", (201, {"url": PUT_URL}))
    fake.route("PUT", "/upload/abc", (413, {"message": "Payload too large"}))
    with pytest.raises(PayloadTooLarge) as err:
        client.upload(b"x" * 100)
    assert str(err.value) == "PUT /upload/abc: HTTP 413: Payload too large"
    assert "SIGNED" not in str(err.value)


def test_upload_retries_put_from_the_start(client, fake):
    bodies: list[bytes] = []

    def put(call, m):
        bodies.append(call.data)
        return (503, {"message": "busy"}) if len(bodies) == 1 else (200, None)

    fake.route("POST", "/v1/media/input", (201, {"url": PUT_URL}))
    fake.route("PUT", "/upload/abc", put)
    data = os.urandom(5000)
    client.upload(data, chunk_size=1000)
    assert bodies == [data, data]


def test_fifty_megabytes_stream_with_low_peak_memory(client, fake, tmp_path):
    path = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        for _ in range(50):
            fh.write(block)
    fake.keep_bodies = False
    fake.route("POST", "/v1/media/input", (201, {"url": PUT_URL}))
    fake.route("PUT", "/upload/abc", (200, None))
    tracemalloc.start()
    try:
        url = client.upload(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    put = [c for c in fake.calls if c.method == "PUT"][0]
    assert isinstance(put.body, StreamingBody)
    assert put.size == 50 << 20 and put.max_chunk == 1 << 20
    assert put.headers["Content-Length"] == str(50 << 20)
    assert url == "media://pyannote-notebook/" + put.sha256[:40]
    assert peak < 8 << 20, f"peak memory {peak} bytes for a 50 MiB upload"

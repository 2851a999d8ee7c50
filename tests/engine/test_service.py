"""LocalJobEngine: the server's JobEngine protocol, directly and over real loopback HTTP."""

from __future__ import annotations

import time

import pytest
import requests

from pyannote_notebook.engine.service import NO_TRANSCRIPTION, LocalJobEngine
from pyannote_notebook.errors import AudioError, EngineError

from .conftest import der

pytestmark = pytest.mark.slow


def test_validate_refuses_transcription():
    eng = LocalJobEngine()
    assert eng.name == "local"
    assert eng.validate("diarize", {"transcription": True}) == [("transcription", NO_TRANSCRIPTION)]
    assert "no speech recognizer" in NO_TRANSCRIPTION
    assert eng.validate("diarize", {"numSpeakers": 2, "exclusive": True}) == []
    errs = eng.validate("identify", {"voiceprints": [{"label": "a", "voiceprint": "AAAA"},
                                                     {"label": "a", "voiceprint": "AAAA"}]})
    fields = [f for f, _ in errs]
    assert fields == ["voiceprints[0].voiceprint", "voiceprints[1].label",
                      "voiceprints[1].voiceprint"]


def test_run_all_kinds(conversations, enrollment):
    eng = LocalJobEngine()
    wav, rttm = conversations["two"]
    out = eng.run("diarize", wav, {"numSpeakers": 2, "exclusive": True})
    assert {s["speaker"] for s in out["diarization"]} == {"SPEAKER_00", "SPEAKER_01"}
    assert out["exclusiveDiarization"] == out["diarization"]
    assert der(rttm, out) < 0.03
    out = eng.run("diarize", wav, {"turnLevelConfidence": True})  # cloud default: not exclusive
    assert "exclusiveDiarization" not in out
    assert "turnLevelConfidence not computed" in out["warning"]
    vp0 = eng.run("voiceprint", enrollment[0], {})["voiceprint"]
    vp1 = eng.run("voiceprint", enrollment[1], {})["voiceprint"]
    out = eng.run("identify", wav, {"voiceprints": [{"label": "Ann", "voiceprint": vp0},
                                                    {"label": "Bob", "voiceprint": vp1}],
                                    "matching": {"exclusive": True, "threshold": 0}})
    assert [(v["speaker"], v["match"]) for v in out["voiceprints"]] == [
        ("SPEAKER_00", "Ann"), ("SPEAKER_01", "Bob")]
    assert {i["speaker"] for i in out["identification"]} == {"Ann", "Bob"}


def test_run_errors(tmp_path, enrollment):
    eng = LocalJobEngine()
    with pytest.raises(EngineError, match=r"at most 30 seconds for a voiceprint \(got 45.0 s\)"):
        eng.run("voiceprint", enrollment[0], {}, audio_duration=45.0)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....garbage")
    with pytest.raises(AudioError, match="bad.wav"):
        eng.run("diarize", bad, {})
    with pytest.raises(EngineError, match="invalid option num_speakers"):
        eng.run("diarize", enrollment[0], {"numSpeakers": 2, "minSpeakers": 1})


def test_local_server_end_to_end(conversations):
    """Upload a WAV to the real local server (engine="local") and read the real result."""
    from pyannote_notebook.server import start_server

    wav, rttm = conversations["three"]
    with start_server(engine="local") as handle:
        auth = {"Authorization": f"Bearer {handle.api_key}"}
        r = requests.post(f"{handle.base_url}/media/input", json={"url": "media://e2e/three.wav"},
                          headers=auth, timeout=10)
        assert r.status_code == 201
        assert requests.put(r.json()["url"], data=wav.read_bytes(), timeout=10).status_code == 200
        r = requests.post(f"{handle.base_url}/diarize", headers=auth, timeout=10,
                          json={"url": "media://e2e/three.wav", "transcription": True})
        assert r.status_code == 400
        assert r.json()["errors"] == [{"field": "transcription", "message": NO_TRANSCRIPTION}]
        r = requests.post(f"{handle.base_url}/diarize", headers=auth, timeout=10,
                          json={"url": "media://e2e/three.wav", "exclusive": True})
        assert r.status_code == 200
        job_id = r.json()["jobId"]
        deadline = time.monotonic() + 60
        while True:
            job = requests.get(f"{handle.base_url}/jobs/{job_id}", headers=auth, timeout=10).json()
            if job["status"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert job["status"] == "succeeded", job
    out = job["output"]
    assert {s["speaker"] for s in out["diarization"]} == {"SPEAKER_00", "SPEAKER_01", "SPEAKER_02"}
    assert out["exclusiveDiarization"] == out["diarization"]
    assert der(rttm, out) < 0.03

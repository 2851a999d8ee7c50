"""ScriptedEngine resolution, generated outputs, get_engine, and a custom engine over HTTP."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from pyannote_notebook.errors import AudioError, EngineError, JobCanceled, ServerStartError
from pyannote_notebook.server import Script, ScriptedEngine, generate_output, get_engine, start_server
from pyannote_notebook.server.engines import JobEngine
from pyannote_notebook.server.testing import upload_file, wait_job


def test_resolution_order_push_then_latest_rule_then_default() -> None:
    engine = ScriptedEngine(default=Script(output={"diarization": []}, duration=0))
    engine.script("meeting", Script(output={"diarization": [{"speaker": "A", "start": 0, "end": 1}]}, duration=0))
    engine.script("media://meeting-2", Script(error="rule 2", duration=0))
    engine.script(lambda kind, params: kind == "voiceprint", Script(output={"voiceprint": "V"}, duration=0))
    engine.push(Script(status="canceled", duration=0))
    with pytest.raises(JobCanceled):
        engine.run("diarize", None, {}, url="media://meeting-2")  # pushed wins
    with pytest.raises(EngineError, match="^rule 2$"):
        engine.run("diarize", None, {}, url="media://meeting-2")  # latest matching rule
    assert engine.run("diarize", None, {}, url="media://meeting-1") == {
        "diarization": [{"speaker": "A", "start": 0, "end": 1}]}
    assert engine.run("voiceprint", None, {}, url="media://x") == {"voiceprint": "V"}
    assert engine.run("diarize", None, {}, url="media://other") == {"diarization": []}
    assert [(c.kind, c.url) for c in engine.calls] == [
        ("diarize", "media://meeting-2"), ("diarize", "media://meeting-2"), ("diarize", "media://meeting-1"),
        ("voiceprint", "media://x"), ("diarize", "media://other")]
    out = engine.run("diarize", None, {}, url="media://meeting-1")
    out["diarization"].clear()  # callers get a private copy of scripted outputs
    assert engine.run("diarize", None, {}, url="media://meeting-1")["diarization"] != []
    with pytest.raises(ValueError, match="Script.status"):
        Script(status="done")


def test_generated_output_follows_params() -> None:
    out = generate_output("diarize", {"numSpeakers": 3, "exclusive": True, "turnLevelConfidence": True,
                                      "confidence": True, "transcription": True}, audio_duration=6.0)
    assert [t["speaker"] for t in out["exclusiveDiarization"]] == [
        "SPEAKER_00", "SPEAKER_01", "SPEAKER_02"] * 2
    assert out["exclusiveDiarization"][-1]["end"] == 6.0
    exclusive = out["exclusiveDiarization"]
    assert all(a["end"] <= b["start"] for a, b in zip(exclusive, exclusive[1:]))  # no overlap
    assert out["diarization"][0] == {"speaker": "SPEAKER_00", "start": 0.0, "end": 1.25,
                                     "confidence": {"SPEAKER_00": 90, "SPEAKER_01": 5, "SPEAKER_02": 5}}
    assert out["confidence"]["resolution"] == 0.02 and len(out["confidence"]["score"]) == 300
    assert all(isinstance(s, int) and 0 <= s <= 100 for s in out["confidence"]["score"])
    assert len(out["turnLevelTranscription"]) == 6 and len(out["wordLevelTranscription"]) == 12
    assert generate_output("diarize", {"minSpeakers": 4, "maxSpeakers": 5})["diarization"][-1] == {
        "speaker": "SPEAKER_03", "start": 8.75, "end": 10.0}  # 10 s when the duration is unknown
    assert "exclusiveDiarization" not in generate_output("diarize", {})
    assert generate_output("diarize", {"maxSpeakers": 1})["diarization"] == [
        {"speaker": "SPEAKER_00", "start": 0.0, "end": 5.0}, {"speaker": "SPEAKER_00", "start": 5.0, "end": 10.0}]
    ident = generate_output("identify", {"voiceprints": [{"label": "Ann", "voiceprint": "a"},
                                                        {"label": "Bob", "voiceprint": "b"}],
                                         "matching": {"threshold": 90}})
    assert [v["match"] for v in ident["voiceprints"]] == [None, None]  # 80 < threshold 90
    nonexclusive = generate_output("identify", {"numSpeakers": 3, "voiceprints": [{"label": "Ann", "voiceprint": "a"}],
                                                "matching": {"exclusive": False}})
    assert [v["match"] for v in nonexclusive["voiceprints"]] == ["Ann", "Ann", "Ann"]
    assert generate_output("voiceprint", {}, 3.0) == generate_output("voiceprint", {}, 3.0)


def test_get_engine_errors() -> None:
    assert isinstance(get_engine("scripted"), ScriptedEngine)
    with pytest.raises(ServerStartError, match="unknown engine 'gpu': choose 'local' or 'scripted'"):
        get_engine("gpu")
    with pytest.raises(ServerStartError, match="does not follow the JobEngine protocol"):
        get_engine(object())  # type: ignore[arg-type]
    with pytest.raises(ServerStartError, match="unknown engine"):
        start_server(engine="gpu")


def test_local_engine_is_loaded_lazily_or_explained() -> None:
    try:
        engine = get_engine("local")
    except ServerStartError as exc:
        assert "local engine" in str(exc)
    else:
        assert engine.name == "local" and isinstance(engine, JobEngine)


class RecordingEngine:
    """A custom engine following the protocol: checks what the server hands it."""

    name = "recording"

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes, dict[str, Any], float | None]] = []
        self.concurrent = 0
        self.max_concurrent = 0
        self._lock = threading.Lock()

    def validate(self, kind: str, params: dict[str, Any]) -> list[tuple[str, str]]:
        return [("confidence", "not supported here")] if params.get("confidence") else []

    def run(self, kind: str, audio_path: Path, params: dict[str, Any], *,
            audio_duration: float | None = None) -> dict[str, Any]:
        with self._lock:
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            time.sleep(0.2)
            data = Path(audio_path).read_bytes()
            self.seen.append((kind, data[:4], params, audio_duration))
            if params.get("numSpeakers") == 9:
                raise AudioError("cannot decode")
            if params.get("numSpeakers") == 8:
                raise RuntimeError("engine bug")
            return {"diarization": [{"speaker": "SPEAKER_00", "start": 0.0, "end": audio_duration}]}
        finally:
            with self._lock:
                self.concurrent -= 1


def test_custom_engine_over_http(pyannote_wav: Path) -> None:
    engine = RecordingEngine()
    with start_server(engine=engine, job_workers=3) as handle, requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {handle.api_key}"
        media = upload_file(handle, pyannote_wav, "e", api)
        assert api.post(f"{handle.base_url}/diarize", json={"url": media, "confidence": True}).json() == {
            "message": "Invalid request", "errors": [{"field": "confidence", "message": "not supported here"}]}
        ids = [api.post(f"{handle.base_url}/diarize", json={"url": media, "numSpeakers": n}).json()["jobId"]
               for n in (2, 2, 2, 2, 9, 8)]
        jobs = [wait_job(handle, i, api) for i in ids]
    assert [j["output"] for j in jobs[:4]] == [{"diarization": [{"speaker": "SPEAKER_00", "start": 0.0,
                                                                 "end": 3.0}]}] * 4
    assert jobs[4]["output"] == {"error": "Could not load audio"}
    assert jobs[5]["output"] == {"error": "An error occurred while processing the audio."}
    assert engine.seen[0][:2] == ("diarize", b"RIFF") and engine.seen[0][2] == {"numSpeakers": 2}
    assert engine.max_concurrent == 3  # job_workers bounds concurrency


def test_local_engine_over_http(tmp_path: Path) -> None:
    """The offline engine plugged into the server: 400 from its validate(), unreadable audio fails."""
    try:
        engine = get_engine("local")
    except ServerStartError as exc:
        pytest.skip(f"local engine not available: {exc}")
    not_audio = tmp_path / "notes.wav"
    not_audio.write_bytes(b"this is not audio at all")
    with start_server(engine=engine) as handle, requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {handle.api_key}"
        media = upload_file(handle, not_audio, "notes", api)
        refused = api.post(f"{handle.base_url}/diarize", json={"url": media, "transcription": True})
        assert refused.status_code == 400
        assert [e["field"] for e in refused.json()["errors"]] == ["transcription"]
        job = wait_job(handle, api.post(f"{handle.base_url}/diarize", json={"url": media}).json()["jobId"],
                       api, timeout=120)
    assert (job["status"], job["output"]) == ("failed", {"error": "Could not load audio"})


def test_huge_speaker_counts_are_capped_with_a_warning(pyannote_wav: Path) -> None:
    with start_server() as handle, requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {handle.api_key}"
        media = upload_file(handle, pyannote_wav, "many", api)
        huge = api.post(f"{handle.base_url}/diarize", json={"url": media, "numSpeakers": 10**11, "exclusive": True})
        assert huge.status_code == 200  # the cloud documents no upper bound: no invented 400
        job = wait_job(handle, huge.json()["jobId"], api, timeout=10)
        wide = api.post(f"{handle.base_url}/diarize", json={"url": media, "minSpeakers": 70, "maxSpeakers": 10**9})
        wide_job = wait_job(handle, wide.json()["jobId"], api, timeout=10)
    assert job["status"] == "succeeded"
    speakers = {t["speaker"] for t in job["output"]["diarization"]}
    assert speakers == {f"SPEAKER_{k:02d}" for k in range(64)}
    assert len(job["output"]["exclusiveDiarization"]) == 128 and job["output"]["exclusiveDiarization"][-1]["end"] == 3.0
    assert job["output"]["warning"].endswith(
        "; 100000000000 speakers were asked, the scripted engine generates at most 64")
    assert len({t["speaker"] for t in wide_job["output"]["diarization"]}) == 64
    assert "70 speakers were asked" in wide_job["output"]["warning"]
    small = generate_output("diarize", {"numSpeakers": 64}, 3.0)
    assert len({t["speaker"] for t in small["diarization"]}) == 64 and "were asked" not in small["warning"]

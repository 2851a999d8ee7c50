"""The official pyannoteai-sdk 0.4.0, unchanged, against the local server (scripted engine)."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pyannoteai.sdk import Client
from pyannoteai.sdk.client import PyannoteAICanceledJob, PyannoteAIFailedJob

from pyannote_notebook.server import Script
from pyannote_notebook.server.handle import ServerHandle


@pytest.fixture
def sdk(pyannote_server: ServerHandle) -> Iterator[Client]:
    original = Client.API_URL
    Client.API_URL = pyannote_server.base_url
    try:
        yield Client(pyannote_server.api_key)  # the constructor calls GET /test
    finally:
        Client.API_URL = original


SCRIPTED = {
    "diarization": [{"speaker": "SPEAKER_00", "start": 0.5, "end": 1.25},
                    {"speaker": "SPEAKER_01", "start": 1.0, "end": 2.75}],
    "exclusiveDiarization": [{"speaker": "SPEAKER_00", "start": 0.5, "end": 1.0},
                             {"speaker": "SPEAKER_01", "start": 1.0, "end": 2.75}],
}


def test_upload_diarize_retrieve(sdk: Client, pyannote_server: ServerHandle, pyannote_wav: Path) -> None:
    progress: list[tuple[int, int]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the SDK warns about 24 h storage
        media_url = sdk.upload(str(pyannote_wav), callback=lambda total, completed: progress.append((total, completed)))
    assert media_url == f"media://{hashlib.md5(pyannote_wav.read_bytes()).hexdigest()}"
    assert progress[-1] == (pyannote_wav.stat().st_size, pyannote_wav.stat().st_size)
    pyannote_server.engine.script(media_url, Script(output=SCRIPTED, duration=0.3))
    job_id = sdk.diarize(media_url, exclusive=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the SDK recommends webhooks
        job = sdk.retrieve(job_id, every_seconds=1)
    assert job["jobId"] == job_id and job["status"] == "succeeded"
    assert job["output"] == SCRIPTED
    call = pyannote_server.engine.calls[-1]
    assert call.params == {"model": "precision-2", "confidence": False, "turnLevelConfidence": False,
                           "exclusive": True, "transcription": False}
    assert pyannote_server.stats.requests[("GET", "/v1/test")] == 1


def test_generated_output_has_exclusive_diarization_for_pyannote_audio(
        sdk: Client, pyannote_server: ServerHandle, pyannote_wav: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        media_url = sdk.upload({"audio": pyannote_wav}, media_url="media://pa/sample.wav")
        job = sdk.retrieve(sdk.diarize(media_url, num_speakers=2, exclusive=True, confidence=False),
                           every_seconds=1)
    # what pyannote.audio's SDK pipeline reads
    assert {t["speaker"] for t in job["output"]["exclusiveDiarization"]} == {"SPEAKER_00", "SPEAKER_01"}
    assert job["output"]["diarization"][0] == {"speaker": "SPEAKER_00", "start": 0.0, "end": 0.938}


def test_identify_and_voiceprint(sdk: Client, pyannote_server: ServerHandle, pyannote_wav: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        media_url = sdk.upload(pyannote_wav)
        voiceprint = sdk.retrieve(sdk.voiceprint(media_url), every_seconds=1)["output"]["voiceprint"]
        job = sdk.retrieve(sdk.identify(media_url, {"Ann": voiceprint, "Bob": voiceprint},
                                        matching_threshold=10.0, exclusive=True), every_seconds=1)
    assert isinstance(voiceprint, str) and voiceprint
    assert [(v["speaker"], v["match"]) for v in job["output"]["voiceprints"]] == [
        ("SPEAKER_00", "Ann"), ("SPEAKER_01", "Bob")]
    assert job["output"]["identification"][0]["speaker"] == "Ann"
    kinds = [c.kind for c in pyannote_server.engine.calls]
    assert kinds == ["voiceprint", "identify"]
    assert pyannote_server.engine.calls[1].params["matching"] == {"exclusive": True, "threshold": 10.0}
    assert pyannote_server.engine.calls[1].params["voiceprints"] == [
        {"label": "Ann", "voiceprint": voiceprint}, {"label": "Bob", "voiceprint": voiceprint}]


def test_scripted_failure_and_cancel_raise_sdk_errors(sdk: Client, pyannote_server: ServerHandle,
                                                      pyannote_wav: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        media_url = sdk.upload(pyannote_wav)
    pyannote_server.engine.push(Script(error="An error occurred while processing the audio (scripted)."))
    job_id = sdk.diarize(media_url)
    with pytest.raises(PyannoteAIFailedJob) as failed:
        sdk.retrieve(job_id, every_seconds=1)
    assert failed.value.args == ("An error occurred while processing the audio (scripted).", job_id)
    pyannote_server.engine.push(Script(status="canceled", error="canceled by operator"))
    job_id = sdk.diarize(media_url)
    with pytest.raises(PyannoteAICanceledJob):
        sdk.retrieve(job_id, every_seconds=1)


def test_bad_key_takes_the_sdk_401_path(pyannote_server: ServerHandle) -> None:
    original = Client.API_URL
    Client.API_URL = pyannote_server.base_url
    try:
        with pytest.raises(requests.HTTPError, match="Please create an API key"):
            Client("sk_not_a_valid_key")
    finally:
        Client.API_URL = original
    assert pyannote_server.stats.responses_by_status[401] == 1


def test_sdk_400_on_invalid_options(sdk: Client) -> None:
    with pytest.raises(requests.HTTPError, match="400"):
        sdk.diarize("media://x", num_speakers=2, min_speakers=1)

"""400 answers: one per invalid field, in the API's shape, never FastAPI's 422; null = absent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from pyannote_notebook.server import start_server
from pyannote_notebook.server.handle import ServerHandle
from pyannote_notebook.server.validation import drop_nulls, validate_job_request

M = "media://clip.wav"
VP = [{"label": "Alice", "voiceprint": "abc"}]

CASES = [
    # (route, body, field, message)
    ("diarize", {}, "url", "Required"),
    ("diarize", {"url": None}, "url", "Required"),
    ("diarize", {"url": 3}, "url", "Must be a string"),
    ("diarize", {"url": "ftp://host/a.wav"}, "url", "Invalid URL: expected an http(s):// URL or media://<key>"),
    ("diarize", {"url": "file:///etc/passwd"}, "url", "Invalid URL: expected an http(s):// URL or media://<key>"),
    ("diarize", {"url": "https://"}, "url", "Invalid URL"),
    ("diarize", {"url": "media://bad key"}, "url",
     "Invalid media URL: expected media://<key> with characters a-z A-Z 0-9 - _ . /"),
    ("diarize", {"url": "media://"}, "url",
     "Invalid media URL: expected media://<key> with characters a-z A-Z 0-9 - _ . /"),
    ("diarize", {"url": "media://" + "a" * 248}, "url", "Must be at most 255 characters"),
    ("diarize", {"url": M, "numSpeakers": 0}, "numSpeakers", "Must be greater than or equal to 1"),
    ("diarize", {"url": M, "numSpeakers": 2.5}, "numSpeakers", "Must be an integer"),
    ("diarize", {"url": M, "numSpeakers": True}, "numSpeakers", "Must be an integer"),
    ("diarize", {"url": M, "minSpeakers": "2"}, "minSpeakers", "Must be an integer"),
    ("diarize", {"url": M, "maxSpeakers": -1}, "maxSpeakers", "Must be greater than or equal to 1"),
    ("diarize", {"url": M, "numSpeakers": 2, "maxSpeakers": 3}, "numSpeakers",
     "Cannot be combined with minSpeakers or maxSpeakers"),
    ("diarize", {"url": M, "minSpeakers": 4, "maxSpeakers": 3}, "minSpeakers",
     "Must be less than or equal to maxSpeakers"),
    ("diarize", {"url": M, "model": "precision-1"}, "model", "Must be one of: precision-2, community-1"),
    ("diarize", {"url": M, "exclusive": "yes"}, "exclusive", "Must be a boolean"),
    ("diarize", {"url": M, "confidence": 1}, "confidence", "Must be a boolean"),
    ("diarize", {"url": M, "turnLevelConfidence": "true"}, "turnLevelConfidence", "Must be a boolean"),
    ("diarize", {"url": M, "transcription": True, "model": "community-1"}, "transcription",
     "Transcription is only available with model precision-2"),
    ("diarize", {"url": M, "transcriptionConfig": {"model": "whisper"}}, "transcriptionConfig.model",
     "Must be one of: parakeet-tdt-0.6b-v3, faster-whisper-large-v3-turbo"),
    ("diarize", {"url": M, "webhook": "ftp://hooks"}, "webhook", "Invalid URL"),
    ("diarize", {"url": M, "webhookStatusOnly": "no"}, "webhookStatusOnly", "Must be a boolean"),
    ("identify", {"url": M}, "voiceprints", "Required"),
    ("identify", {"url": M, "voiceprints": []}, "voiceprints", "Must contain between 1 and 50 voiceprints"),
    ("identify", {"url": M, "voiceprints": VP * 51}, "voiceprints", "Must contain between 1 and 50 voiceprints"),
    ("identify", {"url": M, "voiceprints": {"Alice": "abc"}}, "voiceprints", "Must be an array"),
    ("identify", {"url": M, "voiceprints": [{"label": "SPEAKER_01", "voiceprint": "a"}]},
     "voiceprints[0].label", "Must not start with SPEAKER_"),
    ("identify", {"url": M, "voiceprints": VP + [{"label": "speaker_x", "voiceprint": "a"}]},
     "voiceprints[1].label", "Must not start with SPEAKER_"),
    ("identify", {"url": M, "voiceprints": [{"label": "x" * 101, "voiceprint": "a"}]},
     "voiceprints[0].label", "Must be at most 100 characters"),
    ("identify", {"url": M, "voiceprints": [{"voiceprint": "a"}]}, "voiceprints[0].label", "Required"),
    ("identify", {"url": M, "voiceprints": [{"label": "Bo", "voiceprint": "a" * 20001}]},
     "voiceprints[0].voiceprint", "Must be at most 20000 characters"),
    ("identify", {"url": M, "voiceprints": [{"label": "Bo"}]}, "voiceprints[0].voiceprint", "Required"),
    ("identify", {"url": M, "voiceprints": VP, "matching": {"threshold": 101}}, "matching.threshold",
     "Must be between 0 and 100"),
    ("identify", {"url": M, "voiceprints": VP, "matching": {"threshold": "high"}}, "matching.threshold",
     "Must be a number"),
    ("identify", {"url": M, "voiceprints": VP, "matching": {"exclusive": "yes"}}, "matching.exclusive",
     "Must be a boolean"),
    ("identify", {"url": M, "voiceprints": VP, "model": "community-1"}, "model", "Must be one of: precision-2"),
    ("identify", {"url": M, "voiceprints": VP, "transcription": True}, "transcription",
     "Transcription is only available on /v1/diarize"),
    ("voiceprint", {"url": M, "model": "community-1"}, "model", "Must be one of: precision-2"),
    ("voiceprint", {}, "url", "Required"),
    ("media/input", {}, "url", "Required"),
    ("media/input", {"url": "https://example.org/a.wav"}, "url",
     "Invalid media URL: expected media://<key> with characters a-z A-Z 0-9 - _ . /"),
    ("media/input", {"url": "media://" + "k" * 248}, "url", "Must be at most 255 characters"),
    ("media/output", {"url": "media://a b"}, "url",
     "Invalid media URL: expected media://<key> with characters a-z A-Z 0-9 - _ . /"),
]


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[ServerHandle, requests.Session]]:
    """One server for the many read-only validation cases (they create no job)."""
    with start_server() as handle, requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {handle.api_key}"
        yield handle, session
        assert handle.stats.jobs_created == 0


@pytest.mark.parametrize(("route", "body", "field", "message"), CASES,
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_each_invalid_field_gets_a_400_naming_it(shared: tuple[ServerHandle, requests.Session],
                                                 route: str, body: dict, field: str, message: str) -> None:
    handle, api = shared
    answer = api.post(f"{handle.base_url}/{route}", json=body)
    assert answer.status_code == 400
    assert answer.json() == {"message": "Invalid request", "errors": [{"field": field, "message": message}]}
    assert handle.stats.jobs_created == 0


@pytest.mark.parametrize(("raw", "message"), [
    (b"{not json", "Malformed JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (b"", "Request body is empty; expected a JSON object"),
    (b"[1, 2]", "Request body must be a JSON object"),
    (b"\xff\xfe", None),
])
def test_malformed_bodies_get_400_not_422(shared: tuple[ServerHandle, requests.Session],
                                          raw: bytes, message: str | None) -> None:
    pyannote_server, api = shared
    for route in ("diarize", "identify", "voiceprint", "media/input", "media/output"):
        answer = api.post(f"{pyannote_server.base_url}/{route}", data=raw,
                          headers={"Content-Type": "application/json"})
        assert answer.status_code == 400
        body = answer.json()
        assert body["message"] == "Invalid request"
        assert [e["field"] for e in body["errors"]] == ["body"]
        if message is not None:
            assert body["errors"][0]["message"] == message
    assert 422 not in pyannote_server.stats.responses_by_status


def test_several_errors_are_reported_together(pyannote_server: ServerHandle, api: requests.Session) -> None:
    answer = api.post(f"{pyannote_server.base_url}/identify", json={
        "url": "gopher://x", "model": "x", "voiceprints": [{"label": "SPEAKER_00", "voiceprint": ""}]})
    assert answer.status_code == 400
    assert answer.json()["errors"] == [
        {"field": "url", "message": "Invalid URL: expected an http(s):// URL or media://<key>"},
        {"field": "model", "message": "Must be one of: precision-2"},
        {"field": "voiceprints[0].label", "message": "Must not start with SPEAKER_"},
        {"field": "voiceprints[0].voiceprint", "message": "Must be a non-empty string"},
    ]


def test_sdk_style_nulls_are_absent(pyannote_server: ServerHandle, api: requests.Session) -> None:
    # exactly what pyannoteai-sdk 0.4.0 sends for diarize(media_url, num_speakers=2)
    body = {"url": "media://a", "model": "precision-2", "numSpeakers": 2, "minSpeakers": None,
            "maxSpeakers": None, "confidence": False, "turnLevelConfidence": False, "exclusive": False,
            "transcription": False}
    answer = api.post(f"{pyannote_server.base_url}/diarize", json=body)
    assert answer.status_code == 200
    assert pyannote_server.wait_idle(5)
    assert pyannote_server.jobs_snapshot()[0]["params"] == {
        "model": "precision-2", "numSpeakers": 2, "confidence": False, "turnLevelConfidence": False,
        "exclusive": False, "transcription": False}


def test_engine_validation_adds_400_errors(pyannote_server: ServerHandle, api: requests.Session) -> None:
    engine = pyannote_server.engine
    engine.validate = lambda kind, params: (
        [("transcription", "the local engine has no speech recognizer")] if params.get("transcription") else [])
    answer = api.post(f"{pyannote_server.base_url}/diarize", json={"url": M, "transcription": True})
    assert answer.status_code == 400
    assert answer.json()["errors"] == [{"field": "transcription",
                                        "message": "the local engine has no speech recognizer"}]
    assert api.post(f"{pyannote_server.base_url}/diarize", json={"url": M}).status_code == 200


def test_validation_unit_rules() -> None:
    assert drop_nulls({"a": None, "b": {"c": None, "d": 1}, "e": [{"f": None}]}) == {"b": {"d": 1}, "e": [{}]}
    assert validate_job_request("diarize", {"url": "https://example.org/x.wav", "minSpeakers": 2,
                                            "maxSpeakers": 2.0}) == []
    assert validate_job_request("voiceprint", {"url": M, "numSpeakers": "ignored on voiceprint"}) == []
    assert validate_job_request("identify", {"url": M, "voiceprints": VP, "transcription": False}) == []


def test_oversized_json_body_gets_413(shared: tuple[ServerHandle, requests.Session]) -> None:
    handle, api = shared
    # the largest valid identify body is parsed (here refused for its model only, so no job is made)
    big = {"url": "media://a", "model": "x",
           "voiceprints": [{"label": f"L{i}", "voiceprint": "v" * 20000} for i in range(50)]}
    parsed = api.post(f"{handle.base_url}/identify", json=big)
    assert parsed.status_code == 400
    assert parsed.json()["errors"] == [{"field": "model", "message": "Must be one of: precision-2"}]
    answer = api.post(f"{handle.base_url}/diarize", data=b" " * (5 << 20),
                      headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["message"] == "Request body exceeds 4194304 bytes"

"""Option validation: every rule raises InvalidOption naming the option, and nothing is sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pyannote_notebook.api import DiarizeOptions, IdentifyOptions, VoiceprintOptions
from pyannote_notebook.errors import InvalidOption

URL = "media://meetings/2024-01-15/call.wav"
VP = {"Alice": "aGVsbG8"}

DIARIZE_BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"model": "precision-1"}, "model", "'precision-1' is not available for diarization; choose one of precision-2, community-1"),
    ({"num_speakers": 0}, "num_speakers", "must be >= 1, got 0"),
    ({"num_speakers": 2.0}, "num_speakers", "must be an integer >= 1, got 2.0"),
    ({"num_speakers": True}, "num_speakers", "must be an integer >= 1, got True"),
    ({"min_speakers": -1}, "min_speakers", "must be >= 1, got -1"),
    ({"max_speakers": "3"}, "max_speakers", "must be an integer >= 1, got '3'"),
    ({"num_speakers": 2, "min_speakers": 1}, "num_speakers", "cannot be combined"),
    ({"num_speakers": 2, "max_speakers": 3}, "num_speakers", "cannot be combined"),
    ({"min_speakers": 4, "max_speakers": 3}, "min_speakers", "must be <= max_speakers, got 4 > 3"),
    ({"transcription": True, "model": "community-1"}, "transcription",
     "only available with model='precision-2', not 'community-1'"),
    ({"transcription": True, "transcription_config": {"model": "whisper-tiny"}},
     "transcription_config", "model 'whisper-tiny' is not available"),
    ({"transcription_config": "parakeet-tdt-0.6b-v3"}, "transcription_config",
     "requires transcription=True"),
    ({"transcription": True, "transcription_config": {"model": "parakeet-tdt-0.6b-v3", "x": 1}},
     "transcription_config", "unknown key(s) ['x']"),
    ({"exclusive": "yes"}, "exclusive", "must be True or False, got 'yes'"),
    ({"confidence": 1}, "confidence", "must be True or False, got 1"),
    ({"webhook": "ftp://example.com/hook"}, "webhook", "must be an http:// or https:// URL"),
    ({"webhook_status_only": None}, "webhook_status_only", "must be True or False"),
    ({"url": "media://bad key"}, "url", "is not a media URL"),
    ({"url": "media://" + "a" * 248}, "url", "must be at most 255 characters, got 256"),
    ({"url": "media://"}, "url", "is not a media URL"),
    ({"url": "file:///etc/passwd"}, "url", "unsupported URL scheme in 'file'"),
    ({"url": "s3://bucket/x.wav"}, "url", "unsupported URL scheme in 's3'"),
    ({"url": ""}, "url", "must be a non-empty http(s):// or media:// URL string"),
    ({"url": 42}, "url", "must be a non-empty http(s):// or media:// URL string"),
]

IDENTIFY_BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"voiceprints": {}}, "voiceprints", "must hold 1 to 50 voiceprints, got 0"),
    ({"voiceprints": {f"p{i}": "v" for i in range(51)}}, "voiceprints",
     "must hold 1 to 50 voiceprints, got 51"),
    ({"voiceprints": {"SPEAKER_01": "v"}}, "voiceprints",
     "entry 0: label 'SPEAKER_01' must not start with 'SPEAKER_'"),
    ({"voiceprints": {"Speaker_bob": "v"}}, "voiceprints", "must not start with 'SPEAKER_'"),
    ({"voiceprints": {"x" * 101: "v"}}, "voiceprints", "entry 0: label must be at most 100"),
    ({"voiceprints": {"": "v"}}, "voiceprints", "entry 0: label must be a non-empty string"),
    ({"voiceprints": {"Bob": "v" * 20001}}, "voiceprints",
     "entry 0 ('Bob'): voiceprint must be at most 20000 characters, got 20001"),
    ({"voiceprints": [("Bob", "v"), ("Bob", "w")]}, "voiceprints", "entry 1: duplicate label 'Bob'"),
    ({"voiceprints": ["Bob"]}, "voiceprints", "entry 0 must be a (label, voiceprint) pair"),
    ({"voiceprints": "Bob"}, "voiceprints", "must be a mapping"),
    ({"matching_threshold": 101}, "matching_threshold", "must be a number from 0 to 100, got 101"),
    ({"matching_threshold": -0.5}, "matching_threshold", "got -0.5"),
    ({"matching_threshold": float("nan")}, "matching_threshold", "got nan"),
    ({"matching_exclusive": "no"}, "matching_exclusive", "must be True or False"),
    ({"model": "community-1"}, "model", "'community-1' is not available for identification; choose one of precision-2"),
    ({"num_speakers": 3, "min_speakers": 2}, "num_speakers", "cannot be combined"),
]


@pytest.mark.parametrize("kwargs,option,message", DIARIZE_BAD)
def test_diarize_rule_raises_and_sends_nothing(client, fake, kwargs, option, message):
    kwargs = {"url": URL, **kwargs}
    url = kwargs.pop("url")
    with pytest.raises(InvalidOption) as err:
        client.diarize(url, **kwargs)
    assert err.value.option == option
    assert message in str(err.value)
    assert str(err.value).startswith(f"{option}: ")
    assert fake.calls == []


@pytest.mark.parametrize("kwargs,option,message", IDENTIFY_BAD)
def test_identify_rule_raises_and_sends_nothing(client, fake, kwargs, option, message):
    kwargs = {"voiceprints": VP, **kwargs}
    vps = kwargs.pop("voiceprints")
    with pytest.raises(InvalidOption) as err:
        client.identify(URL, vps, **kwargs)
    assert err.value.option == option
    assert message in str(err.value)
    assert fake.calls == []


@pytest.mark.parametrize("kwargs,option,message", [
    ({"model": "community-1"}, "model", "'community-1' is not available for voiceprint"),
    ({"webhook": "hook"}, "webhook", "http:// or https://"),
    ({"url": "media://../x y"}, "url", "is not a media URL"),
])
def test_voiceprint_rule_raises_and_sends_nothing(client, fake, kwargs, option, message):
    url = kwargs.pop("url", URL)
    with pytest.raises(InvalidOption) as err:
        client.voiceprint(url, **kwargs)
    assert err.value.option == option and message in str(err.value)
    assert fake.calls == []


def test_client_level_arguments_rejected_before_sending(client, fake):
    with pytest.raises(InvalidOption, match="^audio_duration: must be None or seconds > 0, got -1$"):
        client.diarize(URL, audio_duration=-1)
    with pytest.raises(InvalidOption, match="^status: 'done' is not one of"):
        client.list_jobs(status="done")
    with pytest.raises(InvalidOption, match="^page_size: must be an integer from 1 to 100, got 101$"):
        client.list_jobs(page_size=101)
    with pytest.raises(InvalidOption, match="^limit: "):
        client.list_jobs(limit=0)
    with pytest.raises(InvalidOption, match="^job_id: "):
        client.get_job("")
    with pytest.raises(InvalidOption, match="^media_url: "):
        client.upload(b"RIFF", media_url="https://example.com/x")
    with pytest.raises(InvalidOption, match="^chunk_size: "):
        client.upload(b"RIFF", chunk_size=0)
    assert fake.calls == []


def test_diarize_to_json_is_camel_case_without_nulls():
    opts = DiarizeOptions(URL, min_speakers=2, max_speakers=4, exclusive=True,
                          turn_level_confidence=True, transcription=True,
                          transcription_config={"model": "faster-whisper-large-v3-turbo"},
                          webhook="https://example.com/hook", webhook_status_only=True)
    assert opts.to_json() == {
        "url": URL, "model": "precision-2", "minSpeakers": 2, "maxSpeakers": 4,
        "exclusive": True, "confidence": False, "turnLevelConfidence": True,
        "transcription": True, "transcriptionConfig": {"model": "faster-whisper-large-v3-turbo"},
        "webhook": "https://example.com/hook", "webhookStatusOnly": True,
    }
    assert None not in opts.to_json().values()
    # transcription defaults to parakeet when no config is given
    assert DiarizeOptions(URL, transcription=True).to_json()["transcriptionConfig"] == {
        "model": "parakeet-tdt-0.6b-v3"}
    # webhookStatusOnly without webhook is meaningless and omitted
    assert "webhookStatusOnly" not in DiarizeOptions(URL, webhook_status_only=True).to_json()


def test_identify_accepts_mapping_pairs_and_dicts_identically():
    a = IdentifyOptions(URL, {"Alice": "v1", "Bob": "v2"}, matching_threshold=30)
    b = IdentifyOptions(URL, [("Alice", "v1"), ("Bob", "v2")], matching_threshold=30.0)
    c = IdentifyOptions(URL, [{"label": "Alice", "voiceprint": "v1"},
                              {"label": "Bob", "voiceprint": "v2"}], matching_threshold=30)
    assert a == b == c
    assert a.voiceprints == (("Alice", "v1"), ("Bob", "v2"))
    body = a.to_json()
    assert body["voiceprints"] == [{"label": "Alice", "voiceprint": "v1"},
                                   {"label": "Bob", "voiceprint": "v2"}]
    assert body["matching"] == {"exclusive": True, "threshold": 30.0}
    assert "transcription" not in body


def test_voiceprint_to_json():
    assert VoiceprintOptions("https://example.com/a.wav").to_json() == {
        "url": "https://example.com/a.wav", "model": "precision-2"}


def test_canonical_is_stable_and_ignores_delivery():
    a = DiarizeOptions(URL, num_speakers=2, webhook="https://example.com/h")
    b = DiarizeOptions("media://other", num_speakers=2)
    assert a.canonical() == b.canonical()
    assert json.loads(a.canonical()) == {
        "kind": "diarize", "model": "precision-2", "numSpeakers": 2, "exclusive": False,
        "confidence": False, "turnLevelConfidence": False, "transcription": False}
    keys = list(json.loads(a.canonical()))
    assert keys == sorted(keys)
    assert a.canonical() != DiarizeOptions(URL, num_speakers=3).canonical()
    assert DiarizeOptions(URL).canonical() != VoiceprintOptions(URL).canonical()
    assert hash(a) == hash(DiarizeOptions(URL, num_speakers=2, webhook="https://example.com/h"))


def test_media_url_limits_accept_the_documented_examples():
    for url in ("media://my-audio-file-123", "media://meetings/2024-01-15/call.wav",
                "media://customer_conversation_20240115", "media://" + "a" * 247):
        assert DiarizeOptions(url).url == url
    assert DiarizeOptions("HTTPS://Example.com/A.wav").url == "HTTPS://Example.com/A.wav"

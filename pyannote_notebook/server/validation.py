"""Validation of request bodies, field by field, into the API's 400 shape.

Hand-written rather than a pydantic model: the cloud answers ``{"message": "Invalid request",
"errors": [{"field", "message"}]}`` with camelCase *wire* field names (``voiceprints[0].label``,
``matching.threshold``) and treats ``null`` as absent everywhere; mapping pydantic's error
locations and 422s onto that shape would take more code than these checks.

Every function returns the list of ``(field, message)`` problems; an empty list means valid.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "MEDIA_KEY_RE",
    "MAX_MEDIA_URL",
    "JOB_KINDS",
    "JOB_STATUSES",
    "drop_nulls",
    "parse_json_object",
    "validate_media_url",
    "validate_job_request",
]

MEDIA_KEY_RE = re.compile(r"^media://[a-zA-Z0-9\-_./]+$")
MAX_MEDIA_URL = 255
JOB_KINDS = ("diarize", "identify", "voiceprint")
JOB_STATUSES = ("pending", "created", "running", "succeeded", "failed", "canceled")
DIARIZE_MODELS = ("precision-2", "community-1")
OTHER_MODELS = ("precision-2",)
TRANSCRIPTION_MODELS = ("parakeet-tdt-0.6b-v3", "faster-whisper-large-v3-turbo")
MAX_VOICEPRINTS = 50
MAX_LABEL = 100
MAX_VOICEPRINT = 20000
BOOL_FIELDS = ("turnLevelConfidence", "exclusive", "confidence", "speechProbability",
               "crosstalkProbability", "speakerProbability")

Problems = list[tuple[str, str]]


def drop_nulls(value: Any) -> Any:
    """Return ``value`` with every ``None`` dict entry removed, recursively (null = absent)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def parse_json_object(raw: bytes) -> tuple[dict[str, Any] | None, Problems]:
    """Parse a request body that must be a JSON object; nulls are dropped."""
    if not raw.strip():
        return None, [("body", "Request body is empty; expected a JSON object")]
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, [("body", f"Malformed JSON: {exc}")]
    if not isinstance(data, dict):
        return None, [("body", "Request body must be a JSON object")]
    return drop_nulls(data), []


def validate_media_url(url: Any, field: str = "url") -> Problems:
    """Check a ``media://`` URL (pattern and length)."""
    if not isinstance(url, str):
        return [(field, "Must be a string")]
    if len(url) > MAX_MEDIA_URL:
        return [(field, f"Must be at most {MAX_MEDIA_URL} characters")]
    if not MEDIA_KEY_RE.match(url):
        return [(field, "Invalid media URL: expected media://<key> with characters a-z A-Z 0-9 - _ . /")]
    return []


def _validate_http_url(url: str, field: str) -> Problems:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [(field, "Invalid URL")]
    return []


def _validate_audio_url(body: dict[str, Any]) -> Problems:
    if "url" not in body:
        return [("url", "Required")]
    url = body["url"]
    if not isinstance(url, str):
        return [("url", "Must be a string")]
    if url.startswith("media://"):
        return validate_media_url(url)
    if url.startswith(("http://", "https://")):
        return _validate_http_url(url, "url")
    return [("url", "Invalid URL: expected an http(s):// URL or media://<key>")]


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def _validate_speakers(body: dict[str, Any]) -> Problems:
    problems: Problems = []
    for name in ("numSpeakers", "minSpeakers", "maxSpeakers"):
        if name in body:
            value = body[name]
            if not _is_int(value):
                problems.append((name, "Must be an integer"))
            elif value < 1:
                problems.append((name, "Must be greater than or equal to 1"))
    if problems:
        return problems
    if "numSpeakers" in body and ("minSpeakers" in body or "maxSpeakers" in body):
        problems.append(("numSpeakers", "Cannot be combined with minSpeakers or maxSpeakers"))
    elif "minSpeakers" in body and "maxSpeakers" in body and body["minSpeakers"] > body["maxSpeakers"]:
        problems.append(("minSpeakers", "Must be less than or equal to maxSpeakers"))
    return problems


def _validate_voiceprints(body: dict[str, Any]) -> Problems:
    if "voiceprints" not in body:
        return [("voiceprints", "Required")]
    voiceprints = body["voiceprints"]
    if not isinstance(voiceprints, list):
        return [("voiceprints", "Must be an array")]
    if not 1 <= len(voiceprints) <= MAX_VOICEPRINTS:
        return [("voiceprints", f"Must contain between 1 and {MAX_VOICEPRINTS} voiceprints")]
    problems: Problems = []
    for i, item in enumerate(voiceprints):
        where = f"voiceprints[{i}]"
        if not isinstance(item, dict):
            problems.append((where, "Must be an object with label and voiceprint"))
            continue
        label = item.get("label")
        if label is None:
            problems.append((f"{where}.label", "Required"))
        elif not isinstance(label, str) or not label:
            problems.append((f"{where}.label", "Must be a non-empty string"))
        elif len(label) > MAX_LABEL:
            problems.append((f"{where}.label", f"Must be at most {MAX_LABEL} characters"))
        elif label.lower().startswith("speaker_"):
            problems.append((f"{where}.label", "Must not start with SPEAKER_"))
        vp = item.get("voiceprint")
        if vp is None:
            problems.append((f"{where}.voiceprint", "Required"))
        elif not isinstance(vp, str) or not vp:
            problems.append((f"{where}.voiceprint", "Must be a non-empty string"))
        elif len(vp) > MAX_VOICEPRINT:
            problems.append((f"{where}.voiceprint", f"Must be at most {MAX_VOICEPRINT} characters"))
    return problems


def _validate_matching(body: dict[str, Any]) -> Problems:
    if "matching" not in body:
        return []
    matching = body["matching"]
    if not isinstance(matching, dict):
        return [("matching", "Must be an object")]
    problems: Problems = []
    if "exclusive" in matching and not isinstance(matching["exclusive"], bool):
        problems.append(("matching.exclusive", "Must be a boolean"))
    if "threshold" in matching:
        threshold = matching["threshold"]
        if not _is_number(threshold):
            problems.append(("matching.threshold", "Must be a number"))
        elif not 0 <= threshold <= 100:
            problems.append(("matching.threshold", "Must be between 0 and 100"))
    return problems


def _validate_transcription(kind: str, body: dict[str, Any]) -> Problems:
    problems: Problems = []
    if kind != "diarize":
        if body.get("transcription") not in (None, False):
            problems.append(("transcription", "Transcription is only available on /v1/diarize"))
        if "transcriptionConfig" in body:
            problems.append(("transcriptionConfig", "Transcription is only available on /v1/diarize"))
        return problems
    if "transcription" in body:
        if not isinstance(body["transcription"], bool):
            problems.append(("transcription", "Must be a boolean"))
        elif body["transcription"] and body.get("model", "precision-2") != "precision-2":
            problems.append(("transcription", "Transcription is only available with model precision-2"))
    if "transcriptionConfig" in body:
        config = body["transcriptionConfig"]
        if not isinstance(config, dict):
            problems.append(("transcriptionConfig", "Must be an object"))
        elif "model" in config and config["model"] not in TRANSCRIPTION_MODELS:
            problems.append(("transcriptionConfig.model",
                             f"Must be one of: {', '.join(TRANSCRIPTION_MODELS)}"))
    return problems


def validate_job_request(kind: str, body: dict[str, Any]) -> Problems:
    """Check the body of ``POST /v1/{kind}`` (nulls already dropped); unknown fields are ignored."""
    problems = _validate_audio_url(body)
    if "webhook" in body:
        webhook = body["webhook"]
        if not isinstance(webhook, str):
            problems.append(("webhook", "Must be a string"))
        else:
            problems += _validate_http_url(webhook, "webhook")
    if "webhookStatusOnly" in body and not isinstance(body["webhookStatusOnly"], bool):
        problems.append(("webhookStatusOnly", "Must be a boolean"))
    models = DIARIZE_MODELS if kind == "diarize" else OTHER_MODELS
    if "model" in body and body["model"] not in models:
        problems.append(("model", f"Must be one of: {', '.join(models)}"))
    if kind == "voiceprint":
        return problems
    problems += _validate_speakers(body)
    for name in BOOL_FIELDS:
        if name in body and not isinstance(body[name], bool):
            problems.append((name, "Must be a boolean"))
    problems += _validate_transcription(kind, body)
    if kind == "identify":
        problems += _validate_voiceprints(body)
        problems += _validate_matching(body)
    return problems

"""Typed, validated request options for ``/v1/diarize``, ``/v1/identify`` and ``/v1/voiceprint``.

Every rule of the contract (``shared/pyannoteai-api.md`` sections 2.4-2.6 and 5) is checked in
``__post_init__``, so a bad option raises :class:`~pyannote_notebook.errors.InvalidOption` naming
the option *as the Python caller spells it* before any request is sent. The validation is
hand-written on purpose: it is a dozen cross-field rules (``num_speakers`` excludes
``min/max``, ``transcription`` only with ``precision-2``...) whose error messages must name the
Python option, which a schema library would not give us without as much code.

``to_json()`` gives the camelCase wire body (unset values omitted, never ``null``);
``canonical()`` gives a stable JSON string of everything that determines the *output* (kind and
options with defaults filled, but not ``url``/``webhook``), which the job store uses for
content addressing.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from pyannote_notebook.errors import InvalidOption

__all__ = [
    "DIARIZE_MODELS",
    "IDENTIFY_MODELS",
    "VOICEPRINT_MODELS",
    "TRANSCRIPTION_MODELS",
    "JOB_STATUSES",
    "MEDIA_KEY_PATTERN",
    "DiarizeOptions",
    "IdentifyOptions",
    "VoiceprintOptions",
    "validate_media_url",
    "validate_audio_url",
    "validate_webhook",
]

DIARIZE_MODELS = ("precision-2", "community-1")
IDENTIFY_MODELS = ("precision-2",)
VOICEPRINT_MODELS = ("precision-2",)
TRANSCRIPTION_MODELS = ("parakeet-tdt-0.6b-v3", "faster-whisper-large-v3-turbo")
JOB_STATUSES = ("pending", "created", "running", "succeeded", "failed", "canceled")
MEDIA_KEY_PATTERN = re.compile(r"^media://[a-zA-Z0-9\-_./]+$")
MAX_MEDIA_URL = 255
MAX_VOICEPRINTS = 50
MAX_LABEL = 100
MAX_VOICEPRINT = 20000


# --------------------------------------------------------------------------- field checks


def validate_media_url(url: object, option: str = "media_url") -> str:
    """Return ``url`` if it is a valid ``media://`` key, else raise ``InvalidOption(option)``."""
    if not isinstance(url, str):
        raise InvalidOption(option, f"must be a 'media://...' string, got {type(url).__name__}")
    if len(url) > MAX_MEDIA_URL:
        raise InvalidOption(option, f"must be at most {MAX_MEDIA_URL} characters, got {len(url)}")
    if not MEDIA_KEY_PATTERN.match(url):
        raise InvalidOption(
            option,
            f"{url!r} is not a media URL: expected 'media://' followed by letters, digits and "
            "'-_./' only",
        )
    return url


def validate_audio_url(url: object, option: str = "url") -> str:
    """Return ``url`` if it is ``http(s)://...`` or a valid ``media://`` key."""
    if not isinstance(url, str) or not url:
        raise InvalidOption(option, "must be a non-empty http(s):// or media:// URL string")
    lower = url.lower()
    if lower.startswith("media://"):
        return validate_media_url(url, option)
    if lower.startswith(("http://", "https://")) and len(url) > len("https://"):
        return url
    scheme = url.split(":", 1)[0] if ":" in url else url[:20]
    raise InvalidOption(
        option,
        f"unsupported URL scheme in {scheme!r}...: use a public http(s):// URL or a media:// "
        "key from client.upload()",
    )


def validate_webhook(url: object, option: str = "webhook") -> str | None:
    """Return ``url`` (or ``None``) if it is an ``http(s)://`` URL."""
    if url is None:
        return None
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise InvalidOption(option, "must be an http:// or https:// URL that accepts POST")
    return url


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidOption(name, f"must be True or False, got {value!r}")


def _check_count(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOption(name, f"must be an integer >= 1, got {value!r}")
    if value < 1:
        raise InvalidOption(name, f"must be >= 1, got {value}")


def _check_model(name: str, value: object, allowed: tuple[str, ...], kind: str) -> None:
    if value not in allowed:
        raise InvalidOption(
            name, f"{value!r} is not available for {kind}; choose one of {', '.join(allowed)}"
        )


def _check_speakers(num: object, lo: object, hi: object) -> None:
    _check_count("num_speakers", num)
    _check_count("min_speakers", lo)
    _check_count("max_speakers", hi)
    if num is not None and (lo is not None or hi is not None):
        raise InvalidOption(
            "num_speakers",
            "cannot be combined with min_speakers/max_speakers (num_speakers=N means min=max=N)",
        )
    if lo is not None and hi is not None and lo > hi:  # type: ignore[operator]
        raise InvalidOption("min_speakers", f"must be <= max_speakers, got {lo} > {hi}")


def _normalize_voiceprints(value: object) -> tuple[tuple[str, str], ...]:
    """Accept ``{label: voiceprint}``, ``[(label, vp), ...]`` or ``[{"label", "voiceprint"}]``."""
    items: list[tuple[object, object]]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for i, entry in enumerate(value):
            if isinstance(entry, Mapping) and set(entry) >= {"label", "voiceprint"}:
                items.append((entry["label"], entry["voiceprint"]))
            elif isinstance(entry, Sequence) and not isinstance(entry, (str, bytes)) and len(entry) == 2:
                items.append((entry[0], entry[1]))
            else:
                raise InvalidOption(
                    "voiceprints",
                    f"entry {i} must be a (label, voiceprint) pair or a dict with 'label' and "
                    "'voiceprint'",
                )
    else:
        raise InvalidOption(
            "voiceprints",
            "must be a mapping {label: voiceprint} or a sequence of (label, voiceprint) pairs",
        )
    if not 1 <= len(items) <= MAX_VOICEPRINTS:
        raise InvalidOption(
            "voiceprints", f"must hold 1 to {MAX_VOICEPRINTS} voiceprints, got {len(items)}"
        )
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for i, (label, vp) in enumerate(items):
        if not isinstance(label, str) or not label:
            raise InvalidOption("voiceprints", f"entry {i}: label must be a non-empty string")
        if len(label) > MAX_LABEL:
            raise InvalidOption(
                "voiceprints", f"entry {i}: label must be at most {MAX_LABEL} characters"
            )
        if label.lower().startswith("speaker_"):
            raise InvalidOption(
                "voiceprints",
                f"entry {i}: label {label!r} must not start with 'SPEAKER_' (reserved for "
                "diarization labels)",
            )
        if label in seen:
            raise InvalidOption("voiceprints", f"entry {i}: duplicate label {label!r}")
        seen.add(label)
        if not isinstance(vp, str) or not vp:
            raise InvalidOption(
                "voiceprints", f"entry {i} ({label!r}): voiceprint must be a non-empty string"
            )
        if len(vp) > MAX_VOICEPRINT:
            raise InvalidOption(
                "voiceprints",
                f"entry {i} ({label!r}): voiceprint must be at most {MAX_VOICEPRINT} characters, "
                f"got {len(vp)}",
            )
        out.append((label, vp))
    return tuple(out)


def _normalize_transcription_config(value: object) -> str | None:
    """Return the transcription model name from ``None``, a model name or ``{"model": ...}``."""
    if value is None:
        return None
    if isinstance(value, str):
        model = value
    elif isinstance(value, Mapping):
        unknown = set(value) - {"model"}
        if unknown:
            raise InvalidOption(
                "transcription_config", f"unknown key(s) {sorted(unknown)}; only 'model' is allowed"
            )
        model = value.get("model", TRANSCRIPTION_MODELS[0])
    else:
        raise InvalidOption("transcription_config", "must be a model name or {'model': name}")
    if model not in TRANSCRIPTION_MODELS:
        raise InvalidOption(
            "transcription_config",
            f"model {model!r} is not available; choose one of {', '.join(TRANSCRIPTION_MODELS)}",
        )
    return model  # type: ignore[return-value]


# --------------------------------------------------------------------------- option classes


class _Options:
    """Shared behaviour: wire JSON, canonical JSON."""

    kind: str = ""
    _NOT_CANONICAL = ("url", "webhook", "webhook_status_only")

    def to_json(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def canonical(self) -> str:
        """Stable JSON string (sorted keys, defaults filled) of what determines the output.

        Includes ``kind`` and every option except ``url``, ``webhook`` and
        ``webhook_status_only`` (delivery details, not inputs of the computation).
        """
        body = self.to_json()
        for key in ("url", "webhook", "webhookStatusOnly"):
            body.pop(key, None)
        body["kind"] = self.kind
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    def _diarization_fields(self, body: dict[str, Any]) -> None:
        """Add the speaker counts (set ones only) and output flags diarize and identify share."""
        for py, wire in (("num_speakers", "numSpeakers"), ("min_speakers", "minSpeakers"),
                         ("max_speakers", "maxSpeakers")):
            value = getattr(self, py)
            if value is not None:
                body[wire] = value
        body["exclusive"] = getattr(self, "exclusive")
        body["confidence"] = getattr(self, "confidence")
        body["turnLevelConfidence"] = getattr(self, "turn_level_confidence")

    def _delivery(self, body: dict[str, Any]) -> dict[str, Any]:
        webhook = getattr(self, "webhook")
        if webhook is not None:
            body["webhook"] = webhook
            if getattr(self, "webhook_status_only"):
                body["webhookStatusOnly"] = True
        return body


@dataclass(frozen=True)
class DiarizeOptions(_Options):
    """Options of a diarization job (``POST /v1/diarize``); validated at construction.

    Raises
    ------
    InvalidOption
        On the first invalid option, naming it (``num_speakers``, ``model``...).
    """

    url: str
    model: str = "precision-2"
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    exclusive: bool = False
    confidence: bool = False
    turn_level_confidence: bool = False
    transcription: bool = False
    transcription_config: str | Mapping[str, str] | None = None
    webhook: str | None = None
    webhook_status_only: bool = False
    kind: str = field(default="diarize", init=False, repr=False)

    def __post_init__(self) -> None:
        validate_audio_url(self.url, "url")
        _check_model("model", self.model, DIARIZE_MODELS, "diarization")
        _check_speakers(self.num_speakers, self.min_speakers, self.max_speakers)
        for name in ("exclusive", "confidence", "turn_level_confidence", "transcription",
                     "webhook_status_only"):
            _check_bool(name, getattr(self, name))
        if self.transcription and self.model != "precision-2":
            raise InvalidOption(
                "transcription", f"is only available with model='precision-2', not {self.model!r}"
            )
        tmodel = _normalize_transcription_config(self.transcription_config)
        if tmodel is not None and not self.transcription:
            raise InvalidOption("transcription_config", "requires transcription=True")
        object.__setattr__(self, "transcription_config", tmodel)
        validate_webhook(self.webhook)

    def to_json(self) -> dict[str, Any]:
        """Return the camelCase request body (unset values omitted)."""
        body: dict[str, Any] = {"url": self.url, "model": self.model}
        self._diarization_fields(body)
        body["transcription"] = self.transcription
        if self.transcription:
            body["transcriptionConfig"] = {"model": self.transcription_config or TRANSCRIPTION_MODELS[0]}
        return self._delivery(body)


@dataclass(frozen=True)
class IdentifyOptions(_Options):
    """Options of an identification job (``POST /v1/identify``); validated at construction.

    ``voiceprints`` is a mapping ``{label: voiceprint}`` or a sequence of ``(label, voiceprint)``
    pairs (or of ``{"label", "voiceprint"}`` dicts); it is stored as a tuple of pairs.

    Raises
    ------
    InvalidOption
        On the first invalid option, naming it.
    """

    url: str
    voiceprints: Any
    matching_exclusive: bool = True
    matching_threshold: float = 0.0
    model: str = "precision-2"
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    exclusive: bool = False
    confidence: bool = False
    turn_level_confidence: bool = False
    webhook: str | None = None
    webhook_status_only: bool = False
    kind: str = field(default="identify", init=False, repr=False)

    def __post_init__(self) -> None:
        validate_audio_url(self.url, "url")
        object.__setattr__(self, "voiceprints", _normalize_voiceprints(self.voiceprints))
        _check_model("model", self.model, IDENTIFY_MODELS, "identification")
        _check_speakers(self.num_speakers, self.min_speakers, self.max_speakers)
        for name in ("matching_exclusive", "exclusive", "confidence", "turn_level_confidence",
                     "webhook_status_only"):
            _check_bool(name, getattr(self, name))
        t = self.matching_threshold
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) \
                or not 0 <= t <= 100:
            raise InvalidOption("matching_threshold", f"must be a number from 0 to 100, got {t!r}")
        object.__setattr__(self, "matching_threshold", float(t))
        validate_webhook(self.webhook)

    def to_json(self) -> dict[str, Any]:
        """Return the camelCase request body (unset values omitted)."""
        body: dict[str, Any] = {"url": self.url, "model": self.model}
        body["voiceprints"] = [{"label": k, "voiceprint": v} for k, v in self.voiceprints]
        body["matching"] = {"exclusive": self.matching_exclusive,
                            "threshold": self.matching_threshold}
        self._diarization_fields(body)
        return self._delivery(body)


@dataclass(frozen=True)
class VoiceprintOptions(_Options):
    """Options of a voiceprint job (``POST /v1/voiceprint``); validated at construction.

    Raises
    ------
    InvalidOption
        On the first invalid option, naming it.
    """

    url: str
    model: str = "precision-2"
    webhook: str | None = None
    webhook_status_only: bool = False
    kind: str = field(default="voiceprint", init=False, repr=False)

    def __post_init__(self) -> None:
        validate_audio_url(self.url, "url")
        _check_model("model", self.model, VOICEPRINT_MODELS, "voiceprint")
        _check_bool("webhook_status_only", self.webhook_status_only)
        validate_webhook(self.webhook)

    def to_json(self) -> dict[str, Any]:
        """Return the camelCase request body (unset values omitted)."""
        return self._delivery({"url": self.url, "model": self.model})


def option_names(cls: type) -> list[str]:
    """Names a caller may pass to ``cls`` (used by error messages for unknown keywords)."""
    return [f.name for f in fields(cls) if f.init]

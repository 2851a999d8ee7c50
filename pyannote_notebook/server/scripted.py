"""A scripted job engine for tests: outputs, running times and failures chosen per test.

Hand-written because it *is* the test double of the contract. Without scripts every job succeeds
after 0.05 s with :func:`generate_output`, a deterministic two-speaker output valid for the job's
kind and parameters (``exclusiveDiarization`` when ``exclusive``, per-turn and sample-level
``confidence`` when asked, identification against the given voiceprints...).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Union

from ..errors import EngineError, JobCanceled

__all__ = ["Script", "ScriptedCall", "ScriptedEngine", "generate_output", "DEFAULT_FAILURE", "SCRIPTED_WARNING",
           "MAX_SCRIPTED_SPEAKERS"]

DEFAULT_FAILURE = "An error occurred while processing the audio."
DEFAULT_DURATION = 10.0  # seconds of audio assumed when the file's duration is unknown
#: Most speakers a generated output has (the API sets no upper bound on numSpeakers/maxSpeakers;
#: generating 10**11 speakers would hang a worker, so larger requests are capped and say so).
MAX_SCRIPTED_SPEAKERS = 64


@dataclass(frozen=True)
class Script:
    """How one scripted job behaves.

    Parameters
    ----------
    output : dict | None
        The job's output on success; None -> :func:`generate_output` for the kind and params.
    duration : float
        Seconds the job stays ``running``.
    error : str | None
        When set, the job fails with this text (``output == {"error": error}``).
    status : str
        ``"succeeded"``, ``"failed"`` (with ``error`` or the cloud's generic text) or
        ``"canceled"``.
    hold : threading.Event | None
        When set, the job stays ``running`` after ``duration`` until this event is set (or the
        server stops), so a test decides when jobs finish instead of racing the clock.
    """

    output: dict[str, Any] | None = None
    duration: float = 0.05
    error: str | None = None
    status: str = "succeeded"
    hold: threading.Event | None = None

    def __post_init__(self) -> None:
        if self.status not in ("succeeded", "failed", "canceled"):
            raise ValueError(f"Script.status must be succeeded, failed or canceled, got {self.status!r}")
        if self.duration < 0:
            raise ValueError(f"Script.duration must be >= 0, got {self.duration!r}")


class ScriptedCall(NamedTuple):
    """One call the scripted engine received."""

    kind: str
    url: str | None
    params: dict[str, Any]


Matcher = Union[str, Callable[[str, dict[str, Any]], bool]]


class ScriptedEngine:
    """Job engine whose behaviour tests script.

    Parameters
    ----------
    default : Script | None
        Behaviour of jobs no rule matches (default: succeed after 0.05 s with a generated output).

    Notes
    -----
    A job's script is resolved when the job starts running (not when it is created).
    Resolution order: the oldest :meth:`push`-ed one-shot script, then the most recently
    registered :meth:`script` rule that matches, then ``default``. ``calls`` records every job run.
    """

    name = "scripted"
    accepts_url = True  # the server passes url= so scripts can match on it

    def __init__(self, default: Script | None = None) -> None:
        self.default = default or Script()
        self.calls: list[ScriptedCall] = []
        self._rules: list[tuple[Matcher, Script]] = []
        self._queue: deque[Script] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def __repr__(self) -> str:
        return f"ScriptedEngine(rules={len(self._rules)}, queued={len(self._queue)}, calls={len(self.calls)})"

    def script(self, match: Matcher, script: Script) -> None:
        """Use ``script`` for jobs whose url equals or contains ``match`` (a string) or for which
        ``match(kind, params)`` is true (params include ``url``)."""
        with self._lock:
            self._rules.append((match, script))

    def push(self, script: Script) -> None:
        """Use ``script`` for the next job only (FIFO)."""
        with self._lock:
            self._queue.append(script)

    def clear(self) -> None:
        """Forget rules, queued scripts and recorded calls."""
        with self._lock:
            self._rules.clear()
            self._queue.clear()
            self.calls.clear()

    def resolve(self, kind: str, url: str | None, params: dict[str, Any]) -> Script:
        """Return the script for one job (consumes a pushed script)."""
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            for match, script in reversed(self._rules):
                if callable(match):
                    if match(kind, {**params, "url": url}):
                        return script
                elif url is not None and (url == match or match in url):
                    return script
            return self.default

    def validate(self, kind: str, params: dict[str, Any]) -> list[tuple[str, str]]:
        """The scripted engine accepts every valid request."""
        return []

    def interrupt(self) -> None:
        """Wake every job currently sleeping through its ``duration`` (used on server stop)."""
        with self._lock:
            wake, self._wake = self._wake, threading.Event()
        wake.set()

    def run(self, kind: str, audio_path: Path | None, params: dict[str, Any], *,
            audio_duration: float | None = None, url: str | None = None) -> dict[str, Any]:
        """Sleep the script's duration, then return its output or raise its failure.

        Raises
        ------
        EngineError
            The script says ``failed`` (message = its error text).
        JobCanceled
            The script says ``canceled``.
        """
        script = self.resolve(kind, url, params)
        with self._lock:
            self.calls.append(ScriptedCall(kind, url, dict(params)))
            wake = self._wake
        if script.duration:
            wake.wait(script.duration)
        if script.hold is not None:
            while not (script.hold.wait(0.05) or wake.is_set()):
                pass
        if script.status == "canceled":
            raise JobCanceled("", script.error)
        if script.error is not None or script.status == "failed":
            raise EngineError(script.error or DEFAULT_FAILURE)
        if script.output is not None:
            return json.loads(json.dumps(script.output))  # a private copy
        return generate_output(kind, params, audio_duration)


# --------------------------------------------------------------------------- generated outputs


def _speaker_count(params: dict[str, Any]) -> int:
    """Speakers asked for (uncapped: the caller caps at :data:`MAX_SCRIPTED_SPEAKERS`)."""
    if "numSpeakers" in params:
        return int(params["numSpeakers"])
    count = 2
    if "minSpeakers" in params:
        count = max(count, int(params["minSpeakers"]))
    if "maxSpeakers" in params:
        count = min(count, int(params["maxSpeakers"]))
    return count


def _diarization(n_speakers: int, duration: float) -> tuple[list[dict], list[dict]]:
    """Alternating turns (2 per speaker) with a little overlap, and the exclusive version."""
    turns = 2 * n_speakers
    step = duration / turns
    regular, exclusive = [], []
    for i in range(turns):
        speaker = f"SPEAKER_{i % n_speakers:02d}"
        start, end = i * step, (i + 1) * step
        overlaps = n_speakers > 1 and i < turns - 1  # a speaker never overlaps itself
        overlap_end = min(duration, end + 0.25 * step) if overlaps else end
        regular.append({"speaker": speaker, "start": round(start, 3), "end": round(overlap_end, 3)})
        exclusive.append({"speaker": speaker, "start": round(start, 3), "end": round(end, 3)})
    return regular, exclusive


def _turn_confidence(speaker: str, speakers: list[str]) -> dict[str, int]:
    others = [s for s in speakers if s != speaker]
    share = 10 // len(others) if others else 0
    return {s: (90 if s == speaker else share) for s in speakers}


SCRIPTED_WARNING = (
    "scripted test output (server engine 'scripted'): not a diarization of this audio; "
    "start_server(engine='local') runs the offline engine"
)


def generate_output(kind: str, params: dict[str, Any], audio_duration: float | None = None) -> dict[str, Any]:
    """Deterministic cloud-shaped output for ``kind`` and ``params`` (camelCase, nulls removed).

    Diarize/identify: ``max(2, minSpeakers)`` speakers capped by ``maxSpeakers`` (or
    ``numSpeakers``), at most :data:`MAX_SCRIPTED_SPEAKERS` (the ``warning`` then says so), two
    turns each spread over the audio's duration (10 s when unknown), times rounded to 3 decimals. Voiceprint: ``{"voiceprint": <base64 string>}``. Every generated
    output carries :data:`SCRIPTED_WARNING` in ``warning``, so nobody mistakes it for a
    diarization of the audio.
    """
    duration = float(audio_duration) if audio_duration and audio_duration > 0 else DEFAULT_DURATION
    if kind == "voiceprint":
        digest = hashlib.sha256(f"voiceprint:{duration:.3f}".encode()).digest()
        return {"voiceprint": base64.b64encode(b"scripted-v1:" + digest).decode("ascii"),
                "warning": SCRIPTED_WARNING}
    asked = _speaker_count(params)
    n_speakers = min(asked, MAX_SCRIPTED_SPEAKERS)
    speakers = [f"SPEAKER_{k:02d}" for k in range(n_speakers)]
    regular, exclusive = _diarization(n_speakers, duration)
    if params.get("turnLevelConfidence"):
        for turn in regular:
            turn["confidence"] = _turn_confidence(turn["speaker"], speakers)
    output: dict[str, Any] = {"diarization": regular}
    if params.get("exclusive"):
        output["exclusiveDiarization"] = exclusive
    if params.get("confidence"):
        frames = math.ceil(duration / 0.02)
        output["confidence"] = {"score": [60 if i % 50 == 0 else 95 for i in range(frames)],
                                "resolution": 0.02}
    if kind == "diarize" and params.get("transcription"):
        output["turnLevelTranscription"] = [
            {"start": t["start"], "end": t["end"], "text": f"turn {i} words", "speaker": t["speaker"]}
            for i, t in enumerate(exclusive)]
        words = []
        for i, t in enumerate(exclusive):
            mid = round((t["start"] + t["end"]) / 2, 3)
            words += [{"start": t["start"], "end": mid, "text": f"turn{i}", "speaker": t["speaker"]},
                      {"start": mid, "end": t["end"], "text": "words", "speaker": t["speaker"]}]
        output["wordLevelTranscription"] = words
    if kind == "identify":
        output.update(_identification(params, speakers, regular))
    output["warning"] = SCRIPTED_WARNING
    if asked > MAX_SCRIPTED_SPEAKERS:
        output["warning"] += (f"; {asked} speakers were asked, the scripted engine generates at most "
                              f"{MAX_SCRIPTED_SPEAKERS}")
    return output


def _identification(params: dict[str, Any], speakers: list[str], turns: list[dict]) -> dict[str, Any]:
    """Speaker k matches voiceprint k (score 80, others 20); unmatched under threshold/exclusivity."""
    labels = [vp["label"] for vp in params.get("voiceprints", [])]
    matching = params.get("matching", {})
    threshold = float(matching.get("threshold", 0))
    exclusive = matching.get("exclusive", True)
    matches: dict[str, str | None] = {}
    voiceprints = []
    for k, speaker in enumerate(speakers):
        if k < len(labels):
            best = labels[k]
        elif not exclusive and labels:
            best = labels[0]
        else:
            best = None
        scores = {label: (80 if label == best else 20) for label in labels}
        match = best if best is not None and scores[best] >= threshold else None
        matches[speaker] = match
        voiceprints.append({"speaker": speaker, "match": match, "confidence": scores})
    identification = [
        {"speaker": matches[t["speaker"]] or t["speaker"], "start": t["start"], "end": t["end"],
         "diarizationSpeaker": t["speaker"], "match": matches[t["speaker"]]}
        for t in turns]
    return {"identification": identification, "voiceprints": voiceprints}

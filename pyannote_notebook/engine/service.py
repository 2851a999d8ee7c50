"""Adapter between the local server's job runner and the engine (``JobEngine`` protocol).

The server hands over the request JSON in camelCase (nulls and ``url`` removed) and expects
the job ``output`` dict back. Errors: :class:`AudioError` (the server reports "Could not load
audio") and :class:`EngineError` (the job fails with its text) propagate; option problems are
reported earlier by :meth:`LocalJobEngine.validate` so the server answers 400.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyannote_notebook.errors import EngineError, InvalidOption

__all__ = ["LocalJobEngine", "NO_TRANSCRIPTION"]

NO_TRANSCRIPTION = (
    "the local engine has no speech recognizer; transcription needs the pyannoteAI cloud "
    "(set PYANNOTEAI_API_KEY) or leave transcription unset"
)
_KINDS = ("diarize", "identify", "voiceprint")


class LocalJobEngine:
    """Runs ``diarize``, ``identify`` and ``voiceprint`` jobs on the offline engine.

    Stateless; models are loaded once per process and shared, so one instance can serve the
    server's worker threads concurrently.
    """

    name = "local"

    def __repr__(self) -> str:
        return "LocalJobEngine()"

    def validate(self, kind: str, params: dict) -> list[tuple[str, str]]:
        """Field errors (camelCase field, message) the local engine adds to the server's checks.

        ``transcription: true`` is refused; voiceprints must be local ones (decodable).
        """
        errors: list[tuple[str, str]] = []
        if kind not in _KINDS:
            errors.append(("kind", f"unknown job kind {kind!r}"))
        if params.get("transcription"):
            errors.append(("transcription", NO_TRANSCRIPTION))
        if kind == "identify":
            from pyannote_notebook.engine.voiceprints import decode_voiceprint

            seen: set[str] = set()
            for i, item in enumerate(params.get("voiceprints") or []):
                if not isinstance(item, dict):
                    continue
                label = item.get("label")
                if label in seen:
                    errors.append((f"voiceprints[{i}].label", f"duplicate label {label!r}"))
                seen.add(label)
                vp = item.get("voiceprint")
                if isinstance(vp, str):
                    try:
                        decode_voiceprint(vp)
                    except EngineError as exc:
                        errors.append((f"voiceprints[{i}].voiceprint", str(exc)))
        return errors

    def run(self, kind: str, audio_path: Path, params: dict, *,
            audio_duration: float | None = None) -> dict:
        """Run one job and return its cloud-shaped ``output``.

        Runs synchronously in the calling worker thread (no internal timeout; about 2 % of the
        audio duration).

        Raises
        ------
        AudioError
            The audio cannot be decoded or is empty.
        EngineError
            Voiceprint clip longer than 30 s or without speech, invalid options, missing weights
            (:class:`WeightsMissing` is a subclass).
        """
        from pyannote_notebook.engine import identification as _identify
        from pyannote_notebook.engine import pipeline
        from pyannote_notebook.engine import voiceprints as _vp

        p = {k: v for k, v in params.items() if v is not None}
        counts: dict[str, Any] = {"num_speakers": p.get("numSpeakers"),
                                  "min_speakers": p.get("minSpeakers"),
                                  "max_speakers": p.get("maxSpeakers")}
        counts = {k: (int(v) if v is not None else None) for k, v in counts.items()}
        try:
            if kind == "voiceprint":
                if audio_duration is not None and audio_duration > _vp.MAX_VOICEPRINT_SECONDS:
                    raise EngineError(_vp.too_long_message(audio_duration))
                out: dict = {"voiceprint": _vp.voiceprint(audio_path)}
            elif kind == "diarize":
                out = pipeline.diarize(audio_path, exclusive=bool(p.get("exclusive", False)),
                                       **counts)
            elif kind == "identify":
                matching = p.get("matching") or {}
                m_excl = matching.get("exclusive")
                m_thr = matching.get("threshold")
                out = _identify.identify(
                    audio_path, p.get("voiceprints") or [],
                    matching_exclusive=True if m_excl is None else bool(m_excl),
                    matching_threshold=0.0 if m_thr is None else float(m_thr),
                    exclusive=bool(p.get("exclusive", False)), **counts)
            else:
                raise EngineError(f"unknown job kind {kind!r}")
        except InvalidOption as exc:
            raise EngineError(f"invalid option {exc}") from exc
        unsupported = [f for f in ("confidence", "turnLevelConfidence") if p.get(f)]
        if unsupported:
            note = (f"{' and '.join(unsupported)} not computed: the local engine gives no "
                    "confidence scores")
            out["warning"] = f"{out['warning']}; {note}" if out.get("warning") else note
        return out

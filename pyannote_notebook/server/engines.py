"""The job-engine protocol of the local server, and how an engine is chosen by name.

An engine turns one job (kind, audio file, request parameters) into the job's ``output`` dict,
shaped like the cloud's. The server owns everything else (validation, job lifecycle, webhooks).
Engines: ``"scripted"`` (:class:`~pyannote_notebook.server.scripted.ScriptedEngine`, for tests)
and ``"local"`` (``pyannote_notebook.engine.service.LocalJobEngine``, imported lazily because it
loads onnxruntime and model weights).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import ServerStartError
from .scripted import Script, ScriptedCall, ScriptedEngine, generate_output

__all__ = ["JobEngine", "Script", "ScriptedCall", "ScriptedEngine", "generate_output", "get_engine"]


@runtime_checkable
class JobEngine(Protocol):
    """What the server needs from an engine.

    ``run`` is called from a worker thread (``job_workers`` of them at once); it must be
    thread-safe. Raise :class:`~pyannote_notebook.errors.AudioError` when the audio cannot be
    read (the job fails with "Could not load audio"), :class:`~pyannote_notebook.errors.EngineError`
    with a message for any other failure (the job fails with that message), and
    :class:`~pyannote_notebook.errors.JobCanceled` to end the job as ``canceled``.
    """

    name: str

    def validate(self, kind: str, params: dict[str, Any]) -> list[tuple[str, str]]:
        """Extra ``(field, message)`` 400 errors for requests this engine cannot serve."""
        ...

    def run(self, kind: str, audio_path: Path, params: dict[str, Any], *,
            audio_duration: float | None = None) -> dict[str, Any]:
        """Run one job and return its ``output`` (camelCase, cloud-shaped)."""
        ...


LOCAL_ENGINE = "pyannote_notebook.engine.service:LocalJobEngine"


def get_engine(engine: str | JobEngine) -> JobEngine:
    """Return an engine object from a name (``"scripted"``, ``"local"``) or an engine object.

    Raises
    ------
    ServerStartError
        Unknown name, an object missing ``run``/``validate``, or the local engine cannot be
        imported or constructed (the message says why).
    """
    if not isinstance(engine, str):
        if not (callable(getattr(engine, "run", None)) and callable(getattr(engine, "validate", None))):
            raise ServerStartError(
                f"engine object {type(engine).__name__} does not follow the JobEngine protocol "
                "(it needs name, validate(kind, params) and run(kind, audio_path, params, *, "
                "audio_duration=None))")
        return engine
    if engine == "scripted":
        return ScriptedEngine()
    if engine == "local":
        module_name, class_name = LOCAL_ENGINE.split(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise ServerStartError(
                f"the local engine is not available ({LOCAL_ENGINE} could not be imported: {exc}). "
                "Install the local extra (pip install 'pyannote-notebook[local]') or use "
                "--engine scripted") from exc
        try:
            return cls()
        except Exception as exc:  # noqa: BLE001 - any construction failure stops start-up
            raise ServerStartError(f"the local engine could not start: {exc}") from exc
    raise ServerStartError(f"unknown engine {engine!r}: choose 'local' or 'scripted'")

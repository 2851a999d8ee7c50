"""One finished job's output as the objects researchers already use.

:class:`Result` wraps the ``output`` object of ``GET /v1/jobs/{id}`` (or the same JSON produced by
the local engine, or pyannote.audio's snake_case ``exclusive_diarization`` variant) and converts
it, lazily and once, into a pyannote.core :class:`~pyannote.core.Annotation` and tidy pandas
DataFrames.

Why the conversion is hand-written: pyannote.audio's cloud wrapper builds its Annotation with one
``annotation[Segment(start, end), t] = label`` per turn (a ``SortedDict`` insertion each, i.e.
O(n log n) Python comparisons) and then copies everything again with ``rename_tracks("string")``.
Here the turns are sorted once with numpy and handed to the public
:meth:`pyannote.core.Annotation.from_records` constructor in that order (timsort on an already
sorted run costs n comparisons), with the same ``"A", "B", ...`` track names pyannote.audio ends up
with, so ``Result.annotation == <pyannote.audio's annotation>`` under ``Annotation.__eq__``.
No private pyannote.core attribute is touched. ``benchmarks/convert.py`` measures the gain. The
builder (``results/_build.py``) is shared with the RTTM and DataFrame readers of ``formats``.

Heavy imports (pandas, pyannote.core, matplotlib) happen inside the methods that need them.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from pyannote_notebook.errors import FormatError, InvalidOption, JobCanceled, JobFailed

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyannote.core import Annotation

__all__ = ["Result", "Turns", "parse_turns"]

_KINDS = ("diarize", "identify", "voiceprint")


# --------------------------------------------------------------------------- turn parsing


@dataclass(frozen=True)
class Turns:
    """Speech turns as sorted column arrays (the one parsed form everything else is built from).

    Attributes
    ----------
    start, end : numpy.ndarray
        float64 seconds, sorted by ``(start, end)`` (ties in input order, as pyannote.audio).
    speaker : list[str]
        Label of each turn.
    confidence : list[dict] | None
        Per-turn ``confidence`` objects (``turnLevelConfidence``), None when no turn has one.
    """

    start: np.ndarray
    end: np.ndarray
    speaker: list[str]
    confidence: list[dict[str, float]] | None

    def __len__(self) -> int:
        return len(self.speaker)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _locate_bad_turn(items: Sequence[Any], field: str, source: str | None) -> FormatError:
    """Slow scan run only after the fast path failed: name the first bad turn and why."""
    for i, t in enumerate(items):
        where = f"{field}[{i}]"
        if not isinstance(t, Mapping):
            return FormatError(f"{where} is a {type(t).__name__}, expected an object", path=source)
        for key in ("speaker", "start", "end"):
            if key not in t:
                return FormatError(f"{where} has no {key!r} field", path=source)
        if not isinstance(t["speaker"], str):
            return FormatError(
                f"{where}.speaker must be a string, got {t['speaker']!r}", path=source
            )
        for key in ("start", "end"):
            if not _is_number(t[key]):
                return FormatError(
                    f"{where}.{key} must be a finite number of seconds, got {t[key]!r}",
                    path=source,
                )
        if t["start"] < 0:
            return FormatError(f"{where}.start is negative ({t['start']!r})", path=source)
        if t["end"] < t["start"]:
            return FormatError(
                f"{where} ends before it starts (start={t['start']!r}, end={t['end']!r})",
                path=source,
            )
        conf = t.get("confidence")
        if conf is not None and not (
            isinstance(conf, Mapping) and all(_is_number(v) for v in conf.values())
        ):
            return FormatError(
                f"{where}.confidence must map speaker labels to numbers, got {conf!r}",
                path=source,
            )
    return FormatError(f"{field}: malformed turns", path=source)  # pragma: no cover


def parse_turns(items: Any, field: str = "diarization", source: str | None = None) -> Turns:
    """Validate and sort a list of ``{"speaker", "start", "end"[, "confidence"]}`` objects.

    Parameters
    ----------
    items : list of dict
        The JSON array (``diarization``, ``exclusiveDiarization``...).
    field : str
        Its name, used in error messages (``"diarization[12].start must be ..."``).
    source : str | None
        File name for error messages.

    Returns
    -------
    Turns
        Sorted by ``(start, end)``; turns whose duration is 1 microsecond or less are dropped
        (pyannote.core does not store empty segments either).

    Raises
    ------
    FormatError
        ``items`` is not a list, or a turn lacks a field, has a non-numeric, negative or
        non-finite time, ends before it starts, or has a malformed ``confidence``; the message
        names the field and index of the first bad turn.
    """
    if not isinstance(items, list):
        raise FormatError(
            f"{field} must be a list of turns, got {type(items).__name__}", path=source
        )
    try:
        speakers = [t["speaker"] for t in items]
        starts = np.array([t["start"] for t in items], dtype=None)
        ends = np.array([t["end"] for t in items], dtype=None)
    except (KeyError, TypeError, IndexError):
        raise _locate_bad_turn(items, field, source) from None
    n = len(speakers)
    if n == 0:
        return Turns(np.zeros(0), np.zeros(0), [], None)
    if (
        starts.dtype.kind not in "iuf"
        or ends.dtype.kind not in "iuf"
        or starts.shape != (n,)
        or ends.shape != (n,)
    ):
        raise _locate_bad_turn(items, field, source)
    starts = starts.astype(np.float64, copy=False)
    ends = ends.astype(np.float64, copy=False)
    if (
        not (np.isfinite(starts).all() and np.isfinite(ends).all())
        or (starts < 0).any()
        or (ends < starts).any()
        or not all(type(s) is str for s in speakers)
    ):
        raise _locate_bad_turn(items, field, source)

    confidences: list[dict[str, float]] | None = None
    if any("confidence" in t for t in items):
        confidences = [t.get("confidence") or {} for t in items]
        if not all(
            isinstance(c, Mapping) and all(_is_number(v) for v in c.values()) for c in confidences
        ):
            raise _locate_bad_turn(items, field, source)

    keep = (ends - starts) > 1e-6
    # Stable sort by (start, end): equal segments keep input order...
    order = np.lexsort((ends, starts))
    order = order[keep[order]]
    s, e = starts[order], ends[order]
    # ...except that pyannote.audio's loop uses the turn index as track and pyannote.core sorts
    # tracks of one segment by str(track): "10" < "9". Reproduce it for exact equality.
    if len(order) > 1:
        tie = (s[1:] == s[:-1]) & (e[1:] == e[:-1])
        if tie.any():
            order = order.copy()
            k = 0
            m = len(order)
            while k < m - 1:
                if not tie[k]:
                    k += 1
                    continue
                j = k
                while j < m - 1 and tie[j]:
                    j += 1
                order[k : j + 1] = sorted(order[k : j + 1].tolist(), key=str)
                k = j + 1
    idx = order.tolist()
    return Turns(
        start=starts[order],
        end=ends[order],
        speaker=[speakers[i] for i in idx],
        confidence=None if confidences is None else [dict(confidences[i]) for i in idx],
    )


def turns_to_annotation(turns: Turns, uri: str | None = None) -> Annotation:
    """Build a pyannote.core Annotation from sorted turns in one pass (public API only).

    Tracks are named ``"A", "B", ...`` in chronological order, exactly as
    ``annotation.rename_tracks("string")`` names them, so that two turns with the same times
    (e.g. a same-speaker duplicate) survive as distinct tracks.
    """
    from pyannote_notebook.results._build import annotation_from_columns

    return annotation_from_columns(turns.start, turns.end, turns.speaker, uri=uri, presorted=True)


# --------------------------------------------------------------------------- Result


def _load_json(output: Mapping[str, Any] | str | os.PathLike[str]) -> tuple[Any, str | None]:
    """Return (decoded JSON, file name or None)."""
    if isinstance(output, Mapping):
        return output, None
    if isinstance(output, (str, os.PathLike)):
        text_like = isinstance(output, str) and output.lstrip()[:1] in ("{", "[")
        if text_like:
            source, text = "<string>", output
        else:
            path = Path(output)
            source = str(path)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise FormatError(f"cannot read output JSON: {exc.strerror or exc}", path=source)
        try:
            return json.loads(text), (None if source == "<string>" else source)
        except json.JSONDecodeError as exc:
            raise FormatError(f"invalid JSON: {exc.msg} (column {exc.colno})", path=source,
                              line=exc.lineno) from None
    raise InvalidOption(
        "output", f"expected a dict, a JSON string or a path, got {type(output).__name__}"
    )


_OUTPUT_KEYS = frozenset(("diarization", "voiceprint", "identification", "output", "error",
                          "exclusive_diarization", "exclusiveDiarization"))


def _per_file_outputs(data: Any) -> dict[str, Any] | None:
    """``data`` as ``{uri: output}`` when it is such a mapping (no output key at top level and
    every value a dict that looks like an output), else None."""
    if not isinstance(data, Mapping) or not data or _OUTPUT_KEYS & set(data):
        return None
    if all(isinstance(v, Mapping) and _OUTPUT_KEYS & set(v) for v in data.values()):
        return {str(k): v for k, v in data.items()}
    return None


class Result:
    """One finished job's output, converted on demand.

    Parameters
    ----------
    raw : dict
        The ``output`` object of a finished job (``{"diarization": [...], ...}``), a voiceprint
        output (``{"voiceprint": "..."}``), or the full job JSON (``{"jobId", "status",
        "output"}``), whose ``jobId`` is then used when ``job_id`` is not given. pyannote.audio's
        snake_case ``exclusive_diarization`` is accepted as ``exclusiveDiarization``.
    uri : str, optional
        File id of the annotation. Defaults to the stem of ``audio``, then of the JSON file name
        (``from_json(path)``), then ``job_id``.
    job_id : str, optional
        Shown in reprs.
    kind : {"diarize", "identify", "voiceprint"}, optional
        Inferred from the keys when not given (``voiceprint`` -> voiceprint, ``identification`` or
        ``voiceprints`` -> identify, else diarize).
    audio : str or PathLike, optional
        The audio file the job was run on; only its stem is used (for ``uri``).
    source : str, optional
        File the JSON was read from (set by :meth:`from_json`); named in error messages.

    Raises
    ------
    JobFailed, JobCanceled
        A full job JSON whose status is ``failed`` / ``canceled``, or an output with an
        ``error`` and no result.
    InvalidOption
        Bad ``kind``, or a job that has not finished (status created/pending/running).
    FormatError
        The output is not a JSON object, lacks ``diarization`` (diarize/identify) or
        ``voiceprint`` (voiceprint), or holds a malformed turn (message names field and index).
        Turns are validated when the Result is built; nothing is converted before first use.
    """

    def __init__(
        self,
        raw: Mapping[str, Any],
        *,
        uri: str | None = None,
        job_id: str | None = None,
        kind: str | None = None,
        audio: str | os.PathLike[str] | None = None,
        source: str | None = None,
    ) -> None:
        if not isinstance(raw, Mapping):
            raise FormatError(
                f"a job output must be a JSON object, got {type(raw).__name__}", path=source
            )
        if "output" in raw and ("status" in raw or "jobId" in raw):
            job_id = job_id or raw.get("jobId")
            status = raw.get("status")
            output = raw.get("output") or {}
            if status == "failed":
                raise JobFailed(job_id or "<unknown>", (output or {}).get("error"))
            if status == "canceled":
                raise JobCanceled(job_id or "<unknown>", (output or {}).get("error"))
            if status not in (None, "succeeded"):
                raise InvalidOption(
                    "output",
                    f"job {job_id} has status {status!r}: wait for it to finish "
                    "(job.wait()) before building a Result",
                )
            raw = output
            if not isinstance(raw, Mapping):
                raise FormatError("the job's 'output' must be a JSON object", path=source)
        if kind is None:
            if "voiceprint" in raw and "diarization" not in raw:
                kind = "voiceprint"
            elif "identification" in raw or "voiceprints" in raw:
                kind = "identify"
            else:
                kind = "diarize"
        if kind not in _KINDS:
            raise InvalidOption("kind", f"must be one of {', '.join(_KINDS)}, got {kind!r}")
        if kind == "voiceprint":
            if not isinstance(raw.get("voiceprint"), str):
                if raw.get("error"):
                    raise JobFailed(job_id or "<unknown>", raw["error"])
                raise FormatError("voiceprint output has no 'voiceprint' string", path=source)
        elif "diarization" not in raw:
            if raw.get("error"):
                raise JobFailed(job_id or "<unknown>", raw["error"])
            raise FormatError(
                f"{kind} output has no 'diarization' field (keys: {sorted(raw)})", path=source
            )

        self.raw: Mapping[str, Any] = raw
        self.job_id = job_id
        self.kind = kind
        self.audio = None if audio is None else str(audio)
        self.source = source
        if uri is None:
            if audio is not None:
                uri = Path(audio).stem
            elif source is not None:
                uri = Path(source).name.removesuffix(".json")
            else:
                uri = job_id
        self.uri: str | None = uri
        self._cache: dict[str, Any] = {}
        if kind != "voiceprint":
            self._turns = parse_turns(raw["diarization"], "diarization", source)
            exclusive = raw.get("exclusiveDiarization", raw.get("exclusive_diarization"))
            field = "exclusiveDiarization" if "exclusiveDiarization" in raw else "exclusive_diarization"
            self._exclusive_turns = (
                None if exclusive is None else parse_turns(exclusive, field, source)
            )
        else:
            self._turns = Turns(np.zeros(0), np.zeros(0), [], None)
            self._exclusive_turns = None

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_json(
        cls,
        output: Mapping[str, Any] | str | os.PathLike[str],
        *,
        uri: str | None = None,
        job_id: str | None = None,
        kind: str | None = None,
        audio: str | os.PathLike[str] | None = None,
    ) -> Result:
        """Build a Result from an output dict, a JSON string, or a path to a JSON file.

        Also reads what ``pyannote-notebook diarize --json`` writes, ``{uri: output}``, when it
        holds one file (the key becomes the uri); for several files use :meth:`load_many`.

        Raises
        ------
        FormatError
            Unreadable file or invalid JSON (with file and line), or malformed output; a
            ``{uri: output}`` mapping of several files (the message says to use load_many).
        JobFailed, JobCanceled, InvalidOption
            As for :class:`Result`.
        """
        data, source = _load_json(output)
        per_file = _per_file_outputs(data)
        if per_file is not None:
            if len(per_file) != 1:
                raise FormatError(f"holds the outputs of {len(per_file)} files "
                                  f"({', '.join(list(per_file)[:5])}); use Result.load_many",
                                  path=source)
            ((key, data),) = per_file.items()
            uri = uri if uri is not None else key
        return cls(data, uri=uri, job_id=job_id, kind=kind, audio=audio, source=source)

    @classmethod
    def load_many(cls, output: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Result]:
        """``uri -> Result`` from a ``{uri: output}`` JSON (``pyannote-notebook diarize --json``).

        Raises
        ------
        FormatError
            Unreadable or invalid JSON, not a mapping of outputs, or a malformed output.
        """
        data, source = _load_json(output)
        per_file = _per_file_outputs(data)
        if per_file is None:
            raise FormatError("not a {uri: output} mapping of job outputs", path=source)
        return {key: cls(value, uri=key, source=source) for key, value in per_file.items()}

    # ------------------------------------------------------------------ simple fields

    @property
    def warning(self) -> str | None:
        """The service's ``warning`` string, or None."""
        return self.raw.get("warning")

    @property
    def error(self) -> str | None:
        """The service's ``error`` string, or None."""
        return self.raw.get("error")

    @property
    def voiceprint(self) -> str | None:
        """The opaque voiceprint string of a voiceprint job (None for other kinds)."""
        vp = self.raw.get("voiceprint")
        return vp if isinstance(vp, str) else None

    @property
    def speakers(self) -> list[str]:
        """Sorted speaker labels of the (regular) diarization."""
        return sorted(set(self._turns.speaker))

    @property
    def duration(self) -> float:
        """End of the last turn, in seconds (0.0 without turns)."""
        return float(self._turns.end.max()) if len(self._turns) else 0.0

    @property
    def turn_arrays(self) -> Turns:
        """The parsed, sorted turns as column arrays (what statistics and plots sweep over)."""
        return self._turns

    @property
    def n_turns(self) -> int:
        """Number of (non-empty) turns in the regular diarization."""
        return len(self._turns)

    # ------------------------------------------------------------------ annotations

    @property
    def annotation(self) -> Annotation:
        """The regular diarization (overlaps kept) as a pyannote.core Annotation.

        Tracks are named ``"A", "B", ...`` in chronological order (as pyannote.audio's wrapper);
        built once and cached: mutate a ``.copy()``.
        """
        if "annotation" not in self._cache:
            self._cache["annotation"] = turns_to_annotation(self._turns, uri=self.uri)
        return self._cache["annotation"]

    @property
    def exclusive(self) -> Annotation | None:
        """``exclusiveDiarization`` as an Annotation (at most one speaker at a time), or None."""
        if self._exclusive_turns is None:
            return None
        if "exclusive" not in self._cache:
            self._cache["exclusive"] = turns_to_annotation(self._exclusive_turns, uri=self.uri)
        return self._cache["exclusive"]

    # ------------------------------------------------------------------ DataFrames

    def to_dataframe(self, exclusive: bool = False) -> pd.DataFrame:
        """Tidy table of turns, sorted by (start, end), one row per turn.

        Columns: ``uri, speaker, start, end, duration``; when the job was run with
        ``turnLevelConfidence``, also ``confidence`` (the score, 0-100, of the turn's own
        speaker, NaN when absent) and one ``confidence_<LABEL>`` column per label that appears in
        any turn's confidence object (NaN where a turn has no score for that label).

        Parameters
        ----------
        exclusive : bool
            Tabulate ``exclusiveDiarization`` instead.

        Raises
        ------
        InvalidOption
            ``exclusive=True`` but the output has no exclusive diarization.
        """
        import pandas as pd

        turns = self._turns
        if exclusive:
            if self._exclusive_turns is None:
                raise InvalidOption(
                    "exclusive", "this output has no exclusiveDiarization (submit with exclusive=True)"
                )
            turns = self._exclusive_turns
        n = len(turns)
        columns: dict[str, Any] = {
            "uri": pd.Series([self.uri] * n, dtype=object),
            "speaker": np.array(turns.speaker, dtype=object),
            "start": turns.start,
            "end": turns.end,
            "duration": turns.end - turns.start,
        }
        if turns.confidence is not None:
            confs = turns.confidence
            columns["confidence"] = np.array(
                [c.get(s, np.nan) for c, s in zip(confs, turns.speaker)], dtype=np.float64
            )
            labels = sorted({k for c in confs for k in c})
            for label in labels:
                columns[f"confidence_{label}"] = np.array(
                    [c.get(label, np.nan) for c in confs], dtype=np.float64
                )
        return pd.DataFrame(columns)

    @property
    def turns(self) -> pd.DataFrame:
        """Same as :meth:`to_dataframe` (cached)."""
        if "turns" not in self._cache:
            self._cache["turns"] = self.to_dataframe()
        return self._cache["turns"]

    @property
    def confidence(self) -> pd.Series | None:
        """The frame-level confidence curve (0-100) indexed by time in seconds, or None.

        Sample ``i`` covers ``[i * resolution, (i + 1) * resolution)`` and is indexed by its
        start time ``i * resolution``.

        Raises
        ------
        FormatError
            ``confidence`` lacks a numeric ``score`` list or a positive ``resolution``.
        """
        conf = self.raw.get("confidence")
        if conf is None:
            return None
        import pandas as pd

        if not isinstance(conf, Mapping):
            raise FormatError("confidence must be an object with score and resolution",
                              path=self.source)
        score, resolution = conf.get("score"), conf.get("resolution", 0.02)
        if not _is_number(resolution) or resolution <= 0:
            raise FormatError(f"confidence.resolution must be > 0, got {resolution!r}",
                              path=self.source)
        if not isinstance(score, list) or not all(_is_number(v) for v in score):
            raise FormatError("confidence.score must be a list of numbers", path=self.source)
        index = pd.Index(np.arange(len(score)) * float(resolution), name="time")
        return pd.Series(np.asarray(score, dtype=np.float64), index=index, name="confidence")

    def _segments_frame(self, key: str, columns: dict[str, str], *,
                        optional_times: bool = False) -> pd.DataFrame | None:
        """Table of the ``key`` array (``columns``: frame column -> JSON field).

        ``start``/``end`` must be finite numbers on every item; with ``optional_times`` an
        absent or null time becomes NaN (a present non-number is still an error).

        Raises
        ------
        FormatError
            Not a list of objects, or a bad time; the message names ``key[index].field``.
        """
        items = self.raw.get(key)
        if items is None:
            return None
        import pandas as pd

        if not isinstance(items, list) or not all(isinstance(t, Mapping) for t in items):
            raise FormatError(f"{key} must be a list of objects", path=self.source)
        data: dict[str, Any] = {}
        for out, src in columns.items():
            values = [t.get(src) for t in items]
            if out in ("start", "end"):
                for i, v in enumerate(values):
                    if _is_number(v) or (optional_times and v is None):
                        continue
                    if src not in items[i]:
                        raise FormatError(f"{key}[{i}] has no {src!r} field (required)",
                                          path=self.source)
                    raise FormatError(f"{key}[{i}].{src} must be a finite number of seconds, "
                                      f"got {v!r}", path=self.source)
                data[out] = np.array([np.nan if v is None else v for v in values],
                                     dtype=np.float64)
            else:  # object dtype keeps None (e.g. an unmatched ``match``) as None
                data[out] = pd.Series(values, dtype=object)
        df = pd.DataFrame(data)
        confs = [t.get("confidence") for t in items]
        if any(isinstance(c, Mapping) for c in confs):
            labels = sorted({k for c in confs if isinstance(c, Mapping) for k in c})
            for label in labels:
                df[f"confidence_{label}"] = np.array(
                    [c.get(label, np.nan) if isinstance(c, Mapping) else np.nan for c in confs],
                    dtype=np.float64,
                )
        if "start" in df:
            df = df.sort_values(["start", "end"], kind="stable", ignore_index=True)
        return df

    @property
    def words(self) -> pd.DataFrame | None:
        """``wordLevelTranscription`` as columns ``start, end, speaker, text`` (None if absent).

        Raises FormatError when an item lacks a numeric ``start`` / ``end`` (required by the API
        for transcription segments); the message names the item's index.
        """
        return self._segments_frame(
            "wordLevelTranscription",
            {"start": "start", "end": "end", "speaker": "speaker", "text": "text"},
        )

    @property
    def transcript(self) -> pd.DataFrame | None:
        """``turnLevelTranscription`` as columns ``start, end, speaker, text`` (None if absent).

        Raises FormatError as :attr:`words` does.
        """
        return self._segments_frame(
            "turnLevelTranscription",
            {"start": "start", "end": "end", "speaker": "speaker", "text": "text"},
        )

    @property
    def identification(self) -> pd.DataFrame | None:
        """Identify jobs: ``start, end, speaker, diarization_speaker, match`` (+
        ``confidence_<VOICEPRINT>`` columns when given), sorted by time; None otherwise.

        The API marks only ``diarizationSpeaker`` and ``match`` as required on an
        identification item. An item without ``start`` / ``end`` (absent or null) is **kept**,
        with NaN for each missing time, so that its speaker -> match row is not lost; rows
        without a start sort after the timed ones, in output order. Such rows cannot be placed on
        a timeline: ``ident.dropna(subset=["start", "end"])`` keeps the timed ones. Absent
        ``speaker`` / ``match`` are None. A time that is present but not a finite number raises.

        Raises
        ------
        FormatError
            ``identification`` is not a list of objects, or an item's ``start`` / ``end`` is
            present and not a finite number (the message names ``identification[i]``).
        """
        return self._segments_frame(
            "identification",
            {
                "start": "start",
                "end": "end",
                "speaker": "speaker",
                "diarization_speaker": "diarizationSpeaker",
                "match": "match",
            },
            optional_times=True,
        )

    @property
    def voiceprint_matches(self) -> pd.DataFrame | None:
        """Identify jobs: one row per diarization speaker: ``speaker, match`` and one
        ``confidence_<VOICEPRINT>`` column per voiceprint label (0-100); None otherwise."""
        return self._segments_frame("voiceprints", {"speaker": "speaker", "match": "match"})

    # ------------------------------------------------------------------ export

    def to_json(self, path_or_file: str | os.PathLike[str] | IO[str] | None = None,
                *, indent: int | None = None) -> str:
        """The output JSON verbatim (``Result.from_json(r.to_json())`` round-trips).

        Written to ``path_or_file`` too when given. Raises OSError if the file cannot be written.
        """
        text = json.dumps(self.raw, indent=indent, ensure_ascii=False)
        if path_or_file is not None:
            if hasattr(path_or_file, "write"):
                path_or_file.write(text)  # type: ignore[union-attr]
            else:
                Path(path_or_file).write_text(text, encoding="utf-8")
        return text

    def to_rttm(self, path_or_file: str | os.PathLike[str] | IO[str], *,
                exclusive: bool = False) -> None:
        """Write the diarization (or the exclusive one) as RTTM via
        :func:`pyannote_notebook.results.formats.write_rttm`.

        Raises
        ------
        InvalidOption / FormatError
            As ``write_rttm`` (e.g. a uri with whitespace); ``exclusive=True`` without one.
        """
        from pyannote_notebook.results.formats import write_rttm

        ann = self.annotation
        if exclusive:
            ann = self.exclusive
            if ann is None:
                raise InvalidOption("exclusive", "this output has no exclusiveDiarization")
        write_rttm(ann, path_or_file, uri=self.uri)

    # ------------------------------------------------------------------ analysis / display

    def stats(self) -> pd.DataFrame:
        """Per-speaker statistics (:func:`pyannote_notebook.analysis.stats.speaker_stats`)."""
        from pyannote_notebook.analysis.stats import speaker_stats

        return speaker_stats(self)

    def plot(self, ax: Any = None, **kw: Any) -> Any:
        """Timeline plot (:func:`pyannote_notebook.display.plot_timeline`); returns ``Plot``."""
        from pyannote_notebook.display.timeline import plot_timeline

        return plot_timeline(self, ax=ax, **kw)

    def _repr_png_(self) -> bytes | None:
        if self.kind == "voiceprint":
            return None
        from pyannote_notebook.display.html import figure_to_png

        return figure_to_png(self.plot().figure)

    def _summary(self, *, detailed: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.job_id:
            out["job id"] = self.job_id
        if self.uri:
            out["uri"] = self.uri
        if self.kind == "voiceprint":
            out["voiceprint"] = f"{len(self.voiceprint or '')} characters"
        else:
            out["speakers"] = len(self.speakers)
            if detailed and self.n_turns:
                chart = self.annotation.chart()  # [(label, talk time)], most talkative first
                shown = ", ".join(f"{label} {seconds:.1f} s" for label, seconds in chart[:8])
                more = f", +{len(chart) - 8} more" if len(chart) > 8 else ""
                out["speakers"] = f"{len(chart)}: {shown}{more}"
            out["turns"] = self.n_turns
            out["duration"] = f"{self.duration:.1f} s"
            if self._exclusive_turns is not None:
                out["exclusive"] = "yes"
        if self.warning:
            out["warning"] = self.warning
        return out

    def _repr_html_(self) -> str:
        from pyannote_notebook.display.html import result_html

        png = self._repr_png_() if self.n_turns else None
        return result_html(self._summary(detailed=True), png)

    def __repr__(self) -> str:
        fields = " ".join(f"{k.replace(' ', '_')}={v!r}" for k, v in self._summary().items())
        return f"<Result {fields}>"

    def __len__(self) -> int:
        return self.n_turns


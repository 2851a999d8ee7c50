"""RTTM and UEM files, and DataFrame <-> Annotation conversion.

Two levels:

* low level, on plain Python data (no numpy, pandas or pyannote.core at import time, because the
  ``pyannote-notebook evaluate`` command reads its inputs through here and must start fast):
  :func:`parse_rttm` -> :class:`RTTMData`, :func:`parse_uem` -> :class:`UEMData`;
* Annotation level (numpy, pyannote.core, pandas imported inside the functions):
  :func:`read_rttm`, :func:`write_rttm`, :func:`read_uem`, :func:`write_uem`,
  :func:`annotation_to_dataframe`, :func:`dataframe_to_annotations`.

The parsers are hand-written rather than delegated to ``pyannote.database``'s loader (which goes
through pandas) because they must report the file *and line* of every malformed record, offer a
``strict=False`` mode that skips and reports bad lines, and stay importable without pandas.

RTTM rules (NIST RT-09 appendix A, as md-eval and dscore read it):

* a record has 10 space-separated fields ``TYPE FILE CHNL TBEG TDUR ORTHO STYPE NAME CONF SLAT``;
  9 fields (no ``SLAT``) are accepted too;
* only ``SPEAKER`` records are kept; the other known types (``SPKR-INFO``, ``LEXEME``,
  ``NOSCORE``, ``SEGMENT``, ...) are skipped; an unknown type is an error;
* blank lines and lines starting with ``;`` (``;;`` comments) or ``#`` are skipped;
* onset must be a finite number >= 0, duration a finite number > 0.

File ids (uris): RTTM and UEM fields are separated by whitespace, so a uri containing whitespace
cannot be written and is rejected. Dots are **accepted**: md-eval strips what follows a dot in UEM
file ids (and dscore crashes on them), but pyannote-notebook scores with its own implementation,
which keeps uris verbatim. Keep dots out of uris if the files must also go through md-eval.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, NamedTuple, Union

from pyannote_notebook.errors import FormatError, InvalidOption

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyannote.core import Annotation, Timeline

__all__ = [
    "RTTMTurn",
    "RTTMData",
    "UEMData",
    "RTTM_TYPES",
    "parse_rttm",
    "parse_uem",
    "read_rttm",
    "write_rttm",
    "read_uem",
    "write_uem",
    "annotation_to_dataframe",
    "dataframe_to_annotations",
    "check_uri",
    "format_rttm_line",
    "MalformedLinesWarning",
]

PathOrFile = Union[str, os.PathLike, IO[str], IO[bytes]]

#: RTTM record types of the NIST RT-09 specification (md-eval-22's list).
RTTM_TYPES: frozenset[str] = frozenset(
    {
        "SEGMENT", "NOSCORE", "NO_RT_METADATA", "LEXEME", "NON-LEX", "NON-SPEECH", "FILLER",
        "EDIT", "IP", "SU", "CB", "A/P", "SPEAKER", "SPKR-INFO",
    }
)


class RTTMTurn(NamedTuple):
    """One ``SPEAKER`` record: file id, onset and duration (seconds), speaker, 1-based line."""

    uri: str
    start: float
    duration: float
    speaker: str
    line: int

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass
class RTTMData:
    """The ``SPEAKER`` records of one or more RTTM files, as plain Python data.

    Attributes
    ----------
    turns : list[RTTMTurn]
        Records in file order.
    path : str
        Where they came from (``"<string>"`` for an anonymous stream).
    skipped : list[FormatError]
        Malformed lines skipped in ``strict=False`` mode (empty in strict mode).
    """

    turns: list[RTTMTurn] = field(default_factory=list)
    path: str = "<string>"
    skipped: list[FormatError] = field(default_factory=list)

    @property
    def rows(self) -> list[RTTMTurn]:
        """Alias of :attr:`turns`."""
        return self.turns

    def __len__(self) -> int:
        return len(self.turns)

    def __iter__(self) -> Iterator[RTTMTurn]:
        return iter(self.turns)

    def uris(self) -> list[str]:
        """File ids in order of first appearance."""
        return list(dict.fromkeys(t.uri for t in self.turns))

    def by_uri(self) -> dict[str, tuple[list[float], list[float], list[str]]]:
        """Group turns per file: ``uri -> (starts, ends, speakers)`` in file order."""
        out: dict[str, tuple[list[float], list[float], list[str]]] = {}
        for t in self.turns:
            group = out.get(t.uri)
            if group is None:
                group = out[t.uri] = ([], [], [])
            group[0].append(t.start)
            group[1].append(t.start + t.duration)
            group[2].append(t.speaker)
        return out


class UEMData(dict):
    """``uri -> [(start, end), ...]`` as read from a UEM file; ``.skipped`` lists bad lines
    skipped in ``strict=False`` mode, ``.path`` names the file."""

    def __init__(self, *args: Any, path: str = "<string>", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.path = path
        self.skipped: list[FormatError] = []


# --------------------------------------------------------------------------- helpers


def _name_of(path_or_file: Any) -> str:
    if isinstance(path_or_file, (str, os.PathLike)):
        return os.fspath(path_or_file)
    return str(getattr(path_or_file, "name", "<string>"))


def _lines(path_or_file: PathOrFile) -> Iterator[str]:
    """Yield the text lines of a path or an open (text or binary) file.

    Raises
    ------
    FileNotFoundError
        The path does not exist (message names it).
    FormatError
        The file is not UTF-8 text.
    """
    name = _name_of(path_or_file)
    if isinstance(path_or_file, (str, os.PathLike)):
        try:
            with open(path_or_file, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"{name}: no such file") from None
    else:
        data = path_or_file.read()
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                              path=name) from None
    yield from data.splitlines()


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def check_uri(uri: Any, what: str = "uri") -> str:
    """Return ``uri`` as a string if RTTM/UEM can carry it.

    Raises
    ------
    InvalidOption
        ``uri`` is None, empty or contains whitespace (the field separator of RTTM and UEM).
    """
    if uri is None:
        raise InvalidOption(what, "missing: the annotation has no uri; pass uri=... or set "
                                  "annotation.uri")
    text = str(uri)
    if not text or any(ch.isspace() for ch in text):
        raise InvalidOption(what, f"{text!r} cannot be written to RTTM/UEM: it is empty or "
                                  "contains whitespace (the field separator); rename it")
    return text


# --------------------------------------------------------------------------- low level


def _records(path_or_file: PathOrFile) -> Iterator[tuple[int, list[str]]]:
    """``(1-based line number, whitespace-split fields)`` of every non-blank, non-comment line
    (comments start with ``;`` or ``#``)."""
    for line_no, line in enumerate(_lines(path_or_file), start=1):
        stripped = line.strip()
        if stripped and stripped[0] not in ";#":
            yield line_no, stripped.split()


def _reject(message: str, path: str | None, line_no: int, strict: bool,
            skipped: list[FormatError]) -> None:
    """Raise the line's :class:`FormatError` (strict) or record it in ``skipped``."""
    error = FormatError(message, path=path, line=line_no)
    if strict:
        raise error
    skipped.append(error)


def _parse_rttm_line(fields: list[str]) -> tuple[str, float, float, str] | str:
    """Return ``(uri, start, duration, speaker)`` or an error message."""
    if len(fields) not in (9, 10):
        return (f"SPEAKER record has {len(fields)} fields; expected 10 "
                "(TYPE FILE CHNL TBEG TDUR ORTHO STYPE NAME CONF SLAT) or 9 without SLAT")
    start = _number(fields[3])
    if start is None:
        return f"onset {fields[3]!r} is not a finite number"
    if start < 0:
        return f"onset {fields[3]} is negative"
    duration = _number(fields[4])
    if duration is None:
        return f"duration {fields[4]!r} is not a finite number"
    if duration <= 0:
        return f"duration {fields[4]} is not > 0"
    return fields[1], start, duration, fields[7]


def parse_rttm(path_or_file: PathOrFile, *, strict: bool = True) -> RTTMData:
    """Read the ``SPEAKER`` records of an RTTM file without pandas or pyannote.core.

    Parameters
    ----------
    path_or_file : str, PathLike or open file (text or binary)
    strict : bool
        True (default): the first malformed line raises. False: malformed lines are skipped
        and reported in ``RTTMData.skipped`` (one :class:`FormatError` each, with its line).

    Returns
    -------
    RTTMData

    Raises
    ------
    FormatError
        (strict mode) wrong field count, non-numeric / negative onset, non-numeric or
        non-positive duration, unknown record type; the message gives ``path:line``.
    FileNotFoundError
        The path does not exist.
    """
    name = _name_of(path_or_file)
    data = RTTMData(path=name)
    for line_no, fields in _records(path_or_file):
        kind = fields[0].upper()
        if kind != "SPEAKER":
            if kind in RTTM_TYPES:
                continue
            result: Any = (f"unknown RTTM record type {fields[0]!r} (expected SPEAKER or one of "
                           f"{', '.join(sorted(RTTM_TYPES - {'SPEAKER'}))})")
        else:
            result = _parse_rttm_line(fields)
        if isinstance(result, str):
            _reject(result, name, line_no, strict, data.skipped)
            continue
        uri, start, duration, speaker = result
        data.turns.append(RTTMTurn(uri, start, duration, speaker, line_no))
    return data


def parse_uem(path_or_file: PathOrFile, strict: bool = True) -> UEMData:
    """Read a UEM file: ``uri channel start end`` per line, ``;`` comments.

    Parameters
    ----------
    path_or_file : str, PathLike or open file
    strict : bool
        False: skip malformed lines and list them in ``UEMData.skipped``.

    Returns
    -------
    UEMData
        ``uri -> [(start, end), ...]`` in file order (not merged).

    Raises
    ------
    FormatError
        (strict mode) not 4 fields, non-numeric / negative times, start >= end; ``path:line``.
    FileNotFoundError
        The path does not exist.
    """
    name = _name_of(path_or_file)
    out = UEMData(path=name)
    for line_no, fields in _records(path_or_file):
        message = None
        if len(fields) != 4:
            message = f"UEM record has {len(fields)} fields; expected 4 (uri channel start end)"
        else:
            start, end = _number(fields[2]), _number(fields[3])
            if start is None:
                message = f"start {fields[2]!r} is not a finite number"
            elif end is None:
                message = f"end {fields[3]!r} is not a finite number"
            elif start < 0:
                message = f"start {fields[2]} is negative"
            elif not end > start:
                message = f"end {fields[3]} is not after start {fields[2]}"
        if message is not None:
            _reject(message, name, line_no, strict, out.skipped)
            continue
        out.setdefault(fields[0], []).append((start, end))  # type: ignore[arg-type]
    return out


def format_rttm_line(uri: str, start: float, duration: float, speaker: str) -> str:
    """``SPEAKER {uri} 1 {start:.3f} {duration:.3f} <NA> <NA> {speaker} <NA> <NA>``."""
    return f"SPEAKER {uri} 1 {start:.3f} {duration:.3f} <NA> <NA> {speaker} <NA> <NA>"


# --------------------------------------------------------------------------- Annotation level


class MalformedLinesWarning(UserWarning):
    """Lines skipped by a reader in ``strict=False`` mode (the message lists them)."""


def _warn_skipped(skipped: list[FormatError], *, show: int = 5) -> None:
    if not skipped:
        return
    listed = "; ".join(str(e) for e in skipped[:show])
    more = f"; and {len(skipped) - show} more" if len(skipped) > show else ""
    warnings.warn(f"skipped {len(skipped)} malformed line(s): {listed}{more}",
                  MalformedLinesWarning, stacklevel=3)


def read_rttm(path: PathOrFile, *, strict: bool = True) -> dict[str, Annotation]:
    """Read an RTTM file into one :class:`pyannote.core.Annotation` per file id.

    Every line becomes its own track (track name = line number), so overlapping turns of the
    same speaker, and identical segments, are kept as they are in the file. With
    ``strict=False`` malformed lines are skipped and reported in one
    :class:`MalformedLinesWarning` (each line's ``path:line`` and reason); :func:`parse_rttm`
    returns them as data.

    The Annotations are built in one pass (sorted with numpy, then
    ``Annotation.from_records``), equal track for track to assigning
    ``annotation[Segment(start, end), line] = speaker`` line by line.

    Raises
    ------
    FormatError, FileNotFoundError
        As :func:`parse_rttm`.
    """
    from pyannote_notebook.results._build import gc_paused

    # a 100k-line file allocates several hundred thousand acyclic containers (split lines,
    # turns, Segments, track dicts): cyclic-GC passes would only rescan them (see gc_paused)
    with gc_paused():
        data = parse_rttm(path, strict=strict)
        annotations = _rttm_annotations(data)
    _warn_skipped(data.skipped)
    return annotations


def _rttm_annotations(data: RTTMData) -> dict[str, Annotation]:
    """``uri -> Annotation`` of parsed turns (track = line number), in one pass per uri."""
    import numpy as np

    from pyannote_notebook.results._build import annotation_from_columns, group_rows

    if not data.turns:
        return {}
    uris, starts, durations, speakers, lines = zip(*data.turns)
    # round away float noise of start + duration (3.045 + 3.076 -> 6.121, not 6.1209999...)
    ends = [round(s + d, 9) for s, d in zip(starts, durations)]
    start_arr = np.array(starts, dtype=np.float64)
    end_arr = np.array(ends, dtype=np.float64)
    return {
        uri: annotation_from_columns(start_arr, end_arr, speakers, lines, uri=uri, rows=rows)
        for uri, rows in group_rows(uris).items()
    }


def _open_for_write(path_or_file: PathOrFile) -> tuple[IO[str], bool]:
    if isinstance(path_or_file, (str, os.PathLike)):
        return open(path_or_file, "w", encoding="utf-8"), True
    if isinstance(path_or_file, (io.RawIOBase, io.BufferedIOBase)):
        return io.TextIOWrapper(path_or_file, encoding="utf-8", write_through=True), False
    return path_or_file, False  # type: ignore[return-value]


def _annotations_of(annotations: Any, uri: str | None) -> list[tuple[str, Any]]:
    from pyannote.core import Annotation

    if isinstance(annotations, Annotation):
        return [(check_uri(uri if uri is not None else annotations.uri), annotations)]
    if hasattr(annotations, "annotation") and not isinstance(annotations, Mapping):
        ann = annotations.annotation
        return [(check_uri(uri if uri is not None else ann.uri), ann)]
    if isinstance(annotations, Mapping):
        return [(check_uri(key), getattr(value, "annotation", value))
                for key, value in annotations.items()]
    if isinstance(annotations, Iterable):
        pairs = []
        for item in annotations:
            ann = getattr(item, "annotation", item)
            pairs.append((check_uri(ann.uri), ann))
        return pairs
    raise InvalidOption("annotations", f"expected an Annotation, a mapping uri -> Annotation or "
                                       f"an iterable of Annotations, got {type(annotations).__name__}")


def write_rttm(
    annotations: Annotation | Mapping[str, Annotation] | Iterable[Annotation],
    path_or_file: PathOrFile,
    *,
    uri: str | None = None,
) -> None:
    """Write annotations as RTTM ``SPEAKER`` lines (times with millisecond precision).

    Parameters
    ----------
    annotations : Annotation, Result, mapping uri -> Annotation, or iterable of Annotations
        For a mapping, the key is the file id written (it overrides ``Annotation.uri``).
    path_or_file : path or open file
    uri : str, optional
        File id for a single Annotation (default: its ``uri``).

    Raises
    ------
    InvalidOption
        A uri is missing or contains whitespace, or a label contains whitespace; nothing is
        written in that case.
    """
    lines: list[str] = []
    for file_id, annotation in _annotations_of(annotations, uri):
        for segment, _track, label in annotation.itertracks(yield_label=True):
            speaker = check_uri(label, what=f"speaker label in {file_id}")
            lines.append(format_rttm_line(file_id, segment.start, segment.duration, speaker))
    handle, owned = _open_for_write(path_or_file)
    try:
        handle.write("".join(line + "\n" for line in lines))
        handle.flush()
    finally:
        if owned:
            handle.close()
        elif isinstance(handle, io.TextIOWrapper) and handle is not path_or_file:
            handle.detach()


def read_uem(path: PathOrFile, *, strict: bool = True) -> dict[str, Timeline]:
    """Read a UEM file into ``uri -> Timeline`` (overlapping regions are merged).

    With ``strict=False`` malformed lines are skipped and reported in one
    :class:`MalformedLinesWarning`.

    Raises
    ------
    FormatError, FileNotFoundError
        As :func:`parse_uem`.
    """
    from pyannote.core import Segment, Timeline

    data = parse_uem(path, strict=strict)
    _warn_skipped(data.skipped)
    return {
        uri: Timeline([Segment(s, e) for s, e in regions], uri=uri).support()
        for uri, regions in data.items()
    }


def write_uem(timelines: Mapping[str, Any] | Timeline, path_or_file: PathOrFile) -> None:
    """Write ``uri -> Timeline`` (or ``uri -> [(start, end)]``, or one Timeline with a uri) as
    UEM lines ``uri 1 start end`` (millisecond precision).

    Raises
    ------
    InvalidOption
        A uri is missing or contains whitespace.
    """
    if not isinstance(timelines, Mapping):
        timelines = {check_uri(getattr(timelines, "uri", None)): timelines}
    lines = []
    for uri, regions in timelines.items():
        uri = check_uri(uri)
        for region in regions:
            start, end = (region.start, region.end) if hasattr(region, "start") else region
            lines.append(f"{uri} 1 {start:.3f} {end:.3f}")
    handle, owned = _open_for_write(path_or_file)
    try:
        handle.write("".join(line + "\n" for line in lines))
        handle.flush()
    finally:
        if owned:
            handle.close()
        elif isinstance(handle, io.TextIOWrapper) and handle is not path_or_file:
            handle.detach()


def annotation_to_dataframe(annotation: Annotation, uri: str | None = None) -> pd.DataFrame:
    """Tidy table of an Annotation: columns ``uri, speaker, start, end, duration``.

    Rows are sorted by start, end, then speaker; ``uri`` defaults to ``annotation.uri``.
    """
    import pandas as pd

    rows = [(segment.start, segment.end, str(label))
            for segment, _track, label in annotation.itertracks(yield_label=True)]
    frame = pd.DataFrame(rows, columns=["start", "end", "speaker"])
    frame["start"] = frame["start"].astype(float)
    frame["end"] = frame["end"].astype(float)
    frame["duration"] = frame["end"] - frame["start"]
    frame.insert(0, "uri", uri if uri is not None else annotation.uri)
    frame = frame[["uri", "speaker", "start", "end", "duration"]]
    return frame.sort_values(["start", "end", "speaker"], kind="stable").reset_index(drop=True)


def dataframe_to_annotations(df: pd.DataFrame) -> dict[str | None, Annotation]:
    """Build ``uri -> Annotation`` from a table with columns ``speaker, start`` and ``end`` or
    ``duration`` (and optionally ``uri``; without it the single key is ``None``).

    Every row becomes its own track (track name = row position 0, 1, ...). The Annotations are
    built in one pass, equal track for track to assigning
    ``annotation[Segment(start, end), position] = speaker`` row by row.

    Raises
    ------
    InvalidOption
        A required column is missing, or a row has a non-positive duration (the message gives
        the index of the first such row).
    """
    import numpy as np

    from pyannote_notebook.results._build import annotation_from_columns, group_rows

    columns = set(df.columns)
    missing = {"speaker", "start"} - columns
    if missing or not ({"end", "duration"} & columns):
        need = sorted(missing | ({"end or duration"} if not ({"end", "duration"} & columns)
                                 else set()))
        raise InvalidOption("df", f"missing column(s) {', '.join(need)}; have "
                                  f"{', '.join(map(str, df.columns))}")
    starts = df["start"].astype(float).to_numpy()
    ends = (df["end"].astype(float).to_numpy() if "end" in columns
            else starts + df["duration"].astype(float).to_numpy())
    bad = np.flatnonzero(~(ends > starts))  # NaN times are bad too
    if len(bad):
        position = int(bad[0])
        index = next(iter(df.index[position:position + 1]))
        start, end = float(starts[position]), float(ends[position])
        raise InvalidOption("df", f"row {index!r}: end {end} is not after start {start}")
    uris = df["uri"].tolist() if "uri" in columns else [None] * len(df)
    speakers = df["speaker"].tolist()
    positions = range(len(df))
    return {
        uri: annotation_from_columns(starts, ends, speakers, positions, uri=uri, rows=rows)
        for uri, rows in group_rows(uris).items()
    }

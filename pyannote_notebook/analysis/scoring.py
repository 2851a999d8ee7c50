"""Diarization scoring that reproduces NIST md-eval-22 (as run by dscore), or pyannote.metrics.

:func:`evaluate` returns a :class:`Report` (per-file table, corpus total, speaker mapping).
:func:`optimal_mapping` and :func:`error_regions` serve the comparison plot.

.. warning:: **collar is per side.** ``collar=0.25`` removes ``[b - 0.25, b + 0.25]`` around
   every reference boundary ``b``, exactly like ``md-eval -c 0.25`` / ``dscore --collar 0.25``.
   pyannote.metrics' ``collar`` is the *total* width: ``DiarizationErrorRate(collar=0.5)`` is our
   ``collar=0.25``. With ``convention="pyannote"`` the argument stays per side and is doubled
   internally.

Conventions (NIST md-eval-22 as run by dscore; README "Evaluation conventions"):

* ``"md-eval"`` (default): the UEM is given or, per file, ``[min onset, max offset]`` of both
  sides; turns are cut to the UEM (a cut reference turn gets a boundary, hence a collar, at the
  UEM edge); strictly overlapping same-speaker turns are merged; onsets and durations are
  rounded to the millisecond; the one-to-one speaker mapping maximises overlap over the UEM
  *before* collars and overlap removal; corpus totals sum files with reference speech only; a
  file without reference speech has empty components and DER 100 (system speech) or 0.
* ``"pyannote"``: pyannote.metrics 4.2.0 ``DiarizationErrorRate(collar=2 * collar,
  skip_overlap=...)``: same-speaker overlapping turns count twice, mapping after collar/overlap
  removal, no collars at UEM edges, every file in the total, no rounding.

JER is dscore's in both conventions: 10 ms frames over the UEM, no collar, no overlap removal.

Only numpy is imported at module level (pandas and pyannote.core inside the functions that need
them), so the command line can use this module cheaply.
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pyannote_notebook.analysis._sweep import (
    CorpusScore,
    FileTurns,
    merge_regions,
    score_corpus,
    score_file,
)
from pyannote_notebook.errors import InvalidOption

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyannote.core import Annotation

__all__ = [
    "COLUMNS",
    "CONVENTIONS",
    "Report",
    "evaluate",
    "optimal_mapping",
    "error_regions",
    "to_file_turns",
    "to_regions",
    "UnmatchedFilesWarning",
]

#: Columns of :attr:`Report.per_file` and of the CSV output, in order.
COLUMNS = ("uri", "scored", "missed", "false_alarm", "confusion", "der", "jer")
CONVENTIONS = ("md-eval", "pyannote")

_SINGLE = "\x00single"  # key of a lone Annotation before its uri is known


# --------------------------------------------------------------------------- inputs


def _annotation_turns(annotation: Any) -> FileTurns:
    starts, ends, labels = [], [], []
    for segment, _track, label in annotation.itertracks(yield_label=True):
        starts.append(segment.start)
        ends.append(segment.end)
        labels.append(label)
    return FileTurns.from_lists(starts, ends, labels)


def _is_annotation(obj: Any) -> bool:
    return hasattr(obj, "itertracks") and hasattr(obj, "get_timeline")


def to_file_turns(obj: Any, what: str = "reference") -> dict[str, FileTurns]:
    """Normalise one side of an evaluation to ``uri -> FileTurns``.

    Accepts an Annotation, a Result (anything with ``.annotation``), a mapping uri ->
    Annotation/Result, an RTTM path (str / PathLike) or :class:`~pyannote_notebook.results.
    formats.RTTMData`. A lone Annotation/Result is stored under a private key and matched with
    the other side regardless of uri.

    Raises
    ------
    InvalidOption
        Unsupported type (names the argument).
    FormatError, FileNotFoundError
        Malformed or missing RTTM file.
    """
    from pyannote_notebook.results.formats import RTTMData, parse_rttm

    if isinstance(obj, (str, os.PathLike)):
        obj = parse_rttm(obj)
    if hasattr(obj, "results") and hasattr(obj, "failed") and not isinstance(obj, Mapping):
        obj = _batch_results(obj, what)  # a jobs.Batch from diarize_many
    if isinstance(obj, (list, tuple)):
        obj = _by_uri(obj, what)
    if isinstance(obj, RTTMData):
        return {uri: FileTurns.from_lists(*group) for uri, group in obj.by_uri().items()}
    if not _is_annotation(obj) and hasattr(obj, "annotation") and not isinstance(obj, Mapping):
        obj = obj.annotation
    if _is_annotation(obj):
        return {_SINGLE: _annotation_turns(obj)}
    if isinstance(obj, Mapping):
        out = {}
        for uri, value in obj.items():
            value = getattr(value, "annotation", value) if not _is_annotation(value) else value
            if not _is_annotation(value):
                raise InvalidOption(what, f"value for uri {uri!r} is a {type(value).__name__}, "
                                          "expected an Annotation or a Result")
            out[str(uri)] = _annotation_turns(value)
        return out
    raise InvalidOption(what, f"expected an Annotation, a Result, a mapping uri -> Annotation, "
                              f"an RTTM path or RTTMData; got {type(obj).__name__}")


def _batch_results(batch: Any, what: str) -> list[Any]:
    failed = list(batch.failed)
    if failed:
        raise InvalidOption(what, f"the batch has {len(failed)} failed item(s) (positions "
                                  f"{failed[:10]}); score the others with "
                                  "{r.uri: r for r in batch.results if not isinstance(r, "
                                  "Exception)}")
    return list(batch.results)


def _by_uri(items: list[Any] | tuple[Any, ...], what: str) -> dict[str, Any]:
    """A sequence of Results / Annotations -> ``uri -> item`` (uris must be set and distinct)."""
    out: dict[str, Any] = {}
    for position, item in enumerate(items):
        uri = _uri_of(item)
        if not uri:
            raise InvalidOption(what, f"item {position} ({type(item).__name__}) has no uri; "
                                      "pass a mapping uri -> Annotation/Result instead")
        if uri in out:
            raise InvalidOption(what, f"uri {uri!r} appears twice (items {list(out).index(uri)} "
                                      f"and {position}); pass a mapping to choose")
        out[uri] = item
    return out


class UnmatchedFilesWarning(UserWarning):
    """Some files are on one side of an evaluation only (often a uri typo)."""


def _uri_of(obj: Any) -> str | None:
    obj = getattr(obj, "annotation", obj) if not _is_annotation(obj) else obj
    uri = getattr(obj, "uri", None)
    return str(uri) if uri is not None else None


def to_regions(uem: Any) -> np.ndarray:
    """Regions of one file: a Timeline, a Segment-like iterable or ``[(start, end), ...]`` ->
    sorted merged ``(k, 2)`` array.

    Raises
    ------
    InvalidOption
        A region is not a (start, end) pair with end > start >= 0.
    """
    pairs = []
    for region in uem:
        if hasattr(region, "start") and hasattr(region, "end"):
            start, end = region.start, region.end
        else:
            try:
                start, end = region
            except (TypeError, ValueError):
                raise InvalidOption("uem", f"region {region!r} is not a (start, end) pair") \
                    from None
        start, end = float(start), float(end)
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
            raise InvalidOption("uem", f"region ({start}, {end}) must have 0 <= start < end")
        pairs.append((start, end))
    return merge_regions(pairs)


def _uem_mapping(uem: Any, single_uri: str | None) -> dict[str, np.ndarray] | None:
    from pyannote_notebook.results.formats import parse_uem

    if uem is None:
        return None
    if isinstance(uem, (str, os.PathLike)):
        uem = parse_uem(uem)
    if isinstance(uem, Mapping):
        return {str(uri): to_regions(regions) for uri, regions in uem.items()}
    if single_uri is None:
        raise InvalidOption("uem", "a single Timeline / list of regions applies to one file only; "
                                   "pass a mapping uri -> Timeline for several files")
    return {single_uri: to_regions(uem)}


def _resolve(reference: Any, hypothesis: Any, uem: Any
             ) -> tuple[dict[str, FileTurns], dict[str, FileTurns], dict[str, np.ndarray] | None]:
    ref = to_file_turns(reference, "reference")
    hyp = to_file_turns(hypothesis, "hypothesis")
    single_ref, single_hyp = _SINGLE in ref, _SINGLE in hyp
    if single_ref and single_hyp:
        uri = _uri_of(reference) or _uri_of(hypothesis) or "file"
        ref, hyp = {uri: ref[_SINGLE]}, {uri: hyp[_SINGLE]}
    elif single_ref or single_hyp:
        other = hyp if single_ref else ref
        if len(other) != 1:
            raise InvalidOption("reference" if single_ref else "hypothesis",
                                "a single Annotation can only be scored against a single file; "
                                f"the other side has {len(other)} files")
        uri = next(iter(other))
        if single_ref:
            ref = {uri: ref[_SINGLE]}
        else:
            hyp = {uri: hyp[_SINGLE]}
    uris = set(ref) | set(hyp)
    single_uri = next(iter(uris)) if len(uris) == 1 else None
    regions = _uem_mapping(uem, single_uri)
    scored = set(regions) if regions is not None else uris
    only_ref = sorted((set(ref) - set(hyp)) & scored)
    only_hyp = sorted((set(hyp) - set(ref)) & scored)
    if only_ref or only_hyp:
        parts = []
        if only_ref:
            parts.append(f"{len(only_ref)} file(s) only in the reference (scored as all missed): "
                         + ", ".join(only_ref[:5]) + (" ..." if len(only_ref) > 5 else ""))
        if only_hyp:
            parts.append(f"{len(only_hyp)} file(s) only in the hypothesis (false alarm, no "
                         "reference speech): " + ", ".join(only_hyp[:5])
                         + (" ..." if len(only_hyp) > 5 else ""))
        warnings.warn("; ".join(parts) + ". Check the file ids (uris) of both sides.",
                      UnmatchedFilesWarning, stacklevel=3)
    return ref, hyp, regions


def _check_options(collar: float, convention: str) -> float:
    try:
        collar = float(collar)
    except (TypeError, ValueError):
        raise InvalidOption("collar", f"must be a number of seconds, got {collar!r}") from None
    if not (math.isfinite(collar) and collar >= 0):
        raise InvalidOption("collar", f"must be >= 0 seconds (per side), got {collar}")
    if convention not in CONVENTIONS:
        raise InvalidOption("convention", f"must be one of {', '.join(CONVENTIONS)}, "
                                          f"got {convention!r}")
    return collar


# --------------------------------------------------------------------------- report


def _format_number(value: float) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.6f}"


def _round_times(row: dict[str, Any]) -> dict[str, Any]:
    """Round the seconds columns to 1e-9 s: sums of millisecond durations carry float noise
    (``2.2e-16`` missed, ``24.349999999999998`` scored) that says nothing."""
    return {k: (round(v, 9) if k in _TIME_COLUMNS and isinstance(v, float) and math.isfinite(v)
                else v) for k, v in row.items()}


_TIME_COLUMNS = frozenset(("scored", "missed", "false_alarm", "confusion"))


class Report:
    """Result of :func:`evaluate`.

    Attributes
    ----------
    total : dict
        The corpus row (``uri == "ALL"``): scored, missed, false_alarm, confusion (seconds),
        der and jer (percent).
    mapping : dict[str, dict[str, str]]
        Per file, hypothesis label -> reference label.
    reference, hypothesis, uem
        The inputs as given (kept for :meth:`plot`).
    collar, skip_overlap, convention
        The options used (collar per side, seconds).
    ignored : list[str]
        Files with turns but absent from the given UEM (not scored).
    """

    def __init__(self, corpus: CorpusScore, *, reference: Any, hypothesis: Any, uem: Any,
                 collar: float, skip_overlap: bool, convention: str) -> None:
        self._corpus = corpus
        self.rows: list[dict[str, Any]] = [_round_times(row) for row in corpus.rows()]
        self.total: dict[str, Any] = _round_times(corpus.total.as_row())
        self.mapping: dict[str, dict[str, str]] = corpus.mapping
        self.ignored: list[str] = list(corpus.ignored)
        self.reference, self.hypothesis, self.uem = reference, hypothesis, uem
        self.collar, self.skip_overlap, self.convention = collar, skip_overlap, convention

    @property
    def per_file(self) -> pd.DataFrame:
        """One row per file plus a last row ``ALL``; columns :data:`COLUMNS`."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    def to_dataframe(self) -> pd.DataFrame:
        """Same as :attr:`per_file` (a new DataFrame each call)."""
        return self.per_file

    @property
    def der(self) -> float:
        """Corpus DER in percent."""
        return float(self.total["der"])

    @property
    def jer(self) -> float:
        """Corpus JER in percent (NaN when computed with ``jer=False``)."""
        return float(self.total["jer"])

    def to_csv(self, path_or_buf: Any = None) -> str | None:
        """Write ``uri,scored,missed,false_alarm,confusion,der,jer`` (6 decimals; empty cells
        for components md-eval does not report). Returns the text when ``path_or_buf`` is None.
        """
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in self.rows:
            writer.writerow([row["uri"]] + [_format_number(row[c]) for c in COLUMNS[1:]])
        text = buffer.getvalue()
        if path_or_buf is None:
            return text
        if isinstance(path_or_buf, (str, os.PathLike)):
            with open(path_or_buf, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        else:
            path_or_buf.write(text)
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: options, per-file rows, total, mapping (NaN -> None)."""
        def clean(row: dict[str, Any]) -> dict[str, Any]:
            return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in row.items()}

        return {
            "convention": self.convention,
            "collar_per_side": self.collar,
            "skip_overlap": self.skip_overlap,
            "files": [clean(r) for r in self.rows[:-1]],
            "total": clean(self.total),
            "mapping": self.mapping,
            "ignored": self.ignored,
        }

    def __repr__(self) -> str:
        return (f"<Report {self.convention} collar={self.collar:g}s/side "
                f"skip_overlap={self.skip_overlap} files={len(self.rows) - 1} "
                f"DER={self.total['der']:.2f}% JER={self.total['jer']:.2f}%>")

    def _repr_html_(self) -> str:
        caption = (f"DER / JER ({self.convention}, collar {self.collar:g} s per side"
                   f"{', overlap skipped' if self.skip_overlap else ''})")
        frame = self.per_file
        return frame.style.format(precision=3, na_rep="").set_caption(caption).hide(
            axis="index").to_html()

    def _annotation_for(self, side: Any, uri: str) -> Any:
        from pyannote.core import Annotation, Segment

        if _is_annotation(side) or (hasattr(side, "annotation") and not isinstance(side, Mapping)):
            return getattr(side, "annotation", side) if not _is_annotation(side) else side
        if isinstance(side, Mapping):
            value = side.get(uri)
            if value is None:
                return Annotation(uri=uri)
            return value if _is_annotation(value) else value.annotation
        turns = to_file_turns(side).get(uri, FileTurns.empty())
        annotation = Annotation(uri=uri)
        for i, (s, e, label) in enumerate(zip(turns.starts.tolist(), turns.ends.tolist(),
                                              turns.labels)):
            annotation[Segment(s, e), i] = label
        return annotation

    def plot(self, uri: str | None = None, **kwargs: Any) -> Any:
        """Reference-vs-hypothesis plot of one file (default: the first) via
        :func:`pyannote_notebook.display.plot_comparison`; extra keywords are passed on.

        Raises
        ------
        InvalidOption
            ``uri`` is not one of the scored files.
        """
        from pyannote_notebook.display import plot_comparison

        uris = [row["uri"] for row in self.rows[:-1]]
        if uri is None:
            if not uris:
                raise InvalidOption("uri", "the report has no file to plot")
            uri = uris[0]
        elif uri not in uris:
            raise InvalidOption("uri", f"{uri!r} is not in the report; files: {', '.join(uris)}")
        reference = self._annotation_for(self.reference, uri)
        hypothesis = self._annotation_for(self.hypothesis, uri)
        uem = self.uem
        if uem is not None:
            regions = _uem_mapping(uem, uri).get(uri)
            from pyannote.core import Segment, Timeline

            uem = Timeline([Segment(s, e) for s, e in regions.tolist()], uri=uri) \
                if regions is not None else None
        return plot_comparison(reference, hypothesis, uem=uem, collar=self.collar, **kwargs)


# --------------------------------------------------------------------------- public API


def evaluate(
    reference: Any,
    hypothesis: Any,
    uem: Any = None,
    collar: float = 0.0,
    skip_overlap: bool = False,
    convention: str = "md-eval",
    jer: bool = True,
) -> Report:
    """Score ``hypothesis`` against ``reference``: DER components and JER per file and overall.

    Parameters
    ----------
    reference, hypothesis
        Annotation, Result, mapping uri -> Annotation/Result, RTTM path, or RTTMData. A single
        Annotation on both sides is scored as one file whatever the uris.
    uem : mapping uri -> Timeline / [(start, end)], Timeline (one file), UEM path, or None
        Scoring regions. None: per file, from the earliest onset to the latest offset of both
        sides. With a UEM, files absent from it are not scored (listed in ``Report.ignored``).
    collar : float
        **Seconds on each side** of every reference boundary (md-eval's ``-c``). pyannote.metrics'
        collar is the total width: pyannote ``collar=0.5`` == ``collar=0.25`` here.
    skip_overlap : bool
        Do not score regions where two or more reference speakers talk (md-eval ``-1``).
    convention : {"md-eval", "pyannote"}
        See the module docstring.
    jer : bool
        Compute dscore's JER (False leaves the jer column NaN, saving its frame sweep).

    Returns
    -------
    Report

    Raises
    ------
    InvalidOption
        Bad collar / convention / input type / UEM region.
    FormatError, FileNotFoundError
        Malformed or missing RTTM/UEM file (with file and line).
    """
    collar = _check_options(collar, convention)
    ref, hyp, regions = _resolve(reference, hypothesis, uem)
    corpus = score_corpus(ref, hyp, regions, collar=collar, skip_overlap=bool(skip_overlap),
                          convention=convention, jer=jer)
    return Report(corpus, reference=reference, hypothesis=hypothesis, uem=uem, collar=collar,
                  skip_overlap=bool(skip_overlap), convention=convention)


def _single_pair(reference: Any, hypothesis: Any, uem: Any
                 ) -> tuple[FileTurns, FileTurns, np.ndarray | None]:
    ref = to_file_turns(getattr(reference, "annotation", reference)
                        if not _is_annotation(reference) else reference, "reference")
    hyp = to_file_turns(getattr(hypothesis, "annotation", hypothesis)
                        if not _is_annotation(hypothesis) else hypothesis, "hypothesis")
    if _SINGLE not in ref or _SINGLE not in hyp:
        raise InvalidOption("reference", "expected one Annotation (or Result) on each side")
    regions = None
    if uem is not None:
        if isinstance(uem, Mapping):
            if len(uem) != 1:
                raise InvalidOption("uem", "expected the regions of one file")
            uem = next(iter(uem.values()))
        regions = to_regions(uem)
    return ref[_SINGLE], hyp[_SINGLE], regions


def optimal_mapping(reference: Annotation, hypothesis: Annotation, uem: Any = None
                    ) -> dict[str, str]:
    """md-eval's speaker mapping for one file: hypothesis label -> reference label.

    One-to-one, maximising the time both are active over the UEM (md-eval input rules: cut to
    the UEM, same-speaker overlaps merged, millisecond rounding), before any collar or overlap
    removal. Hypothesis speakers that overlap no reference speaker are left out.

    Raises
    ------
    InvalidOption
        Inputs are not one Annotation each, or a bad UEM region.
    """
    ref, hyp, regions = _single_pair(reference, hypothesis, uem)
    score, _, _ = score_file("file", ref, hyp, regions, jer=False)
    return dict(score.mapping)


def error_regions(reference: Annotation, hypothesis: Annotation, uem: Any = None,
                  collar: float = 0.0, skip_overlap: bool = False
                  ) -> dict[str, list[tuple[float, float]]]:
    """Where each md-eval error occurs in one file, after the optimal mapping.

    Returns
    -------
    dict
        ``"missed"``, ``"false_alarm"``, ``"confusion"``: merged ``(start, end)`` intervals
        (seconds, sorted) where that error is non-zero inside the scored region; ``"scored"``:
        the scored region itself (UEM minus collars, minus reference overlap when
        ``skip_overlap``). Times follow md-eval's millisecond rounding.

    Raises
    ------
    InvalidOption
        Bad inputs, collar or UEM region.
    """
    collar = _check_options(collar, "md-eval")
    ref, hyp, regions = _single_pair(reference, hypothesis, uem)
    _, _, found = score_file("file", ref, hyp, regions, collar=collar,
                             skip_overlap=bool(skip_overlap), jer=False, want_regions=True)
    assert found is not None
    return found

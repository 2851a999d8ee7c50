"""Speaker, file and corpus statistics of a diarization.

Every number comes from one numpy sweep over the *elementary segments* of a file: the sorted
unique turn boundaries ``b_0 < b_1 < ... < b_m`` cut time into intervals ``[b_k, b_{k+1})`` on
which the set of active speakers is constant. ``active[l, k]`` says whether speaker ``l`` has at
least one turn covering segment ``k``. Everything below is a sum of segment lengths under a mask,
so overlapping turns of the *same* speaker are never counted twice (they are the same as their
union, ``Annotation.label_support``), and results agree with pyannote.core's ``support``,
``get_overlap`` and ``label_duration`` (checked in the tests) while staying linear in turns.

Hand-written because pyannote.core has no vectorised per-speaker overlap / interruption /
floor-holder measure, and its ``co_iter``-based ``get_overlap`` is quadratic on long files.

Definitions
-----------
talk_time
    Time during which the speaker has at least one turn (union of its turns), seconds.
share
    ``talk_time / sum of all speakers' talk_time``: shares sum to 1 (overlap counted for each
    speaker involved).
n_turns, mean_turn, median_turn, longest_turn
    Over the speaker's turns as given (one per track of the Annotation / per output turn).
overlap_time
    Part of the speaker's talk time during which at least one *other* speaker talks.
solo_time
    ``talk_time - overlap_time``.
first_start, last_end
    Start of the speaker's first turn, end of its last turn.
speech
    Time with at least one speaker; ``silence = duration - speech``.
overlap
    Time with at least two different speakers; ``overlap_ratio = overlap / speech`` (0 when there
    is no speech).
speaker changes
    Counted on the *floor-holder* timeline: on each elementary segment with speech the floor
    belongs to the current holder while it still talks; when the holder stops, the floor goes to
    the active speaker whose ongoing stretch of speech started first (ties: first label in sorted
    order). A change is a floor handed to a different speaker; silence in between is skipped
    (``A, silence, A`` is no change, ``A, silence, B`` is one), and a short interjection inside
    someone else's turn does not take the floor. ``speaker_changes_per_minute = changes /
    (duration / 60)``.
interruptions
    A turn of speaker X starting at time t while another speaker Y talks both just before and
    just after t (Y started earlier and does not stop at t) counts one interruption of Y by X.
    Turns starting together, or a clean hand-over (Y ends exactly at t), do not count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pyannote_notebook.errors import InvalidOption

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "speaker_stats",
    "file_stats",
    "interruptions",
    "corpus_stats",
    "CorpusStats",
    "Sweep",
    "sweep",
    "TurnColumns",
    "as_turns",
    "overlap_regions",
    "speech_regions",
]


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class TurnColumns:
    """Turns of one file as columns: ``labels[codes[i]]`` speaks from ``start[i]`` to ``end[i]``."""

    start: np.ndarray
    end: np.ndarray
    codes: np.ndarray  # int index into labels per turn
    labels: list[str]
    uri: str | None
    duration: float  # end of last turn


def as_turns(obj: Any) -> TurnColumns:
    """Turn columns of a Result (duck-typed: ``turn_arrays``), anything with ``.annotation``
    (Result-like), or a pyannote.core Annotation; labels sorted.

    Raises
    ------
    InvalidOption
        ``obj`` is none of these.
    """
    if isinstance(obj, TurnColumns):
        return obj
    turns = getattr(obj, "turn_arrays", None)
    if turns is not None:
        start, end, speakers = turns.start, turns.end, turns.speaker
        uri = getattr(obj, "uri", None)
    else:
        ann = getattr(obj, "annotation", obj)
        if not hasattr(ann, "itertracks"):
            raise InvalidOption(
                "annotation",
                f"expected a Result or a pyannote.core Annotation, got {type(obj).__name__}",
            )
        rows = [(s.start, s.end, lbl) for s, _, lbl in ann.itertracks(yield_label=True)]
        start = np.array([r[0] for r in rows], dtype=np.float64)
        end = np.array([r[1] for r in rows], dtype=np.float64)
        speakers = [r[2] for r in rows]
        uri = ann.uri
    labels = sorted(set(speakers), key=str)
    index = {lbl: i for i, lbl in enumerate(labels)}
    codes = np.fromiter((index[s] for s in speakers), dtype=np.int64, count=len(speakers))
    duration = float(end.max()) if len(end) else 0.0
    return TurnColumns(start, end, codes, labels, uri, duration)


def _check_duration(duration: float | None, data: TurnColumns) -> float:
    if duration is None:
        return data.duration
    duration = float(duration)
    if not np.isfinite(duration) or duration < data.duration - 1e-9:
        raise InvalidOption(
            "duration",
            f"{duration:g} s is shorter than the end of the last turn ({data.duration:g} s); "
            "give the audio duration or leave it out",
        )
    return duration


# --------------------------------------------------------------------------- sweep


@dataclass(frozen=True)
class Sweep:
    """Elementary segments of one file.

    Attributes
    ----------
    bounds : ndarray (m + 1,)
        Sorted unique turn boundaries.
    lengths : ndarray (m,)
        ``bounds[1:] - bounds[:-1]``.
    active : ndarray (n_labels, m) of bool
        Speaker ``l`` talks on segment ``k``.
    n_active : ndarray (m,)
        Number of distinct speakers talking on segment ``k``.
    labels : list[str]
        Row labels of ``active``.
    """

    bounds: np.ndarray
    lengths: np.ndarray
    active: np.ndarray
    n_active: np.ndarray
    labels: list[str]


def _sweep(data: TurnColumns) -> Sweep:
    n_labels = len(data.labels)
    bounds = np.unique(np.concatenate([data.start, data.end]))
    m = max(len(bounds) - 1, 0)
    if m == 0:
        return Sweep(bounds, np.zeros(0), np.zeros((n_labels, 0), bool), np.zeros(0, int),
                     data.labels)
    width = len(bounds)
    si = np.searchsorted(bounds, data.start)
    ei = np.searchsorted(bounds, data.end)
    delta = np.bincount(data.codes * width + si, minlength=n_labels * width) - np.bincount(
        data.codes * width + ei, minlength=n_labels * width
    )
    counts = np.cumsum(delta.reshape(n_labels, width), axis=1)[:, :-1]
    active = counts > 0
    return Sweep(bounds, np.diff(bounds), active, active.sum(axis=0), data.labels)


def sweep(result_or_annotation: Any) -> Sweep:
    """Elementary-segment sweep of a Result or Annotation (see :class:`Sweep`)."""
    return _sweep(as_turns(result_or_annotation))


def _regions(bounds: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Merge the elementary segments selected by ``mask`` into (k, 2) [start, end] rows."""
    if not mask.any():
        return np.zeros((0, 2))
    m = mask.astype(np.int8)
    edges = np.diff(np.concatenate([[0], m, [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return np.column_stack([bounds[starts], bounds[ends]])


def overlap_regions(result_or_annotation: Any) -> np.ndarray:
    """Merged regions where at least two different speakers talk, as a (k, 2) array."""
    sw = sweep(result_or_annotation)
    return _regions(sw.bounds, sw.n_active >= 2)


def speech_regions(result_or_annotation: Any) -> np.ndarray:
    """Merged regions where at least one speaker talks, as a (k, 2) array."""
    sw = sweep(result_or_annotation)
    return _regions(sw.bounds, sw.n_active >= 1)


def _floor_holders(sw: Sweep) -> np.ndarray:
    """Floor holder label index per elementary segment (-1 on silence); see module docstring."""
    n_active = sw.n_active
    holders = np.full(len(n_active), -1, dtype=np.int64)
    if len(n_active) == 0:
        return holders
    single = n_active == 1
    holders[single] = np.argmax(sw.active[:, single], axis=0)
    multi = np.flatnonzero(n_active >= 2)
    if len(multi):
        # run_start[l, k]: index of the segment where l's current stretch of speech began.
        active = sw.active
        began = active & ~np.concatenate([np.zeros((active.shape[0], 1), bool), active[:, :-1]],
                                         axis=1)
        idx = np.where(began, np.arange(active.shape[1])[None, :], -1)
        run_start = np.maximum.accumulate(idx, axis=1)
        last = -1
        prev_k = -1
        for k in multi.tolist():
            # holder of the previous speech segment (skipping silence)
            if prev_k != k - 1:
                j = k - 1
                while j >= 0 and holders[j] == -1:
                    j -= 1
                last = holders[j] if j >= 0 else -1
            if last >= 0 and active[last, k]:
                holders[k] = last
            else:
                cand = np.flatnonzero(active[:, k])
                holders[k] = cand[np.argmin(run_start[cand, k])]
            last = holders[k]
            prev_k = k
    return holders


def _changes(sw: Sweep) -> int:
    h = _floor_holders(sw)
    h = h[h >= 0]
    return int(np.count_nonzero(h[1:] != h[:-1])) if len(h) else 0


def _interruption_matrix(data: TurnColumns, sw: Sweep) -> np.ndarray:
    """counts[x, y]: turns of x starting while y talks just before and just after."""
    n = len(data.labels)
    counts = np.zeros((n, n), dtype=np.int64)
    if len(data.start) == 0 or sw.active.shape[1] == 0:
        return counts
    k = np.searchsorted(sw.bounds, data.start)
    ok = (k >= 1) & (k < sw.active.shape[1])
    k, codes = k[ok], data.codes[ok]
    talking = sw.active[:, k - 1] & sw.active[:, k]  # (labels, turns)
    onehot = np.zeros((len(k), n), dtype=np.int64)
    onehot[np.arange(len(k)), codes] = 1
    counts = (talking.astype(np.int64) @ onehot).T  # [x, y]
    np.fill_diagonal(counts, 0)
    return counts


# --------------------------------------------------------------------------- public


def speaker_stats(result_or_annotation: Any, *, duration: float | None = None) -> pd.DataFrame:
    """One row per speaker (definitions in the module docstring), sorted by talk time.

    Parameters
    ----------
    result_or_annotation : Result or pyannote.core.Annotation
    duration : float, optional
        Audio duration; only checked here (>= end of the last turn).

    Returns
    -------
    DataFrame
        Columns ``speaker, talk_time, share, n_turns, mean_turn, median_turn, longest_turn,
        overlap_time, solo_time, first_start, last_end`` (seconds), sorted by decreasing
        talk time then label; empty (same columns) when there are no turns.

    Raises
    ------
    InvalidOption
        Not a Result/Annotation, or ``duration`` shorter than the last turn.
    """
    import pandas as pd

    data = as_turns(result_or_annotation)
    _check_duration(duration, data)
    sw = _sweep(data)
    lengths = sw.lengths
    talk = sw.active.astype(np.float64) @ lengths if len(lengths) else np.zeros(len(data.labels))
    over_mask = sw.n_active >= 2
    overlap = (sw.active[:, over_mask].astype(np.float64) @ lengths[over_mask]
               if len(lengths) else np.zeros(len(data.labels)))
    dur = data.end - data.start
    total = talk.sum()
    rows: dict[str, list[Any]] = {c: [] for c in (
        "n_turns", "mean_turn", "median_turn", "longest_turn", "first_start", "last_end")}
    order = np.argsort(data.codes, kind="stable")
    splits = np.searchsorted(data.codes[order], np.arange(1, len(data.labels)))
    for idx in np.split(order, splits) if len(data.labels) else []:
        d = dur[idx]
        rows["n_turns"].append(len(idx))
        rows["mean_turn"].append(float(d.mean()))
        rows["median_turn"].append(float(np.median(d)))
        rows["longest_turn"].append(float(d.max()))
        rows["first_start"].append(float(data.start[idx].min()))
        rows["last_end"].append(float(data.end[idx].max()))
    df = pd.DataFrame(
        {
            "speaker": pd.Series(data.labels, dtype=object),
            "talk_time": talk,
            "share": talk / total if total > 0 else np.zeros(len(talk)),
            "n_turns": np.array(rows["n_turns"], dtype=np.int64),
            "mean_turn": np.array(rows["mean_turn"], dtype=np.float64),
            "median_turn": np.array(rows["median_turn"], dtype=np.float64),
            "longest_turn": np.array(rows["longest_turn"], dtype=np.float64),
            "overlap_time": overlap,
            "solo_time": talk - overlap,
            "first_start": np.array(rows["first_start"], dtype=np.float64),
            "last_end": np.array(rows["last_end"], dtype=np.float64),
        }
    )
    df["_neg"] = -df["talk_time"]
    df = df.sort_values(["_neg", "speaker"], kind="stable", ignore_index=True).drop(columns="_neg")
    return df


def file_stats(result_or_annotation: Any, *, duration: float | None = None) -> dict[str, Any]:
    """File-level statistics (definitions in the module docstring).

    Returns
    -------
    dict
        ``uri, duration, speech, silence, overlap, overlap_ratio, n_speakers, n_turns,
        speaker_changes, speaker_changes_per_minute, interruptions`` (seconds, counts; the
        per-minute rate is 0 when the duration is 0).

    Raises
    ------
    InvalidOption
        Not a Result/Annotation, or ``duration`` shorter than the last turn.
    """
    data = as_turns(result_or_annotation)
    total_duration = _check_duration(duration, data)
    sw = _sweep(data)
    speech = float(sw.lengths[sw.n_active >= 1].sum())
    overlap = float(sw.lengths[sw.n_active >= 2].sum())
    changes = _changes(sw)
    return {
        "uri": data.uri,
        "duration": total_duration,
        "speech": speech,
        "silence": total_duration - speech,
        "overlap": overlap,
        "overlap_ratio": overlap / speech if speech > 0 else 0.0,
        "n_speakers": len(data.labels),
        "n_turns": len(data.start),
        "speaker_changes": changes,
        "speaker_changes_per_minute": changes / (total_duration / 60) if total_duration > 0 else 0.0,
        "interruptions": int(_interruption_matrix(data, sw).sum()),
    }


def interruptions(result_or_annotation: Any) -> pd.DataFrame:
    """Interruptions per (interrupter, interrupted) pair (definition in the module docstring).

    Returns
    -------
    DataFrame
        Columns ``interrupter, interrupted, count``, only pairs with count > 0, sorted by
        decreasing count then labels.
    """
    import pandas as pd

    data = as_turns(result_or_annotation)
    counts = _interruption_matrix(data, _sweep(data))
    x, y = np.nonzero(counts)
    df = pd.DataFrame(
        {
            "interrupter": pd.Series([data.labels[i] for i in x], dtype=object),
            "interrupted": pd.Series([data.labels[j] for j in y], dtype=object),
            "count": counts[x, y].astype(np.int64),
        }
    )
    df["_neg"] = -df["count"]
    return df.sort_values(["_neg", "interrupter", "interrupted"], kind="stable",
                          ignore_index=True).drop(columns="_neg")


# --------------------------------------------------------------------------- corpus


@dataclass
class CorpusStats:
    """Statistics over many files.

    Attributes
    ----------
    speakers : DataFrame
        One row per (uri, speaker): ``uri`` then the :func:`speaker_stats` columns, with
        ``share`` relative to that file. Labels are per file (``SPEAKER_00`` of two files are
        different people unless an identify job named them); see :meth:`by_label`.
    files : DataFrame
        One row per file: the :func:`file_stats` fields.
    total : dict
        Sums over files of duration, speech, silence, overlap, n_turns, speaker_changes,
        interruptions; ``n_files``; ``n_speakers`` (number of (uri, speaker) pairs);
        ``overlap_ratio = overlap / speech`` and ``speaker_changes_per_minute = speaker_changes /
        (duration / 60)`` recomputed on the sums.
    """

    speakers: pd.DataFrame
    files: pd.DataFrame
    total: dict[str, Any]

    def by_label(self) -> pd.DataFrame:
        """Aggregate across files by label (meaningful for identified / shared labels).

        Columns ``speaker, n_files, talk_time, share`` (of the corpus' summed talk time),
        ``n_turns, mean_turn`` (total turn time / n_turns), ``longest_turn, overlap_time,
        solo_time``; one row per label, sorted by label.
        """
        import pandas as pd

        sp = self.speakers
        if sp.empty:
            return pd.DataFrame(columns=["speaker", "n_files", "talk_time", "share", "n_turns",
                                         "mean_turn", "longest_turn", "overlap_time", "solo_time"])
        turn_time = sp["mean_turn"] * sp["n_turns"]
        g = sp.assign(_turn_time=turn_time).groupby("speaker", sort=True)
        out = pd.DataFrame(
            {
                "n_files": g["uri"].nunique(),
                "talk_time": g["talk_time"].sum(),
                "n_turns": g["n_turns"].sum(),
                "_turn_time": g["_turn_time"].sum(),
                "longest_turn": g["longest_turn"].max(),
                "overlap_time": g["overlap_time"].sum(),
                "solo_time": g["solo_time"].sum(),
            }
        ).reset_index()
        total = out["talk_time"].sum()
        out.insert(3, "share", out["talk_time"] / total if total > 0 else 0.0)
        out.insert(5, "mean_turn", out.pop("_turn_time") / out["n_turns"])
        return out

    def plot(self, ax: Any = None, **kw: Any) -> Any:
        """Stacked bars of talk time per file (:func:`pyannote_notebook.display.plot_speaker_time`)."""
        from pyannote_notebook.display.bars import plot_speaker_time

        return plot_speaker_time(self, ax=ax, **kw)

    def _repr_html_(self) -> str:
        return self.files.to_html(index=False)


def corpus_stats(
    results: Mapping[str, Any] | Sequence[Any],
    *,
    durations: Mapping[str, float] | None = None,
) -> CorpusStats:
    """Statistics over a corpus of Results / Annotations.

    Parameters
    ----------
    results : Mapping[uri, Result | Annotation] or Sequence[Result | Annotation]
        With a sequence, each item's ``uri`` names it (must be set and unique).
    durations : Mapping[uri, float], optional
        Audio durations; default end of each file's last turn.

    Raises
    ------
    InvalidOption
        An item without uri or a duplicate uri (sequence input), a bad item, or a duration
        shorter than a file's last turn (the message names the uri).
    """
    import pandas as pd

    if isinstance(results, Mapping):
        items = list(results.items())
    else:
        items = []
        for i, r in enumerate(results):
            uri = getattr(r, "uri", None)
            if uri is None:
                uri = getattr(getattr(r, "annotation", None), "uri", None)
            if uri is None:
                raise InvalidOption("results", f"item {i} has no uri; pass a mapping uri -> result")
            items.append((uri, r))
        seen: set[str] = set()
        for uri, _ in items:
            if uri in seen:
                raise InvalidOption("results", f"uri {uri!r} appears twice; pass a mapping")
            seen.add(uri)
    durations = durations or {}
    speaker_frames, file_rows = [], []
    for uri, r in items:
        try:
            sp = speaker_stats(r, duration=durations.get(uri))
            fs = file_stats(r, duration=durations.get(uri))
        except InvalidOption as exc:
            raise InvalidOption(exc.option, f"file {uri!r}: {exc}") from None
        sp.insert(0, "uri", pd.Series([uri] * len(sp), dtype=object))
        speaker_frames.append(sp)
        fs["uri"] = uri
        file_rows.append(fs)
    columns = ["uri", "speaker", "talk_time", "share", "n_turns", "mean_turn", "median_turn",
               "longest_turn", "overlap_time", "solo_time", "first_start", "last_end"]
    speakers = (pd.concat(speaker_frames, ignore_index=True) if speaker_frames
                else pd.DataFrame(columns=columns))
    file_cols = ["uri", "duration", "speech", "silence", "overlap", "overlap_ratio", "n_speakers",
                 "n_turns", "speaker_changes", "speaker_changes_per_minute", "interruptions"]
    files = pd.DataFrame({c: [row[c] for row in file_rows] for c in file_cols})
    total: dict[str, Any] = {"n_files": len(file_rows)}
    for c in ("duration", "speech", "silence", "overlap"):
        total[c] = float(files[c].sum()) if len(files) else 0.0
    for c in ("n_speakers", "n_turns", "speaker_changes", "interruptions"):
        total[c] = int(files[c].sum()) if len(files) else 0
    total["overlap_ratio"] = total["overlap"] / total["speech"] if total["speech"] > 0 else 0.0
    total["speaker_changes_per_minute"] = (
        total["speaker_changes"] / (total["duration"] / 60) if total["duration"] > 0 else 0.0
    )
    return CorpusStats(speakers=speakers, files=files, total=total)

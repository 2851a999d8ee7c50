"""Scoring core on plain arrays: md-eval-22 / dscore semantics and pyannote.metrics' convention.

Hand-written on purpose: pyannote.metrics disagrees with
md-eval on several input shapes and grows with the square of the number of turns, and md-eval
itself is a Perl script. Everything here is an *elementary-segment sweep*: all boundaries
(turns, UEM, collars) are sorted once, coverage of every interval family is obtained with
``searchsorted`` + ``bincount`` + ``cumsum``, and per-speaker activity is *sparse*: the list
of (segment, speaker, count) entries that are non-zero (:class:`_Cover`), so a hypothesis with
one label per turn costs no more than one with ten labels. Speaker co-occurrence is a join of
the two sides' entries on the segment (its size is the number of (segment, reference speaker,
system speaker) triples active together), summed per speaker pair in time order. The cost is
O(n log n) in the number of turns (times the number of speakers talking at once); no
(segments x speakers), (turn x turn) or, when both sides have many speakers,
(speakers x speakers) dense structure is built.

Only numpy is imported at module level: this module is on the ``pyannote-notebook evaluate``
path, which must start fast. When one side of an assignment has at most
:data:`DP_MAX_SPEAKERS` speakers, an exact dynamic programme over subsets of the smaller side
(numpy, vectorised over subsets) solves it (tested against scipy). Otherwise scipy (about 0.5 s
to import) is used: ``scipy.optimize.linear_sum_assignment`` on the dense co-occurrence matrix
while it has at most :data:`DENSE_ASSIGN_MAX_CELLS` cells, else
``scipy.sparse.csgraph.min_weight_full_bipartite_matching`` on the co-occurring pairs only.

Times are seconds (float64). Labels are strings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DENSE_ASSIGN_MAX_CELLS",
    "DP_MAX_SPEAKERS",
    "FileTurns",
    "FileScore",
    "CorpusScore",
    "assign_max",
    "merge_regions",
    "prepare_mdeval",
    "score_file",
    "score_corpus",
    "jer_file",
]

#: Largest smaller-side speaker count solved by the numpy subset DP instead of scipy.
DP_MAX_SPEAKERS = 10

#: Largest ``n_ref * n_sys`` for which, with more than :data:`DP_MAX_SPEAKERS` speakers on both
#: sides, the assignment is solved on the dense matrix (as :func:`assign_max`; 32 MiB at most);
#: above it, on the sparse co-occurrence graph.
DENSE_ASSIGN_MAX_CELLS = 1 << 22

JER_STEP = 0.010  # dscore's frame step (seconds)
PYANNOTE_PRECISION = 1e-6  # pyannote.core's SEGMENT_PRECISION (seconds)


# --------------------------------------------------------------------------- data


@dataclass
class FileTurns:
    """Turns of one file on one side: ``starts``, ``ends`` (float arrays) and ``labels``."""

    starts: np.ndarray
    ends: np.ndarray
    labels: list[str]

    @classmethod
    def from_lists(cls, starts: Sequence[float], ends: Sequence[float],
                   labels: Sequence[Any]) -> FileTurns:
        return cls(np.asarray(starts, dtype=np.float64).reshape(-1),
                   np.asarray(ends, dtype=np.float64).reshape(-1),
                   [str(label) for label in labels])

    @classmethod
    def empty(cls) -> FileTurns:
        return cls(np.zeros(0), np.zeros(0), [])

    def __len__(self) -> int:
        return int(self.starts.size)

    def codes(self) -> tuple[np.ndarray, list[str]]:
        """Integer speaker codes and the label of each code (order of first appearance)."""
        index: dict[str, int] = {}
        codes = np.fromiter((index.setdefault(label, len(index)) for label in self.labels),
                            dtype=np.int64, count=len(self.labels))
        return codes, list(index)


@dataclass
class FileScore:
    """Scores of one file. Components are NaN when md-eval does not report the file."""

    uri: str
    scored: float
    missed: float
    false_alarm: float
    confusion: float
    der: float
    jer: float
    reported: bool
    mapping: dict[str, str] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        return {"uri": self.uri, "scored": self.scored, "missed": self.missed,
                "false_alarm": self.false_alarm, "confusion": self.confusion,
                "der": self.der, "jer": self.jer}


@dataclass
class CorpusScore:
    """Per-file scores, the corpus total (uri ``ALL``) and files left out (not in the UEM)."""

    files: list[FileScore]
    total: FileScore
    ignored: list[str] = field(default_factory=list)

    @property
    def mapping(self) -> dict[str, dict[str, str]]:
        return {f.uri: dict(f.mapping) for f in self.files}

    def rows(self) -> list[dict[str, Any]]:
        return [f.as_row() for f in self.files] + [self.total.as_row()]


# --------------------------------------------------------------------------- assignment


_MASKS_CACHE: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}


def _subset_moves(k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    moves = _MASKS_CACHE.get(k)
    if moves is None:
        masks = np.arange(1 << k, dtype=np.int64)
        moves = []
        for j in range(k):
            src = masks[(masks >> j) & 1 == 0]
            moves.append((src, src | (1 << j)))
        _MASKS_CACHE[k] = moves
    return moves


def _dp_assign(weights: np.ndarray) -> list[tuple[int, int]]:
    """Maximum-weight matching of a ``(rows, cols)`` matrix, by DP over subsets of columns.

    Weights must be >= 0. Once ``dp`` is monotone (a superset of columns never scores less:
    true at the latest once ``cols`` rows are processed, and kept from then on since weights
    are >= 0), a column of weight 0 cannot strictly improve any state, so it is skipped: with
    one label per system turn most of a row is 0. The pairs are the same as without the
    shortcut.
    """
    rows, k = weights.shape
    dp = np.full(1 << k, -np.inf)
    dp[0] = 0.0
    choice = np.full((rows, 1 << k), -1, dtype=np.int16)
    moves = _subset_moves(k)
    all_src = np.concatenate([src for src, _ in moves])
    all_dst = np.concatenate([dst for _, dst in moves])
    monotone = False
    for i in range(rows):
        if not monotone:
            monotone = bool(np.all(dp[all_dst] >= dp[all_src]))
        new = dp.copy()
        chosen = choice[i]
        row = weights[i]
        for j, (src, dst) in enumerate(moves):
            if monotone and row[j] == 0:
                continue
            candidate = dp[src] + row[j]
            better = candidate > new[dst]
            target = dst[better]
            new[target] = candidate[better]
            chosen[target] = j
        dp = new
    mask = int(np.argmax(dp))
    pairs = []
    for i in range(rows - 1, -1, -1):
        j = int(choice[i, mask])
        if j >= 0:
            pairs.append((i, j))
            mask ^= 1 << j
    return pairs[::-1]


def assign_max(weights: np.ndarray) -> list[tuple[int, int]]:
    """One-to-one assignment of rows to columns maximising the total weight.

    Same optimum as ``scipy.optimize.linear_sum_assignment(weights, maximize=True)``; scipy is
    imported only when both dimensions exceed :data:`DP_MAX_SPEAKERS`. Pairs are returned sorted
    by row; with non-negative weights, pairs of weight 0 may or may not be included.
    """
    weights = np.asarray(weights, dtype=np.float64)
    n_rows, n_cols = weights.shape
    if n_rows == 0 or n_cols == 0:
        return []
    if min(n_rows, n_cols) <= DP_MAX_SPEAKERS:
        if n_cols <= n_rows:
            pairs = _dp_assign(weights)
        else:
            pairs = [(r, c) for c, r in _dp_assign(weights.T)]
    else:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(weights, maximize=True)
        pairs = list(zip(rows.tolist(), cols.tolist()))
    return sorted(pairs)


def _assign_entries(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, n_rows: int,
                    n_cols: int) -> np.ndarray:
    """:func:`assign_max` on a sparse matrix, keeping only pairs of positive weight.

    The ``(n_rows, n_cols)`` matrix is zero except ``weights`` at (``rows``, ``cols``) (distinct
    positions). Returns the indices of the chosen entries, sorted by row.

    * One side has at most :data:`DP_MAX_SPEAKERS` speakers: the subset DP in
      :func:`assign_max`'s orientation, without the larger side's all-zero rows. Dropping them
      changes neither the optimum nor which optimal pairs the DP returns (the DP's arg-max and
      back-tracking never go through a zero row; tested against :func:`assign_max`), so this is
      exactly ``[p for p in assign_max(dense) if dense[p] > 0]``, at a cost linear in the
      number of co-occurring speakers.
    * Both sides larger, at most :data:`DENSE_ASSIGN_MAX_CELLS` cells: :func:`assign_max` on the
      dense matrix (same result by construction).
    * Otherwise a maximum-weight matching on the co-occurring pairs only
      (``min_weight_full_bipartite_matching``; each row gets a private dummy column of
      negligible weight so that a full matching exists): the same optimum; among several
      optimal matchings it may pick another one than the dense solver would.
    """
    positive = np.flatnonzero(weights > 0)
    if n_rows == 0 or n_cols == 0 or positive.size == 0:
        return np.zeros(0, dtype=np.int64)
    rows = rows[positive].astype(np.int64)
    cols = cols[positive].astype(np.int64)
    weights = weights[positive]
    if min(n_rows, n_cols) <= DP_MAX_SPEAKERS:
        if n_cols <= n_rows:  # assign_max's orientation: the DP's columns are the smaller side
            present, at = np.unique(rows, return_inverse=True)
            dense = np.zeros((present.size, n_cols))
            dense[at, cols] = weights
            found = [(int(present[r]), c) for r, c in _dp_assign(dense)]
        else:
            present, at = np.unique(cols, return_inverse=True)
            dense = np.zeros((present.size, n_rows))
            dense[at, rows] = weights
            found = [(r, int(present[c])) for c, r in _dp_assign(dense)]
    elif n_rows * n_cols <= DENSE_ASSIGN_MAX_CELLS:
        dense = np.zeros((n_rows, n_cols))
        dense[rows, cols] = weights
        found = assign_max(dense)
    else:
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import min_weight_full_bipartite_matching

        row_ids, row_at = np.unique(rows, return_inverse=True)
        col_ids, col_at = np.unique(cols, return_inverse=True)
        n_r, n_c = row_ids.size, col_ids.size
        dummy = np.arange(n_r)
        values = np.concatenate([weights, np.full(n_r, np.finfo(np.float64).tiny)])
        graph = csr_matrix((values, (np.concatenate([row_at, dummy]),
                                     np.concatenate([col_at, n_c + dummy]))),
                           shape=(n_r, n_c + n_r))
        matched_rows, matched_cols = min_weight_full_bipartite_matching(graph, maximize=True)
        real = matched_cols < n_c
        found = list(zip(row_ids[matched_rows[real]].tolist(),
                         col_ids[matched_cols[real]].tolist()))
    if not found:
        return np.zeros(0, dtype=np.int64)
    key = rows * n_cols + cols
    order = np.argsort(key, kind="stable")
    wanted = np.array([r * n_cols + c for r, c in found], dtype=np.int64)
    at = np.minimum(np.searchsorted(key, wanted, sorter=order), key.size - 1)
    chosen = order[at][key[order[at]] == wanted]  # pairs of weight 0 are not entries
    chosen = chosen[np.argsort(rows[chosen], kind="stable")]
    return positive[chosen]


# --------------------------------------------------------------------------- intervals


def merge_regions(regions: Iterable[Sequence[float]] | np.ndarray | None) -> np.ndarray:
    """Sort ``(start, end)`` regions and merge those that overlap or touch -> ``(k, 2)`` array.

    Empty regions (end <= start) are dropped.
    """
    array = np.asarray(list(regions) if regions is not None and not isinstance(regions, np.ndarray)
                       else (regions if regions is not None else []), dtype=np.float64)
    array = array.reshape(-1, 2)
    array = array[array[:, 1] > array[:, 0]]
    if array.shape[0] <= 1:
        return array
    array = array[np.argsort(array[:, 0], kind="stable")]
    running_end = np.maximum.accumulate(array[:, 1])
    new_group = np.ones(len(array), dtype=bool)
    new_group[1:] = array[1:, 0] > running_end[:-1]
    group = np.cumsum(new_group) - 1
    starts = array[new_group, 0]
    ends = np.zeros(starts.size)
    np.maximum.at(ends, group, array[:, 1])
    return np.column_stack([starts, ends])


def _trim(starts: np.ndarray, ends: np.ndarray, codes: np.ndarray,
          regions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut turns to sorted disjoint ``regions``; a turn spanning a gap becomes several pieces."""
    if regions.shape[0] == 0 or starts.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
    first = np.searchsorted(regions[:, 1], starts, side="right")  # first region ending after s
    last = np.searchsorted(regions[:, 0], ends, side="left")  # regions starting before e
    count = np.maximum(last - first, 0)
    turn = np.repeat(np.arange(starts.size), count)
    region = np.repeat(first, count) + (np.arange(turn.size) - np.repeat(np.cumsum(count) - count,
                                                                        count))
    s = np.maximum(starts[turn], regions[region, 0])
    e = np.minimum(ends[turn], regions[region, 1])
    keep = e > s
    return s[keep], e[keep], codes[turn][keep]


def _merge_same_speaker(starts: np.ndarray, ends: np.ndarray,
                        codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge strictly overlapping turns of the same speaker (touching turns stay apart).

    Turns (of positive length) sorted by speaker, start, end: a turn starts a new merged turn
    when every earlier turn of its speaker ends at or before its start, i.e. when the number of
    its speaker's turns ending by its start (all of them earlier) equals its rank among them.
    Counted with one search on exact (speaker, time rank) keys: no loop over speakers.
    """
    if starts.size == 0:
        return starts, ends, codes
    order = np.lexsort((ends, starts, codes))
    s, e, c = starts[order], ends[order], codes[order].astype(np.int64)
    n = s.size
    values, rank = np.unique(np.concatenate([s, e]), return_inverse=True)
    rank = rank.reshape(-1).astype(np.int64)
    width = np.int64(values.size + 1)
    end_keys = np.sort(c * width + rank[n:])
    ended = (np.searchsorted(end_keys, c * width + rank[:n], side="right")
             - np.searchsorted(end_keys, c * width, side="left"))
    earlier = np.arange(n) - np.searchsorted(c, c, side="left")
    new_group = ended == earlier
    first = np.flatnonzero(new_group)
    s, e, c = s[first], np.maximum.reduceat(e, first), c[first]
    order = np.lexsort((c, e, s))
    return s[order], e[order], c[order]


def _round_ms(values: np.ndarray) -> np.ndarray:
    """Python's ``round(x, 3)`` element-wise (dscore's ``format_float``; numpy's ``round``
    differs on some half-millisecond values)."""
    return np.array([round(v, 3) for v in values.tolist()], dtype=np.float64)


# --------------------------------------------------------------------------- sweep


@dataclass
class _Cover:
    """Sparse ``(segments x labels)`` counts: the non-zero entries, sorted by (segment, label)."""

    seg: np.ndarray  # segment index of each entry (int64)
    lab: np.ndarray  # label code (int64)
    cnt: np.ndarray  # number of intervals of that label covering that segment (int64, > 0)
    n: int  # number of segments
    n_labels: int

    def clipped(self) -> _Cover:
        """Presence (count 1) instead of counts."""
        return _Cover(self.seg, self.lab, np.minimum(self.cnt, 1), self.n, self.n_labels)

    def per_segment(self) -> np.ndarray:
        """Sum of the counts over labels, per segment (int64)."""
        return np.bincount(self.seg, weights=self.cnt, minlength=self.n).astype(np.int64)

    def per_label(self, weight: np.ndarray) -> np.ndarray:
        """``sum over segments of count * weight[segment]``, per label."""
        return np.bincount(self.lab, weights=self.cnt * weight[self.seg],
                           minlength=self.n_labels)


def _expand_runs(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])``, without a loop."""
    offsets = np.cumsum(lengths) - lengths
    return (np.repeat(starts, lengths)
            + (np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(offsets, lengths)))


def _join(a: _Cover, b: _Cover) -> tuple[np.ndarray, np.ndarray]:
    """Entries of ``a`` and ``b`` on the same segment, as index arrays into each, sorted by
    (segment, ``a`` label, ``b`` label). Its size is the number of active (segment, ``a``
    label, ``b`` label) triples."""
    if a.seg.size == 0 or b.seg.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    first = np.searchsorted(b.seg, a.seg, side="left")
    count = np.searchsorted(b.seg, a.seg, side="right") - first
    in_a = np.repeat(np.arange(a.seg.size, dtype=np.int64), count)
    return in_a, _expand_runs(first, count)


def _pair_sums(rows: np.ndarray, cols: np.ndarray, values: np.ndarray,
               n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum ``values`` per distinct (row, col): ``(rows, cols, sums)`` of the non-empty pairs.

    Each sum is accumulated in input order (``np.bincount``), i.e. in time order for a join.
    """
    key = rows.astype(np.int64) * max(n_cols, 1) + cols
    pairs, at = np.unique(key, return_inverse=True)
    sums = np.bincount(at.reshape(-1), weights=values, minlength=pairs.size)
    return pairs // max(n_cols, 1), pairs % max(n_cols, 1), sums


class _Sweep:
    """Elementary segments of a set of boundaries, and coverage of interval families."""

    def __init__(self, bounds: np.ndarray) -> None:
        self.bounds = np.unique(bounds)
        self.n = max(self.bounds.size - 1, 0)
        self.d = np.diff(self.bounds) if self.n else np.zeros(0)

    def cover(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Number of intervals covering each segment (intervals must have bounds in the set)."""
        if self.n == 0:
            return np.zeros(0, dtype=np.int64)
        keep = ends > starts
        i0 = np.searchsorted(self.bounds, starts[keep])
        i1 = np.searchsorted(self.bounds, ends[keep])
        diff = (np.bincount(i0, minlength=self.n + 1)
                - np.bincount(i1, minlength=self.n + 1))
        return np.cumsum(diff)[: self.n]

    def cover_labels(self, starts: np.ndarray, ends: np.ndarray, codes: np.ndarray,
                     n_labels: int) -> _Cover:
        """Sparse ``(segments x labels)`` count of intervals of each label covering each segment.

        Per label, the count only changes at its intervals' boundaries (``+1`` at a start,
        ``-1`` at an end), so its runs of constant count come from one sort of the
        ``2 x intervals`` events; each run is expanded to one entry per covered segment. Size:
        the number of covered (segment, label) pairs, never ``segments x labels``.
        """
        empty = np.zeros(0, dtype=np.int64)
        if self.n == 0 or n_labels == 0:
            return _Cover(empty, empty, empty, self.n, n_labels)
        keep = ends > starts
        if not keep.any():
            return _Cover(empty, empty, empty, self.n, n_labels)
        i0 = np.searchsorted(self.bounds, starts[keep]).astype(np.int64)
        i1 = np.searchsorted(self.bounds, ends[keep]).astype(np.int64)
        code = codes[keep].astype(np.int64)
        label = np.concatenate([code, code])
        position = np.concatenate([i0, i1])
        delta = np.concatenate([np.ones(i0.size, dtype=np.int64),
                                -np.ones(i1.size, dtype=np.int64)])
        order = np.lexsort((position, label))
        label, position = label[order], position[order]
        level = np.cumsum(delta[order])  # back to 0 at the end of each label's events
        run = (label[:-1] == label[1:]) & (position[1:] > position[:-1]) & (level[:-1] > 0)
        run_label, run_start = label[:-1][run], position[:-1][run]
        run_count, length = level[:-1][run], position[1:][run] - position[:-1][run]
        segment = _expand_runs(run_start, length)
        by_segment = np.argsort(segment, kind="stable")  # entries were by (label, segment)
        return _Cover(segment[by_segment], np.repeat(run_label, length)[by_segment],
                      np.repeat(run_count, length)[by_segment], self.n, n_labels)

    def intervals(self, mask: np.ndarray) -> list[tuple[float, float]]:
        """Merge consecutive selected segments into ``(start, end)`` intervals."""
        if self.n == 0 or not mask.any():
            return []
        padded = np.concatenate([[False], mask, [False]])
        change = np.flatnonzero(padded[1:] != padded[:-1])
        begins, stops = change[0::2], change[1::2]
        return [(float(self.bounds[b]), float(self.bounds[e]))
                for b, e in zip(begins.tolist(), stops.tolist())]


@dataclass
class _SweepResult:
    scored: float
    missed: float
    false_alarm: float
    confusion: float
    pairs: list[tuple[int, int]]
    regions: dict[str, list[tuple[float, float]]] | None = None


def _score_sweep(
    ref: tuple[np.ndarray, np.ndarray, np.ndarray, int],
    hyp: tuple[np.ndarray, np.ndarray, np.ndarray, int],
    region: np.ndarray,
    collar_points: np.ndarray,
    collar: float,
    skip_overlap: bool,
    *,
    presence: bool,
    map_on_scored: bool,
    want_regions: bool = False,
) -> _SweepResult:
    """Score one file.

    presence=True: a speaker counts once however many of its turns are active (md-eval);
    False: every turn (track) counts (pyannote.metrics). map_on_scored=False: the mapping is
    computed over ``region`` (md-eval: UEM before collars/overlap removal); True: over the
    scored region (pyannote.metrics).
    """
    rs, re_, rc, n_ref = ref
    hs, he, hc, n_hyp = hyp
    parts = [rs, re_, hs, he, region.reshape(-1)]
    if collar > 0 and collar_points.size:
        cs, ce = collar_points - collar, collar_points + collar
        parts += [cs, ce]
    sweep = _Sweep(np.concatenate(parts))
    if sweep.n == 0:
        empty = {k: [] for k in ("missed", "false_alarm", "confusion", "scored")}
        return _SweepResult(0.0, 0.0, 0.0, 0.0, [], empty if want_regions else None)
    d = sweep.d
    in_region = sweep.cover(region[:, 0], region[:, 1]) > 0
    scored = in_region.copy()
    if collar > 0 and collar_points.size:
        scored &= sweep.cover(cs, ce) == 0
    c_ref = sweep.cover_labels(rs, re_, rc, n_ref)
    c_hyp = sweep.cover_labels(hs, he, hc, n_hyp)
    if skip_overlap:
        scored &= c_ref.per_segment() < 2
    if not presence:
        # pyannote.core treats segments shorter than 1 microsecond as empty (SEGMENT_PRECISION)
        scored &= d > PYANNOTE_PRECISION
    if presence:
        c_ref = c_ref.clipped()
        c_hyp = c_hyp.clipped()
    map_mask = scored if map_on_scored else in_region
    in_ref, in_hyp = _join(c_ref, c_hyp)
    segment = c_ref.seg[in_ref]
    ref_label, hyp_label = c_ref.lab[in_ref], c_hyp.lab[in_hyp]
    ref_count, hyp_count = c_ref.cnt[in_ref], c_hyp.cnt[in_hyp]
    use = map_mask[segment]
    # co-occurrence of each (reference, system) pair over map_mask, summed in time order
    co_r, co_h, co_time = _pair_sums(
        ref_label[use], hyp_label[use],
        (ref_count[use] * d[segment[use]]) * hyp_count[use], n_hyp)
    chosen = _assign_entries(co_r, co_h, co_time, n_ref, n_hyp)
    pairs = list(zip(co_r[chosen].tolist(), co_h[chosen].tolist()))
    n_r = c_ref.per_segment()
    n_h = c_hyp.per_segment()
    mapped = np.full(n_ref, -1, dtype=np.int64)
    mapped[co_r[chosen]] = co_h[chosen]
    hit = mapped[ref_label] == hyp_label
    correct = np.bincount(segment[hit], weights=np.minimum(ref_count[hit], hyp_count[hit]),
                          minlength=sweep.n).astype(np.int64)
    dd = d[scored]
    nr, nh, nc = n_r[scored], n_h[scored], correct[scored]
    result = _SweepResult(
        scored=float(np.dot(dd, nr)),
        missed=float(np.dot(dd, np.maximum(nr - nh, 0))),
        false_alarm=float(np.dot(dd, np.maximum(nh - nr, 0))),
        confusion=float(np.dot(dd, np.minimum(nr, nh) - nc)),
        pairs=pairs,
    )
    if want_regions:
        result.regions = {
            "missed": sweep.intervals(scored & (n_r > n_h)),
            "false_alarm": sweep.intervals(scored & (n_h > n_r)),
            "confusion": sweep.intervals(scored & (np.minimum(n_r, n_h) > correct)),
            "scored": sweep.intervals(scored),
        }
    return result


# --------------------------------------------------------------------------- md-eval prep


@dataclass
class _Prepared:
    """One side of one file after dscore's steps: trimmed + merged (for JER) and rounded."""

    starts: np.ndarray
    ends: np.ndarray
    codes: np.ndarray
    labels: list[str]
    r_starts: np.ndarray
    r_ends: np.ndarray


def prepare_mdeval(turns: FileTurns, regions: np.ndarray) -> _Prepared:
    """dscore's input steps 3-5 for one side of one file: cut to the UEM ``regions`` (sorted,
    merged), merge strictly overlapping same-speaker turns, round onset and duration to the
    millisecond each on its own."""
    codes, labels = turns.codes()
    s, e, c = _trim(turns.starts, turns.ends, codes, regions)
    s, e, c = _merge_same_speaker(s, e, c)
    rs = _round_ms(s)
    rd = _round_ms(e - s)
    return _Prepared(s, e, c, labels, rs, rs + rd)


def _auto_region(*sides: FileTurns) -> np.ndarray:
    starts = [t.starts for t in sides if len(t)]
    if not starts:
        return np.zeros((0, 2))
    lo = min(float(s.min()) for s in starts)
    hi = max(float(t.ends.max()) for t in sides if len(t))
    return np.array([[lo, hi]]) if hi > lo else np.zeros((0, 2))


# --------------------------------------------------------------------------- JER (dscore)


@dataclass
class _JER:
    jer: float  # percent
    speaker_jers: list[float]  # percent, to pool into the corpus mean
    n_ref: int
    n_sys: int


def jer_file(ref: _Prepared, hyp: _Prepared, regions: np.ndarray,
             step: float = JER_STEP) -> _JER:
    """dscore's JER for one file: frames of ``step`` seconds over the (unrounded) UEM, no
    collar, no overlap removal, Hungarian pairing on 1 - IoU, mean over reference speakers.

    A speaker pair whose union is empty (both shorter than a frame) has IoU 0 here; dscore
    would divide by zero.
    """
    ref_codes, ref_n = _compact(ref.codes)
    hyp_codes, hyp_n = _compact(hyp.codes)
    if ref_n == 0 and hyp_n == 0:
        return _JER(0.0, [], 0, 0)
    if ref_n == 0:
        return _JER(100.0, [], 0, hyp_n)
    if hyp_n == 0:
        return _JER(100.0, [100.0] * ref_n, ref_n, 0)
    n_frames = int(float(regions[:, 1].max()) / step) if regions.shape[0] else 0
    times = step * np.arange(n_frames)
    rb, reb = np.searchsorted(times, ref.starts), np.searchsorted(times, ref.ends)
    hb, heb = np.searchsorted(times, hyp.starts), np.searchsorted(times, hyp.ends)
    kb, keb = np.searchsorted(times, regions[:, 0]), np.searchsorted(times, regions[:, 1])
    sweep = _Sweep(np.concatenate([rb, reb, hb, heb, kb, keb]).astype(np.float64))
    keep = (sweep.cover(kb.astype(np.float64), keb.astype(np.float64)) > 0)
    weight = sweep.d * keep
    r = sweep.cover_labels(rb.astype(np.float64), reb.astype(np.float64), ref_codes,
                           ref_n).clipped()
    h = sweep.cover_labels(hb.astype(np.float64), heb.astype(np.float64), hyp_codes,
                           hyp_n).clipped()
    # frame counts: every sum below is an exact integer, whatever the order
    ref_durs = r.per_label(weight)
    sys_durs = h.per_label(weight)
    in_r, in_h = _join(r, h)
    segment = r.seg[in_r]
    pair_r, pair_h, intersect = _pair_sums(r.lab[in_r], h.lab[in_h],
                                           (r.cnt[in_r] * weight[segment]) * h.cnt[in_h], hyp_n)
    union = ref_durs[pair_r] + sys_durs[pair_h] - intersect
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, intersect / np.where(union > 0, union, 1.0), 0.0)
    jers = np.ones(ref_n)
    chosen = _assign_entries(pair_r, pair_h, iou, ref_n, hyp_n)
    jers[pair_r[chosen]] = 1.0 - iou[chosen]
    jers *= 100.0
    return _JER(float(jers.mean()), jers.tolist(), ref_n, hyp_n)


def _compact(codes: np.ndarray) -> tuple[np.ndarray, int]:
    if codes.size == 0:
        return codes, 0
    _, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int64), int(inverse.max()) + 1


# --------------------------------------------------------------------------- per file


def _rate(error: float, total: float) -> float:
    """dscore's per-file rule: 0/0 -> 0, x/0 -> 100, else 100 * x / total."""
    if total == 0:
        return 0.0 if error == 0 else 100.0
    return 100.0 * error / total


def score_file(
    uri: str,
    ref: FileTurns,
    hyp: FileTurns,
    regions: np.ndarray | None,
    collar: float = 0.0,
    skip_overlap: bool = False,
    convention: str = "md-eval",
    jer: bool = True,
    want_regions: bool = False,
) -> tuple[FileScore, _JER | None, dict[str, list[tuple[float, float]]] | None]:
    """Score one file; ``regions`` is its UEM (``None``: extent of both sides).

    ``collar`` is seconds on each side of a reference boundary in both conventions.
    """
    if regions is None:
        regions = _auto_region(ref, hyp)
    else:
        regions = merge_regions(regions)
    p_ref = prepare_mdeval(ref, regions)
    p_hyp = prepare_mdeval(hyp, regions)
    jer_result = jer_file(p_ref, p_hyp, regions) if jer else None
    jer_value = jer_result.jer if jer_result is not None else math.nan
    if convention == "md-eval":
        rounded_regions = merge_regions(np.column_stack([_round_ms(regions[:, 0]),
                                                         _round_ms(regions[:, 1])])
                                        if regions.size else regions)
        active = p_ref.r_ends > p_ref.r_starts
        h_active = p_hyp.r_ends > p_hyp.r_starts
        result = _score_sweep(
            (p_ref.r_starts[active], p_ref.r_ends[active], p_ref.codes[active],
             len(p_ref.labels)),
            (p_hyp.r_starts[h_active], p_hyp.r_ends[h_active], p_hyp.codes[h_active],
             len(p_hyp.labels)),
            rounded_regions,
            np.concatenate([p_ref.r_starts, p_ref.r_ends]),
            collar, skip_overlap, presence=True, map_on_scored=False,
            want_regions=want_regions,
        )
        reported = p_ref.starts.size > 0
        ref_labels, hyp_labels = p_ref.labels, p_hyp.labels
        if not reported:
            der = 100.0 if p_hyp.starts.size > 0 else 0.0
            score = FileScore(uri, math.nan, math.nan, math.nan, math.nan, der, jer_value,
                              reported=False)
            return score, jer_result, result.regions
    elif convention == "pyannote":
        ref_codes, ref_labels = ref.codes()
        hyp_codes, hyp_labels = hyp.codes()
        result = _score_sweep(
            (ref.starts, ref.ends, ref_codes, len(ref_labels)),
            (hyp.starts, hyp.ends, hyp_codes, len(hyp_labels)),
            regions,
            np.concatenate([ref.starts, ref.ends]),
            collar, skip_overlap, presence=False, map_on_scored=True,
            want_regions=want_regions,
        )
        reported = True
    else:
        raise ValueError(f"unknown convention {convention!r}")
    error = result.missed + result.false_alarm + result.confusion
    score = FileScore(uri, result.scored, result.missed, result.false_alarm, result.confusion,
                      _rate(error, result.scored), jer_value, reported=reported,
                      mapping={hyp_labels[h]: ref_labels[r] for r, h in result.pairs})
    return score, jer_result, result.regions


# --------------------------------------------------------------------------- corpus


def score_corpus(
    reference: Mapping[str, FileTurns],
    hypothesis: Mapping[str, FileTurns],
    uem: Mapping[str, Any] | None = None,
    collar: float = 0.0,
    skip_overlap: bool = False,
    convention: str = "md-eval",
    jer: bool = True,
) -> CorpusScore:
    """Score every file and total them.

    Files: those of ``uem`` when given (turns of other files are ignored and listed in
    ``CorpusScore.ignored``), else every file of either side; rows sorted by uri.

    md-eval total: components summed over files with reference speech (a file without any is
    left out, false alarm included); DER = error / scored. pyannote total: summed over all files.
    JER total: dscore's mean over all reference speakers of all files.
    """
    if uem is not None:
        uris = sorted(uem)
        ignored = sorted((set(reference) | set(hypothesis)) - set(uem))
    else:
        uris = sorted(set(reference) | set(hypothesis))
        ignored = []
    empty = FileTurns.empty()
    files: list[FileScore] = []
    sums = np.zeros(4)
    speaker_jers: list[float] = []
    n_ref_total = n_sys_total = 0
    for uri in uris:
        regions = None if uem is None else uem[uri]
        score, jer_result, _ = score_file(uri, reference.get(uri, empty),
                                          hypothesis.get(uri, empty), regions, collar,
                                          skip_overlap, convention, jer)
        files.append(score)
        if score.reported:
            sums += [score.scored, score.missed, score.false_alarm, score.confusion]
        if jer_result is not None:
            speaker_jers += jer_result.speaker_jers
            n_ref_total += jer_result.n_ref
            n_sys_total += jer_result.n_sys
    if not jer:
        total_jer = math.nan
    elif n_ref_total == 0 and n_sys_total == 0:
        total_jer = 0.0
    elif n_ref_total == 0 or n_sys_total == 0:
        total_jer = 100.0
    else:
        total_jer = float(np.mean(speaker_jers))
    scored, missed, false_alarm, confusion = (float(x) for x in sums)
    total = FileScore("ALL", scored, missed, false_alarm, confusion,
                      _rate(missed + false_alarm + confusion, scored), total_jer, reported=True)
    return CorpusScore(files, total, ignored)

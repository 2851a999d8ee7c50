"""Many speaker labels (e.g. one hypothesis label per turn): exact scores, sparse internals.

The scorer keeps per-speaker activity sparse, so these inputs cost about as much as 10-speaker
ones; no time bound is asserted here (see ``benchmarks/scoring.py --unique-labels``), only that
the values are right: against pyannote.metrics (its own convention, and md-eval's through the
recipe of /work/shared/evaluation.md) and against a slow frame-level JER written below.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from pyannote.core import Annotation, Segment

from pyannote_notebook.analysis import _sweep
from pyannote_notebook.analysis._sweep import _assign_entries, _Sweep, assign_max
from pyannote_notebook.analysis.scoring import evaluate

N_SPEAKERS = 10
N_HYP_TURNS = 3000


def _many_label_pair(seed: int = 0) -> tuple[Annotation, Annotation]:
    """A 10-speaker reference (~1,000 turns, cross-speaker overlaps, no same-speaker overlap,
    millisecond grid, so md-eval's input steps change nothing) and a hypothesis of exactly
    3,000 turns, each with its own label (reference turns cut in pieces, jittered, plus a few
    false alarms)."""
    rng = np.random.default_rng(seed)
    ref_turns: list[tuple[float, float, str]] = []
    t = 0.0
    while len(ref_turns) < 1000:
        duration = round(float(rng.gamma(2.0, 1.5)) + 0.5, 3)
        speaker = int(rng.integers(N_SPEAKERS))
        ref_turns.append((t, round(t + duration, 3), f"spk{speaker}"))
        if rng.random() < 0.3 and duration > 1.0:  # interjection inside the turn
            start = round(t + float(rng.uniform(0.1, duration - 0.8)), 3)
            end = round(min(start + float(rng.uniform(0.3, 2.0)), t + duration - 0.05), 3)
            other = (speaker + 1 + int(rng.integers(N_SPEAKERS - 1))) % N_SPEAKERS
            if end > start:
                ref_turns.append((start, end, f"spk{other}"))
        t = round(t + duration + float(rng.exponential(0.5)), 3)
    hyp_turns: list[tuple[float, float]] = []
    for start, end, _ in ref_turns:
        cuts = np.sort(rng.uniform(start, end, 2))
        for a, b in zip([start, *cuts], [*cuts, end]):
            a = round(max(0.0, a + float(rng.normal(0, 0.1))), 3)
            b = round(b + float(rng.normal(0, 0.1)), 3)
            if b - a >= 0.02:
                hyp_turns.append((a, b))
    while len(hyp_turns) < N_HYP_TURNS:  # false alarms
        a = round(float(rng.uniform(0, t)), 3)
        hyp_turns.append((a, round(a + float(rng.uniform(0.1, 1.0)), 3)))
    hyp_turns = hyp_turns[:N_HYP_TURNS]
    ref, hyp = Annotation(uri="many"), Annotation(uri="many")
    for i, (start, end, label) in enumerate(ref_turns):
        ref[Segment(start, end), i] = label
    for i, (start, end) in enumerate(hyp_turns):
        hyp[Segment(start, end), i] = f"T{i:04d}"
    return ref, hyp


@pytest.fixture(scope="module")
def pair() -> tuple[Annotation, Annotation]:
    ref, hyp = _many_label_pair()
    assert len(hyp.labels()) == N_HYP_TURNS == len(list(hyp.itertracks()))
    assert len(ref.labels()) == N_SPEAKERS
    return ref, hyp


@pytest.mark.parametrize(("collar", "skip"), [(0.0, False), (0.25, False), (0.25, True)])
def test_many_labels_pyannote_convention_equals_pyannote_metrics(pair, collar, skip) -> None:
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref, hyp = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = DiarizationErrorRate(collar=2 * collar, skip_overlap=skip)(
            ref, hyp, detailed=True)
    got = evaluate(ref, hyp, collar=collar, skip_overlap=skip, convention="pyannote",
                   jer=False).rows[0]
    assert got["scored"] == pytest.approx(expected["total"], abs=1e-6)
    assert got["missed"] == pytest.approx(expected["missed detection"], abs=1e-6)
    assert got["false_alarm"] == pytest.approx(expected["false alarm"], abs=1e-6)
    assert got["confusion"] == pytest.approx(expected["confusion"], abs=1e-6)
    assert got["der"] == pytest.approx(100 * expected["diarization error rate"], abs=1e-6)
    assert expected["confusion"] > 100  # one label per turn: most speech is confused


@pytest.mark.parametrize(("collar", "skip"), [(0.0, False), (0.25, False), (0.25, True)])
def test_many_labels_md_eval_equals_documented_pyannote_recipe(pair, collar, skip) -> None:
    """evaluation.md's recipe: (inputs already satisfy md-eval's input steps) map with
    ``DiarizationErrorRate().optimal_mapping`` at collar 0 without overlap removal, then score
    the renamed hypothesis with ``IdentificationErrorRate(collar=2c, skip_overlap)``."""
    from pyannote.metrics.diarization import DiarizationErrorRate
    from pyannote.metrics.identification import IdentificationErrorRate

    ref, hyp = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mapping = DiarizationErrorRate().optimal_mapping(ref, hyp)
        expected = IdentificationErrorRate(collar=2 * collar, skip_overlap=skip)(
            ref, hyp.rename_labels(mapping=mapping), detailed=True)
    report = evaluate(ref, hyp, collar=collar, skip_overlap=skip, jer=False)
    got = report.rows[0]
    assert report.mapping["many"] == mapping
    assert got["scored"] == pytest.approx(expected["total"], abs=1e-6)
    assert got["missed"] == pytest.approx(expected["missed detection"], abs=1e-6)
    assert got["false_alarm"] == pytest.approx(expected["false alarm"], abs=1e-6)
    assert got["confusion"] == pytest.approx(expected["confusion"], abs=1e-6)
    assert got["der"] == pytest.approx(100 * expected["identification error rate"], abs=1e-6)


def _slow_jer(ref: Annotation, hyp: Annotation, step: float = 0.01) -> float:
    """dscore's JER, written plainly on frames: 10 ms frames over the UEM (here the extent of
    both sides), the frames of each speaker, IoU of every (reference, system) speaker pair,
    Hungarian pairing (scipy, dense), mean over reference speakers of 1 - IoU (unpaired: 1).

    Frame sets are kept as frame ranges; intersections are counted with the cumulative frame
    count of the side that has few speakers, so the pair matrix stays small to build.
    """
    from scipy.optimize import linear_sum_assignment

    lo = min(ref.get_timeline().extent().start, hyp.get_timeline().extent().start)
    hi = max(ref.get_timeline().extent().end, hyp.get_timeline().extent().end)
    times = step * np.arange(int(hi / step))
    first, last = np.searchsorted(times, lo), np.searchsorted(times, hi)

    def ranges(annotation: Annotation) -> list[list[tuple[int, int]]]:
        """Per label (sorted), its disjoint frame ranges inside the UEM."""
        by_label: dict[str, list[tuple[float, float]]] = {}
        for segment, _, label in annotation.itertracks(yield_label=True):
            by_label.setdefault(label, []).append((segment.start, segment.end))
        out = []
        for label in sorted(by_label):
            spans: list[tuple[int, int]] = []
            for start, end in sorted(by_label[label]):
                a = max(int(np.searchsorted(times, start)), first)
                b = min(int(np.searchsorted(times, end)), last)
                if spans and a <= spans[-1][1]:  # overlapping or touching: one frame set
                    spans[-1] = (spans[-1][0], max(spans[-1][1], b))
                elif b > a:
                    spans.append((a, b))
            out.append(spans)
        return out

    r, h = ranges(ref), ranges(hyp)
    few, many, few_is_ref = (r, h, True) if len(r) <= len(h) else (h, r, False)
    intersect = np.zeros((len(few), len(many)))
    for i, spans in enumerate(few):
        active = np.zeros(times.size + 1, dtype=np.int64)
        for a, b in spans:
            active[a:b] = 1
        count = np.concatenate([[0], np.cumsum(active)])
        for j, other in enumerate(many):
            intersect[i, j] = sum(count[b] - count[a] for a, b in other)
    if not few_is_ref:
        intersect = intersect.T
    r_frames = np.array([sum(b - a for a, b in spans) for spans in r], dtype=np.float64)
    h_frames = np.array([sum(b - a for a, b in spans) for spans in h], dtype=np.float64)
    union = r_frames[:, None] + h_frames[None, :] - intersect
    iou = np.where(union > 0, intersect / np.maximum(union, 1), 0.0)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    jers = np.ones(len(r))
    jers[rows] = 1.0 - iou[rows, cols]
    return 100.0 * float(jers.mean())


def test_many_labels_jer_equals_slow_frame_level_jer(pair) -> None:
    ref, hyp = pair
    report = evaluate(ref, hyp)
    assert report.jer == pytest.approx(_slow_jer(ref, hyp), abs=1e-9)
    assert report.rows[0]["jer"] == report.jer
    # the mirror case: many reference labels against a 10-label "hypothesis"
    mirror = evaluate(hyp, ref)
    assert mirror.jer == pytest.approx(_slow_jer(hyp, ref), abs=1e-9)


def test_sparse_matching_path_gives_the_dense_optimum(pair, monkeypatch) -> None:
    """Many labels on both sides, above DENSE_ASSIGN_MAX_CELLS: the sparse matching reaches
    the same optimum as the dense solver. Without collar or overlap removal DER and JER depend
    only on the optimum's value, not on which of several optimal mappings is chosen."""
    ref, hyp = pair
    both_many = evaluate(hyp, hyp.rename_labels(generator="string"))
    dense = evaluate(ref, hyp).rows[0], evaluate(hyp, ref).rows[0], both_many.rows[0]
    monkeypatch.setattr(_sweep, "DENSE_ASSIGN_MAX_CELLS", 0)
    sparse = evaluate(ref, hyp).rows[0], evaluate(hyp, ref).rows[0], \
        evaluate(hyp, hyp.rename_labels(generator="string")).rows[0]
    for a, b in zip(dense, sparse):
        for column in ("scored", "missed", "false_alarm", "confusion", "der", "jer"):
            assert b[column] == pytest.approx(a[column], abs=1e-9), column
    assert sparse[2]["der"] == pytest.approx(0.0, abs=1e-9)  # identical sides, relabelled


# --------------------------------------------------------------------------- internals


def _dense_cover(sweep: _Sweep, starts, ends, codes, n_labels) -> np.ndarray:
    dense = np.zeros((sweep.n, n_labels), dtype=np.int64)
    for s, e, c in zip(starts.tolist(), ends.tolist(), codes.tolist()):
        if e > s:
            i0, i1 = np.searchsorted(sweep.bounds, [s, e])
            dense[i0:i1, c] += 1
    return dense


@pytest.mark.parametrize("seed", range(20))
def test_sparse_cover_equals_dense_counts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    starts = np.round(rng.uniform(0, 20, n), 1)
    ends = starts + np.round(rng.uniform(0, 5, n), 1) * (rng.random(n) > 0.1)  # some empty
    n_labels = int(rng.integers(1, 8)) if seed % 3 else max(n, 1)  # or one label per turn
    codes = rng.integers(0, n_labels, n)
    sweep = _Sweep(np.concatenate([starts, ends, [0.0, 25.0]]))
    cover = sweep.cover_labels(starts, ends, codes, n_labels)
    dense = np.zeros((sweep.n, n_labels), dtype=np.int64)
    dense[cover.seg, cover.lab] = cover.cnt
    assert np.array_equal(dense, _dense_cover(sweep, starts, ends, codes, n_labels))
    assert np.all(cover.cnt > 0)
    order = np.lexsort((cover.lab, cover.seg))
    assert np.array_equal(order, np.arange(order.size))  # sorted by (segment, label)
    assert np.array_equal(cover.per_segment(), dense.sum(axis=1))


def _sparse_of(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, cols = np.nonzero(dense)
    return rows, cols, dense[rows, cols]


@pytest.mark.parametrize("seed", range(150))
def test_assign_entries_equals_assign_max_without_zero_pairs(seed: int) -> None:
    """Same pairs as assign_max on the dense matrix (zero-weight pairs left out), ties included:
    small integer weights, many all-zero rows and columns, DP and dense-scipy paths."""
    rng = np.random.default_rng(seed)
    small = int(rng.integers(1, 14))
    big = int(rng.integers(1, 80))
    shape = (big, small) if seed % 2 else (small, big)
    dense = rng.integers(0, 4, shape) * (rng.random(shape) < rng.uniform(0.05, 0.6))
    dense[rng.random(shape[0]) < 0.3] = 0  # all-zero rows
    dense = dense.astype(np.float64)
    rows, cols, weights = _sparse_of(dense)
    chosen = _assign_entries(rows, cols, weights, *shape)
    expected = [(r, c) for r, c in assign_max(dense) if dense[r, c] > 0]
    assert list(zip(rows[chosen].tolist(), cols[chosen].tolist())) == expected


@pytest.mark.parametrize("seed", range(40))
def test_sparse_matching_path_is_optimal(seed: int, monkeypatch) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(11, 60)), int(rng.integers(11, 60)))
    dense = rng.random(shape) * (rng.random(shape) < 0.1)
    if seed % 4 == 0:
        dense = np.round(dense * 3)  # ties
    rows, cols, weights = _sparse_of(dense)
    expected = math.fsum(dense[r, c] for r, c in assign_max(dense))
    monkeypatch.setattr(_sweep, "DENSE_ASSIGN_MAX_CELLS", 0)
    chosen = _assign_entries(rows, cols, weights, *shape)
    assert len(set(rows[chosen].tolist())) == len(set(cols[chosen].tolist())) == chosen.size
    assert math.fsum(weights[chosen].tolist()) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert np.all(weights[chosen] > 0)

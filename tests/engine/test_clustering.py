from __future__ import annotations

import numpy as np
import pytest

from pyannote_notebook.engine import clustering
from pyannote_notebook.engine.clustering import (
    ClusteringParams,
    cluster,
    estimate_count,
    merge_similar,
)


def _blobs(n_per: list[int], dim: int = 32, spread: float = 0.15, seed: int = 0):
    rng = np.random.default_rng(seed)
    # non-negative like GE2E (ReLU) embeddings; squared half-normal centres have an expected
    # cosine of 1/3 between clusters, below the merge threshold as distinct voices are
    centres = rng.standard_normal((len(n_per), dim)) ** 2
    xs, ys = [], []
    for k, n in enumerate(n_per):
        xs.append(centres[k] + spread * rng.standard_normal((n, dim)))
        ys.extend([k] * n)
    order = rng.permutation(len(ys))
    return np.concatenate(xs)[order], np.array(ys)[order]


def _purity(labels: np.ndarray, truth: np.ndarray) -> float:
    total = 0
    for k in np.unique(labels):
        total += np.bincount(truth[labels == k]).max()
    return total / len(truth)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_automatic_count_on_separated_clusters(k):
    x, y = _blobs([40] * k, seed=k)
    labels = cluster(x, min_speakers=1, max_speakers=8)
    assert len(np.unique(labels)) == k
    assert _purity(labels, y) == 1.0


def test_fixed_count_is_honoured_even_against_the_data():
    x, _ = _blobs([50, 50], seed=7)
    assert len(np.unique(cluster(x, num_speakers=3))) == 3
    assert len(np.unique(cluster(x, num_speakers=1))) == 1


def test_bounds_are_honoured():
    x, _ = _blobs([30] * 4, seed=3)
    assert len(np.unique(cluster(x, min_speakers=1, max_speakers=2))) <= 2
    x, _ = _blobs([60], seed=4)
    assert len(np.unique(cluster(x, min_speakers=3, max_speakers=5))) >= 3


def test_labels_numbered_by_first_appearance():
    x, _ = _blobs([20, 20, 20], seed=5)
    labels = cluster(x, num_speakers=3)
    firsts = [int(np.flatnonzero(labels == k)[0]) for k in range(3)]
    assert firsts == sorted(firsts) and labels[0] == 0


def test_estimate_count_picks_largest_ratio_within_bounds():
    ev = np.array([10.0, 9.5, 9.0, 1.0, 0.9, 0.1])
    assert estimate_count(ev, 1, 5) == 3
    # within [1, 2]: ratios 10/9.5 = 1.053 and 9.5/9.0 = 1.056 -> 2
    assert estimate_count(ev, 1, 2) == 2
    # the upper bound is capped at n - 1
    assert estimate_count(np.array([5.0, 1.0]), 1, 10) == 1


def test_long_input_never_builds_n_by_n(monkeypatch):
    """Above max_points, the affinity matrix is built on <= max_points group means only, and
    windows are reassigned to speaker centroids (turns of 5-30 windows, 4 speakers)."""
    rng = np.random.default_rng(11)
    centres = rng.standard_normal((4, 32)) ** 2
    truth = np.concatenate([np.full(rng.integers(5, 31), rng.integers(0, 4)) for _ in range(200)])
    x = centres[truth] + 0.15 * rng.standard_normal((len(truth), 32))
    sizes = []
    real = clustering._cosine_affinity

    def spy(points):
        sizes.append(len(points))
        return real(points)

    monkeypatch.setattr(clustering, "_cosine_affinity", spy)
    labels = cluster(x, min_speakers=1, max_speakers=6,
                     params=ClusteringParams(max_points=300))
    assert len(truth) > 3000 and sizes and max(sizes) <= 300
    assert len(np.unique(labels)) == 4
    assert _purity(labels, truth) > 0.99


def _two_groups(cross_cosine: float, n: int = 8, dim: int = 16, *, tight: bool = False
                ) -> np.ndarray:
    """Group A: n copies of e0; group B: n unit vectors whose cosine with e0 is cross_cosine
    (so the average-linkage similarity of A and B is exactly cross_cosine). B's vectors are
    spread over different axes (mutually less similar), or all the same one if ``tight``."""
    a = np.zeros((n, dim))
    a[:, 0] = 1.0
    b = np.zeros((n, dim))
    b[:, 0] = cross_cosine
    axes = np.ones(n, dtype=int) if tight else 1 + np.arange(n) % (dim - 1)
    b[np.arange(n), axes] = np.sqrt(1 - cross_cosine ** 2)
    return np.concatenate([a, b])


def test_merge_similar_uses_average_linkage_and_the_threshold():
    labels = np.array([0] * 8 + [5] * 8)
    # B's windows are mutually dissimilar but their mean is close to A: mean cross cosine 0.75
    merged = merge_similar(_two_groups(0.75), labels, 0.71)
    assert set(merged) == {0}
    kept = merge_similar(_two_groups(0.65), labels, 0.71)
    assert kept.tolist() == labels.tolist()
    # min_clusters stops merging even above the threshold
    assert set(merge_similar(_two_groups(0.9), labels, 0.71, min_clusters=2)) == {0, 5}


def test_merge_takes_the_most_similar_pair_first():
    rng = np.random.default_rng(2)
    base = rng.standard_normal(16) ** 2
    other = rng.standard_normal(16) ** 2
    x = np.stack([base] * 4 + [base + 0.1 * other] * 4 + [other] * 4)
    labels = np.repeat([0, 1, 2], 4)
    out = merge_similar(x, labels, 0.71)
    assert out.tolist() == [0] * 8 + [2] * 4


def test_automatic_count_merges_split_speaker_but_fixed_count_does_not():
    """Two halves of one voice (mean cross cosine 0.75, like one espeak voice over two turns)
    are one speaker when the count is estimated; num_speakers=2 keeps them apart."""
    x = _two_groups(0.75, tight=True)
    assert cluster(x).tolist() == [0] * 16
    assert sorted(np.bincount(cluster(x, num_speakers=2)).tolist()) == [8, 8]
    # min_speakers wins over the merge
    assert len(np.unique(cluster(x, min_speakers=2, max_speakers=4))) == 2
    # distinct, compact voices (cosine 0.65) stay apart; at 0.75 they are merged
    assert cluster(_two_groups(0.65, tight=True)).tolist() == [0] * 8 + [1] * 8
    assert cluster(_two_groups(0.75, tight=True)).tolist() == [0] * 16
    # ... by the merge: the spectral step alone finds two
    no_merge = ClusteringParams(merge_threshold=None)
    assert cluster(_two_groups(0.75, tight=True), params=no_merge).tolist() == [0] * 8 + [1] * 8


def test_eigengap_search_bounded_by_windows_per_speaker(monkeypatch):
    calls = []
    real = clustering.estimate_count

    def spy(evals, lo, hi):
        calls.append((lo, hi))
        return real(evals, lo, hi)

    monkeypatch.setattr(clustering, "estimate_count", spy)
    x, _ = _blobs([8, 8], seed=1)
    cluster(x, min_speakers=1, max_speakers=10)
    cluster(x, min_speakers=6, max_speakers=10)  # min_speakers wins over the evidence bound
    cluster(x, min_speakers=1, max_speakers=10,
            params=ClusteringParams(min_windows_per_speaker=2))
    assert calls == [(1, 4), (6, 6), (1, 8)]

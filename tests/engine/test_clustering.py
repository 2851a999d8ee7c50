from __future__ import annotations

import numpy as np
import pytest

from pyannote_notebook.engine import clustering
from pyannote_notebook.engine.clustering import ClusteringParams, cluster, estimate_count


def _blobs(n_per: list[int], dim: int = 32, spread: float = 0.15, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = np.abs(rng.standard_normal((len(n_per), dim)))
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
    centres = np.abs(rng.standard_normal((4, 32)))
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

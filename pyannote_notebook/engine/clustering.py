"""Spectral clustering of speaker embeddings with an automatic speaker count.

Why hand-written: the method (Wang et al., "Speaker diarization with LSTM", ICASSP 2018, as in
Google's ``spectralcluster`` package) is ~60 lines of numpy/scipy on top of
:func:`numpy.linalg.eigh` and :func:`scipy.cluster.vq.kmeans2`; depending on ``spectralcluster``
would pull scikit-learn for one call. Steps on the cosine affinity matrix: crop the diagonal,
Gaussian blur (only when rows are in time order), row-wise percentile threshold, symmetrise,
diffuse (``Y Y^T``), row-normalise by the maximum (the blur is off by default: on 1.5 s
windows it merged short turns into their neighbours; row-wise percentile 0.8 found the right
count on 7 of 9 test files, 0.9-0.95 overestimated it); then the eigengap ratio
``lambda_k / lambda_{k+1}`` picks the count within ``[min_speakers, max_speakers]`` and k-means
on the top-k eigenvectors gives the labels.

Automatic count on few windows (short clips). The row-wise percentile keeps only the top 20 % of
each row; with 15-20 windows that is 3-4 neighbours, which are the windows of the same *turn*,
so the graph falls apart into turns and the eigengap over-counts (a 15 s two-voice dialogue of 4
turns gave 4-10 speakers). Two rules bound the estimate (they never apply to a fixed
``num_speakers``):

1. Evidence: a speaker needs at least ``min_windows_per_speaker`` (4) windows, i.e. about 3 s
   of speech, so the eigengap search stops at ``max(min_speakers, n // 4)``.
2. Merge: after clustering, the two clusters with the highest average-linkage similarity (the
   mean cosine over all cross pairs of windows, which equals the dot product of the clusters'
   mean unit embeddings, so it costs O(n d)) are merged while that similarity is at least
   ``merge_threshold`` (0.71) and more than ``min_speakers`` clusters remain; a single speaker
   is therefore still possible. Calibration of 0.71 on the GE2E encoder with 1.5 s windows:
   between two halves of one speaker the mean cross cosine was >= 0.74 (espeak voices; windows
   of one real speaker of pyannote's sample average 0.785); between different speakers it was
   <= 0.69 (0.658 on the real sample, 0.55-0.66 between distinct espeak voices, ~0.69 when fast
   turns make windows straddle both speakers). Splitting a single voice started at a
   threshold of 0.74, merging two speakers at 0.68: the margin is about +-0.03, so
   the rule is a safeguard for short clips, not a substitute for ``num_speakers``.
   Voices the encoder cannot separate (espeak ``en+m3`` and ``en-gb-scotland+m1``: centroid
   cosine 0.93) are merged whatever the clustering does.

Long recordings: above ``max_points`` embeddings, consecutive windows are averaged in groups of
``ceil(n / max_points)`` (neighbouring windows are mostly the same speaker; k-means with 1500
centres took minutes here), the spectral step runs on those <= ``max_points`` group means, and
finally every window is reassigned to the nearest speaker centroid (cosine), which repairs the
groups that straddle a speaker change. Memory stays O(max_points^2 + n), never O(n^2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ClusteringParams", "cluster", "refine_affinity", "estimate_count",
           "merge_similar"]


@dataclass(frozen=True)
class ClusteringParams:
    """Knobs of the spectral clustering (defaults tuned on the sample and espeak data)."""

    p_percentile: float = 0.80
    soft_multiplier: float = 0.01
    blur_sigma: float = 0.0
    max_points: int = 1500
    kmeans_restarts: int = 10
    seed: int = 0
    min_windows_per_speaker: int = 4
    merge_threshold: float | None = 0.71


def _cosine_affinity(x: np.ndarray) -> np.ndarray:
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.clip(x @ x.T, -1.0, 1.0).astype(np.float64)


def refine_affinity(a: np.ndarray, params: ClusteringParams, *, temporal: bool) -> np.ndarray:
    """Apply the refinement sequence of the module docstring to affinity ``a`` (n x n)."""
    from scipy.ndimage import gaussian_filter

    a = np.array(a, dtype=np.float64, copy=True)
    n = a.shape[0]
    # crop diagonal: replace self-similarity by the row's largest other value
    np.fill_diagonal(a, -np.inf)
    np.fill_diagonal(a, a.max(axis=1) if n > 1 else 1.0)
    if temporal and params.blur_sigma > 0 and n > 2:
        a = gaussian_filter(a, sigma=params.blur_sigma, mode="nearest")
    # row-wise threshold: keep the top (1 - p) share of each row, damp the rest
    thresh = np.percentile(a, params.p_percentile * 100, axis=1)[:, None]
    a = np.where(a < thresh, a * params.soft_multiplier, a)
    a = np.maximum(a, a.T)
    a = a @ a.T
    a = a / np.maximum(a.max(axis=1, keepdims=True), 1e-12)
    return a


def estimate_count(eigenvalues: np.ndarray, min_k: int, max_k: int) -> int:
    """Speaker count by the largest eigengap ratio ``lambda_k / lambda_{k+1}`` within bounds.

    ``eigenvalues`` must be sorted in decreasing order.
    """
    n = len(eigenvalues)
    max_k = min(max_k, n - 1) if n > 1 else 1
    min_k = min(min_k, max_k)
    best_k, best_gap = min_k, -np.inf
    for k in range(min_k, max_k + 1):
        gap = eigenvalues[k - 1] / max(eigenvalues[k], 1e-10)
        if gap > best_gap:
            best_k, best_gap = k, gap
    return best_k


def _kmeans(x: np.ndarray, k: int, params: ClusteringParams, *, restarts: int | None = None,
            weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """k-means with several k-means++ restarts; returns (centroids, labels) of the best run."""
    from scipy.cluster.vq import kmeans2

    if k >= len(x):
        return x.copy(), np.arange(len(x))
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    rng = np.random.default_rng(params.seed)
    for _ in range(restarts or params.kmeans_restarts):
        cent, lab = kmeans2(x, k, iter=30, minit="++", seed=rng)
        d = np.sum((x - cent[lab]) ** 2, axis=1)
        inertia = float(np.sum(d * weights) if weights is not None else np.sum(d))
        if best is None or inertia < best[0]:
            best = (inertia, cent, lab)
    assert best is not None
    return best[1], best[2]


def _reassign(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Give every row the label of its nearest (cosine) cluster centroid; keep the input labels
    if that would empty a cluster."""
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    ks = np.unique(labels)
    cents = np.stack([unit[labels == k].mean(axis=0) for k in ks])
    cents /= np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-12)
    new = ks[np.argmax(unit @ cents.T, axis=1)]
    return new if len(np.unique(new)) == len(ks) else labels


def merge_similar(embeddings: np.ndarray, labels: np.ndarray, threshold: float, *,
                  min_clusters: int = 1) -> np.ndarray:
    """Merge clusters by average linkage while their similarity is at least ``threshold``.

    The average-linkage similarity of clusters A and B is the mean cosine over all pairs
    (a in A, b in B), computed as the dot product of their mean unit embeddings. The most
    similar pair is merged first; merging stops below ``threshold`` or at ``min_clusters``.

    Returns
    -------
    numpy.ndarray
        New labels (a subset of the input label values; not renumbered).
    """
    unit = np.asarray(embeddings, dtype=np.float64)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    labels = np.array(labels, copy=True)
    ks = list(np.unique(labels))
    sums = {k: unit[labels == k].sum(axis=0) for k in ks}
    counts = {k: int(np.sum(labels == k)) for k in ks}
    while len(ks) > max(1, min_clusters):
        means = np.stack([sums[k] / counts[k] for k in ks])
        sim = means @ means.T
        np.fill_diagonal(sim, -np.inf)
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] < threshold:
            break
        keep, gone = ks[i], ks[j]
        labels[labels == gone] = keep
        sums[keep] = sums[keep] + sums.pop(gone)
        counts[keep] += counts.pop(gone)
        ks.remove(gone)
    return labels


def cluster(embeddings: np.ndarray, *, num_speakers: int | None = None, min_speakers: int = 1,
            max_speakers: int = 20, params: ClusteringParams = ClusteringParams()
            ) -> np.ndarray:
    """Cluster ``embeddings`` (n x d, rows in time order) into speakers.

    Parameters
    ----------
    embeddings : numpy.ndarray
        One row per window.
    num_speakers : int, optional
        Fixed count (capped at ``n``); otherwise the count is estimated within
        ``[min_speakers, max_speakers]``, the upper bound further limited to
        ``n // params.min_windows_per_speaker`` and the result reduced by
        :func:`merge_similar` (see the module docstring).
    min_speakers, max_speakers : int
        Bounds of the estimated count; ``min_speakers`` wins over both limits above.
    params : ClusteringParams
        Knobs (defaults calibrated on the GE2E encoder with 1.5 s windows).

    Returns
    -------
    numpy.ndarray
        ``int`` labels of length ``n`` in ``0..k-1``, numbered by first appearance.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=int)
    if n == 1:
        return np.zeros(1, dtype=int)
    groups: np.ndarray | None = None
    points = x
    if n > params.max_points:
        size = -(-n // params.max_points)
        groups = np.arange(n) // size
        unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        sums = np.zeros((groups[-1] + 1, x.shape[1]))
        np.add.at(sums, groups, unit)
        points = sums
    m = len(points)
    a = refine_affinity(_cosine_affinity(points), params, temporal=True)
    a = (a + a.T) / 2
    evals, evecs = np.linalg.eigh(a)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    if num_speakers is not None:
        k = max(1, min(int(num_speakers), m))
    else:
        lo = max(1, min_speakers)
        evidence = n // max(1, params.min_windows_per_speaker)
        k = estimate_count(evals, lo, max(lo, min(max_speakers, evidence)))
    if k == 1:
        labels = np.zeros(m, dtype=int)
    else:
        spec = evecs[:, :k]
        spec = spec / np.maximum(np.linalg.norm(spec, axis=1, keepdims=True), 1e-12)
        _, labels = _kmeans(spec, k, params)
        # k-means may leave a cluster empty; a fixed count must still be honoured
        if num_speakers is not None and len(np.unique(labels)) < k:
            _, labels = _kmeans(spec, k, params, restarts=30)
    if groups is not None:
        labels = _reassign(x, labels[groups])
    if num_speakers is None and params.merge_threshold is not None:
        labels = merge_similar(x, labels, params.merge_threshold,
                               min_clusters=max(1, min_speakers))
    # renumber by first appearance
    _, first = np.unique(labels, return_index=True)
    order_of_first = np.argsort(first)
    relabel = np.empty(labels.max() + 1, dtype=int)
    relabel[np.unique(labels)[order_of_first]] = np.arange(len(order_of_first))
    return relabel[labels]

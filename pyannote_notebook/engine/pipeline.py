"""The offline diarization pipeline: VAD -> sliding-window embeddings -> clustering -> turns.

Steps (the defaults follow measurements on real and synthetic speech; see benchmarks/RESULTS.md):

1. silero VAD regions;
2. 1.5 s windows every 0.75 s inside each region (the last one aligned to the region's end);
   a region of 0.5-1.5 s gives one window of its own length; shorter regions get no window
   and take the label of the nearest window;
3. GE2E embeddings of every window;
4. spectral clustering (count estimated within bounds, or fixed; on short clips the estimate is
   bounded by the number of windows and similar clusters are merged: see
   :mod:`pyannote_notebook.engine.clustering`);
5. 10 ms frames of speech take the label of the nearest window centre, runs shorter than 0.3 s
   are merged into a neighbour, and the runs become turns.

Overlapped speech is not modelled: every instant belongs to at most one speaker, so
``diarization`` and ``exclusiveDiarization`` hold the same turns (the shape still follows the
cloud's, so callers can rely on both keys).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pyannote_notebook.engine.audio import SAMPLE_RATE, load_audio
from pyannote_notebook.errors import InvalidOption

__all__ = ["PipelineParams", "Diarization", "run_pipeline", "diarize", "format_output",
           "validate_counts", "SHORT_SPEECH_SECONDS"]

FRAME = 0.01
SHORT_SPEECH_SECONDS = 60.0


@dataclass(frozen=True)
class PipelineParams:
    """Window geometry and smoothing of the pipeline (seconds)."""

    window: float = 1.5
    step: float = 0.75
    min_window: float = 0.5
    min_segment: float = 0.3
    max_speakers_default: int = 10


@dataclass
class Diarization:
    """Internal result: turns with integer speaker ids plus what the output needs."""

    turns: list[tuple[float, float, int]]
    n_speakers: int
    speech_seconds: float
    duration: float
    estimated: bool
    embeddings: np.ndarray = field(repr=False)
    window_labels: np.ndarray = field(repr=False)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def validate_counts(num_speakers: int | None, min_speakers: int | None,
                    max_speakers: int | None) -> None:
    """Raise :class:`InvalidOption` for inconsistent speaker-count options (the cloud's rules)."""
    for name, value in (("num_speakers", num_speakers), ("min_speakers", min_speakers),
                        ("max_speakers", max_speakers)):
        if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
            raise InvalidOption(name, f"must be an integer >= 1, got {value!r}")
    if num_speakers is not None and (min_speakers is not None or max_speakers is not None):
        raise InvalidOption("num_speakers", "cannot be combined with min_speakers/max_speakers")
    if min_speakers is not None and max_speakers is not None and min_speakers > max_speakers:
        raise InvalidOption("min_speakers",
                            f"must be <= max_speakers ({min_speakers} > {max_speakers})")


def _windows(regions: list[tuple[float, float]], p: PipelineParams
             ) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    w = int(round(p.window * SAMPLE_RATE))
    step = int(round(p.step * SAMPLE_RATE))
    for s, e in regions:
        si, ei = int(round(s * SAMPLE_RATE)), int(round(e * SAMPLE_RATE))
        length = ei - si
        if length < p.min_window * SAMPLE_RATE:
            continue
        if length <= w:
            out.append((si, ei))
            continue
        starts = list(range(si, ei - w + 1, step))
        if starts[-1] + w < ei:
            starts.append(ei - w)
        out.extend((st, st + w) for st in starts)
    return out


def _embed(wav: np.ndarray, windows: list[tuple[int, int]], *, batch_size: int = 64
           ) -> np.ndarray:
    from pyannote_notebook.engine.encoder import EMBEDDING_DIM, get_encoder

    enc = get_encoder()
    emb = np.zeros((len(windows), EMBEDDING_DIM), dtype=np.float32)
    by_len: dict[int, list[int]] = {}
    for i, (s, e) in enumerate(windows):
        by_len.setdefault(e - s, []).append(i)
    for idx in by_len.values():
        for b in range(0, len(idx), batch_size):  # stack one batch at a time: bounded memory
            part = idx[b:b + batch_size]
            batch = np.stack([wav[windows[i][0]:windows[i][1]] for i in part])
            emb[part] = enc.embed_batch(batch, batch_size=batch_size)
    return emb


def _frame_labels(regions: list[tuple[float, float]], windows: list[tuple[int, int]],
                  labels: np.ndarray, n_frames: int) -> np.ndarray:
    """Label of every 10 ms frame (-1 for non-speech)."""
    frames = np.full(n_frames, -1, dtype=int)
    if not windows:
        return frames
    centres = np.array([(s + e) / 2 / SAMPLE_RATE for s, e in windows])
    order = np.argsort(centres, kind="stable")
    centres, labels = centres[order], labels[order]
    for s, e in regions:
        a, b = int(round(s / FRAME)), min(n_frames, int(round(e / FRAME)))
        if b <= a:
            continue
        t = (np.arange(a, b) + 0.5) * FRAME
        j = np.clip(np.searchsorted(centres, t), 1, len(centres) - 1) if len(centres) > 1 \
            else np.zeros(b - a, dtype=int)
        if len(centres) > 1:
            left = j - 1
            nearer_left = np.abs(t - centres[left]) <= np.abs(centres[j] - t)
            j = np.where(nearer_left, left, j)
        frames[a:b] = labels[j]
    return frames


def _runs(frames: np.ndarray) -> list[list[int]]:
    """Runs ``[label, start_frame, end_frame]`` of equal labels (including -1)."""
    if len(frames) == 0:
        return []
    change = np.flatnonzero(np.diff(frames)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(frames)]])
    return [[int(frames[s]), int(s), int(e)] for s, e in zip(starts, ends)]


def _smooth(frames: np.ndarray, min_frames: int) -> np.ndarray:
    """Merge speech runs shorter than ``min_frames`` into the longer adjacent speech run."""
    frames = frames.copy()
    for _ in range(3):
        runs = _runs(frames)
        changed = False
        for i, (lab, s, e) in enumerate(runs):
            if lab < 0 or e - s >= min_frames:
                continue
            prev = runs[i - 1] if i > 0 and runs[i - 1][0] >= 0 else None
            nxt = runs[i + 1] if i + 1 < len(runs) and runs[i + 1][0] >= 0 else None
            cands = [r for r in (prev, nxt) if r is not None and r[0] != lab]
            if not cands:
                continue
            target = max(cands, key=lambda r: r[2] - r[1])
            frames[s:e] = target[0]
            changed = True
        if not changed:
            break
    return frames


def run_pipeline(wav: np.ndarray, *, num_speakers: int | None = None,
                 min_speakers: int | None = None, max_speakers: int | None = None,
                 params: PipelineParams = PipelineParams(),
                 on_stage: Callable[[str, str], None] | None = None) -> Diarization:
    """Diarize 16 kHz mono ``wav``; see the module docstring.

    ``on_stage(stage, "start" | "end")``, when given, is called around each timed stage
    (``vad``, ``embeddings``, ``clustering``, ``turns``): a hook for measurements (e.g. the
    benchmark's per-stage peak memory); it does not change the result.

    Raises
    ------
    InvalidOption
        Inconsistent speaker counts.
    WeightsMissing, EngineError
        Weights missing or unreadable.
    """
    from threadpoolctl import threadpool_limits

    validate_counts(num_speakers, min_speakers, max_speakers)
    # One BLAS thread for the whole run. The matrices are small (256-dim embeddings, a few
    # thousand windows), so threads buy little and lose a lot as soon as anything else shares
    # the cores: on 2 cores at load ~2, the 22.5 min benchmark took 33.5 s with OpenBLAS's 2
    # threads (clustering 10.8 s, spinning) and 12.3 s with one (clustering 0.7 s).
    with threadpool_limits(limits=1, user_api="blas"):
        return _run_pipeline(wav, num_speakers=num_speakers, min_speakers=min_speakers,
                             max_speakers=max_speakers, params=params, on_stage=on_stage)


def _run_pipeline(wav: np.ndarray, *, num_speakers: int | None, min_speakers: int | None,
                  max_speakers: int | None, params: PipelineParams,
                  on_stage: Callable[[str, str], None] | None) -> Diarization:
    from pyannote_notebook.engine.clustering import cluster
    from pyannote_notebook.engine.vad import speech_regions

    timings: dict[str, float] = {}
    warnings: list[str] = []
    duration = len(wav) / SAMPLE_RATE

    def mark(stage: str, phase: str) -> None:
        if on_stage is not None:
            on_stage(stage, phase)

    mark("vad", "start")
    t0 = time.perf_counter()
    regions = speech_regions(wav)
    timings["vad"] = time.perf_counter() - t0
    mark("vad", "end")
    speech = float(sum(e - s for s, e in regions))
    windows = _windows(regions, params)
    mark("embeddings", "start")
    t0 = time.perf_counter()
    emb = _embed(wav, windows) if windows else np.zeros((0, 256), dtype=np.float32)
    timings["embeddings"] = time.perf_counter() - t0
    mark("embeddings", "end")
    mark("clustering", "start")
    t0 = time.perf_counter()
    lo = min_speakers or 1
    hi = max_speakers or max(lo, params.max_speakers_default)
    labels = cluster(emb, num_speakers=num_speakers, min_speakers=lo, max_speakers=hi)
    timings["clustering"] = time.perf_counter() - t0
    mark("clustering", "end")
    n_found = int(labels.max() + 1) if len(labels) else 0
    estimated = num_speakers is None and (min_speakers is None or max_speakers is None
                                          or min_speakers != max_speakers)
    wanted = num_speakers if num_speakers is not None else (
        min_speakers if min_speakers is not None and min_speakers == max_speakers else None)
    if wanted is not None and n_found < wanted:
        warnings.append(f"requested {wanted} speakers but only {n_found} could be told apart in "
                        f"{speech:.1f} s of speech")
    elif min_speakers is not None and n_found < min_speakers and len(labels):
        warnings.append(f"minSpeakers={min_speakers} could not be honoured: only {n_found} "
                        f"speakers in {speech:.1f} s of speech")
    if estimated and len(labels) and speech < SHORT_SPEECH_SECONDS:
        warnings.append(f"the number of speakers ({n_found}) was estimated on only {speech:.1f} s "
                        "of speech and may be wrong; set numSpeakers if you know it")
    if not regions:
        warnings.append("no speech was detected")
    n_frames = int(np.ceil(duration / FRAME))
    mark("turns", "start")
    t0 = time.perf_counter()
    frames = _frame_labels(regions, windows, labels, n_frames)
    frames = _smooth(frames, int(round(params.min_segment / FRAME)))
    turns = [(s * FRAME, min(e * FRAME, duration), lab) for lab, s, e in _runs(frames) if lab >= 0]
    timings["turns"] = time.perf_counter() - t0
    mark("turns", "end")
    speakers = sorted({t[2] for t in turns})
    return Diarization(turns, len(speakers), speech, duration, estimated, emb, labels,
                       warnings, timings)


def format_output(d: Diarization, *, exclusive: bool = True) -> dict:
    """Cloud-shaped output dict: labels ``SPEAKER_%02d`` by first appearance, times in ms."""
    order: dict[int, str] = {}
    for _, _, lab in sorted(d.turns):
        order.setdefault(lab, f"SPEAKER_{len(order):02d}")
    segs = [{"speaker": order[lab], "start": round(s, 3), "end": round(e, 3)}
            for s, e, lab in sorted(d.turns) if round(e, 3) > round(s, 3)]
    out: dict = {"diarization": segs}
    if exclusive:
        out["exclusiveDiarization"] = [dict(s) for s in segs]
    if d.warnings:
        out["warning"] = "; ".join(d.warnings)
    return out


def diarize(audio: str | Path | np.ndarray, *, num_speakers: int | None = None,
            min_speakers: int | None = None, max_speakers: int | None = None,
            exclusive: bool = True, sample_rate: int | None = None) -> dict:
    """Diarize a file or an array offline; return the cloud-shaped output dict.

    Parameters
    ----------
    audio : str, Path or numpy.ndarray
        Audio file (anything soundfile reads) or samples (then give ``sample_rate``):
        ``(frames,)`` or ``(frames, channels)``; ``(channels, frames)`` only when unambiguous
        (see :func:`pyannote_notebook.engine.audio.to_mono_16k`).
    num_speakers : int, optional
        Exact number of speakers; cannot be combined with ``min_speakers``/``max_speakers``.
    min_speakers, max_speakers : int, optional
        Bounds of the estimated count (default 1 and 10).
    exclusive : bool
        Also return ``exclusiveDiarization``.
    sample_rate : int, optional
        Rate of an array input.

    Returns
    -------
    dict
        ``{"diarization": [{"speaker", "start", "end"}...], "exclusiveDiarization": [...],
        "warning"?: str}``; segments sorted by start, times rounded to the millisecond.

    Raises
    ------
    AudioError
        Unreadable or empty audio (the message names the file), or a 2-D array of ambiguous
        layout (the message names its shape).
    InvalidOption
        Inconsistent speaker counts or an array without ``sample_rate``.
    WeightsMissing
        The model weights are not installed (the message gives the pip command).

    Notes
    -----
    Runs in the calling thread, with no timeout; it takes about 2 % of the audio duration on
    2 cores.
    """
    validate_counts(num_speakers, min_speakers, max_speakers)
    wav, _ = load_audio(audio, sample_rate)
    d = run_pipeline(wav, num_speakers=num_speakers, min_speakers=min_speakers,
                     max_speakers=max_speakers)
    return format_output(d, exclusive=exclusive)

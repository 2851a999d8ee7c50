"""Voice activity detection with silero-vad's ONNX model (onnxruntime, no torch).

The model is recurrent: it eats 512-sample chunks (32 ms at 16 kHz) preceded by the last 64
samples of the previous chunk, carrying a ``(2, batch, 128)`` state. Calling it once per chunk
from Python costs ~0.1 ms of overhead per call, so recordings of 120 s or more are cut into up
to ``max_streams`` contiguous streams of at least 60 s, run as one batch. The model's state has a
long memory: a stream started from a zero state in the middle of speech scored it as silence for
~0.5 s (probability 0.04-0.6 instead of 1.0, which split a region in two), differed from the
single stream by more than 0.1 for ~3 s and by more than 0.01 for ~20 s. So every stream but the
first starts ``warmup_seconds`` (20 s) before its part and the warm-up probabilities are dropped:
on pyannote's sample repeated to 137-390 s (2-6 streams) and on a 22.5 min synthetic recording
(16 streams) the regions then match a single stream's (same count, boundaries within one 32 ms
chunk, identical in 5 of 7 cases; chunk probabilities within 0.075). Cost: ``warmup_seconds`` of
extra batched steps (+18 % VAD time on the 22.5 min recording, ~0.6 s).

Post-processing (hand-written, ~30 lines, as in silero's ``get_speech_timestamps``): hysteresis
(on at 0.5, off below 0.35), drop speech shorter than 0.25 s, bridge silences shorter than 0.2 s,
pad each region by 30 ms.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from pyannote_notebook.engine.audio import SAMPLE_RATE
from pyannote_notebook.engine.weights import SILERO_VAD, locate

__all__ = ["VADParams", "speech_probabilities", "regions_from_probabilities", "speech_regions",
           "stream_layout", "get_session"]

CHUNK = 512
CONTEXT = 64

_session = None
_session_lock = threading.Lock()


@dataclass(frozen=True)
class VADParams:
    """Thresholds of the speech/non-speech decision (seconds and probabilities)."""

    onset: float = 0.5
    offset: float = 0.35
    min_speech: float = 0.25
    min_silence: float = 0.2
    pad: float = 0.03


def get_session():  # -> onnxruntime.InferenceSession
    """Return the process-wide silero session (created once; onnxruntime sessions are
    thread-safe for ``run``).

    Raises
    ------
    WeightsMissing
        silero-vad is not installed.
    """
    global _session
    with _session_lock:
        if _session is None:
            import onnxruntime as ort

            path = locate(SILERO_VAD)
            opts = ort.SessionOptions()
            opts.inter_op_num_threads = 1
            opts.intra_op_num_threads = 1
            opts.log_severity_level = 3
            _session = ort.InferenceSession(str(path), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        return _session


def stream_layout(n_samples: int, *, max_streams: int = 16, min_stream_seconds: float = 60.0,
                  warmup_seconds: float = 20.0) -> tuple[int, int, int]:
    """How :func:`speech_probabilities` batches ``n_samples``: ``(streams, chunks per stream,
    warm-up chunks)``.

    One stream below ``2 * min_stream_seconds``; otherwise as many streams of at least
    ``min_stream_seconds`` as fit, up to ``max_streams``. The warm-up is 0 for one stream and
    at most one stream long.
    """
    full_chunks = n_samples // CHUNK
    min_chunks = int(min_stream_seconds * SAMPLE_RATE / CHUNK)
    n_streams = int(max(1, min(max_streams, full_chunks // max(1, min_chunks))))
    per_stream = full_chunks // n_streams
    warm = 0 if n_streams == 1 else min(per_stream,
                                        int(round(warmup_seconds * SAMPLE_RATE / CHUNK)))
    return n_streams, per_stream, warm


def speech_probabilities(wav: np.ndarray, *, max_streams: int = 16,
                         min_stream_seconds: float = 60.0,
                         warmup_seconds: float = 20.0) -> np.ndarray:
    """Speech probability of each 32 ms chunk of 16 kHz mono ``wav``.

    Parameters
    ----------
    wav : numpy.ndarray
        16 kHz mono samples.
    max_streams, min_stream_seconds, warmup_seconds
        Batching (see the module docstring and :func:`stream_layout`); ``max_streams=1`` runs
        the whole recording as one stream, chunk after chunk (the reference result, ~2x slower
        on long recordings).

    Returns
    -------
    numpy.ndarray
        ``float32`` of length ``ceil(len(wav) / 512)``; chunk ``i`` covers samples
        ``[512 i, 512 (i + 1))``.
    """
    session = get_session()
    wav = np.ascontiguousarray(wav, dtype=np.float32)
    n_chunks = max(1, -(-len(wav) // CHUNK))
    n_streams, per_stream, warm = stream_layout(len(wav), max_streams=max_streams,
                                                min_stream_seconds=min_stream_seconds,
                                                warmup_seconds=warmup_seconds)
    # chunks is a view of the signal (no copy). Stream k covers chunks [k per, (k + 1) per);
    # streams k >= 1 start `warm` chunks earlier (warm-up, results dropped); stream 0 runs
    # `warm` chunks past its end instead (also dropped), so all streams take the same steps.
    # The tail after the last full stream continues the last stream, chunk by chunk.
    chunks = wav[: n_streams * per_stream * CHUNK].reshape(n_streams * per_stream, CHUNK)
    starts = np.arange(n_streams) * per_stream - warm
    starts[0] = 0
    state = np.zeros((2, n_streams, 128), dtype=np.float32)
    context = np.zeros((n_streams, CONTEXT), dtype=np.float32)
    sr = np.array(SAMPLE_RATE, dtype=np.int64)
    probs = np.empty((n_streams, per_stream + warm), dtype=np.float32)
    for i in range(per_stream + warm):
        x = np.concatenate([context, chunks[starts + i]], axis=1)
        out, state = session.run(None, {"input": x, "state": state, "sr": sr})
        probs[:, i] = out[:, 0]
        context = x[:, -CONTEXT:]
    kept = [probs[0, :per_stream]] + [probs[k, warm:] for k in range(1, n_streams)]
    tail_probs = []
    state, context = state[:, -1:, :].copy(), context[-1:].copy()
    for start in range(n_streams * per_stream * CHUNK, len(wav), CHUNK):
        chunk = np.zeros((1, CHUNK), dtype=np.float32)
        piece = wav[start:start + CHUNK]
        chunk[0, : len(piece)] = piece
        x = np.concatenate([context, chunk], axis=1)
        out, state = session.run(None, {"input": x, "state": state, "sr": sr})
        tail_probs.append(float(out[0, 0]))
        context = x[:, -CONTEXT:]
    result = np.concatenate(kept + [np.asarray(tail_probs, dtype=np.float32)])
    return result[:n_chunks]


def regions_from_probabilities(probs: np.ndarray, duration: float,
                               params: VADParams = VADParams()) -> list[tuple[float, float]]:
    """Turn chunk probabilities into ``[(start, end), ...]`` seconds (see module docstring)."""
    step = CHUNK / SAMPLE_RATE
    regions: list[list[float]] = []
    active = False
    start = 0.0
    for i, p in enumerate(probs):
        if not active and p >= params.onset:
            active, start = True, i * step
        elif active and p < params.offset:
            active = False
            regions.append([start, i * step])
    if active:
        regions.append([start, len(probs) * step])
    merged: list[list[float]] = []
    for r in regions:
        if merged and r[0] - merged[-1][1] < params.min_silence:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    out: list[tuple[float, float]] = []
    for s, e in merged:
        if e - s < params.min_speech:
            continue
        s, e = max(0.0, s - params.pad), min(duration, e + params.pad)
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def speech_regions(wav: np.ndarray, params: VADParams = VADParams()) -> list[tuple[float, float]]:
    """Speech regions ``[(start, end), ...]`` in seconds of 16 kHz mono ``wav``.

    Raises
    ------
    WeightsMissing
        silero-vad is not installed.
    """
    probs = speech_probabilities(wav)
    return regions_from_probabilities(probs, len(wav) / SAMPLE_RATE, params)

"""VAD: post-processing on hand-made probabilities, and multi-stream batching on long audio."""

from __future__ import annotations

import numpy as np
import pytest

from pyannote_notebook.engine import vad
from pyannote_notebook.engine.audio import load_audio
from pyannote_notebook.engine.vad import VADParams, regions_from_probabilities, stream_layout

STEP = 512 / 16000  # 32 ms per chunk


def _probs(n: int, runs: list[tuple[int, int, float]], base: float = 0.1) -> np.ndarray:
    p = np.full(n, base, dtype=np.float32)
    for a, b, v in runs:
        p[a:b] = v
    return p


def _assert_regions(got, expected_chunks_or_seconds):
    assert len(got) == len(expected_chunks_or_seconds), got
    for (s, e), (es, ee) in zip(got, expected_chunks_or_seconds):
        assert s == pytest.approx(es, abs=1e-9) and e == pytest.approx(ee, abs=1e-9), got


def test_regions_from_probabilities_hysteresis_bridging_min_speech_and_padding():
    probs = _probs(100, [
        (5, 6, 0.5),      # exactly the onset: starts a region at chunk 5 (0.16 s)
        (6, 20, 0.9),
        (20, 22, 0.35),   # exactly the offset: still speech (needs < 0.35 to stop)
        # chunk 22 (0.704 s) drops below the offset: region [0.16, 0.704]
        (26, 30, 0.8),    # 4 chunks (0.128 s): too short alone, but the 0.128 s gap before
                          # it is < min_silence 0.2 s, so it is bridged -> [0.16, 0.96]
        (40, 54, 0.45),   # between offset and onset: never starts a region
        (56, 61, 0.95),   # [1.792, 1.952]: 0.16 s < min_speech 0.25 s, dropped
        (70, 80, 0.9),    # [2.24, 2.56], gap 0.288 s >= 0.2 s: kept on its own
        (80, 81, 0.3),
        (90, 100, 0.9),   # [2.88, end): still active at the end -> ends at 100 chunks = 3.2 s
    ])
    duration = 100 * STEP
    got = regions_from_probabilities(probs, duration)
    # pad 30 ms on both sides, clipped to [0, duration]
    _assert_regions(got, [(5 * STEP - 0.03, 30 * STEP + 0.03),
                          (70 * STEP - 0.03, 80 * STEP + 0.03),
                          (90 * STEP - 0.03, duration)])
    _assert_regions(got, [(0.13, 0.99), (2.21, 2.59), (2.85, 3.2)])


def test_regions_from_probabilities_padding_merges_and_clips():
    probs = _probs(50, [(0, 10, 0.9), (17, 30, 0.9)])  # gap of 7 chunks = 0.224 s >= 0.2 s
    # default pad (30 ms): two regions, the first clipped at 0
    _assert_regions(regions_from_probabilities(probs, 50 * STEP),
                    [(0.0, 10 * STEP + 0.03), (17 * STEP - 0.03, 30 * STEP + 0.03)])
    # pad 150 ms: the padded regions overlap, so they are merged into one
    _assert_regions(regions_from_probabilities(probs, 50 * STEP, VADParams(pad=0.15)),
                    [(0.0, 30 * STEP + 0.15)])
    # a larger min_silence bridges the gap before padding
    _assert_regions(regions_from_probabilities(probs, 50 * STEP, VADParams(min_silence=0.25)),
                    [(0.0, 30 * STEP + 0.03)])
    # higher min_speech drops the 0.32 s first region, keeps the 0.416 s second one
    _assert_regions(regions_from_probabilities(probs, 50 * STEP, VADParams(min_speech=0.4)),
                    [(17 * STEP - 0.03, 30 * STEP + 0.03)])


def test_regions_from_probabilities_empty_and_silent():
    assert regions_from_probabilities(np.zeros(0, np.float32), 0.0) == []
    assert regions_from_probabilities(np.full(200, 0.49, np.float32), 200 * STEP) == []


def test_stream_layout():
    sr = 16000
    assert stream_layout(119 * sr) == (1, 119 * sr // 512, 0)          # one stream below 120 s
    n, per, warm = stream_layout(130 * sr)
    assert (n, per, warm) == (2, (130 * sr // 512) // 2, 625)          # 20 s = 625 chunks
    assert stream_layout(3600 * sr)[0] == 16                           # capped at max_streams
    assert stream_layout(3600 * sr, max_streams=1) == (1, 3600 * sr // 512, 0)
    assert stream_layout(130 * sr, warmup_seconds=1000)[2] == per      # at most one stream


@pytest.fixture(scope="module")
def long_real_audio(sample_files) -> np.ndarray:
    """pyannote's real 30 s sample repeated to 150 s (the tests also cut it to start 13.1 s
    in: 137 s, another position of the stream boundary)."""
    wav, _ = load_audio(sample_files[0])
    return np.concatenate([wav] * 5)


@pytest.mark.slow
@pytest.mark.parametrize("shift", [0.0, 13.1])
def test_multi_stream_vad_matches_single_stream(long_real_audio, shift):
    x = long_real_audio[int(shift * 16000):]
    n_streams, per, warm = stream_layout(len(x))
    assert len(x) >= 130 * 16000 and n_streams == 2  # the batched path really runs
    boundary = per * 512 / 16000
    multi = vad.speech_probabilities(x)
    single = vad.speech_probabilities(x, max_streams=1)
    assert multi.shape == single.shape == (-(-len(x) // 512),)
    # before the second stream starts, the first stream is the single stream, bit for bit
    np.testing.assert_array_equal(multi[:per], single[:per])
    # after it, the 20 s warm-up keeps the chunk probabilities close
    assert float(np.max(np.abs(multi - single))) < 0.1
    duration = len(x) / 16000
    r_multi = regions_from_probabilities(multi, duration)
    r_single = regions_from_probabilities(single, duration)
    assert len(r_multi) == len(r_single) >= 10
    for (a, b), (c, d) in zip(r_multi, r_single):
        assert abs(a - c) <= STEP + 1e-9 and abs(b - d) <= STEP + 1e-9, (a, b, c, d)
    # the stream boundary lies inside a speech region (the case that used to split it)
    if shift == 0.0:
        assert any(s < boundary < e for s, e in r_single)

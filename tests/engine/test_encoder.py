from __future__ import annotations

import numpy as np
import pytest

from pyannote_notebook.engine.audio import load_audio
from pyannote_notebook.engine.encoder import get_encoder, mel_filterbank, mel_spectrogram


def _signal() -> np.ndarray:
    rng = np.random.default_rng(1234)
    t = np.arange(24000) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(24000)).astype(
        np.float32)


def test_pinned_embedding_of_a_seeded_signal():
    """Values of this numpy implementation (torch is unavailable to recompute them): a change
    in the front end, the LSTM or the weights reader moves them."""
    e = get_encoder().embed_batch(_signal()[None])[0]
    assert e.shape == (256,)
    np.testing.assert_allclose(e[:5], [0.0, 0.0, 0.05871, 0.0, 0.11732], atol=2e-4)
    assert int(np.argmax(e)) == 188
    assert float(e.max()) == pytest.approx(0.30761, abs=2e-4)
    u = get_encoder().embed_utterance(np.tile(_signal(), 3))
    np.testing.assert_allclose(u[:5], [0.0, 0.0, 0.07151, 0.0, 0.09874], atol=2e-4)


def test_structure_unit_norm_non_negative():
    rng = np.random.default_rng(0)
    e = get_encoder().embed_batch(rng.standard_normal((5, 16000)).astype(np.float32) * 0.1)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert (e >= 0).all()


def test_mel_front_end_shapes():
    fb = mel_filterbank()
    assert fb.shape == (40, 201)
    assert (fb >= 0).all()
    # Slaney-scale centres: the first bands are 66.7 Hz apart -> FFT bins (40 Hz) 2, 4, 6...
    assert np.argmax(fb, axis=1)[:4].tolist() == [2, 4, 6, 7]
    m = mel_spectrogram(np.zeros((2, 24000), dtype=np.float32))
    assert m.shape == (2, 151, 40) and float(m.sum()) == 0.0


def test_same_speaker_closer_than_different_speaker(conversations):
    """On espeak audio: two windows of the same voice are closer than windows of two voices."""
    wav, _ = load_audio(conversations["two"][0])
    ref = [line.split() for line in conversations["two"][1].read_text().splitlines()]
    turns = [(float(p[3]), float(p[4]), p[7]) for p in ref]

    def window(turn):
        start, dur, _ = turn
        s = int((start + dur / 2 - 0.75) * 16000)
        return wav[s:s + 24000]

    a0, b0, a1, b1 = turns[0], turns[1], turns[2], turns[3]
    assert (a0[2], b0[2], a1[2], b1[2]) == ("spk0", "spk1", "spk0", "spk1")
    e = get_encoder().embed_batch(np.stack([window(t) for t in (a0, a1, b0, b1)]))
    same = [float(e[0] @ e[1]), float(e[2] @ e[3])]
    diff = [float(e[0] @ e[2]), float(e[0] @ e[3]), float(e[1] @ e[2]), float(e[1] @ e[3])]
    assert min(same) > max(diff)

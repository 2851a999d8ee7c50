"""The numpy GE2E encoder against reference values computed BY PYTORCH.

Every pinned embedding value below was computed by scripts/verify_encoder_against_torch.py
(2026-11-24) with torch 2.13.0+cpu running resemblyzer 0.1.4's own ``VoiceEncoder`` (its
``pretrained.pt``) on librosa 0.11.0 mel spectrograms (resemblyzer's ``wav_to_mel_spectrogram``
and ``normalize_volume``, ``embed_utterance`` for the utterance path); none comes from this
package's code. Rerun the script to regenerate them::

    PYTHONPATH=/work/main /work/torchcheck/bin/python scripts/verify_encoder_against_torch.py

Tolerance: the script measured our numpy output against torch at max |diff| <= 4.2e-7 per
dimension and 1 - cosine <= 1e-12 on these inputs (float32 LSTM, summation order only); the
values are rounded to 6 decimals (error <= 5e-7). ``atol = 1e-4`` leaves ~100x headroom for
BLAS/platform differences, while a real front-end or partial-slicing mistake moves dimensions
by 1e-2 and the cosine to ~0.999 (measured on the previous ``embed_utterance``), so it fails.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import numpy as np
import pytest

from pyannote_notebook.engine.audio import load_audio
from pyannote_notebook.engine.encoder import (
    get_encoder,
    mel_filterbank,
    mel_spectrogram,
    partial_slices,
)
from pyannote_notebook.errors import InvalidOption

ATOL = 1e-4
COSINE_MIN = 0.99999


def _seeded_signal() -> np.ndarray:
    """Identical to ``seeded_signal`` in scripts/verify_encoder_against_torch.py (1.6 s, 130 Hz
    harmonics with 3 Hz AM plus noise, about -38 dBFS); checked by SHA-256 below."""
    rng = np.random.default_rng(20240611)
    t = np.arange(25600) / 16000.0
    tone = sum(np.sin(2 * np.pi * 130.0 * k * t + 0.7 * k) / k for k in range(1, 9))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3.0 * t)
    x = 0.02 * envelope * tone + 0.004 * rng.standard_normal(t.size)
    return x.astype(np.float32)


SEEDED_SHA256 = "459446d8cee204b07830154cebfd11c35e93f6d4d1064974dd6684a8ee6538f7"

# torch 2.13.0 + resemblyzer 0.1.4, seeded signal as one window: every non-zero dimension
# (the other dimensions are exactly 0 after the ReLU).
TORCH_SEEDED_WINDOW = {
    1: 0.094746, 5: 0.052915, 7: 0.049672, 8: 0.028548, 9: 0.135014, 10: 0.101971, 11: 0.122251,
    12: 0.018269, 15: 0.106328, 16: 0.117354, 17: 0.031623, 22: 0.034023, 25: 0.02785,
    28: 0.101827, 29: 0.059296, 30: 0.056559, 37: 0.020523, 41: 0.030006, 42: 0.159663,
    43: 0.073078, 44: 0.015913, 45: 0.08402, 47: 0.01039, 48: 0.099344, 49: 0.136575, 51: 0.009523,
    56: 0.086356, 64: 0.033795, 67: 0.020217, 69: 0.007207, 71: 0.101288, 73: 0.006217,
    74: 0.152047, 78: 0.018259, 82: 0.121228, 83: 0.063728, 87: 0.008903, 89: 0.119071,
    90: 0.005862, 91: 0.01082, 94: 0.004293, 96: 0.022454, 100: 0.091559, 102: 0.129257,
    104: 0.014115, 106: 0.117604, 107: 0.036534, 109: 0.04476, 110: 0.076963, 111: 0.109778,
    113: 0.040708, 114: 0.010474, 116: 0.016713, 117: 0.045134, 119: 0.014225, 120: 0.077339,
    121: 0.106886, 122: 0.047762, 123: 0.016534, 124: 0.012258, 125: 0.057287, 126: 0.097441,
    127: 0.085932, 128: 0.045096, 130: 0.011617, 131: 0.0844, 133: 0.114478, 134: 0.05821,
    135: 0.063166, 136: 0.152958, 137: 0.159964, 138: 0.068254, 139: 0.046529, 142: 0.043577,
    143: 0.05925, 144: 0.059018, 146: 0.081262, 148: 0.048044, 149: 0.047988, 150: 0.058342,
    151: 0.135605, 152: 0.120154, 153: 0.032301, 154: 0.168678, 155: 0.037645, 158: 0.136136,
    159: 0.073162, 162: 0.070939, 163: 0.080389, 165: 0.040527, 168: 0.083437, 169: 0.001627,
    173: 0.104542, 175: 0.102256, 177: 0.0747, 178: 0.123345, 180: 0.140559, 181: 0.077756,
    183: 0.037035, 184: 0.078251, 187: 0.063596, 188: 0.045858, 189: 0.249847, 191: 0.095467,
    193: 0.078852, 195: 0.049023, 197: 0.023541, 198: 0.061657, 199: 0.119821, 201: 0.081793,
    202: 0.005774, 203: 0.148007, 207: 0.080807, 211: 0.026505, 212: 0.008922, 213: 0.102379,
    215: 0.113983, 217: 0.085268, 218: 0.092159, 220: 0.058734, 221: 0.114286, 224: 0.111327,
    225: 0.04329, 234: 0.057298, 235: 0.132899, 236: 0.127502, 237: 0.153107, 238: 0.134285,
    239: 0.066929, 240: 0.053915, 241: 0.011411, 244: 0.02892, 246: 0.05556, 247: 0.028731,
    248: 0.151984, 251: 0.125005, 252: 0.027585, 254: 0.104679, 255: 0.040076,
}

# torch 2.13.0 + resemblyzer 0.1.4: first 8 dimensions, argmax, max and L1 norm of the whole
# 256-d vector. "window": normalize_volume + mel of the whole input + model (Encoder.embed_batch);
# "utterance": resemblyzer's embed_utterance (Encoder.embed_utterance).
TORCH_REFERENCE = {
    'seeded/window': {'head': [0.0, 0.094746, 0.0, 0.0, 0.0, 0.052915, 0.0, 0.049672],
                      'argmax': 189, 'max': 0.249847, 'l1': 9.890263},
    'seeded/utterance': {'head': [0.0, 0.094713, 0.0, 0.0, 0.0, 0.051686, 0.0, 0.050166],
                         'argmax': 189, 'max': 0.255244, 'l1': 9.885231},
    'espeak_m3/window': {'head': [0.121365, 0.0, 0.125797, 0.0, 0.0, 0.033907, 0.0, 0.0],
                         'argmax': 197, 'max': 0.337645, 'l1': 8.262398},
    'espeak_m3/utterance': {'head': [0.083352, 0.0, 0.09511, 0.0, 0.0, 0.046864, 0.005038, 0.0],
                            'argmax': 197, 'max': 0.290433, 'l1': 9.199856},
    'espeak_f2/window': {'head': [0.0, 0.0, 0.233008, 0.0, 0.0, 0.025086, 0.0, 0.0],
                         'argmax': 248, 'max': 0.267213, 'l1': 7.992512},
    'espeak_f2/utterance': {'head': [0.0, 0.0, 0.172648, 0.0, 0.0, 0.038455, 0.0, 0.087733],
                            'argmax': 248, 'max': 0.265695, 'l1': 8.723631},
}

# espeak-ng 1.51 output is byte-deterministic (checked: 3 runs, identical files); other espeak-ng
# versions synthesise different audio, so those tests skip unless the file hash matches.
ESPEAK_INPUTS = {
    "espeak_m3": ("en+m3", "The quick brown fox jumps over the lazy dog near the river bank.",
                  "a67fdc4437e982dc2c394943d57e0a2aab6ff47c11ac7da49a2b0bbbdc843216"),
    "espeak_f2": ("en+f2", "She sells sea shells by the sea shore every summer morning.",
                  "29be555cee9786ff6f18338a24ddb7c29e3d42c0af4274e2d29899a8dc1100f4"),
}


def _check(name: str, e: np.ndarray) -> None:
    ref = TORCH_REFERENCE[name]
    assert e.shape == (256,)
    np.testing.assert_allclose(e[:8], ref["head"], atol=ATOL, err_msg=name)
    assert int(np.argmax(e)) == ref["argmax"], name
    assert float(e.max()) == pytest.approx(ref["max"], abs=ATOL), name
    # the L1 norm sums 256 errors of <= 4e-7 each: 1e-3 is still a tight check on every dimension
    assert float(np.abs(e).sum()) == pytest.approx(ref["l1"], abs=1e-3), name


def test_seeded_signal_is_the_one_torch_saw():
    x = _seeded_signal()
    assert hashlib.sha256(x.tobytes()).hexdigest() == SEEDED_SHA256


def test_seeded_window_matches_torch_in_every_dimension():
    e = get_encoder().embed_batch(_seeded_signal()[None])[0]
    ref = np.zeros(256)
    ref[list(TORCH_SEEDED_WINDOW)] = list(TORCH_SEEDED_WINDOW.values())
    cosine = float(e @ ref / (np.linalg.norm(e) * np.linalg.norm(ref)))
    assert cosine >= COSINE_MIN
    np.testing.assert_allclose(e, ref, atol=ATOL)
    assert ((e > 0) == (ref > 0)).all()  # same ReLU pattern: 139 active dimensions
    assert int((ref > 0).sum()) == 139
    _check("seeded/window", e)


def test_seeded_utterance_matches_torch_embed_utterance():
    """1.6 s -> one partial of 160 frames (not the 161 frames of the window path)."""
    _check("seeded/utterance", get_encoder().embed_utterance(_seeded_signal()))


@pytest.mark.parametrize("name", list(ESPEAK_INPUTS))
def test_espeak_utterances_match_torch(name, tmp_path):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    voice, text, digest = ESPEAK_INPUTS[name]
    path = tmp_path / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
    if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        version = subprocess.run(["espeak-ng", "--version"], check=False,
                                 capture_output=True, text=True).stdout.strip()
        pytest.skip(f"this espeak-ng ({version}) synthesises other audio than 1.51 did")
    wav, sr = load_audio(path)  # 22.05 kHz -> 16 kHz, as the script did
    assert sr == 16000
    enc = get_encoder()
    _check(f"{name}/window", enc.embed_batch(wav[None])[0])
    _check(f"{name}/utterance", enc.embed_utterance(wav))


@pytest.mark.parametrize(("n_samples", "rate", "min_coverage", "expected"), [
    # computed by resemblyzer 0.1.4's VoiceEncoder.compute_partial_slices (mel_slices starts)
    (1, 1.3, 0.75, [0]),
    (25600, 1.3, 0.75, [0]),
    (25600, 2.0, 0.5, [0, 50]),
    (37919, 1.3, 0.75, [0, 77]),
    (45000, 1.3, 0.75, [0, 77, 154]),
    (57656, 1.3, 0.75, [0, 77, 154, 231]),
    (57656, 2.0, 0.5, [0, 50, 100, 150, 200, 250]),
    (160000, 1.3, 0.75, [0, 77, 154, 231, 308, 385, 462, 539, 616, 693, 770, 847]),
])
def test_partial_slices_match_resemblyzer(n_samples, rate, min_coverage, expected):
    assert partial_slices(n_samples, rate=rate, min_coverage=min_coverage) == expected


def test_partial_slices_reject_bad_options():
    with pytest.raises(InvalidOption, match=r"^rate: .*got 200"):
        partial_slices(16000, rate=200)
    with pytest.raises(InvalidOption, match=r"^rate: .*got 0.5"):
        partial_slices(16000, rate=0.5)
    with pytest.raises(InvalidOption, match=r"^min_coverage: must be in \(0, 1\], got 0"):
        partial_slices(16000, min_coverage=0)


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

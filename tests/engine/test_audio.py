from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from pyannote_notebook.engine import load_audio
from pyannote_notebook.errors import AudioError, InvalidOption


def _tone(freq: float, sr: int, seconds: float) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return np.sin(2 * np.pi * freq * t)


def _peak_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spec)])


def test_44k_stereo_is_resampled_to_16k_mono(tmp_path):
    left = 0.5 * _tone(440, 44100, 2.0)
    right = 0.1 * _tone(440, 44100, 2.0)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 44100, subtype="FLOAT")
    wav, sr = load_audio(path)
    assert sr == 16000
    assert wav.dtype == np.float32 and wav.ndim == 1
    assert len(wav) == 32000
    assert _peak_hz(wav, 16000) == pytest.approx(440, abs=1)
    # mono = mean of channels: amplitude 0.3 (checked away from the filter edges)
    assert np.max(np.abs(wav[1000:-1000])) == pytest.approx(0.3, abs=0.005)


@pytest.mark.parametrize("fmt,ext", [("FLAC", "flac"), ("OGG", "ogg")])
def test_flac_and_ogg(tmp_path, fmt, ext):
    path = tmp_path / f"tone.{ext}"
    sf.write(path, 0.5 * _tone(1000, 22050, 1.0), 22050, format=fmt)
    wav, sr = load_audio(path)
    assert sr == 16000 and abs(len(wav) - 16000) <= 1
    assert _peak_hz(wav, 16000) == pytest.approx(1000, abs=2)


@pytest.mark.skipif(not sf.check_format("MP3", "MPEG_LAYER_III"),
                    reason="this libsndfile cannot write MP3 (needs >= 1.1 built with LAME)")
def test_mp3_round_trip(tmp_path):
    # speech-like content (a chirp plus a tone burst), so a shifted or garbled decode shows
    sr = 22050
    t = np.arange(int(sr * 2.0)) / sr
    x = 0.4 * np.sin(2 * np.pi * (200 + 300 * t) * t)
    x[sr // 2: sr] += 0.3 * np.sin(2 * np.pi * 700 * t[sr // 2: sr])
    path = tmp_path / "speech.mp3"
    sf.write(path, x.astype(np.float32), sr, format="MP3", subtype="MPEG_LAYER_III")
    assert sf.info(str(path)).format == "MP3"
    wav, out_sr = load_audio(path)
    assert out_sr == 16000
    assert len(wav) / 16000 == pytest.approx(2.0, abs=0.03)  # encoder delay/padding trimmed
    from scipy.signal import resample_poly

    ref = resample_poly(x, 320, 441).astype(np.float32)  # 22050 -> 16000
    n = min(len(ref), len(wav))
    corr = float(np.corrcoef(ref[:n], wav[:n])[0, 1])
    assert corr > 0.99, corr  # same samples, aligned (no encoder delay left in)


def test_array_input_needs_sample_rate():
    with pytest.raises(InvalidOption, match="sample_rate"):
        load_audio(np.zeros(100, dtype=np.float32))
    wav, sr = load_audio(np.ones((8000, 2), dtype=np.float32), 8000)
    assert (sr, len(wav)) == (16000, 16000)


def test_unreadable_file_names_it(tmp_path):
    bad = tmp_path / "notaudio.wav"
    bad.write_text("this is not audio")
    with pytest.raises(AudioError, match=r"notaudio\.wav: cannot decode audio"):
        load_audio(bad)


def test_empty_file_names_it(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0), 16000)
    with pytest.raises(AudioError, match=r"empty\.wav: the audio file is empty"):
        load_audio(empty)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match=r"nope\.wav: no such audio file"):
        load_audio(tmp_path / "nope.wav")


# --------------------------------------------------------------------------- array layouts


def _channels(n_channels: int, n_frames: int) -> np.ndarray:
    """(frames, channels) float32: channel c is a 440 Hz tone of amplitude 0.05 (c + 1)."""
    tone = _tone(440, 16000, n_frames / 16000)[:n_frames]
    amp = 0.05 * (np.arange(n_channels) + 1)
    return (tone[:, None] * amp[None, :]).astype(np.float32)


@pytest.mark.parametrize("n_channels,n_frames,transposed", [
    (10, 4000, True),    # (channels, frames) with more than 8 channels: used to give 10 samples
    (10, 4000, False),   # (frames, channels)
    (2, 16000, True),    # pyannote/torchaudio layout
    (2, 16000, False),   # soundfile layout
    (1, 16000, True),    # a row vector is mono
    (32, 33, True),      # the limits of the (channels, frames) form
    (32, 33, False),     # (33, 32): first axis longer, read as documented
])
def test_array_layouts_are_mixed_along_the_channel_axis(n_channels, n_frames, transposed):
    frames_channels = _channels(n_channels, n_frames)
    x = frames_channels.T.copy() if transposed else frames_channels
    wav, sr = load_audio(x, 16000)
    expected = frames_channels.mean(axis=1)
    assert sr == 16000 and wav.dtype == np.float32 and wav.shape == (n_frames,)
    np.testing.assert_allclose(wav, expected, rtol=0, atol=1e-6)  # float32 summation order
    # the mean amplitude of channels 1..n is 0.05 (n + 1) / 2
    if n_frames >= 16000:
        assert np.max(np.abs(wav)) == pytest.approx(0.05 * (n_channels + 1) / 2, rel=1e-3)


def test_one_d_array_is_kept_and_resampled():
    x = (0.25 * _tone(1000, 8000, 1.0)).astype(np.float32)
    same, _ = load_audio(x, 16000)
    np.testing.assert_array_equal(same, x)  # no resampling at 16 kHz: identical samples
    up, sr = load_audio(x, 8000)
    assert (sr, len(up)) == (16000, 16000)
    assert _peak_hz(up, 16000) == pytest.approx(1000, abs=1)
    assert np.max(np.abs(up[500:-500])) == pytest.approx(0.25, abs=0.003)


def test_stereo_int16_array_is_scaled_before_mixing():
    x = np.stack([np.full(16000, 16384, np.int16), np.full(16000, -8192, np.int16)], axis=1)
    wav, _ = load_audio(x, 16000)
    assert wav.dtype == np.float32
    np.testing.assert_allclose(wav, (16384 - 8192) / 2 / 32767, rtol=1e-6)


@pytest.mark.parametrize("shape", [(4, 10), (16, 16), (40, 4000),
                                   (100, 200), (1, 1)])
def test_ambiguous_layout_raises_a_typed_error_naming_the_shape(shape):
    x = np.zeros(shape, dtype=np.float32)
    with pytest.raises(AudioError) as info:
        load_audio(x, 16000)
    msg = str(info.value)
    assert f"shape {shape}" in msg
    assert "(frames, channels)" in msg and "samples.T" in msg and "1-D" in msg
    assert isinstance(info.value, ValueError)  # AudioError is also a ValueError


def test_few_frames_of_many_channels_from_a_file_are_not_guessed(tmp_path):
    # a file's layout is known: 4 frames of 10 channels is not ambiguous there
    path = tmp_path / "wide.wav"
    x = _channels(10, 4)
    sf.write(path, x, 16000, subtype="FLOAT")
    wav, _ = load_audio(path)
    np.testing.assert_allclose(wav, x.mean(axis=1), atol=1e-7)


def test_empty_2d_array_says_empty():
    with pytest.raises(AudioError, match=r"empty \(0 samples, shape \(0, 2\)\)"):
        load_audio(np.zeros((0, 2), dtype=np.float32), 16000)

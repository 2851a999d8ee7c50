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

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pyannote_notebook import samples
from pyannote_notebook.errors import ConnectionFailed, EngineError

WHEEL = Path(__file__).resolve().parents[2] / ".cache" / "wheels" / \
    "pyannote_audio-4.0.7-py3-none-any.whl"


def _rttm(path: Path) -> list[tuple[float, float, str]]:
    out = []
    for line in path.read_text().splitlines():
        p = line.split()
        out.append((float(p[3]), float(p[4]), p[7]))
    return out


def test_synthesized_reference_is_exact(tmp_path):
    turns = [(0, "Hello there."), (1, "Good morning to you.", 0.5), (0, "Shall we start.", -0.3)]
    wav, rttm = samples.synthesize_conversation(turns, tmp_path / "c.wav", cache=tmp_path)
    x, sr = sf.read(wav)
    assert sr == 16000 and x.ndim == 1
    ref = _rttm(rttm)
    assert [r[2] for r in ref] == ["spk0", "spk1", "spk0"]
    assert all(line.startswith("SPEAKER c 1 ") for line in rttm.read_text().splitlines())
    (s0, d0, _), (s1, d1, _), (s2, d2, _) = ref
    assert s0 == pytest.approx(0.5, abs=1e-3)
    assert s1 - (s0 + d0) == pytest.approx(0.5, abs=2e-3)
    assert s2 - (s1 + d1) == pytest.approx(-0.3, abs=2e-3)  # overlap mixed in
    assert len(x) / sr == pytest.approx(s2 + d2 + 0.5, abs=2e-3)
    # tight reference: energy right inside each turn, only the noise floor just outside
    # (turn 0 is followed by a 0.5 s gap, so both of its edges can be checked)
    a, b = int(s0 * sr), int((s0 + d0) * sr)
    assert np.max(np.abs(x[a:a + 800])) > 0.01
    assert np.max(np.abs(x[a - 800:a - 10])) < 0.005
    assert np.max(np.abs(x[b - 800:b])) > 0.01
    assert np.max(np.abs(x[b + 10:b + 800])) < 0.005


def test_synthesis_is_cached(tmp_path):
    turns = [(2, "Caching test sentence number one.")]
    w1, _ = samples.synthesize_conversation(turns, tmp_path / "a.wav", cache=tmp_path)
    w2, _ = samples.synthesize_conversation(turns, tmp_path / "b.wav", uri="a", cache=tmp_path)
    assert w1.read_bytes() == w2.read_bytes()
    # one synthesis, one cached copy: the second call did not synthesize again
    assert len(list((tmp_path / "synth").glob("*.wav"))) == 1


def test_missing_espeak_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(samples.shutil, "which", lambda name: None)
    with pytest.raises(EngineError, match=r"Install it with: apt-get install espeak-ng \(or brew install espeak-ng\)$"):
        samples.synthesize_conversation([(0, "never synthesized before 8812")],
                                        tmp_path / "x.wav", cache=tmp_path)


def test_make_corpus_speaker_counts(tmp_path):
    pairs = samples.make_corpus(tmp_path / "corpus", n_files=4, seed=3, turns_per_file=(4, 6),
                                cache=tmp_path)
    counts = [len({r[2] for r in _rttm(rttm)}) for _, rttm in pairs]
    assert counts == [1, 2, 3, 4]
    assert [p[0].name for p in pairs] == ["conv0_1spk.wav", "conv1_2spk.wav", "conv2_3spk.wav",
                                          "conv3_4spk.wav"]


@pytest.mark.skipif(not WHEEL.is_file(), reason="pyannote-audio wheel not cached")
def test_fetch_extracts_sample_from_cached_wheel(tmp_path):
    (tmp_path / "wheels").mkdir()
    shutil.copy(WHEEL, tmp_path / "wheels")
    wav = samples.sample_path(tmp_path)
    rttm = samples.sample_reference_path(tmp_path)
    info = sf.info(wav)
    assert (info.samplerate, info.channels) == (16000, 1)
    assert info.duration == pytest.approx(30.0, abs=0.01)
    assert len(rttm.read_text().splitlines()) == 10


def test_fetch_offline_is_a_clear_error(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "ERROR: Could not find a version\n")

    monkeypatch.setattr(samples.subprocess, "run", fail)
    with pytest.raises(ConnectionFailed, match=r"could not download pyannote-audio==4\.0\.7 .*"
                                               r"are you offline"):
        samples.fetch(tmp_path)


def test_cache_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("PYANNOTE_NOTEBOOK_CACHE", str(tmp_path / "envcache"))
    assert samples.cache_dir() == tmp_path / "envcache"
    assert (tmp_path / "envcache").is_dir()


def test_module_imports_light():
    code = ("import sys, pyannote_notebook.samples; "
            "print(sorted(m for m in ('numpy','scipy','soundfile') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr

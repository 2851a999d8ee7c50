"""End-to-end diarization on real audio (pyannote's sample) and espeak-ng conversations."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pyannote_notebook.engine import diarize, load_audio
from pyannote_notebook.errors import AudioError, InvalidOption

from .conftest import SPEAKERS, der

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def auto_outputs(conversations):
    return {name: diarize(wav) for name, (wav, _) in conversations.items()}


def _speakers(out: dict) -> set[str]:
    return {s["speaker"] for s in out["diarization"]}


def test_real_sample_against_its_reference(sample_files):
    wav, rttm = sample_files
    out = diarize(wav)
    assert _speakers(out) == {"SPEAKER_00", "SPEAKER_01"}  # count found automatically
    assert der(rttm, out, collar_per_side=0.25) < 0.10
    assert der(rttm, out, collar_per_side=0.0) < 0.25
    # 22.7 s of speech: the estimated count comes with a warning
    assert "estimated on only" in out["warning"]


def test_real_sample_with_fixed_count(sample_files):
    wav, rttm = sample_files
    out = diarize(wav, num_speakers=2)
    assert "warning" not in out
    assert der(rttm, out) < 0.10


# DER thresholds (collar 0.25 s per side) with margin over the measured values:
# one/two/three/four 0.0 %, overlap 4.6 % (overlap is not modelled), fast turns 9.2 %.
THRESHOLDS = {"one": 0.03, "two": 0.03, "three": 0.03, "four": 0.05, "overlap": 0.10,
              "fast": 0.15}


@pytest.mark.parametrize("name", list(THRESHOLDS))
def test_conversations_count_and_der(conversations, auto_outputs, name):
    out = auto_outputs[name]
    assert len(_speakers(out)) == SPEAKERS[name]
    assert der(conversations[name][1], out) < THRESHOLDS[name]


def test_output_shape(auto_outputs):
    out = auto_outputs["four"]
    segs = out["diarization"]
    assert segs and out["exclusiveDiarization"] == segs
    assert [s["start"] for s in segs] == sorted(s["start"] for s in segs)
    for s in segs:
        assert set(s) == {"speaker", "start", "end"}
        assert re.fullmatch(r"SPEAKER_\d\d", s["speaker"])
        assert s["end"] > s["start"]
        assert round(s["start"], 3) == s["start"] and round(s["end"], 3) == s["end"]
    # labels by first appearance
    firsts = []
    for s in segs:
        if s["speaker"] not in firsts:
            firsts.append(s["speaker"])
    assert firsts == [f"SPEAKER_{i:02d}" for i in range(4)]
    # exclusive: no two segments overlap
    for a, b in zip(segs, segs[1:]):
        assert b["start"] >= a["end"]


def test_fixed_count_honoured(conversations):
    out = diarize(conversations["three"][0], num_speakers=2)
    assert len(_speakers(out)) == 2
    out = diarize(conversations["two"][0], num_speakers=3)
    assert len(_speakers(out)) == 3


def test_min_max_honoured(conversations):
    out = diarize(conversations["four"][0], min_speakers=1, max_speakers=2)
    assert 1 <= len(_speakers(out)) <= 2  # auto would find 4
    out = diarize(conversations["four"][0], min_speakers=2, max_speakers=3)
    assert 2 <= len(_speakers(out)) <= 3
    out = diarize(conversations["one"][0], min_speakers=2, max_speakers=3)
    assert len(_speakers(out)) >= 2


def test_exclusive_false_and_array_input_44k_stereo(conversations):
    from scipy.signal import resample_poly

    wav16, _ = load_audio(conversations["two"][0])
    x44 = resample_poly(wav16, 441, 160)
    stereo = np.stack([x44, x44], axis=1)
    out = diarize(stereo, sample_rate=44100, exclusive=False)
    assert "exclusiveDiarization" not in out
    assert len(_speakers(out)) == 2
    assert der(conversations["two"][1], out) < 0.03


def test_invalid_options_and_bad_audio(tmp_path):
    with pytest.raises(InvalidOption, match="num_speakers: cannot be combined"):
        diarize("x.wav", num_speakers=2, min_speakers=1)
    with pytest.raises(InvalidOption, match=r"min_speakers: must be <= max_speakers \(3 > 2\)"):
        diarize("x.wav", min_speakers=3, max_speakers=2)
    with pytest.raises(InvalidOption, match="num_speakers: must be an integer >= 1"):
        diarize("x.wav", num_speakers=0)
    bad = tmp_path / "broken.flac"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(AudioError, match="broken.flac"):
        diarize(bad)


def test_silence_gives_no_turns_and_a_warning():
    out = diarize(np.zeros(16000 * 5, dtype=np.float32), sample_rate=16000)
    assert out["diarization"] == [] and out["exclusiveDiarization"] == []
    assert "no speech was detected" in out["warning"]

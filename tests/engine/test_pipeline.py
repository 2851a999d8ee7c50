"""End-to-end diarization on real audio (pyannote's sample) and espeak-ng conversations."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pyannote_notebook import samples
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


# --------------------------------------------------------------------------- short clips
# 10-20 s espeak dialogues (the automatic count used to over-count them: 2-10 speakers found;
# see the clustering module docstring). The first one is the reviewer's repro shape: 4 turns,
# voices 0 and 1, 15.7 s. The others were drawn with random.Random(100 + seed) over voices
# 0-5 and SENTENCES[:24], then frozen here; the pair of voices 0 and 4, which the encoder
# cannot tell apart (centroid cosine 0.93), is left out.
S = samples.SENTENCES
SHORT: dict[str, tuple[list, int]] = {
    "repro": ([(0, "Did you manage to finish the report before the meeting this morning?"),
               (1, "Almost, I still have to check the figures in the last section."),
               (0, "Then send it to me tonight and I will read it first thing tomorrow."),
               (1, "Fine, I will also add the chart that the manager asked for.")], 2),
    "one_v1": ([(1, S[14]), (1, S[5]), (1, S[22]), (1, S[12])], 1),
    "one_v4": ([(4, S[6]), (4, S[17]), (4, S[11]), (4, S[14])], 1),
    "one_v5": ([(5, S[14]), (5, S[23]), (5, S[22]), (5, S[6])], 1),
    "two_v23": ([(2, S[22]), (3, S[6]), (2, S[10]), (3, S[14])], 2),
    "two_v43": ([(4, S[18]), (3, S[1]), (4, S[23]), (3, S[16])], 2),
    "two_v32": ([(3, S[21]), (2, S[3]), (3, S[15]), (2, S[2])], 2),
    "three_v215": ([(2, S[6]), (1, S[5]), (5, S[4]), (1, S[11]), (2, S[20])], 3),
    "three_v150": ([(1, S[14]), (5, S[17]), (0, S[11]), (5, S[6]), (1, S[15])], 3),
    "three_v314": ([(3, S[2]), (1, S[1]), (4, S[22]), (3, S[5]), (1, S[19])], 3),
}


@pytest.fixture(scope="module")
def short_outputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("short")
    out = {}
    for name, (turns, _) in SHORT.items():
        wav, rttm = samples.synthesize_conversation(turns, d / f"{name}.wav")
        out[name] = (wav, rttm, diarize(wav))
    return out


@pytest.mark.parametrize("name", list(SHORT))
def test_short_dialogues_count_and_der(short_outputs, name):
    """Right count and DER < 5 % (0.25 s collar) on 10-20 s clips.

    Measured 0.0 % on all ten (references are exact, the collar absorbs boundary jitter);
    a single 1.5 s window given to the wrong speaker in a 15 s clip costs about 5-10 %, and a
    wrong count costs 20-75 %, so 5 % fails on any real labelling error."""
    wav, rttm, out = short_outputs[name]
    assert 10.0 <= load_audio(wav)[0].size / 16000 <= 20.5
    assert len(_speakers(out)) == SHORT[name][1]
    assert der(rttm, out) < 0.05
    assert "estimated on only" in out["warning"]  # short audio: still warned


def test_on_stage_hook_brackets_each_timed_stage_and_changes_nothing(sample_files):
    from pyannote_notebook.engine.pipeline import format_output, run_pipeline

    wav, _ = load_audio(sample_files[0])
    calls = []
    hooked = run_pipeline(wav, num_speakers=2, on_stage=lambda s, p: calls.append((s, p)))
    plain = run_pipeline(wav, num_speakers=2)
    assert calls == [(s, p) for s in ("vad", "embeddings", "clustering", "turns")
                     for p in ("start", "end")]
    assert list(hooked.timings) == ["vad", "embeddings", "clustering", "turns"]
    assert format_output(hooked) == format_output(plain)
    np.testing.assert_array_equal(hooked.window_labels, plain.window_labels)

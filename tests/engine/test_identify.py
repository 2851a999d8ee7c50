"""Voiceprints and identification, end to end on espeak-ng voices."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from pyannote_notebook import samples
from pyannote_notebook.engine import identify, voiceprint
from pyannote_notebook.engine.identification import match_speakers, scores_from_cosine
from pyannote_notebook.engine.voiceprints import decode_voiceprint, encode_voiceprint
from pyannote_notebook.errors import EngineError, InvalidOption

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prints(enrollment):
    return {f"person{i}": voiceprint(path) for i, path in enrollment.items()}


def test_voiceprint_format(prints):
    vp = prints["person0"]
    raw = base64.b64decode(vp)
    assert raw[:4] == b"PNVP" and raw[4] == 1 and len(raw) == 7 + 512
    v = decode_voiceprint(vp)
    assert v.shape == (256,) and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-3)
    assert decode_voiceprint(encode_voiceprint(v)) == pytest.approx(v, abs=1e-3)
    with pytest.raises(EngineError, match="not a voiceprint of the local engine"):
        decode_voiceprint(base64.b64encode(b"hello world").decode())
    with pytest.raises(EngineError, match="invalid base64"):
        decode_voiceprint("not base64 !!")


def test_identify_three_speakers(conversations, prints):
    out = identify(conversations["three"][0], prints)
    by_spk = {v["speaker"]: v for v in out["voiceprints"]}
    assert len(by_spk) == 3
    # diarization label -> reference speaker by order of first appearance: spk0, spk1, spk2
    expected = {"SPEAKER_00": "person0", "SPEAKER_01": "person1", "SPEAKER_02": "person2"}
    assert {k: v["match"] for k, v in by_spk.items()} == expected
    for v in out["voiceprints"]:
        assert set(v["confidence"]) == set(prints)
        assert all(0 <= s <= 100 and isinstance(s, int) for s in v["confidence"].values())
        assert v["confidence"][v["match"]] == max(v["confidence"].values())
    assert len(out["identification"]) == len(out["diarization"])
    for seg, ident in zip(out["diarization"], out["identification"]):
        assert ident["diarizationSpeaker"] == seg["speaker"]
        assert ident["match"] == expected[seg["speaker"]] == ident["speaker"]
        assert (ident["start"], ident["end"]) == (seg["start"], seg["end"])


def test_threshold_leaves_speakers_unmatched(conversations, prints):
    out = identify(conversations["two"][0], prints, matching_threshold=100)
    assert all(v["match"] is None for v in out["voiceprints"])
    for ident in out["identification"]:
        assert ident["match"] is None and ident["speaker"] == ident["diarizationSpeaker"]
    # with a moderate threshold the right voices still match, the absent ones don't exist
    out = identify(conversations["two"][0], prints, matching_threshold=60)
    assert {v["speaker"]: v["match"] for v in out["voiceprints"]} == {
        "SPEAKER_00": "person0", "SPEAKER_01": "person1"}


def test_exclusive_matching(conversations, prints):
    only = {"person0": prints["person0"]}
    out = identify(conversations["two"][0], only, matching_exclusive=True)
    assert [v["match"] for v in out["voiceprints"]] == ["person0", None]
    out = identify(conversations["two"][0], only, matching_exclusive=False)
    assert [v["match"] for v in out["voiceprints"]] == ["person0", "person0"]


def test_match_speakers_unit():
    scores = np.array([[90, 80], [85, 20]])
    assert match_speakers(scores, exclusive=True) == [1, 0]  # total 165 > 110
    assert match_speakers(scores, exclusive=False) == [0, 0]
    assert match_speakers(scores, exclusive=True, threshold=81) == [None, 0]
    assert scores_from_cosine(np.array([0.2, 0.5, 0.75, 1.0])).tolist() == [0, 0, 50, 100]


def test_bad_voiceprints_and_threshold(conversations, prints):
    wav = conversations["two"][0]
    with pytest.raises(InvalidOption, match=r"voiceprints\[0\].voiceprint: not a voiceprint"):
        identify(wav, [{"label": "x", "voiceprint": "AAAA"}])
    with pytest.raises(InvalidOption, match="matching_threshold: must be within 0-100"):
        identify(wav, prints, matching_threshold=150)
    with pytest.raises(InvalidOption, match="at least one voiceprint"):
        identify(wav, {})


def test_voiceprint_refuses_long_audio(tmp_path):
    turns = [(0, s) for s in samples.SENTENCES[:10]]
    long_wav, _ = samples.synthesize_conversation(turns, tmp_path / "long.wav")
    with pytest.raises(EngineError, match=r"at most 30 seconds for a voiceprint \(got 3\d\.\d s\)"):
        voiceprint(long_wav)


def test_voiceprint_refuses_silence():
    with pytest.raises(EngineError, match="less than 0.5 s of speech"):
        voiceprint(np.zeros(16000 * 3, dtype=np.float32), sample_rate=16000)

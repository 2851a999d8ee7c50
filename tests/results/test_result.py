"""Result: every field from hand-written outputs, exact conversion, round trips, bad input."""

from __future__ import annotations

import io
import sys
import json
import math

import numpy as np
import pytest
from pyannote.core import Annotation, Segment

from pyannote_notebook.errors import FormatError, InvalidOption, JobCanceled, JobFailed
from pyannote_notebook.results import Result

DIARIZE = {
    "diarization": [
        # deliberately unsorted
        {"speaker": "SPEAKER_01", "start": 2.5, "end": 6.0,
         "confidence": {"SPEAKER_01": 80, "SPEAKER_00": 20}},
        {"speaker": "SPEAKER_00", "start": 0.5, "end": 3.0,
         "confidence": {"SPEAKER_00": 93, "SPEAKER_01": 7}},
        {"speaker": "SPEAKER_00", "start": 7.0, "end": 9.25,
         "confidence": {"SPEAKER_00": 99}},
    ],
    "exclusiveDiarization": [
        {"speaker": "SPEAKER_00", "start": 0.5, "end": 2.5},
        {"speaker": "SPEAKER_01", "start": 2.5, "end": 6.0},
        {"speaker": "SPEAKER_00", "start": 7.0, "end": 9.25},
    ],
    "confidence": {"score": [95, 89, 78, 60], "resolution": 0.02},
    "wordLevelTranscription": [
        {"start": 1.0, "end": 1.4, "text": "you", "speaker": "SPEAKER_00"},
        {"start": 0.5, "end": 0.8, "text": "Hello", "speaker": "SPEAKER_00"},
    ],
    "turnLevelTranscription": [
        {"start": 0.5, "end": 2.3, "text": "Hello, how are you?", "speaker": "SPEAKER_00"},
    ],
    "warning": "audio is short",
}

IDENTIFY = {
    "diarization": [
        {"speaker": "Sam", "start": 0.0, "end": 4.0},
        {"speaker": "SPEAKER_01", "start": 4.0, "end": 5.5},
    ],
    "identification": [
        {"speaker": "SPEAKER_01", "start": 4.0, "end": 5.5, "diarizationSpeaker": "SPEAKER_01",
         "match": None},
        {"speaker": "Sam", "start": 0.0, "end": 4.0, "diarizationSpeaker": "SPEAKER_00",
         "match": "Sam", "confidence": {"Sam": 82, "Rick": 11}},
    ],
    "voiceprints": [
        {"speaker": "SPEAKER_00", "match": "Sam", "confidence": {"Sam": 82, "Rick": 11}},
        {"speaker": "SPEAKER_01", "match": None, "confidence": {"Sam": 16, "Rick": 24}},
    ],
}


def pyannote_audio_loop(turns: list[dict], uri: str | None = None) -> Annotation:
    """What pyannote.audio's cloud wrapper does (pyannoteai-api.md section 7)."""
    annotation = Annotation(uri=uri)
    for t, turn in enumerate(turns):
        annotation[Segment(turn["start"], turn["end"]), t] = turn["speaker"]
    return annotation.rename_tracks("string")


# --------------------------------------------------------------------------- fields


def test_diarize_fields() -> None:
    r = Result(DIARIZE, uri="meeting", job_id="job-1")
    assert r.kind == "diarize"
    assert r.uri == "meeting" and r.job_id == "job-1"
    assert r.raw is DIARIZE
    assert r.warning == "audio is short"
    assert r.error is None
    assert r.voiceprint is None
    assert r.speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert r.duration == 9.25
    assert r.n_turns == 3 and len(r) == 3

    ann = r.annotation
    assert ann.uri == "meeting"
    assert list(ann.itertracks(yield_label=True)) == [
        (Segment(0.5, 3.0), "A", "SPEAKER_00"),
        (Segment(2.5, 6.0), "B", "SPEAKER_01"),
        (Segment(7.0, 9.25), "C", "SPEAKER_00"),
    ]
    assert ann.label_duration("SPEAKER_00") == pytest.approx(4.75)

    ex = r.exclusive
    assert [(s.start, s.end, lbl) for s, _, lbl in ex.itertracks(yield_label=True)] == [
        (0.5, 2.5, "SPEAKER_00"), (2.5, 6.0, "SPEAKER_01"), (7.0, 9.25, "SPEAKER_00")]
    assert ex.get_overlap().duration() == 0.0

    conf = r.confidence
    assert conf.name == "confidence" and conf.index.name == "time"
    assert conf.tolist() == [95.0, 89.0, 78.0, 60.0]
    assert conf.index.to_numpy() == pytest.approx([0.0, 0.02, 0.04, 0.06])

    df = r.turns
    assert list(df.columns) == ["uri", "speaker", "start", "end", "duration", "confidence",
                                "confidence_SPEAKER_00", "confidence_SPEAKER_01"]
    assert df["uri"].tolist() == ["meeting"] * 3
    assert df["speaker"].tolist() == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_00"]
    assert df["start"].tolist() == [0.5, 2.5, 7.0]
    assert df["end"].tolist() == [3.0, 6.0, 9.25]
    assert df["duration"].tolist() == [2.5, 3.5, 2.25]
    assert df["confidence"].tolist() == [93.0, 80.0, 99.0]
    assert df["confidence_SPEAKER_00"].tolist() == [93.0, 20.0, 99.0]
    got = df["confidence_SPEAKER_01"].tolist()
    assert got[:2] == [7.0, 80.0] and math.isnan(got[2])

    exdf = r.to_dataframe(exclusive=True)
    assert list(exdf.columns) == ["uri", "speaker", "start", "end", "duration"]
    assert exdf["end"].tolist() == [2.5, 6.0, 9.25]

    words = r.words
    assert list(words.columns) == ["start", "end", "speaker", "text"]
    assert words["text"].tolist() == ["Hello", "you"]  # sorted by time
    assert words["start"].tolist() == [0.5, 1.0]
    transcript = r.transcript
    assert transcript["text"].tolist() == ["Hello, how are you?"]
    assert transcript["end"].tolist() == [2.3]
    assert r.identification is None and r.voiceprint_matches is None


def test_optional_fields_absent() -> None:
    r = Result({"diarization": [{"speaker": "A", "start": 0, "end": 1}]})
    assert r.exclusive is None
    assert r.confidence is None
    assert r.words is None and r.transcript is None
    assert r.warning is None
    assert r.uri is None
    assert list(r.turns.columns) == ["uri", "speaker", "start", "end", "duration"]
    with pytest.raises(InvalidOption, match="exclusive: this output has no exclusiveDiarization"):
        r.to_dataframe(exclusive=True)


def test_identify_fields() -> None:
    r = Result(IDENTIFY, job_id="j2")
    assert r.kind == "identify"
    assert r.speakers == ["SPEAKER_01", "Sam"]
    ident = r.identification
    assert list(ident.columns) == ["start", "end", "speaker", "diarization_speaker", "match",
                                   "confidence_Rick", "confidence_Sam"]
    assert ident["speaker"].tolist() == ["Sam", "SPEAKER_01"]
    assert ident["diarization_speaker"].tolist() == ["SPEAKER_00", "SPEAKER_01"]
    assert ident["match"].tolist()[0] == "Sam" and ident["match"].tolist()[1] is None
    assert ident["confidence_Sam"].tolist()[0] == 82.0
    assert math.isnan(ident["confidence_Sam"].tolist()[1])
    vm = r.voiceprint_matches
    assert list(vm.columns) == ["speaker", "match", "confidence_Rick", "confidence_Sam"]
    assert vm["speaker"].tolist() == ["SPEAKER_00", "SPEAKER_01"]
    assert vm["confidence_Rick"].tolist() == [11.0, 24.0]
    assert vm["confidence_Sam"].tolist() == [82.0, 16.0]


def test_identification_items_without_times_are_kept_with_nan() -> None:
    # the API requires only diarizationSpeaker and match on an identification item
    output = {
        "diarization": [{"speaker": "Sam", "start": 0.0, "end": 4.0}],
        "identification": [
            {"diarizationSpeaker": "SPEAKER_01", "match": None},
            {"speaker": "Sam", "start": 3.0, "end": 4.0, "diarizationSpeaker": "SPEAKER_00",
             "match": "Sam", "confidence": {"Sam": 80}},
            {"speaker": "Rick", "start": None, "end": None, "diarizationSpeaker": "SPEAKER_02",
             "match": "Rick"},
            {"speaker": "Sam", "start": 1.0, "end": 2.0, "diarizationSpeaker": "SPEAKER_00",
             "match": "Sam"},
            {"start": 5.0, "diarizationSpeaker": "SPEAKER_03", "match": None},
        ],
    }
    ident = Result(output).identification
    assert list(ident.columns) == ["start", "end", "speaker", "diarization_speaker", "match",
                                   "confidence_Sam"]
    assert ident["start"].dtype == np.float64 and ident["end"].dtype == np.float64
    # timed rows by time, then the rows without a start in output order
    assert ident["diarization_speaker"].tolist() == [
        "SPEAKER_00", "SPEAKER_00", "SPEAKER_03", "SPEAKER_01", "SPEAKER_02"]
    assert ident["start"].tolist()[:3] == [1.0, 3.0, 5.0]
    assert all(math.isnan(v) for v in ident["start"].tolist()[3:])
    assert ident["end"].tolist()[:2] == [2.0, 4.0]
    assert all(math.isnan(v) for v in ident["end"].tolist()[2:])
    assert ident["match"].tolist() == ["Sam", "Sam", None, None, "Rick"]
    assert ident["speaker"].tolist() == ["Sam", "Sam", None, None, "Rick"]
    assert ident["confidence_Sam"].tolist()[1] == 80.0
    assert len(ident.dropna(subset=["start", "end"])) == 2
    # a time that is present must still be a finite number; the message names the item
    bad = {**output, "identification": [*output["identification"],
                                         {"start": "soon", "diarizationSpeaker": "S",
                                          "match": None}]}
    with pytest.raises(FormatError,
                       match=r"identification\[5\]\.start must be a finite number of seconds, "
                             r"got 'soon'"):
        Result(bad).identification
    # transcription segments do require their times (the API marks them required)
    words = {**output, "wordLevelTranscription": [
        {"start": 0.0, "end": 0.5, "text": "hi", "speaker": "Sam"},
        {"end": 0.9, "text": "there", "speaker": "Sam"}]}
    with pytest.raises(FormatError, match=r"wordLevelTranscription\[1\] has no 'start' field"):
        Result(words).words
    words["wordLevelTranscription"][1]["start"] = None
    with pytest.raises(FormatError, match=r"wordLevelTranscription\[1\]\.start must be a finite "
                                          r"number of seconds, got None"):
        Result(words).words


def test_voiceprint_fields() -> None:
    r = Result({"voiceprint": "aGVsbG8gd29ybGQ", "warning": "short clip"}, job_id="vp")
    assert r.kind == "voiceprint"
    assert r.voiceprint == "aGVsbG8gd29ybGQ"
    assert r.warning == "short clip"
    assert r.n_turns == 0 and r.speakers == [] and r.duration == 0.0
    assert r._repr_png_() is None
    assert "15 characters" in r._repr_html_()
    assert repr(r) == "<Result kind='voiceprint' job_id='vp' uri='vp' voiceprint='15 characters' " \
                      "warning='short clip'>"


def test_snake_case_exclusive_and_full_job_json() -> None:
    job = {
        "jobId": "fb16", "status": "succeeded", "createdAt": "x",
        "output": {"diarization": [{"speaker": "S", "start": 15, "end": 30.5}],
                   "exclusive_diarization": [{"speaker": "S", "start": 15, "end": 30.5}]},
    }
    r = Result.from_json(job)
    assert r.job_id == "fb16" and r.uri == "fb16"
    assert r.raw == job["output"]
    assert [(s.start, s.end) for s in r.exclusive.itersegments()] == [(15.0, 30.5)]
    assert r.duration == 30.5


def test_job_status_errors() -> None:
    with pytest.raises(JobFailed, match="job j9 failed: An error occurred while processing"):
        Result({"jobId": "j9", "status": "failed",
                "output": {"error": "An error occurred while processing the audio."}})
    with pytest.raises(JobCanceled, match="job j8 was canceled"):
        Result({"jobId": "j8", "status": "canceled", "output": None})
    with pytest.raises(InvalidOption, match="job j7 has status 'running': wait for it"):
        Result({"jobId": "j7", "status": "running", "output": None})
    with pytest.raises(JobFailed, match="job <unknown> failed: boom"):
        Result({"error": "boom"})
    with pytest.raises(InvalidOption, match="kind: must be one of diarize, identify, voiceprint"):
        Result({"diarization": []}, kind="transcribe")


def test_from_json_path_string_and_uri_rules(tmp_path) -> None:
    path = tmp_path / "interview-3.json"
    path.write_text(json.dumps(DIARIZE))
    r = Result.from_json(path)
    assert r.uri == "interview-3" and r.source == str(path)
    assert Result.from_json(str(path), uri="given").uri == "given"
    assert Result.from_json(path, audio="/data/audio/ES2004a.wav").uri == "ES2004a"
    text = Result(DIARIZE).to_json()
    again = Result.from_json(text)
    assert again.raw == DIARIZE
    assert again.annotation == Result(DIARIZE).annotation
    out = tmp_path / "copy.json"
    Result(DIARIZE).to_json(out)
    assert json.loads(out.read_text()) == DIARIZE


def test_from_json_errors(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"diarization": [\n  {"speaker": "A", "start": 1,}\n]}')
    with pytest.raises(FormatError) as exc:
        Result.from_json(bad)
    assert exc.value.path == str(bad) and exc.value.line == 2
    assert str(exc.value).startswith(f"{bad}:2: invalid JSON")
    with pytest.raises(FormatError, match="cannot read output JSON"):
        Result.from_json(tmp_path / "missing.json")
    with pytest.raises(InvalidOption, match="output: expected a dict"):
        Result.from_json(42)  # type: ignore[arg-type]
    with pytest.raises(FormatError, match=r"diarize output has no 'diarization' field \(keys: \['foo'\]\)"):
        Result({"foo": 1})


@pytest.mark.parametrize(
    "turn, message",
    [
        ({"speaker": "A", "start": 1.0}, r"diarization\[1\] has no 'end' field"),
        ({"speaker": "A", "start": "1.0", "end": 2}, r"diarization\[1\]\.start must be a finite number of seconds, got '1\.0'"),
        ({"speaker": "A", "start": -1.0, "end": 2}, r"diarization\[1\]\.start is negative \(-1\.0\)"),
        ({"speaker": "A", "start": 3.0, "end": 2}, r"diarization\[1\] ends before it starts \(start=3\.0, end=2\)"),
        ({"speaker": 7, "start": 0, "end": 2}, r"diarization\[1\]\.speaker must be a string, got 7"),
        ({"speaker": "A", "start": 0, "end": float("nan")}, r"diarization\[1\]\.end must be a finite number"),
        ({"speaker": "A", "start": 0, "end": 1, "confidence": {"A": "high"}}, r"diarization\[1\]\.confidence must map speaker labels to numbers"),
        (["A", 0, 1], r"diarization\[1\] is a list, expected an object"),
    ],
)
def test_bad_turn_is_named(turn, message) -> None:
    good = {"speaker": "B", "start": 0.0, "end": 1.0}
    with pytest.raises(FormatError, match=message):
        Result({"diarization": [good, turn]})


def test_bad_exclusive_and_confidence_curve() -> None:
    with pytest.raises(FormatError, match=r"exclusiveDiarization\[0\] has no 'speaker' field"):
        Result({"diarization": [], "exclusiveDiarization": [{"start": 0, "end": 1}]})
    with pytest.raises(FormatError, match="diarization must be a list of turns, got dict"):
        Result({"diarization": {}})
    r = Result({"diarization": [], "confidence": {"score": [1, 2], "resolution": 0}})
    with pytest.raises(FormatError, match="confidence.resolution must be > 0, got 0"):
        r.confidence


# --------------------------------------------------------------------------- exact conversion


def test_conversion_equals_pyannote_audio_loop_with_ties_and_unsorted_input() -> None:
    rng = np.random.default_rng(3)
    turns = []
    for i in range(400):
        s = float(np.round(rng.uniform(0, 100), 3))
        turns.append({"speaker": f"SPEAKER_{rng.integers(0, 5):02d}", "start": s,
                      "end": float(np.round(s + rng.uniform(0.1, 5), 3))})
    # identical segments at indices 9 and 10 (track order "10" < "9" in pyannote.core) and a
    # same-speaker duplicate: both must survive as distinct tracks
    turns[9] = {"speaker": "SPEAKER_01", "start": 50.0, "end": 52.0}
    turns[10] = {"speaker": "SPEAKER_02", "start": 50.0, "end": 52.0}
    turns[11] = {"speaker": "SPEAKER_02", "start": 50.0, "end": 52.0}
    turns.append({"speaker": "SPEAKER_00", "start": 3.0, "end": 3.0})  # empty: dropped by both
    expected = pyannote_audio_loop(turns, uri="f")
    got = Result({"diarization": turns}, uri="f").annotation
    assert got == expected
    assert list(got.itertracks(yield_label=True)) == list(expected.itertracks(yield_label=True))
    # 401 turns: 1 empty (dropped), 3 identical share one segment -> 398 segments, 400 tracks
    assert len(got) == len(expected) == 398
    assert len(list(got.itertracks())) == 400
    assert got.labels() == expected.labels()
    for label in got.labels():
        assert got.label_timeline(label) == expected.label_timeline(label)
    df = Result({"diarization": turns}, uri="f").turns
    assert len(df) == 400
    ref = sorted((t["start"], t["end"]) for t in turns if t["end"] > t["start"])
    assert list(zip(df["start"], df["end"])) == ref


def test_rttm_round_trip(tmp_path) -> None:
    formats = pytest.importorskip("pyannote_notebook.results.formats")
    r = Result(DIARIZE, uri="meeting")
    path = tmp_path / "meeting.rttm"
    r.to_rttm(path)
    lines = path.read_text().splitlines()
    assert lines[0] == "SPEAKER meeting 1 0.500 2.500 <NA> <NA> SPEAKER_00 <NA> <NA>"
    back = formats.read_rttm(path)["meeting"]
    assert [(s.start, s.end, lbl) for s, _, lbl in back.itertracks(yield_label=True)] == [
        (s.start, s.end, lbl) for s, _, lbl in r.annotation.itertracks(yield_label=True)]
    assert back.uri == "meeting"
    # read_rttm names tracks by line number; pyannote's usual normalisation makes them equal
    assert back.rename_tracks("string") == r.annotation
    # a larger file with overlaps and same-speaker duplicates: same (segment, label) multiset
    rng = np.random.default_rng(5)
    starts = np.round(rng.uniform(0, 600, 300), 3)
    turns = [{"speaker": f"SPK_{k}", "start": float(s), "end": float(np.round(s + d, 3))}
             for s, d, k in zip(starts, rng.uniform(0.2, 8, 300), rng.integers(0, 6, 300))]
    turns.append(dict(turns[0]))
    big = Result({"diarization": turns}, uri="big")
    big.to_rttm(tmp_path / "big.rttm")
    back_big = formats.read_rttm(tmp_path / "big.rttm")["big"]
    # RTTM stores start and duration in ms, so end = start + duration carries float noise
    key = lambda ann: sorted((round(s.start, 6), round(s.end, 6), lbl)  # noqa: E731
                             for s, _, lbl in ann.itertracks(yield_label=True))
    assert key(back_big) == key(big.annotation)
    assert len(list(back_big.itertracks())) == 301
    buf = io.StringIO()
    r.to_rttm(buf, exclusive=True)
    assert buf.getvalue().splitlines()[0] == (
        "SPEAKER meeting 1 0.500 2.000 <NA> <NA> SPEAKER_00 <NA> <NA>")


# --------------------------------------------------------------------------- reprs


def test_reprs_render_headless() -> None:
    from PIL import Image

    r = Result(DIARIZE, uri="meeting", job_id="job-1")
    png = r._repr_png_()
    img = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    assert img.shape[0] > 50 and img.shape[1] > 200
    assert img.std() > 5  # not blank
    html = r._repr_html_()
    assert ("<th style='text-align:left'>speakers</th>"
            "<td style='text-align:left'>2: SPEAKER_00 4.8 s, SPEAKER_01 3.5 s</td>") in html
    assert "<td style='text-align:left'>9.2 s</td>" in html
    assert "data:image/png;base64," in html
    assert repr(r) == ("<Result kind='diarize' job_id='job-1' uri='meeting' speakers=2 turns=3 "
                       "duration='9.2 s' exclusive='yes' warning='audio is short'>")
    stats = r.stats()
    assert stats["speaker"].tolist() == ["SPEAKER_00", "SPEAKER_01"]
    assert stats["talk_time"].tolist() == pytest.approx([4.75, 3.5])


def test_imports_stay_light() -> None:
    import subprocess

    code = ("import sys, pyannote_notebook.results, pyannote_notebook.results.result, "
            "pyannote_notebook.display; "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'pyannote.core') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_reads_the_diarize_cli_json(tmp_path) -> None:
    path = tmp_path / "out.json"
    path.write_text(json.dumps({"meeting": DIARIZE}))
    r = Result.from_json(path)
    assert r.uri == "meeting" and r.raw == DIARIZE
    path.write_text(json.dumps({"a": DIARIZE, "b": {"diarization": []}}))
    many = Result.load_many(path)
    assert list(many) == ["a", "b"] and many["a"].speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert many["b"].n_turns == 0
    with pytest.raises(FormatError, match=r"out.json: holds the outputs of 2 files \(a, b\); "
                                          r"use Result.load_many"):
        Result.from_json(path)
    with pytest.raises(FormatError, match="not a {uri: output} mapping"):
        Result.load_many(DIARIZE)

"""RTTM / UEM readers and writers, DataFrame <-> Annotation (values, errors, round trips)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyannote.core import Annotation, Segment, Timeline

from pyannote_notebook.errors import FormatError, InvalidOption
from pyannote_notebook.results.formats import (
    MalformedLinesWarning,
    annotation_to_dataframe,
    dataframe_to_annotations,
    parse_rttm,
    parse_uem,
    read_rttm,
    read_uem,
    write_rttm,
    write_uem,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
GOOD = "SPEAKER f1 1 0.500 1.250 <NA> <NA> alice <NA> <NA>"


def rttm(text: str) -> io.StringIO:
    stream = io.StringIO(text)
    stream.name = "mem.rttm"
    return stream


def test_parse_rttm_fixture_values() -> None:
    data = parse_rttm(FIXTURES / "dscore_fixture" / "ref.rttm")
    assert len(data) == 13
    first, last = data.turns[0], data.turns[-1]
    assert (first.uri, first.start, first.duration, first.speaker, first.line) == (
        "FILE1", 0.0, 0.558, "speaker1", 1)
    assert (last.start, last.duration, last.speaker, last.line) == (35.303, 5.743, "speaker2", 13)
    assert data.uris() == ["FILE1"]
    starts, ends, speakers = data.by_uri()["FILE1"]
    assert ends[1] == pytest.approx(0.678 + 1.533)
    assert speakers.count("speaker1") == 6
    assert data.skipped == []


def test_parse_rttm_skips_comments_other_types_and_accepts_9_fields() -> None:
    text = "\n".join([
        ";; a comment",
        "",
        "SPKR-INFO f1 1 <NA> <NA> <NA> unknown alice <NA> <NA>",
        "LEXEME f1 1 0.1 0.2 hello lex alice <NA> <NA>",
        "SPEAKER f1 1 0.500 1.250 <NA> <NA> alice <NA>",  # 9 fields (no SLAT)
        GOOD.replace("alice", "bob"),
    ])
    data = parse_rttm(rttm(text))
    assert [(t.speaker, t.line, t.start, t.duration) for t in data] == [
        ("alice", 5, 0.5, 1.25), ("bob", 6, 0.5, 1.25)]


@pytest.mark.parametrize(
    "line, reason",
    [
        ("SPEAKER f1 1 0.5 1.0 <NA> <NA> a", "has 8 fields; expected 10"),
        ("SPEAKER f1 1 0.5 1.0 <NA> <NA> a <NA> <NA> extra", "has 11 fields; expected 10"),
        ("SPEAKER f1 1 abc 1.0 <NA> <NA> a <NA> <NA>", "onset 'abc' is not a finite number"),
        ("SPEAKER f1 1 -0.5 1.0 <NA> <NA> a <NA> <NA>", "onset -0.5 is negative"),
        ("SPEAKER f1 1 0.5 nan <NA> <NA> a <NA> <NA>", "duration 'nan' is not a finite number"),
        ("SPEAKER f1 1 0.5 0 <NA> <NA> a <NA> <NA>", "duration 0 is not > 0"),
        ("SPEAKER f1 1 0.5 -1 <NA> <NA> a <NA> <NA>", "duration -1 is not > 0"),
        ("SPEEKER f1 1 0.5 1 <NA> <NA> a <NA> <NA>", "unknown RTTM record type 'SPEEKER'"),
    ],
)
def test_parse_rttm_errors_name_file_and_line(line: str, reason: str) -> None:
    with pytest.raises(FormatError) as info:
        parse_rttm(rttm(f"{GOOD}\n{line}\n{GOOD}\n"))
    assert info.value.line == 2
    assert info.value.path == "mem.rttm"
    assert str(info.value).startswith("mem.rttm:2: ")
    assert reason in str(info.value)


def test_parse_rttm_lenient_mode_records_skipped_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.rttm"
    path.write_text(f"{GOOD}\nSPEAKER f1 1 1 0 <NA> <NA> a <NA> <NA>\nFOO\n{GOOD}\n")
    data = parse_rttm(path, strict=False)
    assert [t.line for t in data] == [1, 4]
    assert [(e.path, e.line) for e in data.skipped] == [(str(path), 2), (str(path), 3)]
    assert "duration 0 is not > 0" in str(data.skipped[0])


def test_read_rttm_and_uem_lenient_mode_warn_with_the_skipped_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.rttm"
    path.write_text(f"{GOOD}\nSPEAKER f1 1 x 1 <NA> <NA> a <NA> <NA>\n{GOOD}\n")
    with pytest.warns(MalformedLinesWarning) as caught:
        annotations = read_rttm(path, strict=False)
    assert len(caught) == 1
    assert str(caught[0].message) == (
        f"skipped 1 malformed line(s): {path}:2: onset 'x' is not a finite number")
    assert caught[0].filename == __file__  # points at the caller of read_rttm
    assert sorted(annotations["f1"].itertracks(yield_label=True)) == [
        (Segment(0.5, 1.75), 1, "alice"), (Segment(0.5, 1.75), 3, "alice")]
    uem = tmp_path / "x.uem"
    uem.write_text("f1 1 0 10\n" + "".join(f"f1 1 {k} {k}\n" for k in range(7)))
    with pytest.warns(MalformedLinesWarning, match=r"skipped 7 malformed line\(s\): .*x.uem:2: "
                                                   r"end 0 is not after start 0; .*; and 2 more"):
        timelines = read_uem(uem, strict=False)
    assert list(timelines["f1"]) == [Segment(0, 10)]


def test_parse_rttm_missing_file_and_binary_stream(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.rttm: no such file"):
        parse_rttm(tmp_path / "nope.rttm")
    data = parse_rttm(io.BytesIO(GOOD.encode()))
    assert data.turns[0].speaker == "alice"
    with pytest.raises(FormatError, match="not UTF-8"):
        parse_rttm(io.BytesIO(b"SPEAKER \xff\xfe"))


@settings(max_examples=150, deadline=None)
@given(garbage=st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                              blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e"
                                                                   "\x85\u2028\u2029"),
                       max_size=60),
       position=st.integers(0, 3))
def test_parse_rttm_garbage_gives_formaterror_at_its_line(garbage: str, position: int) -> None:
    lines = [GOOD] * 4
    lines.insert(position, garbage)
    try:
        data = parse_rttm(rttm("\n".join(lines)))
    except FormatError as exc:
        assert exc.line == position + 1
    else:
        assert len(data) in (4, 5)
    lenient = parse_rttm(rttm("\n".join(lines)), strict=False)
    assert all(e.line == position + 1 for e in lenient.skipped)
    assert len(lenient) + len(lenient.skipped) in (4, 5)


@settings(max_examples=100, deadline=None)
@given(fields=st.lists(st.sampled_from(["SPEAKER", "f", "1", "-1", "0", "2.5", "x", "<NA>",
                                        "inf", "1e3", ";", "SEGMENT"]), min_size=1,
                       max_size=12))
def test_parse_rttm_random_records_never_raise_other_errors(fields: list[str]) -> None:
    line = " ".join(fields)
    try:
        data = parse_rttm(rttm(f"{GOOD}\n{line}\n"))
    except FormatError as exc:
        assert exc.line == 2
    else:
        assert 1 <= len(data) <= 2
        for turn in data:
            assert turn.start >= 0 and turn.duration > 0


def test_parse_uem_fixture_and_errors(tmp_path: Path) -> None:
    uem = parse_uem(FIXTURES / "dscore_fixture" / "test_load.uem")
    assert dict(uem) == {"FILE1": [(0.0, 15.0), (25.0, 30.4)], "FILE2": [(4.5, 13.24)]}
    cases = {
        "f 1 0 1 extra": "has 5 fields; expected 4",
        "f 1 0": "has 3 fields; expected 4",
        "f 1 a 1": "start 'a' is not a finite number",
        "f 1 0 b": "end 'b' is not a finite number",
        "f 1 -1 2": "start -1 is negative",
        "f 1 3 3": "end 3 is not after start 3",
    }
    for line, reason in cases.items():
        path = tmp_path / "u.uem"
        path.write_text(f"; comment\nf 1 0 1\n{line}\n")
        with pytest.raises(FormatError) as info:
            parse_uem(path)
        assert (info.value.path, info.value.line) == (str(path), 3)
        assert reason in str(info.value)
        lenient = parse_uem(path, strict=False)
        assert dict(lenient) == {"f": [(0.0, 1.0)]}
        assert [e.line for e in lenient.skipped] == [3]


@settings(max_examples=100, deadline=None)
@given(garbage=st.text(alphabet="f 0123456789.-;xe\t", max_size=30))
def test_parse_uem_garbage(garbage: str) -> None:
    text = f"f 1 0 1\n{garbage}\nf 1 2 3\n"
    try:
        data = parse_uem(io.StringIO(text))
    except FormatError as exc:
        assert exc.line == 2
    else:
        assert sum(len(v) for v in data.values()) in (2, 3)


def test_read_rttm_keeps_same_speaker_overlaps(tmp_path: Path) -> None:
    path = tmp_path / "o.rttm"
    path.write_text("SPEAKER f 1 0 2 <NA> <NA> a <NA> <NA>\n"
                    "SPEAKER f 1 1 2 <NA> <NA> a <NA> <NA>\n"
                    "SPEAKER g 1 0 1 <NA> <NA> b <NA> <NA>\n")
    annotations = read_rttm(path)
    assert sorted(annotations) == ["f", "g"]
    f = annotations["f"]
    assert f.uri == "f"
    assert [(s.start, s.end, label) for s, _, label in f.itertracks(yield_label=True)] == [
        (0.0, 2.0, "a"), (1.0, 3.0, "a")]
    assert sum(s.duration for s, _ in f.itertracks()) == 4.0  # not merged (support is 3)


def per_row_read_rttm(path_or_file) -> dict[str, Annotation]:
    """The per-line loop read_rttm used to run: the reference the one-pass build must equal."""
    out: dict[str, Annotation] = {}
    for turn in parse_rttm(path_or_file).turns:
        annotation = out.get(turn.uri)
        if annotation is None:
            annotation = out[turn.uri] = Annotation(uri=turn.uri)
        end = round(turn.start + turn.duration, 9)
        annotation[Segment(turn.start, end), turn.line] = turn.speaker
    return out


def assert_same_annotations(fast: dict, slow: dict) -> None:
    assert list(fast) == list(slow)  # same keys in the same (first appearance) order
    for key in slow:
        assert fast[key].uri == slow[key].uri
        assert fast[key] == slow[key]
        # Annotation.__eq__ is all() over zip_longest: also compare the lists, track names
        # included, and the label bookkeeping
        assert list(fast[key].itertracks(yield_label=True)) == \
            list(slow[key].itertracks(yield_label=True))
        assert fast[key].labels() == slow[key].labels()
        assert len(fast[key]) == len(slow[key])
        for label in slow[key].labels():
            assert list(fast[key].label_timeline(label)) == list(slow[key].label_timeline(label))


def big_rttm(tmp_path: Path, n: int = 20_000) -> tuple[Path, dict]:
    """n overlapping turns of 5 speakers in 2 files, unsorted, with identical segments for
    different speakers and for the same speaker, sub-microsecond (empty) turns, float-noise
    onsets/durations, comments and other record types; plus a file whose only turn is empty."""
    import numpy as np

    rng = np.random.default_rng(2024)
    starts = np.round(rng.uniform(0, 3000, n), 3)
    durations = np.round(rng.uniform(0.1, 8.0, n), 3)
    speakers = rng.integers(0, 5, n)
    uris = rng.integers(0, 2, n)
    lines = [";; generated", "SPKR-INFO f0 1 <NA> <NA> <NA> unknown SPEAKER_00 <NA> <NA>"]
    facts = {"same_segment_other_speaker": 0, "same_segment_same_speaker": 0, "empty": 0}
    for k in range(n):
        s, d, who, uri = float(starts[k]), float(durations[k]), int(speakers[k]), int(uris[k])
        lines.append(f"SPEAKER f{uri} 1 {s:.3f} {d:.3f} <NA> <NA> SPEAKER_{who:02d} <NA> <NA>")
        if k % 17 == 0:  # identical segment, another speaker
            lines.append(f"SPEAKER f{uri} 1 {s:.3f} {d:.3f} <NA> <NA> SPEAKER_{(who + 1) % 5:02d}"
                         " <NA> <NA>")
            facts["same_segment_other_speaker"] += 1
        if k % 29 == 0:  # identical segment, same speaker (kept twice: one track per line)
            lines.append(lines[-1])
            facts["same_segment_same_speaker"] += 1
        if k % 97 == 0:  # duration under pyannote.core's 1 us precision: dropped
            lines.append(f"SPEAKER f{uri} 1 {s:.3f} 0.0000004 <NA> <NA> SPEAKER_04 <NA> <NA>")
            facts["empty"] += 1
        if k % 101 == 0:  # float noise: 0.1 + 0.2 != 0.3
            lines.append(f"SPEAKER f{uri} 1 0.1 0.2 <NA> <NA> SPEAKER_03 <NA> <NA>")
    lines.append("SPEAKER ghost 1 5.0 0.0000001 <NA> <NA> SPEAKER_00 <NA> <NA>")
    body = lines[2:]
    order = rng.permutation(len(body) - 1)  # shuffle (keep the ghost line last)
    lines = lines[:2] + [body[i] for i in order] + [body[-1]]
    path = tmp_path / "big.rttm"
    path.write_text("\n".join(lines) + "\n")
    facts["speaker_lines"] = sum(line.startswith("SPEAKER ") for line in lines)
    return path, facts


def test_read_rttm_one_pass_equals_per_line_loop_on_a_large_file(tmp_path: Path) -> None:
    path, facts = big_rttm(tmp_path)
    fast, slow = read_rttm(path), per_row_read_rttm(path)
    assert_same_annotations(fast, slow)
    assert sorted(fast) == ["f0", "f1", "ghost"] and list(fast)[-1] == "ghost"
    # values, not only agreement with the reference
    assert len(fast["ghost"]) == 0 and fast["ghost"].uri == "ghost"
    kept = facts["speaker_lines"] - facts["empty"] - 1  # -1: the ghost's empty turn
    tracks = [t for key in ("f0", "f1") for t in fast[key].itertracks(yield_label=True)]
    assert len(tracks) == kept > 20_000
    assert all(isinstance(track, int) for _, track, _ in tracks)
    assert sorted(track for _, track, _ in tracks) == sorted(set(t for _, t, _ in tracks))
    assert all(segment.duration > 1e-6 for segment, _, _ in tracks)
    assert fast["f0"].labels() == [f"SPEAKER_{k:02d}" for k in range(5)]
    # identical segments: several tracks on one segment, for different and for equal speakers
    shared = {}
    for segment, track, label in fast["f0"].itertracks(yield_label=True):
        shared.setdefault(segment, []).append(label)
    assert any(len(set(labels)) > 1 for labels in shared.values())
    assert any(len(labels) != len(set(labels)) for labels in shared.values())
    # float noise rounded away: 0.1 + 0.2 -> 0.3 exactly
    assert Segment(0.1, 0.3) in shared and Segment(0.1, 0.1 + 0.2) not in shared


def test_read_rttm_one_pass_small_cases_values(tmp_path: Path) -> None:
    path = tmp_path / "s.rttm"
    path.write_text("SPEAKER f 1 2 1 <NA> <NA> b <NA> <NA>\n"
                    "SPEAKER f 1 0 1 <NA> <NA> a <NA> <NA>\n"
                    "SPEAKER f 1 2 1 <NA> <NA> a <NA> <NA>\n"
                    "SPEAKER f 1 2 1 <NA> <NA> b <NA> <NA>\n"
                    "SPEAKER f 1 3 0.0000001 <NA> <NA> c <NA> <NA>\n")
    annotations = read_rttm(path)
    assert list(annotations["f"].itertracks(yield_label=True)) == [
        (Segment(0, 1), 2, "a"), (Segment(2, 3), 1, "b"), (Segment(2, 3), 3, "a"),
        (Segment(2, 3), 4, "b")]
    assert annotations["f"].labels() == ["a", "b"]  # c's empty turn is dropped
    assert_same_annotations(annotations, per_row_read_rttm(path))
    assert read_rttm(io.StringIO(";; nothing\n")) == {}


def test_dataframe_to_annotations_one_pass_equals_per_row_loop(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    path, _ = big_rttm(tmp_path, n=3_000)
    rows = [(t.uri, t.speaker, t.start, t.start + t.duration) for t in parse_rttm(path)]
    df = pd.DataFrame(rows, columns=["uri", "speaker", "start", "end"],
                      index=[f"r{k}" for k in range(len(rows))])
    slow: dict = {}
    for position, (uri, speaker, start, end) in enumerate(rows):
        if uri not in slow:
            slow[uri] = Annotation(uri=uri)
        slow[uri][Segment(start, end), position] = speaker
    assert_same_annotations(dataframe_to_annotations(df), slow)
    # duration column and no uri column: one annotation under None
    frame = pd.DataFrame({"speaker": ["x", "y", "x"], "start": [3.0, 0.0, 0.0],
                          "duration": [1.0, 2.0, 2.0]})
    (key, ann), = dataframe_to_annotations(frame).items()
    assert key is None and ann.uri is None
    assert list(ann.itertracks(yield_label=True)) == [
        (Segment(0, 2), 1, "y"), (Segment(0, 2), 2, "x"), (Segment(3, 4), 0, "x")]
    # the first bad row is named by its index label, NaN included
    bad = pd.DataFrame({"speaker": ["a", "b", "c"], "start": [0.0, 2.0, 5.0],
                        "end": [1.0, np.nan, 4.0]}, index=["p", "q", "r"])
    with pytest.raises(InvalidOption, match=r"^df: row 'q': end nan is not after start 2.0"):
        dataframe_to_annotations(bad)
    assert dataframe_to_annotations(df.iloc[:0]) == {}


def test_write_rttm_exact_format_and_round_trip(tmp_path: Path) -> None:
    ann = Annotation(uri="meeting")
    ann[Segment(0.5, 1.75), 0] = "alice"
    ann[Segment(1.0, 3.0), 1] = "bob"
    ann[Segment(1.0, 3.0), 2] = "bob"  # same speaker twice on one segment survives
    buffer = io.StringIO()
    write_rttm(ann, buffer)
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "SPEAKER meeting 1 0.500 1.250 <NA> <NA> alice <NA> <NA>"
    assert lines[1] == "SPEAKER meeting 1 1.000 2.000 <NA> <NA> bob <NA> <NA>"
    assert len(lines) == 3
    path = tmp_path / "rt.rttm"
    other = Annotation(uri="x")
    other[Segment(2, 4.125), "t"] = "carol"
    write_rttm({"meeting": ann, "x2": other}, path)
    back = read_rttm(path)
    assert sorted(back) == ["meeting", "x2"]
    assert annotation_to_dataframe(back["meeting"]).drop(columns="uri").values.tolist() == \
        annotation_to_dataframe(ann).drop(columns="uri").values.tolist()
    assert back["x2"].label_duration("carol") == pytest.approx(2.125)


def test_write_rttm_rejects_bad_uris_and_labels() -> None:
    ann = Annotation(uri="has space")
    ann[Segment(0, 1)] = "a"
    with pytest.raises(InvalidOption, match="'has space' cannot be written"):
        write_rttm(ann, io.StringIO())
    ann.uri = None
    with pytest.raises(InvalidOption, match="uri: missing"):
        write_rttm(ann, io.StringIO())
    ok = Annotation(uri="file.with.dots")
    ok[Segment(0, 1)] = "two words"
    with pytest.raises(InvalidOption, match="speaker label in file.with.dots"):
        write_rttm(ok, io.StringIO())
    ok2 = Annotation(uri="file.with.dots")
    ok2[Segment(0, 1)] = "a"
    buffer = io.StringIO()
    write_rttm(ok2, buffer)  # dots are accepted (documented)
    assert buffer.getvalue().startswith("SPEAKER file.with.dots 1 0.000 1.000")


def test_write_uem_rejects_uris_with_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "u.uem"
    with pytest.raises(InvalidOption) as info:
        write_uem({"ok": [(0, 1)], "has space": [(0.0, 2.5)]}, path)
    assert info.value.option == "uri"
    assert str(info.value) == (
        "uri: 'has space' cannot be written to RTTM/UEM: it is empty or contains whitespace "
        "(the field separator); rename it")
    assert not path.exists()  # nothing written, not even the valid "ok" lines
    buffer = io.StringIO()
    with pytest.raises(InvalidOption, match=r"^uri: 'tab\\there' cannot be written to RTTM/UEM"):
        write_uem(Timeline([Segment(0, 1)], uri="tab\there"), buffer)
    with pytest.raises(InvalidOption, match=r"^uri: '' cannot be written"):
        write_uem({"": [(0, 1)]}, buffer)
    assert buffer.getvalue() == ""


def test_uem_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "u.uem"
    write_uem({"a": Timeline([Segment(0, 1.5), Segment(2, 3)]), "b": [(4.5, 13.24)]}, path)
    assert path.read_text() == "a 1 0.000 1.500\na 1 2.000 3.000\nb 1 4.500 13.240\n"
    back = read_uem(path)
    assert list(back["a"]) == [Segment(0, 1.5), Segment(2, 3)]
    assert back["b"].duration() == pytest.approx(8.74)


def test_dataframe_round_trip_and_errors() -> None:
    import pandas as pd

    ann = Annotation(uri="u")
    ann[Segment(3, 4), 0] = "b"
    ann[Segment(0, 2), 1] = "a"
    ann[Segment(1, 2.5), 2] = "a"
    frame = annotation_to_dataframe(ann)
    assert frame.columns.tolist() == ["uri", "speaker", "start", "end", "duration"]
    assert frame.values.tolist() == [["u", "a", 0.0, 2.0, 2.0], ["u", "a", 1.0, 2.5, 1.5],
                                     ["u", "b", 3.0, 4.0, 1.0]]
    back = dataframe_to_annotations(frame)
    assert list(back) == ["u"]
    assert annotation_to_dataframe(back["u"]).values.tolist() == frame.values.tolist()
    no_uri = pd.DataFrame({"speaker": ["x"], "start": [1.0], "duration": [0.5]})
    assert dataframe_to_annotations(no_uri)[None].label_duration("x") == 0.5
    with pytest.raises(InvalidOption, match="missing column"):
        dataframe_to_annotations(pd.DataFrame({"speaker": ["x"], "start": [1.0]}))
    with pytest.raises(InvalidOption, match="row 0: end 1.0 is not after start 1.0"):
        dataframe_to_annotations(pd.DataFrame({"speaker": ["x"], "start": [1.0], "end": [1.0]}))

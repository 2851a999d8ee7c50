"""md-eval-exact scoring: dscore/md-eval fixtures, pyannote.metrics oracle, properties, API."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyannote.core import Annotation, Segment, Timeline

from pyannote_notebook.analysis._sweep import assign_max
from pyannote_notebook.analysis.compare import compare
from pyannote_notebook.analysis.scoring import (
    COLUMNS,
    UnmatchedFilesWarning,
    error_regions,
    evaluate,
    optimal_mapping,
)
from pyannote_notebook.errors import FormatError, InvalidOption
from pyannote_notebook.results.formats import parse_rttm, read_rttm, read_uem

EVAL = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
with open(EVAL / "expected.csv") as _handle:
    EXPECTED = list(csv.DictReader(_handle))
KEYS = ["mdeval_scored_speaker_s", "mdeval_missed_speaker_s", "mdeval_falarm_speaker_s",
        "mdeval_speaker_error_s", "der_pct", "dscore_jer"]


def _row_id(row: dict[str, str]) -> str:
    return (f"{row['case']}-{row['uem']}-c{row['collar_per_side_s']}-"
            f"ov{row['ignore_overlaps']}-{row['file_id']}")


def check_row(row: dict[str, str], got: dict[str, float]) -> None:
    """Compare one expected.csv row with one of our rows (to 1e-4).

    Blank components: md-eval did not report the file, ours must be NaN. A blank DER is the
    same case; dscore then reports 100 if the file has system speech, else 0 (these fixtures'
    unreported files have none): ours must be 0.
    """
    values = [got[c] for c in COLUMNS[1:]]
    for key, value in zip(KEYS, values):
        if row[key] == "":
            if key == "der_pct":
                assert value == 0.0
            else:
                assert math.isnan(value), (key, value)
        else:
            assert value == pytest.approx(float(row[key]), abs=1e-4), key


def _args(row: dict[str, str]) -> tuple[Path, Path, Path | None, float, bool]:
    folder = EVAL / row["case"]
    uem = None if row["uem"] == "AUTO" else folder / row["uem"]
    return (folder / row["ref"], folder / row["sys"], uem, float(row["collar_per_side_s"]),
            row["ignore_overlaps"] == "True")


@pytest.mark.parametrize("row", EXPECTED, ids=_row_id)
def test_expected_csv_from_paths(row: dict[str, str]) -> None:
    ref, sys, uem, collar, skip = _args(row)
    report = evaluate(str(ref), sys, uem=uem, collar=collar, skip_overlap=skip)
    rows = {r["uri"]: r for r in report.rows}
    check_row(row, rows[row["file_id"]])
    assert report.rows[-1]["uri"] == "ALL"


@pytest.mark.parametrize("row", EXPECTED, ids=_row_id)
def test_expected_csv_from_annotations(row: dict[str, str]) -> None:
    ref, sys, uem, collar, skip = _args(row)
    timelines = read_uem(uem) if uem is not None else None
    report = evaluate(read_rttm(ref), read_rttm(sys), uem=timelines, collar=collar,
                      skip_overlap=skip)
    frame = report.per_file.set_index("uri")
    check_row(row, {"uri": row["file_id"], **frame.loc[row["file_id"]].to_dict()})


def test_report_api_on_docs_example(tmp_path: Path) -> None:
    folder = EVAL / "pyannote_docs_example"
    ref, hyp = read_rttm(folder / "ref.rttm")["file1"], read_rttm(folder / "sys.rttm")["file1"]
    hyp.uri = "other-name"  # a single pair is matched whatever the uris
    report = evaluate(ref, hyp)
    assert report.mapping == {"file1": {"a": "A", "b": "B", "c": "C"}}
    assert report.der == pytest.approx(51.612903, abs=1e-6)
    assert report.jer == pytest.approx(43.518519, abs=1e-6)
    assert report.total == {"uri": "ALL", "scored": 31.0, "missed": 2.0, "false_alarm": 7.0,
                            "confusion": 7.0, "der": pytest.approx(51.612903, abs=1e-6),
                            "jer": pytest.approx(43.518519, abs=1e-6)}
    text = report.to_csv()
    assert text.splitlines() == [
        "uri,scored,missed,false_alarm,confusion,der,jer",
        "file1,31.000000,2.000000,7.000000,7.000000,51.612903,43.518519",
        "ALL,31.000000,2.000000,7.000000,7.000000,51.612903,43.518519",
    ]
    report.to_csv(tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text() == text
    html = report._repr_html_()
    assert "<table" in html and "51.613" in html and "md-eval" in html
    assert report.to_dataframe().columns.tolist() == list(COLUMNS)
    assert evaluate(ref, hyp, jer=False).per_file["jer"].isna().all()


def test_optimal_mapping_and_error_regions() -> None:
    folder = EVAL / "pyannote_docs_example"
    ref, hyp = read_rttm(folder / "ref.rttm")["file1"], read_rttm(folder / "sys.rttm")["file1"]
    assert optimal_mapping(ref, hyp) == {"a": "A", "b": "B", "c": "C"}
    regions = error_regions(ref, hyp)
    assert regions == {
        "missed": [(0.0, 2.0)],
        "false_alarm": [(10.0, 12.0), (22.0, 24.0), (27.0, 30.0)],
        "confusion": [(12.0, 14.0), (24.0, 27.0), (38.0, 40.0)],
        "scored": [(0.0, 40.0)],
    }
    with_collar = error_regions(ref, hyp, uem=[(0, 35)], collar=0.5)
    assert with_collar["scored"][0] == (0.5, 9.5)
    assert with_collar["scored"][-1] == (30.5, 34.5)  # UEM edge at 35 cuts C: collar there
    assert with_collar["missed"] == [(0.5, 2.0)]


def test_mdeval_mapping_before_collars_and_overlap_differs_from_pyannote() -> None:
    # speaker A talks [0, 10]; B overlaps A on [0, 10] too little to matter; the hypothesis
    # label x covers A, and its mapping must be decided on the whole UEM (md-eval) ...
    ref = Annotation(uri="f")
    ref[Segment(0, 10), 0] = "A"
    ref[Segment(2, 3), 1] = "B"
    ref[Segment(3, 6), 2] = "B"
    hyp = Annotation(uri="f")
    hyp[Segment(0, 10), 0] = "x"
    hyp[Segment(2, 6), 1] = "y"
    md = evaluate(ref, hyp, skip_overlap=True)
    assert md.mapping["f"] == {"x": "A", "y": "B"}
    assert md.total["scored"] == pytest.approx(6.0)  # overlap [2, 6] removed
    assert md.total["false_alarm"] == pytest.approx(0.0)
    # ... whereas pyannote.metrics maps on what is left after overlap removal
    py = evaluate(ref, hyp, skip_overlap=True, convention="pyannote")
    assert py.mapping["f"] == {"x": "A"}


def test_files_without_reference_speech_are_left_out_of_the_md_eval_total() -> None:
    ref = {"a": Annotation(uri="a"), "b": Annotation(uri="b")}
    ref["a"][Segment(0, 10)] = "S"
    hyp = {"a": Annotation(uri="a"), "b": Annotation(uri="b")}
    hyp["a"][Segment(0, 10)] = "s"
    hyp["b"][Segment(0, 4)] = "s"
    md = evaluate(ref, hyp)
    frame = md.per_file.set_index("uri")
    assert frame.loc["b", "der"] == 100.0 and math.isnan(frame.loc["b", "false_alarm"])
    assert md.total["der"] == 0.0 and md.total["false_alarm"] == 0.0
    py = evaluate(ref, hyp, convention="pyannote")
    assert py.total["false_alarm"] == 4.0
    assert py.total["der"] == pytest.approx(40.0)
    assert py.per_file.set_index("uri").loc["b", "der"] == 100.0


def test_uem_restricts_files_and_single_timeline() -> None:
    ref = read_rttm(EVAL / "dscore_fixture" / "ref.rttm")
    sys = read_rttm(EVAL / "dscore_fixture" / "sys.rttm")
    report = evaluate(ref, sys, uem={"OTHER": [(0, 5)]})
    assert report.ignored == ["FILE1"]
    assert [r["uri"] for r in report.rows] == ["OTHER", "ALL"]
    single = evaluate(ref["FILE1"], sys["FILE1"], uem=Timeline([Segment(0, 43)]))
    assert single.total["jer"] == pytest.approx(33.246314, abs=1e-6)


def test_bad_options_raise_typed_errors(tmp_path: Path) -> None:
    ann = Annotation(uri="f")
    ann[Segment(0, 1)] = "a"
    with pytest.raises(InvalidOption, match="collar: must be >= 0 seconds"):
        evaluate(ann, ann, collar=-1)
    with pytest.raises(InvalidOption, match="convention: must be one of md-eval, pyannote"):
        evaluate(ann, ann, convention="nist")
    with pytest.raises(InvalidOption, match="hypothesis: expected an Annotation"):
        evaluate(ann, 42)
    with pytest.raises(InvalidOption, match=r"uem: region \(3.0, 1.0\)"):
        evaluate(ann, ann, uem=[(3, 1)])
    bad = tmp_path / "bad.rttm"
    bad.write_text("SPEAKER f 1 0 1 <NA> <NA> a <NA> <NA>\nSPEAKER f 1 0 x <NA> <NA> a <NA> <NA>\n")
    with pytest.raises(FormatError, match=r"bad.rttm:2: duration 'x'"):
        evaluate(bad, bad)
    with pytest.raises(InvalidOption, match="uem: a single Timeline"):
        evaluate({"a": ann, "b": ann}, {"a": ann, "b": ann}, uem=[(0, 1)])


def test_compare_side_by_side() -> None:
    folder = EVAL / "pyannote_docs_example"
    ref = read_rttm(folder / "ref.rttm")
    table = compare(ref, {"sys": folder / "sys.rttm", "oracle": ref})
    assert table.index.tolist() == ["file1", "ALL"]
    assert table.columns.names == ["system", "metric"]
    assert table[("sys", "der")].tolist() == pytest.approx([51.612903, 51.612903], abs=1e-6)
    assert table[("oracle", "der")].tolist() == [0.0, 0.0]
    assert table.xs("jer", axis=1, level=1).loc["ALL"].tolist() == pytest.approx(
        [43.518519, 0.0], abs=1e-6)
    with pytest.raises(InvalidOption, match="systems"):
        compare(ref, {})


# --------------------------------------------------------------------------- assignment


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 13), cols=st.integers(1, 13), seed=st.integers(0, 2**32 - 1))
def test_assignment_matches_scipy(rows: int, cols: int, seed: int) -> None:
    from scipy.optimize import linear_sum_assignment

    weights = np.random.default_rng(seed).random((rows, cols))
    r, c = linear_sum_assignment(weights, maximize=True)
    assert assign_max(weights) == sorted(zip(r.tolist(), c.tolist()))


# --------------------------------------------------------------------------- random inputs

times = st.floats(0, 30, allow_nan=False, allow_infinity=False)


@st.composite
def annotations(draw, labels: str = "ABC", min_size: int = 0, max_size: int = 10,
                uri: str = "f") -> Annotation:
    ann = Annotation(uri=uri)
    for i in range(draw(st.integers(min_size, max_size))):
        start = draw(times)
        duration = draw(st.floats(0.01, 8))
        ann[Segment(start, start + duration), i] = draw(st.sampled_from(labels))
    return ann


@st.composite
def uems(draw) -> Timeline | None:
    if draw(st.booleans()):
        return None
    edges = sorted(draw(st.lists(times, min_size=2, max_size=6, unique=True)))
    pairs = [(edges[i], edges[i + 1]) for i in range(0, len(edges) - 1, 2)]
    return Timeline([Segment(s, e) for s, e in pairs], uri="f")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref=annotations(min_size=1), hyp=annotations(labels="xyzw"), uem=uems(),
       collar=st.sampled_from([0.0, 0.1, 0.25]), skip=st.booleans())
def test_pyannote_convention_equals_pyannote_metrics(ref, hyp, uem, collar, skip) -> None:
    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = DiarizationErrorRate(collar=2 * collar, skip_overlap=skip)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = metric(ref, hyp, uem=uem, detailed=True)
    report = evaluate(ref, hyp, uem=uem, collar=collar, skip_overlap=skip,
                      convention="pyannote", jer=False)
    got = report.rows[0]
    assert got["scored"] == pytest.approx(expected["total"], abs=1e-6)
    assert got["missed"] == pytest.approx(expected["missed detection"], abs=1e-6)
    assert got["false_alarm"] == pytest.approx(expected["false alarm"], abs=1e-6)
    assert got["confusion"] == pytest.approx(expected["confusion"], abs=1e-6)
    assert got["der"] == pytest.approx(100 * expected["diarization error rate"], abs=1e-6)


def test_pyannote_convention_corpus_total_equals_abs_metric() -> None:
    from pyannote.metrics.diarization import DiarizationErrorRate

    rng = np.random.default_rng(0)
    refs, hyps = {}, {}
    for uri in ("a", "b", "c"):
        refs[uri], hyps[uri] = Annotation(uri=uri), Annotation(uri=uri)
        for i in range(20 if uri != "c" else 0):
            s = float(rng.uniform(0, 60))
            refs[uri][Segment(s, s + float(rng.uniform(0.2, 5))), i] = f"S{rng.integers(4)}"
        for i in range(25):
            s = float(rng.uniform(0, 60))
            hyps[uri][Segment(s, s + float(rng.uniform(0.2, 5))), i] = f"h{rng.integers(5)}"
    metric = DiarizationErrorRate(collar=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for uri in refs:
            metric(refs[uri], hyps[uri])
    report = evaluate(refs, hyps, collar=0.25, convention="pyannote", jer=False)
    assert report.total["der"] == pytest.approx(100 * abs(metric), abs=1e-6)
    assert report.total["false_alarm"] == pytest.approx(metric["false alarm"], abs=1e-6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref=annotations(min_size=1), hyp=annotations(labels="xyzw"), uem=uems(),
       collar=st.sampled_from([0.0, 0.25]), skip=st.booleans(),
       perm=st.permutations(["x", "y", "z", "w"]))
def test_md_eval_properties(ref, hyp, uem, collar, skip, perm) -> None:
    base = evaluate(ref, hyp, uem=uem, collar=collar, skip_overlap=skip).rows[0]
    # relabelling the hypothesis changes nothing
    renamed = hyp.rename_labels(mapping=dict(zip("xyzw", perm)))
    again = evaluate(ref, renamed, uem=uem, collar=collar, skip_overlap=skip).rows[0]
    for column in COLUMNS[1:]:
        assert again[column] == pytest.approx(base[column], abs=1e-9, nan_ok=True)
    # identical inputs: no error at all
    same = evaluate(ref, ref, uem=uem, collar=collar, skip_overlap=skip).rows[0]
    if not math.isnan(same["scored"]):
        assert same["missed"] == same["false_alarm"] == same["confusion"] == 0.0
        assert same["der"] == 0.0
    # collar and overlap removal never increase the scored time
    plain = evaluate(ref, hyp, uem=uem).rows[0]
    if not math.isnan(plain["scored"]):
        assert base["scored"] <= plain["scored"] + 1e-9
        assert evaluate(ref, hyp, uem=uem, skip_overlap=True).rows[0]["scored"] <= \
            plain["scored"] + 1e-9
    # UEM cropping is consistent: cropping the inputs first changes nothing
    if uem is not None:
        cropped = evaluate(ref.crop(uem, mode="intersection"),
                           hyp.crop(uem, mode="intersection"), uem=uem, collar=collar,
                           skip_overlap=skip).rows[0]
        for column in COLUMNS[1:]:
            assert cropped[column] == pytest.approx(base[column], abs=1e-6, nan_ok=True)


def test_rttmdata_input_equals_path_input() -> None:
    folder = EVAL / "dscore_fixture"
    a = evaluate(parse_rttm(folder / "ref.rttm"), parse_rttm(folder / "sys.rttm"), collar=0.25)
    b = evaluate(folder / "ref.rttm", folder / "sys.rttm", collar=0.25)
    assert a.rows == b.rows


def test_lists_of_results_and_batches_are_scored_by_uri() -> None:
    from pyannote_notebook.results import Result

    ref = read_rttm(EVAL / "dscore_fixture" / "ref.rttm")
    turns = [{"speaker": label, "start": seg.start, "end": seg.end}
             for seg, _, label in read_rttm(EVAL / "dscore_fixture" / "sys.rttm")["FILE1"]
             .itertracks(yield_label=True)]
    result = Result({"diarization": turns}, uri="FILE1")
    from_list = evaluate(ref, [result])
    assert from_list.total["der"] == pytest.approx(26.393094, abs=1e-4)

    class FakeBatch:  # the duck type of jobs.Batch: .results in input order, .failed positions
        def __init__(self, results, failed):
            self.results, self.failed = results, failed

    assert evaluate(ref, FakeBatch([result], [])).total["der"] == pytest.approx(26.393094, abs=1e-4)
    with pytest.raises(InvalidOption, match=r"hypothesis: the batch has 1 failed item\(s\) "
                                            r"\(positions \[1\]\)"):
        evaluate(ref, FakeBatch([result, RuntimeError("x")], [1]))
    with pytest.raises(InvalidOption, match="uri 'FILE1' appears twice"):
        evaluate(ref, [result, result])
    with pytest.raises(InvalidOption, match="item 0 .*has no uri"):
        evaluate(ref, [Annotation()])


def test_files_on_one_side_only_are_warned_about() -> None:
    ref = read_rttm(EVAL / "dscore_fixture" / "ref.rttm")
    hyp = {"FILE1X": read_rttm(EVAL / "dscore_fixture" / "sys.rttm")["FILE1"]}
    with pytest.warns(UnmatchedFilesWarning) as caught:
        report = evaluate(ref, hyp)
    assert str(caught[0].message) == (
        "1 file(s) only in the reference (scored as all missed): FILE1; 1 file(s) only in the "
        "hypothesis (false alarm, no reference speech): FILE1X. Check the file ids (uris) of "
        "both sides.")
    assert report.per_file.set_index("uri").loc["FILE1", "der"] == 100.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate(ref, read_rttm(EVAL / "dscore_fixture" / "sys.rttm"))  # matched: no warning


# --------------------------------------------------------------------------- JER edge cases


def _ann(uri: str, *turns: tuple[float, float, str]) -> Annotation:
    annotation = Annotation(uri=uri)
    for i, (start, end, label) in enumerate(turns):
        annotation[Segment(start, end), i] = label
    return annotation


def test_jer_one_side_empty_and_pooled_over_files() -> None:
    """dscore's JER rules (evaluation.md): per file, the mean over reference speakers of
    1 - IoU (an unpaired reference speaker: 100); both sides empty: 0; one side empty: 100.
    Corpus (ALL): the mean over the reference speakers of all files, so a file without
    reference speech adds no speaker and a file without system speech adds 100 per reference
    speaker. Boundaries on whole 10 ms frames, so every value is exact."""
    ref = {
        "a": _ann("a", (0, 10, "A"), (10, 20, "B")),  # A == x; B vs y: IoU 5 / 10
        "b": _ann("b"),  # no reference speech, system speech
        "c": _ann("c", (0, 5, "C"), (5, 8, "D")),  # no system speech
        "d": _ann("d"),  # nothing on either side
        "e": _ann("e", (0, 4, "E")),  # two system speakers, one pairs with E
    }
    hyp = {
        "a": _ann("a", (0, 10, "x"), (10, 15, "y")),
        "b": _ann("b", (1, 3, "z")),
        "c": _ann("c"),
        "d": _ann("d"),
        "e": _ann("e", (0, 1, "p"), (1, 4, "q")),  # IoU(E, q) = 3 / 4
    }
    report = evaluate(ref, hyp)
    jer = {row["uri"]: row["jer"] for row in report.rows}
    assert jer == {"a": 25.0, "b": 100.0, "c": 100.0, "d": 0.0, "e": 25.0,
                   "ALL": (0.0 + 50.0 + 100.0 + 100.0 + 25.0) / 5}
    assert report.jer == 55.0
    # the pooled mean is over speakers, not over files
    assert report.jer != pytest.approx(np.mean([25.0, 100.0, 100.0, 0.0, 25.0]))


@pytest.mark.parametrize(("ref_turns", "hyp_turns", "expected"), [
    ([], [(0, 2, "z")], 100.0),  # only system speech, in every file
    ([(0, 2, "A")], [], 100.0),  # only reference speech
    ([], [], 0.0),  # nothing at all
])
def test_jer_corpus_when_one_side_is_empty_everywhere(ref_turns, hyp_turns, expected) -> None:
    ref = {uri: _ann(uri, *ref_turns) for uri in ("f", "g")}
    hyp = {uri: _ann(uri, *hyp_turns) for uri in ("f", "g")}
    report = evaluate(ref, hyp)
    assert [row["jer"] for row in report.rows] == [expected, expected, expected]


def test_jer_empty_side_through_rttm_files_and_uem(tmp_path: Path) -> None:
    """The same rules when the files come from RTTM + UEM: a UEM file absent from both RTTMs
    has JER 0, one absent from the system RTTM has JER 100 (and counts its speakers)."""
    ref, sys, uem = tmp_path / "ref.rttm", tmp_path / "sys.rttm", tmp_path / "all.uem"
    ref.write_text("SPEAKER a 1 0 10 <NA> <NA> A <NA> <NA>\n"
                   "SPEAKER c 1 0 4 <NA> <NA> C <NA> <NA>\n"
                   "SPEAKER c 1 4 2 <NA> <NA> D <NA> <NA>\n")
    sys.write_text("SPEAKER a 1 0 5 <NA> <NA> x <NA> <NA>\n")
    uem.write_text("a 1 0 10\nc 1 0 10\nd 1 0 10\n")
    with pytest.warns(UnmatchedFilesWarning):
        report = evaluate(ref, sys, uem=uem)
    jer = {row["uri"]: row["jer"] for row in report.rows}
    assert jer == {"a": 50.0, "c": 100.0, "d": 0.0, "ALL": (50.0 + 100.0 + 100.0) / 3}

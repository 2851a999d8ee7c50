"""Speaker / file / corpus statistics on hand-built annotations with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from pyannote.core import Annotation, Segment

from pyannote_notebook.analysis.stats import (
    CorpusStats,
    corpus_stats,
    file_stats,
    interruptions,
    overlap_regions,
    speaker_stats,
    speech_regions,
)
from pyannote_notebook.errors import InvalidOption
from pyannote_notebook.results import Result


def make(turns: list[tuple[float, float, str]], uri: str = "f") -> Annotation:
    ann = Annotation(uri=uri)
    for i, (s, e, lbl) in enumerate(turns):
        ann[Segment(s, e), i] = lbl
    return ann


# A: 0-10 and 20-30; B: 5-15 and 20-25; C: 7-8 (inside A and B); A again 28-29 (inside own turn)
MEETING = make([(0, 10, "A"), (5, 15, "B"), (7, 8, "C"), (20, 30, "A"), (20, 25, "B"),
                (28, 29, "A")])


def test_speaker_stats_known_values() -> None:
    df = speaker_stats(MEETING)
    assert list(df.columns) == ["speaker", "talk_time", "share", "n_turns", "mean_turn",
                                "median_turn", "longest_turn", "overlap_time", "solo_time",
                                "first_start", "last_end"]
    assert df["speaker"].tolist() == ["A", "B", "C"]  # by talk time
    # A's own overlapping 28-29 turn adds no talk time
    assert df["talk_time"].tolist() == pytest.approx([20.0, 15.0, 1.0])
    assert df["share"].tolist() == pytest.approx([20 / 36, 15 / 36, 1 / 36])
    assert df["n_turns"].tolist() == [3, 2, 1]
    assert df["mean_turn"].tolist() == pytest.approx([7.0, 7.5, 1.0])
    assert df["median_turn"].tolist() == pytest.approx([10.0, 7.5, 1.0])
    assert df["longest_turn"].tolist() == pytest.approx([10.0, 10.0, 1.0])
    # A overlaps B on 5-10 and 20-25: 10 s; B overlaps A on the same 10 s; C is all overlap
    assert df["overlap_time"].tolist() == pytest.approx([10.0, 10.0, 1.0])
    assert df["solo_time"].tolist() == pytest.approx([10.0, 5.0, 0.0])
    assert df["first_start"].tolist() == [0.0, 5.0, 7.0]
    assert df["last_end"].tolist() == [30.0, 25.0, 8.0]


def test_file_stats_known_values() -> None:
    fs = file_stats(MEETING, duration=60.0)
    assert fs == {
        "uri": "f",
        "duration": 60.0,
        "speech": pytest.approx(25.0),  # 0-15 and 20-30
        "silence": pytest.approx(35.0),
        "overlap": pytest.approx(10.0),  # 5-10 and 20-25
        "overlap_ratio": pytest.approx(0.4),
        "n_speakers": 3,
        "n_turns": 6,
        # floor: A 0-10, B 10-15 (change 1), silence, A and B start together at 20: tie -> A
        # (first label) keeps it to 30: B -> A is change 2. C's interjection takes no floor.
        "speaker_changes": 2,
        "speaker_changes_per_minute": pytest.approx(2.0),
        # B at 5 interrupts A; C at 7 interrupts A and B; starts at 20 are simultaneous;
        # A's 28-29 turn starts while only A talks
        "interruptions": 3,
    }
    assert file_stats(MEETING)["duration"] == 30.0
    assert file_stats(MEETING)["speaker_changes_per_minute"] == pytest.approx(4.0)


def test_interruptions_per_pair() -> None:
    df = interruptions(MEETING)
    assert list(df.columns) == ["interrupter", "interrupted", "count"]
    assert list(df.itertuples(index=False, name=None)) == [("B", "A", 1), ("C", "A", 1),
                                                          ("C", "B", 1)]
    # repeated interruptions of one pair, a clean hand-over (not counted) and a turn starting
    # exactly when the other's turn ends
    ann = make([(0, 20, "A"), (2, 3, "B"), (5, 6, "B"), (9, 10, "B"), (20, 25, "B"),
                (22, 30, "A"), (30, 31, "B")])
    df = interruptions(ann)
    assert list(df.itertuples(index=False, name=None)) == [("B", "A", 3), ("A", "B", 1)]
    assert file_stats(ann)["interruptions"] == 4


def test_speaker_changes_definition() -> None:
    # A, silence, A: no change; A then B (hand-over) then A: 2 changes
    assert file_stats(make([(0, 1, "A"), (2, 3, "A")]))["speaker_changes"] == 0
    fs = file_stats(make([(0, 1, "A"), (1, 2, "B"), (3, 4, "A")]), duration=120.0)
    assert fs["speaker_changes"] == 2
    assert fs["speaker_changes_per_minute"] == pytest.approx(1.0)
    # overlap hand-over: B starts inside A and continues after A stops: 1 change
    assert file_stats(make([(0, 10, "A"), (8, 15, "B")]))["speaker_changes"] == 1
    # three-way: A holds; when A stops at 10, B (started 4) beats C (started 6): A->B, then
    # B stops at 12 and C holds: B->C
    fs = file_stats(make([(0, 10, "A"), (4, 12, "B"), (6, 14, "C")]))
    assert fs["speaker_changes"] == 2


def test_silence_and_empty() -> None:
    fs = file_stats(Annotation(uri="e"), duration=12.5)
    assert fs["speech"] == 0.0 and fs["silence"] == 12.5 and fs["overlap_ratio"] == 0.0
    assert fs["n_speakers"] == 0 and fs["speaker_changes"] == 0 and fs["interruptions"] == 0
    df = speaker_stats(Annotation())
    assert len(df) == 0 and "talk_time" in df.columns
    assert len(interruptions(Annotation())) == 0
    with pytest.raises(InvalidOption, match=r"duration: 20 s is shorter than the end of the last "
                                            r"turn \(30 s\)"):
        file_stats(MEETING, duration=20)
    with pytest.raises(InvalidOption, match="annotation: expected a Result or a pyannote.core "
                                            "Annotation, got int"):
        speaker_stats(3)


def test_regions() -> None:
    assert overlap_regions(MEETING).tolist() == [[5.0, 10.0], [20.0, 25.0]]
    assert speech_regions(MEETING).tolist() == [[0.0, 15.0], [20.0, 30.0]]


def test_result_input_matches_annotation_input() -> None:
    r = Result({"diarization": [{"speaker": lbl, "start": s, "end": e}
                                for s, e, lbl in [(0, 10, "A"), (5, 15, "B"), (7, 8, "C"),
                                                  (20, 30, "A"), (20, 25, "B"), (28, 29, "A")]]},
               uri="f")
    assert speaker_stats(r).equals(speaker_stats(MEETING))
    assert file_stats(r) == file_stats(MEETING)


@pytest.mark.parametrize("seed", range(8))
def test_agrees_with_pyannote_core_operations(seed: int) -> None:
    rng = np.random.default_rng(seed)
    turns = []
    for _ in range(60):
        s = float(np.round(rng.uniform(0, 200), 2))
        turns.append((s, float(np.round(s + rng.uniform(0.1, 12), 2)), f"S{rng.integers(0, 4)}"))
    ann = make(turns)
    df = speaker_stats(ann).set_index("speaker")
    speech = ann.get_timeline().support().duration()
    overlap = ann.get_overlap().duration()
    fs = file_stats(ann)
    assert fs["speech"] == pytest.approx(speech)
    assert fs["overlap"] == pytest.approx(overlap)
    for label in ann.labels():
        support = ann.label_timeline(label).support()
        assert df.loc[label, "talk_time"] == pytest.approx(support.duration())
        others = ann.subset([label], invert=True).get_timeline().support()
        assert df.loc[label, "overlap_time"] == pytest.approx(
            support.crop(others, mode="intersection").duration())
    assert df["share"].sum() == pytest.approx(1.0)


def test_corpus_stats() -> None:
    other = make([(0, 4, "A"), (2, 6, "X")], uri="g")
    cs = corpus_stats([MEETING, other])
    assert isinstance(cs, CorpusStats)
    assert cs.files["uri"].tolist() == ["f", "g"]
    assert cs.files["speech"].tolist() == pytest.approx([25.0, 6.0])
    assert cs.files["overlap"].tolist() == pytest.approx([10.0, 2.0])
    assert cs.speakers[["uri", "speaker"]].values.tolist() == [
        ["f", "A"], ["f", "B"], ["f", "C"], ["g", "A"], ["g", "X"]]
    assert cs.speakers["talk_time"].tolist() == pytest.approx([20, 15, 1, 4, 4])
    assert cs.total == {
        "n_files": 2, "duration": 36.0, "speech": pytest.approx(31.0),
        "silence": pytest.approx(5.0), "overlap": pytest.approx(12.0),
        "n_speakers": 5, "n_turns": 8, "speaker_changes": 3, "interruptions": 4,
        "overlap_ratio": pytest.approx(12 / 31),
        "speaker_changes_per_minute": pytest.approx(3 / (36 / 60)),
    }
    by = cs.by_label()
    assert by["speaker"].tolist() == ["A", "B", "C", "X"]
    assert by["n_files"].tolist() == [2, 1, 1, 1]
    assert by["talk_time"].tolist() == pytest.approx([24, 15, 1, 4])
    assert by["n_turns"].tolist() == [4, 2, 1, 1]
    assert by["mean_turn"].tolist() == pytest.approx([25 / 4, 7.5, 1.0, 4.0])
    assert by["share"].sum() == pytest.approx(1.0)
    # mapping input and durations per file
    cs2 = corpus_stats({"m": MEETING, "o": other}, durations={"m": 60.0})
    assert cs2.files["uri"].tolist() == ["m", "o"]
    assert cs2.files["duration"].tolist() == [60.0, 6.0]
    assert cs2.speakers["uri"].tolist()[:3] == ["m", "m", "m"]
    with pytest.raises(InvalidOption, match="results: uri 'f' appears twice"):
        corpus_stats([MEETING, MEETING])
    with pytest.raises(InvalidOption, match="results: item 0 has no uri"):
        corpus_stats([make([(0, 1, "A")], uri=None)])
    with pytest.raises(InvalidOption, match="file 'm': duration: 1 s is shorter"):
        corpus_stats({"m": MEETING}, durations={"m": 1.0})

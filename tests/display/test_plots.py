"""Plot content: collections and rectangles per speaker, colours, axis ranges, formatters,
comparison bands, and PNGs that decode and are not blank. No pyplot anywhere."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from pyannote.core import Annotation, Segment

from pyannote_notebook.analysis.stats import corpus_stats, speaker_stats
from pyannote_notebook.display import (
    Plot,
    color_map,
    figure_to_png,
    label_color,
    plot_comparison,
    plot_speaker_time,
    plot_timeline,
)
from pyannote_notebook.display.colors import PALETTE, UNMATCHED
from pyannote_notebook.display.comparison import ERROR_COLORS
from pyannote_notebook.display.timeline import format_time
from pyannote_notebook.errors import InvalidOption
from pyannote_notebook.results import Result


def make(turns, uri="f") -> Annotation:
    ann = Annotation(uri=uri)
    for i, (s, e, lbl) in enumerate(turns):
        ann[Segment(s, e), i] = lbl
    return ann


MEETING = make([(0, 10, "SPEAKER_00"), (5, 15, "SPEAKER_01"), (20, 30, "SPEAKER_00"),
                (20, 25, "SPEAKER_01"), (40, 42, "SPEAKER_02")])


def by_gid(ax) -> dict:
    return {c.get_gid(): c for c in ax.collections}


def rects(coll) -> list[tuple[float, float]]:
    """(x0, x1) of each rectangle of a PolyCollection."""
    return [(float(p.vertices[:, 0].min()), float(p.vertices[:, 0].max()))
            for p in coll.get_paths()]


def png_pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)


def test_timeline_content() -> None:
    fig, ax = plot_timeline(MEETING)
    gids = by_gid(ax)
    assert set(gids) == {"speaker:SPEAKER_00", "speaker:SPEAKER_01", "speaker:SPEAKER_02",
                         "overlap"}
    assert len(ax.collections) == 4  # one per speaker + one overlap band: no per-turn artists
    assert rects(gids["speaker:SPEAKER_00"]) == [(0.0, 10.0), (20.0, 30.0)]
    assert rects(gids["speaker:SPEAKER_01"]) == [(5.0, 15.0), (20.0, 25.0)]
    assert rects(gids["speaker:SPEAKER_02"]) == [(40.0, 42.0)]
    assert rects(gids["overlap"]) == [(5.0, 10.0), (20.0, 25.0)]
    assert gids["overlap"].get_hatch() == "///"
    assert ax.get_xlim() == (0.0, 42.0)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["SPEAKER_00", "SPEAKER_01",
                                                           "SPEAKER_02"]
    assert ax.get_yticks().tolist() == [2.5, 1.5, 0.5]  # first label on top
    assert ax.get_title() == "f"
    assert ax.get_xlabel() == "time (s)"
    # colours: the stable palette, SPEAKER_nn -> PALETTE[nn]
    for k in range(3):
        face = gids[f"speaker:SPEAKER_{k:02d}"].get_facecolor()[0]
        assert tuple(face) == pytest.approx(to_rgba(PALETTE[k]))


def test_colours_stable_across_calls_and_explicit_mapping() -> None:
    a = make([(0, 1, "alice"), (1, 2, "bob")])
    b = make([(3, 9, "bob"), (0, 2, "carol"), (2, 3, "alice")])
    pa, pb = plot_timeline(a), plot_timeline(b)
    for label in ("alice", "bob"):
        ca = by_gid(pa.axes)[f"speaker:{label}"].get_facecolor()[0]
        cb = by_gid(pb.axes)[f"speaker:{label}"].get_facecolor()[0]
        assert tuple(ca) == tuple(cb) == pytest.approx(to_rgba(label_color(label)))
    assert label_color("SPEAKER_00") == "#1f77b4" and label_color("SPEAKER_21") == PALETTE[1]
    # crc32, not the per-process salted hash()
    assert label_color("alice") == PALETTE[__import__("zlib").crc32(b"alice") % 20]
    p = plot_timeline(a, colors={"alice": "#000000"})
    assert tuple(by_gid(p.axes)["speaker:alice"].get_facecolor()[0]) == (0.0, 0.0, 0.0, 1.0)


def face(artist) -> tuple:
    """Face colour (RGBA) of a collection (its first face) or of a patch."""
    colours = artist.get_facecolor()
    return tuple(float(v) for v in (colours[0] if np.ndim(colours) == 2 else colours))


def test_hashed_names_that_collide_get_distinct_colours_in_one_plot() -> None:
    # the premise: CRC-32 mod 20 sends both names to PALETTE[3]
    assert label_color("Alice") == label_color("Carol") == PALETTE[3]
    expected = {"SPEAKER_00": PALETTE[0], "SPEAKER_01": PALETTE[1],
                "Alice": PALETTE[3],   # sorts first among hashed names: keeps its colour
                "Carol": PALETTE[2]}   # first free palette colour
    ann = make([(0, 4, "Carol"), (2, 6, "Alice"), (6, 8, "SPEAKER_01"), (9, 12, "SPEAKER_00")])
    first, second = plot_timeline(ann), plot_timeline(ann)
    # same labels in another order and another file: same colours
    other = plot_timeline(make([(0, 1, "SPEAKER_00"), (1, 2, "Alice"), (3, 4, "SPEAKER_01"),
                                (5, 6, "Carol")], uri="g"))
    for p in (first, second, other):
        faces = {gid.removeprefix("speaker:"): face(coll) for gid, coll in by_gid(p.axes).items()
                 if gid.startswith("speaker:")}
        assert faces == {label: pytest.approx(to_rgba(colour))
                         for label, colour in expected.items()}
        assert len(set(faces.values())) == 4  # drawn colours distinct per label
    assert color_map(["Carol", "Alice", "SPEAKER_01", "SPEAKER_00"]) == {
        "Carol": PALETTE[2], "Alice": PALETTE[3], "SPEAKER_01": PALETTE[1],
        "SPEAKER_00": PALETTE[0]}
    assert list(color_map(["b", "a", "b"])) == ["b", "a"]


def test_color_map_rules() -> None:
    # SPEAKER_nn keep PALETTE[nn]; SPEAKER_20 (same index as SPEAKER_00) moves, the smaller wins
    assert color_map(["SPEAKER_20", "SPEAKER_00", "SPEAKER_01"]) == {
        "SPEAKER_20": PALETTE[2], "SPEAKER_00": PALETTE[0], "SPEAKER_01": PALETTE[1]}
    # a hashed name avoids SPEAKER_nn colours: "x" hashes to 3, like SPEAKER_03
    assert label_color("x") == PALETTE[3]
    assert color_map(["x", "SPEAKER_03"]) == {"x": PALETTE[0], "SPEAKER_03": PALETTE[3]}
    # explicit colours win (any matplotlib spec) and default colours avoid them, except that
    # SPEAKER_nn keep their indexed colour
    assert color_map(["Alice", "Bob", "SPEAKER_03"], {"Bob": "tab:red"}) == {
        "Alice": PALETTE[0], "Bob": "tab:red", "SPEAKER_03": PALETTE[3]}
    # up to 20 labels: all distinct, whatever their hashes; the assignment ignores input order
    names = [f"guest {k}" for k in range(20)]
    assignment = color_map(names)
    assert sorted(assignment.values()) == sorted(PALETTE)
    assert color_map(reversed(names)) == assignment
    # beyond 20, colours repeat but every label still gets one
    many = color_map(names + ["one more"])
    assert len(many) == 21 and set(many.values()) == set(PALETTE)


def test_comparison_and_bars_colour_colliding_names_distinctly() -> None:
    ref = make([(0, 10, "Alice"), (10, 20, "Carol")])
    hyp = make([(0, 10, "h1"), (10, 20, "h2")])
    _, ax = plot_comparison(ref, hyp)
    g = by_gid(ax)
    assert face(g["ref:Alice"]) == pytest.approx(to_rgba(PALETTE[3]))
    assert face(g["ref:Carol"]) == pytest.approx(to_rgba(PALETTE[0]))  # first free colour
    assert face(g["hyp:h1"]) == face(g["ref:Alice"])  # mapped hyp speakers share the colour
    assert face(g["hyp:h2"]) == face(g["ref:Carol"])

    fig, ax = plot_speaker_time(speaker_stats(ref))
    faces = {p.get_gid(): face(p) for p in ax.patches}
    assert faces == {"Alice": pytest.approx(to_rgba(PALETTE[3])),
                     "Carol": pytest.approx(to_rgba(PALETTE[0]))}
    # corpus bars: Alice in one file, Carol in another, one legend entry each, distinct
    cs = corpus_stats([make([(0, 5, "Alice")], uri="f"), make([(0, 3, "Carol")], uri="g")])
    _, ax = plot_speaker_time(cs)
    faces = {p.get_gid(): face(p) for p in ax.patches}
    assert faces == {"f/Alice": pytest.approx(to_rgba(PALETTE[3])),
                     "g/Carol": pytest.approx(to_rgba(PALETTE[0]))}
    legend = {t.get_text(): face(h) for t, h in zip(ax.get_legend().get_texts(),
                                                     ax.get_legend().legend_handles)}
    assert legend == {"Alice": pytest.approx(to_rgba(PALETTE[3])),
                      "Carol": pytest.approx(to_rgba(PALETTE[0]))}


def test_window_crops_and_two_timelines_in_a_row() -> None:
    p1 = plot_timeline(MEETING, window=(0, 10))
    p2 = plot_timeline(MEETING, window=(22, 41))
    assert p1.axes.get_xlim() == (0.0, 10.0)
    assert p2.axes.get_xlim() == (22.0, 41.0)
    g1, g2 = by_gid(p1.axes), by_gid(p2.axes)
    assert rects(g1["speaker:SPEAKER_01"]) == [(5.0, 10.0)]
    assert rects(g1["speaker:SPEAKER_02"]) == []
    assert rects(g2["speaker:SPEAKER_00"]) == [(22.0, 30.0)]
    assert rects(g2["speaker:SPEAKER_02"]) == [(40.0, 41.0)]
    assert rects(g2["overlap"]) == [(22.0, 25.0)]
    # both render (the pyannote.core notebook trap: the second one blank)
    for p in (p1, p2):
        px = png_pixels(p.to_png())
        assert px.std() > 10
    assert p1.figure is not p2.figure
    with pytest.raises(InvalidOption, match=r"window: start must be < end"):
        plot_timeline(MEETING, window=(5, 5))
    with pytest.raises(InvalidOption, match="window: expected"):
        plot_timeline(MEETING, window="soon")
    seg = plot_timeline(MEETING, window=Segment(1, 2))
    assert seg.axes.get_xlim() == (1.0, 2.0)


def test_long_file_uses_clock_formatter() -> None:
    long = make([(0, 300, "A"), (400, 754, "B")])
    p = plot_timeline(long)
    assert p.axes.get_xlim() == (0.0, 754.0)
    fmt = p.axes.xaxis.get_major_formatter()
    assert fmt(754, 0) == "12:34" and fmt(60, 0) == "01:00"
    assert p.axes.get_xlabel() == "time (mm:ss)"
    ticks = p.axes.xaxis.get_major_locator()()
    assert all(t % 60 == 0 for t in ticks)  # whole minutes
    hours = make([(0, 100, "A"), (3000, 3725, "B")])
    p = plot_timeline(hours)
    assert p.axes.xaxis.get_major_formatter()(3725, 0) == "1:02:05"
    assert format_time(59.6) == "01:00" and format_time(3600, with_hours=True) == "1:00:00"
    short = plot_timeline(make([(0, 599, "A")]))
    assert short.axes.xaxis.get_major_formatter()(120, 0) != "02:00"


def test_ten_hour_file_few_artists() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    starts = np.sort(rng.uniform(0, 36_000, n))
    turns = [{"speaker": f"SPEAKER_{k:02d}", "start": float(s), "end": float(s + d)}
             for s, d, k in zip(starts, rng.uniform(0.5, 4, n), rng.integers(0, 8, n))]
    r = Result({"diarization": turns}, uri="long")
    p = r.plot()
    assert len(p.axes.collections) == 9  # 8 speakers + overlap
    assert sum(len(c.get_paths()) for c in p.axes.collections
               if c.get_gid().startswith("speaker:")) == n
    assert len(p.axes.patches) == 0
    assert p.axes.get_xlabel() == "time (h:mm:ss)"


def test_accepts_given_axes_and_returns_plot() -> None:
    from matplotlib.figure import Figure

    fig = Figure()
    axes = fig.subplots(2)
    p = plot_timeline(MEETING, ax=axes[1], title="mine", show_overlap=False)
    assert isinstance(p, Plot) and p.figure is fig and p.axes is axes[1]
    assert "overlap" not in by_gid(axes[1]) and len(axes[1].collections) == 3
    assert axes[1].get_title() == "mine"
    assert len(axes[0].collections) == 0
    png = p._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert figure_to_png(fig) [:8] == b"\x89PNG\r\n\x1a\n"


def test_no_pyplot_state() -> None:
    plot_timeline(MEETING)
    plot_speaker_time(speaker_stats(MEETING))
    if "matplotlib.pyplot" in sys.modules:  # another test may have imported it
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []


def test_comparison_mapped_colours_and_error_bands() -> None:
    ref = make([(0, 10, "SPEAKER_00"), (10, 20, "SPEAKER_01"), (25, 30, "SPEAKER_00")])
    hyp = make([(1, 10, "spk_b"), (10, 16, "spk_a"), (16, 20, "spk_b"), (22, 24, "spk_c"),
                (25, 30, "spk_b")], uri="f")
    fig, ax = plot_comparison(ref, hyp)
    g = by_gid(ax)
    # spk_b is mapped to SPEAKER_00 and spk_a to SPEAKER_01: same colours; spk_c unmatched grey
    assert tuple(g["hyp:spk_b"].get_facecolor()[0]) == tuple(g["ref:SPEAKER_00"].get_facecolor()[0])
    assert tuple(g["hyp:spk_a"].get_facecolor()[0]) == tuple(g["ref:SPEAKER_01"].get_facecolor()[0])
    assert tuple(g["hyp:spk_c"].get_facecolor()[0]) == pytest.approx(to_rgba(UNMATCHED[0]))
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "ref SPEAKER_00", "ref SPEAKER_01", "hyp spk_b → SPEAKER_00", "hyp spk_a → SPEAKER_01",
        "hyp spk_c (unmatched)", "missed", "false alarm", "confusion"]
    assert rects(g["missed"]) == [(0.0, 1.0)]
    assert rects(g["false_alarm"]) == [(22.0, 24.0)]
    assert rects(g["confusion"]) == [(16.0, 20.0)]
    for key, color in ERROR_COLORS.items():
        assert tuple(g[key].get_facecolor()[0]) == pytest.approx(to_rgba(color))
    assert "not_scored" not in g
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["missed", "false alarm",
                                                                  "confusion"]
    assert ax.get_xlim() == (0.0, 30.0)
    assert png_pixels(figure_to_png(fig)).std() > 10

    # UEM and collar: bands shrink, not-scored regions shaded, window crops
    fig, ax = plot_comparison(ref, hyp, uem=[(0, 28)], collar=0.5, window=(0, 25))
    g = by_gid(ax)
    assert rects(g["missed"]) == [(0.5, 1.0)]
    assert rects(g["confusion"]) == [(16.0, 19.5)]
    assert rects(g["not_scored"]) == [(0.0, 0.5), (9.5, 10.5), (19.5, 20.5), (24.5, 25.0)]
    assert ax.get_xlim() == (0.0, 25.0)
    assert ax.get_legend().get_texts()[-1].get_text() == "not scored"

    # Results work too
    r_ref = Result({"diarization": [{"speaker": "A", "start": 0, "end": 5}]}, uri="x")
    r_hyp = Result({"diarization": [{"speaker": "Z", "start": 0, "end": 5}]}, uri="x")
    _, ax = plot_comparison(r_ref, r_hyp)
    g = by_gid(ax)
    assert tuple(g["hyp:Z"].get_facecolor()[0]) == tuple(g["ref:A"].get_facecolor()[0])
    assert all(rects(g[k]) == [] for k in ERROR_COLORS)


def test_speaker_time_bars() -> None:
    stats = speaker_stats(MEETING)
    fig, ax = plot_speaker_time(stats)
    assert len(ax.patches) == 3
    assert [p.get_gid() for p in ax.patches] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_02"]
    assert [p.get_width() for p in ax.patches] == pytest.approx([20.0, 15.0, 2.0])
    assert [p.get_y() + p.get_height() / 2 for p in ax.patches] == [2.0, 1.0, 0.0]
    for p in ax.patches:
        assert tuple(p.get_facecolor()) == pytest.approx(to_rgba(label_color(p.get_gid())))
    assert [t.get_text() for t in ax.texts] == ["54.1 %", "40.5 %", "5.4 %"]
    assert ax.get_xlabel() == "talk time (s)"
    # Result / Annotation directly
    _, ax2 = plot_speaker_time(MEETING)
    assert [p.get_width() for p in ax2.patches] == pytest.approx([20.0, 15.0, 2.0])
    with pytest.raises(InvalidOption, match=r"stats: DataFrame lacks column\(s\) \['talk_time'\]"):
        plot_speaker_time(stats[["speaker"]])


def test_corpus_bars_stacked() -> None:
    other = make([(0, 4, "SPEAKER_00"), (2, 8, "SPEAKER_03")], uri="g")
    cs = corpus_stats([MEETING, other])
    fig, ax = plot_speaker_time(cs)
    assert len(ax.patches) == 5
    assert [p.get_gid() for p in ax.patches] == [
        "f/SPEAKER_00", "f/SPEAKER_01", "f/SPEAKER_02", "g/SPEAKER_03", "g/SPEAKER_00"]
    assert [p.get_x() for p in ax.patches] == pytest.approx([0, 20, 35, 0, 6])
    assert [p.get_width() for p in ax.patches] == pytest.approx([20, 15, 2, 6, 4])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["f", "g"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "SPEAKER_00", "SPEAKER_01", "SPEAKER_02", "SPEAKER_03"]
    assert png_pixels(cs.plot().to_png()).std() > 10

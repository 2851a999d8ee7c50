"""Benchmark: ``pyannote-notebook evaluate`` vs pyannote.metrics on synthetic 10-speaker pairs.

Generates reference/hypothesis RTTM pairs of 0.5, 1, 2 and 4 hours (10 speakers, with
overlapping interjections; the share of overlapped reference speech is *measured* on the
written reference and printed per size), then measures in one run:

* whole process: our CLI (``python -m pyannote_notebook.cli evaluate --collar 0.25``) and a
  pyannote.metrics script (``pyannote.database`` RTTM loader + ``DiarizationErrorRate(
  collar=0.5)``, the same collar as total width), each as a fresh subprocess;
* in-process scoring time alone (inputs already parsed; best of 7).

``--unique-labels`` adds a "many labels" row set: the same pairs with one hypothesis label per
turn (unclustered segmentation output), plus the peak memory of one in-process scoring
(tracemalloc) and the peak RSS of our CLI process. Scoring must stay linear in the number of
turns there too.

Usage: ``.venv/bin/python benchmarks/scoring.py [--hours 0.5 1 2 4] [--seed 0]
[--unique-labels]``. Prints markdown tables (paste into benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from _machine import cpu_model  # benchmarks/ is on sys.path when run as a script

PYANNOTE_SCRIPT = """
import sys, warnings
warnings.simplefilter("ignore")
from pyannote.database.util import load_rttm
from pyannote.metrics.diarization import DiarizationErrorRate
ref = load_rttm(sys.argv[1]); hyp = load_rttm(sys.argv[2])
metric = DiarizationErrorRate(collar=0.5)
for uri in ref:
    metric(ref[uri], hyp[uri])
print(f"{100 * abs(metric):.6f}")
"""

Turns = list[tuple[float, float, str]]


def generate(hours: float, rng: np.random.Generator, n_speakers: int = 10,
             overlap: float = 0.15) -> tuple[Turns, Turns]:
    """Reference turns back to back with pauses, plus overlapping interjections (``overlap``
    sets how often; the resulting share of overlapped speech is measured by
    :func:`overlap_share`, not set exactly); hypothesis = reference with jittered boundaries,
    5 % of the turns dropped and 8 % relabelled at random."""
    total = hours * 3600.0
    ref: Turns = []
    t = 0.0
    while t < total:
        duration = float(rng.gamma(2.0, 1.0)) + 0.3
        speaker = f"spk{rng.integers(n_speakers)}"
        ref.append((t, min(t + duration, total), speaker))
        if rng.random() < overlap * 2.2:
            start = t + float(rng.uniform(0, duration))
            other = f"spk{rng.integers(n_speakers)}"
            if other != speaker:
                ref.append((start, min(start + float(rng.uniform(0.3, 2.0)), total), other))
        t += duration + float(rng.exponential(0.4))
    hyp: Turns = []
    relabel = {f"spk{i}": f"S{(i * 7) % n_speakers:02d}" for i in range(n_speakers)}
    for start, end, speaker in ref:
        if rng.random() < 0.05:
            continue
        start = max(0.0, start + float(rng.normal(0, 0.15)))
        end = max(start + 0.05, end + float(rng.normal(0, 0.15)))
        label = relabel[speaker] if rng.random() > 0.08 else f"S{rng.integers(n_speakers):02d}"
        hyp.append((start, end, label))
    return ref, hyp


def unique_labels(turns: Turns) -> Turns:
    """One label per turn (what unclustered segmentation output looks like)."""
    return [(start, end, f"T{i:06d}") for i, (start, end, _) in enumerate(turns)]


def kept(turns: Turns) -> Turns:
    """The turns :func:`write` writes (RTTM durations are written to the millisecond)."""
    return [(s, e, label) for s, e, label in turns if e - s >= 0.01]


def write(turns: Turns, path: Path, uri: str = "bench") -> None:
    with open(path, "w") as handle:
        for start, end, speaker in kept(turns):
            handle.write(f"SPEAKER {uri} 1 {start:.3f} {end - start:.3f} <NA> <NA> {speaker} "
                         "<NA> <NA>\n")


def overlap_share(turns: Turns) -> float:
    """Time where two or more distinct speakers talk / time where at least one talks (%)."""
    if not turns:
        return 0.0
    by_speaker: dict[str, list[tuple[float, float]]] = {}
    for start, end, speaker in turns:
        by_speaker.setdefault(speaker, []).append((start, end))
    events: list[tuple[float, int]] = []
    for intervals in by_speaker.values():  # merge each speaker's own overlaps first
        intervals.sort()
        cur_s, cur_e = intervals[0]
        for s, e in intervals[1:]:
            if s > cur_e:
                events += [(cur_s, 1), (cur_e, -1)]
                cur_s, cur_e = s, e
            else:
                cur_e = max(cur_e, e)
        events += [(cur_s, 1), (cur_e, -1)]
    events.sort()
    speech = overlapped = 0.0
    active, last = 0, events[0][0]
    for time_, delta in events:
        if active >= 1:
            speech += time_ - last
        if active >= 2:
            overlapped += time_ - last
        active += delta
        last = time_
    return 100.0 * overlapped / speech if speech else 0.0


def timed(cmd: list[str]) -> tuple[float, str, float]:
    """Run ``cmd``; return wall seconds, stdout and the process's peak RSS (MB)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): {err.read()}")
        out.seek(0)
        return seconds, out.read(), usage.ru_maxrss / 1024.0  # Linux: kilobytes


def in_process(ref_data: object, hyp_data: object, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` in-process scoring time (s) and tracemalloc peak of one run (MB)."""
    from pyannote_notebook.analysis.scoring import evaluate

    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        evaluate(ref_data, hyp_data, collar=0.25)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    try:
        evaluate(ref_data, hyp_data, collar=0.25)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return best, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, nargs="+", default=[0.5, 1, 2, 4])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unique-labels", action="store_true",
                        help="also score each pair with one hypothesis label per turn")
    args = parser.parse_args()

    from pyannote_notebook.results.formats import parse_rttm

    rng = np.random.default_rng(args.seed)
    rows, many = [], []
    cli = [sys.executable, "-m", "pyannote_notebook.cli", "evaluate", "--collar", "0.25",
           "--format", "csv"]
    with tempfile.TemporaryDirectory() as tmp:
        for hours in args.hours:
            ref, hyp = generate(hours, rng)
            share = overlap_share(kept(ref))
            ref_path, hyp_path = Path(tmp) / f"ref_{hours}.rttm", Path(tmp) / f"hyp_{hours}.rttm"
            write(ref, ref_path)
            write(hyp, hyp_path)
            ours_s, ours_out, _ = timed(cli + ["-r", str(ref_path), "-s", str(hyp_path)])
            theirs_s, theirs_out, _ = timed([sys.executable, "-c", PYANNOTE_SCRIPT,
                                             str(ref_path), str(hyp_path)])
            ref_data, hyp_data = parse_rttm(ref_path), parse_rttm(hyp_path)
            best, _ = in_process(ref_data, hyp_data, 7)
            ours_der = float(ours_out.splitlines()[-1].split(",")[5])
            rows.append((hours, len(ref) + len(hyp), share, ours_s, theirs_s,
                         theirs_s / ours_s, best, ours_der, float(theirs_out.strip())))
            if args.unique_labels:
                uhyp = unique_labels(hyp)
                uhyp_path = Path(tmp) / f"uhyp_{hours}.rttm"
                write(uhyp, uhyp_path)
                ours_s, ours_out, rss = timed(cli + ["-r", str(ref_path), "-s", str(uhyp_path)])
                theirs_s, theirs_out, _ = timed([sys.executable, "-c", PYANNOTE_SCRIPT,
                                                 str(ref_path), str(uhyp_path)])
                best, peak = in_process(ref_data, parse_rttm(uhyp_path), 3)
                cells = ours_out.splitlines()[-1].split(",")
                many.append((hours, len(ref) + len(uhyp), len(kept(uhyp)), ours_s, rss, best,
                             peak, theirs_s, float(cells[5]), float(cells[6]),
                             float(theirs_out.strip())))
            print(f"{hours} h done", file=sys.stderr)

    print(f"Machine: nproc={os.cpu_count()}, CPU {cpu_model()}, Python "
          f"{platform.python_version()}, numpy {np.__version__}; "
          f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; seed {args.seed}")
    print()
    print("| audio | turns (ref + sys) | overlapped ref speech | our CLI (whole process) "
          "| pyannote.metrics script | speed-up | our scoring in-process | DER md-eval "
          "| DER pyannote |")
    print("|---|---|---|---|---|---|---|---|---|")
    for hours, turns, share, ours, theirs, ratio, best, d1, d2 in rows:
        print(f"| {hours:g} h | {turns:,} | {share:.1f} % | {ours:.2f} s | {theirs:.2f} s "
              f"| {ratio:.1f}x | {best * 1000:.0f} ms ({best / turns * 1e6:.1f} us/turn) "
              f"| {d1:.2f} % | {d2:.2f} % |")
    print()
    print("Overlapped ref speech: time with >= 2 reference speakers / time with >= 1, measured "
          "on the written reference.")
    if many:
        print()
        print("Many labels: same pairs, one hypothesis label per turn.")
        print()
        print("| audio | turns (ref + sys) | hyp labels | our CLI (whole process) | CLI peak RSS "
              "| our scoring in-process | in-process peak (tracemalloc) "
              "| pyannote.metrics script | DER md-eval | JER | DER pyannote |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for (hours, turns, labels, ours, rss, best, peak, theirs, d1, jer, d2) in many:
            print(f"| {hours:g} h | {turns:,} | {labels:,} | {ours:.2f} s | {rss:.0f} MB "
                  f"| {best * 1000:.0f} ms ({best / turns * 1e6:.1f} us/turn) | {peak:.1f} MB "
                  f"| {theirs:.2f} s | {d1:.2f} % | {jer:.2f} % | {d2:.2f} % |")


if __name__ == "__main__":
    main()

"""Benchmark: ``pyannote-notebook evaluate`` vs pyannote.metrics on synthetic 10-speaker pairs.

Generates reference/hypothesis RTTM pairs of 0.5, 1, 2 and 4 hours (10 speakers, about 15 %
overlapped speech), then measures in one run:

* whole process: our CLI (``python -m pyannote_notebook.cli evaluate --collar 0.25``) and a
  pyannote.metrics script (``pyannote.database`` RTTM loader + ``DiarizationErrorRate(
  collar=0.5)``, the same collar as total width), each as a fresh subprocess;
* in-process scoring time alone (inputs already parsed; best of 7).

Usage: ``.venv/bin/python benchmarks/scoring.py [--hours 0.5 1 2 4] [--seed 0]``.
Prints a markdown table (paste into benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

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


def generate(hours: float, rng: np.random.Generator, n_speakers: int = 10,
             overlap: float = 0.15) -> tuple[list[tuple[float, float, str]],
                                             list[tuple[float, float, str]]]:
    """Reference turns back to back with pauses, plus overlapping interjections (~15 % of
    speech); hypothesis = reference with jittered boundaries, 8 % relabelled turns, dropped
    and extra short turns."""
    total = hours * 3600.0
    ref: list[tuple[float, float, str]] = []
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
    hyp: list[tuple[float, float, str]] = []
    relabel = {f"spk{i}": f"S{(i * 7) % n_speakers:02d}" for i in range(n_speakers)}
    for start, end, speaker in ref:
        if rng.random() < 0.05:
            continue
        start = max(0.0, start + float(rng.normal(0, 0.15)))
        end = max(start + 0.05, end + float(rng.normal(0, 0.15)))
        label = relabel[speaker] if rng.random() > 0.08 else f"S{rng.integers(n_speakers):02d}"
        hyp.append((start, end, label))
    return ref, hyp


def write(turns: list[tuple[float, float, str]], path: Path, uri: str = "bench") -> None:
    with open(path, "w") as handle:
        for start, end, speaker in turns:
            if end - start < 0.01:
                continue
            handle.write(f"SPEAKER {uri} 1 {start:.3f} {end - start:.3f} <NA> <NA> {speaker} "
                         "<NA> <NA>\n")


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, nargs="+", default=[0.5, 1, 2, 4])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from pyannote_notebook.analysis.scoring import evaluate
    from pyannote_notebook.results.formats import parse_rttm

    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for hours in args.hours:
            ref, hyp = generate(hours, rng)
            ref_path, hyp_path = Path(tmp) / f"ref_{hours}.rttm", Path(tmp) / f"hyp_{hours}.rttm"
            write(ref, ref_path)
            write(hyp, hyp_path)
            ours_s, ours_out = timed([sys.executable, "-m", "pyannote_notebook.cli", "evaluate",
                                      "-r", str(ref_path), "-s", str(hyp_path), "--collar",
                                      "0.25", "--format", "csv"])
            theirs_s, theirs_out = timed([sys.executable, "-c", PYANNOTE_SCRIPT, str(ref_path),
                                          str(hyp_path)])
            ref_data, hyp_data = parse_rttm(ref_path), parse_rttm(hyp_path)
            best = float("inf")
            for _ in range(7):
                start = time.perf_counter()
                evaluate(ref_data, hyp_data, collar=0.25)
                best = min(best, time.perf_counter() - start)
            ours_der = float(ours_out.splitlines()[-1].split(",")[5])
            rows.append((hours, len(ref) + len(hyp), ours_s, theirs_s, theirs_s / ours_s,
                         best, ours_der, float(theirs_out.strip())))
            print(f"{hours} h done", file=sys.stderr)
    print("| audio | turns (ref + sys) | our CLI (whole process) | pyannote.metrics script "
          "| speed-up | our scoring in-process | DER md-eval | DER pyannote |")
    print("|---|---|---|---|---|---|---|---|")
    for hours, turns, ours, theirs, ratio, best, d1, d2 in rows:
        print(f"| {hours:g} h | {turns:,} | {ours:.2f} s | {theirs:.2f} s | {ratio:.1f}x "
              f"| {best * 1000:.0f} ms ({best / turns * 1e6:.1f} us/turn) | {d1:.2f} % "
              f"| {d2:.2f} % |")


if __name__ == "__main__":
    main()

"""Benchmark of the local engine: speed, memory and accuracy, stage by stage.

Run: ``.venv/bin/python benchmarks/engine.py [--minutes 22] [--out DIR]``

1. builds a ~22-minute recording by concatenating espeak-ng conversations (1-4 speakers, each
   conversation with its own speakers; the reference RTTM follows), with a fresh interpreter
   state so start-up (weights loading, onnxruntime session) is included in the totals;
2. reports the real-time factor and peak memory of each stage (load, VAD, embeddings,
   clustering, turns) against the targets RTF <= 0.02 and <= 500 MB;
3. prints a DER table (collar 0.25 s per side and none) on the test files (pyannote's sample
   and the synthetic conversations of tests/engine);
4. measures the site-packages footprint of what the ``local`` extra needs.

Peak RSS is the process's ``VmHWM`` (/proc/self/status) after each stage (a running maximum;
``ru_maxrss`` is not used because Linux carries it over from the parent across exec).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from _machine import cpu_model  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    """Peak RSS of this process in MB: VmHWM (reset by exec, unlike ru_maxrss on Linux)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build_long_recording(out_dir: Path, minutes: float) -> tuple[Path, Path]:
    """Concatenate synthesized conversations until ``minutes``; speaker ``spk<i>`` is the same
    espeak voice in every part, so the reference has 4 speakers."""
    import soundfile as sf

    from pyannote_notebook import samples

    pairs = samples.make_corpus(out_dir / "parts", n_files=40, seed=2026,
                                turns_per_file=(10, 18))
    chunks, lines, offset, i = [], [], 0.0, 0
    while offset < minutes * 60:
        wav, rttm = pairs[i % len(pairs)]
        x, sr = sf.read(wav, dtype="float32")
        for line in rttm.read_text().splitlines():
            p = line.split()
            lines.append(f"SPEAKER long 1 {float(p[3]) + offset:.3f} {p[4]} <NA> <NA> "
                         f"{p[7]} <NA> <NA>")  # same voice in every part
        chunks.append(x)
        offset += len(x) / sr
        i += 1
    wav_path, rttm_path = out_dir / "long.wav", out_dir / "long.rttm"
    sf.write(wav_path, np.concatenate(chunks), 16000, subtype="PCM_16")
    rttm_path.write_text("\n".join(lines) + "\n")
    return wav_path, rttm_path


def der_of(rttm: Path, output: dict, collar_side: float) -> float:
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref, hyp = Annotation(), Annotation()
    for line in rttm.read_text().splitlines():
        p = line.split()
        ref[Segment(float(p[3]), float(p[3]) + float(p[4]))] = p[7]
    for s in output["diarization"]:
        hyp[Segment(s["start"], s["end"])] = s["speaker"]
    end = max(ref.get_timeline().extent().end,
              hyp.get_timeline().extent().end if len(hyp) else 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(DiarizationErrorRate(collar=2 * collar_side)(ref, hyp,
                                                                  uem=Timeline([Segment(0, end)])))


def speed(wav_path: Path, rttm: Path, num_speakers: int | None) -> list[str]:
    from pyannote_notebook.engine.audio import load_audio
    from pyannote_notebook.engine.pipeline import format_output, run_pipeline

    rows = []
    rss_start = rss_mb()
    t0 = time.perf_counter()
    wav, _ = load_audio(wav_path)
    t_load = time.perf_counter() - t0
    duration = len(wav) / 16000
    rows.append(("load", t_load, rss_mb()))
    d = run_pipeline(wav, num_speakers=num_speakers)
    out = format_output(d)
    total = t_load + sum(d.timings.values())
    lines = [f"recording: {duration / 60:.1f} min ({duration:.0f} s), "
             f"speech {d.speech_seconds:.0f} s,"
             f" {len(d.embeddings)} windows, {d.n_speakers} speakers found",
             "", "| stage | seconds | RTF | peak RSS (MB, running) |", "|---|---|---|---|",
             f"| load | {t_load:.2f} | {t_load / duration:.4f} | {rows[0][2]:.0f} |"]
    for stage in ("vad", "embeddings", "clustering", "turns"):
        t = d.timings[stage]
        lines.append(f"| {stage} | {t:.2f} | {t / duration:.4f} | |")
    peak = rss_mb()
    lines.append(f"| **total** | {total:.2f} | **{total / duration:.4f}** | **{peak:.0f}** |")
    lines.append("")
    lines.append(f"RSS of the interpreter with numpy/scipy imported, before loading: "
                 f"{rss_start:.0f} MB")
    lines.append(f"targets: RTF <= 0.02 -> {'met' if total / duration <= 0.02 else 'MISSED'}; "
                 f"peak RSS <= 500 MB -> {'met' if peak <= 500 else 'MISSED'}")
    lines.append(f"DER on this recording (collar 0.25 s/side, num_speakers="
                 f"{num_speakers}): {100 * der_of(rttm, out, 0.25):.1f} %")
    return lines


def der_table() -> list[str]:
    sys.path.insert(0, str(ROOT / "tests" / "engine"))
    import conftest as cf  # the test conversations

    from pyannote_notebook import samples
    from pyannote_notebook.engine import diarize

    files = [("sample (real, 2 spk)", samples.sample_path(), samples.sample_reference_path(), 2)]
    tmp = samples.cache_dir() / "bench_conversations"
    for name, turns in cf.CONVERSATIONS.items():
        wav, rttm = samples.synthesize_conversation(turns, tmp / f"{name}.wav")
        files.append((f"espeak {name} ({cf.SPEAKERS[name]} spk)", wav, rttm, cf.SPEAKERS[name]))
    lines = ["| file | speakers found (auto) | DER auto, 0.25 s collar | DER auto, no collar |"
             " DER with count given, 0.25 s |", "|---|---|---|---|---|"]
    for label, wav, rttm, n in files:
        out = diarize(wav)
        fixed = diarize(wav, num_speakers=n)
        found = len({s["speaker"] for s in out["diarization"]})
        lines.append(f"| {label} | {found} | {100 * der_of(rttm, out, 0.25):.1f} % | "
                     f"{100 * der_of(rttm, out, 0.0):.1f} % | "
                     f"{100 * der_of(rttm, fixed, 0.25):.1f} % |")
    return lines


def _dist_size(dist_name: str) -> tuple[float, str]:
    from importlib import metadata

    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return 0.0, "not installed"
    total = 0
    for f in dist.files or []:
        p = Path(dist.locate_file(f))
        if p.is_file():
            total += p.stat().st_size
    return total / 1e6, dist.version


def footprint() -> list[str]:
    names = ["numpy", "scipy", "onnxruntime", "soundfile", "threadpoolctl", "silero-vad",
             "resemblyzer", "scikit-learn", "joblib", "cffi", "pycparser", "flatbuffers",
             "protobuf", "packaging", "coloredlogs", "humanfriendly", "sympy", "mpmath"]
    lines = ["| distribution | version | MB |", "|---|---|---|"]
    core = 0.0
    for n in names:
        mb, ver = _dist_size(n)
        lines.append(f"| {n} | {ver} | {mb:.1f} |")
        core += mb
    lines.append(f"| **total** | | **{core:.0f}** |")
    unused = sum(_dist_size(n)[0] for n in ("scikit-learn", "joblib"))
    lines.append(f"| total without scikit-learn + joblib (the engine does not import them) | | "
                 f"**{core - unused:.0f}** |")
    lines.append(f"torch installed: {importlib.util.find_spec('torch') is not None}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=22.0)
    parser.add_argument("--num-speakers", type=int, default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--skip-der", action="store_true")
    parser.add_argument("--speed-only", nargs=2, metavar=("WAV", "RTTM"), default=None,
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.speed_only:
        print("\n".join(speed(Path(args.speed_only[0]), Path(args.speed_only[1]),
                               args.num_speakers)))
        return 0
    from pyannote_notebook import samples

    out_dir = Path(args.out) if args.out else samples.cache_dir() / "bench_engine"
    out_dir.mkdir(parents=True, exist_ok=True)
    cpu = cpu_model()
    print(f"## Local engine ({datetime.date.today().isoformat()})\n")
    print(f"Command: `.venv/bin/python benchmarks/engine.py --minutes {args.minutes:g}`  ")
    print(f"Machine: {os.cpu_count()} cores (`nproc`), {cpu}, Python {platform.python_version()}"
          "\n")
    wav, rttm = build_long_recording(out_dir, args.minutes)
    print("### Speed and memory (fresh process, start-up included)\n")
    import subprocess

    cmd = [sys.executable, __file__, "--speed-only", str(wav), str(rttm)]
    if args.num_speakers:
        cmd += ["--num-speakers", str(args.num_speakers)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return 1
    print(proc.stdout.rstrip())
    if not args.skip_der:
        print("\n### DER on the test files\n")
        print("\n".join(der_table()))
    print("\n### Install footprint of the `local` extra (site-packages)\n")
    print("\n".join(footprint()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

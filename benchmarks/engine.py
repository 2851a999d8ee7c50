"""Benchmark of the local engine: speed, memory and accuracy, stage by stage.

Run: ``.venv/bin/python benchmarks/engine.py [--minutes 22] [--out DIR]``

1. builds a ~22-minute recording by concatenating espeak-ng conversations (1-4 speakers, each
   conversation with its own speakers; the reference RTTM follows), with a fresh interpreter
   state so start-up (weights loading, onnxruntime session) is included in the totals;
2. reports the real-time factor and peak memory of each stage (load, VAD, embeddings,
   clustering, turns) against the targets RTF <= 0.02 and <= 500 MB;
3. prints a DER table (collar 0.25 s per side and none) on the test files (pyannote's sample
   and the synthetic conversations of tests/engine);
4. measures the install footprint of ``pyannote-notebook[local]``: the installed size of exactly
   the distributions in its requirement closure (``Requires-Dist`` walked recursively from this
   venv's metadata, markers evaluated, extras followed), the core-only closure beside it, and
   the two weight wheels (installed with ``--no-deps``, so outside the closure).

Peak RSS per stage is the kernel's high-water mark ``VmHWM`` (/proc/self/status), reset to the
current RSS at the start of each stage by writing ``5`` to /proc/self/clear_refs (Linux >= 4.0)
and read at its end: the true peak reached during that stage, not a sample. The stage
boundaries come from ``run_pipeline(on_stage=...)``. Where clear_refs cannot be written the
table says so and shows the running peak (VmHWM since the process started) instead.
``ru_maxrss`` is not used because Linux carries it over from the parent across exec.
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


def _status_kb(field: str) -> float | None:
    try:
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Peak RSS of this process in MB: VmHWM (reset by exec and by :func:`reset_peak`)."""
    kb = _status_kb("VmHWM")
    if kb is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return kb / 1024.0


def current_rss_mb() -> float:
    kb = _status_kb("VmRSS")
    return kb / 1024.0 if kb is not None else float("nan")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (``echo 5 > /proc/self/clear_refs``); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class StagePeaks:
    """Peak RSS of each stage: reset the high-water mark when a stage starts, read it when it
    ends. Reads between stages keep the process-wide peak (``overall``) exact."""

    def __init__(self) -> None:
        self.overall = rss_mb()  # start-up (interpreter, imports) until now
        self.per_stage = reset_peak()  # can the kernel's high-water mark be reset?
        self.rows: dict[str, tuple[float, float]] = {}  # stage -> (RSS at start, peak)
        self._start_rss = 0.0

    def __call__(self, stage: str, phase: str) -> None:
        peak = rss_mb()
        self.overall = max(self.overall, peak)
        if phase == "start":
            if self.per_stage:
                reset_peak()
            self._start_rss = current_rss_mb()
        else:
            self.rows[stage] = (self._start_rss, peak)

    def finish(self) -> float:
        self.overall = max(self.overall, rss_mb())
        return self.overall


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

    rss_start = current_rss_mb()
    meter = StagePeaks()
    meter("load", "start")
    t0 = time.perf_counter()
    wav, _ = load_audio(wav_path)
    t_load = time.perf_counter() - t0
    meter("load", "end")
    duration = len(wav) / 16000
    d = run_pipeline(wav, num_speakers=num_speakers, on_stage=meter)
    out = format_output(d)
    peak = meter.finish()
    total = t_load + sum(d.timings.values())
    if meter.per_stage:
        method = ("peak RSS per stage: VmHWM reset at the stage's start (5 > "
                  "/proc/self/clear_refs) and read at its end")
        head = "| stage | seconds | RTF | RSS at start (MB) | peak RSS during the stage (MB) |"
    else:
        method = ("/proc/self/clear_refs not writable here: the last column is the RUNNING peak "
                  "(VmHWM since the process started), not a per-stage peak")
        head = "| stage | seconds | RTF | RSS at start (MB) | running peak RSS (MB) |"
    lines = [f"recording: {duration / 60:.1f} min ({duration:.0f} s), "
             f"speech {d.speech_seconds:.0f} s,"
             f" {len(d.embeddings)} windows, {d.n_speakers} speakers found",
             "", method, "", head, "|---|---|---|---|---|"]
    timings = {"load": t_load, **d.timings}
    for stage in ("load", "vad", "embeddings", "clustering", "turns"):
        t = timings[stage]
        start_rss, stage_peak = meter.rows[stage]
        lines.append(f"| {stage} | {t:.2f} | {t / duration:.4f} | {start_rss:.0f} | "
                     f"{stage_peak:.0f} |")
    lines.append(f"| **total** (peak: whole process, start-up included) | {total:.2f} | "
                 f"**{total / duration:.4f}** | | **{peak:.0f}** |")
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


def _dist_size(dist) -> float:
    """MB of the files a distribution's RECORD (or SOURCES.txt) lists that exist on disk."""
    total = 0
    for f in dist.files or []:
        if "__pycache__" in f.parts and f.suffix != ".pyc":
            continue
        p = Path(dist.locate_file(f))
        if p.is_file():
            total += p.stat().st_size
    return total / 1e6


def requirement_closure(root: str, extras: tuple[str, ...] = ()) -> tuple[dict, list[str]]:
    """Distributions ``root[extras]`` needs, from the installed metadata.

    Walks ``Requires-Dist`` recursively; a requirement counts when its marker holds for this
    interpreter with ``extra`` set to "" or to one of the extras requested of that
    distribution; extras of a requirement (``pkg[x]``) are followed. Returns
    ``({canonical name: (Distribution, requested extras, parent)}, [missing requirements])``.
    """
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, tuple] = {}
    missing: list[str] = []
    done: set[tuple[str, str]] = set()
    queue: list[tuple[str, frozenset, str]] = [(root, frozenset(extras), "")]
    while queue:
        name, wanted, parent = queue.pop(0)
        key = canonicalize_name(name)
        new_extras = {e for e in wanted | {""} if (key, e) not in done}
        if not new_extras:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(f"{name} (required by {parent or 'the root'})")
            done.update((key, e) for e in new_extras)
            continue
        prev = found.get(key)
        found[key] = (dist, (prev[1] if prev else frozenset()) | wanted,
                      prev[2] if prev else parent)
        done.update((key, e) for e in new_extras)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not any(
                    req.marker.evaluate({"extra": e}) for e in new_extras):
                continue
            queue.append((req.name, frozenset(req.extras), key))
    return found, missing


def footprint(project: str = "pyannote-notebook", extra: str = "local",
              weight_wheels: tuple[str, ...] = ("silero-vad", "resemblyzer"),
              top: int = 12) -> list[str]:
    from importlib import metadata

    from packaging.utils import canonicalize_name

    full, missing_full = requirement_closure(project, (extra,))
    core, missing_core = requirement_closure(project)
    size = {k: _dist_size(v[0]) for k, v in full.items()}
    size.update({k: _dist_size(v[0]) for k, v in core.items() if k not in size})
    full_mb = sum(size[k] for k in full)
    core_mb = sum(size[k] for k in core)
    only_extra = sorted(set(full) - set(core), key=lambda k: -size[k])
    lines = [
        f"Method: the installed size (files listed in each distribution's RECORD, .pyc "
        f"included) of exactly the distributions in the requirement closure of `{project}` in "
        "this venv: `Requires-Dist` walked recursively with importlib.metadata, markers "
        "evaluated for this interpreter, requested extras followed. The project itself counts "
        "its package files (an editable install here). Not a fresh-venv measurement: versions "
        "are this venv's.", "",
        f"| closure | distributions | MB |", "|---|---|---|",
        f"| `{project}` (core) | {len(core)} | {core_mb:.0f} |",
        f"| `{project}[{extra}]` | {len(full)} | **{full_mb:.0f}** |",
        f"| of which only for `[{extra}]` | {len(only_extra)} | {full_mb - core_mb:.0f} |",
    ]
    wheels_mb = 0.0
    wheel_rows = []
    for name in weight_wheels:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            wheel_rows.append(f"| {name} | not installed | 0 |")
            continue
        mb = _dist_size(dist)
        wheels_mb += mb
        wheel_rows.append(f"| {name} | {dist.version} | {mb:.1f} |")
    lines.append(f"| + weight wheels (`pip install --no-deps {' '.join(weight_wheels)}`, "
                 f"outside the closure) | {len(weight_wheels)} | {wheels_mb:.0f} |")
    lines.append(f"| **offline engine total** (`[{extra}]` closure + weight wheels) | "
                 f"{len(full) + len(weight_wheels)} | **{full_mb + wheels_mb:.0f}** |")
    lines += ["", f"Top {top} of the `[{extra}]` closure:", "",
              "| distribution | version | MB | in core closure | required by |",
              "|---|---|---|---|---|"]
    for k in sorted(full, key=lambda k: -size[k])[:top]:
        dist, _, parent = full[k]
        lines.append(f"| {dist.metadata['Name']} | {dist.version} | {size[k]:.1f} | "
                     f"{'yes' if k in core else 'no'} | {parent or '-'} |")
    lines += ["", f"Only for `[{extra}]`: " + ", ".join(
        f"{full[k][0].metadata['Name']} {size[k]:.1f} MB" for k in only_extra)]
    lines += ["", "Weight wheels:", "", "| distribution | version | MB |", "|---|---|---|"]
    lines += wheel_rows
    missing = sorted(set(missing_full) | set(missing_core))
    if missing:
        lines.append(f"required but not installed in this venv (not counted): "
                     f"{', '.join(missing)}")
    in_closure = {canonicalize_name(n) for n in ("torch", "scikit-learn")} & set(full)
    lines.append("")
    lines.append(f"torch installed: {importlib.util.find_spec('torch') is not None}; torch or "
                 f"scikit-learn in the closure: {sorted(in_closure) or 'no'}")
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
    load_before = os.getloadavg()[0]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    load_after = os.getloadavg()[0]
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return 1
    print(proc.stdout.rstrip())
    print(f"1-min load average before/after this section: {load_before:.2f} / {load_after:.2f} "
          f"on {os.cpu_count()} cores (other jobs share the cores; the engine runs BLAS on one thread)")
    if not args.skip_der:
        print("\n### DER on the test files\n")
        print("\n".join(der_table()))
    print("\n### Install footprint of `pyannote-notebook[local]` (requirement closure)\n")
    print("\n".join(footprint()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

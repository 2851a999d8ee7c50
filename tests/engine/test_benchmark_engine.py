"""The measuring parts of benchmarks/engine.py: requirement closure and per-stage peak RSS."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))  # the script imports its sibling _machine.py
    try:
        spec = importlib.util.spec_from_file_location("bench_engine_under_test",
                                                      BENCH / "engine.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCH))


def test_requirement_closure_follows_extras_and_markers(bench):
    full, missing_full = bench.requirement_closure("pyannote-notebook", ("local",))
    core, missing_core = bench.requirement_closure("pyannote-notebook")
    assert missing_full == [] and missing_core == []
    assert set(core) < set(full)
    # the local extra's direct requirements and theirs (onnxruntime -> flatbuffers, protobuf;
    # soundfile -> cffi -> pycparser)
    assert set(full) - set(core) == {"onnxruntime", "soundfile", "threadpoolctl", "flatbuffers",
                                     "protobuf", "cffi", "pycparser"}
    assert {"pyannote-notebook", "numpy", "scipy", "pandas", "pyannote-core"} <= set(core)
    # other extras (server, dev), their extras' extras, and platform-only markers stay out
    for name in ("fastapi", "uvicorn", "pytest", "pyannote-metrics", "torch", "scikit-learn",
                 "sympy", "colorama", "pyarrow"):
        assert name not in full, name
    # the extras requested of the root are recorded
    assert full["pyannote-notebook"][1] == frozenset({"local"})
    assert full["onnxruntime"][2] == "pyannote-notebook"  # first requirer


def test_footprint_totals_add_up(bench):
    lines = bench.footprint()
    text = "\n".join(lines)
    rows = {ln.split("|")[1].strip(): ln.split("|")[2:4] for ln in lines
            if ln.startswith("| `pyannote-notebook") or ln.startswith("| of which")}
    core = float(rows["`pyannote-notebook` (core)"][1])
    full = float(rows["`pyannote-notebook[local]`"][1].strip(" *"))
    extra = float(rows["of which only for `[local]`"][1])
    assert abs(full - core - extra) <= 1 and full > core > 0
    assert "| onnxruntime |" in text and "| silero-vad |" in text
    assert "scikit-learn in the closure: no" in text


def test_stage_peaks_are_per_stage_not_running(bench):
    if not bench.reset_peak():
        pytest.skip("/proc/self/clear_refs is not writable here")
    meter = bench.StagePeaks()
    meter("big", "start")
    a = np.ones(20_000_000)  # 160 MB, touched
    del a
    meter("big", "end")
    meter("small", "start")
    b = np.ones(2_500_000)  # 20 MB
    del b
    meter("small", "end")
    overall = meter.finish()
    start_big, peak_big = meter.rows["big"]
    start_small, peak_small = meter.rows["small"]
    assert peak_big - start_big > 140
    assert 15 < peak_small - start_small < 60  # a running peak would report the 160 MB again
    assert overall >= peak_big > peak_small

"""Output JSON -> Annotation + DataFrame: pyannote-notebook's Result vs pyannote.audio's loop.

Baseline (what ``pyannote.audio.pipelines.pyannoteai.sdk.SDK.apply`` does, see
pyannote.audio 4.0.7, pipelines/pyannoteai/sdk.py)::

    annotation = Annotation(uri=uri)
    for t, turn in enumerate(output["diarization"]):
        annotation[Segment(turn["start"], turn["end"]), t] = turn["speaker"]
    annotation = annotation.rename_tracks("string")

followed by a DataFrame built the usual way, from one dict per track. Ours:
``r = Result(output, uri=uri); r.annotation; r.to_dataframe()`` (public pyannote.core API only).
Both run in one process, warm (imports and a small warm-up paid before timing); the content is
checked equal (``Annotation.__eq__`` compares segments, track names and labels in order; the
DataFrames with ``pandas.testing.assert_frame_equal``). Best of ``--repeat`` runs is reported.

Usage::

    .venv/bin/python benchmarks/convert.py [--turns 100000] [--repeat 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

import numpy as np
import pandas as pd
from pyannote.core import Annotation, Segment

from pyannote_notebook.results import Result

from _machine import cpu_model  # benchmarks/ is on sys.path when run as a script


def make_output(n_turns: int, n_speakers: int = 10, seed: int = 0) -> dict[str, Any]:
    """A sorted, overlapping diarization of ``n_turns`` turns (ms-rounded, as the service)."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.5, n_turns)
    starts = np.round(np.cumsum(gaps), 3)
    ends = np.round(starts + rng.uniform(0.3, 6.0, n_turns), 3)
    speakers = rng.integers(0, n_speakers, n_turns)
    return {
        "diarization": [
            {"speaker": f"SPEAKER_{k:02d}", "start": float(s), "end": float(e)}
            for s, e, k in zip(starts.tolist(), ends.tolist(), speakers.tolist())
        ]
    }


def baseline(output: dict[str, Any], uri: str) -> tuple[Annotation, pd.DataFrame]:
    annotation = Annotation(uri=uri)
    for t, turn in enumerate(output["diarization"]):
        annotation[Segment(turn["start"], turn["end"]), t] = turn["speaker"]
    annotation = annotation.rename_tracks("string")
    df = pd.DataFrame(
        [
            {"uri": uri, "speaker": label, "start": s.start, "end": s.end,
             "duration": s.end - s.start}
            for s, _, label in annotation.itertracks(yield_label=True)
        ]
    )
    return annotation, df


def ours(output: dict[str, Any], uri: str) -> tuple[Annotation, pd.DataFrame]:
    r = Result(output, uri=uri)
    return r.annotation, r.to_dataframe()


def best_of(fn: Any, *args: Any, repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    output = make_output(args.turns, seed=args.seed)
    small = make_output(200, seed=1)
    baseline(small, "warm")  # warm-up: imports, caches
    ours(small, "warm")

    t_base, (ann_b, df_b) = best_of(baseline, output, "bench", repeat=args.repeat)
    t_ours, (ann_o, df_o) = best_of(ours, output, "bench", repeat=args.repeat)

    assert ann_o == ann_b, "annotations differ"
    assert len(ann_o) == len(ann_b)
    pd.testing.assert_frame_equal(
        df_o.astype({"uri": object, "speaker": object}),
        df_b.astype({"uri": object, "speaker": object}),
        check_dtype=False,
    )
    cpu = cpu_model()
    print(f"turns: {args.turns}, best of {args.repeat}, python {platform.python_version()}, "
          f"cpu: {cpu}")
    print(f"baseline (per-turn loop + rename_tracks + row-dict DataFrame): {t_base:.3f} s")
    print(f"Result(...).annotation + .to_dataframe():                     {t_ours:.3f} s")
    print(f"speed-up: {t_base / t_ours:.1f}x  (content identical: Annotation.__eq__, frames equal)")


if __name__ == "__main__":
    main()

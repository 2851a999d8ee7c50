"""Batch throughput against rate limits: ``diarize_many`` vs a naive loop with the official SDK.

Setup: the local pyannoteAI-compatible server (scripted engine, every job ``--job-seconds`` long,
``job_workers=64``) with the service's published limits (100 job-creating requests and 300 job
reads per minute) scaled up by ``--scale`` (default x20: 2000 creates/min, 6000 reads/min),
enforced in fixed windows of ``--window`` seconds (default 6 s: 200 creates and 600 reads per
window), so the limits bind for a 1,000-file batch.

Each file costs two job-creating requests (``POST /media/input`` for the upload, then
``POST /diarize``), so the floor the limits impose on the wall time is::

    floor = (2 * N / creates_per_window - 1) * window + job_seconds

(the last window's requests can start at the beginning of that window; the last job then runs).

Measured for both contenders: wall time, ratio to the floor, requests per job (every request the
server received, including 429s), 429 answers.

* ``diarize_many``: the client's RateBudget set to the server's limits, 8 workers, listing-based
  polling.
* naive: ``pyannoteai.sdk.Client`` (0.4.0) ``upload`` + ``diarize`` per file (sleeping on a 429's
  ``Retry-After``, since the SDK itself raises), then ``retrieve(job_id, every_seconds=10)`` per
  job, sequentially.

Run: ``.venv/bin/python benchmarks/batch.py`` (``--quick``: 200 files).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyannote_notebook.api import Client, RateBudget  # noqa: E402
from pyannote_notebook.jobs.session import Session  # noqa: E402
from pyannote_notebook.server import RateLimits, Script, ScriptedEngine, start_server  # noqa: E402
from pyannote_notebook.server.testing import write_wav  # noqa: E402

from _machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path as a script)


def make_files(folder: Path, n: int) -> list[Path]:
    return [write_wav(folder / f"f{i:04d}.wav", seconds=0.1 + 0.001 * (i % 200),
                      frequency=150.0 + i) for i in range(n)]


def start(args: argparse.Namespace):
    limits = RateLimits(create_per_minute=100 * args.scale, read_per_minute=300 * args.scale,
                        window=args.window)
    handle = start_server(engine=ScriptedEngine(default=Script(duration=args.job_seconds)),
                          rate_limits=limits, job_workers=64)
    return handle, limits


def floor_seconds(n: int, limits: RateLimits, job_seconds: float) -> float:
    per_window = limits.allowance("create")
    return max(0.0, (2 * n / per_window - 1)) * limits.window + job_seconds


def run_ours(args: argparse.Namespace, files: list[Path], tmp: Path) -> dict:
    handle, limits = start(args)
    try:
        budget = RateBudget(create_per_minute=limits.allowance("create"),
                            read_per_minute=limits.allowance("read"), window=limits.window)
        client = Client(api_key=handle.api_key, base_url=handle.base_url, rate_budget=budget)
        session = Session(client=client, store=tmp / "ours.sqlite3", progress=False)
        t0 = time.perf_counter()
        batch = session.diarize_many(files, max_concurrency=8)
        wall = time.perf_counter() - t0
        assert not batch.failed, batch.summary[batch.summary.error.notna()].head()
        stats = handle.stats
        return dict(wall=wall, floor=floor_seconds(len(files), limits, args.job_seconds),
                    requests=sum(stats.requests.values()), r429=stats.responses_by_status.get(429, 0),
                    jobs=stats.jobs_created, reads=sum(stats.job_reads.values()),
                    lists=stats.requests[("GET", "/v2/jobs")])
    finally:
        handle.stop()


def run_naive(args: argparse.Namespace, files: list[Path]) -> dict:
    import requests
    from pyannoteai.sdk import Client as SDKClient

    handle, limits = start(args)
    old = SDKClient.API_URL
    try:
        SDKClient.API_URL = handle.base_url
        sdk = SDKClient(handle.api_key)

        def patient(fn, *a, **kw):
            while True:
                try:
                    return fn(*a, **kw)
                except requests.HTTPError as exc:
                    resp = exc.response
                    if resp is None or resp.status_code != 429:
                        raise
                    time.sleep(float(resp.headers.get("Retry-After", "1")))

        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            job_ids = []
            for f in files:
                media = patient(sdk.upload, str(f))
                job_ids.append(patient(sdk.diarize, media))
            for job_id in job_ids:
                patient(sdk.retrieve, job_id, every_seconds=10)
        wall = time.perf_counter() - t0
        stats = handle.stats
        return dict(wall=wall, floor=floor_seconds(len(files), limits, args.job_seconds),
                    requests=sum(stats.requests.values()), r429=stats.responses_by_status.get(429, 0),
                    jobs=stats.jobs_created, reads=sum(stats.job_reads.values()), lists=0)
    finally:
        SDKClient.API_URL = old
        handle.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="200 files")
    parser.add_argument("--scale", type=int, default=20, help="factor on 100/300 per minute")
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--job-seconds", type=float, default=0.2)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--results", default=None, help="append the markdown section here")
    args = parser.parse_args()
    n = 200 if args.quick else args.jobs
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        files = make_files(tmp, n)
        ours = run_ours(args, files, tmp)
        naive = None if args.skip_naive else run_naive(args, files)

    rows = [("diarize_many (8 workers, shared budget)", ours)]
    if naive is not None:
        rows.append(("naive SDK loop (upload+diarize, then retrieve each)", naive))
    lines = [
        f"### Batch: {n} jobs under scaled rate limits (`benchmarks/batch.py`)",
        "",
        f"- Command: `.venv/bin/python benchmarks/batch.py{' --quick' if args.quick else ''}"
        f"{'' if args.jobs == 1000 or args.quick else f' --jobs {args.jobs}'}`",
        f"- Machine: nproc={os.cpu_count()}, CPU {cpu_model()}, Python {platform.python_version()}",
        f"- Date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Limits: published 100 creates/min and 300 reads/min x{args.scale} = "
        f"{100 * args.scale} creates/min, {300 * args.scale} reads/min, fixed windows of "
        f"{args.window:g} s; scripted jobs of {args.job_seconds:g} s; local server on loopback.",
        f"- Floor = (2 x {n} creates / {int(100 * args.scale * args.window / 60)} per window - 1) x "
        f"{args.window:g} s + {args.job_seconds:g} s = {ours['floor']:.1f} s (target: wall <= 1.15 x floor)",
        "",
        "| contender | wall (s) | wall / floor | requests / job | 429 answers | GET job / job | list pages |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['wall']:.1f} | {r['wall'] / r['floor']:.3f} | {r['requests'] / n:.2f} | "
            f"{r['r429']} | {r['reads'] / n:.2f} | {r['lists']} |"
        )
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.results:
        with open(args.results, "a", encoding="utf-8") as fh:
            fh.write("\n" + text + "\n")


if __name__ == "__main__":
    main()

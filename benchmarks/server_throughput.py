"""Throughput of the local pyannoteAI-compatible server (scripted engine) over loopback HTTP.

Measures, with ``requests`` keep-alive sessions:

* job creation: ``POST /v1/diarize`` per second (one client thread),
* job reads: ``GET /v1/jobs/{id}`` per second with 1 and ``--threads`` client threads,
* listing: ``GET /v2/jobs?limit=100`` per second over ``--jobs`` jobs,
* end-to-end: wall time for ``--jobs`` jobs of 0 s scripted duration to all succeed.

Usage: ``.venv/bin/python benchmarks/server_throughput.py [--jobs 1000] [--threads 4]``.
Prints a Markdown table. Client and server share the machine, so the figures are a lower bound
of what the server alone sustains.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from pyannote_notebook.server import Script, ScriptedEngine, start_server
from pyannote_notebook.server.testing import upload_file, write_wav


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} req/s ({seconds * 1000 / n:.2f} ms/req)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--reads", type=int, default=2000)
    args = parser.parse_args(argv)

    engine = ScriptedEngine(default=Script(duration=0.0))
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp, start_server(engine=engine, job_workers=4) as handle:
        wav = write_wav(Path(tmp) / "a.wav", seconds=5.0)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {handle.api_key}"
        media = upload_file(handle, wav, "bench", session)

        start = time.perf_counter()
        ids = [session.post(f"{handle.base_url}/diarize", json={"url": media}).json()["jobId"]
               for _ in range(args.jobs)]
        created = time.perf_counter() - start
        rows.append((f"POST /v1/diarize, 1 thread, {args.jobs} jobs", _rate(args.jobs, created)))
        handle.wait_idle(120)
        all_done = time.perf_counter() - start
        rows.append((f"{args.jobs} jobs created and all succeeded (0 s scripted, 4 workers)",
                     f"{all_done:.2f} s"))

        start = time.perf_counter()
        for i in range(args.reads):
            session.get(f"{handle.base_url}/jobs/{ids[i % len(ids)]}")
        rows.append(("GET /v1/jobs/{id}, 1 thread", _rate(args.reads, time.perf_counter() - start)))

        def reader(n: int) -> None:
            with requests.Session() as s:
                s.headers["Authorization"] = f"Bearer {handle.api_key}"
                for i in range(n):
                    s.get(f"{handle.base_url}/jobs/{ids[i % len(ids)]}")

        per = args.reads // args.threads
        threads = [threading.Thread(target=reader, args=(per,)) for _ in range(args.threads)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows.append((f"GET /v1/jobs/{{id}}, {args.threads} threads",
                     _rate(per * args.threads, time.perf_counter() - start)))

        pages = []
        for _ in range(3):
            start = time.perf_counter()
            cursor, n = None, 0
            while True:
                params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
                page = session.get(f"{handle.root_url}/v2/jobs", params=params).json()
                n += 1
                cursor = page["nextCursor"]
                if cursor is None:
                    break
            pages.append((time.perf_counter() - start) / n)
        rows.append((f"GET /v2/jobs?limit=100 over {args.jobs} jobs (median of 3 walks)",
                     f"{statistics.median(pages) * 1000:.2f} ms/page"))
        assert handle.stats.jobs_created == args.jobs

    print("| measure | figure |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

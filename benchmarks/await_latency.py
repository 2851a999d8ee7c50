"""Await latency: our ``Job.wait`` and the SDK's ``retrieve(every_seconds=10)`` on the same jobs; a webhook.

On a local server (scripted engine), jobs of known length run concurrently. Each *shared* job is
submitted by our client and then awaited by two waiters at once, in two threads with their own
clients: ``pyannote_notebook.api.Job.wait`` (adaptive polling; the ``Job`` returned by
``diarize``) and ``pyannoteai.sdk.Client.retrieve(job_id)`` (its default: poll every 10 s; its
first GET is made right after the job is created). Both delays are therefore measured against one
completion time, and both waiters see the same job timing. The two do not interfere: both only
``GET /v1/jobs/{id}`` (a read that changes nothing on the server), neither cancels the job, and
no webhook is set on shared jobs, so nothing wakes our wait but its own polls. The server counts
the GETs of each job per client family, from the request's ``User-Agent`` up to the first ``/``
(``pyannote-notebook/<version>`` for ours, ``pyannoteAI-sdk-python/<version>`` for the SDK;
``ServerStats.job_reads_by_agent``), so each waiter's cost on a shared job is known.

The webhook waiter keeps jobs of its own (as many, same lengths): submitted with ``webhook=``
pointing at a :class:`pyannote_notebook.jobs.webhooks.WebhookReceiver` (it checks the server's
signature and calls ``notify_job``) and awaited by ``Job.wait(poll=3600)``: that wait makes no
request on its own before an hour, so the webhook alone brings the result (sharing a job with
the pollers would let their GETs or the webhook end each other's waits). Per job and waiter:

* **delay**: wall time from the server's completion (its ``completed_ts`` record, which is also the
  job's ``updatedAt``) to the moment the waiter returned the result;
* **GETs**: ``GET /v1/jobs/{id}`` requests the server received for that job from that waiter's
  client family (webhook jobs: from anyone).

Job lengths: nominal 5 s, 30 s, 120 s (``--quick``: 5 s and 30 s). Job *k* of *n* in a group runs
``D + 10 * (k + 0.5) / n`` seconds, spreading completions over the SDK's 10 s polling phase (with
exact multiples of 10 s the SDK's delay would be a coin flip between ~0 and ~10 s). The scripted
engine processes audio at ``RATE`` = 0.05 s per audio second, so a job of ``T`` seconds stands for
``T / 0.05`` seconds of audio; our client is told that audio duration (``audio_duration=``), as it
would be for a file it uploaded. Before the measured run our client waits for 2 warm-up jobs
(2 s) so that it has seen jobs of this kind finish (a notebook session normally has); the
warm-up figures are reported separately. ``--cold`` skips the warm-up (the 5 s jobs then run
blind on backoff, and the longer ones learn from them as they finish).

Run: ``.venv/bin/python benchmarks/await_latency.py [--quick] [--cold] [--jobs N] [--write]``
(``--write`` appends the section to benchmarks/RESULTS.md). All jobs run in the same run,
concurrently, so the run lasts about as long as the longest job plus a few seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

from _machine import cpu_model  # benchmarks/ is on sys.path when run as a script

RATE = 0.05  # scripted processing seconds per audio second


def _completion(handle, job_id: str) -> float:
    """Epoch seconds at which the server completed the job (its ``completed_ts`` record)."""
    for job in handle.jobs_snapshot():
        if job["job_id"] == job_id:
            return float(job["completed_ts"])
    raise KeyError(job_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 s and 30 s jobs only, 2 per group")
    parser.add_argument("--jobs", type=int, default=None,
                        help="jobs per length group, each awaited by ours and the SDK, and as many "
                             "webhook jobs (default 4, quick 2)")
    parser.add_argument("--cold", action="store_true",
                        help="no warm-up: our client starts without any completion estimate")
    parser.add_argument("--write", action="store_true", help="append the section to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    from pyannoteai.sdk import Client as SDKClient

    # the SDK warns on every retrieve() that webhooks are faster; that is what we measure
    warnings.filterwarnings("ignore", message="(?s).*periodic polling", category=UserWarning)

    from pyannote_notebook.api import Client, RateBudget
    from pyannote_notebook.errors import WaitTimeout
    from pyannote_notebook.jobs.webhooks import WebhookReceiver
    from pyannote_notebook.server import Script, ScriptedEngine, start_server
    from pyannote_notebook.server.stats import agent_family
    from pyannote_notebook.server.testing import write_wav

    durations = [5.0, 30.0] if args.quick else [5.0, 30.0, 120.0]
    n = args.jobs or (2 if args.quick else 4)
    waiters = ("ours", "sdk", "hook")
    total_jobs = 2 * n * len(durations) + 2  # shared jobs + webhook jobs + warm-up
    engine = ScriptedEngine()
    tmp = tempfile.TemporaryDirectory()
    wav = write_wav(Path(tmp.name) / "tone.wav", seconds=1.0)
    handle = start_server(engine=engine, job_workers=total_jobs + 2)
    receiver = WebhookReceiver(handle.webhook_secret).start()
    rows: dict[str, list[tuple[float, float, int]]] = {}
    first: dict[int, list[str]] = {int(d): [] for d in durations}  # per shared job: who returned first
    lost: list[str] = []  # webhook jobs whose wait timed out (the webhook never woke it)
    errors: list[str] = []
    unattributed = 0  # GETs of shared jobs from neither client family (expected 0)
    lock = threading.Lock()
    try:
        ours = Client(handle.api_key, handle.base_url,
                      rate_budget=RateBudget(create_per_minute=1000, read_per_minute=3000))
        old_url = SDKClient.API_URL
        SDKClient.API_URL = handle.base_url
        try:
            sdk = SDKClient(handle.api_key)
        finally:
            SDKClient.API_URL = old_url
        sdk.API_URL = handle.base_url  # instance attribute: keeps the class untouched
        ours_family = agent_family(ours.user_agent)  # "pyannote-notebook"
        sdk_family = agent_family(sdk._headers.get("User-Agent"))  # "pyannoteAI-sdk-python"
        if not ours_family or not sdk_family or ours_family == sdk_family:
            raise SystemExit(f"cannot tell the clients apart by User-Agent: {ours_family!r}, {sdk_family!r}")

        # ---- warm-up (ours only; reported separately)
        warm = []
        for i in range(0 if args.cold else 2):
            url = ours.upload(wav, media_url=f"media://bench/warmup-{i}")
            engine.script(url, Script(duration=2.0))
            job = ours.diarize(url, audio_duration=2.0 / RATE)
            job.wait()
            t = time.time()
            warm.append((t - _completion(handle, job.id), handle.stats.job_reads[job.id]))

        # ---- measured run
        plan = []
        for d in durations:
            for k in range(n):
                seconds = d + 10.0 * (k + 0.5) / n
                for who in ("shared", "hook"):
                    url = ours.upload(wav, media_url=f"media://bench/{who}-{int(d)}-{k}")
                    engine.script(url, Script(duration=seconds))
                    plan.append((who, d, seconds, url))

        def record(who: str, d: float, seconds: float, delay: float, gets: int) -> None:
            with lock:
                rows.setdefault(f"{who}:{int(d)}", []).append((seconds, delay, gets))

        def run_shared(d: float, seconds: float, url: str) -> None:
            """Submit with our client; wait with ours here and with the SDK in a second thread."""
            nonlocal unattributed
            job = ours.diarize(url, audio_duration=seconds / RATE)
            got: dict[str, float] = {}

            def sdk_wait() -> None:
                try:
                    sdk.retrieve(job.id, every_seconds=10)
                    got["sdk"] = time.time()
                except Exception as exc:  # reported, never silently dropped
                    with lock:
                        errors.append(f"sdk {job.id}: {exc!r}")

            other = threading.Thread(target=sdk_wait)
            other.start()
            try:
                job.wait()
                got["ours"] = time.time()
            finally:
                other.join()
            if "sdk" not in got:
                return
            done = _completion(handle, job.id)
            reads = handle.stats.job_reads_by_agent
            gets = {"ours": reads[(job.id, ours_family)], "sdk": reads[(job.id, sdk_family)]}
            record("ours", d, seconds, got["ours"] - done, gets["ours"])
            record("sdk", d, seconds, got["sdk"] - done, gets["sdk"])
            with lock:
                unattributed += handle.stats.job_reads[job.id] - gets["ours"] - gets["sdk"]
                first[int(d)].append("ours" if got["ours"] < got["sdk"] else "sdk")

        def run_hook(d: float, seconds: float, url: str) -> None:
            job = ours.diarize(url, audio_duration=seconds / RATE, webhook=receiver.url)
            try:
                # poll=3600 > timeout: no GET ever; only notify_job (the webhook) can end it
                job.wait(poll=3600.0, timeout=seconds + 60.0)
            except WaitTimeout:
                with lock:
                    lost.append(job.id)
                return
            got = time.time()
            record("hook", d, seconds, got - _completion(handle, job.id), handle.stats.job_reads[job.id])

        def run(who: str, d: float, seconds: float, url: str) -> None:
            try:
                (run_shared if who == "shared" else run_hook)(d, seconds, url)
            except Exception as exc:  # reported, never silently dropped
                with lock:
                    errors.append(f"{who} {url}: {exc!r}")

        t0 = time.monotonic()
        threads = [threading.Thread(target=run, args=p) for p in plan]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.monotonic() - t0
        hooked = receiver.handler.accepted
    finally:
        receiver.stop()
        handle.stop()
        tmp.cleanup()

    # ---- report
    lines = []
    cmd = "python benchmarks/await_latency.py" + (" --quick" if args.quick else "") + \
        (" --cold" if args.cold else "") + \
        (f" --jobs {args.jobs}" if args.jobs else "")
    lines += [
        "## Await latency: Job.wait vs pyannoteai-sdk retrieve(every_seconds=10) on the same jobs; webhook",
        "",
        f"- Command: `{cmd}`",
        f"- Machine: {os.cpu_count()} CPUs (`nproc`), {cpu_model()}; Python {platform.python_version()}",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; wall time of the measured run {wall:.0f} s",
        (f"- {n} shared jobs per length, each submitted by our client and awaited at once by `Job.wait` and by "
         f"the SDK's `retrieve` (two threads, two clients; same completion time for both), plus {n} "
         f"webhook jobs per length; all run concurrently on one local server (scripted engine, no "
         f"queueing); job k of n lasts D + 10*(k+0.5)/n s; audio duration given to our client = job "
         f"seconds / {RATE} (engine speed {RATE} s per audio s)."),
        "- Delay = result in hand - server completion time (`completed_ts` = `updatedAt`); GETs = server-side "
        f"`GET /v1/jobs/{{id}}` count per job and client (User-Agent family `{ours_family}` / `{sdk_family}`; "
        f"GETs of shared jobs from neither: {unattributed}). Webhook waiter: `Job.wait(poll=3600)` on its own "
        f"jobs submitted with `webhook=` a `WebhookReceiver` (signature checked, then `notify_job`); "
        f"{hooked} webhooks accepted, {len(lost)} waits not woken. "
        + ("No warm-up (--cold): our client starts with no completion estimate." if args.cold else
           f"Warm-up (ours, before the run, 2 jobs of 2 s): delays "
           f"{', '.join(f'{w[0]:.2f}' for w in warm)} s, GETs {', '.join(str(w[1]) for w in warm)}."),
        *([f"- Errors ({len(errors)}): " + "; ".join(errors)] if errors else []),
        "",
        "| job length D | waiter | median delay (s) | max delay (s) | median GETs/job | max GETs |",
        "|---|---|---|---|---|---|",
    ]
    verdicts = []
    all_d: dict[str, list[float]] = {who: [] for who in waiters}
    all_g: dict[str, list[int]] = {who: [] for who in waiters}
    labels = {"ours": "Job.wait (ours)", "sdk": "SDK retrieve(10)", "hook": "webhook + Job.wait(poll=3600)"}
    for d in durations:
        stats = {}
        for who in waiters:
            r = rows.get(f"{who}:{int(d)}", [])
            if not r:
                lines.append(f"| {int(d)} s | {labels[who]} | - | - | - | - |")
                continue
            delays = [x[1] for x in r]
            gets = [x[2] for x in r]
            stats[who] = (statistics.median(delays), max(delays), statistics.median(gets), max(gets))
            all_d[who].extend(delays)
            all_g[who].extend(gets)
            label = labels[who]
            lines.append(f"| {int(d)} s | {label} | {stats[who][0]:.3f} | {stats[who][1]:.3f} | "
                         f"{stats[who][2]:g} | {stats[who][3]} |")
        if "ours" not in stats or "sdk" not in stats:
            verdicts.append(f"- D = {int(d)} s: no shared job finished for both waiters")
            continue
        dr = stats["ours"][0] / stats["sdk"][0] if stats["sdk"][0] > 0 else float("inf")
        gr = stats["ours"][2] / stats["sdk"][2] if stats["sdk"][2] > 0 else float("inf")
        verdicts.append(f"- D = {int(d)} s: delay ratio ours/SDK = {dr:.3f} (target <= 0.25: "
                        f"{'met' if dr <= 0.25 else 'MISSED'}); GET ratio = {gr:.2f} (target <= 2: "
                        f"{'met' if gr <= 2 else 'MISSED'}); ours returned first on "
                        f"{first[int(d)].count('ours')} of {len(first[int(d)])} shared jobs")
    all_ours_d, all_sdk_d, all_ours_g, all_sdk_g = all_d["ours"], all_d["sdk"], all_g["ours"], all_g["sdk"]
    if all_ours_d and all_sdk_d:
        dr = statistics.median(all_ours_d) / statistics.median(all_sdk_d)
        gr = statistics.mean(all_ours_g) / statistics.mean(all_sdk_g)
        verdicts.append(f"- All shared jobs: median delay {statistics.median(all_ours_d):.2f} s vs "
                        f"{statistics.median(all_sdk_d):.2f} s (ratio {dr:.3f}, target <= 0.25: "
                        f"{'met' if dr <= 0.25 else 'MISSED'}); mean GETs/job {statistics.mean(all_ours_g):.2f} "
                        f"vs {statistics.mean(all_sdk_g):.2f} (ratio {gr:.2f}, target <= 2: "
                        f"{'met' if gr <= 2 else 'MISSED'})")
    if all_d["hook"]:
        verdicts.append(f"- webhook (own jobs): median delay {statistics.median(all_d['hook']):.3f} s "
                        f"(max {max(all_d['hook']):.3f} s), GETs/job "
                        f"{statistics.mean(all_g['hook']):g} (max {max(all_g['hook'])}); "
                        f"{len(lost)} of {len(all_d['hook']) + len(lost)} waits not woken by their webhook")
    else:
        verdicts.append(f"- webhook: no result ({len(lost)} waits not woken by their webhook)")
    lines += ["", *verdicts, ""]
    text = "\n".join(lines)
    print(text)
    if args.write:
        results = Path(__file__).with_name("RESULTS.md")
        with open(results, "a", encoding="utf-8") as fh:
            fh.write("\n" + text + "\n")
        print(f"appended to {results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

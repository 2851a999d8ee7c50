"""``pyannote-notebook demo``: the whole loop on the sample recording, offline.

Steps: find the sample recording (pyannote-audio's 30 s two-speaker ``sample.wav``, extracted from
its PyPI wheel by ``make demo``), diarize it through the high-level :func:`diarize` (which, with no
API key set, starts the local pyannoteAI-compatible server with the offline engine and walks the
same code path as the cloud), print speaker statistics and the DER against the sample's reference
RTTM, write the timeline and reference-vs-hypothesis PNGs, and render the executed quickstart
notebook to HTML. Every output file is listed at the end.

Failure: any step that fails prints ``demo failed at step <name>: <ErrorType>: <message>`` to
stderr, then the files written so far, and the demo exits 1 (no traceback). A missing sample or
missing weights add a line naming the command that installs them. API keys and webhook secrets
known to the process are masked in the message. Steps: ``audio``, ``diarize``, ``statistics``,
``rttm``, ``timeline``, ``evaluate``, ``notebook``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

__all__ = ["run", "STEPS"]

#: The demo's steps, in order (the names printed when one fails).
STEPS = ("audio", "diarize", "statistics", "rttm", "timeline", "evaluate", "notebook")

SAMPLE_HINT = ("the sample recording is extracted from the pyannote-audio wheel by `make samples` "
               "(python -m pyannote_notebook.samples fetch); pass --audio to use another file")
WEIGHTS_HINT = ("install the local engine's weights with `make setup` "
                "(python -m pyannote_notebook.engine.weights install)")


def _say(text: str) -> None:
    print(text, flush=True)


def _secrets() -> list[str]:
    """API keys and webhook secrets this process knows (to mask them in failure messages)."""
    from pyannote_notebook.config import resolve_api_key

    found = []
    key = resolve_api_key()
    if key is not None:
        found.append(key.reveal())
    session = sys.modules.get("pyannote_notebook.jobs.session")
    for handle in list(getattr(session, "_EMBEDDED", {}).values()):
        for name in ("api_keys", "webhook_secret"):
            try:
                value = getattr(handle, name)
            except Exception:  # noqa: BLE001 - a stopped or odd handle: nothing to mask
                continue
            found.extend(value if isinstance(value, list) else [value])
    return [s for s in found if isinstance(s, str) and s]


def _describe(exc: BaseException) -> str:
    """``ErrorType: message`` on one line, secrets masked (a failed notebook cell is named by
    the cell's own error, not the whole traceback nbclient puts in its message)."""
    name, message = type(exc).__name__, str(exc)
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:  # nbclient's CellExecutionError
        message = f"{ename}: {evalue}" if evalue else str(ename)
    message = " ".join(message.split()) or "(no message)"
    for secret in _secrets():
        message = message.replace(secret, "***")
    return f"{name}: {message}"


def _hint(step: str, exc: BaseException, sample: bool) -> str | None:
    """What to run to fix a missing sample or missing weights, else None."""
    from pyannote_notebook.errors import WeightsMissing

    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    if any(isinstance(e, WeightsMissing) for e in chain) or \
            any("weights" in str(e).lower() for e in chain):
        return WEIGHTS_HINT
    if step == "audio" and sample:
        return SAMPLE_HINT
    return None


def _execute_notebook(notebook: Path, out_html: Path, parameters: dict[str, object]) -> None:
    """Execute ``notebook`` in a fresh kernel and write it as HTML to ``out_html``."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source += "\n# injected by the demo\n" + "\n".join(
                f"{name} = {value!r}" for name, value in parameters.items()
            )
            break
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", store_widget_state=True,
        resources={"metadata": {"path": str(out_html.parent)}},
    )
    client.execute()
    body, _ = HTMLExporter().from_notebook_node(nb)
    out_html.write_text(body, encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Run the demo; return 0 on success, 1 when a step failed (reported on stderr)."""
    state: dict[str, object] = {"step": STEPS[0], "written": []}
    try:
        return _run(args, state)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one message and exit 1
        step = str(state["step"])
        print(f"demo failed at step {step}: {_describe(exc)}", file=sys.stderr, flush=True)
        hint = _hint(step, exc, sample=not getattr(args, "audio", None))
        if hint:
            print(f"hint: {hint}", file=sys.stderr, flush=True)
        written = state["written"]
        if written:
            print("written before the failure:", file=sys.stderr)
            for path in written:  # type: ignore[attr-defined]
                print(f"  {path}", file=sys.stderr)
        sys.stderr.flush()
        return 1


def _run(args: argparse.Namespace, state: dict[str, object]) -> int:
    def step(name: str) -> None:
        state["step"] = name

    written: list[Path] = state["written"]  # type: ignore[assignment]
    started = time.perf_counter()

    step("audio")
    import pyannote_notebook as pn
    from pyannote_notebook import samples

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.audio:
        audio = Path(args.audio)
        reference = None
    else:
        audio = samples.sample_path()
        reference = samples.sample_reference_path()
    if not audio.is_file():
        raise FileNotFoundError(f"no such file: {audio}")
    _say(f"audio: {audio}")

    step("diarize")
    result = pn.diarize(audio, uri=audio.stem, exclusive=True)
    _say(f"diarized: {len(result.speakers)} speakers, {len(result.turns)} turns "
         f"(job {result.job_id})")
    if result.warning:
        _say(f"warning from the engine: {result.warning}")

    step("statistics")
    stats = pn.speaker_stats(result)
    _say("\nspeaker statistics (seconds):")
    _say(stats.round(2).to_string())

    step("rttm")
    rttm_path = out / f"{audio.stem}.rttm"
    result.to_rttm(rttm_path)
    written.append(rttm_path)

    step("timeline")
    fig = pn.plot_timeline(result, title=f"{audio.stem}: local engine")
    png = out / "timeline.png"
    fig.savefig(png, dpi=120, bbox_inches="tight")
    written.append(png)

    if reference is not None:
        step("evaluate")
        ref = pn.read_rttm(reference)
        ref_ann = next(iter(ref.values()))
        report0 = pn.evaluate(ref_ann, result.annotation, collar=0.0)
        report25 = pn.evaluate(ref_ann, result.annotation, collar=0.25)
        der0 = float(report0.total["der"])
        der25 = float(report25.total["der"])
        _say(f"\nDER against the sample's reference: {der25:.2f} % (md-eval collar 0.25 s per side), "
             f"{der0:.2f} % (no collar); JER {float(report0.total['jer']):.2f} %")
        fig = pn.plot_comparison(ref_ann, result.annotation, collar=0.25)
        cmp_png = out / "comparison.png"
        fig.savefig(cmp_png, dpi=120, bbox_inches="tight")
        written.append(cmp_png)

    if not args.no_notebook:
        step("notebook")
        notebook = Path(__file__).resolve().parent.parent / "notebooks" / "01-quickstart.ipynb"
        if notebook.exists():
            html = out / "01-quickstart.html"
            _say("\nexecuting notebooks/01-quickstart.ipynb ...")
            _execute_notebook(notebook, html, {"AUDIO": str(audio), "OUTPUT_DIR": str(out)})
            written.append(html)
        else:
            _say("(notebooks/ not found next to the package: skipping the notebook rendering)")

    _say(f"\ndone in {time.perf_counter() - started:.1f} s; wrote:")
    for path in written:
        _say(f"  {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    from pyannote_notebook.cli import main

    sys.exit(main(["demo", *sys.argv[1:]]))

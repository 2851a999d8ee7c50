"""``pyannote-notebook demo``: the whole loop on the sample recording, offline.

Steps: find the sample recording (pyannote-audio's 30 s two-speaker ``sample.wav``, extracted from
its PyPI wheel by ``make demo``), diarize it through the high-level :func:`diarize` (which, with no
API key set, starts the local pyannoteAI-compatible server with the offline engine and walks the
same code path as the cloud), print speaker statistics and the DER against the sample's reference
RTTM, write the timeline and reference-vs-hypothesis PNGs, and render the executed quickstart
notebook to HTML. Every output file is listed at the end.

Failure: any step that fails prints what failed and the demo exits 1 (a missing sample or missing
weights name the command that installs them).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

__all__ = ["run"]


def _say(text: str) -> None:
    print(text, flush=True)


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
    """Run the demo; return 0 on success, 1 when a step failed."""
    import pyannote_notebook as pn
    from pyannote_notebook import samples

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    if args.audio:
        audio = Path(args.audio)
        reference = None
    else:
        audio = samples.sample_path()
        reference = samples.sample_reference_path()
    _say(f"audio: {audio}")

    result = pn.diarize(audio, uri=audio.stem, exclusive=True)
    _say(f"diarized: {len(result.speakers)} speakers, {len(result.turns)} turns "
         f"(job {result.job_id})")
    if result.warning:
        _say(f"warning from the engine: {result.warning}")

    stats = pn.speaker_stats(result)
    _say("\nspeaker statistics (seconds):")
    _say(stats.round(2).to_string())

    written: list[Path] = []
    rttm_path = out / f"{audio.stem}.rttm"
    result.to_rttm(rttm_path)
    written.append(rttm_path)

    fig = pn.plot_timeline(result, title=f"{audio.stem}: local engine")
    png = out / "timeline.png"
    fig.savefig(png, dpi=120, bbox_inches="tight")
    written.append(png)

    if reference is not None:
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

"""Execute every notebook in a real kernel (nbclient) against the embedded local server.

No API key is set, so ``pn.diarize`` starts the local pyannoteAI-compatible server with the
offline engine: the notebooks walk the same code path as with the cloud. Each notebook's
parameter cell is overridden to keep CI short; assertions are on the outputs a person looks for,
found by cell tag (not position).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
WIDGET = "application/vnd.jupyter.widget-view+json"

pytestmark = pytest.mark.slow


def execute(name: str, tmp_path: Path, **parameters: object) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{name} needs exactly one cell tagged 'parameters'"
    params[0].source += "\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    env_store = tmp_path / "jobs.sqlite3"
    os.environ["PYANNOTE_NOTEBOOK_STORE"] = str(env_store)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors, f"{name}: {errors[0].ename}: {errors[0].evalue}"
    return nb


def cell(nb: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode:
    found = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert len(found) == 1, f"no single cell tagged {tag!r}"
    return found[0]


def mimetypes(c: nbformat.NotebookNode) -> set[str]:
    return {m for o in c.get("outputs", []) for m in o.get("data", {})}


def text_of(c: nbformat.NotebookNode) -> str:
    parts = []
    for o in c.get("outputs", []):
        if o.output_type == "stream":
            parts.append(o.text)
        for key in ("text/plain", "text/html"):
            if key in o.get("data", {}):
                parts.append(o["data"][key])
    return "\n".join(parts)


def test_quickstart(tmp_path: Path) -> None:
    nb = execute("01-quickstart.ipynb", tmp_path, OUTPUT_DIR=str(tmp_path))
    diarize = cell(nb, "diarize")
    assert WIDGET in mimetypes(diarize), "the progress widget is displayed"
    assert "text/html" in mimetypes(diarize), "the Result renders as HTML"
    assert "SPEAKER_00" in text_of(diarize)
    assert "image/png" in mimetypes(cell(nb, "timeline"))
    turns_html = text_of(cell(nb, "turns"))
    assert "<table" in turns_html and "SPEAKER_0" in turns_html
    assert "talk_time" in text_of(cell(nb, "stats"))
    rttm = tmp_path / "sample.rttm"
    lines = rttm.read_text().splitlines()
    assert lines and all(line.startswith("SPEAKER sample 1 ") for line in lines)
    assert {line.split()[7] for line in lines} == {"SPEAKER_00", "SPEAKER_01"}
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert state, "widget state is saved with the notebook"


def test_speaker_statistics(tmp_path: Path) -> None:
    nb = execute("02-speaker-statistics.ipynb", tmp_path, N_FILES=2, OUTPUT_DIR=str(tmp_path))
    assert WIDGET in mimetypes(cell(nb, "batch"))
    summary = text_of(cell(nb, "batch"))
    assert summary.count("succeeded") >= 2
    for tag in ("files", "speakers", "interruptions"):
        assert "<table" in text_of(cell(nb, tag)), tag
    for tag in ("bars", "timeline0", "timeline1"):
        assert "image/png" in mimetypes(cell(nb, tag)), tag
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == ["files.csv", "speakers.csv"]


def test_evaluate_against_rttm(tmp_path: Path) -> None:
    nb = execute("03-evaluate-against-rttm.ipynb", tmp_path, N_SYNTH=1)
    report = text_of(cell(nb, "report"))
    assert "<table" in report and "ALL" in report and "sample" in report
    assert "image/png" in mimetypes(cell(nb, "plot"))
    table = text_of(cell(nb, "compare"))
    assert "auto count" in table and "oracle count" in table


def test_webhooks_and_resume(tmp_path: Path) -> None:
    nb = execute("04-webhooks-and-resume.ipynb", tmp_path)
    assert "True" in text_of(cell(nb, "cached"))
    assert "succeeded" in text_of(cell(nb, "webhook"))
    assert "SPEAKER_00" in text_of(cell(nb, "reattach"))

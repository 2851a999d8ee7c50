"""Execute every notebook in a real kernel (nbclient) against the embedded local server.

No API key is set, so ``pn.diarize`` starts the local pyannoteAI-compatible server with the
offline engine: the notebooks walk the same code path as with the cloud. Each notebook's
parameter cell is overridden to keep CI short; assertions are on the outputs a person looks for,
found by cell tag (not position).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from pyannote_notebook import samples

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


def stream_of(c: nbformat.NotebookNode) -> str:
    """What the cell printed (stdout and stderr)."""
    return "".join(o.text for o in c.get("outputs", []) if o.output_type == "stream")


def result_table(c: nbformat.NotebookNode) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the DataFrame a cell returned, from its ``text/plain`` repr (cells
    without spaces; the index column is dropped)."""
    texts = [o["data"]["text/plain"] for o in c.get("outputs", [])
             if o.output_type == "execute_result" and "text/plain" in o.get("data", {})]
    assert len(texts) == 1, "the cell returns one value"
    header, *lines = texts[0].splitlines()
    assert not header.startswith("Empty DataFrame"), texts[0]
    return header.split(), [line.split()[1:] for line in lines if line.strip()]


def reference_interruptions(rttm: Path) -> Counter[tuple[str, str]]:
    """(interrupter, interrupted) -> count, straight from an RTTM: a turn starting strictly
    inside another speaker's turn (independent of pyannote_notebook.analysis)."""
    turns = []
    for line in rttm.read_text().splitlines():
        fields = line.split()
        start, duration = float(fields[3]), float(fields[4])
        turns.append((start, start + duration, fields[7]))
    found: Counter[tuple[str, str]] = Counter()
    for start, _, who in turns:
        for other_start, other_end, other in turns:
            if other != who and other_start < start < other_end:
                found[(who, other)] += 1
    return found


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

    # interruptions are shown on the file with the most diarized speakers (conv1: 2 speakers;
    # conv0 has one), with the reference's interruptions since the offline engine has no overlap
    interrupt = cell(nb, "interruptions")
    printed = dict(
        (source, (uri, labels.split(", "))) for uri, source, _, labels in re.findall(
            r"^(\S+) (diarization|reference): (\d+) speakers \((.*)\)$", stream_of(interrupt),
            re.MULTILINE)
    )
    assert set(printed) == {"diarization", "reference"}, stream_of(interrupt)
    assert printed["diarization"] == ("conv1_2spk", ["SPEAKER_00", "SPEAKER_01"])
    assert printed["reference"] == ("conv1_2spk", ["spk0", "spk1"])
    assert "<th>interrupter</th>" in text_of(interrupt)
    header, rows = result_table(interrupt)
    assert header == ["source", "interrupter", "interrupted", "count"]
    assert rows, "at least one interruption is listed"
    for source, interrupter, interrupted, count in rows:
        speakers = printed[source][1]
        assert interrupter in speakers and interrupted in speakers and interrupter != interrupted
        assert int(count) >= 1
    expected = reference_interruptions(samples.cache_dir() / "corpus" / "conv1_2spk.rttm")
    assert expected, "make_corpus puts one overlap in every odd-numbered file"
    listed = {(a, b): int(n) for source, a, b, n in rows if source == "reference"}
    assert listed == dict(expected)
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

    # re-attached from a new process: the same job, its speakers, and nothing new on the server
    submitted = re.search(r"Job\(id='([^']+)'", text_of(cell(nb, "submit")))
    assert submitted, text_of(cell(nb, "submit"))
    reattach = stream_of(cell(nb, "reattach"))
    found = re.search(r"^new process re-attached job (\S+): (\d+) speakers \(([^)]*)\), "
                      r"(\d+) turns$", reattach, re.MULTILINE)
    assert found, reattach
    assert found.group(1) == submitted.group(1)
    assert int(found.group(2)) == 2 and found.group(3) == "SPEAKER_00, SPEAKER_01"
    assert int(found.group(4)) > 0
    jobs = re.search(r"^jobs created by the server: (\d+) before, (\d+) after$", reattach, re.M)
    uploads = re.search(r"^uploads received by the server: (\d+) before, (\d+) after$",
                        reattach, re.M)
    assert jobs and uploads, reattach
    assert int(jobs.group(1)) == int(jobs.group(2)) == 1, "the re-attach created no job"
    assert int(uploads.group(1)) == int(uploads.group(2)) == 1, "the re-attach uploaded nothing"

    # the webhook, not polling, ended the wait (the first poll was due after one hour)
    webhook = stream_of(cell(nb, "webhook"))
    assert re.search(r"^\S+ succeeded [1-9]\d* turns$", webhook, re.MULTILINE), webhook
    assert "webhooks accepted: 1, rejected: 0" in webhook
    assert "polls of this job: 0" in webhook

    # generated API keys and webhook secrets (secrets.token_urlsafe(32): 43 characters) never
    # appear in an output
    everything = "\n".join(text_of(c) for c in nb.cells if c.cell_type == "code")
    assert not re.search(r"(?<![\w-])[\w-]{43}(?![\w-])", everything)

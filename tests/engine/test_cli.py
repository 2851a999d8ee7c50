from __future__ import annotations

import json
import re

import pytest

from pyannote_notebook.cli import main

pytestmark = pytest.mark.slow

LINE = re.compile(r"SPEAKER (\S+) 1 (\d+\.\d{3}) (\d+\.\d{3}) <NA> <NA> (SPEAKER_\d\d) <NA> <NA>")


def test_cli_writes_rttm_and_json(conversations, tmp_path):
    wav_two, _ = conversations["two"]
    wav_one, _ = conversations["one"]
    rttm, js = tmp_path / "out.rttm", tmp_path / "out.json"
    assert main(["diarize", str(wav_two), str(wav_one), "--rttm", str(rttm), "--json",
                 str(js)]) == 0
    lines = rttm.read_text().splitlines()
    parsed = [LINE.fullmatch(line) for line in lines]
    assert all(parsed), lines
    assert {m.group(1) for m in parsed} == {"two", "one"}
    assert {m.group(4) for m in parsed if m.group(1) == "two"} == {"SPEAKER_00", "SPEAKER_01"}
    assert {m.group(4) for m in parsed if m.group(1) == "one"} == {"SPEAKER_00"}
    outputs = json.loads(js.read_text())
    assert set(outputs) == {"two", "one"}
    first = outputs["two"]["diarization"][0]
    m = parsed[0]
    assert (float(m.group(2)), float(m.group(3))) == pytest.approx(
        (first["start"], first["end"] - first["start"]), abs=1e-3)


def test_cli_num_speakers_and_stdout(conversations, capsys):
    assert main(["diarize", str(conversations["two"][0]), "--num-speakers", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert {LINE.fullmatch(line).group(4) for line in lines} == {
        "SPEAKER_00", "SPEAKER_01", "SPEAKER_02"}


def test_cli_errors(tmp_path, capsys):
    assert main(["diarize", "a.wav", "--num-speakers", "2", "--max-speakers", "3"]) == 2
    assert "cannot be combined" in capsys.readouterr().err
    assert main(["diarize", "a.wav", "--min-speakers", "3", "--max-speakers", "2"]) == 2
    assert "must be <= max-speakers" in capsys.readouterr().err
    missing = tmp_path / "missing.wav"
    assert main(["diarize", str(missing)]) == 1
    assert f"{missing}: no such audio file" in capsys.readouterr().err

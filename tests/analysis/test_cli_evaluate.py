"""``pyannote-notebook evaluate`` end to end: real subprocesses, real files."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pyannote_notebook.cli import main

EVAL = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
with open(EVAL / "expected.csv") as _handle:
    EXPECTED = list(csv.DictReader(_handle))
KEYS = ["mdeval_scored_speaker_s", "mdeval_missed_speaker_s", "mdeval_falarm_speaker_s",
        "mdeval_speaker_error_s", "der_pct", "dscore_jer"]
CONFIGS = sorted({(r["case"], r["ref"], r["sys"], r["uem"], r["collar_per_side_s"],
                   r["ignore_overlaps"]) for r in EXPECTED})


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyannote_notebook.cli", "evaluate", *args],
                          capture_output=True, text=True, timeout=120)


def config_args(case: str, ref: str, sys_: str, uem: str, collar: str, ov: str) -> list[str]:
    folder = EVAL / case
    args = ["--reference", str(folder / ref), "--hypothesis", str(folder / sys_),
            "--collar", collar]
    if uem != "AUTO":
        args += ["--uem", str(folder / uem)]
    if ov == "True":
        args.append("--skip-overlap")
    return args


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(c[3:]) + "-" + c[0][:7])
def test_cli_csv_reproduces_expected_csv(config: tuple[str, ...]) -> None:
    done = cli(*config_args(*config), "--format", "csv")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "uri,scored,missed,false_alarm,confusion,der,jer"
    rows = {r["uri"]: r for r in csv.DictReader(io.StringIO(done.stdout))}
    assert list(rows)[-1] == "ALL"
    expected = [r for r in EXPECTED if (r["case"], r["ref"], r["sys"], r["uem"],
                                        r["collar_per_side_s"], r["ignore_overlaps"]) == config]
    assert sorted(rows) == sorted(r["file_id"] for r in expected)
    for row in expected:
        got = rows[row["file_id"]]
        for key, column in zip(KEYS, ["scored", "missed", "false_alarm", "confusion", "der",
                                      "jer"]):
            if row[key] == "":
                # unreported file: empty component cells; dscore's DER rule gives 0 here
                assert got[column] == ("0.000000" if column == "der" else "")
            else:
                assert float(got[column]) == pytest.approx(float(row[key]), abs=1e-4)


def test_cli_table_and_json_formats() -> None:
    folder = EVAL / "dscore_fixture"
    args = ["-r", str(folder / "ref.rttm"), "-s", str(folder / "sys.rttm"),
            "-u", str(folder / "test_load.uem")]
    table = cli(*args)
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["uri", "scored", "missed", "false_alarm", "confusion", "der%",
                                "jer%"]
    assert lines[2].split() == ["FILE1", "13.789", "0.311", "0.565", "0.457", "9.67", "12.87"]
    assert lines[3].split() == ["FILE2", "0.00", "0.00"]
    assert lines[4].split()[0] == "ALL"
    payload = json.loads(cli(*args, "--format", "json").stdout)
    assert payload["total"]["der"] == pytest.approx(9.667126, abs=1e-6)
    assert payload["files"][1] == {"uri": "FILE2", "scored": None, "missed": None,
                                   "false_alarm": None, "confusion": None, "der": 0.0,
                                   "jer": 0.0}
    assert payload["mapping"]["FILE1"] == {"speaker1": "speaker1", "speaker2": "speaker2"}


def test_cli_pyannote_convention_and_no_jer(capsys: pytest.CaptureFixture[str]) -> None:
    folder = EVAL / "pyannote_docs_example"
    code = main(["evaluate", "-r", str(folder / "ref.rttm"), "-s", str(folder / "sys.rttm"),
                 "--collar", "0.25", "--convention", "pyannote", "--no-jer", "--format", "csv"])
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[-1]["der"] == "46.551724" and rows[-1]["jer"] == ""


def test_cli_bad_input_exits_2_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rttm"
    bad.write_text("SPEAKER f 1 0 1 <NA> <NA> a <NA> <NA>\n"
                   "SPEAKER f 1 -2 1 <NA> <NA> a <NA> <NA>\n")
    done = cli("-r", str(bad), "-s", str(bad))
    assert done.returncode == 2
    assert f"{bad}:2: onset -2 is negative" in done.stderr
    assert done.stdout == ""
    missing = cli("-r", str(tmp_path / "none.rttm"), "-s", str(bad))
    assert missing.returncode == 2 and "none.rttm: no such file" in missing.stderr
    uem = tmp_path / "u.uem"
    uem.write_text("f 1 5 2\n")
    good = tmp_path / "good.rttm"
    good.write_text("SPEAKER f 1 0 1 <NA> <NA> a <NA> <NA>\n")
    done = cli("-r", str(good), "-s", str(good), "-u", str(uem))
    assert done.returncode == 2 and f"{uem}:1: end 2 is not after start 5" in done.stderr
    assert cli("-r", str(good), "-s", str(good), "--collar", "-1").returncode == 2


def test_cli_path_imports_no_pandas_pyannote_core_or_matplotlib() -> None:
    folder = EVAL / "dscore_fixture"
    code = (
        "import sys\n"
        "from pyannote_notebook.cli import main\n"
        f"rc = main(['evaluate', '-r', {str(folder / 'ref.rttm')!r}, "
        f"'-s', {str(folder / 'sys.rttm')!r}, '--format', 'csv'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pandas', 'matplotlib', 'scipy') or m.startswith('pyannote.core'))\n"
        "print('HEAVY', heavy, rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "HEAVY [] 0" in done.stdout
    assert "FILE1,31.046000" in done.stdout


UNSCORED_REF = "SPEAKER a 1 0 10 <NA> <NA> A <NA> <NA>\n"
UNSCORED_SYS = ("SPEAKER a 1 0 10 <NA> <NA> x <NA> <NA>\n"
                "SPEAKER b 1 2 3 <NA> <NA> x <NA> <NA>\n")
UNMATCHED_LINE = ("pyannote-notebook evaluate: warning: 1 file(s) only in the hypothesis (false alarm, no reference speech): "
                  "b. Check the file ids (uris) of both sides.")


def test_cli_row_of_a_file_md_eval_does_not_score_and_clean_warning(tmp_path: Path) -> None:
    """File ``b`` has system speech but no reference speech: md-eval does not score it (empty
    components, left out of the total); dscore reports DER 100 and JER 100 for it. The
    UnmatchedFilesWarning is one ``pyannote-notebook evaluate: warning:`` line, like the CLI's
    other warnings, without Python's source line."""
    ref, sys_ = tmp_path / "ref.rttm", tmp_path / "sys.rttm"
    ref.write_text(UNSCORED_REF)
    sys_.write_text(UNSCORED_SYS)
    done = cli("-r", str(ref), "-s", str(sys_), "--format", "csv")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "uri,scored,missed,false_alarm,confusion,der,jer",
        "a,10.000000,0.000000,0.000000,0.000000,0.000000,0.000000",
        "b,,,,,100.000000,100.000000",
        "ALL,10.000000,0.000000,0.000000,0.000000,0.000000,0.000000",
    ]
    assert done.stderr == UNMATCHED_LINE + "\n"
    table = cli("-r", str(ref), "-s", str(sys_))
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[3].split() == ["b", "100.00", "100.00"]
    assert lines[4].split() == ["ALL", "10.000", "0.000", "0.000", "0.000", "0.00", "0.00"]
    assert table.stderr == UNMATCHED_LINE + "\n"
    payload = json.loads(cli("-r", str(ref), "-s", str(sys_), "--format", "json").stdout)
    assert payload["files"][1] == {"uri": "b", "scored": None, "missed": None,
                                   "false_alarm": None, "confusion": None, "der": 100.0,
                                   "jer": 100.0}


def test_cli_warning_lines_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref, sys_ = tmp_path / "ref.rttm", tmp_path / "sys.rttm"
    ref.write_text(UNSCORED_REF + "SPEAKER c 1 0 4 <NA> <NA> C <NA> <NA>\n")
    sys_.write_text(UNSCORED_SYS)
    assert main(["evaluate", "-r", str(ref), "-s", str(sys_), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "pyannote-notebook evaluate: warning: 1 file(s) only in the reference (scored as all "
        "missed): c; 1 file(s) only in "
        "the hypothesis (false alarm, no reference speech): b. Check the file ids (uris) of "
        "both sides."]
    assert "c,4.000000,4.000000,0.000000,0.000000,100.000000,100.000000" in captured.out
    # bad input: one error line, no warning and no traceback
    uem = tmp_path / "u.uem"
    uem.write_text("a 1 0 20\nb 1 0 20\nc 1 5 2\n")
    assert main(["evaluate", "-r", str(ref), "-s", str(sys_), "-u", str(uem)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"pyannote-notebook evaluate: error: {uem}:3: end 2 is not after start 5"]

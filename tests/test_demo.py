"""``pyannote-notebook demo`` (what ``make demo`` runs): end to end, and how it fails.

The end-to-end test runs the real command in a subprocess on pyannote's sample recording with the
local engine (no API key), then checks what it printed and every file it wrote. The failure tests
check the promise of the module docstring: one ``demo failed at step <name>: ...`` line on
stderr (plus a hint for a missing sample or missing weights), exit code 1, no traceback, no secret.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pyannote_notebook import samples
from pyannote_notebook.display.colors import color_map
from pyannote_notebook.errors import ConnectionFailed, WeightsMissing

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample_cache() -> Path:
    """The cache directory holding samples/sample.wav (skip when it cannot be had offline)."""
    try:
        wav = samples.sample_path()
    except ConnectionFailed as exc:
        pytest.skip(f"pyannote-audio sample unavailable: {exc}")
    return wav.parent.parent


def demo(tmp_path: Path, *args: str, cache: Path | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYANNOTEAI_API_KEY", "PYANNOTE_API_KEY", "PYANNOTEAI_BASE_URL")}
    env.update(MPLBACKEND="Agg", PYANNOTE_NOTEBOOK_STORE=str(tmp_path / "jobs.sqlite3"))
    if cache is not None:
        env["PYANNOTE_NOTEBOOK_CACHE"] = str(cache)
    return subprocess.run(
        [sys.executable, "-m", "pyannote_notebook.cli", "demo", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout,
    )


def colour_pixels(image: np.ndarray, hex_colour: str) -> int:
    """Number of pixels of ``image`` (imread of a PNG, floats in 0-1) with that exact colour."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
    close = np.all(np.abs(image[..., :3] - rgb) <= 1.5 / 255.0, axis=-1)
    return int(close.sum())


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path, sample_cache: Path) -> None:
    import matplotlib.image as mpimg

    out = tmp_path / "demo-output"
    proc = demo(tmp_path, "--out", str(out), cache=sample_cache)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stdout = proc.stdout
    assert "demo failed" not in proc.stderr

    assert f"audio: {sample_cache / 'samples' / 'sample.wav'}" in stdout
    diarized = re.search(r"^diarized: (\d+) speakers, (\d+) turns \(job \S+\)$", stdout, re.M)
    assert diarized, stdout
    assert int(diarized.group(1)) == 2
    n_turns = int(diarized.group(2))
    assert n_turns >= 2

    stats = stdout.split("speaker statistics (seconds):", 1)[1]
    assert re.search(r"^\s*0\s+SPEAKER_00\s+\d", stats, re.M)
    assert re.search(r"^\s*1\s+SPEAKER_01\s+\d", stats, re.M)

    der = re.search(r"^DER against the sample's reference: (\d+\.\d\d) % \(md-eval collar 0\.25 s "
                    r"per side\), (\d+\.\d\d) % \(no collar\); JER (\d+\.\d\d) %$", stdout, re.M)
    assert der, stdout
    der25, der0 = float(der.group(1)), float(der.group(2))
    assert 0.0 <= der25 < 10.0, f"DER {der25} % at collar 0.25 s (6.61 % when written)"
    assert der25 <= der0, "a collar can only forgive errors"

    rttm = out / "sample.rttm"
    html = out / "01-quickstart.html"
    pngs = [out / "timeline.png", out / "comparison.png"]
    listed = stdout.split("; wrote:", 1)[1].split()
    assert listed == [str(rttm), *map(str, pngs), str(html)]

    lines = rttm.read_text().splitlines()
    assert len(lines) == n_turns
    assert all(line.startswith("SPEAKER sample 1 ") for line in lines)
    assert {line.split()[7] for line in lines} == {"SPEAKER_00", "SPEAKER_01"}

    # the timeline shows each hypothesis speaker in its colour (colours are assigned over all the
    # labels of a plot); the comparison shows the reference speakers (speaker90, speaker91) and
    # the hypothesis speakers mapped onto their colours
    expected = {
        "timeline.png": list(color_map(["SPEAKER_00", "SPEAKER_01"]).values()),
        "comparison.png": list(color_map(["speaker90", "speaker91"]).values()),
    }
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        image = mpimg.imread(png)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 300, image.shape
        colours = expected[png.name]
        assert len(set(colours)) == 2
        for colour in colours:
            assert colour_pixels(image, colour) > 200, f"{png.name}: no {colour} bars"

    text = html.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html")
    assert "SPEAKER_00" in text and "SPEAKER_01" in text
    assert "Traceback" not in text


def test_demo_missing_audio_fails_at_step_audio(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "missing.wav"
    proc = demo(tmp_path, "--out", str(tmp_path / "out"), "--audio", str(missing),
                "--no-notebook", timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        f"demo failed at step audio: FileNotFoundError: no such file: {missing}")
    assert "Traceback" not in proc.stderr
    assert "diarized" not in proc.stdout
    assert "hint:" not in proc.stderr  # --audio given: the sample hint does not apply


def test_demo_missing_sample_names_the_fix(tmp_path: Path) -> None:
    # a cache whose pyannote-audio wheel is damaged: extracting the sample fails offline at once
    cache = tmp_path / "cache"
    (cache / "wheels").mkdir(parents=True)
    (cache / "wheels" / "pyannote_audio-4.0.7-py3-none-any.whl").write_bytes(b"not a wheel")
    proc = demo(tmp_path, "--out", str(tmp_path / "out"), "--no-notebook", cache=cache,
                timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("demo failed at step audio: BadZipFile: "), proc.stderr
    assert lines[1].startswith("hint: ") and "make samples" in lines[1]
    assert "python -m pyannote_notebook.samples fetch" in lines[1]
    assert "Traceback" not in proc.stderr


def test_demo_non_audio_file_fails_at_step_diarize(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio\n")
    proc = demo(tmp_path, "--out", str(tmp_path / "out"), "--audio", str(notes), "--no-notebook",
                timeout=60)
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first.startswith("demo failed at step diarize: InvalidOption: "), proc.stderr
    assert str(notes) in first
    assert "Traceback" not in proc.stderr


def test_demo_missing_weights_hint_and_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import pyannote_notebook as pn
    from pyannote_notebook import demo as demo_module
    from pyannote_notebook.engine.weights import INSTALL_COMMAND

    secret = "sk-demo-test-0123456789abcdef"
    monkeypatch.setenv("PYANNOTEAI_API_KEY", secret)

    def diarize(*args: object, **kwargs: object) -> None:
        raise WeightsMissing(f"weights missing (request with key {secret}). "
                             f"Install them with: {INSTALL_COMMAND}")

    monkeypatch.setattr(pn, "diarize", diarize)
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF")
    args = argparse.Namespace(out=str(tmp_path / "out"), audio=str(audio), no_notebook=True)
    assert demo_module.run(args) == 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].startswith("demo failed at step diarize: WeightsMissing: weights missing")
    assert secret not in err and "key ***" in lines[0]
    assert lines[1] == f"hint: {demo_module.WEIGHTS_HINT}"
    assert "python -m pyannote_notebook.engine.weights install" in lines[1]

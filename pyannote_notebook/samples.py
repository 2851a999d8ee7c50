"""Test audio for pyannote-notebook: pyannote's real sample and espeak-ng conversations.

Used by the Makefile, the tests, the demo, the notebooks and the benchmarks. Importing this
module is cheap (stdlib only); numpy/scipy/soundfile load inside the functions that need them.

* :func:`sample_path` / :func:`sample_reference_path`: the 30 s two-speaker recording shipped in
  the ``pyannote-audio`` 4.0.7 wheel (downloaded with ``pip download --no-deps`` into the cache,
  then read with :mod:`zipfile`). Its origin is undocumented: use it as test data, never
  redistribute it.
* :func:`synthesize_conversation`: a multi-speaker conversation spoken by espeak-ng with one voice
  per speaker and an exact reference RTTM computed from the synthesized sample counts (each
  utterance is trimmed to its first and last audible sample, so the reference is tight).
* :func:`make_corpus`: several such files with 1-4 speakers.

Cache directory: ``$PYANNOTE_NOTEBOOK_CACHE`` if set, else ``<checkout>/.cache`` when running from
a source checkout, else ``~/.cache/pyannote-notebook``. Synthesized files are cached there by a
hash of everything that determines their content, so reruns are instant.

Command line: ``python -m pyannote_notebook.samples fetch [--cache DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

from pyannote_notebook.errors import ConnectionFailed, EngineError, InvalidOption

__all__ = [
    "cache_dir",
    "fetch",
    "sample_path",
    "sample_reference_path",
    "synthesize_conversation",
    "make_corpus",
    "VOICES",
    "SENTENCES",
    "main",
]

PYANNOTE_AUDIO = "pyannote-audio==4.0.7"
_WHEEL_GLOB = "pyannote_audio-4.0.7-*.whl"
_MEMBERS = {"sample.wav": "pyannote/audio/sample/sample.wav",
            "sample.rttm": "pyannote/audio/sample/sample.rttm"}
_SYNTH_VERSION = 1

# (espeak-ng voice, pitch 0-99, speed in words per minute): one per speaker, as distinct as
# espeak allows (variants differ in formants; pitch and speed add to the difference).
VOICES: list[tuple[str, int, int]] = [
    ("en+m3", 35, 160),
    ("en+f2", 70, 175),
    ("en-us+m7", 20, 145),
    ("en+f4", 85, 190),
    ("en-gb-scotland+m1", 50, 170),
    ("en-us+f3", 60, 155),
]

SENTENCES: list[str] = [
    "Good morning everyone and thank you for joining the meeting today.",
    "I think we should start with the budget before we talk about the schedule.",
    "The results from last quarter were better than we expected.",
    "Could you share the slides with the rest of the team after the call.",
    "We still need two more people to finish the testing on time.",
    "That sounds reasonable to me but let us check with the client first.",
    "The new office will open in the spring if everything goes to plan.",
    "I spoke with the supplier yesterday and they promised a discount.",
    "Honestly I am not sure the deadline is realistic at this point.",
    "Let me summarize what we agreed on so far before we move on.",
    "The weather was terrible so the delivery arrived two days late.",
    "My main concern is the cost of maintaining the old servers.",
    "We could run a small pilot with three customers next month.",
    "Please send me the numbers and I will prepare the report tonight.",
    "I agree with that and I would add one more point about training.",
    "The marketing campaign reached twice as many people as last year.",
    "Do we have any questions before we close the first topic.",
    "The documentation is out of date and nobody knows who owns it.",
    "I would rather wait until we have the full picture.",
    "Our team can take the first part and yours can handle the rest.",
    "The river near the village floods almost every winter now.",
    "She bought fresh bread and cheese at the market on Saturday.",
    "Learning a new language takes patience and a lot of practice.",
    "The museum was closed so we walked along the harbour instead.",
    "Yes exactly.", "No I do not think so.", "Right.", "Okay let us do that.",
    "Sure.", "Wait a second.", "Absolutely.", "I see what you mean.",
]

Turn = Union[tuple[Any, str], tuple[Any, str, float]]


# --------------------------------------------------------------------------- cache and sample


def cache_dir(cache: str | Path | None = None) -> Path:
    """Resolve the cache directory (see the module docstring) and create it."""
    if cache is not None:
        path = Path(cache)
    elif os.environ.get("PYANNOTE_NOTEBOOK_CACHE"):
        path = Path(os.environ["PYANNOTE_NOTEBOOK_CACHE"])
    else:
        checkout = Path(__file__).resolve().parents[1]
        if (checkout / "pyproject.toml").is_file() and (checkout / "pyannote_notebook").is_dir():
            path = checkout / ".cache"
        else:
            path = Path.home() / ".cache" / "pyannote-notebook"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _wheel(cache: Path) -> Path:
    wheels = cache / "wheels"
    found = sorted(wheels.glob(_WHEEL_GLOB))
    if found:
        return found[0]
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "-q", PYANNOTE_AUDIO, "-d", str(wheels)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConnectionFailed(f"could not download {PYANNOTE_AUDIO}: {exc}") from exc
    found = sorted(wheels.glob(_WHEEL_GLOB))
    if proc.returncode != 0 or not found:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ConnectionFailed(
            f"could not download {PYANNOTE_AUDIO} into {wheels} (are you offline?): {tail[0]}. "
            f"Download it elsewhere with `pip download --no-deps {PYANNOTE_AUDIO}` and copy the "
            f"wheel into {wheels}"
        )
    return found[0]


def fetch(cache: str | Path | None = None) -> dict[str, Path]:
    """Download the pyannote-audio wheel if needed and extract the sample and its RTTM.

    Returns
    -------
    dict
        ``{"sample.wav": Path, "sample.rttm": Path}``.

    Raises
    ------
    ConnectionFailed
        The wheel is not cached and pip could not download it (offline); pip runs with a
        300 s timeout.
    """
    root = cache_dir(cache)
    out_dir = root / "samples"
    targets = {name: out_dir / name for name in _MEMBERS}
    if all(p.is_file() for p in targets.values()):
        return targets
    wheel = _wheel(root)
    out_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        for name, member in _MEMBERS.items():
            tmp = targets[name].with_suffix(".part")
            with zf.open(member) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            tmp.replace(targets[name])
    return targets


def sample_path(cache: str | Path | None = None) -> Path:
    """Path of pyannote's 30 s two-speaker ``sample.wav`` (fetched on first use)."""
    return fetch(cache)["sample.wav"]


def sample_reference_path(cache: str | Path | None = None) -> Path:
    """Path of the reference ``sample.rttm`` of :func:`sample_path` (uri ``sample``)."""
    return fetch(cache)["sample.rttm"]


# --------------------------------------------------------------------------- synthesis


def _require_espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise EngineError(
            "espeak-ng is not installed; it is needed to synthesize test conversations. "
            "Install it with: apt-get install espeak-ng (or brew install espeak-ng)"
        )
    return exe


def _espeak(exe: str, text: str, voice: tuple[str, int, int], sample_rate: int):
    """Speak ``text``; return float32 samples at ``sample_rate`` trimmed to audible extent."""
    import numpy as np
    import soundfile as sf

    name, pitch, speed = voice
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "u.wav"
        proc = subprocess.run([exe, "-v", name, "-p", str(pitch), "-s", str(speed),
                               "-w", str(out), text], capture_output=True, text=True,
                              timeout=60)
        if proc.returncode != 0 or not out.is_file():
            raise EngineError(f"espeak-ng failed for voice {name}: {proc.stderr.strip()}")
        data, sr = sf.read(str(out), dtype="float32", always_2d=True)
    x = data.mean(axis=1)
    if sr != sample_rate:
        from fractions import Fraction

        from scipy.signal import resample_poly

        f = Fraction(sample_rate, sr).limit_denominator(1000)
        x = resample_poly(x, f.numerator, f.denominator).astype(np.float32)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        raise EngineError(f"espeak-ng produced silence for {text!r}")
    loud = np.flatnonzero(np.abs(x) > 0.02 * peak)
    return x[loud[0]: loud[-1] + 1]


def _speaker_label(spk: Any) -> str:
    return f"spk{spk}" if isinstance(spk, int) else str(spk)


def _assign_voices(turns: Sequence[Turn], voices: dict[Any, tuple[str, int, int]] | None
                   ) -> dict[Any, tuple[str, int, int]]:
    """int speaker i -> VOICES[i]; other ids -> the next unused voice by first appearance."""
    out: dict[Any, tuple[str, int, int]] = dict(voices or {})
    used = {i for t in turns if isinstance(t[0], int) for i in [t[0]]}
    free = [i for i in range(len(VOICES)) if i not in used]
    for t in turns:
        spk = t[0]
        if spk in out:
            continue
        if isinstance(spk, int):
            out[spk] = VOICES[spk % len(VOICES)]
        else:
            if not free:
                raise InvalidOption("turns", f"more than {len(VOICES)} speakers; pass voices=")
            out[spk] = VOICES[free.pop(0)]
    return out


def synthesize_conversation(turns: Sequence[Turn], path: str | Path, *,
                            sample_rate: int = 16000, uri: str | None = None,
                            voices: dict[Any, tuple[str, int, int]] | None = None,
                            default_gap: float = 0.4, lead: float = 0.5,
                            noise_db: float = -60.0, cache: str | Path | None = None,
                            ) -> tuple[Path, Path]:
    """Synthesize a conversation with espeak-ng and write it with its exact reference RTTM.

    Parameters
    ----------
    turns : sequence of (speaker, text) or (speaker, text, gap)
        ``speaker`` is an int (voice ``VOICES[speaker]``, label ``spk<speaker>``) or a string
        (label as given, voices by first appearance). ``gap`` is the silence in seconds between
        the end of the previous turn and this one; a negative gap starts the turn before the
        previous one ends and the two are mixed (overlap). Default ``default_gap``.
    path : str or Path
        Output WAV (16-bit PCM). The RTTM is written next to it with suffix ``.rttm``.
    sample_rate : int
        Output sample rate.
    uri : str, optional
        RTTM uri; default the file stem.
    voices : dict, optional
        ``{speaker: (espeak voice, pitch, speed)}`` overriding the default voices.
    noise_db : float
        Level (dBFS) of seeded white noise added everywhere, so silence is not digital zero.

    Returns
    -------
    (Path, Path)
        The WAV and the RTTM (one line per turn, times from the synthesized sample counts).

    Raises
    ------
    EngineError
        espeak-ng is missing (message names ``apt-get install espeak-ng``) or failed
        (each espeak call has a 60 s timeout).
    InvalidOption
        An empty ``turns`` or an empty text.
    """
    import numpy as np
    import soundfile as sf

    if not turns:
        raise InvalidOption("turns", "at least one turn is needed")
    norm: list[tuple[Any, str, float]] = []
    for i, t in enumerate(turns):
        if len(t) not in (2, 3) or not str(t[1]).strip():
            raise InvalidOption(f"turns[{i}]", "expected (speaker, text[, gap]) with a text")
        norm.append((t[0], str(t[1]), float(t[2]) if len(t) == 3 else default_gap))
    path = Path(path)
    uri = uri or path.stem
    vmap = _assign_voices(turns, voices)
    key_src = json.dumps({"v": _SYNTH_VERSION, "turns": [[_speaker_label(s), x, g] for s, x, g
                                                          in norm],
                          "voices": {_speaker_label(k): list(v) for k, v in vmap.items()},
                          "sr": sample_rate, "uri": uri, "lead": lead, "noise": noise_db},
                         sort_keys=True)
    key = hashlib.sha256(key_src.encode()).hexdigest()[:24]
    store = cache_dir(cache) / "synth"
    cached_wav, cached_rttm = store / f"{key}.wav", store / f"{key}.rttm"
    if not (cached_wav.is_file() and cached_rttm.is_file()):
        exe = _require_espeak()
        pieces = [_espeak(exe, text, vmap[spk], sample_rate) for spk, text, _ in norm]
        starts: list[int] = []
        cursor = int(round(lead * sample_rate))
        prev_end = cursor
        for i, ((_, _, gap), piece) in enumerate(zip(norm, pieces)):
            start = prev_end + int(round(gap * sample_rate)) if i else cursor
            start = max(0, start)
            starts.append(start)
            prev_end = max(prev_end, start + len(piece)) if i else start + len(piece)
        total = max(s + len(p) for s, p in zip(starts, pieces)) + int(round(lead * sample_rate))
        mix = np.zeros(total, dtype=np.float64)
        for s, p in zip(starts, pieces):
            mix[s: s + len(p)] += p
        rng = np.random.default_rng(int(key[:8], 16))
        mix += rng.standard_normal(total) * 10 ** (noise_db / 20)
        peak = float(np.max(np.abs(mix)))
        if peak > 0.99:
            mix *= 0.99 / peak
        store.mkdir(parents=True, exist_ok=True)
        # unique temporary names: parallel test workers may synthesize the same file at once
        tmp_wav = store / f"{key}.{os.getpid()}.{threading.get_ident()}.part.wav"
        tmp_rttm = tmp_wav.with_suffix(".rttm")
        sf.write(str(tmp_wav), mix.astype(np.float32), sample_rate, subtype="PCM_16")
        lines = [
            f"SPEAKER {uri} 1 {s / sample_rate:.3f} {len(p) / sample_rate:.3f} <NA> <NA> "
            f"{_speaker_label(spk)} <NA> <NA>"
            for (spk, _, _), s, p in sorted(zip(norm, starts, pieces), key=lambda z: z[1])
        ]
        tmp_rttm.write_text("\n".join(lines) + "\n")
        tmp_rttm.replace(cached_rttm)
        tmp_wav.replace(cached_wav)
    path.parent.mkdir(parents=True, exist_ok=True)
    rttm = path.with_suffix(".rttm")
    if path.resolve() != cached_wav.resolve():
        shutil.copyfile(cached_wav, path)
        shutil.copyfile(cached_rttm, rttm)
    return path, rttm


def make_corpus(directory: str | Path, *, n_files: int = 8, seed: int = 0,
                turns_per_file: tuple[int, int] = (8, 16), max_speakers: int = 4,
                cache: str | Path | None = None) -> list[tuple[Path, Path]]:
    """Write ``n_files`` synthetic conversations with 1 to ``max_speakers`` speakers.

    File ``i`` has ``1 + i % max_speakers`` speakers (so every count appears), random sentences,
    gaps of 0.2-1.0 s and, with 3 or more turns, one short overlap (-0.4 s) in every other file.
    Deterministic for a given ``seed``.

    Returns
    -------
    list of (Path, Path)
        ``(wav, rttm)`` pairs named ``conv<i>_<n>spk.wav``.
    """
    import random

    rng = random.Random(seed)
    directory = Path(directory)
    out = []
    for i in range(n_files):
        n_spk = 1 + i % max_speakers
        n_turns = rng.randint(*turns_per_file)
        turns: list[Turn] = []
        last = -1
        for k in range(n_turns):
            spk = k % n_spk if k < n_spk else rng.choice([s for s in range(n_spk)
                                                          if s != last or n_spk == 1])
            gap = round(rng.uniform(0.2, 1.0), 2)
            if i % 2 == 1 and k == n_turns // 2 and n_spk > 1:
                gap = -0.4
            turns.append((spk, rng.choice(SENTENCES), gap))
            last = spk
        out.append(synthesize_conversation(turns, directory / f"conv{i}_{n_spk}spk.wav",
                                           cache=cache))
    return out


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pyannote_notebook.samples fetch [--cache DIR]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m pyannote_notebook.samples")
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="download pyannote-audio 4.0.7 and extract its sample")
    f.add_argument("--cache", default=None, help="cache directory (default: see docs)")
    c = sub.add_parser("corpus", help="synthesize a corpus of espeak-ng conversations")
    c.add_argument("directory")
    c.add_argument("--n-files", type=int, default=8)
    c.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            for p in fetch(args.cache).values():
                print(p)
        else:
            for wav, rttm in make_corpus(args.directory, n_files=args.n_files, seed=args.seed):
                print(wav, rttm)
    except (ConnectionFailed, EngineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

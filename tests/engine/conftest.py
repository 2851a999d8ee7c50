"""Fixtures of the engine tests: the real sample, espeak-ng conversations, a DER helper.

Synthesized audio is cached by content hash under the package cache (see samples.py), so only
the first run pays for espeak-ng.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from pyannote_notebook import samples
from pyannote_notebook.errors import ConnectionFailed

S = samples.SENTENCES

CONVERSATIONS: dict[str, list] = {
    "one": [(0, S[0]), (0, S[1], 0.6), (0, S[2], 0.8), (0, S[3], 0.5), (0, S[4], 0.7)],
    "two": [(0, S[0]), (1, S[1]), (0, S[2]), (1, S[3]), (0, S[4]), (1, S[5]), (0, S[6]),
            (1, S[7])],
    "three": [(0, S[0]), (1, S[1]), (2, S[2]), (0, S[3]), (2, S[4]), (1, S[5]), (0, S[6]),
              (2, S[7]), (1, S[8])],
    "four": [(0, S[0]), (1, S[1]), (2, S[2]), (3, S[3]), (0, S[4]), (2, S[5]), (1, S[6]),
             (3, S[7]), (0, S[8]), (1, S[9]), (2, S[12]), (3, S[13])],
    "overlap": [(0, S[0]), (1, S[1], -0.8), (0, S[2], 0.4), (1, S[3], -1.0), (0, S[4], 0.3),
                (1, S[5], 0.4), (0, S[6], -0.6), (1, S[7], 0.5)],
    "fast": [(0, S[11]), (1, S[24], 0.15), (0, S[12], 0.15), (1, S[25], 0.15),
             (0, S[13], 0.15), (1, S[27], 0.15), (0, S[14], 0.15), (1, S[31], 0.15),
             (0, S[15], 0.15), (1, S[26], 0.15), (0, S[16], 0.15), (1, S[29], 0.15)],
}
SPEAKERS = {"one": 1, "two": 2, "three": 3, "four": 4, "overlap": 2, "fast": 2}


@pytest.fixture(scope="session")
def sample_files() -> tuple[Path, Path]:
    try:
        return samples.sample_path(), samples.sample_reference_path()
    except ConnectionFailed as exc:  # offline and no cached wheel
        pytest.skip(f"pyannote-audio sample unavailable: {exc}")


@pytest.fixture(scope="session")
def conversations(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    d = tmp_path_factory.mktemp("conversations")
    return {name: samples.synthesize_conversation(turns, d / f"{name}.wav")
            for name, turns in CONVERSATIONS.items()}


@pytest.fixture(scope="session")
def enrollment(tmp_path_factory) -> dict[int, Path]:
    """Single-speaker clips of voices 0-3 with sentences not used in the conversations."""
    d = tmp_path_factory.mktemp("enroll")
    return {i: samples.synthesize_conversation([(i, S[20 + i]), (i, S[22 + i % 2])],
                                               d / f"enroll{i}.wav")[0]
            for i in range(4)}


def read_rttm(path: Path):
    from pyannote.core import Annotation, Segment

    ann = Annotation()
    for line in Path(path).read_text().splitlines():
        p = line.split()
        ann[Segment(float(p[3]), float(p[3]) + float(p[4]))] = p[7]
    return ann


def der(reference_rttm: Path, output: dict, *, collar_per_side: float = 0.25) -> float:
    """DER of an engine output against an RTTM (pyannote.metrics; collar total = 2x side)."""
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref = read_rttm(reference_rttm)
    hyp = Annotation()
    for s in output["diarization"]:
        hyp[Segment(s["start"], s["end"])] = s["speaker"]
    uem = Segment(0, max(ref.get_timeline().extent().end, hyp.get_timeline().extent().end
                         if len(hyp) else 0))
    from pyannote.core import Timeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metric = DiarizationErrorRate(collar=2 * collar_per_side)
        return float(metric(ref, hyp, uem=Timeline([uem])))

"""The whole engine runs without importing torch (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SCRIPT = r"""
import json, sys
from pyannote_notebook.engine import diarize, identify, voiceprint
out = diarize(sys.argv[1])
vp = voiceprint(sys.argv[2])
ident = identify(sys.argv[1], {"a": vp})
print(json.dumps({
    "torch": "torch" in sys.modules,
    "packages": sorted(m for m in ("resemblyzer", "silero_vad", "librosa", "torchaudio")
                       if m in sys.modules),
    "n_speakers": len({s["speaker"] for s in out["diarization"]}),
    "matched": [v["match"] for v in ident["voiceprints"]],
}))
"""


def test_full_run_never_imports_torch(conversations, enrollment):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(conversations["two"][0]),
                           str(enrollment[0])], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"torch": False, "packages": [], "n_speakers": 2,
                      "matched": ["a", None]}

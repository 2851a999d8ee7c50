from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from pyannote_notebook.engine import torchfile, weights
from pyannote_notebook.errors import EngineError, WeightsMissing


def test_installed_weights_match_pinned_hashes():
    vad = weights.locate(weights.SILERO_VAD)
    enc = weights.locate(weights.RESEMBLYZER)
    assert vad.name == "silero_vad.onnx" and enc.name == "pretrained.pt"
    assert weights.sha256_file(vad) == (
        "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3")
    assert weights.sha256_file(enc) == (
        "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e")


def test_missing_package_gives_install_command():
    ghost = weights.WeightFile("no_such_pkg_xyz", "w.onnx", "0" * 64, "ghost==1")
    with pytest.raises(WeightsMissing) as exc:
        weights.locate(ghost)
    assert "pip install --no-deps silero-vad==6.2.3 resemblyzer==0.1.4" in str(exc.value)
    assert "no_such_pkg_xyz" in str(exc.value)


def test_missing_file_in_package_gives_install_command():
    ghost = weights.WeightFile("silero_vad", "data/missing.onnx", "0" * 64, "silero-vad==6.2.3")
    with pytest.raises(WeightsMissing, match="pip install --no-deps silero-vad==6.2.3"):
        weights.locate(ghost)


def test_wrong_hash_is_refused():
    wrong = weights.WeightFile("silero_vad", "data/silero_vad.onnx", "f" * 64,
                               "silero-vad==6.2.3")
    with pytest.raises(EngineError, match="does not match silero-vad==6.2.3"):
        weights.locate(wrong)


def test_pretrained_pt_read_without_torch():
    state = torchfile.load_legacy_torch(weights.locate(weights.RESEMBLYZER))["model_state"]
    assert state["lstm.weight_ih_l0"].shape == (1024, 40)
    assert state["lstm.weight_hh_l2"].shape == (1024, 256)
    assert state["linear.weight"].shape == (256, 256)
    assert state["linear.bias"].dtype == np.float32
    assert float(state["similarity_weight"][0]) == pytest.approx(70.89291, abs=1e-4)
    assert float(state["lstm.weight_ih_l0"][0, 0]) == pytest.approx(0.0428658, abs=1e-6)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_os_system(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Evil(marker))
    with pytest.raises(EngineError, match=r"refused to load global (posix|os)\.system"):
        torchfile.RestrictedUnpickler(io.BytesIO(payload), source="evil.pt").load()
    assert not marker.exists()


def test_malicious_pt_file_is_refused(tmp_path):
    marker = tmp_path / "pwned2"
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump(torchfile.LEGACY_MAGIC, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump({"protocol_version": 1001}, f, protocol=2)
        pickle.dump({"model_state": _Evil(marker)}, f, protocol=2)
    with pytest.raises(EngineError, match=r"evil\.pt: refused to load global"):
        torchfile.load_legacy_torch(path)
    assert not marker.exists()


def test_not_a_torch_file(tmp_path):
    path = tmp_path / "x.pt"
    path.write_bytes(pickle.dumps(123))
    with pytest.raises(EngineError, match="bad magic number"):
        torchfile.load_legacy_torch(path)


def test_weights_command_checks_and_names_each_file(capsys):
    from pyannote_notebook.engine import weights

    assert weights.main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["silero-vad==6.2.3", "resemblyzer==0.1.4"]
    assert lines[0].endswith("silero_vad/data/silero_vad.onnx (sha256 ok)")
    assert weights.INSTALL_COMMAND == "pip install --no-deps silero-vad==6.2.3 resemblyzer==0.1.4"

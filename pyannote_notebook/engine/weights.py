"""Locate and verify the two weight files the local engine runs on.

The weights ship inside two PyPI wheels that are installed ``--no-deps`` (both declare torch as a
dependency, which the engine does not need). The packages are never imported: their directories
are found with :func:`importlib.util.find_spec`, which only reads the import metadata, and each
file is checked against the SHA-256 of the released wheel before use.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyannote_notebook.errors import EngineError, WeightsMissing

__all__ = [
    "INSTALL_COMMAND",
    "WeightFile",
    "SILERO_VAD",
    "RESEMBLYZER",
    "WEIGHTS",
    "install",
    "locate",
    "main",
    "sha256_file",
]


@dataclass(frozen=True)
class WeightFile:
    """One weight file inside an installed package.

    Attributes
    ----------
    package : str
        Import name of the package holding it (``"silero_vad"``).
    relpath : str
        Path of the file inside the package directory.
    sha256 : str
        Expected SHA-256 (hex) of the file in the pinned wheel.
    distribution : str
        ``name==version`` of the wheel, for messages.
    """

    package: str
    relpath: str
    sha256: str
    distribution: str


# silero-vad 6.2.3, silero_vad/data/silero_vad.onnx (MIT)
SILERO_VAD = WeightFile(
    "silero_vad", "data/silero_vad.onnx",
    "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3", "silero-vad==6.2.3",
)
# resemblyzer 0.1.4, resemblyzer/pretrained.pt (Apache-2.0)
RESEMBLYZER = WeightFile(
    "resemblyzer", "pretrained.pt",
    "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e", "resemblyzer==0.1.4",
)

#: Every weight file the engine needs (one source of truth for versions and hashes).
WEIGHTS: tuple[WeightFile, ...] = (SILERO_VAD, RESEMBLYZER)

INSTALL_COMMAND = "pip install --no-deps " + " ".join(w.distribution for w in WEIGHTS)

_verified: dict[Path, str] = {}
_lock = threading.Lock()


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _package_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def locate(weight: WeightFile, *, verify: bool = True) -> Path:
    """Return the path of ``weight`` in the installed wheel, checked by SHA-256.

    The hash is computed once per process and file.

    Raises
    ------
    WeightsMissing
        The package is not installed or the file is absent; the message gives the exact
        ``pip install --no-deps ...`` command.
    EngineError
        The file exists but its SHA-256 differs from the pinned release (another version or a
        damaged file); the message gives the command to reinstall.
    """
    pkg_dir = _package_dir(weight.package)
    if pkg_dir is None:
        raise WeightsMissing(
            f"the local engine needs the {weight.distribution} weights, but package "
            f"{weight.package!r} is not installed. Install them with: {INSTALL_COMMAND}"
        )
    path = pkg_dir / weight.relpath
    if not path.is_file():
        raise WeightsMissing(
            f"weight file {path} is missing from the installed {weight.package!r}. "
            f"Install them with: {INSTALL_COMMAND}"
        )
    if verify:
        with _lock:
            known = _verified.get(path)
            if known is None:
                known = sha256_file(path)
                _verified[path] = known
        if known != weight.sha256:
            raise EngineError(
                f"{path}: SHA-256 {known[:16]}... does not match {weight.distribution} "
                f"({weight.sha256[:16]}...). Reinstall with: pip install --force-reinstall "
                f"{INSTALL_COMMAND.removeprefix('pip install ')}"
            )
    return path


def install(*, quiet: bool = True) -> None:
    """Install the weight wheels ``--no-deps`` into this interpreter's environment, then verify.

    Raises
    ------
    EngineError
        pip failed (its exit code is given; its output was printed).
    WeightsMissing
        The files are still missing or do not match their SHA-256 after the install.
    """
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
               "--no-deps", *(w.distribution for w in WEIGHTS)]
    if quiet:
        command.insert(4, "-q")
    code = subprocess.call(command)
    if code != 0:
        raise EngineError(f"pip exited with {code} while installing the weights: "
                          f"{' '.join(command[1:])}")
    for weight in WEIGHTS:
        locate(weight)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pyannote_notebook.engine.weights {install,check}``; exit 1 on failure."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pyannote_notebook.engine.weights",
                                     description="install or check the local engine's weights")
    parser.add_argument("action", choices=["install", "check"])
    args = parser.parse_args(argv)
    try:
        if args.action == "install":
            install()
        for weight in WEIGHTS:
            print(f"{weight.distribution}: {locate(weight)} (sha256 ok)")
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

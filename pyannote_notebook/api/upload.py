"""Audio sources for ``Client.upload``: path, bytes, binary file object or numpy array.

An :class:`UploadSource` can be re-opened (so a failed PUT can be retried), knows its size, its
streamed SHA-256 and, when measurable, its duration. :class:`StreamingBody` is the PUT body:
an iterable with ``__len__``, so ``requests`` sends a ``Content-Length`` and streams the chunks
(nothing reads the whole file into memory). Numpy arrays are written to a temporary WAV with
``scipy.io.wavfile`` (imported only then).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import wave
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from pyannote_notebook._layout import AMBIGUOUS_LAYOUT_HINT, frames_first
from pyannote_notebook.errors import InvalidOption

__all__ = ["UploadSource", "StreamingBody", "prepare_source", "Progress"]

Progress = Callable[[int, int], Any]
_HASH_CHUNK = 1 << 20


class UploadSource:
    """Bytes to upload, re-openable from the start.

    Attributes
    ----------
    size : int
        Number of bytes.
    sha256 : str
        Hex SHA-256 of the content (computed by streaming).
    duration : float | None
        Audio duration in seconds when it could be measured (WAV via stdlib ``wave``, other
        formats via ``soundfile`` if installed), else ``None``.
    """

    def __init__(self, opener: Callable[[], IO[bytes]], size: int, sha256: str,
                 duration: float | None, cleanup: Callable[[], None] | None = None) -> None:
        self._opener = opener
        self.size = size
        self.sha256 = sha256
        self.duration = duration
        self._cleanup = cleanup

    def open(self) -> IO[bytes]:
        """Return a binary file object positioned at the start of the content."""
        return self._opener()

    def close(self) -> None:
        """Remove temporary files made for this source (idempotent)."""
        if self._cleanup is not None:
            cleanup, self._cleanup = self._cleanup, None
            cleanup()

    def __enter__(self) -> UploadSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StreamingBody:
    """PUT body streaming ``source`` in ``chunk_size`` pieces and reporting progress.

    ``progress(completed, total)`` is called with ``(0, total)`` first, then after each chunk is
    handed to the connection, ending with ``(total, total)``. An exception raised by the callback
    aborts the upload.
    """

    def __init__(self, source: UploadSource, chunk_size: int = 1 << 20,
                 progress: Progress | None = None) -> None:
        self.source = source
        self.chunk_size = int(chunk_size)
        self.progress = progress
        self.sent = 0

    def __len__(self) -> int:
        return self.source.size

    def __iter__(self) -> Iterator[bytes]:
        total = self.source.size
        self.sent = 0
        if self.progress is not None:
            self.progress(0, total)
        with self.source.open() as fh:
            remaining = total
            while remaining > 0:
                chunk = fh.read(min(self.chunk_size, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                self.sent += len(chunk)
                yield chunk
                if self.progress is not None:
                    self.progress(self.sent, total)


# --------------------------------------------------------------------------- measuring


def _hash_stream(fh: IO[bytes], limit: int | None = None) -> tuple[str, int]:
    digest = hashlib.sha256()
    n = 0
    while limit is None or n < limit:
        want = _HASH_CHUNK if limit is None else min(_HASH_CHUNK, limit - n)
        chunk = fh.read(want)
        if not chunk:
            break
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise InvalidOption("audio", "file object must be opened in binary mode ('rb')")
        digest.update(chunk)
        n += len(chunk)
    return digest.hexdigest(), n


def measure_duration(opener: Callable[[], IO[bytes]], name: str | None = None) -> float | None:
    """Audio duration in seconds (stdlib ``wave``, then ``soundfile`` if importable) or ``None``."""
    try:
        with opener() as fh, wave.open(fh, "rb") as w:
            rate = w.getframerate()
            if rate > 0:
                return w.getnframes() / rate
    except Exception:
        pass
    try:
        import soundfile  # optional (the "local" extra)
    except Exception:
        return None
    try:
        with opener() as fh:
            info = soundfile.info(fh)
        if info.samplerate > 0 and info.frames > 0:
            return info.frames / info.samplerate
    except Exception:
        return None
    return None


# --------------------------------------------------------------------------- sources


def _from_path(path: Path) -> UploadSource:
    if not path.is_file():
        raise InvalidOption("audio", f"no such file: {path}")
    size = path.stat().st_size

    def opener() -> IO[bytes]:
        return open(path, "rb")

    with opener() as fh:
        sha, _ = _hash_stream(fh)
    return UploadSource(opener, size, sha, measure_duration(opener, path.name))


def _from_bytes(data: bytes) -> UploadSource:
    data = bytes(data)

    def opener() -> IO[bytes]:
        return io.BytesIO(data)

    return UploadSource(opener, len(data), hashlib.sha256(data).hexdigest(),
                        measure_duration(opener))


def _from_fileobj(fh: Any) -> UploadSource:
    if isinstance(fh, io.TextIOBase):
        raise InvalidOption("audio", "file object must be opened in binary mode ('rb')")
    seekable = False
    try:
        seekable = bool(fh.seekable())
    except Exception:
        seekable = False
    if seekable:
        start = fh.tell()
        sha, size = _hash_stream(fh)
        fh.seek(start)

        class _Window(io.RawIOBase):
            """Read-only view of ``fh`` from ``start`` that does not close ``fh``."""

            def __init__(self) -> None:
                fh.seek(start)
                self.pos = 0

            def readable(self) -> bool:
                return True

            def readinto(self, b: Any) -> int:
                want = min(len(b), size - self.pos)
                if want <= 0:
                    return 0
                data = fh.read(want)
                b[: len(data)] = data
                self.pos += len(data)
                return len(data)

            def seekable(self) -> bool:
                return True

            def tell(self) -> int:
                return self.pos

            def seek(self, offset: int, whence: int = 0) -> int:
                target = {0: offset, 1: self.pos + offset, 2: size + offset}[whence]
                self.pos = max(0, min(size, target))
                fh.seek(start + self.pos)
                return self.pos

        def opener() -> IO[bytes]:
            return io.BufferedReader(_Window())

        return UploadSource(opener, size, sha, measure_duration(opener))
    # not seekable: spool to a temporary file once (hashing on the way), then upload from it
    tmp = tempfile.NamedTemporaryFile(prefix="pyannote-upload-", suffix=".bin", delete=False)
    try:
        digest = hashlib.sha256()
        while True:
            chunk = fh.read(_HASH_CHUNK)
            if not chunk:
                break
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise InvalidOption("audio", "file object must be opened in binary mode ('rb')")
            digest.update(chunk)
            tmp.write(chunk)
        tmp.close()
    except BaseException:
        tmp.close()
        os.unlink(tmp.name)
        raise
    path = Path(tmp.name)

    def opener() -> IO[bytes]:
        return open(path, "rb")

    return UploadSource(opener, path.stat().st_size, digest.hexdigest(),
                        measure_duration(opener), cleanup=lambda: path.unlink(missing_ok=True))


def _from_array(array: Any, sample_rate: object) -> UploadSource:
    import numpy as np
    from scipy.io import wavfile

    if sample_rate is None:
        raise InvalidOption("sample_rate", "is required when audio is an array of samples")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) \
            or int(sample_rate) < 1:
        raise InvalidOption("sample_rate", f"must be a positive integer (Hz), got {sample_rate!r}")
    if not isinstance(array, np.ndarray) and hasattr(array, "detach"):  # torch tensor
        array = array.detach().cpu().numpy()
    data = np.asarray(array)
    if data.dtype.kind not in "fiu":
        raise InvalidOption("audio", f"array must hold numbers, got dtype {data.dtype}")
    data = np.squeeze(data)
    if data.ndim not in (1, 2) or data.size == 0:
        raise InvalidOption("audio", f"array must be (frames,), (frames, channels) or "
                                     f"(channels, frames), got shape {np.shape(array)}")
    if data.ndim == 2:
        layout = frames_first(*data.shape)  # the engine's rule (pyannote_notebook._layout)
        if layout is None:
            raise InvalidOption("audio", f"ambiguous array of shape {np.shape(array)}: "
                                         f"{AMBIGUOUS_LAYOUT_HINT}")
        if not layout:
            data = data.T  # (channels, frames) -> wavfile's (frames, channels)
    if data.dtype.kind == "f":
        data = data.astype(np.float32, copy=False)
    tmpdir = tempfile.mkdtemp(prefix="pyannote-upload-")
    path = Path(tmpdir) / "audio.wav"
    wavfile.write(path, int(sample_rate), data)
    src = _from_path(path)
    src.duration = data.shape[0] / int(sample_rate)
    src._cleanup = lambda: shutil.rmtree(tmpdir, ignore_errors=True)
    return src


def prepare_source(audio: Any, sample_rate: int | None = None) -> UploadSource:
    """Turn ``audio`` into an :class:`UploadSource`.

    Parameters
    ----------
    audio : str | os.PathLike | bytes | bytearray | memoryview | binary file object | numpy array
        Also accepts pyannote-style dicts ``{"audio": path}`` and
        ``{"waveform": array, "sample_rate": int}``.
    sample_rate : int, optional
        Required for arrays.

    Raises
    ------
    InvalidOption
        ``audio`` of an unsupported type, missing file, text-mode file, array without
        ``sample_rate``.
    """
    if isinstance(audio, Mapping):
        if "waveform" in audio:
            return _from_array(audio["waveform"], audio.get("sample_rate", sample_rate))
        if "audio" in audio:
            return prepare_source(audio["audio"], sample_rate)
        raise InvalidOption("audio", "a dict must hold 'audio' (a path) or 'waveform' and 'sample_rate'")
    if isinstance(audio, (str, os.PathLike)):
        return _from_path(Path(audio))
    if isinstance(audio, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(audio))
    if hasattr(audio, "read"):
        return _from_fileobj(audio)
    if hasattr(audio, "shape") and hasattr(audio, "dtype"):
        return _from_array(audio, sample_rate)
    raise InvalidOption(
        "audio",
        f"unsupported type {type(audio).__name__}: pass a path, bytes, a binary file object or a "
        "numpy array with sample_rate=",
    )

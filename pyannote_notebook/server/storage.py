"""Uploaded media of the local server: ``media://`` keys, presigned tokens, files on disk.

Why hand-written: this is the server's model of S3 presigned URLs. Two safety rules drive it:

* a ``media://`` key never becomes a file path: the file name is the SHA-256 of the key, so
  ``media://../x`` or ``media://a/../../etc`` land inside the upload area like any other key;
* presigned URLs carry an HMAC-signed token (operation, key, expiry) made with a per-server random
  key, so the storage routes need no API key and cannot be forged or replayed for another key.

Uploads are streamed to a temporary file and renamed into place only when complete, so an upload
cut short (413, dropped connection) never replaces a good file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from ..errors import PayloadTooLarge

__all__ = ["UploadStore", "TokenError", "probe_duration"]


class TokenError(ValueError):
    """A presigned token is malformed, forged, expired or for another operation."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UploadStore:
    """Files behind ``media://`` keys, under ``root/uploads``.

    Parameters
    ----------
    root : Path
        Directory of the store (created if missing).
    max_upload_bytes : int
        Largest accepted upload; above it :meth:`write_stream` raises ``PayloadTooLarge``.
    url_ttl : float
        Seconds a presigned URL stays valid.
    """

    def __init__(self, root: Path, max_upload_bytes: int = 1 << 30, url_ttl: float = 3600.0) -> None:
        self.root = Path(root)
        self.uploads = self.root / "uploads"
        self.downloads = self.root / "downloads"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.downloads.mkdir(parents=True, exist_ok=True)
        self.max_upload_bytes = int(max_upload_bytes)
        self.url_ttl = float(url_ttl)
        self._key = secrets.token_bytes(32)

    def __repr__(self) -> str:
        return f"UploadStore(root={str(self.root)!r})"

    # ----------------------------------------------------------------- keys -> files

    def path_for(self, media_url: str) -> Path:
        """File holding ``media_url``'s bytes (whether or not it exists); always inside uploads/."""
        digest = hashlib.sha256(media_url.encode("utf-8")).hexdigest()
        return self.uploads / f"{digest}.bin"

    def exists(self, media_url: str) -> bool:
        """Whether something was uploaded under ``media_url``."""
        return self.path_for(media_url).is_file()

    # ----------------------------------------------------------------- presigned tokens

    def sign(self, op: str, media_url: str) -> str:
        """Return a token allowing ``op`` (``"put"`` or ``"get"``) on ``media_url`` for ``url_ttl`` s."""
        payload = _b64(json.dumps({"op": op, "key": media_url,
                                   "exp": time.time() + self.url_ttl}).encode("utf-8"))
        mac = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()
        return f"{payload}.{_b64(mac)}"

    def verify(self, op: str, token: str) -> str:
        """Return the ``media://`` URL a valid token grants ``op`` on.

        Raises
        ------
        TokenError
            Malformed, forged, expired, or made for another operation.
        """
        try:
            payload, mac = token.split(".")
            expected = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(mac)):
                raise TokenError("Invalid signature")
            data = json.loads(_unb64(payload))
        except TokenError:
            raise
        except (ValueError, UnicodeError) as exc:
            raise TokenError("Malformed token") from exc
        if data.get("op") != op:
            raise TokenError(f"Token does not allow {op.upper()}")
        if float(data.get("exp", 0)) < time.time():
            raise TokenError("Token expired; request a new URL")
        return str(data["key"])

    # ----------------------------------------------------------------- streaming

    async def write_stream(self, media_url: str, chunks: AsyncIterator[bytes],
                           content_length: int | None = None) -> int:
        """Stream an upload to disk and return its size in bytes.

        Raises
        ------
        PayloadTooLarge
            ``content_length`` or the bytes actually received exceed ``max_upload_bytes``;
            nothing is stored (a previous upload under the same key is kept).
        """
        limit = self.max_upload_bytes
        if content_length is not None and content_length > limit:
            raise PayloadTooLarge(f"Upload of {content_length} bytes exceeds the limit of {limit} bytes",
                                  status_code=413)
        target = self.path_for(media_url)
        partial = self.uploads / f".{uuid.uuid4().hex}.part"
        size = 0
        try:
            with open(partial, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(
                            f"Upload exceeds the limit of {limit} bytes", status_code=413)
                    out.write(chunk)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return size

    def new_download_path(self) -> Path:
        """A fresh file name for an http(s) download (the caller deletes it)."""
        return self.downloads / f"{uuid.uuid4().hex}.bin"


def probe_duration(path: Path) -> float | None:
    """Duration in seconds of an audio file, or None when it cannot be told cheaply.

    Uses the stdlib ``wave`` module, then ``soundfile`` if it is installed. Never raises.
    """
    import wave

    try:
        with wave.open(str(path), "rb") as w:
            rate = w.getframerate()
            return w.getnframes() / rate if rate else None
    except (wave.Error, EOFError, OSError):
        pass
    try:
        import soundfile  # optional (local extra)

        info = soundfile.info(str(path))
        return float(info.frames) / info.samplerate if info.samplerate else None
    except Exception:  # noqa: BLE001 - any failure means "unknown"
        return None

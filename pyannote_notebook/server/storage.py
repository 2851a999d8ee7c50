"""Uploaded media of the local server: ``media://`` keys, presigned tokens, files on disk.

Why hand-written: this is the server's model of S3 presigned URLs. Two safety rules drive it:

* a ``media://`` key never becomes a file path: the file name is the SHA-256 of the key, so
  ``media://../x`` or ``media://a/../../etc`` land inside the upload area like any other key;
* presigned URLs carry an HMAC-signed token (operation, owner, key, expiry) made with a
  per-server random key, so the storage routes need no API key and cannot be forged or replayed
  for another key or another owner.

The ``media://`` namespace is per API key, as in the cloud (per team/key): every key is stored
under ``uploads/<owner>/`` where ``owner`` is :func:`owner_id` of the API key (a SHA-256 prefix,
never the key itself), so two keys may use the same ``media://`` name without seeing each other's
bytes.

Uploads are streamed to a temporary file and renamed into place only when complete, so an upload
cut short (413, dropped connection) never replaces a good file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from ..errors import PayloadTooLarge

__all__ = ["UploadStore", "TokenError", "probe_duration", "owner_id"]

_OWNER = re.compile(r"[0-9a-f]{1,64}")


def owner_id(api_key: str | bytes) -> str:
    """The namespace of an API key: 32 hex digits of its SHA-256 (the key itself is never stored)."""
    raw = api_key.encode("utf-8") if isinstance(api_key, str) else api_key
    return hashlib.sha256(raw).hexdigest()[:32]


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

    def path_for(self, media_url: str, owner: str) -> Path:
        """File holding ``media_url``'s bytes in ``owner``'s namespace (whether or not it exists);
        always ``uploads/<owner>/<sha256 of the key>.bin``.

        Raises
        ------
        ValueError
            ``owner`` is not an :func:`owner_id` (1-64 lowercase hex digits).
        """
        if not _OWNER.fullmatch(owner):
            raise ValueError(f"owner must be an owner_id (lowercase hex), got {owner!r}")
        digest = hashlib.sha256(media_url.encode("utf-8")).hexdigest()
        return self.uploads / owner / f"{digest}.bin"

    def exists(self, media_url: str, owner: str) -> bool:
        """Whether ``owner`` uploaded something under ``media_url``."""
        return self.path_for(media_url, owner).is_file()

    # ----------------------------------------------------------------- presigned tokens

    def sign(self, op: str, media_url: str, owner: str) -> str:
        """Return a token allowing ``op`` (``"put"`` or ``"get"``) on ``owner``'s ``media_url`` for
        ``url_ttl`` s."""
        payload = _b64(json.dumps({"op": op, "key": media_url, "own": owner,
                                   "exp": time.time() + self.url_ttl}).encode("utf-8"))
        mac = hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest()
        return f"{payload}.{_b64(mac)}"

    def verify(self, op: str, token: str) -> tuple[str, str]:
        """Return ``(media URL, owner)`` a valid token grants ``op`` on.

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
        owner = str(data.get("own", ""))
        if not _OWNER.fullmatch(owner):
            raise TokenError("Malformed token")
        return str(data["key"]), owner

    # ----------------------------------------------------------------- streaming

    async def write_stream(self, media_url: str, owner: str, chunks: AsyncIterator[bytes],
                           content_length: int | None = None) -> int:
        """Stream an upload to disk (``owner``'s namespace) and return its size in bytes.

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
        target = self.path_for(media_url, owner)
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
            target.parent.mkdir(exist_ok=True)
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

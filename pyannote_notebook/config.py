"""Where settings come from: API key, base URL, store path.

Resolution order (first wins):

* API key: the ``api_key`` argument, then ``PYANNOTEAI_API_KEY``, then ``PYANNOTE_API_KEY``.
  No key at all means "use the embedded local engine".
* Base URL: the ``base_url`` argument, then ``PYANNOTEAI_BASE_URL``, then
  ``https://api.pyannote.ai/v1``.
* Store path: the ``path`` argument, then ``PYANNOTE_NOTEBOOK_STORE``, then
  ``~/.cache/pyannote-notebook/jobs.sqlite3`` (``$XDG_CACHE_HOME`` honoured).

Keys are wrapped in :class:`Secret` as soon as they are read, so that a repr, a log line or an
exception never shows them.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "Secret",
    "DEFAULT_BASE_URL",
    "resolve_api_key",
    "resolve_base_url",
    "default_store_path",
]

DEFAULT_BASE_URL = "https://api.pyannote.ai/v1"
API_KEY_ENV_VARS = ("PYANNOTEAI_API_KEY", "PYANNOTE_API_KEY")
BASE_URL_ENV_VAR = "PYANNOTEAI_BASE_URL"
STORE_ENV_VAR = "PYANNOTE_NOTEBOOK_STORE"


class Secret:
    """A string that never shows itself: ``repr`` and ``str`` print ``'***'``.

    Use :meth:`reveal` at the one place the value is needed (an HTTP header, an HMAC key).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        self._value = str(value)

    def reveal(self) -> str:
        """Return the secret value. Call only where it is sent or used as a key."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        import hmac

        if isinstance(other, Secret):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # pragma: no cover - refuse to pickle secrets by accident
        raise TypeError("Secret values cannot be pickled")


def resolve_api_key(api_key: str | Secret | None = None) -> Secret | None:
    """Return the API key from the argument or the environment, or ``None`` if there is none."""
    if api_key is not None and str(api_key if not isinstance(api_key, Secret) else api_key.reveal()):
        return Secret(api_key)  # type: ignore[arg-type]
    for var in API_KEY_ENV_VARS:
        value = os.environ.get(var, "").strip()
        if value:
            return Secret(value)
    return None


def resolve_base_url(base_url: str | None = None) -> str:
    """Return the API base URL (ending in ``/v1``, no trailing slash)."""
    url = base_url or os.environ.get(BASE_URL_ENV_VAR, "").strip() or DEFAULT_BASE_URL
    return url.rstrip("/")


def default_store_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the SQLite store path from the argument, ``PYANNOTE_NOTEBOOK_STORE`` or the default."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(STORE_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(cache) / "pyannote-notebook" / "jobs.sqlite3"

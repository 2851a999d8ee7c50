"""Per-API-key, per-route-group rate limits with fixed windows (what the newer docs describe).

Hand-written: a fixed-window counter is a dozen lines and no maintained library offers one that
reports the ``X-RateLimit-*`` values the API sends; the state is guarded by one lock so request
handlers and tests can share it.

Groups: ``create`` (POST diarize / identify / voiceprint / media/input / media/output) and ``read``
(GET /v1/jobs/{id}, /v1/jobs, /v2/jobs). Windows are aligned on multiples of ``window`` seconds since
the epoch, so ``X-RateLimit-Reset`` (epoch seconds) is the same for every client in a window.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimits", "RateLimiter", "RateDecision"]


@dataclass
class RateLimits:
    """Rate limits of the local server.

    Parameters
    ----------
    create_per_minute : int | None
        Job-creating and media-URL requests allowed per minute and API key (None: unlimited).
    read_per_minute : int | None
        Job reads (GET /v1/jobs/{id}, /v1/jobs, /v2/jobs) per minute and API key (None: unlimited).
    window : float
        Length of the fixed window in seconds. The allowance per window keeps the per-minute
        rate: ``max(1, round(per_minute * window / 60))``; tests pass small windows.
    """

    create_per_minute: int | None = 100
    read_per_minute: int | None = 300
    window: float = 60.0

    def __post_init__(self) -> None:
        if not self.window > 0:
            raise ValueError(f"RateLimits.window must be > 0, got {self.window!r}")
        for name in ("create_per_minute", "read_per_minute"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"RateLimits.{name} must be >= 1 or None, got {value!r}")

    def allowance(self, group: str) -> int | None:
        """Requests allowed per window for ``group`` (``"create"`` or ``"read"``), None = unlimited."""
        per_minute = self.create_per_minute if group == "create" else self.read_per_minute
        if per_minute is None:
            return None
        return max(1, round(per_minute * self.window / 60.0))


@dataclass(frozen=True)
class RateDecision:
    """Outcome of one request against its limit."""

    allowed: bool
    limit: int
    remaining: int
    reset: float  # epoch seconds when the window ends

    def headers(self, now: float | None = None) -> dict[str, str]:
        """``X-RateLimit-*`` headers; on a refusal also ``X-RateLimit-Reset`` and ``Retry-After``."""
        out = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}
        if not self.allowed:
            now = time.time() if now is None else now
            out["X-RateLimit-Reset"] = str(math.ceil(self.reset))
            out["Retry-After"] = str(max(1, math.ceil(self.reset - now)))
        return out


class RateLimiter:
    """Fixed-window counters keyed by (API key id, group). Thread-safe.

    Parameters
    ----------
    limits : RateLimits
        Read at every call, so changing its fields at runtime takes effect at once.
    clock : Callable[[], float]
        Time source (epoch seconds).
    """

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], tuple[int, int]] = {}  # -> (window index, count)

    def hit(self, key_id: str, group: str) -> RateDecision | None:
        """Count one request; None when the group is unlimited."""
        allowance = self.limits.allowance(group)
        if allowance is None:
            return None
        window = self.limits.window
        now = self._clock()
        index = int(now // window)
        reset = (index + 1) * window
        with self._lock:
            current, count = self._counts.get((key_id, group), (index, 0))
            if current != index:
                count = 0
            if count >= allowance:
                self._counts[(key_id, group)] = (index, count)
                return RateDecision(False, allowance, 0, reset)
            count += 1
            self._counts[(key_id, group)] = (index, count)
            return RateDecision(True, allowance, allowance - count, reset)

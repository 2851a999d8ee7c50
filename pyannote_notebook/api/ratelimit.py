"""Client-side rate budget: stay under the service's per-minute limits instead of hitting 429s.

Why hand-written: requests/urllib3 have no client-side rate limiter, and the budget must be
shared by threads and learn from the server's ``X-RateLimit-*`` headers.

Each bucket is a token bucket whose tokens come back **one window (60 s) after they were
spent** (a sliding-window log). A classic refill-at-rate bucket of capacity C lets C + R requests
through in a minute, which is above the service's "R per minute" limit; returning each token a
window after use never exceeds R in any window, fixed or sliding.

The client takes tokens with ``acquire(..., until_release=True)`` and calls ``release()`` when
the answer (or the error) is in hand: the token is held while the request is in flight and comes
back one window after the *answer*. Counting from the send instead would let a request that
reaches the server late (a slow upload body, a loaded machine) fall into the server's next
window on top of that window's full allowance: a 429. Counting from the answer proves the
bound: the requests the server counts in one window [T, T + W) were all answered after T, so
at the moment the last of them was sent every one held its token (held until answer + W >=
T + W), hence there are at most R of them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

__all__ = ["RateBudget", "Bucket"]


class Bucket:
    """At most ``limit`` acquisitions in any ``window`` seconds; thread-safe.

    Parameters
    ----------
    limit : int
        Requests allowed per window.
    window : float
        Window length in seconds.
    clock : callable
        Monotonic clock (injectable for tests).
    """

    def __init__(self, limit: int, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = int(limit)
        self.window = float(window)
        self._clock = clock
        self._spent: deque[float] = deque()
        self._inflight = 0  # tokens taken with until_release=True and not yet released
        self._not_before = 0.0
        self._cond = threading.Condition()

    def delay(self) -> float:
        """Seconds until a token is free (0 when one is free now); does not take it."""
        with self._cond:
            return self._delay_locked(self._clock())

    def _delay_locked(self, now: float) -> float:
        while self._spent and self._spent[0] <= now - self.window:
            self._spent.popleft()
        wait = max(0.0, self._not_before - now)
        free = self.limit - self._inflight  # tokens the returned log may still use
        if free <= 0:
            return max(wait, self.window)  # every token is in flight: wait for a release
        if len(self._spent) >= free:
            wait = max(wait, self._spent[len(self._spent) - free] + self.window - now)
        return wait

    def acquire(self, timeout: float | None = None, *, until_release: bool = False) -> bool:
        """Take a token, blocking until one is free.

        Returns ``False`` (no token taken) if ``timeout`` seconds pass first, else ``True``.
        With ``until_release=True`` the token stays taken until :meth:`release` and comes back
        one window after that call (see the module docstring); the caller must release it.
        """
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                now = self._clock()
                wait = self._delay_locked(now)
                if wait <= 0:
                    if until_release:
                        self._inflight += 1
                    else:
                        self._spent.append(now)
                    return True
                if deadline is not None:
                    if now >= deadline:
                        return False
                    wait = min(wait, deadline - now)
                self._cond.wait(wait)

    def release(self) -> None:
        """Give back a token taken with ``until_release=True``: it is spent now, and free again
        one window later."""
        with self._cond:
            if self._inflight <= 0:
                raise RuntimeError("Bucket.release() without a matching acquire(until_release=True)")
            self._inflight -= 1
            self._spent.append(self._clock())
            self._cond.notify_all()

    def hold_until(self, when: float) -> None:
        """Give no token before monotonic time ``when`` (the server said the window is spent)."""
        with self._cond:
            self._not_before = max(self._not_before, when)


class RateBudget:
    """The two budgets of a client: job-creating requests and job reads.

    Parameters
    ----------
    create_per_minute : int
        Uploads (``/media/input``) and ``diarize/identify/voiceprint`` POSTs per minute
        (the service publishes 100).
    read_per_minute : int
        ``GET /v1/jobs/{id}`` and ``GET /v2/jobs`` per minute (the service publishes 300).
    window : float
        Window length in seconds.

    ``acquire(name)`` blocks until the named bucket has a token (it sleeps; there is no
    timeout by default). ``observe(name, status, headers)`` learns from responses: a
    ``Retry-After`` or ``X-RateLimit-Remaining: 0`` holds the bucket until the announced reset
    (with no reset announced, until the next boundary of a fixed window aligned on multiples of
    ``window`` since the epoch), and ``X-RateLimit-Limit/Remaining`` feed :meth:`pressure` (the configured limits are never
    changed: the server's window may differ from ours).
    """

    def __init__(self, create_per_minute: int = 100, read_per_minute: int = 300, *,
                 window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.buckets: dict[str, Bucket] = {
            "create": Bucket(create_per_minute, window, clock),
            "read": Bucket(read_per_minute, window, clock),
        }
        self._remaining: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        c, r = self.buckets["create"], self.buckets["read"]
        return f"RateBudget(create_per_minute={c.limit}, read_per_minute={r.limit})"

    def acquire(self, name: str, timeout: float | None = None, *,
                until_release: bool = False) -> bool:
        """Take a token from bucket ``name`` (``"create"`` or ``"read"``), blocking if needed
        (see :meth:`Bucket.acquire`)."""
        return self.buckets[name].acquire(timeout, until_release=until_release)

    def release(self, name: str) -> None:
        """Give back a token of bucket ``name`` taken with ``until_release=True``."""
        self.buckets[name].release()

    def pressure(self, name: str) -> float:
        """Fraction of the server-announced budget already used (0.0 when unknown)."""
        with self._lock:
            limit, remaining = self._remaining.get(name, (0, 0))
        if limit <= 0:
            return 0.0
        return max(0.0, min(1.0, 1.0 - remaining / limit))

    def observe(self, name: str, status: int, headers: Mapping[str, str],
                retry_after: float | None = None) -> None:
        """Learn from a response's rate-limit headers (see class docstring)."""
        bucket = self.buckets.get(name)
        if bucket is None:
            return
        now = self._clock()
        limit = _int_header(headers, "X-RateLimit-Limit")
        remaining = _int_header(headers, "X-RateLimit-Remaining")
        if limit is not None:
            if remaining is not None:
                with self._lock:
                    self._remaining[name] = (limit, remaining)
        hold: float | None = None
        if retry_after is not None:
            hold = retry_after
        if (remaining == 0 or status == 429) and hold is None:
            reset = _float_header(headers, "X-RateLimit-Reset")
            if reset is not None:
                # epoch seconds per the docs; tolerate "seconds until reset" too
                hold = reset - time.time() if reset > 1e9 else reset
            elif remaining == 0:
                # budget spent and no reset announced (the docs send Reset only on a 429): the
                # published windows are fixed, so wait for the next window boundary rather than
                # spend a request on a certain 429 (a 429 then still tells the real reset)
                hold = bucket.window - time.time() % bucket.window
        if hold is not None:
            bucket.hold_until(now + max(0.0, min(hold, bucket.window)))


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = _float_header(headers, name)
    return None if value is None else int(value)


def _float_header(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

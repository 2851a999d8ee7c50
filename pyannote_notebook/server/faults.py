"""Fault injection for the local server: 5xx answers, dropped connections, slow replies, 429 bursts.

Hand-written because it is a test instrument, not a library concern: the server asks
:meth:`Faults.decide` once per request (before authentication, so an injected 5xx never creates a
job) and acts on the :class:`FaultDecision`. The object is mutable at runtime (tests change rates
in the middle of a run through ``handle.faults``); decisions are drawn under a lock from one
``random.Random`` so a seeded run is reproducible for a given request order.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Collection
from dataclasses import dataclass, field

from ..errors import InvalidOption

__all__ = ["Faults", "FaultDecision", "STORAGE_PREFIX"]

#: Path prefix of the presigned storage routes (PUT upload, GET download). Faults never hit these
#: unless ``Faults.paths`` names them explicitly.
STORAGE_PREFIX = "/storage/"


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request.

    Attributes
    ----------
    slow : float
        Seconds to wait before handling (0 = not slowed).
    error_status : int | None
        Answer with this 5xx status before doing anything (no job is created).
    drop : str | None
        ``"before"``: close the connection without answering and without handling;
        ``"after"``: handle the request (a job IS created) and then close the connection
        without sending the answer (the double-billing hazard).
    rate_limited : bool
        Answer 429 (part of a burst).
    """

    slow: float = 0.0
    error_status: int | None = None
    drop: str | None = None
    rate_limited: bool = False

    @property
    def any(self) -> bool:
        """Whether anything is injected."""
        return bool(self.slow or self.error_status or self.drop or self.rate_limited)


NO_FAULT = FaultDecision()


@dataclass
class Faults:
    """Configurable misbehaviour of the server (all rates are probabilities in [0, 1]).

    Parameters
    ----------
    error_rate : float
        Share of requests answered with a 5xx (one of ``error_statuses``) before anything is
        done: no job is created, nothing is stored.
    drop_rate : float
        Share of requests whose connection is closed without an answer. For job-creating POSTs a
        share ``drop_after_create`` of those drops happens *after* the job was created.
    slow_rate : float
        Share of requests delayed by ``slow_seconds`` before being handled.
    slow_seconds : float
        Delay of a slow reply.
    burst_429_every : int
        Every N-th eligible request starts a burst of ``burst_429_length`` consecutive 429
        answers (with ``Retry-After: retry_after``). 0 disables bursts. Must exceed
        ``burst_429_length`` (otherwise every request would be a 429).
    seed : int | None
        Seed of the random generator (None: unpredictable).
    paths : Collection[str] | None
        Restrict faults to these routes: an entry matches a request whose route template equals
        it (``"/v1/jobs/{job_id}"``), whose path equals it, or whose path starts with it followed
        by ``/``. ``None``: every API route, but never the presigned storage routes.
    drop_after_create : float
        Share of the drops on job-creating POSTs (diarize, identify, voiceprint) that happen
        after the job was created.
    burst_429_length : int
        Length of a 429 burst (< ``burst_429_every`` when bursts are on).
    retry_after : int
        ``Retry-After`` seconds sent on injected 429s.
    error_statuses : tuple[int, ...]
        5xx statuses to pick from.
    """

    error_rate: float = 0.0
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 1.0
    burst_429_every: int = 0
    seed: int | None = None
    paths: Collection[str] | None = None
    drop_after_create: float = 0.5
    burst_429_length: int = 1
    retry_after: int = 1
    error_statuses: tuple[int, ...] = (500, 502, 503)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _eligible: int = field(default=0, init=False, repr=False, compare=False)
    _burst_left: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_rate", "slow_rate", "drop_after_create"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"Faults.{name} must be within [0, 1], got {value!r}")
        if self.burst_429_every < 0 or self.burst_429_length < 1:
            raise ValueError("Faults.burst_429_every must be >= 0 and burst_429_length >= 1")
        if self.burst_429_every and self.burst_429_length >= self.burst_429_every:
            raise InvalidOption(
                "burst_429_length",
                f"Faults.burst_429_length ({self.burst_429_length}) must be smaller than burst_429_every "
                f"({self.burst_429_every}): otherwise every request is answered 429")
        self._rng = random.Random(self.seed)

    def applies_to(self, path: str, template: str | None) -> bool:
        """Whether faults may hit a request on ``path`` (route ``template``)."""
        if self.paths is None:
            return not path.startswith(STORAGE_PREFIX)
        for entry in self.paths:
            if entry == template or entry == path or path.startswith(entry.rstrip("/") + "/"):
                return True
        return False

    def decide(self, path: str, template: str | None, *, creates_job: bool) -> FaultDecision:
        """Draw the faults of one request (thread-safe). Never raises."""
        if not self.applies_to(path, template):
            return NO_FAULT
        with self._lock:
            rng = self._rng
            slow = self.slow_seconds if self.slow_rate and rng.random() < self.slow_rate else 0.0
            self._eligible += 1
            if self._burst_left > 0:
                self._burst_left -= 1
                return FaultDecision(slow=slow, rate_limited=True)
            if self.burst_429_every and self._eligible % self.burst_429_every == 0:
                self._burst_left = self.burst_429_length - 1
                return FaultDecision(slow=slow, rate_limited=True)
            if self.error_rate and rng.random() < self.error_rate:
                return FaultDecision(slow=slow, error_status=rng.choice(self.error_statuses))
            if self.drop_rate and rng.random() < self.drop_rate:
                after = creates_job and rng.random() < self.drop_after_create
                return FaultDecision(slow=slow, drop="after" if after else "before")
            return FaultDecision(slow=slow) if slow else NO_FAULT

"""When to poll a job: backoff plus a completion prediction.

Why hand-written: no library knows how long pyannoteAI jobs take. The planner combines

* plain backoff (first poll near 1 s, x1.5 per poll, capped at ``cap`` s) when nothing is known;
* a prediction of the completion time when the audio duration is known **and** this process has
  seen jobs of the same kind on the same service finish: ``processing ~= rate * audio_duration``
  with ``rate`` the median of the observed processing-seconds per audio-second (from the
  service's ``createdAt``/``updatedAt``), and an uncertainty from their spread.

With a prediction it sleeps until shortly before the predicted completion (halving the remaining
time at each poll, so an early finish is still caught within half the remaining time), then polls
densely (0.25-0.5 s) through the uncertainty window, then falls back to backoff.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque
from dataclasses import dataclass

__all__ = ["RateEstimator", "PollPlanner", "estimator_for"]


class RateEstimator:
    """Online estimate of processing seconds per audio second for one (service, kind); thread-safe."""

    def __init__(self, max_samples: int = 50) -> None:
        self._ratios: deque[float] = deque(maxlen=max_samples)
        self._lock = threading.Lock()

    def record(self, processing_seconds: float, audio_duration: float) -> None:
        """Add one finished job (ignored unless both values are positive)."""
        if processing_seconds > 0 and audio_duration > 0:
            with self._lock:
                self._ratios.append(processing_seconds / audio_duration)

    def estimate(self) -> tuple[float, float] | None:
        """``(rate, relative_spread)`` or ``None`` before the first observation."""
        with self._lock:
            ratios = list(self._ratios)
        if not ratios:
            return None
        rate = statistics.median(ratios)
        if len(ratios) < 2 or rate <= 0:
            return rate, 0.0
        mad = statistics.median(abs(r - rate) for r in ratios)
        return rate, mad / rate

    def __len__(self) -> int:
        with self._lock:
            return len(self._ratios)


_ESTIMATORS: dict[tuple[str, str], RateEstimator] = {}
_ESTIMATORS_LOCK = threading.Lock()


def estimator_for(base_url: str, kind: str | None) -> RateEstimator:
    """The process-wide estimator of ``(base_url, kind)`` (created on first use)."""
    key = (base_url, kind or "?")
    with _ESTIMATORS_LOCK:
        est = _ESTIMATORS.get(key)
        if est is None:
            est = _ESTIMATORS[key] = RateEstimator()
        return est


@dataclass
class PollPlanner:
    """Decides the delay before the next poll of one job.

    Parameters
    ----------
    started : float
        Monotonic time at which the job was created (the prediction's origin).
    audio_duration : float | None
        Seconds of audio, if known.
    estimator : RateEstimator | None
        Learned processing rate for the job's service and kind.
    first : float
        Delay of the first poll when nothing better is known.
    factor, cap : float
        Backoff growth and cap.
    dense : tuple[float, float]
        Bounds of the dense polling interval around the predicted completion.
    """

    started: float
    audio_duration: float | None = None
    estimator: RateEstimator | None = None
    first: float = 1.0
    factor: float = 1.5
    cap: float = 10.0
    dense: tuple[float, float] = (0.25, 0.5)
    polls: int = 0
    _backoff: float = 0.0
    _missed_until: float = -1.0

    def prediction(self) -> tuple[float, float] | None:
        """``(predicted completion, uncertainty)`` in monotonic seconds, or ``None``."""
        if self.estimator is None or not self.audio_duration or self.audio_duration <= 0:
            return None
        est = self.estimator.estimate()
        if est is None:
            return None
        rate, spread = est
        processing = rate * self.audio_duration
        uncertainty = 0.25 + 0.02 * processing + 2.0 * spread * processing
        return self.started + processing, uncertainty

    def next_delay(self, now: float, pressure: float = 0.0) -> float:
        """Seconds to wait before the next poll (call once per poll).

        ``pressure`` is the fraction of the server's read budget already used; above 0.8 the
        backoff delays double so that polling leaves room for other requests.
        """
        self.polls += 1
        pred = self.prediction()
        if pred is not None:
            done_at, u = pred
            lo, hi = done_at - u, done_at + u
            if hi > self._missed_until:
                if now < lo:
                    remaining = lo - now
                    if self.polls == 1 and remaining > self.cap:
                        # a long job: look once early (an unreadable file fails within
                        # seconds); a short one is first looked at when it may be done, so a
                        # failure surfaces at most ``cap`` s late and no GET is spent before
                        return min(self.first, remaining)
                    return remaining if remaining <= self.cap else max(self.cap, remaining / 2)
                if now <= hi:
                    return min(self.dense[1], max(self.dense[0], u / 2))
                self._missed_until = hi  # window passed without completion: back off
                self._backoff = 0.0
        if self._backoff <= 0:
            self._backoff = self.first
        else:
            self._backoff = min(self.cap, self._backoff * self.factor)
        delay = self._backoff
        if pressure > 0.8:
            delay = min(2 * self.cap, delay * 2)
        return delay

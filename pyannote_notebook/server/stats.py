"""Counters of what the local server saw, for test assertions and benchmarks (thread-safe)."""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["ServerStats", "agent_family"]


def agent_family(user_agent: str | None) -> str:
    """The client family of a ``User-Agent`` header: its text up to the first ``/``, or ``""``.

    ``"pyannote-notebook/0.1.0"`` -> ``"pyannote-notebook"``; ``"pyannoteAI-sdk-python/0.4.0"``
    -> ``"pyannoteAI-sdk-python"``; a missing or empty header -> ``""``.
    """
    if not user_agent:
        return ""
    return user_agent.split("/", 1)[0].strip()


class ServerStats:
    """Request, response, job and webhook counters.

    Attributes
    ----------
    requests : Counter[tuple[str, str]]
        ``(method, route template)`` -> requests received (faulted and refused ones included),
        e.g. ``("GET", "/v1/jobs/{job_id}")``. Unknown paths count under their raw path.
    responses_by_status : Counter[int]
        Status code -> responses sent (dropped connections are not responses).
    jobs_created : int
        Jobs created (including those whose answer was then dropped by fault injection).
    jobs_created_by_kind : Counter[str]
        ``"diarize"`` / ``"identify"`` / ``"voiceprint"`` -> jobs created.
    job_reads : Counter[str]
        Job id -> ``GET /v1/jobs/{id}`` requests for it (how many polls a job cost).
    job_reads_by_agent : Counter[tuple[str, str]]
        ``(job id, agent family)`` -> ``GET /v1/jobs/{id}`` requests for it, the family being the
        request's ``User-Agent`` up to its first ``/`` (``"pyannote-notebook"`` for this package's
        client, ``"pyannoteAI-sdk-python"`` for the official SDK) or ``""`` without the header.
        Tells apart the polls of several clients waiting on the same job; its values sum to
        :attr:`job_reads`'s.
    webhook_attempts : int
        Webhook POST attempts (first attempts and retries).
    dropped_connections : int
        Connections closed on purpose by fault injection.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str]] = Counter()
        self.responses_by_status: Counter[int] = Counter()
        self.jobs_created = 0
        self.jobs_created_by_kind: Counter[str] = Counter()
        self.job_reads: Counter[str] = Counter()
        self.job_reads_by_agent: Counter[tuple[str, str]] = Counter()
        self.webhook_attempts = 0
        self.dropped_connections = 0

    def __repr__(self) -> str:
        return (f"ServerStats(requests={sum(self.requests.values())}, jobs_created={self.jobs_created}, "
                f"webhook_attempts={self.webhook_attempts})")

    def count_request(self, method: str, route: str) -> None:
        with self._lock:
            self.requests[(method, route)] += 1

    def count_response(self, status: int) -> None:
        with self._lock:
            self.responses_by_status[status] += 1

    def count_job(self, kind: str) -> None:
        with self._lock:
            self.jobs_created += 1
            self.jobs_created_by_kind[kind] += 1

    def count_job_read(self, job_id: str, user_agent: str | None = None) -> None:
        family = agent_family(user_agent)
        with self._lock:
            self.job_reads[job_id] += 1
            self.job_reads_by_agent[(job_id, family)] += 1

    def count_webhook_attempt(self) -> None:
        with self._lock:
            self.webhook_attempts += 1

    def count_drop(self) -> None:
        with self._lock:
            self.dropped_connections += 1

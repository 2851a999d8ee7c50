"""Plain, immutable views of the service's job JSON: :class:`JobInfo` and :class:`JobSummary`.

The wire format (camelCase) stops here: everything above ``api/`` reads these dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["TERMINAL_STATUSES", "JobInfo", "JobSummary", "parse_timestamp"]

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})


def parse_timestamp(value: object) -> datetime | None:
    """Parse an ISO-8601 timestamp (``"2026-11-24T04:03:16.123Z"``) to an aware UTC datetime.

    Returns ``None`` for ``None`` or anything unparsable (the field is informative only).
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


@dataclass(frozen=True)
class JobInfo:
    """One observation of a job: the answer of ``GET /v1/jobs/{id}``, a creation or a webhook.

    Attributes
    ----------
    job_id, status : str
    created_at, updated_at : datetime | None
        Aware UTC datetimes (``None`` when the source did not carry them, e.g. a webhook).
    output : dict | None
        The job output (``{"error": ...}`` for failed jobs); ``None`` while running or expired.
    raw : dict
        The JSON object as received.
    kind : str | None
        ``"diarize" | "identify" | "voiceprint"`` when the client knows it (the service does not
        say); ``None`` otherwise.
    """

    job_id: str
    status: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    output: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    kind: str | None = None

    @property
    def done(self) -> bool:
        """Whether the status is terminal (succeeded, failed or canceled)."""
        return self.status in TERMINAL_STATUSES

    @property
    def processing_seconds(self) -> float | None:
        """``updated_at - created_at`` in seconds for a finished job, else ``None``."""
        if not self.done or self.created_at is None or self.updated_at is None:
            return None
        return (self.updated_at - self.created_at).total_seconds()

    @classmethod
    def from_json(cls, data: dict[str, Any], kind: str | None = None) -> JobInfo:
        """Build from a job object (``jobId``/``status``/...); missing fields become ``None``."""
        output = data.get("output")
        return cls(
            job_id=str(data.get("jobId") or data.get("id") or ""),
            status=str(data.get("status") or "unknown"),
            created_at=parse_timestamp(data.get("createdAt")),
            updated_at=parse_timestamp(data.get("updatedAt")),
            output=output if isinstance(output, dict) else None,
            raw=dict(data),
            kind=kind,
        )


@dataclass(frozen=True)
class JobSummary:
    """One item of ``GET /v2/jobs``: id, status, creation time (no output)."""

    job_id: str
    status: str
    created_at: datetime | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobSummary:
        """Build from a list item ``{"id", "status", "createdAt"}``."""
        return cls(
            job_id=str(data.get("id") or data.get("jobId") or ""),
            status=str(data.get("status") or "unknown"),
            created_at=parse_timestamp(data.get("createdAt")),
        )

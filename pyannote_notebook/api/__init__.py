"""The pyannoteAI API client (see ARCHITECTURE.md: the ``api`` layer).

Importing this package is light: ``requests`` and the standard library only (numpy/scipy are
imported inside ``upload`` when an array is uploaded).
"""

from __future__ import annotations

from pyannote_notebook.api.client import Client
from pyannote_notebook.api.job import Job, notify_job
from pyannote_notebook.api.models import TERMINAL_STATUSES, JobInfo, JobSummary
from pyannote_notebook.api.options import DiarizeOptions, IdentifyOptions, VoiceprintOptions
from pyannote_notebook.api.ratelimit import RateBudget

__all__ = [
    "Client",
    "Job",
    "JobInfo",
    "JobSummary",
    "DiarizeOptions",
    "IdentifyOptions",
    "VoiceprintOptions",
    "RateBudget",
    "notify_job",
    "TERMINAL_STATUSES",
]

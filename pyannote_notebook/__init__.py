"""pyannote-notebook: diarize audio from Jupyter with pyannoteAI or offline, keep every result,
analyse and plot it.

Public names are imported lazily (PEP 562) so that ``import pyannote_notebook`` stays fast:
matplotlib, pandas, scipy and the engine load only when a name that needs them is used.
"""

from __future__ import annotations

from pyannote_notebook._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    **{
        name: "pyannote_notebook.errors"
        for name in (
            "PyannoteNotebookError", "InvalidOption", "APIError", "FieldError", "BadRequest",
            "AuthenticationError", "PaymentRequired", "NotFound", "PayloadTooLarge",
            "RateLimited", "ServerError", "ConnectionFailed", "JobError", "JobFailed",
            "JobCanceled", "WaitTimeout", "StoreError", "SignatureError", "FormatError",
            "EngineError", "AudioError", "WeightsMissing", "ServerStartError",
        )
    },
    "Secret": "pyannote_notebook.config",
    # results and formats
    "Result": "pyannote_notebook.results.result",
    **{
        name: "pyannote_notebook.results.formats"
        for name in (
            "read_rttm", "write_rttm", "read_uem", "write_uem", "parse_rttm", "parse_uem",
            "annotation_to_dataframe", "dataframe_to_annotations", "MalformedLinesWarning",
        )
    },
    # analysis
    **{
        name: "pyannote_notebook.analysis.stats"
        for name in ("speaker_stats", "file_stats", "corpus_stats", "interruptions")
    },
    "evaluate": "pyannote_notebook.analysis.scoring",
    "Report": "pyannote_notebook.analysis.scoring",
    "compare": "pyannote_notebook.analysis.compare",
    # jobs: the face a notebook uses
    **{
        name: "pyannote_notebook.jobs.session"
        for name in (
            "diarize", "submit", "identify", "voiceprint", "diarize_many", "job",
            "adiarize", "asubmit", "adiarize_many", "configure",
        )
    },
    "Job": "pyannote_notebook.jobs.handle",
    "Batch": "pyannote_notebook.jobs.batch",
    "JobStore": "pyannote_notebook.jobs.store",
    "WebhookReceiver": "pyannote_notebook.jobs.webhooks",
    "WebhookHandler": "pyannote_notebook.jobs.webhooks",
    "verify_signature": "pyannote_notebook.jobs.webhooks",
    # api and server
    "Client": "pyannote_notebook.api",
    "start_server": "pyannote_notebook.server",
    # display
    **{
        name: "pyannote_notebook.display"
        for name in ("plot_timeline", "plot_comparison", "plot_speaker_time")
    },
}

# subpackages reachable as attributes before anyone imported them (``pn.jobs(...)`` lists the
# store's jobs: the jobs package is callable)
_SUBMODULES = ("jobs", "samples", "api", "results", "analysis", "display", "engine", "server")

__all__ = sorted(_EXPORTS) + ["__version__", "jobs"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)

"""Results layer: a job's output as Annotation / DataFrames, and the RTTM / UEM formats.

Names are imported lazily (PEP 562): ``pyannote_notebook.results.formats`` is on the light
``evaluate`` CLI path, which must not pay for pandas or pyannote.core through this package.
"""

from __future__ import annotations

from pyannote_notebook._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Result": "pyannote_notebook.results.result",
    "read_rttm": "pyannote_notebook.results.formats",
    "write_rttm": "pyannote_notebook.results.formats",
    "read_uem": "pyannote_notebook.results.formats",
    "write_uem": "pyannote_notebook.results.formats",
    "annotation_to_dataframe": "pyannote_notebook.results.formats",
    "dataframe_to_annotations": "pyannote_notebook.results.formats",
    "parse_rttm": "pyannote_notebook.results.formats",
    "parse_uem": "pyannote_notebook.results.formats",
    "MalformedLinesWarning": "pyannote_notebook.results.formats",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

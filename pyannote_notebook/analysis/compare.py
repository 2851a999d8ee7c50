"""Several systems against one reference, side by side.

The table has one row per file (plus ``ALL``) and a column MultiIndex ``(system, metric)`` so
that ``table["cloud"]`` gives one system's columns and ``table.xs("der", axis=1, level=1)`` the
DER of every system: the shape that reads best in a notebook.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyannote_notebook.analysis.scoring import COLUMNS, evaluate
from pyannote_notebook.errors import InvalidOption

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["compare", "METRICS"]

#: Metrics shown per system, in order.
METRICS = ("der", "jer", "missed", "false_alarm", "confusion", "scored")


def compare(
    reference: Any,
    systems: Mapping[str, Any],
    uem: Any = None,
    collar: float = 0.0,
    skip_overlap: bool = False,
    convention: str = "md-eval",
) -> pd.DataFrame:
    """Score each system with :func:`~pyannote_notebook.analysis.scoring.evaluate` and join.

    Parameters
    ----------
    reference
        As for ``evaluate`` (Annotation, Result, mapping, RTTM path, RTTMData).
    systems : mapping name -> hypothesis
        Hypotheses in any form ``evaluate`` accepts; names become the top column level.
    uem, collar, skip_overlap, convention
        As for ``evaluate`` (collar in seconds **per side**).

    Returns
    -------
    DataFrame
        Index ``uri`` (files sorted, then ``ALL``), columns ``(system, metric)`` with metrics
        :data:`METRICS`; der/jer in percent, times in seconds, NaN where md-eval does not
        score a file.

    Raises
    ------
    InvalidOption
        ``systems`` is empty or not a mapping; any error of ``evaluate``.
    """
    import pandas as pd

    if not isinstance(systems, Mapping) or not systems:
        raise InvalidOption("systems", "expected a non-empty mapping name -> hypothesis")
    frames = {}
    for name, hypothesis in systems.items():
        report = evaluate(reference, hypothesis, uem=uem, collar=collar,
                          skip_overlap=skip_overlap, convention=convention)
        frame = report.per_file.set_index("uri")[list(METRICS)]
        frames[str(name)] = frame
    uris = sorted({u for f in frames.values() for u in f.index if u != "ALL"}) + ["ALL"]
    table = pd.concat({name: f.reindex(uris) for name, f in frames.items()}, axis=1)
    table.columns.names = ["system", "metric"]
    table.index.name = "uri"
    assert set(METRICS) <= set(COLUMNS)
    return table

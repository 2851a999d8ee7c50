"""The one fast Annotation builder shared by :class:`~pyannote_notebook.results.Result` and the
RTTM / DataFrame readers of :mod:`pyannote_notebook.results.formats`.

Building an Annotation with one ``annotation[Segment(start, end), track] = label`` per row costs a
``SortedDict`` insertion per row (O(n log n) Python comparisons plus bookkeeping). Here the rows
are sorted once with numpy (stable ``lexsort`` by ``(start, end)``) and handed to the public
:meth:`pyannote.core.Annotation.from_records` constructor in that order, whose ``SortedDict``
then sorts an already sorted run in n comparisons. No private pyannote.core attribute is touched.

The result is equal, track for track, to the per-row loop run in row order:

* empty segments (``not Segment(start, end)``: duration within pyannote.core's precision, 1 us
  by default) are dropped, as ``Annotation.__setitem__`` drops them;
* rows with the same segment land in the same per-segment track dict in row order (the sort is
  stable), and a repeated ``(segment, track)`` keeps the label of its last row, as assignment
  does.

numpy and pyannote.core are imported inside the functions: ``formats`` imports this module from
its Annotation-level readers only, and must stay importable without them.
"""

from __future__ import annotations

import gc
from collections.abc import Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import compress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from pyannote.core import Annotation

__all__ = ["annotation_from_columns", "gc_paused", "group_rows"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large acyclic structure is allocated.

    ``from_records`` allocates one dict per segment; with the collector on, these containers
    trigger young-generation and then full collections that rescan every object already built
    (about half of the build time for 100k segments). Nothing built here forms a cycle, so
    nothing is left for the collector to find; reference counting still frees everything. The
    previous state is restored even on error.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def group_rows(keys: Sequence[Hashable]) -> dict[Any, np.ndarray | None]:
    """Row indices of each key, keys in order of first appearance, rows in row order.

    Keys are compared as ``dict`` keys (what a ``out.get(key)`` loop does). ``None`` stands for
    "all rows" when there is a single key (the common one-file case: no indexing needed).
    """
    import numpy as np

    unique = dict.fromkeys(keys)
    if len(unique) <= 1:
        return unique
    index = {key: k for k, key in enumerate(unique)}
    codes = np.fromiter(map(index.__getitem__, keys), dtype=np.intp, count=len(keys))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(index) + 1))
    return {key: order[bounds[k]:bounds[k + 1]] for key, k in index.items()}


def annotation_from_columns(
    start: np.ndarray,
    end: np.ndarray,
    labels: Sequence[Any],
    tracks: Sequence[Hashable] | None = None,
    *,
    uri: str | None = None,
    rows: np.ndarray | None = None,
    presorted: bool = False,
) -> Annotation:
    """Build an Annotation in one pass, equal to the per-row ``annotation[...] = label`` loop.

    Parameters
    ----------
    start, end : numpy.ndarray
        float64 seconds, one per row (not modified; Segment times are ``.tolist()`` floats).
    labels : sequence
        Label of each row.
    tracks : sequence, optional
        Track name of each row. None: ``"A", "B", ...`` in chronological order of the kept
        segments, exactly as ``annotation.rename_tracks("string")`` names them.
    uri : str, optional
        ``Annotation.uri``.
    rows : numpy.ndarray of int, optional
        Use only these rows (in this order, which is the "row order" for ties); default all.
    presorted : bool
        The (selected) rows are already in the wanted chronological order: skip the sort.

    Returns
    -------
    pyannote.core.Annotation
    """
    with gc_paused():
        return _build(start, end, labels, tracks, uri, rows, presorted)


def _build(start: np.ndarray, end: np.ndarray, labels: Sequence[Any],
           tracks: Sequence[Hashable] | None, uri: str | None, rows: np.ndarray | None,
           presorted: bool) -> Annotation:
    import numpy as np
    from pyannote.core import Annotation, Segment

    if rows is None and (presorted or len(start) < 2):
        s, e, idx = start, end, None
    else:
        # lexsort is stable: rows with equal (start, end) keep their row order
        if rows is None:
            rows = np.lexsort((end, start))
        elif not presorted and len(rows) > 1:
            rows = rows[np.lexsort((end[rows], start[rows]))]
        s, e, idx = start[rows], end[rows], rows.tolist()
    segments = list(map(Segment, s.tolist(), e.tolist()))
    keep = list(map(bool, segments))  # Annotation.__setitem__ ignores empty segments
    label_seq = labels if idx is None else list(map(labels.__getitem__, idx))
    if tracks is None:
        from pyannote.core.utils.generators import string_generator

        names: Iterable[Any] = string_generator()
    else:
        names = compress(tracks if idx is None else map(tracks.__getitem__, idx), keep)
    records = zip(compress(segments, keep), names, compress(label_seq, keep))
    return Annotation.from_records(records, uri=uri)

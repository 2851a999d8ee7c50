"""Progress of one call (a diarize or a batch): one display, updated in place, a final summary.

Where it shows:

* in a Jupyter kernel: one ipywidgets box holding a ``tqdm`` notebook bar and an HTML label with
  counts by state (uploading, queued, running, done, failed) and the elapsed time;
* outside Jupyter on a terminal: plain text lines (throttled), then a summary line;
* not a terminal (CI, pipes, logs): nothing;
* ``progress=False``: nothing; a callable: a pyannote.audio-style hook
  ``hook(step_name, step_artifact, file=None, total=None, completed=None)``.

Why hand-written: tqdm draws the bar, but the per-state counts label and the choice between widget,
text and silence (a kernel is detected through ``IPython.get_ipython().kernel``; ``display()`` of a
widget outside a kernel would print its repr) are this module's job. Heavy imports (ipywidgets,
IPython, tqdm.notebook) happen only when a widget is actually shown.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TextIO, runtime_checkable

__all__ = [
    "STATES",
    "ProgressReporter",
    "NullProgress",
    "TextProgress",
    "WidgetProgress",
    "HookProgress",
    "in_kernel",
    "make_progress",
    "status_bucket",
]

#: The states counted by every display, in display order.
STATES: tuple[str, ...] = ("uploading", "queued", "running", "done", "failed")

_BUCKET = {
    "uploading": "uploading",
    "created": "queued",
    "pending": "queued",
    "queued": "queued",
    "running": "running",
    "succeeded": "done",
    "done": "done",
    "failed": "failed",
    "canceled": "failed",
    "error": "failed",
}


def status_bucket(status: str | None) -> str:
    """Map a job status (or ``uploading``/``error``) to one of :data:`STATES`."""
    return _BUCKET.get(status or "", "queued")


def _normalise(counts: Mapping[str, int]) -> dict[str, int]:
    out = dict.fromkeys(STATES, 0)
    for key, value in counts.items():
        out[status_bucket(key) if key not in out else key] += int(value)
    return out


def _format_elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d}"


def summary_text(counts: Mapping[str, int], total: int, elapsed: float) -> str:
    """One line: ``3/10 finished | uploading 0 | queued 2 | running 5 | done 2 | failed 1 | 4.2 s``."""
    c = _normalise(counts)
    finished = c["done"] + c["failed"]
    parts = [f"{finished}/{total} finished"] + [f"{s} {c[s]}" for s in STATES]
    return " | ".join(parts + [_format_elapsed(elapsed)])


@runtime_checkable
class ProgressReporter(Protocol):
    """What the job layer calls: ``update(counts)`` any number of times, then ``close()``."""

    def update(self, counts: Mapping[str, int]) -> None: ...

    def close(self, counts: Mapping[str, int] | None = None) -> None: ...


class NullProgress:
    """Shows nothing."""

    def update(self, counts: Mapping[str, int]) -> None:
        return None

    def close(self, counts: Mapping[str, int] | None = None) -> None:
        return None


class _Base:
    def __init__(self, total: int, desc: str) -> None:
        self.total = int(total)
        self.desc = desc
        self.start = time.monotonic()
        self.counts = dict.fromkeys(STATES, 0)
        self.closed = False

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def _set(self, counts: Mapping[str, int] | None) -> bool:
        if counts is None:
            return False
        new = _normalise(counts)
        changed = new != self.counts
        self.counts = new
        return changed


class TextProgress(_Base):
    """Plain text lines on a stream (a terminal), at most one per ``min_interval`` seconds.

    The final line (``close``) is always written and starts with ``done:``.
    """

    def __init__(self, total: int, desc: str = "pyannote", *, stream: TextIO | None = None,
                 min_interval: float = 2.0) -> None:
        super().__init__(total, desc)
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval = float(min_interval)
        self._last = -float("inf")

    #: With unchanged counts, a line is still written this often (a heartbeat with the elapsed time).
    heartbeat = 30.0

    def update(self, counts: Mapping[str, int]) -> None:
        if self.closed:
            return
        changed = self._set(counts)
        now = time.monotonic()
        if now - self._last < (self.min_interval if changed else max(self.min_interval, self.heartbeat)):
            return
        self._last = now
        print(f"{self.desc}: {summary_text(self.counts, self.total, self.elapsed)}",
              file=self.stream, flush=True)

    def close(self, counts: Mapping[str, int] | None = None) -> None:
        if self.closed:
            return
        self._set(counts)
        self.closed = True
        print(f"{self.desc} done: {summary_text(self.counts, self.total, self.elapsed)}",
              file=self.stream, flush=True)


class WidgetProgress(_Base):
    """One ipywidgets ``VBox``: a tqdm notebook bar and an HTML label of counts (kernel only)."""

    def __init__(self, total: int, desc: str = "pyannote") -> None:
        super().__init__(total, desc)
        import ipywidgets as widgets
        from IPython.display import display
        from tqdm.notebook import tqdm as tqdm_notebook

        self.bar = tqdm_notebook(total=self.total, desc=desc, unit="file", display=False,
                                 leave=True)
        self._drawn = time.monotonic()
        self.label = widgets.HTML(value=self._html(final=False))
        self.box = widgets.VBox([self.bar.container, self.label])
        display(self.box)

    def _html(self, *, final: bool) -> str:
        c = self.counts
        cells = "".join(
            f"<span style='margin-right:1em'><b>{s}</b> {c[s]}</span>" for s in STATES
        )
        head = "<b>finished</b> " if final else ""
        return f"<div>{head}{cells}<span>elapsed {_format_elapsed(self.elapsed)}</span></div>"

    def update(self, counts: Mapping[str, int]) -> None:
        if self.closed:
            return
        changed = self._set(counts)
        now = time.monotonic()
        if not changed and now - self._drawn < 1.0:
            return  # unchanged counts: redraw at most once a second, so the elapsed time ticks
        self._drawn = now
        self.bar.n = self.counts["done"] + self.counts["failed"]
        self.bar.refresh()
        self.label.value = self._html(final=False)

    def close(self, counts: Mapping[str, int] | None = None) -> None:
        if self.closed:
            return
        self._set(counts)
        self.closed = True
        self.bar.n = self.counts["done"] + self.counts["failed"]
        self.bar.refresh()
        self.bar.close()
        self.label.value = self._html(final=True)


class HookProgress(_Base):
    """Adapter for a pyannote.audio-style hook.

    Calls ``hook(desc, counts_dict, file=None, total=total, completed=finished)`` on every change
    and once more on ``close``. Exceptions raised by the hook propagate (a broken hook is a bug
    the user wants to see).
    """

    def __init__(self, hook: Callable[..., Any], total: int, desc: str = "pyannote") -> None:
        super().__init__(total, desc)
        self.hook = hook

    def _call(self) -> None:
        finished = self.counts["done"] + self.counts["failed"]
        self.hook(self.desc, dict(self.counts), file=None, total=self.total, completed=finished)

    def update(self, counts: Mapping[str, int]) -> None:
        if self.closed or not self._set(counts):
            return
        self._call()

    def close(self, counts: Mapping[str, int] | None = None) -> None:
        if self.closed:
            return
        self._set(counts)
        self.closed = True
        self._call()


def in_kernel() -> bool:
    """True inside a Jupyter (ipykernel) kernel: ``get_ipython()`` exists and has ``kernel``."""
    mod = sys.modules.get("IPython")
    if mod is None:  # not imported by anyone: certainly not in a kernel
        return False
    try:
        ip = mod.get_ipython()  # type: ignore[attr-defined]
    except Exception:
        return False
    return ip is not None and getattr(ip, "kernel", None) is not None


def make_progress(
    progress: bool | str | Callable[..., Any] | ProgressReporter | None,
    total: int,
    *,
    desc: str = "pyannote",
    stream: TextIO | None = None,
) -> ProgressReporter:
    """Choose the display for one call.

    Parameters
    ----------
    progress
        ``False``: nothing. ``None``/``True``/``"auto"``: a widget in a kernel, text on a TTY,
        otherwise nothing. ``"text"``: text lines on ``stream`` even if not a TTY. An object with
        ``update``/``close``: used as is. Any other callable: a pyannote.audio-style hook.
    total : int
        Number of files (jobs) in the call.
    stream : TextIO, optional
        Where text goes (default ``sys.stderr``).

    Raises
    ------
    InvalidOption
        For any other value of ``progress``.
    """
    if progress is False:
        return NullProgress()
    if isinstance(progress, ProgressReporter) and not isinstance(progress, type):
        return progress
    if progress is None or progress is True or progress == "auto":
        if in_kernel():
            try:
                return WidgetProgress(total, desc)
            except ImportError:
                pass
        out = stream if stream is not None else sys.stderr
        isatty = getattr(out, "isatty", None)
        if callable(isatty) and isatty():
            return TextProgress(total, desc, stream=out)
        return NullProgress()
    if progress == "text":
        return TextProgress(total, desc, stream=stream, min_interval=0.0)
    if callable(progress):
        return HookProgress(progress, total, desc)
    from ..errors import InvalidOption

    raise InvalidOption(
        "progress",
        f"expected True, False, 'auto', 'text', a hook callable or a reporter, got {progress!r}",
    )

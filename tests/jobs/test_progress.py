"""Progress displays: text on a TTY, nothing off a TTY, hooks, and a widget in a real kernel."""

from __future__ import annotations

import io
import sys

import pytest

from pyannote_notebook.errors import InvalidOption
from pyannote_notebook.jobs.progress import (
    HookProgress,
    NullProgress,
    TextProgress,
    in_kernel,
    make_progress,
    status_bucket,
    summary_text,
)


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_status_buckets():
    assert [status_bucket(s) for s in ("created", "pending", "running", "succeeded", "failed",
                                       "canceled", "uploading", "error")] == [
        "queued", "queued", "running", "done", "failed", "failed", "uploading", "failed"]


def test_summary_text():
    text = summary_text({"succeeded": 2, "failed": 1, "running": 3, "created": 4}, 10, 4.25)
    assert text == ("3/10 finished | uploading 0 | queued 4 | running 3 | done 2 | failed 1 | 4.2 s")
    assert summary_text({}, 1, 3725).endswith("| 1:02:05")


def test_text_on_tty():
    tty = FakeTTY()
    p = make_progress(None, 3, desc="batch", stream=tty)
    assert isinstance(p, TextProgress)
    p.min_interval = 0.0
    p.update({"uploading": 3})
    p.update({"uploading": 3})  # unchanged: no new line
    p.update({"running": 2, "succeeded": 1})
    p.close({"succeeded": 2, "failed": 1})
    p.close({"succeeded": 3})  # closing twice prints nothing more
    lines = tty.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("batch: 0/3 finished | uploading 3 | queued 0")
    assert lines[1].startswith("batch: 1/3 finished | uploading 0 | queued 0 | running 2 | done 1")
    assert lines[2].startswith("batch done: 3/3 finished | uploading 0 | queued 0 | running 0 | "
                               "done 2 | failed 1 | ")


def test_text_is_throttled_but_final_line_always_written():
    tty = FakeTTY()
    p = TextProgress(5, "x", stream=tty, min_interval=3600)
    p.update({"running": 1})
    p.update({"running": 2})
    p.close({"succeeded": 5})
    lines = tty.getvalue().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["x", "x done"]


def test_nothing_when_not_a_tty(capsys):
    p = make_progress(None, 2, stream=io.StringIO())
    assert isinstance(p, NullProgress)
    p.update({"running": 2})
    p.close({"succeeded": 2})
    assert capsys.readouterr() == ("", "")


def test_default_stream_is_stderr_tty(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stderr", FakeTTY())
    p = make_progress(True, 1)
    assert isinstance(p, TextProgress)
    p.close({"succeeded": 1})
    assert sys.stderr.getvalue().startswith("pyannote done: 1/1 finished")


def test_false_disables_even_on_tty():
    tty = FakeTTY()
    p = make_progress(False, 2, stream=tty)
    p.update({"running": 2})
    p.close({"succeeded": 2})
    assert tty.getvalue() == ""


def test_hook_callable_pyannote_audio_style():
    calls = []

    def hook(step_name, step_artifact, file=None, total=None, completed=None):
        calls.append((step_name, step_artifact, file, total, completed))

    p = make_progress(hook, 4, desc="diarize")
    assert isinstance(p, HookProgress)
    p.update({"created": 4})
    p.update({"running": 1, "succeeded": 3})
    p.close({"succeeded": 3, "failed": 1})
    assert [c[4] for c in calls] == [0, 3, 4]
    assert calls[-1] == ("diarize", {"uploading": 0, "queued": 0, "running": 0, "done": 3,
                                     "failed": 1}, None, 4, 4)


def test_reporter_object_used_as_is():
    r = NullProgress()
    assert make_progress(r, 3) is r


def test_bad_value_is_invalid_option():
    with pytest.raises(InvalidOption, match="progress: expected True, False"):
        make_progress(42, 1)


def test_not_in_kernel_here():
    assert in_kernel() is False


@pytest.mark.slow
def test_widget_in_a_real_kernel():
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    code_detect = "from pyannote_notebook.jobs.progress import in_kernel, make_progress\nin_kernel()"
    code_run = (
        "p = make_progress(None, 3, desc='batch')\n"
        "p.update({'uploading': 3})\n"
        "p.update({'running': 2, 'succeeded': 1})\n"
        "p.close({'succeeded': 2, 'failed': 1})\n"
        "print(type(p).__name__, p.bar.n, p.label.value.count('<b>'))"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code_detect), nbformat.v4.new_code_cell(code_run)]
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True).execute()
    assert nb.cells[0].outputs[0]["data"]["text/plain"] == "True"
    outputs = nb.cells[1].outputs
    assert [o["output_type"] for o in outputs] == ["display_data", "stream"]
    assert "application/vnd.jupyter.widget-view+json" in outputs[0]["data"]
    # one display per call; final label says finished, with 5 states + the "finished" marker
    assert outputs[1]["text"].strip() == "WidgetProgress 3 6"
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    htmls = [m["state"]["value"] for m in state.values() if m["model_name"] == "HTMLModel"]
    assert any("<b>finished</b>" in v and "<b>done</b> 2" in v and "<b>failed</b> 1" in v
               for v in htmls)


def test_elapsed_keeps_ticking_while_counts_do_not_change(monkeypatch):
    from pyannote_notebook.jobs import progress as progress_mod

    now = [100.0]
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: now[0])
    tty = FakeTTY()
    p = TextProgress(4, "batch", stream=tty, min_interval=2.0)
    p.update({"running": 4})
    now[0] += 29.0
    p.update({"running": 4})  # unchanged, before the 30 s heartbeat: nothing
    now[0] += 1.0
    p.update({"running": 4})  # heartbeat with the elapsed time
    assert tty.getvalue().splitlines() == [
        "batch: 0/4 finished | uploading 0 | queued 0 | running 4 | done 0 | failed 0 | 0.0 s",
        "batch: 0/4 finished | uploading 0 | queued 0 | running 4 | done 0 | failed 0 | 30.0 s"]

    w = progress_mod.WidgetProgress(4, "batch")
    w.update({"running": 4})
    first = w.label.value
    now[0] += 0.5
    w.update({"running": 4})
    assert w.label.value == first  # at most one redraw a second
    now[0] += 1.0
    w.update({"running": 4})
    assert "elapsed 1.5 s" in w.label.value and w.label.value != first
    w.close({"succeeded": 4})

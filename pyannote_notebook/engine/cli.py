"""``pyannote-notebook diarize AUDIO... [--num-speakers N | --min-speakers A --max-speakers B]
[--rttm OUT] [--json OUT]``: diarize files offline.

RTTM is written by hand (one format string) rather than through pyannote.core, to keep the
command light: ``SPEAKER {uri} 1 {start:.3f} {duration:.3f} <NA> <NA> {speaker} <NA> <NA>`` with
the file stem as uri. Without ``--rttm`` and ``--json`` the RTTM goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pyannote_notebook.errors import EngineError, InvalidOption

__all__ = ["run", "rttm_lines"]


def rttm_lines(uri: str, output: dict) -> list[str]:
    """RTTM lines of an output's ``diarization`` turns, labelled with ``uri``."""
    return [
        f"SPEAKER {uri} 1 {s['start']:.3f} {s['end'] - s['start']:.3f} <NA> <NA> {s['speaker']} "
        "<NA> <NA>"
        for s in output["diarization"]
    ]


def _open_out(target: str):
    return sys.stdout if target == "-" else open(target, "w", encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Diarize every ``args.audio`` file; return 0, 1 on an engine/audio error, 2 on bad options.

    Files are processed one after the other; the first failure stops the command (its message,
    naming the file, goes to stderr) and nothing is written.
    """
    from pyannote_notebook.engine.pipeline import diarize, validate_counts

    num = getattr(args, "num_speakers", None)
    lo = getattr(args, "min_speakers", None)
    hi = getattr(args, "max_speakers", None)
    try:
        validate_counts(num, lo, hi)
    except InvalidOption as exc:
        print(f"error: {str(exc).replace('_', '-')}", file=sys.stderr)
        return 2
    uris = [Path(a).stem for a in args.audio]
    dup = {u for u in uris if uris.count(u) > 1}
    if dup:
        print(f"error: several files share the uri (stem) {sorted(dup)[0]!r}", file=sys.stderr)
        return 2
    outputs: dict[str, dict] = {}
    lines: list[str] = []
    for audio, uri in zip(args.audio, uris):
        try:
            out = diarize(audio, num_speakers=num, min_speakers=lo, max_speakers=hi,
                          exclusive=True)
        except EngineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if out.get("warning"):
            print(f"warning: {uri}: {out['warning']}", file=sys.stderr)
        outputs[uri] = out
        lines.extend(rttm_lines(uri, out))
    rttm_target = args.rttm if (args.rttm or args.json) else "-"
    if rttm_target:
        f = _open_out(rttm_target)
        try:
            f.write("".join(line + "\n" for line in lines))
        finally:
            if f is not sys.stdout:
                f.close()
    if args.json:
        f = _open_out(args.json)
        try:
            json.dump(outputs, f, indent=2)
            f.write("\n")
        finally:
            if f is not sys.stdout:
                f.close()
    return 0

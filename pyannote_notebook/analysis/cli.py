"""``pyannote-notebook evaluate``: score a hypothesis RTTM against a reference RTTM.

Kept light on purpose: it reads files with :mod:`pyannote_notebook.results.formats`' plain
parsers and scores with the numpy core, so pandas, pyannote.core and matplotlib are never
imported (scipy only for assignments with more than 10 speakers on both sides).
Exit codes: 0 success, 2 bad input (message ``file:line: reason`` on stderr). Python warnings
raised while scoring (e.g. files on one side only) are printed as
``pyannote-notebook evaluate: warning: <message>``, one
line each.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from typing import Any, TextIO

from pyannote_notebook.analysis.scoring import COLUMNS, Report, evaluate
from pyannote_notebook.errors import PyannoteNotebookError

__all__ = ["run", "format_table"]


def format_table(report: Report) -> str:
    """Fixed-width text table of the per-file rows and the ALL row."""
    headers = ["uri", "scored", "missed", "false_alarm", "confusion", "der%", "jer%"]
    body = []
    for row in report.rows:
        cells = [str(row["uri"])]
        for column in COLUMNS[1:]:
            value = row[column]
            digits = 2 if column in ("der", "jer") else 3
            cells.append("" if isinstance(value, float) and math.isnan(value)
                         else f"{value:.{digits}f}")
        body.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(headers, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for cells in body:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(cells, widths))))
    lines.append(f"(convention {report.convention}, collar {report.collar:g} s per side"
                 f"{', overlap skipped' if report.skip_overlap else ''})")
    return "\n".join(lines)


def _print_warnings(caught: list[warnings.WarningMessage], stderr: TextIO) -> None:
    for warning in caught:
        lines = (line.strip() for line in str(warning.message).splitlines())
        print("pyannote-notebook evaluate: warning: " + " ".join(line for line in lines if line),
              file=stderr)


def run(args: argparse.Namespace, stdout: TextIO | None = None,
        stderr: TextIO | None = None) -> int:
    """Run the ``evaluate`` subcommand; return the exit code (2 on bad input)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    # warnings (e.g. UnmatchedFilesWarning) are printed as one line each, without the source
    # line that Python's default format adds
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            report = evaluate(args.reference, args.hypothesis, uem=args.uem,
                              collar=args.collar, skip_overlap=args.skip_overlap,
                              convention=args.convention, jer=not getattr(args, "no_jer", False))
        except (PyannoteNotebookError, FileNotFoundError, IsADirectoryError,
                PermissionError) as exc:
            _print_warnings(caught, stderr)
            print(f"pyannote-notebook evaluate: error: {exc}", file=stderr)
            return 2
    _print_warnings(caught, stderr)
    for name in report.ignored:
        print(f"pyannote-notebook evaluate: warning: file {name!r} is not in the UEM; "
              "not scored", file=stderr)
    if args.format == "csv":
        stdout.write(report.to_csv() or "")
    elif args.format == "json":
        payload: dict[str, Any] = report.to_dict()
        stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        stdout.write(format_table(report) + "\n")
    return 0

"""``pyannote-notebook`` command line: ``serve``, ``diarize``, ``evaluate``, ``demo``.

The parser is built here, cheaply; each subcommand's work lives in its own module and is
imported only when that subcommand runs (``evaluate`` must start fast: no pandas, scipy or
matplotlib unless needed). Every ``run(args)`` returns the process exit code; bad input exits 2
with a message on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser"]

# subcommand -> "module:function" taking the parsed Namespace and returning an exit code
COMMANDS: dict[str, str] = {
    "serve": "pyannote_notebook.server.cli:run",
    "diarize": "pyannote_notebook.engine.cli:run",
    "evaluate": "pyannote_notebook.analysis.cli:run",
    "demo": "pyannote_notebook.demo:run",
}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``pyannote-notebook`` command."""
    parser = argparse.ArgumentParser(
        prog="pyannote-notebook",
        description="Diarize audio with pyannoteAI or offline, evaluate, and serve a local API.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run a pyannoteAI-compatible server on loopback")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--api-key", action="append", default=None, metavar="KEY",
        help="accepted API key (repeatable); without one a key is generated and printed",
    )
    serve.add_argument("--unpaid-key", action="append", default=[], metavar="KEY",
                       help="a key of a team without subscription: every request answers 402 "
                            "(repeatable)")
    serve.add_argument("--webhook-secret", default=None, metavar="S",
                       help="secret that signs webhooks (generated when absent)")
    serve.add_argument("--signature-encoding", choices=["base64", "hex"], default="base64")
    serve.add_argument("--engine", default="local", help="job engine: local (default) or scripted")
    serve.add_argument("--store", default=None, metavar="PATH",
                       help="directory for uploaded media (a temporary one by default); jobs "
                            "live in memory and are forgotten when the server stops")
    serve.add_argument("--output-ttl", type=_non_negative_float, default=24 * 3600.0,
                       metavar="SECONDS", help="how long outputs stay after completion")
    serve.add_argument("--rate-limit", type=_non_negative_int, default=100, metavar="N",
                       help="job-creating and media-URL requests per minute and key, as the "
                            "service publishes (default 100; 0: unlimited)")
    serve.add_argument("--read-rate-limit", type=_non_negative_int, default=300, metavar="N",
                       help="job reads per minute and key (default 300; 0: unlimited)")

    diarize = sub.add_parser("diarize", help="diarize audio files with the local engine")
    diarize.add_argument("audio", nargs="+", metavar="AUDIO")
    count = diarize.add_mutually_exclusive_group()
    count.add_argument("--num-speakers", type=_positive_int, default=None, metavar="N")
    diarize.add_argument("--min-speakers", type=_positive_int, default=None, metavar="A")
    diarize.add_argument("--max-speakers", type=_positive_int, default=None, metavar="B")
    diarize.add_argument("--rttm", default=None, metavar="OUT.rttm",
                         help="write all turns here ('-' for stdout)")
    diarize.add_argument("--json", default=None, metavar="OUT.json",
                         help="write the outputs (cloud-shaped JSON) here")

    evaluate = sub.add_parser("evaluate", help="score hypothesis RTTM against reference RTTM")
    evaluate.add_argument("--reference", "-r", required=True, metavar="REF.rttm")
    evaluate.add_argument("--hypothesis", "-s", required=True, metavar="HYP.rttm")
    evaluate.add_argument("--uem", "-u", default=None, metavar="U.uem")
    evaluate.add_argument("--collar", type=_non_negative_float, default=0.0,
                          metavar="SECONDS_PER_SIDE",
                          help="md-eval collar in seconds on EACH side of reference boundaries "
                               "(pyannote.metrics' collar is the total width: 2x this)")
    evaluate.add_argument("--skip-overlap", action="store_true")
    evaluate.add_argument("--convention", choices=["md-eval", "pyannote"], default="md-eval")
    evaluate.add_argument("--format", choices=["table", "csv", "json"], default="table")
    evaluate.add_argument("--no-jer", action="store_true", help="skip the JER computation")

    demo = sub.add_parser("demo", help="diarize the sample recording offline and report")
    demo.add_argument("--out", default="demo-output", metavar="DIR")
    demo.add_argument("--audio", default=None, metavar="WAV",
                      help="recording to use instead of the sample")
    demo.add_argument("--no-notebook", action="store_true",
                      help="skip executing the quickstart notebook")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (also used by the console script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    module_name, func_name = COMMANDS[args.command].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``pyannote-notebook serve``: run the pyannoteAI-compatible server until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import threading

from ..errors import ServerStartError

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Start the server from the ``serve`` options, print where it listens, serve until Ctrl-C.

    Prints the base URL to give clients (``http://HOST:PORT/v1``) and, when they were generated,
    the API key and the webhook secret (only at start-up, only to this terminal).

    Returns
    -------
    int
        0 after Ctrl-C (SIGINT) or SIGTERM; 2 when the server cannot start (message on stderr).
    """
    from .handle import start_server
    from .limits import RateLimits

    try:
        # the service's published limits by default (0 = unlimited), so clients meet 429s here
        # as they would in the cloud
        create, read = args.rate_limit or None, args.read_rate_limit or None
        rate_limits = (RateLimits(create_per_minute=create, read_per_minute=read)
                       if create or read else None)
        handle = start_server(
            host=args.host, port=args.port, api_keys=args.api_key,
            webhook_secret=args.webhook_secret, signature_encoding=args.signature_encoding,
            engine=args.engine, store_dir=args.store, output_ttl=args.output_ttl,
            rate_limits=rate_limits, unpaid_keys=args.unpaid_key)
    except (ServerStartError, ValueError) as exc:
        print(f"pyannote-notebook serve: error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    _install_sigterm(stop)
    try:
        print(f"pyannoteAI-compatible server ({handle.engine.name} engine) at {handle.base_url}")
        print(f"  base URL for clients: {handle.base_url}   (job list: {handle.root_url}/v2/jobs)")
        if not args.api_key:
            print(f"  API key (generated): {handle.api_key}")
        if not args.webhook_secret:
            print(f"  webhook secret (generated, {handle.signature_encoding} signatures): "
                  f"{handle.webhook_secret}")
        print("Press Ctrl-C to stop.", flush=True)
        while handle.running and not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
        print("server stopped", flush=True)
    return 0


def _install_sigterm(stop: threading.Event) -> None:
    import signal

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())

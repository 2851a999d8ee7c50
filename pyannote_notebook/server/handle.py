"""Start the local pyannoteAI-compatible server in a background thread and control it.

uvicorn runs the app on its own event loop in a daemon thread, on a socket bound here (so
``port=0`` picks a free port and we know it before start-up). The HTTP protocol is uvicorn's h11
protocol with one addition: the connection's transport is put in the ASGI scope state so fault
injection can drop a connection without answering (see ``app.ControlMiddleware``).
"""

from __future__ import annotations

import atexit
import secrets
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import Secret
from ..errors import ServerStartError
from .app import TRANSPORT_STATE_KEY, ServerState, create_app
from .delivery import DeliveryAttempt, WebhookDelivery
from .engines import JobEngine, get_engine
from .faults import Faults
from .limits import RateLimiter, RateLimits
from .runner import JobRunner
from .stats import ServerStats
from .storage import UploadStore

__all__ = ["start_server", "ServerHandle"]

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


def _protocol_class() -> type:
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TransportExposingH11Protocol(H11Protocol):
        """uvicorn's h11 protocol that exposes the transport in ``scope["state"]``."""

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                # uvicorn writes headers and body separately: without TCP_NODELAY a keep-alive
                # client waits ~40 ms per request for the delayed ACK.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().connection_made(transport)
            self.app_state = {**self.app_state, TRANSPORT_STATE_KEY: transport}

    return TransportExposingH11Protocol


class ServerHandle:
    """A running local server. Stop it with :meth:`stop` or use it as a context manager.

    Attributes
    ----------
    base_url : str
        ``http://HOST:PORT/v1``: what clients use as their API base URL.
    root_url : str
        ``http://HOST:PORT`` (``/v2/jobs`` lives at ``root_url + "/v2/jobs"``).
    host, port : str, int
        Where it listens.
    engine : JobEngine
        The engine object (a :class:`ScriptedEngine` to script in tests).
    stats : ServerStats
        Request / response / job / webhook counters.
    store_dir : Path
        Directory of uploads and downloads.
    """

    def __init__(self, *, host: str, port: int, api_keys: Sequence[str], webhook_secret: str,
                 engine: JobEngine, state: ServerState, delivery: WebhookDelivery,
                 server: Any, thread: threading.Thread, sock: socket.socket,
                 tempdir: tempfile.TemporaryDirectory[str] | None) -> None:
        self.host = host
        self.port = port
        display_host = f"[{host}]" if ":" in host else host
        self.root_url = f"http://{display_host}:{port}"
        self.base_url = f"{self.root_url}/v1"
        self._api_keys = tuple(Secret(k) for k in api_keys)
        self._webhook_secret = Secret(webhook_secret)
        self.engine = engine
        self.stats = state.stats
        self.store_dir = state.uploads.root
        self._state = state
        self._delivery = delivery
        self._server = server
        self._thread = thread
        self._sock = sock
        self._tempdir = tempdir
        self._stopped = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ secrets (never in repr)

    @property
    def api_key(self) -> str:
        """The first accepted API key (plain string, for the test or user who owns the server)."""
        return self._api_keys[0].reveal()

    @property
    def api_keys(self) -> list[str]:
        """Every accepted API key."""
        return [k.reveal() for k in self._api_keys]

    @property
    def webhook_secret(self) -> str:
        """The secret that signs webhooks."""
        return self._webhook_secret.reveal()

    @property
    def signature_encoding(self) -> str:
        """``"base64"`` or ``"hex"``."""
        return self._delivery.encoding

    # ------------------------------------------------------------------ live settings

    @property
    def faults(self) -> Faults | None:
        """The live fault-injection settings (mutable; assign a new :class:`Faults` or None)."""
        return self._state.faults

    @faults.setter
    def faults(self, value: Faults | None) -> None:
        self._state.faults = value

    @property
    def rate_limits(self) -> RateLimits | None:
        """The live rate limits (mutable), or None when unlimited."""
        return self._state.limiter.limits if self._state.limiter else None

    @property
    def webhook_attempts(self) -> list[DeliveryAttempt]:
        """Every webhook POST attempt so far, in order."""
        return list(self._delivery.attempts)

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return not self._stopped and self._thread.is_alive()

    def jobs_snapshot(self) -> list[dict[str, Any]]:
        """Every job, oldest first: ``job_id, kind, status, url, params, webhook, created_at,
        updated_at`` (ISO strings), ``created_ts, started_ts, completed_ts`` (epoch seconds),
        ``audio_duration, has_output, output_deleted, output``."""
        return self._state.runner.snapshot()

    def wait_idle(self, timeout: float | None = 10.0) -> bool:
        """Wait until no job is created/running and no webhook is in flight.

        Returns False if ``timeout`` seconds passed first (nothing is stopped).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._state.runner.wait_idle(timeout):
            return False
        while not self._delivery.idle():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Stop serving, finish running jobs (scripted ones are woken), stop webhook retries,
        remove a temporary store. Idempotent; never raises for an already stopped server."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._server.should_exit = True
        self._thread.join(STOP_TIMEOUT)
        if self._thread.is_alive():  # pragma: no cover - stuck connections
            self._server.force_exit = True
            self._thread.join(STOP_TIMEOUT)
        self._state.runner.stop()
        self._delivery.stop()
        self._sock.close()
        if self._tempdir is not None:
            self._tempdir.cleanup()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f"ServerHandle(base_url={self.base_url!r}, engine={getattr(self.engine, 'name', '?')!r}, "
                f"running={self.running})")


def _abandon_at_exit(*parts: Any) -> None:
    """Make a server that was never stopped let the interpreter exit promptly.

    Its webhook and job pools are ``concurrent.futures`` executors, whose workers the interpreter
    joins at exit: a webhook waiting out its 60 s + 300 s retry delays (an unreachable receiver)
    held a kernel's exit for 6 minutes. The hook runs in ``threading``'s exit phase, before those
    joins (hooks run last-registered first), and holds only weak references.
    """
    refs = [weakref.ref(p) for p in parts]

    def abandon() -> None:
        for ref in refs:
            part = ref()
            if part is not None:
                part.stop(wait=False)

    register = getattr(threading, "_register_atexit", None)  # what concurrent.futures uses
    try:
        if register is not None:
            register(abandon)
        else:  # pragma: no cover - other interpreters
            atexit.register(abandon)
    except RuntimeError:  # pragma: no cover - the interpreter is already shutting down
        pass


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerStartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}. "
                               "Choose another --port (0 picks a free one)") from exc
    return sock


def start_server(
    host: str = "127.0.0.1",
    port: int = 0,
    api_keys: Sequence[str] | None = None,
    webhook_secret: str | None = None,
    signature_encoding: str = "base64",
    engine: str | JobEngine = "scripted",
    store_dir: str | Path | None = None,
    output_ttl: float = 24 * 3600.0,
    rate_limits: RateLimits | None = None,
    faults: Faults | None = None,
    webhook_retry_delays: Sequence[float] = (0.0, 60.0, 300.0),
    webhook_timeout: float = 10.0,
    max_upload_bytes: int = 1 << 30,
    max_download_bytes: int = 1 << 30,
    download_timeout: float = 30.0,
    job_workers: int = 2,
    unpaid_keys: Sequence[str] = (),
) -> ServerHandle:
    """Start a pyannoteAI-compatible server in a background thread and return its handle.

    Parameters
    ----------
    host, port : str, int
        Where to listen; ``port=0`` picks a free port (read it from ``handle.port``).
    api_keys : Sequence[str] | None
        Accepted Bearer keys; None -> one generated key (``handle.api_key``).
    webhook_secret : str | None
        Secret signing webhooks; None -> generated (``handle.webhook_secret``).
    signature_encoding : str
        ``"base64"`` (default) or ``"hex"`` encoding of ``X-Signature``.
    engine : str | JobEngine
        ``"scripted"`` (the default, for tests: outputs are generated or scripted, never a
        diarization of the audio, and say so in their ``warning``), ``"local"`` (the offline
        engine: real diarization; the CLI's default) or an object following :class:`JobEngine`.
    store_dir : str | Path | None
        Where uploads live; None -> a temporary directory removed on :meth:`ServerHandle.stop`.
    output_ttl : float
        Seconds after completion before a job's ``output`` is deleted.
    rate_limits : RateLimits | None
        Per-key limits (None = unlimited).
    faults : Faults | None
        Fault injection (mutable later through ``handle.faults``).
    webhook_retry_delays : Sequence[float]
        Delays before webhook retries 1..3.
    webhook_timeout : float
        Seconds per webhook attempt.
    max_upload_bytes, max_download_bytes, download_timeout : int, int, float
        Upload size limit (413 above), http(s) audio download limits.
    job_workers : int
        Jobs executing at once in the engine.
    unpaid_keys : Sequence[str]
        Keys of a team without a subscription: they authenticate, and every operation answers
        ``402 {"requestId", "message": "Subscription is required"}``.

    Returns
    -------
    ServerHandle
        Serving when returned.

    Raises
    ------
    ServerStartError
        The address is in use, the engine is unknown or unavailable, an option is invalid, or
        the server did not start within 15 s.
    """
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - server extra missing
        raise ServerStartError("the server needs the 'server' extra: pip install 'pyannote-notebook[server]'") from exc
    keys = list(api_keys) if api_keys else [secrets.token_urlsafe(32)]
    unpaid = list(unpaid_keys)
    if any(not isinstance(k, str) or not k.strip() or any(c.isspace() for c in k)
           for k in keys + unpaid):
        raise ServerStartError("API keys must be non-empty strings without whitespace")
    if set(keys) & set(unpaid):
        raise ServerStartError("a key cannot be both in api_keys and in unpaid_keys")
    secret = webhook_secret or secrets.token_urlsafe(32)
    if signature_encoding not in ("base64", "hex"):
        raise ServerStartError(f"signature_encoding must be 'base64' or 'hex', got {signature_encoding!r}")
    if len(tuple(webhook_retry_delays)) > 3:
        raise ServerStartError("webhook_retry_delays: at most 3 retries (the service's policy)")
    engine_obj = get_engine(engine)

    tempdir = None
    if store_dir is None:
        tempdir = tempfile.TemporaryDirectory(prefix="pyannote-server-")
        root = Path(tempdir.name)
    else:
        root = Path(store_dir).expanduser()
    sock = None
    try:
        uploads = UploadStore(root, max_upload_bytes=max_upload_bytes)
        stats = ServerStats()
        delivery = WebhookDelivery(secret, signature_encoding, webhook_retry_delays, webhook_timeout, stats)
        runner = JobRunner(engine_obj, uploads, delivery, stats, output_ttl=output_ttl,
                           job_workers=job_workers, max_download_bytes=max_download_bytes,
                           download_timeout=download_timeout)
        state = ServerState(api_keys=tuple(k.encode("utf-8") for k in keys), runner=runner,
                            unpaid_keys=tuple(k.encode("utf-8") for k in unpaid),
                            uploads=uploads, stats=stats, faults=faults,
                            limiter=RateLimiter(rate_limits) if rate_limits is not None else None)
        sock = _bind(host, port)
        config = uvicorn.Config(create_app(state), http=_protocol_class(), lifespan="off",
                                log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                                loop="asyncio")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                  name=f"pyannote-server-{sock.getsockname()[1]}", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(STOP_TIMEOUT)
                runner.stop()
                delivery.stop()
                raise ServerStartError(f"the server on {host}:{sock.getsockname()[1]} did not start")
            time.sleep(0.01)
    except ServerStartError:
        if sock is not None:
            sock.close()
        if tempdir is not None:
            tempdir.cleanup()
        raise
    except (ValueError, OSError) as exc:
        if sock is not None:
            sock.close()
        if tempdir is not None:
            tempdir.cleanup()
        raise ServerStartError(f"the server could not start: {exc}") from exc
    _abandon_at_exit(runner, delivery)
    return ServerHandle(host=host, port=sock.getsockname()[1], api_keys=keys, webhook_secret=secret,
                        engine=engine_obj, state=state, delivery=delivery, server=server,
                        thread=thread, sock=sock, tempdir=tempdir)

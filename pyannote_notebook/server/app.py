"""HTTP side of the local server: FastAPI routes and the control layer around them.

Routes (what ``https://api.pyannote.ai`` serves, plus the presigned storage routes):

====== ======================== =========================================================
GET    /v1/test                 ``{"status": "OK", "message": "Test connection successful"}``
POST   /v1/media/input          201 ``{"url": presigned PUT url}``
POST   /v1/media/output         201 ``{"url": presigned GET url}``
POST   /v1/diarize|identify|voiceprint  200 ``{"jobId", "status": "created"}``
GET    /v1/jobs/{job_id}        the job (404 when unknown)
GET    /v2/jobs                 ``{"items", "nextCursor"}`` (limit 1-100, cursor, status)
GET    /v1/jobs                 ``{"items", "total"}`` (take 1-100, skip, status)
PUT    /storage/upload?token=   raw bytes, no API key (413 above the limit)
GET    /storage/download?token= the uploaded bytes, no API key
====== ======================== =========================================================

:class:`ControlMiddleware` is a hand-written ASGI layer wrapped around the FastAPI app because the
order matters and no middleware library does it: count the request, inject faults (before
anything else, so an injected 5xx creates nothing; a dropped connection closes the socket with no
answer, optionally after the job was created), authenticate (Bearer key, constant-time comparison
against every key), apply rate limits and add the ``X-RateLimit-*`` headers.

Every API key has its own namespace (the cloud's is per team/key): the control layer stores the
caller's :func:`~pyannote_notebook.server.storage.owner_id` in ``scope["state"]["owner"]``; uploads,
``media://`` inputs of jobs and job reads/lists only see that owner's objects (another key's job
is a 404).

A client that hangs up while its request body is still being read (e.g. it timed out during a
slow reply) ends the request quietly: no job, no traceback; the response is recorded as 499.

Every error body is the API's: 400 ``{"message": "Invalid request", "errors": [{field, message}]}``
(FastAPI's 422 never appears), other statuses ``{"message", "requestId"}``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from ..errors import PayloadTooLarge
from .faults import STORAGE_PREFIX, Faults
from .limits import RateDecision, RateLimiter
from .runner import JobRunner
from .stats import ServerStats
from .storage import TokenError, UploadStore, owner_id
from .validation import (
    JOB_KINDS,
    JOB_STATUSES,
    parse_json_object,
    validate_job_request,
    validate_media_url,
)

__all__ = ["ServerState", "create_app", "TRANSPORT_STATE_KEY"]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Key of the asyncio transport in ``scope["state"]`` (set by the server's uvicorn protocol) so
#: fault injection can drop a connection without answering.
TRANSPORT_STATE_KEY = "pyannote_notebook.transport"

MAX_JSON_BODY = 4 << 20  # bytes; 50 voiceprints of 20,000 characters fit with room to spare
DRAIN_LIMIT = 64 << 20  # bytes of an oversized upload read and discarded before answering 413
JOB_ROUTES = {f"/v1/{kind}" for kind in JOB_KINDS}
RATE_GROUPS = {
    **{("POST", route): "create" for route in JOB_ROUTES},
    ("POST", "/v1/media/input"): "create",
    ("POST", "/v1/media/output"): "create",
    ("GET", "/v1/jobs/{job_id}"): "read",
    ("GET", "/v1/jobs"): "read",
    ("GET", "/v2/jobs"): "read",
}


#: The message of a 402 (the spec's description of the status).
SUBSCRIPTION_REQUIRED = "Subscription is required"


@dataclass
class ServerState:
    """Everything the routes and the control layer share."""

    api_keys: tuple[bytes, ...]
    runner: JobRunner
    uploads: UploadStore
    stats: ServerStats
    faults: Faults | None = None
    limiter: RateLimiter | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Keys that authenticate but belong to a team without a subscription: every operation
    #: answers 402 (the spec declares 402 on all of them).
    unpaid_keys: tuple[bytes, ...] = ()

    def __repr__(self) -> str:
        return f"ServerState(keys={len(self.api_keys)}, engine={getattr(self.runner.engine, 'name', '?')!r})"


# --------------------------------------------------------------------------- responses


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def api_error(status: int, message: str, request_id: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"message", "requestId"}`` error response."""
    return _json(status, {"message": message, "requestId": request_id}, headers)


def invalid(problems: list[tuple[str, str]]) -> JSONResponse:
    """400 ``{"message": "Invalid request", "errors": [...]}``."""
    return _json(400, {"message": "Invalid request",
                       "errors": [{"field": f, "message": m} for f, m in problems]})


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id") or uuid.uuid4())


def _owner(request: Request) -> str:
    """The caller's namespace (set by :class:`ControlMiddleware` after authentication)."""
    return str(request.scope["state"]["owner"])


#: Status recorded (never received: the client is gone) when a client disconnects mid-request.
CLIENT_CLOSED_REQUEST = 499


class _BodyReader:
    """Request body as chunks, remembering whether the last chunk arrived (for draining)."""

    def __init__(self, request: Request) -> None:
        self._receive = request.receive
        self.done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self.done:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            self.done = not message.get("more_body", False)
            chunk = message.get("body", b"")
            if chunk:
                yield chunk

    async def drain(self, limit: int) -> None:
        """Discard up to ``limit`` more bytes of body (never waits past the body's end)."""
        seen = 0
        try:
            async for chunk in self.chunks():
                seen += len(chunk)
                if seen > limit:
                    return
        except ClientDisconnect:
            return


async def _read_body(request: Request) -> bytes | None:
    """The JSON body of an API request, or None when it exceeds ``MAX_JSON_BODY`` bytes.

    Raises
    ------
    ClientDisconnect
        The client hung up before the body was read (handled app-wide: the request ends quietly).
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_JSON_BODY:
        return None
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_JSON_BODY:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _too_large(request: Request) -> JSONResponse:
    return api_error(413, f"Request body exceeds {MAX_JSON_BODY} bytes", _request_id(request),
                     {"Connection": "close"})


# --------------------------------------------------------------------------- app


def create_app(state: ServerState) -> ControlMiddleware:
    """Build the ASGI application (FastAPI routes wrapped in :class:`ControlMiddleware`)."""
    app = FastAPI(title="pyannote-notebook local pyannoteAI server", docs_url=None, redoc_url=None,
                  openapi_url=None)
    runner, uploads = state.runner, state.uploads

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Error"
        return api_error(exc.status_code, message, _request_id(request), getattr(exc, "headers", None))

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, exc: ClientDisconnect) -> Response:
        log.debug("client disconnected during %s %s", request.method, request.url.path)
        return Response(status_code=CLIENT_CLOSED_REQUEST)  # nobody reads it; counted in stats

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            problems.append((".".join(loc) or "body", str(err.get("msg", "Invalid value"))))
        return invalid(problems)

    @app.get("/v1/test")
    async def test_key() -> JSONResponse:
        return _json(200, {"status": "OK", "message": "Test connection successful"})

    async def _media_url(request: Request) -> tuple[str | None, JSONResponse | None]:
        raw = await _read_body(request)
        if raw is None:
            return None, _too_large(request)
        body, problems = parse_json_object(raw)
        if body is not None:
            problems = [("url", "Required")] if "url" not in body else validate_media_url(body["url"])
        if problems:
            return None, invalid(problems)
        return body["url"], None  # type: ignore[index]

    @app.post("/v1/media/input")
    async def media_input(request: Request) -> JSONResponse:
        url, error = await _media_url(request)
        if error is not None:
            return error
        token = uploads.sign("put", url, _owner(request))  # type: ignore[arg-type]
        return _json(201, {"url": f"{request.base_url}storage/upload?token={token}"})

    @app.post("/v1/media/output")
    async def media_output(request: Request) -> JSONResponse:
        url, error = await _media_url(request)
        if error is not None:
            return error
        token = uploads.sign("get", url, _owner(request))  # type: ignore[arg-type]
        return _json(201, {"url": f"{request.base_url}storage/download?token={token}"})

    def _job_route(kind: str) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def create_job(request: Request) -> JSONResponse:
            raw = await _read_body(request)
            if raw is None:
                return _too_large(request)
            body, problems = parse_json_object(raw)
            if body is not None:
                problems = validate_job_request(kind, body)
                if not problems:
                    params = {k: v for k, v in body.items() if k != "url"}
                    problems = list(runner.engine.validate(kind, params))
            if problems:
                return invalid(problems)
            job = runner.create(kind, body, owner=_owner(request))  # type: ignore[arg-type]
            return _json(200, {"jobId": job.job_id, "status": "created"})

        create_job.__name__ = f"create_{kind}"
        return create_job

    for kind in JOB_KINDS:
        app.add_api_route(f"/v1/{kind}", _job_route(kind), methods=["POST"])

    @app.get("/v1/jobs/{job_id}")
    async def get_job(request: Request, job_id: str) -> JSONResponse:
        data = runner.get(job_id, owner=_owner(request))
        if data is None:
            return api_error(404, f"Job {job_id} not found", _request_id(request))
        state.stats.count_job_read(job_id, request.headers.get("user-agent"))
        return _json(200, data)

    def _int_param(request: Request, name: str, default: int, low: int, high: int | None,
                   problems: list[tuple[str, str]]) -> int:
        text = request.query_params.get(name)
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            problems.append((name, "Must be an integer"))
            return default
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            problems.append((name, f"Must be {bound}"))
        return value

    def _status_param(request: Request, problems: list[tuple[str, str]]) -> str | None:
        status = request.query_params.get("status") or None
        if status is not None and status not in JOB_STATUSES:
            problems.append(("status", f"Must be one of: {', '.join(JOB_STATUSES)}"))
        return status

    @app.get("/v2/jobs")
    async def list_jobs_v2(request: Request) -> JSONResponse:
        problems: list[tuple[str, str]] = []
        limit = _int_param(request, "limit", 10, 1, 100, problems)
        status = _status_param(request, problems)
        cursor = request.query_params.get("cursor") or None
        if problems:
            return invalid(problems)
        try:
            return _json(200, runner.list_v2(limit, cursor, status, owner=_owner(request)))
        except KeyError:
            return invalid([("cursor", "Unknown cursor: pass the nextCursor of a previous response")])

    @app.get("/v1/jobs")
    async def list_jobs_v1(request: Request) -> JSONResponse:
        problems: list[tuple[str, str]] = []
        take = _int_param(request, "take", 10, 1, 100, problems)
        skip = _int_param(request, "skip", 0, 0, None, problems)
        status = _status_param(request, problems)
        if problems:
            return invalid(problems)
        return _json(200, runner.list_v1(take, skip, status, owner=_owner(request)))

    @app.put("/storage/upload")
    async def storage_upload(request: Request) -> Response:
        try:
            media_url, owner = uploads.verify("put", request.query_params.get("token", ""))
        except TokenError as exc:
            return api_error(403, f"Upload URL refused: {exc}", _request_id(request))
        declared = request.headers.get("content-length")
        length = int(declared) if declared and declared.isdigit() else None
        body = _BodyReader(request)
        try:
            size = await uploads.write_stream(media_url, owner, body.chunks(), length)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening any more
        except PayloadTooLarge as exc:
            # Read (and discard) a bounded rest of the body so the client, still sending, gets
            # the 413 instead of a connection reset.
            await body.drain(DRAIN_LIMIT)
            return api_error(413, exc.message, _request_id(request), {"Connection": "close"})
        return Response(status_code=200, headers={"X-Upload-Size": str(size)})

    @app.get("/storage/download")
    async def storage_download(request: Request) -> Response:
        try:
            media_url, owner = uploads.verify("get", request.query_params.get("token", ""))
        except TokenError as exc:
            return api_error(403, f"Download URL refused: {exc}", _request_id(request))
        path = uploads.path_for(media_url, owner)
        if not path.is_file():
            return api_error(404, f"Nothing was uploaded under {media_url}", _request_id(request))
        return FileResponse(path, media_type="application/octet-stream")

    return ControlMiddleware(app, state)


# --------------------------------------------------------------------------- control layer


class ControlMiddleware:
    """ASGI wrapper: stats, faults, authentication, rate limits (in that order)."""

    def __init__(self, app: FastAPI, state: ServerState) -> None:
        self.app = app
        self.state = state

    def _template(self, scope: Scope) -> str:
        for route in self.app.router.routes:
            match, _ = route.matches(scope)
            if match in (Match.FULL, Match.PARTIAL):
                return getattr(route, "path", scope["path"])
        return str(scope["path"])

    def _authenticate(self, scope: Scope) -> tuple[str | None, tuple[int, str] | None]:
        """Return (owner id of the key, None), or (None, (401, message)) for a missing or
        unknown key, or (owner id, (402, :data:`SUBSCRIPTION_REQUIRED`)) for an unpaid key."""
        header = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                header = value
                break
        scheme, _, token = header.partition(b" ")
        token = token.strip()
        if not header or scheme.lower() != b"bearer" or not token:
            return None, (401, "Missing API key: send the header 'Authorization: Bearer <API key>'")
        found = unpaid = False
        for key in self.state.api_keys:  # compare with every key, in constant time each
            found |= hmac.compare_digest(key, token)
        for key in self.state.unpaid_keys:
            unpaid |= hmac.compare_digest(key, token)
        if unpaid:
            return owner_id(token), (402, SUBSCRIPTION_REQUIRED)
        if not found:
            return None, (401, "Invalid API key")
        return owner_id(token), None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # lifespan
            return
        state = self.state
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        method, path = scope["method"], scope["path"]
        template = self._template(scope)
        state.stats.count_request(method, template)
        extra_headers: dict[str, str] = {"X-Request-Id": request_id}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.stats.count_response(int(message["status"]))
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers.items()]
                message["headers"] = headers
            await send(message)

        async def respond(response: Response) -> None:
            await response(scope, receive, send_wrapper)

        faults = state.faults
        decision = None
        if faults is not None:
            decision = faults.decide(path, template, creates_job=method == "POST" and template in JOB_ROUTES)
            if decision.slow:
                await asyncio.sleep(decision.slow)
            if decision.rate_limited:
                allowance = state.limiter.limits.allowance("create") if state.limiter else None
                rd = RateDecision(False, allowance or 1, 0, time.time() + faults.retry_after)
                headers = rd.headers()
                headers["Retry-After"] = str(faults.retry_after)
                return await respond(api_error(429, "Too many requests", request_id, headers))
            if decision.error_status:
                return await respond(api_error(decision.error_status,
                                               "Internal server error (injected fault)", request_id))
            if decision.drop == "before":
                return await self._drop(scope, send)

        if not path.startswith(STORAGE_PREFIX):
            key_id, auth_error = self._authenticate(scope)
            if auth_error is not None:
                return await respond(api_error(*auth_error, request_id))
            scope["state"]["owner"] = key_id
            group = RATE_GROUPS.get((method, template))
            if state.limiter is not None and group is not None:
                rate = state.limiter.hit(key_id or "", group)
                if rate is not None:
                    headers = rate.headers()
                    if not rate.allowed:
                        return await respond(api_error(
                            429, f"Too many requests: at most {rate.limit} {group} requests per "
                                 f"{state.limiter.limits.window:g} s window", request_id, headers))
                    extra_headers.update(headers)

        if decision is not None and decision.drop == "after":
            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            return await self._drop(scope, send)
        await self.app(scope, receive, send_wrapper)

    async def _drop(self, scope: Scope, send: Send) -> None:
        """Close the connection without an answer."""
        self.state.stats.count_drop()
        transport = scope.get("state", {}).get(TRANSPORT_STATE_KEY)
        if transport is not None:
            transport.abort()
            await asyncio.sleep(0.01)  # let the server notice the disconnect before we return
            return
        # Not under our uvicorn protocol: start a response and fail, which makes servers close.
        await send({"type": "http.response.start", "status": 500, "headers": [(b"content-length", b"100")]})
        raise ConnectionAbortedError("connection dropped by fault injection")

"""Webhook delivery: body, HMAC signature (verified here by hand), retries and their headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
import requests

from pyannote_notebook.server import Script, start_server
from pyannote_notebook.server.delivery import retry_reason, sign_webhook
from pyannote_notebook.server.handle import ServerHandle
from pyannote_notebook.server.testing import WebhookReceiver, upload_file, wait_job

FAST = (0.0, 0.05, 0.1)


def _expected_signature(secret: str, headers: dict[str, str], body: bytes, encoding: str) -> str:
    content = f"v0:{headers['x-request-timestamp']}:".encode() + body
    mac = hmac.new(secret.encode("utf-8"), content, hashlib.sha256)
    return mac.hexdigest() if encoding == "hex" else base64.b64encode(mac.digest()).decode()


@pytest.mark.parametrize("encoding", ["base64", "hex"])
def test_signed_delivery_on_success(encoding: str, pyannote_wav: Path) -> None:
    with WebhookReceiver() as receiver, start_server(signature_encoding=encoding, webhook_secret="whsec-test",
                                                     webhook_retry_delays=FAST) as handle, \
            requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {handle.api_key}"
        media = upload_file(handle, pyannote_wav, "w", api)
        job_id = api.post(f"{handle.base_url}/diarize",
                          json={"url": media, "webhook": receiver.url, "exclusive": True}).json()["jobId"]
        (hook,) = receiver.wait_for(1)
        job = wait_job(handle, job_id, api)
        assert json.loads(hook.body) == {"jobId": job_id, "status": "succeeded", "output": job["output"]}
        assert hook.headers["content-type"] == "application/json"
        assert abs(int(hook.headers["x-request-timestamp"]) - time.time()) < 5
        signature = hook.headers["x-signature"]
        assert hmac.compare_digest(signature, _expected_signature("whsec-test", hook.headers, hook.body, encoding))
        if encoding == "hex":
            assert len(signature) == 64 and int(signature, 16) >= 0
        else:
            assert len(base64.b64decode(signature)) == 32
        assert "x-retry-num" not in hook.headers and "x-retry-reason" not in hook.headers
        assert handle.wait_idle(5)
        assert handle.stats.webhook_attempts == 1
        # a tampered body does not verify
        assert _expected_signature("whsec-test", hook.headers, hook.body + b" ", encoding) != signature


def test_retries_after_500_carry_retry_headers(pyannote_wav: Path) -> None:
    with WebhookReceiver(statuses=[500, 503]) as receiver, \
            start_server(webhook_retry_delays=(0.0, 0.2, 0.1), webhook_secret="s") as handle, \
            requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {handle.api_key}"
        media = upload_file(handle, pyannote_wav, "r", api)
        job_id = api.post(f"{handle.base_url}/voiceprint", json={"url": media, "webhook": receiver.url}).json()["jobId"]
        hooks = receiver.wait_for(3)
        assert handle.wait_idle(5)
        assert len(receiver.requests) == 3
        assert [(h.headers.get("x-retry-num"), h.headers.get("x-retry-reason")) for h in hooks] == [
            (None, None), ("1", "http_error"), ("2", "http_error")]
        assert all(h.body == hooks[0].body for h in hooks)  # same raw body every time
        for h in hooks:  # each attempt signed with its own timestamp
            assert h.headers["x-signature"] == _expected_signature("s", h.headers, h.body, "base64")
        assert hooks[2].at - hooks[1].at >= 0.19  # waited the second delay
        assert json.loads(hooks[0].body)["jobId"] == job_id
        assert [(a.retry_num, a.status_code, a.outcome) for a in handle.webhook_attempts] == [
            (0, 500, "http_error"), (1, 503, "http_error"), (2, 200, "delivered")]
        assert handle.stats.webhook_attempts == 3


def test_gives_up_after_three_retries_and_reports_timeouts(pyannote_wav: Path) -> None:
    with WebhookReceiver(default=200, delay=0.6) as receiver, \
            start_server(webhook_retry_delays=FAST, webhook_timeout=0.2) as handle, requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {handle.api_key}"
        media = upload_file(handle, pyannote_wav, "t", api)
        api.post(f"{handle.base_url}/diarize", json={"url": media, "webhook": receiver.url})
        receiver.wait_for(4, timeout=10)
        assert handle.wait_idle(10)
        assert [(a.retry_num, a.retry_reason, a.outcome) for a in handle.webhook_attempts] == [
            (0, None, "http_timeout"), (1, "http_timeout", "http_timeout"),
            (2, "http_timeout", "http_timeout"), (3, "http_timeout", "http_timeout")]
        assert [h.headers.get("x-retry-num") for h in receiver.requests] == [None, "1", "2", "3"]


def test_connection_failed_reason(pyannote_server: ServerHandle, api: requests.Session, pyannote_wav: Path) -> None:
    media = upload_file(pyannote_server, pyannote_wav, "c", api)
    api.post(f"{pyannote_server.base_url}/diarize", json={"url": media, "webhook": "http://127.0.0.1:9/hook"})
    assert pyannote_server.wait_idle(10)
    assert [(a.retry_num, a.retry_reason, a.outcome) for a in pyannote_server.webhook_attempts] == [
        (0, None, "connection_failed"), (1, "connection_failed", "connection_failed"),
        (2, "connection_failed", "connection_failed"), (3, "connection_failed", "connection_failed")]


def test_status_only_and_failed_jobs_carry_no_output(pyannote_server: ServerHandle, api: requests.Session,
                                                    pyannote_wav: Path) -> None:
    media = upload_file(pyannote_server, pyannote_wav, "s", api)
    with WebhookReceiver() as receiver:
        ok = api.post(f"{pyannote_server.base_url}/diarize",
                      json={"url": media, "webhook": receiver.url, "webhookStatusOnly": True}).json()["jobId"]
        receiver.wait_for(1)
        pyannote_server.engine.push(Script(error="boom"))
        failed = api.post(f"{pyannote_server.base_url}/diarize",
                          json={"url": media, "webhook": receiver.url}).json()["jobId"]
        receiver.wait_for(2)
        pyannote_server.engine.push(Script(status="canceled"))
        canceled = api.post(f"{pyannote_server.base_url}/identify", json={
            "url": media, "webhook": receiver.url, "voiceprints": [{"label": "A", "voiceprint": "x"}]}).json()["jobId"]
        hooks = receiver.wait_for(3)
    assert [json.loads(h.body) for h in hooks] == [
        {"jobId": ok, "status": "succeeded"},
        {"jobId": failed, "status": "failed"},
        {"jobId": canceled, "status": "canceled"},
    ]
    # the job itself still has its output / error
    assert wait_job(pyannote_server, failed, api)["output"] == {"error": "boom"}
    assert "diarization" in wait_job(pyannote_server, ok, api)["output"]


def test_sign_webhook_and_retry_reason_units() -> None:
    body = b'{"jobId":"j","status":"succeeded"}'
    mac = hmac.new(b"k", b"v0:1700000000:" + body, hashlib.sha256)
    assert sign_webhook("k", 1700000000, body) == base64.b64encode(mac.digest()).decode()
    assert sign_webhook("k", "1700000000", body, "hex") == mac.hexdigest()
    assert retry_reason(requests.ReadTimeout()) == "http_timeout"
    assert retry_reason(requests.ConnectTimeout()) == "http_timeout"
    assert retry_reason(requests.TooManyRedirects()) == "too_many_redirects"
    assert retry_reason(requests.exceptions.SSLError()) == "ssl_error"
    assert retry_reason(requests.ConnectionError()) == "connection_failed"
    assert retry_reason(ValueError()) == "unknown_error"
    assert retry_reason(None, 500) == "http_error"


def test_redirected_webhook_is_reposted_with_the_signed_body(pyannote_wav: Path) -> None:
    redirects = {"/moved": (302, "/hook"), "/a": (301, "/b")}
    with WebhookReceiver(redirects=redirects) as receiver, \
            start_server(webhook_retry_delays=FAST, webhook_secret="whsec-r") as handle, requests.Session() as api:
        root = receiver.url.rsplit("/", 1)[0]
        receiver.redirects["/b"] = (307, f"{root}/hook")  # absolute Location: 2 redirects, the limit
        api.headers["Authorization"] = f"Bearer {handle.api_key}"
        media = upload_file(handle, pyannote_wav, "m", api)
        one = api.post(f"{handle.base_url}/diarize", json={"url": media, "webhook": f"{root}/moved"}).json()["jobId"]
        receiver.wait_for(2)
        two = api.post(f"{handle.base_url}/diarize", json={"url": media, "webhook": f"{root}/a"}).json()["jobId"]
        hooks = receiver.wait_for(5)
        assert handle.wait_idle(5)
    assert [(h.method, h.path) for h in hooks] == [
        ("POST", "/moved"), ("POST", "/hook"), ("POST", "/a"), ("POST", "/b"), ("POST", "/hook")]
    for first, last, job_id in ((hooks[0], hooks[1], one), (hooks[2], hooks[4], two)):
        assert last.body == first.body  # the exact signed bytes, re-posted
        assert json.loads(last.body)["jobId"] == job_id and json.loads(last.body)["status"] == "succeeded"
        assert last.headers["x-signature"] == first.headers["x-signature"]
        assert hmac.compare_digest(last.headers["x-signature"],
                                   _expected_signature("whsec-r", last.headers, last.body, "base64"))
    assert [(a.retry_num, a.status_code, a.outcome) for a in handle.webhook_attempts] == [
        (0, 200, "delivered"), (0, 200, "delivered")]


def test_third_redirect_fails_the_attempt_as_too_many_redirects(pyannote_wav: Path) -> None:
    chain = {"/r1": (302, "/r2"), "/r2": (302, "/r3"), "/r3": (302, "/hook")}
    with WebhookReceiver(redirects=chain) as receiver, \
            start_server(webhook_retry_delays=FAST) as handle, requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {handle.api_key}"
        media = upload_file(handle, pyannote_wav, "m3", api)
        api.post(f"{handle.base_url}/diarize", json={"url": media, "webhook": receiver.url.replace("/hook", "/r1")})
        receiver.wait_for(12)
        assert handle.wait_idle(5)
    # every attempt follows 2 redirects, gets a 3rd and gives up: /hook is never reached
    assert [h.path for h in receiver.requests] == ["/r1", "/r2", "/r3"] * 4
    assert all(h.method == "POST" for h in receiver.requests)
    assert [(h.headers.get("x-retry-num"), h.headers.get("x-retry-reason")) for h in receiver.requests[::3]] == [
        (None, None), ("1", "too_many_redirects"), ("2", "too_many_redirects"), ("3", "too_many_redirects")]
    assert [(a.retry_num, a.retry_reason, a.status_code, a.outcome) for a in handle.webhook_attempts] == [
        (0, None, 302, "too_many_redirects"), (1, "too_many_redirects", 302, "too_many_redirects"),
        (2, "too_many_redirects", 302, "too_many_redirects"), (3, "too_many_redirects", 302, "too_many_redirects")]

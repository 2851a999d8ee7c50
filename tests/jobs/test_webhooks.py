"""Webhook signature verification, the framework-neutral handler and the background receiver."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyannote_notebook.config import Secret
from pyannote_notebook.errors import SignatureError
from pyannote_notebook.jobs.store import JobStore
from pyannote_notebook.jobs.webhooks import WebhookHandler, WebhookReceiver, verify_signature

SECRET = "whsec_test_0123456789abcdef"


def sign(body: bytes, ts: int | str, secret: str = SECRET, encoding: str = "base64") -> str:
    mac = hmac.new(secret.encode(), b"v0:" + str(ts).encode() + b":" + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode() if encoding == "base64" else mac.hexdigest()


def headers_for(body: bytes, ts: int | None = None, **kw) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    return {"X-Request-Timestamp": str(ts), "X-Signature": sign(body, ts, **kw),
            "Content-Type": "application/json"}


BODY = json.dumps({"jobId": "3c8a89a5-dcc6-4edb-a75d-ffd64739674d", "status": "succeeded",
                   "output": {"diarization": [{"speaker": "SPEAKER_00", "start": 0.0,
                                               "end": 1.5}]}}).encode()


# --------------------------------------------------------------------------- verify_signature

@pytest.mark.parametrize("encoding", ["base64", "hex"])
def test_valid_signature_both_encodings(encoding):
    verify_signature(BODY, 1_700_000_000, sign(BODY, 1_700_000_000, encoding=encoding), SECRET,
                     now=1_700_000_100)
    verify_signature(BODY, "1700000000", sign(BODY, 1_700_000_000, encoding=encoding),
                     Secret(SECRET), now=1_700_000_000)


def test_uppercase_hex_accepted():
    verify_signature(BODY, 5, sign(BODY, 5, encoding="hex").upper(), SECRET, now=5)


@pytest.mark.parametrize(
    ("body", "ts", "sig", "secret", "now", "match"),
    [
        (BODY, 100, sign(BODY, 100, "other-secret"), SECRET, 100, "signature does not match"),
        (BODY + b" ", 100, sign(BODY, 100), SECRET, 100, "signature does not match"),
        (BODY, 101, sign(BODY, 100), SECRET, 100, "signature does not match"),
        (BODY, 100, sign(BODY, 100), SECRET, 401, r"stale webhook: timestamp 100 is 301 s old"),
        (BODY, 400, sign(BODY, 400), SECRET, 99, r"timestamp 400 is 301 s in the future"),
        (BODY, "12a", sign(BODY, "12a"), SECRET, 100, "'12a' is not a number"),
        (BODY, "1.5", sign(BODY, "1.5"), SECRET, 1, "'1.5' is not a number"),
        (BODY, None, "abc", SECRET, 100, "missing X-Request-Timestamp"),
        (BODY, "", "abc", SECRET, 100, "missing X-Request-Timestamp"),
        (BODY, 100, None, SECRET, 100, "missing X-Signature"),
        (BODY, 100, "   ", SECRET, 100, "missing X-Signature"),
        (BODY, 100, "not base64 !!", SECRET, 100, "signature does not match"),
    ],
)
def test_rejections(body, ts, sig, secret, now, match):
    with pytest.raises(SignatureError, match=match) as info:
        verify_signature(body, ts, sig, secret, now=now)
    assert SECRET not in str(info.value)
    assert sign(BODY, 100) not in str(info.value)


def test_tolerance_is_configurable():
    verify_signature(BODY, 100, sign(BODY, 100), SECRET, now=1100, tolerance=1000)
    with pytest.raises(SignatureError, match="tolerance 10 s"):
        verify_signature(BODY, 100, sign(BODY, 100), SECRET, now=111, tolerance=10)


# --------------------------------------------------------------------------- handler

def snapshot(store: JobStore):
    return ([(r.job_id, r.status, r.output_json) for r in store.list()], store.webhook_events())


def test_handler_accepts_then_deduplicates(tmp_path):
    store = JobStore(tmp_path / "s.sqlite3")
    handler = WebhookHandler(SECRET, store)
    assert handler.handle(BODY, headers_for(BODY)) == (200, {"ok": True, "duplicate": False})
    rec = store.get("3c8a89a5-dcc6-4edb-a75d-ffd64739674d")
    assert rec.status == "succeeded"
    assert rec.output == {"diarization": [{"speaker": "SPEAKER_00", "start": 0.0, "end": 1.5}]}
    before = snapshot(store)
    # the service retries (x-retry-num) the same delivery: accepted, not reprocessed
    h = headers_for(BODY)
    h["x-retry-num"] = "1"
    assert handler.handle(BODY, h) == (200, {"ok": True, "duplicate": True})
    assert snapshot(store) == before
    assert (handler.accepted, handler.duplicates, handler.rejected) == (1, 1, 0)


def test_handler_lowercase_headers_and_failed_status(tmp_path):
    store = JobStore(tmp_path / "s.sqlite3")
    body = json.dumps({"jobId": "j-failed", "status": "failed"}).encode()
    h = {k.lower(): v for k, v in headers_for(body, encoding="hex").items()}
    assert WebhookHandler(SECRET, store).handle(body, h)[0] == 200
    assert store.get("j-failed").status == "failed"
    assert store.get("j-failed").output is None


@pytest.mark.parametrize(
    ("body", "headers", "code", "error"),
    [
        (b"x" * 2000, None, 413, "body larger than 1000 bytes"),
        (BODY, {"X-Request-Timestamp": str(int(time.time())), "X-Signature": sign(BODY, 1)}, 401,
         "signature does not match"),
        (BODY, {"X-Signature": sign(BODY, 1)}, 401, "missing X-Request-Timestamp"),
        (BODY, "stale", 401, "stale webhook"),
        (b"{not json", "signed", 400, "body is not valid JSON"),
        (b"[1, 2]", "signed", 400, "body must be a JSON object"),
        (b'{"status": "succeeded"}', "signed", 400, "jobId: missing or not a string"),
        (b'{"jobId": "j", "status": "done"}', "signed", 400, "status: 'done' is not a job status"),
        (b'{"jobId": "j", "status": "succeeded", "output": [1]}', "signed", 400,
         "output: must be an object"),
        (b"\xff\xfe", "signed", 400, "body is not valid JSON"),
    ],
)
def test_handler_rejections_leave_store_unchanged(tmp_path, body, headers, code, error):
    store = JobStore(tmp_path / "s.sqlite3")
    store.update("existing", "running")
    before = snapshot(store)
    if headers == "signed":
        headers = headers_for(body)
    elif headers == "stale":
        headers = headers_for(body, ts=int(time.time()) - 3600)
    elif headers is None:
        headers = headers_for(body)
    handler = WebhookHandler(SECRET, store, max_body=1000)
    status, payload = handler.handle(body, headers)
    assert status == code
    assert payload["ok"] is False and set(payload) == {"ok", "error"}
    assert error in payload["error"]
    assert snapshot(store) == before
    assert handler.rejected == 1


def test_replayed_old_delivery_rejected(tmp_path):
    store = JobStore(tmp_path / "s.sqlite3")
    handler = WebhookHandler(SECRET, store)
    h = headers_for(BODY)
    assert handler.handle(BODY, h)[0] == 200
    before = snapshot(store)
    # an attacker replays the captured request an hour later
    status, payload = handler.handle(BODY, h, now=time.time() + 3600)
    assert status == 401 and "stale webhook" in payload["error"]
    assert snapshot(store) == before


def test_handler_without_store_deduplicates_in_memory():
    handler = WebhookHandler(SECRET)
    assert handler.handle(BODY, headers_for(BODY))[1]["duplicate"] is False
    assert handler.handle(BODY, headers_for(BODY))[1]["duplicate"] is True


def test_secret_never_in_repr_or_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    handler = WebhookHandler(SECRET, JobStore(tmp_path / "s.sqlite3"))
    handler.handle(BODY, {"X-Request-Timestamp": "1", "X-Signature": "x"})
    handler.handle(BODY, headers_for(BODY))
    with WebhookReceiver(SECRET) as rx:
        text = repr(handler) + repr(rx) + repr(rx.handler)
    assert SECRET not in text + caplog.text
    assert "***" in repr(handler)


# --------------------------------------------------------------------------- hypothesis

_store_cache: dict[str, JobStore] = {}


def _hstore(tmp_path_factory) -> JobStore:
    if "s" not in _store_cache:
        s = JobStore(tmp_path_factory.mktemp("hyp") / "s.sqlite3")
        s.update("existing", "succeeded", {"diarization": []})
        _store_cache["s"] = s
    return _store_cache["s"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=3000),
       headers=st.dictionaries(
           st.sampled_from(["X-Signature", "X-Request-Timestamp", "x-signature",
                            "x-request-timestamp", "Content-Type", "X-Other"]),
           st.text(max_size=80), max_size=4))
def test_property_unsigned_garbage_rejected(tmp_path_factory, body, headers):
    store = _hstore(tmp_path_factory)
    before = snapshot(store)
    status, payload = WebhookHandler(SECRET, store, max_body=2048).handle(body, headers)
    assert status in (401, 413)
    assert status == 413 if len(body) > 2048 else status == 401
    assert payload["ok"] is False
    assert snapshot(store) == before


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12,
)
_bad_payloads = st.one_of(
    _json_values.filter(lambda v: not isinstance(v, dict)),
    st.fixed_dictionaries({"jobId": st.one_of(st.none(), st.integers(), st.just(""))},
                          optional={"status": st.sampled_from(["succeeded", "x"])}),
    st.fixed_dictionaries({"jobId": st.text(min_size=1, max_size=10).filter(str.strip),
                           "status": st.text(max_size=12).filter(
                               lambda s: s not in {"created", "pending", "running", "succeeded",
                                                   "failed", "canceled"})}),
    st.fixed_dictionaries({"jobId": st.just("j"), "status": st.just("succeeded"),
                           "output": st.one_of(st.integers(), st.text(), st.lists(st.integers()))}),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=_bad_payloads, raw=st.booleans(), junk=st.binary(min_size=1, max_size=50))
def test_property_signed_but_malformed_rejected(tmp_path_factory, payload, raw, junk):
    store = _hstore(tmp_path_factory)
    before = snapshot(store)
    body = (b"\x00" + junk) if raw else json.dumps(payload).encode()
    status, out = WebhookHandler(SECRET, store).handle(body, headers_for(body))
    assert status == 400, out
    assert snapshot(store) == before


# --------------------------------------------------------------------------- receiver over HTTP

def test_receiver_over_loopback(tmp_path):
    store = JobStore(tmp_path / "s.sqlite3")
    with WebhookReceiver(SECRET, store=store) as rx:
        assert rx.url.startswith("http://127.0.0.1:") and rx.url.endswith("/webhook")
        r = requests.post(rx.url, data=BODY, headers=headers_for(BODY), timeout=5)
        assert (r.status_code, r.json()) == (200, {"ok": True, "duplicate": False})
        r = requests.post(rx.url, data=BODY, headers=headers_for(BODY), timeout=5)
        assert r.json() == {"ok": True, "duplicate": True}
        r = requests.post(rx.url, data=BODY, headers=headers_for(BODY, secret="wrong"), timeout=5)
        assert r.status_code == 401 and "does not match" in r.json()["error"]
        big = b"{" + b" " * (1 << 20) + b"}"
        r = requests.post(rx.url, data=big, headers=headers_for(big), timeout=5)
        assert r.status_code == 413
        # no Content-Length (chunked): 411
        conn = http.client.HTTPConnection("127.0.0.1", rx.port, timeout=5)
        conn.putrequest("POST", "/webhook")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        conn.send(b"0\r\n\r\n")
        assert conn.getresponse().status == 411
        conn.close()
        port = rx.port
    assert store.get("3c8a89a5-dcc6-4edb-a75d-ffd64739674d").status == "succeeded"
    assert rx.handler.accepted == 1 and rx.handler.duplicates == 1
    with pytest.raises(requests.ConnectionError):
        requests.post(f"http://127.0.0.1:{port}/webhook", data=BODY, timeout=2)

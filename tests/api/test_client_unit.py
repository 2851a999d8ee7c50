"""Client behaviour on a fake transport: error mapping, secrecy, env precedence, retries,
reconciliation of job-creating POSTs, listeners, pagination."""

from __future__ import annotations

import logging

import pytest
import requests
from urllib3.exceptions import NewConnectionError, ProtocolError

from pyannote_notebook.api import Client, JobInfo
from pyannote_notebook.errors import (
    APIError,
    AuthenticationError,
    BadRequest,
    ConnectionFailed,
    FieldError,
    NotFound,
    PayloadTooLarge,
    PaymentRequired,
    RateLimited,
    ServerError,
)

FAKE_KEY = "sk_unit_test_key_0123456789"  # same as conftest.FAKE_KEY


def _connect_error() -> requests.ConnectionError:
    return requests.ConnectionError(NewConnectionError(None, "Failed to establish a new connection"))


def _drop() -> requests.ConnectionError:
    return requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104)))


JOB = "3c8a89a5-dcc6-4edb-a75d-ffd64739674d"
OTHER = "fb16c565-f3f0-4402-a08c-9d44df0ccc7b"


def test_no_request_in_constructor_and_repr_hides_key(fake):
    session = requests.Session()
    session.mount("http://fake.test", fake)
    c = Client("sk_secret_value_42", "http://fake.test/v1", session=session)
    assert fake.calls == []
    assert repr(c) == "Client(base_url='http://fake.test/v1')"
    assert str(c) == repr(c)
    assert "sk_secret_value_42" not in repr(c.__dict__)


def test_env_var_precedence(monkeypatch, make_client, fake):
    fake.route("GET", "/v1/test", (200, {"status": "OK"}))
    monkeypatch.setenv("PYANNOTE_API_KEY", "sk_second")
    make_client(api_key=None).check()
    monkeypatch.setenv("PYANNOTEAI_API_KEY", "sk_first")
    make_client(api_key=None).check()
    make_client(api_key="sk_arg").check()
    monkeypatch.setenv("PYANNOTEAI_BASE_URL", "http://fake.test/v1/")
    c = Client(api_key="k")
    assert c.base_url == "http://fake.test/v1"
    assert [call.headers["Authorization"] for call in fake.calls] == [
        "Bearer sk_second", "Bearer sk_first", "Bearer sk_arg"]
    assert fake.calls[0].headers["User-Agent"].startswith("pyannote-notebook/")


def test_missing_key_raises_authentication_error_without_request(monkeypatch, make_client, fake):
    monkeypatch.delenv("PYANNOTEAI_API_KEY", raising=False)
    monkeypatch.delenv("PYANNOTE_API_KEY", raising=False)
    c = make_client(api_key=None)
    with pytest.raises(AuthenticationError) as err:
        c.check()
    assert "PYANNOTEAI_API_KEY" in str(err.value) and "api_key=" in str(err.value)
    with pytest.raises(AuthenticationError):
        c.diarize("media://x")
    assert fake.calls == []


@pytest.mark.parametrize("status,body,cls,text", [
    (400, {"message": "Invalid request", "errors": [{"field": "numSpeakers", "message": "too big"}]},
     BadRequest, "HTTP 400: Invalid request [numSpeakers: too big]"),
    (401, {"message": "Unauthorized", "requestId": "r-1"}, AuthenticationError,
     "HTTP 401: Unauthorized (requestId r-1). Check the key"),
    (402, {"message": "Subscription is required", "requestId": "r-2"}, PaymentRequired,
     "HTTP 402: Subscription is required (requestId r-2)"),
    (404, {"message": "Job not found", "requestId": "r-3"}, NotFound, "HTTP 404: Job not found"),
    (413, {"message": "Payload too large"}, PayloadTooLarge, "HTTP 413: Payload too large"),
    (429, {"message": "Too many requests"}, RateLimited, "HTTP 429: Too many requests; retry after 3 s"),
    (503, {"message": "down"}, ServerError, "HTTP 503: down"),
    (418, None, APIError, "HTTP 418: fake"),
])
def test_error_mapping(make_client, fake, status, body, cls, text):
    fake.route("GET", f"/v1/jobs/{JOB}", (status, body, {"Retry-After": "3"}))
    c = make_client(max_retries=0)
    with pytest.raises(cls) as err:
        c.get_job(JOB)
    assert type(err.value) is cls
    assert err.value.status_code == status
    assert str(err.value).startswith(f"GET /v1/jobs/{JOB}: ")
    assert text in str(err.value)
    if status == 400:
        assert err.value.errors == [FieldError("numSpeakers", "too big")]
    if status == 429:
        assert err.value.retry_after == 3.0
    assert FAKE_KEY not in str(err.value) and FAKE_KEY not in repr(err.value.__dict__)


def test_network_error_maps_to_connection_failed_without_query_or_key(make_client, fake):
    fake.seq("PUT", "/upload/x", [_drop()])
    c = make_client(max_retries=1)
    with pytest.raises(ConnectionFailed) as err:
        c._request("PUT", "http://fake.test/upload/x?token=SIGNED_SECRET", bucket=None, auth=False)
    msg = str(err.value)
    assert msg.startswith("PUT http://fake.test/upload/x: could not complete the request")
    assert "SIGNED_SECRET" not in msg and FAKE_KEY not in msg
    assert fake.count("PUT") == 2 and len(c.slept) == 1


def test_key_never_in_logs(make_client, fake, caplog):
    caplog.set_level(logging.DEBUG)
    fake.seq("GET", f"/v1/jobs/{JOB}", [(500, {"message": f"echo {FAKE_KEY}"}),
                                        (200, {"jobId": JOB, "status": "running"})])
    c = make_client()

    def bad_listener(info):
        raise RuntimeError(f"listener saw Bearer {FAKE_KEY}")

    c.listeners.append(bad_listener)
    assert c.get_job(JOB).status == "running"
    fake.route("GET", f"/v1/jobs/{OTHER}", (401, {"message": f"bad key {FAKE_KEY}"}))
    with pytest.raises(AuthenticationError) as err:
        c.get_job(OTHER)
    assert FAKE_KEY not in str(err.value)
    assert "bad key ***" in str(err.value)
    assert "job listener" in caplog.text and "RuntimeError" in caplog.text
    assert "retry 1" in caplog.text
    assert FAKE_KEY not in caplog.text
    for record in caplog.records:
        assert FAKE_KEY not in record.getMessage()


def test_get_retries_5xx_and_429_honouring_retry_after(make_client, fake):
    fake.seq("GET", f"/v1/jobs/{JOB}", [
        (503, {"message": "busy"}),
        (429, {"message": "slow down"}, {"Retry-After": "7"}),
        _drop(),
        (200, {"jobId": JOB, "status": "succeeded", "createdAt": "2026-11-24T04:03:16.123Z",
               "updatedAt": "2026-11-24T04:03:20.623Z", "output": {"diarization": []}}),
    ])
    c = make_client(max_retries=3)
    info = c.get_job(JOB)
    assert info.status == "succeeded" and info.output == {"diarization": []}
    assert info.processing_seconds == pytest.approx(4.5)
    assert fake.count("GET") == 4
    assert c.slept[1] == 7.0                      # Retry-After honoured exactly
    assert 0.25 <= c.slept[0] <= 0.5              # jittered backoff, attempt 0: [d/2, d], d=0.5
    assert 1.0 <= c.slept[2] <= 2.0               # attempt 2: d=2.0


def test_get_gives_up_after_max_retries(make_client, fake):
    fake.route("GET", f"/v1/jobs/{JOB}", (502, {"message": "bad gateway"}))
    c = make_client(max_retries=2)
    with pytest.raises(ServerError, match="HTTP 502: bad gateway"):
        c.get_job(JOB)
    assert fake.count("GET") == 3


def _created(job_id=JOB):
    return (200, {"jobId": job_id, "status": "created"})


def _jobs_page(*items, cursor=None):
    return (200, {"items": list(items), "nextCursor": cursor})


def _item(job_id, created="2999-01-01T00:00:00.000Z", status="created"):
    return {"id": job_id, "status": status, "createdAt": created}


def test_create_retried_after_connect_error_and_429(make_client, fake):
    fake.seq("POST", "/v1/diarize", [_connect_error(), (429, {"message": "x"}, {"Retry-After": "2"}),
                                     _created()])
    c = make_client()
    job = c.diarize("media://a", num_speakers=2)
    assert job.id == JOB and job.kind == "diarize" and job.status == "created"
    assert fake.count("POST", "/v1/diarize") == 3
    assert fake.count("GET") == 0                 # no reconciliation needed: server did not act
    assert c.slept[1] == 2.0
    assert fake.calls[-1].json == {"url": "media://a", "model": "precision-2", "numSpeakers": 2,
                                   "exclusive": False, "confidence": False,
                                   "turnLevelConfidence": False, "transcription": False}


def test_create_adopts_the_one_job_created_by_a_lost_answer(make_client, fake):
    fake.seq("POST", "/v1/diarize", [_drop()])
    fake.route("GET", "/v2/jobs", _jobs_page(_item(JOB), _item(OTHER, "2000-01-01T00:00:00Z")))
    seen: list[JobInfo] = []
    c = make_client()
    c.listeners.append(seen.append)
    job = c.diarize("media://a", audio_duration=12.5)
    assert job.id == JOB and job.kind == "diarize" and job.audio_duration == 12.5
    assert fake.count("POST") == 1                # no second POST: no double billing
    assert fake.count("GET", "/v2/jobs") == 1
    assert [(i.job_id, i.status, i.kind) for i in seen] == [(JOB, "created", "diarize")]


def test_create_retries_when_reconciliation_finds_no_job(make_client, fake):
    fake.seq("POST", "/v1/voiceprint", [(500, {"message": "oops"}), _created(OTHER)])
    # a job this client already knows is not a candidate
    fake.route("GET", "/v2/jobs", _jobs_page(_item(JOB)))
    fake.route("POST", "/v1/diarize", _created(JOB))
    c = make_client()
    assert c.diarize("media://a").id == JOB
    job = c.voiceprint("media://b")
    assert job.id == OTHER and job.kind == "voiceprint"
    assert fake.count("POST", "/v1/voiceprint") == 2


def test_create_refuses_to_guess_between_several_unknown_jobs(make_client, fake):
    fake.seq("POST", "/v1/diarize", [_drop()])
    fake.route("GET", "/v2/jobs", _jobs_page(_item(JOB), _item(OTHER)))
    c = make_client()
    with pytest.raises(ConnectionFailed) as err:
        c.diarize("media://a")
    msg = str(err.value)
    assert "2 unknown jobs were created since it was sent" in msg
    assert JOB in msg and OTHER in msg and "client.list_jobs()" in msg
    assert fake.count("POST") == 1


def test_create_listing_failure_says_job_may_exist(make_client, fake):
    fake.seq("POST", "/v1/identify", [(502, {"message": "bad gateway"})])
    fake.route("GET", "/v2/jobs", (503, {"message": "down"}))
    c = make_client(max_retries=1)
    with pytest.raises(ConnectionFailed, match=r"The job may have been created: check "
                                               r"client.list_jobs\(\) before submitting again"):
        c.identify("media://a", {"Alice": "vp"})
    assert fake.count("POST") == 1


def test_create_other_4xx_not_retried(make_client, fake):
    fake.route("POST", "/v1/diarize", (402, {"message": "Subscription is required", "requestId": "r"}))
    c = make_client()
    with pytest.raises(PaymentRequired):
        c.diarize("media://a")
    assert fake.count("POST") == 1 and c.slept == []


def test_list_jobs_follows_cursor_and_limit(make_client, fake):
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(5)]

    def page(call, m):
        cursor = m.group(0).split("cursor=")[1].split("&")[0] if "cursor=" in m.group(0) else None
        start = ids.index(cursor) + 1 if cursor else 0
        chunk = ids[start:start + 2]
        nxt = chunk[-1] if start + 2 < len(ids) else None
        return _jobs_page(*[_item(i, status="succeeded") for i in chunk], cursor=nxt)

    fake.route("GET", "/v2/jobs", page)
    c = make_client()
    it = c.list_jobs(page_size=2)
    assert fake.calls == []                      # lazy
    assert [s.job_id for s in it] == ids
    assert fake.count("GET", "/v2/jobs") == 3
    assert "limit=2" in fake.calls[0].url and "cursor" not in fake.calls[0].url
    assert [s.job_id for s in c.list_jobs(limit=3, page_size=2, status="succeeded")] == ids[:3]
    assert "status=succeeded" in fake.calls[-1].url


def test_listeners_get_creation_and_every_get(make_client, fake):
    fake.route("POST", "/v1/diarize", _created())
    fake.seq("GET", f"/v1/jobs/{JOB}", [
        (200, {"jobId": JOB, "status": "running"}),
        (200, {"jobId": JOB, "status": "succeeded", "output": {"diarization": [1]}}),
    ])
    seen: list[JobInfo] = []
    c = make_client()
    c.listeners.append(seen.append)
    job = c.diarize("media://a")
    assert job.wait(poll=0.01) == {"diarization": [1]}
    assert [(i.status, i.kind) for i in seen] == [("created", "diarize"), ("running", "diarize"),
                                                  ("succeeded", "diarize")]
    assert seen[-1].output == {"diarization": [1]}


def test_v2_jobs_url_derived_from_base_url(make_client, fake):
    fake.route("GET", "/api/v2/jobs", _jobs_page())
    c = make_client(base_url="http://fake.test/api/v1")
    assert list(c.list_jobs()) == []
    assert fake.calls[0].path == "/api/v2/jobs"


def test_create_read_timeout_looks_twice_before_retrying(make_client, fake):
    fake.seq("POST", "/v1/diarize", [requests.exceptions.ReadTimeout("read timed out")])
    # the job shows up only on the second look (the server was still working)
    fake.seq("GET", "/v2/jobs", [_jobs_page(), _jobs_page(_item(JOB))])
    c = make_client(timeout=2.0)
    job = c.diarize("media://a")
    assert job.id == JOB
    assert fake.count("POST") == 1 and fake.count("GET", "/v2/jobs") == 2
    assert c.slept == [2.0]


def test_key_echoed_in_field_errors_is_redacted(make_client, fake):
    # a server (or proxy) echoing the Authorization header back in a 400's per-field errors
    fake.route("POST", "/v1/diarize", (400, {
        "message": "Validation failed",
        "errors": [{"field": f"Bearer {FAKE_KEY}", "message": f"header {FAKE_KEY} malformed"}]}))
    c = make_client()
    with pytest.raises(BadRequest) as err:
        c.diarize("media://ok-key")
    assert FAKE_KEY not in str(err.value) and FAKE_KEY not in repr(err.value.__dict__)
    assert err.value.errors == [FieldError("Bearer ***", "header *** malformed")]
    assert err.value.body["errors"][0]["message"] == "header *** malformed"


def test_reconciliation_consults_the_shared_store(make_client, fake, tmp_path):
    # two kernels share one job store (and one API key); kernel A's create answer is lost
    from pyannote_notebook.jobs.store import JobStore

    store = JobStore(tmp_path / "jobs.sqlite3")
    store.record_submission(JOB, kind="diarize", base_url="http://fake.test/v1",
                            status="created")              # kernel B's job, recorded by B
    fake.seq("POST", "/v1/diarize", [_drop()])
    fake.route("GET", "/v2/jobs", _jobs_page(_item(JOB), _item(OTHER)))
    c = make_client()
    c.witnesses.append(store)
    # without the store this is "2 unknown jobs": B's is excluded, A's own is adopted
    assert c.diarize("media://a").id == OTHER
    assert fake.count("POST") == 1


def test_reconciliation_refuses_to_guess_while_another_process_creates(make_client, fake, tmp_path):
    from pyannote_notebook.jobs.store import JobStore

    store = JobStore(tmp_path / "jobs.sqlite3")
    store.claim("some-content-key", "other-host:4242:abc")   # kernel B is creating right now
    fake.seq("POST", "/v1/diarize", [_drop()])
    fake.route("GET", "/v2/jobs", _jobs_page(_item(JOB)))
    c = make_client()
    c.witnesses.append(store)
    with pytest.raises(ConnectionFailed) as err:
        c.diarize("media://a")
    msg = str(err.value)
    assert f"job {JOB} was created since it was sent, but 1 other submitter(s)" in msg
    assert "client.list_jobs()" in msg and fake.count("POST") == 1
    # the same process's own claims (other threads of this kernel) are not rivals
    store.release("some-content-key", "other-host:4242:abc")
    from pyannote_notebook.jobs.store import new_claim_owner

    store.claim("another-key", new_claim_owner())
    assert store.rival_creates(0.0) == 0
    fake.seq("POST", "/v1/diarize", [_drop()])
    assert c.diarize("media://a").id == JOB

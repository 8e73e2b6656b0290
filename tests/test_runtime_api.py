"""The Runtime API server spoken to over real HTTP, as a runtime client would."""

import http.client
import json
import queue
import threading

import pytest

from lambdalab_ext.runtime.api import MAX_RESPONSE_BYTES, Invocation, RuntimeAPIServer


@pytest.fixture
def api():
    events = queue.Queue()
    server = RuntimeAPIServer(events)
    yield server, events
    server.close()


def request(server, method, path, body=None, headers=None):
    host, port = server.address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(method, "/2018-06-01" + path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def invocation(request_id="req-1", payload=b'{"a": 1}'):
    return Invocation(request_id=request_id, payload=payload, deadline_ms=1_900_000_000_000,
                      invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
                      trace_id="Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
                      client_context='{"custom": {"k": "v"}}')


def next_in_thread(server):
    out = {}

    def run():
        out["result"] = request(server, "GET", "/runtime/invocation/next")

    t = threading.Thread(target=run)
    t.start()
    return t, out


def in_flight(server, events):
    """The runtime has asked for an event and received req-1."""
    t, out = next_in_thread(server)
    assert events.get(timeout=5).kind == "ready"
    server.dispatch(invocation())
    t.join(5)
    return out


def test_first_next_marks_init_done_and_delivers_event_with_lambda_headers(api):
    server, events = api
    t, out = next_in_thread(server)
    assert events.get(timeout=5).kind == "ready"
    server.dispatch(invocation())
    t.join(5)
    status, headers, body = out["result"]
    assert status == 200
    assert json.loads(body) == {"a": 1}
    assert headers["lambda-runtime-aws-request-id"] == "req-1"
    assert headers["lambda-runtime-deadline-ms"] == "1900000000000"
    assert headers["lambda-runtime-invoked-function-arn"].endswith(":function:f")
    assert headers["lambda-runtime-trace-id"].startswith("Root=1-")
    assert json.loads(headers["lambda-runtime-client-context"]) == {"custom": {"k": "v"}}
    assert "lambda-runtime-cognito-identity" not in headers


def test_response_is_accepted_once_then_403(api):
    server, events = api
    in_flight(server, events)
    status, _, body = request(server, "POST", "/runtime/invocation/req-1/response", b'"ok"')
    assert status == 202
    event = events.get(timeout=5)
    assert (event.kind, event.request_id, event.body) == ("response", "req-1", b'"ok"')
    status, _, body = request(server, "POST", "/runtime/invocation/req-1/response", b'"again"')
    assert status == 403
    assert json.loads(body)["errorType"] == "InvalidStateTransition"


def test_unknown_request_id_is_400(api):
    server, events = api
    in_flight(server, events)
    status, _, body = request(server, "POST", "/runtime/invocation/not-this-one/response", b"1")
    assert status == 400
    assert json.loads(body)["errorType"] == "InvalidRequestID"


def test_error_carries_type_header(api):
    server, events = api
    in_flight(server, events)
    err = {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}
    status, _, _ = request(server, "POST", "/runtime/invocation/req-1/error", json.dumps(err).encode(),
                           {"Lambda-Runtime-Function-Error-Type": "ValueError"})
    assert status == 202
    event = events.get(timeout=5)
    assert event.kind == "error" and event.error_type == "ValueError"
    assert json.loads(event.body) == err


def test_init_error_only_during_init(api):
    server, events = api
    body = json.dumps({"errorMessage": "x", "errorType": "Runtime.ImportModuleError"}).encode()
    status, _, _ = request(server, "POST", "/runtime/init/error", body,
                           {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
    assert status == 202
    event = events.get(timeout=5)
    assert event.kind == "init_error" and event.error_type == "Runtime.ImportModuleError"
    status, _, body = request(server, "POST", "/runtime/init/error", body)
    assert status == 403


def test_response_before_any_invocation_is_403(api):
    server, _ = api
    status, _, body = request(server, "POST", "/runtime/invocation/req-1/response", b"1")
    assert status == 403


def test_response_over_6_mb_is_413_and_reported(api):
    server, events = api
    in_flight(server, events)
    status, _, body = request(server, "POST", "/runtime/invocation/req-1/response",
                              b"x" * (MAX_RESPONSE_BYTES + 1))
    assert status == 413
    assert json.loads(body)["errorType"] == "RequestEntityTooLarge"
    assert events.get(timeout=5).kind == "too_large"


def test_next_while_invoking_is_403(api):
    server, events = api
    in_flight(server, events)
    status, _, body = request(server, "GET", "/runtime/invocation/next")
    assert status == 403


def test_unknown_route_is_404(api):
    server, _ = api
    status, _, _ = request(server, "GET", "/runtime/nothing")
    assert status == 404

"""The local HTTP endpoint (``lab.serve_http``): real HTTP requests through an HTTP API, a REST API
and a function URL to real functions, the answers each front door makes of what the function
returns or fails to return, and clients that try to hold the server."""

import base64
import http.client
import json
import socket
import textwrap
import time
import urllib.error
import urllib.request

import pytest

from lambdalab_ext.errors import ResourceNotFoundException
from lambdalab_ext.sources.http_api import MalformedResponse, rest_response, v2_response

ECHO = textwrap.dedent("""
    import json
    def handler(event, context):
        return {"statusCode": 201, "headers": {"X-Echo": "yes"}, "cookies": ["session=abc; Path=/"],
                "multiValueHeaders": {"Set-Cookie": ["session=abc; Path=/"]},
                "body": json.dumps({"event": event, "request_id": context.aws_request_id})}
""")


def _call(url, method="GET", body=None, headers=None, timeout=30):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


# -- what the function returned, read as each front door reads it (pure) ---------------------------------
@pytest.mark.parametrize("returned, status, content_type, body", [
    (b'"Hello, world!"', 200, "application/json", b'"Hello, world!"'),        # the guide's examples
    (b'{"message": "Hello, world!"}', 200, "application/json", b'{"message": "Hello, world!"}'),
    (b"[1, 2]", 200, "application/json", b"[1, 2]"),
    (b"null", 200, "application/json", b"null"),
    (b'{"statusCode": 204}', 204, "application/json", b""),
    (b'{"statusCode": 200, "headers": {"Content-Type": "text/html"}, "body": "<b>hi</b>"}', 200, "text/html",
     b"<b>hi</b>"),
    (b'{"statusCode": 200, "body": "AAEC", "isBase64Encoded": true}', 200, "application/json", b"\x00\x01\x02"),
])
def test_payload_2_0_infers_a_response_from_any_json(returned, status, content_type, body):
    got_status, headers, got_body = v2_response(returned)
    assert (got_status, dict(headers)["Content-Type"] if "Content-Type" in dict(headers) else
            dict((k.lower(), v) for k, v in headers)["content-type"], got_body) == (status, content_type, body)


def test_payload_2_0_cookies_become_set_cookie_headers():
    _, headers, _ = v2_response(b'{"statusCode": 200, "cookies": ["a=1", "b=2; Max-Age=60"], "headers": {"X": ["1", "2"]}}')
    assert [v for n, v in headers if n == "Set-Cookie"] == ["a=1", "b=2; Max-Age=60"]
    assert ("X", "1,2") in headers


@pytest.mark.parametrize("returned", [
    b'"just a string"', b'{"body": "no status"}', b'{"statusCode": "200", "body": ""}',
    b'{"statusCode": 200, "body": {"not": "a string"}}', b'{"statusCode": 999}', b"not json",
    b'{"statusCode": 200, "headers": {"X": "a\\r\\nInjected: 1"}}', b'{"statusCode": 200, "headers": {"Bad Name": "x"}}',
    b'{"statusCode": 200, "multiValueHeaders": {"X": "not a list"}}',
])
def test_payload_1_0_refuses_what_is_not_a_proxy_response(returned):
    with pytest.raises(MalformedResponse):
        rest_response(returned)


def test_payload_1_0_merges_headers_and_decodes_only_binary_media_types():
    status, headers, body = rest_response(json.dumps({
        "statusCode": 200, "headers": {"X-One": "header", "X-Two": "single"},
        "multiValueHeaders": {"X-One": ["multi-a", "multi-b"]}, "body": "AAEC", "isBase64Encoded": True}).encode())
    assert [(n, v) for n, v in headers if n.startswith("X-")] == [("X-One", "multi-a"), ("X-One", "multi-b"),
                                                                 ("X-Two", "single")]
    assert body == b"AAEC"              # no binary media types: a REST API passes the base64 text on
    _, _, body = rest_response(json.dumps({"statusCode": 200, "headers": {"Content-Type": "image/png"},
                                           "body": "AAEC", "isBase64Encoded": True}).encode(),
                               binary_media_types=["image/*"])
    assert body == b"\x00\x01\x02"


# -- three front doors on one real function -----------------------------------------------------------------
def test_three_front_doors_send_their_own_events_and_responses(lab):
    lab.deploy("echo", ECHO, memory_mb=1769)
    http_api, rest, url = (lab.serve_http("echo", kind=k) for k in ("http", "rest", "url"))
    assert rest.url.endswith("/prod") and not http_api.url.endswith("/")

    # HTTP API, payload 2.0
    status, headers, body = _call(http_api.url + "/items/7?tag=a&tag=b&q=red%20flower", method="POST",
                                  body=b'{"n": 1}', headers={"Content-Type": "application/json",
                                                             "Cookie": "a=1; b=2", "X-Multi": "one"})
    assert status == 201 and headers["X-Echo"] == "yes" and headers.get_all("Set-Cookie") == ["session=abc; Path=/"]
    assert headers["Apigw-Requestid"]
    event = json.loads(body)["event"]
    assert event["version"] == "2.0" and event["routeKey"] == "$default" and event["rawPath"] == "/items/7"
    assert event["rawQueryString"] == "tag=a&tag=b&q=red%20flower"
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "red flower"}
    assert event["cookies"] == ["a=1", "b=2"] and "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "one" and event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["body"] == '{"n": 1}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"]["method"] == "POST" and context["http"]["path"] == "/items/7"
    assert context["http"]["sourceIp"] == "127.0.0.1" and context["stage"] == "$default"
    assert context["requestId"] == headers["Apigw-Requestid"]
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 60 and context["time"].endswith("+0000")
    assert "pathParameters" not in event and "stageVariables" not in event

    # REST API, payload 1.0, under its stage
    status, headers, body = _call(rest.url + "/items/7?tag=a&tag=b", headers={"X-Multi": "one"})
    assert status == 201 and headers.get_all("Set-Cookie") == ["session=abc; Path=/"]
    event = json.loads(body)["event"]
    assert event["resource"] == "/{proxy+}" and event["path"] == "/items/7" and event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"proxy": "items/7"}
    assert event["queryStringParameters"] == {"tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert event["headers"]["X-Multi"] == "one" and event["multiValueHeaders"]["X-Multi"] == ["one"]
    assert event["body"] is None and event["stageVariables"] is None
    assert event["requestContext"]["stage"] == "prod" and event["requestContext"]["path"] == "/prod/items/7"
    assert event["requestContext"]["requestId"] == headers["x-amzn-RequestId"]
    assert event["headers"]["X-Amzn-Trace-Id"] == headers["X-Amzn-Trace-Id"]
    root = json.loads(_call(rest.url + "/")[2])["event"]
    assert root["resource"] == "/" and root["pathParameters"] is None
    status, _, body = _call(rest.url.rsplit("/", 1)[0] + "/elsewhere")
    assert status == 403 and json.loads(body) == {"message": "Missing Authentication Token"}

    # Function URL: a binary body arrives base64-encoded; requestId is the invocation's
    status, headers, body = _call(url.url + "/upload", method="PUT", body=bytes(range(256)),
                                  headers={"Content-Type": "application/octet-stream"})
    assert status == 201
    answer = json.loads(body)
    event = answer["event"]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == bytes(range(256))
    assert event["requestContext"]["requestId"] == answer["request_id"] == headers["x-amzn-RequestId"]
    assert event["pathParameters"] is None and event["requestContext"]["authorizer"] is None

    invokes = lab.record.events(kind="invoke", function="echo")
    assert {e["source"] for e in invokes} == {"apigateway", "function-url"} and len(invokes) == 4
    lab.shutdown()
    with pytest.raises(OSError):
        socket.create_connection((http_api.host, http_api.port), timeout=2).recv(1)


def test_a_keep_alive_connection_serves_many_requests_and_inference_applies(make_lab):
    lab = make_lab("process")
    lab.deploy("plain", "def handler(event, context):\n    return {'path': event['rawPath']}\n", memory_mb=1769)
    api = lab.serve_http("plain", kind="http")
    conn = http.client.HTTPConnection(api.host, api.port, timeout=10)
    for n in range(5):
        conn.request("GET", f"/n/{n}")
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Content-Type") == "application/json"
        assert json.loads(response.read()) == {"path": f"/n/{n}"}
    conn.request("HEAD", "/head")
    response = conn.getresponse()
    assert response.status == 200 and response.read() == b"" and int(response.getheader("Content-Length")) > 0
    conn.close()
    assert [e["status"] for e in api.access_log] == [200] * 6


# -- when the function does not answer as it should ------------------------------------------------------------
FAILS = "def handler(event, context):\n    raise ValueError('boom')\n"
MALFORMED = "def handler(event, context):\n    return {'statusCode': 'OK', 'body': 1}\n"
SLOW = "import time\ndef handler(event, context):\n    time.sleep(2)\n    return 'late'\n"


@pytest.mark.parametrize("kind, failed, malformed, throttled", [
    ("rest", (502, {"message": "Internal server error"}), (502, {"message": "Internal server error"}),
     (429, {"message": "Too Many Requests"})),
    ("http", (500, {"message": "Internal Server Error"}), (500, {"message": "Internal Server Error"}),
     (429, {"message": "Too Many Requests"})),
    ("url", (502, {"message": "Internal Server Error"}), (502, {"message": "Internal Server Error"}),
     (429, {"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"})),
])
def test_what_each_front_door_answers_for_errors_malformed_answers_and_throttles(make_lab, kind, failed, malformed,
                                                                                  throttled):
    lab = make_lab("process")
    lab.deploy("fails", FAILS, memory_mb=1769)
    lab.deploy("malformed", MALFORMED, memory_mb=1769)
    lab.deploy("throttled", "def handler(event, context):\n    return 1\n", memory_mb=1769, reserved_concurrency=0)
    for name, expected in (("fails", failed), ("malformed", malformed), ("throttled", throttled)):
        api = lab.serve_http(name, kind=kind)
        status, headers, body = _call(api.url + "/x")
        assert (status, json.loads(body)) == expected, name
        log = api.access_log[-1]
        assert log["status"] == status and log["integrationErrorMessage"]
        if name == "fails":
            assert log["integrationErrorMessage"].endswith("ValueError: boom")
        if name == "malformed":
            assert log["integrationErrorMessage"].startswith("Malformed Lambda proxy response: statusCode")
    [failure] = lab.record.events(kind="invoke", function="fails")
    assert failure["error_type"] == "ValueError"
    assert failure["source"] == ("function-url" if kind == "url" else "apigateway")


def test_the_integration_timeout_answers_while_the_function_runs_on(make_lab):
    lab = make_lab("process")
    lab.deploy("slow", SLOW, memory_mb=1769, timeout_s=10)
    rest = lab.serve_http("slow", kind="rest", integration_timeout_s=0.5)
    http_api = lab.serve_http("slow", kind="http", integration_timeout_s=0.5)
    started = time.perf_counter()
    status, _, body = _call(rest.url + "/")
    assert (status, json.loads(body)) == (504, {"message": "Endpoint request timed out"})
    assert time.perf_counter() - started < 1.8
    status, _, body = _call(http_api.url + "/")
    assert (status, json.loads(body)) == (503, {"message": "Service Unavailable"})
    deadline = time.monotonic() + 10
    while lab.record.count("invoke", function="slow") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [e["status"] for e in lab.record.events(kind="invoke", function="slow")] == ["success", "success"]


# -- sizes ----------------------------------------------------------------------------------------------------
def test_payload_limits_answer_413_as_api_gateway_and_lambda_do(make_lab):
    lab = make_lab("process")
    lab.deploy("size", "def handler(event, context):\n    return len(event.get('body') or '')\n", memory_mb=1769)
    rest, http_api, url = (lab.serve_http("size", kind=k) for k in ("rest", "http", "url"))
    text = b"a" * (6_400_000)                              # under API Gateway's 10 MB, over Lambda's 6 MB
    status, headers, body = _call(rest.url + "/", method="POST", body=text, headers={"Content-Type": "text/plain"})
    assert (status, json.loads(body)) == (413, {"message": "Request Too Long"})
    assert headers["x-amzn-ErrorType"] == "BadRequestException"
    # 4.8 MB of binary is 6.4 MB once base64-encoded into the event: too large as well.
    status, _, body = _call(http_api.url + "/", method="POST", body=b"\x00" * 4_800_000,
                            headers={"Content-Type": "application/octet-stream"})
    assert (status, json.loads(body)) == (413, {"message": "Request Too Long"})
    status, _, body = _call(http_api.url + "/", method="POST", body=b"ok" * 1000, headers={"Content-Type": "text/plain"})
    assert (status, body) == (200, b"2000")
    status, _, body = _call(url.url + "/", method="POST", body=text, headers={"Content-Type": "text/plain"})
    assert status == 413 and json.loads(body)["message"] == ("Request must be smaller than 6291456 bytes for the "
                                                             "InvokeFunction operation")
    # Over 10 MB: refused from the Content-Length alone, before any byte of the body is read.
    sock = socket.create_connection((rest.host, rest.port), timeout=5)
    sock.sendall(b"POST /prod/ HTTP/1.1\r\nHost: x\r\nContent-Length: 11000000\r\n\r\n")
    answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413") and answer.endswith(b"HTTP content length exceeded 10485760 bytes.")
    sock.close()
    assert lab.record.count("invoke", function="size") == 1


# -- hostile clients ------------------------------------------------------------------------------------------
def _raw(endpoint, data, timeout=5):
    sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    sock.sendall(data)
    chunks = []
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except socket.timeout:
        pass
    sock.close()
    return b"".join(chunks)


def test_slow_idle_huge_and_garbled_clients_do_not_hold_the_server(make_lab):
    lab = make_lab("process")
    lab.deploy("ok", "def handler(event, context):\n    return 'ok'\n", memory_mb=1769)
    api = lab.serve_http("ok", kind="http", idle_timeout_s=0.5, request_timeout_s=0.5, max_connections=4)

    # A request that trickles in is cut at the request timeout, and answered 408.
    slow = socket.create_connection((api.host, api.port), timeout=5)
    started = time.perf_counter()
    slow.sendall(b"GET / HTTP/1.1\r\n")
    slow.sendall(b"Host: x\r\n")
    time.sleep(0.2)
    slow.sendall(b"X-Slow: 1\r\n")
    answer = slow.recv(4096)
    slow.close()
    assert answer.startswith(b"HTTP/1.1 408") and time.perf_counter() - started < 2

    # An idle keep-alive connection is closed; a silent one too.
    idle = socket.create_connection((api.host, api.port), timeout=5)
    started = time.perf_counter()
    assert idle.recv(1) == b"" and time.perf_counter() - started < 2
    idle.close()

    # Headers beyond API Gateway's 10,240 bytes, garbage, ambiguous framing.
    assert _raw(api, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 11_000 + b"\r\n\r\n").startswith(b"HTTP/1.1 431")
    assert _raw(api, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Many: a\r\n" * 20_000 + b"\r\n").startswith(b"HTTP/1.1 431")
    assert _raw(api, b"\x16\x03\x01 not http at all\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert _raw(api, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"abc").startswith(b"HTTP/1.1 400")

    # Chunked bodies and Expect: 100-continue are HTTP/1.1 as clients speak it.
    answer = _raw(api, b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK") and answer.endswith(b'"ok"')

    # Connections beyond the limit are refused at once rather than queued; the server stays up.
    held = [socket.create_connection((api.host, api.port), timeout=5) for _ in range(4)]
    time.sleep(0.1)
    assert _raw(api, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 503")
    for sock in held:
        sock.close()
    time.sleep(0.7)
    assert _call(api.url + "/")[:1] == (200,)
    assert lab.record.count("invoke", function="ok") == 2


def test_a_function_that_does_not_exist_is_refused_at_once(make_lab):
    lab = make_lab("process")
    with pytest.raises(ResourceNotFoundException):
        lab.serve_http("nobody")
    lab.deploy("x", "def handler(event, context):\n    return 1\n", memory_mb=1769)
    with pytest.raises(ValueError, match="kind must be one of"):
        lab.serve_http("x", kind="websocket")


def test_a_named_stage_and_a_binary_answer(make_lab):
    lab = make_lab("process")
    image = textwrap.dedent("""
        import base64
        def handler(event, context):
            return {"statusCode": 200, "headers": {"Content-Type": "image/png"},
                    "body": base64.b64encode(b"\\x89PNG\\r\\n" + bytes(range(8))).decode(), "isBase64Encoded": True,
                    "multiValueHeaders": {}}
    """)
    lab.deploy("image", image, memory_mb=1769)
    api = lab.serve_http("image", kind="http", stage="beta")
    assert api.url.endswith("/beta")
    status, headers, body = _call(api.url + "/logo.png")
    assert status == 200 and headers["Content-Type"] == "image/png" and body == b"\x89PNG\r\n" + bytes(range(8))
    assert _call(api.url.rsplit("/", 1)[0] + "/logo.png")[0] == 404          # outside the stage
    # A REST API sends the base64 text on unless the media type is one of its binary media types.
    plain, binary = lab.serve_http("image", kind="rest"), lab.serve_http("image", kind="rest",
                                                                          binary_media_types=["image/png"])
    assert _call(plain.url + "/logo.png")[2] == base64.b64encode(b"\x89PNG\r\n" + bytes(range(8)))
    assert _call(binary.url + "/logo.png")[2] == b"\x89PNG\r\n" + bytes(range(8))

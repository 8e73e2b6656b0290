"""A local HTTP endpoint in front of a function, as ``sam local start-api`` serves one: an API
Gateway HTTP API (payload format 2.0), a REST API (payload 1.0, Lambda proxy integration) or a
Lambda function URL.

Each real HTTP request becomes the event the front door sends (``lambdalab_ext.events.http``
builds it), the function is invoked synchronously, and its answer becomes the HTTP response as
that front door makes it ("Create AWS Lambda proxy integrations for HTTP APIs", "Lambda proxy
integrations in API Gateway", "Invoking Lambda function URLs"):

- **payload 1.0** (REST): the function must return ``{"statusCode", "headers",
  "multiValueHeaders", "body", "isBase64Encoded"}``; anything else is a malformed proxy response.
  ``multiValueHeaders`` win over ``headers`` for the same name. A base64 body is decoded only for a
  media type among the API's ``binary_media_types``, as a REST API does (none by default).
- **payload 2.0** (HTTP API, function URL): an object with ``statusCode`` is taken as the response
  (``cookies`` become ``Set-Cookie`` headers); any other JSON the function returns is *inferred*:
  200, ``content-type: application/json``, the JSON as the body.
- Request bodies that are not text (payload 2.0: anything but ``text/*``, JSON, JavaScript, XML)
  arrive base64-encoded, with ``isBase64Encoded: true``.

What each front door answers when the function does not (REST API / HTTP API / function URL; the
bodies are ``{"message": ...}``, API Gateway's own):

- a function error, or a malformed answer: 502 ``Internal server error`` / 500 ``Internal Server
  Error`` / 502 ``Internal Server Error``;
- a Lambda throttle: 429 ``Too Many Requests`` / 429 ``Too Many Requests`` / 429 with Lambda's own
  ``TooManyRequestsException`` body (``Rate Exceeded.``);
- no answer within the integration timeout: 504 ``Endpoint request timed out`` / 503 ``Service
  Unavailable`` / (a URL waits for the function's own timeout);
- an event over Lambda's 6 MB: 413 ``Request Too Long`` / 413 ``Request Too Long`` / 413 with
  Lambda's ``RequestEntityTooLargeException``; a body over API Gateway's 10 MB: 413 ``HTTP content
  length exceeded 10485760 bytes.`` (text).

Sources: the HTTP API troubleshooting page (``{"message":"Internal Server Error"}``, status 500),
"Malformed Lambda proxy response" (502) for REST APIs, Lambda's rule that a throttled synchronous
invocation returns 429 to the caller (the API Gateway knowledge center also lists throttling among
the causes of a REST API's "Internal server error": this lab keeps the 429, which a client can
retry), captured responses of a REST API over its 10 MB and Lambda's 6 MB limits
(koki-develop/lgtm-generator#10). The integration timeouts are API Gateway's quotas (29 s REST,
30 s HTTP API).

A hostile client holds nothing: the request line and headers are bounded (10,240 bytes of request
line and header values, API Gateway's quota), the body too (10 MB, or 6 MB for a function URL), an
idle keep-alive connection is closed after ``idle_timeout_s``, a request that trickles in is cut
after ``request_timeout_s``, and at most ``max_connections`` are served at once. Every request is
in ``endpoint.access_log`` with API Gateway's access-log fields (``integrationErrorMessage`` says
why a response was refused).

>>> api = lab.serve_http("hello", kind="http")                              # doctest: +SKIP
>>> urllib.request.urlopen(api.url + "/greet?name=Ada").read()              # doctest: +SKIP
b'{"greeting": "hello Ada"}'
>>> api.close()                                                             # doctest: +SKIP
"""

import base64
import binascii
import collections
import concurrent.futures
import datetime
import email.utils
import json
import re
import secrets
import socket
import string
import threading
import time
import uuid

from ..errors import LambdaServiceError, RequestEntityTooLargeException, TooManyRequestsException
from ..events._common import access_log_time
from ..events.http import (HttpRequest, function_url_request_event, http_api_request_event, media_type_matches,
                           rest_api_request_event)
from ..limits import SYNC_REQUEST_MAX_BYTES
from ..request import InvocationRequest

KINDS = ("http", "rest", "url")
PAYLOAD_MAX_BYTES = 10 * 1024 * 1024          # API Gateway's request payload quota (10 MB)
HEADER_MAX_BYTES = 10_240                     # request line and header values together (API Gateway)
HEAD_READ_MAX_BYTES = 64 * 1024               # never buffer more than this before the body
INTEGRATION_TIMEOUT_S = {"rest": 29.0, "http": 30.0, "url": None}
IDLE_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 30.0
MAX_CONNECTIONS = 64
ACCESS_LOG_ENTRIES = 1_000
LINGER_S, LINGER_MAX_BYTES = 1.0, 16 * 1024 * 1024   # reading what a refused client still sends

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te", "trailer",
               "proxy-connection"}
_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently",
            302: "Found", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 408: "Request Timeout", 413: "Request Entity Too Large", 429: "Too Many Requests",
            431: "Request Header Fields Too Large", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


class MalformedResponse(ValueError):
    """The function's answer is not a response the front door can send (it answers 502 or 500)."""


# -- the function's answer, as each front door reads it (pure) -------------------------------------------
def _header_value(name, value):
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, (int, float)):
        value = str(value)
    elif not isinstance(value, str):
        raise MalformedResponse(f"header {name!r} has a {type(value).__name__} value")
    if "\r" in value or "\n" in value:
        raise MalformedResponse(f"header {name!r} has a line break in its value")
    return value


def _header_name(name):
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise MalformedResponse(f"{name!r} is not a header name")
    return name


def _status(payload):
    status = payload.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode must be an integer from 100 to 599, not {status!r}")
    return status


def _body_bytes(payload, decode):
    body = payload.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse(f"body must be a string, not {type(body).__name__}")
    encoded = payload.get("isBase64Encoded", False)
    if not isinstance(encoded, bool):
        raise MalformedResponse("isBase64Encoded must be true or false")
    if encoded and decode:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponse("isBase64Encoded is true but body is not base64") from None
    return body.encode("utf-8")


def _mapping(payload, key):
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedResponse(f"{key} must be an object")
    return value


def rest_response(raw_payload, *, accept=None, binary_media_types=()):
    """``(status, [(name, value)], body)`` from a payload 1.0 function's answer (bytes of JSON).

    Raises ``MalformedResponse`` for what API Gateway calls a "Malformed Lambda proxy response".
    """
    try:
        payload = json.loads(raw_payload or b"null")
    except (ValueError, RecursionError):
        raise MalformedResponse("the function did not return JSON") from None
    if not isinstance(payload, dict):
        raise MalformedResponse(f"a proxy response is an object with statusCode, not {type(payload).__name__}")
    status = _status(payload)
    headers, seen = [], set()
    for name, values in _mapping(payload, "multiValueHeaders").items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
        headers += [(_header_name(name), _header_value(name, v)) for v in values]
        seen.add(name.lower())
    for name, value in _mapping(payload, "headers").items():
        if name.lower() not in seen:
            headers.append((_header_name(name), _header_value(name, value)))
    content_type = next((v for n, v in headers if n.lower() == "content-type"), None)
    decode = bool(binary_media_types) and (media_type_matches(content_type, binary_media_types)
                                           or media_type_matches(accept, binary_media_types))
    body = _body_bytes(payload, decode)
    if content_type is None:
        headers.append(("Content-Type", "application/json"))
    return status, headers, body


def v2_response(raw_payload):
    """``(status, [(name, value)], body)`` from a payload 2.0 function's answer (HTTP API, function URL).

    An object with ``statusCode`` is the response; any other JSON is inferred (200, JSON body).
    """
    try:
        payload = json.loads(raw_payload or b"null")
    except (ValueError, RecursionError):
        raise MalformedResponse("the function did not return JSON") from None
    if not (isinstance(payload, dict) and "statusCode" in payload):
        return 200, [("Content-Type", "application/json")], bytes(raw_payload or b"null")
    status = _status(payload)
    headers = []
    for name, value in _mapping(payload, "headers").items():
        if isinstance(value, list):        # 2.0 has no multiValueHeaders: a list becomes one line
            value = ",".join(_header_value(name, v) for v in value)
        headers.append((_header_name(name), _header_value(name, value)))
    cookies = payload.get("cookies") or []
    if not isinstance(cookies, list):
        raise MalformedResponse("cookies must be a list of strings")
    headers += [("Set-Cookie", _header_value("Set-Cookie", c)) for c in cookies]
    body = _body_bytes(payload, decode=True)
    if not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return status, headers, body


# -- reading a request from a socket, with deadlines ---------------------------------------------------------
class _ClientGone(Exception):
    pass


class _TimedOut(Exception):
    pass


class _Refused(Exception):
    """A request refused before the function: the status, headers and body to answer, then close."""

    def __init__(self, status, body, content_type="application/json", headers=()):
        super().__init__(status)
        self.status, self.body, self.content_type, self.headers = status, body, content_type, list(headers)


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _TimedOut()
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(262_144)
        except socket.timeout:
            raise _TimedOut() from None
        except OSError:
            raise _ClientGone() from None
        if not chunk:
            raise _ClientGone()
        self.buf += chunk

    def until(self, separator, limit, deadline, too_large):
        start = 0
        while True:
            found = self.buf.find(separator, start)
            if found >= 0:
                out = bytes(self.buf[:found])
                del self.buf[:found + len(separator)]
                return out
            if len(self.buf) > limit:
                raise too_large
            start = max(0, len(self.buf) - len(separator) + 1)
            self.fill(deadline)

    def exactly(self, size, deadline):
        while len(self.buf) < size:
            self.fill(deadline)
        out = bytes(self.buf[:size])
        del self.buf[:size]
        return out


def _message(text):
    return json.dumps({"message": text}).encode()


def _text(raw):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# -- the endpoint ------------------------------------------------------------------------------------------
class HttpEndpoint:
    """A threaded HTTP server on the loopback in front of one function. ``url`` is where to send
    requests (a REST API's includes its stage); ``close()`` stops it (the lab closes it too).

    ``service`` is the Lambda service (each request is one synchronous ``invoke_request``);
    ``function_name`` must exist. Options: ``stage`` (a REST API's, ``prod`` by default; an HTTP
    API's, ``$default``), ``binary_media_types`` (REST), ``integration_timeout_s`` (29 s REST, 30 s
    HTTP API, none for a URL), ``idle_timeout_s``, ``request_timeout_s``, ``max_connections``.
    """

    def __init__(self, service, function_name, kind="http", host="127.0.0.1", port=0, *, region="us-east-1",
                 account_id="123456789012", stage=None, binary_media_types=(), integration_timeout_s="default",
                 idle_timeout_s=IDLE_TIMEOUT_S, request_timeout_s=REQUEST_TIMEOUT_S,
                 max_connections=MAX_CONNECTIONS):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS} (HTTP API, REST API, function URL), got {kind!r}")
        service.get(function_name)              # ResourceNotFoundException now, not at the first request
        self.service = service
        self.function_name = function_name
        self.kind = kind
        self.region, self.account_id = region, account_id
        self.stage = stage or ("prod" if kind == "rest" else "$default")
        if kind == "url" and self.stage != "$default":
            raise ValueError("a function URL has no stages")
        if kind == "rest" and not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", self.stage):
            raise ValueError(f"stage {self.stage!r}: a REST API stage name is letters, digits, '-' and '_'")
        self.binary_media_types = tuple(binary_media_types)
        self.integration_timeout_s = (INTEGRATION_TIMEOUT_S[kind] if integration_timeout_s == "default"
                                      else integration_timeout_s)
        self.idle_timeout_s = float(idle_timeout_s)
        self.request_timeout_s = float(request_timeout_s)
        self.api_id = "".join(secrets.choice(string.ascii_lowercase + string.digits)
                              for _ in range(32 if kind == "url" else 10))
        self._resource_ids = {"/": _random_id(10), "/{proxy+}": _random_id(6)}
        self.access_log = collections.deque(maxlen=ACCESS_LOG_ENTRIES)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._connections = set()
        self._lock = threading.Lock()
        self._closed = False
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_connections,
                                                           thread_name_prefix="lambdalab-http-invoke")
        self._listener = socket.create_server((host, port), backlog=128)
        self.host, self.port = self._listener.getsockname()[:2]
        self._closer = _Closer()
        self._acceptor = threading.Thread(target=self._accept, name=f"lambdalab-http-{self.port}", daemon=True)
        self._acceptor.start()

    @property
    def url(self):
        base = f"http://{self.host}:{self.port}"
        return f"{base}/{self.stage}" if self.kind == "rest" or self.stage != "$default" else base

    def close(self):
        """Stop accepting, close every connection, let running invocations finish on their own."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            connections = list(self._connections)
        try:
            self._listener.shutdown(socket.SHUT_RDWR)   # wakes the accept() of the acceptor thread
        except OSError:
            pass
        self._listener.close()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._acceptor.join(timeout=5)
        self._closer.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        names = {"http": "HTTP API", "rest": "REST API", "url": "function URL"}
        state = "closed" if self._closed else self.url
        return f"<HttpEndpoint {names[self.kind]} -> {self.function_name}: {state}>"

    # -- connections ---------------------------------------------------------------------------------------
    def _accept(self):
        while True:
            try:
                conn, address = self._listener.accept()
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                self._refuse_busy(conn)
                continue
            with self._lock:
                if self._closed:
                    self._slots.release()
                    conn.close()
                    return
                self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn, address), name="lambdalab-http-conn",
                             daemon=True).start()

    def _refuse_busy(self, conn):
        """503 to a connection beyond ``max_connections``, then a lingering close on the closer's
        one thread (never a thread per refused connection)."""
        try:
            conn.setblocking(False)
            body = _message("Service Unavailable")
            conn.send(self._head(503, [("Content-Type", "application/json")], len(body), False) + body)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            conn.close()
            return
        self._closer.add(conn)

    def _serve(self, conn, address):
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = _Reader(conn)
            while not self._closed:
                if not reader.buf:
                    try:
                        reader.fill(time.monotonic() + self.idle_timeout_s)
                    except (_TimedOut, _ClientGone):
                        return                       # idle keep-alive connection: closed quietly
                try:
                    request, keep_alive = self._read(reader, conn, address)
                except _Refused as refused:
                    self._send(conn, refused.status, [("Content-Type", refused.content_type), *refused.headers],
                               refused.body, keep_alive=False)
                    self._log(None, refused.status, 0.0, None, None, len(refused.body))
                    _linger(conn)
                    return
                except _TimedOut:
                    body = _message("Request Timeout")
                    self._send(conn, 408, [("Content-Type", "application/json")], body, keep_alive=False)
                    return
                status, headers, body = self._respond(request)
                self._send(conn, status, headers, b"" if request.method == "HEAD" else body, keep_alive,
                           length=len(body))
                if not keep_alive:
                    return
        except (_ClientGone, OSError):
            pass
        finally:
            with self._lock:
                self._connections.discard(conn)
            try:
                conn.close()
            finally:
                self._slots.release()

    def _read(self, reader, conn, address):
        deadline = time.monotonic() + self.request_timeout_s
        too_large = _Refused(431, _message("Request Header Fields Too Large"))
        head = reader.until(b"\r\n\r\n", HEAD_READ_MAX_BYTES, deadline, too_large)
        lines = head.split(b"\r\n")
        while lines and not lines[0]:             # tolerate blank lines before a request (RFC 9112)
            lines.pop(0)
        if not lines:
            raise _Refused(400, _message("Bad Request"))
        parts = lines[0].decode("latin-1").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not _TOKEN.fullmatch(parts[0]):
            raise _Refused(400, _message("Bad Request"))
        method, target, version = parts
        headers, measured = [], len(lines[0])
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            text_name = name.decode("latin-1")
            if not colon or not _TOKEN.fullmatch(text_name):
                raise _Refused(400, _message("Bad Request"))
            value = value.strip(b" \t")
            measured += len(value)
            headers.append((text_name, _text(value)))
        if measured > HEADER_MAX_BYTES:
            raise too_large
        if target.startswith(("http://", "https://")):
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        if not target.startswith("/"):
            raise _Refused(400, _message("Bad Request"))
        raw_path, _, raw_query = target.partition("?")
        lower = {}
        for name, value in headers:
            lower.setdefault(name.lower(), []).append(value)
        connection = ",".join(lower.get("connection", [])).lower()
        keep_alive = ("close" not in connection) if version == "HTTP/1.1" else ("keep-alive" in connection)
        limit = SYNC_REQUEST_MAX_BYTES if self.kind == "url" else PAYLOAD_MAX_BYTES
        body = self._read_body(reader, conn, lower, limit, deadline)
        request = HttpRequest(method=method, raw_path=raw_path, raw_query=raw_query, headers=headers, body=body,
                              source_ip=address[0], time=datetime.datetime.now(datetime.timezone.utc),
                              protocol=version)
        return request, keep_alive

    def _too_large(self):
        if self.kind == "url":
            return _Refused(413, json.dumps(RequestEntityTooLargeException(
                f"Request must be smaller than {SYNC_REQUEST_MAX_BYTES} bytes for the InvokeFunction "
                "operation").as_response()).encode(), headers=[("x-amzn-ErrorType", "RequestEntityTooLargeException")])
        return _Refused(413, f"HTTP content length exceeded {PAYLOAD_MAX_BYTES} bytes.".encode(),
                        content_type="text; charset=utf-8")

    def _read_body(self, reader, conn, lower, limit, deadline):
        lengths = set(lower.get("content-length", []))
        chunked = "chunked" in ",".join(lower.get("transfer-encoding", [])).lower()
        if chunked and lengths or len(lengths) > 1:
            raise _Refused(400, _message("Bad Request"))    # ambiguous framing: a smuggling attempt
        length = 0
        if lengths:
            value = lengths.pop()
            if not value.isdigit():
                raise _Refused(400, _message("Bad Request"))
            length = int(value)
            if length > limit:
                raise self._too_large()
        if "100-continue" in ",".join(lower.get("expect", [])).lower() and (length or chunked):
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if not chunked:
            return reader.exactly(length, deadline) if length else b""
        body = bytearray()
        bad = _Refused(400, _message("Bad Request"))
        while True:
            size_line = reader.until(b"\r\n", 1024, deadline, bad).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise bad from None
            if size == 0:
                while reader.until(b"\r\n", 8192, deadline, bad):   # trailers, up to the blank line
                    pass
                return bytes(body)
            if len(body) + size > limit:
                raise self._too_large()
            body += reader.exactly(size, deadline)
            if reader.exactly(2, deadline) != b"\r\n":
                raise bad

    # -- one request, through the function ----------------------------------------------------------------
    def _respond(self, request):
        started = time.perf_counter()
        if self.kind == "rest":
            prefix = f"/{self.stage}"
            if not (request.raw_path == prefix or request.raw_path.startswith(prefix + "/")):
                # Outside the stage, a REST API has no resource: it answers as AWS famously does.
                body = _message("Missing Authentication Token")
                self._log(request, 403, started, None, None, len(body))
                return 403, [("Content-Type", "application/json"),
                             ("x-amzn-ErrorType", "MissingAuthenticationTokenException")], body
        elif self.stage != "$default" and not (request.raw_path == f"/{self.stage}"
                                                or request.raw_path.startswith(f"/{self.stage}/")):
            body = _message("Not Found")
            self._log(request, 404, started, None, None, len(body))
            return 404, [("Content-Type", "application/json")], body
        invocation = InvocationRequest(function_name=self.function_name, payload=b"",
                                       source="function-url" if self.kind == "url" else "apigateway",
                                       source_arn=self._source_arn(request), source_account=self.account_id)
        api_request_id = invocation.request_id if self.kind == "url" else self._api_request_id()
        extended_id = _random_token(12) + "="
        trace_root = invocation.trace_header.split(";", 1)[0]
        request.headers = self._front_door_headers(request, trace_root)
        event = self._event(request, api_request_id, extended_id)
        payload = json.dumps(event).encode()
        front = self._response_headers(api_request_id, extended_id, trace_root)
        if len(payload) > SYNC_REQUEST_MAX_BYTES:
            refused = self._too_large() if self.kind == "url" else _Refused(
                413, _message("Request Too Long"), headers=[("x-amzn-ErrorType", "BadRequestException")])
            self._log(request, 413, started, api_request_id, None, len(refused.body),
                      error=f"the event is {len(payload):,} bytes: Lambda takes at most {SYNC_REQUEST_MAX_BYTES:,}")
            return 413, [("Content-Type", refused.content_type), *refused.headers, *front], refused.body
        invocation.payload = payload
        try:
            result = self._invoke(invocation)
        except concurrent.futures.TimeoutError:
            status, message = ((504, "Endpoint request timed out") if self.kind == "rest"
                               else (503, "Service Unavailable"))
            return self._failed(request, status, message, started, api_request_id, invocation.request_id, front,
                                error=f"the function did not answer within the integration timeout of "
                                      f"{self.integration_timeout_s:g} s (it keeps running)")
        except TooManyRequestsException as exc:
            # The throttle reaches the client as a 429, retryable: Lambda's own error through a
            # function URL, API Gateway's "Too Many Requests" through an API.
            error = f"Lambda throttled the invocation: {exc} ({exc.details.get('Reason')})"
            if self.kind != "url":
                return self._failed(request, 429, "Too Many Requests", started, api_request_id,
                                    invocation.request_id, front, error)
            body = json.dumps(exc.as_response()).encode()
            self._log(request, 429, started, api_request_id, invocation.request_id, len(body), error=error)
            return 429, [("Content-Type", "application/json"), ("x-amzn-ErrorType", "TooManyRequestsException"),
                         *front], body
        except (LambdaServiceError, RuntimeError) as exc:    # function deleted, lab shut down...
            return self._internal_error(request, started, api_request_id, invocation.request_id, front,
                                        error=f"{type(exc).__name__}: {exc}", status=500)
        if result.error is not None:
            error = result.error
            return self._internal_error(request, started, api_request_id, invocation.request_id, front,
                                        error=f"The Lambda function returned the following error: "
                                              f"{error.get('errorType')}: {error.get('errorMessage')}")
        try:
            if self.kind == "rest":
                status, headers, body = rest_response(result.raw_payload, accept=request.header("accept"),
                                                      binary_media_types=self.binary_media_types)
            else:
                status, headers, body = v2_response(result.raw_payload)
        except MalformedResponse as exc:
            return self._internal_error(request, started, api_request_id, invocation.request_id, front,
                                        error=f"Malformed Lambda proxy response: {exc}")
        headers = [(n, v) for n, v in headers if n.lower() not in _HOP_BY_HOP] + front
        self._log(request, status, started, api_request_id, invocation.request_id, len(body))
        return status, headers, body

    def _invoke(self, invocation):
        if self.integration_timeout_s is None:
            return self.service.invoke_request(invocation, checked=True)
        future = self._pool.submit(self.service.invoke_request, invocation, checked=True)
        return future.result(timeout=self.integration_timeout_s)

    def _internal_error(self, request, started, api_request_id, lambda_request_id, front, error, status=None):
        """The front door's answer when the function failed or answered what it cannot send."""
        if self.kind == "rest":
            status, message = status or 502, "Internal server error"
        else:
            status, message = (500 if self.kind == "http" else 502), "Internal Server Error"
        return self._failed(request, status, message, started, api_request_id, lambda_request_id, front, error)

    def _failed(self, request, status, message, started, api_request_id, lambda_request_id, front, error):
        body = _message(message)
        self._log(request, status, started, api_request_id, lambda_request_id, len(body), error=error)
        return status, [("Content-Type", "application/json"), *front], body

    def _event(self, request, api_request_id, extended_id):
        if self.kind == "rest":
            resource = "/" if request.raw_path.rstrip("/") in ("", f"/{self.stage}") else "/{proxy+}"
            return rest_api_request_event(
                request, stage=self.stage, resource=resource, api_id=self.api_id, request_id=api_request_id,
                extended_request_id=extended_id, resource_id=self._resource_ids[resource],
                account=self.account_id, binary_media_types=self.binary_media_types)
        if self.kind == "http":
            return http_api_request_event(request, stage=self.stage, route_key="$default", api_id=self.api_id,
                                          request_id=api_request_id, account=self.account_id)
        return function_url_request_event(request, url_id=self.api_id, request_id=api_request_id,
                                          account=self.account_id)

    def _front_door_headers(self, request, trace_root):
        """The headers API Gateway (or a function URL) adds before the function sees the request."""
        names = {"rest": ("X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Amzn-Trace-Id")}
        forwarded_for, port, proto, trace = names.get(self.kind, ("x-forwarded-for", "x-forwarded-port",
                                                                  "x-forwarded-proto", "x-amzn-trace-id"))
        drop = {forwarded_for.lower(), port.lower(), proto.lower(), trace.lower()}
        earlier = request.header("x-forwarded-for")
        kept = [(n, v) for n, v in request.headers if n.lower() not in drop]
        return kept + [(trace, trace_root),
                       (forwarded_for, f"{earlier}, {request.source_ip}" if earlier else request.source_ip),
                       (port, str(self.port)), (proto, "http")]

    def _response_headers(self, api_request_id, extended_id, trace_root):
        if self.kind == "rest":
            return [("x-amzn-RequestId", api_request_id), ("x-amz-apigw-id", extended_id),
                    ("X-Amzn-Trace-Id", trace_root)]
        if self.kind == "http":
            return [("Apigw-Requestid", api_request_id)]
        return [("x-amzn-RequestId", api_request_id), ("X-Amzn-Trace-Id", trace_root)]

    def _source_arn(self, request):
        if self.kind == "url":
            return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"
        return (f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/{self.stage}/"
                f"{request.method}{request.raw_path}")

    def _api_request_id(self):
        if self.kind == "rest":
            return str(uuid.uuid4())
        return _random_token(14) + "="       # an HTTP API's request id: "JKJaXmPLvHcESHA="

    # -- writing -------------------------------------------------------------------------------------------
    @staticmethod
    def _head(status, headers, length, keep_alive):
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
                 f"Date: {email.utils.formatdate(usegmt=True)}", f"Content-Length: {length}",
                 f"Connection: {'keep-alive' if keep_alive else 'close'}"]
        lines += [f"{name}: {value}" for name, value in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    def _send(self, conn, status, headers, body, keep_alive, length=None):
        conn.settimeout(self.request_timeout_s)    # a client that reads nothing cannot hold the thread
        conn.sendall(self._head(status, headers, len(body) if length is None else length, keep_alive) + body)

    def _log(self, request, status, started, api_request_id, lambda_request_id, length, error=None):
        now = datetime.datetime.now(datetime.timezone.utc)
        self.access_log.append({
            "requestId": api_request_id, "ip": request.source_ip if request else None,
            "requestTime": access_log_time(request.time if request else now),
            "httpMethod": request.method if request else None, "path": request.raw_path if request else None,
            "routeKey": "ANY /{proxy+}" if self.kind == "rest" else "$default", "status": status,
            "protocol": request.protocol if request else None, "responseLength": length,
            "responseLatency": round((time.perf_counter() - started) * 1000, 3) if started else None,
            "integrationRequestId": lambda_request_id, "integrationErrorMessage": error,
        })


class _Closer:
    """Lingering closes of refused connections, all on one thread: each is read (and what it sent
    thrown away) until its client closes or ``LINGER_S`` passes, so that it reads its answer
    instead of a reset. At most ``CLOSER_MAX`` at once; beyond, a connection is closed at once."""

    CLOSER_MAX = 256

    def __init__(self):
        import selectors
        self._selector = selectors.DefaultSelector()
        self._deadlines = {}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, 1)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="lambdalab-http-closer", daemon=True)
        self._thread.start()

    def add(self, conn):
        with self._lock:
            if self._closed or len(self._deadlines) >= self.CLOSER_MAX:
                conn.close()
                return
            self._deadlines[conn] = time.monotonic() + LINGER_S
            self._selector.register(conn, 1)
        self._wake_w.send(b"x")

    def _run(self):
        while not self._closed:
            with self._lock:
                soonest = min(self._deadlines.values(), default=None)
            timeout = None if soonest is None else max(0.0, soonest - time.monotonic())
            for key, _ in self._selector.select(timeout):
                if key.fileobj is self._wake_r:
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                    continue
                try:
                    if key.fileobj.recv(65536):
                        continue
                except OSError:
                    pass
                self._drop(key.fileobj)
            now = time.monotonic()
            with self._lock:
                expired = [c for c, d in self._deadlines.items() if d <= now]
            for conn in expired:
                self._drop(conn)

    def _drop(self, conn):
        with self._lock:
            if self._deadlines.pop(conn, None) is None:
                return
            self._selector.unregister(conn)
        conn.close()

    def close(self):
        self._closed = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(timeout=2)
        with self._lock:
            for conn in list(self._deadlines):
                conn.close()
            self._deadlines.clear()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()


def _linger(conn):
    """Close after an early answer without losing it: a client still sending (a body too large, a
    header block too long) would otherwise get a reset instead of the answer. Reads what it sends
    for a bounded time and size, then closes."""
    try:
        conn.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + LINGER_S
        drained = 0
        while drained < LINGER_MAX_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            conn.settimeout(remaining)
            chunk = conn.recv(262_144)
            if not chunk:
                return
            drained += len(chunk)
    except OSError:
        pass


def _random_id(length):
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(length))


def _random_token(length):
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(length))

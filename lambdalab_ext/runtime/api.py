"""The host side of the Lambda Runtime API (version 2018-06-01), one server per execution environment.

Endpoints, headers and status codes follow AWS's documentation ("Using the Lambda runtime API for
custom runtimes") and the Runtime Interface Emulator: ``GET /runtime/invocation/next`` (200, event in
the body, metadata in ``Lambda-Runtime-*`` headers), ``POST /runtime/invocation/{id}/response`` and
``.../error`` (202), ``POST /runtime/init/error`` (202); a call out of turn gets 403
``InvalidStateTransition``, an unknown request id 400 ``InvalidRequestID``, a response over 6 MB 413
``RequestEntityTooLarge``.

The server only moves messages. What happened is posted to ``events`` (a ``queue.Queue``) as
``RuntimeEvent`` tuples that the execution environment consumes.
"""

import http.server
import json
import socketserver
import threading
import time
from dataclasses import dataclass

API_PREFIX = "/2018-06-01"
MAX_RESPONSE_BYTES = 6_291_556      # measured limit of a synchronous response (lambda-facts §3.2)
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


@dataclass
class Invocation:
    """One event handed to the runtime, with the metadata ``/next`` carries in its headers."""

    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_function_arn: str
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None


@dataclass
class RuntimeEvent:
    kind: str             # "ready" | "init_error" | "response" | "error" | "too_large" | "exit"
    at: float             # time.perf_counter() when it happened
    request_id: str | None = None
    body: bytes = b""
    error_type: str | None = None
    exit_code: int | None = None
    oom_killed: bool = False


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 16

    def handle_error(self, request, client_address):
        # A runtime that disconnects (killed at a timeout, environment shut down) is normal here.
        pass


class RuntimeAPIServer:
    """Serves the Runtime API to one execution environment.

    States: ``init`` until the runtime first asks for an event, then ``idle`` (waiting in ``/next``),
    ``invoking`` (an event is out), ``responded`` (result posted, next ``/next`` not yet called).
    """

    def __init__(self, events, host="127.0.0.1", sock=None):
        """Listen on ``host`` (an ephemeral port), or on ``sock``, a socket already listening (made
        inside the sandbox's own network namespace, where the runtime finds it at 127.0.0.1:9001)."""
        self.events = events
        self.state = "init"
        self.current = None            # the Invocation being worked on
        self.handed_off_at = None      # perf_counter when the current event left in /next
        self._pending = None           # an Invocation waiting for the runtime to ask
        self._cond = threading.Condition()
        self._closed = False
        if sock is None:
            self._server = _Server((host, 0), self._handler_class())
        else:
            self._server = _Server(sock.getsockname(), self._handler_class(), bind_and_activate=False)
            self._server.socket.close()
            self._server.socket = sock
        host, port = self._server.server_address[:2]
        self.address = f"{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.25},
                                        name=f"runtime-api-{self.address}", daemon=True)
        self._thread.start()

    # -- host side ---------------------------------------------------------------------------
    def dispatch(self, invocation):
        """Hand an event to the runtime: it leaves at once if the runtime waits in ``/next``."""
        with self._cond:
            if self.state not in ("idle", "responded", "init"):
                raise RuntimeError(f"cannot dispatch while the runtime is {self.state}")
            self._pending = invocation
            self._cond.notify_all()

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    # -- runtime side ------------------------------------------------------------------------
    def _next(self):
        """Block until an event is dispatched; returns it, or None when the server closes."""
        with self._cond:
            if self.state == "invoking":
                return "invalid"
            if self.state == "init":
                self.events.put(RuntimeEvent("ready", time.perf_counter()))
            self.state = "idle"
            while self._pending is None and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            invocation, self._pending = self._pending, None
            self.current = invocation
            self.state = "invoking"
            self.handed_off_at = time.perf_counter()
            return invocation

    def _finish(self, request_id, kind, body=b"", error_type=None):
        with self._cond:
            if self.state != "invoking":
                return 403, "InvalidStateTransition", f"Transition from {self.state} to {kind} is not allowed"
            if request_id != self.current.request_id:
                return 400, "InvalidRequestID", f"Invalid request ID: {request_id}"
            self.state = "responded"
            self.events.put(RuntimeEvent(kind, time.perf_counter(), request_id, body, error_type))
            return 202, None, None

    def _init_error(self, body, error_type):
        with self._cond:
            if self.state != "init":
                return 403, "InvalidStateTransition", f"Transition from {self.state} to init error is not allowed"
            self.state = "init_failed"
            self.events.put(RuntimeEvent("init_error", time.perf_counter(), None, body, error_type))
            return 202, None, None

    def _handler_class(self):
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True   # one small write per message: no delayed-ACK stalls

            def log_message(self, *args):
                pass

            def _send(self, status, body=b"", headers=None):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def _send_error(self, status, error_type, message):
                self._send(status, json.dumps({"errorMessage": message, "errorType": error_type}).encode(),
                           {"Content-Type": "application/json"})

            def _read_body(self, limit=None):
                """Read the request body; over ``limit`` it is drained and None is returned."""
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks, size = [], 0
                    while True:
                        n = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if n == 0:
                            self.rfile.readline()
                            break
                        chunk = self.rfile.read(n)
                        self.rfile.readline()
                        size += n
                        if limit is None or size <= limit:
                            chunks.append(chunk)
                    return b"".join(chunks) if limit is None or size <= limit else None
                length = int(self.headers.get("Content-Length") or 0)
                if limit is not None and length > limit:
                    remaining = length
                    while remaining > 0:
                        chunk = self.rfile.read(min(remaining, 1 << 20))
                        if not chunk:
                            break
                        remaining -= len(chunk)
                    return None
                return self.rfile.read(length) if length else b""

            def do_GET(self):
                if self.path == f"{API_PREFIX}/runtime/invocation/next":
                    invocation = api._next()
                    if invocation == "invalid":
                        self._send_error(403, "InvalidStateTransition",
                                         "Transition from invoking to next is not allowed")
                        return
                    if invocation is None:
                        self.close_connection = True
                        self._send_error(500, "ServiceUnavailable", "The execution environment is shutting down")
                        return
                    headers = {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": invocation.invoked_function_arn,
                        "Lambda-Runtime-Trace-Id": invocation.trace_id,
                    }
                    if invocation.client_context:
                        headers["Lambda-Runtime-Client-Context"] = invocation.client_context
                    if invocation.cognito_identity:
                        headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
                    self._send(200, invocation.payload, headers)
                elif self.path == "/ping" or self.path == f"{API_PREFIX}/ping":
                    self._send(200, b"pong")
                else:
                    self._send_error(404, "NotFound", f"No route for GET {self.path}")

            def do_POST(self):
                path = self.path[len(API_PREFIX):] if self.path.startswith(API_PREFIX) else None
                parts = (path or "").strip("/").split("/")
                if path == "/runtime/init/error":
                    body = self._read_body(MAX_RESPONSE_BYTES)
                    status, error_type, message = api._init_error(body or b"", self.headers.get(ERROR_TYPE_HEADER))
                elif len(parts) == 4 and parts[:2] == ["runtime", "invocation"] and parts[3] in ("response", "error"):
                    request_id, kind = parts[2], parts[3]
                    body = self._read_body(MAX_RESPONSE_BYTES)
                    if body is None:
                        status, error_type, message = api._finish(request_id, "too_large")
                        if status == 202:
                            self._send_error(413, "RequestEntityTooLarge",
                                             f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).")
                            return
                    else:
                        status, error_type, message = api._finish(request_id, kind, body,
                                                                  self.headers.get(ERROR_TYPE_HEADER))
                else:
                    self._read_body(MAX_RESPONSE_BYTES)
                    self._send_error(404, "NotFound", f"No route for POST {self.path}")
                    return
                if status == 202:
                    self._send(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
                else:
                    self._send_error(status, error_type, message)

        return Handler

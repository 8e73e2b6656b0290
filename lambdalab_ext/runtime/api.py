"""The host side of the Lambda Runtime API (version 2018-06-01), one server per execution environment.

Endpoints, headers and status codes follow AWS's documentation ("Using the Lambda runtime API for
custom runtimes") and the Runtime Interface Emulator: ``GET /runtime/invocation/next`` (200, event in
the body, metadata in ``Lambda-Runtime-*`` headers), ``POST /runtime/invocation/{id}/response`` and
``.../error`` (202), ``POST /runtime/init/error`` (202); a call out of turn gets 403
``InvalidStateTransition``, an unknown request id 400 ``InvalidRequestID``, a response over the
synchronous payload limit ("Lambda quotas": 6 MB; 6,291,556 bytes measured) 413
``RequestEntityTooLarge``, and the invocation fails with ``Function.ResponseSizeTooLarge``.

The server only moves messages. What happened is posted to ``events`` (a ``queue.Queue``) as
``RuntimeEvent`` tuples that the execution environment consumes.

The function on the other end is hostile code, so the server holds whatever it is sent:

- One thread serves every Runtime API of the process: a ``selectors`` event loop with a small,
  strict HTTP/1.1 parser. No thread per connection, and no call that can block on the function.
- Every request is bounded as it arrives, however it is framed: the request line and headers
  together (1 MiB, as Go's ``net/http`` in AWS's Runtime Interface Emulator; awslambdaric
  sends an X-Ray header of up to 1 MiB with an error), the number of headers, a chunk-size line,
  the trailers, and the body (6,291,556 bytes, counted over the chunks received, never from a
  declared size). Over the body limit the answer is 413 and the connection closes after a bounded
  drain. Only a body that can be accepted is kept in memory, at most one limit's worth per
  environment at a time.
- At most ``MAX_CONNECTIONS`` connections per environment (a runtime client uses one or two): a new
  one beyond that replaces the longest-idle one, or is closed if none is idle. A connection must
  send its request line and headers within ``HEAD_TIMEOUT_S`` and its body within
  ``BODY_TIMEOUT_S``; an idle keep-alive connection closes after ``IDLE_TIMEOUT_S`` (longer than any
  function's timeout, so a runtime's own connection is never cut while its handler runs). A
  ``GET /next`` parked until an event comes has no timeout.
- No ``Server`` header: nothing says what serves the API.
"""

import collections
import errno
import json
import re
import selectors
import socket
import threading
import time
from dataclasses import dataclass

API_PREFIX = "/2018-06-01"
MAX_RESPONSE_BYTES = 6_291_556      # measured limit of a synchronous response ("Lambda quotas": 6 MB)
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

MAX_HEAD_BYTES = (1 << 20) + 4096   # request line + headers: net/http's DefaultMaxHeaderBytes and its slack
MAX_HEADERS = 100
MAX_CHUNK_LINE_BYTES = 4096         # a chunk size in hex and its extensions
MAX_TRAILER_BYTES = 16 * 1024
MAX_CONNECTIONS = 8                 # per environment
HEAD_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 60.0
WRITE_TIMEOUT_S = 60.0
IDLE_TIMEOUT_S = 960.0              # Lambda's longest function timeout (900 s), and a margin
DRAIN_BYTES = MAX_RESPONSE_BYTES    # read and dropped after a 413, so a client that sends before it reads sees it
DRAIN_TIMEOUT_S = 2.0
BODY_BUDGET = MAX_RESPONSE_BYTES + 65536   # body bytes kept per environment, over all its connections
READ_BYTES = 256 * 1024
ACCEPTS_PER_WAKE = 16
REQUESTS_PER_TURN = 8               # pipelined requests served from one connection before the others' turn

_REASONS = {100: "Continue", 200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 413: "Request Entity Too Large",
            431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
            505: "HTTP Version Not Supported"}
_HEX = frozenset(b"0123456789abcdefABCDEF")
# A header field (RFC 9110 5.1, RFC 9112 5): token ":" value, the value free of CR, LF and NUL;
# leading and trailing blanks are not part of the value.
_TOKEN_RE = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_FIELDS = re.compile((r"(?:" + _TOKEN_RE + r":[^\r\n\0]*\r?\n)*").encode())
_FIELD = re.compile(r"(" + _TOKEN_RE + r"):([^\r\n\0]*)\r?\n")   # linear: no nested repeats
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


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


_date_cache = [0, b""]


def _date_header():
    now = int(time.time())
    if now != _date_cache[0]:
        t = time.gmtime(now)
        _date_cache[1] = (f"Date: {_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
                          f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT\r\n").encode()
        _date_cache[0] = now
    return _date_cache[1]


def _error_body(error_type, message):
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


# -- the event loop ------------------------------------------------------------------------------
class _Loop:
    """One thread and one selector for the Runtime APIs of every environment of this process.

    Connection state is changed under the lock of its server, by this thread or by a thread that
    calls ``dispatch``; only this thread touches the selector and closes sockets.
    """

    _instance = None
    _instance_lock = threading.Lock()

    @classmethod
    def get(cls):
        with cls._instance_lock:
            if cls._instance is None or not cls._instance.thread.is_alive():
                cls._instance = cls()
            return cls._instance

    def __init__(self):
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._calls = collections.deque()
        self._woken = False
        self._timers = []            # (monotonic time, callable), few and short-lived
        self.connections = set()
        self.buffer = bytearray(READ_BYTES)
        self.view = memoryview(self.buffer)
        self.last_error = None       # the last unexpected exception, for debugging
        self.thread = threading.Thread(target=self._run, name="runtime-api", daemon=True)
        self.thread.start()

    def call_soon(self, fn):
        self._calls.append(fn)
        if not self._woken:
            self._woken = True
            try:
                self._wake_w.send(b"\0")
            except OSError:     # the pipe is full: the loop is awake anyway
                pass

    def call(self, fn):
        """Run ``fn`` in the loop's thread and return its result."""
        if threading.current_thread() is self.thread or not self.thread.is_alive():
            return fn()
        done = threading.Event()
        out = {}

        def run():
            try:
                out["value"] = fn()
            except BaseException as exc:   # handed back to the caller below
                out["error"] = exc
            finally:
                done.set()

        self.call_soon(run)
        if not done.wait(30):
            raise RuntimeError("the Runtime API event loop did not answer")
        if "error" in out:
            raise out["error"]
        return out.get("value")

    def call_later(self, delay, fn):
        self._timers.append((time.monotonic() + delay, fn))

    def _run(self):
        next_sweep = 0.0
        while True:
            timeout = None
            if self._calls:
                timeout = 0
            elif self.connections or self._timers:
                timeout = 0.5
            try:
                ready = self.selector.select(timeout)
            except InterruptedError:
                continue
            for key, mask in ready:
                handler = key.data
                if handler is None:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except OSError:
                        pass
                    continue
                try:
                    handler.on_ready(mask)
                except Exception as exc:   # one connection's failure must not stop the others
                    self.last_error = exc
                    handler.abort()
            # Cleared before the calls run, never after: a call queued from now on sends a new wake-up.
            self._woken = False
            for _ in range(len(self._calls)):    # calls queued by these calls wait for the next turn
                fn = self._calls.popleft()
                try:
                    fn()
                except Exception as exc:
                    self.last_error = exc
            if self.connections or self._timers:
                now = time.monotonic()
                if now >= next_sweep:
                    next_sweep = now + 0.5
                    self._sweep(now)

    def _sweep(self, now):
        due = [t for t in self._timers if t[0] <= now]
        if due:
            self._timers = [t for t in self._timers if t[0] > now]
            for _, fn in due:
                try:
                    fn()
                except Exception as exc:
                    self.last_error = exc
        for conn in list(self.connections):
            try:
                conn.check_deadline(now)
            except Exception as exc:
                self.last_error = exc
                conn.abort()


# -- one connection --------------------------------------------------------------------------
_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _WAIT, _DRAIN = range(8)


class _Reject(Exception):
    """A request that breaks the protocol or a bound: answered, then the connection closes."""

    def __init__(self, status, error_type, message):
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


class _Connection:
    def __init__(self, server, sock):
        self.server = server
        self.loop = server._loop
        self.sock = sock
        self.inbuf = bytearray()
        self.out = collections.deque()   # memoryviews still to send
        self.closed = False
        self.close_after = False         # close once ``out`` is sent
        self.interest = selectors.EVENT_READ
        self.phase = _HEAD
        self.scan = 0                    # where the search for the end of the head resumes
        self.blank = 0                   # empty lines before this request line
        self.requests = 0
        now = time.monotonic()
        self.idle_since = now
        self.deadline = now + HEAD_TIMEOUT_S   # the first request must come promptly
        self._reset_request()

    def _reset_request(self):
        self.method = self.path = None
        self.headers = None
        self.keep_alive = True
        self.route = None                # ("next",) | ("ping",) | (kind, request_id) | ("404", ...)
        self.keep_body = False
        self.discarded = False           # a body came that cannot be accepted: counted, not kept
        self.body = None
        self.need = 0                    # bytes left of a Content-Length body or of the current chunk
        self.total = 0                   # body bytes received (chunk data only)
        self.trailer_bytes = 0
        self.trailer_count = 0
        self.drain_left = 0

    # -- I/O (loop thread unless said otherwise) --------------------------------------------
    def on_ready(self, mask):
        with self.server._lock:
            if self.closed:
                return
            if mask & selectors.EVENT_WRITE:
                self.flush()
                if self.closed:
                    return
                if not self.out:
                    self.process()
            if mask & selectors.EVENT_READ and not self.closed:
                self._read()
            self._sync_interest()

    def _read(self):
        try:
            n = self.sock.recv_into(self.loop.buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        if n == 0:
            self.close()
            return
        if self.phase == _DRAIN:
            self._drain(n)
            return
        self.inbuf += self.loop.view[:n]
        if self.out or self.phase == _WAIT:
            # Waiting for our answer (a parked /next): a client may send its next request early,
            # but only so much of it.
            if len(self.inbuf) > MAX_HEAD_BYTES:
                self.close()
            return
        self.process()

    def _drain(self, n):
        self.drain_left -= n
        if self.drain_left <= 0 and not self.out:
            self.close()

    def flush(self):
        """Send what is queued; may be called from a dispatching thread. Lock held."""
        out = self.out
        while out:
            try:
                if len(out) == 1:
                    sent = self.sock.send(out[0])
                else:
                    sent = self.sock.sendmsg(list(out)[:8])
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._close_soon()
                return
            while sent:
                head = out[0]
                if sent >= len(head):
                    sent -= len(head)
                    out.popleft()
                else:
                    out[0] = head[sent:]
                    sent = 0
        if out:
            if self.phase != _DRAIN:
                self.deadline = time.monotonic() + WRITE_TIMEOUT_S
            if threading.current_thread() is not self.loop.thread:
                self.loop.call_soon(self._sync_interest_locked)
            return
        if self.close_after and (self.phase != _DRAIN or self.drain_left <= 0):
            self._close_soon()
        elif self.close_after:
            try:
                self.sock.shutdown(socket.SHUT_WR)   # the answer is complete: the client sees EOF after it
            except OSError:
                pass
        elif self.phase == _HEAD:
            self.deadline = None   # sent: the connection is idle, or a next request has begun

    def _close_soon(self):
        if threading.current_thread() is self.loop.thread:
            self.close()
        else:
            self.closed = True   # nothing more is sent or parsed; the loop releases the socket
            self.loop.call_soon(self.abort)

    def _sync_interest_locked(self):
        with self.server._lock:
            self._sync_interest()

    def _sync_interest(self):
        if self.closed:
            return
        want = selectors.EVENT_WRITE if self.out else selectors.EVENT_READ
        if self.phase == _DRAIN and self.out:
            want |= selectors.EVENT_READ
        if want != self.interest:
            self.interest = want
            self.loop.selector.modify(self.sock, want, self)

    def close(self):
        """Loop thread, lock held."""
        self.closed = True
        self._release()

    def _release(self):
        if self.sock is None:
            return
        self.closed = True
        self.server._forget(self)
        try:
            self.loop.selector.unregister(self.sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        self.sock = None
        self.loop.connections.discard(self)

    def abort(self):
        with self.server._lock:
            self._release()

    def idle(self):
        return (self.phase == _HEAD and not self.inbuf and not self.out and not self.closed)

    def check_deadline(self, now):
        with self.server._lock:
            if self.closed:
                return
            if self.phase == _WAIT and not self.out:
                return   # a parked /next waits for an event as long as it takes
            if self.idle() and self.requests:
                if now - self.idle_since > IDLE_TIMEOUT_S:
                    self.close()
                return
            if self.deadline is not None and now > self.deadline:
                self.close()

    # -- responses ----------------------------------------------------------------------------
    def respond(self, status, body=b"", headers=(), close=False):
        """Queue a response and send what can be sent now. Lock held; any thread."""
        if self.closed:
            return
        close = close or not self.keep_alive
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, "Unknown").encode()),
                _date_header(), b"Content-Length: %d\r\n" % len(body)]
        for key, value in headers:
            head.append(f"{key}: {value}\r\n".encode("latin-1"))
        if close:
            head.append(b"Connection: close\r\n")
            self.close_after = True
        head.append(b"\r\n")
        head = b"".join(head)
        if len(body) <= 65536:
            self.out.append(memoryview(head + body))
        else:
            self.out.append(memoryview(head))
            self.out.append(memoryview(body))
        self.flush()

    def respond_error(self, status, error_type, message, close=False):
        self.respond(status, _error_body(error_type, message), (("Content-Type", "application/json"),), close)

    def reject(self, exc):
        self._release_body()
        self._start_drain(DRAIN_BYTES)
        self.respond_error(exc.status, exc.error_type, exc.message, close=True)

    def _start_drain(self, limit):
        """From now on, what the client sends is read and dropped, up to ``limit`` bytes or
        ``DRAIN_TIMEOUT_S``, then the connection closes: a client busy sending still reads our
        answer, instead of a reset that would destroy it."""
        self.drain_left = limit - len(self.inbuf)
        self.inbuf.clear()
        self.phase = _DRAIN
        self.deadline = time.monotonic() + DRAIN_TIMEOUT_S

    # -- parsing (loop thread, lock held, nothing queued to send) -----------------------------
    def process(self):
        start = self.requests
        try:
            while not self.closed and not self.out:
                phase = self.phase
                if phase == _HEAD:
                    if self.requests - start >= REQUESTS_PER_TURN and self.inbuf:
                        # Pipelined requests: the other connections get their turn first.
                        self.loop.call_soon(lambda: self.server._resume(self))
                        return
                    if not self._parse_head():
                        return
                elif phase == _BODY or phase == _CHUNK_DATA:
                    if not self._take_body():
                        return
                elif phase == _CHUNK_SIZE:
                    if not self._chunk_size():
                        return
                elif phase == _CHUNK_END:
                    if not self._chunk_end():
                        return
                elif phase == _TRAILER:
                    if not self._trailer():
                        return
                else:       # _WAIT, _DRAIN
                    return
        except _Reject as exc:
            self.reject(exc)

    def _parse_head(self):
        buf = self.inbuf
        if buf[:1] in (b"\r", b"\n"):
            # RFC 9112 2.2: a server ignores at least one empty line before a request line; a few.
            blank = len(buf) - len(buf.lstrip(b"\r\n"))
            self.blank += blank
            if self.blank > 16:
                raise _Reject(400, "BadRequest", "Empty lines instead of a request")
            del buf[:blank]
        if not buf:
            self.scan = 0
            return False
        if self.deadline is None:
            self.deadline = time.monotonic() + HEAD_TIMEOUT_S   # a request has begun
        start = max(0, self.scan - 3)
        end = buf.find(b"\n\r\n", start)
        lf_end = buf.find(b"\n\n", start)
        if end < 0 or 0 <= lf_end < end:
            end, sep = lf_end, 2
        else:
            sep = 3
        if end < 0:
            self.scan = len(buf)
            if len(buf) > MAX_HEAD_BYTES:
                raise _Reject(431, "RequestHeaderFieldsTooLarge", "Request header fields too large")
            return False
        if end + 1 > MAX_HEAD_BYTES:
            raise _Reject(431, "RequestHeaderFieldsTooLarge", "Request header fields too large")
        head = bytes(buf[:end + 1])
        del buf[:end + sep]
        self.scan = 0
        self.blank = 0
        self._reset_request()
        eol = head.find(b"\n")
        request_line = head[:eol].rstrip(b"\r")
        parts = request_line.split(b" ")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise _Reject(400, "BadRequest", "Malformed request line")
        method, target, version = parts
        if version not in (b"HTTP/1.1", b"HTTP/1.0"):
            raise _Reject(505, "HTTPVersionNotSupported", "Only HTTP/1.1 and HTTP/1.0 are supported")
        fields = head[eol + 1:]
        # One pass in C over the whole block: every line a token, a colon, a value without CR
        # (but at its end), LF or NUL.
        if _FIELDS.fullmatch(fields) is None:
            raise _Reject(400, "BadRequest", "Malformed header field")
        if fields.count(b"\n") > MAX_HEADERS:
            raise _Reject(431, "RequestHeaderFieldsTooLarge", f"More than {MAX_HEADERS} header fields")
        headers = {}
        for name, value in _FIELD.findall(fields.decode("latin-1")):
            key = name.lower()
            value = value.strip(" \t")
            if key in headers:
                if key == "content-length" and headers[key] != value:
                    raise _Reject(400, "BadRequest", "Conflicting Content-Length")
                if key != "content-length":
                    headers[key] = headers[key] + ", " + value
            else:
                headers[key] = value
        self.method = method.decode("latin-1")
        self.path = target.decode("latin-1")
        self.headers = headers
        connection = headers.get("connection", "").lower()
        if version == b"HTTP/1.1":
            self.keep_alive = "close" not in connection
        else:
            self.keep_alive = "keep-alive" in connection
        self.requests += 1
        self._route()

        te = headers.get("transfer-encoding")
        cl = headers.get("content-length")
        if te is not None:
            if cl is not None:
                raise _Reject(400, "BadRequest", "Both Transfer-Encoding and Content-Length")
            if te.strip().lower() != "chunked" or version != b"HTTP/1.1":
                raise _Reject(501, "NotImplemented", "Only the chunked transfer coding is supported")
            self.phase = _CHUNK_SIZE
        elif cl is not None:
            cl = cl.strip()
            if not cl.isdigit() or not cl.isascii() or len(cl) > 19:
                raise _Reject(400, "BadRequest", "Malformed Content-Length")
            length = int(cl)
            if length > MAX_RESPONSE_BYTES:
                self._too_large(declared_left=length)
                return True
            self.need = length
            self.phase = _BODY if length else _HEAD
        if self.phase != _HEAD:
            self.deadline = time.monotonic() + BODY_TIMEOUT_S
            self.keep_body = self.server._accepts_body(self.route)
            if self.keep_body:
                self.body = bytearray()
            else:
                self.discarded = True
            if headers.get("expect", "").lower() == "100-continue":
                self.out.append(memoryview(b"HTTP/1.1 100 Continue\r\n\r\n"))
                self.flush()
            return True
        self._complete()
        return True

    def _route(self):
        path = self.path.split("?", 1)[0]
        rest = path[len(API_PREFIX):] if path.startswith(API_PREFIX + "/") else None
        if rest == "/runtime/invocation/next":
            self.route = ("next",) if self.method == "GET" else ("405",)
        elif path == "/ping" or rest == "/ping":
            self.route = ("ping",) if self.method == "GET" else ("405",)
        elif rest == "/runtime/init/error":
            self.route = ("init_error", None) if self.method == "POST" else ("405",)
        else:
            parts = (rest or "").strip("/").split("/")
            if len(parts) == 4 and parts[:2] == ["runtime", "invocation"] and parts[3] in ("response", "error"):
                self.route = (parts[3], parts[2]) if self.method == "POST" else ("405",)
            else:
                self.route = ("404",)

    def _take_body(self):
        buf = self.inbuf
        if not buf:
            return False
        take = min(self.need, len(buf))
        if self.keep_body:
            if not self.server._reserve(take):
                self.close()   # more bodies at once than one runtime ever sends: not a runtime
                return False
            self.body += buf[:take] if take < len(buf) else buf
        del buf[:take]
        self.need -= take
        if self.need:
            return False
        if self.phase == _BODY:
            self._complete()
        else:
            self.phase = _CHUNK_END
        return True

    def _line(self, limit, what):
        buf = self.inbuf
        i = buf.find(b"\n", 0, limit + 2)
        if i < 0:
            if len(buf) > limit:
                raise _Reject(400, "BadRequest", f"{what} too long")
            return None
        line = bytes(buf[:i]).rstrip(b"\r")
        del buf[:i + 1]
        if len(line) > limit:
            raise _Reject(400, "BadRequest", f"{what} too long")
        return line

    def _chunk_size(self):
        line = self._line(MAX_CHUNK_LINE_BYTES, "Chunk-size line")
        if line is None:
            return False
        size = line.split(b";", 1)[0].strip(b" \t")
        if not size or len(size) > 16 or not _HEX.issuperset(size):
            raise _Reject(400, "BadRequest", "Malformed chunk size")
        n = int(size, 16)
        if n == 0:
            self.phase = _TRAILER
            return True
        if self.total + n > MAX_RESPONSE_BYTES:   # a declared size is a claim: only the cap is checked
            self._too_large(declared_left=None)
            return True
        self.total += n
        self.need = n
        self.phase = _CHUNK_DATA
        return True

    def _chunk_end(self):
        buf = self.inbuf
        if buf[:2] == b"\r\n":
            del buf[:2]
        elif buf[:1] == b"\n":
            del buf[:1]
        elif len(buf) < 2 and buf[:1] in (b"", b"\r"):
            return False
        else:
            raise _Reject(400, "BadRequest", "Chunk data not followed by CRLF")
        self.phase = _CHUNK_SIZE
        return True

    def _trailer(self):
        line = self._line(MAX_TRAILER_BYTES, "Trailer")
        if line is None:
            return False
        if not line:
            self._complete()
            return True
        self.trailer_bytes += len(line)
        self.trailer_count += 1
        if self.trailer_bytes > MAX_TRAILER_BYTES or self.trailer_count > MAX_HEADERS:
            raise _Reject(431, "RequestHeaderFieldsTooLarge", "Trailer too large")
        return True

    def _release_body(self):
        if self.body is not None:
            self.server._release(len(self.body))
            self.body = None

    def _too_large(self, declared_left):
        """Over the limit: the invocation is told, the client gets 413, the rest is drained and dropped."""
        self._release_body()
        self.server._too_large(self.route, self.headers)
        self._start_drain(DRAIN_BYTES if declared_left is None else min(declared_left, DRAIN_BYTES))
        self.respond_error(413, "RequestEntityTooLarge",
                           f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).", close=True)

    def _complete(self):
        """A whole request has arrived: act on it and answer (or park it)."""
        body = b""
        if self.body is not None:
            body = bytes(self.body)
            self._release_body()
        self.phase = _HEAD
        self.deadline = None
        self.server._handle(self, body)
        if self.phase == _HEAD:
            self.idle_since = time.monotonic()


# -- the server --------------------------------------------------------------------------------
class _Listener:
    def __init__(self, server):
        self.server = server

    def on_ready(self, mask):
        self.server._accept()

    def abort(self):
        pass


class RuntimeAPIServer:
    """Serves the Runtime API to one execution environment.

    States: ``init`` until the runtime first asks for an event, then ``idle`` (waiting in ``/next``),
    ``invoking`` (an event is out), ``responded`` (result posted, next ``/next`` not yet called).
    """

    def __init__(self, events, host="127.0.0.1", sock=None, admit=None):
        """Listen on ``host`` (an ephemeral port), or on ``sock``, a socket already listening (made
        inside the sandbox's own network namespace, where the runtime finds it at 127.0.0.1:9001,
        or a Unix socket carried into the sandbox).

        ``admit(sock)``, if given, decides whether an accepted connection may speak to this
        environment's API (the process backend lets only the environment's own user id in: on a
        shared loopback, any process could otherwise connect and take its events)."""
        self.events = events
        self._admit = admit
        self.state = "init"
        self.current = None            # the Invocation being worked on
        self.handed_off_at = None      # perf_counter when the current event left in /next
        self._pending = None           # an Invocation waiting for the runtime to ask
        self._parked = collections.deque()   # connections waiting in GET /next
        self._connections = []
        self._body_bytes = 0
        self._lock = threading.Lock()
        self._closed = False
        self._loop = _Loop.get()
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((host, 0))
                sock.listen(16)
            except OSError:
                sock.close()
                raise
        self._sock = sock
        name = sock.getsockname()
        self.address = f"{name[0]}:{name[1]}" if isinstance(name, tuple) else name
        sock.setblocking(False)
        self._listener = _Listener(self)
        self._paused = False
        self.refused = 0               # connections ``admit`` turned away
        self._loop.call(lambda: self._loop.selector.register(sock, selectors.EVENT_READ, self._listener))

    # -- host side ---------------------------------------------------------------------------
    def dispatch(self, invocation):
        """Hand an event to the runtime: it leaves at once if the runtime waits in ``/next``."""
        for value in (invocation.request_id, invocation.invoked_function_arn, invocation.trace_id,
                      invocation.client_context or "", invocation.cognito_identity or ""):
            # Values travel in response headers: a line break would split the response.
            if not value.isprintable() or not value.isascii():
                raise ValueError(f"not a valid header value for the Runtime API: {value!r}")
        with self._lock:
            if self.state not in ("idle", "responded", "init"):
                raise RuntimeError(f"cannot dispatch while the runtime is {self.state}")
            self._pending = invocation
            while self._parked:
                conn = self._parked.popleft()
                if conn.closed:
                    continue
                self._hand(conn)
                break

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
            parked, self._parked = list(self._parked), collections.deque()
            for conn in parked:
                conn.phase = _HEAD
                conn.respond_error(500, "ServiceUnavailable", "The execution environment is shutting down",
                                   close=True)
        try:
            self._loop.call(self._shutdown)
        except RuntimeError:
            pass

    def _shutdown(self):
        """Loop thread: stop listening, close every connection."""
        if self._sock is not None:
            try:
                self._loop.selector.unregister(self._sock)
            except (KeyError, ValueError, OSError):
                pass
            self._sock.close()
            self._sock = None
        with self._lock:
            for conn in list(self._connections):
                conn.close()

    # -- connections (loop thread) -----------------------------------------------------------
    def _accept(self):
        for _ in range(ACCEPTS_PER_WAKE):
            if self._sock is None:
                return
            try:
                sock, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._pause()   # out of descriptors: try again shortly instead of spinning
                return
            if self._admit is not None:
                try:
                    admitted = self._admit(sock)
                except Exception:
                    admitted = False
                if not admitted:
                    self.refused += 1
                    sock.close()
                    continue
            with self._lock:
                if self._closed:
                    sock.close()
                    continue
                if len(self._connections) >= MAX_CONNECTIONS:
                    idle = [c for c in self._connections if c.idle()]
                    if not idle:
                        sock.close()
                        continue
                    min(idle, key=lambda c: c.idle_since).close()
                sock.setblocking(False)
                if sock.family in (socket.AF_INET, socket.AF_INET6):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # one write per message
                conn = _Connection(self, sock)
                self._connections.append(conn)
                self._loop.connections.add(conn)
                self._loop.selector.register(sock, selectors.EVENT_READ, conn)

    def _pause(self):
        if self._paused or self._sock is None:
            return
        self._paused = True
        self._loop.selector.unregister(self._sock)

        def resume():
            self._paused = False
            if self._sock is not None:
                self._loop.selector.register(self._sock, selectors.EVENT_READ, self._listener)
        self._loop.call_later(0.1, resume)

    def _forget(self, conn):
        """Lock held."""
        try:
            self._connections.remove(conn)
        except ValueError:
            pass
        try:
            self._parked.remove(conn)
        except ValueError:
            pass
        if conn.body is not None:
            self._release(len(conn.body))
            conn.body = None

    def _reserve(self, n):
        if self._body_bytes + n > BODY_BUDGET:
            return False
        self._body_bytes += n
        return True

    def _release(self, n):
        self._body_bytes = max(0, self._body_bytes - n)

    # -- the API (lock held) -------------------------------------------------------------------
    def _accepts_body(self, route):
        """Whether a body sent to ``route`` can be accepted now; any other body is counted, not kept."""
        if route[0] == "init_error":
            return self.state == "init"
        if route[0] in ("response", "error"):
            return self.state == "invoking" and self.current is not None and route[1] == self.current.request_id
        return False

    def _handle(self, conn, body):
        route = conn.route
        kind = route[0]
        error_type_header = conn.headers.get(ERROR_TYPE_HEADER.lower())
        if kind == "next":
            self._next(conn)
        elif kind in ("response", "error"):
            status, error_type, message = self._finish(route[1], kind, body, error_type_header,
                                                       kept=not conn.discarded)
            self._answer(conn, status, error_type, message)
        elif kind == "init_error":
            status, error_type, message = self._init_error(body, error_type_header, kept=not conn.discarded)
            self._answer(conn, status, error_type, message)
        elif kind == "ping":
            conn.respond(200, b"pong")
        elif kind == "405":
            conn.respond_error(405, "MethodNotAllowed", f"Method {conn.method} not allowed for {conn.path}")
        else:
            conn.respond_error(404, "NotFound", f"No route for {conn.method} {conn.path}")

    def _answer(self, conn, status, error_type, message):
        if status == 202:
            conn.respond(202, b'{"status":"OK"}', (("Content-Type", "application/json"),))
        else:
            conn.respond_error(status, error_type, message)

    def _next(self, conn):
        if self._closed:
            conn.respond_error(500, "ServiceUnavailable", "The execution environment is shutting down", close=True)
            return
        if self.state == "invoking":
            conn.respond_error(403, "InvalidStateTransition", "Transition from invoking to next is not allowed")
            return
        if self.state == "init":
            self.events.put(RuntimeEvent("ready", time.perf_counter()))
        self.state = "idle"
        if self._pending is not None:
            self._hand(conn)
        else:
            conn.phase = _WAIT
            self._parked.append(conn)

    def _hand(self, conn):
        """The pending event leaves on ``conn`` (a parked /next). Any thread."""
        invocation, self._pending = self._pending, None
        self.current = invocation
        self.state = "invoking"
        headers = [("Content-Type", "application/json"),
                   ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
                   ("Lambda-Runtime-Deadline-Ms", str(invocation.deadline_ms)),
                   ("Lambda-Runtime-Invoked-Function-Arn", invocation.invoked_function_arn),
                   ("Lambda-Runtime-Trace-Id", invocation.trace_id)]
        if invocation.client_context:
            headers.append(("Lambda-Runtime-Client-Context", invocation.client_context))
        if invocation.cognito_identity:
            headers.append(("Lambda-Runtime-Cognito-Identity", invocation.cognito_identity))
        conn.phase = _HEAD
        conn.idle_since = time.monotonic()
        self.handed_off_at = time.perf_counter()
        conn.respond(200, invocation.payload, headers)
        if conn.inbuf and not conn.closed:   # the client sent its next request early
            self._loop.call_soon(lambda: self._resume(conn))

    def _resume(self, conn):
        with self._lock:
            if not conn.closed and not conn.out:
                conn.process()
                conn._sync_interest()

    def _finish(self, request_id, kind, body=b"", error_type=None, kept=True):
        if self.state != "invoking":
            return 403, "InvalidStateTransition", f"Transition from {self.state} to {kind} is not allowed"
        if request_id != self.current.request_id:
            return 400, "InvalidRequestID", f"Invalid request ID: {request_id}"
        if not kept:    # the body was not kept: it came before the invocation it names could exist
            return 403, "InvalidStateTransition", f"Transition from {self.state} to {kind} is not allowed"
        self.state = "responded"
        self.events.put(RuntimeEvent(kind, time.perf_counter(), request_id, body, error_type))
        return 202, None, None

    def _init_error(self, body, error_type, kept=True):
        if self.state != "init" or not kept:
            return 403, "InvalidStateTransition", f"Transition from {self.state} to init error is not allowed"
        self.state = "init_failed"
        self.events.put(RuntimeEvent("init_error", time.perf_counter(), None, body, error_type))
        return 202, None, None

    def _too_large(self, route, headers):
        """A body over the limit: the invocation it answers fails (Function.ResponseSizeTooLarge)."""
        if route[0] in ("response", "error"):
            self._finish(route[1], "too_large")
        elif route[0] == "init_error":
            # The error itself is lost, as its size says nothing useful; its type still tells why.
            self._init_error(b"", headers.get(ERROR_TYPE_HEADER.lower()))

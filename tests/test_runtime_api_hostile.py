"""The Runtime API server against a hostile function: bodies however framed, floods of connections.

The attacks go over real sockets: from this process to a server of its own (the server runs in the
test process, so the test process's memory and descriptors are the lab's), and from inside real
functions, on the Docker engine and on the process backend, to their own Runtime API.
"""

import contextlib
import json
import os
import queue
import resource
import socket
import textwrap
import threading
import time

import pytest

from lambdalab_ext.runtime import api as runtime_api
from lambdalab_ext.runtime.api import MAX_CONNECTIONS, MAX_RESPONSE_BYTES, Invocation, RuntimeAPIServer

GIB = 1 << 30
MIB = 1 << 20
RSS_LIMIT = 64 * MIB
PREFIX = "/2018-06-01"


# -- helpers ---------------------------------------------------------------------------------
def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


@contextlib.contextmanager
def peak_rss_growth():
    """Measures how far this process's resident memory peaks above where it started (bytes)."""
    out = {}
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")           # resets VmHWM, the peak, to the current RSS
    before = status_kb("VmRSS")
    yield out
    out["growth"] = (status_kb("VmHWM") - before) * 1024


def open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def api():
    events = queue.Queue()
    server = RuntimeAPIServer(events)
    yield server, events
    server.close()


class Client:
    """A raw HTTP/1.1 client on one socket, reading responses exactly (pipelining included)."""

    def __init__(self, server, timeout=10):
        host, port = server.address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("closed")
        self.buffer += chunk

    def response(self):
        """(status, headers, body) of the next response, or None if the connection closed first."""
        try:
            while b"\r\n\r\n" not in self.buffer:
                self._fill()
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            length = int(headers.get("content-length", 0))
            while len(self.buffer) < length:
                self._fill()
            body, self.buffer = self.buffer[:length], self.buffer[length:]
            return int(lines[0].split()[1]), headers, body
        except (ConnectionError, socket.timeout):
            return None

    def closed_by_peer(self, timeout=10):
        """True when the server has closed the connection (EOF or reset), reading what is left."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except ConnectionError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def exchange(server, method, path, body=b"", headers=None):
    client = Client(server)
    try:
        head = [f"{method} {PREFIX}{path} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        client.send(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        return client.response()
    finally:
        client.close()


def invocation(request_id="req-1", payload=b'{"a": 1}'):
    return Invocation(request_id=request_id, payload=payload, deadline_ms=1_900_000_000_000,
                      invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
                      trace_id="Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")


NEXT = f"GET {PREFIX}/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n".encode()
RESPONSE = f"POST {PREFIX}/runtime/invocation/req-1/response HTTP/1.1\r\nHost: x\r\n"


def start_invocation(server, events, request_id="req-1"):
    """A runtime asks for its event and gets ``request_id``; returns its kept-alive client."""
    client = Client(server)
    client.send(NEXT)
    assert events.get(timeout=5).kind == "ready"
    server.dispatch(invocation(request_id))
    status, headers, _ = client.response()
    assert status == 200 and headers["lambda-runtime-aws-request-id"] == request_id
    return client


def send_until_cut_off(client, first, block, total):
    """Send ``first``, then ``block`` again and again up to ``total`` bytes; returns the bytes sent
    before the server stopped taking them."""
    sent = 0
    try:
        client.send(first)
        sent += len(first)
        while sent < total:
            client.send(block)
            sent += len(block)
    except (ConnectionError, socket.timeout):
        pass
    return sent


# -- bodies --------------------------------------------------------------------------------------
BLOCK = b"x" * MIB
ATTACKS = {
    # name: (request head and first bytes, block sent again and again, outcome)
    "content-length-1gb": ((RESPONSE + f"Content-Length: {GIB}\r\n\r\n").encode(), BLOCK, "too_large"),
    "chunked-huge-declared-size": ((RESPONSE + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"40000000\r\n",
                                   BLOCK, "too_large"),
    "chunked-1mb-chunks": ((RESPONSE + "Transfer-Encoding: chunked\r\n\r\n").encode(),
                           b"100000\r\n" + BLOCK + b"\r\n", "too_large"),
    "chunk-size-line-without-newline": ((RESPONSE + "Transfer-Encoding: chunked\r\n\r\n").encode(),
                                        b"f" * MIB, "rejected"),
    "content-length-minus-1": ((RESPONSE + "Content-Length: -1\r\n\r\n").encode(), BLOCK, "rejected"),
    "header-line-without-newline": (RESPONSE.encode() + b"X-Flood: ", b"a" * MIB, "rejected"),
    "endless-headers": (RESPONSE.encode(), b"X-A: b\r\n" * (MIB // 8), "rejected"),
    "endless-trailers": ((RESPONSE + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"1\r\nx\r\n0\r\n",
                         b"X-T: u\r\n" * (MIB // 8), "rejected"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_1_gb_body_is_cut_off_and_memory_stays_bounded(api, attack):
    server, events = api
    first, block, outcome = ATTACKS[attack]
    client = start_invocation(server, events)
    with peak_rss_growth() as rss:
        sent = send_until_cut_off(client, first, block, GIB)
        answer = client.response()
        assert client.closed_by_peer()
    client.close()
    print(f"{attack}: {sent / MIB:,.0f} MiB taken before the server closed; peak RSS growth "
          f"{rss['growth'] / MIB:.1f} MiB; answer {answer and answer[0]}")
    assert sent < GIB
    assert rss["growth"] < RSS_LIMIT
    if outcome == "too_large":
        assert answer is None or answer[0] == 413
        event = events.get(timeout=5)
        assert (event.kind, event.request_id, event.body) == ("too_large", "req-1", b"")
        assert server.state == "responded"
        # The runtime's own answer comes too late: the invocation has already failed.
        status, _, _ = exchange(server, "POST", "/runtime/invocation/req-1/response", b'"late"')
        assert status == 403
    else:
        assert answer is None or answer[0] in (400, 431)
        assert events.empty() and server.state == "invoking"
        status, _, _ = exchange(server, "POST", "/runtime/invocation/req-1/response", b'"ok"')
        assert status == 202 and events.get(timeout=5).body == b'"ok"'


def test_413_reaches_a_client_that_sends_everything_before_reading(api):
    server, events = api
    client = start_invocation(server, events)
    body = b"x" * (MAX_RESPONSE_BYTES + 1000)
    client.send((RESPONSE + f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    status, headers, data = client.response()
    assert status == 413 and json.loads(data)["errorType"] == "RequestEntityTooLarge"
    assert headers["connection"] == "close"
    assert client.closed_by_peer()
    assert events.get(timeout=5).kind == "too_large"


def test_chunked_response_up_to_the_limit_is_accepted(api):
    server, events = api
    client = start_invocation(server, events)
    payload = b"y" * MAX_RESPONSE_BYTES
    chunks = b"".join(b"%x;ext=1\r\n" % len(payload[i:i + 65536]) + payload[i:i + 65536] + b"\r\n"
                      for i in range(0, len(payload), 65536))
    client.send((RESPONSE + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\nX-Trailer: 1\r\n\r\n")
    status, headers, _ = client.response()
    assert status == 202 and "connection" not in headers
    event = events.get(timeout=5)
    assert event.kind == "response" and event.body == payload


def test_chunked_response_one_byte_over_the_limit_is_too_large(api):
    server, events = api
    client = start_invocation(server, events)
    client.send((RESPONSE + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"%x\r\n" % MAX_RESPONSE_BYTES
                + b"y" * MAX_RESPONSE_BYTES + b"\r\n1\r\n")
    assert client.response()[0] == 413
    assert events.get(timeout=5).kind == "too_large"


def test_error_body_over_the_limit_is_too_large(api):
    server, events = api
    client = start_invocation(server, events)
    client.send(f"POST {PREFIX}/runtime/invocation/req-1/error HTTP/1.1\r\nHost: x\r\n"
                f"Content-Length: {MAX_RESPONSE_BYTES + 1}\r\n\r\n".encode())
    assert client.response()[0] == 413
    assert events.get(timeout=5).kind == "too_large"


@pytest.mark.parametrize("head", [
    "Content-Length: 5\r\nTransfer-Encoding: chunked",      # request smuggling: two framings
    "Content-Length: 5\r\nContent-Length: 6",
    "Content-Length: +5",
    "Content-Length: 0x5",
    "Transfer-Encoding: gzip, chunked",
    " Content-Length: 5",                                    # obsolete line folding
    "Content-Length : 5",
    "X-Bad\0: 1",
])
def test_ambiguous_or_malformed_framing_is_refused_and_closed(api, head):
    server, _ = api
    client = Client(server)
    client.send(f"POST {PREFIX}/runtime/invocation/x/response HTTP/1.1\r\nHost: x\r\n{head}\r\n\r\nhello".encode())
    status, headers, _ = client.response()
    assert status in (400, 501) and headers["connection"] == "close"
    assert client.closed_by_peer()


def test_a_body_for_another_request_is_counted_not_kept(api):
    server, events = api
    runtime = start_invocation(server, events)
    other = Client(server)
    other.send(f"POST {PREFIX}/runtime/invocation/someone-else/response HTTP/1.1\r\nHost: x\r\n"
               f"Content-Length: {MAX_RESPONSE_BYTES}\r\n\r\n".encode() + b"z" * (MAX_RESPONSE_BYTES // 2))
    time.sleep(0.2)
    assert server._body_bytes == 0
    other.send(b"z" * (MAX_RESPONSE_BYTES - MAX_RESPONSE_BYTES // 2))
    assert other.response()[0] == 400 and server.state == "invoking"
    runtime.close()
    other.close()


# -- protocol the runtime clients rely on -------------------------------------------------------
def test_no_server_header(api):
    server, _ = api
    for method, path in (("GET", "/ping"), ("GET", "/runtime/nothing"), ("POST", "/runtime/init/error")):
        status, headers, _ = exchange(server, method, path, b"{}")
        assert "server" not in headers, headers
        assert "date" in headers
        assert not any("Python" in v or "BaseHTTP" in v for v in headers.values())


def test_pipelined_requests_and_expect_100_continue(api):
    server, events = api
    client = Client(server)
    # An init error posted with Expect: 100-continue, as curl does for large bodies.
    body = json.dumps({"errorMessage": "x", "errorType": "Runtime.ImportModuleError"}).encode()
    client.send(f"POST {PREFIX}/runtime/init/error HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode())
    assert client.response()[0] == 100
    client.send(body + f"GET {PREFIX}/ping HTTP/1.1\r\nHost: x\r\n\r\nGET {PREFIX}/ping HTTP/1.1\r\n\r\n".encode())
    assert client.response()[0] == 202
    assert client.response()[::2] == (200, b"pong")
    assert client.response()[::2] == (200, b"pong")
    event = events.get(timeout=5)
    assert event.kind == "init_error" and json.loads(event.body) == json.loads(body)
    client.close()


def test_http_1_0_closes_after_the_response(api):
    server, _ = api
    client = Client(server)
    client.send(f"GET {PREFIX}/ping HTTP/1.0\r\n\r\n".encode())
    status, headers, body = client.response()
    assert (status, body, headers["connection"]) == (200, b"pong", "close")
    assert client.closed_by_peer()


def test_a_large_event_reaches_a_slow_reader_whole(api):
    server, events = api
    client = Client(server)
    client.send(NEXT)
    assert events.get(timeout=5).kind == "ready"
    payload = json.dumps({"k": "v" * (6 * MIB - 100)}).encode()
    server.dispatch(invocation("big", payload))
    time.sleep(0.3)   # the socket buffers fill up; the rest is sent as the reader reads
    status, _, body = client.response()
    assert status == 200 and body == payload
    client.close()


# -- connections ---------------------------------------------------------------------------------
def test_connections_per_environment_are_capped_and_slots_come_back(api, monkeypatch):
    server, events = api
    # Long enough that no slow request times out before the refusals are checked on a busy machine.
    monkeypatch.setattr(runtime_api, "HEAD_TIMEOUT_S", 4.0)
    runtime = start_invocation(server, events)   # its connection is idle while the handler runs
    flood = [Client(server) for _ in range(3 * MAX_CONNECTIONS)]
    for client in flood:      # slowloris: requests begun and never finished
        try:
            client.send(b"GET " + PREFIX.encode() + b"/runtime/invocation/next HTTP/1.1\r\nHost")
        except ConnectionError:
            pass
    time.sleep(0.2)
    assert len(server._connections) <= MAX_CONNECTIONS
    # Every slot holds a request in progress: one more connection is refused, not queued.
    late = Client(server)
    assert late.closed_by_peer(timeout=0.5)
    refused = sum(client.closed_by_peer(timeout=0.1) for client in flood)
    assert refused >= 2 * MAX_CONNECTIONS
    # The slow requests run out of time and free the slots: the runtime gets back in.
    assert all(client.closed_by_peer(timeout=8) for client in flood)
    status, _, _ = exchange(server, "POST", "/runtime/invocation/req-1/response", b'"ok"')
    assert status == 202 and events.get(timeout=5).body == b'"ok"'
    for client in flood + [late, runtime]:
        client.close()


def test_a_parked_next_is_never_evicted_nor_timed_out(api, monkeypatch):
    server, events = api
    monkeypatch.setattr(runtime_api, "HEAD_TIMEOUT_S", 0.3)
    parked = Client(server)
    parked.send(NEXT)
    assert events.get(timeout=5).kind == "ready"
    others = [Client(server) for _ in range(2 * MAX_CONNECTIONS)]
    time.sleep(1.5)          # the others send nothing: evicted or closed at HEAD_TIMEOUT_S
    assert all(client.closed_by_peer(timeout=2) for client in others)
    server.dispatch(invocation())
    status, headers, _ = parked.response()
    assert status == 200 and headers["lambda-runtime-aws-request-id"] == "req-1"
    for client in others + [parked]:
        client.close()


def test_slow_headers_and_slow_bodies_time_out(api, monkeypatch):
    server, events = api
    monkeypatch.setattr(runtime_api, "HEAD_TIMEOUT_S", 0.5)
    monkeypatch.setattr(runtime_api, "BODY_TIMEOUT_S", 0.5)
    runtime = start_invocation(server, events)
    slow_head = Client(server)
    slow_body = Client(server)
    slow_body.send((RESPONSE + "Content-Length: 100\r\n\r\n" + "x" * 10).encode())
    deadline = time.monotonic() + 1.5
    try:
        while time.monotonic() < deadline:      # a byte at a time, never the end of the headers
            slow_head.send(b"X")
            time.sleep(0.1)
    except ConnectionError:
        pass
    assert slow_head.closed_by_peer(timeout=3)
    assert slow_body.closed_by_peer(timeout=3)
    assert server.state == "invoking"
    status, _, _ = exchange(server, "POST", "/runtime/invocation/req-1/response", b'"ok"')
    assert status == 202
    for client in (runtime, slow_head, slow_body):
        client.close()


def test_server_close_releases_every_descriptor():
    RuntimeAPIServer(queue.Queue()).close()   # the event loop's own descriptors exist from now on
    before = open_fds()
    servers = [RuntimeAPIServer(queue.Queue()) for _ in range(5)]
    clients = [Client(s) for s in servers for _ in range(3)]
    parked = clients[0]
    parked.send(NEXT)
    time.sleep(0.2)
    for server in servers:
        server.close()
    assert parked.response()[0] == 500
    for client in clients:
        assert client.closed_by_peer(timeout=2)
        client.close()
    assert open_fds() <= before


# -- from inside real functions -------------------------------------------------------------------
BODY_ATTACK = textwrap.dedent('''
    import os, socket

    def handler(event, context):
        if event.get("harmless"):
            return "fine"
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
        sock = socket.create_connection((host, int(port)))
        head = (f"POST /2018-06-01/runtime/invocation/{context.aws_request_id}/response HTTP/1.1\\r\\n"
                f"Host: {host}\\r\\n" + event["framing"] + "\\r\\n\\r\\n").encode()
        first = head + event["first"].encode()
        block = event["block"].encode() * event["repeat"]
        sent = 0
        try:
            sock.sendall(first)
            while sent < (1 << 30):
                sock.sendall(block)
                sent += len(block)
        except OSError:
            pass
        sock.settimeout(10)
        reply = b""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                reply += data[:200 - len(reply)] if len(reply) < 200 else b""
        except OSError:
            pass
        return {"sent": sent, "closed": True, "reply": reply.decode("latin-1")[:200]}
''')

CHUNK = "ffff\r\n" + "x" * 0xffff + "\r\n"
DOCKER_ATTACKS = {
    # name: (framing header, first bytes of the body, block and how many times it makes 1 MiB, outcome)
    "content-length-1gb": (f"Content-Length: {GIB}", "", "x", MIB, "too_large"),
    "chunked-huge-declared-size": ("Transfer-Encoding: chunked", "40000000\r\n", "x", MIB, "too_large"),
    "chunked-1mb-chunks": ("Transfer-Encoding: chunked", "", CHUNK, 16, "too_large"),
    "chunk-size-line-without-newline": ("Transfer-Encoding: chunked", "", "f", MIB, "closed"),
    "content-length-minus-1": ("Content-Length: -1", "", "x", MIB, "closed"),
}


@pytest.mark.docker
@pytest.mark.parametrize("attack", list(DOCKER_ATTACKS))
def test_a_function_posting_1_gb_gets_response_size_too_large_and_the_lab_holds(docker_lab, attack):
    framing, first, block, repeat, outcome = DOCKER_ATTACKS[attack]
    fn = docker_lab.deploy("bodybomb", BODY_ATTACK, memory_mb=512, timeout_s=60)
    harmless = {"harmless": True}
    assert fn.invoke(harmless).payload == "fine"   # warm: only the attack is measured
    with peak_rss_growth() as rss:
        r = fn.invoke({"framing": framing, "first": first, "block": block, "repeat": repeat})
    print(f"{attack}: peak RSS growth of the lab {rss['growth'] / MIB:.1f} MiB; {r.error or r.payload}")
    assert rss["growth"] < RSS_LIMIT
    if outcome == "too_large":
        assert r.error["errorType"] == "Function.ResponseSizeTooLarge", r.logs
        assert r.status == "error"
    else:
        assert r.ok, r.logs
        assert r.payload["closed"] and r.payload["sent"] < GIB
        assert r.payload["reply"].startswith("HTTP/1.1 400 ")
    after = fn.invoke(harmless)   # the environment still serves
    assert after.payload == "fine" and not after.cold and after.environment_id == r.environment_id


SLOWLORIS = textwrap.dedent('''
    import os, socket, time

    def handler(event, context):
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
        partial = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\nX-Wait: "

        def open_one():
            sock = socket.socket()
            sock.settimeout(2)
            try:
                sock.connect((host, int(port)))
                sock.send(partial)              # a request begun, never finished
            except OSError:
                sock.close()
                return None
            sock.setblocking(False)
            return sock

        socks = []
        give_up = time.time() + 8
        for _ in range(event["connections"]):
            if time.time() > give_up:
                break
            sock = open_one()
            if sock is not None:
                socks.append(sock)
        opened = len(socks)
        print(f"ATTACK READY {opened}", flush=True)
        reopened = 0
        deadline = time.time() + event["hold_s"]
        while time.time() < deadline:
            for i, sock in enumerate(socks):
                if time.time() > deadline:
                    break
                try:
                    alive = not sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    alive = True
                except OSError:
                    alive = False
                if not alive:                   # closed by the server: open another in its place
                    sock.close()
                    new = open_one()
                    if new is not None:
                        socks[i] = new
                        reopened += 1
            time.sleep(0.05)
        for sock in socks:
            sock.close()
        return {"opened": opened, "reopened": reopened}
''')


@pytest.fixture
def low_fd_limit():
    """This process (the lab) with about 200 descriptors to spare (256 in a fresh process): a flood
    of connections held by the lab would run out. Relative to what is open now, so that what earlier
    tests of the session left to the garbage collector does not decide the outcome."""
    import gc
    gc.collect()
    limit = max(256, len(os.listdir("/proc/self/fd")) + 200)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    yield limit
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
def test_slowloris_from_one_function_cannot_break_another(lab, low_fd_limit):
    attacker = lab.deploy("slowloris", SLOWLORIS, memory_mb=1769, timeout_s=60)
    victim = lab.deploy("victim", "def handler(event, context):\n    return {'ok': event}\n", memory_mb=512)
    attacker.invoke({"connections": 0, "hold_s": 0})   # warm: its own cold start is not part of the attack
    baseline = open_fds()
    ready = threading.Event()
    result = {}

    def on_log(line):
        if line.startswith("ATTACK READY"):
            ready.set()

    def attack():
        result["r"] = attacker.invoke({"connections": 1000, "hold_s": 10}, on_log=on_log)

    thread = threading.Thread(target=attack)
    peak = [baseline]

    def sample():   # for as long as the attack lasts
        while thread.is_alive():
            peak[0] = max(peak[0], open_fds())
            time.sleep(0.02)

    thread.start()
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        assert ready.wait(60), "the attacking function never started its attack"
        cold = victim.invoke(1)
        warm = victim.invoke(2)
        still_attacking = thread.is_alive()
    finally:
        thread.join(90)
        sampler.join()
    print(f"lab descriptors: {baseline} before, peak {peak[0]} during the attack (limit {low_fd_limit}); "
          f"attacker {result['r'].payload}")
    assert cold.ok and cold.cold and cold.payload == {"ok": 1}, cold.logs
    assert warm.ok and not warm.cold and warm.payload == {"ok": 2}, warm.logs
    assert still_attacking, "the victim's invocations must run while the attack holds"
    assert result["r"].ok, result["r"].logs
    assert result["r"].payload["opened"] > MAX_CONNECTIONS
    # The victim's environment needs a handful of descriptors; the attacker gets MAX_CONNECTIONS.
    assert peak[0] <= baseline + MAX_CONNECTIONS + 16


def test_a_header_value_that_would_split_the_response_is_never_sent(api):
    server, events = api
    client = Client(server)
    client.send(NEXT)
    assert events.get(timeout=5).kind == "ready"
    bad = invocation()
    bad.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn\r\nX-Injected: 1"
    with pytest.raises(ValueError):
        server.dispatch(bad)
    assert server.state == "idle"
    server.dispatch(invocation())      # the runtime still waits, and gets the next event
    status, headers, _ = client.response()
    assert status == 200 and "x-injected" not in headers
    client.close()


def test_serves_a_unix_socket_carried_into_the_sandbox(tmp_path):
    path = str(tmp_path / "api.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    server = RuntimeAPIServer(queue.Queue(), sock=listener)
    try:
        assert server.address == path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(f"GET {PREFIX}/ping HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while not data.endswith(b"pong"):
            data += sock.recv(4096)
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")
        sock.close()
    finally:
        server.close()


def test_an_error_with_awslambdaric_s_largest_x_ray_header_is_accepted(api):
    # awslambdaric sends the X-Ray cause of an error in a header of up to 1 MiB.
    server, events = api
    client = start_invocation(server, events)
    cause = json.dumps({"working_directory": "/var/task", "exceptions": [], "paths": ["x" * (MIB - 200)]})
    body = json.dumps({"errorMessage": "boom", "errorType": "ValueError"}).encode()
    client.send(f"POST {PREFIX}/runtime/invocation/req-1/error HTTP/1.1\r\nHost: x\r\n"
                f"Lambda-Runtime-Function-Error-Type: ValueError\r\n"
                f"Lambda-Runtime-Function-XRay-Error-Cause: {cause}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    assert client.response()[0] == 202
    event = events.get(timeout=5)
    assert event.kind == "error" and event.error_type == "ValueError"
    client.close()


def test_more_than_100_headers_is_431(api):
    server, _ = api
    client = Client(server)
    client.send(f"GET {PREFIX}/ping HTTP/1.1\r\n".encode() + b"".join(b"X-H%d: v\r\n" % i for i in range(101))
                + b"\r\n")
    status, headers, _ = client.response()
    assert status == 431 and headers["connection"] == "close"
    assert client.closed_by_peer()

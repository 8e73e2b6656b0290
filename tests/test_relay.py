"""The relay that carries an environment's connections to the lab's endpoints: correct, bounded."""

import socket
import threading
import time

from lambdalab_ext.runtime.relay import BUFFER_BYTES, Relay


def _listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _echo_server():
    server = _listener()

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return server


def _echo(conn):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)


def _wait(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_bytes_go_both_ways_and_end_of_stream_is_passed_on():
    echo = _echo_server()
    relay = Relay()
    front = _listener()
    try:
        relay.listen(front, lambda: socket.create_connection(echo.getsockname()))
        with socket.create_connection(front.getsockname()) as c:
            payload = bytes(range(256)) * 8192         # 2 MB, more than the relay buffers
            sender = threading.Thread(target=lambda: (c.sendall(payload), c.shutdown(socket.SHUT_WR)))
            sender.start()
            got = bytearray()
            while True:
                data = c.recv(65536)
                if not data:
                    break
                got += data
            sender.join()
        assert bytes(got) == payload
    finally:
        relay.close()
        echo.close()


def test_connections_per_listener_are_capped():
    echo = _echo_server()
    relay = Relay(max_connections=4)
    front = _listener()
    clients = []
    try:
        handle = relay.listen(front, lambda: socket.create_connection(echo.getsockname()))
        for _ in range(20):
            clients.append(socket.create_connection(front.getsockname()))
        assert _wait(lambda: relay.connections(handle) == 4)
        answered = 0
        for c in clients:
            c.settimeout(2)
            try:
                c.sendall(b"ping")
                answered += c.recv(4) == b"ping"
            except OSError:
                pass
        assert answered == 4                     # the rest were closed at once, not queued
        assert relay.connections(handle) <= 4
    finally:
        for c in clients:
            c.close()
        relay.close()
        echo.close()


def test_a_peer_that_does_not_read_stops_the_sender_instead_of_filling_the_lab():
    sink = _listener()                           # accepts, never reads
    held = []
    threading.Thread(target=lambda: held.append(sink.accept()[0]), daemon=True).start()
    relay = Relay()
    front = _listener()
    try:
        handle = relay.listen(front, lambda: socket.create_connection(sink.getsockname()))
        c = socket.create_connection(front.getsockname())
        c.setblocking(False)
        sent = 0
        chunk = b"x" * 65536
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:       # send until the relay stops taking bytes
            try:
                sent += c.send(chunk)
            except BlockingIOError:
                time.sleep(0.05)
                try:
                    sent += c.send(chunk)
                except BlockingIOError:
                    break
        pipe = next(p for p in handle.pipes if hasattr(p, "to_b"))
        assert len(pipe.to_b) <= BUFFER_BYTES   # the relay holds at most its buffer
        assert sent < 64 * 1024 * 1024           # and the sender was stopped long before 64 MB
        c.close()
    finally:
        relay.close()
        sink.close()
        for conn in held:
            conn.close()


def test_closing_a_listener_closes_its_connections():
    echo = _echo_server()
    relay = Relay()
    front = _listener()
    try:
        handle = relay.listen(front, lambda: socket.create_connection(echo.getsockname()))
        c = socket.create_connection(front.getsockname())
        c.sendall(b"a")
        assert c.recv(1) == b"a"
        relay.close_listener(handle)
        c.settimeout(5)
        assert c.recv(1) == b""                  # closed by the relay
        assert _wait(lambda: relay.connections(handle) == 0)
    finally:
        relay.close()
        echo.close()

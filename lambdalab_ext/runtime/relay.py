"""A byte relay from listening sockets an execution environment can reach to the lab's own endpoints.

A function in a Docker environment has no network: the only addresses it can reach are the
listening sockets the lab opens for it (inside its network namespace, or a Unix socket mounted in).
The Runtime API is served on its own socket; every other endpoint of the lab (the embedded AWS
services) is carried there by this relay, one thread for all environments of a lab.

A function is hostile code, so everything is bounded: connections per listener, bytes buffered per
direction (a reader that stops reading stops the writer, nothing piles up in the lab), and idle
connections are closed.
"""

import errno
import selectors
import socket
import threading
import time

BUFFER_BYTES = 256 * 1024           # per direction of one connection
MAX_CONNECTIONS = 64                # per listener: boto3 pools 10 per client
IDLE_TIMEOUT_S = 300.0


class _Pipe:
    """One accepted connection and its peer at the endpoint."""

    __slots__ = ("listener", "a", "b", "to_b", "to_a", "a_eof", "b_eof", "shut_a", "shut_b", "events",
                 "last", "closed")

    def __init__(self, listener, a, b):
        self.listener, self.a, self.b = listener, a, b
        self.to_b = bytearray()     # read from a, waiting to be written to b
        self.to_a = bytearray()
        self.a_eof = self.b_eof = False
        self.shut_a = self.shut_b = False   # end of stream passed on to a, to b
        self.events = {}                    # "a"/"b" -> the selector events registered now
        self.last = time.monotonic()
        self.closed = False


class _Listener:
    __slots__ = ("sock", "connect", "pipes", "closed", "name")

    def __init__(self, sock, connect, name):
        self.sock, self.connect, self.name = sock, connect, name
        self.pipes = set()
        self.closed = False


class Relay:
    """Carries connections accepted on listening sockets to endpoints given by ``connect()``."""

    def __init__(self, name="lambdalab-relay", max_connections=MAX_CONNECTIONS):
        self.name = name
        self.max_connections = max_connections
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._calls = []               # functions to run in the loop thread
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # -- from any thread -------------------------------------------------------------------------
    def listen(self, sock, connect, name=""):
        """Relay every connection accepted on ``sock`` (listening) to ``connect()`` (a callable that
        returns a connected socket; it may take time, as starting the endpoint on first need).
        Returns a handle for :meth:`close_listener`."""
        listener = _Listener(sock, connect, name)
        sock.setblocking(False)
        self._call(lambda: self._selector.register(sock, selectors.EVENT_READ, ("accept", listener)))
        return listener

    def close_listener(self, listener):
        """Stop accepting on ``listener`` and close its connections."""
        self._call(lambda: self._close_listener(listener))

    def connections(self, listener):
        """How many connections ``listener`` carries now (or is connecting)."""
        return len(listener.pipes)

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake()
        self._thread.join(timeout=5)

    # -- the loop ------------------------------------------------------------------------------------
    def _call(self, fn):
        with self._lock:
            if self._closed:
                return
            self._calls.append(fn)
        self._wake()

    def _wake(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _loop(self):
        last_sweep = time.monotonic()
        while True:
            with self._lock:
                if self._closed:
                    break
                calls, self._calls = self._calls, []
            for fn in calls:
                try:
                    fn()
                except (OSError, ValueError, KeyError):
                    pass
            for key, mask in self._selector.select(timeout=5.0):
                kind, obj = key.data
                try:
                    if kind == "wake":
                        try:
                            while self._wake_r.recv(4096):
                                pass
                        except BlockingIOError:
                            pass
                    elif kind == "accept":
                        self._accept(obj)
                    else:
                        self._service(obj, key.fileobj, mask)
                except OSError:
                    if kind in ("a", "b"):
                        self._close_pipe(obj)
            now = time.monotonic()
            if now - last_sweep > 5.0:
                last_sweep = now
                stale = [pipe for key in list(self._selector.get_map().values()) if key.data[0] == "accept"
                         for pipe in list(key.data[1].pipes)
                         if isinstance(pipe, _Pipe) and now - pipe.last > IDLE_TIMEOUT_S]
                for pipe in stale:
                    self._close_pipe(pipe)
        for key in list(self._selector.get_map().values()):
            kind, obj = key.data
            if kind == "accept":
                self._close_listener(obj)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _accept(self, listener):
        while True:
            try:
                conn, _ = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE):
                    return   # the lab is out of descriptors: leave the connection in the backlog
                raise
            if listener.closed or len(listener.pipes) >= self.max_connections:
                conn.close()   # over the cap: refused, nothing else is affected
                continue
            conn.setblocking(False)
            # Reserve the place now; the endpoint is connected off the loop (it may be starting).
            placeholder = object()
            listener.pipes.add(placeholder)
            threading.Thread(target=self._connect, args=(listener, conn, placeholder),
                             name=f"{self.name}-connect", daemon=True).start()

    def _connect(self, listener, conn, placeholder):
        try:
            peer = listener.connect()
            peer.setblocking(False)
        except Exception:
            listener.pipes.discard(placeholder)
            conn.close()
            return
        self._call(lambda: self._start_pipe(listener, conn, peer, placeholder))

    def _start_pipe(self, listener, conn, peer, placeholder):
        listener.pipes.discard(placeholder)
        if listener.closed:
            conn.close()
            peer.close()
            return
        pipe = _Pipe(listener, conn, peer)
        listener.pipes.add(pipe)
        self._selector.register(conn, selectors.EVENT_READ, ("a", pipe))
        self._selector.register(peer, selectors.EVENT_READ, ("b", pipe))
        pipe.events = {"a": selectors.EVENT_READ, "b": selectors.EVENT_READ}

    def _service(self, pipe, sock, mask):
        if pipe.closed:
            return
        pipe.last = time.monotonic()
        here_is_a = sock is pipe.a
        inbound = pipe.to_b if here_is_a else pipe.to_a      # what this side sends
        outbound = pipe.to_a if here_is_a else pipe.to_b     # what waits to be written to this side
        if mask & selectors.EVENT_READ and len(inbound) < BUFFER_BYTES:
            try:
                data = sock.recv(BUFFER_BYTES - len(inbound))
            except (BlockingIOError, InterruptedError):
                data = None
            if data == b"":
                if here_is_a:
                    pipe.a_eof = True
                else:
                    pipe.b_eof = True
            elif data:
                inbound += data
        if mask & selectors.EVENT_WRITE and outbound:
            try:
                sent = sock.send(outbound)
                del outbound[:sent]
            except (BlockingIOError, InterruptedError):
                pass
        self._update(pipe)

    def _update(self, pipe):
        """Interest of both sockets from the buffers: read while there is room, write while there is
        data; an end of stream is passed on once what came before it is delivered."""
        if pipe.closed:
            return
        # Flush what can be flushed at once, so a request/response exchange needs no extra turn.
        for sock, buf in ((pipe.b, pipe.to_b), (pipe.a, pipe.to_a)):
            if buf:
                try:
                    sent = sock.send(buf)
                    del buf[:sent]
                except (BlockingIOError, InterruptedError):
                    pass
        if pipe.a_eof and not pipe.to_b and not pipe.shut_b:
            pipe.shut_b = True
            pipe.b.shutdown(socket.SHUT_WR)
        if pipe.b_eof and not pipe.to_a and not pipe.shut_a:
            pipe.shut_a = True
            pipe.a.shutdown(socket.SHUT_WR)
        if pipe.shut_a and pipe.shut_b:
            self._close_pipe(pipe)
            return
        for sock, room, pending, eof, kind in (
                (pipe.a, len(pipe.to_b) < BUFFER_BYTES, pipe.to_a, pipe.a_eof, "a"),
                (pipe.b, len(pipe.to_a) < BUFFER_BYTES, pipe.to_b, pipe.b_eof, "b")):
            events = (selectors.EVENT_READ if room and not eof else 0) | \
                     (selectors.EVENT_WRITE if pending else 0)
            registered = pipe.events.get(kind, 0)
            if events == registered:
                continue
            if not events:
                self._selector.unregister(sock)     # paused: the other side's progress resumes it
            elif not registered:
                self._selector.register(sock, events, (kind, pipe))
            else:
                self._selector.modify(sock, events, (kind, pipe))
            pipe.events[kind] = events

    def _close_pipe(self, pipe):
        if pipe.closed:
            return
        pipe.closed = True
        pipe.listener.pipes.discard(pipe)
        for sock, kind in ((pipe.a, "a"), (pipe.b, "b")):
            if pipe.events.get(kind):
                try:
                    self._selector.unregister(sock)
                except (KeyError, ValueError):
                    pass
            sock.close()

    def _close_listener(self, listener):
        if listener.closed:
            return
        listener.closed = True
        try:
            self._selector.unregister(listener.sock)
        except (KeyError, ValueError):
            pass
        listener.sock.close()
        for pipe in [p for p in listener.pipes if isinstance(p, _Pipe)]:
            self._close_pipe(pipe)

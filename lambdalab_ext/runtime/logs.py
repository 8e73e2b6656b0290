"""The function's output (stdout and stderr of the runtime process), as Lambda sends it to CloudWatch.

A reader thread drains a pipe (a subprocess's stdout, or a FIFO the container writes to) so a print
flood can never block the function or the lab. Output is kept per invocation within a bound (head
and tail, with the number of bytes dropped in between), and can be streamed live to a callback.

Ordering: the runtime writes its output before it posts the result, and both travel through the
kernel in that order; :meth:`LogCollector.sync` reads everything already in the pipe, so once a
result has arrived, ``sync()`` has all the output written before it.
"""

import os
import select
import threading

HEAD_BYTES = 128 * 1024
TAIL_BYTES = 32 * 1024


class _Capture:
    def __init__(self, on_line):
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.on_line = on_line
        self._partial = b""

    def add(self, data):
        if len(self.head) < HEAD_BYTES:
            take = data[:HEAD_BYTES - len(self.head)]
            self.head += take
            data = data[len(take):]
        if data:
            self.tail += data
            if len(self.tail) > TAIL_BYTES:
                cut = len(self.tail) - TAIL_BYTES
                self.dropped += cut
                del self.tail[:cut]

    def stream(self, data):
        if self.on_line is None:
            return
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            self.on_line(_decode(line))

    def text(self):
        if self.on_line is not None and self._partial:
            self.on_line(_decode(self._partial))
            self._partial = b""
        text = _decode(bytes(self.head))
        if self.dropped:
            text += f"\n... [{self.dropped:,} bytes of output dropped by lambdalab] ...\n"
        return text + _decode(bytes(self.tail))


def _decode(data):
    # Lambda's Python runtime joins the lines of one error with carriage returns (one CloudWatch
    # event); shown here as lines, since a bare \r would overwrite text in a terminal or notebook.
    return data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")


class LogCollector:
    """Reads one file descriptor until EOF, attributing bytes to the current capture."""

    def __init__(self, fd, name="logs"):
        self.fd = fd
        os.set_blocking(fd, False)
        self._lock = threading.Lock()
        self._capture = _Capture(None)
        self._eof = False
        self._stop = False
        self._wake_r, self._wake_w = os.pipe()   # lets close() interrupt the select at once
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _read_available(self):
        """Read what is in the pipe now. Caller holds the lock."""
        while not self._eof:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                self._eof = True
                return
            if not data:
                self._eof = True
                return
            self._capture.add(data)
            self._capture.stream(data)

    def _run(self):
        while not self._eof and not self._stop:
            try:
                ready, _, _ = select.select([self.fd, self._wake_r], [], [])
            except (OSError, ValueError):
                break
            if self.fd in ready:
                with self._lock:
                    self._read_available()

    def sync(self):
        """Take everything already written into the pipe."""
        with self._lock:
            self._read_available()

    def begin(self, on_line=None):
        """Start a new capture; returns the text of the previous one (output between invocations)."""
        with self._lock:
            self._read_available()
            previous, self._capture = self._capture, _Capture(on_line)
        return previous.text()

    def take(self):
        """End the current capture after a sync; returns its text."""
        return self.begin(None)

    def close(self):
        if self._stop:
            return
        self._stop = True
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=2)
        for fd in (self.fd, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

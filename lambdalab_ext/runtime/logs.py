"""The function's output (stdout and stderr of the runtime process), as Lambda sends it to CloudWatch.

A reader thread drains a pipe (a subprocess's stdout, or a FIFO the container writes to) so a print
flood can never block the function or the lab. Output is kept per invocation within a bound (head
and tail, with the number of bytes dropped in between), and can be streamed live to a callback, a
line at a time.

Streaming costs time linear in the output and memory bounded by :data:`LINE_BYTES`: the unfinished
line is kept in one buffer that grows by each read, and a line longer than ``LINE_BYTES`` reaches the
callback cut there, with a note of how many bytes of it were left out (a :class:`CutLine`; the
bounded log above is unaffected: it keeps its head and tail as written).

Ordering: the runtime writes its output before it posts the result, and both travel through the
kernel in that order; :meth:`LogCollector.sync` reads everything already in the pipe, so once a
result has arrived, ``sync()`` has all the output written before it.
"""

import codecs
import os
import select
import threading

HEAD_BYTES = 128 * 1024
TAIL_BYTES = 32 * 1024
# The longest line handed to a live callback. A function can print one line of any length (no newline
# for 100 MB); holding and re-scanning all of it made streaming quadratic and unbounded in memory.
LINE_BYTES = 256 * 1024
READ_LIMIT_BYTES = 4 * 1024 * 1024      # per look at the pipe (a pipe holds 64 KB to 1 MB)


class CutLine(str):
    """A live line that was longer than ``LINE_BYTES``: its start and a note; ``cut_bytes`` were left out."""

    cut_bytes = 0


class _Capture:
    def __init__(self, on_line):
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.on_line = on_line
        self._line = bytearray()   # the unfinished line, at most LINE_BYTES of it
        self._line_cut = 0         # bytes of the unfinished line past LINE_BYTES: counted, not kept
        self.callback_error = None

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
        # Work proportional to this read only, and bytes past LINE_BYTES are counted, never copied.
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            self._hold(data, start, end)
            if not self._line_cut and self._line.endswith(b"\r"):
                del self._line[-1:]    # CRLF ends one line (its CR may have come in the read before)
            self._emit()
            start = end + 1
        self._hold(data, start, len(data))

    def _hold(self, data, start, end):
        room = LINE_BYTES - len(self._line)
        if end - start > room:
            self._line_cut += end - start - room
            end = start + room
        if end > start:
            self._line += data[start:end]

    def _emit(self):
        line, cut = self._line, self._line_cut
        self._line, self._line_cut = bytearray(), 0
        if not cut:
            text = _decode(line)
        else:
            # Not final: a character split by the cut is left out rather than shown as a replacement mark.
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            text = _clean(decoder.decode(line, final=False))
            cut += len(decoder.getstate()[0])
            text = CutLine(f"{text} [... lambdalab: this line was cut here, {cut:,} more bytes of it "
                           "are not shown live]")
            text.cut_bytes = cut
        try:
            self.on_line(text)
        except Exception as exc:
            # The callback runs on the reader thread: raising there would stop draining the pipe and
            # block the function. A failing callback is dropped; the log is still kept.
            self.on_line, self.callback_error = None, exc

    def text(self):
        if self.on_line is not None and (self._line or self._line_cut):
            self._emit()
        text = _decode(bytes(self.head))
        if self.dropped:
            text += f"\n... [{self.dropped:,} bytes of output dropped by lambdalab] ...\n"
        return text + _decode(bytes(self.tail))


def _decode(data):
    return _clean(data.decode("utf-8", "replace")) if data else ""


def _clean(text):
    # Lambda's Python runtime joins the lines of one error with carriage returns (one CloudWatch
    # event); shown here as lines, since a bare \r would overwrite text in a terminal or notebook.
    return text.replace("\r\n", "\n").replace("\r", "\n")


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

    def _read_available(self, limit=READ_LIMIT_BYTES):
        """Read what is in the pipe now, at most ``limit`` bytes. Caller holds the lock.

        Bounded, so a function that never stops writing cannot hold the lock (and the invocation
        waiting on ``sync()``) for ever: more than a pipe's capacity is more than was written
        before the result arrived.
        """
        taken = 0
        while not self._eof and taken < limit:
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
            taken += len(data)
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

"""The log collector on a real pipe: bounded log, live lines in linear time and bounded memory."""

import os
import threading

import pytest

from lambdalab_ext.runtime.logs import HEAD_BYTES, LINE_BYTES, TAIL_BYTES, LogCollector

CHUNK = b"x" * 65536


@pytest.fixture
def pipe():
    """A collector reading a pipe, and a writer for the other end (closed at the end of the test)."""
    read_fd, write_fd = os.pipe()
    collector = LogCollector(read_fd, name="test-logs")
    ends = {"write": write_fd}

    def write_all(*parts, close=True):
        """Write in a thread, as a function does; the pipe only drains if the collector reads."""
        def run():
            for part in parts:
                view = memoryview(part)
                while view:
                    view = view[os.write(write_fd, view):]
            if close:
                os.close(write_fd)
                ends["write"] = None
        writer = threading.Thread(target=run, daemon=True)
        writer.start()
        return writer

    yield collector, write_all
    if ends["write"] is not None:
        os.close(ends["write"])
    collector.close()


def _drain(collector, writer):
    # Deadlock guard only (the collector must keep draining), not a speed figure.
    writer.join(timeout=120)
    assert not writer.is_alive(), "the writer is blocked: the collector stopped draining the pipe"
    collector._thread.join(timeout=30)   # EOF reached once the write end is closed
    collector.sync()


def test_lines_split_across_reads_and_reads_holding_many_lines(pipe):
    collector, write_all = pipe
    lines = []
    collector.begin(lines.append)
    writer = write_all(b"one\ntw", b"o\nthree\r\nfour\rfive\nsix\r", b"\n", b"", b"seven")
    _drain(collector, writer)
    text = collector.take()
    assert lines == ["one", "two", "three", "four\nfive", "six", "seven"]   # the unfinished one comes last
    assert text == "one\ntwo\nthree\nfour\nfive\nsix\nseven"


def test_a_100_mb_line_without_newline_reaches_the_callback_cut_and_memory_stays_bounded(pipe):
    """Before the fix every read re-joined the whole unfinished line: 100 MB took 97.6 s and held it all."""
    collector, write_all = pipe
    lines = []
    collector.begin(lines.append)
    size = 100 * 1024 * 1024
    writer = write_all(*([CHUNK] * (size // len(CHUNK))), b"\nafter\n")
    # While the line is being written, what the collector holds of it never passes LINE_BYTES.
    peak = 0
    while writer.is_alive():
        peak = max(peak, len(collector._capture._line))
        writer.join(timeout=0.01)
    _drain(collector, writer)
    text = collector.take()
    assert peak <= LINE_BYTES
    assert len(lines) == 2 and lines[1] == "after"     # one callback per line, not one per read
    cut = lines[0]
    assert cut.startswith("x" * LINE_BYTES) and len(cut) < LINE_BYTES + 200
    assert f"{size - LINE_BYTES:,} more bytes of it are not shown live" in cut
    # The log the result keeps: head and tail, and how much was dropped in between.
    dropped = size + len(b"\nafter\n") - HEAD_BYTES - TAIL_BYTES
    assert f"[{dropped:,} bytes of output dropped by lambdalab]" in text
    assert text.startswith("x" * HEAD_BYTES) and text.endswith("\nafter\n")
    assert len(text) < HEAD_BYTES + TAIL_BYTES + 200


def test_a_cut_line_does_not_split_a_character(pipe):
    collector, write_all = pipe
    lines = []
    collector.begin(lines.append)
    # One ASCII byte first, so LINE_BYTES falls in the middle of a two-byte character.
    writer = write_all(b"a" + "é".encode() * LINE_BYTES + b"\n")
    _drain(collector, writer)
    collector.take()
    assert len(lines) == 1
    shown, _, note = lines[0].partition(" [... lambdalab:")
    assert "\ufffd" not in shown and shown == "a" + "é" * ((LINE_BYTES - 1) // 2)
    assert f"{len('é'.encode()) * LINE_BYTES + 1 - len(shown.encode()):,} more bytes" in note


def test_a_failing_callback_is_dropped_and_the_pipe_keeps_draining(pipe):
    """The callback runs on the reader thread: if its exception stopped that thread, the function would block."""
    collector, write_all = pipe
    calls = []

    def on_line(line):
        calls.append(line)
        raise ValueError("a broken on_log")

    collector.begin(on_line)
    capture = collector._capture
    writer = write_all(b"first\n", *([CHUNK] * 64), b"\nlast\n")    # 4 MB: far more than a pipe holds
    _drain(collector, writer)
    text = collector.take()
    assert calls == ["first"] and isinstance(capture.callback_error, ValueError)
    assert text.startswith("first\n") and text.endswith("\nlast\n")


def test_a_crlf_split_between_two_reads_ends_one_line():
    from lambdalab_ext.runtime.logs import _Capture
    lines = []
    capture = _Capture(lines.append)
    for read in (b"a\r", b"\nb\r", b"\r\n", b"c"):
        capture.add(read)
        capture.stream(read)
    assert capture.text() == "a\nb\n\nc"
    assert lines == ["a", "b\n", "c"]    # a lone CR is a line break too (Lambda's multi-line error events)

"""The lab's clock and its scheduler: what Lambda does over minutes and hours runs on them.

Handler work is always measured in real time. What the Lambda service does between invocations
(reclaiming idle environments after the keep-alive, retrying an asynchronous event after a minute,
polling a queue, firing a schedule, ending a workflow's wait) is scheduled on the lab's clock:

- ``RealClock`` follows the monotonic wall clock; one timer thread runs each call when it falls due.
- ``VirtualClock`` moves only when told: ``advance(seconds)`` runs, in time order and in the calling
  thread, every call that falls due on the way, with ``now()`` reading each call's own moment while
  it runs, so a notebook advances six hours in a second and every due retry still runs the real
  function at its moment.

Both offer the same three calls, and nothing in the lab keeps a sleeping thread of its own:

>>> clock = VirtualClock()
>>> seen = []
>>> _ = clock.call_later(60, lambda: seen.append(clock.now()))
>>> _ = clock.call_at(30, lambda: seen.append(clock.now()))
>>> cancelled = clock.call_later(90, lambda: seen.append("never"))
>>> cancelled.cancel()
True
>>> clock.advance(3600)
>>> seen, clock.now()
([30.0, 60.0], 3600.0)
"""

import heapq
import itertools
import sys
import threading
import time
import traceback


class ScheduledCall:
    """A call waiting for its moment on a clock; ``cancel()`` it before then."""

    __slots__ = ("when", "fn", "args", "name", "cancelled", "done", "_seq")

    def __init__(self, when, fn, args, name, seq):
        self.when, self.fn, self.args, self.name = when, fn, args, name
        self.cancelled = False
        self.done = False
        self._seq = seq

    def cancel(self):
        """Stop the call from running. Returns False if it already ran (or was cancelled)."""
        if self.done or self.cancelled:
            return False
        self.cancelled = True
        return True

    def __lt__(self, other):
        return (self.when, self._seq) < (other.when, other._seq)

    def __repr__(self):
        state = "cancelled" if self.cancelled else "done" if self.done else "pending"
        return f"<ScheduledCall {self.name or getattr(self.fn, '__name__', 'call')} at {self.when:.3f} ({state})>"


class _Schedule:
    """The calls of one clock in time order (then in the order they were scheduled)."""

    def __init__(self):
        self._heap = []
        self._seq = itertools.count()
        self.lock = threading.Condition()
        self.errors = []            # (call, formatted traceback) of calls that raised

    def push(self, when, fn, args, name):
        call = ScheduledCall(float(when), fn, args, name, next(self._seq))
        with self.lock:
            heapq.heappush(self._heap, call)
            self.lock.notify_all()
        return call

    def pop_due(self, now):
        """The earliest call due at or before ``now`` (not cancelled), or None. Caller holds the lock."""
        while self._heap and (self._heap[0].cancelled or self._heap[0].when <= now):
            call = heapq.heappop(self._heap)
            if not call.cancelled:
                return call
        return None

    def next_time(self):
        """When the earliest pending call falls due, or None. Caller holds the lock."""
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].when if self._heap else None

    def pending(self):
        with self.lock:
            return sorted(c for c in self._heap if not c.cancelled)

    def run(self, call):
        call.done = True
        try:
            call.fn(*call.args)
        except Exception:
            # One failing call must not stop the clock for everything else; the error is kept
            # (and printed) rather than lost.
            text = traceback.format_exc()
            self.errors.append((call, text))
            print(f"lambdalab: a scheduled call failed ({call!r}):\n{text}", file=sys.stderr)


class RealClock:
    """The wall clock (monotonic seconds); scheduled calls run on one timer thread, on time."""

    virtual = False

    def __init__(self):
        self._schedule = _Schedule()
        self._thread = None
        self._closed = False

    def now(self):
        """Seconds, monotonic."""
        return time.monotonic()

    def call_at(self, when, fn, *args, name=None):
        """Run ``fn(*args)`` when ``now()`` reaches ``when``; returns a ``ScheduledCall``."""
        call = self._schedule.push(when, fn, args, name)
        self._ensure_thread()
        return call

    def call_later(self, delay, fn, *args, name=None):
        return self.call_at(self.now() + max(0.0, float(delay)), fn, *args, name=name)

    def pending(self):
        """The calls still waiting, earliest first."""
        return self._schedule.pending()

    @property
    def errors(self):
        return self._schedule.errors

    def _ensure_thread(self):
        with self._schedule.lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._loop, name="lambdalab-clock", daemon=True)
                self._thread.start()

    def _loop(self):
        schedule = self._schedule
        while True:
            with schedule.lock:
                while True:
                    if self._closed:
                        return
                    call = schedule.pop_due(self.now())
                    if call is not None:
                        break
                    due = schedule.next_time()
                    schedule.lock.wait(None if due is None else max(0.0, due - self.now()))
            schedule.run(call)

    def close(self):
        """Stop the timer thread; calls still pending never run."""
        with self._schedule.lock:
            self._closed = True
            self._schedule.lock.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


class VirtualClock:
    """A clock that advances only through :meth:`advance`, running what falls due on the way."""

    virtual = True

    def __init__(self, start=0.0):
        self._now = float(start)
        self._schedule = _Schedule()
        self._advancing = threading.RLock()   # one advance at a time, re-entrant for callbacks

    def now(self):
        return self._now

    def call_at(self, when, fn, *args, name=None):
        """Run ``fn(*args)`` when an advance reaches ``when`` (a moment already past runs at the
        next advance, even ``advance(0)``); returns a ``ScheduledCall``."""
        return self._schedule.push(when, fn, args, name)

    def call_later(self, delay, fn, *args, name=None):
        return self.call_at(self._now + max(0.0, float(delay)), fn, *args, name=name)

    def pending(self):
        return self._schedule.pending()

    @property
    def errors(self):
        return self._schedule.errors

    def advance(self, seconds):
        """Move the clock ``seconds`` ahead, running every call due on the way in time order.

        A call that schedules another inside the window gets it run in this advance too. Calls run
        in this thread, so when ``advance`` returns, everything due has happened.
        """
        seconds = float(seconds)
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._advancing:
            target = self._now + seconds
            schedule = self._schedule
            while True:
                with schedule.lock:
                    call = schedule.pop_due(target)
                if call is None:
                    break
                self._now = max(self._now, call.when)
                schedule.run(call)
            self._now = target

    def run_until_idle(self, limit_s=30 * 24 * 3600.0):
        """Advance to each pending call in turn until none is left (within ``limit_s``).

        Returns how far the clock moved: what "let everything that is queued play out" takes.
        """
        start = self._now
        while True:
            with self._schedule.lock:
                due = self._schedule.next_time()
            if due is None or due - start > limit_s:
                break
            self.advance(max(0.0, due - self._now))
        return self._now - start

    def close(self):
        """Nothing runs on its own: there is nothing to stop."""

"""The lab's clock: what Lambda does over minutes and hours (keep-alive, retries, schedules) runs on it.

Handler work is always measured in real time. ``RealClock`` follows the wall clock; ``VirtualClock``
moves only when told, so a notebook can advance six hours in a second.
"""

import threading
import time


class RealClock:
    virtual = False

    def now(self):
        """Seconds, monotonic."""
        return time.monotonic()

    def add_listener(self, callback):
        """Real time needs no nudging: the service checks on its own timer thread."""


class VirtualClock:
    """A clock that advances only through :meth:`advance`.

    >>> clock = VirtualClock()
    >>> clock.advance(3600)
    >>> clock.now()
    3600.0
    """

    virtual = True

    def __init__(self, start=0.0):
        self._now = float(start)
        self._listeners = []
        self._lock = threading.Lock()

    def now(self):
        return self._now

    def add_listener(self, callback):
        """``callback(now)`` runs after every advance (the service reclaims idle environments then)."""
        self._listeners.append(callback)

    def advance(self, seconds):
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += float(seconds)
        for callback in list(self._listeners):
            callback(self._now)

"""The lab record: every step the Lambda service takes, appended once, read by everything else.

A synchronous invoke, an asynchronous event accepted onto a function's queue, each attempt, a
retry scheduled, a throttle, an event expired or dropped, a delivery to a destination or a
dead-letter queue, an environment started or discarded: each is one ``RecordEvent``. The magic
(``%lambda logs``), result views, tests, and later CloudWatch logs and metrics, traces and classroom
checks all read the same record instead of keeping their own.

Pure bookkeeping, no I/O. Thread-safe: the service appends from many threads.

>>> record = LabRecord(clock=lambda: 60.0)
>>> _ = record.append("accepted", "resize", "req-1", invocation_type="Event")
>>> _ = record.append("attempt", "resize", "req-1", attempt=1, status="error")
>>> [e.kind for e in record.events(request_id="req-1")]
['accepted', 'attempt']
>>> record.count("attempt", function="resize")
1
"""

import collections
import dataclasses
import itertools
import threading
import time

# The kinds of step the service records; an unknown kind is refused so that readers can rely on them.
KINDS = frozenset({
    "deploy", "delete",                    # control plane
    "init", "init_error",                  # an environment's INIT phase (cold start)
    "invoke",                              # one invocation on an environment (sync or an async attempt)
    "throttle",                            # refused for concurrency (TooManyRequestsException)
    "accepted",                            # an asynchronous event queued (202)
    "attempt",                             # an asynchronous event handed to the function
    "retry",                               # a retry scheduled, with its due time
    "expired",                             # dropped: older than the maximum event age
    "exhausted",                           # dropped: retries used up, no destination to take it
    "destination",                         # delivered to an on-success / on-failure destination
    "dlq",                                 # delivered to a dead-letter queue
    "delivery_failed",                     # a destination or DLQ could not take it
    # event sources (lambdalab_ext/sources)
    "mapping",                             # an event source mapping created, updated, deleted
    "poll",                                # a poller's receive (what it got)
    "batch",                               # a batch handed to the function, and its outcome
    "batch_item_failures",                 # the items a ReportBatchItemFailures response returned
    "redrive",                             # a message moved to its queue's DLQ (maxReceiveCount)
    "notification",                        # a push source (S3, SNS, EventBridge) matched: invoked, or sent on
    "filtered",                            # a push or polled event that no filter let through
    "schedule",                            # an EventBridge schedule fired
    "recursion_stopped",                   # a recursive loop stopped (RecursiveInvocationsDropped)
    "duplicate",                           # delivered more than once (as Lambda may)
    "discard",                             # an environment shut down (timeout, crash, reclaim, update)
    "pending_lost",                        # events still queued when the lab shut down
    "authorization",                       # a function's AWS call authorized against its role (iam/enforce)
})


@dataclasses.dataclass(frozen=True)
class RecordEvent:
    """One step: when (lab clock and wall clock), what, for which function and request."""

    seq: int
    at: float                      # the lab clock's now() (virtual or real seconds)
    wall: float                    # epoch seconds (what a log line or a trace carries)
    kind: str
    function: str | None
    request_id: str | None
    details: dict

    def __getitem__(self, key):
        return self.details[key]

    def get(self, key, default=None):
        return self.details.get(key, default)

    def as_dict(self):
        return {"seq": self.seq, "at": self.at, "wall": self.wall, "kind": self.kind,
                "function": self.function, "request_id": self.request_id, **self.details}


class LabRecord:
    """The lab's append-only record. ``clock`` is a callable giving the lab clock's now().

    Keeps the last ``max_events`` events (a long-running notebook must not grow without bound)
    and counts what it let go in ``forgotten``.
    """

    def __init__(self, clock=time.monotonic, max_events=1_000_000):
        self._clock = clock
        self._events = collections.deque(maxlen=max_events)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._subscribers = []
        self.forgotten = 0

    def append(self, kind, function=None, request_id=None, **details):
        """Record one step; returns the ``RecordEvent``. Subscribers see it at once."""
        if kind not in KINDS:
            raise ValueError(f"unknown record kind {kind!r}; one of {sorted(KINDS)}")
        with self._lock:
            event = RecordEvent(next(self._seq), self._clock(), time.time(), kind, function, request_id, details)
            if len(self._events) == self._events.maxlen:
                self.forgotten += 1
            self._events.append(event)
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:   # an observer's bug must not break the service
                pass
        return event

    def events(self, kind=None, function=None, request_id=None, since=None):
        """The events matching every filter given (``kind`` may be a set), oldest first."""
        kinds = {kind} if isinstance(kind, str) else set(kind) if kind else None
        with self._lock:
            snapshot = list(self._events)
        return [e for e in snapshot
                if (kinds is None or e.kind in kinds)
                and (function is None or e.function == function)
                and (request_id is None or e.request_id == request_id)
                and (since is None or e.at >= since)]

    def count(self, kind=None, function=None, **filters):
        return len(self.events(kind=kind, function=function, **filters))

    def subscribe(self, callback):
        """``callback(event)`` for every event from now on; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe():
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)
        return unsubscribe

    def to_dataframe(self, **filters):
        """The events as a pandas DataFrame (one column per detail), if pandas is installed."""
        import pandas as pd
        return pd.DataFrame([e.as_dict() for e in self.events(**filters)])

    def __len__(self):
        with self._lock:
            return len(self._events)

    def __repr__(self):
        return f"<LabRecord: {len(self)} events>"

"""Lambda's SQS poller: an event source mapping on a queue of the embedded SQS, on the lab clock.

What Lambda does with an SQS event source ("Using Lambda with Amazon SQS", "Creating and configuring
an Amazon SQS event source mapping", "Handling errors for an SQS event source in Lambda" and
"Configuring scaling behavior for SQS event source mappings", AWS Lambda Developer Guide,
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html), and this poller too:

- **Batches.** The poller receives up to 10 messages per ReceiveMessage and builds a batch of up to
  ``BatchSize`` messages (default 10; at most 10,000 for a standard queue, 10 for FIFO), waiting up
  to ``MaximumBatchingWindowInSeconds`` (0-300; required ≥ 1 above 10 messages; not for FIFO) for
  it to fill, and never more than the 6 MB a synchronous invocation carries. Messages it holds are
  invisible to other consumers for the queue's visibility timeout, counted from their receive.
- **The event** is SQS's, one record per message (``events.messaging.sqs_record``): messageId,
  receiptHandle, body, attributes (ApproximateReceiveCount, SentTimestamp, SenderId,
  ApproximateFirstReceiveTimestamp; SequenceNumber, MessageGroupId, MessageDeduplicationId for FIFO),
  messageAttributes, md5OfMessageAttributes, md5OfBody, eventSource ``aws:sqs``, eventSourceARN,
  awsRegion. The function is invoked synchronously (``source="sqs"``, ``source_arn`` the queue).
- **Success** deletes the batch. A **function error** (an exception, a timeout, a crash) deletes
  nothing: the whole batch comes back once its visibility timeout ends, successes included.
- **``ReportBatchItemFailures``**: only the messages whose ``messageId`` the response lists in
  ``batchItemFailures[].itemIdentifier`` come back, the rest are deleted. An empty or null list, or an
  empty or null response, is complete success; an identifier that is empty, null, missing or not a
  message of the batch, or a response that is not such an object, is complete failure; an uncaught
  exception is complete failure too. Without the setting the response is ignored.
- **Throttles** (reserved concurrency, 0 being the off switch; the account's concurrency) are
  retried, one second later then doubling, while the messages' visibility timeout lasts; then the
  messages go back to the queue (and count a receive, so a DLQ may take them, as AWS warns).
- **Slow handlers.** A message whose visibility timeout ends while its invocation still runs is
  visible again and is received again: a duplicate (recorded as ``duplicate``). Deleting then needs
  the latest receipt handle: the first invocation's delete does not remove the message ("the
  request succeeds, but the message might not be deleted", SQS's DeleteMessage).
- **Dead-letter queue.** A message received more than the queue's ``maxReceiveCount`` times goes to
  the ``RedrivePolicy``'s queue when next received, with its messageId, as SQS moves it (moto does
  the same inside its ReceiveMessage; the poller, reading the queue itself, moves it the same way).
- **Scaling.** With messages available the mapping starts with 5 concurrent batches and adds up to
  300 per minute, up to 1,000 batches ("Configuring scaling behavior for SQS event source
  mappings"), never more than ``ScalingConfig.MaximumConcurrency`` (2-1,000) nor the account's
  concurrency; reserved concurrency is *not* a bound (event source mappings do not account for it:
  the extra invocations are throttled). Function errors and throttles halve it (not with
  ``ReportBatchItemFailures``, which AWS exempts); an empty queue brings it back to 5.
- **FIFO.** SQS hands out no message of a group while another of it is in flight, so a group has at
  most one batch at a time and keeps its order; a failed batch blocks its groups until it returns.

Time. Visibility timeouts and polls run on the lab clock. moto keeps visibility on the wall clock,
and its ReceiveMessage recounts the whole queue for every message it returns (minutes for 10,000
messages), so the poller reads and changes moto's queue itself, in this process, by SQS's rules and
under the queue's own lock: what a cell then sees through boto3 (counts, receive counts, the DLQ) is
the same queue. Held messages are invisible (12 hours on moto's clock) until the lab-clock moment
their visibility timeout ends, when the poller makes them visible again; so ``clock.advance()``
shows a redelivery at the right lab time. DelaySeconds and retention stay on the wall clock (moto's).

On a ``VirtualClock`` nothing is polled until the clock is advanced (a SendMessage only marks the
queue for the next poll, unlike moto, which invokes inside SendMessage). A due poll runs its batches
on worker threads, in parallel, and waits for them; each batch then *ends* on the lab clock at its
start plus the function's billed duration (REPORT's Billed Duration: whole milliseconds, INIT
included): that is when its messages are deleted. So an ``advance()`` longer than the invocations
returns with their outcome in the queue and the record, and a handler slower than the visibility
timeout ends after its messages came back and were received again. (A function billed at most 2 ms a
batch has its batches run one after the other in the polling thread, faster than threads contending
for the interpreter; the lab time they start and end at is the same.) An idle mapping costs nothing:
it waits for an AWS call that adds a message (every call through the endpoint is observed), as long
polling waits. On a ``RealClock`` the poller polls on its own: empty receives back off from 1 s to
20 s (a long poll's wait), a message sent through the endpoint wakes it at once, and invocations run
on at most ``workers`` (10) threads, which also caps its concurrency there.

Every step is in the lab record: ``mapping`` (create, update, state, delete), ``poll`` (a receive:
how many), ``batch`` (size, outcome, what was deleted and what comes back), ``batch_item_failures``,
``redrive``, ``duplicate``; the service adds ``invoke`` and ``throttle``.
"""

import base64
import concurrent.futures
import dataclasses
import itertools
import json
import os
import sys
import threading
import time

from ..errors import (InvalidParameterValueException, LabClosedError, LambdaServiceError, ResourceConflictException,
                      ResourceNotFoundException, TooManyRequestsException)
from ..events.messaging import sqs_record_json
from ..limits import (BATCHING_WINDOW_MAX_S, ESM_MAXIMUM_CONCURRENCY_MAX, ESM_MAXIMUM_CONCURRENCY_MIN,
                      SQS_BATCH_SIZE_DEFAULT, SQS_BATCH_SIZE_MAX, SQS_FIFO_BATCH_SIZE_MAX, SQS_LONG_POLL_MAX_S,
                      SQS_POLLER_MAX_BATCHES, SQS_POLLER_MIN_BATCHES, SQS_POLLER_SCALE_UP_PER_MINUTE,
                      SQS_POLLER_START_BATCHES, SQS_RECEIVE_MAX_MESSAGES, SQS_VISIBILITY_TIMEOUT_MAX_S,
                      SYNC_REQUEST_MAX_BYTES)
from .. import recursion
from ..request import InvocationRequest
from .mappings import SourceKind, constraint, register_source_kind, whole_number

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
MAX_BATCH_BYTES = SYNC_REQUEST_MAX_BYTES           # a synchronous invocation's payload
_ENVELOPE_BYTES = len(b'{"Records": []}')
WINDOW_POLL_S = 1.0             # while a batching window gathers, the queue is read every second
IDLE_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, float(SQS_LONG_POLL_MAX_S))
THROTTLE_RETRY_FIRST_S = 1.0
FAILURE_BACKOFF_S = 1.0         # after a failed batch, the next poll waits a second
WORKERS = 10                    # invocations one mapping runs at the same real moment
INLINE_BELOW_MS = 2.0           # a virtual clock's batches of a faster function run one after the other
RECEIPT_RANDOM_BYTES = 132      # a receipt handle: "AQEB" and 176 characters of base64
RECORD_IDS_MAX = 10_000         # message ids a record keeps (a batch holds at most 10,000)
RECORD_IDENTIFIERS_MAX = 100    # what a function's batchItemFailures may put in the record
NON_EXISTENT_QUEUE = ("Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
                      "SQS Error Message: The specified queue does not exist.")


def parse_queue_arn(arn):
    """(region, account, name) of an SQS queue ARN, or None."""
    parts = arn.split(":") if isinstance(arn, str) else []
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs" or not parts[5]:
        return None
    return parts[3], parts[4], parts[5]


def parse_batch_item_failures(raw_payload, message_ids):
    """A ``ReportBatchItemFailures`` response, judged as Lambda judges it.

    Returns ``(failed, problem, identifiers)``: the message ids to return to the queue, why the whole
    batch failed instead (or None), and the identifiers the response listed (for the record).

    >>> parse_batch_item_failures(b'{"batchItemFailures": [{"itemIdentifier": "b"}]}', {"a", "b"})
    ({'b'}, None, ['b'])
    >>> parse_batch_item_failures(b'{"batchItemFailures": []}', {"a"}), parse_batch_item_failures(b"null", {"a"})
    ((set(), None, []), (set(), None, []))
    >>> parse_batch_item_failures(b'{"batchItemFailures": [{"itemIdentifier": "zz"}]}', {"a"})[1]
    "itemIdentifier 'zz' is not the messageId of a message in the batch"
    """
    if raw_payload is None or not bytes(raw_payload).strip():
        return set(), None, []
    try:
        value = json.loads(raw_payload)
    except (ValueError, RecursionError):
        return set(), "the response is not JSON", None
    if value is None:
        return set(), None, []
    if not isinstance(value, dict):
        return set(), "the response is not an object with batchItemFailures", None
    items = value.get("batchItemFailures")
    if items is None or items == []:
        return set(), None, []
    if not isinstance(items, list):
        return set(), "batchItemFailures is not a list", None
    failed, identifiers = set(), []
    for item in items:
        if not isinstance(item, dict) or "itemIdentifier" not in item:
            return set(), "an entry of batchItemFailures has no itemIdentifier", identifiers
        identifier = item["itemIdentifier"]
        if len(identifiers) < RECORD_IDENTIFIERS_MAX:
            identifiers.append(identifier if isinstance(identifier, str) else repr(identifier)[:200])
        if identifier is None or identifier == "":
            return set(), "an itemIdentifier is empty or null", identifiers
        if not isinstance(identifier, str) or identifier not in message_ids:
            return set(), f"itemIdentifier {str(identifier)[:200]!r} is not the messageId of a message in the batch", \
                identifiers
        failed.add(identifier)
    return failed, None, identifiers


# -- the embedded queue, as Lambda's poller reads it ---------------------------------------------------
@dataclasses.dataclass(frozen=True)
class QueueSettings:
    visibility_timeout: int
    fifo: bool
    max_receive_count: int | None
    dead_letter_queue: object          # moto's Queue, or None
    length: int                        # messages in the queue, in flight included


class Delivery:
    """One message as one receive handed it to the poller: ``data`` is its record's JSON, as the
    event carries it (``events.messaging.sqs_record``)."""

    __slots__ = ("message", "message_id", "receipt_handle", "receive_count", "received_at", "visibility",
                 "trace_header", "data", "size", "state", "group")

    def __init__(self, message, receipt_handle, data, trace_header=None):
        self.message, self.receipt_handle, self.data = message, receipt_handle, data
        self.trace_header = trace_header      # AWSTraceHeader: the trace of a function that sent it
        self.size = len(data)
        self.message_id = message.id
        self.receive_count = message.approximate_receive_count
        self.received_at = self.visibility = 0.0
        self.state = "held"            # held, deleted, released, gone
        self.group = None

    @property
    def record(self):
        """The record as a dict."""
        return json.loads(self.data)


class EmbeddedQueue:
    """An SQS queue of the lab's embedded AWS (moto, in this process), read by SQS's rules.

    ``receive`` is ReceiveMessage with every system and message attribute, ``delete`` is
    DeleteMessageBatch (with the latest receipt handle only, as SQS deletes), ``release`` is
    ChangeMessageVisibility to 0 of what the poller still holds. Each holds moto's own queue lock.
    """

    def __init__(self, arn):
        parsed = parse_queue_arn(arn)
        if parsed is None:
            raise InvalidParameterValueException(f"{arn!r} is not an SQS queue ARN.")
        self.arn = arn
        self.region, self.account, self.name = parsed
        self._backend = None           # moto's SQS of that account and region (a reset keeps the object)
        self._sequence = itertools.count(int(time.time() * 1000) * 1000)

    def moto(self):
        """moto's Queue object, or None if there is no such queue (now)."""
        backend = self._backend
        if backend is None:
            try:
                from moto.sqs.models import sqs_backends
                backend = self._backend = sqs_backends[self.account][self.region]
            except Exception:   # an account or region moto refuses: no such queue
                return None
        return backend.queues.get(self.name)

    def settings(self):
        queue = self.moto()
        if queue is None:
            return None
        policy = queue.redrive_policy if isinstance(getattr(queue, "redrive_policy", None), dict) else None
        dlq = queue.dead_letter_queue if policy else None
        return QueueSettings(visibility_timeout=int(queue.visibility_timeout), fifo=bool(queue.fifo_queue),
                             max_receive_count=int(policy["maxReceiveCount"]) if dlq is not None else None,
                             dead_letter_queue=dlq, length=len(queue._messages))

    def receive(self, max_messages, settings):
        """Up to ``max_messages`` deliveries, and the messages moved to the DLQ on the way."""
        queue = self.moto()
        if queue is None:
            return [], []
        out, moved = [], []
        now_ms = time.time() * 1000.0
        hold_until = now_ms + SQS_VISIBILITY_TIMEOUT_MAX_S * 1000.0
        dlq = settings.dead_letter_queue
        with queue._messages_lock:
            pending = queue._pending_messages
            blocked = set()
            if settings.fifo:
                blocked = {m.group_id for m in pending if m.group_id is not None and not now_ms > m.visible_at}
            retention_ms = int(queue.message_retention_period) * 1000.0
            for message in queue._messages:
                if not now_ms > message.visible_at or now_ms < message.delayed_until:
                    continue
                if (message.sent_timestamp or 0) + retention_ms <= now_ms:
                    continue
                pending.discard(message)          # visible again: no longer in flight
                if settings.fifo and message.group_id in blocked:
                    continue
                if dlq is not None and dlq is not queue and message.approximate_receive_count >= \
                        settings.max_receive_count:
                    moved.append(message)
                    continue
                message.approximate_receive_count += 1
                if not message.approximate_first_receive_timestamp:
                    message.approximate_first_receive_timestamp = int(now_ms)
                if message.receipt_handle is not None:
                    message._old_receipt_handles.append(message.receipt_handle)
                message.receipt_handle = None     # given below, from one read of randomness for all
                message.visible_at = hold_until
                pending.add(message)
                if settings.fifo and message.sequence_number is None:
                    message.sequence_number = f"{next(self._sequence):020d}"[-20:]
                out.append(message)
                if len(out) >= max_messages:
                    break
            for message in moved:
                queue._messages.remove(message)
            randomness = os.urandom(RECEIPT_RANDOM_BYTES * len(out))
            for i, message in enumerate(out):     # SQS's form of a receipt handle
                chunk = randomness[i * RECEIPT_RANDOM_BYTES:(i + 1) * RECEIPT_RANDOM_BYTES]
                message.receipt_handle = "AQEB" + base64.b64encode(chunk).decode()
            deliveries = [self._delivery(m) for m in out]
        for message in moved:
            # SQS moves the message itself (same messageId, its receive count kept): no dedup, no delay.
            with dlq._messages_lock:
                dlq._messages.append(message)
                dlq._messages_lock.notify_all()
        return deliveries, moved

    def _delivery(self, message):
        attributes = {"ApproximateReceiveCount": message.approximate_receive_count,
                      "SentTimestamp": message.sent_timestamp, "SenderId": message.sender_id,
                      "ApproximateFirstReceiveTimestamp": message.approximate_first_receive_timestamp}
        if message.group_id is not None:
            attributes.update(SequenceNumber=message.sequence_number, MessageGroupId=message.group_id,
                              MessageDeduplicationId=message.deduplication_id)
        trace = (message.system_attributes or {}).get("AWSTraceHeader")
        if isinstance(trace, dict):
            trace = trace.get("StringValue")
            attributes["AWSTraceHeader"] = trace
        else:
            trace = None
        data = sqs_record_json(message.id, message.receipt_handle, message.body, attributes=attributes,
                               message_attributes=message.message_attributes, queue_arn=self.arn,
                               region=self.region)
        return Delivery(message, message.receipt_handle, data, trace)

    def delete(self, deliveries):
        """Delete what ``deliveries`` still hold by their latest receipt handle; returns those deleted."""
        queue = self.moto()
        if queue is None or not deliveries:
            return []
        deleted = []
        with queue._messages_lock:
            messages = queue._messages
            for delivery in deliveries:
                message = delivery.message
                if message.receipt_handle != delivery.receipt_handle:
                    continue                       # received again since: that receipt is the one to use
                try:
                    messages.remove(message)
                except ValueError:
                    continue                       # gone already (deleted, purged, moved)
                queue._pending_messages.discard(message)
                queue.deleted_messages.update(message.all_receipt_handles)
                deleted.append(delivery)
        return deleted

    def move_to_dead_letter_queue(self, deliveries, dlq):
        """Move what ``deliveries`` still hold to ``dlq`` (moto's Queue), as SQS's redrive moves a
        message (same messageId, receive count kept); returns those moved."""
        moved = self.delete(deliveries)
        if moved and dlq is not None:
            for delivery in moved:
                delivery.message.visible_at = 0      # it arrives visible, as a redriven message does
            with dlq._messages_lock:
                dlq._messages.extend(d.message for d in moved)
                dlq._messages_lock.notify_all()
        return moved

    def release(self, deliveries):
        """Make visible again what ``deliveries`` still hold (their visibility timeout ended)."""
        queue = self.moto()
        if queue is None or not deliveries:
            return
        now_ms = time.time() * 1000.0
        with queue._messages_lock:
            for delivery in deliveries:
                message = delivery.message
                if message.receipt_handle == delivery.receipt_handle and message.visible_at > now_ms:
                    message.visible_at = now_ms
                    queue._pending_messages.discard(message)
            queue._messages_lock.notify_all()

    def send_messages(self, bodies, *, group_id=None):
        """Put messages on the queue as SendMessageBatch does (moto's own Message objects, ids, sent
        timestamps), for bulk loads: moto's SendMessage recounts the whole queue for each message,
        which makes 10,000 of them take minutes. Returns the message ids."""
        from moto.moto_api._internal import mock_random
        from moto.sqs.models import Message
        queue = self.moto()
        if queue is None:
            raise InvalidParameterValueException(NON_EXISTENT_QUEUE)
        ids = []
        for body in bodies:
            message = Message(str(mock_random.uuid4()), body if isinstance(body, str) else json.dumps(body))
            if queue.fifo_queue:
                import hashlib
                message.group_id = group_id or "default"
                message.deduplication_id = hashlib.sha256(message.body.encode()).hexdigest()
            message.mark_sent()
            queue.add_message(message)
            ids.append(message.id)
        return ids


# -- one batch, and what became of it -------------------------------------------------------------------
class _Batch:
    """Messages for one invocation; ``bytes`` is the exact size of its event's JSON."""

    __slots__ = ("id", "deliveries", "bytes", "deadline", "started_at", "attempt", "full", "request_id")

    def __init__(self, batch_id, deadline):
        self.id, self.deliveries, self.bytes, self.deadline = batch_id, [], _ENVELOPE_BYTES, deadline
        self.started_at, self.attempt, self.full, self.request_id = 0.0, 0, False, None

    def _size(self, delivery):
        return delivery.size + (2 if self.deliveries else 0)

    def fits(self, delivery):
        return self.bytes + self._size(delivery) <= MAX_BATCH_BYTES

    def add(self, delivery):
        self.bytes += self._size(delivery)
        self.deliveries.append(delivery)

    def drop_returned(self):
        """Messages whose visibility timeout ended while the batch gathered are back in the queue."""
        if any(d.state != "held" for d in self.deliveries):
            kept = [d for d in self.deliveries if d.state == "held"]
            self.deliveries, self.bytes = [], _ENVELOPE_BYTES
            for delivery in kept:
                self.add(delivery)

    def payload(self):
        """The event, as json.dumps writes ``{"Records": [...]}``."""
        return b'{"Records": [' + b", ".join(d.data for d in self.deliveries) + b"]}"


@dataclasses.dataclass
class _Outcome:
    kind: str                      # success, partial, function_error, invalid_response, throttled,
    request_id: str                # function_not_found, error, closed
    result: object = None
    duration_s: float = 0.0
    failed: set = None             # partial: the message ids to return
    reason: str = None
    identifiers: list = None       # the batchItemFailures identifiers (ReportBatchItemFailures)


class _Group:
    """The deliveries of one receive: they share a visibility timeout, so one timer."""

    __slots__ = ("deliveries", "live", "call")

    def __init__(self, deliveries):
        self.deliveries, self.live, self.call = deliveries, len(deliveries), None


class SQSPoller:
    """The poller of one SQS event source mapping (see the module's docstring)."""

    def __init__(self, mapping, context, *, workers=WORKERS):
        self.mapping = mapping
        self.queue = EmbeddedQueue(mapping.event_source_arn)
        self._context = context
        self._clock, self._record = context.clock, context.record
        self._workers = int(workers)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=self._workers,
                                                           thread_name_prefix=f"lambdalab-sqs-{mapping.uuid[:8]}")
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._batches = {}             # batch id -> batch in flight (lab time: started, not ended)
        self._running = {}             # message id -> how many in-flight batches hold it
        self._held = {}                # message id -> the delivery the poller holds invisible
        self._open = None              # a batch gathering in its batching window
        self._carry = []               # received past a full batch (6 MB): the next batch's head
        self._next = None              # the ScheduledCall of the next poll
        self._scale = float(SQS_POLLER_START_BATCHES)
        self._scaled_at = None         # lab time of the last busy poll (the ramp grows between them)
        self._idle = 0                 # empty polls in a row
        self._quiet = True             # the last poll found nothing (its record is written once)
        self._seen_length = None
        self._gone = False
        self._stopped = True
        self._closed = False
        self._stop_observing = None
        self._typical_ms = None        # the function's recent billed duration (moving average)

    # -- life ---------------------------------------------------------------------------------------
    @property
    def stopped(self):
        return self._stopped

    @property
    def concurrency(self):
        """How many batches the mapping may have in flight now (its scale-out)."""
        return int(self._scale)

    @property
    def in_flight(self):
        with self._lock:
            return len(self._batches)

    def start(self):
        with self._lock:
            if self._closed or not self._stopped:
                return
            self._stopped = False
        self._stop_observing = self._context.aws.observe(self._on_call)
        self._schedule(0.0)

    def stop(self):
        """Stop polling. Batches in flight end as usual; held messages come back after their
        visibility timeout."""
        with self._lock:
            self._stopped = True
            call, self._next = self._next, None
            self._open, self._carry = None, []
        if call is not None:
            call.cancel()
        stop, self._stop_observing = self._stop_observing, None
        if stop is not None:
            stop()

    def update(self, mapping):
        self._schedule(0.0)

    def close(self):
        self.stop()
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- when to poll ---------------------------------------------------------------------------------
    def _on_call(self, call):
        """Any AWS call through the endpoint may have put a message on the queue (a SendMessage, an
        S3 notification, an SNS delivery...): poll now if the queue grew or the call named it."""
        if self._stopped or not call.ok:
            return
        queue = self.queue.moto()
        if queue is None:
            return
        if len(queue._messages) != self._seen_length or (call.service == "sqs" and (
                self.queue.name in call.path or self.queue.name.encode() in call.body)):
            self._schedule(0.0)

    def _schedule(self, delay):
        with self._lock:
            if self._stopped:
                return
            when = self._clock.now() + max(0.0, delay)
            if self._next is not None and not self._next.cancelled and self._next.when <= when:
                return
            if self._next is not None:
                self._next.cancel()
            self._next = self._clock.call_at(when, self._poll, name=f"poll SQS mapping {self.mapping.uuid}")

    # -- a poll -------------------------------------------------------------------------------------
    def _concurrency(self, now, settings, busy):
        cap = SQS_POLLER_MAX_BATCHES
        maximum = (settings.get("ScalingConfig") or {}).get("MaximumConcurrency")
        if maximum:
            cap = min(cap, maximum)
        cap = min(cap, max(1, int(getattr(self._context.service, "account_concurrency", cap))))
        if not self._clock.virtual:
            cap = min(cap, self._workers)
        if busy and self._scaled_at is not None:
            self._scale += SQS_POLLER_SCALE_UP_PER_MINUTE * max(0.0, now - self._scaled_at) / 60.0
        self._scaled_at = now if busy else None
        self._scale = min(float(cap), self._scale)
        return max(1, int(self._scale))

    def _poll(self):
        started = []
        with self._lock:
            self._next = None
            if self._stopped:
                return
            now = self._clock.now()
            settings = self.queue.settings()
            if settings is None:
                if not self._gone:
                    self._record.append("poll", self.mapping.function_name, None, mapping=self.mapping.uuid,
                                        source="sqs", queue=self.queue.arn, received=0,
                                        error=NON_EXISTENT_QUEUE)
                self._gone = True
                self._schedule(IDLE_BACKOFF_S[-1])
                return
            self._gone = False
            config = self.mapping.settings
            window = config["MaximumBatchingWindowInSeconds"]
            busy = settings.length > len(self._held) or bool(self._carry)
            capacity = self._concurrency(now, config, busy)
            received = dry = False
            while len(self._batches) < capacity:          # _begin() counts a started batch in
                batch = self._open or _Batch(next(self._ids), now + window)
                self._open = None
                before = len(batch.deliveries)
                dry = self._fill(batch, now, settings, config)
                received |= len(batch.deliveries) > before
                batch.drop_returned()
                if not batch.deliveries:
                    break
                if batch.full or window == 0 or now >= batch.deadline:
                    self._begin(batch, now)
                    started.append(batch)
                    if dry:
                        break
                else:
                    self._open = batch
                    break
            if not received and not self._batches and not started and self._open is None:
                self._scale = float(SQS_POLLER_START_BATCHES)     # traffic is low: back to five
            self._idle = 0 if received else self._idle + 1
            queue = self.queue.moto()
            self._seen_length = len(queue._messages) if queue is not None else None
            if self._open is not None:
                self._schedule(min(max(0.0, self._open.deadline - now), WINDOW_POLL_S))
            elif dry or not received:
                if not self._clock.virtual:
                    self._schedule(IDLE_BACKOFF_S[min(self._idle, len(IDLE_BACKOFF_S) - 1)])
                elif (self._seen_length or 0) > len(self._held):
                    # Messages the poller does not hold (delayed, or another consumer's in flight)
                    # become visible on moto's wall clock: look again as a long poll would.
                    self._schedule(IDLE_BACKOFF_S[-1])
            # else every slot is busy: the end of a batch polls again
        self._run(started)

    def _fill(self, batch, now, settings, config):
        """Receive into ``batch`` until it is full; True when the queue ran dry on the way."""
        size = config["BatchSize"]
        while self._carry and not batch.full and len(batch.deliveries) < size:
            delivery = self._carry.pop(0)
            if delivery.state == "held":
                batch.add(delivery)
        while not batch.full and len(batch.deliveries) < size:
            want = min(SQS_RECEIVE_MAX_MESSAGES, size - len(batch.deliveries))
            deliveries, moved = self.queue.receive(want, settings)
            self._received(deliveries, moved, now, settings)
            for delivery in deliveries:
                if not batch.full and batch.fits(delivery):
                    batch.add(delivery)
                else:
                    batch.full = True
                    self._carry.append(delivery)
            if len(deliveries) < want:
                return True
        batch.full = batch.full or len(batch.deliveries) >= size
        return False

    def _received(self, deliveries, moved, now, settings):
        mapping = self.mapping
        for message in moved:
            self._held.pop(message.id, None)
            self._record.append("redrive", mapping.function_name, None, mapping=mapping.uuid, source="sqs",
                                queue=self.queue.arn, message_id=message.id,
                                receive_count=message.approximate_receive_count,
                                max_receive_count=settings.max_receive_count,
                                dead_letter_queue=settings.dead_letter_queue.queue_arn)
        if deliveries or moved or not self._quiet:
            self._record.append("poll", mapping.function_name, None, mapping=mapping.uuid, source="sqs",
                                queue=self.queue.arn, received=len(deliveries), redriven=len(moved),
                                message_ids=[d.message_id for d in deliveries], concurrency=int(self._scale),
                                in_flight=len(self._batches))
        self._quiet = not deliveries and not moved
        if not deliveries:
            return
        group = _Group(deliveries)
        for delivery in deliveries:
            delivery.received_at, delivery.visibility, delivery.group = now, settings.visibility_timeout, group
            self._held[delivery.message_id] = delivery
            if self._running.get(delivery.message_id):
                self._record.append("duplicate", mapping.function_name, None, mapping=mapping.uuid, source="sqs",
                                    message_id=delivery.message_id, receive_count=delivery.receive_count)
        group.call = self._clock.call_at(now + settings.visibility_timeout, self._release, group,
                                         name=f"visibility timeout, SQS mapping {mapping.uuid}")

    def _begin(self, batch, now):
        batch.started_at = now
        batch.attempt += 1
        if batch.id not in self._batches:
            self._batches[batch.id] = batch
            for delivery in batch.deliveries:
                self._running[delivery.message_id] = self._running.get(delivery.message_id, 0) + 1

    def _finish(self, batch):
        if self._batches.pop(batch.id, None) is None:
            return
        for delivery in batch.deliveries:
            left = self._running.get(delivery.message_id, 0) - 1
            if left > 0:
                self._running[delivery.message_id] = left
            else:
                self._running.pop(delivery.message_id, None)

    # -- invoking -----------------------------------------------------------------------------------
    def _run(self, batches):
        if not batches:
            return
        virtual = self._clock.virtual
        # On a virtual clock the polling thread waits anyway: it runs the first batch itself, and all of
        # them when the function answers within a couple of milliseconds (the work is then mostly this
        # process's own, where threads only contend for the interpreter); slower functions and cold
        # starts spend their time in the sandbox, and run in parallel.
        inline = virtual and self._typical_ms is not None and self._typical_ms <= INLINE_BELOW_MS
        here, there = (batches[0], batches[1:]) if virtual else (None, batches)
        if inline:
            here, there = None, []
        try:
            futures = [(batch, self._pool.submit(self._invoke, batch)) for batch in there]
        except RuntimeError:              # the lab is closing
            with self._lock:
                for batch in batches:
                    self._finish(batch)
            return
        if virtual:
            # The lab clock waits for the functions; each batch ends at its start + its duration.
            if inline:
                ended = [(batch, self._invoke(batch)) for batch in batches]
            else:
                ended = [(here, self._invoke(here))] + [(batch, future.result()) for batch, future in futures]
            for batch, outcome in ended:
                self._clock.call_at(batch.started_at + outcome.duration_s, self._complete, batch, outcome,
                                    name=f"end of SQS batch {batch.id}, mapping {self.mapping.uuid}")
        else:
            for batch, future in futures:
                future.add_done_callback(lambda f, b=batch: self._ended(b, f))

    def _ended(self, batch, future):
        """The real clock's end of a batch, in the worker's thread (nothing there reports an error)."""
        try:
            if not future.cancelled():    # cancelled: the lab closed before it ran
                self._complete(batch, future.result())
                return
        except Exception:
            import traceback
            print(f"lambdalab: the SQS poller of mapping {self.mapping.uuid} failed to end a batch:\n"
                  f"{traceback.format_exc()}", file=sys.stderr)
        with self._lock:                  # its messages come back after their visibility timeout
            self._finish(batch)

    def _stop_recursion(self, batch):
        """Messages that a recursive loop has already sent through the function 16 times are not
        handed over again (``lambdalab_ext.recursion``): they go to the queue's dead-letter queue if it
        has one, else they are dropped (AWS documents only the first case: the lab's choice)."""
        config = self._context.service.get(self.mapping.function_name).config
        if config.recursive_loop == "Allow":
            return
        def depth(delivery):    # of the invocation this message would cause
            upstream = recursion.depth_of(delivery.trace_header)
            return None if upstream is None else upstream + 1

        stopped = [d for d in batch.deliveries if recursion.stops(depth(d))]
        if not stopped:
            return
        settings = self.queue.settings()
        dlq = settings.dead_letter_queue if settings is not None else None
        if dlq is not None:
            gone = self.queue.move_to_dead_letter_queue(stopped, dlq)
        else:
            gone = self.queue.delete(stopped)
        self._mark_deleted(gone)
        ids = {id(d) for d in stopped}
        batch.deliveries = [d for d in batch.deliveries if id(d) not in ids]
        for delivery in gone:
            self._context.service.recursion_stopped(
                self.mapping.function_name, None, source="sqs", source_arn=self.queue.arn,
                message_id=delivery.message_id, depth=depth(delivery), sent_to="dlq" if dlq is not None else None)

    def _invoke(self, batch):
        mapping = self.mapping
        self._stop_recursion(batch)
        if not batch.deliveries:
            return _Outcome("success", None)
        # The deepest message's trace carries the loop on (a message a function sent has its trace).
        traces = [d.trace_header for d in batch.deliveries]
        trace = max(traces, key=lambda t: -1 if recursion.depth_of(t) is None else recursion.depth_of(t))
        request = InvocationRequest.caused_by(trace, mapping.function_name, batch.payload(),
                                              source="sqs", source_arn=self.queue.arn)
        batch.request_id = request.request_id
        try:
            # The payload is json.dumps' own and under the 6 MB limit (_Batch.fits): already checked.
            result = self._context.service.invoke_request(request, checked=True)
        except TooManyRequestsException as exc:
            return _Outcome("throttled", request.request_id, reason=exc.details.get("Reason"))
        except ResourceNotFoundException as exc:
            return _Outcome("function_not_found", request.request_id, reason=exc.message)
        except LabClosedError:
            return _Outcome("closed", request.request_id)
        except LambdaServiceError as exc:
            return _Outcome("error", request.request_id, reason=f"{exc.error_type}: {exc.message}")
        except Exception as exc:          # a bug must not lose the batch: it returns after its timeout
            return _Outcome("error", request.request_id, reason=f"{type(exc).__name__}: {exc}")
        # The batch lasts what Lambda bills for it (whole milliseconds, INIT included on demand).
        billed = result.billed_duration_ms or 0
        duration = billed / 1000.0
        typical = self._typical_ms
        self._typical_ms = billed if typical is None else 0.8 * typical + 0.2 * billed
        if result.error is not None:
            return _Outcome("function_error", request.request_id, result=result, duration_s=duration,
                            reason=str(result.error.get("errorType")))
        if REPORT_BATCH_ITEM_FAILURES in mapping.settings["FunctionResponseTypes"]:
            failed, problem, identifiers = parse_batch_item_failures(
                result.raw_payload, {d.message_id for d in batch.deliveries})
            if problem:
                return _Outcome("invalid_response", request.request_id, result=result, duration_s=duration,
                                reason=problem, identifiers=identifiers or [])
            if failed:
                return _Outcome("partial", request.request_id, result=result, duration_s=duration, failed=failed,
                                identifiers=identifiers)
            return _Outcome("success", request.request_id, result=result, duration_s=duration, identifiers=[])
        return _Outcome("success", request.request_id, result=result, duration_s=duration)

    def _complete(self, batch, outcome):
        """A batch ended (on the lab clock): delete what succeeded, or retry a throttle."""
        mapping = self.mapping
        now = self._clock.now()
        rbif = REPORT_BATCH_ITEM_FAILURES in mapping.settings["FunctionResponseTypes"]
        base = dict(mapping=mapping.uuid, source="sqs", queue=self.queue.arn, size=len(batch.deliveries),
                    bytes=batch.bytes, attempt=batch.attempt)
        if outcome.kind == "throttled":
            delay = THROTTLE_RETRY_FIRST_S * 2 ** (batch.attempt - 1)
            with self._lock:
                live = [d for d in batch.deliveries if d.state == "held"]
                expires = min((d.received_at + d.visibility for d in live), default=now)
                retry = bool(live) and not self._stopped and now + delay < expires
                if not retry:
                    self._finish(batch)
                    if not rbif:
                        self._scale = max(float(SQS_POLLER_MIN_BATCHES), self._scale / 2)
            self._record.append("batch", mapping.function_name, outcome.request_id, outcome="throttled",
                                reason=outcome.reason, retry_at=now + delay if retry else None,
                                returned=[d.message_id for d in batch.deliveries][:RECORD_IDS_MAX] if not retry else [],
                                deleted=[], **base)
            if retry:
                self._clock.call_at(now + delay, self._retry, batch,
                                    name=f"retry throttled SQS batch {batch.id}, mapping {mapping.uuid}")
            else:
                self._schedule(0.0)
            return
        with self._lock:
            self._finish(batch)
        if outcome.kind == "success":
            wanted = batch.deliveries
        elif outcome.kind == "partial":
            wanted = [d for d in batch.deliveries if d.message_id not in outcome.failed]
        else:
            wanted = []
        deleted = self.queue.delete(wanted)
        self._mark_deleted(deleted)
        with self._lock:
            if outcome.kind not in ("success", "partial", "closed") and not rbif:
                self._scale = max(float(SQS_POLLER_MIN_BATCHES), self._scale / 2)
        gone = set(map(id, deleted))
        result = outcome.result
        self._record.append(
            "batch", mapping.function_name, outcome.request_id, outcome=outcome.kind, reason=outcome.reason,
            deleted=[d.message_id for d in deleted][:RECORD_IDS_MAX],
            returned=[d.message_id for d in batch.deliveries if id(d) not in gone][:RECORD_IDS_MAX],
            stale=len(wanted) - len(deleted), duration_ms=result.duration_ms if result is not None else None,
            started_at=batch.started_at, **base)
        if outcome.identifiers is not None and (outcome.identifiers or outcome.kind != "success"):
            self._record.append("batch_item_failures", mapping.function_name, outcome.request_id,
                                mapping=mapping.uuid, source="sqs", item_identifiers=outcome.identifiers,
                                count=len(outcome.identifiers), valid=outcome.kind == "partial",
                                reason=outcome.reason)
        if outcome.kind == "closed":
            return
        # Lambda backs off after a failed batch (not with ReportBatchItemFailures, "Handling errors").
        self._schedule(0.0 if rbif or outcome.kind in ("success", "partial") else FAILURE_BACKOFF_S)

    def _mark_deleted(self, deleted):
        with self._lock:
            for delivery in deleted:
                delivery.state = "deleted"
                if self._held.get(delivery.message_id) is delivery:
                    del self._held[delivery.message_id]
                group = delivery.group
                group.live -= 1
                if group.live == 0 and group.call is not None:
                    group.call.cancel()

    def _retry(self, batch):
        with self._lock:
            live = [d for d in batch.deliveries if d.state == "held"]
            if self._stopped or not live:
                self._finish(batch)
                return
            if len(live) != len(batch.deliveries):
                batch.drop_returned()
            self._begin(batch, self._clock.now())
        self._run([batch])

    def _release(self, group):
        """A receive's visibility timeout ended: what the poller still holds is visible again."""
        with self._lock:
            live = [d for d in group.deliveries if d.state == "held"]
            for delivery in live:
                delivery.state = "released"
                if self._held.get(delivery.message_id) is delivery:
                    del self._held[delivery.message_id]
        if live:
            self.queue.release(live)
            self._schedule(0.0)


# -- the SQS kind of event source ---------------------------------------------------------------------
class SQSSource(SourceKind):
    """SQS queues as an event source: settings, their checks, the poller."""

    name = "sqs"
    settings_names = ("BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig",
                      "FilterCriteria")

    def matches(self, arn):
        return parse_queue_arn(arn) is not None

    def validate(self, settings, arn, context, function):
        """Lambda's checks of an SQS mapping (CreateEventSourceMapping, "Creating and configuring an
        Amazon SQS event source mapping"); the messages are AWS's where AWS's are on record."""
        queue = EmbeddedQueue(arn).moto()
        if queue is None:
            raise InvalidParameterValueException(NON_EXISTENT_QUEUE)
        if settings.get("FilterCriteria"):
            raise InvalidParameterValueException(
                "lambdalab does not apply FilterCriteria to SQS event sources yet: filter in the function.")
        settings = {"BatchSize": SQS_BATCH_SIZE_DEFAULT, "MaximumBatchingWindowInSeconds": 0,
                    "FunctionResponseTypes": [], **settings}
        settings.pop("FilterCriteria", None)
        batch_size = whole_number(settings, "BatchSize", 1, SQS_BATCH_SIZE_MAX)
        window = whole_number(settings, "MaximumBatchingWindowInSeconds", 0, BATCHING_WINDOW_MAX_S)
        if queue.fifo_queue:
            if window:
                raise InvalidParameterValueException("Batching window is not supported for FIFO queues")
            if batch_size > SQS_FIFO_BATCH_SIZE_MAX:
                # The documented limit ("For FIFO queues, the maximum is 10"); the wording is the lab's.
                raise InvalidParameterValueException(
                    f"BatchSize {batch_size} is too large for a FIFO queue: the maximum is {SQS_FIFO_BATCH_SIZE_MAX}.")
        elif batch_size > SQS_RECEIVE_MAX_MESSAGES and window < 1:
            raise InvalidParameterValueException(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
        types = settings["FunctionResponseTypes"]
        if not isinstance(types, (list, tuple)) or any(t != REPORT_BATCH_ITEM_FAILURES for t in types):
            raise constraint(f"[{', '.join(map(str, types)) if isinstance(types, (list, tuple)) else types}]",
                             "functionResponseTypes",
                             f"Member must satisfy constraint: [Member must satisfy enum value set: "
                             f"[{REPORT_BATCH_ITEM_FAILURES}]]")
        settings["FunctionResponseTypes"] = sorted(set(types))
        scaling = settings.pop("ScalingConfig", None)
        if scaling:                               # {} removes it, as the API says
            if not isinstance(scaling, dict) or set(scaling) - {"MaximumConcurrency"}:
                raise InvalidParameterValueException("ScalingConfig takes only MaximumConcurrency.")
            if scaling.get("MaximumConcurrency") is not None:
                values = {"MaximumConcurrency": scaling["MaximumConcurrency"]}
                try:
                    whole_number(values, "MaximumConcurrency", ESM_MAXIMUM_CONCURRENCY_MIN,
                                 ESM_MAXIMUM_CONCURRENCY_MAX)
                except LambdaServiceError as exc:
                    raise type(exc)(exc.message.replace("'maximumConcurrency'", "'scalingConfig.maximumConcurrency'"))
                settings["ScalingConfig"] = values
        visibility = int(queue.visibility_timeout)
        if function.timeout_s > visibility:
            raise InvalidParameterValueException(
                f"Queue visibility timeout: {visibility} seconds is less than Function timeout: "
                f"{function.timeout_s} seconds")
        return settings

    def fields(self, mapping):
        settings = mapping.settings
        fields = {"BatchSize": settings["BatchSize"], "FunctionResponseTypes": list(settings["FunctionResponseTypes"]),
                  "MaximumBatchingWindowInSeconds": settings["MaximumBatchingWindowInSeconds"]}
        if settings.get("ScalingConfig"):
            fields["ScalingConfig"] = dict(settings["ScalingConfig"])
        return fields

    def conflict(self, mapping, function_name):
        return ResourceConflictException(
            f'An event source mapping with SQS arn (" {mapping.event_source_arn} ") and function (" {function_name} ") '
            f"already exists. Please update or delete the existing mapping with UUID {mapping.uuid}")

    def state_transition_reason(self):
        return "USER_INITIATED"

    def poller(self, mapping, context):
        return SQSPoller(mapping, context)


SQS_SOURCE = register_source_kind(SQSSource())


# -- the trace header a message carries --------------------------------------------------------------
class TraceHeaders:
    """SQS keeps the ``X-Amzn-Trace-Id`` a SendMessage came with as the message's ``AWSTraceHeader``
    system attribute (inside Lambda the SDK always sends the function's): the poller hands it on to
    the invocation it causes, which is how a loop through a queue is counted. moto drops the header;
    this observer of the lab's endpoint puts it on moto's message."""

    def __init__(self, aws):
        self._stop = aws.observe(self._on_call)

    def close(self):
        self._stop()

    def _on_call(self, call):
        header = call.headers.get("x-amzn-trace-id")
        if not header or not call.ok or call.service != "sqs" or call.action not in ("SendMessage", "SendMessageBatch"):
            return
        request = call.json() or call.params
        url = request.get("QueueUrl") or ""
        parts = url.rstrip("/").split("/")
        if len(parts) < 2:
            return
        account, name = parts[-2], parts[-1]
        try:
            answer = json.loads(call.response_body or b"{}")
        except ValueError:   # the query protocol's XML answer
            import re
            ids = re.findall(rb"<MessageId>([^<]+)</MessageId>", call.response_body or b"")
            ids = {i.decode() for i in ids}
        else:
            ids = {answer["MessageId"]} if answer.get("MessageId") else \
                {entry.get("MessageId") for entry in answer.get("Successful") or []}
        queue = EmbeddedQueue(f"arn:aws:sqs:{call.region}:{account}:{name}").moto()
        if queue is None or not ids:
            return
        with queue._messages_lock:
            for message in reversed(queue._messages):   # the newest first: they were just sent
                if message.id in ids:
                    attributes = message.system_attributes if isinstance(message.system_attributes, dict) else {}
                    attributes.setdefault("AWSTraceHeader", {"StringValue": header, "DataType": "String"})
                    message.system_attributes = attributes
                    ids.discard(message.id)
                    if not ids:
                        break

"""Asynchronous invocation: the function's internal queue, retries, event age, destinations, DLQ.

What Lambda does with an ``InvocationType=Event`` request ("Invoking a Lambda function
asynchronously" and "Retaining records of asynchronous invocations" in the Lambda Developer Guide,
"Introducing new asynchronous invocation metrics for AWS Lambda" on the AWS Compute Blog):

- The request is accepted at once (HTTP 202, a request id) and queued; an event is at most 1 MB.
- A **function error** (an exception, a timeout, a runtime that died) is retried up to
  ``MaximumRetryAttempts`` times (0-2, default 2): about one minute after the first attempt, then
  two minutes after the second. All attempts share the request id.
- A **throttle** or a **system error** is retried with backoff, from 1 second up to 5 minutes
  between attempts, until the event is older than ``MaximumEventAgeInSeconds`` (60 s - 6 h,
  default 6 h). A function with reserved concurrency 0 gets no retries at all.
- An event that fails for good, or grows too old, goes to the **on-failure destination** (SQS, SNS,
  Lambda, EventBridge, or an S3 bucket: an object under ``aws/lambda/async/FUNCTION/``) as an
  invocation record, and to the **dead-letter queue** (SQS or SNS) as
  the event itself with ``RequestID``, ``ErrorCode`` and ``ErrorMessage`` attributes; with neither,
  it is discarded (recorded here, since on AWS it vanishes silently). A success goes to the
  **on-success destination**.
- Lambda's queue is eventually consistent and may deliver an event more than once; the lab can do so
  too (``duplicate_probability``, seeded) and records when it did.

Time: the first attempt starts at once; retry delays and the event's age run on the lab clock, so
on a ``VirtualClock``, ``clock.advance(6 * 3600)`` runs every due retry for real, in time order.
Lost on shutdown: events still queued when the lab stops are gone, as in any local tool;
``shutdown()`` says how many.
"""

import concurrent.futures
import dataclasses
import datetime
import json
import random
import threading
import time
import uuid

from .errors import (InvalidParameterValueException, RecursiveInvocationException, RequestEntityTooLargeException,
                     ResourceNotFoundException, TooManyRequestsException)
from .limits import (ASYNC_MAX_EVENT_AGE_S as MAX_EVENT_AGE_S, ASYNC_MAX_RETRY_ATTEMPTS as MAX_RETRY_ATTEMPTS,
                     ASYNC_MIN_EVENT_AGE_S as MIN_EVENT_AGE_S, ASYNC_REQUEST_MAX_BYTES,
                     ASYNC_RETRY_DELAYS_S as FUNCTION_ERROR_DELAYS_S, ASYNC_THROTTLE_BACKOFF_S)

THROTTLE_BACKOFF_FIRST_S, THROTTLE_BACKOFF_MAX_S = ASYNC_THROTTLE_BACKOFF_S


@dataclasses.dataclass(frozen=True)
class EventInvokeConfig:
    """``PutFunctionEventInvokeConfig``: retries, event age and destinations of one function."""

    maximum_retry_attempts: int = MAX_RETRY_ATTEMPTS
    maximum_event_age_s: int = MAX_EVENT_AGE_S
    on_success: str | None = None          # destination ARN
    on_failure: str | None = None

    def __post_init__(self):
        if not isinstance(self.maximum_retry_attempts, int) or not 0 <= self.maximum_retry_attempts <= 2:
            raise InvalidParameterValueException(
                f"MaximumRetryAttempts {self.maximum_retry_attempts!r} is out of range: Lambda accepts 0-2.")
        if not isinstance(self.maximum_event_age_s, int) or \
                not MIN_EVENT_AGE_S <= self.maximum_event_age_s <= MAX_EVENT_AGE_S:
            raise InvalidParameterValueException(
                f"MaximumEventAgeInSeconds {self.maximum_event_age_s!r} is out of range: Lambda accepts "
                f"{MIN_EVENT_AGE_S}-{MAX_EVENT_AGE_S:,}.")
        for which, arn in (("OnSuccess", self.on_success), ("OnFailure", self.on_failure)):
            service = destination_service(arn) if arn is not None else None
            if service == "s3" and which == "OnSuccess":
                raise InvalidParameterValueException(
                    f"The OnSuccess destination {arn!r} is not supported: an S3 bucket can only be an "
                    "OnFailure destination.")
            if arn is not None and service not in ("sqs", "sns", "lambda", "events", "s3"):
                raise InvalidParameterValueException(
                    f"The {which} destination {arn!r} is not supported: use an SQS queue, an SNS topic, a "
                    "Lambda function, an EventBridge event bus or (on failure) an S3 bucket ARN.")


def destination_service(arn):
    parts = str(arn).split(":")
    return parts[2] if len(parts) > 5 and parts[0] == "arn" else None


def _timestamp(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def record_key(prefix, epoch):
    """The key of an invocation record in an S3 destination, as Lambda names it: ``prefix`` is
    ``aws/lambda/async/FUNCTION`` for an asynchronous invocation ("Capturing records of Lambda
    asynchronous invocations") or ``aws/lambda/ESM-UUID/SHARD-ID`` for a stream's discarded batch
    ("Retaining discarded batch records"), then ``YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>``.

    >>> record_key("aws/lambda/async/orders", 0)[:-36]
    'aws/lambda/async/orders/1970/01/01/1970-01-01T00.00.00-'
    """
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return f"{prefix}/{moment:%Y/%m/%d}/{moment:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}"


def invocation_record(request, *, function_arn, condition, attempts, result=None, epoch):
    """The record a destination receives, as in the Developer Guide's example."""
    try:
        request_payload = json.loads(request.payload) if request.payload else None
    except ValueError:
        request_payload = request.payload.decode("utf-8", "replace")
    record = {
        "version": "1.0",
        "timestamp": _timestamp(epoch),
        "requestContext": {"requestId": request.request_id, "functionArn": f"{function_arn}:$LATEST",
                           "condition": condition, "approximateInvokeCount": attempts},
        "requestPayload": request_payload,
    }
    if result is not None:
        context = {"statusCode": 200, "executedVersion": "$LATEST"}
        if result.function_error:
            context["functionError"] = result.function_error
        record["responseContext"] = context
        record["responsePayload"] = result.payload
    return record


class AsyncQueue:
    """The asynchronous queue of every function of one lab.

    ``invoke(request)`` runs one attempt and returns an ``InvocationResult`` (raising
    ``TooManyRequestsException`` on a throttle); ``function(name)`` gives a function's current
    configuration (``reserved_concurrency``, ``event_invoke_config``, ``dead_letter_target_arn``);
    ``deliver(arn, message, attributes)`` sends to a destination or DLQ (raising if it cannot);
    ``record`` is the lab record; ``clock`` the lab clock.
    """

    def __init__(self, *, invoke, function, deliver, record, clock, function_arn, workers=8,
                 duplicate_probability=0.0, seed=None):
        self._invoke = invoke
        self._function = function
        self._deliver = deliver
        self._record = record
        self._clock = clock
        self._function_arn = function_arn
        self.duplicate_probability = float(duplicate_probability)
        self._random = random.Random(seed)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambdalab-async")
        self._lock = threading.Condition()
        self._pending = {}        # request id -> the scheduled call (or None while an attempt runs)
        self._running = 0
        self._closed = False

    # -- the Invoke API's Event type ----------------------------------------------------------------
    def submit(self, request):
        """Queue an event; returns its request id (what the 202 response carries)."""
        if len(request.payload) > ASYNC_REQUEST_MAX_BYTES:
            raise RequestEntityTooLargeException(
                f"{len(request.payload)} byte payload is too large for the Event invocation type "
                f"(limit {ASYNC_REQUEST_MAX_BYTES} bytes)")
        self._function(request.function_name)      # ResourceNotFoundException before accepting
        request.accepted_at = self._clock.now()
        self._record.append("accepted", request.function_name, request.request_id,
                            invocation_type="Event", source=request.source, size=len(request.payload))
        with self._lock:
            if self._closed:
                raise RuntimeError("the lab is shut down")
            self._pending[request.request_id] = None
        self._start(request)
        if self.duplicate_probability and self._random.random() < self.duplicate_probability:
            duplicate = dataclasses.replace(request)
            self._record.append("duplicate", request.function_name, request.request_id)
            self._start(duplicate, key=f"{request.request_id}#dup")
        return request.request_id

    # -- attempts ----------------------------------------------------------------------------------
    def _start(self, request, key=None):
        """Run an attempt now, off the caller's thread."""
        key = key or request.request_id
        with self._lock:
            if self._closed:
                return
            self._pending[key] = None
            self._running += 1
        self._pool.submit(self._run, request, key)

    def _later(self, delay, request, key):
        """Schedule an attempt on the lab clock. On a virtual clock it runs inside ``advance()``."""
        def due():
            with self._lock:
                if self._closed:
                    return
                self._running += 1
            if self._clock.virtual:
                self._run(request, key)
            else:
                self._pool.submit(self._run, request, key)
        # The event is pending before its call exists: on a virtual clock, an advance() in another
        # thread may run the call (and end the event) before call_later has even returned here.
        token = object()
        with self._lock:
            self._pending[key] = token
        call = self._clock.call_later(delay, due, name=f"async retry {request.function_name} {request.request_id}")
        with self._lock:
            if self._pending.get(key) is token:
                self._pending[key] = call

    def _run(self, request, key):
        try:
            self._attempt(request, key)
        except Exception as exc:   # a bug here must not lose the event silently
            self._record.append("delivery_failed", request.function_name, request.request_id,
                                stage="attempt", error=f"{type(exc).__name__}: {exc}")
            self._done(key)
        finally:
            with self._lock:
                self._running -= 1
                self._lock.notify_all()

    def _attempt(self, request, key):
        name = request.function_name
        try:
            config = self._function(name)
        except ResourceNotFoundException:
            self._record.append("exhausted", name, request.request_id, reason="function deleted")
            self._done(key)
            return
        settings = config.event_invoke_config or EventInvokeConfig()
        age = self._clock.now() - request.accepted_at
        if age > settings.maximum_event_age_s:
            self._fail(request, key, config, settings, "EventAgeExceeded", result=None,
                       error_code=429, message="Event age exceeded the function's MaximumEventAgeInSeconds")
            return
        if config.reserved_concurrency == 0:
            self._fail(request, key, config, settings, "ZeroReservedConcurrency", result=None,
                       error_code=429, message="The function's reserved concurrency is 0: no retries")
            return
        try:
            result = self._invoke(request)
        except RecursiveInvocationException as exc:
            # Stopped as a recursive loop: no retry; the event goes where failures go. AWS does not
            # document the destination record's condition for it: the lab writes this one.
            self._fail(request, key, config, settings, "RecursiveInvocationDetected", result=None,
                       error_code=400, message=str(exc))
            return
        except TooManyRequestsException as exc:
            # Throttled: retried with backoff (1 s doubling to 5 min) until the event is too old.
            delay = min(THROTTLE_BACKOFF_MAX_S, THROTTLE_BACKOFF_FIRST_S * 2 ** max(0, request.attempt - 1))
            self._record.append("attempt", name, request.request_id, attempt=request.attempt, status="throttled",
                                reason=exc.details.get("Reason"))
            if age + delay > settings.maximum_event_age_s:
                self._fail(request, key, config, settings, "EventAgeExceeded", result=None,
                           error_code=429, message=str(exc))
                return
            self._record.append("retry", name, request.request_id, attempt=request.attempt + 1,
                                due=self._clock.now() + delay, after="throttle")
            self._later(delay, request.retry(), key)
            return
        self._record.append("attempt", name, request.request_id, attempt=request.attempt, status=result.status,
                            error_type=(result.error or {}).get("errorType"), environment=result.environment_id,
                            cold=result.cold, duration_ms=result.duration_ms)
        if result.ok:
            if settings.on_success:
                record = invocation_record(request, function_arn=self._function_arn(name), condition="Success",
                                           attempts=request.attempt, result=result, epoch=result.end_time or 0)
                self._send(name, request, settings.on_success, record, None, "destination", condition="Success")
            self._done(key)
            return
        if request.attempt <= settings.maximum_retry_attempts:
            delay = FUNCTION_ERROR_DELAYS_S[min(request.attempt, len(FUNCTION_ERROR_DELAYS_S)) - 1]
            self._record.append("retry", name, request.request_id, attempt=request.attempt + 1,
                                due=self._clock.now() + delay, after="function error")
            self._later(delay, request.retry(), key)
            return
        error = result.error or {}
        self._fail(request, key, config, settings, "RetriesExhausted", result=result, error_code=200,
                   message=f"{error.get('errorType')}: {error.get('errorMessage')}")

    def _fail(self, request, key, config, settings, condition, *, result, error_code, message):
        name = request.function_name
        delivered = False
        if settings.on_failure:
            epoch = (result.end_time if result else 0) or time.time()
            record = invocation_record(request, function_arn=self._function_arn(name), condition=condition,
                                       attempts=request.attempt if result is not None else request.attempt - 1,
                                       result=result, epoch=epoch)
            object_key = record_key(f"aws/lambda/async/{name}", epoch) \
                if destination_service(settings.on_failure) == "s3" else None
            delivered |= self._send(name, request, settings.on_failure, record, None, "destination",
                                    condition=condition, key=object_key)
        dlq = getattr(config, "dead_letter_target_arn", None)
        if dlq:
            attributes = {"RequestID": ("String", request.request_id),
                          "ErrorCode": ("Number", str(error_code)),
                          "ErrorMessage": ("String", message.encode()[:1024].decode("utf-8", "ignore"))}
            delivered |= self._send(name, request, dlq, request.payload, attributes, "dlq", condition=condition)
        if not delivered:
            self._record.append("expired" if condition == "EventAgeExceeded" else "exhausted", name,
                                request.request_id, condition=condition, attempts=request.attempt)
        self._done(key)

    def _send(self, name, request, arn, message, attributes, kind, key=None, **details):
        try:
            if key is not None:
                self._deliver(arn, message, attributes, key=key)
                details["key"] = key
            else:
                self._deliver(arn, message, attributes)
        except Exception as exc:
            self._record.append("delivery_failed", name, request.request_id, target=arn,
                                error=f"{type(exc).__name__}: {exc}", via=kind, **details)
            return False
        self._record.append(kind, name, request.request_id, target=arn, **details)
        return True

    def _done(self, key):
        with self._lock:
            self._pending.pop(key, None)
            self._lock.notify_all()

    # -- state ---------------------------------------------------------------------------------------
    def pending(self):
        """Events accepted and not yet finished (running, or waiting for a retry)."""
        with self._lock:
            return len(self._pending)

    def wait_idle(self, timeout=None):
        """Wait until no attempt is running now (retries waiting on the clock may remain).

        Returns True when idle, False at the timeout.
        """
        with self._lock:
            return self._lock.wait_for(lambda: self._running == 0, timeout)

    def shutdown(self):
        """Stop; returns how many events were still queued (they are lost, as the docstring says)."""
        with self._lock:
            self._closed = True
            lost = len(self._pending)
            calls = [c for c in self._pending.values() if hasattr(c, "cancel")]
            self._pending.clear()
        for call in calls:
            call.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if lost:
            self._record.append("pending_lost", count=lost)
        return lost


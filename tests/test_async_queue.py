"""The asynchronous queue's rules, alone, on a virtual clock (the real-environment tests of the same
rules, on both backends, are in test_async_invoke.py)."""

import dataclasses
import json
import threading

import pytest

from lambdalab_ext.async_queue import AsyncQueue, EventInvokeConfig, invocation_record
from lambdalab_ext.clock import VirtualClock
from lambdalab_ext.errors import InvalidParameterValueException, RequestEntityTooLargeException, \
    TooManyRequestsException
from lambdalab_ext.record import LabRecord
from lambdalab_ext.request import InvocationRequest
from lambdalab_ext.result import InvocationResult


@dataclasses.dataclass
class Config:
    reserved_concurrency: int | None = None
    event_invoke_config: EventInvokeConfig | None = None
    dead_letter_target_arn: str | None = None


def _result(request, ok, clock):
    error = None if ok else {"errorType": "ValueError", "errorMessage": "boom"}
    return InvocationResult(function_name=request.function_name, request_id=request.request_id,
                            raw_payload=b'"done"' if ok else None, error=error,
                            function_error=None if ok else "Unhandled", status="success" if ok else "error",
                            cold=False, duration_ms=1.0, billed_duration_ms=1, init_duration_ms=None,
                            memory_size_mb=128, max_memory_used_mb=40, logs="", environment_id="e",
                            log_stream_name="s", end_time=1_700_000_000.0 + clock.now())


class Harness:
    def __init__(self, outcomes=None, config=None, **kwargs):
        self.clock = VirtualClock()
        self.record = LabRecord(clock=self.clock.now)
        self.config = config or Config()
        self.outcomes = outcomes or (lambda request: True)
        self.attempts = []
        self.delivered = []
        self.lock = threading.Lock()
        self.queue = AsyncQueue(invoke=self.invoke, function=lambda name: self.config, deliver=self.deliver,
                                record=self.record, clock=self.clock,
                                function_arn=lambda name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
                                **kwargs)

    def invoke(self, request):
        with self.lock:
            self.attempts.append((request.request_id, request.attempt, self.clock.now()))
        outcome = self.outcomes(request)
        if outcome == "throttle":
            raise TooManyRequestsException("Rate Exceeded.", Reason="ReservedFunctionConcurrentInvocationLimitExceeded")
        return _result(request, outcome, self.clock)

    def deliver(self, arn, message, attributes, key=None):
        if "broken" in arn:
            raise RuntimeError("no such queue")
        with self.lock:
            self.delivered.append((arn, message, attributes))

    def submit(self, payload=b'{"n": 1}', **kwargs):
        request = InvocationRequest.make("fn", payload, invocation_type="Event", **kwargs)
        request_id = self.queue.submit(request)
        assert self.queue.wait_idle(10)
        return request_id


def test_function_errors_are_retried_twice_after_one_and_two_minutes_then_dropped():
    h = Harness(outcomes=lambda r: False)
    rid = h.submit()
    assert [a[1:] for a in h.attempts] == [(1, 0.0)]
    h.clock.advance(59)
    assert len(h.attempts) == 1
    h.clock.advance(1)
    h.clock.advance(3600)
    assert [a[1:] for a in h.attempts] == [(1, 0.0), (2, 60.0), (3, 180.0)]
    assert {a[0] for a in h.attempts} == {rid}              # one request id for every attempt
    assert h.record.count("exhausted") == 1 and h.queue.pending() == 0


def test_retry_attempts_zero_and_the_dead_letter_queue_gets_the_event_as_is():
    dlq = "arn:aws:sqs:us-east-1:123456789012:dlq"
    h = Harness(outcomes=lambda r: False,
                config=Config(event_invoke_config=EventInvokeConfig(maximum_retry_attempts=0),
                              dead_letter_target_arn=dlq))
    rid = h.submit(b'{"order": 7}')
    assert len(h.attempts) == 1
    (arn, message, attributes), = h.delivered
    assert arn == dlq and message == b'{"order": 7}'
    assert attributes["RequestID"] == ("String", rid)
    assert attributes["ErrorCode"] == ("Number", "200")
    assert attributes["ErrorMessage"][1] == "ValueError: boom"
    assert h.record.count("dlq") == 1


def test_on_failure_and_on_success_destinations_get_aws_record():
    failure, success = "arn:aws:sqs:us-east-1:123456789012:failed", "arn:aws:sns:us-east-1:123456789012:ok"
    settings = EventInvokeConfig(maximum_retry_attempts=1, on_success=success, on_failure=failure)
    h = Harness(outcomes=lambda r: json.loads(r.payload)["ok"], config=Config(event_invoke_config=settings))
    good = h.submit(b'{"ok": true}')
    bad = h.submit(b'{"ok": false}')
    h.clock.advance(600)
    records = {arn: message for arn, message, _ in h.delivered}
    ok, failed = records[success], records[failure]
    assert ok["requestContext"] == {"requestId": good, "condition": "Success", "approximateInvokeCount": 1,
                                    "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST"}
    assert ok["responsePayload"] == "done" and ok["requestPayload"] == {"ok": True}
    assert ok["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert failed["requestContext"]["condition"] == "RetriesExhausted"
    assert failed["requestContext"]["requestId"] == bad
    assert failed["requestContext"]["approximateInvokeCount"] == 2
    assert failed["responseContext"]["functionError"] == "Unhandled"
    assert failed["version"] == "1.0" and failed["timestamp"].endswith("Z")


def test_throttles_back_off_from_one_second_to_five_minutes_until_the_event_is_too_old():
    h = Harness(outcomes=lambda r: "throttle",
                config=Config(event_invoke_config=EventInvokeConfig(maximum_event_age_s=3600,
                                                                     on_failure="arn:aws:sqs:us-east-1:1:f")))
    h.submit()
    h.clock.advance(7200)
    times = [t for _, _, t in h.attempts]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps[:4] == [1.0, 2.0, 4.0, 8.0] and max(gaps) == 300.0
    assert times[-1] <= 3600
    (_, record, _), = h.delivered
    assert record["requestContext"]["condition"] == "EventAgeExceeded"


def test_reserved_concurrency_zero_sends_the_event_to_failure_without_any_attempt():
    h = Harness(config=Config(reserved_concurrency=0, dead_letter_target_arn="arn:aws:sqs:us-east-1:1:dlq"))
    h.submit()
    assert h.attempts == [] and len(h.delivered) == 1


def test_an_event_past_its_age_is_not_attempted():
    h = Harness(outcomes=lambda r: False, config=Config(event_invoke_config=EventInvokeConfig(maximum_event_age_s=90)))
    h.submit()
    h.clock.advance(3600)
    assert [a[1] for a in h.attempts] == [1, 2]             # the third would be at 180 s > 90 s
    assert h.record.count("expired") == 1


def test_a_destination_that_cannot_take_it_is_recorded_not_lost():
    h = Harness(outcomes=lambda r: False,
                config=Config(event_invoke_config=EventInvokeConfig(maximum_retry_attempts=0,
                                                                    on_failure="arn:aws:sqs:us-east-1:1:broken")))
    h.submit()
    assert h.record.count("delivery_failed") == 1 and h.record.count("exhausted") == 1


def test_limits_and_configuration_are_lambdas():
    h = Harness()
    with pytest.raises(RequestEntityTooLargeException):
        h.queue.submit(InvocationRequest.make("fn", b"x" * (1024 * 1024 + 1), invocation_type="Event"))
    for bad in ({"maximum_retry_attempts": 3}, {"maximum_event_age_s": 59}, {"maximum_event_age_s": 21601},
                {"on_success": "arn:aws:s3:::bucket"},    # S3 takes failures only
                {"on_failure": "arn:aws:kinesis:us-east-1:123456789012:stream/s"}):
        with pytest.raises(InvalidParameterValueException):
            EventInvokeConfig(**bad)


def test_duplicates_happen_when_asked_and_are_recorded():
    h = Harness(duplicate_probability=1.0, seed=1)
    h.submit()
    assert len(h.attempts) == 2 and h.record.count("duplicate") == 1


def test_shutdown_reports_what_was_still_queued():
    h = Harness(outcomes=lambda r: False)
    h.submit()
    h.submit()
    assert h.queue.shutdown() == 2
    h.clock.advance(3600)
    assert len(h.attempts) == 2                             # nothing ran after shutdown


def test_invocation_record_of_a_failed_event():
    request = InvocationRequest.make("fn", b'{"a": 1}', invocation_type="Event")
    record = invocation_record(request, function_arn="arn:aws:lambda:us-east-1:1:function:fn",
                               condition="EventAgeExceeded", attempts=0, epoch=0)
    assert set(record) == {"version", "timestamp", "requestContext", "requestPayload"}
    assert record["timestamp"] == "1970-01-01T00:00:00.000Z"


def test_an_event_that_went_to_its_destination_is_no_longer_pending():
    # The record's S3 object key must not be confused with the event's own key (it was: the event
    # stayed pending, and was reported lost at shutdown).
    for target in ("arn:aws:sqs:us-east-1:123456789012:failures", "arn:aws:s3:::failures"):
        h = Harness(outcomes=lambda r: False,
                    config=Config(event_invoke_config=EventInvokeConfig(maximum_retry_attempts=0, on_failure=target)))
        h.submit()
        assert h.record.count("destination") == 1
        assert h.queue.pending() == 0 and h.queue.shutdown() == 0

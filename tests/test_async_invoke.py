"""Asynchronous invocation on real environments, both backends: retries at their moments on a virtual
clock, destinations and the dead-letter queue on the embedded SQS, and nothing lost."""

import collections
import json

import pytest

from lambdalab_ext import VirtualClock

FLAKY = """
import random
rng = random.Random(2024)          # seeded: the same environment fails the same attempts
def handler(event, context):
    if rng.random() < 0.3:
        raise RuntimeError("flaky")
    return {"n": event["n"]}
"""


def _queue(aws, name):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn


def _drain(sqs, url):
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                    WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return messages
        messages += batch
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(batch)])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["docker", "process"])
def test_a_thousand_events_with_random_failures_end_exactly_once(kind, make_lab):
    lab = make_lab(kind, clock=VirtualClock())
    sqs, url, dlq = _queue(lab.aws, f"dlq-{kind}")
    fn = lab.deploy("flaky", FLAKY, memory_mb=256, timeout_s=10, dead_letter_target_arn=dlq)
    accepted = [fn.invoke({"n": n}, invocation_type="Event") for n in range(1000)]
    assert {a.status_code for a in accepted} == {202}
    ids = {a.request_id for a in accepted}
    assert len(ids) == 1000
    assert lab.async_queue.wait_idle(600)       # every first attempt has run, at virtual time 0
    lab.clock.advance(6 * 3600)                 # every retry, at its moment
    assert lab.async_queue.wait_idle(600) and lab.async_queue.pending() == 0

    succeeded = {e.request_id for e in lab.record.events(kind="attempt", function="flaky")
                 if e["status"] == "success"}
    in_dlq = [m for m in _drain(sqs, url)]
    dlq_ids = [m["MessageAttributes"]["RequestID"]["StringValue"] for m in in_dlq]
    dropped = {e.request_id for e in lab.record.events(kind={"expired", "exhausted"}, function="flaky")}
    assert len(dlq_ids) == len(set(dlq_ids))                  # each at most once in the DLQ
    assert succeeded.isdisjoint(dlq_ids) and dropped.isdisjoint(dlq_ids) and dropped.isdisjoint(succeeded)
    assert len(succeeded) + len(dlq_ids) + len(dropped) == 1000
    assert succeeded | set(dlq_ids) | dropped == ids
    assert dropped == set()                                   # a DLQ took every failure
    # 0.3 ** 3 of them fail all three attempts: about 27 of 1,000.
    assert 5 <= len(dlq_ids) <= 60

    # The DLQ has the event as it was sent, with Lambda's three attributes.
    sample = in_dlq[0]
    assert set(json.loads(sample["Body"])) == {"n"}
    attributes = sample["MessageAttributes"]
    assert attributes["ErrorCode"]["DataType"] == "Number"
    assert attributes["ErrorMessage"]["StringValue"] == "RuntimeError: flaky"

    # Retry times follow the rules: the second attempt 60 s after the first, the third 120 s later.
    attempts = collections.defaultdict(list)
    for e in lab.record.events(kind="attempt", function="flaky"):
        attempts[e.request_id].append((e["attempt"], e.at))
    for request_id, seen in attempts.items():
        times = dict(seen)
        assert sorted(times) == list(range(1, len(seen) + 1))
        if 2 in times:
            assert times[2] - times[1] == 60.0
        if 3 in times:
            assert times[3] - times[2] == 120.0
        assert len(seen) == 3 or request_id in succeeded
    assert sum(len(seen) for seen in attempts.values()) == lab.record.count("invoke", function="flaky")


@pytest.mark.parametrize("kind", ["docker", "process"])
def test_destinations_receive_lambdas_records(kind, make_lab):
    lab = make_lab(kind, clock=VirtualClock())
    sqs, ok_url, ok_arn = _queue(lab.aws, f"ok-{kind}")
    _, failed_url, failed_arn = _queue(lab.aws, f"failed-{kind}")
    fn = lab.deploy("judge", "def handler(event, context):\n    if not event['ok']:\n        raise ValueError('bad')\n"
                             "    return 'fine'\n", memory_mb=256)
    fn.put_event_invoke_config(maximum_retry_attempts=1, on_success=ok_arn, on_failure=failed_arn)
    good = fn.invoke({"ok": True}, invocation_type="Event")
    bad = fn.invoke({"ok": False}, invocation_type="Event")
    assert lab.async_queue.wait_idle(120)
    lab.clock.advance(600)
    assert lab.async_queue.wait_idle(120)
    success, = [json.loads(m["Body"]) for m in _drain(sqs, ok_url)]
    failure, = [json.loads(m["Body"]) for m in _drain(sqs, failed_url)]
    assert success["requestContext"]["requestId"] == good.request_id
    assert success["requestContext"]["condition"] == "Success"
    assert success["responsePayload"] == "fine" and success["requestPayload"] == {"ok": True}
    assert failure["requestContext"] == {
        "requestId": bad.request_id, "functionArn": f"{fn.arn}:$LATEST", "condition": "RetriesExhausted",
        "approximateInvokeCount": 2}
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert failure["responsePayload"]["errorType"] == "ValueError"


def test_an_s3_bucket_takes_failures_only_as_an_object_under_lambdas_key(make_lab):
    from lambdalab_ext import InvalidParameterValueException
    lab = make_lab("process", clock=VirtualClock())
    s3 = lab.aws.client("s3")
    s3.create_bucket(Bucket="async-failures")
    fn = lab.deploy("judge", "def handler(event, context):\n    raise ValueError('bad')\n", memory_mb=256)
    with pytest.raises(InvalidParameterValueException, match="only be an OnFailure destination"):
        fn.put_event_invoke_config(on_success="arn:aws:s3:::async-failures")
    fn.put_event_invoke_config(maximum_retry_attempts=0, on_failure="arn:aws:s3:::async-failures")
    bad = fn.invoke({"ok": False}, invocation_type="Event")
    assert lab.async_queue.wait_idle(120)
    [listed] = s3.list_objects_v2(Bucket="async-failures")["Contents"]
    # aws/lambda/async/<function-name>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>
    parts = listed["Key"].split("/")
    assert parts[:4] == ["aws", "lambda", "async", "judge"] and len(parts) == 8
    assert parts[7][:10] == "-".join(parts[4:7])
    record = json.loads(s3.get_object(Bucket="async-failures", Key=listed["Key"])["Body"].read())
    assert record["requestContext"]["requestId"] == bad.request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"ok": False} and record["responsePayload"]["errorType"] == "ValueError"


def test_shutdown_says_how_many_events_were_still_queued(make_lab, capsys):
    lab = make_lab("process", clock=VirtualClock())
    fn = lab.deploy("down", "def handler(e, c):\n    raise RuntimeError('x')\n")
    for n in range(3):
        fn.invoke({"n": n}, invocation_type="Event")
    assert lab.async_queue.wait_idle(120)      # each waits for its retry at +60 s
    assert lab.shutdown() == 3
    assert "3 asynchronous events were still queued and are lost" in capsys.readouterr().err


def test_asynchronous_limits_and_checks(make_lab):
    from lambdalab_ext import RequestEntityTooLargeException, ResourceNotFoundException
    lab = make_lab("process")
    fn = lab.deploy("small", "def handler(e, c):\n    return 1\n")
    with pytest.raises(RequestEntityTooLargeException):
        fn.invoke({"data": "x" * (1024 * 1024)}, invocation_type="Event")     # over 1 MB
    with pytest.raises(ResourceNotFoundException):
        lab.invoke("missing", {}, invocation_type="Event")
    dry = fn.invoke({}, invocation_type="DryRun")
    assert dry.status_code == 204 and lab.record.count("invoke") == 0

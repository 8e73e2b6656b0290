"""SQS event source mappings, as Lambda's poller runs them: batches and their events, the batching
window, whole-batch and partial failures, visibility-timeout duplicates, redrive to the DLQ, throttles,
maximum concurrency, FIFO order, the Lambda API through boto3, and nothing lost in 10,000 messages.
Real engine, real moto; the lab clock is virtual unless the test is about the real one."""

import collections
import hashlib
import json
import textwrap
import time

import botocore.exceptions
import pytest

from lambdalab_ext import VirtualClock
from lambdalab_ext.errors import InvalidParameterValueException
from lambdalab_ext.sources.mappings import ValidationException
from lambdalab_ext.sources.sqs import EmbeddedQueue, parse_batch_item_failures

FAST = 1769

# Writes every batch it gets to the "seen" queue, so that the test reads what the function was given.
RECORDER = textwrap.dedent("""
    import json, os, boto3
    sqs = boto3.client("sqs")
    SEEN = os.environ["SEEN_URL"]
    def handler(event, context):
        sqs.send_message(QueueUrl=SEEN, MessageBody=json.dumps(event))
        return None
""")


def _queue(aws, name, **attributes):
    sqs = aws.client("sqs")
    try:       # moto's queues outlive a lab: another test's queue of that name must not count
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist:
        pass
    url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn


def _counts(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def _drain(sqs, url, delete=True):
    """Every message now visible, through boto3 (the notebook's view of the queue)."""
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                  MessageAttributeNames=["All"], VisibilityTimeout=600).get("Messages", [])
        if not got:
            return out
        out += got
        if delete:
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                            for i, m in enumerate(got)])


def _seen(sqs, url):
    return [json.loads(m["Body"]) for m in _drain(sqs, url)]


def _batches(lab, function, **filters):
    return [e for e in lab.record.events(kind="batch", function=function)
            if all(e.get(k) == v for k, v in filters.items())]


def _recorder(lab, name="recorder", **options):
    sqs, seen_url, _ = _queue(lab.aws, f"seen-{name}")
    fn = lab.deploy(name, RECORDER, memory_mb=FAST, timeout_s=10, env={"SEEN_URL": seen_url}, **options)
    return fn, seen_url


# -- batches, events, the clock ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["docker", "process"])
def test_batches_carry_the_sqs_event_and_succeed_by_deletion(kind, make_lab):
    lab = make_lab(kind, clock=VirtualClock())
    sqs, url, arn = _queue(lab.aws, "orders")
    fn, seen_url = _recorder(lab)
    mapping = lab.create_event_source_mapping("recorder", arn, BatchSize=5)
    assert mapping["State"] == "Creating" and mapping["BatchSize"] == 5
    sent = {}
    for i in range(12):
        r = sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"order": i}),
                             MessageAttributes={"kind": {"DataType": "String", "StringValue": "book"},
                                                "qty": {"DataType": "Number", "StringValue": str(i)}})
        sent[r["MessageId"]] = r
    lab.clock.advance(30)
    batches = _batches(lab, "recorder")
    assert sorted(b["size"] for b in batches) == [2, 5, 5]
    assert {b["outcome"] for b in batches} == {"success"}
    assert _counts(sqs, url) == (0, 0)                            # success deletes the batch
    events = _seen(sqs, seen_url)
    records = [r for e in events for r in e["Records"]]
    assert sorted(r["messageId"] for r in records) == sorted(sent)
    record = records[0]
    assert list(record) == ["messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                            "md5OfMessageAttributes", "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"]
    assert list(record["attributes"]) == ["ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                          "ApproximateFirstReceiveTimestamp"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert int(record["attributes"]["ApproximateFirstReceiveTimestamp"]) >= int(record["attributes"]["SentTimestamp"])
    assert record["md5OfBody"] == sent[record["messageId"]]["MD5OfMessageBody"] == \
        hashlib.md5(record["body"].encode()).hexdigest()
    assert record["md5OfMessageAttributes"] == sent[record["messageId"]]["MD5OfMessageAttributes"]
    assert record["messageAttributes"]["kind"] == {"stringValue": "book", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == ("aws:sqs", arn, "us-east-1")
    invokes = lab.record.events(kind="invoke", function="recorder")
    assert {e["source"] for e in invokes} == {"sqs"} and len(invokes) == 3


def test_nothing_is_polled_until_the_lab_clock_moves(make_lab):
    """moto would invoke inside SendMessage (its own mappings); the lab keeps none in moto and polls
    only on the lab clock."""
    lab = make_lab("process", clock=VirtualClock())
    sqs, url, arn = _queue(lab.aws, "later")
    _recorder(lab)
    lab.create_event_source_mapping("recorder", arn)
    sqs.send_message(QueueUrl=url, MessageBody="now?")
    time.sleep(0.5)
    assert lab.record.count("batch") == 0 and lab.record.count("poll") == 0
    assert _counts(sqs, url) == (1, 0)
    assert EmbeddedQueue(arn).moto().lambda_event_source_mappings == {}
    lab.clock.advance(5)
    assert [b["outcome"] for b in _batches(lab, "recorder")] == ["success"]
    assert _counts(sqs, url) == (0, 0)


def test_a_batching_window_gathers_until_the_batch_is_full_or_the_window_ends(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    sqs, url, arn = _queue(lab.aws, "gather")
    _recorder(lab)
    lab.create_event_source_mapping("recorder", arn, BatchSize=20, MaximumBatchingWindowInSeconds=5)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"a{i}"} for i in range(7)])
    lab.clock.advance(3)
    assert _batches(lab, "recorder") == []                    # 7 of 20, 3 s into a 5 s window
    assert _counts(sqs, url) == (0, 7)                        # held by the poller meanwhile
    for start in (0, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{start + i}"}
                                                      for i in range(10)])
    lab.clock.advance(0.5)                                    # 27 there: a full batch of 20 goes at once
    first, = _batches(lab, "recorder")
    assert first["size"] == 20 and first["started_at"] == 3.0
    lab.clock.advance(10)                                     # the other 7 after their own window
    second = _batches(lab, "recorder")[1]
    assert second["size"] == 7 and second["started_at"] == pytest.approx(3.0 + 5, abs=1.0)
    assert _counts(sqs, url) == (0, 0)


def test_a_function_error_returns_the_whole_batch_after_the_visibility_timeout(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    sqs, url, arn = _queue(lab.aws, "strict", VisibilityTimeout=30)
    lab.deploy("strict", textwrap.dedent("""
        def handler(event, context):
            bodies = [r["body"] for r in event["Records"]]
            if "bad" in bodies and event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1":
                raise ValueError("cannot take " + repr(bodies))
            return {"took": bodies}
    """), memory_mb=FAST)
    lab.create_event_source_mapping("strict", arn)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": b, "MessageBody": b} for b in ("good1", "bad", "good2")])
    lab.clock.advance(29)
    failed, = _batches(lab, "strict")
    assert failed["outcome"] == "function_error" and failed["deleted"] == [] and len(failed["returned"]) == 3
    assert _counts(sqs, url) == (0, 3)                        # successes included: all invisible until 30 s
    lab.clock.advance(2)
    again = _batches(lab, "strict")[1]
    assert again["outcome"] == "success" and again["started_at"] == 30.0 and len(again["deleted"]) == 3
    result = lab.record.events(kind="invoke", function="strict")[-1]["result"]
    assert sorted(result.payload["took"]) == ["bad", "good1", "good2"]
    assert _counts(sqs, url) == (0, 0)


PARTIAL = textwrap.dedent("""
    def handler(event, context):
        record = event["Records"][0]
        body, me = record["body"], record["messageId"]
        if body == "raise":
            raise RuntimeError("uncaught")
        return {
            "empty-list": {"batchItemFailures": []}, "none": None, "null-list": {"batchItemFailures": None},
            "no-key": {"status": "fine"}, "self": {"batchItemFailures": [{"itemIdentifier": me}]},
            "unknown": {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
            "empty-id": {"batchItemFailures": [{"itemIdentifier": ""}]},
            "null-id": {"batchItemFailures": [{"itemIdentifier": None}]},
            "bad-key": {"batchItemFailures": [{"id": me}]},
            "not-object": "x" * 100000, "list": [1, 2],
        }[body]
""")


def test_report_batch_item_failures_follows_lambdas_rules(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    sqs, url, arn = _queue(lab.aws, "partial", VisibilityTimeout=60)
    lab.deploy("partial", PARTIAL, memory_mb=FAST)
    lab.create_event_source_mapping("partial", arn, BatchSize=1, FunctionResponseTypes=["ReportBatchItemFailures"])
    ok = ("empty-list", "none", "null-list", "no-key")
    back = ("self", "unknown", "empty-id", "null-id", "bad-key", "not-object", "list", "raise")
    ids = {}
    for body in ok + back:
        ids[sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"]] = body
    lab.clock.advance(30)
    outcome = {ids[b["deleted"][0] if b["deleted"] else b["returned"][0]]: b["outcome"]
               for b in _batches(lab, "partial")}
    assert outcome == {**{b: "success" for b in ok}, "self": "partial", "raise": "function_error",
                       **{b: "invalid_response" for b in back if b not in ("self", "raise")}}
    assert _counts(sqs, url) == (0, len(back))                # the failures come back at 60 s
    failures = {ids.get(e["item_identifiers"][0], e["item_identifiers"][0]) if e["item_identifiers"] else None:
                e["valid"] for e in lab.record.events(kind="batch_item_failures")}
    assert failures["self"] is True and failures["not-in-this-batch"] is False and failures[""] is False


def test_only_the_reported_messages_come_back_and_only_with_the_setting_on(make_lab):
    """The same code with ReportBatchItemFailures off: its answer is ignored, the batch succeeds
    (pitfall: the function returns batchItemFailures, the mapping was not told)."""
    lab = make_lab("process", clock=VirtualClock())
    code = textwrap.dedent("""
        def handler(event, context):
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                          if r["body"].startswith("fail")]}
    """)
    for flag in (True, False):
        sqs, url, arn = _queue(lab.aws, f"mixed-{flag}")
        lab.deploy(f"mixed-{flag}", code, memory_mb=FAST)
        lab.create_event_source_mapping(f"mixed-{flag}", arn, FunctionResponseTypes=["ReportBatchItemFailures"]
                                        if flag else [])
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b}
                                                      for i, b in enumerate(["ok1", "fail1", "ok2", "fail2"])])
    lab.clock.advance(5)
    on, = _batches(lab, "mixed-True")
    off, = _batches(lab, "mixed-False")
    assert on["outcome"] == "partial" and len(on["deleted"]) == 2 and len(on["returned"]) == 2
    assert off["outcome"] == "success" and len(off["deleted"]) == 4
    sqs = lab.aws.client("sqs")
    assert _counts(sqs, sqs.get_queue_url(QueueName="mixed-True")["QueueUrl"]) == (0, 2)


def test_a_handler_slower_than_the_visibility_timeout_gets_the_message_twice(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    sqs, url, arn = _queue(lab.aws, "slow", VisibilityTimeout=30)
    lab.deploy("slow", textwrap.dedent("""
        import time
        def handler(event, context):
            record = event["Records"][0]
            if record["attributes"]["ApproximateReceiveCount"] == "1":
                time.sleep(1.5)          # longer than the queue's visibility timeout (1 s, below)
            return record["attributes"]["ApproximateReceiveCount"]
    """), memory_mb=FAST, timeout_s=5)
    lab.create_event_source_mapping("slow", arn)                 # checked against 30 s: accepted
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "1"})   # then shortened
    message_id = sqs.send_message(QueueUrl=url, MessageBody="once")["MessageId"]
    lab.clock.advance(10)
    assert lab.record.count("invoke", function="slow") == 2
    batches = sorted(_batches(lab, "slow"), key=lambda b: b["started_at"])
    assert len(batches) == 2
    first, second = batches
    assert second["started_at"] == 1.0 < first.at             # received again while the first still ran
    dup, = lab.record.events(kind="duplicate", function="slow")
    assert dup["message_id"] == message_id and dup["receive_count"] == 2
    assert second["deleted"] == [message_id]                  # the latest receipt deletes it...
    assert first["deleted"] == [] and first["stale"] == 1     # ...the first one's no longer can
    assert _counts(sqs, url) == (0, 0)


def test_max_receive_count_moves_messages_to_the_dead_letter_queue(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    sqs, dlq_url, dlq_arn = _queue(lab.aws, "poison-dlq")
    _, url, arn = _queue(lab.aws, "poison", VisibilityTimeout=10,
                         RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}))
    lab.deploy("poison", "def handler(event, context):\n    raise ValueError('never')\n", memory_mb=FAST)
    lab.create_event_source_mapping("poison", arn)
    ids = [sqs.send_message(QueueUrl=url, MessageBody=f"p{i}")["MessageId"] for i in range(2)]
    lab.clock.advance(100)
    batches = _batches(lab, "poison")
    assert [b["started_at"] for b in batches] == [0.0, 10.0, 20.0]      # received 3 times, 10 s apart
    moved = lab.record.events(kind="redrive", function="poison")
    assert sorted(e["message_id"] for e in moved) == sorted(ids)
    assert {(e.at, e["receive_count"], e["dead_letter_queue"]) for e in moved} == {(30.0, 3, dlq_arn)}
    assert _counts(sqs, url) == (0, 0)
    in_dlq = _drain(sqs, dlq_url)
    assert sorted(m["MessageId"] for m in in_dlq) == sorted(ids)        # the same messageId
    assert sorted(m["Body"] for m in in_dlq) == ["p0", "p1"]


def test_reserved_concurrency_zero_keeps_the_messages_until_it_is_lifted(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    sqs, url, arn = _queue(lab.aws, "paused", VisibilityTimeout=30)
    fn = lab.deploy("paused", "def handler(event, context):\n    return len(event['Records'])\n",
                    memory_mb=FAST, reserved_concurrency=0)
    lab.create_event_source_mapping("paused", arn)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(5)])
    lab.clock.advance(120)
    assert lab.record.count("invoke", function="paused") == 0
    throttled = _batches(lab, "paused", outcome="throttled")
    assert throttled and lab.record.count("throttle", function="paused") == len(throttled)
    retries = [b["retry_at"] - b.at for b in throttled if b["retry_at"] is not None]
    assert retries[:4] == [1.0, 2.0, 4.0, 8.0]                  # backing off within the visibility timeout
    visible, hidden = _counts(sqs, url)
    assert visible + hidden == 5                                 # nothing lost, nothing processed
    lab.aws.client("lambda").delete_function_concurrency(FunctionName="paused")
    lab.clock.advance(60)
    assert sum(b["size"] for b in _batches(lab, "paused", outcome="success")) == 5
    assert _counts(sqs, url) == (0, 0)


def test_maximum_concurrency_caps_the_batches_in_flight(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    code = "import time\ndef handler(event, context):\n    time.sleep(0.2)\n    return 1\n"

    def peak(name, **options):
        sqs, url, arn = _queue(lab.aws, name)
        lab.deploy(name, code, memory_mb=FAST)
        lab.create_event_source_mapping(name, arn, BatchSize=1, **options)
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(10)])
        lab.clock.advance(20)
        spans = [(b["started_at"], b.at) for b in _batches(lab, name)]
        assert len(spans) == 10
        at_once = sum(1 for s, _ in spans if s == spans[0][0])
        peak = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
        cold = sum(1 for e in lab.record.events(kind="invoke", function=name) if e["cold"])
        return at_once, peak, cold

    assert peak("capped", ScalingConfig={"MaximumConcurrency": 2}) == (2, 2, 2)
    at_once, most, cold = peak("default")
    assert at_once == 5 and cold >= 5                            # Lambda starts with five batches...
    assert 5 <= most <= 5 + 300 / 60 * 3                          # ...and adds up to 300 a minute


def test_scale_out_starts_at_five_and_adds_up_to_300_a_minute(make_lab):
    lab = make_lab("process", clock=VirtualClock(), account_concurrency=400)
    sqs, url, arn = _queue(lab.aws, "ramp")
    lab.deploy("ramp", "def handler(e, c):\n    return 1\n", memory_mb=FAST)
    uuid = lab.create_event_source_mapping("ramp", arn)["UUID"]
    lab.clock.advance(0)
    mapping = lab._event_source_mappings.mapping(uuid)
    poller, settings = mapping.poller, mapping.settings
    seen = [poller._concurrency(t, settings, busy=True) for t in (0, 30, 60, 90)]
    assert seen == [5, 155, 305, 400]                             # the account's concurrency bounds it
    assert poller._concurrency(91, settings, busy=False) == 400
    poller._scale = 5.0                                           # what an empty queue does
    capped = dict(settings, ScalingConfig={"MaximumConcurrency": 50})
    assert [poller._concurrency(t, capped, busy=True) for t in (100, 160)] == [5, 50]


def test_fifo_keeps_order_within_each_group_and_one_batch_per_group(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    sqs, url, arn = _queue(lab.aws, "steps.fifo", FifoQueue="true", ContentBasedDeduplication="true",
                           VisibilityTimeout=10)
    _, seen_url, _ = _queue(lab.aws, "fifo-seen")
    lab.deploy("steps", textwrap.dedent("""
        import json, os, boto3
        sqs = boto3.client("sqs")
        def handler(event, context):
            failures = []
            for record in event["Records"]:
                if failures or (record["body"] == "g1-2" and record["attributes"]["ApproximateReceiveCount"] == "1"):
                    failures.append({"itemIdentifier": record["messageId"]})   # it and all after it
                    continue
                sqs.send_message(QueueUrl=os.environ["SEEN"], MessageBody=json.dumps(
                    [record["attributes"]["MessageGroupId"], record["body"], record["attributes"]["SequenceNumber"]]))
            return {"batchItemFailures": failures}
    """), memory_mb=FAST, env={"SEEN": seen_url})
    lab.create_event_source_mapping("steps", arn, BatchSize=3, FunctionResponseTypes=["ReportBatchItemFailures"])
    group_of = {}
    for step in range(6):
        for group in ("g0", "g1", "g2"):
            r = sqs.send_message(QueueUrl=url, MessageBody=f"{group}-{step}", MessageGroupId=group)
            group_of[r["MessageId"]] = group
    lab.clock.advance(60)
    done = collections.defaultdict(list)
    for group, body, sequence in _seen(sqs, seen_url):
        done[group].append(body)
    assert done == {g: [f"{g}-{i}" for i in range(6)] for g in ("g0", "g1", "g2")}   # in order, once each
    batches = _batches(lab, "steps")
    spans = [(b["started_at"], b.at, {group_of[m] for m in b["deleted"] + b["returned"]}) for b in batches]
    for i, (s1, e1, g1) in enumerate(spans):
        for s2, e2, g2 in spans[i + 1:]:
            if s1 < e2 and s2 < e1:
                assert not g1 & g2, "two batches of one message group were in flight together"
    retried = [b for b in batches if b["outcome"] == "partial"]
    assert len(retried) == 1 and len(retried[0]["returned"]) >= 1
    later = [b["started_at"] for b in batches if any(m in retried[0]["returned"] for m in b["deleted"])]
    assert later and min(later) >= 10.0                           # g1 waited for its visibility timeout
    assert _counts(sqs, url) == (0, 0)


# -- the API ---------------------------------------------------------------------------------------------
def _wait(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _error(call):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_the_lambda_api_through_boto3_from_a_cell_and_from_a_function(lab):
    sqs, url, arn = _queue(lab.aws, "api")
    lab.deploy("api", textwrap.dedent("""
        import boto3
        def handler(event, context):
            mappings = boto3.client("lambda").list_event_source_mappings(FunctionName=context.function_name)
            return [m["UUID"] for m in mappings["EventSourceMappings"]]
    """), memory_mb=512, timeout_s=30)
    client = lab.aws.client("lambda")
    created = client.create_event_source_mapping(FunctionName="api", EventSourceArn=arn, BatchSize=100,
                                                 MaximumBatchingWindowInSeconds=2,
                                                 ScalingConfig={"MaximumConcurrency": 3})
    uuid = created["UUID"]
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202 and created["State"] == "Creating"
    assert created["EventSourceMappingArn"] == f"arn:aws:lambda:us-east-1:123456789012:event-source-mapping:{uuid}"
    assert (created["FunctionArn"], created["StateTransitionReason"]) == (lab.functions["api"].arn, "USER_INITIATED")
    assert created["ScalingConfig"] == {"MaximumConcurrency": 3} and created["FunctionResponseTypes"] == []
    _wait(lambda: client.get_event_source_mapping(UUID=uuid)["State"] == "Enabled")
    assert [m["UUID"] for m in client.list_event_source_mappings(FunctionName="api")["EventSourceMappings"]] == [uuid]
    assert [m["UUID"] for m in client.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]] == [uuid]
    assert client.list_event_source_mappings(FunctionName="other")["EventSourceMappings"] == []
    assert lab.functions["api"].invoke({}).payload == [uuid]           # boto3 inside the function

    updated = client.update_event_source_mapping(UUID=uuid, BatchSize=50,
                                                 FunctionResponseTypes=["ReportBatchItemFailures"])
    assert updated["State"] == "Updating" and updated["BatchSize"] == 50
    got = _wait(lambda: (m := client.get_event_source_mapping(UUID=uuid))["State"] == "Enabled" and m)
    assert got["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and got["MaximumBatchingWindowInSeconds"] == 2
    assert client.update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabling"
    _wait(lambda: client.get_event_source_mapping(UUID=uuid)["State"] == "Disabled")
    assert client.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    _wait(lambda: client.get_event_source_mapping(UUID=uuid)["State"] == "Enabled")

    assert _error(lambda: client.create_event_source_mapping(FunctionName="api", EventSourceArn=arn)) == (
        "ResourceConflictException", f'An event source mapping with SQS arn (" {arn} ") and function (" api ") '
        f"already exists. Please update or delete the existing mapping with UUID {uuid}")
    deleted = client.delete_event_source_mapping(UUID=uuid)
    assert deleted["State"] == "Deleting" and deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    _wait(lambda: client.list_event_source_mappings()["EventSourceMappings"] == [])
    assert _error(lambda: client.get_event_source_mapping(UUID=uuid)) == (
        "ResourceNotFoundException", "The resource you requested does not exist.")
    assert [e["action"] for e in lab.record.events(kind="mapping")] == [
        "create", "state", "update", "state", "update", "state", "update", "state", "delete", "deleted"]


def test_the_api_refuses_what_lambda_refuses(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    sqs, url, arn = _queue(lab.aws, "rules", VisibilityTimeout=30)
    _, _, fifo = _queue(lab.aws, "rules.fifo", FifoQueue="true")
    lab.deploy("rules", "def handler(e, c):\n    return 1\n", timeout_s=60)
    lab.deploy("quick", "def handler(e, c):\n    return 1\n", timeout_s=3)
    client = lab.aws.client("lambda")

    def create(**options):
        return _error(lambda: client.create_event_source_mapping(**{"FunctionName": "quick", "EventSourceArn": arn,
                                                                      **options}))

    bad = "InvalidParameterValueException"
    assert create(BatchSize=11) == (bad, "Maximum batch window in seconds must be greater than 0 if maximum batch "
                                         "size is greater than 10")
    assert create(BatchSize=10_001, MaximumBatchingWindowInSeconds=1) == (
        "ValidationException", "1 validation error detected: Value '10001' at 'batchSize' failed to satisfy "
        "constraint: Member must have value less than or equal to 10000")
    assert create(MaximumBatchingWindowInSeconds=301)[0] == "ValidationException"
    assert create(ScalingConfig={"MaximumConcurrency": 1001})[1].endswith(
        "at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value less than or "
        "equal to 1000")
    assert create(FunctionResponseTypes=["ReportEverything"])[0] == "ValidationException"
    assert create(EventSourceArn=fifo, MaximumBatchingWindowInSeconds=1) == (
        bad, "Batching window is not supported for FIFO queues")
    assert create(EventSourceArn=fifo, BatchSize=11)[0] == bad
    assert create(EventSourceArn=arn.replace("rules", "missing")) == (
        bad, "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
             "SQS Error Message: The specified queue does not exist.")
    assert create(FunctionName="nobody") == (bad, "Function does not exist")
    assert create(FunctionName="rules") == (bad, "Queue visibility timeout: 30 seconds is less than Function "
                                                 "timeout: 60 seconds")
    assert create(StartingPosition="LATEST") == (bad, "StartingPosition is not valid for SQS event sources.")
    assert create(DestinationConfig={"OnFailure": {"Destination": arn}}) == (
        bad, "Unsupported DestinationConfig parameter for given event source mapping type.")
    assert _error(lambda: client.create_event_source_mapping(FunctionName="quick")) == (
        bad, "Unrecognized event source.")
    with pytest.raises(ValidationException, match="greater than or equal to 2"):   # boto3 refuses 1 itself
        lab.create_event_source_mapping("quick", arn, ScalingConfig={"MaximumConcurrency": 1})
    with pytest.raises(InvalidParameterValueException, match="Function does not exist"):
        lab.create_event_source_mapping("nobody", arn)
    assert client.list_event_source_mappings()["EventSourceMappings"] == []           # nothing was made
    mine = lab.create_event_source_mapping("quick", arn)
    uuid = mine["UUID"]
    theirs = client.get_event_source_mapping(UUID=uuid)              # still "Creating": the clock has not moved
    del theirs["ResponseMetadata"]
    assert mine.pop("LastModified") == theirs.pop("LastModified") and mine == theirs
    assert _error(lambda: client.update_event_source_mapping(UUID=uuid, BatchSize=500)) == (
        bad, "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
    assert _error(lambda: client.update_event_source_mapping(UUID="0" * 36, BatchSize=5))[0] == \
        "ResourceNotFoundException"


def test_on_the_real_clock_the_poller_runs_by_itself(make_lab):
    lab = make_lab("process")
    sqs, url, arn = _queue(lab.aws, "live")
    lab.deploy("live", "def handler(e, c):\n    return [r['body'] for r in e['Records']]\n", memory_mb=FAST)
    lab.create_event_source_mapping("live", arn)
    started = time.monotonic()
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)])
    _wait(lambda: sum(b["size"] for b in _batches(lab, "live", outcome="success")) == 3, timeout=20)
    assert time.monotonic() - started < 10          # woken by the SendMessage, not by a 20 s long poll
    assert _counts(sqs, url) == (0, 0)


def test_a_batch_item_failures_parser_that_takes_hostile_answers():
    ids = {"a", "b"}
    assert parse_batch_item_failures(b"[" * 100_000, ids)[1] == "the response is not JSON"
    assert parse_batch_item_failures(b'{"batchItemFailures": {"itemIdentifier": "a"}}', ids)[1] == \
        "batchItemFailures is not a list"
    assert parse_batch_item_failures(b'{"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "a"}]}',
                                     ids)[:2] == ({"a"}, None)
    many = json.dumps({"batchItemFailures": [{"itemIdentifier": "a"}] * 5000}).encode()
    assert len(parse_batch_item_failures(many, ids)[2]) == 100     # the record keeps a bounded list


# -- nothing lost ----------------------------------------------------------------------------------------
FLAKY = textwrap.dedent("""
    import zlib
    def failing(text, percent):
        return zlib.crc32(("seed-2024:" + text).encode()) % 100 < percent
    def handler(event, context):
        records = event["Records"]
        if failing(records[0]["messageId"] + "batch" + records[0]["attributes"]["ApproximateReceiveCount"], 2):
            raise RuntimeError("the whole batch fails")
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records
                                      if failing(r["messageId"] + r["attributes"]["ApproximateReceiveCount"], 10)]}
""")


@pytest.mark.slow
def test_ten_thousand_messages_with_random_failures_end_processed_in_the_dlq_or_visible(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    sqs, dlq_url, dlq_arn = _queue(lab.aws, "lost-dlq")
    _, url, arn = _queue(lab.aws, "lost", VisibilityTimeout=5,
                         RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    lab.deploy("flaky", FLAKY, memory_mb=FAST)
    queue = EmbeddedQueue(arn)
    sent = queue.send_messages(json.dumps({"n": n}) for n in range(10_000))
    assert _counts(sqs, url) == (10_000, 0)
    uuid = lab.create_event_source_mapping("flaky", arn, BatchSize=10,
                                           FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    lab.clock.advance(8)                    # first receives at 0, failures again at 5
    late = queue.send_messages(json.dumps({"late": n}) for n in range(500))
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])   # any AWS call tells the poller
    lab.clock.advance(3)                    # at 10 the twice-failed go to the DLQ; the late wave is in flight
    lab.aws.client("lambda").update_event_source_mapping(UUID=uuid, Enabled=False)
    lab.clock.advance(30)                   # the late wave's failures come back, and stay: disabled

    deleted = [m for b in _batches(lab, "flaky") for m in b["deleted"]]
    in_dlq = [m["MessageId"] for m in _drain(sqs, dlq_url, delete=False)]
    visible = [m["MessageId"] for m in _drain(sqs, url, delete=False)]
    assert len(deleted) == len(set(deleted)) and len(in_dlq) == len(set(in_dlq))
    assert set(deleted).isdisjoint(in_dlq) and set(deleted).isdisjoint(visible) and set(in_dlq).isdisjoint(visible)
    assert len(deleted) + len(in_dlq) + len(visible) == 10_500
    assert set(deleted) | set(in_dlq) | set(visible) == set(sent) | set(late)
    assert in_dlq and visible and len(deleted) > 9_000
    assert set(in_dlq) <= set(sent) and set(visible) <= set(late)
    assert {e["message_id"] for e in lab.record.events(kind="redrive")} == set(in_dlq)
    received = sum(p["received"] for p in lab.record.events(kind="poll", function="flaky"))
    assert received == sum(b["size"] for b in _batches(lab, "flaky"))      # every delivery in one batch

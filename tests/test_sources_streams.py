"""DynamoDB-stream and Kinesis event source mappings: order per shard, batches, a poison record that
blocks its shard, bisect, retry limits and the on-failure destination, partial batch responses,
parallelisation, all on the lab clock against the embedded services."""

import base64
import json
import textwrap
import uuid

import pytest

from lambdalab_ext.clock import VirtualClock
from lambdalab_ext.errors import InvalidParameterValueException
from lambdalab_ext.request import InvocationRequest
from lambdalab_ext.sources import streams

FAST = 1769

KINESIS_HANDLER = textwrap.dedent("""
    import base64, json
    def handler(event, context):
        data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
        if "poison" in data:
            raise ValueError("cannot parse " + repr(data))
        fail = [r["kinesis"]["sequenceNumber"] for r in event["Records"]
                if base64.b64decode(r["kinesis"]["data"]).decode().startswith("reported")]
        return {"batchItemFailures": [{"itemIdentifier": s} for s in fail]}
""")


class Mapping:
    """A stream poller wired to a lab as the lab's event source mappings wire it; it keeps every
    batch payload the function was given, for the test to read."""

    def __init__(self, lab, function, arn, **options):
        self.lab, self.batches = lab, []
        config = streams.validate({"StartingPosition": "TRIM_HORIZON", **options}, arn)

        def make(payload):
            self.batches.append(json.loads(payload))
            return InvocationRequest(function_name=function, payload=payload, source=streams.stream_kind(arn),
                                     source_arn=arn)

        self.poller = streams.StreamPoller(
            "11111111-2222-3333-4444-555555555555", arn, config, function_name=function,
            function_arn=lab.functions[function].arn,
            aws=lab.aws, invoke=lab.service.invoke_request, request_factory=make, clock=lab.clock,
            record=lab.record, deliver=lab.async_queue._deliver, region=lab.region)
        self.poller.start()
        lab._sources.append(self.poller)

    def seen(self, decode=lambda r: base64.b64decode(r["kinesis"]["data"]).decode()):
        return [[decode(r) for r in batch["Records"]] for batch in self.batches]


def _kinesis(lab, shards=1):
    # moto's state is per process, not per lab: every test has a stream of its own.
    name = f"orders-{uuid.uuid4().hex[:8]}"
    client = lab.aws.client("kinesis")
    client.create_stream(StreamName=name, ShardCount=shards)
    arn = client.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]
    return _Named(client, name), arn


class _Named:
    """The Kinesis client with this test's stream name filled in."""

    def __init__(self, client, name):
        self.client, self.name = client, name

    def put_record(self, **kwargs):
        kwargs.pop("StreamName", None)
        return self.client.put_record(StreamName=self.name, **kwargs)


def _queue(lab, name):
    name = f"{name}-{uuid.uuid4().hex[:8]}"
    sqs = lab.aws.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return sqs, url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


@pytest.fixture
def vlab(make_lab):
    return make_lab("process", clock=VirtualClock())


def test_settings_are_checked_as_create_event_source_mapping_checks_them():
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s"
    assert streams.validate({"StartingPosition": "LATEST"}, arn)["BatchSize"] == 100
    for bad in ({}, {"StartingPosition": "NOW"}, {"StartingPosition": "LATEST", "BatchSize": 10_001},
                {"StartingPosition": "LATEST", "MaximumRetryAttempts": -2},
                {"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 30},
                {"StartingPosition": "LATEST", "ParallelizationFactor": 11},
                {"StartingPosition": "LATEST", "FunctionResponseTypes": ["Other"]},
                {"StartingPosition": "LATEST", "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s4:x:1:y"}}}):
        with pytest.raises(InvalidParameterValueException):
            streams.validate(bad, arn)
    with pytest.raises(InvalidParameterValueException):   # AT_TIMESTAMP is Kinesis' only
        streams.validate({"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1},
                         "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000")


def test_a_dynamodb_stream_reaches_the_function_in_order_in_batches(vlab):
    ddb = vlab.aws.client("dynamodb")
    name = f"orders-{uuid.uuid4().hex[:8]}"
    table = ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST",
                             StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    arn = table["TableDescription"]["LatestStreamArn"]
    vlab.deploy("ddb", "def handler(event, context):\n    return len(event['Records'])\n", memory_mb=FAST)
    mapping = Mapping(vlab, "ddb", arn, BatchSize=2)
    ddb.put_item(TableName=name, Item={"id": {"S": "a"}, "n": {"N": "1"}})
    ddb.put_item(TableName=name, Item={"id": {"S": "a"}, "n": {"N": "2"}})
    ddb.delete_item(TableName=name, Key={"id": {"S": "a"}})
    assert mapping.batches == []            # nothing is read before the lab clock moves
    vlab.clock.advance(1)
    names = mapping.seen(lambda r: r["eventName"])
    assert names == [["INSERT", "MODIFY"], ["REMOVE"]]
    first = mapping.batches[0]["Records"][1]
    assert first["eventSource"] == "aws:dynamodb" and first["eventSourceARN"] == arn
    assert first["eventVersion"] == "1.1" and first["awsRegion"] == vlab.region
    assert first["dynamodb"]["OldImage"]["n"] == {"N": "1"} and first["dynamodb"]["NewImage"]["n"] == {"N": "2"}
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], int)
    assert [e["size"] for e in vlab.record.events(kind="batch", function="ddb")] == [2, 1]


def test_a_poison_record_blocks_its_shard_and_its_iterator_age_grows(vlab):
    kinesis, arn = _kinesis(vlab)
    vlab.deploy("reader", KINESIS_HANDLER, memory_mb=FAST)
    mapping = Mapping(vlab, "reader", arn, BatchSize=10)
    for data in ("a", "poison", "b"):
        kinesis.put_record(StreamName="orders", Data=data.encode(), PartitionKey="k")
    vlab.clock.advance(1)
    vlab.clock.advance(600)                 # ten minutes of retries, backing off
    batches = vlab.record.events(kind="batch", function="reader")
    assert len(batches) >= 9 and all(b["outcome"] == "failure" for b in batches)
    assert all(seen == ["a", "poison", "b"] for seen in mapping.seen())   # "b" never gets past it
    ages = [b["iterator_age_ms"] for b in batches]
    assert ages == sorted(ages) and ages[-1] >= 300_000
    vlab.clock.advance(24 * 3600)           # the stream's retention drops the records
    [expired] = vlab.record.events(kind="expired", function="reader")
    assert expired["records"] == 3
    kinesis.put_record(StreamName="orders", Data=b"c", PartitionKey="k")
    vlab.clock.advance(1)
    assert mapping.seen()[-1] == ["c"]      # the shard moves again


def test_bisect_isolates_the_poison_record_and_retry_limit_sends_it_to_the_on_failure_destination(vlab):
    kinesis, arn = _kinesis(vlab)
    sqs, url, queue_arn = _queue(vlab, "failed-batches")
    vlab.deploy("reader", KINESIS_HANDLER, memory_mb=FAST)
    mapping = Mapping(vlab, "reader", arn, BatchSize=8, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
                      DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    data = [f"r{i}" for i in range(8)]
    data[5] = "poison"
    for item in data:
        kinesis.put_record(StreamName="orders", Data=item.encode(), PartitionKey="k")
    vlab.clock.advance(1)
    vlab.clock.advance(10)
    processed = [d for batch, b in zip(mapping.seen(), vlab.record.events(kind="batch", function="reader"))
                 if b["outcome"] == "success" for d in batch]
    assert processed == [d for d in data if d != "poison"]       # in order, everything but the poison
    sizes = [len(batch) for batch in mapping.seen()]
    # 8 fails: halves of 4; the first 4 succeed, the other 4 fail: halves of 2; [r4, poison] fails:
    # halves of 1; r4 succeeds; the poison alone fails twice (1 retry allowed); then r6 and r7.
    assert sizes == [8, 4, 4, 2, 1, 1, 1, 2] and mapping.seen().count(["poison"]) == 2
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    info = record["KinesisBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == arn and info["shardId"] == "shardId-000000000000"
    assert "Records" not in record          # metadata only: the records stay in the stream


def test_an_s3_on_failure_destination_gets_the_record_and_the_batch_under_lambdas_key(vlab):
    kinesis, arn = _kinesis(vlab)
    s3 = vlab.aws.client("s3")
    s3.create_bucket(Bucket="failed-batches")
    vlab.deploy("reader", KINESIS_HANDLER, memory_mb=FAST)
    mapping = Mapping(vlab, "reader", arn, BatchSize=8, MaximumRetryAttempts=0,
                      DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::failed-batches"}})
    kinesis.put_record(StreamName="orders", Data=b"poison", PartitionKey="k")
    vlab.clock.advance(1)
    vlab.clock.advance(5)
    [listed] = s3.list_objects_v2(Bucket="failed-batches")["Contents"]
    # aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>
    parts = listed["Key"].split("/")
    assert parts[:4] == ["aws", "lambda", mapping.poller.uuid, "shardId-000000000000"] and len(parts) == 8
    day, stamp = "/".join(parts[4:7]), parts[7]
    assert stamp[:10] == day.replace("/", "-") and stamp[10] == "T" and stamp[13] == stamp[16] == "."
    uuid.UUID(stamp[20:])
    record = json.loads(s3.get_object(Bucket="failed-batches", Key=listed["Key"])["Body"].read())
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["KinesisBatchInfo"]["batchSize"] == 1
    [sent] = json.loads(record["payload"])["Records"]     # only S3 gets the batch itself, as text
    assert base64.b64decode(sent["kinesis"]["data"]) == b"poison"
    [delivered] = vlab.record.events(kind="destination", function="reader")
    assert delivered["key"] == listed["Key"]


def test_a_partial_batch_response_checkpoints_at_the_lowest_failed_record(vlab):
    kinesis, arn = _kinesis(vlab)
    vlab.deploy("reader", KINESIS_HANDLER, memory_mb=FAST)
    mapping = Mapping(vlab, "reader", arn, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    for item in ("a", "b", "reported", "c"):
        kinesis.put_record(StreamName="orders", Data=item.encode(), PartitionKey="k")
    vlab.clock.advance(1)
    vlab.clock.advance(3)
    seen = mapping.seen()
    assert seen[0] == ["a", "b", "reported", "c"]
    assert len(seen) >= 3 and all(batch == ["reported", "c"] for batch in seen[1:])   # a and b never again
    [first] = vlab.record.events(kind="batch_item_failures", function="reader")[:1]
    assert first["succeeded"] == 2


def test_parallelisation_runs_lanes_of_a_shard_and_keeps_order_per_key(vlab):
    kinesis, arn = _kinesis(vlab)
    vlab.deploy("reader", KINESIS_HANDLER, memory_mb=FAST)
    mapping = Mapping(vlab, "reader", arn, BatchSize=100, ParallelizationFactor=4)
    sent = {key: [f"{key}-{i}" for i in range(5)] for key in ("k1", "k2", "k3", "k4", "k5", "k6")}
    for i in range(5):
        for key, items in sent.items():
            kinesis.put_record(StreamName="orders", Data=items[i].encode(), PartitionKey=key)
    vlab.clock.advance(1)
    lanes = {b["lane"] for b in vlab.record.events(kind="batch", function="reader")}
    assert len(lanes) > 1
    got = [d for batch in mapping.seen() for d in batch]
    assert sorted(got) == sorted(d for items in sent.values() for d in items)
    for key, items in sent.items():
        assert [d for d in got if d.startswith(key + "-")] == items


def test_a_stream_mapping_through_the_lambda_api(vlab):
    """CreateEventSourceMapping on a Kinesis stream, from boto3: the lab polls it, and the API shows
    the stream settings and the last processing result."""
    kinesis, arn = _kinesis(vlab)
    vlab.deploy("reader", KINESIS_HANDLER, memory_mb=FAST)
    lam = vlab.aws.client("lambda")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(FunctionName="reader", EventSourceArn=arn)      # no StartingPosition
    created = lam.create_event_source_mapping(FunctionName="reader", EventSourceArn=arn,
                                              StartingPosition="TRIM_HORIZON", BatchSize=5,
                                              MaximumRetryAttempts=3, BisectBatchOnFunctionError=True)
    assert created["State"] == "Creating" and created["BatchSize"] == 5 and created["ParallelizationFactor"] == 1
    for i in range(7):
        kinesis.put_record(Data=f"m{i}".encode(), PartitionKey="k")
    vlab.clock.advance(1)
    vlab.clock.advance(1)
    batches = vlab.record.events(kind="batch", function="reader")
    assert [b["size"] for b in batches] == [5, 2] and all(b["outcome"] == "success" for b in batches)
    got = lam.get_event_source_mapping(UUID=created["UUID"])
    assert got["State"] == "Enabled" and got["LastProcessingResult"] == "OK"
    assert got["MaximumRetryAttempts"] == 3 and got["StartingPosition"] == "TRIM_HORIZON"
    lam.delete_event_source_mapping(UUID=created["UUID"])
    vlab.clock.advance(1)
    kinesis.put_record(Data=b"after", PartitionKey="k")
    vlab.clock.advance(5)
    assert len(vlab.record.events(kind="batch", function="reader")) == 2

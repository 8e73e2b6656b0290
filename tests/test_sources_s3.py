"""S3 event notifications: configured through the S3 API as on AWS, validated as S3 validates them,
delivered once, by the lab, with the real record, to functions (asynchronously), queues and topics;
and the guards AWS recommends against a function that writes into its own trigger bucket."""

import hashlib
import json
import textwrap
import time
import urllib.parse
import uuid

import botocore.exceptions
import pytest
import requests

from lambdalab_ext.aws.endpoint import AWSEndpoint
from lambdalab_ext.sources.s3 import (AMBIGUOUS, ConfigurationError, NotificationRule, parse_configuration,
                                      rules_overlap)

RETURN_EVENT = "def handler(event, context):\n    return event\n"


def _name(prefix):
    # moto's state is shared by every lab of the process: each test gets buckets of its own.
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _queue(aws, name):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn


def _drain(sqs, url):
    out = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return out
        out += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(batch)])


def _prefix(value):
    return {"Key": {"FilterRules": [{"Name": "prefix", "Value": value}]}}


def _lambda_rule(fn, events=("s3:ObjectCreated:*",), rule_id=None, **filters):
    rule = {"LambdaFunctionArn": fn.arn, "Events": list(events)}
    if rule_id:
        rule["Id"] = rule_id
    if filters:
        rule["Filter"] = {"Key": {"FilterRules": [{"Name": k, "Value": v} for k, v in filters.items()]}}
    return rule


def _invokes(lab, name):
    return [e for e in lab.record.events(kind="invoke", function=name) if e["source"] == "s3"]


# -- the rules S3 applies to a configuration (pure) ---------------------------------------------------------
def _rule(events=("s3:ObjectCreated:*",), prefix=None, suffix=None):
    return NotificationRule("lambda", "id", "arn:aws:lambda:us-east-1:123456789012:function:f", tuple(events),
                            prefix, suffix)


@pytest.mark.parametrize("a, b, overlap", [
    (_rule(prefix="images/"), _rule(prefix="logs/"), False),                         # disjoint prefixes
    (_rule(prefix="images"), _rule(prefix="images/"), True),                          # one prefixes the other
    (_rule(suffix=".jpg"), _rule(suffix=".png"), False),
    (_rule(suffix="jpg"), _rule(suffix=".jpg"), True),
    (_rule(prefix="images/"), _rule(suffix=".jpg"), True),                            # images/x.jpg is both
    (_rule(prefix="a/", suffix=".jpg"), _rule(prefix="b/", suffix=".jpg"), False),
    (_rule(), _rule(["s3:ObjectRemoved:*"]), False),                                  # other event types
    (_rule(["s3:ObjectCreated:*"]), _rule(["s3:ObjectCreated:Put"]), True),           # the wildcard covers Put
    (_rule(["s3:ObjectCreated:Put"]), _rule(["s3:ObjectCreated:Copy"]), False),
    (_rule(["s3:ObjectCreated:Put"], prefix="x/"), _rule(["s3:ObjectCreated:Put"], prefix="x/"), True),
])
def test_which_rules_overlap(a, b, overlap):
    assert rules_overlap(a, b) is overlap and rules_overlap(b, a) is overlap


@pytest.mark.parametrize("xml, code, message", [
    (b"<NotificationConfiguration><CloudFunctionConfiguration><CloudFunction>arn</CloudFunction>"
     b"<Event>s3:ObjectCreated:Everything</Event></CloudFunctionConfiguration></NotificationConfiguration>",
     "InvalidArgument", "The event is not supported for notifications"),
    (b"<NotificationConfiguration><QueueConfiguration><Queue>arn</Queue><Event>s3:ObjectCreated:*</Event>"
     b"<Filter><S3Key><FilterRule><Name>prefix</Name><Value>a/</Value></FilterRule><FilterRule><Name>Prefix"
     b"</Name><Value>b/</Value></FilterRule></S3Key></Filter></QueueConfiguration></NotificationConfiguration>",
     "InvalidArgument", "Cannot specify more than one prefix rule in a filter."),
    (b"<NotificationConfiguration><QueueConfiguration><Queue>arn</Queue><Event>s3:ObjectCreated:*</Event>"
     b"<Filter><S3Key><FilterRule><Name>middle</Name><Value>a</Value></FilterRule></S3Key></Filter>"
     b"</QueueConfiguration></NotificationConfiguration>",
     "InvalidArgument", "filter rule name must be either prefix or suffix"),
    (b"<NotificationConfiguration><QueueConfiguration>", "MalformedXML", "not well-formed"),
    (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><NotificationConfiguration/>', "MalformedXML", "not well-formed"),
])
def test_configurations_s3_refuses_to_parse(xml, code, message):
    with pytest.raises(ConfigurationError) as refused:
        parse_configuration(xml)
    assert refused.value.code == code and message in refused.value.message


# -- moto by itself ------------------------------------------------------------------------------------------
def test_moto_alone_invokes_no_lab_function_and_sends_a_poorer_record():
    """Why the lab delivers notifications itself: what moto does with a configuration on its own."""
    aws = AWSEndpoint()
    try:
        s3, bucket = aws.client("s3"), _name("moto-alone")
        s3.create_bucket(Bucket=bucket)
        sqs, url, queue_arn = _queue(aws, _name("moto-alone"))
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}],
            # A function moto does not have: moto accepts it (AWS refuses it) and invokes nothing.
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:none",
                                              "Events": ["s3:ObjectCreated:*"]}]})
        s3.put_object(Bucket=bucket, Key="a b.txt", Body=b"abc")
        messages = _drain(sqs, url)
        assert messages[0]["Event"] == "s3:TestEvent"
        record = messages[1]["Records"][0]
        assert record["s3"]["object"]["key"] == "a+b.txt"
        # moto's record lacks what AWS's has:
        for field in ("userIdentity", "requestParameters", "responseElements"):
            assert field not in record
        assert "ownerIdentity" not in record["s3"]["bucket"] and "sequencer" not in record["s3"]["object"]
    finally:
        aws.stop()


# -- the lab: one invocation per event, the real record --------------------------------------------------------
def test_an_upload_invokes_the_function_once_asynchronously_with_the_real_record(lab):
    s3, bucket = lab.aws.client("s3"), _name("uploads")
    s3.create_bucket(Bucket=bucket)
    slow = "import time\ndef handler(event, context):\n    time.sleep(1.0)\n    return event\n"
    fn = lab.deploy("resize", slow, memory_mb=1769, timeout_s=10)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [_lambda_rule(fn, rule_id="resize-uploads", prefix="uploads/")]})
    before = time.time()
    started = time.perf_counter()
    s3.put_object(Bucket=bucket, Key="uploads/red flower.jpg", Body=b"abc")
    # S3 invokes asynchronously: the upload does not wait for the function (moto's own call is inline).
    assert time.perf_counter() - started < 0.8
    assert lab.async_queue.wait_idle(60)
    invokes = _invokes(lab, "resize")
    assert len(invokes) == 1 and invokes[0]["invocation_type"] == "Event" and invokes[0]["status"] == "success"
    [notified] = lab.record.events(kind="notification", function="resize")
    assert notified["source_arn"] == f"arn:aws:s3:::{bucket}" and notified["configuration_id"] == "resize-uploads"

    record = invokes[0]["result"].payload["Records"][0]
    assert {k: record[k] for k in ("eventVersion", "eventSource", "awsRegion", "eventName")} == {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": "ObjectCreated:Put"}
    when = time.mktime(time.strptime(record["eventTime"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert record["eventTime"].endswith("Z") and abs(when - before) < 30
    assert record["userIdentity"]["principalId"].startswith("AWS:AIDA")      # the notebook's IAM user key
    assert record["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
    assert set(record["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    s3_part = record["s3"]
    assert s3_part["s3SchemaVersion"] == "1.0" and s3_part["configurationId"] == "resize-uploads"
    assert s3_part["bucket"]["name"] == bucket and s3_part["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert s3_part["bucket"]["ownerIdentity"]["principalId"]
    obj = s3_part["object"]
    assert obj["key"] == "uploads/red+flower.jpg" and urllib.parse.unquote_plus(obj["key"]) == "uploads/red flower.jpg"
    assert obj["size"] == 3 and obj["eTag"] == hashlib.md5(b"abc").hexdigest()
    assert "versionId" not in obj and len(obj["sequencer"]) == 18


def test_every_kind_of_object_event_in_one_queue_in_order(make_lab):
    lab = make_lab("process")
    s3, bucket = lab.aws.client("s3"), _name("events")
    s3.create_bucket(Bucket=bucket)
    sqs, url, queue_arn = _queue(lab.aws, _name("events"))
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
        {"Id": "all", "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})
    assert _drain(sqs, url)[0]["Event"] == "s3:TestEvent"      # S3 tests a queue when it is configured

    s3.put_object(Bucket=bucket, Key="put.txt", Body=b"12345")
    s3.copy_object(Bucket=bucket, Key="copy.txt", CopySource={"Bucket": bucket, "Key": "put.txt"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="multi.bin")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="multi.bin", UploadId=upload, PartNumber=1, Body=b"x" * 10)
    s3.complete_multipart_upload(Bucket=bucket, Key="multi.bin", UploadId=upload,
                                 MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    form = s3.generate_presigned_post(bucket, "posted/${filename}")
    assert requests.post(form["url"], data=form["fields"], files={"file": ("my photo.png", b"png")}).ok
    signed = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "signed.txt"})
    assert requests.put(signed, data=b"via a presigned URL").ok
    s3.delete_object(Bucket=bucket, Key="put.txt")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "copy.txt"}, {"Key": "multi.bin"}]})
    s3.put_object_tagging(Bucket=bucket, Key="posted/my photo.png", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})

    records = [m["Records"][0] for m in _drain(sqs, url)]
    assert [(r["eventName"], r["s3"]["object"]["key"]) for r in records] == [
        ("ObjectCreated:Put", "put.txt"), ("ObjectCreated:Copy", "copy.txt"),
        ("ObjectCreated:CompleteMultipartUpload", "multi.bin"), ("ObjectCreated:Post", "posted/my+photo.png"),
        ("ObjectCreated:Put", "signed.txt"), ("ObjectRemoved:Delete", "put.txt"), ("ObjectRemoved:Delete", "copy.txt"),
        ("ObjectRemoved:Delete", "multi.bin")]
    created = {r["s3"]["object"]["key"]: r["s3"]["object"] for r in records if "Created" in r["eventName"]}
    assert created["copy.txt"]["size"] == 5 and created["multi.bin"]["eTag"].endswith("-1")
    assert all("size" not in r["s3"]["object"] and "eTag" not in r["s3"]["object"]
               for r in records if "Removed" in r["eventName"])
    sequencers = [r["s3"]["object"]["sequencer"] for r in records]
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == len(sequencers)


def test_a_versioned_bucket_names_versions_and_delete_markers(make_lab):
    lab = make_lab("process")
    s3, bucket = lab.aws.client("s3"), _name("versions")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    sqs, url, queue_arn = _queue(lab.aws, _name("versions"))
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:Put", "s3:ObjectRemoved:*"]}]})
    version = s3.put_object(Bucket=bucket, Key="doc", Body=b"v1")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="doc")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=version)
    records = [m["Records"][0] for m in _drain(sqs, url) if "Records" in m]
    assert [(r["eventName"], r["s3"]["object"].get("versionId")) for r in records] == [
        ("ObjectCreated:Put", version), ("ObjectRemoved:DeleteMarkerCreated", marker),
        ("ObjectRemoved:Delete", version)]


def test_filters_and_event_types_decide_and_the_record_says_why(make_lab):
    lab = make_lab("process")
    s3, bucket = lab.aws.client("s3"), _name("filters")
    s3.create_bucket(Bucket=bucket)
    fn = lab.deploy("jpegs", RETURN_EVENT, memory_mb=1769)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [_lambda_rule(fn, ["s3:ObjectCreated:Put"], prefix="my+photos/", suffix=".jpg"),
                                         _lambda_rule(fn, ["s3:ObjectCreated:Put"], prefix="my photos/")]})
    s3.put_object(Bucket=bucket, Key="my photos/cat.jpg", Body=b"1")     # the first rule (encoded key)
    s3.put_object(Bucket=bucket, Key="my photos/cat.png", Body=b"2")     # neither: a space is '+' in the key
    s3.copy_object(Bucket=bucket, Key="my photos/dog.jpg", CopySource={"Bucket": bucket, "Key": "my photos/cat.jpg"})
    assert lab.async_queue.wait_idle(60)
    assert [e["result"].payload["Records"][0]["s3"]["object"]["key"] if e.get("result") else None
            for e in _invokes(lab, "jpegs")] == ["my+photos/cat.jpg"]
    reasons = [e["reason"] for e in lab.record.events(kind="filtered", function="jpegs")]
    assert "key 'my+photos/cat.jpg' (as the record carries it) does not match prefix 'my photos/'" in reasons
    assert any("does not match prefix 'my+photos/' and suffix '.jpg'" in r and "cat.png" in r for r in reasons)
    assert "no configuration of the bucket takes ObjectCreated:Copy" in [
        e["reason"] for e in lab.record.events(kind="filtered") if e["key"] == "my photos/dog.jpg"]


# -- S3's validation -------------------------------------------------------------------------------------------
def test_s3_refuses_what_it_cannot_deliver_and_keeps_the_configuration_it_had(make_lab):
    lab = make_lab("process")
    s3, bucket = lab.aws.client("s3"), _name("checks")
    s3.create_bucket(Bucket=bucket)
    fn = lab.deploy("handler", RETURN_EVENT, memory_mb=1769)
    good = {"LambdaFunctionConfigurations": [_lambda_rule(fn, rule_id="good", prefix="in/")]}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=good)

    def refused(config, **kwargs):
        with pytest.raises(botocore.exceptions.ClientError) as error:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config, **kwargs)
        return error.value.response["Error"]

    error = refused({"LambdaFunctionConfigurations": [
        _lambda_rule(fn, ["s3:ObjectCreated:*"], prefix="in/"),
        _lambda_rule(fn, ["s3:ObjectCreated:Put"], prefix="in/", suffix=".jpg")]})
    assert error["Code"] == "InvalidArgument" and error["Message"] == AMBIGUOUS
    missing = fn.arn.replace(":handler", ":nobody")
    error = refused({"LambdaFunctionConfigurations": [{"LambdaFunctionArn": missing, "Events": ["s3:ObjectCreated:*"]}]})
    assert error == {"Code": "InvalidArgument", "Message": "Unable to validate the following destination configurations",
                     "ArgumentName": missing, "ArgumentValue": "The destination Lambda does not exist"}
    queue = "arn:aws:sqs:us-east-1:123456789012:" + _name("no-queue")
    assert refused({"QueueConfigurations": [{"QueueArn": queue, "Events": ["s3:ObjectRemoved:*"]}]})[
        "ArgumentValue"] == "The destination queue does not exist"
    topic = "arn:aws:sns:us-east-1:123456789012:" + _name("no-topic")
    assert refused({"TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectRemoved:*"]}]})[
        "ArgumentValue"] == "The destination topic does not exist"
    assert "region is not valid" in refused({"LambdaFunctionConfigurations": [
        {"LambdaFunctionArn": fn.arn.replace("us-east-1", "eu-west-1"), "Events": ["s3:ObjectCreated:*"]}]})["Message"]
    assert refused({"LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn.arn, "Events": ["s3:ObjectMoved:*"]}]})[
        "Message"] == "The event is not supported for notifications"

    kept = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    assert kept == [{"Id": "good", "LambdaFunctionArn": fn.arn, "Events": ["s3:ObjectCreated:*"],
                     "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "in/"}]}}}]
    # SkipDestinationValidation takes what it cannot check; the event then has nowhere to go.
    s3.put_bucket_notification_configuration(Bucket=bucket, SkipDestinationValidation=True, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": missing, "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket=bucket, Key="x", Body=b"")
    [failed] = lab.record.events(kind="delivery_failed", function="nobody")
    assert "ResourceNotFoundException" in failed["error"]
    # An empty configuration removes them all; deleting the bucket forgets it.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError, match="NoSuchBucket"):
        s3.put_bucket_notification_configuration(Bucket=_name("absent"), NotificationConfiguration=good)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=good)
    s3.delete_object(Bucket=bucket, Key="x")
    s3.delete_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket)            # a new bucket of the same name starts with no configuration
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


def test_a_topic_destination_publishes_through_the_lab(make_lab):
    lab = make_lab("process")
    s3, sns, bucket = lab.aws.client("s3"), lab.aws.client("sns"), _name("fanout")
    s3.create_bucket(Bucket=bucket)
    topic = sns.create_topic(Name=_name("uploads"))["TopicArn"]
    sqs, url, queue_arn = _queue(lab.aws, _name("subscriber"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "TopicConfigurations": [{"Id": "fan", "TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket=bucket, Key="k", Body=b"")
    envelopes = _drain(sqs, url)
    assert [e["Subject"] for e in envelopes] == ["Amazon S3 Notification"] * 2
    assert json.loads(envelopes[0]["Message"])["Event"] == "s3:TestEvent"
    record = json.loads(envelopes[1]["Message"])["Records"][0]
    assert record["s3"]["configurationId"] == "fan" and record["userIdentity"]["principalId"]


def test_the_lab_delivers_exactly_once_and_moto_not_at_all(make_lab):
    lab = make_lab("process")
    s3, bucket = lab.aws.client("s3"), _name("once")
    s3.create_bucket(Bucket=bucket)
    fn = lab.deploy("counted", RETURN_EVENT, memory_mb=1769)
    sqs, url, queue_arn = _queue(lab.aws, _name("once"))
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [_lambda_rule(fn, prefix="a/")],
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"], "Filter": _prefix("b/")}],
        "EventBridgeConfiguration": {}})
    from moto.s3.models import s3_backends
    moto_bucket = s3_backends["123456789012"]["aws"].get_bucket(bucket)
    # moto keeps only what it delivers right (EventBridge); the rest is the lab's.
    assert moto_bucket.notification_configuration.cloud_function == []
    assert moto_bucket.notification_configuration.queue == []
    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket=bucket)
    for n in range(3):
        s3.put_object(Bucket=bucket, Key=f"a/{n}", Body=b"x")
        s3.put_object(Bucket=bucket, Key=f"b/{n}", Body=b"x")
    assert lab.async_queue.wait_idle(60)
    assert len(_invokes(lab, "counted")) == 3
    messages = _drain(sqs, url)
    assert [m.get("Event") or m["Records"][0]["s3"]["object"]["key"] for m in messages] == [
        "s3:TestEvent", "b/0", "b/1", "b/2"]


# -- the classic pitfall: a function that writes into its own trigger bucket ------------------------------------
WRITE_PROCESSED = textwrap.dedent("""
    import boto3, urllib.parse
    s3 = boto3.client("s3")

    def handler(event, context):
        record = event["Records"][0]["s3"]
        key = urllib.parse.unquote_plus(record["object"]["key"])
        body = s3.get_object(Bucket=record["bucket"]["name"], Key=key)["Body"].read()
        target = TARGET or record["bucket"]["name"]
        s3.put_object(Bucket=target, Key="processed/" + key.split("/", 1)[1], Body=body.upper())
        return key
""")


@pytest.mark.parametrize("guard", ["prefix", "second bucket"])
def test_the_guards_aws_recommends_keep_a_writing_function_to_one_run_per_upload(lab, guard):
    s3, bucket = lab.aws.client("s3"), _name("trigger")
    s3.create_bucket(Bucket=bucket)
    target = None
    if guard == "second bucket":
        target = _name("output")
        s3.create_bucket(Bucket=target)
    fn = lab.deploy("process", WRITE_PROCESSED.replace("TARGET", repr(target)), memory_mb=1769, timeout_s=30)
    # The trigger covers uploads/ only; the function writes processed/ (or to a bucket with no trigger).
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [_lambda_rule(fn, prefix="uploads/")]})
    for n in range(3):
        s3.put_object(Bucket=bucket, Key=f"uploads/{n}.txt", Body=f"file {n}".encode())
    # A run that the function's own write started would be queued before that write returns.
    assert lab.async_queue.wait_idle(120)
    runs = _invokes(lab, "process")
    assert len(runs) == 3 and {r["status"] for r in runs} == {"success"}, [r.get("result") for r in runs]
    written = s3.list_objects_v2(Bucket=target or bucket, Prefix="processed/")["Contents"]
    assert sorted(o["Key"] for o in written) == ["processed/0.txt", "processed/1.txt", "processed/2.txt"]
    assert s3.get_object(Bucket=target or bucket, Key="processed/1.txt")["Body"].read() == b"FILE 1"
    if guard == "prefix":
        # The function's own writes reached the trigger and were filtered out, by the prefix.
        filtered = [e for e in lab.record.events(kind="filtered", function="process")]
        assert sorted(e["key"] for e in filtered) == ["processed/0.txt", "processed/1.txt", "processed/2.txt"]
        # They came from inside the function, with its role's temporary credentials.
        assert all(e["principal_id"].startswith("AWS:AROA") for e in filtered)


def test_a_topic_destination_reaches_a_function_subscribed_to_the_topic(make_lab):
    # The lab publishes through its own endpoint, so the lab's SNS subscriptions see the message.
    lab = make_lab("process")
    s3, sns, bucket = lab.aws.client("s3"), lab.aws.client("sns"), _name("via-sns")
    s3.create_bucket(Bucket=bucket)
    fn = lab.deploy("subscriber", RETURN_EVENT, memory_mb=1769)
    topic = sns.create_topic(Name=_name("uploads"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "TopicConfigurations": [{"Id": "to-topic", "TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]})
    assert lab.async_queue.wait_idle(60)     # the s3:TestEvent's invocation ends first: only the latest
    s3.put_object(Bucket=bucket, Key="photo.jpg", Body=b"jpg")   # invocation keeps its result
    assert lab.async_queue.wait_idle(60)
    invokes = lab.record.events(kind="invoke", function="subscriber")
    assert [e["source"] for e in invokes] == ["sns", "sns"]          # the s3:TestEvent, then the record
    message = invokes[-1]["result"].payload["Records"][0]["Sns"]
    assert message["Subject"] == "Amazon S3 Notification"
    assert json.loads(message["Message"])["Records"][0]["s3"]["object"]["key"] == "photo.jpg"

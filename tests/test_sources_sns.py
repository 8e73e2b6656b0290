"""SNS topics fanning out to real functions: lambda subscriptions on the embedded SNS, the event as
Lambda receives it, filter policies on attributes and on the body, the limits AWS enforces, and
what moto would have done itself, neutralised."""

import json
import re
import uuid

import pytest
from botocore.exceptions import ClientError

from lambdalab_ext import VirtualClock

ECHO = "def handler(event, context):\n    return event\n"
SIGNATURE = re.compile(r"[A-Za-z0-9+/]{342}==")        # base64 of 256 bytes, an RSA-2048 signature's length
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def invocations(lab):
    """(function, payload) of every invoke from now on, taken as it is recorded."""
    seen = []

    def keep(event):
        if event.kind == "invoke":
            seen.append((event.function, event["result"].payload))
    lab.record.subscribe(keep)
    return seen


def _setup(lab, names=("echo",)):
    # moto's state outlives a lab (its backends are the process's): each test has its own topic.
    fns = [lab.deploy(name, ECHO, memory_mb=1769) for name in names]
    sns = lab.aws.client("sns")
    topic = sns.create_topic(Name=f"orders-{uuid.uuid4().hex[:8]}")["TopicArn"]
    return sns, topic, fns


def _string(value):
    return {"DataType": "String", "StringValue": value}


def test_a_message_fans_out_to_every_subscribed_function_as_lambda_receives_it(make_lab):
    lab = make_lab("process", clock=VirtualClock(start=1_700_000_000.25))
    seen = invocations(lab)
    sns, topic, fns = _setup(lab, ("first", "second"))
    subs = {fn.name: sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn)["SubscriptionArn"] for fn in fns}
    message_id = sns.publish(TopicArn=topic, Message="order 42", Subject="New order",
                             MessageAttributes={"store": _string("example_corp"),
                                                "price": {"DataType": "Number", "StringValue": "210.75"},
                                                "tags": {"DataType": "String.Array", "StringValue": '["a", "b"]'},
                                                "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})["MessageId"]
    assert lab.async_queue.wait_idle(60)
    assert sorted(name for name, _ in seen) == ["first", "second"]
    for name, event in seen:
        record, = event["Records"]
        assert list(record) == ["EventVersion", "EventSubscriptionArn", "EventSource", "Sns"]
        assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
        assert record["EventSubscriptionArn"] == subs[name]
        sns_part = record["Sns"]
        assert list(sns_part) == ["SignatureVersion", "Timestamp", "Signature", "SigningCertUrl", "MessageId", "Message",
                                  "MessageAttributes", "Type", "UnsubscribeUrl", "TopicArn", "Subject"]
        assert sns_part["Type"] == "Notification" and sns_part["MessageId"] == message_id
        assert sns_part["TopicArn"] == topic and sns_part["Message"] == "order 42" and sns_part["Subject"] == "New order"
        assert sns_part["Timestamp"] == "2023-11-14T22:13:20.250Z"          # the lab clock
        assert SIGNATURE.fullmatch(sns_part["Signature"]) and sns_part["SignatureVersion"] == "1"
        assert sns_part["SigningCertUrl"].startswith(f"https://sns.{lab.region}.amazonaws.com/SimpleNotificationService-")
        assert sns_part["UnsubscribeUrl"] == (f"https://sns.{lab.region}.amazonaws.com/?Action=Unsubscribe&"
                                              f"SubscriptionArn={subs[name]}")
        assert sns_part["MessageAttributes"] == {"store": {"Type": "String", "Value": "example_corp"},
                                                 "price": {"Type": "Number", "Value": "210.75"},
                                                 "tags": {"Type": "String.Array", "Value": '["a", "b"]'},
                                                 "blob": {"Type": "Binary", "Value": "AAE="}}
    notifications = lab.record.events(kind="notification")
    assert {n.function for n in notifications} == {"first", "second"}
    assert {n["message_id"] for n in notifications} == {message_id}
    assert {e["source"] for e in lab.record.events(kind="accepted")} == {"sns"}


def test_a_message_without_subject_or_attributes(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    seen = invocations(lab)
    sns, topic, (fn,) = _setup(lab)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn)
    sns.publish(TopicArn=topic, Message=json.dumps({"id": 1}))
    assert lab.async_queue.wait_idle(60)
    record = seen[0][1]["Records"][0]["Sns"]
    assert record["Subject"] is None and record["MessageAttributes"] == {}
    assert json.loads(record["Message"]) == {"id": 1}


def test_an_attribute_filter_policy_lets_only_its_messages_through(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    seen = invocations(lab)
    sns, topic, (picky, everything) = _setup(lab, ("picky", "everything"))
    policy = {"store": ["example_corp"], "price_usd": [{"numeric": [">=", 100]}]}
    picky_arn = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=picky.arn,
                              Attributes={"FilterPolicy": json.dumps(policy)})["SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=everything.arn)
    price = lambda value: {"DataType": "Number", "StringValue": value}          # noqa: E731
    ids = [sns.publish(TopicArn=topic, Message=str(i), MessageAttributes=attributes)["MessageId"]
           for i, attributes in enumerate([{"store": _string("example_corp"), "price_usd": price("210.75")},
                                           {"store": _string("example_corp"), "price_usd": price("99")},
                                           {"store": _string("other"), "price_usd": price("500")},
                                           {}])]
    assert lab.async_queue.wait_idle(60)
    got = {name: sorted(p["Records"][0]["Sns"]["Message"] for n, p in seen if n == name)
           for name in ("picky", "everything")}
    assert got == {"picky": ["0"], "everything": ["0", "1", "2", "3"]}
    filtered = lab.record.events(kind="filtered", function="picky")
    assert [f["message_id"] for f in filtered] == ids[1:] and {f["subscription_arn"] for f in filtered} == {picky_arn}


def test_a_body_filter_policy_set_on_an_existing_subscription(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    seen = invocations(lab)
    sns, topic, (fn,) = _setup(lab)
    arn = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn)["SubscriptionArn"]
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicyScope", AttributeValue="MessageBody")
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue=json.dumps(
        {"order": {"total": [{"numeric": [">", 100]}], "$or": [{"vip": [True]}, {"country": [{"prefix": "F"}]}]}}))
    for body in ({"order": {"total": 150, "vip": True}}, {"order": {"total": 150, "country": "France"}},
                 {"order": {"total": 50, "vip": True}}, {"order": {"total": 150, "country": "Spain"}}, "not json"):
        sns.publish(TopicArn=topic, Message=json.dumps(body) if isinstance(body, dict) else body)
    assert lab.async_queue.wait_idle(60)
    assert sorted(json.loads(p["Records"][0]["Sns"]["Message"])["order"].get("country", "vip") for _, p in seen) == \
        ["France", "vip"]
    assert lab.record.count("filtered", function=fn.name) == 3
    # Removing the policy lets everything through again.
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue="")
    sns.publish(TopicArn=topic, Message="anything")
    assert lab.async_queue.wait_idle(60)
    assert len(seen) == 3


def test_publish_batch_invokes_once_per_entry(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    seen = invocations(lab)
    sns, topic, (fn,) = _setup(lab)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn,
                  Attributes={"FilterPolicy": json.dumps({"kind": ["keep"]})})
    out = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "one", "Subject": "s1", "MessageAttributes": {"kind": _string("keep")}},
        {"Id": "b", "Message": "two", "MessageAttributes": {"kind": _string("drop")}},
        {"Id": "c", "Message": "three", "MessageAttributes": {"kind": _string("keep")}}])
    assert lab.async_queue.wait_idle(60)
    ids = {entry["Id"]: entry["MessageId"] for entry in out["Successful"]}
    got = sorted((p["Records"][0]["Sns"]["MessageId"], p["Records"][0]["Sns"]["Message"]) for _, p in seen)
    assert got == sorted([(ids["a"], "one"), (ids["c"], "three")])
    assert [f["message_id"] for f in lab.record.events(kind="filtered")] == [ids["b"]]


def test_unsubscribe_and_delete_topic_stop_the_deliveries(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    seen = invocations(lab)
    sns, topic, (fn,) = _setup(lab)
    arn = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn)["SubscriptionArn"]
    sns.publish(TopicArn=topic, Message="1")
    sns.unsubscribe(SubscriptionArn=arn)
    sns.publish(TopicArn=topic, Message="2")
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn)
    sns.delete_topic(TopicArn=topic)
    topic = sns.create_topic(Name=topic.split(":")[-1])["TopicArn"]
    sns.publish(TopicArn=topic, Message="3")
    assert lab.async_queue.wait_idle(60)
    assert [p["Records"][0]["Sns"]["Message"] for _, p in seen] == ["1"]


def test_message_structure_json_gives_the_lambda_message(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    seen = invocations(lab)
    sns, topic, (fn,) = _setup(lab)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn)
    sns.publish(TopicArn=topic, MessageStructure="json",
                Message=json.dumps({"default": "for everyone", "lambda": "for functions", "sqs": "for queues"}))
    sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({"default": "for everyone"}))
    assert lab.async_queue.wait_idle(60)
    assert sorted(p["Records"][0]["Sns"]["Message"] for _, p in seen) == ["for everyone", "for functions"]


def test_a_policy_over_the_limits_is_refused_with_awss_error(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    sns, topic, (fn,) = _setup(lab)
    too_many_keys = json.dumps({f"key{i}": [f"value{i}"] for i in range(6)})
    with pytest.raises(ClientError) as refused:
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn, Attributes={"FilterPolicy": too_many_keys})
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
    assert refused.value.response["Error"]["Message"] == \
        "Invalid parameter: Attributes Reason: FilterPolicy: Filter policy can not have more than 5 keys"
    # AWS creates no subscription when Subscribe fails (moto had made it before checking).
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    arn = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn)["SubscriptionArn"]
    too_complex = json.dumps({"key": [f"value{i}" for i in range(151)]})
    with pytest.raises(ClientError) as refused:
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue=too_complex)
    assert refused.value.response["Error"]["Message"] == "Invalid parameter: FilterPolicy: Filter policy is too complex"
    with pytest.raises(ClientError) as refused:
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicy",
                                        AttributeValue=json.dumps({"a": {"b": ["nested"]}}))
    assert refused.value.response["Error"]["Message"] == \
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
    with pytest.raises(ClientError) as refused:
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicyScope", AttributeValue="Body")
    assert refused.value.response["Error"]["Message"] == \
        "Invalid parameter: FilterPolicyScope: Invalid value [Body]. Please use either MessageBody or MessageAttributes"
    with pytest.raises(ClientError) as refused:
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue="{not json")
    assert refused.value.response["Error"]["Message"].startswith("Invalid parameter: FilterPolicy: ")
    assert "FilterPolicy" not in sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]


def test_moto_never_runs_a_lambda_subscription_nor_skips_the_others(make_lab):
    # moto alone: Publish called moto's own Lambda, which does not know the lab's functions, and the
    # call failed (the SQS subscription after it never got the message). Pinned here: once each.
    lab = make_lab("process", clock=VirtualClock())
    seen = invocations(lab)
    sns, topic, (fn,) = _setup(lab)
    sqs = lab.aws.client("sqs")
    url = sqs.create_queue(QueueName="orders-copy")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    message_id = sns.publish(TopicArn=topic, Message="hello")["MessageId"]
    assert lab.async_queue.wait_idle(60)
    assert [p["Records"][0]["Sns"]["MessageId"] for _, p in seen] == [message_id]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    assert [m["Body"] for m in messages] == ["hello"]
    assert lab.record.count("invoke", function=fn.name) == 1


def test_moto_filters_its_own_subscriptions_with_awss_rules(make_lab):
    # A policy AWS accepts (150 combinations across $or branches) that moto's own check refused, and
    # a suffix filter moto's matcher did not know: the SQS subscription follows AWS.
    lab = make_lab("process", clock=VirtualClock())
    sns, topic, _ = _setup(lab)
    sqs = lab.aws.client("sqs")
    url = sqs.create_queue(QueueName="filtered-copy")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {"source": ["aws.cloudwatch", "aws.events", "aws.test"],
              "$or": [{"metricName": ["CPUUtilization", "ReadLatency", "v1", "v2", "v3", "v4"]},
                      {"metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
                       "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4, 5, 6, 7]}]}]}
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={
        "FilterPolicy": json.dumps(policy), "RawMessageDelivery": "true"})
    arn = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn + "-never")["SubscriptionArn"]
    sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicy",
                                    AttributeValue=json.dumps({"file": [{"suffix": ".png"}]}))
    sns.publish(TopicArn=topic, Message="kept", MessageAttributes={
        "source": _string("aws.events"), "metricType": _string("TestType"),
        "spaceId": {"DataType": "Number", "StringValue": "7"}})
    sns.publish(TopicArn=topic, Message="dropped", MessageAttributes={"source": _string("aws.events")})
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    assert [m["Body"] for m in messages] == ["kept"]


def test_a_function_of_another_account_is_not_invoked(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    sns, topic, (fn,) = _setup(lab)
    elsewhere = fn.arn.replace(lab.account_id, "999999999999")
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=elsewhere)
    sns.publish(TopicArn=topic, Message="x")
    failed, = lab.record.events(kind="delivery_failed")
    assert failed["via"] == "sns" and "not a function of this lab" in failed["error"]
    assert lab.record.count("accepted") == 0


def test_a_message_on_a_docker_function(make_lab):
    lab = make_lab("docker", clock=VirtualClock())
    seen = invocations(lab)
    sns, topic, (fn,) = _setup(lab)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn,
                  Attributes={"FilterPolicyScope": "MessageBody", "FilterPolicy": json.dumps({"kind": ["order"]})})
    sns.publish(TopicArn=topic, Message=json.dumps({"kind": "order", "n": 1}))
    sns.publish(TopicArn=topic, Message=json.dumps({"kind": "refund", "n": 2}))
    assert lab.async_queue.wait_idle(120)
    assert [json.loads(p["Records"][0]["Sns"]["Message"])["n"] for _, p in seen] == [1]


def test_an_s3_notification_through_a_topic_reaches_the_function(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    seen = invocations(lab)
    sns, topic, (fn,) = _setup(lab)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn)
    s3 = lab.aws.client("s3")
    bucket = f"uploads-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"TopicConfigurations": [
        {"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket=bucket, Key="photo.png", Body=b"x")
    assert lab.async_queue.wait_idle(60)
    messages = [json.loads(p["Records"][0]["Sns"]["Message"]) for _, p in seen]
    created = [m for m in messages if "Records" in m]
    assert [m["Records"][0]["s3"]["object"]["key"] for m in created] == ["photo.png"]

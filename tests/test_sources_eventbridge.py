"""EventBridge rules and schedules invoking real functions: PutEvents on the embedded EventBridge,
patterns and input transformers, schedules at their moments on a virtual clock, and what moto would
have done itself, neutralised."""

import datetime
import doctest
import json

import pytest
from botocore.exceptions import ClientError

from lambdalab_ext import VirtualClock
from lambdalab_ext.sources import eventbridge
from lambdalab_ext.sources.eventbridge import (ScheduleExpressionError, parse_schedule, target_payload,
                                               transform_input)

ECHO = "def handler(event, context):\n    return event\n"
UTC = datetime.timezone.utc
MONDAY_2024 = datetime.datetime(2024, 1, 1, tzinfo=UTC).timestamp()     # a Monday, 00:00 UTC


def invocations(lab):
    """(lab time, function, payload) of every invoke from now on, taken as it is recorded (the
    record keeps only a function's latest result)."""
    seen = []

    def keep(event):
        if event.kind == "invoke":
            seen.append((event.at, event.function, event["result"].payload))
    lab.record.subscribe(keep)
    return seen


def test_doctests():
    assert doctest.testmod(eventbridge).failed == 0


# -- schedule expressions (pure) ---------------------------------------------------------------------
@pytest.mark.parametrize("expression, seconds", [("rate(1 minute)", 60), ("rate(5 minutes)", 300),
                                                 ("rate(1 hour)", 3600), ("rate(12 hours)", 43200),
                                                 ("rate(1 day)", 86400), ("rate(7 days)", 604800)])
def test_rate_expressions(expression, seconds):
    schedule = parse_schedule(expression)
    assert schedule.period_s == seconds and schedule.first_after(100) == 100 + seconds


@pytest.mark.parametrize("expression, first_four", [
    # The examples of "Creating an Amazon EventBridge rule that runs on a schedule", from Monday 2024-01-01.
    ("cron(0 10 * * ? *)", ["Mon 01 10:00", "Tue 02 10:00", "Wed 03 10:00", "Thu 04 10:00"]),
    ("cron(15 12 * * ? *)", ["Mon 01 12:15", "Tue 02 12:15", "Wed 03 12:15", "Thu 04 12:15"]),
    ("cron(0 18 ? * MON-FRI *)", ["Mon 01 18:00", "Tue 02 18:00", "Wed 03 18:00", "Thu 04 18:00"]),
    ("cron(0 8 1 * ? *)", ["Mon 01 08:00", "Thu 01 08:00", "Fri 01 08:00", "Mon 01 08:00"]),
    ("cron(0/15 * * * ? *)", ["Mon 01 00:15", "Mon 01 00:30", "Mon 01 00:45", "Mon 01 01:00"]),
    ("cron(0/5 8-17 ? * MON-FRI *)", ["Mon 01 08:00", "Mon 01 08:05", "Mon 01 08:10", "Mon 01 08:15"]),
    ("cron(5,35 14 * * ? *)", ["Mon 01 14:05", "Mon 01 14:35", "Tue 02 14:05", "Tue 02 14:35"]),
    ("cron(1/10 * * * ? *)", ["Mon 01 00:01", "Mon 01 00:11", "Mon 01 00:21", "Mon 01 00:31"]),
    # The last Friday of each month, 2019-2030 ("6L": 6 is FRI, days count from SUN = 1).
    ("cron(15 10 ? * 6L 2019-2030)", ["Fri 26 10:15", "Fri 23 10:15", "Fri 29 10:15", "Fri 26 10:15"]),
    ("cron(0 9 ? * 3#2 *)", ["Tue 09 09:00", "Tue 13 09:00", "Tue 12 09:00", "Tue 09 09:00"]),   # 2nd Tuesday
    ("cron(0 9 ? * 2-6 *)", ["Mon 01 09:00", "Tue 02 09:00", "Wed 03 09:00", "Thu 04 09:00"]),
    ("cron(0 9 ? * 1 *)", ["Sun 07 09:00", "Sun 14 09:00", "Sun 21 09:00", "Sun 28 09:00"]),
    ("cron(0 9 ? * L *)", ["Sat 06 09:00", "Sat 13 09:00", "Sat 20 09:00", "Sat 27 09:00"]),
    ("cron(0 9 L * ? *)", ["Wed 31 09:00", "Thu 29 09:00", "Sun 31 09:00", "Tue 30 09:00"]),
    ("cron(0 9 3W * ? *)", ["Wed 03 09:00", "Fri 02 09:00", "Mon 04 09:00", "Wed 03 09:00"]),
    ("cron(0 9 ? JAN,MAR SUN#1 *)", ["Sun 07 09:00", "Sun 03 09:00", "Sun 05 09:00", "Sun 02 09:00"]),
])
def test_cron_expressions_follow_awss_syntax(expression, first_four):
    moments = parse_schedule(expression).upcoming(MONDAY_2024, 4)
    assert [m.strftime("%a %d %H:%M") for m in moments] == first_four


def test_the_year_field():
    assert parse_schedule("cron(0 12 1 1 ? 2025)").upcoming(MONDAY_2024, 3) == [
        datetime.datetime(2025, 1, 1, 12, tzinfo=UTC)]
    assert parse_schedule("cron(0 12 1 1 ? 2020-2022)").upcoming(MONDAY_2024, 1) == []
    # AWS's years go to 2199, croniter's to 2099: accepted, and never reached by the lab.
    assert parse_schedule("cron(0 12 1 1 ? 2150)").upcoming(MONDAY_2024, 1) == []


@pytest.mark.parametrize("expression", [
    "rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(1 week)", "rate(-1 minutes)", "cron(0 12 * * ?)",
    "cron(0 12 * * * *)", "cron(0 12 ? * ? *)", "cron(0 12 ? * 3#1,6#3 *)", "cron(0 12 ? * 0 *)",
    "cron(0 12 ? * 8 *)", "cron(60 12 * * ? *)", "cron(0 24 * * ? *)", "cron(0 12 32 * ? *)",
    "cron(0 12 * 13 ? *)", "cron(0 12 * * ? 1969)", "cron(0 12 * JANUARY ? *)", "cron(0 12 ? * FUNDAY *)",
    "cron(0 12 ? * 3#6 *)", "cron(0/0 * * * ? *)", "every minute", "",
])
def test_invalid_schedule_expressions(expression):
    with pytest.raises(ScheduleExpressionError) as refused:
        parse_schedule(expression)
    assert str(refused.value) == "Parameter ScheduleExpression is not valid."


# -- target input (pure) -------------------------------------------------------------------------------
EC2 = {"version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "EC2 Instance State-change Notification",
       "source": "aws.ec2", "account": "123456789012", "time": "2015-11-11T21:29:54Z", "region": "us-east-1",
       "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
       "detail": {"instance-id": "i-0123456789", "state": "RUNNING"}}
PATHS = {"timestamp": "$.time", "instance": "$.detail.instance-id", "state": "$.detail.state", "resource": "$.resources[0]"}


def transform(template, paths=PATHS, event=EC2):
    return transform_input({"InputPathsMap": paths, "InputTemplate": template}, event,
                           rule_arn="arn:aws:events:us-east-2:123456789012:rule/example", rule_name="example",
                           ingestion_time="2015-11-11T21:29:55Z")


@pytest.mark.parametrize("template, output", [
    # "Amazon EventBridge input transformation", the examples' table.
    ('"instance <instance> is in <state>"', '"instance i-0123456789 is in RUNNING"'),
    ('{"instance" : <instance>, "state": <state>}', {"instance": "i-0123456789", "state": "RUNNING"}),
    ('{"instance" : <instance>, "state": "<state>", "instanceStatus": "instance \\"<instance>\\" is in <state>"}',
     {"instance": "i-0123456789", "state": "RUNNING", "instanceStatus": 'instance "i-0123456789" is in RUNNING'}),
    ('{"instance" : <instance>, "state": [ 9, <state>, true ], "Transformed" : "Yes"}',
     {"instance": "i-0123456789", "state": [9, "RUNNING", True], "Transformed": "Yes"}),
    ('{"ruleArn" : <aws.events.rule-arn>, "ruleName" : <aws.events.rule-name>, "resource": <resource>}',
     {"ruleArn": "arn:aws:events:us-east-2:123456789012:rule/example", "ruleName": "example",
      "resource": "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"}),
    ('"<aws.events.rule-name> triggered"', '"example triggered"'),
])
def test_the_input_transformer_examples_of_the_documentation(template, output):
    text = transform(template)
    assert (json.loads(text) if isinstance(output, dict) else text) == output


def test_the_input_transformer_with_objects_missing_paths_and_the_whole_event():
    event = {"detail": {"payload": {"acc_id": "0a787ecb-4015", "sf_id": "baz"}, "listsingle": ["HIGH"], "valid": True}}
    paths = {"payload": "$.detail.payload", "userId": "$.detail.payload.acc_id", "list": "$.detail.listsingle",
             "valid": "$.detail.valid", "missing": "$.detail.notinmessage"}
    # What AWS sends (recorded from AWS): objects and arrays without quotes inside a string template.
    assert transform('"Payload of <payload> and <list>, <valid>, [<missing>]"', paths, event) == \
        '"Payload of {acc_id:0a787ecb-4015,sf_id:baz} and [HIGH], true, []"'
    assert json.loads(transform('{"path": "users/<userId>", "bod": <payload>, "id": <missing>}', paths, event)) == \
        {"path": "users/0a787ecb-4015", "bod": {"acc_id": "0a787ecb-4015", "sf_id": "baz"}, "id": ""}
    whole = json.loads(transform('{"e": <aws.events.event>, "j": <aws.events.event.json>, "t": <aws.events.event.ingestion-time>}'))
    assert whole["j"] == EC2 and "detail" not in whole["e"] and whole["e"]["detailType"] == EC2["detail-type"]
    assert whole["t"] == "2015-11-11T21:29:55Z"


def test_a_target_gets_the_event_its_input_or_its_input_path():
    kwargs = dict(rule_arn="arn", rule_name="r", ingestion_time="t")
    assert json.loads(target_payload({}, EC2, **kwargs)) == EC2
    assert target_payload({"Input": '{"fixed": 1}'}, EC2, **kwargs) == '{"fixed": 1}'
    assert json.loads(target_payload({"InputPath": "$.detail"}, EC2, **kwargs)) == EC2["detail"]
    assert json.loads(target_payload({"InputPath": "$.resources[0]"}, EC2, **kwargs)) == EC2["resources"][0]
    assert json.loads(target_payload({"InputPath": "$['detail-type']"}, EC2, **kwargs)) == EC2["detail-type"]
    with pytest.raises(eventbridge.TargetInputError):        # a JSON value in quotes breaks the JSON
        target_payload({"InputTransformer": {"InputPathsMap": {"d": "$.detail"}, "InputTemplate": '{"d": "<d>"}'}},
                       EC2, **kwargs)
    with pytest.raises(eventbridge.TargetInputError):
        target_payload({"InputPath": "$.nothing.here"}, EC2, **kwargs)


# -- end to end: PutEvents -------------------------------------------------------------------------------
def _rule(ev, name, pattern, fn, bus=None, **target):
    kwargs = {"EventBusName": bus} if bus else {}
    ev.put_rule(Name=name, EventPattern=json.dumps(pattern), **kwargs)
    ev.put_targets(Rule=name, Targets=[{"Id": target.pop("Id", "1"), "Arn": fn.arn, **target}], **kwargs)


# moto's state outlives a lab (its backends are the process's): each test names its own rules.
def test_put_events_invokes_the_matching_function_with_the_event_as_eventbridge_sends_it(make_lab):
    lab = make_lab("process", clock=VirtualClock(start=MONDAY_2024))
    seen = invocations(lab)
    fn = lab.deploy("echo", ECHO, memory_mb=1769)
    ev = lab.aws.client("events")
    _rule(ev, "orders", {"source": ["shop.orders"], "detail": {"total": [{"numeric": [">", 100]}]}}, fn)
    out = ev.put_events(Entries=[
        {"Source": "shop.orders", "DetailType": "Order Placed", "Detail": json.dumps({"total": 250, "items": [1, 2]}),
         "Resources": ["arn:aws:shop:order/1"]},
        {"Source": "shop.orders", "DetailType": "Order Placed", "Detail": json.dumps({"total": 5})},
        {"Source": "other", "DetailType": "Order Placed", "Detail": json.dumps({"total": 999})}])
    assert out["FailedEntryCount"] == 0
    assert lab.async_queue.wait_idle(60)
    assert len(seen) == 1
    _, name, event = seen[0]
    assert name == "echo"
    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert event == {"version": "0", "id": out["Entries"][0]["EventId"], "detail-type": "Order Placed",
                     "source": "shop.orders", "account": lab.account_id, "time": "2024-01-01T00:00:00Z",
                     "region": lab.region, "resources": ["arn:aws:shop:order/1"], "detail": {"total": 250, "items": [1, 2]}}
    notification, = lab.record.events(kind="notification", function="echo")
    assert notification["rule_arn"] == f"arn:aws:events:{lab.region}:{lab.account_id}:rule/orders"
    accepted, = lab.record.events(kind="accepted", function="echo")
    assert accepted["source"] == "events" and accepted["invocation_type"] == "Event"
    filtered = lab.record.events(kind="filtered", function="echo")
    assert [f["event_id"] for f in filtered] == [out["Entries"][1]["EventId"], out["Entries"][2]["EventId"]]


def test_disabled_rules_are_silent_and_deleted_rules_gone(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    seen = invocations(lab)
    fn = lab.deploy("echo", ECHO, memory_mb=1769)
    ev = lab.aws.client("events")
    _rule(ev, "r", {"source": ["app"]}, fn)
    entry = {"Source": "app", "DetailType": "t", "Detail": "{}"}
    ev.disable_rule(Name="r")
    ev.put_events(Entries=[entry])
    ev.enable_rule(Name="r")
    ev.put_events(Entries=[entry])
    ev.remove_targets(Rule="r", Ids=["1"])
    ev.put_events(Entries=[entry])
    ev.put_targets(Rule="r", Targets=[{"Id": "again", "Arn": fn.arn}])
    ev.put_events(Entries=[entry])
    ev.remove_targets(Rule="r", Ids=["again"])
    ev.delete_rule(Name="r")
    ev.put_events(Entries=[entry])
    assert lab.async_queue.wait_idle(60)
    assert len(seen) == 2
    assert [e["target_id"] for e in lab.record.events(kind="notification")] == ["1", "again"]


def test_a_custom_bus_has_its_own_rules(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    seen = invocations(lab)
    fn = lab.deploy("echo", ECHO, memory_mb=1769)
    ev = lab.aws.client("events")
    bus_arn = ev.create_event_bus(Name="shop")["EventBusArn"]
    _rule(ev, "on-shop", {"source": ["app"]}, fn, bus="shop")
    ev.put_events(Entries=[{"Source": "app", "DetailType": "default bus", "Detail": "{}"}])
    ev.put_events(Entries=[{"Source": "app", "DetailType": "by name", "Detail": "{}", "EventBusName": "shop"},
                           {"Source": "app", "DetailType": "by arn", "Detail": "{}", "EventBusName": bus_arn}])
    assert lab.async_queue.wait_idle(60)
    assert sorted(payload["detail-type"] for _, _, payload in seen) == ["by arn", "by name"]
    assert lab.record.events(kind="notification")[0]["rule_arn"].endswith(":rule/shop/on-shop")


def test_input_input_path_and_input_transformer_targets(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    seen = invocations(lab)
    fn = lab.deploy("echo", ECHO, memory_mb=1769)
    ev = lab.aws.client("events")
    ev.put_rule(Name="shapes", EventPattern=json.dumps({"source": ["aws.ec2"]}))
    ev.put_targets(Rule="shapes", Targets=[
        {"Id": "constant", "Arn": fn.arn, "Input": json.dumps({"constant": True})},
        {"Id": "path", "Arn": fn.arn, "InputPath": "$.detail"},
        {"Id": "transformer", "Arn": fn.arn, "InputTransformer": {
            "InputPathsMap": {"instance": "$.detail.instance-id", "state": "$.detail.state"},
            "InputTemplate": '{"message": "instance <instance> is <state>", "rule": <aws.events.rule-name>}'}},
        {"Id": "broken", "Arn": fn.arn, "InputTransformer": {
            "InputPathsMap": {"d": "$.detail"}, "InputTemplate": '{"d": "<d>"}'}}])
    ev.put_events(Entries=[{"Source": "aws.ec2", "DetailType": "EC2 Instance State-change Notification",
                            "Detail": json.dumps({"instance-id": "i-1", "state": "running"})}])
    assert lab.async_queue.wait_idle(60)
    payloads = sorted((json.dumps(p, sort_keys=True) for _, _, p in seen))
    assert payloads == sorted(json.dumps(p, sort_keys=True) for p in [
        {"constant": True}, {"instance-id": "i-1", "state": "running"},
        {"message": "instance i-1 is running", "rule": "shapes"}])
    broken, = lab.record.events(kind="filtered", function="echo")
    assert "not valid JSON" in broken["reason"]


def test_the_api_refuses_what_aws_refuses(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    fn = lab.deploy("echo", ECHO, memory_mb=1769)
    ev = lab.aws.client("events")
    with pytest.raises(ClientError) as refused:
        ev.put_rule(Name="bad", EventPattern='{"source": "aws.ec2"}')
    assert refused.value.response["Error"]["Code"] == "InvalidEventPatternException"
    assert refused.value.response["Error"]["Message"] == \
        'Event pattern is not valid. Reason: "source" must be an object or an array'
    with pytest.raises(ClientError) as refused:
        ev.put_rule(Name="bad", EventPattern='{"detail": {"x": [{"anything-but": null}]}}')
    assert "Value of anything-but must be an array" in refused.value.response["Error"]["Message"]
    for expression in ("rate(1 minutes)", "cron(0 12 * * * *)", "cron(0 12 ? * 9 *)"):
        with pytest.raises(ClientError) as refused:
            ev.put_rule(Name="bad", ScheduleExpression=expression)
        assert refused.value.response["Error"] == {"Code": "ValidationException",
                                                   "Message": "Parameter ScheduleExpression is not valid."}
    assert "bad" not in [r["Name"] for r in ev.list_rules()["Rules"]]        # nothing was created
    ev.put_rule(Name="ok", EventPattern='{"source": ["x"]}')
    with pytest.raises(ClientError) as refused:
        ev.put_targets(Rule="ok", Targets=[{"Id": "t1", "Arn": fn.arn, "Input": "{}", "InputPath": "$.detail"}])
    assert refused.value.response["Error"]["Message"] == \
        "Only one of Input, InputPath, or InputTransformer must be provided for target t1."
    with pytest.raises(ClientError) as refused:
        ev.put_targets(Rule="ok", Targets=[{"Id": "t1", "Arn": fn.arn, "InputTransformer": {
            "InputPathsMap": {"a": "$.detail"}, "InputTemplate": '"<a> and <notdefinedkey>"'}}])
    assert refused.value.response["Error"]["Message"] == \
        "InputTemplate for target t1 contains invalid placeholder notdefinedkey."


def test_test_event_pattern_answers_as_aws(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    ev = lab.aws.client("events")
    event = json.dumps({"id": "1", "source": "aws.ec2", "detail-type": "x", "account": "123456789012",
                        "region": "us-east-1", "time": "2024-01-01T00:00:00Z", "resources": [],
                        "detail": {"state": "running"}})
    assert ev.test_event_pattern(EventPattern='{"detail": {"state": [{"prefix": "run"}]}}', Event=event)["Result"]
    assert not ev.test_event_pattern(EventPattern='{"source": ["aws.s3"]}', Event=event)["Result"]
    with pytest.raises(ClientError) as refused:
        ev.test_event_pattern(EventPattern='{"source": ["aws.s3"]}', Event='{"source": "aws.s3"}')
    assert refused.value.response["Error"]["Message"] == "Parameter Event is not valid."


def test_moto_neither_runs_lambda_targets_nor_delivers_for_disabled_rules(make_lab):
    # moto alone: NotImplementedError for a Lambda target (PutEvents failed as a whole), SQS targets
    # of disabled rules served, schedule-only rules matching every event. Pinned here.
    lab = make_lab("process", clock=VirtualClock())
    seen = invocations(lab)
    fn = lab.deploy("echo", ECHO, memory_mb=1769)
    ev, sqs = lab.aws.client("events"), lab.aws.client("sqs")
    url = sqs.create_queue(QueueName="copy")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ev.put_rule(Name="both", EventPattern=json.dumps({"source": ["app"]}))
    ev.put_targets(Rule="both", Targets=[{"Id": "fn", "Arn": fn.arn}, {"Id": "q", "Arn": queue_arn}])
    ev.put_rule(Name="off", EventPattern=json.dumps({"source": ["app"]}), State="DISABLED")
    ev.put_targets(Rule="off", Targets=[{"Id": "q", "Arn": queue_arn}, {"Id": "fn", "Arn": fn.arn}])
    ev.put_rule(Name="nightly", ScheduleExpression="cron(0 2 * * ? *)")
    ev.put_targets(Rule="nightly", Targets=[{"Id": "q", "Arn": queue_arn}])
    out = ev.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": json.dumps({"n": 1})}])
    assert out["FailedEntryCount"] == 0 and "EventId" in out["Entries"][0]
    assert lab.async_queue.wait_idle(60)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    assert len(messages) == 1 and json.loads(messages[0]["Body"])["detail"] == {"n": 1}
    assert len(seen) == 1 and seen[0][2]["id"] == out["Entries"][0]["EventId"]


def _queue(lab, name, **attributes):
    sqs = lab.aws.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return sqs, url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _bodies(sqs, url):
    got = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return got
        got += [m["Body"] for m in batch]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(batch)])


def test_sqs_and_sns_targets_get_the_event_or_their_input_as_aws_sends_it(make_lab):
    # moto alone would send the whole event to an SQS target whatever its Input or InputPath, and
    # has no SNS target at all.
    lab = make_lab("process", clock=VirtualClock(start=MONDAY_2024))
    ev = lab.aws.client("events")
    sqs, whole_url, whole_arn = _queue(lab, "whole")
    _, constant_url, constant_arn = _queue(lab, "constant")
    _, path_url, path_arn = _queue(lab, "path")
    _, fifo_url, fifo_arn = _queue(lab, "ordered.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    _, fanned_url, fanned_arn = _queue(lab, "fanned")
    sns = lab.aws.client("sns")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=fanned_arn, Attributes={"RawMessageDelivery": "true"})
    ev.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"], "detail": {"total": [{"numeric": [">", 10]}]}}))
    ev.put_targets(Rule="orders", Targets=[
        {"Id": "whole", "Arn": whole_arn}, {"Id": "constant", "Arn": constant_arn, "Input": '{"kind": "big order"}'},
        {"Id": "path", "Arn": path_arn, "InputPath": "$.detail"},
        {"Id": "fifo", "Arn": fifo_arn, "SqsParameters": {"MessageGroupId": "orders"}},
        {"Id": "topic", "Arn": topic, "InputTransformer": {"InputPathsMap": {"t": "$.detail.total"},
                                                            "InputTemplate": '"total <t>"'}}])
    out = ev.put_events(Entries=[{"Source": "shop", "DetailType": "order", "Detail": json.dumps({"total": 12})},
                                 {"Source": "shop", "DetailType": "order", "Detail": json.dumps({"total": 3})}])
    assert out["FailedEntryCount"] == 0
    [whole] = _bodies(sqs, whole_url)
    assert json.loads(whole)["id"] == out["Entries"][0]["EventId"] and json.loads(whole)["detail"] == {"total": 12}
    assert [json.loads(b) for b in _bodies(sqs, constant_url)] == [{"kind": "big order"}]
    assert [json.loads(b) for b in _bodies(sqs, path_url)] == [{"total": 12}]
    assert [json.loads(b)["detail"] for b in _bodies(sqs, fifo_url)] == [{"total": 12}]
    assert _bodies(sqs, fanned_url) == ['"total 12"']
    sent = lab.record.events(kind="notification")
    assert sorted(e["target_id"] for e in sent) == ["constant", "fifo", "path", "topic", "whole"]
    assert len(lab.record.events(kind="filtered")) == 5        # the order of 3, once per target

    # A schedule sends its Scheduled Event to a queue target at each moment of the lab clock.
    ev.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")
    ev.put_targets(Rule="every-minute", Targets=[{"Id": "q", "Arn": whole_arn}])
    lab.clock.advance(180)
    events = [json.loads(b) for b in _bodies(sqs, whole_url)]
    assert [e["detail-type"] for e in events] == ["Scheduled Event"] * 3
    assert [e["time"] for e in events] == ["2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z", "2024-01-01T00:03:00Z"]

    # A queue that is gone is a failed delivery, recorded; the rule's other targets still get theirs.
    sqs.delete_queue(QueueUrl=constant_url)
    ev.put_events(Entries=[{"Source": "shop", "DetailType": "order", "Detail": json.dumps({"total": 50})}])
    [failed] = lab.record.events(kind="delivery_failed")
    assert failed["target"] == constant_arn and "NonExistentQueue" in failed["error"]
    assert [json.loads(b) for b in _bodies(sqs, path_url)] == [{"total": 50}]


def test_events_moto_puts_on_a_bus_itself_reach_the_functions_once(make_lab):
    # An event bus as a rule's target, and S3's EventBridge notifications: moto hands these to the
    # rules in-process, never through the endpoint.
    lab = make_lab("process", clock=VirtualClock())
    seen = invocations(lab)
    fn = lab.deploy("echo", ECHO, memory_mb=1769)
    ev, s3 = lab.aws.client("events"), lab.aws.client("s3")
    second = ev.create_event_bus(Name="second-bus")["EventBusArn"]
    ev.put_rule(Name="forward", EventPattern=json.dumps({"source": ["app"]}))
    ev.put_targets(Rule="forward", Targets=[{"Id": "bus", "Arn": second}])
    _rule(ev, "on-second", {"source": ["app"]}, fn, bus="second-bus")
    ev.put_events(Entries=[{"Source": "app", "DetailType": "forwarded", "Detail": '{"k": 1}'}])
    s3.create_bucket(Bucket="uploads-to-eventbridge")
    s3.put_bucket_notification_configuration(Bucket="uploads-to-eventbridge",
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    _rule(ev, "object-created", {"source": ["aws.s3"], "detail-type": ["Object Created"],
                                 "detail": {"bucket": {"name": ["uploads-to-eventbridge"]}}}, fn)
    s3.put_object(Bucket="uploads-to-eventbridge", Key="a.txt", Body=b"hi")
    s3.put_object(Bucket="uploads-to-eventbridge", Key="b.txt", Body=b"hi")
    assert lab.async_queue.wait_idle(60)
    by_type = sorted((p["detail-type"], p["detail"].get("object", {}).get("key")) for _, _, p in seen)
    assert by_type == [("Object Created", "a.txt"), ("Object Created", "b.txt"), ("forwarded", None)]
    assert len({p["id"] for _, _, p in seen}) == 3


# -- schedules on a virtual clock ------------------------------------------------------------------------
def test_a_rate_of_one_minute_for_an_hour_is_sixty_real_invocations_at_their_moments(make_lab):
    clock = VirtualClock(start=MONDAY_2024)
    lab = make_lab("process", clock=clock)
    seen = invocations(lab)
    fn = lab.deploy("tick", ECHO, memory_mb=1769)
    ev = lab.aws.client("events")
    rule_arn = ev.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")["RuleArn"]
    ev.put_targets(Rule="every-minute", Targets=[{"Id": "1", "Arn": fn.arn}])
    clock.advance(3600)                      # returns once the 60 invocations have run
    assert len(seen) == 60
    assert [at - MONDAY_2024 for at, _, _ in seen] == [60.0 * k for k in range(1, 61)]
    first = seen[0][2]
    assert first == {"version": "0", "account": lab.account_id, "region": lab.region, "detail": {},
                     "detail-type": "Scheduled Event", "source": "aws.events", "time": "2024-01-01T00:01:00Z",
                     "id": first["id"], "resources": [rule_arn]}
    assert seen[-1][2]["time"] == "2024-01-01T01:00:00Z"
    assert len({payload["id"] for _, _, payload in seen}) == 60
    schedule = lab.record.events(kind="schedule")
    assert len(schedule) == 60 and schedule[0]["targets"] == ["tick"] and schedule[0]["rule_arn"] == rule_arn
    invokes = lab.record.events(kind="invoke", function="tick")
    assert sum(e["cold"] for e in invokes) == 1           # one warm environment served them all
    assert {e["source"] for e in invokes} == {"events"}


def test_a_weekday_noon_cron_over_a_virtual_week_fires_five_times(make_lab):
    clock = VirtualClock(start=MONDAY_2024 - 3 * 86400)     # Friday 2023-12-29, 00:00 UTC
    lab = make_lab("process", clock=clock)
    seen = invocations(lab)
    fn = lab.deploy("noon", ECHO, memory_mb=1769)
    ev = lab.aws.client("events")
    ev.put_rule(Name="weekdays", ScheduleExpression="cron(0 12 ? * MON-FRI *)")
    ev.put_targets(Rule="weekdays", Targets=[{"Id": "1", "Arn": fn.arn}])
    clock.advance(7 * 86400)
    moments = [datetime.datetime.fromtimestamp(at, UTC) for at, _, _ in seen]
    assert [m.strftime("%a %Y-%m-%d %H:%M:%S") for m in moments] == [
        "Fri 2023-12-29 12:00:00", "Mon 2024-01-01 12:00:00", "Tue 2024-01-02 12:00:00",
        "Wed 2024-01-03 12:00:00", "Thu 2024-01-04 12:00:00"]
    assert [payload["time"] for _, _, payload in seen] == [m.strftime("%Y-%m-%dT%H:%M:%SZ") for m in moments]


def test_disabling_changing_and_deleting_a_schedule_cancel_it(make_lab):
    clock = VirtualClock()
    lab = make_lab("process", clock=clock)
    seen = invocations(lab)
    fn = lab.deploy("tick", ECHO, memory_mb=1769)
    ev = lab.aws.client("events")
    ev.put_rule(Name="five", ScheduleExpression="rate(5 minutes)")
    ev.put_targets(Rule="five", Targets=[{"Id": "1", "Arn": fn.arn}])
    clock.advance(600)
    assert [at for at, _, _ in seen] == [300, 600]
    ev.disable_rule(Name="five")
    clock.advance(3600)
    assert len(seen) == 2
    ev.enable_rule(Name="five")                           # a rate counts again from now (t = 4200)
    clock.advance(300)
    assert [at for at, _, _ in seen][2:] == [4500]
    ev.put_rule(Name="five", ScheduleExpression="rate(1 hour)")       # changed: the 5-minute one is gone
    clock.advance(3600)
    assert [at for at, _, _ in seen][3:] == [4500 + 3600]
    ev.remove_targets(Rule="five", Ids=["1"])
    ev.delete_rule(Name="five")
    clock.advance(6 * 3600)
    assert len(seen) == 4
    assert not [c for c in clock.pending() if "schedule" in (c.name or "")]


def test_a_failing_scheduled_function_is_retried_by_lambda_on_the_clock(make_lab):
    clock = VirtualClock()
    lab = make_lab("process", clock=clock)
    fn = lab.deploy("fails", "def handler(event, context):\n    raise ValueError('no')\n", memory_mb=1769)
    ev = lab.aws.client("events")
    ev.put_rule(Name="daily", ScheduleExpression="rate(1 day)")
    ev.put_targets(Rule="daily", Targets=[{"Id": "1", "Arn": fn.arn}])
    clock.advance(86400 + 3600)
    attempts = lab.record.events(kind="attempt", function="fails")
    # The asynchronous invocation's two retries, 1 and 2 minutes after the first and second attempts.
    assert [e.at for e in attempts] == [86400, 86400 + 60, 86400 + 180]
    assert [e["attempt"] for e in attempts] == [1, 2, 3]


def test_shutdown_cancels_the_schedules(make_lab):
    clock = VirtualClock()
    lab = make_lab("process", clock=clock)
    fn = lab.deploy("tick", ECHO, memory_mb=1769)
    ev = lab.aws.client("events")
    ev.put_rule(Name="until-shutdown", ScheduleExpression="rate(1 minute)")
    ev.put_targets(Rule="until-shutdown", Targets=[{"Id": "1", "Arn": fn.arn}])
    assert [c for c in clock.pending() if (c.name or "").startswith("schedule until-shutdown")]
    lab.shutdown()
    assert not [c for c in clock.pending() if (c.name or "").startswith("schedule")]
    clock.advance(600)                                  # nothing runs against a closed lab
    assert not clock.errors


def test_a_rule_and_a_schedule_invoke_a_container_function(make_lab):
    clock = VirtualClock(start=MONDAY_2024)
    lab = make_lab("docker", clock=clock)
    seen = invocations(lab)
    fn = lab.deploy("echo", ECHO, memory_mb=1769)
    ev = lab.aws.client("events")
    _rule(ev, "on-docker", {"source": ["app"], "detail": {"kind": [{"equals-ignore-case": "ORDER"}]}}, fn)
    ev.put_rule(Name="hourly", ScheduleExpression="cron(0 * * * ? *)")
    ev.put_targets(Rule="hourly", Targets=[{"Id": "1", "Arn": fn.arn, "Input": '{"scheduled": true}'}])
    ev.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": '{"kind": "order"}'},
                           {"Source": "app", "DetailType": "t", "Detail": '{"kind": "refund"}'}])
    assert lab.async_queue.wait_idle(120)
    clock.advance(2 * 3600)
    payloads = [p for _, _, p in seen]
    assert payloads[0]["detail"] == {"kind": "order"}
    assert payloads[1:] == [{"scheduled": True}, {"scheduled": True}]
    assert [at - MONDAY_2024 for at, _, _ in seen[1:]] == [3600, 7200]


def test_lab_time_reads_a_virtual_clock_as_epoch_seconds_and_the_real_one_as_the_wall_clock():
    import time as wall
    from lambdalab_ext.clock import RealClock
    virtual = eventbridge.LabTime(VirtualClock(start=MONDAY_2024))
    assert virtual.datetime() == datetime.datetime(2024, 1, 1, tzinfo=UTC)
    real_clock = RealClock()
    try:
        real = eventbridge.LabTime(real_clock)
        assert abs(real.epoch() - wall.time()) < 0.5
        assert abs(real.lab(real.epoch(100.0)) - 100.0) < 1e-6
    finally:
        real_clock.close()


def test_the_source_lists_its_rules_with_the_next_firing(make_lab):
    lab = make_lab("process", clock=VirtualClock(start=MONDAY_2024))
    fn = lab.deploy("echo", ECHO, memory_mb=1769)
    ev = lab.aws.client("events")
    ev.put_rule(Name="listed", ScheduleExpression="cron(30 9 ? * TUE *)")
    ev.put_targets(Rule="listed", Targets=[{"Id": "1", "Arn": fn.arn}])
    source = next(s for s in lab._sources if isinstance(s, eventbridge.EventBridgeSource))
    listed, = [r for r in source.rules() if r["name"] == "listed"]
    assert listed["next_firing"] == datetime.datetime(2024, 1, 2, 9, 30, tzinfo=UTC)
    assert listed["state"] == "ENABLED" and listed["targets"][0]["Arn"] == fn.arn

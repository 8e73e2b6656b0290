"""CloudWatch Logs of the lab's functions, read back with boto3 on the lab's endpoint.

Real functions (process backend; one Docker test) print lines; the logs client reads them back
from ``/aws/lambda/FUNCTION`` with the project's filter patterns; metric filters turn lines into
metrics; a subscription filter invokes a real function with the real ``awslogs`` event.
"""

import json
import re
import threading
import time

import botocore.exceptions
import pytest

from lambdalab_ext.clock import VirtualClock
from lambdalab_ext.observe.logs import LogStore, lambda_log_events
from lambdalab_ext.observe.service import attach, format_event, parse_since

STREAM_RE = re.compile(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}")

PRINTER = """
import json
def handler(event, context):
    print("stream", context.log_stream_name)
    for line in event.get("lines", []):
        print(line if isinstance(line, str) else json.dumps(line))
    if event.get("fail"):
        raise ValueError("boom")
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    return "ok"
"""

SINK = """
import base64, gzip, json
def handler(event, context):
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    print("received", len(payload["logEvents"]), "events")
    return {"payload": payload, "raw_keys": sorted(event), "awslogs_keys": sorted(event["awslogs"])}
"""


@pytest.fixture
def observed(make_lab):
    """``observed(kind, **lab_options) -> (lab, service)``: a lab with its CloudWatch Logs attached."""
    made = []

    def make(kind="process", attach_options=None, **options):
        lab = make_lab(kind, **options)
        # moto's log groups outlive a lab (another test's would be listed here): start from none.
        from moto.logs.models import logs_backends
        for account in list(logs_backends):
            for region in list(logs_backends[account]):
                logs_backends[account][region].groups.clear()
        if getattr(lab, "observability", None) is not None:     # the lab's own: these tests attach theirs
            lab.observability.close()
        service = lab.observability = attach(lab, **(attach_options or {}))
        made.append(service)
        return lab, service

    yield make
    for service in made:
        service.close()


def _error_code(info):
    return info.value.response["Error"]["Code"]


def _messages(events):
    return [e["message"] for e in events]


def _all_filtered(logs, **params):
    events, pages = [], 0
    for page in logs.get_paginator("filter_log_events").paginate(**params):
        events += page["events"]
        pages += 1
    return events, pages


# -- the log group and stream Lambda names --------------------------------------------------------
def test_every_invocation_lands_in_the_functions_group_and_its_environments_stream(observed):
    lab, _ = observed()
    fn = lab.deploy("printer", PRINTER)
    cold = fn.invoke({"lines": ["first line"]})
    warm = fn.invoke({"lines": ["second line"]})
    logs = lab.aws.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws/lambda/printer"]
    assert groups[0]["arn"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/printer:*"
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/printer")["logStreams"]
    assert [s["logStreamName"] for s in streams] == [cold.log_stream_name]
    assert STREAM_RE.fullmatch(cold.log_stream_name) and warm.log_stream_name == cold.log_stream_name
    events = logs.get_log_events(logGroupName="/aws/lambda/printer", logStreamName=cold.log_stream_name,
                                 startFromHead=True)["events"]
    messages = _messages(events)
    # The platform's lines frame each invocation, INIT_START only before the cold one.
    assert messages[0].startswith("INIT_START Runtime Version: ")
    assert messages[1] == f"START RequestId: {cold.request_id} Version: $LATEST"
    assert messages[2] == f"stream {cold.log_stream_name}"        # what context.log_stream_name says
    assert messages[3] == "first line"
    assert messages[4] == f"END RequestId: {cold.request_id}"
    assert messages[5].startswith(f"REPORT RequestId: {cold.request_id}\tDuration: ") and "Init Duration" in messages[5]
    assert messages[6:] == [f"START RequestId: {warm.request_id} Version: $LATEST", f"stream {warm.log_stream_name}",
                            "second line", f"END RequestId: {warm.request_id}", warm.report]
    assert sum(m.startswith("INIT_START") for m in messages) == 1
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert abs(stamps[-1] - time.time() * 1000) < 60_000                # the real clock: epoch milliseconds
    assert streams[0]["lastEventTimestamp"] == stamps[-1] and streams[0]["firstEventTimestamp"] == stamps[0]


def test_a_new_environment_writes_a_new_stream(observed):
    lab, _ = observed()
    fn = lab.deploy("printer", PRINTER)
    first = fn.invoke({"lines": ["from the first environment"]})
    fn.update(memory_mb=256)                     # new configuration, new environments
    second = fn.invoke({"lines": ["from the second environment"]})
    assert first.log_stream_name != second.log_stream_name
    logs = lab.aws.client("logs")
    names = {s["logStreamName"] for s in logs.describe_log_streams(logGroupName="/aws/lambda/printer")["logStreams"]}
    assert names == {first.log_stream_name, second.log_stream_name}
    only = logs.filter_log_events(logGroupName="/aws/lambda/printer", logStreamNames=[second.log_stream_name])
    assert {e["logStreamName"] for e in only["events"]} == {second.log_stream_name}
    assert "from the second environment" in _messages(only["events"])
    assert "from the first environment" not in _messages(only["events"])
    by_time = logs.describe_log_streams(logGroupName="/aws/lambda/printer", orderBy="LastEventTime", descending=True)
    assert by_time["logStreams"][0]["logStreamName"] == second.log_stream_name
    with pytest.raises(botocore.exceptions.ClientError) as info:
        logs.filter_log_events(logGroupName="/aws/lambda/printer", logStreamNames=[first.log_stream_name],
                               logStreamNamePrefix="2")
    assert _error_code(info) == "InvalidParameterException"


def test_errors_and_timeouts_keep_lambdas_platform_lines(observed):
    lab, _ = observed()
    fn = lab.deploy("printer", PRINTER, timeout_s=1)
    failed = fn.invoke({"fail": True})
    timed_out = fn.invoke({"sleep": 3})
    assert failed.error["errorType"] == "ValueError" and timed_out.status == "timeout"
    logs = lab.aws.client("logs")
    boom = logs.filter_log_events(logGroupName="/aws/lambda/printer", filterPattern='"[ERROR] ValueError"')
    assert _messages(boom["events"]) == ["[ERROR] ValueError: boom"]
    timeout = logs.filter_log_events(logGroupName="/aws/lambda/printer", filterPattern='"Task timed out after 1.00 seconds"')
    assert len(timeout["events"]) == 1
    assert timeout["events"][0]["message"].endswith(f"{timed_out.request_id} Task timed out after 1.00 seconds")
    reports = logs.filter_log_events(logGroupName="/aws/lambda/printer", filterPattern='REPORT "Status: timeout"')
    assert [e["message"] for e in reports["events"]] == [timed_out.report]


def test_get_log_events_reads_forward_and_back_with_tokens(observed):
    lab, _ = observed()
    fn = lab.deploy("printer", PRINTER)
    result = fn.invoke({"lines": [f"line {i:02d}" for i in range(25)]})
    logs = lab.aws.client("logs")
    group, stream = "/aws/lambda/printer", result.log_stream_name
    whole = _messages(logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"])
    assert len(whole) == 30                     # INIT_START, START, stream, 25 lines, END, REPORT
    pages, token, seen = [], None, set()
    while True:
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=10, startFromHead=True,
                                   **({"nextToken": token} if token else {}))
        if token == page["nextForwardToken"]:    # the end: the same token comes back
            assert page["events"] == []
            break
        pages.append(_messages(page["events"]))
        token = page["nextForwardToken"]
        assert token not in seen
        seen.add(token)
    assert [len(p) for p in pages] == [10, 10, 10] and sum(pages, []) == whole
    latest = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=10)   # no token: the latest
    assert _messages(latest["events"]) == whole[-10:]
    before = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=10,
                                 nextToken=latest["nextBackwardToken"])
    assert _messages(before["events"]) == whole[-20:-10]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        logs.get_log_events(logGroupName=group, logStreamName="2020/01/01/[$LATEST]" + "0" * 32)
    assert _error_code(info) == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        logs.get_log_events(logGroupName="/aws/lambda/nobody", logStreamName=stream)
    assert _error_code(info) == "ResourceNotFoundException"


# -- filter patterns through FilterLogEvents ----------------------------------------------------------
# Patterns and events from "Filter pattern syntax for metric filters, subscription filters, filter log
# events, and Live Tail": https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
DOC_LINES = [
    "[ERROR 400] BAD REQUEST",
    "[ERROR 401] UNAUTHORIZED REQUEST",
    "[ERROR 419] MISSING ARGUMENTS",
    "[ERROR 420] INVALID ARGUMENTS",
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
    '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324',
    '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355',
    {"eventType": "UpdateTrail", "sourceIPAddress": "111.111.111.111", "arrayKey": ["value", "another value"],
     "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}], "SomeObject": None, "cluster.name": "c1"},
    {"level": "ERROR", "latency": 250, "service": "checkout"},
    {"level": "ERROR", "latency": 50, "service": "checkout"},
    {"level": "INFO", "latency": 900, "service": "search"},
]


@pytest.fixture
def doc_logs(observed):
    lab, service = observed()
    fn = lab.deploy("printer", PRINTER)
    fn.invoke({"lines": DOC_LINES})
    return lab.aws.client("logs"), service


def _matching(logs, pattern):
    return _messages(logs.filter_log_events(logGroupName="/aws/lambda/printer", filterPattern=pattern)["events"])


def test_terms_phrases_or_and_exclusion(doc_logs):
    logs, _ = doc_logs
    json_errors = [json.dumps(DOC_LINES[8]), json.dumps(DOC_LINES[9])]    # terms match inside JSON text too
    assert _matching(logs, "ERROR") == DOC_LINES[:4] + json_errors
    assert _matching(logs, "ERROR ARGUMENTS") == DOC_LINES[2:4]
    assert _matching(logs, "ERROR -ARGUMENTS") == DOC_LINES[:2] + json_errors
    assert _matching(logs, '"BAD REQUEST"') == [DOC_LINES[0]]
    assert _matching(logs, "?ARGUMENTS ?REQUEST") == DOC_LINES[:4]
    assert _matching(logs, "error") == []                     # case-sensitive


def test_json_patterns_match_only_json_events(doc_logs):
    logs, _ = doc_logs
    trail = json.dumps(DOC_LINES[7])
    assert _matching(logs, '{ $.eventType = "UpdateTrail" }') == [trail]
    assert _matching(logs, '{ $.arrayKey[0] = "value" }') == [trail]
    assert _matching(logs, '{ $.objectList[1].id = 2 }') == [trail]
    assert _matching(logs, "{ $.SomeObject IS NULL }") == [trail]
    assert _matching(logs, "{ $.['cluster.name'] = \"c1\" }") == [trail]
    assert _matching(logs, "{ $.sourceIPAddress = 111.111.* }") == [trail]
    # moto would return every event for a JSON pattern: only the ERROR line over 100 ms matches.
    matched = _matching(logs, '{ $.level = "ERROR" && $.latency > 100 }')
    assert matched == [json.dumps(DOC_LINES[8])]
    assert _matching(logs, '{ ($.level = "ERROR" && $.latency > 100) || $.service = "search" }') == \
        [json.dumps(DOC_LINES[8]), json.dumps(DOC_LINES[10])]
    assert _matching(logs, "{ $.nothere NOT EXISTS && $.level = \"INFO\" }") == [json.dumps(DOC_LINES[10])]


def test_space_delimited_and_regex_patterns(doc_logs):
    logs, _ = doc_logs
    access = DOC_LINES[4:7]
    assert _matching(logs, "[ip = 127.0.0.1, user, username, timestamp, request, status_code = 5*, bytes]") == \
        [access[1]]
    assert _matching(logs, "[ip = 127.*, user, ..., status_code = 200, bytes > 4000]") == [access[2]]
    assert _matching(logs, "[ip = 127.*, ..., status_code != 200, bytes]") == [access[1]]
    assert _matching(logs, "%AUTHORIZED%") == [DOC_LINES[1]]
    assert _matching(logs, "%ERROR 4[0-9]{2}\\]%") == DOC_LINES[:4]
    assert _matching(logs, "%ERROR 4[12][09]%") == DOC_LINES[2:4]


def test_a_bad_pattern_is_refused_in_aws_words(doc_logs):
    logs, _ = doc_logs
    with pytest.raises(botocore.exceptions.ClientError) as info:
        logs.filter_log_events(logGroupName="/aws/lambda/printer", filterPattern="Status: timeout")
    assert _error_code(info) == "InvalidParameterException"
    assert "Invalid character(s) in term ':'" in info.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        logs.filter_log_events(logGroupName="/aws/lambda/printer", filterPattern='{ $.level = "ERROR" ')
    assert _error_code(info) == "InvalidParameterException"


def test_filter_log_events_pages_and_time_windows(observed):
    lab, _ = observed(clock=VirtualClock(start=1_735_689_600.0))     # 2025-01-01T00:00:00Z
    fn = lab.deploy("printer", PRINTER)
    for minute in range(3):
        fn.invoke({"lines": [f"minute {minute} line {i}" for i in range(5)]})
        lab.clock.advance(60)
    logs = lab.aws.client("logs")
    events, pages = _all_filtered(logs, logGroupName="/aws/lambda/printer", filterPattern="minute",
                                  PaginationConfig={"PageSize": 4})
    assert _messages(events) == [f"minute {m} line {i}" for m in range(3) for i in range(5)]
    assert pages == 4 and len({e["eventId"] for e in events}) == 15
    assert all(re.fullmatch(r"\d{56}", e["eventId"]) for e in events)
    # The lab clock's moments: each invocation in its own minute of 2025-01-01.
    assert {e["timestamp"] // 60_000 for e in events} == {1_735_689_600 // 60 + m for m in range(3)}
    second = 1_735_689_600_000 + 60_000
    window = logs.filter_log_events(logGroupName="/aws/lambda/printer", filterPattern="line",
                                    startTime=second, endTime=second + 59_999)
    assert _messages(window["events"]) == [f"minute 1 line {i}" for i in range(5)]
    assert "nextToken" not in window
    reports = logs.filter_log_events(logGroupName="/aws/lambda/printer", filterPattern="REPORT", limit=2)
    assert len(reports["events"]) == 2 and "nextToken" in reports
    rest = logs.filter_log_events(logGroupName="/aws/lambda/printer", filterPattern="REPORT",
                                  nextToken=reports["nextToken"])
    assert len(rest["events"]) == 1 and "nextToken" not in rest


def test_other_log_groups_stay_motos(observed):
    lab, _ = observed()
    lab.deploy("printer", PRINTER).invoke({"lines": ["mine"]})
    logs = lab.aws.client("logs")
    logs.create_log_group(logGroupName="app/orders")
    logs.create_log_stream(logGroupName="app/orders", logStreamName="one")
    logs.put_log_events(logGroupName="app/orders", logStreamName="one",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "order 1 placed"}])
    got = logs.get_log_events(logGroupName="app/orders", logStreamName="one")["events"]
    assert _messages(got) == ["order 1 placed"]
    names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert names == ["/aws/lambda/printer", "app/orders"]
    assert [g["logGroupName"] for g in logs.describe_log_groups(limit=1)["logGroups"]] == ["/aws/lambda/printer"]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        logs.create_log_group(logGroupName="/aws/lambda/printer")
    assert _error_code(info) == "ResourceAlreadyExistsException"


AUDITOR = """
import time
import boto3
def handler(event, context):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="app/audit")
    logs.create_log_stream(logGroupName="app/audit", logStreamName=context.aws_request_id)
    logs.put_log_events(logGroupName="app/audit", logStreamName=context.aws_request_id,
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "audited " + event["who"]}])
    print("wrote the audit line")
    return "ok"
"""


def test_a_function_writing_its_own_log_group_goes_through_moto(observed):
    lab, _ = observed()
    result = lab.deploy("auditor", AUDITOR, timeout_s=30).invoke({"who": "ada"})
    assert result.ok, result.payload
    logs = lab.aws.client("logs")
    audit = logs.filter_log_events(logGroupName="app/audit")["events"]
    assert [(e["logStreamName"], e["message"]) for e in audit] == [(result.request_id, "audited ada")]
    own = logs.filter_log_events(logGroupName="/aws/lambda/auditor", filterPattern='"wrote the audit line"')
    assert len(own["events"]) == 1 and own["events"][0]["logStreamName"] == result.log_stream_name


def test_a_log_group_keeps_at_most_its_cap_and_counts_what_it_dropped(observed):
    lab, service = observed(attach_options={"max_events_per_group": 20})
    fn = lab.deploy("printer", PRINTER)
    result = fn.invoke({"lines": [f"line {i}" for i in range(50)]})
    logs = lab.aws.client("logs")
    kept = _messages(logs.filter_log_events(logGroupName="/aws/lambda/printer")["events"])
    assert len(kept) == 20 and kept[-1] == result.report and kept[-3] == "line 49"
    assert service.logs.dropped("/aws/lambda/printer") == 55 - 20   # INIT_START, START, stream, 50, END, REPORT


# -- metric filters -------------------------------------------------------------------------------------
def test_a_metric_filter_turns_log_lines_into_a_metric(observed):
    lab, _ = observed(clock=VirtualClock(start=1_735_689_600.0))
    fn = lab.deploy("printer", PRINTER)
    fn.invoke({})                                           # the group exists once the function has logged
    logs = lab.aws.client("logs")
    logs.put_metric_filter(logGroupName="/aws/lambda/printer", filterName="slow-errors",
                           filterPattern='{ $.level = "ERROR" }',
                           metricTransformations=[{"metricName": "ErrorLatency", "metricNamespace": "Checkout",
                                                   "metricValue": "$.latency", "unit": "Milliseconds"}])
    fn.invoke({"lines": DOC_LINES})
    filters = logs.describe_metric_filters(logGroupName="/aws/lambda/printer")["metricFilters"]
    assert [f["filterName"] for f in filters] == ["slow-errors"]
    assert filters[0]["metricTransformations"][0]["metricValue"] == "$.latency"
    assert logs.describe_log_groups()["logGroups"][0]["metricFilterCount"] == 1
    cloudwatch = lab.aws.client("cloudwatch")
    stats = cloudwatch.get_metric_statistics(Namespace="Checkout", MetricName="ErrorLatency", StartTime=1_735_689_600,
                                             EndTime=1_735_689_600 + 300, Period=60,
                                             Statistics=["Sum", "SampleCount", "Maximum"])
    assert [(p["Sum"], p["SampleCount"], p["Maximum"], p["Unit"]) for p in stats["Datapoints"]] == \
        [(300.0, 2.0, 250.0, "Milliseconds")]
    listed = cloudwatch.list_metrics(Namespace="Checkout")["Metrics"]
    assert listed == [{"Namespace": "Checkout", "MetricName": "ErrorLatency", "Dimensions": []}]


def test_test_metric_filter_answers_as_aws_does(doc_logs):
    logs, _ = doc_logs
    # TestMetricFilter's example in the CloudWatch Logs API Reference: a space-delimited pattern
    # returns the values it extracts; other kinds return an empty extractedValues.
    answer = logs.test_metric_filter(filterPattern="[ip, user, username, timestamp, request, status_code, bytes]",
                                     logEventMessages=DOC_LINES[4:6] + ["too short"])
    assert [m["eventNumber"] for m in answer["matches"]] == [1, 2]
    assert answer["matches"][0]["extractedValues"] == {
        "$ip": "127.0.0.1", "$user": "-", "$username": "frank", "$timestamp": "10/Oct/2000:13:25:15 -0700",
        "$request": "GET /apache_pb.gif HTTP/1.0", "$status_code": "200", "$bytes": "1534"}
    terms = logs.test_metric_filter(filterPattern="ERROR", logEventMessages=["ERROR one", "fine", "ERROR two"])
    assert terms["matches"] == [{"eventNumber": 1, "eventMessage": "ERROR one", "extractedValues": {}},
                                {"eventNumber": 3, "eventMessage": "ERROR two", "extractedValues": {}}]


def test_at_most_five_regex_filters_per_log_group(doc_logs):
    logs, _ = doc_logs
    transformation = [{"metricName": "M", "metricNamespace": "App", "metricValue": "1"}]
    for i in range(5):
        logs.put_metric_filter(logGroupName="/aws/lambda/printer", filterName=f"regex-{i}",
                               filterPattern=f"%ERROR 4{i}%", metricTransformations=transformation)
    logs.put_metric_filter(logGroupName="/aws/lambda/printer", filterName="plain", filterPattern="ERROR",
                           metricTransformations=transformation)    # a term pattern does not count
    with pytest.raises(botocore.exceptions.ClientError) as info:
        logs.put_metric_filter(logGroupName="/aws/lambda/printer", filterName="regex-5", filterPattern="%x+%",
                               metricTransformations=transformation)
    assert _error_code(info) == "LimitExceededException"
    logs.put_metric_filter(logGroupName="/aws/lambda/printer", filterName="regex-0", filterPattern="%y+%",
                           metricTransformations=transformation)    # replacing one is no new regex filter
    logs.delete_metric_filter(logGroupName="/aws/lambda/printer", filterName="regex-1")
    logs.put_metric_filter(logGroupName="/aws/lambda/printer", filterName="regex-5", filterPattern="%x+%",
                           metricTransformations=transformation)


# -- subscription filters --------------------------------------------------------------------------------
def _wait_for(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_subscription_filter_invokes_a_function_with_the_cloudwatch_logs_event(observed):
    lab, _ = observed()
    source = lab.deploy("printer", PRINTER)
    sink = lab.deploy("sink", SINK)
    first = source.invoke({"lines": ["warming up"]})
    logs = lab.aws.client("logs")
    logs.put_subscription_filter(logGroupName="/aws/lambda/printer", filterName="errors-to-sink",
                                 filterPattern="?ERROR ?WARN", destinationArn=sink.arn)
    described = logs.describe_subscription_filters(logGroupName="/aws/lambda/printer")["subscriptionFilters"]
    assert [(f["filterName"], f["destinationArn"]) for f in described] == [("errors-to-sink", sink.arn)]
    source.invoke({"lines": ["ERROR disk full", "all good", "WARN low memory"]})
    invoked = _wait_for(lambda: lab.record.events(kind="invoke", function="sink"), "the sink's invocation")
    assert invoked[0]["invocation_type"] == "Event" and invoked[0]["source"] == "logs"
    result = _wait_for(lambda: invoked[0].get("result"), "the sink's result")
    assert result.ok, result.payload
    answer = result.payload
    assert answer["raw_keys"] == ["awslogs"] and answer["awslogs_keys"] == ["data"]
    payload = answer["payload"]
    assert payload["messageType"] == "DATA_MESSAGE" and payload["owner"] == "123456789012"
    assert payload["logGroup"] == "/aws/lambda/printer" and payload["logStream"] == first.log_stream_name
    assert payload["subscriptionFilters"] == ["errors-to-sink"]
    assert [e["message"] for e in payload["logEvents"]] == ["ERROR disk full", "WARN low memory"]
    stored = {e["eventId"]: e for e in logs.filter_log_events(logGroupName="/aws/lambda/printer",
                                                              filterPattern="?ERROR ?WARN")["events"]}
    for event in payload["logEvents"]:
        assert set(event) == {"id", "timestamp", "message"} and re.fullmatch(r"\d{56}", event["id"])
        assert stored[event["id"]]["timestamp"] == event["timestamp"]
    # The sink's own log shows what it received.
    assert "received 2 events" in _messages(logs.filter_log_events(logGroupName="/aws/lambda/sink",
                                                                   filterPattern="received")["events"])[0]


def test_subscription_filters_are_checked(observed):
    lab, _ = observed()
    source = lab.deploy("printer", PRINTER)
    sink = lab.deploy("sink", SINK)
    source.invoke({})
    logs = lab.aws.client("logs")
    with pytest.raises(botocore.exceptions.ClientError) as info:        # its own log group: an endless loop
        logs.put_subscription_filter(logGroupName="/aws/lambda/printer", filterName="loop", filterPattern="",
                                     destinationArn=source.arn)
    assert _error_code(info) == "InvalidParameterException"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        logs.put_subscription_filter(logGroupName="/aws/lambda/printer", filterName="nobody", filterPattern="",
                                     destinationArn=sink.arn + "-missing")
    assert "Could not execute the lambda function" in info.value.response["Error"]["Message"]
    for name in ("one", "two"):
        logs.put_subscription_filter(logGroupName="/aws/lambda/printer", filterName=name, filterPattern="",
                                     destinationArn=sink.arn)
    with pytest.raises(botocore.exceptions.ClientError) as info:       # two per log group
        logs.put_subscription_filter(logGroupName="/aws/lambda/printer", filterName="three", filterPattern="",
                                     destinationArn=sink.arn)
    assert _error_code(info) == "LimitExceededException"


# -- the pure parts -----------------------------------------------------------------------------------
def test_platform_lines_get_their_moments():
    logs = ("INIT_START Runtime Version: python:3.11\n" "START RequestId: r Version: $LATEST\n" "hello\n"
            "END RequestId: r\n" "REPORT RequestId: r\tDuration: 100.00 ms\n")
    events = lambda_log_events(logs, start_ms=9_900, end_ms=10_000, init_start_ms=9_500)
    assert events == [(9_500, "INIT_START Runtime Version: python:3.11"), (9_900, "START RequestId: r Version: $LATEST"),
                      (9_900, "hello"), (10_000, "END RequestId: r"), (10_000, "REPORT RequestId: r\tDuration: 100.00 ms")]


def test_concurrent_writers_keep_the_group_in_time_order():
    store = LogStore()

    def write(stream):
        for i in range(200):
            store.put_events("/aws/lambda/f", stream, [(i * 10 + (stream == "b"), f"{stream} {i}")])

    threads = [threading.Thread(target=write, args=(s,)) for s in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = store.filter_log_events(logGroupName="/aws/lambda/f")["events"]
    assert len(events) == 400
    assert [(e["timestamp"]) for e in events] == sorted(e["timestamp"] for e in events)


def test_since_and_formatting():
    assert parse_since("5m") == 300 and parse_since("2h") == 7200 and parse_since("1d") == 86400
    with pytest.raises(ValueError, match="--since"):
        parse_since("soon")
    assert format_event({"timestamp": 1_735_689_600_123, "message": "hi"}) == "2025-01-01T00:00:00.123Z hi"


@pytest.mark.parametrize("backend", ["docker"])
def test_docker_functions_log_to_cloudwatch_logs(observed, backend):
    lab, _ = observed(backend)
    fn = lab.deploy("printer", PRINTER)
    result = fn.invoke({"lines": [{"level": "ERROR", "latency": 250}, "plain"]})
    logs = lab.aws.client("logs")
    events = logs.filter_log_events(logGroupName="/aws/lambda/printer",
                                    filterPattern='{ $.level = "ERROR" && $.latency > 100 }')["events"]
    assert _messages(events) == ['{"level": "ERROR", "latency": 250}']
    assert events[0]["logStreamName"] == result.log_stream_name and STREAM_RE.fullmatch(result.log_stream_name)
    assert f"stream {result.log_stream_name}" in _messages(logs.filter_log_events(
        logGroupName="/aws/lambda/printer", filterPattern="stream")["events"])


# -- %lambda logs ---------------------------------------------------------------------------------------
@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell
    made_here = not InteractiveShell.initialized()   # the shell is a singleton other test files share
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "lambdalab_ext")
    ip.run_line_magic("config", 'Lambda.backend = "process"')
    yield ip
    lab = ip.user_ns.get("lab")
    if lab is not None and getattr(lab, "observability", None) is not None:
        lab.observability.close()
    ip.run_line_magic("lambda", "cleanup")
    ip.user_ns.pop("lab", None)
    ip.run_line_magic("unload_ext", "lambdalab_ext")
    if made_here:                                    # let another file make its own kind of shell
        InteractiveShell.clear_instance()


def test_lambda_logs_prints_filtered_events_with_utc_timestamps(shell):
    from IPython.core.error import UsageError
    from IPython.utils.capture import capture_output
    from lambdalab_ext.magic import current
    lab = current(shell).lab
    if getattr(lab, "observability", None) is None:     # until the lab attaches it itself
        lab.observability = attach(lab)
    with capture_output():
        shell.run_cell_magic("lambda", "printer", PRINTER)
        first = shell.run_line_magic("lambda", """invoke printer --event '{"lines": ["ERROR one", "fine"]}'""")
        second = shell.run_line_magic("lambda", """invoke printer --event '{"lines": ["ERROR two"]}'""")
    stamp = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z "
    with capture_output() as captured:
        shell.run_line_magic("lambda", "logs printer --filter ERROR")
    lines = captured.stdout.splitlines()
    assert [re.sub(stamp, "", line) for line in lines] == ["ERROR one", "ERROR two"]
    assert all(re.match(stamp, line) for line in lines)
    with capture_output() as captured:
        shell.run_line_magic("lambda", "logs printer --filter REPORT --limit 1 --since 5m")
    assert captured.stdout.splitlines() == ["... 1 earlier event not shown (--limit 1)",
                                            captured.stdout.splitlines()[1]]
    assert captured.stdout.splitlines()[1].endswith(second.report)
    with capture_output() as captured:
        shell.run_line_magic("lambda", "logs printer")
    whole = captured.stdout
    assert f"START RequestId: {first.request_id} Version: $LATEST" in whole and whole.rstrip().endswith(second.report)
    with capture_output() as captured:
        shell.run_line_magic("lambda", "logs printer --filter nothing_like_this")
    assert captured.stdout.strip() == "No log events of printer match 'nothing_like_this'."
    with pytest.raises(UsageError, match="Invalid character"):
        shell.run_line_magic("lambda", "logs printer --filter 'Status: timeout'")
    with pytest.raises(UsageError, match="--since"):
        shell.run_line_magic("lambda", "logs printer --since soon")

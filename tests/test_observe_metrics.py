"""Lambda's CloudWatch metrics, computed from the lab record on the lab clock, read with boto3.

A VirtualClock run with known invocations, errors and throttles per minute; then the metrics
come back through ``GetMetricStatistics``, ``GetMetricData`` and ``ListMetrics`` on the lab's
endpoint. What each metric counts: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
"""

import math

import botocore.exceptions
import pytest

from lambdalab_ext.clock import VirtualClock
from lambdalab_ext.errors import TooManyRequestsException
from lambdalab_ext.limits import ASYNC_RETRY_DELAYS_S
from lambdalab_ext.observe import metrics as lambda_metrics
from lambdalab_ext.observe.metrics import LambdaMetrics, percentile
from lambdalab_ext.observe.service import attach
from lambdalab_ext.record import LabRecord

T0 = 1_735_689_600          # 2025-01-01T00:00:00Z, a minute boundary
WORK = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("no")
    return event.get("n")
"""


@pytest.fixture
def observed(make_lab):
    made = []

    def make(kind="process", **options):
        lab = make_lab(kind, **options)
        if getattr(lab, "observability", None) is not None:     # the lab's own: these tests attach theirs
            lab.observability.close()
        service = lab.observability = attach(lab)
        made.append(service)
        return lab, service

    yield make
    for service in made:
        service.close()


def _stats(cloudwatch, metric, function="work", start=T0, end=T0 + 180, **query):
    dimensions = [{"Name": "FunctionName", "Value": function}] if function else []
    query.setdefault("Statistics", ["Sum"])
    answer = cloudwatch.get_metric_statistics(Namespace="AWS/Lambda", MetricName=metric, Dimensions=dimensions,
                                              StartTime=start, EndTime=end, Period=60, **query)
    return sorted(answer["Datapoints"], key=lambda p: p["Timestamp"])


def _minutes(points):
    return [int(p["Timestamp"].timestamp()) - T0 for p in points]


@pytest.fixture(scope="module")
def run():
    """Three minutes of a lab on a virtual clock: minute 0 has 3 invocations (1 error), minute 1
    has 2 (both errors) and 2 throttles, minute 2 has 1 success; another function runs once."""
    from lambdalab_ext import Lab
    lab = Lab(backend="process", clock=VirtualClock(start=T0))
    if getattr(lab, "observability", None) is not None:
        lab.observability.close()
    service = lab.observability = attach(lab)
    fn = lab.deploy("work", WORK)
    other = lab.deploy("other", WORK)
    durations = {0: [], 1: [], 2: []}
    for event in ({"n": 1}, {"n": 2}, {"fail": True}):
        durations[0].append(fn.invoke(event).duration_ms)
    other.invoke({"n": 0})
    lab.clock.advance(60)
    for _ in range(2):
        durations[1].append(fn.invoke({"fail": True}).duration_ms)
    fn.update(reserved_concurrency=0)               # every request is now throttled
    for _ in range(2):
        with pytest.raises(TooManyRequestsException):
            fn.invoke({"n": 3})
    fn.update(reserved_concurrency=None)
    lab.clock.advance(60)
    durations[2].append(fn.invoke({"n": 4}).duration_ms)
    yield lab, service, durations
    service.close()
    lab.shutdown()


def test_invocations_errors_and_throttles_per_minute(run):
    lab, _, _ = run
    cloudwatch = lab.aws.client("cloudwatch")
    invocations = _stats(cloudwatch, "Invocations")
    assert _minutes(invocations) == [0, 60, 120] and [p["Sum"] for p in invocations] == [3, 2, 1]
    assert {p["Unit"] for p in invocations} == {"Count"}
    errors = _stats(cloudwatch, "Errors", Statistics=["Sum", "Average", "SampleCount"])
    assert [(p["Sum"], p["SampleCount"]) for p in errors] == [(1, 3), (2, 2), (0, 1)]
    assert math.isclose(errors[0]["Average"], 1 / 3)               # Average is the error rate
    throttles = _stats(cloudwatch, "Throttles")
    assert _minutes(throttles) == [60] and throttles[0]["Sum"] == 2
    account = _stats(cloudwatch, "Invocations", function=None)    # no dimension: every function
    assert [p["Sum"] for p in account] == [4, 2, 1]
    assert _stats(cloudwatch, "Invocations", function="nobody") == []


def test_duration_statistics_and_percentiles(run):
    lab, _, durations = run
    cloudwatch = lab.aws.client("cloudwatch")
    points = _stats(cloudwatch, "Duration", Statistics=["SampleCount", "Average", "Minimum", "Maximum", "Sum"])
    assert [p["SampleCount"] for p in points] == [3, 2, 1] and {p["Unit"] for p in points} == {"Milliseconds"}
    for point, minute in zip(points, (0, 1, 2)):
        assert math.isclose(point["Maximum"], max(durations[minute]))
        assert math.isclose(point["Minimum"], min(durations[minute]))
        assert math.isclose(point["Sum"], sum(durations[minute]))
        assert math.isclose(point["Average"], sum(durations[minute]) / len(durations[minute]))
    extended = sorted(cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Duration", Dimensions=[{"Name": "FunctionName", "Value": "work"}],
        StartTime=T0, EndTime=T0 + 180, Period=60, ExtendedStatistics=["p50", "p90", "p99"])["Datapoints"],
        key=lambda p: p["Timestamp"])
    first = sorted(durations[0])
    assert extended[0]["ExtendedStatistics"] == {"p50": first[1], "p90": first[2], "p99": first[2]}
    assert "Sum" not in extended[0]


def test_concurrent_executions_and_list_metrics(run):
    lab, _, _ = run
    cloudwatch = lab.aws.client("cloudwatch")
    concurrency = _stats(cloudwatch, "ConcurrentExecutions", Statistics=["Maximum"])
    assert [p["Maximum"] for p in concurrency] == [1, 1, 1]        # one at a time
    listed = cloudwatch.list_metrics(Namespace="AWS/Lambda",
                                     Dimensions=[{"Name": "FunctionName", "Value": "work"}])["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert {"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"} <= names
    assert "AsyncEventsReceived" not in names                      # no asynchronous event came
    assert all(m["Dimensions"] == [{"Name": "FunctionName", "Value": "work"}] for m in listed)
    everything = cloudwatch.list_metrics()["Metrics"]
    assert {"Namespace": "AWS/Lambda", "MetricName": "Invocations",
            "Dimensions": [{"Name": "FunctionName", "Value": "other"}]} in everything


def test_get_metric_data_reads_several_metrics_at_once(run):
    lab, _, durations = run
    cloudwatch = lab.aws.client("cloudwatch")

    def query(qid, metric, stat, label=None):
        q = {"Id": qid, "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": metric,
                                                  "Dimensions": [{"Name": "FunctionName", "Value": "work"}]},
                                       "Period": 60, "Stat": stat}}
        if label:
            q["Label"] = label
        return q

    answer = cloudwatch.get_metric_data(MetricDataQueries=[query("calls", "Invocations", "Sum"),
                                                           query("slow", "Duration", "p99", "Duration p99"),
                                                           query("rate", "Errors", "Average")],
                                        StartTime=T0, EndTime=T0 + 180)
    results = {r["Id"]: r for r in answer["MetricDataResults"]}
    assert results["calls"]["Values"] == [1, 2, 3]                 # newest first by default
    assert [int(t.timestamp()) - T0 for t in results["calls"]["Timestamps"]] == [120, 60, 0]
    assert results["calls"]["Label"] == "Invocations" and results["calls"]["StatusCode"] == "Complete"
    assert results["slow"]["Label"] == "Duration p99"
    assert results["slow"]["Values"][-1] == percentile(sorted(durations[0]), 99)
    assert results["rate"]["Values"] == [0, 1, pytest.approx(1 / 3)]
    ascending = cloudwatch.get_metric_data(MetricDataQueries=[query("calls", "Invocations", "Sum")],
                                           StartTime=T0, EndTime=T0 + 180, ScanBy="TimestampAscending")
    assert ascending["MetricDataResults"][0]["Values"] == [3, 2, 1]


def test_bad_requests_are_refused_in_cloudwatchs_words(run):
    lab, _, _ = run
    cloudwatch = lab.aws.client("cloudwatch")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        _stats(cloudwatch, "Duration", Statistics=["Average"], ExtendedStatistics=["p99"])
    assert info.value.response["Error"]["Code"] == "InvalidParameterCombination"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        cloudwatch.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations", StartTime=T0,
                                         EndTime=T0 + 180, Period=61, Statistics=["Sum"])
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        cloudwatch.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations", StartTime=T0,
                                         EndTime=T0 + 86400 * 2, Period=60, Statistics=["Sum"])
    assert info.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert "1,440" in info.value.response["Error"]["Message"]


def test_metrics_as_a_dataframe(run):
    lab, service, _ = run
    table = lambda_metrics.frame(service, "work")
    assert list(table["Invocations"]) == [3, 2, 1] and list(table["Errors"]) == [1, 2, 0]
    assert table["Throttles"].fillna(0).tolist() == [0, 2, 0]
    assert [int(t.timestamp()) - T0 for t in table.index] == [0, 60, 120]
    assert {"Duration_avg", "Duration_p50", "Duration_p90", "Duration_p99", "ConcurrentExecutions"} <= set(table)


def test_asynchronous_event_metrics(observed):
    lab, _ = observed(clock=VirtualClock(start=T0))
    missing_queue = "arn:aws:sqs:us-east-1:123456789012:no-such-queue"
    fn = lab.deploy("flaky", WORK, dead_letter_target_arn=missing_queue)
    fn.put_event_invoke_config(maximum_retry_attempts=1)
    fn.invoke({"fail": True}, invocation_type="Event")
    assert lab.async_queue.wait_idle(120)           # the first attempt, at T0
    lab.clock.advance(ASYNC_RETRY_DELAYS_S[0] + 120)
    assert lab.async_queue.wait_idle(120)           # the retry, its delay later; then the DLQ fails
    cloudwatch = lab.aws.client("cloudwatch")
    end = T0 + 600
    received = _stats(cloudwatch, "AsyncEventsReceived", function="flaky", end=end)
    assert [p["Sum"] for p in received] == [1] and _minutes(received) == [0]
    assert sum(p["Sum"] for p in _stats(cloudwatch, "Invocations", function="flaky", end=end)) == 2
    age = _stats(cloudwatch, "AsyncEventAge", function="flaky", end=end, Statistics=["Minimum", "Maximum"])
    assert min(p["Minimum"] for p in age) == 0
    assert max(p["Maximum"] for p in age) == ASYNC_RETRY_DELAYS_S[0] * 1000     # the retry waited its delay
    assert sum(p["Sum"] for p in _stats(cloudwatch, "AsyncEventsDropped", function="flaky", end=end)) == 1
    assert sum(p["Sum"] for p in _stats(cloudwatch, "DeadLetterErrors", function="flaky", end=end)) == 1
    assert _stats(cloudwatch, "DestinationDeliveryFailures", function="flaky", end=end) == []


def test_a_dropped_event_delivered_to_its_dlq_still_counts_as_dropped():
    record = LabRecord(clock=lambda: 30.0)
    record.append("accepted", "f", "r1")
    record.append("dlq", "f", "r1", target="arn:aws:sqs:us-east-1:123456789012:dlq", condition="RetriesExhausted")
    record.append("destination", "f", "r1", target="arn:aws:sqs:us-east-1:123456789012:q",
                  condition="RetriesExhausted")
    record.append("destination", "f", "r2", target="arn:aws:sqs:us-east-1:123456789012:q", condition="Success")
    metrics = LambdaMetrics(record)
    # "If you configure a dead-letter queue (DLQ) or OnFailure destination, then events are sent there
    # before they're dropped": one event, counted once.
    assert metrics.samples("AsyncEventsDropped", "f") == [(30.0, 1.0)]


def test_recursive_loops_and_iterator_age_come_from_the_record():
    record = LabRecord(clock=lambda: 75.0)
    record.append("recursion_stopped", "loop", "r1", depth=16)
    record.append("batch", "reader", "r2", iterator_age_ms=1500.0)
    record.append("batch", "reader", "r3", iterator_age_ms=500.0)
    metrics = LambdaMetrics(record)
    dropped = metrics.get_metric_statistics(Namespace="AWS/Lambda", MetricName="RecursiveInvocationsDropped",
                                            StartTime=0, EndTime=120, Period=60, Statistics=["Sum"],
                                            Dimensions=[{"Name": "FunctionName", "Value": "loop"}])
    assert dropped["Datapoints"] == [{"Timestamp": 60, "Sum": 1.0, "Unit": "Count"}]
    age = metrics.get_metric_statistics(Namespace="AWS/Lambda", MetricName="IteratorAge", StartTime=0,
                                        EndTime=120, Period=60, Statistics=["Maximum", "Average"],
                                        Dimensions=[{"Name": "FunctionName", "Value": "reader"}])
    assert age["Datapoints"] == [{"Timestamp": 60, "Maximum": 1500.0, "Average": 1000.0, "Unit": "Milliseconds"}]


def test_concurrency_on_a_virtual_clock_is_told_by_the_wall_clock(run):
    lab, service, _ = run
    # The three invocations of minute 0 share one virtual moment but ran one after another.
    points = service.metrics.statistics("AWS/Lambda", "ConcurrentExecutions",
                                        [{"Name": "FunctionName", "Value": "work"}], T0, T0 + 180, 60, ["Maximum"])
    assert [(slot - T0, values["Maximum"]) for slot, values in points] == [(0, 1.0), (60, 1.0), (120, 1.0)]


def test_concurrency_counts_overlapping_invocations():
    clock = {"now": 0.0}
    record = LabRecord(clock=lambda: clock["now"])
    # Three invocations recorded as they end (the real clock): 10-40 s, 20-50 s, 70-130 s.
    for end, duration_s in ((40, 30), (50, 30), (130, 60)):
        clock["now"] = float(end)
        record.append("invoke", "f", None, status="success", duration_ms=duration_s * 1000.0)
    metrics = LambdaMetrics(record)
    points = metrics.get_metric_statistics(Namespace="AWS/Lambda", MetricName="ConcurrentExecutions",
                                           StartTime=0, EndTime=180, Period=60, Statistics=["Maximum"],
                                           Dimensions=[{"Name": "FunctionName", "Value": "f"}])["Datapoints"]
    # Two at once in the first minute; the long one runs on into the third minute.
    assert [(p["Timestamp"], p["Maximum"]) for p in points] == [(0, 2.0), (60, 1.0), (120, 1.0)]


# -- alarms ---------------------------------------------------------------------------------------------
PAGER = """
import json
def handler(event, context):
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    print("alarm", message["AlarmName"], message["NewStateValue"])
    return {"subject": event["Records"][0]["Sns"]["Subject"], "message": message}
"""


def test_an_alarm_on_errors_fires_on_the_lab_clock_and_notifies_a_subscribed_function(observed):
    # "Using Amazon CloudWatch alarms": https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    lab, service = observed(clock=VirtualClock(start=T0))
    fn = lab.deploy("work", WORK)
    pager = lab.deploy("pager", PAGER)
    sns = lab.aws.client("sns")
    topic = sns.create_topic(Name="oncall")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=pager.arn)
    cloudwatch = lab.aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName="work-errors", Namespace="AWS/Lambda", MetricName="Errors",
                                Dimensions=[{"Name": "FunctionName", "Value": "work"}], Statistic="Sum", Period=60,
                                EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
                                TreatMissingData="notBreaching", AlarmActions=[topic], OKActions=[topic])

    def state():
        return cloudwatch.describe_alarms(AlarmNames=["work-errors"])["MetricAlarms"][0]["StateValue"]

    assert state() == "INSUFFICIENT_DATA"
    fn.invoke({"n": 1})
    fn.invoke({"fail": True})
    lab.clock.advance(60)                              # the minute ends: 1 error >= 1
    assert state() == "ALARM"
    assert lab.async_queue.wait_idle(60)
    results = [e.get("result") for e in lab.record.events(kind="invoke", function="pager")]
    assert len(results) == 1 and results[0].ok
    received = results[0].payload
    assert received["subject"] == 'ALARM: "work-errors" in US East (N. Virginia)'
    message = received["message"]
    assert message["NewStateValue"] == "ALARM" and message["OldStateValue"] == "INSUFFICIENT_DATA"
    assert message["Trigger"]["MetricName"] == "Errors" and message["Trigger"]["Statistic"] == "SUM"
    assert message["Trigger"]["Dimensions"] == [{"value": "work", "name": "FunctionName"}]
    assert message["NewStateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [1.0 (01/01/25 00:00:00)]")
    assert message["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:work-errors"
    lab.clock.advance(60)                              # a quiet minute: missing data is not breaching
    assert state() == "OK"
    assert lab.async_queue.wait_idle(60)
    invoked = lab.record.events(kind="invoke", function="pager")
    assert len(invoked) == 2 and invoked[-1]["result"].payload["message"]["NewStateValue"] == "OK"
    assert [(old, new) for _, name, old, new, _ in service.alarms.history] == [("INSUFFICIENT_DATA", "ALARM"),
                                                                              ("ALARM", "OK")]
    cloudwatch.delete_alarms(AlarmNames=["work-errors"])
    assert cloudwatch.describe_alarms(AlarmNames=["work-errors"])["MetricAlarms"] == []


def test_alarm_evaluation_with_missing_data_and_m_of_n():
    from lambdalab_ext.observe.alarms import MetricAlarm, evaluate

    def alarm(**fields):
        params = {"AlarmName": "a", "Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum",
                  "Period": 60, "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "Threshold": 1,
                  "ComparisonOperator": "GreaterThanOrEqualToThreshold", **fields}
        return MetricAlarm.from_request(params, region="us-east-1", account_id="123456789012", now=0)

    # "Configuring how CloudWatch alarms treat missing data", 2 out of 3 datapoints to alarm.
    assert evaluate(alarm(), [1.0, 0.0, 1.0])[0] == "ALARM"
    assert evaluate(alarm(), [1.0, 0.0, 0.0])[0] == "OK"
    assert evaluate(alarm(), [None, None, None])[0] == "INSUFFICIENT_DATA"
    assert evaluate(alarm(TreatMissingData="breaching"), [None, 0.0, None])[0] == "ALARM"
    assert evaluate(alarm(TreatMissingData="notBreaching"), [None, None, None])[0] == "OK"
    assert evaluate(alarm(TreatMissingData="ignore"), [None, None, None]) == (None, None)
    assert evaluate(alarm(), [None, 1.0, 1.0])[0] == "ALARM"
    with pytest.raises(Exception, match="DatapointsToAlarm"):
        alarm(DatapointsToAlarm=4)
    with pytest.raises(Exception, match="TreatMissingData"):
        alarm(TreatMissingData="sometimes")

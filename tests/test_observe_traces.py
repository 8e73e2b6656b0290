"""X-Ray traces of real functions: the Lambda service and function segments, INIT, the AWS calls a
function makes (seen at the lab's endpoint), propagation, and the X-Ray API through boto3."""

import json
import time

import matplotlib
import pytest

matplotlib.use("Agg")

from lambdalab_ext.clock import VirtualClock
from lambdalab_ext.errors import InvalidParameterValueException
from lambdalab_ext.observe.trace_plots import INITIALIZATION_COLOR, service_map, waterfall
from lambdalab_ext.observe.traces import (FilterExpression, InvalidRequestException, TraceStore, TracesService, attach,
                                          parse_trace_header, trace_segments, walk)

UPLOADER = """
import boto3, os
s3 = boto3.client("s3")
table = boto3.resource("dynamodb").Table("uploads")

def handler(event, context):
    s3.put_object(Bucket="photos", Key=event["key"], Body=b"x")
    table.put_item(Item={"key": event["key"]})
    try:
        s3.get_object(Bucket="photos", Key="missing")
    except s3.exceptions.NoSuchKey:
        pass
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}
"""

CALLER = """
import boto3, json
client = boto3.client("lambda")

def handler(event, context):
    answer = client.invoke(FunctionName="callee", Payload=json.dumps({"n": 1}))
    return json.loads(answer["Payload"].read())
"""

CALLEE = """
import os
def handler(event, context):
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}
"""

SDK_LIKE = """
import boto3, json, os, time, secrets
xray = boto3.client("xray")

def handler(event, context):
    fields = dict(p.split("=", 1) for p in os.environ["_X_AMZN_TRACE_ID"].split(";"))
    now = time.time()
    sub = {"name": "resize", "id": secrets.token_hex(8), "trace_id": fields["Root"], "parent_id": fields["Parent"],
           "type": "subsegment", "start_time": now, "end_time": now + 0.002, "annotations": {"size": 42}}
    answer = xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(sub)])
    return answer["UnprocessedTraceSegments"]
"""


@pytest.fixture
def traced(make_lab):
    """``traced(kind, **lab_options) -> (lab, traces)``: a lab with its X-Ray attached."""
    made = []

    def make(kind="process", **options):
        lab = make_lab(kind, **options)
        current = lab.traces
        assert isinstance(current, TracesService) and attach(lab) is current   # the lab attaches its own
        current.close()                          # these tests attach theirs
        traces = lab.traces = attach(lab)
        made.append(traces)
        return lab, traces

    yield make
    for traces in made:
        traces.close()


@pytest.fixture(scope="module")
def uploads():
    """One lab for the uploader's tests (a boto3 cold start costs seconds here): an Active function
    calling S3 and DynamoDB, invoked cold then warm, and a failing one."""
    from lambdalab_ext import Lab
    lab = Lab(backend="process")
    try:
        _setup_storage(lab)
        fn = lab.deploy("uploader", UPLOADER, tracing="Active")
        lab.deploy("failing", "def handler(e, c):\n    raise ValueError('no')\n", tracing="Active")
        cold, warm = fn.invoke({"key": "a"}), fn.invoke({"key": "b"})
        bad = lab.functions["failing"].invoke({})
        yield lab, lab.traces, cold, warm, bad
    finally:
        lab.shutdown()


def _setup_storage(lab):
    """The bucket and the table (moto's state outlives a lab in this process: they may be there)."""
    lab.aws.client("s3").create_bucket(Bucket="photos")
    dynamodb = lab.aws.client("dynamodb")
    if "uploads" not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName="uploads", KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def _function_segment(trace):
    return next(d for d in trace_segments(trace) if d.get("origin") == "AWS::Lambda::Function")


def _names(entity):
    return [s["name"] for s in entity.get("subsegments", [])]


# -- one invocation's trace ---------------------------------------------------------------------
def test_an_active_function_traces_its_aws_calls_and_its_cold_start(uploads):
    lab, traces, cold, warm, _ = uploads
    assert cold.ok and warm.ok and cold.cold and not warm.cold

    trace = traces.trace_of(cold.request_id)
    service, function = trace_segments(trace)
    assert service["origin"] == "AWS::Lambda" and function["origin"] == "AWS::Lambda::Function"
    assert service["name"] == function["name"] == "uploader"
    assert function["parent_id"] == service["id"] and trace["Id"] == service["trace_id"] == function["trace_id"]
    assert _names(function) == ["Initialization", "Invocation", "Overhead"]
    init = function["subsegments"][0]
    assert init["end_time"] - init["start_time"] == pytest.approx(cold.init_duration_ms / 1000, abs=2e-3)
    calls = function["subsegments"][1]["subsegments"]
    assert [(c["name"], c["aws"]["operation"], c["http"]["response"]["status"]) for c in calls] == [
        ("S3", "PutObject", 200), ("DynamoDB", "PutItem", 200), ("S3", "GetObject", 404)]
    assert all(c["namespace"] == "aws" for c in calls)
    assert calls[1]["aws"]["table_name"] == "uploads" and calls[0]["aws"]["bucket_name"] == "photos"
    assert calls[2]["error"] is True and "fault" not in calls[2]
    invocation = function["subsegments"][1]
    assert invocation["start_time"] <= calls[0]["start_time"] <= calls[-1]["end_time"] <= invocation["end_time"]
    # The function saw its own segment as the Parent, sampled, as in Lambda.
    seen = parse_trace_header(cold.payload["trace"])
    assert seen["Root"] == trace["Id"] and seen["Parent"] == function["id"] and seen["Sampled"] == "1"

    warm_function = _function_segment(traces.trace_of(warm.request_id))
    assert _names(warm_function) == ["Invocation", "Overhead"]
    assert traces.trace_of(warm.request_id)["Id"] != trace["Id"]


def test_pass_through_traces_only_sampled_requests_and_tracing_mode_is_validated(traced):
    lab, traces = traced("process")
    fn = lab.deploy("quiet", CALLEE)
    assert fn.config.tracing_mode == "PassThrough"
    result = fn.invoke({})
    assert traces.trace_of(result.request_id) is None
    assert parse_trace_header(result.payload["trace"])["Sampled"] == "0"
    with pytest.raises(InvalidParameterValueException, match="tracingConfig.mode"):
        lab.deploy("bad", CALLEE, tracing="Sometimes")
    # UpdateFunctionConfiguration turns it on, and GetFunctionConfiguration says so.
    client = lab.aws.client("lambda")
    answer = client.update_function_configuration(FunctionName="quiet", TracingConfig={"Mode": "Active"})
    assert answer["TracingConfig"] == {"Mode": "Active"}
    assert client.get_function_configuration(FunctionName="quiet")["TracingConfig"] == {"Mode": "Active"}
    traced_result = fn.invoke({})
    assert traces.trace_of(traced_result.request_id) is not None


def test_a_function_invoking_another_is_one_trace_with_both_in_the_service_graph(traced):
    lab, traces = traced("process")
    lab.deploy("callee", CALLEE, tracing="Active")
    caller = lab.deploy("caller", CALLER, tracing="Active", timeout_s=10)
    result = caller.invoke({})
    assert result.ok, result.payload
    trace = traces.trace_of(result.request_id)
    docs = trace_segments(trace)
    assert {(d["name"], d["origin"]) for d in docs} == {
        ("caller", "AWS::Lambda"), ("caller", "AWS::Lambda::Function"),
        ("callee", "AWS::Lambda"), ("callee", "AWS::Lambda::Function")}
    assert len({d["trace_id"] for d in docs}) == 1
    assert parse_trace_header(result.payload["trace"])["Root"] == trace["Id"]
    caller_function = next(d for d in docs if d["name"] == "caller" and d["origin"] == "AWS::Lambda::Function")
    invoke = next(e for _, e in walk(caller_function) if e.get("name") == "Lambda")
    callee_service = next(d for d in docs if d["name"] == "callee" and d["origin"] == "AWS::Lambda")
    assert invoke["aws"]["operation"] == "Invoke" and callee_service["parent_id"] == invoke["id"]

    graph = lab.aws.client("xray").get_service_graph(StartTime=0, EndTime=time.time() + 3600)
    nodes = {s["ReferenceId"]: s for s in graph["Services"]}
    named = {(s.get("Name"), s["Type"]): s for s in nodes.values()}
    assert set(named) == {(None, "client"), ("caller", "AWS::Lambda"), ("caller", "AWS::Lambda::Function"),
                          ("callee", "AWS::Lambda"), ("callee", "AWS::Lambda::Function")}
    edge = named[("caller", "AWS::Lambda::Function")]["Edges"]
    assert [nodes[e["ReferenceId"]]["Name"] for e in edge] == ["callee"]
    assert edge[0]["SummaryStatistics"]["TotalCount"] == 1 and named[("caller", "AWS::Lambda")]["Root"] is True

    labels = [t.get_text() for t in waterfall(trace).get_yticklabels()]
    at = labels.index("    Lambda Invoke")                  # the callee's segments follow the call
    assert labels[at + 1:at + 3] == ["callee (AWS::Lambda)", "callee (AWS::Lambda::Function)"]
    assert labels[0] == "caller (AWS::Lambda)" and labels[-1] == "  Overhead"

    ax = service_map(lab)
    texts = [t.get_text() for t in ax.texts]
    assert "caller\nAWS::Lambda::Function" in texts and "callee\nAWS::Lambda::Function" in texts
    assert sum("× " in t and "ms avg" in t for t in texts) == 4     # client→caller→fn→callee→fn


# -- propagation ---------------------------------------------------------------------------------------
def test_async_sqs_and_sns_invocations_keep_the_upstream_root(traced):
    lab, traces = traced("process", clock=VirtualClock())
    sqs, sns = lab.aws.client("sqs"), lab.aws.client("sns")
    url = sqs.create_queue(QueueName="traced-jobs")["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)          # moto's queues outlive a lab
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name="traced-news")["TopicArn"]
    lab.deploy("producer", f"""
import boto3
sqs, sns = boto3.client("sqs"), boto3.client("sns")
def handler(event, context):
    sqs.send_message(QueueUrl={url!r}, MessageBody="hi")
    sns.publish(TopicArn={topic!r}, Message="hi")
    return "sent"
""", tracing="Active")
    lab.deploy("consumer", CALLEE, tracing="Active")
    reader = lab.deploy("reader", CALLEE)                  # PassThrough: traced because the upstream sampled
    lab.create_event_source_mapping("consumer", arn, BatchSize=1)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=reader.arn)
    accepted = lab.functions["producer"].invoke({}, invocation_type="Event")
    assert lab.async_queue.wait_idle(60)
    for _ in range(40):
        lab.clock.advance(1)
        if lab.record.count("invoke", function="consumer") and lab.record.count("invoke", function="reader"):
            break
        time.sleep(0.05)
    produced = traces.trace_of(accepted.request_id)
    assert produced is not None
    for name, service, operation in (("consumer", "SQS", "SendMessage"), ("reader", "SNS", "Publish")):
        [run] = lab.record.events("invoke", function=name)
        consumed = traces.trace_of(run.request_id)
        assert consumed["Id"] == produced["Id"], name
        docs = trace_segments(consumed)
        call = next(e for d in docs if d["name"] == "producer" for _, e in walk(d) if e.get("name") == service)
        downstream = next(d for d in docs if d["name"] == name and d["origin"] == "AWS::Lambda")
        assert call["aws"]["operation"] == operation and downstream["parent_id"] == call["id"], name
    docs = trace_segments(traces.trace_of(accepted.request_id))
    producer_service = next(d for d in docs if d["name"] == "producer" and d["origin"] == "AWS::Lambda")
    assert producer_service["http"]["response"]["status"] == 202
    assert _names(producer_service) == ["Dwell Time", "Attempt #1"]
    # On a virtual clock, segments carry the lab clock's epoch seconds.
    assert abs(producer_service["start_time"] - lab.clock.now()) < 60


# -- the X-Ray API -------------------------------------------------------------------------------------
def test_segments_sent_from_inside_join_the_function_segment(traced):
    lab, traces = traced("process")
    fn = lab.deploy("sdk", SDK_LIKE, tracing="Active")
    result = fn.invoke({})
    assert result.ok and result.payload == []
    function = _function_segment(traces.trace_of(result.request_id))
    assert "resize" in _names(function)
    resize = next(s for s in function["subsegments"] if s["name"] == "resize")
    assert resize["annotations"] == {"size": 42}
    # The X-Ray call itself is the SDK's transport, not a traced AWS call.
    assert all(e.get("name") != "XRay" for _, e in walk(function))
    xray = lab.aws.client("xray")
    found = xray.get_trace_summaries(StartTime=0, EndTime=time.time() + 60,
                                     FilterExpression="annotation.size = 42")["TraceSummaries"]
    assert [s["Id"] for s in found] == [traces.trace_of(result.request_id)["Id"]]


def test_get_trace_summaries_filters_and_batch_get_traces(uploads):
    lab, traces, good, warm, bad = uploads
    xray = lab.aws.client("xray")
    window = {"StartTime": time.time() - 600, "EndTime": time.time() + 60}
    ids = lambda expression: {s["Id"] for s in xray.get_trace_summaries(
        **window, FilterExpression=expression)["TraceSummaries"]}
    good_id, bad_id = traces.by_request[good.request_id], traces.by_request[bad.request_id]
    uploaded = {good_id, traces.by_request[warm.request_id]}
    assert ids('service("uploader")') == uploaded
    assert ids('service(id(name: "failing", type: "AWS::Lambda::Function"))') == {bad_id}
    assert ids('service("DynamoDB")') == uploaded
    assert ids('service(id(name: "DynamoDB", type: "AWS::DynamoDB::Table"))') == uploaded
    assert ids('service(id(name: "S3", type: "AWS::S3"))') == uploaded
    assert ids("fault") == {bad_id} and ids("!fault") == uploaded
    assert ids("error") == uploaded                      # the 404 of GetObject is a client error
    assert ids("http.status = 200") == uploaded | {bad_id}
    assert ids("duration > 0 AND duration < 60") == uploaded | {bad_id}
    assert ids("duration > 3600") == set()
    assert ids('service("uploader") AND (fault OR duration > 3600)') == set()
    summaries = xray.get_trace_summaries(**window)
    assert summaries["TracesProcessedCount"] == 3
    summary = next(s for s in summaries["TraceSummaries"] if s["Id"] == bad_id)
    assert summary["HasFault"] is True and summary["EntryPoint"]["Type"] == "AWS::Lambda"
    with pytest.raises(xray.exceptions.InvalidRequestException, match="edge"):
        xray.get_trace_summaries(**window, FilterExpression='edge("a", "b")')

    got = xray.batch_get_traces(TraceIds=[good_id, "1-00000000-000000000000000000000000"])
    assert got["UnprocessedTraceIds"] == ["1-00000000-000000000000000000000000"]
    [trace] = got["Traces"]
    documents = [json.loads(s["Document"]) for s in trace["Segments"]]
    assert {d["origin"] for d in documents} == {"AWS::Lambda", "AWS::Lambda::Function"}
    assert trace["Duration"] > 0

    graph = xray.get_service_graph(**window)
    nodes = {s["ReferenceId"]: s for s in graph["Services"]}
    function_node = next(s for s in nodes.values()
                         if s.get("Name") == "uploader" and s["Type"] == "AWS::Lambda::Function")
    out = {(nodes[e["ReferenceId"]]["Name"], nodes[e["ReferenceId"]]["Type"]): e["SummaryStatistics"]
           for e in function_node["Edges"]}
    assert set(out) == {("S3", "AWS::S3"), ("DynamoDB", "AWS::DynamoDB::Table")}
    assert out[("S3", "AWS::S3")]["TotalCount"] == 4 and out[("S3", "AWS::S3")]["ErrorStatistics"]["OtherCount"] == 2
    assert out[("DynamoDB", "AWS::DynamoDB::Table")]["OkCount"] == 2

    ax = waterfall(trace)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:3] == ["uploader (AWS::Lambda)", "uploader (AWS::Lambda::Function)", "  Initialization"]
    assert "    S3 PutObject" in labels and "    DynamoDB PutItem" in labels
    assert len(ax.patches) == len(labels) == 8     # 2 segments, INIT, Invocation, 3 calls, Overhead
    colors = {label: patch.get_facecolor() for label, patch in zip(labels, ax.patches)}
    assert matplotlib.colors.to_hex(colors["  Initialization"]) == INITIALIZATION_COLOR
    assert sum(matplotlib.colors.to_hex(c) == INITIALIZATION_COLOR for c in colors.values()) == 1


def test_put_trace_segments_checks_documents_as_xray_does(traced):
    lab, traces = traced("process")
    xray = lab.aws.client("xray")
    # The minimal complete segment of "AWS X-Ray segment documents":
    # https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html
    minimal = {"name": "example.com", "id": "70de5b6f19ff9a0a", "start_time": 1.478293361271E9,
               "trace_id": "1-581cf771-a006649127e371903a2de979", "end_time": 1.478293361449E9}
    no_end = dict(minimal, id="70de5b6f19ff9a0b")
    del no_end["end_time"]
    answer = xray.put_trace_segments(TraceSegmentDocuments=[json.dumps(minimal), json.dumps(no_end), "{not json"])
    unprocessed = answer["UnprocessedTraceSegments"]
    assert [u["Id"] for u in unprocessed] == ["70de5b6f19ff9a0b", ""]
    assert "end_time or in_progress" in unprocessed[0]["Message"]
    trace = xray.batch_get_traces(TraceIds=[minimal["trace_id"]])["Traces"][0]
    assert json.loads(trace["Segments"][0]["Document"]) == minimal
    assert trace["Duration"] == pytest.approx(0.178)
    summaries = xray.get_trace_summaries(StartTime=1478293361, EndTime=1478293362)["TraceSummaries"]
    assert [s["Id"] for s in summaries] == [minimal["trace_id"]]
    assert summaries[0]["EntryPoint"]["Name"] == "example.com"
    with pytest.raises(xray.exceptions.InvalidRequestException):
        xray.get_trace_summaries(StartTime=10, EndTime=5)


# Examples of "Use filter expressions": https://docs.aws.amazon.com/xray/latest/devguide/xray-console-filters.html
@pytest.mark.parametrize("expression, facts, expected", [
    ("responsetime > 5", {"responsetime": 6.0}, True),
    ("responsetime > 5", {"responsetime": 5.0}, False),
    ("duration >= 5 AND duration <= 8", {"duration": 8.0}, True),
    ("duration >= 5 AND duration <= 8", {"duration": 8.5}, False),
    ("http.status = 500 OR fault", {"http.status": 200, "fault": True}, True),
    ("!ok", {"ok": True}, False),
    ("error = true", {"error": True}, True),
    ('http.url CONTAINS "/api/game/"', {"http.url": "https://a/api/game/1"}, True),
    ('service("api.example.com")', {"services": {("api.example.com", "AWS::EC2::Instance")}}, True),
])
def test_filter_expressions_of_the_documentation(expression, facts, expected):
    assert FilterExpression(expression).matches(facts) is expected


def test_bad_filter_expressions_are_refused_in_xrays_words():
    for text in ("duration >", "colour = 3", 'service("a") { fault }', "duration > \"x\"", "(ok"):
        with pytest.raises(InvalidRequestException, match="Invalid filter expression"):
            FilterExpression(text)
    assert TraceStore().get_trace_summaries(StartTime=0, EndTime=1)["TraceSummaries"] == []


@pytest.mark.parametrize("backend", ["docker"])
def test_docker_functions_are_traced(traced, backend):
    lab, traces = traced(backend)
    _setup_storage(lab)
    fn = lab.deploy("uploader", UPLOADER, tracing="Active")
    result = fn.invoke({"key": "d"})
    assert result.ok, result.payload
    function = _function_segment(traces.trace_of(result.request_id))
    assert _names(function) == ["Initialization", "Invocation", "Overhead"]
    assert [c["aws"]["operation"] for c in function["subsegments"][1]["subsegments"]] == [
        "PutObject", "PutItem", "GetObject"]


def test_the_store_keeps_at_most_its_cap_of_traces():
    store = TraceStore(max_traces=2)
    for n in range(3):
        store.put({"name": "a", "id": f"{n:016x}", "trace_id": f"1-00000000-{n:024x}", "start_time": n,
                   "end_time": n + 1})
    assert store.trace_ids() == [f"1-00000000-{n:024x}" for n in (1, 2)] and store.forgotten == 1
    # A subsegment sent alone joins its parent when the trace is read.
    store.put({"name": "child", "id": "00000000000000ff", "trace_id": "1-00000000-000000000000000000000002",
               "type": "subsegment", "parent_id": f"{2:016x}", "start_time": 2.1, "end_time": 2.2})
    [segment] = store.documents("1-00000000-000000000000000000000002")
    assert [s["name"] for s in segment["subsegments"]] == ["child"]


def test_an_asynchronous_invoke_from_a_function_keeps_the_root_and_shows_its_dwell_time(traced):
    lab, traces = traced("process")
    lab.deploy("callee", CALLEE, tracing="Active")
    caller = lab.deploy("caller", CALLER.replace('Payload=json.dumps({"n": 1}))',
                                                 'Payload=json.dumps({"n": 1}), InvocationType="Event")')
                                          .replace('return json.loads(answer["Payload"].read())',
                                                   'return answer["StatusCode"]'), tracing="Active")
    result = caller.invoke({})
    assert result.payload == 202
    assert lab.async_queue.wait_idle(60)
    [callee_run] = lab.record.events("invoke", function="callee")
    trace = traces.trace_of(callee_run.request_id)
    assert trace["Id"] == traces.trace_of(result.request_id)["Id"]
    docs = trace_segments(trace)
    callee_service = next(d for d in docs if d["name"] == "callee" and d["origin"] == "AWS::Lambda")
    assert _names(callee_service) == ["Dwell Time", "Attempt #1"]
    assert callee_service["http"]["response"]["status"] == 202
    caller_function = next(d for d in docs if d["name"] == "caller" and d["origin"] == "AWS::Lambda::Function")
    invoke = next(e for _, e in walk(caller_function) if e.get("name") == "Lambda")
    assert callee_service["parent_id"] == invoke["id"] and invoke["http"]["response"]["status"] == 202


"""Recursive loop detection: Lambda stops the 17th invocation one triggering event causes, sends the
event where failures go, counts it; ``RecursiveLoop=Allow`` lets a loop run."""

import json
import textwrap

import pytest

from lambdalab_ext import recursion
from lambdalab_ext.clock import VirtualClock

FAST = 1769

# A function that invokes itself asynchronously through the Lambda API, with plain boto3: the
# loop Lambda detects through its own service.
SELF_INVOKING = textwrap.dedent("""
    import json, os, boto3
    lam = boto3.client("lambda")
    def handler(event, context):
        n = event.get("n", 0)
        if n < event.get("stop_at", 10**6):
            lam.invoke(FunctionName=context.function_name, InvocationType="Event",
                       Payload=json.dumps({"n": n + 1, "stop_at": event.get("stop_at", 10**6)}))
        return {"n": n, "trace": os.environ.get("_X_AMZN_TRACE_ID")}
""")


def test_the_lineage_count_goes_one_step_per_invocation_and_keeps_the_trace():
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=1:0a1b2c3d:4"
    child = recursion.child_header(header)
    assert recursion.depth_of(child) == 5
    assert child.startswith("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=")
    assert "Parent=53995c3f42cd8ad8" not in child and "Lineage=1:0a1b2c3d:5" in child
    assert recursion.depth_of("Root=1-5759e988-bd862e3fe1be46a994272793") is None
    assert recursion.depth_of("Lineage=junk") is None
    assert not recursion.stops(15) and recursion.stops(16) and not recursion.stops(16, "Allow")


@pytest.mark.parametrize("kind", ["process", "docker"])
def test_a_function_invoking_itself_is_stopped_after_16_invocations(make_lab, kind):
    clock = VirtualClock()
    lab = make_lab(kind, clock=clock)
    sqs = lab.aws.client("sqs")
    dlq = sqs.create_queue(QueueName="loop-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    fn = lab.deploy("looper", SELF_INVOKING, memory_mb=FAST, timeout_s=10, dead_letter_target_arn=dlq_arn)
    fn.invoke({"n": 0}, invocation_type="Event")
    lab.async_queue.wait_idle(timeout=120)
    attempts = [e for e in lab.record.events(kind="attempt", function="looper")]
    assert len(attempts) == 16 and all(e["status"] == "success" for e in attempts)
    [stopped] = lab.record.events(kind="recursion_stopped", function="looper")
    assert stopped["depth"] == 16
    assert lab.service.recursive_invocations_dropped == {"looper": 1}
    # The stopped event went to the dead-letter queue, unchanged, with Lambda's attributes.
    messages = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"], MaxNumberOfMessages=10)["Messages"]
    [message] = messages
    assert json.loads(message["Body"]) == {"n": 16, "stop_at": 10**6}
    assert message["MessageAttributes"]["ErrorCode"]["StringValue"] == "400"
    assert "recursive loop" in message["MessageAttributes"]["ErrorMessage"]["StringValue"]


def test_a_chain_shorter_than_the_limit_runs_and_allow_lets_a_longer_one_run(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    fn = lab.deploy("short", SELF_INVOKING, memory_mb=FAST, timeout_s=10)
    fn.invoke({"n": 0, "stop_at": 5}, invocation_type="Event")
    lab.async_queue.wait_idle(timeout=60)
    assert len(lab.record.events(kind="attempt", function="short")) == 6
    assert lab.record.events(kind="recursion_stopped") == []

    allowed = lab.deploy("allowed", SELF_INVOKING, memory_mb=FAST, timeout_s=10)
    allowed.update(recursive_loop="Allow")
    allowed.invoke({"n": 0, "stop_at": 20}, invocation_type="Event")
    lab.async_queue.wait_idle(timeout=120)
    assert len(lab.record.events(kind="attempt", function="allowed")) == 21
    assert lab.record.events(kind="recursion_stopped") == []


def test_a_synchronous_invoke_past_the_limit_gets_recursive_invocation_exception(make_lab):
    lab = make_lab("process")
    lab.deploy("sync", "def handler(event, context):\n    return 1\n", memory_mb=FAST)
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=1:0a1b2c3d:15"
    client = lab.aws.client("lambda")

    def add_header(request, **kwargs):
        request.headers["X-Amzn-Trace-Id"] = header
    client.meta.events.register("before-sign.lambda.Invoke", add_header)
    with pytest.raises(client.exceptions.RecursiveInvocationException):
        client.invoke(FunctionName="sync", Payload=b"{}")


def _queue(lab, name, **attributes):
    import uuid
    sqs = lab.aws.client("sqs")
    url = sqs.create_queue(QueueName=f"{name}-{uuid.uuid4().hex[:8]}", Attributes=attributes)["QueueUrl"]
    return sqs, url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_a_loop_through_an_sqs_queue_is_stopped_and_the_message_goes_to_the_queues_dlq(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    sqs, dlq_url, dlq_arn = _queue(lab, "loop-dlq")
    _, url, arn = _queue(lab, "loop", VisibilityTimeout="30",
                         RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}))
    lab.deploy("echo", textwrap.dedent(f"""
        import boto3
        sqs = boto3.client("sqs")
        def handler(event, context):
            for record in event["Records"]:
                sqs.send_message(QueueUrl={url!r}, MessageBody=record["body"] + "+")
            return len(event["Records"])
    """), memory_mb=FAST, timeout_s=10)
    lab.create_event_source_mapping("echo", arn, BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    for _ in range(40):
        lab.clock.advance(1)
    runs = [b for b in lab.record.events(kind="batch", function="echo") if b["outcome"] == "success" and b["size"]]
    assert len(runs) == 16
    [stopped] = lab.record.events(kind="recursion_stopped", function="echo")
    assert stopped["source"] == "sqs" and stopped["depth"] == 16 and stopped["sent_to"] == "dlq"
    [message] = sqs.receive_message(QueueUrl=dlq_url)["Messages"]
    assert message["Body"] == "m" + "+" * 16
    assert lab.service.recursive_invocations_dropped == {"echo": 1}


def test_a_loop_through_an_sns_topic_is_stopped(make_lab):
    import uuid
    lab = make_lab("process", clock=VirtualClock())
    sns = lab.aws.client("sns")
    topic = sns.create_topic(Name=f"loop-{uuid.uuid4().hex[:8]}")["TopicArn"]
    fn = lab.deploy("repeater", textwrap.dedent(f"""
        import boto3
        sns = boto3.client("sns")
        def handler(event, context):
            sns.publish(TopicArn={topic!r}, Message=event["Records"][0]["Sns"]["Message"] + "+")
    """), memory_mb=FAST, timeout_s=10)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn)
    sns.publish(TopicArn=topic, Message="m")
    lab.async_queue.wait_idle(timeout=120)
    assert len(lab.record.events(kind="attempt", function="repeater")) == 16
    [stopped] = lab.record.events(kind="recursion_stopped", function="repeater")
    assert stopped["source"] == "sns"


def test_a_function_writing_into_its_own_trigger_bucket_is_stopped(make_lab):
    import uuid
    lab = make_lab("process", clock=VirtualClock())
    s3 = lab.aws.client("s3")
    bucket = f"loop-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    fn = lab.deploy("copier", textwrap.dedent("""
        import boto3
        s3 = boto3.client("s3")
        def handler(event, context):
            record = event["Records"][0]["s3"]
            s3.put_object(Bucket=record["bucket"]["name"], Key=record["object"]["key"] + "x", Body=b"again")
    """), memory_mb=FAST, timeout_s=10)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn.arn, "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket=bucket, Key="k", Body=b"first")
    lab.async_queue.wait_idle(timeout=120)
    assert len(lab.record.events(kind="attempt", function="copier")) == 16
    assert len(lab.record.events(kind="recursion_stopped", function="copier")) == 1
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 17    # the 16th invocation's write is the last


def test_the_recursion_config_through_the_lambda_api(make_lab):
    lab = make_lab("process")
    lab.deploy("configured", "def handler(event, context):\n    return 1\n", memory_mb=FAST)
    lam = lab.aws.client("lambda")
    assert lam.get_function_recursion_config(FunctionName="configured")["RecursiveLoop"] == "Terminate"
    assert lam.put_function_recursion_config(FunctionName="configured", RecursiveLoop="Allow")["RecursiveLoop"] == "Allow"
    assert lab.functions["configured"].config.recursive_loop == "Allow"
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.put_function_recursion_config(FunctionName="configured", RecursiveLoop="Sometimes")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_recursion_config(FunctionName="missing")

"""Step Functions in the lab: workflows whose Task states run real functions (process backend, one
Docker test) and the embedded services, on the lab clock; the diagrams; the price.

Expected behaviour is AWS's, from the Step Functions Developer Guide pages named above each group.
"""

import json
import time
from decimal import Decimal

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lambdalab_ext import VirtualClock  # noqa: E402
from lambdalab_ext import pricing as lambda_pricing  # noqa: E402
from lambdalab_ext.clock import RealClock  # noqa: E402
from lambdalab_ext.stepfunctions import diagram, pricing  # noqa: E402
from lambdalab_ext.stepfunctions.service import attach  # noqa: E402

ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
INVOKE = "arn:aws:states:::lambda:invoke"

ADD = "def handler(event, context):\n    return {'n': event['n'] + 1}\n"
BOOM = "def handler(event, context):\n    raise ValueError('bad order ' + str(event.get('id')))\n"
FLAKY = """
CALLS = {"n": 0}
def handler(event, context):
    CALLS["n"] += 1
    if CALLS["n"] <= 2:
        raise ConnectionError("card network unavailable")
    return {"charged": event["amount"], "attempt": CALLS["n"]}
"""
SLOW = "import time\ndef handler(event, context):\n    time.sleep(0.15)\n    return event['i'] * 10\n"
TOKEN = "def handler(event, context):\n    return {'token': event['token'], 'order': event['order']}\n"


@pytest.fixture
def sfn_lab(make_lab):
    """A process-backend lab on a virtual clock with Step Functions attached (closed after)."""
    services = []

    def make(clock=None, **functions):
        lab = make_lab("process", clock=clock or VirtualClock())
        for name, source in functions.items():
            lab.deploy(name, source)
        sfn = attach(lab, seed=7)
        services.append(sfn)
        return lab, sfn

    yield make
    for sfn in services:
        sfn.close()


def task(resource, **fields):
    return {"Type": "Task", "Resource": resource, **fields}


def machine(states, start=None):
    return {"StartAt": start or next(iter(states)), "States": states}


def seconds(execution, event):
    return (event["timestamp"] - execution.start_date).total_seconds()


# https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html (the optimised integration's
# result: the Invoke API response with the function's output under Payload; FunctionName forms)
def test_lambda_invoke_integration_runs_the_real_function_with_the_payload_wrapper(sfn_lab):
    lab, sfn = sfn_lab(add=ADD)
    sfn.create("wrap", machine({
        "ByName": task(INVOKE, Parameters={"FunctionName": "add", "Payload.$": "$"}, ResultSelector={"n.$": "$.Payload.n"},
                       Next="ByArn"),
        "ByArn": task(INVOKE, Parameters={"FunctionName": ARN + "add", "Payload.$": "$"},
                      ResultSelector={"n.$": "$.Payload.n"}, Next="ByPartialArn"),
        "ByPartialArn": task(INVOKE, Parameters={"FunctionName": "123456789012:function:add", "Payload.$": "$"},
                             End=True)}))
    execution = sfn.run("wrap", {"n": 1})
    assert execution.status == "SUCCEEDED"
    out = execution.output
    assert out["Payload"] == {"n": 4} and out["StatusCode"] == 200 and out["ExecutedVersion"] == "$LATEST"
    assert out["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert out["SdkResponseMetadata"]["RequestId"] == out["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"]
    invokes = lab.record.events(kind="invoke", function="add")
    assert len(invokes) == 3
    assert {e["source"] for e in invokes} == {"states"}


# https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html ("arn:aws:lambda:...:function:name":
# the result is the function's output, and the history has the LambdaFunction* events)
def test_plain_function_arn_gives_the_functions_output(sfn_lab):
    lab, sfn = sfn_lab(add=ADD)
    sfn.create("plain", machine({"Add": task(ARN + "add", End=True)}))
    execution = sfn.run("plain", {"n": 41})
    assert execution.output == {"n": 42}
    assert execution.history.types() == [
        "ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
        "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"]


# https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html (a function's
# exception is the error name; Catch passes {"Error", "Cause"} at ResultPath)
def test_function_error_is_caught_with_its_error_type(sfn_lab):
    lab, sfn = sfn_lab(boom=BOOM)
    sfn.create("catch", machine({
        "Validate": task(ARN + "boom", Catch=[{"ErrorEquals": ["ValueError"], "ResultPath": "$.error",
                                               "Next": "Reject"}], End=True),
        "Reject": {"Type": "Pass", "End": True}}))
    execution = sfn.run("catch", {"id": 7})
    assert execution.status == "SUCCEEDED"
    error = execution.output["error"]
    assert error["Error"] == "ValueError"
    cause = json.loads(error["Cause"])
    assert cause["errorType"] == "ValueError" and cause["errorMessage"] == "bad order 7"
    assert cause["stackTrace"]


def test_uncaught_function_error_fails_the_execution(sfn_lab):
    lab, sfn = sfn_lab(boom=BOOM)
    sfn.create("fail", machine({"Validate": task(INVOKE, Parameters={"FunctionName": "boom", "Payload": {"id": 3}},
                                                 End=True)}))
    execution = sfn.run("fail")
    assert execution.status == "FAILED" and execution.error == "ValueError"
    assert "TaskFailed" in execution.history.types()


# https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html (Retry:
# IntervalSeconds before the first retry, multiplied by BackoffRate for each next one)
def test_retry_waits_on_the_lab_clock_with_a_real_flaky_function(sfn_lab):
    lab, sfn = sfn_lab(charge=FLAKY)
    sfn.create("retry", machine({"Charge": task(ARN + "charge", Retry=[{
        "ErrorEquals": ["ConnectionError"], "IntervalSeconds": 10, "BackoffRate": 3, "MaxAttempts": 3}], End=True)}))
    real = time.monotonic()
    execution = sfn.run("retry", {"amount": 25})
    assert time.monotonic() - real < 10
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"charged": 25, "attempt": 3}
    events = execution.history.events
    failed = [e for e in events if e["type"] == "LambdaFunctionFailed"]
    scheduled = [e for e in events if e["type"] == "LambdaFunctionScheduled"]
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failed] == ["ConnectionError"] * 2
    gaps = [round(seconds(execution, s) - seconds(execution, f), 3) for f, s in zip(failed, scheduled[1:])]
    assert gaps == [10.0, 30.0]
    # Each attempt lasts what Lambda billed for it, on the lab clock.
    durations = [r.billed_duration_ms / 1000 for r in sfn.lambda_results(execution)]
    first_end = seconds(execution, failed[0]) - seconds(execution, scheduled[0])
    assert first_end == pytest.approx(durations[0], abs=1e-3)
    assert execution.state_transitions == 3        # the state, and one per retry (billed)


# https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html (Lambda's service
# errors as Lambda.* errors of the optimised integration)
def test_service_errors_are_lambda_errors(sfn_lab):
    lab, sfn = sfn_lab()
    lab.deploy("off", ADD, reserved_concurrency=0)
    sfn.create("svc", machine({
        "Missing": task(INVOKE, Parameters={"FunctionName": "nope", "Payload": {}},
                        Catch=[{"ErrorEquals": ["Lambda.ResourceNotFoundException"], "ResultPath": "$.missing",
                                "Next": "Throttled"}], End=True),
        "Throttled": task(INVOKE, Parameters={"FunctionName": "off", "Payload": {"n": 1}}, End=True)}))
    execution = sfn.run("svc")
    assert execution.status == "FAILED"
    assert execution.error == "Lambda.TooManyRequestsException"
    assert "Status Code: 429" in execution.cause
    caught = [e for e in execution.history if e["type"] == "TaskFailed"][0]["taskFailedEventDetails"]
    assert caught["error"] == "Lambda.ResourceNotFoundException" and "nope" in caught["cause"]


# https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html (MaxConcurrency: at most
# that many iterations at once; the results keep the items' order)
def test_map_runs_real_functions_at_most_max_concurrency_at_once(sfn_lab):
    lab, sfn = sfn_lab(slow=SLOW)
    sfn.create("map", machine({"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ItemSelector": {"i.$": "$$.Map.Item.Value"},
        "ItemProcessor": machine({"Work": task(ARN + "slow", End=True)}), "End": True}}))
    execution = sfn.run("map", {"items": list(range(6))})
    assert execution.status == "SUCCEEDED" and execution.output == [0, 10, 20, 30, 40, 50]
    moments = []
    for event in execution.history:
        if event["type"] == "LambdaFunctionStarted":
            moments.append((seconds(execution, event), 1))
        elif event["type"] == "LambdaFunctionSucceeded":
            moments.append((seconds(execution, event), -1))
    running = peak = 0
    for _, step in sorted(moments, key=lambda m: (m[0], m[1])):
        running += step
        peak = max(peak, running)
    assert peak == 2
    invokes = lab.record.events(kind="invoke", function="slow")
    assert len(invokes) == 6
    # Two at a time ran at once for real too: two environments, each used three times.
    assert len({e["environment"] for e in invokes}) == 2


# https://docs.aws.amazon.com/step-functions/latest/dg/state-parallel.html (branches' outputs as an array)
def test_parallel_branches_run_real_functions(sfn_lab):
    lab, sfn = sfn_lab(add=ADD)
    branch = machine({"A": task(ARN + "add", End=True)})
    sfn.create("par", machine({"Both": {"Type": "Parallel", "Branches": [branch, branch], "End": True}}))
    assert sfn.run("par", {"n": 1}).output == [{"n": 2}, {"n": 2}]


# https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html (Seconds) on the lab clock
def test_an_hour_long_wait_takes_no_real_time_and_the_task_still_runs(sfn_lab):
    lab, sfn = sfn_lab(add=ADD)
    sfn.create("wait", machine({"Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Add"},
                                "Add": task(ARN + "add", End=True)}))
    real = time.monotonic()
    execution = sfn.run("wait", {"n": 0})
    assert time.monotonic() - real < 5
    assert execution.output == {"n": 1}
    exited = execution.history.of_type("WaitStateExited")[0]
    assert seconds(execution, exited) == pytest.approx(3600.0)
    assert lab.clock.now() >= 3600


# https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token
def test_wait_for_task_token_until_send_task_success(sfn_lab):
    lab, sfn = sfn_lab(approve=TOKEN)
    sfn.create("approval", machine({
        "Ask": task(INVOKE + ".waitForTaskToken",
                    Parameters={"FunctionName": "approve", "Payload": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
                    HeartbeatSeconds=3600, Next="Done"),
        "Done": {"Type": "Pass", "End": True}}))
    execution = sfn.start("approval", {"order": 12})
    lab.clock.advance(5)                 # the function ran; the task waits for its token
    assert execution.status == "RUNNING"
    submitted = execution.history.of_type("TaskSubmitted")[0]["taskSubmittedEventDetails"]
    payload = json.loads(submitted["output"])["Payload"]
    assert payload["order"] == 12
    sfn.client().send_task_success(taskToken=payload["token"], output=json.dumps({"approved": True}))
    sfn.wait(execution)
    assert execution.status == "SUCCEEDED" and execution.output == {"approved": True}


def test_wait_for_task_token_failure_and_heartbeat_timeout(sfn_lab):
    lab, sfn = sfn_lab(approve=TOKEN)
    ask = task(INVOKE + ".waitForTaskToken",
               Parameters={"FunctionName": "approve", "Payload": {"token.$": "$$.Task.Token", "order": 1}},
               HeartbeatSeconds=60, End=True)
    sfn.create("approval", machine({"Ask": ask}))
    first = sfn.start("approval")
    lab.clock.advance(5)
    token = json.loads(first.history.of_type("TaskSubmitted")[0]["taskSubmittedEventDetails"]["output"])["Payload"]["token"]
    sfn.client().send_task_failure(taskToken=token, error="Rejected", cause="too expensive")
    assert (first.status, first.error, first.cause) == ("FAILED", "Rejected", "too expensive")
    second = sfn.start("approval")
    sfn.wait(second)         # nobody answers: the heartbeat runs out 60 s later on the lab clock
    assert (second.status, second.error) == ("FAILED", "States.HeartbeatTimeout")


def test_run_returns_while_a_token_is_awaited_with_nothing_scheduled(sfn_lab):
    lab, sfn = sfn_lab(approve=TOKEN)
    lab.clock.call_later(86_400, lambda: None, name="someone else's timer, a day away")
    sfn.create("approval", machine({"Ask": task(INVOKE + ".waitForTaskToken", End=True, Parameters={
        "FunctionName": "approve", "Payload": {"token.$": "$$.Task.Token", "order": 1}})}))
    execution = sfn.run("approval")
    assert execution.status == "RUNNING" and lab.clock.now() < 60


# https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token (an SQS
# message carries the token; the consumer answers with it)
def test_sqs_wait_for_task_token(sfn_lab):
    lab, sfn = sfn_lab()
    sqs = lab.aws.client("sqs")
    url = sqs.create_queue(QueueName="approvals")["QueueUrl"]
    sfn.create("queued", machine({"Ask": task("arn:aws:states:::sqs:sendMessage.waitForTaskToken", End=True,
                                              Parameters={"QueueUrl": url, "MessageBody": {
                                                  "token.$": "$$.Task.Token", "order.$": "$.order"}})}))
    execution = sfn.start("queued", {"order": 4})
    lab.clock.advance(1)
    body = json.loads(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"])
    assert body["order"] == 4 and execution.status == "RUNNING"
    assert execution.history.types()[-1] == "TaskSubmitted"
    sfn.client().send_task_success(taskToken=body["token"], output='"approved"')
    assert (execution.status, execution.output) == ("SUCCEEDED", "approved")
    code = None
    try:
        sfn.client().send_task_success(taskToken=body["token"], output='"again"')
    except Exception as exc:                         # the token is spent
        code = exc.response["Error"]["Code"]
    assert code == "TaskDoesNotExist"


# https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html (TimeoutSeconds: States.Timeout),
# on the lab clock: the task lasts what the function was billed, here longer than the timeout
def test_task_timeout_on_the_lab_clock_with_a_slow_function(sfn_lab):
    lab, sfn = sfn_lab()
    lab.deploy("sleepy", "import time\ndef handler(event, context):\n    time.sleep(1.3)\n    return 1\n")
    sfn.create("timeout", machine({"Slow": task(ARN + "sleepy", TimeoutSeconds=1, End=True)}))
    execution = sfn.run("timeout")
    assert (execution.status, execution.error) == ("FAILED", "States.Timeout")
    timed_out = execution.history.of_type("LambdaFunctionTimedOut")[0]
    assert seconds(execution, timed_out) == pytest.approx(1.0)


# https://docs.aws.amazon.com/step-functions/latest/dg/connect-sqs.html,
# https://docs.aws.amazon.com/step-functions/latest/dg/connect-sns.html
def test_sqs_and_sns_integrations_send_through_the_embedded_services(sfn_lab):
    lab, sfn = sfn_lab()
    sqs, sns = lab.aws.client("sqs"), lab.aws.client("sns")
    url = sqs.create_queue(QueueName="sfn-orders")["QueueUrl"]
    topic = sns.create_topic(Name="shipped")["TopicArn"]
    sfn.create("notify", machine({
        "Queue": task("arn:aws:states:::sqs:sendMessage", Parameters={"QueueUrl": url, "MessageBody.$": "$"},
                      ResultPath="$.sqs", Next="Topic"),
        "Topic": task("arn:aws:states:::sns:publish", Parameters={"TopicArn": topic, "Message.$": "$.order"},
                      ResultPath="$.sns", End=True)}))
    execution = sfn.run("notify", {"order": {"id": 5}})
    assert execution.status == "SUCCEEDED", execution.cause
    out = execution.output
    message = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert json.loads(message["Body"]) == {"order": {"id": 5}}
    assert out["sqs"]["MessageId"] == message["MessageId"]
    assert out["sqs"]["MD5OfMessageBody"] == message["MD5OfBody"]
    assert out["sns"]["MessageId"] and out["sns"]["SdkHttpMetadata"]["HttpStatusCode"] == 200


# https://docs.aws.amazon.com/step-functions/latest/dg/connect-ddb.html (the API's own parameters and
# results; a service error is DynamoDB.<Exception>)
def test_dynamodb_integrations_put_get_update_delete(sfn_lab):
    lab, sfn = sfn_lab()
    ddb = lab.aws.client("dynamodb")
    ddb.create_table(TableName="stock", KeySchema=[{"AttributeName": "sku", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "sku", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    key = {"sku": {"S": "book"}}
    sfn.create("ddb", machine({
        "Put": task("arn:aws:states:::dynamodb:putItem",
                    Parameters={"TableName": "stock", "Item": {"sku": {"S": "book"}, "count": {"N": "3"}}},
                    ResultPath=None, Next="Take"),
        "Take": task("arn:aws:states:::dynamodb:updateItem",
                     Parameters={"TableName": "stock", "Key": key, "UpdateExpression": "SET #c = #c - :one",
                                 "ConditionExpression": "#c > :zero", "ExpressionAttributeNames": {"#c": "count"},
                                 "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "2"}},
                                 "ReturnValues": "UPDATED_NEW"}, ResultPath="$.update", Next="Get"),
        "Get": task("arn:aws:states:::dynamodb:getItem", Parameters={"TableName": "stock", "Key": key},
                    ResultPath="$.get", Next="TakeAgain"),
        "TakeAgain": task("arn:aws:states:::dynamodb:updateItem",
                          Parameters={"TableName": "stock", "Key": key, "UpdateExpression": "SET #c = #c - :one",
                                      "ConditionExpression": "#c > :zero", "ExpressionAttributeNames": {"#c": "count"},
                                      "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "2"}}},
                          Catch=[{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                                  "ResultPath": "$.soldOut", "Next": "Delete"}], End=True),
        "Delete": task("arn:aws:states:::dynamodb:deleteItem", Parameters={"TableName": "stock", "Key": key},
                       ResultPath="$.delete", End=True)}))
    execution = sfn.run("ddb", {})
    assert execution.status == "SUCCEEDED", execution.cause
    out = execution.output
    assert out["update"]["Attributes"] == {"count": {"N": "2"}}
    assert out["get"]["Item"] == {"sku": {"S": "book"}, "count": {"N": "2"}}
    assert out["soldOut"]["Error"] == "DynamoDB.ConditionalCheckFailedException"
    assert "Item" not in ddb.get_item(TableName="stock", Key=key)


# https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html (InvocationType Event:
# the function is invoked asynchronously; the response is StatusCode 202)
def test_event_invocation_type_queues_the_function(sfn_lab):
    lab, sfn = sfn_lab(add=ADD)
    sfn.create("async", machine({"Fire": task(INVOKE, Parameters={"FunctionName": "add", "InvocationType": "Event",
                                                                  "Payload": {"n": 1}}, End=True)}))
    execution = sfn.run("async")
    assert execution.output["StatusCode"] == 202 and execution.output["Payload"] == ""
    lab.async_queue.wait_idle(timeout=20)
    invokes = lab.record.events(kind="invoke", function="add")
    assert [(e["invocation_type"], e["source"]) for e in invokes] == [("Event", "states")]


# https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html (JSONata: Arguments and Output)
def test_a_jsonata_task_runs_a_real_function(sfn_lab):
    lab, sfn = sfn_lab(add=ADD)
    sfn.create("jsonata", {"QueryLanguage": "JSONata", "StartAt": "Add", "States": {"Add": {
        "Type": "Task", "Resource": INVOKE, "Arguments": {"FunctionName": "add", "Payload": {"n": "{% $states.input.a * 10 %}"}},
        "Output": "{% $states.result.Payload.n %}", "End": True}}})
    assert sfn.run("jsonata", {"a": 4}).output == 41


def test_real_clock_runs_tasks_on_threads(sfn_lab):
    lab, sfn = sfn_lab(clock=RealClock(), add=ADD)
    try:
        sfn.create("real", machine({"A": task(ARN + "add", Next="B"), "B": task(ARN + "add", End=True)}))
        execution = sfn.run("real", {"n": 0}, timeout_s=30)
        assert execution.status == "SUCCEEDED" and execution.output == {"n": 2}
    finally:
        lab.clock.close()


def test_close_cancels_the_pending_wait(sfn_lab):
    lab, sfn = sfn_lab()
    sfn.create("nap", machine({"Nap": {"Type": "Wait", "Seconds": 600, "End": True}}))
    execution = sfn.start("nap")
    lab.clock.advance(0)
    assert any(call.when == pytest.approx(600) for call in lab.clock.pending())
    sfn.close()
    assert not any(call.when == pytest.approx(600) for call in lab.clock.pending())
    lab.clock.advance(700)
    assert execution.status == "RUNNING"


def test_docker_backend_runs_a_workflow(docker_lab):
    docker_lab.deploy("add", ADD)
    sfn = attach(docker_lab)
    try:
        sfn.create("docker", machine({"A": task(ARN + "add", Next="B"), "B": task(INVOKE, Parameters={
            "FunctionName": "add", "Payload.$": "$"}, OutputPath="$.Payload", End=True)}))
        execution = sfn.run("docker", {"n": 1}, timeout_s=120)
        assert execution.status == "SUCCEEDED" and execution.output == {"n": 3}
        assert {r.backend for r in sfn.lambda_results(execution)} == {"docker"}
    finally:
        sfn.close()


# ------------------------------------------------------------------------------ diagram, timeline, table

ORDER = machine({
    "Validate": task(ARN + "add", ResultPath="$.validated", Next="Charge"),
    "Charge": task(ARN + "charge", Retry=[{"ErrorEquals": ["ConnectionError"], "IntervalSeconds": 2, "MaxAttempts": 3}],
                   Next="Ship"),
    "Ship": task(ARN + "boom", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Refund", "ResultPath": "$.e"}],
                 Next="Done"),
    "Refund": {"Type": "Pass", "Next": "Decide"},
    "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.e", "IsPresent": True, "Next": "Done"}],
               "Default": "Never"},
    "Done": {"Type": "Succeed"},
    "Never": {"Type": "Fail", "Error": "X"}})


def facecolour(ax, name):
    patch = [p for p in ax.patches if p.get_gid() == f"state:{name}"][0]
    return matplotlib.colors.to_hex(patch.get_facecolor())


def test_diagram_colours_each_state_by_what_happened(sfn_lab):
    lab, sfn = sfn_lab(add=ADD, charge=FLAKY, boom=BOOM)
    sfn.create("order", ORDER)
    execution = sfn.run("order", {"n": 1, "amount": 3})
    assert execution.status == "SUCCEEDED"
    fig, ax = plt.subplots()
    try:
        diagram.draw(ORDER, execution, ax=ax)
        colours = {name: facecolour(ax, name) for name in ORDER["States"]}
        expected = {"Validate": "succeeded", "Charge": "retried", "Ship": "caught", "Refund": "succeeded",
                    "Decide": "succeeded", "Done": "succeeded", "Never": "not run"}
        assert colours == {n: diagram.STATUS_COLOURS[s] for n, s in expected.items()}
        texts = {t.get_text() for t in ax.texts}
        assert set(ORDER["States"]) <= texts and "Catch States.ALL" in texts and "Default" in texts
        edges = {p.get_gid() for p in ax.patches if (p.get_gid() or "").startswith("edge:")}
        assert {"edge:Validate->Charge", "edge:Ship->Refund", "edge:Ship->Done", "edge:Refund->Decide",
                "edge:Decide->Done", "edge:Decide->Never"} <= edges
        # Top-down: each state below the one that leads to it.
        tops = {p.get_gid()[6:]: p.get_y() for p in ax.patches if (p.get_gid() or "").startswith("state:")}
        assert tops["Validate"] > tops["Charge"] > tops["Ship"] > tops["Refund"]
        assert diagram.outcomes(execution)["Charge"].attempts == 3
    finally:
        plt.close(fig)

    fig, ax = plt.subplots()
    try:
        diagram.timeline(execution, ax=ax)
        attempts = {p.get_gid(): matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches
                    if (p.get_gid() or "").startswith("attempt:Charge")}
        assert attempts == {"attempt:Charge:1": "#c62828", "attempt:Charge:2": "#c62828", "attempt:Charge:3": "#2e7d32"}
        bars = {p.get_gid(): p for p in ax.patches if p.get_gid()}
        # The second attempt starts 2 s (IntervalSeconds) after the first ended, on the lab clock.
        first, second = bars["attempt:Charge:1"], bars["attempt:Charge:2"]
        assert second.get_x() - (first.get_x() + first.get_width()) == pytest.approx(2.0, abs=0.01)
        assert [t.get_text() for t in ax.get_yticklabels()] == ["Validate", "Charge", "Ship", "Refund", "Decide",
                                                                 "Done"]
    finally:
        plt.close(fig)

    table = diagram.history_table(execution)
    assert [r["type"] for r in table] == execution.history.types()
    assert [r for r in table if r["type"] == "LambdaFunctionFailed"][0]["state"] == "Charge"
    assert "<table>" in table._repr_html_() and "ConnectionError" in table._repr_html_()


def test_diagram_draws_parallel_and_map_as_groups():
    definition = machine({
        "Fan": {"Type": "Parallel", "Branches": [machine({"Ship": {"Type": "Pass", "End": True}}),
                                                 machine({"Email": {"Type": "Pass", "End": True}})], "Next": "Items"},
        "Items": {"Type": "Map", "ItemProcessor": machine({"Pack": {"Type": "Pass", "End": True}}), "End": True}})
    fig, ax = plt.subplots()
    try:
        diagram.draw(definition, ax=ax)
        boxes = {p.get_gid()[6:]: p for p in ax.patches if (p.get_gid() or "").startswith("state:")}
        fan, ship, email = boxes["Fan"], boxes["Ship"], boxes["Email"]
        assert fan.get_linestyle() == "--"
        for inner in (ship, email):
            assert fan.get_x() <= inner.get_x() and inner.get_x() + inner.get_width() <= fan.get_x() + fan.get_width()
            assert fan.get_y() <= inner.get_y() <= fan.get_y() + fan.get_height()
        assert ship.get_x() < email.get_x()                       # branches side by side
        items, pack = boxes["Items"], boxes["Pack"]
        assert items.get_y() <= pack.get_y() <= items.get_y() + items.get_height()
        assert "Fan (Parallel)" in {t.get_text() for t in ax.texts}
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------------------- price

# https://aws.amazon.com/step-functions/pricing/ (Standard: per transition, retries included, 4,000
# free a month; Express: per request and per duration rounded up to 100 ms, memory in 64 MB chunks)
def test_pricing_of_standard_and_express():
    assert pricing.standard_cost(4000).workflow_cost == 0
    assert pricing.standard_cost(1_000_000, free_tier=False).workflow_cost == Decimal("25")
    assert pricing.billed_duration_ms(1) == 100 and pricing.billed_duration_ms(100) == 100
    assert pricing.billed_duration_ms(101) == 200
    assert pricing.billed_memory_mb(1) == 64 and pricing.billed_memory_mb(64 * 1024 * 1024 + 1) == 128
    one = pricing.express_cost(1_000_000, 1000, 64)
    assert one.workflow_cost == Decimal("1") + Decimal("62500") * Decimal("0.00001667")
    monthly = pricing.compare_monthly(1_000_000, 10, 1000)
    assert monthly["STANDARD"].workflow_cost == (10_000_000 - 4000) * Decimal("0.000025")
    assert monthly["EXPRESS"].workflow_cost < monthly["STANDARD"].workflow_cost


def test_cost_of_an_execution_adds_the_functions_lambda_cost(sfn_lab):
    lab, sfn = sfn_lab(add=ADD)
    sfn.create("cost", machine({"A": task(ARN + "add", Next="B"), "B": task(ARN + "add", End=True)}))
    execution = sfn.run("cost", {"n": 0})
    results = sfn.lambda_results(execution)
    cost = pricing.cost_of_execution(execution, results)
    assert cost.state_transitions == 2 and cost.workflow_cost == 2 * pricing.STANDARD_PER_TRANSITION
    assert cost.lambda_invocations == 2
    assert cost.lambda_cost == lambda_pricing.cost_of_many(results).total > 0
    assert cost.total == cost.workflow_cost + cost.lambda_cost

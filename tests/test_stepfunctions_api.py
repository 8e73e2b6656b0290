"""The Step Functions API on the lab's endpoint, through boto3's ``stepfunctions`` client end to end
(process backend, virtual clock). Shapes and errors are the API Reference's
(https://docs.aws.amazon.com/step-functions/latest/apireference/), named above each group.
"""

import datetime
import json

import botocore.exceptions
import pytest

from lambdalab_ext import VirtualClock
from lambdalab_ext.stepfunctions.service import attach

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
ADD = "def handler(event, context):\n    return {'n': event['n'] + 1}\n"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
NAP = {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 60, "Next": "Add"},
                                    "Add": {"Type": "Task", "Resource": ARN + "add", "End": True}}}


@pytest.fixture
def api(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    lab.deploy("add", ADD)
    sfn = attach(lab, seed=3)
    yield lab, sfn, sfn.client()
    sfn.close()


def error_of(call, **params):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**params)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def create(client, name, definition, **extra):
    return client.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE,
                                       **extra)["stateMachineArn"]


# https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html,
# API_DescribeStateMachine.html, API_ListStateMachines.html, API_UpdateStateMachine.html, API_DeleteStateMachine.html
def test_state_machine_lifecycle(api):
    lab, sfn, client = api
    arn = create(client, "Orders", PASS)
    assert arn == "arn:aws:states:us-east-1:123456789012:stateMachine:Orders"
    again = client.create_state_machine(name="Orders", definition=json.dumps(PASS), roleArn=ROLE)
    assert again["stateMachineArn"] == arn                         # same definition and role: idempotent
    code, message = error_of(client.create_state_machine, name="Orders", definition=json.dumps(NAP), roleArn=ROLE)
    assert code == "StateMachineAlreadyExists" and arn in message
    described = client.describe_state_machine(stateMachineArn=arn)
    assert described["status"] == "ACTIVE" and described["type"] == "STANDARD" and described["roleArn"] == ROLE
    assert json.loads(described["definition"]) == PASS
    assert isinstance(described["creationDate"], datetime.datetime)
    assert described["creationDate"].timestamp() == pytest.approx(sfn.wall(), abs=1)
    updated = client.update_state_machine(stateMachineArn=arn, definition=json.dumps(NAP))
    assert "revisionId" in updated and isinstance(updated["updateDate"], datetime.datetime)
    assert json.loads(client.describe_state_machine(stateMachineArn=arn)["definition"]) == NAP
    create(client, "Billing", PASS, type="EXPRESS")
    listed = client.list_state_machines()["stateMachines"]
    assert [(m["name"], m["type"]) for m in listed] == [("Billing", "EXPRESS"), ("Orders", "STANDARD")]
    page = client.list_state_machines(maxResults=1)
    assert len(page["stateMachines"]) == 1 and page["nextToken"]
    client.delete_state_machine(stateMachineArn=arn)
    code, message = error_of(client.describe_state_machine, stateMachineArn=arn)
    assert code == "StateMachineDoesNotExist" and message == f"State Machine Does Not Exist: '{arn}'"


# https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html (InvalidDefinition,
# InvalidName, InvalidArn), API_ValidateStateMachineDefinition.html (result, diagnostics with code and location)
def test_bad_definitions_names_and_arns(api):
    lab, sfn, client = api
    broken = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}}
    code, message = error_of(client.create_state_machine, name="Bad", definition=json.dumps(broken), roleArn=ROLE)
    assert code == "InvalidDefinition"
    assert "MISSING_TRANSITION_TARGET" in message and "/States/A/Next" in message
    code, _ = error_of(client.create_state_machine, name="Bad", definition="{not json", roleArn=ROLE)
    assert code == "InvalidDefinition"
    code, message = error_of(client.create_state_machine, name="has space", definition=json.dumps(PASS), roleArn=ROLE)
    assert (code, message) == ("InvalidName", "Invalid Name: 'has space'")
    code, _ = error_of(client.describe_state_machine, stateMachineArn="not-an-arn")
    assert code == "InvalidArn"
    result = client.validate_state_machine_definition(definition=json.dumps(broken))
    assert result["result"] == "FAIL"
    assert {(d["code"], d.get("location")) for d in result["diagnostics"]} >= {
        ("MISSING_TRANSITION_TARGET", "/States/A/Next")}
    assert client.validate_state_machine_definition(definition=json.dumps(PASS))["result"] == "OK"
    # Express workflows run no callback tasks ("Standard vs. Express Workflows").
    callback = {"StartAt": "T", "States": {"T": {"Type": "Task", "End": True,
                                                 "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                                                 "Parameters": {"FunctionName": "add"}}}}
    code, message = error_of(client.create_state_machine, name="Cb", definition=json.dumps(callback), roleArn=ROLE,
                             type="EXPRESS")
    assert code == "InvalidDefinition" and ".waitForTaskToken" in message
    assert client.validate_state_machine_definition(definition=json.dumps(callback), type="EXPRESS")["result"] == "FAIL"


# https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html,
# API_DescribeExecution.html, API_ListExecutions.html
def test_start_describe_and_list_executions(api):
    lab, sfn, client = api
    arn = create(client, "Nap", NAP)
    started = client.start_execution(stateMachineArn=arn, name="first", input=json.dumps({"n": 1}))
    assert started["executionArn"] == "arn:aws:states:us-east-1:123456789012:execution:Nap:first"
    assert isinstance(started["startDate"], datetime.datetime)
    running = client.describe_execution(executionArn=started["executionArn"])
    assert running["status"] == "RUNNING" and json.loads(running["input"]) == {"n": 1} and "stopDate" not in running
    sfn.wait(sfn.interpreter.executions[started["executionArn"]])
    done = client.describe_execution(executionArn=started["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"n": 2}
    assert (done["stopDate"] - done["startDate"]).total_seconds() >= 60       # the Wait, on the lab clock
    second = client.start_execution(stateMachineArn=arn, name="second", input=json.dumps({"n": 5}))
    listed = client.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in listed] == ["second", "first"]
    assert [e["name"] for e in client.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]] == [
        "second"]
    assert second["executionArn"] != started["executionArn"]
    unnamed = client.start_execution(stateMachineArn=arn, input=json.dumps({"n": 0}))
    assert len(unnamed["executionArn"].rsplit(":", 1)[-1]) == 36          # a UUID, as AWS names it


# https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html ("An execution can't use
# the name of another execution for 90 days ... When the original execution is open and the execution input from
# the new call is different, the ExecutionAlreadyExists message is returned. When the original execution is open
# and the execution input from the new call is identical, the Success message is returned. When the original
# execution is closed, the ExecutionAlreadyExists message is returned regardless of input.")
def test_standard_execution_names_are_unique_for_90_days(api):
    lab, sfn, client = api
    arn = create(client, "Nap", NAP)
    first = client.start_execution(stateMachineArn=arn, name="order-1", input='{"n": 1}')
    same = client.start_execution(stateMachineArn=arn, name="order-1", input='{"n": 1}')
    assert same["executionArn"] == first["executionArn"] and same["startDate"] == first["startDate"]
    code, message = error_of(client.start_execution, stateMachineArn=arn, name="order-1", input='{"n": 2}')
    assert code == "ExecutionAlreadyExists" and first["executionArn"] in message
    sfn.wait(sfn.interpreter.executions[first["executionArn"]])
    code, _ = error_of(client.start_execution, stateMachineArn=arn, name="order-1", input='{"n": 1}')
    assert code == "ExecutionAlreadyExists"                          # closed: no longer idempotent
    lab.clock.advance(90 * 24 * 3600 + 1)
    again = client.start_execution(stateMachineArn=arn, name="order-1", input='{"n": 1}')
    assert again["startDate"] > first["startDate"]


# https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html (maxResults,
# nextToken, reverseOrder, includeExecutionData; events with their ids and details)
def test_get_execution_history_pages_and_reverse_order(api):
    lab, sfn, client = api
    arn = create(client, "Nap", NAP)
    execution_arn = client.start_execution(stateMachineArn=arn, input='{"n": 1}')["executionArn"]
    sfn.wait(sfn.interpreter.executions[execution_arn])
    whole = client.get_execution_history(executionArn=execution_arn)["events"]
    assert [e["type"] for e in whole] == [
        "ExecutionStarted", "WaitStateEntered", "WaitStateExited", "TaskStateEntered", "LambdaFunctionScheduled",
        "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    assert [e["id"] for e in whole] == list(range(1, 10))
    assert all(isinstance(e["timestamp"], datetime.datetime) for e in whole)
    assert (whole[2]["timestamp"] - whole[1]["timestamp"]).total_seconds() == pytest.approx(60)
    assert json.loads(whole[-1]["executionSucceededEventDetails"]["output"]) == {"n": 2}
    first = client.get_execution_history(executionArn=execution_arn, maxResults=4)
    rest = client.get_execution_history(executionArn=execution_arn, maxResults=10, nextToken=first["nextToken"])
    assert [e["id"] for e in first["events"] + rest["events"]] == list(range(1, 10)) and "nextToken" not in rest
    backwards = client.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=2)["events"]
    assert [e["type"] for e in backwards] == ["ExecutionSucceeded", "TaskStateExited"]
    bare = client.get_execution_history(executionArn=execution_arn, includeExecutionData=False)["events"]
    assert "input" not in bare[0]["executionStartedEventDetails"]
    code, _ = error_of(client.get_execution_history, executionArn=execution_arn, nextToken="nonsense")
    assert code == "InvalidToken"


# https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html
def test_stop_execution_aborts_it(api):
    lab, sfn, client = api
    arn = create(client, "Nap", NAP)
    execution_arn = client.start_execution(stateMachineArn=arn, input='{"n": 1}')["executionArn"]
    lab.clock.advance(10)
    stopped = client.stop_execution(executionArn=execution_arn, error="Cancelled", cause="customer changed mind")
    assert isinstance(stopped["stopDate"], datetime.datetime)
    described = client.describe_execution(executionArn=execution_arn)
    assert (described["status"], described["error"], described["cause"]) == (
        "ABORTED", "Cancelled", "customer changed mind")
    types = [e["type"] for e in client.get_execution_history(executionArn=execution_arn)["events"]]
    assert types[-2:] == ["WaitStateAborted", "ExecutionAborted"]
    lab.clock.advance(120)
    assert lab.record.count("invoke", function="add") == 0          # the task after the Wait never ran


# https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartSyncExecution.html (Express only;
# status, output, billingDetails) and the Express limits of "Standard vs. Express Workflows"
def test_express_start_sync_execution(api):
    lab, sfn, client = api
    express = create(client, "Quick", {"StartAt": "Add", "States": {"Add": {"Type": "Task", "Resource": ARN + "add",
                                                                            "End": True}}}, type="EXPRESS")
    result = client.start_sync_execution(stateMachineArn=express, input='{"n": 41}')
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == {"n": 42}
    assert result["billingDetails"]["billedMemoryUsedInMB"] == 64
    assert result["billingDetails"]["billedDurationInMilliseconds"] % 100 == 0
    assert result["billingDetails"]["billedDurationInMilliseconds"] >= 100
    assert ":express:Quick:" in result["executionArn"]
    # Express histories are not kept by the API (AWS sends them to CloudWatch Logs).
    code, _ = error_of(client.describe_execution, executionArn=result["executionArn"])
    assert code == "InvalidArn"
    code, _ = error_of(client.get_execution_history, executionArn=result["executionArn"])
    assert code == "InvalidArn"
    code, _ = error_of(client.list_executions, stateMachineArn=express)
    assert code == "StateMachineTypeNotSupported"
    standard = create(client, "Slow", PASS)
    code, _ = error_of(client.start_sync_execution, stateMachineArn=standard, input="{}")
    assert code == "StateMachineTypeNotSupported"
    # Five minutes at most: a longer Wait times the execution out, on the lab clock.
    long = create(client, "Long", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}},
                  type="EXPRESS")
    timed_out = client.start_sync_execution(stateMachineArn=long, input="{}")
    assert (timed_out["status"], timed_out["error"]) == ("TIMED_OUT", "States.Timeout")
    assert (timed_out["stopDate"] - timed_out["startDate"]).total_seconds() == pytest.approx(300)


# https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html (InvalidToken,
# TaskDoesNotExist, InvalidOutput), API_DescribeExecution.html (ExecutionDoesNotExist, InvalidArn)
def test_error_shapes(api):
    lab, sfn, client = api
    missing = "arn:aws:states:us-east-1:123456789012:execution:Nap:nobody"
    assert error_of(client.describe_execution, executionArn=missing) == (
        "ExecutionDoesNotExist", f"Execution Does Not Exist: '{missing}'")
    assert error_of(client.describe_execution, executionArn="arn:aws:states:us-east-1:123456789012:stateMachine:X")[0] \
        == "InvalidArn"
    assert error_of(client.start_execution, stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:X",
                    input="{}")[0] == "StateMachineDoesNotExist"
    assert error_of(client.send_task_success, taskToken="x" * 64, output="{}")[0] == "TaskDoesNotExist"
    assert error_of(client.send_task_heartbeat, taskToken="x" * 64)[0] == "TaskDoesNotExist"
    arn = create(client, "Nap", NAP)
    code, message = error_of(client.start_execution, stateMachineArn=arn, input="{broken")
    assert code == "InvalidExecutionInput" and message.startswith("Invalid State Machine Execution Input")
    code, _ = error_of(client.update_state_machine, stateMachineArn=arn)
    assert code == "MissingRequiredParameter"
    code, _ = error_of(client.list_executions, stateMachineArn=arn, maxResults=5000)
    assert code == "ValidationException"


def test_a_function_answers_a_task_token_through_the_endpoint(api):
    """The callback pattern end to end: the function itself calls SendTaskSuccess with boto3."""
    lab, sfn, client = api
    lab.deploy("approver", "import boto3, botocore.config, json\n"
                           "def handler(event, context):\n"
                           "    sfn = boto3.client('stepfunctions', config=botocore.config.Config(inject_host_prefix=False))\n"
                           "    sfn.send_task_success(taskToken=event['token'], output=json.dumps({'ok': event['order']}))\n"
                           "    return 'sent'\n", timeout_s=10)
    arn = create(client, "Approve", {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "approver", "Payload": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
        "End": True}}})
    execution_arn = client.start_execution(stateMachineArn=arn, input='{"order": 9}')["executionArn"]
    execution = sfn.wait(sfn.interpreter.executions[execution_arn])
    assert execution.status == "SUCCEEDED" and execution.output == {"ok": 9}
    assert lab.record.events(kind="invoke", function="approver")[0]["source"] == "states"

"""The workflow interpreter on a virtual clock with fake tasks: every state type, data flow, retries
and catchers, timeouts, heartbeats, task tokens, Parallel and Map, and the execution history."""

import json

import pytest

from lambdalab_ext.clock import VirtualClock
from lambdalab_ext.stepfunctions import errors
from lambdalab_ext.stepfunctions.integrations import (CallableTaskRunner, FunctionError, dynamodb_result,
                                                     sns_publish_result, sqs_send_message_result)
from lambdalab_ext.stepfunctions.interpreter import Interpreter

ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
INVOKE = "arn:aws:states:::lambda:invoke"


def lab(functions=None, services=None, duration_s=0.0, seed=1):
    clock = VirtualClock()
    runner = CallableTaskRunner(functions, services, clock=clock, duration_s=duration_s)
    return clock, runner, Interpreter(clock, runner, seed=seed)


def task(name, **fields):
    return {"Type": "Task", "Resource": ARN + name, **fields}


def one_state(state, name="S"):
    state = dict(state)
    if state["Type"] not in ("Succeed", "Fail", "Choice") and "Next" not in state:
        state["End"] = True
    return {"StartAt": name, "States": {name: state}}


class Flaky:
    """A function that fails ``failures`` times, then answers; records the clock at each call."""

    def __init__(self, clock, failures, error="Boom", result="ok"):
        self.clock, self.failures, self.error, self.result = clock, failures, error, result
        self.times = []

    def __call__(self, event):
        self.times.append(self.clock.now())
        if len(self.times) <= self.failures:
            raise FunctionError(self.error, f"failure {len(self.times)}")
        return self.result


# ----------------------------------------------------------------------------- Task and history

def test_a_lambda_function_task_returns_the_function_output_and_the_history_has_aws_events():
    clock, runner, sfn = lab({"Hello": lambda event: f"Hello, {event['who']}!"})
    execution = sfn.start_execution(one_state(task("Hello"), "Greet"), {"who": "AWS Step Functions"})
    assert execution.status == "SUCCEEDED"
    assert execution.output == "Hello, AWS Step Functions!"
    assert execution.history.types() == [
        "ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
        "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    events = execution.history.events
    assert [e["id"] for e in events] == list(range(1, 8))
    assert [e["previousEventId"] for e in events] == list(range(0, 7))
    assert events[0]["executionStartedEventDetails"]["input"] == '{"who":"AWS Step Functions"}'
    assert events[1]["stateEnteredEventDetails"] == {"name": "Greet", "input": '{"who":"AWS Step Functions"}',
                                                     "inputDetails": {"truncated": False}}
    assert events[2]["lambdaFunctionScheduledEventDetails"]["resource"] == ARN + "Hello"
    assert events[4]["lambdaFunctionSucceededEventDetails"]["output"] == '"Hello, AWS Step Functions!"'
    assert events[6]["executionSucceededEventDetails"]["output"] == '"Hello, AWS Step Functions!"'
    assert execution.describe()["status"] == "SUCCEEDED"
    assert json.loads(execution.describe()["output"]) == "Hello, AWS Step Functions!"


# https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html (the optimised integration's
# result: the function's output under Payload, with ExecutedVersion, SdkHttpMetadata, StatusCode)
def test_lambda_invoke_integration_wraps_the_payload():
    clock, runner, sfn = lab({"Add": lambda event: {"sum": event["a"] + event["b"]}})
    definition = one_state({"Type": "Task", "Resource": INVOKE,
                            "Parameters": {"FunctionName": ARN + "Add:$LATEST", "Payload": {"a.$": "$.a", "b": 2}}})
    execution = sfn.start_execution(definition, {"a": 1})
    result = execution.output
    assert set(result) == {"ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"}
    assert result["Payload"] == {"sum": 3}
    assert result["StatusCode"] == 200 and result["ExecutedVersion"] == "$LATEST"
    assert result["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert result["SdkResponseMetadata"]["RequestId"] == result["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"]
    scheduled = execution.history.of_type("TaskScheduled")[0]["taskScheduledEventDetails"]
    assert scheduled["resourceType"] == "lambda" and scheduled["resource"] == "invoke"
    assert json.loads(scheduled["parameters"]) == {"FunctionName": ARN + "Add:$LATEST", "Payload": {"a": 1, "b": 2}}
    assert "TaskSucceeded" in execution.history.types() and "LambdaFunctionScheduled" not in execution.history.types()


def test_result_selector_keeps_only_the_payload():
    clock, runner, sfn = lab({"Add": lambda event: event["a"] + 1})
    definition = one_state({"Type": "Task", "Resource": INVOKE,
                            "Parameters": {"FunctionName": "Add", "Payload.$": "$"},
                            "ResultSelector": {"value.$": "$.Payload", "code.$": "$.StatusCode"},
                            "ResultPath": "$.out"})
    assert sfn.start_execution(definition, {"a": 41}).output == {"a": 41, "out": {"value": 42, "code": 200}}


# https://docs.aws.amazon.com/step-functions/latest/dg/input-output-example.html
def test_inputpath_resultpath_outputpath_on_a_lambda_task():
    clock, runner, sfn = lab({"HelloWorld": lambda event: f"Hello, {event['who']}!"})
    definition = one_state(task("HelloWorld", InputPath="$.lambda", ResultPath="$.data.lambdaresult",
                                OutputPath="$.data"))
    execution = sfn.start_execution(definition, {"comment": "An input comment.", "data": {"val1": 23, "val2": 17},
                                                 "extra": "foo", "lambda": {"who": "AWS Step Functions"}})
    assert runner.calls[0].arguments == {"who": "AWS Step Functions"}
    assert execution.output == {"val1": 23, "val2": 17, "lambdaresult": "Hello, AWS Step Functions!"}


# https://docs.aws.amazon.com/step-functions/latest/dg/input-output-inputpath-params.html (ResultSelector
# example: an EMR createCluster.sync result trimmed to ClusterId and ResourceType)
def test_result_selector_example_of_the_guide():
    emr_result = {"resourceType": "elasticmapreduce", "resource": "createCluster.sync",
                  "output": {"SdkHttpMetadata": {"HttpHeaders": {"Content-Length": "1112",
                                                                 "x-amzn-RequestId": "1234-5678-9011"},
                                                 "HttpStatusCode": 200},
                             "SdkResponseMetadata": {"RequestId": "1234-5678-9011"},
                             "ClusterId": "AKIAIOSFODNN7EXAMPLE"}}
    clock, runner, sfn = lab(services={"arn:aws:states:::elasticmapreduce:createCluster.sync": lambda args: emr_result})
    definition = one_state({"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:createCluster.sync",
                            "Parameters": {"Name": "cluster"},
                            "ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
                            "ResultPath": "$.EMROutput"})
    execution = sfn.start_execution(definition, {"OtherDataFromInput": {}})
    assert execution.output == {"OtherDataFromInput": {},
                                "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"}}
    assert execution.history.of_type("TaskScheduled")[0]["taskScheduledEventDetails"]["resource"] == "createCluster.sync"


def test_context_object_in_parameters():
    clock, runner, sfn = lab({"Echo": lambda event: event})
    definition = one_state(task("Echo", Parameters={"name.$": "$$.Execution.Name", "state.$": "$$.State.Name",
                                                    "entered.$": "$$.State.EnteredTime", "machine.$": "$$.StateMachine.Name",
                                                    "input.$": "$$.Execution.Input"}), "Echoing")
    clock.advance(90)
    execution = sfn.start_execution(definition, {"k": 1}, name="run-1",
                                    state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:Orders")
    assert execution.output == {"name": "run-1", "state": "Echoing", "entered": "2025-01-01T00:01:30.000Z",
                                "machine": "Orders", "input": {"k": 1}}
    assert execution.execution_arn == "arn:aws:states:us-east-1:123456789012:execution:Orders:run-1"


def test_a_bad_parameters_path_fails_with_states_runtime_that_no_catcher_catches():
    clock, runner, sfn = lab({"Echo": lambda event: event})
    definition = {"StartAt": "T", "States": {
        "T": task("Echo", Parameters={"missing.$": "$.nope.deep"}, End=True,
                  Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]),
        "Caught": {"Type": "Succeed"}}}
    execution = sfn.start_execution(definition, {"other": 1})
    assert execution.status == "FAILED" and execution.error == "States.Runtime"
    assert execution.cause == ("An error occurred while executing the state 'T' (entered at the event id #2). "
                               "The JSONPath '$.nope.deep' specified for the field 'missing.$' could not be found "
                               "in the input '{\"other\":1}'")
    assert runner.calls == []


# ------------------------------------------------------------------------------------ Pass, Succeed, Fail

# https://docs.aws.amazon.com/step-functions/latest/dg/state-pass.html
def test_pass_state_result_and_result_path_example():
    clock, runner, sfn = lab()
    definition = one_state({"Type": "Pass", "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
                            "ResultPath": "$.coords"})
    execution = sfn.start_execution(definition, {"georefOf": "Home"})
    assert execution.output == {"georefOf": "Home", "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355}}
    assert execution.history.types()[1:3] == ["PassStateEntered", "PassStateExited"]


def test_pass_state_parameters_with_intrinsics_and_output_path():
    clock, runner, sfn = lab()
    definition = one_state({"Type": "Pass", "Parameters": {"greeting.$": "States.Format('Hi {}', $.name)",
                                                           "n.$": "States.MathAdd($.n, 1)"},
                            "OutputPath": "$.greeting"})
    assert sfn.start_execution(definition, {"name": "Ana", "n": 1}).output == "Hi Ana"


def test_succeed_and_fail_states():
    clock, runner, sfn = lab()
    ok = sfn.start_execution(one_state({"Type": "Succeed", "OutputPath": "$.keep"}), {"keep": [1], "drop": 2})
    assert ok.status == "SUCCEEDED" and ok.output == [1]
    failed = sfn.start_execution(one_state({"Type": "Fail", "Error": "ErrorA", "Cause": "Kaiju attack"}), {})
    assert (failed.status, failed.error, failed.cause) == ("FAILED", "ErrorA", "Kaiju attack")
    assert failed.history.types() == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]
    assert failed.history.events[-1]["executionFailedEventDetails"] == {"error": "ErrorA", "cause": "Kaiju attack"}


# https://docs.aws.amazon.com/step-functions/latest/dg/state-fail.html (ErrorPath and CausePath)
def test_fail_state_error_path_and_cause_path():
    clock, runner, sfn = lab()
    definition = one_state({"Type": "Fail", "ErrorPath": "$.Error",
                            "CausePath": "States.Format('This is a custom error message for {}, caused by {}.', $.Error, $.Cause)"})
    execution = sfn.start_execution(definition, {"Error": "CustomError", "Cause": "ABC"})
    assert execution.error == "CustomError"
    assert execution.cause == "This is a custom error message for CustomError, caused by ABC."


# ------------------------------------------------------------------------------------------ Choice

# https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html
CHOICE = {"StartAt": "ChoiceStateX", "States": {
    "ChoiceStateX": {"Type": "Choice", "Choices": [
        {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
        {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
        {"And": [{"Variable": "$.value", "NumericGreaterThanEquals": 20},
                 {"Variable": "$.value", "NumericLessThan": 30}], "Next": "ValueInTwenties"}],
        "Default": "DefaultState"},
    "Public": {"Type": "Pass", "Result": "Public", "End": True},
    "ValueIsZero": {"Type": "Pass", "Result": "ValueIsZero", "End": True},
    "ValueInTwenties": {"Type": "Pass", "Result": "ValueInTwenties", "End": True},
    "DefaultState": {"Type": "Fail", "Cause": "No Matches!"}}}


@pytest.mark.parametrize("state_input, outcome", [
    ({"type": "Public", "value": 22}, "Public"), ({"type": "Private", "value": 0}, "ValueIsZero"),
    ({"type": "Private", "value": 22}, "ValueInTwenties"), ({"type": "Private", "value": 35}, "No Matches!")])
def test_choice_example_of_the_guide(state_input, outcome):
    clock, runner, sfn = lab()
    execution = sfn.start_execution(CHOICE, state_input)
    assert (execution.output if execution.status == "SUCCEEDED" else execution.cause) == outcome
    assert "ChoiceStateEntered" in execution.history.types() and "ChoiceStateExited" in execution.history.types()


@pytest.mark.parametrize("rule, state_input, expected", [
    ({"Variable": "$.s", "StringEquals": "a"}, {"s": "a"}, True),
    ({"Variable": "$.s", "StringEquals": "a"}, {"s": 1}, False),          # another type is no match, no error
    ({"Variable": "$.s", "StringLessThan": "b"}, {"s": "a"}, True),
    ({"Variable": "$.s", "StringGreaterThanEquals": "b"}, {"s": "b"}, True),
    ({"Variable": "$.s", "StringEqualsPath": "$.t"}, {"s": "x", "t": "x"}, True),
    ({"Variable": "$.s", "StringMatches": "log-*.txt"}, {"s": "log-2024.txt"}, True),
    ({"Variable": "$.s", "StringMatches": "log-\\*.txt"}, {"s": "log-2024.txt"}, False),
    ({"Variable": "$.s", "StringMatches": "log-\\*.txt"}, {"s": "log-*.txt"}, True),
    ({"Variable": "$.n", "NumericLessThanEquals": 1.5}, {"n": 1.5}, True),
    ({"Variable": "$.n", "NumericGreaterThanPath": "$.m"}, {"n": 3, "m": 2}, True),
    ({"Variable": "$.n", "NumericEquals": 1}, {"n": True}, False),
    ({"Variable": "$.b", "BooleanEquals": True}, {"b": True}, True),
    ({"Variable": "$.b", "BooleanEqualsPath": "$.c"}, {"b": False, "c": False}, True),
    ({"Variable": "$.t", "TimestampLessThan": "2016-03-14T02:00:00Z"}, {"t": "2016-03-14T01:59:00Z"}, True),
    ({"Variable": "$.t", "TimestampEquals": "2016-03-14T01:59:00Z"}, {"t": "2016-03-14T02:59:00+01:00"}, True),
    ({"Variable": "$.t", "TimestampGreaterThanEqualsPath": "$.u"}, {"t": "2020-01-01T00:00:00Z",
                                                                    "u": "2019-01-01T00:00:00Z"}, True),
    ({"Variable": "$.x", "IsNull": True}, {"x": None}, True),
    ({"Variable": "$.x", "IsPresent": False}, {}, True),
    ({"Variable": "$.x", "IsPresent": True}, {}, False),
    ({"Variable": "$.x", "IsNumeric": True}, {"x": 2}, True),
    ({"Variable": "$.x", "IsString": True}, {"x": 2}, False),
    ({"Variable": "$.x", "IsBoolean": True}, {"x": False}, True),
    ({"Variable": "$.x", "IsTimestamp": True}, {"x": "2016-03-14T01:59:00Z"}, True),
    ({"Or": [{"Variable": "$.x", "IsNull": True}, {"Variable": "$.x", "NumericEquals": 3}]}, {"x": 3}, True),
])
def test_choice_comparison_operators(rule, state_input, expected):
    clock, runner, sfn = lab()
    definition = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [dict(rule, Next="Yes")], "Default": "No"},
        "Yes": {"Type": "Pass", "Result": True, "End": True},
        "No": {"Type": "Pass", "Result": False, "End": True}}}
    assert sfn.start_execution(definition, state_input).output is expected


def test_no_choice_matched_and_an_absent_variable():
    clock, runner, sfn = lab()
    definition = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "Yes"}]},
        "Yes": {"Type": "Succeed"}}}
    execution = sfn.start_execution(definition, {"n": 2})
    assert execution.error == "States.NoChoiceMatched"
    execution = sfn.start_execution(definition, {})
    assert execution.error == "States.Runtime" and "Invalid path '$.n'" in execution.cause


def test_a_choice_loop_of_many_iterations_runs_without_deep_recursion():
    clock, runner, sfn = lab()
    definition = {"StartAt": "Check", "States": {
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThan": 1500, "Next": "Inc"}],
                  "Default": "Done"},
        "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
        "Done": {"Type": "Succeed"}}}
    execution = sfn.start_execution(definition, {"i": 0})
    assert execution.output == {"i": 1500}
    assert execution.state_transitions == 1500 * 2 + 2


# ------------------------------------------------------------------------------------------- Wait

def test_a_one_hour_wait_finishes_at_once_on_the_virtual_clock_and_the_tasks_still_run():
    calls = []
    clock, runner, sfn = lab({"Work": lambda event: calls.append(clock.now()) or len(calls)})
    definition = {"StartAt": "Before", "States": {
        "Before": task("Work", ResultPath="$.before", Next="OneHour"),
        "OneHour": {"Type": "Wait", "Seconds": 3600, "Next": "After"},
        "After": task("Work", ResultPath="$.after", End=True)}}
    execution = sfn.start_execution(definition, {})
    assert calls == [0.0] and execution.status == "RUNNING"
    clock.advance(3599)
    assert execution.status == "RUNNING" and calls == [0.0]
    assert clock.run_until_idle() == 1
    assert calls == [0.0, 3600.0]
    assert execution.status == "SUCCEEDED" and execution.output == {"before": 1, "after": 2}
    entered, exited = execution.history.of_type("WaitStateEntered")[0], execution.history.of_type("WaitStateExited")[0]
    assert (exited["timestamp"] - entered["timestamp"]).total_seconds() == 3600


# https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html (Timestamp, SecondsPath, TimestampPath)
@pytest.mark.parametrize("state, state_input, seconds", [
    ({"Seconds": 10}, {}, 10),
    ({"Timestamp": "2025-01-01T00:05:00Z"}, {}, 300),
    ({"SecondsPath": "$.expiry"}, {"expiry": 42}, 42),
    ({"TimestampPath": "$.expirydate"}, {"expirydate": "2025-01-01T01:00:00.500+00:00"}, 3600.5),
    ({"Timestamp": "2016-03-14T01:59:00Z"}, {}, 0),          # a moment already past waits not at all
])
def test_wait_state_forms(state, state_input, seconds):
    clock, runner, sfn = lab()
    execution = sfn.start_execution(one_state(dict(state, Type="Wait")), state_input)
    if seconds:
        clock.advance(seconds - 0.01)
        assert execution.status == "RUNNING"
    clock.advance(0.01)
    assert execution.status == "SUCCEEDED" and execution.output == state_input


def test_a_wait_on_a_bad_timestamp_fails():
    clock, runner, sfn = lab()
    execution = sfn.start_execution(one_state({"Type": "Wait", "TimestampPath": "$.t"}), {"t": "tomorrow"})
    assert execution.error == "States.Runtime"


# ------------------------------------------------------------------------------------------ Retry

# https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html (retry intervals:
# IntervalSeconds, then multiplied by BackoffRate, up to MaxAttempts retries)
def test_retry_attempts_happen_at_backoff_times():
    clock = VirtualClock()
    flaky = Flaky(clock, failures=3)
    runner = CallableTaskRunner({"Flaky": flaky}, clock=clock)
    sfn = Interpreter(clock, runner)
    definition = one_state(task("Flaky", Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2,
                                                  "BackoffRate": 2, "MaxAttempts": 3}]))
    execution = sfn.start_execution(definition, {})
    clock.run_until_idle()
    assert flaky.times == [0, 2, 6, 14]
    assert execution.status == "SUCCEEDED" and execution.output == "ok"
    assert execution.history.types().count("LambdaFunctionFailed") == 3
    assert execution.state_transitions == 1 + 3
    assert [c.attempt for c in runner.calls] == [0, 1, 2, 3]


def test_retries_exhausted_fail_with_the_function_error():
    clock = VirtualClock()
    flaky = Flaky(clock, failures=10, error="PaymentDeclined")
    sfn = Interpreter(clock, CallableTaskRunner({"Pay": flaky}, clock=clock))
    execution = sfn.start_execution(one_state(task("Pay", Retry=[{"ErrorEquals": ["PaymentDeclined"],
                                                                  "MaxAttempts": 2}])), {})
    clock.run_until_idle()
    assert flaky.times == [0, 1, 3]            # defaults: IntervalSeconds 1, BackoffRate 2.0
    assert execution.error == "PaymentDeclined"
    cause = json.loads(execution.cause)
    assert cause["errorType"] == "PaymentDeclined" and cause["errorMessage"] == "failure 3"


def test_max_delay_seconds_caps_the_backoff():
    clock = VirtualClock()
    flaky = Flaky(clock, failures=5)
    sfn = Interpreter(clock, CallableTaskRunner({"F": flaky}, clock=clock))
    sfn.start_execution(one_state(task("F", Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3,
                                                    "BackoffRate": 3, "MaxAttempts": 5, "MaxDelaySeconds": 20}])), {})
    clock.run_until_idle()
    assert [b - a for a, b in zip(flaky.times, flaky.times[1:])] == [3, 9, 20, 20, 20]


def test_full_jitter_is_random_below_the_backoff_and_seeded():
    def run(seed):
        clock = VirtualClock()
        flaky = Flaky(clock, failures=4)
        sfn = Interpreter(clock, CallableTaskRunner({"F": flaky}, clock=clock), seed=seed)
        sfn.start_execution(one_state(task("F", Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10,
                                                        "BackoffRate": 2, "MaxAttempts": 4,
                                                        "JitterStrategy": "FULL"}])), {})
        clock.run_until_idle()
        return [b - a for a, b in zip(flaky.times, flaky.times[1:])]
    gaps = run(7)
    assert gaps == run(7) and gaps != run(8)
    assert all(0 <= gap <= cap for gap, cap in zip(gaps, [10, 20, 40, 80]))
    assert len(set(gaps)) == 4


def test_the_first_matching_retrier_is_used_and_max_attempts_zero_never_retries():
    clock = VirtualClock()
    flaky = Flaky(clock, failures=5, error="Throttled")
    sfn = Interpreter(clock, CallableTaskRunner({"F": flaky}, clock=clock))
    execution = sfn.start_execution(one_state(task("F", Retry=[
        {"ErrorEquals": ["Throttled"], "MaxAttempts": 0},
        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}])), {})
    clock.run_until_idle()
    assert flaky.times == [0] and execution.error == "Throttled"


def test_retry_count_in_the_context_object():
    clock = VirtualClock()
    seen = []

    def f(event):
        seen.append(event["retry"])
        if len(seen) < 3:
            raise FunctionError("Again")
        return "done"
    sfn = Interpreter(clock, CallableTaskRunner({"F": f}, clock=clock))
    sfn.start_execution(one_state(task("F", Parameters={"retry.$": "$$.State.RetryCount"},
                                       Retry=[{"ErrorEquals": ["Again"]}])), {})
    clock.run_until_idle()
    assert seen == [0, 1, 2]


# ------------------------------------------------------------------------------------------ Catch

# https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html (Catch with
# ResultPath "$.error": the error output added to the state input)
def test_catch_routes_to_its_next_with_the_error_output_at_result_path():
    def fail(event):
        raise FunctionError("CustomError", "This is a custom error!")
    clock, runner, sfn = lab({"Fail": fail})
    definition = {"StartAt": "T", "States": {
        "T": task("Fail", Catch=[{"ErrorEquals": ["Other"], "Next": "Wrong"},
                                 {"ErrorEquals": ["CustomError"], "ResultPath": "$.error", "Next": "Recover"}],
                  End=True),
        "Wrong": {"Type": "Fail"},
        "Recover": {"Type": "Pass", "End": True}}}
    execution = sfn.start_execution(definition, {"foo": "bar"})
    assert execution.status == "SUCCEEDED"
    assert execution.output["foo"] == "bar"
    assert execution.output["error"]["Error"] == "CustomError"
    assert json.loads(execution.output["error"]["Cause"])["errorMessage"] == "This is a custom error!"
    assert execution.history.types()[-4:] == ["TaskStateExited", "PassStateEntered", "PassStateExited",
                                              "ExecutionSucceeded"]


def test_catch_after_retries_and_task_failed_does_not_catch_a_timeout():
    clock = VirtualClock()
    runner = CallableTaskRunner({"Slow": lambda e: "late"}, clock=clock, duration_s=10)
    sfn = Interpreter(clock, runner)
    definition = {"StartAt": "T", "States": {
        "T": task("Slow", TimeoutSeconds=5, Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Failed"},
                                                  {"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"}], End=True),
        "Failed": {"Type": "Pass", "Result": "task failed", "End": True},
        "TimedOut": {"Type": "Pass", "Result": "timed out", "End": True}}}
    execution = sfn.start_execution(definition, {})
    clock.run_until_idle()
    assert execution.output == "timed out"


# ---------------------------------------------------------------------------------- timeouts, heartbeats

def test_task_timeout_on_a_slow_task():
    clock = VirtualClock()
    runner = CallableTaskRunner({"Slow": lambda e: "late"}, clock=clock, duration_s=10)
    sfn = Interpreter(clock, runner)
    execution = sfn.start_execution(one_state({"Type": "Task", "Resource": INVOKE, "TimeoutSeconds": 5,
                                               "Parameters": {"FunctionName": "Slow"}}), {})
    clock.advance(4.9)
    assert execution.status == "RUNNING"
    clock.advance(0.1)
    assert execution.status == "FAILED" and execution.error == "States.Timeout"
    timed_out = execution.history.of_type("TaskTimedOut")[0]
    assert timed_out["taskTimedOutEventDetails"]["error"] == "States.Timeout"
    assert clock.pending() == []                  # the slow task was cancelled with the attempt
    assert execution.history.of_type("ExecutionFailed")[0]["timestamp"].second == 5


# https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html (the retrier that
# makes up to two retries, "the first after 3 seconds, the second after 4.5 seconds")
def test_retry_on_timeout_example_of_the_guide():
    clock = VirtualClock()
    runner = CallableTaskRunner({"Slow": lambda e: "late"}, clock=clock, duration_s=100)
    sfn = Interpreter(clock, runner)
    execution = sfn.start_execution(one_state(task("Slow", TimeoutSeconds=10, Retry=[
        {"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 3, "MaxAttempts": 2, "BackoffRate": 1.5}])), {})
    clock.run_until_idle()
    starts = [e["timestamp"] for e in execution.history.of_type("LambdaFunctionScheduled")]
    offsets = [(t - starts[0]).total_seconds() for t in starts]
    assert offsets == [0, 13, 27.5]
    assert execution.error == "States.Timeout"
    assert execution.history.types().count("LambdaFunctionTimedOut") == 3


def test_timeout_seconds_path():
    clock = VirtualClock()
    sfn = Interpreter(clock, CallableTaskRunner({"Slow": lambda e: 1}, clock=clock, duration_s=30))
    execution = sfn.start_execution(one_state(task("Slow", TimeoutSecondsPath="$.limit")), {"limit": 20})
    clock.run_until_idle()
    assert execution.error == "States.Timeout" and clock.now() == 20


CALLBACK = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"


def callback_lab(**task_fields):
    clock = VirtualClock()
    sent = []
    runner = CallableTaskRunner(services={"arn:aws:states:::sqs:sendMessage": lambda args: sent.append(args) or
                                          sqs_send_message_result(args["MessageBody"], message_id="m-1",
                                                                  request_id="r-1")}, clock=clock)
    sfn = Interpreter(clock, runner, seed=5)
    definition = one_state({"Type": "Task", "Resource": CALLBACK,
                            "Parameters": {"QueueUrl": "https://sqs/q", "MessageBody": {"token.$": "$$.Task.Token",
                                                                                        "order.$": "$.order"}},
                            **task_fields}, "Approve")
    return clock, sent, sfn, definition


def test_wait_for_task_token_succeeds_when_the_token_comes_back():
    clock, sent, sfn, definition = callback_lab()
    execution = sfn.start_execution(definition, {"order": 7})
    assert execution.status == "RUNNING" and sent[0]["MessageBody"]["order"] == 7
    token = sent[0]["MessageBody"]["token"]
    assert execution.history.types()[-1] == "TaskSubmitted"
    clock.advance(86400)
    assert execution.status == "RUNNING"
    execution.send_task_success(token, '{"approved": true}')
    assert execution.status == "SUCCEEDED" and execution.output == {"approved": True}
    assert execution.history.of_type("TaskSucceeded")[0]["taskSucceededEventDetails"]["resource"] == \
        "sendMessage.waitForTaskToken"
    with pytest.raises(errors.TaskDoesNotExist):
        sfn.send_task_success(token, "{}")


def test_wait_for_task_token_failure_and_bad_tokens():
    clock, sent, sfn, definition = callback_lab()
    execution = sfn.start_execution(definition, {"order": 1})
    with pytest.raises(errors.InvalidToken):
        sfn.send_task_failure("", "x")
    with pytest.raises(errors.TaskDoesNotExist):
        sfn.send_task_failure("not-a-token", "x")
    with pytest.raises(errors.InvalidOutput):
        sfn.send_task_success(sent[0]["MessageBody"]["token"], "{not json")
    sfn.send_task_failure(sent[0]["MessageBody"]["token"], "Rejected", "the manager said no")
    assert (execution.status, execution.error, execution.cause) == ("FAILED", "Rejected", "the manager said no")


def test_heartbeats_keep_a_callback_task_alive_and_silence_times_it_out():
    clock, sent, sfn, definition = callback_lab(HeartbeatSeconds=10, TimeoutSeconds=100)
    execution = sfn.start_execution(definition, {"order": 1})
    token = sent[0]["MessageBody"]["token"]
    for moment in (8, 16, 24):
        clock.advance(moment - clock.now())
        execution.send_task_heartbeat(token)
    clock.advance(9)
    assert execution.status == "RUNNING"
    clock.advance(1)
    assert execution.status == "FAILED" and execution.error == "States.HeartbeatTimeout"
    assert clock.now() == 34
    scheduled = execution.history.of_type("TaskScheduled")[0]["taskScheduledEventDetails"]
    assert scheduled["heartbeatInSeconds"] == 10 and scheduled["timeoutInSeconds"] == 100


def test_a_heartbeat_timeout_is_caught_as_states_timeout():
    clock, sent, sfn, definition = callback_lab(HeartbeatSeconds=5,
                                                Catch=[{"ErrorEquals": ["States.Timeout"], "Next": "Late"}])
    definition["States"]["Late"] = {"Type": "Pass", "Result": "late", "End": True}
    execution = sfn.start_execution(definition, {"order": 1})
    clock.run_until_idle()
    assert execution.output == "late"


# -------------------------------------------------------------------------------------- Parallel

def test_parallel_branches_run_concurrently_and_results_keep_branch_order():
    clock = VirtualClock()
    durations = {"A": 30, "B": 10}
    runner = CallableTaskRunner({"A": lambda e: "a", "B": lambda e: "b"}, clock=clock,
                                duration_s=lambda request: durations[request.resource.function_name])
    sfn = Interpreter(clock, runner)
    definition = one_state({"Type": "Parallel", "Branches": [
        {"StartAt": "A", "States": {"A": task("A", End=True)}},
        {"StartAt": "B", "States": {"B": task("B", End=True)}}], "ResultPath": "$.results"})
    execution = sfn.start_execution(definition, {"in": 1})
    clock.run_until_idle()
    assert execution.output == {"in": 1, "results": ["a", "b"]}
    assert clock.now() == 30 and runner.peak_running == 2
    types = execution.history.types()
    assert types[:3] == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]
    assert types[-3:] == ["ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"]


def test_a_failing_branch_cancels_its_siblings_and_the_parallel_catches():
    clock = VirtualClock()
    slow_ran = []

    def fails(event):
        raise FunctionError("OutOfStock", "no more")
    runner = CallableTaskRunner({"Slow": lambda e: slow_ran.append(1), "Fails": fails}, clock=clock,
                                duration_s=lambda r: 100 if r.resource.function_name == "Slow" else 1)
    sfn = Interpreter(clock, runner)
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [
            {"StartAt": "Slow", "States": {"Slow": task("Slow", End=True)}},
            {"StartAt": "Fails", "States": {"Fails": task("Fails", End=True)}}],
              "Catch": [{"ErrorEquals": ["OutOfStock"], "ResultPath": "$.error", "Next": "Refund"}], "End": True},
        "Refund": {"Type": "Pass", "End": True}}}
    execution = sfn.start_execution(definition, {})
    clock.run_until_idle()
    assert execution.status == "SUCCEEDED" and execution.output["error"]["Error"] == "OutOfStock"
    assert slow_ran == [] and clock.now() == 1
    types = execution.history.types()
    assert "TaskStateAborted" in types and "ParallelStateFailed" in types
    assert types.index("TaskStateAborted") < types.index("ParallelStateFailed")


def test_a_fail_state_in_a_branch_fails_the_execution_with_its_error():
    clock, runner, sfn = lab()
    definition = one_state({"Type": "Parallel", "Branches": [
        {"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "End": True}}},
        {"StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "BranchSaysNo", "Cause": "why"}}}]})
    execution = sfn.start_execution(definition, {})
    assert (execution.error, execution.cause) == ("BranchSaysNo", "why")


# ------------------------------------------------------------------------------------------- Map

# https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html (ItemsPath and ItemSelector
# with $$.Map.Item.Value over the shipped items)
def test_inline_map_example_with_item_selector():
    clock, runner, sfn = lab({"ship-val": lambda event: {"shipped": event["parcel"]["prod"],
                                                         "via": event["courier"]}})
    definition = one_state({"Type": "Map", "InputPath": "$.detail", "ItemsPath": "$.shipped", "MaxConcurrency": 0,
                            "ItemSelector": {"parcel.$": "$$.Map.Item.Value", "courier.$": "$.delivery-partner",
                                             "index.$": "$$.Map.Item.Index"},
                            "ItemProcessor": {"StartAt": "Validate",
                                              "States": {"Validate": task("ship-val", End=True)}},
                            "ResultPath": "$.detail.shipped"})
    state_input = {"ship-date": "2016-03-14T01:59:00Z",
                   "detail": {"delivery-partner": "UQS",
                              "shipped": [{"prod": "R31", "dest-code": 9511, "quantity": 1344},
                                          {"prod": "S39", "dest-code": 9511, "quantity": 40},
                                          {"prod": "R31", "dest-code": 9833, "quantity": 12}]}}
    execution = sfn.start_execution(definition, state_input)
    assert execution.output["detail"]["shipped"] == [{"shipped": "R31", "via": "UQS"},
                                                     {"shipped": "S39", "via": "UQS"},
                                                     {"shipped": "R31", "via": "UQS"}]
    assert [c.arguments["index"] for c in runner.calls] == [0, 1, 2]
    started = execution.history.of_type("MapStateStarted")[0]
    assert started["mapStateStartedEventDetails"] == {"length": 3}
    assert [e["mapIterationStartedEventDetails"]["index"] for e in execution.history.of_type("MapIterationStarted")] == [0, 1, 2]


def test_map_never_runs_more_than_max_concurrency_iterations():
    clock = VirtualClock()
    runner = CallableTaskRunner({"Work": lambda n: n * n}, clock=clock, duration_s=10)
    sfn = Interpreter(clock, runner)
    definition = one_state({"Type": "Map", "MaxConcurrency": 2,
                            "ItemProcessor": {"StartAt": "W", "States": {"W": task("Work", End=True)}}})
    execution = sfn.start_execution(definition, [1, 2, 3, 4, 5, 6, 7])
    clock.run_until_idle()
    assert execution.output == [1, 4, 9, 16, 25, 36, 49]
    assert runner.peak_running == 2 and clock.now() == 40
    unlimited_clock = VirtualClock()
    unlimited = CallableTaskRunner({"Work": lambda n: n}, clock=unlimited_clock, duration_s=10)
    definition["States"]["S"]["MaxConcurrency"] = 0
    Interpreter(unlimited_clock, unlimited).start_execution(definition, [1, 2, 3, 4, 5, 6, 7])
    unlimited_clock.run_until_idle()
    assert unlimited.peak_running == 7 and unlimited_clock.now() == 10


def test_a_failing_iteration_fails_the_map_and_aborts_the_others():
    clock = VirtualClock()

    def work(n):
        if n == 2:
            raise FunctionError("BadItem", str(n))
        return n
    runner = CallableTaskRunner({"Work": work}, clock=clock, duration_s=lambda r: 1 if r.arguments == 2 else 50)
    sfn = Interpreter(clock, runner)
    execution = sfn.start_execution(one_state({"Type": "Map", "ItemProcessor": {
        "StartAt": "W", "States": {"W": task("Work", End=True)}}}), [1, 2, 3])
    clock.run_until_idle()
    assert execution.error == "BadItem" and clock.now() == 1
    types = execution.history.types()
    assert types.count("MapIterationAborted") == 2 and "MapIterationFailed" in types and "MapStateFailed" in types


def test_tolerated_failures():
    def work(n):
        if n % 2:
            raise FunctionError("Odd", str(n))
        return n
    clock, runner, sfn = lab({"Work": work})
    processor = {"StartAt": "W", "States": {"W": task("Work", End=True)}}
    ok = sfn.start_execution(one_state({"Type": "Map", "ToleratedFailureCount": 2, "ItemProcessor": processor}),
                             [0, 1, 2, 3])
    assert ok.status == "SUCCEEDED"
    assert ok.output[0] == 0 and ok.output[1]["Error"] == "Odd"
    too_many = sfn.start_execution(one_state({"Type": "Map", "ToleratedFailureCount": 1, "ItemProcessor": processor}),
                                   [0, 1, 2, 3])
    assert too_many.error == "States.ExceedToleratedFailureThreshold"
    by_share = sfn.start_execution(one_state({"Type": "Map", "ToleratedFailurePercentage": 40,
                                              "ItemProcessor": processor}), [0, 1, 2, 3])
    assert by_share.error == "States.ExceedToleratedFailureThreshold"


def test_legacy_iterator_with_parameters_and_an_empty_map():
    clock, runner, sfn = lab()
    definition = one_state({"Type": "Map", "ItemsPath": "$.items",
                            "Parameters": {"v.$": "$$.Map.Item.Value", "tag.$": "$.tag"},
                            "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}})
    assert sfn.start_execution(definition, {"items": [1, 2], "tag": "t"}).output == [{"v": 1, "tag": "t"},
                                                                                     {"v": 2, "tag": "t"}]
    assert sfn.start_execution(definition, {"items": [], "tag": "t"}).output == []
    not_a_list = sfn.start_execution(definition, {"items": {"a": 1}, "tag": "t"})
    assert not_a_list.error == "States.Runtime"


# ---------------------------------------------------------------------------------- variables

# https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html
def test_jsonpath_assign_and_variable_scopes():
    clock, runner, sfn = lab({"Price": lambda e: {"price": 12}})
    definition = {"StartAt": "Get", "States": {
        "Get": task("Price", Assign={"price.$": "$.price", "currency": "EUR", "product.$": "$$.Execution.Input.sku"},
                    ResultPath=None, Next="Each"),
        "Each": {"Type": "Map", "ItemsPath": "$.qty", "ItemProcessor": {"StartAt": "Line", "States": {
            "Line": {"Type": "Pass", "Parameters": {"total.$": "States.MathAdd($price, $$.Map.Item.Value)"},
                     "Assign": {"inner": 1}, "End": True}}},
                 "ItemSelector": {"q.$": "$$.Map.Item.Value"}, "ResultPath": "$.lines", "Next": "Show"},
        "Show": {"Type": "Pass", "Parameters": {"product.$": "$product", "currency.$": "$currency",
                                                "lines.$": "$.lines"}, "End": True}}}
    execution = sfn.start_execution(definition, {"sku": "A1", "qty": [1, 2]})
    assert execution.status == "FAILED"     # $$.Map.Item exists only in the ItemSelector, not in the states
    definition["States"]["Each"]["ItemProcessor"]["States"]["Line"]["Parameters"] = {
        "total.$": "States.MathAdd($price, $.q)"}
    execution = sfn.start_execution(definition, {"sku": "A1", "qty": [1, 2]})
    assert execution.output == {"product": "A1", "currency": "EUR", "lines": [{"total": 13}, {"total": 14}]}
    exited = execution.history.of_type("TaskStateExited")[0]["stateExitedEventDetails"]
    assert exited["assignedVariables"] == {"price": "12", "currency": '"EUR"', "product": '"A1"'}
    definition["States"]["Show"]["Parameters"] = {"inner.$": "$inner"}
    leaked = sfn.start_execution(definition, {"sku": "A1", "qty": [1]})
    assert leaked.status == "FAILED"        # an iteration's own variables end with it


# -------------------------------------------------------------------------- execution-level behaviour

def test_execution_timeout():
    clock, runner, sfn = lab()
    definition = {"TimeoutSeconds": 60, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    execution = sfn.start_execution(definition, {})
    clock.run_until_idle()
    assert execution.status == "TIMED_OUT" and clock.now() == 60
    assert execution.history.types()[-2:] == ["WaitStateAborted", "ExecutionTimedOut"]
    assert clock.pending() == []


def test_stop_execution_aborts_and_cancels_everything():
    clock = VirtualClock()
    runner = CallableTaskRunner({"Slow": lambda e: 1}, clock=clock, duration_s=500)
    sfn = Interpreter(clock, runner)
    execution = sfn.start_execution(one_state(task("Slow")), {})
    clock.advance(10)
    execution.stop("Operator", "changed my mind")
    assert (execution.status, execution.error, execution.cause) == ("ABORTED", "Operator", "changed my mind")
    assert execution.history.types()[-2:] == ["TaskStateAborted", "ExecutionAborted"]
    assert clock.pending() == []
    assert execution.describe()["stopDate"] > execution.describe()["startDate"]


def test_a_result_over_256_kib_is_data_limit_exceeded_and_terminal():
    clock, runner, sfn = lab({"Big": lambda e: "x" * (256 * 1024)})
    definition = {"StartAt": "T", "States": {
        "T": task("Big", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], End=True),
        "Caught": {"Type": "Succeed"}}}
    execution = sfn.start_execution(definition, {})
    assert execution.status == "FAILED" and execution.error == "States.DataLimitExceeded"
    with pytest.raises(errors.InvalidExecutionInput):
        sfn.start_execution(definition, {"big": "y" * (256 * 1024)})


def test_express_type_names_and_counts_transitions():
    clock, runner, sfn = lab()
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}
    execution = sfn.start_execution(definition, {}, type="EXPRESS", name="quick")
    assert execution.type == "EXPRESS" and ":express:" in execution.execution_arn
    assert execution.state_transitions == 2
    sfn.start_execution(definition, {}, name="dup")
    with pytest.raises(errors.ExecutionAlreadyExists):
        sfn.start_execution(definition, {}, name="dup")


def test_an_invalid_definition_is_refused_before_running():
    clock, runner, sfn = lab()
    with pytest.raises(errors.InvalidDefinition, match="MISSING_TRANSITION_TARGET"):
        sfn.start_execution({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}, {})


# --------------------------------------------------------------------------- service integrations

def test_sqs_sns_and_dynamodb_result_shapes():
    table = {}
    services = {
        "arn:aws:states:::sqs:sendMessage": lambda a: sqs_send_message_result(a["MessageBody"], message_id="m-1",
                                                                             request_id="r-1"),
        "arn:aws:states:::sns:publish": lambda a: sns_publish_result(message_id="s-1", request_id="r-2"),
        "arn:aws:states:::dynamodb:putItem": lambda a: table.update({a["Item"]["id"]["S"]: a["Item"]}) or
        dynamodb_result(request_id="r-3"),
        "arn:aws:states:::dynamodb:getItem": lambda a: dynamodb_result(request_id="r-4",
                                                                       item=table[a["Key"]["id"]["S"]]),
    }
    clock, runner, sfn = lab(services=services)
    definition = {"StartAt": "Send", "States": {
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": "q", "MessageBody": "hello"}, "ResultPath": "$.sqs", "Next": "Publish"},
        "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                    "Parameters": {"TopicArn": "t", "Message": "hi"}, "ResultPath": "$.sns", "Next": "Put"},
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": "T", "Item": {"id": {"S": "1"}, "v": {"N": "2"}}}, "ResultPath": None,
                "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
                "Parameters": {"TableName": "T", "Key": {"id": {"S": "1"}}}, "ResultPath": "$.ddb", "End": True}}}
    out = sfn.start_execution(definition, {}).output
    assert out["sqs"]["MessageId"] == "m-1" and out["sqs"]["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert out["sns"]["MessageId"] == "s-1" and out["sns"]["SdkResponseMetadata"] == {"RequestId": "r-2"}
    assert out["ddb"]["Item"] == {"id": {"S": "1"}, "v": {"N": "2"}}
    assert out["ddb"]["SdkHttpMetadata"]["HttpStatusCode"] == 200


def test_an_unknown_function_fails_like_lambda():
    clock, runner, sfn = lab({})
    execution = sfn.start_execution(one_state({"Type": "Task", "Resource": INVOKE,
                                               "Parameters": {"FunctionName": "Nope"}}), {})
    assert execution.error == "Lambda.ResourceNotFoundException"


def test_history_paging_and_without_data():
    clock, runner, sfn = lab()
    execution = sfn.start_execution({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}, {"s": 1})
    page = execution.history.page(max_results=2)
    assert [e["type"] for e in page["events"]] == ["ExecutionStarted", "PassStateEntered"]
    rest = execution.history.page(max_results=2, next_token=page["nextToken"])
    assert [e["type"] for e in rest["events"]] == ["PassStateExited", "ExecutionSucceeded"] and "nextToken" not in rest
    bare = execution.history.page(include_execution_data=False, reverse_order=True)
    assert bare["events"][0]["type"] == "ExecutionSucceeded"
    assert "output" not in bare["events"][0]["executionSucceededEventDetails"]


def test_a_runner_answering_from_another_thread_on_the_real_clock():
    import threading

    from lambdalab_ext.clock import RealClock

    class ThreadRunner:
        def start(self, request, on_success, on_failure):
            threading.Thread(target=on_success, args=(request.arguments["n"] + 1,)).start()

    clock = RealClock()
    try:
        sfn = Interpreter(clock, ThreadRunner())
        definition = one_state({"Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {
            "T": task("Inc", Parameters={"n.$": "$"}, End=True)}}})
        execution = sfn.start_execution(definition, list(range(20)))
        done = threading.Event()
        for _ in range(200):
            if execution.done:
                break
            done.wait(0.01)
        assert execution.status == "SUCCEEDED" and execution.output == list(range(1, 21))
    finally:
        clock.close()


def test_the_module_examples_hold():
    import doctest
    import importlib
    for name in ("errors", "paths", "intrinsics", "jsonata_lang", "history", "integrations", "definition",
                 "interpreter", "__init__"):
        module = importlib.import_module("lambdalab_ext.stepfunctions" + ("" if name == "__init__" else "." + name))
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, name

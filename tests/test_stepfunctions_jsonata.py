"""The JSONata query language in workflows: Arguments, Output, Assign, Condition, Items, $states and
Step Functions' own functions. Source of the rules:
https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html and
https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html"""

import hashlib
import uuid

from lambdalab_ext.clock import VirtualClock
from lambdalab_ext.stepfunctions import definition as asl
from lambdalab_ext.stepfunctions.integrations import CallableTaskRunner, FunctionError
from lambdalab_ext.stepfunctions.interpreter import Interpreter

ARN = "arn:aws:lambda:us-east-1:123456789012:function:"


def lab(functions=None, duration_s=0.0, seed=1):
    clock = VirtualClock()
    runner = CallableTaskRunner(functions, clock=clock, duration_s=duration_s)
    return clock, runner, Interpreter(clock, runner, seed=seed)


def machine(states, start=None):
    return {"QueryLanguage": "JSONata", "StartAt": start or next(iter(states)), "States": states}


def test_task_arguments_and_output_with_states_input_and_result():
    clock, runner, sfn = lab({"Total": lambda e: {"total": sum(e["prices"])}})
    definition = machine({"Sum": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": {"FunctionName": "Total", "Payload": {"prices": "{% $states.input.items.price %}"}},
        "Output": {"order": "{% $states.input.id %}", "total": "{% $states.result.Payload.total %}",
                   "status": "{% $states.result.StatusCode %}"},
        "End": True}})
    execution = sfn.start_execution(definition, {"id": "o-1", "items": [{"price": 2}, {"price": 3.5}]})
    assert runner.calls[0].arguments == {"FunctionName": "Total", "Payload": {"prices": [2, 3.5]}}
    assert execution.output == {"order": "o-1", "total": 5.5, "status": 200}


def test_assign_and_output_read_the_values_from_before_the_state():
    clock, runner, sfn = lab()
    definition = machine({
        "First": {"Type": "Pass", "Assign": {"x": 1, "name": "{% $states.input.name %}"}, "Next": "Second"},
        "Second": {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}"}, "Output": {"old": "{% $x %}"}, "Next": "Third"},
        "Third": {"Type": "Pass", "Output": {"x": "{% $x %}", "name": "{% $name %}", "old": "{% $states.input.old %}"},
                  "End": True}})
    execution = sfn.start_execution(definition, {"name": "Ana"})
    assert execution.output == {"x": 2, "name": "Ana", "old": 1}
    exited = execution.history.of_type("PassStateExited")[1]["stateExitedEventDetails"]
    assert exited["assignedVariables"] == {"x": "2"}


def test_choice_conditions_with_rule_output_and_assign():
    clock, runner, sfn = lab()
    definition = machine({
        "Route": {"Type": "Choice", "Choices": [
            {"Condition": "{% $states.input.total > 100 %}", "Next": "Big",
             "Assign": {"tier": "gold"}, "Output": {"t": "{% $states.input.total %}"}},
            {"Condition": "{% $contains($states.input.code, 'VIP') %}", "Next": "Big"}],
            "Default": "Small"},
        "Big": {"Type": "Pass", "Output": {"big": "{% $states.input %}", "tier": "{% $exists($tier) ? $tier : 'none' %}"},
                "End": True},
        "Small": {"Type": "Pass", "Output": "small", "End": True}})
    assert sfn.start_execution(definition, {"total": 150, "code": ""}).output == {"big": {"t": 150}, "tier": "gold"}
    assert sfn.start_execution(definition, {"total": 5, "code": "VIP-1"}).output == {
        "big": {"total": 5, "code": "VIP-1"}, "tier": "none"}
    assert sfn.start_execution(definition, {"total": 5, "code": "x"}).output == "small"


def test_a_condition_that_is_not_boolean_is_a_query_evaluation_error():
    clock, runner, sfn = lab()
    definition = machine({"C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "D"}],
                                "Default": "D"},
                          "D": {"Type": "Succeed"}})
    execution = sfn.start_execution(definition, {"n": 3})
    assert execution.error == "States.QueryEvaluationError"


def test_wait_seconds_and_timestamp_expressions():
    clock, runner, sfn = lab()
    definition = machine({"W": {"Type": "Wait", "Seconds": "{% $states.input.delay * 60 %}", "Next": "T"},
                          "T": {"Type": "Wait", "Timestamp": "{% $states.input.until %}", "End": True}})
    execution = sfn.start_execution(definition, {"delay": 2, "until": "2025-01-01T00:05:00Z"})
    clock.advance(119)
    assert execution.status == "RUNNING"
    clock.advance(181)
    assert execution.status == "SUCCEEDED" and clock.now() == 300


def test_map_items_item_selector_and_concurrency_expressions():
    clock, runner, sfn = lab({"Sq": lambda e: e["v"] ** 2}, duration_s=5)
    definition = machine({"M": {
        "Type": "Map", "Items": "{% $states.input.numbers[$ > 1] %}", "MaxConcurrency": "{% 2 %}",
        "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}", "i": "{% $states.context.Map.Item.Index %}"},
        "ItemProcessor": {"StartAt": "Sq", "States": {"Sq": {
            "Type": "Task", "Resource": ARN + "Sq", "End": True}}},
        "Output": "{% $sum($states.result) %}", "End": True}})
    execution = sfn.start_execution(definition, {"numbers": [1, 2, 3, 4]})
    clock.run_until_idle()
    assert execution.output == 4 + 9 + 16
    assert runner.peak_running == 2 and [c.arguments["i"] for c in runner.calls] == [0, 1, 2]


def test_parallel_arguments_and_output():
    clock, runner, sfn = lab()
    definition = machine({"P": {"Type": "Parallel", "Arguments": {"n": "{% $states.input.n %}"},
                                "Branches": [
                                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": "{% $states.input.n + 1 %}",
                                                                      "End": True}}},
                                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Output": "{% $states.input.n * 10 %}",
                                                                      "End": True}}}],
                                "Output": {"results": "{% $states.result %}"}, "End": True}})
    assert sfn.start_execution(definition, {"n": 4}).output == {"results": [5, 40]}


def test_catch_output_and_assign_see_the_error_output():
    def fail(event):
        raise FunctionError("CardDeclined", "insufficient funds")
    clock, runner, sfn = lab({"Charge": fail})
    definition = machine({
        "Charge": {"Type": "Task", "Resource": ARN + "Charge", "Assign": {"charged": True},
                   "Catch": [{"ErrorEquals": ["CardDeclined"], "Next": "Refund",
                              "Assign": {"reason": "{% $states.errorOutput.Error %}"},
                              "Output": {"error": "{% $states.errorOutput.Error %}", "order": "{% $states.input.id %}"}}],
                   "End": True},
        "Refund": {"Type": "Pass", "Output": {"why": "{% $reason %}", "was": "{% $states.input %}",
                                              "charged": "{% $exists($charged) %}"}, "End": True}})
    out = sfn.start_execution(definition, {"id": 9}).output
    assert out == {"why": "CardDeclined", "was": {"error": "CardDeclined", "order": 9}, "charged": False}


def test_fail_state_error_and_cause_expressions():
    clock, runner, sfn = lab()
    definition = machine({"F": {"Type": "Fail", "Error": "{% $states.input.code %}",
                                "Cause": "{% 'Order ' & $states.input.id & ' was refused' %}"}})
    execution = sfn.start_execution(definition, {"code": "Refused", "id": "7"})
    assert (execution.error, execution.cause) == ("Refused", "Order 7 was refused")


def test_step_functions_own_jsonata_functions():
    clock, runner, sfn = lab(seed=3)
    definition = machine({"P": {"Type": "Pass", "Output": {
        "parts": "{% $partition([1,2,3,4,5,6,7], 3) %}",
        "range": "{% $range(0, 10, 5) %}",
        "hash": "{% $hash('input data', 'SHA-256') %}",
        "seeded": "{% $random(42) = $random(42) %}",
        "random": "{% $random() %}",
        "uuid": "{% $uuid() %}",
        "parsed": "{% $parse($states.input.json) %}"}, "End": True}})
    out = sfn.start_execution(definition, {"json": "{\"a\": [1, null]}"}).output
    assert out["parts"] == [[1, 2, 3], [4, 5, 6], [7]]
    assert out["range"] == [0, 5, 10]
    assert out["hash"] == hashlib.sha256(b"input data").hexdigest() and out["seeded"] is True
    assert 0 <= out["random"] < 1 and uuid.UUID(out["uuid"]).version == 4
    assert out["parsed"] == {"a": [1, None]}
    again = Interpreter(VirtualClock(), CallableTaskRunner(), seed=3).start_execution(definition, {"json": "1"}).output
    assert (again["random"], again["uuid"]) == (out["random"], out["uuid"])


def test_an_expression_that_returns_nothing_is_a_catchable_query_evaluation_error():
    clock, runner, sfn = lab({"Echo": lambda e: e})
    definition = machine({
        "T": {"Type": "Task", "Resource": ARN + "Echo", "Arguments": {"x": "{% $states.input.missing %}"},
              "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "Output": "{% $states.input.Error %}", "End": True}})
    assert sfn.start_execution(definition, {}).output == "States.QueryEvaluationError"
    assert runner.calls == []


def test_one_jsonata_state_in_a_jsonpath_machine():
    clock, runner, sfn = lab()
    definition = {"StartAt": "Old", "States": {
        "Old": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Next": "New"},
        "New": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input.n * 2 %}", "End": True}}}
    assert sfn.start_execution(definition, {"n": 21}).output == 42


def test_jsonata_validation():
    bad_syntax = machine({"P": {"Type": "Pass", "Output": "{% $states.input. %}", "End": True}})
    assert [(d.code, d.location) for d in asl.validate(bad_syntax)] == [("SCHEMA_VALIDATION_FAILED", "/States/P/Output")]
    uses_eval = machine({"P": {"Type": "Pass", "Output": "{% $eval('1') %}", "End": True}})
    assert any("$eval" in d.message for d in asl.validate(uses_eval))
    jsonpath_field = machine({"P": {"Type": "Pass", "InputPath": "$.a", "End": True}})
    assert asl.validate(jsonpath_field)[0].location == "/States/P/InputPath"
    back_to_jsonpath = machine({"P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}})
    assert asl.validate(back_to_jsonpath)[0].location == "/States/P/QueryLanguage"

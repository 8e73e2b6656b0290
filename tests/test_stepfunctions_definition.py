"""Validation of state machine definitions, shaped as ValidateStateMachineDefinition answers.
Codes: https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinitionDiagnostic.html
Rules: https://states-language.net/spec.html"""

import pytest

from lambdalab_ext.stepfunctions import definition as asl
from lambdalab_ext.stepfunctions import errors

FN = "arn:aws:lambda:us-east-1:123456789012:function:F"


def found(definition):
    return [(d.severity, d.code, d.location) for d in asl.validate(definition)]


def test_a_good_definition_has_no_diagnostics():
    good = {"Comment": "ok", "StartAt": "T", "TimeoutSeconds": 60, "States": {
        "T": {"Type": "Task", "Resource": FN, "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "F"}], "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "S"}], "Default": "F"},
        "S": {"Type": "Succeed"}, "F": {"Type": "Fail", "Error": "E"}}}
    assert asl.validate(good) == []
    assert asl.validate_state_machine_definition(good) == {"result": "OK", "diagnostics": [], "truncated": False}


def test_missing_start_at():
    assert ("ERROR", "SCHEMA_VALIDATION_FAILED", "/") in found({"States": {"A": {"Type": "Succeed"}}})


def test_start_at_and_next_to_unknown_states():
    assert found({"StartAt": "Nope", "States": {"A": {"Type": "Succeed"}}})[0] == \
        ("ERROR", "MISSING_TRANSITION_TARGET", "/StartAt")
    assert ("ERROR", "MISSING_TRANSITION_TARGET", "/States/A/Next") in found(
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nope"}, "Z": {"Type": "Succeed"}}})
    diagnostics = asl.validate({"StartAt": "B", "States": {"A": {"Type": "Succeed"}, "B": {
        "Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "Gone"}], "Default": "A"}}})
    assert [(d.code, d.location, d.message) for d in diagnostics] == [
        ("MISSING_TRANSITION_TARGET", "/States/B/Choices[0]/Next", "Missing 'Next' target: Gone")]


def test_unreachable_state():
    definition = {"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "Orphan": {"Type": "Succeed"}}}
    assert found(definition) == [("ERROR", "SCHEMA_VALIDATION_FAILED", "/States/Orphan")]
    assert asl.validate(definition)[0].message == "State 'Orphan' is not reachable."


def test_a_non_terminal_state_without_next_or_end_and_no_terminal_state():
    diagnostics = found({"StartAt": "A", "States": {"A": {"Type": "Pass"}}})
    assert ("ERROR", "SCHEMA_VALIDATION_FAILED", "/States/A") in diagnostics
    assert ("ERROR", "MISSING_END_STATE", "/States") in diagnostics
    assert ("ERROR", "SCHEMA_VALIDATION_FAILED", "/States/A") in found(
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A", "End": True}}})


@pytest.mark.parametrize("field, value", [("InputPath", "foo"), ("OutputPath", "$.a["), ("ResultPath", "$.a[*]"),
                                          ("ResultPath", "$$.x")])
def test_bad_jsonpath(field, value):
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", field: value, "End": True}}}
    assert ("ERROR", "SCHEMA_VALIDATION_FAILED", f"/States/A/{field}") in found(definition)


def test_bad_payload_templates_and_intrinsics():
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Parameters": {
        "a.$": "$.ok", "b.$": "States.Nope(1)", "c.$": 5, "d.$": "States.ArrayLength($.x, 2)",
        "nested": {"e.$": "$..[?("}}}}}
    locations = [d.location for d in asl.validate(definition)]
    assert locations == ["/States/A/Parameters/b.$", "/States/A/Parameters/c.$", "/States/A/Parameters/d.$",
                         "/States/A/Parameters/nested/e.$"]


def test_warnings_no_dollar_and_pass_result_is_static():
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"id": "$.id"}, "Next": "B"},
                                             "B": {"Type": "Pass", "Result": {"x.$": "$.x"}, "End": True}}}
    assert found(definition) == [("WARNING", "NO_DOLLAR", "/States/A/Parameters/id"),
                                 ("WARNING", "PASS_RESULT_IS_STATIC", "/States/B/Result")]
    response = asl.validate_state_machine_definition(definition)
    assert response["result"] == "OK" and response["diagnostics"] == []
    assert len(asl.validate_state_machine_definition(definition, severity="WARNING")["diagnostics"]) == 2


def test_invalid_resource_and_unknown_fields():
    definition = {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:s3:::bucket", "End": True,
                                                   "Colour": "blue"}}}
    assert found(definition) == [("ERROR", "SCHEMA_VALIDATION_FAILED", "/States/A/Colour"),
                                 ("ERROR", "INVALID_RESOURCE", "/States/A/Resource")]


def test_retry_and_catch_rules():
    definition = {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": FN, "End": True,
                                                   "Retry": [{"ErrorEquals": ["States.ALL", "X"], "BackoffRate": 0.5,
                                                              "JitterStrategy": "SOME", "MaxAttempts": -1}],
                                                   "Catch": [{"ErrorEquals": [], "Next": "Nowhere"}]}}}
    locations = {d.location for d in asl.validate(definition)}
    assert {"/States/A/Retry[0]/ErrorEquals", "/States/A/Retry[0]/BackoffRate", "/States/A/Retry[0]/JitterStrategy",
            "/States/A/Retry[0]/MaxAttempts", "/States/A/Catch[0]/ErrorEquals", "/States/A/Catch[0]/Next"} <= locations


def test_wait_needs_exactly_one_duration_and_choice_rules_one_operator():
    definition = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 5, "Timestamp": "2016-03-14T01:59:00Z", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "Next": "S"},
                                            {"Variable": "$.a", "NumericEquals": "1", "Next": "S"}]},
        "S": {"Type": "Succeed"}}}
    locations = [d.location for d in asl.validate(definition)]
    assert locations == ["/States/W", "/States/C/Choices[0]", "/States/C/Choices[1]/NumericEquals"]


def test_nested_branches_are_validated_in_their_own_scope():
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "P"}}}]}}}
    assert found(definition) == [("ERROR", "MISSING_TRANSITION_TARGET", "/States/P/Branches[0]/States/X/Next"),
                                 ("ERROR", "MISSING_END_STATE", "/States/P/Branches[0]/States")]


def test_variable_names():
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True,
                                                   "Assign": {"states": 1, "9lives": 2, "ok_name": 3}}}}
    assert [d.location for d in asl.validate(definition)] == ["/States/A/Assign/states", "/States/A/Assign/9lives"]


def test_json_text_and_empty_definitions():
    assert found("{not json")[0][1] == "INVALID_JSON_DESCRIPTION"
    assert found("")[0][1] == "MISSING_DESCRIPTION"
    response = asl.validate_state_machine_definition('{"StartAt": "A", "States": {}}')
    assert response["result"] == "FAIL"
    with pytest.raises(errors.InvalidDefinition, match="INVALID_JSON_DESCRIPTION|Invalid JSON"):
        asl.load("{not json")

"""JSONPath data flow of Step Functions: Paths, Reference Paths, Payload Templates, ResultPath."""

import pytest

from lambdalab_ext.stepfunctions import errors, paths
from lambdalab_ext.stepfunctions.errors import StatesError


# https://states-language.net/spec.html#ref-paths
SPEC_INPUT = {"foo": 123, "bar": ["a", "b", "c"], "car": {"cdr": True}}


@pytest.mark.parametrize("path, expected", [("$.foo", 123), ("$.bar", ["a", "b", "c"]), ("$.car.cdr", True)])
def test_reference_paths_of_the_spec(path, expected):
    assert paths.select(SPEC_INPUT, path) == expected
    assert paths.parse_reference_path(path).is_reference


@pytest.mark.parametrize("text", ["$.store.book", "$.store\\.book", "$.\\stor\\e.boo\\k", "$.store.book.title",
                                  "$.foo.\\.bar", "$.foo\\@bar.baz\\[\\[.\\?pretty", "$.&Ж中",
                                  "$.ledgers.branch[0].pending.count", "$.ledgers.branch[0]",
                                  "$.ledgers[0][22][315].foo", "$['store']['book']", "$['store'][0]['book']"])
def test_the_spec_reference_path_syntax_parses(text):
    assert paths.parse_reference_path(text).is_reference


def test_escaped_names_read_the_field_with_the_character():
    assert paths.select({"store.book": 1}, "$.store\\.book") == 1
    assert paths.select({"foo@bar": {"baz[[": {"?pretty": 2}}}, "$.foo\\@bar.baz\\[\\[.\\?pretty") == 2


@pytest.mark.parametrize("text", ["$.a[*]", "$..b", "$.a[0:2]", "$.a[0,1]", "$.a[?(@.x)]"])
def test_a_reference_path_names_one_node(text):
    with pytest.raises(paths.PathSyntaxError, match="not a valid reference path"):
        paths.parse_reference_path(text)


@pytest.mark.parametrize("text", ["foo", "$.", "$.a[", "$.a]", "$[?(@.x]", "a.$"])
def test_malformed_paths_are_rejected(text):
    with pytest.raises(paths.PathSyntaxError):
        paths.parse_path(text)


# https://docs.aws.amazon.com/step-functions/latest/dg/input-output-inputpath-params.html ("A path can
# yield a selection of values": $.a[0:2] of {"a": [1, 2, 3, 4]}) and the spec's $.a[0,1] example.
def test_indefinite_paths_gather_an_array():
    data = {"a": [1, 2, 3, 4]}
    assert paths.select(data, "$.a[0:2]") == [1, 2]
    assert paths.select(data, "$.a[0,1]") == [1, 2]
    assert paths.select(data, "$.a[-3:]") == [2, 3, 4]
    assert paths.select(data, "$.a[*]") == [1, 2, 3, 4]
    assert paths.select({"a": [{"b": 1}, {"c": 2}]}, "$.a[*].b") == [1]   # no match is skipped, not an error


def test_filters_deep_scan_and_functions_of_jayway_jsonpath():
    store = {"book": [{"title": "A", "price": 8.95, "isbn": "1"}, {"title": "B", "price": 22.99},
                      {"title": "C", "price": 12, "isbn": "2"}]}
    assert paths.select(store, "$.book[?(@.price < 10)].title") == ["A"]
    assert paths.select(store, "$.book[?(@.isbn)].title") == ["A", "C"]
    assert paths.select(store, "$.book[?(@.price > 10 && @.isbn)].title") == ["C"]
    assert paths.select(store, "$.book[?(@.title == 'B' || @.price == 12)].title") == ["B", "C"]
    assert paths.select(store, "$.book[?(@.title =~ /[AB]/)].title") == ["A", "B"]
    assert paths.select(store, "$..title") == ["A", "B", "C"]
    assert paths.select(store, "$.book.length()") == 3
    assert paths.select(store, "$.book[0]['title']") == "A"
    assert paths.select(store, "$.book[?(@.price > 100)]") == []


def test_a_definite_path_that_names_nothing_is_not_found():
    with pytest.raises(paths.PathNotFound):
        paths.select({"a": {"b": 1}}, "$.a.c")
    with pytest.raises(paths.PathNotFound):
        paths.select({"a": [1]}, "$.a[3]")


def test_context_and_variable_paths():
    assert paths.select({}, "$$.Execution.Name", context={"Execution": {"Name": "run-1"}}) == "run-1"
    assert paths.select({}, "$order.id", variables={"order": {"id": 7}}) == 7
    assert paths.select({}, "$count", variables=lambda name: {"count": 3}[name]) == 3
    with pytest.raises(paths.PathNotFound):
        paths.select({}, "$missing.x", variables={})


# https://docs.aws.amazon.com/step-functions/latest/dg/input-output-inputpath-params.html (InputPath)
def test_inputpath_example_of_the_guide():
    state_input = {"comment": "Example for InputPath.", "dataset1": {"val1": 1, "val2": 2, "val3": 3},
                   "dataset2": {"val1": "a", "val2": "b", "val3": "c"}}
    assert paths.apply_input_path(state_input, "$.dataset2") == {"val1": "a", "val2": "b", "val3": "c"}
    # https://states-language.net/spec.html#filters: a null InputPath gives {}, an absent one all of it
    assert paths.apply_input_path(state_input, None) == {}
    assert paths.apply_input_path(state_input, "$") is state_input


def test_an_inputpath_that_matches_nothing_is_a_runtime_error():
    with pytest.raises(StatesError) as info:
        paths.apply_input_path({"a": 1}, "$.b")
    assert info.value.error == errors.RUNTIME
    assert "$.b" in info.value.cause


# https://docs.aws.amazon.com/step-functions/latest/dg/input-output-inputpath-params.html (Parameters)
def test_parameters_example_of_the_guide():
    state_input = {"comment": "Example for Parameters.",
                   "product": {"details": {"color": "blue", "size": "small", "material": "cotton"},
                               "availability": "in stock", "sku": "2317", "cost": "$23"}}
    template = {"comment": "Selecting what I care about.",
                "MyDetails": {"size.$": "$.product.details.size", "exists.$": "$.product.availability",
                              "StaticValue": "foo"}}
    assert paths.resolve_payload_template(template, state_input) == {
        "comment": "Selecting what I care about.",
        "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"}}


# https://states-language.net/spec.html#payload-template
def test_payload_template_example_of_the_spec():
    template = {"flagged": True, "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"},
                "weekday.$": "$$.DayOfWeek", "formattedOutput.$": "States.Format('Today is {}', $$.DayOfWeek)"}
    payload = paths.resolve_payload_template(template, {"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]},
                                             context={"DayOfWeek": "TUESDAY"})
    assert payload == {"flagged": True, "parts": {"first": 0, "last3": [30, 40, 50]}, "weekday": "TUESDAY",
                       "formattedOutput": "Today is TUESDAY"}


def test_payload_templates_are_processed_inside_arrays_and_a_missing_path_is_a_runtime_error():
    out = paths.resolve_payload_template({"list": [{"v.$": "$.x"}, "plain"]}, {"x": 5})
    assert out == {"list": [{"v": 5}, "plain"]}
    with pytest.raises(StatesError) as info:
        paths.resolve_payload_template({"missing.$": "$.nope.deep"}, {"other": 1})
    assert info.value.error == errors.RUNTIME
    assert info.value.cause == ("The JSONPath '$.nope.deep' specified for the field 'missing.$' could not be "
                                "found in the input '{\"other\":1}'")


# https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultpath.html
DOC_INPUT = {"comment": "This is a test", "details": "Default example", "who": "Step Functions"}


def test_resultpath_default_replaces_the_input():
    assert paths.apply_result_path(DOC_INPUT, "$", "Hello, Step Functions!") == "Hello, Step Functions!"


def test_resultpath_null_keeps_the_input():
    assert paths.apply_result_path(DOC_INPUT, None, "Hello, Step Functions!") == DOC_INPUT


def test_resultpath_includes_the_result_with_the_input():
    assert paths.apply_result_path(DOC_INPUT, "$.taskresult", "Hello, Step Functions!") == {
        **DOC_INPUT, "taskresult": "Hello, Step Functions!"}
    assert DOC_INPUT == {"comment": "This is a test", "details": "Default example", "who": "Step Functions"}


# https://states-language.net/spec.html#filters (ResultPath overwriting and constructing fields)
def test_resultpath_overwrites_or_builds_nested_fields():
    raw = {"master": {"detail": [1, 2, 3]}}
    assert paths.apply_result_path(raw, "$.master.detail", 6) == {"master": {"detail": 6}}
    assert paths.apply_result_path(raw, "$.master.result.sum", 6) == {
        "master": {"detail": [1, 2, 3], "result": {"sum": 6}}}
    assert paths.apply_result_path({"a": 1}, "$.b.greeting", "Hi!") == {"a": 1, "b": {"greeting": "Hi!"}}
    assert paths.apply_result_path({"a": [0, 1]}, "$.a[1]", "x") == {"a": [0, "x"]}


# https://states-language.net/spec.html#jsonpath-runtime-errors
def test_resultpath_that_cannot_apply_is_a_match_failure():
    with pytest.raises(StatesError) as info:
        paths.apply_result_path("foo", "$.x", 1)
    assert info.value.error == errors.RESULT_PATH_MATCH_FAILURE
    with pytest.raises(StatesError):
        paths.apply_result_path({"a": 1}, "$.a.b", 2)


# https://docs.aws.amazon.com/step-functions/latest/dg/input-output-example.html (InputPath, ResultPath
# and OutputPath together on a Lambda task that answers "Hello, AWS Step Functions!")
def test_inputpath_resultpath_outputpath_example_of_the_guide():
    state_input = {"comment": "An input comment.", "data": {"val1": 23, "val2": 17}, "extra": "foo",
                   "lambda": {"who": "AWS Step Functions"}}
    assert paths.apply_input_path(state_input, "$.lambda") == {"who": "AWS Step Functions"}
    combined = paths.apply_result_path(state_input, "$.data.lambdaresult", "Hello, AWS Step Functions!")
    assert paths.apply_output_path(combined, "$.data") == {"val1": 23, "val2": 17,
                                                          "lambdaresult": "Hello, AWS Step Functions!"}
    assert paths.apply_output_path(combined, None) == {}


def test_json_equality_and_payload_size():
    assert paths.json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not paths.json_equal(True, 1)
    assert paths.payload_size({"k": "é"}) == len('{"k":"é"}'.encode("utf-8"))

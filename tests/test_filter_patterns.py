"""CloudWatch Logs filter patterns, alone (pure, fast).

Test vectors are AWS's documented examples (pattern, sample events, which match), each group under
the page it comes from; then what AWS was seen to do (error messages quoted from AWS's answers in
public issues and reports); then edge cases and the lab's own guarantees (linear time).
"""

import doctest
import json
import time

import pytest

from lambdalab_ext import observe
from lambdalab_ext.observe import _pattern_lexer, filter_patterns
from lambdalab_ext.observe.filter_patterns import (MAX_REGEX_PATTERNS_PER_LOG_GROUP, FilterPattern,
                                                   InvalidParameterException, count_regex, split_fields)

SYNTAX = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html"


def matching(pattern, events):
    compiled = FilterPattern.parse(pattern)
    return [event for event in events if compiled.matches(event)]


def refused(pattern):
    with pytest.raises(InvalidParameterException) as caught:
        FilterPattern.parse(pattern)
    return caught.value.message


def test_doctests():
    for module in (observe, filter_patterns, _pattern_lexer):
        assert doctest.testmod(module).failed == 0, module.__name__


# --- unstructured: terms, phrases, ?, - ------------------------------------------------------
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html#matching-terms-unstructured-log-events
# and its sub-page "Using filter patterns to match terms in unstructured log events"

ERRORS = ["[ERROR 400] BAD REQUEST", "[ERROR 401] UNAUTHORIZED REQUEST",
          "[ERROR 419] MISSING ARGUMENTS", "[ERROR 420] INVALID ARGUMENTS"]


def test_doc_single_term():
    assert matching("ERROR", ERRORS) == ERRORS
    assert FilterPattern.parse("ERROR").kind == "unstructured"


def test_doc_multiple_terms_must_all_appear():
    assert matching("ERROR ARGUMENTS", ERRORS) == ERRORS[2:]


def test_doc_optional_terms():
    assert matching("?ERROR ?ARGUMENTS", ERRORS) == ERRORS
    assert FilterPattern.parse("?ERROR ?ARGUMENTS").matches("[INFO] INVALID ARGUMENTS PROVIDED")
    assert not FilterPattern.parse("?ERROR ?ARGUMENTS").matches("[INFO] all good")


def test_doc_optional_terms_are_ignored_beside_other_terms():
    # "If you combine '?' with other filter patterns, all question mark terms will be ignored."
    pattern = FilterPattern.parse("?ERROR ?ARGUMENTS REQUEST")
    for event in ("[INFO] REQUEST FAILED", "[WARN] UNAUTHORIZED REQUEST", "[ERROR] 400 BAD REQUEST"):
        assert pattern.matches(event)
    assert not pattern.matches("[ERROR 419] MISSING ARGUMENTS")


def test_doc_exact_phrase():
    pattern = FilterPattern.parse('"INTERNAL SERVER ERROR"')
    assert pattern.matches("[ERROR 500] INTERNAL SERVER ERROR")
    assert not pattern.matches("[ERROR 500] INTERNAL ERROR SERVER")


def test_doc_include_and_exclude():
    assert matching("ERROR -ARGUMENTS", ERRORS) == ERRORS[:2]


def test_doc_match_everything_with_a_blank_phrase():
    pattern = FilterPattern.parse('" "')
    assert pattern.kind == "all"
    assert all(pattern.matches(event) for event in ("x", "", "two words"))


# The 2020 and 2022 versions of the same page:
# https://github.com/awsdocs/amazon-cloudwatch-logs-user-guide/blob/5ae5c9aeccbdc909d7549b9260291ce7ed2a92f3/doc_source/FilterAndPatternSyntax.md

def test_doc_2020_terms_match_inside_words():
    events = ["[ERROR] A fatal exception has occurred", "Exiting with ERRORCODE: -1"]
    assert matching('"ERROR"', events) == events
    # Example 2 writes the exclusion with a space: "ERROR" - "Exiting"
    assert matching('"ERROR" - "Exiting"', events) == events[:1]


def test_doc_2020_several_quoted_terms_and_a_phrase():
    events = ["[ERROR] Caught IllegalArgumentException", "[ERROR] Unhandled Exception"]
    # awsdocs PR #31: nonconsecutive terms are written "Term1" "Term2"; "ERROR Exception" is a phrase.
    # https://github.com/awsdocs/amazon-cloudwatch-logs-user-guide/pull/31
    assert matching('"ERROR" "Exception"', events) == events
    assert matching('"ERROR Exception"', events) == []
    phrase = ["[WARN] Failed to process the request", "[ERROR] Unable to continue: Failed to process the request"]
    assert matching('"Failed to process the request"', phrase + ["Failed to process request"]) == phrase


def test_doc_2020_or_pattern_matching():
    events = ["ERROR WARN message", "ERROR message", "WARN message"]
    assert matching("ERROR", events) == events[:2]
    assert matching("?ERROR ?WARN", events) == events
    assert matching("ERROR WARN", events) == events[:1]
    assert matching("ERROR -WARN", events) == events[1:2]


def test_doc_2020_or_in_json():
    events = ['{"foo": "bar"}', '{"foo": "baz"}']
    assert matching("{$.foo = bar}", events) == events[:1]
    assert matching("{$.foo = baz }", events) == events[1:]
    assert matching("{$.foo = bar || $.foo = baz }", events) == events


# Lightsail's GetContainerLog documents the same syntax:
# https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/lightsail/aws.sdk.kotlin.services.lightsail.model/-get-container-log-request/filter-pattern.html

def test_doc_lightsail_examples():
    events = ["ERROR Exception thrown", "ERROR only", "Exception only", "all fine"]
    assert matching("", events) == events
    assert matching("-ERROR", events) == events[2:]
    assert matching("ERROR", events) == events[:2]
    assert matching("ERROR Exception", events) == events[:1]
    assert matching("?ERROR ?Exception", events) == events[:3]


# Observed on AWS and tabulated in "AWS CloudWatch vol. 1" (2025):
# https://github.com/Radek-Pysny/radek-pysny.github.io/blob/520bec343cc5e435560378534017f17de2b8a272/_posts/2025-03-30-aws-cloud-watch-vol-1.md

def test_observed_case_sensitive_substrings():
    assert matching("ERROR", ERRORS + ["ERRORNEOUS PROGRAM"]) == ERRORS + ["ERRORNEOUS PROGRAM"]
    assert matching("ERROR", ["error=cannot process ticket", "rpc error", "Error: entity not found!",
                              "NotFoundError", "ErRoR"]) == []
    assert matching("ARGUMENT ERROR", ERRORS) == ERRORS[2:]


def test_observed_phrases_and_optional_phrases():
    assert matching('"ERROR][grpc"', ["2025-03-28 [ERROR][grpc] failed", "[ERROR] [grpc]"]) == [
        "2025-03-28 [ERROR][grpc] failed"]
    assert matching("?BAD ?INVALID", ERRORS) == [ERRORS[0], ERRORS[3]]
    events = ["map clean up", "xyz", "xyz will do clean up", "abc xy yz xz", "map is cleaned up", ERRORS[2]]
    assert matching('?"clean up" ?xyz', events) == events[:3]


def test_phrases_unescape_quotes_and_backslashes():
    assert FilterPattern.parse(r'"say \"hi\""').matches('they say "hi" twice')
    assert FilterPattern.parse(r'"level\\\":\\\"error"').matches(r'{"log":"{\"level\":\"error\"}"}')
    assert FilterPattern.parse('"café"').matches("au café")
    assert FilterPattern.parse('"ERROR*"').matches("ERROR* literally")
    assert not FilterPattern.parse('"ERROR*"').matches("ERRORS")


def test_empty_and_blank_patterns_match_everything():
    for text in ("", "   ", '" " "  "'):
        pattern = FilterPattern.parse(text)
        assert pattern.kind == "all" and pattern.matches("anything") and pattern.matches("")


# --- %regex% ---------------------------------------------------------------------------------
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/regex-expressions.html
# (the same text in FilterAndPatternSyntax.html#regex-expressions and #matching-terms-regex)

def regex_matches(regex, text):
    return FilterPattern.parse(f"%{regex}%").matches(text)


def test_doc_regex_standalone():
    pattern = FilterPattern.parse("%AUTHORIZED%")
    assert pattern.kind == "regex" and pattern.regex_count == 1
    assert matching("%AUTHORIZED%", ["[ERROR 401] UNAUTHORIZED REQUEST", "[SUCCESS 200] AUTHORIZED REQUEST",
                                     "[SUCCESS 200] authorized"]) == ["[ERROR 401] UNAUTHORIZED REQUEST",
                                                                      "[SUCCESS 200] AUTHORIZED REQUEST"]


def test_doc_regex_introduction_examples():
    assert regex_matches(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", "from 192.168.0.12 port 80")
    assert not regex_matches(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", "from 192.168.0 port 80")
    either = "[Ee]rror|[Ff]ail"
    assert [regex_matches(either, text) for text in ("Error", "error", "Fail", "fail", "ERROR", "FAIL")] == [
        True, True, True, True, False, False]


def test_doc_regex_anchors():
    assert regex_matches("^[hc]at", "hat trick") and regex_matches("^[hc]at", "cat")
    assert not regex_matches("^[hc]at", "that")
    assert regex_matches("[hc]at$", "a cat") and not regex_matches("[hc]at$", "cats")


def test_doc_regex_optional_class_and_repetition():
    assert regex_matches("colou?r", "color") and regex_matches("colou?r", "colour")
    assert regex_matches("[abc]", "xxbxx") and not regex_matches("[abc]", "xyz")
    assert regex_matches("[a-z]", "Q9q") and not regex_matches("[a-z]", "Q9")
    assert regex_matches("[abcx-z]", "y") and not regex_matches("[abcx-z]", "d")
    assert regex_matches("a{3,5}", "aaa") and not regex_matches("a{3,5}", "aa")
    assert regex_matches("^a{3,5}$", "aaaaa") and not regex_matches("^a{3,5}$", "aaaaaa")
    # "Either m or n can be omitted"
    assert regex_matches("^a{2,}$", "aaaaaaa") and not regex_matches("^a{2,}$", "a")
    assert regex_matches("^a{,2}b", "aab") and not regex_matches("^a{,2}b", "aaab")


def test_doc_regex_alternation():
    assert regex_matches("gra|ey", "gray") and regex_matches("gra|ey", "grey")
    starts = "^starting|^initializing|^shutting down"
    assert [regex_matches(starts, text) for text in ("starting ...", "initializing ...", "shutting down",
                                                      "skipping initializing ...")] == [True, True, True, False]
    # The page writes "%abcc|ab[^c]$" (without its closing %): "abcc" and "aba" match, "aac" does not.
    assert [regex_matches("abcc|ab[^c]$", text) for text in ("abcc", "aba", "aac")] == [True, True, False]


def test_doc_regex_escapes():
    brackets = r"\[.\]"
    assert all(regex_matches(brackets, text) for text in ("[a]", "[b]", "[7]", "[@]", "[]]", "[ ]"))
    assert not regex_matches(brackets, "[ab]")
    assert regex_matches(r"10\.10\.0\.1", "10.10.0.1")
    # "%10.10.0.1% can match "10010,051"", and the escaped form does not.
    assert regex_matches("10.10.0.1", "10010,051") and not regex_matches(r"10\.10\.0\.1", "10010,051")


def test_doc_regex_star_plus_dot():
    assert all(regex_matches("ab*c", text) for text in ("ac", "abc", "abbbc"))
    assert all(regex_matches("ab[0-9]*", text) for text in ("ab", "ab0", "ab129"))
    assert all(regex_matches("ab+c", text) for text in ("abc", "abbc", "abbbc")) and not regex_matches("ab+c", "ac")
    assert all(regex_matches(".at", text) for text in ("hat", "cat", "bat", "4at", "#at", " at"))
    assert not regex_matches(".at", "at")


def test_doc_regex_classes():
    for text in ("a1", "abc", " ", "\t", "_"):
        assert regex_matches(r"\d", text) == regex_matches("[0-9]", text)
        assert regex_matches(r"\D", text) == regex_matches("[^0-9]", text)
        assert regex_matches(r"\w", text) == regex_matches("[a-zA-Z_0-9]", text)
        assert regex_matches(r"\W", text) == regex_matches("[^a-zA-Z_0-9]", text)
    assert all(regex_matches(r"a\sb", f"a{space}b") for space in ("\t", " ", "\n"))
    assert not regex_matches(r"a\sb", "a-b") and regex_matches(r"a\Sb", "a-b")
    assert regex_matches(r"\x3A", "key:value") and regex_matches(r"\x28", "f(x)")


def test_doc_regex_refusals():
    # "%something!% would be rejected since '!' is not supported"
    assert refused("%something!%") == "Invalid character(s) in term '!'"
    # "The ( and ) operators are not supported", "Multi-byte characters are not supported"
    assert refused("%(alpha|beta)%") == "Invalid character(s) in term '('"
    assert refused("%café%") == "Invalid character(s) in term 'é'"
    # Escaping does not help: "After trying to backslash escape the parentheses, it still wasn't
    # having it" (https://github.com/ministryofjustice/modernisation-platform-environments/pull/5137)
    assert refused(r"%\(x\)%") == "Invalid character(s) in term '('"


def test_regex_malformed_is_refused():
    for body in ("[abc", "a{2", "*a", "a**", "x^y", "a$b", "[]", r"\q", "a{5,2}", r"\x4"):
        assert refused(f"%{body}%").startswith("Invalid filter pattern: "), body
    assert refused("%%").startswith("Invalid filter pattern")


def test_regex_lazy_quantifier_and_empty_alternative():
    assert regex_matches("a+?b", "xaab")
    assert regex_matches("abc|", "anything")  # an empty alternative matches the empty string


# --- JSON patterns ---------------------------------------------------------------------------
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/matching-terms-json-log-events.html
# (and FilterAndPatternSyntax.html#matching-terms-json-log-events)

TRAIL = json.dumps({
    "eventType": "UpdateTrail", "sourceIPAddress": "111.111.111.111", "arrayKey": ["value", "another value"],
    "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}], "SomeObject": None, "cluster.name": "c"})


@pytest.mark.parametrize("pattern", [
    '{ $.eventType = "UpdateTrail" }',
    "{ $.sourceIPAddress != 123.123.* }",
    '{ $.arrayKey[0] = "value" }',
    "{ $.eventType = %Trail% }",
    "{ $.arrayKey[*] = %val.{2}% }",
    r"{ $.* = %111\.111\.111\.1[0-9]{1,2}% }",
    "{ $.['cluster.name'] = \"c\" }",
    "{ $.SomeObject IS NULL }",
    "{ $.SomeOtherObject NOT EXISTS }",
    "{ $.objectList[1].id = 2 }",  # the 2022 version of the page
])
def test_doc_json_examples_match_the_sample_event(pattern):
    compiled = FilterPattern.parse(pattern)
    assert compiled.kind == "json"
    assert compiled.matches(TRAIL)


def test_doc_json_examples_and_their_opposites():
    assert not FilterPattern.parse('{ $.eventType = "UpdateTrai" }').matches(TRAIL)  # exact, not a substring
    assert not FilterPattern.parse("{ $.sourceIPAddress != 111.111.* }").matches(TRAIL)
    assert not FilterPattern.parse('{ $.arrayKey[1] = "value" }').matches(TRAIL)
    assert not FilterPattern.parse("{ $.SomeObject NOT EXISTS }").matches(TRAIL)
    assert not FilterPattern.parse("{ $.eventType IS NULL }").matches(TRAIL)
    assert not FilterPattern.parse("{ $.missing IS NULL }").matches(TRAIL)  # "only true if ... set to null"
    assert not FilterPattern.parse("{ $.objectList[1].id = 1 }").matches(TRAIL)
    # "If arrayKey is not an array this will be false."
    assert not FilterPattern.parse('{ $.eventType[0] = "UpdateTrail" }').matches(TRAIL)
    assert not FilterPattern.parse('{ $.cluster.name = "c" }').matches(TRAIL)


def test_doc_json_use_case_events():
    pattern = FilterPattern.parse('{ $.eventType = "UpdateTrail" }')
    assert not pattern.matches('{"eventType": "UserLogin", "userId": "123"}')
    assert not pattern.matches('{"eventType": "ConfigUpdate", "component": "database"}')
    assert pattern.matches('{"eventType": "UpdateTrail", "source": "cloudtrail"}')


def test_doc_2020_is_true_and_is_false():
    # https://github.com/awsdocs/amazon-cloudwatch-logs-user-guide/blob/5ae5c9aeccbdc909d7549b9260291ce7ed2a92f3/doc_source/FilterAndPatternSyntax.md
    event = json.dumps({"ThisFlag": True, "Other": False})
    assert FilterPattern.parse("{ $.ThisFlag IS TRUE }").matches(event)
    assert not FilterPattern.parse("{ $.ThisFlag IS FALSE }").matches(event)
    assert FilterPattern.parse("{ $.Other IS FALSE }").matches(event)
    # A boolean is not a value node: neither = nor != compares it.
    assert not FilterPattern.parse("{ $.ThisFlag = true }").matches(event)
    assert not FilterPattern.parse("{ $.ThisFlag != false }").matches(event)


def test_doc_2020_wildcards_at_either_end_only():
    # "*Event will match PutEvent and GetEvent. Event* will match EventId and EventName.
    # Ev*ent will only match the actual string Ev*ent."
    def value_matches(pattern, value):
        return FilterPattern.parse("{ $.name = %s }" % pattern).matches(json.dumps({"name": value}))
    assert value_matches("*Event", "PutEvent") and value_matches("*Event", "GetEvent")
    assert value_matches("Event*", "EventId") and value_matches("Event*", "EventName")
    assert value_matches("Ev*ent", "Ev*ent") and not value_matches("Ev*ent", "Evident")
    assert value_matches('"*"', "") and value_matches("*", "anything")
    assert value_matches(r'"\*Event"', "*Event") and not value_matches(r'"\*Event"', "PutEvent")


COMPOUND = json.dumps({
    "user": {"id": 1, "email": "John.Stiles@example.com"},
    "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
    "actions": ["GET", "PUT", "DELETE"], "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]]})


@pytest.mark.parametrize("pattern, matches", [
    ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
    ('{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch" && $.actions[2] = "nonmatch" }',
     True),
    ('{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch") && $.actions[2] = "nonmatch" }',
     False),
    ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', False),
    # The 2020 page writes the values bare:
    ('{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }', True),
    ('{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }',
     False),
])
def test_doc_json_compound_expressions(pattern, matches):
    assert FilterPattern.parse(pattern).matches(COMPOUND) is matches


def test_doc_json_compound_nested_arrays_and_precedence():
    assert FilterPattern.parse("{ $.coordinates[2][0] = 7 }").matches(COMPOUND)
    # () > && > ||: without parentheses the && groups first
    assert FilterPattern.parse("{ $.user.id = 9 && $.user.id = 9 || $.user.id = 1 }").matches(COMPOUND)
    assert not FilterPattern.parse("{ $.user.id = 9 && ($.user.id = 9 || $.user.id = 1) }").matches(COMPOUND)


def test_doc_2020_selector_on_an_array_or_object_never_applies():
    # "both {$.users = 1} and {$.users != 1} will fail to match a log event where users is an array"
    event = '{"users": [1, 2, 3]}'
    assert not FilterPattern.parse("{$.users = 1}").matches(event)
    assert not FilterPattern.parse("{$.users != 1}").matches(event)
    assert not FilterPattern.parse('{ $.user != "x" }').matches(COMPOUND)


@pytest.mark.parametrize("pattern, event, matches", [
    # Numeric examples of the current page (events are the lab's, on both sides of each bound)
    ("{ $.bandwidth > 75 }", {"bandwidth": 76}, True), ("{ $.bandwidth > 75 }", {"bandwidth": 75}, False),
    ("{ $.latency < 50 }", {"latency": 49.9}, True), ("{ $.latency < 50 }", {"latency": 50}, False),
    ("{ $.refreshRate >= 60 }", {"refreshRate": 60}, True), ("{ $.refreshRate >= 60 }", {"refreshRate": 59}, False),
    ("{ $.responseTime <= 5 }", {"responseTime": 5}, True), ("{ $.responseTime <= 5 }", {"responseTime": 6}, False),
    ("{ $.errorCode = 400}", {"errorCode": 400}, True), ("{ $.errorCode = 400}", {"errorCode": 401}, False),
    ("{ $.errorCode != 500 }", {"errorCode": 400}, True), ("{ $.errorCode != 500 }", {"errorCode": 500}, False),
    ("{ $.number[0] = 1e+3 }", {"number": [1000]}, True), ("{ $.number[0] = 1e+3 }", {"number": [100]}, False),
    ("{ $.number[0] != 1e-3 }", {"number": [0.001]}, False), ("{ $.number[0] != 1e-3 }", {"number": [1]}, True),
    # ... and of the 2020 page
    ("{ $.latency >= 500 }", {"latency": 500}, True),
    ("{ $.numbers[0] < 10e3 }", {"numbers": [9999]}, True), ("{ $.numbers[0] < 10e3 }", {"numbers": [10000]}, False),
    ("{ $.numbers[0] < 10e-3 }", {"numbers": [0.009]}, True), ("{ $.numbers[0] < 10e-3 }", {"numbers": [0.01]}, False),
    ("{ $.processes[4].averageRuntime <= 55.5 }", {"processes": [0, 0, 0, 0, {"averageRuntime": 55.5}]}, True),
    ("{ $.latency > +1000 }", {"latency": 1001}, True), ("{ $.latency > +1000 }", {"latency": 1000}, False),
])
def test_doc_json_numeric_comparisons(pattern, event, matches):
    assert FilterPattern.parse(pattern).matches(json.dumps(event)) is matches


def test_json_scientific_notation_in_events_compares_by_value():
    assert FilterPattern.parse("{ $.n = 1000 }").matches('{"n": 1e3}')
    assert FilterPattern.parse("{ $.n = 1E3 }").matches('{"n": 1000.0}')
    assert FilterPattern.parse("{ $.n > 999.5 }").matches('{"n": 1.0e+3}')
    assert FilterPattern.parse("{ $.n < -1e-7 }").matches('{"n": -2E-7}')
    assert FilterPattern.parse("{ $.n = 0.3 }").matches('{"n": 0.30}')  # exact decimal, no float error
    assert FilterPattern.parse("{ $.big > 18446744073709551615 }").matches('{"big": 18446744073709551616}')
    # "Strings containing scientific notation are not supported": a string compares as written.
    assert not FilterPattern.parse("{ $.s = 1e3 }").matches('{"s": "1000"}')
    assert FilterPattern.parse("{ $.s = 1e3 }").matches('{"s": "1e3"}')
    assert not FilterPattern.parse("{ $.s > 1 }").matches('{"s": "5"}')


def test_doc_2022_metric_value_and_dimension_from_json():
    # https://github.com/awsdocs/amazon-cloudwatch-logs-user-guide/blob/5bd7d2470d67c936128b739e8a4aaa85c3eb8b7b/doc_source/FilterAndPatternSyntax.md
    latency = FilterPattern.parse("{ $.latency = * }")
    assert latency.extract('{"latency": 50, "requestType": "GET"}', "$.latency") == 50
    assert latency.extract('{"requestType": "GET"}', "$.latency") is None
    event = json.dumps({"eventType": "UpdateTrail", "sourceIPAddress": "111.111.111.111",
                        "arrayKey": ["value", "another value"], "objectList": [{"name": "a", "id": 1}]})
    pattern = FilterPattern.parse('{ $.eventType = "*" && $.sourceIPAddress != 123.123.* }')
    assert pattern.matches(event)
    assert pattern.dimension_values(event, {"eventType": "$.eventType"}) == {"eventType": "UpdateTrail"}
    assert pattern.dimension_values('{"eventType": "X", "sourceIPAddress": "123.123.1.1"}',
                                    {"eventType": "$.eventType"}) is None


def test_json_extract_values_keep_their_type():
    pattern = FilterPattern.parse("{ $.ok IS TRUE }")
    event = '{"ok": true, "ms": 12.5, "n": 3, "tags": ["a", 1], "name": "x"}'
    assert pattern.extract(event, "$.ms") == 12.5
    assert pattern.extract(event, "$.n") == 3 and isinstance(pattern.extract(event, "$.n"), int)
    assert pattern.extract(event, "$.tags") == ["a", 1]
    assert pattern.extract(event, "$.tags[1]") == 1
    assert pattern.extract(event, "$.name") == "x"
    assert pattern.extracted_values(event) == {}  # only space-delimited patterns extract fields
    assert pattern.extracted_values('{"ok": false}') is None


# Validated against AWS by LocalStack's CloudWatch Logs suite (tests marked markers.aws.validated,
# test_filter_log_events_with_pattern, ..._with_unparenthesized_pattern, ..._with_json_property and
# the subscription filter fixture; found in the code index of public repositories).

def test_observed_json_and_or_without_parentheses():
    m0, m1, m2 = ('{"somekey":"value1","foo":"bar"}', '{"somekey":"value1","foo":"baz"}',
                  '{"otherkey":"value1","foo":"bar"}')
    events = [m0, m1, m2]
    assert matching('{$.foo = "bar"}', events) == [m0, m2]
    assert matching('{ ($.somekey = "value1") && ($.foo = "bar") }', events) == [m0]
    assert matching('{ ($.somekey = "value1") || ($.foo = "bar") }', events) == events
    assert matching('{ $.somekey = "value1" && $.foo = "bar" }', [m0, m1]) == [m0]
    tagged = [json.dumps({"isCool": False, "_typeTag": "ImportantMessage"}),
              json.dumps({"isCool": False, "_typeTag": "NotImportantMessage"}),
              json.dumps({"isCool": False, "testing": True})]
    assert matching('{ $._typeTag = "ImportantMessage" }', tagged) == tagged[:1]


def test_observed_subscription_filter_with_star_values():
    pattern = '{ ($.first = "*") && ($.second = "*") }'
    valid = [json.dumps({"first": "ok", "second": "success"}),
             json.dumps({"first": "nice", "second": "success", "additional": "is fine"}),
             json.dumps({"second": "variation", "first": "should be fine"})]
    invalid = ["first", json.dumps({"first": "hello"}), json.dumps({"first": "not enough", "info": "should not work"})]
    assert matching(pattern, invalid + valid) == valid


def test_non_json_events_never_match_json_patterns():
    for pattern in ('{ $.level = "ERROR" }', "{ $.x NOT EXISTS }", "{ $.x != 1 }", "{ $.* = * }"):
        compiled = FilterPattern.parse(pattern)
        for event in ("ERROR level", "", '{"level": "ERROR"', "{not json}", '{"n": NaN}', "level=ERROR",
                      "[1, 2]", '"ERROR"', "null", '{"a": 1} trailing'):
            assert not compiled.matches(event), (pattern, event)


def test_json_case_sensitivity_unicode_and_escapes():
    event = json.dumps({"level": "ERROR", "Level": "warn", "city": "日本", "msg": 'a "b"', "path": "C:\\tmp"})
    assert FilterPattern.parse('{ $.level = "ERROR" }').matches(event)
    assert not FilterPattern.parse('{ $.level = "error" }').matches(event)
    assert not FilterPattern.parse('{ $.Level = "ERROR" }').matches(event)
    assert FilterPattern.parse('{ $.city = "日本" }').matches(event)
    assert FilterPattern.parse(r'{ $.msg = "a \"b\"" }').matches(event)
    assert FilterPattern.parse(r'{ $.path = "C:\\tmp" }').matches(event)
    assert FilterPattern.parse('{ $.detail-type = "Scheduled Event" }').matches('{"detail-type": "Scheduled Event"}')


def test_json_missing_fields_and_not_equal():
    assert not FilterPattern.parse('{ $.missing != "x" }').matches('{"other": 1}')
    assert FilterPattern.parse('{ $.missing NOT EXISTS && $.other = 1 }').matches('{"other": 1}')
    assert not FilterPattern.parse("{ $.a[5] = 1 }").matches('{"a": [1]}')
    assert FilterPattern.parse('{ $.code = 404 }').matches('{"code": "404"}')  # a number literal against a string


def test_json_wildcard_selectors_fan_out():
    event = '{"items": [{"s": 1}, {"s": 7}], "m": {"a": "x", "b": "yes"}}'
    assert FilterPattern.parse("{ $.items[*].s > 5 }").matches(event)
    assert not FilterPattern.parse("{ $.items[*].s > 7 }").matches(event)
    assert FilterPattern.parse('{ $.m.* = "yes" }').matches(event)
    assert FilterPattern.parse("{ $.items[*].t NOT EXISTS }").matches(event)


def test_json_limits():
    # "You can only use up to one wildcard selector in a property selector, and up to three
    # wildcard selectors in a filter pattern with compound expressions."
    assert "at most one wildcard" in refused("{ $.a[*].b[*] = 1 }")
    assert refused("{ $.a[*] = 1 || $.b[*] = 1 || $.c[*] = 1 || $.d[*] = 1 }").endswith("at most 3 wildcard selectors")
    FilterPattern.parse("{ $.a[*] = 1 || $.b[*] = 1 || $.c[*] = 1 }")
    # "There is a limit of 2 regex for each filter pattern when creating a delimited or JSON filter pattern"
    assert FilterPattern.parse("{ $.a = %x% && $.b = %y% }").regex_count == 2
    assert "at most 2 regular expressions" in refused("{ $.a = %r1% && $.b = %r2% && $.c = %r3% }")


def test_json_unsupported_and_malformed():
    # "The variables IS NOT and EXISTS currently aren't supported."
    assert "is not supported" in refused("{ $.a IS NOT NULL }")
    assert "is not supported" in refused("{ $.a EXISTS }")
    # The CDK once rendered a selector without "$." (https://github.com/aws/aws-cdk/issues/15047)
    assert refused('{ status = "401" }').startswith("Invalid filter pattern: ")
    for pattern in ("{}", "{ $.a = }", "{ $.a }", "{ $.a = 1 && }", "{ ($.a = 1 }", "{ $.a == 1 }",
                    '{ $.a > "x" }', "{ $.a < %x% }", "{ $.a = 1 } }", '{ $.a = "open }', "{ $[0] = 1 }",
                    "{ $.a IS MAYBE }"):
        with pytest.raises(InvalidParameterException):
            FilterPattern.parse(pattern)


# --- space-delimited patterns ----------------------------------------------------------------
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html#matching-term-space-delimited-log-events

ACCESS = '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'


def test_doc_space_delimited_examples():
    for pattern in (r"[ip=%127\.0\.0\.[1-9]%, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
                    "[..., request =*.html*, status_code = 4*, bytes]",
                    "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]"):
        compiled = FilterPattern.parse(pattern)
        assert compiled.kind == "space_delimited" and compiled.matches(ACCESS), pattern
    either = FilterPattern.parse(
        "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]")
    assert either.matches(ACCESS.replace(" 404 ", " 410 "))
    assert not either.matches(ACCESS.replace(" 404 ", " 200 "))
    assert not FilterPattern.parse(r"[ip=%127\.0\.0\.[1-9]%, ...]").matches(ACCESS.replace("127.0.0.1", "127.0.0.0"))


def test_doc_2022_extracted_fields_and_dimension():
    # https://github.com/awsdocs/amazon-cloudwatch-logs-user-guide/blob/5bd7d2470d67c936128b739e8a4aaa85c3eb8b7b/doc_source/FilterAndPatternSyntax.md
    pattern = FilterPattern.parse("[ip, user, username, timestamp, request =*.html*, status_code = 4*, bytes]")
    assert pattern.extracted_values(ACCESS) == {
        "$ip": "127.0.0.1", "$user": "Prod", "$username": "frank", "$timestamp": "10/Oct/2000:13:25:15 -0700",
        "$request": "GET /index.html HTTP/1.0", "$status_code": "404", "$bytes": "1534"}
    server = FilterPattern.parse("[ip, server, username, timestamp, request, status_code, bytes > 1000]")
    assert server.extract(ACCESS, "$server") == "Prod"
    assert server.extract(ACCESS, "$bytes") == "1534"
    assert server.dimension_values(ACCESS, {"server": "$server"}) == {"server": "Prod"}
    assert server.extract(ACCESS.replace(" 1534", " 999"), "$bytes") is None


SERVICE = ["INFO 09/25/2014 12:00:00 GET /service/resource/67 1200",
           "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310",
           "WARNING 09/25/2014 12:00:02 Invalid user request",
           "ERROR 09/25/2014 12:00:02 Failed to process request"]


def test_doc_space_delimited_terms_in_order():
    assert matching("[w1=ERROR, w2]", SERVICE) == SERVICE[3:]
    assert matching("[w1=ERROR || w1=WARNING, w2]", SERVICE) == SERVICE[2:]
    assert matching("[w1!=ERROR && w1!=WARNING, w2]", SERVICE) == SERVICE[:2]
    # "you must include a blank indicator after you specify the order of your terms": without w2
    # the one field takes the whole line.
    assert matching("[w1=ERROR]", SERVICE) == []
    assert matching("[w1=ERROR]", ["ERROR"]) == ["ERROR"]


def test_doc_space_delimited_resource_uris():
    assert matching("[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]",
                    SERVICE) == SERVICE[:1]
    assert matching("[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, response_time]",
                    SERVICE) == SERVICE[1:2]


APACHE = ['127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
          '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324',
          '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355']


@pytest.mark.parametrize("pattern, expected", [
    # The 2020 page: https://github.com/awsdocs/amazon-cloudwatch-logs-user-guide/blob/5ae5c9aeccbdc909d7549b9260291ce7ed2a92f3/doc_source/FilterAndPatternSyntax.md
    ("[ip, user, username, timestamp, request, status_code, bytes]", [0, 1, 2]),
    ("[..., status_code, bytes]", [0, 1, 2]),
    ("[ip, user, ..., status_code, bytes]", [0, 1, 2]),
    ("[ip, user, ...]", [0, 1, 2]),
    ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", [0, 1, 2]),
    ("[ip, user, username, timestamp, request, status_code, bytes > 5000]", [1]),
    ("[ip, user, username, timestamp, request, status_code = 200, bytes]", [0, 2]),
    ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", []),
    ("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", []),
    ("[ip, user, username, timestamp, request = *gif*, status_code = 5*, bytes]", [1]),
    ("[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]", []),
    ("[ip, user, username, timestamp, request, status_code = 2* && status_code != 201, bytes]", [0, 2]),
])
def test_doc_2020_apache_examples(pattern, expected):
    assert matching(pattern, APACHE) == [APACHE[i] for i in expected]


def test_doc_2020_refused_example():
    # AWS refuses the page's own "[..., status_code = 4* && bytes > 1000]" with "Invalid filter pattern"
    # (https://github.com/awsdocs/amazon-cloudwatch-logs-user-guide/issues/21): a field's conditions name it.
    message = refused("[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]")
    assert message.startswith("Invalid filter pattern")


def test_doc_2020_positional_extraction_with_a_trailing_unnamed_field():
    # "[..., request=*.html*, status_code=4*,]" extracts $status_code, $request, $7, $4, $3, $2, $1.
    # (The page shows the event's quotes escaped and the request as /products/index.html; the event
    # here is the one it prints, unescaped.)
    event = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
    assert FilterPattern.parse("[..., request=*.html*, status_code=4*,]").extracted_values(event) == {
        "$1": "127.0.0.1", "$2": "-", "$3": "frank", "$4": "10/Oct/2000:13:25:15 -0700",
        "$request": "GET /index.html HTTP/1.0", "$status_code": "404", "$7": "1534"}


def test_space_delimited_event_fields():
    fields = [value for value, _, _ in split_fields('a  "" [x y]  "q \\" r" [open')]
    assert fields == ["a", "", "x y", 'q \\" r', "[open"]
    assert split_fields("   ") == []
    pattern = FilterPattern.parse('[a, b = "", c]')
    assert pattern.matches('x "" z') and not pattern.matches('x "y" z')
    assert FilterPattern.parse('[a, b = "x y", c]').matches('1 "x y" 3')
    assert FilterPattern.parse("[a, b, c]").extracted_values("1\t2\n3") == {"$a": "1", "$b": "2", "$c": "3"}


def test_space_delimited_numbers_and_strings():
    pattern = FilterPattern.parse("[level, ms > 1e3, code = 200]")
    assert pattern.matches("INFO 1500 200") and pattern.matches("INFO 1001.5 200.0")
    assert not pattern.matches("INFO 999 200") and not pattern.matches("INFO fast 200")
    assert FilterPattern.parse("[level, code != 200]").matches("INFO abc")
    assert FilterPattern.parse("[level = %^W%, rest]").matches("WARNING disk 91%")
    assert not FilterPattern.parse("[level = info, rest]").matches("INFO x")  # case-sensitive


def test_space_delimited_parentheses_and_several_ellipses():
    pattern = FilterPattern.parse("[w1 = ERROR && (w1 != FOO || w1 = WARNING), w2]")
    assert matching("[w1 = ERROR && (w1 != FOO || w1 = WARNING), w2]", SERVICE) == SERVICE[3:]
    assert pattern.regex_count == 0
    two = FilterPattern.parse("[..., status = 5*, ...]")
    assert two.matches("a b 503 c d") and not two.matches("a b 404 c")
    assert two.extracted_values("a 503 c") == {"$1": "a", "$status": "503", "$3": "c"}


def test_space_delimited_refusals():
    assert "at most 2 regular expressions" in refused("[w1=%a%, w2=%b%, w3=%c%]")
    assert refused("[w1=ERROR || W1=WARNING, w2]").startswith("Invalid filter pattern")  # names are case-sensitive
    assert refused("[w1=%time%") == "If a filter pattern starts with '[' it must end with ']'"
    for pattern in ("[]", "[w1===ERROR, w2]", "[w1==ERROR  || w1!=WARNING, w2]", "[w1=ERROR && || w1=WARNING, w2]",
                    "[w1!=ERROR AND w1!=WARNING, w2]", "[w1 && w2]", "[w1 = , w2]", "[bytes > big]",
                    "[a = /path]", "[na-me, b]"):
        with pytest.raises(InvalidParameterException):
            FilterPattern.parse(pattern)


# --- errors AWS returns, as AWS words them ---------------------------------------------------

def test_observed_invalid_character_messages():
    # "?Status: timeout" -> "Invalid character(s) in term ':'" (filter-log-events, a field report)
    assert refused("?Status: timeout") == "Invalid character(s) in term ':'"
    # "Invalid character(s) in term '('" for a CDK FilterPattern.literal with parentheses
    assert refused("Server started (port 80)") == "Invalid character(s) in term '('"
    # an unquoted term with a backslash -> "Invalid character(s) in term '\'"
    assert refused(r'level\":\"error') == "Invalid character(s) in term '\\'"
    # `{ $."sc-status" = 5* }` -> "Invalid character(s) in term '$."'" (measured 2026-08-03)
    assert refused('{ $."sc-status" = 5* }') == "Invalid character(s) in term '$.\"'"
    # an empty quoted term (https://github.com/DefangLabs/defang/issues/1008)
    assert refused('""') == "Invalid character(s) in term '\"\"'"
    assert refused("user@example.com") == "Invalid character(s) in term '@'"
    assert refused("café") == "Invalid character(s) in term 'é'"
    assert refused('"a"b') == "Invalid character(s) in term 'b'"


def test_observed_unclosed_brace_message():
    # https://github.com/jorgebastida/awslogs/issues/210
    assert refused('{$.kubernetes.namespace_name="abc"') == "If a filter pattern starts with '{' it must end with '}'"


def test_observed_length_limit_message():
    # Recorded from AWS by LocalStack (tests/aws/services/logs/test_logs_metric_filters.snapshot.json)
    # https://github.com/localstack/localstack/blob/main/tests/aws/services/logs/test_logs_metric_filters.snapshot.json
    FilterPattern.parse("X" * 1024)
    assert refused("X" * 1025) == (f"1 validation error detected: Value '{'X' * 1025}' at 'filterPattern' failed "
                                   "to satisfy constraint: Member must have length less than or equal to 1024")


def test_observed_dimensions_need_a_structured_pattern():
    # https://github.com/hashicorp/terraform-provider-aws/issues/22105
    with pytest.raises(InvalidParameterException) as caught:
        FilterPattern.parse("ERROR").dimension_values("ERROR x", {"level": "$level"})
    assert caught.value.message == "The specified filter pattern does not support dimensions"
    with pytest.raises(InvalidParameterException):
        FilterPattern.parse("[a, b, c, d]").dimension_values("1 2 3 4", {"a": "$a", "b": "$b", "c": "$c", "d": "$d"})


def test_error_shape():
    with pytest.raises(InvalidParameterException) as caught:
        FilterPattern.parse("a:b")
    error = caught.value
    assert isinstance(error, ValueError) and error.status_code == 400
    assert error.as_response() == {"__type": "InvalidParameterException", "message": "Invalid character(s) in term ':'"}
    assert error._render_traceback_() == ["InvalidParameterException (HTTP 400): Invalid character(s) in term ':'"]
    with pytest.raises(InvalidParameterException):
        FilterPattern.parse(None)
    for pattern in ("-", "ERROR ?", '"open', "%open", "%a% %b%", "-%x%"):
        with pytest.raises(InvalidParameterException):
            FilterPattern.parse(pattern)


# --- the API around matching -----------------------------------------------------------------

def test_kinds():
    assert [FilterPattern.parse(text).kind for text in ("", "ERROR", "%E+%", "{ $.a = 1 }", "[a, b]", " -x ")] == [
        "all", "unstructured", "regex", "json", "space_delimited", "unstructured"]


def test_count_regex():
    assert count_regex("ERROR") == 0
    assert count_regex("%ERR%") == 1
    assert count_regex("{ $.a = %x% || $.b = %y% }") == 2
    assert count_regex("[a = %x%, b]") == 1
    assert count_regex(FilterPattern.parse("{ $.a = 1 }")) == 0
    assert MAX_REGEX_PATTERNS_PER_LOG_GROUP == 5
    with pytest.raises(InvalidParameterException):
        count_regex("%x!%")


def test_extract_outside_structured_patterns_and_bad_selectors():
    assert FilterPattern.parse("ERROR").extract("ERROR 5", "$.x") is None
    assert FilterPattern.parse("ERROR").extracted_values("ERROR 5") == {}
    assert FilterPattern.parse("ERROR").extracted_values("fine") is None
    assert FilterPattern.parse("[a, b]").extract("1 2", "$c") is None
    for selector in ("latency", "$latency", "$.a b"):
        with pytest.raises(InvalidParameterException):
            FilterPattern.parse("{ $.a = 1 }").extract('{"a": 1}', selector)


# --- linear time on hostile lines (a log event is at most 256 KB) ----------------------------

HOSTILE = 256 * 1024


@pytest.mark.parametrize("pattern, message", [
    ("%a*a*a*a*a*a*a*a*a*a*a*b%", "a" * HOSTILE),
    ("%x|y%", "z" * HOSTILE),
    ("%[a-z]+[0-9]+[a-z]+$%", "a1" * (HOSTILE // 2)),
    ("%.*.*.*.*=%", "x" * HOSTILE),
    ("ERROR -WARN", "ERRO" * (HOSTILE // 4)),
    ('"aaaaaaaaab"', "a" * HOSTILE),
    ("[a, b, ..., c = %x{3}$%]", "[ " * (HOSTILE // 2)),
    ('[a, b = "x", c]', '" ' * (HOSTILE // 2)),
    ("{ $.a = %a*a*a*b% }", json.dumps({"a": "a" * (HOSTILE - 16)})),
    ("{ $.a = *x* }", "{" * HOSTILE),
])
def test_hostile_lines_stay_linear(pattern, message):
    compiled = FilterPattern.parse(pattern)
    started = time.perf_counter()
    compiled.matches(message)
    assert time.perf_counter() - started < 1.0, pattern

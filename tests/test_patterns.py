"""EventBridge event patterns and SNS filter policies, alone (pure, fast).

Cases are the examples of AWS's documentation ("Content filtering in Amazon EventBridge event
patterns", "Amazon EventBridge event patterns", the Event Ruler README, "Amazon SNS message
filtering" and its pages), and the reasons AWS gives when it refuses a pattern.
"""

import doctest
import json

import pytest

from lambdalab_ext.sources import patterns
from lambdalab_ext.sources.patterns import (EventPatternError, FilterPolicyError, compile_event_pattern,
                                            compile_filter_policy, matches)

EC2_EVENT = {
    "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2", "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}


def detail(**fields):
    return {"source": "test", "detail": fields}


def test_doctests():
    assert doctest.testmod(patterns).failed == 0


# -- EventBridge: the "Event patterns" page ------------------------------------------------------------
def test_the_ec2_termination_pattern_of_the_documentation():
    pattern = {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"],
               "detail": {"state": ["terminated"]}}
    assert matches(pattern, EC2_EVENT)
    assert not matches(pattern, {**EC2_EVENT, "detail": {**EC2_EVENT["detail"], "state": "running"}})
    assert not matches(pattern, {**EC2_EVENT, "source": "aws.s3"})


def test_fields_the_pattern_does_not_name_are_ignored_and_names_are_case_sensitive():
    assert matches({"source": ["aws.ec2"]}, EC2_EVENT)
    assert not matches({"Source": ["aws.ec2"]}, EC2_EVENT)
    assert not matches({"source": ["AWS.EC2"]}, EC2_EVENT)


def test_a_value_list_is_an_or_and_fields_are_an_and():
    pattern = {"source": ["aws.s3", "aws.ec2"], "detail": {"state": ["running", "terminated"]}}
    assert matches(pattern, EC2_EVENT)
    assert not matches({**pattern, "region": ["eu-west-1"]}, EC2_EVENT)


@pytest.mark.parametrize("resources, expected", [
    (["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x", "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"], True),
    (["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x"], False),
    ([], False),
])
def test_an_event_array_matches_if_it_shares_a_value_with_the_pattern(resources, expected):
    # "Arrays in Amazon EventBridge event patterns": the intersection must not be empty.
    pattern = {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
                             "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}
    assert matches(pattern, {"resources": resources}) is expected


def test_objects_in_an_array_match_field_by_field_within_one_element():
    # Event Ruler's "JSON Array Matching": fields must come from the same element of an array.
    event = {"employees": [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"},
                           {"firstName": "Peter", "lastName": "Jones"}]}
    assert matches({"employees": {"firstName": ["Anna"]}}, event)
    assert matches({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}, event)
    assert not matches({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}, event)
    nested = {"employees": [[{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}],
                            [{"firstName": "Peter", "lastName": "Jones"}]]}
    assert matches({"employees": {"firstName": ["Peter"]}}, nested)
    assert not matches({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}, nested)


def test_exists_inside_an_array_of_objects():
    event = {"detail": {"automations": [{"key1": "value1"}, {"id": "match-does-exist"}, {"key2": "value2"}]}}
    assert matches({"detail": {"automations": {"id": [{"exists": True}]}}}, event)


@pytest.mark.parametrize("pattern, event, expected", [
    ({"detail": {"state": {"status": ["running"]}}}, {"detail": {"state.status": "running"}}, True),
    ({"detail": {"state.status": ["running"]}}, {"detail": {"state": {"status": "running"}}}, True),
    ({"detail": {"state": {"status": ["running"]}}}, {"detail": {"state.status": {"status": "running"}}}, False),
])
def test_keys_join_with_dots_in_patterns_and_events(pattern, event, expected):
    # "Considerations when creating event patterns": Ruler compiles keys joined with '.'.
    assert matches(pattern, event) is expected


def test_a_json_string_is_not_parsed_as_an_object():
    assert not matches({"detail": {"my-key": ["my-value"]}}, {"detail": json.dumps({"my-key": "my-value"})})


def test_null_and_empty_string_are_values_and_different_ones():
    # "Matching on null values and empty strings in Amazon EventBridge event patterns".
    event = {"detail": {"eventVersion": "", "responseElements": None}}
    assert matches({"detail": {"responseElements": [None]}}, event)
    assert matches({"detail": {"eventVersion": [""]}}, event)
    assert not matches({"detail": {"eventVersion": [None]}}, event)
    assert not matches({"detail": {"responseElements": [""]}}, event)
    assert not matches({"detail": {"responseElements": [None]}}, {"detail": {"responseElements": "null"}})
    assert not matches({"resources": [None]}, {"resources": []})


def test_numbers_booleans_and_strings_are_different_types():
    assert matches({"number": [300]}, {"number": 300.0})
    assert not matches({"number": [300]}, {"number": "300"})
    assert not matches({"number": ["300"]}, {"number": 300})
    assert matches({"flag": [False]}, {"flag": False})
    assert not matches({"flag": [False]}, {"flag": True})
    assert not matches({"flag": [False]}, {"flag": 0})
    assert not matches({"n": [1]}, {"n": True})


def test_the_last_of_a_repeated_key_is_the_one_used():
    # "if you include a key more than once the last reference will be the one used".
    text = '{"detail": {"location": [{"prefix": "us-"}], "location": [{"anything-but": "us-east"}]}}'
    assert matches(text, detail(location="eu-west"))
    assert not matches(text, detail(location="us-east"))


def test_several_filters_for_one_field_are_an_or():
    assert matches({"my_key": [{"exists": True}, {"prefix": "IGNORED"}, {"suffix": "IGNORED"}]}, {"my_key": "my-value"})
    assert matches({"state": ["stopped", {"prefix": "run"}]}, {"state": "running"})


# -- EventBridge: content filtering -------------------------------------------------------------------
@pytest.mark.parametrize("time, expected", [("2017-10-02T18:43:48Z", True), ("2017-10-03T00:00:00Z", False)])
def test_prefix(time, expected):
    assert matches({"time": [{"prefix": "2017-10-02"}]}, {"time": time}) is expected


@pytest.mark.parametrize("value, expected", [("EventBridge", True), ("EVENTBRIDGE", True), ("eventbridge", True),
                                             ("Amazon EventBridge", False), (42, False)])
def test_prefix_ignoring_case(value, expected):
    assert matches({"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}, detail(service=value)) \
        is expected


def test_an_empty_prefix_matches_every_string():
    assert matches({"source": [{"prefix": ""}]}, {"source": "anything"})
    assert not matches({"source": [{"prefix": ""}]}, {"source": 3})


@pytest.mark.parametrize("name, expected", [("image.png", True), ("image.PNG", False), ("image.png.bak", False)])
def test_suffix_is_case_sensitive(name, expected):
    assert matches({"FileName": [{"suffix": ".png"}]}, {"FileName": name}) is expected


@pytest.mark.parametrize("name, expected", [("image.PNG", True), ("image.png", True), ("image.jpg", False)])
def test_suffix_ignoring_case(name, expected):
    assert matches({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}, detail(FileName=name)) \
        is expected


@pytest.mark.parametrize("state, expected", [("pending", True), ("initializing", False), (None, True), (7, True)])
def test_anything_but_a_string(state, expected):
    # Null is "anything but initializing" (AWS answers so); a missing field is not (next test).
    assert matches({"detail": {"state": [{"anything-but": "initializing"}]}}, detail(state=state)) is expected


def test_anything_but_needs_the_field():
    assert not matches({"detail": {"state": [{"anything-but": "initializing"}]}}, detail())
    assert not matches({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, detail())


@pytest.mark.parametrize("limit, expected", [(789, True), (123, False), (123.0, False), ("123", True)])
def test_anything_but_a_number(limit, expected):
    assert matches({"detail": {"x-limit": [{"anything-but": 123}]}}, detail(**{"x-limit": limit})) is expected


def test_anything_but_lists_of_strings_and_of_numbers():
    strings = {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}
    assert matches(strings, detail(state="pending"))
    assert not matches(strings, detail(state="stopped"))
    numbers = {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}
    assert matches(numbers, detail(**{"x-limit": 999}))
    assert not matches(numbers, detail(**{"x-limit": 100}))


@pytest.mark.parametrize("state, expected", [("post-init", True), ("init-prefix", False), (12, True), (None, True)])
def test_anything_but_a_prefix(state, expected):
    assert matches({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, detail(state=state)) is expected


def test_anything_but_prefixes_suffixes_ignoring_case_and_wildcards():
    assert not matches({"detail": {"state": [{"anything-but": {"prefix": ["init", "post"]}}]}}, detail(state="post-init"))
    assert matches({"detail": {"FileName": [{"anything-but": {"suffix": ".txt"}}]}}, detail(FileName="file.txt.bak"))
    assert not matches({"detail": {"FileName": [{"anything-but": {"suffix": [".txt", ".jpg"]}}]}},
                       detail(FileName="file.jpg"))
    ignore_case = {"detail": {"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]}}
    assert matches(ignore_case, detail(state="pending"))
    assert not matches(ignore_case, detail(state="STOPPED"))
    wildcard = {"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}}
    assert matches(wildcard, detail(FilePath="/usr/bin/python"))
    assert not matches(wildcard, detail(FilePath="/usr/lib/python"))
    assert matches({"detail": {"FilePath": [{"anything-but": {"wildcard": ""}}]}}, detail(FilePath="dir/file"))


NUMERIC = {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}],
                      "x-limit": [{"numeric": ["=", 3.018e2]}]}}


@pytest.mark.parametrize("c, d, x, expected", [
    (5, 3, 301.8, True), (1, 9, 301.8, True), (0, 3, 301.8, False), (6, 3, 301.8, False), (5, 10, 301.8, False),
    (5, 3, 301.81, False), (5, 3, "301.8", False), (5, None, 301.8, False)])
def test_numeric_matching(c, d, x, expected):
    assert matches(NUMERIC, detail(**{"c-count": c, "d-count": d, "x-limit": x})) is expected


@pytest.mark.parametrize("terms, value, expected", [
    ([">=", 200], 200, True), ([">", 200], 200, False), (["<=", 200], 200, True), (["<", 200], 200, False),
    ([">=", 200, "<", 500], 499.999, True), ([">=", 200, "<", 500], 500, False), ([">", 100], 101.0, True),
    ([">", 100], True, False), (["=", 5], 5.0, True), ([">", -1e9, "<", 1e9], 0, True)])
def test_numeric_operators(terms, value, expected):
    assert matches({"n": [{"numeric": terms}]}, {"n": value}) is expected


@pytest.mark.parametrize("ip, expected", [("10.0.0.0", True), ("10.0.0.255", True), ("10.0.1.0", False),
                                          ("10.0.0.256", False), (123, False), ("not an ip", False)])
def test_ip_address_matching(ip, expected):
    assert matches({"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}, detail(sourceIPAddress=ip)) is expected


def test_ipv6_address_matching():
    pattern = {"detail": {"sourceIPAddress": [{"cidr": "2001:db8:1234:1a00::/64"}]}}
    assert matches(pattern, detail(sourceIPAddress="2001:0db8:1234:1a00:0000:0000:0000:0000"))
    assert matches(pattern, detail(sourceIPAddress="2001:db8:1234:1a00::9"))
    assert not matches(pattern, detail(sourceIPAddress="2001:0db8:123f:1a01:0000:0000:0000:0000"))
    assert not matches(pattern, detail(sourceIPAddress="10.0.0.1"))


def test_exists_works_on_leaves_only():
    present = {"detail": {"state": [{"exists": True}]}}
    assert matches(present, {"detail": {"instance-id": "i-abcd1111", "state": "pending"}})
    assert not matches(present, {"detail": {"c-count": {"c1": 100}}})
    assert matches(present, {"detail": {"state": None}})
    # An intermediate node is not a leaf: exists true does not see it, exists false does not mind it.
    assert not matches({"detail": {"c-count": [{"exists": True}]}}, {"detail": {"c-count": {"c1": 100}}})
    assert matches({"detail": {"c-count": [{"exists": False}]}}, {"detail": {"c-count": {"c1": 100}}})
    assert not matches({"detail": {"c-count": [{"exists": False}]}}, {"detail": {"c-count": 5}})
    assert matches({"detail": {"a": {"b": {"c": [{"exists": False}]}}}}, {"detail": {"a": {"b": "a string"}}})
    assert not matches({"resources": [{"exists": True}]}, {"resources": []})


def test_anything_but_or_absent():
    # A common filter: any value but "roses", or no value at all.
    pattern = {"dynamodb": {"NewImage": {"homemade": {"S": [{"anything-but": ["roses"]}, {"exists": False}]}}}}
    assert matches(pattern, {"dynamodb": {"NewImage": {"homemade": {"S": "tulips"}}}})
    assert matches(pattern, {"dynamodb": {"NewImage": {"homemade": {"N": "789"}}}})
    assert matches(pattern, {"dynamodb": {"NewImage": {"purchased": {"N": "789"}}}})
    assert not matches(pattern, {"dynamodb": {"NewImage": {"homemade": {"S": "roses"}}}})


@pytest.mark.parametrize("value, expected", [("EC2 Instance State-change Notification", True),
                                             ("ec2 instance state-change notification", True),
                                             ("EC2 Instance State-change", False)])
def test_equals_ignore_case(value, expected):
    assert matches({"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]},
                   {"detail-type": value}) is expected


@pytest.mark.parametrize("wildcard, value, expected", [
    ("arn:aws:events:us-east-1:*:event-bus/*", "arn:aws:events:us-east-1:123456789012:event-bus/myEventBus", True),
    ("arn:aws:events:us-east-1:*:event-bus/*", "arn:aws:events:eu-west-1:123456789012:event-bus/myEventBus", False),
    ("/Users/*/doc.txt", "/Users/ls_user/dir/dir/dir/dir/dir/doc.txt", True),
    ("/Users/*/doc.txt", "/Users/ls_user/dir/notmatchingdoc.txt.bak", False),
    ("*.png", "image.png", True), ("Simple*Service", "SimpleNotificationService", True),
    ("a\\*b", "a*b", True), ("a\\*b", "axb", False), ("a\\\\b", "a\\b", True), ("", "", True), ("", "x", False),
])
def test_wildcard(wildcard, value, expected):
    assert matches({"f": [{"wildcard": wildcard}]}, {"f": value}) is expected


def test_or_across_fields():
    pattern = {"detail": {"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                                  {"d-count": [{"numeric": ["<", 10]}]},
                                  {"x-limit": [{"numeric": ["=", 3.018e2]}]}]}}
    assert matches(pattern, detail(**{"c-count": 0, "d-count": 0, "x-limit": 901.8}))
    assert matches(pattern, detail(**{"x-limit": 301.8}))
    assert not matches(pattern, detail(**{"c-count": 0, "d-count": 10, "x-limit": 901.8}))


def test_or_with_and_inside_and_nested_or():
    # Event Ruler README: source && (metricName || (metricType && namespace && (metricId || spaceId)) || scope)
    pattern = {"source": ["aws.cloudwatch"], "$or": [
        {"metricName": ["CPUUtilization", "ReadLatency"]},
        {"metricType": ["MetricType"], "namespace": ["AWS/EC2", "AWS/ES"],
         "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]},
        {"scope": ["Service"]}]}
    assert matches(pattern, {"source": "aws.cloudwatch", "metricName": "ReadLatency"})
    assert matches(pattern, {"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/ES",
                             "spaceId": 1000})
    assert not matches(pattern, {"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/ES"})
    assert not matches(pattern, {"source": "aws.ec2", "scope": "Service"})
    parallel = {"$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
                "detail": {"$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["CloudWatch Alarm State Change"]}]}}
    assert matches(parallel, {"namespace": "AWS/EC2", "detail": {"detail-type": "CloudWatch Alarm State Change"}})
    assert not matches(parallel, {"namespace": "AWS/EC2", "detail": {"detail-type": "other"}})


def test_an_event_given_as_json_text_and_a_hostile_one():
    assert compile_event_pattern({"a": [1]}).matches('{"a": 1}')
    assert not compile_event_pattern({"a": [1]}).matches("not json")
    assert not compile_event_pattern({"a": [1]}).matches("[1, 2]")
    deep = {"a": 1}
    for _ in range(5000):
        deep = {"x": deep}
    assert not matches({"a": [1]}, deep)            # nothing recursive to exhaust
    wide = {"rows": [{"k": i, "v": i} for i in range(3000)]}
    assert matches({"rows": {"k": [2999], "v": [2999]}}, wide)
    assert not matches({"rows": {"k": [1], "v": [2]}}, wide)


# -- EventBridge: what PutRule refuses ----------------------------------------------------------------
@pytest.mark.parametrize("pattern, reason", [
    ('{"source": "aws.ec2"}', '"source" must be an object or an array'),
    ('{"int": 42}', '"int" must be an object or an array'),
    ('{"resources": []}', "Empty arrays are not allowed"),
    ('{"source": ["aws.health"], "detail": {}}', "Empty objects are not allowed"),
    ('["not", "a", "dict"]', "Filter is not an object"),
    ('{"detail": {"c-count": [{"numeric": [">", 0, ">", 0]}]}}', "Bad numeric range operator: >"),
    ('{"detail": {"c-count": [{"numeric": [">", 0, "<"]}]}}', "Value of < must be numeric"),
    ('{"detail": {"c-count": [{"numeric": 10}]}}', "Value of numeric must be an array."),
    ('{"key": [{"numeric": []}]}', "Invalid member in numeric match: ]"),
    ('{"key": [{"numeric": [1, "<="]}]}', "Invalid member in numeric match: 1"),
    ('{"key": [{"numeric": ["=", "000"]}]}', "Value of equals must be numeric"),
    ('{"key": [{"numeric": [">="]}]}', "Value of >= must be numeric"),
    ('{"key": [{"numeric": ["<", 100, ">", 10]}]}', "Too many elements in numeric expression"),
    ('{"key": [{"numeric": [">", 3, "<", 1]}]}', "Bottom must be less than top"),
    ('{"key": [{"numeric": [">", 20, 30]}]}', "Bad value in numeric range: 30"),
    ('{"key": [{"numeric": [">", 20, "<", 30, "<", 50]}]}', "Too many terms in numeric range expression"),
    ('{"key": [{"numeric": ["operator"]}]}', "Unrecognized numeric range operator: operator"),
    ('{"detail": {"equal": [{"NUMERIC": ["=", 5]}]}}', "Unrecognized match type NUMERIC"),
    ('{"my_key": [{"EXISTS": true}]}', "Unrecognized match type EXISTS"),
    ('{"time": [{"prefix": 123}]}', "prefix match pattern must be a string"),
    ('{"time": [{"prefix": ["2022-07-13"]}]}', "prefix match pattern must be a string"),
    ('{"FileName": [{"suffix": [".png"]}]}', "suffix match pattern must be a string"),
    ('{"key": [{"suffix": "value", "prefix": "value2"}]}', "Only one key allowed in match expression"),
    ('{"detail-type": [{"equals-ignore-case": ["ec2"]}]}', "equals-ignore-case match pattern must be a string"),
    ('{"detail-type": [{"equals-ignore-case": {"prefix": "ec2"}}]}', "equals-ignore-case match pattern must be a string"),
    ('{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:**:event-bus/*"}]}', "Consecutive wildcard characters at pos 26"),
    ('{"EventBusArn": [{"wildcard": 123}]}', "wildcard match pattern must be a string"),
    ('{"EventBusArn": [{"wildcard": ["a*"]}]}', "wildcard match pattern must be a string"),
    ('{"f": [{"wildcard": "a\\\\b"}]}', "Invalid escape character at pos 2"),
    ('{"ip": [{"cidr": "bad-filter"}]}', "Malformed CIDR, one '/' required"),
    ('{"ip": [{"cidr": "xx.11.xx/8"}]}', "Nonstandard IP address: xx.11.xx"),
    ('{"ip": [{"cidr": "bad-/64filter"}]}', "Malformed CIDR, mask bits must be an integer"),
    ('{"ip": [{"cidr": "xxxx:db8:1234:1a00::/64"}]}', "Nonstandard IP address: xxxx:db8:1234:1a00::"),
    ('{"ip": [{"cidr": ["bad-type"]}]}', "prefix match pattern must be a string"),
    ('{"detail": {"state": [{"anything-but": null}]}}', "Value of anything-but must be an array or single string/number value."),
    ('{"detail": {"state": [{"anything-but": ["stopped", null]}]}}', "Inside anything but list, start|null|boolean is not supported."),
    ('{"detail": {"state": [{"anything-but": ["stopped", 1]}]}}',
     "Inside anything but list, either all values are number or string, mixed type is not supported"),
    ('{"detail": {"FileName": [{"anything-but": {"prefix": ""}}]}}', "Null prefix/suffix not allowed"),
    ('{"detail": {"FileName": [{"anything-but": {"suffix": [null, ".txt"]}}]}}', "prefix/suffix match pattern must be a string"),
    ('{"detail": {"state": [{"anything-but": {"prefix": 123}}]}}', "prefix/suffix match pattern must be a string"),
    ('{"detail": {"state": [{"anything-but": {"equals-ignore-case": 123}}]}}',
     "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."),
    ('{"detail": {"FileName": [{"anything-but": {"prefix": {"equals-ignore-case": "file"}}}]}}',
     "Value of anything-but must be an array or single string/number value."),
    ('{"detail": {"state": [{"anything-but": {"wildcard": [123, "*/dir/*"]}}]}}', "wildcard match pattern must be a string"),
    ('{"key": [{"anything-but": {"wrong-operator": null}}]}', "Unsupported anything-but pattern: wrong-operator"),
    ('{"key": [{"exists": "no"}]}', "exists match pattern must be either true or false."),
    ('{"key": [["value"]]}', "Match value must be String, number, true, false, or null"),
    ('{"key": [{}]}', "Match expression name not found"),
    ('{"$or": [{"a": ["b"]}]}', "There must have at least 2 Objects in $or relationship."),
    ('{"$or": {"a": ["b"]}}', "It must be an Array followed with $or."),
    ('{"$or": [{"a": ["b"]}, "c"]}', "Only JSON object is allowed in array of $or relationship."),
    ('{"$or": [{"numeric": [123]}, {"prefix": ["abc"]}]}', "numeric is Ruler reserved fieldName which cannot be used inside $or."),
])
def test_a_malformed_pattern_is_refused_with_awss_reason(pattern, reason):
    with pytest.raises(EventPatternError) as refused:
        compile_event_pattern(pattern)
    assert refused.value.reason == reason
    assert str(refused.value) == f"Event pattern is not valid. Reason: {reason}"


def test_invalid_json_is_refused():
    for text in ("this is not json", "{'bad': 'quotation'}", '{"a": [NaN]}'):
        with pytest.raises(EventPatternError):
            compile_event_pattern(text)


def test_more_than_1000_or_combinations_are_refused_before_expanding():
    # 10 x 10 x 10 = 1,000 is allowed; one more $or of 2 is not, nor a billion-rule pattern.
    def ors(count, width):
        return {f"k{i}": {"$or": [{f"f{j}": [j]} for j in range(width)]} for i in range(count)}
    assert len(compile_event_pattern(ors(3, 10)).rules) == 1000
    with pytest.raises(EventPatternError):
        compile_event_pattern({**ors(3, 10), "extra": {"$or": [{"a": [1]}, {"b": [2]}]}})
    with pytest.raises(EventPatternError):
        compile_event_pattern(ors(9, 10))


# -- SNS: the "Example filter policies" page -----------------------------------------------------------
ATTRIBUTES = {"customer_interests": {"Type": "String.Array", "Value": '["soccer", "rugby", "hockey"]'},
              "store": {"Type": "String", "Value": "example_corp"},
              "event": {"Type": "String", "Value": "order_placed"},
              "price_usd": {"Type": "Number", "Value": "210.75"}}
BODY = json.dumps({"customer_interests": ["soccer", "rugby", "hockey"], "store": "example_corp",
                   "event": "order_placed", "price_usd": 210.75})
ACCEPTS = {"store": ["example_corp"], "event": [{"anything-but": "order_cancelled"}],
           "customer_interests": ["rugby", "football", "baseball"], "price_usd": [{"numeric": [">=", 100]}]}
REJECTS = {"store": ["example_corp"], "event": ["order_cancelled"], "encrypted": [False],
           "customer_interests": ["basketball", "baseball"]}


@pytest.mark.parametrize("scope", ["MessageAttributes", "MessageBody"])
def test_the_policy_that_accepts_and_the_one_that_rejects_the_example_message(scope):
    accept, reject = compile_filter_policy(ACCEPTS, scope), compile_filter_policy(REJECTS, scope)
    assert accept.matches(BODY, ATTRIBUTES) and not reject.matches(BODY, ATTRIBUTES)


def test_each_scope_reads_its_own_part_of_the_message():
    assert not compile_filter_policy(ACCEPTS, "MessageAttributes").matches(BODY, {})
    assert not compile_filter_policy(ACCEPTS, "MessageBody").matches("not json", ATTRIBUTES)
    assert not compile_filter_policy(ACCEPTS, "MessageBody").matches('["a list"]', ATTRIBUTES)


def attr(kind, value):
    return {"customer_interests": {"Type": kind, "Value": value}}


@pytest.mark.parametrize("attribute, expected", [
    (attr("String", "rugby"), True), (attr("String", "tennis"), True), (attr("String", "baseball"), False),
    (attr("String.Array", '["rugby", "tennis"]'), True), (attr("String.Array", '["baseball"]'), False), ({}, False)])
def test_string_exact_matching(attribute, expected):
    assert compile_filter_policy({"customer_interests": ["rugby", "tennis"]}).matches_attributes(attribute) is expected


@pytest.mark.parametrize("value, expected", [("baseball", True), ("basketball", True), ("rugby", False)])
def test_string_prefix_matching(value, expected):
    policy = compile_filter_policy({"customer_interests": [{"prefix": "bas"}]})
    assert policy.matches_attributes(attr("String", value)) is expected
    body = compile_filter_policy({"customer_interests": [{"prefix": "bas"}]}, "MessageBody")
    assert body.matches_body(json.dumps({"customer_interests": value})) is expected


def test_string_anything_but_matching():
    policy = compile_filter_policy({"customer_interests": [{"anything-but": ["rugby", "tennis"]}]})
    assert policy.matches_attributes(attr("String", "baseball"))
    assert not policy.matches_attributes(attr("String", "rugby"))
    # "For String.Array type attributes, it matches if none of the array elements are listed".
    assert policy.matches_attributes(attr("String.Array", '["baseball", "football"]'))
    assert not policy.matches_attributes(attr("String.Array", '["rugby", "baseball"]'))
    body = compile_filter_policy({"customer_interests": [{"anything-but": ["rugby", "tennis"]}]}, "MessageBody")
    assert body.matches_body('{"customer_interests": ["rugby", "baseball"]}')
    assert not body.matches_body('{"customer_interests": ["rugby"]}')


@pytest.mark.parametrize("value, expected", [("data-entry", True), ("order_number", True), ("order-cancelled", False)])
def test_anything_but_a_prefix_in_sns(value, expected):
    policy = compile_filter_policy({"event": [{"anything-but": {"prefix": "order-"}}]})
    assert policy.matches_attributes({"event": {"Type": "String", "Value": value}}) is expected


@pytest.mark.parametrize("ip, expected", [("10.0.0.0", True), ("10.0.0.255", True), ("10.1.1.0", False)])
def test_ip_address_matching_in_sns(ip, expected):
    policy = compile_filter_policy({"source_ip": [{"cidr": "10.0.0.0/24"}]})
    assert policy.matches_attributes({"source_ip": {"Type": "String", "Value": ip}}) is expected


@pytest.mark.parametrize("value", ["301.5", "3.015e2"])
def test_numeric_exact_matching_in_sns(value):
    policy = compile_filter_policy({"price_usd": [{"numeric": ["=", 301.5]}]})
    assert policy.matches_attributes({"price_usd": {"Type": "Number", "Value": value}})
    assert compile_filter_policy({"price_usd": [{"numeric": ["=", 301.5]}]}, "MessageBody").matches_body(
        '{"price_usd": 3.015e2}')
    # A number in a String attribute is text: numeric matching does not read it.
    assert not policy.matches_attributes({"price_usd": {"Type": "String", "Value": value}})


@pytest.mark.parametrize("value, expected", [("101", True), ("100.1", True), ("100", False), ("500", False)])
def test_numeric_anything_but_in_sns(value, expected):
    policy = compile_filter_policy({"price": [{"anything-but": [100, 500]}]})
    assert policy.matches_attributes({"price": {"Type": "Number", "Value": value}}) is expected


def test_numeric_ranges_in_sns():
    negative = compile_filter_policy({"price_usd": [{"numeric": ["<", 0]}]})
    assert negative.matches_attributes({"price_usd": {"Type": "Number", "Value": "-0.5"}})
    assert not negative.matches_attributes({"price_usd": {"Type": "Number", "Value": "0"}})
    window = compile_filter_policy({"price_usd": [{"numeric": [">", 0, "<=", 150]}]})
    assert window.matches_attributes({"price_usd": {"Type": "Number", "Value": "150"}})
    assert not window.matches_attributes({"price_usd": {"Type": "Number", "Value": "150.01"}})


def test_key_matching_in_sns():
    # "Key matching": exists true / false, on attributes and on the body.
    store = {"store": {"Type": "String", "Value": "fans"},
             "customer_interests": {"Type": "String.Array", "Value": '["baseball", "basketball"]'}}
    only_interests = {"customer_interests": store["customer_interests"]}
    present, absent = compile_filter_policy({"store": [{"exists": True}]}), compile_filter_policy({"store": [{"exists": False}]})
    assert present.matches_attributes(store) and not present.matches_attributes(only_interests)
    assert absent.matches_attributes(only_interests) and not absent.matches_attributes(store)
    body_present = compile_filter_policy({"store": [{"exists": True}]}, "MessageBody")
    assert body_present.matches_body('{"store": "fans", "customer_interests": ["baseball", "basketball"]}')
    assert not body_present.matches_body('{"customer_interests": ["baseball", "basketball"]}')


def test_binary_attributes_are_ignored():
    policy = compile_filter_policy({"blob": [{"exists": True}]})
    assert not policy.matches_attributes({"blob": {"Type": "Binary", "Value": "AAEC"}})
    assert compile_filter_policy({"blob": [{"exists": False}]}).matches_attributes({"blob": {"Type": "Binary",
                                                                                             "Value": "AAEC"}})


def test_and_or_logic_in_sns():
    both = compile_filter_policy({"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 100]}]})
    assert both.matches_attributes({"customer_interests": {"Type": "String", "Value": "rugby"},
                                    "price_usd": {"Type": "Number", "Value": "101"}})
    assert not both.matches_attributes({"customer_interests": {"Type": "String", "Value": "rugby"},
                                        "price_usd": {"Type": "Number", "Value": "99"}})
    either = compile_filter_policy({"source": ["aws.cloudwatch"],
                                    "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]})
    ok = {"source": {"Type": "String", "Value": "aws.cloudwatch"}, "namespace": {"Type": "String", "Value": "AWS/EC2"}}
    assert either.matches_attributes(ok)
    assert not either.matches_attributes({"source": ok["source"]})


def test_suffix_and_equals_ignore_case_in_sns():
    assert compile_filter_policy({"f": [{"suffix": ".png"}]}).matches_attributes({"f": {"Type": "String",
                                                                                       "Value": "a.png"}})
    assert compile_filter_policy({"f": [{"equals-ignore-case": "RUGBY"}]}).matches_attributes(
        {"f": {"Type": "String", "Value": "Rugby"}})


def test_a_nested_policy_reads_a_nested_body():
    policy = compile_filter_policy({"key_a": {"key_b": {"key_c": ["value_one", "value_two"]}}}, "MessageBody")
    assert policy.matches_body('{"key_a": {"key_b": {"key_c": "value_two"}}}')
    assert not policy.matches_body('{"key_a": {"key_c": "value_two"}}')


def test_a_malformed_or_is_an_attribute_named_or_in_sns():
    # "When all of these conditions are not met, "$or" is treated as a regular attribute name".
    policy = compile_filter_policy({"$or": {"metricType": ["MetricType"]}}, "MessageBody")
    assert policy.matches_body('{"$or": {"metricType": "MetricType"}}')
    assert not policy.matches_body('{"metricType": "MetricType"}')
    with pytest.raises(FilterPolicyError) as refused:
        compile_filter_policy({"$or": [{"numeric": 123}, {"prefix": "abc"}]})
    assert refused.value.reason == "FilterPolicy: Value of numeric must be an array."


# -- SNS: the limits --------------------------------------------------------------------------------------
def test_the_combination_examples_of_the_constraints_page():
    rules = compile_filter_policy({"key_a": ["value_one", "value_two", "value_three"], "key_b": ["value_one"],
                                   "key_c": ["value_one", "value_two"]}).rules
    assert patterns.filter_policy_combinations(rules) == 6                      # 3 x 1 x 2
    nested = compile_filter_policy({"key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}},
                                    "key_d": {"key_e": ["value_one", "value_two", "value_three"]}}, "MessageBody")
    assert patterns.filter_policy_combinations(nested.rules) == 72              # 3 x 4 x 2 x 3


def test_or_combinations_add_up_over_the_branches():
    # (3 x 6) + (3 x 4 x 4) + (3 x 4 x 7) = 150: accepted; with 4 sources, 152: refused.
    policy = {"source": ["aws.cloudwatch", "aws.events", "aws.test"],
              "$or": [{"metricName": ["CPUUtilization", "ReadLatency", "v1", "v2", "v3", "v4"]},
                      {"metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
                       "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4, 5, 6, 7]}]}]}
    assert patterns.filter_policy_combinations(compile_filter_policy(policy).rules) == 150
    with pytest.raises(FilterPolicyError, match="too complex"):
        compile_filter_policy({**policy, "source": policy["source"] + ["aws.test2"],
                               "$or": [policy["$or"][0], {**policy["$or"][1], "$or": [
                                   {"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4]}]}]})
    nested = {"$or": [{"metricName": ["CPUUtilization", "ReadLatency", "TestValue"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}],
              "detail": {"scope": ["Service", "Test"],
                         "$or": [{"source": ["aws.cloudwatch"]}, {"type": ["CloudWatch Alarm State Change", "a", "b"]}]}}
    with pytest.raises(FilterPolicyError, match="too complex"):           # 24 + 72 + 16 + 48 = 160
        compile_filter_policy(nested, "MessageBody")


@pytest.mark.parametrize("policy, scope, reason", [
    ({"key": [f"value{i}" for i in range(151)]}, "MessageAttributes", "FilterPolicy: Filter policy is too complex"),
    ({"key1": [f"v{i}" for i in range(100)], "key2": [f"v{i}" for i in range(51)]}, "MessageAttributes",
     "FilterPolicy: Filter policy is too complex"),
    ({f"key{i}": [f"value{i}"] for i in range(1, 7)}, "MessageAttributes",
     "FilterPolicy: Filter policy can not have more than 5 keys"),
    ({f"key_{c}": [f"value_{c}"] for c in "abcdef"}, "MessageBody", "FilterPolicy: Filter policy can not have more than 5 keys"),
    ({"key_a": {"key_b": {"key_c": ["v1", "v2", "v3", "v4"]}}, "key_d": {"key_e": ["v1", "v2", "v3"]},
      "key_f": ["v1", "v2", "v3"]}, "MessageBody", "FilterPolicy: Filter policy is too complex"),       # 216
    ({"key_a": {"key_b": ["v"]}}, "MessageAttributes",
     "Filter policy scope MessageAttributes does not support nested filter policy"),
    ({"key_a": "value_one"}, "MessageBody", 'FilterPolicy: "key_a" must be an object or an array'),
    ({"key": {"suffix": "value"}}, "MessageAttributes", 'FilterPolicy: "suffix" must be an object or an array'),
    ({"key": [["value"]]}, "MessageAttributes", "FilterPolicy: Match value must be String, number, true, false, or null"),
    ({"key": [{"wrong-operator": True}]}, "MessageAttributes", "FilterPolicy: Unrecognized match type wrong-operator"),
    ({"key": [{"suffix": "value", "prefix": "value2"}]}, "MessageAttributes",
     "FilterPolicy: Only one key allowed in match expression"),
    ({"key": []}, "MessageAttributes", "FilterPolicy: Empty arrays are not allowed"),
    ({"key": [{"suffix": None}]}, "MessageAttributes", "FilterPolicy: suffix match pattern must be a string"),
    ({"key": [{"cidr": "bad-filter"}]}, "MessageAttributes", "FilterPolicy: Malformed CIDR, one '/' required"),
    ({"key": [{"numeric": [">", 3, "<", 1]}]}, "MessageAttributes", "FilterPolicy: Bottom must be less than top"),
    ({"key": [{"exists": None}]}, "MessageAttributes", "FilterPolicy: exists match pattern must be either true or false."),
    ({"key": [{"anything-but": {"suffix": "test"}}]}, "MessageAttributes",
     "FilterPolicy: Unsupported anything-but pattern: suffix"),
    ({"key": [{"anything-but": {"exists": False}}]}, "MessageAttributes",
     "FilterPolicy: Unsupported anything-but pattern: exists"),
    ({"key": [{"anything-but": {"prefix": False}}]}, "MessageAttributes", "FilterPolicy: prefix match pattern must be a string"),
    ({"key": ["v"]}, "RandomValue",
     "FilterPolicyScope: Invalid value [RandomValue]. Please use either MessageBody or MessageAttributes"),
])
def test_a_policy_sns_refuses(policy, scope, reason):
    with pytest.raises(FilterPolicyError) as refused:
        compile_filter_policy(json.dumps(policy), scope)
    assert refused.value.reason == reason
    assert refused.value.message("SetSubscriptionAttributes") == f"Invalid parameter: {reason}"
    assert refused.value.message("Subscribe") == f"Invalid parameter: Attributes Reason: {reason}"


def test_policies_within_the_limits_are_accepted():
    compile_filter_policy({f"key{i}": [f"value{i}"] for i in range(5)})
    compile_filter_policy({"key": [f"value{i}" for i in range(150)]})
    compile_filter_policy({"key_a": {"key_b": {"key_c": ["v1", "v2", "v3", "v4"]}}, "key_d": {"key_e": ["v1", "v2", "v3"]}},
                          "MessageBody")
    compile_filter_policy({"key": [{"anything-but": {"prefix": "test-"}}]})
    compile_filter_policy({"key": [{"anything-but": ["test", "test2"]}]})

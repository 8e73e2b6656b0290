"""The intrinsic functions of JSONPath states, with the examples of AWS's documentation.

Source of the examples, unless a test says otherwise:
https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html
(the same examples are in https://states-language.net/spec.html#appendix-b).
"""

import hashlib
import random
import uuid

import pytest

from lambdalab_ext.stepfunctions import errors, intrinsics
from lambdalab_ext.stepfunctions.errors import StatesError
from lambdalab_ext.stepfunctions.intrinsics import evaluate


def fails(text, data=None, match=None):
    with pytest.raises(StatesError) as info:
        evaluate(text, data or {})
    assert info.value.error == errors.INTRINSIC_FAILURE
    if match:
        assert match in info.value.cause
    return info.value


def test_format_with_a_literal_or_a_path_template():
    data = {"name": "Arnav", "template": "Hello, my name is {}."}
    assert evaluate("States.Format('Hello, my name is {}.', $.name)", data) == "Hello, my name is Arnav."
    assert evaluate("States.Format($.template, $.name)", data) == "Hello, my name is Arnav."


# https://states-language.net/spec.html#statesformat
def test_format_of_numbers_and_the_spec_example():
    assert evaluate("States.Format('Your name is {}, we are in the year {}', $.name, 2020)",
                    {"name": "Foo", "zebra": "stripe"}) == "Your name is Foo, we are in the year 2020"
    assert evaluate("States.Format('{} {} {}', 1.5, true, null)", {}) == "1.5 true null"


# https://states-language.net/spec.html#intrinsic-functions (escapes)
def test_escaped_characters_in_strings():
    assert evaluate("States.Format('Welcome to {} {}\\'s playlist.', $.firstName, $.lastName)",
                    {"firstName": "Ana", "lastName": "Lee"}) == "Welcome to Ana Lee's playlist."
    assert evaluate("States.Format('\\{\\} is literal, {} is not', 'this')", {}) == "{} is literal, this is not"
    assert evaluate("States.Format('a \\\\ b')", {}) == "a \\ b"
    fails("States.Format('open \\escape')", match="open escape")


def test_format_needs_one_value_per_placeholder_and_no_objects():
    fails("States.Format('{} and {}', 1)", match="2 placeholder")
    fails("States.Format('{}', $.o)", {"o": {"a": 1}}, match="not an array or object")


def test_string_to_json_and_back():
    assert evaluate("States.StringToJson($.escapedJsonString)", {"escapedJsonString": "{\"foo\": \"bar\"}"}) == {"foo": "bar"}
    # https://states-language.net/spec.html#statesjsontostring
    assert evaluate("States.JsonToString($.someJson)", {"someJson": {"name": "Foo", "year": 2020}}) == \
        '{"name":"Foo","year":2020}'
    fails("States.StringToJson($.s)", {"s": "{not json"}, match="not JSON")


def test_array_builds_from_literals_paths_and_null():
    assert evaluate("States.Array($.Id)", {"Id": 123456}) == [123456]
    # https://states-language.net/spec.html#statesarray
    assert evaluate("States.Array('Foo', 2020, $.someJson, null)", {"someJson": {"random": "abcdefg"}}) == \
        ["Foo", 2020, {"random": "abcdefg"}, None]
    assert evaluate("States.Array()", {}) == []


def test_array_partition():
    assert evaluate("States.ArrayPartition($.inputArray,4)", {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]}) == \
        [[1, 2, 3, 4], [5, 6, 7, 8], [9]]
    fails("States.ArrayPartition($.a, 0)", {"a": [1]}, match="positive integer")
    fails("States.ArrayPartition($.a, 2)", {"a": "abc"}, match="must be an array")


def test_array_contains():
    data = {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "lookingFor": 5}
    assert evaluate("States.ArrayContains($.inputArray, $.lookingFor)", data) is True
    assert evaluate("States.ArrayContains($.inputArray, 10)", data) is False
    assert evaluate("States.ArrayContains($.a, $.o)", {"a": [{"k": [1]}], "o": {"k": [1.0]}}) is True


def test_array_range():
    assert evaluate("States.ArrayRange(1, 9, 2)", {}) == [1, 3, 5, 7, 9]
    assert evaluate("States.ArrayRange(9, 1, -4)", {}) == [9, 5, 1]
    fails("States.ArrayRange(1, 9, 0)", match="must not be zero")
    fails("States.ArrayRange(0, 1000, 1)", match="more than 1000")
    assert len(evaluate("States.ArrayRange(1, 1000, 1)", {})) == 1000
    fails("States.ArrayRange(1.5, 9, 1)", match="integers")


def test_array_get_item_length_unique():
    data = {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "index": 5}
    assert evaluate("States.ArrayGetItem($.inputArray, $.index)", data) == 6
    assert evaluate("States.ArrayLength($.inputArray)", data) == 9
    assert evaluate("States.ArrayUnique($.inputArray)", {"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]}) == [1, 2, 3, 4]
    fails("States.ArrayGetItem($.inputArray, 9)", data, match="out of bounds")


def test_base64_encode_and_decode():
    assert evaluate("States.Base64Encode($.input)", {"input": "Data to encode"}) == "RGF0YSB0byBlbmNvZGU="
    # (The guide prints "Decoded data" as this example's answer; decoding gives back the encoded text.)
    assert evaluate("States.Base64Decode($.base64)", {"base64": "RGF0YSB0byBlbmNvZGU="}) == "Data to encode"
    fails("States.Base64Decode('%%%')", match="not valid Base64")
    fails("States.Base64Encode($.s)", {"s": "x" * 10_001}, match="more than 10000")


@pytest.mark.parametrize("algorithm, name", [("MD5", "md5"), ("SHA-1", "sha1"), ("SHA-256", "sha256"),
                                             ("SHA-384", "sha384"), ("SHA-512", "sha512")])
def test_hash_algorithms(algorithm, name):
    out = evaluate("States.Hash($.Data, $.Algorithm)", {"Data": "input data", "Algorithm": algorithm})
    assert out == hashlib.new(name, b"input data").hexdigest()


def test_hash_of_the_guide_example():
    # The guide prints aaff4a450a104cd177d28d18d7485e8cae074b7 (39 hex digits, one "4" lost);
    # SHA-1 of "input data" is this 40-digit value.
    assert evaluate("States.Hash('input data', 'SHA-1')", {}) == "aaff4a450a104cd177d28d18d74485e8cae074b7"
    fails("States.Hash('x', 'SHA-3')", match="not one of MD5, SHA-1")


def test_json_merge_shallow_and_deep():
    data = {"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}}
    assert evaluate("States.JsonMerge($.json1, $.json2, false)", data) == {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}
    assert evaluate("States.JsonMerge($.json1, $.json2, true)", data) == {"a": {"a1": 1, "a2": 2, "a3": 1, "a4": 2},
                                                                          "b": 2, "c": 3}
    fails("States.JsonMerge($.json1, 3, false)", data, match="JSON objects")


def test_math_random_is_in_range_and_seedable():
    values = {evaluate("States.MathRandom($.start, $.end)", {"start": 1, "end": 999}) for _ in range(50)}
    assert all(1 <= v < 999 for v in values) and len(values) > 1
    assert evaluate("States.MathRandom(1, 999, 42)", {}) == evaluate("States.MathRandom(1, 999, 42)", {})
    assert evaluate("States.MathRandom(1, 999, 42)", {}) == random.Random(42).randrange(1, 999)

    class Seeded:
        rng = random.Random(7)
    first = evaluate("States.MathRandom(0, 1000000)", {}, functions=Seeded)
    Seeded.rng = random.Random(7)
    assert evaluate("States.MathRandom(0, 1000000)", {}, functions=Seeded) == first


def test_math_add():
    assert evaluate("States.MathAdd($.value1, $.step)", {"value1": 111, "step": -1}) == 110
    fails("States.MathAdd(1.5, 1)", match="integers")


def test_string_split():
    assert evaluate("States.StringSplit($.inputString, $.splitter)", {"inputString": "1,2,3,4,5", "splitter": ","}) == \
        ["1", "2", "3", "4", "5"]
    # Each character of the second argument is a delimiter.
    assert evaluate("States.StringSplit('This.is+a,test=string', '.+,=')", {}) == ["This", "is", "a", "test", "string"]


def test_uuid_is_version_4_and_seedable():
    value = evaluate("States.UUID()", {})
    assert uuid.UUID(value).version == 4

    class Seeded:
        rng = random.Random(3)
    first = evaluate("States.UUID()", {}, functions=Seeded)
    Seeded.rng = random.Random(3)
    assert evaluate("States.UUID()", {}, functions=Seeded) == first


def test_nested_intrinsics_of_the_guide():
    # The guide's example formats '{}.{}.{}' with two values, which the spec forbids (one value per
    # placeholder); with '{}.{}' it shows nine nested intrinsics at work.
    arn = "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/myrecipe/1.2.3"
    text = ("States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
            "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit("
            "States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))")
    assert evaluate(text, {"ImageRecipe": {"Arn": arn}}) == "1.2"


def test_parse_errors_name_the_problem():
    with pytest.raises(intrinsics.IntrinsicSyntaxError, match="not supported"):
        intrinsics.parse("States.Nope(1)")
    with pytest.raises(intrinsics.IntrinsicSyntaxError, match="takes 2 argument"):
        intrinsics.parse("States.ArrayGetItem($.a)")
    with pytest.raises(intrinsics.IntrinsicSyntaxError, match="Unterminated string"):
        intrinsics.parse("States.Format('abc)")
    deep = "States.Array(" * 11 + ")" * 11
    with pytest.raises(intrinsics.IntrinsicSyntaxError, match="More than 10 nested"):
        intrinsics.parse(deep)
    assert intrinsics.parse("States.Array(" * 10 + ")" * 10)
    fails("States.Array($.missing)", match="could not be found")

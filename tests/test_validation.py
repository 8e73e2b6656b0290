"""What the lab refuses, and where: every value that lands in an HTTP header or a process environment.

A function's name goes into the ``Lambda-Runtime-Invoked-Function-Arn`` header of every event, its
variables into the sandbox's environment, the ClientContext into the ``Lambda-Runtime-Client-Context``
header. Python's ``^...$`` accepts a trailing newline, so each check must match the whole string;
a bad value is refused at deploy (``InvalidParameterValueException``) or at invoke
(``InvalidRequestContentException``), before any environment starts, on both backends.
"""

import base64
import json
import textwrap

import pytest

from lambdalab_ext import InvalidParameterValueException, InvalidRequestContentException, Lab

FAST = 1769

HELLO = "def handler(event, context):\n    return 'hi'\n"

ECHO_CONTEXT = textwrap.dedent("""
    import os
    def handler(event, context):
        cc = context.client_context
        return {"custom": cc.custom if cc else None, "env": cc.env if cc else None,
                "arn": context.invoked_function_arn,
                "vars": {k: os.environ.get(k) for k in event.get("vars", [])}}
""")


def nothing_started(fn):
    return fn.environments() == {"idle": 0, "provisioned_idle": 0, "busy": 0, "starting": 0}


@pytest.mark.parametrize("name", ["fn\n", "fn\r\nX-Injected: 1", "fn\r", "fn\x00", "fn ", "\nfn", "fn\t",
                                  "x" * 65, "", "fñ"])
def test_function_names_are_whole_strings(name):
    from lambdalab_ext.function import FunctionConfiguration
    with pytest.raises(InvalidParameterValueException, match="Function name"):
        FunctionConfiguration(name, HELLO)


def test_a_name_with_a_newline_is_refused_at_deploy_and_nothing_starts(lab):
    with pytest.raises(InvalidParameterValueException, match="Function name 'fn\\\\n' is not valid"):
        lab.deploy("fn\n", HELLO)
    assert lab.functions == {} and lab.service.functions() == {}
    # The longest valid name travels in the ARN header and back, intact.
    name = "a-" + "b" * 61 + "_"
    fn = lab.deploy(name, ECHO_CONTEXT, memory_mb=FAST)
    assert fn.invoke({}).payload["arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"


@pytest.mark.parametrize("handler", ["handler\n", "handler\r\n", "han dler", "handler\x00", "class", "1st",
                                     "h" * 113])
def test_handler_strings_are_whole_identifiers(lab, handler):
    with pytest.raises(InvalidParameterValueException, match="Handler"):
        lab.deploy("bad-handler", HELLO, handler=handler)
    assert "bad-handler" not in lab.functions


@pytest.mark.parametrize("key", ["A\n", "STAGE\n", "STA\nGE", "STAGE\x00", "A", "_X", "1A", "A-B", "A B", "É1", ""])
def test_environment_variable_names_follow_lambdas_pattern_whole(lab, key):
    """Key pattern [a-zA-Z]([a-zA-Z0-9_])+ (API reference, "Environment"): two characters at least."""
    with pytest.raises(InvalidParameterValueException, match="Environment variable name"):
        lab.deploy("bad-key", HELLO, env={key: "x"})
    assert "bad-key" not in lab.functions


def test_environment_values_that_no_process_can_hold_are_refused_at_deploy(lab):
    # A NUL byte used to pass deploy and fail at the first invoke: a raw Docker 500, or a
    # ValueError from subprocess. It is refused at deploy now, before anything starts.
    for value, message in [("a\x00b", "NUL byte"), ("\x00", "NUL byte"), ("bad \udc80 surrogate", "not valid text")]:
        with pytest.raises(InvalidParameterValueException, match=message):
            lab.deploy("bad-value", HELLO, env={"STAGE": value})
    with pytest.raises(InvalidParameterValueException, match="must be a string"):
        lab.deploy("bad-value", HELLO, env={"STAGE": 1})
    for not_a_mapping in ("STAGE=x", [("STAGE", "x")]):
        with pytest.raises(InvalidParameterValueException, match="mapping"):
            lab.deploy("bad-value", HELLO, env=not_a_mapping)
    assert "bad-value" not in lab.functions and "bad-value" not in lab.service.functions()
    # What a process environment can hold is passed through exactly: newlines, tabs, any Unicode.
    values = {"MULTI": "line one\nline two\r\n", "TABS": "a\tb", "UNI": "héllo €", "EMPTY": "", "AB": "x=y=z"}
    fn = lab.deploy("good-values", ECHO_CONTEXT, memory_mb=FAST, env=values)
    assert fn.invoke({"vars": list(values)}).payload["vars"] == values


def test_source_that_cannot_be_written_as_utf8_is_refused(lab):
    with pytest.raises(InvalidParameterValueException, match="UTF-8"):
        lab.deploy("bad-source", "x = '\udc80'\ndef handler(e, c):\n    return x\n")
    assert "bad-source" not in lab.functions


@pytest.mark.parametrize("kwargs", [{"region": "us-east-1\n"}, {"region": "us-east-1\r\nX: y"}, {"region": "US-EAST-1"},
                                    {"account_id": "123456789012\n"}, {"account_id": "12345678901"},
                                    {"account_id": 123456789012}])
def test_region_and_account_id_land_in_every_arn_so_they_are_whole_strings(kwargs):
    with pytest.raises(ValueError, match="region|account_id"):
        Lab(backend="process", **kwargs)


def test_client_context_is_checked_as_the_invoke_api_checks_it(lab):
    fn = lab.deploy("ctx", ECHO_CONTEXT, memory_mb=FAST)
    # Header-bound text is JSON-escaped: a CR/LF in a value cannot split the header block.
    custom = {"evil": "a\r\nLambda-Runtime-Aws-Request-Id: forged\r\n\r\n", "uni": "é€😀", "nul": "\x00"}
    r = fn.invoke({}, client_context={"custom": custom, "env": {"locale": "fr"}})
    assert r.ok, r.logs
    assert r.payload["custom"] == custom and r.payload["env"] == {"locale": "fr"}
    # As boto3 sends it: base64 text of the JSON.
    encoded = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    assert fn.invoke({}, client_context=encoded).payload["custom"] == {"k": "v"}
    # Up to 3,583 bytes of JSON are accepted, one more is refused.
    def context_of(size):
        shell = json.dumps({"custom": {"pad": ""}}, separators=(",", ":"))
        return {"custom": {"pad": "p" * (size - len(shell))}}
    assert len(json.dumps(context_of(3583), separators=(",", ":"))) == 3583
    assert fn.invoke({}, client_context=context_of(3583)).payload["custom"] == context_of(3583)["custom"]
    with pytest.raises(InvalidRequestContentException, match="3,583"):
        fn.invoke({}, client_context=context_of(3584))
    for bad in (["not", "an", "object"], "not base64!", base64.b64encode(b"[1, 2]").decode(),
                {"custom": {"x": float("nan")}}, {"custom": {1, 2}}):
        with pytest.raises(InvalidRequestContentException, match="Client context must be a valid"):
            fn.invoke({}, client_context=bad)


def test_events_that_are_not_json_are_refused_before_anything_starts(lab):
    fn = lab.deploy("events", HELLO, memory_mb=FAST)
    deep = []
    for _ in range(10_000):
        deep = [deep]
    refused = [
        {"n": float("nan")}, [float("inf")], float("-inf"),                 # NaN and Infinity are not JSON
        b'{"n": NaN}', b"[Infinity]", b"-Infinity",
        deep, b"[" * 10_000 + b"]" * 10_000,                                # parsed here, it overflows the stack
    ]
    for event in refused:
        with pytest.raises(InvalidRequestContentException, match="Could not parse request body into json") as info:
            fn.invoke(event)
        assert isinstance(info.value, ValueError)
    assert nothing_started(fn)
    # What is JSON still goes through, nested too.
    nested = []
    for _ in range(100):
        nested = [nested]
    assert fn.invoke(nested).payload == "hi" and fn.invoke(b"1e308").payload == "hi"

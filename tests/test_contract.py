"""The contract both backends keep: Lambda's behaviour as a learner sees and measures it.

Every test runs on the Docker backend (the real thing) and on the process fallback.
"""

import concurrent.futures
import re
import textwrap
import time

import pytest

from lambdalab_ext import (InvalidParameterValueException, InvalidRequestContentException,
                           RequestEntityTooLargeException, ResourceNotFoundException, TooManyRequestsException,
                           VirtualClock)

FAST = 1769   # one full vCPU: keeps tests quick where memory is not the subject

HELLO = textwrap.dedent("""
    def handler(event, context):
        return {"greeting": f"hello {event['name']}"}
""")

STATE = textwrap.dedent("""
    import os
    counter = 0
    def handler(event, context):
        global counter
        counter += 1
        import tempfile   # /tmp in a container, the environment's own folder in the process backend
        path = os.path.join(tempfile.gettempdir(), "visits")
        with open(path, "a") as f:
            f.write("x")
        with open(path) as f:
            return {"counter": counter, "tmp": len(f.read())}
""")

REPORT_RE = re.compile(
    r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<d>\d+\.\d\d) ms\tBilled Duration: (?P<b>\d+) ms\t"
    r"Memory Size: (?P<m>\d+) MB\tMax Memory Used: (?P<u>\d+) MB(\tInit Duration: (?P<i>\d+\.\d\d) ms)?"
    r"(\tStatus: (?P<s>\w+))?(\tError Type: (?P<e>[\w.]+))?$", re.M)


def invoke_at_once(fn, events):
    """Invoke concurrently; each outcome is the payload, or the throttle's Reason."""
    def one(event):
        try:
            return fn.invoke(event).payload
        except TooManyRequestsException as exc:
            return exc.details["Reason"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(events)) as pool:
        return list(pool.map(one, events))


def report(result):
    match = REPORT_RE.search(result.logs)
    assert match, result.logs
    return match


def test_hello_payload_and_report_lines(lab):
    fn = lab.deploy("hello", HELLO, memory_mb=256, timeout_s=3, env={"STAGE": "dev"})
    r = fn.invoke({"name": "Ada"})
    assert r.payload == {"greeting": "hello Ada"}
    assert r.error is None and r.function_error is None and r.status == "success"
    assert r.cold is True
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", r.request_id)
    lines = r.logs.splitlines()
    assert lines[0].startswith("INIT_START Runtime Version: python:3.")
    assert f"START RequestId: {r.request_id} Version: $LATEST" in lines
    assert f"END RequestId: {r.request_id}" in lines
    m = report(r)
    assert m["id"] == r.request_id
    assert float(m["d"]) == pytest.approx(r.duration_ms, abs=0.005)
    assert int(m["m"]) == 256
    assert m["i"] is not None and float(m["i"]) == pytest.approx(r.init_duration_ms, abs=0.005)
    # Billed duration: ceil to 1 ms, INIT included on an on-demand cold start (rule of 2025-08-01).
    assert r.billed_duration_ms == int(m["b"])
    assert r.billed_duration_ms >= r.duration_ms + r.init_duration_ms
    assert r.billed_duration_ms < r.duration_ms + r.init_duration_ms + 1.0001
    assert 1 <= r.max_memory_used_mb <= 256
    assert r.init_duration_ms > 0 and r.duration_ms > 0 and r.latency_ms >= r.duration_ms


def test_warm_reuse_keeps_globals_and_tmp(lab):
    fn = lab.deploy("state", STATE, memory_mb=FAST)
    first, second, third = (fn.invoke({}) for _ in range(3))
    assert (first.payload, second.payload, third.payload) == (
        {"counter": 1, "tmp": 1}, {"counter": 2, "tmp": 2}, {"counter": 3, "tmp": 3})
    assert [first.cold, second.cold, third.cold] == [True, False, False]
    assert first.environment_id == second.environment_id == third.environment_id
    assert report(second)["i"] is None and second.init_duration_ms is None
    # A warm invoke bills its own duration only.
    assert second.billed_duration_ms == max(1, -(-round(second.duration_ms, 6) // 1))


def test_redeploy_starts_fresh_environments(lab):
    fn = lab.deploy("state", STATE, memory_mb=FAST)
    assert fn.invoke({}).payload["counter"] == 1
    assert fn.invoke({}).payload["counter"] == 2
    fn.update(memory_mb=FAST + 1)
    r = fn.invoke({})
    assert r.cold and r.payload["counter"] == 1 and r.memory_size_mb == FAST + 1


def test_reserved_environment_variables_and_context(lab):
    source = textwrap.dedent("""
        import os, time
        def handler(event, context):
            first = context.get_remaining_time_in_millis()
            time.sleep(0.3)
            second = context.get_remaining_time_in_millis()
            keys = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
                    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "_HANDLER", "LAMBDA_TASK_ROOT",
                    "AWS_LAMBDA_RUNTIME_API", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
                    "AWS_LAMBDA_INITIALIZATION_TYPE", "TZ", "LAMBDA_RUNTIME_DIR", "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "_X_AMZN_TRACE_ID", "STAGE"]
            return {
                "env": {k: os.environ.get(k) for k in keys},
                "first": first, "second": second,
                "request_id": context.aws_request_id,
                "arn": context.invoked_function_arn,
                "memory": context.memory_limit_in_mb,
                "name": context.function_name, "version": context.function_version,
                "group": context.log_group_name, "stream": context.log_stream_name,
                "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
                "client": context.client_context.custom if context.client_context else None,
                "app": context.client_context.client.app_title if context.client_context else None,
            }
    """)
    fn = lab.deploy("ctx", source, memory_mb=FAST, timeout_s=7, env={"STAGE": "dev"})
    r = fn.invoke({}, client_context={"custom": {"k": "v"}, "client": {"app_title": "lab"}})
    p = r.payload
    env = p["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "ctx" and env["STAGE"] == "dev"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(FAST)
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/ctx"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == r.log_stream_name == p["stream"]
    assert env["_HANDLER"] == "lambda_function.handler"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"].startswith("AWS_Lambda_python3")
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["TZ"] == ":UTC"
    assert re.fullmatch(r"[\d.]+:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert all(env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"))
    if lab.backend.name == "docker":
        assert env["LAMBDA_TASK_ROOT"] == "/var/task" and env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    # The deadline is real: the remaining time counts down with the wall clock.
    assert 6000 < p["first"] <= 7000
    assert 250 <= p["first"] - p["second"] <= 1500
    assert p["request_id"] == r.request_id
    assert p["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:ctx" == fn.arn
    assert p["memory"] == str(FAST)   # a string, as awslambdaric gives it
    assert (p["name"], p["version"], p["group"]) == ("ctx", "$LATEST", "/aws/lambda/ctx")
    assert p["identity"] == [None, None]
    assert p["client"] == {"k": "v"} and p["app"] == "lab"


def test_function_output_and_logging_in_order(lab):
    source = textwrap.dedent("""
        import logging
        print("loading")
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        def handler(event, context):
            print("one")
            logger.info("two")
            print("three", end="")
            return None
    """)
    fn = lab.deploy("logs", source, memory_mb=FAST)
    r = fn.invoke({})
    assert r.payload is None and r.ok
    lines = r.logs.splitlines()
    start = lines.index(f"START RequestId: {r.request_id} Version: $LATEST")
    assert lines.index("loading") < start
    assert lines[start + 1] == "one"
    assert re.fullmatch(rf"\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{r.request_id}\ttwo", lines[start + 2])
    assert lines[start + 3] == "three"
    assert lines[start + 4] == f"END RequestId: {r.request_id}"
    assert r.output == "loading\none\n" + lines[start + 2] + "\nthree\n"
    streamed = []
    r2 = fn.invoke({}, on_log=streamed.append)
    assert streamed[0] == f"START RequestId: {r2.request_id} Version: $LATEST"
    assert "one" in streamed and "three" in streamed
    assert streamed[-1].startswith("REPORT RequestId:")


def test_handler_exception(lab):
    source = textwrap.dedent("""
        def helper():
            raise ValueError("bad input: 42")
        def handler(event, context):
            helper()
    """)
    fn = lab.deploy("raises", source, memory_mb=FAST)
    r = fn.invoke({})
    assert r.function_error == "Unhandled" and r.status == "error"
    assert r.error["errorType"] == "ValueError"
    assert r.error["errorMessage"] == "bad input: 42"
    trace = r.error["stackTrace"]
    assert len(trace) == 2 and "in handler" in trace[0] and "in helper" in trace[1]
    assert 'raise ValueError("bad input: 42")' in trace[1]
    assert r.payload == r.error
    assert "[ERROR] ValueError: bad input: 42" in r.logs
    assert report(r)["s"] is None   # a handler's exception is not a platform failure
    again = fn.invoke({})           # the environment survives its function's errors
    assert not again.cold and again.error["errorType"] == "ValueError"


@pytest.mark.parametrize("source, error_type, message", [
    ("def handler(event, context:\n    pass\n", "Runtime.UserCodeSyntaxError",
     "Syntax error in module 'lambda_function'"),
    ("import no_such_module_here\ndef handler(e, c):\n    pass\n", "Runtime.ImportModuleError",
     "Unable to import module 'lambda_function': No module named 'no_such_module_here'"),
    ("raise RuntimeError('at import')\n", "RuntimeError", "at import"),
])
def test_init_errors(lab, source, error_type, message):
    fn = lab.deploy("broken", source, memory_mb=FAST)
    r = fn.invoke({})
    assert r.function_error == "Unhandled"
    assert r.error["errorType"] == error_type
    assert message in r.error["errorMessage"]
    assert re.search(rf"^INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\tError Type: {re.escape(error_type)}$",
                     r.logs, re.M)
    assert re.search(rf"^REPORT RequestId: {r.request_id}\t.*\tStatus: error\tError Type: {re.escape(error_type)}$",
                     r.logs, re.M)
    assert fn.environments() == {"idle": 0, "provisioned_idle": 0, "busy": 0, "starting": 0}
    # Fixing the code fixes the function; nothing else was disturbed.
    fn.update(source=HELLO)
    assert fn.invoke({"name": "x"}).payload == {"greeting": "hello x"}


def test_handler_not_found_is_reported_per_invoke(lab):
    fn = lab.deploy("nohandler", "def other(event, context):\n    return 1\n", memory_mb=FAST)
    r = fn.invoke({})
    assert r.error["errorType"] == "Runtime.HandlerNotFound"
    assert r.error["errorMessage"] == "Handler 'handler' missing on module 'lambda_function'"
    assert not fn.invoke({}).cold


@pytest.mark.parametrize("body, reason", [
    ("import sys\n    sys.exit(3)", "Runtime exited with error: exit status 3"),
    ("import os\n    os._exit(0)", "Runtime exited without providing a reason"),
    ("import os, signal\n    os.kill(os.getpid(), signal.SIGSEGV)", "Runtime exited with error: signal: segmentation fault"),
])
def test_runtime_exit(lab, body, reason):
    fn = lab.deploy("exits", f"def handler(event, context):\n    {body}\n", memory_mb=FAST)
    r = fn.invoke({})
    assert r.error["errorType"] == "Runtime.ExitError"
    assert r.error["errorMessage"] == f"RequestId: {r.request_id} Error: {reason}"
    m = report(r)
    assert (m["s"], m["e"]) == ("error", "Runtime.ExitError")
    after = fn.invoke({})   # the dead environment was discarded: a new one starts
    assert after.cold and after.error["errorType"] == "Runtime.ExitError"


def test_timeout_kills_and_discards_the_environment(lab):
    source = textwrap.dedent("""
        import time
        calls = 0
        def handler(event, context):
            global calls
            calls += 1
            if event.get("loop"):
                print("looping")
                while True:
                    pass
            return calls
    """)
    fn = lab.deploy("slow", source, memory_mb=FAST, timeout_s=1)
    assert fn.invoke({}).payload == 1
    r = fn.invoke({"loop": True})
    assert r.status == "timeout" and r.function_error == "Unhandled"
    assert r.error == {"errorType": "Sandbox.Timedout",
                       "errorMessage": f"RequestId: {r.request_id} Error: Task timed out after 1.00 seconds"}
    assert re.search(rf"^\d{{4}}-\d\d-\d\dT[\d:.]+Z {r.request_id} Task timed out after 1.00 seconds$", r.logs, re.M)
    assert "looping" in r.logs
    m = report(r)
    assert m["s"] == "timeout" and m["d"] == "1000.00" and m["b"] == "1000"
    again = fn.invoke({})
    assert again.cold and again.payload == 1   # globals were lost with the environment


def test_marshal_error(lab):
    fn = lab.deploy("marshal", "def handler(event, context):\n    return {1, 2}\n", memory_mb=FAST)
    r = fn.invoke({})
    assert r.error["errorType"] == "Runtime.MarshalError"
    assert r.error["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"


def test_payload_limits_and_bad_events(lab):
    fn = lab.deploy("echo", "def handler(event, context):\n    return len(event)\n", memory_mb=FAST)
    with pytest.raises(RequestEntityTooLargeException, match="6291456 bytes"):
        fn.invoke("x" * 6_291_460)
    with pytest.raises(InvalidRequestContentException):
        fn.invoke({"not": {1, 2}})
    with pytest.raises(InvalidRequestContentException):
        fn.invoke(b"{not json")
    assert fn.invoke("abc").payload == 3          # a Python str is the event itself
    assert fn.invoke(b'"abcd"').payload == 4      # bytes are the JSON payload, as the Invoke API takes it
    big = fn.invoke({"data": "y" * 6_000_000})   # under the limit: delivered whole
    assert big.payload == 1
    large = lab.deploy("large", "def handler(event, context):\n    return 'z' * 7_000_000\n", memory_mb=FAST)
    r = large.invoke({})
    assert r.error["errorType"] == "Function.ResponseSizeTooLarge"
    with pytest.raises(ResourceNotFoundException):
        lab.invoke("no-such-function", {})


@pytest.mark.parametrize("kwargs, message", [
    ({"memory_mb": 127}, "MemorySize 127 MB is out of range"),
    ({"memory_mb": 10_241}, "MemorySize 10241 MB is out of range"),
    ({"timeout_s": 0}, "Timeout 0 s is out of range"),
    ({"timeout_s": 901}, "Timeout 901 s is out of range"),
    ({"ephemeral_storage_mb": 511}, "EphemeralStorage 511 MB is out of range"),
    ({"env": {"AWS_REGION": "eu-west-1"}}, "Reserved keys used in this request: AWS_REGION"),
    ({"env": {"1BAD": "x"}}, "is not valid"),
    ({"env": {"BIG": "x" * 5000}}, "over Lambda's 4 KB limit"),
    ({"handler": "not a name"}, "is not a Python function name"),
])
def test_invalid_configuration_is_refused_before_anything_starts(lab, kwargs, message):
    with pytest.raises(InvalidParameterValueException, match=re.escape(message)) as info:
        lab.deploy("bad-config", HELLO, **kwargs)
    assert isinstance(info.value, ValueError)
    assert "bad-config" not in lab.functions
    with pytest.raises(ValueError, match="Function name"):
        lab.deploy("bad name!", HELLO)


def test_fifty_concurrent_invocations(lab):
    source = textwrap.dedent("""
        import time
        def handler(event, context):
            time.sleep(0.5)
            return {"n": event["n"], "id": context.aws_request_id}
    """)
    fn = lab.deploy("fanout", source, memory_mb=512, timeout_s=60)
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda n: fn.invoke({"n": n}), range(50)))
    assert [r.payload["n"] for r in results] == list(range(50))
    assert all(r.payload["id"] == r.request_id for r in results)
    assert len({r.request_id for r in results}) == 50
    # One request per environment at a time: invocations sharing an environment never overlap.
    by_env = {}
    for r in results:
        by_env.setdefault(r.environment_id, []).append((r.start_time, r.end_time))
    for spans in by_env.values():
        spans.sort()
        assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))
    assert sum(r.cold for r in results) == len(by_env) > 1
    assert sum(fn.environments().values()) == len(by_env)


def test_reserved_concurrency_throttles_and_zero_blocks(lab):
    source = "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return 'ok'\n"
    fn = lab.deploy("capped", source, memory_mb=FAST, timeout_s=30, reserved_concurrency=2)
    outcomes = invoke_at_once(fn, [{"sleep": 2}] * 4)
    assert sorted(outcomes) == ["ReservedFunctionConcurrentInvocationLimitExceeded"] * 2 + ["ok"] * 2
    blocked = lab.deploy("blocked", source, reserved_concurrency=0)
    with pytest.raises(TooManyRequestsException) as info:
        blocked.invoke({})
    assert info.value.status_code == 429 and info.value.message == "Rate Exceeded."
    with pytest.raises(InvalidParameterValueException, match="below its minimum value of \\[100\\]"):
        lab.deploy("greedy", source, reserved_concurrency=950)


@pytest.mark.parametrize("kind", ["docker", "process"])
def test_account_concurrency_limit(make_lab, kind):
    lab = make_lab(kind, account_concurrency=2)
    source = "import time\ndef handler(event, context):\n    time.sleep(2)\n    return 'ok'\n"
    fn = lab.deploy("busy", source, memory_mb=FAST, timeout_s=30)
    outcomes = invoke_at_once(fn, [{}] * 3)
    assert sorted(outcomes) == ["ConcurrentInvocationLimitExceeded", "ok", "ok"]
    assert lab.service.throttles == 1


@pytest.mark.parametrize("kind", ["docker", "process"])
def test_keep_alive_reclaims_idle_environments_on_the_lab_clock(make_lab, kind):
    clock = VirtualClock()
    lab = make_lab(kind, clock=clock, keep_alive_s=600)
    fn = lab.deploy("sparse", STATE, memory_mb=FAST)
    assert fn.invoke({}).cold
    clock.advance(599)
    assert not fn.invoke({}).cold          # within the keep-alive: warm
    clock.advance(600)                     # idle for 600 s: reclaimed
    assert fn.environments()["idle"] == 0
    r = fn.invoke({})
    assert r.cold and r.payload["counter"] == 1


@pytest.mark.parametrize("kind", ["docker", "process"])
def test_provisioned_concurrency_has_no_cold_start(make_lab, kind):
    lab = make_lab(kind)
    source = textwrap.dedent("""
        import os, time
        def handler(event, context):
            time.sleep(event.get("sleep", 0))
            return os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]
    """)
    fn = lab.deploy("warm", source, memory_mb=FAST, timeout_s=30, provisioned_concurrency=2)
    assert fn.environments()["provisioned_idle"] == 2
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: fn.invoke({"sleep": 1.5}), range(3)))
    by_type = sorted((r.payload, r.cold) for r in results)
    # Two requests land on provisioned environments (no cold start); the third spills over on demand.
    assert by_type == [("on-demand", True), ("provisioned-concurrency", False), ("provisioned-concurrency", False)]
    assert all(report(r)["i"] is None for r in results if not r.cold)


def test_awslambdaric_works_unchanged(lab):
    """AWS's own runtime interface client against our Runtime API: the proof of protocol fidelity."""
    source = textwrap.dedent("""
        import os, sys
        print("init by", "awslambdaric" if "awslambdaric" in sys.modules else "?")
        def handler(event, context):
            if event.get("fail"):
                raise KeyError("missing")
            return {"got": event, "id": context.aws_request_id, "left": context.get_remaining_time_in_millis(),
                    "arn": context.invoked_function_arn, "trace": os.environ.get("_X_AMZN_TRACE_ID", "")}
    """)
    fn = lab.deploy("ric", source, memory_mb=FAST, timeout_s=5, runtime_client="awslambdaric")
    r = fn.invoke({"a": 1})
    assert r.ok, r.logs
    assert r.payload["got"] == {"a": 1} and r.payload["id"] == r.request_id
    assert 0 < r.payload["left"] <= 5000
    assert r.payload["arn"] == fn.arn and r.payload["trace"].startswith("Root=1-")
    assert "init by awslambdaric" in r.logs
    warm = fn.invoke({"fail": True})
    assert not warm.cold
    assert warm.error["errorType"] == "KeyError" and warm.error["errorMessage"] == "'missing'"
    broken = lab.deploy("ric-broken", "import nope_nope\n", memory_mb=FAST, runtime_client="awslambdaric")
    r = broken.invoke({})
    assert r.error["errorType"] == "Runtime.ImportModuleError"


def test_init_over_10_seconds_is_retried_inside_the_first_invocation(lab):
    """A suppressed init ("Understanding the Lambda execution environment lifecycle"): INIT is cut
    at 10 s and run again under the timeout."""
    source = textwrap.dedent("""
        import time
        print("loading")
        time.sleep(11)
        def handler(event, context):
            return context.get_remaining_time_in_millis()
    """)
    fn = lab.deploy("slow-init", source, memory_mb=FAST, timeout_s=15)
    r = fn.invoke({})
    assert r.ok and r.cold, r.logs
    assert re.search(r"^INIT_REPORT Init Duration: 10000\.00 ms\tPhase: init\tStatus: timeout$", r.logs, re.M)
    lines = r.logs.splitlines()
    assert lines.index("loading") < lines.index(f"START RequestId: {r.request_id} Version: $LATEST")
    assert lines.count("loading") == 2                # INIT ran twice: cut short, then again
    m = report(r)
    assert m["i"] is None and r.init_duration_ms is None
    assert 11_000 <= r.duration_ms < 15_000            # the re-init counts as this invocation's time
    assert 0 < r.payload < 15_000 - 11_000              # and against its timeout
    assert not fn.invoke({}).cold                       # the environment is warm afterwards
    too_slow = lab.deploy("too-slow-init", source.replace("sleep(11)", "sleep(30)"), memory_mb=FAST, timeout_s=2)
    r = too_slow.invoke({})
    assert r.status == "timeout" and r.error["errorType"] == "Sandbox.Timedout"
    assert report(r)["s"] == "timeout"


@pytest.mark.parametrize("kind", ["docker", "process"])
def test_a_lost_provisioned_environment_is_replaced_on_the_lab_clock(make_lab, kind):
    """Lambda keeps the provisioned level: an environment that dies is replaced. The replacement is
    scheduled on the lab clock: with a virtual clock it starts when the clock is next advanced."""
    clock = VirtualClock()
    lab = make_lab(kind, clock=clock)
    source = textwrap.dedent("""
        import os
        def handler(event, context):
            if event.get("die"):
                os._exit(3)
            return os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]
    """)
    fn = lab.deploy("kept", source, memory_mb=FAST, provisioned_concurrency=1)
    assert fn.environments()["provisioned_idle"] == 1
    died = fn.invoke({"die": True})
    assert died.error["errorType"] == "Runtime.ExitError" and not died.cold
    assert fn.environments()["provisioned_idle"] == 0
    assert [c.name for c in clock.pending()] == ["replace provisioned environment of kept"]
    clock.advance(0)
    assert _eventually(lambda: fn.environments()["provisioned_idle"] == 1)
    r = fn.invoke({})
    assert r.payload == "provisioned-concurrency" and not r.cold


def _eventually(check, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()

"""The %%lambda and %lambda magics, in a real IPython shell and in a real Jupyter kernel."""

import io
import re
import signal
import textwrap
import threading
import time
from contextlib import redirect_stdout

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from lambdalab_ext import magic_args
from lambdalab_ext.magic import LIVE_OUTPUT_BYTES, InvocationStillRunning, current
from lambdalab_ext.runtime.docker import LABEL, docker_client
from lambdalab_ext.runtime.logs import HEAD_BYTES, TAIL_BYTES

HELLO = "def handler(event, context):\n    print('working on', event['name'])\n    return {'greeting': 'hello ' + event['name']}\n"


class RaisingShell(InteractiveShell):
    """A shell whose run_cell raises what the cell raised, so tests see errors (as jupysql's does)."""

    def run_cell(self, raw_cell, *args, **kwargs):
        result = super().run_cell(raw_cell, *args, **kwargs)
        result.raise_error()
        return result


@pytest.fixture
def shell(request):
    ip = RaisingShell.instance()
    ip.run_line_magic("load_ext", "lambdalab_ext")
    backend = getattr(request, "param", "process")
    if backend == "docker":
        request.getfixturevalue("runtime_image")
    ip.run_line_magic("config", f'Lambda.backend = "{backend}"')
    yield ip
    ip.run_line_magic("lambda", "cleanup")
    ip.user_ns.pop("lab", None)
    ip.run_line_magic("unload_ext", "lambdalab_ext")


def test_parse_cell_options_and_handler():
    command = magic_args.parse_cell("hello --memory 256 --timeout 3 --env STAGE=dev --env A=b=c "
                                    "--event '{\"name\": \"Ada\"}' --out r", HELLO)
    assert command.name == "hello" and command.handler == "handler"
    assert command.config == {"memory_mb": 256, "timeout_s": 3, "env": {"STAGE": "dev", "A": "b=c"}}
    assert command.options.out == "r"
    assert magic_args.resolve_event(command.options, {}) == {"name": "Ada"}
    assert magic_args.find_handler("def lambda_handler(e, c):\n    pass\n") == "lambda_handler"
    assert magic_args.find_handler("def go(e, c):\n    pass\n", "go") == "go"
    assert magic_args.find_handler("def broken(:\n") == "handler"   # Lambda reports the syntax error


def test_parse_cell_package_and_role_options():
    command = magic_args.parse_cell('thumbs --requirements "pillow==11.0.0 requests" --layer shared:2 '
                                    "--layer arn:aws:lambda:us-east-1:123456789012:layer:fonts:1 --role thumbnailer",
                                    HELLO)
    assert command.config == {"requirements": "pillow==11.0.0 requests",
                              "layers": ["shared:2", "arn:aws:lambda:us-east-1:123456789012:layer:fonts:1"],
                              "role": "thumbnailer"}


@pytest.mark.parametrize("line, source, message", [
    ("", HELLO, "the following arguments are required: NAME"),
    ("hello --memory lots", HELLO, "invalid int value: 'lots'"),
    ("hello --env NOEQUALS", HELLO, "expected KEY=VALUE"),
    ("hello --bogus 1", HELLO, "unrecognized arguments: --bogus 1"),
    ("hello", "def other(event, context):\n    pass\n", "the cell defines no handler"),
    ("hello --handler nope", HELLO, "defines no function named 'nope'"),
    ("hello --event '{\"a\": 1", HELLO, "cannot read the options"),
    ("hello --out 1notanidentifier", HELLO, "argument --out: '1notanidentifier' is not a Python variable name"),
    ("hello --out r.x", HELLO, "argument --out: 'r.x' is not a Python variable name"),
    ("hello --out class", HELLO, "argument --out: 'class' is a Python keyword"),
    ("hello --event-var 2x", HELLO, "argument --event-var: '2x' is not a Python variable name"),
    ("hello --event-var None", HELLO, "argument --event-var: 'None' is a Python keyword"),
])
def test_usage_errors(line, source, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        magic_args.parse_cell(line, source)


def test_event_sources():
    options = magic_args.cell_parser().parse_args(["f", "--event", "apigateway:rest"])
    event = magic_args.resolve_event(options, {})
    assert event["httpMethod"] == "POST" and event["requestContext"]["stage"] == "prod"
    again = magic_args.resolve_event(options, {})
    assert again["requestContext"]["requestId"] != event["requestContext"]["requestId"]
    assert magic_args.resolve_event(magic_args.cell_parser().parse_args(["f", "--event", "empty"]), {}) == {}
    http = magic_args.resolve_event(magic_args.cell_parser().parse_args(["f", "--event", "apigateway:http"]), {})
    assert http["version"] == "2.0" and http["requestContext"]["http"]["method"] == "POST"
    options = magic_args.cell_parser().parse_args(["f", "--event-var", "evt"])
    assert magic_args.resolve_event(options, {"evt": [1, 2]}) == [1, 2]
    with pytest.raises(UsageError, match="no notebook variable named 'evt'"):
        magic_args.resolve_event(options, {})
    with pytest.raises(UsageError, match="neither JSON nor a template"):
        magic_args.resolve_event(magic_args.cell_parser().parse_args(["f", "--event", "s3:nothing"]), {})


@pytest.mark.parametrize("shell", ["process", "docker"], indirect=True)
def test_cell_deploys_invokes_and_stores(shell):
    with capture_output() as captured:
        result = shell.run_cell_magic("lambda", "hello --memory 256 --event '{\"name\": \"Ada\"}' --out r", HELLO)
    assert result.payload == {"greeting": "hello Ada"}
    assert shell.user_ns["r"] is result
    assert "working on Ada" in captured.stdout            # the function's output, as it ran
    assert "REPORT RequestId" not in captured.stdout      # the platform lines are in the result view
    from lambdalab_ext import current_lab, last_result
    assert last_result() is result
    lab = shell.user_ns["lab"]
    assert current_lab() is lab and lab.backend.name == shell.config.Lambda.backend
    again = lab.functions["hello"].invoke({"name": "Bob"})
    assert again.payload == {"greeting": "hello Bob"} and not again.cold
    html = result._repr_html_()
    assert 'class="lambdalab-result"' in html and "cold start" in html and "hello Ada" in html
    assert "Max memory used" in html and "Billed duration" in html
    text = str(result)
    assert text.startswith("hello · cold start · success") and "REPORT RequestId" in text


def test_deploy_only_then_line_commands(shell):
    with capture_output() as captured:
        assert shell.run_cell_magic("lambda", "greeter --timeout 5", HELLO) is None
    assert "λ greeter deployed: handler lambda_function.handler, 128 MB, timeout 5 s." in captured.stdout
    shell.user_ns["evt"] = {"name": "Grace"}
    with capture_output() as captured:
        result = shell.run_line_magic("lambda", "invoke greeter --event-var evt")
    assert result.payload == {"greeting": "hello Grace"}
    with capture_output() as captured:
        shell.run_line_magic("lambda", "list")
    assert captured.stdout.splitlines()[0].split() == ["function", "memory", "timeout", "idle", "busy", "provisioned"]
    assert captured.stdout.splitlines()[1].split()[:3] == ["greeter", "128", "MB"]
    with capture_output() as captured:
        shell.run_line_magic("lambda", "logs greeter")
    assert "working on Grace" in captured.stdout and f"REPORT RequestId: {result.request_id}" in captured.stdout
    with capture_output() as captured:
        shell.run_line_magic("lambda", "config greeter --memory 512 --env STAGE=prod")
    assert "memory 512 MB" in captured.stdout and "'STAGE': 'prod'" in captured.stdout
    assert shell.user_ns["lab"].functions["greeter"].config.memory_mb == 512
    with pytest.raises(UsageError, match="MemorySize 64 MB is out of range"):
        shell.run_line_magic("lambda", "config greeter --memory 64")
    with capture_output() as captured:
        shell.run_line_magic("lambda", "backend")
    assert "backend: process" in captured.stdout and "WEAKER" in captured.stdout
    with capture_output() as captured:
        shell.run_line_magic("lambda", "delete greeter")
    assert "greeter" not in shell.user_ns["lab"].functions
    with pytest.raises(UsageError, match="no function named 'greeter'"):
        shell.run_line_magic("lambda", "invoke greeter")
    with capture_output() as captured:
        shell.run_line_magic("lambda", "help")
    assert "%%lambda" in captured.stdout and "invoke" in captured.stdout and "--event-var" in captured.stdout


def test_function_errors_show_or_raise(shell):
    source = "def handler(event, context):\n    return 1 / event['b']\n"
    with capture_output():
        result = shell.run_cell_magic("lambda", "div --event '{\"b\": 0}'", source)
    assert result.error["errorType"] == "ZeroDivisionError" and result.status == "error"
    from lambdalab_ext.magic import LambdaFunctionError
    with capture_output(), pytest.raises(LambdaFunctionError) as info:
        shell.run_line_magic("lambda", "invoke div --event '{\"b\": 0}' --raise")
    rendered = info.value._render_traceback_()
    assert rendered[0].startswith("Lambda function 'div' failed")
    assert "in handler" in "\n".join(rendered) and rendered[-1] == "ZeroDivisionError: division by zero"
    shell.run_line_magic("config", "Lambda.raise_on_error = True")
    try:
        with capture_output(), pytest.raises(LambdaFunctionError):
            shell.run_line_magic("lambda", "invoke div --event '{\"b\": 0}'")
        with capture_output():
            shown = shell.run_line_magic("lambda", "invoke div --event '{\"b\": 0}' --no-raise")
        assert shown.error["errorType"] == "ZeroDivisionError"
    finally:
        shell.run_line_magic("config", "Lambda.raise_on_error = False")


def test_configuration_traits(shell):
    shell.run_line_magic("config", "Lambda.default_memory = 512")
    shell.run_line_magic("config", "Lambda.default_timeout = 10")
    try:
        with capture_output():
            shell.run_cell_magic("lambda", "configured", HELLO)
        config = shell.user_ns["lab"].functions["configured"].config
        assert (config.memory_mb, config.timeout_s) == (512, 10)
        with pytest.raises(UsageError, match="Timeout 0 s is out of range"):
            shell.run_cell_magic("lambda", "bad --timeout 0", HELLO)
    finally:
        shell.run_line_magic("config", "Lambda.default_memory = 128")
        shell.run_line_magic("config", "Lambda.default_timeout = 3")


def test_a_bad_variable_name_is_refused_before_anything_is_deployed(shell):
    for line in ("bad --out 1notanidentifier --event '{}'", "bad --out lambda --event '{}'"):
        with pytest.raises(UsageError, match="is not a Python variable name|is a Python keyword"):
            shell.run_cell_magic("lambda", line, HELLO)
    assert "lab" not in shell.user_ns or "bad" not in shell.user_ns["lab"].functions
    with capture_output():
        shell.run_cell_magic("lambda", "bad", HELLO)
    with pytest.raises(UsageError, match="'x-y' is not a Python variable name"):
        shell.run_line_magic("lambda", "invoke bad --event-var x-y")


# -- live output: linear and bounded ---------------------------------------------------------------
LONG_LINE = """
import sys
CHUNK = "x" * 65536
def handler(event, context):
    for _ in range(event["mb"] * 16):
        sys.stdout.write(CHUNK)
    sys.stdout.flush()
    return event["mb"]
"""


def test_a_50_mb_line_without_newline_streams_bounded(shell):
    """Before the fix the magic re-joined the unfinished line on every read (quadratic: 100 MB took
    97.6 s, against 0.3 s through invoke()) and printed all of it into the cell. The timing lives in
    bench/bench_magic_stream.py; here, what reaches the cell and the log is bounded."""
    with capture_output() as captured:
        result = shell.run_cell_magic("lambda", "longline --memory 256 --timeout 120 --event '{\"mb\": 50}'",
                                      LONG_LINE)
    assert result.payload == 50 and result.ok
    shown = captured.stdout
    assert len(shown.encode()) < LIVE_OUTPUT_BYTES + 1024
    assert shown.startswith("x" * 1000) and "... lambdalab: output cut here" in shown
    # What was not shown, counted: cut first by the collector (LINE_BYTES), then by the magic.
    tally = re.search(r"\.\.\. lambdalab: ([\d.,]+) MB more \(1 line\) not shown live", shown)
    assert tally and float(tally.group(1)) == pytest.approx(50 - LIVE_OUTPUT_BYTES / 2**20, abs=0.1)
    assert "%lambda logs longline or result.logs" in shown
    dropped = 50 * 2**20 - HEAD_BYTES - TAIL_BYTES
    assert f"[{dropped:,} bytes of output dropped by lambdalab]" in result.logs
    assert len(result.logs) < HEAD_BYTES + TAIL_BYTES + 4096 and result.report


FLOOD = """
def handler(event, context):
    for i in range(event["lines"]):
        print(f"line {i:06d} " + "x" * 90)
    return event["lines"]
"""


def test_a_print_flood_is_cut_in_the_cell_and_kept_in_the_log(shell):
    """A print flood put 444 MB into a cell in 5 s: now the cell shows at most LIVE_OUTPUT_BYTES, says
    where it was cut and how much followed, and the log keeps its head and tail."""
    lines = 100_000     # 10.3 MB
    with capture_output() as captured:
        result = shell.run_cell_magic("lambda", f"flood --timeout 60 --event '{{\"lines\": {lines}}}'", FLOOD)
    assert result.payload == lines
    shown = captured.stdout
    assert len(shown.encode()) < LIVE_OUTPUT_BYTES + 1024
    whole = [line for line in shown.splitlines() if re.fullmatch(r"line \d{6} x{90}", line)]
    assert whole[0].startswith("line 000000") and "line 099999" not in shown
    tally = re.search(r"\.\.\. lambdalab: ([\d.,]+) MB more \(([\d,]+) lines\) not shown live", shown)
    assert tally, shown[-500:]
    assert len(whole) + int(tally.group(2).replace(",", "")) == lines   # every line shown or counted
    assert shown.index("output cut here") < shown.index(tally.group(0))
    assert "line 000000" in result.logs and "line 099999" in result.logs and "bytes of output dropped" in result.logs
    with capture_output() as captured:
        shell.run_line_magic("lambda", "logs flood")
    assert "line 099999" in captured.stdout and f"REPORT RequestId: {result.request_id}" in captured.stdout
    with capture_output() as captured:   # a small output is shown whole, with no marker
        small = shell.run_line_magic("lambda", "invoke flood --event '{\"lines\": 3}'")
    assert small.payload == 3 and captured.stdout.count("line 00000") == 3 and "lambdalab:" not in captured.stdout


# -- Ctrl-C ----------------------------------------------------------------------------------------
class _CellOutput(io.StringIO):
    """Stands for the cell's output: as ``text`` is printed, notes ``fn``'s environments, then calls ``then()``.

    The function cannot see the test's files (its own /tmp, a user of its own), so the tests key on
    what the cell shows, at the moment it shows it (on the cell's thread).
    """

    def __init__(self, text, fn, then=None):
        super().__init__()
        self.text, self.fn, self.then = text, fn, then
        self.environments = None

    def write(self, data):
        written = super().write(data)
        if self.environments is None and self.text in data:
            self.environments = self.fn.environments()
            if self.then is not None:
                self.then()
        return written


def _ctrl_c():
    """Ctrl-C as Jupyter sends it: a SIGINT to the main thread (where the magic runs here)."""
    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)


def _wait_for(predicate, what, seconds=60):
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {what}")


SLEEPS = """
import time
def handler(event, context):
    print("started")
    time.sleep(event["s"])
    print("finished after the cell stopped waiting")
    return "done"
"""


def test_output_reaches_the_cell_while_the_function_runs(shell):
    with capture_output():
        shell.run_cell_magic("lambda", "live --timeout 10", SLEEPS)
    fn = shell.user_ns["lab"].functions["live"]
    out = _CellOutput("started", fn)
    with redirect_stdout(out):
        result = shell.run_line_magic("lambda", "invoke live --event '{\"s\": 1}'")
    assert out.environments["busy"] == 1          # the line was in the cell while the invocation ran
    assert result.payload == "done" and out.getvalue().index("started") < out.getvalue().index("finished")


def test_ctrl_c_stops_the_wait_and_the_invocation_goes_on_to_its_end(shell):
    """Before the fix a Ctrl-C left a bare KeyboardInterrupt, the environment busy with no word of
    when it would be free, and the invocation's result lost. As on Lambda, a caller that stops
    waiting does not stop the invocation: it ends, its environment is reused."""
    with capture_output():
        shell.run_cell_magic("lambda", "waits --timeout 60", SLEEPS)
    fn = shell.user_ns["lab"].functions["waits"]
    out = _CellOutput("started", fn, then=_ctrl_c)
    with redirect_stdout(out), pytest.raises(KeyboardInterrupt) as info:
        shell.run_line_magic("lambda", "invoke waits --event '{\"s\": 2}'")
    assert out.environments["busy"] == 1
    interrupted = info.value
    assert isinstance(interrupted, InvocationStillRunning)
    assert fn.environments()["busy"] == 1            # the cell returned while the invocation runs
    message = "\n".join(interrupted._render_traceback_())
    assert message.startswith("KeyboardInterrupt: the cell stopped waiting for waits")
    assert f"(request {interrupted.request_id})" in message and "the invocation goes on" in message
    assert "its timeout of 60 s" in message and "%lambda logs waits" in message
    magics = current(shell)
    _wait_for(lambda: "waits" in magics.results, "the interrupted invocation's result is kept")
    result = magics.results["waits"]
    assert result.request_id == interrupted.request_id and result.payload == "done"
    assert "finished after the cell stopped waiting" in result.logs
    assert "finished" not in out.getvalue()          # after the Ctrl-C nothing more goes to the cell
    assert fn.environments() == {"idle": 1, "provisioned_idle": 0, "busy": 0, "starting": 0}
    with capture_output() as captured:
        shell.run_line_magic("lambda", "logs waits")
    assert f"REPORT RequestId: {interrupted.request_id}" in captured.stdout
    with capture_output() as captured:
        again = shell.run_line_magic("lambda", "invoke waits --event '{\"s\": 0}'")
    assert again.payload == "done" and not again.cold and again.environment_id == result.environment_id
    assert "finished after the cell stopped waiting" in captured.stdout


def test_ctrl_c_then_the_timeout_ends_the_invocation_and_a_new_environment_serves_the_next(shell):
    with capture_output():
        shell.run_cell_magic("lambda", "stuck --timeout 1", SLEEPS)
    fn = shell.user_ns["lab"].functions["stuck"]
    out = _CellOutput("started", fn, then=_ctrl_c)
    with redirect_stdout(out), pytest.raises(KeyboardInterrupt) as info:   # not a bare one: see below
        shell.run_line_magic("lambda", "invoke stuck --event '{\"s\": 60}'")
    assert isinstance(info.value, InvocationStillRunning) and "its timeout of 1 s" in str(info.value)
    assert out.environments["busy"] == 1 and fn.environments()["busy"] == 1
    magics = current(shell)
    _wait_for(lambda: "stuck" in magics.results, "the timeout ends the interrupted invocation")
    result = magics.results["stuck"]
    assert result.status == "timeout" and result.error["errorType"] == "Sandbox.Timedout"
    assert fn.environments() == {"idle": 0, "provisioned_idle": 0, "busy": 0, "starting": 0}
    with capture_output():
        again = shell.run_line_magic("lambda", "invoke stuck --event '{\"s\": 0}'")
    assert again.payload == "done" and again.cold and again.environment_id != result.environment_id


def test_a_response_that_is_not_json_is_shown_raw(shell):
    """awslambdaric posts a returned ``bytes`` as it is: the result view showed a JSONDecodeError."""
    with capture_output():
        result = shell.run_cell_magic("lambda", "raw --runtime-client awslambdaric --event '{}'",
                                      "def handler(event, context):\n    return b'<not json>'\n")
    assert result.raw_payload == b"<not json>"
    html = result._repr_html_()
    assert "&lt;not json&gt;" in html and "the response is not JSON" in html
    assert "(the response is not JSON: its raw text follows, also in result.raw_payload)\n<not json>" in str(result)


# -- a real kernel ---------------------------------------------------------------------------------
@pytest.fixture
def kernel():
    from jupyter_client.manager import start_new_kernel
    manager, client = start_new_kernel(kernel_name="python3")
    yield manager, client
    client.stop_channels()
    if manager.is_alive():
        manager.shutdown_kernel(now=False)


def execute(client, code, on_message=None, timeout=120):
    """Run code in the kernel; returns (reply content, IOPub messages of that request)."""
    msg_id = client.execute(code)
    messages = []
    deadline = time.monotonic() + timeout
    while True:
        msg = client.get_iopub_msg(timeout=max(1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if on_message:
            on_message(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    # Match the reply to the request: a kernel_info reply left over from start-up (the client asks
    # again while a loaded machine starts the kernel slowly) would otherwise pass for this one's.
    while True:
        reply = client.get_shell_msg(timeout=max(1, deadline - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"], messages


def test_output_streams_while_the_function_runs(kernel):
    """In a kernel: the function's lines come as stream messages, in order, before the result. That they
    come *while* it runs is shown in a shell (test_output_reaches_the_cell_while_the_function_runs) and
    in a kernel by a Ctrl-C that stops the wait once a line is seen (the test after the next)."""
    _, client = kernel
    execute(client, '%load_ext lambdalab_ext\n%config Lambda.backend = "process"')
    source = textwrap.dedent("""
        %%lambda steps --timeout 30 --event '{}'
        import time
        def handler(event, context):
            print("step 1")
            time.sleep(0.5)
            print("step 2")
            return "done"
    """).strip()
    reply, messages = execute(client, source)
    assert reply["status"] == "ok"
    kinds = [m["msg_type"] for m in messages]
    result = next(m for m in messages if m["msg_type"] == "execute_result")
    assert "done" in result["content"]["data"]["text/plain"]
    assert 'class="lambdalab-result"' in result["content"]["data"]["text/html"]
    streamed = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert streamed.index("step 1") < streamed.index("step 2")
    assert kinds.index("execute_result") > max(i for i, k in enumerate(kinds) if k == "stream")
    execute(client, "%lambda cleanup")


def test_errors_in_a_kernel_usage_and_function(kernel):
    _, client = kernel
    execute(client, '%load_ext lambdalab_ext\n%config Lambda.backend = "process"')
    # A UsageError fails the request (status "error") but sends no IOPub "error" message: nbval,
    # which reads only IOPub, would not fail a notebook cell on it. That is IPython's design; the
    # notebooks therefore never rely on a UsageError to stop.
    reply, messages = execute(client, "%lambda invoke nothing-here")
    assert reply["status"] == "error" and reply["ename"] == "UsageError"
    assert "error" not in [m["msg_type"] for m in messages]
    assert "no function named 'nothing-here'" in "".join(
        m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")
    # A function error with --raise is a real error: IOPub "error" with the function's own traceback.
    reply, messages = execute(client, "%%lambda boom --raise --event '{}'\ndef handler(e, c):\n    raise KeyError('k')\n")
    errors = [m for m in messages if m["msg_type"] == "error"]
    assert reply["status"] == "error" and len(errors) == 1
    assert errors[0]["content"]["ename"] == "LambdaFunctionError"
    traceback = "\n".join(errors[0]["content"]["traceback"])
    assert "Lambda function 'boom' failed" in traceback and "in handler" in traceback and "KeyError: 'k'" in traceback
    assert "magic.py" not in traceback     # the lab's own frames are not shown


def test_ctrl_c_in_a_kernel_keeps_the_kernel_and_frees_the_environment_after_the_timeout(kernel):
    """Jupyter's interrupt (SIGINT to the kernel) while a handler sleeps past its timeout."""
    manager, client = kernel
    execute(client, '%load_ext lambdalab_ext\n%config Lambda.backend = "process"')
    source = ("%%lambda sleeper --timeout 2 --event '{\"s\": 60}'\nimport time\n"
              "def handler(event, context):\n    print('sleeping', flush=True)\n    time.sleep(event['s'])\n"
              "    return 'awake'\n")
    sent = []

    def on_message(msg):
        if msg["msg_type"] == "stream" and "sleeping" in msg["content"]["text"] and not sent:
            sent.append(manager.interrupt_kernel())

    reply, messages = execute(client, source, on_message)
    assert sent and reply["status"] == "error" and reply["ename"] == "InvocationStillRunning"
    error = next(m["content"] for m in messages if m["msg_type"] == "error")
    assert error["traceback"][0].startswith("KeyboardInterrupt: the cell stopped waiting for sleeper")
    assert "its timeout of 2 s" in error["traceback"][0]
    reply, messages = execute(client, "print(lab.functions['sleeper'].environments()['busy'])")
    assert manager.is_alive() and reply["status"] == "ok"
    assert "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream").strip() == "1"
    reply, _ = execute(client, "import time, lambdalab_ext.magic\nfor _ in range(200):\n"
                               "    if 'sleeper' in lambdalab_ext.magic.current().results: break\n"
                               "    time.sleep(0.1)\n"
                               "r = lambdalab_ext.magic.current().results['sleeper']\n"
                               "assert r.status == 'timeout', r.status\n"
                               "assert lab.functions['sleeper'].environments()['busy'] == 0")
    assert reply["status"] == "ok", reply
    reply, messages = execute(client, "%lambda invoke sleeper --event '{\"s\": 0}' --out again\nprint(again.payload)")
    assert reply["status"] == "ok"
    assert "awake" in "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    execute(client, "%lambda cleanup")


@pytest.mark.docker
def test_kernel_exit_removes_its_environments(kernel, runtime_image):
    manager, client = kernel
    execute(client, '%load_ext lambdalab_ext\n%config Lambda.backend = "docker"')
    reply, messages = execute(client, "%%lambda stays --event '{}'\ndef handler(e, c):\n    return 1\n")
    assert reply["status"] == "ok"
    reply, messages = execute(client, "print(lab.id)")
    lab_id = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream").strip()
    engine = docker_client()
    assert engine.containers.list(all=True, filters={"label": f"{LABEL}.lab={lab_id}"})
    manager.shutdown_kernel(now=False)     # a normal kernel exit: the lab's atexit cleanup runs
    deadline = time.monotonic() + 30
    while engine.containers.list(all=True, filters={"label": f"{LABEL}.lab={lab_id}"}) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert engine.containers.list(all=True, filters={"label": f"{LABEL}.lab={lab_id}"}) == []

"""The %%lambda and %lambda magics, in a real IPython shell and in a real Jupyter kernel."""

import textwrap
import time

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from lambdalab_ext import magic_args
from lambdalab_ext.runtime.docker import LABEL, docker_client

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


@pytest.mark.parametrize("line, source, message", [
    ("", HELLO, "the following arguments are required: NAME"),
    ("hello --memory lots", HELLO, "invalid int value: 'lots'"),
    ("hello --env NOEQUALS", HELLO, "expected KEY=VALUE"),
    ("hello --bogus 1", HELLO, "unrecognized arguments: --bogus 1"),
    ("hello", "def other(event, context):\n    pass\n", "the cell defines no handler"),
    ("hello --handler nope", HELLO, "defines no function named 'nope'"),
    ("hello --event '{\"a\": 1", HELLO, "cannot read the options"),
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
    reply = client.get_shell_msg(timeout=timeout)
    return reply["content"], messages


def test_output_streams_while_the_function_runs(kernel, tmp_path):
    """The handler waits until the test has *seen* its first line: only live streaming lets it finish."""
    _, client = kernel
    sentinel = str(tmp_path / "seen")
    execute(client, '%load_ext lambdalab_ext\n%config Lambda.backend = "process"')
    source = textwrap.dedent(f"""
        %%lambda waits --timeout 30 --event '{{"path": "{sentinel}"}}'
        import os, time
        def handler(event, context):
            print("step 1: waiting to be seen")
            while not os.path.exists(event["path"]):
                time.sleep(0.05)
            print("step 2: seen")
            return "done"
    """).strip()

    def on_message(msg):
        if msg["msg_type"] == "stream" and "step 1" in msg["content"]["text"]:
            open(sentinel, "w").close()

    reply, messages = execute(client, source, on_message)
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

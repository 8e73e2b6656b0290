"""Parsing the ``%%lambda`` and ``%lambda`` command lines, apart from the magic so it is tested alone.

Every mistake raises IPython's ``UsageError`` with a message that says what to write instead.
"""

import argparse
import ast
import json
import keyword
import shlex
from dataclasses import dataclass, field

from IPython.core.error import UsageError

from . import events, limits

HANDLER_NAMES = ("handler", "lambda_handler")


class _Parser(argparse.ArgumentParser):
    """argparse that reports through UsageError instead of exiting the kernel."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status=0, message=None):
        raise UsageError(message or self.format_help())


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def _env_pair(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _variable(text):
    """A notebook variable's name: what ``--out`` assigns and ``--event-var`` reads."""
    if not text.isidentifier():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a Python variable name (letters, digits and _, not starting with a digit)")
    if keyword.iskeyword(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a Python keyword, not a variable name")
    return text


def _add_event_options(parser):
    parser.add_argument("--event", metavar="JSON|TEMPLATE",
                        help="the event: JSON text, or a template name ("
                             + ", ".join(events.names()) + ")")
    parser.add_argument("--event-var", metavar="VAR", type=_variable,
                        help="take the event from the notebook variable VAR")
    parser.add_argument("--out", metavar="VAR", type=_variable,
                        help="store the InvocationResult in the notebook variable VAR")
    raising = parser.add_mutually_exclusive_group()
    raising.add_argument("--raise", dest="raise_on_error", action="store_true", default=None,
                         help="raise the function's error as an exception (with its own traceback)")
    raising.add_argument("--no-raise", dest="raise_on_error", action="store_false",
                         help="show a function error as a result, do not raise")
    parser.add_argument("--quiet", action="store_true", help="do not display the result")
    parser.add_argument("--invocation-type", choices=("RequestResponse", "Event", "DryRun"),
                        default="RequestResponse",
                        help="RequestResponse (wait for the result), Event (queue it: 202 at once, retries "
                             "and destinations as Lambda's), DryRun (only check: 204)")


def _add_config_options(parser):
    parser.add_argument("--memory", type=int, metavar="MB", help=f"memory size, {limits.MEMORY_MIN_MB}-{limits.MEMORY_MAX_MB} MB")
    parser.add_argument("--timeout", type=int, metavar="S", help="timeout, 1-900 seconds")
    parser.add_argument("--env", type=_env_pair, action="append", metavar="KEY=VALUE",
                        help="an environment variable (repeat for more)")
    parser.add_argument("--ephemeral-storage", type=int, metavar="MB", help=f"/tmp size, {limits.EPHEMERAL_MIN_MB}-{limits.EPHEMERAL_MAX_MB} MB")
    parser.add_argument("--reserved", type=int, metavar="N", help="reserved concurrency (0 blocks all)")
    parser.add_argument("--provisioned", type=int, metavar="N", help="provisioned concurrency")


def cell_parser():
    parser = _Parser(prog="%%lambda", add_help=False,
                     description="Turn the cell into the Lambda function NAME (created or replaced) and, "
                                 "given an event, invoke it at once.")
    parser.add_argument("name", metavar="NAME", help="the function's name")
    parser.add_argument("--handler", metavar="FUNC", help="the handler's name (default: handler or lambda_handler)")
    parser.add_argument("--runtime-client", choices=("lambdalab", "awslambdaric"),
                        help="the runtime client in the environment (default lambdalab's)")
    parser.add_argument("--requirements", metavar="SPEC|FILE",
                        help='packages installed into the function\'s package: "requests==2.32.3 pillow" '
                             "or a requirements.txt path")
    parser.add_argument("--layer", action="append", metavar="NAME:VERSION",
                        help="a layer version (or its ARN) extracted into /opt, in order (repeat, at most 5)")
    parser.add_argument("--role", metavar="NAME|ARN", help="the execution role (default: the lab's allow-all role)")
    _add_config_options(parser)
    _add_event_options(parser)
    return parser


def line_parser():
    parser = _Parser(prog="%lambda", add_help=False, description="Work with the lab's functions.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.add_parser("list", add_help=False, help="the functions and their environments")
    invoke = sub.add_parser("invoke", add_help=False, help="invoke a function")
    invoke.add_argument("name", metavar="NAME")
    _add_event_options(invoke)
    logs = sub.add_parser("logs", add_help=False, help="a function's CloudWatch Logs events (UTC timestamps)")
    logs.add_argument("name", metavar="NAME")
    logs.add_argument("--filter", metavar="PATTERN", help="a CloudWatch Logs filter pattern (terms, JSON, [...], %%regex%%)")
    logs.add_argument("--since", metavar="DURATION", help="only the last 30s, 5m, 2h, 1d... of the lab clock")
    logs.add_argument("--limit", metavar="N", type=_positive_int, help="only the latest N events")
    config = sub.add_parser("config", add_help=False, help="show or change a function's configuration")
    config.add_argument("name", metavar="NAME")
    _add_config_options(config)
    delete = sub.add_parser("delete", add_help=False, help="delete a function and its environments")
    delete.add_argument("name", metavar="NAME")
    sub.add_parser("backend", add_help=False, help="the backend and what isolates an environment")
    sub.add_parser("cleanup", add_help=False,
                   help="shut the lab down: every environment, container and process goes")
    sub.add_parser("help", add_help=False, help="this help")
    return parser


def usage_text():
    """Help for ``%lambda?``: both command lines in full."""
    sub = line_parser()._subparsers._group_actions[0]
    commands = "\n".join(f"  %lambda {name:<8} {action.help}" for name, action in
                         zip(sub.choices, sub._choices_actions))
    return (cell_parser().format_help() + "\nLine magic:\n" + commands +
            "\n\n  %lambda invoke NAME [--event JSON|TEMPLATE] [--event-var VAR] [--out VAR] [--raise]"
            "\n  %lambda config NAME [--memory MB] [--timeout S] [--env KEY=VALUE ...]"
            "\n  %lambda logs NAME [--filter PATTERN] [--since 5m] [--limit N]\n"
            "\nEvent templates (--event NAME; from Python, lambdalab_ext.events.template(NAME, seed=7, ...)):\n"
            + events.listing() + "\n")


def split(line):
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"%lambda: cannot read the options ({exc}); check the quotes around JSON.") from None


@dataclass
class CellCommand:
    """A parsed ``%%lambda`` cell: what to deploy and what to invoke."""

    name: str
    handler: str
    config: dict = field(default_factory=dict)
    options: argparse.Namespace = None


def config_changes(options):
    """The configuration options given on a command line, as ``Lab.deploy`` keywords."""
    changes = {}
    if options.memory is not None:
        changes["memory_mb"] = options.memory
    if options.timeout is not None:
        changes["timeout_s"] = options.timeout
    if options.env:
        changes["env"] = dict(options.env)
    if options.ephemeral_storage is not None:
        changes["ephemeral_storage_mb"] = options.ephemeral_storage
    if options.reserved is not None:
        changes["reserved_concurrency"] = options.reserved
    if options.provisioned is not None:
        changes["provisioned_concurrency"] = options.provisioned
    return changes


def find_handler(source, requested=None):
    """The handler's name: ``requested``, else ``handler`` or ``lambda_handler`` defined in the cell.

    A cell that does not parse is passed on as it is: Lambda reports its syntax error at INIT
    (``Runtime.UserCodeSyntaxError``), as it would for a real deployment.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return requested or HANDLER_NAMES[0]
    defined = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
    if requested:
        if requested not in defined:
            raise UsageError(f"%%lambda: the cell defines no function named {requested!r} for --handler.")
        return requested
    for name in HANDLER_NAMES:
        if name in defined:
            return name
    raise UsageError("%%lambda: the cell defines no handler. Define `def handler(event, context):` "
                     "(or `lambda_handler`), or name yours with --handler NAME.")


def parse_cell(line, source):
    options = cell_parser().parse_args(split(line))
    handler = find_handler(source, options.handler)
    config = config_changes(options)
    if options.runtime_client:
        config["runtime_client"] = options.runtime_client
    if options.requirements:
        config["requirements"] = options.requirements
    if options.layer:
        config["layers"] = list(options.layer)
    if options.role:
        config["role"] = options.role
    return CellCommand(options.name, handler, config, options)


def parse_line(line):
    options = line_parser().parse_args(split(line) or ["help"])
    return options


def resolve_event(options, user_ns):
    """The event the options ask for, or None when they ask for none."""
    if options.event is not None and options.event_var is not None:
        raise UsageError("%lambda: give the event with --event or with --event-var, not both.")
    if options.event_var is not None:
        if options.event_var not in user_ns:
            raise UsageError(f"%lambda: no notebook variable named {options.event_var!r} for --event-var.")
        return user_ns[options.event_var]
    if options.event is None:
        return None
    text = options.event
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return events.template(text)
    except KeyError:
        raise UsageError(f"%lambda: --event {text!r} is neither JSON nor a template name. Templates: "
                         f"{', '.join(events.names())}. JSON needs quotes around it: --event '{{\"k\": 1}}'.") from None

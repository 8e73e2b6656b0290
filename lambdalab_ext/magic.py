"""The ``%%lambda`` cell magic and the ``%lambda`` line magic. No Lambda logic: parse, call the lab, show.

    %load_ext lambdalab_ext

    %%lambda hello --memory 256 --timeout 3 --env STAGE=dev --event '{"name": "Ada"}'
    def handler(event, context):
        return {"greeting": f"hello {event['name']}"}

Configure with ``%config Lambda.backend = "process"`` (also ``default_memory``, ``default_timeout``,
``raise_on_error``, ``keep_alive``, ``account_concurrency``).
"""

import queue
import threading

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, needs_local_scope, no_var_expand
from traitlets import Bool, Enum, Float, Int, observe

from . import magic_args
from .report import PLATFORM_LINE_PREFIXES



class LambdaFunctionError(Exception):
    """The function failed; shown with the function's own traceback, not the lab's."""

    def __init__(self, result):
        self.result = result
        error = result.error or {}
        super().__init__(f"{error.get('errorType')}: {error.get('errorMessage')}")

    def _render_traceback_(self):
        error = self.result.error or {}
        lines = [f"Lambda function {self.result.function_name!r} failed (request {self.result.request_id})"]
        if error.get("stackTrace"):
            lines.append("Traceback (most recent call last):")
            lines.extend(frame.rstrip("\n") for frame in error["stackTrace"])
        lines.append(f"{error.get('errorType')}: {error.get('errorMessage')}")
        return lines


@magics_class
class Lambda(Magics):
    """Lambda functions from notebook cells. ``%lambda help`` (or ``%lambda?``) for the commands."""

    backend = Enum(("auto", "docker", "process"), "auto", config=True,
                   help="Where environments run: Docker when an engine answers, else processes.")
    default_memory = Int(128, config=True, help="Memory size (MB) of a new function: Lambda's default is 128.")
    default_timeout = Int(3, config=True, help="Timeout (s) of a new function: Lambda's default is 3.")
    raise_on_error = Bool(False, config=True,
                          help="Raise a function's error as an exception instead of showing the result.")
    keep_alive = Float(600.0, config=True, help="Seconds an idle environment stays warm.")
    account_concurrency = Int(1000, config=True, help="The account's concurrency quota.")

    def __init__(self, shell):
        # Set before the configurable's __init__: loading %config values fires the observer below.
        self._lab = None
        self.last_result = None
        self.results = {}          # function name -> its last InvocationResult
        super().__init__(shell)

    # -- the lab --------------------------------------------------------------------------------
    @property
    def lab(self):
        if self._lab is None:
            from .lab import Lab
            self._lab = Lab(backend=self.backend, keep_alive_s=self.keep_alive,
                            account_concurrency=self.account_concurrency)
            if "lab" not in self.shell.user_ns:
                self.shell.push({"lab": self._lab})
        return self._lab

    @observe("backend", "keep_alive", "account_concurrency")
    def _restart_lab(self, change):
        if self._lab is not None:
            self.shutdown()
            print(f"lambdalab: {change['name']} is now {change['new']!r}; the next function starts a new lab.")

    def shutdown(self):
        if self._lab is not None:
            if self.shell.user_ns.get("lab") is self._lab:
                del self.shell.user_ns["lab"]
            self._lab.shutdown()
            self._lab = None

    # -- running --------------------------------------------------------------------------------
    def _invoke(self, name, event, options):
        """Invoke, printing the function's output as it comes, from this (the cell's) thread."""
        lines = queue.Queue()
        outcome = {}

        def on_log(line):
            if not line.startswith(PLATFORM_LINE_PREFIXES):
                lines.put(line)

        def run():
            try:
                outcome["result"] = self.lab.invoke(name, event, on_log=on_log)
            except BaseException as exc:   # handed to the cell's thread below
                outcome["error"] = exc
            finally:
                lines.put(None)

        worker = threading.Thread(target=run, name=f"lambdalab-invoke-{name}", daemon=True)
        worker.start()
        while True:
            line = lines.get()
            if line is None:
                break
            print(line, flush=True)
        worker.join()
        if "error" in outcome:
            raise outcome["error"]   # a service error (throttle, payload too large...): a real exception
        result = outcome["result"]
        self.last_result = self.results[name] = result
        if options.out:
            self.shell.push({options.out: result})
        raise_on_error = self.raise_on_error if options.raise_on_error is None else options.raise_on_error
        if not result.ok and raise_on_error:
            raise LambdaFunctionError(result)
        if options.quiet:
            return None
        return result

    @no_var_expand
    @needs_local_scope
    @cell_magic("lambda")
    def lambda_cell(self, line, cell, local_ns=None):
        """Turn the cell into a Lambda function and, given an event, invoke it."""
        command = magic_args.parse_cell(line, cell)
        namespace = {**self.shell.user_ns, **(local_ns or {})}
        event = magic_args.resolve_event(command.options, namespace)
        config = {"memory_mb": self.default_memory, "timeout_s": self.default_timeout, **command.config}
        try:
            fn = self.lab.deploy(command.name, cell, handler=command.handler, **config)
        except ValueError as exc:   # InvalidParameterValueException: Lambda refused the configuration
            raise UsageError(str(exc)) from None
        if event is None:
            c = fn.config
            print(f"λ {fn.name} deployed: handler {c.handler_string}, {c.memory_mb} MB, timeout {c.timeout_s} s. "
                  f"Invoke it with %lambda invoke {fn.name} --event '{{...}}' or lab.functions[{fn.name!r}].invoke(event).")
            return None
        return self._invoke(command.name, event, command.options)

    @no_var_expand
    @needs_local_scope
    @line_magic("lambda")
    def lambda_line(self, line, local_ns=None):
        options = magic_args.parse_line(line)
        command = options.command or "help"
        if command == "help":
            print(magic_args.usage_text())
            return None
        if command == "backend":
            lab = self.lab
            print(f"backend: {lab.backend.name}\nisolation: {lab.isolation}")
            if lab.notice:
                print(lab.notice)
            return None
        if command == "cleanup":
            had = self._lab is not None
            self.shutdown()
            print("lambdalab: every environment stopped and removed." if had else "lambdalab: nothing to clean up.")
            return None
        if command == "list":
            return self._list()
        if command == "invoke":
            self._function(options.name)
            namespace = {**self.shell.user_ns, **(local_ns or {})}
            event = magic_args.resolve_event(options, namespace)
            return self._invoke(options.name, {} if event is None else event, options)
        if command == "logs":
            self._function(options.name)
            result = self.results.get(options.name)
            if result is None:
                raise UsageError(f"%lambda: {options.name} has not been invoked in this session yet.")
            print(result.logs, end="")
            return None
        if command == "config":
            fn = self._function(options.name)
            changes = magic_args.config_changes(options)
            if changes:
                try:
                    fn.update(**changes)
                except ValueError as exc:
                    raise UsageError(str(exc)) from None
            c = fn.config
            print(f"{fn.name}: handler {c.handler_string}, memory {c.memory_mb} MB, timeout {c.timeout_s} s, "
                  f"ephemeral storage {c.ephemeral_storage_mb} MB, reserved concurrency "
                  f"{'none' if c.reserved_concurrency is None else c.reserved_concurrency}, provisioned "
                  f"{c.provisioned_concurrency}, environment {c.environment or '{}'}")
            return None
        if command == "delete":
            self._function(options.name).delete()
            self.results.pop(options.name, None)
            print(f"λ {options.name} deleted.")
            return None
        raise UsageError(f"%lambda: unknown command {command!r}; try %lambda help")

    def _function(self, name):
        fn = self.lab.functions.get(name)
        if fn is None:
            known = ", ".join(sorted(self.lab.functions)) or "none yet"
            raise UsageError(f"%lambda: no function named {name!r} (functions: {known}).")
        return fn

    def _list(self):
        if not self.lab.functions:
            print("No functions yet: write one in a %%lambda cell.")
            return None
        rows = [("function", "memory", "timeout", "idle", "busy", "provisioned")]
        for name, fn in sorted(self.lab.functions.items()):
            c, envs = fn.config, fn.environments()
            rows.append((name, f"{c.memory_mb} MB", f"{c.timeout_s} s", str(envs["idle"]), str(envs["busy"]),
                         str(envs["provisioned_idle"])))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        return None


Lambda.lambda_line.__doc__ = magic_args.usage_text()
Lambda.lambda_cell.__doc__ = magic_args.usage_text()


def register(shell):
    magics = Lambda(shell)
    shell.register_magics(magics)
    return magics


def current(shell=None):
    """The loaded magics of a shell (the running kernel's by default), or None."""
    if shell is None:
        from IPython import get_ipython
        shell = get_ipython()
    if shell is None:
        return None
    return shell.magics_manager.registry.get("Lambda")

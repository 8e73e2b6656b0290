"""The ``%%lambda`` cell magic and the ``%lambda`` line magic. No Lambda logic: parse, call the lab, show.

    %load_ext lambdalab_ext

    %%lambda hello --memory 256 --timeout 3 --env STAGE=dev --event '{"name": "Ada"}'
    def handler(event, context):
        return {"greeting": f"hello {event['name']}"}

Configure with ``%config Lambda.backend = "process"`` (also ``default_memory``, ``default_timeout``,
``raise_on_error``, ``keep_alive``, ``account_concurrency``).

What the function prints appears in the cell as it runs, up to ``LIVE_OUTPUT_BYTES`` per invocation;
past that the cell says where it was cut and, at the end, how much followed, while the result's log
keeps the head and tail of it all (``%lambda logs NAME``, ``result.logs``). Ctrl-C stops the cell's
wait, not the invocation, as on Lambda: see :class:`InvocationStillRunning`.
"""

import queue
import threading

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, needs_local_scope, no_var_expand
from traitlets import Bool, Enum, Float, Int, observe

from . import limits, magic_args
from .report import PLATFORM_LINE_PREFIXES
from .runtime.logs import HEAD_BYTES, TAIL_BYTES

# What one invocation may print into the cell while it runs. A print flood put 444 MB into a cell in
# 5 s; past this the output is counted, not shown, and stays in the bounded log of the result.
LIVE_OUTPUT_BYTES = 128 * 1024
_CUT = object()   # where the live output was cut, in the queue of lines


def _size(nbytes):
    """A byte count for a reader: 900 bytes, 128 KB, 444.2 MB."""
    if nbytes < 1024:
        return f"{nbytes:,} bytes"
    if nbytes < 1024 * 1024:
        return f"{nbytes / 1024:,.0f} KB"
    return f"{nbytes / (1024 * 1024):,.1f} MB"


class _LiveOutput:
    """One invocation's output on its way to the cell: at most ``LIVE_OUTPUT_BYTES``, then only counted.

    ``on_log`` runs on the lab's log reader thread, ``show`` on the cell's thread. Bounding in
    ``on_log`` keeps the queue between them bounded too, however fast the function prints.
    """

    def __init__(self):
        self.lines = queue.Queue()
        self.lock = threading.Lock()
        self.shown = 0
        self.cut_bytes = 0
        self.cut_lines = 0
        self.request_id = None
        self.abandoned = False    # the cell stopped waiting (Ctrl-C)

    def on_log(self, line):
        if line.startswith("START RequestId:"):
            self.request_id = line.split()[2]
        if self.abandoned or line.startswith(PLATFORM_LINE_PREFIXES):
            return
        data = line.encode("utf-8", "replace")
        size = len(data) + 1
        if not self.cut_lines and self.shown + size <= LIVE_OUTPUT_BYTES:
            self.shown += size
            self.lines.put(line)
            return
        if not self.cut_lines:
            part = data[:LIVE_OUTPUT_BYTES - self.shown].decode("utf-8", "ignore")
            if part:
                self.lines.put(part)
            self.lines.put(_CUT)
            size -= len(part.encode())
        self.cut_bytes += size + getattr(line, "cut_bytes", 0)   # a long line arrives already cut
        self.cut_lines += 1

    def show(self):
        """Print the lines as they come, until the invocation ends."""
        while True:
            try:
                # A timeout, so that an interrupt that is only a flag (Windows, ipykernel's "message"
                # mode, _thread.interrupt_main) is seen while the function prints nothing.
                batch = [self.lines.get(timeout=0.25)]
            except queue.Empty:
                continue
            # Take what has piled up (bounded by LIVE_OUTPUT_BYTES): one write and flush for many lines.
            while batch[-1] is not None:
                try:
                    batch.append(self.lines.get_nowait())
                except queue.Empty:
                    break
            items = [_cut_marker() if item is _CUT else item for item in batch if item is not None]
            if items:
                print("\n".join(items), flush=True)
            if batch[-1] is None:
                return


def _cut_marker():
    return (f"... lambdalab: output cut here, after {_size(LIVE_OUTPUT_BYTES)}; the rest goes to the log only "
            "(how much follows when the invocation ends)")


class InvocationStillRunning(KeyboardInterrupt):
    """Ctrl-C stopped the cell's wait, not the invocation: it runs on to its end or its timeout.

    On AWS a synchronous caller may stop waiting before the function ends (API Gateway gives up after
    29 s, a function may run 15 minutes: "Comparing Lambda invocation modes", AWS Lambda Operator
    Guide); the function is not stopped for it: it runs to its end or its timeout, and its execution
    environment then serves the next event ("Understanding the Lambda execution environment
    lifecycle"). Still a ``KeyboardInterrupt``, so a notebook stops running the cells after this one.
    """

    def __init__(self, name, request_id, timeout_s):
        self.function_name, self.request_id, self.timeout_s = name, request_id, timeout_s
        request = f" (request {request_id})" if request_id else ""
        until = f"its timeout of {timeout_s} s" if timeout_s else "its timeout"
        super().__init__(
            f"the cell stopped waiting for {name}{request}, but the invocation goes on, as on Lambda when a "
            f"caller stops waiting: it runs until the handler returns or {until}, and then its environment is "
            f"free again (a timed-out one is replaced). Its log, once it ends: %lambda logs {name}. "
            "To stop every environment now: %lambda cleanup.")

    def _render_traceback_(self):
        return [f"KeyboardInterrupt: {self}"]


class LambdaFunctionError(Exception):
    """The function failed; shown with the function's own traceback, not the lab's."""

    def __init__(self, result):
        self.result = result
        error = self._error()
        super().__init__(f"{error.get('errorType')}: {error.get('errorMessage')}")

    def _error(self):
        # A runtime client may post any JSON as its error: show what there is rather than fail here.
        error = self.result.error
        return error if isinstance(error, dict) else {"errorType": None, "errorMessage": error}

    def _render_traceback_(self):
        error = self._error()
        lines = [f"Lambda function {self.result.function_name!r} failed (request {self.result.request_id})"]
        trace = error.get("stackTrace")
        if trace and isinstance(trace, list):
            lines.append("Traceback (most recent call last):")
            lines.extend(str(frame).rstrip("\n") for frame in trace)
        lines.append(f"{error.get('errorType')}: {error.get('errorMessage')}")
        return lines


@magics_class
class Lambda(Magics):
    """Lambda functions from notebook cells. ``%lambda help`` (or ``%lambda?``) for the commands."""

    backend = Enum(("auto", "docker", "process"), "auto", config=True,
                   help="Where environments run: Docker when an engine answers, else processes.")
    default_memory = Int(limits.MEMORY_DEFAULT_MB, config=True, help="Memory size (MB) of a new function: Lambda's default is 128.")
    default_timeout = Int(limits.TIMEOUT_DEFAULT_S, config=True, help="Timeout (s) of a new function: Lambda's default is 3.")
    raise_on_error = Bool(False, config=True,
                          help="Raise a function's error as an exception instead of showing the result.")
    keep_alive = Float(limits.KEEP_ALIVE_DEFAULT_S, config=True, help="Seconds an idle environment stays warm.")
    clock = Enum(("real", "virtual"), "real", config=True,
                 help="The lab's clock: 'virtual' moves only with lab.clock.advance(seconds), so retries, "
                      "keep-alive and schedules an hour away happen in a second.")
    account_concurrency = Int(limits.ACCOUNT_CONCURRENCY_DEFAULT, config=True, help="The account's concurrency quota.")

    def __init__(self, shell):
        # Set before the configurable's __init__: loading %config values fires the observer below.
        self._lab = None
        self.last_result = None
        self.results = {}          # function name -> its last InvocationResult
        self._invocations = {}     # function name -> how many invocations the magics began
        super().__init__(shell)

    # -- the lab --------------------------------------------------------------------------------
    @property
    def lab(self):
        if self._lab is None:
            from .lab import Lab
            from .clock import VirtualClock
            self._lab = Lab(backend=self.backend, keep_alive_s=self.keep_alive,
                            account_concurrency=self.account_concurrency,
                            clock=VirtualClock() if self.clock == "virtual" else None)
            if "lab" not in self.shell.user_ns:
                self.shell.push({"lab": self._lab})
        return self._lab

    @observe("backend", "keep_alive", "account_concurrency", "clock")
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
        """Invoke, printing the function's output as it comes, from this (the cell's) thread.

        The invocation runs on a worker thread, so a Ctrl-C stops only the waiting: as on Lambda, where
        a caller that stops waiting does not stop a synchronous invocation, it goes on until the
        handler returns or its timeout, and then frees its environment (:class:`InvocationStillRunning`).
        """
        lab = self.lab
        if options.invocation_type != "RequestResponse":
            accepted = lab.invoke(name, event, invocation_type=options.invocation_type)
            if options.out:
                self.shell.push({options.out: accepted})
            if accepted.status_code == 202:
                print(f"{accepted}. What happens to it: lab.record.events(request_id={accepted.request_id!r}); "
                      f"the log of each attempt: %lambda logs {name}")
                return None
            return None if options.quiet else accepted
        live = _LiveOutput()
        outcome = {}
        self._invocations[name] = sequence = self._invocations.get(name, 0) + 1
        try:
            timeout_s = lab.functions[name].config.timeout_s
        except Exception:     # no such function: the invoke below says so in Lambda's words
            timeout_s = None

        def run():
            try:
                outcome["result"] = lab.invoke(name, event, on_log=live.on_log)
            except BaseException as exc:   # handed to the cell's thread below
                outcome["error"] = exc
            finally:
                with live.lock:
                    if live.abandoned and "result" in outcome:
                        self._keep(name, sequence, outcome["result"], latest=False)
                live.lines.put(None)

        worker = threading.Thread(target=run, name=f"lambdalab-invoke-{name}", daemon=True)
        try:
            worker.start()
            live.show()
            worker.join()
        except KeyboardInterrupt:
            with live.lock:
                live.abandoned = True     # from now on the output goes to the log only
                ended = "result" in outcome or "error" in outcome
            if ended:
                if "result" in outcome:
                    self._keep(name, sequence, outcome["result"], latest=False)
                raise
            raise InvocationStillRunning(name, live.request_id, timeout_s) from None
        if "error" in outcome:
            raise outcome["error"]   # a service error (throttle, payload too large...): a real exception
        result = outcome["result"]
        self._keep(name, sequence, result)
        if live.cut_lines:
            lines = f"{live.cut_lines:,} line{'s' if live.cut_lines > 1 else ''}"
            print(f"... lambdalab: {_size(live.cut_bytes)} more ({lines}) not shown live; "
                  f"the lab keeps the first {_size(HEAD_BYTES)} and the last {_size(TAIL_BYTES)} of each "
                  f"invocation's output: %lambda logs {name} or result.logs", flush=True)
        if options.out:
            self.shell.push({options.out: result})
        raise_on_error = self.raise_on_error if options.raise_on_error is None else options.raise_on_error
        if not result.ok and raise_on_error:
            raise LambdaFunctionError(result)
        if options.quiet:
            return None
        return result

    def _keep(self, name, sequence, result, latest=True):
        """Remember a result for ``%lambda logs``, unless a later invocation of ``name`` began since.

        An invocation the cell stopped waiting for ends later, in the background: it is kept for
        ``%lambda logs`` but does not become ``last_result()``, which other cells may have set since.
        """
        if self._invocations.get(name) == sequence:
            self.results[name] = result
            if latest:
                self.last_result = result

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
            return self._logs(options)
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

    def _logs(self, options):
        """``%lambda logs NAME [--filter PATTERN] [--since 5m] [--limit N]``: the function's CloudWatch
        Logs events, from the lab's log store (``lab.observability``) when it has one."""
        from .observe.filter_patterns import FilterPattern, InvalidParameterException
        from .observe.service import format_event, parse_since
        name = options.name
        try:
            since_s = parse_since(options.since) if options.since else None
            pattern = FilterPattern.parse(options.filter or "")
        except (ValueError, InvalidParameterException) as exc:
            raise UsageError(f"%lambda logs: {exc}") from None
        observability = getattr(self.lab, "observability", None)
        if observability is not None:
            events, skipped = observability.log_events(name, options.filter, since_s, options.limit)
            if not events and not self.lab.record.events(kind="invoke", function=name):
                raise UsageError(f"%lambda: {name} has not been invoked in this session yet.")
            if skipped:
                print(f"... {skipped:,} earlier event{'s' if skipped != 1 else ''} not shown (--limit {options.limit})")
            for event in events:
                print(format_event(event))
            if not events:
                print(f"No log events of {name} match" + (f" {options.filter!r}" if options.filter else "") +
                      (f" in the last {options.since}" if options.since else "") + ".")
            return None
        # No log store attached: the log of the last invocation. The lab record has every
        # invocation, asynchronous attempts included; the magic's own memory only what its cells waited for.
        invoked = self.lab.record.events(kind="invoke", function=name)
        result = invoked[-1].get("result") if invoked else self.results.get(name)
        if result is None:
            raise UsageError(f"%lambda: {name} has not been invoked in this session yet.")
        if since_s is not None:
            print("(--since needs the lab's CloudWatch Logs store; here is the last invocation's log)")
        if options.filter is None and options.limit is None:
            print(result.logs, end="")
            return None
        lines = [line for line in result.logs.splitlines() if pattern.matches(line)]
        if options.limit is not None:
            lines = lines[-options.limit:]
        for line in lines:
            print(line)
        return None

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

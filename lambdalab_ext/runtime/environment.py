"""One execution environment, end to end: sandbox + Runtime API server + log collector.

Lifecycle (AWS Lambda Developer Guide, "Understanding the Lambda execution environment lifecycle"):
INIT (the sandbox starts, the runtime imports the handler and asks for its first event) -> INVOKE,
any number of times, one at a time -> SHUTDOWN. A timeout, a crash or running out of memory
discards the environment; the next request gets a fresh one.

A runtime that dies *between* invocations (a background thread calling ``os._exit``, awslambdaric
giving up after its response was refused) is noticed when it happens: the sandbox calls
:meth:`ExecutionEnvironment.runtime_died`, the environment stops taking requests and tells the
service, which drops it from its idle list. A request that still reaches it (the death was not
reported yet) is never answered by the corpse: the environment raises ``EnvironmentUnavailable``
before the event is handed over, and the service routes the request to another environment.

What the caller waits for ends at the result: stopping a sandbox (a container kill and removal on
a busy engine can take seconds) happens in the background afterwards.
"""

import collections
import datetime
import json
import queue
import secrets
import threading
import time
import uuid

from .. import report
from ..limits import cpu_share, function_arn
from ..request import new_trace_header
from ..result import InvocationResult
from .api import Invocation, RuntimeAPIServer
from .spec import OPT, TASK_ROOT, Mount, SandboxSpec

INIT_TIMEOUT_S = 10.0          # Lambda's limit on the INIT phase of an on-demand environment
PROVISIONED_INIT_TIMEOUT_S = 130.0   # provisioned concurrency: max(130 s, the function timeout)
# How often a warm invocation looks whether its event has been handed over (to release the live
# log lines it holds back until then, see _HeldLive). The invocation itself never waits for it.
HANDOFF_POLL_S = 0.01
# An exit seen during INIT may overtake the init error the runtime posted just before it.
EXIT_BEFORE_INIT_ERROR_WAIT_S = 0.1


class EnvironmentUnavailable(Exception):
    """The environment's runtime had died before the event reached it: nothing of the request ran.

    The service routes the request to another environment (as Lambda does: a dead environment
    is reset, never handed work).
    """


class _Inbox:
    """One runtime's events, in order. ``put`` rings the environment's doorbell, so that one thread
    can wait on two runtimes at once (an INIT cut at 10 s and its re-run, see ``init``): one lock
    and one notification per event, where a ``queue.Queue`` beside the doorbell took two of each."""

    def __init__(self, doorbell):
        self._doorbell = doorbell
        self._items = collections.deque()

    def put(self, item):
        with self._doorbell:
            self._items.append(item)
            self._doorbell.notify_all()

    def get_nowait(self):
        """Caller holds the doorbell."""
        try:
            return self._items.popleft()
        except IndexError:
            raise queue.Empty from None


class _Runtime:
    """The parts of one runtime process: its sandbox, Runtime API server, log collector and inbox."""

    def __init__(self, sandbox, api, logs, events):
        self.sandbox, self.api, self.logs, self.events = sandbox, api, logs, events


class _HeldLive:
    """``on_log`` for a warm invocation: its START and what the runtime prints before the event is
    handed over are held back until it is. A runtime that died after its previous invocation
    (awslambdaric prints a traceback and exits when its response is refused) never takes the
    event; then the held lines, its last words and a START for nothing, are dropped with it."""

    LIMIT = 1000   # lines held at most; past that they go out (a flood between invocations)

    def __init__(self, on_log, start_line):
        self._on_log = on_log
        self._held = [start_line]
        self._dropped = False
        self._lock = threading.Lock()

    def __call__(self, line):
        with self._lock:
            if self._dropped:
                return
            if self._held is not None:
                self._held.append(line)
                if len(self._held) <= self.LIMIT:
                    return
                held, self._held = self._held, None
                for text in held:
                    self._on_log(text)
                return
        self._on_log(line)

    def release(self):
        with self._lock:
            held, self._held = self._held, None
            for text in held or ():
                self._on_log(text)

    def drop(self):
        with self._lock:
            self._held, self._dropped = None, True


def _in_thread(fn):
    threading.Thread(target=fn, name="lambdalab-teardown", daemon=True).start()


class InitError(Exception):
    def __init__(self, error, logs, init_duration_ms, status="error"):
        super().__init__(error.get("errorMessage"))
        self.error = error
        self.logs = logs
        self.init_duration_ms = init_duration_ms
        self.status = status


# AWS Lambda Developer Guide, "Defined runtime environment variables" (Python runtimes).
LAMBDA_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
LAMBDA_LD_LIBRARY_PATH = ("/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:"
                          "/var/task/lib:/opt/lib")


def _log_stream_name():
    # Real Lambda: YYYY/MM/DD/[$LATEST]<32 hex characters>, one stream per environment.
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y/%m/%d")
    return f"{day}/[$LATEST]{secrets.token_hex(16)}"



def lambda_environment(config, *, region, account_id, log_stream, runtime_api, initialization_type,
                       task_root, runtime_dir, credentials, endpoint_url=None):
    """The variables Lambda sets in a Python function's environment, then the function's own.

    ``endpoint_url`` is the lab's AWS endpoint: every AWS SDK since 2023 reads ``AWS_ENDPOINT_URL``
    ("Service-specific endpoints", AWS SDKs and Tools Reference Guide), so ``boto3.client("s3")``
    reaches the embedded services with no change to the function's code.
    """
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
        "_HANDLER": config.handler_string,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": runtime_dir,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        # As Lambda's Python runtime sets them; /opt is where layers are unpacked.
        "PATH": LAMBDA_PATH,
        "LD_LIBRARY_PATH": LAMBDA_LD_LIBRARY_PATH,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
        "_AWS_XRAY_DAEMON_PORT": "2000",
        "AWS_ACCESS_KEY_ID": credentials[0],
        "AWS_SECRET_ACCESS_KEY": credentials[1],
        "AWS_SESSION_TOKEN": credentials[2],
    }
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    env.update(config.environment)
    return env


class ExecutionEnvironment:
    """A warm-able Lambda execution environment on one backend sandbox.

    Not used directly: the service creates them (:mod:`lambdalab_ext.service`). ``on_death(env)``
    is called (from any thread, without blocking) when the runtime of an idle environment dies;
    ``in_background(fn)`` runs teardown work after the caller has its result.
    """

    def __init__(self, config, backend, code_dir, *, region, account_id, initialization_type="on-demand",
                 on_death=None, in_background=None):
        self.config = config
        self.backend = backend
        self.code_dir = code_dir
        self.region = region
        self.account_id = account_id
        self.initialization_type = initialization_type
        self.on_death = on_death
        self._in_background = in_background or _in_thread
        self.id = uuid.uuid4().hex[:12]
        self.log_stream_name = _log_stream_name()
        self.function_arn = function_arn(config.name, region, account_id)
        self.state = "created"        # created -> initializing -> idle <-> busy -> dead
        self.invocations = 0
        self.last_used = None         # the lab clock's now() when it last finished an invocation
        self.init_duration_ms = None
        self._init_logs = ""
        self._reinit_started = None   # perf_counter when a suppressed re-init began (see init)
        self._cut = None              # the runtime whose INIT was cut at 10 s, while it may still fail
        self._doorbell = threading.Condition()
        self._events = _Inbox(self._doorbell)
        self._api = None
        self._sandbox = None
        self._logs = None
        self._runtime_exited = False  # the current runtime ended by itself
        self._teardown_begun = False
        self._lock = threading.Lock()

    # -- INIT --------------------------------------------------------------------------------
    def init(self):
        """Cold start: start the sandbox and wait until the runtime asks for its first event.

        Raises ``InitError`` (with Lambda's error) when the function's code cannot be loaded. An
        on-demand INIT that runs past 10 s is cut short and retried inside the first invocation,
        under the function's timeout, as Lambda does (a "suppressed init"): see :meth:`invoke`.

        An INIT error wins over slowness. On this machine INIT runs on a CPU share of a shared
        host (128 MB is 7 % of a vCPU), so under load an import error that takes 1.5 s alone can
        arrive after the 10 s mark. The cut runtime is therefore not stopped at the mark: it keeps
        running beside the re-run until the re-run is ready (then it is stopped) or until it
        reports; an error or exit it reports in that time is the function's INIT error.
        """
        self.state = "initializing"
        limit = INIT_TIMEOUT_S
        if self.initialization_type != "on-demand":
            limit = max(PROVISIONED_INIT_TIMEOUT_S, float(self.config.timeout_s))
        kinds = ("ready", "init_error", "exit")
        try:
            started = self._start_runtime()
            event = self._wait(started + limit, kinds)
            if event is None:   # one last look: an answer may have landed at the mark itself
                event = self._wait(time.perf_counter(), kinds)
        except BaseException:
            self.discard()
            raise
        if event is None:
            self.init_duration_ms = limit * 1000
            if self.initialization_type != "on-demand":
                logs = self._logs.begin()
                self.discard(wait=False)
                raise InitError({"errorType": "Sandbox.Timedout",
                                 "errorMessage": f"INIT phase timed out after {limit:.2f} seconds"},
                                logs, self.init_duration_ms, status="timeout")
            # Suppressed init: start INIT again now; the first invocation waits for it, and its
            # time counts against that invocation's timeout.
            self._logs.sync()
            self._init_logs = self._logs.begin()
            self._cut = self._detach_runtime()
            try:
                self._reinit_started = self._start_runtime()
            except BaseException:
                self.discard()
                raise
            self.state = "idle"
            return
        if event.kind == "exit":
            later = self._wait(time.perf_counter() + EXIT_BEFORE_INIT_ERROR_WAIT_S, ("init_error",))
            event = later or event
        self.init_duration_ms = (event.at - started) * 1000
        if event.kind == "ready":
            self._init_logs = self._logs.begin()
            # A first reading of peak memory, so a runtime that dies later still has a figure.
            self._sandbox.max_memory_bytes()
            with self._lock:
                if self.state == "initializing":
                    self.state = "idle"
            return
        if event.kind == "init_error":
            time.sleep(0.05)   # the runtime prints the error and exits right after posting it
        self._logs.sync()
        if event.kind == "init_error":
            error = _parse_error(event.body, event.error_type)
        else:
            error = self._exit_error(event, request_id=None)
        logs = self._logs.begin()
        self.discard(wait=False)
        raise InitError(error, logs, self.init_duration_ms)

    def _start_runtime(self):
        """A new sandbox with its own Runtime API and inbox; returns when INIT begins."""
        self._events = _Inbox(self._doorbell)
        self._runtime_exited = False
        api_address = self.backend.runtime_api_address
        owner = []                 # the sandbox this server is for (a suppressed init runs two)
        if api_address is None:    # the backend reaches a server of ours on the host
            self._api = RuntimeAPIServer(self._events, host=self.backend.runtime_api_host,
                                         admit=lambda sock: _admits(owner, sock))
            api_address = self._api.address
        # The lab's IAM (iam.service) issues the execution role's session for this environment,
        # so that its calls can be told apart and authorized; without it, keys of no one.
        issue = getattr(self.backend, "issue_credentials", None)
        credentials = issue(self.config, self.id) if issue is not None else (
            "ASIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30),
            "lambdalab-session-" + secrets.token_urlsafe(48))
        env = lambda_environment(
            self.config, region=self.region, account_id=self.account_id, log_stream=self.log_stream_name,
            runtime_api=api_address, initialization_type=self.initialization_type,
            task_root=self.backend.task_root(self.code_dir), runtime_dir=self.backend.runtime_dir,
            credentials=credentials, endpoint_url=getattr(self.backend, "aws_endpoint_url", None))
        spec = SandboxSpec(
            function_name=self.config.name, environment_id=self.id, memory_mb=self.config.memory_mb,
            cpu_vcpus=cpu_share(self.config.memory_mb, self.backend.host_cpus),
            ephemeral_storage_mb=self.config.ephemeral_storage_mb, variables=env,
            handler=self.config.handler_string, runtime_client=self.config.runtime_client,
            mounts=(Mount(TASK_ROOT, self.code_dir),) + ((Mount(OPT, self.config.opt_dir),)
                                                          if self.config.opt_dir else ()),
            image=self.config.image.image_id if self.config.image is not None else None,
            endpoints=getattr(self.backend, "endpoints", None) or {})
        self._sandbox = self.backend.create_sandbox(spec, self._events, self.runtime_died)
        owner.append(self._sandbox)
        started = self._sandbox.start(self._attach_api)
        self._logs = self._sandbox.logs
        return started

    def _detach_runtime(self):
        """Take the current runtime's parts out of the environment (they keep running)."""
        runtime = _Runtime(self._sandbox, self._api, self._logs, self._events)
        self._sandbox = self._api = self._logs = None
        return runtime

    @staticmethod
    def _stop(runtime):
        if runtime.sandbox is not None:
            try:
                runtime.sandbox.destroy()
            except Exception:   # a sandbox that is already gone must not stop the rest of cleanup
                pass
        if runtime.api is not None:
            runtime.api.close()
        if runtime.logs is not None:
            runtime.logs.close()

    def _stop_runtime(self):
        self._stop(self._detach_runtime())

    def _release_cut(self):
        """The cut INIT lost (its re-run is ready, or it became ready too late): stop it."""
        cut, self._cut = self._cut, None
        if cut is not None:
            cut.sandbox.killed = True    # its end is the platform's doing
            self._in_background(lambda: self._stop(cut))

    def _attach_api(self, sock):
        """The sandbox made a listening socket in its own network namespace: serve the API there."""
        self._api = RuntimeAPIServer(self._events, sock=sock)

    def _wait_any(self, deadline, wanted):
        """The next event of a wanted kind from any inbox of ``wanted`` ({inbox: kinds}) before
        ``deadline`` (perf_counter): ``(inbox, event)``, else ``(None, None)``. Other events are
        dropped. The inboxes are looked at once even when the deadline has passed."""
        with self._doorbell:
            while True:
                for inbox, kinds in wanted.items():
                    while True:
                        try:
                            event = inbox.get_nowait()
                        except queue.Empty:
                            break
                        if event.kind in kinds:
                            return inbox, event
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    return None, None
                self._doorbell.wait(remaining)

    def _wait(self, deadline, kinds):
        """Next event of one of ``kinds`` from the current runtime before ``deadline``, else None."""
        return self._wait_any(deadline, {self._events: kinds})[1]

    def _settle_reinit(self, deadline):
        """Wait for the re-run INIT of a suppressed init, while the cut INIT may still report.

        Returns ``(event, from_cut)``: the re-run's ready / init_error / exit, or the cut runtime's
        init_error / exit (an INIT error wins over slowness), or ``(None, False)`` at the deadline.
        """
        kinds = ("ready", "init_error", "exit")
        while True:
            wanted = {}
            if self._cut is not None:   # looked at first: its error wins a tie
                wanted[self._cut.events] = kinds
            wanted[self._events] = kinds
            inbox, event = self._wait_any(deadline, wanted)
            if event is None or inbox is self._events:
                if event is not None and event.kind == "ready":
                    self._release_cut()
                return event, False
            if event.kind == "ready":   # the cut INIT finished after the mark: Lambda re-ran it anyway
                self._release_cut()
                continue
            return event, True

    def _exit_error(self, event, request_id):
        prefix = f"RequestId: {request_id} " if request_id else ""
        if event.oom_killed:
            return {"errorType": "Runtime.OutOfMemory",
                    "errorMessage": f"{prefix}Error: Runtime exited with error: signal: killed"}
        code = event.exit_code
        if code == 0:
            reason = "Runtime exited without providing a reason"
        elif code is not None and code > 128:
            reason = f"Runtime exited with error: signal: {_signal_name(code - 128)}"
        elif code is not None and code < 0:
            reason = f"Runtime exited with error: signal: {_signal_name(-code)}"
        else:
            reason = f"Runtime exited with error: exit status {code}"
        return {"errorType": "Runtime.ExitError", "errorMessage": f"{prefix}Error: {reason}"}

    def failed_init_result(self, exc, *, submitted_at=None):
        """The result Lambda returns when INIT fails: the init error, framed by INIT_REPORT and REPORT."""
        request_id = str(uuid.uuid4())
        error = exc.error
        duration_ms = exc.init_duration_ms
        billed = report.billed_duration_ms(duration_ms)
        lines = [
            report.init_start_line(self.backend.runtime_version, self.backend.runtime_version_arn(self.region)),
            exc.logs,
            report.init_report_line(exc.init_duration_ms, exc.status, error.get("errorType")),
            report.start_line(request_id),
            report.end_line(request_id),
            report.report_line(request_id, duration_ms, billed, self.config.memory_mb, None,
                               status=exc.status, error_type=error.get("errorType")),
        ]
        return InvocationResult(
            function_name=self.config.name, request_id=request_id, raw_payload=None, error=error,
            function_error="Unhandled", status="error", cold=True, duration_ms=duration_ms,
            billed_duration_ms=billed, init_duration_ms=None, memory_size_mb=self.config.memory_mb,
            max_memory_used_mb=None, logs="".join(_ensure_newline(part) for part in lines if part),
            environment_id=self.id, log_stream_name=self.log_stream_name,
            initialization_type=self.initialization_type, architecture=self.config.architecture,
            ephemeral_storage_mb=self.config.ephemeral_storage_mb,
            latency_ms=(time.perf_counter() - submitted_at) * 1000 if submitted_at else duration_ms,
            backend=self.backend.name)

    # -- INVOKE ------------------------------------------------------------------------------
    def _claim(self, cold):
        """idle -> busy, or ``EnvironmentUnavailable`` for a warm environment whose runtime died."""
        with self._lock:
            if not cold and (self.state == "dead" or self._runtime_exited):
                raise EnvironmentUnavailable(f"environment {self.id}: its runtime has exited")
            if cold and self.state == "dead" and self._runtime_exited and not self._teardown_begun:
                self.state = "idle"   # died right after INIT: this request reports the exit
            if self.state != "idle":
                raise RuntimeError(f"environment {self.id} is {self.state}, not idle")
            self.state = "busy"

    def _wait_for_outcome(self, deadline, kinds, invocation, live):
        """The invocation's outcome event (or None at the deadline); ``live`` is released as soon
        as the event has been handed over to the runtime."""
        while live is not None:
            event = self._wait(min(deadline, time.perf_counter() + HANDOFF_POLL_S), kinds)
            if event is not None or time.perf_counter() >= deadline:
                return event
            if getattr(self._api, "current", None) is invocation:
                live.release()
                break
        return self._wait(deadline, kinds)

    def invoke(self, payload, *, cold, client_context=None, on_log=None, submitted_at=None, request_id=None,
               trace_id=None, cognito_identity=None):
        """Run one event through the runtime and return its ``InvocationResult``.

        ``payload`` is the event as JSON bytes, ``client_context`` the ClientContext as JSON text
        (both checked by the service). Blocks until the response, an error, the runtime's exit, or
        the function's timeout; tearing the sandbox down afterwards does not delay the result.
        Raises ``EnvironmentUnavailable`` (nothing ran) when a warm environment's runtime turns
        out to have died before the event reached it.
        """
        self._claim(cold)
        request_id = request_id or str(uuid.uuid4())
        timeout_s = self.config.timeout_s
        reinit_started, self._reinit_started = self._reinit_started, None
        lines = []
        if cold:
            lines.append(report.init_start_line(self.backend.runtime_version,
                                                self.backend.runtime_version_arn(self.region)))
            lines.append(self._init_logs)
            if reinit_started is not None:
                lines.append(report.init_report_line(self.init_duration_ms, "timeout") + "\n")
            if on_log is not None:   # INIT happened before this call: its lines come first
                for line in "".join(_ensure_newline(part) for part in lines if part).splitlines():
                    on_log(line)
        live = _HeldLive(on_log, report.start_line(request_id)) if on_log is not None and not cold else None
        between = self._logs.begin(live or on_log)    # output since the last invocation (background threads)
        if between:
            lines.append(between)
        lines.append(report.start_line(request_id) + "\n")
        if on_log is not None and live is None:
            on_log(lines[-1].rstrip("\n"))
        # The timeout counts from here, or, after a suppressed init, from the start of the re-init.
        budget_start = reinit_started if reinit_started is not None else time.perf_counter()
        deadline = budget_start + timeout_s
        event, from_cut = None, False
        if reinit_started is not None:
            event, from_cut = self._settle_reinit(deadline)
        dispatched = time.perf_counter()
        dispatched_epoch = time.time()
        invocation = None
        if reinit_started is None or (event is not None and event.kind == "ready"):
            remaining_s = deadline - dispatched
            invocation = Invocation(
                request_id=request_id, payload=payload, deadline_ms=int((dispatched_epoch + remaining_s) * 1000),
                invoked_function_arn=self.function_arn, trace_id=trace_id or new_trace_header(),
                client_context=client_context, cognito_identity=cognito_identity)
            self._sandbox.before_invoke(remaining_s)
            self._api.dispatch(invocation)
            event = self._wait_for_outcome(deadline, ("response", "error", "too_large", "exit"), invocation, live)
            if (event is not None and event.kind == "exit" and not cold
                    and getattr(self._api, "current", invocation) is not invocation):
                # Never handed over: the runtime died after its previous invocation. Its last
                # words belong to that invocation's log, not to this request's.
                if live is not None:
                    live.drop()
                self.discard(wait=False)
                raise EnvironmentUnavailable(f"environment {self.id}: its runtime exited before the event")
        if live is not None:
            live.release()
        ended = time.perf_counter()
        if reinit_started is not None:
            handed_off = budget_start      # Duration includes the re-init
        else:
            handed_off = self._api.handed_off_at if self._api.handed_off_at and \
                self._api.handed_off_at >= dispatched else dispatched
        payload_out, error, function_error, status = None, None, None, "success"
        if event is None:
            status = "timeout"
            duration_ms = timeout_s * 1000.0
            sandbox = self._sandbox
            memory = sandbox.max_memory_bytes()
            sandbox.killed = True
            self._in_background(sandbox.kill)   # at once; the engine may take its time
            self._logs.sync()
            output = self._logs.take()
            output += report.timeout_line(time.time(), request_id, timeout_s) + "\n"
            error = {"errorType": "Sandbox.Timedout",
                     "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"}
            function_error = "Unhandled"
        else:
            duration_ms = max(0.0, (event.at - handed_off) * 1000)
            if event.kind in ("exit", "init_error"):
                time.sleep(0.05)   # the last bytes of output may still be in flight
            self._logs.sync()
            output = self._logs.take()
            if from_cut:   # the cut INIT's own last words explain its error
                self._cut.logs.sync()
                output = _ensure_newline(output) if output else ""
                cut_output = self._cut.logs.take()
                output += cut_output
                if on_log is not None:
                    for line in cut_output.splitlines():
                        on_log(line)
                memory = self._cut.sandbox.last_memory_bytes()
            else:
                memory = self._sandbox.max_memory_bytes() if event.kind != "exit" else self._sandbox.last_memory_bytes()
            if event.kind == "response":
                payload_out = event.body
            elif event.kind in ("error", "init_error"):   # init_error: a suppressed init's INIT failed
                error = _parse_error(event.body, event.error_type)
                function_error = "Unhandled"
                status = "error"
            elif event.kind == "too_large":
                error = {"errorType": "Function.ResponseSizeTooLarge",
                         "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes)."}
                function_error = "Unhandled"
                status = "error"
            else:
                error = self._exit_error(event, request_id)
                function_error = "Unhandled"
                status = "error"
                # As Lambda logs a runtime that died: the error message, then its type.
                output = _ensure_newline(output) if output else ""
                output += f"{error['errorMessage']}\n{error['errorType']}\n"
        lines.append(output)
        # After a suppressed init the INIT_REPORT line carries the cut-short INIT; the re-init is
        # part of this invocation's Duration (and of what it bills), so REPORT has no Init Duration.
        init_ms = self.init_duration_ms if cold and reinit_started is None else None
        billed = report.billed_duration_ms(duration_ms, init_ms if self.initialization_type == "on-demand" else None)
        memory_used_mb = report.memory_mb(memory, self.config.memory_mb)
        lines.append(report.end_line(request_id) + "\n")
        # REPORT carries Status only when the platform saw the invocation fail: a timeout, or a
        # runtime that died or sent too much; a handler's own exception is a normal completion.
        report_status, report_error_type = "success", None
        if status == "timeout":
            report_status = "timeout"
        elif event is not None and event.kind in ("exit", "too_large", "init_error"):
            report_status, report_error_type = "error", error["errorType"]
        lines.append(report.report_line(request_id, duration_ms, billed, self.config.memory_mb, memory_used_mb,
                                        init_ms, status=report_status, error_type=report_error_type) + "\n")
        if on_log is not None:
            for line in lines[-2:]:
                on_log(line.rstrip("\n"))
        self.invocations += 1
        lost = status == "timeout" or event.kind in ("exit", "init_error")
        if not lost:
            with self._lock:
                lost = self._runtime_exited   # it died while this invocation was being reported
                if not lost:
                    self.state = "idle"
        if lost:
            self.discard(wait=False)
        return InvocationResult(
            function_name=self.config.name, request_id=request_id, raw_payload=payload_out, error=error,
            function_error=function_error, status=status, cold=cold, duration_ms=duration_ms,
            billed_duration_ms=billed, init_duration_ms=init_ms, memory_size_mb=self.config.memory_mb,
            max_memory_used_mb=memory_used_mb, logs="".join(_ensure_newline(part) for part in lines if part),
            environment_id=self.id, log_stream_name=self.log_stream_name,
            initialization_type=self.initialization_type, architecture=self.config.architecture,
            ephemeral_storage_mb=self.config.ephemeral_storage_mb,
            latency_ms=(time.perf_counter() - (submitted_at or dispatched)) * 1000, backend=self.backend.name,
            start_time=dispatched_epoch + (handed_off - dispatched),
            end_time=dispatched_epoch + (ended - dispatched))

    # -- deaths and SHUTDOWN -----------------------------------------------------------------
    def runtime_died(self, sandbox):
        """The sandbox's runtime ended by itself. Called from a watcher thread: must not block.

        During INIT or an invocation, whoever waits on the runtime reports the exit. An idle
        environment stops taking requests at once and tells the service (``on_death``).
        """
        if sandbox is not self._sandbox:
            return   # a runtime already let go (an INIT cut at 10 s, or one being stopped)
        with self._lock:
            self._runtime_exited = True
            if self.state != "idle":
                return
            self.state = "dead"
        if self.on_death is not None:
            self.on_death(self)

    def discard(self, wait=True):
        """Stop the sandbox and free everything the environment holds. Safe to call twice.

        ``wait=False`` does the stopping in the background (``in_background``): the caller has its
        answer already and a busy engine can take seconds to kill and remove a container.
        """
        with self._lock:
            self.state = "dead"
            if self._teardown_begun:
                return
            self._teardown_begun = True
        if wait:
            self._teardown()
        else:
            self._in_background(self._teardown)

    def _teardown(self):
        cut, self._cut = self._cut, None
        if cut is not None:
            self._stop(cut)
        self._stop_runtime()

    @property
    def alive(self):
        return self.state in ("idle", "busy", "initializing")


def _admits(owner, sock):
    """May this connection speak to the Runtime API? Its sandbox decides (see RuntimeAPIServer)."""
    if not owner:
        return False           # no runtime exists yet to connect
    admits = getattr(owner[0], "admits", None)
    return True if admits is None else admits(sock)


def _ensure_newline(text):
    return text if text.endswith("\n") else text + "\n"


def _parse_error(body, error_type_header):
    try:
        error = json.loads(body) if body else {}
        if not isinstance(error, dict):
            raise ValueError
    except ValueError:
        error = {"errorMessage": body.decode("utf-8", "replace")}
    error.setdefault("errorType", error_type_header or "Runtime.Unknown")
    error.setdefault("errorMessage", "")
    error.pop("requestId", None)
    return error


# How Lambda (written in Go) names the signal that ended a runtime: "signal: killed".
_SIGNAL_NAMES = {6: "aborted", 7: "bus error", 9: "killed", 11: "segmentation fault", 15: "terminated"}


def _signal_name(number):
    return _SIGNAL_NAMES.get(number, f"signal {number}")

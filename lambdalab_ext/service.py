"""The Lambda service over execution environments: routing, warm reuse, concurrency, throttles.

Rules (AWS Lambda Developer Guide, "Lambda function scaling", "Configuring reserved concurrency"):
one request per environment at a time; an idle warm environment takes the next request (the most
recently used first); a request that finds none gets a new environment (a cold start) if
concurrency allows, else ``TooManyRequestsException``. Concurrency is limited per
account (1,000 by default) and per function by reserved concurrency (also a guarantee: reserved
units leave the shared pool; at least 100 must stay unreserved; 0 blocks every invocation).
Provisioned concurrency keeps N environments initialised in advance, never reclaimed; they serve
first, and traffic beyond them spills over to on-demand environments. Idle on-demand environments
are reclaimed after the keep-alive period, measured on the lab's clock.

In-flight counts belong to the *function*, not to one version of its configuration: an update
during a cold start must not lose the cold start's count (``_InFlight`` is shared by every state
of one function). An environment whose runtime dies while idle leaves the idle list at once
(``ExecutionEnvironment.runtime_died``); one found dead when a request reaches it is skipped and
the request routed again. What the caller waits for is ``latency_ms``, measured at the return.
"""

import base64
import json
import threading
import time

from .errors import (InvalidParameterValueException, InvalidRequestContentException, LabClosedError,
                     RecursiveInvocationException,
                     RequestEntityTooLargeException, ResourceNotFoundException, TooManyRequestsException)
from .function import package_code
# "Invoke" (API reference): ClientContext is up to 3,583 bytes of JSON (sent base64-encoded).
from .limits import CLIENT_CONTEXT_MAX_BYTES, UNRESERVED_MINIMUM, function_arn
from .limits import SYNC_REQUEST_MAX_BYTES as MAX_SYNC_PAYLOAD_BYTES
from .recursion import RECURSION_LIMIT
from .request import InvocationRequest
from .runtime.environment import EnvironmentUnavailable, ExecutionEnvironment, InitError

# A request that finds a dead warm environment is routed again; the last try is a cold start.
ROUTING_ATTEMPTS = 3
SHUTDOWN_WAIT_S = 60.0


class _InFlight:
    """A function's requests in flight, shared by every configuration state of that function."""

    def __init__(self):
        self.busy = set()
        self.starting = 0           # cold starts in progress (they count as concurrency)
        self.on_provisioned = 0     # requests in flight on provisioned environments


class _FunctionState:
    def __init__(self, config, code_dir, generation, flight=None):
        self.config = config
        self.code_dir = code_dir
        self.generation = generation
        self.idle = []              # on-demand environments, most recently used last
        self.provisioned_idle = []
        self.flight = flight or _InFlight()

    @property
    def busy(self):
        return self.flight.busy

    @property
    def starting(self):
        return self.flight.starting

    @property
    def in_flight(self):
        return len(self.flight.busy) + self.flight.starting

    @property
    def on_demand_in_flight(self):
        return self.in_flight - self.flight.on_provisioned


class _Background:
    """Work done after the caller has its answer (stopping sandboxes); shutdown waits for it."""

    def __init__(self):
        self._threads = set()
        self._lock = threading.Lock()

    def run(self, fn):
        def work():
            try:
                fn()
            except Exception:   # a sandbox already gone, an engine that refuses: nothing to report to
                pass
            finally:
                with self._lock:
                    self._threads.discard(thread)

        thread = threading.Thread(target=work, name="lambdalab-background", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def wait(self, timeout_s):
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            with self._lock:
                threads = list(self._threads)
            if not threads:
                return
            for thread in threads:
                thread.join(max(0.0, deadline - time.perf_counter()))


def _not_json(value):
    raise ValueError(f"{value} is not JSON")


def _unparsable(exc):
    if isinstance(exc, RecursionError):
        exc = "the value is nested too deeply"
    return InvalidRequestContentException(f"Could not parse request body into json: {exc}")


def encode_event(event):
    """The Invoke API's payload as JSON bytes, checked for size, then form.

    Python values (str included) are encoded as JSON; ``bytes`` are taken as the JSON payload itself.
    What is not JSON is refused as the Invoke API refuses it (``InvalidRequestContentException``):
    NaN and Infinity (JSON has no such numbers), and a value nested deeper than can be parsed.
    """
    if isinstance(event, (bytes, bytearray)):
        payload = bytes(event)
    else:
        try:
            payload = json.dumps(event, allow_nan=False).encode()
        except (TypeError, ValueError, RecursionError) as exc:
            raise _unparsable(exc) from None
    if len(payload) > MAX_SYNC_PAYLOAD_BYTES:
        raise RequestEntityTooLargeException(
            f"Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation")
    if isinstance(event, (bytes, bytearray)):
        try:
            json.loads(payload or b"null", parse_constant=_not_json)
        except (ValueError, RecursionError) as exc:
            raise _unparsable(exc) from None
    return payload


def encode_client_context(client_context):
    """The ClientContext as the JSON text the runtime receives, checked as the Invoke API checks it.

    It must be a JSON object of at most 3,583 bytes ("Invoke", API reference). ``bytes`` or
    ``str`` are taken as the base64 text the API itself takes. The JSON is ASCII with every
    control character escaped: it travels in the ``Lambda-Runtime-Client-Context`` header.
    """
    if client_context is None:
        return None
    if isinstance(client_context, (str, bytes, bytearray)):
        try:
            client_context = json.loads(base64.b64decode(client_context, validate=True), parse_constant=_not_json)
        except (ValueError, RecursionError):
            raise InvalidRequestContentException("Client context must be a valid Base64-encoded JSON object.") from None
    if not isinstance(client_context, dict):
        raise InvalidRequestContentException("Client context must be a valid Base64-encoded JSON object.")
    try:
        text = json.dumps(client_context, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        raise InvalidRequestContentException("Client context must be a valid Base64-encoded JSON object.") from None
    if len(text.encode()) > CLIENT_CONTEXT_MAX_BYTES:
        raise InvalidRequestContentException(
            f"Client context is {len(text.encode()):,} bytes of JSON: Lambda accepts at most "
            f"{CLIENT_CONTEXT_MAX_BYTES:,}.")
    return text


class LambdaService:
    """Functions and their execution environments on one backend."""

    def __init__(self, backend, workdir, clock, *, region, account_id, account_concurrency=1000,
                 keep_alive_s=600.0, record=None):
        self.backend = backend
        self.workdir = workdir
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.account_concurrency = int(account_concurrency)
        self.keep_alive_s = float(keep_alive_s)
        self.throttles = 0
        self.recursive_invocations_dropped = {}   # function -> count (RecursiveInvocationsDropped)
        self._functions = {}
        self._generation = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._background = _Background()
        if record is None:
            from .record import LabRecord
            record = LabRecord(clock=clock.now)
        self.record = record
        self._reclaim_scheduled = set()   # environments with a keep-alive check on the clock
        self._latest_invoke = {}          # function name -> its last "invoke" record event
        self._request_hooks = []          # see hook_requests

    def _check_open(self):
        if self._closed.is_set():
            raise LabClosedError()

    def _not_found(self, name):
        return ResourceNotFoundException(
            f"Function not found: {function_arn(name, self.region, self.account_id)}")

    def _new_environment(self, state, initialization_type="on-demand"):
        provisioned = initialization_type != "on-demand"
        return ExecutionEnvironment(
            state.config, self.backend, state.code_dir, region=self.region, account_id=self.account_id,
            initialization_type=initialization_type, in_background=self._background.run,
            on_death=lambda env: self._environment_died(state, env, provisioned))

    # -- control plane -------------------------------------------------------------------------
    def put_function(self, config):
        """Create or update a function. Environments of the previous code or configuration are retired."""
        self._check_open()
        with self._lock:
            self._check_reservation(config)
            self._generation += 1
            old = self._functions.get(config.name)
            # The in-flight counts carry over by reference: requests started under the old
            # configuration end (and decrement) while the new one is current.
            state = _FunctionState(config, package_code(config, self.workdir), self._generation,
                                   old.flight if old is not None else None)
            retired = old.idle + old.provisioned_idle if old is not None else []
            self._functions[config.name] = state
        for env in retired:
            env.discard()
        if config.provisioned_concurrency:
            self._provision(state, config.provisioned_concurrency)
        return state

    def _check_reservation(self, config):
        reserved = sum(s.config.reserved_concurrency or 0 for name, s in self._functions.items()
                       if name != config.name) + (config.reserved_concurrency or 0)
        minimum = min(UNRESERVED_MINIMUM, self.account_concurrency)
        if config.reserved_concurrency and self.account_concurrency - reserved < minimum:
            raise InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{minimum}].")

    def _provision(self, state, count):
        """Initialise ``count`` environments before any request (provisioned concurrency)."""
        errors = []

        def start_one():
            if self._closed.is_set():
                return
            env = self._new_environment(state, "provisioned-concurrency")
            try:
                env.init()
            except InitError as exc:
                errors.append(exc)
                return
            with self._lock:
                if self._functions.get(state.config.name) is state and not self._closed.is_set():
                    state.provisioned_idle.append(env)
                    return
            env.discard()

        threads = [threading.Thread(target=start_one) for _ in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            err = errors[0].error
            raise InvalidParameterValueException(
                f"Provisioned concurrency could not be initialised: {err.get('errorType')}: {err.get('errorMessage')}")

    def get(self, name):
        self._check_open()
        with self._lock:
            state = self._functions.get(name)
        if state is None:
            raise self._not_found(name)
        return state

    def delete_function(self, name):
        self._check_open()
        with self._lock:
            state = self._functions.pop(name, None)
        if state is None:
            raise self._not_found(name)
        for env in state.idle + state.provisioned_idle:
            env.discard()

    def functions(self):
        self._check_open()
        with self._lock:
            return {name: state.config for name, state in self._functions.items()}

    def environments(self, name):
        """Counts of a function's environments by state."""
        state = self.get(name)
        with self._lock:
            return {"idle": len(state.idle), "provisioned_idle": len(state.provisioned_idle),
                    "busy": len(state.flight.busy), "starting": state.flight.starting}

    # -- data plane ----------------------------------------------------------------------------
    def _throttle_reason(self, state):
        """Why a new environment may not start now, or None. Caller holds the lock."""
        config = state.config
        if config.reserved_concurrency is not None:
            if state.in_flight >= config.reserved_concurrency:
                return "ReservedFunctionConcurrentInvocationLimitExceeded"
            return None
        reserved = sum(s.config.reserved_concurrency or 0 for s in self._functions.values())
        provisioned = sum(s.config.provisioned_concurrency for s in self._functions.values()
                          if s.config.reserved_concurrency is None)
        pool = self.account_concurrency - reserved - provisioned
        used = sum(s.on_demand_in_flight for s in self._functions.values() if s.config.reserved_concurrency is None)
        if used >= pool:
            return "ConcurrentInvocationLimitExceeded"
        return None

    def _route(self, name, warm_allowed=True):
        """Pick an environment for one request: ``(state, env, provisioned)``, env None for a cold start."""
        dead = []
        try:
            with self._lock:
                self._check_open()
                state = self._functions.get(name)
                if state is None:
                    raise self._not_found(name)
                flight = state.flight
                while warm_allowed and (state.provisioned_idle or state.idle):
                    provisioned = bool(state.provisioned_idle)
                    env = (state.provisioned_idle if provisioned else state.idle).pop()
                    if not env.alive:   # died idle and not dropped yet: never route to it
                        dead.append(env)
                        continue
                    if provisioned:
                        flight.on_provisioned += 1
                    flight.busy.add(env)
                    return state, env, provisioned
                reason = self._throttle_reason(state)
                if reason:
                    self.throttles += 1
                    raise TooManyRequestsException("Rate Exceeded.", Reason=reason)
                flight.starting += 1
                return state, None, False
        finally:
            for env in dead:
                env.discard(wait=False)

    def invoke(self, name, event=None, *, client_context=None, cognito_identity=None, on_log=None):
        """A synchronous (RequestResponse) invoke. Raises the service's errors; returns the result.

        ``latency_ms`` of the result is what the caller waited, from this call to its return.
        """
        self._check_open()
        request = InvocationRequest(function_name=name, payload=encode_event(event), client_context=client_context,
                                    cognito_identity=cognito_identity)
        return self.invoke_request(request, on_log=on_log, checked=True)

    def invoke_request(self, request, on_log=None, checked=False):
        """Run one ``InvocationRequest`` on an environment (a synchronous invoke, or one attempt of
        an asynchronous event) and record it. Raises the service's errors; returns the result."""
        submitted = time.perf_counter()
        self._check_open()
        name = request.function_name
        if request.recursion_depth >= RECURSION_LIMIT:
            self._stop_recursion(request)
        payload = request.payload if checked else encode_event(bytes(request.payload))
        context_json = encode_client_context(request.client_context)
        cognito_json = json.dumps(request.cognito_identity) if request.cognito_identity else None
        try:
            result = self._run_request(request, payload, context_json, cognito_json, on_log, submitted)
        except TooManyRequestsException as exc:
            self.record.append("throttle", name, request.request_id, reason=exc.details.get("Reason"),
                               invocation_type=request.invocation_type, source=request.source)
            raise
        event = self.record.append(
            "invoke", name, result.request_id, invocation_type=request.invocation_type, source=request.source,
            attempt=request.attempt, status=result.status, cold=result.cold,
            error_type=(result.error or {}).get("errorType"), duration_ms=result.duration_ms,
            billed_duration_ms=result.billed_duration_ms, init_duration_ms=result.init_duration_ms,
            max_memory_used_mb=result.max_memory_used_mb, environment=result.environment_id, result=result)
        # Only a function's latest invocation keeps its whole result (and log, up to 160 KB) in the
        # record: a million invocations must not keep a million logs in the kernel.
        with self._lock:
            previous, self._latest_invoke[name] = self._latest_invoke.get(name), event
        if previous is not None:
            previous.details.pop("result", None)
        return result

    def _stop_recursion(self, request):
        """A recursive loop past Lambda's limit: stopped before it runs, unless the function allows it."""
        name = request.function_name
        with self._lock:
            self._check_open()
            state = self._functions.get(name)
            if state is None:
                raise self._not_found(name)
            if state.config.recursive_loop == "Allow":
                return
        self.recursion_stopped(name, request.request_id, depth=request.recursion_depth, source=request.source,
                               source_arn=request.source_arn, invocation_type=request.invocation_type)
        raise RecursiveInvocationException(RecursiveInvocationException.MESSAGE)

    def recursion_stopped(self, name, request_id, **details):
        """Count and record one invocation a recursive loop would have caused (RecursiveInvocationsDropped)."""
        with self._lock:
            self.recursive_invocations_dropped[name] = self.recursive_invocations_dropped.get(name, 0) + 1
        self.record.append("recursion_stopped", name, request_id, **details)

    def hook_requests(self, hook):
        """Call ``hook(request)`` before each request runs on an environment (every path: sync,
        asynchronous attempts, pollers, workflows), where it may still change what the function
        will see (the trace header: ``observe.traces``). It may return ``failed(exc)``, called if the
        request raises. A hook's own error never stops a request. Returns a function that unhooks."""
        self._request_hooks.append(hook)

        def unhook():
            try:
                self._request_hooks.remove(hook)
            except ValueError:
                pass
        return unhook

    def _run_request(self, request, *args):
        failed = []
        for hook in list(self._request_hooks):
            try:
                undo = hook(request)
            except Exception:
                undo = None
            if undo is not None:
                failed.append(undo)
        try:
            return self._run_routed(request, *args)
        except BaseException as exc:
            for undo in failed:
                try:
                    undo(exc)
                except Exception:
                    pass
            raise

    def _run_routed(self, request, payload, context_json, cognito_json, on_log, submitted):
        name = request.function_name
        for attempt in range(ROUTING_ATTEMPTS):
            state, env, provisioned = self._route(name, warm_allowed=attempt < ROUTING_ATTEMPTS - 1)
            cold = env is None
            if cold:
                env = self._new_environment(state)
                try:
                    env.init()
                except InitError as exc:
                    with self._lock:
                        state.flight.starting -= 1
                    return self._answer(env.failed_init_result(exc, submitted_at=submitted), submitted)
                except BaseException:
                    with self._lock:
                        state.flight.starting -= 1
                    raise
                with self._lock:
                    state.flight.starting -= 1
                    state.flight.busy.add(env)
            try:
                result = env.invoke(payload, cold=cold, client_context=context_json, on_log=on_log,
                                    submitted_at=submitted, request_id=request.request_id,
                                    trace_id=request.trace_header, cognito_identity=cognito_json)
            except EnvironmentUnavailable:
                continue   # nothing ran there: the request goes to another environment
            finally:
                self._release(name, state, env, provisioned)
            return self._answer(result, submitted)
        raise AssertionError("unreachable: the last routing attempt is a cold start")

    @staticmethod
    def _answer(result, submitted):
        result.latency_ms = (time.perf_counter() - submitted) * 1000
        return result

    def _release(self, name, state, env, provisioned):
        replace = False
        with self._lock:
            state.flight.busy.discard(env)
            if provisioned:
                state.flight.on_provisioned -= 1
            current = self._functions.get(name) is state
            if env.alive and current:
                env.last_used = self.clock.now()
                (state.provisioned_idle if provisioned else state.idle).append(env)
                if not provisioned:
                    self._schedule_reclaim(env)
                env = None
            replace = provisioned and current and not self._closed.is_set()
        if env is not None:
            env.discard(wait=False)
            if replace:   # Lambda keeps the provisioned level: a lost environment is replaced
                self._replace_provisioned(state)

    def _environment_died(self, state, env, provisioned):
        """An idle environment's runtime died (a watcher thread calls this): stop routing to it."""
        with self._lock:
            pool = state.provisioned_idle if provisioned else state.idle
            found = env in pool
            if found:
                pool.remove(env)
            replace = (found and provisioned and self._functions.get(state.config.name) is state
                       and not self._closed.is_set())
        if found:   # else a request holds it, and finds it dead
            env.discard(wait=False)
        if replace:
            self._replace_provisioned(state)

    # -- keep-alive ----------------------------------------------------------------------------
    def reclaim_idle(self):
        """Shut down on-demand environments idle for longer than the keep-alive. Returns how many."""
        now = self.clock.now()
        expired = []
        with self._lock:
            for state in self._functions.values():
                keep = [env for env in state.idle if now - env.last_used < self.keep_alive_s]
                expired += [env for env in state.idle if now - env.last_used >= self.keep_alive_s]
                state.idle = keep
        for env in expired:
            env.discard()
        return len(expired)

    def _replace_provisioned(self, state):
        """Lambda keeps a function's provisioned level: a lost environment is replaced. Scheduled on
        the lab clock (at once on the real clock; at the next advance of a virtual one), then
        initialised in the background, so the clock's own thread is never held by an INIT."""
        name = f"replace provisioned environment of {state.config.name}"
        self.clock.call_later(0, lambda: self._background.run(lambda: self._provision(state, 1)), name=name)

    def _schedule_reclaim(self, env):
        """One keep-alive check per idle environment on the lab clock, at the moment it would
        expire; a check that finds it used since looks again at its new moment. Caller holds the lock."""
        if env in self._reclaim_scheduled:
            return
        self._reclaim_scheduled.add(env)

        def check():
            with self._lock:
                self._reclaim_scheduled.discard(env)
                due = env.last_used + self.keep_alive_s
                waiting = env.alive and any(env in s.idle for s in self._functions.values())
                if waiting and self.clock.now() < due:
                    self._schedule_reclaim(env)
                    return
            if waiting:
                self.reclaim_idle()

        self.clock.call_at(env.last_used + self.keep_alive_s, check, name=f"keep-alive {env.id}")

    def shutdown(self):
        """Stop every environment; waits for the ones being stopped in the background too."""
        self._closed.set()
        with self._lock:
            envs = [env for state in self._functions.values()
                    for env in state.idle + state.provisioned_idle + list(state.flight.busy)]
            self._functions.clear()
        for env in envs:
            env.discard()
        self._background.wait(SHUTDOWN_WAIT_S)

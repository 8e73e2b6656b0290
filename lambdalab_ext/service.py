"""The Lambda service over execution environments: routing, warm reuse, concurrency, throttles.

Rules (lambda-facts §1): one request per environment at a time; an idle warm environment takes the
next request (the most recently used first); a request that finds none gets a new environment (a
cold start) if concurrency allows, else ``TooManyRequestsException``. Concurrency is limited per
account (1,000 by default) and per function by reserved concurrency (also a guarantee: reserved
units leave the shared pool; at least 100 must stay unreserved; 0 blocks every invocation).
Provisioned concurrency keeps N environments initialised in advance, never reclaimed; they serve
first, and traffic beyond them spills over to on-demand environments. Idle on-demand environments
are reclaimed after the keep-alive period, measured on the lab's clock.
"""

import json
import threading
import time

from .errors import (InvalidParameterValueException, InvalidRequestContentException,
                     RequestEntityTooLargeException, ResourceNotFoundException, TooManyRequestsException)
from .function import package_code
from .runtime.environment import ExecutionEnvironment, InitError

MAX_SYNC_PAYLOAD_BYTES = 6_291_456   # measured request limit of a synchronous invoke (lambda-facts §3.2)
UNRESERVED_MINIMUM = 100


class _FunctionState:
    def __init__(self, config, code_dir, generation):
        self.config = config
        self.code_dir = code_dir
        self.generation = generation
        self.idle = []              # on-demand environments, most recently used last
        self.provisioned_idle = []
        self.busy = set()
        self.starting = 0           # cold starts in progress (they count as concurrency)
        self.on_provisioned = 0     # requests in flight on provisioned environments

    @property
    def in_flight(self):
        return len(self.busy) + self.starting

    @property
    def on_demand_in_flight(self):
        return self.in_flight - self.on_provisioned


def encode_event(event):
    """The Invoke API's payload as JSON bytes, checked for size, then form.

    Python values (str included) are encoded as JSON; ``bytes`` are taken as the JSON payload itself.
    """
    if isinstance(event, (bytes, bytearray)):
        payload = bytes(event)
    else:
        try:
            payload = json.dumps(event).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidRequestContentException(f"Could not parse request body into json: {exc}") from None
    if len(payload) > MAX_SYNC_PAYLOAD_BYTES:
        raise RequestEntityTooLargeException(
            f"Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation")
    if isinstance(event, (bytes, bytearray)):
        try:
            json.loads(payload or b"null")
        except ValueError as exc:
            raise InvalidRequestContentException(f"Could not parse request body into json: {exc}") from None
    return payload


class LambdaService:
    """Functions and their execution environments on one backend."""

    def __init__(self, backend, workdir, clock, *, region, account_id, account_concurrency=1000,
                 keep_alive_s=600.0):
        self.backend = backend
        self.workdir = workdir
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.account_concurrency = int(account_concurrency)
        self.keep_alive_s = float(keep_alive_s)
        self.throttles = 0
        self._functions = {}
        self._generation = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        clock.add_listener(lambda now: self.reclaim_idle())
        if not clock.virtual:
            self._reaper = threading.Thread(target=self._reclaim_loop, name="lambdalab-keepalive", daemon=True)
            self._reaper.start()

    # -- control plane -------------------------------------------------------------------------
    def put_function(self, config):
        """Create or update a function. Environments of the previous code or configuration are retired."""
        with self._lock:
            self._check_reservation(config)
            self._generation += 1
            old = self._functions.get(config.name)
            state = _FunctionState(config, package_code(config, self.workdir), self._generation)
            if old is not None:
                state.busy, state.starting, state.on_provisioned = old.busy, old.starting, old.on_provisioned
                retired = old.idle + old.provisioned_idle
            else:
                retired = []
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
            env = ExecutionEnvironment(state.config, self.backend, state.code_dir, region=self.region,
                                       account_id=self.account_id, initialization_type="provisioned-concurrency")
            try:
                env.init()
            except InitError as exc:
                errors.append(exc)
                return
            with self._lock:
                if self._functions.get(state.config.name) is state:
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
        with self._lock:
            state = self._functions.get(name)
        if state is None:
            raise ResourceNotFoundException(
                f"Function not found: arn:aws:lambda:{self.region}:{self.account_id}:function:{name}")
        return state

    def delete_function(self, name):
        with self._lock:
            state = self._functions.pop(name, None)
        if state is None:
            raise ResourceNotFoundException(
                f"Function not found: arn:aws:lambda:{self.region}:{self.account_id}:function:{name}")
        for env in state.idle + state.provisioned_idle:
            env.discard()

    def functions(self):
        with self._lock:
            return {name: state.config for name, state in self._functions.items()}

    def environments(self, name):
        """Counts of a function's environments by state."""
        state = self.get(name)
        with self._lock:
            return {"idle": len(state.idle), "provisioned_idle": len(state.provisioned_idle),
                    "busy": len(state.busy), "starting": state.starting}

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

    def invoke(self, name, event=None, *, client_context=None, on_log=None):
        """A synchronous (RequestResponse) invoke. Raises the service's errors; returns the result."""
        submitted = time.perf_counter()
        payload = encode_event(event)
        with self._lock:
            state = self._functions.get(name)
            if state is None:
                raise ResourceNotFoundException(
                    f"Function not found: arn:aws:lambda:{self.region}:{self.account_id}:function:{name}")
            env, provisioned = None, False
            if state.provisioned_idle:
                env, provisioned = state.provisioned_idle.pop(), True
                state.on_provisioned += 1
            elif state.idle:
                env = state.idle.pop()
            else:
                reason = self._throttle_reason(state)
                if reason:
                    self.throttles += 1
                    raise TooManyRequestsException("Rate Exceeded.", Reason=reason)
                state.starting += 1
            if env is not None:
                state.busy.add(env)
        cold = env is None
        if cold:
            env = ExecutionEnvironment(state.config, self.backend, state.code_dir, region=self.region,
                                       account_id=self.account_id)
            try:
                env.init()
            except InitError as exc:
                with self._lock:
                    state.starting -= 1
                return env.failed_init_result(exc, submitted_at=submitted)
            except BaseException:
                with self._lock:
                    state.starting -= 1
                raise
            with self._lock:
                state.starting -= 1
                state.busy.add(env)
        try:
            result = env.invoke(payload, cold=cold, client_context=client_context, on_log=on_log,
                                submitted_at=submitted)
        finally:
            self._release(name, state, env, provisioned)
        return result

    def _release(self, name, state, env, provisioned):
        replace = False
        with self._lock:
            state.busy.discard(env)
            if provisioned:
                state.on_provisioned -= 1
            current = self._functions.get(name) is state
            if env.alive and current:
                env.last_used = self.clock.now()
                (state.provisioned_idle if provisioned else state.idle).append(env)
                env = None
            replace = provisioned and current
        if env is not None:
            env.discard()
            if replace:   # Lambda keeps the provisioned level: a lost environment is replaced
                threading.Thread(target=self._provision, args=(state, 1), daemon=True).start()

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

    def _reclaim_loop(self):
        while not self._closed.wait(min(1.0, max(0.05, self.keep_alive_s / 10))):
            try:
                self.reclaim_idle()
            except Exception:
                pass

    def shutdown(self):
        self._closed.set()
        with self._lock:
            envs = [env for state in self._functions.values()
                    for env in state.idle + state.provisioned_idle + list(state.busy)]
            self._functions.clear()
        for env in envs:
            env.discard()

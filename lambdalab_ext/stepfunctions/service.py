"""Step Functions in a running lab: state machines, executions on the lab clock, the API on the endpoint.

``attach(lab)`` returns a :class:`StepFunctionsService`: the interpreter (``interpreter.py``) on
``lab.clock`` with Task states run by :class:`~.runner.LabTaskRunner` (the lab's real functions
and embedded services), a registry of state machines, and the Step Functions API answering
``stepfunctions`` clients on the lab's endpoint (``api.py``). The short Python form:

>>> sfn = attach(lab)                                                                  # doctest: +SKIP
>>> sfn.create("Hello", {"StartAt": "Hi", "States": {"Hi": {"Type": "Pass", "End": True}}})  # doctest: +SKIP
>>> sfn.run("Hello", {"who": "Ada"}).output                                             # doctest: +SKIP
{'who': 'Ada'}

``run`` waits for the end on either clock: on a ``VirtualClock`` it advances the clock from one
scheduled call to the next until the execution ends (so a one-hour Wait takes no real time, and the
lab's other timers, keep-alive included, run at their moments on the way), or until Step Functions
has nothing of its own scheduled (a task waiting for a token nobody sent); on a ``RealClock`` it
waits. ``start`` returns at once.

Standard and Express as AWS has them ("Execution guarantees", Step Functions Developer Guide):

- a Standard execution runs exactly once; its name is its own for 90 days (on the lab clock), and a
  second ``StartExecution`` with the same name and input while it runs is answered with the first;
- an Express execution runs at least once when started asynchronously and at most once with
  ``StartSyncExecution`` (the lab runs each exactly once); it lasts at most five minutes
  (``States.Timeout`` after that) and runs no ``.sync`` or ``.waitForTaskToken`` task; the API's
  ``DescribeExecution``, ``GetExecutionHistory`` and ``StopExecution`` refuse it. AWS sends Express
  histories to CloudWatch Logs; the lab writes no log group, and keeps each history on its
  :class:`~.interpreter.Execution` (``execution.history``) for the diagrams.
"""

import dataclasses
import json
import re
import threading
import time
import uuid

from . import definition as asl
from . import errors
from .interpreter import EXPRESS, RUNNING, STANDARD, Interpreter
from .runner import LabTaskRunner

EXPRESS_MAX_DURATION_S = 300                # "Maximum duration: 5 minutes" (Standard vs. Express)
NAME_REUSE_S = 90 * 24 * 3600               # a Standard execution's name is reserved for 90 days
_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")


class StateMachineDoesNotExist(errors.StepFunctionsApiError):
    code = "StateMachineDoesNotExist"


class StateMachineAlreadyExists(errors.StepFunctionsApiError):
    code = "StateMachineAlreadyExists"


class StateMachineTypeNotSupported(errors.StepFunctionsApiError):
    code = "StateMachineTypeNotSupported"


class ExecutionDoesNotExist(errors.StepFunctionsApiError):
    code = "ExecutionDoesNotExist"


class InvalidArn(errors.StepFunctionsApiError):
    code = "InvalidArn"


class InvalidName(errors.StepFunctionsApiError):
    code = "InvalidName"


class ValidationException(errors.StepFunctionsApiError):
    code = "ValidationException"


@dataclasses.dataclass
class StateMachine:
    """One state machine as ``DescribeStateMachine`` describes it."""

    name: str
    arn: str
    definition: str                 # ASL JSON text, as the API keeps it
    type: str
    role_arn: str
    creation_date: float            # epoch seconds (lab wall time)
    update_date: float = None
    revision_id: str = None
    description: str = ""
    logging_configuration: dict = None
    tracing_configuration: dict = None

    @property
    def machine(self):
        return json.loads(self.definition)

    def describe(self):
        out = {"stateMachineArn": self.arn, "name": self.name, "status": "ACTIVE", "definition": self.definition,
               "roleArn": self.role_arn, "type": self.type, "creationDate": self.creation_date,
               "loggingConfiguration": self.logging_configuration or {"level": "OFF", "includeExecutionData": False},
               "tracingConfiguration": self.tracing_configuration or {"enabled": False}}
        if self.revision_id:
            out["revisionId"] = self.revision_id
        if self.description:
            out["description"] = self.description
        return out


def check_name(name, what="name"):
    """A state machine or execution name as AWS accepts it (1-80 characters, none of
    whitespace, brackets, wildcards and the special characters); raises ``InvalidName``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidName(f"Invalid Name: '{name}'")
    return name


class _OwnClock:
    """The lab clock as Step Functions uses it, keeping the calls it schedules (Waits, retries,
    timeouts, task ends), so that ``wait`` knows when nothing of its own is left to happen."""

    def __init__(self, clock):
        self.clock = clock
        self.virtual = clock.virtual
        self._calls = set()
        self._lock = threading.Lock()

    def now(self):
        return self.clock.now()

    def call_at(self, when, fn, *args, name=None):
        call = self.clock.call_at(when, fn, *args, name=name)
        with self._lock:
            self._calls.add(call)
        return call

    def call_later(self, delay, fn, *args, name=None):
        return self.call_at(self.clock.now() + max(0.0, float(delay)), fn, *args, name=name)

    def busy(self):
        """Whether any call of Step Functions' own is still to run."""
        with self._lock:
            self._calls = {c for c in self._calls if not (c.done or c.cancelled)}
            return bool(self._calls)


class StepFunctionsService:
    """Step Functions inside ``lab`` (see the module docstring). ``seed`` makes execution names and
    task tokens reproducible."""

    def __init__(self, lab, *, seed=None):
        self.lab = lab
        self.clock = lab.clock
        self.region = lab.region
        self.account_id = lab.account_id
        self._clock = _OwnClock(lab.clock)
        self.runner = LabTaskRunner(lab, clock=self._clock)
        self.interpreter = Interpreter(self._clock, self.runner, seed=seed, region=lab.region,
                                       account_id=lab.account_id)
        self.state_machines = {}                # ARN -> StateMachine
        self._lock = threading.RLock()
        self._closed = False
        from .api import StepFunctionsAPI
        self.api = StepFunctionsAPI(self)
        self._stop = lab.aws.intercept(self.api.intercept)

    # -- life -------------------------------------------------------------------------------------
    def close(self):
        """Stop answering the API, drop every pending clock call of running executions (their
        Waits, retries, timeouts and tasks), and stop the task runner."""
        if self._closed:
            return
        self._closed = True
        self._stop()
        with self.interpreter._lock:
            for execution in list(self.interpreter.executions.values()):
                if execution.done:
                    continue
                if execution._timeout_call is not None:
                    execution._timeout_call.cancel()
                if execution._top is not None:
                    execution._top.cancel()
            for attempt in list(self.interpreter._tokens.values()):
                attempt.close()
        self.runner.close()

    # -- names and ARNs ---------------------------------------------------------------------------
    def wall(self):
        """The lab's wall time (epoch seconds): what the API's dates read."""
        return self.interpreter._wall()

    def state_machine_arn(self, name):
        return f"arn:aws:states:{self.region}:{self.account_id}:stateMachine:{name}"

    def get(self, name_or_arn):
        """The state machine by name or ARN; raises ``StateMachineDoesNotExist``."""
        arn = name_or_arn if str(name_or_arn).startswith("arn:") else self.state_machine_arn(name_or_arn)
        with self._lock:
            machine = self.state_machines.get(arn)
        if machine is None:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return machine

    def check_definition(self, definition, workflow_type):
        """The definition as ASL text, validated for ``workflow_type``; raises ``InvalidDefinition``."""
        machine = asl.load(definition)
        if workflow_type == EXPRESS:
            for where, state in _all_states(machine):
                resource = state.get("Resource", "") if state.get("Type") == "Task" else ""
                for pattern in (".sync", ".waitForTaskToken"):
                    if isinstance(resource, str) and pattern in resource:
                        raise errors.InvalidDefinition(
                            f"Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine "
                            f"does not support '{pattern}' service integration at {where}/Resource'")
        return definition if isinstance(definition, str) else json.dumps(definition, indent=2)

    # -- the short Python form ------------------------------------------------------------------------
    def create(self, name, definition, type=STANDARD, role_arn=None):
        """Create the state machine ``name`` (or, as a re-run cell expects, give an existing one
        this definition and type); returns the :class:`StateMachine`."""
        arn = self.state_machine_arn(check_name(name))
        with self._lock:
            if arn in self.state_machines:
                self.api.call("UpdateStateMachine", {"stateMachineArn": arn, "definition": _text(definition)})
                self.state_machines[arn].type = type
                return self.state_machines[arn]
        self.api.call("CreateStateMachine", {"name": name, "definition": _text(definition), "type": type,
                                             "roleArn": role_arn or self.default_role_arn()})
        return self.state_machines[arn]

    def client(self):
        """A boto3 ``stepfunctions`` client on the lab's endpoint. It sends StartSyncExecution to the
        endpoint itself: AWS serves that operation on a ``sync-`` host, which boto3 would put in
        front of 127.0.0.1 (``inject_host_prefix=False``)."""
        import botocore.config
        return self.lab.aws.client("stepfunctions", config=botocore.config.Config(inject_host_prefix=False))

    def default_role_arn(self):
        return f"arn:aws:iam::{self.account_id}:role/StepFunctionsRole"

    def start(self, name_or_arn, input=None, *, name=None):
        """``StartExecution``: returns the :class:`~.interpreter.Execution` at once."""
        machine = self.get(name_or_arn)
        return self.start_execution(machine, input, name)

    def run(self, name_or_arn, input=None, *, name=None, timeout_s=120.0):
        """Start an execution and wait for its end (see the module docstring); returns it."""
        return self.wait(self.start(name_or_arn, input, name=name), timeout_s=timeout_s)

    def wait(self, execution, timeout_s=120.0, *, limit_s=366 * 24 * 3600.0):
        """Wait for ``execution`` to end: on a ``VirtualClock`` by advancing the clock to each
        scheduled call in turn (at most ``limit_s`` of lab time) while Step Functions itself has
        something scheduled, on a ``RealClock`` for at most ``timeout_s`` real seconds. Returns the
        execution: still RUNNING if it waits for what only the outside can give (a task token with
        no heartbeat or timeout to run out, on a virtual clock, returns at once)."""
        deadline = time.monotonic() + timeout_s
        if self.clock.virtual:
            horizon = self.clock.now() + limit_s
            while not execution.done and time.monotonic() < deadline and self._clock.busy():
                pending = self.clock.pending()
                if not pending or pending[0].when > horizon:
                    break
                self.clock.advance(max(0.0, pending[0].when - self.clock.now()))
            return execution
        while not execution.done and time.monotonic() < deadline:
            time.sleep(0.002)
        return execution

    def executions(self, name_or_arn=None):
        """The executions the lab has run (of one state machine, if named), oldest first."""
        arn = self.get(name_or_arn).arn if name_or_arn is not None else None
        return [e for e in self.interpreter.executions.values() if arn is None or e.state_machine_arn == arn]

    def lambda_results(self, execution):
        """The ``InvocationResult`` of every function the execution's tasks ran."""
        return list(self.runner.results.get(execution.execution_arn, []))

    # -- executions -------------------------------------------------------------------------------------
    def start_execution(self, machine, input, name, *, trace_header=None):
        if input is None:
            input = {}
        if isinstance(input, str):
            try:
                parsed = json.loads(input)
            except json.JSONDecodeError as exc:
                raise errors.InvalidExecutionInput(f"Invalid State Machine Execution Input: '{exc.msg}'") from None
        else:
            parsed = input
        if name is not None:
            check_name(name)
        else:
            name = str(uuid.UUID(int=self.interpreter.rng.getrandbits(128), version=4))
        definition = machine.machine
        if machine.type == EXPRESS:
            # The five-minute limit of Express workflows, as an execution timeout on the lab clock.
            definition["TimeoutSeconds"] = min(definition.get("TimeoutSeconds", EXPRESS_MAX_DURATION_S),
                                               EXPRESS_MAX_DURATION_S)
        arn = f"arn:aws:states:{self.region}:{self.account_id}:execution:{machine.name}:{name}"
        with self.interpreter._lock:
            existing = self.interpreter.executions.get(arn) if machine.type == STANDARD else None
            if existing is not None:
                if existing.status == RUNNING and existing.input == parsed:
                    return existing         # StartExecution is idempotent for a running Standard execution
                closed = existing.stop_date.timestamp() if existing.stop_date else None
                if closed is None or self.wall() - closed < NAME_REUSE_S:
                    raise errors.ExecutionAlreadyExists(f"Execution Already Exists: '{arn}'")
                del self.interpreter.executions[arn]
            execution = self.interpreter.start_execution(definition, parsed, name=name,
                                                         state_machine_arn=machine.arn, type=machine.type,
                                                         role_arn=machine.role_arn)
        execution.trace_header = trace_header
        return execution

    def execution(self, arn):
        """The execution by ARN; raises ``InvalidArn`` or ``ExecutionDoesNotExist`` as the API does."""
        if not isinstance(arn, str) or not arn.startswith("arn:aws"):
            raise InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {arn}'")
        parts = arn.split(":")
        if len(parts) < 8 or parts[2] != "states":
            raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        if parts[5] == "express":
            raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: express'")
        if parts[5] != "execution":
            raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {parts[5]}'")
        execution = self.interpreter.executions.get(arn)
        if execution is None or execution.type != STANDARD:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return execution


def _text(definition):
    return definition if isinstance(definition, str) else json.dumps(definition)


def _all_states(machine, where=""):
    for name, state in (machine.get("States") or {}).items():
        here = f"{where}/States/{name}"
        yield here, state
        for i, branch in enumerate(state.get("Branches") or []):
            yield from _all_states(branch, f"{here}/Branches[{i}]")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, dict):
            yield from _all_states(processor, f"{here}/ItemProcessor")


def attach(lab, *, seed=None):
    """Step Functions in ``lab``: its API on the lab's endpoint and the Python form; ``close()`` it
    (the lab does, from its sources, once it calls this). A lab that already has one open
    (``lab.stepfunctions``) gets that one back (``seed`` then applies only to a new one): two
    services on one endpoint would each see only their own state machines."""
    existing = getattr(lab, "stepfunctions", None)
    if isinstance(existing, StepFunctionsService) and not existing._closed:
        return existing
    return StepFunctionsService(lab, seed=seed)

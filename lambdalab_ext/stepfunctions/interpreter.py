"""The Step Functions workflow interpreter: executions of Amazon States Language state machines
on the lab's clock, with Task states delegated to a task runner.

Every Wait, retry interval and timeout is a call scheduled on the clock (``clock.call_later``), never
a sleeping thread: on a ``VirtualClock`` a workflow with a one-hour Wait finishes when the clock
is advanced an hour, while every Task still runs. Tasks are asynchronous (the runner answers
through callbacks), so Parallel branches and Map iterations run concurrently.

>>> from lambdalab_ext.clock import VirtualClock
>>> from lambdalab_ext.stepfunctions.integrations import CallableTaskRunner
>>> clock = VirtualClock()
>>> runner = CallableTaskRunner(functions={"Double": lambda event: event["n"] * 2})
>>> sfn = Interpreter(clock, runner)
>>> execution = sfn.start_execution({
...     "StartAt": "Nap", "States": {
...         "Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Double"},
...         "Double": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Double",
...                    "End": True}}}, {"n": 21})
>>> execution.status
'RUNNING'
>>> clock.advance(3600)
>>> execution.status, execution.output, clock.now()
('SUCCEEDED', 42, 3600.0)
"""

import collections
import copy
import datetime
import json
import random
import threading
import time
import uuid

from . import definition as asl
from . import errors, jsonata_lang, paths
from .errors import StatesError
from .history import ExecutionHistory, to_json_text
from .integrations import WAIT_FOR_TASK_TOKEN, TaskRequest, parse_resource

MAX_PAYLOAD_BYTES = 256 * 1024
STANDARD, EXPRESS = "STANDARD", "EXPRESS"
RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED = "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"
_VIRTUAL_EPOCH = 1735689600.0   # 2025-01-01T00:00:00Z: what a virtual clock's zero reads as


def iso_timestamp(dt):
    """``2025-01-01T00:00:00.000Z``: timestamps as the Context Object carries them."""
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_timestamp(value):
    """An ISO 8601 timestamp of the States Language (``2016-03-14T01:59:00Z``) as a ``datetime``;
    ``None`` for anything else."""
    if not isinstance(value, str) or "T" not in value:
        return None
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return dt


class VariableScope:
    """Workflow variables of one scope: the top level, a Parallel branch or a Map iteration.

    An inner scope reads the variables of the scopes around it; what it assigns stays its own and
    is gone when the branch or iteration ends (data leaves a branch through its output).
    """

    def __init__(self, parent=None):
        self.parent = parent
        self.values = {}

    def lookup(self, name):
        scope = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        raise KeyError(name)

    def visible(self):
        chain = []
        scope = self
        while scope is not None:
            chain.append(scope.values)
            scope = scope.parent
        out = {}
        for values in reversed(chain):
            out.update(values)
        return out

    def assign(self, values):
        self.values.update(values)


class Execution:
    """One execution of a state machine: status, output or error, history, transitions.

    ``status`` is RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED; ``state_transitions`` counts
    what Standard workflows are billed for (each state entered, and each retry).
    """

    def __init__(self, interpreter, arn, name, state_machine_arn, workflow_type, input_value, start):
        self.interpreter = interpreter
        self.execution_arn = arn
        self.name = name
        self.state_machine_arn = state_machine_arn
        self.type = workflow_type
        self.input = input_value
        self.status = RUNNING
        self.output = None
        self.error = None
        self.cause = None
        self.start_date = start
        self.stop_date = None
        self.history = ExecutionHistory()
        self.state_transitions = 0
        self._top = None
        self._timeout_call = None

    @property
    def done(self):
        return self.status != RUNNING

    def stop(self, error=None, cause=None):
        """``StopExecution``: abort a running execution (its timers and tasks are cancelled)."""
        self.interpreter._post(self.interpreter._abort, self, error, cause)

    def send_task_success(self, task_token, output):
        self.interpreter.send_task_success(task_token, output)

    def send_task_failure(self, task_token, error=None, cause=None):
        self.interpreter.send_task_failure(task_token, error, cause)

    def send_task_heartbeat(self, task_token):
        self.interpreter.send_task_heartbeat(task_token)

    def describe(self):
        """The execution as ``DescribeExecution`` returns it."""
        out = {
            "executionArn": self.execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": self.start_date,
            "input": to_json_text(self.input),
            "inputDetails": {"included": True},
        }
        if self.stop_date is not None:
            out["stopDate"] = self.stop_date
        if self.status == SUCCEEDED:
            out["output"] = to_json_text(self.output)
            out["outputDetails"] = {"included": True}
        if self.error is not None:
            out["error"] = self.error
        if self.cause is not None:
            out["cause"] = self.cause
        return out

    def __repr__(self):
        return f"<Execution {self.name} {self.status}>"


class _Run:
    """The states of one scope running: the top level, one Parallel branch or one Map iteration."""

    def __init__(self, interp, execution, machine, scope, on_success, on_failure):
        self.interp = interp
        self.execution = execution
        self.machine = machine           # {"States": ..., "StartAt": ..., "QueryLanguage": ...}
        self.scope = scope
        self.on_success = on_success
        self.on_failure = on_failure
        self.last_event_id = 0
        self.cancelled = False
        self.finished = False
        self.visit = None                # the state in progress
        self.map_index = None            # which item, for a Map iteration

    def event(self, event_type, **details):
        if self.execution.done and not event_type.startswith("Execution") and not event_type.endswith("Aborted"):
            return self.last_event_id
        self.last_event_id = self.execution.history.add(event_type, self.interp._wall(), self.last_event_id, **details)
        return self.last_event_id

    def start(self, input_value, previous_event_id):
        self.last_event_id = previous_event_id
        self.interp._post(self.enter, self.machine["StartAt"], input_value)

    def enter(self, name, input_value):
        if self.cancelled or self.finished:
            return
        state = self.machine["States"][name]
        self.execution.state_transitions += 1
        visit = _Visit(self, name, state, input_value)
        self.visit = visit
        try:
            self.interp._check_size(input_value, name, "input")
            _HANDLERS[state["Type"]](self.interp, visit)
        except StatesError as exc:
            visit.error(exc)

    def finish(self, output):
        if self.cancelled or self.finished:
            return
        self.finished = True
        self.visit = None
        self.on_success(output)

    def fail(self, exc):
        if self.cancelled or self.finished:
            return
        self.finished = True
        self.visit = None
        self.on_failure(exc)

    def cancel(self):
        """Stop everything this run is doing, writing the Aborted event of its state in progress."""
        if self.cancelled or self.finished:
            return
        self.cancelled = True
        visit = self.visit
        if visit is not None:
            visit.cancel_work()
            if visit.state["Type"] in ("Task", "Wait", "Parallel", "Map"):
                self.event(f"{visit.state['Type']}StateAborted", name=visit.name)


class _Visit:
    """One entry into one state: its input, the retriers' counts, what it is waiting for."""

    def __init__(self, run, name, state, raw_input):
        self.run = run
        self.interp = run.interp
        self.name = name
        self.state = state
        self.raw_input = raw_input
        self.jsonata = asl.query_language(state, run.machine) == asl.JSONATA
        self.entered_event_id = None
        self.entered_time = self.interp._wall_dt()
        self.retry_counts = [0] * len(state.get("Retry", []))
        self.retry_count = 0
        self.calls = []          # clock calls and runner handles to cancel
        self.attempt = None      # the task attempt in flight
        self.children = []

    # --- context, variables, data --------------------------------------------------------
    def context(self, **extra):
        execution = self.run.execution
        ctx = {
            "Execution": {
                "Id": execution.execution_arn,
                "Input": execution.input,
                "Name": execution.name,
                "RoleArn": self.interp._role_arn(execution),
                "StartTime": iso_timestamp(execution.start_date),
                "RedriveCount": 0,
            },
            "State": {"EnteredTime": iso_timestamp(self.entered_time), "Name": self.name,
                      "RetryCount": self.retry_count},
            "StateMachine": {"Id": execution.state_machine_arn,
                             "Name": execution.state_machine_arn.rsplit(":", 1)[-1]},
        }
        ctx.update(extra)
        return ctx

    def lookup(self, name):
        return self.run.scope.lookup(name)

    def states_var(self, **extra):
        out = {"input": self.raw_input, "context": self.context()}
        out.update(extra)
        return out

    def jsonata_value(self, value, field, **states_extra):
        return jsonata_lang.evaluate_template(value, self.states_var(**states_extra), self.run.scope.visible(),
                                              rng=self.interp._rng, field=field)

    def template(self, template, data, context=None):
        return paths.resolve_payload_template(template, data, context=context or self.context(),
                                              variables=self.lookup, intrinsics=self.interp)

    def select(self, data, path):
        return paths.select(data, path, context=self.context(), variables=self.lookup)

    def effective_input(self):
        """InputPath then Parameters (or, in JSONata, nothing: Arguments are evaluated apart)."""
        state = self.state
        data = paths.apply_input_path(self.raw_input, state.get("InputPath", "$"), context=self.context(),
                                      variables=self.lookup)
        if "Parameters" in state:
            data = self.template(state["Parameters"], data)
        return data

    def output_of(self, result, *, selector=True):
        """ResultSelector, ResultPath and OutputPath applied to a result (JSONPath states)."""
        state = self.state
        if selector and "ResultSelector" in state:
            result = self.template(state["ResultSelector"], result)
        combined = paths.apply_result_path(self.raw_input, state.get("ResultPath", "$"), result)
        return result, paths.apply_output_path(combined, state.get("OutputPath", "$"), context=self.context(),
                                               variables=self.lookup)

    def assignments(self, assign, data=None, **states_extra):
        if not assign:
            return {}
        if self.jsonata:
            return self.jsonata_value(assign, "Assign", **states_extra)
        return self.template(assign, data)

    # --- leaving the state -------------------------------------------------------------
    def exit(self, output, next_state=None, assigned=None):
        """Write the StateExited event, assign variables, go to ``next_state`` (by default the
        state's ``Next``, or the end of the run for an ``End`` state)."""
        run = self.run
        self.interp._check_size(output, self.name, "output")
        if assigned:
            run.scope.assign(assigned)
        details = {"name": self.name, "output": output}
        if assigned:
            details["assignedVariables"] = {k: to_json_text(v) for k, v in assigned.items()}
            details["assignedVariablesDetails"] = {"truncated": False}
        run.event(f"{self.state['Type']}StateExited", **details)
        run.visit = None
        if next_state is None and not self.state.get("End"):
            next_state = self.state.get("Next")
        if next_state is None:
            run.finish(output)
        else:
            self.interp._post(run.enter, next_state, output)

    def cancel_work(self):
        for call in self.calls:
            try:
                call.cancel()
            except Exception:   # a runner's handle may fail to cancel; the state is gone either way
                pass
        self.calls = []
        if self.attempt is not None:
            self.attempt.close()
        for child in self.children:
            child.cancel()

    def error(self, exc):
        """A failure in this state: retry it, catch it, or fail the run."""
        run = self.run
        if run.cancelled or run.finished:
            return
        self.cancel_work()
        if exc.error == errors.RUNTIME and not exc.cause.startswith("An error occurred while executing"):
            exc = errors.runtime_error(self.name, self.entered_event_id or run.last_event_id, exc.cause)
        if exc.error not in errors.TERMINAL:
            for i, retrier in enumerate(self.state.get("Retry", [])):
                if errors.error_matches(retrier.get("ErrorEquals", []), exc.error):
                    if self.retry_counts[i] < retrier.get("MaxAttempts", 3):
                        self.retry_counts[i] += 1
                        self.retry_count += 1
                        run.execution.state_transitions += 1
                        delay = self.interp._retry_delay(retrier, self.retry_counts[i])
                        self.calls.append(self.interp._later(delay, self._retry, name=f"retry {self.name}"))
                        return
                    break
            for catcher in self.state.get("Catch", []):
                if errors.error_matches(catcher.get("ErrorEquals", []), exc.error):
                    try:
                        self._catch(catcher, exc)
                    except StatesError as inner:
                        run.fail(inner)
                    return
        run.fail(exc)

    def _retry(self):
        if self.run.cancelled or self.run.finished:
            return
        try:
            _ATTEMPTS[self.state["Type"]](self.interp, self)
        except StatesError as exc:
            self.error(exc)

    def _catch(self, catcher, exc):
        error_output = exc.error_output()
        if self.jsonata:
            output = (self.jsonata_value(catcher["Output"], "Output", errorOutput=error_output)
                      if "Output" in catcher else error_output)
            assigned = self.assignments(catcher.get("Assign"), errorOutput=error_output)
        else:
            output = paths.apply_result_path(self.raw_input, catcher.get("ResultPath", "$"), error_output)
            assigned = self.assignments(catcher.get("Assign"), error_output)
        self.exit(output, catcher["Next"], assigned)


class _Attempt:
    """One attempt of a Task: its token, timers, and the guard against late answers."""

    def __init__(self, visit, request, resource):
        self.visit = visit
        self.request = request
        self.resource = resource
        self.open = True
        self.timers = {}
        self.handle = None

    def close(self):
        if not self.open:
            return
        self.open = False
        for timer in self.timers.values():
            timer.cancel()
        if self.handle is not None and hasattr(self.handle, "cancel"):
            try:
                self.handle.cancel()
            except Exception:   # the runner's business; the attempt is over for the interpreter
                pass
        self.visit.interp._tokens.pop(self.request.task_token, None)


# ------------------------------------------------------------------------------------ state types

def _task(interp, visit):
    visit.entered_event_id = visit.run.event("TaskStateEntered", name=visit.name, input=visit.raw_input)
    _task_attempt(interp, visit)


def _number_field(visit, data, name):
    """TimeoutSeconds/HeartbeatSeconds: a number, a ``...Path`` (JSONPath) or an expression (JSONata)."""
    state = visit.state
    if name in state:
        value = state[name]
        if visit.jsonata and jsonata_lang.is_expression(value):
            value = visit.jsonata_value(value, name)
    elif name + "Path" in state:
        try:
            value = visit.select(data, state[name + "Path"])
        except paths.PathNotFound:
            raise StatesError(errors.RUNTIME, f"The {name}Path '{state[name + 'Path']}' could not be found "
                                              f"in the input") from None
    else:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise StatesError(errors.RUNTIME, f"The value of {name} must be a positive integer, not {json.dumps(value)}")
    return value


def _task_attempt(interp, visit):
    state = visit.state
    resource = parse_resource(state["Resource"])
    token = None
    if resource.pattern == WAIT_FOR_TASK_TOKEN or resource.kind == "activity":
        token = interp._new_token()
    context = visit.context(**({"Task": {"Token": token}} if token else {}))
    if visit.jsonata:
        data = visit.raw_input
        arguments = (jsonata_lang.evaluate_template(state["Arguments"], {"input": visit.raw_input, "context": context},
                                                    visit.run.scope.visible(), rng=interp._rng, field="Arguments")
                     if "Arguments" in state else visit.raw_input)
    else:
        data = paths.apply_input_path(visit.raw_input, state.get("InputPath", "$"), context=context,
                                      variables=visit.lookup)
        arguments = (paths.resolve_payload_template(state["Parameters"], data, context=context,
                                                    variables=visit.lookup, intrinsics=interp)
                     if "Parameters" in state else data)
    interp._check_size(arguments, visit.name, "parameters")
    timeout = _number_field(visit, data, "TimeoutSeconds")
    heartbeat = _number_field(visit, data, "HeartbeatSeconds")
    request = TaskRequest(resource, copy.deepcopy(arguments), context, token, timeout, heartbeat,
                          visit.run.execution.execution_arn, visit.name, visit.retry_count)
    attempt = _Attempt(visit, request, resource)
    visit.attempt = attempt
    run = visit.run
    if resource.kind == "lambda-function":
        run.event("LambdaFunctionScheduled", resource=resource.arn, input=arguments,
                  timeoutInSeconds=int(timeout) if timeout else None)
    else:
        run.event("TaskScheduled", resourceType=resource.resource_type, resource=resource.resource_name,
                  region=resource.region or interp.region, parameters=to_json_text(arguments),
                  timeoutInSeconds=int(timeout) if timeout else None,
                  heartbeatInSeconds=int(heartbeat) if heartbeat else None)
    if token:
        interp._tokens[token] = attempt
    if timeout:
        attempt.timers["timeout"] = interp._later(timeout, _task_timed_out, attempt, errors.TIMEOUT,
                                                  name=f"timeout {visit.name}")
    if heartbeat:
        attempt.timers["heartbeat"] = interp._later(heartbeat, _task_timed_out, attempt, errors.HEARTBEAT_TIMEOUT,
                                                    name=f"heartbeat {visit.name}")

    def on_success(result):
        interp._post(_task_answered, attempt, True, result, None)

    def on_failure(error, cause=None):
        interp._post(_task_answered, attempt, False, error, cause)

    if resource.kind == "lambda-function":
        run.event("LambdaFunctionStarted")
    else:
        run.event("TaskStarted", resourceType=resource.resource_type, resource=resource.resource_name)
    attempt.handle = interp.runner.start(request, on_success, on_failure)


def _task_answered(attempt, ok, value, cause):
    if not attempt.open:
        return
    visit = attempt.visit
    run = visit.run
    if run.cancelled or run.finished:
        return
    resource = attempt.resource
    lambda_style = resource.kind == "lambda-function"
    if ok and resource.pattern == WAIT_FOR_TASK_TOKEN and not getattr(attempt, "token_answer", False):
        # The API call went out (the message with the token is sent); now wait for the token.
        run.event("TaskSubmitted", resourceType=resource.resource_type, resource=resource.resource_name,
                  output=value)
        attempt.handle = None
        return
    if not ok:
        attempt.close()
        error = value or ""
        if lambda_style:
            run.event("LambdaFunctionFailed", error=error, cause=cause or "")
        else:
            run.event("TaskFailed", resourceType=resource.resource_type, resource=resource.resource_name,
                      error=error, cause=cause or "")
        visit.error(StatesError(error, cause or ""))
        return
    attempt.close()
    try:
        visit.interp._check_size(value, visit.name, "result")
    except StatesError as exc:
        visit.error(exc)
        return
    if lambda_style:
        run.event("LambdaFunctionSucceeded", output=value)
    else:
        run.event("TaskSucceeded", resourceType=resource.resource_type, resource=resource.resource_name, output=value)
    try:
        _complete_with_result(visit, value)
    except StatesError as exc:
        visit.error(exc)


def _complete_with_result(visit, result):
    """Turn a Task, Parallel or Map result into the state's output and leave the state."""
    state = visit.state
    if visit.jsonata:
        output = visit.jsonata_value(state["Output"], "Output", result=result) if "Output" in state else result
        assigned = visit.assignments(state.get("Assign"), result=result)
    else:
        effective_result, output = visit.output_of(result)
        assigned = visit.assignments(state.get("Assign"), effective_result)
    visit.exit(output, assigned=assigned)


def _task_timed_out(attempt, error):
    if not attempt.open:
        return
    visit = attempt.visit
    run = visit.run
    attempt.close()
    if attempt.resource.kind == "lambda-function":
        run.event("LambdaFunctionTimedOut", error=error, cause="")
    else:
        run.event("TaskTimedOut", resourceType=attempt.resource.resource_type,
                  resource=attempt.resource.resource_name, error=error, cause="")
    visit.error(StatesError(error, ""))


def _pass(interp, visit):
    state = visit.state
    visit.entered_event_id = visit.run.event("PassStateEntered", name=visit.name, input=visit.raw_input)
    if visit.jsonata:
        output = visit.jsonata_value(state["Output"], "Output") if "Output" in state else visit.raw_input
        visit.exit(output, assigned=visit.assignments(state.get("Assign")))
        return
    result = state["Result"] if "Result" in state else visit.effective_input()
    _, output = visit.output_of(result, selector=False)
    visit.exit(output, assigned=visit.assignments(state.get("Assign"), result))


def _succeed(interp, visit):
    state = visit.state
    visit.entered_event_id = visit.run.event("SucceedStateEntered", name=visit.name, input=visit.raw_input)
    if visit.jsonata:
        output = visit.jsonata_value(state["Output"], "Output") if "Output" in state else visit.raw_input
    else:
        data = paths.apply_input_path(visit.raw_input, state.get("InputPath", "$"), context=visit.context(),
                                      variables=visit.lookup)
        output = paths.apply_output_path(data, state.get("OutputPath", "$"), context=visit.context(),
                                         variables=visit.lookup)
    visit.run.event("SucceedStateExited", name=visit.name, output=output)
    visit.run.visit = None
    visit.run.finish(output)


def _fail(interp, visit):
    state = visit.state
    visit.entered_event_id = visit.run.event("FailStateEntered", name=visit.name, input=visit.raw_input)
    error, cause = state.get("Error"), state.get("Cause")
    if visit.jsonata:
        error = visit.jsonata_value(error, "Error") if error is not None else None
        cause = visit.jsonata_value(cause, "Cause") if cause is not None else None
    else:
        for field in ("Error", "Cause"):
            if field + "Path" in state:
                expression = state[field + "Path"]
                if expression.startswith("$"):
                    try:
                        value = visit.select(visit.raw_input, expression)
                    except paths.PathNotFound:
                        raise StatesError(errors.RUNTIME, f"The {field}Path '{expression}' could not be found "
                                                          f"in the input '{to_json_text(visit.raw_input)}'") from None
                else:
                    value = visit.template({"v.$": expression}, visit.raw_input)["v"]
                if not isinstance(value, str):
                    raise StatesError(errors.RUNTIME, f"The {field}Path '{expression}' must select a string, "
                                                      f"not {to_json_text(value)}")
                if field == "Error":
                    error = value
                else:
                    cause = value
    visit.run.visit = None
    visit.run.fail(StatesError(error if error is not None else "", cause))


def _wait(interp, visit):
    state = visit.state
    visit.entered_event_id = visit.run.event("WaitStateEntered", name=visit.name, input=visit.raw_input)
    if visit.jsonata:
        data = visit.raw_input
    else:
        data = paths.apply_input_path(visit.raw_input, state.get("InputPath", "$"), context=visit.context(),
                                      variables=visit.lookup)
    seconds = None
    timestamp = None
    if "Seconds" in state:
        seconds = state["Seconds"]
        if visit.jsonata and jsonata_lang.is_expression(seconds):
            seconds = visit.jsonata_value(seconds, "Seconds")
    elif "SecondsPath" in state:
        try:
            seconds = visit.select(data, state["SecondsPath"])
        except paths.PathNotFound:
            raise StatesError(errors.RUNTIME, f"The SecondsPath parameter does not reference a valid integer "
                                              f"in the input: '{state['SecondsPath']}'") from None
    elif "Timestamp" in state:
        timestamp = state["Timestamp"]
        if visit.jsonata and jsonata_lang.is_expression(timestamp):
            timestamp = visit.jsonata_value(timestamp, "Timestamp")
    elif "TimestampPath" in state:
        try:
            timestamp = visit.select(data, state["TimestampPath"])
        except paths.PathNotFound:
            raise StatesError(errors.RUNTIME, f"The TimestampPath parameter does not reference a valid ISO-8601 "
                                              f"extended offset date-time format string: '{state['TimestampPath']}'") from None
    if timestamp is not None:
        moment = parse_timestamp(timestamp)
        if moment is None:
            raise StatesError(errors.RUNTIME, f"The Timestamp '{timestamp}' is not a valid ISO-8601 extended offset "
                                              f"date-time format string")
        seconds = max(0.0, moment.timestamp() - interp._wall())
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        raise StatesError(errors.RUNTIME, f"The Wait seconds must be a non-negative integer, not {json.dumps(seconds)}")
    visit.calls.append(interp._later(seconds, _wait_over, visit, data, name=f"wait {visit.name}"))


def _wait_over(visit, data):
    if visit.run.cancelled or visit.run.finished:
        return
    state = visit.state
    try:
        if visit.jsonata:
            output = visit.jsonata_value(state["Output"], "Output") if "Output" in state else visit.raw_input
            assigned = visit.assignments(state.get("Assign"))
        else:
            output = paths.apply_output_path(data, state.get("OutputPath", "$"), context=visit.context(),
                                             variables=visit.lookup)
            assigned = visit.assignments(state.get("Assign"), data)
        visit.calls = []
        visit.exit(output, assigned=assigned)
    except StatesError as exc:
        visit.error(exc)


def _choice(interp, visit):
    state = visit.state
    visit.entered_event_id = visit.run.event("ChoiceStateEntered", name=visit.name, input=visit.raw_input)
    if visit.jsonata:
        data = visit.raw_input
    else:
        data = paths.apply_input_path(visit.raw_input, state.get("InputPath", "$"), context=visit.context(),
                                      variables=visit.lookup)
    chosen = None
    for rule in state.get("Choices", []):
        if _rule_matches(visit, rule, data):
            chosen = rule
            break
    if chosen is None:
        if "Default" not in state:
            raise StatesError(errors.NO_CHOICE_MATCHED, f"No Choice Rules matched and no Default is specified "
                                                        f"in the Choice state '{visit.name}'")
        chosen = {"Next": state["Default"]}
    # A rule's own Output/Assign apply when it is taken; the state's otherwise.
    output_spec = chosen.get("Output", state.get("Output"))
    assign_spec = chosen.get("Assign", state.get("Assign"))
    if visit.jsonata:
        output = visit.jsonata_value(output_spec, "Output") if output_spec is not None else visit.raw_input
    else:
        output = paths.apply_output_path(data, state.get("OutputPath", "$"), context=visit.context(),
                                         variables=visit.lookup)
    visit.exit(output, chosen["Next"], visit.assignments(assign_spec, data))


_COMPARISONS = {
    "StringEquals": ("string", lambda a, b: a == b),
    "StringLessThan": ("string", lambda a, b: a < b),
    "StringGreaterThan": ("string", lambda a, b: a > b),
    "StringLessThanEquals": ("string", lambda a, b: a <= b),
    "StringGreaterThanEquals": ("string", lambda a, b: a >= b),
    "NumericEquals": ("number", lambda a, b: a == b),
    "NumericLessThan": ("number", lambda a, b: a < b),
    "NumericGreaterThan": ("number", lambda a, b: a > b),
    "NumericLessThanEquals": ("number", lambda a, b: a <= b),
    "NumericGreaterThanEquals": ("number", lambda a, b: a >= b),
    "BooleanEquals": ("boolean", lambda a, b: a == b),
    "TimestampEquals": ("timestamp", lambda a, b: a == b),
    "TimestampLessThan": ("timestamp", lambda a, b: a < b),
    "TimestampGreaterThan": ("timestamp", lambda a, b: a > b),
    "TimestampLessThanEquals": ("timestamp", lambda a, b: a <= b),
    "TimestampGreaterThanEquals": ("timestamp", lambda a, b: a >= b),
}
COMPARISON_OPERATORS = tuple(_COMPARISONS) + tuple(op + "Path" for op in _COMPARISONS) + (
    "StringMatches", "IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")


def _typed(kind, value):
    """``value`` as the comparison's type, or ``None`` when it is not of that type."""
    if kind == "string":
        return value if isinstance(value, str) else None
    if kind == "number":
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    return parse_timestamp(value)


def string_matches(value, pattern):
    """``StringMatches``: ``*`` matches any run of characters; ``\\*`` and ``\\\\`` are literal."""
    import re
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), value, re.DOTALL) is not None


def _rule_matches(visit, rule, data):
    if "Condition" in rule:
        value = visit.jsonata_value(rule["Condition"], "Condition")
        if not isinstance(value, bool):
            raise StatesError(errors.QUERY_EVALUATION_ERROR,
                              f"The Condition '{rule['Condition']}' returned {to_json_text(value)}, not a boolean")
        return value
    if "And" in rule:
        return all(_rule_matches(visit, r, data) for r in rule["And"])
    if "Or" in rule:
        return any(_rule_matches(visit, r, data) for r in rule["Or"])
    if "Not" in rule:
        return not _rule_matches(visit, rule["Not"], data)
    variable = rule["Variable"]
    try:
        value = visit.select(data, variable)
        present = True
    except paths.PathNotFound:
        value, present = None, False
    if "IsPresent" in rule:
        return present == rule["IsPresent"]
    if not present:
        raise StatesError(errors.RUNTIME, f"Invalid path '{variable}': The choice state's condition path "
                                          f"references an invalid value.")
    for test, check in (("IsNull", lambda v: v is None), ("IsString", lambda v: isinstance(v, str)),
                        ("IsBoolean", lambda v: isinstance(v, bool)),
                        ("IsNumeric", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
                        ("IsTimestamp", lambda v: parse_timestamp(v) is not None)):
        if test in rule:
            return check(value) == rule[test]
    if "StringMatches" in rule:
        return isinstance(value, str) and string_matches(value, rule["StringMatches"])
    for operator, (kind, compare) in _COMPARISONS.items():
        if operator in rule or operator + "Path" in rule:
            if operator in rule:
                other = rule[operator]
            else:
                try:
                    other = visit.select(data, rule[operator + "Path"])
                except paths.PathNotFound:
                    raise StatesError(errors.RUNTIME, f"Invalid path '{rule[operator + 'Path']}': The choice "
                                                      f"state's condition path references an invalid value.") from None
            left, right = _typed(kind, value), _typed(kind, other)
            if left is None or right is None:
                return False
            return compare(left, right)
    raise StatesError(errors.RUNTIME, f"The Choice rule {to_json_text(rule)} has no comparison operator")


def _parallel(interp, visit):
    visit.entered_event_id = visit.run.event("ParallelStateEntered", name=visit.name, input=visit.raw_input)
    _parallel_attempt(interp, visit)


def _branch_input(visit):
    state = visit.state
    if visit.jsonata:
        return visit.jsonata_value(state["Arguments"], "Arguments") if "Arguments" in state else visit.raw_input
    return visit.effective_input()


def _parallel_attempt(interp, visit):
    state = visit.state
    run = visit.run
    branch_input = _branch_input(visit)
    run.event("ParallelStateStarted")
    branches = state["Branches"]
    results = [None] * len(branches)
    remaining = [len(branches)]
    visit.children = []
    if not branches:
        _parallel_done(visit, results)
        return

    for index, branch in enumerate(branches):
        def on_success(output, index=index):
            results[index] = output
            remaining[0] -= 1
            if remaining[0] == 0:
                _parallel_done(visit, results)

        def on_failure(exc):
            for child in visit.children:
                child.cancel()
            run.event("ParallelStateFailed")
            visit.error(exc)

        machine = dict(branch, QueryLanguage=branch.get("QueryLanguage", asl.query_language(state, run.machine)))
        child = _Run(interp, run.execution, machine, VariableScope(run.scope), on_success, on_failure)
        visit.children.append(child)
        child.start(copy.deepcopy(branch_input), run.last_event_id)


def _parallel_done(visit, results):
    run = visit.run
    visit.children = []
    run.event("ParallelStateSucceeded")
    try:
        _complete_with_result(visit, results)
    except StatesError as exc:
        visit.error(exc)


def _map(interp, visit):
    visit.entered_event_id = visit.run.event("MapStateEntered", name=visit.name, input=visit.raw_input)
    _map_attempt(interp, visit)


def _map_attempt(interp, visit):
    state = visit.state
    run = visit.run
    if visit.jsonata:
        items = visit.jsonata_value(state["Items"], "Items") if "Items" in state else visit.raw_input
        data = visit.raw_input
    else:
        data = paths.apply_input_path(visit.raw_input, state.get("InputPath", "$"), context=visit.context(),
                                      variables=visit.lookup)
        try:
            items = visit.select(data, state.get("ItemsPath", "$"))
        except paths.PathNotFound:
            raise StatesError(errors.RUNTIME, f"The ItemsPath '{state.get('ItemsPath')}' could not be found in "
                                              f"the input '{to_json_text(data)}'") from None
    if not isinstance(items, list):
        raise StatesError(errors.RUNTIME, f"Items of the Map state '{visit.name}' must be a JSON array, "
                                          f"not {to_json_text(items)[:200]}")
    concurrency = state.get("MaxConcurrency", 0)
    if visit.jsonata and jsonata_lang.is_expression(concurrency):
        concurrency = visit.jsonata_value(concurrency, "MaxConcurrency")
    elif "MaxConcurrencyPath" in state:
        concurrency = visit.select(data, state["MaxConcurrencyPath"])
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 0:
        raise StatesError(errors.RUNTIME, f"MaxConcurrency must be a non-negative integer, not {json.dumps(concurrency)}")
    tolerated_count = state.get("ToleratedFailureCount")
    if "ToleratedFailureCountPath" in state:
        tolerated_count = visit.select(data, state["ToleratedFailureCountPath"])
    tolerated_percentage = state.get("ToleratedFailurePercentage")
    if "ToleratedFailurePercentagePath" in state:
        tolerated_percentage = visit.select(data, state["ToleratedFailurePercentagePath"])
    if visit.jsonata:
        if jsonata_lang.is_expression(tolerated_count):
            tolerated_count = visit.jsonata_value(tolerated_count, "ToleratedFailureCount")
        if jsonata_lang.is_expression(tolerated_percentage):
            tolerated_percentage = visit.jsonata_value(tolerated_percentage, "ToleratedFailurePercentage")

    processor = state.get("ItemProcessor") or state.get("Iterator")
    machine = dict(processor, QueryLanguage=processor.get("QueryLanguage", asl.query_language(state, run.machine)))
    selector = state.get("ItemSelector", state.get("Parameters"))
    inputs = []
    for index, item in enumerate(items):
        if selector is None:
            inputs.append(item)
            continue
        map_context = {"Map": {"Item": {"Index": index, "Value": item}}}
        if visit.jsonata:
            ctx = visit.context(**map_context)
            inputs.append(jsonata_lang.evaluate_template(selector, {"input": visit.raw_input, "context": ctx},
                                                         run.scope.visible(), rng=interp._rng, field="ItemSelector"))
        else:
            inputs.append(visit.template(selector, data, context=visit.context(**map_context)))
    run.event("MapStateStarted", length=len(items))
    total = len(inputs)
    results = [None] * total
    progress = {"next": 0, "running": 0, "done": 0, "failed": 0, "over": False}
    visit.children = []

    def threshold_exceeded():
        failed = progress["failed"]
        if tolerated_count is None and tolerated_percentage is None:
            return failed > 0
        if tolerated_count is not None and failed > tolerated_count:
            return True
        if tolerated_percentage is not None and total and failed * 100.0 / total > tolerated_percentage:
            return True
        return False

    def finish_failed(exc):
        progress["over"] = True
        for child in visit.children:
            if not child.finished and not child.cancelled:
                child.cancel()
                run.event("MapIterationAborted", name=visit.name, index=child.map_index)
        run.event("MapStateFailed")
        visit.error(exc)

    def launch():
        while not progress["over"] and progress["next"] < total and (concurrency == 0 or progress["running"] < concurrency):
            index = progress["next"]
            progress["next"] += 1
            progress["running"] += 1
            run.event("MapIterationStarted", name=visit.name, index=index)

            def on_success(output, index=index):
                progress["running"] -= 1
                progress["done"] += 1
                results[index] = output
                run.event("MapIterationSucceeded", name=visit.name, index=index)
                settle()

            def on_failure(exc, index=index):
                progress["running"] -= 1
                progress["done"] += 1
                progress["failed"] += 1
                results[index] = exc.error_output()
                run.event("MapIterationFailed", name=visit.name, index=index)
                if threshold_exceeded():
                    if tolerated_count is None and tolerated_percentage is None:
                        finish_failed(exc)
                    else:
                        finish_failed(StatesError(errors.EXCEED_TOLERATED_FAILURE_THRESHOLD,
                                                  f"The specified tolerated failure threshold was exceeded "
                                                  f"({progress['failed']} of {total} items failed)"))
                    return
                settle()

            child = _Run(interp, run.execution, machine, VariableScope(run.scope), on_success, on_failure)
            child.map_index = index
            visit.children.append(child)
            child.start(copy.deepcopy(inputs[index]), run.last_event_id)

    def settle():
        if progress["over"]:
            return
        if progress["done"] == total:
            progress["over"] = True
            visit.children = []
            run.event("MapStateSucceeded")
            try:
                _complete_with_result(visit, results)
            except StatesError as exc:
                visit.error(exc)
            return
        launch()

    if total == 0:
        settle()
    else:
        launch()


_HANDLERS = {"Task": _task, "Pass": _pass, "Succeed": _succeed, "Fail": _fail, "Wait": _wait,
             "Choice": _choice, "Parallel": _parallel, "Map": _map}
_ATTEMPTS = {"Task": _task_attempt, "Parallel": _parallel_attempt, "Map": _map_attempt}


# ------------------------------------------------------------------------------------ interpreter

class Interpreter:
    """Runs state machine executions on ``clock``, Task states through ``runner``.

    ``seed`` makes everything random reproducible: execution names, task tokens, ``States.UUID``,
    ``States.MathRandom`` without a seed, ``$random``/``$uuid`` and FULL jitter. ``epoch`` is the
    wall-clock time (Unix seconds) that the clock's ``now() == 0`` stands for (by default
    2025-01-01T00:00:00Z on a virtual clock, the real time on a real one).
    """

    def __init__(self, clock, runner, *, seed=None, epoch=None, region="us-east-1", account_id="123456789012"):
        self.clock = clock
        self.runner = runner
        self.region = region
        self.account_id = account_id
        self._rng = random.Random(seed)
        if epoch is None:
            epoch = _VIRTUAL_EPOCH if getattr(clock, "virtual", False) else time.time() - clock.now()
        self._epoch = float(epoch)
        self._lock = threading.RLock()
        self._queue = collections.deque()
        self._draining = False
        self._tokens = {}
        self.executions = {}

    # The random source the intrinsic functions use when they are given no seed.
    @property
    def rng(self):
        return self._rng

    def _wall(self):
        return self._epoch + self.clock.now()

    def _wall_dt(self):
        return datetime.datetime.fromtimestamp(self._wall(), tz=datetime.timezone.utc)

    def _role_arn(self, execution):
        return getattr(execution, "role_arn", None) or f"arn:aws:iam::{self.account_id}:role/StepFunctionsRole"

    def _new_token(self):
        return uuid.UUID(int=self._rng.getrandbits(128), version=4).hex + uuid.UUID(
            int=self._rng.getrandbits(128), version=4).hex

    def _check_size(self, value, state_name, what):
        size = paths.payload_size(value)
        if size > MAX_PAYLOAD_BYTES:
            raise StatesError(errors.DATA_LIMIT_EXCEEDED,
                              f"The state/task '{state_name}' returned a result with a size exceeding the maximum "
                              f"number of bytes service limit ({what} is {size} bytes, the limit "
                              f"{MAX_PAYLOAD_BYTES} bytes).")

    def _retry_delay(self, retrier, attempt):
        """Seconds before retry number ``attempt`` (1 for the first retry)."""
        delay = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** (attempt - 1)
        if "MaxDelaySeconds" in retrier:
            delay = min(delay, retrier["MaxDelaySeconds"])
        if retrier.get("JitterStrategy", "NONE") == "FULL":
            delay = self._rng.uniform(0, delay)
        return delay

    # --- the work queue: every event handled in turn, in the caller's thread -------------------
    def _post(self, fn, *args):
        with self._lock:
            self._queue.append((fn, args))
            if self._draining:
                return
            self._draining = True
            try:
                while self._queue:
                    item, item_args = self._queue.popleft()
                    item(*item_args)
            finally:
                self._draining = False

    def _later(self, delay, fn, *args, name=None):
        return self.clock.call_later(delay, self._post, fn, *args, name=name)

    # --- the API -------------------------------------------------------------------------
    def start_execution(self, definition, input=None, *, name=None, state_machine_arn=None,
                        type=STANDARD, role_arn=None):
        """Start an execution of ``definition`` (a dict or ASL JSON text) with ``input``.

        Raises ``InvalidDefinition`` (with the diagnostics) for a definition that does not
        validate, ``InvalidExecutionInput`` for input that is not JSON.
        """
        machine = asl.load(definition)
        if isinstance(input, str):
            try:
                input = json.loads(input)
            except json.JSONDecodeError as exc:
                raise errors.InvalidExecutionInput(f"Invalid State Machine Execution Input: '{exc.msg}'") from None
        if input is None:
            input = {}
        if paths.payload_size(input) > MAX_PAYLOAD_BYTES:
            raise errors.InvalidExecutionInput(f"The input exceeds the maximum size of {MAX_PAYLOAD_BYTES} bytes")
        if type not in (STANDARD, EXPRESS):
            raise ValueError(f"type must be {STANDARD!r} or {EXPRESS!r}, not {type!r}")
        state_machine_arn = state_machine_arn or f"arn:aws:states:{self.region}:{self.account_id}:stateMachine:StateMachine"
        name = name or str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        kind = "express" if type == EXPRESS else "execution"
        sm_name = state_machine_arn.rsplit(":", 1)[-1]
        arn = f"arn:aws:states:{self.region}:{self.account_id}:{kind}:{sm_name}:{name}"
        if arn in self.executions and type == STANDARD:
            raise errors.ExecutionAlreadyExists(f"Execution Already Exists: '{arn}'")
        with self._lock:
            execution = Execution(self, arn, name, state_machine_arn, type, input, self._wall_dt())
            execution.role_arn = role_arn
            self.executions[arn] = execution
            first = execution.history.add("ExecutionStarted", self._wall_dt(), 0, input=input,
                                          roleArn=self._role_arn(execution))
            top = _Run(self, execution, machine, VariableScope(),
                       lambda output: self._finish(execution, output),
                       lambda exc: self._failed(execution, exc))
            execution._top = top
            if "TimeoutSeconds" in machine:
                execution._timeout_call = self._later(machine["TimeoutSeconds"], self._timed_out, execution,
                                                      name=f"execution timeout {name}")
            top.start(copy.deepcopy(input), first)
        return execution

    def _end(self, execution, status):
        execution.status = status
        execution.stop_date = self._wall_dt()
        if execution._timeout_call is not None:
            execution._timeout_call.cancel()
        for token, attempt in list(self._tokens.items()):
            if attempt.visit.run.execution is execution:
                attempt.close()

    def _finish(self, execution, output):
        if execution.done:
            return
        try:
            self._check_size(output, "(execution)", "output")
        except StatesError as exc:
            self._failed(execution, exc)
            return
        execution.output = output
        execution.history.add("ExecutionSucceeded", self._wall_dt(), execution._top.last_event_id, output=output)
        self._end(execution, SUCCEEDED)

    def _failed(self, execution, exc):
        if execution.done:
            return
        execution.error = exc.error or None
        execution.cause = exc.cause or None
        execution.history.add("ExecutionFailed", self._wall_dt(), execution._top.last_event_id,
                              error=execution.error, cause=execution.cause)
        self._end(execution, FAILED)

    def _timed_out(self, execution):
        if execution.done:
            return
        execution._top.cancel()
        execution.error = errors.TIMEOUT
        execution.cause = None
        execution.history.add("ExecutionTimedOut", self._wall_dt(), execution._top.last_event_id,
                              error=errors.TIMEOUT)
        self._end(execution, TIMED_OUT)

    def _abort(self, execution, error, cause):
        if execution.done:
            return
        execution._top.cancel()
        execution.error, execution.cause = error, cause
        execution.history.add("ExecutionAborted", self._wall_dt(), execution._top.last_event_id,
                              error=error, cause=cause)
        self._end(execution, ABORTED)

    def stop_execution(self, execution_arn, error=None, cause=None):
        """``StopExecution`` by ARN."""
        self.executions[execution_arn].stop(error, cause)

    def _attempt_for(self, token):
        if not isinstance(token, str) or not token:
            raise errors.InvalidToken("Invalid Token: the task token must be a non-empty string")
        attempt = self._tokens.get(token)
        if attempt is None or not attempt.open:
            raise errors.TaskDoesNotExist("Task Timed Out or Does Not Exist: the task token does not name a "
                                          "task that is waiting")
        return attempt

    def send_task_success(self, task_token, output):
        """``SendTaskSuccess``: the Task waiting for ``task_token`` succeeds with ``output`` (JSON)."""
        if isinstance(output, str):
            try:
                output = json.loads(output)
            except json.JSONDecodeError as exc:
                raise errors.InvalidOutput(f"Invalid Output: '{exc.msg}'") from None
        with self._lock:
            attempt = self._attempt_for(task_token)
            attempt.token_answer = True
            self._post(_task_answered, attempt, True, output, None)

    def send_task_failure(self, task_token, error=None, cause=None):
        """``SendTaskFailure``: the Task waiting for ``task_token`` fails with ``error``/``cause``."""
        with self._lock:
            attempt = self._attempt_for(task_token)
            attempt.token_answer = True
            self._post(_task_answered, attempt, False, error or "", cause or "")

    def send_task_heartbeat(self, task_token):
        """``SendTaskHeartbeat``: the Task waiting for ``task_token`` is alive; its HeartbeatSeconds
        start again."""
        with self._lock:
            attempt = self._attempt_for(task_token)
            timer = attempt.timers.get("heartbeat")
            if timer is not None:
                timer.cancel()
                attempt.timers["heartbeat"] = self._later(attempt.request.heartbeat_seconds, _task_timed_out,
                                                          attempt, errors.HEARTBEAT_TIMEOUT,
                                                          name=f"heartbeat {attempt.visit.name}")

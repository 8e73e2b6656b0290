"""The Step Functions API on the lab's endpoint: what boto3's ``stepfunctions`` client talks to.

The AWS JSON 1.0 protocol (``X-Amz-Target: AWSStepFunctions.<Operation>``, signing name ``states``),
answered through ``lab.aws.intercept`` before moto sees the call. Operations, request and response
members and errors are the API Reference's
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_Operations.html): dates are epoch
seconds (JSON numbers, which boto3 parses into ``datetime``), errors are ``{"__type", "message"}``
with HTTP 400.

Served: CreateStateMachine, DescribeStateMachine, DescribeStateMachineForExecution, ListStateMachines,
UpdateStateMachine, DeleteStateMachine, ValidateStateMachineDefinition, StartExecution,
StartSyncExecution, DescribeExecution, ListExecutions, GetExecutionHistory, StopExecution,
SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat. Anything else is ``UnknownOperationException``.

>>> sfn = lab.aws.client("stepfunctions")                                                # doctest: +SKIP
>>> arn = sfn.create_state_machine(name="Hello", definition=text, roleArn=role)["stateMachineArn"]  # doctest: +SKIP
>>> sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]                 # doctest: +SKIP
"""

import datetime
import json
import uuid

from . import definition as asl
from . import errors
from .interpreter import EXPRESS, STANDARD
from .service import (InvalidArn, StateMachine, StateMachineAlreadyExists, StateMachineTypeNotSupported,
                      ValidationException, check_name)

TARGET_PREFIX = "AWSStepFunctions."
CONTENT_TYPE = "application/x-amz-json-1.0"
MAX_RESULTS = 1000
DEFAULT_PAGE = 100


class UnknownOperationException(errors.StepFunctionsApiError):
    code = "UnknownOperationException"


class MissingRequiredParameter(errors.StepFunctionsApiError):
    code = "MissingRequiredParameter"


def _epoch(value):
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return value


def _events(events):
    return [{**event, "timestamp": _epoch(event["timestamp"])} for event in events]


def _page(items, max_results, next_token):
    size = int(max_results) if max_results else DEFAULT_PAGE
    if size < 0 or size > MAX_RESULTS:
        raise ValidationException(f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy "
                                  f"constraint: Member must have value less than or equal to {MAX_RESULTS}")
    size = size or DEFAULT_PAGE
    try:
        start = int(next_token) if next_token else 0
    except ValueError:
        raise errors.InvalidToken(f"Invalid Token: '{next_token}'") from None
    chosen = items[start:start + size]
    token = str(start + size) if start + size < len(items) else None
    return chosen, token


class StepFunctionsAPI:
    """The operations of the Step Functions API over a :class:`~.service.StepFunctionsService`."""

    def __init__(self, service):
        self.service = service

    # -- the protocol ---------------------------------------------------------------------------------
    def intercept(self, call):
        """An endpoint interceptor: answers every ``states`` call (moto never sees one)."""
        if call.service != "states":
            return None
        target = call.headers.get("x-amz-target", "")
        operation = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else target
        try:
            params = json.loads(call.body or b"{}")
        except ValueError:
            params = None
        if not isinstance(params, dict):
            return self._error(errors.StepFunctionsApiError("The request body is not a JSON object"),
                               code="SerializationException")
        try:
            body = self.call(operation, params)
        except errors.StepFunctionsApiError as exc:
            return self._error(exc)
        return 200, {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())}, json.dumps(body).encode()

    def _error(self, exc, code=None):
        code = code or exc.code
        body = json.dumps({"__type": code, "message": exc.message}).encode()
        return 400, {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4()),
                     "x-amzn-ErrorType": code}, body

    def call(self, operation, params):
        """Run one operation with the API's request members; returns the response members or
        raises the API's error (a ``StepFunctionsApiError``)."""
        handler = getattr(self, "op_" + operation, None) if operation.isidentifier() else None
        if handler is None:
            raise UnknownOperationException(f"The lab's Step Functions API has no operation '{operation}'.")
        return handler(params)

    @staticmethod
    def _required(params, *names):
        missing = [n for n in names if params.get(n) in (None, "")]
        if missing:
            raise ValidationException(f"{len(missing)} validation error{'s' if len(missing) > 1 else ''} detected: "
                                      + "; ".join(f"Value null at '{n}' failed to satisfy constraint: Member must "
                                                  f"not be null" for n in missing))

    # -- state machines -----------------------------------------------------------------------------
    def op_CreateStateMachine(self, p):
        self._required(p, "name", "definition", "roleArn")
        service = self.service
        name = check_name(p["name"])
        workflow_type = p.get("type", STANDARD)
        if workflow_type not in (STANDARD, EXPRESS):
            raise ValidationException(f"1 validation error detected: Value '{workflow_type}' at 'type' failed to "
                                      f"satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]")
        definition = service.check_definition(p["definition"], workflow_type)
        arn = service.state_machine_arn(name)
        with service._lock:
            existing = service.state_machines.get(arn)
            if existing is not None:
                # Idempotent for the same definition, type and role, as AWS documents.
                if (existing.definition, existing.type, existing.role_arn) == (definition, workflow_type, p["roleArn"]):
                    return {"stateMachineArn": arn, "creationDate": existing.creation_date}
                raise StateMachineAlreadyExists(f"State Machine Already Exists: '{arn}'")
            machine = StateMachine(name, arn, definition, workflow_type, p["roleArn"], service.wall(),
                                   revision_id=None, description=p.get("description", ""),
                                   logging_configuration=p.get("loggingConfiguration"),
                                   tracing_configuration=p.get("tracingConfiguration"))
            service.state_machines[arn] = machine
        return {"stateMachineArn": arn, "creationDate": machine.creation_date}

    def _machine(self, arn):
        if not isinstance(arn, str) or not arn.startswith("arn:aws") or ":stateMachine:" not in arn:
            raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {arn}'"
                             if isinstance(arn, str) and arn.startswith("arn:aws") else f"Invalid Arn: 'Invalid ARN prefix: {arn}'")
        return self.service.get(arn)

    def op_DescribeStateMachine(self, p):
        self._required(p, "stateMachineArn")
        return self._machine(p["stateMachineArn"]).describe()

    def op_DescribeStateMachineForExecution(self, p):
        self._required(p, "executionArn")
        execution = self.service.execution(p["executionArn"])
        machine = self.service.get(execution.state_machine_arn)
        out = machine.describe()
        return {k: out[k] for k in ("stateMachineArn", "name", "definition", "roleArn", "loggingConfiguration",
                                    "tracingConfiguration") if k in out} | {"updateDate": machine.update_date or machine.creation_date}

    def op_ListStateMachines(self, p):
        with self.service._lock:
            machines = sorted(self.service.state_machines.values(), key=lambda m: m.name)
        chosen, token = _page(machines, p.get("maxResults"), p.get("nextToken"))
        out = {"stateMachines": [{"stateMachineArn": m.arn, "name": m.name, "type": m.type,
                                  "creationDate": m.creation_date} for m in chosen]}
        if token:
            out["nextToken"] = token
        return out

    def op_UpdateStateMachine(self, p):
        self._required(p, "stateMachineArn")
        machine = self._machine(p["stateMachineArn"])
        if not any(k in p for k in ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")):
            raise MissingRequiredParameter("Either the definition, the roleArn, the loggingConfiguration or the "
                                           "tracingConfiguration must be specified")
        if "definition" in p:
            machine.definition = self.service.check_definition(p["definition"], machine.type)
        if "roleArn" in p:
            machine.role_arn = p["roleArn"]
        if "loggingConfiguration" in p:
            machine.logging_configuration = p["loggingConfiguration"]
        if "tracingConfiguration" in p:
            machine.tracing_configuration = p["tracingConfiguration"]
        machine.update_date = self.service.wall()
        machine.revision_id = str(uuid.UUID(int=self.service.interpreter.rng.getrandbits(128), version=4))
        return {"updateDate": machine.update_date, "revisionId": machine.revision_id}

    def op_DeleteStateMachine(self, p):
        self._required(p, "stateMachineArn")
        arn = p["stateMachineArn"]
        self._machine_arn_form(arn)
        with self.service._lock:
            self.service.state_machines.pop(arn, None)      # deleting one that is gone succeeds, as on AWS
        return {}

    def _machine_arn_form(self, arn):
        if not isinstance(arn, str) or not arn.startswith("arn:aws") or ":stateMachine:" not in arn:
            raise InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {arn}'")

    def op_ValidateStateMachineDefinition(self, p):
        self._required(p, "definition")
        severity = p.get("severity", asl.ERROR)
        out = asl.validate_state_machine_definition(p["definition"], severity=severity,
                                                    max_results=int(p.get("maxResults") or 100))
        if out["result"] == "OK" and p.get("type") == EXPRESS:
            try:
                self.service.check_definition(p["definition"], EXPRESS)
            except errors.InvalidDefinition as exc:
                out = {"result": "FAIL", "diagnostics": [{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED",
                                                          "message": exc.message}], "truncated": False}
        return out

    # -- executions -------------------------------------------------------------------------------------
    def op_StartExecution(self, p):
        self._required(p, "stateMachineArn")
        machine = self._machine(p["stateMachineArn"])
        execution = self.service.start_execution(machine, p.get("input", "{}"), p.get("name"),
                                                 trace_header=p.get("traceHeader"))
        return {"executionArn": execution.execution_arn, "startDate": _epoch(execution.start_date)}

    def op_StartSyncExecution(self, p):
        self._required(p, "stateMachineArn")
        machine = self._machine(p["stateMachineArn"])
        if machine.type != EXPRESS:
            raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
        execution = self.service.start_execution(machine, p.get("input", "{}"), p.get("name"),
                                                 trace_header=p.get("traceHeader"))
        self.service.wait(execution, timeout_s=EXPRESS_WAIT_S)
        from .pricing import express_billing
        memory_mb, duration_ms = express_billing(execution)
        out = {k: _epoch(v) for k, v in execution.describe().items() if k != "redriveStatus"}
        out["billingDetails"] = {"billedMemoryUsedInMB": memory_mb, "billedDurationInMilliseconds": duration_ms}
        if p.get("traceHeader"):
            out["traceHeader"] = p["traceHeader"]
        return out

    def op_DescribeExecution(self, p):
        self._required(p, "executionArn")
        execution = self.service.execution(p["executionArn"])
        out = {k: _epoch(v) for k, v in execution.describe().items()}
        out["redriveCount"] = 0
        out["redriveStatus"] = "NOT_REDRIVABLE"
        return out

    def op_ListExecutions(self, p):
        machine = self._machine(p.get("stateMachineArn"))
        if machine.type == EXPRESS:
            raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
        status = p.get("statusFilter")
        found = [e for e in self.service.executions(machine.arn) if status in (None, e.status)]
        found.sort(key=lambda e: e.start_date, reverse=True)           # newest first, as AWS lists them
        chosen, token = _page(found, p.get("maxResults"), p.get("nextToken"))
        items = []
        for e in chosen:
            item = {"executionArn": e.execution_arn, "stateMachineArn": e.state_machine_arn, "name": e.name,
                    "status": e.status, "startDate": _epoch(e.start_date)}
            if e.stop_date is not None:
                item["stopDate"] = _epoch(e.stop_date)
            items.append(item)
        out = {"executions": items}
        if token:
            out["nextToken"] = token
        return out

    def op_GetExecutionHistory(self, p):
        self._required(p, "executionArn")
        execution = self.service.execution(p["executionArn"])
        max_results = int(p.get("maxResults") or 0)
        if max_results < 0 or max_results > MAX_RESULTS:
            raise ValidationException(f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to "
                                      f"satisfy constraint: Member must have value less than or equal to {MAX_RESULTS}")
        token = p.get("nextToken")
        if token is not None and (not str(token).isdigit() or int(token) > len(execution.history)):
            raise errors.InvalidToken(f"Invalid Token: '{token}'")
        with self.service.interpreter._lock:
            page = execution.history.page(reverse_order=bool(p.get("reverseOrder")),
                                          include_execution_data=p.get("includeExecutionData", True),
                                          max_results=max_results or DEFAULT_PAGE, next_token=token)
        page["events"] = _events(page["events"])
        return page

    def op_StopExecution(self, p):
        self._required(p, "executionArn")
        execution = self.service.execution(p["executionArn"])
        if not execution.done:
            execution.stop(p.get("error"), p.get("cause"))
        return {"stopDate": _epoch(execution.stop_date) if execution.stop_date else self.service.wall()}

    # -- callbacks ---------------------------------------------------------------------------------------
    def op_SendTaskSuccess(self, p):
        self._required(p, "taskToken", "output")
        self.service.interpreter.send_task_success(p["taskToken"], p["output"])
        return {}

    def op_SendTaskFailure(self, p):
        self._required(p, "taskToken")
        self.service.interpreter.send_task_failure(p["taskToken"], p.get("error"), p.get("cause"))
        return {}

    def op_SendTaskHeartbeat(self, p):
        self._required(p, "taskToken")
        self.service.interpreter.send_task_heartbeat(p["taskToken"])
        return {}


EXPRESS_WAIT_S = 330.0      # StartSyncExecution waits out an Express execution's five minutes

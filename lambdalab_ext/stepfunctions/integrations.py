"""Task resources and the task runner the interpreter delegates to, with the result shapes of
Step Functions' service integrations.

A Task's ``Resource`` is parsed into a :class:`Resource`: a Lambda function ARN (the function's
output is the result), an optimised integration such as ``arn:aws:states:::lambda:invoke`` (the
result is the API's response, for Lambda the payload wrapper), with the ``.sync`` or
``.waitForTaskToken`` pattern. The interpreter hands each attempt to a :class:`TaskRunner`
as a :class:`TaskRequest`; the runner answers, now or later, through ``on_success(result)`` or
``on_failure(error, cause)``. Sources:
https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html,
https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html

>>> parse_resource("arn:aws:states:::lambda:invoke.waitForTaskToken").pattern
'WAIT_FOR_TASK_TOKEN'
>>> runner = CallableTaskRunner(functions={"Add": lambda event: event["a"] + event["b"]})
>>> seen = []
>>> _ = runner.start(TaskRequest(parse_resource("arn:aws:states:::lambda:invoke"),
...                              {"FunctionName": "Add", "Payload": {"a": 1, "b": 2}}), seen.append, print)
>>> seen[0]["Payload"], seen[0]["StatusCode"]
(3, 200)
"""

import dataclasses
import hashlib
import json
import random
import re
import traceback
import uuid
from typing import Any, Callable, Optional, Protocol

REQUEST_RESPONSE = "REQUEST_RESPONSE"
SYNC = "SYNC"
WAIT_FOR_TASK_TOKEN = "WAIT_FOR_TASK_TOKEN"

_LAMBDA_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]+)(?::([A-Za-z0-9_$-]+))?$")
_STATES_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:states:([a-z0-9-]*):(\d{12})?:([a-z0-9-]+):([A-Za-z0-9:_-]+?)(\.sync(?::2)?|\.waitForTaskToken)?$")
_ACTIVITY_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:states:([a-z0-9-]+):(\d{12}):activity:([A-Za-z0-9_-]+)$")


class InvalidResource(ValueError):
    """A Task ``Resource`` that Step Functions would not accept."""


@dataclasses.dataclass(frozen=True)
class Resource:
    """A parsed Task resource.

    ``kind`` is ``lambda-function`` (a function ARN), ``integration`` (``arn:aws:states:::svc:action``)
    or ``activity``. ``service``/``action`` name the API (``lambda``/``invoke``, ``sqs``/``sendMessage``,
    ``aws-sdk:s3``/``getObject``); ``pattern`` is REQUEST_RESPONSE, SYNC or WAIT_FOR_TASK_TOKEN.
    """

    arn: str
    kind: str
    service: str
    action: str
    pattern: str = REQUEST_RESPONSE
    function_name: Optional[str] = None
    qualifier: Optional[str] = None
    region: Optional[str] = None

    @property
    def resource_type(self):
        """``resourceType`` of the TaskScheduled event (``lambda``, ``sqs``, ``aws-sdk:s3``...)."""
        return self.service

    @property
    def resource_name(self):
        """``resource`` of the TaskScheduled event (``invoke``, ``sendMessage.waitForTaskToken``...)."""
        suffix = {SYNC: ".sync", WAIT_FOR_TASK_TOKEN: ".waitForTaskToken"}.get(self.pattern, "")
        if self.pattern == SYNC and self.arn.endswith(".sync:2"):
            suffix = ".sync:2"
        return self.action + suffix


def parse_resource(arn):
    """Parse a Task ``Resource`` ARN; raises :class:`InvalidResource` for one Step Functions refuses."""
    if not isinstance(arn, str):
        raise InvalidResource(f"The Resource must be a string ARN, not {arn!r}")
    m = _LAMBDA_ARN.match(arn)
    if m:
        return Resource(arn, "lambda-function", "lambda", "invoke", function_name=m.group(3),
                        qualifier=m.group(4), region=m.group(1))
    m = _ACTIVITY_ARN.match(arn)
    if m:
        return Resource(arn, "activity", "activity", m.group(3), region=m.group(1))
    m = _STATES_ARN.match(arn)
    if m and not m.group(2):
        service, action, suffix = m.group(3), m.group(4), m.group(5) or ""
        if service == "aws-sdk":
            if ":" not in action:
                raise InvalidResource(f"The resource {arn!r} must name a service and an action, "
                                      f"as arn:aws:states:::aws-sdk:serviceName:apiAction")
            sdk_service, action = action.split(":", 1)
            service = f"aws-sdk:{sdk_service}"
        elif ":" in action:
            raise InvalidResource(f"The resource {arn!r} is not a valid service integration ARN")
        pattern = SYNC if suffix.startswith(".sync") else WAIT_FOR_TASK_TOKEN if suffix else REQUEST_RESPONSE
        return Resource(arn, "integration", service, action, pattern, region=m.group(1) or None)
    raise InvalidResource(f"The resource {arn!r} is not a Lambda function ARN, an activity ARN or a "
                          f"service integration ARN (arn:aws:states:::service:action)")


@dataclasses.dataclass
class TaskRequest:
    """One attempt of a Task state, as the interpreter hands it to the runner."""

    resource: Resource
    arguments: Any
    context: dict = dataclasses.field(default_factory=dict)
    task_token: Optional[str] = None
    timeout_seconds: Optional[float] = None
    heartbeat_seconds: Optional[float] = None
    execution_arn: Optional[str] = None
    state_name: Optional[str] = None
    attempt: int = 0


class TaskRunner(Protocol):
    """What runs Task states: start one attempt, answer through one of the two callbacks.

    ``start`` may return a handle with ``cancel()`` (called when the state times out or the
    execution stops); callbacks may come at once, later on the clock, or from another thread.
    """

    def start(self, request: TaskRequest, on_success: Callable[[Any], None],
              on_failure: Callable[[str, str], None]):
        ...


# ------------------------------------------------------------------------ result and error shapes

def _sdk_metadata(request_id, headers):
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {k: [v] for k, v in headers.items()},
            "HttpHeaders": dict(headers),
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }


def lambda_invoke_result(payload, *, request_id, executed_version="$LATEST", status_code=200):
    """The result of ``arn:aws:states:::lambda:invoke``: the function's output under ``Payload``."""
    body = json.dumps(payload, separators=(",", ":"))
    headers = {
        "Content-Length": str(len(body.encode("utf-8"))),
        "Content-Type": "application/json",
        "X-Amz-Executed-Version": executed_version,
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
    }
    return {"ExecutedVersion": executed_version, "Payload": payload, **_sdk_metadata(request_id, headers),
            "StatusCode": status_code}


def lambda_function_error(error_type, error_message, *, request_id=None, stack_trace=None):
    """``(error, cause)`` of a Task whose function raised: the error is the function's
    ``errorType``; the cause is the JSON text of the function's error object."""
    cause = {"errorMessage": error_message, "errorType": error_type}
    if request_id:
        cause["requestId"] = request_id
    cause["stackTrace"] = list(stack_trace or [])
    return error_type, json.dumps(cause, separators=(",", ":"))


def sqs_send_message_result(message_body, *, message_id, request_id):
    """The result of ``arn:aws:states:::sqs:sendMessage``."""
    body = message_body if isinstance(message_body, str) else json.dumps(message_body, separators=(",", ":"))
    return {"MD5OfMessageBody": hashlib.md5(body.encode("utf-8")).hexdigest(), "MessageId": message_id,
            **_sdk_metadata(request_id, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id})}


def sns_publish_result(*, message_id, request_id):
    """The result of ``arn:aws:states:::sns:publish``."""
    return {"MessageId": message_id,
            **_sdk_metadata(request_id, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id})}


def dynamodb_result(*, request_id, item=None):
    """The result of ``arn:aws:states:::dynamodb:putItem`` (and ``getItem`` with its ``Item``)."""
    out = {} if item is None else {"Item": item}
    out.update(_sdk_metadata(request_id, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id}))
    return out


class FunctionError(Exception):
    """Raise from a callable task to fail it with Lambda's ``errorType`` and ``errorMessage``."""

    def __init__(self, error_type, message=""):
        super().__init__(message)
        self.error_type, self.message = error_type, message


class _ScheduledHandle:
    def __init__(self, call):
        self.call = call

    def cancel(self):
        self.call.cancel()


class CallableTaskRunner:
    """A task runner over Python callables: Lambda functions by name, other resources by ARN.

    ``functions`` maps a function name to ``fn(event) -> output`` (used for Lambda function ARNs and
    for ``lambda:invoke``, whose result gets the payload wrapper); ``services`` maps a resource ARN
    (e.g. ``arn:aws:states:::sqs:sendMessage``) to ``fn(arguments) -> result``. An exception fails
    the task as Lambda would: the error is its class name (or :class:`FunctionError`'s type).
    With a ``clock`` and ``duration_s`` (seconds, or ``fn(request) -> seconds``) each task
    answers that much later on the clock, so timeouts and concurrency can be seen.
    ``calls`` records every request; ``running``/``peak_running`` count tasks in flight.
    """

    def __init__(self, functions=None, services=None, *, clock=None, duration_s=0.0, seed=0):
        self.functions = dict(functions or {})
        self.services = dict(services or {})
        self.clock = clock
        self.duration_s = duration_s
        self.calls = []
        self.running = 0
        self.peak_running = 0
        self._rng = random.Random(seed)

    def _request_id(self):
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def start(self, request, on_success, on_failure):
        self.calls.append(request)
        self.running += 1
        self.peak_running = max(self.peak_running, self.running)
        delay = self.duration_s(request) if callable(self.duration_s) else self.duration_s
        if self.clock is not None and delay:
            return _ScheduledHandle(self.clock.call_later(delay, self._finish, request, on_success, on_failure,
                                                          name=f"task {request.state_name}"))
        self._finish(request, on_success, on_failure)
        return None

    def _finish(self, request, on_success, on_failure):
        self.running -= 1
        resource = request.resource
        request_id = self._request_id()
        try:
            if resource.kind == "lambda-function" or (resource.service == "lambda" and resource.action == "invoke"):
                name = resource.function_name
                event = request.arguments
                if resource.kind == "integration":
                    args = request.arguments if isinstance(request.arguments, dict) else {}
                    name = _function_name(args.get("FunctionName", ""))
                    event = args.get("Payload")
                if name not in self.functions:
                    on_failure("Lambda.ResourceNotFoundException",
                               f"Function not found: {name} (Service: Lambda, Status Code: 404, "
                               f"Error Code: ResourceNotFoundException; Request ID: {request_id})")
                    return
                output = self.functions[name](event)
                if resource.kind == "integration":
                    output = lambda_invoke_result(output, request_id=request_id)
                on_success(output)
                return
            handler = self.services.get(resource.arn) or self.services.get(
                f"arn:aws:states:::{resource.service}:{resource.action}")
            if handler is None:
                on_failure("States.Runtime", f"No handler for the resource {resource.arn}")
                return
            on_success(handler(request.arguments))
        except FunctionError as exc:
            on_failure(*lambda_function_error(exc.error_type, exc.message, request_id=request_id))
        except Exception as exc:   # the callable is user code: its error is the task's, as in Lambda
            frames = traceback.format_tb(exc.__traceback__)
            on_failure(*lambda_function_error(type(exc).__name__, str(exc), request_id=request_id,
                                              stack_trace=[f.strip() for f in frames[-3:]]))


def _function_name(value):
    """A function name from a name, a partial ARN or a full ARN (qualifier dropped)."""
    value = str(value)
    if ":function:" in value:
        value = value.split(":function:", 1)[1]
    return value.split(":", 1)[0]

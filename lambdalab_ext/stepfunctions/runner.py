"""The lab's task runner: a workflow's Task states run the lab's real functions and embedded services.

``LabTaskRunner`` is the interpreter's :class:`~.integrations.TaskRunner` inside a ``Lab``:

- **Lambda.** ``arn:aws:states:::lambda:invoke`` (the result is the Invoke API's payload wrapper,
  ``Payload``, ``StatusCode``, ``ExecutedVersion``, ``SdkHttpMetadata``...) and a plain function ARN
  (the result is the function's output). ``FunctionName`` may be a name, ``name:alias``, a partial
  ARN or a full ARN. The invocation is a real one through ``lab.service.invoke_request`` with
  ``source="states"`` and the execution's ARN as ``source_arn``; ``InvocationType: Event`` queues it
  on the lab's asynchronous queue instead (``StatusCode`` 202, empty ``Payload``), as AWS does.
  A function error fails the task with the function's ``errorType`` (``ValueError``,
  ``Sandbox.Timedout``...) and Lambda's error object as the cause; the service's refusals become
  ``Lambda.<Exception>`` (``Lambda.TooManyRequestsException``, ``Lambda.ResourceNotFoundException``,
  ``Lambda.RequestEntityTooLargeException``...), the names the optimised integration reports
  (https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html).
- **Services.** ``sqs:sendMessage``, ``sns:publish``, ``dynamodb:putItem``/``getItem``/``updateItem``/
  ``deleteItem`` through boto3 clients on the lab's endpoint, with the result shapes of the optimised
  integrations (``MessageId``, ``MD5OfMessageBody``, ``Item``, ``Attributes`` and the SDK metadata);
  a service's error is ``<Service>.<ErrorCode>`` (``DynamoDB.ConditionalCheckFailedException``).
  ``arn:aws:states:::aws-sdk:service:apiAction`` calls the boto3 operation of the same name.
- **Callbacks.** ``.waitForTaskToken`` needs nothing here: the token is in the arguments
  (``$$.Task.Token``), the call goes out, and the interpreter waits for ``SendTaskSuccess``.

Time. On a ``RealClock`` each task runs on a worker thread and answers when it ends. On a
``VirtualClock`` (the SQS poller's rule, ``sources/sqs.py``) a task starts its real work on a worker
thread at once, and a call due *now* on the lab clock joins it; its answer is then scheduled at its
start plus the function's billed duration (REPORT's Billed Duration, INIT included), so a timeline on
the lab clock shows each task lasting what Lambda billed, Map iterations overlap as they ran, and a
one-hour Wait costs no real time. Service integrations answer at their start (they take no billed time).

>>> runner = LabTaskRunner(lab)                                                      # doctest: +SKIP
>>> sfn = Interpreter(lab.clock, runner)                                             # doctest: +SKIP
"""

import base64
import concurrent.futures
import datetime
import json
import threading
import traceback
import uuid

from ..errors import LabClosedError, LambdaServiceError
from ..request import InvocationRequest
from .integrations import (_function_name, dynamodb_result, lambda_function_error, lambda_invoke_result,
                           sns_publish_result, sqs_send_message_result)

WORKERS = 16

_SERVICE_PREFIX = {"sqs": "SQS", "sns": "SNS", "dynamodb": "DynamoDB", "lambda": "Lambda"}
_BOTO_SERVICE = {"sqs": "sqs", "sns": "sns", "dynamodb": "dynamodb", "sfn": "stepfunctions",
                 "eventbridge": "events", "cloudwatchlogs": "logs"}
_DYNAMODB_ACTIONS = {"putItem": "put_item", "getItem": "get_item", "updateItem": "update_item",
                     "deleteItem": "delete_item"}
_SERVICE_NAMES = {"sqs": "AmazonSQS", "sns": "AmazonSNS", "dynamodb": "AmazonDynamoDBv2", "lambda": "AWSLambda"}


class _Handle:
    """What ``start`` returns: ``cancel()`` drops the answer (a stopped execution, a timed-out state)."""

    def __init__(self):
        self.cancelled = False
        self.future = None
        self.call = None

    def cancel(self):
        self.cancelled = True
        if self.future is not None:
            self.future.cancel()
        if self.call is not None:
            self.call.cancel()


class _Outcome:
    __slots__ = ("ok", "value", "cause", "duration_s")

    def __init__(self, ok, value, cause=None, duration_s=0.0):
        self.ok, self.value, self.cause, self.duration_s = ok, value, cause, duration_s


class LabTaskRunner:
    """Runs Task states on ``lab``'s functions and embedded services (see the module docstring).

    ``results`` maps an execution ARN to the ``InvocationResult`` of every function its tasks ran
    (what the Lambda side of a workflow costs: ``stepfunctions.pricing``); ``calls`` counts the
    tasks started. ``clock`` is the lab's (by default ``lab.clock``).
    """

    def __init__(self, lab, *, workers=WORKERS, clock=None):
        self.lab = lab
        self.clock = clock or lab.clock
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambdalab-sfn")
        self._clients = {}
        self._lock = threading.Lock()
        self.results = {}
        self.calls = 0
        self._closed = False

    def close(self):
        """Stop taking tasks; tasks already running finish, their answers are dropped."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the protocol -------------------------------------------------------------------------------
    def start(self, request, on_success, on_failure):
        handle = _Handle()
        with self._lock:
            self.calls += 1
        if self._closed:
            on_failure("States.Runtime", "The lab's Step Functions service is closed.")
            return None
        started = self.clock.now()
        try:
            handle.future = self._pool.submit(self._run, request)
        except RuntimeError:                          # the pool is shut down: the lab is closing
            on_failure("States.Runtime", "The lab's Step Functions service is closed.")
            return None

        def answer(outcome):
            if handle.cancelled:
                return
            if outcome.ok:
                on_success(outcome.value)
            else:
                on_failure(outcome.value, outcome.cause)

        if self.clock.virtual:
            def join():
                if handle.cancelled:
                    return
                try:
                    outcome = handle.future.result()
                except concurrent.futures.CancelledError:
                    return
                # The task ends on the lab clock at its start plus what Lambda billed for it.
                handle.call = self.clock.call_at(started + outcome.duration_s, answer, outcome,
                                                 name=f"end of task {request.state_name}")
            handle.call = self.clock.call_at(started, join, name=f"task {request.state_name}")
        else:
            def done(future):
                if future.cancelled():
                    return
                answer(future.result())
            handle.future.add_done_callback(done)
        return handle

    def _run(self, request):
        try:
            resource = request.resource
            if resource.kind == "lambda-function":
                return self._lambda(request, resource.function_name, request.arguments, wrapped=False)
            if resource.kind == "integration" and resource.service == "lambda" and resource.action == "invoke":
                args = request.arguments if isinstance(request.arguments, dict) else {}
                if not args.get("FunctionName"):
                    return _Outcome(False, "States.Runtime",
                                    "The lambda:invoke integration needs a FunctionName parameter.")
                return self._lambda(request, _function_name(args["FunctionName"]), args.get("Payload"),
                                    wrapped=True, invocation_type=args.get("InvocationType", "RequestResponse"),
                                    client_context=args.get("ClientContext"), has_payload="Payload" in args)
            if resource.kind == "integration" and resource.service in ("sqs", "sns", "dynamodb"):
                return self._service(resource.service, resource.action, request.arguments)
            if resource.kind == "integration" and resource.service.startswith("aws-sdk:"):
                return self._sdk(resource.service.split(":", 1)[1], resource.action, request.arguments)
            return _Outcome(False, "States.Runtime",
                            f"The lab does not run the resource {resource.arn} (it runs Lambda functions, "
                            f"sqs:sendMessage, sns:publish, dynamodb:putItem/getItem/updateItem/deleteItem "
                            f"and aws-sdk integrations).")
        except Exception as exc:        # a bug here must fail the task, never hang the workflow
            return _Outcome(False, "States.Runtime", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")

    # -- Lambda ---------------------------------------------------------------------------------------
    def _lambda(self, request, name, payload, *, wrapped, invocation_type="RequestResponse",
                client_context=None, has_payload=True):
        body = json.dumps(payload if has_payload else {}, separators=(",", ":")).encode()
        if isinstance(client_context, str):
            try:                                   # the Invoke API's ClientContext is base64 JSON
                client_context = json.loads(base64.b64decode(client_context))
            except (ValueError, TypeError):
                client_context = None
        try:
            invocation = InvocationRequest(function_name=name, payload=body, invocation_type=invocation_type,
                                           source="states", source_arn=request.execution_arn,
                                           client_context=client_context if isinstance(client_context, dict) else None)
        except LambdaServiceError as exc:          # an InvocationType Lambda does not know
            return _lambda_error(exc, "")
        try:
            if invocation_type == "Event":
                request_id = self.lab.async_queue.submit(invocation)
                if not wrapped:
                    return _Outcome(True, None)
                result = lambda_invoke_result(None, request_id=request_id, status_code=202)
                result["Payload"] = ""
                return _Outcome(True, result)
            if invocation_type == "DryRun":
                self.lab.service.get(name)
                return _Outcome(True, lambda_invoke_result(None, request_id=invocation.request_id, status_code=204))
            result = self.lab.service.invoke_request(invocation)
        except LabClosedError:
            return _Outcome(False, "Lambda.ServiceException", "The lab was shut down while the task ran.")
        except LambdaServiceError as exc:
            return _lambda_error(exc, invocation.request_id)
        with self._lock:
            self.results.setdefault(request.execution_arn, []).append(result)
        duration = (result.billed_duration_ms or 0) / 1000.0
        if result.error is not None:
            error = result.error
            error_type, cause = lambda_function_error(str(error.get("errorType") or "Lambda.Unknown"),
                                                      str(error.get("errorMessage") or ""),
                                                      stack_trace=error.get("stackTrace") or [])
            return _Outcome(False, error_type, cause, duration)
        output = result.payload
        if wrapped:
            output = lambda_invoke_result(output, request_id=result.request_id)
        return _Outcome(True, output, duration_s=duration)

    # -- services -------------------------------------------------------------------------------------
    def _client(self, service):
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self._clients[service] = self.lab.aws.client(service)
            return client

    def _service(self, service, action, arguments):
        import botocore.exceptions
        args = dict(arguments) if isinstance(arguments, dict) else {}
        try:
            if service == "sqs" and action == "sendMessage":
                body = args.get("MessageBody")
                if not isinstance(body, str):
                    args["MessageBody"] = json.dumps(body, separators=(",", ":"))
                response = self._client("sqs").send_message(**args)
                request_id = _request_id(response)
                return _Outcome(True, sqs_send_message_result(args["MessageBody"], message_id=response["MessageId"],
                                                              request_id=request_id))
            if service == "sns" and action == "publish":
                if "Message" in args and not isinstance(args["Message"], str):
                    args["Message"] = json.dumps(args["Message"], separators=(",", ":"))
                response = self._client("sns").publish(**args)
                return _Outcome(True, sns_publish_result(message_id=response["MessageId"],
                                                         request_id=_request_id(response)))
            if service == "dynamodb" and action in _DYNAMODB_ACTIONS:
                response = getattr(self._client("dynamodb"), _DYNAMODB_ACTIONS[action])(**args)
                out = dynamodb_result(request_id=_request_id(response), item=response.get("Item"))
                for key in ("Attributes", "ConsumedCapacity", "ItemCollectionMetrics"):
                    if key in response:
                        out[key] = response[key]
                return _Outcome(True, out)
        except botocore.exceptions.ParamValidationError as exc:
            return _Outcome(False, "States.Runtime", f"The parameters of {service}:{action} are not valid: {exc}")
        except botocore.exceptions.ClientError as exc:
            return _client_error(service, exc)
        return _Outcome(False, "States.Runtime",
                        f"The lab does not run arn:aws:states:::{service}:{action} (it runs sqs:sendMessage, "
                        f"sns:publish and dynamodb:putItem/getItem/updateItem/deleteItem).")

    def _sdk(self, service, action, arguments):
        import botocore.exceptions
        from botocore import xform_name
        boto_name = _BOTO_SERVICE.get(service, service)
        try:
            client = self._client(boto_name)
            response = getattr(client, xform_name(action))(**(arguments if isinstance(arguments, dict) else {}))
        except AttributeError:
            return _Outcome(False, "States.Runtime", f"The service {service} has no API action {action}.")
        except botocore.exceptions.ParamValidationError as exc:
            return _Outcome(False, "States.Runtime", f"The parameters of {service}:{action} are not valid: {exc}")
        except botocore.exceptions.ClientError as exc:
            return _client_error(service, exc, sdk=True)
        response.pop("ResponseMetadata", None)
        return _Outcome(True, _plain(response))


def _lambda_error(exc, request_id):
    """A refusal of the Lambda service as the task's error: ``Lambda.<Exception>``, and the SDK's cause text."""
    return _Outcome(False, f"Lambda.{exc.error_type}",
                    f"{exc.message} (Service: AWSLambda; Status Code: {exc.status_code}; Error Code: "
                    f"{exc.error_type}; Request ID: {request_id}; Proxy: null)")


def _request_id(response):
    return (response.get("ResponseMetadata") or {}).get("RequestId") or str(uuid.uuid4())


def _client_error(service, exc, sdk=False):
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "Unknown").rsplit(".", 1)[-1]
    if sdk and not code.endswith("Exception"):
        code += "Exception"      # the AWS SDK integrations name errors by their exception class
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
    request_id = exc.response.get("ResponseMetadata", {}).get("RequestId", "")
    prefix = _SERVICE_PREFIX.get(service, service[:1].upper() + service[1:])
    name = _SERVICE_NAMES.get(service, prefix)
    return _Outcome(False, f"{prefix}.{code}",
                    f"{error.get('Message', '')} (Service: {name}; Status Code: {status}; Error Code: {code}; "
                    f"Request ID: {request_id}; Proxy: null)")


def _plain(value):
    """A boto3 response as JSON: dates as ISO text, streams and bytes read as text."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if hasattr(value, "read"):
        value = value.read()
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(bytes(value)).decode()
    return value

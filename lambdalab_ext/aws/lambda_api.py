"""The Lambda API (2015-03-31 and its later paths) on the lab's AWS endpoint, over the lab's functions.

``boto3.client("lambda")``, from a notebook cell or from inside a function, reaches the functions
deployed from cells: ``Invoke`` (RequestResponse, Event, DryRun), ``ListFunctions``,
``GetFunction``, ``GetFunctionConfiguration``, ``UpdateFunctionConfiguration`` (memory, timeout,
environment, ephemeral storage, ``DeadLetterConfig``, ``Role``), ``Put/Get/DeleteFunctionConcurrency`` and
``Put/Get/Update/DeleteFunctionEventInvokeConfig`` and ``Create/List/Get/Update/DeleteEventSourceMapping``
(``sources.mappings``). Paths, headers, bodies and errors follow the AWS
Lambda API Reference, so botocore parses every answer as it parses AWS's.

The API only translates: it calls a ``control`` object (the lab's) for everything that happens.
"""

import base64
import datetime
import hashlib
import json
import re
import urllib.parse

from ..errors import InvalidParameterValueException, LambdaServiceError, ResourceNotFoundException

_ROUTES = []


def _route(method, pattern):
    def register(fn):
        _ROUTES.append((method, re.compile(pattern + r"/?\Z"), fn))
        return fn
    return register


def _function_name(raw):
    """A FunctionName parameter: a name, a full ARN or a partial ARN (``ACCOUNT:function:NAME``)."""
    name = urllib.parse.unquote(raw)
    if name.startswith("arn:"):
        parts = name.split(":")
        name = parts[6] if len(parts) > 6 else ""
    elif ":function:" in name:
        name = name.split(":function:", 1)[1]
    return name.split(":", 1)[0]


class LambdaAPI:
    """A WSGI application serving the Lambda API from ``control``."""

    def __init__(self, control):
        self.control = control

    def __call__(self, environ, start_response):
        from werkzeug.wrappers import Request, Response
        request = Request(environ)
        path = request.path
        for method, pattern, handler in _ROUTES:
            match = pattern.match(path)
            if match and request.method == method:
                try:
                    response = handler(self, request, *match.groups())
                except LambdaServiceError as exc:
                    response = _error_response(exc)
                except (ValueError, KeyError, TypeError) as exc:
                    response = _error_response(InvalidParameterValueException(f"Invalid request: {exc}"))
                return response(environ, start_response)
        response = Response(json.dumps({"Type": "User", "message": f"No Lambda API operation at {request.method} {path}"}),
                            status=404, headers={"x-amzn-ErrorType": "UnrecognizedClientException"},
                            content_type="application/json")
        return response(environ, start_response)

    # -- functions ---------------------------------------------------------------------------------
    @_route("GET", r"/2015-03-31/functions")
    def list_functions(self, request):
        configs = [self._configuration(name) for name in sorted(self.control.function_names())]
        return _json({"Functions": configs, "NextMarker": None})

    @_route("GET", r"/2015-03-31/functions/([^/]+)")
    def get_function(self, request, raw):
        name = _function_name(raw)
        body = {"Configuration": self._configuration(name),
                "Code": {"RepositoryType": "S3", "Location": f"{self.control.code_location(name)}"},
                "Tags": {}}
        reserved = self.control.configuration(name).reserved_concurrency
        if reserved is not None:
            body["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
        return _json(body)

    @_route("GET", r"/2015-03-31/functions/([^/]+)/configuration")
    def get_function_configuration(self, request, raw):
        return _json(self._configuration(_function_name(raw)))

    @_route("PUT", r"/2015-03-31/functions/([^/]+)/configuration")
    def update_function_configuration(self, request, raw):
        name = _function_name(raw)
        body = _body(request)
        changes = {}
        if "MemorySize" in body:
            changes["memory_mb"] = body["MemorySize"]
        if "Timeout" in body:
            changes["timeout_s"] = body["Timeout"]
        if "Environment" in body:
            changes["environment"] = dict((body["Environment"] or {}).get("Variables") or {})
        if "EphemeralStorage" in body:
            changes["ephemeral_storage_mb"] = body["EphemeralStorage"]["Size"]
        if "DeadLetterConfig" in body:
            changes["dead_letter_target_arn"] = (body["DeadLetterConfig"] or {}).get("TargetArn") or None
        if "TracingConfig" in body:
            changes["tracing_mode"] = (body["TracingConfig"] or {}).get("Mode") or "PassThrough"
        if "KMSKeyArn" in body:
            changes["kms_key_arn"] = body["KMSKeyArn"] or None
        if "Role" in body:
            changes["role"] = body["Role"]
            check = getattr(self.control, "check_role", None)   # the lab's IAM, when attached
            if check is not None:
                check(body["Role"])
        unsupported = sorted(set(body) - {"MemorySize", "Timeout", "Environment", "EphemeralStorage",
                                          "DeadLetterConfig", "FunctionName", "RevisionId", "Role", "TracingConfig",
                                          "KMSKeyArn"})
        if unsupported:
            raise InvalidParameterValueException(
                f"lambdalab does not change {', '.join(unsupported)} through UpdateFunctionConfiguration; "
                "change the cell (or lab.deploy) instead.")
        self.control.update_configuration(name, **changes)
        return _json(self._configuration(name))

    # -- concurrency -------------------------------------------------------------------------------
    @_route("PUT", r"/2017-10-31/functions/([^/]+)/concurrency")
    def put_function_concurrency(self, request, raw):
        name = _function_name(raw)
        value = _body(request)["ReservedConcurrentExecutions"]
        self.control.update_configuration(name, reserved_concurrency=value)
        return _json({"ReservedConcurrentExecutions": value})

    @_route("DELETE", r"/2017-10-31/functions/([^/]+)/concurrency")
    def delete_function_concurrency(self, request, raw):
        self.control.update_configuration(_function_name(raw), reserved_concurrency=None)
        return _empty(204)

    @_route("GET", r"/2019-09-30/functions/([^/]+)/concurrency")
    def get_function_concurrency(self, request, raw):
        reserved = self.control.configuration(_function_name(raw)).reserved_concurrency
        return _json({} if reserved is None else {"ReservedConcurrentExecutions": reserved})

    # -- recursive loop detection ------------------------------------------------------------------
    @_route("PUT", r"/2024-08-31/functions/([^/]+)/recursion-config")
    def put_function_recursion_config(self, request, raw):
        value = _body(request).get("RecursiveLoop")
        if value not in ("Allow", "Terminate"):
            raise InvalidParameterValueException(
                f"1 validation error detected: Value '{value}' at 'recursiveLoop' failed to satisfy constraint: "
                "Member must satisfy enum value set: [Terminate, Allow]")
        self.control.update_configuration(_function_name(raw), recursive_loop=value)
        return _json({"RecursiveLoop": value})

    @_route("GET", r"/2024-08-31/functions/([^/]+)/recursion-config")
    def get_function_recursion_config(self, request, raw):
        return _json({"RecursiveLoop": self.control.configuration(_function_name(raw)).recursive_loop})

    # -- asynchronous invocation configuration ------------------------------------------------------
    @_route("PUT", r"/2019-09-25/functions/([^/]+)/event-invoke-config")
    def put_event_invoke_config(self, request, raw):
        return self._event_invoke_config(request, raw, merge=False)

    @_route("POST", r"/2019-09-25/functions/([^/]+)/event-invoke-config")
    def update_event_invoke_config(self, request, raw):
        return self._event_invoke_config(request, raw, merge=True)

    @_route("GET", r"/2019-09-25/functions/([^/]+)/event-invoke-config")
    def get_event_invoke_config(self, request, raw):
        name = _function_name(raw)
        settings = self.control.configuration(name).event_invoke_config
        if settings is None:
            raise ResourceNotFoundException(
                f"The function {self.control.function_arn(name)} doesn't have an EventInvokeConfig")
        return _json(self._event_invoke_config_body(name, settings))

    @_route("DELETE", r"/2019-09-25/functions/([^/]+)/event-invoke-config")
    def delete_event_invoke_config(self, request, raw):
        self.control.update_configuration(_function_name(raw), event_invoke_config=None)
        return _empty(204)

    def _event_invoke_config(self, request, raw, merge):
        from ..async_queue import EventInvokeConfig
        name = _function_name(raw)
        body = _body(request)
        current = self.control.configuration(name).event_invoke_config if merge else None
        current = current or EventInvokeConfig()
        destinations = body.get("DestinationConfig") or {}
        settings = EventInvokeConfig(
            maximum_retry_attempts=body.get("MaximumRetryAttempts", current.maximum_retry_attempts),
            maximum_event_age_s=body.get("MaximumEventAgeInSeconds", current.maximum_event_age_s),
            on_success=(destinations.get("OnSuccess") or {}).get("Destination", current.on_success if merge else None),
            on_failure=(destinations.get("OnFailure") or {}).get("Destination", current.on_failure if merge else None))
        self.control.update_configuration(name, event_invoke_config=settings)
        return _json(self._event_invoke_config_body(name, settings))

    def _event_invoke_config_body(self, name, settings):
        return {
            "LastModified": datetime.datetime.now(datetime.timezone.utc).timestamp(),
            "FunctionArn": f"{self.control.function_arn(name)}:$LATEST",
            "MaximumRetryAttempts": settings.maximum_retry_attempts,
            "MaximumEventAgeInSeconds": settings.maximum_event_age_s,
            "DestinationConfig": {"OnSuccess": {"Destination": settings.on_success} if settings.on_success else {},
                                  "OnFailure": {"Destination": settings.on_failure} if settings.on_failure else {}},
        }

    # -- invoke ------------------------------------------------------------------------------------
    @_route("POST", r"/2015-03-31/functions/([^/]+)/invocations")
    def invoke(self, request, raw):
        from werkzeug.wrappers import Response
        name = _function_name(raw)
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        client_context = request.headers.get("X-Amz-Client-Context")
        if client_context:
            try:
                client_context = json.loads(base64.b64decode(client_context))
            except ValueError:
                raise InvalidParameterValueException("Client context must be a valid Base64-encoded JSON object.")
        outcome = self.control.invoke(name, request.get_data(), invocation_type=invocation_type,
                                      client_context=client_context,
                                      trace_header=request.headers.get("X-Amzn-Trace-Id"),
                                      caller=_access_key(request))
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if invocation_type == "DryRun":
            return Response(b"", status=204, headers=headers)
        if invocation_type == "Event":
            headers["X-Amzn-RequestId"] = outcome
            return Response(b"", status=202, headers=headers)
        result = outcome
        headers["X-Amzn-RequestId"] = result.request_id
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if request.headers.get("X-Amz-Log-Type") == "Tail":
            # The last 4 KB of the log, base64-encoded, as the Invoke API returns it.
            headers["X-Amz-Log-Result"] = base64.b64encode(result.logs.encode()[-4096:]).decode()
        body = result.raw_payload if result.error is None else json.dumps(result.error).encode()
        return Response(body if body is not None else b"null", status=200, headers=headers,
                        content_type="application/json")

    # -- event source mappings ("CreateEventSourceMapping" and the rest, API reference) ----------------
    @_route("POST", r"/2015-03-31/event-source-mappings")
    def create_event_source_mapping(self, request):
        return _json(self.control.mappings().create(_body(request)), status=202)

    @_route("GET", r"/2015-03-31/event-source-mappings")
    def list_event_source_mappings(self, request):
        query = request.args
        return _json(self.control.mappings().list(
            function_name=query.get("FunctionName"), event_source_arn=query.get("EventSourceArn"),
            marker=query.get("Marker"), max_items=query.get("MaxItems")))

    @_route("GET", r"/2015-03-31/event-source-mappings/([^/]+)")
    def get_event_source_mapping(self, request, uuid):
        return _json(self.control.mappings().get(urllib.parse.unquote(uuid)))

    @_route("PUT", r"/2015-03-31/event-source-mappings/([^/]+)")
    def update_event_source_mapping(self, request, uuid):
        return _json(self.control.mappings().update(urllib.parse.unquote(uuid), _body(request)), status=202)

    @_route("DELETE", r"/2015-03-31/event-source-mappings/([^/]+)")
    def delete_event_source_mapping(self, request, uuid):
        return _json(self.control.mappings().delete(urllib.parse.unquote(uuid)), status=202)

    # -- shapes ------------------------------------------------------------------------------------
    def _configuration(self, name):
        config = self.control.configuration(name)
        digest = base64.b64encode(hashlib.sha256(config.source.encode()).digest()).decode()
        body = {
            "FunctionName": config.name,
            "FunctionArn": self.control.function_arn(name),
            "Runtime": config.runtime,
            "Role": self.control.role_arn(name),
            "Handler": config.handler_string,
            "CodeSize": self.control.package(name)["zipped"],
            "Description": "",
            "Timeout": config.timeout_s,
            "MemorySize": config.memory_mb,
            "LastModified": self.control.last_modified(name),
            "CodeSha256": digest,
            "Version": "$LATEST",
            "TracingConfig": {"Mode": getattr(config, "tracing_mode", "PassThrough")},
            "RevisionId": hashlib.sha256(repr(config).encode()).hexdigest()[:32],
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": [config.architecture],
            "EphemeralStorage": {"Size": config.ephemeral_storage_mb},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{config.name}"},
        }
        if config.environment:
            body["Environment"] = {"Variables": dict(config.environment)}
        if getattr(config, "kms_key_arn", None):
            body["KMSKeyArn"] = config.kms_key_arn     # only a customer managed key shows
        dlq = getattr(config, "dead_letter_target_arn", None)
        if dlq:
            body["DeadLetterConfig"] = {"TargetArn": dlq}
        if config.image is not None:
            # PackageType Image: no Runtime or Handler; the image and its CMD instead.
            body.pop("Runtime", None)
            body.pop("Handler", None)
            body.update(PackageType="Image", CodeSize=0,
                        ImageConfigResponse={"ImageConfig": {"Command": config.image.handler.split()}})
        if config.layers:
            body["Layers"] = [{"Arn": arn, "CodeSize": self.control.layer_size(arn)} for arn in config.layers]
        return body


def _access_key(request):
    match = re.search(r"Credential=([^/,\s]+)/", request.headers.get("Authorization", ""))
    return match.group(1) if match else None


def _body(request):
    data = request.get_data()
    if not data:
        return {}
    body = json.loads(data)
    if not isinstance(body, dict):
        raise InvalidParameterValueException("The request body must be a JSON object.")
    return body


def _json(body, status=200):
    from werkzeug.wrappers import Response
    return Response(json.dumps(body), status=status, content_type="application/json")


def _empty(status):
    from werkzeug.wrappers import Response
    return Response(b"", status=status)


def _error_response(exc):
    from werkzeug.wrappers import Response
    body = exc.as_response()
    return Response(json.dumps(body), status=exc.status_code, content_type="application/json",
                    headers={"x-amzn-ErrorType": exc.error_type})

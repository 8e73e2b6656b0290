"""lambdalab's runtime client: the process inside an execution environment.

It speaks the Lambda Runtime API (version 2018-06-01) to ``AWS_LAMBDA_RUNTIME_API`` exactly as AWS's
own Python runtime interface client (awslambdaric) does: import the handler once (INIT), then loop
``GET /runtime/invocation/next`` -> ``handler(event, context)`` -> ``POST .../response`` or
``POST .../error``. Import failures go to ``POST /runtime/init/error`` and the process exits.

Standard library only: it runs on whatever Python the runtime image has, and in the process
backend on the host's Python.
"""

import importlib
import io
import json
import logging
import os
import socket
import sys
import time

API_VERSION = "2018-06-01"
# Where the function's layers are: /opt, except in the process backend's weaker layout without a
# mount namespace, which names the folder (and takes the name out of the function's sight).
OPT_ROOT = os.environ.pop("LAMBDALAB_OPT_ROOT", "/opt")
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


def _unbuffer_output():
    # Lambda's Python runtime writes user output unbuffered, so a print shows up in the log even
    # when the process is killed a moment later (timeout, out of memory): text goes straight to the
    # raw file descriptor, with no buffer in between.
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                  errors="backslashreplace", write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                  errors="backslashreplace", write_through=True)


class RuntimeAPIClient:
    """HTTP/1.1 client of the Runtime API on one kept-alive connection, like aws-lambda-cpp's.

    Written on a bare socket: http.client would pull in the email package, a tenth of a cold start.
    """

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.host, self.port = host, int(port)
        self.sock = None
        self.rfile = None

    def _connect(self):
        # A numeric address: create_connection would resolve it and import encodings.idna (a cold-start cost).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.connect((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")

    def _close(self):
        if self.sock is not None:
            self.rfile.close()
            self.sock.close()
        self.sock = self.rfile = None

    def _exchange(self, method, path, body, headers):
        head = [f"{method} /{API_VERSION}{path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        status_line = self.rfile.readline()
        if not status_line:
            raise ConnectionResetError("the Runtime API closed the connection")
        status = int(status_line.split()[1])
        response_headers = {}
        while True:
            line = self.rfile.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            response_headers[key.strip()] = value.strip()
        length = int(response_headers.get("Content-Length") or response_headers.get("content-length") or 0)
        data = self.rfile.read(length) if length else b""
        if response_headers.get("Connection", "").lower() == "close":
            self._close()
        return status, response_headers, data

    def _request(self, method, path, body=b"", headers=None):
        for attempt in (0, 1):
            if self.sock is None:
                self._connect()
            try:
                return self._exchange(method, path, body, headers or {})
            except (ConnectionError, ValueError, IndexError):
                # A server closing an idle keep-alive connection is normal; retry once on a new one.
                self._close()
                if attempt:
                    raise

    def next(self):
        status, headers, body = self._request("GET", "/runtime/invocation/next")
        if status != 200:
            raise RuntimeError(f"/runtime/invocation/next returned {status}: {body[:200]!r}")
        return headers, body

    def post_response(self, request_id, payload, content_type="application/json"):
        return self._request("POST", f"/runtime/invocation/{request_id}/response", body=payload,
                             headers={"Content-Type": content_type})

    def post_error(self, request_id, error):
        return self._post_error(f"/runtime/invocation/{request_id}/error", error)

    def post_init_error(self, error):
        return self._post_error("/runtime/init/error", error)

    def _post_error(self, path, error):
        body = json.dumps(error).encode()
        return self._request("POST", path, body=body, headers={
            "Content-Type": "application/json", ERROR_TYPE_HEADER: error["errorType"]})


class FaultException(Exception):
    """An error of the runtime itself, reported with one of Lambda's ``Runtime.*`` error types."""

    def __init__(self, error_type, message, stack_trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


class CognitoIdentity:
    def __init__(self, data):
        data = data or {}
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")


class Client:
    def __init__(self, data):
        data = data or {}
        self.installation_id = data.get("installation_id")
        self.app_title = data.get("app_title")
        self.app_version_name = data.get("app_version_name")
        self.app_version_code = data.get("app_version_code")
        self.app_package_name = data.get("app_package_name")


class ClientContext:
    def __init__(self, data):
        self.client = Client(data.get("client"))
        self.custom = data.get("custom")
        self.env = data.get("env")


class LambdaContext:
    """The ``context`` argument of a Python handler, with the attributes AWS documents."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context, cognito_identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self._deadline_ms = deadline_ms
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        # A string, as in awslambdaric, which reads it straight from the environment.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = CognitoIdentity(cognito_identity)
        self.client_context = ClientContext(client_context) if client_context else None

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
                f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
                f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
                f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
                f"identity={self.identity}])")


class _RequestIdFilter(logging.Filter):
    request_id = None

    def filter(self, record):
        record.aws_request_id = self.request_id
        return True


def _install_logging():
    """The root logger of Lambda's Python runtime: a tab-separated line with level, UTC time and request id."""
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                                  "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.terminator = ""
    request_filter = _RequestIdFilter()
    handler.addFilter(request_filter)
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())
    return request_filter


def _user_frames(tb):
    """Stack frames of the user's code: the runtime's own frames are cut, as awslambdaric does."""
    import traceback   # only on errors: keeps it out of every cold start
    frames = traceback.extract_tb(tb)
    here = os.path.abspath(__file__)
    return [f for f in frames if os.path.abspath(f.filename) != here]


def _format_frames(frames):
    import traceback
    return traceback.format_list(frames)


def _error_from_exception(exc):
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": _format_frames(_user_frames(exc.__traceback__)),
    }


def _log_error(error):
    # Lambda's Python runtime writes one log event per error; in a plain stdout sink the lines are
    # joined with carriage returns so that CloudWatch keeps them together.
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(frame.rstrip("\n") for frame in error["stackTrace"])
    sys.stdout.write("\r".join(lines) + "\n")


def load_handler(handler_name):
    """INIT: import the handler's module. Returns the handler, or raises FaultException."""
    try:
        module_name, function_name = handler_name.rsplit(".", 1)
    except ValueError as exc:
        raise FaultException("Runtime.MalformedHandlerName", f"Bad handler '{handler_name}': {exc}")
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    # Then the layers, as Lambda's Python runtime orders its path: /opt/python/lib/pythonX.Y/site-packages,
    # then /opt/python ("Working with .zip file archives for Python Lambda functions").
    at = sys.path.index(task_root) + 1
    for folder in (os.path.join(OPT_ROOT, "python", "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}",
                                "site-packages"), os.path.join(OPT_ROOT, "python")):
        if folder not in sys.path:
            sys.path.insert(at, folder)
            at += 1
    if module_name in sys.builtin_module_names:
        raise FaultException("Runtime.BuiltInModuleConflict",
                             f"Cannot use built-in module {module_name} as a handler module")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise FaultException("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {(exc.text or "").strip()}\n']
        raise FaultException("Runtime.UserCodeSyntaxError",
                             f"Syntax error in module '{module_name}': {exc}", trace)
    handler = getattr(module, function_name, None)
    if handler is None:
        # Like awslambdaric, a missing handler is reported on each invoke, not at INIT.
        fault = FaultException("Runtime.HandlerNotFound",
                               f"Handler '{function_name}' missing on module '{module_name}'")

        def handler(event, context):
            raise fault
    return handler


def handle_one(client, handler, request_filter):
    headers, body = client.next()
    headers = {k.lower(): v for k, v in headers.items()}
    request_id = headers["lambda-runtime-aws-request-id"]
    request_filter.request_id = request_id
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        client_context = json.loads(headers["lambda-runtime-client-context"]) \
            if headers.get("lambda-runtime-client-context") else None
        cognito = json.loads(headers["lambda-runtime-cognito-identity"]) \
            if headers.get("lambda-runtime-cognito-identity") else None
    except ValueError as exc:
        error = {"errorMessage": f"Unable to parse Client Context JSON: {exc}",
                 "errorType": "Runtime.LambdaContextUnmarshalError", "stackTrace": []}
        _log_error(error)
        client.post_error(request_id, error)
        return
    context = LambdaContext(request_id, int(headers["lambda-runtime-deadline-ms"]),
                            headers.get("lambda-runtime-invoked-function-arn"), client_context, cognito)
    content_type = "application/json"
    try:
        try:
            event = json.loads(body) if body else None
        except (ValueError, RecursionError) as exc:
            raise FaultException("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}")
        result = handler(event, context)
        if isinstance(result, bytes):
            # As awslambdaric: a handler's bytes are the response as they are, not JSON.
            payload, content_type = result, "application/unknown"
        else:
            try:
                payload = json.dumps(result).encode()
            except (TypeError, ValueError, RecursionError) as exc:
                # RecursionError: a value nested too deeply to encode; awslambdaric says the same.
                raise FaultException("Runtime.MarshalError", f"Unable to marshal response: {exc}")
    except FaultException as fault:
        error = {"errorMessage": fault.message, "errorType": fault.error_type, "stackTrace": fault.stack_trace}
        _log_error(error)
        client.post_error(request_id, error)
    except Exception as exc:  # the handler's own error; SystemExit is left to end the process
        error = _error_from_exception(exc)
        _log_error(error)
        client.post_error(request_id, error)
    else:
        client.post_response(request_id, payload, content_type)


def main():
    _unbuffer_output()
    client = RuntimeAPIClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    request_filter = _install_logging()
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except FaultException as fault:
        error = {"errorMessage": fault.message, "errorType": fault.error_type, "stackTrace": fault.stack_trace}
        _log_error(error)
        client.post_init_error(error)
        sys.exit(1)
    except Exception as exc:  # an error raised by the module's own top-level code
        error = _error_from_exception(exc)
        _log_error(error)
        client.post_init_error(error)
        sys.exit(1)
    while True:
        try:
            handle_one(client, handler, request_filter)
        except (ConnectionError, OSError) as exc:
            if isinstance(exc, (ConnectionRefusedError, ConnectionResetError, BrokenPipeError)):
                # The Runtime API is gone: the environment is being shut down.
                sys.exit(0)
            raise


if __name__ == "__main__":
    main()

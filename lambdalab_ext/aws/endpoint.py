"""One local HTTP endpoint for every AWS API a notebook or a function calls.

moto's services (S3, DynamoDB, SQS, SNS, EventBridge, Kinesis, CloudWatch Logs, Secrets Manager,
SSM, KMS, STS, IAM...) answer in this process, so a notebook cell and a function see the same
state; requests for Lambda go to the lab's own Lambda API instead (moto's Lambda would run functions
its own way). The endpoint starts on first need and stops with the lab.

A service that moto does not implement answers with AWS's error shape (``UnknownOperation``-style
JSON or XML as botocore parses it), never a hang.

>>> aws = AWSEndpoint()                                                  # doctest: +SKIP
>>> aws.client("s3").create_bucket(Bucket="uploads")                      # doctest: +SKIP
>>> aws.endpoint_url                                                      # doctest: +SKIP
'http://127.0.0.1:40123'
"""

import collections
import dataclasses
import io
import json
import os
import urllib.parse
import re
import threading
import time
import weakref

# Credentials the notebook side signs with (moto checks none unless told; the lab's IAM will).
NOTEBOOK_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"          # AWS's documented example key
NOTEBOOK_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


def service_of(environ):
    """(access key id, region, service) named by a SigV4 request's credential scope, or Nones."""
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not match:
        return None, None, None
    return match.group(1), match.group(2), match.group(3).lower()


@dataclasses.dataclass
class AWSCall:
    """One AWS API call as the endpoint saw it: the request, and moto's answer once it answered."""

    service: str | None            # the SigV4 signing name: "s3", "sns", "events", "sqs", ...
    region: str | None
    access_key: str | None
    method: str
    path: str                      # unquoted, as WSGI gives it
    query: dict                    # the query string's parameters (last value of each)
    headers: dict                  # lower-case names
    body: bytes
    status: int = 0
    response_headers: dict = dataclasses.field(default_factory=dict)
    response_body: bytes = b""

    @classmethod
    def of(cls, environ, service):
        access_key, region, _ = service_of(environ)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > 0:
            body = environ["wsgi.input"].read(length)
        elif environ.get("wsgi.input_terminated"):   # chunked: the server ends the stream
            body = environ["wsgi.input"].read()
        else:
            body = b""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        return cls(service, region, access_key, environ.get("REQUEST_METHOD", "GET"),
                   environ.get("PATH_INFO", "/"), query, headers, body)

    @property
    def ok(self):
        return 200 <= self.status < 300

    @property
    def action(self):
        """The operation's name where the protocol names it: ``X-Amz-Target`` (JSON protocols) or
        the ``Action`` parameter (query protocol: SNS, SQS's older form); None for REST (S3)."""
        target = self.headers.get("x-amz-target")
        if target:
            return target.rsplit(".", 1)[-1]
        return self.params.get("Action")

    @property
    def params(self):
        """Query-protocol parameters (form body and query string)."""
        form = {}
        if "x-www-form-urlencoded" in self.headers.get("content-type", ""):
            form = dict(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))
        return {**self.query, **form}

    def json(self):
        """The request body of a JSON-protocol call, parsed (``{}`` if it is not JSON)."""
        try:
            value = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


class AWSEndpoint:
    """moto's services plus the lab's Lambda API on 127.0.0.1, started on first need.

    ``lambda_app`` is a WSGI application for the Lambda API (the lab's own); ``region`` the default
    region of the clients this object makes.
    """

    def __init__(self, lambda_app=None, region="us-east-1", host="127.0.0.1"):
        self.lambda_app = lambda_app
        self.region = region
        self.host = host
        self.start_seconds = None          # what moto's start-up cost, measured on first need
        self._server = None
        self._thread = None
        self._lock = threading.Lock()
        self._clients = weakref.WeakSet()   # closed with the endpoint: their sockets point at it
        self._observers = []
        self._interceptors = []
        self.observer_errors = collections.deque(maxlen=100)

    # -- life -----------------------------------------------------------------------------------
    @property
    def started(self):
        return self._server is not None

    def start(self):
        """Start the endpoint now (the first AWS call would). Returns its URL."""
        with self._lock:
            if self._server is None:
                started = time.perf_counter()
                # moto reads these at import; the lab's functions never run inside moto.
                os.environ.setdefault("MOTO_DOCKER_NETWORK_MODE", "none")
                from moto.moto_server.werkzeug_app import (DomainDispatcherApplication, MotoRequestHandler,
                                                           create_backend_app)
                from werkzeug.serving import make_server
                class QuietHandler(MotoRequestHandler):
                    def log_request(self, *args, **kwargs):   # no access log in the notebook
                        pass

                self._moto = DomainDispatcherApplication(create_backend_app)
                self._server = make_server(self.host, 0, self._dispatch, threaded=True,
                                           request_handler=QuietHandler)
                self._server.daemon_threads = True
                self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                                name="lambdalab-aws", daemon=True)
                self._thread.start()
                self.start_seconds = time.perf_counter() - started
            host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def address(self):
        """(host, port) of the endpoint, starting it if needed."""
        self.start()
        return self._server.server_address[:2]

    @property
    def endpoint_url(self):
        """``http://127.0.0.1:PORT``, starting the endpoint if needed."""
        return self.start()

    def stop(self):
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            self._thread.join(timeout=5)
        for client in list(self._clients):
            try:
                client.close()
            except Exception:
                pass

    # -- clients --------------------------------------------------------------------------------
    def client(self, service, **kwargs):
        """A boto3 client of ``service`` on this endpoint (the notebook's side). Host prefixes are
        off (``StartSyncExecution`` would go to ``sync-127.0.0.1``, which no resolver knows)."""
        from botocore.config import Config
        no_prefix = Config(inject_host_prefix=False)
        kwargs["config"] = kwargs["config"].merge(no_prefix) if kwargs.get("config") else no_prefix
        client = self.session().client(service, endpoint_url=self.endpoint_url, **kwargs)
        self._clients.add(client)
        return client

    def resource(self, service, **kwargs):
        return self.session().resource(service, endpoint_url=self.endpoint_url, **kwargs)

    def session(self):
        import boto3
        return boto3.session.Session(aws_access_key_id=NOTEBOOK_ACCESS_KEY,
                                     aws_secret_access_key=NOTEBOOK_SECRET_KEY, region_name=self.region)

    # -- routing --------------------------------------------------------------------------------
    def _dispatch(self, environ, start_response):
        _, _, service = service_of(environ)
        if service == "lambda":
            if self.lambda_app is None:
                return _error(start_response, 501, "ServiceException", "The lab's Lambda API is not attached.")
            return self.lambda_app(environ, start_response)
        observers = list(self._observers)
        interceptors = list(self._interceptors)
        if not observers and not interceptors:
            return self._moto_or_error(environ, start_response, service)
        # Someone reacts to AWS calls (S3 and SNS notifications, EventBridge rules): keep the
        # request and the answer, so that they can be shown the call once moto has answered it.
        call = AWSCall.of(environ, service)
        environ["wsgi.input"] = io.BytesIO(call.body)
        own = None
        for interceptor in interceptors:
            try:
                own = interceptor(call)
            except Exception as exc:   # an interceptor's bug must not break the AWS call: moto answers
                self.observer_errors.append(exc)
                own = None
            if own is not None:
                break
        if own is not None:
            call.status, headers, body = own
            call.response_headers = {k.lower(): v for k, v in headers.items()}
            call.response_body = body
            start_response(f"{call.status} {_REASONS.get(call.status, 'Error')}",
                           [*headers.items(), ("Content-Length", str(len(body)))])
        else:
            answer = {}

            def keep(status, headers, exc_info=None):
                answer["status"], answer["headers"] = status, headers
                return start_response(status, headers, exc_info)

            chunks = self._moto_or_error(environ, keep, service)
            try:
                body = b"".join(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
            call.status = int(answer.get("status", "500").split(" ", 1)[0])
            call.response_headers = {k.lower(): v for k, v in answer.get("headers", [])}
            call.response_body = body
        for observer in observers:
            try:
                observer(call)
            except Exception as exc:   # an observer's bug must not break the AWS call
                self.observer_errors.append(exc)
        return [body]

    def _moto_or_error(self, environ, start_response, service):
        try:
            return self._moto(environ, start_response)
        except Exception as exc:   # a service or operation moto lacks: AWS's error shape, not a hang
            return _error(start_response, 501, "NotImplemented",
                          f"lambdalab's embedded AWS (moto) does not implement this request ({service or 'unknown service'}): "
                          f"{type(exc).__name__}: {exc}")

    # -- observers ------------------------------------------------------------------------------
    def observe(self, observer):
        """Call ``observer(call)`` with an ``AWSCall`` after each AWS call moto has answered (from
        the endpoint's request thread, before the caller gets the answer: what an observer queues,
        the caller's next step finds queued). Returns a function that stops it."""
        self._observers.append(observer)

        def stop():
            try:
                self._observers.remove(observer)
            except ValueError:
                pass
        return stop

    def intercept(self, interceptor, *, first=False):
        """Call ``interceptor(call)`` with an ``AWSCall`` (the request only) before moto sees it:
        it returns None to let moto answer, or ``(status, headers, body)`` to answer instead (a
        refusal in AWS's own error shape where moto would accept what AWS refuses, or an
        operation the lab serves itself). Observers then see that answer. Runs in the request
        thread; the first interceptor that answers wins (``first=True`` puts this one ahead of those
        already there: authorization comes before any answer). Returns a function that stops it."""
        if first:
            self._interceptors.insert(0, interceptor)
        else:
            self._interceptors.append(interceptor)

        def stop():
            try:
                self._interceptors.remove(interceptor)
            except ValueError:
                pass
        return stop

    def __repr__(self):
        state = f"http://{self.host}:{self._server.server_address[1]}" if self.started else "not started"
        return f"<AWSEndpoint {state}>"


_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            409: "Conflict", 500: "Internal Server Error", 501: "Not Implemented"}


def _error(start_response, status, code, message):
    body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
    start_response(f"{status} {'Not Implemented' if status == 501 else 'Error'}",
                   [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                    ("Content-Length", str(len(body)))])
    return [body]

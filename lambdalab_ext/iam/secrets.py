"""Secrets for the lab's functions: environment variables encrypted with a KMS key as the Lambda
console's encryption helpers encrypt them, and the AWS Parameters and Secrets Lambda Extension,
the local HTTP cache a function reaches at ``localhost:2773`` inside its environment.

>>> key = lab.aws.client("kms").create_key()["KeyMetadata"]["Arn"]              # doctest: +SKIP
>>> secret = encrypt_variable(lab, key, "orders", "hunter2")                     # doctest: +SKIP
>>> fn = lab.deploy("orders", SOURCE, env={"DB_PASSWORD": secret}, kms_key_arn=key)  # doctest: +SKIP
>>> extension = attach(lab)          # lab.secrets_extension; its close() detaches it   # doctest: +SKIP

Inside the function, as the AWS documentation shows it::

    url = "http://localhost:2773/secretsmanager/get?secretId=db-password"
    headers = {"X-Aws-Parameters-Secrets-Token": os.environ["AWS_SESSION_TOKEN"]}
    secret = json.loads(urllib.request.urlopen(urllib.request.Request(url, headers=headers)).read())

The extension fetches with the function's own credentials (its execution role's session), so the
role decides what it may read, exactly as for a ``boto3`` call; it caches each answer for
``SECRETS_MANAGER_TTL`` / ``SSM_PARAMETER_STORE_TTL`` seconds (300 by default, at most 300) of the
lab's clock, so a rotated secret is seen only once the cached value expires.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import threading
import urllib.parse

from .enforce import key_of_ciphertext

SECRETS_EXTENSION_PORT = 2773          # the extension's default port (PARAMETERS_SECRETS_EXTENSION_HTTP_PORT)
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"
DEFAULT_TTL_S = 300                    # SECRETS_MANAGER_TTL and SSM_PARAMETER_STORE_TTL: 5 minutes
# A function is hostile code and reaches this server: at most this many connections at once (a
# thread each), each dropped after this long without a complete request.
MAX_CONNECTIONS = 64
CONNECTION_TIMEOUT_S = 5.0
MAX_TTL_S = 300                        # "exceeds max limit. Setting ... TTL to 5m0s"
DEFAULT_CACHE_SIZE = 1000              # PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE

__all__ = ["encrypt_variable", "decrypt_variable", "attach", "ParametersAndSecretsExtension",
           "SECRETS_EXTENSION_PORT", "TOKEN_HEADER", "key_of_ciphertext"]


# -- KMS-encrypted environment variables -------------------------------------------------------------
# The console's encryption helpers encrypt a value with the key and the encryption context
# {"LambdaFunctionName": NAME}, and the snippet they give decrypts it with the same context:
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html
def _context(function_name):
    return {"LambdaFunctionName": function_name}


def encrypt_variable(lab, key_id, function_name, plaintext):
    """The base64 ciphertext of ``plaintext`` under the KMS key ``key_id`` (an ID, ARN or alias of
    the lab's KMS), with the encryption context Lambda's helpers use, to put in a variable.

    >>> encrypt_variable(lab, "alias/app", "orders", "hunter2")[:8]                 # doctest: +SKIP
    'NjM0YjQ2'
    """
    if not isinstance(plaintext, (str, bytes)):
        raise _validation("plaintext", plaintext, "Member must be a string")
    if not isinstance(function_name, str) or not function_name:
        raise _validation("functionName", function_name, "Member must have length greater than or equal to 1")
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    blob = lab.aws.client("kms").encrypt(KeyId=key_id, Plaintext=data,
                                         EncryptionContext=_context(function_name))["CiphertextBlob"]
    return base64.b64encode(blob).decode()


def decrypt_variable(lab, ciphertext, function_name):
    """What the function's ``kms.decrypt`` gets back (with the notebook's credentials): the plaintext."""
    blob = base64.b64decode(ciphertext)
    return lab.aws.client("kms").decrypt(CiphertextBlob=blob,
                                         EncryptionContext=_context(function_name))["Plaintext"].decode()


def _validation(field, value, constraint):
    from ..errors import InvalidParameterValueException
    return InvalidParameterValueException(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}")


# -- the AWS Parameters and Secrets Lambda Extension -------------------------------------------------
# https://docs.aws.amazon.com/secretsmanager/latest/userguide/retrieving-secrets_lambda.html
# https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-integration-lambda-extensions.html
def _ttl(variables, name):
    """A TTL variable in seconds: absent means 300, 0 turns the cache off, above 300 is 300."""
    text = variables.get(name)
    if text is None or text == "":
        return DEFAULT_TTL_S
    try:
        value = int(text)
    except ValueError:
        return DEFAULT_TTL_S
    return max(0, min(value, MAX_TTL_S))


def _cache_enabled(variables):
    return str(variables.get("PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED", "true")).lower() != "false"


def _json_default(value):
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


class _Entry:
    __slots__ = ("expires", "body")

    def __init__(self, expires, body):
        self.expires, self.body = expires, body


class ParametersAndSecretsExtension:
    """The extension for every environment of a lab: one HTTP server, which tells the environments
    apart by their session token (the header the extension requires), answers with the function's
    own credentials, and keeps one cache per environment, as each environment runs its own copy.

    ``address`` is where it listens on the host; the Docker backend relays each environment's
    ``127.0.0.1:2773`` to it, the process backend gives the function its port in
    ``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` (processes share the host's loopback).
    ``fetches`` counts the calls it made to Secrets Manager and Parameter Store (cache misses).
    """

    def __init__(self, lab):
        self.lab = lab
        self._lock = threading.Lock()
        self._by_token = {}           # session token -> (access key id, secret, token, function, environment)
        self._caches = {}             # environment id -> {request key: _Entry}
        self._clients = {}
        self.fetches = 0
        self._closed = False
        self._undo = []
        backend = lab.backend
        issue = getattr(backend, "issue_credentials", None)

        def issue_and_remember(config, environment_id):
            if issue is not None:
                credentials = issue(config, environment_id)
            else:
                credentials = _anonymous_credentials()
            with self._lock:
                self._by_token[credentials[2]] = (*credentials, config.name, environment_id)
            return credentials
        backend.issue_credentials = issue_and_remember
        self._undo.append(lambda: _restore(backend, "issue_credentials", issue))

        extension = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = CONNECTION_TIMEOUT_S     # a slow or silent client is dropped (slowloris)

            def do_GET(self):
                status, body = extension.handle(self.path, self.headers.get(TOKEN_HEADER))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if status == 200 else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):      # the lab's record, not stderr
                pass

        self._server = _BoundedServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.address = self._server.server_address
        self._thread = threading.Thread(target=self._server.serve_forever, name="lambdalab-secrets-extension",
                                        daemon=True)
        self._thread.start()
        if backend.name != "docker":
            create = backend.create_sandbox

            def create_with_port(spec, *args, **kwargs):
                import dataclasses
                variables = {**spec.variables, "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(self.address[1])}
                return create(dataclasses.replace(spec, variables=variables), *args, **kwargs)
            backend.create_sandbox = create_with_port
            self._undo.append(lambda: backend.__dict__.pop("create_sandbox", None))
        lab.secrets_extension = self

    # -- one request ------------------------------------------------------------------------------
    def handle(self, path, token):
        """``(status, body)`` for ``GET path`` with the token header ``token`` (None if absent)."""
        url = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        route = url.path.rstrip("/")
        if route not in ("/secretsmanager/get", "/systemsmanager/parameters/get"):
            return 404, "Not Found"
        with self._lock:
            holder = self._by_token.get(token) if token else None
        if holder is None:
            # The extension answers only callers that send the environment's session token.
            return 401, "Unauthorized"
        key_id, secret, session_token, function, environment_id = holder
        variables = self._variables(function)
        if route == "/secretsmanager/get":
            if not query.get("secretId"):
                return 400, "secretId is required"
            params = {"SecretId": query["secretId"]}
            if query.get("versionId"):
                params["VersionId"] = query["versionId"]
            if query.get("versionStage"):
                params["VersionStage"] = query["versionStage"]
            service, operation, ttl = "secretsmanager", "GetSecretValue", _ttl(variables, "SECRETS_MANAGER_TTL")
        else:
            if not query.get("name"):
                return 400, "name is required"
            params = {"Name": query["name"],
                      "WithDecryption": query.get("withDecryption", "false").lower() == "true"}
            service, operation, ttl = "ssm", "GetParameter", _ttl(variables, "SSM_PARAMETER_STORE_TTL")
        request_key = (service, tuple(sorted(params.items())))
        cached = ttl > 0 and _cache_enabled(variables)
        now = self.lab.clock.now()
        if cached:
            with self._lock:
                entry = self._caches.get(environment_id, {}).get(request_key)
            if entry is not None and now < entry.expires:
                return 200, entry.body
        status, body = self._fetch(service, operation, params, (key_id, secret, session_token))
        if status == 200 and cached:
            with self._lock:
                cache = self._caches.setdefault(environment_id, {})
                if len(cache) >= _cache_size(variables):
                    cache.pop(min(cache, key=lambda k: cache[k].expires))
                cache[request_key] = _Entry(now + ttl, body)
        return status, body

    def _fetch(self, service, operation, params, credentials):
        import botocore.exceptions
        client = self._client(service, credentials)
        with self._lock:
            self.fetches += 1
        method = "get_secret_value" if operation == "GetSecretValue" else "get_parameter"
        try:
            out = getattr(client, method)(**params)
        except botocore.exceptions.ClientError as e:
            error = e.response.get("Error", {})
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            request_id = e.response.get("ResponseMetadata", {}).get("RequestId", "")
            # The extension passes the service's failure on in its own words (as it logs it).
            label = "Secrets Manager" if service == "secretsmanager" else "SSM"
            return status, (f"{operation} request encountered an error: operation error {label}: {operation}, "
                            f"https response error StatusCode: {status}, RequestID: {request_id}, api error "
                            f"{error.get('Code', 'UnknownError')}: {error.get('Message', '')}")
        out.pop("ResponseMetadata", None)
        out["ResultMetadata"] = {}
        return 200, json.dumps(out, default=_json_default)

    def _client(self, service, credentials):
        key = (service, credentials[0])
        with self._lock:
            client = self._clients.get(key)
        if client is None:
            import boto3
            session = boto3.session.Session(aws_access_key_id=credentials[0], aws_secret_access_key=credentials[1],
                                            aws_session_token=credentials[2], region_name=self.lab.region)
            client = session.client(service, endpoint_url=self.lab.aws.endpoint_url)
            with self._lock:
                self._clients[key] = client
        return client

    def _variables(self, function):
        try:
            return dict(self.lab.service.get(function).config.environment or {})
        except Exception:             # the function is gone: defaults
            return {}

    # -- what it holds ----------------------------------------------------------------------------
    def cached(self, function=None):
        """``{(service, parameters): seconds left}`` of the live cache entries (of one function's environments)."""
        now = self.lab.clock.now()
        with self._lock:
            environments = {h[4] for h in self._by_token.values() if function is None or h[3] == function}
            return {k: e.expires - now for env in environments for k, e in self._caches.get(env, {}).items()
                    if e.expires > now}

    def close(self):
        """Stop serving and undo what ``attach`` changed; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        for undo in reversed(self._undo):
            undo()
        self._undo = []
        self._server.shutdown()
        self._server.server_close()
        for client in self._clients.values():
            try:
                client.close()
            except Exception:
                pass
        if getattr(self.lab, "secrets_extension", None) is self:
            self.lab.secrets_extension = None


def _cache_size(variables):
    try:
        return max(1, min(int(variables.get("PARAMETERS_SECRETS_EXTENSION_CACHE_SIZE", DEFAULT_CACHE_SIZE)), 1000))
    except ValueError:
        return DEFAULT_CACHE_SIZE


def _anonymous_credentials():
    import secrets
    return ("ASIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30),
            "lambdalab-session-" + secrets.token_urlsafe(48))


class _BoundedServer(http.server.ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with a cap on connections at once: beyond it a new one is closed at
    once, so a flood of connections cannot take the lab's threads and descriptors."""

    daemon_threads = True

    def __init__(self, *args, **kwargs):
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.refused = 0
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            self.refused += 1
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def handle_error(self, request, client_address):
        pass                           # a client that went away (a broken pipe) is not the lab's error

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _restore(obj, name, original):
    if original is None:
        obj.__dict__.pop(name, None)
    else:
        setattr(obj, name, original)


def attach(lab):
    """Start the Parameters and Secrets extension for the lab's environments (``lab.secrets_extension``)
    and let ``kms:Decrypt`` be authorized on the key a ciphertext names. Attach it after the lab's
    IAM (its sessions are what the extension fetches with) and before functions start."""
    current = getattr(lab, "secrets_extension", None)
    if isinstance(current, ParametersAndSecretsExtension):
        return current
    return ParametersAndSecretsExtension(lab)

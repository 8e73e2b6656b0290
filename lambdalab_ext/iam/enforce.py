"""Every AWS call a function makes, authorized against its execution role before the service answers.

A call reaches the lab's endpoint signed with an environment's credentials (``Sessions``): the
enforcer names the operation (``X-Amz-Target`` for JSON protocols, ``Action`` for the query
protocol, the method and path for S3's REST API, the route for Lambda's), asks
:func:`~lambdalab_ext.iam.actions.authorization_for` which ``(action, resource)`` pairs it needs,
and evaluates each with :func:`~lambdalab_ext.iam.evaluator.evaluate` against the role's
identity-based policies, its permissions boundary and the resource's own policy (an S3 bucket
policy, an SQS queue policy, an SNS topic policy). A denied call is answered as the service
answers it on AWS; an allowed one goes on to moto. Calls signed with any other key (the
notebook's clients, the lab's own deliveries and pollers) are not a function's and pass.

``sts:GetCallerIdentity`` from a function answers the role session
(``arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION``), as it does on AWS; moto would answer its own.

>>> enforcer = Enforcer(lab.aws, roles, sessions, lab.record, region="us-east-1",
...                     account_id="123456789012")                              # doctest: +SKIP
>>> stop = lab.aws.intercept(enforcer)                                            # doctest: +SKIP
"""

from __future__ import annotations

import datetime
from base64 import b64decode as _b64decode
import io
import json
import re
import threading
import uuid
import urllib.parse
import xml.etree.ElementTree as ET

from .actions import authorization_for, iam_prefix
from .evaluator import AuthorizationRequest, access_denied_message, evaluate
from .policy import parse_policy

# ---------------------------------------------------------------------------------------------
# Which operation a call is
# ---------------------------------------------------------------------------------------------

# S3's REST API: a subresource in the query string names the operation
# (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html).
_S3_BUCKET_SUBRESOURCES = {
    # subresource: (GET, PUT, DELETE)
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "policyStatus": ("GetBucketPolicyStatus", None, None),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "DeleteBucketTagging"),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "notification": ("GetBucketNotificationConfiguration", "PutBucketNotificationConfiguration", None),
    "cors": ("GetBucketCors", "PutBucketCors", "DeleteBucketCors"),
    "encryption": ("GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption"),
    "lifecycle": ("GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration", "DeleteBucketLifecycle"),
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"),
    "publicAccessBlock": ("GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock"),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls", None),
    "object-lock": ("GetObjectLockConfiguration", "PutObjectLockConfiguration", None),
    "location": ("GetBucketLocation", None, None),
    "versions": ("ListObjectVersions", None, None),
    "uploads": ("ListMultipartUploads", None, None),
}
_S3_OBJECT_SUBRESOURCES = {
    "acl": ("GetObjectAcl", "PutObjectAcl", None),
    "tagging": ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"),
    "retention": ("GetObjectRetention", "PutObjectRetention", None),
    "legal-hold": ("GetObjectLegalHold", "PutObjectLegalHold", None),
    "attributes": ("GetObjectAttributes", None, None),
}
_METHOD_INDEX = {"GET": 0, "PUT": 1, "DELETE": 2}


def s3_operation(method, path, query, headers, body=b""):
    """The S3 operation of a path-style REST request, and its parameters as botocore names them.

    >>> s3_operation("GET", "/photos", {"list-type": "2", "prefix": "cats/"}, {})
    ('ListObjectsV2', {'Bucket': 'photos', 'Prefix': 'cats/'})
    >>> s3_operation("PUT", "/photos/a.jpg", {}, {"x-amz-copy-source": "/inbox/a.jpg"})
    ('CopyObject', {'Bucket': 'photos', 'Key': 'a.jpg', 'CopySource': '/inbox/a.jpg'})
    """
    bucket, _, key = path.lstrip("/").partition("/")
    params = {}
    if bucket:
        params["Bucket"] = bucket
    if key:
        params["Key"] = key
    if query.get("versionId"):
        params["VersionId"] = query["versionId"]
    if not bucket:
        return ("ListBuckets" if method == "GET" else None), params
    if not key:
        for name, operations in _S3_BUCKET_SUBRESOURCES.items():
            if name in query:
                operation = operations[_METHOD_INDEX[method]] if method in _METHOD_INDEX else None
                return operation, params
        if method == "GET":
            for param, name in (("prefix", "Prefix"), ("delimiter", "Delimiter"), ("max-keys", "MaxKeys")):
                if param in query:
                    params[name] = query[param]
            return ("ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"), params
        if method == "HEAD":
            return "HeadBucket", params
        if method == "PUT":
            return "CreateBucket", params
        if method == "DELETE":
            return "DeleteBucket", params
        if method == "POST" and "delete" in query:
            params["Delete"] = {"Objects": _delete_objects(body)}
            return "DeleteObjects", params
        return None, params
    for name, operations in _S3_OBJECT_SUBRESOURCES.items():
        if name in query:
            operation = operations[_METHOD_INDEX[method]] if method in _METHOD_INDEX else None
            return operation, params
    copy_source = headers.get("x-amz-copy-source")
    for header, name in (("x-amz-acl", "ACL"), ("x-amz-tagging", "Tagging"),
                         ("x-amz-server-side-encryption", "ServerSideEncryption"),
                         ("x-amz-grant-read", "GrantRead"), ("x-amz-grant-full-control", "GrantFullControl")):
        if headers.get(header):
            params[name] = headers[header]
    if method == "GET":
        return ("ListParts" if "uploadId" in query else "GetObject"), params
    if method == "HEAD":
        return "HeadObject", params
    if method == "PUT":
        if copy_source:
            params["CopySource"] = copy_source
            return ("UploadPartCopy" if "uploadId" in query else "CopyObject"), params
        return ("UploadPart" if "uploadId" in query else "PutObject"), params
    if method == "DELETE":
        return ("AbortMultipartUpload" if "uploadId" in query else "DeleteObject"), params
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload", params
        if "uploadId" in query:
            return "CompleteMultipartUpload", params
        if "restore" in query:
            return "RestoreObject", params
        if "select" in query:
            return "SelectObjectContent", params
    return None, params


def _delete_objects(body):
    try:
        root = ET.fromstring(body or b"<Delete/>")
    except ET.ParseError:
        return []
    objects = []
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] != "Object":
            continue
        item = {}
        for child in element:
            item[child.tag.rsplit("}", 1)[-1]] = child.text or ""
        if "Key" in item:
            objects.append(item)
    return objects


# Lambda's REST routes (Lambda API Reference): method, path pattern -> operation.
_LAMBDA_ROUTES = [
    ("POST", r"/2015-03-31/functions/([^/]+)/invocations", "Invoke"),
    ("POST", r"/2014-11-13/functions/([^/]+)/invoke-async", "InvokeAsync"),
    ("GET", r"/2015-03-31/functions", "ListFunctions"),
    ("GET", r"/2015-03-31/functions/([^/]+)", "GetFunction"),
    ("DELETE", r"/2015-03-31/functions/([^/]+)", "DeleteFunction"),
    ("GET", r"/2015-03-31/functions/([^/]+)/configuration", "GetFunctionConfiguration"),
    ("PUT", r"/2015-03-31/functions/([^/]+)/configuration", "UpdateFunctionConfiguration"),
    ("PUT", r"/2015-03-31/functions/([^/]+)/code", "UpdateFunctionCode"),
    ("GET", r"/2015-03-31/functions/([^/]+)/policy", "GetPolicy"),
    ("PUT", r"/2017-10-31/functions/([^/]+)/concurrency", "PutFunctionConcurrency"),
    ("DELETE", r"/2017-10-31/functions/([^/]+)/concurrency", "DeleteFunctionConcurrency"),
    ("GET", r"/2019-09-30/functions/([^/]+)/concurrency", "GetFunctionConcurrency"),
    ("PUT", r"/2019-09-25/functions/([^/]+)/event-invoke-config", "PutFunctionEventInvokeConfig"),
    ("POST", r"/2019-09-25/functions/([^/]+)/event-invoke-config", "UpdateFunctionEventInvokeConfig"),
    ("GET", r"/2019-09-25/functions/([^/]+)/event-invoke-config", "GetFunctionEventInvokeConfig"),
    ("DELETE", r"/2019-09-25/functions/([^/]+)/event-invoke-config", "DeleteFunctionEventInvokeConfig"),
    ("PUT", r"/2024-08-31/functions/([^/]+)/recursion-config", "PutFunctionRecursionConfig"),
    ("GET", r"/2024-08-31/functions/([^/]+)/recursion-config", "GetFunctionRecursionConfig"),
    ("POST", r"/2015-03-31/event-source-mappings", "CreateEventSourceMapping"),
    ("GET", r"/2015-03-31/event-source-mappings", "ListEventSourceMappings"),
    ("GET", r"/2015-03-31/event-source-mappings/([^/]+)", "GetEventSourceMapping"),
    ("PUT", r"/2015-03-31/event-source-mappings/([^/]+)", "UpdateEventSourceMapping"),
    ("DELETE", r"/2015-03-31/event-source-mappings/([^/]+)", "DeleteEventSourceMapping"),
]
_LAMBDA_ROUTES = [(m, re.compile(p + r"/?\Z"), op) for m, p, op in _LAMBDA_ROUTES]


def lambda_operation(method, path, query=None, body=b""):
    """The Lambda API operation of a request, and its parameters.

    >>> lambda_operation("POST", "/2015-03-31/functions/orders/invocations")
    ('Invoke', {'FunctionName': 'orders'})
    """
    for route_method, pattern, operation in _LAMBDA_ROUTES:
        match = pattern.match(path)
        if match and method == route_method:
            params = {}
            if match.groups():
                name = urllib.parse.unquote(match.group(1))
                params["UUID" if "event-source-mappings" in path else "FunctionName"] = name
            if query and query.get("Qualifier"):
                params["Qualifier"] = query["Qualifier"]
            if operation in ("CreateEventSourceMapping", "UpdateFunctionConfiguration"):
                try:
                    params.update({k: v for k, v in json.loads(body or b"{}").items() if k not in params})
                except (ValueError, AttributeError):
                    pass
            return operation, params
    return None, {}


def operation_of(call):
    """``(service, operation, params)`` of an ``AWSCall``; operation None when it cannot be named."""
    service = call.service
    if service == "s3":
        operation, params = s3_operation(call.method, call.path, call.query, call.headers, call.body)
        return service, operation, params
    target = call.headers.get("x-amz-target")
    if target:
        return service, target.rsplit(".", 1)[-1], call.json()
    if call.headers.get("smithy-protocol") == "rpc-v2-cbor" and "/operation/" in call.path:
        # CloudWatch speaks CBOR now; the operation is in the path. Its parameters are not read.
        return service, call.path.rsplit("/operation/", 1)[1].strip("/"), {}
    params = call.params
    if params.get("Action"):
        return service, params["Action"], params
    return service, None, {}


# ---------------------------------------------------------------------------------------------
# A denial, as each service answers it
# ---------------------------------------------------------------------------------------------


def service_message(service, decision):
    """The access denied message as ``service`` words it.

    The form is IAM's (``access_denied_message``); S3 quotes the resource ARN
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html: ``User:
    user-arn is not authorized to perform: action on "resource-arn" because context``); SQS writes the
    action in lower case (``sqs:sendmessage``) and SNS with its prefix in upper case
    (``SNS:Publish``), as their messages read in the wild (no AWS page prints them).
    """
    message = access_denied_message(decision)
    request = decision.request
    if service == "s3" and request.resource and request.resource != "*":
        message = message.replace(f" on resource: {request.resource}", f' on resource: "{request.resource}"', 1)
    elif service == "sqs":
        message = message.replace(request.action, request.action.lower())
    elif service == "sns" and request.action.startswith("sns:"):
        message = message.replace(request.action, "SNS:" + request.action[4:])
    return message


def _request_id():
    return str(uuid.uuid4())


def _xml(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))


def _query_error(code, message, status=403, namespace=None):
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    body = (f"<ErrorResponse{xmlns}><Error><Type>Sender</Type><Code>{code}</Code><Message>{_xml(message)}</Message>"
            f"</Error><RequestId>{_request_id()}</RequestId></ErrorResponse>").encode()
    return status, {"Content-Type": "text/xml"}, body


def _json_error(type_, message, status=400, content_type="application/x-amz-json-1.1", headers=None):
    body = json.dumps({"__type": type_, "Message": message}).encode()
    return status, {"Content-Type": content_type, "x-amzn-RequestId": _request_id(), **(headers or {})}, body


def _cbor_text(text):
    data = text.encode()
    n = len(data)
    if n < 24:
        head = bytes([0x60 | n])
    elif n < 256:
        head = bytes([0x78, n])
    elif n < 65536:
        head = bytes([0x79]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x7A]) + n.to_bytes(4, "big")
    return head + data


def _cbor_error(type_, message, status=400):
    items = {"__type": type_, "message": message}
    body = bytes([0xA0 | len(items)]) + b"".join(_cbor_text(k) + _cbor_text(v) for k, v in items.items())
    return status, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                    "x-amzn-RequestId": _request_id()}, body


def denial(call, service, message):
    """``(status, headers, body)``: an access denied answer in the protocol of ``call``."""
    if service == "s3":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>{_xml(message)}</Message>'
                f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId><HostId>lambdalab</HostId></Error>").encode()
        return 403, {"Content-Type": "application/xml"}, body
    if service == "dynamodb":
        return _json_error("com.amazonaws.dynamodb.v20120810#AccessDeniedException", message,
                           content_type="application/x-amz-json-1.0")
    if service == "sqs":
        if call.headers.get("x-amz-target"):
            # SQS's JSON protocol is "awsQueryCompatible": the query protocol's code rides in a header.
            return _json_error("com.amazon.coral.service#AccessDeniedException", message, status=403,
                               content_type="application/x-amz-json-1.0",
                               headers={"x-amzn-query-error": "AccessDenied;Sender"})
        return _query_error("AccessDenied", message, namespace="http://queue.amazonaws.com/doc/2012-11-05/")
    if service == "sns":
        return _query_error("AuthorizationError", message, namespace="http://sns.amazonaws.com/doc/2010-03-31/")
    if call.headers.get("smithy-protocol") == "rpc-v2-cbor":
        return _cbor_error("AccessDeniedException", message)
    if call.headers.get("x-amz-target"):
        content_type = call.headers.get("content-type") or "application/x-amz-json-1.1"
        return _json_error("AccessDeniedException", message, content_type=content_type)
    return _query_error("AccessDenied", message)


def _lambda_denial(message):
    body = json.dumps({"Type": "User", "Message": message}).encode()
    return 403, {"Content-Type": "application/json", "x-amzn-ErrorType": "AccessDeniedException",
                 "x-amzn-RequestId": _request_id()}, body


def caller_identity(session, role_id):
    """STS's ``GetCallerIdentity`` answer for a role session (query protocol XML)."""
    account = session.arn.split(":")[4]
    body = ('<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
            f"<Arn>{_xml(session.arn)}</Arn><UserId>{_xml(role_id)}:{_xml(session.function)}</UserId>"
            f"<Account>{account}</Account></GetCallerIdentityResult>"
            f"<ResponseMetadata><RequestId>{_request_id()}</RequestId></ResponseMetadata></GetCallerIdentityResponse>")
    return 200, {"Content-Type": "text/xml"}, body.encode()


# ---------------------------------------------------------------------------------------------
# Resource-based policies
# ---------------------------------------------------------------------------------------------


class ResourcePolicies:
    """The policy attached to a bucket, a queue or a topic, read from the embedded services with
    the notebook's credentials and kept until a call changes it (``invalidate``)."""

    def __init__(self, aws):
        self.aws = aws
        self._clients = {}
        self._cache = {}
        self._lock = threading.Lock()

    def _client(self, service, region=None):
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.aws.client(service, **({"region_name": region} if region else {}))
        return self._clients[key]

    def invalidate(self):
        with self._lock:
            self._cache.clear()

    def of(self, resource, params):
        """The parsed resource policy that governs ``resource`` (an ARN), or None."""
        parts = resource.split(":", 5)
        if len(parts) < 6 or resource == "*":
            return None
        service, region = parts[2], parts[3]
        if service == "s3":
            key = ("s3", parts[5].split("/", 1)[0])
        elif service == "sqs":
            key = ("sqs", params.get("QueueUrl") or resource, region)
        elif service == "sns":
            key = ("sns", resource, region)
        else:
            return None
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        policy = self._read(key, resource)
        with self._lock:
            self._cache[key] = policy
        return policy

    def _read(self, key, resource):
        from botocore.exceptions import ClientError
        document = None
        try:
            if key[0] == "s3":
                document = self._client("s3").get_bucket_policy(Bucket=key[1])["Policy"]
            elif key[0] == "sqs":
                client = self._client("sqs", key[2])
                url = key[1]
                if url.startswith("arn:"):        # the Lambda service's own sends name the queue by ARN
                    _, _, _, _, owner, name = url.split(":", 5)
                    url = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=owner)["QueueUrl"]
                attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
                document = attributes.get("Policy")
            elif key[0] == "sns":
                attributes = self._client("sns", key[2]).get_topic_attributes(TopicArn=resource)["Attributes"]
                document = attributes.get("Policy")
        except ClientError:
            return None            # no such policy (or no such resource: the service will say so)
        if not document:
            return None
        try:
            return parse_policy(document, f"{key[0]} policy of {key[1]}", "resource")
        except ValueError:
            return None            # a policy the service accepted that the lab's parser does not


# ---------------------------------------------------------------------------------------------
# The enforcer
# ---------------------------------------------------------------------------------------------

# Calls that change a role's policies (IAM API), or a resource's policy: what was read is stale.
_ROLE_CHANGES = {"PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy",
                 "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary", "DeleteRole", "CreateRole",
                 "UpdateAssumeRolePolicy", "TagRole", "UntagRole"}
_POLICY_VERSION_CHANGES = {"CreatePolicyVersion", "SetDefaultPolicyVersion", "DeletePolicyVersion", "DeletePolicy"}
_RESOURCE_POLICY_CHANGES = {
    "sqs": {"SetQueueAttributes", "AddPermission", "RemovePermission", "DeleteQueue"},
    "sns": {"SetTopicAttributes", "AddPermission", "RemovePermission", "DeleteTopic"},
    "s3": {"PutBucketPolicy", "DeleteBucketPolicy", "DeleteBucket"},
}


def key_of_ciphertext(blob):
    """The key ID a ciphertext of the lab's KMS names (a symmetric ``Decrypt`` need not name its
    key: KMS reads it from the ciphertext's metadata), or None. ``blob``: bytes or base64 text.

    >>> key_of_ciphertext(b"1234abcd-12ab-34cd-56ef-1234567890ab" + bytes(40))
    '1234abcd-12ab-34cd-56ef-1234567890ab'
    """
    if isinstance(blob, str):
        try:
            blob = _b64decode(blob, validate=True)
        except ValueError:
            return None
    if not isinstance(blob, (bytes, bytearray)) or len(blob) < 36:
        return None
    # moto's ciphertext starts with the 36 characters of the key's ID (moto.kms.utils).
    try:
        key_id = bytes(blob[:36]).decode("ascii")
    except UnicodeDecodeError:
        return None
    parts = key_id.split("-")
    if [len(p) for p in parts] != [8, 4, 4, 4, 12]:
        return None
    return key_id



class Enforcer:
    """An ``AWSEndpoint`` interceptor: authorizes a function's calls, answers the denied ones.

    ``roles`` is an ``ExecutionRoles``, ``sessions`` a ``Sessions``, ``record`` the lab record
    (each decision becomes an ``authorization`` event). ``observe`` (an endpoint observer)
    forgets cached policies when a call changes them.
    """

    def __init__(self, aws, roles, sessions, record, *, region, account_id):
        self.aws = aws
        self.roles = roles
        self.sessions = sessions
        self.record = record
        self.region = region
        self.account_id = account_id
        self.resource_policies = ResourcePolicies(aws)
        self._resolve_clients = {}

    # -- the endpoint's hooks --------------------------------------------------------------------
    def __call__(self, call):
        session = self.sessions.of(call.access_key)
        if session is None:
            return None
        service, operation, params = operation_of(call)
        if service == "sts" and operation == "GetCallerIdentity":
            return caller_identity(session, self._role_id(session))
        if operation is None:
            self._record(session, service, None, None, None, "Unchecked", None)
            return None
        try:
            denied = self.authorize(session, service, operation, params, region=call.region)
        except Exception as exc:
            # The endpoint lets moto answer when an interceptor fails: a call that could not be
            # authorized must fail instead, and say that it is the lab's fault.
            self.aws.observer_errors.append(exc)
            return denial(call, service, f"lambdalab could not authorize {service}:{operation} for "
                                         f"{session.arn}: {type(exc).__name__}: {exc}")
        if denied is None:
            return None
        return denial(call, service, service_message(iam_prefix(service or ""), denied))

    def observe(self, call):
        if not call.ok:
            return
        service, operation, params = operation_of(call)
        if service == "iam":
            if operation in _ROLE_CHANGES:
                self.roles.invalidate(params.get("RoleName"))
            elif operation in _POLICY_VERSION_CHANGES:
                self.roles.invalidate()
        elif operation in _RESOURCE_POLICY_CHANGES.get(service, ()):
            self.resource_policies.invalidate()

    def lambda_api(self, environ, start_response, app):
        """Authorize a Lambda API call of a function before the lab's Lambda API serves it."""
        from ..aws.endpoint import service_of
        key, region, _ = service_of(environ)
        session = self.sessions.of(key)
        if session is not None:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length > 0 else b""
            environ["wsgi.input"] = io.BytesIO(body)
            query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
            operation, params = lambda_operation(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/"),
                                                 query, body)
            if operation is None:
                self._record(session, "lambda", None, None, None, "Unchecked", None)
            else:
                try:
                    denied = self.authorize(session, "lambda", operation, params, region=region)
                    message = None if denied is None else access_denied_message(denied)
                except Exception as exc:       # fail closed, as for the other services
                    message = (f"lambdalab could not authorize lambda:{operation} for {session.arn}: "
                               f"{type(exc).__name__}: {exc}")
                if message is not None:
                    status, headers, payload = _lambda_denial(message)
                    start_response(f"{status} Forbidden", [*headers.items(), ("Content-Length", str(len(payload)))])
                    return [payload]
        return app(environ, start_response)

    # -- authorization ---------------------------------------------------------------------------
    def authorize_as(self, function, role_arn, permissions, params=None, via=None):
        """Authorize what the Lambda service does *for* a function with its execution role (send to
        a destination or a dead-letter queue, poll a queue): ``permissions`` are ``(action,
        resource)`` pairs. The first denied ``Decision``, or None."""
        from .roles import Session, session_arn
        session = Session(function, None, role_arn, session_arn(role_arn, function), None)
        facts = self.roles.facts(role_arn, missing_ok=True)
        for action, resource in permissions:
            decision = self._evaluate(session, facts, action, resource, {}, params or {})
            self._record(session, "lambda", via, action, resource, decision.decision, decision, via=via)
            if not decision.allowed:
                return decision
        return None

    def _evaluate(self, session, facts, action, resource, context, params, region=None):
        # The global keys AWS sets on every request: an SDK in Lambda speaks TLS to the service
        # (the lab's loopback HTTP stands in for it), to one Region, at this moment.
        context = {"aws:SecureTransport": True, "aws:RequestedRegion": region or self.region, **context}
        request = AuthorizationRequest(session.arn, action, resource, context=context, role_arn=facts.arn,
                                       principal_tags=facts.tags, role_id=facts.role_id,
                                       current_time=datetime.datetime.now(datetime.timezone.utc))
        return evaluate(request, identity_policies=list(facts.identity),
                        resource_policy=self.resource_policies.of(resource, params),
                        permissions_boundary=facts.boundary)

    def authorize(self, session, service, operation, params, region=None):
        """Evaluate every permission the call needs; the first denied ``Decision``, or None."""
        region = region or self.region
        permissions = authorization_for(service, operation, params, region, self.account_id, resolve=self._resolve)
        if not permissions:
            return None
        facts = self.roles.facts(session.role_arn, missing_ok=True)
        for permission in permissions:
            decision = self._evaluate(session, facts, permission.action, permission.resource, permission.context,
                                      params, region)
            self._record(session, service, operation, permission.action, permission.resource, decision.decision,
                         decision)
            if not decision.allowed:
                return decision
        return None

    def _record(self, session, service, operation, action, resource, verdict, decision, via="function"):
        statement = None
        if decision is not None and decision.statements:
            statement = "; ".join(s.describe() for s in decision.statements)
        self.record.append("authorization", session.function, None, action=action, resource=resource,
                           decision=verdict, statement=statement, service=service, operation=operation,
                           principal=session.arn, role=session.role_arn, evaluation=decision, via=via)

    def _role_id(self, session):
        try:
            return self.roles.facts(session.role_arn).role_id
        except LookupError:
            return "AROA" + "0" * 17

    def _resolve(self, kind, value):
        """What ``authorization_for`` cannot know from the parameters (a secret's full ARN, the
        key behind an alias), read from the embedded services."""
        from botocore.exceptions import ClientError
        try:
            if kind == "secret":
                return self._resolver("secretsmanager").describe_secret(SecretId=value)["ARN"]
            if kind == "kms-alias":
                return self._resolver("kms").describe_key(KeyId=value)["KeyMetadata"]["Arn"]
            if kind == "kms-ciphertext":      # a Decrypt without KeyId: the key the ciphertext names
                key_id = key_of_ciphertext(value)
                if key_id is not None:
                    return self._resolver("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        except ClientError:
            return None
        return None

    def _resolver(self, service):
        if service not in self._resolve_clients:
            self._resolve_clients[service] = self.aws.client(service)
        return self._resolve_clients[service]

"""Event templates: the shapes AWS sends, with fresh ids and times on every call.

Field names and nesting follow the events AWS services deliver (see the SAM CLI's
``generate-event`` templates and AWS's documentation, summarised in reference/emulators.md §4),
with the known gaps of those templates fixed: a new ``requestId`` and time per event (SAM CLI
#9279 reused one).

>>> event = template("apigateway:rest", body='{"name": "Ada"}', path="/hello")
>>> event["httpMethod"], event["path"], event["requestContext"]["stage"]
('POST', '/hello', 'prod')
"""

import base64
import datetime
import uuid

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def empty():
    """An empty event: ``{}``."""
    return {}


def apigateway_rest(body=None, path="/", method="POST", query=None, headers=None, stage="prod",
                    resource="/{proxy+}", is_base64=False):
    """API Gateway REST API, Lambda proxy integration (payload format 1.0)."""
    now = _now()
    headers = {"Accept": "*/*", "Content-Type": "application/json", "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
               "User-Agent": "lambdalab", "X-Forwarded-For": "203.0.113.10", "X-Forwarded-Port": "443",
               "X-Forwarded-Proto": "https", **(headers or {})}
    if body is not None and is_base64:
        body = base64.b64encode(body.encode() if isinstance(body, str) else body).decode()
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")} if "{proxy+}" in resource else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "resourceId": "a1b2c3",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "lambdalab", "accessKey": None,
                         "caller": None, "user": None, "userArn": None, "cognitoIdentityId": None,
                         "cognitoIdentityPoolId": None, "cognitoAuthenticationType": None,
                         "cognitoAuthenticationProvider": None, "accountId": None},
            "path": f"/{stage}{path}",
            "resourcePath": resource,
            "httpMethod": method,
            "apiId": "abcdef1234",
            "protocol": "HTTP/1.1",
        },
        "body": body,
        "isBase64Encoded": bool(is_base64),
    }


def apigateway_http(body=None, path="/", method="POST", query=None, headers=None, stage="$default"):
    """API Gateway HTTP API (payload format 2.0)."""
    now = _now()
    headers = {"accept": "*/*", "content-type": "application/json", "host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
               "user-agent": "lambdalab", "x-forwarded-for": "203.0.113.10", "x-forwarded-port": "443",
               "x-forwarded-proto": "https", **{k.lower(): v for k, v in (headers or {}).items()}}
    raw_query = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "cookies": [],
        "headers": headers,
        "queryStringParameters": dict(query) if query else None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10",
                     "userAgent": "lambdalab"},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": stage,
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body,
        "pathParameters": None,
        "isBase64Encoded": False,
        "stageVariables": None,
    }


TEMPLATES = {
    "empty": empty,
    "apigateway:rest": apigateway_rest,
    "apigateway:http": apigateway_http,
}
ALIASES = {"api": "apigateway:rest", "apigateway": "apigateway:rest", "apigateway:proxy": "apigateway:rest",
           "apigateway:v1": "apigateway:rest", "apigateway:v2": "apigateway:http", "http-api": "apigateway:http"}


def names():
    return sorted(TEMPLATES)


def template(name, **fields):
    """A new event of the named shape; keyword arguments fill its fields (body, path, method...)."""
    key = ALIASES.get(name, name)
    if key not in TEMPLATES:
        raise KeyError(f"No event template {name!r}. Templates: {', '.join(names())}")
    return TEMPLATES[key](**fields)

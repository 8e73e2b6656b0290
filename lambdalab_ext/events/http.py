"""HTTP requests as the services in front of a function deliver them.

API Gateway REST APIs (proxy integration, payload 1.0), HTTP APIs (payload 2.0), Lambda function
URLs (2.0 without the API Gateway parts) and Application Load Balancers each have their own
conventions for the same request; the generators below follow each one:

- repeated headers and query parameters: REST keeps the last value in ``headers`` and every value
  in ``multiValueHeaders``; 2.0 joins them with commas; an ALB does one or the other, by the target
  group's ``lambda.multi_value_headers.enabled``;
- what is absent: REST sends ``null`` (no query, no path parameters, no stage variables, no body);
  2.0 leaves the key out (a handler reading ``event["queryStringParameters"]`` of a request without
  a query string gets a KeyError, as on AWS), except the placeholders a function URL sets to null;
  an ALB sends ``{}`` for no query and ``""`` for no body;
- a binary body (``bytes``, or ``is_base64=True``) arrives base64-encoded with ``isBase64Encoded``.
"""

import base64
import dataclasses
import datetime
import ipaddress
import urllib.parse

from ._common import (ACCOUNT_ID, MONTHS, REGION, Draw, access_log_time, all_values, arn, comma_joined,
                      epoch_millis, last_values, pairs, to_text)


def _cert_time(moment):
    """OpenSSL's notBefore/notAfter text: ``Aug  5 09:36:04 2021 GMT`` (day padded with a space)."""
    return f"{MONTHS[moment.month - 1]} {moment.day:2d} {moment:%H:%M:%S} {moment.year} GMT"


def _client_cert(draw, client_cert):
    """The mutual-TLS client certificate API Gateway describes (a random, not a real, certificate)."""
    cert = {
        "clientCertPem": "-----BEGIN CERTIFICATE-----\n" + draw.token(48) + "\n-----END CERTIFICATE-----",
        "subjectDN": "CN=client.example.com,O=Example Corp,C=US",
        "issuerDN": "CN=Example Private CA,O=Example Corp,C=US",
        "serialNumber": ":".join(draw.hex(2) for _ in range(16)),
        "validity": {"notBefore": _cert_time(draw.now - datetime.timedelta(days=30)),
                     "notAfter": _cert_time(draw.now + datetime.timedelta(days=365))},
    }
    if isinstance(client_cert, dict):
        cert.update(client_cert)
    return cert


def _body(body, is_base64):
    """``(body, isBase64Encoded)`` as the service passes it on."""
    if body is None:
        return None, False
    if isinstance(body, (bytes, bytearray)):
        return base64.b64encode(bytes(body)).decode(), True
    text = to_text(body)
    if is_base64:
        return base64.b64encode(text.encode()).decode(), True
    return text, False


def _headers(defaults, given, lower):
    """Default headers overridden, name-insensitively, by the given ones: ``(name, value)`` pairs."""
    given_pairs = pairs(given)
    if lower:
        given_pairs = [(name.lower(), value) for name, value in given_pairs]
    overridden = {name.lower() for name, _ in given_pairs}
    return [(n, v) for n, v in defaults.items() if n.lower() not in overridden] + given_pairs


def _match_route(template, path):
    """Path parameters of ``path`` under a route or resource template (``/items/{id}``, ``/{proxy+}``).

    None when the template does not match the path.
    """
    wanted = [s for s in template.split("/") if s]
    parts = [s for s in path.split("/") if s]
    found = {}
    for index, segment in enumerate(wanted):
        if segment.startswith("{") and segment.endswith("+}"):
            if index >= len(parts):
                return None
            found[segment[1:-2]] = "/".join(parts[index:])
            return found
        if index >= len(parts):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            found[segment[1:-1]] = parts[index]
        elif segment != parts[index]:
            return None
    return found if len(parts) == len(wanted) else None


def _raw_query(query_pairs):
    return urllib.parse.urlencode(query_pairs, quote_via=urllib.parse.quote)


def apigateway_rest(body=None, path="/", method="POST", query=None, headers=None, stage="prod",
                    resource=None, path_parameters=None, stage_variables=None, is_base64=False,
                    authorizer=None, client_cert=False, source_ip="203.0.113.10", user_agent="lambdalab",
                    api_id=None, region=REGION, account=ACCOUNT_ID, seed=None, time=None):
    """API Gateway REST API, Lambda proxy integration (payload format 1.0).

    Shape of "Lambda proxy integrations in API Gateway" (Amazon API Gateway Developer Guide, "Input
    format of a Lambda function for proxy integration"). ``query`` and ``headers`` map names to a
    value or a list of values: ``headers``/``queryStringParameters`` keep the last, the
    ``multiValue...`` maps keep all; with no query both are null. ``resource`` is the matched resource
    (default ``/{proxy+}``, or ``/`` for the root path); its ``{name}`` parts become
    ``pathParameters`` (null when none). ``stageVariables`` is null unless given. As the guide says,
    ``requestContext.authorizer`` is present only with an authorizer (``authorizer``: the context
    the authorizer produced) and ``identity.clientCert`` only on a mutual-TLS domain
    (``client_cert=True`` or the certificate's fields).

    >>> event = apigateway_rest(body='{"name": "Ada"}', path="/hello", seed=1)
    >>> event["httpMethod"], event["path"], event["requestContext"]["stage"], event["pathParameters"]
    ('POST', '/hello', 'prod', {'proxy': 'hello'})
    """
    draw = Draw(seed, time, salt="apigateway-rest")
    api = api_id or draw.chars(10)
    domain = f"{api}.execute-api.{region}.amazonaws.com"
    resource = resource or ("/" if path.strip("/") == "" else "/{proxy+}")
    if path_parameters is None:
        matched = _match_route(resource, path)
        if matched is None:
            raise ValueError(f"path {path!r} does not match resource {resource!r}: API Gateway would not "
                             "route it there (give a matching resource, such as '/{proxy+}')")
        path_parameters = matched or None
    text, encoded = _body(body, is_base64)
    defaults = {"Accept": "*/*"}
    if text is not None:
        defaults["Content-Type"] = "application/json"
    defaults.update({"Host": domain, "User-Agent": user_agent, "X-Amzn-Trace-Id": draw.trace_id(),
                     "X-Forwarded-For": source_ip, "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"})
    header_pairs = _headers(defaults, headers, lower=False)
    cert = _client_cert(draw, client_cert) if client_cert else None
    return rest_api_proxy_event(
        resource=resource, path=path, method=method, header_pairs=header_pairs, query_pairs=pairs(query),
        path_parameters=path_parameters, stage_variables=stage_variables, body=text, is_base64_encoded=encoded,
        account=account, api_id=api, domain=domain, domain_prefix=api, stage=stage,
        extended_request_id=draw.token(11), request_id=draw.uuid(), resource_id=draw.chars(6), moment=draw.now,
        source_ip=source_ip, user_agent=user_agent, authorizer=authorizer, client_cert=cert)


def rest_api_proxy_event(*, resource, path, method, header_pairs, query_pairs, path_parameters, stage_variables,
                         body, is_base64_encoded, account, api_id, domain, domain_prefix, stage, request_id,
                         extended_request_id, resource_id, moment, source_ip, user_agent, protocol="HTTP/1.1",
                         authorizer=None, client_cert=None):
    """The payload format 1.0 event from the request's parts: the one shape ``apigateway_rest`` and
    the lab's local REST API (``lambdalab_ext.sources.http_api``) both send.

    ``header_pairs`` and ``query_pairs`` are ``(name, value)`` pairs in the order received (decoded
    values); ``body`` is the text (base64 text when ``is_base64_encoded``) or None; ``moment`` the
    request's time (a UTC datetime); ``client_cert`` the certificate's fields on a mutual-TLS domain.
    """
    identity = {"accessKey": None, "accountId": None, "caller": None, "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None, "cognitoIdentityId": None, "cognitoIdentityPoolId": None,
                "principalOrgId": None, "sourceIp": source_ip, "user": None, "userAgent": user_agent,
                "userArn": None}
    if client_cert:
        identity["clientCert"] = client_cert
    context = {"accountId": account, "apiId": api_id}
    if authorizer is not None:
        context["authorizer"] = authorizer
    context.update({
        "domainName": domain,
        "domainPrefix": domain_prefix,
        "extendedRequestId": extended_request_id,
        "httpMethod": method,
        "identity": identity,
        "path": f"/{stage}{path}",
        "protocol": protocol,
        "requestId": request_id,
        "requestTime": access_log_time(moment),
        "requestTimeEpoch": epoch_millis(moment),
        "resourceId": resource_id,
        "resourcePath": resource,
        "stage": stage,
    })
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": last_values(header_pairs) if header_pairs else None,
        "multiValueHeaders": all_values(header_pairs) if header_pairs else None,
        "queryStringParameters": last_values(query_pairs) if query_pairs else None,
        "multiValueQueryStringParameters": all_values(query_pairs) if query_pairs else None,
        "requestContext": context,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "body": body,
        "isBase64Encoded": is_base64_encoded,
    }


def _cookies(cookies, header_pairs):
    """2.0's ``cookies`` list, and the headers without the ``cookie`` header it was taken from."""
    found = []
    if isinstance(cookies, dict):
        found += [f"{name}={value}" for name, value in cookies.items()]
    elif cookies:
        found += list(cookies)
    kept = []
    for name, value in header_pairs:
        if name == "cookie":
            found += [c.strip() for c in value.split(";") if c.strip()]
        else:
            kept.append((name, value))
    return found, kept


def _iam_caller(draw, account, iam):
    caller = {"accessKey": "ASIA" + draw.upper(16), "accountId": account, "callerId": "AIDA" + draw.upper(17),
              "cognitoIdentity": None, "principalOrgId": None,
              "userArn": f"arn:aws:iam::{account}:user/example-user", "userId": "AIDA" + draw.upper(17)}
    if isinstance(iam, dict):
        caller.update(iam)
    return caller


def apigateway_http(body=None, path="/", method="POST", query=None, headers=None, cookies=None,
                    stage="$default", route_key="$default", path_parameters=None, stage_variables=None,
                    is_base64=False, jwt_claims=None, jwt_scopes=None, lambda_context=None, iam=False,
                    authorizer=None, client_cert=False, source_ip="203.0.113.10", user_agent="lambdalab",
                    api_id=None, region=REGION, account=ACCOUNT_ID, seed=None, time=None):
    """API Gateway HTTP API (payload format 2.0).

    Shape of "Create AWS Lambda proxy integrations for HTTP APIs in API Gateway" (Amazon API Gateway
    Developer Guide, payload format 2.0). Header names are lower case; repeated headers and query
    parameters are joined with commas; cookies (``cookies``, or a ``cookie`` header) move to the
    ``cookies`` list. Absent parts (cookies, query, body, path parameters, stage variables) are left
    out, not null. ``route_key`` such as ``"GET /items/{id}"`` yields ``pathParameters`` from
    ``path``. ``requestContext.authorizer`` appears with an authorizer: ``jwt_claims``/``jwt_scopes``
    (JWT authorizer), ``lambda_context`` (Lambda authorizer), ``iam=True`` (IAM), or ``authorizer``
    verbatim; ``requestContext.authentication.clientCert`` with mutual TLS (``client_cert``).
    """
    draw = Draw(seed, time, salt="apigateway-http")
    api = api_id or draw.chars(10)
    domain = f"{api}.execute-api.{region}.amazonaws.com"
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    if path_parameters is None and route_key != "$default":
        route_path = route_key.partition(" ")[2] or route_key
        path_parameters = _match_route(route_path, path)
        if path_parameters is None:
            raise ValueError(f"path {path!r} does not match route {route_key!r}: API Gateway would not "
                             "route it there")
    text, encoded = _body(body, is_base64)
    defaults = {"accept": "*/*"}
    if text is not None:
        defaults["content-type"] = "application/json"
    defaults.update({"host": domain, "user-agent": user_agent, "x-amzn-trace-id": draw.trace_id(),
                     "x-forwarded-for": source_ip, "x-forwarded-port": "443", "x-forwarded-proto": "https"})
    found_cookies, header_pairs = _cookies(cookies, _headers(defaults, headers, lower=True))
    query_pairs = pairs(query)
    auth = {}
    if jwt_claims is not None or jwt_scopes is not None:
        auth["jwt"] = {"claims": dict(jwt_claims or {}),
                       "scopes": list(jwt_scopes) if jwt_scopes is not None else None}
    if lambda_context is not None:
        auth["lambda"] = dict(lambda_context)
    if iam:
        auth["iam"] = _iam_caller(draw, account, iam)
    if authorizer:
        auth.update(authorizer)
    authentication = {"clientCert": _client_cert(draw, client_cert)} if client_cert else None
    return http_api_proxy_event(
        route_key=route_key, raw_path=raw_path, raw_query=_raw_query(query_pairs), cookies=found_cookies,
        header_pairs=header_pairs, query_pairs=query_pairs, body=text, is_base64_encoded=encoded,
        path_parameters=path_parameters, stage_variables=stage_variables, account=account, api_id=api,
        domain=domain, domain_prefix=api, stage=stage, method=method, source_ip=source_ip, user_agent=user_agent,
        request_id=draw.token(11), moment=draw.now, authorizer=auth or None, authentication=authentication)


def http_api_proxy_event(*, route_key, raw_path, raw_query, cookies, header_pairs, query_pairs, body,
                         is_base64_encoded, path_parameters, stage_variables, account, api_id, domain,
                         domain_prefix, stage, method, source_ip, user_agent, request_id, moment,
                         protocol="HTTP/1.1", authorizer=None, authentication=None):
    """The payload format 2.0 event of an HTTP API from the request's parts: the one shape
    ``apigateway_http`` and the lab's local HTTP API both send.

    ``header_pairs`` have lower-case names and no ``cookie`` header (its cookies are ``cookies``);
    repeated headers and query parameters are joined with commas here. What is absent is left out.
    """
    context = {"accountId": account, "apiId": api_id}
    if authentication:
        context["authentication"] = authentication
    if authorizer:
        context["authorizer"] = authorizer
    context.update({
        "domainName": domain,
        "domainPrefix": domain_prefix,
        "http": {"method": method, "path": raw_path, "protocol": protocol, "sourceIp": source_ip,
                 "userAgent": user_agent},
        "requestId": request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": access_log_time(moment),
        "timeEpoch": epoch_millis(moment),
    })
    event = {"version": "2.0", "routeKey": route_key, "rawPath": raw_path, "rawQueryString": raw_query}
    if cookies:
        event["cookies"] = list(cookies)
    event["headers"] = comma_joined(header_pairs)
    if query_pairs:
        event["queryStringParameters"] = comma_joined(query_pairs)
    event["requestContext"] = context
    if body is not None:
        event["body"] = body
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    event["isBase64Encoded"] = is_base64_encoded
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return event


def function_url(body=None, path="/", method="POST", query=None, headers=None, cookies=None, auth_type="NONE",
                 is_base64=False, caller=None, url_id=None, source_ip="203.0.113.10", user_agent="lambdalab",
                 region=REGION, account=ACCOUNT_ID, seed=None, time=None):
    """A Lambda function URL request: payload 2.0 without what only API Gateway has.

    Shape of "Invoking Lambda function URLs" (AWS Lambda Developer Guide, "Request payload format"):
    ``routeKey`` and ``requestContext.stage`` are the ``$default`` placeholders,
    ``requestContext.authentication``, ``pathParameters`` and ``stageVariables`` are null, and
    ``requestContext.authorizer`` is ``{"iam": {...}}`` with ``auth_type="AWS_IAM"`` (``caller``
    overrides its fields) and null with ``NONE``. Headers, cookies, query and body follow the 2.0
    rules of ``apigateway_http``.
    """
    if auth_type not in ("NONE", "AWS_IAM"):
        raise ValueError(f"auth_type {auth_type!r}: a function URL's AuthType is NONE or AWS_IAM")
    draw = Draw(seed, time, salt="function-url")
    url = url_id or draw.chars(32)
    domain = f"{url}.lambda-url.{region}.on.aws"
    text, encoded = _body(body, is_base64)
    defaults = {"accept": "*/*"}
    if text is not None:
        defaults["content-type"] = "application/json"
    defaults.update({"host": domain, "user-agent": user_agent, "x-amzn-tls-cipher-suite": "TLS_AES_128_GCM_SHA256",
                     "x-amzn-tls-version": "TLSv1.3", "x-amzn-trace-id": draw.trace_id(),
                     "x-forwarded-for": source_ip, "x-forwarded-port": "443", "x-forwarded-proto": "https"})
    found_cookies, header_pairs = _cookies(cookies, _headers(defaults, headers, lower=True))
    query_pairs = pairs(query)
    authorizer = {"iam": _iam_caller(draw, account, caller or True)} if auth_type == "AWS_IAM" else None
    return function_url_proxy_event(
        raw_path=path, raw_query=_raw_query(query_pairs), cookies=found_cookies, header_pairs=header_pairs,
        query_pairs=query_pairs, body=text, is_base64_encoded=encoded, account=account, url_id=url,
        domain=domain, domain_prefix=url, method=method, source_ip=source_ip, user_agent=user_agent,
        request_id=draw.uuid(), moment=draw.now, authorizer=authorizer)


def function_url_proxy_event(*, raw_path, raw_query, cookies, header_pairs, query_pairs, body, is_base64_encoded,
                             account, url_id, domain, domain_prefix, method, source_ip, user_agent, request_id,
                             moment, protocol="HTTP/1.1", authorizer=None):
    """A function URL's event from the request's parts (payload 2.0, with the URL's null
    placeholders): the one shape ``function_url`` and the lab's local function URL both send."""
    event = {"version": "2.0", "routeKey": "$default", "rawPath": raw_path, "rawQueryString": raw_query}
    if cookies:
        event["cookies"] = list(cookies)
    event["headers"] = comma_joined(header_pairs)
    if query_pairs:
        event["queryStringParameters"] = comma_joined(query_pairs)
    event["requestContext"] = {
        "accountId": account,
        "apiId": url_id,
        "authentication": None,
        "authorizer": authorizer,
        "domainName": domain,
        "domainPrefix": domain_prefix,
        "http": {"method": method, "path": raw_path, "protocol": protocol, "sourceIp": source_ip,
                 "userAgent": user_agent},
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": access_log_time(moment),
        "timeEpoch": epoch_millis(moment),
    }
    if body is not None:
        event["body"] = body
    event["pathParameters"] = None
    event["isBase64Encoded"] = is_base64_encoded
    event["stageVariables"] = None
    return event


@dataclasses.dataclass
class HttpRequest:
    """A real HTTP request as a front door (API Gateway, a function URL) received it: what the
    ``*_request_event`` builders turn into an event.

    ``raw_path`` and ``raw_query`` are as the client sent them (percent-encoded, no ``?``);
    ``headers`` are ``(name, value)`` pairs in the order received, names as sent, the front door's
    own (``X-Forwarded-For``, ``X-Amzn-Trace-Id``...) included; ``body`` is the bytes received.
    """

    method: str
    raw_path: str
    raw_query: str
    headers: list
    body: bytes
    source_ip: str
    time: datetime.datetime
    protocol: str = "HTTP/1.1"

    def header(self, name, default=None):
        """The last value of a header, by name in any case."""
        name = name.lower()
        found = [value for key, value in self.headers if key.lower() == name]
        return found[-1] if found else default

    @property
    def query_pairs(self):
        return urllib.parse.parse_qsl(self.raw_query, keep_blank_values=True)

    @property
    def domain(self):
        """The host the client named, without the port (API Gateway's ``domainName``)."""
        host = self.header("host", "")
        if host.startswith("["):
            return host[1:].partition("]")[0]
        return host.rsplit(":", 1)[0] if host.count(":") == 1 else host

    @property
    def domain_prefix(self):
        try:
            ipaddress.ip_address(self.domain)
            return self.domain
        except ValueError:
            return self.domain.split(".", 1)[0]


# Payload 2.0 passes these bodies as text and base64-encodes every other (an HTTP API and a function
# URL: "If the content type of the request is binary, the body is base64-encoded").
TEXT_MEDIA_TYPES = ("text/", "application/json", "application/javascript", "application/xml")


def is_text_media_type(content_type):
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if not media:
        return False
    return (media.startswith("text/") or media in TEXT_MEDIA_TYPES or media.endswith("+json")
            or media.endswith("+xml"))


def media_type_matches(content_type, patterns):
    """Whether ``content_type`` is one of ``patterns`` (a REST API's binaryMediaTypes: ``image/png``,
    ``image/*``, ``*/*``)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    for pattern in patterns:
        pattern = pattern.strip().lower()
        if pattern == "*/*" or pattern == media or (pattern.endswith("/*") and media.startswith(pattern[:-1])):
            return True
    return False


def _request_body(data, binary):
    if not data:
        return None, False
    if binary:
        return base64.b64encode(data).decode(), True
    return data.decode("utf-8", "replace"), False


def rest_api_request_event(request, *, stage, resource, api_id, request_id, extended_request_id, resource_id,
                           account=ACCOUNT_ID, binary_media_types=()):
    """The payload 1.0 event of a real request to a REST API stage, proxy integration.

    ``request.raw_path`` includes the stage (``/prod/items/7``); ``resource`` is the matched
    resource (``/{proxy+}``, or ``/`` for the stage's root). A body is base64-encoded only when its
    content type is one of the API's ``binary_media_types`` (none by default: a REST API passes a
    binary body as text, mangled, unless told otherwise).
    """
    prefix = f"/{stage}"
    path = request.raw_path[len(prefix):] if request.raw_path.startswith(prefix) else request.raw_path
    path = path or "/"
    body, encoded = _request_body(request.body, media_type_matches(request.header("content-type"),
                                                                   binary_media_types))
    return rest_api_proxy_event(
        resource=resource, path=path, method=request.method, header_pairs=list(request.headers),
        query_pairs=request.query_pairs, path_parameters=_match_route(resource, path) or None,
        stage_variables=None, body=body, is_base64_encoded=encoded, account=account, api_id=api_id,
        domain=request.domain, domain_prefix=request.domain_prefix, stage=stage, request_id=request_id,
        extended_request_id=extended_request_id, resource_id=resource_id, moment=request.time,
        source_ip=request.source_ip, user_agent=request.header("user-agent", ""), protocol=request.protocol)


def _v2_parts(request):
    lowered = [(name.lower(), value) for name, value in request.headers]
    cookies, header_pairs = _cookies(None, lowered)
    body, encoded = _request_body(request.body, not is_text_media_type(request.header("content-type")))
    return cookies, header_pairs, body, encoded


def http_api_request_event(request, *, stage, route_key, api_id, request_id, account=ACCOUNT_ID):
    """The payload 2.0 event of a real request to an HTTP API (``route_key`` ``$default`` or, e.g.,
    ``ANY /{proxy+}``; ``request.raw_path`` includes a stage other than ``$default``)."""
    cookies, header_pairs, body, encoded = _v2_parts(request)
    path_parameters = None
    if route_key != "$default":
        path = request.raw_path
        if stage != "$default" and path.startswith(f"/{stage}"):
            path = path[len(stage) + 1:] or "/"
        path_parameters = _match_route(route_key.partition(" ")[2] or route_key, path)
    return http_api_proxy_event(
        route_key=route_key, raw_path=request.raw_path, raw_query=request.raw_query, cookies=cookies,
        header_pairs=header_pairs, query_pairs=request.query_pairs, body=body, is_base64_encoded=encoded,
        path_parameters=path_parameters, stage_variables=None, account=account, api_id=api_id,
        domain=request.domain, domain_prefix=request.domain_prefix, stage=stage, method=request.method,
        source_ip=request.source_ip, user_agent=request.header("user-agent", ""), request_id=request_id,
        moment=request.time, protocol=request.protocol)


def function_url_request_event(request, *, url_id, request_id, account=ACCOUNT_ID):
    """The event of a real request to a function URL (``AuthType`` NONE): ``requestId`` is the
    invocation's own request id, as a function URL's is."""
    cookies, header_pairs, body, encoded = _v2_parts(request)
    return function_url_proxy_event(
        raw_path=request.raw_path, raw_query=request.raw_query, cookies=cookies, header_pairs=header_pairs,
        query_pairs=request.query_pairs, body=body, is_base64_encoded=encoded, account=account, url_id=url_id,
        domain=request.domain, domain_prefix=request.domain_prefix, method=request.method,
        source_ip=request.source_ip, user_agent=request.header("user-agent", ""), request_id=request_id,
        moment=request.time, protocol=request.protocol)


def alb(body=None, path="/", method="GET", query=None, headers=None, multi_value_headers=False, is_base64=False,
        target_group="lambda-target", source_ip="203.0.113.10", user_agent="lambdalab", region=REGION,
        account=ACCOUNT_ID, seed=None, time=None):
    """An Application Load Balancer request to a Lambda target group.

    Shape of "Using AWS Lambda with an Application Load Balancer" (AWS Lambda Developer Guide,
    "Example Application Load Balancer request event") and "Lambda functions as targets" (User Guide
    for Application Load Balancers): ``requestContext.elb.targetGroupArn``, lower-case header names,
    ``body`` ``""`` when there is none. ``multi_value_headers`` is the target group's
    ``lambda.multi_value_headers.enabled``: off, the event has ``headers`` and
    ``queryStringParameters`` with the last value of a repeated name; on, ``multiValueHeaders`` and
    ``multiValueQueryStringParameters`` with every value, never both. No query gives ``{}``. The load
    balancer passes query values as the client encoded them.
    """
    draw = Draw(seed, time, salt="alb")
    text, encoded = _body(body, is_base64)
    defaults = {"accept": "*/*", "host": f"lambda-alb-{draw.digits(9)}.{region}.elb.amazonaws.com",
                "user-agent": user_agent, "x-amzn-trace-id": draw.trace_id(), "x-forwarded-for": source_ip,
                "x-forwarded-port": "80", "x-forwarded-proto": "http"}
    if text is not None:
        defaults["content-type"] = "application/json"
    header_pairs = _headers(defaults, headers, lower=True)
    query_pairs = pairs(query)
    event = {
        "requestContext": {"elb": {"targetGroupArn": arn("elasticloadbalancing", region, account,
                                                         f"targetgroup/{target_group}/{draw.hex(16)}")}},
        "httpMethod": method,
        "path": path,
    }
    if multi_value_headers:
        event["multiValueQueryStringParameters"] = all_values(query_pairs)
        event["multiValueHeaders"] = all_values(header_pairs)
    else:
        event["queryStringParameters"] = last_values(query_pairs)
        event["headers"] = last_values(header_pairs)
    event["body"] = "" if text is None else text
    event["isBase64Encoded"] = encoded
    return event

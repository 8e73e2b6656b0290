"""The lab's IAM, attached to a running lab: execution roles, their sessions, and every function's
AWS call authorized against its role, with least privilege from what the functions used.

>>> iam = attach(lab)                                                            # doctest: +SKIP
>>> lab.iam.create_role("orders-role", managed=["AWSLambdaBasicExecutionRole"])  # doctest: +SKIP
'arn:aws:iam::123456789012:role/orders-role'
>>> fn = lab.deploy("orders", SOURCE, role="orders-role")                         # doctest: +SKIP
>>> fn.invoke({})                                  # its PutItem fails with AccessDeniedException  # doctest: +SKIP
>>> print(lab.iam.explain("orders"))               # which policy, which statement, and why   # doctest: +SKIP
>>> lab.iam.propose("orders")                      # the smallest policy that allows what it did  # doctest: +SKIP
>>> iam.close()                                                                  # doctest: +SKIP
"""

from __future__ import annotations

from .enforce import Enforcer
from .least_privilege import propose_policy, unused_grants
from .roles import DEFAULT_ROLE_NAME, ExecutionRoles, Sessions, load_aws_managed_policies

__all__ = ["attach", "IAMService", "DEFAULT_ROLE_NAME"]


class _AuthorizedLambdaAPI:
    """The lab's Lambda API behind the enforcer: a function's Lambda calls are authorized too
    (the endpoint hands Lambda requests straight to this application, past its interceptors)."""

    def __init__(self, app, enforcer):
        self.app = app
        self.enforcer = enforcer

    def __call__(self, environ, start_response):
        return self.enforcer.lambda_api(environ, start_response, self.app)

    def __getattr__(self, name):          # the lab reaches lambda_app.control through here
        return getattr(self.app, name)


class IAMService:
    """What ``attach(lab)`` returns, also ``lab.iam``. ``close()`` detaches it."""

    def __init__(self, lab):
        self.lab = lab
        self.account_id = lab.account_id
        self.sessions = Sessions(lab.account_id)
        self.roles = ExecutionRoles(lab.aws, lab.account_id)
        self.enforcer = Enforcer(lab.aws, self.roles, self.sessions, lab.record, region=lab.region,
                                 account_id=lab.account_id)
        load_aws_managed_policies([lab.account_id])
        self._stops = []
        aws = lab.aws
        # Authorization comes before any other interceptor, which may answer a call itself (S3
        # notification configurations).
        self._stops.append(aws.intercept(self.enforcer, first=True))
        self._stops.append(aws.observe(self.enforcer.observe))
        self._original_lambda_app = aws.lambda_app
        if aws.lambda_app is not None:
            aws.lambda_app = _AuthorizedLambdaAPI(aws.lambda_app, self.enforcer)
            aws.lambda_app.app.control.check_role = self.check_role
        lab.backend.issue_credentials = self._issue
        self._guard_service_actions()
        lab.iam = self

    # -- what Lambda does for a function, with its role --------------------------------------------
    def _guard_service_actions(self):
        """Lambda acts with the function's execution role when it polls a queue for it and when it
        sends an asynchronous invocation's record to a destination or its event to a dead-letter
        queue: those are authorized too (the lab's own clients would pass unchecked)."""
        self._restore = []
        mappings = getattr(self.lab, "_event_source_mappings", None)
        if mappings is not None and hasattr(mappings, "create"):
            create = mappings.create

            def checked_create(params):
                self._check_mapping(params)
                return create(params)
            mappings.create = checked_create
            self._restore.append(lambda: mappings.__dict__.pop("create", None))
        queue = getattr(self.lab, "async_queue", None)
        if queue is not None and hasattr(queue, "_send"):
            send = queue._send

            def checked_send(name, request, arn, message, attributes, kind, key=None, **details):
                denied = self._check_delivery(name, arn, key, kind)
                if denied is not None:
                    queue._record.append("delivery_failed", name, request.request_id, target=arn,
                                         error=f"AccessDeniedException: {denied}", via=kind, **details)
                    return False
                return send(name, request, arn, message, attributes, kind, key=key, **details)
            queue._send = checked_send
            self._restore.append(lambda: queue.__dict__.pop("_send", None))

    def _check_mapping(self, params):
        """``CreateEventSourceMapping`` checks that the role may poll the queue, as Lambda does:
        ``InvalidParameterValueException: The provided execution role does not have permissions to
        call ReceiveMessage on SQS``."""
        from ..errors import InvalidParameterValueException
        arn = params.get("EventSourceArn")
        function = str(params.get("FunctionName") or "")
        function = function.split(":function:", 1)[-1].split(":", 1)[0]
        if not isinstance(arn, str) or not arn.startswith("arn:aws:sqs:") or function not in self.lab.functions:
            return
        for operation in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes"):
            denied = self.enforcer.authorize_as(function, self.role_of(function), [(f"sqs:{operation}", arn)],
                                                via="event-source-mapping")
            if denied is not None:
                raise InvalidParameterValueException(
                    f"The provided execution role does not have permissions to call {operation} on SQS")

    def _check_delivery(self, function, arn, key, kind):
        """The access denied message when the role may not send to ``arn``, else None."""
        from .evaluator import access_denied_message
        parts = arn.split(":")
        if len(parts) < 6:
            return None
        service = parts[2]
        permissions = {
            "sqs": [("sqs:SendMessage", arn)],
            "sns": [("sns:Publish", arn)],
            "lambda": [("lambda:InvokeFunction", arn)],
            "events": [("events:PutEvents", arn)],
            # "To send records to an S3 destination, your function's execution role needs
            # s3:PutObject and s3:ListBucket" (Lambda Developer Guide, invocation records).
            "s3": [("s3:ListBucket", f"arn:aws:s3:::{parts[5]}"), ("s3:PutObject", f"arn:aws:s3:::{parts[5]}/{key}")],
        }.get(service)
        if not permissions:
            return None
        try:
            role = self.role_of(function)
        except Exception:        # the function is gone: the queue reports its own failure
            return None
        denied = self.enforcer.authorize_as(function, role, permissions, via=kind)
        return None if denied is None else access_denied_message(denied)

    # -- life ------------------------------------------------------------------------------------
    def close(self):
        for stop in self._stops + self._restore:
            stop()
        self._stops, self._restore = [], []
        aws = self.lab.aws
        if isinstance(aws.lambda_app, _AuthorizedLambdaAPI) and aws.lambda_app.enforcer is self.enforcer:
            aws.lambda_app = self._original_lambda_app
            if getattr(aws.lambda_app, "control", None) is not None:
                aws.lambda_app.control.__dict__.pop("check_role", None)
        if getattr(self.lab.backend, "issue_credentials", None) == self._issue:
            del self.lab.backend.issue_credentials
        if getattr(self.lab, "iam", None) is self:
            self.lab.iam = None

    def _issue(self, config, environment_id):
        return self.sessions.issue(config, environment_id)

    # -- roles -----------------------------------------------------------------------------------
    def create_role(self, name, *, policies=None, managed=(), permissions_boundary=None, trust_policy=None,
                    path="/", description="", tags=None):
        """Create an execution role on the lab's IAM; returns its ARN (see ``ExecutionRoles.create_role``).

        >>> lab.iam.create_role("reader", policies={"read": {"Version": "2012-10-17", "Statement": [
        ...     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::inbox/*"}]}})  # doctest: +SKIP
        'arn:aws:iam::123456789012:role/reader'
        """
        return self.roles.create_role(name, policies=policies, managed=managed, permissions_boundary=permissions_boundary,
                                      trust_policy=trust_policy, path=path, description=description, tags=tags)

    def check_role(self, role_arn):
        """``InvalidParameterValueException`` unless the role exists and trusts Lambda (as CreateFunction checks)."""
        self.roles.check_role(role_arn)

    def role_of(self, function):
        """The execution role ARN of a deployed function (the lab's default role when it has none)."""
        config = self.lab.service.get(function).config
        return getattr(config, "role", None) or self.sessions.default_role_arn()

    def policies(self, function):
        """``{name: Policy}`` of the identity-based policies of the function's role."""
        return self.roles.facts(self.role_of(function)).documents

    # -- what was decided ------------------------------------------------------------------------
    def decisions(self, function=None, *, denied=None):
        """The ``authorization`` events of the lab record (of one function; only the denied ones
        with ``denied=True``), oldest first. Each has ``action``, ``resource``, ``decision``,
        ``statement`` and ``evaluation`` (the ``Decision``, with ``.explain()``)."""
        events = self.lab.record.events(kind="authorization", function=function)
        if denied is None:
            return events
        return [e for e in events if (e["decision"] not in ("Allow", "Unchecked")) == denied]

    def explain(self, function):
        """The explanation of the function's latest denied call (None when nothing was denied)."""
        denied = self.decisions(function, denied=True)
        return denied[-1]["evaluation"].explain() if denied else None

    def used(self, function, *, include_denied=False):
        """The ``(action, resource)`` pairs the function's calls were authorized on (allowed ones;
        with ``include_denied=True`` the denied ones too: what it needed), sorted, each once."""
        pairs = set()
        for event in self.decisions(function):
            if event["action"] is None:
                continue
            if event["decision"] == "Allow" or include_denied:
                pairs.add((event["action"], event["resource"]))
        return sorted(pairs)

    def propose(self, function, *, wildcards=False, include_denied=True):
        """The smallest identity-based policy allowing what the function used, denied calls included
        by default (they are what the function still needs): ``least_privilege.propose_policy``."""
        return propose_policy(self.used(function, include_denied=include_denied), wildcards=wildcards)

    def unused(self, function):
        """What the function's role allowed that it never used (``least_privilege.unused_grants``)."""
        return unused_grants(self.policies(function), self.used(function))


def attach(lab):
    """Enforce execution roles on every AWS call of the lab's functions; returns an ``IAMService``
    (also ``lab.iam``) with ``close()``. Attach it before the lab starts functions: environments
    started earlier hold credentials it did not issue, and their calls pass unchecked."""
    current = getattr(lab, "iam", None)
    if isinstance(current, IAMService):
        return current                 # the lab attached it already
    return IAMService(lab)



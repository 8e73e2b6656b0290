"""Policy evaluation: is this request allowed, and which statement decided?

Pure: no I/O, no clock (give ``current_time`` for ``aws:CurrentTime``). It follows the IAM User
Guide's evaluation logic:

- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
- https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
- https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html

In order:

1. Every request starts implicitly denied. An explicit ``Deny`` that applies, in any policy
   (identity-based, resource-based, permissions boundary, session), is final: ``ExplicitDeny``.
2. Same account: an ``Allow`` in an identity-based policy **or** in the resource-based policy is
   enough, but how the resource-based policy names the caller matters:

   - the role **session** ARN (or ``"*"``): a grant to the session itself, not limited by an
     implicit deny in identity-based policies, the permissions boundary or session policies;
   - the **role** ARN: limited by the permissions boundary and session policies;
   - the **account** (``123456789012`` or ``arn:aws:iam::123456789012:root``): delegates to the
     account, so an identity-based policy must allow as well.

   An identity-based allow then needs the permissions boundary (when there is one) and a session
   policy (when one was passed) to allow as well.
3. Cross-account: both the caller's side (identity-based policy, boundary, session policies) and
   the resource-based policy must allow.
4. KMS key policies are the documented exception: when a key policy is given, it must allow (at
   least to the account, which then delegates to IAM).

Multiple session policies (the inline one and the managed ``PolicyArns``) are treated as one
set: an allow in any of them is enough. SCPs and RCPs are not modelled.

>>> request = AuthorizationRequest(
...     "arn:aws:sts::123456789012:assumed-role/orders-role/orders",
...     "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/Orders")
>>> logs_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
...     "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]}
>>> decision = evaluate(request, identity_policies={"AWSLambdaBasicExecutionRole": logs_only})
>>> decision.decision
'ImplicitDeny'
>>> print(access_denied_message(decision))  # doctest: +NORMALIZE_WHITESPACE
User: arn:aws:sts::123456789012:assumed-role/orders-role/orders is not authorized to perform:
dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/Orders because no
identity-based policy allows the dynamodb:PutItem action
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple
from datetime import datetime, timezone

from .conditions import RequestContext
from .policy import Policy, RequestPrincipal, Statement, StatementOutcome, parse_policy

__all__ = [
    "AuthorizationRequest",
    "Decision",
    "DecidingStatement",
    "StatementCheck",
    "evaluate",
    "access_denied_message",
    "policies_from",
    "IDENTITY_BASED",
    "RESOURCE_BASED",
    "PERMISSIONS_BOUNDARY",
    "SESSION_POLICY",
]

IDENTITY_BASED = "identity-based policy"
RESOURCE_BASED = "resource-based policy"
PERMISSIONS_BOUNDARY = "permissions boundary"
SESSION_POLICY = "session policy"
_ORDER = (IDENTITY_BASED, RESOURCE_BASED, PERMISSIONS_BOUNDARY, SESSION_POLICY)
_ARTICLE = {IDENTITY_BASED: "an", RESOURCE_BASED: "a", PERMISSIONS_BOUNDARY: "a", SESSION_POLICY: "a"}


@dataclass(frozen=True)
class AuthorizationRequest:
    """One request to authorize: who (``principal_arn``), what (``action``), on what (``resource``).

    ``context`` holds request condition keys (``aws:SourceIp``, ``aws:SourceArn``,
    ``s3:prefix``...); the evaluator adds the principal's global keys (``aws:PrincipalArn``, which
    for a role session is the role's ARN, ``aws:PrincipalAccount``, ``aws:PrincipalType``,
    ``aws:PrincipalTag/*`` from ``principal_tags``, ``aws:username`` for IAM users,
    ``aws:userid`` when ``role_id`` is known, ``aws:ResourceAccount``, and ``aws:CurrentTime`` /
    ``aws:EpochTime`` when ``current_time`` is given). Keys in ``context`` win.

    ``resource_account`` is the account that owns the resource: by default the ARN's account
    field, or the principal's account when the ARN has none (S3 buckets, ``*``).
    ``role_arn`` is the role's ARN with its path (a session ARN drops the path).
    """

    principal_arn: str
    action: str
    resource: str
    context: Mapping = field(default_factory=dict)
    resource_account: str | None = None
    role_arn: str | None = None
    principal_tags: Mapping = field(default_factory=dict)
    current_time: datetime | None = None
    role_id: str | None = None

    @cached_property
    def principal(self):
        return RequestPrincipal.from_arn(self.principal_arn, self.role_arn)

    @property
    def owner_account(self):
        if self.resource_account:
            return self.resource_account
        parts = self.resource.split(":", 5)
        if len(parts) == 6 and parts[4].isdigit():
            return parts[4]
        return self.principal.account

    def request_context(self):
        """The request context the policies' conditions and variables are evaluated against."""
        principal = self.principal
        keys = {}
        if principal.kind == "Service":
            keys["aws:PrincipalServiceName"] = principal.arn
        else:
            keys["aws:PrincipalAccount"] = principal.account
            if principal.kind == "AssumedRole":
                keys["aws:PrincipalArn"] = principal.role_arn
                keys["aws:PrincipalType"] = "AssumedRole"
                if self.role_id:
                    keys["aws:userid"] = f"{self.role_id}:{principal.session_name}"
            elif principal.kind == "IAMUser":
                keys["aws:PrincipalArn"] = principal.arn
                keys["aws:PrincipalType"] = "User"
                keys["aws:username"] = principal.user_name
            else:
                keys["aws:PrincipalArn"] = principal.arn
                keys["aws:PrincipalType"] = "Account"
        for tag, value in self.principal_tags.items():
            keys[f"aws:PrincipalTag/{tag}"] = value
        if self.principal_tags:
            keys["aws:PrincipalTagKeys"] = sorted(self.principal_tags)
        owner = self.owner_account
        if owner:
            keys["aws:ResourceAccount"] = owner
        if self.current_time is not None:
            moment = self.current_time
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            keys["aws:CurrentTime"] = moment
            keys["aws:EpochTime"] = int(moment.timestamp())
        return RequestContext(keys).merged(self.context)


class StatementCheck(NamedTuple):
    """One statement looked at during evaluation, and whether (and why not) it applied."""

    policy_type: str
    policy_name: str
    statement: Statement
    outcome: StatementOutcome

    def describe(self):
        verdict = (
            ("allows" if self.statement.effect == "Allow" else "denies")
            if self.outcome.applies
            else f"does not apply: {self.outcome.reason}"
        )
        return f'{self.policy_type} "{self.policy_name}" {self.statement.label} {verdict}'


@dataclass(frozen=True)
class DecidingStatement:
    """A statement that decided the request: its policy, its place, and the statement itself."""

    policy_type: str
    policy_name: str
    statement: Statement
    principal_match: str | None = None

    @property
    def sid(self):
        return self.statement.sid

    @property
    def index(self):
        return self.statement.index

    @property
    def document(self):
        """The statement as written in the policy."""
        return self.statement.raw

    def describe(self):
        return f'{self.policy_type} "{self.policy_name}" {self.statement.label}: {json.dumps(self.document)}'


@dataclass(frozen=True)
class Decision:
    """The result of :func:`evaluate`.

    ``decision`` is ``"Allow"``, ``"ExplicitDeny"`` or ``"ImplicitDeny"``. ``statements`` are the
    deciding statements (the denies for an explicit deny, the allows for an allow; empty for an
    implicit deny). ``denied_by`` names the policy type that denied: it picks the access denied
    message. ``checks`` lists every statement looked at; ``steps`` is the reasoning in order.
    """

    request: AuthorizationRequest
    decision: str
    statements: tuple = ()
    denied_by: str | None = None
    checks: tuple = ()
    steps: tuple = ()

    @property
    def allowed(self):
        return self.decision == "Allow"

    def explain(self):
        """The decision in words a learner can follow: what was asked, what decided, what was checked."""
        request = self.request
        principal = request.principal
        lines = [f"{request.action} on {request.resource}"]
        who = f"by {request.principal_arn}"
        if principal.kind == "AssumedRole":
            who += f" (a session of the role {principal.role_arn})"
        lines.append(who)
        verdict = {
            "Allow": "allowed",
            "ExplicitDeny": f"denied by an explicit Deny in {_ARTICLE.get(self.denied_by, 'a')} {self.denied_by}",
            "ImplicitDeny": f"denied: no {self.denied_by} allows it",
        }
        lines.append(f"Decision: {self.decision} ({verdict[self.decision]})")
        for step in self.steps:
            lines.append(f"  - {step}")
        if self.statements:
            lines.append("Deciding statement" + ("s:" if len(self.statements) > 1 else ":"))
            for deciding in self.statements:
                lines.append(f"  {deciding.describe()}")
        elif self.decision == "ImplicitDeny":
            lines.append(f"No statement of any {self.denied_by} allows {request.action} here.")
        if self.checks:
            lines.append("Statements checked:")
            for check in self.checks:
                lines.append(f"  {check.describe()}")
        return "\n".join(lines)

    def __str__(self):
        return self.explain()


# ---------------------------------------------------------------------------------------------


def policies_from(value, kind="identity", default_name="policy"):
    """The policies a caller passed, in any of the accepted forms, as a list of parsed Policies."""
    if value is None:
        return []
    if isinstance(value, Policy):
        return [value]
    if isinstance(value, (str, bytes)) or (isinstance(value, Mapping) and "Statement" in value):
        return [parse_policy(value, default_name, kind)]
    if isinstance(value, Mapping):
        return [parse_policy(doc, str(name), kind) for name, doc in value.items()]
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], (Mapping, Policy))
    ):
        return [parse_policy(value[1], value[0], kind)]  # one (name, document) pair
    policies = []
    for number, item in enumerate(value, start=1):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            policies.append(parse_policy(item[1], item[0], kind))
        else:
            name = default_name if len(value) == 1 else f"{default_name} {number}"
            policies.append(parse_policy(item, None if isinstance(item, Policy) else name, kind))
    return policies


def _check(policies, policy_type, request, context, principal, checks):
    """Every statement of these policies against the request: (allows, denies) as DecidingStatements."""
    allows, denies = [], []
    is_resource = policy_type == RESOURCE_BASED
    for policy in policies:
        for statement in policy.statements:
            outcome = statement.outcome(request.action, request.resource, context, principal, check_principal=is_resource)
            checks.append(StatementCheck(policy_type, policy.name, statement, outcome))
            if outcome.applies:
                deciding = DecidingStatement(policy_type, policy.name, statement, outcome.principal_match)
                (allows if statement.effect == "Allow" else denies).append(deciding)
    return allows, denies


def evaluate(request, identity_policies=(), resource_policy=None, permissions_boundary=None, session_policies=None):
    """Authorize one request as AWS does, and say why.

    Each policy argument takes a document (dict or JSON string), a parsed
    :class:`~lambdalab_ext.iam.policy.Policy`, a ``{name: document}`` mapping, or a list of
    documents, Policies or ``(name, document)`` pairs. Pass parsed Policies when evaluating many
    requests: parsing is the slow part.

    >>> request = AuthorizationRequest("arn:aws:sts::111122223333:assumed-role/r/s", "s3:GetObject",
    ...     "arn:aws:s3:::b/k")
    >>> evaluate(request, {"p": {"Version": "2012-10-17", "Statement": [
    ...     {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
    ...     {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}}).decision
    'ExplicitDeny'
    """
    principal = request.principal
    context = request.request_context()
    checks = []
    is_service = principal.kind == "Service"

    identity = [] if is_service else policies_from(identity_policies, "identity", "inline policy")
    resource = policies_from(resource_policy, "resource", "resource policy")
    boundary = [] if is_service else policies_from(permissions_boundary, "identity", "permissions boundary")
    session = [] if is_service else policies_from(session_policies or None, "identity", "session policy")

    found = {
        IDENTITY_BASED: _check(identity, IDENTITY_BASED, request, context, principal, checks),
        RESOURCE_BASED: _check(resource, RESOURCE_BASED, request, context, principal, checks),
        PERMISSIONS_BOUNDARY: _check(boundary, PERMISSIONS_BOUNDARY, request, context, principal, checks),
        SESSION_POLICY: _check(session, SESSION_POLICY, request, context, principal, checks),
    }
    checks = tuple(checks)

    def decide(decision, statements=(), denied_by=None, steps=()):
        return Decision(request, decision, tuple(statements), denied_by, checks, tuple(steps))

    # 1. An explicit deny anywhere is final.
    for policy_type in _ORDER:
        denies = found[policy_type][1]
        if denies:
            every_deny = [d for t in _ORDER for d in found[t][1]]
            return decide(
                "ExplicitDeny",
                every_deny,
                policy_type,
                [f"An explicit Deny in {_ARTICLE[policy_type]} {policy_type} applies; a Deny overrides every Allow."],
            )

    identity_allows = found[IDENTITY_BASED][0]
    resource_allows = found[RESOURCE_BASED][0]
    boundary_allows = found[PERMISSIONS_BOUNDARY][0]
    session_allows = found[SESSION_POLICY][0]

    if is_service:
        granted = [a for a in resource_allows if a.principal_match in ("service", "all")]
        if granted:
            return decide("Allow", granted, steps=[f"The resource-based policy allows the service principal {principal.arn}."])
        return decide(
            "ImplicitDeny",
            denied_by=RESOURCE_BASED,
            steps=[f"A service principal ({principal.arn}) has no identity-based policy: only a resource-based policy can allow it, and none does."],
        )

    same_account = request.owner_account == principal.account
    if principal.kind == "Root" and same_account:
        return decide("Allow", steps=["The account root user has full access to its own account's resources unless a policy explicitly denies."])

    def limits(steps):
        """Apply the permissions boundary and session policies to an identity-side allow: the
        policy type that denies (or None), and the steps with the reasoning added."""
        steps = list(steps)
        if boundary:
            if not boundary_allows:
                steps.append("The permissions boundary does not allow it, so the allow is capped (implicit deny).")
                return PERMISSIONS_BOUNDARY, steps
            steps.append("The permissions boundary allows it too.")
        if session:
            if not session_allows:
                steps.append(
                    "No session policy allows it: a session can do only what both its role and its session policies allow."
                )
                return SESSION_POLICY, steps
            steps.append("A session policy allows it too.")
        return None, steps

    if same_account:
        direct = [a for a in resource_allows if a.principal_match in ("session", "user", "all")]
        role_grants = [a for a in resource_allows if a.principal_match == "role"]
        key_policy_required = bool(resource) and request.action.lower().startswith("kms:")
        if key_policy_required and not resource_allows:
            return decide(
                "ImplicitDeny",
                denied_by=RESOURCE_BASED,
                steps=["A KMS key policy must allow access (at least to the account, which then lets IAM policies decide); this one does not."],
            )
        if direct:
            whom = "the role session itself" if principal.kind == "AssumedRole" else "the caller directly"
            return decide(
                "Allow",
                direct,
                steps=[
                    f"The resource-based policy grants this to {whom}: in the same account, such a grant is not "
                    "limited by an implicit deny in identity-based policies, a permissions boundary or session policies."
                ],
            )
        if identity_allows or role_grants:
            if identity_allows:
                lead = "An identity-based policy allows it."
            else:
                lead = (
                    "The resource-based policy names the role (not the session): no identity-based policy is needed in the "
                    "same account, but the permissions boundary and session policies still limit it."
                )
            denied_by, steps = limits([lead])
            if denied_by is not None:
                return decide("ImplicitDeny", denied_by=denied_by, steps=steps)
            return decide("Allow", identity_allows + role_grants + boundary_allows + session_allows, steps=steps)
        steps = ["No identity-based policy allows it."]
        if [a for a in resource_allows if a.principal_match == "account"]:
            steps.append(
                "The resource-based policy names the account, which only delegates to the account's IAM policies: "
                "an identity-based policy must allow as well."
            )
        elif resource:
            steps.append("The resource-based policy does not grant it either.")
        return decide("ImplicitDeny", denied_by=IDENTITY_BASED, steps=steps)

    # Cross-account: the caller's account and the resource's account must both allow.
    steps = [f"Cross-account request: the caller is in {principal.account}, the resource in {request.owner_account}; both sides must allow."]
    if not identity_allows:
        steps.append("The caller's identity-based policies do not allow it.")
        return decide("ImplicitDeny", denied_by=IDENTITY_BASED, steps=steps)
    denied_by, steps = limits(steps + ["The caller's identity-based policy allows it."])
    if denied_by is not None:
        return decide("ImplicitDeny", denied_by=denied_by, steps=steps)
    granted = [a for a in resource_allows if a.principal_match is not None]
    if not granted:
        steps.append("The resource's account has no resource-based policy statement that allows the caller.")
        return decide("ImplicitDeny", denied_by=RESOURCE_BASED, steps=steps)
    steps.append("The resource-based policy allows the caller's " + _whom(granted[0].principal_match) + ".")
    return decide("Allow", identity_allows + granted + boundary_allows + session_allows, steps=steps)


def _whom(kind):
    return {"session": "session", "user": "user", "role": "role", "account": "account", "all": "request (Principal \"*\")"}.get(kind, "principal")


def access_denied_message(decision, include_policy_arn=False):
    """AWS's access denied message for a denied decision.

    Forms from https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html:
    ``User: ARN is not authorized to perform: ACTION on resource: RESOURCE because no
    identity-based policy allows the ACTION action``, ``... with an explicit deny in an
    identity-based policy``, ``... in a resource-based policy``, ``... in a permissions boundary``,
    ``... in a session policy``, and ``because no resource-based policy / permissions boundary /
    session policy allows the ACTION action``. The ``on resource:`` part is left out for ``*``.

    With ``include_policy_arn=True``, an explicit deny by a policy whose name is an IAM policy ARN
    ends with ``: ARN``, as AWS's newer messages do
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied-authorization-id.html).
    """
    if decision.allowed:
        raise ValueError("the request was allowed: there is no access denied message for it")
    request = decision.request
    message = f"User: {request.principal_arn} is not authorized to perform: {request.action}"
    if request.resource and request.resource != "*":
        message += f" on resource: {request.resource}"
    policy_type = decision.denied_by or IDENTITY_BASED
    if decision.decision == "ExplicitDeny":
        message += f" with an explicit deny in {_ARTICLE[policy_type]} {policy_type}"
        if include_policy_arn and decision.statements:
            name = next((s.policy_name for s in decision.statements if s.policy_type == policy_type), "")
            if name.startswith("arn:") and ":policy/" in name:
                message += f": {name}"
        return message
    return message + f" because no {policy_type} allows the {request.action} action"

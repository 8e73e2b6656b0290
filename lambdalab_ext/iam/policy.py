"""IAM policy documents: parse, validate and match, as the IAM JSON policy reference describes.

Pure: no I/O. Sources (IAM User Guide, reference_policies_elements_*):
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html

- ``Version`` is ``2012-10-17`` or ``2008-10-17`` (the default when absent). Policy variables
  (``${aws:username}``...) are substituted only under ``2012-10-17``; under ``2008-10-17`` they
  are literal text.
- ``Statement`` is one object or a list. Each has ``Effect`` (``Allow`` or ``Deny``), ``Action``
  or ``NotAction``, ``Resource`` or ``NotResource`` and optionally ``Sid``, ``Condition``;
  resource-based policies also ``Principal`` or ``NotPrincipal``.
- Actions match case-insensitively, with ``*`` (any run) and ``?`` (one character).
- Resources match case-sensitively. A pattern with the six colon-separated ARN segments is matched
  segment by segment: a wildcard stays inside its segment, except in the sixth (the resource part,
  which holds ``/`` and sometimes ``:``, as ``log-group:NAME:log-stream:S`` does), where ``*``
  matches anything. A shorter pattern (``*``, ``arn:aws:s3:*``) is matched as a whole string.
- A resource pattern whose variable has no value matches nothing.

Where this module is more lenient than IAM (on purpose, so a learner's policy is judged rather
than refused): a wildcard in an ARN's service segment and a variable before the fifth colon are
accepted (the docs forbid both); condition operator names are matched case-insensitively; a
partial wildcard in a Principal is kept (it simply matches no one, as AWS's "You cannot use a
wildcard to match part of a principal name or ARN" implies).

Errors are :class:`MalformedPolicyDocument` with IAM's own messages ("Syntax errors in policy.",
"Policy document should not specify a principal.", "Policy statement must contain actions."...)
and a ``detail`` naming the statement.

>>> policy = parse_policy({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
...     "Action": "s3:Get*", "Resource": "arn:aws:s3:::photos/${aws:username}/*"}}, name="home")
>>> statement = policy.statements[0]
>>> statement.matches_action("S3:GETOBJECT")
True
>>> statement.matches_resource("arn:aws:s3:::photos/ana/cat.jpg", {"aws:username": "ana"})
True
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from .conditions import (
    ConditionResult,
    ConditionSyntaxError,
    RequestContext,
    arn_match,
    arn_source,
    evaluate_conditions,
    glob_source,
    parse_condition_block,
    parse_template,
)

__all__ = [
    "MalformedPolicyDocument",
    "Policy",
    "Statement",
    "StatementOutcome",
    "RequestPrincipal",
    "parse_policy",
    "VERSIONS",
]

VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_ELEMENTS = {"Version", "Id", "Statement"}
_STATEMENT_ELEMENTS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_VENDOR = re.compile(r"^[A-Za-z0-9*?-]+$")


class MalformedPolicyDocument(ValueError):
    """A policy document IAM would refuse, with IAM's message (``message``) and where (``detail``).

    >>> try:
    ...     parse_policy("{not json")
    ... except MalformedPolicyDocument as error:
    ...     print(error.code, "-", error.message)
    MalformedPolicyDocument - Syntax errors in policy.
    """

    code = "MalformedPolicyDocument"

    def __init__(self, message, detail=""):
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self):
        return f"{self.message} ({self.detail})" if self.detail else self.message


# ---------------------------------------------------------------------------------------------
# Who is asking (for Principal / NotPrincipal)
# ---------------------------------------------------------------------------------------------

_ASSUMED_ROLE = re.compile(r"^arn:(?P<p>[^:]+):sts::(?P<acct>\d{12}):assumed-role/(?P<role>[^/]+)/(?P<session>.+)$")
_IAM_USER = re.compile(r"^arn:(?P<p>[^:]+):iam::(?P<acct>\d{12}):user/(?:.*/)?(?P<name>[^/]+)$")
_IAM_ROLE = re.compile(r"^arn:(?P<p>[^:]+):iam::(?P<acct>\d{12}):role/(?:.*/)?(?P<name>[^/]+)$")
_ROOT = re.compile(r"^arn:(?P<p>[^:]+):iam::(?P<acct>\d{12}):root$")


@dataclass(frozen=True)
class RequestPrincipal:
    """The principal making a request: a role session, an IAM user, the root user, or a service.

    >>> p = RequestPrincipal.from_arn("arn:aws:sts::123456789012:assumed-role/Reader/fn")
    >>> p.kind, p.account, p.role_arn
    ('AssumedRole', '123456789012', 'arn:aws:iam::123456789012:role/Reader')
    """

    arn: str
    kind: str  # AssumedRole, IAMUser, Root, Service
    account: str | None
    role_arn: str | None = None
    role_name: str | None = None
    session_name: str | None = None
    user_name: str | None = None

    @classmethod
    def from_arn(cls, arn, role_arn=None):
        """Read a principal from its ARN (or a service principal such as ``s3.amazonaws.com``).

        ``role_arn`` gives the role's ARN with its path (an assumed-role ARN drops the path)."""
        match = _ASSUMED_ROLE.match(arn)
        if match:
            derived = f"arn:{match['p']}:iam::{match['acct']}:role/{match['role']}"
            return cls(arn, "AssumedRole", match["acct"], role_arn or derived, match["role"], match["session"])
        match = _IAM_USER.match(arn)
        if match:
            return cls(arn, "IAMUser", match["acct"], user_name=match["name"])
        match = _ROOT.match(arn)
        if match:
            return cls(arn, "Root", match["acct"])
        if re.fullmatch(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?", arn):
            return cls(arn, "Service", None)
        raise ValueError(
            f"unsupported principal {arn!r}: give an assumed-role session ARN "
            "(arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), an IAM user ARN, "
            "arn:aws:iam::ACCOUNT:root or a service principal such as s3.amazonaws.com"
        )


# ---------------------------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------------------------


class StatementOutcome(NamedTuple):
    """Whether a statement applies to a request, and if not, why (for the explanation)."""

    applies: bool
    reason: str = ""
    principal_match: str | None = None  # session, role, user, account, service, all (resource policies)
    condition: ConditionResult | None = None


@dataclass(frozen=True)
class Statement:
    """One parsed statement. ``raw`` is the statement as written; ``index`` its place (from 0)."""

    index: int
    sid: str | None
    effect: str
    actions: tuple | None
    not_actions: tuple | None
    resources: tuple | None  # None with not_resources None: no Resource element (resource policy)
    not_resources: tuple | None
    principal: object | None  # "*" or {type: tuple}
    not_principal: object | None
    conditions: tuple
    raw: dict = field(repr=False, compare=False)
    # One compiled regex for all the actions, and for all the resources when they hold no
    # variable: evaluating many requests is then one match per element.
    _action_regex: object = field(default=None, repr=False, compare=False)
    _resource_regex: object = field(default=None, repr=False, compare=False)

    @property
    def label(self):
        """``Statement[1] (Sid "AllowLogs")``: where the statement sits in its document."""
        return f'Statement[{self.index}] (Sid "{self.sid}")' if self.sid else f"Statement[{self.index}]"

    def matches_action(self, action):
        found = self._action_regex.fullmatch(action) is not None
        return found if self.actions is not None else not found

    def matches_resource(self, resource, context=None):
        if self._resource_regex is not None:
            found = self._resource_regex.fullmatch(resource) is not None
            return found if self.resources is not None else not found
        context = _as_context(context)
        if self.resources is not None:
            return any(arn_match(t, resource, context) for t in self.resources)
        if self.not_resources is not None:
            return not any(arn_match(t, resource, context) for t in self.not_resources)
        return True  # a resource-based policy without Resource covers the resource it is on

    def principal_match(self, requester):
        """How the Principal (or NotPrincipal) names the requester, or None if it does not.

        session / role / user / account / service / all — the evaluator needs to know which,
        because a grant to a role session is not limited by a boundary while one to the role is.
        """
        if self.principal is not None:
            return _principal_kind(self.principal, requester)
        if self.not_principal is not None:
            return None if _principal_kind(self.not_principal, requester) else "all"
        return "all"

    def outcome(self, action, resource, context, requester=None, check_principal=False):
        """Whether this statement applies to the request (action, resource, principal, condition)."""
        if not self.matches_action(action):
            return StatementOutcome(False, f"its {'NotAction' if self.actions is None else 'Action'} does not cover {action}")
        if not self.matches_resource(resource, context):
            element = "NotResource" if self.not_resources is not None else "Resource"
            return StatementOutcome(False, f"its {element} does not cover {resource}")
        context = _as_context(context)
        kind = None
        if check_principal:
            kind = self.principal_match(requester)
            if kind is None:
                element = "NotPrincipal excludes" if self.principal is None else "Principal does not name"
                return StatementOutcome(False, f"its {element} {requester.arn}")
        if self.conditions:
            result = evaluate_conditions(self.conditions, context)
            if not result.matched:
                return StatementOutcome(False, f"its Condition {result.reason}", kind, result)
            return StatementOutcome(True, "", kind, result)
        return StatementOutcome(True, "", kind)


def _as_context(context):
    if context is None or isinstance(context, RequestContext):
        return context if context is not None else RequestContext()
    return RequestContext(context)


def _principal_kind(spec, requester):
    if spec == "*":
        return "all"
    if requester is None:
        return None
    found = None
    for value in spec.get("AWS", ()):
        kind = _aws_principal_kind(value, requester)
        if kind == "session" or kind == "user":
            return kind  # the most direct grant wins
        if kind and (found is None or _RANK[kind] < _RANK[found]):
            found = kind
    if requester.kind == "Service":
        for value in spec.get("Service", ()):
            if value.lower() == requester.arn.lower():
                return "service"
    return found


_RANK = {"session": 0, "user": 0, "all": 1, "role": 2, "account": 3}


def _aws_principal_kind(value, requester):
    if value == "*":
        return "all"
    if requester.kind == "Service":
        return None
    if value == requester.arn:
        return "session" if requester.kind == "AssumedRole" else "user" if requester.kind == "IAMUser" else "account"
    if requester.kind == "AssumedRole":
        role = _IAM_ROLE.match(value)
        # IAM stores a role principal as the role's unique id, so its path does not matter.
        if role and role["acct"] == requester.account and role["name"] == requester.role_name:
            return "role"
    root = _ROOT.match(value)
    if (root and root["acct"] == requester.account) or value == requester.account:
        return "account"
    return None


# ---------------------------------------------------------------------------------------------
# Policies
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A parsed policy document.

    ``kind`` is ``"identity"`` (identity-based policies, and also permissions boundaries and
    session policies, which are written the same way) or ``"resource"`` (bucket, queue, topic,
    key, function policies: they name a Principal).
    """

    name: str
    kind: str
    version: str
    statements: tuple
    document: dict = field(repr=False, compare=False)
    id: str | None = None

    @property
    def uses_variables(self):
        return self.version == "2012-10-17"

    def to_json(self, indent=2):
        return json.dumps(self.document, indent=indent)


def parse_policy(document, name=None, kind="identity"):
    """Parse and validate a policy document (a JSON string or a dict).

    ``kind="identity"`` refuses a Principal ("Policy document should not specify a principal.");
    ``kind="resource"`` requires one. An existing :class:`Policy` is returned as it is (renamed
    when ``name`` is given).

    >>> parse_policy('{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}').version
    '2008-10-17'
    """
    if isinstance(document, Policy):
        if name is not None and name != document.name:
            return Policy(name, document.kind, document.version, document.statements, document.document, document.id)
        return document
    if kind not in ("identity", "resource"):
        raise ValueError(f"kind must be 'identity' or 'resource', not {kind!r}")
    if isinstance(document, (bytes, bytearray)):
        document = document.decode("utf-8", "replace")
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as error:
            raise MalformedPolicyDocument("Syntax errors in policy.", f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise MalformedPolicyDocument("Syntax errors in policy.", "a policy document is a JSON object")
    for element in document:
        if element not in _TOP_ELEMENTS:
            raise MalformedPolicyDocument("Syntax errors in policy.", f"unknown top-level element {element!r}")
    version = document.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise MalformedPolicyDocument(
            "Syntax errors in policy.", f"Version must be 2012-10-17 or 2008-10-17, not {version!r}"
        )
    if "Statement" not in document:
        raise MalformedPolicyDocument("Syntax errors in policy.", "the policy has no Statement")
    raw_statements = document["Statement"]
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise MalformedPolicyDocument("Syntax errors in policy.", "Statement must be an object or a non-empty list")
    variables = version == "2012-10-17"
    statements = tuple(_parse_statement(index, raw, kind, variables) for index, raw in enumerate(raw_statements))
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        duplicate = next(sid for sid in sids if sids.count(sid) > 1)
        raise MalformedPolicyDocument(
            "Statement IDs (SID) in a single policy must be unique.", f"Sid {duplicate!r} appears twice"
        )
    return Policy(name or "policy", kind, version, statements, document, document.get("Id"))


def _parse_statement(index, raw, kind, variables):
    where = f"Statement[{index}]"
    if not isinstance(raw, dict):
        raise MalformedPolicyDocument("Syntax errors in policy.", f"{where} is not a JSON object")
    for element in raw:
        if element not in _STATEMENT_ELEMENTS:
            raise MalformedPolicyDocument("Syntax errors in policy.", f"{where}: unknown element {element!r}")
    for one, other in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
        if one in raw and other in raw:
            raise MalformedPolicyDocument("Syntax errors in policy.", f"{where} has both {one} and {other}")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicyDocument("Syntax errors in policy.", f"{where}: Sid must be a string")
    if sid:
        where = f'{where} (Sid "{sid}")'
    effect = raw.get("Effect")
    if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        raise MalformedPolicyDocument("Syntax errors in policy.", f"{where}: Effect must be Allow or Deny, not {effect!r}")
    if effect not in ("Allow", "Deny"):
        # IAM reads the value case-sensitively and answers with its legacy parser's message.
        raise MalformedPolicyDocument("The policy failed legacy parsing", f"{where}: Effect is {effect!r}, write Allow or Deny")

    has_principal = "Principal" in raw or "NotPrincipal" in raw
    if kind == "identity" and has_principal:
        raise MalformedPolicyDocument("Policy document should not specify a principal.", where)
    if kind == "resource" and not has_principal:
        raise MalformedPolicyDocument("Missing required field Principal", where)

    actions = _strings(raw, "Action", where)
    not_actions = _strings(raw, "NotAction", where)
    if not actions and not not_actions:
        raise MalformedPolicyDocument("Policy statement must contain actions.", where)
    for action in actions or not_actions:
        _check_action(action, where)

    resources = _strings(raw, "Resource", where)
    not_resources = _strings(raw, "NotResource", where)
    if kind == "identity" and not resources and not not_resources:
        raise MalformedPolicyDocument("Policy statement must contain resources.", where)

    try:
        conditions = parse_condition_block(raw.get("Condition"), variables)
    except ConditionSyntaxError as error:
        raise MalformedPolicyDocument(error.message, f"{where}: {error.detail}") from None

    def templates(values):
        return None if values is None else tuple(parse_template(v, variables) for v in values)

    action_templates = tuple(parse_template(a, False) for a in (actions or not_actions))
    action_regex = re.compile("|".join(f"(?:{glob_source(t.parts)})" for t in action_templates), re.IGNORECASE | re.DOTALL)
    resource_templates = templates(resources if resources is not None else not_resources)
    resource_regex = None
    if resource_templates is not None and not any(t.has_variables for t in resource_templates):
        resource_regex = re.compile("|".join(f"(?:{arn_source(t.parts)})" for t in resource_templates), re.DOTALL)

    return Statement(
        index=index,
        sid=sid,
        effect=effect,
        actions=action_templates if actions is not None else None,
        not_actions=action_templates if actions is None else None,
        resources=resource_templates if resources is not None else None,
        not_resources=resource_templates if resources is None and not_resources is not None else None,
        principal=_parse_principal(raw["Principal"], where) if "Principal" in raw else None,
        not_principal=_parse_principal(raw["NotPrincipal"], where) if "NotPrincipal" in raw else None,
        conditions=conditions,
        raw=raw,
        _action_regex=action_regex,
        _resource_regex=resource_regex,
    )


def _strings(raw, element, where):
    if element not in raw:
        return None
    value = raw[element]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise MalformedPolicyDocument(
            "Syntax errors in policy.", f"{where}: {element} must be a string or a list of strings"
        )
    return value or None


def _check_action(action, where):
    if action == "*":
        return
    if ":" not in action:
        raise MalformedPolicyDocument(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.", f"{where}: {action!r}"
        )
    if action.count(":") > 1:
        raise MalformedPolicyDocument("Actions/Condition can contain only one colon.", f"{where}: {action!r}")
    vendor = action.split(":", 1)[0]
    if not _VENDOR.match(vendor):
        raise MalformedPolicyDocument(f"Vendor {vendor} is not valid", f"{where}: {action!r}")


def _parse_principal(value, where):
    if value == "*":
        return "*"
    if not isinstance(value, dict) or not value:
        raise MalformedPolicyDocument("Syntax errors in policy.", f"{where}: Principal must be \"*\" or an object")
    parsed = {}
    for principal_type, names in value.items():
        if principal_type not in _PRINCIPAL_TYPES:
            raise MalformedPolicyDocument(
                "Syntax errors in policy.", f"{where}: unknown principal type {principal_type!r}"
            )
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise MalformedPolicyDocument(
                "Syntax errors in policy.", f"{where}: Principal {principal_type} must be a string or a list"
            )
        parsed[principal_type] = tuple(names)
    if parsed.get("AWS") == ("*",) and len(parsed) == 1:
        return "*"  # the docs: "Principal": "*" and {"AWS": "*"} are equivalent
    return parsed

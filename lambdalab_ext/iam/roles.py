"""Execution roles on the lab's IAM (moto's, through the lab's endpoint) and the sessions functions run as.

A Lambda function runs as a session of its execution role: Lambda assumes the role (its trust
policy must let ``lambda.amazonaws.com`` do so) and puts the session's temporary credentials in
the environment ("Defining Lambda function permissions with an execution role",
https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html). The session is
``arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION``: the role session name is the function's name.

``ExecutionRoles`` reads a role's policies (inline, attached customer-managed and AWS managed,
the permissions boundary) from the lab's IAM and keeps them parsed until the role changes;
``Sessions`` issues each execution environment its credentials and says whose they are.

>>> roles = ExecutionRoles(lab.aws, account_id="123456789012")                # doctest: +SKIP
>>> arn = roles.create_role("orders-role", managed=["AWSLambdaBasicExecutionRole"],
...     policies={"orders": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
...         "Action": "dynamodb:PutItem", "Resource": "arn:aws:dynamodb:*:*:table/Orders"}]}})  # doctest: +SKIP
>>> arn                                                                         # doctest: +SKIP
'arn:aws:iam::123456789012:role/orders-role'
>>> [p.name for p in roles.facts(arn).identity]                                 # doctest: +SKIP
['orders', 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole']
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import threading

from ..errors import InvalidParameterValueException
from .managed import MANAGED_POLICIES, lambda_trust_policy
from .policy import Policy, parse_policy

# The lab's default role: named so that nobody mistakes it for good practice (aws/control.py
# answers it as the Role of a function deployed without one).
from ..aws.control import DEFAULT_ROLE_NAME

DEFAULT_ROLE_POLICY_NAME = "allow-everything"
ALLOW_EVERYTHING = {"Version": "2012-10-17",
                    "Statement": [{"Sid": "NotLeastPrivilege", "Effect": "Allow", "Action": "*", "Resource": "*"}]}
_ROLE_ARN = re.compile(r"arn:(?P<partition>aws[a-zA-Z-]*)?:iam::(?P<account>\d{12}):role/(?P<path>(?:[^/]+/)*)(?P<name>[^/]+)")
_MANAGED_BY_ARN = {entry.arn: entry for entry in MANAGED_POLICIES.values()}


def role_name(role_arn):
    """``arn:aws:iam::123456789012:role/service-role/orders`` -> ``orders``."""
    match = _ROLE_ARN.fullmatch(role_arn or "")
    if not match:
        raise InvalidParameterValueException(f"{role_arn!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME).")
    return match["name"]


def session_arn(role_arn, session_name):
    """The assumed-role session ARN STS gives a role session (the role's path is not in it)."""
    match = _ROLE_ARN.fullmatch(role_arn)
    partition = match["partition"] or "aws"
    return f"arn:{partition}:sts::{match['account']}:assumed-role/{match['name']}/{session_name}"


@dataclasses.dataclass(frozen=True)
class RoleFacts:
    """What the evaluator needs of a role: its ARN and id, its identity-based policies (parsed,
    named by policy name or managed policy ARN), its permissions boundary and its tags."""

    name: str
    arn: str
    role_id: str
    identity: tuple                 # Policy objects
    boundary: Policy | None
    tags: dict
    trust_policy: dict

    @property
    def documents(self):
        """``{policy name: document}`` of the identity-based policies (for ``unused_grants``)."""
        return {policy.name: policy for policy in self.identity}


@dataclasses.dataclass(frozen=True)
class Session:
    """Whose credentials these are: a function's environment, as a session of its role."""

    function: str
    environment_id: str
    role_arn: str
    arn: str                        # arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION
    access_key_id: str


class Sessions:
    """The credentials issued to execution environments, by access key id. Thread-safe.

    ``issue(config, environment_id)`` is what an ``ExecutionEnvironment`` calls when it starts a
    runtime (``backend.issue_credentials``): it returns ``(access key id, secret, session token)``.
    """

    def __init__(self, account_id):
        self.account_id = account_id
        self._by_key = {}
        self._lock = threading.Lock()

    def default_role_arn(self):
        return f"arn:aws:iam::{self.account_id}:role/{DEFAULT_ROLE_NAME}"

    def issue(self, config, environment_id):
        role_arn = getattr(config, "role", None) or self.default_role_arn()
        # ASIA: the prefix of temporary (STS) access keys, as a role session's are.
        key = "ASIA" + secrets.token_hex(8).upper()
        credentials = (key, secrets.token_urlsafe(30), "lambdalab-session-" + secrets.token_urlsafe(48))
        session = Session(config.name, environment_id, role_arn, session_arn(role_arn, config.name), key)
        with self._lock:
            self._by_key[key] = session
        return credentials

    def of(self, access_key_id):
        """The ``Session`` these credentials belong to, or None (the notebook's, the lab's own)."""
        if not access_key_id:
            return None
        with self._lock:
            return self._by_key.get(access_key_id)

    def __len__(self):
        with self._lock:
            return len(self._by_key)


def load_aws_managed_policies(account_ids):
    """Give moto's IAM the AWS managed policies (``AWSLambdaBasicExecutionRole``...), as an AWS
    account has them: moto 5 loads none unless ``MOTO_IAM_LOAD_MANAGED_POLICIES`` is set when an
    account's IAM is first used, so a lab whose IAM is already up gets them here."""
    import json as _json
    import os
    import sys

    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")   # accounts moto creates from now on
    if "moto.iam.models" not in sys.modules:
        return                      # moto's IAM has no account yet: each will load them itself
    from moto.core import DEFAULT_ACCOUNT_ID    # the account moto answers the notebook's key with
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy, iam_backends

    data = None
    for account_id in sorted({*account_ids, DEFAULT_ACCOUNT_ID}):
        backend = iam_backends[account_id]["global"]
        if backend.aws_managed_policies:
            continue
        data = data or _json.loads(aws_managed_policies_data)
        policies = [AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, entry)
                    for name, entry in data.items()]
        backend.aws_managed_policies = policies
        for policy in policies:
            backend.managed_policies.setdefault(policy.arn, policy)


class ExecutionRoles:
    """Roles on the lab's IAM, read through ``aws`` (an ``AWSEndpoint``) with the notebook's
    credentials, and their parsed policies cached until ``invalidate``."""

    def __init__(self, aws, account_id):
        self.aws = aws
        self.account_id = account_id
        self._client = None
        self._cache = {}
        self._lock = threading.Lock()
        self._default_lock = threading.Lock()

    @property
    def iam(self):
        if self._client is None:
            self._client = self.aws.client("iam")
        return self._client

    # -- creating --------------------------------------------------------------------------------
    def ensure_default(self):
        """The lab's default role (allows everything), created on first need; returns its ARN."""
        arn = f"arn:aws:iam::{self.account_id}:role/{DEFAULT_ROLE_NAME}"
        with self._default_lock:           # two first calls at once must not both create it
            try:
                self.iam.get_role(RoleName=DEFAULT_ROLE_NAME)
            except self.iam.exceptions.NoSuchEntityException:
                self.create_role(DEFAULT_ROLE_NAME, policies={DEFAULT_ROLE_POLICY_NAME: ALLOW_EVERYTHING},
                                 description="lambdalab's default execution role: it allows EVERY action on EVERY "
                                             "resource. Never a good practice: give each function its own role.")
        return arn

    def create_role(self, name, *, policies=None, managed=(), permissions_boundary=None, trust_policy=None,
                    path="/", description="", tags=None):
        """Create an execution role as the IAM API does (``CreateRole`` with Lambda's trust policy,
        ``PutRolePolicy`` for each of ``policies`` (``{name: document}``), ``AttachRolePolicy``
        for each of ``managed``: AWS managed policy names such as ``"AWSLambdaBasicExecutionRole"``
        or policy ARNs), and ``PutRolePermissionsBoundary``. Returns the role's ARN. IAM's errors
        (``EntityAlreadyExists``, ``MalformedPolicyDocument``, ``NoSuchEntity``) come back as
        botocore's ``ClientError``, as from AWS.
        """
        kwargs = {"RoleName": name, "Path": path,
                  "AssumeRolePolicyDocument": json.dumps(trust_policy or lambda_trust_policy())}
        if description:
            kwargs["Description"] = description
        if tags:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        if permissions_boundary:
            kwargs["PermissionsBoundary"] = self.policy_arn(permissions_boundary)
        for policy_name, document in (policies or {}).items():
            parse_policy(document, policy_name, "identity")   # IAM's MalformedPolicyDocument, before anything
        role = self.iam.create_role(**kwargs)["Role"]
        for policy_name, document in (policies or {}).items():
            self.iam.put_role_policy(RoleName=name, PolicyName=policy_name,
                                     PolicyDocument=document if isinstance(document, str) else json.dumps(document))
        for policy in managed:
            self.iam.attach_role_policy(RoleName=name, PolicyArn=self.policy_arn(policy))
        self.invalidate(name)
        return role["Arn"]

    def policy_arn(self, name_or_arn):
        """A managed policy's ARN: an ARN as given, an AWS managed policy by its name (the lab's
        documents first, then the ones moto knows), else a customer-managed policy of the account."""
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        if name_or_arn in MANAGED_POLICIES:
            return MANAGED_POLICIES[name_or_arn].arn
        for arn in (f"arn:aws:iam::aws:policy/{name_or_arn}", f"arn:aws:iam::aws:policy/service-role/{name_or_arn}",
                    f"arn:aws:iam::{self.account_id}:policy/{name_or_arn}"):
            try:
                self.iam.get_policy(PolicyArn=arn)
                return arn
            except self.iam.exceptions.NoSuchEntityException:
                continue
        raise InvalidParameterValueException(f"NoSuchEntity: Policy {name_or_arn} does not exist or is not attachable.")

    def check_role(self, role_arn):
        """What CreateFunction checks of its ``Role``: the role exists and Lambda may assume it.
        Raises ``InvalidParameterValueException`` with Lambda's message otherwise."""
        if not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn):
            return                      # FunctionConfiguration refuses it with the API's pattern error
        try:
            facts = self.facts(role_arn)
        except LookupError:
            raise InvalidParameterValueException("The role defined for the function cannot be assumed by Lambda.") from None
        if not _trusts_lambda(facts.trust_policy):
            raise InvalidParameterValueException("The role defined for the function cannot be assumed by Lambda.")

    # -- reading ---------------------------------------------------------------------------------
    def facts(self, role_arn, *, missing_ok=False):
        """The role's ``RoleFacts``, read once and kept until the role changes. ``LookupError``
        when the role does not exist, unless ``missing_ok``: then a role with no policy at all (a
        session of a deleted role is allowed nothing)."""
        name = role_name(role_arn)
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None:
            return cached
        try:
            facts = self._read(name)
        except LookupError:
            if name == DEFAULT_ROLE_NAME:
                # Made on first need, not at the first cold start: a function that calls no AWS
                # API must not start the embedded services (and pay for it in its INIT).
                self.ensure_default()
                facts = self._read(name)
            elif not missing_ok:
                raise
            else:
                return RoleFacts(name, role_arn, "AROA" + "0" * 17, (), None, {}, {})
        with self._lock:
            self._cache[name] = facts
        return facts

    def invalidate(self, name=None):
        """Forget what was read of role ``name`` (every role when None): the next call reads it again."""
        with self._lock:
            if name is None:
                self._cache.clear()
            else:
                self._cache.pop(name, None)

    def _read(self, name):
        iam = self.iam
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except iam.exceptions.NoSuchEntityException:
            raise LookupError(f"The role with name {name} cannot be found.") from None
        identity = []
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy_name in page["PolicyNames"]:
                document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
                identity.append(parse_policy(document, policy_name, "identity"))
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            for attached in page["AttachedPolicies"]:
                arn = attached["PolicyArn"]
                identity.append(parse_policy(self._managed_document(arn), arn, "identity"))
        boundary = None
        boundary_arn = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if boundary_arn:
            boundary = parse_policy(self._managed_document(boundary_arn), boundary_arn, "identity")
        trust = role.get("AssumeRolePolicyDocument") or {}
        if isinstance(trust, str):
            trust = json.loads(trust)
        tags = {t["Key"]: t["Value"] for t in role.get("Tags") or []}
        return RoleFacts(name, role["Arn"], role["RoleId"], tuple(identity), boundary, tags, trust)

    def _managed_document(self, arn):
        # The lab's verified documents win over moto's copies where both exist.
        entry = _MANAGED_BY_ARN.get(arn)
        if entry is not None:
            return entry.document
        policy = self.iam.get_policy(PolicyArn=arn)["Policy"]
        version = self.iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
        return version["PolicyVersion"]["Document"]


def _statements(document):
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    return [statements] if isinstance(statements, dict) else list(statements)


def _trusts_lambda(trust_policy):
    for statement in _statements(trust_policy):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        principal = statement.get("Principal") or {}
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else services
        if "lambda.amazonaws.com" in services or principal == "*":
            return True
    return False

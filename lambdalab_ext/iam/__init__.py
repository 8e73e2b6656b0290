"""IAM for the lab: policy documents, their evaluation with an explanation, the IAM actions an API
call needs, AWS managed policies, and least privilege from use. Everything here is pure
computation (no I/O); enforcing it on a function's calls happens at the lab's endpoint.

>>> from lambdalab_ext.iam import AuthorizationRequest, evaluate, managed_policy, authorization_for
>>> [(action, resource)] = authorization_for("dynamodb", "PutItem", {"TableName": "Orders"})
>>> request = AuthorizationRequest("arn:aws:sts::123456789012:assumed-role/orders-role/orders", action, resource)
>>> evaluate(request, {"AWSLambdaBasicExecutionRole": managed_policy("AWSLambdaBasicExecutionRole")}).decision
'ImplicitDeny'
"""

from .actions import RequiredPermission, authorization_for, covered_operations, iam_prefix
from .conditions import RequestContext
from .evaluator import (
    IDENTITY_BASED,
    PERMISSIONS_BOUNDARY,
    RESOURCE_BASED,
    SESSION_POLICY,
    AuthorizationRequest,
    DecidingStatement,
    Decision,
    StatementCheck,
    access_denied_message,
    evaluate,
    policies_from,
)
from .least_privilege import UnusedGrant, not_allowed, propose_policy, unused_grants
from .managed import (
    LAMBDA_TRUST_POLICY,
    MANAGED_POLICIES,
    NoSuchEntity,
    lambda_trust_policy,
    managed_policy,
    managed_policy_arn,
)
from .policy import MalformedPolicyDocument, Policy, RequestPrincipal, Statement, parse_policy

from . import evaluator as _evaluator

__all__ = [
    *_evaluator.__all__,
    "MalformedPolicyDocument",
    "Policy",
    "Statement",
    "RequestPrincipal",
    "parse_policy",
    "RequestContext",
    "RequiredPermission",
    "authorization_for",
    "covered_operations",
    "iam_prefix",
    "MANAGED_POLICIES",
    "LAMBDA_TRUST_POLICY",
    "NoSuchEntity",
    "managed_policy",
    "managed_policy_arn",
    "lambda_trust_policy",
    "propose_policy",
    "not_allowed",
    "unused_grants",
    "UnusedGrant",
]

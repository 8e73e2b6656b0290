"""Least privilege from use: the smallest policy that allows what a function did, and what a broad
policy allowed that it never needed.

IAM Access Analyzer does this in the cloud from CloudTrail
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-policy-generation.html); here the
lab records the ``(action, resource)`` pairs a function's calls were authorized on (see
:func:`~lambdalab_ext.iam.actions.authorization_for`) and proposes a policy from them. Pure.

>>> used = [("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/Orders"),
...         ("s3:GetObject", "arn:aws:s3:::photos/cat.jpg")]
>>> [s["Action"] for s in propose_policy(used)["Statement"]]
['dynamodb:PutItem', 's3:GetObject']
>>> admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
>>> print(unused_grants({"AdministratorAccess": admin}, used)[0])  # doctest: +NORMALIZE_WHITESPACE
identity-based policy "AdministratorAccess" Statement[0] allows every action of every AWS service ("*")
on every resource ("*"); the function used only dynamodb:PutItem on
arn:aws:dynamodb:us-east-1:123456789012:table/Orders and s3:GetObject on arn:aws:s3:::photos/cat.jpg.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .evaluator import IDENTITY_BASED, AuthorizationRequest, evaluate, policies_from

__all__ = ["propose_policy", "not_allowed", "unused_grants", "UnusedGrant"]

_WILDCARD = re.compile(r"[*?]")


def _pairs(used):
    pairs = set()
    for item in used:
        action, resource = item[0], item[1]
        pairs.add((str(action), str(resource)))
    return sorted(pairs)


def _sid(actions, taken):
    services = sorted({action.split(":", 1)[0] for action in actions})
    base = "Allow" + "".join(re.sub(r"[^A-Za-z0-9]", "", s.title()) for s in services)
    sid, number = base, 2
    while sid in taken:
        sid, number = f"{base}{number}", number + 1
    taken.add(sid)
    return sid


def _parent(resource):
    """The ARN a wildcard may stand in for: up to the last ``/`` or ``:`` of the resource part."""
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return None
    tail = parts[5]
    cut = max(tail.rfind("/"), tail.rfind(":"))
    if cut <= 0:
        return None
    return ":".join(parts[:5]) + ":" + tail[: cut + 1]


def _generalize(resources):
    by_parent = {}
    kept = []
    for resource in resources:
        parent = _parent(resource)
        if parent is None:
            kept.append(resource)
        else:
            by_parent.setdefault(parent, []).append(resource)
    for parent, members in by_parent.items():
        kept.extend([parent + "*"] if len(members) > 1 else members)
    return sorted(set(kept))


def _one_or_list(values):
    return values[0] if len(values) == 1 else values


def propose_policy(used, wildcards=False):
    """The smallest identity-based policy that allows every used ``(action, resource)`` pair.

    Resources used with the same set of actions share one statement; actions and resources are
    exact (no wildcards) unless ``wildcards=True``, which replaces two or more resources under the
    same parent (``arn:aws:s3:::photos/a``, ``arn:aws:s3:::photos/b``) by ``parent*``. The order
    is deterministic (sorted), so the same use gives the same document.
    """
    by_resource = {}
    for action, resource in _pairs(used):
        by_resource.setdefault(resource, set()).add(action)
    by_actions = {}
    for resource, actions in by_resource.items():
        by_actions.setdefault(tuple(sorted(actions)), []).append(resource)
    statements, taken = [], set()
    for actions, resources in sorted(by_actions.items(), key=lambda item: (item[0], sorted(item[1]))):
        resources = _generalize(resources) if wildcards else sorted(resources)
        statements.append(
            {"Sid": _sid(actions, taken), "Effect": "Allow", "Action": _one_or_list(list(actions)), "Resource": _one_or_list(resources)}
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _check_principal(resource, account):
    parts = resource.split(":", 5)
    owner = parts[4] if len(parts) == 6 and parts[4].isdigit() else account
    return f"arn:aws:sts::{owner}:assumed-role/least-privilege-check/check"


def not_allowed(policy, used, principal_arn=None, account="123456789012"):
    """The used pairs a policy does not allow, checked with the evaluator (``[]`` when it allows all).

    Each pair is evaluated for a role session in the resource's own account (so the check is about
    the identity-based policy alone), unless ``principal_arn`` is given.
    """
    policies = policies_from(policy, "identity", "proposed policy")
    missing = []
    for action, resource in _pairs(used):
        principal = principal_arn or _check_principal(resource, account)
        decision = evaluate(AuthorizationRequest(principal, action, resource), identity_policies=policies)
        if not decision.allowed:
            missing.append((action, resource))
    return missing


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnusedGrant:
    """A part of a policy the function never needed, in words (``message``, also ``str()``)."""

    policy_type: str
    policy_name: str
    statement: object  # the parsed Statement
    kind: str  # "unused" (nothing of it was used), "broader" (wildcards), "unused-actions"
    granted_actions: tuple
    granted_resources: tuple
    used: tuple = field(default=())
    message: str = ""

    def __str__(self):
        return self.message


def _service_label(service):
    return {"s3": "S3", "sqs": "SQS", "sns": "SNS", "kms": "KMS", "sts": "STS", "iam": "IAM", "ec2": "EC2"}.get(service, service)


def _describe_action(pattern):
    if pattern == "*":
        return 'every action of every AWS service ("*")'
    service, _, name = pattern.partition(":")
    if name == "*":
        return f'every {_service_label(service)} action ("{pattern}")'
    if _WILDCARD.search(pattern):
        return f'every action matching "{pattern}"'
    return pattern


def _describe_resource(pattern):
    if pattern == "*":
        return 'every resource ("*")'
    if _WILDCARD.search(pattern):
        return f'every resource matching "{pattern}"'
    return pattern


def _join(items):
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _granted(statement):
    if statement.actions is not None:
        actions = tuple(t.text for t in statement.actions)
        action_words = _join([_describe_action(a) for a in actions])
    else:
        actions = tuple("NotAction:" + t.text for t in statement.not_actions)
        action_words = "every action except " + _join([t.text for t in statement.not_actions])
    if statement.resources is not None:
        resources = tuple(t.text for t in statement.resources)
        resource_words = _join([_describe_resource(r) for r in resources])
    elif statement.not_resources is not None:
        resources = tuple("NotResource:" + t.text for t in statement.not_resources)
        resource_words = "every resource except " + _join([t.text for t in statement.not_resources])
    else:
        resources = ("(the resource the policy is attached to)",)
        resource_words = "the resource the policy is attached to"
    return actions, resources, action_words, resource_words


def _used_words(pairs, limit=8):
    shown = [f"{action} on {resource}" for action, resource in pairs[:limit]]
    if len(pairs) > limit:
        shown.append(f"{len(pairs) - limit} more")
    return _join(shown)


def unused_grants(policy_documents, used):
    """What these policies allowed that the used pairs never needed, in a learner's words.

    ``policy_documents`` takes what :func:`~lambdalab_ext.iam.evaluator.evaluate` takes for
    ``identity_policies``. For every ``Allow`` statement it reports: a statement nothing used
    (``kind="unused"``); a statement with wildcards or ``NotAction``/``NotResource`` that covered
    only some used pairs (``kind="broader"``); exact actions of a used statement never called
    (``kind="unused-actions"``) and exact resources never touched (``kind="unused-resources"``). Conditions and policy variables are not evaluated here (they
    depend on each request), so a statement is judged by its actions and resources alone.
    """
    pairs = _pairs(used)
    report = []
    for policy in policies_from(policy_documents, "identity", "policy"):
        for statement in policy.statements:
            if statement.effect != "Allow":
                continue
            actions, resources, action_words, resource_words = _granted(statement)
            covered = tuple(
                (a, r) for a, r in pairs if statement.matches_action(a) and statement.matches_resource(r)
            )
            where = f'{IDENTITY_BASED} "{policy.name}" {statement.label}'
            if not covered:
                message = f"{where} allows {action_words} on {resource_words}, but the function never used any of it."
                report.append(UnusedGrant(IDENTITY_BASED, policy.name, statement, "unused", actions, resources, (), message))
                continue
            # "*" on an action that takes no resource (the request's resource is "*") is exact.
            takes_no_resource = all(r == "*" for _, r in covered)
            broad = (
                statement.actions is None
                or statement.resources is None
                or any(_WILDCARD.search(a) for a in actions)
                or any(_WILDCARD.search(r) and not (r == "*" and takes_no_resource) for r in resources)
            )
            if broad:
                message = f"{where} allows {action_words} on {resource_words}; the function used only {_used_words(list(covered))}."
                report.append(UnusedGrant(IDENTITY_BASED, policy.name, statement, "broader", actions, resources, covered, message))
                continue
            used_actions = {a.lower() for a, _ in covered}
            idle = [a for a in actions if a.lower() not in used_actions]
            if idle:
                message = (
                    f"{where} allows {_join(idle)}, which the function never called "
                    f"(it used {_join(sorted({a for a, _ in covered}))})."
                )
                report.append(UnusedGrant(IDENTITY_BASED, policy.name, statement, "unused-actions", tuple(idle), resources, covered, message))
            used_resources = {r for _, r in covered}
            idle_resources = [r for r in resources if r not in used_resources]
            if idle_resources:
                message = f"{where} allows access to {_join(idle_resources)}, which the function never touched."
                report.append(
                    UnusedGrant(IDENTITY_BASED, policy.name, statement, "unused-resources", actions, tuple(idle_resources), covered, message)
                )
    return report

"""Least privilege from use and AWS managed policies (pure, fast): the proposed policy allows every
used pair and nothing it was not asked for, and a broad policy's unneeded grants are named.
"""

import doctest

import pytest

from lambdalab_ext.iam import least_privilege, managed
from lambdalab_ext.iam.actions import authorization_for
from lambdalab_ext.iam.evaluator import AuthorizationRequest, evaluate
from lambdalab_ext.iam.least_privilege import not_allowed, propose_policy, unused_grants
from lambdalab_ext.iam.managed import (LAMBDA_TRUST_POLICY, MANAGED_POLICIES, NoSuchEntity, lambda_trust_policy,
                                       managed_policy, managed_policy_arn)
from lambdalab_ext.iam.policy import parse_policy

ACCOUNT = "123456789012"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/orders-role/orders"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders"


def test_doctests():
    assert doctest.testmod(least_privilege, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
    assert doctest.testmod(managed).failed == 0


def calls():
    """What an orders function did, as the lab would record it: its calls' required permissions."""
    used = []
    for service, operation, params in [
        ("dynamodb", "PutItem", {"TableName": "Orders", "Item": {}}),
        ("dynamodb", "GetItem", {"TableName": "Orders", "Key": {}}),
        ("s3", "GetObject", {"Bucket": "orders-bucket", "Key": "templates/receipt.html"}),
        ("s3", "PutObject", {"Bucket": "orders-bucket", "Key": "receipts/1.pdf"}),
        ("s3", "PutObject", {"Bucket": "orders-bucket", "Key": "receipts/2.pdf"}),
        ("sqs", "SendMessage", {"QueueUrl": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/shipping"}),
        ("sts", "GetCallerIdentity", {}),
        ("xray", "PutTraceSegments", {}),
        ("logs", "PutLogEvents", {"logGroupName": "/aws/lambda/orders", "logStreamName": "s"}),
        ("dynamodb", "PutItem", {"TableName": "Orders", "Item": {}}),
    ]:
        used.extend(authorization_for(service, operation, params, "us-east-1", ACCOUNT))
    return used


# --- Proposing the smallest policy -----------------------------------------------------------------------


def test_the_proposal_groups_resources_by_action_set_exactly_and_deterministically():
    document = propose_policy(calls())
    assert document == {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowDynamodb", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": TABLE},
        {"Sid": "AllowLogs", "Effect": "Allow", "Action": "logs:PutLogEvents",
         "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/orders:log-stream:s"},
        {"Sid": "AllowS3", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::orders-bucket/templates/receipt.html"},
        {"Sid": "AllowS32", "Effect": "Allow", "Action": "s3:PutObject",
         "Resource": ["arn:aws:s3:::orders-bucket/receipts/1.pdf", "arn:aws:s3:::orders-bucket/receipts/2.pdf"]},
        {"Sid": "AllowSqs", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:shipping"},
        {"Sid": "AllowXray", "Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"},
    ]}
    assert propose_policy(list(reversed(calls()))) == document
    parse_policy(document)  # a valid identity-based policy


def test_the_proposal_allows_every_used_pair_and_nothing_else_asked_about():
    used = calls()
    document = propose_policy(used)
    assert not_allowed(document, used) == []
    others = [("dynamodb:DeleteItem", TABLE), ("s3:GetObject", "arn:aws:s3:::orders-bucket/receipts/1.pdf"),
              ("s3:PutObject", "arn:aws:s3:::orders-bucket/receipts/3.pdf"), ("sqs:ReceiveMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:shipping")]
    assert not_allowed(document, others) == sorted(others)
    for action, resource in used:
        assert evaluate(AuthorizationRequest(SESSION, action, resource), {"proposed": document}).allowed


def test_with_wildcards_siblings_collapse_to_their_parent():
    document = propose_policy(calls(), wildcards=True)
    puts = next(s for s in document["Statement"] if s["Action"] == "s3:PutObject")
    assert puts["Resource"] == "arn:aws:s3:::orders-bucket/receipts/*"
    gets = next(s for s in document["Statement"] if s["Action"] == "s3:GetObject")
    assert gets["Resource"] == "arn:aws:s3:::orders-bucket/templates/receipt.html"  # one resource stays exact
    assert not_allowed(document, calls()) == []
    assert not_allowed(document, [("s3:PutObject", "arn:aws:s3:::orders-bucket/receipts/3.pdf")]) == []


def test_an_empty_use_proposes_nothing_and_not_allowed_checks_cross_account_resources_in_their_account():
    assert propose_policy([]) == {"Version": "2012-10-17", "Statement": []}
    queue = "arn:aws:sqs:us-east-1:999999999999:other"
    assert not_allowed(propose_policy([("sqs:SendMessage", queue)]), [("sqs:SendMessage", queue)]) == []


# --- What a broad policy allowed that was never used ----------------------------------------------------------


def test_administrator_access_allowed_everything():
    used = [("s3:GetObject", "arn:aws:s3:::orders-bucket/k")]
    [grant] = unused_grants({"AdministratorAccess": managed_policy("AdministratorAccess")}, used)
    assert grant.kind == "broader" and grant.used == (("s3:GetObject", "arn:aws:s3:::orders-bucket/k"),)
    assert str(grant) == ('identity-based policy "AdministratorAccess" Statement[0] allows every action of every AWS '
                          'service ("*") on every resource ("*"); the function used only s3:GetObject on '
                          "arn:aws:s3:::orders-bucket/k.")


def test_s3_star_on_star_and_an_unused_statement():
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "S3", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Sid": "Queue", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"},
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]}
    s3, queue = unused_grants({"app": policy}, [("s3:GetObject", "arn:aws:s3:::b/key")])
    assert s3.kind == "broader"
    assert 'allows every S3 action ("s3:*") on every resource ("*"); the function used only s3:GetObject on arn:aws:s3:::b/key.' in s3.message
    assert queue.kind == "unused"
    assert queue.message == ('identity-based policy "app" Statement[1] (Sid "Queue") allows sqs:SendMessage on '
                             f"arn:aws:sqs:us-east-1:{ACCOUNT}:q, but the function never used any of it.")


def test_unused_actions_and_resources_of_an_exact_statement():
    basic = {"AWSLambdaBasicExecutionRole": managed_policy("AWSLambdaBasicExecutionRole")}
    used = [("logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/f:log-stream:s")]
    [grant] = unused_grants(basic, used)
    assert grant.kind == "broader"  # Resource "*"
    exact = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                                                    "Resource": [TABLE, f"{TABLE}-archive"]}]}
    actions, resources = unused_grants({"orders": exact}, [("dynamodb:PutItem", TABLE)])
    assert (actions.kind, actions.granted_actions) == ("unused-actions", ("dynamodb:GetItem",))
    assert "dynamodb:GetItem, which the function never called (it used dynamodb:PutItem)" in actions.message
    assert (resources.kind, resources.granted_resources) == ("unused-resources", (f"{TABLE}-archive",))
    # A policy that is exactly what was used reports nothing.
    assert unused_grants({"proposed": propose_policy(calls())}, calls()) == []


def test_not_action_grants_are_described():
    power = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}]}
    [grant] = unused_grants({"PowerUser": power}, [("s3:GetObject", "arn:aws:s3:::b/k")])
    assert "allows every action except iam:* and organizations:* on every resource" in grant.message


# --- AWS managed policies and the Lambda trust policy -------------------------------------------------------------
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html (and siblings)


def test_managed_policies_are_valid_and_copied():
    for name, entry in MANAGED_POLICIES.items():
        parse_policy(entry.document, name=name)
        assert entry.source.startswith("https://docs.aws.amazon.com/")
    document = managed_policy("AWSLambdaBasicExecutionRole")
    document["Statement"].clear()
    assert managed_policy("AWSLambdaBasicExecutionRole")["Statement"]


def test_basic_execution_role_allows_logs_only():
    # Lambda's console default role: logs:CreateLogGroup, CreateLogStream, PutLogEvents on "*".
    basic = {"AWSLambdaBasicExecutionRole": managed_policy("AWSLambdaBasicExecutionRole")}
    group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/orders"
    for action, resource in [("logs:CreateLogGroup", group), ("logs:CreateLogStream", f"{group}:log-stream:s"),
                             ("logs:PutLogEvents", f"{group}:log-stream:s")]:
        assert evaluate(AuthorizationRequest(SESSION, action, resource), basic).allowed
    assert evaluate(AuthorizationRequest(SESSION, "dynamodb:PutItem", TABLE), basic).decision == "ImplicitDeny"


def test_the_stream_and_xray_policies():
    dynamodb = {"p": managed_policy("AWSLambdaDynamoDBExecutionRole")}
    stream = f"{TABLE}/stream/2024-01-01T00:00:00.000"
    assert evaluate(AuthorizationRequest(SESSION, "dynamodb:GetRecords", stream), dynamodb).allowed
    assert not evaluate(AuthorizationRequest(SESSION, "dynamodb:PutItem", TABLE), dynamodb).allowed
    kinesis = {"p": managed_policy("AWSLambdaKinesisExecutionRole")}
    assert evaluate(AuthorizationRequest(SESSION, "kinesis:SubscribeToShard", f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s/consumer/c:1"), kinesis).allowed
    xray = {"p": managed_policy("AWSXRayDaemonWriteAccess")}
    assert evaluate(AuthorizationRequest(SESSION, "xray:PutTraceSegments", "*"), xray).allowed
    assert evaluate(AuthorizationRequest(SESSION, "s3:GetObject", "arn:aws:s3:::b/k"), {"p": managed_policy("AmazonS3ReadOnlyAccess")}).allowed
    assert not evaluate(AuthorizationRequest(SESSION, "s3:PutObject", "arn:aws:s3:::b/k"), {"p": managed_policy("AmazonS3ReadOnlyAccess")}).allowed
    vpc = {"p": managed_policy("AWSLambdaVPCAccessExecutionRole")}
    assert evaluate(AuthorizationRequest(SESSION, "ec2:CreateNetworkInterface", "*"), vpc).statements[0].sid == "AWSLambdaVPCAccessExecutionPermissions"


def test_managed_policy_lookup_by_name_and_arn_and_the_iam_error():
    arn = managed_policy_arn("AWSLambdaBasicExecutionRole")
    assert arn == "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    assert managed_policy(arn) == managed_policy("AWSLambdaBasicExecutionRole")
    assert managed_policy_arn("AdministratorAccess") == "arn:aws:iam::aws:policy/AdministratorAccess"
    with pytest.raises(NoSuchEntity) as error:
        managed_policy("AmazonS3FullAcess")
    assert error.value.message == "Policy arn:aws:iam::aws:policy/AmazonS3FullAcess does not exist or is not attachable."


def test_the_lambda_trust_policy_lets_lambda_assume_the_role():
    # https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html
    trust = lambda_trust_policy()
    assert trust == LAMBDA_TRUST_POLICY and trust is not LAMBDA_TRUST_POLICY
    role = f"arn:aws:iam::{ACCOUNT}:role/orders-role"
    lambda_assumes = AuthorizationRequest("lambda.amazonaws.com", "sts:AssumeRole", role)
    assert evaluate(lambda_assumes, resource_policy=trust).allowed
    ec2_assumes = AuthorizationRequest("ec2.amazonaws.com", "sts:AssumeRole", role)
    assert evaluate(ec2_assumes, resource_policy=trust).decision == "ImplicitDeny"

"""AWS managed policies a Lambda learner meets, with their real documents, and Lambda's trust policy.

Each document is copied from its page in the AWS Managed Policy Reference (URL above each), at the
version named there. Only documents read on those pages are here. Not included, because their
documents could not be verified from the reference when this was written:
``AWSLambdaSQSQueueExecutionRole``, ``AmazonS3FullAccess``, ``AmazonDynamoDBFullAccess``.

>>> managed_policy("AWSLambdaBasicExecutionRole")["Statement"][0]["Action"]
['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents']
>>> managed_policy_arn("AWSLambdaBasicExecutionRole")
'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

__all__ = [
    "ManagedPolicy",
    "MANAGED_POLICIES",
    "NoSuchEntity",
    "managed_policy",
    "managed_policy_arn",
    "LAMBDA_TRUST_POLICY",
    "lambda_trust_policy",
]


class NoSuchEntity(LookupError):
    """IAM's error for a policy ARN that names no attachable policy."""

    code = "NoSuchEntity"

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ManagedPolicy:
    name: str
    arn: str
    version: str
    document: dict
    source: str


_ENTRIES = []

# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html
_ENTRIES.append(
    ManagedPolicy(
        "AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "v1",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": "*",
                }
            ],
        },
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html",
    )
)

# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaDynamoDBExecutionRole.html
_ENTRIES.append(
    ManagedPolicy(
        "AWSLambdaDynamoDBExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
        "v1",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "dynamodb:DescribeStream",
                        "dynamodb:GetRecords",
                        "dynamodb:GetShardIterator",
                        "dynamodb:ListStreams",
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                    ],
                    "Resource": "*",
                }
            ],
        },
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaDynamoDBExecutionRole.html",
    )
)

# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaKinesisExecutionRole.html
_ENTRIES.append(
    ManagedPolicy(
        "AWSLambdaKinesisExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",
        "v2",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "kinesis:DescribeStream",
                        "kinesis:DescribeStreamSummary",
                        "kinesis:GetRecords",
                        "kinesis:GetShardIterator",
                        "kinesis:ListShards",
                        "kinesis:ListStreams",
                        "kinesis:SubscribeToShard",
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                    ],
                    "Resource": "*",
                }
            ],
        },
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaKinesisExecutionRole.html",
    )
)

# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaVPCAccessExecutionRole.html
_ENTRIES.append(
    ManagedPolicy(
        "AWSLambdaVPCAccessExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        "v3",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AWSLambdaVPCAccessExecutionPermissions",
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    "Resource": "*",
                }
            ],
        },
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaVPCAccessExecutionRole.html",
    )
)

# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaRole.html
_ENTRIES.append(
    ManagedPolicy(
        "AWSLambdaRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
        "v1",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": ["*"]}],
        },
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaRole.html",
    )
)

# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSXRayDaemonWriteAccess.html
_ENTRIES.append(
    ManagedPolicy(
        "AWSXRayDaemonWriteAccess",
        "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
        "v2",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AWSXRayDaemonWriteAccess",
                    "Effect": "Allow",
                    "Action": [
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                        "xray:GetSamplingStatisticSummaries",
                    ],
                    "Resource": ["*"],
                }
            ],
        },
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSXRayDaemonWriteAccess.html",
    )
)

# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonS3ReadOnlyAccess.html
_ENTRIES.append(
    ManagedPolicy(
        "AmazonS3ReadOnlyAccess",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        "v3",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"],
                    "Resource": "*",
                }
            ],
        },
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonS3ReadOnlyAccess.html",
    )
)

# https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_job-functions.html
# The job-function page describes AdministratorAccess as "This policy grants all actions for all
# AWS services and for all resources in the account": Action "*" on Resource "*". (Its own page
# in the Managed Policy Reference could not be read here; the document is that description.)
_ENTRIES.append(
    ManagedPolicy(
        "AdministratorAccess",
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "v1",
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_job-functions.html",
    )
)

MANAGED_POLICIES = {entry.name: entry for entry in _ENTRIES}
_BY_ARN = {entry.arn: entry for entry in _ENTRIES}


def _entry(name_or_arn):
    entry = MANAGED_POLICIES.get(name_or_arn) or _BY_ARN.get(name_or_arn)
    if entry is None:
        arn = name_or_arn if name_or_arn.startswith("arn:") else f"arn:aws:iam::aws:policy/{name_or_arn}"
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
    return entry


def managed_policy(name_or_arn):
    """A copy of an AWS managed policy's document, by name or ARN.

    Raises :class:`NoSuchEntity` (IAM's error) for a policy this module does not hold.
    """
    return copy.deepcopy(_entry(name_or_arn).document)


def managed_policy_arn(name):
    """The ARN of an AWS managed policy (service-role policies live under ``service-role/``)."""
    return _entry(name).arn


# https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html
# "the role's trust policy must specify the Lambda service principal (lambda.amazonaws.com) as a
# trusted service"; the page's create-role example passes this document.
LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def lambda_trust_policy():
    """A copy of the trust policy that lets Lambda assume an execution role."""
    return copy.deepcopy(LAMBDA_TRUST_POLICY)

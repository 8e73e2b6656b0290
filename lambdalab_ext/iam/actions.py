"""From an API call to the IAM permissions it is authorized on.

An API operation is not an IAM action: ``ListObjectsV2`` is authorized as ``s3:ListBucket`` on the
bucket, ``Invoke`` as ``lambda:InvokeFunction`` on the function, ``BatchWriteItem`` as
``dynamodb:BatchWriteItem`` on each table it writes, ``CopyObject`` as ``s3:GetObject`` on the source
and ``s3:PutObject`` on the destination, ``sts:GetCallerIdentity`` needs no permission at all.
This pure table follows AWS's Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html)
and the services' own permission pages, e.g. the SQS one
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html).

``params`` are the operation's request parameters as botocore names them (``Bucket``, ``Key``,
``TableName``, ``QueueUrl``, ``FunctionName``; CloudWatch Logs' ``logGroupName``; Step
Functions' ``stateMachineArn``). Services are named as boto3 names them (``stepfunctions`` and
``states`` both work, ``dynamodbstreams`` maps to the ``dynamodb`` prefix).

What it cannot know from the parameters alone it asks ``resolve(kind, value)`` for, when given:

- ``("secret", name)``: a Secrets Manager secret's full ARN (real ARNs end in ``-`` and six random
  characters, which a name lacks); without it, ``...:secret:NAME``;
- ``("kms-alias", "alias/x")``: the key an alias points to (KMS authorizes on the key); without
  it, the alias ARN;
- ``("kms-ciphertext", blob)``: the key a symmetric ``Decrypt`` without ``KeyId`` uses; without
  it, ``*``;
- ``("kinesis-iterator", iterator)``: the stream of a ``GetRecords`` shard iterator; without it,
  ``*``.

An operation the table does not know maps to ``service:Operation`` on ``*``; a missing parameter
the table needs gives the action on ``*``. Some condition keys are added where they are cheap
(``s3:prefix``, ``s3:delimiter``, ``s3:max-keys``, ``dynamodb:Attributes``, ``kms:EncryptionContext:*``,
``cloudwatch:namespace``, ``events:source``, ``iam:PassedToService``...): read them from
``permission.context``. ``aws:SourceArn``/``aws:SourceAccount`` are not the operation's business:
the caller adds them to the request context when a service acts for a resource.

>>> authorization_for("s3", "ListObjectsV2", {"Bucket": "photos", "Prefix": "cats/"})
[('s3:ListBucket', 'arn:aws:s3:::photos')]
>>> authorization_for("s3", "ListObjectsV2", {"Bucket": "photos", "Prefix": "cats/"})[0].context
{'s3:prefix': 'cats/'}
>>> authorization_for("sts", "GetCallerIdentity", {})
[]
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlparse

__all__ = ["RequiredPermission", "authorization_for", "covered_operations", "iam_prefix"]


class RequiredPermission(tuple):
    """An ``(action, resource)`` pair, with the condition keys the call adds in ``.context``.

    It unpacks and compares as a plain 2-tuple.
    """

    def __new__(cls, action, resource, context=None):
        permission = super().__new__(cls, (action, resource))
        permission.context = dict(context or {})
        return permission

    @property
    def action(self):
        return self[0]

    @property
    def resource(self):
        return self[1]

    def __repr__(self):
        return tuple.__repr__(self)


_SERVICE_PREFIX = {
    "stepfunctions": "states",
    "sfn": "states",
    "dynamodbstreams": "dynamodb",
    "monitoring": "cloudwatch",
    "eventbridge": "events",
    "cloudwatchlogs": "logs",
}


def iam_prefix(service):
    """The IAM service prefix for a boto3 service name (``stepfunctions`` -> ``states``)."""
    name = service.lower()
    return _SERVICE_PREFIX.get(name, name)


class _Missing(KeyError):
    pass


class _Call:
    """What a handler needs: the parameters, where the call goes, and the resolver."""

    def __init__(self, params, region, account, resolve):
        self.params = params or {}
        self.region = region
        self.account = account
        self._resolve = resolve

    def need(self, key):
        value = self.params.get(key)
        if value in (None, ""):
            raise _Missing(key)
        return value

    def get(self, key, default=None):
        value = self.params.get(key)
        return default if value is None else value

    def resolve(self, kind, value):
        return self._resolve(kind, value) if self._resolve else None

    def arn(self, service, resource, region=True, account=True):
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account if account else ''}:{resource}"


# ---------------------------------------------------------------------------------------------
# S3: https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
# ---------------------------------------------------------------------------------------------


def _s3_bucket(name):
    return f"arn:aws:s3:::{name}"


def _s3_object(bucket, key):
    return f"arn:aws:s3:::{bucket}/{key}"


# operation -> (action, action when VersionId is given)
_S3_OBJECT = {
    "GetObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "HeadObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "SelectObjectContent": ("s3:GetObject", "s3:GetObject"),
    "PutObject": ("s3:PutObject", "s3:PutObject"),
    "CreateMultipartUpload": ("s3:PutObject", "s3:PutObject"),
    "UploadPart": ("s3:PutObject", "s3:PutObject"),
    "CompleteMultipartUpload": ("s3:PutObject", "s3:PutObject"),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", "s3:AbortMultipartUpload"),
    "ListParts": ("s3:ListMultipartUploadParts", "s3:ListMultipartUploadParts"),
    "DeleteObject": ("s3:DeleteObject", "s3:DeleteObjectVersion"),
    "GetObjectAcl": ("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    "PutObjectAcl": ("s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
    "GetObjectTagging": ("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    "PutObjectTagging": ("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
    "RestoreObject": ("s3:RestoreObject", "s3:RestoreObject"),
    "GetObjectRetention": ("s3:GetObjectRetention", "s3:GetObjectRetention"),
    "PutObjectRetention": ("s3:PutObjectRetention", "s3:PutObjectRetention"),
    "GetObjectLegalHold": ("s3:GetObjectLegalHold", "s3:GetObjectLegalHold"),
    "PutObjectLegalHold": ("s3:PutObjectLegalHold", "s3:PutObjectLegalHold"),
}

_S3_BUCKET = {
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "CreateBucket": "s3:CreateBucket",
    "DeleteBucket": "s3:DeleteBucket",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "GetBucketPolicyStatus": "s3:GetBucketPolicyStatus",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "GetBucketTagging": "s3:GetBucketTagging",
    "PutBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetBucketAcl": "s3:GetBucketAcl",
    "PutBucketAcl": "s3:PutBucketAcl",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetBucketWebsite": "s3:GetBucketWebsite",
    "PutBucketWebsite": "s3:PutBucketWebsite",
    "DeleteBucketWebsite": "s3:DeleteBucketWebsite",
    "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls",
    "PutBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
}


def _s3(operation, call):
    if operation == "ListBuckets":
        return [("s3:ListAllMyBuckets", "*")]
    if operation in _S3_OBJECT:
        plain, versioned = _S3_OBJECT[operation]
        version = call.get("VersionId")
        context = {}
        if version:
            context["s3:versionid"] = version
        if operation == "PutObject" or operation == "CreateMultipartUpload":
            if call.get("ACL"):
                context["s3:x-amz-acl"] = call.get("ACL")
            if call.get("ServerSideEncryption"):
                context["s3:x-amz-server-side-encryption"] = call.get("ServerSideEncryption")
        resource = _s3_object(call.need("Bucket"), call.need("Key"))
        permissions = [(versioned if version else plain, resource, context)]
        if operation in ("PutObject", "CreateMultipartUpload", "CopyObject"):
            # Setting an ACL or tags while writing needs those permissions too.
            if call.get("ACL") or any(call.get(k) for k in ("GrantRead", "GrantReadACP", "GrantWriteACP", "GrantFullControl")):
                permissions.append(("s3:PutObjectAcl", resource))
            if call.get("Tagging"):
                permissions.append(("s3:PutObjectTagging", resource))
        return permissions
    if operation == "GetObjectAttributes":
        resource = _s3_object(call.need("Bucket"), call.need("Key"))
        return [("s3:GetObject", resource), ("s3:GetObjectAttributes", resource)]
    if operation in ("CopyObject", "UploadPartCopy"):
        source_bucket, source_key, source_version = _copy_source(call.need("CopySource"))
        read = "s3:GetObjectVersion" if source_version else "s3:GetObject"
        return [
            (read, _s3_object(source_bucket, source_key)),
            ("s3:PutObject", _s3_object(call.need("Bucket"), call.need("Key"))),
        ]
    if operation == "DeleteObjects":
        bucket = call.need("Bucket")
        objects = (call.get("Delete") or {}).get("Objects") or []
        permissions = []
        for item in objects:
            action = "s3:DeleteObjectVersion" if item.get("VersionId") else "s3:DeleteObject"
            permissions.append((action, _s3_object(bucket, item["Key"])))
        return permissions or [("s3:DeleteObject", _s3_object(bucket, "*"))]
    if operation in _S3_BUCKET:
        context = {}
        if operation in ("ListObjects", "ListObjectsV2", "ListObjectVersions"):
            # The docs' home-directory example allows "" for a listing without a prefix.
            context["s3:prefix"] = call.get("Prefix") or ""
            if call.get("Delimiter") is not None:
                context["s3:delimiter"] = call.get("Delimiter")
            if call.get("MaxKeys") is not None:
                context["s3:max-keys"] = call.get("MaxKeys")
        return [(_S3_BUCKET[operation], _s3_bucket(call.need("Bucket")), context)]
    return None


def _copy_source(source):
    if isinstance(source, dict):
        return source["Bucket"], source["Key"], source.get("VersionId")
    text = unquote(str(source)).lstrip("/")
    version = None
    if "?versionId=" in text:
        text, version = text.split("?versionId=", 1)
    bucket, key = text.split("/", 1)
    return bucket, key, version


# ---------------------------------------------------------------------------------------------
# DynamoDB: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/api-permissions-reference.html
# ---------------------------------------------------------------------------------------------

_DYNAMODB_TABLE = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "DescribeTable",
    "CreateTable",
    "DeleteTable",
    "UpdateTable",
    "DescribeTimeToLive",
    "UpdateTimeToLive",
    "DescribeContinuousBackups",
    "UpdateContinuousBackups",
    "CreateBackup",
    "ListBackups",
}
_DYNAMODB_STREAM = {"DescribeStream", "GetRecords", "GetShardIterator"}
_PARTIQL = {"SELECT": "dynamodb:PartiQLSelect", "INSERT": "dynamodb:PartiQLInsert", "UPDATE": "dynamodb:PartiQLUpdate", "DELETE": "dynamodb:PartiQLDelete"}
_NAME = r'(?:"(?P<table>[^"]+)"|(?P<bare>[A-Za-z0-9_-]+))(?:\.(?:"(?P<index>[^"]+)"|(?P<bare_index>[A-Za-z0-9_-]+)))?'
_PARTIQL_TABLE = {
    "SELECT": re.compile(r"^\s*SELECT\b.*?\bFROM\s+" + _NAME, re.IGNORECASE | re.DOTALL),
    "INSERT": re.compile(r"^\s*INSERT\s+INTO\s+" + _NAME, re.IGNORECASE | re.DOTALL),
    "UPDATE": re.compile(r"^\s*UPDATE\s+" + _NAME, re.IGNORECASE | re.DOTALL),
    "DELETE": re.compile(r"^\s*DELETE\s+FROM\s+" + _NAME, re.IGNORECASE | re.DOTALL),
}


def _table(call, name):
    return name if name.startswith("arn:") else call.arn("dynamodb", f"table/{name}")


def _dynamodb(operation, call):
    if operation in ("ListTables", "DescribeLimits", "DescribeEndpoints", "ListStreams", "ListGlobalTables"):
        return [(f"dynamodb:{operation}", "*")]
    if operation in _DYNAMODB_TABLE:
        context = {}
        for key in ("Select", "ReturnValues", "ReturnConsumedCapacity"):
            if call.get(key):
                context[f"dynamodb:{key}"] = call.get(key)
        if operation == "PutItem" and isinstance(call.get("Item"), dict):
            context["dynamodb:Attributes"] = sorted(call.get("Item"))
        if call.get("AttributesToGet"):
            context["dynamodb:Attributes"] = list(call.get("AttributesToGet"))
        return [(f"dynamodb:{operation}", _table(call, call.need("TableName")), context)]
    if operation in ("Query", "Scan"):
        table = _table(call, call.need("TableName"))
        if call.get("IndexName"):
            table = f"{table}/index/{call.get('IndexName')}"
        context = {f"dynamodb:{k}": call.get(k) for k in ("Select", "ReturnConsumedCapacity") if call.get(k)}
        return [(f"dynamodb:{operation}", table, context)]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        tables = sorted(call.need("RequestItems"))
        return [(f"dynamodb:{operation}", _table(call, name)) for name in tables]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
        permissions = []
        for item in call.need("TransactItems"):
            for kind, body in item.items():
                permission = (f"dynamodb:{kinds[kind]}", _table(call, body["TableName"]))
                if permission not in permissions:
                    permissions.append(permission)
        return permissions
    if operation in _DYNAMODB_STREAM:
        return [(f"dynamodb:{operation}", call.need("StreamArn"))]
    if operation in ("TagResource", "UntagResource", "ListTagsOfResource"):
        return [(f"dynamodb:{operation}", call.need("ResourceArn"))]
    if operation == "ExecuteStatement":
        return _partiql(call, call.need("Statement"))
    if operation in ("BatchExecuteStatement", "ExecuteTransaction"):
        key = "Statements" if operation == "BatchExecuteStatement" else "TransactStatements"
        permissions = []
        for item in call.need(key):
            for permission in _partiql(call, item["Statement"]):
                if permission not in permissions:
                    permissions.append(permission)
        return permissions
    return None


def _partiql(call, statement):
    verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    match = _PARTIQL_TABLE[verb].match(statement) if verb in _PARTIQL_TABLE else None
    if not match:
        return [(_PARTIQL.get(verb, "dynamodb:PartiQLSelect"), "*")]
    table = _table(call, match["table"] or match["bare"])
    index = match["index"] or match["bare_index"]
    if index:
        table = f"{table}/index/{index}"
    return [(_PARTIQL[verb], table)]


# ---------------------------------------------------------------------------------------------
# SQS: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html
# ---------------------------------------------------------------------------------------------

_SQS_QUEUE = {
    "SendMessage": "sqs:SendMessage",
    "SendMessageBatch": "sqs:SendMessage",
    "ReceiveMessage": "sqs:ReceiveMessage",
    "DeleteMessage": "sqs:DeleteMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "GetQueueAttributes": "sqs:GetQueueAttributes",
    "SetQueueAttributes": "sqs:SetQueueAttributes",
    "DeleteQueue": "sqs:DeleteQueue",
    "PurgeQueue": "sqs:PurgeQueue",
    "ListQueueTags": "sqs:ListQueueTags",
    "TagQueue": "sqs:TagQueue",
    "UntagQueue": "sqs:UntagQueue",
    "AddPermission": "sqs:AddPermission",
    "RemovePermission": "sqs:RemovePermission",
    "ListDeadLetterSourceQueues": "sqs:ListDeadLetterSourceQueues",
}
_SQS_HOST_REGION = re.compile(r"^sqs\.(?P<region>[a-z0-9-]+)\.amazonaws\.com")


def queue_arn(queue_url, region, account=None):
    """The ARN of a queue from its URL (``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME``, or the
    lab's ``http://localhost:PORT/ACCOUNT/NAME``).

    >>> queue_arn("https://sqs.eu-west-1.amazonaws.com/123456789012/orders", "us-east-1")
    'arn:aws:sqs:eu-west-1:123456789012:orders'
    """
    parsed = urlparse(queue_url)
    path = [part for part in parsed.path.split("/") if part]
    if len(path) < 2:
        raise _Missing("QueueUrl")
    owner, name = path[-2], path[-1]
    host = _SQS_HOST_REGION.match(parsed.hostname or "")
    return f"arn:aws:sqs:{host['region'] if host else region}:{owner or account}:{name}"


def _sqs(operation, call):
    if operation == "ListQueues":
        return [("sqs:ListQueues", "*")]
    if operation in _SQS_QUEUE:
        return [(_SQS_QUEUE[operation], queue_arn(call.need("QueueUrl"), call.region, call.account))]
    if operation == "CreateQueue":
        return [("sqs:CreateQueue", call.arn("sqs", call.need("QueueName")))]
    if operation == "GetQueueUrl":
        owner = call.get("QueueOwnerAWSAccountId") or call.account
        return [("sqs:GetQueueUrl", f"arn:aws:sqs:{call.region}:{owner}:{call.need('QueueName')}")]
    if operation in ("StartMessageMoveTask", "CancelMessageMoveTask", "ListMessageMoveTasks"):
        return [(f"sqs:{operation}", call.get("SourceArn") or "*")]
    return None


# ---------------------------------------------------------------------------------------------
# SNS: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html
# ---------------------------------------------------------------------------------------------

_SNS_TOPIC = {
    "DeleteTopic",
    "GetTopicAttributes",
    "SetTopicAttributes",
    "ListSubscriptionsByTopic",
    "AddPermission",
    "RemovePermission",
    "ConfirmSubscription",
    "GetDataProtectionPolicy",
    "PutDataProtectionPolicy",
}


def _topic_of_subscription(arn):
    # arn:aws:sns:REGION:ACCOUNT:TOPIC:SUBSCRIPTION-ID -> the topic's ARN
    parts = arn.split(":")
    return ":".join(parts[:6]) if len(parts) >= 7 else "*"


def _sns(operation, call):
    if operation in ("ListTopics", "ListSubscriptions", "CreatePlatformApplication", "ListPlatformApplications", "CheckIfPhoneNumberIsOptedOut", "GetSMSAttributes", "SetSMSAttributes"):
        return [(f"sns:{operation}", "*")]
    if operation in ("Publish", "PublishBatch"):
        target = call.get("TopicArn") or call.get("TargetArn")
        if not target and call.get("PhoneNumber"):
            return [("sns:Publish", "*")]
        if not target:
            raise _Missing("TopicArn")
        return [("sns:Publish", target)]
    if operation == "Subscribe":
        context = {}
        if call.get("Protocol"):
            context["sns:Protocol"] = call.get("Protocol")
        if call.get("Endpoint"):
            context["sns:Endpoint"] = call.get("Endpoint")
        return [("sns:Subscribe", call.need("TopicArn"), context)]
    if operation == "Unsubscribe":
        return [("sns:Unsubscribe", _topic_of_subscription(call.need("SubscriptionArn")))]
    if operation in ("GetSubscriptionAttributes", "SetSubscriptionAttributes"):
        return [(f"sns:{operation}", _topic_of_subscription(call.need("SubscriptionArn")))]
    if operation == "CreateTopic":
        return [("sns:CreateTopic", call.arn("sns", call.need("Name")))]
    if operation in _SNS_TOPIC:
        return [(f"sns:{operation}", call.need("TopicArn"))]
    if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
        return [(f"sns:{operation}", call.need("ResourceArn"))]
    return None


# ---------------------------------------------------------------------------------------------
# Lambda: https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html
# ---------------------------------------------------------------------------------------------

_FUNCTION_NAME = re.compile(
    r"^(?:arn:(?P<p>[^:]+):lambda:(?P<region>[a-z0-9-]+):)?(?:(?P<account>\d{12}):)?(?:function:)?"
    r"(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$"
)


def function_arn(function_name, region, account, qualifier=None):
    """A function's ARN from any form ``FunctionName`` takes (name, ``name:alias``, partial or full
    ARN), qualified when a qualifier is given.

    >>> function_arn("orders:live", "us-east-1", "123456789012")
    'arn:aws:lambda:us-east-1:123456789012:function:orders:live'
    >>> function_arn("123456789012:function:orders", "eu-west-1", "999999999999")
    'arn:aws:lambda:eu-west-1:123456789012:function:orders'
    """
    match = _FUNCTION_NAME.match(function_name)
    if not match:
        return f"arn:aws:lambda:{region}:{account}:function:{function_name}"
    arn = f"arn:aws:lambda:{match['region'] or region}:{match['account'] or account}:function:{match['name']}"
    qualifier = qualifier or match["qualifier"]
    return f"{arn}:{qualifier}" if qualifier else arn


_LAMBDA_FUNCTION = {
    "Invoke": "lambda:InvokeFunction",
    "InvokeAsync": "lambda:InvokeFunction",
    "InvokeWithResponseStream": "lambda:InvokeFunction",
    "GetFunction": "lambda:GetFunction",
    "GetFunctionConfiguration": "lambda:GetFunctionConfiguration",
    "DeleteFunction": "lambda:DeleteFunction",
    "UpdateFunctionCode": "lambda:UpdateFunctionCode",
    "PublishVersion": "lambda:PublishVersion",
    "ListVersionsByFunction": "lambda:ListVersionsByFunction",
    "CreateAlias": "lambda:CreateAlias",
    "GetAlias": "lambda:GetAlias",
    "UpdateAlias": "lambda:UpdateAlias",
    "DeleteAlias": "lambda:DeleteAlias",
    "ListAliases": "lambda:ListAliases",
    "AddPermission": "lambda:AddPermission",
    "RemovePermission": "lambda:RemovePermission",
    "GetPolicy": "lambda:GetPolicy",
    "PutFunctionConcurrency": "lambda:PutFunctionConcurrency",
    "DeleteFunctionConcurrency": "lambda:DeleteFunctionConcurrency",
    "GetFunctionConcurrency": "lambda:GetFunctionConcurrency",
    "PutProvisionedConcurrencyConfig": "lambda:PutProvisionedConcurrencyConfig",
    "GetProvisionedConcurrencyConfig": "lambda:GetProvisionedConcurrencyConfig",
    "PutFunctionEventInvokeConfig": "lambda:PutFunctionEventInvokeConfig",
    "GetFunctionEventInvokeConfig": "lambda:GetFunctionEventInvokeConfig",
    "UpdateFunctionEventInvokeConfig": "lambda:UpdateFunctionEventInvokeConfig",
    "DeleteFunctionEventInvokeConfig": "lambda:DeleteFunctionEventInvokeConfig",
    "CreateFunctionUrlConfig": "lambda:CreateFunctionUrlConfig",
    "GetFunctionUrlConfig": "lambda:GetFunctionUrlConfig",
    "UpdateFunctionUrlConfig": "lambda:UpdateFunctionUrlConfig",
    "DeleteFunctionUrlConfig": "lambda:DeleteFunctionUrlConfig",
    "PutFunctionRecursionConfig": "lambda:PutFunctionRecursionConfig",
    "GetFunctionRecursionConfig": "lambda:GetFunctionRecursionConfig",
}
_LAMBDA_UNQUALIFIED = {"PublishVersion", "ListVersionsByFunction", "CreateAlias", "ListAliases", "DeleteFunctionConcurrency", "PutFunctionConcurrency", "GetFunctionConcurrency"}


def _lambda(operation, call):
    if operation in ("ListFunctions", "GetAccountSettings", "ListEventSourceMappings", "ListLayers"):
        return [(f"lambda:{operation}", "*")]
    if operation in _LAMBDA_FUNCTION:
        qualifier = None if operation in _LAMBDA_UNQUALIFIED else call.get("Qualifier")
        if operation in ("GetAlias", "UpdateAlias", "DeleteAlias") and call.get("Name"):
            qualifier = call.get("Name")
        arn = function_arn(call.need("FunctionName"), call.region, call.account, qualifier)
        context = {}
        if operation == "AddPermission" and call.get("Principal"):
            context["lambda:Principal"] = call.get("Principal")
        return [(_LAMBDA_FUNCTION[operation], arn, context)]
    if operation in ("CreateFunction", "UpdateFunctionConfiguration"):
        arn = function_arn(call.need("FunctionName"), call.region, call.account)
        permissions = [(f"lambda:{operation}", arn)]
        if call.get("Role"):
            permissions.append(("iam:PassRole", call.get("Role"), {"iam:PassedToService": "lambda.amazonaws.com"}))
        return permissions
    if operation == "CreateEventSourceMapping":
        arn = function_arn(call.need("FunctionName"), call.region, call.account)
        return [("lambda:CreateEventSourceMapping", "*", {"lambda:FunctionArn": arn})]
    if operation in ("GetEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping"):
        return [(f"lambda:{operation}", call.arn("lambda", f"event-source-mapping:{call.need('UUID')}"))]
    if operation in ("TagResource", "UntagResource", "ListTags"):
        return [(f"lambda:{operation}", call.need("Resource"))]
    if operation == "PublishLayerVersion":
        return [("lambda:PublishLayerVersion", call.arn("lambda", f"layer:{call.need('LayerName')}"))]
    if operation in ("GetLayerVersion", "DeleteLayerVersion"):
        name = call.need("LayerName")
        layer = name if name.startswith("arn:") else call.arn("lambda", f"layer:{name}")
        return [(f"lambda:{operation}", f"{layer}:{call.need('VersionNumber')}")]
    return None


# ---------------------------------------------------------------------------------------------
# Secrets Manager: https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html
# ---------------------------------------------------------------------------------------------

_SECRET_OPS = {
    "GetSecretValue",
    "DescribeSecret",
    "PutSecretValue",
    "UpdateSecret",
    "DeleteSecret",
    "RestoreSecret",
    "RotateSecret",
    "CancelRotateSecret",
    "ListSecretVersionIds",
    "GetResourcePolicy",
    "PutResourcePolicy",
    "DeleteResourcePolicy",
    "ValidateResourcePolicy",
    "TagResource",
    "UntagResource",
    "UpdateSecretVersionStage",
    "ReplicateSecretToRegions",
}


def _secret(call, secret_id):
    if secret_id.startswith("arn:"):
        return secret_id
    return call.resolve("secret", secret_id) or call.arn("secretsmanager", f"secret:{secret_id}")


def _secretsmanager(operation, call):
    if operation in ("ListSecrets", "GetRandomPassword"):
        return [(f"secretsmanager:{operation}", "*")]
    if operation in _SECRET_OPS:
        context = {}
        if operation == "GetSecretValue":
            if call.get("VersionStage"):
                context["secretsmanager:VersionStage"] = call.get("VersionStage")
            if call.get("VersionId"):
                context["secretsmanager:VersionId"] = call.get("VersionId")
        return [(f"secretsmanager:{operation}", _secret(call, call.need("SecretId")), context)]
    if operation == "CreateSecret":
        name = call.need("Name")
        return [("secretsmanager:CreateSecret", _secret(call, name), {"secretsmanager:Name": name})]
    if operation == "BatchGetSecretValue":
        permissions = [("secretsmanager:BatchGetSecretValue", "*")]
        for secret_id in call.get("SecretIdList") or []:
            permissions.append(("secretsmanager:GetSecretValue", _secret(call, secret_id)))
        return permissions
    return None


# ---------------------------------------------------------------------------------------------
# SSM Parameter Store: https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-access.html
# ---------------------------------------------------------------------------------------------


def parameter_arn(name, region, account):
    """A parameter's ARN: ``/app/db`` -> ``...:parameter/app/db``; ``db`` -> ``...:parameter/db``.
    A version or label selector (``/app/db:3``) is not part of the ARN.

    >>> parameter_arn("/app/db:3", "us-east-1", "123456789012")
    'arn:aws:ssm:us-east-1:123456789012:parameter/app/db'
    """
    if name.startswith("arn:"):
        return name
    name = name.split(":", 1)[0]
    return f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}"


_SSM_PARAMETER = {"GetParameter", "GetParameterHistory", "PutParameter", "DeleteParameter", "LabelParameterVersion", "UnlabelParameterVersion"}


def _ssm(operation, call):
    if operation == "DescribeParameters":
        return [("ssm:DescribeParameters", "*")]
    if operation in _SSM_PARAMETER:
        return [(f"ssm:{operation}", parameter_arn(call.need("Name"), call.region, call.account))]
    if operation in ("GetParameters", "DeleteParameters"):
        seen, permissions = set(), []
        for name in call.need("Names"):
            arn = parameter_arn(name, call.region, call.account)
            if arn not in seen:
                seen.add(arn)
                permissions.append((f"ssm:{operation}", arn))
        return permissions
    if operation == "GetParametersByPath":
        path = call.need("Path").rstrip("/") or "/"
        return [("ssm:GetParametersByPath", parameter_arn(path, call.region, call.account))]
    if operation in ("AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource"):
        if call.get("ResourceType") == "Parameter":
            return [(f"ssm:{operation}", parameter_arn(call.need("ResourceId"), call.region, call.account))]
        return [(f"ssm:{operation}", "*")]
    return None


# ---------------------------------------------------------------------------------------------
# KMS: https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html
# ---------------------------------------------------------------------------------------------

_KMS_KEY = {
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "Sign",
    "Verify",
    "GetPublicKey",
    "DescribeKey",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "GetKeyRotationStatus",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
    "CreateGrant",
    "ListGrants",
    "RevokeGrant",
    "UpdateKeyDescription",
    "ListKeyPolicies",
}


def _kms_key(call, key_id, context):
    """The key an id, key ARN, alias name or alias ARN designates."""
    if key_id.startswith("alias/") or ":alias/" in key_id:
        alias = key_id if key_id.startswith("alias/") else key_id.split(":", 5)[5]
        context["kms:RequestAlias"] = alias
        return call.resolve("kms-alias", alias) or (key_id if key_id.startswith("arn:") else call.arn("kms", alias))
    if key_id.startswith("arn:"):
        return key_id
    return call.arn("kms", f"key/{key_id}")


def _kms_context(call):
    context = {"kms:CallerAccount": call.account}
    encryption_context = call.get("EncryptionContext")
    if isinstance(encryption_context, dict) and encryption_context:
        for key, value in encryption_context.items():
            context[f"kms:EncryptionContext:{key}"] = value
        context["kms:EncryptionContextKeys"] = sorted(encryption_context)
    if call.get("EncryptionAlgorithm"):
        context["kms:EncryptionAlgorithm"] = call.get("EncryptionAlgorithm")
    return context


def _kms(operation, call):
    if operation in ("CreateKey", "ListKeys", "ListAliases", "GenerateRandom", "ConnectCustomKeyStore", "DescribeCustomKeyStores"):
        return [(f"kms:{operation}", "*")]
    if operation == "Decrypt" and not call.get("KeyId"):
        context = _kms_context(call)
        key = call.resolve("kms-ciphertext", call.get("CiphertextBlob")) or "*"
        return [("kms:Decrypt", key, context)]
    if operation in _KMS_KEY:
        context = _kms_context(call)
        return [(f"kms:{operation}", _kms_key(call, call.need("KeyId"), context), context)]
    if operation == "ReEncrypt":
        source_context = _kms_context(call)
        if call.get("SourceKeyId"):
            source = _kms_key(call, call.get("SourceKeyId"), source_context)
        else:
            source = call.resolve("kms-ciphertext", call.get("CiphertextBlob")) or "*"
        destination_context = {"kms:CallerAccount": call.account}
        destination = _kms_key(call, call.need("DestinationKeyId"), destination_context)
        return [("kms:ReEncryptFrom", source, source_context), ("kms:ReEncryptTo", destination, destination_context)]
    if operation in ("CreateAlias", "UpdateAlias"):
        alias = call.need("AliasName")
        context = {}
        key = _kms_key(call, call.need("TargetKeyId"), context)
        return [(f"kms:{operation}", call.arn("kms", alias)), (f"kms:{operation}", key)]
    if operation == "DeleteAlias":
        alias = call.need("AliasName")
        permissions = [("kms:DeleteAlias", call.arn("kms", alias))]
        key = call.resolve("kms-alias", alias)
        if key:
            permissions.append(("kms:DeleteAlias", key))
        return permissions
    return None


# ---------------------------------------------------------------------------------------------
# CloudWatch Logs: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/permissions-reference-cwl.html
# ---------------------------------------------------------------------------------------------


def _log_group(call, name=None):
    return call.arn("logs", f"log-group:{name or call.need('logGroupName')}")


def _group_name(call):
    identifier = call.get("logGroupIdentifier")
    if identifier:
        return identifier.split(":log-group:", 1)[1].removesuffix(":*") if ":log-group:" in identifier else identifier
    return call.need("logGroupName")


_LOGS_GROUP = {
    "CreateLogGroup",
    "DeleteLogGroup",
    "PutRetentionPolicy",
    "DeleteRetentionPolicy",
    "PutMetricFilter",
    "DeleteMetricFilter",
    "PutSubscriptionFilter",
    "DeleteSubscriptionFilter",
    "DescribeSubscriptionFilters",
    "FilterLogEvents",
    "DescribeLogStreams",
    "AssociateKmsKey",
    "DisassociateKmsKey",
    "TagLogGroup",
    "UntagLogGroup",
    "ListTagsLogGroup",
}


def _logs(operation, call):
    if operation in ("DescribeLogGroups", "DescribeMetricFilters"):
        return [(f"logs:{operation}", call.arn("logs", "log-group:*"))]
    if operation in ("GetQueryResults", "StopQuery", "DescribeQueries", "DescribeDestinations", "DescribeExportTasks"):
        return [(f"logs:{operation}", "*")]
    if operation in ("CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents"):
        group = _group_name(call)
        stream = call.need("logStreamName")
        return [(f"logs:{operation}", call.arn("logs", f"log-group:{group}:log-stream:{stream}"))]
    if operation in _LOGS_GROUP:
        return [(f"logs:{operation}", _log_group(call, _group_name(call)))]
    if operation in ("StartQuery", "StartLiveTail"):
        names = call.get("logGroupNames") or call.get("logGroupIdentifiers") or [call.get("logGroupName")]
        names = [n for n in names if n]
        if not names:
            raise _Missing("logGroupName")
        return [(f"logs:{operation}", n if n.startswith("arn:") else _log_group(call, n)) for n in names]
    if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
        return [(f"logs:{operation}", call.need("resourceArn"))]
    return None


# ---------------------------------------------------------------------------------------------
# CloudWatch (metrics and alarms): https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/permissions-reference-cw.html
# ---------------------------------------------------------------------------------------------


def _cloudwatch(operation, call):
    if operation == "PutMetricData":
        context = {"cloudwatch:namespace": call.get("Namespace")} if call.get("Namespace") else {}
        return [("cloudwatch:PutMetricData", "*", context)]
    if operation in ("GetMetricData", "GetMetricStatistics", "ListMetrics", "DescribeAlarmsForMetric", "ListDashboards", "GetMetricWidgetImage", "DescribeAnomalyDetectors"):
        return [(f"cloudwatch:{operation}", "*")]
    if operation in ("PutMetricAlarm", "PutCompositeAlarm", "SetAlarmState"):
        return [(f"cloudwatch:{operation}", call.arn("cloudwatch", f"alarm:{call.need('AlarmName')}"))]
    if operation in ("DeleteAlarms", "EnableAlarmActions", "DisableAlarmActions"):
        return [(f"cloudwatch:{operation}", call.arn("cloudwatch", f"alarm:{name}")) for name in call.need("AlarmNames")]
    if operation == "DescribeAlarms":
        names = call.get("AlarmNames") or []
        if names:
            return [("cloudwatch:DescribeAlarms", call.arn("cloudwatch", f"alarm:{name}")) for name in names]
        return [("cloudwatch:DescribeAlarms", call.arn("cloudwatch", "alarm:*"))]
    if operation == "DescribeAlarmHistory":
        name = call.get("AlarmName")
        return [("cloudwatch:DescribeAlarmHistory", call.arn("cloudwatch", f"alarm:{name}") if name else "*")]
    if operation in ("PutDashboard", "GetDashboard"):
        return [(f"cloudwatch:{operation}", call.arn("cloudwatch", f"dashboard/{call.need('DashboardName')}", region=False))]
    if operation == "DeleteDashboards":
        return [("cloudwatch:DeleteDashboards", call.arn("cloudwatch", f"dashboard/{n}", region=False)) for n in call.need("DashboardNames")]
    if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
        return [(f"cloudwatch:{operation}", call.need("ResourceARN"))]
    return None


# ---------------------------------------------------------------------------------------------
# EventBridge: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-permissions-reference.html
# ---------------------------------------------------------------------------------------------


def _event_bus(call, name):
    name = name or "default"
    return name if name.startswith("arn:") else call.arn("events", f"event-bus/{name}")


def _rule(call):
    name = call.need("Name") if "Name" in call.params else call.need("Rule")
    if name.startswith("arn:"):
        return name
    bus = call.get("EventBusName") or "default"
    if bus.startswith("arn:"):
        bus = bus.rsplit("/", 1)[-1]
    return call.arn("events", f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}")


def _events(operation, call):
    if operation == "PutEvents":
        by_bus = {}
        for entry in call.need("Entries"):
            bus = _event_bus(call, entry.get("EventBusName"))
            by_bus.setdefault(bus, []).append(entry)
        permissions = []
        for bus, entries in by_bus.items():
            context = {}
            sources = sorted({e["Source"] for e in entries if e.get("Source")})
            types = sorted({e["DetailType"] for e in entries if e.get("DetailType")})
            if sources:
                context["events:source"] = sources
            if types:
                context["events:detail-type"] = types
            permissions.append(("events:PutEvents", bus, context))
        return permissions
    if operation in ("PutRule", "DeleteRule", "DescribeRule", "EnableRule", "DisableRule", "PutTargets", "RemoveTargets", "ListTargetsByRule"):
        return [(f"events:{operation}", _rule(call))]
    if operation in ("CreateEventBus", "DeleteEventBus", "DescribeEventBus", "UpdateEventBus"):
        return [(f"events:{operation}", _event_bus(call, call.get("Name")))]
    if operation in ("PutPermission", "RemovePermission"):
        return [(f"events:{operation}", _event_bus(call, call.get("EventBusName")))]
    if operation in ("ListRules", "ListEventBuses", "TestEventPattern", "ListRuleNamesByTarget"):
        return [(f"events:{operation}", "*")]
    if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
        return [(f"events:{operation}", call.need("ResourceARN"))]
    return None


# ---------------------------------------------------------------------------------------------
# Kinesis Data Streams: https://docs.aws.amazon.com/streams/latest/dev/controlling-access.html
# ---------------------------------------------------------------------------------------------

_KINESIS_STREAM = {
    "PutRecord",
    "PutRecords",
    "GetShardIterator",
    "DescribeStream",
    "DescribeStreamSummary",
    "ListShards",
    "CreateStream",
    "DeleteStream",
    "AddTagsToStream",
    "RemoveTagsFromStream",
    "ListTagsForStream",
    "MergeShards",
    "SplitShard",
    "IncreaseStreamRetentionPeriod",
    "DecreaseStreamRetentionPeriod",
    "UpdateShardCount",
    "StartStreamEncryption",
    "StopStreamEncryption",
    "EnableEnhancedMonitoring",
    "DisableEnhancedMonitoring",
    "RegisterStreamConsumer",
    "ListStreamConsumers",
}


def _stream(call):
    arn = call.get("StreamARN")
    return arn or call.arn("kinesis", f"stream/{call.need('StreamName')}")


def _kinesis(operation, call):
    if operation in ("ListStreams", "DescribeLimits"):
        return [(f"kinesis:{operation}", "*")]
    if operation in _KINESIS_STREAM:
        return [(f"kinesis:{operation}", _stream(call))]
    if operation == "GetRecords":
        arn = call.get("StreamARN") or call.resolve("kinesis-iterator", call.get("ShardIterator")) or "*"
        return [("kinesis:GetRecords", arn)]
    if operation in ("SubscribeToShard", "DescribeStreamConsumer", "DeregisterStreamConsumer"):
        consumer = call.get("ConsumerARN")
        if not consumer:
            consumer = f"{_stream(call)}/consumer/{call.need('ConsumerName')}:*"
        return [(f"kinesis:{operation}", consumer)]
    return None


# ---------------------------------------------------------------------------------------------
# Step Functions: https://docs.aws.amazon.com/step-functions/latest/dg/concept-create-iam-advanced.html
# ---------------------------------------------------------------------------------------------

_STATES_MACHINE = {"StartExecution", "StartSyncExecution", "DescribeStateMachine", "DeleteStateMachine", "ListExecutions", "ListStateMachineVersions", "PublishStateMachineVersion"}
_STATES_EXECUTION = {"DescribeExecution", "StopExecution", "GetExecutionHistory", "DescribeStateMachineForExecution", "RedriveExecution"}


def _states(operation, call):
    if operation in ("ListStateMachines", "ListActivities", "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "ValidateStateMachineDefinition"):
        return [(f"states:{operation}", "*")]
    if operation in _STATES_MACHINE:
        return [(f"states:{operation}", call.need("stateMachineArn"))]
    if operation in _STATES_EXECUTION:
        return [(f"states:{operation}", call.need("executionArn"))]
    if operation in ("CreateStateMachine", "UpdateStateMachine"):
        if operation == "CreateStateMachine":
            arn = call.arn("states", f"stateMachine:{call.need('name')}")
        else:
            arn = call.need("stateMachineArn")
        permissions = [(f"states:{operation}", arn)]
        if call.get("roleArn"):
            permissions.append(("iam:PassRole", call.get("roleArn"), {"iam:PassedToService": "states.amazonaws.com"}))
        return permissions
    if operation == "CreateActivity":
        return [("states:CreateActivity", call.arn("states", f"activity:{call.need('name')}"))]
    if operation in ("GetActivityTask", "DescribeActivity", "DeleteActivity"):
        return [(f"states:{operation}", call.need("activityArn"))]
    if operation == "DescribeMapRun":
        return [("states:DescribeMapRun", call.need("mapRunArn"))]
    if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
        return [(f"states:{operation}", call.need("resourceArn"))]
    return None


# ---------------------------------------------------------------------------------------------
# X-Ray: its trace and sampling actions take no resource (the AWSXRayDaemonWriteAccess managed
# policy grants them on "*").
# ---------------------------------------------------------------------------------------------


def _xray(operation, call):
    return [(f"xray:{operation}", "*")]


# ---------------------------------------------------------------------------------------------
# STS: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html ("No
# permissions are required to perform this operation.")
# ---------------------------------------------------------------------------------------------


def _sts(operation, call):
    if operation in ("GetCallerIdentity", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"):
        return []  # GetCallerIdentity needs no permission; the others are unsigned (the trust policy decides)
    if operation == "AssumeRole":
        role = call.need("RoleArn")
        permissions = [("sts:AssumeRole", role)]
        if call.get("Tags"):
            permissions.append(("sts:TagSession", role))
        if call.get("SourceIdentity"):
            permissions.append(("sts:SetSourceIdentity", role))
        return permissions
    if operation == "GetFederationToken":
        return [("sts:GetFederationToken", f"arn:aws:sts::{call.account}:federated-user/{call.need('Name')}")]
    if operation in ("GetSessionToken", "GetAccessKeyInfo", "DecodeAuthorizationMessage"):
        return [(f"sts:{operation}", "*")]
    return None


_HANDLERS = {
    "s3": _s3,
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "sns": _sns,
    "lambda": _lambda,
    "secretsmanager": _secretsmanager,
    "ssm": _ssm,
    "kms": _kms,
    "logs": _logs,
    "cloudwatch": _cloudwatch,
    "events": _events,
    "kinesis": _kinesis,
    "states": _states,
    "xray": _xray,
    "sts": _sts,
}

_KNOWN = {
    "s3": set(_S3_OBJECT) | set(_S3_BUCKET) | {"ListBuckets", "GetObjectAttributes", "CopyObject", "UploadPartCopy", "DeleteObjects"},
    "dynamodb": _DYNAMODB_TABLE | _DYNAMODB_STREAM | {"ListTables", "DescribeLimits", "DescribeEndpoints", "ListStreams", "ListGlobalTables", "Query", "Scan", "BatchGetItem", "BatchWriteItem", "TransactWriteItems", "TransactGetItems", "TagResource", "UntagResource", "ListTagsOfResource", "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"},
    "sqs": set(_SQS_QUEUE) | {"ListQueues", "CreateQueue", "GetQueueUrl", "StartMessageMoveTask", "CancelMessageMoveTask", "ListMessageMoveTasks"},
    "sns": _SNS_TOPIC | {"ListTopics", "ListSubscriptions", "Publish", "PublishBatch", "Subscribe", "Unsubscribe", "GetSubscriptionAttributes", "SetSubscriptionAttributes", "CreateTopic", "TagResource", "UntagResource", "ListTagsForResource"},
    "lambda": set(_LAMBDA_FUNCTION) | {"ListFunctions", "GetAccountSettings", "ListEventSourceMappings", "ListLayers", "CreateFunction", "UpdateFunctionConfiguration", "CreateEventSourceMapping", "GetEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping", "TagResource", "UntagResource", "ListTags", "PublishLayerVersion", "GetLayerVersion", "DeleteLayerVersion"},
    "secretsmanager": _SECRET_OPS | {"ListSecrets", "GetRandomPassword", "CreateSecret", "BatchGetSecretValue"},
    "ssm": _SSM_PARAMETER | {"DescribeParameters", "GetParameters", "DeleteParameters", "GetParametersByPath", "AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource"},
    "kms": _KMS_KEY | {"CreateKey", "ListKeys", "ListAliases", "GenerateRandom", "ReEncrypt", "CreateAlias", "UpdateAlias", "DeleteAlias"},
    "logs": _LOGS_GROUP | {"DescribeLogGroups", "DescribeMetricFilters", "GetQueryResults", "StopQuery", "DescribeQueries", "CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents", "StartQuery", "StartLiveTail", "TagResource", "UntagResource", "ListTagsForResource"},
    "cloudwatch": {"PutMetricData", "GetMetricData", "GetMetricStatistics", "ListMetrics", "DescribeAlarmsForMetric", "ListDashboards", "PutMetricAlarm", "PutCompositeAlarm", "SetAlarmState", "DeleteAlarms", "EnableAlarmActions", "DisableAlarmActions", "DescribeAlarms", "DescribeAlarmHistory", "PutDashboard", "GetDashboard", "DeleteDashboards", "TagResource", "UntagResource", "ListTagsForResource"},
    "events": {"PutEvents", "PutRule", "DeleteRule", "DescribeRule", "EnableRule", "DisableRule", "PutTargets", "RemoveTargets", "ListTargetsByRule", "CreateEventBus", "DeleteEventBus", "DescribeEventBus", "PutPermission", "RemovePermission", "ListRules", "ListEventBuses", "TestEventPattern", "TagResource", "UntagResource", "ListTagsForResource"},
    "kinesis": _KINESIS_STREAM | {"ListStreams", "GetRecords", "SubscribeToShard", "DescribeStreamConsumer", "DeregisterStreamConsumer"},
    "states": _STATES_MACHINE | _STATES_EXECUTION | {"ListStateMachines", "ListActivities", "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "CreateStateMachine", "UpdateStateMachine", "CreateActivity", "GetActivityTask", "DescribeMapRun", "TagResource", "UntagResource", "ListTagsForResource"},
    "xray": {"PutTraceSegments", "PutTelemetryRecords", "GetSamplingRules", "GetSamplingTargets", "GetSamplingStatisticSummaries", "BatchGetTraces", "GetTraceSummaries", "GetServiceGraph", "GetTraceGraph"},
    "sts": {"GetCallerIdentity", "AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "GetFederationToken", "GetSessionToken", "GetAccessKeyInfo", "DecodeAuthorizationMessage"},
}


def covered_operations(service):
    """The operations of a service the table knows (sorted); others map to ``service:Operation`` on ``*``."""
    return sorted(_KNOWN.get(iam_prefix(service), ()))


def authorization_for(service, operation, params=None, region="us-east-1", account="123456789012", resolve=None):
    """The ``(action, resource)`` pairs an API call is authorized on, in the order AWS checks them.

    Each pair is a :class:`RequiredPermission` (a 2-tuple with ``.context``: the condition keys
    this call adds). Every pair must be allowed for the call to succeed.

    >>> authorization_for("lambda", "Invoke", {"FunctionName": "orders"}, "eu-west-1", "111122223333")
    [('lambda:InvokeFunction', 'arn:aws:lambda:eu-west-1:111122223333:function:orders')]
    >>> authorization_for("dynamodb", "BatchWriteItem", {"RequestItems": {"B": [], "A": []}})
    [('dynamodb:BatchWriteItem', 'arn:aws:dynamodb:us-east-1:123456789012:table/A'), ('dynamodb:BatchWriteItem', 'arn:aws:dynamodb:us-east-1:123456789012:table/B')]
    >>> authorization_for("textract", "AnalyzeDocument", {})
    [('textract:AnalyzeDocument', '*')]
    """
    prefix = iam_prefix(service)
    call = _Call(params, region, account, resolve)
    handler = _HANDLERS.get(prefix)
    result = None
    if handler is not None:
        try:
            result = handler(operation, call)
        except (_Missing, KeyError, TypeError, AttributeError, ValueError):
            # The call lacks what the table needs: the action still applies, on every resource.
            result = [(f"{prefix}:{_ACTION_OF.get((prefix, operation), operation)}", "*")]
    if result is None:
        result = [(f"{prefix}:{operation}", "*")]
    return [item if isinstance(item, RequiredPermission) else RequiredPermission(*item) for item in result]


# When a parameter is missing, the action an operation would have been authorized as.
_ACTION_OF = {("s3", op): action.split(":", 1)[1] for op, action in _S3_BUCKET.items()}
_ACTION_OF.update({("s3", op): pair[0].split(":", 1)[1] for op, pair in _S3_OBJECT.items()})
_ACTION_OF.update({("sqs", op): action.split(":", 1)[1] for op, action in _SQS_QUEUE.items()})
_ACTION_OF.update({("lambda", op): action.split(":", 1)[1] for op, action in _LAMBDA_FUNCTION.items()})
_ACTION_OF.update({("sns", "PublishBatch"): "Publish", ("s3", "CopyObject"): "PutObject", ("s3", "DeleteObjects"): "DeleteObject"})

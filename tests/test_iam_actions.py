"""From API operations to IAM actions and resource ARNs (pure, fast), for every service the lab's
functions call. Sources: the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html)
and each service's permissions page, named per group.
"""

import doctest

import pytest

from lambdalab_ext.iam import actions
from lambdalab_ext.iam.actions import RequiredPermission, authorization_for, covered_operations, iam_prefix

R, A = "us-east-1", "123456789012"


def auth(service, operation, params=None, **kwargs):
    return authorization_for(service, operation, params or {}, kwargs.pop("region", R), kwargs.pop("account", A), **kwargs)


def test_doctests():
    assert doctest.testmod(actions).failed == 0


def test_a_permission_is_a_pair_with_context():
    permission = RequiredPermission("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": ""})
    action, resource = permission
    assert (action, resource) == ("s3:ListBucket", "arn:aws:s3:::b") == permission
    assert permission.action == action and permission.resource == resource and permission.context == {"s3:prefix": ""}


def test_an_unknown_operation_is_its_own_action_on_everything():
    assert auth("textract", "AnalyzeDocument") == [("textract:AnalyzeDocument", "*")]
    assert auth("s3", "SomeFutureOperation") == [("s3:SomeFutureOperation", "*")]


def test_a_missing_parameter_gives_the_action_on_everything():
    assert auth("s3", "GetObject", {"Bucket": "b"}) == [("s3:GetObject", "*")]
    assert auth("sqs", "SendMessage", {}) == [("sqs:SendMessage", "*")]
    assert auth("lambda", "Invoke", {}) == [("lambda:InvokeFunction", "*")]


def test_service_names_map_to_iam_prefixes():
    assert iam_prefix("stepfunctions") == "states" and iam_prefix("dynamodbstreams") == "dynamodb"
    assert "StartExecution" in covered_operations("stepfunctions")
    for service in ("s3", "dynamodb", "sqs", "sns", "lambda", "secretsmanager", "ssm", "kms", "logs",
                    "cloudwatch", "events", "kinesis", "states", "xray", "sts"):
        assert len(covered_operations(service)) >= 5, service


# --- S3 --------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html


def test_s3_object_operations():
    assert auth("s3", "GetObject", {"Bucket": "photos", "Key": "cats/red.jpg"}) == [("s3:GetObject", "arn:aws:s3:::photos/cats/red.jpg")]
    assert auth("s3", "HeadObject", {"Bucket": "photos", "Key": "a"}) == [("s3:GetObject", "arn:aws:s3:::photos/a")]
    assert auth("s3", "PutObject", {"Bucket": "photos", "Key": "a"}) == [("s3:PutObject", "arn:aws:s3:::photos/a")]
    assert auth("s3", "DeleteObject", {"Bucket": "photos", "Key": "a"}) == [("s3:DeleteObject", "arn:aws:s3:::photos/a")]
    assert auth("s3", "UploadPart", {"Bucket": "b", "Key": "big"}) == [("s3:PutObject", "arn:aws:s3:::b/big")]
    assert auth("s3", "GetObjectTagging", {"Bucket": "b", "Key": "k"}) == [("s3:GetObjectTagging", "arn:aws:s3:::b/k")]


def test_s3_put_object_with_an_acl_or_tags_needs_those_permissions_too():
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html (Permissions)
    permissions = auth("s3", "PutObject", {"Bucket": "b", "Key": "k", "ACL": "public-read", "Tagging": "a=b"})
    assert permissions == [("s3:PutObject", "arn:aws:s3:::b/k"), ("s3:PutObjectAcl", "arn:aws:s3:::b/k"),
                           ("s3:PutObjectTagging", "arn:aws:s3:::b/k")]
    assert permissions[0].context == {"s3:x-amz-acl": "public-read"}


def test_s3_versioned_object_operations_use_the_version_actions():
    [get] = auth("s3", "GetObject", {"Bucket": "b", "Key": "k", "VersionId": "v1"})
    assert get == ("s3:GetObjectVersion", "arn:aws:s3:::b/k") and get.context == {"s3:versionid": "v1"}
    assert auth("s3", "DeleteObject", {"Bucket": "b", "Key": "k", "VersionId": "v1"})[0][0] == "s3:DeleteObjectVersion"


def test_s3_listing_is_list_bucket_on_the_bucket_with_prefix_keys():
    [listing] = auth("s3", "ListObjectsV2", {"Bucket": "photos", "Prefix": "home/David/", "Delimiter": "/", "MaxKeys": 10})
    assert listing == ("s3:ListBucket", "arn:aws:s3:::photos")
    assert listing.context == {"s3:prefix": "home/David/", "s3:delimiter": "/", "s3:max-keys": 10}
    assert auth("s3", "ListObjects", {"Bucket": "photos"})[0].context == {"s3:prefix": ""}
    assert auth("s3", "ListObjectVersions", {"Bucket": "photos"})[0][0] == "s3:ListBucketVersions"
    assert auth("s3", "HeadBucket", {"Bucket": "photos"}) == [("s3:ListBucket", "arn:aws:s3:::photos")]
    assert auth("s3", "ListBuckets") == [("s3:ListAllMyBuckets", "*")]


def test_s3_copy_reads_the_source_and_writes_the_destination():
    assert auth("s3", "CopyObject", {"Bucket": "dst", "Key": "b.txt", "CopySource": "src/dir/a%20b.txt"}) == [
        ("s3:GetObject", "arn:aws:s3:::src/dir/a b.txt"), ("s3:PutObject", "arn:aws:s3:::dst/b.txt")]
    assert auth("s3", "CopyObject", {"Bucket": "dst", "Key": "k", "CopySource": {"Bucket": "src", "Key": "a", "VersionId": "3"}})[0] == (
        "s3:GetObjectVersion", "arn:aws:s3:::src/a")
    assert auth("s3", "CopyObject", {"Bucket": "dst", "Key": "k", "CopySource": "/src/a?versionId=7"})[0] == (
        "s3:GetObjectVersion", "arn:aws:s3:::src/a")


def test_s3_delete_objects_needs_delete_object_on_each_key():
    assert auth("s3", "DeleteObjects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "x"}, {"Key": "y", "VersionId": "1"}]}}) == [
        ("s3:DeleteObject", "arn:aws:s3:::b/x"), ("s3:DeleteObjectVersion", "arn:aws:s3:::b/y")]


def test_s3_bucket_configuration_operations():
    assert auth("s3", "PutBucketNotificationConfiguration", {"Bucket": "b"}) == [("s3:PutBucketNotification", "arn:aws:s3:::b")]
    assert auth("s3", "GetBucketPolicy", {"Bucket": "b"}) == [("s3:GetBucketPolicy", "arn:aws:s3:::b")]
    assert auth("s3", "GetBucketEncryption", {"Bucket": "b"}) == [("s3:GetEncryptionConfiguration", "arn:aws:s3:::b")]
    assert auth("s3", "CreateBucket", {"Bucket": "b"}) == [("s3:CreateBucket", "arn:aws:s3:::b")]
    assert auth("s3", "GetObjectAttributes", {"Bucket": "b", "Key": "k"}) == [
        ("s3:GetObject", "arn:aws:s3:::b/k"), ("s3:GetObjectAttributes", "arn:aws:s3:::b/k")]


# --- DynamoDB ----------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/api-permissions-reference.html

TABLE = f"arn:aws:dynamodb:{R}:{A}:table"


def test_dynamodb_item_operations_on_the_table():
    for operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "DescribeTable"):
        assert auth("dynamodb", operation, {"TableName": "Orders"}) == [(f"dynamodb:{operation}", f"{TABLE}/Orders")]
    [put] = auth("dynamodb", "PutItem", {"TableName": "Thread", "Item": {"UserName": {}, "ID": {}}, "ReturnValues": "ALL_OLD"})
    assert put.context == {"dynamodb:ReturnValues": "ALL_OLD", "dynamodb:Attributes": ["ID", "UserName"]}
    assert auth("dynamodb", "GetItem", {"TableName": f"{TABLE}/Orders"}) == [("dynamodb:GetItem", f"{TABLE}/Orders")]


def test_dynamodb_query_and_scan_on_an_index():
    assert auth("dynamodb", "Query", {"TableName": "Orders", "IndexName": "byDate"}) == [("dynamodb:Query", f"{TABLE}/Orders/index/byDate")]
    assert auth("dynamodb", "Scan", {"TableName": "Orders", "Select": "COUNT"})[0].context == {"dynamodb:Select": "COUNT"}


def test_dynamodb_batches_are_authorized_on_each_table():
    # BatchWriteItem is not PutItem: a role with only dynamodb:PutItem cannot batch-write.
    assert auth("dynamodb", "BatchWriteItem", {"RequestItems": {"Orders": [], "Audit": []}}) == [
        ("dynamodb:BatchWriteItem", f"{TABLE}/Audit"), ("dynamodb:BatchWriteItem", f"{TABLE}/Orders")]
    assert auth("dynamodb", "BatchGetItem", {"RequestItems": {"Orders": {}}}) == [("dynamodb:BatchGetItem", f"{TABLE}/Orders")]


def test_dynamodb_transactions_need_the_item_actions():
    items = [{"Put": {"TableName": "Orders"}}, {"Update": {"TableName": "Stock"}},
             {"ConditionCheck": {"TableName": "Customers"}}, {"Delete": {"TableName": "Carts"}}, {"Put": {"TableName": "Orders"}}]
    assert auth("dynamodb", "TransactWriteItems", {"TransactItems": items}) == [
        ("dynamodb:PutItem", f"{TABLE}/Orders"), ("dynamodb:UpdateItem", f"{TABLE}/Stock"),
        ("dynamodb:ConditionCheckItem", f"{TABLE}/Customers"), ("dynamodb:DeleteItem", f"{TABLE}/Carts")]
    assert auth("dynamodb", "TransactGetItems", {"TransactItems": [{"Get": {"TableName": "Orders"}}]}) == [
        ("dynamodb:GetItem", f"{TABLE}/Orders")]


def test_dynamodb_partiql_and_streams_and_listing():
    assert auth("dynamodb", "ExecuteStatement", {"Statement": 'SELECT * FROM "Orders"."byDate" WHERE pk = ?'}) == [
        ("dynamodb:PartiQLSelect", f"{TABLE}/Orders/index/byDate")]
    assert auth("dynamodb", "ExecuteStatement", {"Statement": "UPDATE Orders SET s = 1 WHERE pk = 'a'"}) == [
        ("dynamodb:PartiQLUpdate", f"{TABLE}/Orders")]
    assert auth("dynamodb", "BatchExecuteStatement", {"Statements": [
        {"Statement": 'INSERT INTO "Orders" VALUE {}'}, {"Statement": "DELETE FROM Orders WHERE pk = 'a'"}]}) == [
        ("dynamodb:PartiQLInsert", f"{TABLE}/Orders"), ("dynamodb:PartiQLDelete", f"{TABLE}/Orders")]
    stream = f"{TABLE}/Orders/stream/2024-01-01T00:00:00.000"
    assert auth("dynamodbstreams", "GetRecords", {"StreamArn": stream}) == [("dynamodb:GetRecords", stream)]
    assert auth("dynamodb", "ListTables") == [("dynamodb:ListTables", "*")]


# --- SQS ------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html


@pytest.mark.parametrize("url, arn", [
    ("https://sqs.us-east-2.amazonaws.com/123456789012/MyQueue", "arn:aws:sqs:us-east-2:123456789012:MyQueue"),
    ("https://queue.amazonaws.com/123456789012/MyQueue", "arn:aws:sqs:us-east-1:123456789012:MyQueue"),
    ("http://localhost:4566/000000000000/orders.fifo", "arn:aws:sqs:us-east-1:000000000000:orders.fifo"),
])
def test_sqs_queue_urls_become_queue_arns(url, arn):
    assert auth("sqs", "SendMessage", {"QueueUrl": url}) == [("sqs:SendMessage", arn)]


def test_sqs_batch_operations_use_the_single_actions():
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
    arn = "arn:aws:sqs:us-east-1:123456789012:q"
    assert auth("sqs", "SendMessageBatch", {"QueueUrl": url}) == [("sqs:SendMessage", arn)]
    assert auth("sqs", "DeleteMessageBatch", {"QueueUrl": url}) == [("sqs:DeleteMessage", arn)]
    assert auth("sqs", "ChangeMessageVisibilityBatch", {"QueueUrl": url}) == [("sqs:ChangeMessageVisibility", arn)]
    assert auth("sqs", "ReceiveMessage", {"QueueUrl": url}) == [("sqs:ReceiveMessage", arn)]
    assert auth("sqs", "GetQueueAttributes", {"QueueUrl": url}) == [("sqs:GetQueueAttributes", arn)]


def test_sqs_queue_by_name_and_listing():
    assert auth("sqs", "GetQueueUrl", {"QueueName": "q"}) == [("sqs:GetQueueUrl", f"arn:aws:sqs:{R}:{A}:q")]
    assert auth("sqs", "GetQueueUrl", {"QueueName": "q", "QueueOwnerAWSAccountId": "999999999999"}) == [
        ("sqs:GetQueueUrl", f"arn:aws:sqs:{R}:999999999999:q")]
    assert auth("sqs", "CreateQueue", {"QueueName": "q"}) == [("sqs:CreateQueue", f"arn:aws:sqs:{R}:{A}:q")]
    # "With the exception of ListQueues, all Amazon SQS actions support resource-level permissions."
    assert auth("sqs", "ListQueues") == [("sqs:ListQueues", "*")]


# --- SNS ------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html


def test_sns_operations():
    topic = f"arn:aws:sns:{R}:{A}:orders"
    assert auth("sns", "Publish", {"TopicArn": topic, "Message": "m"}) == [("sns:Publish", topic)]
    assert auth("sns", "PublishBatch", {"TopicArn": topic}) == [("sns:Publish", topic)]
    assert auth("sns", "Publish", {"PhoneNumber": "+15555550100"}) == [("sns:Publish", "*")]
    [subscribe] = auth("sns", "Subscribe", {"TopicArn": topic, "Protocol": "sqs", "Endpoint": "arn:aws:sqs:us-east-1:1:q"})
    assert subscribe == ("sns:Subscribe", topic) and subscribe.context["sns:Protocol"] == "sqs"
    assert auth("sns", "Unsubscribe", {"SubscriptionArn": f"{topic}:0f3c2c5e-1111"}) == [("sns:Unsubscribe", topic)]
    assert auth("sns", "CreateTopic", {"Name": "orders"}) == [("sns:CreateTopic", topic)]
    assert auth("sns", "ListTopics") == [("sns:ListTopics", "*")]


# --- Lambda ----------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html

FUNCTION = f"arn:aws:lambda:{R}:{A}:function:orders"


@pytest.mark.parametrize("name, qualifier, arn", [
    ("orders", None, FUNCTION),
    ("orders:live", None, f"{FUNCTION}:live"),
    ("orders", "3", f"{FUNCTION}:3"),
    (f"{A}:function:orders", None, FUNCTION),
    ("arn:aws:lambda:eu-west-1:111122223333:function:orders:$LATEST", None, "arn:aws:lambda:eu-west-1:111122223333:function:orders:$LATEST"),
])
def test_invoke_is_invoke_function_on_the_function_arn(name, qualifier, arn):
    params = {"FunctionName": name} | ({"Qualifier": qualifier} if qualifier else {})
    assert auth("lambda", "Invoke", params) == [("lambda:InvokeFunction", arn)]


def test_lambda_management_operations():
    assert auth("lambda", "InvokeAsync", {"FunctionName": "orders"}) == [("lambda:InvokeFunction", FUNCTION)]
    assert auth("lambda", "GetFunctionConfiguration", {"FunctionName": "orders"}) == [("lambda:GetFunctionConfiguration", FUNCTION)]
    create = auth("lambda", "CreateFunction", {"FunctionName": "orders", "Role": f"arn:aws:iam::{A}:role/orders-role"})
    assert create == [("lambda:CreateFunction", FUNCTION), ("iam:PassRole", f"arn:aws:iam::{A}:role/orders-role")]
    assert create[1].context == {"iam:PassedToService": "lambda.amazonaws.com"}
    [mapping] = auth("lambda", "CreateEventSourceMapping", {"FunctionName": "orders", "EventSourceArn": "arn:aws:sqs:us-east-1:1:q"})
    assert mapping == ("lambda:CreateEventSourceMapping", "*") and mapping.context == {"lambda:FunctionArn": FUNCTION}
    assert auth("lambda", "AddPermission", {"FunctionName": "orders", "Principal": "s3.amazonaws.com"})[0].context == {
        "lambda:Principal": "s3.amazonaws.com"}
    assert auth("lambda", "GetAlias", {"FunctionName": "orders", "Name": "live"}) == [("lambda:GetAlias", f"{FUNCTION}:live")]
    assert auth("lambda", "ListFunctions") == [("lambda:ListFunctions", "*")]


# --- Secrets Manager ------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html


def test_secrets_manager_by_arn_by_name_and_with_a_resolver():
    arn = f"arn:aws:secretsmanager:{R}:{A}:secret:prod/db-AbCdEf"
    assert auth("secretsmanager", "GetSecretValue", {"SecretId": arn}) == [("secretsmanager:GetSecretValue", arn)]
    assert auth("secretsmanager", "GetSecretValue", {"SecretId": "prod/db"}) == [
        ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{R}:{A}:secret:prod/db")]
    resolved = auth("secretsmanager", "GetSecretValue", {"SecretId": "prod/db", "VersionStage": "AWSCURRENT"},
                    resolve=lambda kind, value: arn if (kind, value) == ("secret", "prod/db") else None)
    assert resolved == [("secretsmanager:GetSecretValue", arn)]
    assert resolved[0].context == {"secretsmanager:VersionStage": "AWSCURRENT"}
    assert auth("secretsmanager", "BatchGetSecretValue", {"SecretIdList": [arn]}) == [
        ("secretsmanager:BatchGetSecretValue", "*"), ("secretsmanager:GetSecretValue", arn)]
    assert auth("secretsmanager", "ListSecrets") == [("secretsmanager:ListSecrets", "*")]


# --- SSM Parameter Store ---------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-access.html


def test_ssm_parameter_arns():
    base = f"arn:aws:ssm:{R}:{A}:parameter"
    assert auth("ssm", "GetParameter", {"Name": "/prod/db/password", "WithDecryption": True}) == [("ssm:GetParameter", f"{base}/prod/db/password")]
    assert auth("ssm", "GetParameter", {"Name": "MyParameter"}) == [("ssm:GetParameter", f"{base}/MyParameter")]
    assert auth("ssm", "GetParameter", {"Name": "/prod/db:3"}) == [("ssm:GetParameter", f"{base}/prod/db")]
    assert auth("ssm", "GetParameters", {"Names": ["/a", "/b", "/a:2"]}) == [("ssm:GetParameters", f"{base}/a"), ("ssm:GetParameters", f"{base}/b")]
    assert auth("ssm", "GetParametersByPath", {"Path": "/prod/"}) == [("ssm:GetParametersByPath", f"{base}/prod")]
    assert auth("ssm", "PutParameter", {"Name": "/x"}) == [("ssm:PutParameter", f"{base}/x")]
    assert auth("ssm", "DescribeParameters") == [("ssm:DescribeParameters", "*")]


# --- KMS ------------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY = f"arn:aws:kms:{R}:{A}:key/{KEY_ID}"


def test_kms_key_ids_arns_and_aliases():
    [decrypt] = auth("kms", "Decrypt", {"KeyId": KEY_ID, "EncryptionContext": {"LambdaFunctionName": "orders"}})
    assert decrypt == ("kms:Decrypt", KEY)
    assert decrypt.context == {"kms:CallerAccount": A, "kms:EncryptionContext:LambdaFunctionName": "orders",
                               "kms:EncryptionContextKeys": ["LambdaFunctionName"]}
    assert auth("kms", "Encrypt", {"KeyId": KEY}) == [("kms:Encrypt", KEY)]
    [by_alias] = auth("kms", "GenerateDataKey", {"KeyId": "alias/orders"}, resolve=lambda kind, value: KEY)
    assert by_alias == ("kms:GenerateDataKey", KEY) and by_alias.context["kms:RequestAlias"] == "alias/orders"
    assert auth("kms", "GenerateDataKey", {"KeyId": "alias/orders"}) == [("kms:GenerateDataKey", f"arn:aws:kms:{R}:{A}:alias/orders")]


def test_kms_decrypt_without_a_key_id_and_re_encrypt():
    assert auth("kms", "Decrypt", {"CiphertextBlob": b"..."}) == [("kms:Decrypt", "*")]
    assert auth("kms", "Decrypt", {"CiphertextBlob": b"..."}, resolve=lambda kind, value: KEY if kind == "kms-ciphertext" else None) == [
        ("kms:Decrypt", KEY)]
    other = f"arn:aws:kms:{R}:{A}:key/other"
    assert auth("kms", "ReEncrypt", {"SourceKeyId": KEY, "DestinationKeyId": other}) == [
        ("kms:ReEncryptFrom", KEY), ("kms:ReEncryptTo", other)]
    assert auth("kms", "CreateAlias", {"AliasName": "alias/orders", "TargetKeyId": KEY_ID}) == [
        ("kms:CreateAlias", f"arn:aws:kms:{R}:{A}:alias/orders"), ("kms:CreateAlias", KEY)]
    assert auth("kms", "CreateKey") == [("kms:CreateKey", "*")]


# --- CloudWatch Logs ----------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/permissions-reference-cwl.html


def test_logs_groups_and_streams():
    group = f"arn:aws:logs:{R}:{A}:log-group:/aws/lambda/orders"
    assert auth("logs", "CreateLogGroup", {"logGroupName": "/aws/lambda/orders"}) == [("logs:CreateLogGroup", group)]
    assert auth("logs", "CreateLogStream", {"logGroupName": "/aws/lambda/orders", "logStreamName": "2024/05/01/[$LATEST]ab"}) == [
        ("logs:CreateLogStream", f"{group}:log-stream:2024/05/01/[$LATEST]ab")]
    assert auth("logs", "PutLogEvents", {"logGroupName": "/aws/lambda/orders", "logStreamName": "s", "logEvents": []}) == [
        ("logs:PutLogEvents", f"{group}:log-stream:s")]
    assert auth("logs", "FilterLogEvents", {"logGroupIdentifier": f"{group}:*"}) == [("logs:FilterLogEvents", group)]
    assert auth("logs", "StartQuery", {"logGroupNames": ["/a", "/b"]}) == [
        ("logs:StartQuery", f"arn:aws:logs:{R}:{A}:log-group:/a"), ("logs:StartQuery", f"arn:aws:logs:{R}:{A}:log-group:/b")]
    assert auth("logs", "DescribeLogGroups") == [("logs:DescribeLogGroups", f"arn:aws:logs:{R}:{A}:log-group:*")]
    assert auth("logs", "GetQueryResults", {"queryId": "q"}) == [("logs:GetQueryResults", "*")]


# --- CloudWatch metrics and alarms ----------------------------------------------------------------------------------
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/permissions-reference-cw.html


def test_cloudwatch_metrics_and_alarms():
    [put] = auth("cloudwatch", "PutMetricData", {"Namespace": "Orders", "MetricData": []})
    assert put == ("cloudwatch:PutMetricData", "*") and put.context == {"cloudwatch:namespace": "Orders"}
    assert auth("cloudwatch", "GetMetricData") == [("cloudwatch:GetMetricData", "*")]
    assert auth("cloudwatch", "PutMetricAlarm", {"AlarmName": "errors"}) == [("cloudwatch:PutMetricAlarm", f"arn:aws:cloudwatch:{R}:{A}:alarm:errors")]
    assert auth("cloudwatch", "DeleteAlarms", {"AlarmNames": ["a", "b"]}) == [
        ("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:{R}:{A}:alarm:a"), ("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:{R}:{A}:alarm:b")]
    assert auth("cloudwatch", "PutDashboard", {"DashboardName": "ops"}) == [("cloudwatch:PutDashboard", f"arn:aws:cloudwatch::{A}:dashboard/ops")]


# --- EventBridge -------------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-permissions-reference.html


def test_eventbridge_put_events_per_bus_with_sources():
    entries = [{"Source": "orders", "DetailType": "Placed", "Detail": "{}"},
               {"Source": "billing", "DetailType": "Paid", "Detail": "{}", "EventBusName": "finance"},
               {"Source": "orders", "DetailType": "Shipped", "Detail": "{}", "EventBusName": "default"}]
    default, finance = auth("events", "PutEvents", {"Entries": entries})
    assert default == ("events:PutEvents", f"arn:aws:events:{R}:{A}:event-bus/default")
    assert default.context == {"events:source": ["orders"], "events:detail-type": ["Placed", "Shipped"]}
    assert finance == ("events:PutEvents", f"arn:aws:events:{R}:{A}:event-bus/finance")


def test_eventbridge_rules_on_default_and_custom_buses():
    assert auth("events", "PutRule", {"Name": "nightly"}) == [("events:PutRule", f"arn:aws:events:{R}:{A}:rule/nightly")]
    assert auth("events", "PutTargets", {"Rule": "paid", "EventBusName": "finance"}) == [("events:PutTargets", f"arn:aws:events:{R}:{A}:rule/finance/paid")]
    assert auth("events", "ListRules") == [("events:ListRules", "*")]


# --- Kinesis -------------------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/streams/latest/dev/controlling-access.html


def test_kinesis_streams():
    stream = f"arn:aws:kinesis:{R}:{A}:stream/clicks"
    assert auth("kinesis", "PutRecord", {"StreamName": "clicks", "Data": b"x", "PartitionKey": "k"}) == [("kinesis:PutRecord", stream)]
    assert auth("kinesis", "PutRecords", {"StreamARN": stream}) == [("kinesis:PutRecords", stream)]
    assert auth("kinesis", "GetShardIterator", {"StreamName": "clicks"}) == [("kinesis:GetShardIterator", stream)]
    assert auth("kinesis", "GetRecords", {"ShardIterator": "AAA"}) == [("kinesis:GetRecords", "*")]
    assert auth("kinesis", "GetRecords", {"ShardIterator": "AAA"}, resolve=lambda kind, value: stream) == [("kinesis:GetRecords", stream)]
    consumer = f"{stream}/consumer/app:1700000000"
    assert auth("kinesis", "SubscribeToShard", {"ConsumerARN": consumer}) == [("kinesis:SubscribeToShard", consumer)]
    assert auth("kinesis", "ListStreams") == [("kinesis:ListStreams", "*")]


# --- Step Functions --------------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/step-functions/latest/dg/concept-create-iam-advanced.html


def test_step_functions():
    machine = f"arn:aws:states:{R}:{A}:stateMachine:orders"
    execution = f"arn:aws:states:{R}:{A}:execution:orders:run-1"
    assert auth("stepfunctions", "StartExecution", {"stateMachineArn": machine, "input": "{}"}) == [("states:StartExecution", machine)]
    assert auth("states", "StartSyncExecution", {"stateMachineArn": machine}) == [("states:StartSyncExecution", machine)]
    assert auth("stepfunctions", "DescribeExecution", {"executionArn": execution}) == [("states:DescribeExecution", execution)]
    create = auth("stepfunctions", "CreateStateMachine", {"name": "orders", "roleArn": f"arn:aws:iam::{A}:role/sfn"})
    assert create == [("states:CreateStateMachine", machine), ("iam:PassRole", f"arn:aws:iam::{A}:role/sfn")]
    assert auth("stepfunctions", "SendTaskSuccess", {"taskToken": "t"}) == [("states:SendTaskSuccess", "*")]


# --- X-Ray and STS ---------------------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSXRayDaemonWriteAccess.html
# https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html


def test_xray_actions_take_no_resource():
    assert auth("xray", "PutTraceSegments", {"TraceSegmentDocuments": []}) == [("xray:PutTraceSegments", "*")]
    assert auth("xray", "GetSamplingRules") == [("xray:GetSamplingRules", "*")]


def test_sts():
    # "No permissions are required to perform this operation."
    assert auth("sts", "GetCallerIdentity") == []
    role = f"arn:aws:iam::{A}:role/deployer"
    assert auth("sts", "AssumeRole", {"RoleArn": role, "RoleSessionName": "s"}) == [("sts:AssumeRole", role)]
    assert auth("sts", "AssumeRole", {"RoleArn": role, "Tags": [{"Key": "k", "Value": "v"}]}) == [
        ("sts:AssumeRole", role), ("sts:TagSession", role)]
    assert auth("sts", "GetSessionToken") == [("sts:GetSessionToken", "*")]

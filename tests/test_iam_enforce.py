"""Execution roles enforced on every AWS call of a function: real functions with boto3 inside,
allowed and denied by their role as AWS allows and denies them, with AWS's errors, checked from
inside the function (it catches botocore's ClientError and returns the code and the message)."""

import json
import textwrap

import botocore.exceptions
import pytest

from lambdalab_ext.clock import VirtualClock
from lambdalab_ext.errors import InvalidParameterValueException
from lambdalab_ext.iam.enforce import lambda_operation, s3_operation
from lambdalab_ext.iam.service import attach

ACCOUNT = "123456789012"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"

# A function that runs the calls the event names and returns, for each, "ok" or what botocore raised.
CALLER = textwrap.dedent("""
    import boto3, botocore.exceptions

    def run(call):
        service, operation, params = call
        client = boto3.client(service)
        try:
            out = getattr(client, operation)(**params)
        except botocore.exceptions.ClientError as e:
            return {"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"],
                    "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
        if "Body" in out:
            return {"ok": out["Body"].read().decode()}
        if "Arn" in out and "UserId" in out:
            return {"ok": {"Arn": out["Arn"], "UserId": out["UserId"], "Account": out["Account"]}}
        return {"ok": True}

    def handler(event, context):
        return [run(call) for call in event["calls"]]
""")


@pytest.fixture
def iam_lab(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    service = attach(lab)
    yield lab
    service.close()


def _resources(lab):
    """The same bucket, table, queue and topics for every test (moto's state outlives a lab)."""
    s3 = lab.aws.client("s3")
    if "inbox" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="inbox")
    s3.delete_bucket_policy(Bucket="inbox")
    s3.delete_object(Bucket="inbox", Key="in/b.txt")
    s3.put_object(Bucket="inbox", Key="in/a.txt", Body=b"alpha")
    s3.put_object(Bucket="inbox", Key="private/p.txt", Body=b"secret")
    ddb = lab.aws.client("dynamodb")
    if "orders" not in ddb.list_tables()["TableNames"]:
        ddb.create_table(
            TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    ddb.delete_item(TableName="orders", Key={"id": {"S": "1"}})
    sqs = lab.aws.client("sqs")
    queue = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sns = lab.aws.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    other = sns.create_topic(Name="other")["TopicArn"]
    return queue, topic, other


def _run(fn, calls):
    result = fn.invoke({"calls": calls})
    assert result.ok, result.logs
    return result.payload


def _policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _denied(action, resource, role, function, why="because no identity-based policy allows the {action} action"):
    return (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{function} is not authorized to perform: "
            f"{action} on resource: {resource} " + why.format(action=action))


# Message forms: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html ;
# S3 quotes the resource: https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html
def test_a_role_allows_what_its_policy_allows_and_each_service_denies_the_rest_in_its_own_words(iam_lab):
    lab = iam_lab
    queue, topic, other = _resources(lab)
    lab.iam.create_role("worker", managed=["AWSLambdaBasicExecutionRole"], policies={"work": _policy(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::inbox/in/*"},
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE_ARN},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"},
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic})})
    fn = lab.deploy("worker", CALLER, role="worker", memory_mb=512, timeout_s=30)
    key = {"id": {"S": "1"}}
    r = fn.invoke({"calls": [
        ["s3", "get_object", {"Bucket": "inbox", "Key": "in/a.txt"}],
        ["dynamodb", "get_item", {"TableName": "orders", "Key": key}],
        ["sqs", "send_message", {"QueueUrl": queue, "MessageBody": "job"}],
        ["sns", "publish", {"TopicArn": topic, "Message": "hi"}],
        ["logs", "create_log_group", {"logGroupName": "/app/worker"}],       # AWSLambdaBasicExecutionRole
        ["s3", "put_object", {"Bucket": "inbox", "Key": "in/b.txt", "Body": "x"}],
        ["dynamodb", "put_item", {"TableName": "orders", "Item": key}],
        ["sqs", "delete_message", {"QueueUrl": queue, "ReceiptHandle": "r"}],
        ["sns", "publish", {"TopicArn": other, "Message": "hi"}],
    ]})
    assert r.ok, r.logs
    allowed, denied = r.payload[:5], r.payload[5:]
    assert allowed == [{"ok": "alpha"}, {"ok": True}, {"ok": True}, {"ok": True}, {"ok": True}]
    s3, ddb, sqs, sns = denied
    assert s3 == {"code": "AccessDenied", "status": 403, "message": _denied(
        "s3:PutObject", '"arn:aws:s3:::inbox/in/b.txt"', "worker", "worker")}
    assert ddb == {"code": "AccessDeniedException", "status": 400,
                   "message": _denied("dynamodb:PutItem", TABLE_ARN, "worker", "worker")}
    assert sqs == {"code": "AccessDenied", "status": 403, "message": _denied(
        "sqs:deletemessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs", "worker", "worker")}
    assert sns == {"code": "AuthorizationError", "status": 403,
                   "message": _denied("SNS:Publish", other, "worker", "worker")}
    # Nothing the denied calls asked for happened; what the notebook does is not the function's.
    with pytest.raises(botocore.exceptions.ClientError):
        lab.aws.client("s3").head_object(Bucket="inbox", Key="in/b.txt")
    assert "Item" not in lab.aws.client("dynamodb").get_item(TableName="orders", Key=key)
    lab.aws.client("s3").put_object(Bucket="inbox", Key="in/b.txt", Body=b"from the notebook")
    # Every decision is in the record, with the statement that decided it.
    decisions = lab.iam.decisions("worker")
    assert [(d["action"], d["decision"]) for d in decisions] == [
        ("s3:GetObject", "Allow"), ("dynamodb:GetItem", "Allow"), ("sqs:SendMessage", "Allow"),
        ("sns:Publish", "Allow"), ("logs:CreateLogGroup", "Allow"), ("s3:PutObject", "ImplicitDeny"),
        ("dynamodb:PutItem", "ImplicitDeny"), ("sqs:DeleteMessage", "ImplicitDeny"), ("sns:Publish", "ImplicitDeny")]
    assert decisions[4]["statement"].startswith(
        'identity-based policy "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" Statement[0]')
    assert decisions[6]["statement"] is None
    assert "No statement of any identity-based policy allows dynamodb:PutItem" in decisions[6]["evaluation"].explain()


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
def test_an_explicit_deny_wins_over_an_allow_and_says_so(iam_lab):
    lab = iam_lab
    _resources(lab)
    lab.iam.create_role("reader", policies={"s3": _policy(
        {"Sid": "ReadAll", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Sid": "NotPrivate", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::inbox/private/*"},
        # The SDK in a function speaks TLS on AWS: this common statement must not deny it here.
        {"Sid": "TLSOnly", "Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}})})
    fn = lab.deploy("reader", CALLER, role="reader", memory_mb=512, timeout_s=30)
    r = fn.invoke({"calls": [["s3", "get_object", {"Bucket": "inbox", "Key": "in/a.txt"}],
                             ["s3", "get_object", {"Bucket": "inbox", "Key": "private/p.txt"}]]})
    assert r.ok, r.logs
    assert r.payload[0] == {"ok": "alpha"}
    assert r.payload[1] == {"code": "AccessDenied", "status": 403, "message": (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/reader/reader is not authorized to perform: s3:GetObject on "
        'resource: "arn:aws:s3:::inbox/private/p.txt" with an explicit deny in an identity-based policy')}
    last = lab.iam.decisions("reader", denied=True)[-1]
    assert last["decision"] == "ExplicitDeny" and '"s3" Statement[1] (Sid "NotPrivate")' in last["statement"]


# Same account: "an Allow in an identity-based policy or in the resource-based policy is enough",
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
def test_a_bucket_policy_allows_what_the_role_does_not_and_a_change_of_it_is_seen_at_once(iam_lab):
    lab = iam_lab
    _resources(lab)
    role = lab.iam.create_role("logs-only", managed=["AWSLambdaBasicExecutionRole"])
    fn = lab.deploy("shared", CALLER, role="logs-only", memory_mb=512, timeout_s=30)
    get_a = ["s3", "get_object", {"Bucket": "inbox", "Key": "in/a.txt"}]
    before = _run(fn, [get_a])[0]
    assert before["code"] == "AccessDenied"
    lab.aws.client("s3").put_bucket_policy(Bucket="inbox", Policy=json.dumps(_policy(
        {"Sid": "RoleReadsIn", "Effect": "Allow", "Principal": {"AWS": role}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::inbox/in/*"})))
    r = fn.invoke({"calls": [get_a, ["s3", "get_object", {"Bucket": "inbox", "Key": "private/p.txt"}]]})
    assert r.payload[0] == {"ok": "alpha"}                        # the warm environment, the new policy
    assert r.payload[1]["message"].endswith("because no identity-based policy allows the s3:GetObject action")
    allowed = [d for d in lab.iam.decisions("shared") if d["decision"] == "Allow"][-1]
    assert allowed["statement"].startswith('resource-based policy "s3 policy of inbox" Statement[0] (Sid "RoleReadsIn")')


def test_a_change_to_the_role_through_the_iam_api_takes_effect_on_the_next_call(iam_lab):
    lab = iam_lab
    _resources(lab)
    lab.iam.create_role("grows")
    fn = lab.deploy("grows", CALLER, role="grows", memory_mb=512, timeout_s=30)
    put = ["dynamodb", "put_item", {"TableName": "orders", "Item": {"id": {"S": "2"}}}]
    assert _run(fn, [put])[0]["code"] == "AccessDeniedException"
    lab.aws.client("iam").put_role_policy(RoleName="grows", PolicyName="put", PolicyDocument=json.dumps(_policy(
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE_ARN})))
    assert _run(fn, [put]) == [{"ok": True}]
    lab.aws.client("iam").delete_role_policy(RoleName="grows", PolicyName="put")
    assert _run(fn, [put])[0]["code"] == "AccessDeniedException"


def test_get_caller_identity_from_a_function_is_its_role_session(iam_lab):
    lab = iam_lab
    arn = lab.iam.create_role("whoami-role", path="/service-role/")
    fn = lab.deploy("whoami", CALLER, role=arn, memory_mb=512, timeout_s=30)
    identity = _run(fn, [["sts", "get_caller_identity", {}]])[0]["ok"]
    role_id = lab.aws.client("iam").get_role(RoleName="whoami-role")["Role"]["RoleId"]
    # The session ARN drops the role's path; the user id is ROLE-ID:SESSION-NAME.
    assert identity == {"Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/whoami-role/whoami",
                        "UserId": f"{role_id}:whoami", "Account": ACCOUNT}
    assert lab.aws.client("lambda").get_function(FunctionName="whoami")["Configuration"]["Role"] == arn


def test_the_default_role_allows_everything_and_least_privilege_comes_from_a_real_run(iam_lab):
    lab = iam_lab
    queue, topic, _ = _resources(lab)
    fn = lab.deploy("anything", CALLER, memory_mb=512, timeout_s=30)
    default = f"arn:aws:iam::{ACCOUNT}:role/lambdalab-default-role-allows-everything"
    assert lab.aws.client("lambda").get_function_configuration(FunctionName="anything")["Role"] == default
    calls = [["s3", "get_object", {"Bucket": "inbox", "Key": "in/a.txt"}],
             ["dynamodb", "put_item", {"TableName": "orders", "Item": {"id": {"S": "3"}}}],
             ["sqs", "send_message", {"QueueUrl": queue, "MessageBody": "m"}],
             ["sts", "get_caller_identity", {}]]
    r = fn.invoke({"calls": calls})
    assert r.payload[:3] == [{"ok": "alpha"}, {"ok": True}, {"ok": True}]
    assert r.payload[3]["ok"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/lambdalab-default-role-allows-everything/anything"
    used = lab.iam.used("anything")
    assert used == [("dynamodb:PutItem", TABLE_ARN), ("s3:GetObject", "arn:aws:s3:::inbox/in/a.txt"),
                    ("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs")]
    [broad] = lab.iam.unused("anything")
    assert broad.kind == "broader" and 'allows every action of every AWS service ("*")' in broad.message
    proposed = lab.iam.propose("anything")
    assert [s["Action"] for s in proposed["Statement"]] == ["dynamodb:PutItem", "s3:GetObject", "sqs:SendMessage"]
    # The proposal, as the function's own role, lets it do exactly that and no more.
    lab.iam.create_role("least", policies={"proposed": proposed})
    fn = lab.deploy("anything", CALLER, role="least", memory_mb=512, timeout_s=30)
    again = fn.invoke({"calls": calls[:3] + [["s3", "get_object", {"Bucket": "inbox", "Key": "private/p.txt"}]]})
    assert again.payload[:3] == [{"ok": "alpha"}, {"ok": True}, {"ok": True}]
    assert again.payload[3]["code"] == "AccessDenied"
    assert lab.iam.unused("anything") == []


def test_a_function_calling_another_needs_lambda_invoke_function(iam_lab):
    lab = iam_lab
    lab.deploy("target", "def handler(event, context):\n    return 'pong'\n")
    lab.iam.create_role("no-invoke")
    fn = lab.deploy("caller", CALLER, role="no-invoke", memory_mb=512, timeout_s=30)
    out = _run(fn, [["lambda", "invoke", {"FunctionName": "target", "Payload": "{}"}]])[0]
    assert out == {"code": "AccessDeniedException", "status": 403, "message": _denied(
        "lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:target", "no-invoke", "caller")}
    assert lab.record.count("invoke", function="target") == 0


# https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html: the effective
# permissions are what both the identity-based policy and the boundary allow.
def test_a_permissions_boundary_caps_what_the_role_policy_allows(iam_lab):
    lab = iam_lab
    _resources(lab)
    iam = lab.aws.client("iam")
    boundary = iam.create_policy(PolicyName="s3-only-boundary", PolicyDocument=json.dumps(_policy(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})))["Policy"]["Arn"]
    lab.iam.create_role("bounded", managed=["AdministratorAccess"], permissions_boundary=boundary)
    fn = lab.deploy("bounded", CALLER, role="bounded", memory_mb=512, timeout_s=30)
    out = _run(fn, [["s3", "get_object", {"Bucket": "inbox", "Key": "in/a.txt"}],
                    ["dynamodb", "put_item", {"TableName": "orders", "Item": {"id": {"S": "b"}}}],
                    ["cloudwatch", "put_metric_data", {"Namespace": "App", "MetricData": [
                        {"MetricName": "Orders", "Value": 1.0}]}]])
    assert out[0] == {"ok": "alpha"}
    assert out[1]["message"] == _denied("dynamodb:PutItem", TABLE_ARN, "bounded", "bounded",
                                        why="because no permissions boundary allows the {action} action")
    # CloudWatch speaks CBOR (smithy-rpc-v2-cbor) to botocore: the refusal is CBOR too.
    assert out[2]["code"] == "AccessDeniedException" and out[2]["message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/bounded/bounded is not authorized to perform: "
        "cloudwatch:PutMetricData because no permissions boundary allows the cloudwatch:PutMetricData action")


# Lambda sends an asynchronous invocation's record with the function's execution role; the role
# needs sqs:SendMessage on an SQS destination (Lambda Developer Guide, "Capturing records of
# asynchronous invocations"), and polling a queue needs sqs:ReceiveMessage, sqs:DeleteMessage and
# sqs:GetQueueAttributes (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
def test_lambda_uses_the_execution_role_for_destinations_and_queue_mappings(iam_lab):
    lab = iam_lab
    sqs = lab.aws.client("sqs")
    url = sqs.create_queue(QueueName="failures")["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:failures"
    lab.iam.create_role("no-sqs")
    fn = lab.deploy("fails", "def handler(event, context):\n    raise ValueError('bad')\n", role="no-sqs")
    fn.put_event_invoke_config(maximum_retry_attempts=0, on_failure=arn)
    accepted = fn.invoke({}, invocation_type="Event")
    assert lab.async_queue.wait_idle(60)
    [failed] = lab.record.events(kind="delivery_failed", function="fails")
    assert failed.request_id == accepted.request_id and failed["target"] == arn
    assert failed["error"] == "AccessDeniedException: " + _denied("sqs:SendMessage", arn, "no-sqs", "fails")
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
    with pytest.raises(InvalidParameterValueException,
                       match="The provided execution role does not have permissions to call ReceiveMessage on SQS$"):
        lab.create_event_source_mapping("fails", arn, BatchSize=1)
    lab.aws.client("iam").attach_role_policy(
        RoleName="no-sqs", PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
    assert lab.create_event_source_mapping("fails", arn, BatchSize=1)["State"] == "Creating"
    assert ("sqs:ReceiveMessage", arn) in lab.iam.used("fails")


# A secret's ARN ends in "-" and six random characters, which a policy matches with "-??????"
# (https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html).
def test_secrets_and_parameters_are_read_only_as_the_role_allows(iam_lab):
    lab = iam_lab
    secrets = lab.aws.client("secretsmanager")
    db = secrets.create_secret(Name="db-password", SecretString="hunter2")["ARN"]
    admin = secrets.create_secret(Name="admin-password", SecretString="root")["ARN"]
    ssm = lab.aws.client("ssm")
    ssm.put_parameter(Name="/app/db/host", Value="db.internal", Type="String", Overwrite=True)
    ssm.put_parameter(Name="/app/admin/token", Value="t0k3n", Type="SecureString", Overwrite=True)
    lab.iam.create_role("config-reader", policies={"config": _policy(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db-password-??????"},
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/db/*"})})
    fn = lab.deploy("config", CALLER, role="config-reader", memory_mb=512, timeout_s=30)
    out = _run(fn, [["secretsmanager", "get_secret_value", {"SecretId": "db-password"}],
                    ["ssm", "get_parameter", {"Name": "/app/db/host"}],
                    ["secretsmanager", "get_secret_value", {"SecretId": "admin-password"}],
                    ["ssm", "get_parameter", {"Name": "/app/admin/token", "WithDecryption": True}]])
    assert out[:2] == [{"ok": True}, {"ok": True}]
    assert out[2] == {"code": "AccessDeniedException", "status": 400, "message": _denied(
        "secretsmanager:GetSecretValue", admin, "config-reader", "config")}
    assert out[3] == {"code": "AccessDeniedException", "status": 400, "message": _denied(
        "ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/admin/token", "config-reader", "config")}
    assert ("secretsmanager:GetSecretValue", db) in lab.iam.used("config")


# CreateFunction: "The role defined for the function cannot be assumed by Lambda."
# (https://docs.aws.amazon.com/lambda/latest/dg/API_CreateFunction.html, InvalidParameterValueException)
def test_a_role_that_does_not_exist_or_does_not_trust_lambda_is_refused_at_deploy(iam_lab):
    lab = iam_lab
    with pytest.raises(InvalidParameterValueException, match="cannot be assumed by Lambda"):
        lab.deploy("f", "def handler(e, c):\n    return 1\n", role="nobody")
    lab.iam.create_role("for-ec2", trust_policy=_policy(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}))
    with pytest.raises(InvalidParameterValueException, match="cannot be assumed by Lambda"):
        lab.deploy("f", "def handler(e, c):\n    return 1\n", role="for-ec2")
    with pytest.raises(InvalidParameterValueException, match="at 'role' failed to satisfy constraint"):
        lab.deploy("f", "def handler(e, c):\n    return 1\n", role="arn:aws:iam::12:role/x")
    lab.iam.create_role("ok-role")
    lab.deploy("f", "def handler(e, c):\n    return 1\n")
    client = lab.aws.client("lambda")
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.update_function_configuration(FunctionName="f", Role=f"arn:aws:iam::{ACCOUNT}:role/for-ec2")
    client.update_function_configuration(FunctionName="f", Role=f"arn:aws:iam::{ACCOUNT}:role/ok-role")
    assert client.get_function(FunctionName="f")["Configuration"]["Role"] == f"arn:aws:iam::{ACCOUNT}:role/ok-role"


# Operations and the requests botocore sends for them (S3 API Reference, each operation's "Request Syntax").
@pytest.mark.parametrize("method, path, query, headers, expected", [
    ("GET", "/", {}, {}, ("ListBuckets", {})),
    ("GET", "/b", {"list-type": "2", "prefix": "p/", "delimiter": "/"},
     {}, ("ListObjectsV2", {"Bucket": "b", "Prefix": "p/", "Delimiter": "/"})),
    ("GET", "/b", {}, {}, ("ListObjects", {"Bucket": "b"})),
    ("HEAD", "/b/k", {}, {}, ("HeadObject", {"Bucket": "b", "Key": "k"})),
    ("GET", "/b/dir/k.txt", {"versionId": "v1"}, {}, ("GetObject", {"Bucket": "b", "Key": "dir/k.txt", "VersionId": "v1"})),
    ("PUT", "/b/k", {}, {"x-amz-acl": "public-read"}, ("PutObject", {"Bucket": "b", "Key": "k", "ACL": "public-read"})),
    ("PUT", "/b/k", {}, {"x-amz-copy-source": "src/a"}, ("CopyObject", {"Bucket": "b", "Key": "k", "CopySource": "src/a"})),
    ("DELETE", "/b/k", {}, {}, ("DeleteObject", {"Bucket": "b", "Key": "k"})),
    ("PUT", "/b", {"policy": ""}, {}, ("PutBucketPolicy", {"Bucket": "b"})),
    ("GET", "/b/k", {"tagging": ""}, {}, ("GetObjectTagging", {"Bucket": "b", "Key": "k"})),
    ("POST", "/b/k", {"uploads": ""}, {}, ("CreateMultipartUpload", {"Bucket": "b", "Key": "k"})),
    ("PUT", "/b/k", {"partNumber": "1", "uploadId": "u"}, {}, ("UploadPart", {"Bucket": "b", "Key": "k"})),
])
def test_s3_rest_requests_name_their_operation(method, path, query, headers, expected):
    assert s3_operation(method, path, query, headers) == expected


def test_delete_objects_names_every_key_and_lambda_routes_name_theirs():
    body = (b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object>'
            b"<Object><Key>b</Key><VersionId>2</VersionId></Object></Delete>")
    assert s3_operation("POST", "/bk", {"delete": ""}, {}, body) == (
        "DeleteObjects", {"Bucket": "bk", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "2"}]}})
    assert lambda_operation("GET", "/2015-03-31/functions/f/configuration") == (
        "GetFunctionConfiguration", {"FunctionName": "f"})
    assert lambda_operation("GET", "/2015-03-31/functions") == ("ListFunctions", {})


def test_enforced_on_the_docker_backend(docker_lab):
    lab = docker_lab
    service = attach(lab)
    try:
        _resources(lab)
        lab.iam.create_role("boxed", policies={"read": _policy(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::inbox/*"})})
        fn = lab.deploy("boxed", CALLER, role="boxed", memory_mb=512, timeout_s=30)
        r = fn.invoke({"calls": [["s3", "get_object", {"Bucket": "inbox", "Key": "in/a.txt"}],
                                 ["dynamodb", "put_item", {"TableName": "orders", "Item": {"id": {"S": "d"}}}],
                                 ["sts", "get_caller_identity", {}]]})
        assert r.ok, r.logs
        assert r.payload[0] == {"ok": "alpha"}
        assert r.payload[1] == {"code": "AccessDeniedException", "status": 400,
                                "message": _denied("dynamodb:PutItem", TABLE_ARN, "boxed", "boxed")}
        assert r.payload[2]["ok"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/boxed/boxed"
    finally:
        service.close()

"""AWS inside the lab: boto3 unchanged in a function against the embedded services, the Lambda API
on the same endpoint, on both backends against the real engine."""

import base64
import json
import textwrap

import botocore.exceptions
import pytest

READ_S3_WRITE_DYNAMODB = textwrap.dedent("""
    import boto3
    s3 = boto3.client("s3")
    table = boto3.resource("dynamodb").Table("uploads")

    def handler(event, context):
        body = s3.get_object(Bucket="inbox", Key=event["key"])["Body"].read().decode()
        table.put_item(Item={"key": event["key"], "words": len(body.split())})
        s3.put_object(Bucket="inbox", Key="out/" + event["key"], Body=body.upper().encode())
        return {"read": body}
""")


def _tables(aws):
    ddb = aws.client("dynamodb")
    if "uploads" not in ddb.list_tables()["TableNames"]:
        ddb.create_table(TableName="uploads", KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
    return ddb


def test_a_function_reads_s3_and_writes_dynamodb_and_the_notebook_sees_it(lab):
    s3 = lab.aws.client("s3")
    s3.create_bucket(Bucket="inbox")
    s3.put_object(Bucket="inbox", Key="note.txt", Body=b"three little words")
    ddb = _tables(lab.aws)
    fn = lab.deploy("reader", READ_S3_WRITE_DYNAMODB, memory_mb=512, timeout_s=30)
    r = fn.invoke({"key": "note.txt"})
    assert r.ok, r.logs
    assert r.payload == {"read": "three little words"}
    item = ddb.get_item(TableName="uploads", Key={"key": {"S": "note.txt"}})["Item"]
    assert item == {"key": {"S": "note.txt"}, "words": {"N": "3"}}
    assert s3.get_object(Bucket="inbox", Key="out/note.txt")["Body"].read() == b"THREE LITTLE WORDS"


def test_the_function_is_pointed_at_the_lab_and_nowhere_else(lab):
    source = textwrap.dedent("""
        import os, boto3
        def handler(event, context):
            client = boto3.client("sqs")
            return {"endpoint": os.environ.get("AWS_ENDPOINT_URL"), "sdk": client.meta.endpoint_url,
                    "key": os.environ["AWS_ACCESS_KEY_ID"][:4], "token": bool(os.environ.get("AWS_SESSION_TOKEN"))}
    """)
    p = lab.deploy("where", source, memory_mb=512, timeout_s=30).invoke({}).payload
    assert p["endpoint"].startswith("http://127.0.0.1:")
    assert p["sdk"] == p["endpoint"]                      # boto3 goes to the lab, not to amazonaws.com
    assert p["key"] == "ASIA" and p["token"]              # role credentials, as Lambda gives them
    if lab.backend.name == "docker":
        assert p["endpoint"] == "http://127.0.0.1:4566"   # reached through the relay, no network


def test_the_lambda_api_from_a_cell(lab):
    lab.deploy("echo", "def handler(event, context):\n    print('echo', event)\n    return event\n",
               memory_mb=256, env={"STAGE": "dev"})
    lab.deploy("fails", "def handler(event, context):\n    raise ValueError('no')\n", memory_mb=256)
    client = lab.aws.client("lambda")
    names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
    assert names == ["echo", "fails"]
    config = client.get_function_configuration(FunctionName="echo")
    assert config["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:echo"
    assert config["Handler"] == "lambda_function.handler" and config["MemorySize"] == 256
    assert config["Environment"] == {"Variables": {"STAGE": "dev"}}
    assert client.get_function(FunctionName="echo")["Configuration"]["FunctionName"] == "echo"

    out = client.invoke(FunctionName="echo", Payload=json.dumps({"n": 1}), LogType="Tail")
    assert out["StatusCode"] == 200 and json.loads(out["Payload"].read()) == {"n": 1}
    assert "echo {'n': 1}" in base64.b64decode(out["LogResult"]).decode()
    failed = client.invoke(FunctionName="fails", Payload=b"{}")
    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "ValueError"
    assert client.invoke(FunctionName="echo", InvocationType="DryRun")["StatusCode"] == 204
    queued = client.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"async": true}')
    assert queued["StatusCode"] == 202
    request_id = queued["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert lab.async_queue.wait_idle(60)
    assert [e.kind for e in lab.record.events(request_id=request_id)] == ["accepted", "invoke", "attempt"]

    client.update_function_configuration(FunctionName="echo", MemorySize=512, Timeout=7,
                                         Environment={"Variables": {"STAGE": "prod"}},
                                         DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"})
    assert lab.functions["echo"].config.memory_mb == 512
    assert lab.functions["echo"].config.environment == {"STAGE": "prod"}
    assert client.get_function_configuration(FunctionName="echo")["DeadLetterConfig"]["TargetArn"].endswith(":dlq")
    client.put_function_concurrency(FunctionName="echo", ReservedConcurrentExecutions=5)
    assert client.get_function_concurrency(FunctionName="echo")["ReservedConcurrentExecutions"] == 5
    client.put_function_event_invoke_config(FunctionName="echo", MaximumRetryAttempts=1,
                                            MaximumEventAgeInSeconds=120,
                                            DestinationConfig={"OnFailure": {"Destination":
                                                               "arn:aws:sqs:us-east-1:123456789012:failed"}})
    settings = client.get_function_event_invoke_config(FunctionName="echo")
    assert settings["MaximumRetryAttempts"] == 1 and settings["MaximumEventAgeInSeconds"] == 120
    assert lab.functions["echo"].config.event_invoke_config.on_failure.endswith(":failed")


def test_lambda_api_errors_are_aws_errors(lab):
    client = lab.aws.client("lambda")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="nope", Payload=b"{}")
    lab.deploy("zero", "def handler(e, c):\n    return 1\n", reserved_concurrency=0)
    with pytest.raises(client.exceptions.TooManyRequestsException):
        client.invoke(FunctionName="zero", Payload=b"{}")
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="zero", Payload=b"{not json")
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.update_function_configuration(FunctionName="zero", MemorySize=20_000)
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        lab.aws.client("appflow").list_flows()              # a service moto does not have
    assert missing.value.response["Error"]["Code"] == "NotImplemented"


def test_a_function_invokes_another_through_the_lambda_api(lab):
    lab.deploy("callee", "def handler(event, context):\n    return {'twice': event['n'] * 2}\n", memory_mb=256)
    caller = textwrap.dedent("""
        import json, boto3
        client = boto3.client("lambda")
        def handler(event, context):
            out = client.invoke(FunctionName="callee", Payload=json.dumps({"n": event["n"]}))
            return json.loads(out["Payload"].read())
    """)
    r = lab.deploy("caller", caller, memory_mb=512, timeout_s=30).invoke({"n": 21})
    assert r.ok, r.logs
    assert r.payload == {"twice": 42}
    assert lab.record.count("invoke", function="callee") == 1


def test_only_the_latest_invocation_keeps_its_log_in_the_record(make_lab):
    lab = make_lab("process")
    fn = lab.deploy("chatty", "def handler(event, context):\n    print('x' * 100_000)\n    return event\n")
    for n in range(3):
        fn.invoke({"n": n})
    invoked = lab.record.events(kind="invoke", function="chatty")
    assert [e.get("result") is not None for e in invoked] == [False, False, True]
    assert invoked[-1]["result"].payload == {"n": 2}
    assert all(e["status"] == "success" for e in invoked)        # the step itself stays recorded

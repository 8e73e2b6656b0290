"""Secrets of real functions: KMS-encrypted environment variables decrypted inside the function,
Secrets Manager and Parameter Store read as the role allows, and the AWS Parameters and Secrets
Lambda Extension at localhost:2773 (its token header, its cache and TTL on the lab's clock, the
function's own role behind it)."""

import base64
import json
import textwrap
import urllib.error
import urllib.request

import pytest

from lambdalab_ext.clock import VirtualClock
from lambdalab_ext.errors import InvalidParameterValueException
from lambdalab_ext.iam.secrets import TOKEN_HEADER, attach, decrypt_variable, encrypt_variable, key_of_ciphertext

ACCOUNT = "123456789012"

# Decrypts SECRET as the snippet of the console's encryption helpers does, and reads what the
# event names through the extension, returning each answer or (status, body) of its refusal.
READER = textwrap.dedent("""
    import base64, json, os, urllib.error, urllib.request
    import boto3, botocore.exceptions

    def decrypt():
        try:
            return boto3.client("kms").decrypt(
                CiphertextBlob=base64.b64decode(os.environ["SECRET"]),
                EncryptionContext={"LambdaFunctionName": os.environ["AWS_LAMBDA_FUNCTION_NAME"]},
            )["Plaintext"].decode()
        except botocore.exceptions.ClientError as e:
            return {"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"]}

    def extension(path, token=True):
        port = os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2773")
        headers = {"X-Aws-Parameters-Secrets-Token": os.environ["AWS_SESSION_TOKEN"]} if token else {}
        request = urllib.request.Request(f"http://localhost:{port}{path}", headers=headers)
        try:
            return json.loads(urllib.request.urlopen(request, timeout=10).read())
        except urllib.error.HTTPError as e:
            return [e.code, e.read().decode()]

    def handler(event, context):
        out = {}
        if "SECRET" in os.environ:
            out["decrypted"] = decrypt()
        out["reads"] = [extension(path, token) for path, token in event.get("reads", [])]
        return out
""")


def _policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _denied(action, resource, role, function):
    return (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{function} is not authorized to perform: "
            f"{action} on resource: {resource} because no identity-based policy allows the {action} action")


@pytest.fixture
def secrets_lab(make_lab):
    lab = make_lab("process", clock=VirtualClock())
    extension = attach(lab)
    yield lab
    extension.close()


def _secret(lab, name, value):
    client = lab.aws.client("secretsmanager")
    try:
        return client.create_secret(Name=name, SecretString=value)["ARN"]
    except client.exceptions.ResourceExistsException:       # moto's state outlives a lab
        client.put_secret_value(SecretId=name, SecretString=value)
        return client.describe_secret(SecretId=name)["ARN"]


def _key(lab):
    return lab.aws.client("kms").create_key(Description="lambdalab test")["KeyMetadata"]["Arn"]


# The helpers encrypt with the context {"LambdaFunctionName": NAME} and the function decrypts with
# it; the role needs kms:Decrypt on the key:
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html
def test_an_encrypted_variable_is_ciphertext_in_the_configuration_and_decrypted_by_a_role_allowed_kms_decrypt(
        secrets_lab):
    lab = secrets_lab
    key = _key(lab)
    secret = encrypt_variable(lab, key, "billing", "hunter2")
    assert "hunter2" not in secret and decrypt_variable(lab, secret, "billing") == "hunter2"
    lab.iam.create_role("billing-role", policies={"kms": _policy(
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key})})
    fn = lab.deploy("billing", READER, env={"SECRET": secret}, role="billing-role", kms_key_arn=key,
                    memory_mb=512, timeout_s=30)
    config = lab.aws.client("lambda").get_function_configuration(FunctionName="billing")
    assert config["Environment"]["Variables"] == {"SECRET": secret}          # what the console shows
    assert config["KMSKeyArn"] == key
    result = fn.invoke({})
    assert result.ok, result.logs
    assert result.payload["decrypted"] == "hunter2"
    [decision] = [d for d in lab.iam.decisions("billing") if d["action"] == "kms:Decrypt"]
    assert (decision["resource"], decision["decision"]) == (key, "Allow")    # the key the ciphertext names
    # Another role, and the same ciphertext under another function's name, fail as KMS fails them.
    lab.iam.create_role("no-kms")
    other = lab.deploy("billing", READER, env={"SECRET": secret}, role="no-kms", memory_mb=512, timeout_s=30)
    assert other.invoke({}).payload["decrypted"] == {"code": "AccessDeniedException", "message": _denied(
        "kms:Decrypt", key, "no-kms", "billing")}
    moved = lab.deploy("invoices", READER, env={"SECRET": secret}, role="billing-role", memory_mb=512, timeout_s=30)
    assert moved.invoke({}).payload["decrypted"]["code"] == "InvalidCiphertextException"


# KMSKeyArn: pattern (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|() (Lambda API Reference, CreateFunction).
def test_kms_key_arn_is_checked_shown_and_changed_as_lambda_does(secrets_lab):
    lab = secrets_lab
    with pytest.raises(InvalidParameterValueException, match="at 'kMSKeyArn' failed to satisfy constraint"):
        lab.deploy("plain", "def handler(e, c):\n    return 1\n", kms_key_arn="my-key")
    lab.deploy("plain", "def handler(e, c):\n    return 1\n")
    client = lab.aws.client("lambda")
    assert "KMSKeyArn" not in client.get_function_configuration(FunctionName="plain")   # the AWS managed key
    key = _key(lab)
    assert client.update_function_configuration(FunctionName="plain", KMSKeyArn=key)["KMSKeyArn"] == key
    assert "KMSKeyArn" not in client.update_function_configuration(FunctionName="plain", KMSKeyArn="")
    with pytest.raises(InvalidParameterValueException, match="at 'plaintext' failed"):
        encrypt_variable(lab, key, "plain", 42)


def test_the_key_of_a_ciphertext_is_read_from_its_metadata(secrets_lab):
    lab = secrets_lab
    key = _key(lab)
    blob = base64.b64decode(encrypt_variable(lab, key, "f", "x"))
    assert key_of_ciphertext(blob) == key.split("/")[-1]
    assert key_of_ciphertext(base64.b64encode(blob).decode()) == key.split("/")[-1]
    assert key_of_ciphertext(b"short") is None and key_of_ciphertext("not base64!") is None


# The extension: GET /secretsmanager/get?secretId= and /systemsmanager/parameters/get?name=, with
# the header X-Aws-Parameters-Secrets-Token set to AWS_SESSION_TOKEN; the same permissions as the
# SDK calls (https://docs.aws.amazon.com/secretsmanager/latest/userguide/retrieving-secrets_lambda.html,
# https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-integration-lambda-extensions.html).
# A secret's ARN ends in "-" and six random characters, matched by "-??????"
# (https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html).
def test_the_extension_answers_with_the_functions_role_and_only_with_its_token(secrets_lab):
    lab = secrets_lab
    db = _secret(lab, "ext-db-password", "hunter2")
    admin = _secret(lab, "ext-admin-password", "root")
    ssm = lab.aws.client("ssm")
    ssm.put_parameter(Name="/ext/db/token", Value="t0k3n", Type="SecureString", Overwrite=True)
    lab.iam.create_role("ext-reader", policies={"read": _policy(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:ext-db-password-??????"},
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/ext/db/*"})})
    fn = lab.deploy("ext", READER, role="ext-reader", memory_mb=512, timeout_s=30)
    result = fn.invoke({"reads": [
        ["/secretsmanager/get?secretId=ext-db-password", True],
        ["/systemsmanager/parameters/get?name=%2Fext%2Fdb%2Ftoken&withDecryption=true", True],
        ["/secretsmanager/get?secretId=ext-admin-password", True],
        ["/secretsmanager/get?secretId=ext-db-password", False],
    ]})
    assert result.ok, result.logs
    secret, parameter, denied, no_token = result.payload["reads"]
    assert (secret["ARN"], secret["Name"], secret["SecretString"], secret["VersionStages"]) == (
        db, "ext-db-password", "hunter2", ["AWSCURRENT"])
    assert parameter["Parameter"]["Name"] == "/ext/db/token" and parameter["Parameter"]["Value"] == "t0k3n"
    assert parameter["Parameter"]["Type"] == "SecureString"
    assert denied[0] == 400 and denied[1].endswith(
        "api error AccessDeniedException: " + _denied("secretsmanager:GetSecretValue", admin, "ext-reader", "ext"))
    assert no_token[0] == 401
    # The notebook's side has no environment's token: refused too.
    request = urllib.request.Request(
        f"http://127.0.0.1:{lab.secrets_extension.address[1]}/secretsmanager/get?secretId=ext-db-password",
        headers={TOKEN_HEADER: "not-a-session-token"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    assert ("secretsmanager:GetSecretValue", db) in lab.iam.used("ext")


# "By default, it caches secrets for 300 seconds (5 minutes)", per execution environment
# (https://docs.aws.amazon.com/lambda/latest/dg/with-secrets-manager.html); SECRETS_MANAGER_TTL sets
# it, 0 turns the cache off, and above 300 it is 300 (the extension logs "SECRETS_MANAGER_TTL exceeds
# max limit. Setting Secrets Manger TTL to 5m0s", aws-samples/aws-lambda-extensions#104).
def test_a_rotated_secret_is_seen_through_the_cache_only_after_its_ttl_on_the_lab_clock(secrets_lab):
    lab = secrets_lab
    _secret(lab, "ext-rotating", "v1")
    client = lab.aws.client("secretsmanager")
    read = {"reads": [["/secretsmanager/get?secretId=ext-rotating", True]]}
    default = lab.deploy("cached", READER, memory_mb=512, timeout_s=30)
    short = lab.deploy("short", READER, env={"SECRETS_MANAGER_TTL": "30"}, memory_mb=512, timeout_s=30)
    uncached = lab.deploy("uncached", READER, env={"SECRETS_MANAGER_TTL": "0"}, memory_mb=512, timeout_s=30)
    capped = lab.deploy("capped", READER, env={"SECRETS_MANAGER_TTL": "3600"}, memory_mb=512, timeout_s=30)

    def values():
        return [f.invoke(read).payload["reads"][0]["SecretString"] for f in (default, short, uncached, capped)]

    assert values() == ["v1", "v1", "v1", "v1"]
    fetched = lab.secrets_extension.fetches
    client.put_secret_value(SecretId="ext-rotating", SecretString="v2")          # a rotation
    assert values() == ["v1", "v1", "v2", "v1"]
    assert lab.secrets_extension.fetches == fetched + 1                          # only the uncached one asked
    lab.clock.advance(31)
    assert values() == ["v1", "v2", "v2", "v1"]
    lab.clock.advance(270)                                                      # 301 s after the first read
    assert values() == ["v2", "v2", "v2", "v2"]
    [(entry, left)] = lab.secrets_extension.cached("cached").items()
    assert entry[0] == "secretsmanager" and left == 300


def test_the_extension_on_the_docker_backend_is_at_localhost_2773(docker_lab):
    lab = docker_lab
    extension = attach(lab)
    try:
        _secret(lab, "ext-docker", "from-docker")
        fn = lab.deploy("boxed-reader", READER, memory_mb=512, timeout_s=30)
        result = fn.invoke({"reads": [["/secretsmanager/get?secretId=ext-docker", True],
                                      ["/secretsmanager/get?secretId=ext-docker", False]]})
        assert result.ok, result.logs
        assert result.payload["reads"][0]["SecretString"] == "from-docker"
        assert result.payload["reads"][1][0] == 401
    finally:
        extension.close()


# SSM_PARAMETER_STORE_TTL and PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED
# (https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-integration-lambda-extensions.html).
def test_a_changed_parameter_is_seen_after_its_own_ttl_or_at_once_with_the_cache_off(secrets_lab):
    lab = secrets_lab
    ssm = lab.aws.client("ssm")
    ssm.put_parameter(Name="/ext/flag", Value="off", Type="String", Overwrite=True)
    read = {"reads": [["/systemsmanager/parameters/get?name=/ext/flag", True]]}
    ttl = lab.deploy("flag-ttl", READER, env={"SSM_PARAMETER_STORE_TTL": "10"}, memory_mb=512, timeout_s=30)
    off = lab.deploy("flag-off", READER, env={"PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED": "false"},
                     memory_mb=512, timeout_s=30)

    def values():
        return [f.invoke(read).payload["reads"][0]["Parameter"]["Value"] for f in (ttl, off)]

    assert values() == ["off", "off"]
    ssm.put_parameter(Name="/ext/flag", Value="on", Type="String", Overwrite=True)
    assert values() == ["off", "on"]
    lab.clock.advance(11)
    assert values() == ["on", "on"]
    assert lab.secrets_extension.cached("flag-off") == {}


FLOOD = """
import os, socket, time
def handler(event, context):
    port = int(os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2773"))
    held = []
    for _ in range(event["connections"]):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.send(b"GET /secretsmanager/get?secretId=x HTTP/1.1\\r\\n")   # and never the rest
            held.append(s)
        except OSError:
            break
    print("FLOOD READY", len(held), flush=True)
    time.sleep(event["hold_s"])
    return len(held)
"""


def test_a_function_flooding_the_extension_cannot_keep_another_from_its_secret(secrets_lab):
    import threading
    lab = secrets_lab
    _secret(lab, "flood-db", "v1")
    lab.deploy("reader", READER, timeout_s=30)
    attacker = lab.deploy("flood", FLOOD, memory_mb=1769, timeout_s=60)
    ready, out = threading.Event(), {}
    attack = threading.Thread(target=lambda: out.setdefault("r", attacker.invoke(
        {"connections": 200, "hold_s": 12}, on_log=lambda line: line.startswith("FLOOD READY") and ready.set())))
    attack.start()
    try:
        assert ready.wait(60), "the flood never started"
        threads_during = threading.active_count()
        answer = lab.functions["reader"].invoke({"reads": [["/secretsmanager/get?secretId=flood-db", True]]})
        still_flooding = attack.is_alive()
    finally:
        attack.join(90)
    print("held by the attacker:", out["r"].payload, "refused:", lab.secrets_extension._server.refused,
          "lab threads during the flood:", threads_during)
    assert still_flooding, "the reader must run while the flood holds its connections"
    assert answer.ok and answer.payload["reads"][0]["SecretString"] == "v1", answer.logs
    # The lab's threads stay bounded (one per connection, at most the cap); a silent connection is
    # dropped after CONNECTION_TIMEOUT_S, so the reader's request waits at most that long for a slot.
    assert threads_during < 64 + 40

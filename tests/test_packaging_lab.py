"""A function with dependencies and layers, end to end: installed into its package, mounted at /opt,
imported by real environments (Docker and process), sized, and refused as Lambda refuses."""

import json
import os

import pytest

from lambdalab_ext.errors import InvalidParameterValueException

from test_packaging import make_wheel

USES_BOTH = """
import os, sys
import tinyjoke
from shared import GREETING

def handler(event, context):
    return {"joke": tinyjoke.JOKE, "greeting": GREETING, "tool": os.path.exists(os.environ["TOOL"]),
            "path": [p for p in sys.path if "opt" in p or p == "/var/task"],
            "from": tinyjoke.__file__.startswith(os.environ["LAMBDA_TASK_ROOT"])}
"""


@pytest.fixture
def local_index(tmp_path, monkeypatch):
    folder = tmp_path / "wheels"
    folder.mkdir()
    make_wheel(folder, "tinyjoke", "1.0", "py3-none-any", {"tinyjoke/__init__.py": "JOKE = 'knock knock'\n"})
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    monkeypatch.setenv("LAMBDALAB_CACHE", str(tmp_path / "cache"))
    return folder


@pytest.mark.parametrize("kind", ["docker", "process"])
def test_requirements_and_layers_reach_the_function(kind, make_lab, local_index):
    lab = make_lab(kind)
    first = lab.publish_layer("shared", {"python/shared.py": "GREETING = 'from layer 1'\n"})
    second = lab.publish_layer("shared", {"python/shared.py": "GREETING = 'from layer 2'\n",
                                          "bin/tool": "#!/bin/sh\necho tool\n"})
    assert second.version == 2
    tool = "/opt/bin/tool" if kind == "docker" else None
    fn = lab.deploy("joker", USES_BOTH, requirements="tinyjoke==1.0", layers=[second.arn],
                    env={"TOOL": tool or "/nonexistent"})
    result = fn.invoke({})
    assert result.ok, result.logs
    out = result.payload
    assert out["joke"] == "knock knock" and out["greeting"] == "from layer 2" and out["from"]
    if kind == "docker":
        assert out["tool"]
        # Lambda's order: the package, then the layers' site-packages, then /opt/python.
        assert out["path"][:3] == ["/var/task", "/opt/python/lib/python3.11/site-packages", "/opt/python"]
    # An older version still works for another function: versions are immutable.
    old = lab.deploy("old", "from shared import GREETING\ndef handler(e, c):\n    return GREETING\n",
                     layers=["shared:1"])
    assert old.invoke({}).payload == "from layer 1"


def test_a_missing_layer_and_a_bad_requirement_are_lambdas_errors(make_lab, local_index):
    from lambdalab_ext.errors import ResourceNotFoundException
    lab = make_lab("process")
    with pytest.raises(ResourceNotFoundException, match="layer:nothing:1 does not exist"):
        lab.deploy("f", "def handler(e, c):\n    return 1\n", layers=["nothing:1"])
    with pytest.raises(InvalidParameterValueException, match="Could not install notthere"):
        lab.deploy("f", "def handler(e, c):\n    return 1\n", requirements=["notthere==9"])
    assert "f" not in lab.functions        # nothing was deployed


def test_a_package_over_250_mb_unzipped_is_refused(make_lab, tmp_path):
    lab = make_lab("process")
    big = tmp_path / "big"
    (big / "python").mkdir(parents=True)
    with open(big / "python" / "blob.bin", "wb") as f:
        f.truncate(262_144_000)            # sparse: 250 MB as Lambda counts, no disk used
    layer = lab.publish_layer("huge", str(big))
    assert layer.unzipped_size == 262_144_000
    with pytest.raises(InvalidParameterValueException, match="Unzipped size must be smaller than 262144000 bytes"):
        lab.deploy("g", "def handler(e, c):\n    return 1\n", layers=[layer.arn])


def test_get_function_shows_the_packages_size_and_its_layers(make_lab, local_index):
    lab = make_lab("process")
    layer = lab.publish_layer("shared", {"python/shared.py": "GREETING = 'hi'\n" * 100})
    lab.deploy("sized", "import tinyjoke\ndef handler(e, c):\n    return 1\n", requirements="tinyjoke",
               layers=[layer.arn])
    config = lab.aws.client("lambda").get_function(FunctionName="sized")["Configuration"]
    assert config["Layers"] == [{"Arn": layer.arn, "CodeSize": layer.code_size}]
    # The package holds the cell and the installed requirement (its files and its .dist-info).
    assert 300 < config["CodeSize"] < 3_000


# A custom runtime: bash alone speaks the Runtime API (no curl in the image), as "Tutorial: Building a
# custom runtime" does with curl.
BASH_BOOTSTRAP = r'''#!/bin/bash
set -euo pipefail
api="${AWS_LAMBDA_RUNTIME_API}"
host="${api%:*}"; port="${api#*:}"
request() {   # METHOD PATH BODY -> the response's headers in $headers, its body in $body
  exec 3<>"/dev/tcp/${host}/${port}"
  printf '%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$1" "$2" "$api" "${#3}" "$3" >&3
  local response; response="$(cat <&3)"; exec 3<&-
  headers="${response%%$'\r\n\r\n'*}"; body="${response#*$'\r\n\r\n'}"
}
echo "bootstrap starting, handler ${_HANDLER}"
while true; do
  request GET /2018-06-01/runtime/invocation/next ""
  id="$(printf '%s\n' "$headers" | tr -d '\r' | sed -n 's/^Lambda-Runtime-Aws-Request-Id: //Ip')"
  if [[ "$body" == *fail* ]]; then
    request POST "/2018-06-01/runtime/invocation/${id}/error" '{"errorType":"Bash.Failed","errorMessage":"asked to fail"}'
  else
    request POST "/2018-06-01/runtime/invocation/${id}/response" "{\"echo\": ${body}, \"handler\": \"${_HANDLER}\"}"
  fi
done
'''


@pytest.mark.parametrize("kind", ["docker", "process"])
def test_a_custom_runtime_is_a_bootstrap_that_speaks_the_runtime_api(kind, make_lab):
    lab = make_lab(kind)
    fn = lab.deploy("bashfn", BASH_BOOTSTRAP, handler="function.handler", runtime="provided.al2023")
    first = fn.invoke({"n": 1})
    assert first.ok, first.logs
    assert first.payload == {"echo": {"n": 1}, "handler": "function.handler"}
    assert "bootstrap starting, handler function.handler" in first.logs
    assert fn.invoke({"n": 2}).payload["echo"] == {"n": 2} and not fn.invoke({"n": 3}).cold
    failed = fn.invoke({"fail": True})
    assert failed.error == {"errorType": "Bash.Failed", "errorMessage": "asked to fail"}
    config = lab.aws.client("lambda").get_function(FunctionName="bashfn")["Configuration"]
    assert config["Runtime"] == "provided.al2023" and config["Handler"] == "function.handler"


def test_a_custom_runtime_takes_any_handler_but_no_blank(make_lab):
    lab = make_lab("process")
    with pytest.raises(InvalidParameterValueException, match="regular expression pattern"):
        lab.deploy("bad", BASH_BOOTSTRAP, handler="has space", runtime="provided.al2023")
    with pytest.raises(InvalidParameterValueException, match="not a runtime of the lab"):
        lab.deploy("bad", BASH_BOOTSTRAP, runtime="java21")


IMAGE_DOCKERFILE = """ARG LAMBDA_RUNTIME_IMAGE
FROM ${LAMBDA_RUNTIME_IMAGE}
COPY app.py /var/task/
COPY data.txt /var/task/data/
ENTRYPOINT ["/bin/false"]
CMD ["app.handler"]
"""


@pytest.mark.docker
def test_a_container_image_function_runs_its_cmd_as_the_handler(make_lab):
    lab = make_lab("docker")
    fn = lab.deploy_image("imaged", IMAGE_DOCKERFILE, {
        "app.py": "import os\ndef handler(event, context):\n"
                  "    return {'data': open('/var/task/data/data.txt').read(), 'handler': os.environ['_HANDLER']}\n",
        "data.txt": "baked into the image"})
    result = fn.invoke({})
    assert result.ok, result.logs
    assert result.payload == {"data": "baked into the image", "handler": "app.handler"}
    config = lab.aws.client("lambda").get_function(FunctionName="imaged")["Configuration"]
    assert config["PackageType"] == "Image" and "Handler" not in config
    assert config["ImageConfigResponse"]["ImageConfig"]["Command"] == ["app.handler"]
    with pytest.raises(InvalidParameterValueException, match="has no CMD"):
        lab.deploy_image("nocmd", "ARG LAMBDA_RUNTIME_IMAGE\nFROM ${LAMBDA_RUNTIME_IMAGE}\nCMD []\n")
    with pytest.raises(InvalidParameterValueException, match="could not be built"):
        lab.deploy_image("broken", "ARG LAMBDA_RUNTIME_IMAGE\nFROM ${LAMBDA_RUNTIME_IMAGE}\nCOPY missing.py /var/task/\n")


def test_container_images_need_the_docker_backend(make_lab):
    lab = make_lab("process")
    with pytest.raises(InvalidParameterValueException, match="need the Docker backend"):
        lab.deploy_image("imaged", IMAGE_DOCKERFILE, {"app.py": "", "data.txt": ""})


NODE_HANDLER = """
const started = Date.now();
let calls = 0;
exports.handler = async (event, context) => {
  calls += 1;
  console.log("got", JSON.stringify(event));
  if (event.fail) { throw new TypeError("asked to fail"); }
  return { hello: event.name, calls, requestId: context.awsRequestId, version: process.version,
           left: context.getRemainingTimeInMillis() > 0 };
};
exports.callback = (event, context, callback) => { callback(null, { via: "callback" }); };
"""


@pytest.mark.parametrize("kind", ["docker", "process"])
def test_a_nodejs_function_runs_with_exports_handler(kind, make_lab):
    lab = make_lab(kind)
    fn = lab.deploy("noder", NODE_HANDLER, runtime="nodejs20.x", memory_mb=512)
    first = fn.invoke({"name": "Ada"})
    assert first.ok, first.logs
    assert first.payload["hello"] == "Ada" and first.payload["calls"] == 1 and first.payload["left"]
    assert first.payload["requestId"] == first.request_id and first.cold and first.init_duration_ms > 0
    assert f"\t{first.request_id}\tINFO\tgot {{\"name\":\"Ada\"}}" in first.logs
    second = fn.invoke({"name": "Bo"})
    assert second.payload["calls"] == 2 and not second.cold          # warm: module state kept
    failed = fn.invoke({"fail": True})
    assert failed.error["errorType"] == "TypeError" and failed.error["errorMessage"] == "asked to fail"
    assert failed.error["trace"][0] == "TypeError: asked to fail"
    assert lab.deploy("cb", NODE_HANDLER, handler="callback", runtime="nodejs20.x").invoke({}).payload == \
        {"via": "callback"}
    missing = lab.deploy("missing", NODE_HANDLER, handler="nothere", runtime="nodejs20.x").invoke({})
    assert missing.error["errorType"] == "Runtime.HandlerNotFound"
    broken = lab.deploy("broken", "exports.handler = async (e) => {", runtime="nodejs20.x").invoke({})
    assert broken.error["errorType"] == "Runtime.UserCodeSyntaxError"


IDEMPOTENT = """
import json, os
import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent

persistence = DynamoDBPersistenceLayer(table_name="idempotency")
config = IdempotencyConfig(event_key_jmespath="orderId")
charges = boto3.client("sqs")

@idempotent(persistence_store=persistence, config=config)
def handler(event, context):
    # The side effect: one charge message per order, however often the order is delivered.
    url = charges.get_queue_url(QueueName="charges")["QueueUrl"]
    charges.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    return {"charged": event["orderId"], "amount": event["amount"]}
"""


@pytest.mark.parametrize("kind", ["docker", "process"])
def test_powertools_from_its_layer_keeps_a_duplicate_from_charging_twice(kind, make_lab):
    lab = make_lab(kind)
    ddb, sqs = lab.aws.client("dynamodb"), lab.aws.client("sqs")
    for name in [n for n in ddb.list_tables()["TableNames"] if n == "idempotency"]:
        ddb.delete_table(TableName=name)
    ddb.create_table(TableName="idempotency", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    try:
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="charges")["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist:
        pass
    url = sqs.create_queue(QueueName="charges")["QueueUrl"]
    layer = lab.powertools_layer()
    assert layer.arn.endswith(":layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:1")
    assert lab.powertools_layer() is layer                      # published once
    fn = lab.deploy("charge", IDEMPOTENT, layers=[layer.arn], memory_mb=512, timeout_s=15)
    order = {"orderId": "A-1", "amount": 42}
    first, again = fn.invoke(order), fn.invoke(order)           # the same order, delivered twice
    assert first.ok, first.logs
    assert first.payload == again.payload == {"charged": "A-1", "amount": 42}
    other = fn.invoke({"orderId": "B-2", "amount": 7})
    assert other.payload["charged"] == "B-2"
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        bodies += [json.loads(m["Body"])["orderId"] for m in got]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(got)])
    assert sorted(bodies) == ["A-1", "B-2"]                     # A-1 was charged once
    items = ddb.scan(TableName="idempotency")["Items"]
    assert len(items) == 2 and {i["status"]["S"] for i in items} == {"COMPLETED"}

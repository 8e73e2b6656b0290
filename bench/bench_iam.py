"""What authorizing every AWS call of a function costs, as a same-run ratio, and the evaluator's rate.

1. S3 GetObject of 1 KB from a warm function whose role has 10 statements (the call is evaluated
   against all of them, the allowing one last) against the same call from a function with the lab's
   default role (one statement allowing everything), interleaved in the same lab (goal: <= 1.1x).
2. 100,000 requests evaluated against a 50-statement policy set (identity policies, a permissions
   boundary and a resource policy; allowed, explicitly denied and implicitly denied ones): the rate.

    .venv/bin/python bench/bench_iam.py [--backend docker|process] [--requests 100000]
"""

import argparse
import random
import statistics
import time

from lambdalab_ext import Lab
from lambdalab_ext.iam import AuthorizationRequest, evaluate, parse_policy

ACCOUNT = "123456789012"

GET_IN_FUNCTION = """
import time, boto3
s3 = boto3.client("s3")
def handler(event, context):
    times = []
    for i in range(event["n"]):
        t = time.perf_counter()
        s3.get_object(Bucket="bench-iam", Key=f"k{i % 10}")["Body"].read()
        times.append((time.perf_counter() - t) * 1000)
    return times
"""


def ten_statements():
    """Nine statements that do not allow the call (other services, other buckets, a conditioned
    deny that does not apply), then the one that does."""
    statements = [
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
         "Resource": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"},
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bench-iam/out/*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other-bucket/*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bench-iam/k*"},
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def bench_get(backend, rounds=7, n=40):
    lab = Lab(backend=backend)
    try:
        s3 = lab.aws.client("s3")
        s3.create_bucket(Bucket="bench-iam")
        for i in range(10):
            s3.put_object(Bucket="bench-iam", Key=f"k{i}", Body=b"x" * 1024)
        lab.iam.create_role("ten-statements", policies={"p": ten_statements()})
        scoped = lab.deploy("scoped", GET_IN_FUNCTION, role="ten-statements", memory_mb=1769, timeout_s=120)
        default = lab.deploy("default", GET_IN_FUNCTION, memory_mb=1769, timeout_s=120)
        for fn in (scoped, default):
            assert fn.invoke({"n": 5}).ok                    # warm, with a client and a connection
        times = {"scoped": [], "default": []}
        for r in range(rounds):                              # interleaved: the same machine state
            order = (scoped, default) if r % 2 == 0 else (default, scoped)
            for fn in order:
                result = fn.invoke({"n": n})
                assert result.ok, result.logs
                times[fn.name] += result.payload
        denied = lab.iam.decisions("scoped", denied=True)
        assert not denied, denied[-1]
        return statistics.median(times["scoped"]), statistics.median(times["default"])
    finally:
        lab.shutdown()


def fifty_statements():
    services = ["s3", "dynamodb", "sqs", "sns", "lambda", "kms", "secretsmanager", "ssm", "logs", "events"]
    identity = []
    for i in range(40):
        service = services[i % len(services)]
        statement = {"Sid": f"S{i}", "Effect": "Deny" if i % 9 == 8 else "Allow",
                     "Action": [f"{service}:Get*", f"{service}:Put*"] if i % 2 else f"{service}:*",
                     "Resource": f"arn:aws:{service}:us-east-1:{ACCOUNT}:thing-{i % 7}/*"}
        if i % 5 == 0:
            statement["Condition"] = {"StringEquals": {"aws:PrincipalTag/team": f"team-{i % 3}"}}
        if i % 11 == 0:
            statement["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
        identity.append(statement)
    boundary = [{"Effect": "Allow", "Action": f"{s}:*", "Resource": "*"} for s in services[:8]]
    resource = [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/worker"},
                 "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/*"},
                {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::shared/private/*"}]
    assert len(identity) + len(boundary) + len(resource) == 50
    doc = {"Version": "2012-10-17", "Statement": identity}
    return (parse_policy(doc, "identity", "identity"),
            parse_policy({"Version": "2012-10-17", "Statement": boundary}, "boundary", "identity"),
            parse_policy({"Version": "2012-10-17", "Statement": resource}, "bucket", "resource")), services


def bench_evaluate(requests, seed=7):
    rng = random.Random(seed)
    (identity, boundary, resource), services = fifty_statements()
    principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/fn"
    role = f"arn:aws:iam::{ACCOUNT}:role/worker"
    batch = []
    for i in range(1000):
        service = rng.choice(services)
        verb = rng.choice(["GetItem", "PutObject", "GetObject", "DeleteThing", "Publish"])
        thing = f"arn:aws:{service}:us-east-1:{ACCOUNT}:thing-{rng.randrange(9)}/x{i}"
        batch.append(AuthorizationRequest(principal, f"{service}:{verb}", thing, role_arn=role,
                                          context={"aws:SourceIp": f"10.0.{i % 256}.1"},
                                          principal_tags={"team": f"team-{i % 3}"}))
    decisions = {}
    t = time.perf_counter()
    for n in range(requests):
        request = batch[n % len(batch)]
        with_resource = resource if request.action.startswith("s3:") else None
        decision = evaluate(request, [identity], resource_policy=with_resource, permissions_boundary=[boundary])
        decisions[decision.decision] = decisions.get(decision.decision, 0) + 1
    elapsed = time.perf_counter() - t
    return requests / elapsed, elapsed, decisions


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="process", choices=("docker", "process"))
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    scoped, default = bench_get(args.backend)
    ratio = scoped / default
    print(f"S3 GetObject from a warm function ({args.backend}): 10-statement role {scoped:.2f} ms, "
          f"default role {default:.2f} ms (median): {ratio:.2f}x  [goal <= 1.1x: {'met' if ratio <= 1.1 else 'MISSED'}]")
    rate, elapsed, decisions = bench_evaluate(args.requests)
    print(f"evaluator: {args.requests:,} requests against 50 statements in {elapsed:.2f} s: {rate:,.0f} requests/s "
          f"({', '.join(f'{k} {v:,}' for k, v in sorted(decisions.items()))})")


if __name__ == "__main__":
    main()

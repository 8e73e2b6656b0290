"""The SQS poller's cost, as a same-run ratio: 10,000 messages drained by an event source mapping at
batch size 10, against the same function invoked directly with 1,000 batches of the same events.

The mapping's drain is timed from the first ``advance()`` to the empty queue (receives, event records,
invocations, deletes, the lab record); the messages are loaded before the clock starts, and both sides
find the same warm environments (ten, started before anything is timed). The direct
baseline invokes ``lab.service.invoke_request`` with 1,000 ten-record SQS events, once one at a time
and once on as many threads as the mapping ran batches at once (it starts with five), the like-for-like
comparison (goal: at most 1.5x).

    .venv/bin/python bench/bench_sources_sqs.py [--backend process|docker] [--messages 10000]
"""

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor

from lambdalab_ext import Lab, VirtualClock
from lambdalab_ext.events.messaging import sqs
from lambdalab_ext.request import InvocationRequest
from lambdalab_ext.sources.sqs import EmbeddedQueue

HANDLER = """
def handler(event, context):
    total = 0
    for record in event["Records"]:
        total += len(record["body"])
    return None
"""


def drain_by_mapping(lab, arn, messages):
    queue = EmbeddedQueue(arn)
    queue.send_messages(json.dumps({"order": n, "item": "book"}) for n in range(messages))
    lab.create_event_source_mapping("consumer", arn, BatchSize=10)
    started = time.perf_counter()
    while queue.moto()._messages:
        lab.clock.advance(1)
    elapsed = time.perf_counter() - started
    batches = lab.record.events(kind="batch", function="consumer")
    peak = max(p["concurrency"] for p in lab.record.events(kind="poll", function="consumer"))
    return elapsed, len(batches), peak


def invoke_directly(lab, arn, batches, workers):
    name = arn.rsplit(":", 1)[1]
    payloads = [json.dumps(sqs(bodies=[json.dumps({"order": b * 10 + i, "item": "book"}) for i in range(10)],
                               queue=name, seed=b)).encode() for b in range(batches)]

    def one(payload):
        return lab.service.invoke_request(InvocationRequest("consumer", payload, source="sqs", source_arn=arn))

    started = time.perf_counter()
    if workers == 1:
        results = [one(p) for p in payloads]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, payloads))
    assert all(r.ok for r in results)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="process", choices=("process", "docker"))
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    lab = Lab(backend=args.backend, clock=VirtualClock())
    try:
        client = lab.aws.client("sqs")
        url = client.create_queue(QueueName="bench")["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        fn = lab.deploy("consumer", HANDLER, memory_mb=1769)
        # Warm as many environments as the mapping will use (it starts five batches at once), so that
        # neither side pays cold starts the other does not.
        with ThreadPoolExecutor(max_workers=10) as pool:
            list(pool.map(lambda _: fn.invoke({"Records": []}), range(200)))
        batches = args.messages // 10
        sequential = invoke_directly(lab, arn, batches, workers=1)
        mapping_s, count, peak = drain_by_mapping(lab, arn, args.messages)
        parallel = invoke_directly(lab, arn, batches, workers=peak)
        print(f"backend: {args.backend}; {args.messages:,} messages, batch size 10")
        print(f"mapping drain: {mapping_s:.2f} s for {count:,} batches (up to {peak} at once), "
              f"{mapping_s / count * 1000:.2f} ms a batch")
        print(f"direct, one at a time: {sequential:.2f} s ({sequential / batches * 1000:.2f} ms a batch); "
              f"ratio {mapping_s / sequential:.2f}x")
        print(f"direct, {peak} at a time: {parallel:.2f} s ({parallel / batches * 1000:.2f} ms a batch); "
              f"ratio {mapping_s / parallel:.2f}x (goal: at most 1.5x)")
    finally:
        lab.shutdown()


if __name__ == "__main__":
    main()

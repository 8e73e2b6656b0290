"""AWS inside the lab: what the embedded services and asynchronous invocation cost, as same-run ratios.

1. S3 PutObject of 1 KB from inside a warm function against the same call from the host to the same
   endpoint (goal: at most 1.3x).
2. 1,000 asynchronous events (no failures) against 1,000 synchronous invokes of the same function
   (goal: at most 1.2x of its time).
3. 1,000 asynchronous events failing 30% of attempts (10 ms each), retried on a virtual clock
   advanced by 6 hours: wall time against the handler time spent (goal: at most 1.5x).
4. moto's start-up cost on the first AWS call.

    .venv/bin/python bench/bench_aws.py [--backend docker|process] [--events 1000]
"""

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from lambdalab_ext import Lab, VirtualClock

PUT_IN_FUNCTION = """
import time, boto3
s3 = boto3.client("s3")
def handler(event, context):
    body = b"x" * 1024
    times = []
    for i in range(event["n"]):
        t = time.perf_counter()
        s3.put_object(Bucket="bench", Key=f"k{i % 10}", Body=body)
        times.append((time.perf_counter() - t) * 1000)
    return times
"""


def bench_put(backend, rounds=5, n=50):
    lab = Lab(backend=backend)
    try:
        started = time.perf_counter()
        s3 = lab.aws.client("s3")
        s3.create_bucket(Bucket="bench")
        first_call_s = time.perf_counter() - started
        fn = lab.deploy("put", PUT_IN_FUNCTION, memory_mb=1769, timeout_s=120)
        fn.invoke({"n": 5})                                  # warm, with a client and a connection
        inside, host = [], []
        for _ in range(rounds):                              # interleaved: the same machine state
            inside += fn.invoke({"n": n}).payload
            for i in range(n):
                t = time.perf_counter()
                s3.put_object(Bucket="bench", Key=f"h{i % 10}", Body=b"x" * 1024)
                host.append((time.perf_counter() - t) * 1000)
        return statistics.median(inside), statistics.median(host), first_call_s, lab.aws.start_seconds
    finally:
        lab.shutdown()


def bench_async(backend, events):
    lab = Lab(backend=backend)
    try:
        fn = lab.deploy("noop", "def handler(e, c):\n    return e\n", memory_mb=1769)
        workers = 8
        with ThreadPoolExecutor(workers) as pool:            # warm the same number of environments
            list(pool.map(lambda n: fn.invoke({"n": n}), range(workers * 2)))
        t = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda n: fn.invoke({"n": n}), range(events)))
        sync_s = time.perf_counter() - t
        t = time.perf_counter()
        for n in range(events):
            fn.invoke({"n": n}, invocation_type="Event")
        lab.async_queue.wait_idle()
        async_s = time.perf_counter() - t
        return sync_s, async_s
    finally:
        lab.shutdown()


FLAKY = """
import random, time
rng = random.Random(3)
def handler(event, context):
    time.sleep(0.01)
    if rng.random() < 0.3:
        raise RuntimeError("flaky")
    return 1
"""


def bench_retries(backend, events):
    lab = Lab(backend=backend, clock=VirtualClock())
    try:
        fn = lab.deploy("flaky", FLAKY, memory_mb=1769, timeout_s=10)
        t = time.perf_counter()
        for n in range(events):
            fn.invoke({"n": n}, invocation_type="Event")
        lab.async_queue.wait_idle()
        lab.clock.advance(6 * 3600)
        lab.async_queue.wait_idle()
        wall = time.perf_counter() - t
        durations = [e["duration_ms"] for e in lab.record.events(kind="invoke", function="flaky")]
        colds = sum(1 for e in lab.record.events(kind="invoke", function="flaky") if e["cold"])
        return wall, sum(durations) / 1000, len(durations), colds
    finally:
        lab.shutdown()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="docker")
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    inside, host, first_call_s, moto_s = bench_put(args.backend)
    print(f"[1] S3 PutObject 1 KB, median: inside a warm function {inside:.2f} ms, from the host "
          f"{host:.2f} ms: {inside / host:.2f}x (goal <= 1.3x)")
    print(f"[4] first AWS call {first_call_s * 1000:.0f} ms, of which moto's start-up {moto_s * 1000:.0f} ms")
    sync_s, async_s = bench_async(args.backend, args.events)
    print(f"[2] {args.events:,} events: asynchronous {async_s:.2f} s, synchronous from 8 threads {sync_s:.2f} s: "
          f"{async_s / sync_s:.2f}x (goal <= 1.2x)")
    wall, handler_s, attempts, colds = bench_retries(args.backend, args.events)
    # First attempts run on 8 workers; retries run in clock.advance(), one after another, at their
    # moments: wall time can be below the handler time summed.
    print(f"[3] {args.events:,} events, 30% of attempts failing, retried on a virtual clock (6 h advanced): "
          f"{attempts:,} attempts ({colds} cold) in {wall:.2f} s against {handler_s:.2f} s of handler time: "
          f"{wall / handler_s:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()

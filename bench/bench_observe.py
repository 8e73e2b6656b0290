"""Benchmark: FilterLogEvents over 100,000 stored log events with three kinds of filter pattern.

Run from the repository root:  python bench/bench_observe.py [events]

Fills a ``LogStore`` log group with seeded Lambda-like events (START / END / REPORT lines, text
lines, JSON lines, access-log lines over 20 streams), then times ``filter_log_events`` (every page,
as a paginator reads them) with:

* a term pattern         ``ERROR``
* a JSON pattern         ``{ $.level = "ERROR" && $.latency > 100 }``
* a regex pattern        ``%timed? out after [0-9]+%``

against the baseline measured in the same run on the same messages: a plain Python ``in``
substring scan (``[m for m in messages if "ERROR" in m]``), the least any filter can cost in
Python. Prints events/s and the ratio to the baseline (no assertion: it reports).

With ``--invoke`` it also measures what keeping the logs and metrics costs a warm no-op invoke:
the same lab (process backend), rounds of invocations with the observability off and on in turn.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing

from lambdalab_ext.observe.logs import LogStore  # noqa: E402

SEED = 20250801
REPEATS = 5
GROUP = "/aws/lambda/bench"
PATTERNS = {
    "term": "ERROR",
    "json": '{ $.level = "ERROR" && $.latency > 100 }',
    "regex": "%timed? out after [0-9]+%",
}


def messages(n, seed=SEED):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.random()
        request = f"{rng.getrandbits(128):032x}"
        if kind < 0.25:
            out.append(f"START RequestId: {request} Version: $LATEST")
        elif kind < 0.45:
            out.append(f"REPORT RequestId: {request}\tDuration: {rng.uniform(1, 900):.2f} ms\tBilled Duration: "
                       f"{rng.randint(1, 900)} ms\tMemory Size: 128 MB\tMax Memory Used: {rng.randint(30, 128)} MB")
        elif kind < 0.70:
            level = rng.choice(("INFO", "INFO", "WARN", "ERROR"))
            out.append(json.dumps({"level": level, "latency": rng.randint(1, 500), "request": request}))
        elif kind < 0.85:
            out.append(f'10.0.{rng.randint(0, 255)}.{rng.randint(0, 255)} - - [10/Oct/2000:13:55:36 -0700] '
                       f'"GET /item/{i} HTTP/1.1" {rng.choice((200, 200, 404, 500))} {rng.randint(100, 9000)}')
        elif kind < 0.86:
            out.append(f"2025-01-01T00:00:00.000Z {request} Task timed out after 3.00 seconds")
        else:
            out.append(f"[{rng.choice(('INFO', 'ERROR'))}]\t2025-01-01T00:00:00.000Z\t{request}\tprocessing item {i}")
    return out


def fill(texts):
    store = LogStore(max_events_per_group=len(texts) + 1)
    batch = 100
    for start in range(0, len(texts), batch):
        stream = f"2025/01/01/[$LATEST]{start // batch % 20:032x}"
        store.put_events(GROUP, stream, [(1_735_689_600_000 + start + i, text)
                                         for i, text in enumerate(texts[start:start + batch])])
    return store


def filter_all(store, pattern):
    found, token = 0, None
    while True:
        page = store.filter_log_events(logGroupName=GROUP, filterPattern=pattern,
                                       **({"nextToken": token} if token else {}))
        found += len(page["events"])
        token = page.get("nextToken")
        if not token:
            return found


def timed(fn, repeats=REPEATS):
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def invoke_overhead(rounds=8, per_round=200):
    """Warm no-op invokes with the logs and metrics off and on, in alternating order (a shared
    machine drifts), and the recording path alone (what each invocation adds)."""
    from lambdalab_ext import Lab
    from lambdalab_ext.observe.logs import lambda_log_events
    from lambdalab_ext.observe.service import attach
    lab = Lab(backend="process")
    try:
        fn = lab.deploy("noop", "def handler(event, context):\n    return None\n")
        log = fn.invoke({}).logs
        times = {"off": [], "on": []}
        for round_ in range(rounds):
            for mode in (("off", "on") if round_ % 2 else ("on", "off")):
                service = attach(lab) if mode == "on" else None
                started = time.perf_counter()
                for _ in range(per_round):
                    fn.invoke({})
                times[mode].append((time.perf_counter() - started) / per_round)
                if service is not None:
                    service.close()
        off_s, on_s = statistics.median(times["off"]), statistics.median(times["on"])
        print(f"warm no-op invoke: {off_s * 1e6:8.0f} us without logs and metrics, {on_s * 1e6:8.0f} us with them "
              f"({(on_s / off_s - 1) * 100:+.1f}%, medians of {rounds} rounds of {per_round})")
        service = attach(lab)
        count = 20_000
        started = time.perf_counter()
        for i in range(count):
            service.logs.put_events("/aws/lambda/noop", "bench", lambda_log_events(log, i, i + 1, i))
        alone = (time.perf_counter() - started) / count
        service.close()
        print(f"recording one invocation's log alone: {alone * 1e6:.1f} us ({alone / off_s * 100:.2f}% of a warm invoke)")
    finally:
        lab.shutdown()


def main(n=100_000):
    texts = messages(n)
    started = time.perf_counter()
    store = fill(texts)
    print(f"stored {n:,} events in {time.perf_counter() - started:.2f} s")
    baseline_s, baseline_found = timed(lambda: [m for m in texts if "ERROR" in m])
    print(f"baseline  `in` substring scan: {baseline_s * 1000:8.1f} ms  {n / baseline_s:12,.0f} events/s  "
          f"({len(baseline_found):,} match)")
    for kind, pattern in PATTERNS.items():
        seconds, found = timed(lambda: filter_all(store, pattern))
        print(f"{kind:<6} {pattern!r:<45} {seconds * 1000:8.1f} ms  {n / seconds:12,.0f} events/s  "
              f"{seconds / baseline_s:6.1f}x the baseline  ({found:,} match)")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 100_000)
    if "--invoke" in sys.argv:
        invoke_overhead()

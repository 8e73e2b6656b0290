"""An EventBridge schedule on a virtual clock: what advancing a day costs against the work it runs.

A ``rate(1 minute)`` rule targets a function doing ``--work-ms`` of CPU work; the lab's virtual clock
is advanced through 24 hours: 1,440 real invocations, each at its moment. The wall time of the
advance is set against the function's own time as the lab record measured it (handler durations
plus the INIT of cold starts), as a ratio (goal: at most 1.3x). The rest is what the lab adds per
firing: the scheduled event, the asynchronous queue, the Runtime API round trip, the record.

    .venv/bin/python bench/bench_schedule.py [--backend process|docker] [--hours 24] [--work-ms 20]
"""

import argparse
import datetime
import statistics
import time

from lambdalab_ext import Lab, VirtualClock

GOAL = 1.3
WORK = """
import time
def handler(event, context):
    end = time.perf_counter() + {work_s}
    n = 0
    while time.perf_counter() < end:
        n += 1
    return {{"time": event["time"], "n": n}}
"""


def run(backend, hours, work_ms):
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc).timestamp()
    clock = VirtualClock(start=start)
    lab = Lab(backend=backend, clock=clock)
    try:
        fn = lab.deploy("tick", WORK.format(work_s=work_ms / 1000), memory_mb=1769, timeout_s=30)
        events = lab.aws.client("events")
        events.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")
        events.put_targets(Rule="every-minute", Targets=[{"Id": "1", "Arn": fn.arn}])
        began = time.perf_counter()
        clock.advance(hours * 3600)
        assert lab.async_queue.wait_idle(600)
        wall_s = time.perf_counter() - began
        invokes = lab.record.events(kind="invoke", function="tick")
        fired = lab.record.events(kind="schedule")
        return wall_s, invokes, fired, lab.backend.name
    finally:
        lab.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="process", choices=["process", "docker", "auto"])
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--work-ms", type=float, default=20)
    args = parser.parse_args()
    wall_s, invokes, fired, backend = run(args.backend, args.hours, args.work_ms)
    expected = int(args.hours * 60)
    handler_ms = sum(e["duration_ms"] for e in invokes)
    init_ms = sum(e["init_duration_ms"] or 0 for e in invokes if e["cold"])
    own_s = (handler_ms + init_ms) / 1000
    cold = sum(1 for e in invokes if e["cold"])
    on_time = all(abs(e.at - f.at) < 1e-6 for e, f in zip(invokes, fired))
    overhead_ms = (wall_s - own_s) * 1000 / max(1, len(invokes))
    print(f"backend {backend}: rate(1 minute) advanced through {args.hours:g} virtual hours")
    print(f"  schedule firings        {len(fired):>8,}   (expected {expected:,})")
    print(f"  real invocations        {len(invokes):>8,}   ({cold} cold start{'s' if cold != 1 else ''}; "
          f"{'each at its own moment' if on_time else 'NOT all at their moments'})")
    print(f"  wall time of advance    {wall_s:>8.2f} s")
    median_ms = statistics.median(e["duration_ms"] for e in invokes)
    print(f"  handler time            {handler_ms / 1000:>8.2f} s   (median {median_ms:.2f} ms)")
    print(f"  INIT of cold starts     {init_ms / 1000:>8.2f} s")
    print(f"  lab overhead            {overhead_ms:>8.2f} ms per invocation")
    ratio = wall_s / own_s
    print(f"  ratio wall / own time   {ratio:>8.2f}x   (goal <= {GOAL}x: {'met' if ratio <= GOAL else 'NOT met'})")


if __name__ == "__main__":
    main()

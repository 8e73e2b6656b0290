"""Step Functions' cost, as same-run ratios: a workflow of N sequential Lambda Task states against the
same N functions invoked directly; a Map of M items at MaxConcurrency 10 against the same M invokes on
10 threads; and the real time of a one-hour Wait on a virtual clock.

Both sides find the same warm environments (each function invoked once before anything is timed).
The workflow side is ``sfn.run`` (the interpreter, the task runner's worker thread and its join on the
lab clock, the history) on a ``VirtualClock``; the direct side calls ``lab.service.invoke_request``
with the same payloads, one after the other. The difference, divided by the transitions, is the
interpreter's overhead per state transition (the issue's goal: under 1 ms). No assertion: it prints.

    .venv/bin/python bench/bench_stepfunctions.py [--backend process|docker] [--states 20] [--runs 10] [--items 200]
"""

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from lambdalab_ext import Lab, VirtualClock
from lambdalab_ext.request import InvocationRequest
from lambdalab_ext.stepfunctions.service import attach

NOOP = "def handler(event, context):\n    return event\n"


def workflow(n, region, account):
    states = {}
    for i in range(n):
        states[f"Step{i}"] = {"Type": "Task", "Resource": f"arn:aws:lambda:{region}:{account}:function:noop{i}",
                              **({"Next": f"Step{i + 1}"} if i + 1 < n else {"End": True})}
    return {"StartAt": "Step0", "States": states}


def direct(lab, n, payload):
    body = json.dumps(payload).encode()
    for i in range(n):
        result = lab.service.invoke_request(InvocationRequest(f"noop{i}", body, source="direct"))
        body = result.raw_payload


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="process", choices=["process", "docker"])
    parser.add_argument("--states", type=int, default=20)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--items", type=int, default=200)
    args = parser.parse_args()
    with Lab(backend=args.backend, clock=VirtualClock()) as lab:
        for i in range(args.states):
            lab.deploy(f"noop{i}", NOOP)
        sfn = attach(lab, seed=0)
        try:
            sfn.create("chain", workflow(args.states, lab.region, lab.account_id))
            direct(lab, args.states, {"x": 1})                 # warm every environment
            sfn.run("chain", {"x": 1})
            workflow_s, direct_s = [], []
            for _ in range(args.runs):                          # interleaved: both see the same machine load
                started = time.perf_counter()
                execution = sfn.run("chain", {"x": 1})
                workflow_s.append(time.perf_counter() - started)
                assert execution.status == "SUCCEEDED", execution.cause
                started = time.perf_counter()
                direct(lab, args.states, {"x": 1})
                direct_s.append(time.perf_counter() - started)
            w, d = statistics.median(workflow_s), statistics.median(direct_s)
            print(f"{args.states} sequential Lambda tasks on {args.backend}, median of {args.runs}:")
            print(f"  workflow  {w * 1000:8.2f} ms   ({w / args.states * 1000:.2f} ms a state)")
            print(f"  direct    {d * 1000:8.2f} ms   ({d / args.states * 1000:.2f} ms an invoke)")
            print(f"  ratio     {w / d:8.2f}x   overhead {(w - d) / args.states * 1000:.3f} ms per state transition")

            sfn.create("fan", {"StartAt": "Each", "States": {"Each": {
                "Type": "Map", "MaxConcurrency": 10, "End": True, "ItemProcessor": {"StartAt": "Go", "States": {
                    "Go": {"Type": "Task", "End": True, "Resource": workflow(1, lab.region, lab.account_id)
                           ["States"]["Step0"]["Resource"]}}}}}})
            items = [{"i": i} for i in range(args.items)]
            with ThreadPoolExecutor(10) as pool:                # ten warm environments for both sides
                list(pool.map(lambda item: direct(lab, 1, item), items[:10]))
                started = time.perf_counter()
                execution = sfn.run("fan", items)
                map_s = time.perf_counter() - started
                assert execution.status == "SUCCEEDED", execution.cause
                started = time.perf_counter()
                list(pool.map(lambda item: direct(lab, 1, item), items))
                threads_s = time.perf_counter() - started
            print(f"Map of {args.items} items at MaxConcurrency 10: {map_s * 1000:.1f} ms; the same invokes on "
                  f"10 threads: {threads_s * 1000:.1f} ms; ratio {map_s / threads_s:.2f}x")

            sfn.create("nap", {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Go"},
                                                            "Go": {"Type": "Task", "End": True,
                                                                   "Resource": workflow(1, lab.region, lab.account_id)
                                                                   ["States"]["Step0"]["Resource"]}}})
            before = lab.clock.now()
            started = time.perf_counter()
            execution = sfn.run("nap", {"x": 1})
            real = time.perf_counter() - started
            print(f"one-hour Wait then a task: {execution.status}, lab clock +{lab.clock.now() - before:.0f} s "
                  f"in {real * 1000:.1f} ms of real time")
        finally:
            sfn.close()


if __name__ == "__main__":
    main()

"""Benchmark: what power tuning costs on top of the work it measures, measured in the same run.

    python bench/bench_power_tuning.py [--backend docker|process] [--invocations 10] [--parallel]

Power-tunes a handler that sleeps 50 ms (``time.sleep(0.05)``) at 6 memory sizes
(128, 256, 512, 1024, 1769, 3008 MB) x 10 invocations, and prints the ratio

    total wall time of power_tune / (sum of handler durations + sum of cold-start latencies)

where every term comes from this run: the handler durations are the Duration of every warm
invocation, and a cold start's latency is what its caller waited (sandbox start, INIT, the
handler). Goal: at most about 2. What is left over is the lab's own work: reconfiguring the
function at each size (which stops the previous size's containers), the Runtime API round trips,
and restoring the memory size at the end; the script measures the reconfiguration time too.

With ``--parallel`` each size's invocations overlap (and each needs its own cold start), so the
sum of their latencies counts overlapping waits: the ratio is then far below 1 and only says that
parallel invocation saves wall time, not what the lab's overhead is.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lambdalab_ext import Lab  # noqa: E402
from lambdalab_ext.tuning import power_tune  # noqa: E402

HANDLER = "import time\n\ndef handler(event, context):\n    time.sleep(0.05)\n    return None\n"
MEMORY_SIZES = (128, 256, 512, 1024, 1769, 3008)
GOAL = 2.0


class Recorder:
    """A Function stand-in that records every invocation and times every reconfiguration."""

    def __init__(self, fn):
        self._fn = fn
        self.name = fn.name
        self.results = []
        self.update_s = []

    @property
    def config(self):
        return self._fn.config

    def invoke(self, event=None, **kwargs):
        result = self._fn.invoke(event, **kwargs)
        self.results.append(result)
        return result

    def update(self, **changes):
        started = time.perf_counter()
        self._fn.update(**changes)
        self.update_s.append(time.perf_counter() - started)
        return self


def run(backend, invocations, parallel):
    with Lab(backend=backend) as lab:
        fn = lab.deploy("sleeper", HANDLER, memory_mb=128, timeout_s=10)
        fn.invoke({})   # first container of the run: image and page caches warm, not measured
        recorder = Recorder(fn)
        started = time.perf_counter()
        result = power_tune(recorder, MEMORY_SIZES, invocations, {}, parallel=parallel, progress=False)
        wall_s = time.perf_counter() - started
    warm = [r for r in recorder.results if not r.cold]
    cold = [r for r in recorder.results if r.cold]
    handler_s = sum(r.duration_ms for r in warm) / 1000
    cold_s = sum(r.latency_ms for r in cold) / 1000
    baseline_s = handler_s + cold_s
    ratio = wall_s / baseline_s
    print(f"backend: {lab.backend.name}; {len(MEMORY_SIZES)} sizes x {invocations} invocations"
          f"{' in parallel' if parallel else ''}, handler time.sleep(0.05)")
    print(f"  invocations run:              {len(recorder.results)} ({len(warm)} warm, {len(cold)} cold starts)")
    print(f"  sum of handler durations:     {handler_s:8.3f} s  (warm; median {statistics.median(r.duration_ms for r in warm):.2f} ms)")
    print(f"  sum of cold-start latencies:  {cold_s:8.3f} s  (median {statistics.median(r.latency_ms for r in cold):.0f} ms"
          f", of which Init Duration {statistics.median(r.init_duration_ms for r in cold):.0f} ms)")
    print(f"  baseline (their sum):         {baseline_s:8.3f} s")
    print(f"  power_tune wall time:         {wall_s:8.3f} s")
    print(f"    of which reconfiguring:     {sum(recorder.update_s):8.3f} s  ({len(recorder.update_s)} updates, "
          f"stopping the previous size's environments)")
    print(f"  ratio wall / baseline:        {ratio:8.2f}  (goal <= {GOAL:g}: {'met' if ratio <= GOAL else 'NOT met'})")
    print(f"  best for cost: {result.best.memory_mb} MB; {result.reason}")
    return ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("docker", "process"), default="docker")
    parser.add_argument("--invocations", type=int, default=10)
    parser.add_argument("--parallel", action="store_true")
    args = parser.parse_args()
    ratio = run(args.backend, args.invocations, args.parallel)
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())

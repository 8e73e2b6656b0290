"""Cold-start benchmark: what a dependency costs INIT, as ratios measured in this run (no assertions).

    python bench/bench_cold_starts.py [--backend auto|docker|process] [--cold 7] [--memory 512]

1. Cold start (what the caller waits: sandbox + INIT + invoke) and Init Duration of a function that
   imports numpy from a layer, against the same function without the import and without the
   layer, median of ``--cold`` cold starts each, measured in alternating order so that noise from
   other work on the machine falls on both alike. The layer is built from this interpreter's own
   numpy (its package, ``numpy.libs`` and ``.dist-info``): nothing is downloaded.
2. INIT of an eager import (numpy at module level) against a lazy one (inside the handler), and the
   first invocation of each: the lazy function's first invoke pays what the eager one's INIT pays.

Every figure is a ratio of two medians from the same run; absolute times are printed beside them
for context only.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lambdalab_ext import Lab  # noqa: E402

BARE = "def handler(event, context):\n    return 1\n"
EAGER = ("import numpy\nimport numpy.fft\nimport numpy.linalg\nimport numpy.random\n\n"
         "def handler(event, context):\n    return int(numpy.arange(10).sum())\n")
LAZY = ("def handler(event, context):\n    import numpy\n    import numpy.fft\n    import numpy.linalg\n"
        "    import numpy.random\n    return int(numpy.arange(10).sum())\n")


def numpy_layer_folder(root):
    """A layer folder holding this interpreter's numpy under python/ (the runtime is Python 3.11 too)."""
    import numpy
    site = os.path.dirname(os.path.dirname(numpy.__file__))
    for entry in sorted(os.listdir(site)):
        if entry in ("numpy", "numpy.libs") or (entry.startswith("numpy-") and entry.endswith(".dist-info")):
            shutil.copytree(os.path.join(site, entry), os.path.join(root, "python", entry), symlinks=True)
    return root


def one_cold_start(fn, run):
    """One request on a new environment: (caller's wait, Init Duration, first-invoke Duration), in ms."""
    fn.update(env={"BENCH_RUN": str(run)})          # a new configuration retires the warm environment
    started = time.perf_counter()
    result = fn.invoke({})
    waited = (time.perf_counter() - started) * 1000
    if not (result.ok and result.cold):
        raise RuntimeError(f"{fn.name}: expected a successful cold start, got {result.status}\n{result.logs}")
    return waited, result.init_duration_ms, result.duration_ms


def alternate(functions, n):
    """n cold starts of each function, interleaved; returns {name: [(wait, init, duration), ...]}."""
    samples = {fn.name: [] for fn in functions}
    for run in range(n):
        for fn in (functions if run % 2 == 0 else list(reversed(functions))):
            samples[fn.name].append(one_cold_start(fn, run))
    return samples


def medians(rows):
    return [statistics.median(column) for column in zip(*rows)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="auto", choices=("auto", "docker", "process"))
    parser.add_argument("--cold", type=int, default=7, help="cold starts per function")
    parser.add_argument("--memory", type=int, default=512, help="memory size of every function (MB)")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="lambdalab-bench-cold-")
    lab = Lab(backend=args.backend)
    try:
        layer = lab.publish_layer("numpy", numpy_layer_folder(os.path.join(workdir, "layer")))
        print(f"backend: {lab.backend.name}; {args.memory} MB; {args.cold} cold starts each; numpy layer "
              f"{layer.code_size / 1e6:.1f} MB zipped, {layer.unzipped_size / 1e6:.1f} MB unzipped")
        bare = lab.deploy("bare", BARE, memory_mb=args.memory)
        eager = lab.deploy("eager", EAGER, memory_mb=args.memory, layers=[layer.arn])
        lazy = lab.deploy("lazy", LAZY, memory_mb=args.memory, layers=[layer.arn])
        for fn in (bare, eager, lazy):     # first runs warm the engine's and the OS's caches
            one_cold_start(fn, -1)

        samples = alternate([bare, eager, lazy], args.cold)
        (b_wait, b_init, _), (e_wait, e_init, e_first), (l_wait, l_init, l_first) = (
            medians(samples[name]) for name in ("bare", "eager", "lazy"))

        print("\n1. numpy layer imported at INIT against no dependency (medians)")
        print(f"   cold start (caller's wait): {e_wait:8.1f} ms vs {b_wait:8.1f} ms -> {e_wait / b_wait:5.2f}x")
        print(f"   Init Duration:              {e_init:8.1f} ms vs {b_init:8.1f} ms -> {e_init / b_init:5.2f}x")
        print("\n2. eager against lazy import of numpy (medians)")
        print(f"   Init Duration:     eager {e_init:8.1f} ms, lazy {l_init:8.1f} ms -> eager/lazy {e_init / l_init:5.2f}x")
        print(f"   first invoke:      eager {e_first:8.1f} ms, lazy {l_first:8.1f} ms -> lazy/eager "
              f"{l_first / max(e_first, 0.001):5.1f}x")
        print(f"   INIT + first invoke: eager {e_init + e_first:8.1f} ms, lazy {l_init + l_first:8.1f} ms -> "
              f"lazy/eager {(l_init + l_first) / (e_init + e_first):5.2f}x (the same work, moved)")
        print(f"   caller's wait:     eager {e_wait:8.1f} ms, lazy {l_wait:8.1f} ms -> lazy/eager {l_wait / e_wait:5.2f}x")
    finally:
        lab.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

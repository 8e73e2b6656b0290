"""Benchmark: lambdalab_ext.sim against SimFaaS, measured in the same run.

Workload: Poisson arrivals at 500 req/s, exponential warm (1.991 s) and cold (2.244 s) service,
600 s expiration, newest-idle routing, a concurrency limit of 2,000 (never reached), no scale-out
rate (SimFaaS has none): about 1,000 busy and 1,100 live environments, one million invocations in
2,000 simulated seconds.

1. lambdalab_ext.sim on the full million (wall time).
2. SimFaaS on the same workload but a shorter horizon (it is O(environments) per event, so a
   million would take many minutes). Its steady-state cost per invocation is the *marginal* cost
   between two horizons (both past the ramp-up to ~1,000 environments), extrapolated to a million.
3. Statistics side by side on the short workload (several seeds of each).
4. Memory: tracemalloc peak of lambdalab_ext.sim at two horizons, 4x apart.

Run: ``python bench/bench_sim.py`` (``--quick`` for a smaller run). Needs ``pip install simfaas``.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lambdalab_ext.sim import Exponential, FunctionConfig, Poisson, ServiceRules, simulate  # noqa: E402

RATE, WARM, COLD, THRESHOLD, LIMIT = 500.0, 1.991, 2.244, 600, 2000
FN = FunctionConfig(warm_duration=Exponential(WARM), cold_duration=Exponential(COLD))
RULES = ServiceRules(keep_alive=THRESHOLD, scale_out=None, account_concurrency=LIMIT, routing="newest")
NAMES = ("P(cold)", "mean instances", "mean running", "mean idle")


def ours(horizon, seed):
    t0 = time.perf_counter()
    r = simulate(Poisson(RATE), FN, RULES, horizon=horizon, seed=seed)
    dt = time.perf_counter() - t0
    s = r.summary
    return dt, s, [s.cold_starts / s.attempts, s.mean_instances, s.mean_busy_instances, s.mean_idle_instances]


def run_simfaas(horizon, seed):
    from simfaas.ServerlessSimulator import ServerlessSimulator

    np.random.seed(seed)
    sim = ServerlessSimulator(arrival_rate=RATE, warm_service_rate=1 / WARM, cold_service_rate=1 / COLD,
                              expiration_threshold=THRESHOLD, max_time=horizon, maximum_concurrency=LIMIT)
    t0 = time.perf_counter()
    sim.generate_trace()
    dt = time.perf_counter() - t0
    sim.calculate_time_lengths()
    return dt, sim.total_req_count, [sim.get_cold_start_prob(), sim.get_average_server_count(),
                                     sim.get_average_server_running_count(),
                                     sim.get_average_server_idle_count()]


def mean_se(rows):
    a = np.asarray(rows, dtype=float)
    return a.mean(axis=0), a.std(axis=0, ddof=1) / math.sqrt(len(a))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100,000 invocations, shorter SimFaaS runs")
    args = ap.parse_args(argv)
    horizon = 200.0 if args.quick else 2000.0
    sf_short, sf_long, sf_seeds = (8.0, 12.0, 2) if args.quick else (10.0, 20.0, 3)

    print(f"Python {platform.python_version()} on {platform.machine()}, numpy {np.__version__}")
    print(f"workload: Poisson {RATE:g} req/s, warm Exp({WARM}) s, cold Exp({COLD}) s, "
          f"threshold {THRESHOLD} s, limit {LIMIT}, newest-idle routing\n")

    # 1. ours, full size (best of two runs: the first also pays for imports and caches)
    runs = [ours(horizon, seed=1) for _ in range(2)]
    t_ours, s, _ = min(runs, key=lambda x: x[0])
    n = s.invocations
    print(f"lambdalab_ext.sim: {n:,} invocations over {horizon:,.0f} s in {t_ours:.2f} s "
          f"({t_ours / n * 1e6:.2f} µs per invocation)")
    print(f"  mean instances {s.mean_instances:.1f} (running {s.mean_busy_instances:.1f}, idle "
          f"{s.mean_idle_instances:.1f}), max {s.max_instances}, P(cold) {s.cold_start_ratio:.5f}, "
          f"throttles {s.throttles}")
    print(f"  expected running = λ·E[S] ≈ {RATE * WARM:.1f} (+ cold starts' extra)  -> goal < 10 s: "
          f"{'met' if t_ours < 10 else 'NOT met'}\n")

    # 2. SimFaaS: marginal cost per invocation between two horizons, same workload
    if importlib.util.find_spec("simfaas") is None:
        print("SimFaaS not installed (pip install simfaas): skipping the comparison")
        return 0
    t_a, n_a, _ = run_simfaas(sf_short, seed=0)
    sf_rows, sf_times, sf_counts = [], [], []
    for seed in range(sf_seeds):
        dt, cnt, row = run_simfaas(sf_long, seed=seed)
        sf_rows.append(row)
        sf_times.append(dt)
        sf_counts.append(cnt)
    t_b, n_b = sf_times[0], sf_counts[0]
    per_inv = (t_b - t_a) / (n_b - n_a)
    sf_million = per_inv * n
    print(f"SimFaaS: {n_a:,} invocations ({sf_short:g} s) in {t_a:.2f} s; {n_b:,} ({sf_long:g} s) in {t_b:.2f} s")
    print(f"  marginal cost at ~1,000 environments: {per_inv * 1e6:.0f} µs per invocation")
    print(f"  EXTRAPOLATED (per invocation, not measured) to {n:,} invocations: {sf_million:,.0f} s "
          f"({sf_million / 60:.1f} min)")
    print(f"  speed-up of lambdalab_ext.sim on the full workload: {sf_million / t_ours:,.0f}x "
          f"(goal >= 10x: {'met' if sf_million / t_ours >= 10 else 'NOT met'})")

    # the same short workload, measured directly in both
    our_rows, our_times = [], []
    for seed in range(20):
        dt, _, row = ours(sf_long, seed=100 + seed)
        our_rows.append(row)
        our_times.append(dt)
    print(f"  measured directly on the {sf_long:g} s workload: SimFaaS {np.mean(sf_times):.2f} s per run, "
          f"ours {np.mean(our_times) * 1000:.1f} ms per run: {np.mean(sf_times) / np.mean(our_times):,.0f}x\n")

    # 3. statistics on the short workload
    m_t, se_t = mean_se(sf_rows)
    m_o, se_o = mean_se(our_rows)
    print(f"statistics on the {sf_long:g} s workload (ramp-up included), mean ± 1.96·SE "
          f"({len(our_rows)} seeds ours, {len(sf_rows)} SimFaaS):")
    for name, a, sa, b, sb in zip(NAMES, m_o, se_o, m_t, se_t):
        z = (a - b) / math.hypot(sa, sb)
        print(f"  {name:15s} ours {a:10.4f} ± {1.96 * sa:8.4f}   SimFaaS {b:10.4f} ± {1.96 * sb:8.4f}   z = {z:+.2f}")
    print()

    # 4. memory: tracemalloc peak at two horizons (tracemalloc slows the loop ~30x; smaller horizons)
    h1 = 40.0 if args.quick else 100.0
    simulate(Poisson(RATE), FN, RULES, horizon=5, seed=0)  # first-call allocations
    peaks = []
    for h in (h1, 4 * h1):
        tracemalloc.start()
        r = simulate(Poisson(RATE), FN, RULES, horizon=h, seed=2)
        peaks.append((h, r.summary.invocations, tracemalloc.get_traced_memory()[1]))
        tracemalloc.stop()
    print("memory (tracemalloc peak during simulate):")
    for h, inv, peak in peaks:
        print(f"  horizon {h:6,.0f} s, {inv:9,} invocations: {peak / 2**20:6.2f} MiB")
    print(f"  ratio {peaks[1][2] / peaks[0][2]:.2f} for {peaks[1][1] / peaks[0][1]:.1f}x the invocations "
          "(fixed batches, heaps sized by live environments, bins capped at 100,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

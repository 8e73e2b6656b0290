"""Benchmark: price 1,000,000 workloads with lambdalab_ext.pricing.monthly_cost_table.

Run from the repository root:  python bench/bench_pricing.py [rows]

Prints the median of several timed runs of the vectorised path (numpy columns in, exact cents
out), and, for scale, two baselines measured in the same run on the same machine:

* numpy: ``np.sum`` over each of the same input columns, i.e. one pass over the input data,
  the least any vectorised pricing could cost;
* Python loop: a plain ``for`` loop summing as many floats as there are rows.

It also prices 10,000 of the rows one by one with the Decimal path (``monthly_cost``) and
extrapolates, to show why the vectorised path exists, and checks those rows agree to the exact
amount.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing

from lambdalab_ext.pricing import monthly_cost, monthly_cost_table  # noqa: E402

SEED = 20250801
REPEATS = 5


def workloads(n: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """Seeded random workloads using every pricing feature: 20% provisioned concurrency,
    10% SnapStart, the rest plain on demand."""
    rng = np.random.default_rng(seed)
    kind = rng.random(n)
    pc = kind < 0.2
    snap = (kind >= 0.2) & (kind < 0.3)
    return {
        "requests": rng.integers(0, 100_000_000, n),
        "avg_duration_ms": np.round(rng.lognormal(5, 1.5, n).clip(1, 900_000), 2),
        "memory_mb": rng.integers(128, 10_241, n),
        "architecture": np.where(rng.random(n) < 0.5, "x86_64", "arm64"),
        "cold_start_ratio": rng.uniform(0, 0.05, n),
        "init_duration_ms": rng.uniform(50, 3000, n),
        "ephemeral_storage_mb": np.where(snap, 512, rng.integers(512, 10_241, n)),
        "provisioned_concurrency": np.where(pc, rng.integers(1, 500, n), 0),
        "pc_hours": np.where(pc, rng.uniform(1, 744, n), 0.0),
        "pc_share": np.where(pc, rng.random(n), 0.0),
        "snapstart": snap,
        "snapstart_hours": np.where(snap, rng.uniform(0, 744, n), 0.0),
        "free_tier": rng.random(n) < 0.5,
    }


def median_time(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(n: int = 1_000_000) -> None:
    cols = workloads(n)
    numeric = [v for v in cols.values() if v.dtype.kind in "iufb"]
    floats = [float(x) for x in cols["avg_duration_ms"]]

    first = time.perf_counter()
    table = monthly_cost_table(cols)
    first = time.perf_counter() - first
    vectorised = median_time(lambda: monthly_cost_table(cols))
    numpy_sum = median_time(lambda: [np.sum(v) for v in numeric])

    def python_loop():
        total = 0.0
        for x in floats:
            total += x
        return total

    loop = median_time(python_loop)

    sample = range(0, n, max(1, n // 10_000))
    rows = [{k: v[i].item() for k, v in cols.items()} for i in sample]
    start = time.perf_counter()
    totals = [monthly_cost(**row).total for row in rows]
    decimal_per_row = (time.perf_counter() - start) / len(rows)
    assert totals == [table.exact_total(i) for i in sample], "paths disagree"

    print(f"rows: {n:,}  (seed {SEED}; median of {REPEATS} runs)")
    print(f"monthly_cost_table:         {vectorised:8.3f} s  (first call {first:.3f} s; "
          f"{len(table.fallback_rows)} rows needed the Decimal path)")
    print(f"baseline np.sum over the {len(numeric)} input columns: {numpy_sum:8.3f} s  "
          f"-> pricing takes {vectorised / numpy_sum:.1f}x a single numpy pass over its input")
    print(f"baseline Python loop summing {n:,} floats: {loop:8.3f} s  "
          f"-> pricing takes {vectorised / loop:.2f}x that loop")
    print(f"Decimal path (monthly_cost per row): {decimal_per_row * 1e6:.0f} us/row, "
          f"~{decimal_per_row * n:.1f} s for {n:,} rows "
          f"({decimal_per_row * n / vectorised:.0f}x slower); {len(rows):,} sampled rows agree "
          "exactly")
    print(f"sum of totals: ${int(table.total_cents.sum()) / 100:,.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)

"""When requests arrive: the workload that drives the simulated Lambda service.

An arrival process is a description; the simulator asks it for sorted arrival times one time
window at a time, so even a billion-request workload never sits in memory at once. Every random
process draws from a numpy ``Generator`` seeded by the simulation (or by its own ``seed=``), so
the same seed gives the same arrivals.

Processes add up: ``Poisson(2.0) + Burst(at=60, count=500)`` is a steady stream with a spike.

>>> Poisson(rate=1.0).sample(horizon=10, seed=1).round(2).tolist()
[0.28, 3.3, 4.09, 5.38, 5.5, 7.54, 7.88, 8.28]
>>> PerMinuteCounts([2, 0, 1], spread="even").sample(horizon=180).tolist()
[15.0, 45.0, 150.0]
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np

__all__ = [
    "ArrivalProcess",
    "Poisson",
    "Steps",
    "Burst",
    "Diurnal",
    "Timestamps",
    "PerMinuteCounts",
    "Superposition",
    "window_edges",
]

# About this many arrivals per window: numpy batches stay efficient, memory small.
_TARGET_PER_WINDOW = 16384


def window_edges(process: "ArrivalProcess", horizon: float) -> np.ndarray:
    """Window boundaries ``[0, w, 2w, ..., horizon]`` sized for about 16,384 arrivals each."""
    peak = process.peak_rate()
    width = horizon if peak <= 0 else min(horizon, max(1.0, _TARGET_PER_WINDOW / peak))
    n = max(1, math.ceil(horizon / width))
    edges = np.arange(n + 1, dtype=float) * width
    edges[-1] = horizon
    return edges


class ArrivalProcess:
    """Base class. Subclasses implement ``_window(t0, t1, rng)`` (or ``_generate``) and ``peak_rate``."""

    seed: int | None = None

    def peak_rate(self) -> float:
        """An upper bound of the arrival rate (req/s); only sizes the windows."""
        return 0.0

    def _window(self, t0: float, t1: float, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _generate(self, edges: np.ndarray, rng: np.random.Generator) -> Iterator[np.ndarray]:
        for t0, t1 in zip(edges[:-1].tolist(), edges[1:].tolist()):
            yield self._window(t0, t1, rng)

    def stream(self, edges: np.ndarray, rng: np.random.Generator) -> Iterator[np.ndarray]:
        """Yield one sorted array of arrival times per window ``[edges[i], edges[i+1])``."""
        if self.seed is not None:
            rng = np.random.default_rng(self.seed)
        return self._generate(np.asarray(edges, dtype=float), rng)

    def sample(self, horizon: float, seed: int | None = 0) -> np.ndarray:
        """All arrival times in ``[0, horizon)`` as one array (handy in a notebook)."""
        edges = window_edges(self, float(horizon))
        parts = list(self.stream(edges, np.random.default_rng(seed)))
        return np.concatenate(parts) if parts else np.empty(0)

    def __add__(self, other: "ArrivalProcess") -> "Superposition":
        if not isinstance(other, ArrivalProcess):
            return NotImplemented
        left = self.parts if isinstance(self, Superposition) and self.seed is None else (self,)
        right = other.parts if isinstance(other, Superposition) and other.seed is None else (other,)
        return Superposition(left + right)


def _poisson_uniform(rng, rate, t0, t1):
    """A homogeneous Poisson process on [t0, t1): a Poisson count, then sorted uniform times."""
    if rate <= 0 or t1 <= t0:
        return np.empty(0)
    n = rng.poisson(rate * (t1 - t0))
    times = np.sort(rng.uniform(t0, t1, n))
    return times


class Poisson(ArrivalProcess):
    """Poisson arrivals at ``rate`` requests per second (exponential gaps, mean ``1/rate``).

    >>> len(Poisson(5.0).sample(horizon=1000, seed=3))  # about 5,000
    4883
    """

    def __init__(self, rate: float, seed: int | None = None):
        if not (rate >= 0 and math.isfinite(rate)):
            raise ValueError(f"Poisson(rate={rate!r}): the rate must be a finite number of requests/s >= 0")
        self.rate = float(rate)
        self.seed = seed

    def peak_rate(self):
        return self.rate

    def _window(self, t0, t1, rng):
        return _poisson_uniform(rng, self.rate, t0, t1)

    def __repr__(self):
        return f"Poisson(rate={self.rate!r})"


class Steps(ArrivalProcess):
    """Poisson arrivals whose rate changes in steps: ``[(start_s, rate), ...]``.

    Each rate holds from its start until the next start (before the first start the rate is 0)::

        Steps([(0, 1.0), (300, 50.0), (360, 1.0)])   # a one-minute surge to 50 req/s
    """

    def __init__(self, levels: Sequence[tuple[float, float]], seed: int | None = None):
        levels = sorted((float(t), float(r)) for t, r in levels)
        if not levels:
            raise ValueError("Steps(levels): give at least one (start_s, rate) pair")
        if any(r < 0 or not math.isfinite(r) for _, r in levels):
            raise ValueError("Steps(levels): rates must be finite numbers of requests/s >= 0")
        self.levels = levels
        self.seed = seed

    def peak_rate(self):
        return max(r for _, r in self.levels)

    def _window(self, t0, t1, rng):
        parts = []
        starts = [t for t, _ in self.levels] + [math.inf]
        for (start, rate), end in zip(self.levels, starts[1:]):
            a, b = max(t0, start), min(t1, end)
            if b > a and rate > 0:
                parts.append(_poisson_uniform(rng, rate, a, b))
        return np.concatenate(parts) if parts else np.empty(0)

    def __repr__(self):
        return f"Steps({self.levels!r})"


class Burst(ArrivalProcess):
    """``count`` requests at once at time ``at`` (or spread uniformly over ``within`` seconds).

    ``Burst(at=0, count=10_000)`` is the "10,000 simultaneous requests" of docs/lambda-facts.md §1.3.
    """

    def __init__(self, at: float, count: int, within: float = 0.0, seed: int | None = None):
        if count < 0 or at < 0 or within < 0:
            raise ValueError(f"Burst(at={at!r}, count={count!r}, within={within!r}): all must be >= 0")
        self.at, self.count, self.within, self.seed = float(at), int(count), float(within), seed

    def _generate(self, edges, rng):
        # The whole burst is drawn once, so its times do not depend on the window boundaries.
        if self.within == 0:
            times = np.full(self.count, self.at)
        else:
            times = np.sort(rng.uniform(self.at, self.at + self.within, self.count))
        for t0, t1 in zip(edges[:-1].tolist(), edges[1:].tolist()):
            i, j = np.searchsorted(times, [t0, t1], side="left")
            yield times[i:j]

    def __repr__(self):
        return f"Burst(at={self.at!r}, count={self.count!r}, within={self.within!r})"


class Diurnal(ArrivalProcess):
    """Poisson arrivals with a daily cycle: ``mean_rate * (1 + amplitude * cos(2π (t - peak_at) / period))``.

    Drawn exactly by thinning. ``Diurnal(10, amplitude=0.5, peak_at=14*3600)`` peaks at 15 req/s at
    14:00 and dips to 5 req/s at 02:00 (the Azure trace shows such a day/night cycle over a
    ~50% baseline, docs/lambda-facts.md §6.3).
    """

    def __init__(self, mean_rate: float, amplitude: float = 0.5, period: float = 86400.0,
                 peak_at: float = 0.0, seed: int | None = None):
        if not (mean_rate >= 0 and 0 <= amplitude <= 1 and period > 0):
            raise ValueError("Diurnal: need mean_rate >= 0, 0 <= amplitude <= 1 and period > 0")
        self.mean_rate, self.amplitude = float(mean_rate), float(amplitude)
        self.period, self.peak_at, self.seed = float(period), float(peak_at), seed

    def rate_at(self, t):
        """The instantaneous rate (req/s) at time(s) ``t``."""
        return self.mean_rate * (1 + self.amplitude * np.cos(2 * np.pi * (np.asarray(t) - self.peak_at) / self.period))

    def peak_rate(self):
        return self.mean_rate * (1 + self.amplitude)

    def _window(self, t0, t1, rng):
        top = self.peak_rate()
        cand = _poisson_uniform(rng, top, t0, t1)
        keep = rng.uniform(0, top, cand.size) < self.rate_at(cand)
        return cand[keep]

    def __repr__(self):
        return (f"Diurnal(mean_rate={self.mean_rate!r}, amplitude={self.amplitude!r}, "
                f"period={self.period!r}, peak_at={self.peak_at!r})")


class Timestamps(ArrivalProcess):
    """Arrivals at explicit times in seconds (sorted for you), e.g. replayed from a log."""

    def __init__(self, times):
        arr = np.sort(np.array(times, dtype=float).ravel())
        if arr.size and (arr[0] < 0 or not np.all(np.isfinite(arr))):
            raise ValueError("Timestamps(times): times must be finite seconds >= 0")
        self.times = arr

    def peak_rate(self):
        return 0.0

    def _window(self, t0, t1, rng):
        i, j = np.searchsorted(self.times, [t0, t1], side="left")
        return self.times[i:j]

    def __repr__(self):
        return f"Timestamps(<{self.times.size} times>)"


class PerMinuteCounts(ArrivalProcess):
    """Per-minute invocation counts, the shape of the public Azure Functions trace (docs/lambda-facts.md §6.3).

    ``counts[i]`` requests arrive in minute ``i`` (from ``start`` seconds), spread ``"random"``
    (uniform, seeded) or ``"even"`` (evenly spaced) within the minute. One row of
    ``invocations_per_function_md.anon.d01.csv`` (its 1,440 minute columns) is such a list.
    """

    def __init__(self, counts: Sequence[int], spread: str = "random", start: float = 0.0,
                 seed: int | None = None):
        arr = np.asarray(counts)
        if arr.ndim != 1 or (arr.size and (arr.min() < 0 or np.any(arr != np.round(arr)))):
            raise ValueError("PerMinuteCounts(counts): give a flat list of whole numbers >= 0, one per minute")
        if spread not in ("random", "even"):
            raise ValueError(f"PerMinuteCounts(spread={spread!r}): use 'random' or 'even'")
        self.counts = arr.astype(np.int64)
        self.spread, self.start, self.seed = spread, float(start), seed

    def peak_rate(self):
        return float(self.counts.max()) / 60.0 if self.counts.size else 0.0

    def _minutes(self, first, last, rng):
        counts = self.counts[first:last]
        total = int(counts.sum())
        if total == 0:
            return np.empty(0)
        minute_of = np.repeat(np.arange(first, last), counts)
        if self.spread == "random":
            offset = rng.uniform(0, 60, total)
            base = self.start + 60.0 * minute_of
            # Sort within each minute only: minutes are already in order.
            order = np.lexsort((offset, minute_of))
            return (base + offset)[order]
        # even: (k + 0.5) / n of the way through the minute
        starts = np.cumsum(counts) - counts
        rank = np.arange(total) - np.repeat(starts, counts)
        return self.start + 60.0 * minute_of + 60.0 * (rank + 0.5) / np.repeat(counts, counts)

    def _generate(self, edges, rng):
        n_min = self.counts.size
        done = 0  # minutes generated so far
        carry = np.empty(0)
        for t0, t1 in zip(edges[:-1].tolist(), edges[1:].tolist()):
            upto = min(n_min, max(done, math.ceil((t1 - self.start) / 60.0)))
            if upto > done:
                carry = np.concatenate([carry, self._minutes(done, upto, rng)])
                done = upto
            cut = np.searchsorted(carry, t1, side="left")
            out, carry = carry[:cut], carry[cut:]
            yield out[out >= t0]

    def __repr__(self):
        return f"PerMinuteCounts(<{self.counts.size} minutes, {int(self.counts.sum())} requests>, spread={self.spread!r})"


class Superposition(ArrivalProcess):
    """Several arrival processes at once (``a + b``); each gets its own random stream."""

    def __init__(self, parts: Sequence[ArrivalProcess], seed: int | None = None):
        self.parts = tuple(parts)
        if not self.parts:
            raise ValueError("Superposition(parts): give at least one arrival process")
        self.seed = seed

    def peak_rate(self):
        return sum(p.peak_rate() for p in self.parts)

    def _generate(self, edges, rng):
        streams = [p.stream(edges, r) for p, r in zip(self.parts, rng.spawn(len(self.parts)))]
        for chunks in zip(*streams):
            yield np.sort(np.concatenate(chunks), kind="stable")

    def __repr__(self):
        return " + ".join(repr(p) for p in self.parts)

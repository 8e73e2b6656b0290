"""Durations as random variables: how long a warm invoke, a cold start or a keep-alive lasts.

Every distribution draws in batches from a numpy ``Generator`` that the simulator hands it, so a
seed fixes every draw. Plain numbers are accepted wherever a distribution is expected and mean
:class:`Fixed`.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> Exponential(mean=2.0).draw(rng, 3).round(3).tolist()
[1.36, 2.039, 0.04]
>>> Empirical([0.21, 0.25, 0.30]).mean
0.25333333333333335
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Distribution",
    "Fixed",
    "Exponential",
    "LogNormal",
    "Uniform",
    "Empirical",
    "as_distribution",
]


class Distribution:
    """A non-negative duration in seconds. Subclasses implement ``draw`` and ``mean``."""

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def mean(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Fixed(Distribution):
    """Always the same value, e.g. ``Fixed(0.120)`` for a 120 ms handler."""

    value: float

    def __post_init__(self):
        if not (self.value >= 0 and math.isfinite(self.value)):
            raise ValueError(f"Fixed(value={self.value!r}): a duration must be a finite number >= 0")

    def draw(self, rng, n):
        return np.full(n, float(self.value))

    @property
    def mean(self):
        return float(self.value)


@dataclass(frozen=True)
class Exponential(Distribution):
    """Exponential with the given mean (seconds). SimFaaS's default for warm and cold service
    times (its ``warm_service_rate`` / ``cold_service_rate`` are ``1 / mean``)."""

    mean_s: float

    def __init__(self, mean: float):
        if not (mean > 0 and math.isfinite(mean)):
            raise ValueError(f"Exponential(mean={mean!r}): the mean must be a finite number > 0")
        object.__setattr__(self, "mean_s", float(mean))

    def draw(self, rng, n):
        return rng.exponential(self.mean_s, n)

    @property
    def mean(self):
        return self.mean_s

    def __repr__(self):
        return f"Exponential(mean={self.mean_s!r})"


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Log-normal: ``exp(N(mu, sigma))`` seconds, numpy's parametrisation.

    "Serverless in the Wild" fits Azure functions' average execution time with a log-normal of
    log-mean -0.38 and sigma 2.36 (docs/lambda-facts.md §6.3): ``LogNormal(mu=-0.38, sigma=2.36)``.
    ``LogNormal.from_median(0.25, sigma=0.4)`` is often easier to think about.
    """

    mu: float
    sigma: float

    def __post_init__(self):
        if not (self.sigma >= 0 and math.isfinite(self.sigma) and math.isfinite(self.mu)):
            raise ValueError(f"LogNormal(mu={self.mu!r}, sigma={self.sigma!r}): need finite mu and sigma >= 0")

    @classmethod
    def from_median(cls, median: float, sigma: float) -> "LogNormal":
        if not median > 0:
            raise ValueError(f"LogNormal.from_median(median={median!r}): the median must be > 0")
        return cls(math.log(median), sigma)

    def draw(self, rng, n):
        return rng.lognormal(self.mu, self.sigma, n)

    @property
    def mean(self):
        return math.exp(self.mu + self.sigma**2 / 2)


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform on ``[low, high]``. ``Uniform(300, 420)`` is the "modern" keep-alive preset
    (5-7 min idle lifetime measured by mikhail.io, docs/lambda-facts.md §1.7)."""

    low: float
    high: float

    def __post_init__(self):
        if not (0 <= self.low <= self.high and math.isfinite(self.high)):
            raise ValueError(f"Uniform(low={self.low!r}, high={self.high!r}): need 0 <= low <= high < inf")

    def draw(self, rng, n):
        return rng.uniform(self.low, self.high, n)

    @property
    def mean(self):
        return (self.low + self.high) / 2


class Empirical(Distribution):
    """Resamples observed durations (with replacement, each observation equally likely).

    Feed it what a real function measured, e.g. the ``Duration`` of warm invokes and
    ``Init Duration + Duration`` of cold ones::

        warm = Empirical([0.0031, 0.0029, 0.0035, ...])
    """

    def __init__(self, samples):
        arr = np.array(samples, dtype=float).ravel()
        if arr.size == 0:
            raise ValueError("Empirical(samples): give at least one observed duration")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError("Empirical(samples): durations must be finite numbers >= 0 (seconds)")
        self.samples = arr
        self.samples.setflags(write=False)

    def draw(self, rng, n):
        return self.samples[rng.integers(0, self.samples.size, n)]

    @property
    def mean(self):
        return float(self.samples.mean())

    def __eq__(self, other):
        return isinstance(other, Empirical) and np.array_equal(self.samples, other.samples)

    def __hash__(self):
        return hash(self.samples.tobytes())

    def __repr__(self):
        return f"Empirical(<{self.samples.size} samples, mean {self.mean:.4g} s>)"


def as_distribution(value, what: str = "duration") -> Distribution:
    """A :class:`Distribution` from a distribution or a plain number of seconds."""
    if isinstance(value, Distribution):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return Fixed(float(value))
    raise TypeError(
        f"{what}: expected seconds as a number or a distribution "
        f"(Fixed, Exponential, LogNormal, Uniform, Empirical), got {value!r}"
    )

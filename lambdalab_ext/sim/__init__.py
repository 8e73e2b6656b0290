"""A discrete-event simulator of the AWS Lambda service, for thousands to millions of requests.

Real execution environments show what one invocation does; this shows what the *service* does
with many: how many environments it keeps, how often a request hits a cold start, when it
throttles, what retries do to async events. It is pure computation (numpy only; matplotlib for
the plots), validated against SimFaaS (Mahmoudi & Khazaei) and the closed form
P(cold) = exp(-λT) of a sparse function.

>>> from lambdalab_ext.sim import simulate, Poisson, FunctionConfig, Exponential
>>> result = simulate(
...     Poisson(rate=0.9),
...     FunctionConfig(warm_duration=Exponential(1.991), cold_duration=Exponential(2.244)),
...     horizon=24 * 3600, seed=42)
>>> round(result.summary.mean_instances)
8

The pieces: arrival processes (:mod:`.arrivals`), durations (:mod:`.distributions`), the function
and the service's rules (:mod:`.config`), the event loop (:mod:`.engine`), results and their
price (:mod:`.results`, through :mod:`lambdalab_ext.pricing`) and plots (:mod:`.plot`).

From your own function: :func:`measure` invokes it for real (forcing cold starts),
:func:`calibrate` turns the results into a :class:`FunctionConfig`, and :func:`burst` fires
concurrent real invocations to see real scale-out and throttling (:mod:`.realrun`).
"""

from .arrivals import (ArrivalProcess, Burst, Diurnal, PerMinuteCounts, Poisson, Steps,
                       Superposition, Timestamps)
from .config import (EVENT, KEEP_ALIVE_MODERN, REQUEST_RESPONSE, SCALING_2023, FunctionConfig,
                     ServiceRules, TokenBucket, legacy_burst)
from .calibrate import calibrate
from .distributions import Distribution, Empirical, Exponential, Fixed, LogNormal, Uniform
from .engine import auto_bin_seconds, simulate
from .plot import plot_latency, plot_timeseries
from .realrun import BurstRequest, BurstResult, burst, measure
from .results import LatencyHistogram, SimulationCost, SimulationResult, Summary, TimeSeries, Usage

__all__ = [
    # workload
    "ArrivalProcess", "Poisson", "Steps", "Burst", "Diurnal", "Timestamps", "PerMinuteCounts",
    "Superposition",
    # durations
    "Distribution", "Fixed", "Exponential", "LogNormal", "Uniform", "Empirical",
    # function and rules
    "FunctionConfig", "ServiceRules", "TokenBucket", "SCALING_2023", "legacy_burst",
    "KEEP_ALIVE_MODERN", "REQUEST_RESPONSE", "EVENT",
    # running and results
    "simulate", "auto_bin_seconds", "SimulationResult", "Summary", "TimeSeries", "LatencyHistogram",
    "Usage", "SimulationCost", "plot_timeseries", "plot_latency",
    # from a real function
    "measure", "calibrate", "burst", "BurstResult", "BurstRequest",
]

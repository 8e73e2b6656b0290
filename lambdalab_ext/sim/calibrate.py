"""Calibrate the simulator from a real function: its own measured durations, not textbook ones.

:func:`calibrate` turns real :class:`~lambdalab_ext.result.InvocationResult` objects (what
``fn.invoke`` returns, or what :func:`~lambdalab_ext.sim.measure` collects) into a
:class:`~lambdalab_ext.sim.FunctionConfig`:

- warm invokes: ``warm_duration`` is the :class:`~lambdalab_ext.sim.Empirical` distribution of
  the ``Duration`` of the warm invocations;
- cold starts: ``init_duration`` is the Empirical distribution of the measured ``Init Duration``
  s, which the simulator adds to a warm draw on each cold start (or, with
  ``cold="cold_duration"``, the whole measured ``Init Duration + Duration`` of each cold
  invocation, whose first invoke can be slower than a warm one);
- memory and architecture: the function's, read from the results.

It is pure computation: it reads attributes and imports nothing from the runtime, so synthetic
results work as well as real ones.

>>> from types import SimpleNamespace as R
>>> results = [R(cold=True, duration_ms=12.0, init_duration_ms=210.0, memory_size_mb=256),
...            R(cold=False, duration_ms=10.0, init_duration_ms=None, memory_size_mb=256),
...            R(cold=False, duration_ms=11.0, init_duration_ms=None, memory_size_mb=256)]
>>> config = calibrate(results)
>>> config.warm_duration.samples.tolist(), config.init_duration.samples.tolist(), config.memory_mb
([0.01, 0.011], [0.21], 256)
"""

from __future__ import annotations

from typing import Iterable

from .config import FunctionConfig
from .distributions import Empirical

__all__ = ["calibrate"]

_COLD_MODELS = ("init_duration", "cold_duration")


def calibrate(results: Iterable, *, cold: str = "init_duration", error_rate: float | None = None,
              **config) -> FunctionConfig:
    """A :class:`FunctionConfig` whose durations are the ones a real function measured.

    Parameters
    ----------
    results:
        ``InvocationResult`` objects of one function (anything with ``cold``, ``duration_ms``,
        ``init_duration_ms`` and ``memory_size_mb``; ``architecture``, ``error`` and
        ``initialization_type`` are read when present). They need at least one warm and one
        cold invocation, all with the same memory size. Invocations served by provisioned
        concurrency count as warm: they ran on an environment initialised in advance.
    cold:
        How cold starts are modelled (see :class:`FunctionConfig`): ``"init_duration"``
        (default) draws a measured ``Init Duration`` and adds a warm duration; ``"cold_duration"``
        draws the whole measured duration of a cold invocation (``Init Duration + Duration``).
    error_rate:
        Probability of a function error. Default: the share of the results that failed
        (``result.error`` set); pass ``0`` to ignore the failures you measured.
    **config:
        The other :class:`FunctionConfig` fields, e.g. ``reserved_concurrency=100``,
        ``provisioned_concurrency=10``, ``invocation_type="Event"`` (durations, memory and
        architecture come from the results).

    Raises ``ValueError`` (saying what to measure) when there are no warm or no cold samples,
    or the results mix memory sizes or architectures.

    >>> from lambdalab_ext.sim import calibrate, measure, simulate, Poisson    # doctest: +SKIP
    >>> config = calibrate(measure(fn, {"name": "Ada"}))                        # doctest: +SKIP
    >>> simulate(Poisson(50), config, horizon=3600, seed=1).summary.cold_starts  # doctest: +SKIP
    """
    results = list(results)
    if cold not in _COLD_MODELS:
        raise ValueError(f"calibrate(cold={cold!r}): use 'init_duration' (measured INIT added to a warm "
                         "duration) or 'cold_duration' (the measured INIT + Duration of each cold start)")
    for name in ("warm_duration", "cold_duration", "init_duration", "memory_mb", "architecture"):
        if name in config:
            # Durations were measured at one memory size (memory buys CPU) on one architecture:
            # changing either would pair them with numbers they do not belong to.
            raise TypeError(f"calibrate(..., {name}=...): {name} comes from the results; measure the "
                            "function in the configuration you want, or build a FunctionConfig by hand")
    if not results:
        raise ValueError("calibrate(results): no results. Invoke the function a few times first, e.g. "
                         "results = lambdalab_ext.sim.measure(fn, event), which forces cold starts too")

    memories = {r.memory_size_mb for r in results}
    if len(memories) > 1:
        raise ValueError(f"calibrate(results): the results mix memory sizes {sorted(memories)} MB; "
                         "calibrate one configuration at a time (memory changes CPU, so durations too)")
    archs = {getattr(r, "architecture", None) or "x86_64" for r in results}
    if len(archs) > 1:
        raise ValueError(f"calibrate(results): the results mix architectures {sorted(archs)}; "
                         "calibrate one at a time")

    warm = [r.duration_ms / 1000 for r in results if not r.cold]
    colds = [r for r in results if r.cold and r.init_duration_ms is not None]
    if not warm:
        raise ValueError(
            f"calibrate(results): no warm invocations among {len(results)} results, so there is no warm "
            "duration to draw. Invoke the function again while its environment is warm (right after a "
            "call), or use measure(fn, event, warm=20)")
    if not colds:
        raise ValueError(
            f"calibrate(results): no cold starts among {len(results)} results, so there is no INIT to "
            "draw. Force one by changing the configuration (fn.update(env={...}) starts new environments), "
            "or use measure(fn, event, cold=5)")
    if cold == "init_duration":
        durations = {"init_duration": Empirical([r.init_duration_ms / 1000 for r in colds])}
    else:
        durations = {"cold_duration": Empirical([(r.init_duration_ms + r.duration_ms) / 1000 for r in colds])}
    if error_rate is None:
        error_rate = sum(getattr(r, "error", None) is not None for r in results) / len(results)
    return FunctionConfig(warm_duration=Empirical(warm), memory_mb=memories.pop(), architecture=archs.pop(),
                          error_rate=error_rate, **durations, **config)

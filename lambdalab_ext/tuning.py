"""Power tuning, locally, on real execution environments: which memory size should a function have?

What AWS Lambda Power Tuning (alexcasalboni/aws-lambda-power-tuning, docs/lambda-facts.md §6.6) does with
a Step Functions state machine, done here in one call: for each memory size ("power value") the
function is reconfigured (a new version of its configuration, so new execution environments),
invoked ``invocations`` times with the same payload, and its durations are averaged after trimming
the extremes (``discard_top_bottom``). An analyser then picks the best size for a strategy:

* ``"cost"``: the lowest cost per invocation (ties go to the faster size);
* ``"speed"``: the shortest average billed duration (ties go to the cheaper size);
* ``"balanced"``: the lowest ``w * cost / max cost + (1 - w) * duration / max duration``, with
  ``w = balanced_weight`` (0 = speed only, 1 = cost only).

Memory buys CPU (1,769 MB = one vCPU; the Docker backend sets each container's CPU quota from
its memory, capped at the host's cores), so a CPU-bound handler gets faster as memory grows and its
cost can stay flat, while an I/O-bound one waits just as long at every size and only costs more.

Differences from the tool, on purpose:

* Cold starts are measured but not averaged. Right after each reconfiguration the first invocation
  is a cold start, whose billed duration includes INIT (since 1 August 2025). The tool leaves it
  among the samples and relies on ``discardTopBottom`` to trim it, which does nothing with fewer
  than 5 invocations (``int(4 * 0.2) == 0``). Here every cold-start invocation is recorded apart
  (``cold_starts``, ``init_duration_ms``) and another invocation is made in its place, so each size
  gets ``invocations`` warm samples; trimming then removes the remaining outliers.
* The cost per invocation includes the request charge (what you pay); the tool compares duration
  charges only. It does not change the "cost" ranking; it makes "balanced" lean slightly to speed.
* Out-of-range ``discard_top_bottom`` (0-0.4) or ``balanced_weight`` (0-1) raise instead of being
  clamped.

Like the tool's Cleaner, the function's memory size is restored at the end, also after an error.
Like its Executor, the first failed invocation stops the run: ``PowerTuningError``.

>>> result = power_tune(lab.functions["crunch"], memory_sizes=[128, 512, 1769],   # doctest: +SKIP
...                     invocations=5, payload={"n": 500_000}, strategy="speed")
>>> result.best.memory_mb, result.reason                                          # doctest: +SKIP
(1769, '1,769 MB is the fastest: ...')

The analysis is pure and can be tried on made-up numbers:

>>> stats = [memory_size_stats(128, [800.0] * 5), memory_size_stats(1024, [90.0] * 5)]
>>> select_memory_size(stats, "cost")[0].memory_mb
1024
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

from . import pricing

__all__ = [
    "DEFAULT_MEMORY_SIZES",
    "STRATEGIES",
    "MemorySizeStats",
    "PowerTuningError",
    "PowerTuningResult",
    "balanced_scores",
    "memory_size_stats",
    "payloads_for",
    "power_tune",
    "select_memory_size",
    "trimmed",
]

DEFAULT_MEMORY_SIZES = (128, 256, 512, 1024, 1769, 3008)
STRATEGIES = ("cost", "speed", "balanced")
MAX_DISCARD_TOP_BOTTOM = 0.4   # the tool's upper bound: trimming more would leave too little


class PowerTuningError(RuntimeError):
    """An invocation failed during power tuning; the run stopped there (as the tool's Executor does).

    ``result`` is the failed ``InvocationResult`` (Lambda's error in ``result.error``), ``memory_mb``
    the size it ran at. The function's original memory size has been restored.
    """

    def __init__(self, message, *, function_name=None, memory_mb=None, result=None):
        super().__init__(message)
        self.function_name = function_name
        self.memory_mb = memory_mb
        self.result = result


# --------------------------------------------------------------------------------------------
# The pure part: statistics and the analyser
# --------------------------------------------------------------------------------------------


def _check_discard(discard_top_bottom):
    if isinstance(discard_top_bottom, bool) or not isinstance(discard_top_bottom, (int, float, Decimal)):
        raise TypeError(f"discard_top_bottom must be a number, not {discard_top_bottom!r}")
    if not 0 <= discard_top_bottom <= MAX_DISCARD_TOP_BOTTOM:
        raise ValueError(f"discard_top_bottom must be between 0 and {MAX_DISCARD_TOP_BOTTOM} (the share "
                         f"of samples dropped at EACH end, as in AWS Lambda Power Tuning), "
                         f"not {discard_top_bottom!r}")
    return discard_top_bottom


def trimmed(values, discard_top_bottom=0.2):
    """``(kept, discarded_each_end)``: ``values`` sorted, without the lowest and highest shares.

    As AWS Lambda Power Tuning trims: ``int(len(values) * discard_top_bottom)`` values go at each
    end, so 10 samples at 0.2 lose 2 + 2, and fewer than 5 samples lose none.

    >>> trimmed([5, 1, 100, 3, 2, 4, 6, 7, 8, 0], 0.2)
    ([2, 3, 4, 5, 6, 7], 2)
    >>> trimmed([300, 10, 11], 0.2)
    ([10, 11, 300], 0)
    """
    _check_discard(discard_top_bottom)
    ordered = sorted(values)
    k = int(len(ordered) * float(discard_top_bottom))
    return ordered[k:len(ordered) - k], k


def _percentile(values, q):
    import numpy as np
    return float(np.percentile(np.asarray(values, dtype=float), q))


@dataclass(frozen=True)
class MemorySizeStats:
    """What power tuning measured at one memory size.

    Durations in ms. ``average_duration_ms`` and ``average_billed_duration_ms`` are trimmed means
    (the same invocations dropped for both); ``p50_duration_ms`` / ``p90_duration_ms`` are over
    every warm sample, untrimmed (percentiles need no trimming). ``cost_per_invocation`` is the
    exact price of one invocation billed for the average billed duration rounded up to the
    millisecond (the tool's rule), request included, at the first-tier rate without free tier;
    ``cost_per_million`` is a million of those. Cold starts are counted apart: ``cold_starts``, and
    ``init_duration_ms`` (their mean Init Duration, None if there was none).
    """

    memory_mb: int
    architecture: str
    invocations: int
    discarded: int                      # samples dropped by trimming, both ends together
    average_duration_ms: float
    p50_duration_ms: float
    p90_duration_ms: float
    average_billed_duration_ms: float
    cost_per_invocation: Decimal
    cost_per_million: Decimal
    cold_starts: int = 0
    init_duration_ms: float | None = None
    durations_ms: tuple = ()            # every warm sample, in the order measured
    billed_durations_ms: tuple = ()

    def as_dict(self):
        return {
            "memory_mb": self.memory_mb,
            "architecture": self.architecture,
            "invocations": self.invocations,
            "discarded": self.discarded,
            "average_duration_ms": self.average_duration_ms,
            "p50_duration_ms": self.p50_duration_ms,
            "p90_duration_ms": self.p90_duration_ms,
            "average_billed_duration_ms": self.average_billed_duration_ms,
            "cost_per_invocation": self.cost_per_invocation,
            "cost_per_million": self.cost_per_million,
            "cold_starts": self.cold_starts,
            "init_duration_ms": self.init_duration_ms,
            "durations_ms": list(self.durations_ms),
            "billed_durations_ms": list(self.billed_durations_ms),
        }


def memory_size_stats(memory_mb, durations_ms, billed_durations_ms=None, *, discard_top_bottom=0.2,
                      architecture="x86_64", ephemeral_storage_mb=512, initialization_type="on-demand",
                      init_durations_ms=(), prices=pricing.US_EAST_1):
    """Statistics of one memory size from warm samples (pure: works on made-up numbers too).

    ``billed_durations_ms`` defaults to each duration rounded up to the millisecond, as Lambda
    bills a warm invocation. ``init_durations_ms``: the Init Durations of the cold starts left out.

    >>> s = memory_size_stats(1024, [10.2, 10.4, 99.0, 10.1, 10.3], discard_top_bottom=0.2)
    >>> s.discarded, round(s.average_duration_ms, 2), s.average_billed_duration_ms
    (2, 10.3, 11.0)
    >>> s.cost_per_million      # 1,024 MB x 11 ms = 0.011 GB-s, plus the request
    Decimal('0.3833337')
    """
    durations = [float(d) for d in durations_ms]
    if not durations:
        raise ValueError(f"no samples for {memory_mb} MB: power tuning needs at least one invocation per size")
    if billed_durations_ms is None:
        billed = [pricing.billed_duration_ms(d) for d in durations]
    else:
        billed = [int(b) for b in billed_durations_ms]
        if len(billed) != len(durations):
            raise ValueError("durations_ms and billed_durations_ms must have the same length")
    pairs, k = trimmed(list(zip(durations, billed)), discard_top_bottom)
    average = math.fsum(d for d, _ in pairs) / len(pairs)
    average_billed = math.fsum(b for _, b in pairs) / len(pairs)
    # The tool prices the average billed duration, rounded up to the millisecond.
    billed_ms = math.ceil(average_billed)
    invocation = SimpleNamespace(memory_size_mb=memory_mb, billed_duration_ms=billed_ms, duration_ms=average,
                                 init_duration_ms=None, architecture=architecture,
                                 ephemeral_storage_mb=ephemeral_storage_mb,
                                 initialization_type=initialization_type)
    cost = pricing.cost_of(invocation, prices=prices).total
    inits = [float(i) for i in init_durations_ms if i is not None]
    return MemorySizeStats(
        memory_mb=int(memory_mb), architecture=architecture, invocations=len(durations), discarded=2 * k,
        average_duration_ms=average, p50_duration_ms=_percentile(durations, 50),
        p90_duration_ms=_percentile(durations, 90), average_billed_duration_ms=average_billed,
        cost_per_invocation=cost, cost_per_million=cost.scaleb(6),
        cold_starts=len(list(init_durations_ms)), init_duration_ms=math.fsum(inits) / len(inits) if inits else None,
        durations_ms=tuple(durations), billed_durations_ms=tuple(billed))


def _fraction(value):
    if isinstance(value, float):
        return Fraction(repr(value))   # 0.3 means three tenths, not the binary float next to it
    return Fraction(value)


def _check_strategy(strategy, balanced_weight):
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be 'cost', 'speed' or 'balanced', not {strategy!r}")
    if isinstance(balanced_weight, bool) or not isinstance(balanced_weight, (int, float, Decimal, Fraction)):
        raise TypeError(f"balanced_weight must be a number between 0 and 1, not {balanced_weight!r}")
    if not 0 <= balanced_weight <= 1:
        raise ValueError(f"balanced_weight must be between 0 (speed only) and 1 (cost only), "
                         f"not {balanced_weight!r}")


def balanced_scores(stats, balanced_weight=0.5):
    """Each size's balanced score (lower is better), exact: ``w * cost / max cost + (1 - w) *
    duration / max duration`` with the average billed duration, as the tool's analyser computes it."""
    w = _fraction(balanced_weight)
    max_cost = max(_fraction(s.cost_per_invocation) for s in stats)
    max_duration = max(_fraction(s.average_billed_duration_ms) for s in stats)
    scores = {}
    for s in stats:
        cost = _fraction(s.cost_per_invocation) / max_cost if max_cost else Fraction(0)
        duration = _fraction(s.average_billed_duration_ms) / max_duration if max_duration else Fraction(0)
        scores[s.memory_mb] = w * cost + (1 - w) * duration
    return scores


def _money(amount):
    """Dollars readable at any size (``limits.format_usd``: cents from a cent, else three significant digits)."""
    from .limits import format_usd
    return format_usd(amount)


def _percent_less(smaller, larger):
    return 100 * (1 - float(smaller) / float(larger)) if larger else 0.0


def _share(percent):
    # "0% less time" reads as a contradiction next to "the fastest"; say what it means.
    return f"{percent:.0f}%" if percent >= 1 else "under 1%"


def select_memory_size(stats, strategy="cost", balanced_weight=0.5):
    """The best of ``stats`` (``MemorySizeStats``-like objects) under ``strategy``, and why.

    Returns ``(best, reason)``, ``reason`` being one sentence. Pure: no function runs.

    >>> stats = [memory_size_stats(m, [d] * 5) for m, d in [(128, 1000.0), (512, 240.0), (1024, 130.0)]]
    >>> [select_memory_size(stats, s)[0].memory_mb for s in ("cost", "speed", "balanced")]
    [512, 1024, 1024]
    >>> select_memory_size(stats, "balanced", balanced_weight=0.9)[0].memory_mb
    512
    """
    _check_strategy(strategy, balanced_weight)
    stats = list(stats)
    if not stats:
        raise ValueError("no memory sizes to choose from")
    cheapest = min(stats, key=lambda s: (s.cost_per_invocation, s.average_billed_duration_ms, s.memory_mb))
    fastest = min(stats, key=lambda s: (s.average_billed_duration_ms, s.cost_per_invocation, s.memory_mb))
    if strategy == "cost":
        best = cheapest
        reason = (f"{best.memory_mb:,} MB is the cheapest: {_money(best.cost_per_million)} per million "
                  f"invocations at {best.average_billed_duration_ms:,.1f} ms billed on average")
        if fastest is best:
            reason += "; it is also the fastest."
        else:
            reason += (f"; the fastest, {fastest.memory_mb:,} MB, takes "
                       f"{_share(_percent_less(fastest.average_billed_duration_ms, best.average_billed_duration_ms))} "
                       f"less time but costs {float(fastest.cost_per_invocation / best.cost_per_invocation):.1f}x as much.")
    elif strategy == "speed":
        best = fastest
        reason = (f"{best.memory_mb:,} MB is the fastest: {best.average_billed_duration_ms:,.1f} ms billed on "
                  f"average, {_money(best.cost_per_million)} per million invocations")
        if cheapest is best:
            reason += "; it is also the cheapest."
        else:
            reason += (f"; the cheapest, {cheapest.memory_mb:,} MB, costs "
                       f"{_share(_percent_less(cheapest.cost_per_invocation, best.cost_per_invocation))} less but takes "
                       f"{cheapest.average_billed_duration_ms / best.average_billed_duration_ms:.1f}x as long.")
    else:
        scores = balanced_scores(stats, balanced_weight)
        best = min(stats, key=lambda s: (scores[s.memory_mb], s.cost_per_invocation, s.memory_mb))
        w = float(balanced_weight)
        reason = (f"With balanced_weight {w:g} (0 = speed only, 1 = cost only), {best.memory_mb:,} MB has the "
                  f"lowest score, {w:g} x cost / max cost + {1 - w:g} x duration / max duration = "
                  f"{float(scores[best.memory_mb]):.3f}: {_money(best.cost_per_million)} per million invocations "
                  f"at {best.average_billed_duration_ms:,.1f} ms billed on average.")
    return best, reason


def payloads_for(invocations, payload):
    """The ``invocations`` events to send, as the tool generates them.

    A plain payload is sent every time. A weighted list, ``[{"payload": event, "weight": 3}, ...]``,
    is spread by relative weight (each gets ``floor(weight * invocations / total)``, the last one
    the rest), in order.

    >>> payloads_for(4, [{"payload": "a", "weight": 1}, {"payload": "b", "weight": 3}])
    ['a', 'b', 'b', 'b']
    """
    if not _is_weighted(payload):
        return [payload] * invocations
    total = sum(p["weight"] for p in payload)
    if invocations < len(payload):
        raise ValueError(f"{len(payload)} weighted payloads need at least as many invocations, "
                         f"not {invocations}: raise invocations.")
    out = []
    for i, p in enumerate(payload):
        count = invocations - len(out) if i == len(payload) - 1 else math.floor(p["weight"] * invocations / total)
        if count < 1:
            raise ValueError(f"payload {i} gets no invocation at weight {p['weight']} of {total}: raise "
                             f"invocations or its weight.")
        out += [p["payload"]] * count
    return out


def _is_weighted(payload):
    return (isinstance(payload, list) and bool(payload)
            and all(isinstance(p, dict) and set(p) == {"payload", "weight"}
                    and isinstance(p["weight"], (int, float)) and not isinstance(p["weight"], bool)
                    and p["weight"] > 0 for p in payload))


# --------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerTuningResult:
    """What ``power_tune`` found: per memory size, statistics; the best size and why.

    ``stats`` is in ascending memory order; ``result[1024]`` is the ``MemorySizeStats`` of 1,024 MB.
    ``best`` and ``reason`` follow ``strategy``; ``with_strategy("speed")`` re-analyses without
    running anything. ``total_cost`` is what every invocation of the run (cold starts included)
    would have cost on Lambda. ``table()`` gives one row per size, ``as_dict()`` everything,
    ``plot()`` a matplotlib figure of duration and cost against memory.

    >>> result = lab.functions["crunch"].power_tune([128, 1024], invocations=5)   # doctest: +SKIP
    >>> result[1024].average_duration_ms < result[128].average_duration_ms          # doctest: +SKIP
    True
    """

    function_name: str
    strategy: str
    balanced_weight: float
    discard_top_bottom: float
    invocations: int
    parallel: bool
    stats: tuple
    best: MemorySizeStats
    reason: str
    original_memory_mb: int | None = None
    total_cost: Any = None              # pricing.InvocationCost of every invocation run
    wall_time_s: float | None = None
    backend: str = ""
    notes: tuple = field(default=())

    def __getitem__(self, memory_mb):
        for s in self.stats:
            if s.memory_mb == memory_mb:
                return s
        raise KeyError(f"{memory_mb} MB was not tuned; sizes: {[s.memory_mb for s in self.stats]}")

    @property
    def memory_sizes(self):
        return [s.memory_mb for s in self.stats]

    def with_strategy(self, strategy, balanced_weight=None):
        """The same measurements analysed with another strategy (nothing is invoked again)."""
        weight = self.balanced_weight if balanced_weight is None else balanced_weight
        best, reason = select_memory_size(self.stats, strategy, weight)
        return replace(self, strategy=strategy, balanced_weight=weight, best=best, reason=reason)

    def table(self):
        """One dict per memory size (numbers, not text): ``pandas.DataFrame(result.table())`` works."""
        rows = []
        for s in self.stats:
            rows.append({
                "memory_mb": s.memory_mb,
                "average_duration_ms": s.average_duration_ms,
                "p50_duration_ms": s.p50_duration_ms,
                "p90_duration_ms": s.p90_duration_ms,
                "average_billed_duration_ms": s.average_billed_duration_ms,
                "cost_per_invocation": s.cost_per_invocation,
                "cost_per_million": s.cost_per_million,
                "cold_starts": s.cold_starts,
                "init_duration_ms": s.init_duration_ms,
                "best": s.memory_mb == self.best.memory_mb,
            })
        return rows

    def as_dict(self):
        """Everything, as plain data (exact Decimals for money)."""
        return {
            "function_name": self.function_name,
            "strategy": self.strategy,
            "balanced_weight": self.balanced_weight,
            "discard_top_bottom": self.discard_top_bottom,
            "invocations": self.invocations,
            "parallel": self.parallel,
            "best_memory_mb": self.best.memory_mb,
            "reason": self.reason,
            "original_memory_mb": self.original_memory_mb,
            "total_cost": None if self.total_cost is None else self.total_cost.total,
            "wall_time_s": self.wall_time_s,
            "backend": self.backend,
            "notes": list(self.notes),
            "stats": [s.as_dict() for s in self.stats],
        }

    # -- views -----------------------------------------------------------------------------------
    _HEADER = ("memory", "avg duration", "p50", "p90", "avg billed", "per invocation", "per million",
               "cold start init")

    def _cells(self, s):
        init = "—" if s.init_duration_ms is None else f"{s.init_duration_ms:,.1f} ms"
        return (f"{s.memory_mb:,} MB", f"{s.average_duration_ms:,.2f} ms", f"{s.p50_duration_ms:,.2f} ms",
                f"{s.p90_duration_ms:,.2f} ms", f"{s.average_billed_duration_ms:,.1f} ms",
                _money(s.cost_per_invocation), f"${s.cost_per_million:,.4f}", init)

    def _caption(self):
        trim = (f"trimmed mean of {self.invocations} warm invocations, {self.discard_top_bottom:g} "
                f"dropped at each end")
        return (f"Power tuning of {self.function_name} ({self.backend or 'lab'}): {trim}; cold starts "
                f"measured apart; strategy {self.strategy!r}")

    def _footer(self):
        lines = [f"Best: {self.reason}"]
        if self.total_cost is not None:
            lines.append(f"This run: {self.total_cost.invocations} invocations, "
                         f"{_money(self.total_cost.total)} on Lambda (us-east-1, no free tier).")
        lines.extend(self.notes)
        return lines

    def __str__(self):
        rows = [self._HEADER] + [self._cells(s) for s in self.stats]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self._HEADER))]
        lines = [self._caption()]
        for n, r in enumerate(rows):
            mark = "  " if n == 0 or self.stats[n - 1] is not self.best else "* "
            lines.append(mark + "  ".join(c.rjust(w) for c, w in zip(r, widths)))
        return "\n".join(lines + self._footer())

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self):
        import html
        e = html.escape
        head = "".join(f"<th style='text-align:right'>{e(h)}</th>" for h in self._HEADER)
        body = []
        for s in self.stats:
            best = s is self.best
            style = " style='font-weight:600;background:var(--jp-brand-color3,#dbeafe)'" if best else ""
            cells = "".join(f"<td style='text-align:right'>{e(c)}</td>" for c in self._cells(s))
            body.append(f"<tr{style} data-memory-mb='{s.memory_mb}'>{cells}</tr>")
        footer = "".join(f"<p><small>{e(line)}</small></p>" for line in self._footer())
        return (f"<div class='lambdalab-power-tuning'><table><caption>{e(self._caption())}</caption>"
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{footer}</div>")

    def plot(self, ax=None):
        """Average duration and cost per million against memory, on two y axes; returns the Figure.

        Like the tool's visualisation. Pass ``ax`` to draw into your own Axes (a twin Axes is added
        for the cost); otherwise a new ``matplotlib.figure.Figure`` is made (pyplot is not touched).
        """
        from matplotlib.figure import Figure
        if ax is None:
            fig = Figure(figsize=(7, 3.6))
            ax = fig.add_subplot()
        else:
            fig = ax.figure
        positions = list(range(len(self.stats)))
        labels = [f"{s.memory_mb:,}" for s in self.stats]
        durations = [s.average_duration_ms for s in self.stats]
        costs = [float(s.cost_per_million) for s in self.stats]
        ax.plot(positions, durations, "o-", color="#1f6feb", label="average duration (ms)")
        ax.set_xticks(positions, labels)
        ax.set_xlabel("memory (MB)")
        ax.set_ylabel("average duration (ms)", color="#1f6feb")
        ax.set_ylim(bottom=0)
        cost_ax = ax.twinx()
        cost_ax.plot(positions, costs, "s--", color="#d97706", label="cost per million ($)")
        cost_ax.set_ylabel("cost per million invocations ($)", color="#d97706")
        cost_ax.set_ylim(bottom=0)
        best = self.stats.index(self.best)
        ax.axvline(best, color="#15803d", alpha=0.35, linewidth=6, label=f"best ({self.strategy})")
        ax.set_title(f"{self.function_name}: power tuning, best for {self.strategy}: {self.best.memory_mb:,} MB")
        handles = ax.get_legend_handles_labels()
        more = cost_ax.get_legend_handles_labels()
        # Below the plot, so it never hides a point.
        ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper center", bbox_to_anchor=(0.5, -0.22),
                  ncol=3, fontsize="small", frameon=False)
        fig.tight_layout()
        return fig


# --------------------------------------------------------------------------------------------
# Running it on a function
# --------------------------------------------------------------------------------------------


def _check_sizes(fn, memory_sizes):
    if isinstance(memory_sizes, (int, float)) or not memory_sizes:
        raise ValueError("memory_sizes must be a non-empty list of memory sizes in MB, e.g. [128, 512, 1024]")
    sizes = sorted(set(memory_sizes))
    for m in sizes:
        fn.config.replace(memory_mb=m)   # Lambda's own limits, checked before anything changes
    return [int(m) for m in sizes]


def _failure(fn, memory_mb, result, original):
    error = result.error or {}
    return PowerTuningError(
        f"{fn.name} failed at {memory_mb:,} MB: {error.get('errorType')}: {error.get('errorMessage')}. "
        f"Power tuning stops at the first failed invocation, as AWS Lambda Power Tuning does; the memory "
        f"size is back to {original:,} MB. Fix the handler or the payload, raise the timeout, or leave "
        f"{memory_mb:,} MB out.", function_name=fn.name, memory_mb=memory_mb, result=result)


def _measure(fn, memory_mb, events, parallel, tick, original):
    """Invoke until ``len(events)`` warm samples are in; cold starts are kept apart. Returns
    ``(warm, cold)`` lists of ``InvocationResult``."""
    n = len(events)
    # Every invocation past these is a sign environments are not being reused (a keep-alive of
    # zero, a crash loop): stop rather than loop.
    limit = 3 * n + 1
    warm, cold = [], []
    lock = threading.Lock()
    pending = list(range(n - 1, -1, -1))   # sample slots still to fill (popped from the end)
    state = {"attempts": 0, "failure": None}

    def next_index():
        with lock:
            if state["failure"] is not None or not pending:
                return None
            if state["attempts"] >= limit:
                state["failure"] = PowerTuningError(
                    f"{fn.name} at {memory_mb:,} MB: {len(cold)} cold starts in {state['attempts']} invocations; "
                    "environments are not being reused (is the lab's keep_alive_s 0?).",
                    function_name=fn.name, memory_mb=memory_mb)
                return None
            state["attempts"] += 1
            return pending.pop()

    def worker():
        while True:
            index = next_index()
            if index is None:
                return
            try:
                result = fn.invoke(events[index])
            except BaseException as exc:   # a service error (throttle...): stop everyone, re-raised below
                with lock:
                    state["failure"] = state["failure"] or exc
                return
            finally:
                tick()
            with lock:
                if not result.ok:
                    state["failure"] = state["failure"] or _failure(fn, memory_mb, result, original)
                    return
                if result.cold:
                    cold.append(result)
                    pending.append(index)     # measured apart: another invocation fills its slot
                else:
                    warm.append((index, result))

    if parallel:
        threads = [threading.Thread(target=worker, name=f"lambdalab-power-tune-{i}", daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        worker()
    if state["failure"] is not None:
        raise state["failure"]
    return [r for _, r in sorted(warm, key=lambda pair: pair[0])], cold


def power_tune(fn, memory_sizes=DEFAULT_MEMORY_SIZES, invocations=10, payload=None, *, strategy="cost",
               balanced_weight=0.5, discard_top_bottom=0.2, parallel=False, progress=True,
               prices=pricing.US_EAST_1):
    """Run ``fn`` at each memory size and find the best one; returns a ``PowerTuningResult``.

    For each size (ascending): the function is reconfigured (new execution environments), then
    invoked until ``invocations`` warm samples are in, each with ``payload`` (``None``: the empty
    event ``{}``; or a weighted list, see ``payloads_for``). The cold start each reconfiguration causes is measured apart, not
    averaged (the module's docstring says why). ``parallel=True`` sends a size's invocations all at
    once, as the tool's ``parallelInvocation`` does: that takes one environment, hence one cold
    start, per invocation. Durations are averaged after dropping ``discard_top_bottom`` of the
    samples at each end (0-0.4, default 0.2). ``strategy``: "cost", "speed" or "balanced" (with
    ``balanced_weight``: 0 = speed only, 1 = cost only). ``progress=False`` hides the progress bar.

    The original memory size is restored at the end, and after an error. A failed invocation stops
    the run with ``PowerTuningError`` (its ``result`` holds Lambda's error); a service error
    (``TooManyRequestsException``...) is raised as it is.

    >>> result = power_tune(lab.functions["crunch"], [128, 512, 1769], invocations=5,   # doctest: +SKIP
    ...                     payload={"n": 500_000}, strategy="balanced")
    >>> result.plot()                                                                   # doctest: +SKIP
    """
    started = time.perf_counter()
    _check_strategy(strategy, balanced_weight)
    _check_discard(discard_top_bottom)
    if isinstance(invocations, bool) or not isinstance(invocations, int) or invocations < 1:
        raise ValueError(f"invocations must be a whole number of at least 1 (the tool recommends 10-100), "
                         f"not {invocations!r}")
    sizes = _check_sizes(fn, memory_sizes)
    events = payloads_for(invocations, {} if payload is None else payload)
    per_size = invocations + (invocations if parallel else 1)   # warm samples + the expected cold starts

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(sizes) * per_size, desc=f"power tuning {fn.name}", unit="invoke", leave=True)

    def tick():
        if bar is not None:
            bar.update(1)

    original = fn.config.memory_mb
    measured = []
    every = []
    try:
        for memory_mb in sizes:
            if bar is not None:
                bar.set_postfix_str(f"{memory_mb:,} MB")
            # Always reconfigure, even to the current size: like the tool's new version per power
            # value, every size then starts from fresh environments and has one cold start.
            fn.update(memory_mb=memory_mb)
            warm, cold = _measure(fn, memory_mb, events, parallel, tick, original)
            every += cold + warm
            if bar is not None and len(cold) + len(warm) != per_size:
                bar.total += len(cold) + len(warm) - per_size
                bar.refresh()
            config = fn.config
            measured.append(memory_size_stats(
                memory_mb, [r.duration_ms for r in warm], [r.billed_duration_ms for r in warm],
                discard_top_bottom=discard_top_bottom, architecture=config.architecture,
                ephemeral_storage_mb=config.ephemeral_storage_mb,
                initialization_type=warm[0].initialization_type,
                init_durations_ms=[r.init_duration_ms for r in cold], prices=prices))
    finally:
        try:
            # The tool's Cleaner: the function is left as it was found.
            if fn.config.memory_mb != original:
                fn.update(memory_mb=original)
        finally:
            if bar is not None:
                bar.close()
    best, reason = select_memory_size(measured, strategy, balanced_weight)
    backend = every[0].backend if every else ""
    notes = ()
    if backend == "process":
        notes = ("Process backend: CPU does not follow memory here, so durations barely change with memory. "
                 "Start Docker for power tuning that means something.",)
    return PowerTuningResult(
        function_name=fn.name, strategy=strategy, balanced_weight=balanced_weight,
        discard_top_bottom=discard_top_bottom, invocations=invocations, parallel=bool(parallel),
        stats=tuple(measured), best=best, reason=reason, original_memory_mb=original,
        total_cost=pricing.cost_of_many(every, prices=prices), wall_time_s=time.perf_counter() - started,
        backend=backend, notes=notes)

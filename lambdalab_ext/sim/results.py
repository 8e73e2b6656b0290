"""What a simulation returns: a summary, per-bin time series, a latency histogram, usage and its price.

Memory stays bounded however long the horizon: latencies go into a fixed log-spaced histogram
(not a list), time series into at most ``MAX_BINS`` bins, and counts into plain integers.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field, fields
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, localcontext

import numpy as np

__all__ = ["LatencyHistogram", "TimeSeries", "Summary", "Usage", "SimulationCost", "SimulationResult"]

# Prices are exact: an operation whose result would need rounding raises instead (as in pricing).
_EXACT = Context(prec=120, traps=[Inexact, InvalidOperation, DivisionByZero])
_MBMS_PER_GB_S = 1024 * 1000


class LatencyHistogram:
    """Durations in a fixed log-spaced histogram: 400 bins per decade from 1 µs to 10^5 s.

    A percentile is read as the geometric middle of its bin, so it is within 0.3% of the exact
    value (the bin's relative half-width), clamped to the exact minimum and maximum. Counts, mean and
    maximum are exact. Memory is constant: 4,401 64-bit counters.
    """

    LOW = 1e-6
    DECADES = 11
    PER_DECADE = 400
    RELATIVE_ERROR = 10 ** (0.5 / PER_DECADE) - 1

    def __init__(self):
        self.counts = np.zeros(self.DECADES * self.PER_DECADE + 1, dtype=np.int64)
        self.n = 0
        self.total = 0.0
        self.min = math.inf
        self.max = 0.0

    def add(self, values) -> None:
        v = np.asarray(values, dtype=float)
        if v.size == 0:
            return
        idx = np.floor(np.log10(np.maximum(v, self.LOW) / self.LOW) * self.PER_DECADE).astype(np.int64)
        np.clip(idx, 0, self.counts.size - 1, out=idx)
        self.counts += np.bincount(idx, minlength=self.counts.size)
        self.n += v.size
        self.total += float(v.sum())
        self.min = min(self.min, float(v.min()))
        self.max = max(self.max, float(v.max()))

    def merged(self, *others: "LatencyHistogram") -> "LatencyHistogram":
        out = LatencyHistogram()
        for h in (self,) + others:
            out.counts += h.counts
            out.n += h.n
            out.total += h.total
            out.min = min(out.min, h.min)
            out.max = max(out.max, h.max)
        return out

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    def percentile(self, q: float) -> float:
        """The q-th percentile (0-100) in seconds; NaN when empty."""
        if self.n == 0:
            return math.nan
        rank = max(1, math.ceil(q / 100 * self.n))
        k = int(np.searchsorted(np.cumsum(self.counts), rank))
        mid = self.LOW * 10 ** ((k + 0.5) / self.PER_DECADE)
        return min(max(mid, self.min), self.max)


@dataclass
class TimeSeries:
    """Per-bin series over ``[0, horizon)``: ``t`` is each bin's start (s), ``width`` its length.

    ``concurrency`` and ``instances`` are time averages over the bin (running invocations;
    environments alive, busy or idle); ``requests`` (attempts, async retries included),
    ``cold_starts``, ``throttles`` and ``errors`` are counts in the bin (divide by ``width`` for a
    rate).
    """

    t: np.ndarray
    width: np.ndarray
    requests: np.ndarray
    concurrency: np.ndarray
    instances: np.ndarray
    cold_starts: np.ndarray
    throttles: np.ndarray
    errors: np.ndarray

    @property
    def bin_seconds(self) -> float:
        return float(self.width[0]) if self.width.size else math.nan

    def __len__(self):
        return self.t.size


@dataclass(frozen=True)
class Usage:
    """What pricing needs: billed requests and GB-seconds (each duration rounded up to 1 ms,
    INIT included on cold starts, docs/lambda-facts.md §2.2), as floats for plots and tables.
    :meth:`SimulationResult.cost` prices the exact integers behind them."""

    requests: int
    gb_seconds: float
    provisioned_invocation_gb_seconds: float
    provisioned_concurrency_gb_seconds: float


def _gb_s(mb_ms: int) -> Decimal:
    with localcontext(_EXACT):
        return Decimal(mb_ms) / _MBMS_PER_GB_S


def _usd(amount: Decimal) -> str:
    from ..limits import format_usd
    from ..pricing import to_cents
    return f"{format_usd(to_cents(amount))} (exactly {format_usd(amount, exact=True)})"


@dataclass(frozen=True)
class SimulationCost:
    """What the simulated invocations would cost on Lambda, priced with :mod:`lambdalab_ext.pricing`.

    Exact ``Decimal`` dollars at the first-tier rates of the function's architecture and without
    the free tier: the marginal price of this traffic, on the basis :func:`pricing.cost_of
    <lambdalab_ext.pricing.cost_of>` prices one invocation. Lines:

    - ``request_cost``: every served invocation (throttled ones are not billed);
    - ``on_demand_cost``: on-demand billed duration (INIT included on cold starts, since
      1 August 2025) x memory, at the architecture's duration rate;
    - ``provisioned_invocation_cost``: invocations served by provisioned concurrency, at PC's
      own duration rate;
    - ``provisioned_concurrency_cost``: keeping the PC environments ready for the whole horizon,
      rounded up to 5 minutes (priced by :func:`pricing.monthly_cost
      <lambdalab_ext.pricing.monthly_cost>`).

    >>> from lambdalab_ext.sim import simulate, Poisson, FunctionConfig
    >>> cost = simulate(Poisson(10), FunctionConfig(warm_duration=0.1), horizon=60, seed=1).cost()
    >>> cost.requests, cost.on_demand_gb_s
    (614, Decimal('7.8625'))
    """

    requests: int
    memory_mb: int
    architecture: str
    region: str
    billed_ms_on_demand: int
    billed_ms_provisioned: int
    request_cost: Decimal
    on_demand_gb_s: Decimal
    on_demand_cost: Decimal
    provisioned_invocation_gb_s: Decimal
    provisioned_invocation_cost: Decimal
    provisioned_concurrency: int
    provisioned_concurrency_gb_s: Decimal
    provisioned_concurrency_cost: Decimal

    @property
    def total(self) -> Decimal:
        with localcontext(_EXACT):
            return (self.request_cost + self.on_demand_cost + self.provisioned_invocation_cost
                    + self.provisioned_concurrency_cost)

    def round_cents(self) -> Decimal:
        """The total to the cent (half up)."""
        from ..pricing import to_cents
        return to_cents(self.total)

    def _rows(self):
        rows = [("requests", f"{self.requests:,}", _usd(self.request_cost)),
                ("on-demand duration", f"{self.on_demand_gb_s:,f} GB-s", _usd(self.on_demand_cost))]
        if self.provisioned_concurrency:
            rows += [("duration on provisioned concurrency", f"{self.provisioned_invocation_gb_s:,f} GB-s",
                      _usd(self.provisioned_invocation_cost)),
                     (f"provisioned concurrency ({self.provisioned_concurrency:,} ready)",
                      f"{self.provisioned_concurrency_gb_s:,f} GB-s", _usd(self.provisioned_concurrency_cost))]
        rows.append(("total", "", _usd(self.total)))
        return rows

    def _title(self):
        return (f"Simulated Lambda cost: {self.memory_mb:,} MB, {self.architecture}, "
                f"{self.region} first-tier prices, no free tier")

    def __str__(self):
        rows = self._rows()
        w = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [self._title()] + [f"{a.ljust(w[0])}  {b.rjust(w[1])}  {c}" for a, b, c in rows]
        return "\n".join(lines)

    def _repr_html_(self):
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(a)}</th><td style='text-align:right'>"
                       f"{html.escape(b)}</td><td style='text-align:right'>{html.escape(c)}</td></tr>"
                       for a, b, c in self._rows())
        return (f"<table class='lambdalab-sim-cost'><caption>{html.escape(self._title())}</caption>"
                f"{body}</table>")


@dataclass(frozen=True)
class Summary:
    """Headline numbers of one simulation. Ratios are NaN when their denominator is 0.

    Counting: an *invocation* is an event from the arrival process; an *attempt* is each time the
    service tries to run one (async retries add attempts); an attempt is *served* (cold or warm) or
    *throttled*. ``warm_starts`` includes ``provisioned_starts`` (warm starts on provisioned
    environments). ``cold_start_ratio = cold_starts / served``; ``throttle_ratio = throttles /
    attempts``. Instance figures are time averages over ``[0, horizon)``; ``busy`` counts INIT and
    invoke time, ``idle`` warm waiting time. Latency = duration of a served attempt, INIT included
    on cold starts (percentiles from :class:`LatencyHistogram`, within 0.3%).
    """

    horizon_s: float
    invocations: int
    attempts: int
    served: int
    cold_starts: int
    warm_starts: int
    provisioned_starts: int
    throttles: int
    errors: int
    async_retries: int
    dead_letters: int
    dead_letters_by_reason: dict
    async_pending: int
    cold_start_ratio: float
    throttle_ratio: float
    mean_instances: float
    max_instances: int
    mean_busy_instances: float
    mean_idle_instances: float
    max_concurrency: int
    busy_instance_seconds: float
    idle_instance_seconds: float
    environments_created: int
    environments_expired: int
    mean_environment_lifespan_s: float
    latency_mean_s: float
    latency_p50_s: float
    latency_p90_s: float
    latency_p99_s: float
    latency_p999_s: float
    latency_max_s: float
    cold_latency_mean_s: float
    warm_latency_mean_s: float
    gb_seconds: float
    memory_mb: int

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def _rows(self):
        ms = lambda s: "n/a" if math.isnan(s) else f"{s * 1000:,.1f} ms"  # noqa: E731
        pct = lambda r: "n/a" if math.isnan(r) else f"{r:.4%}"  # noqa: E731
        rows = [
            ("horizon", f"{self.horizon_s:,.0f} s"),
            ("invocations", f"{self.invocations:,}"),
            ("attempts (incl. async retries)", f"{self.attempts:,}"),
            ("served", f"{self.served:,}"),
            ("cold starts", f"{self.cold_starts:,} ({pct(self.cold_start_ratio)} of served)"),
            ("provisioned (warm) starts", f"{self.provisioned_starts:,}"),
            ("throttles (429)", f"{self.throttles:,} ({pct(self.throttle_ratio)} of attempts)"),
            ("function errors", f"{self.errors:,}"),
        ]
        if self.async_retries or self.dead_letters or self.async_pending:
            by = ", ".join(f"{k}: {v:,}" for k, v in self.dead_letters_by_reason.items())
            rows += [
                ("async retries", f"{self.async_retries:,}"),
                ("dead letters", f"{self.dead_letters:,}" + (f" ({by})" if by else "")),
                ("async events still queued", f"{self.async_pending:,}"),
            ]
        rows += [
            ("instances mean / max", f"{self.mean_instances:,.2f} / {self.max_instances:,}"),
            ("  busy / idle (mean)", f"{self.mean_busy_instances:,.2f} / {self.mean_idle_instances:,.2f}"),
            ("max concurrency", f"{self.max_concurrency:,}"),
            ("busy / idle instance-seconds", f"{self.busy_instance_seconds:,.0f} / {self.idle_instance_seconds:,.0f}"),
            ("environments created / expired", f"{self.environments_created:,} / {self.environments_expired:,}"),
            ("mean environment lifespan", "n/a" if math.isnan(self.mean_environment_lifespan_s)
             else f"{self.mean_environment_lifespan_s:,.0f} s"),
            ("latency mean / max", f"{ms(self.latency_mean_s)} / {ms(self.latency_max_s)}"),
            ("latency p50 / p90 / p99 / p99.9 (±0.3%)",
             " / ".join(ms(x) for x in (self.latency_p50_s, self.latency_p90_s, self.latency_p99_s, self.latency_p999_s))),
            ("mean latency cold / warm", f"{ms(self.cold_latency_mean_s)} / {ms(self.warm_latency_mean_s)}"),
            ("GB-seconds (billed, on-demand + PC invokes)", f"{self.gb_seconds:,.3f} at {self.memory_mb} MB"),
        ]
        return rows

    def __str__(self):
        rows = self._rows()
        w = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(w)}  {v}" for k, v in rows)

    def _repr_html_(self):
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                       f"<td style='text-align:right'>{html.escape(v)}</td></tr>" for k, v in self._rows())
        return f"<table class='lambdalab-sim-summary'><caption>Simulated Lambda service</caption>{body}</table>"


@dataclass
class SimulationResult:
    """The outcome of :func:`lambdalab_ext.sim.simulate`.

    ``summary`` (:class:`Summary`), ``timeseries`` (:class:`TimeSeries`), ``latency`` (the
    :class:`LatencyHistogram` of served attempts; ``cold_latency``/``warm_latency`` split it),
    ``dead_letter_ids`` (ids of dead-lettered async events, in order, when
    ``record_dead_letters=True``, else ``None``; an event's id is its index in arrival order),
    :meth:`usage` and :meth:`cost`.
    """

    summary: Summary
    timeseries: TimeSeries
    cold_latency: LatencyHistogram
    warm_latency: LatencyHistogram
    dead_letter_ids: list | None
    memory_mb: int
    provisioned_concurrency: int
    billed_gb_seconds_on_demand: float
    billed_gb_seconds_provisioned: float
    billed_requests: int
    seed: object = None
    config: dict = field(default_factory=dict)
    billed_ms_on_demand: int = 0      # billed milliseconds, summed exactly (what cost() prices)
    billed_ms_provisioned: int = 0
    architecture: str = "x86_64"

    @property
    def latency(self) -> LatencyHistogram:
        return self.cold_latency.merged(self.warm_latency)

    def usage(self) -> Usage:
        """Billed requests and GB-seconds (busy time only; PC's own charge reported apart)."""
        gb = self.memory_mb / 1024
        return Usage(
            requests=self.billed_requests,
            gb_seconds=self.billed_gb_seconds_on_demand,
            provisioned_invocation_gb_seconds=self.billed_gb_seconds_provisioned,
            provisioned_concurrency_gb_seconds=self.provisioned_concurrency * gb * self.summary.horizon_s,
        )

    def cost(self, prices=None, *, architecture: str | None = None) -> SimulationCost:
        """What this traffic would cost on Lambda: a :class:`SimulationCost` in exact ``Decimal`` dollars.

        ``prices``: a :class:`lambdalab_ext.pricing.PriceTable` (default
        :data:`~lambdalab_ext.pricing.US_EAST_1`), a dict in its ``as_dict()`` format, or a JSON
        file path. ``architecture``: ``"x86_64"`` or ``"arm64"``; default the simulated function's
        (``FunctionConfig(architecture=...)``). First-tier rates, no free tier: see
        :class:`SimulationCost`.

        >>> from lambdalab_ext.sim import simulate, Poisson, FunctionConfig
        >>> r = simulate(Poisson(10), FunctionConfig(warm_duration=0.1), horizon=60, seed=1)
        >>> r.cost().total > r.cost(architecture="arm64").total
        True
        """
        from ..pricing import US_EAST_1, load_prices, monthly_cost

        table = load_prices(US_EAST_1 if prices is None else prices)
        arch = self.architecture if architecture is None else architecture
        if arch not in table.duration:
            raise ValueError(f"cost(architecture={arch!r}): use 'x86_64' or 'arm64'")
        mem = self.memory_mb
        od_gb_s = _gb_s(mem * self.billed_ms_on_demand)
        pc_gb_s = _gb_s(mem * self.billed_ms_provisioned)
        units = self.provisioned_concurrency
        if units:
            # Keeping PC ready is billed for the time it is enabled, in 5-minute units: let the
            # pricing model apply that rule rather than restate it here.
            ready = monthly_cost(0, 0, mem, arch, provisioned_concurrency=units,
                                 pc_hours=self.summary.horizon_s / 3600, free_tier=False, prices=table)
            ready_gb_s, ready_cost = ready.pc_configured_gb_s, ready.pc_configured_cost
        else:
            ready_gb_s = ready_cost = Decimal(0)
        with localcontext(_EXACT):
            return SimulationCost(
                requests=self.billed_requests,
                memory_mb=mem,
                architecture=arch,
                region=table.region,
                billed_ms_on_demand=self.billed_ms_on_demand,
                billed_ms_provisioned=self.billed_ms_provisioned,
                request_cost=self.billed_requests * table.request,
                on_demand_gb_s=od_gb_s,
                on_demand_cost=od_gb_s * table.tier1_rate(arch),
                provisioned_invocation_gb_s=pc_gb_s,
                provisioned_invocation_cost=pc_gb_s * table.pc_duration[arch],
                provisioned_concurrency=units,
                provisioned_concurrency_gb_s=ready_gb_s,
                provisioned_concurrency_cost=ready_cost,
            )

    def __str__(self):
        return str(self.summary)

    def _repr_html_(self):
        return self.summary._repr_html_()

    def __repr__(self):
        s = self.summary
        return (f"<SimulationResult {s.invocations:,} invocations over {s.horizon_s:,.0f} s: "
                f"{s.cold_starts:,} cold ({s.cold_start_ratio:.3%}), {s.throttles:,} throttled, "
                f"{s.mean_instances:.2f} instances on average>")

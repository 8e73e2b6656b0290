"""The event loop: one function on a simulated Lambda service.

How it works, in one reading:

- Arrivals come in time order from the arrival process, a window of numpy-drawn times at a time.
  Async retries wait in a heap; the loop takes whichever is next.
- Before handling a request at time ``t`` the loop catches up with everything due by ``t``:
  invocations that finished (their environment turns idle) and idle environments whose
  keep-alive ran out (they are reclaimed). Both live in heaps keyed by time.
- Then the request is routed: throttled if the function is at its concurrency limit, else given a
  provisioned environment, else an idle on-demand one (the newest, by default), else a new
  environment if the scale-out bucket has a token (a cold start), else throttled.
- Durations, keep-alives and error draws come from numpy in batches; counts, sums and per-bin
  accumulators are plain Python numbers, so memory does not grow with the number of requests.

Keep-alive without one heap entry per idle period: each live environment has one entry in the
expiry heap whose key is a *lower bound* of its real expiry. When the entry comes due, the loop
either reclaims the environment (it really has been idle that long) or pushes the entry again at
the environment's current expiry. A request that shortens the expiry (possible only with a random
keep-alive) pushes an extra entry; superseded entries are skipped.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from heapq import heapify, heappop, heappush
from itertools import chain

import numpy as np

from .arrivals import ArrivalProcess, window_edges
from .config import EVENT, FunctionConfig, ServiceRules
from .distributions import Fixed
from .results import LatencyHistogram, SimulationResult, Summary, TimeSeries

__all__ = ["simulate", "auto_bin_seconds", "MAX_BINS"]

MAX_BINS = 100_000
_NICE_BINS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
_BATCH = 8192       # random numbers drawn per numpy call
_FLUSH = 16384      # durations buffered before they go into the histograms

_RETRY, _DROP_AGE, _DROP_RETRIES = 0, 1, 2
_DROP_REASONS = {_DROP_AGE: "MaximumEventAgeExceeded", _DROP_RETRIES: "RetriesExhausted"}


def auto_bin_seconds(horizon: float) -> float:
    """1 s bins, or the smallest of 2, 5, 10, 15, 30, 60, ... s that keeps at most 100,000 bins."""
    for b in _NICE_BINS:
        if horizon / b <= MAX_BINS:
            return float(b)
    return math.ceil(horizon / MAX_BINS)


class _Env:
    """One execution environment (the simulator's bookkeeping for it)."""

    __slots__ = ("seq", "created", "expires_at", "queued_at", "dead", "provisioned")

    def __init__(self, seq, created, provisioned=False):
        self.seq = seq
        self.created = created
        self.expires_at = math.inf
        self.queued_at = math.inf
        self.dead = False
        self.provisioned = provisioned


def _add_interval(part, diff, bw, a, b):
    """Add the indicator of [a, b) to per-bin integrals: partial bins in ``part``, whole bins as
    +1/-1 in ``diff`` (a difference array, summed at the end)."""
    ka = int(a / bw)
    kb = int(b / bw)
    if ka == kb:
        part[ka] += b - a
    else:
        part[ka] += (ka + 1) * bw - a
        part[kb] += b - kb * bw
        if kb > ka + 1:
            diff[ka + 1] += 1.0
            diff[kb] -= 1.0


def _draws(dist, rng):
    """An endless iterator of draws, fetched from numpy in batches."""
    if isinstance(dist, Fixed):
        v = dist.value
        while True:
            yield v
    while True:
        yield from dist.draw(rng, _BATCH).tolist()


def _uniforms(rng):
    while True:
        yield from rng.random(_BATCH).tolist()


def simulate(arrivals: ArrivalProcess, function: FunctionConfig | None = None,
             rules: ServiceRules | None = None, *, horizon: float, seed=0,
             bin_seconds: float | None = None, record_dead_letters: bool = False) -> SimulationResult:
    """Simulate one function on the Lambda service for ``horizon`` seconds.

    Parameters
    ----------
    arrivals:
        When invocations arrive (:mod:`lambdalab_ext.sim.arrivals`), e.g. ``Poisson(0.9)``.
    function:
        :class:`FunctionConfig` (durations, memory, reserved and provisioned concurrency, error rate,
        sync or async). Default: ``FunctionConfig()``.
    rules:
        :class:`ServiceRules` (account limit, scale-out rate, keep-alive, routing, async retry
        delays). Default: docs/lambda-facts.md §7.
    horizon:
        Simulated seconds. Arrivals and retries due at or after it are not started; invocations
        still running then complete (their whole duration counts in latency and GB-seconds, only
        the part before the horizon in the instance averages).
    seed:
        Anything ``numpy.random.SeedSequence`` accepts. Same seed, same result. Arrivals,
        warm and cold durations, keep-alives and errors use separate streams, so changing e.g. the
        error rate does not change the arrival times.
    bin_seconds:
        Width of the time-series bins; default :func:`auto_bin_seconds` (1 s up to 100,000 s).
    record_dead_letters:
        Keep the ids of dead-lettered async events in ``result.dead_letter_ids``.

    Example
    -------
    >>> from lambdalab_ext.sim import simulate, Poisson, FunctionConfig, Exponential
    >>> r = simulate(Poisson(0.9), FunctionConfig(warm_duration=Exponential(1.991),
    ...              cold_duration=Exponential(2.244)), horizon=3600, seed=1)
    >>> r.summary.cold_starts, r.summary.invocations
    (12, 3273)
    """
    fn = function if function is not None else FunctionConfig()
    rules = rules if rules is not None else ServiceRules()
    if not isinstance(fn, FunctionConfig):
        raise TypeError("simulate(function=...): pass a FunctionConfig(...)")
    if not isinstance(rules, ServiceRules):
        raise TypeError("simulate(rules=...): pass a ServiceRules(...)")
    if not isinstance(arrivals, ArrivalProcess):
        raise TypeError("simulate(arrivals, ...): pass an arrival process such as Poisson(rate)")
    H = float(horizon)
    if not (H > 0 and math.isfinite(H)):
        raise ValueError(f"simulate(horizon={horizon!r}): a finite number of seconds > 0")
    fn.check_against(rules)
    bw = float(bin_seconds) if bin_seconds is not None else auto_bin_seconds(H)
    if not bw > 0:
        raise ValueError("simulate(bin_seconds=...): a number of seconds > 0")
    nb = max(1, math.ceil(H / bw))
    if nb > 10 * MAX_BINS:
        raise ValueError(f"simulate: {nb:,} bins of {bw} s is too many; use bin_seconds >= {H / MAX_BINS:.3g}")

    r_arr, r_warm, r_cold, r_ka, r_err = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))

    # ---- random streams -------------------------------------------------------------------
    next_warm = _draws(fn.warm_duration, r_warm).__next__
    if fn.cold_duration is not None:
        next_cold = _draws(fn.cold_duration, r_cold).__next__
    else:
        _init, _run = _draws(fn.init_duration, r_cold).__next__, _draws(fn.warm_duration, r_cold).__next__
        next_cold = lambda: _init() + _run()  # noqa: E731
    ka_dist = rules.keep_alive
    ka_fixed = None if ka_dist is None else (ka_dist.value if isinstance(ka_dist, Fixed) else None)
    next_ka = None if ka_dist is None or ka_fixed is not None else _draws(ka_dist, r_ka).__next__
    never_expire = ka_dist is None
    p_err = fn.error_rate
    next_u = _uniforms(r_err).__next__

    # ---- the rules ------------------------------------------------------------------------
    limit = math.inf
    if rules.account_concurrency is not None:
        limit = rules.account_concurrency
    if fn.reserved_concurrency is not None:
        limit = min(limit, fn.reserved_concurrency)
    bucket = rules.scale_out
    b_cap = bucket.capacity if bucket else math.inf
    b_rate = bucket.refill_per_second if bucket else 0.0
    tokens, t_tokens = b_cap, 0.0
    is_async = fn.invocation_type == EVENT
    max_age = fn.maximum_event_age_s
    err_delays = rules.async_error_retry_delays
    max_err_retries = fn.maximum_retry_attempts
    thr_first, thr_max = rules.async_throttle_backoff
    routing = rules.routing

    # ---- state ----------------------------------------------------------------------------
    running = 0            # invocations in flight
    env_seq = 0
    departures = []        # heap of (end time, env seq, env)
    expiries = []          # heap of (lower bound of expiry, tiebreak, env)
    retries = []           # heap of (time, tiebreak, kind, [event id, first arrival, errors, throttles])
    n_tie = 0
    newest = routing == "newest"
    if newest:
        idle = []  # heap of (-seq, env): the newest environment on top (inlined below for speed)
        idle_put = idle_take = None
    elif routing == "mru":
        idle = []
        idle_put, idle_take = idle.append, idle.pop
    else:  # lru
        idle = deque()
        idle_put, idle_take = idle.append, idle.popleft
    idle_dead = 0          # reclaimed environments still sitting in ``idle`` (removed lazily)
    live_envs = {}         # seq -> env, on-demand environments alive
    pc_idle = []
    for _ in range(fn.provisioned_concurrency):
        env_seq += 1
        pc_idle.append(_Env(env_seq, 0.0, provisioned=True))
    live = len(pc_idle)    # environments alive (busy or idle)

    # counters
    invocations = attempts = cold = warm = pc_starts = throttles = errors = 0
    async_retries = 0
    drops = {"MaximumEventAgeExceeded": 0, "RetriesExhausted": 0}
    dlq_ids = [] if record_dead_letters else None
    max_live = live
    max_running = 0
    created = expired = 0
    lifespan_sum = 0.0
    busy_sum = 0.0
    inst_closed_sum = 0.0  # instance-seconds of environments already reclaimed

    # per-bin accumulators (array('d') indexes like a list, stores like numpy)
    zeros = bytes(8 * (nb + 2))
    b_req, b_cold, b_thr, b_err = (array("d", zeros) for _ in range(4))
    c_part, c_diff, i_part, i_diff = (array("d", zeros) for _ in range(4))

    # latency buffers -> histograms
    h_cold, h_warm = LatencyHistogram(), LatencyHistogram()
    buf_cold, buf_warm, buf_pc = [], [], []
    billed = {"od": 0, "pc": 0}  # billed milliseconds, exact integers

    def flush(buf, hist, key):
        if buf:
            v = np.asarray(buf)
            hist.add(v)
            # Lambda's rule, as lambdalab_ext.pricing applies it: read to the microsecond (which
            # sheds float noise such as 0.57 * 1000 = 570.0000000000001), then round each
            # invocation up to the whole millisecond.
            us = np.rint(v * 1e6).astype(np.int64)
            billed[key] += int((-(-us // 1000)).sum())
            buf.clear()

    arrivals_iter = chain.from_iterable(a.tolist() for a in arrivals.stream(window_edges(arrivals, H), r_arr))
    next_arrival = arrivals_iter.__next__
    INF = math.inf
    t_next = next(arrivals_iter, INF)

    while True:
        # ---- next event: an arrival or a queued async retry ----------------------------------
        if retries and retries[0][0] < t_next:
            t = retries[0][0]
            if t >= H:
                t, kind = H, None
            else:
                _, _, kind, ev = heappop(retries)
        else:
            t = t_next
            if t >= H:
                t, kind = H, None
            else:
                kind, ev = -1, None
                try:
                    t_next = next_arrival()
                except StopIteration:
                    t_next = INF

        # ---- catch up: invocations that ended by t turn idle ---------------------------------
        while departures and departures[0][0] <= t:
            env = heappop(departures)[2]
            running -= 1
            if env.provisioned:
                pc_idle.append(env)
            elif newest:
                heappush(idle, (-env.seq, env))
            else:
                idle_put(env)
        # ---- catch up: idle environments whose keep-alive ran out by t are reclaimed ---------
        while expiries and expiries[0][0] <= t:
            k, _, env = heappop(expiries)
            if env.dead or env.queued_at != k:
                continue  # superseded entry
            ea = env.expires_at
            if ea > k:  # used since: look again at its current expiry
                env.queued_at = ea
                n_tie += 1
                heappush(expiries, (ea, n_tie, env))
                continue
            env.dead = True
            live -= 1
            expired += 1
            idle_dead += 1
            lifespan_sum += k - env.created
            inst_closed_sum += k - env.created
            _add_interval(i_part, i_diff, bw, env.created, k)
            del live_envs[env.seq]
            if idle_dead > 1024 and idle_dead * 2 > len(idle):
                alive = [x for x in idle if not (x[1] if newest else x).dead]
                idle_dead = 0
                if newest:
                    idle[:] = alive
                    heapify(idle)
                elif routing == "mru":
                    idle[:] = alive
                else:
                    idle.clear()
                    idle.extend(alive)

        if kind is None:
            break  # the horizon
        if kind > 0:  # an async event reaches its end of life: dead-letter sink
            reason = _DROP_REASONS[kind]
            drops[reason] += 1
            if dlq_ids is not None:
                dlq_ids.append(ev[0])
            continue

        # ---- an attempt at time t -------------------------------------------------------------
        kb = int(t / bw)
        if kind < 0:
            invocations += 1
            ev_id = invocations - 1
        else:
            async_retries += 1
        attempts += 1
        b_req[kb] += 1

        env = None
        is_cold = False
        if running < limit:
            if pc_idle:
                env = pc_idle.pop()
            else:
                while idle:
                    env = heappop(idle)[1] if newest else idle_take()
                    if env.dead:
                        idle_dead -= 1
                        env = None
                        continue
                    break
                if env is None:
                    if tokens < b_cap:
                        tokens = min(b_cap, tokens + (t - t_tokens) * b_rate)
                    t_tokens = t
                    if tokens >= 1.0:
                        tokens -= 1.0
                        env_seq += 1
                        env = _Env(env_seq, t)
                        live_envs[env_seq] = env
                        live += 1
                        created += 1
                        if live > max_live:
                            max_live = live
                        is_cold = True

        if env is None:  # throttled: 429 for a sync call; an async event goes back to the queue
            throttles += 1
            b_thr[kb] += 1
            if is_async:
                if ev is None:
                    ev = [ev_id, t, 0, 0]
                delay = thr_first * 2.0 ** ev[3]
                if delay > thr_max:
                    delay = thr_max
                ev[3] += 1
                n_tie += 1
                if t + delay - ev[1] > max_age:
                    heappush(retries, (ev[1] + max_age, n_tie, _DROP_AGE, ev))
                else:
                    heappush(retries, (t + delay, n_tie, _RETRY, ev))
            continue

        # ---- run it ---------------------------------------------------------------------------
        if is_cold:
            s = next_cold()
            cold += 1
            b_cold[kb] += 1
            buf_cold.append(s)
            if len(buf_cold) >= _FLUSH:
                flush(buf_cold, h_cold, "od")
        else:
            s = next_warm()
            warm += 1
            if env.provisioned:
                pc_starts += 1
                buf_pc.append(s)
                if len(buf_pc) >= _FLUSH:
                    flush(buf_pc, h_warm, "pc")
            else:
                buf_warm.append(s)
                if len(buf_warm) >= _FLUSH:
                    flush(buf_warm, h_warm, "od")
        end = t + s
        running += 1
        if running > max_running:
            max_running = running
        heappush(departures, (end, env.seq, env))

        # busy time, clipped to the horizon, into the concurrency bins
        b = end if end < H else H
        busy_sum += b - t
        kb2 = int(b / bw)
        if kb == kb2:
            c_part[kb] += b - t
        else:
            c_part[kb] += (kb + 1) * bw - t
            c_part[kb2] += b - kb2 * bw
            if kb2 > kb + 1:
                c_diff[kb + 1] += 1.0
                c_diff[kb2] -= 1.0

        # keep-alive: idle from ``end`` until ``end + keep-alive`` unless used again
        if not env.provisioned and not never_expire:
            ea = end + (ka_fixed if ka_fixed is not None else next_ka())
            env.expires_at = ea
            if ea < env.queued_at:
                env.queued_at = ea
                n_tie += 1
                heappush(expiries, (ea, n_tie, env))

        if p_err and next_u() < p_err:
            errors += 1
            b_err[kb] += 1
            if is_async:
                if ev is None:
                    ev = [ev_id, t, 0, 0]
                n_tie += 1
                if ev[2] >= max_err_retries:
                    heappush(retries, (end, n_tie, _DROP_RETRIES, ev))
                else:
                    when = end + err_delays[ev[2]]
                    ev[2] += 1
                    if when - ev[1] > max_age:
                        heappush(retries, (max(end, ev[1] + max_age), n_tie, _DROP_AGE, ev))
                    else:
                        heappush(retries, (when, n_tie, _RETRY, ev))

    # ---- close the books at the horizon ---------------------------------------------------------
    flush(buf_cold, h_cold, "od")
    flush(buf_warm, h_warm, "od")
    flush(buf_pc, h_warm, "pc")
    still_open = 0.0
    for env in live_envs.values():
        _add_interval(i_part, i_diff, bw, env.created, H)
        still_open += H - env.created
    for _ in range(fn.provisioned_concurrency):
        _add_interval(i_part, i_diff, bw, 0.0, H)
    inst_sum = inst_closed_sum + still_open + fn.provisioned_concurrency * H
    async_pending = len(retries)  # queued for a retry, or waiting out their last attempt or age

    # ---- time series ----------------------------------------------------------------------------
    edges = np.minimum(np.arange(nb + 1) * bw, H)
    width = np.diff(edges)

    def series(part, diff):
        whole = np.cumsum(np.frombuffer(diff, dtype=float)[:nb]) * bw
        return (np.frombuffer(part, dtype=float)[:nb] + whole) / width

    as_counts = lambda a: np.frombuffer(a, dtype=float)[:nb].astype(np.int64)  # noqa: E731
    ts = TimeSeries(
        t=edges[:-1], width=width,
        requests=as_counts(b_req),
        concurrency=series(c_part, c_diff),
        instances=series(i_part, i_diff),
        cold_starts=as_counts(b_cold),
        throttles=as_counts(b_thr),
        errors=as_counts(b_err),
    )

    lat = h_cold.merged(h_warm)
    nan = math.nan
    served = cold + warm
    gb = fn.memory_gb
    summary = Summary(
        horizon_s=H,
        invocations=invocations,
        attempts=attempts,
        served=served,
        cold_starts=cold,
        warm_starts=warm,
        provisioned_starts=pc_starts,
        throttles=throttles,
        errors=errors,
        async_retries=async_retries,
        dead_letters=sum(drops.values()),
        dead_letters_by_reason={k: v for k, v in drops.items() if v},
        async_pending=async_pending,
        cold_start_ratio=cold / served if served else nan,
        throttle_ratio=throttles / attempts if attempts else nan,
        mean_instances=inst_sum / H,
        max_instances=max_live,
        mean_busy_instances=busy_sum / H,
        mean_idle_instances=(inst_sum - busy_sum) / H,
        max_concurrency=max_running,
        busy_instance_seconds=busy_sum,
        idle_instance_seconds=inst_sum - busy_sum,
        environments_created=created,
        environments_expired=expired,
        mean_environment_lifespan_s=lifespan_sum / expired if expired else nan,
        latency_mean_s=lat.mean,
        latency_p50_s=lat.percentile(50),
        latency_p90_s=lat.percentile(90),
        latency_p99_s=lat.percentile(99),
        latency_p999_s=lat.percentile(99.9),
        latency_max_s=lat.max if lat.n else nan,
        cold_latency_mean_s=h_cold.mean,
        warm_latency_mean_s=h_warm.mean,
        gb_seconds=(billed["od"] + billed["pc"]) / 1000 * gb,
        memory_mb=fn.memory_mb,
    )
    return SimulationResult(
        summary=summary,
        timeseries=ts,
        cold_latency=h_cold,
        warm_latency=h_warm,
        dead_letter_ids=dlq_ids,
        memory_mb=fn.memory_mb,
        provisioned_concurrency=fn.provisioned_concurrency,
        billed_gb_seconds_on_demand=billed["od"] / 1000 * gb,
        billed_gb_seconds_provisioned=billed["pc"] / 1000 * gb,
        billed_requests=served,
        billed_ms_on_demand=billed["od"],
        billed_ms_provisioned=billed["pc"],
        architecture=fn.architecture,
        seed=seed,
        config={"arrivals": arrivals, "function": fn, "rules": rules, "bin_seconds": bw},
    )

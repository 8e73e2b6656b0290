"""lambdalab_ext.sim: the service's rules, the workloads, the results, plots and determinism."""

import math
import tracemalloc
from decimal import Decimal

import numpy as np
import pytest

from lambdalab_ext.sim import (EVENT, KEEP_ALIVE_MODERN, SCALING_2023, Burst, Diurnal, Empirical,
                               Exponential, Fixed, FunctionConfig, LatencyHistogram, LogNormal,
                               PerMinuteCounts, Poisson, ServiceRules, Steps, Timestamps, TokenBucket,
                               Uniform, auto_bin_seconds, legacy_burst, plot_latency,
                               plot_timeseries, simulate)

LONG = FunctionConfig(warm_duration=30.0, cold_duration=30.0)  # longer than any burst test


def same(a, b):
    """Equality of two summaries where NaN equals NaN."""
    da, db = a.as_dict(), b.as_dict()
    return da.keys() == db.keys() and all(
        (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)) or x == y
        for x, y in ((da[k], db[k]) for k in da))


# ---------------------------------------------------------------------------------------------
# rules


def test_one_request_per_environment_and_reuse():
    # Two overlapping requests need two environments; a third after both finished reuses one.
    r = simulate(Timestamps([0.0, 0.5, 10.0]), FunctionConfig(warm_duration=1.0, cold_duration=2.0),
                 horizon=100, seed=0)
    s = r.summary
    assert (s.cold_starts, s.warm_starts, s.max_instances, s.max_concurrency) == (2, 1, 2, 2)


def test_newest_idle_environment_takes_the_request():
    # Env 1 created at 0, env 2 at 1 (env 1 busy). Both idle by 10. The request at 10 goes to env 2
    # (the newest), so env 1 expires 600 s after its last request at ~3.
    r = simulate(Timestamps([0.0, 1.0, 10.0]), FunctionConfig(warm_duration=1.0, cold_duration=3.0),
                 ServiceRules(keep_alive=600), horizon=2000, seed=0)
    s = r.summary
    assert s.environments_expired == 2
    # lifespans: env 1: 0 -> 3 + 600; env 2: 1 -> 11 + 600
    assert s.mean_environment_lifespan_s == pytest.approx(((603 - 0) + (611 - 1)) / 2)
    r_lru = simulate(Timestamps([0.0, 1.0, 10.0]), FunctionConfig(warm_duration=1.0, cold_duration=3.0),
                     ServiceRules(keep_alive=600, routing="lru"), horizon=2000, seed=0)
    # LRU sends it to env 1 instead: env 1 lives 0 -> 611, env 2 lives 1 -> 604
    assert r_lru.summary.mean_environment_lifespan_s == pytest.approx(((611 - 0) + (604 - 1)) / 2)


def test_keep_alive_expiry_and_switch_off():
    fn = FunctionConfig(warm_duration=1.0, cold_duration=1.0)
    # gap 599 s after the end of the first request: still warm; gap > 600 s: cold again
    r = simulate(Timestamps([0.0, 600.0, 1201.5]), fn, ServiceRules(keep_alive=600), horizon=3000)
    assert r.summary.cold_starts == 2
    never = simulate(Timestamps([0.0, 5000.0]), fn, ServiceRules(keep_alive=None), horizon=6000)
    assert never.summary.cold_starts == 1 and never.summary.environments_expired == 0
    zero = simulate(Timestamps([0.0, 1.5]), fn, ServiceRules(keep_alive=0), horizon=10)
    assert zero.summary.cold_starts == 2


def test_random_keep_alive_is_drawn_per_idle_period():
    fn = FunctionConfig(warm_duration=Fixed(1e-3), cold_duration=Fixed(1e-3))
    s = simulate(Poisson(1 / 360), fn, ServiceRules(keep_alive=KEEP_ALIVE_MODERN, scale_out=None),
                 horizon=360 * 20000, seed=5).summary
    assert s.max_instances == 1
    # every environment lives at least 300 s and at most 420 s after its last request
    a, b = 300, 420
    p = (math.exp(-a / 360) - math.exp(-b / 360)) / ((b - a) / 360)
    assert s.cold_start_ratio == pytest.approx(p, abs=0.02)


def test_throttling_at_the_account_concurrency_limit():
    r = simulate(Burst(at=0, count=2000), LONG, ServiceRules(account_concurrency=500, scale_out=None),
                 horizon=10, seed=0)
    s = r.summary
    assert (s.served, s.throttles, s.max_concurrency) == (500, 1500, 500)
    assert s.throttle_ratio == pytest.approx(0.75)
    # steady overload: ~200 concurrent wanted, 150 allowed
    s = simulate(Poisson(100), FunctionConfig(warm_duration=2.0, cold_duration=2.0),
                 ServiceRules(account_concurrency=150), horizon=600, seed=1).summary
    assert s.max_concurrency == 150 and s.throttles > 1000
    assert s.served + s.throttles == s.attempts == s.invocations


def test_reserved_concurrency_caps_and_zero_throttles_all():
    s = simulate(Poisson(50), FunctionConfig(warm_duration=2.0, reserved_concurrency=40),
                 horizon=300, seed=2).summary
    assert s.max_concurrency == 40 and s.throttles > 0
    zero = simulate(Poisson(5), FunctionConfig(reserved_concurrency=0), horizon=300, seed=2).summary
    assert zero.served == 0 and zero.throttles == zero.invocations > 1000
    with pytest.raises(ValueError, match="100 unreserved"):
        simulate(Poisson(1), FunctionConfig(reserved_concurrency=950), horizon=10)


def test_provisioned_concurrency_removes_cold_starts_up_to_its_level():
    load = Poisson(10)  # 10 req/s x 1 s: concurrency around 10, peaks near 25
    fn = lambda pc: FunctionConfig(warm_duration=1.0, cold_duration=1.5, provisioned_concurrency=pc)  # noqa: E731
    none = simulate(load, fn(0), horizon=3600, seed=4).summary
    some = simulate(load, fn(10), horizon=3600, seed=4).summary
    full = simulate(load, fn(40), horizon=3600, seed=4).summary
    assert none.cold_starts >= 15
    assert 0 < some.cold_starts < none.cold_starts  # spill-over beyond 10 is on-demand
    assert some.provisioned_starts > 0.7 * some.served  # P(concurrency <= 10) for mean 10
    assert full.cold_starts == 0 and full.provisioned_starts == full.served
    # PC environments never expire: at least 40 instances all the time
    assert full.mean_instances == pytest.approx(40.0)
    r = simulate(load, fn(40), horizon=3600, seed=4)
    assert np.allclose(r.timeseries.instances, 40.0)
    assert r.usage().provisioned_concurrency_gb_seconds == pytest.approx(40 * 0.125 * 3600)
    assert r.cost().provisioned_concurrency_gb_s == Decimal(40 * 128 * 3600) / 1024


def test_scale_out_bucket_2023_model():
    # docs/lambda-facts.md §1.2: 10,000 simultaneous requests, no warm environments: 1,000 start at once.
    s = simulate(Burst(0, 10_000), LONG, ServiceRules(account_concurrency=None), horizon=10).summary
    assert (s.served, s.throttles, s.cold_starts) == (1000, 9000, 1000)
    # continuous refill at 100/s: 5 s later, 500 tokens are back
    s = simulate(Burst(0, 1000) + Burst(5, 1000), LONG, ServiceRules(account_concurrency=None),
                 horizon=10).summary
    assert (s.served, s.throttles) == (1500, 500)
    # no accrual beyond 1,000 however long the wait
    s = simulate(Burst(0, 1) + Burst(3600, 5000), LONG, ServiceRules(account_concurrency=None),
                 horizon=3700).summary
    assert s.served == 1 + 1000
    assert SCALING_2023 == TokenBucket(1000, 100)


def test_legacy_burst_model():
    # docs/lambda-facts.md §1.3 worked example: 10,000 simultaneous sync requests, 3,000 burst (us-east-1)
    rules = ServiceRules(account_concurrency=None, scale_out=legacy_burst("us-east-1"))
    s = simulate(Burst(0, 10_000), LONG, rules, horizon=10).summary
    assert (s.served, s.throttles) == (3000, 7000)
    assert legacy_burst("eu-central-1").capacity == 1000 and legacy_burst("sa-east-1").capacity == 500
    # then +500 per minute
    s = simulate(Burst(0, 3000) + Burst(60, 1000),
                 FunctionConfig(warm_duration=100.0, cold_duration=100.0), rules, horizon=70).summary
    assert (s.served, s.throttles) == (3500, 500)


def test_no_scale_out_limit():
    s = simulate(Burst(0, 5000), LONG, ServiceRules(account_concurrency=None, scale_out=None), horizon=10).summary
    assert s.served == 5000 and s.throttles == 0


def test_sync_throttles_and_errors_are_not_retried():
    s = simulate(Poisson(2), FunctionConfig(error_rate=0.25, reserved_concurrency=0), horizon=100, seed=0).summary
    assert s.async_retries == 0 and s.attempts == s.invocations == s.throttles
    s = simulate(Poisson(20), FunctionConfig(error_rate=0.25), horizon=1000, seed=0).summary
    assert s.async_retries == 0 and s.attempts == s.invocations
    assert s.errors / s.served == pytest.approx(0.25, abs=0.01)


def test_async_throttles_retry_with_backoff_then_dead_letter_after_max_age():
    # Reserved 0: every attempt is throttled. Backoff 1, 2, 4, 8, 16 s (31 s), the next wait of
    # 32 s would pass the 60 s maximum event age: the event is dropped at 60 s, after 6 attempts.
    fn = FunctionConfig(reserved_concurrency=0, invocation_type=EVENT, maximum_event_age_s=60)
    r = simulate(Timestamps([0.0, 100.0, 200.0]), fn, horizon=1000, record_dead_letters=True)
    s = r.summary
    assert (s.invocations, s.attempts, s.throttles) == (3, 18, 18)
    assert s.dead_letters == 3 and s.dead_letters_by_reason == {"MaximumEventAgeExceeded": 3}
    assert r.dead_letter_ids == [0, 1, 2]
    assert np.flatnonzero(r.timeseries.throttles[:100]).tolist() == [0, 1, 3, 7, 15, 31]
    # default age, 6 h: the backoff reaches 5 min and stays there
    r = simulate(Timestamps([0.0]), FunctionConfig(reserved_concurrency=0, invocation_type=EVENT),
                 horizon=30_000, bin_seconds=1)
    times = np.flatnonzero(r.timeseries.throttles)
    assert np.diff(times).max() == 300
    assert r.summary.dead_letters == 1 and times[-1] <= 21600
    # before the age runs out, the event is still queued
    r = simulate(Timestamps([0.0]), FunctionConfig(reserved_concurrency=0, invocation_type=EVENT), horizon=3600)
    assert r.summary.dead_letters == 0 and r.summary.async_pending == 1


def test_async_function_errors_retry_after_1_and_2_minutes():
    fn = FunctionConfig(warm_duration=1.0, cold_duration=1.0, error_rate=1.0, invocation_type=EVENT)
    r = simulate(Timestamps([0.0]), fn, horizon=1000, record_dead_letters=True)
    s = r.summary
    assert (s.attempts, s.errors, s.async_retries) == (3, 3, 2)
    # first attempt 0-1 s, retry 60 s after it ends (61), the next 120 s after that (182)
    assert np.flatnonzero(r.timeseries.requests).tolist() == [0, 61, 182]
    assert s.dead_letters_by_reason == {"RetriesExhausted": 1} and r.dead_letter_ids == [0]
    one = simulate(Timestamps([0.0]), FunctionConfig(warm_duration=1.0, error_rate=1.0, invocation_type=EVENT,
                                                     maximum_retry_attempts=0), horizon=1000).summary
    assert (one.attempts, one.dead_letters) == (1, 1)
    # a short maximum event age cuts the retries short
    aged = simulate(Timestamps([0.0]), FunctionConfig(warm_duration=1.0, error_rate=1.0, invocation_type=EVENT,
                                                      maximum_event_age_s=100), horizon=1000).summary
    assert (aged.attempts, aged.dead_letters_by_reason) == (2, {"MaximumEventAgeExceeded": 1})


def test_async_error_rate_statistics():
    fn = FunctionConfig(warm_duration=0.2, error_rate=0.3, invocation_type=EVENT)
    r = simulate(Poisson(5), fn, horizon=20_000, seed=9, record_dead_letters=True)
    s = r.summary
    done = s.invocations - s.async_pending
    assert s.dead_letters / s.invocations == pytest.approx(0.3**3, rel=0.1)
    assert s.attempts == s.invocations + s.async_retries
    assert len(r.dead_letter_ids) == s.dead_letters and done > 0
    assert r.dead_letter_ids == sorted(r.dead_letter_ids) or len(set(r.dead_letter_ids)) == s.dead_letters


def test_determinism_same_seed_same_result():
    fn = FunctionConfig(warm_duration=LogNormal.from_median(0.2, 0.5), cold_duration=Exponential(0.8),
                        error_rate=0.05, invocation_type=EVENT, reserved_concurrency=30)
    rules = ServiceRules(keep_alive=Uniform(60, 120))
    load = Diurnal(20, 0.5, period=600) + Burst(100, 300, within=2.0)
    a = simulate(load, fn, rules, horizon=1800, seed=123)
    b = simulate(load, fn, rules, horizon=1800, seed=123)
    c = simulate(load, fn, rules, horizon=1800, seed=124)
    assert same(a.summary, b.summary)
    assert np.array_equal(a.timeseries.instances, b.timeseries.instances)
    assert not same(a.summary, c.summary)
    # a process's own seed wins over the simulation's
    p = Poisson(3, seed=77)
    assert np.array_equal(p.sample(100, seed=1), p.sample(100, seed=2))


# ---------------------------------------------------------------------------------------------
# workloads and durations


def test_arrival_processes():
    assert len(Poisson(5.0).sample(20_000, seed=1)) == pytest.approx(100_000, rel=0.02)
    t = Steps([(0, 1.0), (100, 50.0), (110, 1.0)]).sample(1000, seed=0)
    assert ((t >= 100) & (t < 110)).sum() == pytest.approx(500, rel=0.2)
    assert np.all(np.diff(t) >= 0)
    b = Burst(at=5, count=7).sample(10)
    assert b.tolist() == [5.0] * 7
    spread = Burst(at=5, count=1000, within=2.0).sample(10, seed=3)
    assert spread.min() >= 5 and spread.max() < 7 and np.all(np.diff(spread) >= 0)
    d = Diurnal(10, amplitude=0.8, period=1000, peak_at=250).sample(100_000, seed=0)
    phase = d % 1000
    assert ((phase > 150) & (phase < 350)).sum() > 3 * ((phase > 650) & (phase < 850)).sum()
    ts = Timestamps([3.0, 1.0, 2.0, 50.0]).sample(10)
    assert ts.tolist() == [1.0, 2.0, 3.0]
    counts = [3, 0, 5, 1]
    m = PerMinuteCounts(counts).sample(240, seed=2)
    assert np.bincount((m // 60).astype(int), minlength=4).tolist() == counts
    assert np.all(np.diff(m) >= 0)
    even = PerMinuteCounts([2, 0, 1], spread="even").sample(180)
    assert even.tolist() == [15.0, 45.0, 150.0]


def test_arrivals_do_not_depend_on_windowing():
    # the engine streams windows; the union must be the whole process, sorted
    from lambdalab_ext.sim.arrivals import window_edges
    p = Poisson(20.0) + PerMinuteCounts(np.full(100, 600)) + Burst(30, 100)
    edges = window_edges(p, 6000)
    assert len(edges) > 3
    chunks = list(p.stream(edges, np.random.default_rng(0)))
    allt = np.concatenate(chunks)
    assert np.all(np.diff(allt) >= 0) and allt.max() < 6000
    assert len(allt) == pytest.approx(20 * 6000 + 60_000 + 100, rel=0.01)
    s = simulate(p, FunctionConfig(warm_duration=0.01), ServiceRules(account_concurrency=None, scale_out=None),
                 horizon=6000, seed=0).summary
    assert s.invocations == pytest.approx(len(allt), rel=0.01)


def test_per_minute_counts_drive_the_simulation_exactly():
    counts = [0, 120, 0, 0, 30]
    r = simulate(PerMinuteCounts(counts), FunctionConfig(warm_duration=0.1), horizon=300, bin_seconds=60, seed=1)
    assert r.timeseries.requests.tolist() == counts


def test_distributions():
    rng = np.random.default_rng(0)
    e = Empirical([0.1, 0.2, 0.4])
    draws = e.draw(rng, 10_000)
    assert set(np.unique(draws)) == {0.1, 0.2, 0.4} and e.mean == pytest.approx(0.7 / 3)
    assert Exponential(2.0).draw(rng, 200_000).mean() == pytest.approx(2.0, rel=0.02)
    ln = LogNormal(mu=-0.38, sigma=1.0)
    assert ln.draw(rng, 400_000).mean() == pytest.approx(ln.mean, rel=0.03)
    assert np.median(LogNormal.from_median(0.25, 0.5).draw(rng, 100_001)) == pytest.approx(0.25, rel=0.02)
    assert Uniform(300, 420).mean == 360
    with pytest.raises(ValueError):
        Empirical([])
    with pytest.raises(ValueError):
        Empirical([0.1, -1])
    with pytest.raises(TypeError, match="distribution"):
        FunctionConfig(warm_duration="fast")


def test_empirical_durations_feed_cold_and_warm():
    warm = Empirical([0.003, 0.004, 0.005])
    cold = Empirical([0.250, 0.300])
    r = simulate(Poisson(50), FunctionConfig(warm_duration=warm, cold_duration=cold), horizon=600, seed=3)
    assert r.cold_latency.min >= 0.25 and r.cold_latency.max <= 0.3
    assert r.warm_latency.min >= 0.003 and r.warm_latency.max <= 0.005
    assert r.summary.warm_latency_mean_s == pytest.approx(0.004, rel=0.02)


def test_init_duration_adds_to_a_warm_draw():
    r = simulate(Timestamps([0.0, 10.0]), FunctionConfig(warm_duration=0.1, init_duration=0.4), horizon=20)
    assert r.cold_latency.mean == pytest.approx(0.5) and r.warm_latency.mean == pytest.approx(0.1)
    with pytest.raises(ValueError, match="not both"):
        FunctionConfig(cold_duration=1.0, init_duration=0.5)


# ---------------------------------------------------------------------------------------------
# results


def test_time_series_agree_with_the_summary():
    r = simulate(Steps([(0, 5), (600, 40), (900, 5)]), FunctionConfig(warm_duration=Exponential(1.0),
                 cold_duration=Exponential(1.5)), ServiceRules(keep_alive=120), horizon=1800, seed=1)
    s, ts = r.summary, r.timeseries
    assert len(ts) == 1800 and ts.bin_seconds == 1
    assert ts.requests.sum() == s.attempts
    assert ts.cold_starts.sum() == s.cold_starts
    assert (ts.concurrency * ts.width).sum() == pytest.approx(s.busy_instance_seconds, rel=1e-9)
    assert (ts.instances * ts.width).sum() / s.horizon_s == pytest.approx(s.mean_instances, rel=1e-9)
    assert ts.instances.max() <= s.max_instances + 1e-9
    assert np.all(ts.instances >= ts.concurrency - 1e-9)
    assert ts.concurrency[650:850].mean() > 4 * ts.concurrency[100:500].mean()


def test_uneven_last_bin_and_auto_bins():
    r = simulate(Poisson(2), FunctionConfig(), horizon=10.5, bin_seconds=2, seed=0)
    assert r.timeseries.width.tolist() == [2, 2, 2, 2, 2, 0.5]
    assert auto_bin_seconds(3600) == 1 and auto_bin_seconds(1e6) == 10 and auto_bin_seconds(1e8) == 1800


def test_latency_percentiles_from_the_histogram():
    rng = np.random.default_rng(1)
    v = rng.lognormal(-1.0, 1.2, 300_000)
    h = LatencyHistogram()
    for chunk in np.array_split(v, 7):
        h.add(chunk)
    for q in (50, 90, 99, 99.9):
        assert h.percentile(q) == pytest.approx(np.percentile(v, q), rel=0.006)
    assert h.max == v.max() and h.mean == pytest.approx(v.mean())
    assert math.isnan(LatencyHistogram().percentile(50))


def test_summary_str_html_and_cost():
    r = simulate(Poisson(10), FunctionConfig(warm_duration=0.1234, init_duration=0.25, memory_mb=512),
                 horizon=600, seed=0)
    s = r.summary
    text = str(r)
    assert "cold starts" in text and "throttles (429)" in text and "p99" in text
    html = r._repr_html_()
    assert html.startswith("<table") and "instances mean / max" in html
    # billed duration rounds each invocation up to 1 ms: 0.1234 -> 0.124; cold 0.3734 -> 0.374
    expected = (s.warm_starts * 0.124 + s.cold_starts * 0.374) * 0.5
    u = r.usage()
    assert u.gb_seconds == pytest.approx(expected) and u.requests == s.served
    assert r.billed_ms_on_demand == s.warm_starts * 124 + s.cold_starts * 374
    # priced exactly with lambdalab_ext.pricing (tests/test_sim_calibrate.py checks the figures)
    priced = r.cost()
    assert priced.total == (s.served * Decimal("0.0000002")
                            + Decimal(r.billed_ms_on_demand * 512) / 1024000 * Decimal("0.0000166667"))
    assert "invocations" in repr(r)


def test_plots_return_figures_with_the_data():
    pytest.importorskip("matplotlib", reason="plots need matplotlib (the lab extra)")
    r = simulate(Poisson(5), FunctionConfig(), horizon=300, seed=0)
    fig = plot_timeseries(r)
    top, bottom = fig.axes
    labels = [line.get_label() for line in top.get_lines()]
    assert labels == ["instances (busy + idle)", "concurrency (busy)"]
    assert np.allclose(top.get_lines()[0].get_ydata(), r.timeseries.instances)
    assert np.allclose(bottom.get_lines()[0].get_ydata(), r.timeseries.cold_starts)
    assert bottom.get_xlabel() == "time (s)"
    from matplotlib.figure import Figure
    fig2 = Figure()
    ax = fig2.subplots()
    assert plot_timeseries(r, ax=ax) is fig2
    assert len(plot_latency(r).axes[0].patches) > 0


def test_memory_stays_bounded_as_the_horizon_grows(monkeypatch):
    # Shrink the fixed-size batches (arrival windows, duration buffers) so that both horizons are
    # well past them and the test stays quick under tracemalloc; the bench measures real sizes.
    from lambdalab_ext.sim import arrivals, engine
    monkeypatch.setattr(arrivals, "_TARGET_PER_WINDOW", 1024)
    monkeypatch.setattr(engine, "_FLUSH", 1024)
    fn = FunctionConfig(warm_duration=Exponential(0.5))
    rules = ServiceRules(account_concurrency=None)

    def peak(h):
        tracemalloc.start()
        r = simulate(Poisson(100), fn, rules, horizon=h, seed=0, bin_seconds=h / 100)
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return p, r.summary.invocations

    simulate(Poisson(100), fn, rules, horizon=50, seed=0)  # first-call allocations (numpy, imports)
    (small, n_small), (large, n_large) = peak(100), peak(400)
    assert n_large > 3.5 * n_small
    assert large < 1.1 * small


def test_configuration_errors_say_what_to_do():
    with pytest.raises(ValueError, match="128-10,240"):
        FunctionConfig(memory_mb=64)
    with pytest.raises(ValueError, match="cannot exceed"):
        FunctionConfig(reserved_concurrency=5, provisioned_concurrency=10)
    with pytest.raises(ValueError, match="0, 1 or 2"):
        FunctionConfig(maximum_retry_attempts=3)
    with pytest.raises(ValueError, match="60-21,600"):
        FunctionConfig(maximum_event_age_s=30)
    with pytest.raises(ValueError, match="routing"):
        ServiceRules(routing="random")
    with pytest.raises(ValueError, match="RequestResponse"):
        FunctionConfig(invocation_type="async")
    with pytest.raises(TypeError, match="arrival process"):
        simulate([0, 1, 2], horizon=10)
    with pytest.raises(ValueError, match="horizon"):
        simulate(Poisson(1), horizon=0)

"""The simulator from a real function: calibrate, measure, burst, and what the simulated traffic costs."""

from decimal import Decimal
from types import SimpleNamespace

import numpy as np
import pytest

from lambdalab_ext.errors import TooManyRequestsException
from lambdalab_ext.pricing import US_EAST_1, PriceTable, cost_of_many, monthly_cost
from lambdalab_ext.result import InvocationResult
from lambdalab_ext.sim import (Burst, Empirical, Fixed, FunctionConfig, Poisson, ServiceRules, burst, calibrate,
                               measure, simulate)
from lambdalab_ext.sim.realrun import FORCE_COLD_START_VARIABLE

SLEEPER = '''
import time

def handler(event, context):
    time.sleep(event.get("seconds", 0))
    return {"slept": event.get("seconds", 0)}
'''


def result(cold, duration_ms, init_ms=None, memory=256, architecture="x86_64", error=None, env="e1"):
    """An InvocationResult as the service builds one (only what calibrate reads matters)."""
    return InvocationResult(
        function_name="f", request_id="r", raw_payload=b"null", error=error,
        function_error="Unhandled" if error else None, status="error" if error else "success", cold=cold,
        duration_ms=duration_ms, billed_duration_ms=0, init_duration_ms=init_ms, memory_size_mb=memory,
        max_memory_used_mb=20, logs="", environment_id=env, log_stream_name="s", architecture=architecture)


SYNTHETIC = [result(True, 12.5, 210.0), result(True, 11.0, 190.0),
             result(False, 10.0), result(False, 10.25), result(False, 9.5), result(False, 10.0)]


# -- calibrate: synthetic results, exact --------------------------------------------------------

def test_calibrate_uses_the_measured_durations_exactly():
    config = calibrate(SYNTHETIC)
    assert isinstance(config.warm_duration, Empirical) and isinstance(config.init_duration, Empirical)
    assert config.warm_duration.samples.tolist() == [0.01, 0.01025, 0.0095, 0.01]
    assert config.init_duration.samples.tolist() == [0.21, 0.19]
    assert config.cold_duration is None
    assert (config.memory_mb, config.architecture, config.error_rate) == (256, "x86_64", 0.0)


def test_calibrate_whole_cold_invocations_and_passes_other_settings_through():
    config = calibrate(SYNTHETIC, cold="cold_duration", reserved_concurrency=50, provisioned_concurrency=5)
    assert config.init_duration is None
    assert config.cold_duration.samples.tolist() == [(210.0 + 12.5) / 1000, (190.0 + 11.0) / 1000]
    assert (config.reserved_concurrency, config.provisioned_concurrency) == (50, 5)


def test_calibrate_reads_memory_architecture_and_error_rate():
    failed = result(False, 3.0, error={"errorType": "ValueError", "errorMessage": "bad"}, memory=1024,
                    architecture="arm64")
    rs = [result(True, 5.0, 100.0, memory=1024, architecture="arm64"),
          result(False, 4.0, memory=1024, architecture="arm64"), failed,
          result(False, 4.0, memory=1024, architecture="arm64")]
    config = calibrate(rs)
    assert (config.memory_mb, config.architecture, config.error_rate) == (1024, "arm64", 0.25)
    assert calibrate(rs, error_rate=0).error_rate == 0


def test_calibrated_simulation_draws_only_measured_values_and_is_deterministic():
    config = calibrate(SYNTHETIC)
    a = simulate(Poisson(20), config, horizon=600, seed=5)
    b = simulate(Poisson(20), config, horizon=600, seed=5)
    assert str(a.summary) == str(b.summary) and a.billed_ms_on_demand == b.billed_ms_on_demand
    # every warm latency is one of the four measured durations
    assert config.warm_duration.samples.min() <= a.warm_latency.min
    assert a.warm_latency.max <= config.warm_duration.samples.max()
    # every cold latency is a measured INIT plus a measured warm duration
    lo = 0.19 + 0.0095
    hi = 0.21 + 0.01025
    assert lo - 1e-12 <= a.cold_latency.min and a.cold_latency.max <= hi + 1e-12


@pytest.mark.parametrize("rs, message", [
    ([], "no results"),
    ([result(True, 10.0, 200.0)], "no warm invocations"),
    ([result(False, 10.0), result(False, 11.0)], "no cold starts"),
    ([result(True, 10.0, 200.0), result(False, 10.0, memory=512)], "mix memory sizes"),
    ([result(True, 10.0, 200.0), result(False, 10.0, architecture="arm64")], "mix architectures"),
])
def test_calibrate_says_what_is_missing(rs, message):
    with pytest.raises(ValueError, match=message):
        calibrate(rs)


def test_calibrate_refuses_settings_the_results_decide():
    with pytest.raises(ValueError, match="cold="):
        calibrate(SYNTHETIC, cold="both")
    for name in ("warm_duration", "init_duration", "memory_mb", "architecture"):
        with pytest.raises(TypeError, match=name):
            calibrate(SYNTHETIC, **{name: 1 if name != "architecture" else "arm64"})


# -- measure and calibrate on a real function (both backends) ------------------------------------

def test_measure_and_calibrate_a_real_function(lab):
    fn = lab.deploy("sleeper", SLEEPER, memory_mb=256, timeout_s=5, env={"STAGE": "test"})
    results = measure(fn, {"seconds": 0.02}, warm=6, cold=3)
    assert [r.cold for r in results] == [True] * 3 + [False] * 6
    assert len({r.environment_id for r in results[:3]}) == 3            # a new environment each time
    assert len({r.environment_id for r in results[3:]}) == 1            # then warm reuse of the last one
    assert results[2].environment_id == results[3].environment_id
    assert all(r.init_duration_ms > 0 for r in results[:3]) and all(r.ok for r in results)
    assert fn.config.environment == {"STAGE": "test"}                   # put back as it was
    assert FORCE_COLD_START_VARIABLE not in fn.config.environment

    config = calibrate(results)
    assert config.memory_mb == 256
    assert config.warm_duration.samples.tolist() == [r.duration_ms / 1000 for r in results[3:]]
    assert config.init_duration.samples.tolist() == [r.init_duration_ms / 1000 for r in results[:3]]
    assert all(d >= 0.02 for d in config.warm_duration.samples)         # the handler slept 20 ms
    s = simulate(Burst(0, 10), config, horizon=5, seed=1).summary
    assert (s.cold_starts, s.throttles) == (10, 0)


def test_measure_refuses_what_it_cannot_do(process_lab_fn):
    fn = process_lab_fn
    with pytest.raises(ValueError, match="at least one"):
        measure(fn, {}, warm=0, cold=0)
    fn.update(env={FORCE_COLD_START_VARIABLE: "x"})
    with pytest.raises(ValueError, match="already sets"):
        measure(fn, {}, warm=1, cold=1)
    fn.update(env={}, provisioned_concurrency=1)
    with pytest.raises(ValueError, match="provisioned concurrency"):
        measure(fn, {}, warm=1, cold=1)
    assert [r.cold for r in measure(fn, {}, warm=2, cold=0)] == [False, False]   # served by PC, warm


@pytest.fixture
def process_lab_fn(make_lab):
    lab = make_lab("process")
    return lab.deploy("sleeper", SLEEPER, timeout_s=5)


# -- burst: real scale-out and throttles ----------------------------------------------------------

def test_burst_scales_out_one_environment_per_concurrent_request(lab):
    fn = lab.deploy("sleeper", SLEEPER, timeout_s=10)
    first = burst(fn, 4, {"seconds": 1.0})
    assert (first.served, first.throttles) == (4, 0)
    assert first.environments == 4 and first.cold_starts == first.environments
    assert set(first.cold_starts_per_environment.values()) == {1}
    again = burst(fn, 4, {"seconds": 0.5})
    assert (again.cold_starts, again.warm_starts) == (0, 4)
    assert set(again.cold_starts_per_environment) == set(first.cold_starts_per_environment)
    assert [r.index for r in again.requests] == [0, 1, 2, 3]
    assert "4 served on 4 environments" in repr(first) and "execution environments used" in str(first)


def test_burst_counts_throttles_beyond_reserved_concurrency(lab):
    fn = lab.deploy("sleeper", SLEEPER, timeout_s=10, reserved_concurrency=2)
    b = burst(fn, 6, {"seconds": 1.5})
    assert b.throttles > 0
    assert b.served <= 2 and b.served + b.throttles == 6
    assert b.environments == b.cold_starts <= 2
    assert b.throttle_reasons.keys() == {"ReservedFunctionConcurrentInvocationLimitExceeded"}
    throttled = [r for r in b.requests if r.throttled]
    assert all(isinstance(r.throttle, TooManyRequestsException) and r.result is None for r in throttled)
    assert "ReservedFunctionConcurrentInvocationLimitExceeded" in b._repr_html_()


def test_burst_raises_other_errors_and_checks_n(process_lab_fn):
    with pytest.raises(ValueError, match="whole number"):
        burst(process_lab_fn, 0)
    process_lab_fn.delete()
    with pytest.raises(KeyError):  # ResourceNotFoundException, raised in the caller's thread
        burst(process_lab_fn, 2, {})


# -- billing: exact billed milliseconds, priced through lambdalab_ext.pricing ---------------------

def test_billed_duration_is_read_to_the_microsecond_then_rounded_up():
    # 0.57 s is 570.0000000000001 ms as a float: Lambda (and pricing) bill 570 ms, not 571
    r = simulate(Burst(0, 3), FunctionConfig(warm_duration=0.57, cold_duration=0.57), horizon=5, seed=0)
    assert r.billed_ms_on_demand == 3 * 570


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_cost_matches_monthly_cost_exactly(architecture):
    fn = FunctionConfig(warm_duration=0.1234, init_duration=0.25, memory_mb=512, architecture=architecture)
    r = simulate(Poisson(10), fn, horizon=600, seed=0)
    s = r.summary
    cost = r.cost()
    expected = monthly_cost(s.served, 123.4, 512, architecture, cold_starts=s.cold_starts,
                            init_duration_ms=250, free_tier=False)
    assert cost.total == expected.total
    assert cost.request_cost == expected.requests_cost
    assert cost.on_demand_cost == expected.compute_cost + expected.init_cost
    assert cost.on_demand_gb_s == expected.compute_gb_s + expected.init_gb_s
    assert (cost.architecture, cost.memory_mb, cost.region) == (architecture, 512, "us-east-1")
    assert isinstance(cost.total, Decimal)


def test_cost_of_a_burst_matches_cost_of_many_exactly():
    fn = FunctionConfig(warm_duration=0.0405, init_duration=0.2117, memory_mb=1024)
    r = simulate(Burst(0, 250), fn, horizon=10, seed=0)
    one = SimpleNamespace(memory_size_mb=1024, billed_duration_ms=253, duration_ms=40.5, init_duration_ms=211.7)
    assert r.cost().total == cost_of_many([one] * 250).total
    assert r.cost(architecture="arm64").total == cost_of_many([SimpleNamespace(**vars(one), architecture="arm64")]
                                                              * 250).total


def test_cost_with_provisioned_concurrency_matches_monthly_cost_exactly():
    fn = FunctionConfig(warm_duration=0.1, memory_mb=1024, provisioned_concurrency=5)
    r = simulate(Poisson(1), fn, horizon=3600, seed=2)
    s = r.summary
    assert s.provisioned_starts == s.served and s.cold_starts == 0
    cost = r.cost()
    expected = monthly_cost(s.served, 100, 1024, provisioned_concurrency=5, pc_hours=1, pc_requests=s.served,
                            free_tier=False)
    assert cost.provisioned_concurrency_cost == expected.pc_configured_cost
    assert cost.provisioned_invocation_cost == expected.pc_execution_cost
    assert cost.on_demand_cost == 0
    assert cost.total == expected.total
    assert cost.provisioned_concurrency_gb_s == Decimal(5 * 3600)       # 5 x 1 GB x 1 h
    assert "provisioned concurrency (5 ready)" in str(cost)


def test_cost_takes_another_price_table_and_checks_the_architecture():
    r = simulate(Poisson(10), FunctionConfig(warm_duration=0.1), horizon=60, seed=1)
    table = US_EAST_1.as_dict()
    table["request"] = "0.0000004"
    dearer = r.cost(PriceTable.from_dict(table))
    assert dearer.request_cost == 2 * r.cost().request_cost
    assert dearer.on_demand_cost == r.cost(US_EAST_1).on_demand_cost
    assert r.cost(table).total == dearer.total                           # a dict in as_dict() form works too
    with pytest.raises(ValueError, match="architecture"):
        r.cost(architecture="sparc")
    assert r.cost().round_cents() == Decimal("0.00")
    assert "<table" in r.cost()._repr_html_()


def test_throttled_requests_are_not_billed():
    r = simulate(Burst(0, 50), FunctionConfig(warm_duration=1.0, init_duration=0.0, reserved_concurrency=10),
                 ServiceRules(), horizon=10, seed=0)
    assert (r.summary.served, r.summary.throttles) == (10, 40)
    cost = r.cost()
    assert cost.requests == 10 and cost.request_cost == 10 * US_EAST_1.request
    assert r.billed_ms_on_demand == 10 * 1000


def test_empirical_durations_survive_into_billing():
    config = FunctionConfig(warm_duration=Empirical([0.0101, 0.0102]), init_duration=Fixed(0.2), memory_mb=128)
    r = simulate(Burst(0, 1) + Burst(1, 1), config, horizon=5, seed=3)
    # one cold start (200 ms + a draw), then one warm draw: each rounded up to whole ms
    assert r.billed_ms_on_demand == 211 + 11
    assert np.isclose(r.usage().gb_seconds, r.billed_ms_on_demand / 1000 / 8)

"""Power tuning: the pure analyser on made-up numbers, then real runs on Docker and on processes.

The analyser's expectations are worked out by hand from AWS Lambda Power Tuning's rules
(docs/lambda-facts.md §6.6): a trimmed mean dropping ``int(n * discardTopBottom)`` samples at each end;
"cost" = cheapest (ties: faster), "speed" = fastest (ties: cheaper), "balanced" = lowest
``w * cost / max cost + (1 - w) * duration / max duration``.
"""

import math
from decimal import Decimal as D
from fractions import Fraction
from types import SimpleNamespace

import pytest

from lambdalab_ext import InvalidParameterValueException
from lambdalab_ext.pricing import cost_of
from lambdalab_ext.tuning import (PowerTuningError, PowerTuningResult, balanced_scores, memory_size_stats,
                                  payloads_for, power_tune, select_memory_size, trimmed)

# ~25 ms of pure-Python work on one full vCPU: long against the CFS period (100 ms) at 128 MB,
# where the container gets 7.2 ms of CPU per period, so the slowdown there is steady, not bursty.
CPU_BOUND = """
def handler(event, context):
    total = 0
    for i in range(event.get("n", 400_000)):
        total += i * i % 7
    return total
"""
IO_BOUND = """
import time

def handler(event, context):
    time.sleep(0.05)
    return "done"
"""
# Fails from 512 MB up: the run must stop there, after one size went well.
FAILS_FROM_512 = """
import os

def handler(event, context):
    if int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]) >= 512:
        raise MemoryError("not at this size")
    return "ok"
"""


def stats_for(durations_by_memory, **kwargs):
    """MemorySizeStats from made-up constant durations: {memory_mb: duration_ms}."""
    return [memory_size_stats(m, [d] * 5, **kwargs) for m, d in durations_by_memory.items()]


# --------------------------------------------------------------------------------------------
# Trimming, as the tool trims
# --------------------------------------------------------------------------------------------


def test_trimming_drops_int_n_times_share_at_each_end():
    values = [9, 1, 5, 7, 3, 2, 8, 4, 6, 100]
    kept, k = trimmed(values, 0.2)
    assert k == 2 and kept == [3, 4, 5, 6, 7, 8]
    assert trimmed(values, 0.0) == (sorted(values), 0)
    assert trimmed(values, 0.4) == ([5, 6], 4)
    assert trimmed(values, 0.15) == ([2, 3, 4, 5, 6, 7, 8, 9], 1)   # int(1.5) == 1


def test_fewer_than_five_samples_are_not_trimmed_at_the_default():
    assert trimmed([500, 10, 11, 12], 0.2) == ([10, 11, 12, 500], 0)


@pytest.mark.parametrize("share", [-0.1, 0.41, 1])
def test_trimming_share_out_of_range_is_refused(share):
    with pytest.raises(ValueError, match="between 0 and 0.4"):
        trimmed([1, 2, 3], share)


def test_stats_trim_the_same_invocations_for_duration_and_billed_duration():
    # The 99 ms sample is billed 120 ms (say a slow response); it goes, with its billed duration.
    s = memory_size_stats(1024, [10.0, 11.0, 12.0, 13.0, 99.0], [11, 12, 13, 14, 120])
    assert s.discarded == 2
    assert s.average_duration_ms == pytest.approx(12.0)
    assert s.average_billed_duration_ms == pytest.approx(13.0)
    # Percentiles are over every sample, untrimmed (numpy's linear interpolation).
    assert s.p50_duration_ms == pytest.approx(12.0)
    assert s.p90_duration_ms == pytest.approx(13.0 + 0.6 * (99.0 - 13.0))


def test_billed_duration_defaults_to_each_duration_rounded_up():
    s = memory_size_stats(128, [10.2, 10.0, 10.9], discard_top_bottom=0)
    assert s.billed_durations_ms == (11, 10, 11)
    assert s.average_billed_duration_ms == pytest.approx(32 / 3)


def test_cost_is_the_pricing_models_exact_price_at_the_average_billed_duration_rounded_up():
    s = memory_size_stats(512, [20.0, 20.0, 21.0], [20, 20, 21], discard_top_bottom=0)
    # Average billed 20.33 ms -> 21 ms, as the tool's computePrice rounds it.
    expected = cost_of(SimpleNamespace(memory_size_mb=512, billed_duration_ms=21, duration_ms=20,
                                       init_duration_ms=None)).total
    assert s.cost_per_invocation == expected
    # 0.5 GB x 0.021 s = 0.0105 GB-s x $0.0000166667, plus $0.0000002 for the request, exactly.
    assert expected == D("0.0105") * D("0.0000166667") + D("0.0000002")
    assert s.cost_per_million == expected * 1_000_000
    assert isinstance(s.cost_per_million, D)


def test_cost_follows_architecture_and_ephemeral_storage():
    x86 = memory_size_stats(1024, [100.0])
    arm = memory_size_stats(1024, [100.0], architecture="arm64")
    assert arm.cost_per_invocation == D("0.1") * D("0.0000133334") + D("0.0000002")
    assert arm.cost_per_invocation < x86.cost_per_invocation
    storage = memory_size_stats(1024, [100.0], ephemeral_storage_mb=1536)
    assert storage.cost_per_invocation - x86.cost_per_invocation == D("0.1") * D("0.0000000309")


def test_cold_starts_are_counted_apart():
    s = memory_size_stats(256, [5.0, 5.0], init_durations_ms=[300.0, 500.0])
    assert s.cold_starts == 2 and s.init_duration_ms == pytest.approx(400.0)
    assert s.invocations == 2 and s.average_duration_ms == 5.0


def test_stats_need_samples():
    with pytest.raises(ValueError, match="at least one invocation"):
        memory_size_stats(128, [])
    with pytest.raises(ValueError, match="same length"):
        memory_size_stats(128, [1.0, 2.0], [2])


# --------------------------------------------------------------------------------------------
# The analyser: strategies on made-up durations whose answers are known exactly
# --------------------------------------------------------------------------------------------
# 128 MB x 1000 ms = 128,000 MB-ms; 512 x 240 = 122,880; 1024 x 130 = 133,120; 2048 x 70 = 143,360.
SYNTHETIC = {128: 1000.0, 512: 240.0, 1024: 130.0, 2048: 70.0}


def test_cost_strategy_picks_the_cheapest():
    best, reason = select_memory_size(stats_for(SYNTHETIC), "cost")
    assert best.memory_mb == 512
    assert reason.startswith("512 MB is the cheapest")
    assert "the fastest, 2,048 MB" in reason


def test_speed_strategy_picks_the_fastest():
    best, reason = select_memory_size(stats_for(SYNTHETIC), "speed")
    assert best.memory_mb == 2048
    assert reason.startswith("2,048 MB is the fastest")
    assert "the cheapest, 512 MB" in reason


def test_cost_ties_go_to_the_faster_size_and_speed_ties_to_the_cheaper():
    # 256 MB x 500 ms == 512 MB x 250 ms: same GB-s, same cost.
    stats = stats_for({256: 500.0, 512: 250.0, 1024: 250.0})
    assert select_memory_size(stats, "cost")[0].memory_mb == 512
    # 512 and 1024 MB are equally fast; 512 MB costs half as much.
    assert select_memory_size(stats, "speed")[0].memory_mb == 512


def test_balanced_scores_are_exact_and_pick_the_lowest():
    stats = stats_for(SYNTHETIC)
    scores = balanced_scores(stats, 0.5)
    max_cost = max(Fraction(s.cost_per_invocation) for s in stats)
    for s in stats:
        expected = (Fraction(1, 2) * Fraction(s.cost_per_invocation) / max_cost
                    + Fraction(1, 2) * Fraction(s.average_billed_duration_ms) / 1000)
        assert scores[s.memory_mb] == expected
    # By hand: 2048 MB scores 0.5 x 1 + 0.5 x 0.07 = 0.535; 1024 MB 0.5 x 0.9342 + 0.065 = 0.532.
    best, reason = select_memory_size(stats, "balanced", 0.5)
    assert best.memory_mb == 1024
    assert min(scores, key=scores.get) == 1024
    assert "balanced_weight 0.5" in reason and "1,024 MB" in reason


def test_balanced_weight_one_is_cost_and_zero_is_speed():
    stats = stats_for(SYNTHETIC)
    assert select_memory_size(stats, "balanced", 1)[0].memory_mb == select_memory_size(stats, "cost")[0].memory_mb
    assert select_memory_size(stats, "balanced", 0)[0].memory_mb == select_memory_size(stats, "speed")[0].memory_mb
    # Leaning to cost moves the pick down from 1024 MB to 512 MB.
    assert select_memory_size(stats, "balanced", 0.9)[0].memory_mb == 512


def test_an_io_bound_function_is_cheapest_at_the_smallest_size():
    # Waiting takes as long at every size: more memory only costs more.
    stats = stats_for({128: 51.0, 512: 51.0, 1024: 51.0})
    best, reason = select_memory_size(stats, "cost")
    assert best.memory_mb == 128
    assert select_memory_size(stats, "speed")[0].memory_mb == 128   # a tie on speed: cheaper wins
    assert "also the fastest" in reason


@pytest.mark.parametrize("strategy, weight, error", [
    ("cheapest", 0.5, ValueError), ("cost", 1.5, ValueError), ("balanced", -0.1, ValueError),
    ("balanced", True, TypeError), ("balanced", "0.5", TypeError),
])
def test_bad_strategy_or_weight_is_refused(strategy, weight, error):
    with pytest.raises(error):
        select_memory_size(stats_for(SYNTHETIC), strategy, weight)


def test_nothing_to_choose_from():
    with pytest.raises(ValueError, match="no memory sizes"):
        select_memory_size([], "cost")


def test_weighted_payloads_are_spread_as_the_tool_spreads_them():
    weighted = [{"payload": {"n": 1}, "weight": 5}, {"payload": {"n": 2}, "weight": 15}]
    assert payloads_for(8, weighted) == [{"n": 1}] * 2 + [{"n": 2}] * 6
    assert payloads_for(3, {"n": 1}) == [{"n": 1}] * 3
    assert payloads_for(2, [1, 2]) == [[1, 2], [1, 2]]   # a plain list is one payload
    with pytest.raises(ValueError, match="at least as many invocations"):
        payloads_for(1, weighted)
    with pytest.raises(ValueError, match="gets no invocation"):
        payloads_for(3, [{"payload": "a", "weight": 1}, {"payload": "b", "weight": 10}, {"payload": "c", "weight": 1}])


# --------------------------------------------------------------------------------------------
# The result: table, views and the plot (matplotcheck-style: inspect the Axes, not pixels)
# --------------------------------------------------------------------------------------------


def synthetic_result(strategy="cost"):
    stats = tuple(stats_for(SYNTHETIC))
    best, reason = select_memory_size(stats, strategy)
    return PowerTuningResult(function_name="crunch", strategy=strategy, balanced_weight=0.5,
                             discard_top_bottom=0.2, invocations=5, parallel=False, stats=stats, best=best,
                             reason=reason, original_memory_mb=256, backend="docker")


def test_result_table_and_dict():
    result = synthetic_result()
    rows = result.table()
    assert [r["memory_mb"] for r in rows] == [128, 512, 1024, 2048]
    assert [r["best"] for r in rows] == [False, True, False, False]
    assert rows[1]["cost_per_million"] == result[512].cost_per_million
    data = result.as_dict()
    assert data["best_memory_mb"] == 512 and data["strategy"] == "cost"
    assert [s["memory_mb"] for s in data["stats"]] == [128, 512, 1024, 2048]
    assert data["stats"][0]["durations_ms"] == [1000.0] * 5
    with pytest.raises(KeyError, match="was not tuned"):
        result[256]


def test_result_can_be_reanalysed_without_running_again():
    result = synthetic_result()
    assert result.with_strategy("speed").best.memory_mb == 2048
    assert result.with_strategy("balanced", 0.9).best.memory_mb == 512
    assert result.best.memory_mb == 512   # the original is unchanged


def test_result_text_and_html_mark_the_best_size():
    result = synthetic_result()
    text = str(result)
    best_line = next(line for line in text.splitlines() if line.startswith("*"))
    assert "512 MB" in best_line
    assert "Best: 512 MB is the cheapest" in text
    page = result._repr_html_()
    assert page.count("<tr") == 5 and "data-memory-mb='512'" in page and "font-weight:600" in page


def test_plot_shows_duration_and_cost_against_memory_on_two_axes():
    import matplotlib.pyplot as plt
    before = plt.get_fignums()
    result = synthetic_result()
    fig = result.plot()
    assert plt.get_fignums() == before   # no pyplot state left behind
    duration_ax, cost_ax = fig.axes
    assert list(duration_ax.lines[0].get_ydata()) == [1000.0, 240.0, 130.0, 70.0]
    assert list(cost_ax.lines[0].get_ydata()) == [float(s.cost_per_million) for s in result.stats]
    assert [t.get_text() for t in duration_ax.get_xticklabels()] == ["128", "512", "1,024", "2,048"]
    assert "memory" in duration_ax.get_xlabel() and "duration" in duration_ax.get_ylabel()
    assert "cost" in cost_ax.get_ylabel()
    assert "512 MB" in duration_ax.get_title()
    best_line = duration_ax.lines[1]   # the vertical mark of the best size, at its position
    assert list(best_line.get_xdata()) == [1, 1]


def test_plot_draws_into_a_given_axes():
    from matplotlib.figure import Figure
    fig = Figure()
    ax = fig.add_subplot()
    assert synthetic_result().plot(ax=ax) is fig
    assert len(fig.axes) == 2 and len(ax.lines) == 2


# --------------------------------------------------------------------------------------------
# Real runs
# --------------------------------------------------------------------------------------------


def test_cpu_bound_function_gets_faster_with_memory_on_docker(docker_lab):
    fn = docker_lab.deploy("crunch", CPU_BOUND, memory_mb=256, timeout_s=30)
    result = fn.power_tune([128, 512, 1769], invocations=3, payload={"n": 400_000}, strategy="speed",
                           progress=False)
    assert result.memory_sizes == [128, 512, 1769]
    assert result.backend == "docker" and result.notes == ()
    # CPU share follows memory: 128 MB has 7% of a vCPU, 1,769 MB a whole one (14x). Loosely:
    assert result[128].average_duration_ms > 3 * result[1769].average_duration_ms
    assert result[128].average_duration_ms > result[512].average_duration_ms
    assert result.best.memory_mb in (512, 1769)
    for s in result.stats:
        assert s.invocations == 3 and s.cold_starts == 1 and s.init_duration_ms > 0
        assert len(s.durations_ms) == 3 and all(b >= d for d, b in zip(s.durations_ms, s.billed_durations_ms))
    # 3 sizes x (1 cold start + 3 warm); INIT billed on the cold ones.
    assert result.total_cost.invocations == 12
    # The tool's Cleaner: the function is back at 256 MB, and still works there.
    assert fn.config.memory_mb == 256
    after = fn.invoke({"n": 10})
    assert after.ok and after.memory_size_mb == 256 and after.cold


def test_io_bound_function_is_cheapest_at_the_smallest_size_on_processes(make_lab):
    lab = make_lab("process")
    fn = lab.deploy("waits", IO_BOUND, memory_mb=1024)
    result = fn.power_tune([128, 256, 512], invocations=3, progress=False)
    assert result.best.memory_mb == 128 and result.strategy == "cost"
    for s in result.stats:
        assert s.average_duration_ms >= 50
        assert s.cold_starts == 1
    assert result.backend == "process" and "CPU does not follow memory" in result.notes[0]
    assert fn.config.memory_mb == 1024


def test_parallel_invocations_each_need_an_environment(make_lab):
    lab = make_lab("process")
    fn = lab.deploy("waits", IO_BOUND, memory_mb=128)
    result = fn.power_tune([128, 256], invocations=3, parallel=True, progress=False)
    for s in result.stats:
        # Three at once: three environments, three cold starts, then three warm samples.
        assert s.cold_starts == 3 and s.invocations == 3
    assert result.total_cost.invocations == 12 and result.parallel
    assert fn.config.memory_mb == 128


def test_a_failing_invocation_stops_the_run_and_the_memory_size_is_restored(lab):
    fn = lab.deploy("picky", FAILS_FROM_512, memory_mb=256)
    with pytest.raises(PowerTuningError) as caught:
        fn.power_tune([128, 512, 1024], invocations=2, progress=False)
    error = caught.value
    assert error.memory_mb == 512 and error.function_name == "picky"
    assert error.result.error["errorType"] == "MemoryError"
    assert "failed at 512 MB: MemoryError: not at this size" in str(error)
    assert "back to 256 MB" in str(error)
    assert fn.config.memory_mb == 256
    assert fn.invoke({}).payload == "ok"


def test_bad_arguments_are_refused_before_anything_changes(make_lab):
    lab = make_lab("process")
    fn = lab.deploy("waits", IO_BOUND, memory_mb=256)
    with pytest.raises(InvalidParameterValueException, match="MemorySize 64 MB"):
        fn.power_tune([64, 128], progress=False)
    with pytest.raises(ValueError, match="invocations"):
        fn.power_tune([128], invocations=0, progress=False)
    with pytest.raises(ValueError, match="strategy"):
        fn.power_tune([128], strategy="fastest", progress=False)
    with pytest.raises(ValueError, match="discard_top_bottom"):
        fn.power_tune([128], discard_top_bottom=0.5, progress=False)
    assert fn.config.memory_mb == 256
    assert fn.environments() == {"idle": 0, "provisioned_idle": 0, "busy": 0, "starting": 0}


def test_progress_bar_counts_invocations(make_lab, capsys):
    lab = make_lab("process")
    fn = lab.deploy("waits", IO_BOUND, memory_mb=128)
    power_tune(fn, [128, 256], invocations=2, progress=True)
    err = capsys.readouterr().err
    assert "power tuning waits" in err and "6/6" in err


def test_trimming_on_a_real_run_uses_warm_samples_only(make_lab):
    lab = make_lab("process")
    fn = lab.deploy("waits", IO_BOUND, memory_mb=128)
    result = fn.power_tune([128], invocations=5, discard_top_bottom=0.2, progress=False)
    s = result[128]
    assert s.invocations == 5 and s.discarded == 2 and s.cold_starts == 1
    kept = sorted(s.durations_ms)[1:-1]
    assert s.average_duration_ms == pytest.approx(math.fsum(kept) / 3)


def test_a_throttle_is_raised_as_the_service_raised_it_and_the_memory_size_restored(make_lab):
    from lambdalab_ext import TooManyRequestsException
    lab = make_lab("process")
    fn = lab.deploy("waits", IO_BOUND, memory_mb=256, reserved_concurrency=1)
    # Three at once against a reserved concurrency of 1: Lambda throttles the others.
    with pytest.raises(TooManyRequestsException):
        fn.power_tune([128], invocations=3, parallel=True, progress=False)
    assert fn.config.memory_mb == 256

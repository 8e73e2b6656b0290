"""The scaling explorer, without a browser: set a control's value, read the summary and the Axes data."""

import numpy as np
import pytest

pytest.importorskip("ipywidgets", reason="the explorer needs ipywidgets (the lab extra)")
pytest.importorskip("matplotlib", reason="the explorer plots with matplotlib (the lab extra)")

from lambdalab_ext.sim import Empirical, Exponential, Fixed, FunctionConfig, LogNormal, Uniform  # noqa: E402
from lambdalab_ext.widgets.scaling import (MAX_REQUESTS, ScalingExplorer, scaling_explorer,  # noqa: E402
                                           simulate_scaling, with_mean)

CALIBRATED = FunctionConfig(warm_duration=Empirical([0.095, 0.1, 0.105]), init_duration=Empirical([0.2, 0.24]),
                            memory_mb=256)


@pytest.fixture
def explorer():
    return ScalingExplorer(CALIBRATED, horizon_s=60, seed=1)


def top_lines(fig):
    return {line.get_label(): line.get_ydata() for line in fig.axes[0].get_lines()}


def bottom_lines(fig):
    return {line.get_label().split(" per")[0]: line.get_ydata() for line in fig.axes[1].get_lines()}


def test_with_mean_keeps_the_shape():
    assert with_mean(Empirical([0.1, 0.3]), 0.4).samples.tolist() == [0.2, 0.6]
    same = Empirical([0.1, 0.3])
    assert with_mean(same, 0.2) is same
    assert with_mean(Fixed(0.1), 0.5) == Fixed(0.5)
    assert with_mean(Exponential(1.0), 2.0).mean == 2.0
    assert with_mean(LogNormal.from_median(0.1, 0.5), 0.3).mean == pytest.approx(0.3)
    assert with_mean(LogNormal(0, 0.5), 3.0).sigma == 0.5
    assert with_mean(Uniform(1.0, 3.0), 4.0) == Uniform(2.0, 6.0)
    with pytest.raises(ValueError):
        with_mean(Fixed(0.1), 0)


def test_simulate_scaling_is_the_model_alone():
    r = simulate_scaling(CALIBRATED, arrival_rate=50, duration_ms=100, horizon_s=60, seed=1)
    again = simulate_scaling(CALIBRATED, arrival_rate=50, duration_ms=100, horizon_s=60, seed=1)
    assert str(r.summary) == str(again.summary)
    assert r.summary.throttles == 0 and r.summary.cold_starts > 0
    assert r.memory_mb == 256
    slower = simulate_scaling(CALIBRATED, arrival_rate=50, duration_ms=1000, horizon_s=60, seed=1)
    assert slower.summary.warm_latency_mean_s == pytest.approx(10 * r.summary.warm_latency_mean_s, rel=0.05)
    with pytest.raises(ValueError, match="stops at"):
        simulate_scaling(arrival_rate=MAX_REQUESTS, duration_ms=100, horizon_s=60)
    with pytest.raises(ValueError, match="scale_out"):
        simulate_scaling(arrival_rate=1, duration_ms=100, scale_out="2019")


def test_first_run_fills_summary_and_plots(explorer):
    r = explorer.result
    assert r is not None and explorer.error is None
    assert r.summary.invocations > 0
    html = explorer.summary.value
    for row in ("requests", "cold starts", "throttled (429)", "environments: mean / max", "cost of this traffic"):
        assert row in html
    assert f"{r.summary.invocations:,}" in html
    lines = top_lines(explorer.figure)
    assert np.array_equal(lines["instances (busy + idle)"], r.timeseries.instances)
    assert np.array_equal(lines["concurrency (busy)"], r.timeseries.concurrency)
    counts = bottom_lines(explorer.figure)
    assert np.array_equal(counts["cold starts"], r.timeseries.cold_starts)
    assert np.array_equal(counts["throttles"], r.timeseries.throttles)
    # the latency histogram holds every served attempt
    bars = explorer.latency_figure.axes[0].patches
    assert sum(b.get_height() for b in bars) == r.summary.served


def test_releasing_a_control_runs_the_simulation_again(explorer):
    before = explorer.result
    explorer.controls["arrival_rate"].value = 200.0
    after = explorer.result
    assert after is not before
    assert after.summary.invocations == pytest.approx(200 * 60, rel=0.05)
    assert f"{after.summary.invocations:,}" in explorer.summary.value
    assert np.array_equal(top_lines(explorer.figure)["instances (busy + idle)"], after.timeseries.instances)


def test_controls_commit_on_release_only(explorer):
    for name, control in explorer.controls.items():
        if hasattr(control, "continuous_update"):
            assert control.continuous_update is False, name


def test_reserved_concurrency_throttles(explorer):
    explorer.controls["arrival_rate"].value = 500.0
    explorer.controls["duration_ms"].value = 1000.0     # concurrency about 500
    assert explorer.result.summary.throttles == 0
    explorer.controls["reserved_concurrency"].value = 50
    assert explorer.result.summary.throttles == 0       # not reserved yet: the checkbox decides
    assert explorer.controls["reserved_concurrency"].disabled
    explorer.controls["reserve"].value = True
    assert not explorer.controls["reserved_concurrency"].disabled
    s = explorer.result.summary
    assert s.throttles > 0 and s.max_concurrency <= 50
    assert f"{s.throttles:,}" in explorer.summary.value
    assert bottom_lines(explorer.figure)["throttles"].sum() == s.throttles


def test_account_concurrency_and_keep_alive(explorer):
    explorer.controls["arrival_rate"].value = 500.0
    explorer.controls["duration_ms"].value = 1000.0
    explorer.controls["account_concurrency"].value = 200
    assert explorer.result.summary.max_concurrency <= 200 and explorer.result.summary.throttles > 0
    explorer.controls["account_concurrency"].value = 1000
    explorer.controls["arrival_rate"].value = 0.1
    explorer.controls["horizon_s"].value = 3600.0
    kept = explorer.result.summary.cold_starts
    explorer.controls["keep_alive_s"].value = 0          # reclaimed as soon as idle: every request is cold
    s = explorer.result.summary
    assert s.cold_starts == s.served > kept


def test_scale_out_model_2023_against_legacy(explorer):
    c = explorer.controls
    c["account_concurrency"].value = 20000
    c["duration_ms"].value = 1000.0
    c["arrival_rate"].value = 3000.0                     # needs ~3,000 environments within a second
    modern = explorer.result.summary
    modern_throttles = explorer.result.timeseries.throttles
    c["scale_out"].value = "legacy"
    legacy = explorer.result.summary
    assert modern.throttles > legacy.throttles
    # 2023: 1,000 at once, then 100 more a second; legacy: 3,000 at once
    assert modern_throttles[:5].sum() > explorer.result.timeseries.throttles[:5].sum()
    assert "3,000" in explorer.summary.value             # the caption names the model


def test_refused_settings_say_why_and_keep_the_last_plots(explorer):
    c = explorer.controls
    c["reserved_concurrency"].value = 10
    c["reserve"].value = True
    fig = explorer.figure
    c["provisioned_concurrency"].value = 20
    assert explorer.result is None
    assert "cannot exceed" in explorer.error and "Lambda would not run this" in explorer.summary.value
    assert explorer.figure is fig
    c["reserved_concurrency"].value = 950              # leaves fewer than 100 unreserved of 1,000
    assert explorer.result is None and "100 unreserved" in explorer.error
    c["reserved_concurrency"].value = 30
    assert explorer.result is not None and explorer.result.summary.provisioned_starts > 0
    c["arrival_rate"].value = 10_000.0
    c["horizon_s"].value = 86400.0
    assert explorer.result is None and "stops at" in explorer.error


def test_layout_and_display():
    e = scaling_explorer(horizon_s=600)
    assert e.result is not None and e.function.memory_mb == 256      # the default function
    assert e.controls["horizon_s"].value == 600.0
    assert e.widget.children[-2:] == (e.summary, e.plots)

    def descendants(widget):
        for child in getattr(widget, "children", ()):
            yield child
            yield from descendants(child)

    shown = list(descendants(e.widget))
    assert all(any(c is d for d in shown) for c in e.controls.values())   # every control is laid out
    assert "ScalingExplorer" in repr(e)
    odd = ScalingExplorer(horizon_s=90)
    assert odd.controls["horizon_s"].value == 90.0 and odd.result.summary.horizon_s == 90.0

"""The scaling explorer, without a browser: set a control's value, read the summary and the Axes data."""

import os

import numpy as np
import pytest

pytest.importorskip("ipywidgets", reason="the explorer needs ipywidgets (the lab extra)")
pytest.importorskip("matplotlib", reason="the explorer plots with matplotlib (the lab extra)")

from lambdalab_ext.sim import Empirical, Exponential, Fixed, FunctionConfig, LogNormal, Uniform  # noqa: E402
from lambdalab_ext.sim import plot_latency, plot_timeseries  # noqa: E402
from lambdalab_ext.widgets.scaling import (MAX_REQUESTS, ExplorerLimit, ScalingExplorer,  # noqa: E402
                                           scaling_explorer, simulate_scaling, with_mean)

NOTEBOOK_03 = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks", "03_scaling.ipynb")

CALIBRATED = FunctionConfig(warm_duration=Empirical([0.095, 0.1, 0.105]), init_duration=Empirical([0.2, 0.24]),
                            memory_mb=256)


@pytest.fixture
def explorer():
    return ScalingExplorer(CALIBRATED, horizon_s=60, seed=1)


def top_lines(fig):
    return {line.get_label(): line.get_ydata() for line in fig.axes[0].get_lines()}


def bottom_lines(fig):
    return {line.get_label().split(" per")[0]: line.get_ydata() for line in fig.axes[1].get_lines()}


def bar_heights(ax):
    return [b.get_height() for b in ax.patches]


def drawn(fig):
    """The figure laid out as it would be shown, so text and legends have their real extents."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def assert_legends_beside_their_axes(fig):
    renderer = drawn(fig)
    legends = [(ax, ax.get_legend()) for ax in fig.axes if ax.get_legend() is not None]
    assert legends
    for ax, legend in legends:
        assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer)), ax.get_title()


def assert_tick_labels_do_not_overlap(ax):
    renderer = drawn(ax.figure)
    low, high = ax.get_xlim()
    labels = [t for t in ax.get_xticklabels() if t.get_text() and low <= t.get_position()[0] <= high]
    assert len(labels) >= 2, [t.get_text() for t in ax.get_xticklabels()]
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 < right.x0, [t.get_text() for t in labels]
    assert all(not t.get_text() for t in ax.get_xticklabels(minor=True))


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
    # the latency histogram holds every served attempt: warm on top, cold below
    warm_ax, cold_ax = explorer.latency_figure.axes
    assert sum(bar_heights(warm_ax)) == r.summary.warm_starts
    assert sum(bar_heights(cold_ax)) == r.summary.cold_starts > 0
    assert sum(bar_heights(warm_ax)) + sum(bar_heights(cold_ax)) == r.summary.served


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


def test_refused_settings_say_whose_rule_and_clear_the_plots(explorer, monkeypatch):
    import IPython.display
    shown, cleared = [], []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    monkeypatch.setattr(IPython.display, "clear_output", lambda wait=False: cleared.append(wait))
    c = explorer.controls
    c["reserved_concurrency"].value = 10
    c["reserve"].value = True
    assert explorer.figure is not None
    shown.clear()
    explorer._show(**{name: control.value for name, control in c.items()})
    assert len(shown) == 2                              # the two plots of a run
    c["provisioned_concurrency"].value = 20
    assert explorer.result is None
    assert "cannot exceed" in explorer.error and "Lambda would refuse this configuration" in explorer.summary.value
    # No plot of other settings under the reason: the figures are gone and nothing is shown.
    assert explorer.figure is None and explorer.latency_figure is None
    shown.clear()
    cleared.clear()
    explorer._show(**{name: control.value for name, control in c.items()})
    # interactive_output clears with wait=True, which keeps the old plots until something new is
    # shown: with nothing to show, the explorer clears the plots itself, at once.
    assert shown == [] and cleared == [False]
    c["reserved_concurrency"].value = 950              # leaves fewer than 100 unreserved of 1,000
    assert explorer.result is None and "100 unreserved" in explorer.error
    c["reserved_concurrency"].value = 30
    assert explorer.result is not None and explorer.result.summary.provisioned_starts > 0
    assert explorer.figure is not None
    # The explorer's own size limit is not blamed on Lambda.
    c["arrival_rate"].value = 50.0                     # 50/s for a day: 4.3 M requests, over the limit
    c["horizon_s"].value = 86400.0
    assert explorer.result is None and "stops at" in explorer.error and "not Lambda's" in explorer.error
    assert "Too much to simulate here" in explorer.summary.value
    assert "Lambda would" not in explorer.summary.value
    assert explorer.figure is None
    with pytest.raises(ExplorerLimit):
        simulate_scaling(arrival_rate=10_000, duration_ms=100, horizon_s=86400)


def test_the_scale_out_comparison_needs_more_than_the_default_account_concurrency():
    # At 3,000 requests/s of 1,000 ms under the default 1,000 account concurrency, both models
    # start all 1,000 environments at once: the results are identical, and the summary says what
    # to change. With the account raised to 5,000 (notebook 03's hint) they differ: 2023 adds
    # 1,000 every 10 s, legacy starts 3,000 at once. 30 s is enough to see it.
    explorer = ScalingExplorer(CALIBRATED, horizon_s=30, seed=1)
    c = explorer.controls
    c["duration_ms"].value = 1000.0
    c["arrival_rate"].value = 3000.0
    modern = explorer.result.summary
    assert "throttles before the scale-out rate can" in explorer.summary.value
    assert "raise the account concurrency above 1,000" in explorer.summary.value
    c["scale_out"].value = "legacy"
    legacy = explorer.result.summary
    assert (modern.throttles, modern.cold_starts) == (legacy.throttles, legacy.cold_starts)
    c["account_concurrency"].value = 5000
    assert "throttles before" not in explorer.summary.value
    legacy = explorer.result.summary
    c["scale_out"].value = "2023"
    modern = explorer.result.summary
    assert modern.throttles > legacy.throttles
    # A reserved concurrency below 1,000 throttles first too, and is named; traffic that stays
    # under the limit needs no note.
    c["arrival_rate"].value = 600.0
    c["reserve"].value = True
    c["reserved_concurrency"].value = 500
    assert "The reserved concurrency (500) throttles" in explorer.summary.value
    c["arrival_rate"].value = 10.0
    assert explorer.result.summary.throttles == 0 and "throttles before" not in explorer.summary.value
    with open(NOTEBOOK_03, encoding="utf-8") as f:
        assert "raise the account concurrency to 5,000" in f.read()


def test_latency_histogram_shows_cold_starts_beside_many_warm_ones():
    # About 60,000 warm invocations and a few dozen cold starts: on one count axis the cold bars
    # would be a pixel high. On their own axis, the tallest fills at least half of it.
    r = simulate_scaling(CALIBRATED, arrival_rate=100, duration_ms=100, horizon_s=600, seed=0)
    s = r.summary
    assert s.warm_starts > 500 * s.cold_starts > 0
    warm_ax, cold_ax = plot_latency(r).axes
    assert sum(bar_heights(cold_ax)) == s.cold_starts
    assert max(bar_heights(cold_ax)) >= cold_ax.get_ylim()[1] / 2
    assert warm_ax.get_xscale() == cold_ax.get_xscale() == "log"
    assert warm_ax.get_xlim() == cold_ax.get_xlim()
    # On one given Axes, a log count scale keeps them visible too.
    from matplotlib.figure import Figure
    ax = Figure().subplots()
    plot_latency(r, ax=ax)
    assert ax.get_yscale() == "log" and sum(bar_heights(ax)) == s.served


@pytest.mark.parametrize("warm, init", [(0.1, 0.25), (Fixed(0.05), 0.06), (Exponential(2.0), 20.0),
                                        (Uniform(0.001, 0.002), 0.1)])
def test_latency_ticks_are_readable_and_do_not_overlap(warm, init):
    fn = FunctionConfig(warm_duration=warm, init_duration=init)
    r = simulate_scaling(fn, arrival_rate=20, duration_ms=fn.warm_duration.mean * 1000, horizon_s=300, seed=3)
    fig = plot_latency(r)
    assert_tick_labels_do_not_overlap(fig.axes[-1])
    assert all(t.get_text().endswith(("µs", "ms", " s", "min")) for t in fig.axes[-1].get_xticklabels()
               if t.get_text())


def test_legends_sit_beside_the_traces():
    # The throttle trace runs along the top right of the bottom panel when a burst is throttled:
    # a legend inside the Axes covered it.
    r = simulate_scaling(CALIBRATED, arrival_rate=3000, duration_ms=1000, horizon_s=60, account_concurrency=5000,
                         seed=0)
    assert r.summary.throttles > 0
    assert_legends_beside_their_axes(plot_timeseries(r))
    assert_legends_beside_their_axes(plot_latency(r))


def test_a_readable_picture_travels_with_the_widget(explorer):
    # Opened before it is run, a notebook shows text/plain or sanitised text/html in place of the
    # widget: they say what it is and what its first run gave, not "VBox(children=(HTML(...".
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    s = explorer.result.summary
    text = bundle["text/plain"]
    assert text.startswith("Lambda scaling explorer (interactive: run this cell") and "VBox" not in text
    assert f"{s.invocations:,} requests, {s.cold_starts:,} cold starts, {s.throttles:,} throttled" in text
    page = bundle["text/html"]
    assert explorer.summary.value in page and page.count("src='data:image/png;base64,") == 2
    explorer.controls["arrival_rate"].value = 50.0
    explorer.controls["horizon_s"].value = 86400.0
    assert "refused" in explorer._repr_mimebundle_()["text/plain"]


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

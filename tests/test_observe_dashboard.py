"""The metrics dashboard: real loads on the lab, then the panels read through their matplotlib Axes.

Every number a panel draws is checked against what CloudWatch answers on the lab's endpoint
(``GetMetricStatistics`` through boto3): the dashboard reads the lab's metrics, it does not count.
What each Lambda metric counts: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
"""

import threading
import time

import pytest

from lambdalab_ext.clock import VirtualClock
from lambdalab_ext.errors import TooManyRequestsException
from lambdalab_ext.observe.dashboard import PANELS, Dashboard

T0 = 1_735_689_600          # 2025-01-01T00:00:00Z, a minute boundary
WORK = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise RuntimeError("no")
    return event.get("n")
"""
TITLES = ["Invocations, Errors, Throttles (Sum)", "Duration p50 / p90 / p99", "ConcurrentExecutions (Maximum)"]


def _lines(ax):
    return {line.get_label(): list(zip(line.get_xdata(), line.get_ydata())) for line in ax.get_lines()}


def _cloudwatch(lab, metric, function, start, end, **query):
    if "ExtendedStatistics" not in query:
        query.setdefault("Statistics", ["Sum"])
    dims = [{"Name": "FunctionName", "Value": function}] if function else []
    answer = lab.aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Dimensions=dims, StartTime=start, EndTime=end, Period=60, **query)
    return sorted(answer["Datapoints"], key=lambda p: p["Timestamp"])


def _minute(point):
    return (int(point["Timestamp"].timestamp()) - T0) / 60


@pytest.fixture
def three_minutes(make_lab):
    """Minute 0: 3 invocations, 1 error. Minute 1: 2 invocations (both errors), 2 throttles.
    Minute 2: nothing. Minute 3: 1 invocation. Another function runs once in minute 0."""
    lab = make_lab("process", clock=VirtualClock(start=T0))
    fn = lab.deploy("work", WORK)
    lab.deploy("other", WORK).invoke({"n": 0})
    for event in ({"n": 1}, {"n": 2}, {"fail": True}):
        fn.invoke(event)
    lab.clock.advance(60)
    for _ in range(2):
        fn.invoke({"fail": True})
    fn.update(reserved_concurrency=0)
    for _ in range(2):
        with pytest.raises(TooManyRequestsException):
            fn.invoke({"n": 3})
    fn.update(reserved_concurrency=None)
    lab.clock.advance(120)
    fn.invoke({"n": 4})
    return lab


def test_the_static_plot_draws_the_lab_metrics_per_minute(three_minutes):
    lab = three_minutes
    board = Dashboard(lab, functions=["work"])
    assert board.window() == (T0, T0 + 240)
    fig = board.static_plot()
    assert [ax.get_title() for ax in fig.axes] == TITLES
    counts, durations, concurrency = (_lines(ax) for ax in fig.axes)
    assert counts == {"Invocations": [(0, 3), (1, 2), (3, 1)], "Errors": [(0, 1), (1, 2), (3, 0)],
                      "Throttles": [(1, 2)]}
    # The same numbers CloudWatch answers for the function, minute by minute.
    for metric in ("Invocations", "Errors", "Throttles"):
        assert counts[metric] == [(_minute(p), p["Sum"]) for p in _cloudwatch(lab, metric, "work", T0, T0 + 240)]
    answer = _cloudwatch(lab, "Duration", "work", T0, T0 + 240, ExtendedStatistics=["p50", "p90", "p99"])
    assert set(durations) == {"p50", "p90", "p99"}
    for p in ("p50", "p90", "p99"):
        assert durations[p] == [(_minute(point), point["ExtendedStatistics"][p]) for point in answer]
    assert durations["p50"][0][1] <= durations["p90"][0][1] <= durations["p99"][0][1]
    assert concurrency == {"ConcurrentExecutions": [(0, 1), (1, 1), (3, 1)]}     # one at a time
    assert fig.axes[0].get_xlabel() == "minutes since 2025-01-01 00:00 UTC (lab clock)"


def test_every_function_or_several_side_by_side(three_minutes):
    lab = three_minutes
    everything = _lines(Dashboard(lab).static_plot().axes[0])
    assert everything["Invocations"] == [(0, 4), (1, 2), (3, 1)]           # no dimension: the account's aggregate
    assert everything["Invocations"] == [(_minute(p), p["Sum"])
                                         for p in _cloudwatch(lab, "Invocations", None, T0, T0 + 240)]
    both = _lines(Dashboard(lab, functions=["work", "other"]).static_plot().axes[0])
    assert both["other: Invocations"] == [(0, 1)] and both["work: Throttles"] == [(1, 2)]
    assert Dashboard(lab, functions="other").totals() == {
        "other": {"Invocations": 1, "Errors": 0, "Throttles": 0, "ConcurrentExecutions": 1,
                  "p99": pytest.approx(_cloudwatch(lab, "Duration", "other", T0, T0 + 60,
                                                   ExtendedStatistics=["p99"])[0]["ExtendedStatistics"]["p99"])}}
    only_last = Dashboard(lab, functions=["work"])
    only_last.minutes_shown = 2
    assert only_last.window() == (T0 + 120, T0 + 240)
    assert _lines(only_last.static_plot().axes[0])["Invocations"] == [(1, 1)]


def test_static_plot_draws_on_given_axes_and_refuses_bad_arguments(three_minutes):
    from matplotlib.figure import Figure
    lab = three_minutes
    fig = Figure()
    axes = fig.subplots(3, 1)
    assert Dashboard(lab, "work").static_plot(axes) is fig
    assert [ax.get_title() for ax in axes] == [title for title, _, _ in PANELS]
    with pytest.raises(ValueError, match="3 Axes"):
        Dashboard(lab, "work").static_plot(fig.subplots(1, 2))
    with pytest.raises(ValueError, match="Period must be a multiple of 60"):
        Dashboard(lab, period_s=45)
    with pytest.raises(TypeError, match="callable"):
        Dashboard(lab).run_while(42)


def test_the_widget_shows_the_figure_in_its_output_and_the_totals(three_minutes):
    lab = three_minutes
    board = Dashboard(lab, functions=["work"])
    bundle = board._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == "Lambda metrics dashboard: work: 6 invocations, 3 errors, 2 throttles"
    (shown,) = board.output.outputs
    assert shown["output_type"] == "display_data" and shown["data"]["image/png"]
    assert "<td>work</td><td>6</td><td>3</td><td>2</td><td>1</td>" in board.summary.value
    assert board.shown.continuous_update is False
    board.shown.value = 1                                  # releasing the slider redraws
    assert board.refreshes == 2 and board.window() == (T0 + 180, T0 + 240)
    assert _lines(board.figure.axes[0])["Invocations"] == [(0, 1)]


def test_run_while_refreshes_during_a_real_burst_with_throttles(make_lab):
    lab = make_lab("process")                             # the real clock: the load takes real time
    fn = lab.deploy("slow", WORK, reserved_concurrency=2)
    fn.invoke({})                                          # warm one environment first
    board = Dashboard(lab, functions=["slow"])
    seen = []

    def burst():
        outcomes = []

        def one():
            try:
                outcomes.append(fn.invoke({"sleep": 0.6}).ok)
            except TooManyRequestsException:
                outcomes.append("throttled")
        seen.append(board.refreshes)
        for _ in range(3):                                 # three waves of four: two fit, two are throttled
            wave = [threading.Thread(target=one) for _ in range(4)]
            for t in wave:
                t.start()
            for t in wave:
                t.join()
            seen.append(board.refreshes)
        return outcomes

    outcomes = board.run_while(burst, interval_s=0.1)
    assert outcomes.count("throttled") >= 3 and outcomes.count(True) >= 3
    assert seen[0] >= 1 and seen[-1] > seen[0]             # drawn before, then again while the burst ran
    assert board.refreshes > seen[-1]                      # and once more when it was over
    assert not [t for t in threading.enumerate() if t.name == "lambdalab-dashboard"]
    counts = _lines(board.figure.axes[0])
    start, end = board.window()
    invocations = sum(p["Sum"] for p in _cloudwatch(lab, "Invocations", "slow", start, end))
    throttles = sum(p["Sum"] for p in _cloudwatch(lab, "Throttles", "slow", start, end))
    assert sum(y for _, y in counts["Invocations"]) == invocations == 1 + outcomes.count(True)
    assert sum(y for _, y in counts["Throttles"]) == throttles == outcomes.count("throttled")
    peak = max(y for _, y in _lines(board.figure.axes[2])["ConcurrentExecutions"])
    assert peak == 2                                       # the reserved concurrency, never more
    assert board.errors == []


def test_run_while_stops_its_thread_when_the_load_fails(three_minutes):
    board = Dashboard(three_minutes, functions=["work"])

    def failing():
        time.sleep(0.7)
        raise RuntimeError("the load broke")

    with pytest.raises(RuntimeError, match="the load broke"):
        board.run_while(failing, interval_s=0.1)
    assert not [t for t in threading.enumerate() if t.name == "lambdalab-dashboard"]
    assert board.refreshes >= 3                            # before, at least once during, after


@pytest.mark.parametrize("backend", ["docker"])
def test_docker_functions_fill_the_dashboard(make_lab, backend):
    lab = make_lab(backend, clock=VirtualClock(start=T0))
    fn = lab.deploy("work", WORK)
    fn.invoke({"n": 1})
    fn.invoke({"fail": True})
    counts = _lines(Dashboard(lab, "work").static_plot().axes[0])
    assert counts["Invocations"] == [(0, 2)] and counts["Errors"] == [(0, 1)]

"""The cost calculator widget, without a browser: set ``.value`` on its controls, then read the
breakdown's HTML and the chart's Axes (matplotcheck-style: data, not pixels)."""

import math
import re
import subprocess
import sys
from decimal import Decimal as D

import pytest

from lambdalab_ext.pricing import monthly_cost, pc_capacity, to_cents
from lambdalab_ext.widgets.cost import (CHART_MEMORY_SIZES, DEFAULTS, cost_calculator, cost_curve, cpu_share,
                                        draw_cost_chart, duration_at, monthly_breakdown)

pytest.importorskip("ipywidgets")


def chart_lines(calculator):
    ax = calculator.figure.axes[0]
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}


# "-0", "-0 GB-s", "-$0.00": a minus sign on a zero quantity or amount (a date's "-01" is not one).
NEGATIVE_ZERO = re.compile(r"(?<![\w-])-\$?0(\.0+)?(?![\d.])")


def dollars(amount):
    return float(to_cents(amount))


# --------------------------------------------------------------------------------------------
# The plain functions
# --------------------------------------------------------------------------------------------


def test_breakdown_is_the_pricing_models_month():
    assert to_cents(monthly_breakdown(3_000_000, 120, 1536).total) == D("2.73")   # AWS Example 1
    assert monthly_breakdown(1_000_000, 100, 512, "arm64", free_tier=False) == \
        monthly_cost(1_000_000, 100, 512, "arm64", free_tier=False)


def test_breakdown_with_provisioned_concurrency_matches_aws_pc_example():
    # [PRICING] Provisioned Concurrency, Example 2: 2M requests all on PC = 7 for 24 h, 280 ms,
    # 4096 MB, no free tier: $32.26. The free tier does not apply to PC usage, so it is the
    # same with the free tier on.
    for free_tier in (False, True):
        cost = monthly_breakdown(2_000_000, 280, 4096, free_tier=free_tier, provisioned_concurrency=7, pc_hours=24,
                                 pc_share=1.0)
        assert to_cents(cost.total) == D("32.26") and cost.free_tier_credit == 0


def test_without_units_the_other_pc_settings_are_ignored():
    assert monthly_breakdown(1000, 10, 128, pc_hours=24, pc_share=0.5) == monthly_breakdown(1000, 10, 128)


def test_units_without_hours_say_what_to_fix():
    with pytest.raises(ValueError, match="pc_hours"):
        monthly_breakdown(1000, 10, 128, provisioned_concurrency=2, pc_hours=0)


def test_a_provisioned_load_beyond_capacity_is_refused():
    # 1 unit for 1 hour is 3,600 unit-seconds: at most 3,600 / 0.1095 = 32,876 requests of 109.5 ms.
    # Five million of them would be a bill for something PC cannot do.
    with pytest.raises(ValueError, match=r"can serve at most 32,876"):
        monthly_breakdown(5_000_000, 109.5, 1024, provisioned_concurrency=1, pc_hours=1, pc_share=1.0)
    assert monthly_breakdown(32_876, 109.5, 1024, provisioned_concurrency=1, pc_hours=1,
                             pc_share=1.0).pc_requests == 32_876


def test_duration_follows_cpu_for_a_cpu_bound_handler():
    # Lambda: CPU = memory / 1,769 MB of a vCPU. One thread: duration x CPU is constant up to one vCPU.
    assert duration_at(607, 64.7, 1769, "cpu-bound") == pytest.approx(64.7 * 1769 / 607, abs=0.0005)
    assert duration_at(128, 100, 512, "cpu-bound") == 400.0
    assert duration_at(3008, 64.7, 1769, "cpu-bound") == 64.7        # one thread: no faster past 1 vCPU
    assert duration_at(10240, 100, 5120, "cpu-bound") == 100.0
    assert duration_at(128, 100, 3008, "cpu-bound") == pytest.approx(100 * 1769 / 128, abs=0.0005)
    assert duration_at(607, 64.7, 1769, "io-bound") == 64.7
    assert cpu_share(128) == pytest.approx(128 / 1769) and cpu_share(3008) == 1
    with pytest.raises(ValueError, match="workload"):
        duration_at(512, 1, 512, "gpu-bound")


def test_cost_curve_io_bound_grows_with_memory():
    curve = cost_curve(10_000_000, 200, 512, free_tier=False)
    assert curve["memory_mb"] == list(CHART_MEMORY_SIZES)
    io_bound = curve["io_bound"]
    assert io_bound == sorted(io_bound) and io_bound[0] < io_bound[-1]
    at_512 = dollars(monthly_cost(10_000_000, 200, 512, free_tier=False).total)
    assert curve["io_bound"][CHART_MEMORY_SIZES.index(512)] == at_512
    assert curve["cpu_bound"][CHART_MEMORY_SIZES.index(512)] == at_512


def test_cost_curve_cpu_bound_is_flat_up_to_one_vcpu_then_rises():
    # Duration x memory stays the same while CPU follows memory (up to the rounding of each
    # invocation to the millisecond: 57.9 ms at 1,769 MB is billed 58), then the duration stops
    # falling and the cost climbs.
    curve = cost_curve(10_000_000, 200, 512, free_tier=False)
    flat = [c for m, c in zip(curve["memory_mb"], curve["cpu_bound"]) if m <= 1769]
    assert max(flat) <= min(flat) * 1.01
    above = [c for m, c in zip(curve["memory_mb"], curve["cpu_bound"]) if m >= 1769]
    assert above == sorted(above) and above[-1] > 5 * above[0]


def test_cost_curve_marks_sizes_pc_cannot_serve():
    # 2 units for 744 h serve 5,356,800 s of requests: 5 M of 1 s fit at 1,769 MB (CPU-bound),
    # not at 512 MB, where each takes 3.455 s.
    curve = cost_curve(5_000_000, 1000, 1769, provisioned_concurrency=2, pc_hours=744, pc_share=1.0,
                       memory_sizes=[512, 1769, 3008])
    assert math.isnan(curve["cpu_bound"][0])
    assert not any(math.isnan(x) for x in curve["cpu_bound"][1:] + curve["io_bound"])


def test_draw_cost_chart_puts_the_curves_and_this_month_on_the_axes():
    from matplotlib.figure import Figure
    curve = cost_curve(3_000_000, 120, 1536)
    fig = Figure(layout="constrained")
    ax = fig.add_subplot()
    draw_cost_chart(ax, curve, 1536, 2.73, "io-bound", measured_at_mb=1536)
    io_bound, cpu_bound, here, measured = ax.lines
    assert list(io_bound.get_xdata()) == list(CHART_MEMORY_SIZES)
    assert list(io_bound.get_ydata()) == curve["io_bound"]
    assert list(cpu_bound.get_ydata()) == curve["cpu_bound"]
    assert list(here.get_xdata()) == [1536] and list(here.get_ydata()) == [2.73]
    assert list(measured.get_xdata()) == [1536, 1536]
    assert ax.get_xscale() == "log" and "memory" in ax.get_xlabel() and "month" in ax.get_ylabel()
    assert ax.get_ylim()[0] == 0
    # The legend sits beside the plot: it covers none of the lines.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    assert not ax.get_legend().get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


# --------------------------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------------------------


def test_the_calculator_starts_on_aws_example_1():
    import ipywidgets as widgets
    box = cost_calculator()
    assert isinstance(box, widgets.Box)
    calc = box.calculator
    assert {name: c.value for name, c in calc.controls.items()} == DEFAULTS
    assert to_cents(calc.cost.total) == D("2.73")
    assert "<b>$2.73</b> a month" in calc.breakdown.value
    assert calc.cost._repr_html_() in calc.breakdown.value
    lines = chart_lines(calc)
    assert lines["this month: 1,536 MB, io-bound"] == ([1536], [2.73])
    assert calc.figure.axes[0].get_title() == "Monthly cost against memory"


def test_the_duration_is_measured_at_a_stated_memory_and_starts_there():
    calc = cost_calculator(requests=5_000_000, avg_duration_ms=64.7, memory_mb=1769, workload="cpu-bound").calculator
    assert calc.controls["measured_at_mb"].value == 1769
    assert calc.duration_ms == 64.7
    assert "64.700 ms at 1,769 MB, as measured" in calc.breakdown.value


def test_moving_memory_scales_a_cpu_bound_duration_and_keeps_the_curves():
    # The learner's trap: crunch measured 64.7 ms at 1,769 MB. At 607 MB it gets 607 / 1,769 of a
    # vCPU, so it takes 188.557 ms, not 64.7: the month is priced at that, and the curves, anchored
    # where the duration was measured, do not move.
    calc = cost_calculator(requests=5_000_000, avg_duration_ms=64.7, memory_mb=1769, workload="cpu-bound").calculator
    curve_before = calc.curve
    calc.controls["memory_mb"].value = 607
    assert calc.duration_ms == pytest.approx(188.557)
    assert calc.cost == monthly_cost(5_000_000, 188.557, 607)
    assert calc.cost != monthly_cost(5_000_000, 64.7, 607)
    assert calc.curve == curve_before
    html = calc.breakdown.value
    assert "188.557 ms at 607 MB" in html and "1,769 / 607" in html and "one vCPU" in html
    star = chart_lines(calc)["this month: 607 MB, cpu-bound"]
    assert star == ([607], [dollars(calc.cost.total)])
    # The same move for an I/O-bound handler keeps the duration, and says so.
    calc.controls["workload"].value = "io-bound"
    assert calc.duration_ms == 64.7 and calc.cost == monthly_cost(5_000_000, 64.7, 607)
    assert "I/O-bound" in calc.breakdown.value and calc.curve == curve_before
    # Past 1,769 MB a one-thread handler is no faster.
    calc.controls["workload"].value = "cpu-bound"
    calc.controls["memory_mb"].value = 3008
    assert calc.duration_ms == 64.7 and "cannot use more than one vCPU" in calc.breakdown.value


def test_changing_a_control_reprices_and_redraws():
    calc = cost_calculator().calculator
    first_figure = calc.figure
    calc.controls["memory_mb"].value = 1024
    expected = monthly_cost(3_000_000, 120, 1024)     # I/O-bound by default: same duration
    assert calc.cost == expected
    assert f"<b>${to_cents(expected.total):,.2f}</b>" in calc.breakdown.value
    assert calc.figure is not first_figure
    assert chart_lines(calc)["this month: 1,024 MB, io-bound"] == ([1024], [dollars(expected.total)])

    calc.controls["requests"].value = 10_000_000
    calc.controls["avg_duration_ms"].value = 200.0
    calc.controls["measured_at_mb"].value = 512
    calc.controls["memory_mb"].value = 512
    assert to_cents(calc.cost.total) == D("11.80")   # 10 M x 200 ms at 512 MB: $10.00 + $1.80
    assert chart_lines(calc)["I/O-bound: same duration at every size"][1] == calc.curve["io_bound"]


def test_architecture_and_free_tier_controls():
    calc = cost_calculator(free_tier=False).calculator
    x86 = calc.cost.total
    calc.controls["architecture"].value = "arm64"
    assert calc.cost.architecture == "arm64" and calc.cost.total < x86
    calc.controls["free_tier"].value = True
    assert calc.cost.free_tier_credit > 0
    assert "Free tier, requests" in calc.breakdown.value


def test_provisioned_concurrency_controls_and_their_error():
    calc = cost_calculator().calculator
    calc.controls["provisioned_concurrency"].value = 10
    assert calc.cost is None and calc.figure is None
    assert "Cannot price this" in calc.breakdown.value and "hours enabled a month" in calc.breakdown.value
    calc.controls["pc_hours"].value = 8.0
    calc.controls["pc_share"].value = 0.25
    assert calc.error is None
    assert calc.cost == monthly_cost(3_000_000, 120, 1536, provisioned_concurrency=10, pc_hours=8, pc_share=0.25)
    assert "PC, configured" in calc.breakdown.value
    assert calc.cost.pc_requests == 750_000
    # The capacity and how busy PC is, in the widget's words.
    room = pc_capacity(10, 8, 120)
    assert room == 2_400_000
    assert f"at most {room:,} requests of 120.000 ms" in calc.breakdown.value
    assert "750,000 on it, 31% of its capacity" in calc.breakdown.value


def test_a_refused_month_leaves_no_chart_under_its_reason(monkeypatch):
    import IPython.display
    shown, cleared = [], []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    monkeypatch.setattr(IPython.display, "clear_output", lambda wait=False: cleared.append(wait))
    calc = cost_calculator().calculator
    shown.clear()
    calc.update(**calc.values)
    assert len(shown) == 1 and cleared == []
    shown.clear()
    calc.update(**{**calc.values, "provisioned_concurrency": 1})      # no hours: refused
    # interactive_output clears with wait=True, keeping the last chart until something new comes:
    # the calculator clears it at once instead.
    assert shown == [] and cleared == [False] and calc.figure is None


def test_an_impossible_provisioned_load_is_refused_in_the_widget():
    # 1 unit for 1 hour cannot serve 5 M requests of 109.5 ms: refused, with the capacity, in the
    # controls' own names.
    calc = cost_calculator(requests=5_000_000, avg_duration_ms=109.5, memory_mb=1024).calculator
    calc.controls["provisioned_concurrency"].value = 1
    calc.controls["pc_hours"].value = 1.0
    assert calc.cost is None and calc.figure is None
    assert "can serve at most 32,876" in calc.error
    assert "'share of requests on PC'" in calc.error and "pc_share" not in calc.error
    assert "Cannot price this" in calc.breakdown.value
    calc.controls["pc_share"].value = 0.0
    assert calc.cost is not None and calc.cost.pc_requests == 0
    # A CPU-bound handler that gets slower at a smaller size can outgrow its PC too.
    calc.controls["pc_share"].value = 0.006                       # 30,000 requests: fit at 1,024 MB
    assert calc.cost.pc_requests == 30_000
    calc.controls["workload"].value = "cpu-bound"
    calc.controls["memory_mb"].value = 512                        # 219 ms each: 16,438 at most
    assert calc.cost is None and "at most 16,438" in calc.error


def test_the_free_tier_does_not_apply_to_provisioned_concurrency_usage():
    # AWS: the free tier does not apply to PC. All requests on PC: no free requests, no free GB-s.
    calc = cost_calculator(requests=2_000_000, avg_duration_ms=280, memory_mb=4096).calculator
    calc.controls["provisioned_concurrency"].value = 7
    calc.controls["pc_hours"].value = 24.0
    assert calc.controls["free_tier"].value is True and calc.controls["pc_share"].value == 1.0
    assert to_cents(calc.cost.total) == D("32.26")           # AWS's PC Example 2, to the cent
    assert calc.cost.free_tier_credit == 0
    assert "does not apply to provisioned concurrency" in calc.breakdown.value
    # Half on demand: the free tier covers that half's requests only.
    calc.controls["pc_share"].value = 0.5
    assert calc.cost.free_requests == 1_000_000 and calc.cost.on_demand_requests == 1_000_000
    calc.controls["pc_share"].value = 0.75
    assert calc.cost.free_requests == 500_000


def test_quantities_in_the_breakdown_are_rounded_and_never_negative_zero():
    # 5 M requests billed 65 ms each at 607 MB: 5,000,000 x 0.065 s x 607 / 1,024 GB = 192,651.3671875
    # GB-s exactly. The model keeps every digit; the table shows a number a person can read.
    calc = cost_calculator(requests=5_000_000, avg_duration_ms=64.7, memory_mb=1769, workload="io-bound").calculator
    calc.controls["memory_mb"].value = 607
    assert calc.cost.compute_gb_s == D("192651.3671875")
    html = calc.breakdown.value
    assert "192,651 GB-s" in html and "192,651.3" not in html
    assert not re.search(r"\d\.\d{3,} GB-s", html), "a GB-s quantity shown with 3+ decimals"
    # All requests on PC: the free tier has nothing to credit, and no "-0" appears.
    calc.controls["provisioned_concurrency"].value = 200
    calc.controls["pc_hours"].value = 744.0
    assert calc.cost.free_tier_credit == 0
    for shown in (calc.breakdown.value, str(monthly_cost(10, 0, 128)), monthly_cost(10, 0, 128)._repr_html_()):
        assert not NEGATIVE_ZERO.search(shown), NEGATIVE_ZERO.search(shown)
    # 10 requests of 0 ms: the free tier credits requests and no GB-s: "0 GB-s", not "-0 GB-s".
    assert re.search(r"Free tier, duration +0 GB-s", str(monthly_cost(10, 0, 128)))


def test_every_label_fits_its_width():
    # The description column is 190 px: about 26 characters of the notebook's font.
    calc = cost_calculator().calculator
    for name, control in calc.controls.items():
        if control.style.description_width == "190px":
            assert len(control.description) <= 26, (name, control.description)


def test_controls_that_start_work_update_on_release_only():
    calc = cost_calculator().calculator
    assert calc.controls["memory_mb"].continuous_update is False
    assert calc.controls["pc_share"].continuous_update is False
    assert calc.controls["requests"].continuous_update is False   # text boxes: on Enter or blur


def test_unknown_settings_are_refused():
    with pytest.raises(TypeError, match="unknown settings"):
        cost_calculator(memory=1024)
    with pytest.raises(ValueError, match="workload"):
        cost_calculator(workload="fast")


def test_a_readable_picture_travels_with_the_widget():
    # A notebook opened before it is run shows text/plain or sanitised text/html, not the widget:
    # both must say what the widget is and what it shows, not "HBox(children=(VBox(...".
    box = cost_calculator(requests=5_000_000, avg_duration_ms=64.7, memory_mb=1769, workload="cpu-bound")
    bundle = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    text = bundle["text/plain"]
    assert text.startswith("Lambda cost calculator (interactive: run this cell")
    assert "HBox" not in text and "$3.49 a month" in text and "1,769 MB" in text
    page = bundle["text/html"]
    assert "Run this cell to use its controls" in page and box.calculator.breakdown.value in page
    assert "<img alt='monthly cost against memory' src='data:image/png;base64," in page
    box.calculator.controls["provisioned_concurrency"].value = 1
    assert "cannot price this" in box._repr_mimebundle_()["text/plain"]


def test_no_pyplot_state_is_left_behind():
    import matplotlib.pyplot as plt
    before = plt.get_fignums()
    calc = cost_calculator().calculator
    calc.controls["memory_mb"].value = 2048
    assert plt.get_fignums() == before


def test_ipywidgets_is_imported_only_when_a_widget_is_built():
    code = ("import sys, lambdalab_ext.widgets.cost, lambdalab_ext.tuning; "
            "print('ipywidgets' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]

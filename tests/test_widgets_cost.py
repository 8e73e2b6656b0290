"""The cost calculator widget, without a browser: set ``.value`` on its controls, then read the
breakdown's HTML and the chart's Axes (matplotcheck-style: data, not pixels)."""

import subprocess
import sys
from decimal import Decimal as D

import pytest

from lambdalab_ext.pricing import monthly_cost, to_cents
from lambdalab_ext.widgets.cost import (CHART_MEMORY_SIZES, DEFAULTS, cost_calculator, cost_curve, cpu_share,
                                        draw_cost_chart, monthly_breakdown)

pytest.importorskip("ipywidgets")


def chart_lines(calculator):
    ax = calculator.figure.axes[0]
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}


# --------------------------------------------------------------------------------------------
# The plain functions
# --------------------------------------------------------------------------------------------


def test_breakdown_is_the_pricing_models_month():
    assert to_cents(monthly_breakdown(3_000_000, 120, 1536).total) == D("2.73")   # AWS Example 1
    assert monthly_breakdown(1_000_000, 100, 512, "arm64", free_tier=False) == \
        monthly_cost(1_000_000, 100, 512, "arm64", free_tier=False)


def test_breakdown_with_provisioned_concurrency_matches_aws_pc_example():
    # [PRICING] Provisioned Concurrency, Example 2: 2M requests all on PC = 7 for 24 h, 280 ms,
    # 4096 MB, no free tier: $32.26.
    cost = monthly_breakdown(2_000_000, 280, 4096, free_tier=False, provisioned_concurrency=7, pc_hours=24,
                             pc_share=1.0)
    assert to_cents(cost.total) == D("32.26")


def test_without_units_the_other_pc_settings_are_ignored():
    assert monthly_breakdown(1000, 10, 128, pc_hours=24, pc_share=0.5) == monthly_breakdown(1000, 10, 128)


def test_units_without_hours_say_what_to_fix():
    with pytest.raises(ValueError, match="pc_hours"):
        monthly_breakdown(1000, 10, 128, provisioned_concurrency=2, pc_hours=0)


def test_cost_curve_same_duration_grows_with_memory():
    curve = cost_curve(10_000_000, 200, 512, free_tier=False)
    assert curve["memory_mb"] == list(CHART_MEMORY_SIZES)
    same = curve["same_duration"]
    assert same == sorted(same) and same[0] < same[-1]
    at_512 = float(to_cents(monthly_cost(10_000_000, 200, 512, free_tier=False).total))
    assert curve["same_duration"][CHART_MEMORY_SIZES.index(512)] == at_512
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
    assert cpu_share(128) == pytest.approx(128 / 1769) and cpu_share(3008) == 1


def test_draw_cost_chart_puts_the_curve_and_this_function_on_the_axes():
    from matplotlib.figure import Figure
    curve = cost_curve(3_000_000, 120, 1536)
    ax = Figure().add_subplot()
    draw_cost_chart(ax, curve, 1536, 2.73)
    same, cpu, here = ax.lines
    assert list(same.get_xdata()) == list(CHART_MEMORY_SIZES)
    assert list(same.get_ydata()) == curve["same_duration"]
    assert list(cpu.get_ydata()) == curve["cpu_bound"]
    assert list(here.get_xdata()) == [1536] and list(here.get_ydata()) == [2.73]
    assert ax.get_xscale() == "log" and "memory" in ax.get_xlabel() and "month" in ax.get_ylabel()


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
    assert lines["this function: 1,536 MB"] == ([1536], [2.73])
    assert calc.figure.axes[0].get_title() == "Monthly cost against memory"


def test_changing_a_control_reprices_and_redraws():
    calc = cost_calculator().calculator
    first_figure = calc.figure
    calc.controls["memory_mb"].value = 1024
    expected = monthly_cost(3_000_000, 120, 1024)
    assert calc.cost == expected
    assert f"<b>${to_cents(expected.total):,.2f}</b>" in calc.breakdown.value
    assert calc.figure is not first_figure
    assert chart_lines(calc)["this function: 1,024 MB"] == ([1024], [float(to_cents(expected.total))])

    calc.controls["requests"].value = 10_000_000
    calc.controls["avg_duration_ms"].value = 200.0
    calc.controls["memory_mb"].value = 512
    assert to_cents(calc.cost.total) == D("11.80")   # lambda-facts §3.1: $10.00 + $1.80
    curve = calc.curve["same_duration"]
    assert chart_lines(calc)["same duration at every size (I/O-bound)"][1] == curve


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
    assert "Cannot price this" in calc.breakdown.value and "pc_hours" in calc.breakdown.value
    calc.controls["pc_hours"].value = 8.0
    calc.controls["pc_share"].value = 0.25
    assert calc.error is None
    assert calc.cost == monthly_cost(3_000_000, 120, 1536, provisioned_concurrency=10, pc_hours=8, pc_share=0.25)
    assert "PC, configured" in calc.breakdown.value
    assert calc.cost.pc_requests == 750_000


def test_controls_that_start_work_update_on_release_only():
    calc = cost_calculator().calculator
    assert calc.controls["memory_mb"].continuous_update is False
    assert calc.controls["pc_share"].continuous_update is False
    assert calc.controls["requests"].continuous_update is False   # text boxes: on Enter or blur


def test_unknown_settings_are_refused():
    with pytest.raises(TypeError, match="unknown settings"):
        cost_calculator(memory=1024)


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

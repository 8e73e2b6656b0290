"""A cost calculator: a month of a Lambda function's bill, updated live as you move the controls.

>>> from lambdalab_ext.widgets import cost_calculator                            # doctest: +SKIP
>>> cost_calculator(requests=3_000_000, avg_duration_ms=120, memory_mb=1536)    # doctest: +SKIP

The controls are requests a month, average duration, memory, architecture, free tier, and
provisioned concurrency (units, hours enabled, and the share of requests it serves). The
breakdown is ``pricing.monthly_cost``'s own table; the chart shows the month's total against
memory, read two ways, because duration itself depends on memory:

* duration stays the same at every size (an I/O-bound handler, waiting on something else);
* duration falls with CPU (a CPU-bound handler on one thread: CPU grows with memory up to
  1,769 MB = one vCPU, and one thread cannot use more).

The logic is plain functions (``monthly_breakdown``, ``cost_curve``, ``draw_cost_chart``,
``CostCalculator.update``), testable without a browser: set ``.value`` on a control and read
``box.calculator.breakdown.value`` and ``box.calculator.figure``'s Axes.
"""

from __future__ import annotations

import html
import io

from ..pricing import ARCHITECTURES, monthly_cost, monthly_cost_table, to_cents

__all__ = ["CHART_MEMORY_SIZES", "DEFAULTS", "CostCalculator", "cost_calculator", "cost_curve",
           "draw_cost_chart", "monthly_breakdown"]

ONE_VCPU_MB = 1769   # Lambda's memory for one full vCPU (lambda-facts §3.2)
CHART_MEMORY_SIZES = (128, 256, 512, 1024, 1769, 3008, 5120, 10240)
HOURS_IN_A_MONTH = 744   # 31 days: the most provisioned concurrency can be enabled in a month

# AWS's pricing page, Example 1 (mobile application backend): a month you can check to the cent.
DEFAULTS = {
    "requests": 3_000_000,
    "avg_duration_ms": 120.0,
    "memory_mb": 1536,
    "architecture": "x86_64",
    "free_tier": True,
    "provisioned_concurrency": 0,
    "pc_hours": 0.0,
    "pc_share": 1.0,
}


def _pc_arguments(provisioned_concurrency, pc_hours, pc_share):
    """PC settings as monthly_cost takes them: no units means no PC, whatever the other two say."""
    if not provisioned_concurrency:
        return {}
    return {"provisioned_concurrency": provisioned_concurrency, "pc_hours": pc_hours, "pc_share": pc_share}


def monthly_breakdown(requests, avg_duration_ms, memory_mb, architecture="x86_64", free_tier=True,
                      provisioned_concurrency=0, pc_hours=0, pc_share=1.0):
    """The month's ``MonthlyCost`` for the calculator's inputs.

    With ``provisioned_concurrency`` units enabled for ``pc_hours``, PC serves ``pc_share`` of the
    requests (without cold starts), the rest run on demand. Raises ``ValueError`` with what to fix.

    >>> from lambdalab_ext.pricing import to_cents
    >>> to_cents(monthly_breakdown(3_000_000, 120, 1536).total)     # AWS's Example 1
    Decimal('2.73')
    """
    return monthly_cost(requests, avg_duration_ms, memory_mb, architecture, free_tier=free_tier,
                        **_pc_arguments(provisioned_concurrency, pc_hours, pc_share))


def cpu_share(memory_mb):
    """The vCPUs one thread can use at ``memory_mb``: memory / 1,769 MB, at most one."""
    return min(memory_mb, ONE_VCPU_MB) / ONE_VCPU_MB


def cost_curve(requests, avg_duration_ms, memory_mb, architecture="x86_64", free_tier=True,
               provisioned_concurrency=0, pc_hours=0, pc_share=1.0, memory_sizes=CHART_MEMORY_SIZES):
    """The month's total (dollars, to the cent) at each of ``memory_sizes``, read two ways.

    Returns ``{"memory_mb": [...], "same_duration": [...], "cpu_bound": [...]}``: with the
    duration unchanged at every size, and with the duration scaled by CPU as a one-thread
    CPU-bound handler's would be (``avg_duration_ms`` is what it takes at ``memory_mb``).

    >>> curve = cost_curve(1_000_000, 1000, 1024, free_tier=False, memory_sizes=[512, 1024])
    >>> curve["same_duration"], curve["cpu_bound"]
    ([8.53, 16.87], [16.87, 16.87])
    """
    sizes = [int(m) for m in memory_sizes]
    here = cpu_share(memory_mb)
    same = [float(avg_duration_ms)] * len(sizes)
    scaled = [float(avg_duration_ms) * here / cpu_share(m) for m in sizes]
    pc = _pc_arguments(provisioned_concurrency, pc_hours, pc_share)

    def totals(durations):
        columns = {"requests": [requests] * len(sizes), "avg_duration_ms": durations, "memory_mb": sizes,
                   "architecture": [architecture] * len(sizes)}
        columns.update({k: [v] * len(sizes) for k, v in pc.items()})
        return monthly_cost_table(columns, free_tier=free_tier).total_usd.tolist()

    return {"memory_mb": sizes, "same_duration": totals(same), "cpu_bound": totals(scaled)}


def draw_cost_chart(ax, curve, memory_mb, total_usd):
    """Draw ``cost_curve``'s two lines on ``ax``, and this configuration's total at ``memory_mb``."""
    ax.plot(curve["memory_mb"], curve["same_duration"], "o-", color="#1f6feb",
            label="same duration at every size (I/O-bound)")
    ax.plot(curve["memory_mb"], curve["cpu_bound"], "s--", color="#d97706",
            label=f"duration falls with CPU up to {ONE_VCPU_MB:,} MB (CPU-bound)")
    ax.plot([memory_mb], [total_usd], "*", color="#15803d", markersize=14, label=f"this function: {memory_mb:,} MB")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(curve["memory_mb"]), [f"{m:,}" for m in curve["memory_mb"]], rotation=45, fontsize="small")
    ax.minorticks_off()
    ax.set_xlabel("memory (MB)")
    ax.set_ylabel("cost per month ($)")
    ax.set_ylim(bottom=0)
    ax.set_title("Monthly cost against memory")
    ax.legend(fontsize="small", loc="upper left")


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


class CostCalculator:
    """The calculator's state: its controls, the breakdown (an ``HTML`` widget), the chart (an
    ``Output``), and the last ``cost`` (``MonthlyCost``), ``curve``, ``figure`` and ``error``."""

    def __init__(self, controls, breakdown):
        self.controls = controls
        self.breakdown = breakdown
        self.chart = None          # the Output interactive_output makes
        self.cost = None
        self.curve = None
        self.figure = None
        self.error = None

    @property
    def values(self):
        return {name: control.value for name, control in self.controls.items()}

    def update(self, **values):
        """Recompute and redraw for ``values`` (the controls' values); what ``interactive_output`` calls.

        Runs inside the chart's ``Output``, so the figure made here is shown there, once.
        """
        from IPython.display import Image, display
        from matplotlib.figure import Figure
        try:
            self.cost = monthly_breakdown(**values)
            self.curve = cost_curve(**values)
            self.error = None
        except (TypeError, ValueError) as exc:   # an impossible combination: say what to fix
            self.cost = self.curve = self.figure = None
            self.error = str(exc)
            self.breakdown.value = f"<p style='color:#b91c1c'><b>Cannot price this:</b> {html.escape(self.error)}</p>"
            return
        total = to_cents(self.cost.total)
        self.breakdown.value = (f"<p style='font-size:1.2em'><b>${total:,.2f}</b> a month "
                                f"({self.cost.requests:,} requests)</p>{self.cost._repr_html_()}")
        figure = Figure(figsize=(6, 3.6))
        draw_cost_chart(figure.add_subplot(), self.curve, values["memory_mb"], float(total))
        figure.tight_layout()
        self.figure = figure
        display(Image(data=_png(figure), format="png"))


def _controls(widgets, values):
    style = {"description_width": "190px"}
    wide = widgets.Layout(width="360px")
    return {
        "requests": widgets.BoundedIntText(value=values["requests"], min=0, max=10**12, step=100_000,
                                           description="requests a month", style=style, layout=wide),
        "avg_duration_ms": widgets.BoundedFloatText(value=values["avg_duration_ms"], min=0, max=900_000, step=1,
                                                    description="average duration (ms)", style=style, layout=wide),
        # Pricing and drawing on every pixel of a drag would queue work: update on release.
        "memory_mb": widgets.IntSlider(value=values["memory_mb"], min=128, max=10_240, step=1,
                                       continuous_update=False, description="memory (MB)", style=style,
                                       layout=widgets.Layout(width="460px")),
        "architecture": widgets.ToggleButtons(value=values["architecture"], options=list(ARCHITECTURES),
                                              description="architecture", style={**style, "button_width": "80px"}),
        "free_tier": widgets.Checkbox(value=values["free_tier"], description="free tier (1 M requests, 400,000 GB-s)",
                                      indent=False, layout=wide),
        "provisioned_concurrency": widgets.BoundedIntText(value=values["provisioned_concurrency"], min=0, max=100_000,
                                                          description="provisioned concurrency (units)", style=style,
                                                          layout=wide),
        "pc_hours": widgets.BoundedFloatText(value=values["pc_hours"], min=0, max=HOURS_IN_A_MONTH, step=1,
                                             description="PC enabled (hours a month)", style=style, layout=wide),
        "pc_share": widgets.FloatSlider(value=values["pc_share"], min=0, max=1, step=0.01, continuous_update=False,
                                        readout_format=".0%", description="share of requests on PC", style=style,
                                        layout=widgets.Layout(width="460px")),
    }


def cost_calculator(**initial):
    """An ipywidgets box: controls on the left, the month's breakdown and a cost-against-memory chart
    on the right, both updated when a control changes. Starts from ``DEFAULTS`` (AWS's pricing
    example 1), overridden by ``initial`` (``requests=``, ``memory_mb=``, ...).

    The box's ``calculator`` attribute is the ``CostCalculator`` (controls, last cost and figure).

    >>> box = cost_calculator(memory_mb=1024)                                   # doctest: +SKIP
    >>> box.calculator.controls["requests"].value = 10_000_000                  # doctest: +SKIP
    >>> box.calculator.cost.total                                               # doctest: +SKIP
    """
    import ipywidgets as widgets

    unknown = sorted(set(initial) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"cost_calculator() got unknown settings {unknown}; it takes {sorted(DEFAULTS)}")
    values = {**DEFAULTS, **initial}
    controls = _controls(widgets, values)
    breakdown = widgets.HTML(layout=widgets.Layout(min_width="380px"))
    calculator = CostCalculator(controls, breakdown)
    calculator.chart = widgets.interactive_output(calculator.update, controls)
    calculator.chart.layout = widgets.Layout(min_width="420px")
    pc_title = widgets.HTML("<b>Provisioned concurrency</b> (billed in 5-minute units, never free)")
    left = widgets.VBox([widgets.HTML("<b>Workload</b>"), controls["requests"], controls["avg_duration_ms"],
                         controls["memory_mb"], controls["architecture"], controls["free_tier"], pc_title,
                         controls["provisioned_concurrency"], controls["pc_hours"], controls["pc_share"]],
                        layout=widgets.Layout(width="480px"))
    right = widgets.VBox([breakdown, calculator.chart])
    box = widgets.HBox([left, right], layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"))
    box.calculator = calculator
    return box

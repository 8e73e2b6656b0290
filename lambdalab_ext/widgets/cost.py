"""A cost calculator: a month of a Lambda function's bill, updated live as you move the controls.

>>> from lambdalab_ext.widgets import cost_calculator                            # doctest: +SKIP
>>> cost_calculator(requests=5_000_000, avg_duration_ms=64.7, memory_mb=1769,   # doctest: +SKIP
...                 workload="cpu-bound")

The duration is an input *measured at a stated memory size* (``measured_at_mb``, by default the
starting memory). Move the memory and the duration follows the ``workload``:

* ``"cpu-bound"``: a handler computing on one thread. Lambda gives CPU in proportion to memory,
  memory / 1,769 MB of a vCPU, so the duration scales by (CPU where measured) / (CPU here),
  and stops falling at 1,769 MB: one thread cannot use more than one vCPU.
* ``"io-bound"``: a handler waiting on something else: the duration stays the same at every size.

The other controls are requests a month, architecture, free tier, and provisioned concurrency
(units, hours enabled, and the share of requests it serves). The breakdown is
``pricing.monthly_cost``'s own table; the chart shows the month's total against memory for both
workloads, anchored where the duration was measured, so it stays put while the memory moves.

The logic is plain functions (``duration_at``, ``monthly_breakdown``, ``cost_curve``,
``draw_cost_chart``, ``CostCalculator.update``), testable without a browser: set ``.value`` on a
control and read ``box.calculator.breakdown.value`` and ``box.calculator.figure``'s Axes.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re

from ..limits import MB_PER_VCPU, format_usd
from ..pricing import ARCHITECTURES, monthly_cost, monthly_cost_table, pc_capacity, to_cents

__all__ = ["CHART_MEMORY_SIZES", "DEFAULTS", "WORKLOADS", "CostCalculator", "cost_calculator", "cost_curve",
           "cpu_share", "draw_cost_chart", "duration_at", "monthly_breakdown"]

# AWS "Configure Lambda function memory": CPU is allocated in proportion to memory; at 1,769 MB a
# function has the equivalent of one vCPU, and one thread cannot use more.
ONE_VCPU_MB = MB_PER_VCPU
CHART_MEMORY_SIZES = (128, 256, 512, 1024, 1769, 3008, 5120, 10240)
HOURS_IN_A_MONTH = 744   # 31 days: the most provisioned concurrency can be enabled in a month

WORKLOADS = {
    "cpu-bound": "CPU-bound, one thread: the duration falls as CPU grows with memory, up to one vCPU at 1,769 MB",
    "io-bound": "I/O-bound: it waits on something else, so the duration is the same at every memory size",
}

# AWS's pricing page, Example 1 (mobile application backend): a month you can check to the cent.
DEFAULTS = {
    "requests": 3_000_000,
    "avg_duration_ms": 120.0,
    "measured_at_mb": 1536,
    "workload": "io-bound",
    "memory_mb": 1536,
    "architecture": "x86_64",
    "free_tier": True,
    "provisioned_concurrency": 0,
    "pc_hours": 0.0,
    "pc_share": 1.0,
}

# What the pricing model's parameters are called on the calculator's controls, for its messages.
_CONTROL_NAMES = {
    "pc_share": "'share of requests on PC'",
    "pc_hours": "'hours enabled a month'",
    "provisioned_concurrency": "'units (environments)'",
    "avg_duration_ms": "'duration (ms)'",
    "memory_mb": "'memory to price (MB)'",
}


def _pc_arguments(provisioned_concurrency, pc_hours, pc_share):
    """PC settings as monthly_cost takes them: no units means no PC, whatever the other two say."""
    if not provisioned_concurrency:
        return {}
    return {"provisioned_concurrency": provisioned_concurrency, "pc_hours": pc_hours, "pc_share": pc_share}


def monthly_breakdown(requests, avg_duration_ms, memory_mb, architecture="x86_64", free_tier=True,
                      provisioned_concurrency=0, pc_hours=0, pc_share=1.0):
    """The month's ``MonthlyCost`` for requests of ``avg_duration_ms`` at ``memory_mb``.

    With ``provisioned_concurrency`` units enabled for ``pc_hours``, PC serves ``pc_share`` of the
    requests (without cold starts), the rest run on demand. Raises ``ValueError`` with what to fix,
    e.g. when PC cannot serve that many requests (units x seconds enabled / duration).

    >>> from lambdalab_ext.pricing import to_cents
    >>> to_cents(monthly_breakdown(3_000_000, 120, 1536).total)     # AWS's Example 1
    Decimal('2.73')
    """
    return monthly_cost(requests, avg_duration_ms, memory_mb, architecture, free_tier=free_tier,
                        **_pc_arguments(provisioned_concurrency, pc_hours, pc_share))


def cpu_share(memory_mb):
    """The vCPUs one thread can use at ``memory_mb``: memory / 1,769 MB, at most one."""
    return min(memory_mb, ONE_VCPU_MB) / ONE_VCPU_MB


def duration_at(memory_mb, avg_duration_ms, measured_at_mb, workload="io-bound"):
    """The duration at ``memory_mb`` of a handler that takes ``avg_duration_ms`` at ``measured_at_mb``,
    read to the microsecond.

    ``"cpu-bound"``: scaled by cpu_share(measured_at_mb) / cpu_share(memory_mb) (one thread, so
    nothing changes above 1,769 MB); ``"io-bound"``: the same at every size.

    >>> duration_at(607, 64.7, 1769, "cpu-bound"), duration_at(3008, 64.7, 1769, "cpu-bound")
    (188.557, 64.7)
    >>> duration_at(607, 64.7, 1769, "io-bound")
    64.7
    """
    if workload not in WORKLOADS:
        raise ValueError(f"workload={workload!r}: use one of {sorted(WORKLOADS)}")
    if workload == "io-bound":
        return float(avg_duration_ms)
    return round(float(avg_duration_ms) * cpu_share(measured_at_mb) / cpu_share(memory_mb), 3)


def cost_curve(requests, avg_duration_ms, memory_mb, architecture="x86_64", free_tier=True,
               provisioned_concurrency=0, pc_hours=0, pc_share=1.0, memory_sizes=CHART_MEMORY_SIZES):
    """The month's total (dollars, to the cent) at each of ``memory_sizes``, read two ways.

    ``avg_duration_ms`` is what the handler takes at ``memory_mb``. Returns ``{"memory_mb": [...],
    "io_bound": [...], "cpu_bound": [...]}``: with the duration unchanged at every size, and
    scaled by CPU as a one-thread CPU-bound handler's would be (``duration_at``). A size at which
    the month cannot be priced (provisioned concurrency too small for the longer duration) is NaN.

    >>> curve = cost_curve(1_000_000, 1000, 1024, free_tier=False, memory_sizes=[512, 1024])
    >>> curve["io_bound"], curve["cpu_bound"]
    ([8.53, 16.87], [16.87, 16.87])
    """
    sizes = [int(m) for m in memory_sizes]
    pc = _pc_arguments(provisioned_concurrency, pc_hours, pc_share)

    def totals(workload):
        durations = [duration_at(m, avg_duration_ms, memory_mb, workload) for m in sizes]
        columns = {"requests": [requests] * len(sizes), "avg_duration_ms": durations, "memory_mb": sizes,
                   "architecture": [architecture] * len(sizes)}
        columns.update({k: [v] * len(sizes) for k, v in pc.items()})
        try:
            return monthly_cost_table(columns, free_tier=free_tier).total_usd.tolist()
        except ValueError:
            # Some sizes cannot be priced (e.g. PC too small for a longer duration): the others can.
            out = []
            for d, m in zip(durations, sizes):
                try:
                    out.append(float(to_cents(monthly_cost(requests, d, m, architecture, free_tier=free_tier,
                                                           **pc).total)))
                except ValueError:
                    out.append(math.nan)
            return out

    return {"memory_mb": sizes, "io_bound": totals("io-bound"), "cpu_bound": totals("cpu-bound")}


def draw_cost_chart(ax, curve, memory_mb, total_usd, workload="io-bound", measured_at_mb=None):
    """Draw ``cost_curve``'s two lines on ``ax``, where the duration was measured, and this
    configuration's total at ``memory_mb`` (on the ``workload``'s line)."""
    ax.plot(curve["memory_mb"], curve["io_bound"], "o-", color="#1f6feb",
            label="I/O-bound: same duration at every size")
    ax.plot(curve["memory_mb"], curve["cpu_bound"], "s--", color="#d97706",
            label=f"CPU-bound: duration falls with CPU up to {ONE_VCPU_MB:,} MB")
    ax.plot([memory_mb], [total_usd], "*", color="#15803d", markersize=14,
            label=f"this month: {memory_mb:,} MB, {workload}")
    if measured_at_mb is not None:
        ax.axvline(measured_at_mb, color="#6b7280", linestyle=":", linewidth=1,
                   label=f"duration measured at {measured_at_mb:,} MB")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(curve["memory_mb"]), [f"{m:,}" for m in curve["memory_mb"]], rotation=45, fontsize="small")
    ax.minorticks_off()
    ax.set_xlabel("memory (MB)")
    ax.set_ylabel("cost per month ($)")
    ax.set_ylim(bottom=0)
    ax.set_title("Monthly cost against memory")
    # Below the plot, so it never hides a point.
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, frameon=False)


def _png(figure, dpi=90):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _in_control_names(message):
    """A pricing message in the calculator's words: its controls' labels, not parameter names."""
    return re.sub(r"\b(" + "|".join(_CONTROL_NAMES) + r")\b", lambda m: _CONTROL_NAMES[m.group(1)], message)


def _duration_note(values, duration_ms):
    memory, measured, d = values["memory_mb"], values["measured_at_mb"], values["avg_duration_ms"]
    if memory == measured:
        return f"Duration priced: {duration_ms:,.3f} ms at {memory:,} MB, as measured."
    if values["workload"] == "io-bound":
        how = (f"I/O-bound: the {d:,.3f} ms measured at {measured:,} MB, unchanged (waiting does not "
               "speed up with CPU)")
    elif min(memory, measured) >= ONE_VCPU_MB:
        how = (f"CPU-bound on one thread: the {d:,.3f} ms measured at {measured:,} MB, unchanged "
               f"(both sizes are past {ONE_VCPU_MB:,} MB, and one thread cannot use more than one vCPU)")
    else:
        how = (f"CPU-bound on one thread: {d:,.3f} ms measured at {measured:,} MB x "
               f"{min(measured, ONE_VCPU_MB):,} / {min(memory, ONE_VCPU_MB):,} (CPU is memory / {ONE_VCPU_MB:,} MB "
               f"of a vCPU, and one thread uses at most one vCPU)")
    return f"Duration priced: {duration_ms:,.3f} ms at {memory:,} MB. {how}."


def _pc_note(values, cost, duration_ms):
    units, hours = values["provisioned_concurrency"], values["pc_hours"]
    if not units or not hours:
        return ""
    room = pc_capacity(units, hours, duration_ms)
    busy = "" if not room else f", {cost.pc_requests / room:.0%} of its capacity"
    note = (f"Provisioned concurrency: {units:,} unit{'s' if units != 1 else ''} for {hours:,g} h can serve at most "
            f"{'any number of' if room is None else f'{room:,}'} requests of {duration_ms:,.3f} ms (units x seconds "
            f"enabled / duration); this month puts {cost.pc_requests:,} on it{busy}.")
    if values["free_tier"]:
        note += (" The free tier covers only on-demand requests and duration: it does not apply to "
                 "provisioned concurrency usage.")
    return note


class CostCalculator:
    """The calculator's state: its controls, the breakdown (an ``HTML`` widget), the chart (an
    ``Output``), and the last ``cost`` (``MonthlyCost``), ``duration_ms`` (what was priced),
    ``curve``, ``figure`` and ``error``."""

    def __init__(self, controls, breakdown):
        self.controls = controls
        self.breakdown = breakdown
        self.chart = None          # the Output interactive_output makes
        self.cost = None
        self.duration_ms = None
        self.curve = None
        self.figure = None
        self.error = None

    @property
    def values(self):
        return {name: control.value for name, control in self.controls.items()}

    def compute(self, **values):
        """Price ``values`` (the controls' values) and redraw ``figure``; no display. Returns the cost,
        or None with the reason in ``error`` (and in the breakdown)."""
        from matplotlib.figure import Figure
        pc = {k: values[k] for k in ("provisioned_concurrency", "pc_hours", "pc_share")}
        common = {"architecture": values["architecture"], "free_tier": values["free_tier"], **pc}
        try:
            self.duration_ms = duration_at(values["memory_mb"], values["avg_duration_ms"], values["measured_at_mb"],
                                           values["workload"])
            self.cost = monthly_breakdown(values["requests"], self.duration_ms, values["memory_mb"], **common)
            self.curve = cost_curve(values["requests"], values["avg_duration_ms"], values["measured_at_mb"], **common)
            self.error = None
        except (TypeError, ValueError) as exc:   # an impossible combination: say what to fix
            self.cost = self.curve = self.figure = None
            self.error = _in_control_names(str(exc))
            self.breakdown.value = f"<p style='color:#b91c1c'><b>Cannot price this:</b> {html.escape(self.error)}</p>"
            return None
        total = to_cents(self.cost.total)
        notes = [_duration_note(values, self.duration_ms), _pc_note(values, self.cost, self.duration_ms)]
        self.breakdown.value = (f"<p style='font-size:1.2em'><b>{format_usd(total)}</b> a month "
                                f"({self.cost.requests:,} requests)</p>"
                                + "".join(f"<p class='lambdalab-cost-note'>{html.escape(n)}</p>" for n in notes if n)
                                + self.cost._repr_html_())
        figure = Figure(figsize=(6.4, 4.2), layout="constrained")
        draw_cost_chart(figure.add_subplot(), self.curve, values["memory_mb"], float(total), values["workload"],
                        values["measured_at_mb"])
        self.figure = figure
        return self.cost

    def update(self, **values):
        """Recompute, redraw and show; what ``interactive_output`` calls.

        Runs inside the chart's ``Output``, so the figure made here is shown there, once.
        """
        from IPython.display import Image, clear_output, display
        if self.compute(**values) is None:
            # interactive_output clears with wait=True, which keeps the last chart until something
            # new is shown: under "Cannot price this" it would pass for this month's. Clear it now.
            clear_output()
            return
        display(Image(data=_png(self.figure), format="png"))

    def static_bundle(self):
        """``text/plain`` and ``text/html`` for where the live widget cannot be drawn (a notebook
        opened before it is run or trusted, a static viewer): what it is, and the month as it starts."""
        v = self.values
        text = ("Lambda cost calculator (interactive: run this cell to use its controls). "
                f"It starts at {v['requests']:,} requests a month of {v['avg_duration_ms']:,} ms measured at "
                f"{v['measured_at_mb']:,} MB ({v['workload']}), priced at {v['memory_mb']:,} MB on {v['architecture']}")
        if self.cost is None:
            return {"text/plain": text + f": cannot price this: {self.error}"}
        text += f": {format_usd(self.cost.total)} a month."
        image = base64.b64encode(_png(self.figure, dpi=72)).decode("ascii")
        page = (f"<div class='lambdalab-cost-static'><p><b>Lambda cost calculator</b>: a picture of it as it "
                f"starts. Run this cell to use its controls.</p>{self.breakdown.value}"
                f"<img alt='monthly cost against memory' src='data:image/png;base64,{image}'/></div>")
        return {"text/plain": text, "text/html": page}


def _controls(widgets, values):
    # Labels are at most 26 characters: they fit the 190 px given to them without being cut.
    style = {"description_width": "190px"}
    wide = widgets.Layout(width="360px")
    return {
        "requests": widgets.BoundedIntText(value=values["requests"], min=0, max=10**12, step=100_000,
                                           description="requests a month", style=style, layout=wide),
        "avg_duration_ms": widgets.BoundedFloatText(value=values["avg_duration_ms"], min=0, max=900_000, step=1,
                                                    description="duration (ms)", style=style, layout=wide),
        "measured_at_mb": widgets.BoundedIntText(value=values["measured_at_mb"], min=128, max=10_240,
                                                 description="... measured at (MB)", style=style, layout=wide),
        "workload": widgets.ToggleButtons(value=values["workload"], options=[("CPU-bound", "cpu-bound"),
                                                                              ("I/O-bound", "io-bound")],
                                          tooltips=[WORKLOADS["cpu-bound"], WORKLOADS["io-bound"]],
                                          description="the handler is", style={**style, "button_width": "110px"}),
        # Pricing and drawing on every pixel of a drag would queue work: update on release.
        "memory_mb": widgets.IntSlider(value=values["memory_mb"], min=128, max=10_240, step=1,
                                       continuous_update=False, description="memory to price (MB)", style=style,
                                       layout=widgets.Layout(width="460px")),
        "architecture": widgets.ToggleButtons(value=values["architecture"], options=list(ARCHITECTURES),
                                              description="architecture", style={**style, "button_width": "110px"}),
        "free_tier": widgets.Checkbox(value=values["free_tier"], description="free tier (1 M requests, 400,000 GB-s)",
                                      indent=False, layout=wide),
        "provisioned_concurrency": widgets.BoundedIntText(value=values["provisioned_concurrency"], min=0, max=100_000,
                                                          description="units (environments)", style=style,
                                                          layout=wide),
        "pc_hours": widgets.BoundedFloatText(value=values["pc_hours"], min=0, max=HOURS_IN_A_MONTH, step=1,
                                             description="hours enabled a month", style=style, layout=wide),
        "pc_share": widgets.FloatSlider(value=values["pc_share"], min=0, max=1, step=0.01, continuous_update=False,
                                        readout_format=".0%", description="share of requests on PC", style=style,
                                        layout=widgets.Layout(width="460px")),
    }


_BOX_CLASS = None


def _box_class(widgets):
    """An ``HBox`` whose display carries a readable picture besides the live widget (made once)."""
    global _BOX_CLASS
    if _BOX_CLASS is None:
        class CostCalculatorBox(widgets.HBox):
            def _repr_mimebundle_(self, **kwargs):
                bundle = super()._repr_mimebundle_(**kwargs)
                bundle.update(self.calculator.static_bundle())
                return bundle

        _BOX_CLASS = CostCalculatorBox
    return _BOX_CLASS


def cost_calculator(**initial):
    """An ipywidgets box: controls on the left, the month's breakdown and a cost-against-memory chart
    on the right, both updated when a control changes. Starts from ``DEFAULTS`` (AWS's pricing
    example 1), overridden by ``initial`` (``requests=``, ``avg_duration_ms=``, ``memory_mb=``,
    ``workload=``...); ``measured_at_mb`` defaults to the starting ``memory_mb``.

    The box's ``calculator`` attribute is the ``CostCalculator`` (controls, last cost and figure).

    >>> box = cost_calculator(memory_mb=1024)                                   # doctest: +SKIP
    >>> box.calculator.controls["requests"].value = 10_000_000                  # doctest: +SKIP
    >>> box.calculator.cost.total                                               # doctest: +SKIP
    """
    import ipywidgets as widgets

    unknown = sorted(set(initial) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"cost_calculator() got unknown settings {unknown}; it takes {sorted(DEFAULTS)}")
    if initial.get("workload", DEFAULTS["workload"]) not in WORKLOADS:
        raise ValueError(f"workload={initial['workload']!r}: use one of {sorted(WORKLOADS)}")
    values = {**DEFAULTS, **initial}
    if "measured_at_mb" not in initial:
        values["measured_at_mb"] = values["memory_mb"]
    controls = _controls(widgets, values)
    breakdown = widgets.HTML(layout=widgets.Layout(min_width="380px"))
    calculator = CostCalculator(controls, breakdown)
    calculator.chart = widgets.interactive_output(calculator.update, controls)
    calculator.chart.layout = widgets.Layout(min_width="420px")
    pc_title = widgets.HTML("<div style='line-height:1.35;margin-top:6px'><b>Provisioned concurrency</b> (billed "
                            "in 5-minute units; the free tier does not apply to it)</div>",
                            layout=widgets.Layout(width="460px"))
    duration_help = widgets.HTML(
        "<div style='line-height:1.35;font-size:0.9em;margin:2px 0 6px'>The duration is what you measured at "
        "the size above. Moving the memory scales it: a "
        f"CPU-bound handler gets memory / {ONE_VCPU_MB:,} MB of a vCPU, so its duration changes in inverse "
        f"proportion up to {ONE_VCPU_MB:,} MB (one thread uses at most one vCPU); an I/O-bound one keeps "
        "it.</div>", layout=widgets.Layout(width="460px"))
    left = widgets.VBox([widgets.HTML("<b>Workload</b>"), controls["requests"], controls["avg_duration_ms"],
                         controls["measured_at_mb"], controls["workload"], duration_help, controls["memory_mb"],
                         controls["architecture"], controls["free_tier"], pc_title,
                         controls["provisioned_concurrency"], controls["pc_hours"], controls["pc_share"]],
                        layout=widgets.Layout(width="480px"))
    right = widgets.VBox([breakdown, calculator.chart])
    box = _box_class(widgets)([left, right], layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"))
    box.calculator = calculator
    return box

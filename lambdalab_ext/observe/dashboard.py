"""A live CloudWatch-style dashboard of a lab's Lambda metrics, for a notebook.

Three panels per period on the lab clock, read from the lab's own metrics (``lab.observability``,
the same numbers ``GetMetricStatistics`` answers, never counted again here):

- ``Invocations``, ``Errors`` and ``Throttles`` (``Sum``);
- ``Duration`` percentiles ``p50``, ``p90`` and ``p99`` (milliseconds);
- ``ConcurrentExecutions`` (``Maximum``).

:meth:`Dashboard.refresh` redraws them; :meth:`Dashboard.run_while` runs a load (any callable) and
refreshes every half second on a background thread while it runs, so the panels grow during a
burst; :meth:`Dashboard.static_plot` draws the same series on a matplotlib figure (what nbval and
the tests read: Axes titles and line data, not pixels).

>>> from lambdalab_ext.observe.dashboard import Dashboard                     # doctest: +SKIP
>>> board = Dashboard(lab, functions=["checkout"])                            # doctest: +SKIP
>>> board                                                                     # doctest: +SKIP
>>> board.run_while(lambda: [lab.functions["checkout"].invoke({}) for _ in range(20)])   # doctest: +SKIP
>>> board.series()["checkout"]["Invocations"]                                 # doctest: +SKIP
[(0.0, 20.0)]
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import math
import threading

from .metrics import LAMBDA_NAMESPACE

__all__ = ["Dashboard", "PANELS", "PERCENTILES", "REFRESH_INTERVAL_S"]

REFRESH_INTERVAL_S = 0.5
PERCENTILES = ("p50", "p90", "p99")
COUNTS = ("Invocations", "Errors", "Throttles")
# (title, the series drawn in it, y label): the three panels, in order.
PANELS = (
    ("Invocations, Errors, Throttles (Sum)", COUNTS, "count"),
    ("Duration p50 / p90 / p99", PERCENTILES, "ms"),
    ("ConcurrentExecutions (Maximum)", ("ConcurrentExecutions",), "environments busy at once"),
)
ALL_FUNCTIONS = "all functions"


class Dashboard:
    """Live Lambda metrics of ``functions`` (names; None: the account's aggregate of every function)
    per ``period_s`` seconds of the lab clock.

    The window starts at the period holding ``start`` (epoch seconds on the lab clock; by default
    the lab's first invocation or throttle, or now when there is none yet) and ends with the
    current period. x values are minutes since the window's start.

    Attributes: ``widget`` (the ipywidgets layout; displaying the dashboard displays it),
    ``output`` (the ``Output`` holding the figure), ``summary`` (an ``HTML`` of the totals),
    ``figure`` (the last drawn matplotlib ``Figure``), ``refreshes`` (how many times it redrew).

    >>> board = Dashboard(lab)                                      # doctest: +SKIP
    >>> board.run_while(burst)                                      # doctest: +SKIP
    >>> fig = board.static_plot()                                   # doctest: +SKIP
    >>> [ax.get_title() for ax in fig.axes]                         # doctest: +SKIP
    ['Invocations, Errors, Throttles (Sum)', 'Duration p50 / p90 / p99', 'ConcurrentExecutions (Maximum)']
    """

    def __init__(self, lab, functions=None, period_s=60, *, start=None):
        observability = getattr(lab, "observability", None)
        if observability is None or getattr(observability, "metrics", None) is None:
            raise ValueError("This lab has no metrics: attach them first "
                             "(lambdalab_ext.observe.service.attach(lab)).")
        if isinstance(period_s, bool) or not isinstance(period_s, int) or period_s < 1 or (
                period_s % 60 and period_s not in (1, 5, 10, 30)):
            # CloudWatch's own rule for a period: a multiple of 60, or a high-resolution 1, 5, 10 or 30.
            raise ValueError(f"period_s {period_s!r}: the parameter Period must be a multiple of 60 "
                             "(or 1, 5, 10 or 30 seconds).")
        if isinstance(functions, str):
            functions = [functions]
        self.lab = lab
        self.functions = list(functions) if functions else None
        self.period_s = period_s
        self._metrics = observability.metrics
        self._epoch = observability.time.epoch
        self._start = start
        self._lock = threading.Lock()       # one redraw at a time: the timer thread and the cell's
        self.figure = None
        self.refreshes = 0
        self.errors = []                    # what went wrong redrawing on the timer thread
        self.minutes_shown = 0              # 0: the whole window; else only the last so many minutes
        self._widgets = None

    # -- the numbers ------------------------------------------------------------------------------
    def window(self):
        """``(start, end)`` in epoch seconds of the lab clock, aligned to the period."""
        period = self.period_s
        start = self._start
        if start is None:
            firsts = [t for name in (self.functions or [None]) for m in ("Invocations", "Throttles")
                      for t, _ in self._metrics.samples(m, name)[:1]]
            start = min(firsts) if firsts else self._epoch()
        start = math.floor(start / period) * period
        end = max(start + period, math.floor(self._epoch() / period) * period + period)
        if self.minutes_shown:
            start = max(start, end - math.ceil(self.minutes_shown * 60 / period) * period)
        return start, end

    def series(self):
        """``{function or "all functions": {series: [(minutes since start, value)]}}`` for every
        series of :data:`PANELS`, periods without data left out, as ``GetMetricStatistics`` leaves
        them out."""
        start, end = self.window()
        out = {}
        for name in self.functions or [None]:
            dims = [{"Name": "FunctionName", "Value": name}] if name else []
            lines = {}

            def read(metric, statistic=None, extended=()):
                return self._metrics.statistics(LAMBDA_NAMESPACE, metric, dims, start, end, self.period_s,
                                                [statistic] if statistic else [], list(extended))

            for metric in COUNTS:
                lines[metric] = [((slot - start) / 60, v["Sum"]) for slot, v in read(metric, "Sum") if v]
            by_p = {p: [] for p in PERCENTILES}
            for slot, v in read("Duration", extended=PERCENTILES):
                for p in PERCENTILES:
                    value = (v or {}).get("ExtendedStatistics", {}).get(p)
                    if value is not None:
                        by_p[p].append(((slot - start) / 60, value))
            lines.update(by_p)
            lines["ConcurrentExecutions"] = [((slot - start) / 60, v["Maximum"])
                                             for slot, v in read("ConcurrentExecutions", "Maximum") if v]
            out[name or ALL_FUNCTIONS] = lines
        return out

    def totals(self, series=None):
        """``{function: {"Invocations", "Errors", "Throttles": sums, "ConcurrentExecutions": peak,
        "p99": the highest period p99}}`` over the window."""
        series = self.series() if series is None else series
        out = {}
        for name, lines in series.items():
            row = {m: sum(v for _, v in lines[m]) for m in COUNTS}
            row["ConcurrentExecutions"] = max((v for _, v in lines["ConcurrentExecutions"]), default=0.0)
            row["p99"] = max((v for _, v in lines["p99"]), default=None)
            out[name] = row
        return out

    # -- the pictures -----------------------------------------------------------------------------
    def static_plot(self, ax=None):
        """The three panels on a matplotlib figure: ``ax`` None draws a new ``Figure`` (no pyplot,
        so nothing is displayed twice), or give three Axes to draw on. Returns the ``Figure``."""
        return self._draw(self.series(), ax)

    def _draw(self, series, ax=None):
        if ax is None:
            from matplotlib.figure import Figure
            fig = Figure(figsize=(11, 3.2), layout="constrained")
            axes = fig.subplots(1, len(PANELS))
        else:
            axes = list(ax) if not hasattr(ax, "plot") else [ax]
            if len(axes) != len(PANELS):
                raise ValueError(f"static_plot draws {len(PANELS)} panels: give {len(PANELS)} Axes "
                                 "(or none, for a new figure).")
            fig = axes[0].figure
        start, end = self.window()
        moment = datetime.datetime.fromtimestamp(start, datetime.timezone.utc)
        width = (end - start) / 60
        several = len(series) > 1
        for axes_, (title, names, unit) in zip(axes, PANELS):
            for function, lines in series.items():
                for name in names:
                    points = lines[name]
                    label = f"{function}: {name}" if several else name
                    axes_.plot([x for x, _ in points], [y for _, y in points], marker="o", label=label)
            axes_.set_title(title)
            axes_.set_xlabel(f"minutes since {moment:%Y-%m-%d %H:%M} UTC (lab clock)")
            axes_.set_ylabel(unit)
            axes_.set_xlim(-0.1 * max(width, 1), width)
            axes_.set_ylim(bottom=0)
            axes_.legend(loc="upper left", fontsize="small")
        return fig

    # -- the widget -------------------------------------------------------------------------------
    def _build(self):
        import ipywidgets as w
        choices = [ALL_FUNCTIONS] if self.functions is None else list(self.functions)
        self.summary = w.HTML()
        self.output = w.Output(layout=w.Layout(min_height="260px"))
        self.button = w.Button(description="Refresh", tooltip="read the metrics again")
        self.button.on_click(lambda _: self.refresh())
        # Released, not dragged: each change reads the metrics and draws a new figure.
        self.shown = w.IntSlider(value=self.minutes_shown, min=0, max=120, description="last minutes (0: all)",
                                 continuous_update=False, style={"description_width": "150px"},
                                 layout=w.Layout(width="420px"))
        self.shown.observe(self._on_shown, "value")
        title = w.HTML(f"<b>Lambda metrics</b> of {html.escape(', '.join(choices))}, per "
                       f"{self.period_s} s of the lab clock (namespace {LAMBDA_NAMESPACE}).")
        self._widgets = w.VBox([title, w.HBox([self.button, self.shown]), self.summary, self.output])
        return self._widgets

    def _on_shown(self, change):
        self.minutes_shown = change["new"]
        self.refresh()

    @property
    def widget(self):
        return self._widgets if self._widgets is not None else self._build()

    def refresh(self):
        """Read the metrics again and redraw the summary and the figure; returns :meth:`series`."""
        if self._widgets is None:
            self._build()
        with self._lock:
            series = self.series()
            fig = self._draw(series)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=72)
            png = base64.b64encode(buffer.getvalue()).decode()
            self.figure = fig
            # Set as the Output's outputs, not printed into it: a timer thread can do that safely.
            self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                    "data": {"image/png": png, "text/plain": "<Lambda metrics figure>"}},)
            self.summary.value = _summary_table(self.totals(series))
            self.refreshes += 1
        return series

    def run_while(self, load, interval_s=REFRESH_INTERVAL_S):
        """Run ``load()`` here, refreshing every ``interval_s`` seconds on a background thread until
        it returns (or raises); then stop the thread, refresh once more, and return what ``load``
        returned (its exception, if any, propagates)."""
        if not callable(load):
            raise TypeError("run_while needs a callable: the load to run, such as lambda: burst(50).")
        done = threading.Event()
        failures = []

        def tick():
            while not done.wait(interval_s):
                try:
                    self.refresh()
                except Exception as exc:      # a redraw failing must not stop the load
                    failures.append(exc)

        ticker = threading.Thread(target=tick, name="lambdalab-dashboard", daemon=True)
        self.refresh()
        ticker.start()
        try:
            return load()
        finally:
            done.set()
            ticker.join()
            self.refresh()
            self.errors = failures

    def _repr_mimebundle_(self, **kwargs):
        widget = self.widget
        if self.refreshes == 0:
            self.refresh()
        bundle = widget._repr_mimebundle_(**kwargs)
        totals = self.totals()
        bundle["text/plain"] = "Lambda metrics dashboard: " + "; ".join(
            f"{name}: {row['Invocations']:g} invocations, {row['Errors']:g} errors, {row['Throttles']:g} throttles"
            for name, row in totals.items())
        return bundle

    def __repr__(self):
        return f"<Dashboard of {self.functions or ALL_FUNCTIONS} per {self.period_s} s>"


def _summary_table(totals):
    head = "".join(f"<th>{h}</th>" for h in ("function", "Invocations", "Errors", "Throttles",
                                            "peak ConcurrentExecutions", "worst p99"))
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{row['Invocations']:g}</td><td>{row['Errors']:g}</td>"
        f"<td>{row['Throttles']:g}</td><td>{row['ConcurrentExecutions']:g}</td>"
        f"<td>{'-' if row['p99'] is None else format(row['p99'], '.1f') + ' ms'}</td></tr>"
        for name, row in totals.items())
    return f"<table class='lambdalab-dashboard'><tr>{head}</tr>{rows}</table>"

"""The scaling explorer: move the controls, watch the simulated Lambda service scale.

Controls for the traffic (arrival rate, mean duration, how long), the service's rules
(keep-alive, account concurrency, the 2023 or the legacy scale-out model) and the function's
concurrency settings (reserved, provisioned). Releasing a control runs the simulator
(:mod:`lambdalab_ext.sim`) again, seeded, and redraws the plots and the summary.

The work is split so it can be tested without a browser:

- :func:`simulate_scaling` is the model: plain arguments in, a ``SimulationResult`` out (or a
  ``ValueError`` saying why Lambda would refuse the configuration, or an :class:`ExplorerLimit`
  when the workload is beyond what this explorer simulates interactively). No widgets.
- :class:`ScalingExplorer` holds the controls; its :meth:`~ScalingExplorer.update` runs the model
  and refreshes ``summary`` (an HTML widget), ``result`` and the figures ``figure`` and
  ``latency_figure`` (matplotlib ``Figure`` objects whose Axes hold the plotted data; None while
  the settings are refused, so no stale plot sits under the reason). Setting a control's
  ``.value`` calls it, as releasing the control in the notebook does.

ipywidgets is imported only when an explorer is built. In a notebook::

    from lambdalab_ext.widgets.scaling import ScalingExplorer
    explorer = ScalingExplorer(config)     # config: e.g. lambdalab_ext.sim.calibrate(results)
    explorer                               # shows the controls, the plots and the summary
    explorer.controls["arrival_rate"].value = 2000     # what releasing the slider does
    explorer.result.summary.throttles
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import replace

from ..limits import ACCOUNT_CONCURRENCY_DEFAULT, KEEP_ALIVE_DEFAULT_S
from ..sim import (SCALING_2023, Empirical, Exponential, Fixed, FunctionConfig, LogNormal, Poisson,
                   ServiceRules, Uniform, legacy_burst, plot_latency, plot_timeseries, simulate)
from ..sim.distributions import Distribution

__all__ = ["ExplorerLimit", "ScalingExplorer", "scaling_explorer", "simulate_scaling", "with_mean", "SCALE_OUT_MODELS",
           "MAX_REQUESTS"]

# The explorer refuses workloads above this many expected requests: about two seconds of
# simulation on a laptop, so a control still feels interactive. simulate() itself has no limit.
MAX_REQUESTS = 2_000_000

SCALE_OUT_MODELS = {
    "2023": "since Nov 2023: each function adds up to 1,000 environments every 10 s",
    "legacy": "before Nov 2023 (us-east-1): a burst of 3,000, then +500 environments a minute",
}

# Both scale-out models let a function start this many environments at once (2023: 1,000 every
# 10 s; legacy us-east-1: a burst of 3,000). Under a concurrency limit this low they look the same.
SCALE_OUT_AT_ONCE = min(SCALING_2023.capacity, legacy_burst("us-east-1").capacity)


class ExplorerLimit(ValueError):
    """The workload is beyond what the explorer simulates interactively: its own limit, not Lambda's."""


HORIZONS = (("1 minute", 60.0), ("10 minutes", 600.0), ("1 hour", 3600.0), ("6 hours", 21600.0),
            ("1 day", 86400.0))

# A function like many: a ~100 ms handler and a bare Python INIT of 250 ms (AWS Compute Blog,
# "Operating Lambda: Performance optimization - Part 1": cold starts from under 100 ms to over 1 s).
DEFAULT_FUNCTION = FunctionConfig(warm_duration=LogNormal.from_median(0.1, 0.5), init_duration=0.25,
                                  memory_mb=256)

_PLOT_BINS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def _plot_bin_seconds(horizon_s: float) -> float:
    """A bin width giving at most ~600 points per curve: enough to see, quick to draw."""
    for b in _PLOT_BINS:
        if horizon_s / b <= 600:
            return float(b)
    return math.ceil(horizon_s / 600)


def with_mean(dist: Distribution, mean_s: float) -> Distribution:
    """``dist`` stretched (or shrunk) to have mean ``mean_s``, keeping its shape.

    A calibrated :class:`Empirical` keeps its measured spread: every sample is scaled by the
    same factor.

    >>> with_mean(Empirical([0.1, 0.3]), 0.4).samples.tolist()
    [0.2, 0.6]
    """
    if not mean_s > 0:
        raise ValueError(f"a mean duration must be > 0 s, not {mean_s!r}")
    old = dist.mean
    if old > 0 and abs(mean_s / old - 1) < 1e-9:
        return dist
    if isinstance(dist, Exponential):
        return Exponential(mean_s)
    if old <= 0 or isinstance(dist, Fixed):
        return Fixed(mean_s)
    k = mean_s / old
    if isinstance(dist, Empirical):
        return Empirical(dist.samples * k)
    if isinstance(dist, LogNormal):
        return LogNormal(dist.mu + math.log(k), dist.sigma)
    if isinstance(dist, Uniform):
        return Uniform(dist.low * k, dist.high * k)
    return Fixed(mean_s)


def simulate_scaling(function: FunctionConfig | None = None, *, arrival_rate: float, duration_ms: float,
                     horizon_s: float = 600.0, keep_alive_s: float = KEEP_ALIVE_DEFAULT_S,
                     account_concurrency: int = ACCOUNT_CONCURRENCY_DEFAULT,
                     reserved_concurrency: int | None = None, provisioned_concurrency: int = 0,
                     scale_out: str = "2023", seed=0):
    """One run of the scaling explorer's model: Poisson traffic on ``function``, with these settings.

    ``function`` gives the shape of the durations, the INIT, memory and architecture (default: a
    ~100 ms handler with a 250 ms INIT, 256 MB); its warm duration is stretched to a mean of
    ``duration_ms``. ``scale_out`` is ``"2023"`` (:data:`~lambdalab_ext.sim.SCALING_2023`) or
    ``"legacy"`` (:func:`~lambdalab_ext.sim.legacy_burst` of us-east-1). Raises ``ValueError``
    with Lambda's reason when it would refuse the configuration (e.g. more provisioned than
    reserved concurrency), and :class:`ExplorerLimit` (a ``ValueError`` too) when the workload
    exceeds :data:`MAX_REQUESTS`, this explorer's own limit.

    >>> r = simulate_scaling(arrival_rate=50, duration_ms=100, horizon_s=60, seed=1)
    >>> r.summary.throttles, r.summary.cold_starts > 0
    (0, True)
    """
    base = DEFAULT_FUNCTION if function is None else function
    if scale_out not in SCALE_OUT_MODELS:
        raise ValueError(f"scale_out={scale_out!r}: use one of {sorted(SCALE_OUT_MODELS)}")
    expected = arrival_rate * horizon_s
    if expected > MAX_REQUESTS:
        raise ExplorerLimit(f"{arrival_rate:,.4g} requests/s for {horizon_s:,.0f} s is about {expected:,.0f} "
                            f"requests; this explorer stops at {MAX_REQUESTS:,} to stay interactive (its own "
                            "limit, not Lambda's). Lower the rate or the horizon, or call "
                            "lambdalab_ext.sim.simulate, which has no such limit.")
    fn = replace(base, warm_duration=with_mean(base.warm_duration, duration_ms / 1000),
                 reserved_concurrency=reserved_concurrency, provisioned_concurrency=provisioned_concurrency)
    rules = ServiceRules(account_concurrency=account_concurrency, keep_alive=keep_alive_s,
                         scale_out=SCALING_2023 if scale_out == "2023" else legacy_burst("us-east-1"))
    return simulate(Poisson(arrival_rate), fn, rules, horizon=horizon_s, seed=seed,
                    bin_seconds=_plot_bin_seconds(horizon_s))


def _summary_rows(result):
    s = result.summary
    cost = result.cost()
    ms = lambda x: "n/a" if math.isnan(x) else f"{x * 1000:,.1f} ms"  # noqa: E731
    pct = lambda x: "n/a" if math.isnan(x) else f"{x:.3%}"  # noqa: E731
    return [
        ("requests", f"{s.invocations:,}"),
        ("cold starts", f"{s.cold_starts:,} ({pct(s.cold_start_ratio)} of served)"),
        ("on provisioned concurrency", f"{s.provisioned_starts:,}"),
        ("throttled (429)", f"{s.throttles:,} ({pct(s.throttle_ratio)})"),
        ("environments: mean / max", f"{s.mean_instances:,.1f} / {s.max_instances:,}"),
        ("  of which busy (mean)", f"{s.mean_busy_instances:,.1f}"),
        ("environments created / reclaimed", f"{s.environments_created:,} / {s.environments_expired:,}"),
        ("latency p50 / p99", f"{ms(s.latency_p50_s)} / {ms(s.latency_p99_s)}"),
        ("cost of this traffic", f"${cost.total:.6f} ({cost.architecture}, {s.memory_mb:,} MB, first tier)"),
    ]


def _scale_out_note(result, account_concurrency, reserved_concurrency):
    """When a concurrency limit throttles this run before either scale-out model could, switching
    the model changes little: say so, and what to change to see the difference."""
    limit = account_concurrency if reserved_concurrency is None else min(account_concurrency, reserved_concurrency)
    if limit > SCALE_OUT_AT_ONCE or not result.summary.throttles:
        return ""
    which = "reserved" if reserved_concurrency is not None and reserved_concurrency <= account_concurrency \
        else "account"
    return (f"The {which} concurrency ({limit:,}) throttles before the scale-out rate can: both models start "
            f"{SCALE_OUT_AT_ONCE:,.0f} environments at once, so switching them changes little here. To compare "
            f"them, raise the account concurrency above {SCALE_OUT_AT_ONCE:,.0f} (e.g. 5,000, a quota increase) "
            "and send more concurrent requests than that (requests/s x duration).")


def _png(figure, dpi=80):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _table(rows, caption):
    body = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                   f"<td style='text-align:right'>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table class='lambdalab-scaling'><caption>{html.escape(caption)}</caption>{body}</table>"


class ScalingExplorer:
    """Controls, plots and a summary over :func:`simulate_scaling`.

    ``function``: the function to scale (e.g. ``lambdalab_ext.sim.calibrate(results)``; default a
    ~100 ms handler). ``horizon_s``, ``seed``: the first horizon and the seed of every run.

    Attributes: ``controls`` (a dict of the ipywidgets, keyed by :meth:`update`'s parameters),
    ``summary`` (an ``HTML`` widget), ``result`` (the last ``SimulationResult``, or None when the
    settings were refused, with the reason in ``error``), ``figure`` and ``latency_figure`` (the
    plots of ``result``, None with it), ``widget`` (the whole layout; displaying the explorer
    displays it, with a readable picture for where widgets cannot be drawn).

    >>> explorer = ScalingExplorer(horizon_s=60)                       # doctest: +SKIP
    >>> explorer.controls["arrival_rate"].value = 100  # runs update()   # doctest: +SKIP
    >>> explorer.result.summary.invocations                            # doctest: +SKIP
    6162
    """

    def __init__(self, function: FunctionConfig | None = None, *, horizon_s: float = 600.0, seed=0):
        import ipywidgets as w

        self.function = DEFAULT_FUNCTION if function is None else function
        self.seed = seed
        self.result = None
        self.error = None
        self.figure = None
        self.latency_figure = None
        mean_ms = self.function.warm_duration.mean * 1000
        horizons = list(HORIZONS)
        if horizon_s not in [h for _, h in horizons]:
            horizons.append((f"{horizon_s:g} s", float(horizon_s)))
        wide = {"layout": w.Layout(width="420px"), "style": {"description_width": "170px"}}
        self.controls = {
            "arrival_rate": w.FloatLogSlider(
                value=10.0, base=10, min=-3, max=4, step=0.1, readout_format=",.3g",
                description="arrivals (requests/s)", continuous_update=False, **wide),
            "duration_ms": w.FloatLogSlider(
                value=mean_ms, base=10, min=0, max=5, step=0.05, readout_format=",.4g",
                description="mean duration (ms)", continuous_update=False, **wide),
            "horizon_s": w.Dropdown(options=horizons, value=float(horizon_s), description="simulate for",
                                    **wide),
            "keep_alive_s": w.IntSlider(
                value=int(KEEP_ALIVE_DEFAULT_S), min=0, max=3600, step=30, description="keep-alive (s)",
                continuous_update=False, **wide),
            "account_concurrency": w.IntSlider(
                value=ACCOUNT_CONCURRENCY_DEFAULT, min=100, max=20000, step=100, description="account concurrency",
                continuous_update=False, **wide),
            "reserve": w.Checkbox(value=False, description="reserve concurrency", indent=False),
            "reserved_concurrency": w.BoundedIntText(
                value=100, min=0, max=19900, description="reserved concurrency", continuous_update=False,
                **wide),
            "provisioned_concurrency": w.BoundedIntText(
                value=0, min=0, max=20000, description="provisioned concurrency", continuous_update=False,
                **wide),
            "scale_out": w.ToggleButtons(
                options=[("2023 scaling", "2023"), ("legacy burst", "legacy")], value="2023",
                tooltips=[SCALE_OUT_MODELS["2023"], SCALE_OUT_MODELS["legacy"]],
                description="scale-out", style={"description_width": "170px"}),
        }
        reserved = self.controls["reserved_concurrency"]
        reserved.disabled = True
        # The number only counts once "reserve concurrency" is ticked; greying it out says so.
        self.controls["reserve"].observe(lambda change: setattr(reserved, "disabled", not change["new"]), "value")
        self.summary = w.HTML()
        # interactive_output calls _show, inside its own Output, with every control's value, now
        # and whenever a control is released: the plots land in that Output and nowhere else.
        self.plots = w.interactive_output(self._show, self.controls)
        c = self.controls
        title = w.HTML("<b>Scaling explorer</b>: Poisson traffic on a simulated Lambda service. "
                       "Release a control to run the simulation again.")
        left = w.VBox([c["arrival_rate"], c["duration_ms"], c["horizon_s"], c["keep_alive_s"]])
        right = w.VBox([c["account_concurrency"], w.HBox([c["reserve"]]), c["reserved_concurrency"],
                        c["provisioned_concurrency"], c["scale_out"]])
        # Summary under the controls, then the plots: side by side they would not fit a notebook's width.
        self.widget = w.VBox([title, w.HBox([left, right]), self.summary, self.plots])

    def update(self, arrival_rate, duration_ms, horizon_s, keep_alive_s, account_concurrency, reserve,
               reserved_concurrency, provisioned_concurrency, scale_out):
        """Run the simulation for these settings; refresh ``result``, ``summary`` and the figures.

        Returns the ``SimulationResult``, or None when the settings were refused: the reason is in
        ``error`` and in the summary, and the figures are cleared (plots of other settings under
        the reason would be read as this run's).
        """
        try:
            result = simulate_scaling(
                self.function, arrival_rate=arrival_rate, duration_ms=duration_ms, horizon_s=horizon_s,
                keep_alive_s=keep_alive_s, account_concurrency=account_concurrency,
                reserved_concurrency=reserved_concurrency if reserve else None,
                provisioned_concurrency=provisioned_concurrency, scale_out=scale_out, seed=self.seed)
        except ValueError as exc:
            self.result, self.error, self.figure, self.latency_figure = None, str(exc), None, None
            # Whose rule refused it: the explorer's own size limit, or Lambda's configuration rules.
            who = ("Too much to simulate here" if isinstance(exc, ExplorerLimit)
                   else "Lambda would refuse this configuration")
            self.summary.value = (f"<div class='lambdalab-scaling-error'><b>{who}:</b> "
                                  f"{html.escape(self.error)}</div>")
            return None
        self.result, self.error = result, None
        self.figure = plot_timeseries(result)
        self.latency_figure = plot_latency(result)
        model = SCALE_OUT_MODELS[scale_out]
        note = _scale_out_note(result, account_concurrency, reserved_concurrency if reserve else None)
        self.summary.value = (_table(_summary_rows(result), f"Simulated (seed {self.seed}); scale-out {model}")
                              + (f"<p class='lambdalab-scaling-note'>{html.escape(note)}</p>" if note else ""))
        return result

    def _show(self, **values):
        from IPython.display import Image, clear_output, display

        if self.update(**values) is None:
            # interactive_output clears with wait=True: the old plots would stay until something new
            # is shown. Refused settings show nothing, so clear now: no stale plot under the reason.
            clear_output()
            return
        for fig in (self.figure, self.latency_figure):
            display(Image(data=_png(fig), format="png"))

    def static_bundle(self):
        """``text/plain`` and ``text/html`` for where the live widget cannot be drawn (a notebook
        opened before it is run or trusted, a static viewer): what it is, and its first run."""
        v = {name: control.value for name, control in self.controls.items()}
        text = ("Lambda scaling explorer (interactive: run this cell to use its controls). It starts at "
                f"{v['arrival_rate']:,.3g} requests/s of {v['duration_ms']:,.4g} ms for {v['horizon_s']:,g} s")
        if self.result is None:
            return {"text/plain": f"{text}: refused: {self.error}"}
        s = self.result.summary
        text += (f": {s.invocations:,} requests, {s.cold_starts:,} cold starts, {s.throttles:,} throttled, "
                 f"at most {s.max_instances:,} environments.")
        images = "".join(f"<img alt='{alt}' src='data:image/png;base64,{base64.b64encode(_png(fig, 60)).decode()}'/>"
                         for alt, fig in (("environments, cold starts and throttles", self.figure),
                                          ("latency", self.latency_figure)))
        page = ("<div class='lambdalab-scaling-static'><p><b>Lambda scaling explorer</b>: a picture of its "
                f"first run. Run this cell to use its controls.</p>{self.summary.value}{images}</div>")
        return {"text/plain": text, "text/html": page}

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle.update(self.static_bundle())
        return bundle

    def __repr__(self):
        return f"<ScalingExplorer of {self.function!r}>"


def scaling_explorer(function: FunctionConfig | None = None, *, horizon_s: float = 600.0,
                     seed=0) -> ScalingExplorer:
    """Build a :class:`ScalingExplorer` (display it, or leave it as a cell's last expression).

    >>> scaling_explorer(lambdalab_ext.sim.calibrate(results))   # doctest: +SKIP
    """
    return ScalingExplorer(function, horizon_s=horizon_s, seed=seed)

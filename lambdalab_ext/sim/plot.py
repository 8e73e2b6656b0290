"""Matplotlib helpers. Each returns the ``Figure`` and never shows it (no pyplot state is touched
when no ``ax`` is given), so a notebook decides where the figure goes."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["plot_timeseries", "plot_latency"]

# Legends go beside the plots, outside the Axes: inside, they cover whatever trace runs there.
_LEGEND_BESIDE = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0, "fontsize": "small"}


def _new_figure(nrows=1, figsize=(9, 5), sharex=True):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, 1, sharex=sharex, squeeze=False)[:, 0]
    return fig, axes


def _time_axis(ts):
    t = ts.t
    if t.size and t[-1] + ts.width[-1] > 2 * 3600:
        return t / 3600.0, "time (h)"
    if t.size and t[-1] + ts.width[-1] > 600:
        return t / 60.0, "time (min)"
    return t, "time (s)"


def plot_timeseries(result, ax=None):
    """Concurrency and instances over time, with cold starts and throttles per bin.

    Without ``ax``: a new two-panel figure (top: mean instances and mean concurrency per bin;
    bottom: cold starts and throttles per bin), each legend beside its panel. With ``ax``:
    everything on that one Axes, the counts on a twin y-axis. Returns the Figure.
    """
    ts = result.timeseries
    x, xlabel = _time_axis(ts)
    unit = "s" if ts.bin_seconds == 1 else f"{ts.bin_seconds:g} s"
    if ax is None:
        fig, (top, bottom) = _new_figure(2)
    else:
        fig, top, bottom = ax.figure, ax, ax.twinx()
    top.step(x, ts.instances, where="post", label="instances (busy + idle)", color="tab:blue")
    top.step(x, ts.concurrency, where="post", label="concurrency (busy)", color="tab:orange")
    top.set_ylabel("environments (bin mean)")
    top.set_title("Simulated Lambda: environments, cold starts and throttles")
    bottom.step(x, ts.cold_starts, where="post", label=f"cold starts per {unit}", color="tab:green")
    bottom.step(x, ts.throttles, where="post", label=f"throttles per {unit}", color="tab:red")
    bottom.set_ylabel(f"count per {unit}")
    bottom.set_xlabel(xlabel)
    # Counts of whole requests: no 0.5 or 1.5 on their axis.
    from matplotlib.ticker import MaxNLocator
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    if ax is None:
        top.legend(**_LEGEND_BESIDE)
        bottom.legend(**_LEGEND_BESIDE)
    else:
        top.set_xlabel(xlabel)
        handles = top.get_legend_handles_labels()[0] + bottom.get_legend_handles_labels()[0]
        # Beside the twin axes' right-hand labels.
        top.legend(handles, [h.get_label() for h in handles], **{**_LEGEND_BESIDE, "bbox_to_anchor": (1.12, 1.0)})
    return fig


def _duration_label(seconds, _pos=None):
    """A tick label in the unit a person reads it in: 50 ms, 250 ms, 1.5 s, 2 min."""
    if seconds <= 0:
        return ""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 120:
        return f"{seconds:.3g} s"
    return f"{seconds / 60:.3g} min"


def _duration_axis(ax, low, high):
    """A log x-axis from ``low`` to ``high`` seconds with a few labelled ticks that never crowd:
    1-2-5 steps over a decade or two, 1-3 over a few, whole decades beyond, and no minor labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    low, high = max(low, 1e-6), max(high, low * 1.5)
    # A little room either side so the outer bars do not touch the frame.
    ax.set_xscale("log")
    ax.set_xlim(low / 1.15, high * 1.15)
    decades = math.log10(high * 1.15) - math.log10(low / 1.15)
    subs = (1.0, 2.0, 5.0) if decades <= 2 else (1.0, 3.0) if decades <= 4 else (1.0,)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(_duration_label))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _bars(ax, hist, color, lo, hi, label):
    """``hist``'s populated bins from ``lo`` to ``hi`` regrouped into at most ~60 bars on ``ax``."""
    step = max(1, (hi - lo) // 60)
    idx = np.arange(lo, hi, step)
    counts = np.add.reduceat(hist.counts[lo:hi], idx - lo)
    left = hist.LOW * 10 ** (idx / hist.PER_DECADE)
    right = hist.LOW * 10 ** (np.minimum(idx + step, hi) / hist.PER_DECADE)
    ax.bar(left, counts, width=right - left, align="edge", alpha=0.75, color=color, label=label)


def plot_latency(result, ax=None):
    """The latency distribution on a log duration axis, warm and cold attempts apart.

    Without ``ax``: two panels sharing the duration axis, warm on top and cold (INIT included)
    below, each with its own count scale, so a handful of cold starts stay visible next to
    thousands of warm invocations. With ``ax``: both on that Axes, on a log count scale for the
    same reason. Returns the Figure.
    """
    kinds = [(result.warm_latency, "warm", "tab:blue"), (result.cold_latency, "cold (INIT included)", "tab:red")]
    populated = [np.nonzero(h.counts)[0] for h, _, _ in kinds]
    spans = [(nz[0], nz[-1] + 1) for nz in populated if nz.size]
    if ax is None:
        fig, axes = _new_figure(2, figsize=(8, 4.6))
    else:
        fig, axes = ax.figure, [ax, ax]
    if spans:
        # One grid of bars for both, so a bar is as wide in either panel.
        lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
        for panel, (hist, label, color), nz in zip(axes, kinds, populated):
            if nz.size:
                _bars(panel, hist, color, lo, hi, f"{label}: {hist.n:,}")
        hist = result.warm_latency
        for panel in axes:
            _duration_axis(panel, hist.LOW * 10 ** (lo / hist.PER_DECADE), hist.LOW * 10 ** (hi / hist.PER_DECADE))
    axes[-1].set_xlabel("latency (log scale)")
    if ax is None:
        axes[0].set_title("Simulated latency (INIT included on cold starts)")
        for panel, (hist, label, _), nz in zip(axes, kinds, populated):
            panel.set_ylabel("attempts")
            if not nz.size:
                panel.text(0.5, 0.5, f"no {label.split(' ')[0]} attempts", transform=panel.transAxes, ha="center",
                           va="center", color="tab:gray")
                panel.set_yticks([])
            else:
                panel.legend(**_LEGEND_BESIDE)
                # Whole attempts only: a count axis of 0.5, 1.5... reads as nonsense.
                panel.yaxis.get_major_locator().set_params(integer=True)
        # Shared x: only the bottom panel needs its labels.
        axes[0].tick_params(labelbottom=False)
    else:
        ax.set_yscale("log")
        ax.set_ylabel("attempts (log scale)")
        ax.set_title("Simulated latency (INIT included on cold starts)")
        if spans:
            ax.legend(**_LEGEND_BESIDE)
    return fig

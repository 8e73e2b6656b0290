"""Matplotlib helpers. Each returns the ``Figure`` and never shows it (no pyplot state is touched
when no ``ax`` is given), so a notebook decides where the figure goes."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_timeseries", "plot_latency"]


def _new_figure(nrows=1, figsize=(9, 5)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, 1, sharex=True, squeeze=False)[:, 0]
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
    bottom: cold starts and throttles per bin). With ``ax``: everything on that one Axes, the
    counts on a twin y-axis. Returns the Figure.
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
    if ax is None:
        top.legend(loc="upper right")
        bottom.legend(loc="upper right")
    else:
        top.set_xlabel(xlabel)
        handles = top.get_legend_handles_labels()[0] + bottom.get_legend_handles_labels()[0]
        top.legend(handles, [h.get_label() for h in handles], loc="upper right")
    return fig


def plot_latency(result, ax=None):
    """The latency distribution (warm and cold attempts) as a log-x histogram. Returns the Figure."""
    if ax is None:
        fig, (ax,) = _new_figure(1, figsize=(8, 4))
    else:
        fig = ax.figure
    for hist, label, color in ((result.warm_latency, "warm", "tab:blue"), (result.cold_latency, "cold", "tab:red")):
        if hist.n == 0:
            continue
        nz = np.nonzero(hist.counts)[0]
        lo, hi = nz[0], nz[-1] + 1
        # regroup into ~50 bars over the populated range
        step = max(1, (hi - lo) // 50)
        idx = np.arange(lo, hi, step)
        counts = np.add.reduceat(hist.counts[lo:hi], idx - lo)
        left = hist.LOW * 10 ** (idx / hist.PER_DECADE)
        right = hist.LOW * 10 ** (np.minimum(idx + step, hi) / hist.PER_DECADE)
        ax.bar(left, counts, width=right - left, align="edge", alpha=0.6, label=f"{label} ({hist.n:,})", color=color)
    ax.set_xscale("log")
    ax.set_xlabel("duration (s)")
    ax.set_ylabel("attempts")
    ax.set_title("Simulated latency (INIT included on cold starts)")
    ax.legend()
    return fig

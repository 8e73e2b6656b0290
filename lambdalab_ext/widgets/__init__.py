"""Interactive widgets for the guided notebooks (ipywidgets, imported only when a widget is built).

* ``cost.cost_calculator()``: a month's Lambda bill, live, from requests, a duration measured at
  a stated memory (scaled with CPU for a CPU-bound handler), memory, architecture, free tier and
  provisioned concurrency (refused beyond what its units can serve).
* ``scaling.scaling_explorer()``: the simulated Lambda service under a workload you set: cold
  starts, environments, throttles, latency; plots update when a control is released.

Both display with a readable picture of their first state (``text/plain`` and ``text/html``)
besides the live widget, for a notebook opened before it is run or trusted.
"""

from .cost import cost_calculator
from .scaling import scaling_explorer

__all__ = ["cost_calculator", "scaling_explorer"]

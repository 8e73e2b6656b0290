"""Interactive widgets for the guided notebooks (ipywidgets, imported only when a widget is built).

* ``cost.cost_calculator()``: a month's Lambda bill, live, from requests, duration, memory,
  architecture, free tier and provisioned concurrency.
* ``scaling.scaling_explorer()``: the simulated Lambda service under a workload you set: cold
  starts, environments, throttles, latency; plots update when a control is released.
"""

from .cost import cost_calculator
from .scaling import scaling_explorer

__all__ = ["cost_calculator", "scaling_explorer"]

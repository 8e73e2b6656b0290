"""Interactive widgets for the guided notebooks (ipywidgets, imported only when a widget is built).

* ``cost.cost_calculator()``: a month's Lambda bill, live, from requests, duration, memory,
  architecture, free tier and provisioned concurrency.
"""

from .cost import cost_calculator

__all__ = ["cost_calculator"]

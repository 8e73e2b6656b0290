"""Step Functions in the lab: Amazon States Language workflows run by the lab's own interpreter.

- :mod:`.definition`: load and validate a definition (``ValidateStateMachineDefinition`` diagnostics)
- :mod:`.interpreter`: executions on the lab clock (``Interpreter``, ``Execution``)
- :mod:`.integrations`: Task resources, the task runner protocol, service integration result shapes
- :mod:`.paths`, :mod:`.intrinsics`, :mod:`.jsonata_lang`: data flow in the two query languages
- :mod:`.history`: execution history events as ``GetExecutionHistory`` returns them
- :mod:`.errors`: error names (``States.ALL``, ``States.Timeout``...) and the API's exceptions

>>> from lambdalab_ext.clock import VirtualClock
>>> sfn = Interpreter(VirtualClock(), CallableTaskRunner())
>>> sfn.start_execution({"StartAt": "Hi", "States": {"Hi": {"Type": "Pass", "Result": "hello", "End": True}}}).output
'hello'
"""

from .definition import Diagnostic, load, validate, validate_state_machine_definition
from .errors import StatesError
from .history import ExecutionHistory
from .integrations import CallableTaskRunner, FunctionError, Resource, TaskRequest, TaskRunner, parse_resource
from .interpreter import EXPRESS, STANDARD, Execution, Interpreter

__all__ = [
    "CallableTaskRunner", "Diagnostic", "EXPRESS", "Execution", "ExecutionHistory", "FunctionError",
    "Interpreter", "Resource", "STANDARD", "StatesError", "TaskRequest", "TaskRunner", "load",
    "parse_resource", "validate", "validate_state_machine_definition",
]

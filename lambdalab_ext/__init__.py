"""lambdalab: learn AWS Lambda by doing it, on your own machine.

>>> from lambdalab_ext import Lab                                       # doctest: +SKIP
>>> lab = Lab()
>>> fn = lab.deploy("hello", "def handler(event, context):\\n    return 'hi ' + event['name']\\n")
>>> fn.invoke({"name": "Ada"}).payload
'hi Ada'
"""

from .clock import RealClock, VirtualClock
from .errors import (InvalidParameterValueException, InvalidRequestContentException, LambdaServiceError,
                     RequestEntityTooLargeException, ResourceNotFoundException, TooManyRequestsException)
from .function import FunctionConfiguration
from .lab import Function, Lab
from .result import InvocationResult

__all__ = [
    "Lab", "Function", "FunctionConfiguration", "InvocationResult", "RealClock", "VirtualClock",
    "LambdaServiceError", "InvalidParameterValueException", "InvalidRequestContentException",
    "RequestEntityTooLargeException", "ResourceNotFoundException", "TooManyRequestsException",
]

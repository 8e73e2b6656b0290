"""lambdalab: learn AWS Lambda by doing it, on your own machine.

>>> from lambdalab_ext import Lab                                       # doctest: +SKIP
>>> lab = Lab()
>>> fn = lab.deploy("hello", "def handler(event, context):\\n    return 'hi ' + event['name']\\n")
>>> fn.invoke({"name": "Ada"}).payload
'hi Ada'
"""

from .clock import RealClock, VirtualClock
from .errors import (InvalidParameterValueException, InvalidRequestContentException, LabClosedError,
                     LambdaServiceError, RequestEntityTooLargeException, ResourceNotFoundException,
                     TooManyRequestsException)
from .function import FunctionConfiguration
from .lab import Function, Lab
from .result import InvocationResult



def load_ipython_extension(ipython):
    """``%load_ext lambdalab_ext``: registers ``%%lambda`` and ``%lambda``."""
    from .magic import register
    register(ipython)


def unload_ipython_extension(ipython):
    from .magic import current
    magics = current(ipython)
    if magics is not None:
        magics.shutdown()


def current_lab():
    """The lab of the running kernel's ``%%lambda`` magic (created on first use)."""
    from .magic import current
    magics = current()
    if magics is None:
        raise RuntimeError("Load the extension first: %load_ext lambdalab_ext")
    return magics.lab


def last_result():
    """The last ``InvocationResult`` the magics produced in this kernel, or None."""
    from .magic import current
    magics = current()
    return magics.last_result if magics is not None else None


__all__ = [
    "load_ipython_extension", "unload_ipython_extension", "current_lab", "last_result",
    "Lab", "Function", "FunctionConfiguration", "InvocationResult", "RealClock", "VirtualClock",
    "LambdaServiceError", "LabClosedError", "InvalidParameterValueException", "InvalidRequestContentException",
    "RequestEntityTooLargeException", "ResourceNotFoundException", "TooManyRequestsException",
]

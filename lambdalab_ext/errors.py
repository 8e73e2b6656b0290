"""Errors of the Lambda service, named and shaped as AWS names them.

Service errors (the request never ran, or could not) are raised, as boto3 raises them from
``Invoke``. Errors of the function itself are not raised: they come back in the
``InvocationResult`` (``error``, ``function_error``), as the Invoke API returns them with HTTP 200.
"""


class LambdaServiceError(Exception):
    """Base of the errors the Lambda service returns instead of running a function."""

    error_type = "ServiceException"
    status_code = 500

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def as_response(self):
        """The error as the Invoke API's JSON body would carry it."""
        body = {"Type": "User" if self.status_code < 500 else "Service", "message": self.message}
        body.update(self.details)
        return body

    def __str__(self):
        return f"{self.error_type}: {self.message}"

    def _render_traceback_(self):
        # In a notebook, the service's answer, not the lab's call stack.
        extra = [f"  {key}: {value}" for key, value in self.details.items()]
        return [f"{self.error_type} (HTTP {self.status_code}): {self.message}", *extra]


class InvalidParameterValueException(LambdaServiceError, ValueError):
    """A configuration value outside what Lambda accepts (memory, timeout, name, variables...)."""

    error_type = "InvalidParameterValueException"
    status_code = 400


class ResourceNotFoundException(LambdaServiceError, KeyError):
    error_type = "ResourceNotFoundException"
    status_code = 404


class InvalidRequestContentException(LambdaServiceError, ValueError):
    """The event is not JSON."""

    error_type = "InvalidRequestContentException"
    status_code = 400


class RequestEntityTooLargeException(LambdaServiceError):
    """The request payload is over the invocation limit (6 MB synchronous, 1 MB asynchronous)."""

    error_type = "RequestEntityTooLargeException"
    status_code = 413


class TooManyRequestsException(LambdaServiceError):
    """Throttled: the function or the account is at its concurrency limit (HTTP 429)."""

    error_type = "TooManyRequestsException"
    status_code = 429


class RecursiveInvocationException(LambdaServiceError):
    """Lambda stopped an invocation that a recursive loop caused (HTTP 400, as the Invoke API says)."""

    error_type = "RecursiveInvocationException"
    status_code = 400
    MESSAGE = ("Lambda has detected your function being invoked in a recursive loop with other AWS resources "
               "and stopped your function's invocation.")


class ResourceConflictException(LambdaServiceError):
    error_type = "ResourceConflictException"
    status_code = 409


class LabClosedError(RuntimeError):
    """The ``Lab`` was shut down: its functions and execution environments are gone.

    Not an error of the Lambda service (AWS has no such answer), so it is not a
    ``LambdaServiceError``: code that catches the service's errors (throttles, bad requests) does
    not mistake a closed lab for one of them. It is a ``RuntimeError``, as before.
    """

    MESSAGE = ("This Lab has been shut down: its functions and environments are gone. Create a new "
               "Lab() and deploy the function again.")

    def __init__(self, message=MESSAGE):
        super().__init__(message)

    def _render_traceback_(self):
        return [f"LabClosedError: {self}"]

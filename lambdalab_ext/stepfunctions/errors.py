"""Step Functions' error names, and the rules by which Retry and Catch match them.

A failure inside a workflow is an *error name* and a *cause* (a string). Retriers and catchers name
the errors they handle in ``ErrorEquals``; a few names are wildcards (see :func:`error_matches`).
Names are those of the Amazon States Language, Appendix A (https://states-language.net/spec.html#appendix-a)
and of the Step Functions guide (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).

>>> error_matches(["States.ALL"], "ValueError")
True
>>> error_matches(["States.TaskFailed"], "States.Timeout")
False
>>> StatesError(TASK_FAILED, "boom").error_output()
{'Error': 'States.TaskFailed', 'Cause': 'boom'}
"""

ALL = "States.ALL"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
TASK_FAILED = "States.TaskFailed"
PERMISSIONS = "States.Permissions"
RUNTIME = "States.Runtime"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
BRANCH_FAILED = "States.BranchFailed"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"

# Errors of the optimised Lambda integration (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html)
LAMBDA_SERVICE_EXCEPTION = "Lambda.ServiceException"
LAMBDA_AWS_LAMBDA_EXCEPTION = "Lambda.AWSLambdaException"
LAMBDA_SDK_CLIENT_EXCEPTION = "Lambda.SdkClientException"
LAMBDA_TOO_MANY_REQUESTS = "Lambda.TooManyRequestsException"
LAMBDA_UNKNOWN = "Lambda.Unknown"

PREDEFINED = (
    ALL, TIMEOUT, HEARTBEAT_TIMEOUT, TASK_FAILED, PERMISSIONS, RUNTIME, DATA_LIMIT_EXCEEDED,
    RESULT_PATH_MATCH_FAILURE, PARAMETER_PATH_FAILURE, QUERY_EVALUATION_ERROR, BRANCH_FAILED,
    NO_CHOICE_MATCHED, INTRINSIC_FAILURE, EXCEED_TOLERATED_FAILURE_THRESHOLD, ITEM_READER_FAILED,
    RESULT_WRITER_FAILED,
)

# "A retry or catch on States.ALL won't catch States.Runtime errors", and States.DataLimitExceeded
# is terminal: both always fail the execution, whatever the retriers and catchers say.
TERMINAL = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})


class StatesError(Exception):
    """A failure inside a workflow: ``error`` (the name Retry and Catch match) and ``cause``."""

    def __init__(self, error, cause=""):
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = "" if cause is None else str(cause)

    def error_output(self):
        """The JSON a catcher passes on: ``{"Error": ..., "Cause": ...}``."""
        return {"Error": self.error, "Cause": self.cause}


def error_matches(error_equals, error):
    """Whether a retrier's or catcher's ``ErrorEquals`` list matches the error name ``error``.

    ``States.ALL`` matches every error but the terminal ones; ``States.TaskFailed`` matches every
    error but ``States.Timeout`` (and the terminal ones); ``States.Timeout`` also matches
    ``States.HeartbeatTimeout``, a Task that stopped heartbeating having timed out.
    """
    if error in TERMINAL:
        return False
    for name in error_equals:
        if name == error or name == ALL:
            return True
        if name == TASK_FAILED and error not in (TIMEOUT, HEARTBEAT_TIMEOUT):
            return True
        if name == TIMEOUT and error == HEARTBEAT_TIMEOUT:
            return True
    return False


def runtime_error(state_name, entered_event_id, detail):
    """A ``States.Runtime`` error with the cause text Step Functions writes for it."""
    return StatesError(
        RUNTIME,
        f"An error occurred while executing the state '{state_name}' (entered at the event id "
        f"#{entered_event_id}). {detail}",
    )


class StepFunctionsApiError(Exception):
    """An error the Step Functions API returns to its caller (not a failure inside a workflow)."""

    code = "ServiceException"

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return f"{self.code}: {self.message}"


class InvalidDefinition(StepFunctionsApiError):
    code = "InvalidDefinition"


class InvalidExecutionInput(StepFunctionsApiError):
    code = "InvalidExecutionInput"


class InvalidOutput(StepFunctionsApiError):
    code = "InvalidOutput"


class InvalidToken(StepFunctionsApiError):
    code = "InvalidToken"


class TaskDoesNotExist(StepFunctionsApiError):
    code = "TaskDoesNotExist"


class TaskTimedOut(StepFunctionsApiError):
    code = "TaskTimedOut"


class ExecutionAlreadyExists(StepFunctionsApiError):
    code = "ExecutionAlreadyExists"

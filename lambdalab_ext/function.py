"""A function's configuration, validated with Lambda's own rules, and its code package.

The limits are Lambda's ("Lambda quotas"): memory 128-10,240 MB, timeout 1-900 s, ephemeral
storage 512-10,240 MB, environment variables 4 KB in total and none of the reserved keys.
A bad value raises ``InvalidParameterValueException`` (a ``ValueError``) before anything starts.

Every pattern matches the *whole* string (``re.fullmatch``): with ``^...$`` Python also accepts a
trailing newline, and a name is copied into HTTP headers (the ``Lambda-Runtime-Invoked-Function-Arn``
of each event) and into the sandbox's environment, where a newline or a NUL byte breaks them.
"""

import collections.abc
import dataclasses
import hashlib
import keyword
import os
import re

from .errors import InvalidParameterValueException
# Function names (CreateFunction) and the variable-name pattern (Environment): used with fullmatch.
from .limits import ENV_KEY_RE as _ENV_KEY_RE
from .limits import (EPHEMERAL_MAX_MB, EPHEMERAL_MIN_MB, ENV_MAX_BYTES, MEMORY_MAX_MB, MEMORY_MIN_MB,
                     TIMEOUT_MAX_S, TIMEOUT_MIN_S)
from .limits import FUNCTION_NAME_RE as _NAME_RE

MODULE_NAME = "lambda_function"   # the module name the Lambda console gives a new Python function
RUNTIME_CLIENTS = ("lambdalab", "awslambdaric")

# Keys Lambda sets itself and refuses in a function's configuration (Lambda Developer Guide,
# "Defined runtime environment variables": reserved keys).
RESERVED_ENV_KEYS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})

_RUNTIME_RE = re.compile(r"python3\.[0-9]{1,2}")
HANDLER_MAX_CHARS = 128


def _utf8(text):
    """True when ``text`` can be written out as UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _invalid(message):
    raise InvalidParameterValueException(message)


def _whole_number(value, what):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        _invalid(f"{what} must be a whole number, got {value!r}.")
    return value


@dataclasses.dataclass(frozen=True)
class FunctionConfiguration:
    """What ``CreateFunction`` takes for a Python ZIP function, in the lab's terms.

    >>> FunctionConfiguration("hello", "def handler(e, c): return 1", memory_mb=256).handler_string
    'lambda_function.handler'
    """

    name: str
    source: str
    handler: str = "handler"
    memory_mb: int = 128
    timeout_s: int = 3
    ephemeral_storage_mb: int = 512
    environment: dict = dataclasses.field(default_factory=dict)
    architecture: str = "x86_64"
    runtime: str = "python3.11"
    runtime_client: str = "lambdalab"
    reserved_concurrency: int | None = None
    provisioned_concurrency: int = 0
    dead_letter_target_arn: str | None = None        # DeadLetterConfig: an SQS queue or SNS topic ARN
    event_invoke_config: object | None = None        # an async_queue.EventInvokeConfig
    recursive_loop: str = "Terminate"                # PutFunctionRecursionConfig: "Terminate" or "Allow"

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME_RE.fullmatch(self.name):
            _invalid(f"Function name {self.name!r} is not valid: use 1-64 letters, digits, hyphens "
                     "or underscores.")
        if not isinstance(self.source, str) or not _utf8(self.source):
            _invalid("The function's code must be Python source text (encodable as UTF-8).")
        if not isinstance(self.handler, str) or not self.handler.isidentifier() or keyword.iskeyword(self.handler):
            _invalid(f"Handler {self.handler!r} is not a Python function name.")
        if len(self.handler_string) > HANDLER_MAX_CHARS:
            _invalid(f"Handler {self.handler_string!r} is longer than Lambda's {HANDLER_MAX_CHARS} characters.")
        if not isinstance(self.runtime, str) or not _RUNTIME_RE.fullmatch(self.runtime):
            _invalid(f"Runtime {self.runtime!r} is not a Python runtime (python3.x).")
        object.__setattr__(self, "memory_mb", _whole_number(self.memory_mb, "MemorySize"))
        if not MEMORY_MIN_MB <= self.memory_mb <= MEMORY_MAX_MB:
            _invalid(f"MemorySize {self.memory_mb} MB is out of range: Lambda accepts "
                     f"{MEMORY_MIN_MB}-{MEMORY_MAX_MB:,} MB.")
        object.__setattr__(self, "timeout_s", _whole_number(self.timeout_s, "Timeout"))
        if not TIMEOUT_MIN_S <= self.timeout_s <= TIMEOUT_MAX_S:
            _invalid(f"Timeout {self.timeout_s} s is out of range: Lambda accepts "
                     f"{TIMEOUT_MIN_S}-{TIMEOUT_MAX_S} seconds (15 minutes).")
        object.__setattr__(self, "ephemeral_storage_mb",
                           _whole_number(self.ephemeral_storage_mb, "EphemeralStorage"))
        if not EPHEMERAL_MIN_MB <= self.ephemeral_storage_mb <= EPHEMERAL_MAX_MB:
            _invalid(f"EphemeralStorage {self.ephemeral_storage_mb} MB is out of range: Lambda accepts "
                     f"{EPHEMERAL_MIN_MB}-{EPHEMERAL_MAX_MB:,} MB.")
        if self.architecture not in ("x86_64", "arm64"):
            _invalid(f"Architecture {self.architecture!r} is not valid: use 'x86_64' or 'arm64'.")
        if self.runtime_client not in RUNTIME_CLIENTS:
            _invalid(f"runtime_client {self.runtime_client!r} is not one of {RUNTIME_CLIENTS}.")
        self._check_async()
        if self.recursive_loop not in ("Terminate", "Allow"):
            _invalid(f"1 validation error detected: Value '{self.recursive_loop}' at 'recursiveLoop' failed to "
                     "satisfy constraint: Member must satisfy enum value set: [Terminate, Allow]")
        self._check_environment()
        if self.reserved_concurrency is not None:
            object.__setattr__(self, "reserved_concurrency",
                               _whole_number(self.reserved_concurrency, "ReservedConcurrentExecutions"))
            if self.reserved_concurrency < 0:
                _invalid("ReservedConcurrentExecutions cannot be negative.")
        object.__setattr__(self, "provisioned_concurrency",
                           _whole_number(self.provisioned_concurrency, "ProvisionedConcurrentExecutions"))
        if self.provisioned_concurrency < 0:
            _invalid("ProvisionedConcurrentExecutions cannot be negative.")
        if self.reserved_concurrency is not None and self.provisioned_concurrency > self.reserved_concurrency:
            _invalid("ProvisionedConcurrentExecutions cannot exceed the function's reserved concurrency.")

    def _check_async(self):
        dlq = self.dead_letter_target_arn
        if dlq is not None:
            parts = dlq.split(":") if isinstance(dlq, str) else []
            if len(parts) < 6 or parts[0] != "arn" or parts[2] not in ("sqs", "sns"):
                _invalid(f"DeadLetterConfig TargetArn {dlq!r} is not valid: use an SQS queue or an SNS topic ARN.")
        if self.event_invoke_config is not None:
            from .async_queue import EventInvokeConfig
            if not isinstance(self.event_invoke_config, EventInvokeConfig):
                _invalid("event_invoke_config must be an EventInvokeConfig.")

    def _check_environment(self):
        if self.environment is not None and not isinstance(self.environment, collections.abc.Mapping):
            _invalid(f"Environment variables must be a mapping of names to strings, got "
                     f"{type(self.environment).__name__}.")
        env = dict(self.environment or {})
        for key, value in env.items():
            if not isinstance(key, str) or not _ENV_KEY_RE.fullmatch(key):
                _invalid(f"Environment variable name {key!r} is not valid: start with a letter, then at "
                         "least one more letter, digit or underscore (Lambda's pattern [a-zA-Z]([a-zA-Z0-9_])+).")
            if not isinstance(value, str):
                _invalid(f"Environment variable {key} must be a string, got {type(value).__name__}.")
            # A process environment is NUL-terminated C strings: the engine refuses such a value
            # (HTTP 500 at container creation), a subprocess raises. Refused here, at deploy.
            if "\x00" in value:
                _invalid(f"Environment variable {key} contains a NUL byte (\\x00), which no process "
                         "environment can hold.")
            if not _utf8(value):
                _invalid(f"Environment variable {key} is not valid text (it cannot be encoded as UTF-8).")
        reserved = sorted(set(env) & RESERVED_ENV_KEYS)
        if reserved:
            _invalid("Lambda was unable to configure your environment variables because the environment "
                     "variables you have provided contains reserved keys that are currently not supported "
                     f"for modification. Reserved keys used in this request: {', '.join(reserved)}")
        size = sum(len(k.encode()) + len(v.encode()) for k, v in env.items())
        if size > ENV_MAX_BYTES:
            _invalid(f"Environment variables total {size} bytes, over Lambda's 4 KB limit.")
        object.__setattr__(self, "environment", env)

    @property
    def handler_string(self):
        """The ``Handler`` setting as Lambda stores it: ``module.function``."""
        return f"{MODULE_NAME}.{self.handler}"

    @property
    def code_sha256(self):
        return hashlib.sha256(self.source.encode()).hexdigest()

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def package_code(config, root):
    """Write the function's code package (what Lambda unpacks into /var/task) under ``root``.

    One folder per code hash, so environments started from older code keep theirs until they are
    reclaimed. Files are world-readable: the sandbox user (uid 993) is not the owner.
    """
    folder = os.path.join(root, "code", f"{config.name}-{config.code_sha256[:16]}")
    path = os.path.join(folder, f"{MODULE_NAME}.py")
    if not os.path.exists(path):
        os.makedirs(folder, mode=0o755, exist_ok=True)
        os.chmod(folder, 0o755)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(config.source)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return folder

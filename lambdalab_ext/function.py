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
RUNTIME_CLIENTS = ("lambdalab", "awslambdaric", "provided", "node")
# Node.js runtimes: lambdalab's own Node.js runtime client (runtime/guest/bootstrap.js) runs the
# environment's Node.js (Debian's: 18 in the offline image) whichever of these the function names.
NODE_RUNTIMES = ("nodejs22.x", "nodejs20.x", "nodejs18.x")
NODE_MODULE_NAME = "index"          # the file the Lambda console gives a new Node.js function
_JS_NAME_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
# OS-only runtimes: the package's own ``bootstrap`` executable is the runtime ("Building a custom
# runtime for AWS Lambda"); the lab runs it on the same image.
CUSTOM_RUNTIMES = ("provided.al2023", "provided.al2")
BOOTSTRAP = "bootstrap"

# Keys Lambda sets itself and refuses in a function's configuration (Lambda Developer Guide,
# "Defined runtime environment variables": reserved keys).
RESERVED_ENV_KEYS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})

_RUNTIME_RE = re.compile(r"python3\.[0-9]{1,2}|provided\.al2023|provided\.al2|nodejs(22|20|18)\.x")
_CUSTOM_HANDLER_RE = re.compile(r"[^\s]+")          # CreateFunction's Handler pattern
# CreateFunction's KMSKeyArn pattern (Lambda API Reference, CreateFunction: KMSKeyArn).
_KMS_KEY_ARN_RE = re.compile(r"(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()")
# CreateFunction's Role pattern (Lambda API Reference, CreateFunction: Role).
_ROLE_RE = re.compile(r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
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
    role: str | None = None                          # Role: the execution role's ARN (None: the lab's default)
    kms_key_arn: str | None = None                   # KMSKeyArn: the customer managed key of the variables
    tracing_mode: str = "PassThrough"                # TracingConfig Mode: "PassThrough" or "Active" (X-Ray)
    # The deployment package beyond the cell: requirements installed into it (``packaging``), and
    # layer versions (their ARNs, in order) with the /opt tree the lab built of them.
    requirements: tuple = ()
    layers: tuple = ()
    opt_dir: str | None = None
    # PackageType "Image": the code is a container image (``packaging.images.FunctionImage``), whose
    # CMD is the handler; ``source`` is then empty.
    package_type: str = "Zip"
    image: object | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME_RE.fullmatch(self.name):
            _invalid(f"Function name {self.name!r} is not valid: use 1-64 letters, digits, hyphens "
                     "or underscores.")
        if not isinstance(self.source, str) or not _utf8(self.source):
            _invalid("The function's code must be Python source text (encodable as UTF-8).")
        if self.package_type not in ("Zip", "Image") or (self.package_type == "Image") != (self.image is not None):
            _invalid("PackageType is Zip (code) or Image (a container image).")
        if self.package_type == "Image":
            pass                           # the image's CMD is the handler
        elif self.node_runtime:
            if not isinstance(self.handler, str) or not _JS_NAME_RE.fullmatch(self.handler):
                _invalid(f"Handler {self.handler!r} is not a JavaScript export name (exports.{self.handler}).")
            object.__setattr__(self, "runtime_client", "node")
        elif self.custom_runtime:
            # The handler means whatever the bootstrap makes of it (it reads _HANDLER).
            if not isinstance(self.handler, str) or not _CUSTOM_HANDLER_RE.fullmatch(self.handler):
                _invalid(f"1 validation error detected: Value '{self.handler}' at 'handler' failed to satisfy "
                         "constraint: Member must satisfy regular expression pattern: [^\\s]+")
            object.__setattr__(self, "runtime_client", "provided")
        elif not isinstance(self.handler, str) or not self.handler.isidentifier() or keyword.iskeyword(self.handler):
            _invalid(f"Handler {self.handler!r} is not a Python function name.")
        if len(self.handler_string) > HANDLER_MAX_CHARS:
            _invalid(f"Handler {self.handler_string!r} is longer than Lambda's {HANDLER_MAX_CHARS} characters.")
        if not isinstance(self.runtime, str) or not _RUNTIME_RE.fullmatch(self.runtime):
            _invalid(f"Runtime {self.runtime!r} is not a runtime of the lab: python3.x, or "
                     f"{' or '.join(CUSTOM_RUNTIMES)} for a custom runtime (the package's bootstrap).")
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
        if self.runtime_client not in RUNTIME_CLIENTS or (self.runtime_client == "provided") != self.custom_runtime \
                or (self.runtime_client == "node") != self.node_runtime:
            _invalid(f"runtime_client {self.runtime_client!r} is not one of {RUNTIME_CLIENTS[:2]} for a Python "
                     "runtime ('provided' comes with a provided.al2023 runtime).")
        self._check_async()
        if self.recursive_loop not in ("Terminate", "Allow"):
            _invalid(f"1 validation error detected: Value '{self.recursive_loop}' at 'recursiveLoop' failed to "
                     "satisfy constraint: Member must satisfy enum value set: [Terminate, Allow]")
        if self.tracing_mode not in ("Active", "PassThrough"):
            _invalid(f"1 validation error detected: Value '{self.tracing_mode}' at 'tracingConfig.mode' failed to "
                     "satisfy constraint: Member must satisfy enum value set: [Active, PassThrough]")
        self._check_environment()
        if self.role is not None and (not isinstance(self.role, str) or not _ROLE_RE.fullmatch(self.role)):
            _invalid(f"1 validation error detected: Value '{self.role}' at 'role' failed to satisfy constraint: "
                     f"Member must satisfy regular expression pattern: {_ROLE_RE.pattern}")
        if self.kms_key_arn is not None and (not isinstance(self.kms_key_arn, str)
                                             or not _KMS_KEY_ARN_RE.fullmatch(self.kms_key_arn)):
            _invalid(f"1 validation error detected: Value '{self.kms_key_arn}' at 'kMSKeyArn' failed to satisfy "
                     f"constraint: Member must satisfy regular expression pattern: {_KMS_KEY_ARN_RE.pattern}")
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
    def node_runtime(self):
        """A Node.js runtime: the source is JavaScript (``index.js``, ``exports.handler``)."""
        return self.runtime in NODE_RUNTIMES

    @property
    def custom_runtime(self):
        """An OS-only runtime: the package's ``bootstrap`` is the runtime."""
        return self.runtime in CUSTOM_RUNTIMES

    @property
    def handler_string(self):
        """The ``Handler`` setting as Lambda stores it: ``module.function`` (as given, for a custom
        runtime; the image's CMD for a container image)."""
        if self.image is not None:
            return self.image.handler
        if self.node_runtime:
            return f"{NODE_MODULE_NAME}.{self.handler}"
        return self.handler if self.custom_runtime else f"{MODULE_NAME}.{self.handler}"

    @property
    def code_sha256(self):
        """The hash of the package's content: the cell's source and the requirements installed with it."""
        if self.image is not None:
            return self.image.image_id.split(":")[-1]
        shape = self.source if not self.requirements else self.source + "\0" + "\0".join(sorted(self.requirements))
        return hashlib.sha256(shape.encode()).hexdigest()

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def package_code(config, root):
    """Write the function's code package (what Lambda unpacks into /var/task) under ``root``: the
    cell as ``lambda_function.py``, and the packages its requirements install beside it, as a .zip
    built by Lambda's instructions holds them (``packaging.dependencies``, installed once and cached).

    One folder per package hash, so environments started from older code keep theirs until they are
    reclaimed. Files are world-readable: the sandbox user (uid 993) is not the owner. The package and
    the function's layers must stay under 250 MB unzipped, as Lambda refuses more.
    """
    folder = os.path.join(root, "code", f"{config.name}-{config.code_sha256[:16]}")
    if config.image is not None:       # the code is in the image: nothing to write
        os.makedirs(folder, mode=0o755, exist_ok=True)
        return folder
    path = os.path.join(folder, BOOTSTRAP if config.custom_runtime else
                        f"{NODE_MODULE_NAME}.js" if config.node_runtime else f"{MODULE_NAME}.py")
    if not os.path.exists(path):
        os.makedirs(folder, mode=0o755, exist_ok=True)
        os.chmod(folder, 0o755)
        if config.requirements:
            from .packaging import install_requirements
            _copy_tree(install_requirements(list(config.requirements)), folder)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(config.source)
        os.chmod(tmp, 0o755 if config.custom_runtime else 0o644)   # a bootstrap is executed
        os.replace(tmp, path)
    package_sizes(config, folder)
    return folder


def package_sizes(config, code_dir):
    """``{"zipped": bytes, "unzipped": bytes, "layers_unzipped": bytes}`` of the function's package
    (measured once per package folder), after Lambda's 250 MB check of code and layers together."""
    import json
    from .packaging import check_package, package_size
    from .packaging.sizes import unzipped_size
    record = code_dir.rstrip(os.sep) + ".size.json"       # beside the package, not in it
    try:
        with open(record) as f:
            sizes = json.load(f)
    except (OSError, ValueError):
        zipped, unzipped = package_size([code_dir])
        sizes = {"zipped": zipped, "unzipped": unzipped}
        tmp = f"{record}.{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(sizes, f)
        os.replace(tmp, record)
    layers = 0
    if config.opt_dir:
        layers = unzipped_size([config.opt_dir])
    check_package(sizes["unzipped"] + layers)
    return {**sizes, "layers_unzipped": layers}


def _copy_tree(source, target):
    """``source``'s files into ``target``: hard links where the filesystem allows, copies elsewhere."""
    import shutil

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    shutil.copytree(source, target, dirs_exist_ok=True, copy_function=link,
                    ignore=shutil.ignore_patterns(".lambdalab-requirements.json"))
    for folder, dirs, files in os.walk(target):
        os.chmod(folder, 0o755)

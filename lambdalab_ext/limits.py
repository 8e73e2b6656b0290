"""Lambda's numbers, formats and defaults, once: everything else in the lab reads them from here.

Sources (AWS documentation, by page title): "Lambda quotas" (memory, timeout, ephemeral storage,
payloads, environment variables, layers), "Configure Lambda function memory" (1,769 MB = one vCPU),
"Lambda function scaling" and "PutFunctionConcurrency" (account concurrency, the 100 unreserved),
"Invoke" (payload limits, measured to the byte by Zac Charles, "Deep dive: Lambda's request payload
size limit"), "Understanding the Lambda execution environment lifecycle" (the 10 s INIT limit),
"Lambda runtime API" (the address the runtime finds it at). The full list with quotes:
``docs/lambda-facts.md`` in this repository.

Pure: no I/O, nothing imported from the rest of the lab.
"""

import re
from decimal import ROUND_HALF_UP, Decimal

# -- function configuration ("Lambda quotas") ---------------------------------------------------
MEMORY_MIN_MB, MEMORY_MAX_MB = 128, 10_240
MEMORY_DEFAULT_MB = 128
TIMEOUT_MIN_S, TIMEOUT_MAX_S = 1, 900
TIMEOUT_DEFAULT_S = 3
EPHEMERAL_MIN_MB, EPHEMERAL_MAX_MB = 512, 10_240
EPHEMERAL_DEFAULT_MB = 512
ENV_MAX_BYTES = 4 * 1024                 # all keys and values together
MB_PER_VCPU = 1_769                      # 1,769 MB of memory = one vCPU
PIDS_LIMIT = 1_024                       # processes and threads in one execution environment
FILE_DESCRIPTORS = 1_024
MAX_LAYERS = 5
# -- deployment packages ("Lambda quotas") ------------------------------------------------------------
PACKAGE_ZIPPED_MAX_BYTES = 50 * 1024 * 1024          # a .zip uploaded directly (CreateFunction)
PACKAGE_UNZIPPED_MAX_BYTES = 262_144_000             # code and every layer, unzipped (250 MB)
CLIENT_CONTEXT_MAX_BYTES = 3_583         # the ClientContext JSON, before base64

# -- payloads ("Invoke"; measured) ------------------------------------------------------------------
SYNC_REQUEST_MAX_BYTES = 6_291_456       # RequestResponse request body
SYNC_RESPONSE_MAX_BYTES = 6_291_556      # what a runtime may POST as a response
ASYNC_REQUEST_MAX_BYTES = 1_048_576      # Event invocations: 1 MB since 2025 (was 256 KB)

# -- lifecycle ------------------------------------------------------------------------------------
INIT_TIMEOUT_S = 10.0                    # on-demand INIT; longer is cut and retried (suppressed init)
PROVISIONED_INIT_TIMEOUT_S = 130.0       # provisioned concurrency: max(130 s, the function timeout)
RUNTIME_API_ADDRESS = "127.0.0.1:9001"   # where Lambda's runtimes find the Runtime API
AWS_ENDPOINT_PORT = 4566                 # the lab's AWS endpoint inside an environment (127.0.0.1)
RUNTIME_API_VERSION = "2018-06-01"
# Lambda does not publish how long an idle environment stays warm; measurements range from
# minutes to hours. The lab's default, which a notebook can change.
KEEP_ALIVE_DEFAULT_S = 600.0

# -- asynchronous invocation ("Invoking a Lambda function asynchronously") ---------------------------
ASYNC_RETRY_DELAYS_S = (60.0, 120.0)     # after a function error: before the 2nd and the 3rd attempt
ASYNC_THROTTLE_BACKOFF_S = (1.0, 300.0)  # after a throttle or system error: from 1 s, doubling, to 5 min
ASYNC_MAX_RETRY_ATTEMPTS = 2             # MaximumRetryAttempts: 0-2, default 2
ASYNC_MIN_EVENT_AGE_S, ASYNC_MAX_EVENT_AGE_S = 60, 21_600   # MaximumEventAgeInSeconds: 60 s - 6 h

# -- concurrency ("Lambda function scaling", "PutFunctionConcurrency") -----------------------------
ACCOUNT_CONCURRENCY_DEFAULT = 1_000      # a default quota; new accounts can start lower
UNRESERVED_MINIMUM = 100                 # reserved concurrency must leave at least this unreserved

# -- SQS event source mappings ("Using Lambda with Amazon SQS", "Creating and configuring an Amazon SQS
# event source mapping", "Configuring scaling behavior for SQS event source mappings", ScalingConfig) --
SQS_BATCH_SIZE_DEFAULT = 10
SQS_BATCH_SIZE_MAX = 10_000              # standard queues (a BatchSize over 10 needs a batching window)
SQS_FIFO_BATCH_SIZE_MAX = 10
SQS_RECEIVE_MAX_MESSAGES = 10            # ReceiveMessage's MaxNumberOfMessages
SQS_LONG_POLL_MAX_S = 20                 # ReceiveMessage's WaitTimeSeconds at most
SQS_VISIBILITY_TIMEOUT_MAX_S = 43_200    # 12 hours
BATCHING_WINDOW_MAX_S = 300              # MaximumBatchingWindowInSeconds: 0-300
ESM_MAXIMUM_CONCURRENCY_MIN, ESM_MAXIMUM_CONCURRENCY_MAX = 2, 1_000   # ScalingConfig.MaximumConcurrency
SQS_POLLER_START_BATCHES = 5             # concurrent batches when messages become available
SQS_POLLER_SCALE_UP_PER_MINUTE = 300     # more concurrent invokes per minute while messages remain
SQS_POLLER_MAX_BATCHES = 1_000           # batches one mapping processes at the same time
SQS_POLLER_MIN_BATCHES = 2               # what Lambda backs off to

# -- names and formats ------------------------------------------------------------------------------
REGION_DEFAULT = "us-east-1"
ACCOUNT_ID_DEFAULT = "123456789012"
FUNCTION_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")       # use fullmatch: a whole string
ENV_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]+")   # Lambda's pattern: two characters at least


def function_arn(name, region=REGION_DEFAULT, account_id=ACCOUNT_ID_DEFAULT, qualifier=None):
    """A function's ARN, as Lambda writes it.

    >>> function_arn("hello")
    'arn:aws:lambda:us-east-1:123456789012:function:hello'
    """
    arn = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def cpu_share(memory_mb, host_cpus=None):
    """vCPUs Lambda gives a function of ``memory_mb`` (capped at ``host_cpus`` when given).

    >>> cpu_share(1769), cpu_share(3538, host_cpus=1)
    (1.0, 1.0)
    """
    share = memory_mb / MB_PER_VCPU
    return min(share, float(host_cpus)) if host_cpus else share


def format_usd(amount, *, exact=False):
    """Money as the lab shows it, one rule everywhere.

    Cents, with thousands separators, from a cent up; below a cent, three significant digits (one
    invocation costs millionths of a dollar); never a negative zero. ``exact=True`` writes every
    digit of a ``Decimal`` (a bill's exact amount).

    >>> format_usd(1234.5), format_usd(0.000000327), format_usd(-0.0), format_usd(-0.004)
    ('$1,234.50', '$0.000000327', '$0.00', '-$0.00400')
    >>> format_usd(Decimal("0.0000166667"), exact=True)
    '$0.0000166667'
    """
    value = amount if isinstance(amount, Decimal) else Decimal(str(float(amount)))
    if exact:
        text = format(abs(value).normalize(), "f")
        whole, _, frac = text.partition(".")
        sign = "-" if value < 0 else ""
        return f"{sign}${int(whole):,}" + (f".{frac}" if frac else "")
    if value == 0 or abs(value) >= Decimal("0.01"):
        cents = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        sign = "-" if cents < 0 else ""
        return f"{sign}${abs(cents):,.2f}"
    digits = 2 - abs(value).adjusted()          # three significant digits
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):.{digits}f}"

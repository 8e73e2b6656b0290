"""The platform's log lines (INIT_START, START, END, REPORT, timeouts) and billing rounding.

Field order and wording are real Lambda's (CloudWatch text format):
``REPORT RequestId: <id>\tDuration: 2.85 ms\tBilled Duration: 3 ms\tMemory Size: 256 MB\tMax Memory Used: 41 MB\tInit Duration: 312.18 ms``
with ``Init Duration`` only on a cold start, and ``Status: timeout`` / ``Status: error`` plus
``Error Type`` when the invocation did not end normally.
"""

import datetime
import math

from . import pricing


# How the platform's own lines begin; everything else in a log stream is the function's output.
PLATFORM_LINE_PREFIXES = ("INIT_START ", "INIT_REPORT ", "START RequestId:", "END RequestId:", "REPORT RequestId:")


def billed_duration_ms(duration_ms, init_duration_ms=None, *, init_billed=True):
    """Duration rounded up to the next millisecond; INIT included on a cold start.

    Since 2025-08-01 Lambda bills the INIT phase of on-demand functions at the same rate as the
    invocation (AWS Compute Blog, "AWS Lambda standardizes billing for INIT Phase").
    ``init_billed=False`` gives the earlier rule for ZIP functions on managed runtimes. The rounding
    is the pricing model's (:func:`lambdalab_ext.pricing.billed_duration_ms`).

    >>> billed_duration_ms(2.85)
    3
    >>> billed_duration_ms(2.85, 312.18)
    316
    """
    rule = "2025-08" if init_billed else "legacy"
    return max(1, pricing.billed_duration_ms(duration_ms, init_duration_ms, init_billing=rule))


def memory_mb(nbytes, limit_mb):
    """Bytes to whole MB as Lambda reports them, never above the configured size."""
    if nbytes is None:
        return None
    return min(limit_mb, math.ceil(nbytes / (1024 * 1024)))


def timestamp(epoch_s):
    """ISO-8601 UTC with milliseconds and a Z, as Lambda's runtime log lines print it."""
    dt = datetime.datetime.fromtimestamp(epoch_s, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def init_start_line(runtime_version, runtime_version_arn):
    return f"INIT_START Runtime Version: {runtime_version}\tRuntime Version ARN: {runtime_version_arn}"


def init_report_line(init_duration_ms, status, error_type=None, phase="init"):
    line = f"INIT_REPORT Init Duration: {init_duration_ms:.2f} ms\tPhase: {phase}\tStatus: {status}"
    if error_type:
        line += f"\tError Type: {error_type}"
    return line


def start_line(request_id, version="$LATEST"):
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id):
    return f"END RequestId: {request_id}"


def timeout_line(epoch_s, request_id, timeout_s):
    return f"{timestamp(epoch_s)} {request_id} Task timed out after {timeout_s:.2f} seconds"


def report_line(request_id, duration_ms, billed_ms, memory_size_mb, max_memory_used_mb,
                init_duration_ms=None, status="success", error_type=None):
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed_ms} ms",
        f"Memory Size: {memory_size_mb} MB",
        f"Max Memory Used: {max_memory_used_mb if max_memory_used_mb is not None else '-'} MB",
    ]
    if init_duration_ms is not None:
        fields.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if status != "success":
        fields.append(f"Status: {status}")
        if error_type:
            fields.append(f"Error Type: {error_type}")
    return "\t".join(fields)

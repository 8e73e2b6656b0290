"""Recursive loop detection, as Lambda does it (pure: no I/O).

"Use Lambda recursive loop detection to prevent infinite loops" (AWS Lambda Developer Guide): Lambda
tracks events through the X-Ray trace header. When a function writes to a supported service (SQS,
SNS, S3, Lambda itself) with a supported SDK, the SDK sends the function's trace header
(``X-Amzn-Trace-Id``, from ``_X_AMZN_TRACE_ID``: botocore's recursion-detection handler does it
inside Lambda) and the service carries it to the next invocation. "If a function is invoked by the
same triggering event more than 16 times, Lambda stops the next invocation and sends the event to a
dead-letter queue or on-failure destination, if configured" (What's New, 2023-07-13); the metric is
``RecursiveInvocationsDropped``; ``PutFunctionRecursionConfig`` with ``RecursiveLoop=Allow`` lets a
function loop on purpose.

The count travels in the header's ``Lineage`` field. AWS does not document its encoding; the lab writes
``Lineage=1:<8 hex>:<n>``, ``n`` the invocations of this chain before this one.

>>> first = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=1:0a1b2c3d:0"
>>> depth_of(first), depth_of(child_header(first)), depth_of("Root=1-5759e988-bd862e3fe1be46a994272793")
(0, 1, None)
>>> child_header(first).split(";")[0] == first.split(";")[0]     # the same trace: the same Root
True
"""

import re
import secrets

RECURSION_LIMIT = 16          # invocations one triggering event may cause; the next one is stopped
RECURSIVE_LOOP_VALUES = ("Terminate", "Allow")   # PutFunctionRecursionConfig's RecursiveLoop

_LINEAGE = re.compile(r"(?:^|;)\s*Lineage=([^;]*)")
_COUNT = re.compile(r"^\d+:[0-9a-fA-F]{8}:(\d{1,6})$")


def depth_of(trace_header):
    """The invocations before this one in the header's chain, or None if it carries no Lambda lineage."""
    if not trace_header:
        return None
    match = _LINEAGE.search(trace_header)
    if not match:
        return None
    count = _COUNT.match(match.group(1).strip())
    return int(count.group(1)) if count else None


def child_header(trace_header, depth=None):
    """The header of the invocation an upstream call with ``trace_header`` causes: the same Root,
    a new Parent, the lineage one further (or ``depth``)."""
    if depth is None:
        upstream = depth_of(trace_header)
        depth = 0 if upstream is None else upstream + 1
    fields = [f for f in (trace_header or "").split(";") if f.strip()]
    kept = [f for f in fields if f.strip().split("=", 1)[0] not in ("Parent", "Lineage")]
    if not any(f.strip().startswith("Root=") for f in kept):
        return None
    lineage_id = secrets.token_hex(4)
    match = _LINEAGE.search(trace_header or "")
    if match:
        parts = match.group(1).strip().split(":")
        if len(parts) == 3 and re.fullmatch(r"[0-9a-fA-F]{8}", parts[1]):
            lineage_id = parts[1]
    return ";".join(kept[:1] + [f"Parent={secrets.token_hex(8)}"] + kept[1:] + [f"Lineage=1:{lineage_id}:{depth}"])


def stops(depth, recursive_loop="Terminate"):
    """Whether Lambda stops an invocation at ``depth`` (invocations of the chain before it)."""
    return recursive_loop != "Allow" and depth is not None and depth >= RECURSION_LIMIT

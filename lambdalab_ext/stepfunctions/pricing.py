"""What a workflow costs: Step Functions' own price (Standard or Express) plus its functions' Lambda price.

Pure computation, exact ``Decimal`` arithmetic. The rules, from AWS's pricing page
(https://aws.amazon.com/step-functions/pricing/, read through the search tool):

- **Standard** workflows are billed per state transition, "each time a step of your workflow is
  executed", retries included; "the Step Functions free tier includes 4,000 free state transitions
  per month" (it does not expire). Price: $0.025 per 1,000 transitions ($25 per million, AWS Compute
  Blog "Building cost-effective AWS Step Functions workflows"; the page's own price table is
  rendered by script and could not be read).
- **Express** workflows are billed per request ($1.00 per million, the same blog) and per
  duration, "from the time your workflow begins executing until it completes or otherwise
  terminates, rounded up to the nearest 100ms", times the memory "billed in 64-MB chunks". Duration
  is $0.00001667 per GB-second for the first 1,000 GB-hours a month (a third-party summary gives
  this figure; not read on AWS's page). The two lower tiers below (next 4,000 GB-hours at
  $0.00000833, beyond at $0.00000456) are NOT verified: they are kept as the lab's best knowledge
  and used only by ``express_monthly_cost``. Express has no free tier.
- Memory "is based on the size of a workflow definition, the use of map or parallel states, and the
  execution (payload) data size": the lab estimates it as those bytes rounded up to 64 MB chunks
  (one chunk for any workflow a notebook runs).

The Lambda side is priced by the lab's Lambda model (``lambdalab_ext.pricing.cost_of_many``) from
the real ``InvocationResult`` of each task.

>>> standard_cost(10_000).total           # 6,000 billable after the free 4,000
Decimal('0.150000')
>>> express_cost(1, 250, 64).total         # one request, 0.3 s x 64 MB
Decimal('0.0000013125625')
"""

import dataclasses
import json
import math
from decimal import Decimal

from .. import pricing as lambda_pricing

STANDARD_PER_TRANSITION = Decimal("0.000025")
STANDARD_FREE_TRANSITIONS = 4000
EXPRESS_PER_REQUEST = Decimal("0.000001")
EXPRESS_DURATION_TIERS = (                       # (GB-seconds in the tier, $ per GB-second)
    (1000 * 3600, Decimal("0.00001667")),         # first 1,000 GB-hours (third-party figure)
    (4000 * 3600, Decimal("0.00000833")),         # next 4,000 GB-hours (unverified)
    (None, Decimal("0.00000456")),                # beyond (unverified)
)
EXPRESS_MEMORY_CHUNK_MB = 64
EXPRESS_DURATION_UNIT_MS = 100


@dataclasses.dataclass(frozen=True)
class WorkflowCost:
    """The cost of a workflow: Step Functions' part and Lambda's part, in dollars (exact)."""

    type: str
    workflow_cost: Decimal
    lambda_cost: Decimal = Decimal(0)
    state_transitions: int = 0
    requests: int = 0
    billed_duration_ms: int = 0
    billed_memory_mb: int = 0
    lambda_invocations: int = 0

    @property
    def total(self):
        return self.workflow_cost + self.lambda_cost

    def as_dict(self):
        out = dataclasses.asdict(self)
        out["total"] = self.total
        return out


def standard_cost(state_transitions, *, free_tier=True):
    """Standard: ``state_transitions`` at $0.000025 each, less the 4,000 free a month when
    ``free_tier`` (as the month's only transitions)."""
    transitions = int(state_transitions)
    if transitions < 0:
        raise ValueError("state_transitions must be 0 or more")
    billable = max(0, transitions - STANDARD_FREE_TRANSITIONS) if free_tier else transitions
    return WorkflowCost("STANDARD", STANDARD_PER_TRANSITION * billable, state_transitions=transitions)


def billed_duration_ms(duration_ms):
    """An Express execution's duration as billed: rounded up to the next 100 ms (at least 100)."""
    return max(EXPRESS_DURATION_UNIT_MS, math.ceil(float(duration_ms) / EXPRESS_DURATION_UNIT_MS - 1e-9)
               * EXPRESS_DURATION_UNIT_MS)


def billed_memory_mb(memory_bytes):
    """Memory as billed: 64 MB chunks, at least one."""
    chunk = EXPRESS_MEMORY_CHUNK_MB * 1024 * 1024
    return max(1, math.ceil(int(memory_bytes) / chunk)) * EXPRESS_MEMORY_CHUNK_MB


def express_cost(requests, duration_ms, memory_mb=EXPRESS_MEMORY_CHUNK_MB):
    """Express: ``requests`` executions of ``duration_ms`` each (rounded up to 100 ms) at
    ``memory_mb`` (rounded up to 64 MB), at the first duration tier's rate."""
    requests = int(requests)
    billed_ms = billed_duration_ms(duration_ms)
    memory = max(1, math.ceil(memory_mb / EXPRESS_MEMORY_CHUNK_MB)) * EXPRESS_MEMORY_CHUNK_MB
    gb_s = Decimal(memory) / 1024 * Decimal(billed_ms) / 1000 * requests
    cost = EXPRESS_PER_REQUEST * requests + gb_s * EXPRESS_DURATION_TIERS[0][1]
    return WorkflowCost("EXPRESS", cost, requests=requests, billed_duration_ms=billed_ms * requests,
                        billed_memory_mb=memory)


def express_monthly_cost(requests, duration_ms, memory_mb=EXPRESS_MEMORY_CHUNK_MB):
    """Express for a month: like :func:`express_cost`, climbing the duration tiers."""
    requests = int(requests)
    billed_ms = billed_duration_ms(duration_ms)
    memory = max(1, math.ceil(memory_mb / EXPRESS_MEMORY_CHUNK_MB)) * EXPRESS_MEMORY_CHUNK_MB
    left = Decimal(memory) / 1024 * Decimal(billed_ms) / 1000 * requests
    cost = EXPRESS_PER_REQUEST * requests
    for size, rate in EXPRESS_DURATION_TIERS:
        used = left if size is None else min(left, Decimal(size))
        cost += used * rate
        left -= used
        if left <= 0:
            break
    return WorkflowCost("EXPRESS", cost, requests=requests, billed_duration_ms=billed_ms * requests,
                        billed_memory_mb=memory)


def execution_memory_bytes(execution, definition=None):
    """The lab's estimate of an Express execution's memory: its definition and its data."""
    size = len(json.dumps(definition or {}).encode())
    for event in execution.history:
        for value in event.values():
            if isinstance(value, dict):
                size += sum(len(v) for k, v in value.items() if k in ("input", "output") and isinstance(v, str))
    return size


def execution_duration_ms(execution):
    """From start to stop (or to now, for one that runs), in lab time, milliseconds."""
    end = execution.stop_date
    if end is None:
        end = execution.interpreter._wall_dt()
    return max(0.0, (end - execution.start_date).total_seconds() * 1000.0)


def express_billing(execution, definition=None):
    """``(billedMemoryUsedInMB, billedDurationInMilliseconds)``: StartSyncExecution's billingDetails."""
    return (billed_memory_mb(execution_memory_bytes(execution, definition)),
            billed_duration_ms(execution_duration_ms(execution)))


def lambda_cost(results, *, prices=lambda_pricing.US_EAST_1):
    """The Lambda price of ``results`` (``InvocationResult``s): the lab's Lambda pricing model,
    first tier, no free tier (``lambdalab_ext.pricing.cost_of_many``)."""
    results = list(results)
    if not results:
        return Decimal(0)
    return lambda_pricing.cost_of_many(results, prices=prices).total


def cost_of_execution(execution, lambda_results=(), *, definition=None, free_tier=False):
    """One execution's cost: Standard by its state transitions (``free_tier`` off by default: one
    execution is rarely a month), Express by one request and its duration; plus its functions."""
    results = list(lambda_results)
    if execution.type == "EXPRESS":
        memory, duration = express_billing(execution, definition)
        base = express_cost(1, duration, memory)
    else:
        base = standard_cost(execution.state_transitions, free_tier=free_tier)
    return dataclasses.replace(base, lambda_cost=lambda_cost(results), lambda_invocations=len(results),
                               state_transitions=execution.state_transitions)


def compare_monthly(executions_per_month, state_transitions, duration_ms, *, memory_mb=EXPRESS_MEMORY_CHUNK_MB,
                    lambda_cost_per_execution=Decimal(0)):
    """Standard against Express for ``executions_per_month`` executions of ``state_transitions``
    transitions and ``duration_ms`` each: ``{"STANDARD": WorkflowCost, "EXPRESS": WorkflowCost}``
    (the Lambda part, the same for both, added to each)."""
    n = int(executions_per_month)
    extra = Decimal(lambda_cost_per_execution) * n
    standard = dataclasses.replace(standard_cost(n * int(state_transitions)), lambda_cost=extra)
    express = dataclasses.replace(express_monthly_cost(n, duration_ms, memory_mb), lambda_cost=extra,
                                  state_transitions=n * int(state_transitions))
    return {"STANDARD": standard, "EXPRESS": express}

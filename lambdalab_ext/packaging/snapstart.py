"""Lambda SnapStart, MODELLED: what a snapshot saves against INIT, what it breaks, what it costs.

Nothing here takes or restores a snapshot. Lambda's SnapStart is a Firecracker microVM snapshot of an
initialised execution environment's memory and disk; no local engine can do that to a container or
a process, so the lab models it from figures it measures for real (a function's INIT duration and
its memory in use after INIT) and labels every number it derives as modelled.

What the model follows (AWS Lambda Developer Guide):

* "Improving startup performance with Lambda SnapStart" (snapstart.html): INIT runs once, when a
  version is **published**; Lambda snapshots the initialised environment and new environments
  **resume** from it instead of running INIT. Published versions only (not ``$LATEST``); Python 3.12
  and later (the lab's runtime image is Python 3.11, one more reason this is a model); not with
  provisioned concurrency, EFS, or more than 512 MB of ephemeral storage.
* "Lambda SnapStart runtime hooks for Python" (snapstart-runtime-hooks-python.html):
  ``@register_before_snapshot`` hooks run in the reverse order of registration, before the
  snapshot, and count in INIT; ``@register_after_restore`` hooks run in registration order after a
  resume and must finish, with the runtime's load, within 10 s (else ``SnapStartTimeoutException``).
* "Monitoring for Lambda SnapStart" (snapstart-monitoring.html): ``Init Duration`` moves to the
  ``INIT_REPORT`` line of the publish; the first ``REPORT`` of a resumed environment carries
  ``Restore Duration`` (restoring the snapshot, loading the runtime, the after-restore hooks) and
  ``Billed Restore Duration`` (the runtime's load and the hooks only: the snapshot's restore itself
  is not billed). ``AWS_LAMBDA_INITIALIZATION_TYPE`` is ``snap-start`` in a resumed environment.
* "Handling uniqueness with Lambda SnapStart" (snapstart-uniqueness.html): one snapshot resumes
  many environments, so whatever INIT made unique (IDs, secrets, random seeds, entropy) is the same
  in all of them; make it in the handler or in an after-restore hook. Connections opened in INIT
  are snapshotted too and may be stale after a resume.

The restore time is the lab's ASSUMPTION, not AWS's figure: AWS publishes no formula. ``RestoreModel``
makes it a fixed cost plus a cost per MB of memory in use in the snapshot, plus the runtime's load
and the hooks; every parameter can be changed.

Prices (``snapstart_cost``) are those of ``lambdalab_ext.pricing.US_EAST_1``: a cache charge per GB-s
of the function's memory while the version is cached (3 hours at least) and a restore charge per GB
restored. They were NOT verified on https://aws.amazon.com/lambda/pricing/ itself (its rate tables
are rendered in the browser and could not be read here); they come from the AWS Price List
transcription in ``docs/lambda-facts.md`` section 3 and agree with secondary sources
(awsnegotiations.com, "Lambda SnapStart Cost Impact": $0.0000015046 per GB-s, $0.0001397998 per GB).

Pure: no I/O.

>>> v = publish_version("resize", init_duration_ms=1800, memory_mb=1024, snapshot_mb=120,
...                     runtime="python3.12")
>>> r = restore(v)
>>> r.initialization_type, r.restore_duration_ms < v.init_duration_ms
('snap-start', True)
"""

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from ..errors import InvalidParameterValueException, LambdaServiceError
from ..limits import EPHEMERAL_DEFAULT_MB, MEMORY_MAX_MB, MEMORY_MIN_MB, PROVISIONED_INIT_TIMEOUT_S, TIMEOUT_MAX_S

MODELLED = "modelled (SnapStart is not executed by the lab)"
INITIALIZATION_TYPE = "snap-start"          # AWS_LAMBDA_INITIALIZATION_TYPE in a resumed environment
# "Improving startup performance with Lambda SnapStart", supported runtimes: Python 3.12 and later.
SNAPSTART_PYTHON_MIN = (3, 12)
AFTER_RESTORE_TIMEOUT_S = 10.0              # runtime load + after-restore hooks
INACTIVE_AFTER_DAYS = 14                    # a version not invoked for 14 days: SnapStartNotReadyException
SNAPSTART_MIN_CACHE_HOURS = 3               # the cache charge's minimum


class SnapStartTimeoutException(LambdaServiceError):
    """The after-restore hooks (with the runtime's load) ran past 10 s (Invoke: HTTP 408)."""

    error_type = "SnapStartTimeoutException"
    status_code = 408


class SnapStartNotReadyException(LambdaServiceError):
    """The version's snapshot is not ready, or went inactive (Invoke: HTTP 409)."""

    error_type = "SnapStartNotReadyException"
    status_code = 409


def _python_version(runtime):
    if not isinstance(runtime, str) or not runtime.startswith("python3."):
        return None
    minor = runtime[len("python3."):]
    return (3, int(minor)) if minor.isdigit() else None


def check_snapstart(runtime, *, ephemeral_storage_mb=EPHEMERAL_DEFAULT_MB, provisioned_concurrency=0,
                    efs=False, qualifier="1"):
    """Refuse what SnapStart does not support, in Lambda's words (``InvalidParameterValueException``).

    >>> check_snapstart("python3.12")
    >>> check_snapstart("python3.11")
    Traceback (most recent call last):
    ...
    lambdalab_ext.errors.InvalidParameterValueException: InvalidParameterValueException: SnapStart is not supported for runtime python3.11: Python functions need python3.12 or later.
    """
    version = _python_version(runtime)
    if version is None or version < SNAPSTART_PYTHON_MIN:
        raise InvalidParameterValueException(
            f"SnapStart is not supported for runtime {runtime}: Python functions need python3.12 or later.")
    if qualifier in (None, "$LATEST"):
        raise InvalidParameterValueException(
            "SnapStart applies to published versions only (ApplyOn: PublishedVersions), not to $LATEST.")
    if provisioned_concurrency:
        raise InvalidParameterValueException("SnapStart cannot be combined with provisioned concurrency.")
    if efs:
        raise InvalidParameterValueException("SnapStart does not support Amazon EFS file systems.")
    if ephemeral_storage_mb > EPHEMERAL_DEFAULT_MB:
        raise InvalidParameterValueException(
            f"SnapStart supports at most {EPHEMERAL_DEFAULT_MB} MB of ephemeral storage, not {ephemeral_storage_mb} MB.")


@dataclass(frozen=True)
class RestoreModel:
    """How long a resume takes, as the lab ASSUMES it (AWS publishes no formula).

    ``snapshot_base_ms + snapshot_ms_per_mb * snapshot_mb`` restores the snapshot (not billed);
    ``runtime_load_ms`` plus the after-restore hooks follow (billed). Change any of them to see
    what the comparison with INIT depends on.
    """

    snapshot_base_ms: float = 60.0
    snapshot_ms_per_mb: float = 0.5
    runtime_load_ms: float = 25.0

    def __post_init__(self):
        for name in ("snapshot_base_ms", "snapshot_ms_per_mb", "runtime_load_ms"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or math.isnan(value):
                raise InvalidParameterValueException(f"RestoreModel.{name} must be a number of ms >= 0, not {value!r}")


DEFAULT_RESTORE_MODEL = RestoreModel()


def _ms(value, what):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or math.isnan(value):
        raise InvalidParameterValueException(f"{what} must be a duration in ms >= 0, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class SnapshotVersion:
    """A published version with SnapStart on: INIT ran once, at publish, and was snapshotted
    (modelled). ``state`` is what INIT left in the environment's globals, as the snapshot keeps it."""

    function_name: str
    version: str
    runtime: str
    memory_mb: int
    init_duration_ms: float          # INIT plus the before-snapshot hooks, as INIT_REPORT shows it
    snapshot_mb: float               # memory in use when the snapshot was taken
    state: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    modelled: str = MODELLED

    def init_report_line(self):
        """The ``INIT_REPORT`` line Lambda writes when it initialises the version at publish."""
        return f"INIT_REPORT Init Duration: {self.init_duration_ms:.2f} ms\tPhase: init\tStatus: success"


def publish_version(function_name, *, init_duration_ms, memory_mb, snapshot_mb=None, runtime="python3.12",
                    before_snapshot_ms=(), state=None, timeout_s=3, version="1", **constraints):
    """``PublishVersion`` with SnapStart on (modelled): INIT runs now, then the before-snapshot
    hooks (``before_snapshot_ms``: their durations in registration order; Lambda runs them in the
    reverse order, and their time counts in INIT), then the snapshot is taken.

    INIT at publish may last up to max(130 s, the function's timeout), not the on-demand 10 s.
    ``snapshot_mb`` is the memory in use after INIT (the function's Max Memory Used); ``state``
    the values INIT computed. ``constraints`` go to :func:`check_snapstart`.

    >>> publish_version("f", init_duration_ms=900, memory_mb=512, runtime="python3.13",
    ...                 before_snapshot_ms=[20, 30]).init_duration_ms
    950.0
    """
    check_snapstart(runtime, qualifier=version, **constraints)
    if not isinstance(memory_mb, int) or isinstance(memory_mb, bool) or not MEMORY_MIN_MB <= memory_mb <= MEMORY_MAX_MB:
        raise InvalidParameterValueException(
            f"MemorySize {memory_mb!r} is outside {MEMORY_MIN_MB}-{MEMORY_MAX_MB} MB.")
    total = _ms(init_duration_ms, "init_duration_ms") + sum(
        _ms(h, "a before-snapshot hook's duration") for h in before_snapshot_ms)
    limit_s = min(max(PROVISIONED_INIT_TIMEOUT_S, float(timeout_s)), float(TIMEOUT_MAX_S))
    if total > limit_s * 1000:
        raise InvalidParameterValueException(
            f"The version's INIT ({total / 1000:.2f} s) ran past max(130 s, the function's timeout) "
            f"= {limit_s:.0f} s: Lambda could not snapshot it and the version is Failed.")
    used = memory_mb if snapshot_mb is None else _ms(snapshot_mb, "snapshot_mb")
    if used > memory_mb:
        raise InvalidParameterValueException(f"snapshot_mb ({used}) cannot exceed the memory size ({memory_mb} MB).")
    return SnapshotVersion(function_name=function_name, version=str(version), runtime=runtime, memory_mb=memory_mb,
                           init_duration_ms=total, snapshot_mb=float(used),
                           state=MappingProxyType(dict(state or {})))


@dataclass(frozen=True)
class Restore:
    """One environment resumed from a snapshot (modelled): the durations its first REPORT carries."""

    restore_duration_ms: float
    billed_restore_duration_ms: int
    snapshot_restore_ms: float       # the part Lambda does not bill
    initialization_type: str = INITIALIZATION_TYPE
    modelled: str = MODELLED

    def report_fields(self):
        """The fields a resumed environment's first ``REPORT`` line adds (instead of Init Duration)."""
        return (f"Restore Duration: {self.restore_duration_ms:.2f} ms\t"
                f"Billed Restore Duration: {self.billed_restore_duration_ms} ms")


def restore(version, *, after_restore_ms=(), model=DEFAULT_RESTORE_MODEL):
    """Resume one environment from ``version``'s snapshot (modelled): restore the snapshot, load the
    runtime, run the after-restore hooks (``after_restore_ms``, in registration order).

    Raises ``SnapStartTimeoutException`` when the runtime's load and the hooks pass 10 s.

    >>> v = publish_version("f", init_duration_ms=2000, memory_mb=1024, snapshot_mb=100)
    >>> restore(v).report_fields()
    'Restore Duration: 135.00 ms\\tBilled Restore Duration: 25 ms'
    """
    if not isinstance(version, SnapshotVersion):
        raise SnapStartNotReadyException("No snapshot: publish a version with SnapStart on first.")
    hooks = sum(_ms(h, "an after-restore hook's duration") for h in after_restore_ms)
    billed_part = model.runtime_load_ms + hooks
    if billed_part > AFTER_RESTORE_TIMEOUT_S * 1000:
        raise SnapStartTimeoutException(
            f"The after-restore runtime hooks of {version.function_name}:{version.version} did not complete "
            f"within {AFTER_RESTORE_TIMEOUT_S:.0f} seconds.")
    snapshot_ms = model.snapshot_base_ms + model.snapshot_ms_per_mb * version.snapshot_mb
    return Restore(restore_duration_ms=snapshot_ms + billed_part,
                   billed_restore_duration_ms=math.ceil(round(billed_part, 6)),
                   snapshot_restore_ms=snapshot_ms)


def resume_environments(version, count, *, after_restore=None, seed=0):
    """The globals of ``count`` environments resumed from one snapshot (modelled): each starts as a
    copy of ``version.state``, so whatever INIT made "unique" is the same in all of them.

    ``after_restore(state, rng)`` is an after-restore hook: it may change the environment's copy,
    with ``rng`` standing for the fresh entropy a resumed environment can draw (one
    ``random.Random`` per environment, seeded from ``seed``, so a notebook is reproducible).

    >>> v = publish_version("f", init_duration_ms=100, memory_mb=128, state={"request_prefix": "a1"})
    >>> [s["request_prefix"] for s in resume_environments(v, 3)]
    ['a1', 'a1', 'a1']
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise InvalidParameterValueException(f"count must be a whole number of environments >= 1, not {count!r}")
    environments = []
    for index in range(count):
        state = dict(version.state)
        if after_restore is not None:
            after_restore(state, random.Random(f"{seed}:{index}"))
        environments.append(state)
    return environments


def duplicates(environments, key):
    """How many environments share a value of ``key`` with another one (0 when all are unique)."""
    seen = {}
    for state in environments:
        value = state.get(key)
        seen[value] = seen.get(value, 0) + 1
    return sum(n for n in seen.values() if n > 1)


@dataclass(frozen=True)
class SnapStartCost:
    """SnapStart's own charges for a Python function (modelled from the price table)."""

    cache_gb_s: Decimal
    cache_usd: Decimal
    restored_gb: Decimal
    restore_usd: Decimal
    prices_source: str

    @property
    def total_usd(self):
        return self.cache_usd + self.restore_usd


def snapstart_cost(memory_mb, *, restores, cache_hours, prices=None):
    """The cache charge (memory in GB x seconds the version is cached, at least 3 hours) and the
    restore charge (memory in GB x environments resumed), as exact ``Decimal`` USD.

    Duration and requests are billed as usual on top; the billed restore duration counts as
    duration. Prices: ``lambdalab_ext.pricing.US_EAST_1`` unless ``prices`` is another ``PriceTable``
    (not verified on AWS's pricing page: see the module's docstring).

    >>> c = snapstart_cost(1024, restores=1000, cache_hours=24)
    >>> c.cache_gb_s, c.restored_gb
    (Decimal('86400'), Decimal('1000'))
    """
    from ..pricing import US_EAST_1   # pricing is pure; imported here to keep this module light
    table = prices or US_EAST_1
    if not isinstance(memory_mb, int) or isinstance(memory_mb, bool) or not MEMORY_MIN_MB <= memory_mb <= MEMORY_MAX_MB:
        raise InvalidParameterValueException(f"MemorySize {memory_mb!r} is outside {MEMORY_MIN_MB}-{MEMORY_MAX_MB} MB.")
    if not isinstance(restores, int) or isinstance(restores, bool) or restores < 0:
        raise InvalidParameterValueException(f"restores must be a whole number >= 0, not {restores!r}")
    if not isinstance(cache_hours, (int, float)) or isinstance(cache_hours, bool) or cache_hours < 0:
        raise InvalidParameterValueException(f"cache_hours must be a number of hours >= 0, not {cache_hours!r}")
    gb = Decimal(memory_mb) / Decimal(1024)
    seconds = max(Decimal(str(cache_hours)), Decimal(SNAPSTART_MIN_CACHE_HOURS)) * 3600
    cache_gb_s = gb * seconds
    restored_gb = gb * restores
    return SnapStartCost(cache_gb_s=cache_gb_s, cache_usd=cache_gb_s * table.snapstart_cache,
                         restored_gb=restored_gb, restore_usd=restored_gb * table.snapstart_restore,
                         prices_source=table.source)

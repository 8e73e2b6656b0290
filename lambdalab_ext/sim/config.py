"""What the simulator is told: one function's configuration and the service's rules.

Every rule says where it comes from (sections of ``shared/docs/lambda-facts.md``), and every
rule can be switched off or changed, so a notebook can ask "what if Lambda did not do this?".

>>> FunctionConfig(warm_duration=0.120, init_duration=0.250, memory_mb=512).memory_gb
0.5
>>> legacy_burst("us-east-1")
TokenBucket(capacity=3000, refill_per_second=8.333333333333334)
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import limits
from .distributions import Distribution, Uniform, as_distribution

__all__ = [
    "TokenBucket",
    "SCALING_2023",
    "legacy_burst",
    "KEEP_ALIVE_MODERN",
    "ServiceRules",
    "FunctionConfig",
    "REQUEST_RESPONSE",
    "EVENT",
]

REQUEST_RESPONSE = "RequestResponse"  # synchronous invoke: the caller waits, a throttle is a 429
EVENT = "Event"                        # asynchronous invoke: Lambda queues it and answers 202

# "Modern" keep-alive preset: an idle lifetime of 5-7 minutes (mikhail.io, docs/lambda-facts.md §1.7).
KEEP_ALIVE_MODERN = Uniform(300.0, 420.0)


@dataclass(frozen=True)
class TokenBucket:
    """How fast a function may add execution environments (scale-out rate).

    Each new execution environment takes one token; when fewer than one token is left the request
    that needed a new environment is throttled. The bucket refills continuously at
    ``refill_per_second`` and never holds more than ``capacity`` (unused rate does not accrue).
    Reusing a warm environment takes no token.

    Two presets:

    - :data:`SCALING_2023` = ``TokenBucket(1000, 100)``: since 26-27 Nov 2023 each function can add
      1,000 environments every 10 s, refilled continuously, with at most 1,000 of headroom at any
      instant (docs/lambda-facts.md §1.2, AWS "scaling-behavior" page and the "12 times faster" post).
    - :func:`legacy_burst` ``(region)``: the pre-2023 burst model, a bucket of 3,000 / 1,000 / 500
      by Region refilled at 500 per minute (docs/lambda-facts.md §1.3; token-bucket reading from an AWS
      re:Post answer [2ND]). In AWS it was shared by the account; this simulator has one function,
      so the difference does not show.
    """

    capacity: float
    refill_per_second: float

    def __post_init__(self):
        if not (self.capacity >= 1 and self.refill_per_second >= 0):
            raise ValueError(
                f"TokenBucket(capacity={self.capacity!r}, refill_per_second={self.refill_per_second!r}): "
                "need capacity >= 1 (a bucket that can never start one environment throttles everything; "
                "use reserved_concurrency=0 for that) and refill_per_second >= 0")


SCALING_2023 = TokenBucket(capacity=1000, refill_per_second=100.0)

_LEGACY_BURST = {
    "us-west-2": 3000, "us-east-1": 3000, "eu-west-1": 3000,
    "ap-northeast-1": 1000, "eu-central-1": 1000, "us-east-2": 1000,
}


def legacy_burst(region: str = "us-east-1") -> TokenBucket:
    """The pre-Nov-2023 burst model for a Region: 3,000 in us-west-2, us-east-1 and eu-west-1;
    1,000 in ap-northeast-1, eu-central-1 and us-east-2; 500 elsewhere; then +500 per minute
    (docs/lambda-facts.md §1.3, AWS burst-concurrency page)."""
    return TokenBucket(capacity=_LEGACY_BURST.get(region, 500), refill_per_second=500 / 60)


_ROUTINGS = ("newest", "mru", "lru")


@dataclass(frozen=True)
class ServiceRules:
    """The Lambda service's rules. Defaults are docs/lambda-facts.md §7; ``None`` switches a rule off.

    Parameters
    ----------
    account_concurrency:
        Concurrent executions allowed in the Region for the account: 1,000 by default, a soft quota
        (docs/lambda-facts.md §1.1). A request that would exceed it is throttled (429). ``None``: no limit.
        SimFaaS calls this ``maximum_concurrency`` and rejects at the same point.
    scale_out:
        A :class:`TokenBucket` limiting how fast new environments start: :data:`SCALING_2023`
        (default), :func:`legacy_burst`, or ``None`` for instant scaling (SimFaaS has no such rule).
    keep_alive:
        How long an idle environment survives after its last request before Lambda reclaims it:
        seconds, or a distribution drawn afresh for each idle period. 600 s by default, the value
        SimFaaS and "Serverless in the Wild" use for AWS; AWS does not document it and recent
        measurements say 5-7 min (:data:`KEEP_ALIVE_MODERN`) (docs/lambda-facts.md §1.7). ``None``: never.
    routing:
        Which idle environment takes the next request. ``"newest"`` (default): the most recently
        created one, SimFaaS's scheduler, which lets older environments expire
        (docs/lambda-facts.md §6.1). ``"mru"``: the one idle the shortest time. ``"lru"``: the one idle
        the longest (keeps every environment alive; shows why Lambda does not do that).
    async_error_retry_delays:
        Waits before the retries of an async event whose invocation failed: 1 min, then 2 min
        (docs/lambda-facts.md §4.2; how many of them are used is ``FunctionConfig.maximum_retry_attempts``).
    async_throttle_backoff:
        ``(first, maximum)`` seconds between retries of a throttled async event: exponential
        from 1 s, doubling, up to 5 min (docs/lambda-facts.md §4.2).

    One request per execution environment at a time (docs/lambda-facts.md §1.6) is not a switch: it is
    what makes an environment a Lambda environment (Managed Instances, which differ, are out of
    scope).
    """

    account_concurrency: int | None = limits.ACCOUNT_CONCURRENCY_DEFAULT
    scale_out: TokenBucket | None = SCALING_2023
    keep_alive: float | Distribution | None = limits.KEEP_ALIVE_DEFAULT_S
    routing: str = "newest"
    async_error_retry_delays: tuple[float, ...] = limits.ASYNC_RETRY_DELAYS_S
    async_throttle_backoff: tuple[float, float] = limits.ASYNC_THROTTLE_BACKOFF_S

    def __post_init__(self):
        if self.account_concurrency is not None and self.account_concurrency < 0:
            raise ValueError("ServiceRules(account_concurrency=...): use a number >= 0, or None for no limit")
        if self.scale_out is not None and not isinstance(self.scale_out, TokenBucket):
            raise TypeError("ServiceRules(scale_out=...): use SCALING_2023, legacy_burst(region), "
                            "TokenBucket(capacity, refill_per_second) or None")
        if self.keep_alive is not None:
            object.__setattr__(self, "keep_alive", as_distribution(self.keep_alive, "keep_alive"))
        if self.routing not in _ROUTINGS:
            raise ValueError(f"ServiceRules(routing={self.routing!r}): use one of {_ROUTINGS}")
        if len(self.async_error_retry_delays) < 2 or min(self.async_error_retry_delays) < 0:
            raise ValueError("ServiceRules(async_error_retry_delays=...): give two delays >= 0 (seconds)")
        first, top = self.async_throttle_backoff
        if not 0 < first <= top:
            raise ValueError("ServiceRules(async_throttle_backoff=(first, maximum)): need 0 < first <= maximum")


@dataclass(frozen=True)
class FunctionConfig:
    """One Lambda function as the simulator sees it.

    Parameters
    ----------
    warm_duration:
        Duration of an invoke on a warm environment (seconds or a distribution).
    cold_duration:
        Total duration of a request that starts a new environment (INIT + invoke), as SimFaaS
        models it. Give either this or ``init_duration``.
    init_duration:
        INIT time added to a warm-duration draw on a cold start. Default 0.25 s, a bare Python
        handler (docs/lambda-facts.md §2.4), used only when ``cold_duration`` is not given.
    memory_mb:
        128-10,240 MB (docs/lambda-facts.md §3.2). Used for GB-seconds.
    reserved_concurrency:
        Both the cap and a guarantee for this function; 0 throttles every invocation
        (docs/lambda-facts.md §1.4). ``None``: not set. AWS keeps at least 100 unreserved, so it must be
        at most ``account_concurrency - 100``.
    provisioned_concurrency:
        Environments initialised before the first request: no cold start, never reclaimed;
        requests beyond them spill over to on-demand environments (docs/lambda-facts.md §1.5, §2.6). They
        count against the account and the reserved concurrency. (AWS recycles them now and then,
        without a visible cold start; not modelled.)
    error_rate:
        Probability that an invocation ends in a function error.
    invocation_type:
        ``"RequestResponse"`` (sync: a throttle is a 429 to the caller, never retried by Lambda,
        docs/lambda-facts.md §4.1) or ``"Event"`` (async: throttles and errors are retried, then sent to
        the dead-letter sink, docs/lambda-facts.md §4.2).
    maximum_retry_attempts:
        Async retries after a function error, 0-2 (default 2).
    maximum_event_age_s:
        Async events older than this are discarded to the dead-letter sink: 60-21,600 s (6 h).
    architecture:
        ``"x86_64"`` (default) or ``"arm64"``: which duration price applies
        (:meth:`SimulationResult.cost`, docs/lambda-facts.md §3.1). It does not change durations here;
        measure the function on each architecture for that.
    """

    warm_duration: float | Distribution = 0.1
    cold_duration: float | Distribution | None = None
    init_duration: float | Distribution | None = None
    memory_mb: int = 128
    reserved_concurrency: int | None = None
    provisioned_concurrency: int = 0
    error_rate: float = 0.0
    invocation_type: str = REQUEST_RESPONSE
    maximum_retry_attempts: int = limits.ASYNC_MAX_RETRY_ATTEMPTS
    maximum_event_age_s: float = float(limits.ASYNC_MAX_EVENT_AGE_S)
    architecture: str = "x86_64"

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 - frozen dataclass
        set_("warm_duration", as_distribution(self.warm_duration, "warm_duration"))
        if self.cold_duration is not None and self.init_duration is not None:
            raise ValueError("FunctionConfig: give cold_duration (INIT + invoke) or init_duration (INIT only), not both")
        if self.cold_duration is not None:
            set_("cold_duration", as_distribution(self.cold_duration, "cold_duration"))
        else:
            set_("init_duration", as_distribution(0.25 if self.init_duration is None else self.init_duration,
                                                  "init_duration"))
        if not limits.MEMORY_MIN_MB <= self.memory_mb <= limits.MEMORY_MAX_MB:
            raise ValueError(f"FunctionConfig(memory_mb={self.memory_mb!r}): Lambda allows "
                             f"{limits.MEMORY_MIN_MB}-{limits.MEMORY_MAX_MB:,} MB")
        if self.architecture not in ("x86_64", "arm64"):
            raise ValueError(f"FunctionConfig(architecture={self.architecture!r}): use 'x86_64' or 'arm64'")
        if self.reserved_concurrency is not None and self.reserved_concurrency < 0:
            raise ValueError("FunctionConfig(reserved_concurrency=...): use a number >= 0 (0 throttles all), or None")
        if self.provisioned_concurrency < 0:
            raise ValueError("FunctionConfig(provisioned_concurrency=...): use a number >= 0")
        if (self.reserved_concurrency is not None
                and self.provisioned_concurrency > self.reserved_concurrency):
            raise ValueError(
                f"FunctionConfig: provisioned_concurrency ({self.provisioned_concurrency}) cannot exceed "
                f"reserved_concurrency ({self.reserved_concurrency}); raise the reservation or lower PC")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"FunctionConfig(error_rate={self.error_rate!r}): a probability in [0, 1]")
        if self.invocation_type not in (REQUEST_RESPONSE, EVENT):
            raise ValueError(f"FunctionConfig(invocation_type={self.invocation_type!r}): "
                             f"use {REQUEST_RESPONSE!r} (sync) or {EVENT!r} (async)")
        if self.maximum_retry_attempts not in (0, 1, 2):
            raise ValueError("FunctionConfig(maximum_retry_attempts=...): Lambda allows 0, 1 or 2")
        if not 60 <= self.maximum_event_age_s <= 21600:
            raise ValueError("FunctionConfig(maximum_event_age_s=...): Lambda allows 60-21,600 s")

    @property
    def memory_gb(self) -> float:
        return self.memory_mb / 1024

    def check_against(self, rules: ServiceRules) -> None:
        """Raise if this function asks for more than the account allows (AWS's own checks)."""
        acct = rules.account_concurrency
        if acct is None:
            return
        minimum = limits.UNRESERVED_MINIMUM
        if self.reserved_concurrency is not None and self.reserved_concurrency > max(0, acct - minimum):
            raise ValueError(
                f"reserved_concurrency={self.reserved_concurrency} leaves fewer than {minimum} unreserved of "
                f"account_concurrency={acct} (docs/lambda-facts.md §1.4); lower it or raise "
                "ServiceRules(account_concurrency=...)")
        if self.provisioned_concurrency > acct:
            raise ValueError(
                f"provisioned_concurrency={self.provisioned_concurrency} exceeds "
                f"account_concurrency={acct}; lower it or raise ServiceRules(account_concurrency=...)")

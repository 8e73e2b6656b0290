"""Real runs that feed and check the simulator: measure a function, fire a burst at it.

The simulator scales to millions of requests; these run the *real* function, in real execution
environments, at the scale a laptop holds (tens): :func:`measure` collects the cold and warm
durations :func:`~lambdalab_ext.sim.calibrate` needs, and :func:`burst` fires concurrent
invocations to show real scale-out (one new environment, one cold start, per concurrent request)
and real throttling (``TooManyRequestsException`` beyond reserved concurrency).

They drive a :class:`lambdalab_ext.lab.Function` through its public methods only (``invoke``,
``update``, ``config``), so the simulator still imports nothing from the runtime::

    from lambdalab_ext import Lab
    from lambdalab_ext.sim import burst, measure

    lab = Lab()
    fn = lab.deploy("work", "import time\\ndef handler(e, c):\\n    time.sleep(e['s'])\\n")
    results = measure(fn, {"s": 0.05}, warm=10, cold=3)
    sum(r.cold for r in results), len(results)        # (3, 13)
    b = burst(fn, 8, {"s": 1})
    b.environments, b.cold_starts, b.throttles         # (8, 8, 0)
"""

from __future__ import annotations

import html
import threading
import time
import uuid
from dataclasses import dataclass, field

from ..errors import TooManyRequestsException

__all__ = ["FORCE_COLD_START_VARIABLE", "measure", "burst", "BurstRequest", "BurstResult"]

# The variable measure() changes to force a cold start. Any configuration change gives a function
# new execution environments; AWS's Lambda benchmark harness (singledigit/lambda-benchmark,
# docs/lambda-facts.md §2.4) changes an environment variable for exactly that reason.
FORCE_COLD_START_VARIABLE = "LAMBDALAB_FORCE_COLD_START"


def measure(fn, event=None, warm: int = 20, cold: int = 5) -> list:
    """Invoke a real function to measure ``cold`` cold starts and ``warm`` warm invocations.

    Each cold start is forced the way AWS's own benchmark harness does it: changing an
    environment variable (:data:`FORCE_COLD_START_VARIABLE`) to a new value, which retires the
    function's environments, so the next invoke starts a new one. The warm invocations follow on
    the environment the last cold start left warm. Afterwards the function's variables are put
    back as they were (which, being a configuration change too, retires that environment).

    Returns the ``InvocationResult`` list, cold starts first, ready for
    :func:`~lambdalab_ext.sim.calibrate`. Throttles (e.g. reserved concurrency 0) raise
    ``TooManyRequestsException``; function errors come back in the results, as Lambda returns
    them.

    >>> results = measure(lab.functions["hello"], {"name": "Ada"}, warm=20, cold=5)  # doctest: +SKIP
    >>> [r.cold for r in results].count(True)                                        # doctest: +SKIP
    5
    """
    if cold < 0 or warm < 0 or cold + warm == 0:
        raise ValueError(f"measure(warm={warm!r}, cold={cold!r}): ask for at least one invocation, none negative")
    if cold and fn.config.provisioned_concurrency:
        raise ValueError(f"measure: {fn.name} has provisioned concurrency "
                         f"({fn.config.provisioned_concurrency}), so its invocations find environments "
                         "initialised in advance and never start cold; fn.update(provisioned_concurrency=0) "
                         "first, or measure(..., cold=0)")
    original = dict(fn.config.environment)
    if FORCE_COLD_START_VARIABLE in original:
        raise ValueError(f"measure: the function already sets {FORCE_COLD_START_VARIABLE}; remove it first "
                         "(measure changes it to force cold starts)")
    results = []
    try:
        for _ in range(cold):
            fn.update(env={**original, FORCE_COLD_START_VARIABLE: uuid.uuid4().hex[:12]})
            results.append(fn.invoke(event))
        for _ in range(warm):
            results.append(fn.invoke(event))
    finally:
        if cold:
            fn.update(env=original)
    return results


@dataclass(frozen=True)
class BurstRequest:
    """One request of a :func:`burst`: its ``result`` (an ``InvocationResult``) or the
    ``throttle`` (the ``TooManyRequestsException`` Lambda answered instead), and when it was sent
    and answered (seconds since the burst started)."""

    index: int
    sent_s: float
    answered_s: float
    result: object = None
    throttle: TooManyRequestsException | None = None

    @property
    def throttled(self) -> bool:
        return self.throttle is not None


@dataclass(frozen=True)
class BurstResult:
    """What a :func:`burst` did, request by request (``requests``, in the order they were fired).

    ``served``, ``throttles``, ``cold_starts`` and ``warm_starts`` count requests;
    ``environments`` counts the distinct execution environments that served them, and
    ``cold_starts_per_environment`` maps each environment id to its cold starts (Lambda starts
    each environment with exactly one). ``throttle_reasons`` counts Lambda's ``Reason`` of the
    throttles.
    """

    function_name: str
    requests: list = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def results(self) -> list:
        """The ``InvocationResult`` of each served request."""
        return [r.result for r in self.requests if r.result is not None]

    @property
    def served(self) -> int:
        return len(self.results)

    @property
    def throttles(self) -> int:
        return sum(r.throttled for r in self.requests)

    @property
    def cold_starts(self) -> int:
        return sum(r.cold for r in self.results)

    @property
    def warm_starts(self) -> int:
        return self.served - self.cold_starts

    @property
    def cold_starts_per_environment(self) -> dict:
        per = {}
        for r in self.results:
            per[r.environment_id] = per.get(r.environment_id, 0) + int(r.cold)
        return per

    @property
    def environments(self) -> int:
        return len(self.cold_starts_per_environment)

    @property
    def throttle_reasons(self) -> dict:
        reasons = {}
        for r in self.requests:
            if r.throttled:
                reason = r.throttle.details.get("Reason", "")
                reasons[reason] = reasons.get(reason, 0) + 1
        return reasons

    def _rows(self):
        rows = [("requests", f"{len(self.requests)} at once"),
                ("served", f"{self.served} ({self.cold_starts} cold, {self.warm_starts} warm)"),
                ("execution environments used", str(self.environments)),
                ("throttled (TooManyRequestsException)", str(self.throttles))]
        rows += [(f"  Reason: {k}", str(v)) for k, v in self.throttle_reasons.items()]
        rows.append(("wall time", f"{self.wall_s:.2f} s"))
        return rows

    def __str__(self):
        rows = self._rows()
        w = max(len(k) for k, _ in rows)
        return f"burst of {self.function_name}\n" + "\n".join(f"{k.ljust(w)}  {v}" for k, v in rows)

    def _repr_html_(self):
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in self._rows())
        return (f"<table class='lambdalab-burst'><caption>Burst of {html.escape(self.function_name)}"
                f"</caption>{body}</table>")

    def __repr__(self):
        return (f"<BurstResult {self.function_name}: {len(self.requests)} requests, {self.served} served "
                f"on {self.environments} environments, {self.cold_starts} cold, {self.throttles} throttled>")


def burst(fn, n: int, event=None) -> BurstResult:
    """Fire ``n`` invocations of a real function at once, each from its own thread.

    Each concurrent request that finds no idle environment gets a new one (a cold start), up to
    the function's concurrency limit; beyond it Lambda throttles: the request fails at once with
    ``TooManyRequestsException`` (HTTP 429), which is recorded, not raised. Any other error is
    raised once every thread is done. Keep ``n`` to what the machine holds (each environment is
    a container): tens, not thousands. The simulator does thousands.

    >>> fn.update(reserved_concurrency=4)                          # doctest: +SKIP
    >>> b = burst(fn, 10, {"seconds": 2})                          # doctest: +SKIP
    >>> b.served, b.throttles, b.throttle_reasons                  # doctest: +SKIP
    (4, 6, {'ReservedFunctionConcurrentInvocationLimitExceeded': 6})
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"burst(n={n!r}): the number of concurrent requests must be a whole number >= 1")
    outcomes = [None] * n
    failures = []
    # Every thread waits at the barrier, so the requests reach the service together rather than
    # as fast as threads happen to start.
    start = threading.Barrier(n + 1)
    t0 = [0.0]

    def one(i):
        start.wait()
        sent = time.perf_counter() - t0[0]
        try:
            result = fn.invoke(event)
            outcomes[i] = BurstRequest(i, sent, time.perf_counter() - t0[0], result=result)
        except TooManyRequestsException as exc:
            outcomes[i] = BurstRequest(i, sent, time.perf_counter() - t0[0], throttle=exc)
        except BaseException as exc:  # re-raised in the caller's thread below
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(i,), name=f"lambdalab-burst-{i}", daemon=True)
               for i in range(n)]
    for t in threads:
        t.start()
    t0[0] = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0[0]
    if failures:
        raise failures[0]
    return BurstResult(fn.name, outcomes, wall)

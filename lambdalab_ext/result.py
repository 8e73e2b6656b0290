"""``InvocationResult``: what one invocation returned and what it cost, as Lambda reports it."""

import dataclasses
import json


@dataclasses.dataclass
class InvocationResult:
    """The outcome of one invocation.

    ``payload`` is the handler's return value (decoded JSON); on a function error it is Lambda's
    error object (``errorType``, ``errorMessage``, ``stackTrace``), as the Invoke API returns it, and
    ``function_error`` is ``"Unhandled"``. ``logs`` is the log stream's text for this invocation:
    the function's output framed by START / END / REPORT (and INIT_START on a cold start).

    >>> r = fn.invoke({"name": "Ada"})                                   # doctest: +SKIP
    >>> r.payload, r.cold, r.billed_duration_ms                          # doctest: +SKIP
    ({'greeting': 'hello Ada'}, True, 95)
    """

    function_name: str
    request_id: str
    raw_payload: bytes | None
    error: dict | None
    function_error: str | None
    status: str                    # "success" | "error" | "timeout"
    cold: bool
    duration_ms: float
    billed_duration_ms: int
    init_duration_ms: float | None
    memory_size_mb: int
    max_memory_used_mb: int | None
    logs: str
    environment_id: str
    log_stream_name: str
    initialization_type: str = "on-demand"
    architecture: str = "x86_64"
    ephemeral_storage_mb: int = 512
    latency_ms: float = 0.0        # what the caller waited, cold start included
    start_time: float = 0.0        # epoch seconds when the event was handed to the runtime
    end_time: float = 0.0          # epoch seconds when the result (or the timeout) came
    backend: str = ""

    @property
    def payload(self):
        """The returned value, or Lambda's error object when the function failed.

        The Invoke API returns the bytes the runtime posted; most runtime clients post JSON, and
        then this is the decoded value. A body that is not JSON (awslambdaric posts a handler's
        ``bytes`` as they are) is its text when it is UTF-8, else the ``bytes`` themselves, as
        is JSON nested too deeply to decode here. Never raises: ``raw_payload`` has the bytes.
        """
        if self.error is not None:
            return self.error
        if self.raw_payload is None:
            return None
        try:
            return json.loads(self.raw_payload)
        except (ValueError, RecursionError):
            try:
                return bytes(self.raw_payload).decode("utf-8")
            except UnicodeDecodeError:
                return bytes(self.raw_payload)

    @property
    def ok(self):
        return self.error is None

    @property
    def status_code(self):
        """The Invoke API's HTTP status: 200 for a synchronous invoke (a function error included)."""
        return 200

    @property
    def cost(self):
        """What this invocation would cost on Lambda (us-east-1, tier 1, no free tier): an ``InvocationCost``."""
        from .pricing import cost_of
        return cost_of(self)

    @property
    def report(self):
        """The REPORT line of this invocation."""
        for line in reversed(self.logs.splitlines()):
            if line.startswith("REPORT "):
                return line
        return ""

    @property
    def output(self):
        """Only what the function printed, without the platform's lines."""
        from .report import PLATFORM_LINE_PREFIXES
        return "".join(line for line in self.logs.splitlines(keepends=True)
                       if not line.startswith(PLATFORM_LINE_PREFIXES))

    def __str__(self):
        from .display import to_text
        return to_text(self)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self):
        from .display import to_html
        return to_html(self)


@dataclasses.dataclass(frozen=True)
class AcceptedInvocation:
    """What the Invoke API answers at once to an ``Event`` invocation (202: queued, with its request
    id) or a ``DryRun`` (204: the function exists and may be invoked). What happens next is in the
    lab record: ``lab.record.events(request_id=accepted.request_id)``."""

    function_name: str
    request_id: str
    invocation_type: str
    status_code: int
    payload: None = None

    @property
    def ok(self):
        return True

    def __str__(self):
        what = "queued for asynchronous invocation" if self.status_code == 202 else "may be invoked (dry run)"
        return f"{self.function_name}: {self.status_code} {what}, request {self.request_id}"

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

"""The invocation request: what Lambda carries with an event, from whoever invoked to the runtime.

A synchronous invoke, the asynchronous queue, a poller and a workflow all build one; destinations,
recursion detection and traces read it. Fields follow the Invoke API ("Invoke", AWS Lambda API
Reference) and the Runtime API's headers ("Using the Lambda runtime API for custom runtimes").

>>> request = InvocationRequest.make("resize", b'{"key": "a.png"}', invocation_type="Event",
...                                  source="s3", source_arn="arn:aws:s3:::uploads")
>>> request.invocation_type, request.source, request.attempt
('Event', 's3', 1)
"""

import dataclasses
import secrets
import time
import uuid

from .recursion import child_header, depth_of

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


def new_trace_header(sampled=False):
    """An X-Ray trace header as Lambda writes it:
    ``Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0;Lineage=1:<8 hex>:0``."""
    random = secrets.token_hex(24)   # one read of the system's randomness for the three ids
    return (f"Root=1-{int(time.time()):08x}-{random[:24]};Parent={random[24:40]};"
            f"Sampled={1 if sampled else 0};Lineage=1:{random[40:]}:0")


@dataclasses.dataclass
class InvocationRequest:
    """One request to invoke a function, as the Lambda service holds it."""

    function_name: str
    payload: bytes
    invocation_type: str = "RequestResponse"
    request_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    client_context: dict | None = None         # the mobile-SDK ClientContext (sync invokes)
    cognito_identity: dict | None = None       # {"cognitoIdentityId", "cognitoIdentityPoolId"}
    trace_header: str | None = None            # X-Amzn-Trace-Id, propagated downstream
    source: str = "direct"                     # who invoked: direct, lambda-api, s3, sqs, sns, ...
    source_arn: str | None = None
    source_account: str | None = None
    qualifier: str = "$LATEST"
    attempt: int = 1                           # asynchronous attempts: 1, 2, 3
    accepted_at: float | None = None           # lab clock, when the event was queued (event age)
    recursion_depth: int = 0                   # invocations in this chain so far (loop detection)

    def __post_init__(self):
        if self.invocation_type not in INVOCATION_TYPES:
            from .errors import InvalidParameterValueException
            raise InvalidParameterValueException(
                f"1 validation error detected: Value '{self.invocation_type}' at 'invocationType' failed to "
                f"satisfy constraint: Member must satisfy enum value set: [{', '.join(INVOCATION_TYPES)}]")
        if self.trace_header is None:
            self.trace_header = new_trace_header()

    @classmethod
    def make(cls, function_name, payload, **fields):
        return cls(function_name=function_name, payload=payload, **fields)

    @classmethod
    def caused_by(cls, upstream_trace_header, function_name, payload, **fields):
        """The request that an AWS call made with ``upstream_trace_header`` causes (a message a
        function sent to SQS or SNS, an object it put in S3, a Lambda Invoke from inside it): the same
        trace, one step further in its chain, which is how Lambda counts a recursive loop
        (``lambdalab_ext.recursion``). A call from outside any function starts a new chain."""
        upstream = depth_of(upstream_trace_header)
        if upstream is None:   # a header from elsewhere is carried as it is
            return cls(function_name=function_name, payload=payload, trace_header=upstream_trace_header or None,
                       **fields)
        return cls(function_name=function_name, payload=payload, trace_header=child_header(upstream_trace_header),
                   recursion_depth=upstream + 1, **fields)

    def retry(self):
        """The same event, one attempt later (an asynchronous retry keeps the request id)."""
        return dataclasses.replace(self, attempt=self.attempt + 1)

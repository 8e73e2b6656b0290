"""Event source mappings: what ``CreateEventSourceMapping`` configures, and the poller each one runs.

The Lambda API's event source mapping operations (AWS Lambda API Reference:
``CreateEventSourceMapping``, ``ListEventSourceMappings``, ``GetEventSourceMapping``,
``UpdateEventSourceMapping``, ``DeleteEventSourceMapping``) are answered here, with AWS's shapes,
states and errors; the lab's Lambda API (``aws.lambda_api``) and ``Lab.create_event_source_mapping``
both call this registry, so a cell, boto3 in a cell and boto3 inside a function see the same mappings.

What AWS answers, and the lab too (the shapes were recorded against AWS by LocalStack's
snapshot tests, ``tests/aws/services/lambda_/test_lambda_api.snapshot.json`` and
``event_source_mapping/test_lambda_integration_sqs.snapshot.json``, 2025-11):

- Create answers **202** with ``State: "Creating"`` (``"Disabled"`` when created with
  ``Enabled=False``), then the mapping is ``"Enabled"``; an update answers 202 with ``"Updating"``,
  ``"Enabling"`` or ``"Disabling"``; a delete answers 202 with ``"Deleting"``, then the mapping is gone.
  Here a transition settles on the lab clock, at the next moment it runs (at once on the real clock,
  at the next ``advance()`` of a virtual one): only then does the poller start or stop.
- ``StateTransitionReason`` is ``"USER_INITIATED"`` for SQS; ``UUID``, ``EventSourceMappingArn``
  (``arn:aws:lambda:REGION:ACCOUNT:event-source-mapping:UUID``), ``FunctionArn`` (unqualified),
  ``LastModified`` (epoch seconds), then the source's own settings.
- An unknown UUID is ``ResourceNotFoundException`` (404) "The resource you requested does not
  exist."; a function that does not exist is ``InvalidParameterValueException`` "Function does not
  exist"; no ``EventSourceArn`` is "Unrecognized event source."; a second mapping of the same queue
  to the same function is ``ResourceConflictException`` (409).

Each kind of source validates its own settings and runs its own poller (a ``SourceKind``): SQS is
``sources.sqs.SQS_SOURCE``; DynamoDB streams and Kinesis are ``sources.streams``. A kind plugs in so:

>>> class StreamSource(SourceKind):                                         # doctest: +SKIP
...     name = "kinesis"
...     def matches(self, arn): return arn.split(":")[2] == "kinesis"
...     def validate(self, settings, arn, context, function): return streams.validate(settings, arn)
...     def poller(self, mapping, context): return streams.StreamPoller(mapping.uuid, ...)
>>> register_source_kind(StreamSource())                                   # doctest: +SKIP

A poller has ``start()`` (begin polling), ``stop()`` (stop polling; what it holds ends as its source
requires: SQS messages in flight still return after their visibility timeout) and ``close()`` (the
lab is shutting down); it reads ``mapping.settings`` and ``mapping.function_name`` afresh each time,
so an update takes effect at its next poll (a poller with ``update(mapping)`` is told instead).
"""

import dataclasses
import datetime
import threading
import time
import uuid as _uuid

from ..errors import (InvalidParameterValueException, LambdaServiceError, ResourceConflictException,
                      ResourceNotFoundException)
from ..limits import FUNCTION_NAME_RE, function_arn

NOT_FOUND = "The resource you requested does not exist."
# The request fields every kind shares; each kind adds its own (``SourceKind.settings_names``).
COMMON_FIELDS = ("FunctionName", "EventSourceArn", "Enabled", "Tags", "UUID")
LIST_MAX_ITEMS = 10_000


class ValidationException(LambdaServiceError, ValueError):
    """A value outside the API's own constraints (a range, an enum), as the Lambda API names it."""

    error_type = "ValidationException"
    status_code = 400


def constraint(value, field, text):
    """AWS's wording for a request member that breaks the API's model."""
    return ValidationException(f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
                               f"constraint: {text}")


def whole_number(settings, name, low, high):
    """``settings[name]`` as an int within ``low``-``high``, or the error the Lambda API gives."""
    value = settings[name]
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InvalidParameterValueException(f"{name} must be a whole number, got {value!r}.")
    field = name[0].lower() + name[1:]
    if value < low:
        raise constraint(value, field, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise constraint(value, field, f"Member must have value less than or equal to {high}")
    settings[name] = value
    return value


class SourceKind:
    """One kind of event source (SQS, Kinesis, DynamoDB streams...): its settings and its poller."""

    name = "source"
    settings_names = ()             # the request fields this kind takes, beyond COMMON_FIELDS

    def matches(self, arn):
        """True for an ``EventSourceArn`` of this kind."""
        raise NotImplementedError

    def validate(self, settings, arn, context, function):
        """The settings (AWS's names) with this kind's defaults, checked as Lambda checks them for the
        function's configuration ``function``; raises the Lambda API's errors."""
        raise NotImplementedError

    def fields(self, mapping):
        """The kind's fields of the API's answer, in AWS's order (after EventSourceMappingArn and
        FunctionArn)."""
        return dict(mapping.settings)

    def conflict(self, mapping, function_name):
        return ResourceConflictException(
            f'The event source arn (" {mapping.event_source_arn} ") and function (" {function_name} ") provided '
            f"mapping already exists. Please update or delete the existing mapping with UUID {mapping.uuid}")

    def state_transition_reason(self):
        return "User action"

    def poller(self, mapping, context):
        """A poller for ``mapping``: ``start()``, ``stop()``, ``close()``."""
        raise NotImplementedError


_KINDS = []


def register_source_kind(kind):
    """Make ``CreateEventSourceMapping`` accept (and poll) sources of ``kind``; the latest registered
    kind that matches an ARN wins."""
    _KINDS.insert(0, kind)
    return kind


def _source_kind(arn):
    from . import sqs, streams   # noqa: F401  (register the SQS, DynamoDB-stream and Kinesis kinds on first use)
    for kind in _KINDS:
        if kind.matches(arn):
            return kind
    return None


@dataclasses.dataclass
class MappingContext:
    """What pollers use: the service (``invoke_request``, ``get``), the AWS endpoint (``observe``),
    the lab clock and record, and where the lab is."""

    service: object
    aws: object
    clock: object
    record: object
    region: str
    account_id: str
    deliver: object = None         # deliver(arn, message, attributes): on-failure destinations (streams)


@dataclasses.dataclass
class EventSourceMapping:
    """One mapping, as the registry holds it. ``settings`` are the kind's own (AWS names)."""

    uuid: str
    function_name: str
    event_source_arn: str
    kind: SourceKind
    settings: dict
    enabled: bool
    state: str
    last_modified: float
    region: str
    account_id: str
    state_transition_reason: str = "USER_INITIATED"
    tags: dict = dataclasses.field(default_factory=dict)
    poller: object = None
    generation: int = 0            # bumped by every change: a stale transition does not settle

    @property
    def function_arn(self):
        return function_arn(self.function_name, self.region, self.account_id)

    @property
    def arn(self):
        return f"arn:aws:lambda:{self.region}:{self.account_id}:event-source-mapping:{self.uuid}"

    def as_api(self):
        """The mapping as the Lambda API answers it (``EventSourceMappingConfiguration``)."""
        kind_fields = self.kind.fields(self)
        body = {}
        body.update({"EventSourceArn": self.event_source_arn, "EventSourceMappingArn": self.arn,
                     "FunctionArn": self.function_arn})
        body.update(kind_fields)
        body.update({"LastModified": self.last_modified, "State": self.state,
                     "StateTransitionReason": self.state_transition_reason, "UUID": self.uuid})
        return dict(sorted(body.items()))       # AWS's answers list the fields alphabetically


def _split_function(value):
    """A FunctionName parameter (a name, an ARN, a partial ARN) as (name, qualifier)."""
    if not isinstance(value, str) or not value:
        raise InvalidParameterValueException("FunctionName is required: the name or ARN of a function.")
    text = value
    if text.startswith("arn:"):
        parts = text.split(":")
        if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
            raise InvalidParameterValueException("Function does not exist")
        name, qualifier = parts[6], (parts[7] if len(parts) > 7 else None)
    elif ":function:" in text:
        rest = text.split(":function:", 1)[1].split(":")
        name, qualifier = rest[0], (rest[1] if len(rest) > 1 else None)
    else:
        name, _, qualifier = text.partition(":")
        qualifier = qualifier or None
    if not FUNCTION_NAME_RE.fullmatch(name):
        raise InvalidParameterValueException("Function does not exist")
    return name, qualifier


class EventSourceMappings:
    """The lab's event source mappings (one per lab; a lab source: ``close()`` at shutdown).

    Every method takes and returns what the Lambda API does (AWS's field names): ``create(params)``,
    ``list(...)``, ``get(uuid)``, ``update(uuid, params)``, ``delete(uuid)``.
    """

    def __init__(self, service, aws, clock, record, *, region, account_id, deliver=None):
        self.context = MappingContext(service=service, aws=aws, clock=clock, record=record, region=region,
                                      account_id=account_id, deliver=deliver)
        self._mappings = {}            # uuid -> EventSourceMapping, in creation order
        self._lock = threading.RLock()
        self._closed = False

    # -- the API ---------------------------------------------------------------------------------
    def create(self, params):
        """``CreateEventSourceMapping``: the new mapping's configuration (State "Creating")."""
        params = self._params(params)
        arn = params.get("EventSourceArn")
        if not arn or not isinstance(arn, str):
            raise InvalidParameterValueException("Unrecognized event source.")
        kind = _source_kind(arn)
        if kind is None:
            service = arn.split(":")[2] if arn.count(":") >= 5 and arn.startswith("arn:") else None
            if service in ("kafka", "mq", "docdb"):
                raise InvalidParameterValueException(
                    f"lambdalab does not poll {service} event sources: use an SQS queue, a DynamoDB stream "
                    "or a Kinesis stream ARN.")
            raise InvalidParameterValueException("Unrecognized event source.")
        self._check_fields(params, kind)
        name, config = self._function(params.get("FunctionName"))
        enabled = params.get("Enabled", True)
        if not isinstance(enabled, bool):
            raise InvalidParameterValueException(f"Enabled must be true or false, got {enabled!r}.")
        settings = kind.validate({k: v for k, v in params.items() if k in kind.settings_names}, arn,
                                 self.context, config)
        with self._lock:
            self._check_open()
            for other in self._mappings.values():
                if other.event_source_arn == arn and other.function_name == name and other.state != "Deleting":
                    raise kind.conflict(other, name)
            mapping = EventSourceMapping(
                uuid=str(_uuid.uuid4()), function_name=name, event_source_arn=arn, kind=kind, settings=settings,
                enabled=enabled, state="Creating" if enabled else "Disabled", last_modified=time.time(),
                region=self.context.region, account_id=self.context.account_id,
                state_transition_reason=kind.state_transition_reason(), tags=dict(params.get("Tags") or {}))
            self._mappings[mapping.uuid] = mapping
            answer = mapping.as_api()
        self._note(mapping, "create")
        if enabled:
            self._settle(mapping, "Enabled")
        return answer

    def list(self, function_name=None, event_source_arn=None, marker=None, max_items=None):
        """``ListEventSourceMappings``, filtered by function (name or ARN) and/or source ARN."""
        wanted = _split_function(function_name)[0] if function_name else None
        start = 0
        if marker:
            try:
                start = int(marker)
            except ValueError:
                raise InvalidParameterValueException(f"Invalid marker: {marker!r}") from None
        limit = LIST_MAX_ITEMS if max_items in (None, "") else int(max_items)
        if not 1 <= limit <= LIST_MAX_ITEMS:
            raise constraint(limit, "maxItems", f"Member must have value between 1 and {LIST_MAX_ITEMS}")
        with self._lock:
            chosen = [m for m in self._mappings.values()
                      if (wanted is None or m.function_name == wanted)
                      and (event_source_arn is None or m.event_source_arn == event_source_arn)]
            page = [m.as_api() for m in chosen[start:start + limit]]
        body = {"EventSourceMappings": page}
        if start + limit < len(chosen):
            body["NextMarker"] = str(start + limit)
        return body

    def get(self, uuid):
        """``GetEventSourceMapping``."""
        with self._lock:
            return self._get(uuid).as_api()

    def mapping(self, uuid):
        """The ``EventSourceMapping`` itself (its poller, its settings), for a notebook or a test."""
        with self._lock:
            return self._get(uuid)

    def update(self, uuid, params):
        """``UpdateEventSourceMapping``: settings, ``Enabled``, even ``FunctionName``; answers with
        State "Updating", "Enabling" or "Disabling"."""
        params = self._params(params)
        with self._lock:
            mapping = self._get(uuid)
            if mapping.state == "Deleting":
                raise ResourceConflictException(
                    f"Cannot update the event source mapping {uuid}: it is being deleted.")
        kind = mapping.kind
        self._check_fields({k: v for k, v in params.items() if k not in ("EventSourceArn",)}, kind)
        if "EventSourceArn" in params and params["EventSourceArn"] != mapping.event_source_arn:
            raise InvalidParameterValueException("The EventSourceArn of a mapping cannot be changed.")
        name, config = self._function(params.get("FunctionName") or mapping.function_name)
        enabled = params.get("Enabled", mapping.enabled)
        if not isinstance(enabled, bool):
            raise InvalidParameterValueException(f"Enabled must be true or false, got {enabled!r}.")
        merged = dict(mapping.settings)
        merged.update({k: v for k, v in params.items() if k in kind.settings_names})
        settings = kind.validate(merged, mapping.event_source_arn, self.context, config)
        with self._lock:
            self._check_open()
            for other in self._mappings.values():
                if other is not mapping and other.event_source_arn == mapping.event_source_arn \
                        and other.function_name == name and other.state != "Deleting":
                    raise kind.conflict(other, name)
            was = mapping.enabled
            mapping.function_name, mapping.settings, mapping.enabled = name, settings, enabled
            mapping.last_modified = time.time()
            mapping.state = ("Enabling" if enabled and not was else "Disabling" if was and not enabled
                             else "Updating")
            mapping.generation += 1
            answer = mapping.as_api()
            poller = mapping.poller
        if poller is not None and hasattr(poller, "update"):
            poller.update(mapping)
        self._note(mapping, "update")
        self._settle(mapping, "Enabled" if enabled else "Disabled")
        return answer

    def delete(self, uuid):
        """``DeleteEventSourceMapping``: answers with State "Deleting"; the mapping goes at once after."""
        with self._lock:
            mapping = self._get(uuid)
            mapping.state = "Deleting"
            mapping.generation += 1
            answer = mapping.as_api()
        self._note(mapping, "delete")
        self._settle(mapping, None)
        return answer

    # -- life ------------------------------------------------------------------------------------
    def close(self):
        """The lab is shutting down: every poller stops for good."""
        with self._lock:
            self._closed = True
            pollers = [m.poller for m in self._mappings.values() if m.poller is not None]
        for poller in pollers:
            try:
                poller.close()
            except Exception:   # one poller failing to stop must not keep the others running
                pass

    # -- inside ----------------------------------------------------------------------------------
    def _check_open(self):
        if self._closed:
            from ..errors import LabClosedError
            raise LabClosedError()

    @staticmethod
    def _params(params):
        if not isinstance(params, dict):
            raise InvalidParameterValueException("The request must be a JSON object of the API's fields.")
        return {k: v for k, v in params.items() if v is not None}

    @staticmethod
    def _check_fields(params, kind):
        for name in params:
            if name in COMMON_FIELDS or name in kind.settings_names:
                continue
            if name in ("StartingPosition", "StartingPositionTimestamp") and kind.name == "sqs":
                raise InvalidParameterValueException("StartingPosition is not valid for SQS event sources.")
            if name in ("DestinationConfig", "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError",
                        "MaximumRetryAttempts", "ParallelizationFactor", "TumblingWindowInSeconds", "Topics",
                        "Queues", "SelfManagedEventSource", "SourceAccessConfigurations"):
                raise InvalidParameterValueException(
                    f"Unsupported {name} parameter for given event source mapping type.")
            raise InvalidParameterValueException(
                f"lambdalab does not model {str(name)[:100]} on event source mappings; leave it out.")

    def _function(self, value):
        name, qualifier = _split_function(value)
        if qualifier not in (None, "$LATEST"):
            raise InvalidParameterValueException(
                f"lambdalab functions have only $LATEST (no versions or aliases): map {name!r} itself.")
        try:
            config = self.context.service.get(name).config
        except ResourceNotFoundException:
            raise InvalidParameterValueException("Function does not exist") from None
        return name, config

    def _get(self, uuid):
        mapping = self._mappings.get(uuid) if isinstance(uuid, str) else None
        if mapping is None:
            raise ResourceNotFoundException(NOT_FOUND)
        return mapping

    def _note(self, mapping, action):
        self.context.record.append("mapping", mapping.function_name, None, action=action, uuid=mapping.uuid,
                                   state=mapping.state, event_source_arn=mapping.event_source_arn,
                                   source=mapping.kind.name, settings=dict(mapping.settings))

    def _settle(self, mapping, state):
        """End a transition on the lab clock: start, stop or remove the poller, set the final state."""
        generation = mapping.generation

        def settle():
            with self._lock:
                if self._closed or mapping.generation != generation:
                    return          # changed again meanwhile: the later transition settles it
                if state is None:
                    self._mappings.pop(mapping.uuid, None)
                else:
                    mapping.state = state
                poller = mapping.poller
                start = state == "Enabled" and (poller is None or getattr(poller, "stopped", False))
                stop = state != "Enabled" and poller is not None
                if start and poller is None:
                    poller = mapping.poller = mapping.kind.poller(mapping, self.context)
            if stop:
                getattr(poller, "stop", poller.close)()
                if not hasattr(poller, "stop"):
                    mapping.poller = None
            if start:
                poller.start()
            self._note(mapping, "deleted" if state is None else "state")

        self.context.clock.call_later(0, settle, name=f"event source mapping {mapping.uuid} {state or 'deleted'}")


def api_timestamps(body):
    """The answer as boto3 hands it to a cell: ``LastModified`` as an aware datetime."""
    out = dict(body)
    if isinstance(out.get("LastModified"), (int, float)):
        out["LastModified"] = datetime.datetime.fromtimestamp(out["LastModified"], datetime.timezone.utc)
    return out

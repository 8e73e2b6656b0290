"""An execution's history: events named and shaped as ``GetExecutionHistory`` returns them.

Each event has ``timestamp``, ``type`` (``HistoryEventType``), ``id`` (from 1), ``previousEventId``
(the event before it on the same path of the workflow: the main path, one Parallel branch or one
Map iteration) and, for the types that have them, one ``<type>EventDetails`` member, e.g.
``stateEnteredEventDetails`` {name, input, inputDetails}. Input and output are JSON *strings*, as
the API returns them. Source: the ``HistoryEvent`` shape of the Step Functions API
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html).

>>> h = ExecutionHistory()
>>> first = h.add("ExecutionStarted", 0.0, None, input={"a": 1}, roleArn="arn:aws:iam::123456789012:role/x")
>>> h.add("PassStateEntered", 0.0, first, name="P", input={"a": 1})
2
>>> h.events[1]["stateEnteredEventDetails"]
{'name': 'P', 'input': '{"a":1}', 'inputDetails': {'truncated': False}}
"""

import datetime
import json

# Which details member each event type carries (types absent here carry none).
_DETAILS = {
    "ExecutionStarted": "executionStartedEventDetails",
    "ExecutionSucceeded": "executionSucceededEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "TaskScheduled": "taskScheduledEventDetails",
    "TaskStarted": "taskStartedEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitted": "taskSubmittedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "TaskSucceeded": "taskSucceededEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "LambdaFunctionScheduled": "lambdaFunctionScheduledEventDetails",
    "LambdaFunctionScheduleFailed": "lambdaFunctionScheduleFailedEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "LambdaFunctionSucceeded": "lambdaFunctionSucceededEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "MapStateStarted": "mapStateStartedEventDetails",
    "MapIterationStarted": "mapIterationStartedEventDetails",
    "MapIterationSucceeded": "mapIterationSucceededEventDetails",
    "MapIterationFailed": "mapIterationFailedEventDetails",
    "MapIterationAborted": "mapIterationAbortedEventDetails",
    "EvaluationFailed": "evaluationFailedEventDetails",
}

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
for _state in STATE_TYPES:
    _DETAILS[f"{_state}StateEntered"] = "stateEnteredEventDetails"
    _DETAILS[f"{_state}StateExited"] = "stateExitedEventDetails"

# Details fields that hold JSON data: given as values, stored as JSON text with a "truncated" flag.
_DATA_FIELDS = {"input": "inputDetails", "output": "outputDetails", "parameters": None}


def details_member(event_type):
    """The name of the details member of ``event_type`` (``None`` for types that have none)."""
    return _DETAILS.get(event_type)


def to_json_text(value):
    """JSON text as Step Functions writes it: compact, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class ExecutionHistory:
    """The events of one execution, in order; ``add`` appends one and returns its id."""

    def __init__(self):
        self.events = []

    def add(self, event_type, timestamp, previous_event_id, **details):
        """Append an event. ``timestamp`` is a ``datetime`` (or epoch seconds); data fields
        (``input``, ``output``, ``parameters``) are given as JSON values and stored as text."""
        if not isinstance(timestamp, datetime.datetime):
            timestamp = datetime.datetime.fromtimestamp(float(timestamp), tz=datetime.timezone.utc)
        event = {
            "timestamp": timestamp,
            "type": event_type,
            "id": len(self.events) + 1,
            "previousEventId": previous_event_id or 0,
        }
        member = _DETAILS.get(event_type)
        if member is not None:
            body = {}
            for key, value in details.items():
                if value is None:
                    continue
                if key in _DATA_FIELDS:
                    body[key] = value if isinstance(value, str) and key == "parameters" else to_json_text(value)
                    if _DATA_FIELDS[key]:
                        body[_DATA_FIELDS[key]] = {"truncated": False}
                else:
                    body[key] = value
            event[member] = body
        self.events.append(event)
        return event["id"]

    def __len__(self):
        return len(self.events)

    def __iter__(self):
        return iter(self.events)

    def types(self):
        """The event types in order: what a test or a timeline reads first."""
        return [event["type"] for event in self.events]

    def of_type(self, event_type):
        return [event for event in self.events if event["type"] == event_type]

    def page(self, *, reverse_order=False, include_execution_data=True, max_results=None, next_token=None):
        """One page of ``GetExecutionHistory``: ``{"events": [...], "nextToken": ...}``."""
        events = list(reversed(self.events)) if reverse_order else list(self.events)
        start = int(next_token) if next_token else 0
        end = len(events) if not max_results else start + int(max_results)
        chosen = events[start:end]
        if not include_execution_data:
            chosen = [_without_data(event) for event in chosen]
        out = {"events": chosen}
        if end < len(events):
            out["nextToken"] = str(end)
        return out


def _without_data(event):
    out = dict(event)
    member = _DETAILS.get(event["type"])
    if member and member in out:
        out[member] = {k: v for k, v in out[member].items() if k not in ("input", "output", "parameters")}
    return out

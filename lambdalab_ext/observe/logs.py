"""CloudWatch Logs for the lab's functions: log groups, streams, events, metric and subscription filters.

Every execution environment writes to log group ``/aws/lambda/FUNCTION``, stream
``YYYY/MM/DD/[$LATEST]<32 hex>`` (the stream the environment names in ``AWS_LAMBDA_LOG_STREAM_NAME``),
with the function's output and the platform's lines (INIT_START, START, END, REPORT, timeouts).
``LogStore`` keeps them and answers the CloudWatch Logs API in its own vocabulary: each public
method takes the API's request parameters (``logGroupName``, ``filterPattern``, ...) and returns
its response, so the endpoint only has to decode JSON and encode the answer.

Filter patterns are the project's own (``lambdalab_ext.observe.filter_patterns``), not moto's.
A log group keeps at most ``max_events_per_group`` events (the oldest go first, counted in
``dropped``): a notebook that runs a million invocations must not hold a million logs.

No I/O: metric filters and subscription filters hand what they produce to the callables given
(``on_metric``, ``on_subscription``); the lab's wiring (``observe.service``) does the rest.

>>> store = LogStore(region="us-east-1", account_id="123456789012")
>>> _ = store.put_events("/aws/lambda/hello", "2025/01/01/[$LATEST]ab", [(1000, "START RequestId: r"),
...                                                                      (1001, '{"level": "ERROR"}')])
>>> [e["message"] for e in store.filter_log_events(logGroupName="/aws/lambda/hello",
...                                                filterPattern='{ $.level = "ERROR" }')["events"]]
['{"level": "ERROR"}']
"""

import base64
import bisect
import itertools
import json
import re
import threading

from ._pattern_lexer import CloudWatchLogsError
from .filter_patterns import (MAX_REGEX_PATTERNS_PER_LOG_GROUP, FilterPattern, InvalidParameterException,
                              count_regex)

__all__ = ["LogStore", "LogEvent", "lambda_log_events", "log_group_name", "CloudWatchLogsError",
           "ResourceNotFoundException", "ResourceAlreadyExistsException", "LimitExceededException",
           "InvalidParameterException", "MAX_EVENTS_PER_GROUP"]

MAX_EVENTS_PER_GROUP = 50_000
# FilterLogEvents / GetLogEvents: "as many log events as can fit in a response size of 1 MB (up to
# 10,000 log events)" (CloudWatch Logs API Reference).
MAX_EVENTS_PER_RESPONSE = 10_000
MAX_RESPONSE_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26          # what PutLogEvents counts per event on top of its UTF-8 message
MAX_LOG_STREAM_NAMES = 100         # FilterLogEvents logStreamNames: "Array Members: 1-100"
MAX_METRIC_FILTERS_PER_GROUP = 100         # CloudWatch Logs quotas: metric filters per log group
MAX_SUBSCRIPTION_FILTERS_PER_GROUP = 2     # CloudWatch Logs quotas: subscription filters per log group
MAX_TEST_MESSAGES = 50                     # TestMetricFilter logEventMessages: 1-50
_FILTER_NAME_RE = re.compile(r"[^:*]{1,512}")
_METRIC_NAME_RE = re.compile(r"[^:*$]{1,255}")
_GROUP_NAME_RE = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}")


def log_group_name(function_name):
    """The log group Lambda writes a function's logs to.

    >>> log_group_name("hello")
    '/aws/lambda/hello'
    """
    return f"/aws/lambda/{function_name}"


# -- errors --------------------------------------------------------------------------------------
class ResourceNotFoundException(CloudWatchLogsError):
    error_type = "ResourceNotFoundException"


class ResourceAlreadyExistsException(CloudWatchLogsError):
    error_type = "ResourceAlreadyExistsException"


class LimitExceededException(CloudWatchLogsError):
    error_type = "LimitExceededException"


def _group_missing():
    return ResourceNotFoundException("The specified log group does not exist.")


def _stream_missing():
    return ResourceNotFoundException("The specified log stream does not exist.")


def _validation(value, field, constraint):
    return InvalidParameterException(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}")


def _limit(value, field="limit", maximum=MAX_EVENTS_PER_RESPONSE, default=MAX_EVENTS_PER_RESPONSE):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _validation(value, field, "Member must be a number")
    if value < 1:
        raise _validation(value, field, "Member must have value greater than or equal to 1")
    if value > maximum:
        raise _validation(value, field, f"Member must have value less than or equal to {maximum}")
    return value


def _encode_token(*parts):
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode()


def _decode_token(token, size):
    try:
        parts = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, AttributeError, TypeError):
        raise InvalidParameterException("The specified nextToken is invalid.") from None
    if not isinstance(parts, list) or len(parts) != size:
        raise InvalidParameterException("The specified nextToken is invalid.")
    return parts


# -- the events of one invocation ------------------------------------------------------------------
def lambda_log_events(logs, start_ms, end_ms, init_start_ms=None):
    """``[(timestamp_ms, message)]`` for one invocation's log text, as Lambda sends it to CloudWatch
    Logs: one event per line, the platform's lines at their moments (INIT_START when the INIT
    began, START when the handler began, END and REPORT at ``end_ms``), the function's lines between.

    The lab knows when an invocation began and ended, not when each ``print`` ran: output lines
    carry the START moment.

    >>> lambda_log_events("START RequestId: r Version: $LATEST\\nhi\\nEND RequestId: r\\n", 4980, 5000)
    [(4980, 'START RequestId: r Version: $LATEST'), (4980, 'hi'), (5000, 'END RequestId: r')]
    """
    start_ms, end_ms = int(start_ms), int(end_ms)
    init_ms = start_ms if init_start_ms is None else int(init_start_ms)
    events = []
    moment = init_ms
    # One event per line; a "\r" inside a line stays in its event (the Python runtime joins a
    # traceback's lines with it so that CloudWatch keeps them as one event).
    for line in logs.split("\n"):
        if not line.strip():
            continue
        if line.startswith("INIT_START "):
            moment = init_ms
        elif line.startswith(("INIT_REPORT ", "START RequestId:")):
            moment = start_ms
        elif line.startswith(("END RequestId:", "REPORT RequestId:")):
            moment = end_ms
        elif moment < start_ms and not events:
            moment = start_ms                   # output that came before START (background threads)
        events.append((moment, line))
    return events


# -- the store -------------------------------------------------------------------------------------
class LogEvent:
    """One log event: ``timestamp`` and ``ingestion_time`` in epoch milliseconds, its stream, its text."""

    __slots__ = ("timestamp", "ingestion_time", "message", "stream", "seq", "key")

    def __init__(self, timestamp, ingestion_time, message, stream, seq):
        self.timestamp, self.ingestion_time, self.message, self.stream, self.seq = \
            timestamp, ingestion_time, message, stream, seq
        self.key = (timestamp, seq)

    @property
    def event_id(self):
        # A 56-digit id, as CloudWatch Logs gives every event.
        return f"{self.timestamp:020d}{self.seq:036d}"

    def __repr__(self):
        return f"LogEvent({self.timestamp}, {self.stream!r}, {self.message!r})"


class _Stream:
    __slots__ = ("name", "creation_time", "events")

    def __init__(self, name, creation_time):
        self.name, self.creation_time = name, creation_time
        self.events = []          # in (timestamp, seq) order

    def describe(self, arn_prefix):
        first = self.events[0].timestamp if self.events else None
        last = self.events[-1] if self.events else None
        entry = {"logStreamName": self.name, "creationTime": self.creation_time,
                 "arn": f"{arn_prefix}:log-stream:{self.name}", "storedBytes": 0}
        if last is not None:
            entry.update(firstEventTimestamp=first, lastEventTimestamp=last.timestamp,
                         lastIngestionTime=max(e.ingestion_time for e in self.events[-16:]))
        return entry


class _Group:
    __slots__ = ("name", "creation_time", "streams", "events", "dropped", "metric_filters",
                 "subscription_filters", "retention_in_days")

    def __init__(self, name, creation_time):
        self.name, self.creation_time = name, creation_time
        self.streams = {}
        self.events = []          # every stream's events, in (timestamp, seq) order
        self.dropped = 0
        self.metric_filters = {}
        self.subscription_filters = {}
        self.retention_in_days = None


_KEY = lambda event: event.key   # noqa: E731


class LogStore:
    """The lab's CloudWatch Logs: log groups of its functions and what they hold.

    ``on_metric(namespace, name, value, unit, dimensions, timestamp_ms)`` receives each value a
    metric filter emits; ``on_subscription(filter, payload)`` each delivery a subscription filter
    makes (``payload`` is the decoded ``awslogs.data``). Thread-safe.

    >>> store = LogStore()
    >>> _ = store.put_events("/aws/lambda/f", "s", [(5, "ERROR boom"), (6, "fine")])
    >>> store.test_metric_filter(filterPattern="ERROR", logEventMessages=["ERROR x", "ok"])["matches"]
    [{'eventNumber': 1, 'eventMessage': 'ERROR x', 'extractedValues': {}}]
    """

    def __init__(self, *, region="us-east-1", account_id="123456789012", max_events_per_group=MAX_EVENTS_PER_GROUP,
                 on_metric=None, on_subscription=None, clock_ms=None):
        if max_events_per_group < 1:
            raise ValueError("max_events_per_group must be at least 1")
        self.region, self.account_id = region, account_id
        self.max_events_per_group = int(max_events_per_group)
        # Trimming one event at a time would move the whole list each time: trim in slices.
        self._slack = max(1, self.max_events_per_group // 16)
        self.on_metric = on_metric
        self.on_subscription = on_subscription
        self._clock_ms = clock_ms
        self._groups = {}
        self._seq = itertools.count(1)
        self._lock = threading.RLock()

    # -- what the lab writes ------------------------------------------------------------------------
    def has_group(self, name):
        with self._lock:
            return name in self._groups

    def group_names(self):
        with self._lock:
            return sorted(self._groups)

    def metric_namespaces(self):
        """The namespaces the metric filters write to."""
        with self._lock:
            return {t["metricNamespace"] for g in self._groups.values() for f in g.metric_filters.values()
                    for t in f["metricTransformations"]}

    def dropped(self, group_name):
        """How many events the group let go (its cap of ``max_events_per_group``)."""
        with self._lock:
            group = self._groups.get(group_name)
            if group is None:
                return 0
            self._trim(group, exact=True)
            return group.dropped

    def _now_ms(self, fallback):
        return int(self._clock_ms()) if self._clock_ms is not None else fallback

    def _group(self, name, creation_time):
        group = self._groups.get(name)
        if group is None:
            group = self._groups[name] = _Group(name, creation_time)
        return group

    def put_events(self, group_name, stream_name, events, ingestion_time=None):
        """Append ``[(timestamp_ms, message)]`` to a stream (both made on first use, as Lambda makes
        them). Timestamps within a stream never go backwards (an environment runs one request at a
        time). Runs the group's metric and subscription filters. Returns the ``LogEvent``s."""
        events = list(events)
        if not events:
            return []
        with self._lock:
            first_ts = int(events[0][0])
            ingestion = int(ingestion_time) if ingestion_time is not None else self._now_ms(int(events[-1][0]))
            group = self._group(group_name, first_ts)
            stream = group.streams.get(stream_name)
            if stream is None:
                stream = group.streams[stream_name] = _Stream(stream_name, first_ts)
            floor = stream.events[-1].timestamp if stream.events else first_ts
            made = []
            for timestamp, message in events:
                floor = max(floor, int(timestamp))
                made.append(LogEvent(floor, ingestion, str(message), stream_name, next(self._seq)))
            stream.events.extend(made)
            if not group.events or group.events[-1].key <= made[0].key:
                group.events.extend(made)
            else:                      # another environment's events came in between
                for event in made:
                    bisect.insort(group.events, event, key=_KEY)
            self._trim(group)
            metric_filters = list(group.metric_filters.values())
            subscriptions = list(group.subscription_filters.values())
        for mf in metric_filters:
            self._apply_metric_filter(mf, made)
        for sf in subscriptions:
            self._deliver_subscription(group_name, stream_name, sf, made)
        return made

    def _trim(self, group, exact=False):
        excess = len(group.events) - self.max_events_per_group
        if excess <= 0 or (excess < self._slack and not exact):
            return
        gone = group.events[:excess]
        del group.events[:excess]
        group.dropped += excess
        by_stream = {}
        for event in gone:
            by_stream[event.stream] = by_stream.get(event.stream, 0) + 1
        for name, count in by_stream.items():
            del group.streams[name].events[:count]   # a group's oldest are each stream's oldest

    def _find(self, params):
        name = params.get("logGroupName")
        identifier = params.get("logGroupIdentifier")
        if name and identifier:
            raise InvalidParameterException("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
        if identifier:
            name = identifier.split(":log-group:", 1)[1].removesuffix(":*") if ":log-group:" in identifier \
                else identifier
        if not name:
            raise InvalidParameterException("Either logGroupName or logGroupIdentifier must be specified.")
        group = self._groups.get(name)
        if group is None:
            raise _group_missing()
        self._trim(group, exact=True)
        return group

    def _arn(self, group_name):
        return f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{group_name}"

    # -- the API ------------------------------------------------------------------------------------
    def create_log_group(self, *, logGroupName, **_):
        with self._lock:
            if logGroupName in self._groups:
                raise ResourceAlreadyExistsException("The specified log group already exists")
            if not _GROUP_NAME_RE.fullmatch(logGroupName or ""):
                raise _validation(logGroupName, "logGroupName",
                                  "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+")
            self._group(logGroupName, self._now_ms(0))
        return {}

    def create_log_stream(self, *, logGroupName, logStreamName, **_):
        with self._lock:
            group = self._find({"logGroupName": logGroupName})
            if logStreamName in group.streams:
                raise ResourceAlreadyExistsException("The specified log stream already exists")
            group.streams[logStreamName] = _Stream(logStreamName, self._now_ms(0))
        return {}

    def delete_log_group(self, *, logGroupName, **_):
        with self._lock:
            if self._groups.pop(logGroupName, None) is None:
                raise _group_missing()
        return {}

    def delete_log_stream(self, *, logGroupName, logStreamName, **_):
        with self._lock:
            group = self._find({"logGroupName": logGroupName})
            if group.streams.pop(logStreamName, None) is None:
                raise _stream_missing()
            group.events = [e for e in group.events if e.stream != logStreamName]
        return {}

    def put_retention_policy(self, *, logGroupName, retentionInDays, **_):
        with self._lock:
            self._find({"logGroupName": logGroupName}).retention_in_days = retentionInDays
        return {}

    def put_log_events(self, *, logGroupName, logStreamName, logEvents, **_):
        """PutLogEvents into one of the lab's groups (a function writing to its own group itself)."""
        with self._lock:
            group = self._find({"logGroupName": logGroupName})
            if logStreamName not in group.streams:
                raise _stream_missing()
        self.put_events(logGroupName, logStreamName,
                        [(e["timestamp"], e["message"]) for e in sorted(logEvents, key=lambda e: e["timestamp"])])
        return {"nextSequenceToken": _encode_token(next(self._seq))}

    def describe_log_groups(self, *, logGroupNamePrefix=None, logGroupNamePattern=None, limit=None, nextToken=None,
                            **_):
        if logGroupNamePrefix and logGroupNamePattern:
            raise InvalidParameterException("LogGroup name prefix and LogGroup name pattern are mutually "
                                            "exclusive parameters.")
        limit = _limit(limit, maximum=50, default=50)
        after = _decode_token(nextToken, 1)[0] if nextToken else None
        with self._lock:
            names = sorted(self._groups)
            if logGroupNamePrefix:
                names = [n for n in names if n.startswith(logGroupNamePrefix)]
            if logGroupNamePattern:
                names = [n for n in names if logGroupNamePattern.lower() in n.lower()]
            if after is not None:
                names = [n for n in names if n > after]
            page = names[:limit]
            groups = [self._describe_group(self._groups[n]) for n in page]
        response = {"logGroups": groups}
        if len(names) > limit:
            response["nextToken"] = _encode_token(page[-1])
        return response

    def _describe_group(self, group):
        entry = {"logGroupName": group.name, "creationTime": group.creation_time,
                 "metricFilterCount": len(group.metric_filters), "arn": self._arn(group.name) + ":*",
                 "storedBytes": 0, "logGroupClass": "STANDARD", "logGroupArn": self._arn(group.name)}
        if group.retention_in_days is not None:
            entry["retentionInDays"] = group.retention_in_days
        return entry

    def describe_log_streams(self, *, logStreamNamePrefix=None, orderBy="LogStreamName", descending=False,
                             limit=None, nextToken=None, **params):
        if orderBy not in ("LogStreamName", "LastEventTime"):
            raise _validation(orderBy, "orderBy", "Member must satisfy enum value set: [LogStreamName, LastEventTime]")
        if orderBy == "LastEventTime" and logStreamNamePrefix:
            raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
        limit = _limit(limit, maximum=50, default=50)
        start = _decode_token(nextToken, 1)[0] if nextToken else 0
        with self._lock:
            group = self._find(params)
            streams = [s for s in group.streams.values()
                       if not logStreamNamePrefix or s.name.startswith(logStreamNamePrefix)]
            if orderBy == "LogStreamName":
                streams.sort(key=lambda s: s.name, reverse=bool(descending))
            else:
                streams.sort(key=lambda s: (s.events[-1].timestamp if s.events else s.creation_time, s.name),
                             reverse=bool(descending))
            page = [s.describe(self._arn(group.name)) for s in streams[start:start + limit]]
        response = {"logStreams": page}
        if start + limit < len(streams):
            response["nextToken"] = _encode_token(start + limit)
        return response

    def get_log_events(self, *, logStreamName, startTime=None, endTime=None, nextToken=None, limit=None,
                       startFromHead=None, **params):
        """GetLogEvents: ``nextForwardToken`` reads on (the same token comes back at the end of the
        stream), ``nextBackwardToken`` reads back; without a token, the latest events unless
        ``startFromHead``."""
        limit = _limit(limit)
        with self._lock:
            group = self._find(params)
            stream = group.streams.get(logStreamName)
            if stream is None:
                raise _stream_missing()
            events = [e for e in stream.events
                      if (startTime is None or e.timestamp >= startTime) and (endTime is None or e.timestamp < endTime)]
        direction, boundary = "f", None
        if nextToken:
            try:
                direction, boundary, _ = nextToken.split("/")
                boundary = int(boundary)
            except ValueError:
                raise InvalidParameterException("The specified nextToken is invalid.") from None
            if direction not in ("f", "b"):
                raise InvalidParameterException("The specified nextToken is invalid.")
        seqs = [e.seq for e in events]
        if direction == "f" and (boundary is not None or startFromHead):
            begin = bisect.bisect_left(seqs, boundary) if boundary is not None else 0
            page = _fit(events[begin:begin + limit])
        else:
            end = bisect.bisect_left(seqs, boundary) if boundary is not None else len(events)
            page = _fit(events[max(0, end - limit):end], from_end=True)
        if page:
            forward, backward = page[-1].seq + 1, page[0].seq
        else:
            forward = backward = boundary if boundary is not None else (events[-1].seq + 1 if events else 0)
        return {"events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}
                           for e in page],
                "nextForwardToken": f"f/{forward:056d}/s", "nextBackwardToken": f"b/{backward:056d}/s"}

    def filter_log_events(self, *, logStreamNames=None, logStreamNamePrefix=None, startTime=None, endTime=None,
                          filterPattern=None, nextToken=None, limit=None, **params):
        """FilterLogEvents: the group's events (every stream, or those named) that match the filter
        pattern between ``startTime`` and ``endTime`` (epoch ms, both included), oldest first, with a
        ``nextToken`` while more match."""
        if logStreamNames is not None and logStreamNamePrefix is not None:
            raise InvalidParameterException("Cannot specify both logStreamNames and logStreamNamePrefix.")
        if logStreamNames is not None and not 1 <= len(logStreamNames) <= MAX_LOG_STREAM_NAMES:
            raise _validation(logStreamNames, "logStreamNames",
                              f"Member must have length less than or equal to {MAX_LOG_STREAM_NAMES}")
        limit = _limit(limit)
        pattern = FilterPattern.parse(filterPattern or "")
        after = tuple(_decode_token(nextToken, 2)) if nextToken else None
        with self._lock:
            group = self._find(params)
            events = group.events
            begin = bisect.bisect_right(events, after, key=_KEY) if after else \
                (bisect.bisect_left(events, (startTime, 0), key=_KEY) if startTime is not None else 0)
            end = bisect.bisect_right(events, (endTime, float("inf")), key=_KEY) if endTime is not None else len(events)
            events = events[begin:end]       # a copy: ingestion goes on while the scan runs
        wanted = set(logStreamNames) if logStreamNames is not None else None
        matches = pattern.matches
        found, size, more = [], 0, False
        for event in events:
            if wanted is not None and event.stream not in wanted:
                continue
            if logStreamNamePrefix is not None and not event.stream.startswith(logStreamNamePrefix):
                continue
            if not matches(event.message):
                continue
            size += len(event.message.encode()) + EVENT_OVERHEAD_BYTES
            if len(found) == limit or size > MAX_RESPONSE_BYTES:
                more = True
                break
            found.append(event)
        response = {"events": [{"logStreamName": e.stream, "timestamp": e.timestamp, "message": e.message,
                                "ingestionTime": e.ingestion_time, "eventId": e.event_id} for e in found],
                    "searchedLogStreams": []}
        if more:
            response["nextToken"] = _encode_token(*found[-1].key)
        return response

    # -- metric filters -----------------------------------------------------------------------------
    def _check_regex_budget(self, group, pattern, replacing):
        # "a maximum of 5 filter patterns containing regex for each log group": metric and
        # subscription filters together; replacing a filter frees its own place.
        if not count_regex(pattern):
            return
        others = [f for name, f in itertools.chain(group.metric_filters.items(), group.subscription_filters.items())
                  if name != replacing and count_regex(f["pattern"])]
        if len(others) >= MAX_REGEX_PATTERNS_PER_LOG_GROUP:
            raise LimitExceededException(
                f"A log group can have at most {MAX_REGEX_PATTERNS_PER_LOG_GROUP} filters with a regex filter pattern.")

    def put_metric_filter(self, *, logGroupName, filterName, filterPattern, metricTransformations,
                          applyOnTransformedLogs=False, **_):
        if not _FILTER_NAME_RE.fullmatch(filterName or ""):
            raise _validation(filterName, "filterName", "Member must satisfy regular expression pattern: [^:*]*")
        pattern = FilterPattern.parse(filterPattern)
        if len(metricTransformations) != 1:
            raise _validation(metricTransformations, "metricTransformations",
                              "Member must have length less than or equal to 1")
        transformation = dict(metricTransformations[0])
        for key in ("metricName", "metricNamespace", "metricValue"):
            if not transformation.get(key):
                raise InvalidParameterException(f"metricTransformations.{key} is required.")
        if not _METRIC_NAME_RE.fullmatch(transformation["metricName"]):
            raise _validation(transformation["metricName"], "metricTransformations.1.member.metricName",
                              "Member must satisfy regular expression pattern: [^:*$]*")
        value = str(transformation["metricValue"])
        if value.startswith("$"):
            pattern.extract("", value)              # a selector the pattern's kind cannot use is refused now
        else:
            try:
                float(value)
            except ValueError:
                raise InvalidParameterException(f"Invalid metric value {value!r}: a number or a $ selector.") \
                    from None
        dimensions = transformation.get("dimensions") or {}
        if dimensions:
            if "defaultValue" in transformation and transformation["defaultValue"] is not None:
                raise InvalidParameterException("Metric filters with dimensions cannot have a default value.")
            pattern.dimension_values("", dimensions)  # refuses a pattern kind without dimensions, > 3
        with self._lock:
            group = self._find({"logGroupName": logGroupName})
            if filterName not in group.metric_filters and len(group.metric_filters) >= MAX_METRIC_FILTERS_PER_GROUP:
                raise LimitExceededException("Resource limit exceeded.")
            self._check_regex_budget(group, pattern, filterName)
            group.metric_filters[filterName] = {
                "filterName": filterName, "filterPattern": filterPattern, "pattern": pattern,
                "metricTransformations": [transformation], "creationTime": self._now_ms(0),
                "logGroupName": logGroupName, "applyOnTransformedLogs": bool(applyOnTransformedLogs)}
        return {}

    def describe_metric_filters(self, *, logGroupName=None, filterNamePrefix=None, metricName=None,
                                metricNamespace=None, limit=None, nextToken=None, **_):
        if (metricName is None) != (metricNamespace is None):
            raise InvalidParameterException("metricName and metricNamespace must be specified together.")
        if filterNamePrefix and not logGroupName:
            raise InvalidParameterException("filterNamePrefix requires logGroupName.")
        limit = _limit(limit, maximum=50, default=50)
        start = _decode_token(nextToken, 1)[0] if nextToken else 0
        with self._lock:
            groups = [self._find({"logGroupName": logGroupName})] if logGroupName else \
                [self._groups[n] for n in sorted(self._groups)]
            filters = [f for g in groups for _, f in sorted(g.metric_filters.items())
                       if (not filterNamePrefix or f["filterName"].startswith(filterNamePrefix))
                       and (metricName is None or any(t["metricName"] == metricName and
                                                      t["metricNamespace"] == metricNamespace
                                                      for t in f["metricTransformations"]))]
        page = [{k: v for k, v in f.items() if k != "pattern"} for f in filters[start:start + limit]]
        response = {"metricFilters": page}
        if start + limit < len(filters):
            response["nextToken"] = _encode_token(start + limit)
        return response

    def delete_metric_filter(self, *, logGroupName, filterName, **_):
        with self._lock:
            group = self._find({"logGroupName": logGroupName})
            if group.metric_filters.pop(filterName, None) is None:
                raise ResourceNotFoundException("The specified resource does not exist.")
        return {}

    def test_metric_filter(self, *, filterPattern, logEventMessages, **_):
        """TestMetricFilter: which of the messages match, with the values a space-delimited pattern
        extracts (``$1``, ``$name``)."""
        pattern = FilterPattern.parse(filterPattern)
        if not 1 <= len(logEventMessages) <= MAX_TEST_MESSAGES:
            raise _validation(logEventMessages, "logEventMessages",
                              f"Member must have length less than or equal to {MAX_TEST_MESSAGES}")
        matches = []
        for number, message in enumerate(logEventMessages, 1):
            values = pattern.extracted_values(message)
            if values is not None:
                matches.append({"eventNumber": number, "eventMessage": message, "extractedValues": values})
        return {"matches": matches}

    def _apply_metric_filter(self, metric_filter, events):
        if self.on_metric is None:
            return
        pattern = metric_filter["pattern"]
        t = metric_filter["metricTransformations"][0]
        selector = str(t["metricValue"])
        dimensions = t.get("dimensions") or {}
        matched = False
        for event in events:
            if not pattern.matches(event.message):
                continue
            matched = True
            value = pattern.extract(event.message, selector) if selector.startswith("$") else float(selector)
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue                     # AWS emits nothing for a value that is not a number
            dims = pattern.dimension_values(event.message, dimensions) if dimensions else {}
            if dims and any(v is None for v in dims.values()):
                continue
            self.on_metric(t["metricNamespace"], t["metricName"], value, t.get("unit"), dims, event.timestamp)
        if not matched and t.get("defaultValue") is not None:
            # "The value reported to the metric filter during a period when logs are ingested but
            # no matching logs are found": once for this ingestion.
            self.on_metric(t["metricNamespace"], t["metricName"], float(t["defaultValue"]), t.get("unit"), {},
                           events[-1].timestamp)

    # -- subscription filters -----------------------------------------------------------------------
    def put_subscription_filter(self, *, logGroupName, filterName, filterPattern, destinationArn, roleArn=None,
                                distribution="ByLogStream", **_):
        if not _FILTER_NAME_RE.fullmatch(filterName or ""):
            raise _validation(filterName, "filterName", "Member must satisfy regular expression pattern: [^:*]*")
        pattern = FilterPattern.parse(filterPattern)
        if distribution not in ("Random", "ByLogStream"):
            raise _validation(distribution, "distribution", "Member must satisfy enum value set: [Random, ByLogStream]")
        with self._lock:
            group = self._find({"logGroupName": logGroupName})
            if (filterName not in group.subscription_filters
                    and len(group.subscription_filters) >= MAX_SUBSCRIPTION_FILTERS_PER_GROUP):
                raise LimitExceededException("Resource limit exceeded.")
            self._check_regex_budget(group, pattern, filterName)
            group.subscription_filters[filterName] = {
                "filterName": filterName, "logGroupName": logGroupName, "filterPattern": filterPattern,
                "pattern": pattern, "destinationArn": destinationArn, "distribution": distribution,
                "creationTime": self._now_ms(0), **({"roleArn": roleArn} if roleArn else {})}
        return {}

    def describe_subscription_filters(self, *, logGroupName, filterNamePrefix=None, limit=None, nextToken=None, **_):
        limit = _limit(limit, maximum=50, default=50)
        with self._lock:
            group = self._find({"logGroupName": logGroupName})
            filters = [{k: v for k, v in f.items() if k != "pattern"}
                       for name, f in sorted(group.subscription_filters.items())
                       if not filterNamePrefix or name.startswith(filterNamePrefix)]
        return {"subscriptionFilters": filters[:limit]}

    def delete_subscription_filter(self, *, logGroupName, filterName, **_):
        with self._lock:
            group = self._find({"logGroupName": logGroupName})
            if group.subscription_filters.pop(filterName, None) is None:
                raise ResourceNotFoundException("The specified subscription filter does not exist.")
        return {}

    def _deliver_subscription(self, group_name, stream_name, subscription, events):
        if self.on_subscription is None:
            return
        matched = [e for e in events if subscription["pattern"].matches(e.message)]
        if not matched:
            return
        payload = {"messageType": "DATA_MESSAGE", "owner": self.account_id, "logGroup": group_name,
                   "logStream": stream_name, "subscriptionFilters": [subscription["filterName"]],
                   "logEvents": [{"id": e.event_id, "timestamp": e.timestamp, "message": e.message} for e in matched]}
        self.on_subscription(subscription, payload)

    def __repr__(self):
        with self._lock:
            return f"<LogStore: {len(self._groups)} log groups, {sum(len(g.events) for g in self._groups.values())} events>"


def _fit(events, from_end=False):
    """As many of ``events`` as fit in one response (1 MB), from the start or from the end."""
    size, kept = 0, []
    for event in (reversed(events) if from_end else events):
        size += len(event.message.encode()) + EVENT_OVERHEAD_BYTES
        if size > MAX_RESPONSE_BYTES:
            break
        kept.append(event)
    return kept[::-1] if from_end else kept


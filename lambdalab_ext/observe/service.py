"""The lab's CloudWatch Logs and Lambda metrics, wired into a running lab.

``attach(lab)`` follows the lab record: every invocation's log (the function's output and the
platform's lines) becomes CloudWatch Logs events in ``/aws/lambda/FUNCTION``, in the stream the
environment named, at the lab clock's moments. It then answers, on the lab's AWS endpoint:

- CloudWatch Logs (JSON 1.1, ``X-Amz-Target: Logs_20140328.*``) for the lab's own log groups:
  ``DescribeLogGroups`` (merged with moto's groups), ``DescribeLogStreams``, ``GetLogEvents``,
  ``FilterLogEvents`` (the project's filter patterns), ``PutMetricFilter``, ``DescribeMetricFilters``,
  ``DeleteMetricFilter``, ``TestMetricFilter``, ``PutSubscriptionFilter`` (to a function of the
  lab: invoked asynchronously with the real ``awslogs.data`` event), ``DescribeSubscriptionFilters``,
  ``DeleteSubscriptionFilter``, ``PutLogEvents``, ``CreateLogStream``, ``DeleteLogGroup``,
  ``DeleteLogStream``, ``PutRetentionPolicy``. Every other log group stays moto's.
- CloudWatch (this botocore speaks JSON 1.0 to it, ``X-Amz-Target: GraniteServiceVersion20100801.*``:
  of the model's protocols ``smithy-rpc-v2-cbor``, ``json``, ``query`` botocore prefers ``json``)
  ``GetMetricStatistics``, ``GetMetricData`` and ``ListMetrics`` for ``AWS/Lambda`` and for the
  namespaces metric filters write, and metric alarms on them (``PutMetricAlarm``, ``DescribeAlarms``
  merged with moto's, ``DeleteAlarms``, ``SetAlarmState``: ``observe.alarms``, evaluated on the lab
  clock, notifying SNS topics); moto keeps the rest (``PutMetricData``, alarms on other metrics).

>>> observability = attach(lab)                                                      # doctest: +SKIP
>>> lab.functions["hello"].invoke({})                                                # doctest: +SKIP
>>> logs = lab.aws.client("logs")                                                    # doctest: +SKIP
>>> events = logs.filter_log_events(logGroupName="/aws/lambda/hello", filterPattern="REPORT")["events"]  # doctest: +SKIP
>>> events[0]["message"]                                                             # doctest: +SKIP
'REPORT RequestId: ...'
>>> observability.close()                                                            # doctest: +SKIP
"""

import datetime
import json
import re
import time
import uuid

from ..events.logs import encode_cloudwatch_logs
from ..request import InvocationRequest
from .alarms import AlarmEngine
from .filter_patterns import FilterPattern, InvalidParameterException
from .logs import (CloudWatchLogsError, LogStore, _decode_token, _encode_token, _limit, lambda_log_events,
                   log_group_name)
from .metrics import CloudWatchError, LambdaMetrics, MetricStore

__all__ = ["attach", "ObservabilityService", "parse_since", "format_event"]

_PASSTHROUGH = "x-lambdalab-observe-passthrough"   # this module's own calls to moto
_LOGS_TARGET = "Logs_20140328."
_CLOUDWATCH_TARGET = "GraniteServiceVersion20100801."
_SINCE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*")
_SINCE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def attach(lab, **options):
    """Start the lab's CloudWatch Logs and metrics; returns the ``ObservabilityService`` (``close()`` it,
    or let the lab close it among its sources). ``options``: ``max_events_per_group``. A lab attaches
    it when it starts: then that one is returned (unless other options ask for a new one)."""
    current = getattr(lab, "observability", None)
    if isinstance(current, ObservabilityService) and not current._closed and not options:
        return current
    return ObservabilityService(lab, **options)


class _LabTime:
    """Lab-clock seconds as epoch seconds: a virtual clock's seconds are epoch seconds (as the
    lab's EventBridge and SNS sources read them); the real clock's monotonic seconds map to the
    wall clock at the moment this was made."""

    def __init__(self, clock):
        self.clock = clock
        self.virtual = bool(getattr(clock, "virtual", False))
        self.offset = 0.0 if self.virtual else time.time() - clock.now()

    def epoch(self, at=None):
        return (self.clock.now() if at is None else at) + self.offset


def parse_since(text):
    """``5m``, ``30s``, ``2h``, ``1d``, ``1w`` (or plain seconds) as seconds.

    >>> parse_since("5m"), parse_since("90")
    (300.0, 90.0)
    """
    match = _SINCE.fullmatch(str(text))
    if not match:
        raise ValueError(f"--since {text!r}: use a number and a unit, such as 30s, 5m, 2h or 1d.")
    return float(match.group(1)) * _SINCE_UNITS[match.group(2)]


def format_event(event):
    """One log event as ``%lambda logs`` prints it: its UTC timestamp, then the message.

    >>> format_event({"timestamp": 0, "message": "START RequestId: r Version: $LATEST"})
    '1970-01-01T00:00:00.000Z START RequestId: r Version: $LATEST'
    """
    moment = datetime.datetime.fromtimestamp(event["timestamp"] / 1000, datetime.timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z {event['message']}"


def _json_answer(status, body, content_type, extra=None):
    headers = {"Content-Type": content_type, "x-amzn-RequestId": _request_id()}
    headers.update(extra or {})
    return status, headers, json.dumps(body, separators=(",", ":")).encode()


def _request_id():
    return str(uuid.uuid4())


class ObservabilityService:
    """CloudWatch Logs and Lambda metrics of one lab (see the module's docstring).

    ``logs`` is the ``LogStore``, ``metrics`` the ``LambdaMetrics``, ``custom_metrics`` what metric
    filters emitted; ``errors`` keeps what went wrong while following the record or delivering.
    """

    def __init__(self, lab, *, max_events_per_group=None):
        self.lab = lab
        self.time = _LabTime(lab.clock)
        options = {} if max_events_per_group is None else {"max_events_per_group": max_events_per_group}
        self.logs = LogStore(region=lab.region, account_id=lab.account_id, on_metric=self._emit_metric,
                             on_subscription=self._deliver, clock_ms=lambda: self.time.epoch() * 1000, **options)
        self.custom_metrics = MetricStore()
        self.metrics = LambdaMetrics(lab.record, self.time.epoch, self.custom_metrics, virtual=self.time.virtual)
        self.alarms = AlarmEngine(lab.clock, self.time.epoch, self.metrics.statistics, self._notify,
                                  region=lab.region, account_id=lab.account_id)
        self.errors = []
        self._moto_clients = {}
        self._sns = None
        self._stops = [lab.record.subscribe(self._on_record), lab.aws.intercept(self._intercept)]
        self._closed = False

    # -- the record -> CloudWatch Logs -------------------------------------------------------------
    def _on_record(self, event):
        if event.kind != "invoke" or not event.function:
            return
        result = event.get("result")
        if result is None or not result.logs:
            return
        try:
            at_ms = self.time.epoch(event.at) * 1000
            init_ms, duration_ms = result.init_duration_ms or 0.0, result.duration_ms or 0.0
            if self.time.virtual:
                # A virtual clock stands still while the handler runs: the invocation starts at the
                # recorded moment and its INIT and duration follow it.
                init_start = round(at_ms)
                start, end = round(at_ms + init_ms), round(at_ms + init_ms + duration_ms)
            else:                          # recorded when it ended
                end = round(at_ms)
                start, init_start = round(at_ms - duration_ms), round(at_ms - duration_ms - init_ms)
            lines = lambda_log_events(result.logs, start, end, init_start)
            self.logs.put_events(log_group_name(event.function), result.log_stream_name, lines)
        except Exception as exc:   # the service must never fail because its logs could not be kept
            self.errors.append(exc)

    def _emit_metric(self, namespace, name, value, unit, dimensions, timestamp_ms):
        self.custom_metrics.put(namespace, name, value, unit, dimensions, timestamp_ms / 1000)

    def _deliver(self, subscription, payload):
        """A subscription filter's delivery: the function is invoked asynchronously, as CloudWatch
        Logs invokes Lambda, with ``{"awslogs": {"data": base64(gzip(json))}}``."""
        name = subscription["destinationArn"].split(":")[6]
        data = encode_cloudwatch_logs(payload)
        group_arn = f"arn:aws:logs:{self.lab.region}:{self.lab.account_id}:log-group:{payload['logGroup']}:*"
        request = InvocationRequest(function_name=name, payload=json.dumps({"awslogs": {"data": data}}).encode(),
                                    invocation_type="Event", source="logs", source_arn=group_arn,
                                    source_account=self.lab.account_id)
        try:
            self.lab.async_queue.submit(request)
        except Exception as exc:   # the function was deleted, the lab is shutting down
            self.errors.append(exc)

    def _notify(self, topic_arn, subject, message):
        """An alarm's SNS action: published on the lab's SNS, so subscribed functions see it."""
        if self._sns is None:
            self._sns = self.lab.aws.client("sns")
        self._sns.publish(TopicArn=topic_arn, Subject=subject, Message=message)

    def _owns(self, namespace):
        return self.metrics.owns(namespace) or namespace in self.logs.metric_namespaces()

    # -- what a cell reads ---------------------------------------------------------------------------
    def log_events(self, function, filter_pattern=None, since_s=None, limit=None):
        """The events of a function's log group (oldest first) matching ``filter_pattern``, the
        last ``since_s`` seconds of the lab clock only when given, at most the latest ``limit``.
        Returns ``(events, skipped)``: the events as ``FilterLogEvents`` gives them and how many
        older matching events ``limit`` left out. Raises ``InvalidParameterException`` for a bad
        pattern; an empty list when the function has not logged yet."""
        group = log_group_name(function)
        if not self.logs.has_group(group):
            FilterPattern.parse(filter_pattern or "")
            return [], 0
        params = {"logGroupName": group, "filterPattern": filter_pattern or ""}
        if since_s is not None:
            params["startTime"] = int((self.time.epoch() - since_s) * 1000)
        events, token = [], None
        while True:
            page = self.logs.filter_log_events(**params, **({"nextToken": token} if token else {}))
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        skipped = 0
        if limit is not None and len(events) > limit:
            skipped = len(events) - limit
            events = events[skipped:]
        return events, skipped

    # -- the endpoint ----------------------------------------------------------------------------------
    def _intercept(self, call):
        if call.headers.get(_PASSTHROUGH) or self._closed:
            return None
        target = call.headers.get("x-amz-target", "")
        if call.service == "logs" and target.startswith(_LOGS_TARGET):
            return self._logs_call(target[len(_LOGS_TARGET):], call)
        if call.service == "monitoring" and target.startswith(_CLOUDWATCH_TARGET):
            return self._cloudwatch_call(target[len(_CLOUDWATCH_TARGET):], call)
        return None

    def _mine(self, params):
        name = params.get("logGroupName") or params.get("logGroupIdentifier") or ""
        if ":log-group:" in name:
            name = name.split(":log-group:", 1)[1].removesuffix(":*")
        return name and self.logs.has_group(name)

    def _logs_call(self, action, call):
        params = call.json()
        try:
            if action == "TestMetricFilter":
                return self._logs_answer(self.logs.test_metric_filter(**_required(params, "filterPattern",
                                                                                  "logEventMessages")))
            if action == "DescribeLogGroups":
                return self._logs_answer(self._describe_log_groups(params))
            if action == "DescribeMetricFilters" and not params.get("logGroupName"):
                return self._logs_answer(self._describe_metric_filters(params))
            if action == "CreateLogGroup" and not self._mine(params):
                name = params.get("logGroupName", "")
                if not (name.startswith("/aws/lambda/") and name[len("/aws/lambda/"):] in self.lab.functions):
                    return None
            elif not self._mine(params):
                return None
            if action == "PutSubscriptionFilter":
                self._check_destination(params)
            method = getattr(self.logs, _snake(action), None)
            if method is None or action not in _LOGS_ACTIONS:
                return None                       # an operation the lab leaves to moto
            return self._logs_answer(method(**params))
        except (CloudWatchLogsError, InvalidParameterException) as exc:
            return _json_answer(exc.status_code, exc.as_response(), "application/x-amz-json-1.1",
                                {"x-amzn-ErrorType": exc.error_type})
        except TypeError as exc:                  # a required parameter missing
            missing = re.search(r"'(\w+)'", str(exc))
            message = (f"1 validation error detected: Value null at '{missing.group(1)}' failed to satisfy "
                       "constraint: Member must not be null") if missing else str(exc)
            return _json_answer(400, {"__type": "InvalidParameterException", "message": message},
                                "application/x-amz-json-1.1", {"x-amzn-ErrorType": "InvalidParameterException"})

    @staticmethod
    def _logs_answer(body):
        return _json_answer(200, body, "application/x-amz-json-1.1")

    def _check_destination(self, params):
        arn = params.get("destinationArn", "")
        parts = arn.split(":")
        if not (len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function"):
            raise InvalidParameterException(
                "lambdalab delivers subscription filters to Lambda functions only (destinationArn "
                f"{arn!r} is not a function ARN).")
        name = parts[6]
        if parts[3] != self.lab.region or parts[4] != self.lab.account_id or name not in self.lab.functions:
            raise InvalidParameterException("Could not execute the lambda function. Make sure you have given "
                                            "CloudWatch Logs permission to execute your function.")
        if log_group_name(name) == (params.get("logGroupName") or ""):
            # The function's own log lines would invoke it again, for ever.
            raise InvalidParameterException(
                f"lambdalab refuses a subscription filter that sends {log_group_name(name)} to {name} itself: "
                "each delivery would write new log events and invoke it again, in an endless loop.")

    def _moto(self, service):
        client = self._moto_clients.get(service)
        if client is None:
            client = self.lab.aws.client(service)

            def mark(request, **_):
                request.headers[_PASSTHROUGH] = "1"
            client.meta.events.register("before-sign", mark)
            self._moto_clients[service] = client
        return client

    def _describe_log_groups(self, params):
        prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
        mine = self.logs.describe_log_groups(**{k: v for k, v in params.items() if k not in ("limit", "nextToken")},
                                             limit=50)
        groups = {g["logGroupName"]: g for g in mine["logGroups"]}
        token = mine.get("nextToken")
        while token:
            page = self.logs.describe_log_groups(logGroupNamePrefix=prefix, logGroupNamePattern=pattern,
                                                 nextToken=token)
            groups.update((g["logGroupName"], g) for g in page["logGroups"])
            token = page.get("nextToken")
        query = {k: v for k, v in (("logGroupNamePrefix", prefix), ("logGroupNamePattern", pattern)) if v}
        try:
            for page in self._moto("logs").get_paginator("describe_log_groups").paginate(**query):
                for g in page.get("logGroups", []):
                    groups.setdefault(g["logGroupName"], g)
        except Exception as exc:   # moto's listing failing must not hide the lab's own groups
            self.errors.append(exc)
        limit = _limit(params.get("limit"), maximum=50, default=50)
        after = _decode_token(params["nextToken"], 1)[0] if params.get("nextToken") else None
        names = [n for n in sorted(groups) if after is None or n > after]
        response = {"logGroups": [groups[n] for n in names[:limit]]}
        if len(names) > limit:
            response["nextToken"] = _encode_token(names[limit - 1])
        return response

    def _describe_metric_filters(self, params):
        mine = self.logs.describe_metric_filters(**{k: v for k, v in params.items() if k not in ("limit", "nextToken")},
                                                 limit=50)["metricFilters"]
        try:
            query = {k: params[k] for k in ("metricName", "metricNamespace") if k in params}
            for page in self._moto("logs").get_paginator("describe_metric_filters").paginate(**query):
                mine += page.get("metricFilters", [])
        except Exception as exc:
            self.errors.append(exc)
        return {"metricFilters": mine}

    def _cloudwatch_call(self, action, call):
        if "json" not in call.headers.get("content-type", ""):
            return None                 # CBOR or query: moto's (botocore here sends JSON 1.0)
        params = call.json()
        try:
            if action == "GetMetricStatistics":
                if not self._owns(params.get("Namespace")):
                    return None
                body = self.metrics.get_metric_statistics(**_required(params, "Namespace", "MetricName",
                                                                      "StartTime", "EndTime", "Period"))
            elif action == "GetMetricData":
                queries = params.get("MetricDataQueries") or []
                if not queries or any("MetricStat" not in q or not self._owns(
                        q["MetricStat"].get("Metric", {}).get("Namespace")) for q in queries):
                    return None
                body = self.metrics.get_metric_data(**_required(params, "MetricDataQueries", "StartTime", "EndTime"))
            elif action == "PutMetricAlarm":
                if not self._owns(params.get("Namespace")) or params.get("Metrics"):
                    return None
                body = self.alarms.put(params)
            elif action == "DescribeAlarms":
                body = self.alarms.describe(params)
                names = params.get("AlarmNames")
                if not names or set(names) - set(self.alarms.alarms):
                    try:
                        theirs = self._moto("cloudwatch").describe_alarms(
                            **{k: v for k, v in params.items() if k in ("AlarmNames", "AlarmNamePrefix", "StateValue")})
                        mine = {a["AlarmName"] for a in body["MetricAlarms"]}
                        body["MetricAlarms"] += [_json_safe(a) for a in theirs.get("MetricAlarms", [])
                                                 if a["AlarmName"] not in mine]
                    except Exception as exc:
                        self.errors.append(exc)
            elif action == "DeleteAlarms":
                others = self.alarms.delete(params.get("AlarmNames") or [])
                if others:
                    self._moto("cloudwatch").delete_alarms(AlarmNames=others)
                body = {}
            elif action == "SetAlarmState":
                if params.get("AlarmName") not in self.alarms.alarms:
                    return None
                body = self.alarms.set_state(params)
            elif action == "ListMetrics":
                namespace = params.get("Namespace")
                if namespace is not None and not self._owns(namespace):
                    return None
                body = self.metrics.list_metrics(**params)
                if namespace is None:
                    try:
                        for page in self._moto("cloudwatch").get_paginator("list_metrics").paginate(**params):
                            body["Metrics"] += page.get("Metrics", [])
                    except Exception as exc:
                        self.errors.append(exc)
            else:
                return None
        except CloudWatchError as exc:
            return _json_answer(exc.status_code, exc.as_response(), "application/x-amz-json-1.0",
                                {"x-amzn-query-error": f"{exc.code};Sender"})
        except (KeyError, TypeError) as exc:
            return _json_answer(400, {"__type": "MissingParameter", "message": f"A required parameter is missing: {exc}"},
                                "application/x-amz-json-1.0", {"x-amzn-query-error": "MissingParameter;Sender"})
        return _json_answer(200, body, "application/x-amz-json-1.0")

    def close(self):
        """Stop following the record and answering on the endpoint (what is stored stays readable)."""
        self._closed = True
        self.alarms.close()
        for stop in self._stops:
            stop()
        self._stops = []

    def __repr__(self):
        return f"<ObservabilityService: {self.logs!r}>"


def _json_safe(value):
    """A boto3 answer (datetimes inside) as the JSON protocol carries it (epoch seconds)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return value


_LOGS_ACTIONS = frozenset({
    "CreateLogGroup", "CreateLogStream", "DeleteLogGroup", "DeleteLogStream", "PutRetentionPolicy", "PutLogEvents",
    "DescribeLogStreams", "GetLogEvents", "FilterLogEvents", "PutMetricFilter", "DescribeMetricFilters",
    "DeleteMetricFilter", "PutSubscriptionFilter", "DescribeSubscriptionFilters", "DeleteSubscriptionFilter",
})


def _snake(action):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


def _required(params, *names):
    for name in names:
        if name not in params:
            raise TypeError(f"missing the required parameter '{name}'")
    return params

"""Lambda's CloudWatch metrics, computed from the lab record at one-minute resolution on the lab clock.

Namespace ``AWS/Lambda``, dimension ``FunctionName`` (or none: the account's aggregate). What each
metric counts follows "Types of metrics for Lambda functions"
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html):

- ``Invocations``: every invocation (a synchronous invoke, each attempt of an asynchronous event,
  each batch of a poller), function errors included, throttles not. One sample of 1 each.
- ``Errors``: invocations that ended in a function error (an exception, a timeout, a crash, a failed
  INIT). One sample per invocation, 1 or 0, so ``Sum`` is the errors and ``Average`` the error rate.
- ``Throttles``: requests refused for concurrency (``TooManyRequestsException``).
- ``Duration``: the handler's time in milliseconds (``Average``, ``Minimum``, ``Maximum``,
  ``SampleCount``, ``Sum`` and percentiles such as ``p50``, ``p90``, ``p99``).
- ``ConcurrentExecutions``: the most invocations running at once within the period (one value).
- ``AsyncEventsReceived``, ``AsyncEventAge`` (ms from queueing to the attempt), ``AsyncEventsDropped``
  (expired or retries exhausted, whether or not a DLQ or destination then took it),
  ``DeadLetterErrors``, ``DestinationDeliveryFailures``, ``IteratorAge`` (ms, stream pollers) and
  ``RecursiveInvocationsDropped``.

Percentiles are nearest-rank over the period's samples (CloudWatch does not document its own
estimator; on few samples nearest-rank gives a value that was really observed).

``MetricStore`` holds custom metrics (what metric filters emit). Both answer ``GetMetricStatistics``,
``GetMetricData`` and ``ListMetrics`` in the API's vocabulary. No I/O.

>>> from lambdalab_ext.record import LabRecord
>>> record = LabRecord(clock=lambda: 90.0)
>>> _ = record.append("invoke", "hello", "r1", status="success", duration_ms=12.0)
>>> metrics = LambdaMetrics(record)
>>> metrics.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations", StartTime=0, EndTime=120,
...                               Period=60, Statistics=["Sum"],
...                               Dimensions=[{"Name": "FunctionName", "Value": "hello"}])["Datapoints"]
[{'Timestamp': 60, 'Sum': 1.0, 'Unit': 'Count'}]
"""

import bisect
import datetime
import math
import re
import threading

__all__ = ["LambdaMetrics", "MetricStore", "CloudWatchError", "LAMBDA_NAMESPACE", "LAMBDA_METRICS", "frame",
           "NOT_DERIVED"]

LAMBDA_NAMESPACE = "AWS/Lambda"
LAMBDA_METRICS = {
    "Invocations": "Count", "Errors": "Count", "Throttles": "Count", "Duration": "Milliseconds",
    "ConcurrentExecutions": "Count", "AsyncEventsReceived": "Count", "AsyncEventAge": "Milliseconds",
    "AsyncEventsDropped": "Count", "DeadLetterErrors": "Count", "DestinationDeliveryFailures": "Count",
    "IteratorAge": "Milliseconds", "RecursiveInvocationsDropped": "Count",
}
# Lambda metrics the lab record does not (yet) let the lab compute.
NOT_DERIVED = ("UnreservedConcurrentExecutions", "ProvisionedConcurrentExecutions", "ProvisionedConcurrencyInvocations",
               "ProvisionedConcurrencySpilloverInvocations", "ProvisionedConcurrencyUtilization",
               "ClaimedAccountConcurrency", "OffsetLag", "PostRuntimeExtensionsDuration",
               "SignatureValidationErrors", "StreamsThrottles")
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
MAX_DATAPOINTS = 1_440            # GetMetricStatistics: "A single request can include as many as 1,440 data points"
MAX_METRIC_DATA_QUERIES = 500
_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,10})?|100(?:\.0{1,10})?)")
_FAILED_CONDITIONS = {"EventAgeExceeded", "RetriesExhausted", "RecursiveInvocationDetected", "ZeroReservedConcurrency"}


class CloudWatchError(Exception):
    """An error of the CloudWatch API: ``code`` (``InvalidParameterValue``...), HTTP 400."""

    status_code = 400

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message

    def as_response(self):
        return {"__type": self.code, "message": self.message}


def _invalid(message):
    return CloudWatchError("InvalidParameterValue", message)


def _seconds(value, name):
    """Epoch seconds from what the API carries (a number, or a datetime from a direct call)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CloudWatchError("MissingParameter", f"The parameter {name} is required.")
    return float(value)


def _statistic_values(samples, statistics, extended):
    values = {}
    if not samples:
        return values
    for statistic in statistics:
        if statistic == "SampleCount":
            values[statistic] = float(len(samples))
        elif statistic == "Sum":
            values[statistic] = float(math.fsum(samples))
        elif statistic == "Average":
            values[statistic] = float(math.fsum(samples) / len(samples))
        elif statistic == "Minimum":
            values[statistic] = float(min(samples))
        elif statistic == "Maximum":
            values[statistic] = float(max(samples))
    if extended:
        ordered = sorted(samples)
        values["ExtendedStatistics"] = {p: percentile(ordered, float(p[1:])) for p in extended}
    return values


def percentile(ordered, p):
    """Nearest-rank percentile of sorted samples.

    >>> percentile([10, 20, 30, 40], 50), percentile([10, 20, 30, 40], 99), percentile([5], 0)
    (20.0, 40.0, 5.0)
    """
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def _check_statistics(statistics, extended):
    statistics, extended = list(statistics or []), list(extended or [])
    if statistics and extended:
        raise CloudWatchError("InvalidParameterCombination",
                              "Parameters Statistics and ExtendedStatistics are mutually exclusive.")
    if not statistics and not extended:
        raise CloudWatchError("MissingParameter", "Must specify either Statistics or ExtendedStatistics.")
    for statistic in statistics:
        if statistic not in STATISTICS:
            raise _invalid(f"The parameter Statistics.member.1 must be a value in the set {', '.join(STATISTICS)}.")
    for p in extended:
        if not _PERCENTILE.fullmatch(p):
            raise _invalid(f"The value {p} for parameter ExtendedStatistics is not supported.")
    return statistics, extended


def _stat_of(stat):
    """A GetMetricData ``Stat`` as (statistics, extended)."""
    if stat in STATISTICS:
        return [stat], []
    if _PERCENTILE.fullmatch(stat or ""):
        return [], [stat]
    raise _invalid(f"The value {stat} for parameter MetricDataQueries.member.1.MetricStat.Stat is not supported.")


def _check_window(start, end, period):
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise _invalid("The parameter Period must be greater than 0.")
    if period % 60 and period not in (1, 5, 10, 30):
        raise _invalid("The parameter Period must be a multiple of 60.")
    if end <= start:
        raise _invalid("The parameter StartTime must be less than the parameter EndTime.")


def _dimension_map(dimensions):
    return {d["Name"]: d.get("Value") for d in (dimensions or [])}


class _Series:
    """Samples ``(epoch_s, value)`` in time order, aggregated per period on demand."""

    def __init__(self, samples):
        self.samples = sorted(samples)

    def aggregate(self, start, end, period, statistics, extended):
        """``[(period_start, {statistic: value})]`` for the periods with samples in [start, end)."""
        times = [t for t, _ in self.samples]
        lo, hi = bisect.bisect_left(times, start), bisect.bisect_left(times, end)
        buckets = {}
        for t, value in self.samples[lo:hi]:
            slot = start + (t - start) // period * period
            buckets.setdefault(slot, []).append(value)
        return [(slot, _statistic_values(values, statistics, extended)) for slot, values in sorted(buckets.items())]


class MetricStore:
    """Custom metrics: the datapoints metric filters emit (``put``), by namespace, name and dimensions.

    >>> store = MetricStore()
    >>> store.put("App", "ErrorCount", 1.0, "Count", {}, 61.0)
    >>> store.series("App", "ErrorCount", {}).aggregate(60, 120, 60, ["Sum"], [])
    [(60.0, {'Sum': 1.0})]
    """

    def __init__(self, max_samples_per_metric=100_000):
        self._data = {}
        self._units = {}
        self._max = max_samples_per_metric
        self._lock = threading.Lock()

    def put(self, namespace, name, value, unit, dimensions, timestamp_s):
        key = (namespace, name, tuple(sorted((dimensions or {}).items())))
        with self._lock:
            samples = self._data.setdefault(key, [])
            samples.append((float(timestamp_s), float(value)))
            if len(samples) > self._max:
                del samples[:len(samples) - self._max]
            if unit:
                self._units[key] = unit

    def namespaces(self):
        with self._lock:
            return {key[0] for key in self._data}

    def keys(self):
        with self._lock:
            return list(self._data)

    def unit(self, namespace, name, dimensions):
        return self._units.get((namespace, name, tuple(sorted(dimensions.items()))), "None")

    def series(self, namespace, name, dimensions):
        key = (namespace, name, tuple(sorted(dimensions.items())))
        with self._lock:
            return _Series(list(self._data.get(key, ())))


class LambdaMetrics:
    """Lambda's metrics of a lab (its ``record``), plus the ``custom`` ``MetricStore``.

    ``to_epoch(at)`` turns lab-clock seconds into epoch seconds (a virtual clock's seconds are
    epoch seconds by default). ``virtual``: the clock stood still while each invocation ran, so an
    invocation began at its recorded moment (on the real clock it ended there).
    """

    def __init__(self, record, to_epoch=None, custom=None, virtual=False):
        self.record = record
        self.virtual = virtual
        self.to_epoch = to_epoch or (lambda at: at)
        self.custom = custom if custom is not None else MetricStore()

    # -- samples from the record --------------------------------------------------------------------
    def samples(self, metric, function=None):
        """``[(epoch_s, value)]`` of one Lambda metric for ``function`` (None: every function)."""
        if metric not in LAMBDA_METRICS:
            return []
        epoch = self.to_epoch
        record = self.record
        if metric in ("Invocations", "Errors", "Duration"):
            out = []
            for e in record.events(kind={"invoke"}, function=function):
                if metric == "Invocations":
                    out.append((epoch(e.at), 1.0))
                elif metric == "Errors":
                    out.append((epoch(e.at), 0.0 if e.get("status") == "success" else 1.0))
                elif e.get("duration_ms") is not None:
                    out.append((epoch(e.at), float(e["duration_ms"])))
            return out
        simple = {"Throttles": "throttle", "AsyncEventsReceived": "accepted",
                  "RecursiveInvocationsDropped": "recursion_stopped"}
        if metric in simple:
            return [(epoch(e.at), 1.0) for e in record.events(kind=simple[metric], function=function)]
        if metric == "DeadLetterErrors":
            return [(epoch(e.at), 1.0) for e in record.events(kind="delivery_failed", function=function)
                    if e.get("via") == "dlq"]
        if metric == "DestinationDeliveryFailures":
            return [(epoch(e.at), 1.0) for e in record.events(kind="delivery_failed", function=function)
                    if e.get("via") == "destination" or (e.get("via") is None and e.get("target"))]
        if metric == "AsyncEventsDropped":
            seen, out = set(), []
            for e in record.events(kind={"expired", "exhausted", "dlq", "destination"}, function=function):
                if e.kind in ("dlq", "destination") and e.get("condition") not in _FAILED_CONDITIONS:
                    continue
                if e.kind == "expired" and e.get("source") in ("kinesis", "dynamodb"):
                    continue          # a stream's records, not asynchronous events
                key = e.request_id or ("seq", e.seq)
                if key not in seen:
                    seen.add(key)
                    out.append((epoch(e.at), 1.0))
            return out
        if metric == "IteratorAge":
            return [(epoch(e.at), float(e["iterator_age_ms"])) for e in record.events(kind="batch", function=function)
                    if e.get("iterator_age_ms") is not None]
        if metric == "AsyncEventAge":
            accepted = {e.request_id: e.at for e in record.events(kind="accepted", function=function)}
            out = []
            for e in record.events(kind="attempt", function=function):
                if e.get("status") == "throttled" or e.request_id not in accepted:
                    continue
                # Recorded when the attempt ended (on a virtual clock, when it began: time stood still).
                began = e.at if self.virtual else e.at - (e.get("duration_ms") or 0.0) / 1000
                out.append((epoch(e.at), max(0.0, (began - accepted[e.request_id]) * 1000)))
            return out
        return []                      # ConcurrentExecutions: see _concurrency

    def _intervals(self, function):
        spans = []
        for e in self.record.events(kind="invoke", function=function):
            busy_s = ((e.get("duration_ms") or 0.0) + (e.get("init_duration_ms") or 0.0)) / 1000
            at = self.to_epoch(e.at)
            spans.append((at, at + busy_s) if self.virtual else (at - busy_s, at))
        return spans

    def _concurrency(self, function, start, end, period):
        """``[(period_start, peak)]``: the most invocations running at once in each period."""
        if self.virtual:
            return self._concurrency_virtual(function, start, end, period)
        # An instant invocation (0 ms, or a virtual clock that did not move) still ran: a tiny span.
        spans = [(s, max(e, s + 1e-6)) for s, e in self._intervals(function)]
        # At one moment an invocation that ends frees its slot before one that starts takes it.
        changes = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
        peaks = {}
        running, last = 0, None

        def slot_of(t):
            return start + (t - start) // period * period

        for t, step in changes:
            if running > 0 and last is not None:
                boundary = slot_of(last) + period       # periods entered while invocations ran
                while boundary <= t:
                    if start <= boundary < end:
                        peaks[boundary] = max(peaks.get(boundary, 0), running)
                    boundary += period
            running += step
            if step > 0 and start <= t < end:
                slot = slot_of(t)
                peaks[slot] = max(peaks.get(slot, 0), running)
            last = t
        return sorted((slot, float(peak)) for slot, peak in peaks.items())

    def _concurrency_virtual(self, function, start, end, period):
        # A virtual clock stands still while handlers run, so invocations one after another share
        # one lab moment: whether they overlapped is told by the wall clock (each event's ``wall``,
        # when it was recorded, at its end), and the period by the lab clock.
        runs = []
        for e in self.record.events(kind="invoke", function=function):
            busy_s = ((e.get("duration_ms") or 0.0) + (e.get("init_duration_ms") or 0.0)) / 1000
            runs.append((e.wall - busy_s, e.wall, self.to_epoch(e.at)))
        starts = sorted(r[0] for r in runs)
        ends = sorted(r[1] for r in runs)
        peaks = {}
        for began, _, at in runs:
            if not start <= at < end:
                continue
            # Running when this one began: begun by then, not yet ended (itself included).
            running = bisect.bisect_right(starts, began) - bisect.bisect_right(ends, began)
            slot = start + (at - start) // period * period
            peaks[slot] = max(peaks.get(slot, 0), running)
        return sorted((slot, float(peak)) for slot, peak in peaks.items())

    def _present(self):
        """``{(metric, function)}`` with at least one sample: one pass over the record."""
        present = set()
        accepted = set()
        for e in self.record.events():
            if not e.function:
                continue
            kind = e.kind
            if kind == "invoke":
                present.update((m, e.function) for m in ("Invocations", "Errors", "Duration", "ConcurrentExecutions"))
            elif kind == "throttle":
                present.add(("Throttles", e.function))
            elif kind == "accepted":
                present.add(("AsyncEventsReceived", e.function))
                accepted.add(e.request_id)
            elif kind == "attempt" and e.get("status") != "throttled" and e.request_id in accepted:
                present.add(("AsyncEventAge", e.function))
            elif kind in ("expired", "exhausted") or (kind in ("dlq", "destination")
                                                      and e.get("condition") in _FAILED_CONDITIONS):
                if not (kind == "expired" and e.get("source") in ("kinesis", "dynamodb")):
                    present.add(("AsyncEventsDropped", e.function))
            elif kind == "delivery_failed":
                if e.get("via") == "dlq":
                    present.add(("DeadLetterErrors", e.function))
                elif e.get("via") == "destination" or (e.get("via") is None and e.get("target")):
                    present.add(("DestinationDeliveryFailures", e.function))
            elif kind == "batch" and e.get("iterator_age_ms") is not None:
                present.add(("IteratorAge", e.function))
            elif kind == "recursion_stopped":
                present.add(("RecursiveInvocationsDropped", e.function))
        return present

    # -- what the API reads ---------------------------------------------------------------------------
    def owns(self, namespace):
        return namespace == LAMBDA_NAMESPACE or namespace in self.custom.namespaces()

    def statistics(self, namespace, metric, dimensions, start, end, period, statistics=(), extended=()):
        """``[(period_start, {statistic: value, "ExtendedStatistics": {...}})]`` for one metric."""
        dims = _dimension_map(dimensions)
        if namespace != LAMBDA_NAMESPACE:
            return self.custom.series(namespace, metric, dims).aggregate(start, end, period, statistics, extended)
        if metric not in LAMBDA_METRICS or set(dims) - {"FunctionName"}:
            return []
        function = dims.get("FunctionName")
        if metric == "ConcurrentExecutions":
            return [(slot, _statistic_values([peak], statistics, extended))
                    for slot, peak in self._concurrency(function, start, end, period)]
        return _Series(self.samples(metric, function)).aggregate(start, end, period, statistics, extended)

    def unit(self, namespace, metric, dimensions):
        if namespace == LAMBDA_NAMESPACE:
            return LAMBDA_METRICS.get(metric, "None")
        return self.custom.unit(namespace, metric, _dimension_map(dimensions))

    def get_metric_statistics(self, *, Namespace, MetricName, StartTime, EndTime, Period, Statistics=None,
                              ExtendedStatistics=None, Dimensions=None, Unit=None, **_):
        """GetMetricStatistics, in the API's own terms (epoch seconds in and out)."""
        statistics, extended = _check_statistics(Statistics, ExtendedStatistics)
        start, end = _seconds(StartTime, "StartTime"), _seconds(EndTime, "EndTime")
        _check_window(start, end, Period)
        if (end - start) / Period > MAX_DATAPOINTS:
            raise CloudWatchError("InvalidParameterCombination",
                                  f"You have requested up to {math.ceil((end - start) / Period):,} datapoints, "
                                  f"which exceeds the limit of {MAX_DATAPOINTS:,}. You may reduce the datapoints "
                                  "requested by increasing Period, or decreasing the time range.")
        unit = self.unit(Namespace, MetricName, Dimensions)
        if Unit is not None and Unit != unit:
            return {"Label": MetricName, "Datapoints": []}
        start = math.floor(start / Period) * Period if Period >= 60 else start
        datapoints = []
        for slot, values in self.statistics(Namespace, MetricName, Dimensions, start, end, Period, statistics,
                                            extended):
            if values:
                datapoints.append({"Timestamp": _number(slot), **values, "Unit": unit})
        return {"Label": MetricName, "Datapoints": datapoints}

    def get_metric_data(self, *, MetricDataQueries, StartTime, EndTime, ScanBy="TimestampDescending",
                        MaxDatapoints=None, NextToken=None, **_):
        """GetMetricData for ``MetricStat`` queries (metric math expressions are not computed here)."""
        if not MetricDataQueries or len(MetricDataQueries) > MAX_METRIC_DATA_QUERIES:
            raise _invalid(f"The collection MetricDataQueries must not be empty and must hold at most "
                           f"{MAX_METRIC_DATA_QUERIES} queries.")
        start, end = _seconds(StartTime, "StartTime"), _seconds(EndTime, "EndTime")
        if ScanBy not in ("TimestampDescending", "TimestampAscending"):
            raise _invalid(f"The value {ScanBy} for parameter ScanBy is not valid.")
        ids = set()
        results = []
        for query in MetricDataQueries:
            qid = query.get("Id")
            if not qid or not re.fullmatch(r"[a-z][a-zA-Z0-9_]*", qid):
                raise _invalid(f"The value {qid} for parameter MetricDataQueries.member.1.Id is not valid: it must "
                               "start with a lowercase letter and hold only letters, digits and underscores.")
            if qid in ids:
                raise _invalid(f"The value {qid} for parameter MetricDataQueries.member.Id is duplicated.")
            ids.add(qid)
            if "Expression" in query:
                raise _invalid("lambdalab computes no metric math expressions (MetricDataQueries.Expression).")
            stat = query.get("MetricStat")
            if not stat:
                raise CloudWatchError("MissingParameter", "Each query must have MetricStat or Expression.")
            metric = stat["Metric"]
            period = stat.get("Period")
            _check_window(start, end, period)
            statistics, extended = _stat_of(stat.get("Stat"))
            aligned = math.floor(start / period) * period if period >= 60 else start
            points = self.statistics(metric["Namespace"], metric["MetricName"], metric.get("Dimensions"),
                                     aligned, end, period, statistics, extended)
            key = stat["Stat"]
            pairs = [(slot, values["ExtendedStatistics"][key] if extended else values[key])
                     for slot, values in points if values]
            if ScanBy == "TimestampDescending":
                pairs.reverse()
            if query.get("ReturnData", True) is False:
                continue
            results.append({"Id": qid, "Label": query.get("Label") or metric["MetricName"],
                            "Timestamps": [_number(t) for t, _ in pairs], "Values": [v for _, v in pairs],
                            "StatusCode": "Complete"})
        return {"MetricDataResults": results, "Messages": []}

    def list_metrics(self, *, Namespace=None, MetricName=None, Dimensions=None, NextToken=None, **_):
        """ListMetrics: the Lambda metrics with data (per function and the account's aggregate),
        and the custom metrics."""
        wanted = Dimensions or []
        found = []
        if Namespace in (None, LAMBDA_NAMESPACE):
            present = self._present()
            for metric in LAMBDA_METRICS:
                if MetricName not in (None, metric):
                    continue
                with_data = sorted(f for m, f in present if m == metric)
                if with_data:
                    found.append({"Namespace": LAMBDA_NAMESPACE, "MetricName": metric, "Dimensions": []})
                found += [{"Namespace": LAMBDA_NAMESPACE, "MetricName": metric,
                           "Dimensions": [{"Name": "FunctionName", "Value": f}]} for f in with_data]
        for namespace, name, dims in sorted(self.custom.keys()):
            if Namespace not in (None, namespace) or MetricName not in (None, name):
                continue
            found.append({"Namespace": namespace, "MetricName": name,
                          "Dimensions": [{"Name": k, "Value": v} for k, v in dims]})
        if wanted:
            found = [m for m in found if all(any(d["Name"] == w["Name"] and ("Value" not in w or d["Value"] == w["Value"])
                                                 for d in m["Dimensions"]) for w in wanted)]
        return {"Metrics": found}


def _number(t):
    return int(t) if float(t).is_integer() else t


def frame(lab_or_metrics, function=None, metrics=("Invocations", "Errors", "Throttles", "Duration",
                                                   "ConcurrentExecutions"),
          start=None, end=None, period=60):
    """The Lambda metrics of ``function`` (None: all functions) per period as a pandas DataFrame:
    one row per period start (UTC), columns ``Invocations`` (Sum), ``Errors`` (Sum), ``Throttles``
    (Sum), ``Duration_avg``, ``Duration_p50``, ``Duration_p90``, ``Duration_p99``,
    ``ConcurrentExecutions`` (Maximum), others as their Sum. Periods without data are left out.

    ``lab_or_metrics`` is a lab with observability attached (``lab.observability``), an
    ``ObservabilityService`` or a ``LambdaMetrics``.

    >>> metrics.frame(lab, "hello")                                          # doctest: +SKIP
    """
    import pandas as pd
    source = lab_or_metrics
    source = getattr(source, "observability", source)
    source = getattr(source, "metrics", source)
    dimensions = [{"Name": "FunctionName", "Value": function}] if function else []
    times = [t for m in metrics for t, _ in (source.samples(m, function) if m != "ConcurrentExecutions"
                                              else [(b, 0) for _, b in source._intervals(function)])]
    if not times:
        return pd.DataFrame()
    start = math.floor((min(times) if start is None else start) / period) * period
    end = (max(times) + period) if end is None else end
    rows = {}
    for metric in metrics:
        if metric == "Duration":
            for slot, v in source.statistics(LAMBDA_NAMESPACE, metric, dimensions, start, end, period,
                                             ["Average"], []):
                rows.setdefault(slot, {})["Duration_avg"] = v.get("Average")
            for slot, v in source.statistics(LAMBDA_NAMESPACE, metric, dimensions, start, end, period,
                                             [], ["p50", "p90", "p99"]):
                for p, value in v.get("ExtendedStatistics", {}).items():
                    rows.setdefault(slot, {})[f"Duration_{p}"] = value
            continue
        statistic = "Maximum" if metric in ("ConcurrentExecutions", "AsyncEventAge", "IteratorAge") else "Sum"
        for slot, v in source.statistics(LAMBDA_NAMESPACE, metric, dimensions, start, end, period, [statistic], []):
            rows.setdefault(slot, {})[metric] = v.get(statistic)
    table = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    table.index = pd.to_datetime(table.index, unit="s", utc=True)
    table.index.name = "Timestamp"
    return table

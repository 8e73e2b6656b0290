"""CloudWatch metric alarms on the lab's metrics, evaluated on the lab clock.

An alarm watches one metric (``Namespace``, ``MetricName``, ``Dimensions``, ``Statistic`` or
``ExtendedStatistic``, ``Period``); at the end of each period it takes the last
``EvaluationPeriods`` values and goes to ``ALARM`` when at least ``DatapointsToAlarm`` of them
breach the ``Threshold`` (``ComparisonOperator``), to ``OK`` when they do not, and to
``INSUFFICIENT_DATA`` when there is no value at all. ``TreatMissingData`` says what a period
without a value counts as: ``missing`` (nothing), ``notBreaching``, ``breaching``, ``ignore`` (the
state stays). ("Using Amazon CloudWatch alarms", "Configuring how CloudWatch alarms treat missing
data": https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html)

Each state change runs the actions of the new state: an SNS topic ARN receives the alarm's
notification (``Subject`` ``ALARM: "name" in US East (N. Virginia)``, ``Message`` the JSON
``AlarmName``, ``NewStateValue``, ``NewStateReason``, ``Trigger``... as CloudWatch sends it).

The evaluator is pure; ``AlarmEngine`` schedules it on the lab clock and hands notifications to
the ``notify(topic_arn, subject, message)`` it is given.

>>> alarm = MetricAlarm.from_request({"AlarmName": "errors", "Namespace": "AWS/Lambda", "MetricName": "Errors",
...                                   "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 0,
...                                   "ComparisonOperator": "GreaterThanThreshold"}, region="us-east-1",
...                                  account_id="123456789012", now=0)
>>> evaluate(alarm, [2.0])[0], evaluate(alarm, [0.0])[0], evaluate(alarm, [None])[0]
('ALARM', 'OK', 'INSUFFICIENT_DATA')
"""

import datetime
import json
import operator
import re
import threading

from .metrics import STATISTICS, CloudWatchError

__all__ = ["MetricAlarm", "AlarmEngine", "evaluate", "REGION_NAMES"]

OPERATORS = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")
MAX_ACTIONS = 5
# What the notification's Region and Subject call a Region.
REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-1": "US West (N. California)",
                "us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)",
                "ap-southeast-1": "Asia Pacific (Singapore)", "ap-northeast-1": "Asia Pacific (Tokyo)"}
_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,10})?|100(?:\.0{1,10})?)")


def _invalid(message):
    return CloudWatchError("ValidationError", message)


def _iso(epoch):
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _short(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%d/%m/%y %H:%M:%S")


class MetricAlarm:
    """One metric alarm as ``PutMetricAlarm`` defines it, with its state."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    @classmethod
    def from_request(cls, params, *, region, account_id, now):
        """Validate ``PutMetricAlarm``'s parameters as CloudWatch does (``ValidationError``)."""
        name = params.get("AlarmName")
        if not name or len(name) > 255:
            raise _invalid("The parameter AlarmName must be 1 to 255 characters.")
        if params.get("Metrics"):
            raise _invalid("lambdalab alarms watch one metric (MetricName and Namespace); metric math "
                           "(Metrics) is not evaluated here.")
        for key in ("MetricName", "Namespace", "Period", "EvaluationPeriods", "Threshold", "ComparisonOperator"):
            if params.get(key) is None:
                raise CloudWatchError("MissingParameter", f"The parameter {key} is required.")
        statistic, extended = params.get("Statistic"), params.get("ExtendedStatistic")
        if bool(statistic) == bool(extended):
            raise _invalid("Exactly one of Statistic and ExtendedStatistic must be specified.")
        if statistic and statistic not in STATISTICS:
            raise _invalid(f"The value {statistic} for parameter Statistic is not valid.")
        if extended and not _PERCENTILE.fullmatch(extended):
            raise _invalid(f"The value {extended} for parameter ExtendedStatistic is not supported.")
        period = params["Period"]
        if not isinstance(period, int) or period < 10 or (period % 60 and period not in (10, 20, 30)):
            raise _invalid("Period must be 10, 20, 30 or a multiple of 60.")
        periods = params["EvaluationPeriods"]
        if not isinstance(periods, int) or periods < 1:
            raise _invalid("The parameter EvaluationPeriods must be greater than or equal to 1.")
        if period * periods > 7 * 86400:
            raise _invalid("The evaluation period (Period * EvaluationPeriods) must not exceed one week.")
        to_alarm = params.get("DatapointsToAlarm") or periods
        if not 1 <= to_alarm <= periods:
            raise _invalid("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
        if params["ComparisonOperator"] not in OPERATORS:
            raise _invalid(f"The value {params['ComparisonOperator']} for parameter ComparisonOperator is not valid.")
        treat = params.get("TreatMissingData") or "missing"
        if treat not in TREAT_MISSING:
            raise _invalid(f"The value {treat} for parameter TreatMissingData is not valid: one of "
                           f"{', '.join(TREAT_MISSING)}.")
        actions = {key: list(params.get(key) or []) for key in ("OKActions", "AlarmActions", "InsufficientDataActions")}
        for key, arns in actions.items():
            if len(arns) > MAX_ACTIONS:
                raise _invalid(f"The collection {key} must not have a size greater than {MAX_ACTIONS}.")
        return cls(
            AlarmName=name, AlarmArn=f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}",
            AlarmDescription=params.get("AlarmDescription"), ActionsEnabled=params.get("ActionsEnabled", True),
            MetricName=params["MetricName"], Namespace=params["Namespace"], Statistic=statistic,
            ExtendedStatistic=extended, Dimensions=list(params.get("Dimensions") or []), Period=period,
            Unit=params.get("Unit"), EvaluationPeriods=periods, DatapointsToAlarm=to_alarm,
            Threshold=float(params["Threshold"]), ComparisonOperator=params["ComparisonOperator"],
            TreatMissingData=treat, AlarmConfigurationUpdatedTimestamp=now, StateValue="INSUFFICIENT_DATA",
            StateReason="Unchecked: Initial alarm creation", StateUpdatedTimestamp=now,
            StateTransitionedTimestamp=now, region=region, account_id=account_id, **actions)

    def describe(self):
        """The ``MetricAlarm`` of ``DescribeAlarms`` (epoch seconds for its timestamps)."""
        keys = ("AlarmName", "AlarmArn", "AlarmDescription", "AlarmConfigurationUpdatedTimestamp", "ActionsEnabled",
                "OKActions", "AlarmActions", "InsufficientDataActions", "StateValue", "StateReason",
                "StateUpdatedTimestamp", "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions",
                "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
                "TreatMissingData", "StateTransitionedTimestamp")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}

    def notification(self, old_state, now):
        """The JSON message CloudWatch publishes to an SNS topic on a state change."""
        return {
            "AlarmName": self.AlarmName, "AlarmDescription": self.AlarmDescription, "AWSAccountId": self.account_id,
            "AlarmConfigurationUpdatedTimestamp": _iso(self.AlarmConfigurationUpdatedTimestamp),
            "NewStateValue": self.StateValue, "NewStateReason": self.StateReason, "StateChangeTime": _iso(now),
            "Region": REGION_NAMES.get(self.region, self.region), "AlarmArn": self.AlarmArn,
            "OldStateValue": old_state, "OKActions": self.OKActions, "AlarmActions": self.AlarmActions,
            "InsufficientDataActions": self.InsufficientDataActions,
            "Trigger": {
                "MetricName": self.MetricName, "Namespace": self.Namespace,
                "StatisticType": "Statistic" if self.Statistic else "ExtendedStatistic",
                **({"Statistic": self.Statistic.upper()} if self.Statistic else
                   {"ExtendedStatistic": self.ExtendedStatistic}),
                "Unit": self.Unit, "Dimensions": [{"value": d.get("Value"), "name": d["Name"]} for d in self.Dimensions],
                "Period": self.Period, "EvaluationPeriods": self.EvaluationPeriods,
                "DatapointsToAlarm": self.DatapointsToAlarm, "ComparisonOperator": self.ComparisonOperator,
                "Threshold": self.Threshold, "TreatMissingData": self.TreatMissingData,
                "EvaluateLowSampleCountPercentile": ""}}


def evaluate(alarm, values, moments=None):
    """``(state, reason)`` for the last ``EvaluationPeriods`` values (oldest first, None where a
    period had no value); state None when ``TreatMissingData`` is ``ignore`` and nothing is known."""
    compare, words = OPERATORS[alarm.ComparisonOperator]
    moments = moments or [None] * len(values)
    treat = alarm.TreatMissingData
    breaching = 0
    known = [(v, t) for v, t in zip(values, moments) if v is not None]
    for value in values:
        if value is None:
            breaching += treat == "breaching"
        elif compare(value, alarm.Threshold):
            breaching += 1
    m, n = alarm.DatapointsToAlarm, alarm.EvaluationPeriods
    shown = ", ".join(f"{v} ({_short(t)})" if t is not None else f"{v}" for v, t in reversed(known))
    if breaching >= m:
        return "ALARM", (f"Threshold Crossed: {breaching} out of the last {n} datapoints [{shown}] was {words} the "
                         f"threshold ({alarm.Threshold}) (minimum {m} datapoint{'s' if m != 1 else ''} for OK -> "
                         "ALARM transition).")
    if not known and treat in ("missing", "ignore"):
        if treat == "ignore":
            return None, None
        return "INSUFFICIENT_DATA", (f"Insufficient Data: {n} datapoint{'s were' if n != 1 else ' was'} unknown.")
    if not known:
        return "OK", (f"Threshold Crossed: no datapoints were received for {n} period{'s' if n != 1 else ''} and "
                      f"{n} missing datapoint{'s were' if n != 1 else ' was'} treated as [NonBreaching].")
    return "OK", (f"Threshold Crossed: {len(known) - breaching} out of the last {n} datapoints [{shown}] was not "
                  f"{words} the threshold ({alarm.Threshold}) (minimum {m} datapoint{'s' if m != 1 else ''} for "
                  "ALARM -> OK transition).")


class AlarmEngine:
    """The lab's metric alarms: each one evaluated at the end of every period on ``clock``.

    ``statistics(namespace, metric, dimensions, start, end, period, statistics, extended)`` gives
    ``[(period_start, values)]`` (``LambdaMetrics.statistics``); ``to_epoch`` maps lab-clock
    seconds to epoch seconds; ``notify(topic_arn, subject, message)`` publishes a notification.
    ``history`` keeps every state change ``(epoch, alarm name, old, new, reason)``.
    """

    def __init__(self, clock, to_epoch, statistics, notify, *, region, account_id):
        self.clock, self.to_epoch, self.statistics, self.notify = clock, to_epoch, statistics, notify
        self.region, self.account_id = region, account_id
        self.alarms = {}
        self.history = []
        self.errors = []
        self._calls = {}
        self._lock = threading.RLock()
        self._closed = False

    def put(self, params):
        """``PutMetricAlarm``: create or replace an alarm (its state starts again at INSUFFICIENT_DATA)."""
        alarm = MetricAlarm.from_request(params, region=self.region, account_id=self.account_id,
                                         now=self.to_epoch(self.clock.now()))
        with self._lock:
            old = self._calls.pop(alarm.AlarmName, None)
            if old is not None:
                old.cancel()
            self.alarms[alarm.AlarmName] = alarm
            self._schedule(alarm)
        return {}

    def _schedule(self, alarm):
        now = self.to_epoch(self.clock.now())
        boundary = (now // alarm.Period + 1) * alarm.Period
        lab_moment = self.clock.now() + (boundary - now)
        self._calls[alarm.AlarmName] = self.clock.call_at(lab_moment, self._due, alarm.AlarmName,
                                                          name=f"alarm {alarm.AlarmName}")

    def _due(self, name):
        with self._lock:
            alarm = self.alarms.get(name)
            if alarm is None or self._closed:
                return
            try:
                self.evaluate(alarm)
            except Exception as exc:   # one alarm failing must not stop the clock or the others
                self.errors.append(exc)
            self._schedule(alarm)

    def evaluate(self, alarm):
        """Evaluate ``alarm`` now: the periods that ended by the current moment."""
        now = self.to_epoch(self.clock.now())
        end = now // alarm.Period * alarm.Period
        start = end - alarm.EvaluationPeriods * alarm.Period
        stat = alarm.Statistic or alarm.ExtendedStatistic
        points = dict(self.statistics(alarm.Namespace, alarm.MetricName, alarm.Dimensions, start, end, alarm.Period,
                                      [alarm.Statistic] if alarm.Statistic else [],
                                      [] if alarm.Statistic else [alarm.ExtendedStatistic]))
        slots = [start + i * alarm.Period for i in range(alarm.EvaluationPeriods)]
        values = []
        for slot in slots:
            point = points.get(slot) or {}
            values.append(point.get(stat) if alarm.Statistic else point.get("ExtendedStatistics", {}).get(stat))
        state, reason = evaluate(alarm, values, slots)
        if state is not None:
            self._set(alarm, state, reason, now)

    def set_state(self, params):
        """``SetAlarmState``: the state until the next evaluation, with its actions."""
        with self._lock:
            alarm = self.alarms.get(params.get("AlarmName"))
            if alarm is None:
                raise CloudWatchError("ResourceNotFound", f"Alarm {params.get('AlarmName')} not found")
            state = params.get("StateValue")
            if state not in ("OK", "ALARM", "INSUFFICIENT_DATA"):
                raise _invalid(f"The value {state} for parameter StateValue is not valid.")
            self._set(alarm, state, params.get("StateReason", ""), self.to_epoch(self.clock.now()), force=True)
        return {}

    def _set(self, alarm, state, reason, now, force=False):
        old = alarm.StateValue
        alarm.StateReason, alarm.StateUpdatedTimestamp = reason, now
        if state == old and not force:
            return
        alarm.StateValue, alarm.StateTransitionedTimestamp = state, now
        self.history.append((now, alarm.AlarmName, old, state, reason))
        if not alarm.ActionsEnabled or state == old:
            return
        actions = {"OK": alarm.OKActions, "ALARM": alarm.AlarmActions,
                   "INSUFFICIENT_DATA": alarm.InsufficientDataActions}[state]
        subject = f'{state}: "{alarm.AlarmName}" in {REGION_NAMES.get(self.region, self.region)}'
        message = json.dumps(alarm.notification(old, now))
        for arn in actions:
            if arn.split(":")[2:3] == ["sns"]:
                try:
                    self.notify(arn, subject[:100], message)
                except Exception as exc:   # a topic that is gone: CloudWatch's action fails, the alarm goes on
                    self.errors.append(exc)

    def describe(self, params):
        names, prefix, state = params.get("AlarmNames"), params.get("AlarmNamePrefix"), params.get("StateValue")
        with self._lock:
            found = [a.describe() for n, a in sorted(self.alarms.items())
                     if (not names or n in names) and (not prefix or n.startswith(prefix))
                     and (not state or a.StateValue == state)]
        return {"MetricAlarms": found, "CompositeAlarms": []}

    def delete(self, names):
        """Delete the lab's alarms among ``names``; returns the names that are not the lab's."""
        others = []
        with self._lock:
            for name in names:
                if self.alarms.pop(name, None) is None:
                    others.append(name)
                call = self._calls.pop(name, None)
                if call is not None:
                    call.cancel()
        return others

    def close(self):
        with self._lock:
            self._closed = True
            for call in self._calls.values():
                call.cancel()
            self._calls.clear()

"""Amazon EventBridge rules and schedules that target the lab's functions, SQS queues and SNS topics,
as EventBridge runs them.

Rules are configured through the embedded EventBridge exactly as on AWS (``PutRule`` with an
``EventPattern`` and/or a ``ScheduleExpression``, ``PutTargets`` with a function's, a queue's or a
topic's ARN and an optional ``Input``, ``InputPath`` or ``InputTransformer``, ``EnableRule`` / ``DisableRule`` /
``DeleteRule``, on the default bus or a custom one). moto stores them and answers the API; this
source keeps its own view of the rules from the calls it observes on the lab's endpoint (moto's
backends are shared by every lab of the process, the view is this lab's alone, and it needs the
same calls anyway to arm and cancel schedules), and then:

- ``PutEvents``: each accepted entry becomes the event EventBridge delivers (``version`` "0",
  ``id`` as ``PutEvents`` returned it, ``detail-type``, ``source``, ``account``, ``time``,
  ``region``, ``resources``, ``detail`` as an object), is matched against the bus's enabled rules
  (``lambdalab_ext.sources.patterns``), and each matching function target is invoked
  asynchronously (``source="events"``, ``source_arn`` = the rule's ARN), as EventBridge invokes
  Lambda; an SQS or SNS target gets the same payload as its message (``SqsParameters.MessageGroupId``
  for a FIFO queue), recorded as ``notification`` with the target's ARN. A rule whose pattern does not
  match records ``filtered`` for each of these targets.
  Events moto puts on a bus itself, without the endpoint (an event bus as a rule's target, S3's
  EventBridge notifications, replays), reach the same rules; ``put_event()`` is the way in for
  another source.
- Schedules: ``rate(1 minute)``, ``rate(5 minutes)``, hours, days, and ``cron(Minutes Hours
  Day-of-month Month Day-of-week Year)`` in AWS's syntax (``?``, ``L``, ``W``, ``#``, ranges, lists,
  steps, day-of-week 1-7 = SUN-SAT or names, the year field), computed by croniter, fire on the
  lab clock: each firing records ``schedule`` and sends the "Scheduled Event" to the targets, with
  ``time`` the scheduled moment. Disabling, changing or deleting the rule cancels what was armed.

Lab time as UTC: a ``VirtualClock`` reads as seconds since 1970-01-01T00:00:00Z (start one with
``VirtualClock(start=datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp())`` to begin on a
Monday in 2024); the real clock is the wall clock. On a virtual clock each firing waits for the
invocations it started, so ``clock.advance(3600)`` on a ``rate(1 minute)`` rule returns after 60
real invocations, each at its own moment.

What moto would do itself is neutralised, and pinned by tests: moto raises ``NotImplementedError``
for a Lambda target on ``PutEvents`` (so the whole call failed), delivers to the targets of disabled
rules, lets a schedule-only rule match every event, accepts malformed patterns and schedules, and
answers ``TestEventPattern`` with nothing, sends the whole event to an SQS target whatever its
``Input`` or ``InputPath``, and has no SNS target. Its rules keep delivering to their other targets (log
groups, archives, event buses), now with AWS's matching.

>>> ev = lab.aws.client("events")                                                      # doctest: +SKIP
>>> ev.put_rule(Name="nightly", ScheduleExpression="cron(0 2 * * ? *)")                # doctest: +SKIP
>>> ev.put_targets(Rule="nightly", Targets=[{"Id": "1", "Arn": fn.arn}])               # doctest: +SKIP
>>> lab.clock.advance(7 * 86400)          # a VirtualClock: seven real invocations     # doctest: +SKIP
"""

import copy
import datetime
import importlib.abc
import json
import re
import sys
import threading
import time
import uuid
import weakref

from ..events import rules as rule_events
from ..request import InvocationRequest
from . import patterns

UTC = datetime.timezone.utc
SCHEDULE_INVALID = "Parameter ScheduleExpression is not valid."
# croniter's year field ends in 2099; AWS's goes to 2199 ("Creating a rule that runs on a schedule").
_CRONITER_LAST_YEAR = 2099
_AWS_YEARS = (1970, 2199)
# How long a schedule firing on a virtual clock waits for the invocations it started: the longest
# function timeout plus room for a cold start.
_WAIT_MARGIN_S = 120.0
_PREDEFINED = ("aws.events.rule-arn", "aws.events.rule-name", "aws.events.event.ingestion-time",
               "aws.events.event", "aws.events.event.json")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


# -- schedule expressions ---------------------------------------------------------------------------
class ScheduleExpressionError(ValueError):
    """A schedule EventBridge refuses (``ValidationException``)."""

    code = "ValidationException"

    def __init__(self, detail=""):
        self.detail = detail
        super().__init__(SCHEDULE_INVALID)


class RateSchedule:
    """``rate(value unit)``: every ``period_s`` seconds from when the rule was created or enabled."""

    def __init__(self, expression, period_s):
        self.expression, self.period_s = expression, period_s

    def first_after(self, epoch):
        return epoch + self.period_s

    def next_after(self, epoch):
        return epoch + self.period_s

    def __repr__(self):
        return f"<RateSchedule {self.expression}>"


class CronSchedule:
    """``cron(...)`` in AWS's six fields, computed by croniter on the expression translated to its
    seven-field form (minute hour day month weekday second year)."""

    def __init__(self, expression, croniter_expression, never=False):
        self.expression = expression
        self.croniter_expression = croniter_expression
        self.never = never            # every year named is past what croniter counts to

    def first_after(self, epoch):
        return self.next_after(epoch)

    def next_after(self, epoch):
        """The first moment strictly after ``epoch`` (UTC seconds), or None when none is left."""
        if self.never:
            return None
        from croniter import CroniterBadDateError, croniter
        start = datetime.datetime.fromtimestamp(epoch, UTC)
        try:
            moment = croniter(self.croniter_expression, start).get_next(datetime.datetime)
        except (CroniterBadDateError, OverflowError, ValueError):
            return None
        return moment.timestamp()

    def upcoming(self, epoch, count=5):
        """The next ``count`` moments after ``epoch`` as datetimes: what a notebook shows."""
        moments = []
        for _ in range(count):
            epoch = self.next_after(epoch)
            if epoch is None:
                break
            moments.append(datetime.datetime.fromtimestamp(epoch, UTC))
        return moments

    def __repr__(self):
        return f"<CronSchedule {self.expression} -> {self.croniter_expression!r}>"


_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_CRON = re.compile(r"cron\((.*)\)", re.DOTALL)
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
_FIELD_CHARS = {
    "minutes": re.compile(r"[0-9*,/\-]+"),
    "hours": re.compile(r"[0-9*,/\-]+"),
    "day-of-month": re.compile(r"\?|[0-9*,/\-LW]+"),
    "month": re.compile(r"[0-9A-Za-z*,/\-]+"),
    "day-of-week": re.compile(r"\?|[0-9A-Za-z*,\-L#]+"),
    "year": re.compile(r"[0-9*,/\-]+"),
}
_NUMBER_RANGES = {"minutes": (0, 59), "hours": (0, 23), "day-of-month": (1, 31), "month": (1, 12),
                  "day-of-week": (1, 7), "year": _AWS_YEARS}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def parse_schedule(expression):
    """A ``RateSchedule`` or ``CronSchedule`` for an EventBridge ``ScheduleExpression``; raises
    ``ScheduleExpressionError`` ("Parameter ScheduleExpression is not valid.") as ``PutRule`` does.

    >>> parse_schedule("rate(5 minutes)").period_s
    300
    >>> parse_schedule("cron(0 12 ? * MON-FRI *)").croniter_expression
    '0 12 * * MON-FRI 0 *'
    >>> parse_schedule("rate(1 minutes)")
    Traceback (most recent call last):
    ...
    lambdalab_ext.sources.eventbridge.ScheduleExpressionError: Parameter ScheduleExpression is not valid.
    """
    if not isinstance(expression, str):
        raise ScheduleExpressionError("not a string")
    text = expression.strip()
    rate = _RATE.fullmatch(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        # "If the value is equal to 1, then the unit must be singular. If the value is greater
        # than 1, the unit must be plural."
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise ScheduleExpressionError(f"rate value {value} with unit {unit}")
        return RateSchedule(text, value * _UNIT_S[unit.rstrip("s")])
    cron = _CRON.fullmatch(text)
    if not cron:
        raise ScheduleExpressionError("neither rate(...) nor cron(...)")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ScheduleExpressionError("a cron expression has six fields")
    names = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")
    for name, value in zip(names, fields):
        if not _FIELD_CHARS[name].fullmatch(value):
            raise ScheduleExpressionError(f"{name} {value!r}")
    minutes, hours, dom, month, dow, year = fields
    # "You can't specify the Day-of-month and Day-of-week fields in the same cron expression. If
    # you specify a value or a * (asterisk) in one of the fields, you must use a ? in the other."
    if (dom == "?") == (dow == "?"):
        raise ScheduleExpressionError("exactly one of day-of-month and day-of-week must be ?")
    # "If you use a '#' character, you can define only one expression in the day-of-week field."
    if "#" in dow and ("," in dow or dow.count("#") > 1):
        raise ScheduleExpressionError("one # expression at most")
    for name, value in zip(names, fields):
        _check_numbers(name, value)
    if dom != "?" and ("W" in dom or "L" in dom) and dom not in ("L",) and not re.fullmatch(r"\d{1,2}W", dom):
        raise ScheduleExpressionError(f"day-of-month {dom!r}")       # L and nW stand alone
    cron_year, never = _croniter_year(year)
    translated = " ".join([minutes, hours, "*" if dom == "?" else dom, month,
                           "*" if dow == "?" else _croniter_weekday(dow), "0", cron_year])
    schedule = CronSchedule(text, translated, never=never)
    try:
        from croniter import croniter
        croniter(translated)               # croniter's own checks: bad values, bad ranges
    except Exception as exc:
        raise ScheduleExpressionError(str(exc)) from None
    return schedule


def _check_numbers(name, value):
    """The numbers of a field in AWS's ranges (croniter's differ: day-of-week 0-6, years to 2099)."""
    low, high = _NUMBER_RANGES[name]
    for token in value.split(","):
        head, _, step = token.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            raise ScheduleExpressionError(f"{name} step {step!r}")
        if name == "day-of-week":
            head = head.split("#")[0].rstrip("L")
            if "#" in token and not re.fullmatch(r"[1-5]", token.split("#")[1]):
                raise ScheduleExpressionError(f"{name} {token!r}")
        if name == "day-of-month":
            head = head.rstrip("W")
        for number in re.findall(r"\d+", head):
            if not low <= int(number) <= high:
                raise ScheduleExpressionError(f"{name} value {number}")
        names = re.findall(r"[A-Za-z]+", head)
        allowed = {"month": _MONTHS, "day-of-week": _DAYS}.get(name, ())
        for word in names:
            if word.upper() not in allowed and not (word == "L" and name in ("day-of-month", "day-of-week")):
                raise ScheduleExpressionError(f"{name} {word!r}")


def _croniter_weekday(field):
    """AWS's day-of-week (1-7 = SUN-SAT, ``nL`` the last such day of the month, ``n#k`` the k-th, a
    lone ``L`` the last day of the week) in croniter's terms (0-6 = SUN-SAT, ``Ln``, ``n#k``)."""
    def shift(text):
        return re.sub(r"\d+", lambda m: str(int(m.group()) - 1), text)
    out = []
    for token in field.split(","):
        if token == "L":
            out.append("6")                        # the last day of the week: Saturday
        elif "#" in token:
            day, nth = token.split("#")
            out.append(f"{shift(day)}#{nth}")
        elif token.endswith("L"):
            out.append(f"L{shift(token[:-1])}")
        else:
            out.append(shift(token))
    return ",".join(out)


def _croniter_year(field):
    """The year field for croniter, whose years end in 2099: later years are left out (the lab's
    clock does not reach them in practice). Returns (field, never)."""
    if field == "*":
        return field, False
    kept = []
    for token in field.split(","):
        head, slash, step = token.partition("/")
        if head == "*":
            kept.append(token)
            continue
        first, _, last = head.partition("-")
        first = int(first)
        last = int(last) if last else (None if not slash else _CRONITER_LAST_YEAR)
        if first > _CRONITER_LAST_YEAR:
            continue
        if last is None:
            kept.append(str(first))
        else:
            kept.append(f"{first}-{min(last, _CRONITER_LAST_YEAR)}" + (f"/{step}" if slash else ""))
    if not kept:
        return "*", True
    return ",".join(kept), False


# -- target input ----------------------------------------------------------------------------------
class TargetInputError(ValueError):
    """What a target's Input, InputPath or InputTransformer made is not something to deliver."""


def validate_target(target):
    """``PutTargets``'s checks of one target, with AWS's messages (``ValueError``)."""
    target_id = target.get("Id")
    given = [key for key in ("Input", "InputPath", "InputTransformer") if target.get(key) is not None]
    if len(given) > 1:
        raise ValueError(f"Only one of Input, InputPath, or InputTransformer must be provided for target {target_id}.")
    transformer = target.get("InputTransformer")
    if transformer:
        defined = set((transformer.get("InputPathsMap") or {}).keys()) | set(_PREDEFINED)
        for name in _PLACEHOLDER.findall(transformer.get("InputTemplate") or ""):
            if name not in defined:
                raise ValueError(f"InputTemplate for target {target_id} contains invalid placeholder {name}.")


_MISSING = object()
_JSON_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def json_path(document, path):
    """The value at a simple JSONPath (``$``, ``$.a.b``, ``$.a[0]``, ``$['a-b']``), or ``_MISSING``."""
    if not isinstance(path, str) or not path.startswith("$"):
        return _MISSING
    value, position = document, 1
    while position < len(path):
        step = _JSON_PATH_STEP.match(path, position)
        if not step:
            return _MISSING
        position = step.end()
        key, index, quoted, double = step.groups()
        if index is not None:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
        else:
            name = key if key is not None else quoted if quoted is not None else double
            if not isinstance(value, dict) or name not in value:
                return _MISSING
            value = value[name]
    return value


def target_payload(target, event, *, rule_arn, rule_name, ingestion_time):
    """The JSON text a target receives for ``event``: the event itself, or its ``Input``,
    ``InputPath`` or ``InputTransformer`` ("Amazon EventBridge input transformation"). Raises
    ``TargetInputError`` when the result is not JSON (EventBridge would fail to invoke Lambda).

    >>> event = {"detail": {"instance-id": "i-1", "state": "RUNNING"}}
    >>> target_payload({"InputTransformer": {"InputPathsMap": {"i": "$.detail.instance-id", "s": "$.detail.state"},
    ...                                      "InputTemplate": '"instance <i> is in <s>"'}}, event,
    ...                rule_arn="arn", rule_name="r", ingestion_time="2024-01-01T00:00:00Z")
    '"instance i-1 is in RUNNING"'
    """
    if target.get("Input") is not None:
        text = target["Input"]
    elif target.get("InputPath") is not None:
        value = json_path(event, target["InputPath"])
        if value is _MISSING:
            raise TargetInputError(f"InputPath {target['InputPath']!r} selects nothing in the event")
        text = json.dumps(value)
    elif target.get("InputTransformer") is not None:
        text = transform_input(target["InputTransformer"], event, rule_arn=rule_arn, rule_name=rule_name,
                               ingestion_time=ingestion_time)
    else:
        return json.dumps(event)
    try:
        json.loads(text)
    except (TypeError, ValueError):
        raise TargetInputError(f"the target's input is not valid JSON: {str(text)[:200]!r}") from None
    return text


def transform_input(transformer, event, *, rule_arn, rule_name, ingestion_time):
    """An ``InputTransformer``'s text, filled in the way EventBridge does it (observed on AWS):

    - outside quotes in a JSON template a variable becomes its JSON (a string with its quotes);
    - inside quotes a string goes in as it is (nothing is escaped), a number or boolean as its
      JSON; in a template that is itself a string, objects and arrays go in as JSON without
      their quotes; inside the quotes of a JSON template they go in as JSON (which breaks it);
    - a path that is not in the event gives the empty string.
    """
    template = transformer.get("InputTemplate") or ""
    values = {}
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        found = json_path(event, path)
        values[name] = "" if found is _MISSING else found
    without_detail = {("detailType" if key == "detail-type" else key): value
                      for key, value in event.items() if key != "detail"}
    values.update({"aws.events.rule-arn": rule_arn, "aws.events.rule-name": rule_name,
                   "aws.events.event.ingestion-time": ingestion_time, "aws.events.event": without_detail,
                   "aws.events.event.json": event})
    string_template = template.lstrip().startswith('"')
    out, in_string, i = [], False, 0
    while i < len(template):
        char = template[i]
        if char == "<":
            match = _PLACEHOLDER.match(template, i)
            if match and match.group(1) in values:
                out.append(_fill(values[match.group(1)], in_string, string_template))
                i = match.end()
                continue
        if char == "\\" and in_string:
            out.append(template[i:i + 2])
            i += 2
            continue
        if char == '"':
            in_string = not in_string
        out.append(char)
        i += 1
    return "".join(out)


def _fill(value, in_string, string_template):
    if not in_string:
        return json.dumps(value)
    if isinstance(value, str):
        return value
    text = json.dumps(value, separators=(",", ":"))
    if isinstance(value, (dict, list)) and string_template:
        return text.replace('"', "")
    return text


# -- lab time ----------------------------------------------------------------------------------------
class LabTime:
    """Lab-clock seconds as UTC: a virtual clock's seconds are epoch seconds; the real clock's
    monotonic seconds map to the wall clock at the moment this was made."""

    def __init__(self, clock):
        self.clock = clock
        self.offset = 0.0 if getattr(clock, "virtual", False) else time.time() - clock.now()

    def epoch(self, at=None):
        return (self.clock.now() if at is None else at) + self.offset

    def lab(self, epoch):
        return epoch - self.offset

    def datetime(self, at=None):
        return datetime.datetime.fromtimestamp(self.epoch(at), UTC)


# -- moto, neutralised -------------------------------------------------------------------------------
class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a function on a module once it is imported (at once if it already is): moto's service
    modules load on the first request to the endpoint, and must be fixed before that request."""

    def __init__(self):
        self._hooks = {}
        self._lock = threading.Lock()

    def add(self, name, fn):
        with self._lock:
            module = sys.modules.get(name)
            if module is None:
                self._hooks.setdefault(name, []).append(fn)
                if self not in sys.meta_path:
                    sys.meta_path.insert(0, self)
        if module is not None:
            fn(module)

    def find_spec(self, name, path=None, target=None):
        with self._lock:
            hooks = self._hooks.pop(name, None)
            if not self._hooks and self in sys.meta_path:
                sys.meta_path.remove(self)           # every hook placed: out of the way of imports
        if not hooks:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            with self._lock:
                self._hooks.setdefault(name, []).extend(hooks)
                if self not in sys.meta_path:
                    sys.meta_path.insert(0, self)
            return spec
        loader_exec = spec.loader.exec_module

        def exec_module(module):
            loader_exec(module)
            for fn in hooks:
                fn(module)
        spec.loader.exec_module = exec_module
        return spec


after_import = _AfterImport().add


def is_lambda_arn(arn):
    parts = str(arn or "").split(":")
    return len(parts) >= 7 and parts[0] == "arn" and parts[2] == "lambda" and parts[5] == "function"


def is_lab_target(arn):
    """A target this source delivers itself: a function, an SQS queue or an SNS topic (moto ignores a
    target's ``Input`` and ``InputPath``, and has no SNS target); moto keeps log groups, archives and
    event buses."""
    parts = str(arn or "").split(":")
    return is_lambda_arn(arn) or (len(parts) >= 6 and parts[0] == "arn" and parts[2] in ("sqs", "sns"))


def _iso(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


# Events moto puts on a bus by itself (S3's EventBridge notifications, an event bus target of a
# rule, an archive's replay) never cross the endpoint: moto hands them to the live sources, which
# invoke their own rules' functions. The one PutEvents the endpoint's observer reports is not.
_sources = weakref.WeakSet()
_moto_thread = threading.local()


def _patch_events_models(models):
    if getattr(models, "_lambdalab_patched", False):
        return
    models._lambdalab_patched = True
    from moto.events.exceptions import InvalidEventPatternException, ValidationException

    send_to_targets = models.Rule.send_to_targets

    def send_to_targets_as_aws(self, original_event, transform_input=True):
        # AWS delivers nothing for a disabled rule, and a schedule-only rule matches no event; the
        # lab invokes Lambda targets itself (moto raises NotImplementedError on them), and sends to
        # SQS and SNS targets itself (``is_lab_target``).
        if self.state != "ENABLED" or not self.event_pattern.get_pattern():
            return None
        functions = [t for t in self.targets if is_lab_target(t.get("Arn"))]
        if functions and not getattr(_moto_thread, "observed", False) \
                and self.event_pattern.matches_event(original_event):
            for source in list(_sources):
                try:
                    source._moto_delivered(self, original_event)
                except Exception:     # a lab's bug must not fail moto's own call (a PutObject...)
                    pass
        if len(functions) == len(self.targets):
            return None
        if functions:
            self = copy.copy(self)
            self.targets = [t for t in self.targets if not is_lab_target(t.get("Arn"))]
        return send_to_targets(self, original_event, transform_input)
    models.Rule.send_to_targets = send_to_targets_as_aws

    put_events = models.EventsBackend.put_events

    def put_events_counted(self, events):
        # Only the first PutEvents of an endpoint request is the one its observer reports; one
        # moto makes inside it (a rule's event bus target) is moto's own.
        observed = getattr(_moto_thread, "endpoint_request", False)
        _moto_thread.endpoint_request = False
        outer = getattr(_moto_thread, "observed", False)
        _moto_thread.observed = observed
        try:
            return put_events(self, events)
        finally:
            _moto_thread.observed = outer
    models.EventsBackend.put_events = put_events_counted

    def parse(self):
        if not self.pattern:
            return {}
        try:
            compiled = patterns.compile_event_pattern(self.pattern)
        except patterns.EventPatternError as exc:
            raise InvalidEventPatternException(reason=exc.reason) from None
        return compiled.source
    models.EventPatternParser.parse = parse

    def matches_event(self, event):
        compiled = getattr(self, "_lambdalab_compiled", None)
        if compiled is None:
            compiled = self._lambdalab_compiled = patterns.compile_event_pattern(self._pattern)
        event = dict(event)
        event["time"] = _iso(event.get("time"))
        return compiled.matches(json.loads(json.dumps(event, default=str)))
    models.EventPattern.matches_event = matches_event

    put_rule = models.EventsBackend.put_rule

    def put_rule_as_aws(self, name, *args, **kwargs):
        expression = kwargs.get("scheduled_expression")
        if expression:
            try:
                parse_schedule(expression)
            except ScheduleExpressionError:
                raise ValidationException(SCHEDULE_INVALID) from None
        return put_rule(self, name, *args, **kwargs)
    models.EventsBackend.put_rule = put_rule_as_aws

    put_targets = models.EventsBackend.put_targets

    def put_targets_as_aws(self, name, event_bus_arn, targets):
        for target in targets or []:
            try:
                validate_target(target)
            except ValueError as exc:
                raise ValidationException(str(exc)) from None
        return put_targets(self, name, event_bus_arn, targets)
    models.EventsBackend.put_targets = put_targets_as_aws


_EVENT_REQUIRED = ("id", "account", "source", "time", "region", "resources", "detail-type")


def _patch_events_responses(responses):
    if getattr(responses, "_lambdalab_patched", False):
        return
    responses._lambdalab_patched = True
    from moto.events.exceptions import InvalidEventPatternException, ValidationException

    put_events = responses.EventsHandler.put_events

    def put_events_from_the_endpoint(self):
        _moto_thread.endpoint_request = True
        try:
            return put_events(self)
        finally:
            _moto_thread.endpoint_request = False
    responses.EventsHandler.put_events = put_events_from_the_endpoint

    def test_event_pattern(self):
        # moto answers TestEventPattern with nothing; AWS says whether the pattern matches.
        try:
            compiled = patterns.compile_event_pattern(self._get_param("EventPattern") or "")
        except patterns.EventPatternError as exc:
            raise InvalidEventPatternException(reason=exc.reason) from None
        try:
            event = json.loads(self._get_param("Event") or "")
        except ValueError:
            event = None
        if not isinstance(event, dict) or any(key not in event for key in _EVENT_REQUIRED):
            raise ValidationException("Parameter Event is not valid.")
        return json.dumps({"Result": compiled.matches(event)})
    responses.EventsHandler.test_event_pattern = test_event_pattern


def install_moto_patches():
    """Make moto's EventBridge behave as AWS's where the lab relies on it (idempotent)."""
    after_import("moto.events.models", _patch_events_models)
    after_import("moto.events.responses", _patch_events_responses)


# -- the source -------------------------------------------------------------------------------------
class _Rule:
    __slots__ = ("region", "bus", "name", "arn", "state", "pattern", "pattern_text", "schedule", "expression",
                 "targets", "call", "generation", "armed_at")

    def __init__(self, region, bus, name, arn):
        self.region, self.bus, self.name, self.arn = region, bus, name, arn
        self.state = "ENABLED"
        self.pattern = self.pattern_text = self.schedule = self.expression = None
        self.targets = {}            # target id -> target (as PutTargets gave it)
        self.call = None             # the armed ScheduledCall
        self.generation = 0
        self.armed_at = None         # epoch of the next firing

    @property
    def enabled(self):
        return self.state == "ENABLED"


def _bus_name(value):
    if not value:
        return "default"
    return value.split("/")[-1] if str(value).startswith("arn:") else value


class EventBridgeSource:
    """EventBridge rules and schedules of the embedded EventBridge that target the lab's functions.

    ``aws`` is the lab's ``AWSEndpoint``, ``service`` its ``LambdaService``, ``async_queue`` its
    ``AsyncQueue``, ``clock`` and ``record`` the lab's. ``rules()`` lists what this source knows.
    """

    def __init__(self, *, aws, service, async_queue, clock, record, region, account_id):
        install_moto_patches()
        self.aws, self.service, self.async_queue, self.clock, self.record = aws, service, async_queue, clock, record
        self.region, self.account_id = region, account_id
        self.time = LabTime(clock)
        self._lock = threading.RLock()
        self._rules = {}             # (region, bus, name) -> _Rule
        self._closed = False
        self._stop = aws.observe(self._observe)
        _sources.add(self)

    # -- what notebooks read ---------------------------------------------------------------------
    def rules(self):
        """The rules this lab's endpoint configured: name, bus, state, pattern, schedule, targets and
        the next firing (UTC) of a schedule."""
        with self._lock:
            return [{"name": r.name, "bus": r.bus, "arn": r.arn, "state": r.state, "event_pattern": r.pattern_text,
                     "schedule_expression": r.expression, "targets": [dict(t) for t in r.targets.values()],
                     "next_firing": None if r.armed_at is None else datetime.datetime.fromtimestamp(r.armed_at, UTC)}
                    for r in self._rules.values()]

    def close(self):
        with self._lock:
            self._closed = True
            calls = [r.call for r in self._rules.values() if r.call is not None]
        self._stop()
        _sources.discard(self)
        for call in calls:
            call.cancel()

    # -- observed calls ----------------------------------------------------------------------------
    def _observe(self, call):
        if call.service != "events" or not call.ok or self._closed:
            return
        action = call.action
        handler = getattr(self, f"_on_{re.sub(r'(?<!^)(?=[A-Z])', '_', action or '').lower()}", None)
        if handler is not None:
            handler(call, call.json(), call.region or self.region)

    def _rule(self, region, bus, name, create=False):
        key = (region, bus, name)
        rule = self._rules.get(key)
        if rule is None and create:
            resource = f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}"
            rule = self._rules[key] = _Rule(region, bus, name,
                                            f"arn:aws:events:{region}:{self.account_id}:{resource}")
        return rule

    def _on_put_rule(self, call, body, region):
        with self._lock:
            rule = self._rule(region, _bus_name(body.get("EventBusName")), body.get("Name"), create=True)
            rule.state = body.get("State") or "ENABLED"
            rule.pattern_text = body.get("EventPattern") or None
            try:
                rule.pattern = patterns.compile_event_pattern(rule.pattern_text) if rule.pattern_text else None
            except patterns.EventPatternError:
                rule.pattern = None
            rule.expression = body.get("ScheduleExpression") or None
            try:
                rule.schedule = parse_schedule(rule.expression) if rule.expression else None
            except ScheduleExpressionError:
                rule.schedule = None
            self._arm(rule)

    def _on_put_targets(self, call, body, region):
        with self._lock:
            rule = self._rule(region, _bus_name(body.get("EventBusName")), body.get("Rule"))
            if rule is None:
                return
            try:
                failed = {entry.get("TargetId") for entry in json.loads(call.response_body).get("FailedEntries", [])}
            except ValueError:
                failed = set()
            for target in body.get("Targets") or []:
                if target.get("Id") not in failed:
                    rule.targets[target.get("Id")] = target

    def _on_remove_targets(self, call, body, region):
        with self._lock:
            rule = self._rule(region, _bus_name(body.get("EventBusName")), body.get("Rule"))
            for target_id in (body.get("Ids") or []) if rule else []:
                rule.targets.pop(target_id, None)

    def _on_delete_rule(self, call, body, region):
        with self._lock:
            rule = self._rules.pop((region, _bus_name(body.get("EventBusName")), body.get("Name")), None)
            if rule is not None:
                self._disarm(rule)

    def _on_enable_rule(self, call, body, region):
        self._set_state(body, region, "ENABLED")

    def _on_disable_rule(self, call, body, region):
        self._set_state(body, region, "DISABLED")

    def _set_state(self, body, region, state):
        with self._lock:
            rule = self._rule(region, _bus_name(body.get("EventBusName")), body.get("Name"))
            if rule is not None and rule.state != state:
                rule.state = state
                self._arm(rule)

    def _on_delete_event_bus(self, call, body, region):
        bus = _bus_name(body.get("Name"))
        with self._lock:
            for key in [k for k in self._rules if k[0] == region and k[1] == bus]:
                self._disarm(self._rules.pop(key))

    def _on_put_events(self, call, body, region):
        try:
            results = json.loads(call.response_body).get("Entries") or []
        except ValueError:
            return
        trace = call.headers.get("x-amzn-trace-id")
        for entry, result in zip(body.get("Entries") or [], results):
            if not isinstance(result, dict) or "EventId" not in result:
                continue
            bus = _bus_name(entry.get("EventBusName"))
            if not self._function_rules(region, bus):
                continue
            event, problem = self._event(entry, result["EventId"], region)
            self.put_event(event, bus=bus, region=region, trace=trace, event_id=result["EventId"], problem=problem)

    def _function_rules(self, region, bus):
        with self._lock:
            return [(r, list(r.targets.values())) for r in self._rules.values()
                    if r.region == region and r.bus == bus and r.enabled and r.pattern is not None
                    and any(is_lab_target(t.get("Arn")) for t in r.targets.values())]

    def put_event(self, event, *, bus="default", region=None, trace=None, event_id=None, problem=None):
        """Match an event in EventBridge's shape against this lab's enabled rules on ``bus`` and
        invoke their function targets; a rule that does not match records ``filtered``. What
        ``PutEvents`` does once the event is built (and what another source can call)."""
        region = region or self.region
        event_id = event_id or (event or {}).get("id")
        for rule, targets in self._function_rules(region, bus):
            targets = [t for t in targets if is_lab_target(t.get("Arn"))]
            if problem is None and rule.pattern.matches(event):
                for target in targets:
                    self._deliver(rule, target, event, trace=trace, event_id=event_id)
            else:
                for target in targets:
                    self.record.append("filtered", _target_function(target), None, source="events",
                                       rule=rule.name, rule_arn=rule.arn, event_id=event_id, target=target["Arn"],
                                       reason=problem or "the rule's event pattern does not match the event")

    def _moto_delivered(self, moto_rule, moto_event):
        """moto matched an event it put on a bus itself to one of its rules with function targets:
        if the rule is this lab's, its functions get the event in EventBridge's shape."""
        key = (moto_rule.region_name, moto_rule.event_bus_name, moto_rule.name)
        with self._lock:
            rule = self._rules.get(key)
            if self._closed or rule is None or not rule.enabled or rule.pattern is None:
                return
            functions = [t for t in rule.targets.values() if is_lab_target(t.get("Arn"))]
        moment = moto_event.get("time")
        if isinstance(moment, str):
            moment = _epoch(moment)
        event = rule_events.eventbridge(
            detail=moto_event.get("detail") if isinstance(moto_event.get("detail"), dict) else {},
            detail_type=moto_event.get("detail-type"), source=moto_event.get("source"),
            resources=moto_event.get("resources") or [], replay_name=moto_event.get("replay-name"),
            region=rule.region, account=moto_event.get("account") or self.account_id,
            time=moment if isinstance(moment, (int, float)) else self.time.epoch(),
            event_id=_fresh_id(moto_event.get("id")))
        if not rule.pattern.matches(event):
            return
        for target in functions:
            self._deliver(rule, target, event, event_id=event["id"])

    def _event(self, entry, event_id, region):
        """The event EventBridge delivers for one accepted ``PutEvents`` entry, or (None, why not)."""
        try:
            detail = json.loads(entry.get("Detail") or "")
        except ValueError:
            return None, "Detail is not valid JSON"
        if not isinstance(detail, dict):
            return None, "Detail is not a JSON object"
        moment = entry.get("Time")
        if isinstance(moment, str):
            moment = _epoch(moment)
        if not isinstance(moment, (int, float)) or isinstance(moment, bool):
            moment = self.time.epoch()
        event = rule_events.eventbridge(detail=detail, detail_type=entry.get("DetailType"), source=entry.get("Source"),
                                        resources=entry.get("Resources") or [], region=region,
                                        account=self.account_id, time=moment, event_id=event_id)
        return event, None

    # -- schedules -------------------------------------------------------------------------------
    def _arm(self, rule):
        """(Re)arm a rule's schedule from now; caller holds the lock."""
        self._disarm(rule)
        if self._closed or not rule.enabled or rule.schedule is None:
            return
        moment = rule.schedule.first_after(self.time.epoch())
        self._arm_at(rule, moment)

    def _arm_at(self, rule, moment):
        if moment is None:
            return
        rule.armed_at = moment
        rule.call = self.clock.call_at(self.time.lab(moment), self._fire, (rule.region, rule.bus, rule.name),
                                       rule.generation, moment, name=f"schedule {rule.name} {rule.expression}")

    def _disarm(self, rule):
        rule.generation += 1
        rule.armed_at = None
        if rule.call is not None:
            rule.call.cancel()
            rule.call = None

    def _fire(self, key, generation, moment):
        with self._lock:
            rule = self._rules.get(key)
            if self._closed or rule is None or rule.generation != generation:
                return
            rule.call = None
            # The next moment first: whatever happens to this firing, the schedule goes on.
            self._arm_at(rule, rule.schedule.next_after(moment))
            targets = [t for t in rule.targets.values() if is_lab_target(t.get("Arn"))]
        event_id = str(uuid.uuid4())
        event = rule_events.schedule(rule=rule.name, region=rule.region, account=self.account_id, time=moment,
                                     event_id=event_id)
        self.record.append("schedule", None, None, rule=rule.name, rule_arn=rule.arn, expression=rule.expression,
                           time=event["time"], event_id=event_id,
                           targets=[_target_function(t) or t["Arn"] for t in targets])
        started = [self._deliver(rule, target, event, event_id=event_id) for target in targets]
        if self.clock.virtual and any(started):
            # Advancing a virtual clock runs what falls due in this thread; the asynchronous queue
            # runs the first attempt on its own threads. Waiting here keeps each invocation at its
            # moment (and one warm environment serving a rate(1 minute) rule, as on AWS).
            self.async_queue.wait_idle(self._wait_s(targets))

    def _wait_s(self, targets):
        longest = 0
        for target in targets:
            try:
                longest = max(longest, self.service.get(_target_function(target)).config.timeout_s)
            except Exception:
                pass
        return longest + _WAIT_MARGIN_S

    # -- delivery ----------------------------------------------------------------------------------
    def _deliver(self, rule, target, event, *, event_id, trace=None):
        """Invoke one function target asynchronously, as EventBridge does, or send to an SQS or SNS
        target; True if a function's invocation was queued."""
        if not is_lambda_arn(target["Arn"]):
            self._send(rule, target, event, event_id=event_id)
            return False
        name = _function_name(target["Arn"])
        region, account = target["Arn"].split(":")[3:5]
        if region != self.region or account != self.account_id:
            self.record.append("delivery_failed", name, None, via="events", rule_arn=rule.arn, event_id=event_id,
                               error=f"ResourceNotFoundException: {target['Arn']} is not a function of this lab "
                                     f"({self.region}, account {self.account_id})")
            return False
        try:
            payload = target_payload(target, event, rule_arn=rule.arn, rule_name=rule.name,
                                     ingestion_time=self.time.datetime().strftime("%Y-%m-%dT%H:%M:%SZ"))
        except TargetInputError as exc:
            self.record.append("filtered", name, None, source="events", rule=rule.name, rule_arn=rule.arn,
                               event_id=event_id, reason=str(exc))
            return False
        request = InvocationRequest(function_name=name, payload=payload.encode("utf-8"), invocation_type="Event",
                                    source="events", source_arn=rule.arn, trace_header=trace)
        self.record.append("notification", name, request.request_id, source="events", rule=rule.name,
                           rule_arn=rule.arn, event_id=event_id, target_id=target.get("Id"))
        try:
            self.async_queue.submit(request)
        except Exception as exc:     # no such function, payload over 1 MB, lab shutting down
            self.record.append("delivery_failed", name, request.request_id, via="events", rule_arn=rule.arn,
                               event_id=event_id, error=f"{type(exc).__name__}: {exc}")
            return False
        return True

    def _send(self, rule, target, event, *, event_id):
        """The event (or the target's Input, InputPath or InputTransformer of it) as the message of
        an SQS queue (``SqsParameters.MessageGroupId`` for a FIFO queue) or an SNS topic."""
        arn = target["Arn"]
        details = dict(source="events", rule=rule.name, rule_arn=rule.arn, event_id=event_id, target=arn,
                       target_id=target.get("Id"))
        try:
            payload = target_payload(target, event, rule_arn=rule.arn, rule_name=rule.name,
                                     ingestion_time=self.time.datetime().strftime("%Y-%m-%dT%H:%M:%SZ"))
        except TargetInputError as exc:
            self.record.append("filtered", None, None, reason=str(exc), **details)
            return
        service, region, account, resource = arn.split(":", 5)[2:6]
        try:
            if service == "sqs":
                sqs = self.aws.client("sqs", region_name=region)
                url = sqs.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=account)["QueueUrl"]
                extra = {}
                group = (target.get("SqsParameters") or {}).get("MessageGroupId")
                if group:
                    extra["MessageGroupId"] = group
                sqs.send_message(QueueUrl=url, MessageBody=payload, **extra)
            else:
                self.aws.client("sns", region_name=region).publish(TopicArn=arn, Message=payload)
        except Exception as exc:     # no such queue or topic: EventBridge counts a FailedInvocation
            self.record.append("delivery_failed", None, None, via="events", error=f"{type(exc).__name__}: {exc}",
                               **{k: v for k, v in details.items() if k != "source"})
            return
        self.record.append("notification", None, None, **details)

    def __repr__(self):
        return f"<EventBridgeSource: {len(self._rules)} rules>"


def _function_name(arn):
    return str(arn).split(":")[6]


def _target_function(target):
    """The function a target names, or None for another kind of target."""
    return _function_name(target["Arn"]) if is_lambda_arn(target.get("Arn")) else None


_MOTO_FIXED_ID = "17793124-05d4-b198-2fde-7ededc63b103"      # the id moto gives every S3 event


def _fresh_id(event_id):
    """EventBridge gives every event its own id; moto reuses one for all of S3's."""
    return event_id if event_id and event_id != _MOTO_FIXED_ID else str(uuid.uuid4())


def _epoch(text):
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()

"""State machine definitions: load them and validate them as ``ValidateStateMachineDefinition`` does.

:func:`validate` returns a list of :class:`Diagnostic` (severity ``ERROR`` or ``WARNING``, a code
such as ``SCHEMA_VALIDATION_FAILED`` or ``MISSING_TRANSITION_TARGET``, a message, and a location
such as ``/States/Charge/Next``); :func:`load` raises ``InvalidDefinition`` when any is an error.
Codes are those of the API
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinitionDiagnostic.html);
the rules are the States Language's (https://states-language.net/spec.html).

>>> [d.code for d in validate({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}})]
['MISSING_TRANSITION_TARGET', 'MISSING_END_STATE']
>>> validate_state_machine_definition('{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}')["result"]
'OK'
"""

import dataclasses
import json
import re

from . import errors, intrinsics, jsonata_lang, paths
from .integrations import InvalidResource, parse_resource

JSONPATH, JSONATA = "JSONPath", "JSONata"
ERROR, WARNING = "ERROR", "WARNING"
MAX_STATE_NAME_LENGTH = 80

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
_COMMON = {"Type", "Comment", "QueryLanguage"}
_JSONPATH_IO = {"InputPath", "OutputPath"}
_JSONATA_ONLY = {"Arguments", "Output", "Items", "Condition"}
_JSONPATH_ONLY = {"InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "ItemsPath",
                  "TimeoutSecondsPath", "HeartbeatSecondsPath", "SecondsPath", "TimestampPath", "ErrorPath",
                  "CausePath", "MaxConcurrencyPath", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath",
                  "Iterator", "Result"}
_TRANSITION = {"Next", "End"}

ALLOWED_FIELDS = {
    "Task": _COMMON | _TRANSITION | {"Resource", "InputPath", "OutputPath", "Parameters", "ResultSelector",
                                     "ResultPath", "Retry", "Catch", "TimeoutSeconds", "TimeoutSecondsPath",
                                     "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials", "Arguments",
                                     "Output", "Assign"},
    "Pass": _COMMON | _TRANSITION | {"InputPath", "OutputPath", "Parameters", "Result", "ResultPath", "Output",
                                     "Assign"},
    "Choice": _COMMON | {"InputPath", "OutputPath", "Choices", "Default", "Output", "Assign"},
    "Wait": _COMMON | _TRANSITION | {"InputPath", "OutputPath", "Seconds", "Timestamp", "SecondsPath",
                                     "TimestampPath", "Output", "Assign"},
    "Succeed": _COMMON | {"InputPath", "OutputPath", "Output"},
    "Fail": _COMMON | {"Error", "Cause", "ErrorPath", "CausePath"},
    "Parallel": _COMMON | _TRANSITION | {"Branches", "InputPath", "OutputPath", "Parameters", "ResultSelector",
                                         "ResultPath", "Retry", "Catch", "Arguments", "Output", "Assign"},
    "Map": _COMMON | _TRANSITION | {"ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector",
                                    "Parameters", "ItemReader", "ItemBatcher", "ResultWriter", "MaxConcurrency",
                                    "MaxConcurrencyPath", "ToleratedFailureCount", "ToleratedFailureCountPath",
                                    "ToleratedFailurePercentage", "ToleratedFailurePercentagePath", "Label",
                                    "InputPath", "OutputPath", "ResultSelector", "ResultPath", "Retry", "Catch",
                                    "Output", "Assign"},
}
_TOP_LEVEL = {"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"}
_RETRIER = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy",
            "Comment"}
_CATCHER = {"ErrorEquals", "Next", "ResultPath", "Output", "Assign", "Comment"}
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,79}$")


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """One finding of validation, shaped as ``ValidateStateMachineDefinitionDiagnostic``."""

    severity: str
    code: str
    message: str
    location: str = None

    def as_dict(self):
        out = {"severity": self.severity, "code": self.code, "message": self.message}
        if self.location is not None:
            out["location"] = self.location
        return out


def query_language(state, machine):
    """The query language of ``state`` inside ``machine`` (the state's own, else the machine's)."""
    return state.get("QueryLanguage") or machine.get("QueryLanguage") or JSONPATH


def parse_definition(definition):
    """``definition`` as a dict, from a dict or ASL JSON text; raises ``InvalidDefinition``."""
    diagnostics, machine = _parse(definition)
    if machine is None:
        raise errors.InvalidDefinition(diagnostics[0].message)
    return machine


def _parse(definition):
    if definition is None or (isinstance(definition, str) and not definition.strip()):
        return [Diagnostic(ERROR, "MISSING_DESCRIPTION", "Received a null or empty workflow input.")], None
    if isinstance(definition, (bytes, str)):
        try:
            definition = json.loads(definition)
        except json.JSONDecodeError as exc:
            return [Diagnostic(ERROR, "INVALID_JSON_DESCRIPTION",
                               f"Invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")], None
    if not isinstance(definition, dict):
        return [Diagnostic(ERROR, "SCHEMA_VALIDATION_FAILED", "The definition must be a JSON object", "/")], None
    return [], definition


def validate(definition):
    """All the diagnostics of ``definition`` (a dict or JSON text), errors first."""
    diagnostics, machine = _parse(definition)
    if machine is None:
        return diagnostics
    checker = _Checker()
    checker.machine(machine, "", machine.get("QueryLanguage") or JSONPATH, top=True)
    found = checker.diagnostics
    if not checker.has_terminal:
        found.append(Diagnostic(ERROR, "MISSING_END_STATE", "The workflow does not have a terminal state.", "/States"))
    return sorted(found, key=lambda d: d.severity != ERROR)


def validate_state_machine_definition(definition, *, severity=ERROR, max_results=100):
    """The ``ValidateStateMachineDefinition`` response: ``result`` OK or FAIL, ``diagnostics``."""
    found = validate(definition)
    shown = [d for d in found if severity == WARNING or d.severity == ERROR]
    result = "FAIL" if any(d.severity == ERROR for d in found) else "OK"
    return {"result": result, "diagnostics": [d.as_dict() for d in shown[:max_results]],
            "truncated": len(shown) > max_results}


def load(definition):
    """A validated definition (dict), ready to run; raises ``InvalidDefinition`` listing the errors."""
    machine = parse_definition(definition)
    problems = [d for d in validate(machine) if d.severity == ERROR]
    if problems:
        lines = "; ".join(f"{d.code} at {d.location}: {d.message}" if d.location else f"{d.code}: {d.message}"
                          for d in problems)
        raise errors.InvalidDefinition(f"Invalid State Machine Definition: '{lines}'")
    return machine


class _Checker:
    def __init__(self):
        self.diagnostics = []
        self.has_terminal = False

    def error(self, code, message, location):
        self.diagnostics.append(Diagnostic(ERROR, code, message, location))

    def schema(self, message, location):
        self.error("SCHEMA_VALIDATION_FAILED", message, location)

    def warning(self, code, message, location):
        self.diagnostics.append(Diagnostic(WARNING, code, message, location))

    # --- a scope of states: the top level, a branch, an item processor ---------------------
    def machine(self, machine, where, language, top=False):
        if not isinstance(machine, dict):
            self.schema("The value must be an object with StartAt and States", where or "/")
            return
        allowed = _TOP_LEVEL if top else {"Comment", "StartAt", "States", "ProcessorConfig", "QueryLanguage"}
        for key in machine:
            if key not in allowed:
                self.schema(f"The field '{key}' is not supported here", f"{where}/{key}")
        if "QueryLanguage" in machine and machine["QueryLanguage"] not in (JSONPATH, JSONATA):
            self.schema(f"The QueryLanguage must be JSONPath or JSONata, not {machine['QueryLanguage']!r}",
                        f"{where}/QueryLanguage")
        if top and "TimeoutSeconds" in machine and not _positive_int(machine["TimeoutSeconds"]):
            self.schema("TimeoutSeconds must be a positive integer", "/TimeoutSeconds")
        language = machine.get("QueryLanguage") or language
        states = machine.get("States")
        if not isinstance(states, dict) or not states:
            self.schema("These fields are required: [States]; States must be a non-empty object", f"{where}/States")
            return
        start = machine.get("StartAt")
        if not isinstance(start, str):
            self.schema("These fields are required: [StartAt]", f"{where}/StartAt" if "StartAt" in machine else where or "/")
        elif start not in states:
            self.error("MISSING_TRANSITION_TARGET", f"Missing 'StartAt' target: {start}", f"{where}/StartAt")
        for name, state in states.items():
            self.state(name, state, f"{where}/States/{name}", states, language)
        if isinstance(start, str) and start in states:
            reachable = self.reachable(start, states)
            for name in states:
                if name not in reachable:
                    self.schema(f"State '{name}' is not reachable.", f"{where}/States/{name}")

    @staticmethod
    def reachable(start, states):
        seen, todo = set(), [start]
        while todo:
            name = todo.pop()
            if name in seen or name not in states or not isinstance(states[name], dict):
                continue
            seen.add(name)
            state = states[name]
            targets = [state.get("Next"), state.get("Default")]
            targets += [c.get("Next") for c in state.get("Choices", []) or [] if isinstance(c, dict)]
            targets += [c.get("Next") for c in state.get("Catch", []) or [] if isinstance(c, dict)]
            todo.extend(t for t in targets if isinstance(t, str))
        return seen

    # --- one state ------------------------------------------------------------------------
    def state(self, name, state, where, states, inherited):
        if len(name) > MAX_STATE_NAME_LENGTH:
            self.error("INVALID_STATE_NAME", f"The state name '{name[:20]}...' is longer than "
                                             f"{MAX_STATE_NAME_LENGTH} characters", where)
        if not isinstance(state, dict):
            self.schema("A state must be a JSON object", where)
            return
        kind = state.get("Type")
        if kind not in STATE_TYPES:
            self.schema(f"The field 'Type' should have one of these values: {list(STATE_TYPES)}", f"{where}/Type")
            return
        language = state.get("QueryLanguage") or inherited
        if "QueryLanguage" in state:
            if state["QueryLanguage"] not in (JSONPATH, JSONATA):
                self.schema("The QueryLanguage must be JSONPath or JSONata", f"{where}/QueryLanguage")
            elif inherited == JSONATA and state["QueryLanguage"] == JSONPATH:
                self.schema("A state cannot use JSONPath when the state machine's QueryLanguage is JSONata",
                            f"{where}/QueryLanguage")
        for key in state:
            if key not in ALLOWED_FIELDS[kind]:
                self.schema(f"Field '{key}' is not supported for a {kind} state", f"{where}/{key}")
            elif language == JSONATA and key in _JSONPATH_ONLY:
                self.schema(f"The field '{key}' is not supported by the JSONata query language; use "
                            f"Arguments, Output and {{% %}} expressions", f"{where}/{key}")
            elif language == JSONPATH and key in _JSONATA_ONLY:
                self.schema(f"The field '{key}' is only supported by the JSONata query language",
                            f"{where}/{key}")
        self.transition(kind, state, where, states)
        if language == JSONPATH:
            self.jsonpath_fields(kind, state, where)
        else:
            self.jsonata_fields(state, where)
        if "Assign" in state:
            self.assign(state["Assign"], f"{where}/Assign", language)
        getattr(self, "state_" + kind.lower())(state, where, states, language)
        for i, retrier in enumerate(state.get("Retry", []) if isinstance(state.get("Retry", []), list) else []):
            self.retrier(retrier, f"{where}/Retry[{i}]")
        catchers = state.get("Catch", [])
        for i, catcher in enumerate(catchers if isinstance(catchers, list) else []):
            self.catcher(catcher, f"{where}/Catch[{i}]", states, language)

    def transition(self, kind, state, where, states):
        if kind in ("Succeed", "Fail"):
            self.has_terminal = True
            for key in ("Next", "End"):
                if key in state:
                    self.schema(f"Field '{key}' is not supported for a {kind} state", f"{where}/{key}")
            return
        if kind == "Choice":
            return
        has_next, ends = "Next" in state, state.get("End") is True
        if "End" in state and not isinstance(state["End"], bool):
            self.schema("The field 'End' must be a boolean", f"{where}/End")
        if has_next and ends:
            self.schema("A state cannot have both 'Next' and 'End'", where)
        elif not has_next and not ends:
            self.schema("These fields are required: [Next | End]; a non-terminal state must name its Next "
                        "state, a terminal one must have \"End\": true", where)
        if ends:
            self.has_terminal = True
        if has_next:
            self.target(state["Next"], f"{where}/Next", states)

    def target(self, name, where, states):
        if not isinstance(name, str):
            self.schema("The transition target must be a state name (a string)", where)
        elif name not in states:
            self.error("MISSING_TRANSITION_TARGET", f"Missing 'Next' target: {name}", where)

    # --- JSONPath fields -------------------------------------------------------------------
    def path(self, value, where, *, reference=False, nullable=True):
        if value is None and nullable:
            return
        try:
            (paths.parse_reference_path if reference else paths.parse_path)(value)
        except paths.PathSyntaxError:
            kind = "a valid Reference Path" if reference else "a valid JSONPath"
            self.schema(f"The value for the field '{where.rsplit('/', 1)[-1]}' must be {kind}", where)

    def jsonpath_fields(self, kind, state, where):
        for key in ("InputPath", "OutputPath"):
            if key in state:
                self.path(state[key], f"{where}/{key}")
        if "ResultPath" in state:
            self.path(state["ResultPath"], f"{where}/ResultPath", reference=True)
            if isinstance(state["ResultPath"], str) and state["ResultPath"].startswith("$$"):
                self.schema("ResultPath must not begin with '$$'", f"{where}/ResultPath")
        for key in ("TimeoutSecondsPath", "HeartbeatSecondsPath", "SecondsPath", "TimestampPath", "ItemsPath",
                    "MaxConcurrencyPath", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath"):
            if key in state:
                self.path(state[key], f"{where}/{key}", reference=True, nullable=False)
        for key in ("Parameters", "ResultSelector", "ItemSelector"):
            if key in state:
                if not isinstance(state[key], dict):
                    self.schema(f"The field '{key}' must be a JSON object (a Payload Template)", f"{where}/{key}")
                else:
                    self.template(state[key], f"{where}/{key}")
        if kind == "Pass" and "Result" in state:
            if _has_dollar_keys(state["Result"]):
                self.warning("PASS_RESULT_IS_STATIC", "The Result of a Pass state is static: fields ending in "
                                                      "'.$' are not evaluated; use Parameters", f"{where}/Result")

    def template(self, template, where):
        if isinstance(template, dict):
            for key, value in template.items():
                at = f"{where}/{key}"
                if isinstance(key, str) and key.endswith(".$"):
                    if not isinstance(value, str):
                        self.schema(f"The value for the field '{key}' must be a STRING that contains a "
                                    f"JSONPath or an intrinsic function", at)
                    elif value.startswith("$"):
                        self.path(value, at, nullable=False)
                    else:
                        try:
                            intrinsics.parse(value)
                        except intrinsics.IntrinsicSyntaxError as exc:
                            self.schema(f"The value for the field '{key}' must be a valid JSONPath or a valid "
                                        f"intrinsic function call: {exc}", at)
                else:
                    if isinstance(value, str) and (value.startswith("$.") or value.startswith("States.")):
                        self.warning("NO_DOLLAR", f"The field '{key}' looks like a JSONPath or an intrinsic "
                                                  f"function; add '.$' to its name to evaluate it", at)
                    self.template(value, at)
        elif isinstance(template, list):
            for i, value in enumerate(template):
                self.template(value, f"{where}[{i}]")

    # --- JSONata fields --------------------------------------------------------------------
    def jsonata_fields(self, state, where):
        for key in ("Arguments", "Output", "Items", "ItemSelector", "Error", "Cause", "Seconds", "Timestamp",
                    "TimeoutSeconds", "HeartbeatSeconds", "MaxConcurrency", "ToleratedFailureCount",
                    "ToleratedFailurePercentage"):
            if key in state:
                for at, message in jsonata_lang.check_template(state[key]):
                    self.schema(message, f"{where}/{key}{at}")
                if _uses_eval(state[key]):
                    self.schema("The JSONata function $eval is not supported", f"{where}/{key}")

    def assign(self, assign, where, language):
        if not isinstance(assign, dict):
            self.schema("The field 'Assign' must be a JSON object of variable names and values", where)
            return
        for key in assign:
            name = key[:-2] if language == JSONPATH and key.endswith(".$") else key
            if not _VARIABLE_NAME.match(name) or name == "states":
                self.schema(f"The variable name '{name}' is not valid: it must start with a letter or '_', "
                            f"hold only letters, digits and '_', and not be the reserved name 'states'",
                            f"{where}/{key}")
        if language == JSONPATH:
            self.template(assign, where)
        else:
            for at, message in jsonata_lang.check_template(assign):
                self.schema(message, f"{where}{at}")

    # --- per type --------------------------------------------------------------------------
    def state_task(self, state, where, states, language):
        if "Resource" not in state:
            self.schema("These fields are required: [Resource]", where)
        else:
            try:
                parse_resource(state["Resource"])
            except InvalidResource as exc:
                self.error("INVALID_RESOURCE", str(exc), f"{where}/Resource")
        for key in ("TimeoutSeconds", "HeartbeatSeconds"):
            value = state.get(key)
            if value is not None and not (language == JSONATA and jsonata_lang.is_expression(value)) \
                    and not _positive_int(value):
                self.schema(f"The field '{key}' must be a positive integer", f"{where}/{key}")
        if "TimeoutSeconds" in state and "TimeoutSecondsPath" in state:
            self.schema("A Task cannot have both TimeoutSeconds and TimeoutSecondsPath", where)
        if _positive_int(state.get("TimeoutSeconds")) and _positive_int(state.get("HeartbeatSeconds")) \
                and state["HeartbeatSeconds"] >= state["TimeoutSeconds"]:
            self.schema("HeartbeatSeconds must be smaller than TimeoutSeconds", f"{where}/HeartbeatSeconds")

    def state_pass(self, state, where, states, language):
        pass

    def state_succeed(self, state, where, states, language):
        pass

    def state_fail(self, state, where, states, language):
        for field in ("Error", "Cause"):
            if field in state and field + "Path" in state:
                self.schema(f"A Fail state cannot have both {field} and {field}Path", where)
            if language == JSONPATH and field in state and not isinstance(state[field], str):
                self.schema(f"The field '{field}' must be a string", f"{where}/{field}")
            if field + "Path" in state:
                value = state[field + "Path"]
                at = f"{where}/{field}Path"
                if isinstance(value, str) and value.startswith("$"):
                    self.path(value, at, reference=True, nullable=False)
                else:
                    try:
                        intrinsics.parse(value)
                    except (intrinsics.IntrinsicSyntaxError, TypeError):
                        self.schema(f"The value for the field '{field}Path' must be a valid Reference Path or "
                                    f"intrinsic function", at)

    def state_wait(self, state, where, states, language):
        given = [k for k in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if k in state]
        if len(given) != 1:
            self.schema("A Wait state must have exactly one of Seconds, Timestamp, SecondsPath, TimestampPath",
                        where)
            return
        key = given[0]
        value = state[key]
        if language == JSONATA and jsonata_lang.is_expression(value):
            return
        if key == "Seconds" and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            self.schema("The field 'Seconds' must be a non-negative integer", f"{where}/Seconds")
        if key == "Timestamp":
            from .interpreter import parse_timestamp
            if parse_timestamp(value) is None:
                self.schema("The field 'Timestamp' must be an ISO-8601 extended offset date-time format string",
                            f"{where}/Timestamp")

    def state_choice(self, state, where, states, language):
        choices = state.get("Choices")
        if not isinstance(choices, list) or not choices:
            self.schema("These fields are required: [Choices]; Choices must be a non-empty array", where)
            choices = []
        for i, rule in enumerate(choices):
            at = f"{where}/Choices[{i}]"
            if not isinstance(rule, dict):
                self.schema("A Choice Rule must be a JSON object", at)
                continue
            if "Next" not in rule:
                self.schema("These fields are required: [Next]", at)
            else:
                self.target(rule["Next"], f"{at}/Next", states)
            if language == JSONATA:
                if "Condition" not in rule:
                    self.schema("A JSONata Choice Rule must have a Condition", at)
                else:
                    for sub, message in jsonata_lang.check_template(rule["Condition"]):
                        self.schema(message, f"{at}/Condition{sub}")
                if "Assign" in rule:
                    self.assign(rule["Assign"], f"{at}/Assign", language)
            else:
                self.rule(rule, at, top=True)
                if "Assign" in rule:
                    self.assign(rule["Assign"], f"{at}/Assign", language)
        if "Default" in state:
            self.target(state["Default"], f"{where}/Default", states)

    def rule(self, rule, where, top=False):
        from .interpreter import COMPARISON_OPERATORS
        if not isinstance(rule, dict):
            self.schema("A Choice Rule must be a JSON object", where)
            return
        if top is False and "Next" in rule:
            self.schema("A nested Choice Rule cannot have 'Next'", f"{where}/Next")
        for boolean in ("And", "Or"):
            if boolean in rule:
                if not isinstance(rule[boolean], list) or not rule[boolean]:
                    self.schema(f"'{boolean}' must be a non-empty array of Choice Rules", f"{where}/{boolean}")
                    return
                for j, sub in enumerate(rule[boolean]):
                    self.rule(sub, f"{where}/{boolean}[{j}]")
                return
        if "Not" in rule:
            self.rule(rule["Not"], f"{where}/Not")
            return
        operators = [k for k in rule if k in COMPARISON_OPERATORS]
        if "Variable" not in rule:
            self.schema("These fields are required: [Variable] (or And, Or, Not)", where)
        else:
            self.path(rule["Variable"], f"{where}/Variable", nullable=False)
        if len(operators) != 1:
            self.schema("A Choice Rule must have exactly one comparison operator", where)
            return
        op = operators[0]
        value = rule[op]
        if op.endswith("Path"):
            self.path(value, f"{where}/{op}", nullable=False)
        elif op.startswith("String") and not isinstance(value, str):
            self.schema(f"The value of '{op}' must be a string", f"{where}/{op}")
        elif op.startswith("Numeric") and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            self.schema(f"The value of '{op}' must be a number", f"{where}/{op}")
        elif (op.startswith("Boolean") or op.startswith("Is")) and not isinstance(value, bool):
            self.schema(f"The value of '{op}' must be a boolean", f"{where}/{op}")
        elif op.startswith("Timestamp"):
            from .interpreter import parse_timestamp
            if parse_timestamp(value) is None:
                self.schema(f"The value of '{op}' must be an ISO-8601 timestamp", f"{where}/{op}")

    def state_parallel(self, state, where, states, language):
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            self.schema("These fields are required: [Branches]; Branches must be a non-empty array", where)
            return
        for i, branch in enumerate(branches):
            self.nested(branch, f"{where}/Branches[{i}]", language)

    def state_map(self, state, where, states, language):
        processor = state.get("ItemProcessor", state.get("Iterator"))
        if processor is None:
            self.schema("These fields are required: [ItemProcessor]", where)
        else:
            self.nested(processor, f"{where}/{'ItemProcessor' if 'ItemProcessor' in state else 'Iterator'}", language)
        if "ItemSelector" in state and "Parameters" in state:
            self.schema("A Map state cannot have both ItemSelector and Parameters", where)
        if language == JSONPATH and "ItemSelector" in state:
            if isinstance(state["ItemSelector"], dict):
                self.template(state["ItemSelector"], f"{where}/ItemSelector")
        value = state.get("MaxConcurrency")
        if value is not None and not (language == JSONATA and jsonata_lang.is_expression(value)) and \
                not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            self.schema("The field 'MaxConcurrency' must be a non-negative integer", f"{where}/MaxConcurrency")
        value = state.get("ToleratedFailurePercentage")
        if value is not None and not (language == JSONATA and jsonata_lang.is_expression(value)) and \
                not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 100):
            self.schema("The field 'ToleratedFailurePercentage' must be a number from 0 to 100",
                        f"{where}/ToleratedFailurePercentage")
        for key in ("ItemReader", "ItemBatcher", "ResultWriter"):
            if key in state:
                self.schema(f"'{key}' (distributed Map) is not supported by the lab's interpreter", f"{where}/{key}")

    def nested(self, machine, where, language):
        # A branch's states form their own scope: its own terminal state, its own transitions.
        saved = self.has_terminal
        self.has_terminal = False
        self.machine(machine, where, language)
        if not self.has_terminal and isinstance(machine, dict) and machine.get("States"):
            self.error("MISSING_END_STATE", "The workflow does not have a terminal state.", f"{where}/States")
        self.has_terminal = saved

    def retrier(self, retrier, where):
        if not isinstance(retrier, dict):
            self.schema("A Retrier must be a JSON object", where)
            return
        for key in retrier:
            if key not in _RETRIER:
                self.schema(f"Field '{key}' is not supported for a Retrier", f"{where}/{key}")
        self.error_equals(retrier.get("ErrorEquals"), where)
        if "IntervalSeconds" in retrier and not _positive_int(retrier["IntervalSeconds"]):
            self.schema("IntervalSeconds must be a positive integer", f"{where}/IntervalSeconds")
        if "MaxAttempts" in retrier and not (isinstance(retrier["MaxAttempts"], int)
                                             and not isinstance(retrier["MaxAttempts"], bool)
                                             and retrier["MaxAttempts"] >= 0):
            self.schema("MaxAttempts must be a non-negative integer", f"{where}/MaxAttempts")
        if "BackoffRate" in retrier and not (isinstance(retrier["BackoffRate"], (int, float))
                                             and retrier["BackoffRate"] >= 1.0):
            self.schema("BackoffRate must be a number greater than or equal to 1.0", f"{where}/BackoffRate")
        if "MaxDelaySeconds" in retrier and not _positive_int(retrier["MaxDelaySeconds"]):
            self.schema("MaxDelaySeconds must be a positive integer", f"{where}/MaxDelaySeconds")
        if "JitterStrategy" in retrier and retrier["JitterStrategy"] not in ("FULL", "NONE"):
            self.schema("JitterStrategy must be FULL or NONE", f"{where}/JitterStrategy")

    def catcher(self, catcher, where, states, language):
        if not isinstance(catcher, dict):
            self.schema("A Catcher must be a JSON object", where)
            return
        for key in catcher:
            if key not in _CATCHER:
                self.schema(f"Field '{key}' is not supported for a Catcher", f"{where}/{key}")
        self.error_equals(catcher.get("ErrorEquals"), where)
        if "Next" not in catcher:
            self.schema("These fields are required: [Next]", where)
        else:
            self.target(catcher["Next"], f"{where}/Next", states)
        if "ResultPath" in catcher:
            if language == JSONATA:
                self.schema("The field 'ResultPath' is not supported by the JSONata query language",
                            f"{where}/ResultPath")
            else:
                self.path(catcher["ResultPath"], f"{where}/ResultPath", reference=True)
        if "Output" in catcher and language == JSONPATH:
            self.schema("The field 'Output' is only supported by the JSONata query language", f"{where}/Output")
        if "Assign" in catcher:
            self.assign(catcher["Assign"], f"{where}/Assign", language)

    def error_equals(self, names, where):
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.schema("These fields are required: [ErrorEquals]; ErrorEquals must be a non-empty array of "
                        "error names", f"{where}/ErrorEquals")
            return
        if errors.ALL in names and len(names) > 1:
            self.schema("States.ALL must appear alone in ErrorEquals", f"{where}/ErrorEquals")


def _positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _has_dollar_keys(value):
    if isinstance(value, dict):
        return any(isinstance(k, str) and k.endswith(".$") for k in value) or any(
            _has_dollar_keys(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_dollar_keys(v) for v in value)
    return False


def _uses_eval(value):
    if isinstance(value, dict):
        return any(_uses_eval(v) for v in value.values())
    if isinstance(value, list):
        return any(_uses_eval(v) for v in value)
    return jsonata_lang.is_expression(value) and "$eval(" in value

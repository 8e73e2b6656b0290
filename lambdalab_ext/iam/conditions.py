"""Condition operators, the request context and policy variables, as IAM evaluates them.

Pure: no I/O, no clock. Sources (IAM User Guide):

- operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
- several keys and values, set operators:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
- policy variables: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

The rules, in short:

- Several operators in one ``Condition`` are ANDed; several keys under one operator are ANDed;
  several values for one key are ORed; under a negated operator (``StringNotEquals``...) they are
  NORed: the request value must match none of them.
- A key missing from the request context makes an operator false, a negated operator true,
  ``...IfExists`` true, ``ForAllValues:`` true and ``ForAnyValue:`` false. ``Null`` tests presence.
- Context key names are case-insensitive; whether values are depends on the operator.
- Policy variables (``${aws:username}``, ``${aws:PrincipalTag/team, 'default'}``, ``${*}``,
  ``${?}``, ``${$}``) are replaced in string, ARN and Bool condition values of a ``2012-10-17``
  document; a variable with no value and no default matches nothing.

>>> context = RequestContext({"aws:SourceArn": "arn:aws:s3:::photos"})
>>> clauses = parse_condition_block({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::pho*"}})
>>> evaluate_conditions(clauses, context).matched
True
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

__all__ = [
    "ConditionSyntaxError",
    "RequestContext",
    "Template",
    "ConditionClause",
    "ConditionResult",
    "parse_condition_block",
    "evaluate_conditions",
    "parse_template",
    "OPERATORS",
]


class ConditionSyntaxError(ValueError):
    """A Condition block AWS would refuse; ``policy.py`` turns it into MalformedPolicyDocument."""

    def __init__(self, message, detail):
        super().__init__(detail)
        self.message = message
        self.detail = detail


# ---------------------------------------------------------------------------------------------
# The request context
# ---------------------------------------------------------------------------------------------


class RequestContext(Mapping):
    """The condition keys of one request, looked up case-insensitively as IAM does.

    Values are strings, numbers, booleans, datetimes, bytes, or lists of those (a multivalued key
    such as ``aws:TagKeys``). ``None`` is the same as an absent key.

    >>> ctx = RequestContext({"aws:PrincipalTag/Team": "blue"})
    >>> ctx["AWS:principaltag/team"]
    'blue'
    >>> "aws:SourceIp" in ctx
    False
    """

    __slots__ = ("_items",)

    def __init__(self, values=None):
        self._items = {}
        for key, value in (values or {}).items():
            if value is not None:
                self._items[str(key).lower()] = (str(key), value)

    def __getitem__(self, key):
        return self._items[key.lower()][1]

    def __contains__(self, key):
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self):
        return (original for original, _ in self._items.values())

    def __len__(self):
        return len(self._items)

    def get(self, key, default=None):
        item = self._items.get(key.lower())
        return default if item is None else item[1]

    def merged(self, other):
        """A new context with ``other``'s keys added over these."""
        merged = RequestContext()
        merged._items = dict(self._items)
        for key, value in (other or {}).items():
            if value is None:
                merged._items.pop(str(key).lower(), None)
            else:
                merged._items[str(key).lower()] = (str(key), value)
        return merged

    def __repr__(self):
        return f"RequestContext({dict(self)!r})"


# ---------------------------------------------------------------------------------------------
# Policy variables and wildcard templates
# ---------------------------------------------------------------------------------------------

# ${key} or ${key, 'default'}; the special ${*} ${?} ${$} are caught by the same pattern.
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*(?P<key>[^,]+?)\s*,\s*'(?P<default>[^']*)'\s*$")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True)
class Template:
    """A policy string: raw text (where ``*`` and ``?`` are wildcards), literal characters (from
    ``${*}``-style variables and substituted values) and variables still to resolve.

    ``parts`` is a tuple of ``(kind, value)`` with kind ``"raw"``, ``"lit"`` or ``"var"``; a
    ``"var"`` value is ``(key, default_or_None)``.
    """

    text: str
    parts: tuple
    has_variables: bool = False

    def resolve(self, context):
        """The parts with every variable replaced by its value (literal), or None when one has no
        value and no default: such a policy value matches nothing (AWS: "effectively null")."""
        if not self.has_variables:
            return self.parts
        resolved = []
        for kind, value in self.parts:
            if kind != "var":
                resolved.append((kind, value))
                continue
            key, default = value
            found = context.get(key) if context is not None else None
            text = _single_value_text(found)
            if text is None:
                text = default
            if text is None:
                return None
            resolved.append(("lit", text))
        return tuple(resolved)

    def resolve_text(self, context):
        """The resolved string (wildcards left as characters), or None."""
        parts = self.resolve(context)
        return None if parts is None else "".join(value for _, value in parts)


def parse_template(text, variables=True):
    """Split a policy string into raw text, literal characters and variables.

    With ``variables=False`` (a ``2008-10-17`` document, or an operator that takes no variables)
    ``${...}`` stays plain text.

    >>> parse_template("home/${aws:username}/*").parts
    (('raw', 'home/'), ('var', ('aws:username', None)), ('raw', '/*'))
    >>> parse_template("${*}").parts
    (('lit', '*'),)
    """
    return _parse_template(str(text), bool(variables))


@functools.lru_cache(maxsize=4096)
def _parse_template(text, variables):
    if not variables or "${" not in text:
        return Template(text, (("raw", text),) if text else (), False)
    parts = []
    position = 0
    for match in _VARIABLE.finditer(text):
        if match.start() > position:
            parts.append(("raw", text[position : match.start()]))
        inner = match.group(1)
        if inner in _SPECIAL:
            parts.append(("lit", _SPECIAL[inner]))
        else:
            with_default = _DEFAULT.match(inner)
            if with_default:
                parts.append(("var", (with_default["key"], with_default["default"])))
            else:
                parts.append(("var", (inner.strip(), None)))
        position = match.end()
    if position < len(text):
        parts.append(("raw", text[position:]))
    return Template(text, tuple(parts), any(kind == "var" for kind, _ in parts))


def _single_value_text(value):
    # A multivalued key can't be a variable (AWS: "You can't use a multivalued condition key as a
    # variable").
    if value is None or isinstance(value, (list, tuple, set, frozenset)):
        return None
    return _as_text(value)


def _as_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def _iso(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def glob_source(parts):
    """Regex source for wildcard parts: ``*`` any run, ``?`` one character, the rest literal."""
    pattern = []
    for kind, value in parts:
        if kind == "raw":
            for char in value:
                if char == "*":
                    pattern.append(".*")
                elif char == "?":
                    pattern.append(".")
                else:
                    pattern.append(re.escape(char))
        else:
            pattern.append(re.escape(value))
    return "".join(pattern)


def arn_source(parts):
    """Regex source for an ARN pattern: ``*`` and ``?`` stay inside their colon-separated segment,
    except in the sixth (the resource part, which may itself hold colons, as log streams do). A
    pattern with fewer than six segments is a plain wildcard string."""
    if sum(value.count(":") for _, value in parts) < 5:
        return glob_source(parts)
    pattern = []
    colons = 0
    for kind, value in parts:
        for char in value:
            if char == ":":
                colons += 1
                pattern.append(":")
            elif kind == "raw" and char == "*":
                pattern.append(".*" if colons >= 5 else "[^:]*")
            elif kind == "raw" and char == "?":
                pattern.append("." if colons >= 5 else "[^:]")
            else:
                pattern.append(re.escape(char))
    return "".join(pattern)


@functools.lru_cache(maxsize=8192)
def _glob_regex(parts, ignore_case):
    return re.compile(glob_source(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@functools.lru_cache(maxsize=8192)
def _arn_regex(parts):
    return re.compile(arn_source(parts), re.DOTALL)


def glob_match(template, value, context=None, ignore_case=False):
    """Whether ``value`` matches a wildcard template (after variables are resolved)."""
    parts = template.resolve(context)
    if parts is None:
        return False
    return _glob_regex(parts, ignore_case).fullmatch(value) is not None


def arn_match(template, value, context=None):
    """Whether an ARN matches an ARN pattern, segment by segment (case-sensitive)."""
    parts = template.resolve(context)
    if parts is None:
        return False
    return _arn_regex(parts).fullmatch(value) is not None


# ---------------------------------------------------------------------------------------------
# Operators
# ---------------------------------------------------------------------------------------------


def _string_equals(request, policy, template, context):
    text = template.resolve_text(context)
    return text is not None and request == text


def _string_equals_ignore_case(request, policy, template, context):
    text = template.resolve_text(context)
    return text is not None and request.casefold() == text.casefold()


def _string_like(request, policy, template, context):
    return glob_match(template, request, context)


def _number(value):
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _numeric(compare):
    def check(request, policy, template, context):
        left, right = _number(request), _number(policy)
        return left is not None and right is not None and compare(left, right)

    return check


_W3C_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:[Tt](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?P<f>\.\d+)?)?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?)?)?)?$"
)


def parse_date(value):
    """A moment from a W3C ISO 8601 date, epoch seconds, or a datetime; None if none of those.

    >>> parse_date("2020-01-01T00:00:01Z").isoformat()
    '2020-01-01T00:00:01+00:00'
    >>> parse_date("1577836801").isoformat()
    '2020-01-01T00:00:01+00:00'
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text) and len(text) != 4:
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    match = _W3C_DATE.match(text)
    if not match:
        return None
    try:
        moment = datetime(
            int(match["y"]),
            int(match["mo"] or 1),
            int(match["d"] or 1),
            int(match["h"] or 0),
            int(match["mi"] or 0),
            int(match["s"] or 0),
            int(round(float(match["f"] or 0) * 1_000_000)),
            tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    zone = match["tz"]
    if zone and zone not in "Zz":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
        moment = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    return moment


def _date(compare):
    def check(request, policy, template, context):
        left, right = parse_date(request), parse_date(policy)
        return left is not None and right is not None and compare(left, right)

    return check


def _bool(request, policy, template, context):
    text = template.resolve_text(context) if template is not None else _as_text(policy)
    return text is not None and _as_text(request).lower() == text.lower()


def _binary(request, policy, template, context):
    try:
        wanted = base64.b64decode(str(policy), validate=True)
    except (binascii.Error, ValueError):
        return False
    if isinstance(request, (bytes, bytearray)):
        return bytes(request) == wanted
    try:
        return base64.b64decode(str(request), validate=True) == wanted
    except (binascii.Error, ValueError):
        return False


def _ip(request, policy, template, context):
    try:
        network = ipaddress.ip_network(str(policy).strip(), strict=False)
        address = ipaddress.ip_address(str(request).strip())
    except ValueError:
        return False
    return address.version == network.version and address in network


def _arn_like(request, policy, template, context):
    return arn_match(template, str(request), context)


_LT, _LE = (lambda a, b: a < b), (lambda a, b: a <= b)
_GT, _GE = (lambda a, b: a > b), (lambda a, b: a >= b)
_EQ = lambda a, b: a == b  # noqa: E731

# base operator -> (positive check, negated, variables allowed)
OPERATORS = {
    "StringEquals": (_string_equals, False, True),
    "StringNotEquals": (_string_equals, True, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False, True),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True, True),
    "StringLike": (_string_like, False, True),
    "StringNotLike": (_string_like, True, True),
    "NumericEquals": (_numeric(_EQ), False, False),
    "NumericNotEquals": (_numeric(_EQ), True, False),
    "NumericLessThan": (_numeric(_LT), False, False),
    "NumericLessThanEquals": (_numeric(_LE), False, False),
    "NumericGreaterThan": (_numeric(_GT), False, False),
    "NumericGreaterThanEquals": (_numeric(_GE), False, False),
    "DateEquals": (_date(_EQ), False, False),
    "DateNotEquals": (_date(_EQ), True, False),
    "DateLessThan": (_date(_LT), False, False),
    "DateLessThanEquals": (_date(_LE), False, False),
    "DateGreaterThan": (_date(_GT), False, False),
    "DateGreaterThanEquals": (_date(_GE), False, False),
    "Bool": (_bool, False, True),
    "BinaryEquals": (_binary, False, False),
    "IpAddress": (_ip, False, False),
    "NotIpAddress": (_ip, True, False),
    "ArnEquals": (_arn_like, False, True),
    "ArnLike": (_arn_like, False, True),
    "ArnNotEquals": (_arn_like, True, True),
    "ArnNotLike": (_arn_like, True, True),
    "Null": (None, False, False),
}
_BY_LOWER = {name.lower(): name for name in OPERATORS}
_SET_OPERATORS = {"forallvalues": "ForAllValues", "foranyvalue": "ForAnyValue"}


@dataclass(frozen=True)
class ConditionClause:
    """One ``operator: {key: values}`` pair of a Condition block."""

    operator: str  # as written in the policy
    base: str  # StringEquals, ArnLike, Null...
    set_operator: str | None  # ForAllValues, ForAnyValue or None
    if_exists: bool
    key: str
    values: tuple  # the policy values as text
    templates: tuple  # Template per value (for operators that take wildcards or variables)

    @property
    def negated(self):
        return OPERATORS[self.base][1]

    def describe(self):
        shown = self.values[0] if len(self.values) == 1 else list(self.values)
        return f'{self.operator} {{"{self.key}": {_json(shown)}}}'


def _json(value):
    return json.dumps(value)


@dataclass(frozen=True)
class ConditionResult:
    """Whether a Condition block matched, and if not, which clause failed and why."""

    matched: bool
    failed: ConditionClause | None = None
    reason: str = ""


def _split_operator(name):
    """``ForAnyValue:StringLikeIfExists`` -> ("ForAnyValue", "StringLike", True)."""
    set_operator = None
    rest = name
    if ":" in name:
        prefix, rest = name.split(":", 1)
        set_operator = _SET_OPERATORS.get(prefix.lower())
        if set_operator is None:
            raise ConditionSyntaxError(
                "Syntax errors in policy.", f"unknown condition set operator {prefix!r} in {name!r}"
            )
    if_exists = False
    base = _BY_LOWER.get(rest.lower())
    if base is None and rest.lower().endswith("ifexists"):
        base = _BY_LOWER.get(rest[: -len("IfExists")].lower())
        if_exists = base is not None
    if base is None:
        raise ConditionSyntaxError("Syntax errors in policy.", f"unknown condition operator {name!r}")
    if base == "Null" and (if_exists or set_operator):
        raise ConditionSyntaxError(
            "Syntax errors in policy.", f"{name!r}: Null takes neither IfExists nor a set operator"
        )
    return set_operator, base, if_exists


def _policy_values(operator, key, raw):
    if isinstance(raw, (str, bool, int, float)):
        raw = [raw]
    if not isinstance(raw, list) or any(
        not isinstance(item, (str, bool, int, float)) or item is None for item in raw
    ):
        raise ConditionSyntaxError(
            "Syntax errors in policy.",
            f"{operator} {key!r}: a condition value must be a string, number, boolean or a list of them",
        )
    return tuple(_as_text(item) for item in raw)


def parse_condition_block(block, variables=True):
    """Parse and check a statement's ``Condition`` element.

    ``variables`` is False for a ``2008-10-17`` document (``${...}`` stays literal). Raises
    :class:`ConditionSyntaxError` for an unknown operator or a malformed value.

    >>> [c.base for c in parse_condition_block({"StringLikeIfExists": {"s3:prefix": "home/*"}})]
    ['StringLike']
    """
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise ConditionSyntaxError("Syntax errors in policy.", "Condition must be a JSON object")
    clauses = []
    for operator, keys in block.items():
        set_operator, base, if_exists = _split_operator(str(operator))
        if not isinstance(keys, dict):
            raise ConditionSyntaxError(
                "Syntax errors in policy.", f"{operator}: the value must be an object of condition keys"
            )
        takes_variables = variables and OPERATORS[base][2]
        for key, raw in keys.items():
            values = _policy_values(operator, key, raw)
            if base.startswith("Date"):
                for value in values:
                    if parse_date(value) is None:
                        # AWS refuses a date it can't read when the policy is saved.
                        raise ConditionSyntaxError(
                            "The policy failed legacy parsing", f"{operator} {key!r}: {value!r} is not a date"
                        )
            if base == "Null":
                for value in values:
                    if value.lower() not in ("true", "false"):
                        raise ConditionSyntaxError(
                            "Syntax errors in policy.", f"Null {key!r}: the value must be true or false"
                        )
            templates = tuple(parse_template(value, takes_variables) for value in values)
            clauses.append(
                ConditionClause(str(operator), base, set_operator, if_exists, str(key), values, templates)
            )
    return tuple(clauses)


def _is_missing(value):
    return value is None or (isinstance(value, (list, tuple, set, frozenset)) and len(value) == 0)


def _request_values(value):
    if isinstance(value, (list, tuple, set, frozenset)):
        return [item for item in value if item is not None]
    return [value]


def _one_value_matches(clause, request_value, context):
    """The positive operator's result for one request value against the policy values (OR)."""
    check = OPERATORS[clause.base][0]
    for policy_value, template in zip(clause.values, clause.templates):
        request = request_value
        if clause.base.startswith("String") or clause.base.startswith("Arn"):
            request = _as_text(request_value)
        if check(request, policy_value, template, context):
            return True
    return False


def evaluate_clause(clause, context):
    """(matched, reason) for one clause against the request context."""
    present = clause.key in context
    value = context.get(clause.key) if present else None
    missing = _is_missing(value)

    if clause.base == "Null":
        # "true": the key must be absent; "false": present. Several values are ORed.
        ok = any(missing == (wanted.lower() == "true") for wanted in clause.values)
        return ok, ("" if ok else _reason(clause, value))

    if missing:
        if clause.if_exists:
            return True, ""
        if clause.set_operator == "ForAllValues":
            return True, ""
        if clause.set_operator == "ForAnyValue":
            return False, f"{clause.key} is not in the request, and ForAnyValue needs at least one value"
        if clause.negated:
            return True, ""
        return False, f"{clause.key} is not in the request context"

    values = _request_values(value)
    results = [_one_value_matches(clause, item, context) for item in values]
    if clause.negated:
        results = [not result for result in results]
    if clause.set_operator == "ForAllValues":
        ok = all(results)
    elif clause.set_operator == "ForAnyValue":
        ok = any(results)
    elif clause.negated:
        # A negated operator over a multivalued key: none of the request values may match.
        ok = all(results)
    else:
        ok = any(results)
    return ok, ("" if ok else _reason(clause, value))


def _reason(clause, value):
    shown = "absent" if _is_missing(value) else repr(_as_text(value) if not isinstance(value, list) else value)
    return f"{clause.describe()} is false: the request's {clause.key} is {shown}"


def evaluate_conditions(clauses, context):
    """AND of every clause; the first false clause is reported.

    >>> ctx = RequestContext({"aws:PrincipalTag/role": "audit"})
    >>> block = {"StringNotEquals": {"aws:PrincipalTag/role": ["audit", "security"]}}
    >>> evaluate_conditions(parse_condition_block(block), ctx).matched
    False
    """
    for clause in clauses:
        ok, reason = evaluate_clause(clause, context)
        if not ok:
            return ConditionResult(False, clause, reason)
    return ConditionResult(True)

"""EventBridge event patterns and SNS filter policies: validation and matching, as AWS does them.

Both services compile their JSON the way AWS's own matcher, Event Ruler, does ("Amazon EventBridge
event patterns", "Content filtering in Amazon EventBridge event patterns", "Amazon SNS message
filtering"), so they share one engine here:

- A pattern names fields (nested objects join their keys with ``.``: ``{"detail": {"state": ...}}``
  and ``{"detail.state": ...}`` are the same field, in the pattern and in the event) and gives each
  a list of values; all fields must match (AND), one value of a list is enough (OR). An event array
  matches if any element does; fields inside objects of an array must come from the same element.
- Values: exact strings, numbers (compared as numbers: ``300`` matches ``300.0``), ``true``,
  ``false``, ``null``; ``prefix`` / ``suffix`` (optionally ``{"equals-ignore-case": ...}``),
  ``equals-ignore-case``, ``wildcard`` (``*``; ``\\*`` is a star), ``anything-but`` (values, or
  ``prefix`` / ``suffix`` / ``equals-ignore-case`` / ``wildcard``; it needs the field present, and
  ``null`` is "anything but"), ``numeric`` ranges, ``exists`` (leaves only), ``cidr`` (IPv4 and
  IPv6), and ``$or`` across fields.
- A malformed pattern is refused with AWS's reason (recorded from AWS by EventBridge's
  ``TestEventPattern`` and SNS's ``Subscribe``), e.g. ``"Event pattern is not valid. Reason:
  "source" must be an object or an array"``.

SNS adds its limits: at most 5 keys (top-level keys for a nested policy), and at most 150
combinations (the sum over each ``$or`` branch of the product, over its keys, of the number of
values times the key's nesting depth); nested policies only with ``FilterPolicyScope``
``MessageBody``. Attribute policies read ``String``, ``String.Array`` and ``Number`` attributes
and ignore ``Binary`` ones.

Pure: no I/O.

>>> rule = compile_event_pattern({"source": ["aws.ec2"], "detail": {"state": [{"anything-but": "pending"}]}})
>>> rule.matches({"source": "aws.ec2", "detail": {"state": "running"}})
True
>>> policy = compile_filter_policy({"store": ["example_corp"], "price_usd": [{"numeric": [">=", 100]}]})
>>> policy.matches_attributes({"store": {"Type": "String", "Value": "example_corp"},
...                            "price_usd": {"Type": "Number", "Value": "210.75"}})
True
>>> try:
...     compile_event_pattern('{"source": "aws.ec2"}')
... except EventPatternError as error:
...     print(error)
Event pattern is not valid. Reason: "source" must be an object or an array
"""

import ipaddress
import itertools
import json
import math
import re

# "APIs that accept an event pattern ... throw an InvalidEventPatternException if the use of $or
# results in over 1000 rule combinations" (Content filtering in Amazon EventBridge event patterns).
EVENTBRIDGE_MAX_OR_COMBINATIONS = 1000
# Filter policy constraints in Amazon SNS.
SNS_MAX_KEYS = 5
SNS_MAX_COMBINATIONS = 150
SNS_MAX_POLICY_BYTES = 256 * 1024
FILTER_POLICY_SCOPES = ("MessageAttributes", "MessageBody")

# Event Ruler's reserved words: a field named so inside an "$or" branch is refused (EventBridge),
# or makes SNS read "$or" as a plain attribute name ("AND/OR logic", Amazon SNS Developer Guide).
RESERVED_IN_OR = frozenset({
    "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard", "numeric",
    "cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard", "not-equals-ignore-case", "date-after",
    "date-on-or-after", "date-before", "date-on-or-before", "in-date-range", "ip-address-in-range",
    "ip-address-not-in-range"})
_IPV4 = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6 = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")
# A match over arrays is a small search (which elements go together); a hostile event must not
# turn it into an endless one.
_SEARCH_BUDGET = 200_000


class EventPatternError(ValueError):
    """An event pattern EventBridge refuses (``InvalidEventPatternException``); ``reason`` is the
    text after ``Reason:``."""

    code = "InvalidEventPatternException"

    def __init__(self, reason):
        self.reason = reason
        super().__init__(f"Event pattern is not valid. Reason: {reason}")


class FilterPolicyError(ValueError):
    """A filter policy SNS refuses (``InvalidParameter``). ``message(api)`` is SNS's text, which
    depends on the call: ``Subscribe`` says ``Attributes Reason:``, ``SetSubscriptionAttributes``
    does not."""

    code = "InvalidParameter"

    def __init__(self, reason):
        self.reason = reason
        super().__init__(self.message())

    def message(self, api="SetSubscriptionAttributes"):
        if api == "Subscribe":
            return f"Invalid parameter: Attributes Reason: {self.reason}"
        return f"Invalid parameter: {self.reason}"


class _Refused(Exception):
    """A reason found while compiling, before it is dressed as the service's error."""

    def __init__(self, reason):
        self.reason = reason
        super().__init__(reason)


# -- values -----------------------------------------------------------------------------------------
def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _exact(expected):
    if isinstance(expected, bool):
        return lambda v: isinstance(v, bool) and v is expected
    if expected is None:
        return lambda v: v is None
    if _is_number(expected):
        return lambda v: _is_number(v) and v == expected
    return lambda v: isinstance(v, str) and v == expected


def _lower(text):
    # Java's toLowerCase, as Ruler folds case (not Python's more aggressive casefold).
    return text.lower()


def _wildcard_regex(text):
    """Ruler's wildcard syntax: ``*`` is any run of characters, ``\\*`` a star, ``\\\\`` a backslash.
    Positions in its messages count UTF-8 bytes from the opening quote, as Ruler's do."""
    pattern = []
    position = 1                    # byte offset of text[i] in the quoted value
    i = 0
    while i < len(text):
        char = text[i]
        if char == "*":
            if text[i + 1:i + 2] == "*":
                raise _Refused(f"Consecutive wildcard characters at pos {position}")
            pattern.append(".*")
        elif char == "\\":
            following = text[i + 1:i + 2]
            if following not in ("*", "\\"):
                raise _Refused(f"Invalid escape character at pos {position}")
            pattern.append(re.escape(following))
            i += 1
            position += 1
        else:
            pattern.append(re.escape(char))
        position += len(char.encode("utf-8"))
        i += 1
    return re.compile("".join(pattern), re.DOTALL)


def _ip_address(text):
    if not (_IPV4.fullmatch(text) or _IPV6.fullmatch(text)):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _cidr(text):
    """Ruler's CIDR rules and messages."""
    pieces = text.split("/")
    if len(pieces) != 2:
        raise _Refused("Malformed CIDR, one '/' required")
    try:
        bits = int(pieces[1])
    except ValueError:
        raise _Refused("Malformed CIDR, mask bits must be an integer") from None
    if bits < 0:
        raise _Refused("Malformed CIDR, mask bits must not be negative")
    if _IPV4.fullmatch(pieces[0]) or _IPV6.fullmatch(pieces[0]):
        try:
            address = ipaddress.ip_address(pieces[0])
        except ValueError:
            raise _Refused(f"Invalid IP address: {pieces[0]}") from None
    else:
        raise _Refused(f"Nonstandard IP address: {pieces[0]}")
    if address.version == 4 and bits > 31:
        raise _Refused("IPv4 mask bits must be < 32")
    if address.version == 6 and bits > 127:
        raise _Refused("IPv6 mask bits must be < 128")
    network = ipaddress.ip_network(f"{address}/{bits}", strict=False)

    def test(value):
        if not isinstance(value, str):
            return False
        ip = _ip_address(value)
        return ip is not None and ip.version == network.version and ip in network
    return test


class _Field:
    """What one field of a (sub-)rule accepts: value tests, ``exists: true``, ``exists: false``."""

    __slots__ = ("tests", "negative", "exists_true", "exists_false", "count", "depth", "top")

    def __init__(self, depth, top):
        self.tests = []
        self.negative = []           # for each test: is it an anything-but?
        self.exists_true = False
        self.exists_false = False
        self.count = 0               # how many values the list had (SNS's combinations)
        self.depth = depth           # nesting depth of the key (SNS's combinations)
        self.top = top               # the top-level key it sits under (SNS's key limit)

    def add(self, test, negative=False):
        self.tests.append(test)
        self.negative.append(negative)

    def accepts(self, value):
        if self.exists_true:
            return True
        for test in self.tests:
            if test(value):
                return True
        return False


# -- compiling --------------------------------------------------------------------------------------
class _Compiler:
    """Turns a pattern (a dict) into sub-rules, each ``{path: _Field}``, as Ruler does: every
    ``$or`` multiplies the rules before it by its branches."""

    def __init__(self, dialect, max_rules):
        self.dialect = dialect       # "events" or "sns"
        self.max_rules = max_rules

    def compile(self, pattern):
        if not isinstance(pattern, dict):
            raise _Refused("Filter is not an object")
        self._count(pattern)
        rules = self._object(pattern, (), [{}], depth=1, inside_or=False, top=None)
        return rules

    # A hostile pattern with many "$or" arrays would expand to billions of rules: count first.
    def _count(self, node):
        total = 1
        for key, value in node.items():
            if key == "$or" and isinstance(value, list) and all(isinstance(b, dict) for b in value) \
                    and self._is_or(value):
                total *= sum(self._count(branch) for branch in value)
            elif isinstance(value, dict):
                total *= self._count(value)
            if total > self.max_rules:
                raise _Refused(self._too_many())
        return total

    def _too_many(self):
        if self.dialect == "sns":
            return "FilterPolicy: Filter policy is too complex"
        return (f"The event pattern has more than {EVENTBRIDGE_MAX_OR_COMBINATIONS} rule combinations "
                "(the product of the lengths of its $or arrays)")

    def _is_or(self, value):
        """Is this "$or" an OR? EventBridge always says so (and refuses a malformed one); SNS reads
        a malformed one as a plain attribute named "$or"."""
        if self.dialect != "sns":
            return True
        return (isinstance(value, list) and len(value) >= 2 and all(isinstance(b, dict) for b in value)
                and not any(key in RESERVED_IN_OR for branch in value for key in branch))

    def _object(self, node, path, rules, depth, inside_or, top):
        if not node:
            raise _Refused("Empty objects are not allowed")
        for key, value in node.items():
            if key == "$or" and self._is_or(value):
                rules = self._or(value, path, rules, depth, top)
                continue
            if inside_or and self.dialect != "sns" and key in RESERVED_IN_OR:
                raise _Refused(f"{key} is Ruler reserved fieldName which cannot be used inside $or.")
            step_top = top if top is not None else key
            if isinstance(value, dict):
                rules = self._object(value, path + (key,), rules, depth + 1, inside_or, step_top)
            elif isinstance(value, list):
                field = self._values(value, depth, step_top)
                name = ".".join(path + (key,))
                for rule in rules:
                    rule[name] = field      # a key given twice: the last one counts, as in AWS
            else:
                raise _Refused(f'"{key}" must be an object or an array')
        return rules

    def _or(self, branches, path, rules, depth, top):
        if not isinstance(branches, list):
            raise _Refused("It must be an Array followed with $or.")
        if not all(isinstance(branch, dict) for branch in branches):
            raise _Refused("Only JSON object is allowed in array of $or relationship.")
        if len(branches) < 2:
            raise _Refused("There must have at least 2 Objects in $or relationship.")
        expanded = []
        for branch in branches:
            copies = [dict(rule) for rule in rules]
            expanded += self._object(branch, path, copies, depth, True, top)
        return expanded

    def _values(self, values, depth, top):
        field = _Field(depth, top)
        if not values:
            raise _Refused("Empty arrays are not allowed")
        field.count = len(values)
        for value in values:
            if isinstance(value, dict):
                self._expression(value, field)
            elif isinstance(value, list):
                raise _Refused("Match value must be String, number, true, false, or null")
            elif isinstance(value, float) and not math.isfinite(value):
                raise _Refused("Match value must be String, number, true, false, or null")
            else:
                field.add(_exact(value))
        return field

    def _expression(self, expression, field):
        if not expression:
            raise _Refused("Match expression name not found")
        (name, value), *rest = expression.items()
        one_key = "Only one key allowed in match expression"
        sns = self.dialect == "sns"
        if name == "exists":
            if not isinstance(value, bool):
                raise _Refused("exists match pattern must be either true or false.")
            if rest:
                raise _Refused(one_key)
            if value:
                field.exists_true = True
            else:
                field.exists_false = True
            return
        if name in ("prefix", "suffix"):
            if isinstance(value, dict):
                field.add(self._ignore_case_affix(name, value))
            elif not isinstance(value, str):
                raise _Refused(f"{name} match pattern must be a string")
            elif name == "prefix":
                field.add(lambda v, p=value: isinstance(v, str) and v.startswith(p))
            else:
                field.add(lambda v, s=value: isinstance(v, str) and v.endswith(s))
        elif name == "equals-ignore-case":
            if not isinstance(value, str):
                raise _Refused("equals-ignore-case match pattern must be a string")
            folded = _lower(value)
            field.add(lambda v: isinstance(v, str) and _lower(v) == folded)
        elif name == "wildcard" and not sns:
            if not isinstance(value, str):
                raise _Refused("wildcard match pattern must be a string")
            regex = _wildcard_regex(value)
            field.add(lambda v: isinstance(v, str) and regex.fullmatch(v) is not None)
        elif name == "exactly" and not sns:
            if not isinstance(value, str):
                raise _Refused("exact match pattern must be a string")
            field.add(_exact(value))
        elif name == "cidr":
            if not isinstance(value, str):
                raise _Refused("prefix match pattern must be a string")   # sic: AWS's own text
            field.add(_cidr(value))
        elif name in ("numeric", "anything-but"):
            if name == "numeric":
                if not isinstance(value, list):
                    raise _Refused("Value of numeric must be an array.")
                field.add(_numeric(value))
            else:
                field.add(self._anything_but(value), negative=True)
            if rest:
                raise _Refused("Too many elements in numeric expression")     # sic: Ruler's text
            return
        else:
            raise _Refused(f"Unrecognized match type {name}")
        if rest:
            raise _Refused(one_key)

    @staticmethod
    def _ignore_case_affix(name, inner):
        if not inner:
            raise _Refused(f"{name.capitalize()} expression name not found")
        (operator, text), *rest = inner.items()
        if operator != "equals-ignore-case":
            raise _Refused(f"Unsupported {name} pattern: {operator}")
        if not isinstance(text, str):
            raise _Refused("equals-ignore-case match pattern must be a string")
        if rest:
            raise _Refused("Only one key allowed in match expression")
        folded = _lower(text)
        if name == "prefix":
            return lambda v: isinstance(v, str) and _lower(v).startswith(folded)
        return lambda v: isinstance(v, str) and _lower(v).endswith(folded)

    def _anything_but(self, value):
        if isinstance(value, dict):
            if not value:
                raise _Refused("Anything-But expression name not found")
            (operator, inner), *rest = value.items()
            allowed = ("prefix",) if self.dialect == "sns" else ("equals-ignore-case", "prefix", "suffix", "wildcard")
            if operator not in allowed:
                raise _Refused(f"Unsupported anything-but pattern: {operator}")
            if rest:
                raise _Refused("Too many elements in numeric expression")     # sic: Ruler's text
            if self.dialect == "sns" and not isinstance(inner, str):
                # SNS takes a single prefix, and says so in its own words.
                raise _Refused("prefix match pattern must be a string")
            return _anything_but_set(operator, inner)
        if isinstance(value, list):
            strings = [v for v in value if isinstance(v, str)]
            numbers = [v for v in value if _is_number(v)]
            if len(strings) + len(numbers) != len(value):
                raise _Refused("Inside anything but list, start|null|boolean is not supported.")
            if (strings and numbers) or not value:
                raise _Refused("Inside anything but list, either all values are number or string, "
                               "mixed type is not supported")
            excluded = [_exact(v) for v in value]
        elif isinstance(value, str) or _is_number(value):
            excluded = [_exact(value)]
        else:
            raise _Refused("Value of anything-but must be an array or single string/number value.")
        return lambda v: not any(test(v) for test in excluded)


def _anything_but_set(operator, inner):
    """``anything-but`` of prefixes, suffixes, ignore-case strings or wildcards: a string or a list."""
    if isinstance(inner, list):
        items = inner
    elif isinstance(inner, (str, int, float)) and not isinstance(inner, bool):
        items = [inner]
    else:
        raise _Refused("Value of anything-but must be an array or single string/number value.")
    texts = []
    for item in items:
        if not isinstance(item, str):
            if operator == "equals-ignore-case":
                raise _Refused("Inside anything-but/equals-ignore-case list, "
                               "number|start|null|boolean is not supported.")
            if operator == "wildcard":
                raise _Refused("wildcard match pattern must be a string")
            raise _Refused("prefix/suffix match pattern must be a string")
        if operator in ("prefix", "suffix") and item == "":
            raise _Refused("Null prefix/suffix not allowed")
        texts.append(item)
    if operator == "prefix":
        hit = lambda v: any(v.startswith(t) for t in texts)                     # noqa: E731
    elif operator == "suffix":
        hit = lambda v: any(v.endswith(t) for t in texts)                       # noqa: E731
    elif operator == "equals-ignore-case":
        folded = {_lower(t) for t in texts}
        hit = lambda v: _lower(v) in folded                                     # noqa: E731
    else:
        regexes = [_wildcard_regex(t) for t in texts]
        hit = lambda v: any(r.fullmatch(v) for r in regexes)                    # noqa: E731
    # A value that is not a string (a number, null) is "anything but" these strings.
    return lambda v: not (isinstance(v, str) and hit(v))


def _numeric(terms):
    """Ruler's numeric expressions: ``["=", x]``, ``[">", x]``, ``[">=", x, "<", y]``... with its
    messages, in its order of checks."""
    def number(i):
        value = terms[i] if i < len(terms) else None
        return value if _is_number(value) and math.isfinite(value) else None

    def text(i):
        if i >= len(terms):
            return "]"
        value = terms[i]
        return json.dumps(value) if not isinstance(value, str) else value

    if not terms or not isinstance(terms[0], str):
        raise _Refused(f"Invalid member in numeric match: {text(0)}")
    operator = terms[0]
    if operator == "=":
        value = number(1)
        if value is None:
            raise _Refused("Value of equals must be numeric")
        if len(terms) > 2:
            raise _Refused("Too many elements in numeric expression")
        return lambda v: _is_number(v) and v == value
    if operator in ("<", "<="):
        top = number(1)
        if top is None:
            raise _Refused(f"Value of {operator} must be numeric")
        if len(terms) > 2:
            raise _Refused("Too many elements in numeric expression")
        if operator == "<":
            return lambda v: _is_number(v) and v < top
        return lambda v: _is_number(v) and v <= top
    if operator in (">", ">="):
        bottom = number(1)
        if bottom is None:
            raise _Refused(f"Value of {operator} must be numeric")
        open_bottom = operator == ">"
        if len(terms) == 2:
            if open_bottom:
                return lambda v: _is_number(v) and v > bottom
            return lambda v: _is_number(v) and v >= bottom
        second = terms[2]
        if not isinstance(second, str):
            raise _Refused(f"Bad value in numeric range: {text(2)}")
        if second not in ("<", "<="):
            raise _Refused(f"Bad numeric range operator: {second}")
        top = number(3)
        if top is None:
            raise _Refused(f"Value of {second} must be numeric")
        if len(terms) > 4:
            raise _Refused("Too many terms in numeric range expression")
        if not bottom < top:
            raise _Refused("Bottom must be less than top")
        open_top = second == "<"

        def in_range(v):
            if not _is_number(v):
                return False
            above = v > bottom if open_bottom else v >= bottom
            below = v < top if open_top else v <= top
            return above and below
        return in_range
    raise _Refused(f"Unrecognized numeric range operator: {operator}")


def _parse(source, error):
    """A pattern given as JSON text (or already a dict)."""
    if isinstance(source, (bytes, bytearray)):
        source = source.decode("utf-8", "replace")
    if isinstance(source, str):
        try:
            return json.loads(source, parse_constant=_no_constant)
        except ValueError as exc:
            raise error(f"Filter is not valid JSON: {exc}") from None
        except RecursionError:
            raise error("Filter is nested too deeply") from None
    return source


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


# -- events: leaves -------------------------------------------------------------------------------
class _Leaves:
    """The leaf values of an event (or a message body) at the paths a rule names, each with the
    array elements it sits in (``trail``: (array, index) pairs), for array-consistent matching.

    Keys join with ``.`` whatever their own dots, so the walk keeps any path that is a rule's
    path or a dotted beginning of one (the event's ``{"a.b": 1}`` and ``{"a": {"b": 1}}`` are
    both at ``a.b``). It is iterative: a deeply nested event cannot exhaust Python's stack.
    """

    def __init__(self, document, paths):
        self.values = {}                    # path -> [(value, trail)]
        self.arrays = False
        wanted = frozenset(paths)
        prefixes = {path[:i] for path in wanted for i, char in enumerate(path) if char == "."}
        array_ids = itertools.count()
        stack = [(document, "", ())]
        while stack:
            node, path, trail = stack.pop()
            if isinstance(node, dict):
                for key, value in node.items():
                    child = f"{path}.{key}" if path else str(key)
                    if child in wanted or child in prefixes:
                        stack.append((value, child, trail))
            elif isinstance(node, list):
                if not path:
                    continue
                array = next(array_ids)
                self.arrays = True
                for index, value in enumerate(node):
                    stack.append((value, path, trail + ((array, index),)))
            elif path in wanted:
                self.values.setdefault(path, []).append((node, trail))

    def at(self, path):
        return self.values.get(path, ())


def _compatible(chosen, trail):
    """``chosen`` ({array: index}) extended by ``trail``, or None if they pick different elements."""
    if not trail:
        return chosen
    merged = None
    for array, index in trail:
        picked = chosen.get(array)
        if picked is None:
            if merged is None:
                merged = dict(chosen)
            merged[array] = index
        elif picked != index:
            return None
    return chosen if merged is None else merged


def _match_rule(rule, leaves):
    """Does one sub-rule match? Each field needs a leaf it accepts (or, with ``exists: false``, no
    leaf at all), all leaves taken from the same elements of any array they share."""
    fields = []
    for path, field in rule.items():
        present = leaves.at(path)
        accepted = [trail for value, trail in present if field.accepts(value)]
        if not accepted and not field.exists_false:
            return False
        fields.append((accepted, field.exists_false, present))
    if not leaves.arrays:
        return all(accepted or (absent_ok and not present) for accepted, absent_ok, present in fields)
    # Fields that must be present first, fewest choices first; pure absences last.
    fields.sort(key=lambda f: (not f[0], len(f[0])))
    budget = [_SEARCH_BUDGET]

    def search(i, chosen):
        budget[0] -= 1
        if budget[0] < 0:
            return False
        if i == len(fields):
            return True
        accepted, absent_ok, present = fields[i]
        for trail in accepted:
            merged = _compatible(chosen, trail)
            if merged is not None and search(i + 1, merged):
                return True
        if absent_ok and all(_compatible(chosen, trail) is None for _, trail in present):
            return search(i + 1, chosen)
        return False
    return search(0, {})


class _Compiled:
    def __init__(self, rules, source):
        self.rules = rules          # [{path: _Field}]
        self.source = source
        self.paths = frozenset(path for rule in rules for path in rule)

    def _matches_document(self, document):
        if not isinstance(document, dict):
            return False
        leaves = _Leaves(document, self.paths)
        return any(_match_rule(rule, leaves) for rule in self.rules)


class EventPattern(_Compiled):
    """A compiled EventBridge event pattern: ``matches(event)`` (a dict, or its JSON text)."""

    def matches(self, event):
        if isinstance(event, (str, bytes, bytearray)):
            try:
                event = json.loads(event)
            except (ValueError, RecursionError):
                return False
        return self._matches_document(event)

    def __repr__(self):
        return f"<EventPattern {json.dumps(self.source)[:80]}>"


def compile_event_pattern(pattern):
    """Validate and compile an EventBridge event pattern (JSON text or a dict), as ``PutRule`` and
    ``TestEventPattern`` do. Raises ``EventPatternError`` with AWS's reason."""
    document = _parse(pattern, EventPatternError)
    try:
        rules = _Compiler("events", EVENTBRIDGE_MAX_OR_COMBINATIONS).compile(document)
    except _Refused as exc:
        raise EventPatternError(exc.reason) from None
    except RecursionError:
        raise EventPatternError("Filter is nested too deeply") from None
    return EventPattern(rules, document)


def matches(pattern, event):
    """Does ``event`` match the EventBridge ``pattern``? (``TestEventPattern`` in one call.)

    >>> matches({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}, {"detail": {"c-count": 5}})
    True
    """
    compiled = pattern if isinstance(pattern, EventPattern) else compile_event_pattern(pattern)
    return compiled.matches(event)


# -- SNS --------------------------------------------------------------------------------------------
class FilterPolicy(_Compiled):
    """A compiled SNS filter policy of one ``FilterPolicyScope``."""

    def __init__(self, rules, source, scope):
        super().__init__(rules, source)
        self.scope = scope

    def matches(self, message=None, attributes=None):
        """Does a published message pass? ``message`` is the body (text), ``attributes`` the
        message attributes as SNS delivers them (``{name: {"Type": ..., "Value": ...}}``)."""
        if self.scope == "MessageBody":
            return self.matches_body(message)
        return self.matches_attributes(attributes or {})

    def matches_body(self, message):
        """Payload-based filtering: the message must be a JSON object."""
        if isinstance(message, (bytes, bytearray)):
            message = message.decode("utf-8", "replace")
        try:
            document = json.loads(message) if isinstance(message, str) else message
        except (ValueError, RecursionError):
            return False
        return self._matches_document(document)

    def matches_attributes(self, attributes):
        """Attribute-based filtering: String, String.Array and Number attributes; Binary ones are
        ignored, as if absent."""
        values, arrays = {}, set()
        for name, attribute in (attributes or {}).items():
            if name not in self.paths or not isinstance(attribute, dict):
                continue
            found = _attribute_values(attribute)
            if found is None:
                continue
            values[name] = found
            if _is_array_type(attribute):
                arrays.add(name)
        return any(_match_attribute_rule(rule, values, arrays) for rule in self.rules)

    def __repr__(self):
        return f"<FilterPolicy {self.scope} {json.dumps(self.source)[:80]}>"


def _attribute_type(attribute):
    return str(attribute.get("Type", attribute.get("DataType", "")))


def _is_array_type(attribute):
    return _attribute_type(attribute).split(".")[1:2] == ["Array"]


_INTEGER = re.compile(r"[-+]?[0-9]+")


def _attribute_values(attribute):
    """The values of one message attribute for matching, or None for one SNS ignores."""
    kind = _attribute_type(attribute).split(".")[0]
    value = attribute.get("Value", attribute.get("StringValue"))
    if kind == "Binary" or value is None:
        return None
    if _is_array_type(attribute):
        try:
            items = json.loads(value) if isinstance(value, str) else value
        except (ValueError, RecursionError):
            return []
        return [item for item in items if not isinstance(item, (dict, list))] if isinstance(items, list) else []
    if kind == "Number" and isinstance(value, str):
        try:
            return [int(value) if _INTEGER.fullmatch(value.strip()) else float(value)]
        except ValueError:
            return [value]
    return [value]


def _match_attribute_rule(rule, values, arrays):
    for path, field in rule.items():
        present = values.get(path)
        if not present:
            if not field.exists_false:
                return False
            continue
        if path in arrays and field.tests and all(field.negative):
            # "For String.Array type attributes, [anything-but] matches if none of the array
            # elements are listed in the policy property" (String value matching, Amazon SNS).
            if not field.exists_true and not all(field.accepts(value) for value in present):
                return False
            continue
        if not any(field.accepts(value) for value in present):
            return False
    return True


def compile_filter_policy(policy, scope="MessageAttributes"):
    """Validate and compile an SNS filter policy (JSON text or a dict) for ``scope``
    (``"MessageAttributes"``, the default, or ``"MessageBody"``), with SNS's limits. Raises
    ``FilterPolicyError``."""
    if scope is None:
        scope = "MessageAttributes"
    if scope not in FILTER_POLICY_SCOPES:
        raise FilterPolicyError(f"FilterPolicyScope: Invalid value [{scope}]. Please use either MessageBody "
                                "or MessageAttributes")
    if isinstance(policy, str) and len(policy.encode("utf-8")) > SNS_MAX_POLICY_BYTES:
        raise FilterPolicyError("FilterPolicy: Filter policy is too long")
    document = _parse(policy, lambda reason: FilterPolicyError(f"FilterPolicy: {reason}"))
    try:
        rules = _Compiler("sns", SNS_MAX_COMBINATIONS).compile(document)
    except _Refused as exc:
        reason = exc.reason
        raise FilterPolicyError(reason if reason.startswith("FilterPolicy:") else f"FilterPolicy: {reason}") from None
    except RecursionError:
        raise FilterPolicyError("FilterPolicy: Filter policy is nested too deeply") from None
    if scope == "MessageAttributes" and any(field.depth > 1 for rule in rules for field in rule.values()):
        raise FilterPolicyError("Filter policy scope MessageAttributes does not support nested filter policy")
    if any(len({field.top for field in rule.values()}) > SNS_MAX_KEYS for rule in rules):
        raise FilterPolicyError("FilterPolicy: Filter policy can not have more than 5 keys")
    if filter_policy_combinations(rules) > SNS_MAX_COMBINATIONS:
        raise FilterPolicyError("FilterPolicy: Filter policy is too complex")
    return FilterPolicy(rules, document, scope)


def filter_policy_combinations(rules):
    """SNS's complexity of compiled rules: summed over the ``$or`` branches, the product over the
    keys of (number of values x nesting depth) ("Filter policy constraints in Amazon SNS")."""
    total = 0
    for rule in rules:
        product = 1
        for field in rule.values():
            product *= field.count * field.depth
        total += product
    return total

"""CloudWatch Logs filter patterns: parse one, match log events with it, extract metric values.

One syntax serves metric filters, subscription filters, ``FilterLogEvents`` and Live Tail ("Filter
pattern syntax for metric filters, subscription filters, filter log events, and Live Tail",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html). A pattern
is one of five kinds, told apart by how it starts:

- ``all``: empty or blank (or only blank phrases such as ``" "``): every event matches.
- ``unstructured``: terms. Each term matches as a substring, case-sensitively (``ERROR`` matches
  ``ERRORCODE`` but not ``Error``); several terms must all be present; ``"a phrase"`` matches
  exactly; ``-term`` excludes; ``?a ?b`` matches either, but ``?`` terms are ignored as soon as
  the pattern has any term without ``?``, as AWS documents. A term with anything but
  alphanumerics and ``_`` must be quoted (``Invalid character(s) in term ':'`` otherwise).
- ``regex``: ``%...%``, AWS's regex subset (see ``_pattern_lexer``), matched anywhere in the event.
- ``json``: ``{ $.level = "ERROR" && $.latency > 100 }``. Only events that are JSON match.
  Selectors ``$.a.b``, ``$.a[0]``, ``$.['key.with.dots']``, ``$.a[*]`` / ``$.*`` (any element or
  field; one per selector, three per pattern); ``=`` / ``!=`` with a string (``*`` at either end is
  a wildcard), a number or a ``%regex%``; ``< <= > >=`` with numbers (scientific notation
  included); ``IS NULL``, ``IS TRUE``, ``IS FALSE``, ``NOT EXISTS``; ``&&`` binds tighter than
  ``||``; parentheses group. A selector reaching an object, an array, ``true``/``false`` or
  ``null`` satisfies no comparison, not even ``!=``.
- ``space_delimited``: ``[ip, user, ..., status_code = 4*, bytes > 1000]``. The event is cut at
  white space; ``[...]`` and ``"..."`` are one field each (without their brackets or quotes).
  ``...`` stands for any number of fields; without one, the last named field takes the rest of the
  line (hence AWS's advice to write ``[w1=ERROR, w2]``). Conditions on a field combine with
  ``&&``, ``||`` and parentheses, and each names that field.

At most two ``%regex%`` may appear in a JSON or space-delimited pattern; a log group may hold at
most five filters whose pattern contains a regex (``count_regex`` lets the log group check it).

Pure: no I/O. Matching is linear in the length of the event (see ``_pattern_lexer`` for regex).

>>> pattern = FilterPattern.parse('{ $.level = "ERROR" && $.latency > 100 }')
>>> pattern.kind, pattern.matches('{"level": "ERROR", "latency": 250}'), pattern.matches("ERROR")
('json', True, False)
>>> pattern.extract('{"level": "ERROR", "latency": 250}', "$.latency")
250
>>> access = FilterPattern.parse("[ip, user, username, timestamp, request, status_code = 4*, bytes]")
>>> access.extract('127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET / HTTP/1.0" 404 1534', "$request")
'GET / HTTP/1.0'
>>> FilterPattern.parse("?Status: timeout")
Traceback (most recent call last):
...
lambdalab_ext.observe._pattern_lexer.InvalidParameterException: Invalid character(s) in term ':'
"""

import json
import re
from decimal import Decimal, InvalidOperation

from lambdalab_ext.observe._pattern_lexer import (_ASCII_ALNUM, InvalidParameterException, Scanner, compile_regex,
                                                  first_invalid, invalid_characters, invalid_pattern, read_selector)

__all__ = ["FilterPattern", "InvalidParameterException", "count_regex", "MAX_FILTER_PATTERN_LENGTH",
           "MAX_REGEX_PER_PATTERN", "MAX_REGEX_PATTERNS_PER_LOG_GROUP", "MAX_DIMENSIONS"]

# filterPattern: "Length Constraints: Minimum length of 0. Maximum length of 1024." (API_MetricFilter)
MAX_FILTER_PATTERN_LENGTH = 1024
# "There is a limit of 2 regex for each filter pattern when creating a delimited or JSON filter
# pattern" and "a maximum of 5 filter patterns containing regex for each log group" (regex syntax page).
MAX_REGEX_PER_PATTERN = 2
MAX_REGEX_PATTERNS_PER_LOG_GROUP = 5
# "one wildcard selector in a property selector, and up to three wildcard selectors in a filter
# pattern with compound expressions" (JSON page).
MAX_WILDCARD_SELECTORS = 3
# "You can create JSON and space-delimited metric filters with up to three dimensions."
MAX_DIMENSIONS = 3

KINDS = ("all", "unstructured", "regex", "json", "space_delimited")

_TERM_CHARS = _ASCII_ALNUM | {"_"}
# Unquoted values in JSON and space-delimited conditions: AWS's own examples use these
# (123.123.*, *.html*, 4*, -1, +1000, 1e-3); anything else needs quotes.
_VALUE_CHARS = _ASCII_ALNUM | set("_.*-+")
_VALUE_STOPS = frozenset('(){}[],&|=!<>"%')
_FIELD_NAME_CHARS = _TERM_CHARS
# A decimal with optional sign and exponent, written without ambiguity so it cannot backtrack.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_OPERATORS = ("!=", "<=", ">=", "=", "<", ">")


def _length_error(text):
    # AWS's own validation message for an over-long pattern (recorded from PutMetricFilter).
    return InvalidParameterException(
        f"1 validation error detected: Value '{text}' at 'filterPattern' failed to satisfy constraint: "
        f"Member must have length less than or equal to {MAX_FILTER_PATTERN_LENGTH}")


def _as_number(text):
    """``text`` as a Decimal if it is a plain decimal number (sign, fraction, exponent), else None."""
    if _NUMBER.fullmatch(text) is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only what Decimal reads
        return None


class _JsonNumber:
    """A number of the event, as written (for wildcard and regex matches) and as a Decimal (for
    comparisons, so 1e3 equals 1000 exactly)."""

    __slots__ = ("text", "value")

    def __init__(self, text):
        self.text = text
        self.value = Decimal(text)

    def plain(self):
        return int(self.text) if _is_integer_text(self.text) else float(self.value)


def _is_integer_text(text):
    return text.lstrip("-").isdigit()


def _refuse_constant(name):
    raise ValueError(name)  # NaN and Infinity are not JSON: such an event is not a JSON event


def _decode_event(message):
    """The event as a JSON object, or None if it is not one (JSON patterns select from an object:
    every selector starts at ``$.``)."""
    if not message.lstrip().startswith("{"):
        return None
    try:
        document = json.loads(message, parse_int=_JsonNumber, parse_float=_JsonNumber,
                              parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _plain(value):
    if isinstance(value, _JsonNumber):
        return value.plain()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# --- values on the right of a comparison ------------------------------------------------------

class _Glob:
    """A string value: exact, unless it starts or ends with an unescaped ``*`` ("*Event matches
    PutEvent", "Event* matches EventId"; a ``*`` inside is literal: "Ev*ent will only match the
    actual string Ev*ent")."""

    __slots__ = ("text", "prefix_wild", "suffix_wild")

    def __init__(self, chars):
        start, end = 0, len(chars)
        while start < end and chars[start] == ("*", False):
            start += 1
        while end > start and chars[end - 1] == ("*", False):
            end -= 1
        self.prefix_wild = start > 0
        self.suffix_wild = end < len(chars)
        self.text = "".join(char for char, _ in chars[start:end])

    def matches(self, text):
        core = self.text
        if self.prefix_wild and self.suffix_wild:
            return core in text
        if self.prefix_wild:
            return text.endswith(core)
        if self.suffix_wild:
            return text.startswith(core)
        return text == core


class _Value:
    """The right side of a comparison: a glob string, a number, or a regex."""

    __slots__ = ("glob", "number", "regex", "text")

    def __init__(self, text, glob=None, number=None, regex=None):
        self.text, self.glob, self.number, self.regex = text, glob, number, regex


def _read_value(scanner, operator):
    """The value after ``operator``: ``"quoted"``, ``%regex%``, or a bare word (a number if it reads
    as one)."""
    scanner.skip_spaces()
    char = scanner.peek()
    if char == '"':
        chars = scanner.read_quoted()
        value = _Value("".join(c for c, _ in chars), glob=_Glob(chars))
    elif char == "%":
        body = scanner.read_regex()
        value = _Value(body, regex=compile_regex(body))
    else:
        text = scanner.read_bare(_VALUE_STOPS)
        if not text:
            following = scanner.peek() or "the end of the pattern"
            raise invalid_pattern(f"a value is missing after '{operator}' (found {following!r})")
        bad = first_invalid(text, _VALUE_CHARS)
        if bad is not None:
            raise invalid_characters(bad)
        number = _as_number(text)
        value = _Value(text, glob=None if number is not None else _Glob([(c, False) for c in text]), number=number)
    if operator not in ("=", "!=") and value.number is None:
        raise invalid_pattern(f"'{operator}' compares numbers, not {value.text!r}")
    return value


def _read_operator(scanner):
    scanner.skip_spaces()
    for operator in _OPERATORS:
        if scanner.startswith(operator):
            scanner.pos += len(operator)
            if scanner.peek() in ("=", "!", "<", ">"):
                raise invalid_pattern(f"'{operator}{scanner.peek()}' is not an operator")
            return operator
    return None


def _compare_text(value, operator, text, number):
    """One comparison against a scalar of the event: ``text`` as written, ``number`` as a Decimal
    when the scalar is a number (or reads as one, for space-delimited fields)."""
    if value.regex is not None:
        found = value.regex.search(text)
    elif value.number is not None:
        if operator in ("=", "!="):
            found = number == value.number if number is not None else text == value.text
        else:
            if number is None:
                return False
            if operator == "<":
                return number < value.number
            if operator == "<=":
                return number <= value.number
            if operator == ">":
                return number > value.number
            return number >= value.number
    else:
        found = value.glob.matches(text)
    return found if operator == "=" else not found


# --- JSON patterns ----------------------------------------------------------------------------

class _JsonComparison:
    __slots__ = ("selector", "operator", "value")

    def __init__(self, selector, operator, value):
        self.selector, self.operator, self.value = selector, operator, value

    def evaluate(self, document):
        for node in self.selector.resolve(document):
            if isinstance(node, str):
                if _compare_text(self.value, self.operator, node, None):
                    return True
            elif isinstance(node, _JsonNumber):
                if _compare_text(self.value, self.operator, node.text, node.value):
                    return True
        return False


class _JsonCheck:
    """``IS NULL`` / ``IS TRUE`` / ``IS FALSE`` / ``NOT EXISTS``."""

    __slots__ = ("selector", "check")

    def __init__(self, selector, check):
        self.selector, self.check = selector, check

    def evaluate(self, document):
        nodes = self.selector.resolve(document)
        if self.check == "NOT EXISTS":
            return not nodes
        wanted = {"NULL": None, "TRUE": True, "FALSE": False}[self.check]
        return any(node is wanted for node in nodes)


class _And:
    __slots__ = ("parts",)

    def __init__(self, parts):
        self.parts = parts

    def evaluate(self, subject):
        return all(part.evaluate(subject) for part in self.parts)


class _Or:
    __slots__ = ("parts",)

    def __init__(self, parts):
        self.parts = parts

    def evaluate(self, subject):
        return any(part.evaluate(subject) for part in self.parts)


class _Counts:
    """What a JSON or space-delimited pattern used, for AWS's per-pattern limits."""

    __slots__ = ("regex", "wildcards")

    def __init__(self):
        self.regex = 0
        self.wildcards = 0

    def add_value(self, value):
        if value.regex is not None:
            self.regex += 1
            if self.regex > MAX_REGEX_PER_PATTERN:
                raise invalid_pattern(f"a JSON or space-delimited pattern holds at most {MAX_REGEX_PER_PATTERN} "
                                      "regular expressions")


def _binary(scanner, operand, counts):
    """``operand (&& operand)* (|| ...)*``: && binds tighter than ||, as AWS documents."""
    def or_expression():
        parts = [and_expression()]
        while _take(scanner, "||"):
            parts.append(and_expression())
        return parts[0] if len(parts) == 1 else _Or(parts)

    def and_expression():
        parts = [primary()]
        while _take(scanner, "&&"):
            parts.append(primary())
        return parts[0] if len(parts) == 1 else _And(parts)

    def primary():
        scanner.skip_spaces()
        if scanner.peek() == "(":
            scanner.pos += 1
            inner = or_expression()
            scanner.expect(")", "a '(' is not closed with ')'")
            return inner
        return operand(counts)

    return or_expression()


def _take(scanner, literal):
    scanner.skip_spaces()
    if scanner.startswith(literal):
        scanner.pos += len(literal)
        return True
    return False


def _json_condition(scanner, counts):
    scanner.skip_spaces()
    if scanner.peek() != "$":
        found = scanner.read_bare(_VALUE_STOPS) or scanner.peek() or "the end of the pattern"
        raise invalid_pattern(f"a JSON condition starts with a property selector such as $.name, not {found!r}")
    selector = read_selector(scanner)
    counts.wildcards += selector.wildcards
    if counts.wildcards > MAX_WILDCARD_SELECTORS:
        raise invalid_pattern(f"a JSON pattern holds at most {MAX_WILDCARD_SELECTORS} wildcard selectors")
    operator = _read_operator(scanner)
    if operator is not None:
        value = _read_value(scanner, operator)
        counts.add_value(value)
        return _JsonComparison(selector, operator, value)
    scanner.skip_spaces()
    first = scanner.read_bare(_VALUE_STOPS).upper()
    scanner.skip_spaces()
    second = scanner.read_bare(_VALUE_STOPS).upper()
    if first == "IS" and second in ("NULL", "TRUE", "FALSE"):
        return _JsonCheck(selector, second)
    if first == "NOT" and second == "EXISTS":
        return _JsonCheck(selector, "NOT EXISTS")
    if first in ("IS", "EXISTS") or (first, second) == ("IS", "NOT"):
        # "The variables IS NOT and EXISTS currently aren't supported."
        raise invalid_pattern(f"{selector.text} {first} {second}".strip() + " is not supported; "
                              "use = / != , IS NULL, IS TRUE, IS FALSE or NOT EXISTS")
    raise invalid_pattern(f"{selector.text} needs an operator (= != < <= > >=), IS NULL, IS TRUE, "
                          "IS FALSE or NOT EXISTS")


def _parse_json(text):
    if not text.endswith("}"):
        raise InvalidParameterException("If a filter pattern starts with '{' it must end with '}'")
    scanner = Scanner(text[:-1], 1)
    counts = _Counts()
    tree = _binary(scanner, lambda c: _json_condition(scanner, c), counts)
    scanner.skip_spaces()
    if not scanner.at_end():
        raise invalid_pattern(f"unexpected {scanner.text[scanner.pos:]!r} in a JSON pattern")
    return tree, counts


# --- space-delimited patterns -----------------------------------------------------------------

class _FieldComparison:
    __slots__ = ("name", "operator", "value")

    def __init__(self, name, operator, value):
        self.name, self.operator, self.value = name, operator, value

    def evaluate(self, field):
        number = _as_number(field) if self.value.number is not None else None
        return _compare_text(self.value, self.operator, field, number)


class _Field:
    """One slot of a space-delimited pattern: ``...``, a (possibly unnamed) field, and its condition."""

    __slots__ = ("name", "condition", "ellipsis")

    def __init__(self, name, condition=None, ellipsis=False):
        self.name, self.condition, self.ellipsis = name, condition, ellipsis

    def accepts(self, field):
        return self.condition is None or self.condition.evaluate(field)


def _field_name(scanner):
    scanner.skip_spaces()
    name = scanner.read_bare(_VALUE_STOPS)
    bad = first_invalid(name, _FIELD_NAME_CHARS)
    if bad is not None:
        raise invalid_characters(bad)
    return name


def _parse_field(scanner, counts):
    """One slot, up to its ``,`` or the closing ``]``."""
    scanner.skip_spaces()
    if scanner.startswith("..."):
        scanner.pos += 3
        return _Field(None, ellipsis=True)
    names = []

    def comparison(_counts):
        name = _field_name(scanner)
        if not name:
            raise invalid_pattern("a condition in a space-delimited pattern starts with the field's name")
        names.append(name)
        operator = _read_operator(scanner)
        if operator is None:
            return name  # a bare name: allowed only as the whole slot
        value = _read_value(scanner, operator)
        _counts.add_value(value)
        return _FieldComparison(name, operator, value)

    scanner.skip_spaces()
    if scanner.peek() in (",", ""):
        return _Field("")  # an unnamed field, as in AWS's "[..., request=*.html*, status_code=4*,]"
    condition = _binary(scanner, comparison, counts)
    if isinstance(condition, str):
        return _Field(condition)
    if _has_bare_name(condition):
        raise invalid_pattern("every condition on a field needs an operator, as in status_code = 404")
    if len(set(names)) > 1:
        # AWS refuses its own old example "[..., status_code = 4* && bytes > 1000]".
        raise invalid_pattern(f"the conditions of one field must all name it, not {', '.join(dict.fromkeys(names))}")
    return _Field(names[0], condition)


def _has_bare_name(node):
    if isinstance(node, str):
        return True
    if isinstance(node, (_And, _Or)):
        return any(_has_bare_name(part) for part in node.parts)
    return False


def _parse_space_delimited(text):
    if not text.endswith("]"):
        # The lab's wording, on the model of AWS's message for '{'.
        raise InvalidParameterException("If a filter pattern starts with '[' it must end with ']'")
    scanner = Scanner(text[:-1], 1)
    counts = _Counts()
    fields = []
    while True:
        fields.append(_parse_field(scanner, counts))
        scanner.skip_spaces()
        if scanner.at_end():
            break
        if scanner.peek() != ",":
            raise invalid_pattern(f"unexpected {scanner.text[scanner.pos:]!r}; fields are separated by ','")
        scanner.pos += 1
    if len(fields) == 1 and not fields[0].ellipsis and not fields[0].name:
        raise invalid_pattern("a space-delimited pattern names at least one field, as in [w1, w2]")
    return fields, counts


def split_fields(message):
    """The fields of a space-delimited event: ``(value, start, end)`` with ``start``/``end`` the
    field's span in ``message``. Text between ``[`` and ``]`` or between double quotes is one field,
    whose value leaves the brackets or quotes out.

    >>> [value for value, _, _ in split_fields('1.2.3.4 - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200')]
    ['1.2.3.4', '-', '10/Oct/2000:13:55:36 -0700', 'GET / HTTP/1.0', '200']
    """
    fields = []
    length = len(message)
    # Where the next closer is, remembered so that a line full of unclosed '[' stays linear.
    next_close = {"]": -1, '"': -1}
    pos = 0
    while True:
        while pos < length and message[pos].isspace():
            pos += 1
        if pos >= length:
            return fields
        opener = message[pos]
        if opener in '["':
            closer = "]" if opener == "[" else '"'
            close = next_close[closer]
            if close != -2 and close <= pos:
                close = _find_closer(message, closer, pos + 1)
                next_close[closer] = close if close >= 0 else -2
            if close >= 0:
                fields.append((message[pos + 1:close], pos, close + 1))
                pos = close + 1
                continue
        start = pos
        while pos < length and not message[pos].isspace():
            pos += 1
        fields.append((message[start:pos], start, pos))


def _find_closer(message, closer, start):
    if closer == "]":
        return message.find("]", start)
    index = message.find('"', start)
    while index > 0 and message[index - 1] == "\\":
        index = message.find('"', index + 1)
    return index


def _align(fields, tokens, message):
    """Which tokens the pattern's fields take, or None: ``[(field, position, value)]`` for each
    token position, ``field`` None where an ellipsis covers it."""
    ellipses = [index for index, field in enumerate(fields) if field.ellipsis]
    count = len(tokens)
    if not ellipses:
        if count < len(fields):
            return None
        taken = [(field, index, tokens[index][0]) for index, field in enumerate(fields)]
        if count > len(fields):
            last = len(fields) - 1
            rest = message[tokens[last][1]:tokens[-1][2]]
            taken[last] = (fields[last], last, rest)
        return taken if all(field.accepts(value) for field, _, value in taken) else None
    if len(ellipses) == 1:
        cut = ellipses[0]
        before, after = fields[:cut], fields[cut + 1:]
        if count < len(before) + len(after):
            return None
        taken = [(field, index, tokens[index][0]) for index, field in enumerate(before)]
        first_after = count - len(after)
        taken += [(None, index, tokens[index][0]) for index in range(len(before), first_after)]
        taken += [(field, first_after + offset, tokens[first_after + offset][0]) for offset, field in enumerate(after)]
        return taken if all(field is None or field.accepts(value) for field, _, value in taken) else None
    return _align_many(fields, tokens)


def _align_many(fields, tokens):
    """Several ellipses: a table over (field, token) so the search stays polynomial."""
    count = len(tokens)
    # reachable[i][j]: fields[i:] can take tokens[j:]
    reachable = [[False] * (count + 1) for _ in range(len(fields) + 1)]
    reachable[len(fields)][count] = True
    for i in range(len(fields) - 1, -1, -1):
        field = fields[i]
        row, below = reachable[i], reachable[i + 1]
        if field.ellipsis:
            later = False
            for j in range(count, -1, -1):
                later = later or below[j]
                row[j] = later
        else:
            for j in range(count - 1, -1, -1):
                row[j] = below[j + 1] and field.accepts(tokens[j][0])
    if not reachable[0][0]:
        return None
    taken, j = [], 0
    for i, field in enumerate(fields):
        if field.ellipsis:
            while not reachable[i + 1][j]:
                taken.append((None, j, tokens[j][0]))
                j += 1
        else:
            taken.append((field, j, tokens[j][0]))
            j += 1
    return taken


# --- unstructured patterns --------------------------------------------------------------------

def _parse_terms(text):
    """Terms, phrases, ``-exclusions`` and ``?alternatives`` -> (include, exclude, optional)."""
    scanner = Scanner(text)
    include, exclude, optional = [], [], []
    pending = None
    while True:
        scanner.skip_spaces()
        if scanner.at_end():
            break
        prefix = pending
        pending = None
        if prefix is None and scanner.peek() in "?-":
            prefix = scanner.peek()
            scanner.pos += 1
            if scanner.at_end() or scanner.peek().isspace():
                pending = prefix  # AWS's older example writes "ERROR" - "Exiting"
                continue
        if scanner.peek() == '"':
            chars = scanner.read_quoted()
            term = "".join(char for char, _ in chars)
            if not term:
                raise invalid_characters('""')
            if scanner.peek() and not scanner.peek().isspace():
                raise invalid_characters(scanner.peek())
            if not term.strip():
                continue  # AWS: the pattern " " matches everything
        else:
            term = scanner.read_bare("")
            bad = first_invalid(term, _TERM_CHARS)
            if bad is not None:
                raise invalid_characters(bad)
        {None: include, "-": exclude, "?": optional}[prefix].append(term)
    if pending is not None:
        raise invalid_pattern(f"'{pending}' must come before a term")
    return include, exclude, optional


# --- the pattern ------------------------------------------------------------------------------

def _classify(text):
    if not text:
        return "all"
    if text[0] == "{":
        return "json"
    if text[0] == "[":
        return "space_delimited"
    if len(text) >= 2 and text[0] == "%" and text[-1] == "%" and text.count("%") == 2:
        return "regex"
    return "unstructured"


class FilterPattern:
    """A parsed CloudWatch Logs filter pattern.

    ``kind`` is ``"all"``, ``"unstructured"``, ``"regex"``, ``"json"`` or ``"space_delimited"``;
    ``regex_count`` is how many ``%regex%`` it holds. Parsing refuses what AWS refuses, with
    ``InvalidParameterException``.

    >>> FilterPattern.parse("ERROR -ARGUMENTS").matches("[ERROR 400] BAD REQUEST")
    True
    >>> FilterPattern.parse("%AUTHORIZED%").matches("[ERROR 401] UNAUTHORIZED REQUEST")
    True
    """

    __slots__ = ("text", "kind", "regex_count", "_match", "_tree", "_fields")

    def __init__(self, text):
        """Use ``FilterPattern.parse``."""
        if not isinstance(text, str):
            raise InvalidParameterException(f"filterPattern must be a string, not {type(text).__name__}")
        if len(text) > MAX_FILTER_PATTERN_LENGTH:
            raise _length_error(text)
        self.text = text
        self.regex_count = 0
        self._tree = self._fields = None
        stripped = text.strip()
        self.kind = _classify(stripped)
        if self.kind == "json":
            self._tree, counts = _parse_json(stripped)
            self.regex_count = counts.regex
            self._match = self._match_json
        elif self.kind == "space_delimited":
            self._fields, counts = _parse_space_delimited(stripped)
            self.regex_count = counts.regex
            self._match = self._match_space_delimited
        elif self.kind == "regex":
            regex = compile_regex(stripped[1:-1])
            self.regex_count = 1
            self._match = regex.search
        elif self.kind == "unstructured":
            self._match = self._unstructured_matcher(*_parse_terms(stripped))
            if self._match is None:
                self.kind = "all"
        if self.kind == "all":
            self._match = _everything

    @classmethod
    def parse(cls, text):
        """Parse ``text``; raise ``InvalidParameterException`` as CloudWatch Logs would.

        >>> FilterPattern.parse('{ $.eventType = "UpdateTrail" }').kind
        'json'
        """
        return cls(text)

    def _unstructured_matcher(self, include, exclude, optional):
        if include or exclude:
            # "If you combine '?' with other filter patterns, all question mark terms will be ignored."
            if len(include) == 1 and not exclude:
                term = include[0]
                return lambda message: term in message
            return lambda message: (all(term in message for term in include)
                                    and not any(term in message for term in exclude))
        if optional:
            return lambda message: any(term in message for term in optional)
        return None

    def matches(self, message):
        """Whether the log event ``message`` matches.

        >>> FilterPattern.parse("?ERROR ?WARN").matches("WARN message")
        True
        """
        return self._match(message)

    def _match_json(self, message):
        document = _decode_event(message)
        return document is not None and self._tree.evaluate(document)

    def _match_space_delimited(self, message):
        return _align(self._fields, split_fields(message), message) is not None

    def extracted_values(self, message):
        """The fields a space-delimited pattern extracts from a matching event, as
        ``TestMetricFilter`` returns them in ``extractedValues``: ``$name`` for a named field and
        ``$N`` (1-based position) for one an ellipsis covers or that has no name. Empty for other
        kinds ("If you are not using a space-delimited filter, this will be empty"); None when the
        event does not match.

        >>> FilterPattern.parse("[w1, w2]").extracted_values("ERROR 09/25/2014 12:00:02 Failed")
        {'$w1': 'ERROR', '$w2': '09/25/2014 12:00:02 Failed'}
        """
        if self.kind != "space_delimited":
            return {} if self.matches(message) else None
        taken = _align(self._fields, split_fields(message), message)
        if taken is None:
            return None
        values = {}
        for field, position, value in taken:
            key = f"${field.name}" if field is not None and field.name else f"${position + 1}"
            values.setdefault(key, value)
        return values

    def extract(self, message, selector):
        """The value ``selector`` names in a matching event, for a metric filter's ``metricValue``
        or a dimension: ``$.path`` for a JSON pattern (the JSON value: number, string, ...),
        ``$field`` or ``$N`` for a space-delimited one (a string). None when the event does not
        match or holds no such value.

        >>> FilterPattern.parse("{ $.latency = * }").extract('{"latency": 50, "requestType": "GET"}', "$.latency")
        50
        """
        if not isinstance(selector, str) or not selector.startswith("$"):
            raise InvalidParameterException(f"Invalid metric value or dimension {selector!r}: it must start with '$'")
        if self.kind == "json":
            if not selector.startswith("$."):
                raise InvalidParameterException(f"Invalid selector {selector!r} for a JSON filter pattern: "
                                                "it must look like $.name")
            scanner = Scanner(selector)
            path = read_selector(scanner)
            if not scanner.at_end():
                raise invalid_characters(selector[scanner.pos:])
            document = _decode_event(message)
            if document is None or not self._tree.evaluate(document):
                return None
            for node in path.resolve(document):
                return _plain(node)
            return None
        if self.kind == "space_delimited":
            values = self.extracted_values(message)
            return None if values is None else values.get(selector)
        return None

    @property
    def supports_dimensions(self):
        """Dimensions "are only available for JSON and space-delimited filter patterns"."""
        return self.kind in ("json", "space_delimited")

    def dimension_values(self, message, dimensions):
        """``{name: value}`` for a metric filter's ``dimensions`` (``{"server": "$server"}``) on a
        matching event; None when it does not match. The values are strings, as CloudWatch's
        dimension values are."""
        if not self.supports_dimensions:
            raise InvalidParameterException("The specified filter pattern does not support dimensions")
        if len(dimensions) > MAX_DIMENSIONS:
            raise InvalidParameterException(f"A metric filter has at most {MAX_DIMENSIONS} dimensions")
        if not self.matches(message):
            return None
        values = {}
        for name, selector in dimensions.items():
            value = self.extract(message, selector)
            values[name] = None if value is None else (value if isinstance(value, str) else json.dumps(value))
        return values

    def __repr__(self):
        return f"FilterPattern({self.text!r})"


def _everything(message):
    return True


def count_regex(pattern):
    """How many ``%regex%`` the filter pattern holds (it must parse). A log group counts the
    filters where this is not 0 against its limit of ``MAX_REGEX_PATTERNS_PER_LOG_GROUP``.

    >>> count_regex('{ $.a = %x+% || $.b = %y% }'), count_regex("ERROR")
    (2, 0)
    """
    if isinstance(pattern, FilterPattern):
        return pattern.regex_count
    return FilterPattern.parse(pattern).regex_count

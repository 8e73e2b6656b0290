"""The lexical layer of CloudWatch Logs filter patterns, and the ``%regex%`` sublanguage.

This module reads the small pieces the parsers in ``filter_patterns`` are built from: quoted
strings (``\\"`` and ``\\\\`` escape), bare words, JSON property selectors (``$.a.b[0]``,
``$.['cluster.name']``, ``$.*``), and regular expressions between ``%`` signs. It also owns the
error AWS returns for a malformed pattern, ``InvalidParameterException``.

Regular expressions are AWS's documented subset ("Supported regular expressions (regex) syntax",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/regex-expressions.html): alphanumerics,
the symbols ``: _ # = @ / ; , -``, the operators ``^ $ ? [ ] { } | \\ * + .``, the classes
``\\d \\D \\s \\S \\w \\W`` and ``\\xhh``; no ``(`` ``)`` and no multi-byte characters. Such a
regex has no groups, so it is compiled here into a small automaton (Thompson's construction)
that is turned lazily into a DFA while it reads the line: every character costs one dictionary
look-up once the states it meets are built, so a hostile 256 KB line takes time linear in its
length and no backtracking can blow up. Python's ``re`` is never given a user's regex.

Pure: no I/O.

>>> compile_regex("colou?r").search("The colour red")
True
>>> compile_regex("^[hc]at").search("that")
False
"""

# AWS's documented alphabet for regex (the space is in AWS's own example
# "%^starting|^initializing|^shutting down%").
_REGEX_SYMBOLS = frozenset(":_#=@/;,-")
_REGEX_OPERATORS = frozenset("^$?[]{}|\\*+.")
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_REGEX_ALPHABET = _ASCII_ALNUM | _REGEX_SYMBOLS | _REGEX_OPERATORS | {" "}
# Whitespace as Java's \s (CloudWatch's documentation names tab, space and newline).
_SPACE = frozenset(" \t\n\x0b\f\r")
_DIGITS = frozenset("0123456789")
_WORD = _ASCII_ALNUM | {"_"}

# Lab bounds, not AWS's: they keep one automaton small enough to stay linear-time in Python.
# AWS documents no such limit; a filter pattern is at most 1,024 characters anyway.
MAX_REPEAT = 1000
MAX_AUTOMATON_NODES = 5000
_MAX_CACHED_STATES = 4096


class CloudWatchLogsError(Exception):
    """An error of the CloudWatch Logs API, with its ``__type`` and HTTP status; ``message`` is AWS's
    text, ``as_response()`` the JSON error body of the API."""

    error_type = "ServiceUnavailableException"
    status_code = 400

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def as_response(self):
        return {"__type": self.error_type, "message": self.message}

    def __str__(self):
        return self.message

    def _render_traceback_(self):
        # In a notebook, the service's answer rather than the parser's call stack.
        return [f"{self.error_type} (HTTP {self.status_code}): {self.message}"]


class InvalidParameterException(CloudWatchLogsError, ValueError):
    """A filter pattern CloudWatch Logs refuses, as ``PutMetricFilter``, ``PutSubscriptionFilter``,
    ``FilterLogEvents``, ``TestMetricFilter`` and ``StartLiveTail`` refuse it (HTTP 400).

    >>> error = InvalidParameterException("Invalid filter pattern")
    >>> error.as_response()
    {'__type': 'InvalidParameterException', 'message': 'Invalid filter pattern'}
    """

    error_type = "InvalidParameterException"


def invalid_pattern(reason=None):
    """AWS's generic refusal; the lab adds what was wrong after a colon, as AWS itself does in
    "Invalid filter pattern: Invalid character(s) in term ..." (StartLiveTail, 2025)."""
    return InvalidParameterException(f"Invalid filter pattern: {reason}" if reason else "Invalid filter pattern")


def invalid_characters(chars):
    """AWS's refusal of a term with characters that need quotes (or that no regex may hold),
    e.g. ``Invalid character(s) in term ':'`` for the pattern ``?Status: timeout``."""
    return InvalidParameterException(f"Invalid character(s) in term '{chars}'")


def first_invalid(text, allowed):
    """The first character of ``text`` outside ``allowed`` (what AWS quotes back, e.g. ``'('`` for
    ``Server started (port 80)``), or None."""
    for char in text:
        if char not in allowed:
            return char
    return None


class Scanner:
    """A cursor over the pattern text, with the readers the three grammars share."""

    __slots__ = ("text", "pos")

    def __init__(self, text, pos=0):
        self.text = text
        self.pos = pos

    def at_end(self):
        return self.pos >= len(self.text)

    def peek(self, offset=0):
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def startswith(self, prefix):
        return self.text.startswith(prefix, self.pos)

    def skip_spaces(self):
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos].isspace():
            pos += 1
        self.pos = pos

    def expect(self, literal, reason):
        self.skip_spaces()
        if not self.startswith(literal):
            raise invalid_pattern(reason)
        self.pos += len(literal)

    def read_quoted(self):
        """A double-quoted string starting at the cursor, as a list of ``(char, escaped)``: the
        caller decides what an unescaped ``*`` means. ``\\"`` is a quote and ``\\\\`` a backslash;
        any other backslash stays as written."""
        text, pos = self.text, self.pos + 1
        chars = []
        while pos < len(text):
            char = text[pos]
            if char == "\\" and pos + 1 < len(text):
                following = text[pos + 1]
                if following in '"\\*':
                    chars.append((following, True))
                    pos += 2
                    continue
                chars.append((char, False))
                pos += 1
                continue
            if char == '"':
                self.pos = pos + 1
                return chars
            chars.append((char, False))
            pos += 1
        raise invalid_pattern("a quoted string is not closed with '\"'")

    def read_regex(self):
        """The body of a ``%regex%`` starting at the cursor (the regex ends at the next ``%``:
        ``%`` is outside the regex alphabet, so it needs no escape)."""
        end = self.text.find("%", self.pos + 1)
        if end < 0:
            raise invalid_pattern("a regular expression is not closed with '%'")
        body = self.text[self.pos + 1:end]
        self.pos = end + 1
        return body

    def read_bare(self, stops):
        """A run of characters up to white space or one of ``stops``."""
        text, start = self.text, self.pos
        pos = start
        while pos < len(text) and not text[pos].isspace() and text[pos] not in stops:
            pos += 1
        self.pos = pos
        return text[start:pos]


# --- JSON property selectors -----------------------------------------------------------------

_SELECTOR_NAME = _WORD | {"-"}
# What may follow a selector: white space, an operator, or the end of a group.
_SELECTOR_END = frozenset("=!<>)}&|")


class Selector:
    """A JSON property selector: ``$`` then steps. A step is ``("key", name)``, ``("index", n)`` or
    ``("any", None)`` (``.*`` / ``[*]``: any object field or array element)."""

    __slots__ = ("text", "steps", "wildcards")

    def __init__(self, text, steps):
        self.text = text
        self.steps = tuple(steps)
        self.wildcards = sum(1 for kind, _ in steps if kind == "any")

    def resolve(self, document):
        """Every node the selector reaches in ``document`` (more than one only through ``*``)."""
        nodes = [document]
        for kind, arg in self.steps:
            found = []
            for node in nodes:
                if kind == "key":
                    if isinstance(node, dict) and arg in node:
                        found.append(node[arg])
                elif kind == "index":
                    if isinstance(node, list) and arg < len(node):
                        found.append(node[arg])
                elif isinstance(node, dict):
                    found.extend(node.values())
                elif isinstance(node, list):
                    found.extend(node)
            if not found:
                return found
            nodes = found
        return nodes

    def __repr__(self):
        return f"Selector({self.text!r})"


def read_selector(scanner):
    """A property selector at the cursor. Property names are alphanumerics, ``-`` and ``_``; a name
    with other characters is written ``$.['cluster.name']``; array elements ``[0]`` follow a
    property; ``*`` selects any field or element (at most one per selector). A character that does
    not belong is refused as AWS refuses ``$."sc-status"``: ``Invalid character(s) in term '$."'``."""
    text, start = scanner.text, scanner.pos
    pos = start + 1
    steps = []

    def refuse(at):
        raise invalid_characters(text[start:at + 1])

    while pos < len(text) and not text[pos].isspace() and text[pos] not in _SELECTOR_END:
        char = text[pos]
        if char == ".":
            pos += 1
            following = text[pos] if pos < len(text) else ""
            if following == "*":
                steps.append(("any", None))
                pos += 1
            elif following == "[":
                continue  # $.['cluster.name'], as AWS's documentation writes it
            elif following in _SELECTOR_NAME and following:
                name_start = pos
                while pos < len(text) and text[pos] in _SELECTOR_NAME:
                    pos += 1
                steps.append(("key", text[name_start:pos]))
            else:
                refuse(pos if pos < len(text) else pos - 1)
        elif char == "[":
            close = text.find("]", pos)
            if close < 0:
                refuse(pos)
            inner = text[pos + 1:close]
            if inner == "*":
                steps.append(("any", None))
            elif inner.isdigit() and inner.isascii():
                if not steps:
                    raise invalid_pattern(f"array elements must follow a property in '{text[start:close + 1]}'")
                steps.append(("index", int(inner)))
            elif len(inner) >= 2 and inner[0] == inner[-1] == "'":
                steps.append(("key", inner[1:-1]))
            else:
                refuse(pos)
            pos = close + 1
        else:
            refuse(pos)
    if not steps:
        raise invalid_pattern(f"a property selector starts with '$.', not '{text[start:pos]}'")
    scanner.pos = pos
    selector = Selector(text[start:pos], steps)
    if selector.wildcards > 1:
        raise invalid_pattern(f"a property selector holds at most one wildcard, not {selector.text!r}")
    return selector


# --- %regex% ---------------------------------------------------------------------------------

class CharSet:
    """One position of a regex: a literal, a class ``[...]``, ``.``, ``\\d`` ..."""

    __slots__ = ("negated", "chars", "ranges", "anything")

    def __init__(self, chars=(), ranges=(), negated=False, anything=False):
        self.chars = frozenset(chars)
        self.ranges = tuple(ranges)
        self.negated = negated
        self.anything = anything

    def __contains__(self, char):
        if self.anything:
            return True
        found = char in self.chars or any(low <= char <= high for low, high in self.ranges)
        return found != self.negated


_ESCAPE_CLASSES = {
    "d": (_DIGITS, False), "D": (_DIGITS, True),
    "s": (_SPACE, False), "S": (_SPACE, True),
    "w": (_WORD, False), "W": (_WORD, True),
}


class _RegexParser:
    """Recursive descent over AWS's regex subset: alternatives of sequences of atoms with
    quantifiers; ``^`` may open and ``$`` may close an alternative."""

    def __init__(self, body):
        self.body = body
        self.pos = 0

    def fail(self, reason):
        raise invalid_pattern(f"{reason} in the regular expression %{self.body}%")

    def parse(self):
        alternatives = [self.alternative()]
        while self.pos < len(self.body):  # only a '|' stops an alternative early
            self.pos += 1
            alternatives.append(self.alternative())
        return alternatives

    def alternative(self):
        body = self.body
        anchored_start = anchored_end = False
        items = []
        if self.pos < len(body) and body[self.pos] == "^":
            anchored_start = True
            self.pos += 1
        while self.pos < len(body) and body[self.pos] != "|":
            char = body[self.pos]
            if char == "$":
                self.pos += 1
                if self.pos < len(body) and body[self.pos] != "|":
                    self.fail("'$' may only end an alternative")
                anchored_end = True
                break
            if char == "^":
                self.fail("'^' may only start an alternative")
            if char in "*+?":
                self.fail(f"'{char}' has nothing to repeat")
            if char in "{}":
                self.fail(f"'{char}' has nothing to repeat")
            charset = self.atom()
            low, high = self.quantifier()
            items.append((charset, low, high))
        return anchored_start, items, anchored_end

    def atom(self):
        body = self.body
        char = body[self.pos]
        if char == ".":
            self.pos += 1
            return CharSet(anything=True)
        if char == "[":
            return self.char_class()
        if char == "\\":
            kind, value = self.escape()
            if kind == "class":
                chars, negated = value
                return CharSet(chars, negated=negated)
            return CharSet(value)
        self.pos += 1
        return CharSet(char)  # ']' outside a class is a literal, as in Java

    def escape(self):
        """``\\`` at the cursor: ``("class", (chars, negated))`` or ``("char", c)``."""
        body = self.body
        if self.pos + 1 >= len(body):
            self.fail("a trailing '\\'")
        char = body[self.pos + 1]
        if char in _ESCAPE_CLASSES:
            self.pos += 2
            return "class", _ESCAPE_CLASSES[char]
        if char == "x":
            digits = body[self.pos + 2:self.pos + 4]
            if len(digits) != 2 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                self.fail("'\\x' needs two hexadecimal digits")
            self.pos += 4
            return "char", chr(int(digits, 16))
        if char in _REGEX_OPERATORS or char in _REGEX_SYMBOLS:
            self.pos += 2
            return "char", char
        self.fail(f"'\\{char}' is not a supported escape")

    def char_class(self):
        body = self.body
        self.pos += 1
        negated = False
        if self.pos < len(body) and body[self.pos] == "^":
            negated = True
            self.pos += 1
        chars, ranges = set(), []
        first = True
        while True:
            if self.pos >= len(body):
                self.fail("a '[' is not closed with ']'")
            char = body[self.pos]
            if char == "]" and not first:
                self.pos += 1
                break
            if char == "[":
                self.fail("'[' inside a character class must be escaped")
            if char == "]":
                self.fail("an empty character class")
            first = False
            if char == "\\":
                kind, value = self.escape()
                if kind == "class":
                    class_chars, class_negated = value
                    if class_negated:
                        self.fail("a negated class (\\D, \\S, \\W) inside '[...]'")
                    chars.update(class_chars)
                    continue
                low = value
            else:
                low = char
                self.pos += 1
            if (self.pos + 1 < len(body) and body[self.pos] == "-" and body[self.pos + 1] != "]"):
                self.pos += 1
                high_char = body[self.pos]
                if high_char == "\\":
                    kind, high = self.escape()
                    if kind == "class":
                        self.fail("a class cannot end a range")
                else:
                    high = high_char
                    self.pos += 1
                if high < low:
                    self.fail(f"the range {low}-{high} is out of order")
                ranges.append((low, high))
            else:
                chars.add(low)
        return CharSet(chars, ranges, negated)

    def quantifier(self):
        body = self.body
        if self.pos >= len(body):
            return 1, 1
        char = body[self.pos]
        if char == "?":
            low, high = 0, 1
            self.pos += 1
        elif char == "*":
            low, high = 0, None
            self.pos += 1
        elif char == "+":
            low, high = 1, None
            self.pos += 1
        elif char == "{":
            close = body.find("}", self.pos)
            if close < 0:
                self.fail("a '{' is not closed with '}'")
            inner = body[self.pos + 1:close]
            low_text, comma, high_text = inner.partition(",")
            if not inner or any(part and not (part.isdigit() and part.isascii()) for part in (low_text, high_text)):
                self.fail(f"'{{{inner}}}' is not a repetition {{m,n}}")
            if not comma and not low_text:
                self.fail("'{}' is not a repetition {m,n}")
            low = int(low_text) if low_text else 0
            high = (int(high_text) if high_text else None) if comma else low
            if high is not None and high < low:
                self.fail(f"'{{{inner}}}' has its bounds out of order")
            if low > MAX_REPEAT or (high or 0) > MAX_REPEAT:
                self.fail(f"a repetition over {MAX_REPEAT} (a lab limit)")
            self.pos = close + 1
        else:
            return 1, 1
        if self.pos < len(body) and body[self.pos] == "?":
            self.pos += 1  # lazy: the same answer to "is there a match?"
        if self.pos < len(body) and body[self.pos] in "*+?{":
            self.fail("a quantifier cannot be repeated")
        return low, high


_CHAR, _SPLIT, _MATCH, _MATCH_END = range(4)


class _DState:
    """One DFA state: a set of automaton nodes, its transitions as they are met, and whether a
    match is reached (anywhere, or only if the text ends here)."""

    __slots__ = ("nodes", "moves", "match", "match_end")

    def __init__(self, nodes, kinds):
        self.nodes = nodes
        self.moves = {}
        self.match = any(kinds[n] == _MATCH for n in nodes)
        self.match_end = self.match or any(kinds[n] == _MATCH_END for n in nodes)


class Regex:
    """A compiled ``%regex%``; ``search(text)`` says whether it matches anywhere in ``text``."""

    __slots__ = ("source", "_kinds", "_sets", "_out1", "_out2", "_restart", "_initial", "_states")

    def __init__(self, source, alternatives):
        self.source = source
        self._kinds, self._sets, self._out1, self._out2 = [], [], [], []
        starts, unanchored = [], []
        for anchored_start, items, anchored_end in alternatives:
            node = self._add(_MATCH_END if anchored_end else _MATCH)
            for charset, low, high in reversed(items):
                node = self._repeat(charset, low, high, node)
            starts.append(node)
            if not anchored_start:
                unanchored.append(node)
        self._restart = self._closure(unanchored)
        self._states = {}
        self._initial = self._intern(self._closure(starts))

    def _add(self, kind, charset=None, out1=-1, out2=-1):
        if len(self._kinds) >= MAX_AUTOMATON_NODES:
            raise invalid_pattern(f"the regular expression %{self.source}% is too large (a lab limit)")
        self._kinds.append(kind)
        self._sets.append(charset)
        self._out1.append(out1)
        self._out2.append(out2)
        return len(self._kinds) - 1

    def _repeat(self, charset, low, high, following):
        node = following
        if high is None:
            loop = self._add(_SPLIT, out2=following)
            self._out1[loop] = self._add(_CHAR, charset, out1=loop)
            node = loop
        else:
            for _ in range(high - low):
                node = self._add(_SPLIT, out1=self._add(_CHAR, charset, out1=node), out2=following)
        for _ in range(low):
            node = self._add(_CHAR, charset, out1=node)
        return node

    def _closure(self, nodes):
        seen, stack, found = set(), list(nodes), set()
        kinds, out1, out2 = self._kinds, self._out1, self._out2
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            if kinds[node] == _SPLIT:
                stack.append(out1[node])
                stack.append(out2[node])
            else:
                found.add(node)
        return frozenset(found)

    def _intern(self, nodes):
        state = self._states.get(nodes)
        if state is None:
            state = _DState(nodes, self._kinds)
            if len(self._states) < _MAX_CACHED_STATES:
                state = self._states.setdefault(nodes, state)
        return state

    def _step(self, state, char):
        kinds, sets, out1 = self._kinds, self._sets, self._out1
        moved = [out1[n] for n in state.nodes if kinds[n] == _CHAR and char in sets[n]]
        following = self._intern(self._closure(moved) | self._restart)
        if len(self._states) < _MAX_CACHED_STATES:
            state.moves[char] = following
        return following

    def search(self, text):
        state = self._initial
        if state.match:
            return True
        for char in text:
            following = state.moves.get(char)
            if following is None:
                following = self._step(state, char)
            if following.match:
                return True
            state = following
        return state.match_end

    def __repr__(self):
        return f"Regex(%{self.source}%)"


def compile_regex(body):
    """Check ``body`` (the text between the ``%`` signs) against AWS's regex subset and compile it.

    >>> compile_regex("%").source
    Traceback (most recent call last):
    ...
    lambdalab_ext.observe._pattern_lexer.InvalidParameterException: Invalid character(s) in term '%'
    """
    if not body:
        raise invalid_pattern("an empty regular expression %%")
    bad = first_invalid(body, _REGEX_ALPHABET)
    if bad is not None:
        raise invalid_characters(bad)
    return Regex(body, _RegexParser(body).parse())

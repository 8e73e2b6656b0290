"""The intrinsic functions of JSONPath states: ``States.Format``, ``States.Array``, ``States.Hash``...

An intrinsic is a string such as ``States.Format('Hello, {}!', $.name)`` in a ``key.$`` field of a
Payload Template. Its arguments are strings in apostrophes (with ``\\'``, ``\\{``, ``\\}`` and ``\\\\``
escapes), numbers, ``true``/``false``/``null``, Paths and nested intrinsics (at most 10 deep).
A failure is the error ``States.IntrinsicFailure``. Sources:
https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html and
https://states-language.net/spec.html#appendix-b

>>> evaluate("States.Format('Hello, my name is {}.', $.name)", {"name": "Arnav"})
'Hello, my name is Arnav.'
>>> evaluate("States.ArrayPartition($.inputArray, 4)", {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]})
[[1, 2, 3, 4], [5, 6, 7, 8], [9]]
>>> evaluate("States.MathRandom(1, 999, 42)", {}) == evaluate("States.MathRandom(1, 999, 42)", {})
True
"""

import base64
import binascii
import hashlib
import json
import random
import re
import uuid
from functools import lru_cache

from . import errors, paths

MAX_NESTING = 10
MAX_STRING_LENGTH = 10_000     # Base64Encode/Decode and Hash take up to 10,000 characters
MAX_RANGE_ITEMS = 1000


class IntrinsicSyntaxError(ValueError):
    """A string that is not a well-formed intrinsic function call."""


class _Call:
    __slots__ = ("name", "args")

    def __init__(self, name, args):
        self.name, self.args = name, args


class _Literal:
    __slots__ = ("value", "format_parts")

    def __init__(self, value, format_parts=None):
        self.value, self.format_parts = value, format_parts


class _PathArg:
    __slots__ = ("path",)

    def __init__(self, path):
        self.path = path


_NAME = re.compile(r"[A-Za-z0-9_.]+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@lru_cache(maxsize=2048)
def parse(text):
    """Parse an intrinsic call; raises :class:`IntrinsicSyntaxError` saying what is wrong.

    Checks function names and how many arguments each takes, and the nesting limit.
    """
    parser = _Parser(text)
    call = parser.call(depth=1)
    parser.skip_spaces()
    if parser.pos != len(text):
        raise IntrinsicSyntaxError(f"Unexpected {text[parser.pos:]!r} after the intrinsic function in {text!r}")
    return call


class _Parser:
    def __init__(self, text):
        self.text, self.pos = text, 0

    def skip_spaces(self):
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n":
            self.pos += 1

    def error(self, what):
        return IntrinsicSyntaxError(f"{what} at position {self.pos} of the intrinsic function {self.text!r}")

    def call(self, depth):
        if depth > MAX_NESTING:
            raise self.error(f"More than {MAX_NESTING} nested intrinsic functions")
        self.skip_spaces()
        m = _NAME.match(self.text, self.pos)
        if not m:
            raise self.error("An intrinsic function name is expected")
        name = m.group(0)
        self.pos = m.end()
        if name not in FUNCTIONS:
            raise IntrinsicSyntaxError(f"The intrinsic function {name} is not supported "
                                       f"(in {self.text!r}); the functions are {', '.join(sorted(FUNCTIONS))}")
        self.skip_spaces()
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise self.error(f"'(' is expected after {name}")
        self.pos += 1
        args = []
        self.skip_spaces()
        if self.pos < len(self.text) and self.text[self.pos] == ")":
            self.pos += 1
        else:
            while True:
                args.append(self.argument(depth))
                self.skip_spaces()
                if self.pos < len(self.text) and self.text[self.pos] == ",":
                    self.pos += 1
                    continue
                if self.pos < len(self.text) and self.text[self.pos] == ")":
                    self.pos += 1
                    break
                raise self.error("',' or ')' is expected")
        low, high = FUNCTIONS[name][1]
        if not low <= len(args) <= high:
            expected = str(low) if low == high else f"{low} to {high}" if high < 99 else f"at least {low}"
            raise IntrinsicSyntaxError(f"The intrinsic function {name} takes {expected} argument(s), "
                                       f"got {len(args)} in {self.text!r}")
        return _Call(name, tuple(args))

    def argument(self, depth):
        self.skip_spaces()
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise self.error("An argument is expected")
        ch = text[pos]
        if ch == "'":
            return self.string()
        if ch == "$":
            return self.path()
        m = _NUMBER.match(text, pos)
        if m:
            self.pos = m.end()
            return _Literal(json.loads(m.group(0)))
        for word, value in (("null", None), ("true", True), ("false", False)):
            if text.startswith(word, pos) and not _NAME.match(text, pos + len(word)):
                self.pos += len(word)
                return _Literal(value)
        return self.call(depth + 1)

    def string(self):
        text = self.text
        self.pos += 1
        parts, current = [], []
        while True:
            if self.pos >= len(text):
                raise self.error("Unterminated string")
            ch = text[self.pos]
            if ch == "\\":
                nxt = text[self.pos + 1] if self.pos + 1 < len(text) else ""
                if nxt not in "'{}\\" or not nxt:
                    raise self.error("An open escape backslash ('\\') was found")
                current.append(nxt)
                self.pos += 2
                continue
            if ch == "'":
                self.pos += 1
                break
            if ch == "{" and text.startswith("{}", self.pos):
                parts.append("".join(current))
                current = []
                self.pos += 2
                continue
            current.append(ch)
            self.pos += 1
        parts.append("".join(current))
        return _Literal("{}".join(parts), parts)

    def path(self):
        text, start = self.text, self.pos
        depth, quote = 0, None
        while self.pos < len(text):
            ch = text[self.pos]
            if quote:
                if ch == "\\":
                    self.pos += 1
                elif ch == quote:
                    quote = None
            elif ch in "'\"" and depth:
                quote = ch
            elif ch in "[(":
                depth += 1
            elif ch in "])":
                if depth == 0:
                    break
                depth -= 1
            elif ch == "," and depth == 0:
                break
            self.pos += 1
        raw = text[start:self.pos].rstrip()
        try:
            return _PathArg(paths.parse_path(raw))
        except paths.PathSyntaxError as exc:
            raise IntrinsicSyntaxError(str(exc)) from None


def evaluate(text, data, *, context=None, variables=None, functions=None):
    """Evaluate the intrinsic ``text`` against ``data`` (the Payload Template's input).

    ``functions`` may carry a ``rng`` (``random.Random``) used by ``States.MathRandom`` without a
    seed and by ``States.UUID``, so an execution with a seed is reproducible.
    """
    try:
        call = parse(text)
    except IntrinsicSyntaxError as exc:
        raise errors.StatesError(errors.INTRINSIC_FAILURE, str(exc)) from None
    rng = getattr(functions, "rng", None) or _default_rng
    return _eval(call, data, context, variables, rng)


_default_rng = random.Random()


def _eval(node, data, context, variables, rng):
    if isinstance(node, _Literal):
        return node.value
    if isinstance(node, _PathArg):
        try:
            return paths.select(data, node.path, context=context, variables=variables)
        except paths.PathNotFound:
            raise errors.StatesError(errors.INTRINSIC_FAILURE,
                                     f"The JSONPath {node.path.text} could not be found in the input") from None
    args = [_eval(arg, data, context, variables, rng) for arg in node.args]
    impl = FUNCTIONS[node.name][0]
    try:
        return impl(args, node, rng)
    except errors.StatesError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, binascii.Error, UnicodeDecodeError) as exc:
        raise errors.StatesError(errors.INTRINSIC_FAILURE, f"{node.name}: {exc}") from None


def _fail(name, message):
    raise errors.StatesError(errors.INTRINSIC_FAILURE, f"Invalid arguments in {name}: {message}")


def _is_int(value):
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def _natural(value, name):
    if isinstance(value, (dict, list)):
        _fail(name, "an argument to format must be a string, number, boolean or null, not an array or object")
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _format(args, node, rng):
    template, values = args[0], args[1:]
    if not isinstance(template, str):
        _fail("States.Format", "the first argument must be a string")
    first = node.args[0]
    parts = first.format_parts if isinstance(first, _Literal) and first.format_parts is not None else template.split("{}")
    if len(parts) - 1 != len(values):
        _fail("States.Format", f"the format string has {len(parts) - 1} placeholder(s) but "
                               f"{len(values)} value(s) were given")
    out = [parts[0]]
    for value, part in zip(values, parts[1:]):
        out.append(_natural(value, "States.Format"))
        out.append(part)
    return "".join(out)


def _string_to_json(args, node, rng):
    (value,) = args
    if not isinstance(value, str):
        _fail("States.StringToJson", "the argument must be a string")
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        _fail("States.StringToJson", f"the string is not JSON ({exc.msg})")


def _json_to_string(args, node, rng):
    if not isinstance(node.args[0], _PathArg):
        _fail("States.JsonToString", "the argument must be a Path")
    return json.dumps(args[0], separators=(",", ":"), ensure_ascii=False)


def _array(args, node, rng):
    return list(args)


def _array_partition(args, node, rng):
    array, size = args
    if not isinstance(array, list):
        _fail("States.ArrayPartition", "the first argument must be an array")
    if not _is_int(size) or size <= 0:
        _fail("States.ArrayPartition", "the chunk size must be a non-zero, positive integer")
    size = int(size)
    return [array[i:i + size] for i in range(0, len(array), size)]


def _array_contains(args, node, rng):
    array, looking_for = args
    if not isinstance(array, list):
        _fail("States.ArrayContains", "the first argument must be an array")
    return any(paths.json_equal(item, looking_for) for item in array)


def _array_range(args, node, rng):
    if not all(_is_int(a) for a in args):
        _fail("States.ArrayRange", "all arguments must be integers")
    start, end, step = (int(a) for a in args)
    if step == 0:
        _fail("States.ArrayRange", "the step must not be zero")
    values = list(range(start, end + (1 if step > 0 else -1), step))
    if len(values) > MAX_RANGE_ITEMS:
        _fail("States.ArrayRange", f"the array would have {len(values)} items, more than {MAX_RANGE_ITEMS}")
    return values


def _array_get_item(args, node, rng):
    array, index = args
    if not isinstance(array, list):
        _fail("States.ArrayGetItem", "the first argument must be an array")
    if not _is_int(index) or not 0 <= int(index) < len(array):
        _fail("States.ArrayGetItem", f"the index {json.dumps(index)} is out of bounds for an array of {len(array)}")
    return array[int(index)]


def _array_length(args, node, rng):
    if not isinstance(args[0], list):
        _fail("States.ArrayLength", "the argument must be an array")
    return len(args[0])


def _array_unique(args, node, rng):
    if not isinstance(args[0], list):
        _fail("States.ArrayUnique", "the argument must be an array")
    out = []
    for item in args[0]:
        if not any(paths.json_equal(item, seen) for seen in out):
            out.append(item)
    return out


def _bounded_string(value, name):
    if not isinstance(value, str):
        _fail(name, "the argument must be a string")
    if len(value) > MAX_STRING_LENGTH:
        _fail(name, f"the string has {len(value)} characters, more than {MAX_STRING_LENGTH}")
    return value


def _base64_encode(args, node, rng):
    return base64.b64encode(_bounded_string(args[0], "States.Base64Encode").encode("utf-8")).decode("ascii")


def _base64_decode(args, node, rng):
    data = _bounded_string(args[0], "States.Base64Decode")
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        _fail("States.Base64Decode", "the string is not valid Base64-encoded UTF-8 text")


HASH_ALGORITHMS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


def _hash(args, node, rng):
    data, algorithm = args
    if algorithm not in HASH_ALGORITHMS:
        _fail("States.Hash", f"the algorithm {json.dumps(algorithm)} is not one of {', '.join(HASH_ALGORITHMS)}")
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    _bounded_string(text, "States.Hash")
    return hashlib.new(HASH_ALGORITHMS[algorithm], text.encode("utf-8")).hexdigest()


def _deep_merge(left, right):
    out = dict(left)
    for key, value in right.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _json_merge(args, node, rng):
    left, right, deep = args
    if not isinstance(left, dict) or not isinstance(right, dict):
        _fail("States.JsonMerge", "the first two arguments must be JSON objects")
    if not isinstance(deep, bool):
        _fail("States.JsonMerge", "the third argument must be a boolean")
    return _deep_merge(left, right) if deep else {**left, **right}


def _math_random(args, node, rng):
    if not all(_is_int(a) for a in args):
        _fail("States.MathRandom", "the start, end and seed must be integers")
    start, end = int(args[0]), int(args[1])
    if end <= start:
        _fail("States.MathRandom", "the end must be greater than the start")
    source = random.Random(int(args[2])) if len(args) == 3 else rng
    return source.randrange(start, end)


def _math_add(args, node, rng):
    if not all(_is_int(a) for a in args):
        _fail("States.MathAdd", "both arguments must be integers")
    return int(args[0]) + int(args[1])


def _string_split(args, node, rng):
    text, delimiters = args
    if not isinstance(text, str) or not isinstance(delimiters, str):
        _fail("States.StringSplit", "both arguments must be strings")
    if not delimiters:
        return [text] if text else []
    # Every character of the second argument delimits, and empty pieces are dropped.
    return [piece for piece in re.split("[" + re.escape(delimiters) + "]", text) if piece]


def _uuid(args, node, rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


MANY = 99
# name -> (implementation, (fewest, most) arguments)
FUNCTIONS = {
    "States.Format": (_format, (1, MANY)),
    "States.StringToJson": (_string_to_json, (1, 1)),
    "States.JsonToString": (_json_to_string, (1, 1)),
    "States.Array": (_array, (0, MANY)),
    "States.ArrayPartition": (_array_partition, (2, 2)),
    "States.ArrayContains": (_array_contains, (2, 2)),
    "States.ArrayRange": (_array_range, (3, 3)),
    "States.ArrayGetItem": (_array_get_item, (2, 2)),
    "States.ArrayLength": (_array_length, (1, 1)),
    "States.ArrayUnique": (_array_unique, (1, 1)),
    "States.Base64Encode": (_base64_encode, (1, 1)),
    "States.Base64Decode": (_base64_decode, (1, 1)),
    "States.Hash": (_hash, (2, 2)),
    "States.JsonMerge": (_json_merge, (3, 3)),
    "States.MathRandom": (_math_random, (2, 3)),
    "States.MathAdd": (_math_add, (2, 2)),
    "States.StringSplit": (_string_split, (2, 2)),
    "States.UUID": (_uuid, (0, 0)),
}

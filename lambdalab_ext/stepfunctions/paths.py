"""JSONPath data flow of the Amazon States Language: Paths, Reference Paths and Payload Templates.

Paths follow the Jayway JSONPath dialect that Step Functions uses: a *definite* path (names and
indexes only) selects one value and fails when it is absent; an *indefinite* path (wildcards,
slices, unions, filters, deep scan) gathers its matches into an array, empty when nothing
matches. A Path starting with ``$$`` reads the Context Object, and ``$name`` a workflow variable.
A *Reference Path* names one node only (``ResultPath``, the ``Variable`` of a Choice rule...).

Sources: https://states-language.net/spec.html#path and
https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html

>>> select({"a": [1, 2, 3, 4]}, "$.a[0:2]")
[1, 2]
>>> apply_result_path({"a": 1}, "$.b.greeting", "Hi!")
{'a': 1, 'b': {'greeting': 'Hi!'}}
>>> resolve_payload_template({"first.$": "$.vals[0]", "weekday.$": "$$.DayOfWeek"},
...                          {"vals": [0, 10]}, context={"DayOfWeek": "TUESDAY"})
{'first': 0, 'weekday': 'TUESDAY'}
"""

import copy
import json
import re
from functools import lru_cache

from . import errors

_MISSING = object()


class PathSyntaxError(ValueError):
    """A string that is not a Path (or not a Reference Path) of the States Language."""


class PathNotFound(LookupError):
    """A definite Path that names nothing in the data it is applied to."""


# --------------------------------------------------------------------------------------- parsing

class Path:
    """A parsed JSONPath: where it starts (``input``, ``context`` or a ``variable``) and its steps."""

    __slots__ = ("text", "root", "variable", "steps", "definite")

    def __init__(self, text, root, variable, steps):
        self.text, self.root, self.variable, self.steps = text, root, variable, steps
        self.definite = all(step[0] in ("name", "index", "function") for step in steps)

    @property
    def is_reference(self):
        """Names one node only: names and indexes, no functions (what ResultPath accepts)."""
        return all(step[0] in ("name", "index") for step in self.steps)

    def __repr__(self):
        return f"Path({self.text!r})"


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FUNCTIONS = ("length", "size", "min", "max", "avg", "sum", "first", "last", "keys")


@lru_cache(maxsize=4096)
def parse_path(text):
    """Parse a Path; raises :class:`PathSyntaxError` with what is wrong.

    >>> parse_path("$.store.book[0]").definite, parse_path("$..author").definite
    (True, False)
    """
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError(f"The value for the field must be a valid JSONPath, not {text!r}")
    pos = 1
    root, variable = "input", None
    if text.startswith("$$"):
        root, pos = "context", 2
    else:
        match = _IDENT.match(text, 1)
        if match:
            root, variable, pos = "variable", match.group(0), match.end()
    steps = []
    n = len(text)
    while pos < n:
        ch = text[pos]
        if text.startswith("..", pos):
            pos += 2
            if pos < n and text[pos] == "[":
                steps.append(("deep", None))
                continue
            name, pos = _read_dotted_name(text, pos)
            steps.append(("deep", name))
        elif ch == ".":
            pos += 1
            if pos < n and text[pos] == "*":
                steps.append(("wildcard",))
                pos += 1
                continue
            name, pos = _read_dotted_name(text, pos)
            if text.startswith("()", pos) and name in _FUNCTIONS and pos + 2 == n:
                steps.append(("function", name))
                pos += 2
                continue
            steps.append(("name", name))
        elif ch == "[":
            step, pos = _read_bracket(text, pos)
            steps.append(step)
        else:
            raise PathSyntaxError(f"Invalid JSONPath {text!r}: unexpected {ch!r} at position {pos}")
    return Path(text, root, variable, tuple(steps))


def _read_dotted_name(text, pos):
    out = []
    n = len(text)
    while pos < n:
        ch = text[pos]
        if ch == "\\" and pos + 1 < n:
            out.append(text[pos + 1])
            pos += 2
            continue
        if ch in ".[":
            break
        if ch in " ]()'\"":
            if ch == "(" and "".join(out) in _FUNCTIONS:
                break
            raise PathSyntaxError(f"Invalid JSONPath {text!r}: unexpected {ch!r} at position {pos}")
        out.append(ch)
        pos += 1
    if not out:
        raise PathSyntaxError(f"Invalid JSONPath {text!r}: a field name is missing at position {pos}")
    return "".join(out), pos


def _read_quoted(text, pos):
    quote = text[pos]
    pos += 1
    out = []
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            continue
        if ch == quote:
            return "".join(out), pos + 1
        out.append(ch)
        pos += 1
    raise PathSyntaxError(f"Invalid JSONPath {text!r}: unterminated string")


def _read_bracket(text, pos):
    start = pos
    pos += 1
    if text.startswith("?(", pos):
        depth, i, quote = 0, pos + 1, None
        while i < len(text):
            ch = text[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        if i >= len(text) or not text.startswith(")]", i):
            raise PathSyntaxError(f"Invalid JSONPath {text!r}: unterminated filter at position {start}")
        expr = _FilterParser(text[pos + 2:i], text).parse()
        return ("filter", expr), i + 2
    if text.startswith("*]", pos):
        return ("wildcard",), pos + 2
    items = []
    while True:
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if pos >= len(text):
            raise PathSyntaxError(f"Invalid JSONPath {text!r}: unterminated '['")
        if text[pos] in "'\"":
            name, pos = _read_quoted(text, pos)
            items.append(("name", name))
        else:
            m = re.compile(r"(-?\d*)\s*(?::\s*(-?\d*)\s*(?::\s*(-?\d*))?)?").match(text, pos)
            token = m.group(0).strip()
            if not token:
                raise PathSyntaxError(f"Invalid JSONPath {text!r}: unexpected {text[pos]!r} at position {pos}")
            if ":" in token:
                def num(g):
                    return int(g) if g not in (None, "") else None
                items.append(("slice", num(m.group(1)), num(m.group(2)), num(m.group(3))))
            else:
                items.append(("index", int(token)))
            pos = m.end()
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == "]":
            pos += 1
            break
        raise PathSyntaxError(f"Invalid JSONPath {text!r}: expected ']' at position {pos}")
    if len(items) == 1:
        return items[0], pos
    if any(item[0] == "slice" for item in items):
        raise PathSyntaxError(f"Invalid JSONPath {text!r}: a slice cannot be part of a union")
    return ("union", tuple(items)), pos


def parse_reference_path(text):
    """Parse a Reference Path: one node only, so no ``@ , : ?`` operators, wildcards or deep scan.

    >>> parse_reference_path("$.a[*]")
    Traceback (most recent call last):
    ...
    lambdalab_ext.stepfunctions.paths.PathSyntaxError: The value '$.a[*]' is not a valid reference path: it must name a single node
    """
    path = parse_path(text)
    if not path.is_reference:
        raise PathSyntaxError(f"The value {text!r} is not a valid reference path: it must name a single node")
    return path


# ------------------------------------------------------------------------------- filter expressions

class _FilterParser:
    """``[?(...)]`` filters: comparisons of ``@``-relative paths and literals, with ``&& || !``."""

    _TOKEN = re.compile(r"""\s*(?:(?P<op>==|!=|<=|>=|=~|&&|\|\||[<>!()])|(?P<str>'(?:\\.|[^'])*'|"(?:\\.|[^"])*")"""
                        r"""|(?P<regex>/(?:\\.|[^/])*/i?)|(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"""
                        r"""|(?P<path>[@$](?:\.\.?[^\s=!<>&|()]+|\[[^\]]*\])*)|(?P<word>true|false|null))""")

    def __init__(self, source, whole):
        self.tokens = []
        pos = 0
        source = source.strip()
        while pos < len(source):
            m = self._TOKEN.match(source, pos)
            if not m or m.end() == pos:
                raise PathSyntaxError(f"Invalid JSONPath {whole!r}: cannot read the filter at {source[pos:]!r}")
            kind = m.lastgroup
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
            while pos < len(source) and source[pos] == " ":
                pos += 1
        self.i = 0
        self.whole = whole

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def parse(self):
        expr = self.or_expr()
        if self.i != len(self.tokens):
            raise PathSyntaxError(f"Invalid JSONPath {self.whole!r}: unexpected {self.peek()[1]!r} in the filter")
        return expr

    def or_expr(self):
        left = self.and_expr()
        while self.peek() == ("op", "||"):
            self.take()
            left = ("or", left, self.and_expr())
        return left

    def and_expr(self):
        left = self.unary()
        while self.peek() == ("op", "&&"):
            self.take()
            left = ("and", left, self.unary())
        return left

    def unary(self):
        if self.peek() == ("op", "!"):
            self.take()
            return ("not", self.unary())
        if self.peek() == ("op", "("):
            self.take()
            inner = self.or_expr()
            if self.take() != ("op", ")"):
                raise PathSyntaxError(f"Invalid JSONPath {self.whole!r}: missing ')' in the filter")
            return inner
        left = self.operand()
        kind, value = self.peek()
        if kind == "op" and value in ("==", "!=", "<", "<=", ">", ">=", "=~"):
            self.take()
            return ("cmp", value, left, self.operand())
        return ("exists", left)

    def operand(self):
        kind, value = self.take()
        if kind == "str":
            return ("lit", re.sub(r"\\(.)", r"\1", value[1:-1]))
        if kind == "num":
            return ("lit", json.loads(value))
        if kind == "word":
            return ("lit", {"true": True, "false": False, "null": None}[value])
        if kind == "regex":
            flags = re.IGNORECASE if value.endswith("i") else 0
            return ("regex", re.compile(value[1:value.rindex("/")], flags))
        if kind == "path":
            relative = value.startswith("@")
            return ("path", relative, parse_path("$" + value[1:]))
        raise PathSyntaxError(f"Invalid JSONPath {self.whole!r}: unexpected {value!r} in the filter")


def _filter_value(operand, node, root):
    kind = operand[0]
    if kind == "lit":
        return operand[1]
    if kind == "regex":
        return operand[1]
    _, relative, path = operand
    try:
        return _evaluate(path, node if relative else root, root)
    except PathNotFound:
        return _MISSING


def _filter_test(expr, node, root):
    kind = expr[0]
    if kind == "or":
        return _filter_test(expr[1], node, root) or _filter_test(expr[2], node, root)
    if kind == "and":
        return _filter_test(expr[1], node, root) and _filter_test(expr[2], node, root)
    if kind == "not":
        return not _filter_test(expr[1], node, root)
    if kind == "exists":
        return _filter_value(expr[1], node, root) is not _MISSING
    _, op, left_op, right_op = expr
    left, right = _filter_value(left_op, node, root), _filter_value(right_op, node, root)
    if left is _MISSING or right is _MISSING:
        return op == "!=" and not (left is _MISSING and right is _MISSING)
    if op == "=~":
        return isinstance(left, str) and isinstance(right, re.Pattern) and right.fullmatch(left) is not None
    if op == "==":
        return json_equal(left, right)
    if op == "!=":
        return not json_equal(left, right)
    if _is_number(left) and _is_number(right) or isinstance(left, str) and isinstance(right, str):
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    return False


# ------------------------------------------------------------------------------------ evaluation

def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_equal(a, b):
    """JSON equality: ``1 == 1.0`` but ``true != 1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _descend(value):
    yield value
    if isinstance(value, dict):
        for child in value.values():
            yield from _descend(child)
    elif isinstance(value, list):
        for child in value:
            yield from _descend(child)


def _apply_function(name, value):
    if name in ("length", "size"):
        if isinstance(value, (list, str, dict)):
            return len(value)
    elif name == "keys" and isinstance(value, dict):
        return list(value.keys())
    elif name in ("first", "last") and isinstance(value, list) and value:
        return value[0] if name == "first" else value[-1]
    elif isinstance(value, list) and value and all(_is_number(v) for v in value):
        if name == "min":
            return min(value)
        if name == "max":
            return max(value)
        if name == "sum":
            return sum(value)
        if name == "avg":
            return sum(value) / len(value)
    raise PathNotFound(f"the function {name}() cannot be applied to {json.dumps(value)[:100]}")


def _evaluate(path, data, root):
    """Apply the steps of ``path`` to ``data``: the value for a definite path, else a list."""
    if path.definite:
        value = data
        for step in path.steps:
            kind = step[0]
            if kind == "name":
                if not isinstance(value, dict) or step[1] not in value:
                    raise PathNotFound(step[1])
                value = value[step[1]]
            elif kind == "index":
                if not isinstance(value, list) or not -len(value) <= step[1] < len(value):
                    raise PathNotFound(str(step[1]))
                value = value[step[1]]
            else:
                value = _apply_function(step[1], value)
        return value
    nodes = [data]
    function = None
    for step in path.steps:
        kind = step[0]
        out = []
        if kind == "function":
            function = step[1]
            continue
        for node in nodes:
            if kind == "name":
                if isinstance(node, dict) and step[1] in node:
                    out.append(node[step[1]])
            elif kind == "index":
                if isinstance(node, list) and -len(node) <= step[1] < len(node):
                    out.append(node[step[1]])
            elif kind == "slice":
                if isinstance(node, list):
                    out.extend(node[slice(step[1], step[2], step[3])])
            elif kind == "wildcard":
                if isinstance(node, dict):
                    out.extend(node.values())
                elif isinstance(node, list):
                    out.extend(node)
            elif kind == "union":
                for item in step[1]:
                    if item[0] == "name" and isinstance(node, dict) and item[1] in node:
                        out.append(node[item[1]])
                    elif item[0] == "index" and isinstance(node, list) and -len(node) <= item[1] < len(node):
                        out.append(node[item[1]])
            elif kind == "deep":
                for sub in _descend(node):
                    if step[1] is None:
                        out.append(sub)
                    elif isinstance(sub, dict) and step[1] in sub:
                        out.append(sub[step[1]])
            elif kind == "filter":
                children = node if isinstance(node, list) else list(node.values()) if isinstance(node, dict) else []
                out.extend(child for child in children if _filter_test(step[1], child, root))
        nodes = out
    return _apply_function(function, nodes) if function else nodes


def select(data, path_text, *, context=None, variables=None):
    """Apply a Path to ``data`` (``$$`` paths to ``context``, ``$name`` to ``variables``).

    Raises :class:`PathNotFound` when a definite path names nothing.
    """
    path = parse_path(path_text) if isinstance(path_text, str) else path_text
    if path.root == "context":
        base = context if context is not None else {}
    elif path.root == "variable":
        if variables is None:
            raise PathNotFound(f"${path.variable}")
        try:
            base = variables(path.variable) if callable(variables) else variables[path.variable]
        except KeyError:
            raise PathNotFound(f"${path.variable}") from None
    else:
        base = data
    return _evaluate(path, base, base)


def _dumps(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def apply_input_path(raw_input, input_path, *, context=None, variables=None, field="InputPath"):
    """``InputPath``: ``None`` (JSON null) discards the input for ``{}``; absent means ``$``."""
    if input_path is None:
        return {}
    if input_path == "$":
        return raw_input
    try:
        return select(raw_input, input_path, context=context, variables=variables)
    except PathNotFound:
        raise errors.StatesError(
            errors.RUNTIME,
            f"Invalid path '{input_path}' : No results for path: {input_path} "
            f"(the {field} could not be applied to the input '{_dumps(raw_input)}')") from None


def apply_output_path(output, output_path, *, context=None, variables=None):
    """``OutputPath``: like InputPath, applied to the state's output after ResultPath."""
    return apply_input_path(output, output_path, context=context, variables=variables, field="OutputPath")


def apply_result_path(raw_input, result_path, result):
    """``ResultPath``: put ``result`` into (a copy of) the raw input at a Reference Path.

    ``None`` discards the result and keeps the input; ``$`` replaces the input with the result;
    intervening objects are created as needed. If the path cannot apply (the input is a string,
    or an intervening field is not an object) the error is ``States.ResultPathMatchFailure``.
    """
    if result_path is None:
        return raw_input
    path = parse_reference_path(result_path)
    if path.root != "input":
        raise errors.StatesError(errors.RESULT_PATH_MATCH_FAILURE,
                                 f"ResultPath {result_path!r} must apply to the state input, not {path.root}")
    if not path.steps:
        return result
    output = copy.deepcopy(raw_input)
    node = output
    for i, (kind, key) in enumerate(path.steps):
        last = i == len(path.steps) - 1
        if kind == "name":
            if not isinstance(node, dict):
                break
            if last:
                node[key] = result
                return output
            if key not in node:
                node[key] = {}
            elif not isinstance(node[key], (dict, list)):
                break
            node = node[key]
        else:
            if not isinstance(node, list) or not -len(node) <= key < len(node):
                break
            if last:
                node[key] = result
                return output
            node = node[key]
    raise errors.StatesError(
        errors.RESULT_PATH_MATCH_FAILURE,
        f"Unable to apply ResultPath '{result_path}' to input '{_dumps(raw_input)}'")


def resolve_payload_template(template, data, *, context=None, variables=None, intrinsics=None):
    """Process a Payload Template (``Parameters``, ``ResultSelector``, ``ItemSelector``...).

    Fields named ``key.$`` are renamed ``key`` and their value replaced: a ``$`` Path is applied to
    ``data``, a ``$$`` Path to ``context``, a ``$name`` Path to a variable, anything else is an
    intrinsic function (``intrinsics`` lets the interpreter supply a seeded random source).
    An absent path fails with ``States.Runtime``; a failing intrinsic with ``States.IntrinsicFailure``.
    """
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if isinstance(key, str) and key.endswith(".$"):
                out[key[:-2]] = _resolve_dynamic(key, value, data, context, variables, intrinsics)
            else:
                out[key] = resolve_payload_template(value, data, context=context, variables=variables,
                                                    intrinsics=intrinsics)
        return out
    if isinstance(template, list):
        return [resolve_payload_template(v, data, context=context, variables=variables, intrinsics=intrinsics)
                for v in template]
    return template


def _resolve_dynamic(key, expression, data, context, variables, intrinsics):
    if not isinstance(expression, str):
        raise errors.StatesError(errors.RUNTIME, f"The value for the field '{key}' must be a STRING that "
                                                 f"contains a JSONPath or an intrinsic function")
    if expression.startswith("$"):
        try:
            return select(data, expression, context=context, variables=variables)
        except PathNotFound:
            where = "the context object" if expression.startswith("$$") else "the input"
            shown = _dumps(context if expression.startswith("$$") else data)
            raise errors.StatesError(
                errors.RUNTIME,
                f"The JSONPath '{expression}' specified for the field '{key}' could not be found in "
                f"{where} '{shown}'") from None
        except PathSyntaxError as exc:
            raise errors.StatesError(errors.RUNTIME, str(exc)) from None
    from . import intrinsics as intrinsic_functions
    return intrinsic_functions.evaluate(expression, data, context=context, variables=variables,
                                        functions=intrinsics)


def payload_size(value):
    """Bytes of the UTF-8 JSON text of ``value``: what the 256 KiB payload quota measures."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))

"""The JSONata query language of Step Functions: ``{% ... %}`` expressions, ``$states`` and
Step Functions' own JSONata functions, evaluated with the jsonata-python library.

In a state whose ``QueryLanguage`` is ``JSONata``, a string field written ``{% expression %}`` is
evaluated; other strings are literals. Expressions see the reserved variable ``$states``
(``input``, ``result``, ``errorOutput``, ``context``) and the workflow variables by name.
Step Functions adds ``$partition``, ``$range``, ``$hash``, ``$random``, ``$uuid`` and ``$parse``
and does not support ``$eval``. A failing expression, or one that returns nothing where a value
is needed, is the error ``States.QueryEvaluationError``. Sources:
https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html and
https://states-language.net/spec.html#jsonata-concepts

>>> evaluate_template({"total": "{% $sum($states.input.prices) %}", "note": "literal"},
...                   {"input": {"prices": [1, 2.5]}})
{'total': 3.5, 'note': 'literal'}
>>> evaluate_expression("$partition([1,2,3,4,5], 2)", {})
[[1, 2], [3, 4], [5]]
"""

import json
import random
import threading
import uuid

import jsonata
from jsonata.utils import Utils

from . import errors, intrinsics

UNDEFINED = object()
_lock = threading.Lock()
_compiled = {}


def is_expression(value):
    """Whether ``value`` is a JSONata expression field: a string ``{% ... %}``."""
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}") and len(value) >= 4


def expression_body(value):
    return value[2:-2].strip()


class JSONataSyntaxError(ValueError):
    """An expression that does not parse as JSONata."""


def compile_expression(text):
    """Parse (and cache) a JSONata expression; raises :class:`JSONataSyntaxError`."""
    with _lock:
        expr = _compiled.get(text)
        if expr is None:
            try:
                expr = jsonata.Jsonata(text)
            except Exception as exc:   # the library raises JException and, for some input, plain errors
                raise JSONataSyntaxError(f"The JSONata expression '{text}' is not valid: {exc}") from None
            expr.set_output_convert_nulls(False)
            if len(_compiled) > 4096:
                _compiled.clear()
            _compiled[text] = expr
        return expr


def _to_jsonata(value):
    # jsonata-python reads a top-level Python None in a binding as "undefined"; JSON null is a marker.
    return Utils.NULL_VALUE if value is None else value


def _from_jsonata(value):
    if value is Utils.NULL_VALUE:
        return None
    if isinstance(value, dict):
        return {k: _from_jsonata(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_from_jsonata(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    if callable(value) or hasattr(value, "signature") or type(value).__name__ in ("JLambda", "JFunction"):
        raise errors.StatesError(errors.QUERY_EVALUATION_ERROR, "A JSONata expression returned a function, not JSON")
    return value


def _query_error(text, detail):
    return errors.StatesError(errors.QUERY_EVALUATION_ERROR,
                              f"An error occurred while evaluating the JSONata expression '{text}': {detail}")


def _step_functions_functions(rng):
    """Step Functions' own JSONata functions (and ``$eval``, which it does not support)."""

    def fail(name, message):
        raise errors.StatesError(errors.QUERY_EVALUATION_ERROR, f"${name}: {message}")

    def call_intrinsic(name, impl, args):
        try:
            return impl(list(args), None, rng)
        except errors.StatesError as exc:
            fail(name, exc.cause)

    def partition(array, size=None):
        return call_intrinsic("partition", intrinsics.FUNCTIONS["States.ArrayPartition"][0], (_from_jsonata(array), size))

    def range_(start, end, step=None):
        return call_intrinsic("range", intrinsics.FUNCTIONS["States.ArrayRange"][0], (start, end, step))

    def hash_(value, algorithm=None):
        return call_intrinsic("hash", intrinsics.FUNCTIONS["States.Hash"][0], (_from_jsonata(value), algorithm))

    def random_(seed=None):
        return (random.Random(seed) if seed is not None else rng).random()

    def uuid_():
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def parse(text):
        if not isinstance(text, str):
            fail("parse", "the argument must be a string of JSON")
        try:
            return _to_jsonata(json.loads(text))
        except json.JSONDecodeError as exc:
            fail("parse", f"the string is not JSON ({exc.msg})")

    def eval_(*_):
        fail("eval", "the $eval function is not supported by Step Functions")

    lam = jsonata.Jsonata.JLambda
    return {"partition": lam(partition), "range": lam(range_), "hash": lam(hash_), "random": lam(random_),
            "uuid": lam(uuid_), "parse": lam(parse), "eval": lam(eval_)}


_default_rng = random.Random()


def evaluate_expression(text, states, variables=None, *, rng=None):
    """Evaluate the JSONata ``text`` (without ``{% %}``); returns :data:`UNDEFINED` for nothing."""
    try:
        expr = compile_expression(text)
    except JSONataSyntaxError as exc:
        raise errors.StatesError(errors.QUERY_EVALUATION_ERROR, str(exc)) from None
    bindings = {name: _to_jsonata(value) for name, value in (variables or {}).items()}
    bindings.update(_step_functions_functions(rng or _default_rng))
    bindings["states"] = states
    try:
        with _lock:
            result = expr.evaluate(None, bindings)
    except errors.StatesError:
        raise
    except Exception as exc:  # JException for JSONata errors; Python ones (division by zero...) too
        raise _query_error(text, exc) from None
    return UNDEFINED if result is None else _from_jsonata(result)


def evaluate_template(template, states, variables=None, *, rng=None, field="Arguments"):
    """Evaluate every ``{% %}`` string inside ``template`` (objects and arrays walked deeply).

    An expression that returns nothing fails with ``States.QueryEvaluationError``.
    """
    if isinstance(template, dict):
        return {k: evaluate_template(v, states, variables, rng=rng, field=f"{field}/{k}") for k, v in template.items()}
    if isinstance(template, list):
        return [evaluate_template(v, states, variables, rng=rng, field=f"{field}[{i}]") for i, v in enumerate(template)]
    if is_expression(template):
        text = expression_body(template)
        value = evaluate_expression(text, states, variables, rng=rng)
        if value is UNDEFINED:
            raise errors.StatesError(
                errors.QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{text}' specified for the field '{field}' returned nothing (undefined).")
        return value
    return template


def check_template(template):
    """Every JSONata syntax error in the expressions of ``template``, as (field path, message)."""
    problems = []

    def walk(value, where):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}/{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{where}/{i}")
        elif is_expression(value):
            try:
                compile_expression(expression_body(value))
            except JSONataSyntaxError as exc:
                problems.append((where, str(exc)))
    walk(template, "")
    return problems

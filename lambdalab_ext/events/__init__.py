"""Event generators: the events AWS services send to a function, with their exact shapes.

Everything ``sam local generate-event`` offers for the services the lab serves, and what it lacks
(Function URLs, the ``version`` of scheduled events, URL-encoded S3 keys, real digests): each
generator is a pure function of its parameters. With ``seed=`` the same call returns the same event
every time (ids, tokens, times); without one, ids are fresh and the time is now (SAM CLI #9279
reused one request id). ``time=`` (a datetime or epoch seconds) sets the moment either way.
Every generator's docstring names the AWS documentation page whose example it follows.

>>> names()[:4]
['alb', 'apigateway:http', 'apigateway:rest', 'cloudwatch:logs']
>>> event = template("s3:put", bucket="photos", key="cats/red flower.jpg", seed=7)
>>> event["Records"][0]["s3"]["object"]["key"]
'cats/red+flower.jpg'
>>> template("sqs", body="hello", seed=7) == template("sqs", body="hello", seed=7)
True
"""

import functools
import inspect

from ._common import ACCOUNT_ID, REGION
from .rules import eventbridge, schedule
from .http import alb, apigateway_http, apigateway_rest, function_url
from .logs import cloudwatch_logs, decode_cloudwatch_logs, encode_cloudwatch_logs
from .messaging import md5_of_message_attributes, sns, sns_message_attribute, sqs, sqs_message_attribute
from .s3 import encode_key, s3_delete, s3_event, s3_put
from .streams import attribute_value, dynamodb, item_size, kinesis, marshal


def empty(seed=None, time=None):
    """An empty event: ``{}``.

    ``seed`` and ``time`` are accepted, and ignored, so every template takes them.
    """
    return {}


def _named(fn, name, doc, **fixed):
    bound = functools.partial(fn, **fixed)
    bound.__name__ = name
    bound.__doc__ = doc
    return bound


TEMPLATES = {
    "empty": empty,
    "s3:put": s3_put,
    "s3:delete": s3_delete,
    "sqs": sqs,
    "sns": sns,
    "dynamodb": dynamodb,
    "dynamodb:insert": _named(dynamodb, "dynamodb_insert",
                              "DynamoDB Streams INSERT records (``dynamodb`` with event_name INSERT).",
                              event_name="INSERT"),
    "dynamodb:modify": _named(dynamodb, "dynamodb_modify",
                              "DynamoDB Streams MODIFY records (``dynamodb`` with event_name MODIFY).",
                              event_name="MODIFY"),
    "dynamodb:remove": _named(dynamodb, "dynamodb_remove",
                              "DynamoDB Streams REMOVE records (``dynamodb`` with event_name REMOVE).",
                              event_name="REMOVE"),
    "kinesis": kinesis,
    "eventbridge": eventbridge,
    "schedule": schedule,
    "cloudwatch:logs": cloudwatch_logs,
    "apigateway:rest": apigateway_rest,
    "apigateway:http": apigateway_http,
    "function-url": function_url,
    "alb": alb,
}

# Other spellings people reach for, including ``sam local generate-event``'s service and event names.
ALIASES = {
    "api": "apigateway:rest", "apigateway": "apigateway:rest", "apigateway:proxy": "apigateway:rest",
    "apigateway:v1": "apigateway:rest", "apigateway:aws-proxy": "apigateway:rest",
    "apigateway:v2": "apigateway:http", "http-api": "apigateway:http", "apigateway:http-api-proxy": "apigateway:http",
    "s3": "s3:put", "sqs:receive-message": "sqs", "sns:notification": "sns", "dynamodb:update": "dynamodb",
    "kinesis:get-records": "kinesis", "events": "eventbridge", "cloudwatch:scheduled-event": "schedule",
    "scheduled": "schedule", "logs": "cloudwatch:logs", "alb:request": "alb", "lambda-url": "function-url",
    "url": "function-url",
}


def names():
    """The template names, sorted (what ``--event NAME`` accepts besides JSON)."""
    return sorted(TEMPLATES)


def summary(name):
    """The first line of a template's docstring: what the event is."""
    doc = inspect.getdoc(TEMPLATES[ALIASES.get(name, name)]) or ""
    return doc.splitlines()[0].replace("``", "") if doc else ""


def listing():
    """One line per template, name and what it is: for ``%lambda help``."""
    width = max(len(n) for n in TEMPLATES)
    return "\n".join(f"  {n:<{width}}  {summary(n)}" for n in names())


def parameters(name):
    """The keyword parameters a template accepts."""
    fn = TEMPLATES[ALIASES.get(name, name)]
    return [p for p in inspect.signature(fn).parameters if not (isinstance(fn, functools.partial)
                                                                 and p in fn.keywords)]


def template(name, **params):
    """A new event of the named shape; keyword arguments fill its fields (bucket, key, body, seed...).

    Raises ``KeyError`` for an unknown name and ``TypeError`` naming the accepted parameters for an
    unknown parameter.
    """
    key = ALIASES.get(name, name)
    if key not in TEMPLATES:
        raise KeyError(f"No event template {name!r}. Templates: {', '.join(names())}")
    accepted = parameters(key)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise TypeError(f"event template {key!r} has no parameter {', '.join(unknown)}; "
                        f"it takes: {', '.join(accepted) or 'nothing'}")
    return TEMPLATES[key](**params)


__all__ = [
    "ACCOUNT_ID", "REGION", "TEMPLATES", "ALIASES", "names", "summary", "listing", "parameters", "template",
    "empty", "s3_event", "s3_put", "s3_delete", "encode_key", "sqs", "sqs_message_attribute",
    "md5_of_message_attributes", "sns", "sns_message_attribute", "dynamodb", "attribute_value", "marshal",
    "item_size", "kinesis", "eventbridge", "schedule", "cloudwatch_logs", "encode_cloudwatch_logs",
    "decode_cloudwatch_logs", "apigateway_rest", "apigateway_http", "function_url", "alb",
]

"""CloudWatch Logs subscription events: log events gzipped, then base64-encoded, under ``awslogs.data``."""

import base64
import gzip
import json

from ._common import ACCOUNT_ID, Draw, epoch_millis

_DEFAULT_MESSAGES = (
    "START RequestId: 6234bffe-149a-b642-81ff-2e8e376d8aff Version: $LATEST\n",
    "REPORT RequestId: 6234bffe-149a-b642-81ff-2e8e376d8aff\tDuration: 46.84 ms\tBilled Duration: 47 ms\t"
    "Memory Size: 192 MB\tMax Memory Used: 72 MB\t\n",
)


def encode_cloudwatch_logs(payload):
    """``awslogs.data`` for a decoded payload: base64 of the gzip of its JSON.

    The gzip header's time is 0, so the same payload always encodes to the same text.
    """
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode()


def decode_cloudwatch_logs(event):
    """The payload inside a CloudWatch Logs event: what a handler does first.

    Accepts the whole event (``{"awslogs": {"data": ...}}``), its ``awslogs`` object, or the data
    text; returns the decoded JSON (``messageType``, ``owner``, ``logGroup``, ``logStream``,
    ``subscriptionFilters``, ``logEvents``).

    >>> decode_cloudwatch_logs(cloudwatch_logs(messages=["hello"], seed=1))["logEvents"][0]["message"]
    'hello'
    """
    if isinstance(event, dict):
        event = event.get("awslogs", event)["data"]
    return json.loads(gzip.decompress(base64.b64decode(event)))


def cloudwatch_logs(messages=_DEFAULT_MESSAGES, log_group="/aws/lambda/my-function", log_stream=None,
                    filter_name="LambdaStream_cloudwatchlogs", owner=ACCOUNT_ID, seed=None, time=None):
    """CloudWatch Logs subscription delivery: log events, gzipped and base64-encoded, in ``awslogs.data``.

    Shape of "Using Lambda with CloudWatch Logs" (AWS Lambda Developer Guide, "Example CloudWatch
    Logs message event" and its decoded data): ``messageType`` DATA_MESSAGE, ``owner``, ``logGroup``,
    ``logStream``, ``subscriptionFilters`` and ``logEvents`` of ``{id, timestamp, message}`` with
    56-digit ids and epoch-millisecond timestamps. ``messages`` are texts, or dicts with
    ``message`` and optionally ``timestamp``. ``decode_cloudwatch_logs`` reads it back.
    """
    draw = Draw(seed, time, salt="cloudwatch-logs")
    stream = log_stream or f"{draw.now:%Y/%m/%d}/[$LATEST]{draw.hex(32)}"
    event_id = int(draw.digits(56, first="345678"))
    log_events = []
    for index, item in enumerate(messages):
        entry = item if isinstance(item, dict) else {"message": item}
        event_id += 1 + draw.rng.randrange(10 ** 12)
        log_events.append({
            "id": str(event_id),
            "timestamp": int(entry.get("timestamp", epoch_millis(draw.later(index * 7)))),
            "message": str(entry["message"]),
        })
    payload = {"messageType": "DATA_MESSAGE", "owner": owner, "logGroup": log_group, "logStream": stream,
               "subscriptionFilters": [filter_name], "logEvents": log_events}
    return {"awslogs": {"data": encode_cloudwatch_logs(payload)}}

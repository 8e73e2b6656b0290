"""Stream records: DynamoDB Streams (typed attribute values) and Kinesis Data Streams (base64 data)."""

import base64
import datetime
import decimal

from ._common import ACCOUNT_ID, REGION, Draw, arn, epoch_seconds, to_bytes

EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
STREAM_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")

# The item of the AWS Lambda Developer Guide's example ("Using AWS Lambda with Amazon DynamoDB"):
# what each default record shows, before and after.
_DEFAULT_IMAGES = {
    "INSERT": (None, {"Message": "New item!"}),
    "MODIFY": ({"Message": "New item!"}, {"Message": "This item has changed"}),
    "REMOVE": ({"Message": "This item has changed"}, None),
}


def attribute_value(value):
    """A Python value as a DynamoDB typed attribute value: ``"a"`` is ``{"S": "a"}``, ``1`` ``{"N": "1"}``.

    Numbers travel as strings (``N``), as DynamoDB sends them; ``bytes`` become ``B`` (base64), ``None``
    ``{"NULL": true}``, ``bool`` ``BOOL``, lists ``L``, dicts ``M``, and sets of strings, numbers or
    bytes ``SS``/``NS``/``BS`` ("Supported data types and naming rules in Amazon DynamoDB").

    >>> attribute_value({"id": 101, "tags": {"b", "a"}, "ok": True})
    {'M': {'id': {'N': '101'}, 'tags': {'SS': ['a', 'b']}, 'ok': {'BOOL': True}}}
    """
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, decimal.Decimal)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray)):
        return {"B": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (set, frozenset)):
        if not value:
            raise ValueError("DynamoDB has no empty sets: leave the attribute out instead")
        if all(isinstance(v, str) for v in value):
            return {"SS": sorted(value)}
        if all(isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool) for v in value):
            return {"NS": [str(v) for v in sorted(value)]}
        if all(isinstance(v, (bytes, bytearray)) for v in value):
            return {"BS": [base64.b64encode(bytes(v)).decode() for v in sorted(value)]}
        raise TypeError(f"set {value!r}: a DynamoDB set holds only strings, only numbers or only bytes")
    if isinstance(value, (list, tuple)):
        return {"L": [attribute_value(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): attribute_value(v) for k, v in value.items()}}
    raise TypeError(f"{value!r} ({type(value).__name__}) has no DynamoDB type")


def marshal(item):
    """A whole item (``{name: python value}``) in DynamoDB's typed form."""
    return {str(name): attribute_value(value) for name, value in item.items()}


def _number_size(text):
    digits = text.lstrip("+-").lower().split("e")[0].replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def _value_size(typed):
    (kind, value), = typed.items()
    if kind == "S":
        return len(value.encode())
    if kind == "N":
        return _number_size(value)
    if kind == "B":
        return len(base64.b64decode(value))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in value)
    if kind == "NS":
        return sum(_number_size(v) for v in value)
    if kind == "BS":
        return sum(len(base64.b64decode(v)) for v in value)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in value)
    return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in value.items())    # M


def item_size(typed_item):
    """Approximate size in bytes of a typed item, by DynamoDB's rules ("Item sizes and formats")."""
    return sum(len(name.encode()) + _value_size(value) for name, value in typed_item.items())


def dynamodb(event_name=None, count=1, table="my-table", keys=None, new_image=None, old_image=None,
             stream_view_type="NEW_AND_OLD_IMAGES", stream_label=None, ttl=False, region=REGION,
             account=ACCOUNT_ID, seed=None, time=None):
    """DynamoDB Streams records (INSERT, MODIFY, REMOVE) with typed attribute values.

    Shape of "Using AWS Lambda with Amazon DynamoDB" (AWS Lambda Developer Guide, example stream
    record event) with the ``ApproximateCreationDateTime`` (epoch seconds) of the DynamoDB Developer
    Guide's "Tutorial #1: Using filters to process all events with Amazon DynamoDB and AWS Lambda
    using the AWS CLI". ``event_name`` is ``INSERT``, ``MODIFY``, ``REMOVE`` or a list of them (default:
    one of each, as ``sam local generate-event dynamodb update``), each repeated ``count`` times.
    ``keys``, ``new_image`` and ``old_image`` are plain Python values, typed on the way
    (``attribute_value``); the key attributes are part of every image. ``stream_view_type`` decides
    which images a record carries: ``KEYS_ONLY`` none, ``NEW_IMAGE`` NewImage, ``OLD_IMAGE``
    OldImage, ``NEW_AND_OLD_IMAGES`` both (an INSERT has no old image, a REMOVE no new one).
    ``SizeBytes`` follows DynamoDB's item-size rules. ``ttl=True`` marks REMOVE records as deleted by
    Time to Live (``userIdentity`` of the service).
    """
    names = EVENT_NAMES if event_name is None else ([event_name] if isinstance(event_name, str) else list(event_name))
    names = [n.upper() for n in names for _ in range(int(count))]
    for name in names:
        if name not in EVENT_NAMES:
            raise ValueError(f"event_name {name!r}: expected INSERT, MODIFY or REMOVE")
    if stream_view_type not in STREAM_VIEW_TYPES:
        raise ValueError(f"stream_view_type {stream_view_type!r}: expected one of {', '.join(STREAM_VIEW_TYPES)}")
    draw = Draw(seed, time, salt="dynamodb")
    key_values = {"Id": 101} if keys is None else dict(keys)
    label = stream_label or (draw.now - datetime.timedelta(days=1 + draw.rng.randrange(30),
                                                           seconds=draw.rng.randrange(86400))
                             ).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    source_arn = arn("dynamodb", region, account, f"table/{table}/stream/{label}")
    wants_new = stream_view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
    wants_old = stream_view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
    sequence = int(draw.digits(6)) * 10 ** 20 + draw.rng.randrange(10 ** 17)
    records = []
    for index, name in enumerate(names):
        default_old, default_new = _DEFAULT_IMAGES[name]
        old = old_image if old_image is not None else default_old
        new = new_image if new_image is not None else default_new
        stream = {"ApproximateCreationDateTime": int(draw.later(index * 1000).timestamp()),
                  "Keys": marshal(key_values)}
        if wants_new and name != "REMOVE":
            stream["NewImage"] = marshal({**(new or {}), **key_values})
        if wants_old and name != "INSERT":
            stream["OldImage"] = marshal({**(old or {}), **key_values})
        sequence += 100 + draw.rng.randrange(100000)
        stream["SequenceNumber"] = str(sequence)
        stream["SizeBytes"] = sum(item_size(stream[part]) for part in ("Keys", "NewImage", "OldImage")
                                  if part in stream)
        stream["StreamViewType"] = stream_view_type
        record = {
            "eventID": draw.hex(32),
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": region,
            "dynamodb": stream,
            "eventSourceARN": source_arn,
        }
        if ttl and name == "REMOVE":
            record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        records.append(record)
    return {"Records": records}


def kinesis(data="Hello, this is a test.", count=1, records=None, partition_key="1", stream="lambda-stream",
            shard_id="shardId-000000000000", role="lambda-role", region=REGION, account=ACCOUNT_ID,
            seed=None, time=None):
    """A Kinesis Data Streams batch from one shard, data base64-encoded.

    Shape of "Using AWS Lambda with Amazon Kinesis" (AWS Lambda Developer Guide, "Example Kinesis
    record event"). ``data`` (bytes, text, or anything JSON) is base64-encoded as Kinesis delivers
    it; ``records`` gives one record per item instead of ``count`` copies. Sequence numbers are
    56-digit strings increasing along the shard, ``eventID`` is ``<shard id>:<sequence number>``, and
    ``approximateArrivalTimestamp`` is float epoch seconds. ``invokeIdentityArn`` is the function's
    execution role.
    """
    payloads = [to_bytes(r) for r in records] if records is not None else [to_bytes(data)] * int(count)
    draw = Draw(seed, time, salt="kinesis")
    sequence = int("4959" + draw.digits(30, first="0123456789") + "0" * 22)
    role_arn = f"arn:aws:iam::{account}:role/{role}"
    source_arn = arn("kinesis", region, account, f"stream/{stream}")
    out = []
    for index, payload in enumerate(payloads):
        sequence += (1 + draw.rng.randrange(10 ** 6)) * 10 ** 15
        number = str(sequence)
        out.append({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": str(partition_key),
                "sequenceNumber": number,
                "data": base64.b64encode(payload).decode(),
                "approximateArrivalTimestamp": epoch_seconds(draw.later(index * 53)),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{number}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": role_arn,
            "awsRegion": region,
            "eventSourceARN": source_arn,
        })
    return {"Records": out}

"""Amazon SQS messages and Amazon SNS notifications, with their message attributes and digests."""

import base64
import hashlib
import json
from json.encoder import encode_basestring_ascii as _quote   # json.dumps's own string encoder
import struct

from ._common import ACCOUNT_ID, REGION, Draw, arn, as_datetime, epoch_millis, iso_millis, to_text

# "Each message can have up to 10 attributes" (Amazon SQS Developer Guide, "Amazon SQS message
# attributes"); SendMessage refuses more, so an event never carries more.
MAX_SQS_MESSAGE_ATTRIBUTES = 10


def _binary(value):
    """Raw bytes of a binary attribute value: bytes as they are, text as the base64 events carry."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return base64.b64decode(value)


def sqs_message_attribute(value):
    """One SQS message attribute as a Lambda event carries it (lower-case keys).

    A ``str`` is a ``String``, an ``int`` or ``float`` a ``Number`` (sent as text, as SQS does),
    ``bytes`` a ``Binary`` (base64 in the event). A dict with ``dataType`` (or the API's ``DataType``)
    and ``stringValue``/``binaryValue`` passes through, so custom types such as ``Number.float`` work.
    """
    if isinstance(value, dict):
        data_type = value.get("dataType", value.get("DataType"))
        string_value = value.get("stringValue", value.get("StringValue"))
        binary_value = value.get("binaryValue", value.get("BinaryValue"))
        if not data_type or (string_value is None) == (binary_value is None):
            raise ValueError(f"message attribute {value!r}: give dataType and exactly one of "
                             "stringValue or binaryValue")
    elif isinstance(value, (bytes, bytearray)):
        data_type, string_value, binary_value = "Binary", None, value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        data_type, string_value, binary_value = "Number", str(value), None
    elif isinstance(value, str):
        data_type, string_value, binary_value = "String", value, None
    else:
        raise TypeError(f"message attribute value {value!r}: use str, int, float, bytes or a dict "
                        "with dataType and stringValue/binaryValue")
    if string_value is not None:
        return {"stringValue": str(string_value), "stringListValues": [], "binaryListValues": [],
                "dataType": data_type}
    encoded = base64.b64encode(_binary(binary_value)).decode()
    return {"binaryValue": encoded, "stringListValues": [], "binaryListValues": [], "dataType": data_type}


def md5_of_message_attributes(attributes):
    """``MD5OfMessageAttributes`` as SQS computes it, hex.

    The algorithm of "Calculating the MD5 message digest for message attributes" (Amazon SQS
    Developer Guide): sort the attributes by name; for each, append the name, the data type (each as a
    4-byte big-endian length and its UTF-8 bytes), one transport byte (1 for String and Number, 2 for
    Binary), then the value as a 4-byte length and its bytes (UTF-8 text, or the raw binary); MD5 the
    whole buffer. Accepts the event's shape (``stringValue``...) or the API's (``StringValue``...).

    >>> md5_of_message_attributes({"test_attribute_name": {"dataType": "Binary",
    ...                                                     "binaryValue": b"test_attribute_value"}})
    '23f6bd27ea87aab7dfeadcc9aebee495'
    """
    def field(data):
        return struct.pack(">I", len(data)) + data

    buffer = bytearray()
    for name in sorted(attributes):
        attribute = sqs_message_attribute(attributes[name])
        buffer += field(name.encode()) + field(attribute["dataType"].encode())
        if "stringValue" in attribute:
            buffer += b"\x01" + field(attribute["stringValue"].encode())
        else:
            buffer += b"\x02" + field(base64.b64decode(attribute["binaryValue"]))
    return hashlib.md5(bytes(buffer)).hexdigest()


# The order Lambda writes a record's system attributes in ("Using Lambda with Amazon SQS", examples).
SQS_ATTRIBUTE_ORDER = ("ApproximateReceiveCount", "SentTimestamp", "SequenceNumber", "MessageGroupId", "SenderId",
                       "MessageDeduplicationId", "ApproximateFirstReceiveTimestamp", "AWSTraceHeader")


def sqs_record(message_id, receipt_handle, body, *, attributes, message_attributes=None, queue_arn, region,
               attributes_md5=None):
    """One record of the event an SQS event source mapping sends, from a message as SQS returned it.

    ``attributes`` are the message's system attributes by their API names (``ApproximateReceiveCount``,
    ``SentTimestamp``, ``SenderId``, ``ApproximateFirstReceiveTimestamp`` and, for FIFO queues,
    ``SequenceNumber``, ``MessageGroupId``, ``MessageDeduplicationId``): written in Lambda's order.
    ``message_attributes`` in the API's shape or the event's (``sqs_message_attribute``); with any,
    the record has ``md5OfMessageAttributes`` (computed unless given). ``md5OfBody`` is the MD5 of
    the body's UTF-8 bytes, as SQS computes it.

    >>> r = sqs_record("m-1", "AQEB...", "hi", attributes={"SentTimestamp": "1", "ApproximateReceiveCount": "2"},
    ...                queue_arn="arn:aws:sqs:us-east-1:123456789012:q", region="us-east-1")
    >>> list(r["attributes"]), r["md5OfBody"], r["eventSource"]
    (['ApproximateReceiveCount', 'SentTimestamp'], '49f68a5c8493ec2c0bf489821c21fc3b', 'aws:sqs')
    """
    system = {name: str(attributes[name]) for name in SQS_ATTRIBUTE_ORDER if attributes.get(name) is not None}
    typed = {name: sqs_message_attribute(value) for name, value in (message_attributes or {}).items()}
    record = {"messageId": message_id, "receiptHandle": receipt_handle, "body": body, "attributes": system,
              "messageAttributes": typed}
    if typed:
        record["md5OfMessageAttributes"] = attributes_md5 or md5_of_message_attributes(typed)
    record.update({"md5OfBody": hashlib.md5(body.encode("utf-8", "surrogatepass")).hexdigest(),
                   "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region})
    return record


def sqs_record_json(message_id, receipt_handle, body, *, attributes, message_attributes=None, queue_arn, region):
    """``json.dumps(sqs_record(...)).encode()``, the same bytes, written directly: a poller that hands
    over thousands of messages spends most of its own time building and encoding these records.

    >>> kwargs = dict(attributes={"SentTimestamp": "1"}, queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
    ...               region="us-east-1")
    >>> sqs_record_json("m-1", "AQEB", "h\u00e9", **kwargs) == json.dumps(sqs_record("m-1", "AQEB", "h\u00e9", **kwargs)).encode()
    True
    """
    if message_attributes:
        return json.dumps(sqs_record(message_id, receipt_handle, body, attributes=attributes,
                                     message_attributes=message_attributes, queue_arn=queue_arn,
                                     region=region)).encode()
    q = _quote
    system = ", ".join(f"{q(name)}: {q(str(attributes[name]))}" for name in SQS_ATTRIBUTE_ORDER
                       if attributes.get(name) is not None)
    md5 = hashlib.md5(body.encode("utf-8", "surrogatepass")).hexdigest()
    return (f'{{"messageId": {q(message_id)}, "receiptHandle": {q(receipt_handle)}, "body": {q(body)}, '
            f'"attributes": {{{system}}}, "messageAttributes": {{}}, "md5OfBody": "{md5}", '
            f'"eventSource": "aws:sqs", "eventSourceARN": {q(queue_arn)}, "awsRegion": {q(region)}}}').encode()


def sqs(body="Test message.", count=1, bodies=None, queue="my-queue", attributes=None, receive_count=1,
        sender_id=None, message_group_id="1", region=REGION, account=ACCOUNT_ID, seed=None, time=None):
    """An SQS batch from the event source mapping: ``count`` records, or one per ``bodies``.

    Shape of "Using Lambda with Amazon SQS" (AWS Lambda Developer Guide, "Example Amazon SQS message
    event (standard queue)" and "(FIFO queue)"). ``md5OfBody`` is the MD5 of the body's UTF-8 bytes;
    with message ``attributes`` each record also has ``md5OfMessageAttributes``
    (``md5_of_message_attributes``), as ReceiveMessage returns it. A queue name ending in ``.fifo``
    adds SequenceNumber, MessageGroupId and MessageDeduplicationId (content-based: the body's
    SHA-256). Timestamps are epoch milliseconds as strings, as SQS sends them.
    """
    texts = [to_text(b) for b in bodies] if bodies is not None else [to_text(body)] * int(count)
    typed = {name: sqs_message_attribute(value) for name, value in (attributes or {}).items()}
    if len(typed) > MAX_SQS_MESSAGE_ATTRIBUTES:
        raise ValueError(f"{len(typed)} message attributes: SQS allows at most {MAX_SQS_MESSAGE_ATTRIBUTES}")
    attributes_md5 = md5_of_message_attributes(typed) if typed else None
    draw = Draw(seed, time, salt="sqs")
    sender = sender_id or "AIDA" + draw.upper(17)
    fifo = queue.endswith(".fifo")
    sequence = int(draw.digits(20, first="1"))
    records = []
    for index, text in enumerate(texts):
        sent = epoch_millis(draw.later(index * 37))
        system = {"ApproximateReceiveCount": str(int(receive_count)), "SentTimestamp": str(sent),
                  "SenderId": sender, "ApproximateFirstReceiveTimestamp": str(sent + 2 + draw.rng.randrange(20))}
        if fifo:
            system.update(SequenceNumber=str(sequence + index * 65536), MessageGroupId=str(message_group_id),
                          MessageDeduplicationId=hashlib.sha256(text.encode()).hexdigest())
        records.append(sqs_record(draw.uuid(), "AQEB" + draw.token(120), text, attributes=system,
                                  message_attributes=typed, queue_arn=arn("sqs", region, account, queue),
                                  region=region, attributes_md5=attributes_md5))
    return {"Records": records}


def sns_message_attribute(value):
    """One SNS message attribute as the Lambda event carries it: ``{"Type": ..., "Value": ...}``.

    ``str`` is ``String``, a number ``Number``, ``bytes`` ``Binary`` (base64), a list
    ``String.Array`` (its JSON); a dict with ``Type``/``Value`` (or the API's ``DataType`` and
    ``StringValue``/``BinaryValue``) passes through.
    """
    if isinstance(value, dict):
        if "Type" in value and "Value" in value:
            return {"Type": value["Type"], "Value": value["Value"]}
        if "DataType" in value:
            if value.get("BinaryValue") is not None:
                return {"Type": value["DataType"], "Value": base64.b64encode(_binary(value["BinaryValue"])).decode()}
            return {"Type": value["DataType"], "Value": str(value["StringValue"])}
        raise ValueError(f"message attribute {value!r}: give Type and Value")
    if isinstance(value, (bytes, bytearray)):
        return {"Type": "Binary", "Value": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"Type": "Number", "Value": str(value)}
    if isinstance(value, (list, tuple)):
        return {"Type": "String.Array", "Value": json.dumps(list(value))}
    if isinstance(value, str):
        return {"Type": "String", "Value": value}
    raise TypeError(f"message attribute value {value!r}: use str, a number, bytes, a list or "
                    "a dict with Type and Value")


def sns(message="Hello from SNS!", subject="TestInvoke", count=1, messages=None, topic="sns-lambda",
        attributes=None, region=REGION, account=ACCOUNT_ID, seed=None, time=None):
    """SNS notifications to a subscribed function: ``count`` records, or one per ``messages``.

    Shape of "Using AWS Lambda with Amazon SNS" (AWS Lambda Developer Guide, "Example Amazon SNS
    message event"): capitalised keys, unlike SQS. ``subject=None`` gives ``"Subject": null``, as SNS
    sends for a message published without one. Each record has its own MessageId; the signature is
    random bytes of a real signature's length (nothing here can sign as SNS).
    """
    texts = [to_text(m) for m in messages] if messages is not None else [to_text(message)] * int(count)
    typed = {name: sns_message_attribute(value) for name, value in (attributes or {}).items()}
    draw = Draw(seed, time, salt="sns")
    topic_arn = arn("sns", region, account, topic)
    subscription_arn = f"{topic_arn}:{draw.uuid()}"
    cert = f"https://sns.{region}.amazonaws.com/SimpleNotificationService-{draw.hex(32)}.pem"
    unsubscribe = f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"
    records = []
    for index, text in enumerate(texts):
        signature = draw.token(256)
        records.append(sns_record(
            message=text, subject=subject, attributes=typed, topic_arn=topic_arn, subscription_arn=subscription_arn,
            message_id=draw.uuid(), timestamp=draw.later(index * 11), signature=signature,
            signing_cert_url=cert, unsubscribe_url=unsubscribe))
    return {"Records": records}


def sns_record(*, message, topic_arn, subscription_arn, message_id, timestamp, signature, signing_cert_url,
               unsubscribe_url, subject=None, attributes=None, signature_version="1"):
    """One record of the event SNS sends a subscribed function, from a real notification's parts.

    ``timestamp`` is a datetime (or epoch seconds); ``attributes`` are already typed
    (``{name: {"Type": ..., "Value": ...}}``, see ``sns_message_attribute``); ``subject`` None is
    ``"Subject": null``.
    """
    return {
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "EventSource": "aws:sns",
        "Sns": {
            "SignatureVersion": signature_version,
            "Timestamp": iso_millis(as_datetime(timestamp)),
            "Signature": signature,
            "SigningCertUrl": signing_cert_url,
            "MessageId": message_id,
            "Message": message,
            "MessageAttributes": {name: dict(value) for name, value in (attributes or {}).items()},
            "Type": "Notification",
            "UnsubscribeUrl": unsubscribe_url,
            "TopicArn": topic_arn,
            "Subject": subject,
        },
    }

"""Amazon S3 event notifications: an object created or removed."""

import hashlib
import urllib.parse

from ._common import REGION, Draw, iso_millis, to_bytes


def encode_key(key):
    """An object key as S3 writes it into a notification: URL-encoded, a space as ``+``.

    "The object key name value is URL encoded. For example, "red flower.jpg" becomes
    "red+flower.jpg"" (Amazon S3 User Guide, "Event message structure"). That is form encoding, as
    ``urllib.parse.quote_plus`` does, except that S3 leaves ``/`` as it is (the
    ``images/2024/cat.jpg`` of real events; minio/minio#11665 compares the two). A handler undoes it
    with ``urllib.parse.unquote_plus``.

    >>> encode_key("photos/red flower (1).jpg")
    'photos/red+flower+%281%29.jpg'
    """
    return urllib.parse.quote_plus(key, safe="/")


def s3_event(event_name="ObjectCreated:Put", bucket="example-bucket", key="test/key", body=None,
             size=1024, etag=None, version_id=None, region=REGION,
             source_ip="203.0.113.10", seed=None, time=None):
    """One S3 notification record for ``event_name`` (``ObjectCreated:*`` or ``ObjectRemoved:*``).

    The shape is the one in "Using AWS Lambda with Amazon S3" (AWS Lambda Developer Guide, "Example
    Amazon S3 notification event") and "Event message structure" (Amazon S3 User Guide): S3 sends one
    record per notification. ``key`` is the real key; the event carries it URL-encoded. An object
    created has ``size`` and ``eTag`` (from ``body`` when given: its length and MD5); an object removed
    has neither. ``versionId`` appears only for a versioned bucket (``version_id``).
    """
    category, _, _ = event_name.partition(":")
    if category not in ("ObjectCreated", "ObjectRemoved"):
        raise ValueError(f"event_name {event_name!r}: expected ObjectCreated:... or ObjectRemoved:..., "
                         "e.g. ObjectCreated:Put or ObjectRemoved:Delete")
    draw = Draw(seed, time, salt="s3")
    if category == "ObjectCreated" and body is not None:
        data = to_bytes(body)
        size, etag = len(data), hashlib.md5(data).hexdigest()
    # Drawn in this order so that a seed gives the same event as it always has.
    if category == "ObjectCreated":
        etag = etag or draw.hex(32)
    sequencer = draw.hex(18, upper=True)
    principal_id = "AWS:AIDA" + draw.upper(17)
    request_id, host_id = draw.hex(16, upper=True), draw.token(56)
    configuration_id, owner = draw.uuid(), draw.upper(14)
    record = s3_record(
        event_name, bucket=bucket, key=key, region=region, event_time=draw.now, principal_id=principal_id,
        source_ip=source_ip, request_id=request_id, host_id=host_id, configuration_id=configuration_id,
        owner_principal_id=owner, size=size if category == "ObjectCreated" else None,
        etag=etag if category == "ObjectCreated" else None, version_id=version_id, sequencer=sequencer)
    return {"Records": [record]}


def s3_record(event_name, *, bucket, key, region, event_time, principal_id, source_ip, request_id, host_id,
              configuration_id, owner_principal_id, size=None, etag=None, version_id=None, sequencer,
              partition="aws"):
    """One record of a notification S3 sends, from the facts of a real event (the lab's S3 source
    builds them from the calls it observes; ``s3_event`` from seeded draws).

    ``key`` is the object's real key (the record carries it URL-encoded, ``encode_key``);
    ``event_time`` a datetime (UTC). ``size`` and ``etag`` belong to an object created (``None``
    leaves them out, as a removal's record does); ``version_id`` appears only for a versioned
    bucket. The field order is the one of "Event message structure" (Amazon S3 User Guide).
    """
    category, _, _ = event_name.partition(":")
    if category not in ("ObjectCreated", "ObjectRemoved"):
        raise ValueError(f"event_name {event_name!r}: expected ObjectCreated:... or ObjectRemoved:..., "
                         "e.g. ObjectCreated:Put or ObjectRemoved:Delete")
    obj = {"key": encode_key(key)}
    if size is not None:
        obj["size"] = int(size)
    if etag is not None:
        obj["eTag"] = etag
    if version_id is not None:
        obj["versionId"] = version_id
    obj["sequencer"] = sequencer
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": iso_millis(event_time),
        "eventName": event_name,
        "userIdentity": {"principalId": principal_id},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": host_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": owner_principal_id},
                       "arn": f"arn:{partition}:s3:::{bucket}"},
            "object": obj,
        },
    }


def s3_test_event(bucket, *, event_time, request_id, host_id):
    """The ``s3:TestEvent`` message S3 sends to an SQS queue or SNS topic when a notification
    configuration names it ("Event message structure", Amazon S3 User Guide)."""
    return {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": iso_millis(event_time), "Bucket": bucket,
            "RequestId": request_id, "HostId": host_id}


def s3_put(bucket="example-bucket", key="test/key", body=None, size=1024, etag=None, version_id=None,
           region=REGION, source_ip="203.0.113.10", seed=None, time=None):
    """S3 ``ObjectCreated:Put``: an object uploaded, its key URL-encoded.

    "Using AWS Lambda with Amazon S3" (AWS Lambda Developer Guide); parameters as ``s3_event``.

    >>> record = s3_put(bucket="photos", key="2024/red flower.jpg", body=b"abc", seed=1)["Records"][0]
    >>> record["eventName"], record["s3"]["object"]["key"], record["s3"]["object"]["size"]
    ('ObjectCreated:Put', '2024/red+flower.jpg', 3)
    """
    return s3_event("ObjectCreated:Put", bucket=bucket, key=key, body=body, size=size, etag=etag,
                    version_id=version_id, region=region, source_ip=source_ip, seed=seed, time=time)


def s3_delete(bucket="example-bucket", key="test/key", version_id=None, region=REGION,
              source_ip="203.0.113.10", seed=None, time=None):
    """S3 ``ObjectRemoved:Delete``: an object deleted, so no size or eTag.

    "Event message structure" (Amazon S3 User Guide) and ``sam local generate-event s3 delete``.
    """
    return s3_event("ObjectRemoved:Delete", bucket=bucket, key=key, version_id=version_id, region=region,
                    source_ip=source_ip, seed=seed, time=time)

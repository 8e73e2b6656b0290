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
    obj = {"key": encode_key(key)}
    if category == "ObjectCreated":
        if body is not None:
            data = to_bytes(body)
            size, etag = len(data), hashlib.md5(data).hexdigest()
        obj["size"] = int(size)
        obj["eTag"] = etag or draw.hex(32)
    if version_id is not None:
        obj["versionId"] = version_id
    obj["sequencer"] = draw.hex(18, upper=True)
    return {"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": iso_millis(draw.now),
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDA" + draw.upper(17)},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {"x-amz-request-id": draw.hex(16, upper=True), "x-amz-id-2": draw.token(56)},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": draw.uuid(),
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": draw.upper(14)},
                       "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }]}


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

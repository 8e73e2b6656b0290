"""Amazon S3 event notifications, as S3 sends them: to Lambda functions, SQS queues and SNS topics.

A bucket's notification configuration (``PutBucketNotificationConfiguration``) lists
``LambdaFunctionConfigurations``, ``QueueConfigurations`` and ``TopicConfigurations``, each with an
``Id``, a destination ARN, ``Events`` (``s3:ObjectCreated:*``, ``s3:ObjectCreated:Put``, ``Post``,
``Copy``, ``CompleteMultipartUpload``, ``s3:ObjectRemoved:*``, ``Delete``, ``DeleteMarkerCreated``...)
and an optional ``Filter.Key.FilterRules`` prefix and suffix. Then every object created or removed
that a configuration matches is sent to its destination, one record per event ("Amazon S3 Event
Notifications", "Event message structure", "Configuring event notifications using object key name
filtering", Amazon S3 User Guide):

- **Lambda** is invoked *asynchronously* (the async queue: retries, destinations, DLQ), with
  ``{"Records": [record]}``; **SQS** gets that JSON as the message body; **SNS** publishes it with
  the subject "Amazon S3 Notification".
- S3 **validates** a configuration when it is put, as the lab does: an event type it does not know,
  a filter with two prefix rules, overlapping prefixes *and* suffixes for the same event type in two
  rules ("Configuration is ambiguously defined..."), a destination in another region, and a
  destination that does not exist ("Unable to validate the following destination configurations")
  are refused with ``InvalidArgument``, and nothing changes. A queue or topic named gets an
  ``s3:TestEvent`` message at once.
- Filters compare against the key **as the record carries it, URL-encoded**: a prefix with a space
  is written with ``+`` (the user guide says so), so ``my uploads/`` never matches and
  ``my+uploads/`` does.

What moto does by itself, and why the lab takes over: moto stores the configuration and, on each
PutObject, calls its *own* Lambda (which has none of the lab's functions, so nothing runs), and sends
SQS and SNS a record without ``userIdentity``, ``requestParameters``, ``responseElements``,
``ownerIdentity`` or ``sequencer``, from inside moto (an SNS subscriber the lab serves would never
see it), and validates no destination. So the lab answers ``Put`` and ``GetBucketNotificationConfiguration``
itself (moto keeps only an ``EventBridgeConfiguration``, which it delivers), and sends every
notification itself, exactly once, from what it observes of each successful S3 call: PutObject,
CopyObject, CompleteMultipartUpload, a browser POST upload, DeleteObject and DeleteObjects.

Not implemented: the Lambda resource-policy check (S3 also refuses a function that has not granted
``s3.amazonaws.com`` ``lambda:InvokeFunction``; the lab has no ``AddPermission``), and the events of
tagging, ACLs, restores, lifecycle and replication (accepted in a configuration, never sent).

>>> notifications = S3Notifications(lab.aws, lab.service, lab.async_queue, lab.record,   # doctest: +SKIP
...                                 region="us-east-1", account_id="123456789012")
"""

import base64
import dataclasses
import datetime
import hashlib
import io
import json
import re
import secrets
import threading
import time
import uuid
import xml.etree.ElementTree as ElementTree
from xml.sax.saxutils import escape

import botocore.exceptions

from ..errors import ResourceNotFoundException
from ..events.s3 import encode_key, s3_record, s3_test_event
from ..request import InvocationRequest

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
# "Supported event types for SQS, SNS, and Lambda" (Amazon S3 User Guide); the API's enum.
EVENT_TYPES = frozenset({
    "s3:ReducedRedundancyLostObject", "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post", "s3:ObjectRestore:Completed", "s3:ObjectRestore:Delete", "s3:Replication:*",
    "s3:Replication:OperationFailedReplication", "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold", "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleTransition", "s3:IntelligentTiering", "s3:ObjectAcl:Put", "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete", "s3:LifecycleExpiration:DeleteMarkerCreated", "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put", "s3:ObjectTagging:Delete",
})
# The destination kinds: the XML element, the element naming the ARN, the service in the ARN, the
# API's name for the list, and for its ARN member.
KINDS = {
    "topic": ("TopicConfiguration", "Topic", "sns", "TopicConfigurations", "TopicArn"),
    "queue": ("QueueConfiguration", "Queue", "sqs", "QueueConfigurations", "QueueArn"),
    "lambda": ("CloudFunctionConfiguration", "CloudFunction", "lambda", "LambdaFunctionConfigurations",
               "LambdaFunctionArn"),
}
AMBIGUOUS = ("Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the "
             "prefixes are overlapping for the same event type.")
UNABLE_TO_VALIDATE = "Unable to validate the following destination configurations"
SNS_SUBJECT = "Amazon S3 Notification"
MAX_CONFIGURATION_BYTES = 1 << 20
MAX_RULES = 1_000                 # the overlap check compares every pair: bounded, whatever a cell sends
_ARN_RE = re.compile(r"arn:(aws|aws-cn|aws-us-gov):(sns|sqs|lambda):([a-z0-9-]+):([0-9]{12}):(.+)")


# -- the configuration: parsed, checked, matched, written back (pure) -------------------------------
@dataclasses.dataclass(frozen=True)
class NotificationRule:
    """One Topic, Queue or LambdaFunction configuration of a bucket."""

    kind: str                       # "lambda" | "queue" | "topic"
    id: str
    arn: str
    events: tuple
    prefix: str | None = None
    suffix: str | None = None

    def event_matches(self, event_name):
        """``event_name`` (``s3:ObjectCreated:Put``) is one this rule asks for, itself or by wildcard."""
        return event_name in self.events or f"{event_name.rsplit(':', 1)[0]}:*" in self.events

    def key_matches(self, encoded_key):
        return ((self.prefix is None or encoded_key.startswith(self.prefix))
                and (self.suffix is None or encoded_key.endswith(self.suffix)))

    @property
    def function_name(self):
        return _function_name(self.arn) if self.kind == "lambda" else None


@dataclasses.dataclass(frozen=True)
class BucketNotifications:
    """A bucket's whole notification configuration."""

    rules: tuple = ()
    event_bridge: bool = False


class ConfigurationError(Exception):
    """What S3 answers to a configuration it refuses: an S3 error code, message and arguments."""

    def __init__(self, message, code="InvalidArgument", argument_name=None, argument_value=None, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.argument_name, self.argument_value = argument_name, argument_value


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _children(element, name):
    return [child for child in element if _local(child.tag) == name]


def _text(element, name):
    found = _children(element, name)
    return (found[0].text or "").strip() if found else None


def parse_configuration(body):
    """The ``NotificationConfiguration`` XML of a PUT, as ``BucketNotifications`` (ids not yet given).

    Raises ``ConfigurationError`` for XML that S3 would not take (MalformedXML, or an
    ``InvalidArgument`` naming the part at fault).
    """
    if len(body) > MAX_CONFIGURATION_BYTES or b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise _malformed()
    try:
        root = ElementTree.fromstring(body or b"<NotificationConfiguration/>")
    except ElementTree.ParseError:
        raise _malformed() from None
    if _local(root.tag) != "NotificationConfiguration":
        raise _malformed()
    rules = []
    for kind, (element, arn_name, _service, _list, _member) in KINDS.items():
        for item in _children(root, element):
            arn = _text(item, arn_name)
            if not arn:
                raise _malformed()
            events = tuple((e.text or "").strip() for e in _children(item, "Event"))
            if not events:
                raise _malformed()
            for event in events:
                if event not in EVENT_TYPES:
                    raise ConfigurationError("The event is not supported for notifications",
                                             argument_name="Event", argument_value=event)
            prefix = suffix = None
            for filters in _children(item, "Filter"):
                keys = _children(filters, "S3Key")
                if not keys:
                    raise _malformed()
                for rule in _children(keys[0], "FilterRule"):
                    name, value = (_text(rule, "Name") or "").lower(), _text(rule, "Value")
                    if name not in ("prefix", "suffix"):
                        raise ConfigurationError("filter rule name must be either prefix or suffix",
                                                 argument_name="FilterRule", argument_value=name)
                    if not value:
                        raise ConfigurationError("filter value cannot be empty", argument_name=name,
                                                 argument_value=value or "")
                    if (prefix if name == "prefix" else suffix) is not None:
                        raise ConfigurationError(f"Cannot specify more than one {name} rule in a filter.",
                                                 argument_name="FilterRule", argument_value=name)
                    if name == "prefix":
                        prefix = value
                    else:
                        suffix = value
            rules.append(NotificationRule(kind, _text(item, "Id") or "", arn, events, prefix, suffix))
    if len(rules) > MAX_RULES:
        raise ConfigurationError(f"lambdalab takes at most {MAX_RULES:,} notification configurations per bucket",
                                 code="MalformedXML")
    return BucketNotifications(tuple(rules), event_bridge=bool(_children(root, "EventBridgeConfiguration")))


def _malformed():
    return ConfigurationError("The XML you provided was not well-formed or did not validate against our "
                              "published schema", code="MalformedXML")


def _events_overlap(a, b):
    for x in a.events:
        for y in b.events:
            if x == y:
                return True
            if x.endswith(":*") and y.startswith(x[:-1]) or y.endswith(":*") and x.startswith(y[:-1]):
                return True
    return False


def rules_overlap(a, b):
    """Whether one object could match both rules for one event type: S3 refuses such a pair."""
    prefix_a, prefix_b, suffix_a, suffix_b = a.prefix or "", b.prefix or "", a.suffix or "", b.suffix or ""
    prefixes = prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a)
    suffixes = suffix_a.endswith(suffix_b) or suffix_b.endswith(suffix_a)
    return prefixes and suffixes and _events_overlap(a, b)


def check_configuration(config, *, bucket_region):
    """S3's checks that need nothing but the configuration: ARNs, regions, overlaps, unique ids."""
    for rule in config.rules:
        match = _ARN_RE.fullmatch(rule.arn)
        if not match or match.group(2) != KINDS[rule.kind][2] or (
                rule.kind == "lambda" and not match.group(5).startswith("function:")):
            raise ConfigurationError("The ARN could not be parsed", argument_name=KINDS[rule.kind][4],
                                     argument_value=rule.arn)
        if match.group(3) != bucket_region:
            raise ConfigurationError("The notification destination service region is not valid for the bucket "
                                     "location constraint", argument_name=KINDS[rule.kind][4],
                                     argument_value=rule.arn)
    ids = [rule.id for rule in config.rules if rule.id]
    if len(ids) != len(set(ids)):
        raise ConfigurationError("Configuration Ids must be unique", argument_name="Id",
                                 argument_value=next(i for i in ids if ids.count(i) > 1))
    for i, a in enumerate(config.rules):
        for b in config.rules[i + 1:]:
            if rules_overlap(a, b):
                raise ConfigurationError(AMBIGUOUS)


def with_ids(config):
    """The configuration with an id for each rule that has none, as S3 assigns them."""
    def new_id():
        return base64.b64encode(str(uuid.uuid4()).encode()).decode().rstrip("=")
    return dataclasses.replace(config, rules=tuple(rule if rule.id else dataclasses.replace(rule, id=new_id())
                                                   for rule in config.rules))


def configuration_xml(config):
    """``GetBucketNotificationConfiguration``'s answer for ``config``."""
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<NotificationConfiguration xmlns="{S3_NAMESPACE}">']
    for kind, (element, arn_name, *_rest) in KINDS.items():
        for rule in (r for r in config.rules if r.kind == kind):
            parts.append(f"<{element}><Id>{escape(rule.id)}</Id><{arn_name}>{escape(rule.arn)}</{arn_name}>")
            parts += [f"<Event>{escape(event)}</Event>" for event in rule.events]
            if rule.prefix is not None or rule.suffix is not None:
                parts.append("<Filter><S3Key>")
                for name, value in (("Prefix", rule.prefix), ("Suffix", rule.suffix)):
                    if value is not None:
                        parts.append(f"<FilterRule><Name>{name}</Name><Value>{escape(value)}</Value></FilterRule>")
                parts.append("</S3Key></Filter>")
            parts.append(f"</{element}>")
    if config.event_bridge:
        parts.append("<EventBridgeConfiguration></EventBridgeConfiguration>")
    parts.append("</NotificationConfiguration>")
    return "".join(parts).encode()


def _function_name(arn):
    resource = arn.split(":", 6)[-1] if arn.count(":") >= 6 else ""
    return resource.split(":", 1)[0]


def _qualifier(arn):
    parts = arn.split(":")
    return parts[7] if len(parts) > 7 else None


# -- what happened to an object, read from an observed call ---------------------------------------------
@dataclasses.dataclass
class ObjectEvent:
    """One object created or removed: what its record says."""

    event_name: str                 # "s3:ObjectCreated:Put"
    bucket: str
    key: str
    version_id: str | None = None


def _path_parts(call):
    path = call.path
    try:   # WSGI hands the path over as latin-1 text; S3 keys are UTF-8
        path = path.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


def _is_s3(call):
    if call.service == "s3":
        return True
    if call.service is not None:
        return False
    credential = call.query.get("X-Amz-Credential", "")
    if credential:                                    # a presigned URL (query-string SigV4)
        return "/s3/aws4_request" in credential
    if "AWSAccessKeyId" in call.query and "Signature" in call.query:
        return True
    return call.method == "POST" and "multipart/form-data" in call.headers.get("content-type", "")


def object_events(call):
    """The object events a successful S3 call produced (none for anything else)."""
    if not call.ok or not _is_s3(call):
        return []
    bucket, key = _path_parts(call)
    query = call.query
    if not bucket:
        return []
    if call.method == "PUT" and key and not set(query) - ({"x-id"} | _presign_keys(query)):
        copy = "x-amz-copy-source" in call.headers
        return [ObjectEvent("s3:ObjectCreated:Copy" if copy else "s3:ObjectCreated:Put", bucket, key,
                            call.response_headers.get("x-amz-version-id"))]
    if call.method == "POST" and key and "uploadId" in query:
        if b"<Error>" in call.response_body[:512]:    # S3 can answer 200 and fail in the body
            return []
        return [ObjectEvent("s3:ObjectCreated:CompleteMultipartUpload", bucket, key,
                            call.response_headers.get("x-amz-version-id"))]
    if call.method == "POST" and not key and "delete" in query:
        return _deleted(call, bucket)
    if call.method == "POST" and not key and "multipart/form-data" in call.headers.get("content-type", ""):
        posted = _posted_key(call)
        return [ObjectEvent("s3:ObjectCreated:Post", bucket, posted,
                            call.response_headers.get("x-amz-version-id"))] if posted else []
    if call.method == "DELETE" and key and not set(query) - ({"versionId", "x-id"} | _presign_keys(query)):
        marker = call.response_headers.get("x-amz-delete-marker") == "true" and "versionId" not in query
        return [ObjectEvent("s3:ObjectRemoved:DeleteMarkerCreated" if marker else "s3:ObjectRemoved:Delete",
                            bucket, key, call.response_headers.get("x-amz-version-id") or query.get("versionId"))]
    return []


def _presign_keys(query):
    return {k for k in query if k.startswith("X-Amz-") or k in ("AWSAccessKeyId", "Signature", "Expires")}


def _xml(body):
    try:
        return ElementTree.fromstring(body) if body and b"<!DOCTYPE" not in body and b"<!ENTITY" not in body else None
    except ElementTree.ParseError:
        return None


def _deleted(call, bucket):
    """DeleteObjects: one event per key deleted (a quiet request's answer lists only the errors)."""
    request, answer = _xml(call.body), _xml(call.response_body)
    if request is None or answer is None:
        return []
    asked = {(_text(o, "Key") or ""): _text(o, "VersionId") for o in _children(request, "Object")}
    out = []
    deleted = _children(answer, "Deleted")
    if not deleted and (_text(request, "Quiet") or "").lower() == "true":
        failed = {_text(e, "Key") for e in _children(answer, "Error")}
        return [ObjectEvent("s3:ObjectRemoved:Delete", bucket, key, version)
                for key, version in asked.items() if key not in failed]
    for item in deleted:
        key = _text(item, "Key") or ""
        marker = (_text(item, "DeleteMarker") or "").lower() == "true" and not asked.get(key)
        version = _text(item, "DeleteMarkerVersionId") if marker else _text(item, "VersionId")
        out.append(ObjectEvent("s3:ObjectRemoved:DeleteMarkerCreated" if marker else "s3:ObjectRemoved:Delete",
                               bucket, key, version))
    return out


def _posted_key(call):
    """The key of a browser POST upload: the form's ``key``, ``${filename}`` filled in."""
    from werkzeug.formparser import parse_form_data
    environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": call.headers.get("content-type", ""),
               "CONTENT_LENGTH": str(len(call.body)), "wsgi.input": io.BytesIO(call.body)}
    try:
        _, form, files = parse_form_data(environ)
    except Exception:
        return None
    key = form.get("key")
    if key is None:
        return None
    upload = files.get("file")
    return key.replace("${filename}", (upload.filename or "") if upload is not None else "")


# -- moto's state, read in-process (what an observed answer does not carry) -----------------------------
def _moto_bucket(name):
    try:
        from moto.s3.models import s3_backends
        partition, account = s3_backends.bucket_accounts[name]
        return s3_backends[account][partition].get_bucket(name)
    except Exception:
        return None


def _object_facts(bucket, key, version_id):
    """``(size, etag)`` of the object version moto holds, or ``(None, None)``."""
    try:
        versions = bucket.keys.getlist(key, [])
        found = [v for v in versions if version_id and str(v.version_id) == str(version_id)]
        obj = found[-1] if found else (versions[-1] if versions else None)
        return int(obj.size), obj.etag.strip('"')
    except Exception:
        return None, None


# -- the source -------------------------------------------------------------------------------------------
class S3Notifications:
    """The lab's S3 event notifications: configurations through the S3 API, deliveries from each call.

    ``aws`` is the lab's ``AWSEndpoint``; ``service`` the Lambda service (which functions exist);
    ``async_queue`` invokes them asynchronously; ``record`` is the lab record (``notification`` for
    each destination an event went to, ``filtered`` for each configuration that did not take it,
    ``delivery_failed`` for a destination that could not). ``close()`` stops it.
    """

    def __init__(self, aws, service, async_queue, record, *, region, account_id):
        self.aws = aws
        self.service = service
        self.async_queue = async_queue
        self.record = record
        self.region = region
        self.account_id = account_id
        self._configs = {}                       # bucket name -> BucketNotifications
        self._lock = threading.Lock()
        self._sequence = 0
        self._clients = {}
        self._stops = [aws.intercept(self._intercept), aws.observe(self._observe)]

    def close(self):
        for stop in self._stops:
            stop()
        self._stops = []

    def configuration(self, bucket):
        """The ``BucketNotifications`` of ``bucket`` (empty when it has none)."""
        with self._lock:
            return self._configs.get(bucket, BucketNotifications())

    # -- the configuration API -------------------------------------------------------------------------
    def _intercept(self, call):
        if call.service != "s3" or "notification" not in call.query:
            return None
        bucket_name, key = _path_parts(call)
        if key or not bucket_name:
            return None
        bucket = _moto_bucket(bucket_name)
        if bucket is None:
            return None                                  # moto answers NoSuchBucket
        if call.method == "GET":
            with self._lock:
                config = self._configs.get(bucket_name)
            return None if config is None else self._answer(200, configuration_xml(config), xml=True)
        if call.method != "PUT":
            return None
        try:
            config = parse_configuration(call.body)
            check_configuration(config, bucket_region=bucket.region_name)
            config = with_ids(config)
            if call.headers.get("x-amz-skip-destination-validation", "").lower() != "true":
                self._check_destinations(config)
        except ConfigurationError as exc:
            return self._error(exc)
        self._set_event_bridge(bucket, config.event_bridge)
        with self._lock:
            self._configs[bucket_name] = config
        self.record.append("mapping", None, None, source="s3", bucket=bucket_name, action="configure",
                           rules=[dataclasses.asdict(r) for r in config.rules])
        self._send_test_events(bucket_name, config)
        return self._answer(200, b"")

    def _check_destinations(self, config):
        for rule in config.rules:
            if not self._exists(rule):
                what = {"lambda": "Lambda", "queue": "queue", "topic": "topic"}[rule.kind]
                raise ConfigurationError(UNABLE_TO_VALIDATE, argument_name=rule.arn,
                                         argument_value=f"The destination {what} does not exist")

    def _exists(self, rule):
        _, _, region, account = rule.arn.split(":")[1:5]
        try:
            if rule.kind == "lambda":
                if region != self.region or account != self.account_id or _qualifier(rule.arn) not in (None, "$LATEST"):
                    return False
                self.service.get(rule.function_name)
                return True
            if rule.kind == "queue":
                self._client("sqs", region).get_queue_url(QueueName=rule.arn.split(":")[5],
                                                          QueueOwnerAWSAccountId=account)
                return True
            self._client("sns", region).get_topic_attributes(TopicArn=rule.arn)
            return True
        except (ResourceNotFoundException, botocore.exceptions.ClientError):
            return False              # not there (the ClientError of GetQueueUrl or GetTopicAttributes)

    def _set_event_bridge(self, bucket, enabled):
        # moto keeps (and delivers) only the EventBridge part; the lab sends everything else.
        try:
            from moto.s3.models import NotificationConfiguration
            bucket.notification_configuration = NotificationConfiguration(event_bridge={}) if enabled else None
        except Exception:
            pass

    def _send_test_events(self, bucket, config):
        for arn in dict.fromkeys(r.arn for r in config.rules if r.kind in ("queue", "topic")):
            kind = "queue" if ":sqs:" in arn else "topic"
            message = s3_test_event(bucket, event_time=_now(), request_id=_request_id(), host_id=_host_id())
            self._send(kind, arn, message, function=None, request_id=None, what="test event")

    # -- the events ----------------------------------------------------------------------------------------
    def _observe(self, call):
        if not call.ok:
            return
        if call.service == "s3" and call.method == "DELETE" and not call.query:
            bucket, key = _path_parts(call)
            if bucket and not key:               # DeleteBucket: its configuration goes with it
                with self._lock:
                    self._configs.pop(bucket, None)
                return
        if not self._configs:                    # no bucket has notifications: nothing to look at
            return
        events = object_events(call)
        if not events:
            return
        with self._lock:
            configs = {e.bucket: self._configs.get(e.bucket) for e in events}
        for event in events:
            config = configs.get(event.bucket)
            if config and config.rules:
                self._notify(call, event, config)

    def _notify(self, call, event, config):
        bucket = _moto_bucket(event.bucket)
        encoded = encode_key(event.key)
        created = event.event_name.startswith("s3:ObjectCreated:")
        size = etag = None
        if created and bucket is not None:
            size, etag = _object_facts(bucket, event.key, event.version_id)
        versioned = bucket is not None and getattr(bucket, "versioning_status", None) in ("Enabled", "Suspended")
        facts = dict(bucket=event.bucket, key=event.key, region=getattr(bucket, "region_name", self.region),
                     event_time=_now(), principal_id=_principal_id(call.access_key),
                     source_ip="127.0.0.1", request_id=_request_id(), host_id=_host_id(),
                     owner_principal_id=_owner_id(self.account_id), size=size if created else None,
                     etag=etag if created else None, version_id=event.version_id if versioned else None,
                     sequencer=self._next_sequencer())
        takers = [rule for rule in config.rules if rule.event_matches(event.event_name)]
        common = dict(source="s3", bucket=event.bucket, key=event.key, event_name=event.event_name[3:],
                      principal_id=facts["principal_id"])
        if not takers:
            self.record.append("filtered", None, None, **common,
                               reason=f"no configuration of the bucket takes {event.event_name[3:]}")
            return
        for rule in takers:
            if rule.key_matches(encoded):
                record = s3_record(event.event_name[3:], configuration_id=rule.id, **facts)
                self._deliver(rule, {"Records": [record]}, call, event, facts["principal_id"])
                continue
            why = f"key {encoded!r} (as the record carries it) does not match " + " and ".join(
                f"{n} {v!r}" for n, v in (("prefix", rule.prefix), ("suffix", rule.suffix)) if v is not None)
            self.record.append("filtered", rule.function_name, None, **common, configuration_id=rule.id,
                               target=rule.arn, reason=why)

    def _deliver(self, rule, message, call, event, principal_id):
        details = dict(bucket=event.bucket, key=event.key, event_name=event.event_name[3:],
                       configuration_id=rule.id, principal_id=principal_id)
        if rule.kind != "lambda":
            self._send(rule.kind, rule.arn, message, function=None, request_id=None, **details)
            return
        request = InvocationRequest.caused_by(
            call.headers.get("x-amzn-trace-id"), rule.function_name, json.dumps(message).encode(),
            invocation_type="Event", source="s3", source_arn=f"arn:aws:s3:::{event.bucket}",
            source_account=self.account_id)
        try:
            self.async_queue.submit(request)
        except Exception as exc:       # the function was deleted since: S3 drops the event
            self.record.append("delivery_failed", rule.function_name, request.request_id, source="s3",
                               target=rule.arn, error=f"{type(exc).__name__}: {exc}", **details)
            return
        self.record.append("notification", rule.function_name, request.request_id, source="s3",
                           target=rule.arn, source_arn=request.source_arn, **details)

    def _send(self, kind, arn, message, *, function, request_id, **details):
        region = arn.split(":")[3]
        try:
            if kind == "queue":
                client = self._client("sqs", region)
                url = client.get_queue_url(QueueName=arn.split(":")[5],
                                           QueueOwnerAWSAccountId=arn.split(":")[4])["QueueUrl"]
                client.send_message(QueueUrl=url, MessageBody=json.dumps(message))
            else:
                self._client("sns", region).publish(TopicArn=arn, Message=json.dumps(message),
                                                    Subject=SNS_SUBJECT)
        except Exception as exc:       # gone since it was configured: S3 drops the message
            self.record.append("delivery_failed", function, request_id, source="s3", target=arn,
                               error=f"{type(exc).__name__}: {exc}", **details)
            return
        self.record.append("notification", function, request_id, source="s3", target=arn, **details)

    # -- helpers ---------------------------------------------------------------------------------------------
    def _client(self, service, region):
        key = (service, region)
        with self._lock:
            client = self._clients.get(key)
        if client is None:
            client = self.aws.client(service, region_name=region)
            with self._lock:
                client = self._clients.setdefault(key, client)
        return client

    def _next_sequencer(self):
        # Increases with every event: S3's sequencer orders the events of one key.
        with self._lock:
            self._sequence = max(self._sequence + 1, time.time_ns())
            return f"{self._sequence:018X}"

    def _answer(self, status, body, xml=False):
        headers = {"x-amz-request-id": _request_id(), "x-amz-id-2": _host_id()}
        if xml:
            headers["Content-Type"] = "application/xml"
        return status, headers, body

    def _error(self, exc):
        request_id, host_id = _request_id(), _host_id()
        parts = [f"<Code>{escape(exc.code)}</Code><Message>{escape(exc.message)}</Message>"]
        if exc.argument_name is not None:
            parts.append(f"<ArgumentName>{escape(exc.argument_name)}</ArgumentName>"
                         f"<ArgumentValue>{escape(exc.argument_value or '')}</ArgumentValue>")
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{"".join(parts)}<RequestId>{request_id}'
                f"</RequestId><HostId>{host_id}</HostId></Error>").encode()
        return exc.status, {"Content-Type": "application/xml", "x-amz-request-id": request_id,
                            "x-amz-id-2": host_id}, body


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _request_id():
    return secrets.token_hex(8).upper()


def _host_id():
    return base64.b64encode(secrets.token_bytes(56)).decode()


def _principal_id(access_key):
    """Who made the call, as the record names them: an IAM user (``AIDA...``) for the notebook's
    long-term key, a role session (``AROA...``) for a function's temporary credentials."""
    digest = hashlib.sha256((access_key or "anonymous").encode()).hexdigest().upper()
    letters = "".join(c for c in digest if c.isalnum())[:17]
    if not access_key:
        return "Anonymous"
    return f"AWS:AROA{letters}" if access_key.startswith("ASIA") else f"AWS:AIDA{letters}"


def _owner_id(account_id):
    return "A" + hashlib.sha256(account_id.encode()).hexdigest().upper()[:13]

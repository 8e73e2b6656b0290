"""Amazon SNS subscriptions of the lab's functions (protocol ``lambda``), with filter policies.

Subscriptions are made through the embedded SNS as on AWS (``Subscribe`` with ``Protocol="lambda"``
and a function's ARN, ``SetSubscriptionAttributes`` for ``FilterPolicy`` and ``FilterPolicyScope``,
``Unsubscribe``). This source follows those calls on the lab's endpoint and, for each ``Publish``
and ``PublishBatch`` entry moto accepted, invokes every subscribed function whose filter policy lets
the message through, asynchronously as SNS invokes Lambda (``source="sns"``, ``source_arn`` = the
topic), with the event Lambda receives: ``Records[0]`` = ``EventSource`` "aws:sns", ``EventVersion``,
``EventSubscriptionArn``, ``Sns`` {``Type`` "Notification", ``MessageId`` (the one ``Publish``
returned), ``TopicArn``, ``Subject``, ``Message``, ``Timestamp`` (the lab clock), signature fields,
``UnsubscribeUrl``, ``MessageAttributes`` {name: {``Type``, ``Value``}}}. A message a policy keeps
out is recorded as ``filtered``; one that goes through, as ``notification``.

Filter policies are AWS's (``lambdalab_ext.sources.patterns``): validated when set, with SNS's
messages and limits (5 keys, 150 combinations), a policy over them refused by ``Subscribe`` or
``SetSubscriptionAttributes`` with AWS's error.

What moto would do itself is neutralised, and pinned by tests: for a ``lambda`` subscription moto
calls its own Lambda backend, which does not know the lab's functions, so ``Publish`` failed (and
the topic's other subscriptions were skipped); its filter-policy checks count ``$or`` wrongly and
miss rules; a failed ``Subscribe`` left the subscription behind. Its other subscriptions (SQS,
HTTP) now filter with AWS's rules too.

>>> sns = lab.aws.client("sns")                                                            # doctest: +SKIP
>>> topic = sns.create_topic(Name="orders")["TopicArn"]                                     # doctest: +SKIP
>>> sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn.arn,                 # doctest: +SKIP
...                     Attributes={"FilterPolicy": '{"store": ["example_corp"]}'})
>>> sns.publish(TopicArn=topic, Message="hi",                                               # doctest: +SKIP
...             MessageAttributes={"store": {"DataType": "String", "StringValue": "example_corp"}})
"""

import base64
import json
import secrets
import threading
import xml.etree.ElementTree as ElementTree

from ..events.messaging import sns_message_attribute, sns_record
from ..request import InvocationRequest
from . import patterns
from .eventbridge import LabTime, after_import, is_lambda_arn

_calling = threading.local()       # which SNS API moto is answering in this thread (its messages differ)


# -- moto, neutralised -------------------------------------------------------------------------------
def _patch_sns_models(models):
    if getattr(models, "_lambdalab_patched", False):
        return
    models._lambdalab_patched = True
    from moto.sns.exceptions import SNSInvalidParameter

    publish = models.Subscription.publish

    def publish_as_lab(self, *args, **kwargs):
        if self.protocol == "lambda":
            return None           # the lab invokes its own functions (moto's Lambda knows none of them)
        return publish(self, *args, **kwargs)
    models.Subscription.publish = publish_as_lab

    set_attributes = models.SNSBackend.set_subscription_attributes

    def set_subscription_attributes(self, arn, name, value):
        subscription = next((s for s in self.subscriptions.values() if s.arn == arn), None)
        api = getattr(_calling, "api", "SetSubscriptionAttributes")
        if subscription is not None and name in ("FilterPolicy", "FilterPolicyScope"):
            scope = value if name == "FilterPolicyScope" else subscription.attributes.get("FilterPolicyScope")
            policy = value if name == "FilterPolicy" else subscription.attributes.get("FilterPolicy")
            try:
                if name == "FilterPolicyScope" and value not in patterns.FILTER_POLICY_SCOPES:
                    raise patterns.FilterPolicyError(f"FilterPolicyScope: Invalid value [{value}]. "
                                                     "Please use either MessageBody or MessageAttributes")
                if policy:
                    patterns.compile_filter_policy(policy, scope or "MessageAttributes")
            except patterns.FilterPolicyError as exc:
                raise SNSInvalidParameter(exc.message(api)) from None
        return set_attributes(self, arn, name, value)
    models.SNSBackend.set_subscription_attributes = set_subscription_attributes
    # The lab validated the policy above, with AWS's rules; moto's own check would refuse valid ones.
    models.SNSBackend._validate_filter_policy = lambda self, value, scope: None


def _patch_sns_responses(responses):
    if getattr(responses, "_lambdalab_patched", False):
        return
    responses._lambdalab_patched = True
    subscribe = responses.SNSResponse.subscribe

    def subscribe_as_aws(self):
        before = set(self.backend.subscriptions)
        _calling.api = "Subscribe"
        try:
            return subscribe(self)
        except Exception:
            # AWS creates nothing when Subscribe fails; moto had made the subscription already.
            for arn in set(self.backend.subscriptions) - before:
                self.backend.subscriptions.pop(arn, None)
            raise
        finally:
            _calling.api = None
    responses.SNSResponse.subscribe = subscribe_as_aws


def _patch_sns_utils(utils):
    if getattr(utils, "_lambdalab_patched", False):
        return
    utils._lambdalab_patched = True
    matches = utils.FilterPolicyMatcher.matches

    def matches_as_aws(self, message_attributes, message):
        policy = getattr(self, "_lambdalab_policy", None)
        if policy is None:
            try:
                policy = self._lambdalab_policy = patterns.compile_filter_policy(self.filter_policy,
                                                                                 self.filter_policy_scope)
            except patterns.FilterPolicyError:
                return matches(self, message_attributes, message)
        return policy.matches(message, message_attributes)
    utils.FilterPolicyMatcher.matches = matches_as_aws


def install_moto_patches():
    """Make moto's SNS behave as AWS's where the lab relies on it (idempotent)."""
    after_import("moto.sns.models", _patch_sns_models)
    after_import("moto.sns.responses", _patch_sns_responses)
    after_import("moto.sns.utils", _patch_sns_utils)


# -- query-protocol helpers ----------------------------------------------------------------------------
def _members(params, prefix):
    """``Prefix.1.Field=..., Prefix.2.Field=...`` as a list of {Field: value}, in index order."""
    groups = {}
    for key, value in params.items():
        if key.startswith(prefix):
            index, _, field = key[len(prefix):].partition(".")
            if index.isdigit():
                groups.setdefault(int(index), {})[field] = value
    return [groups[i] for i in sorted(groups)]


def _attributes(params, prefix="MessageAttributes.entry."):
    """Message attributes of a Publish (or of a PublishBatch entry), as the Lambda event carries them."""
    typed = {}
    for entry in _members(params, prefix):
        name, kind = entry.get("Name"), entry.get("Value.DataType")
        if not name or not kind:
            continue
        value = entry.get("Value.StringValue", entry.get("Value.BinaryValue"))   # binary: base64, as sent
        typed[name] = sns_message_attribute({"Type": kind, "Value": value})
    return typed


def _map(params, prefix):
    """``Attributes.entry.N.key/value`` (Subscribe's attributes) as a dict."""
    return {entry.get("key"): entry.get("value") for entry in _members(params, prefix) if entry.get("key")}


def _xml_values(body, tag):
    """The texts of every element named ``tag`` in a query-protocol answer (namespaces ignored)."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return []
    return [element.text for element in root.iter() if element.tag.rsplit("}", 1)[-1] == tag]


def _batch_ids(body):
    """PublishBatch's successful entries: {Id: MessageId}."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return {}
    found = {}
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] != "Successful":
            continue
        for member in element:
            fields = {child.tag.rsplit("}", 1)[-1]: child.text for child in member}
            if fields.get("Id"):
                found[fields["Id"]] = fields.get("MessageId")
    return found


# -- the source -------------------------------------------------------------------------------------
class _Subscription:
    __slots__ = ("arn", "topic_arn", "function_arn", "policy_text", "scope", "policy")

    def __init__(self, arn, topic_arn, function_arn):
        self.arn, self.topic_arn, self.function_arn = arn, topic_arn, function_arn
        self.policy_text = None
        self.scope = "MessageAttributes"
        self.policy = None

    def recompile(self):
        self.policy = None
        if self.policy_text:
            try:
                self.policy = patterns.compile_filter_policy(self.policy_text, self.scope)
            except patterns.FilterPolicyError:
                self.policy = _NOTHING     # SNS refused it when set; should it get here, nothing passes


class _Nothing:
    scope = "refused"

    @staticmethod
    def matches(message, attributes):
        return False


_NOTHING = _Nothing()


class SNSSource:
    """SNS topics' ``lambda`` subscriptions to the lab's functions.

    ``aws`` is the lab's ``AWSEndpoint``, ``async_queue`` its ``AsyncQueue``, ``clock`` and
    ``record`` the lab's. ``subscriptions()`` lists what this source knows.
    """

    def __init__(self, *, aws, async_queue, clock, record, region, account_id):
        install_moto_patches()
        self.async_queue, self.clock, self.record = async_queue, clock, record
        self.region, self.account_id = region, account_id
        self.time = LabTime(clock)
        self._lock = threading.Lock()
        self._subscriptions = {}            # subscription ARN -> _Subscription
        self._cert = (f"https://sns.{region}.amazonaws.com/SimpleNotificationService-"
                      f"{secrets.token_hex(16)}.pem")
        self._closed = False
        self._stop = aws.observe(self._observe)

    def subscriptions(self):
        with self._lock:
            return [{"arn": s.arn, "topic_arn": s.topic_arn, "function_arn": s.function_arn,
                     "filter_policy": s.policy_text, "filter_policy_scope": s.scope}
                    for s in self._subscriptions.values()]

    def close(self):
        self._closed = True
        self._stop()

    # -- observed calls ----------------------------------------------------------------------------
    def _observe(self, call):
        if call.service != "sns" or not call.ok or self._closed:
            return
        handler = {"Subscribe": self._on_subscribe, "SetSubscriptionAttributes": self._on_set_attributes,
                   "Unsubscribe": self._on_unsubscribe, "DeleteTopic": self._on_delete_topic,
                   "Publish": self._on_publish, "PublishBatch": self._on_publish_batch}.get(call.action)
        if handler is not None:
            handler(call, call.params)

    def _on_subscribe(self, call, params):
        if str(params.get("Protocol", "")).lower() != "lambda" or not is_lambda_arn(params.get("Endpoint")):
            return
        arns = _xml_values(call.response_body, "SubscriptionArn")
        if not arns or not arns[0]:
            return
        attributes = _map(params, "Attributes.entry.")
        with self._lock:
            subscription = self._subscriptions.get(arns[0]) or _Subscription(arns[0], params.get("TopicArn"),
                                                                            params.get("Endpoint"))
            if "FilterPolicyScope" in attributes:
                subscription.scope = attributes["FilterPolicyScope"] or "MessageAttributes"
            if "FilterPolicy" in attributes:
                subscription.policy_text = attributes["FilterPolicy"] or None
            subscription.recompile()
            self._subscriptions[subscription.arn] = subscription

    def _on_set_attributes(self, call, params):
        name, value = params.get("AttributeName"), params.get("AttributeValue")
        with self._lock:
            subscription = self._subscriptions.get(params.get("SubscriptionArn"))
            if subscription is None or name not in ("FilterPolicy", "FilterPolicyScope"):
                return
            if name == "FilterPolicy":
                subscription.policy_text = value or None
            else:
                subscription.scope = value or "MessageAttributes"
            subscription.recompile()

    def _on_unsubscribe(self, call, params):
        with self._lock:
            self._subscriptions.pop(params.get("SubscriptionArn"), None)

    def _on_delete_topic(self, call, params):
        with self._lock:
            for arn in [a for a, s in self._subscriptions.items() if s.topic_arn == params.get("TopicArn")]:
                del self._subscriptions[arn]

    def _on_publish(self, call, params):
        topic = params.get("TopicArn") or params.get("TargetArn")
        ids = _xml_values(call.response_body, "MessageId")
        if topic and ids:
            self._fan_out(topic, ids[0], params.get("Message", ""), params.get("Subject"),
                          params.get("MessageStructure"), _attributes(params), call.headers.get("x-amzn-trace-id"))

    def _on_publish_batch(self, call, params):
        topic = params.get("TopicArn")
        accepted = _batch_ids(call.response_body)
        trace = call.headers.get("x-amzn-trace-id")
        prefix = "PublishBatchRequestEntries.member."
        for index, entry in enumerate(_members(params, prefix), start=1):
            message_id = accepted.get(entry.get("Id"))
            if message_id is None:
                continue              # a failed entry: nothing was published
            attributes = _attributes(params, f"{prefix}{index}.MessageAttributes.entry.")
            self._fan_out(topic, message_id, entry.get("Message", ""), entry.get("Subject"),
                          entry.get("MessageStructure"), attributes, trace)

    # -- delivery ----------------------------------------------------------------------------------
    def _fan_out(self, topic_arn, message_id, message, subject, structure, attributes, trace):
        with self._lock:
            subscriptions = [s for s in self._subscriptions.values() if s.topic_arn == topic_arn]
        if not subscriptions:
            return
        if structure == "json":
            # "MessageStructure": json gives a message per protocol, "default" for the others.
            try:
                per_protocol = json.loads(message)
                message = per_protocol.get("lambda", per_protocol.get("default", message))
            except (ValueError, AttributeError):
                pass
        timestamp = self.time.epoch()
        for subscription in subscriptions:
            name = subscription.function_arn.split(":")[6]
            if subscription.policy is not None and not subscription.policy.matches(message, attributes):
                self.record.append("filtered", name, None, source="sns", topic_arn=topic_arn,
                                   subscription_arn=subscription.arn, message_id=message_id,
                                   reason=f"the subscription's filter policy ({subscription.scope}) does not match")
                continue
            region, account = subscription.function_arn.split(":")[3:5]
            if region != self.region or account != self.account_id:
                self.record.append("delivery_failed", name, None, via="sns", subscription_arn=subscription.arn,
                                   message_id=message_id,
                                   error=f"ResourceNotFoundException: {subscription.function_arn} is not a function "
                                         f"of this lab ({self.region}, account {self.account_id})")
                continue
            event = {"Records": [sns_record(
                message=message, subject=subject, attributes=attributes, topic_arn=topic_arn,
                subscription_arn=subscription.arn, message_id=message_id, timestamp=timestamp,
                signature=_signature(), signing_cert_url=self._cert,
                unsubscribe_url=f"https://sns.{self.region}.amazonaws.com/?Action=Unsubscribe&"
                                f"SubscriptionArn={subscription.arn}")]}
            request = InvocationRequest.caused_by(trace, name, json.dumps(event).encode("utf-8"),
                                                  invocation_type="Event", source="sns", source_arn=topic_arn)
            self.record.append("notification", name, request.request_id, source="sns", topic_arn=topic_arn,
                               subscription_arn=subscription.arn, message_id=message_id)
            try:
                self.async_queue.submit(request)
            except Exception as exc:     # no such function, payload over 1 MB, lab shutting down
                self.record.append("delivery_failed", name, request.request_id, via="sns",
                                   subscription_arn=subscription.arn, message_id=message_id,
                                   error=f"{type(exc).__name__}: {exc}")

    def __repr__(self):
        return f"<SNSSource: {len(self._subscriptions)} lambda subscriptions>"


def _signature():
    """Base64 of random bytes the length of SNS's RSA signature: nothing here can sign as SNS."""
    return base64.b64encode(secrets.token_bytes(256)).decode()

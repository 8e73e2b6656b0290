"""Sending to a destination or a dead-letter queue on the embedded services, as Lambda sends.

Destinations ("Retaining records of asynchronous invocations", Lambda Developer Guide): an SQS queue
or an SNS topic gets the invocation record as its message, a Lambda function gets it as the event
of an asynchronous invocation, an EventBridge bus gets it as ``detail`` with source ``lambda`` and
detail-type "Lambda Function Invocation Result - Success" (or "- Failure"), an S3 bucket (on failure
only) gets it as a JSON object under a key Lambda names (``async_queue.record_key``). A dead-letter queue (SQS or
SNS) gets the event itself, with ``RequestID``, ``ErrorCode`` and ``ErrorMessage`` attributes.
"""

import json


class Deliverer:
    """``deliver(arn, message, attributes)`` onto ``aws`` (an ``AWSEndpoint``); ``invoke_async(name,
    payload)`` queues an event for a function (a Lambda destination)."""

    def __init__(self, aws, invoke_async):
        self.aws = aws
        self.invoke_async = invoke_async
        self._clients = {}

    def _client(self, service, region):
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.aws.client(service, region_name=region)
        return self._clients[key]

    def __call__(self, arn, message, attributes=None, *, key=None):
        """Send ``message`` to ``arn``; an S3 destination needs the object's ``key`` (``async_queue.record_key``)."""
        parts = arn.split(":")
        if len(parts) < 6 or parts[0] != "arn":
            raise ValueError(f"not an ARN: {arn!r}")
        service, region, account, resource = parts[2], parts[3], parts[4], ":".join(parts[5:])
        body = message.decode("utf-8") if isinstance(message, (bytes, bytearray)) else json.dumps(message)
        if service == "sqs":
            client = self._client("sqs", region)
            url = client.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=account)["QueueUrl"]
            kwargs = {}
            if attributes:
                kwargs["MessageAttributes"] = {key: {"DataType": kind, "StringValue": value}
                                               for key, (kind, value) in attributes.items()}
            client.send_message(QueueUrl=url, MessageBody=body, **kwargs)
        elif service == "sns":
            kwargs = {}
            if attributes:
                kwargs["MessageAttributes"] = {key: {"DataType": kind, "StringValue": value}
                                               for key, (kind, value) in attributes.items()}
            self._client("sns", region).publish(TopicArn=arn, Message=body, **kwargs)
        elif service == "lambda":
            name = resource.split(":")[1] if resource.startswith("function:") else resource
            self.invoke_async(name, body.encode())
        elif service == "events":
            record = message if isinstance(message, dict) else json.loads(body)
            success = record.get("requestContext", {}).get("condition") == "Success"
            entry = {"Source": "lambda",
                     "DetailType": f"Lambda Function Invocation Result - {'Success' if success else 'Failure'}",
                     "Detail": body, "EventBusName": arn,
                     "Resources": [record.get("requestContext", {}).get("functionArn", "")]}
            out = self._client("events", region).put_events(Entries=[entry])
            if out.get("FailedEntryCount"):
                raise RuntimeError(f"EventBridge refused the record: {out['Entries']}")
        elif service == "s3":
            if key is None:
                raise ValueError(f"an S3 destination needs the record's key: {arn}")
            self._client("s3", region or None).put_object(Bucket=resource, Key=key, Body=body.encode(),
                                                          ContentType="application/json")
        else:
            raise ValueError(f"{service} is not a destination Lambda supports: {arn}")

"""Event sources: what invokes a function besides a direct call, each as Lambda's does it.

Pollers (event source mappings: SQS, DynamoDB streams, Kinesis) read a service on the lab clock and
invoke synchronously in batches; push sources (S3 and SNS notifications, EventBridge rules and
schedules) invoke asynchronously through the async queue. Every one of them builds an
``InvocationRequest`` with its ``source`` and ``source_arn`` and appends its steps to the lab record.
Sources sit beside the service and call down into it, never up into the lab or the magic.
"""

"""Event generators against the examples AWS documents, and the digests and encodings inside them.

Each fixture below is an example event copied from the AWS page named beside it. A generated event
must have the same structure: the same keys at every level, the same JSON types, null where AWS
shows null. Where the keys of a map are request data (headers, query parameters) only the value
types are compared; where the generator knowingly differs from the page, the difference is listed
with its reason next to the fixture. Pure and fast: no I/O, no engine.
"""

import base64
import datetime
import gzip
import hashlib
import json
import struct
import urllib.parse

import pytest

from lambdalab_ext import events


# --- structure comparison -------------------------------------------------------------------------

def json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise AssertionError(f"{value!r} is not a JSON value")


def shape_differences(actual, expected, path="$", open_maps=(), extra=(), differs=()):
    """Where ``actual``'s structure differs from ``expected``'s; array elements are ``path[]``.

    ``open_maps``: paths of maps whose keys are data, compared by value type only. ``extra``: paths
    the generator adds to AWS's example. ``differs``: paths whose JSON type knowingly differs.
    """
    if path in differs:
        return []
    kind, wanted = json_type(actual), json_type(expected)
    if kind != wanted:
        return [f"{path}: {kind}, AWS's example has {wanted}"]
    found = []
    if wanted == "object" and path in open_maps:
        if expected:
            sample = next(iter(expected.values()))
            for name, value in actual.items():
                found += shape_differences(value, sample, f"{path}.{name}", open_maps, extra, differs)
    elif wanted == "object":
        for name in expected.keys() - actual.keys():
            found.append(f"{path}.{name}: missing")
        for name in actual.keys() - expected.keys():
            if f"{path}.{name}" not in extra:
                found.append(f"{path}.{name}: not in AWS's example")
        for name in expected.keys() & actual.keys():
            found += shape_differences(actual[name], expected[name], f"{path}.{name}", open_maps, extra, differs)
    elif wanted == "array" and expected:
        if len(actual) == len(expected):
            pairs = zip(actual, expected)
        else:
            pairs = ((item, expected[0]) for item in actual)
        for item, model in pairs:
            found += shape_differences(item, model, f"{path}[]", open_maps, extra, differs)
    return found


def test_shape_comparison_catches_what_it_must():
    doc = {"a": None, "b": {"c": "x"}, "d": [{"e": 1}], "h": {"k": "v"}}
    assert shape_differences({"a": None, "b": {"c": "y"}, "d": [{"e": 2.5}], "h": {"z": "w"}}, doc,
                             open_maps={"$.h"}) == []
    assert shape_differences({"a": {}, "b": {"c": "y"}, "d": [], "h": {}}, doc, open_maps={"$.h"}) == [
        "$.a: object, AWS's example has null"]
    found = shape_differences({"a": None, "b": {"c": "y", "x": 1}, "d": [{"e": "1"}], "h": {"k": ["v"]}}, doc)
    assert sorted(found) == ["$.b.x: not in AWS's example", "$.d[].e: string, AWS's example has number",
                             "$.h.k: array, AWS's example has string"]
    assert shape_differences({"b": {"c": "y"}, "d": [], "h": {}}, doc, open_maps={"$.h"}) == ["$.a: missing"]
    assert shape_differences({"a": None, "b": {"c": "y"}, "d": [], "h": {}}, doc) == ["$.h.k: missing"]


# --- the documented examples ----------------------------------------------------------------------

# AWS Lambda Developer Guide, "Using AWS Lambda with Amazon S3": "Example Amazon S3 notification event".
S3_PUT_DOC = json.loads(r"""
{"Records": [{
  "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-2",
  "eventTime": "2019-09-03T19:37:27.192Z", "eventName": "ObjectCreated:Put",
  "userIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"},
  "requestParameters": {"sourceIPAddress": "205.255.255.255"},
  "responseElements": {"x-amz-request-id": "D82B88E5F771F645",
                       "x-amz-id-2": "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo="},
  "s3": {"s3SchemaVersion": "1.0", "configurationId": "828aa6fc-f7b5-4305-8584-487c791949c1",
         "bucket": {"name": "DOC-EXAMPLE-BUCKET", "ownerIdentity": {"principalId": "A3I5XTEXAMAI3E"},
                    "arn": "arn:aws:s3:::lambda-artifacts-deafc19498e3f2df"},
         "object": {"key": "b21b84d653bb07b05b1e6b33684dc11b", "size": 1305107,
                    "eTag": "b21b84d653bb07b05b1e6b33684dc11b", "sequencer": "0C0F6F405D6ED209E1"}}
}]}""")

# AWS SAM CLI, `sam local generate-event s3 delete` (samcli/lib/generated_sample_events/events/s3/
# S3Delete.json): an ObjectRemoved:Delete record, whose object has only key and sequencer.
S3_DELETE_DOC = json.loads(r"""
{"Records": [{
  "eventVersion": "2.0", "eventSource": "aws:s3", "awsRegion": "us-east-1",
  "eventTime": "1970-01-01T00:00:00.000Z", "eventName": "ObjectRemoved:Delete",
  "userIdentity": {"principalId": "EXAMPLE"},
  "requestParameters": {"sourceIPAddress": "127.0.0.1"},
  "responseElements": {"x-amz-request-id": "EXAMPLE123456789",
                       "x-amz-id-2": "EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH"},
  "s3": {"s3SchemaVersion": "1.0", "configurationId": "testConfigRule",
         "bucket": {"name": "example-bucket", "ownerIdentity": {"principalId": "EXAMPLE"},
                    "arn": "arn:aws:s3:::example-bucket"},
         "object": {"key": "test/key", "sequencer": "0A1B2C3D4E5F678901"}}
}]}""")

# AWS Lambda Developer Guide, "Using Lambda with Amazon SQS": "Example Amazon SQS message event
# (standard queue)" (its two records, the first with a message attribute).
SQS_DOC = json.loads(r"""
{"Records": [
  {"messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
   "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
   "body": "Test message.",
   "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183",
                  "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1545082649185"},
   "messageAttributes": {"myAttribute": {"stringValue": "myValue", "stringListValues": [],
                                         "binaryListValues": [], "dataType": "String"}},
   "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
   "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
   "awsRegion": "us-east-2"},
  {"messageId": "2e1424d4-f796-459a-8184-9c92662be6da",
   "receiptHandle": "AQEBzWwaftRI0KuVm4tP+/7q1rGgNqicHq...",
   "body": "Test message.",
   "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082650636",
                  "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1545082650649"},
   "messageAttributes": {},
   "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
   "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
   "awsRegion": "us-east-2"}
]}""")
# The page's example omits md5OfMessageAttributes; ReceiveMessage returns MD5OfMessageAttributes
# whenever a message has attributes ("ReceiveMessage", Amazon SQS API Reference) and the records
# Lambda delivers carry it (aws/aws-lambda-go events/testdata/sqs-event.json).
SQS_EXTRA = {"$.Records[].md5OfMessageAttributes"}

# Same page: "Example Amazon SQS message event (FIFO queue)".
SQS_FIFO_DOC = json.loads(r"""
{"Records": [
  {"messageId": "11d6ee51-4cc7-4302-9e22-7cd8afdaadf5",
   "receiptHandle": "AQEBBX8nesZEXmkhsmZeyIE8iQAMig7qw...",
   "body": "Test message.",
   "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1573251510774",
                  "SequenceNumber": "18849496460467696128", "MessageGroupId": "1",
                  "SenderId": "AIDAIO23YVJENQZJOL4VO", "MessageDeduplicationId": "1",
                  "ApproximateFirstReceiveTimestamp": "1573251510774"},
   "messageAttributes": {},
   "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
   "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:fifo.fifo",
   "awsRegion": "us-east-2"}
]}""")

# AWS Lambda Developer Guide, "Using AWS Lambda with Amazon SNS": "Example Amazon SNS message event".
SNS_DOC = json.loads(r"""
{"Records": [{
  "EventVersion": "1.0",
  "EventSubscriptionArn": "arn:aws:sns:us-east-2:123456789012:sns-lambda:21be56ed-a058-49f5-8c98-aedd2564c486",
  "EventSource": "aws:sns",
  "Sns": {"SignatureVersion": "1", "Timestamp": "2019-01-02T12:45:07.000Z",
          "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==",
          "SigningCertUrl": "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-ac565b8b1a6c5d002d285f9598aa1d9b.pem",
          "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e", "Message": "Hello from SNS!",
          "MessageAttributes": {"Test": {"Type": "String", "Value": "TestString"},
                                "TestBinary": {"Type": "Binary", "Value": "TestBinary"}},
          "Type": "Notification",
          "UnsubscribeUrl": "https://sns.us-east-2.amazonaws.com/?Action=Unsubscribe&amp;SubscriptionArn=arn:aws:sns:us-east-2:123456789012:test-lambda:21be56ed-a058-49f5-8c98-aedd2564c486",
          "TopicArn": "arn:aws:sns:us-east-2:123456789012:sns-lambda", "Subject": "TestInvoke"}
}]}""")

# AWS Lambda Developer Guide, "Using AWS Lambda with Amazon DynamoDB": "Example DynamoDB Streams
# record event".
DYNAMODB_DOC = json.loads(r"""
{"Records": [
  {"eventID": "1", "eventVersion": "1.0",
   "dynamodb": {"Keys": {"Id": {"N": "101"}},
                "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                "StreamViewType": "NEW_AND_OLD_IMAGES", "SequenceNumber": "111", "SizeBytes": 26},
   "awsRegion": "us-west-2", "eventName": "INSERT",
   "eventSourceARN": "arn:aws:dynamodb:us-west-2:111122223333:table/TestTable/stream/2015-05-11T21:21:33.291",
   "eventSource": "aws:dynamodb"},
  {"eventID": "2", "eventVersion": "1.0",
   "dynamodb": {"OldImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                "SequenceNumber": "222", "Keys": {"Id": {"N": "101"}}, "SizeBytes": 59,
                "NewImage": {"Message": {"S": "This item has changed"}, "Id": {"N": "101"}},
                "StreamViewType": "NEW_AND_OLD_IMAGES"},
   "awsRegion": "us-west-2", "eventName": "MODIFY",
   "eventSourceARN": "arn:aws:dynamodb:us-west-2:111122223333:table/TestTable/stream/2015-05-11T21:21:33.291",
   "eventSource": "aws:dynamodb"}
]}""")
# That example omits ApproximateCreationDateTime, which the DynamoDB Developer Guide's example below
# and "StreamRecord" (Amazon DynamoDB API Reference) include.
DYNAMODB_EXTRA = {"$.Records[].dynamodb.ApproximateCreationDateTime"}

# Amazon DynamoDB Developer Guide, "Tutorial #1: Using filters to process all events with Amazon
# DynamoDB and AWS Lambda using the AWS CLI", step 4 (payload.json, "a real record from DynamoDB
# Streams").
DYNAMODB_TUTORIAL_DOC = json.loads(r"""
{"Records": [{
  "eventID": "7de3041dd709b024af6f29e4fa13d34c", "eventName": "INSERT", "eventVersion": "1.1",
  "eventSource": "aws:dynamodb", "awsRegion": "region",
  "dynamodb": {"ApproximateCreationDateTime": 1479499740,
               "Keys": {"Timestamp": {"S": "2016-11-18:12:09:36"}, "Username": {"S": "John Doe"}},
               "NewImage": {"Timestamp": {"S": "2016-11-18:12:09:36"},
                            "Message": {"S": "This is a bark from the Woofer social network"},
                            "Username": {"S": "John Doe"}},
               "SequenceNumber": "13021600000000001596893679", "SizeBytes": 112, "StreamViewType": "NEW_IMAGE"},
  "eventSourceARN": "arn:aws:dynamodb:region:account ID:table/BarkTable/stream/2016-11-16T20:42:48.104"
}]}""")

# AWS Lambda Developer Guide, "Using AWS Lambda with Amazon Kinesis": "Example Kinesis record event".
KINESIS_DOC = json.loads(r"""
{"Records": [
  {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1",
               "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
               "data": "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==", "approximateArrivalTimestamp": 1545084650.987},
   "eventSource": "aws:kinesis", "eventVersion": "1.0",
   "eventID": "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
   "eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
   "awsRegion": "us-east-2", "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"},
  {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1",
               "sequenceNumber": "49590338271490256608559692540925702759324208523137515618",
               "data": "VGhpcyBpcyBvbmx5IGEgdGVzdC4=", "approximateArrivalTimestamp": 1545084711.166},
   "eventSource": "aws:kinesis", "eventVersion": "1.0",
   "eventID": "shardId-000000000006:49590338271490256608559692540925702759324208523137515618",
   "eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
   "awsRegion": "us-east-2", "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"}
]}""")

# AWS Lambda Developer Guide, "Using AWS Lambda with Amazon EventBridge (CloudWatch Events)":
# "Example EventBridge (CloudWatch Events) event".
EVENTBRIDGE_DOC = json.loads(r"""
{"version": "0", "id": "fe8d3c65-xmpl-c5c3-2c87-81584709a377", "detail-type": "RDS DB Instance Event",
 "source": "aws.rds", "account": "123456789012", "time": "2020-04-28T07:20:20Z", "region": "us-east-2",
 "resources": ["arn:aws:rds:us-east-2:123456789012:db:rdz6xmpliljlb1"],
 "detail": {"EventCategories": ["backup"], "SourceType": "DB_INSTANCE",
            "SourceArn": "arn:aws:rds:us-east-2:123456789012:db:rdz6xmpliljlb1",
            "Date": "2020-04-28T07:20:20.112Z", "Message": "Finished DB Instance backup",
            "SourceIdentifier": "rdz6xmpliljlb1"}}""")

# Same page: "Example EventBridge (CloudWatch Events) message event" (a schedule).
SCHEDULE_DOC = json.loads(r"""
{"version": "0", "account": "123456789012", "region": "us-east-2", "detail": {},
 "detail-type": "Scheduled Event", "source": "aws.events", "time": "2019-03-01T01:23:45Z",
 "id": "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
 "resources": ["arn:aws:events:us-east-2:123456789012:rule/my-schedule"]}""")

# AWS Lambda Developer Guide, "Using Lambda with CloudWatch Logs": "Example CloudWatch Logs message
# event" (its data truncated on the page) and "Example CloudWatch Logs message data (decoded)".
CLOUDWATCH_LOGS_DOC = json.loads(r"""
{"awslogs": {"data": "ewogICAgIm1lc3NhZ2VUeXBlIjogIkRBVEFfTUVTU0FHRSIsCiAgICAib3duZXIiOiAiMTIzNDU2Nzg5MDEyIiwKICAgICJsb2dHcm91cCI6I..."}}""")
CLOUDWATCH_LOGS_DECODED_DOC = json.loads(r"""
{"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/echo-nodejs",
 "logStream": "2019/03/13/[$LATEST]94fa867e5374431291a7fc14e2f56ae7",
 "subscriptionFilters": ["LambdaStream_cloudwatchlogs-node"],
 "logEvents": [{"id": "34622316099697884706540976068822859012661220141643892546", "timestamp": 1552518348220,
                "message": "REPORT RequestId: 6234bffe-149a-b642-81ff-2e8e376d8aff\tDuration: 46.84 ms\tBilled Duration: 47 ms \tMemory Size: 192 MB\tMax Memory Used: 72 MB\t\n"}]}""")

# Amazon API Gateway Developer Guide, "Lambda proxy integrations in API Gateway": "Input format of a
# Lambda function for proxy integration".
APIGATEWAY_REST_DOC = json.loads(r"""
{"resource": "/my/path", "path": "/my/path", "httpMethod": "GET",
 "headers": {"header1": "value1", "header2": "value2"},
 "multiValueHeaders": {"header1": ["value1"], "header2": ["value1", "value2"]},
 "queryStringParameters": {"parameter1": "value1", "parameter2": "value"},
 "multiValueQueryStringParameters": {"parameter1": ["value1", "value2"], "parameter2": ["value"]},
 "requestContext": {
   "accountId": "123456789012", "apiId": "id", "authorizer": {"claims": null, "scopes": null},
   "domainName": "id.execute-api.us-east-1.amazonaws.com", "domainPrefix": "id",
   "extendedRequestId": "request-id", "httpMethod": "GET",
   "identity": {"accessKey": null, "accountId": null, "caller": null, "cognitoAuthenticationProvider": null,
                "cognitoAuthenticationType": null, "cognitoIdentityId": null, "cognitoIdentityPoolId": null,
                "principalOrgId": null, "sourceIp": "IP", "user": null, "userAgent": "user-agent", "userArn": null,
                "clientCert": {"clientCertPem": "CERT_CONTENT", "subjectDN": "www.example.com",
                               "issuerDN": "Example issuer",
                               "serialNumber": "a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1",
                               "validity": {"notBefore": "May 28 12:30:02 2019 GMT",
                                            "notAfter": "Aug  5 09:36:04 2021 GMT"}}},
   "path": "/my/path", "protocol": "HTTP/1.1", "requestId": "id=", "requestTime": "04/Mar/2020:19:15:17 +0000",
   "requestTimeEpoch": 1583349317135, "resourceId": null, "resourcePath": "/my/path", "stage": "$default"},
 "pathParameters": null, "stageVariables": null, "body": "Hello from Lambda!", "isBase64Encoded": false}""")
# The page's example is the HTTP API's payload 1.0 (same text, with "version": "1.0", in "Create AWS
# Lambda proxy integrations for HTTP APIs in API Gateway"), where resourceId is null. A REST API
# always has a resource, and its id is $context.resourceId ("Variables for data transformations for
# API Gateway"; the SAM CLI's AwsProxy template carries "resourceId": "123456").
APIGATEWAY_REST_DIFFERS = {"$.requestContext.resourceId"}

# Amazon API Gateway Developer Guide, "Create AWS Lambda proxy integrations for HTTP APIs in API
# Gateway": the payload format 2.0 example.
APIGATEWAY_HTTP_DOC = json.loads(r"""
{"version": "2.0", "routeKey": "$default", "rawPath": "/my/path",
 "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
 "cookies": ["cookie1", "cookie2"],
 "headers": {"header1": "value1", "header2": "value1,value2"},
 "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
 "requestContext": {
   "accountId": "123456789012", "apiId": "api-id",
   "authentication": {"clientCert": {"clientCertPem": "CERT_CONTENT", "subjectDN": "www.example.com",
                                     "issuerDN": "Example issuer",
                                     "serialNumber": "a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1",
                                     "validity": {"notBefore": "May 28 12:30:02 2019 GMT",
                                                  "notAfter": "Aug  5 09:36:04 2021 GMT"}}},
   "authorizer": {"jwt": {"claims": {"claim1": "value1", "claim2": "value2"}, "scopes": ["scope1", "scope2"]}},
   "domainName": "id.execute-api.us-east-1.amazonaws.com", "domainPrefix": "id",
   "http": {"method": "POST", "path": "/my/path", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1",
            "userAgent": "agent"},
   "requestId": "id", "routeKey": "$default", "stage": "$default", "time": "12/Mar/2020:19:03:58 +0000",
   "timeEpoch": 1583348638390},
 "body": "Hello from Lambda", "pathParameters": {"parameter1": "value1"}, "isBase64Encoded": false,
 "stageVariables": {"stageVariable1": "value1", "stageVariable2": "value2"}}""")

# AWS Lambda Developer Guide, "Invoking Lambda function URLs": "Request payload format".
FUNCTION_URL_DOC = json.loads(r"""
{"version": "2.0", "routeKey": "$default", "rawPath": "/my/path",
 "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
 "cookies": ["cookie1", "cookie2"],
 "headers": {"header1": "value1", "header2": "value1,value2"},
 "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
 "requestContext": {
   "accountId": "123456789012", "apiId": "<urlid>", "authentication": null,
   "authorizer": {"iam": {"accessKey": "AKIA...", "accountId": "111122223333", "callerId": "AIDA...",
                          "cognitoIdentity": null, "principalOrgId": null,
                          "userArn": "arn:aws:iam::111122223333:user/example-user", "userId": "AIDA..."}},
   "domainName": "<url-id>.lambda-url.us-west-2.on.aws", "domainPrefix": "<url-id>",
   "http": {"method": "POST", "path": "/my/path", "protocol": "HTTP/1.1", "sourceIp": "123.123.123.123",
            "userAgent": "agent"},
   "requestId": "id", "routeKey": "$default", "stage": "$default", "time": "12/Mar/2020:19:03:58 +0000",
   "timeEpoch": 1583348638390},
 "body": "Hello from client!", "pathParameters": null, "isBase64Encoded": false, "stageVariables": null}""")

# AWS Lambda Developer Guide, "Using AWS Lambda with an Application Load Balancer": "Example
# Application Load Balancer request event".
ALB_DOC = json.loads(r"""
{"requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/lambda-279XGJDqGZ5rsrHC2Fjr/49e9d65c45c6791a"}},
 "httpMethod": "GET", "path": "/lambda", "queryStringParameters": {"query": "1234ABCD"},
 "headers": {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,image/apng,*/*;q=0.8",
             "accept-encoding": "gzip", "accept-language": "en-US,en;q=0.9", "connection": "keep-alive",
             "host": "lambda-alb-123578498.us-east-2.elb.amazonaws.com", "upgrade-insecure-requests": "1",
             "user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/71.0.3578.98 Safari/537.36",
             "x-amzn-trace-id": "Root=1-5c536348-3d683b8b04734faae651f476", "x-forwarded-for": "72.12.164.125",
             "x-forwarded-port": "80", "x-forwarded-proto": "http", "x-imforwards": "20"},
 "body": "", "isBase64Encoded": false}""")

DOC_QUERY = {"parameter1": ["value1", "value2"], "parameter2": "value"}
DOC_HEADERS = {"header1": "value1", "header2": ["value1", "value2"]}
REST_MAPS = {"$.headers", "$.multiValueHeaders", "$.queryStringParameters", "$.multiValueQueryStringParameters"}
V2_MAPS = {"$.headers", "$.queryStringParameters", "$.pathParameters", "$.stageVariables",
           "$.requestContext.authorizer.jwt.claims"}

SHAPES = [
    pytest.param("s3:put", {"bucket": "DOC-EXAMPLE-BUCKET", "key": "b21b84d653bb07b05b1e6b33684dc11b"},
                 S3_PUT_DOC, (), (), (), id="s3:put"),
    pytest.param("s3:delete", {}, S3_DELETE_DOC, (), (), (), id="s3:delete"),
    pytest.param("sqs", {"attributes": {"myAttribute": "myValue"}}, {"Records": SQS_DOC["Records"][:1]},
                 (), SQS_EXTRA, (), id="sqs-with-attribute"),
    pytest.param("sqs", {}, {"Records": SQS_DOC["Records"][1:]}, (), (), (), id="sqs"),
    pytest.param("sqs", {"queue": "fifo.fifo"}, SQS_FIFO_DOC, (), (), (), id="sqs-fifo"),
    pytest.param("sns", {"attributes": {"Test": "TestString", "TestBinary": {"Type": "Binary", "Value": "TestBinary"}}},
                 SNS_DOC, (), (), (), id="sns"),
    pytest.param("dynamodb", {"event_name": ["INSERT", "MODIFY"]}, DYNAMODB_DOC, (), DYNAMODB_EXTRA, (),
                 id="dynamodb"),
    pytest.param("dynamodb:insert", {"table": "BarkTable", "stream_view_type": "NEW_IMAGE",
                                     "keys": {"Timestamp": "2016-11-18:12:09:36", "Username": "John Doe"},
                                     "new_image": {"Message": "This is a bark from the Woofer social network"}},
                 DYNAMODB_TUTORIAL_DOC, (), (), (), id="dynamodb-tutorial"),
    pytest.param("kinesis", {"records": ["Hello, this is a test.", "This is only a test."]}, KINESIS_DOC,
                 (), (), (), id="kinesis"),
    pytest.param("eventbridge", {"detail": EVENTBRIDGE_DOC["detail"], "detail_type": "RDS DB Instance Event",
                                 "source": "aws.rds", "resources": EVENTBRIDGE_DOC["resources"]},
                 EVENTBRIDGE_DOC, (), (), (), id="eventbridge"),
    pytest.param("schedule", {}, SCHEDULE_DOC, (), (), (), id="schedule"),
    pytest.param("cloudwatch:logs", {}, CLOUDWATCH_LOGS_DOC, (), (), (), id="cloudwatch:logs"),
    pytest.param("apigateway:rest", {"body": "Hello from Lambda!", "path": "/my/path", "resource": "/my/path",
                                     "method": "GET", "query": DOC_QUERY, "headers": DOC_HEADERS,
                                     "stage": "$default", "authorizer": {"claims": None, "scopes": None},
                                     "client_cert": True},
                 APIGATEWAY_REST_DOC, REST_MAPS, (), APIGATEWAY_REST_DIFFERS, id="apigateway:rest"),
    pytest.param("apigateway:http", {"body": "Hello from Lambda", "path": "/my/path", "query": DOC_QUERY,
                                     "headers": DOC_HEADERS, "cookies": ["cookie1", "cookie2"],
                                     "path_parameters": {"parameter1": "value1"},
                                     "stage_variables": {"stageVariable1": "value1", "stageVariable2": "value2"},
                                     "jwt_claims": {"claim1": "value1", "claim2": "value2"},
                                     "jwt_scopes": ["scope1", "scope2"], "client_cert": True},
                 APIGATEWAY_HTTP_DOC, V2_MAPS, (), (), id="apigateway:http"),
    pytest.param("function-url", {"body": "Hello from client!", "path": "/my/path", "query": DOC_QUERY,
                                  "headers": DOC_HEADERS, "cookies": ["cookie1", "cookie2"], "auth_type": "AWS_IAM"},
                 FUNCTION_URL_DOC, V2_MAPS, (), (), id="function-url"),
    pytest.param("alb", {"path": "/lambda", "query": {"query": "1234ABCD"}}, ALB_DOC,
                 {"$.headers", "$.queryStringParameters"}, (), (), id="alb"),
]


@pytest.mark.parametrize("name, params, doc, open_maps, extra, differs", SHAPES)
def test_event_has_the_documented_structure(name, params, doc, open_maps, extra, differs):
    event = events.template(name, seed=7, **params)
    assert json.loads(json.dumps(event)) == event                   # plain JSON, as Lambda delivers it
    assert shape_differences(event, doc, open_maps=set(open_maps), extra=set(extra), differs=set(differs)) == []


def test_every_service_has_a_template_and_the_old_names_still_work():
    wanted = {"empty", "s3:put", "s3:delete", "sqs", "sns", "dynamodb", "dynamodb:insert", "dynamodb:modify",
              "dynamodb:remove", "kinesis", "eventbridge", "schedule", "cloudwatch:logs", "apigateway:rest",
              "apigateway:http", "function-url", "alb"}
    assert set(events.names()) == wanted
    assert events.names() == sorted(wanted)
    assert {doc.values[0] for doc in SHAPES} | {"empty", "dynamodb:modify", "dynamodb:remove"} == wanted
    assert events.template("empty") == {}
    rest = events.template("apigateway:rest")                        # what %%lambda --event gives
    assert rest["httpMethod"] == "POST" and rest["requestContext"]["stage"] == "prod"
    assert events.template("apigateway:http")["version"] == "2.0"
    assert events.template("apigateway")["resource"] == "/"          # aliases kept
    assert events.template("cloudwatch:scheduled-event", seed=1) == events.template("schedule", seed=1)
    listing = events.listing()
    assert all(f"  {name} " in listing for name in wanted)


def test_template_errors_say_what_to_do():
    with pytest.raises(KeyError, match="No event template 's3:nothing'. Templates: alb, "):
        events.template("s3:nothing")
    with pytest.raises(TypeError, match="no parameter buckett; it takes: bucket, key, body"):
        events.template("s3:put", buckett="x")
    with pytest.raises(ValueError, match="expected ObjectCreated"):
        events.s3_event("ObjectRestore:Completed")
    with pytest.raises(ValueError, match="expected INSERT, MODIFY or REMOVE"):
        events.template("dynamodb", event_name="UPSERT")
    with pytest.raises(ValueError, match="does not match resource"):
        events.template("apigateway:rest", path="/a/b", resource="/users/{id}")
    with pytest.raises(ValueError, match="NONE or AWS_IAM"):
        events.template("function-url", auth_type="COGNITO")


# --- seeds and freshness --------------------------------------------------------------------------

@pytest.mark.parametrize("name", events.names())
def test_a_seed_gives_the_same_event_every_time(name):
    first = json.dumps(events.template(name, seed=7), sort_keys=True)
    assert json.dumps(events.template(name, seed=7), sort_keys=True) == first
    if name != "empty":
        assert json.dumps(events.template(name, seed=8), sort_keys=True) != first


@pytest.mark.parametrize("name", [n for n in events.names() if n != "empty"])
def test_without_a_seed_every_event_is_new(name):
    assert events.template(name) != events.template(name)


def test_unseeded_time_is_now_and_time_can_be_set():
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    stamp = events.template("s3:put")["Records"][0]["eventTime"]
    seen = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    assert before <= seen <= before + datetime.timedelta(minutes=5)
    moment = datetime.datetime(2020, 3, 12, 19, 3, 58, 390000, tzinfo=datetime.timezone.utc)
    http = events.template("apigateway:http", time=moment)
    assert http["requestContext"]["time"] == "12/Mar/2020:19:03:58 +0000"
    assert http["requestContext"]["timeEpoch"] == 1584039838390
    assert events.template("schedule", time=moment.timestamp())["time"] == "2020-03-12T19:03:58Z"
    assert events.template("sns", time=moment)["Records"][0]["Sns"]["Timestamp"] == "2020-03-12T19:03:58.390Z"


# --- S3 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, encoded", [
    ("red flower.jpg", "red+flower.jpg"),                   # the S3 User Guide's own example
    ("photos/2024/cat.jpg", "photos/2024/cat.jpg"),         # slashes stay
    ("a+b=c&d.txt", "a%2Bb%3Dc%26d.txt"),                   # a literal + must not read back as a space
    ("logs/dt=2018-05-04/_SUCCESS", "logs/dt%3D2018-05-04/_SUCCESS"),      # aws-sam-cli#379
    ("test/10:47:07.log", "test/10%3A47%3A07.log"),          # aws/aws-sdk-js#837
    ("café (1).png", "caf%C3%A9+%281%29.png"),
])
def test_s3_keys_are_url_encoded_as_s3_sends_them(key, encoded):
    record = events.template("s3:put", key=key, seed=1)["Records"][0]
    assert record["s3"]["object"]["key"] == encoded
    assert urllib.parse.unquote_plus(encoded) == key       # what a handler does to get the key back
    assert events.template("s3:delete", key=key, seed=1)["Records"][0]["s3"]["object"]["key"] == encoded


def test_s3_object_fields_follow_the_event():
    put = events.template("s3:put", bucket="b", key="k", body=b"hello", seed=3)["Records"][0]
    assert put["s3"]["object"]["size"] == 5
    assert put["s3"]["object"]["eTag"] == hashlib.md5(b"hello").hexdigest()
    assert put["s3"]["bucket"] == {"name": "b", "ownerIdentity": put["s3"]["bucket"]["ownerIdentity"],
                                   "arn": "arn:aws:s3:::b"}
    versioned = events.template("s3:delete", version_id="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", seed=3)
    assert set(versioned["Records"][0]["s3"]["object"]) == {"key", "versionId", "sequencer"}


# --- SQS and SNS ----------------------------------------------------------------------------------

def test_md5_of_body_is_the_md5_of_the_body():
    event = events.template("sqs", body="Test message.", seed=2)
    assert event["Records"][0]["md5OfBody"] == SQS_DOC["Records"][0]["md5OfBody"]     # AWS's own example
    text = "naïve ✓"
    assert events.template("sqs", body=text, seed=2)["Records"][0]["md5OfBody"] == hashlib.md5(
        text.encode()).hexdigest()


# Digests computed by other implementations of the algorithm in "Calculating the MD5 message digest
# for message attributes" (Amazon SQS Developer Guide).
KNOWN_ATTRIBUTE_DIGESTS = [
    # ydb-platform/ydb, ydb/core/ymq/actor/ut/attributes_md5_ut.cpp, AmazonSampleWithString
    ({"test_attribute_name_2": {"dataType": "String", "stringValue": "test_attribute_value_2"},
      "test_attribute_name_1": {"dataType": "String", "stringValue": "test_attribute_value_1"}},
     "d53f3b558fe951154770f25cb63dbba9"),
    # same file, AmazonSampleWithBinary
    ({"test_attribute_name": {"dataType": "Binary", "binaryValue": b"test_attribute_value"}},
     "23f6bd27ea87aab7dfeadcc9aebee495"),
    # npm package aws-md5-of-message-attributes, README
    ({"attribName1": {"DataType": "String", "StringValue": "attribValue 1"}}, "19e27d4e946b072f3f58da80d94fd778"),
    ({"customNumberTypeAttrib": {"DataType": "Number.float",
                                 "StringValue": "4563442423554324324264524243.32543234"}},
     "9fe1b90bbd9965bdf77bac517c7d2495"),
    ({"binaryAttribute": {"DataType": "Binary",
                          "BinaryValue": base64.b64encode(b"Hello binary world!").decode()}},
     "31a92b15d92f8db860eda32aceb656c3"),
    ({"attribName1": {"DataType": "String", "StringValue": "attribValue 1"},
      "customNumberTypeAttrib": {"DataType": "Number.float", "StringValue": "4563442423554324324264524243.32543234"},
      "binaryAttribute": {"DataType": "Binary", "BinaryValue": base64.b64encode(b"Hello binary world!").decode()}},
     "c932db14a896c663f83c260297d594ff"),
    # wcharczuk/sqslite, internal/sqslite/md5_test.go
    ({"ordinal": {"DataType": "Number", "StringValue": "1"}, "category": {"DataType": "String", "StringValue": "test"}},
     "d21ae90c49061e927f57df5f5d72be1f"),
    # localstack, tests for sqs_listener.get_message_attributes_md5
    ({"timestamp": {"DataType": "Number", "StringValue": "1493147359900"}}, "235c5c510d26fb653d073faed50ae77c"),
]


@pytest.mark.parametrize("attributes, digest", KNOWN_ATTRIBUTE_DIGESTS)
def test_message_attribute_md5_matches_other_implementations(attributes, digest):
    assert events.md5_of_message_attributes(attributes) == digest


def test_records_carry_the_attribute_md5_only_with_attributes():
    attributes = {"ordinal": 1, "category": "test", "blob": b"\x00\x01", "price": {"dataType": "Number.float",
                                                                                  "stringValue": "9.99"}}
    event = events.template("sqs", attributes=attributes, count=3, seed=4)
    assert len(event["Records"]) == 3
    sent = [int(r["attributes"]["SentTimestamp"]) for r in event["Records"]]
    assert sent == sorted(sent)
    for record in event["Records"]:
        assert record["messageAttributes"]["ordinal"] == {"stringValue": "1", "stringListValues": [],
                                                          "binaryListValues": [], "dataType": "Number"}
        assert record["messageAttributes"]["blob"]["binaryValue"] == "AAE="
        assert record["md5OfMessageAttributes"] == events.md5_of_message_attributes(record["messageAttributes"])
    two = events.template("sqs", attributes={"ordinal": 1, "category": "test"}, seed=4)["Records"][0]
    assert two["md5OfMessageAttributes"] == "d21ae90c49061e927f57df5f5d72be1f"   # sqslite's value, via the event
    assert "md5OfMessageAttributes" not in events.template("sqs", seed=4)["Records"][0]
    assert len({r["messageId"] for r in event["Records"]}) == 3
    with pytest.raises(ValueError, match="at most 10"):
        events.template("sqs", attributes={f"a{i}": "x" for i in range(11)})


def test_md5_buffer_layout_is_the_documented_one():
    # The guide's steps, spelled out for one attribute: name, type, transport byte 1, value.
    def field(data):
        return struct.pack(">I", len(data)) + data
    buffer = field(b"n") + field(b"String") + b"\x01" + field("vé".encode())
    assert events.md5_of_message_attributes({"n": "vé"}) == hashlib.md5(buffer).hexdigest()


def test_sqs_batches_and_fifo_queues():
    event = events.template("sqs", bodies=["one", {"two": 2}], queue="orders.fifo", message_group_id="g1", seed=5)
    first, second = event["Records"]
    assert (first["body"], second["body"]) == ("one", '{"two": 2}')
    assert first["attributes"]["MessageGroupId"] == "g1"
    assert first["attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"one").hexdigest()
    assert int(second["attributes"]["SequenceNumber"]) > int(first["attributes"]["SequenceNumber"])
    assert first["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    assert "SequenceNumber" not in events.template("sqs", seed=5)["Records"][0]["attributes"]


def test_sns_attributes_and_subject():
    event = events.template("sns", message={"order": 7}, subject=None, count=2,
                            attributes={"kind": "order", "n": 3, "raw": b"\xff", "tags": ["a", "b"]}, seed=6)
    first = event["Records"][0]["Sns"]
    assert first["Message"] == '{"order": 7}' and first["Subject"] is None
    assert first["MessageAttributes"] == {"kind": {"Type": "String", "Value": "order"},
                                          "n": {"Type": "Number", "Value": "3"},
                                          "raw": {"Type": "Binary", "Value": "/w=="},
                                          "tags": {"Type": "String.Array", "Value": '["a", "b"]'}}
    assert event["Records"][0]["EventSubscriptionArn"].startswith(first["TopicArn"] + ":")
    assert first["MessageId"] != event["Records"][1]["Sns"]["MessageId"]
    assert events.template("sns", seed=6)["Records"][0]["Sns"]["MessageAttributes"] == {}


# --- DynamoDB Streams and Kinesis -----------------------------------------------------------------

def test_dynamodb_records_carry_the_documented_values():
    event = events.template("dynamodb", event_name=["INSERT", "MODIFY"], table="TestTable", region="us-west-2",
                            account="111122223333", seed=9)
    for ours, theirs in zip(event["Records"], DYNAMODB_DOC["Records"]):
        for part in ("Keys", "NewImage", "OldImage", "SizeBytes", "StreamViewType"):
            assert ours["dynamodb"].get(part) == theirs["dynamodb"].get(part), part
        assert ours["eventSourceARN"].startswith("arn:aws:dynamodb:us-west-2:111122223333:table/TestTable/stream/")
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in event["Records"]]
    assert sequences == sorted(sequences) and all(21 <= len(str(s)) <= 40 for s in sequences)


@pytest.mark.parametrize("view, insert_parts, modify_parts, remove_parts", [
    ("NEW_AND_OLD_IMAGES", {"NewImage"}, {"NewImage", "OldImage"}, {"OldImage"}),
    ("NEW_IMAGE", {"NewImage"}, {"NewImage"}, set()),
    ("OLD_IMAGE", set(), {"OldImage"}, {"OldImage"}),
    ("KEYS_ONLY", set(), set(), set()),
])
def test_stream_view_type_decides_the_images(view, insert_parts, modify_parts, remove_parts):
    records = events.template("dynamodb", stream_view_type=view, seed=1)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record, parts in zip(records, (insert_parts, modify_parts, remove_parts)):
        assert set(record["dynamodb"]) & {"NewImage", "OldImage"} == parts
        assert record["dynamodb"]["StreamViewType"] == view
        assert record["dynamodb"]["Keys"] == {"Id": {"N": "101"}}


def test_dynamodb_typed_values():
    assert events.marshal({"s": "x", "n": 1.5, "i": -7, "b": b"\x01", "t": True, "z": None,
                           "l": [1, "a"], "m": {"k": {"deep": 0}}, "ss": {"b", "a"}, "ns": {3, 1},
                           "bs": {b"\x02"}}) == {
        "s": {"S": "x"}, "n": {"N": "1.5"}, "i": {"N": "-7"}, "b": {"B": "AQ=="}, "t": {"BOOL": True},
        "z": {"NULL": True}, "l": {"L": [{"N": "1"}, {"S": "a"}]}, "m": {"M": {"k": {"M": {"deep": {"N": "0"}}}}},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "3"]}, "bs": {"BS": ["Ag=="]}}
    with pytest.raises(ValueError, match="no empty sets"):
        events.attribute_value(set())
    one = events.template("dynamodb:modify", keys={"pk": "user#1", "sk": 2}, old_image={"n": 1},
                          new_image={"n": 2}, seed=2)["Records"][0]["dynamodb"]
    assert one["Keys"] == {"pk": {"S": "user#1"}, "sk": {"N": "2"}}
    assert one["OldImage"] == {"n": {"N": "1"}, "pk": {"S": "user#1"}, "sk": {"N": "2"}}
    assert one["NewImage"]["n"] == {"N": "2"}
    assert isinstance(one["ApproximateCreationDateTime"], int)


def test_dynamodb_named_templates_and_ttl_removes():
    for name, event_name in (("dynamodb:insert", "INSERT"), ("dynamodb:modify", "MODIFY"),
                             ("dynamodb:remove", "REMOVE")):
        records = events.template(name, count=2, seed=3)["Records"]
        assert [r["eventName"] for r in records] == [event_name] * 2
    removed = events.template("dynamodb:remove", ttl=True, seed=3)["Records"][0]
    assert removed["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert "userIdentity" not in events.template("dynamodb:remove", seed=3)["Records"][0]


def test_kinesis_data_is_base64_and_sequence_numbers_grow():
    event = events.template("kinesis", records=["Hello, this is a test.", "This is only a test.", b"\x00\xff",
                                                {"temp": 21.5}], shard_id="shardId-000000000006", seed=11)
    data = [r["kinesis"]["data"] for r in event["Records"]]
    assert data[:2] == [r["kinesis"]["data"] for r in KINESIS_DOC["Records"]]       # AWS's own encoding
    assert base64.b64decode(data[2]) == b"\x00\xff"
    assert json.loads(base64.b64decode(data[3])) == {"temp": 21.5}
    numbers = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert all(len(n) == 56 and n.isdigit() for n in numbers)
    assert [int(n) for n in numbers] == sorted(int(n) for n in numbers) and len(set(numbers)) == 4
    for record in event["Records"]:
        assert record["eventID"] == f"shardId-000000000006:{record['kinesis']['sequenceNumber']}"
        assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)
    assert len(events.template("kinesis", count=5, seed=1)["Records"]) == 5


# --- CloudWatch Logs ------------------------------------------------------------------------------

def test_cloudwatch_logs_are_gzip_then_base64_and_decode_back():
    message = CLOUDWATCH_LOGS_DECODED_DOC["logEvents"][0]["message"]
    event = events.template("cloudwatch:logs", messages=[message, {"message": "two", "timestamp": 1552518348999}],
                            log_group="/aws/lambda/echo-nodejs", seed=12)
    raw = base64.b64decode(event["awslogs"]["data"])
    assert raw[:2] == b"\x1f\x8b"                                      # a gzip member
    payload = json.loads(gzip.decompress(raw))
    assert shape_differences(payload, CLOUDWATCH_LOGS_DECODED_DOC) == []
    assert [e["message"] for e in payload["logEvents"]] == [message, "two"]
    assert payload["logEvents"][1]["timestamp"] == 1552518348999
    assert all(len(e["id"]) == 56 for e in payload["logEvents"])
    assert events.decode_cloudwatch_logs(event) == payload
    assert events.decode_cloudwatch_logs(event["awslogs"]) == payload
    assert events.decode_cloudwatch_logs(event["awslogs"]["data"]) == payload
    assert events.decode_cloudwatch_logs({"awslogs": {"data": events.encode_cloudwatch_logs(payload)}}) == payload


# --- HTTP -----------------------------------------------------------------------------------------

def test_rest_api_sends_null_for_what_is_absent():
    event = events.template("apigateway:rest", method="GET", seed=1)
    assert (event["queryStringParameters"], event["multiValueQueryStringParameters"]) == (None, None)
    assert (event["pathParameters"], event["stageVariables"], event["body"]) == (None, None, None)
    assert event["resource"] == "/" and event["isBase64Encoded"] is False
    assert "authorizer" not in event["requestContext"] and "clientCert" not in event["requestContext"]["identity"]
    users = events.template("apigateway:rest", path="/users/42/photos/a/b.jpg", resource="/users/{id}/photos/{key+}",
                            query={"tag": ["x", "y"]}, headers={"X-Trace": ["1", "2"]}, body=b"\x89PNG", seed=1)
    assert users["pathParameters"] == {"id": "42", "key": "a/b.jpg"}
    assert users["queryStringParameters"] == {"tag": "y"}
    assert users["multiValueQueryStringParameters"] == {"tag": ["x", "y"]}
    assert users["headers"]["X-Trace"] == "2" and users["multiValueHeaders"]["X-Trace"] == ["1", "2"]
    assert users["isBase64Encoded"] is True and base64.b64decode(users["body"]) == b"\x89PNG"
    assert users["requestContext"]["path"] == "/prod/users/42/photos/a/b.jpg"


def test_http_api_leaves_out_what_is_absent_and_joins_repeats():
    event = events.template("apigateway:http", method="GET", seed=1)
    for absent in ("cookies", "queryStringParameters", "body", "pathParameters", "stageVariables"):
        assert absent not in event
    assert event["rawQueryString"] == ""
    assert "authorizer" not in event["requestContext"] and "authentication" not in event["requestContext"]
    full = events.template("apigateway:http", path="/items/7", route_key="GET /items/{id}", method="GET",
                           query={"q": ["a b", "c"]}, headers={"Cookie": "s=1; t=2", "X-A": ["1", "2"]},
                           lambda_context={"tenant": "t1"}, stage="prod", seed=1)
    assert full["cookies"] == ["s=1", "t=2"] and "cookie" not in full["headers"]
    assert full["headers"]["x-a"] == "1,2"
    assert full["queryStringParameters"] == {"q": "a b,c"} and full["rawQueryString"] == "q=a%20b&q=c"
    assert full["pathParameters"] == {"id": "7"}
    assert full["requestContext"]["authorizer"] == {"lambda": {"tenant": "t1"}}
    assert full["rawPath"] == full["requestContext"]["http"]["path"] == "/prod/items/7"
    iam = events.template("apigateway:http", iam=True, seed=1)["requestContext"]["authorizer"]["iam"]
    assert set(iam) == set(FUNCTION_URL_DOC["requestContext"]["authorizer"]["iam"])


def test_function_url_placeholders():
    event = events.template("function-url", method="GET", seed=1)
    context = event["requestContext"]
    assert event["routeKey"] == context["routeKey"] == context["stage"] == "$default"
    assert event["requestContext"]["authentication"] is None and event["requestContext"]["authorizer"] is None
    assert event["pathParameters"] is None and event["stageVariables"] is None
    assert event["requestContext"]["domainName"].endswith(".lambda-url.us-east-1.on.aws")
    assert "body" not in event and "cookies" not in event
    caller = events.template("function-url", auth_type="AWS_IAM", caller={"userArn": "arn:aws:iam::1:user/ada"},
                             seed=1)["requestContext"]["authorizer"]["iam"]
    assert caller["userArn"] == "arn:aws:iam::1:user/ada" and caller["cognitoIdentity"] is None


def test_alb_multi_value_setting_picks_the_maps():
    single = events.template("alb", query={"k": ["1", "2"]}, headers={"X-My": ["a", "b"]}, seed=1)
    assert single["queryStringParameters"] == {"k": "2"} and single["headers"]["x-my"] == "b"
    assert "multiValueHeaders" not in single and "multiValueQueryStringParameters" not in single
    multi = events.template("alb", query={"k": ["1", "2"]}, headers={"X-My": ["a", "b"]}, multi_value_headers=True,
                            seed=1)
    assert multi["multiValueQueryStringParameters"] == {"k": ["1", "2"]}
    assert multi["multiValueHeaders"]["x-my"] == ["a", "b"]
    assert "headers" not in multi and "queryStringParameters" not in multi
    # The documented event, with the target group's multi-value setting on: every map holds lists.
    doc_multi = dict(ALB_DOC, multiValueHeaders={k: [v] for k, v in ALB_DOC["headers"].items()},
                     multiValueQueryStringParameters={"query": ["1234ABCD"]})
    del doc_multi["headers"], doc_multi["queryStringParameters"]
    assert shape_differences(multi, doc_multi,
                             open_maps={"$.multiValueHeaders", "$.multiValueQueryStringParameters"}) == []
    bare = events.template("alb", seed=1)
    assert bare["queryStringParameters"] == {} and bare["body"] == "" and bare["isBase64Encoded"] is False
    assert bare["requestContext"]["elb"]["targetGroupArn"].startswith(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-target/")


def test_message_attribute_md5_matches_what_the_embedded_sqs_computes():
    """The same attributes sent through the embedded SQS (moto): its MD5OfMessageAttributes is ours."""
    from lambdalab_ext.aws import AWSEndpoint
    aws = AWSEndpoint()
    try:
        sqs = aws.client("sqs")
        url = sqs.create_queue(QueueName="md5-check")["QueueUrl"]
        attributes = {"colour": {"DataType": "String", "StringValue": "blue"},
                      "size": {"DataType": "Number", "StringValue": "42"},
                      "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01bytes"}}
        sent = sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes=attributes)
        ours = events.md5_of_message_attributes(
            {k: {key[0].lower() + key[1:]: value for key, value in v.items()} for k, v in attributes.items()})
        assert sent["MD5OfMessageAttributes"] == ours
        assert sent["MD5OfMessageBody"] == hashlib.md5(b"hello").hexdigest()
    finally:
        aws.stop()


@pytest.mark.parametrize("body", ['{"order": 1}', 'quote " backslash \\ tab \t nul \x00', "h\u00e9 \u2028 \U0001F600",
                                  "", "x" * 5000])
@pytest.mark.parametrize("fifo", [False, True])
def test_an_sqs_record_written_directly_is_the_json_of_the_record(body, fifo):
    from lambdalab_ext.events.messaging import sqs_record, sqs_record_json
    attributes = {"ApproximateReceiveCount": 2, "SentTimestamp": 1700000000000, "SenderId": "AIDAEXAMPLE",
                  "ApproximateFirstReceiveTimestamp": 1700000000001,
                  "AWSTraceHeader": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}
    if fifo:
        attributes.update(SequenceNumber="18849496460467696128", MessageGroupId="g\"1",
                          MessageDeduplicationId="d-1")
    kwargs = dict(attributes=attributes, queue_arn="arn:aws:sqs:us-east-1:123456789012:q.fifo", region="us-east-1")
    direct = sqs_record_json("059f36b4-87a3-44ab-83d2-661975830a7d", "AQEB/+==", body, **kwargs)
    assert direct == json.dumps(sqs_record("059f36b4-87a3-44ab-83d2-661975830a7d", "AQEB/+==", body, **kwargs)).encode()
    with_attributes = dict(kwargs, message_attributes={"k": {"DataType": "String", "StringValue": "v"}})
    assert sqs_record_json("m", "r", body, **with_attributes) == json.dumps(sqs_record("m", "r", body, **with_attributes)).encode()

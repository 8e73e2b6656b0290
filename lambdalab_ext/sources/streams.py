"""Event source mappings on DynamoDB streams and Kinesis data streams, polled on the lab clock.

As Lambda's stream pollers do ("Using AWS Lambda with Amazon DynamoDB", "How Lambda processes
records from Amazon Kinesis Data Streams", "Retain discarded batch records for a Kinesis Data
Streams event source"; parameters: "Lambda parameters for Amazon Kinesis Data Streams event source
mappings"):

- Each shard is read in order (``GetRecords`` through the embedded services) and its records go to
  the function synchronously, in batches of up to ``BatchSize`` (default 100, at most 10,000) or
  6 MB, after at most ``MaximumBatchingWindowInSeconds`` (0-300).
- A batch that fails (a function error, a timeout, a throttle) is retried, and the shard waits: the
  records behind it are not processed until it succeeds, is discarded, or expires. With the
  defaults (``MaximumRetryAttempts`` and ``MaximumRecordAgeInSeconds`` -1, infinite) a poison record
  blocks its shard until the stream's retention (24 hours here) drops it, and ``IteratorAge`` grows.
- ``BisectBatchOnFunctionError`` splits a failed batch in two and retries each half; splitting does
  not consume the retry quota, so a poison record ends up alone in a batch of one.
- ``MaximumRetryAttempts`` (0-10,000) and ``MaximumRecordAgeInSeconds`` (60-604,800) discard a batch
  that cannot be processed; ``DestinationConfig.OnFailure`` then gets a record of it, and the shard
  goes on: an SQS queue or SNS topic gets metadata, not the records (``DDBStreamBatchInfo`` /
  ``KinesisBatchInfo``); an S3 bucket gets the same with the batch itself as ``payload``, in an object
  named ``aws/lambda/ESM-UUID/SHARD-ID/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<UUID>``.
- ``FunctionResponseTypes=["ReportBatchItemFailures"]``: the response's ``batchItemFailures``
  checkpoints the shard at the lowest failed sequence number: only records from it on are retried.
- ``ParallelizationFactor`` (1-10): a shard's records are split by partition key (Kinesis) or item key
  (DynamoDB) into that many lanes, processed concurrently, each in order.

Time: a record's age counts from the lab-clock moment the poller first read it (moto stamps records
with the wall clock, which a virtual lab clock does not follow); the poller reads a shard once a
second while it has records or a retry pending, and otherwise waits for a write to the stream (it
observes the embedded service), so that an idle stream costs nothing on a clock advanced by days.
Retries of a failed batch back off from one second to five minutes on the lab clock (AWS gives no
interval). Tumbling windows are not modelled.
"""

import base64
import concurrent.futures
import datetime
import hashlib
import json
import threading
import time
import uuid

from ..async_queue import record_key
from ..errors import InvalidParameterValueException, TooManyRequestsException
from .mappings import SourceKind, register_source_kind

POLL_INTERVAL_S = 1.0            # a shard with work is read once a second (Kinesis' base rate)
# A failed batch is retried after 1 s, then 2, 4... at most 5 minutes apart (on the lab clock). AWS
# documents no interval; backing off keeps a poison record's day of retries a few hundred invocations.
RETRY_FIRST_S, RETRY_MAX_S = 1.0, 300.0
RETENTION_S = 24 * 3600.0        # both streams keep records 24 hours by default
MAX_BATCH_BYTES = 6 * 1024 * 1024
GET_RECORDS_LIMIT = 1000         # per GetRecords call (DynamoDB Streams' maximum)

DEFAULTS = {"BatchSize": 100, "MaximumBatchingWindowInSeconds": 0, "BisectBatchOnFunctionError": False,
            "MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": -1, "ParallelizationFactor": 1,
            "FunctionResponseTypes": [], "DestinationConfig": {}, "TumblingWindowInSeconds": 0}
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")


def stream_kind(arn):
    """``"dynamodb"`` or ``"kinesis"`` for a stream ARN, else None."""
    parts = (arn or "").split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    if parts[2] == "dynamodb" and "/stream/" in parts[5]:
        return "dynamodb"
    if parts[2] == "kinesis" and parts[5].startswith("stream/"):
        return "kinesis"
    return None


def _invalid(message):
    raise InvalidParameterValueException(message)


def validate(options, arn):
    """The stream mapping's settings with Lambda's defaults, checked as CreateEventSourceMapping
    checks them; raises ``InvalidParameterValueException``."""
    kind = stream_kind(arn)
    if kind is None:
        _invalid(f"EventSourceArn {arn!r} is not a DynamoDB stream or a Kinesis stream ARN.")
    config = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    position = config.get("StartingPosition")
    if position is None:
        _invalid("StartingPosition is required for a stream event source.")
    if position not in STARTING_POSITIONS or (position == "AT_TIMESTAMP" and kind != "kinesis"):
        allowed = STARTING_POSITIONS if kind == "kinesis" else STARTING_POSITIONS[:2]
        _invalid(f"1 validation error detected: Value '{position}' at 'startingPosition' failed to satisfy "
                 f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]")
    if position == "AT_TIMESTAMP" and config.get("StartingPositionTimestamp") is None:
        _invalid("StartingPositionTimestamp is required when StartingPosition is AT_TIMESTAMP.")

    def whole(name, low, high, extra=()):
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, int) or not (low <= value <= high or value in extra):
            _invalid(f"1 validation error detected: Value '{value}' at '{name[0].lower() + name[1:]}' failed to "
                     f"satisfy constraint: Member must have value {'-1 or ' if extra else ''}between {low} and {high}")

    whole("BatchSize", 1, 10_000)
    whole("MaximumBatchingWindowInSeconds", 0, 300)
    whole("MaximumRetryAttempts", 0, 10_000, extra=(-1,))
    whole("MaximumRecordAgeInSeconds", 60, 604_800, extra=(-1,))
    whole("ParallelizationFactor", 1, 10)
    whole("TumblingWindowInSeconds", 0, 900)
    if not isinstance(config["BisectBatchOnFunctionError"], bool):
        _invalid("BisectBatchOnFunctionError must be a boolean.")
    types = list(config["FunctionResponseTypes"] or [])
    if any(t != "ReportBatchItemFailures" for t in types):
        _invalid("FunctionResponseTypes accepts only ReportBatchItemFailures.")
    config["FunctionResponseTypes"] = types
    failure = ((config["DestinationConfig"] or {}).get("OnFailure") or {}).get("Destination")
    if failure is not None:
        service = failure.split(":")[2] if failure.count(":") >= 5 else ""
        if service not in ("sqs", "sns", "s3"):
            _invalid(f"The OnFailure destination {failure!r} must be an SQS queue, an SNS topic or an S3 bucket ARN.")
    return config


class _Record:
    __slots__ = ("event", "sequence", "arrived", "size")

    def __init__(self, event, sequence, arrived):
        self.event, self.sequence, self.arrived = event, sequence, arrived
        self.size = len(json.dumps(event))


class _Lane:
    """One ordered line of records of a shard (a shard has ParallelizationFactor of them)."""

    def __init__(self, shard, index):
        self.shard, self.index = shard, index
        self.buffer = []          # records read, not yet processed, in shard order
        self.attempts = 0         # invocations of the current batch so far
        self.halves = []          # sizes of the batches a bisected batch was split into, still to run
        self.retry_at = None      # lab-clock moment of the next retry of a failed batch
        self.lock = threading.Lock()


class _Shard:
    def __init__(self, shard_id, lanes):
        self.id = shard_id
        self.iterator = None
        self.lanes = [_Lane(self, i) for i in range(lanes)]


class StreamPoller:
    """The poller of one stream event source mapping (``UUID``) for one function.

    ``aws`` is the lab's ``AWSEndpoint``; ``invoke(request)`` the service's synchronous invoke of an
    ``InvocationRequest``; ``deliver(arn, message, attributes)`` sends the on-failure record;
    ``request_factory(payload)`` builds the ``InvocationRequest`` (so the caller names the function,
    source and trace). The poller starts reading at ``start()`` and stops at ``close()``.
    """

    def __init__(self, uuid_, arn, config, *, function_name, function_arn, aws, invoke, request_factory, clock,
                 record, deliver, region):
        self.uuid, self.arn, self.config = uuid_, arn, config
        self.kind = stream_kind(arn)
        self._stream_name = arn.split(":", 5)[5].split("/", 1)[1] if self.kind == "kinesis" else None
        self.function_name, self.function_arn = function_name, function_arn
        self._aws, self._invoke, self._make_request = aws, invoke, request_factory
        self._clock, self._record, self._deliver, self._region = clock, record, deliver, region
        self._client = aws.client("dynamodbstreams" if self.kind == "dynamodb" else "kinesis", region_name=region)
        self._shards = {}
        self._scheduled = None
        self._lock = threading.Lock()
        self._closed = False
        self._running = self._again = False
        self._stop_observing = None
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=10, thread_name_prefix="lambdalab-stream")
        self.last_result = "No records processed"
        self.iterator_age_ms = 0.0

    # -- life ------------------------------------------------------------------------------------
    def start(self):
        self._stop_observing = self._aws.observe(self._on_call)
        self._discover(initial=True)
        self._schedule(0.0)

    def update(self, mapping):
        """New settings of the mapping: they apply from the next batch."""
        self.config = mapping.settings

    def stop(self):
        """Disabled or deleted: no more reads; what was read and not processed stays in the stream."""
        self.close()

    def close(self):
        with self._lock:
            self._closed = True
            scheduled, self._scheduled = self._scheduled, None
        if scheduled is not None:
            scheduled.cancel()
        if self._stop_observing is not None:
            self._stop_observing()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _on_call(self, call):
        """A write to the stream's table or stream: read soon (at the next poll tick)."""
        if not call.ok or self._closed:
            return
        if self.kind == "kinesis" and call.service == "kinesis" and call.action in ("PutRecord", "PutRecords"):
            body = call.json()
            if body.get("StreamARN") == self.arn or self.arn.endswith("stream/" + str(body.get("StreamName"))):
                self._schedule(0.0)
        elif self.kind == "dynamodb" and call.service == "dynamodb":
            table = self.arn.split(":", 5)[5].split("/")[1]
            if call.action in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
                               "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction") and \
                    table in call.body.decode("utf-8", "replace"):
                self._schedule(0.0)

    def _schedule(self, delay):
        with self._lock:
            if self._closed:
                return
            when = self._clock.now() + delay
            if self._scheduled is not None and not self._scheduled.cancelled and self._scheduled.when <= when:
                return
            if self._scheduled is not None:
                self._scheduled.cancel()
            self._scheduled = self._clock.call_at(when, self._fire, name=f"poll stream mapping {self.uuid}")

    def _fire(self):
        """A virtual clock runs the read in ``advance()`` itself (so that what falls due is done when
        it returns); the real clock's thread only hands it to a worker, never waits on a function."""
        if hasattr(self._clock, "advance"):
            self._tick()
            return
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        try:
            self._pool.submit(self._tick_once)
        except RuntimeError:      # closed meanwhile
            with self._lock:
                self._running = False

    def _tick_once(self):
        try:
            self._tick()
        finally:
            with self._lock:
                self._running, again = False, self._again
                self._again = False
            if again:
                self._schedule(0.0)

    # -- reading -----------------------------------------------------------------------------------
    def _describe(self):
        if self.kind == "dynamodb":
            return self._client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        # By name: moto's Kinesis loses the stream of an iterator asked for by StreamARN.
        return self._client.list_shards(StreamName=self._stream_name)["Shards"]

    def _iterator(self, shard_id, position):
        kwargs = {"ShardId": shard_id, "ShardIteratorType": position}
        if position == "AT_TIMESTAMP":
            kwargs["Timestamp"] = self.config["StartingPositionTimestamp"]
        if self.kind == "dynamodb":
            return self._client.get_shard_iterator(StreamArn=self.arn, **kwargs)["ShardIterator"]
        return self._client.get_shard_iterator(StreamName=self._stream_name, **kwargs)["ShardIterator"]

    def _discover(self, initial=False):
        for shard in self._describe():
            shard_id = shard["ShardId"]
            if shard_id in self._shards:
                continue
            state = _Shard(shard_id, self.config["ParallelizationFactor"])
            # A shard that appears later is read from its start.
            state.iterator = self._iterator(shard_id, self.config["StartingPosition"] if initial else "TRIM_HORIZON")
            self._shards[shard_id] = state

    def _read(self, shard, now):
        while shard.iterator:
            out = self._client.get_records(ShardIterator=shard.iterator, Limit=GET_RECORDS_LIMIT)
            shard.iterator = out.get("NextShardIterator")
            records = out.get("Records") or []
            for raw in records:
                record = self._event_record(shard.id, raw)
                lane = shard.lanes[self._lane_of(raw) % len(shard.lanes)]
                lane.buffer.append(_Record(record, self._sequence(raw), now))
            if not records:
                return

    def _lane_of(self, raw):
        key = raw.get("PartitionKey") if self.kind == "kinesis" else json.dumps(raw["dynamodb"].get("Keys"),
                                                                                  sort_keys=True)
        return int(hashlib.md5(str(key).encode()).hexdigest(), 16)

    def _sequence(self, raw):
        return raw["SequenceNumber"] if self.kind == "kinesis" else raw["dynamodb"]["SequenceNumber"]

    def _event_record(self, shard_id, raw):
        """A record as Lambda hands it to the function (AWS Lambda Developer Guide's example events)."""
        if self.kind == "dynamodb":
            stream = dict(raw["dynamodb"])
            created = stream.get("ApproximateCreationDateTime")
            if isinstance(created, datetime.datetime):
                stream["ApproximateCreationDateTime"] = int(created.timestamp())
            record = {"eventID": raw["eventID"], "eventName": raw["eventName"], "eventVersion": "1.1",
                      "eventSource": "aws:dynamodb", "awsRegion": raw.get("awsRegion", self._region),
                      "dynamodb": stream, "eventSourceARN": self.arn}
            if raw.get("userIdentity"):
                record["userIdentity"] = raw["userIdentity"]
            return record
        arrived = raw.get("ApproximateArrivalTimestamp")
        data = raw.get("Data", b"")
        return {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": raw["PartitionKey"],
                            "sequenceNumber": raw["SequenceNumber"],
                            "data": base64.b64encode(data if isinstance(data, bytes) else str(data).encode()).decode(),
                            "approximateArrivalTimestamp": arrived.timestamp()
                            if isinstance(arrived, datetime.datetime) else arrived},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": f"{shard_id}:{raw['SequenceNumber']}", "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{self.function_arn.split(':')[4]}:role/lambdalab-default-role",
                "awsRegion": self._region, "eventSourceARN": self.arn}

    # -- processing ------------------------------------------------------------------------------
    def _tick(self):
        with self._lock:
            self._scheduled = None
            if self._closed:
                return
        now = self._clock.now()
        try:
            self._discover()
            for shard in self._shards.values():
                self._read(shard, now)
        except Exception as exc:   # the stream is gone or the endpoint stopped: say so, try later
            self.last_result = f"PROBLEM: {type(exc).__name__}: {exc}"
            self._schedule(POLL_INTERVAL_S)
            return
        lanes = [lane for shard in self._shards.values() for lane in shard.lanes if lane.buffer]
        if len(lanes) > 1:
            list(self._pool.map(lambda lane: self._drain(lane, now), lanes))
        else:
            for lane in lanes:
                self._drain(lane, now)
        pending = [lane for shard in self._shards.values() for lane in shard.lanes if lane.buffer]
        if pending:
            due = [lane.retry_at for lane in pending if lane.retry_at is not None]
            window_due = [lane.buffer[0].arrived + self.config["MaximumBatchingWindowInSeconds"]
                          for lane in pending if lane.retry_at is None]
            # The next moment something is due (a retry, a window closing); new records wake the
            # poller by themselves (it observes writes), so a blocked shard costs one read per retry.
            next_at = min(due + window_due) if due or window_due else now + POLL_INTERVAL_S
            self._schedule(max(0.0, next_at - self._clock.now()))
        # else: nothing left; the next write to the stream schedules the next read

    def _drain(self, lane, now):
        """Process what a lane has, in order, until it is empty or has to wait."""
        with lane.lock:
            while lane.buffer and not self._closed:
                self._expire(lane, now)
                if not lane.buffer:
                    return
                if lane.retry_at is not None and now < lane.retry_at:
                    return
                window = self.config["MaximumBatchingWindowInSeconds"]
                size = lane.halves[0] if lane.halves else self.config["BatchSize"]
                if (lane.retry_at is None and window and len(lane.buffer) < size
                        and now < lane.buffer[0].arrived + window):
                    return   # the batching window is still open
                batch, total = [], 0
                for item in lane.buffer[:size]:
                    if batch and total + item.size > MAX_BATCH_BYTES:
                        break
                    batch.append(item)
                    total += item.size
                if not self._run(lane, batch, now):
                    return

    def _expire(self, lane, now):
        """Records past the stream's retention are gone; past MaximumRecordAgeInSeconds, discarded."""
        gone = 0
        while lane.buffer and now - lane.buffer[0].arrived >= RETENTION_S:
            lane.buffer.pop(0)
            gone += 1
        if gone:
            lane.attempts, lane.halves, lane.retry_at = 0, [], None
            self._record.append("expired", self.function_name, None, source=self.kind, mapping=self.uuid,
                                shard=lane.shard.id, records=gone, reason="stream retention (24 hours)")
        max_age = self.config["MaximumRecordAgeInSeconds"]
        if max_age != -1 and lane.buffer and now - lane.buffer[0].arrived > max_age:
            stale = [r for r in lane.buffer[:self.config["BatchSize"]] if now - r.arrived > max_age]
            self._discard(lane, stale, now, "MaximumRecordAgeExceeded", None)

    def _run(self, lane, batch, now):
        """One invocation of ``batch``; True if the lane may go on at once."""
        payload = json.dumps({"Records": [r.event for r in batch]}).encode()
        request = self._make_request(payload)
        iterator_age_ms = (now - batch[-1].arrived) * 1000
        self.iterator_age_ms = iterator_age_ms
        lane.attempts += 1
        error = None
        try:
            result = self._invoke(request)
        except TooManyRequestsException as exc:
            result, error = None, f"TooManyRequestsException: {exc.details.get('Reason', exc)}"
        failed_from = None     # index of the first record to retry, None when all succeeded
        if result is not None:
            if not result.ok:
                failed_from = 0
                error = (result.error or {}).get("errorType", "Unhandled")
            elif "ReportBatchItemFailures" in self.config["FunctionResponseTypes"]:
                failed_from = self._first_failure(result, batch)
                if failed_from is not None:
                    error = "batchItemFailures"
        else:
            failed_from = 0      # throttled before it ran: retried until the records are too old
            lane.attempts -= 1   # ("Before invocation": not a retry of the function)
        self._record.append("batch", self.function_name, request.request_id, source=self.kind, mapping=self.uuid,
                            shard=lane.shard.id, lane=lane.index, size=len(batch), attempt=lane.attempts,
                            first_sequence=batch[0].sequence, last_sequence=batch[-1].sequence,
                            iterator_age_ms=iterator_age_ms,
                            outcome="success" if failed_from is None else "partial" if failed_from else "failure",
                            error=error)
        if failed_from is None:
            del lane.buffer[:len(batch)]
            lane.attempts, lane.retry_at = 0, None
            if lane.halves:
                lane.halves.pop(0)
            self.last_result = "OK"
            return True
        if failed_from:
            # Checkpoint at the lowest failed sequence number: what came before it is done.
            self._record.append("batch_item_failures", self.function_name, request.request_id, mapping=self.uuid,
                                shard=lane.shard.id, retried_from=batch[failed_from].sequence,
                                succeeded=failed_from)
            del lane.buffer[:failed_from]
            batch = batch[failed_from:]
            if lane.halves:
                lane.halves[0] = len(batch)
        self.last_result = "PROBLEM: Function call failed"
        retries = self.config["MaximumRetryAttempts"]
        if result is not None and not result.ok and self.config["BisectBatchOnFunctionError"] and len(batch) > 1:
            first = (len(batch) + 1) // 2      # the halves run one after the other, each its own batch;
            lane.halves[:1] = [first, len(batch) - first]   # splitting does not consume the retry quota:
            lane.attempts = 0                                # each half starts with all of it
            lane.retry_at = None
            return True
        if retries != -1 and lane.attempts > retries:
            self._discard(lane, batch, now, "RetryAttemptsExhausted", result)
            return True
        lane.retry_at = self._clock.now() + min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** max(0, lane.attempts - 1))
        return False

    @staticmethod
    def _first_failure(result, batch):
        """The index of the lowest failed sequence number in a partial batch response, 0 when the
        response is malformed (the whole batch failed), None when nothing failed."""
        try:
            body = result.payload
        except Exception:
            return 0
        if body is None or body == {} or body == "":
            return None
        if not isinstance(body, dict):
            return None
        failures = body.get("batchItemFailures")
        if failures is None or failures == []:
            return None
        if not isinstance(failures, list):
            return 0
        index = {r.sequence: i for i, r in enumerate(batch)}
        lowest = None
        for failure in failures:
            ident = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not isinstance(ident, str) or ident not in index:
                return 0      # an identifier that is not in the batch: the whole batch failed
            lowest = index[ident] if lowest is None else min(lowest, index[ident])
        return lowest

    def _discard(self, lane, batch, now, condition, result):
        """Give up on ``batch``: the on-failure destination gets a record of it; the lane goes on."""
        if not batch:
            return
        del lane.buffer[:len(batch)]
        attempts = lane.attempts
        lane.attempts, lane.retry_at = 0, None
        if lane.halves:
            lane.halves.pop(0)
        info_key = "DDBStreamBatchInfo" if self.kind == "dynamodb" else "KinesisBatchInfo"

        def at(moment):
            epoch = time.time() - (self._clock.now() - moment)
            return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat(timespec="milliseconds") \
                .replace("+00:00", "Z")

        record = {
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": self.function_arn,
                               "condition": condition, "approximateInvokeCount": attempts},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                "functionError": "Unhandled"} if result is not None else {},
            "version": "1.0",
            "timestamp": at(now),
            info_key: {"shardId": lane.shard.id, "startSequenceNumber": batch[0].sequence,
                       "endSequenceNumber": batch[-1].sequence,
                       "approximateArrivalOfFirstRecord": at(batch[0].arrived),
                       "approximateArrivalOfLastRecord": at(batch[-1].arrived),
                       "batchSize": len(batch), "streamArn": self.arn},
        }
        target = ((self.config["DestinationConfig"] or {}).get("OnFailure") or {}).get("Destination")
        details = dict(source=self.kind, mapping=self.uuid, shard=lane.shard.id, records=len(batch),
                       condition=condition)
        if target:
            try:
                if target.split(":")[2] == "s3":
                    # Only an S3 destination gets the batch itself, as the event's JSON text.
                    record["payload"] = json.dumps({"Records": [r.event for r in batch]})
                    details["key"] = record_key(f"aws/lambda/{self.uuid}/{lane.shard.id}",
                                                time.time() - (self._clock.now() - now))
                    self._deliver(target, record, None, key=details["key"])
                else:
                    self._deliver(target, record, None)
            except Exception as exc:
                self._record.append("delivery_failed", self.function_name, None, target=target,
                                    error=f"{type(exc).__name__}: {exc}", **details)
            else:
                self._record.append("destination", self.function_name, None, target=target, **details)
        else:
            self._record.append("exhausted", self.function_name, None, **details)


# -- as an event source mapping kind (``sources.mappings``) --------------------------------------
class _StreamSource(SourceKind):
    """DynamoDB streams and Kinesis in ``CreateEventSourceMapping`` (see ``sources.mappings``)."""

    settings_names = ("BatchSize", "MaximumBatchingWindowInSeconds", "StartingPosition",
                      "StartingPositionTimestamp", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
                      "MaximumRecordAgeInSeconds", "ParallelizationFactor", "FunctionResponseTypes",
                      "DestinationConfig", "TumblingWindowInSeconds")

    def __init__(self, name):
        self.name = name

    def matches(self, arn):
        return stream_kind(arn) == self.name

    def validate(self, settings, arn, context, function):
        return validate(dict(settings), arn)

    def fields(self, mapping):
        out = {k: v for k, v in mapping.settings.items() if k != "StartingPositionTimestamp" or v is not None}
        poller = mapping.poller
        out["LastProcessingResult"] = poller.last_result if poller is not None else "No records processed"
        return out

    def poller(self, mapping, context):
        from ..request import InvocationRequest

        def request(payload):
            return InvocationRequest(function_name=mapping.function_name, payload=payload, source=self.name,
                                     source_arn=mapping.event_source_arn)

        return StreamPoller(mapping.uuid, mapping.event_source_arn, mapping.settings,
                            function_name=mapping.function_name, function_arn=mapping.function_arn,
                            aws=context.aws, invoke=context.service.invoke_request, request_factory=request,
                            clock=context.clock, record=context.record, deliver=context.deliver,
                            region=context.region)


for _name in ("dynamodb", "kinesis"):
    register_source_kind(_StreamSource(_name))

"""X-Ray traces of the lab's functions: the Lambda service's segments, built from what the lab sees.

With active tracing (``lab.deploy(..., tracing="Active")``, ``TracingConfig: {"Mode": "Active"}``) or a
sampled incoming trace header (``Sampled=1``), each invocation yields X-Ray segment documents as X-Ray
stores them ("AWS X-Ray segment documents",
https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html):

- the Lambda service segment (``origin: "AWS::Lambda"``) for the whole request, and
- the function segment (``origin: "AWS::Lambda::Function"``) with its ``Initialization`` (cold starts
  only: INIT's duration), ``Invocation`` and ``Overhead`` subsegments, and one subsegment for every
  AWS call the function made, seen at the lab's endpoint (name = the service, ``namespace: "aws"``,
  ``aws.operation``, ``http.response.status``, ``error``/``throttle`` for 4xx, ``fault`` for 5xx):
  a function needs no SDK to be traced.

The function receives ``_X_AMZN_TRACE_ID`` = ``Root=...;Parent=<function segment id>;Sampled=1``, as in
Lambda, so segments the X-Ray SDK or OpenTelemetry send with ``PutTraceSegments`` (to the endpoint)
join the function segment. The X-Ray daemon's UDP port (127.0.0.1:2000) is not reachable from a
function's sandbox: there is no daemon in the lab.

The X-Ray API answers on the lab endpoint (REST JSON, signing name ``xray``): ``PutTraceSegments``,
``GetTraceSummaries`` (filter expressions: see ``FilterExpression``), ``BatchGetTraces``,
``GetServiceGraph``.

>>> traces = attach(lab)                                                           # doctest: +SKIP
>>> fn = lab.deploy("hello", "def handler(e, c): return 1", tracing="Active")      # doctest: +SKIP
>>> r = fn.invoke({})                                                              # doctest: +SKIP
>>> trace = traces.trace_of(r.request_id)                                          # doctest: +SKIP
>>> [s["name"] for s in trace_segments(trace)[1]["subsegments"]]                   # doctest: +SKIP
['Initialization', 'Invocation', 'Overhead']
"""

import json
import re
import secrets
import threading
import time
import uuid

from ..limits import function_arn

__all__ = ["attach", "TracesService", "TraceStore", "FilterExpression", "InvalidRequestException",
           "parse_trace_header", "trace_segments", "walk"]

_TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_SEGMENT_ID = re.compile(r"[0-9a-f]{16}")
_PASSTHROUGH = "x-lambdalab-traces-passthrough"
# The names X-Ray gives AWS services in subsegments and on the service map (the SDKs' names).
_SERVICE_NAMES = {"s3": "S3", "dynamodb": "DynamoDB", "sqs": "SQS", "sns": "SNS", "events": "EventBridge",
                  "kinesis": "Kinesis", "states": "SFN", "logs": "CloudWatchLogs", "monitoring": "CloudWatch",
                  "secretsmanager": "SecretsManager", "ssm": "SSM", "kms": "KMS", "sts": "STS", "iam": "IAM",
                  "lambda": "Lambda", "firehose": "Firehose", "ses": "SES", "apigateway": "APIGateway"}
# Where a downstream invocation came from, and the upstream call that caused it.
_SOURCE_SERVICES = {"sqs": "SQS", "sns": "SNS", "s3": "S3", "events": "EventBridge", "lambda-api": "Lambda"}


class InvalidRequestException(Exception):
    """X-Ray's 400 error (``InvalidRequestException``), with its message."""

    error_type = "InvalidRequestException"
    status_code = 400

    def as_response(self):
        return {"__type": self.error_type, "Message": str(self), "message": str(self)}


# -- the trace header ---------------------------------------------------------------------------------
def parse_trace_header(header):
    """``X-Amzn-Trace-Id`` as a dict of its fields (``Root``, ``Parent``, ``Sampled``, ``Lineage``...).

    >>> parse_trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    {'Root': '1-5759e988-bd862e3fe1be46a994272793', 'Parent': '53995c3f42cd8ad8', 'Sampled': '1'}
    """
    fields = {}
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key:
            fields[key] = value
    return fields


def _header(fields):
    return ";".join(f"{k}={v}" for k, v in fields.items())


def _new_id():
    return secrets.token_hex(8)


# -- documents ---------------------------------------------------------------------------------------
def walk(document, depth=0):
    """Yield ``(depth, entity)`` for a segment and every subsegment below it, depth-first in order."""
    yield depth, document
    for sub in document.get("subsegments") or ():
        yield from walk(sub, depth + 1)


def trace_segments(trace):
    """The segment documents (dicts) of a trace as ``BatchGetTraces`` returns it (``Segments`` of
    ``{"Id", "Document"}``), or of a list of documents, ordered by start time."""
    if isinstance(trace, dict) and "Segments" in trace:
        docs = [json.loads(s["Document"]) if isinstance(s["Document"], str) else s["Document"]
                for s in trace["Segments"]]
    else:
        docs = [json.loads(d) if isinstance(d, str) else d for d in trace]
    return sorted(docs, key=lambda d: d.get("start_time", 0))


def _check_document(doc):
    """X-Ray's required fields (PutTraceSegments: name, id, trace_id, start_time, end_time or
    in_progress; a subsegment sent alone also type "subsegment" and parent_id)."""
    if not isinstance(doc, dict):
        raise InvalidRequestException("A segment document must be a JSON object.")
    for field in ("name", "id", "trace_id", "start_time"):
        if field not in doc:
            raise InvalidRequestException(f"Segment document is missing the required field '{field}'.")
    if not isinstance(doc["name"], str) or not 1 <= len(doc["name"]) <= 200:
        raise InvalidRequestException("Segment name must be a string of 1-200 characters.")
    if not isinstance(doc["id"], str) or not _SEGMENT_ID.fullmatch(doc["id"]):
        raise InvalidRequestException(f"Segment id {doc['id']!r} is not 16 hexadecimal digits.")
    if not isinstance(doc["trace_id"], str) or not _TRACE_ID.fullmatch(doc["trace_id"]):
        raise InvalidRequestException(f"Trace id {doc['trace_id']!r} is not of the form 1-xxxxxxxx-"
                                      "xxxxxxxxxxxxxxxxxxxxxxxx.")
    if not isinstance(doc["start_time"], (int, float)) or isinstance(doc["start_time"], bool):
        raise InvalidRequestException("start_time must be a number of epoch seconds.")
    if "end_time" not in doc and doc.get("in_progress") is not True:
        raise InvalidRequestException("Specify either an end_time or in_progress.")
    if doc.get("type") == "subsegment" and not doc.get("parent_id"):
        raise InvalidRequestException("A subsegment sent alone needs its parent_id.")


def _flags(status):
    if status is None or status < 400:
        return {}
    if status == 429:
        return {"error": True, "throttle": True}
    return {"error": True} if status < 500 else {"fault": True}


def _node_type(entity):
    """The service map type of a call's downstream node. "AWS::DynamoDB::Table for an Amazon DynamoDB
    table that the application used ... AWS::DynamoDB for downstream calls to Amazon DynamoDB that
    didn't target a specific table" (InsightImpactGraphService,
    https://docs.aws.amazon.com/xray/latest/api/API_InsightImpactGraphService.html)."""
    if entity.get("namespace") != "aws":
        return "remote"
    if entity["name"] == "DynamoDB" and (entity.get("aws") or {}).get("table_name"):
        return "AWS::DynamoDB::Table"
    return f"AWS::{entity['name']}"


def _end(entity):
    return entity.get("end_time", entity.get("start_time", 0))


# -- filter expressions ---------------------------------------------------------------------------
_TOKEN = re.compile(r"""\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>"(?:[^"\\]|\\.)*")
                        |(?P<op>>=|<=|!=|=|<|>|!|\(|\)|,|:|\{|\})
                        |(?P<word>[A-Za-z_][\w.\-]*))""", re.X)
_NUMERIC = {"duration", "responsetime", "http.status"}
_BOOLEAN = {"ok", "error", "fault", "throttle", "partial"}
_STRINGS = {"http.url", "http.method", "http.useragent", "http.clientip", "user"}


class FilterExpression:
    """X-Ray's filter expressions ("Use filter expressions",
    https://docs.aws.amazon.com/xray/latest/devguide/xray-console-filters.html), the part the lab
    supports: boolean keywords (``ok``, ``error``, ``fault``, ``throttle``, ``partial``, also
    ``error = true``), numeric keywords (``duration``, ``responsetime`` in seconds, ``http.status``)
    with ``= != < <= > >=``, string keywords (``http.url``, ``http.method``, ``user``) with ``=``,
    ``!=``, ``CONTAINS``, ``BEGINSWITH``, ``ENDSWITH``, ``annotation.KEY``, ``service("name")`` and
    ``service(id(name: "name", type: "AWS::Lambda::Function"))``, combined with ``AND``, ``OR``, ``!``
    and parentheses. Not supported (``InvalidRequestException``): ``edge()``, ``group.*``,
    ``rootcause.*``, ``json()``, sub-filters in braces (``service("a") { fault }``) and ``id()`` alone.

    >>> FilterExpression("duration >= 5 AND duration <= 8").matches({"duration": 6.0})
    True
    """

    def __init__(self, text):
        self.text = text
        self._tokens = self._lex(text)
        self._pos = 0
        self._tree = self._or()
        if self._pos != len(self._tokens):
            self._fail(f"unexpected '{self._tokens[self._pos][1]}'")

    def _fail(self, what):
        raise InvalidRequestException(f"Invalid filter expression {self.text!r}: {what}.")

    def _lex(self, text):
        tokens, pos = [], 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                self._fail(f"cannot read {text[pos:].strip()[:20]!r}")
            kind = match.lastgroup
            value = match.group(kind)
            if kind == "str":
                value = json.loads(value)
            elif kind == "num":
                value = float(value)
            tokens.append((kind, value))
            pos = match.end()
        return tokens

    def _peek(self, kind=None, value=None):
        if self._pos >= len(self._tokens):
            return None
        token = self._tokens[self._pos]
        if kind and token[0] != kind:
            return None
        if value is not None and (str(token[1]).lower() if token[0] == "word" else token[1]) != value:
            return None
        return token

    def _take(self, kind=None, value=None):
        token = self._peek(kind, value)
        if token is None:
            self._fail(f"expected {value or kind}")
        self._pos += 1
        return token

    def _or(self):
        node = self._and()
        while self._peek("word", "or"):
            self._pos += 1
            node = ("or", node, self._and())
        return node

    def _and(self):
        node = self._not()
        while self._peek("word", "and"):
            self._pos += 1
            node = ("and", node, self._not())
        return node

    def _not(self):
        if self._peek("op", "!") or self._peek("word", "not"):
            self._pos += 1
            return ("not", self._not())
        if self._peek("op", "("):
            self._pos += 1
            node = self._or()
            self._take("op", ")")
            return node
        return self._term()

    def _term(self):
        kind, word = self._take("word")
        word = word.lower()
        if word == "service":
            node = self._service()
            if self._peek("op", "{"):
                self._fail("sub-filters in braces are not supported by lambdalab")
            return node
        if word in ("edge", "json", "id") or word.startswith(("group.", "rootcause.")):
            self._fail(f"'{word}' is not supported by lambdalab")
        if word in _BOOLEAN:
            if self._peek("op", "=") or self._peek("op", "!="):
                op = self._take("op")[1]
                value = self._take("word")[1].lower()
                if value not in ("true", "false"):
                    self._fail(f"{word} compares with true or false")
                return ("bool", word, (value == "true") == (op == "="))
            return ("bool", word, True)
        op = self._peek("op")
        if op is None and self._peek("word") and str(self._tokens[self._pos][1]).upper() in (
                "CONTAINS", "BEGINSWITH", "ENDSWITH"):
            op = ("word", self._tokens[self._pos][1].upper())
        if op is None or op[1] not in ("=", "!=", "<", "<=", ">", ">=", "CONTAINS", "BEGINSWITH", "ENDSWITH"):
            self._fail(f"'{word}' needs an operator and a value")
        self._pos += 1
        value_kind, value = self._take()
        if word in _NUMERIC:
            if value_kind != "num":
                self._fail(f"{word} compares with a number")
            return ("num", word, op[1], value)
        if word in _STRINGS or word.startswith("annotation."):
            if value_kind == "word" and str(value).lower() in ("true", "false"):
                value = str(value).lower() == "true"
            return ("str", word, op[1], value)
        self._fail(f"unknown keyword '{word}'")

    def _service(self):
        self._take("op", "(")
        if self._peek("word", "id"):
            self._pos += 1
            self._take("op", "(")
            fields = {}
            while not self._peek("op", ")"):
                key = self._take("word")[1].lower()
                self._take("op", ":")
                fields[key] = self._take("str")[1]
                if self._peek("op", ","):
                    self._pos += 1
            self._take("op", ")")
            self._take("op", ")")
            return ("service", fields.get("name"), fields.get("type"))
        name = None
        if self._peek("str"):
            name = self._take("str")[1]
        self._take("op", ")")
        return ("service", name, None)

    def matches(self, facts):
        """``facts``: ``duration``, ``responsetime``, ``http.status``, ``ok``/``error``/``fault``/
        ``throttle``/``partial``, ``services`` (a set of ``(name, type)``), ``annotations``..."""
        return bool(self._eval(self._tree, facts))

    def _eval(self, node, facts):
        op = node[0]
        if op == "or":
            return self._eval(node[1], facts) or self._eval(node[2], facts)
        if op == "and":
            return self._eval(node[1], facts) and self._eval(node[2], facts)
        if op == "not":
            return not self._eval(node[1], facts)
        if op == "bool":
            return bool(facts.get(node[1])) == node[2]
        if op == "service":
            _, name, type_ = node
            return any((name is None or n == name) and (type_ is None or t == type_)
                       for n, t in facts.get("services", ()))
        _, word, cmp, value = node
        if word.startswith("annotation."):
            values = (facts.get("annotations") or {}).get(word[len("annotation."):], [])
        else:
            values = [facts.get(word)]
        return any(_compare(v, cmp, value) for v in values if v is not None)


def _compare(left, cmp, right):
    try:
        if cmp == "=":
            return left == right
        if cmp == "!=":
            return left != right
        if cmp == "CONTAINS":
            return str(right) in str(left)
        if cmp == "BEGINSWITH":
            return str(left).startswith(str(right))
        if cmp == "ENDSWITH":
            return str(left).endswith(str(right))
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[cmp]
    except TypeError:
        return False


# -- the store (pure) -------------------------------------------------------------------------------
class TraceStore:
    """Segment documents by trace id, and what X-Ray computes from them: summaries, whole traces,
    the service graph. Thread-safe. Subsegments sent alone are joined to their parent when read."""

    def __init__(self, account_id="123456789012", max_traces=10_000):
        self.account_id = account_id
        self.max_traces = max_traces
        self.forgotten = 0           # traces let go, oldest first (X-Ray keeps 30 days; a kernel less)
        self._traces = {}            # trace id -> {segment id: document}, oldest first
        self._lock = threading.Lock()

    def put(self, document):
        """Store one segment document (a later one with the same id replaces it, as a completed
        segment replaces an in-progress one)."""
        _check_document(document)
        with self._lock:
            self._traces.setdefault(document["trace_id"], {})[document["id"]] = document
            while len(self._traces) > self.max_traces:
                del self._traces[next(iter(self._traces))]
                self.forgotten += 1

    def put_trace_segments(self, documents):
        """``PutTraceSegments``: JSON texts; returns ``UnprocessedTraceSegments``."""
        unprocessed = []
        for text in documents:
            doc = None
            try:
                doc = json.loads(text) if isinstance(text, str) else text
                docs = doc if isinstance(doc, list) else [doc]   # an array of subsegments is allowed
                for one in docs:
                    self.put(one)
            except (ValueError, InvalidRequestException) as exc:
                ident = doc.get("id", "") if isinstance(doc, dict) and isinstance(doc.get("id"), str) else ""
                message = str(exc) if isinstance(exc, InvalidRequestException) else "The segment document is not JSON."
                unprocessed.append({"Id": ident, "ErrorCode": "InvalidSegment", "Message": message})
        return {"UnprocessedTraceSegments": unprocessed}

    def add_subsegment(self, trace_id, segment_id, subsegment):
        """Append ``subsegment`` below the entity ``segment_id`` of a stored segment; False if absent."""
        with self._lock:
            for doc in self._traces.get(trace_id, {}).values():
                for _, entity in walk(doc):
                    if entity.get("id") == segment_id:
                        entity.setdefault("subsegments", []).append(subsegment)
                        return True
        return False

    def trace_ids(self):
        with self._lock:
            return list(self._traces)

    def documents(self, trace_id):
        """The trace's segments with the subsegments sent alone joined to their parents."""
        with self._lock:
            docs = [json.loads(json.dumps(d)) for d in self._traces.get(trace_id, {}).values()]
        segments = [d for d in docs if d.get("type") != "subsegment"]
        alone = [d for d in docs if d.get("type") == "subsegment"]
        placed = True
        while alone and placed:      # a subsegment may be the parent of another one sent alone
            placed = False
            for sub in list(alone):
                parent = next((e for d in segments for _, e in walk(d) if e.get("id") == sub["parent_id"]), None)
                if parent is not None:
                    parent.setdefault("subsegments", []).append(
                        {k: v for k, v in sub.items() if k not in ("type", "parent_id", "trace_id")})
                    alone.remove(sub)
                    placed = True
        return sorted(segments + alone, key=lambda d: d.get("start_time", 0))

    # -- what X-Ray computes
    def _facts(self, trace_id, docs):
        ids = {e.get("id") for d in docs for _, e in walk(d)}
        roots = [d for d in docs if d.get("type") != "subsegment" and d.get("parent_id") not in ids]
        root = min(roots or docs, key=lambda d: d.get("start_time", 0))
        start = min(d["start_time"] for d in docs)
        end = max(_end(d) for d in docs)
        entities = [e for d in docs for _, e in walk(d)]
        services, annotations = set(), {}
        for d in docs:
            services.add((d["name"], d.get("origin") or "AWS::EC2::Instance"))
            for _, e in walk(d):
                if e is not d and e.get("namespace") in ("aws", "remote"):
                    services.add((e["name"], _node_type(e)))
                for key, value in (e.get("annotations") or {}).items():
                    annotations.setdefault(key, []).append(value)
        http = (root.get("http") or {})
        facts = {"duration": end - start, "responsetime": _end(root) - root["start_time"],
                 "error": any(e.get("error") for e in entities), "fault": any(e.get("fault") for e in entities),
                 "throttle": any(e.get("throttle") for e in entities),
                 "partial": any(e.get("in_progress") for e in entities),
                 "http.status": (http.get("response") or {}).get("status"),
                 "http.url": (http.get("request") or {}).get("url"),
                 "http.method": (http.get("request") or {}).get("method"),
                 "user": root.get("user"), "services": services, "annotations": annotations,
                 "start": start, "end": end, "root": root}
        facts["ok"] = not (facts["error"] or facts["fault"] or facts["throttle"])
        return facts

    def get_trace_summaries(self, StartTime, EndTime, FilterExpression=None, TimeRangeType="TraceId",
                            Sampling=False, NextToken=None, **_):
        """``GetTraceSummaries``: traces that started in [StartTime, EndTime] (epoch seconds; for
        both ``TimeRangeType`` values the lab uses the segments' times, on the lab clock)."""
        start, end = _seconds(StartTime, "StartTime"), _seconds(EndTime, "EndTime")
        if end < start:
            raise InvalidRequestException("EndTime can not be less than StartTime.")
        expression = globals()["FilterExpression"](FilterExpression) if FilterExpression else None
        summaries, processed = [], 0
        for trace_id in self.trace_ids():
            docs = self.documents(trace_id)
            if not docs:
                continue
            facts = self._facts(trace_id, docs)
            if not start <= facts["start"] <= end:
                continue
            processed += 1
            if expression is not None and not expression.matches(facts):
                continue
            summaries.append(self._summary(trace_id, facts))
        summaries.sort(key=lambda s: s["StartTime"])
        return {"TraceSummaries": summaries, "ApproximateTime": end, "TracesProcessedCount": processed}

    def _summary(self, trace_id, facts):
        root = facts["root"]
        service_ids = [{"Name": n, "Names": [n], "AccountId": self.account_id, "Type": t}
                       for n, t in sorted(facts["services"])]
        summary = {"Id": trace_id, "StartTime": facts["start"], "Duration": round(facts["duration"], 3),
                   "ResponseTime": round(facts["responsetime"], 3), "HasFault": facts["fault"],
                   "HasError": facts["error"], "HasThrottle": facts["throttle"], "IsPartial": facts["partial"],
                   "Http": {k: v for k, v in (("HttpStatus", facts["http.status"]), ("HttpURL", facts["http.url"]),
                                              ("HttpMethod", facts["http.method"])) if v is not None},
                   "Annotations": {k: [{"AnnotationValue": _annotation_value(v)} for v in vs]
                                   for k, vs in facts["annotations"].items()},
                   "ServiceIds": service_ids,
                   "EntryPoint": {"Name": root["name"], "Names": [root["name"]], "AccountId": self.account_id,
                                  "Type": root.get("origin") or "AWS::EC2::Instance"}}
        return summary

    def batch_get_traces(self, TraceIds, NextToken=None, **_):
        """``BatchGetTraces``: each trace with its segments (``Document`` is the JSON text)."""
        if not isinstance(TraceIds, list):
            raise InvalidRequestException("TraceIds must be a list of trace ids.")
        traces, unprocessed = [], []
        for trace_id in TraceIds:
            docs = self.documents(trace_id)
            if not docs:
                unprocessed.append(trace_id)
                continue
            start, end = min(d["start_time"] for d in docs), max(_end(d) for d in docs)
            traces.append({"Id": trace_id, "Duration": round(end - start, 3), "LimitExceeded": False,
                           "Segments": [{"Id": d["id"], "Document": json.dumps(d)} for d in docs]})
        return {"Traces": traces, "UnprocessedTraceIds": unprocessed}

    def get_service_graph(self, StartTime, EndTime, **_):
        """``GetServiceGraph``: the nodes (client, the Lambda service and function of each function,
        the AWS services called) and edges with counts and response times, of traces in the range."""
        start, end = _seconds(StartTime, "StartTime"), _seconds(EndTime, "EndTime")
        if end < start:
            raise InvalidRequestException("EndTime can not be less than StartTime.")
        nodes, edges = {}, {}

        def node(name, type_):
            key = (name, type_)
            if key not in nodes:
                nodes[key] = {"ReferenceId": len(nodes), "Name": name, "Names": [name] if name else [],
                              "Type": type_, "times": [], "flags": [], "Root": False}
            return key

        def edge(frm, to, entity):
            stats = edges.setdefault((frm, to), {"times": [], "flags": [], "start": [], "end": []})
            stats["times"].append(_end(entity) - entity["start_time"])
            stats["flags"].append(_entity_flags(entity))
            stats["start"].append(entity["start_time"])
            stats["end"].append(_end(entity))

        for trace_id in self.trace_ids():
            docs = [d for d in self.documents(trace_id) if d.get("type") != "subsegment"]
            if not docs or not (start <= min(d["start_time"] for d in docs) <= end):
                continue
            owner = {}                # entity id -> the segment's node it belongs to
            for d in docs:
                key = node(d["name"], d.get("origin") or "AWS::EC2::Instance")
                nodes[key]["times"].append(_end(d) - d["start_time"])
                nodes[key]["flags"].append(_entity_flags(d))
                for _, e in walk(d):
                    owner[e["id"]] = key
            parents = {d.get("parent_id") for d in docs}
            for d in docs:
                key = (d["name"], d.get("origin") or "AWS::EC2::Instance")
                if d.get("parent_id") in owner:
                    edge(owner[d["parent_id"]], key, d)
                else:
                    client = node(None, "client")
                    nodes[key]["Root"] = True
                    edge(client, key, d)
                for _, e in walk(d):
                    if e is d or e["id"] in parents or e.get("namespace") not in ("aws", "remote"):
                        continue          # a call that a traced segment answers is that segment's edge
                    target = node(e["name"], _node_type(e))
                    nodes[target]["times"].append(_end(e) - e["start_time"])
                    nodes[target]["flags"].append(_entity_flags(e))
                    edge(key, target, e)
        services = []
        for key, n in nodes.items():
            out = [{"ReferenceId": nodes[to]["ReferenceId"], "StartTime": min(s["start"]), "EndTime": max(s["end"]),
                    "SummaryStatistics": _statistics(s["times"], s["flags"]),
                    "ResponseTimeHistogram": _histogram(s["times"]), "Aliases": []}
                   for (frm, to), s in edges.items() if frm == key]
            service = {"ReferenceId": n["ReferenceId"], "Names": n["Names"], "Root": n["Root"], "Type": n["Type"],
                       "State": "unknown" if n["Type"] == "client" else "active", "Edges": out}
            if n["Name"] is not None:
                service.update(Name=n["Name"], AccountId=self.account_id)
            if n["times"]:
                service.update(SummaryStatistics=_statistics(n["times"], n["flags"]),
                               DurationHistogram=_histogram(n["times"]), ResponseTimeHistogram=_histogram(n["times"]))
            services.append(service)
        return {"StartTime": start, "EndTime": end, "Services": services, "ContainsOldGroupVersions": False}


def _seconds(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestException(f"{name} must be a timestamp (epoch seconds).")
    return float(value)


def _annotation_value(value):
    if isinstance(value, bool):
        return {"BooleanValue": value}
    if isinstance(value, (int, float)):
        return {"NumberValue": value}
    return {"StringValue": str(value)}


def _entity_flags(entity):
    if entity.get("fault"):
        return "fault"
    if entity.get("throttle"):
        return "throttle"
    return "error" if entity.get("error") else "ok"


def _statistics(times, flags):
    return {"OkCount": flags.count("ok"),
            "ErrorStatistics": {"ThrottleCount": flags.count("throttle"), "OtherCount": flags.count("error"),
                                "TotalCount": flags.count("throttle") + flags.count("error")},
            "FaultStatistics": {"OtherCount": flags.count("fault"), "TotalCount": flags.count("fault")},
            "TotalCount": len(times), "TotalResponseTime": round(sum(times), 6)}


def _histogram(times):
    counts = {}
    for t in times:
        bucket = round(t, 3)
        counts[bucket] = counts.get(bucket, 0) + 1
    return [{"Value": v, "Count": c} for v, c in sorted(counts.items())]


# -- the wiring: one lab's traces -------------------------------------------------------------------
def attach(lab):
    """Trace the lab's functions (see the module's docstring); returns the ``TracesService``. A lab
    attaches one when it starts (``lab.traces``): then that one is returned."""
    current = getattr(lab, "traces", None)
    if isinstance(current, TracesService) and not current._closed:
        return current
    return TracesService(lab)


class _Invocation:
    """One traced invocation while it runs: its ids and the AWS calls seen so far."""

    __slots__ = ("root", "function", "request", "service_id", "function_id", "invocation_id", "upstream",
                 "calls", "call_ids", "submitted", "source", "invocation_type", "stored")

    def __init__(self, root, request, upstream):
        self.root, self.request, self.upstream = root, request, upstream
        self.function = request.function_name
        self.service_id, self.function_id, self.invocation_id = _new_id(), _new_id(), _new_id()
        self.calls = []
        self.call_ids = {}                 # X-Ray service name -> ids of its call subsegments, in order
        self.stored = False                # its segments are in the store
        self.submitted = time.time()
        self.source, self.invocation_type = request.source, request.invocation_type


class TracesService:
    """The lab's X-Ray: ``store`` (a ``TraceStore``) holds every trace; ``trace_of(request_id)`` finds
    the one of an invocation; ``service_graph()`` the whole run's; ``errors`` what went wrong."""

    def __init__(self, lab):
        self.lab = lab
        self.store = TraceStore(account_id=lab.account_id)
        self.errors = []
        self.by_request = {}               # request id -> trace id (the latest attempt's)
        self._lock = threading.Lock()
        self._open = {}                    # function segment id -> _Invocation (running)
        self._pending = {}                 # request id -> _Invocation (run, not recorded yet)
        self._finished = {}                # trace id -> [(function segment id, _Invocation)], recent
        self._starts = {}
        self._extra = {}                   # function segment id -> subsegments written from downstream
        self._virtual = bool(getattr(lab.clock, "virtual", False))
        self._offset = 0.0 if self._virtual else time.time() - lab.clock.now()
        # Every path (sync, async attempts, pollers, workflows) runs a request through the service's
        # hook: the one place where the header the function will see can get the function segment
        # as Parent.
        self._stops = [lab.service.hook_requests(self._hook), lab.record.subscribe(self._on_record),
                       lab.aws.intercept(self._intercept), lab.aws.observe(self._observe)]
        self._closed = False

    # -- which invocations are traced
    def _hook(self, request):
        try:
            invocation = self._begin(request)
        except Exception as exc:   # tracing must never stop an invocation
            self.errors.append(exc)
            return None
        if invocation is None:
            return None

        def failed(exc):           # the request raised: nothing of it is traced
            with self._lock:
                self._open.pop(invocation.function_id, None)
                self._pending.pop(request.request_id, None)
                self._extra.pop(invocation.function_id, None)
        return failed

    def _begin(self, request):
        if self._closed:
            return None
        try:
            mode = self.lab.service.get(request.function_name).config.tracing_mode
        except Exception:
            return None
        fields = parse_trace_header(request.trace_header)
        # "PassThrough: Lambda will only trace the request from an upstream service if it contains a
        # tracing header with sampled=1. Active: Lambda will respect any tracing header it receives"
        # (https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_lambda.Tracing.html). The lab
        # writes Sampled=0 on every header it makes when no caller decided, so Active samples all.
        if not (mode == "Active" or fields.get("Sampled") == "1") or "Root" not in fields:
            return None
        invocation = _Invocation(fields["Root"], request, fields.get("Parent"))
        fields["Parent"] = invocation.function_id
        fields["Sampled"] = "1"
        request.trace_header = _header({"Root": fields.pop("Root"), "Parent": fields.pop("Parent"),
                                        "Sampled": fields.pop("Sampled"), **fields})
        with self._lock:
            self._open[invocation.function_id] = invocation
            self._pending[request.request_id] = invocation
        return invocation

    # -- AWS calls the function makes
    def _intercept(self, call):
        if self._closed:
            return None
        if call.service == "xray" and not call.headers.get(_PASSTHROUGH):
            return self._xray_call(call)
        if "x-amzn-trace-id" in call.headers:
            self._starts[id(call)] = time.time()
        return None

    def _observe(self, call):
        header = call.headers.get("x-amzn-trace-id")
        started = self._starts.pop(id(call), None)
        if not header or call.service in (None, "xray"):
            return
        fields = parse_trace_header(header)
        with self._lock:
            invocation = self._open.get(fields.get("Parent"))
        if invocation is None:
            return
        ended = time.time()
        sub_id, name = _new_id(), _SERVICE_NAMES.get(call.service, call.service)
        invocation.calls.append((sub_id, name, self._operation(call), call.status, started or ended, ended,
                                 call.region, self._resource(call),
                                 call.response_headers.get("x-amzn-requestid")
                                 or call.response_headers.get("x-amz-request-id")))
        invocation.call_ids.setdefault(name, []).append(sub_id)

    @staticmethod
    def _operation(call):
        action = call.action
        if action:
            return action
        if call.service == "s3":
            parts = [p for p in call.path.split("/") if p]
            if len(parts) <= 1:
                return {"PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket",
                        "GET": "ListObjectsV2" if call.query.get("list-type") == "2" else "ListObjects"
                        }.get(call.method, call.method) if parts else "ListBuckets"
            return {"PUT": "CopyObject" if "x-amz-copy-source" in call.headers else "PutObject", "GET": "GetObject",
                    "DELETE": "DeleteObject", "HEAD": "HeadObject"}.get(call.method, call.method)
        return call.method

    @staticmethod
    def _resource(call):
        if call.service == "dynamodb":
            name = call.json().get("TableName")
            return {"table_name": name} if name else {}
        if call.service == "s3":
            parts = [p for p in call.path.split("/") if p]
            if not parts:
                return {}
            return {"bucket_name": parts[0], **({"key": "/".join(parts[1:])} if len(parts) > 1 else {})}
        if call.service == "sqs":
            url = call.json().get("QueueUrl") or call.params.get("QueueUrl")
            return {"queue_url": url} if url else {}
        return {}

    # -- the record: an invocation ended
    def _epoch(self, at):
        return at + self._offset

    def _on_record(self, event):
        if event.kind != "invoke" or self._closed:
            return
        with self._lock:
            invocation = self._pending.pop(event.request_id, None)
            if invocation is not None:
                self._open.pop(invocation.function_id, None)
        if invocation is None:
            return
        try:
            self._finish(invocation, event)
        except Exception as exc:   # the service must never fail because a trace could not be built
            self.errors.append(exc)

    def _finish(self, inv, event):
        result = event.get("result")
        recorded = event.wall
        init_s = (result.init_duration_ms or 0) / 1000 if result is not None else 0.0
        start_wall = result.start_time if result is not None and result.start_time else recorded
        end_wall = result.end_time if result is not None and result.end_time else recorded
        submitted = min(inv.submitted, start_wall - init_s)
        # Times are the lab clock's: a virtual clock stands still while the handler runs, so the
        # request starts at the recorded moment and what was measured follows it.
        shift = self._epoch(event.at) - submitted if self._virtual else 0.0
        t = lambda wall: round(wall + shift, 6)
        overhead_end = max(recorded, end_wall)
        arn = function_arn(inv.function, self.lab.region, self.lab.account_id)
        status = event.get("status")
        failed = status != "success"
        invocation_sub = {"id": inv.invocation_id, "name": "Invocation", "start_time": t(start_wall),
                          "end_time": t(end_wall)}
        if failed:
            invocation_sub["fault"] = True
            error = (result.error or {}) if result is not None else {}
            invocation_sub["cause"] = {"exceptions": [{"id": _new_id(), "type": error.get("errorType", status),
                                                       "message": error.get("errorMessage", status)}]}
        calls = []
        for sub_id, name, operation, code, started, ended, region, resource, request_id in inv.calls:
            sub = {"id": sub_id, "name": name, "namespace": "aws", "start_time": t(started), "end_time": t(ended),
                   "http": {"response": {"status": code}},
                   "aws": {"operation": operation, "region": region, **resource,
                           **({"request_id": request_id} if request_id else {})}, **_flags(code)}
            calls.append(sub)
        if calls:
            invocation_sub["subsegments"] = sorted(calls, key=lambda c: c["start_time"])
        subsegments = []
        if event.get("cold") and init_s:
            subsegments.append({"id": _new_id(), "name": "Initialization", "start_time": t(start_wall - init_s),
                                "end_time": t(start_wall), "aws": {"function_arn": arn}})
        subsegments.append(invocation_sub)
        subsegments.append({"id": _new_id(), "name": "Overhead", "start_time": t(end_wall), "end_time": t(overhead_end),
                            "aws": {"function_arn": arn}})
        function_segment = {
            "id": inv.function_id, "name": inv.function, "trace_id": inv.root, "parent_id": inv.service_id,
            "origin": "AWS::Lambda::Function",
            "start_time": t(start_wall - init_s if event.get("cold") else start_wall),
            "end_time": t(overhead_end), "aws": {"function_arn": arn, "resource_names": [inv.function],
                                                 "account_id": self.lab.account_id},
            "subsegments": subsegments}
        if failed:
            function_segment["fault"] = True
        service_segment = {
            "id": inv.service_id, "name": inv.function, "trace_id": inv.root, "origin": "AWS::Lambda",
            "start_time": t(submitted), "end_time": t(overhead_end), "resource_arn": arn,
            "http": {"response": {"status": 200 if inv.invocation_type == "RequestResponse" else 202}},
            "aws": {"request_id": event.request_id, "function_arn": arn}}
        if inv.invocation_type == "Event" and inv.request.accepted_at is not None:
            # An asynchronous event waits in the function's queue first: the service segment's
            # "Dwell Time", then the attempt that ran it.
            queued = round(min(self._epoch(inv.request.accepted_at), t(submitted)), 6)
            service_segment["start_time"] = queued
            service_segment["subsegments"] = [
                {"id": _new_id(), "name": "Dwell Time", "start_time": queued, "end_time": t(submitted)},
                {"id": _new_id(), "name": f"Attempt #{inv.request.attempt}", "start_time": t(submitted),
                 "end_time": t(overhead_end), **({"fault": True} if failed else {})}]
        self._link_upstream(inv, service_segment)
        self.store.put(service_segment)
        self.store.put(function_segment)
        with self._lock:
            inv.stored = True
            late = self._extra.pop(inv.function_id, [])   # downstream Invoke calls, written from there
        for sub in late:
            self.store.add_subsegment(inv.root, inv.invocation_id, sub)
        with self._lock:
            self.by_request[event.request_id] = inv.root
            if len(self.by_request) > self.store.max_traces:
                del self.by_request[next(iter(self.by_request))]
            finished = self._finished.setdefault(inv.root, [])
            finished.append(inv)
            del finished[:-20]

    def _link_upstream(self, inv, segment):
        """A downstream invocation (a function invoked by a traced function, directly, through a
        queue, a topic or a bucket) becomes a child of the upstream call that caused it: the latest
        call to that service in an earlier invocation of the same trace."""
        if inv.upstream and self._entity_exists(inv.root, inv.upstream):
            segment["parent_id"] = inv.upstream
            return
        service = _SOURCE_SERVICES.get(inv.source)
        if service is None:
            return                     # the same trace, but no call of an upstream function caused it
        with self._lock:
            candidates = [i for i in self._open.values() if i.root == inv.root and i is not inv]
            candidates += list(reversed(self._finished.get(inv.root, [])))
        candidates = [i for i in candidates if i.submitted <= inv.submitted
                      and i.request.request_id != inv.request.request_id]   # not an earlier attempt
        if service != "Lambda":
            callers = [i for i in candidates if i.call_ids.get(service)]
            if callers:
                segment["parent_id"] = max(callers, key=lambda i: i.submitted).call_ids[service][-1]
            return
        if not candidates:
            return
        upstream = max(candidates, key=lambda i: i.submitted)
        # The Lambda API is not an endpoint call the lab observes: the Invoke subsegment is written
        # here, from the downstream side, lasting as long as the downstream request (sync).
        sub = {"id": _new_id(), "name": "Lambda", "namespace": "aws", "start_time": segment["start_time"],
               "end_time": segment["end_time"] if inv.invocation_type == "RequestResponse" else segment["start_time"],
               "http": {"response": {"status": 200 if inv.invocation_type == "RequestResponse" else 202}},
               "aws": {"operation": "Invoke", "function_name": inv.function, "region": self.lab.region}}
        segment["parent_id"] = sub["id"]
        with self._lock:
            stored = upstream.stored
            if not stored:                 # written with the upstream's segments when it ends
                self._extra.setdefault(upstream.function_id, []).append(sub)
        if stored:
            self.store.add_subsegment(upstream.root, upstream.invocation_id, sub)

    def _entity_exists(self, trace_id, entity_id):
        return any(e.get("id") == entity_id for d in self.store.documents(trace_id) for _, e in walk(d))

    # -- what a cell reads
    def trace_of(self, request_id):
        """The trace of an invocation (as ``BatchGetTraces`` returns one), or None if it was not traced."""
        trace_id = self.by_request.get(request_id)
        if trace_id is None:
            return None
        traces = self.store.batch_get_traces([trace_id])["Traces"]
        return traces[0] if traces else None

    def service_graph(self, start=None, end=None):
        """``GetServiceGraph`` of everything traced (or of the epoch-seconds range given)."""
        return self.store.get_service_graph(StartTime=0.0 if start is None else start,
                                            EndTime=float(2 ** 40) if end is None else end)

    # -- the X-Ray API
    def _xray_call(self, call):
        routes = {"/TraceSegments": ("PutTraceSegments", self.store.put_trace_segments),
                  "/TraceSummaries": ("GetTraceSummaries", self.store.get_trace_summaries),
                  "/Traces": ("BatchGetTraces", self.store.batch_get_traces),
                  "/ServiceGraph": ("GetServiceGraph", self.store.get_service_graph)}
        route = routes.get(call.path.rstrip("/"))
        if route is None or call.method != "POST":
            return None                       # other X-Ray operations: moto's
        _, method = route
        try:
            body = json.loads(call.body or b"{}")
            if not isinstance(body, dict):
                raise InvalidRequestException("The request body must be a JSON object.")
            if route[0] == "PutTraceSegments":
                documents = body.get("TraceSegmentDocuments")
                if not isinstance(documents, list):
                    raise InvalidRequestException("TraceSegmentDocuments is required.")
                answer = method(documents)
            else:
                needed = {"GetTraceSummaries": ("StartTime", "EndTime"), "GetServiceGraph": ("StartTime", "EndTime"),
                          "BatchGetTraces": ("TraceIds",)}
                for required in needed[route[0]]:
                    if required not in body:
                        raise InvalidRequestException(f"1 validation error detected: Value null at '{required}' "
                                                      "failed to satisfy constraint: Member must not be null")
                answer = method(**body)
        except InvalidRequestException as exc:
            return _answer(400, exc.as_response(), {"x-amzn-ErrorType": exc.error_type})
        except ValueError:
            return _answer(400, {"__type": "InvalidRequestException", "Message": "The request body is not JSON."},
                           {"x-amzn-ErrorType": "InvalidRequestException"})
        except (TypeError, KeyError, AttributeError) as exc:   # a parameter of the wrong type
            return _answer(400, {"__type": "InvalidRequestException",
                                 "Message": f"Invalid request parameters for {route[0]}: {exc}"},
                           {"x-amzn-ErrorType": "InvalidRequestException"})
        return _answer(200, answer)

    def close(self):
        """Stop tracing (what is stored stays readable)."""
        if self._closed:
            return
        self._closed = True
        for stop in self._stops:
            stop()
        self._stops = []

    def __repr__(self):
        return f"<TracesService: {len(self.store.trace_ids())} traces>"


def _answer(status, body, extra=None):
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": _request_id()}
    headers.update(extra or {})
    return status, headers, json.dumps(body, separators=(",", ":")).encode()


def _request_id():
    return str(uuid.uuid4())

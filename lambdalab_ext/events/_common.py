"""What every generator shares: the seeded source of ids and times, formats, ARNs, HTTP maps.

A ``Draw`` is where an event's randomness comes from. With a seed, every id, token and time is
drawn from ``random.Random`` seeded with the seed (and the generator's name, so two event types with
the same seed do not share ids), and the event's time is a fixed moment picked by the seed: the same
call gives the same event, byte for byte. Without a seed the ids are fresh and the time is now.
"""

import base64
import datetime
import json
import random
import string
import uuid as _uuid

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

_UTC = datetime.timezone.utc
# Seeded events happen during 2024, at a moment the seed picks: plausible and reproducible.
_SEEDED_YEAR = datetime.datetime(2024, 1, 1, tzinfo=_UTC)
# strftime's %b follows the locale; AWS's access-log time format is always English.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def as_datetime(when):
    """A UTC datetime from a datetime (naive means UTC) or from epoch seconds."""
    if isinstance(when, datetime.datetime):
        return when.replace(tzinfo=_UTC) if when.tzinfo is None else when.astimezone(_UTC)
    if isinstance(when, (int, float)) and not isinstance(when, bool):
        return datetime.datetime.fromtimestamp(when, _UTC)
    raise TypeError(f"time must be a datetime or epoch seconds, not {type(when).__name__}")


def _to_millisecond(moment):
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class Draw:
    """Ids, tokens and the event's time: reproducible under a seed, fresh without one."""

    def __init__(self, seed=None, time=None, salt=""):
        if seed is None:
            self.rng = random.Random()          # seeded from the OS: a fresh event each call
        else:
            self.rng = random.Random(f"lambdalab-events:{salt}:{seed}")
        if time is not None:
            self.now = _to_millisecond(as_datetime(time))
        elif seed is not None:
            offset = self.rng.randrange(365 * 86400 * 1000)
            self.now = _SEEDED_YEAR + datetime.timedelta(milliseconds=offset)
        else:
            self.now = _to_millisecond(datetime.datetime.now(_UTC))

    def later(self, milliseconds):
        return self.now + datetime.timedelta(milliseconds=milliseconds)

    def uuid(self):
        return str(_uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, length, upper=False):
        text = "".join(self.rng.choice("0123456789abcdef") for _ in range(length))
        return text.upper() if upper else text

    def digits(self, length, first="123456789"):
        return self.rng.choice(first) + "".join(self.rng.choice(string.digits) for _ in range(length - 1))

    def chars(self, length, alphabet=string.ascii_lowercase + string.digits):
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def upper(self, length):
        return self.chars(length, string.ascii_uppercase + string.digits)

    def token(self, nbytes):
        """Base64 of random bytes: receipt handles, signatures, S3 host ids."""
        return base64.b64encode(self.rng.getrandbits(8 * nbytes).to_bytes(nbytes, "big")).decode()

    def trace_id(self):
        """An X-Ray trace id as load balancers and API Gateway stamp it (``Root=1-...``)."""
        return f"Root=1-{int(self.now.timestamp()):08x}-{self.hex(24)}"


def iso_millis(moment):
    """``2019-09-03T19:37:27.192Z``: S3's eventTime, SNS's Timestamp."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_seconds(moment):
    """``2019-03-01T01:23:45Z``: EventBridge's time."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def access_log_time(moment):
    """``12/Mar/2020:19:03:58 +0000``: API Gateway's requestTime and time."""
    return f"{moment.day:02d}/{MONTHS[moment.month - 1]}/{moment.year}:{moment.strftime('%H:%M:%S')} +0000"


def epoch_millis(moment):
    return int(round(moment.timestamp() * 1000))


def epoch_seconds(moment):
    """Float seconds with millisecond precision, as Kinesis's approximateArrivalTimestamp."""
    return round(moment.timestamp(), 3)


def arn(service, region, account, resource):
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def to_bytes(data):
    """Bytes for a payload: bytes as they are, text as UTF-8, anything else as its JSON."""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode()
    return json.dumps(data).encode()


def to_text(body):
    """Text for a message body: text as it is, anything else as its JSON."""
    return body if isinstance(body, str) else json.dumps(body)


def pairs(mapping):
    """``(name, value)`` pairs from a mapping whose values are strings or lists of strings."""
    if not mapping:
        return []
    items = mapping.items() if hasattr(mapping, "items") else mapping
    out = []
    for name, value in items:
        for one in (value if isinstance(value, (list, tuple)) else [value]):
            out.append((str(name), str(one)))
    return out


def last_values(pair_list):
    """Single-value map: the last value of a repeated name wins (REST API, ALB without multi-value)."""
    out = {}
    for name, value in pair_list:
        out[name] = value
    return out


def all_values(pair_list):
    out = {}
    for name, value in pair_list:
        out.setdefault(name, []).append(value)
    return out


def comma_joined(pair_list):
    """HTTP API 2.0's map: a repeated name's values joined with commas."""
    return {name: ",".join(values) for name, values in all_values(pair_list).items()}

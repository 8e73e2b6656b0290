"""What a Lambda workload costs: AWS's price list kept as data, and exact arithmetic over it.

Pure computation: nothing here touches the network, and the only file it reads is a price table
whose path you pass in yourself (``PriceTable.from_json``). Amounts are ``decimal.Decimal`` and the
arithmetic is exact: every operation runs in a context that raises ``decimal.Inexact`` rather than
round silently. Only display rounds, to the cent, half up (``to_cents``).

The billing rules modelled (sources in ``docs/lambda-facts.md`` §2.2, §2.5, §3):

* a request costs ``prices.request``, whatever the architecture;
* duration is billed per GB-second, GB = memory_mb / 1024 (512 MB is 0.5 GB), each invocation
  rounded up to the whole millisecond;
* on-demand duration is priced in monthly volume tiers counted separately for each architecture
  (x86_64: 6 B and 15 B GB-s; arm64: 7.5 B and 18.75 B GB-s);
* the free tier (1 M requests and 400,000 GB-s a month, shared by both architectures) reduces
  on-demand requests and on-demand duration; it does not apply to provisioned-concurrency usage
  (the configured PC, the duration PC serves, nor the requests PC serves);
* since 1 August 2025 INIT is billed on every on-demand cold start; before then it was free for
  ZIP packages on managed runtimes (``init_billing="legacy"`` shows the old rule);
* ephemeral storage above 512 MB is billed per GB-second of billed execution time;
* provisioned concurrency (PC) bills memory x units x the time it is enabled, rounded up to
  5 minutes, plus its own (lower, flat) duration price for the invocations it serves; PC serves
  one request per unit at a time, so it cannot serve more than units x time enabled / duration;
* SnapStart for Python caches the snapshot per GB-second (3 hours minimum) and charges per GB
  restored.

Three entry points:

* ``monthly_cost(...)``: one workload for a month, as a ``MonthlyCost`` breakdown;
* ``monthly_cost_table(rows)``: many workloads at once with integer numpy arithmetic, exact and fast;
* ``cost_of(result)`` / ``cost_of_many(results)``: what simulated invocations would cost.

>>> cost = monthly_cost(3_000_000, 120, 1536)   # AWS pricing page, "Mobile application backend"
>>> to_cents(cost.total)
Decimal('2.73')
"""

from __future__ import annotations

import html
import json
import math
import numbers
import os
from dataclasses import dataclass, field
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

__all__ = [
    "ARCHITECTURES",
    "INIT_BILLING_RULES",
    "US_EAST_1",
    "CostTable",
    "DurationTier",
    "InvocationCost",
    "MonthlyCost",
    "PriceTable",
    "TierLine",
    "billed_duration_ms",
    "cost_of",
    "cost_of_many",
    "load_prices",
    "monthly_cost",
    "monthly_cost_table",
    "pc_capacity",
    "to_cents",
]

ARCHITECTURES = ("x86_64", "arm64")
INIT_BILLING_RULES = ("2025-08", "legacy")
# Lambda's configuration limits, defined once with the function configuration.
from .function import EPHEMERAL_MAX_MB, EPHEMERAL_MIN_MB, MEMORY_MAX_MB, MEMORY_MIN_MB  # noqa: E402

EPHEMERAL_FREE_MB = 512
PC_BILLING_UNIT_MS = 5 * 60 * 1000  # PC time is rounded up to whole 5-minute units
SNAPSTART_MIN_CACHE_MS = 3 * 3600 * 1000  # SnapStart cache is billed for at least 3 hours

# Quantities are kept as integer MB-ms (memory MB x billed ms); 1 GB-s = 1024 MB x 1000 ms.
MBMS_PER_GB_S = 1024 * 1000

_CENT = Decimal("0.01")
# Every pricing operation runs here: a result that does not fit raises instead of rounding.
_EXACT = Context(prec=120, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
# Deliberate rounding (display, reading inputs) happens here.
_ROUNDING = Context(prec=120, traps=[InvalidOperation, DivisionByZero, Overflow])


def to_cents(amount: Decimal) -> Decimal:
    """Round an exact amount to the cent, half up, for display.

    >>> to_cents(Decimal("10.000020"))
    Decimal('10.00')
    >>> to_cents(Decimal("0.005"))
    Decimal('0.01')
    """
    return Decimal(amount).quantize(_CENT, rounding=ROUND_HALF_UP, context=_ROUNDING)


def _gb_s(mb_ms: int) -> Decimal:
    """MB-ms (an exact integer) as GB-seconds (an exact decimal: 1/1024 terminates)."""
    with localcontext(_EXACT):
        return Decimal(mb_ms) / MBMS_PER_GB_S


# --------------------------------------------------------------------------------------------
# Reading inputs. The vectorised path mirrors each of these exactly (see _Columns below).
# --------------------------------------------------------------------------------------------


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ in ("bool_", "bool")


def _decimal(value: Any, what: str) -> Decimal:
    if _is_bool(value) or value is None:
        raise TypeError(f"{what} must be a number, not {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, numbers.Integral):
        result = Decimal(int(value))
    elif isinstance(value, float):
        result = Decimal(repr(value))  # the decimal the float prints as, e.g. 0.0000166667
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{what} must be a number, not {value!r}") from None
    else:
        raise TypeError(f"{what} must be a number, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{what} must be finite, not {value!r}")
    return result


def _scaled(value: Any, scale: int, what: str) -> int:
    """``value * scale`` rounded to the nearest integer (ties to even).

    Floats are multiplied as floats, so the result matches ``numpy.rint(array * scale)``
    bit for bit; ints, Decimals, Fractions and numeric strings are exact.
    """
    if _is_bool(value) or value is None:
        raise TypeError(f"{what} must be a number, not {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value) * scale
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{what} must be finite, not {value!r}")
        return round(number * float(scale))
    if isinstance(value, Fraction):
        return round(value * scale)
    number = _decimal(value, what)
    with localcontext(_ROUNDING):
        return int((number * scale).to_integral_value(ROUND_HALF_EVEN))


def _whole(value: Any, what: str) -> int:
    """A whole number (an int, or a float/Decimal with nothing after the point)."""
    if _is_bool(value) or value is None:
        raise TypeError(f"{what} must be a whole number, not {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)
        if not math.isfinite(number) or not number.is_integer():
            raise ValueError(f"{what} must be a whole number, not {value!r}")
        return int(number)
    if isinstance(value, Fraction):
        if value.denominator != 1:
            raise ValueError(f"{what} must be a whole number, not {value}")
        return int(value)
    number = _decimal(value, what)
    if number != number.to_integral_value():
        raise ValueError(f"{what} must be a whole number, not {value!r}")
    return int(number)


def _non_negative(number: int, what: str, value: Any) -> int:
    if number < 0:
        raise ValueError(f"{what} must not be negative, not {value!r}")
    return number


def _duration_us(value: Any, what: str) -> int:
    """A duration in ms, read to the microsecond (ties to even).

    Reading to the microsecond first sheds float noise such as 0.1 + 0.2 = 0.30000000000000004
    before the duration is rounded up to the billed millisecond.
    """
    return _non_negative(_scaled(value, 1000, what), what, value)


def _hours_ms(value: Any, what: str) -> int:
    """A span in hours, read to the millisecond."""
    return _non_negative(_scaled(value, 3_600_000, what), what, value)


def _ratio_ppm(value: Any, what: str) -> int:
    """A share between 0 and 1, read to the millionth (1 ppm)."""
    ppm = _scaled(value, 1_000_000, what)
    if not 0 <= ppm <= 1_000_000:
        raise ValueError(f"{what} must be between 0 and 1, not {value!r}")
    return ppm


def _count(value: Any, what: str) -> int:
    return _non_negative(_whole(value, what), what, value)


def _memory_mb(value: Any) -> int:
    mb = _whole(value, "memory_mb")
    if not MEMORY_MIN_MB <= mb <= MEMORY_MAX_MB:
        raise ValueError(
            f"memory_mb must be between {MEMORY_MIN_MB} and {MEMORY_MAX_MB:,} MB "
            f"(1 MB steps), not {value!r}"
        )
    return mb


def _storage_mb(value: Any) -> int:
    mb = _whole(value, "ephemeral_storage_mb")
    if not EPHEMERAL_MIN_MB <= mb <= EPHEMERAL_MAX_MB:
        raise ValueError(
            f"ephemeral_storage_mb must be between {EPHEMERAL_MIN_MB} and {EPHEMERAL_MAX_MB:,} MB "
            f"(1 MB steps), not {value!r}"
        )
    return mb


def _architecture(value: Any) -> str:
    if value not in ARCHITECTURES:
        raise ValueError(f"architecture must be 'x86_64' or 'arm64', not {value!r}")
    return str(value)


def _init_rule(value: Any) -> str:
    if value not in INIT_BILLING_RULES:
        raise ValueError(
            f"init_billing must be '2025-08' (INIT billed on every cold start, the rule since "
            f"1 August 2025) or 'legacy' (INIT free for ZIP packages on managed runtimes), "
            f"not {value!r}"
        )
    return str(value)


def _init_is_billed(init_billing: str, zip_managed_runtime: bool) -> bool:
    # Before August 2025 only ZIP + managed runtime on-demand INIT was free; images and custom
    # runtimes (provided.*) always paid for it.
    return init_billing == "2025-08" or not zip_managed_runtime


def _ceil_ms(us: int) -> int:
    return -(-us // 1000)


def _round_half_up_share(total: int, ppm: int) -> int:
    return (total * ppm + 500_000) // 1_000_000


# --------------------------------------------------------------------------------------------
# The price table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DurationTier:
    """One monthly volume tier of on-demand duration: ``rate`` USD per GB-s up to ``up_to_gb_s``
    GB-s of the month (cumulative; ``None`` for the last, open-ended tier)."""

    up_to_gb_s: Decimal | None
    rate: Decimal


@dataclass(frozen=True, repr=False)
class PriceTable:
    """Lambda's prices for one Region, dated and sourced. All rates in ``currency`` (USD).

    Load another Region's (or your own) with ``PriceTable.from_dict`` / ``from_json`` or
    ``load_prices``; ``as_dict()`` gives the format they read (numbers as strings, so they
    round-trip exactly).

    >>> US_EAST_1.duration["arm64"][0].rate
    Decimal('0.0000133334')
    >>> PriceTable.from_dict(US_EAST_1.as_dict()) == US_EAST_1
    True
    """

    region: str
    effective: str  # when these prices took effect (ISO date)
    checked: str  # when someone last checked them against AWS (ISO date)
    source: str
    request: Decimal  # per request
    duration: Mapping[str, tuple[DurationTier, ...]]  # architecture -> tiers, per GB-s
    free_requests: int  # a month, both architectures together
    free_gb_s: Decimal  # a month, both architectures together
    ephemeral_storage: Decimal  # per GB-s of storage configured above 512 MB
    pc_configured: Mapping[str, Decimal]  # per GB-s of provisioned concurrency enabled
    pc_duration: Mapping[str, Decimal]  # per GB-s of invocations served by PC
    snapstart_cache: Decimal  # per GB-s the snapshot is cached (3 h minimum)
    snapstart_restore: Decimal  # per GB restored
    currency: str = "USD"
    notes: str = ""

    def __post_init__(self) -> None:
        def dec(value: Any, what: str) -> Decimal:
            number = _decimal(value, what)
            if number < 0:
                raise ValueError(f"price table {self.region!r}: {what} must not be negative")
            return number

        def per_arch(mapping: Mapping[str, Any], what: str) -> Mapping[str, Decimal]:
            missing = [a for a in ARCHITECTURES if a not in mapping]
            if missing:
                raise ValueError(f"price table {self.region!r}: {what} lacks {', '.join(missing)}")
            return MappingProxyType({a: dec(mapping[a], f"{what}[{a}]") for a in ARCHITECTURES})

        tiers_by_arch = {}
        for arch in ARCHITECTURES:
            if arch not in self.duration:
                raise ValueError(f"price table {self.region!r}: duration lacks {arch}")
            tiers = []
            previous = Decimal(0)
            raw = list(self.duration[arch])
            if not raw:
                raise ValueError(f"price table {self.region!r}: duration[{arch}] has no tiers")
            for i, tier in enumerate(raw):
                if isinstance(tier, Mapping):
                    tier = DurationTier(tier.get("up_to_gb_s"), tier["rate"])
                upper = tier.up_to_gb_s
                last = i == len(raw) - 1
                if (upper is None) != last:
                    raise ValueError(
                        f"price table {self.region!r}: duration[{arch}] needs an upper bound on "
                        "every tier but the last, and none on the last"
                    )
                if upper is not None:
                    upper = dec(upper, f"duration[{arch}] tier {i + 1} bound")
                    if upper <= previous:
                        raise ValueError(
                            f"price table {self.region!r}: duration[{arch}] bounds must increase"
                        )
                    _require_whole_mbms(upper, f"duration[{arch}] tier {i + 1} bound")
                    previous = upper
                tiers.append(DurationTier(upper, dec(tier.rate, f"duration[{arch}] rate")))
            tiers_by_arch[arch] = tuple(tiers)
        put = object.__setattr__  # frozen: normalise once, here
        put(self, "duration", MappingProxyType(tiers_by_arch))
        put(self, "request", dec(self.request, "request"))
        put(self, "free_requests", _whole(self.free_requests, "free_requests"))
        put(self, "free_gb_s", dec(self.free_gb_s, "free_gb_s"))
        _require_whole_mbms(self.free_gb_s, "free_gb_s")
        put(self, "ephemeral_storage", dec(self.ephemeral_storage, "ephemeral_storage"))
        put(self, "pc_configured", per_arch(self.pc_configured, "pc_configured"))
        put(self, "pc_duration", per_arch(self.pc_duration, "pc_duration"))
        put(self, "snapstart_cache", dec(self.snapstart_cache, "snapstart_cache"))
        put(self, "snapstart_restore", dec(self.snapstart_restore, "snapstart_restore"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PriceTable) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"PriceTable({self.region!r}, effective {self.effective}, {self.currency})"

    def tier1_rate(self, architecture: str) -> Decimal:
        """The first-tier on-demand duration rate (USD per GB-s) for ``architecture``."""
        return self.duration[_architecture(architecture)][0].rate

    def as_dict(self) -> dict[str, Any]:
        """The table as plain JSON-able data; numbers are strings so nothing is lost."""
        return {
            "region": self.region,
            "currency": self.currency,
            "effective": self.effective,
            "checked": self.checked,
            "source": self.source,
            "notes": self.notes,
            "request": _plain(self.request),
            "duration": {
                arch: [
                    {"up_to_gb_s": None if t.up_to_gb_s is None else _plain(t.up_to_gb_s),
                     "rate": _plain(t.rate)}
                    for t in tiers
                ]
                for arch, tiers in self.duration.items()
            },
            "free_tier": {"requests": self.free_requests, "gb_s": _plain(self.free_gb_s)},
            "ephemeral_storage": _plain(self.ephemeral_storage),
            "provisioned_concurrency": {a: _plain(v) for a, v in self.pc_configured.items()},
            "provisioned_duration": {a: _plain(v) for a, v in self.pc_duration.items()},
            "snapstart": {"cache": _plain(self.snapstart_cache),
                          "restore": _plain(self.snapstart_restore)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PriceTable":
        """Build a table from the ``as_dict()`` format. Prices may be strings, ints, Decimals or
        floats (a float is read as the decimal it prints as, e.g. ``0.0000166667``)."""
        try:
            free = data["free_tier"]
            snap = data["snapstart"]
            return cls(
                region=str(data["region"]),
                currency=str(data.get("currency", "USD")),
                effective=str(data["effective"]),
                checked=str(data.get("checked", "")),
                source=str(data.get("source", "")),
                notes=str(data.get("notes", "")),
                request=data["request"],
                duration=data["duration"],
                free_requests=free["requests"],
                free_gb_s=free["gb_s"],
                ephemeral_storage=data["ephemeral_storage"],
                pc_configured=data["provisioned_concurrency"],
                pc_duration=data["provisioned_duration"],
                snapstart_cache=snap["cache"],
                snapstart_restore=snap["restore"],
            )
        except KeyError as missing:
            raise ValueError(
                f"price table is missing {missing}; start from US_EAST_1.as_dict() for the format"
            ) from None

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> "PriceTable":
        """Read a table from a JSON file in the ``as_dict()`` format (JSON numbers read exactly)."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f, parse_float=Decimal))


def _plain(number: Decimal) -> str:
    """A decimal as plain digits, e.g. 0.0000002 rather than 2E-7."""
    return format(number, "f")


def _require_whole_mbms(gb_s: Decimal, what: str) -> None:
    with localcontext(_ROUNDING):
        mbms = gb_s * MBMS_PER_GB_S
    if mbms != mbms.to_integral_value():
        raise ValueError(f"{what} ({gb_s} GB-s) must be a whole number of MB-ms")


US_EAST_1 = PriceTable(
    region="us-east-1",
    effective="2025-10-01",
    checked="2025-10-28",
    source=(
        "AWS Price List API, service AWSLambda, us-east-1 (effective 2025-10-01, queried "
        "2025-10-28; SKUs e.g. x86 duration TG3M4CAGBA3NYQBH, PC BMKCD2ZCEYKTYYCB, storage "
        "CVY5JH8RFRXMP92N), as transcribed in docs/lambda-facts.md section 3.1; tiers from "
        "https://aws.amazon.com/blogs/compute/introducing-tiered-pricing-for-aws-lambda/ ; "
        "free tier, PC and SnapStart rules and worked examples from "
        "https://aws.amazon.com/lambda/pricing/"
    ),
    notes=(
        "SnapStart (Python/.NET) is one price for both architectures here; the price list "
        "transcription shows a single SKU for each of cache and restore."
    ),
    request=Decimal("0.0000002"),
    duration={
        "x86_64": (
            DurationTier(Decimal("6000000000"), Decimal("0.0000166667")),
            DurationTier(Decimal("15000000000"), Decimal("0.0000150000")),
            DurationTier(None, Decimal("0.0000133334")),
        ),
        "arm64": (
            DurationTier(Decimal("7500000000"), Decimal("0.0000133334")),
            DurationTier(Decimal("18750000000"), Decimal("0.0000120001")),
            DurationTier(None, Decimal("0.0000106667")),
        ),
    },
    free_requests=1_000_000,
    free_gb_s=Decimal("400000"),
    ephemeral_storage=Decimal("0.0000000309"),
    pc_configured={"x86_64": Decimal("0.0000041667"), "arm64": Decimal("0.0000033334")},
    pc_duration={"x86_64": Decimal("0.0000097222"), "arm64": Decimal("0.0000077778")},
    snapstart_cache=Decimal("0.0000015046"),
    snapstart_restore=Decimal("0.0001397998"),
)


def load_prices(source: "PriceTable | Mapping[str, Any] | str | os.PathLike[str]") -> PriceTable:
    """A ``PriceTable`` from a table, a dict in the ``as_dict()`` format, or a JSON file path."""
    if isinstance(source, PriceTable):
        return source
    if isinstance(source, Mapping):
        return PriceTable.from_dict(source)
    if isinstance(source, (str, os.PathLike)):
        return PriceTable.from_json(source)
    raise TypeError(
        f"prices must be a PriceTable, a dict or a JSON file path, not {type(source).__name__}"
    )


def billed_duration_ms(
    duration_ms: Any, init_duration_ms: Any = None, *, init_billing: str = "2025-08"
) -> int:
    """The billed duration of one invocation, in whole milliseconds.

    Lambda rounds up to the next millisecond. On a cold start (``init_duration_ms`` given)
    the current rule bills INIT and the handler together, rounded up once; ``"legacy"`` is the
    rule before 1 August 2025 for ZIP packages on managed runtimes, which left INIT out.
    Durations are read to the microsecond first (see ``_duration_us``).

    >>> billed_duration_ms(14.97)
    15
    >>> billed_duration_ms(201.67, 480.25)
    682
    >>> billed_duration_ms(201.67, 480.25, init_billing="legacy")
    202
    """
    rule = _init_rule(init_billing)
    us = _duration_us(duration_ms, "duration_ms")
    if init_duration_ms is not None and _init_is_billed(rule, zip_managed_runtime=True):
        us += _duration_us(init_duration_ms, "init_duration_ms")
    return _ceil_ms(us)


# --------------------------------------------------------------------------------------------
# Tiers
# --------------------------------------------------------------------------------------------


class TierLine(NamedTuple):
    """One line of tiered duration: ``gb_s`` priced at ``rate`` in tier ``tier`` (1-based)."""

    tier: int
    gb_s: Decimal
    rate: Decimal
    cost: Decimal


def _tier_bounds_mbms(tiers: Sequence[DurationTier]) -> list[int | None]:
    with localcontext(_EXACT):
        return [None if t.up_to_gb_s is None else int(t.up_to_gb_s * MBMS_PER_GB_S)
                for t in tiers]


def _ladder(start_mbms: int, end_mbms: int, tiers: Sequence[DurationTier]) -> tuple[TierLine, ...]:
    """Price the stretch [start, end) of a month's cumulative usage along the tier ladder."""
    lines = []
    lower = 0
    for number, (tier, upper) in enumerate(zip(tiers, _tier_bounds_mbms(tiers)), 1):
        lo = max(start_mbms, lower)
        hi = end_mbms if upper is None else min(end_mbms, upper)
        if hi > lo:
            gb_s = _gb_s(hi - lo)
            with localcontext(_EXACT):
                lines.append(TierLine(number, gb_s, tier.rate, gb_s * tier.rate))
        if upper is None:
            break
        lower = upper
    return tuple(lines)


def _free_mbms(p: PriceTable) -> int:
    with localcontext(_EXACT):
        return int(p.free_gb_s * MBMS_PER_GB_S)


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    with localcontext(_EXACT):
        return sum(amounts, Decimal(0))


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def _usd(amount: Decimal) -> str:
    """A bill's amount, to the cent (rounded half up, as ``to_cents``)."""
    from .limits import format_usd
    return format_usd(to_cents(amount))


def _usd_exact(amount: Decimal) -> str:
    from .limits import format_usd
    return format_usd(amount, exact=True)


def _qty(number: Decimal | int) -> str:
    """A quantity for a bill's table, rounded for reading (the amounts stay exact): whole numbers
    from 100 up, two decimals from 1, three significant digits below 1.

    >>> _qty(Decimal("950146.484375")), _qty(Decimal("12.3456")), _qty(Decimal("0.000125")), _qty(0)
    ('950,146', '12.35', '0.000125', '0')
    """
    if isinstance(number, int):
        return f"{number:,}"
    number = Decimal(number)
    size = abs(number)
    if size >= 100:
        places = Decimal(1)
    elif size >= 1:
        places = Decimal("0.01")
    elif size:
        places = Decimal(1).scaleb(size.adjusted() - 2)
    else:
        return "0"
    rounded = number.quantize(places, rounding=ROUND_HALF_UP, context=_ROUNDING)
    text = format(abs(rounded).normalize(), "f")
    whole, _, frac = text.partition(".")
    sign = "-" if rounded < 0 else ""
    return sign + f"{int(whole):,}" + (f".{frac}" if frac else "")


def _credit_qty(number: Decimal | int, unit: str = "") -> str:
    """A free-tier credit's quantity: minus what it takes off, or plain 0 (never "-0")."""
    text = _qty(number) + (f" {unit}" if unit else "")
    return f"-{text}" if number else text


def _rate(rate: Decimal) -> str:
    return "$" + format(rate.normalize(), "f")


def _text_table(title: Sequence[str], rows: Sequence[tuple[str, str, str, str]],
                footer: Sequence[str]) -> str:
    header = ("item", "quantity", "rate", "amount")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = list(title)
    for r in [header, *rows]:
        lines.append(
            f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}"
        )
    lines.extend(footer)
    return "\n".join(lines)


def _html_table(caption: str, rows: Sequence[tuple[str, str, str, str]],
                footer: Sequence[str]) -> str:
    esc = html.escape
    out = ['<table class="lambdalab-cost">', f"<caption>{esc(caption)}</caption>",
           "<thead><tr><th>item</th><th>quantity</th><th>rate</th><th>amount</th></tr></thead>",
           "<tbody>"]
    for label, qty, rate, amount in rows:
        strong = label.lower() == "total"
        cell = (lambda s: f"<strong>{esc(s)}</strong>") if strong else esc
        out.append(
            f'<tr><td style="text-align:left">{cell(label)}</td>'
            f'<td style="text-align:right">{esc(qty)}</td>'
            f'<td style="text-align:right">{esc(rate)}</td>'
            f'<td style="text-align:right">{cell(amount)}</td></tr>'
        )
    out.append("</tbody></table>")
    out.extend(f"<p><small>{esc(line.strip())}</small></p>" for line in footer if line.strip())
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# One workload for a month
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Usage:
    """A month's workload reduced to whole numbers: counts, billed ms and MB. Both pricing paths
    (Decimal and vectorised) build exactly these integers and price them."""

    architecture: str
    memory_mb: int
    requests: int
    pc_requests: int
    cold_starts: int
    warm_ms: int  # billed ms of an on-demand invocation without INIT
    cold_ms: int  # billed ms of an on-demand cold start (INIT included if billed)
    pc_ms: int  # billed ms of an invocation served by provisioned concurrency
    storage_extra_mb: int
    pc_units: int
    pc_billed_ms: int  # PC enabled time, rounded up to 5 minutes
    snapstart: bool
    snapstart_cache_ms: int
    free_tier: bool

    @property
    def on_demand_requests(self) -> int:
        return self.requests - self.pc_requests

    @property
    def invoke_mbms(self) -> int:
        return self.memory_mb * self.on_demand_requests * self.warm_ms

    @property
    def init_mbms(self) -> int:
        return self.memory_mb * self.cold_starts * (self.cold_ms - self.warm_ms)

    @property
    def billed_ms_total(self) -> int:
        warm = self.on_demand_requests - self.cold_starts
        return warm * self.warm_ms + self.cold_starts * self.cold_ms + self.pc_requests * self.pc_ms


def _usage(
    requests: Any,
    avg_duration_ms: Any,
    memory_mb: Any,
    architecture: Any = "x86_64",
    *,
    cold_start_ratio: Any = 0,
    cold_starts: Any = None,
    init_duration_ms: Any = 0,
    ephemeral_storage_mb: Any = 512,
    provisioned_concurrency: Any = 0,
    pc_hours: Any = 0,
    pc_share: Any = 0,
    pc_requests: Any = None,
    pc_avg_duration_ms: Any = None,
    snapstart: Any = False,
    snapstart_hours: Any = None,
    zip_managed_runtime: Any = True,
    free_tier: Any = True,
    init_billing: Any = "2025-08",
) -> _Usage:
    rule = _init_rule(init_billing)
    arch = _architecture(architecture)
    mem = _memory_mb(memory_mb)
    storage = _storage_mb(ephemeral_storage_mb)
    n = _count(requests, "requests")
    duration_us = _duration_us(avg_duration_ms, "avg_duration_ms")
    init_us = _duration_us(init_duration_ms, "init_duration_ms")
    snapstart, zip_managed_runtime, free_tier = (
        _flag(snapstart, "snapstart"), _flag(zip_managed_runtime, "zip_managed_runtime"),
        _flag(free_tier, "free_tier"))

    units = _count(provisioned_concurrency, "provisioned_concurrency")
    pc_ms_enabled = _hours_ms(pc_hours, "pc_hours")
    if pc_requests is not None:
        on_pc = _count(pc_requests, "pc_requests")
        if on_pc > n:
            raise ValueError(f"pc_requests ({on_pc:,}) cannot exceed requests ({n:,})")
    else:
        on_pc = _round_half_up_share(n, _ratio_ppm(pc_share, "pc_share"))
    if units == 0 and (on_pc or pc_ms_enabled):
        raise ValueError(
            "pc_share, pc_requests and pc_hours need provisioned_concurrency (the number of "
            "PC units) greater than 0"
        )
    if units and not pc_ms_enabled:
        raise ValueError("provisioned_concurrency needs pc_hours: how long PC is enabled this month")
    pc_us = duration_us if pc_avg_duration_ms is None else _duration_us(
        pc_avg_duration_ms, "pc_avg_duration_ms")
    if on_pc and on_pc * pc_us > units * pc_ms_enabled * 1000:
        raise ValueError(_pc_overload_message(units, pc_ms_enabled, pc_us, on_pc,
                                              "pc_requests" if pc_requests is not None else "pc_share"))

    if cold_starts is not None:
        cold = _count(cold_starts, "cold_starts")
        if cold > n - on_pc:
            raise ValueError(
                f"cold_starts ({cold:,}) cannot exceed on-demand requests ({n - on_pc:,})"
            )
    else:
        cold = _round_half_up_share(n - on_pc, _ratio_ppm(cold_start_ratio, "cold_start_ratio"))

    cache_ms = 0 if snapstart_hours is None else _hours_ms(snapstart_hours, "snapstart_hours")
    if snapstart:
        if units:
            raise ValueError("SnapStart cannot be combined with provisioned concurrency")
        if storage > EPHEMERAL_FREE_MB:
            raise ValueError("SnapStart functions are limited to 512 MB of ephemeral storage")
        if snapstart_hours is None:
            raise ValueError(
                "snapstart needs snapstart_hours: how long the published version stays cached "
                "this month (e.g. 24 * 30 for all of a 30-day month)"
            )
        cache_ms = max(cache_ms, SNAPSTART_MIN_CACHE_MS)
    else:
        cache_ms = 0

    # A SnapStart cold start is a restore; its (billed) restore duration is always charged.
    init_billed = snapstart or _init_is_billed(rule, zip_managed_runtime)
    warm_ms = _ceil_ms(duration_us)
    return _Usage(
        architecture=arch,
        memory_mb=mem,
        requests=n,
        pc_requests=on_pc,
        cold_starts=cold,
        warm_ms=warm_ms,
        cold_ms=_ceil_ms(duration_us + init_us) if init_billed else warm_ms,
        pc_ms=_ceil_ms(pc_us),
        storage_extra_mb=storage - EPHEMERAL_FREE_MB,
        pc_units=units,
        pc_billed_ms=-(-pc_ms_enabled // PC_BILLING_UNIT_MS) * PC_BILLING_UNIT_MS,
        snapstart=snapstart,
        snapstart_cache_ms=cache_ms,
        free_tier=free_tier,
    )


def pc_capacity(provisioned_concurrency: Any, pc_hours: Any, duration_ms: Any) -> int | None:
    """The most requests ``provisioned_concurrency`` units enabled for ``pc_hours`` can serve, each
    running ``duration_ms``: one request per unit at a time, so units x time enabled / duration.
    Requests beyond it spill over to on-demand environments (AWS "Configuring provisioned
    concurrency for a function"). ``None`` when ``duration_ms`` is 0: no bound.

    >>> pc_capacity(1, 1, 109.5)      # one unit for an hour, 109.5 ms requests
    32876
    """
    units = _count(provisioned_concurrency, "provisioned_concurrency")
    enabled_ms = _hours_ms(pc_hours, "pc_hours")
    duration_us = _duration_us(duration_ms, "duration_ms")
    if duration_us == 0:
        return None
    return units * enabled_ms * 1000 // duration_us


def _pc_overload_message(units: int, enabled_ms: int, pc_us: int, on_pc: int, knob: str) -> str:
    hours = Fraction(enabled_ms, 3_600_000)
    most = units * enabled_ms * 1000 // pc_us
    return (
        f"{knob} puts {on_pc:,} requests of {pc_us / 1000:,.3f} ms on provisioned concurrency, but "
        f"{units:,} unit{'s' if units != 1 else ''} enabled for {float(hours):,.4g} h can serve at most "
        f"{most:,} (units x seconds enabled / duration: one request per unit at a time). Add units "
        f"or hours, or put fewer requests on PC (the rest spill over to on-demand)."
    )


def _flag(value: Any, what: str) -> bool:
    if _is_bool(value) or value in (0, 1):
        return bool(value)
    raise TypeError(f"{what} must be True or False, not {value!r}")


@dataclass(frozen=True)
class MonthlyCost:
    """What one workload costs in a month, line by line, exactly.

    Amounts are exact ``Decimal`` dollars; ``round_cents()`` and the text/HTML forms round to
    the cent (half up). ``total`` is rounded once from the exact sum, where AWS's worked examples
    round each line first; the two agree on every AWS example, but can differ by a cent.

    ``compute_tiers`` prices the handler time of on-demand invocations; ``init_tiers`` continues
    up the same ladder with billed INIT time (so INIT can cross a tier boundary too). The free
    tier is shown as a credit against the gross lines: it covers the first 400,000 GB-s of the
    ladder and the first million requests.
    """

    architecture: str
    memory_mb: int
    requests: int
    on_demand_requests: int
    pc_requests: int
    cold_starts: int
    init_billing: str
    requests_cost: Decimal
    compute_gb_s: Decimal
    compute_tiers: tuple[TierLine, ...]
    init_gb_s: Decimal
    init_tiers: tuple[TierLine, ...]
    storage_gb_s: Decimal
    storage_cost: Decimal
    pc_configured_gb_s: Decimal
    pc_configured_cost: Decimal
    pc_execution_gb_s: Decimal
    pc_execution_cost: Decimal
    snapstart_cache_gb_s: Decimal
    snapstart_cache_cost: Decimal
    snapstart_restore_gb: Decimal
    snapstart_restore_cost: Decimal
    free_requests: int
    free_requests_credit: Decimal
    free_gb_s: Decimal
    free_gb_s_credit: Decimal
    prices: PriceTable = field(repr=False, compare=False)

    @property
    def compute_cost(self) -> Decimal:
        """On-demand handler duration, all tiers, before the free tier."""
        return _sum(line.cost for line in self.compute_tiers)

    @property
    def init_cost(self) -> Decimal:
        """Billed INIT duration of on-demand cold starts, before the free tier."""
        return _sum(line.cost for line in self.init_tiers)

    @property
    def provisioned_concurrency_cost(self) -> Decimal:
        """PC configured time plus the duration of invocations PC served."""
        return _sum([self.pc_configured_cost, self.pc_execution_cost])

    @property
    def snapstart_cost(self) -> Decimal:
        return _sum([self.snapstart_cache_cost, self.snapstart_restore_cost])

    @property
    def free_tier_credit(self) -> Decimal:
        return _sum([self.free_requests_credit, self.free_gb_s_credit])

    @property
    def gross(self) -> Decimal:
        """Every charge before the free tier."""
        return _sum([self.requests_cost, self.compute_cost, self.init_cost, self.storage_cost,
                     self.provisioned_concurrency_cost, self.snapstart_cost])

    @property
    def total(self) -> Decimal:
        with localcontext(_EXACT):
            return self.gross - self.free_tier_credit

    def round_cents(self) -> dict[str, Decimal]:
        """Each line and the total rounded to the cent (half up); the object keeps full precision."""
        return {name: to_cents(value) for name, value in self._amounts().items()}

    def _amounts(self) -> dict[str, Decimal]:
        return {
            "requests_cost": self.requests_cost,
            "compute_cost": self.compute_cost,
            "init_cost": self.init_cost,
            "storage_cost": self.storage_cost,
            "pc_configured_cost": self.pc_configured_cost,
            "pc_execution_cost": self.pc_execution_cost,
            "snapstart_cache_cost": self.snapstart_cache_cost,
            "snapstart_restore_cost": self.snapstart_restore_cost,
            "free_requests_credit": self.free_requests_credit,
            "free_gb_s_credit": self.free_gb_s_credit,
            "total": self.total,
        }

    def as_dict(self) -> dict[str, Any]:
        """Every field and amount as plain data (exact Decimals; tiers as lists of dicts)."""
        out: dict[str, Any] = {
            "architecture": self.architecture,
            "memory_mb": self.memory_mb,
            "requests": self.requests,
            "on_demand_requests": self.on_demand_requests,
            "pc_requests": self.pc_requests,
            "cold_starts": self.cold_starts,
            "init_billing": self.init_billing,
            "region": self.prices.region,
            "prices_effective": self.prices.effective,
            "compute_gb_s": self.compute_gb_s,
            "compute_tiers": [line._asdict() for line in self.compute_tiers],
            "init_gb_s": self.init_gb_s,
            "init_tiers": [line._asdict() for line in self.init_tiers],
            "storage_gb_s": self.storage_gb_s,
            "pc_configured_gb_s": self.pc_configured_gb_s,
            "pc_execution_gb_s": self.pc_execution_gb_s,
            "snapstart_cache_gb_s": self.snapstart_cache_gb_s,
            "snapstart_restore_gb": self.snapstart_restore_gb,
            "free_requests": self.free_requests,
            "free_gb_s": self.free_gb_s,
        }
        out.update(self._amounts())
        out["provisioned_concurrency_cost"] = self.provisioned_concurrency_cost
        out["free_tier_credit"] = self.free_tier_credit
        return out

    def _rows(self) -> list[tuple[str, str, str, str]]:
        p = self.prices
        rows = [("Requests", _qty(self.requests), _rate(p.request), _usd(self.requests_cost))]
        if self.compute_tiers:
            rows += [(f"Duration, tier {t.tier}", f"{_qty(t.gb_s)} GB-s", _rate(t.rate),
                      _usd(t.cost)) for t in self.compute_tiers]
        else:
            rows.append(("Duration", "0 GB-s", _rate(p.tier1_rate(self.architecture)),
                         _usd(Decimal(0))))
        rows += [(f"INIT, tier {t.tier}", f"{_qty(t.gb_s)} GB-s", _rate(t.rate), _usd(t.cost))
                 for t in self.init_tiers]
        if self.storage_gb_s:
            rows.append(("Ephemeral storage", f"{_qty(self.storage_gb_s)} GB-s",
                         _rate(p.ephemeral_storage), _usd(self.storage_cost)))
        if self.pc_configured_gb_s or self.pc_execution_gb_s:
            rows.append(("PC, configured", f"{_qty(self.pc_configured_gb_s)} GB-s",
                         _rate(p.pc_configured[self.architecture]),
                         _usd(self.pc_configured_cost)))
            rows.append(("PC, duration", f"{_qty(self.pc_execution_gb_s)} GB-s",
                         _rate(p.pc_duration[self.architecture]), _usd(self.pc_execution_cost)))
        if self.snapstart_cache_gb_s:
            rows.append(("SnapStart cache", f"{_qty(self.snapstart_cache_gb_s)} GB-s",
                         _rate(p.snapstart_cache), _usd(self.snapstart_cache_cost)))
            rows.append(("SnapStart restore", f"{_qty(self.snapstart_restore_gb)} GB",
                         _rate(p.snapstart_restore), _usd(self.snapstart_restore_cost)))
        if self.free_requests or self.free_gb_s:
            rows.append(("Free tier, requests", _credit_qty(self.free_requests), "",
                         _usd(-self.free_requests_credit)))
            rows.append(("Free tier, duration", _credit_qty(self.free_gb_s, "GB-s"), "",
                         _usd(-self.free_gb_s_credit)))
        rows.append(("Total", "", "", _usd(self.total)))
        return rows

    def _title(self) -> str:
        return (f"Lambda monthly cost: {self.architecture}, {self.memory_mb:,} MB, "
                f"{self.requests:,} requests")

    def _footer(self) -> list[str]:
        p = self.prices
        return [
            f"Prices: {p.region} ({p.currency}), effective {p.effective}; "
            f"INIT billing rule: {self.init_billing}.",
            "Lines are rounded to the cent; the total is rounded once from the exact sum.",
        ]

    def __str__(self) -> str:
        return _text_table([self._title()], self._rows(), self._footer())

    def _repr_html_(self) -> str:
        return _html_table(self._title(), self._rows(), self._footer())


def monthly_cost(
    requests: int,
    avg_duration_ms: float,
    memory_mb: int,
    architecture: str = "x86_64",
    *,
    cold_start_ratio: float = 0,
    cold_starts: int | None = None,
    init_duration_ms: float = 0,
    ephemeral_storage_mb: int = 512,
    provisioned_concurrency: int = 0,
    pc_hours: float = 0,
    pc_share: float = 0,
    pc_requests: int | None = None,
    pc_avg_duration_ms: float | None = None,
    snapstart: bool = False,
    snapstart_hours: float | None = None,
    zip_managed_runtime: bool = True,
    free_tier: bool = True,
    init_billing: str = "2025-08",
    prices: "PriceTable | Mapping[str, Any] | str | os.PathLike[str]" = US_EAST_1,
) -> MonthlyCost:
    """Price one function's month, as if it were the account's only Lambda usage that month
    (tiers and the free tier are counted within this workload).

    ``requests`` invocations a month, each running ``avg_duration_ms`` (rounded up to the ms
    one by one) with ``memory_mb`` on ``architecture``.

    * Cold starts: ``cold_start_ratio`` of the on-demand requests (or exactly ``cold_starts``)
      also run INIT for ``init_duration_ms``, billed according to ``init_billing`` ("2025-08",
      or "legacy", where INIT was free if ``zip_managed_runtime``).
    * ``ephemeral_storage_mb`` above 512 MB is billed for all billed execution time.
    * Provisioned concurrency: ``provisioned_concurrency`` units enabled for ``pc_hours``
      (rounded up to 5 minutes), serving ``pc_share`` of the requests (or exactly
      ``pc_requests``) in ``pc_avg_duration_ms`` (default: ``avg_duration_ms``), without INIT.
      The rest run on demand.
    * ``snapstart=True`` (Python): the version is cached for ``snapstart_hours`` (3 h minimum)
      and every on-demand cold start is a restore of ``memory_mb``; ``init_duration_ms`` is then
      the billed restore duration, charged under both INIT rules.
    * ``free_tier``: 1 M on-demand requests and 400,000 GB-s of on-demand duration. It does not
      apply to provisioned-concurrency usage (AWS pricing page): the configured PC, the duration
      PC serves and the requests PC serves are never credited. Both of AWS's PC worked examples
      agree with this (the Cyber Monday one, all on PC, gets nothing from the free tier).
    * PC serves one request per unit at a time: more requests on PC than units x seconds enabled
      / duration is refused (``pc_capacity``).

    Shares are read to the millionth and rounded to whole invocations (half up); durations are
    read to the microsecond. Raises ``ValueError`` (what to fix in the message) for memory
    outside 128-10,240 MB, storage outside 512-10,240 MB, an unknown architecture or rule, or
    more requests on PC than it can serve.

    >>> cost = monthly_cost(10_000_000, 200, 512)   # docs/lambda-facts.md section 3.1
    >>> cost.compute_gb_s, to_cents(cost.compute_cost - cost.free_gb_s_credit)
    (Decimal('1000000'), Decimal('10.00'))
    >>> to_cents(cost.requests_cost - cost.free_requests_credit)
    Decimal('1.80')
    """
    table = load_prices(prices)
    usage = _usage(
        requests, avg_duration_ms, memory_mb, architecture,
        cold_start_ratio=cold_start_ratio, cold_starts=cold_starts,
        init_duration_ms=init_duration_ms, ephemeral_storage_mb=ephemeral_storage_mb,
        provisioned_concurrency=provisioned_concurrency, pc_hours=pc_hours, pc_share=pc_share,
        pc_requests=pc_requests, pc_avg_duration_ms=pc_avg_duration_ms, snapstart=snapstart,
        snapstart_hours=snapstart_hours, zip_managed_runtime=zip_managed_runtime,
        free_tier=free_tier, init_billing=init_billing,
    )
    return _price_usage(usage, table, _init_rule(init_billing))


def _price_usage(u: _Usage, p: PriceTable, init_billing: str) -> MonthlyCost:
    tiers = p.duration[u.architecture]
    invoke, init = u.invoke_mbms, u.init_mbms
    compute_tiers = _ladder(0, invoke, tiers)
    init_tiers = _ladder(invoke, invoke + init, tiers)

    free_requests = min(u.on_demand_requests, p.free_requests) if u.free_tier else 0
    free_mbms = min(invoke + init, _free_mbms(p)) if u.free_tier else 0
    free_lines = _ladder(0, free_mbms, tiers)

    storage_gb_s = _gb_s(u.storage_extra_mb * u.billed_ms_total)
    pc_configured_gb_s = _gb_s(u.pc_units * u.memory_mb * u.pc_billed_ms)
    pc_execution_gb_s = _gb_s(u.pc_requests * u.memory_mb * u.pc_ms)
    cache_gb_s = _gb_s(u.memory_mb * u.snapstart_cache_ms)
    with localcontext(_EXACT):
        restore_gb = Decimal(u.cold_starts * u.memory_mb) / 1024 if u.snapstart else Decimal(0)
        return MonthlyCost(
            architecture=u.architecture,
            memory_mb=u.memory_mb,
            requests=u.requests,
            on_demand_requests=u.on_demand_requests,
            pc_requests=u.pc_requests,
            cold_starts=u.cold_starts,
            init_billing=init_billing,
            requests_cost=u.requests * p.request,
            compute_gb_s=_gb_s(invoke),
            compute_tiers=compute_tiers,
            init_gb_s=_gb_s(init),
            init_tiers=init_tiers,
            storage_gb_s=storage_gb_s,
            storage_cost=storage_gb_s * p.ephemeral_storage,
            pc_configured_gb_s=pc_configured_gb_s,
            pc_configured_cost=pc_configured_gb_s * p.pc_configured[u.architecture],
            pc_execution_gb_s=pc_execution_gb_s,
            pc_execution_cost=pc_execution_gb_s * p.pc_duration[u.architecture],
            snapstart_cache_gb_s=cache_gb_s,
            snapstart_cache_cost=cache_gb_s * p.snapstart_cache,
            snapstart_restore_gb=restore_gb,
            snapstart_restore_cost=restore_gb * p.snapstart_restore,
            free_requests=free_requests,
            free_requests_credit=free_requests * p.request,
            free_gb_s=_gb_s(free_mbms),
            free_gb_s_credit=_sum(line.cost for line in free_lines),
            prices=p,
        )


# --------------------------------------------------------------------------------------------
# What simulated invocations cost
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvocationCost:
    """The cost of one invocation (from ``cost_of``) or of several summed (``cost_of_many``).

    ``compute_cost`` is duration: on-demand at the architecture's rate, or PC's duration rate for
    invocations provisioned concurrency served. Amounts are exact; ``str()`` shows them exactly
    and to the cent.
    """

    invocations: int
    billed_duration_ms: int  # summed over the invocations
    gb_s: Decimal  # billed duration x memory, all invocations
    request_cost: Decimal
    compute_cost: Decimal
    storage_cost: Decimal
    restore_cost: Decimal = Decimal(0)
    free_tier_credit: Decimal = Decimal(0)
    memory_mb: int | None = None  # None when the invocations differ
    architecture: str | None = None
    rate: Decimal | None = None  # the duration rate, when a single one applies
    compute_tiers: tuple[tuple[str, TierLine], ...] = ()  # (architecture, line), if tiered
    region: str = ""

    @property
    def total(self) -> Decimal:
        with localcontext(_EXACT):
            return (self.request_cost + self.compute_cost + self.storage_cost
                    + self.restore_cost - self.free_tier_credit)

    def round_cents(self) -> Decimal:
        """The total to the cent (half up)."""
        return to_cents(self.total)

    def as_dict(self) -> dict[str, Any]:
        return {
            "invocations": self.invocations,
            "billed_duration_ms": self.billed_duration_ms,
            "gb_s": self.gb_s,
            "memory_mb": self.memory_mb,
            "architecture": self.architecture,
            "rate": self.rate,
            "request_cost": self.request_cost,
            "compute_cost": self.compute_cost,
            "storage_cost": self.storage_cost,
            "restore_cost": self.restore_cost,
            "free_tier_credit": self.free_tier_credit,
            "compute_tiers": [dict(architecture=a, **line._asdict())
                              for a, line in self.compute_tiers],
            "total": self.total,
        }

    def _rows(self) -> list[tuple[str, str, str, str]]:
        rows = [("Requests", _qty(self.invocations), "", _usd_exact(self.request_cost))]
        if self.compute_tiers:
            rows += [(f"Duration {a}, tier {t.tier}", f"{_qty(t.gb_s)} GB-s", _rate(t.rate),
                      _usd_exact(t.cost)) for a, t in self.compute_tiers]
            rest = self.compute_cost - _sum(t.cost for _, t in self.compute_tiers)
            if rest:
                rows.append(("Duration, provisioned concurrency", "", "", _usd_exact(rest)))
        else:
            rows.append(("Duration", f"{_qty(self.gb_s)} GB-s",
                         _rate(self.rate) if self.rate is not None else "",
                         _usd_exact(self.compute_cost)))
        if self.storage_cost:
            rows.append(("Ephemeral storage", "", "", _usd_exact(self.storage_cost)))
        if self.restore_cost:
            rows.append(("SnapStart restore", "", "", _usd_exact(self.restore_cost)))
        if self.free_tier_credit:
            rows.append(("Free tier", "", "", _usd_exact(-self.free_tier_credit)))
        rows.append(("Total", "", "", _usd_exact(self.total)))
        return rows

    def _title(self) -> str:
        what = ("1 invocation" if self.invocations == 1
                else f"{self.invocations:,} invocations")
        details = [d for d in (self.architecture,
                               f"{self.memory_mb:,} MB" if self.memory_mb else None,
                               f"billed {self.billed_duration_ms:,} ms") if d]
        return f"Lambda cost of {what} ({', '.join(details)})"

    def _footer(self) -> list[str]:
        basis = ("tiered, with the free tier" if self.free_tier_credit
                 else "tiered" if self.compute_tiers else "first-tier rates, no free tier")
        return [f"Prices: {self.region}; {basis}. Total to the cent: {_usd(self.total)}."]

    def __str__(self) -> str:
        return _text_table([self._title()], self._rows(), self._footer())

    def _repr_html_(self) -> str:
        return _html_table(self._title(), self._rows(), self._footer())


@dataclass(frozen=True)
class _Invocation:
    architecture: str
    memory_mb: int
    billed_ms: int
    storage_extra_mb: int
    provisioned: bool
    restored: bool


def _read_result(result: Any, init_billing: str | None) -> _Invocation:
    mem = _memory_mb(result.memory_size_mb)
    arch = _architecture(getattr(result, "architecture", None) or "x86_64")
    storage = _storage_mb(getattr(result, "ephemeral_storage_mb", None) or EPHEMERAL_FREE_MB)
    kind = getattr(result, "initialization_type", None) or "on-demand"
    if kind not in ("on-demand", "provisioned-concurrency", "snap-start"):
        raise ValueError(
            "initialization_type must be 'on-demand', 'provisioned-concurrency' or 'snap-start', "
            f"not {kind!r}"
        )
    reported = getattr(result, "billed_duration_ms", None)
    if init_billing is None and reported is not None:
        billed = _count(reported, "billed_duration_ms")
    else:
        rule = _init_rule(init_billing or "2025-08")
        package = str(getattr(result, "package_type", None) or "Zip").lower()
        runtime = str(getattr(result, "runtime", None) or "")
        zip_managed = package == "zip" and not runtime.startswith("provided")
        us = _duration_us(result.duration_ms, "duration_ms")
        init = getattr(result, "init_duration_ms", None)
        # PC environments initialise before any request, so an invocation carries no INIT.
        if init is not None and kind != "provisioned-concurrency" and (
            kind == "snap-start" or _init_is_billed(rule, zip_managed)
        ):
            us += _duration_us(init, "init_duration_ms")
        billed = _ceil_ms(us)
    restored = kind == "snap-start" and getattr(result, "restore_duration_ms", None) is not None
    return _Invocation(arch, mem, billed, storage - EPHEMERAL_FREE_MB,
                       kind == "provisioned-concurrency", restored)


def cost_of(
    result: Any,
    *,
    prices: "PriceTable | Mapping[str, Any] | str | os.PathLike[str]" = US_EAST_1,
    init_billing: str | None = None,
) -> InvocationCost:
    """The marginal price of one invocation: a request, its billed duration and its storage,
    at the first-tier rate and with no free tier.

    Reads ``result.memory_size_mb``, ``result.billed_duration_ms``, ``result.duration_ms`` and
    ``result.init_duration_ms`` (None on warm starts), and, if present, ``architecture``
    (default x86_64), ``ephemeral_storage_mb`` (default 512) and ``initialization_type``
    ("on-demand", "provisioned-concurrency": PC's duration rate, no INIT; "snap-start": a
    restore is charged when ``restore_duration_ms`` is set).

    With ``init_billing=None`` the reported ``billed_duration_ms`` is trusted; pass "2025-08" or
    "legacy" to recompute it from ``duration_ms`` and ``init_duration_ms`` under that rule (a
    ``package_type`` of "Image" or a ``provided.*`` ``runtime`` paid for INIT under both).
    Provisioned concurrency's configured-time charge is not per invocation and is left out.

    >>> from types import SimpleNamespace
    >>> r = SimpleNamespace(memory_size_mb=128, billed_duration_ms=1, duration_ms=0.8,
    ...                     init_duration_ms=None)
    >>> cost_of(r).compute_cost
    Decimal('2.0833375E-9')
    """
    table = load_prices(prices)
    inv = _read_result(result, init_billing)
    rate = table.pc_duration[inv.architecture] if inv.provisioned else table.tier1_rate(
        inv.architecture)
    gb_s = _gb_s(inv.memory_mb * inv.billed_ms)
    storage_gb_s = _gb_s(inv.storage_extra_mb * inv.billed_ms)
    with localcontext(_EXACT):
        restore = (Decimal(inv.memory_mb) / 1024 * table.snapstart_restore
                   if inv.restored else Decimal(0))
        return InvocationCost(
            invocations=1,
            billed_duration_ms=inv.billed_ms,
            gb_s=gb_s,
            request_cost=table.request,
            compute_cost=gb_s * rate,
            storage_cost=storage_gb_s * table.ephemeral_storage,
            restore_cost=restore,
            memory_mb=inv.memory_mb,
            architecture=inv.architecture,
            rate=rate,
            region=table.region,
        )


def cost_of_many(
    results: Iterable[Any],
    *,
    prices: "PriceTable | Mapping[str, Any] | str | os.PathLike[str]" = US_EAST_1,
    init_billing: str | None = None,
    tiers: bool = False,
    free_tier: bool = False,
) -> InvocationCost:
    """The summed cost of many invocation results (see ``cost_of`` for what is read).

    By default each is priced like ``cost_of`` (first tier, no free tier). ``tiers=True`` climbs
    each architecture's monthly tier ladder with the on-demand duration, as if these were the
    month's only invocations; ``free_tier=True`` credits the first million on-demand requests and
    400,000 GB-s of on-demand duration (never provisioned-concurrency usage). AWS shares the free GB-s between architectures without
    saying in what order; this applies them to x86_64 first, then arm64.

    >>> from types import SimpleNamespace
    >>> r = SimpleNamespace(memory_size_mb=1024, billed_duration_ms=1000, duration_ms=999.5,
    ...                     init_duration_ms=None)
    >>> cost_of_many([r, r]).total
    Decimal('0.0000337334')
    """
    table = load_prices(prices)
    invocations = [_read_result(r, init_billing) for r in results]
    on_demand = {a: 0 for a in ARCHITECTURES}
    provisioned = {a: 0 for a in ARCHITECTURES}
    storage = restored_mb = billed_ms = 0
    for inv in invocations:
        mbms = inv.memory_mb * inv.billed_ms
        (provisioned if inv.provisioned else on_demand)[inv.architecture] += mbms
        storage += inv.storage_extra_mb * inv.billed_ms
        restored_mb += inv.memory_mb if inv.restored else 0
        billed_ms += inv.billed_ms
    n = len(invocations)

    free_left = _free_mbms(table) if free_tier else 0
    lines: list[tuple[str, TierLine]] = []
    compute: list[Decimal] = []
    credit: list[Decimal] = []
    if free_tier:
        served_on_demand = sum(1 for inv in invocations if not inv.provisioned)
        credit.append(min(served_on_demand, table.free_requests) * table.request)
    for arch in ARCHITECTURES:
        ladder = table.duration[arch]
        used = on_demand[arch]
        free_here = min(used, free_left)
        free_left -= free_here
        if tiers:
            arch_lines = _ladder(0, used, ladder)
            lines += [(arch, line) for line in arch_lines]
            compute += [line.cost for line in arch_lines]
            credit += [line.cost for line in _ladder(0, free_here, ladder)]
        else:
            with localcontext(_EXACT):
                compute.append(_gb_s(used) * ladder[0].rate)
                credit.append(_gb_s(free_here) * ladder[0].rate)
        with localcontext(_EXACT):
            compute.append(_gb_s(provisioned[arch]) * table.pc_duration[arch])

    archs = {inv.architecture for inv in invocations}
    mems = {inv.memory_mb for inv in invocations}
    kinds = {inv.provisioned for inv in invocations}
    arch = archs.pop() if len(archs) == 1 else None
    rate = None
    if arch is not None and len(kinds) == 1 and not tiers:
        rate = table.pc_duration[arch] if kinds.pop() else table.tier1_rate(arch)
    with localcontext(_EXACT):
        return InvocationCost(
            invocations=n,
            billed_duration_ms=billed_ms,
            gb_s=_gb_s(sum(on_demand.values()) + sum(provisioned.values())),
            request_cost=n * table.request,
            compute_cost=_sum(compute),
            storage_cost=_gb_s(storage) * table.ephemeral_storage,
            restore_cost=Decimal(restored_mb) / 1024 * table.snapstart_restore,
            free_tier_credit=_sum(credit),
            memory_mb=mems.pop() if len(mems) == 1 else None,
            architecture=arch,
            rate=rate,
            compute_tiers=tuple(lines),
            region=table.region,
        )


# --------------------------------------------------------------------------------------------
# Many workloads at once: integer arithmetic with numpy
# --------------------------------------------------------------------------------------------
#
# Each row is reduced to the same integers as _Usage. A row's exact total is then
#     sum(q_k * r_k) / (1,024,000 * 10**S)   dollars,
# where q_k are integer quantities (MB-ms, or requests x 1,024,000, or MB x 1,000 restored) and
# r_k the rates scaled by 10**S to integers (S = 10 for us-east-1). A cent is
# 1,024,000 * 10**S / 100 = 2**shift * 5**(1 + S) such units, with shift = 11 + S. q_k * r_k
# needs more than 64 bits, so each q_k is split at 2**shift: the high and low halves are
# multiplied and summed separately (high * 2**shift + low is the exact sum), the carry folds the
# low sum into the high one, and dividing the high sum by 5**(1 + S) gives whole cents, with the
# remainder deciding the half-up rounding -- the full product is never formed. Rows whose
# quantities could leave that safe range are priced by the Decimal path instead.

_COLUMNS = (
    "requests", "avg_duration_ms", "memory_mb", "architecture", "cold_start_ratio",
    "cold_starts", "init_duration_ms", "ephemeral_storage_mb", "provisioned_concurrency",
    "pc_hours", "pc_share", "pc_requests", "pc_avg_duration_ms", "snapstart", "snapstart_hours",
    "zip_managed_runtime", "free_tier",
)
_REQUIRED = ("requests", "avg_duration_ms", "memory_mb")
_TERMS = 16  # an upper bound on the number of terms summed per row
_CHUNK = 8192  # rows priced together: temporaries stay small enough to live in cache


def _int64_fits(shift: int, max_rate: int) -> bool:
    """Whether a table's integer rates leave room for the int64 path at all: the low halves of
    _TERMS terms, each below 2**shift * rate, must sum below 2**62."""
    return shift <= 25 and _TERMS * (2**shift) * max(max_rate, 1) < 2**62


def _numpy():
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy comes with the lab's matplotlib
        raise ImportError(
            "monthly_cost_table needs numpy: pip install numpy (or use monthly_cost per row)"
        ) from None
    return numpy


@dataclass(frozen=True, eq=False)
class CostTable:
    """Monthly totals for many workloads, from ``monthly_cost_table``.

    ``total_cents`` (int64) is each row's exact total rounded to the cent, half up, exactly as
    ``to_cents(monthly_cost(**row).total)``; ``exact_total(i)`` recovers the exact Decimal.
    """

    total_cents: Any  # numpy int64 array
    _high: Any = field(repr=False)  # exact total = (high * 2**shift + low) / units_per_dollar
    _low: Any = field(repr=False)
    _shift: int = field(repr=False)
    _units_per_dollar: int = field(repr=False)
    _fallback: Mapping[int, Decimal] = field(repr=False)  # rows priced by the Decimal path

    def __len__(self) -> int:
        return len(self.total_cents)

    @property
    def total_usd(self) -> Any:
        """Totals as float dollars (already rounded to the cent), for plotting."""
        return self.total_cents / 100

    @property
    def fallback_rows(self) -> tuple[int, ...]:
        """Rows too large for 64-bit arithmetic, which were priced one by one with Decimals."""
        return tuple(sorted(self._fallback))

    def exact_total(self, row: int) -> Decimal:
        """Row ``row``'s exact total in dollars."""
        row = range(len(self))[row]
        if row in self._fallback:
            return self._fallback[row]
        units = (int(self._high[row]) << self._shift) + int(self._low[row])
        with localcontext(_EXACT):
            return Decimal(units) / self._units_per_dollar

    def exact_totals(self) -> list[Decimal]:
        """Every row's exact total (a Python loop: fine for thousands, slow for millions)."""
        return [self.exact_total(i) for i in range(len(self))]

    def __repr__(self) -> str:
        cents = int(self.total_cents.sum()) if len(self) else 0
        return f"CostTable({len(self):,} rows, sum {_usd(Decimal(cents) / 100)})"


def monthly_cost_table(
    rows: "Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]",
    *,
    prices: "PriceTable | Mapping[str, Any] | str | os.PathLike[str]" = US_EAST_1,
    init_billing: str = "2025-08",
    free_tier: bool = True,
) -> CostTable:
    """Price many workloads at once; each row is priced exactly like ``monthly_cost(**row)``.

    ``rows`` is a list of dicts or a dict of columns (lists or numpy arrays), keyed by
    ``monthly_cost``'s parameter names (``requests``, ``avg_duration_ms`` and ``memory_mb``
    required; a missing column or key takes ``monthly_cost``'s default; ``free_tier`` may be a
    column, else this function's argument applies; ``prices`` and ``init_billing`` apply to the
    whole table). Each row is its own month: tiers and the free tier are not shared across rows. Columns of numpy numbers are fastest: a
    million rows take a fraction of a second. A list of dicts is first turned into columns in
    Python, which costs more than the pricing.

    The arithmetic is in 64-bit integers (see the comment above ``_COLUMNS``); the rare row too
    large for that is priced by ``monthly_cost`` instead (``CostTable.fallback_rows``).

    >>> table = monthly_cost_table({"requests": [3_000_000, 10_000_000],
    ...                             "avg_duration_ms": [120, 200], "memory_mb": [1536, 512]})
    >>> table.total_cents.tolist()
    [273, 1180]
    """
    np = _numpy()
    table = load_prices(prices)
    rule = _init_rule(init_billing)
    raw, n = _as_columns(rows, np)
    scale, rates = _scaled_rates(table, np)
    shift = 11 + scale  # units per cent = 2**shift * 5**(1 + scale)
    fits = "tier_rates" in rates and _int64_fits(shift, rates["max"])

    cents = np.empty(n, dtype=np.int64)
    high = np.empty(n, dtype=np.int64)
    low = np.empty(n, dtype=np.int64)
    fallback: dict[int, Decimal] = {}
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        chunk = _Columns({k: v[start:stop] for k, v in raw.items()}, start, np)
        big = _price_chunk(chunk, table, rates, rule, bool(free_tier), shift, fits,
                           cents[start:stop], high[start:stop], low[start:stop])
        for i in (np.flatnonzero(big) + start).tolist():
            row = {k: _item(v[i]) for k, v in raw.items() if v[i] is not None}
            row.setdefault("free_tier", bool(free_tier))
            fallback[i] = monthly_cost(**row, init_billing=rule, prices=table).total
            cents[i] = int(to_cents(fallback[i]) * 100)
    return CostTable(cents, high, low, shift, MBMS_PER_GB_S * 10**scale,
                     MappingProxyType(fallback))


def _price_chunk(cols: "_Columns", table: PriceTable, rates: Mapping[str, Any], rule: str,
                 free_default: bool, shift: int, fits: bool,
                 cents: Any, high: Any, low: Any) -> Any:
    """Price one chunk of rows into ``cents``, ``high`` and ``low`` (views of the results).
    Returns a mask of the rows left for the Decimal path."""
    np = cols.np
    n = cols.n
    arch = cols.architecture()
    mem = cols.whole("memory_mb", None, MEMORY_MIN_MB, MEMORY_MAX_MB,
                     f"must be between {MEMORY_MIN_MB} and {MEMORY_MAX_MB:,} MB (1 MB steps)")
    storage = cols.whole("ephemeral_storage_mb", 512, EPHEMERAL_MIN_MB, EPHEMERAL_MAX_MB,
                         f"must be between {EPHEMERAL_MIN_MB} and {EPHEMERAL_MAX_MB:,} MB "
                         "(1 MB steps)")
    requests = cols.whole("requests", None, 0, None, "must not be negative")
    d_us = cols.scaled("avg_duration_ms", 0, 1000, 0, None, "must not be negative")
    init_us = cols.scaled("init_duration_ms", 0, 1000, 0, None, "must not be negative")
    pc_us = cols.scaled("pc_avg_duration_ms", -1, 1000, 0, None, "must not be negative")
    pc_us = np.where(pc_us < 0, d_us, pc_us)
    units = cols.whole("provisioned_concurrency", 0, 0, None, "must not be negative")
    pc_enabled_ms = cols.scaled("pc_hours", 0, 3_600_000, 0, None, "must not be negative")
    pc_ppm = cols.scaled("pc_share", 0, 1_000_000, 0, 1_000_000, "must be between 0 and 1")
    pc_count = cols.whole("pc_requests", -1, 0, None, "must not be negative")
    cold_ppm = cols.scaled("cold_start_ratio", 0, 1_000_000, 0, 1_000_000,
                           "must be between 0 and 1")
    cold_count = cols.whole("cold_starts", -1, 0, None, "must not be negative")
    snap = cols.flag("snapstart", False)
    snap_ms = cols.scaled("snapstart_hours", -1, 3_600_000, 0, None, "must not be negative")
    zip_managed = cols.flag("zip_managed_runtime", True)
    free = cols.flag("free_tier", free_default)

    if not fits:
        return np.ones(n, dtype=bool)
    # Rows whose integers could overflow go to the Decimal path (exact, just slower). Bound
    # every quantity, and the high sum they feed, in floats, with a margin of 4 for rounding.
    f = np.float64
    req = requests.astype(f)
    mb = mem.astype(f)
    longest_ms = np.maximum(d_us + init_us, pc_us).astype(f) / 1000 + 1
    time_q = req * longest_ms * np.maximum(mb, (storage - EPHEMERAL_FREE_MB).astype(f))
    pc_q = units * (pc_enabled_ms.astype(f) + PC_BILLING_UNIT_MS) * mb
    cache_q = (snap_ms.astype(f) + SNAPSTART_MIN_CACHE_MS) * mb
    restore_q = req * 1000 * mb
    request_q = req * MBMS_PER_GB_S
    high_sum = (request_q * rates["request"] + time_q * rates["time_max"]
                + pc_q * rates["pc_configured_max"] + cache_q * rates["snapstart_cache"]
                + restore_q * rates["snapstart_restore"]) / 2.0**shift
    big = req * 1_000_000 >= 2.0**60  # shares are applied in ppm
    big |= np.maximum.reduce([time_q, pc_q, cache_q, restore_q, request_q, high_sum,
                              longest_ms * 1000]) >= 2.0**60
    if big.all():
        return big
    if big.any():
        ok = ~big
        requests, d_us, init_us, pc_us, units, pc_enabled_ms, snap_ms = (
            a * ok for a in (requests, d_us, init_us, pc_us, units, pc_enabled_ms, snap_ms))
        pc_count, cold_count = (np.where(ok, a, -1) for a in (pc_count, cold_count))

    on_pc = np.where(pc_count >= 0, pc_count, (requests * pc_ppm + 500_000) // 1_000_000)
    cols.fail("pc_requests", pc_count > requests, "cannot exceed requests")
    cols.fail("provisioned_concurrency", (units == 0) & ((on_pc > 0) | (pc_enabled_ms > 0)),
              "must be greater than 0 when pc_share, pc_requests or pc_hours is set")
    cols.fail("pc_hours", (units > 0) & (pc_enabled_ms == 0),
              "must be set when provisioned_concurrency is")
    _fail_pc_overload(cols, on_pc, pc_us, units, pc_enabled_ms, pc_count)
    on_demand = requests - on_pc
    cold = np.where(cold_count >= 0, cold_count, (on_demand * cold_ppm + 500_000) // 1_000_000)
    cols.fail("cold_starts", cold_count > on_demand, "cannot exceed on-demand requests")
    cols.fail("snapstart", snap & (units > 0), "cannot be combined with provisioned concurrency")
    cols.fail("snapstart", snap & (storage > EPHEMERAL_FREE_MB),
              "functions are limited to 512 MB of ephemeral storage")
    cols.fail("snapstart_hours", snap & (snap_ms < 0) & ~big, "must be set for SnapStart rows")

    init_billed = snap | ~zip_managed if rule == "legacy" else np.ones(n, dtype=bool)
    warm_ms = (d_us + 999) // 1000
    cold_ms = np.where(init_billed, (d_us + init_us + 999) // 1000, warm_ms)
    pc_ms = (pc_us + 999) // 1000
    pc_billed = -(-pc_enabled_ms // PC_BILLING_UNIT_MS) * PC_BILLING_UNIT_MS
    cache_ms = np.where(snap, np.maximum(snap_ms, SNAPSTART_MIN_CACHE_MS), 0)

    od_mbms = mem * (on_demand * warm_ms + cold * (cold_ms - warm_ms))
    free_start = np.where(free, np.minimum(od_mbms, _free_mbms(table)), 0)
    billed_ms = (on_demand - cold) * warm_ms + cold * cold_ms + on_pc * pc_ms
    free_requests = np.where(free, np.minimum(on_demand, table.free_requests), 0)

    terms = [
        ((requests - free_requests) * MBMS_PER_GB_S, rates["request"]),
        ((storage - EPHEMERAL_FREE_MB) * billed_ms, rates["storage"]),
        (units * mem * pc_billed, rates["pc_configured"][arch]),
        (on_pc * mem * pc_ms, rates["pc_duration"][arch]),
        (mem * cache_ms, rates["snapstart_cache"]),
        (cold * mem * 1000 * snap, rates["snapstart_restore"]),
    ]
    lower = 0
    for k in range(rates["tier_bounds"].shape[1]):
        upper = rates["tier_bounds"][arch, k]
        quantity = np.minimum(od_mbms, upper) - np.maximum(free_start, lower)
        terms.append((np.maximum(quantity, 0), rates["tier_rates"][arch, k]))
        lower = upper

    mask = (1 << shift) - 1
    high[:] = 0
    low[:] = 0
    for quantity, rate in terms:
        high += (quantity >> shift) * rate
        low += (quantity & mask) * rate
    high += low >> shift
    low &= mask
    five_power = 5 ** (1 + (shift - 11))
    whole, rest = np.divmod(high, five_power)
    remainder = rest * (1 << shift) + low  # below the units in a cent, < 2**62
    cents[:] = whole + (2 * remainder >= (five_power << shift))
    return big


def _fail_pc_overload(cols: "_Columns", on_pc: Any, pc_us: Any, units: Any, enabled_ms: Any,
                      pc_count: Any) -> None:
    """The scalar path's PC capacity check: on_pc x duration <= units x time enabled. Products can
    pass 2**63, so floats sort out the clear rows and Python integers decide the close ones."""
    np = cols.np
    f = np.float64
    demand = on_pc.astype(f) * pc_us.astype(f)
    supply = units.astype(f) * enabled_ms.astype(f) * 1000
    close = (on_pc > 0) & (np.abs(demand - supply) <= 1e-9 * np.maximum(demand, supply))
    over = (on_pc > 0) & (demand > supply) & ~close
    for i in np.flatnonzero(close).tolist():
        over[i] = int(on_pc[i]) * int(pc_us[i]) > int(units[i]) * int(enabled_ms[i]) * 1000
    if over.any():
        i = int(np.flatnonzero(over)[0])
        knob = "pc_requests" if pc_count[i] >= 0 else "pc_share"
        raise ValueError(f"row {cols.offset + i}: " + _pc_overload_message(
            int(units[i]), int(enabled_ms[i]), int(pc_us[i]), int(on_pc[i]), knob))


def _scaled_rates(table: PriceTable, np: Any) -> tuple[int, dict[str, Any]]:
    """Every rate as an integer count of 10**-S dollars, with S the finest decimal place used."""
    all_rates = [table.request, table.ephemeral_storage, table.snapstart_cache,
                 table.snapstart_restore, *table.pc_configured.values(),
                 *table.pc_duration.values()]
    all_rates += [t.rate for tiers in table.duration.values() for t in tiers]
    scale = max(0, *(-r.normalize().as_tuple().exponent for r in all_rates))

    def integer(rate: Decimal) -> int:
        return int(rate.scaleb(scale, context=_EXACT))

    largest = max(integer(r) for r in all_rates)
    if largest >= 2**62:  # too fine for int64: every row will take the Decimal path
        return scale, {"max": largest}
    depth = max(len(t) for t in table.duration.values())
    bounds = np.full((len(ARCHITECTURES), depth), 2**62, dtype=np.int64)
    tier_rates = np.zeros((len(ARCHITECTURES), depth), dtype=np.int64)
    for a, arch in enumerate(ARCHITECTURES):
        tiers = table.duration[arch]
        for k, (tier, upper) in enumerate(zip(tiers, _tier_bounds_mbms(tiers))):
            tier_rates[a, k] = integer(tier.rate)
            bounds[a, k] = 2**62 if upper is None else upper
        bounds[a, len(tiers):] = 2**62  # a shorter ladder: the extra tiers stay empty
    pc_duration = [integer(table.pc_duration[a]) for a in ARCHITECTURES]
    return scale, {
        "max": largest,
        # bounds for the overflow estimate: every per-millisecond rate a row can pay at once
        "time_max": int(tier_rates.max()) + integer(table.ephemeral_storage) + max(pc_duration),
        "pc_configured_max": max(integer(v) for v in table.pc_configured.values()),
        "request": integer(table.request),
        "storage": integer(table.ephemeral_storage),
        "snapstart_cache": integer(table.snapstart_cache),
        "snapstart_restore": integer(table.snapstart_restore),
        "pc_configured": np.array([integer(table.pc_configured[a]) for a in ARCHITECTURES]),
        "pc_duration": np.array(pc_duration),
        "tier_bounds": bounds,
        "tier_rates": tier_rates,
    }


def _item(value: Any) -> Any:
    """A numpy scalar as the plain Python value the scalar path expects."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    return value


def _as_columns(rows: Any, np: Any) -> tuple[dict[str, Any], int]:
    """Rows (a list of dicts) or columns (a dict of sequences) as a dict of 1-d numpy arrays;
    a key missing from some rows becomes None there (the default)."""
    if isinstance(rows, Mapping):
        columns = dict(rows)
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"columns must all have the same length, got {lengths}")
        n = next(iter(lengths.values()), 0)
    else:
        rows = list(rows)
        n = len(rows)
        keys: dict[str, None] = {}
        for row in rows:
            if not isinstance(row, Mapping):
                raise TypeError("rows must be a list of dicts or a dict of columns")
            keys.update(dict.fromkeys(row))
        columns = {k: [row.get(k) for row in rows] for k in keys}
    unknown = sorted(set(columns) - set(_COLUMNS))
    if unknown:
        raise ValueError(f"unknown column(s) {unknown}; expected some of {list(_COLUMNS)}")
    for name in _REQUIRED:
        if name not in columns:
            raise ValueError(f"the {name!r} column is required")
    out = {}
    for k, v in columns.items():
        array = v if hasattr(v, "dtype") else np.asarray(v)
        if array.ndim != 1:  # e.g. a list of Decimals and tuples: keep the objects
            array = np.empty(n, dtype=object)
            array[:] = list(v)
        out[k] = array
    return out, n


class _Columns:
    """One chunk of columns read into int64 arrays by the same rules as the scalar readers
    (``_scaled``, ``_whole``, ``_flag``); errors name the row in the whole table."""

    def __init__(self, raw: Mapping[str, Any], offset: int, np: Any) -> None:
        self.raw, self.offset, self.np = raw, offset, np
        self.n = len(next(iter(raw.values())))

    def fail(self, name: str, bad: Any, message: str) -> None:
        if bad.any():
            i = int(self.np.flatnonzero(bad)[0])
            value = _item(self.raw[name][i]) if name in self.raw else None
            raise ValueError(f"row {self.offset + i}: {name} {message} (got {value!r})")

    def _per_item(self, array: Any, default: int, read) -> Any:
        out = self.np.empty(self.n, dtype=self.np.int64)
        for i, value in enumerate(array.tolist()):
            try:
                out[i] = default if value is None else read(value)
            except (TypeError, ValueError) as err:
                raise type(err)(f"row {self.offset + i}: {err}") from None
        return out

    def _kind(self, name: str, array: Any) -> str:
        kind = array.dtype.kind
        if kind == "b":
            raise TypeError(f"{name} must be numbers, not booleans")
        return kind if kind in "iuf" else "O"

    def _bounds(self, name: str, array: Any, kind: str, out: Any, lo: int | None,
                hi: int | None, message: str) -> None:
        present = array != None if kind == "O" else True  # noqa: E711 - elementwise
        if lo is not None:
            self.fail(name, present & (out < lo), message)
        if hi is not None:
            self.fail(name, present & (out > hi), message)

    def scaled(self, name: str, default: int, scale: int, lo: int | None, hi: int | None,
               message: str) -> Any:
        """``_scaled`` for a column: floats by float arithmetic, ties to even (``np.rint``)."""
        np = self.np
        array = self.raw.get(name)
        if array is None:
            return np.full(self.n, default, dtype=np.int64)
        kind = self._kind(name, array)
        if kind == "f":
            product = array.astype(np.float64) * float(scale)
            self.fail(name, ~(np.abs(product) < 2.0**62), "must be finite and not too large")
            out = np.rint(product).astype(np.int64)
        elif kind in "iu":
            self.fail(name, np.abs(array.astype(np.float64)) * scale >= 2.0**62, "is too large")
            out = array.astype(np.int64) * scale
        else:
            out = self._per_item(array, default, lambda v: _scaled(v, scale, name))
        self._bounds(name, array, kind, out, lo, hi, message)
        return out

    def whole(self, name: str, default: int | None, lo: int | None, hi: int | None,
              message: str) -> Any:
        """``_whole`` for a column: integral values only."""
        np = self.np
        array = self.raw.get(name)
        if array is None:
            return np.full(self.n, default, dtype=np.int64)
        kind = self._kind(name, array)
        if kind == "f":
            values = array.astype(np.float64)
            self.fail(name, ~(np.abs(values) < 2.0**62) | (values != np.floor(values)),
                      "must be a whole number")
            out = values.astype(np.int64)
        elif kind in "iu":
            out = array.astype(np.int64)
        else:
            if default is None:
                self.fail(name, array == None, "is required")  # noqa: E711 - elementwise
            out = self._per_item(array, -1 if default is None else default,
                                 lambda v: _whole(v, name))
        self._bounds(name, array, kind, out, lo, hi, message)
        return out

    def flag(self, name: str, default: bool) -> Any:
        np = self.np
        array = self.raw.get(name)
        if array is None:
            return np.full(self.n, default, dtype=bool)
        if array.dtype.kind == "b":
            return array.astype(bool)
        out = np.empty(self.n, dtype=bool)
        for i, value in enumerate(array.tolist()):
            try:
                out[i] = default if value is None else _flag(value, name)
            except TypeError as err:
                raise TypeError(f"row {self.offset + i}: {err}") from None
        return out

    def architecture(self) -> Any:
        np = self.np
        array = self.raw.get("architecture")
        if array is None:
            return np.zeros(self.n, dtype=np.int64)
        codes = np.full(self.n, -1, dtype=np.int64)
        if array.dtype.kind == "O":
            codes[array == None] = 0  # noqa: E711 - a missing key means the default, x86_64
        for code, name in enumerate(ARCHITECTURES):
            codes[array == name] = code
        self.fail("architecture", codes < 0, "must be 'x86_64' or 'arm64'")
        return codes

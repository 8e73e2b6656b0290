"""Tests for lambdalab_ext.pricing.

Every expected number is either taken from an AWS worked example (cited beside it) or derived by
hand in a comment. Sources:

[PRICING]  https://aws.amazon.com/lambda/pricing/ : worked examples (US East, N. Virginia) and the
           "price per 1 ms" table. The page renders its tables client-side; the examples were read
           from a stored text copy of the page.
[TIERS]    https://aws.amazon.com/blogs/compute/introducing-tiered-pricing-for-aws-lambda/ (2022):
           x86 tiers at 6 B / 15 B GB-s, arm64 at 7.5 B / 18.75 B, discounts of 10% and 20%.
[INIT]     https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase
           (INIT billed for on-demand ZIP/managed-runtime functions from 1 August 2025).
[FACTS]    docs/lambda-facts.md section 3.1 (rates from the AWS Price List API,
           effective 2025-10-01, and its [COMPUTED] examples).
"""

from __future__ import annotations

import doctest
import json
import time
from decimal import Decimal as D
from types import SimpleNamespace

import numpy as np
import pytest

from lambdalab_ext import pricing
from lambdalab_ext.pricing import (
    US_EAST_1,
    CostTable,
    InvocationCost,
    MonthlyCost,
    PriceTable,
    TierLine,
    billed_duration_ms,
    cost_of,
    cost_of_many,
    load_prices,
    monthly_cost,
    monthly_cost_table,
    pc_capacity,
    to_cents,
)

X86_T1, X86_T2, X86_T3 = D("0.0000166667"), D("0.0000150000"), D("0.0000133334")
ARM_T1, ARM_T2, ARM_T3 = D("0.0000133334"), D("0.0000120001"), D("0.0000106667")
REQUEST = D("0.0000002")


def test_module_docstring_examples_run():
    failures, tried = doctest.testmod(pricing)
    assert tried > 5 and failures == 0


# --------------------------------------------------------------------------------------------
# The price table
# --------------------------------------------------------------------------------------------


def test_us_east_1_rates_match_the_price_list():
    # [FACTS] 3.1 table (Price List API, effective 2025-10-01); tiers [TIERS]; SnapStart [FACTS] 2.5.
    p = US_EAST_1
    assert p.region == "us-east-1" and p.effective == "2025-10-01" and p.source
    assert p.request == REQUEST  # $0.20 per million
    assert [(t.up_to_gb_s, t.rate) for t in p.duration["x86_64"]] == [
        (D(6_000_000_000), X86_T1), (D(15_000_000_000), X86_T2), (None, X86_T3)]
    assert [(t.up_to_gb_s, t.rate) for t in p.duration["arm64"]] == [
        (D(7_500_000_000), ARM_T1), (D(18_750_000_000), ARM_T2), (None, ARM_T3)]
    assert p.free_requests == 1_000_000 and p.free_gb_s == 400_000
    assert p.ephemeral_storage == D("0.0000000309")
    assert dict(p.pc_configured) == {"x86_64": D("0.0000041667"), "arm64": D("0.0000033334")}
    assert dict(p.pc_duration) == {"x86_64": D("0.0000097222"), "arm64": D("0.0000077778")}
    assert p.snapstart_cache == D("0.0000015046")
    assert p.snapstart_restore == D("0.0001397998")


def test_tier_discounts_are_ten_and_twenty_percent_to_the_published_digits():
    # [TIERS]: tier 2 is 10% off tier 1 and tier 3 is 20% off, per architecture; the price list
    # rounds each to 10 decimal places (half up).
    for t1, t2, t3 in ((X86_T1, X86_T2, X86_T3), (ARM_T1, ARM_T2, ARM_T3)):
        assert to_places(t1 * D("0.9"), 10) == t2
        assert to_places(t1 * D("0.8"), 10) == t3


def to_places(x: D, places: int) -> D:
    from decimal import ROUND_HALF_UP
    return x.quantize(D(1).scaleb(-places), rounding=ROUND_HALF_UP)


def test_price_table_round_trips_through_dict_and_json(tmp_path):
    data = US_EAST_1.as_dict()
    assert PriceTable.from_dict(data) == US_EAST_1
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data))
    assert PriceTable.from_json(path) == US_EAST_1
    assert load_prices(str(path)) == US_EAST_1
    assert load_prices(data) == US_EAST_1
    assert load_prices(US_EAST_1) is US_EAST_1


def test_a_users_own_table_from_json_numbers_is_read_exactly(tmp_path):
    # A made-up Region: JSON floats such as 0.0000206667 must not pick up binary noise.
    data = US_EAST_1.as_dict()
    data["region"] = "example-1"
    data["duration"]["x86_64"][0]["rate"] = 0.0000206667
    path = tmp_path / "example.json"
    path.write_text(json.dumps(data))
    table = PriceTable.from_json(path)
    assert table.duration["x86_64"][0].rate == D("0.0000206667")
    # 1,000,000 GB-s at that rate, no free tier: 1e6 x 0.0000206667 = 20.6667.
    cost = monthly_cost(1_000_000, 1000, 1024, free_tier=False, prices=path)
    assert cost.compute_cost == D("20.6667")


def test_bad_price_tables_are_refused_with_a_reason():
    data = US_EAST_1.as_dict()
    del data["duration"]["arm64"]
    with pytest.raises(ValueError, match="arm64"):
        PriceTable.from_dict(data)
    data = US_EAST_1.as_dict()
    data["duration"]["x86_64"][1]["up_to_gb_s"] = "1000"
    with pytest.raises(ValueError, match="increase"):
        PriceTable.from_dict(data)
    data = US_EAST_1.as_dict()
    del data["request"]
    with pytest.raises(ValueError, match="request"):
        PriceTable.from_dict(data)
    with pytest.raises(TypeError):
        load_prices(42)


# --------------------------------------------------------------------------------------------
# The [COMPUTED] examples in docs/lambda-facts.md 3.1, checked by hand
# --------------------------------------------------------------------------------------------


def test_facts_10m_requests_at_512mb_200ms():
    # 10,000,000 x 0.2 s x 0.5 GB = 1,000,000 GB-s.
    # Compute after the free tier: (1,000,000 - 400,000) x 0.0000166667 = 10.000020 -> $10.00.
    # Requests: (10,000,000 - 1,000,000) x $0.0000002 = $1.80.
    cost = monthly_cost(10_000_000, 200, 512)
    assert cost.compute_gb_s == 1_000_000
    assert cost.compute_cost - cost.free_gb_s_credit == D("10.000020")
    assert cost.requests_cost - cost.free_requests_credit == D("1.80")
    assert cost.total == D("11.800020")
    assert to_cents(cost.total) == D("11.80")


def test_facts_10_pc_units_at_1gb_for_30_days():
    # 10 units x 1 GB x (30 x 86,400 s) = 25,920,000 GB-s x 0.0000041667 = 108.000864 -> $108.00.
    cost = monthly_cost(0, 0, 1024, provisioned_concurrency=10, pc_hours=30 * 24)
    assert cost.pc_configured_gb_s == 25_920_000
    assert cost.pc_configured_cost == D("108.000864")
    assert to_cents(cost.total) == D("108.00")


def test_facts_one_ms_at_128mb_on_x86():
    # 128 MB = 0.125 GB; 0.125 GB x 0.001 s = 0.000125 GB-s x 0.0000166667 = 2.0833375e-9.
    one_ms = SimpleNamespace(memory_size_mb=128, billed_duration_ms=1, duration_ms=0.5,
                             init_duration_ms=None)
    assert cost_of(one_ms).gb_s == D("0.000125")
    assert cost_of(one_ms).compute_cost == D("2.0833375E-9")
    assert monthly_cost(1, 1, 128, free_tier=False).compute_cost == D("2.0833375E-9")


@pytest.mark.parametrize(
    "memory_mb, published",
    # [PRICING] "price per 1 ms" table, x86, first tier: each is memory/1024 x 0.001 s x
    # 0.0000166667, shown to 10 decimal places, e.g. 1536 MB: 1.5 x 0.001 x 0.0000166667 =
    # 2.500005e-8 -> $0.0000000250.
    [(128, "0.0000000021"), (512, "0.0000000083"), (1024, "0.0000000167"),
     (1536, "0.0000000250"), (2048, "0.0000000333"), (3072, "0.0000000500"),
     (4096, "0.0000000667"), (5120, "0.0000000833"), (6144, "0.0000001000"),
     (7168, "0.0000001167"), (8192, "0.0000001333"), (9216, "0.0000001500"),
     (10240, "0.0000001667")],
)
def test_price_per_ms_table_x86(memory_mb, published):
    result = SimpleNamespace(memory_size_mb=memory_mb, billed_duration_ms=1, duration_ms=1,
                             init_duration_ms=None)
    assert to_places(cost_of(result).compute_cost, 10) == D(published)


def test_price_per_ms_arm64_128mb():
    # Arm, 128 MB, first tier: 0.000125 GB-s x 0.0000133334 = 1.666675e-9, published as
    # $0.0000000017 per ms ([PRICING] Arm table, as quoted in public copies of it).
    result = SimpleNamespace(memory_size_mb=128, billed_duration_ms=1, duration_ms=1,
                             init_duration_ms=None, architecture="arm64")
    assert cost_of(result).compute_cost == D("1.666675E-9")
    assert to_places(cost_of(result).compute_cost, 10) == D("0.0000000017")


# --------------------------------------------------------------------------------------------
# AWS's worked examples ([PRICING]), to the cent
# --------------------------------------------------------------------------------------------


def test_aws_example_mobile_application_backend():
    # [PRICING] Lambda pricing, Example 1: 3M requests, 120 ms, 1536 MB, x86.
    # 3M x 0.12 s x 1.5 GB = 540,000 GB-s; minus 400,000 free = 140,000 x 0.0000166667 = $2.33.
    # Requests: (3M - 1M) x $0.20/M = $0.40. Total $2.73.
    cost = monthly_cost(3_000_000, 120, 1536)
    assert cost.compute_gb_s == 540_000
    assert to_cents(cost.compute_cost - cost.free_gb_s_credit) == D("2.33")
    assert to_cents(cost.requests_cost - cost.free_requests_credit) == D("0.40")
    assert cost.total == D("2.733338")  # 2.333338 + 0.40
    assert to_cents(cost.total) == D("2.73")


def test_aws_example_telemetry_without_free_tier():
    # [PRICING] Lambda pricing, Example 2: 10,000 vehicles x 24 x 31 = 7,440,000 requests,
    # 2 s at 1 GB, x86. The example applies no free tier.
    # Requests: 7.44M x $0.20/M = $1.488 -> $1.49. Compute: 14.88M GB-s x 0.0000166667 =
    # 248.000496 -> $248.00. Total $249.49.
    cost = monthly_cost(10_000 * 24 * 31, 2000, 1024, free_tier=False)
    assert cost.requests_cost == D("1.488")
    assert cost.compute_gb_s == 14_880_000
    assert cost.compute_cost == D("248.000496")
    assert to_cents(cost.total) == D("249.49")
    assert cost.free_tier_credit == 0


def test_aws_example_ml_with_ephemeral_storage():
    # [PRICING] Lambda pricing, Example 3: 6M requests, 280 ms, 4096 MB, 2048 MB storage, x86.
    # Compute: 6M x 0.28 s x 4 GB = 6,720,000 GB-s - 400,000 = 6,320,000 x 0.0000166667 =
    # 105.333544 -> $105.33. Requests: 5M x $0.20/M = $1.00.
    # Storage: (2048 - 512) MB = 1.5 GB x 1,680,000 s = 2,520,000 GB-s x 0.0000000309 =
    # 0.077868 -> $0.08 (the free tier does not cover storage). Total $106.41.
    cost = monthly_cost(6_000_000, 280, 4096, ephemeral_storage_mb=2048)
    assert cost.compute_cost - cost.free_gb_s_credit == D("105.333544")
    assert cost.requests_cost - cost.free_requests_credit == D("1.0")
    assert cost.storage_gb_s == 2_520_000
    assert cost.storage_cost == D("0.077868")
    assert to_cents(cost.total) == D("106.41")
    # AWS rounds each line and adds them: 105.33 + 1.00 + 0.08 = 106.41, the same.
    lines = cost.round_cents()
    assert (lines["compute_cost"] - lines["free_gb_s_credit"] + lines["requests_cost"]
            - lines["free_requests_credit"] + lines["storage_cost"]) == D("106.41")


def test_aws_example_provisioned_concurrency_mobile_launch():
    # [PRICING] Provisioned Concurrency, Example 1: 1536 MB, x86, 3M requests a month; PC = 100
    # for 8 hours serves 500,000 requests at 100 ms; 2.5M run on demand at 120 ms.
    # PC: 100 x 1.5 GB x 28,800 s = 4,320,000 GB-s x 0.0000041667 = 18.000144 -> $18.
    # Requests: (3M - 1M free) x $0.20/M = $0.40 (the example applies the free tier here).
    # PC duration: 500,000 x 0.1 s x 1.5 GB = 75,000 GB-s x 0.0000097222 = 0.729165 -> $0.73.
    # On demand: 2.5M x 0.12 s x 1.5 GB = 450,000 - 400,000 free = 50,000 GB-s x 0.0000166667
    # = 0.833335 -> $0.83. Total 18 + 0.40 + 0.73 + 0.83 = $19.96.
    cost = monthly_cost(3_000_000, 120, 1536, provisioned_concurrency=100, pc_hours=8,
                        pc_requests=500_000, pc_avg_duration_ms=100)
    assert cost.pc_configured_gb_s == 4_320_000
    assert cost.pc_configured_cost == D("18.000144")
    assert cost.pc_execution_gb_s == 75_000
    assert cost.pc_execution_cost == D("0.729165")
    assert cost.compute_gb_s == 450_000
    assert cost.compute_cost - cost.free_gb_s_credit == D("0.833335")
    assert cost.requests_cost - cost.free_requests_credit == D("0.40")
    assert cost.provisioned_concurrency_cost == D("18.729309")
    assert cost.total == D("19.962644")
    assert to_cents(cost.total) == D("19.96")


def test_aws_example_provisioned_concurrency_cyber_monday():
    # [PRICING] Provisioned Concurrency, Example 2: 2M requests in 24 hours, all on PC = 7,
    # 280 ms, 4096 MB, x86; the example applies no free tier.
    # PC: 7 x 4 GB x 86,400 s = 2,419,200 GB-s x 0.0000041667 = 10.08008064 -> $10.08.
    # PC duration: 2M x 0.28 s x 4 GB = 2,240,000 GB-s x 0.0000097222 = 21.777728 -> $21.78.
    # Requests: 2M x $0.20/M = $0.40. Total $32.26.
    kwargs = dict(provisioned_concurrency=7, pc_hours=24, pc_share=1)
    cost = monthly_cost(2_000_000, 280, 4096, free_tier=False, **kwargs)
    assert cost.pc_configured_cost == D("10.08008064")
    assert cost.pc_execution_cost == D("21.777728")
    assert cost.requests_cost == D("0.40")
    assert cost.on_demand_requests == 0 and cost.compute_gb_s == 0
    assert to_cents(cost.total) == D("32.26")
    # The free tier does not apply to PC usage, and every request here is on PC: with the free
    # tier on, the month is the same. That is how this example and the first one agree.
    with_free = monthly_cost(2_000_000, 280, 4096, **kwargs)
    assert with_free.total == cost.total and with_free.free_tier_credit == 0


def test_aws_example_snapstart_telemetry():
    # [PRICING] SnapStart pricing example: 7.44M requests, 2 s billed, 1 GB, x86, no free tier;
    # one version cached all month; 1% of requests restore a snapshot.
    # Cache: 1 GB x 24 x 31 x 3,600 s = 2,678,400 GB-s x 0.0000015046 = 4.02992064 -> $4.03.
    # Restores: 1% of 7.44M = 74,400 x 1 GB x 0.0001397998 = 10.40110512 -> $10.40.
    # Plus requests 1.488 and compute 248.000496 (as in the telemetry example).
    # Total 263.91952176 -> $263.92.
    cost = monthly_cost(7_440_000, 2000, 1024, cold_start_ratio=0.01, snapstart=True,
                        snapstart_hours=24 * 31, free_tier=False)
    assert cost.cold_starts == 74_400
    assert cost.snapstart_cache_gb_s == 2_678_400
    assert cost.snapstart_cache_cost == D("4.02992064")
    assert cost.snapstart_restore_gb == 74_400
    assert cost.snapstart_restore_cost == D("10.40110512")
    assert cost.total == D("263.91952176")
    assert to_cents(cost.total) == D("263.92")


def test_aws_example_durable_functions_compute_on_arm64():
    # [PRICING] Durable functions example, compute and requests only (durable operations, data
    # written and retained are not modelled): 1M executions, each two invocations (initial +
    # after the wait) running 32 s in all, 1 GB, arm64.
    # Compute: 32,000,000 GB-s - 400,000 free = 31,600,000 x 0.0000133334 = 421.33544 -> $421.34.
    # Requests: 2M - 1M free = 1M x $0.20/M = $0.20.
    cost = monthly_cost(2_000_000, 16_000, 1024, "arm64")
    assert cost.compute_gb_s == 32_000_000
    assert cost.compute_cost - cost.free_gb_s_credit == D("421.33544")
    assert to_cents(cost.requests_cost - cost.free_requests_credit) == D("0.20")
    assert to_cents(cost.total) == D("421.54")  # 421.33544 + 0.20


def test_aws_example_response_streaming_compute_and_requests():
    # [PRICING] Response streaming example, compute and requests only (bytes streamed are not
    # modelled): 3M requests, 500 ms, 1536 MB, x86.
    # 3M x 0.5 s x 1.5 GB = 2,250,000 - 400,000 = 1,850,000 GB-s x 0.0000166667 = 30.833395
    # -> $30.83; requests $0.40.
    cost = monthly_cost(3_000_000, 500, 1536)
    assert to_cents(cost.compute_cost - cost.free_gb_s_credit) == D("30.83")
    assert to_cents(cost.requests_cost - cost.free_requests_credit) == D("0.40")


# --------------------------------------------------------------------------------------------
# Tiers: counted per architecture, boundaries exact ([TIERS])
# --------------------------------------------------------------------------------------------
# 1,024 MB for 1,000 ms is exactly 1 GB-s per request, so requests = GB-s.


def test_exactly_6_billion_gb_s_is_all_tier_1():
    cost = monthly_cost(6_000_000_000, 1000, 1024, free_tier=False)
    # 6e9 x 0.0000166667 = 100,000.2
    assert cost.compute_tiers == (TierLine(1, D(6_000_000_000), X86_T1, D("100000.2")),)


def test_one_gb_s_past_6_billion_is_tier_2():
    cost = monthly_cost(6_000_000_001, 1000, 1024, free_tier=False)
    assert cost.compute_tiers == (
        TierLine(1, D(6_000_000_000), X86_T1, D("100000.2")),
        TierLine(2, D(1), X86_T2, D("0.000015")),
    )


def test_crossing_15_billion_reaches_tier_3():
    # 15e9 + 2 GB-s: 6e9 at tier 1 (100,000.2), 9e9 at tier 2 (9e9 x 0.000015 = 135,000),
    # 2 at tier 3 (2 x 0.0000133334 = 0.0000266668).
    cost = monthly_cost(15_000_000_002, 1000, 1024, free_tier=False)
    assert [(t.tier, t.gb_s, t.cost) for t in cost.compute_tiers] == [
        (1, D(6_000_000_000), D("100000.2")),
        (2, D(9_000_000_000), D("135000")),
        (3, D(2), D("0.0000266668")),
    ]
    assert cost.compute_cost == D("235000.2000266668")


def test_arm64_tier_1_runs_to_7_5_billion():
    # Exactly 7.5e9 GB-s on arm64: all tier 1, 7.5e9 x 0.0000133334 = 100,000.5.
    at = monthly_cost(7_500_000_000, 1000, 1024, "arm64", free_tier=False)
    assert at.compute_tiers == (TierLine(1, D(7_500_000_000), ARM_T1, D("100000.5")),)
    # Two more GB-s are tier 2: 2 x 0.0000120001 = 0.0000240002.
    past = monthly_cost(7_500_000_002, 1000, 1024, "arm64", free_tier=False)
    assert past.compute_tiers[1] == TierLine(2, D(2), ARM_T2, D("0.0000240002"))
    # 18.75e9 + 1 on arm64: tier 2 holds 11.25e9 (x 0.0000120001 = 135,001.125), tier 3 the 1.
    top = monthly_cost(18_750_000_001, 1000, 1024, "arm64", free_tier=False)
    assert [(t.tier, t.gb_s, t.cost) for t in top.compute_tiers] == [
        (1, D(7_500_000_000), D("100000.5")),
        (2, D(11_250_000_000), D("135001.125")),
        (3, D(1), D("0.0000106667")),
    ]


def test_tiers_are_counted_per_architecture():
    # 7e9 GB-s crosses x86's 6e9 boundary but not arm64's 7.5e9.
    assert [t.tier for t in monthly_cost(7_000_000_000, 1000, 1024).compute_tiers] == [1, 2]
    assert [t.tier for t in monthly_cost(7_000_000_000, 1000, 1024, "arm64").compute_tiers] == [1]


def test_init_time_continues_up_the_same_ladder():
    # Invoke: exactly 6e9 GB-s. One cold start with 1,000 ms of INIT adds 1 GB-s, which lands
    # in tier 2: 1 x 0.000015.
    cost = monthly_cost(6_000_000_000, 1000, 1024, cold_starts=1, init_duration_ms=1000,
                        free_tier=False)
    assert cost.compute_tiers == (TierLine(1, D(6_000_000_000), X86_T1, D("100000.2")),)
    assert cost.init_tiers == (TierLine(2, D(1), X86_T2, D("0.000015")),)
    assert cost.init_cost == D("0.000015")


def test_free_tier_comes_off_the_bottom_of_the_ladder():
    # 7e9 GB-s with the free tier: the credit is 400,000 GB-s at tier 1 (x 0.0000166667 =
    # 6.66668), and 1M requests (x 0.0000002 = 0.20); the tier split is unchanged.
    on = monthly_cost(7_000_000_000, 1000, 1024)
    off = monthly_cost(7_000_000_000, 1000, 1024, free_tier=False)
    assert on.compute_tiers == off.compute_tiers
    assert on.free_gb_s_credit == D("6.66668")
    assert on.free_requests_credit == D("0.20")
    assert off.total - on.total == D("6.86668")


# --------------------------------------------------------------------------------------------
# Free tier
# --------------------------------------------------------------------------------------------


def test_free_tier_covers_small_workloads_entirely():
    # 500,000 requests x 100 ms x 0.125 GB = 6,250 GB-s: under both allowances, so $0.
    cost = monthly_cost(500_000, 100, 128)
    assert cost.free_requests == 500_000 and cost.free_gb_s == 6_250
    assert cost.total == 0
    # Off: 500,000 x 0.0000002 = 0.10, plus 6,250 x 0.0000166667 = 0.104166875.
    assert monthly_cost(500_000, 100, 128, free_tier=False).total == D("0.204166875")


def test_free_tier_never_credits_provisioned_concurrency():
    # A PC-only month with no invocations: 1 unit x 1 GB x 3,600 s = 3,600 GB-s x 0.0000041667
    # = 0.01500012, whatever the free tier says.
    on = monthly_cost(0, 0, 1024, provisioned_concurrency=1, pc_hours=1)
    off = monthly_cost(0, 0, 1024, provisioned_concurrency=1, pc_hours=1, free_tier=False)
    assert on.total == off.total == D("0.01500012")
    # Nor the duration or the requests PC serves: 1M requests all on PC at 1 GB for 1 s:
    # duration 1,000,000 x 0.0000097222 = 9.7222; requests 1M x 0.0000002 = 0.20, none free.
    served = monthly_cost(1_000_000, 1000, 1024, provisioned_concurrency=1000, pc_hours=1,
                          pc_share=1)
    assert served.free_gb_s_credit == 0
    assert served.pc_execution_cost == D("9.7222")
    assert served.free_requests == 0 and served.free_requests_credit == 0
    # Half on PC: only the 500,000 on-demand requests are free.
    half = monthly_cost(1_000_000, 1000, 1024, provisioned_concurrency=1000, pc_hours=1,
                        pc_share=0.5)
    assert half.free_requests == 500_000 and half.free_requests_credit == D("0.10")
    assert monthly_cost_table([dict(requests=1_000_000, avg_duration_ms=1000, memory_mb=1024,
                                    provisioned_concurrency=1000, pc_hours=1, pc_share=0.5)]
                              ).exact_totals() == [half.total]


def test_provisioned_concurrency_cannot_serve_more_than_its_capacity():
    # One unit enabled for an hour serves one request at a time: 3,600 s / 0.1095 s = 32,876
    # requests of 109.5 ms at most. Five million is refused, by both paths, saying why.
    assert pc_capacity(1, 1, 109.5) == 32_876
    assert pc_capacity(3, 2, 0) is None
    fits = dict(provisioned_concurrency=1, pc_hours=1, pc_requests=32_876)
    monthly_cost(32_876, 109.5, 1024, **fits)
    with pytest.raises(ValueError, match=r"can serve at most 32,876"):
        monthly_cost(5_000_000, 109.5, 1024, provisioned_concurrency=1, pc_hours=1, pc_share=1)
    with pytest.raises(ValueError, match=r"pc_requests puts 32,877 requests"):
        monthly_cost(32_877, 109.5, 1024, **{**fits, "pc_requests": 32_877})
    with pytest.raises(ValueError, match=r"row 1: pc_share puts 5,000,000 requests"):
        monthly_cost_table({"requests": [10, 5_000_000], "avg_duration_ms": [109.5, 109.5],
                            "memory_mb": [1024, 1024], "provisioned_concurrency": [1, 1],
                            "pc_hours": [1, 1], "pc_share": [1, 1]})
    # Exactly full is possible (every unit busy all the time), and pc_avg_duration_ms counts.
    monthly_cost(36_000, 100, 128, provisioned_concurrency=1, pc_hours=1, pc_share=1)
    with pytest.raises(ValueError, match="at most 36,000"):
        monthly_cost(36_001, 100, 128, provisioned_concurrency=1, pc_hours=1, pc_share=1)
    with pytest.raises(ValueError, match="at most 18,000"):
        monthly_cost(36_000, 100, 128, provisioned_concurrency=1, pc_hours=1, pc_share=1,
                     pc_avg_duration_ms=200)


def test_free_tier_is_shared_between_architectures_in_cost_of_many():
    # 300,000 GB-s on x86 and 300,000 GB-s on arm64, as 300 invocations each of 1,000 s at
    # 1 GB. The 400,000 free GB-s go to x86 first (300,000) then arm64 (100,000):
    # credit = 300,000 x 0.0000166667 + 100,000 x 0.0000133334 = 5.00001 + 1.33334 = 6.33335,
    # plus 600 free requests x 0.0000002 = 0.00012.
    x86 = SimpleNamespace(memory_size_mb=1024, billed_duration_ms=1_000_000,
                          duration_ms=1_000_000, init_duration_ms=None)
    arm = SimpleNamespace(memory_size_mb=1024, billed_duration_ms=1_000_000,
                          duration_ms=1_000_000, init_duration_ms=None, architecture="arm64")
    many = cost_of_many([x86] * 300 + [arm] * 300, free_tier=True)
    assert many.free_tier_credit == D("6.33347")
    # Gross: 300,000 x (0.0000166667 + 0.0000133334) = 9.00003, requests 0.00012.
    assert many.total == D("9.00015") - D("6.33347")


# --------------------------------------------------------------------------------------------
# Provisioned concurrency: billed in 5-minute units
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pc_hours, billed_seconds",
    [
        (8, 28_800),  # exactly 8 hours
        (8 + 1 / 60, 29_100),  # 8 h 1 min -> 8 h 5 min
        (D(1) / 3600 * 1, 300),  # 1 second -> 5 minutes (Decimal input, 0.000277...)
        (D(5) / 60, 300),  # exactly 5 minutes stays 5 minutes
        (D(301) / 3600, 600),  # 5 min 1 s -> 10 minutes
    ],
)
def test_pc_time_rounds_up_to_five_minutes(pc_hours, billed_seconds):
    # 1 unit at 1,024 MB: GB-s = billed seconds.
    cost = monthly_cost(0, 0, 1024, provisioned_concurrency=1, pc_hours=pc_hours)
    assert cost.pc_configured_gb_s == billed_seconds
    assert cost.pc_configured_cost == billed_seconds * D("0.0000041667")


def test_pc_arm64_rates():
    # 10 units x 2 GB x 3,600 s = 72,000 GB-s x 0.0000033334 = 0.2400048; 100 requests on PC
    # at 1,000 ms x 2 GB = 200 GB-s x 0.0000077778 = 0.00155556.
    cost = monthly_cost(100, 1000, 2048, "arm64", provisioned_concurrency=10, pc_hours=1,
                        pc_share=1, free_tier=False)
    assert cost.pc_configured_cost == D("0.2400048")
    assert cost.pc_execution_cost == D("0.00155556")


def test_pc_share_is_rounded_to_whole_invocations():
    # 1/3 of 100 requests, read as 0.333333: 33.3333 -> 33 on PC, 67 on demand.
    cost = monthly_cost(100, 10, 128, provisioned_concurrency=1, pc_hours=1, pc_share=1 / 3)
    assert (cost.pc_requests, cost.on_demand_requests) == (33, 67)


# --------------------------------------------------------------------------------------------
# Billed duration and the INIT rule
# --------------------------------------------------------------------------------------------


def test_billed_duration_rounds_up_to_the_millisecond():
    # A real REPORT line (CloudWatch, quoted in a public repo): "Duration: 14.97 ms Billed
    # Duration: 15 ms".
    assert billed_duration_ms(14.97) == 15
    assert billed_duration_ms(100) == 100
    assert billed_duration_ms(100.001) == 101
    assert billed_duration_ms(0) == 0
    assert billed_duration_ms(0.1 + 0.2) == 1  # float noise does not add a millisecond
    assert billed_duration_ms(D("0.0004")) == 0  # read to the microsecond first
    assert billed_duration_ms(D("0.0006")) == 1


def test_billed_duration_with_init_under_both_rules():
    # A pre-August-2025 REPORT line for a ZIP function (Baselime docs): "Duration: 201.67 ms
    # Billed Duration: 202 ms ... Init Duration: 480.25 ms" -- INIT was not billed.
    assert billed_duration_ms(201.67, 480.25, init_billing="legacy") == 202
    # [INIT]: from 1 August 2025 INIT is billed with the invoke: ceil(201.67 + 480.25 = 681.92).
    assert billed_duration_ms(201.67, 480.25) == 682
    # Rounded once, not twice: ceil(0.4 + 0.4) = 1, where ceil(0.4) + ceil(0.4) would be 2.
    assert billed_duration_ms(0.4, 0.4) == 1
    assert billed_duration_ms(0.4, None) == 1


def test_init_rule_switch_in_monthly_cost():
    # 1M requests at 100 ms, 1024 MB, 1% cold starts (10,000) with 250 ms INIT.
    # 2025-08: each cold start bills ceil(350) - ceil(100) = 250 ms more: 10,000 x 0.25 s x 1 GB
    # = 2,500 GB-s of INIT x 0.0000166667 = 0.04166675.
    kwargs = dict(cold_start_ratio=0.01, init_duration_ms=250, free_tier=False)
    now = monthly_cost(1_000_000, 100, 1024, **kwargs)
    assert now.cold_starts == 10_000
    assert now.init_gb_s == 2_500
    assert now.init_cost == D("0.04166675")
    # legacy: INIT of a ZIP package on a managed runtime was free.
    then = monthly_cost(1_000_000, 100, 1024, init_billing="legacy", **kwargs)
    assert then.init_gb_s == 0 and then.init_cost == 0
    assert now.total - then.total == D("0.04166675")
    # legacy, container image or custom runtime: INIT was already billed.
    image = monthly_cost(1_000_000, 100, 1024, init_billing="legacy", zip_managed_runtime=False,
                         **kwargs)
    assert image.total == now.total


# --------------------------------------------------------------------------------------------
# cost_of / cost_of_many
# --------------------------------------------------------------------------------------------


def result(**fields):
    base = dict(memory_size_mb=512, billed_duration_ms=200, duration_ms=199.2,
                init_duration_ms=None)
    base.update(fields)
    return SimpleNamespace(**base)


def test_cost_of_one_warm_invocation():
    # 0.5 GB x 0.2 s = 0.1 GB-s x 0.0000166667 = 0.00000166667, plus a $0.0000002 request.
    cost = cost_of(result())
    assert isinstance(cost, InvocationCost)
    assert cost.gb_s == D("0.1")
    assert cost.compute_cost == D("0.00000166667")
    assert cost.request_cost == REQUEST
    assert cost.storage_cost == 0
    assert cost.total == D("0.00000186667")


def test_cost_of_reads_optional_fields():
    # arm64, 1,536 MB of /tmp (1 GB above 512): 0.1 GB-s x 0.0000133334 = 0.00000133334;
    # storage 1 GB x 0.2 s = 0.2 GB-s x 0.0000000309 = 0.00000000618.
    cost = cost_of(result(architecture="arm64", ephemeral_storage_mb=1536))
    assert cost.compute_cost == D("0.00000133334")
    assert cost.storage_cost == D("0.00000000618")
    # Served by provisioned concurrency: PC's duration rate, 0.1 x 0.0000097222.
    pc = cost_of(result(initialization_type="provisioned-concurrency"))
    assert pc.compute_cost == D("0.00000097222")


def test_cost_of_trusts_the_report_unless_asked_to_recompute():
    cold = result(billed_duration_ms=202, duration_ms=201.67, init_duration_ms=480.25)
    assert cost_of(cold).billed_duration_ms == 202
    assert cost_of(cold, init_billing="2025-08").billed_duration_ms == 682
    assert cost_of(cold, init_billing="legacy").billed_duration_ms == 202
    image = result(duration_ms=201.67, init_duration_ms=480.25, package_type="Image")
    assert cost_of(image, init_billing="legacy").billed_duration_ms == 682
    # No billed duration reported: computed under the current rule.
    assert cost_of(result(billed_duration_ms=None, duration_ms=201.67,
                          init_duration_ms=480.25)).billed_duration_ms == 682


def test_cost_of_many_sums_exactly_and_can_climb_tiers():
    rs = [result(), result(architecture="arm64"), result(billed_duration_ms=1000)]
    many = cost_of_many(rs)
    assert many.invocations == 3
    assert many.total == sum((cost_of(r).total for r in rs), D(0))
    assert many.architecture is None and many.memory_mb == 512
    # With tiers on, these tiny volumes stay in tier 1 and give the same duration cost.
    tiered = cost_of_many(rs, tiers=True)
    assert tiered.compute_cost == many.compute_cost
    assert {a for a, _ in tiered.compute_tiers} == {"x86_64", "arm64"}


def test_cost_of_reads_the_labs_own_invocation_result():
    # The duck-typed fields are those of lambdalab_ext.result.InvocationResult.
    from lambdalab_ext.result import InvocationResult

    r = InvocationResult(
        function_name="hello", request_id="r-1", raw_payload=b"null", error=None,
        function_error=None, status="success", cold=True, duration_ms=201.67,
        billed_duration_ms=682, init_duration_ms=480.25, memory_size_mb=2048,
        max_memory_used_mb=81, logs="", environment_id="e-1", log_stream_name="s-1")
    # 2 GB x 0.682 s = 1.364 GB-s x 0.0000166667 = 0.0000227333788, plus the request.
    assert cost_of(r).compute_cost == D("0.0000227333788")
    assert cost_of(r, init_billing="legacy").billed_duration_ms == 202


def test_invocation_cost_text_and_html():
    cost = cost_of(result())
    text = str(cost)
    assert "512 MB" in text and "$0.00000186667" in text
    assert cost._repr_html_().startswith("<table")
    assert cost.as_dict()["total"] == D("0.00000186667")
    assert cost.round_cents() == D("0.00")


# --------------------------------------------------------------------------------------------
# The breakdown object
# --------------------------------------------------------------------------------------------


def test_monthly_cost_forms():
    cost = monthly_cost(3_000_000, 120, 1536)
    assert isinstance(cost, MonthlyCost)
    with pytest.raises(Exception):
        cost.requests = 1  # frozen
    text = str(cost)
    for expected in ("Requests", "3,000,000", "540,000 GB-s", "$0.0000166667", "$9.00",
                     "-$0.20", "-$6.67", "Total", "$2.73", "us-east-1", "2025-10-01"):
        assert expected in text
    page = cost._repr_html_()
    assert page.startswith('<table class="lambdalab-cost">') and "$2.73" in page
    data = cost.as_dict()
    assert data["total"] == D("2.733338")
    assert data["compute_tiers"] == [
        {"tier": 1, "gb_s": D(540_000), "rate": X86_T1, "cost": D("9.000018")}]
    assert data["free_tier_credit"] == D("6.86668")  # 400,000 x 0.0000166667 + 0.20
    assert cost.round_cents()["total"] == D("2.73")


def test_to_cents_rounds_half_up():
    assert to_cents(D("2.345")) == D("2.35")  # half-even would give 2.34
    assert to_cents(D("0.005")) == D("0.01")
    assert to_cents(D("0.0049999")) == D("0.00")


# --------------------------------------------------------------------------------------------
# Validation at the boundary
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(memory_mb=127), "between 128 and 10,240 MB"),
        (dict(memory_mb=10_241), "between 128 and 10,240 MB"),
        (dict(memory_mb=128.5), "whole number"),
        (dict(ephemeral_storage_mb=511), "between 512 and 10,240 MB"),
        (dict(ephemeral_storage_mb=10_241), "between 512 and 10,240 MB"),
        (dict(architecture="arm"), "'x86_64' or 'arm64'"),
        (dict(init_billing="2024"), "init_billing"),
        (dict(cold_start_ratio=1.5), "between 0 and 1"),
        (dict(cold_start_ratio=-0.1), "between 0 and 1"),
        (dict(avg_duration_ms=-1), "must not be negative"),
        (dict(requests=-1), "must not be negative"),
        (dict(requests=1.5), "whole number"),
        (dict(cold_starts=2_000_000), "cannot exceed on-demand requests"),
        (dict(pc_share=0.5), "provisioned_concurrency"),
        (dict(provisioned_concurrency=1), "pc_hours"),
        (dict(provisioned_concurrency=1, pc_hours=1, pc_requests=2_000_000), "cannot exceed"),
        (dict(snapstart=True), "snapstart_hours"),
        (dict(snapstart=True, snapstart_hours=1, provisioned_concurrency=1, pc_hours=1),
         "provisioned concurrency"),
        (dict(snapstart=True, snapstart_hours=1, ephemeral_storage_mb=1024), "512 MB"),
        (dict(avg_duration_ms=float("nan")), "finite"),
    ],
)
def test_monthly_cost_rejects_bad_input_with_a_clear_message(kwargs, message):
    args = dict(requests=1_000_000, avg_duration_ms=100, memory_mb=512)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        monthly_cost(**args)


def test_booleans_are_not_numbers():
    with pytest.raises(TypeError):
        monthly_cost(True, 100, 512)
    with pytest.raises(ValueError, match="memory_mb"):
        cost_of(result(memory_size_mb=64))
    with pytest.raises(ValueError, match="initialization_type"):
        cost_of(result(initialization_type="warm"))


def test_memory_limits_are_inclusive():
    # 128 MB and 10,240 MB are both allowed; 10,240 MB = 10 GB: 1 s costs 10 x 0.0000166667.
    monthly_cost(1, 1, 128)
    assert monthly_cost(1, 1000, 10_240, free_tier=False).compute_cost == D("0.000166667")


# --------------------------------------------------------------------------------------------
# The vectorised path agrees exactly with the Decimal path
# --------------------------------------------------------------------------------------------


def random_rows(seed: int, n: int) -> list[dict]:
    """Seeded random workloads covering every feature, as plain Python values."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        size = int(rng.integers(0, 11))
        row = {
            "requests": int(rng.integers(0, 10**size + 1)),
            # Up to the 15-minute timeout, but long runs only for modest volumes (10 billion
            # 15-minute runs would be beyond 64 bits, which another test covers); the last
            # kind are ties at the microsecond.
            "avg_duration_ms": float(rng.choice([
                rng.uniform(0, 900_000 if size <= 6 else 3000), round(rng.uniform(0, 3000), 2),
                rng.integers(0, 60_000 if size <= 8 else 3000), rng.integers(0, 2000) + 0.0005])),
            "memory_mb": int(rng.integers(128, 10_241)),
            "architecture": str(rng.choice(["x86_64", "arm64"])),
            "cold_start_ratio": float(rng.choice([rng.uniform(0, 0.2), 0.0000005, 0.5, 1.0])),
            "init_duration_ms": float(rng.uniform(0, 10_000)),
            "ephemeral_storage_mb": int(rng.choice([512, rng.integers(512, 10_241)])),
            "zip_managed_runtime": bool(rng.random() < 0.7),
            "free_tier": bool(rng.random() < 0.6),
        }
        kind = rng.random()
        if kind < 0.3:
            row.update(provisioned_concurrency=int(rng.integers(1, 1000)),
                       pc_hours=float(rng.uniform(0.001, 744)),
                       pc_share=float(rng.random()))
            if rng.random() < 0.5:
                row["pc_avg_duration_ms"] = float(rng.uniform(0, 5000))
            # PC serves no more than it can (units x time / duration): scale the share to fit.
            room = pc_capacity(row["provisioned_concurrency"], row["pc_hours"],
                               row.get("pc_avg_duration_ms", row["avg_duration_ms"]))
            if room is not None and row["requests"]:
                row["pc_share"] *= min(1.0, room / row["requests"])
                if (row["requests"] * round(row["pc_share"] * 1e6) + 500_000) // 1_000_000 > room:
                    row["pc_share"] = 0.0
        elif kind < 0.45:
            row.update(snapstart=True, snapstart_hours=float(rng.uniform(0, 744)),
                       ephemeral_storage_mb=512)
        rows.append(row)
    return rows


def as_columns(rows: list[dict]) -> dict[str, np.ndarray]:
    """The same rows as numpy columns, absent keys filled with monthly_cost's defaults."""
    defaults = dict(provisioned_concurrency=0, pc_hours=0.0, pc_share=0.0, snapstart=False,
                    snapstart_hours=0.0)
    keys = {k for row in rows for k in row}
    cols = {}
    for k in keys:
        if k == "pc_avg_duration_ms":
            values = [row.get(k, row["avg_duration_ms"]) for row in rows]
        else:
            values = [row.get(k, defaults.get(k)) for row in rows]
        cols[k] = np.array(values)
    return cols


@pytest.mark.parametrize("init_billing", ["2025-08", "legacy"])
def test_vectorised_totals_equal_decimal_totals_exactly(init_billing):
    rows = random_rows(seed=20250801, n=1500)
    expected = [monthly_cost(**row, init_billing=init_billing).total for row in rows]
    for form in (rows, as_columns(rows)):  # a list of dicts and a dict of numpy columns
        table = monthly_cost_table(form, init_billing=init_billing)
        assert isinstance(table, CostTable) and len(table) == len(rows)
        assert table.exact_totals() == expected
        assert table.total_cents.tolist() == [int(to_cents(t) * 100) for t in expected]
        assert table.fallback_rows == ()  # all through the integer path


def test_vectorised_path_reads_decimals_and_strings_like_the_scalar_path():
    rows = [dict(requests=D("3000000"), avg_duration_ms=D("120.0005"), memory_mb=1536,
                 cold_start_ratio="0.0123455", init_duration_ms=D("99.9995")),
            dict(requests=7, avg_duration_ms="0.1", memory_mb=D(128), architecture="arm64")]
    table = monthly_cost_table(rows)
    assert table.exact_totals() == [monthly_cost(**row).total for row in rows]


def test_vectorised_tier_boundaries():
    requests = [6_000_000_000, 6_000_000_001, 15_000_000_002, 7_500_000_000, 18_750_000_001]
    arch = ["x86_64", "x86_64", "x86_64", "arm64", "arm64"]
    table = monthly_cost_table({"requests": requests, "avg_duration_ms": [1000] * 5,
                                "memory_mb": [1024] * 5, "architecture": arch},
                               free_tier=False)
    for i, (n, a) in enumerate(zip(requests, arch)):
        assert table.exact_total(i) == monthly_cost(n, 1000, 1024, a, free_tier=False).total


def test_rows_too_large_for_64_bits_fall_back_to_decimals():
    # 10**15 requests of 15 minutes at 10 GB: ~9e18 GB-s, far beyond int64 MB-ms.
    rows = [dict(requests=10**15, avg_duration_ms=900_000, memory_mb=10_240),
            dict(requests=3_000_000, avg_duration_ms=120, memory_mb=1536)]
    table = monthly_cost_table(rows)
    assert table.fallback_rows == (0,)
    assert table.exact_total(0) == monthly_cost(**rows[0]).total
    assert table.total_cents[1] == 273


def test_vectorised_path_with_a_finer_grained_price_table():
    # A table with 13 decimal places forces a larger scale (and a tighter safe range).
    data = US_EAST_1.as_dict()
    data["duration"]["x86_64"][0]["rate"] = "0.0000166666667"
    data["request"] = "0.0000002000001"
    rows = random_rows(seed=7, n=300)
    table = monthly_cost_table(rows, prices=data)
    assert table.exact_totals() == [monthly_cost(**row, prices=data).total for row in rows]
    # And one so fine that every row takes the Decimal path, still exactly.
    data["request"] = "0.00000020000000000000001"
    small = rows[:20]
    table = monthly_cost_table(small, prices=data)
    assert len(table.fallback_rows) == 20
    assert table.exact_totals() == [monthly_cost(**row, prices=data).total for row in small]


def test_vectorised_errors_name_the_row():
    cols = {"requests": [1, 2, 3], "avg_duration_ms": [1, 2, 3], "memory_mb": [128, 64, 128]}
    with pytest.raises(ValueError, match=r"row 1: memory_mb must be between 128"):
        monthly_cost_table(cols)
    with pytest.raises(ValueError, match=r"row 2: architecture"):
        monthly_cost_table({**cols, "memory_mb": [128] * 3,
                            "architecture": ["arm64", "x86_64", "x86"]})
    with pytest.raises(ValueError, match="unknown column"):
        monthly_cost_table({**cols, "memory": [128] * 3})
    with pytest.raises(ValueError, match="'memory_mb' column is required"):
        monthly_cost_table({"requests": [1], "avg_duration_ms": [1]})
    with pytest.raises(ValueError, match=r"row 0: snapstart"):
        monthly_cost_table([dict(requests=1, avg_duration_ms=1, memory_mb=128, snapstart=True,
                                 snapstart_hours=1, ephemeral_storage_mb=1024)])


def test_a_million_rows_price_quickly():
    # The benchmark (bench/bench_pricing.py) reports the real figure; this only guards against
    # a gross regression, with room for a slow CI machine.
    rng = np.random.default_rng(1)
    n = 1_000_000
    cols = {"requests": rng.integers(0, 50_000_000, n),
            "avg_duration_ms": rng.uniform(1, 5000, n),
            "memory_mb": rng.integers(128, 10_241, n),
            "architecture": np.where(rng.random(n) < 0.5, "x86_64", "arm64"),
            "cold_start_ratio": rng.uniform(0, 0.05, n),
            "init_duration_ms": rng.uniform(0, 2000, n)}
    start = time.perf_counter()
    table = monthly_cost_table(cols)
    elapsed = time.perf_counter() - start
    assert len(table) == n and elapsed < 2.0
    for i in (0, 123_457, n - 1):
        row = {k: v[i].item() for k, v in cols.items()}
        assert table.exact_total(i) == monthly_cost(**row).total

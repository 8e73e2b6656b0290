"""The SnapStart model (pure): what publishing with SnapStart does, what a resume costs in time and
money, and the uniqueness pitfall. Modelled: no snapshot is ever taken or restored."""

from decimal import Decimal

import pytest

from lambdalab_ext.errors import InvalidParameterValueException
from lambdalab_ext.packaging import snapstart
from lambdalab_ext.packaging.snapstart import (RestoreModel, SnapStartNotReadyException, SnapStartTimeoutException,
                                               check_snapstart, duplicates, publish_version, restore,
                                               resume_environments, snapstart_cost)
from lambdalab_ext.pricing import US_EAST_1, monthly_cost


# https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html ("Supported features and limitations"):
# Python 3.12 and later; published versions only; not with provisioned concurrency, EFS, or more
# than 512 MB of ephemeral storage.
def test_snapstart_takes_python_312_and_later_on_published_versions_only():
    for runtime in ("python3.12", "python3.13", "python3.14"):
        check_snapstart(runtime)
    for runtime in ("python3.11", "python3.9", "nodejs22.x", "provided.al2023"):
        with pytest.raises(InvalidParameterValueException, match="python3.12 or later"):
            check_snapstart(runtime)
    with pytest.raises(InvalidParameterValueException, match="published versions only"):
        check_snapstart("python3.12", qualifier="$LATEST")
    with pytest.raises(InvalidParameterValueException, match="provisioned concurrency"):
        check_snapstart("python3.12", provisioned_concurrency=1)
    with pytest.raises(InvalidParameterValueException, match="EFS"):
        check_snapstart("python3.12", efs=True)
    with pytest.raises(InvalidParameterValueException, match="at most 512 MB of ephemeral storage"):
        check_snapstart("python3.12", ephemeral_storage_mb=1024)
    check_snapstart("python3.12", ephemeral_storage_mb=512)
    with pytest.raises(InvalidParameterValueException, match="python3.12 or later"):
        publish_version("f", init_duration_ms=100, memory_mb=128, runtime="python3.11")


# https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-python.html: before-snapshot
# hooks count in INIT; INIT at publish may take max(130 s, the function timeout), up to 900 s.
# https://docs.aws.amazon.com/lambda/latest/dg/snapstart-monitoring.html: Init Duration is in the
# INIT_REPORT record, hooks included.
def test_init_runs_at_publish_with_the_before_snapshot_hooks_and_a_longer_limit():
    version = publish_version("resize", init_duration_ms=1_500.25, memory_mb=1024, snapshot_mb=180,
                              before_snapshot_ms=[40, 9.75], state={"model": "loaded"})
    assert version.init_duration_ms == 1_550.0
    assert version.init_report_line() == "INIT_REPORT Init Duration: 1550.00 ms\tPhase: init\tStatus: success"
    assert version.version == "1" and version.snapshot_mb == 180.0 and version.state["model"] == "loaded"
    with pytest.raises(TypeError):
        version.state["model"] = "changed"          # the snapshot is immutable
    assert "modelled" in version.modelled
    # 60 s of INIT is fine at publish (not the on-demand 10 s); past 130 s with a 3 s timeout, not.
    publish_version("slow", init_duration_ms=60_000, memory_mb=512)
    with pytest.raises(InvalidParameterValueException, match="130 s"):
        publish_version("slow", init_duration_ms=130_001, memory_mb=512)
    publish_version("slow", init_duration_ms=300_000, memory_mb=512, timeout_s=600)
    with pytest.raises(InvalidParameterValueException, match="900 s"):
        publish_version("slow", init_duration_ms=900_001, memory_mb=512, timeout_s=900)
    with pytest.raises(InvalidParameterValueException, match="cannot exceed the memory size"):
        publish_version("f", init_duration_ms=10, memory_mb=128, snapshot_mb=200)
    with pytest.raises(InvalidParameterValueException, match="MemorySize"):
        publish_version("f", init_duration_ms=10, memory_mb=64)
    with pytest.raises(InvalidParameterValueException, match="init_duration_ms"):
        publish_version("f", init_duration_ms=-1, memory_mb=128)


# https://docs.aws.amazon.com/lambda/latest/dg/snapstart-monitoring.html: Restore Duration = restoring
# the snapshot + loading the runtime + after-restore hooks; Billed Restore Duration leaves the
# snapshot's restore out. The model's numbers are the lab's assumption (RestoreModel).
def test_a_resume_reports_restore_and_billed_restore_durations():
    version = publish_version("f", init_duration_ms=2_000, memory_mb=1024, snapshot_mb=100)
    model = RestoreModel(snapshot_base_ms=50, snapshot_ms_per_mb=1.0, runtime_load_ms=20)
    resumed = restore(version, after_restore_ms=[5.5, 4], model=model)
    assert resumed.snapshot_restore_ms == 150.0
    assert resumed.restore_duration_ms == 150 + 20 + 9.5
    assert resumed.billed_restore_duration_ms == 30        # 29.5 ms, rounded up to the ms
    assert resumed.initialization_type == "snap-start"
    assert resumed.report_fields() == "Restore Duration: 179.50 ms\tBilled Restore Duration: 30 ms"
    # A bigger snapshot takes longer to restore; INIT's own length does not matter to a resume.
    bigger = publish_version("f", init_duration_ms=9_000, memory_mb=1024, snapshot_mb=400)
    assert restore(bigger, model=model).restore_duration_ms > restore(version, model=model).restore_duration_ms
    assert restore(version).restore_duration_ms < version.init_duration_ms
    with pytest.raises(InvalidParameterValueException, match="snapshot_ms_per_mb"):
        RestoreModel(snapshot_ms_per_mb=-1)


# https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-python.html: the runtime's load
# and the after-restore hooks must finish within 10 s, else SnapStartTimeoutException (Invoke API:
# HTTP 408); an inactive or missing snapshot is SnapStartNotReadyException (HTTP 409).
def test_after_restore_hooks_have_ten_seconds():
    version = publish_version("f", init_duration_ms=100, memory_mb=128)
    model = RestoreModel(runtime_load_ms=0)
    restore(version, after_restore_ms=[10_000], model=model)
    with pytest.raises(SnapStartTimeoutException, match="within 10 seconds") as caught:
        restore(version, after_restore_ms=[6_000, 4_000.5], model=model)
    assert caught.value.status_code == 408 and caught.value.error_type == "SnapStartTimeoutException"
    with pytest.raises(SnapStartNotReadyException) as not_ready:
        restore(None)
    assert not_ready.value.status_code == 409


# https://docs.aws.amazon.com/lambda/latest/dg/snapstart-uniqueness.html: one snapshot resumes many
# environments; what INIT made unique (IDs, seeds) is the same in all; re-seed after restore.
def test_what_init_made_unique_is_shared_by_every_resumed_environment():
    version = publish_version("ids", init_duration_ms=100, memory_mb=128,
                              state={"sandbox_id": "9f1c", "seed": 1234, "connection": "socket#7"})
    shared = resume_environments(version, 4)
    assert [s["sandbox_id"] for s in shared] == ["9f1c"] * 4
    assert duplicates(shared, "seed") == 4

    def reseed(state, rng):                       # an @register_after_restore hook
        state["seed"] = rng.getrandbits(32)
        state["sandbox_id"] = f"{rng.getrandbits(32):08x}"
        state["connection"] = None                # reopened on first use

    fixed = resume_environments(version, 4, after_restore=reseed, seed=7)
    assert duplicates(fixed, "seed") == 0 and duplicates(fixed, "sandbox_id") == 0
    assert all(s["connection"] is None for s in fixed)
    assert fixed == resume_environments(version, 4, after_restore=reseed, seed=7)   # reproducible
    assert version.state["seed"] == 1234          # the snapshot itself is unchanged
    with pytest.raises(InvalidParameterValueException, match="count"):
        resume_environments(version, 0)


# Prices: pricing.US_EAST_1 (AWS Price List transcription; the rates could not be read on
# https://aws.amazon.com/lambda/pricing/ itself). Cache per GB-s with a 3 h minimum; restore per GB.
def test_snapstart_charges_cache_per_gb_second_and_restores_per_gb():
    assert US_EAST_1.snapstart_cache == Decimal("0.0000015046")
    assert US_EAST_1.snapstart_restore == Decimal("0.0001397998")
    cost = snapstart_cost(1024, restores=1_000, cache_hours=24)
    assert cost.cache_gb_s == Decimal(86_400)
    assert cost.cache_usd == Decimal("86400") * Decimal("0.0000015046")
    assert cost.restore_usd == Decimal("1000") * Decimal("0.0001397998")
    assert cost.total_usd == cost.cache_usd + cost.restore_usd
    # Under three hours, three hours are billed.
    assert snapstart_cost(512, restores=0, cache_hours=1).cache_gb_s == Decimal("0.5") * 3 * 3600
    # The same charges as the lab's monthly model of a SnapStart function.
    month = monthly_cost(100_000, 50, 1024, cold_starts=1_000, init_duration_ms=30, snapstart=True,
                         snapstart_hours=24)
    assert (month.snapstart_cache_cost, month.snapstart_restore_cost) == (cost.cache_usd, cost.restore_usd)
    for bad in ({"restores": -1, "cache_hours": 1}, {"restores": 1.5, "cache_hours": 1},
                {"restores": 1, "cache_hours": -2}):
        with pytest.raises(InvalidParameterValueException):
            snapstart_cost(1024, **bad)


def test_everything_the_model_returns_says_it_is_modelled():
    version = publish_version("f", init_duration_ms=100, memory_mb=128)
    assert version.modelled == restore(version).modelled == snapstart.MODELLED
    assert "not executed" in snapstart.MODELLED

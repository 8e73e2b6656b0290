"""The scheduler on the lab clock: call at a time, call later, cancel; virtual and real."""

import threading
import time

import pytest

from lambdalab_ext.clock import RealClock, VirtualClock


def test_virtual_advance_runs_due_calls_in_time_order_at_their_moment():
    clock = VirtualClock()
    seen = []
    for when in (300, 60, 120, 60):
        clock.call_at(when, lambda w=when: seen.append((w, clock.now())))
    clock.advance(100)
    assert seen == [(60, 60.0), (60, 60.0)]          # ties keep the order they were scheduled in
    assert clock.now() == 100.0
    clock.advance(3600)
    assert seen[2:] == [(120, 120.0), (300, 300.0)]
    assert clock.now() == 3700.0 and clock.pending() == []


def test_calls_scheduled_by_calls_inside_the_window_run_in_the_same_advance():
    clock = VirtualClock()
    attempts = []

    def attempt(n):
        attempts.append((n, clock.now()))
        if n < 3:    # Lambda's async retries: about 1 and then 2 minutes later
            clock.call_later(60 * n, attempt, n + 1)

    clock.call_later(0, attempt, 1)
    clock.advance(6 * 3600)
    assert attempts == [(1, 0.0), (2, 60.0), (3, 180.0)]


def test_cancel_and_past_moments():
    clock = VirtualClock(start=1000)
    seen = []
    call = clock.call_at(1010, seen.append, "cancelled")
    assert call.cancel() is True and call.cancel() is False
    clock.call_at(5, seen.append, "late")             # already past: runs at the next advance
    clock.advance(0)
    assert seen == ["late"]
    clock.advance(100)
    assert seen == ["late"]
    ran = clock.call_later(1, seen.append, "ran")
    clock.advance(1)
    assert ran.cancel() is False                      # too late to cancel what ran


def test_a_failing_call_does_not_stop_the_others(capsys):
    clock = VirtualClock()
    seen = []
    clock.call_later(1, lambda: 1 / 0, name="broken")
    clock.call_later(2, seen.append, "after")
    clock.advance(10)
    assert seen == ["after"]
    assert len(clock.errors) == 1 and "ZeroDivisionError" in clock.errors[0][1]
    assert "broken" in capsys.readouterr().err


def test_run_until_idle_plays_out_everything_queued():
    clock = VirtualClock()
    clock.call_later(3600, lambda: clock.call_later(7200, lambda: None))
    assert clock.run_until_idle() == 3600 + 7200
    assert clock.pending() == []


def test_going_backwards_is_refused():
    with pytest.raises(ValueError):
        VirtualClock().advance(-1)


def test_real_clock_runs_calls_on_time_on_one_thread():
    clock = RealClock()
    done = threading.Event()
    seen = []
    start = clock.now()

    def record(tag):
        seen.append((tag, clock.now() - start, threading.current_thread().name))
        if len(seen) == 2:
            done.set()

    clock.call_later(0.2, record, "second")
    clock.call_later(0.05, record, "first")
    clock.call_later(0.1, record, "cancelled").cancel()
    try:
        assert done.wait(10), "the scheduled calls never ran"
        assert [tag for tag, _, _ in seen] == ["first", "second"]
        # Never early (a late call is only the machine being busy).
        assert seen[0][1] >= 0.05 and seen[1][1] >= 0.2
        assert {name for _, _, name in seen} == {"lambdalab-clock"}
    finally:
        clock.close()
    late = clock.call_later(0, seen.append, "after close")
    time.sleep(0.05)
    assert not late.done

"""Guard rails under <home>/ct/: one gate in flight per model (held by a real second process),
the cool-down and the daily cap (with a controlled clock), every refusal in the history."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from gate_support import window

from nbops.exceptions import GuardRailError
from nbops.pipeline import guard
from nbops.workflows import gate

HOUR = 3600.0
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_second_gate_of_the_same_model_fails_fast_naming_the_holder(project):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys
            from nbops.pipeline.guard import in_flight
            with in_flight("churn", "retrain"):
                print("held", flush=True)
                sys.stdin.read()
            """)],
        cwd=project, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(GuardRailError) as info:
            gate("churn", data=window(0), label_column="y", criteria="accuracy >= 0")
        assert f"A retrain of 'churn' is already in flight (pid {holder.pid}, started 20" \
            in str(info.value)
        with guard.in_flight("fraud"):  # another model is not blocked
            pass
    finally:
        holder.stdin.close()
        holder.wait(30)
    with guard.in_flight("churn"):  # released when the holder ends
        pass
    refused = guard.history("churn")
    assert [r["decision"] for r in refused] == ["refused"]
    assert f"pid {holder.pid}" in refused[0]["reason"]


def test_in_flight_within_one_process_is_refused_too(project):
    with guard.in_flight("churn"), pytest.raises(GuardRailError, match="already in flight"):
        with guard.in_flight("churn"):
            pass


def test_cool_down_refuses_promotion_with_the_time_left(project):
    clock = Clock()
    guard.record({"model": "churn", "decision": "promoted"}, clock=clock)
    clock.now += 20 * 60
    with pytest.raises(GuardRailError, match="cool-down of 1 h 00 min leaves 40 min 00 s"):
        guard.check_promotion("churn", clock=clock)
    guard.check_promotion("churn", cooldown=600, clock=clock)  # a shorter cool-down has passed
    guard.check_promotion("fraud", clock=clock)  # other models are not affected
    clock.now += 40 * 60
    guard.check_promotion("churn", clock=clock)


def test_daily_cap_counts_promotions_in_the_last_24_hours(project):
    clock = Clock()
    for _ in range(3):
        guard.record({"model": "churn", "decision": "promoted"}, clock=clock)
        guard.record({"model": "churn", "decision": "rejected"}, clock=clock)
        clock.now += 2 * HOUR
    with pytest.raises(GuardRailError, match="promoted 3 times in the last 24 hours, the daily "
                                             "cap \\(3\\); the next promotion is allowed after "
                                             "2027-01-16T08:00:00"):
        guard.check_promotion("churn", clock=clock)
    guard.check_promotion("churn", max_per_day=4, clock=clock)
    clock.now = T0 + 24 * HOUR
    guard.check_promotion("churn", clock=clock)


def test_gate_records_a_refusal_and_a_dry_run_skips_the_cool_down(project):
    clock = Clock()
    guard.record({"model": "churn", "decision": "promoted"}, clock=clock)
    clock.now += 60
    with pytest.raises(GuardRailError, match="leaves 59 min 00 s"):
        gate("churn", data=window(0), label_column="y", criteria="accuracy >= 0", clock=clock)
    last = guard.history("churn")[-1]
    assert (last["decision"], last["time"]) == ("refused", "2027-01-15T08:01:00+00:00")
    assert "cool-down" in last["reason"]
    # a dry run passes the guard rails and reaches the registry (which has no such model here)
    with pytest.raises(Exception, match="No registered model named 'churn'"):
        gate("churn", data=window(0), label_column="y", criteria="accuracy >= 0",
             dry_run=True, clock=clock)

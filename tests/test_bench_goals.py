"""``make bench`` marks every figure that has a goal as met or MISSED (issue 9)."""

from __future__ import annotations

import pytest

from bench import goals


@pytest.fixture(autouse=True)
def fresh() -> None:
    goals.reached.clear()


def test_each_figure_says_met_or_missed() -> None:
    assert goals.against("latency", 120.0, 250.0, "ms", at_most=True) == "goal <= 250 ms: met"
    text = goals.against("throughput", 5_600.0, 20_000.0, "detections/s", at_most=False)
    assert text == "goal >= 20,000 detections/s: MISSED"
    summary = goals.summary().splitlines()
    assert summary[0] == "goals: 1 met, 1 missed"
    assert summary[2].split() == ["MISSED", "throughput:", "5,600.0", "detections/s", "(goal",
                                  ">=", "20,000.0", "detections/s)"]  # fmt: skip


def test_no_goal_no_summary() -> None:
    assert goals.summary() == ""

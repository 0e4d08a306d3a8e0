"""Goals the benchmarks measure against: each figure says whether it met its goal.

A benchmark calls :func:`against` where it prints a figure that has a goal; the words it
returns go into the printed line, and ``python -m bench`` lists every goal again at the end,
so a missed one is not left for the reader to spot in the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Goal", "against", "reached", "summary"]


@dataclass(frozen=True)
class Goal:
    """One measured figure against its goal."""

    what: str
    value: float
    goal: float
    unit: str
    at_most: bool  # True: the value must not exceed the goal; False: must reach it

    @property
    def met(self) -> bool:
        return self.value <= self.goal if self.at_most else self.value >= self.goal

    def line(self) -> str:
        relation = "<=" if self.at_most else ">="
        verdict = "met" if self.met else "MISSED"
        return (
            f"{verdict:>6}  {self.what}: {self.value:,.1f} {self.unit} "
            f"(goal {relation} {self.goal:,.1f} {self.unit})"
        )


reached: list[Goal] = []


def against(what: str, value: float, goal: float, unit: str, *, at_most: bool) -> str:
    """Record ``value`` against ``goal``; returns ``"goal <= 10 ms: met"`` (or ``MISSED``)."""
    entry = Goal(what, value, goal, unit, at_most)
    reached.append(entry)
    relation = "<=" if at_most else ">="
    return f"goal {relation} {goal:,.0f} {unit}: {'met' if entry.met else 'MISSED'}"


def summary() -> str:
    """Every goal recorded so far, one line each, met or MISSED."""
    if not reached:
        return ""
    missed = sum(not g.met for g in reached)
    head = f"goals: {len(reached) - missed} met, {missed} missed"
    return "\n".join([head, *(g.line() for g in reached)])

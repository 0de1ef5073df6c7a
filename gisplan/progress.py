"""Progress of long steps, as events: workflows, solvers and readers report :class:`Tick`s to a
:class:`ProgressSink` they are given; only the CLI decides how (and whether) to show them.

Examples
--------
>>> seen = []
>>> report = seen.append
>>> report(Tick("proposals", done=2, total=7, message="YC-1-12"))
>>> seen[0].fraction
0.2857142857142857
>>> silent(Tick("import"))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["ProgressSink", "SolverState", "Tick", "silent"]


@dataclass(frozen=True, slots=True)
class SolverState:
    """Where a MIP solve stands: seconds since it started, the best objective found so far (``None`` before
    the first), the best bound, and the relative gap between them."""

    elapsed_s: float
    incumbent: float | None
    bound: float | None
    gap: float | None


@dataclass(frozen=True, slots=True)
class Tick:
    """One progress event of stage `stage`: `done` of `total` items (either may be ``None`` when unknown),
    a short `message` (the item being worked on) and, for solver runs, the `solver` state."""

    stage: str
    done: float | None = None
    total: float | None = None
    message: str = ""
    solver: SolverState | None = None

    @property
    def fraction(self) -> float | None:
        """`done` / `total`, or ``None`` when either is unknown or `total` is 0."""
        if self.done is None or not self.total:
            return None
        return self.done / self.total


class ProgressSink(Protocol):
    """Anything that takes ticks (a CLI display, a list's ``append`` in tests, :func:`silent`)."""

    def __call__(self, tick: Tick, /) -> None: ...


def silent(tick: Tick, /) -> None:
    """The sink that shows nothing: the default of every function that reports progress."""

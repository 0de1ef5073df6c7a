"""Consecutive stage timings: each lap ends a stage where the previous one ended, so the stages add up to the
time measured. Workflows time their stages with it; the CLI's ``-v`` stopwatch builds on it.

Examples
--------
>>> laps = Laps()
>>> laps.lap("read", {"parse": 0.0})
>>> list(laps.stages)
['read: parse', 'read: other']
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Laps"]


class Laps:
    """Wall seconds per stage, in order (:attr:`stages`), starting now."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.stages: dict[str, float] = {}

    def lap(self, name: str, parts: Mapping[str, float] | None = None) -> None:
        """End the stage `name` now; `parts` (seconds measured inside it) are listed in its place as
        ``<name>: <part>``, and what they leave over as ``<name>: other``."""
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        inner = {f"{name}: {k}": v for k, v in (parts or {}).items()}
        rest = seconds - sum(inner.values())
        for key, value in (*inner.items(), (f"{name}: other" if inner else name, rest)):
            self.stages[key] = self.stages.get(key, 0.0) + value
        self._ended(name, seconds)

    def _ended(self, name: str, seconds: float) -> None:
        """Called when a stage ends (the CLI logs it)."""

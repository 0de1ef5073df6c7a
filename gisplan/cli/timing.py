"""Honest timing for ``-v``: every stage of a command, start-up (Python and imports) and reading and writing
included, so that the stages add up to the wall time of the process."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from gisplan.laps import Laps

__all__ = ["Stopwatch", "process_age_s"]

logger = logging.getLogger("gisplan")


def process_age_s() -> float | None:
    """Seconds since this process started (Linux ``/proc``), or None where that is not known."""
    try:
        stat = Path("/proc/self/stat").read_text(encoding="ascii")
        uptime = float(Path("/proc/uptime").read_text(encoding="ascii").split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (name) "; field 22 of stat(5) is the 20th here
    return max(0.0, uptime - int(fields[19]) / ticks)


class Stopwatch(Laps):
    """Consecutive laps from the start of the process: their sum is the wall time by construction.

    Each lap is logged at INFO (shown with ``-v``) as it ends; :meth:`summary` is the one line that adds up.
    """

    def __init__(self) -> None:
        super().__init__()
        age = process_age_s()
        self._start = self._last - (age or 0.0)
        if age is not None:
            self.stages["start-up (Python, imports)"] = age

    def _ended(self, name: str, seconds: float) -> None:
        logger.info("%s: %.2f s", name, seconds)

    @property
    def wall_s(self) -> float:
        """Seconds from the start of the process to the end of the last lap."""
        return self._last - self._start

    def summary(self) -> str:
        """``wall 12.3 s = start-up 1.1 s + read 0.4 s + …``."""
        stages = " + ".join(f"{k} {v:.2f} s" for k, v in self.stages.items())
        since = "" if "start-up (Python, imports)" in self.stages else " (from the command's start: this system does "
        "not tell the process start)"
        return f"timing: wall {self.wall_s:.2f} s{since} = {stages}"

"""The progress display: :class:`gisplan.progress.Tick` events rendered on stderr — one live line on a terminal,
sparse plain lines in a log or CI (no control characters), nothing with ``gisplan -q``.

Examples
--------
>>> import io
>>> out, now = io.StringIO(), iter([0.0, 3.0, 6.0]).__next__
>>> show = ProgressDisplay(out, live=False, clock=now)
>>> show(Tick("coverage", 0, 4, "elderly_day_care"))  # at 0 s: not shown yet (a step under 2 s stays quiet)
>>> show(Tick("coverage", 2, 4, "community_service_centre"))
>>> show(Tick("coverage", 4, 4))
>>> print(out.getvalue(), end="")
coverage 2/4 (50%) community_service_centre · about 3 s left
coverage 4/4 (100%)
"""

from __future__ import annotations

import shutil
import sys
import time
import unicodedata
from typing import TYPE_CHECKING, TextIO

import click

from gisplan.i18n import N_, _
from gisplan.progress import ProgressSink, SolverState, Tick, silent

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["STAGES", "ProgressDisplay", "close", "format_tick", "progress_sink"]

#: the stages the workflows report, as the display names them (catalogue keys)
STAGES = {
    "import": N_("import"), "roads": N_("road network"), "demand": N_("building demand points"),
    "coverage": N_("coverage"), "service areas": N_("service areas"), "proposals": N_("proposals"),
    "solver": N_("solver"), "map": N_("map"), "write": N_("writing files"),
}

#: a step shorter than this shows nothing in a log (on a terminal the live line shows at once)
QUIET_FOR_S = 2.0
#: seconds between two plain lines of one stage in a log
LOG_EVERY_S = 10.0


def _columns(text: str) -> int:
    """Terminal columns of `text` (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit(text: str, columns: int) -> str:
    """`text` cut to `columns` terminal columns."""
    if _columns(text) <= columns:
        return text
    out, used = [], 0
    for ch in text:
        used += _columns(ch)
        if used > columns - 1:
            break
        out.append(ch)
    return "".join(out) + "…"


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return _("{n:.0f} s").format(n=seconds)
    if seconds < 5400:
        return _("{n:.0f} min").format(n=seconds / 60)
    return _("{n:.1f} h").format(n=seconds / 3600)


def _solver(state: SolverState) -> str:
    parts = [_("{elapsed} elapsed").format(elapsed=_duration(state.elapsed_s))]
    if state.incumbent is not None:
        parts.append(_("best {value:,.6g}").format(value=state.incumbent))
    if state.bound is not None:
        parts.append(_("bound {value:,.6g}").format(value=state.bound))
    if state.gap is not None:
        parts.append(_("gap {gap:.2%}").format(gap=state.gap))
    return ", ".join(parts)


def format_tick(tick: Tick, *, remaining_s: float | None = None) -> str:
    """One line for `tick`: stage, done/total and share, the item, the time left, the solver's state.

    >>> format_tick(Tick("solver", message="YC-1-12", solver=SolverState(12.0, 41.0, 44.5, 0.0787)))
    'solver YC-1-12 · 12 s elapsed, best 41, bound 44.5, gap 7.87%'
    """
    text = _(STAGES.get(tick.stage, tick.stage))
    if tick.done is not None and tick.total:
        text += f" {tick.done:g}/{tick.total:g} ({tick.done / tick.total:.0%})"
    elif tick.done is not None:
        text += f" {tick.done:g}"
    if tick.message:
        text += f" {tick.message}"
    if remaining_s is not None:
        text += " · " + _("about {time} left").format(time=_duration(remaining_s))
    if tick.solver is not None:
        text += " · " + _solver(tick.solver)
    return " ".join(text.replace("\r", " ").replace("\n", " ").split())  # a name's control characters stay out


class ProgressDisplay:
    """A :class:`~gisplan.progress.ProgressSink` that draws on `stream`: a live line (`live`, a terminal) or plain
    lines at most every :data:`LOG_EVERY_S` per stage, once the stage has run :data:`QUIET_FOR_S`."""

    def __init__(self, stream: TextIO, *, live: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.live = live
        self.clock = clock
        self._started: dict[str, float] = {}  # stage → time of its first tick
        self._first_done: dict[str, tuple[float, float]] = {}  # stage → (time, done) of its first counted tick
        self._last_line: dict[str, float] = {}
        self._width = 0
        self._previous: tuple[str, str, float] | None = None  # (stage, line, time) of the last tick in a log

    def _remaining(self, tick: Tick, now: float) -> float | None:
        """Seconds left by the stage's rate so far (from its first counted tick), when it can be estimated."""
        if tick.done is None or not tick.total or tick.solver is not None:
            return None
        if tick.stage not in self._first_done or tick.done < self._first_done[tick.stage][1]:  # a new round
            self._first_done[tick.stage] = (now, tick.done)
            return None
        t0, d0 = self._first_done[tick.stage]
        if tick.done <= d0 or now - t0 < 1.0 or tick.done >= tick.total:
            return None
        return (now - t0) / (tick.done - d0) * (tick.total - tick.done)

    def __call__(self, tick: Tick, /) -> None:
        """Show `tick`."""
        now = self.clock()
        started = self._started.setdefault(tick.stage, now)
        line = format_tick(tick, remaining_s=self._remaining(tick, now))
        if self.live:
            line = _fit(line, shutil.get_terminal_size().columns - 1)  # a wrapped line could not be rewritten
            width = _columns(line)
            self.stream.write("\r" + line + " " * max(0, self._width - width))
            self._width = width
            self.stream.flush()
            return
        self._close_stage(tick.stage, now)
        self._previous = (tick.stage, line, now)
        finished = tick.total is not None and tick.done is not None and tick.done >= tick.total
        long_enough = now - started >= QUIET_FOR_S
        if long_enough and (finished or now - self._last_line.get(tick.stage, -float("inf")) >= LOG_EVERY_S):
            self.stream.write(line + "\n")
            self.stream.flush()
            self._last_line[tick.stage] = now

    def _close_stage(self, stage: str | None, now: float) -> None:
        """In a log: a stage that ran long without a line (one tick, e.g. building the road network) gets one,
        with its time, when the next stage begins."""
        if self._previous is None or self._previous[0] == stage:
            return
        last, line, _at = self._previous
        took = now - self._started[last]
        if last not in self._last_line and took >= QUIET_FOR_S:
            self.stream.write(line + " · " + _duration(took) + "\n")
            self.stream.flush()
            self._last_line[last] = now

    def close(self) -> None:
        """Clear the live line (before the command prints its results); in a log, end the last stage."""
        if not self.live:
            self._close_stage(None, self.clock())
            return
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def progress_sink() -> ProgressDisplay | ProgressSink:
    """The display for the running command: nothing with ``gisplan -q``, a live line when stderr is a terminal,
    plain lines otherwise."""
    ctx = click.get_current_context(silent=True)
    quiet = ctx is not None and ctx.find_root().params.get("quiet", 0) > 0
    if quiet:
        return silent
    return ProgressDisplay(sys.stderr, live=sys.stderr.isatty())


def close(sink: ProgressDisplay | ProgressSink) -> None:
    """Clear `sink`'s live line, if it has one."""
    if isinstance(sink, ProgressDisplay):
        sink.close()

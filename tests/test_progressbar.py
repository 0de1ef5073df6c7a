"""The progress display: ticks rendered as a live line on a terminal, sparse plain lines in a log, nothing with -q;
and the workflows report ticks for their long steps."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import click

from gisplan.cli.main import cli
from gisplan.cli.progressbar import ProgressDisplay, format_tick, progress_sink
from gisplan.i18n import use_language
from gisplan.progress import SolverState, Tick, silent
from gisplan.store import open_workspace
from gisplan.workflows.importing import ImportSpec, import_layers
from tests.conftest import LAYERS

if TYPE_CHECKING:
    from pathlib import Path

    from gisplan.catalogue import Catalogue


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _display(*, live: bool) -> tuple[ProgressDisplay, io.StringIO, _Clock]:
    out, clock = io.StringIO(), _Clock()
    return ProgressDisplay(out, live=live, clock=clock), out, clock


def test_log_lines_are_sparse_and_plain() -> None:
    show, out, clock = _display(live=False)
    show(Tick("coverage", 0, 10, "elderly_day_care"))
    clock.now = 1.0
    show(Tick("coverage", 1, 10))  # under 2 s: nothing yet
    assert out.getvalue() == ""
    clock.now = 3.0
    show(Tick("coverage", 3, 10, "community_service_centre"))
    clock.now = 5.0
    show(Tick("coverage", 5, 10))  # 2 s after the last line: not yet (one line per 10 s)
    clock.now = 13.5
    show(Tick("coverage", 9, 10))
    clock.now = 14.0
    show(Tick("coverage", 10, 10))  # the end of a stage is always shown
    lines = out.getvalue().splitlines()
    # 3 of 10 done in 3 s: 7 more take about 7 s; 9 of 10 in 13.5 s: about 1.5 s
    assert lines == ["coverage 3/10 (30%) community_service_centre · about 7 s left",
                     "coverage 9/10 (90%) · about 2 s left",
                     "coverage 10/10 (100%)"]
    assert "\r" not in out.getvalue()
    assert "\x1b" not in out.getvalue()


def test_a_long_step_with_one_tick_gets_its_line_when_the_next_begins() -> None:
    show, out, clock = _display(live=False)
    show(Tick("roads"))
    clock.now = 7.0
    show(Tick("coverage", 0, 2))
    clock.now = 7.5
    show(Tick("proposals", 0, 3, "YC-1-12"))
    clock.now = 8.0
    show.close()
    assert out.getvalue().splitlines() == ["road network · 7 s"]  # coverage ran 0.5 s, proposals 0.5 s: quiet


def test_live_line_is_rewritten_and_cleared() -> None:
    show, out, clock = _display(live=True)
    show(Tick("import", 0, 3, "区划代码.csv"))
    clock.now = 2.0
    show(Tick("import", 1, 3, "镇街.geojson"))
    text = out.getvalue()
    assert text.startswith("\rimport 0/3 (0%) 区划代码.csv")
    assert "\rimport 1/3 (33%) 镇街.geojson" in text
    show.close()
    # the last line is cleared by as many spaces as it took columns (CJK characters take two)
    width = len("import 1/3 (33%) .geojson · about 4 s left") + 2 * len("镇街")
    assert out.getvalue().endswith("\r" + " " * width + "\r")


def test_solver_state_and_chinese() -> None:
    tick = Tick("solver", message="YC-1-12", solver=SolverState(95.0, 41.0, 44.5, 0.0787))
    assert format_tick(tick) == "solver YC-1-12 · 2 min elapsed, best 41, bound 44.5, gap 7.87%"
    assert format_tick(Tick("solver", solver=SolverState(1.0, None, None, None))) == "solver · 1 s elapsed"
    before = use_language("zh")
    try:
        assert format_tick(tick) == "求解器 YC-1-12 · 已用 2 分钟, 当前最优 41, 界 44.5, 间隙 7.87%"
        assert format_tick(Tick("coverage", 3, 10), remaining_s=7200) == "覆盖测算 3/10 (30%) · 约剩 2.0 小时"
    finally:
        use_language(before)


def test_a_name_cannot_rewrite_the_line() -> None:
    assert format_tick(Tick("import", 1, 2, "a\rb\nc")) == "import 1/2 (50%) a b c"


def test_quiet_shows_nothing() -> None:
    with click.Context(cli) as ctx:
        ctx.params["quiet"] = 1
        assert progress_sink() is silent
    with click.Context(cli) as ctx:
        ctx.params["quiet"] = 0
        assert isinstance(progress_sink(), ProgressDisplay)


def test_import_reports_every_file(tmp_path: Path, catalogue: Catalogue) -> None:
    ticks: list[Tick] = []
    import_layers(open_workspace(tmp_path / "w.gpkg"), [
        ImportSpec(LAYERS / "yongchuan_gazetteer.csv", "gazetteer"),
        ImportSpec(LAYERS / "yongchuan_boundaries.gpkg", "district", layer="district"),
    ], catalogue=catalogue, progress=ticks.append)
    assert [(t.stage, t.done, t.total) for t in ticks] == [("import", 0, 2), ("import", 1, 2), ("import", 2, 2)]
    assert ticks[0].message == "yongchuan_gazetteer.csv"

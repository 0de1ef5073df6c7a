"""`gisplan batch`: many districts in one run — in this process, on a Dask LocalCluster or an existing cluster."""

from __future__ import annotations

import logging
import os
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pandas as pd

from gisplan.cli.options import format_table
from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.outputs.batch import write_district, write_district_tables, write_municipal
from gisplan.workflows.batch import jobs_for_region, jobs_for_scenarios, load_region, run_batch
from gisplan.workflows.engine import cpu_note

if TYPE_CHECKING:
    from gisplan.progress import Tick

logger = logging.getLogger("gisplan")

_EPILOG = """\b
Examples:
  gisplan batch scenarios/chongqing-districts.toml --out out/chongqing                 # 38 districts, in-process
  gisplan batch scenarios/chongqing-districts.toml --out out/cq --workers 2            # a Dask LocalCluster
  gisplan batch scenarios/chongqing-districts.toml --out out/cq --only 500118,500151,500153
  gisplan batch scenarios/chongqing-districts.toml --out out/cq --scheduler tcp://10.0.0.5:8786
  gisplan batch scenarios/ --out out/all            # every scenario TOML of a folder
  gisplan batch a.toml b.toml --out out/ab          # a list of scenarios
\b
区域文件（[region] 表）为每个区县生成情景：真实区界与区划名录、示意的镇街/村社区边界、住户与设施（示意），路网取自
[roads] path 中的全市路网（按区界外扩裁剪）；没有路网文件时各区县联网获取 OpenStreetMap 路网。每个区县写出常规
成果（<out>/<code>/results/），并汇总全市表格 indicators_by_district.csv、coverage_by_district.csv、
proposed_sites.csv、batch_status.csv 与 municipal_map.html。输入未变（内容哈希）的区县在重跑时跳过，中断的批处理
可以续跑；--force 全部重算。On an existing cluster every worker must import gisplan (same version) and read the
same paths (a shared file system).
"""


def _echo_tick(tick: Tick) -> None:
    """Plain progress lines on stderr (the branch rendering every Tick replaces this)."""
    click.echo(_("[batch] {message}").format(message=tick.message) if tick.message else _("[batch]"), err=True)


def _is_region(path: Path) -> bool:
    if path.is_dir() or path.suffix.lower() != ".toml":
        return False
    try:
        return "region" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


@click.command("batch", epilog=_EPILOG)
@click.argument("sources", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Batch output folder: one sub-folder per district plus the municipal tables and map.")
@click.option("--only", "only", default=None, metavar="CODES",
              help="Comma-separated 6-digit district codes to run (default: all).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Run on a dask.distributed LocalCluster of N worker processes (each reads the road file once; "
                   "cores ÷ N kernel threads each).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run on an existing, already running Dask cluster (tcp://host:8786); its workers read the "
                   "same paths. gisplan joins it and does not start one.")
@click.option("--map/--no-map", "draw_map", default=True, show_default=True,
              help="Write each district's map.html and the municipal map.")
@click.option("--indicator", default=None, help="Indicator id the municipal map shows first.")
@click.option("--force", is_flag=True, help="Run every district, even those whose inputs are unchanged.")
def batch_command(sources: tuple[Path, ...], out: Path, only: str | None, workers: int | None,
                  scheduler: str | None, draw_map: bool, indicator: str | None, force: bool) -> None:
    """多区县批量运行 Run many district scenarios: a region file, a folder of scenarios or a list.

    Each district gets its usual `gisplan run` outputs in OUT/<code>/results/; OUT gets the municipal tables and
    municipal_map.html. A district that fails is reported and the others complete (exit code 1 then).
    """
    codes = [c.strip() for c in only.split(",") if c.strip()] if only else None
    title = "多区县批量评估"
    if len(sources) == 1 and _is_region(sources[0]):
        region = load_region(sources[0])
        jobs = jobs_for_region(region, out, only=codes)
        title = f"{region.name}"
        click.echo(_("{region}: {n} districts from {path}").format(region=region.name, n=len(jobs), path=sources[0]),
                   err=True)
    else:
        if any(_is_region(s) for s in sources):
            msg = _("give a region file alone, or scenario files / folders (not both).")
            raise ConfigError(msg)
        jobs = jobs_for_scenarios(list(sources), out, only=codes)
    if not jobs:
        msg = _("no district to run: check the sources and --only.")
        raise ConfigError(msg)
    cpu_note(workers, lambda text: click.echo(text, err=True))
    result = run_batch(jobs, write=write_district if draw_map else write_district_tables,
                       workers=workers, scheduler=scheduler, force=force, progress=_echo_tick)
    files = write_municipal(result, out, title=title, indicator=indicator, draw_map=draw_map)
    table = pd.DataFrame({"代码 code": [o.code for o in result.outcomes], "区县": [o.name for o in result.outcomes],
                          "状态 status": [o.status for o in result.outcomes],
                          "秒 s": [round(sum(o.seconds.values()), 1) for o in result.outcomes],
                          "错误 error": [o.error[:80] for o in result.outcomes]})
    click.echo(format_table(table))
    click.echo("\n" + _("{engine}: {done} done, {skipped} skipped (inputs unchanged), {failed} failed in "
                         "{seconds:.1f} s")
               .format(engine=result.engine, done=result.count("done"), skipped=result.count("skipped"),
                       failed=result.count("failed"), seconds=result.seconds))
    click.echo(_("written:"))
    for path in files:
        click.echo(os.path.normpath(path))
    click.echo("\n" + _("示意 — generated township/village polygons, households and facilities: the values show how "
                      "gisplan works, not the districts' real state."))
    if result.count("failed"):
        click.echo(_("error: {n} district(s) failed; see batch_status.csv.").format(n=result.count("failed")), err=True)
        sys.exit(1)

"""`gisplan run`: a whole scenario — import, indicators, coverage, gaps, proposed sites, files and map."""

from __future__ import annotations

import contextvars
import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pandas as pd

from gisplan import settings
from gisplan.cli.map import map_options
from gisplan.cli.options import WORKSPACE, catalogue_for, catalogue_option, format_table, import_scenario
from gisplan.cli.progressbar import close, progress_sink
from gisplan.cli.timing import Stopwatch
from gisplan.config import load_scenario, require_indicators
from gisplan.i18n import _
from gisplan.outputs.people import for_people
from gisplan.outputs.results import MapInputs, map_layers, read_map_inputs, write_map, write_results
from gisplan.outputs.webmap import check_basemap
from gisplan.progress import Tick
from gisplan.store import Workspace, open_workspace
from gisplan.vocab import ReportFormat
from gisplan.workflows.plan import RunResult, run_scenario

if TYPE_CHECKING:
    from gisplan.catalogue import Catalogue
    from gisplan.config import Scenario

logger = logging.getLogger("gisplan")


@click.command("run")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-w", "--workspace", type=WORKSPACE, help="Workspace GeoPackage (default: the scenario's `workspace`).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: beside the workspace, <workspace>_results).")
@click.option("--propose/--no-propose", default=True, show_default=True,
              help="Propose the new sites that close the gap to each target the layers miss.")
@click.option("--map/--no-map", "draw_map", default=True, show_default=True,
              help="Write map.html (redraw it later with `gisplan map`).")
@click.option("--report/--no-report", "write_report", default=True, show_default=True,
              help="Write the report: report.pdf, report.docx, tables.xlsx, report.html (see `gisplan report`).")
@click.option("--report-format", "report_formats", default=",".join(ReportFormat), show_default=True,
              metavar="LIST", help="Comma-separated report formats.")
@map_options
@catalogue_option
def run(
    scenario: Path, workspace: Workspace | None, out: Path | None, propose: bool, draw_map: bool,
    write_report: bool, report_formats: str, choropleth: str | None, basemap: str, tianditu_key: str | None,
    basemap_file: Path | None,
    catalogue_files: tuple[Path, ...],
) -> None:
    """Import and validate every layer of SCENARIO, measure network coverage (when the workspace has roads
    and demand), and print and write the plan's indicator table, with the uncovered areas ranked.

    \b
    Writes to --out: indicators.csv (indicator_id, name, unit, value, target, comparator, status,
    method, source …), units.csv (coverage per district/township/village), gaps.csv, admin_gaps.csv,
    proposed_sites.csv, results.gpkg (demand, townships/villages with their indicators, gaps, service
    areas, proposed sites), map.html (the coverage map; opens offline; see `gisplan map --help`) and the
    report: report.pdf, report.docx, tables.xlsx, report.html (see `gisplan report --help`).

    \b
    Proposed sites follow each plan row (one per lacking division for per-unit rows, shared between rows of
    one type) and are phased over the scenario's `period` from the run's year; once the period has ended
    (终期评估) over the next one. GISPLAN_TODAY=2026-03-01 sets the run's date. The map's layers are read on a
    second thread while the files are written, and the sites of different facility types are proposed side by
    side (GISPLAN_THREADS=1, or GISPLAN_PROPOSAL_THREADS=1 for the proposals: one after the other; the same
    files unless a solver time limit stops a model).

    \b
    Example:
      gisplan run scenarios/yongchuan-2025.toml
      gisplan run scenarios/zhushan-2025.toml -w /tmp/zhushan.gpkg --out /tmp/zhushan
      gisplan run scenarios/yongchuan-2025.toml --choropleth floor_area --basemap osm
    """
    clock = Stopwatch()
    check_basemap(basemap, tianditu_key)  # before the long run, not after it
    settings.proposal_threads()  # a bad GISPLAN_PROPOSAL_THREADS is said now, not after the coverage
    formats: tuple[ReportFormat, ...] = ()
    if write_report:  # the report's modules only when a report is written
        from gisplan.cli.report import parse_formats  # noqa: PLC0415

        formats = parse_formats(report_formats)
    sc = load_scenario(scenario)
    ws = workspace or open_workspace(sc.workspace)
    cat = catalogue_for(sc, catalogue_files)
    require_indicators(sc)  # before anything is imported
    import_scenario(sc, ws, cat)
    clock.lap("import layers")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gisplan-map-inputs") as pool:
        _run_and_write(sc, ws, cat, out=out, propose=propose, draw_map=draw_map, formats=formats, clock=clock,
                       pool=pool, choropleth=choropleth, basemap=basemap, tianditu_key=tianditu_key,
                       basemap_file=basemap_file)
    logger.info(clock.summary())


def _run_and_write(
        sc: Scenario, ws: Workspace, cat: Catalogue, *, out: Path | None, propose: bool, draw_map: bool,
        formats: tuple[ReportFormat, ...], clock: Stopwatch, pool: ThreadPoolExecutor,
        choropleth: str | None, basemap: str, tianditu_key: str | None, basemap_file: Path | None) -> None:
    """Everything `gisplan run` does after the import: the run, its tables on stdout, the files, the map (its
    inputs read on `pool`'s thread while the files are written) and the report."""
    meta = ws.metadata()
    illustrative = bool(meta["illustrative"].any())
    meta["illustrative"] = meta["illustrative"].map({1: "示意 illustrative", 0: "real"})
    click.echo(f"\n{sc.name}\n" + _("workspace: {path}").format(path=os.path.normpath(ws.label)) + "\n")
    click.echo(format_table(meta[["layer", "kind", "row_count", "illustrative", "crs_given"]]))
    show = progress_sink()
    result = run_scenario(ws, sc, cat, progress=show, propose=propose)
    close(show)
    clock.lap("run", result.seconds)
    _print_coverage(result, meta)
    _print_indicators(result)
    _print_gaps(result, {t.id: t.name_zh for t in cat.types.values()})
    _print_proposals(result)
    if "townships" not in set(meta["layer"]):
        click.echo("\n" + _("No township polygons in this workspace: points were checked against the district "
                            "outline only, and township-level indicators use the declared division codes."))
    target = out or ws.derived_path("_results")
    show(Tick("write"))
    # the map's workspace layers and neighbours do not depend on the run: read on a second thread while the files
    # are written (started here, not before the run: reading beside the run's own reads slowed them as much)
    early: Future[MapInputs] | None = (pool.submit(contextvars.copy_context().run, read_map_inputs, ws, sc)
                                       if draw_map and settings.thread_count() > 1 else None)
    files = write_results(result, out_dir=target, workspace=ws, illustrative=illustrative,
                          type_names={t.id: t.name_zh for t in cat.types.values()})
    clock.lap("write results")
    if draw_map:
        show(Tick("map", 0, 1))
        inputs = early.result() if early is not None else None
        files.append(write_map(map_layers(target / "results.gpkg", ws, sc, cat, basemap_file=basemap_file,
                                          inputs=inputs),
                               target / "map.html",
                               choropleth=choropleth, basemap=basemap, tianditu_key=tianditu_key))
        show(Tick("map", 1, 1))
        clock.lap("map")
    if formats:
        from gisplan.cli.report import write_run_report  # noqa: PLC0415

        summary = result.coverage.network.summary() if result.coverage and result.coverage.network else None
        files += write_run_report(target, ws, sc, cat, formats=formats, network_summary=summary,
                                  network=result.network)
        clock.lap("report")
    close(show)
    click.echo("\n" + _("written:"))
    for path in files:
        click.echo(os.path.normpath(path))
    if illustrative:
        click.echo("\n" + _("示意 — facility and household layers are generated illustrative data, not real "
                            "facilities; measured values show how the tool works, not the district's real state."))


def _print_coverage(result: RunResult, meta: pd.DataFrame) -> None:
    """How coverage was measured: the road network (and the roads' source note: OSM's ODbL), the straight-line
    estimate, or why not at all."""
    if result.coverage is not None and result.coverage.network is not None:
        click.echo("\n" + _("roads: {summary}").format(summary=result.coverage.network.summary()))
        roads = meta[meta["kind"].eq("roads") & meta["note"].fillna("").astype(str).str.strip().ne("")]
        for layer, note in zip(roads["layer"], roads["note"], strict=True):  # OSM roads: source, date, ODbL
            click.echo(f"{layer}: {note}")
    elif result.coverage is not None and result.coverage_note:
        click.echo("\n" + _("直线 straight-line: {note}").format(note=result.coverage_note))
    elif result.coverage_note:
        click.echo("\n" + _("coverage not measured: {note}").format(note=result.coverage_note))


def _print_indicators(result: RunResult) -> None:
    table = result.indicators.copy()
    if len(table):
        table["value"] = table["value"].round(1)
        base, end = ((result.period.baseline_year, result.period.period[1]) if result.period is not None
                     else ("基期", "规划期末"))
        columns = {"indicator_id": "编号 id", "name_zh": "指标", "unit": "单位", "baseline_2020": f"{base}年(规划)",
                   "value": "测算 measured", "target_2025": f"{end}年目标", "status": "状态 status",
                   "method": "方法 method", "basis": "依据 basis"}
        click.echo("\n" + format_table(table.rename(columns=columns)[list(columns.values())]))


def _print_proposals(result: RunResult) -> None:
    table = result.indicators
    if "new_sites" not in table or not table["new_sites"].notna().any():
        return
    rows = table[table["new_sites"].notna()]
    shown = pd.DataFrame({"编号 id": rows["indicator_id"], "现状 now": rows["value"].round(1),
                          "目标 target": rows["target_2025"], "新增 new sites": rows["new_sites"].astype(int),
                          "建成后 after": rows["value_after"].round(1), "状态 after": rows["status_after"]})
    click.echo("\n" + _("选址建议 proposed sites to reach each target (phased order and locations in "
                        "proposed_sites.csv):"))
    click.echo(format_table(shown))
    if result.period is not None:
        click.echo(result.period.note)


def _print_gaps(result: RunResult, names: dict[str, str]) -> None:
    gaps = result.gaps
    if len(gaps):
        top = gaps[gaps["rank"] <= 3][["facility_type", "rank", "population", "households", "township", "village"]]
        top = top.assign(population=top["population"].round(0), households=top["households"].round(0))
        click.echo("\n" + _("最大的未覆盖片区 largest uncovered areas (top 3 per type; all in gaps.csv):"))
        click.echo(format_table(for_people(top, type_names=names)))
    if len(result.admin_gaps):
        counts = result.admin_gaps.groupby(["facility_type", "level"]).size().rename("lacking").reset_index()
        click.echo("\n" + _("缺少设施的行政单元 divisions lacking a required facility (all in admin_gaps.csv):"))
        click.echo(format_table(for_people(counts, type_names=names)))

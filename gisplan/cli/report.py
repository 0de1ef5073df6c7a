"""`gisplan report`: the site-selection and coverage report of a run — report.pdf, report.docx, tables.xlsx and
report.html, in Chinese."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gisplan import settings
from gisplan.cli.options import WORKSPACE, catalogue_for, catalogue_option, run_if_no_results
from gisplan.config import load_scenario
from gisplan.i18n import _
from gisplan.outputs.report_data import read_report_data
from gisplan.store import open_workspace
from gisplan.vocab import ReportFormat

if TYPE_CHECKING:
    from gisplan.catalogue import Catalogue
    from gisplan.config import Scenario
    from gisplan.network.graph import RoadNetwork
    from gisplan.store import Workspace

__all__ = ["parse_formats", "report_command", "write_run_report"]

_FORMATS = ",".join(ReportFormat)

_EPILOG = f"""\b
Examples:
  gisplan report scenarios/yongchuan-2025.toml --out out/yongchuan
  gisplan report scenarios/zhushan-2025.toml --out out/zhushan --format pdf,xlsx
  gisplan run scenarios/yongchuan-2025.toml --no-report     # a run without the report
\b
Formats ({_FORMATS}): report.pdf (A4, page numbers, table of contents; needs WeasyPrint and
fonts-noto-cjk, installed by scripts/setup.sh), report.docx (Word/WPS, editable headings and
tables), tables.xlsx (one sheet per table, codes as text), report.html (the PDF's source page).
"""


def parse_formats(text: str) -> tuple[ReportFormat, ...]:
    """``pdf,docx`` → the formats, in order, without repeats.

    Raises
    ------
    click.BadParameter
        Naming the unknown format and the allowed ones.
    """
    out: list[ReportFormat] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        if part not in set(ReportFormat):
            msg = _("unknown report format {format}; use any of {formats}, comma-separated.").format(
                format=repr(part), formats=_FORMATS)
            raise click.BadParameter(msg, param_hint="--format")
        if ReportFormat(part) not in out:
            out.append(ReportFormat(part))
    if not out:
        msg = _("no report format given; use any of {formats}.").format(formats=_FORMATS)
        raise click.BadParameter(msg, param_hint="--format")
    return tuple(out)


def write_run_report(
    results: Path, ws: Workspace, sc: Scenario, cat: Catalogue, *, formats: tuple[ReportFormat, ...],
    network_summary: str | None = None, network: RoadNetwork | None = None,
) -> list[Path]:
    """Build the report from the run's results in `results` (its folder) and write its files there (`network`:
    the run's road network when it has just run, else it is built again for the site pages)."""
    # matplotlib and jinja come with the report only: every other command (`run --no-report` included)
    # starts about a second of CPU sooner without them
    from gisplan.outputs.report import build_report, write_report  # noqa: PLC0415

    data = read_report_data(results / "results.gpkg", ws, sc, cat, today=settings.today(),
                            network_summary=network_summary, network=network)
    return write_report(build_report(data), results, formats=formats)


@click.command("report", epilog=_EPILOG)
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-w", "--workspace", type=WORKSPACE, help="Workspace GeoPackage (default: the scenario's `workspace`).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of a `gisplan run` (default: beside the workspace, <workspace>_results); the report "
                   "is written there.")
@click.option("--format", "formats", default=_FORMATS, show_default=True, metavar="LIST",
              help=f"Comma-separated: {_FORMATS}.")
@click.option("--propose/--no-propose", default=True, show_default=True,
              help="When --out has no results yet and the scenario is run first: propose new sites too.")
@catalogue_option
def report_command(
    scenario: Path, workspace: Workspace | None, out: Path | None, formats: str, propose: bool,
    catalogue_files: tuple[Path, ...],
) -> None:
    """生成选址与覆盖分析报告（PDF、Word、Excel）: write SCENARIO's report from the results of
    `gisplan run` in --out — summary, indicator table (终期评估 once the plan period has ended),
    coverage by township, maps, proposed sites with their rationale, method and data sources. When --out
    has no results yet, the scenario is run first and its results are written there too.
    """
    chosen = parse_formats(formats)
    sc = load_scenario(scenario)
    ws = workspace or open_workspace(sc.workspace)
    cat = catalogue_for(sc, catalogue_files)
    target = out or ws.derived_path("_results")
    summary = None
    result = run_if_no_results(sc, ws, cat, target, propose=propose)
    if result is not None and result.coverage is not None and result.coverage.network is not None:
        summary = result.coverage.network.summary()
    network = result.network if result is not None else None
    for path in write_run_report(target, ws, sc, cat, formats=chosen, network_summary=summary, network=network):
        click.echo(os.path.normpath(path))

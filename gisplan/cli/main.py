"""The `gisplan` command group. The CLI package is the only place that configures logging (here), reads
``scenarios/`` or prints; everything its commands do is a call into the library.

Exit codes: 0 success, 1 data or configuration error (message on stderr, no traceback), 2 usage error.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any

import click

from gisplan import __version__
from gisplan.cli.batch import batch_command
from gisplan.cli.boundaries import boundaries
from gisplan.cli.clicktext import install_click_catalogue
from gisplan.cli.coverage import coverage_command
from gisplan.cli.db import db
from gisplan.cli.divisions import divisions
from gisplan.cli.export import export_command
from gisplan.cli.helptext import use_help_context
from gisplan.cli.history import history_command, revert_command, undo_command
from gisplan.cli.init import init_command
from gisplan.cli.layers import layers
from gisplan.cli.map import map_command
from gisplan.cli.places import places
from gisplan.cli.propose import propose_command
from gisplan.cli.report import report_command
from gisplan.cli.roads import roads
from gisplan.cli.run import run
from gisplan.cli.serve import serve_command
from gisplan.cli.types import types
from gisplan.errors import GisplanError
from gisplan.i18n import LANGUAGES, _, use_language

if TYPE_CHECKING:
    from collections.abc import Sequence


def _lang_in(args: Sequence[str]) -> str | None:
    """The value of a `--lang` given before the subcommand (``--lang zh`` or ``--lang=zh``), if any."""
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
        if not arg.startswith("-") and (i == 0 or args[i - 1] != "--lang"):
            return None  # the subcommand: its own options follow
    return None


class _Group(click.Group):
    """Speak the chosen language for the whole command (help and usage errors included, which click handles
    before any callback runs: its own texts come from gisplan's catalogue of click's texts,
    :mod:`gisplan.cli.clicktext`); turn gisplan errors into a one-paragraph message and exit code 1."""

    def main(self, args: Sequence[str] | None = None, *a: Any, **kw: Any) -> Any:
        """Run the command in the language of `--lang`, else the locale's, then restore the one spoken before."""
        given = _lang_in(list(sys.argv[1:] if args is None else args)) or os.environ.get("GISPLAN_LANG")
        before = use_language(given if given in LANGUAGES else None)  # a bad value: click says so, in the locale's
        try:
            return super().main(args, *a, **kw)
        finally:
            use_language(before)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GisplanError as exc:
            click.echo(_("error: {message}").format(message=exc), err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gisplan")
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug).")
@click.option("-q", "--quiet", count=True, help="Less log output (and no progress display).")
@click.option("--lang", type=click.Choice(list(LANGUAGES)), envvar="GISPLAN_LANG",
              help="Interface language: messages, --help and the tables and CSV headers written for people (zh: "
                   "中文). Default: the locale's (LANG=zh_CN.UTF-8 → zh), English in a C/POSIX locale.")
def cli(verbose: int, quiet: int, lang: str | None) -> None:
    """gisplan: facility coverage and plan indicators for district civil-affairs bureaus (民政局).

    \b
    Examples:
      gisplan run scenarios/yongchuan-2025.toml     # indicators, 15-min coverage, gaps, proposed sites, map.html
      gisplan map scenarios/yongchuan-2025.toml --choropleth floor_area --basemap osm
      gisplan report scenarios/yongchuan-2025.toml  # report.pdf, report.docx, tables.xlsx, report.html
      gisplan coverage scenarios/yongchuan-2025.toml --out out/coverage
      gisplan coverage --roads roads.gpkg --facilities 站点.csv --demand 小区.csv --crs gcj02 --out out/adhoc
      gisplan propose --costs od.csv --demand d.csv --candidates c.csv --model mclp --p 4 --cutoff 1000
      gisplan layers import 台账.xlsx --kind facilities --type elderly_institution --crs gcj02 -w yc.gpkg
      gisplan layers list -w yc.gpkg
      gisplan export -w out/yongchuan --layers proposed_sites --format dxf --out to_cad/
      gisplan roads fetch scenarios/zhushan-2025.toml   # OpenStreetMap roads, cached for offline use
      gisplan types list
      gisplan boundaries check -w yc.gpkg             # topology of the township polygons (km²)
      gisplan divisions merge -w yc.gpkg 500118006201 500118006209 --basis "永川府〔2024〕12号" --dry-run
      gisplan history -w yc.gpkg --unit 500118102003     # who changed this unit, when and why
      gisplan undo -w yc.gpkg                              # take the last change back exactly
      gisplan places search 朱龙花村 -w yc.gpkg            # the place-name register (地名信息库)
      gisplan init 500118 --illustrative                # a scenario for any of Chongqing's 38 districts
      gisplan batch scenarios/chongqing-districts.toml --out out/cq --workers 2
      gisplan db copy yc.gpkg "postgresql://planner@db:5432/civil?schema=yongchuan"   # to a shared PostGIS
      gisplan serve -w yc.gpkg --port 8000           # OGC API – Features for QGIS, place-name query
    """
    level = max(10, 30 - 10 * (verbose - quiet))
    fmt = "%(levelname)s %(name)s: %(message)s" if verbose > quiet else "%(levelname)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    logging.getLogger("pyogrio").setLevel(max(level, logging.WARNING))
    warnings.showwarning = _show_warning


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """A library's warning as one log line, without the library's file path and source line (-vv adds them)."""
    del file, line
    logger = logging.getLogger("gisplan")
    if logger.isEnabledFor(logging.DEBUG):
        logger.warning("%s (%s, %s:%d)", message, category.__name__, filename, lineno)
    else:
        logger.warning("%s", message)


for _command in (layers, types, run, coverage_command, propose_command, map_command, report_command, export_command,
                 roads,
                 boundaries, divisions, history_command, undo_command, revert_command, places,
                 init_command, batch_command, db, serve_command):
    cli.add_command(_command)
use_help_context(cli)
install_click_catalogue()


def main() -> None:
    """Entry point of the `gisplan` command."""
    cli(prog_name="gisplan")

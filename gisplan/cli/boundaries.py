"""`gisplan boundaries`: topology check and reviewed repair, boundary lines, markers (界桩) and joint inspections."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click
import geopandas as gpd
import pandas as pd

from gisplan.cli.options import format_table, workspace_option
from gisplan.crs import parse_crs, to_storage_crs
from gisplan.errors import Problem, SchemaError
from gisplan.i18n import _
from gisplan.io.atomic import write_atomic_csv
from gisplan.io.export import write_xlsx
from gisplan.io.tables import read_table
from gisplan.vocab import MarkerState, TopologyCheck
from gisplan.workflows.boundaries import (
    MARKERS_LAYER,
    Inspection,
    apply_repair,
    check_workspace,
    derive_lines,
    inspection_sheet,
    propose_repair,
    record_inspection,
    write_markers,
)

if TYPE_CHECKING:
    from gisplan.store import Workspace

logger = logging.getLogger("gisplan")

_LABELS = {
    TopologyCheck.INVALID_RING: "无效边界 invalid ring", TopologyCheck.OVERLAP: "重叠 overlap",
    TopologyCheck.GAP: "缝隙 gap", TopologyCheck.SLIVER: "碎片 sliver",
    TopologyCheck.OUTLINE_GAP: "区界内空白 outline gap", TopologyCheck.OUTSIDE_OUTLINE: "超出区界 outside outline",
    TopologyCheck.EDGE_MISMATCH: "边界不重合 edge mismatch", TopologyCheck.MALFORMED_CODE: "代码格式 malformed code",
    TopologyCheck.DUPLICATE_CODE: "代码重复 duplicate code", TopologyCheck.UNKNOWN_CODE: "代码未知 unknown code",
    TopologyCheck.NAME_MISMATCH: "名称不符 name mismatch", TopologyCheck.PARENT_MISMATCH: "隶属不符 parent mismatch",
    TopologyCheck.MARKER_OFF_LINE: "界桩偏离界线 marker off line",
}


@click.group()
def boundaries() -> None:
    """界线与拓扑：boundary topology checks, boundary lines, markers (界桩) and joint inspections (联检).

    \b
    Examples:
      gisplan boundaries check -w yc.gpkg                      # townships against each other and the district
      gisplan boundaries check -w yc.gpkg --repair             # write townships_repair for review
      gisplan boundaries check -w yc.gpkg --apply              # put the reviewed repair in place
      gisplan boundaries lines -w yc.gpkg --neighbours chongqing_districts_gcj02.geojson \\
          yongchuan_sichuan_neighbours_gcj02.geojson
      gisplan boundaries markers -w yc.gpkg --import layers/yongchuan_boundary_markers_illustrative.csv
      gisplan boundaries inspect -w yc.gpkg 500118-510521-01 --date 2024-05-20 --inspectors 张三,李四 --state 完好
      gisplan boundaries inspect -w yc.gpkg --sheet 联检表.xlsx
    """


def _summary(report_problems: gpd.GeoDataFrame, totals: dict[str, float]) -> str:
    grouped = report_problems.groupby("check", sort=False)
    rows = []
    for check in TopologyCheck:
        part = grouped.get_group(check.value) if check.value in grouped.groups else report_problems.iloc[:0]
        if not len(part):
            continue
        area = part["area_km2"].sum()
        top = part.sort_values("area_km2", ascending=False, na_position="last").head(3)
        rows.append({"检查 check": _LABELS[check], "问题数 count": len(part),
                     "面积 km²": round(float(area), 3) if area > 0 else None,
                     "最大的 largest": "；".join(
                         f"{n}" + (f" {a:.2f} km²" if a == a else "") for n, a in zip(  # noqa: PLR0124 - NaN test
                             top["names"], top["area_km2"], strict=True))})
    lines = [format_table(pd.DataFrame(rows))] if rows else ["没有发现问题 no problems found."]
    labels = {"overlap_km2": "重叠合计 overlaps", "gap_km2": "单元间缝隙 gaps between units",
              "outline_gap_km2": "区界内不属于任何单元 outline area in no unit",
              "outside_outline_km2": "单元超出区界 unit area outside the outline",
              "units_km2": "单元面积合计 units' area", "outline_km2": "区界面积 outline area",
              "edge_mismatch_km": "不重合边界 mismatched edges (km)"}
    lines.append("")
    lines += [f"{labels[k]}: {v:,.2f}" + ("" if k.endswith("_km") else " km²") for k, v in totals.items()]
    return "\n".join(lines)


@boundaries.command("check")
@click.option("--layer", type=click.Choice(["townships", "villages"]), default="townships", show_default=True,
              help="Division layer to check (townships against the district, villages against the townships).")
@click.option("--crs", help="Projected planning CRS for areas (default: the data's UTM zone, e.g. EPSG:32648).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the problems to a file (.gpkg, .geojson or .csv).")
@click.option("--min-area-m2", default=100.0, show_default=True, type=click.FloatRange(min=0),
              help="List gaps and overlaps from this area (smaller ones only count in the totals).")
@click.option("--sliver-width-m", default=20.0, show_default=True, type=click.FloatRange(min=0),
              help="Gaps and overlaps thinner than this are slivers.")
@click.option("--outline-tolerance-m2", default=10_000.0, show_default=True, type=click.FloatRange(min=0),
              help="List pieces against the outline from this area.")
@click.option("--repair", is_flag=True, help="Write <layer>_repair (coverage_clean) for review; the layer is kept.")
@click.option("--gap-width-m", default=200.0, show_default=True, type=click.FloatRange(min=0),
              help="With --repair: gaps narrower than this are closed.")
@click.option("--apply", "apply_", is_flag=True, help="Replace the layer with its reviewed <layer>_repair.")
@click.option("--note", default="", help="Why (recorded in the change log with --apply).")
@workspace_option
def check_command(
    layer: str, crs: str | None, out: Path | None, min_area_m2: float, sliver_width_m: float,
    outline_tolerance_m2: float, repair: bool, gap_width_m: float, apply_: bool, note: str, workspace: Workspace,
) -> None:
    """拓扑检查：check township (or village) polygons and store the problems as layer `boundary_problems`.

    Finds invalid rings, overlaps and gaps between units (areas in km², the units involved), slivers, the
    union against the district outline, code problems, parents that disagree with the geometry and markers
    far from their line. --repair writes a repaired copy (shapely coverage_clean) to review in QGIS;
    --apply puts it in place.

    \b
    Examples:
      gisplan boundaries check -w yc.gpkg --crs EPSG:32648
      gisplan boundaries check -w yc.gpkg --out problems.gpkg
      gisplan boundaries check -w yc.gpkg --repair --gap-width-m 200
      gisplan boundaries check -w yc.gpkg --apply --note "已核对 2024-06"
    """
    if apply_:
        revision = apply_repair(workspace, layer=layer, note=note)
        click.echo(_("`{layer}` replaced by its reviewed repair (revision {revision}).").format(
            layer=layer, revision=revision))
    report = check_workspace(workspace, layer=layer, crs=crs, min_area_m2=min_area_m2, sliver_width_m=sliver_width_m,
                             outline_tolerance_m2=outline_tolerance_m2)
    click.echo(_("拓扑检查 topology of `{layer}` in {workspace}:").format(
        layer=layer, workspace=workspace.label) + "\n")
    click.echo(_summary(report.problems, dict(report.totals)))
    click.echo("\n" + _("problems layer: `boundary_problems` ({n} rows; open it in QGIS)").format(
        n=len(report.problems)))
    if out is not None:
        frame = workspace.read_layer("boundary_problems")  # as stored: EPSG:4326, with lon/lat of each problem
        if out.suffix.lower() == ".csv":
            flat = pd.DataFrame(frame.drop(columns="geometry"))
            flat["wkt"] = frame.geometry.to_wkt()
            write_atomic_csv(flat, out)
        else:
            frame.to_file(out)
        click.echo(_("written: {path}").format(path=out))
    if repair:
        name, fixed = propose_repair(workspace, layer=layer, crs=crs, gap_width_m=gap_width_m)
        changed = fixed.assign(change=fixed["area_km2_after"] - fixed["area_km2_before"])
        changed = changed[changed["change"].abs() > 0.001].sort_values("change")
        click.echo("\n" + _("修复草案 repair draft written as `{name}`; units whose area changes by more than "
                             "0.001 km²:").format(name=name))
        shown = pd.DataFrame(changed[["code12", "name", "area_km2_before", "area_km2_after"]]).round(3)
        click.echo(format_table(shown))
        click.echo("\n" + _("Review `{name}`, then: {command}").format(
            name=name, command=f"gisplan boundaries check -w {workspace.label} --layer {layer} --apply"))


@boundaries.command("lines")
@click.option("--neighbours", "neighbour_files", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Polygons of the neighbouring divisions (code12, name); repeat or list several.")
@click.argument("more_files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--neighbours-crs", help="CRS of the neighbour files (default: gcj02 when the name says _gcj02, "
              "else the file's own).")
@click.option("--crs", help="Projected planning CRS for lengths (default: the data's UTM zone).")
@click.option("--tolerance-m", default=200.0, show_default=True, type=click.FloatRange(min=0),
              help="How far the neighbour's boundary may lie from the outline and still be shared.")
@workspace_option
def lines_command(neighbour_files: tuple[Path, ...], more_files: tuple[Path, ...], neighbours_crs: str | None,
                  crs: str | None, tolerance_m: float, workspace: Workspace) -> None:
    """界线：derive the district's boundary lines from its outline and the neighbours' polygons.

    Each line gets its two sides, its level (省级 when the neighbour is in another province, else 县级) and
    its length in km; they are stored as layer `boundary_lines`.

    \b
    Example:
      gisplan boundaries lines -w yc.gpkg \\
          --neighbours ../shared/data/boundaries/chongqing_districts_gcj02.geojson \\
          ../shared/data/boundaries/yongchuan_sichuan_neighbours_gcj02.geojson
    """
    lines = derive_lines(workspace, [*neighbour_files, *more_files], crs=crs, neighbours_crs=neighbours_crs,
                         tolerance_m=tolerance_m)
    shown = pd.DataFrame(lines.drop(columns="geometry")).rename(columns={
        "line_id": "界线 line", "side_a_name": "甲方", "side_b_name": "乙方", "level": "级别", "length_km": "长度 km",
        "parts": "段数"})
    click.echo(format_table(shown[["界线 line", "甲方", "乙方", "级别", "长度 km", "段数"]]))
    counts = lines["level"].value_counts()
    click.echo(f"\n{len(lines)} 条界线 lines: " + "，".join(f"{k} {v} 条" for k, v in counts.items())
               + f"；合计 {lines['length_km'].sum():.1f} km")


def _read_markers(path: Path, crs: str) -> gpd.GeoDataFrame:
    raw = read_table(path, known_headers={"marker_no", "marker_type", "line_id", "lon", "lat", "side_a_name",
                                          "side_b_name", "state", "illustrative", "note"})
    frame = raw.frame
    missing = [c for c in ("marker_no", "line_id", "lon", "lat") if c not in frame]
    if missing:
        raise SchemaError([Problem(path.name, None, missing[0], _("missing column(s) {missing}.").format(
                missing=', '.join(missing)),
                                   "give marker_no, marker_type, line_id, lon, lat.")])
    lon = pd.to_numeric(frame["lon"], errors="coerce")
    lat = pd.to_numeric(frame["lat"], errors="coerce")
    bad = lon.isna() | lat.isna()
    if bad.any():
        raise SchemaError([Problem(path.name, int(raw.rows[i]), "lon", "经纬度不是数字",
                                   "fill in lon and lat in degrees.") for i in range(len(frame)) if bad.iloc[i]])
    gdf = gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(lon, lat))
    gdf = to_storage_crs(gdf, parse_crs(crs), source=path.name)
    for col, default in (("marker_type", "单立"), ("side_a_name", ""), ("side_b_name", ""),
                         ("state", MarkerState.GOOD.value), ("note", "")):
        if col not in gdf:
            gdf[col] = default
    gdf["illustrative"] = gdf["illustrative"].astype(str).str.lower().isin({"true", "1"}) if "illustrative" in gdf \
        else False
    return gdf


@boundaries.command("markers")
@click.option("--import", "import_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV/XLSX of markers: marker_no, marker_type, line_id, lon, lat (replaces the markers layer).")
@click.option("--crs", default="EPSG:4490", show_default=True,
              help="CRS of lon/lat in the file (4490 CGCS2000, 4326 WGS84, gcj02).")
@workspace_option
def markers_command(import_file: Path | None, crs: str, workspace: Workspace) -> None:
    """界桩：import the boundary markers of the lines, or list them with their coordinates.

    \b
    Examples:
      gisplan boundaries markers -w yc.gpkg --import 界桩.csv --crs 4490
      gisplan boundaries markers -w yc.gpkg
    """
    if import_file is not None:
        gdf = _read_markers(import_file, crs)
        flagged = bool(gdf["illustrative"].any())
        label = "; 示意 illustrative (generated positions)" if flagged else ""
        write_markers(workspace, gdf, illustrative=flagged, note=f"from {import_file.name}{label}")
        click.echo(_("{n} markers imported into `{layer}`").format(n=len(gdf), layer=MARKERS_LAYER)
                   + (_(" (示意 illustrative)") if flagged else ""))
    sheet = inspection_sheet(workspace)
    click.echo(format_table(sheet.iloc[:, :11]))


@boundaries.command("inspect")
@click.argument("marker_no", required=False)
@click.option("--date", help="Inspection date, YYYY-MM-DD.")
@click.option("--inspectors", default="", help="Inspectors, e.g. 张三,李四 (both sides).")
@click.option("--state", type=click.Choice([s.value for s in MarkerState]), help="What was found.")
@click.option("--remarks", default="", help="Remarks.")
@click.option("--photo", "photos", multiple=True, help="Photo path (repeat).")
@click.option("--sheet", type=click.Path(dir_okay=False, path_type=Path), help="Export the 联检表 (XLSX).")
@workspace_option
def inspect_command(marker_no: str | None, date: str | None, inspectors: str, state: str | None, remarks: str,
                    photos: tuple[str, ...], sheet: Path | None, workspace: Workspace) -> None:
    """联检：record what a joint inspection found at a marker, and export the joint-inspection sheet.

    \b
    Examples:
      gisplan boundaries inspect -w yc.gpkg 500118-510521-01 --date 2024-05-20 \\
          --inspectors "张三,李四" --state 倾斜 --remarks "桩体倾斜约10°" --photo photos/01.jpg
      gisplan boundaries inspect -w yc.gpkg --sheet 联检表.xlsx
    """
    if marker_no is not None:
        if not date or not state:
            msg = _("recording an inspection needs --date and --state.")
            raise click.UsageError(msg)
        revision = record_inspection(workspace, [Inspection(marker_no, date, inspectors, state, remarks,
                                                            "；".join(photos))])
        click.echo(_("inspection of {marker} recorded (revision {revision}).").format(
            marker=marker_no, revision=revision))
    if sheet is not None:
        table = inspection_sheet(workspace)
        notes = ["界桩位置为示意（generated, not surveyed）。"] if (table["说明 note"] != "").any() else []
        write_xlsx({"联检表": table}, sheet, notes=notes)
        click.echo(_("written: {path}").format(path=sheet))
    elif marker_no is None:
        msg = _("give a MARKER_NO to record an inspection, or --sheet FILE.xlsx to export the 联检表.")
        raise click.UsageError(msg)

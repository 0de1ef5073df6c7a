"""`gisplan coverage`: 15-minute network coverage for a scenario, or an ad-hoc service-area question."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from gisplan import settings
from gisplan.analysis.coverage import METHOD_LABELS, TypeTarget, measure_coverage
from gisplan.analysis.demand import WEIGHTS, demand_from_points
from gisplan.catalogue import normalise_header
from gisplan.cli.options import (
    WORKSPACE,
    catalogue_for,
    catalogue_option,
    format_table,
    import_scenario,
    report_problems,
)
from gisplan.cli.progressbar import close, progress_sink
from gisplan.cli.timing import Stopwatch
from gisplan.config import load_scenario
from gisplan.crs import STORAGE_CRS, parse_crs, to_storage_crs
from gisplan.errors import ConfigError, Problem, SchemaError
from gisplan.i18n import _
from gisplan.io.atomic import write_atomic_csv, write_atomic_gpkg, write_atomic_parquet
from gisplan.io.osm import is_osm_file, read_osm_roads
from gisplan.io.spatial import read_spatial
from gisplan.io.tables import LAT_HEADERS, LON_HEADERS, TABLE_SUFFIXES, read_table
from gisplan.network.graph import build_network
from gisplan.outputs.coverage import write_coverage
from gisplan.outputs.people import for_people
from gisplan.store import open_workspace
from gisplan.vocab import CoverageMethod
from gisplan.workflows.coverage import coverage_for_scenario
from gisplan.workflows.workspace import with_minutes, workspace_scenario

if TYPE_CHECKING:
    from pyproj import CRS

    from gisplan.analysis.coverage import CoverageResult
    from gisplan.config import Scenario
    from gisplan.crs import DeclaredCRS
    from gisplan.store import Workspace

__all__ = ["coverage_command", "read_points"]

logger = logging.getLogger("gisplan")

#: above this many demand points `--geo-format auto` writes GeoParquet, not a GeoPackage: at a million points the
#: GeoPackage (its R-tree above all) took 10 s of CPU, the GeoParquet file 1.6 s; and demand_minutes.csv is
#: written only when asked (--csv): the GeoParquet file holds the same columns, and a 1M-row CSV (2 s of CPU)
#: is more than a spreadsheet opens
AUTO_GPKG_MAX_POINTS = 250_000

_IDS = ("demand_id", "facility_id", "id", "编号", "name", "名称")

_EPILOG = """\b
Examples:
  # a scenario: imports its layers, then writes per-demand minutes and per-unit tables
  gisplan coverage scenarios/yongchuan-2025.toml --out out/yongchuan
\b
  # a workspace whose layers were imported with `gisplan layers import`, no scenario file:
  gisplan coverage -w yc.gpkg --type elderly_day_care --minutes 10 --out out/yc
\b
  # an ad-hoc service-area question (like ArcGIS Service Area), no scenario:
  gisplan coverage --roads roads.gpkg --facilities 养老站.csv --demand 小区.csv \\
      --crs gcj02 --profile elderly_walk --minutes 15 --out out/adhoc
\b
Ad-hoc inputs: CSV/XLSX with lon/lat (经度/纬度) columns, or any vector file (.gpkg/.shp/.geojson/
.parquet); roads may also be an OSM file (.osm/.osm.bz2/.osm.pbf). --crs tells the coordinate
system of all three when their files do not (or, for 高德 data labelled EPSG:4326, say gcj02).
Output: OUT/demand_minutes.csv (demand_id, nearest_facility_id, minutes, covered; minutes empty
when no facility is reached within the cutoff) and, with the points, OUT/demand_minutes.gpkg, up to
250,000 demand points. Above that, by default, only OUT/demand_minutes.parquet (GeoParquet: the same
columns, the points, access_m and reached_road); --csv adds the CSV, --geo-format chooses the file
with the points (gpkg, parquet, or none, which always writes the CSV).
With -v (gisplan -v coverage …) every stage is timed, start-up, reading and writing included, and
the stages add up to the wall time.
\b
  # a million demand points: GeoParquet only (the default at this size), and the timing of every stage
  gisplan -v coverage --roads roads.parquet --facilities fac.csv --demand dem.csv --crs gcj02 \\
      --out out/adhoc
\b
  # the same with the CSV as well, and a GeoPackage instead of GeoParquet
  gisplan coverage --roads roads.parquet --facilities fac.csv --demand dem.csv --crs gcj02 \\
      --csv --geo-format gpkg --out out/adhoc
"""


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    """The first of `columns` whose header (normalised) is one of `names`, in the order of `names`."""
    by_header: dict[str, str] = {}
    for column in columns:
        by_header.setdefault(normalise_header(str(column)), str(column))
    return next((by_header[n] for n in names if n in by_header), None)


def read_points(path: Path, declared: DeclaredCRS | None, *, role: str) -> gpd.GeoDataFrame:
    """Read an ad-hoc point file (a table with lon/lat columns, or a vector file) into EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        With an ``id`` column (the file's id/name column, else the row number) and the file's others.

    Raises
    ------
    SchemaError
        Naming the file, row and column that is wrong.
    """
    if not path.exists():
        raise SchemaError([Problem(str(path), None, None, "the file does not exist.", "check the path.")])
    if path.suffix.lower() in TABLE_SUFFIXES:
        raw = read_table(path, known_headers=set(LON_HEADERS + LAT_HEADERS + _IDS))
        frame = raw.frame
        lon, lat = _pick(list(frame.columns), LON_HEADERS), _pick(list(frame.columns), LAT_HEADERS)
        if lon is None or lat is None:
            msg = _("no longitude/latitude columns (found: {columns}).").format(
                columns=", ".join(map(str, frame.columns)))
            fix = _("name them lon and lat (or 经度 and 纬度).")
            raise SchemaError([Problem(raw.source, None, None, msg, fix)])
        x, y = _numbers(frame[lon]), _numbers(frame[lat])
        bad = (x.isna() | y.isna()).to_numpy()
        if bad.any():
            problems = [Problem(raw.source, int(raw.rows[i]), lon if pd.isna(x.iloc[i]) else lat,
                                _("not a number ({lon!r}, {lat!r})").format(
                                    lon=frame[lon].iloc[i], lat=frame[lat].iloc[i]),
                                "give decimal degrees, e.g. 105.927, 29.356.")
                        for i in np.flatnonzero(bad)[:20]]
            raise SchemaError(problems)
        if declared is None:
            msg = _("a table's coordinates need --crs (EPSG:4326 for GPS, gcj02 for 高德/腾讯, bd09 for 百度).")
            raise SchemaError([Problem(raw.source, None, None, msg, "add --crs.")])
        gdf = gpd.GeoDataFrame(frame, geometry=shapely.points(x.to_numpy(), y.to_numpy()), crs=None)
        gdf["_row"] = raw.rows
        source = raw.source
    else:
        gdf = read_spatial(path)
        source = path.name
    gdf = to_storage_crs(gdf, declared, source=source)
    if len(gdf) == 0:
        raise SchemaError([Problem(source, None, None, _("the {role} file has no rows.").format(
                role=role), "check the file.")])
    kinds = set(gdf.geom_type.dropna().unique())  # not set(Series): that iterates a million Arrow strings
    if not kinds <= {"Point", "MultiPoint", "Polygon", "MultiPolygon"}:
        msg = _("the {role} must be points or polygons (got {kinds}).").format(
                role=role, kinds=', '.join(sorted(kinds)))
        raise SchemaError([Problem(source, None, "geometry", msg, "give point locations.")])
    empty = gdf.geometry.is_empty.to_numpy() | gdf.geometry.isna().to_numpy()
    if empty.any():
        rows = gdf["_row"].to_numpy()[empty] if "_row" in gdf else np.flatnonzero(empty) + 1
        raise SchemaError([Problem(source, int(r), "geometry", "empty geometry", "give the location.")
                           for r in rows[:20]])
    if kinds - {"Point"}:
        gdf = gdf.set_geometry(gdf.geometry.representative_point())
    column = _pick([str(c) for c in gdf.columns], _IDS)
    ids = _id_text(gdf[column]) if column else pd.Series(np.arange(1, len(gdf) + 1).astype(str), index=gdf.index)
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        rows = gdf["_row"].to_numpy()[dup] if "_row" in gdf else np.flatnonzero(dup) + 1
        raise SchemaError([Problem(source, int(r), column, _("duplicate id {value!r}").format(
                value=i), "give every row its own id.")
                           for r, i in list(zip(rows, ids.to_numpy()[dup], strict=True))[:20]])
    gdf["id"] = ids.to_numpy(dtype=object)
    return gdf.drop(columns=["_row"], errors="ignore")


def _numbers(values: pd.Series) -> pd.Series:
    """A column of number text as floats, NaN where a cell is no number: Arrow's cast when every cell parses
    (10x faster than pandas on a million cells), else ``pd.to_numeric``, which tolerates what Arrow does not."""
    try:
        text = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        return pd.Series(pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False), index=values.index)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.to_numeric(values, errors="coerce")


def _id_text(values: pd.Series) -> pd.Series:
    """Ids as text: numpy converts a column without gaps at once (pandas would go cell by cell through Arrow)."""
    if values.notna().all():
        text = values.to_numpy(dtype=object)
        if pd.api.types.infer_dtype(text, skipna=False) != "string":  # already all text (a CSV's ids): as they are
            text = text.astype(str).astype(object)
        return pd.Series(text, index=values.index, dtype=object)
    return values.astype(str)


def _demand_layer(dem: gpd.GeoDataFrame, crs: CRS, source: str) -> gpd.GeoDataFrame:
    """The ad-hoc demand points as demand, from only the columns demand_from_points reads (a copy of every
    column of a million rows costs about a second)."""
    given = {c: dem[c].to_numpy() for c in (*WEIGHTS, "code12") if c in dem}
    slim = gpd.GeoDataFrame({"demand_id": dem["id"].to_numpy(dtype=object), **given},
                            geometry=dem.geometry.to_numpy(), crs=dem.crs)
    return demand_from_points(slim, crs=crs, source=source)


def _read_roads(path: Path, declared: DeclaredCRS | None) -> gpd.GeoDataFrame:
    if not path.exists():
        raise SchemaError([Problem(str(path), None, None, "the file does not exist.", "check the path.")])
    if is_osm_file(path):
        return read_osm_roads(path)
    return to_storage_crs(read_spatial(path), declared, source=path.name)  # `_row`: the rows messages name


def _adhoc(
    roads: Path, facilities: Path, demand: Path, crs: str | None, profile_id: str, minutes: float,
    max_snap_m: float, out: Path, catalogue_files: tuple[Path, ...], geo_format: str, csv: bool | None,
) -> None:
    clock = Stopwatch()
    declared = parse_crs(crs) if crs else None
    cat = catalogue_for(None, catalogue_files)
    if profile_id not in cat.profiles:
        msg = _("`--profile` must be one of {choices} (got {value!r}).").format(
            choices=", ".join(sorted(cat.profiles)), value=profile_id)
        raise ConfigError(msg)
    profile = cat.profiles[profile_id]
    try:
        fac = read_points(facilities, declared, role="facilities")
        clock.lap("read facilities")
        dem = read_points(demand, declared, role="demand")
        clock.lap("read demand")
        road_layer = _read_roads(roads, declared)
        clock.lap("read roads")
    except SchemaError as exc:
        report_problems(exc)
    planning = dem.estimate_utm_crs()
    network = build_network(road_layer, crs=planning)
    click.echo(_("roads: {summary}").format(summary=network.report.summary()), err=True)
    clock.lap("build network")
    demand_pts = _demand_layer(dem, planning, demand.name)
    target = TypeTarget("facilities", facilities.stem, fac.assign(facility_id=fac["id"]), profile, minutes)
    clock.lap("demand points")
    result = measure_coverage(demand_pts, [target], network=network, bands_minutes=(minutes,),
                              max_snap_m=max_snap_m, polygons=False)
    clock.lap("coverage", result.seconds)
    d = result.demand
    n = len(d)
    table = pd.DataFrame({
        "demand_id": d["demand_id"].to_numpy(),
        "nearest_facility_id": d["facility_facilities"].to_numpy(),
        "minutes": np.round(d["minutes_facilities"].to_numpy(dtype=float), 6),
        "covered": d["covered_facilities"].to_numpy(dtype=bool),
    })
    written = _write_adhoc(table, d, dem, out, geo_format=geo_format, csv=csv, clock=clock)
    covered = int(table["covered"].sum())
    off = int((~d["snapped"]).sum())
    click.echo(_("{n:,} demand points: {covered:,} ({share:.1%}) reach a facility within {minutes:g} min "
                 "({profile_zh} {profile}, {speed:g} m/min); {off:,} are farther than {snap:g} m from any usable "
                 "road (unreachable). {seconds:.1f} s").format(
        n=n, covered=covered, share=covered / n, minutes=minutes, profile_zh=profile.name_zh, profile=profile.id,
        speed=profile.speed_m_per_min, off=off, snap=max_snap_m, seconds=clock.wall_s))
    for path in written:
        click.echo(os.path.normpath(path))
    logger.info(clock.summary())


def _write_adhoc(
    table: pd.DataFrame, d: gpd.GeoDataFrame, dem: gpd.GeoDataFrame, out: Path, *, geo_format: str,
    csv: bool | None, clock: Stopwatch,
) -> list[Path]:
    """Write the ad-hoc per-point results (see AUTO_GPKG_MAX_POINTS for what is written by default)."""
    n = len(table)
    written: list[Path] = []
    if geo_format == "auto":
        geo_format = "gpkg" if n <= AUTO_GPKG_MAX_POINTS else "parquet"
    if csv or (csv is None and n <= AUTO_GPKG_MAX_POINTS) or geo_format == "none":
        written.append(out / "demand_minutes.csv")
        write_atomic_csv(for_people(table, type_names={}), written[-1])
        clock.lap("write csv")
    if geo_format != "none":
        same = len(dem) == n and np.array_equal(dem["id"].to_numpy(dtype=object), table["demand_id"].to_numpy())
        points = dem.geometry.to_numpy() if same else d.geometry.to_crs(STORAGE_CRS).to_numpy()  # as they were read
        geo = gpd.GeoDataFrame(table.assign(access_m=np.round(d["access_m"].to_numpy(dtype=float), 3),
                                            reached_road=d["snapped"].to_numpy(dtype=bool)),
                               geometry=points, crs=STORAGE_CRS)
        if geo_format == "parquet":
            written.append(out / "demand_minutes.parquet")
            write_atomic_parquet(geo, written[-1])
        else:
            written.append(out / "demand_minutes.gpkg")
            write_atomic_gpkg({"demand_minutes": geo}, written[-1])
        clock.lap(f"write {geo_format}")
    return written


def _print_result(result: CoverageResult, *, illustrative: bool, names: dict[str, str]) -> None:
    units = result.units
    if result.network is not None:
        click.echo(_("roads: {summary}").format(summary=result.network.summary()))
    click.echo(_("method: {method}").format(method=METHOD_LABELS[result.method]))
    rows = units[units["level"] == "district"]
    if rows.empty:
        click.echo(_("no facility type with network coverage has facilities in this workspace."))
        return
    shown = pd.DataFrame({
        "设施类型 type": rows["facility_type"],
        "名称": rows["facility_type"].map(names),
        "阈值 threshold": rows["threshold"].map(lambda v: f"{v:g}") + " " + rows["threshold_unit"],
        "人口 population %": (100 * rows["population_share"]).round(1),
        "户 households %": (100 * rows["households_share"]).round(1),
        "60+ %": (100 * rows["pop_60plus_share"]).round(1) if "pop_60plus_share" in rows else np.nan,
    })
    click.echo("\n" + format_table(shown))
    unreachable = float(rows["population_unreachable"].iloc[0]) if len(rows) else 0.0
    total = float(rows["population"].iloc[0]) if len(rows) else 0.0
    if unreachable > 0:
        click.echo("\n" + _("{unreachable:,.0f} of {total:,.0f} residents live farther from any road than the "
                            "snapping distance: they count as not covered (never dropped).").format(
                                unreachable=unreachable, total=total))
    off = result.facilities[result.facilities["unsnapped"] > 0]
    for row in off.itertuples():
        click.echo(_("{type}: {unsnapped} of {given} facilities are farther from any road than the snapping "
                     "distance and serve no one in this measure.").format(
                         type=row.facility_type, unsnapped=row.unsnapped, given=row.given))
    if illustrative:
        click.echo("\n" + _("示意 — computed from illustrative (generated) layers: the figures show how the tool "
                            "works, not the district's real coverage."))


@click.command("coverage", epilog=_EPILOG)
@click.argument("scenario", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-w", "--workspace", type=WORKSPACE, help="Workspace GeoPackage (default: the scenario's `workspace`).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (scenario default: beside the workspace, <workspace>_coverage).")
@click.option("--type", "types", multiple=True, help="Facility type id to measure (repeat); default: every "
              "type with network coverage.")
@click.option("--method", type=click.Choice([m.value for m in CoverageMethod]), default=None,
              help="Override the scenario's method (straight_line = 直线服务半径, labelled as such).")
@click.option("--no-polygons", is_flag=True, help="Skip the display polygons (faster).")
@click.option("--roads", type=click.Path(dir_okay=False, path_type=Path), help="Ad hoc: road line layer or OSM file.")
@click.option("--facilities", type=click.Path(dir_okay=False, path_type=Path), help="Ad hoc: facility points.")
@click.option("--demand", type=click.Path(dir_okay=False, path_type=Path), help="Ad hoc: demand points.")
@click.option("--crs", help="Ad hoc: CRS of inputs that do not say, or gcj02/bd09.")
@click.option("--profile", "profile_id", default="walk", show_default=True, help="Ad hoc: travel profile.")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True, max=240),
              help="The time threshold in minutes: with a scenario or -w, of the --type types (default: each type's "
                   "own in the catalogue); ad hoc: of the question (default: 15).")
@click.option("--max-snap-m", type=click.FloatRange(min=0, min_open=True, max=100_000), default=settings.MAX_SNAP_M,
              show_default=True, help="Ad hoc: demand farther than this from a road is unreachable.")
@click.option("--geo-format", type=click.Choice(["auto", "gpkg", "parquet", "none"]), default="auto",
              show_default=True, help="Ad hoc: the per-point file beside demand_minutes.csv: a GeoPackage, GeoParquet "
              f"(smaller and faster for millions of points; QGIS 3.32+ opens it) or none; auto: a GeoPackage up to "
              f"{AUTO_GPKG_MAX_POINTS:,} demand points, GeoParquet above.")
@click.option("--csv/--no-csv", "csv", default=None, help="Ad hoc: write demand_minutes.csv (default: up to "
              f"{AUTO_GPKG_MAX_POINTS:,} demand points; above, the GeoParquet file holds the same columns; with "
              "--geo-format none always).")
@catalogue_option
def coverage_command(
    scenario: Path | None, workspace: Workspace | None, out: Path | None, types: tuple[str, ...], method: str | None,
    no_polygons: bool, roads: Path | None, facilities: Path | None, demand: Path | None, crs: str | None,
    profile_id: str, minutes: float, max_snap_m: float, geo_format: str, csv: bool | None,
    catalogue_files: tuple[Path, ...],
) -> None:
    """Measure network coverage: minutes from every resident to the nearest facility of each type.

    With SCENARIO: import its layers, then write per-demand minutes and per-district/township/village
    tables (at each type's threshold and 5/10/15/20 min) to CSV and GeoPackage, and into the workspace.
    With only -w WORKSPACE: the same on the layers already imported there (no scenario file; defaults from
    the catalogue, --type and --minutes to choose). Otherwise: answer one service-area question from
    --roads, --facilities and --demand.
    """
    adhoc = [roads, facilities, demand]
    if scenario is None and workspace is not None and all(a is None for a in adhoc):
        sc = workspace_scenario(workspace, catalogue_for(None, catalogue_files))
        _scenario_coverage(sc, workspace, out, types, method, no_polygons, minutes, catalogue_files)
        return
    if scenario is None:
        if any(a is None for a in adhoc) or out is None:
            msg = _("give a SCENARIO, or -w WORKSPACE, or all of --roads, --facilities, --demand and --out for an "
                    "ad-hoc question.")
            raise click.UsageError(msg)
        _adhoc(roads, facilities, demand, crs, profile_id, minutes or 15.0, max_snap_m, out,  # type: ignore[arg-type]
               catalogue_files, geo_format, csv)
        return
    if any(a is not None for a in adhoc):
        msg = _("--roads/--facilities/--demand are for the ad-hoc mode; with a SCENARIO, its layers are used.")
        raise click.UsageError(msg)
    sc = load_scenario(scenario)
    _scenario_coverage(sc, workspace, out, types, method, no_polygons, minutes, catalogue_files, imported=False)


def _scenario_coverage(
    sc: Scenario, workspace: Workspace | None, out: Path | None, types: tuple[str, ...], method: str | None,
    no_polygons: bool, minutes: float | None, catalogue_files: tuple[Path, ...], *, imported: bool = True,
) -> None:
    """Coverage of a scenario's workspace (its layers imported first unless `imported`), written and printed."""
    clock = Stopwatch()
    if method is not None:
        sc = replace(sc, coverage=replace(sc.coverage, method=CoverageMethod(method)))
    ws = workspace or open_workspace(sc.workspace)
    cat = catalogue_for(sc, catalogue_files)
    if not imported:
        import_scenario(sc, ws, cat)
    cat = with_minutes(cat, types or [t.id for t in cat.types.values()], minutes)
    clock.lap("import layers")
    show = progress_sink()
    result = coverage_for_scenario(ws, sc, cat, types=types or None, polygons=not no_polygons, progress=show)
    close(show)
    clock.lap("coverage (reading the workspace included)", result.seconds)
    illustrative = ws.illustrative()
    target = out or ws.derived_path("_coverage")
    files = write_coverage(result, out_dir=target, workspace=ws, illustrative=illustrative,
                           type_names={t.id: t.name_zh for t in cat.types.values()})
    clock.lap("write outputs and workspace")
    _print_result(result, illustrative=illustrative, names={t.id: t.name_zh for t in cat.types.values()})
    click.echo("\n" + _("{seconds:.1f} s; written:").format(seconds=clock.wall_s), err=True)
    for path in files:
        click.echo(os.path.normpath(path))
    click.echo(_("{workspace} (layers coverage_demand, coverage_units, coverage_areas)").format(
        workspace=os.path.normpath(ws.label)))
    logger.info(clock.summary())

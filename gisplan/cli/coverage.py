"""`gisplan coverage`: 15-minute network coverage for a scenario, or an ad-hoc service-area question."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import click
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj.exceptions import CRSError as PyprojCRSError

from gisplan import settings
from gisplan.analysis.adhoc import nearest_facility_minutes
from gisplan.catalogue import load_catalogue, normalise_header
from gisplan.cli.timing import Stopwatch
from gisplan.crs import STORAGE_CRS, parse_crs, storage_xy, to_storage_crs, transform_xy, utm_crs_of_lonlat
from gisplan.errors import ConfigError, CRSError, Problem, SchemaError
from gisplan.i18n import _
from gisplan.io.atomic import write_atomic_csv, write_atomic_gpkg
from gisplan.io.geoparquet import write_points_parquet
from gisplan.io.osm import is_osm_file, read_osm_roads
from gisplan.io.spatial import read_spatial
from gisplan.io.tables import LAT_HEADERS, LON_HEADERS, TABLE_SUFFIXES, read_text_columns
from gisplan.network.graph import CLASS_COLUMNS, DIRECTION_COLUMNS, build_network
from gisplan.vocab import CoverageMethod

# the scenario mode's modules (the workspace's coverage, its outputs, the scenario file, and gisplan.cli.options
# with the workspace store and the import workflows) are imported where that mode runs: an ad-hoc question needs
# none of them (0.3-0.4 s of CPU at start-up)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from numpy.typing import NDArray
    from pyproj import CRS

    from gisplan.analysis.adhoc import NearestMinutes
    from gisplan.analysis.coverage import CoverageResult
    from gisplan.config import Scenario
    from gisplan.crs import DeclaredCRS
    from gisplan.store import Workspace

__all__ = ["PointArrays", "coverage_command", "read_point_arrays", "read_points"]

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


class _WorkspaceArg(click.ParamType["Workspace"]):
    """``-w``, opened by :data:`gisplan.cli.options.WORKSPACE` (its messages, exit 2 on a URI gisplan cannot open),
    that module imported only when ``-w`` is given."""

    name = "workspace"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Workspace:
        """Open the workspace `value` names."""
        from gisplan.cli.options import WORKSPACE  # noqa: PLC0415 - see the note on the imports

        return WORKSPACE.convert(value, param, ctx)


# gisplan.cli.options.catalogue_option, the same option (that module is not imported for an ad-hoc question)
_catalogue_option = click.option(
    "--catalogue", "catalogue_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Extra facility-type catalogue TOML (adds or replaces types and profiles).",
)


def _problems(exc: SchemaError) -> None:
    from gisplan.cli.options import report_problems  # noqa: PLC0415 - see the note on the imports

    report_problems(exc)


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    """The first of `columns` whose header (normalised) is one of `names`, in the order of `names`."""
    by_header: dict[str, str] = {}
    for column in columns:
        by_header.setdefault(normalise_header(str(column)), str(column))
    return next((by_header[n] for n in names if n in by_header), None)


@dataclass(frozen=True, slots=True, eq=False)
class PointArrays:
    """Ad-hoc points as read: their ids and coordinates in the storage CRS (EPSG:4326), as arrays.

    Attributes
    ----------
    ids : pyarrow.StringArray
        The file's id/name column as text, else the row number.
    lon, lat : ndarray of float64
        Longitude and latitude (WGS84), GCJ-02/BD-09 converted.
    source : str
        The file (and sheet) for messages.
    columns : dict of str to pyarrow.StringArray, or None
        A table's columns as read (text, null where empty).
    layer : geopandas.GeoDataFrame or None
        A vector file as read (in the storage CRS, polygons as points inside them).
    """

    ids: pa.Array
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    source: str
    columns: Mapping[str, pa.Array] | None = None
    layer: gpd.GeoDataFrame | None = None

    def __len__(self) -> int:
        return len(self.lon)

    def geometry(self) -> NDArray[np.object_]:
        """The points as shapely geometries (a vector file's own, as read)."""
        if self.layer is not None:
            return np.asarray(self.layer.geometry.to_numpy())
        return np.asarray(shapely.points(self.lon, self.lat))

    def frame(self) -> gpd.GeoDataFrame:
        """A GeoDataFrame of the file's columns, the points and ``id``."""
        if self.layer is not None:
            gdf = self.layer.copy()
        else:
            table = pd.DataFrame({name: column.to_numpy(zero_copy_only=False)
                                  for name, column in (self.columns or {}).items()}, dtype=object)
            gdf = gpd.GeoDataFrame(table, geometry=self.geometry(), crs=STORAGE_CRS)
        gdf["id"] = self.ids.to_numpy(zero_copy_only=False).astype(object)
        return gdf.drop(columns=["_row"], errors="ignore")


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
    return read_point_arrays(path, declared, role=role).frame()


def read_point_arrays(path: Path, declared: DeclaredCRS | None, *, role: str) -> PointArrays:
    """Read an ad-hoc point file (a table with lon/lat columns, or a vector file) as arrays in EPSG:4326.

    A table's columns stay Arrow text and its coordinates numbers: a million rows are read without a
    Python string or a geometry per row.

    Raises
    ------
    SchemaError
        Naming the file, row and column that is wrong.
    """
    if not path.exists():
        raise SchemaError([Problem(str(path), None, None, "the file does not exist.", "check the path.")])
    if path.suffix.lower() not in TABLE_SUFFIXES:
        return _vector_points(path, declared, role=role)
    raw = read_text_columns(path, known_headers=set(LON_HEADERS + LAT_HEADERS + _IDS))
    names = list(raw.columns)
    lon, lat = _pick(names, LON_HEADERS), _pick(names, LAT_HEADERS)
    if lon is None or lat is None:
        msg = _("no longitude/latitude columns (found: {columns}).").format(columns=", ".join(names))
        fix = _("name them lon and lat (or 经度 and 纬度).")
        raise SchemaError([Problem(raw.source, None, None, msg, fix)])
    x, y = _numbers(raw.columns[lon]), _numbers(raw.columns[lat])
    bad = np.isnan(x) | np.isnan(y)
    if bad.any():
        problems = [Problem(raw.source, int(raw.rows[i]), lon if np.isnan(x[i]) else lat,
                            _("not a number ({lon!r}, {lat!r})").format(
                                lon=raw.columns[lon][int(i)].as_py(), lat=raw.columns[lat][int(i)].as_py()),
                            "give decimal degrees, e.g. 105.927, 29.356.")
                    for i in np.flatnonzero(bad)[:20]]
        raise SchemaError(problems)
    if declared is None:
        msg = _("a table's coordinates need --crs (EPSG:4326 for GPS, gcj02 for 高德/腾讯, bd09 for 百度).")
        raise SchemaError([Problem(raw.source, None, None, msg, "add --crs.")])
    lon_x, lat_y = storage_xy(x, y, declared)
    column = _pick(names, _IDS)
    ids = _arrow_ids(raw.columns[column]) if column else _row_numbers(len(x))
    if column:  # row numbers are distinct
        _refuse_duplicates(ids, raw.rows, raw.source, column)
    return PointArrays(ids, lon_x, lat_y, raw.source, columns=raw.columns)


def _vector_points(path: Path, declared: DeclaredCRS | None, *, role: str) -> PointArrays:
    """:func:`read_point_arrays` of a vector file: its points (polygons: a point inside each) as read."""
    source = path.name
    gdf = to_storage_crs(read_spatial(path), declared, source=source)
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
        rows = gdf["_row"].to_numpy()[empty]
        raise SchemaError([Problem(source, int(r), "geometry", "empty geometry", "give the location.")
                           for r in rows[:20]])
    if kinds - {"Point"}:
        gdf = gdf.set_geometry(gdf.geometry.representative_point())
    column = _pick([str(c) for c in gdf.columns], _IDS)
    ids = (pa.array(_id_text(gdf[column]).to_numpy(dtype=object), type=pa.string()) if column
           else _row_numbers(len(gdf)))
    rows = gdf["_row"].to_numpy()
    if column:  # row numbers are distinct
        _refuse_duplicates(ids, rows, source, column)
    xy = shapely.get_coordinates(gdf.geometry.to_numpy())
    return PointArrays(ids, xy[:, 0].copy(), xy[:, 1].copy(), source, layer=gdf)


def _row_numbers(n: int) -> pa.Array:
    return pa.array(np.arange(1, n + 1).astype(str), type=pa.string())


def _arrow_ids(values: pa.Array) -> pa.Array:
    """A table's id column as text: the cells as read (an empty cell reads 'None', as it always has)."""
    return values if values.null_count == 0 else pc.fill_null(values, "None")


def _refuse_duplicates(ids: pa.Array, rows: NDArray[np.int64], source: str, column: str | None) -> None:
    """Every id once: the first 20 rows holding an id that another row holds too, else nothing."""
    if _all_distinct(ids):
        return
    codes = np.asarray(pc.dictionary_encode(ids).indices.to_numpy(zero_copy_only=False))
    dup = np.bincount(codes)[codes] > 1
    if dup.any():
        where = np.flatnonzero(dup)[:20]
        raise SchemaError([Problem(source, int(rows[i]), column, _("duplicate id {value!r}").format(
                value=ids[int(i)].as_py()), "give every row its own id.") for i in where])


def _all_distinct(ids: pa.Array) -> bool:
    """Whether no id repeats: known at once when the ids ascend as text (codes of one width: a million in 5 ms, not
    the 0.2-0.3 s of a dictionary); else from the ids sorted, equal ones next to each other (a million ids
    numbered 1…N, which do not ascend as text: 0.06 s)."""
    if len(ids) < 2 or ids.null_count:
        return len(ids) < 2
    if pc.all(pc.less(ids[:-1], ids[1:])).as_py():
        return True
    ordered = ids.take(pc.sort_indices(ids))
    return not pc.any(pc.equal(ordered[:-1], ordered[1:])).as_py()


def _numbers(values: pa.Array) -> NDArray[np.float64]:
    """A column of number text as floats, NaN where a cell is no number: Arrow's cast when every cell parses
    (10x faster than pandas on a million cells), else ``pd.to_numeric``, which tolerates what Arrow does not."""
    try:
        return np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        text = pd.Series(values.to_numpy(zero_copy_only=False), dtype=object)
        return np.asarray(pd.to_numeric(text, errors="coerce"), dtype=float)


def _id_text(values: pd.Series) -> pd.Series:
    """Ids as text: numpy converts a column without gaps at once (pandas would go cell by cell through Arrow)."""
    if values.notna().all():
        text = values.to_numpy(dtype=object)
        if pd.api.types.infer_dtype(text, skipna=False) != "string":  # already all text (a CSV's ids): as they are
            text = text.astype(str).astype(object)
        return pd.Series(text, index=values.index, dtype=object)
    return values.astype(str)


def _read_roads(path: Path, declared: DeclaredCRS | None, planning: CRS) -> gpd.GeoDataFrame:
    """The road lines: a GeoParquet file straight into the planning CRS (numpy over its WKB, the same
    coordinates as the general path), any other file in the storage CRS (build_network projects them)."""
    if not path.exists():
        raise SchemaError([Problem(str(path), None, None, "the file does not exist.", "check the path.")])
    if is_osm_file(path):
        return read_osm_roads(path)
    if path.suffix.lower() in {".parquet", ".geoparquet"}:
        from gisplan.network.roadfile import read_road_parquet  # noqa: PLC0415 - only for GeoParquet roads

        system = (declared.chinese_system if declared else None) or "wgs84"
        source = declared.crs if declared is not None and declared.chinese_system is None else None
        try:
            return read_road_parquet(path, crs=planning, system=system, source_crs=source,
                                     columns=(*DIRECTION_COLUMNS, *CLASS_COLUMNS))
        except CRSError:  # its own messages (no CRS stated; GCJ-02 declared for projected numbers) reach the user
            raise
        except (pa.ArrowException, OSError, ValueError, KeyError, PyprojCRSError):  # the general reader says what
            logger.debug("roads: %s through the general reader (it says what is wrong)", path, exc_info=True)
    return to_storage_crs(read_spatial(path), declared, source=path.name)  # `_row`: the rows messages name


def _adhoc(
    roads: Path, facilities: Path, demand: Path, crs: str | None, profile_id: str, minutes: float,
    max_snap_m: float, out: Path, catalogue_files: tuple[Path, ...], geo_format: str, csv: bool | None,
) -> None:
    clock = Stopwatch()
    declared = parse_crs(crs) if crs else None
    cat = load_catalogue(*catalogue_files)  # catalogue_for without a scenario
    if profile_id not in cat.profiles:
        msg = _("`--profile` must be one of {choices} (got {value!r}).").format(
            choices=", ".join(sorted(cat.profiles)), value=profile_id)
        raise ConfigError(msg)
    profile = cat.profiles[profile_id]
    try:
        fac = read_point_arrays(facilities, declared, role="facilities")
        clock.lap("read facilities")
        dem = read_point_arrays(demand, declared, role="demand")
        clock.lap("read demand")
        planning = utm_crs_of_lonlat(dem.lon, dem.lat)  # what dem.estimate_utm_crs() gave, without the points
        road_layer = _read_roads(roads, declared, planning)
        clock.lap("read roads")
    except SchemaError as exc:
        _problems(exc)
    network = build_network(road_layer, crs=planning)
    click.echo(_("roads: {summary}").format(summary=network.report.summary()), err=True)
    clock.lap("build network")
    # the points in the planning CRS: one transformation of each array (to_crs's numbers), no geometry
    demand_xy = np.column_stack(transform_xy(dem.lon, dem.lat, STORAGE_CRS, planning))
    facility_xy = np.column_stack(transform_xy(fac.lon, fac.lat, STORAGE_CRS, planning))
    clock.lap("demand points")
    found = nearest_facility_minutes(network, profile, demand_xy, facility_xy, threshold_minutes=minutes,
                                     max_snap_m=max_snap_m)
    clock.lap("coverage", found.seconds)
    written = _write_adhoc(found, dem, fac, out, geo_format=geo_format, csv=csv, clock=clock)
    n = len(dem)
    covered = int(found.covered.sum())
    off = int((~found.snapped).sum())
    click.echo(_("{n:,} demand points: {covered:,} ({share:.1%}) reach a facility within {minutes:g} min "
                 "({profile_zh} {profile}, {speed:g} m/min); {off:,} are farther than {snap:g} m from any usable "
                 "road (unreachable). {seconds:.1f} s").format(
        n=n, covered=covered, share=covered / n, minutes=minutes, profile_zh=profile.name_zh, profile=profile.id,
        speed=profile.speed_m_per_min, off=off, snap=max_snap_m, seconds=clock.wall_s))
    for path in written:
        click.echo(os.path.normpath(path))
    logger.info(clock.summary())


def _nearest_ids(found: NearestMinutes, fac: PointArrays) -> pa.Array:
    """Each demand point's nearest facility id, null where none is within the threshold."""
    return pc.take(fac.ids, pa.array(np.maximum(found.facility, 0), mask=found.facility < 0))


def _adhoc_table(found: NearestMinutes, dem: PointArrays, fac: PointArrays) -> pd.DataFrame:
    """The per-point results as a frame (for the CSV and the GeoPackage: up to AUTO_GPKG_MAX_POINTS points,
    or when asked): ids as Python strings, the nearest facility as a categorical."""
    ids = fac.ids.to_numpy(zero_copy_only=False).astype(str)
    categories, codes = np.unique(ids, return_inverse=True)
    nearest = np.where(found.facility >= 0, codes[np.maximum(found.facility, 0)], -1)
    return pd.DataFrame({
        "demand_id": dem.ids.to_numpy(zero_copy_only=False).astype(object),
        "nearest_facility_id": pd.Categorical.from_codes(nearest, categories=pd.Index(categories, dtype=object)),
        "minutes": np.round(found.minutes, 6),
        "covered": found.covered,
    })


def _write_adhoc(
    found: NearestMinutes, dem: PointArrays, fac: PointArrays, out: Path, *, geo_format: str, csv: bool | None,
    clock: Stopwatch,
) -> list[Path]:
    """Write the ad-hoc per-point results (see AUTO_GPKG_MAX_POINTS for what is written by default): each file
    once; the GeoParquet file straight from the arrays, the points as they were read."""
    n = len(dem)
    written: list[Path] = []
    if geo_format == "auto":
        geo_format = "gpkg" if n <= AUTO_GPKG_MAX_POINTS else "parquet"
    table = None
    if csv or (csv is None and n <= AUTO_GPKG_MAX_POINTS) or geo_format == "none":
        from gisplan.outputs.people import for_people  # noqa: PLC0415 - only when a CSV is written

        table = _adhoc_table(found, dem, fac)
        written.append(out / "demand_minutes.csv")
        write_atomic_csv(for_people(table, type_names={}), written[-1])
        clock.lap("write csv")
    access_m = np.round(found.access_m, 3)
    if geo_format == "parquet":
        written.append(out / "demand_minutes.parquet")
        columns = {
            "demand_id": dem.ids.cast(pa.large_string()),
            "nearest_facility_id": _nearest_ids(found, fac).cast(pa.large_string()),
            "minutes": pa.array(np.round(found.minutes, 6), from_pandas=True),  # NaN: null, as pandas wrote it
            "covered": pa.array(found.covered),
            "access_m": pa.array(access_m, from_pandas=True),
            "reached_road": pa.array(found.snapped),
        }
        wkb = None if dem.layer is None else pa.array(shapely.to_wkb(dem.geometry()), type=pa.binary())
        write_points_parquet(columns, dem.lon, dem.lat, written[-1], wkb=wkb, dictionary=["nearest_facility_id"])
        clock.lap("write parquet")
    elif geo_format == "gpkg":
        frame = table if table is not None else _adhoc_table(found, dem, fac)
        geo = gpd.GeoDataFrame(frame.assign(access_m=access_m, reached_road=found.snapped),
                               geometry=dem.geometry(), crs=STORAGE_CRS)
        written.append(out / "demand_minutes.gpkg")
        write_atomic_gpkg({"demand_minutes": geo}, written[-1])
        clock.lap("write gpkg")
    return written


def _print_result(result: CoverageResult, *, illustrative: bool, names: dict[str, str]) -> None:
    from gisplan.analysis.coverage import METHOD_LABELS  # noqa: PLC0415 - the scenario mode's
    from gisplan.cli.options import format_table  # noqa: PLC0415

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
@click.option("-w", "--workspace", type=_WorkspaceArg(),
              help="Workspace GeoPackage (default: the scenario's `workspace`).")
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
@_catalogue_option
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
        from gisplan.cli.options import catalogue_for  # noqa: PLC0415 - the scenario mode's
        from gisplan.workflows.workspace import workspace_scenario  # noqa: PLC0415

        sc = workspace_scenario(workspace, catalogue_for(None, catalogue_files))
        _scenario_coverage(sc, workspace, out, types, method, no_polygons, minutes, catalogue_files)
        return
    if scenario is None:
        if any(a is None for a in adhoc) or out is None:
            msg = _("give a SCENARIO, or -w WORKSPACE, or all of --roads, --facilities, --demand and --out for an "
                    "ad-hoc question.")
            raise click.UsageError(msg)
        with settings.collector_paused():  # a city's lines and their snaps: 0.3 s of the collector's passes
            _adhoc(roads, facilities, demand, crs, profile_id, minutes or 15.0, max_snap_m, out,  # type: ignore[arg-type]
                   catalogue_files, geo_format, csv)
        return
    if any(a is not None for a in adhoc):
        msg = _("--roads/--facilities/--demand are for the ad-hoc mode; with a SCENARIO, its layers are used.")
        raise click.UsageError(msg)
    from gisplan.config import load_scenario  # noqa: PLC0415 - the scenario mode's

    sc = load_scenario(scenario)
    _scenario_coverage(sc, workspace, out, types, method, no_polygons, minutes, catalogue_files, imported=False)


def _scenario_coverage(
    sc: Scenario, workspace: Workspace | None, out: Path | None, types: tuple[str, ...], method: str | None,
    no_polygons: bool, minutes: float | None, catalogue_files: tuple[Path, ...], *, imported: bool = True,
) -> None:
    """Coverage of a scenario's workspace (its layers imported first unless `imported`), written and printed."""
    from gisplan.cli.options import catalogue_for, import_scenario  # noqa: PLC0415 - the scenario mode's
    from gisplan.cli.progressbar import close, progress_sink  # noqa: PLC0415
    from gisplan.outputs.coverage import write_coverage  # noqa: PLC0415
    from gisplan.store import open_workspace  # noqa: PLC0415
    from gisplan.workflows.coverage import coverage_for_scenario  # noqa: PLC0415
    from gisplan.workflows.workspace import with_minutes  # noqa: PLC0415

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

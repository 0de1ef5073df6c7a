"""Layer kinds, their schemas, and `validate_layer`, which collects every problem before failing.

A layer is checked on its own (columns, types, values, geometry, duplicates) and against what the
workspace already knows (the gazetteer, the district and township polygons, other facility layers).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan import divisions
from gisplan.catalogue import LAYER_KINDS, Attribute, Catalogue, FacilityType, normalise_header
from gisplan.errors import CRSError, Problem, SchemaError
from gisplan.io import STORAGE_CRS, DeclaredCRS, RawTable, to_planning_crs, to_storage_crs

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["KINDS", "Context", "LayerSchema", "layer_schema", "validate_layer"]

logger = logging.getLogger(__name__)

KINDS = LAYER_KINDS
_POLYGONS = frozenset({"Polygon", "MultiPolygon"})
_LINES = frozenset({"LineString", "MultiLineString"})
_POINTS = frozenset({"Point"})
_TRUE = frozenset({"1", "true", "t", "yes", "y", "是", "达标", "合格", "√", "有"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "否", "不达标", "不合格", "×", "无"})
_MAX_PROBLEMS_PER_RULE = 200
_DBF_NAME_LEN = 10
_HALFWIDTH = {0xFF01 + i: 0x21 + i for i in range(94)} | {0x3000: 0x20}


def _show(value: object) -> str:
    """A cell value for a message: text quoted, numbers plain (no ``np.int64(-1)``)."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def _attr(name: str, dtype: str, *aliases: str, unit: str | None = None, min_value: float | None = None) -> Attribute:
    return Attribute(
        name=name,
        dtype=dtype,
        unit=unit,
        aliases=tuple(dict.fromkeys(normalise_header(a) for a in (name, *aliases))),
        min_value=min_value,
    )


_LON = _attr("lon", "float", "经度", "lng", "longitude", "x", "x坐标", "经度(e)", "东坐标", "easting")
_LAT = _attr("lat", "float", "纬度", "latitude", "y", "y坐标", "纬度(n)", "北坐标", "northing")
_WKT = _attr("wkt", "str", "geometry", "geom", "几何")
_LONLAT = _attr("lonlat", "str", "经纬度", "经纬度坐标", "坐标", "lnglat", "lng,lat", "经度,纬度")
# 105°55′37.2″E, 105度55分37.2秒, E105°55'37" …
_DMS_RE = (r"^\s*(?P<h1>[NSEWnsew东西南北])?\s*(?P<d>\d+(?:\.\d+)?)\s*[°度]\s*"
           r"(?:(?P<m>\d+(?:\.\d+)?)\s*['′’分])?\s*(?:(?P<s>\d+(?:\.\d+)?)\s*(?:[\"″”秒]|'')?)?\s*"
           r"(?P<h2>[NSEWnsew东西南北])?\s*$")


@dataclass(frozen=True, slots=True)
class LayerSchema:
    """What a layer kind must and may carry.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    required, optional : tuple of Attribute
    geometry : frozenset of str or None
        Accepted geometry types; ``None`` for a table without geometry.
    geometry_required : bool
        Whether a row without geometry is an error.
    """

    kind: str
    required: tuple[Attribute, ...]
    optional: tuple[Attribute, ...]
    geometry: frozenset[str] | None
    geometry_required: bool


@dataclass(frozen=True, slots=True)
class Context:
    """What the workspace already holds, for cross-layer checks (all in the storage CRS).

    Attributes
    ----------
    gazetteer : pandas.DataFrame, optional
        Columns ``code12``, ``name``, ``level``, ``parent_code12``.
    district, townships : geopandas.GeoDataFrame, optional
        Polygons with ``code12`` and ``name``.
    facilities : Mapping[str, geopandas.GeoDataFrame]
        Facility layers by type id.
    tolerance_m : float
        How far (metres) a point may lie outside its polygon before it is reported: the boundary
        layers disagree with each other by tens of metres.
    planning_crs : str, optional
        Projected CRS to measure in (the scenario's); default the data's UTM zone.
    """

    gazetteer: pd.DataFrame | None = None
    district: gpd.GeoDataFrame | None = None
    townships: gpd.GeoDataFrame | None = None
    facilities: Mapping[str, pd.DataFrame] = field(default_factory=lambda: MappingProxyType({}))
    tolerance_m: float = 50.0
    planning_crs: str | None = None


def layer_schema(kind: str, catalogue: Catalogue, ftype: FacilityType | None = None) -> LayerSchema:
    """Return the schema of a layer kind (for ``facilities``, of facility type `ftype`).

    Raises
    ------
    ValueError
        If `kind` is unknown or `ftype` is missing for facilities.
    """
    a = catalogue.attributes
    code12, name = a["code12"], a["name"]
    if kind == "facilities":
        if ftype is None:
            msg = "`ftype` is required for kind 'facilities'; pass --type."
            raise ValueError(msg)
        req = tuple(a[n] for n in ftype.required)
        opt = tuple(a[n] for n in ftype.optional if n not in ftype.required)
        if "code12" in ftype.required:
            # a code may be replaced by the township/village names, resolved through the gazetteer
            req = tuple(x for x in req if x.name != "code12")
            opt = tuple({x.name: x for x in (code12, a["township"], a["village"], *opt)}.values())
        return LayerSchema(kind, req, opt, _POINTS, geometry_required=True)
    if kind == "gazetteer":
        level = _attr("level", "int", "级别", "层级")
        parent = _attr("parent_code12", "code12", "parent", "上级代码", "上级区划代码")
        return LayerSchema(kind, (code12, name, level), (parent, _attr("level_name", "str")), None, False)
    if kind in {"district", "townships", "villages"}:
        # boundary files name their divisions XZQMC/行政区名称 (乡镇名称 …); a township or village layer may
        # carry only names, whose codes are then looked up in the gazetteer
        extra = {"district": (), "townships": a["township"].aliases[1:], "villages": a["village"].aliases[1:]}[kind]
        division = replace(name, aliases=tuple(dict.fromkeys((*name.aliases, "xzqmc", "行政区名称", *extra))))
        code = replace(code12, aliases=tuple(dict.fromkeys((*code12.aliases, "xzqdm", "行政区代码", "adcode"))))
        if kind == "district":
            return LayerSchema(kind, (code, division), (), _POLYGONS, geometry_required=True)
        return LayerSchema(kind, (division,), (code,), _POLYGONS, geometry_required=True)
    if kind == "households":
        hh = _attr("households", "int", "户数", "家庭户数", "总户数", "户", unit="households", min_value=0)
        pop = _attr("population", "int", "人口", "常住人口", "人口数", "总人口", unit="persons", min_value=0)
        old = _attr("pop_60plus", "int", "60岁以上人口", "60岁及以上人口", "老年人口", unit="persons", min_value=0)
        return LayerSchema(kind, (code12, hh), (name, pop, old), _POINTS | _POLYGONS, geometry_required=False)
    if kind == "roads":
        oneway = _attr("direction", "int", "oneway_code", "方向")
        return LayerSchema(kind, (), (oneway,), _LINES, geometry_required=True)
    msg = f"unknown layer kind {kind!r}; expected one of {', '.join(KINDS)}."
    raise ValueError(msg)


class _Collector:
    def __init__(self, source: str, rows: np.ndarray) -> None:
        self.source = source
        self.rows = rows
        self.problems: list[Problem] = []

    def table(self, fld: str | None, message: str, fix: str) -> None:
        self.problems.append(Problem(self.source, None, fld, message, fix))

    def at(self, mask: np.ndarray | pd.Series, fld: str | None, message: Any, fix: str) -> None:
        """Record a problem for every row where `mask` holds; `message` may be a per-row callable."""
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        for i in idx[:_MAX_PROBLEMS_PER_RULE]:
            text = message(int(i)) if callable(message) else message
            self.problems.append(Problem(self.source, int(self.rows[i]), fld, text, fix))
        if len(idx) > _MAX_PROBLEMS_PER_RULE:
            more = len(idx) - _MAX_PROBLEMS_PER_RULE
            self.problems.append(Problem(self.source, None, fld, f"… and {more} more rows like that.", fix))


def _map_columns(
    frame: pd.DataFrame, schema: LayerSchema, extra: tuple[Attribute, ...], col: _Collector
) -> dict[str, str]:
    """Map canonical attribute name → the file's column name."""
    by_header: dict[str, str] = {}
    for column in frame.columns:
        if column != "_row":
            by_header.setdefault(normalise_header(str(column)), str(column))
    # a shapefile's dBase fields hold 10 characters: facility_id arrives as facility_i
    truncated = {h: c for h, c in by_header.items() if len(h) == _DBF_NAME_LEN and h.isascii()}
    mapping: dict[str, str] = {}
    for attr in (*schema.required, *schema.optional, *extra):
        hits = [by_header[al] for al in attr.aliases if al in by_header]
        if not hits:
            hits = [c for h, c in truncated.items() if any(al.startswith(h) for al in attr.aliases)]
        hits = list(dict.fromkeys(hits))
        if len(hits) > 1:
            col.table(
                hits[1],
                f"columns {', '.join(repr(h) for h in hits)} all mean `{attr.name}`.",
                "keep one of them and rename or delete the others.",
            )
        if hits:
            mapping[attr.name] = hits[0]
    found = ", ".join(str(c) for c in frame.columns if c not in {"_row", "geometry"}) or "(none)"
    for attr in schema.required:
        if attr.name not in mapping:
            names = ", ".join(a for a in attr.aliases[:5])
            extra_fix = " (or pass --make-ids to number the rows)" if attr.name == "facility_id" else ""
            col.table(
                attr.name,
                f"required column `{attr.name}` is missing (columns found: {found}).",
                f"add the column, or rename its header to one of: {names}{extra_fix}.",
            )
    return mapping


def _blank(value: object) -> bool:
    """An empty cell: None, NaN/NA, or only spaces."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return value is pd.NA or value is pd.NaT


def _cells(values: pd.Series, convert: Any = None) -> pd.Series:
    """An object Series with None for every blank cell, `convert` applied to the others.

    (pandas 3 turns a None returned by ``Series.map`` into NaN, whose ``str`` is 'nan'.)
    """
    return pd.Series([None if _blank(v) else (v if convert is None else convert(v)) for v in values],
                     index=values.index, dtype=object)


def _parse_column(values: pd.Series, attr: Attribute, column: str, required: bool, col: _Collector) -> pd.Series:
    text = _cells(values)
    empty = text.isna().to_numpy()
    if required:
        col.at(empty, column, f"`{attr.name}` is empty.", "fill it in; every row needs it.")
    if attr.dtype == "str":
        return _cells(text, lambda v: str(v).strip())
    if attr.dtype == "code12":
        return _parse_code(text, column, col)
    if attr.dtype in {"float", "int"}:
        return _parse_number(text, attr, column, col)
    norm = _cells(text, lambda v: normalise_header(str(v)))
    if attr.dtype == "bool":
        bad = (norm.notna() & ~norm.isin(_TRUE | _FALSE)).to_numpy()
        col.at(bad, column, lambda i: f"{_show(text.iloc[i])} is not yes/no.", "write 是/否 (or 1/0, true/false).")
        return _cells(norm, lambda v: v in _TRUE)
    # enum
    bad = (norm.notna() & ~norm.isin(list(attr.values))).to_numpy()
    allowed = ", ".join(sorted(set(attr.values.values())))
    spellings = "/".join(k for k in list(attr.values)[:8])
    col.at(bad, column, lambda i: f"{_show(text.iloc[i])} is not one of: {allowed}.", f"write one of {spellings}.")
    return _cells(norm, attr.values.get)


def _halfwidth(value: object) -> object:
    """Full-width digits and signs (１２０．５, as Chinese IMEs type them) as ASCII; other values as they are."""
    return value.translate(_HALFWIDTH).strip() if isinstance(value, str) else value


def _code_text(value: object) -> str:
    """A code cell as text: numeric cells (a shapefile's Real field, an Excel number) lose their '.0'."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(_halfwidth(value)).replace(" ", "")


def _widen_code(code: str) -> str:
    """A 9-digit township code (NBS style) or 6-digit district code, made 12 digits."""
    if code.isdigit() and len(code) in {6, 9}:
        return code + "0" * (12 - len(code))
    return code


def _parse_code(text: pd.Series, column: str, col: _Collector) -> pd.Series:
    raw = _cells(text, _code_text)
    matched = raw.astype("string")
    sci = matched.str.fullmatch(r"\d(?:\.\d+)?[eE]\+?\d+").fillna(False).to_numpy(dtype=bool)
    col.at(
        sci,
        column,
        lambda i: f"{_show(raw.iloc[i])} is a division code that Excel turned into scientific notation; "
        "its last digits are lost.",
        "format the column as text in Excel and type the 12-digit codes again (or copy them from the gazetteer).",
    )
    code = _cells(raw, _widen_code)
    bad = (code.notna() & ~code.astype("string").str.fullmatch(r"\d{12}").fillna(False)).to_numpy(dtype=bool)
    col.at(
        bad & ~sci,
        column,
        lambda i: f"{_show(raw.iloc[i])} is not a 12-digit division code (统计用区划代码).",
        "write the 12-digit code, e.g. 500118001000 for a township, 500118001003 for a community "
        "(Excel: format the column as text so it keeps every digit).",
    )
    return code.where(~pd.Series(bad, index=code.index), None)


def _strip_suffix(text: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)].strip()
    return text


def _parse_number(text: pd.Series, attr: Attribute, column: str, col: _Collector) -> pd.Series:
    cleaned = text.map(lambda v: v if not isinstance(v, str) else _strip_suffix(
        str(_halfwidth(v)).replace(",", ""), attr.suffixes))
    num = pd.to_numeric(cleaned, errors="coerce")
    bad = (~text.isna() & num.isna()).to_numpy()
    unit = f" in {attr.unit}" if attr.unit else ""
    col.at(
        bad,
        column,
        lambda i: f"{_show(text.iloc[i])} is not a number (expected `{attr.name}`{unit}).",
        "write a plain number, e.g. 350 or 350.5"
        + (f" (a unit word {'/'.join(attr.suffixes)} may follow)." if attr.suffixes else "."),
    )
    if attr.dtype == "int":
        frac = (~num.isna() & (num % 1 != 0)).to_numpy()
        col.at(frac, column, lambda i: f"{_show(text.iloc[i])} is not a whole number.", "write a whole number.")
    if attr.min_value is not None:
        low = (num < attr.min_value).fillna(False).to_numpy()
        col.at(
            low,
            column,
            lambda i: f"{_show(text.iloc[i])} is below the minimum {attr.min_value:g}.",
            "correct the value (it cannot be negative).",
        )
    if attr.dtype == "int":
        return num.round().astype("Int64")
    return num.astype("float64")


def _table_geometry(
    raw: RawTable, mapping: dict[str, str], schema: LayerSchema, col: _Collector, *, projected: bool = False
) -> gpd.GeoSeries | None:
    frame = raw.frame
    if "wkt" in mapping:
        wkt = frame[mapping["wkt"]]
        geoms = shapely.from_wkt(wkt.to_numpy(dtype=object), on_invalid="ignore")
        bad = (wkt.notna().to_numpy() & pd.isna(geoms))
        col.at(bad, mapping["wkt"], "is not valid WKT.", "write e.g. POINT (105.92 29.35).")
        return gpd.GeoSeries(geoms, index=frame.index)
    have = [k for k in ("lon", "lat") if k in mapping]
    if not have and "lonlat" in mapping:
        lon_in, lat_in, reported = _split_lonlat(frame[mapping["lonlat"]], mapping["lonlat"], col)
        return _points(lon_in, lat_in, frame, schema, col, reported=reported, projected=projected)
    if not have:
        if schema.geometry_required:
            col.table(
                "lon/lat",
                "the table has no coordinate columns (looked for 经度/纬度, lon/lat, lng/lat, x/y).",
                "add longitude and latitude columns in decimal degrees, or import a GeoJSON/GPKG/SHP.",
            )
        return None
    if len(have) == 1:
        col.table(have[0], "only one coordinate column was found.", "add both longitude and latitude.")
        return None
    return _points((frame[mapping["lon"]], mapping["lon"]), (frame[mapping["lat"]], mapping["lat"]),
                   frame, schema, col, projected=projected)


def _split_lonlat(
    text: pd.Series, column: str, col: _Collector
) -> tuple[tuple[pd.Series, str], tuple[pd.Series, str], np.ndarray]:
    """Split a single ``经纬度`` column ("105.927,29.356") into longitude and latitude texts."""
    parts = text.astype("string").str.strip().str.split(r"\s*[,，;；/]\s*|\s+", regex=True)
    n = parts.map(lambda p: len(p) if isinstance(p, list) else 0)
    bad = (text.notna() & (n != 2)).to_numpy()
    col.at(bad, column, lambda i: f"{_show(text.iloc[i])} is not 'longitude,latitude'.",
           "write the two numbers separated by a comma, e.g. 105.927,29.356.")
    ok = n == 2
    lon = parts.map(lambda p: p[0] if isinstance(p, list) and len(p) == 2 else None).where(ok, None)
    lat = parts.map(lambda p: p[1] if isinstance(p, list) and len(p) == 2 else None).where(ok, None)
    return (lon.astype(object), column), (lat.astype(object), column), bad


def _parse_degrees(text: pd.Series, attr: Attribute, column: str, col: _Collector) -> pd.Series:
    """Decimal degrees, or degrees-minutes-seconds (105°55′37.2″E, 105度55分37.2秒) as ledgers write them."""
    as_text = text.map(_halfwidth).astype("string")
    num = pd.to_numeric(as_text.str.replace(",", "", regex=False), errors="coerce").astype("float64")
    dms = as_text.where(num.isna()).str.extract(_DMS_RE)
    value = (dms["d"].astype("float64") + dms["m"].astype("float64").fillna(0) / 60
             + dms["s"].astype("float64").fillna(0) / 3600)
    hemi = dms["h1"].fillna(dms["h2"]).fillna("")
    value = value.where(~hemi.isin(["S", "s", "W", "w", "南", "西"]), -value)
    num = num.fillna(value)
    bad = (text.notna() & num.isna()).to_numpy()
    col.at(bad, column, lambda i: f"{_show(text.iloc[i])} is not a number (expected `{attr.name}` in degrees).",
           "write decimal degrees (105.927) or degrees-minutes-seconds (105°55′37″).")
    return num


def _points(
    lon_in: tuple[pd.Series, str], lat_in: tuple[pd.Series, str], frame: pd.DataFrame, schema: LayerSchema,
    col: _Collector, *, reported: np.ndarray | None = None, projected: bool = False,
) -> gpd.GeoSeries:
    """Build points from coordinate texts, recording empty, swapped and out-of-range values.

    With a projected CRS declared the texts are x (easting) and y (northing) in metres.
    """
    (lon_text, lon_field), (lat_text, lat_field) = lon_in, lat_in
    lon = _parse_degrees(lon_text, _LON, lon_field, col)
    lat = _parse_degrees(lat_text, _LAT, lat_field, col)
    fresh = np.ones(len(frame), dtype=bool) if reported is None else ~reported
    if schema.geometry_required:
        col.at(fresh & lon_text.isna().to_numpy(), lon_field, "longitude is empty.", "fill it in.")
        col.at(fresh & lat_text.isna().to_numpy() & lon_text.notna().to_numpy(), lat_field,
               "latitude is empty.", "fill it in.")
    lo, la = lon.to_numpy(dtype=float, na_value=np.nan), lat.to_numpy(dtype=float, na_value=np.nan)
    both = lon_field if lon_field == lat_field else f"{lon_field}/{lat_field}"
    if projected:
        return _projected_points(lo, la, both, frame, col)
    swapped = (la > 70) & (la < 140) & (lo > 0) & (lo < 60)
    col.at(
        swapped,
        both,
        lambda i: f"longitude {lo[i]:g} and latitude {la[i]:g} look swapped (China is at 73–135° E, 18–54° N).",
        "swap the two columns (经度 is the larger number in China).",
    )
    out = ~swapped & ((np.abs(lo) > 180) | (np.abs(la) > 90))
    col.at(
        out,
        both,
        lambda i: f"({lo[i]:g}, {la[i]:g}) is not a longitude/latitude in degrees.",
        "give decimal degrees (e.g. 105.927, 29.356); for projected x/y in metres declare their CRS with "
        "--crs (e.g. EPSG:4545).",
    )
    ok = ~np.isnan(lo) & ~np.isnan(la) & ~swapped & ~out
    geoms = np.full(len(frame), None, dtype=object)
    geoms[ok] = shapely.points(lo[ok], la[ok])
    return gpd.GeoSeries(geoms, index=frame.index)


def _projected_points(x: np.ndarray, y: np.ndarray, field: str, frame: pd.DataFrame, col: _Collector) -> gpd.GeoSeries:
    """Points from projected x (easting) / y (northing); catch the survey convention X = north."""
    northing = (x >= 1e6) & (x < 1e7)
    survey = northing & ~((y >= 1e6) & (y < 1e7))
    col.at(
        survey,
        field,
        lambda i: f"x {x[i]:,.0f} looks like a northing and y {y[i]:,.0f} like an easting (Chinese survey tables "
        "put X north, Y east).",
        "swap the columns, or head them 北坐标 (northing) and 东坐标 (easting).",
    )
    ok = ~np.isnan(x) & ~np.isnan(y) & ~survey
    geoms = np.full(len(frame), None, dtype=object)
    geoms[ok] = shapely.points(x[ok], y[ok])
    return gpd.GeoSeries(geoms, index=frame.index)


def _geometry_field(mapping: dict[str, str]) -> str:
    """How the user sees the geometry of a row: its coordinate columns, or the geometry."""
    if "lon" in mapping and "lat" in mapping:
        return f"{mapping['lon']}/{mapping['lat']}"
    return mapping.get("lonlat", mapping.get("wkt", "geometry"))


def _check_lonlat(gdf: gpd.GeoDataFrame, usable: np.ndarray, field: str, col: _Collector) -> np.ndarray:
    """After conversion to EPSG:4326: report geometries whose coordinates are not lon/lat degrees."""
    bounds = shapely.bounds(gdf.geometry.to_numpy())
    x, y = bounds[:, [0, 2]], bounds[:, [1, 3]]
    with np.errstate(invalid="ignore"):
        swapped = usable & (y[:, 0] > 70) & (y[:, 1] < 140) & (x[:, 0] > 0) & (x[:, 1] < 60)
        beyond = usable & ~swapped & ((np.abs(x) > 180).any(axis=1) | (np.abs(y) > 90).any(axis=1))
    col.at(beyond, field, lambda i: f"coordinates such as ({bounds[i, 0]:,.6g}, {bounds[i, 1]:,.6g}) are not "
           "longitude/latitude degrees after conversion: the coordinate system is wrong.",
           "declare the real CRS with --crs (a projected file without .prj: e.g. EPSG:4545 for CGCS2000 3° zone 35).")
    col.at(swapped, field, lambda i: f"coordinates ({bounds[i, 0]:.6g}, {bounds[i, 1]:.6g}) look like latitude, "
           "longitude (swapped).", "write longitude first (x = 经度), latitude second.")
    return usable & ~beyond & ~swapped


def _check_geometry(
    geom: gpd.GeoSeries, schema: LayerSchema, col: _Collector, *, report_empty: bool = True
) -> np.ndarray:
    """Record geometry problems; return the mask of usable geometries.

    For tables (`report_empty` False) an empty point was already reported by the coordinate checks.
    """
    accepted = schema.geometry or frozenset()
    arr = geom.to_numpy()
    missing = pd.isna(arr) | shapely.is_empty(arr)
    if schema.geometry_required and report_empty:
        col.at(missing, "geometry", "the geometry is empty.", "draw the feature or give its coordinates.")
    types = np.asarray(shapely.get_type_id(arr))
    names = np.array([None, "Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                      "MultiPolygon", "GeometryCollection"], dtype=object)
    type_names = names[np.clip(types, -1, 7) + 1]
    wrong = ~missing & ~np.isin(type_names, list(accepted))
    expected = " or ".join(sorted(accepted))
    col.at(
        wrong,
        "geometry",
        lambda i: f"the geometry is a {type_names[i]}; a {schema.kind} layer needs {expected}.",
        "convert the features (QGIS: Vector › Geometry Tools) or import them as the right kind.",
    )
    valid = shapely.is_valid(arr)
    invalid = ~missing & ~wrong & ~valid
    reasons = shapely.is_valid_reason(arr)
    col.at(
        invalid,
        "geometry",
        lambda i: f"the geometry is invalid ({reasons[i]}).",
        "repair it (QGIS: Processing › Fix geometries, or shapely.make_valid) and import again.",
    )
    return ~missing & ~wrong & ~invalid


def _check_unique(values: pd.Series, column: str, col: _Collector) -> None:
    dup = values.duplicated(keep="first") & values.notna()
    if dup.any():
        firsts: dict[Any, int] = {}
        for i, v in enumerate(values):
            if v is not None and not pd.isna(v) and v not in firsts:
                firsts[v] = int(col.rows[i])
        col.at(
            dup.to_numpy(),
            column,
            lambda i: f"{_show(values.iloc[i])} is used already on row {firsts[values.iloc[i]]}.",
            "give every row its own value.",
        )


def _unpack(data: RawTable | gpd.GeoDataFrame, source: str | None) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Return the attribute frame, the user-visible row numbers and the source name."""
    if isinstance(data, RawTable):
        return data.frame.copy(), data.rows, source or data.source
    frame = pd.DataFrame(data.drop(columns=[data.geometry.name]))
    rows = frame["_row"].to_numpy() if "_row" in frame else np.arange(1, len(frame) + 1)
    return frame.drop(columns=["_row"], errors="ignore"), rows, source or "layer"


def validate_layer(
    data: RawTable | gpd.GeoDataFrame,
    *,
    kind: str,
    catalogue: Catalogue,
    ftype: FacilityType | None = None,
    declared_crs: DeclaredCRS | None = None,
    context: Context | None = None,
    source: str | None = None,
    make_ids: bool = False,
) -> pd.DataFrame:
    """Check a layer against its schema and the workspace, and return it clean and typed.

    Parameters
    ----------
    data : RawTable or geopandas.GeoDataFrame
        As read by :func:`gisplan.io.read_table` or :func:`gisplan.io.read_spatial`.
    kind : str
        One of :data:`KINDS`.
    catalogue : Catalogue
    ftype : FacilityType, optional
        Required for ``facilities``.
    declared_crs : DeclaredCRS, optional
        The user's ``--crs``; required for coordinates in a table.
    context : Context, optional
        For cross-layer checks; checks whose layer is missing are skipped (and logged).
    source : str, optional
        Name used in messages (default: the file name).
    make_ids : bool
        When the file has no id column, number the rows ``<type>-<row>`` (ledgers often carry only
        a 序号). Ignored when an id column exists.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        Canonical column names, typed values, extra columns kept, geometry in EPSG:4326.

    Raises
    ------
    SchemaError
        With every problem found (file, row, field, what was expected, the fix).
    """
    context = context or Context()
    schema = layer_schema(kind, catalogue, ftype)
    is_table = isinstance(data, RawTable)
    frame, rows, src = _unpack(data, source)
    col = _Collector(src, rows)
    if len(frame) == 0:
        col.table(None, "the layer has no rows.", "check the file, sheet or layer given.")
        raise SchemaError(col.problems)
    extra = (_LON, _LAT, _WKT, _LONLAT) if is_table and schema.geometry is not None else ()
    if make_ids and ftype is not None and not any(normalise_header(str(c)) in catalogue.attributes[
            "facility_id"].aliases for c in frame.columns):
        frame["facility_id"] = [f"{ftype.id}-{n}" for n in rows]
    mapping = _map_columns(frame, schema, extra, col)
    out = _attributes(frame, mapping, schema, kind, col)
    geom = _source_geometry(data, frame, mapping, schema, declared_crs, col)
    usable = np.zeros(len(frame), dtype=bool)
    result: pd.DataFrame = out
    if geom is not None:
        usable = _check_geometry(geom, schema, col, report_empty=not is_table)
        if not col.problems or geom.crs is not None or declared_crs is not None:
            try:
                result = to_storage_crs(gpd.GeoDataFrame(out, geometry=geom), declared_crs, source=src)
                usable = _check_lonlat(result, usable, _geometry_field(mapping), col)
            except CRSError as exc:
                col.table(None, str(exc).split(": ", 1)[-1], "declare the CRS with `--crs`.")
                result = gpd.GeoDataFrame(out, geometry=geom.set_crs(STORAGE_CRS, allow_override=True))
                usable[:] = False

    _kind_checks(result, kind, mapping, ftype, context, usable, col)
    if col.problems:
        raise SchemaError(sorted(col.problems, key=lambda p: -1 if p.row is None else p.row))
    logger.info("validate_layer: %s (%s) — %d rows OK", src, kind, len(result))
    first = [c for c in ("facility_id", "code12", "name") if c in result.columns]
    return result[first + [c for c in result.columns if c not in first]].reset_index(drop=True)


_RESERVED = frozenset({"fid", "ogc_fid", "geom", "geometry"})


def _attributes(
    frame: pd.DataFrame, mapping: dict[str, str], schema: LayerSchema, kind: str, col: _Collector
) -> pd.DataFrame:
    """Typed canonical attributes, then the file's other columns as they are.

    Columns GeoPackage reserves (``fid``, ``geom`` …) are kept as ``source_<name>``; two columns whose
    names differ only in case cannot both be stored and are reported.
    """
    out = pd.DataFrame(index=frame.index)
    attrs = {a.name: (a, True) for a in schema.required} | {a.name: (a, False) for a in schema.optional}
    names_given = "township" in mapping or "village" in mapping
    for name, (attr, required) in attrs.items():
        # without township/village names, the code is a facility's only link to a division
        must = required or (name == "code12" and kind == "facilities" and not names_given)
        if name in mapping:
            out[name] = _parse_column(frame[mapping[name]], attr, mapping[name], must, col)
    used = set(mapping.values())
    for column in frame.columns:
        name = str(column)
        if column in used or name == "geometry" or name in out.columns:
            continue
        stored = f"source_{name}" if name.lower() in _RESERVED else name
        clash = next((c for c in out.columns if c.lower() == stored.lower()), None)
        if clash is not None:
            col.table(name, f"columns {clash!r} and {name!r} differ only in case; a GeoPackage cannot hold both.",
                      "rename or delete one of them.")
            continue
        out[stored] = frame[column]
    return out


def _source_geometry(
    data: RawTable | gpd.GeoDataFrame,
    frame: pd.DataFrame,
    mapping: dict[str, str],
    schema: LayerSchema,
    declared_crs: DeclaredCRS | None,
    col: _Collector,
) -> gpd.GeoSeries | None:
    """The geometry as given: built from a table's coordinates, or the spatial file's own."""
    if schema.geometry is None:
        return None
    if not isinstance(data, RawTable):
        geom = data.geometry.set_axis(frame.index)
        if schema.geometry == _POINTS:  # QGIS and shapefiles often write points as 1-part MultiPoints
            arr = geom.to_numpy()
            single = (shapely.get_type_id(arr) == 4) & (shapely.get_num_geometries(arr) == 1)
            if single.any():
                arr = arr.copy()
                arr[single] = shapely.get_geometry(arr[single], 0)
                geom = gpd.GeoSeries(arr, index=frame.index, crs=geom.crs)
        return geom
    projected = declared_crs is not None and declared_crs.chinese_system is None and declared_crs.crs.is_projected
    points = _table_geometry(data, mapping, schema, col, projected=projected)
    if points is None:
        return None
    if declared_crs is None:
        col.table(
            None,
            "coordinates in a table carry no coordinate system.",
            "give `--crs`: EPSG:4326 (GPS/WGS84), EPSG:4490 (CGCS2000/天地图), gcj02 (高德/腾讯 "
            "picked points) or bd09 (百度).",
        )
        return points
    return gpd.GeoSeries(points.to_numpy(), index=frame.index, crs=declared_crs.crs)


def _kind_checks(
    df: pd.DataFrame,
    kind: str,
    mapping: dict[str, str],
    ftype: FacilityType | None,
    ctx: Context,
    usable: np.ndarray,
    col: _Collector,
) -> None:
    field = mapping.get
    if kind == "gazetteer":
        _gazetteer_checks(df, mapping, col)
        return
    if "facility_id" in df:
        _check_unique(df["facility_id"], field("facility_id", "facility_id"), col)
    if kind in {"townships", "villages"} and "code12" not in df:
        _codes_from_names(df, mapping, kind, ctx, col)
    if kind in {"townships", "villages", "households"} and "code12" in df:
        _check_unique(df["code12"], field("code12", "code12"), col)
    if kind == "district" and len(df) != 1:
        col.table(None, f"a district layer must have exactly 1 feature (got {len(df)}).",
                  "dissolve the parts into one (Multi)Polygon first.")
    if kind == "facilities" and ftype is not None:  # layer_schema refused facilities without a type
        _resolve_names(df, mapping, ftype, ctx, col)
    elif "code12" in df and ctx.gazetteer is not None:
        _codes_in_gazetteer(df, mapping, ctx.gazetteer, col, levels=_LEVELS_OF[kind])
    elif kind == "households":
        col.table(None, "the workspace has no gazetteer, so the households' division codes cannot be checked.",
                  "import the 统计用区划代码 first: `gisplan layers import <gazetteer.csv> --kind gazetteer`.")
    _value_checks(df, kind, mapping, col)
    if kind == "facilities" and ftype is not None and ftype.id == "volunteer_service_point":
        _host_checks(df, mapping, ctx, col)
    if isinstance(df, gpd.GeoDataFrame) and kind in {"facilities", "households"}:
        _location_checks(df, mapping, ctx, usable, col)
    elif kind in {"townships", "villages"} and ctx.district is not None and isinstance(df, gpd.GeoDataFrame):
        _location_checks(df, mapping, ctx, usable, col, in_townships=False)


def _no_match(names: pd.Series, pool: pd.DataFrame, what: str) -> Any:
    """Per-row message for a name that matches no division, with the nearest standard names."""

    def message(i: int) -> str:
        name = str(names.iloc[i])
        sug = divisions.name_suggestions(name, pool["name"])
        hint = f" Did you mean {' / '.join(sug)}?" if sug else ""
        return f"{name!r} matches no {what} in the gazetteer.{hint}"

    return message


def _match(
    names: pd.Series, pool: pd.DataFrame, what: str, field: str, col: _Collector, *, within: pd.Series | None = None
) -> pd.Series:
    """Codes for division names; unknown and ambiguous names are recorded as problems."""
    codes, ambiguous = divisions.match_names(names, pool, within=within)
    col.at(ambiguous.to_numpy(), field,
           lambda i: f"{_show(names.iloc[i])} names more than one {what} in the gazetteer.",
           "add the 12-digit code (区划代码), or the township, to tell them apart.")
    unknown = (names.notna() & codes.isna() & ~ambiguous).to_numpy()
    col.at(unknown, field, _no_match(names, pool, what),
           f"write the standard {what} name (标准地名, as in the gazetteer), e.g. 胜利路街道, not 胜利路街道办事处.")
    return codes


def _value_checks(df: pd.DataFrame, kind: str, mapping: dict[str, str], col: _Collector) -> None:
    """Checks between the values of one row: nursing beds within beds, population above households."""
    field = mapping.get
    if "beds" in df and "nursing_beds" in df:
        over = (df["nursing_beds"] > df["beds"]).fillna(False).to_numpy()
        col.at(over, field("nursing_beds"), lambda i: f"nursing beds ({df['nursing_beds'].iloc[i]}) exceed "
               f"beds ({df['beds'].iloc[i]}).", "nursing beds (护理型床位) are part of all beds; correct one of them.")
    if kind == "households" and "population" in df:
        low = (df["population"] < df["households"]).fillna(False).to_numpy()
        col.at(low, field("population"), lambda i: f"population ({df['population'].iloc[i]}) is smaller than "
               f"households ({df['households'].iloc[i]}).", "check whether the two columns are swapped.")
        if "pop_60plus" in df:
            big = (df["pop_60plus"] > df["population"]).fillna(False).to_numpy()
            col.at(big, field("pop_60plus"), "persons aged 60+ exceed the population.", "correct one of them.")


def _codes_from_names(df: pd.DataFrame, mapping: dict[str, str], kind: str, ctx: Context, col: _Collector) -> None:
    """Fill ``code12`` of boundary polygons from their standard names (exact or short form)."""
    if ctx.gazetteer is None:
        col.table("code12", "the layer has no code column and the workspace has no gazetteer to look the names "
                  "up in.", "import the gazetteer first (`--kind gazetteer`), or add a 12-digit code column.")
        return
    level = "township" if kind == "townships" else "village"
    gaz = ctx.gazetteer
    pool = gaz[divisions.division_level(gaz["code12"]) == level]
    df["code12"] = _match(df["name"], pool, level, mapping.get("name", "name"), col)
    df["name"] = df["code12"].map(pool.set_index("code12")["name"]).fillna(df["name"])


def _gazetteer_checks(df: pd.DataFrame, mapping: dict[str, str], col: _Collector) -> None:
    if "code12" not in df:
        return
    field = mapping.get
    _check_unique(df["code12"], field("code12", "code12"), col)
    if "level" in df:
        lvl = df["level"]
        derived = divisions.division_level(df["code12"].fillna("000000000000"))
        expected = derived.map({"district": 3, "township": 4, "village": 5})
        bad = (lvl.notna() & df["code12"].notna() & (lvl != expected)).fillna(False).to_numpy()
        col.at(bad, field("level"), lambda i: f"level {lvl.iloc[i]} does not fit code {df['code12'].iloc[i]} "
               f"(expected {expected.iloc[i]}: 3 district, 4 township, 5 village).", "correct the level or the code.")
    if "parent_code12" in df:
        codes = set(df["code12"].dropna())
        parent = df["parent_code12"]
        is_top = divisions.division_level(df["code12"].fillna("000000000000")) == "district"
        orphan = (~is_top & parent.notna() & ~parent.isin(codes)).to_numpy()
        col.at(orphan, field("parent_code12"), lambda i: f"parent {parent.iloc[i]} is not in the gazetteer.",
               "add the parent division or correct the code.")
        code = df["code12"].fillna("000000000000")
        is_village = divisions.division_level(code) == "village"
        same = (code.str.slice(0, 6) == parent.str.slice(0, 6)) & (
            ~is_village | (code.str.slice(0, 9) == parent.str.slice(0, 9)))
        mismatch = (df["code12"].notna() & parent.notna() & ~is_top & ~same).fillna(False).to_numpy(dtype=bool)
        col.at(mismatch, field("parent_code12"), lambda i: f"code {df['code12'].iloc[i]} does not start with its "
               f"parent's digits ({parent.iloc[i]}).", "correct the code or the parent code.")


_LEVELS_OF = {"district": ("district",), "townships": ("township",), "villages": ("village",),
              "households": ("village", "township")}


def _codes_in_gazetteer(
    df: pd.DataFrame, mapping: dict[str, str], gaz: pd.DataFrame, col: _Collector, levels: tuple[str, ...]
) -> None:
    """Codes exist in the gazetteer, at one of `levels`, and names agree with the gazetteer's."""
    field = mapping.get("code12", "code12")
    known = df["code12"].isin(gaz["code12"])
    unknown = (df["code12"].notna() & ~known).to_numpy()
    district6 = gaz["code12"].str.slice(0, 6).mode().iloc[0]
    col.at(unknown, field, lambda i: f"code {df['code12'].iloc[i]} is not in the gazetteer"
           + (f" (the gazetteer covers district {district6})." if not str(df['code12'].iloc[i]).startswith(district6)
              else "."), "check the code against the 统计用区划代码 list (`gisplan layers show gazetteer`).")
    lvl = divisions.division_level(df["code12"].fillna("000000000000"))
    wrong = (df["code12"].notna() & known & ~lvl.isin(levels)).to_numpy()
    expected = " or ".join(levels)
    col.at(wrong, field, lambda i: f"code {df['code12'].iloc[i]} is a {lvl.iloc[i]} code; "
           f"a {expected} code is expected here.", f"give the {expected}'s 12-digit code.")
    if "name" in df:
        names = gaz.set_index("code12")["name"]
        declared = df["code12"].map(names)
        differ = (known & df["name"].notna() & (df["name"] != declared)
                  & (df["name"].map(lambda s: divisions.short_name(str(s))) != declared.map(
                      lambda s: divisions.short_name(str(s))))).to_numpy()
        col.at(differ, mapping.get("name", "name"), lambda i: f"name {_show(df['name'].iloc[i])} differs from the "
               f"gazetteer's {_show(declared.iloc[i])} for code {df['code12'].iloc[i]}.",
               "use the standard name (标准地名) or correct the code.")


def _resolve_names(
    df: pd.DataFrame, mapping: dict[str, str], ftype: FacilityType, ctx: Context, col: _Collector
) -> None:
    """Check codes and division names; fill ``code12`` from names where only names are given."""
    gaz = ctx.gazetteer
    has_code = "code12" in df
    if "code12" not in df:
        df["code12"] = None
    if "township" not in df and "village" not in df and not has_code:
        col.table("code12", "the layer gives neither a division code nor a township/village name.",
                  "add a 区划代码 column (12 digits), or 所属镇街 / 所属村社区 name columns.")
        return
    if gaz is None:
        col.table(None, "the workspace has no gazetteer, so division codes and names cannot be checked.",
                  "import the 统计用区划代码 first: `gisplan layers import <gazetteer.csv> --kind gazetteer`.")
        return
    level = divisions.division_level(gaz["code12"])
    townships, villages = gaz[level == "township"], gaz[level == "village"]
    resolved = df["code12"].copy()
    if "township" in df:
        field = mapping["township"]
        t_codes = _match(df["township"], townships, "township", field, col)
        resolved = resolved.where(resolved.notna() | t_codes.isna(), t_codes)
        both = (df["code12"].notna() & t_codes.notna()
                & (divisions.township_code(df["code12"].fillna("0" * 12)) != t_codes)).to_numpy()
        col.at(both, field, lambda i: f"township {_show(df['township'].iloc[i])} ({t_codes.iloc[i]}) disagrees with "
               f"code {df['code12'].iloc[i]}.", "correct the code or the township name.")
    if "village" in df:
        field = mapping["village"]
        within = resolved.str.slice(0, 9).where(resolved.notna(), None)
        v_codes = _match(df["village"], villages, "village/community", field, col, within=within)
        clash = (df["code12"].notna() & v_codes.notna() & (df["code12"] != v_codes)).to_numpy()
        col.at(clash, field, lambda i: f"village {_show(df['village'].iloc[i])} ({v_codes.iloc[i]}) disagrees with "
               f"code {df['code12'].iloc[i]}.", "correct the code or the village name.")
        take = v_codes.notna() & (resolved.isna() | (ftype.admin_level == "village"))
        resolved = resolved.where(~take, v_codes)
    df["code12"] = resolved
    code_field = mapping.get("code12", mapping.get("township", mapping.get("village", "code12")))
    unresolved = (df["code12"].isna() & ~df.get("township", pd.Series(None, index=df.index)).notna()
                  & ~df.get("village", pd.Series(None, index=df.index)).notna()).to_numpy()
    if has_code:
        col.at(unresolved & ("township" in df or "village" in df), code_field, "no division code or name.",
               "fill in the 12-digit code or the township/village name.")
    in_gaz = df["code12"].isin(gaz["code12"])
    unknown = (df["code12"].notna() & ~in_gaz).to_numpy()
    col.at(unknown, code_field, lambda i: f"code {df['code12'].iloc[i]} is not in the gazetteer.",
           "check the code against the 统计用区划代码 list (`gisplan layers show gazetteer`).")
    level = divisions.division_level(df["code12"].fillna("000000000000"))
    if ftype.admin_level == "village":
        wrong = (in_gaz & (level != "village")).to_numpy()
        col.at(wrong, code_field, lambda i: f"code {df['code12'].iloc[i]} is a {level.iloc[i]} code, but "
               f"{ftype.name_zh} belongs to a village/community.", "give the village/community's 12-digit code.")
    else:
        wrong = (in_gaz & (level == "district")).to_numpy()
        col.at(wrong, code_field, lambda i: f"code {df['code12'].iloc[i]} is the district's code; "
               f"{ftype.name_zh} belongs to a township.", "give the township's 12-digit code.")


def _host_checks(df: pd.DataFrame, mapping: dict[str, str], ctx: Context, col: _Collector) -> None:
    hosts = ctx.facilities.get("community_service_centre")
    if hosts is None or "host_facility_id" not in df:
        logger.warning("volunteer points: no community_service_centre layer yet; hosts not checked")
        return
    host_code = hosts.set_index("facility_id")["code12"]
    field = mapping["host_facility_id"]
    missing = (df["host_facility_id"].notna() & ~df["host_facility_id"].isin(host_code.index)).to_numpy()
    col.at(missing, field, lambda i: f"host {_show(df['host_facility_id'].iloc[i])} is not a community service "
           "centre in this workspace.", "give the facility_id of the hosting 社区综合服务设施.")
    declared = df["host_facility_id"].map(host_code)
    differ = (declared.notna() & df["code12"].notna() & (declared != df["code12"])).to_numpy()
    col.at(differ, mapping.get("code12", field), lambda i: f"code {df['code12'].iloc[i]} differs from its host's "
           f"{declared.iloc[i]}.", "a volunteer point sits in its host centre: use the host's code.")


def _location_checks(
    gdf: gpd.GeoDataFrame, mapping: dict[str, str], ctx: Context, usable: np.ndarray, col: _Collector,
    *, in_townships: bool = True,
) -> None:
    """Each feature lies in the district and, for coded rows, in the township its code declares.

    Distances are measured in the planning CRS (the scenario's, else the data's UTM zone); a feature
    counts as inside when it is within ``ctx.tolerance_m`` metres, since boundary layers disagree by
    tens of metres. Polygons are represented by a point on their surface.
    """
    if ctx.district is None:
        col.table(None, "the workspace has no district outline, so locations cannot be checked.",
                  "import it first: `gisplan layers import <district file> --kind district`.")
        return
    ok = usable & shapely.is_valid(gdf.geometry.to_numpy())
    if not ok.any():
        return
    probes = np.full(len(gdf), None, dtype=object)
    geoms = gdf.geometry.to_numpy()
    metric = to_planning_crs(gpd.GeoDataFrame(geometry=geoms[ok], crs=gdf.crs), ctx.planning_crs)
    probes[ok] = shapely.point_on_surface(metric.geometry.to_numpy())
    district = to_planning_crs(ctx.district, metric.crs)
    outline = shapely.union_all(district.geometry.to_numpy())
    outside_m = np.zeros(len(gdf))
    outside_m[ok] = shapely.distance(outline, probes[ok])
    name = str(district["name"].iloc[0]) if "name" in district else "the district"
    outside = ok & (outside_m > ctx.tolerance_m)
    what = "point" if (gdf.geom_type == "Point").all() else "feature"
    col.at(outside, _geometry_field(mapping), lambda i: f"the {what} lies {outside_m[i]:,.0f} m outside {name}.",
           "check the coordinates and their CRS: 高德/腾讯 points are gcj02 and 百度 points bd09 "
           "(a wrong CRS shifts points 300–500 m).")
    if not in_townships or ctx.townships is None or "code12" not in gdf:
        return
    towns = to_planning_crs(ctx.townships, metric.crs).reset_index(drop=True)
    declared = divisions.township_code(gdf["code12"].fillna("0" * 12))
    check = ok & ~outside & gdf["code12"].notna().to_numpy() & declared.isin(towns["code12"]).to_numpy()
    if not check.any():
        return
    idx = np.flatnonzero(check)
    own = np.asarray(towns.set_index("code12").geometry.loc[declared.iloc[idx]], dtype=object)
    from_own_m = shapely.distance(own, probes[idx])
    away = idx[from_own_m > ctx.tolerance_m]
    found = {int(r): "no township polygon" for r in away}
    hit_probe, hit_town = shapely.STRtree(towns.geometry.to_numpy()).query(probes[away], predicate="intersects")
    for p, t in zip(hit_probe, hit_town, strict=True):
        found[int(away[p])] = f"{towns['name'].iloc[t]} ({towns['code12'].iloc[t]})"
    distance_m = dict(zip(idx.tolist(), from_own_m.tolist(), strict=True))
    mask = np.zeros(len(gdf), dtype=bool)
    mask[away] = True
    col.at(mask, mapping.get("code12", "code12"), lambda i: f"the {what} falls in {found[i]}, {distance_m[i]:,.0f} m "
           f"from township {declared.iloc[i]} that its code {gdf['code12'].iloc[i]} declares.",
           "correct the code, or the coordinates (and their CRS) if the point is misplaced.")

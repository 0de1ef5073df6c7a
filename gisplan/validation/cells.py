"""Reading cells and coordinates of an input layer: text, codes, numbers, yes/no, choices, degrees."""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.catalogue import Attribute, normalise_header
from gisplan.i18n import _
from gisplan.io.tables import LAT_HEADERS, LON_HEADERS, LONLAT_HEADERS, WKT_HEADERS
from gisplan.validation.rules import LayerSchema, _attr, _Collector, _show

if TYPE_CHECKING:
    from gisplan.io.tables import RawTable

logger = logging.getLogger(__name__)

_TRUE = frozenset({"1", "true", "t", "yes", "y", "是", "达标", "合格", "√", "有"})


_FALSE = frozenset({"0", "false", "f", "no", "n", "否", "不达标", "不合格", "×", "无"})


_DBF_NAME_LEN = 10


#: the largest whole number a float64 (and so every numeric column) holds exactly: 2**53 - 1
_LARGEST_EXACT = 2**53 - 1


_HALFWIDTH = {0xFF01 + i: 0x21 + i for i in range(94)} | {0x3000: 0x20}


# coordinate columns of tables, spelled as gisplan.io.tables has them
_LON = _attr("lon", "float", *LON_HEADERS)


_LAT = _attr("lat", "float", *LAT_HEADERS)


_WKT = _attr("wkt", "str", *WKT_HEADERS)


_LONLAT = _attr("lonlat", "str", *LONLAT_HEADERS)


# 105°55′37.2″E, 105度55分37.2秒, E105°55'37" …
_DMS_RE = (r"^\s*(?P<h1>[NSEWnsew东西南北])?\s*(?P<d>\d+(?:\.\d+)?)\s*[°度]\s*"
           r"(?:(?P<m>\d+(?:\.\d+)?)\s*['′’分])?\s*(?:(?P<s>\d+(?:\.\d+)?)\s*(?:[\"″”秒]|'')?)?\s*"
           r"(?P<h2>[NSEWnsew东西南北])?\s*$")


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
                _("columns {hits} all mean `{name}`.").format(hits=', '.join(repr(h) for h in hits), name=attr.name),
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
                _("required column `{name}` is missing (columns found: {found}).").format(
                    name=attr.name, found=found),
                _("add the column, or rename its header to one of: {names}{extra_fix}.").format(
                    names=names, extra_fix=extra_fix),
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


# pandas' ``.str`` methods on an object column map a Python function over its cells too (``lib.map_infer``), but
# cost ~2 ms a call before the first cell: 126 calls were 0.5 s of the 永川 import; numpy ufuncs of the same
# functions take microseconds
_SPACES_ONLY = np.frompyfunc(lambda v: isinstance(v, str) and not v.strip(), 1, 1)
_IS_TEXT = np.frompyfunc(lambda v: isinstance(v, str), 1, 1)


def _blank_cells(values: np.ndarray) -> np.ndarray:
    """:func:`_blank` for a whole object column at once."""
    missing: np.ndarray = np.asarray(pd.isna(values), dtype=bool)
    if not len(values):
        return missing
    spaces: np.ndarray = np.asarray(_SPACES_ONLY(np.asarray(values, dtype=object)), dtype=bool)
    blank: np.ndarray = missing | spaces
    return blank


def _text_cells(values: pd.Series) -> np.ndarray:
    """Which cells of an object Series are text."""
    if not len(values):
        return np.zeros(0, dtype=bool)
    return np.asarray(_IS_TEXT(values.to_numpy(dtype=object)), dtype=bool)


def _cells(values: pd.Series, convert: Any = None) -> pd.Series:
    """An object Series with None for every blank cell, `convert` applied to the others.

    Column-wise: blanks are found at once, and on text columns (every table, most layers) `convert` runs once
    per distinct value, not per cell. (pandas 3 turns a None returned by ``Series.map`` into NaN, whose ``str``
    is 'nan'.)
    """
    out = values.to_numpy(dtype=object).copy()
    # a numeric column (a GeoPackage's or GeoParquet's own numbers) holds no text: blank means missing
    blank = np.asarray(pd.isna(out), dtype=bool) if values.dtype.kind in "iufb" else _blank_cells(out)
    out[blank] = None
    filled = np.flatnonzero(~blank)
    if convert is not None and len(filled):
        cells = out[filled]
        converted = np.empty(len(filled), dtype=object)
        if pd.api.types.infer_dtype(cells, skipna=False) == "string":
            codes, uniques = pd.factorize(cells)
            once = np.empty(len(uniques), dtype=object)
            once[:] = [convert(v) for v in uniques]
            converted[:] = once[codes]
        else:  # mixed Python types: 1, 1.0 and True are one key to a hash table, not to `convert`
            converted[:] = [convert(v) for v in cells]
        out[filled] = converted
    return pd.Series(out, index=values.index, dtype=object)


def _parse_column(values: pd.Series, attr: Attribute, column: str, required: bool, col: _Collector) -> pd.Series:
    text = _cells(values)
    empty = text.isna().to_numpy()
    if required:
        col.at(empty, column, lambda i: _("`{name}` is empty: {note}.").format(name=attr.name, note=note)
               if (note := col.blank_note(i, column)) else _("`{name}` is empty.").format(name=attr.name),
               "fill it in; every row needs it (unmerge merged cells and fill each one).")
    if attr.dtype == "str":
        return _cells(text, lambda v: str(v).strip())
    if attr.dtype == "code12":
        return _parse_code(text, column, col)
    if attr.dtype in {"float", "int"}:
        # a numeric column (a GeoPackage's or GeoParquet's own numbers) holds no text to clean
        return _parse_number(text, attr, column, col, numeric=values.dtype.kind in "iuf")
    norm = _cells(text, lambda v: normalise_header(str(v)))
    if attr.dtype == "bool":
        bad = (norm.notna() & ~norm.isin(_TRUE | _FALSE)).to_numpy()
        col.at(bad, column, lambda i: _("{text} is not yes/no.").format(
                text=_show(text.iloc[i])), "write 是/否 (or 1/0, true/false).")
        return _cells(norm, lambda v: v in _TRUE)
    # enum
    bad = (norm.notna() & ~norm.isin(list(attr.values))).to_numpy()
    allowed = ", ".join(sorted(set(attr.values.values())))
    spellings = "/".join(k for k in list(attr.values)[:8])
    col.at(bad, column, lambda i: _("{text} is not one of: {allowed}.").format(
            text=_show(text.iloc[i]), allowed=allowed), _("write one of {spellings}.").format(
            spellings=spellings))
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
        lambda i: _("{raw} is a division code that Excel turned into scientific notation; its last digits are "
                    "lost.").format(
                raw=_show(raw.iloc[i])),
        "format the column as text in Excel and type the 12-digit codes again (or copy them from the gazetteer).",
    )
    code = _cells(raw, _widen_code)
    bad = (code.notna() & ~code.astype("string").str.fullmatch(r"\d{12}").fillna(False)).to_numpy(dtype=bool)
    col.at(
        bad & ~sci,
        column,
        lambda i: _("{raw} is not a 12-digit division code (统计用区划代码).").format(raw=_show(raw.iloc[i])),
        "write the 12-digit code, e.g. 500118001000 for a township, 500118001003 for a community "
        "(Excel: format the column as text so it keeps every digit).",
    )
    return code.where(~pd.Series(bad, index=code.index), None)


def _strip_suffix(text: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)].strip()
    return text


def _number_text(text: pd.Series, suffixes: tuple[str, ...]) -> pd.Series:
    """:func:`_strip_suffix` of the half-width text without thousands separators, column-wise; cells that
    are not text (a shapefile's numbers) as they are."""
    values = pd.Series(text.to_numpy(dtype=object), index=text.index, dtype=object)
    is_text = _text_cells(values)
    if not is_text.any():
        return values
    words = values[is_text].str.translate(_HALFWIDTH).str.strip().str.replace(",", "", regex=False)
    done = np.zeros(len(words), dtype=bool)
    for suffix in suffixes:  # the first unit word that ends the cell, as _strip_suffix takes it
        hit = ~done & (words.str.endswith(suffix) & (words.str.len() > len(suffix))).to_numpy(dtype=bool)
        words[hit] = words[hit].str.slice(0, -len(suffix)).str.strip()
        done |= hit
    values[is_text] = words
    return values


def _parse_number(text: pd.Series, attr: Attribute, column: str, col: _Collector, *,
                  numeric: bool = False) -> pd.Series:
    cleaned = text if numeric else _number_text(text, attr.suffixes)
    num = pd.to_numeric(cleaned, errors="coerce")
    bad = (~text.isna() & num.isna()).to_numpy()
    unit = _(" in {unit}").format(unit=attr.unit) if attr.unit else ""
    col.at(
        bad,
        column,
        lambda i: _("{text} is not a number (expected `{name}`{unit}).").format(
                text=_show(text.iloc[i]), name=attr.name, unit=unit),
        _("write a plain number, e.g. 350 or 350.5 (a unit word {suffixes} may follow).").format(
            suffixes="/".join(attr.suffixes)) if attr.suffixes else _("write a plain number, e.g. 350 or 350.5."),
    )
    values = num.to_numpy(dtype=float, na_value=np.nan)
    infinite = np.isinf(values)
    col.at(infinite, column, lambda i: _("{text} is not a finite number (expected `{name}`{unit}).").format(
            text=_show(text.iloc[i]), name=attr.name, unit=unit),
           "write the real value; 'inf', '∞' or an overflowing formula result cannot be counted.")
    too_big = ~infinite & (np.abs(np.nan_to_num(values)) > _LARGEST_EXACT)
    col.at(too_big, column, lambda i: _("{text} is too large for the `{name}` column (at most {largest_exact:,} "
                                        "can be stored exactly).").format(
            text=_show(text.iloc[i]), name=attr.name, largest_exact=_LARGEST_EXACT),
           "check the value: a unit or a column mix-up, or digits "
           "typed twice?")
    num = num.where(~pd.Series(infinite | too_big, index=num.index))
    if attr.dtype == "int":
        frac = (~num.isna() & (num % 1 != 0)).to_numpy()
        col.at(frac, column, lambda i: _("{text} is not a whole number.").format(
                text=_show(text.iloc[i])), "write a whole number.")
    if attr.min_value is not None:
        low = (num < attr.min_value).fillna(False).to_numpy()
        col.at(
            low,
            column,
            lambda i: _("{text} is below the minimum {min_value:g}.").format(
                    text=_show(text.iloc[i]), min_value=attr.min_value),
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
        with warnings.catch_warnings():  # GEOS warns about NaN coordinates; they are reported by row below
            warnings.simplefilter("ignore", RuntimeWarning)
            geoms = shapely.from_wkt(wkt.to_numpy(dtype=object), on_invalid="ignore")
        bad = (wkt.notna().to_numpy() & pd.isna(geoms))
        col.at(bad, mapping["wkt"],
               lambda i: _("{wkt} is not valid WKT ({wkt_reason}).").format(
                       wkt=_show(wkt.iloc[i])[:60], wkt_reason=_wkt_reason(wkt.iloc[i])),
               "write e.g. POINT (105.92 29.35) or POLYGON ((105.9 29.3, 105.95 29.3, 105.95 29.35, 105.9 29.3)); "
               "a polygon's ring ends on its first point.")
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
                "add longitude and latitude columns in decimal degrees, or import a GeoJSON/GPKG/SHP; a ledger "
                "with only 地址 / 所属村社区 can be placed at its villages' points with `--locate-by-name`.",
            )
        return None
    if len(have) == 1:
        col.table(have[0], "only one coordinate column was found.", "add both longitude and latitude.")
        return None
    return _points((frame[mapping["lon"]], mapping["lon"]), (frame[mapping["lat"]], mapping["lat"]),
                   frame, schema, col, projected=projected)


def _wkt_reason(text: object) -> str:
    """Why GEOS refuses one WKT text (called for refused cells only)."""
    try:
        shapely.from_wkt(str(text))
    except shapely.errors.GEOSException as exc:
        reason = str(exc)
        if "closed linestring" in reason:
            return "a polygon ring is not closed: its last point must repeat its first"
        return reason.split(": ", 1)[-1].rstrip(".")
    return "unreadable"


def _split_lonlat(
    text: pd.Series, column: str, col: _Collector
) -> tuple[tuple[pd.Series, str], tuple[pd.Series, str], np.ndarray]:
    """Split a single ``经纬度`` column ("105.927,29.356") into longitude and latitude texts."""
    parts = text.astype("string").str.strip().str.split(r"\s*[,，;；/]\s*|\s+", regex=True)
    n = parts.map(lambda p: len(p) if isinstance(p, list) else 0)
    bad = (text.notna() & (n != 2)).to_numpy()
    col.at(bad, column, lambda i: _("{text} is not 'longitude,latitude'.").format(text=_show(text.iloc[i])),
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
    minutes, seconds = dms["m"].astype("float64"), dms["s"].astype("float64")
    sixty = ((minutes >= 60) | (seconds >= 60)).fillna(False).to_numpy(dtype=bool)
    col.at(sixty, column, lambda i: _("{text} has minutes or seconds of 60 or more (expected `{name}` in "
                                      "degrees-minutes-seconds, each below 60).").format(
            text=_show(text.iloc[i]), name=attr.name),
           "check the digits (e.g. 105°55′37″): minutes and seconds run from 0 to 59.99.")
    value = dms["d"].astype("float64") + minutes.fillna(0) / 60 + seconds.fillna(0) / 3600
    hemi = dms["h1"].fillna(dms["h2"]).fillna("")
    value = value.where(~hemi.isin(["S", "s", "W", "w", "南", "西"]), -value)
    num = num.fillna(value.where(~pd.Series(sixty, index=value.index)))
    bad = (text.notna() & num.isna()).to_numpy() & ~sixty
    col.at(bad, column, lambda i: _("{text} is not a number (expected `{name}` in degrees).").format(
            text=_show(text.iloc[i]), name=attr.name),
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
        lambda i: _("longitude {lo:g} and latitude {la:g} look swapped (China is at 73–135° E, 18–54° N).").format(
                lo=lo[i], la=la[i]),
        "swap the two columns (经度 is the larger number in China).",
    )
    out = ~swapped & ((np.abs(lo) > 180) | (np.abs(la) > 90))
    col.at(
        out,
        both,
        lambda i: _("({lo:g}, {la:g}) is not a longitude/latitude in degrees.").format(lo=lo[i], la=la[i]),
        "give decimal degrees (e.g. 105.927, 29.356); for projected x/y in metres declare their CRS with "
        "--crs (e.g. EPSG:4544, CGCS2000 3° Gauss-Krüger CM 105E).",
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
        lambda i: _("x {x:,.0f} looks like a northing and y {y:,.0f} like an easting (Chinese survey tables put X "
                    "north, Y east).").format(x=x[i], y=y[i]),
        "swap the columns, or head them 北坐标 (northing) and 东坐标 (easting).",
    )
    ok = ~np.isnan(x) & ~np.isnan(y) & ~survey
    geoms = np.full(len(frame), None, dtype=object)
    geoms[ok] = shapely.points(x[ok], y[ok])
    return gpd.GeoSeries(geoms, index=frame.index)


def _check_lonlat(gdf: gpd.GeoDataFrame, usable: np.ndarray, field: str, col: _Collector) -> np.ndarray:
    """After conversion to EPSG:4326: report geometries whose coordinates are not lon/lat degrees."""
    bounds = shapely.bounds(gdf.geometry.to_numpy())
    x, y = bounds[:, [0, 2]], bounds[:, [1, 3]]
    with np.errstate(invalid="ignore"):
        swapped = usable & (y[:, 0] > 70) & (y[:, 1] < 140) & (x[:, 0] > 0) & (x[:, 1] < 60)
        beyond = usable & ~swapped & ((np.abs(x) > 180).any(axis=1) | (np.abs(y) > 90).any(axis=1))
    col.at(beyond, field, lambda i: _("coordinates such as ({x:,.6g}, {y:,.6g}) are not longitude/latitude degrees "
                                      "after conversion: the coordinate system is wrong.").format(
            x=bounds[i, 0], y=bounds[i, 1]),
           "declare the real CRS with --crs (a projected file without .prj: e.g. EPSG:4544 for CGCS2000 3° "
           "Gauss-Krüger CM 105E, or EPSG:4523 when the eastings carry the zone number 35).")
    col.at(swapped, field, lambda i: _("coordinates ({x:.6g}, {y:.6g}) look like latitude, longitude "
                                       "(swapped).").format(
            x=bounds[i, 0], y=bounds[i, 1]), "write longitude first (x = 经度), latitude second.")
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
        lambda i: _("the geometry is a {geom_type}; a {kind} layer needs {expected}.").format(
                geom_type=type_names[i], kind=schema.kind, expected=expected),
        "convert the features (QGIS: Vector › Geometry Tools) or import them as the right kind.",
    )
    valid = shapely.is_valid(arr)
    # a NaN x or y makes a geometry invalid ("Invalid Coordinate"): only invalid ones are looked at again, for
    # NaN coordinates and for GEOS's reason
    suspect = np.flatnonzero(~missing & ~valid)
    nan = np.zeros(len(arr), dtype=bool)
    nan[suspect] = np.isnan(_coordinate_sums(arr[suspect]))
    invalid = ~missing & ~wrong & ~valid & ~nan
    reasons = np.full(len(arr), None, dtype=object)
    reasons[suspect] = shapely.is_valid_reason(arr[suspect])
    col.at(nan & ~wrong, "geometry", "a coordinate of the geometry is not a number (NaN).",
           "fill in or delete the point without coordinates (QGIS: Vector › Geometry Tools › Check Validity).")
    col.at(
        invalid,
        "geometry",
        lambda i: _("the geometry is invalid ({reason}).").format(reason=reasons[i]),
        "repair it (QGIS: Processing › Fix geometries, or shapely.make_valid) and import again.",
    )
    return np.asarray(~missing & ~wrong & ~invalid & ~nan, dtype=bool)


def _coordinate_sums(arr: np.ndarray) -> np.ndarray:
    """Per geometry, the sum of its x and y coordinates (NaN when any coordinate is NaN), column-wise."""
    coords, index = shapely.get_coordinates(arr, return_index=True)
    sums: np.ndarray = np.bincount(index, weights=coords.sum(axis=1), minlength=len(arr))
    return sums

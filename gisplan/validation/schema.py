"""Layer kinds, their schemas, and `validate_layer`, which collects every problem before failing.

A layer is checked on its own (columns, types, values, geometry, duplicates) and against what the
workspace already knows (the gazetteer, the district and township polygons, other facility layers)."""

from __future__ import annotations

import logging
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.catalogue import LAYER_KINDS, Catalogue, FacilityType, normalise_header
from gisplan.crs import STORAGE_CRS, DeclaredCRS, to_storage_crs
from gisplan.errors import CRSError, SchemaError
from gisplan.i18n import _
from gisplan.io.tables import RawTable
from gisplan.validation.cells import (
    _LAT,
    _LON,
    _LONLAT,
    _WKT,
    _check_geometry,
    _check_lonlat,
    _map_columns,
    _parse_column,
    _table_geometry,
)
from gisplan.validation.crosschecks import _kind_checks
from gisplan.validation.locate import address_matches, unit_points
from gisplan.validation.rules import (
    _LINES,
    _POINTS,
    _POLYGONS,
    Context,
    LayerSchema,
    _attr,
    _Collector,
    _geometry_field,
)
from gisplan.vocab import LocationPrecision

logger = logging.getLogger(__name__)

__all__ = ["KINDS", "Context", "LayerSchema", "layer_schema", "validate_layer"]


KINDS = LAYER_KINDS


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
            msg = _("`ftype` is required for kind 'facilities'; pass --type.")
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
    msg = _("unknown layer kind {kind!r}; expected one of {kinds}.").format(kind=kind, kinds=', '.join(KINDS))
    raise ValueError(msg)


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
        As read by :func:`gisplan.io.tables.read_table` or :func:`gisplan.io.spatial.read_spatial`.
    kind : str
        One of :data:`KINDS`.
    catalogue : Catalogue
    ftype : FacilityType, optional
        Required for ``facilities``.
    declared_crs : DeclaredCRS, optional
        The user's ``--crs``; required for coordinates in a table.
    context : Context, optional
        For cross-layer checks (checks whose layer is missing are skipped, and logged) and the layer's
        overrides (``tolerance_m``, ``accept_large``).
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
    col = _Collector(src, rows, data.blanks if isinstance(data, RawTable) else None)
    if len(frame) == 0:
        col.table(None, "the layer has no rows.", "check the file, sheet or layer given.")
        raise SchemaError(col.problems)
    extra = (_LON, _LAT, _WKT, _LONLAT) if is_table and schema.geometry is not None else ()
    if make_ids and ftype is not None and not any(normalise_header(str(c)) in catalogue.attributes[
            "facility_id"].aliases for c in frame.columns):
        frame["facility_id"] = [f"{ftype.id}-{n}" for n in rows]
    mapping = _map_columns(frame, schema, extra, col)
    out = _attributes(frame, mapping, schema, kind, col)
    if is_table and kind == "facilities" and ftype is not None and context.locate_by_name and _locatable(mapping):
        return _located_layer(out, mapping, ftype, context, col, catalogue)
    geom = _source_geometry(data, frame, mapping, schema, declared_crs, col)
    usable = np.zeros(len(frame), dtype=bool)
    result: pd.DataFrame = out
    if geom is not None:
        usable = _check_geometry(geom, schema, col, report_empty=not is_table)
        if not (is_table and declared_crs is None):  # a table without --crs is reported already
            try:
                result = to_storage_crs(gpd.GeoDataFrame(out, geometry=geom), declared_crs, source=src)
                usable = _check_lonlat(result, usable, _geometry_field(mapping), col)
            except CRSError as exc:
                col.table(None, str(exc).split(": ", 1)[-1], "declare the CRS with `--crs`.")
                result = gpd.GeoDataFrame(out, geometry=geom.set_crs(STORAGE_CRS, allow_override=True))
                usable[:] = False

    host = catalogue.types.get(ftype.host) if ftype is not None and ftype.host is not None else None
    _kind_checks(result, kind, mapping, ftype, context, usable, col, host)
    _note_former_names(result.get("_former"), col.source)
    result = result.drop(columns=["_code_from", "_former"], errors="ignore")
    if col.problems:
        raise SchemaError(sorted(col.problems, key=lambda p: -1 if p.row is None else p.row))
    logger.info("validate_layer: %s (%s) — %d rows OK", src, kind, len(result))
    first = [c for c in ("facility_id", "code12", "name") if c in result.columns]
    return result[first + [c for c in result.columns if c not in first]].reset_index(drop=True)


_COORDINATES = ("lon", "lat", "lonlat", "wkt")


def _locatable(mapping: dict[str, str]) -> bool:
    """A ledger without coordinate columns that names its divisions (code, village, township or address)."""
    return not any(k in mapping for k in _COORDINATES) and any(
        k in mapping for k in ("code12", "village", "township", "address"))


def _located_layer(
    out: pd.DataFrame, mapping: dict[str, str], ftype: FacilityType, context: Context, col: _Collector,
    catalogue: Catalogue,
) -> gpd.GeoDataFrame:
    """A ledger without coordinates: each row placed at the representative point of its village/community (or
    township) found from its code, names or address, with ``location_precision`` saying which."""
    if "address" in mapping and context.gazetteer is not None:
        named = [out[c] for c in ("code12", "village", "township") if c in out]
        bare = np.logical_and.reduce([c.isna().to_numpy() for c in named]) if named else np.ones(len(out), bool)
        found = address_matches(out["address"].where(pd.Series(bare, index=out.index)), context.gazetteer,
                                context.places)
        if "code12" not in out:
            out["code12"] = None
            mapping = {**mapping, "code12": mapping["address"]}
        from_address = out["code12"].isna() & found.code12.notna()
        out["code12"] = out["code12"].where(out["code12"].notna(), found.code12)
        address_note = found.former.where(from_address & found.former.notna(), None)
        address_note = address_note.map(lambda now: f"地址用历史地名，今 {now} (former name)" if isinstance(now, str)
                                        else None)
    host = catalogue.types.get(ftype.host) if ftype.host is not None else None
    _kind_checks(out, "facilities", mapping, ftype, context, np.zeros(len(out), dtype=bool), col, host)
    note = out["_former"] if "_former" in out else pd.Series(None, index=out.index, dtype=object)
    if "address" in mapping and context.gazetteer is not None:
        note = note.where(note.notna(), address_note)
    _note_former_names(note, col.source)
    out = out.drop(columns=["_code_from", "_former"], errors="ignore")
    points, precision = unit_points(out["code12"], context) if "code12" in out else (
        gpd.GeoSeries(np.full(len(out), None, dtype=object), index=out.index, crs=STORAGE_CRS),
        pd.Series(None, index=out.index, dtype=object))
    lost = precision.isna().to_numpy() & out.get("code12", pd.Series(None, index=out.index)).notna().to_numpy()
    col.at(lost, mapping.get("village", mapping.get("township", mapping.get("code12", mapping.get("address")))),
           "the row has no coordinates, and the workspace has no polygon of its village or township to place it in.",
           "add 经度/纬度 columns, or import the township (and village) polygons first.")
    unplaced = precision.isna().to_numpy() & ~lost & out.get("code12", pd.Series(None, index=out.index)).isna(
    ).to_numpy()
    col.at(unplaced, mapping.get("address", mapping.get("village", mapping.get("township"))),
           "the row has no coordinates, and no division code, village/township name or address that names a unit.",
           "add 经度/纬度 columns, or fill in 所属村社区 / 所属镇街 (or an address naming them).")
    if col.problems:
        raise SchemaError(sorted(col.problems, key=lambda p: -1 if p.row is None else p.row))
    counts = precision.value_counts()
    logger.warning("%s: no coordinate columns; %d rows placed at their village/community's representative point "
                   "and %d at their township's (column location_precision): coverage from these points is "
                   "approximate, not metre-precise.", col.source, int(counts.get(LocationPrecision.VILLAGE, 0)),
                   int(counts.get(LocationPrecision.TOWNSHIP, 0)))
    result = gpd.GeoDataFrame(out.assign(location_precision=precision, location_note=note.astype(object)),
                              geometry=points, crs=STORAGE_CRS)
    first = [c for c in ("facility_id", "code12", "name") if c in result.columns]
    return result[first + [c for c in result.columns if c not in first]].reset_index(drop=True)


def _note_former_names(note: pd.Series | None, source: str) -> None:
    """Say (warning) how many rows name a unit by a former name (历史地名) of the place-name register."""
    if note is None or not note.notna().any():
        return
    shown = note.dropna()
    logger.warning("%s: %d rows name their village/township by a former name (历史地名), matched through the "
                   "place-name register: %s", source, len(shown), "；".join(dict.fromkeys(shown.astype(str)))[:300])


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
            col.table(name, _("columns {clash!r} and {name!r} differ only in case; a GeoPackage cannot hold "
                              "both.").format(
                    clash=clash, name=name),
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

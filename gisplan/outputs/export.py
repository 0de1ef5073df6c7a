"""`gisplan export`: layers of a workspace or of a run's ``results.gpkg`` in the formats bureaus and planning
institutes open — GeoPackage 1.2, Shapefile (GBK or UTF-8), GeoJSON, KMZ, DXF and XLSX.

Where the files go: ``gpkg``, ``kmz``, ``dxf`` and ``xlsx`` write one file ``<name>.<ext>`` holding every layer (as
layers, folders, CAD layers or sheets); ``shp`` and ``geojson`` write one file (set) per layer. All are written in a
temporary folder and renamed into place only when every one is complete; an existing file is replaced only with
``force``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from gisplan.catalogue import Catalogue, facility_type_of
from gisplan.coords import transform_geometries
from gisplan.crs import STORAGE_CRS, gauss_kruger_3deg, parse_crs
from gisplan.errors import ConfigError, CRSError, Problem, SchemaError
from gisplan.i18n import _
from gisplan.io.atomic import write_atomic_csv
from gisplan.io.export import stage_files, write_vector_file, write_xlsx
from gisplan.io.spatial import list_file_layers, read_file_layer
from gisplan.outputs.export_dxf import DxfLayer, dxf_layer_name, write_dxf
from gisplan.outputs.export_kml import KmlLayer, write_kmz
from gisplan.outputs.export_shp import check_shapefile, shapefile_field_names
from gisplan.outputs.people import for_people
from gisplan.settings import gpkg_versions
from gisplan.vocab import ExportFormat

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from gisplan.store import Workspace

__all__ = ["ExportOptions", "ExportSource", "export_crs", "export_layers", "results_source", "workspace_source"]

logger = logging.getLogger(__name__)

ILLUSTRATIVE_NOTE = "示意 ILLUSTRATIVE: 含生成的示意数据，不是真实设施 (generated data, not real facilities)"
# Chinese labels of the columns gisplan writes, shown beside the English name ("名称 name")
_FIELD_ZH = {
    "facility_id": "编号", "name": "名称", "code12": "区划代码", "type": "类型", "facility_type": "设施类型",
    "township": "镇街", "township_name": "镇街", "village": "村社区", "village_name": "村社区", "status": "状态",
    "floor_area_m2": "建筑面积(㎡)", "beds": "床位数", "nursing_beds": "护理型床位", "operator": "运营方式",
    "address": "地址", "population": "人口", "households": "户数", "pop_60plus": "60岁以上人口", "rank": "序号",
    "year": "建设年份", "illustrative": "示意", "lon": "经度", "lat": "纬度", "site_id": "站点编号",
    "candidate_id": "候选点编号", "kind": "类别", "level": "级别", "host_facility_id": "依托设施编号",
}
_LAYER_ZH = {
    "district": "区界", "townships": "镇街", "villages": "村社区", "gazetteer": "区划代码", "households": "户数",
    "roads": "道路", "proposed_sites": "建议新增选址", "gaps": "覆盖缺口", "areas": "服务范围", "demand": "需求点",
    "admin_gaps": "缺设施的区划", "indicators": "指标", "coverage_demand": "需求点覆盖", "coverage_units": "覆盖统计",
    "coverage_areas": "服务范围",
}
_NAME_COLUMNS = ("name", "名称", "site_id", "candidate_id", "facility_id", "township_name", "village_name")
_CODE_COLUMNS = ("code12", "village_code12", "township_code12", "facility_id", "site_id", "candidate_id")
_TYPE_COLUMNS = ("type", "facility_type", "type_id")
_OTHER_COLOUR = "#757575"  # grey: no catalogue type has it
_SAFE_NAME = re.compile(r"[^\w\u4e00-\u9fff.-]+")


@dataclass(frozen=True, slots=True)
class ExportSource:
    """Where layers come from: a label for messages, the layer names, a reader, and the layers its metadata
    flags as generated (示意) data (a layer whose ``illustrative`` column holds a true value is one too)."""

    label: str
    names: tuple[str, ...]
    read: Callable[[str], pd.DataFrame]
    illustrative_layers: frozenset[str] = frozenset()


def workspace_source(workspace: Workspace) -> ExportSource:
    """The layers of a workspace (its metadata table says which are illustrative)."""
    meta = workspace.metadata()
    flagged = frozenset(meta.loc[meta["illustrative"].astype(bool), "layer"]) if "illustrative" in meta else frozenset()
    return ExportSource(workspace.label, tuple(sorted(workspace.layer_names())), workspace.read, flagged)


def results_source(path: Path) -> ExportSource:
    """The layers of a run's ``results.gpkg`` (or another result GeoPackage such as ``coverage.gpkg``); their
    ``illustrative`` column says whether they hold generated data."""
    names = tuple(n for n in list_file_layers(path) if not n.startswith(("gisplan_", "gpkg_", "rtree_")))
    return ExportSource(str(path), names, lambda name: read_file_layer(path, layer=name))


def _illustrative(source: ExportSource, frames: dict[str, pd.DataFrame]) -> frozenset[str]:
    """The chosen layers that hold generated (示意) data."""
    return frozenset(n for n, f in frames.items() if n in source.illustrative_layers
                     or ("illustrative" in f and bool(f["illustrative"].fillna(False).astype(bool).any())))


def _label(name: str, catalogue: Catalogue) -> str:
    type_id = facility_type_of(name)
    if type_id is not None and type_id in catalogue.types:
        return f"{catalogue.types[type_id].name_zh} {name}"
    zh = _LAYER_ZH.get(name)
    return f"{zh} {name}" if zh else name


def _field_label(column: str) -> str:
    zh = _FIELD_ZH.get(column)
    return f"{zh} {column}" if zh else column


def _first(frame: pd.DataFrame, columns: Sequence[str]) -> str | None:
    return next((c for c in columns if c in frame.columns), None)


def _type_keys(name: str, frame: pd.DataFrame, catalogue: Catalogue) -> list[str]:
    """The facility type of each row: the layer's own type, else a row's ``type`` column, else the layer name."""
    type_id = facility_type_of(name)
    if type_id is not None:
        return [type_id] * len(frame)
    column = _first(frame, _TYPE_COLUMNS)
    if column is not None:
        return [str(v) if str(v) in catalogue.types else name for v in frame[column]]
    return [name] * len(frame)


def _colour(key: str, catalogue: Catalogue) -> str:
    return catalogue.types[key].map_colour if key in catalogue.types else _OTHER_COLOUR


def export_crs(text: str | None, fmt: ExportFormat, lon: Callable[[], float]) -> tuple[CRS, str | None]:
    """The CRS of an export and, for ``gcj02``, the Chinese offset system: `text` (``--crs``) if given, else
    WGS84, or for DXF the CGCS2000 3° Gauss-Krüger zone (CM) of the longitude `lon()` gives (the layers'
    centre, computed only when needed). ``gk3`` and ``gk3-zone`` name that zone without and with the zone prefix.

    Raises
    ------
    CRSError
        If the CRS does not suit the format: GeoJSON and KMZ are WGS84 (KMZ also GCJ-02), DXF is projected, and
        GCJ-02 is for KMZ only.
    """
    if text is None:
        return (gauss_kruger_3deg(lon()) if fmt is ExportFormat.DXF else CRS.from_user_input(STORAGE_CRS)), None
    key = text.strip().lower()
    if key in {"gk3", "gk3-zone"}:
        crs, system = gauss_kruger_3deg(lon(), zone_prefix=key == "gk3-zone"), None
    else:
        declared = parse_crs(text)
        crs, system = declared.crs, declared.chinese_system
    if system is not None and not (fmt is ExportFormat.KMZ and system == "gcj02"):
        msg = (_("`--crs {text}` is for KMZ only (`--format kmz --crs gcj02`, for apps known to want GCJ-02); "
                 "other exports are WGS84 or a projected CRS.").format(text=text))
        raise CRSError(msg)
    if fmt in {ExportFormat.GEOJSON, ExportFormat.KMZ} and system is None and crs != CRS.from_user_input(STORAGE_CRS):
        msg = _("`--format {fmt}` is WGS84 (EPSG:4326) by its standard (got `--crs {text}`); leave `--crs` "
                "out.").format(fmt=fmt, text=text)
        raise CRSError(msg)
    if fmt is ExportFormat.DXF and not crs.is_projected:
        msg = _("`--format dxf` needs a projected CRS in metres (got {name}); leave `--crs` out for the 3° "
                "zone.").format(name=crs.name)
        raise CRSError(msg)
    return crs, system


def _project(frame: gpd.GeoDataFrame, crs: CRS, system: str | None) -> gpd.GeoDataFrame:
    out = frame.to_crs(STORAGE_CRS) if frame.crs is not None else frame.set_crs(STORAGE_CRS)
    if system is not None:
        return out.set_geometry(transform_geometries(out.geometry.values, source="wgs84", target=system),
                                crs=STORAGE_CRS)
    return out.to_crs(crs)


def _read(source: ExportSource, names: Sequence[str] | None, fmt: ExportFormat) -> dict[str, pd.DataFrame]:
    """The chosen layers; without a choice every layer, less the tables when `fmt` holds only features."""
    if names is None:
        frames = {n: source.read(n) for n in source.names}
        if fmt not in {ExportFormat.GPKG, ExportFormat.XLSX}:
            tables = [n for n, f in frames.items() if not isinstance(f, gpd.GeoDataFrame)]
            if tables:
                logger.warning("export: tables left out of %s (it holds features only): %s", fmt, ", ".join(tables))
            frames = {n: f for n, f in frames.items() if n not in tables}
        return frames
    unknown = [n for n in names if n not in source.names]
    if unknown:
        raise SchemaError([Problem(source.label, None, None, _("has no layer `{n}`.").format(n=n),
                                   _("choose from: {names}.").format(names=', '.join(source.names))) for n in unknown])
    frames = {n: source.read(n) for n in names}
    tables = [n for n, f in frames.items() if not isinstance(f, gpd.GeoDataFrame)]
    if tables and fmt not in {ExportFormat.GPKG, ExportFormat.XLSX}:
        raise SchemaError([Problem(source.label, None, None, _("layer `{n}` is a table without geometry; `--format "
                                                               "{fmt}` holds only features.").format(n=n, fmt=fmt),
                                   "export it with `--format xlsx` or `--format gpkg`.") for n in tables])
    return frames


def _centre_lon(frames: dict[str, pd.DataFrame]) -> float:
    spatial = [f.to_crs(STORAGE_CRS) for f in frames.values() if isinstance(f, gpd.GeoDataFrame) and len(f)]
    if not spatial:
        msg = _("the chosen layers have no features; there is nothing to place on a map.")
        raise ConfigError(msg)
    bounds = pd.concat([f.geometry.bounds for f in spatial])
    return float((bounds["minx"].min() + bounds["maxx"].max()) / 2)


def _safe(name: str) -> str:
    return _SAFE_NAME.sub("_", name).strip("._") or "layer"


def _spatial(frames: dict[str, pd.DataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """The frames, typed as the GeoDataFrames :func:`_read` has checked them to be."""
    return {n: f for n, f in frames.items() if isinstance(f, gpd.GeoDataFrame)}


def _file_names(fmt: ExportFormat, names: Sequence[str], basename: str) -> list[str]:
    if fmt is ExportFormat.SHP:
        return [f"{_safe(n)}{ext}" for n in names for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".fields.csv")]
    if fmt is ExportFormat.GEOJSON:
        return [f"{_safe(n)}.geojson" for n in names]
    return [f"{_safe(basename)}.{fmt.value}"]


def _xlsx_sheet(frame: pd.DataFrame, crs: CRS) -> pd.DataFrame:
    if not isinstance(frame, gpd.GeoDataFrame):
        return pd.DataFrame(frame)
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    points = frame.geometry.where(frame.geometry.geom_type == "Point", frame.geometry.representative_point())
    x_name, y_name = (("经度 lon", "纬度 lat") if crs.is_geographic else ("东坐标 easting_m", "北坐标 northing_m"))
    if not (frame.geometry.geom_type == "Point").all():
        x_name, y_name = f"代表点{x_name}", f"代表点{y_name}"
    attributes[x_name] = points.x.to_numpy()
    attributes[y_name] = points.y.to_numpy()
    attributes["坐标系 crs"] = crs.to_string()
    return attributes


def _check_shapefiles(frames: dict[str, gpd.GeoDataFrame], encoding: str, source: str) -> None:
    """Every problem of every layer at once (see :func:`check_shapefile`)."""
    problems: list[Problem] = []
    for name, frame in frames.items():
        try:
            check_shapefile(frame, layer=f"{source} [layer {name}]", encoding=encoding)
        except SchemaError as exc:
            problems += exc.problems
    if problems:
        raise SchemaError(problems)


def _write_shapefiles(frames: dict[str, gpd.GeoDataFrame], tmp: Path, encoding: str) -> None:
    for name, frame in frames.items():
        columns = [c for c in frame.columns if c != frame.geometry.name]
        mapping = shapefile_field_names([str(c) for c in columns], encoding=encoding)
        out = frame.rename(columns=mapping)
        for column in mapping.values():
            if out[column].dtype == bool or str(out[column].dtype) == "boolean":
                out[column] = out[column].astype("Int8")
            elif pd.api.types.is_datetime64_any_dtype(out[column]):
                out[column] = out[column].astype(str)
        write_vector_file(out, tmp / f"{_safe(name)}.shp", driver="ESRI Shapefile", encoding=encoding)
        write_atomic_csv(pd.DataFrame({"column": list(mapping), "shapefile_field": list(mapping.values())}),
                         tmp / f"{_safe(name)}.fields.csv")


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """How to export (the options of `gisplan export`).

    Attributes
    ----------
    fmt : ExportFormat
    crs : str, optional
        ``--crs``: an EPSG code or PROJ text, ``gk3``/``gk3-zone`` (the CGCS2000 3° Gauss-Krüger zone of the
        layers, without/with the zone prefix), or ``gcj02`` (KMZ only). Default WGS84, and for DXF ``gk3``.
    encoding : {"gbk", "utf-8"}
        The Shapefile ``.dbf`` encoding (a matching ``.cpg`` is written).
    basename : str
        The file name (without extension) of a one-file export (gpkg, kmz, dxf, xlsx).
    gpkg_version : {"1.2", "1.4"}
    force : bool
        Replace existing files.
    """

    fmt: ExportFormat
    crs: str | None = None
    encoding: str = "gbk"
    basename: str = "export"
    gpkg_version: str = "1.2"
    force: bool = False


def export_layers(
    source: ExportSource, names: Sequence[str] | None, options: ExportOptions, *, out_dir: Path, catalogue: Catalogue,
) -> list[Path]:
    """Export the layers `names` of `source` (None: every layer the format can hold) to `out_dir` as `options`
    say; return the files written.

    Raises
    ------
    SchemaError
        If a layer is missing, or holds what the format cannot (every problem listed); nothing is written.
    ConfigError
        If a target file exists and ``options.force`` is false; nothing is written.
    CRSError
        If ``options.crs`` does not suit the format.
    """
    fmt, crs = options.fmt, options.crs
    frames = _read(source, names, fmt)
    names = list(frames)
    if not names:
        msg = _("{label} has no layer that `--format {fmt}` can hold; choose `--format gpkg` or `xlsx`.").format(
                label=source.label, fmt=fmt)
        raise ConfigError(msg)
    target_crs, system = export_crs(crs, fmt, lambda: _centre_lon(frames))
    projected = {n: _project(f, target_crs, system) if isinstance(f, gpd.GeoDataFrame) else f
                 for n, f in frames.items()}
    files = _file_names(fmt, names, options.basename)
    if fmt is ExportFormat.SHP:  # refuse before anything is created
        _check_shapefiles(_spatial(projected), options.encoding, source.label)
    generated = _illustrative(source, frames)
    title = f"gisplan {source.label}" + (" (示意)" if generated else "")
    with stage_files(out_dir, files, force=options.force) as tmp:
        if fmt is ExportFormat.GPKG:
            with gpkg_versions(options.gpkg_version):
                for name, frame in projected.items():
                    write_vector_file(frame, tmp / files[0], driver="GPKG", layer=name)
        elif fmt is ExportFormat.SHP:
            _write_shapefiles(_spatial(projected), tmp, options.encoding)
        elif fmt is ExportFormat.GEOJSON:
            for name, frame in projected.items():
                write_vector_file(frame, tmp / f"{_safe(name)}.geojson", driver="GeoJSON")
        elif fmt is ExportFormat.XLSX:
            type_names = {t.id: t.name_zh for t in catalogue.types.values()}  # for people: in the language spoken
            write_xlsx({_safe(n)[:31]: for_people(_xlsx_sheet(f, target_crs), type_names=type_names)
                        for n, f in projected.items()}, tmp / files[0],
                       notes=[title, *([f"{ILLUSTRATIVE_NOTE}: {', '.join(sorted(generated))}"] if generated else [])])
        elif fmt is ExportFormat.KMZ:
            write_kmz([_kml_layer(n, f, catalogue, n in generated) for n, f in _spatial(projected).items()],
                      tmp / files[0], title=title + (" GCJ-02" if system else ""))
        else:
            write_dxf([d for n, f in _spatial(projected).items() for d in _dxf_layers(n, f, catalogue, n in generated)],
                      tmp / files[0], crs_name=target_crs.name)
    written = [out_dir / f for f in files]
    logger.info("export_layers: %d layers of %s as %s (%s)", len(names), source.label, fmt, target_crs.name)
    return written


def _display_names(name: str, frame: pd.DataFrame, keys: list[str], catalogue: Catalogue) -> list[str]:
    """The name a feature shows on a map or in CAD: its ``name`` (or id) column; a proposed site is
    "建议 <type> 第 n 处 <township><village>"; else the layer and the feature number."""
    if name == "proposed_sites" and "rank" in frame:
        where = [f"{t or ''}{v or ''}" for t, v in zip(frame.get("township", [""] * len(frame)),
                                                      frame.get("village", [""] * len(frame)), strict=True)]
        return [f"建议{catalogue.types[k].name_zh if k in catalogue.types else k} 第{r}处 {w}".strip()
                for k, r, w in zip(keys, frame["rank"], where, strict=True)]
    column = _first(frame, _NAME_COLUMNS)
    if column is not None:
        return ["" if pd.isna(v) else str(v) for v in frame[column]]
    return [f"{_label(name, catalogue)} {i + 1}" for i in range(len(frame))]


def _kml_layer(name: str, frame: gpd.GeoDataFrame, catalogue: Catalogue, illustrative: bool) -> KmlLayer:
    keys = _type_keys(name, frame, catalogue)
    title = _label(name, catalogue) + (" (示意)" if illustrative else "")
    labels = {str(c): _field_label(str(c)) for c in frame.columns}
    return KmlLayer(title, frame, labels, _display_names(name, frame, keys, catalogue), keys,
                    {k: _colour(k, catalogue) for k in set(keys)})


def _dxf_layers(name: str, frame: gpd.GeoDataFrame, catalogue: Catalogue, illustrative: bool) -> list[DxfLayer]:
    """One CAD layer per facility type: a facility layer is one; a layer with a ``facility_type`` column (the
    proposed sites) is split by it, into "建议新增选址 <type>" layers; generated data end in " (示意)"."""
    keys = _type_keys(name, frame, catalogue)
    names = pd.Series(_display_names(name, frame, keys, catalogue), index=frame.index)
    by_key = pd.Series(keys, index=frame.index)
    out = []
    for key in dict.fromkeys(keys):
        part = frame[by_key == key]
        if key in catalogue.types:
            kind = catalogue.types[key]
            cad = f"{kind.name_zh} {key}" if facility_type_of(name) else f"{_LAYER_ZH.get(name, name)} {kind.name_zh}"
        else:
            cad = _label(name, catalogue)
        block = key if facility_type_of(name) or key == name else f"{name}_{key}"
        cad += " (示意)" if illustrative else ""
        out.append(DxfLayer(dxf_layer_name(cad), block, part, _colour(key, catalogue), list(names[by_key == key]),
                            _first(frame, _CODE_COLUMNS)))
    return out

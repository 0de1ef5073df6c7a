"""Writing one layer into a GeoPackage commit's temporary copy (:mod:`gisplan.store.gpkg`), through GDAL's Arrow
interface, handing back the geometry's WKB for the commit's history hash so that it is encoded once; and reading
its attributes back (:func:`read_attributes`).

:func:`write_layer` writes a frame of plain columns (numbers, true/false, text) with its WKB through
``pyogrio.write_arrow``, with the layer geometry type and CRS that ``pyogrio.write_dataframe`` would declare;
any other frame goes through ``pyogrio.write_dataframe`` itself. Both give the same stored layer
(tests/test_store_written.py compares every stored cell, the geometry blobs and GDAL's layer description).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from gisplan.settings import option_held
from gisplan.store.layerhash import geometry_name

if TYPE_CHECKING:
    import contextlib
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["ARROW_SAFE", "prepare", "read_attributes", "sqlite_unsynced", "write_layer"]


def sqlite_unsynced() -> contextlib.AbstractContextManager[None]:
    """GDAL's writes to a commit's temporary copy without SQLite's syncs (the copy is fsynced once before it replaces
    the workspace, and thrown away on any failure): one switch for the process, shared with the output writers."""
    return option_held("OGR_SQLITE_SYNCHRONOUS", "OFF", pyogrio.get_gdal_config_option, pyogrio.set_gdal_config_options)


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with object columns of true/false only as pandas' nullable booleans (a copy where there are any;
    `frame` itself otherwise: neither write changes the frame it is given)."""
    geom = getattr(frame, "_geometry_column_name", None)
    text = np.dtype(object)
    flags = [column for i, column in enumerate(frame.columns) if column != geom and frame.dtypes.iloc[i] == text
             and {type(v) for v in frame.iloc[:, i].dropna()} == {bool}]
    if not flags:
        return frame
    out = frame.copy()
    for column in flags:
        out[column] = out[column].astype("boolean")
    return out


def write_layer(path: Path, name: str, data: pd.DataFrame) -> np.ndarray | None:
    """Write `data` as layer `name` of the GeoPackage `path` (its SQLite syncs off); the WKB of each row's
    geometry as written (``shapely.to_wkb``, None where missing) when it went through :func:`_write_plain`, else
    None."""
    frame = prepare(data)
    with sqlite_unsynced():
        if isinstance(frame, gpd.GeoDataFrame):
            wkb = _write_plain(path, name, frame)
            if wkb is not None:
                return wkb
            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", promote_to_multi=False, use_arrow=True)
        else:
            pyogrio.write_dataframe(pd.DataFrame(frame), path, layer=name, driver="GPKG", use_arrow=True)
    return None


def _plain(series: pd.Series) -> bool:
    """A column pyogrio's Arrow write takes as it is: numbers, true/false or text (text with a value)."""
    if series.dtype.kind in "iufb" or str(series.dtype) in {"str", "boolean", "Int64", "Int32", "Float64"}:
        return True
    return series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "string"


def _geometry_type(values: np.ndarray) -> str:
    """The layer geometry type ``pyogrio.write_dataframe`` declares with ``promote_to_multi=False``: the one
    type of every present geometry, else ``Unknown``; `` Z`` when any non-empty one has z."""
    present = values[~shapely.is_missing(values)]
    types = pd.unique(shapely.get_type_id(present))
    # a ring's WKB is a LineString's (a layer declared LinearRing crashes GDAL)
    names = ("Point", "LineString", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon",
             "GeometryCollection")
    kind = names[int(types[0])] if len(types) == 1 and 0 <= int(types[0]) < len(names) else "Unknown"
    solid = present[~shapely.is_empty(present)]
    has_z = bool(shapely.has_z(solid).any()) if len(solid) else False
    return f"{kind} Z" if has_z and kind != "Unknown" else kind


def _write_plain(path: Path, name: str, frame: gpd.GeoDataFrame) -> np.ndarray | None:
    """Write a frame of plain columns (:func:`_plain`) through ``pyogrio.write_arrow`` as ``write_dataframe``
    would, and return the geometry's WKB; None (nothing written) for any other frame."""
    geom = geometry_name(frame)
    if geom is None or len(frame) == 0 or (frame.dtypes == "geometry").sum() != 1:
        return None
    names = [c for c in frame.columns if c != geom]
    if not all(isinstance(c, str) and _plain(frame[c]) for c in names):
        return None
    values = frame.geometry.to_numpy()
    if bool(shapely.is_missing(values).all()):
        return None  # pyogrio casts an all-null geometry column; leave that to it
    wkb = np.asarray(shapely.to_wkb(values), dtype=object)
    crs = frame.crs
    epsg = crs.to_epsg() if crs is not None else None
    crs_text = f"EPSG:{epsg}" if epsg else (crs.to_wkt("WKT1_GDAL") if crs is not None else None)
    # the columns in the frame's order, the geometry as WKB in its place (as write_dataframe builds its table)
    columns = {c: wkb if c == geom else frame[c].reset_index(drop=True) for c in frame.columns}
    table = pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)
    pyogrio.write_arrow(table, path, layer=name, driver="GPKG", geometry_name=geom,
                        geometry_type=_geometry_type(values), crs=crs_text)
    return wkb


#: Field types whose Arrow read gives the row-wise read's column (tests/test_store_written.py); a true/false
#: field (1.0/0.0/NaN row-wise where empty, objects through Arrow), a date or a time is read row-wise
ARROW_SAFE = frozenset({"int64", "int32", "int16", "float64", "float32", "object"})


def read_attributes(path: Path, name: str, info: Mapping[str, Any]) -> pd.DataFrame:
    """The attribute columns of layer `name` as the store reads them (pyogrio's row-wise read), through Arrow
    where that gives the same frame (5 times less CPU on 293,467 road links): a non-empty layer of the field
    types in :data:`ARROW_SAFE` with no text field empty in every row (row-wise such a column is ``object``)."""
    if info["features"] and set(info["dtypes"]) <= ARROW_SAFE:
        frame = pd.DataFrame(pyogrio.read_dataframe(path, layer=name, read_geometry=False, use_arrow=True))
        if len(frame) and not any(frame[field].isna().all() for field, dtype in zip(info["fields"], info["dtypes"],
                                                                                    strict=True) if dtype == "object"):
            return frame
    return pd.DataFrame(pyogrio.read_dataframe(path, layer=name, read_geometry=False))

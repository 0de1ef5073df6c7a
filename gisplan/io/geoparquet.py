"""GeoParquet files of points written from Arrow columns and coordinate arrays, without shapely geometries.

A million per-point results (``gisplan coverage`` ad hoc) are columns the program already holds as arrays:
going through a GeoDataFrame made a million points, their WKB through shapely and every text column through
Python strings (about 3 s of CPU); here the WKB of each point is laid out with numpy (21 bytes: byte order,
type, x, y) and the table is written by pyarrow. The file is what geopandas writes (GeoParquet 1.1, WKB,
the CRS as PROJJSON, bbox and geometry types in the ``geo`` metadata), so geopandas, GDAL/QGIS and DuckDB
read it as before.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from gisplan.crs import STORAGE_CRS
from gisplan.io.atomic import atomic_path

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from numpy.typing import NDArray

__all__ = ["point_wkb", "write_points_parquet"]

_POINT_WKB = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])  # packed: 21 bytes


def point_wkb(x: NDArray[np.float64], y: NDArray[np.float64]) -> pa.Array:
    """The 2-D points (`x`, `y`) as little-endian WKB, the bytes ``shapely.to_wkb`` gives for them.

    Examples
    --------
    >>> import shapely
    >>> point_wkb(np.array([105.9]), np.array([29.3]))[0].as_py() == shapely.to_wkb(shapely.Point(105.9, 29.3))
    True
    """
    n = len(x)
    packed = np.empty(n, dtype=_POINT_WKB)
    packed["order"] = 1
    packed["type"] = 1
    packed["x"] = x
    packed["y"] = y
    large = (n + 1) * _POINT_WKB.itemsize > np.iinfo(np.int32).max  # past 102 million points: 64-bit offsets
    offsets = np.arange(0, (n + 1) * _POINT_WKB.itemsize, _POINT_WKB.itemsize, dtype=np.int64 if large else np.int32)
    kind = pa.large_binary() if large else pa.binary()
    return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets), pa.py_buffer(packed)])


def _without_member_ids(projjson: dict[str, Any]) -> dict[str, Any]:
    """PROJJSON without the ids of datum-ensemble members, which older PROJ versions (QGIS's) refuse: what
    geopandas and GDAL write."""
    for key, value in projjson.items():
        if isinstance(value, dict):
            _without_member_ids(value)
        elif key == "members" and isinstance(value, list):
            for member in value:
                member.pop("id", None)
    return projjson


def _geo_metadata(crs: str, bbox: list[float], geometry_type: str = "Point") -> bytes:
    from pyproj import CRS  # noqa: PLC0415 - pyproj is imported where a CRS is written

    column = {"encoding": "WKB", "crs": _without_member_ids(CRS.from_user_input(crs).to_json_dict()),
              "geometry_types": [geometry_type], "bbox": bbox}
    return json.dumps({"primary_column": "geometry", "columns": {"geometry": column}, "version": "1.1.0",
                       "creator": {"library": "gisplan"}}).encode()


def write_points_parquet(
    columns: Mapping[str, pa.Array],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    path: Path,
    *,
    crs: str = STORAGE_CRS,
    wkb: pa.Array | None = None,
    dictionary: Sequence[str] | None = None,
) -> None:
    """Write `columns` and the points (`x`, `y`) in `crs` as GeoParquet, through a temporary file and a rename.

    Parameters
    ----------
    columns : mapping of str to pyarrow.Array
        The attribute columns, in order, each as long as `x`.
    x, y : ndarray
        The points (longitude, latitude in the storage CRS).
    path : Path
        The file; its folder is made.
    crs : str
        The CRS of `x` and `y`.
    wkb : pyarrow.Array, optional
        The geometries as WKB when they are more than 2-D points (a vector file's 3-D points as read); `x`
        and `y` then give only the bbox.
    dictionary : sequence of str, optional
        The columns of few distinct values to dictionary-encode; default every column (pyarrow's default, which
        gives up on a column of nearly all distinct values only after trying: a million ids and points, 50 ms).
    """
    geometry = point_wkb(x, y) if wkb is None else wkb
    finite = np.isfinite(x) & np.isfinite(y)
    bbox = ([float(x[finite].min()), float(y[finite].min()), float(x[finite].max()), float(y[finite].max())]
            if finite.any() else [])
    field = pa.field("geometry", geometry.type, metadata={b"ARROW:extension:name": b"geoarrow.wkb"})
    fields = [pa.field(name, column.type) for name, column in columns.items()]
    solid = wkb is not None and bool(shapely.has_z(shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))).any())
    schema = pa.schema([*fields, field], metadata={b"geo": _geo_metadata(crs, bbox, "Point Z" if solid else "Point")})
    table = pa.Table.from_arrays([*columns.values(), geometry], schema=schema)
    with atomic_path(path, ".parquet") as tmp:
        pq.write_table(table, tmp, use_dictionary=True if dictionary is None else list(dictionary))

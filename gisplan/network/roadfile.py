"""Read a GeoParquet road file straight into plain lines in the planning CRS, fast.

A city's road file (Chongqing: 293,467 links, 4.6 million vertices) spends most of its reading time outside
the numbers it needs: geopandas turns every text column into Python strings and every WKB blob into a
GEOS geometry, whose coordinates are then copied out again to convert them. Here the file is read with
pyarrow (the geometry column and the columns asked for only), the WKB of plain 2-D LineStrings is cut
into one coordinate array with numpy (no geometry objects), GCJ-02/BD-09 coordinates become WGS84 with
:func:`gisplan.coords.to_wgs84` (exact, vectorised) and pyproj projects them once, on every core; only
then are the lines built, once. Anything else (other geometry types, 3-D, big-endian WKB, missing
geometries) is read by geopandas and converted the same way, so the result never depends on the path.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from gisplan import settings
from gisplan.coords import to_wgs84
from gisplan.errors import CRSError
from gisplan.i18n import _

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from numpy.typing import NDArray

__all__ = ["read_road_parquet", "wkb_linestring_coordinates"]

logger = logging.getLogger(__name__)

_HEADER = 9  # WKB LineString: byte order (1), type (4), number of points (4), then x y doubles
_LINESTRING = 2
_PROJECT_CHUNK = 1 << 18  # fewest vertices worth a thread of their own (pyproj releases the GIL while it works)


def wkb_linestring_coordinates(
    offsets: NDArray[np.integer], data: NDArray[np.uint8],
) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
    """The vertices of a column of WKB geometries that are all little-endian 2-D LineStrings.

    Parameters
    ----------
    offsets : ndarray of int
        The Arrow offsets of the binary column (one more than the rows; the first row starts at
        ``offsets[0]``).
    data : ndarray of uint8
        The column's data buffer.

    Returns
    -------
    tuple of ndarray, or None
        ``(xy, owner)`` as ``shapely.get_coordinates(geoms, return_index=True)`` would give them for the
        decoded geometries; None when any row is not a little-endian 2-D LineString with at least two points
        and exactly the bytes it declares (the caller then decodes with shapely).

    Examples
    --------
    >>> wkb = shapely.to_wkb(shapely.linestrings([[0, 1], [2, 3]]), byte_order=1)
    >>> xy, owner = wkb_linestring_coordinates(np.array([0, len(wkb)]), np.frombuffer(wkb, np.uint8))
    >>> xy.tolist(), owner.tolist()
    ([[0.0, 1.0], [2.0, 3.0]], [0, 0])
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    start, end = offsets[:-1], offsets[1:]
    n = len(start)
    if n == 0:
        return np.empty((0, 2)), np.empty(0, dtype=np.int64)
    if int(end[-1]) > len(data) or bool(((end - start) < _HEADER).any()):
        return None
    head = start[:, None] + np.arange(_HEADER)
    header = data[head]  # (n, 9)
    kind = header[:, 1:5].copy().view("<u4").ravel()
    count = header[:, 5:9].copy().view("<u4").ravel().astype(np.int64)
    if not (bool((header[:, 0] == 1).all()) and bool((kind == _LINESTRING).all())
            and bool((count >= 2).all()) and bool((end - start == _HEADER + 16 * count).all())):
        return None
    # the rows are back to back in the buffer: without their headers, what is left is every vertex's x and y in
    # order; one boolean compress copies them out (aligned, whatever the rows' offsets), 4x less CPU than a
    # gather per vertex
    lo, hi = int(start[0]), int(end[-1])
    keep = np.ones(hi - lo, dtype=bool)
    keep[(head - lo).ravel()] = False
    xy = data[lo:hi][keep].view("<f8").reshape(-1, 2)
    owner = np.repeat(np.arange(n, dtype=np.int64), count)
    return xy, owner


def _geo_metadata(schema_metadata: dict[bytes, bytes] | None) -> tuple[str, str, CRS | None]:
    """The primary geometry column of a GeoParquet file, its encoding and its CRS: OGC:CRS84 when the key is
    absent (the specification's default), None when it is null (the CRS is unknown)."""
    geo = json.loads((schema_metadata or {}).get(b"geo", b"{}"))
    column = geo.get("primary_column", "geometry")
    meta = geo.get("columns", {}).get(column, {})
    crs_json = meta.get("crs", "OGC:CRS84")
    crs = None if crs_json is None else CRS.from_user_input(crs_json)
    return column, str(meta.get("encoding", "WKB")).upper(), crs


def _project_lines(
    xy: NDArray[np.float64], owner: NDArray[np.int64], source: CRS, target: CRS,
) -> NDArray[np.object_]:
    """Lines from `xy` (rows of `owner`, in order) projected from `source` to `target` (always x, y order).

    In chunks of whole lines on every core: pyproj and shapely release the GIL while they work.
    """
    n_lines = int(owner[-1]) + 1 if len(owner) else 0
    # one chunk per core: a Transformer costs ~20-50 ms to create, and one may not be shared by threads
    n_chunks = max(1, min(settings.thread_count(), len(xy) // _PROJECT_CHUNK))
    cuts = np.searchsorted(owner, np.linspace(0, n_lines, n_chunks + 1).astype(np.int64))
    lines = np.empty(n_lines, dtype=object)

    def run(k: int) -> None:
        lo, hi = int(cuts[k]), int(cuts[k + 1])
        if lo == hi:
            return
        transformer = Transformer.from_crs(source, target, always_xy=True)
        x, y = transformer.transform(xy[lo:hi, 0], xy[lo:hi, 1])
        first = int(owner[lo])
        lines[first:int(owner[hi - 1]) + 1] = shapely.linestrings(np.column_stack([x, y]), indices=owner[lo:hi] - first)

    with ThreadPoolExecutor(max_workers=max(1, settings.thread_count())) as pool:
        list(pool.map(run, range(len(cuts) - 1)))
    return lines


def read_road_parquet(
    path: Path, *, crs: str | CRS, system: str = "wgs84", columns: Sequence[str] = ("direction",),
    source_crs: str | CRS | None = None,
) -> gpd.GeoDataFrame:
    """Read a GeoParquet road file into lines in the planning CRS `crs`.

    Parameters
    ----------
    path : pathlib.Path
        A GeoParquet file of road links (LineStrings; multi-part lines are read too).
    crs : str or pyproj.CRS
        The projected planning CRS (metres) of the result.
    system : {"wgs84", "gcj02", "bd09"}
        The coordinate system of the file's longitudes and latitudes. GCJ-02 (高德/腾讯) and BD-09 (百度)
        files are labelled WGS84 by their writers; declare them here. With ``"wgs84"`` the file's own
        CRS is used.
    columns : sequence of str
        Attribute columns to keep when present (the one-way code, a road class …); others are not read.
    source_crs : str or pyproj.CRS, optional
        The CRS of the file's numbers when the user declared one (``--crs``): it overrides the file's
        label, as :func:`gisplan.crs.to_storage_crs` does. For GCJ-02/BD-09 give ``system`` instead.

    Returns
    -------
    geopandas.GeoDataFrame
        The kept columns and the lines in `crs`, one row per row of the file, in file order; the same
        coordinates as ``gpd.read_parquet``, :func:`gisplan.coords.to_wgs84` and ``to_crs`` give.

    Raises
    ------
    CRSError
        If `crs` is not projected, or a GCJ-02/BD-09 file is said to be in a projected CRS.
    """
    import pyarrow as pa  # noqa: PLC0415 - pyarrow is large; only this reader needs it directly
    import pyarrow.parquet as pq  # noqa: PLC0415

    target = CRS.from_user_input(crs)
    if not target.is_projected:
        msg = _("`crs` must be a projected CRS in metres (got {crs}).").format(crs=target.to_string())
        raise CRSError(msg)
    schema = pq.read_schema(path)
    column, encoding, stated = _geo_metadata(schema.metadata)
    source = CRS.from_user_input(source_crs) if source_crs is not None else stated
    if source is None:
        msg = _("{name}: the file does not say which coordinate system its coordinates are in (its GeoParquet CRS "
                "is null); give it (e.g. --crs EPSG:4326, or gcj02 for 高德/腾讯 data).").format(name=path.name)
        raise CRSError(msg)
    by_lower = {name.lower(): name for name in schema.names}  # as build_network finds them: whatever the case
    keep = list(dict.fromkeys(by_lower[c.lower()] for c in columns if c.lower() in by_lower and
                              by_lower[c.lower()] != column))
    table = pq.read_table(path, columns=[column, *keep])
    found = None
    geom = table.column(column).combine_chunks()
    if isinstance(geom, pa.ExtensionArray):
        geom = geom.storage
    wide = pa.types.is_large_binary(geom.type)
    if encoding == "WKB" and (wide or pa.types.is_binary(geom.type)) and geom.null_count == 0 and len(geom):
        width = np.dtype(np.int64 if wide else np.int32)
        bufs = geom.buffers()
        offsets = np.frombuffer(bufs[1], dtype=width, count=len(geom) + 1, offset=geom.offset * width.itemsize)
        found = wkb_linestring_coordinates(offsets, np.frombuffer(bufs[2], dtype=np.uint8))  # 0.1 s: no threads
    attrs = pd.DataFrame({c: table.column(c).to_pandas() for c in keep})
    if found is None:  # not all plain 2-D LineStrings: shapely decodes them
        logger.info("read_road_parquet: %s holds other than plain 2-D LineStrings; decoding with shapely", path)
        frame = gpd.read_parquet(path, columns=[column, *keep])
        return _converted(frame, source, target, system)
    xy, owner = found
    if system.lower() != "wgs84":
        if source.is_projected:
            msg = _("{name}: a {system} file must hold longitudes and latitudes (it says {crs}).").format(
                name=path.name, system=system, crs=source.to_string())
            raise CRSError(msg)
        lon, lat = to_wgs84(xy[:, 0], xy[:, 1], system=system)
        xy = np.column_stack([lon, lat])
        source = CRS.from_epsg(4326)
    lines = _project_lines(xy, owner, source, target)
    return gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(lines, crs=target), crs=target)


def _converted(frame: gpd.GeoDataFrame, source: CRS, target: CRS, system: str) -> gpd.GeoDataFrame:
    """The slow path: geometries as geopandas read them, converted to WGS84 if declared, then to `target`."""
    from gisplan.coords import transform_geometries  # noqa: PLC0415 - only for unusual files

    frame = frame.set_crs(source, allow_override=True)
    if system.lower() != "wgs84":
        geoms = transform_geometries(frame.geometry.to_numpy(), source=system)
        frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs="EPSG:4326"))
    out = frame.to_crs(target)
    return out.reset_index(drop=True)

"""CRS policy: the storage CRS (WGS84), declared input CRSs (EPSG, PROJ, GCJ-02, BD-09) and the
metric planning CRS every measurement uses.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gisplan.errors import CRSError
from gisplan.i18n import _

if TYPE_CHECKING:
    import geopandas as gpd
    import numpy as np
    from numpy.typing import NDArray
    from pyproj import CRS

# pyproj, geopandas, shapely and numpy are imported by the functions that use them: this base module is imported by
# nearly every command, and those libraries took about 1 s of its start-up (python -X importtime)

__all__ = [
    "STORAGE_CRS",
    "DeclaredCRS",
    "gauss_kruger_3deg",
    "parse_crs",
    "plain_coordinates_in",
    "storage_xy",
    "to_planning_crs",
    "to_storage_crs",
    "transform_xy",
    "utm_crs",
    "utm_crs_of_lonlat",
]

logger = logging.getLogger(__name__)


STORAGE_CRS = "EPSG:4326"


@dataclass(frozen=True, slots=True)
class DeclaredCRS:
    """The coordinate system a user declared for an input.

    Attributes
    ----------
    text : str
        As given (``EPSG:4490``, ``gcj02`` …).
    crs : pyproj.CRS
        The CRS of the numbers in the file; for GCJ-02/BD-09 this is EPSG:4326 (the offset is applied
        by :mod:`gisplan.coords`).
    chinese_system : str | None
        ``"gcj02"`` or ``"bd09"`` when the coordinates are offset Chinese web-map coordinates.
    """

    text: str
    crs: CRS
    chinese_system: str | None = None


def parse_crs(text: str) -> DeclaredCRS:
    """Parse a ``--crs`` value: an EPSG code, any PROJ-readable text, ``gcj02`` or ``bd09``.

    Raises
    ------
    CRSError
        If the text is not understood; the message lists the accepted forms.

    Examples
    --------
    >>> parse_crs("gcj02").chinese_system
    'gcj02'
    >>> parse_crs("4490").crs.to_epsg()
    4490
    """
    from pyproj import CRS  # noqa: PLC0415 - see the note on the imports
    from pyproj.exceptions import CRSError as ProjCRSError  # noqa: PLC0415

    key = text.strip().lower().replace("-", "").replace("_", "")
    aliases = {"gcj02": "gcj02", "gcj": "gcj02", "amap": "gcj02", "bd09": "bd09", "bd09ll": "bd09"}
    if key in aliases:
        return DeclaredCRS(text, CRS.from_epsg(4326), aliases[key])
    if key in {"wgs84", "cgcs2000"}:
        return DeclaredCRS(text, CRS.from_epsg(4326 if key == "wgs84" else 4490))
    candidate = f"EPSG:{text.strip()}" if text.strip().isdigit() else text.strip()
    try:
        crs = CRS.from_user_input(candidate)
    except ProjCRSError:
        msg = (
            _("`--crs` value {text!r} is not a known coordinate system; give an EPSG code (4326 for GPS/WGS84, "
              "4490 for CGCS2000/天地图, 4544 for CGCS2000 3° Gauss-Krüger CM 105E, 4523 for the same zone 35 with "
              "the zone prefix …), `gcj02` for 高德/腾讯 coordinates or `bd09` for 百度 coordinates.").format(text=text)
        )
        raise CRSError(msg) from None
    return DeclaredCRS(text, crs)


def to_storage_crs(gdf: gpd.GeoDataFrame, declared: DeclaredCRS | None, *, source: str) -> gpd.GeoDataFrame:
    """Return a copy in the storage CRS (EPSG:4326, WGS84), converting GCJ-02/BD-09 if declared.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        As read; its CRS may be missing.
    declared : DeclaredCRS, optional
        What the user declared; it overrides the file's label (GeoJSON always says EPSG:4326, even
        for 高德 GCJ-02 data).
    source : str
        File name for messages.

    Raises
    ------
    CRSError
        If neither the file nor the user gives a CRS.
    """
    import geopandas as gpd  # noqa: PLC0415 - see the note on the imports

    from gisplan import coords  # noqa: PLC0415 - numpy and shapely

    out = gdf.copy()
    if declared is None:
        if out.crs is None:
            msg = (
                _("{source}: the file does not say which coordinate system it uses. Give `--crs`: EPSG:4326 "
                  "(GPS/WGS84), EPSG:4490 (CGCS2000), gcj02 (高德/腾讯) or bd09 (百度).").format(source=source)
            )
            raise CRSError(msg)
        return out.to_crs(STORAGE_CRS)
    if out.crs is not None and not out.crs.equals(declared.crs):
        logger.warning("%s: file says %s; using --crs %s as declared", source, out.crs.to_string(), declared.text)
    out = out.set_crs(declared.crs, allow_override=True)
    if declared.chinese_system is not None:
        geoms = coords.transform_geometries(out.geometry.to_numpy(), source=declared.chinese_system)
        out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=STORAGE_CRS))
        return out
    return out.to_crs(STORAGE_CRS)


def to_planning_crs(gdf: gpd.GeoDataFrame, crs: str | CRS | None = None) -> gpd.GeoDataFrame:
    """Return a copy in the metric planning CRS: `crs` if given, else the UTM zone of the data.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Any CRS.
    crs : str or pyproj.CRS, optional
        The scenario's CRS (for example ``EPSG:32648`` for 永川).

    Returns
    -------
    geopandas.GeoDataFrame
        Projected, in metres.

    Raises
    ------
    CRSError
        If `gdf` has no CRS, or `crs` is not projected.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> g = gpd.GeoDataFrame(geometry=[Point(105.93, 29.36)], crs="EPSG:4326")
    >>> to_planning_crs(g).crs.to_epsg()
    32648
    """
    from pyproj import CRS  # noqa: PLC0415 - see the note on the imports

    if gdf.crs is None:
        msg = _("`gdf` has no CRS; set it (gdf.set_crs) or import it through `gisplan layers import`.")
        raise CRSError(msg)
    target = CRS.from_user_input(crs) if crs is not None else gdf.estimate_utm_crs()
    if not target.is_projected:
        msg = _("the planning CRS must be projected in metres (got {crs}); use a UTM zone.").format(
                crs=target.to_string())
        raise CRSError(msg)
    return gdf.to_crs(target)


@functools.cache
def _utm_zone(zone: int, north: bool) -> CRS:
    from pyproj import CRS  # noqa: PLC0415 - see the note on the imports

    return CRS.from_epsg((32600 if north else 32700) + zone)


def utm_crs(geoms: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """The WGS84 UTM zone of the centre of `geoms`' bounds (what ``estimate_utm_crs`` gives away from zone edges,
    without its PROJ database query: 0.5 s a call on a loaded machine, eight calls a map).

    Raises
    ------
    CRSError
        If `geoms` has no CRS or no finite bounds.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> utm_crs(gpd.GeoSeries([Point(105.93, 29.36)], crs="EPSG:4326")).to_epsg()
    32648
    """
    if geoms.crs is None:
        msg = _("`geoms` has no CRS; set it before asking for its UTM zone.")
        raise CRSError(msg)
    west, south, east, north = (geoms.to_crs(STORAGE_CRS) if not geoms.crs.is_geographic else geoms).total_bounds
    if not all(map(math.isfinite, (west, south, east, north))):
        msg = _("`geoms` has no finite bounds (empty or all-missing geometry); no UTM zone can be chosen.")
        raise CRSError(msg)
    lon, lat = (west + east) / 2.0, (south + north) / 2.0
    return _utm_zone(int((lon + 180.0) // 6.0) % 60 + 1, lat >= 0)


GK3_ZONES = range(25, 46)
"""The CGCS2000 3° Gauss-Krüger zones with EPSG codes (CM 75E … 135E: all of China)."""


def gauss_kruger_3deg(lon: float, *, zone_prefix: bool = False) -> CRS:
    """The CGCS2000 3° Gauss-Krüger CRS of the zone holding longitude `lon` (degrees east).

    The zone is ``round(lon / 3)`` and its central meridian ``3 * zone``; with `zone_prefix` the false
    easting carries the zone number (EPSG:4513 + zone − 25, "zone 35", eastings like 35 500 000 m), else it
    is 500 000 m (EPSG:4534 + zone − 25, "CM 105E"), as most CAD drawings of a district are kept.

    Raises
    ------
    CRSError
        If `lon` lies outside China's zones 25–45 (73.5°E–136.5°E).

    Examples
    --------
    >>> gauss_kruger_3deg(105.9).to_epsg()  # 永川, zone 35, CM 105E
    4544
    >>> gauss_kruger_3deg(117.2, zone_prefix=True).to_epsg()  # 珠山, zone 39
    4527
    """
    from pyproj import CRS  # noqa: PLC0415 - see the note on the imports

    zone = round(lon / 3)
    if zone not in GK3_ZONES:
        msg = (_("longitude {lon:.4f}° lies outside the CGCS2000 3° Gauss-Krüger zones 25–45 (73.5°E–136.5°E); "
                 "give a projected CRS with `--crs EPSG:…`.").format(lon=lon))
        raise CRSError(msg)
    return CRS.from_epsg((4513 if zone_prefix else 4534) + zone - 25)


def plain_coordinates_in(
    geoms: NDArray[np.object_], source: CRS | None, target: CRS,
) -> tuple[NDArray[np.float64], NDArray[np.intp]] | None:
    """The coordinates of `geoms` in `target` and the geometry each belongs to, without new geometries.

    The numbers ``GeoSeries.to_crs`` gives (the same ``always_xy`` transformer), for callers that need only
    the coordinates or rebuild plain geometries from them: copying and re-setting every geometry through
    ``to_crs`` costs ~3x more on a city's roads or a million households.

    Parameters
    ----------
    geoms : ndarray of shapely geometries
        In `source`.
    source, target : pyproj.CRS
        From and to.

    Returns
    -------
    tuple of ndarray, or None
        ``(xy, owner)`` as ``shapely.get_coordinates(geoms, return_index=True)``; None when there is nothing
        to transform (no geometry, or `target` is `source`), or no `source`, or a geometry is missing, empty or
        3-D: what ``to_crs`` itself should handle.
    """
    import numpy as np  # noqa: PLC0415 - see the note on the imports
    import shapely  # noqa: PLC0415

    if (source is None or not len(geoms) or target.is_exact_same(source)
            or bool((shapely.is_missing(geoms) | shapely.is_empty(geoms) | shapely.has_z(geoms)).any())):
        return None
    xy, owner = shapely.get_coordinates(geoms, return_index=True)
    # into the array get_coordinates made (a city's 6.5 million road vertices: 0.3 s less CPU than new arrays
    # and a column_stack)
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    _transform_in_place(x, y, source, target)
    xy[:, 0], xy[:, 1] = x, y
    return xy, owner


def _transform_in_place(x: NDArray[np.float64], y: NDArray[np.float64], source: CRS | str, target: CRS | str) -> None:
    """:func:`transform_xy` into `x` and `y` themselves (contiguous float64 arrays)."""
    from pyproj import CRS, Transformer  # noqa: PLC0415 - see the note on the imports

    src, tgt = CRS.from_user_input(source), CRS.from_user_input(target)
    if not src.is_exact_same(tgt):
        Transformer.from_crs(src, tgt, always_xy=True).transform(x, y, inplace=True)


def transform_xy(
    x: NDArray[np.float64], y: NDArray[np.float64], source: CRS | str, target: CRS | str,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Coordinates from `source` to `target` in one pyproj call: the numbers ``GeoSeries.to_crs`` gives (the same
    ``always_xy`` transformer), and, as there, `x` and `y` themselves when `target` is exactly `source`.

    Examples
    --------
    >>> x, y = transform_xy([105.927], [29.356], "EPSG:4326", "EPSG:32648")
    >>> round(float(x[0])), round(float(y[0]))
    (589981, 3247785)
    """
    import numpy as np  # noqa: PLC0415 - see the note on the imports
    from pyproj import CRS, Transformer  # noqa: PLC0415

    src, tgt = CRS.from_user_input(source), CRS.from_user_input(target)
    if src.is_exact_same(tgt):
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    tx, ty = Transformer.from_crs(src, tgt, always_xy=True).transform(x, y)
    return np.asarray(tx, dtype=float), np.asarray(ty, dtype=float)


def storage_xy(
    x: NDArray[np.float64], y: NDArray[np.float64], declared: DeclaredCRS,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Point coordinates in `declared` as longitude/latitude in the storage CRS: the numbers
    :func:`to_storage_crs` gives for points, without building them.

    Examples
    --------
    >>> lon, lat = storage_xy([105.927], [29.356], parse_crs("EPSG:4326"))
    >>> float(lon[0]), float(lat[0])
    (105.927, 29.356)
    """
    if declared.chinese_system is not None:
        from gisplan import coords  # noqa: PLC0415 - numpy

        return coords.to_wgs84(x, y, system=declared.chinese_system)
    return transform_xy(x, y, declared.crs, STORAGE_CRS)


def utm_crs_of_lonlat(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> CRS:
    """``estimate_utm_crs()`` of WGS84 points given as coordinate arrays, without building the points.

    The zone holding the centre of the points' bounds, as geopandas finds it; it asks the PROJ database (as
    geopandas does, 0.2 s) only where the answer is not the plain 6° strip: a centre on a zone's edge or the
    equator, or outside UTM's 80°S–84°N.

    Raises
    ------
    CRSError
        If there are no finite coordinates.

    Examples
    --------
    >>> utm_crs_of_lonlat([105.8, 106.1], [29.2, 29.5]).to_epsg()
    32648
    """
    import numpy as np  # noqa: PLC0415 - see the note on the imports

    lon_a, lat_a = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    finite = np.isfinite(lon_a) & np.isfinite(lat_a)
    if not finite.any():
        msg = _("no finite coordinates; no UTM zone can be chosen.")
        raise CRSError(msg)
    if not finite.all():
        lon_a, lat_a = lon_a[finite], lat_a[finite]
    # geopandas: np.mean of the bounds' two ends
    x, y = float(np.mean([lon_a.min(), lon_a.max()])), float(np.mean([lat_a.min(), lat_a.max()]))
    strip = (x + 180.0) / 6.0
    if -180.0 < x < 180.0 and -80.0 < y < 84.0 and y != 0.0 and strip != math.floor(strip):
        return _utm_zone(int(strip) + 1, y > 0)
    import geopandas as gpd  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    box = shapely.box(lon_a.min(), lat_a.min(), lon_a.max(), lat_a.max())
    return gpd.GeoSeries([box], crs=STORAGE_CRS).estimate_utm_crs()

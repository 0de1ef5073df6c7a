"""Conversions between WGS84, GCJ-02 and BD-09 geographic coordinates.

Chinese web maps do not publish WGS84 coordinates. Amap (高德) and Tencent use
GCJ-02 ("Mars coordinates"), a WGS84 position plus a deliberate, smoothly varying
offset of a few hundred metres. Baidu uses BD-09, a further small rotation and
shift of GCJ-02. Mixing layers from different systems produces a systematic error
of 300-600 m, which is enough to put a care home in the wrong village.

All functions here are vectorised with numpy: they accept array-likes (or plain
floats) of longitudes and latitudes in decimal degrees, broadcast the two inputs
against each other and return a tuple ``(lon, lat)`` of new ``float64`` arrays
with the broadcast shape. Scalar input gives 0-d arrays; use ``float(x)`` to get
a Python float.

Conventions
-----------
* The GCJ-02 offset is applied only inside China's rough bounding box
  (lon 72.004-137.8347, lat 0.8293-55.8271), as in every published
  implementation; points outside it are returned unchanged.
* The BD-09 step (GCJ-02 <-> BD-09) is a closed-form formula defined everywhere
  and is applied to every point, inside or outside the box. Outside the box
  ``wgs84_to_bd09`` therefore applies only the BD-09 step.
* The inverse conversions (``gcj02_to_wgs84``, ``bd09_to_gcj02`` and the
  compositions using them) are solved by fixed-point iteration until the forward
  transform of the result reproduces the input to within ``tol_deg`` degrees
  (1e-10 degree, about 0.01 mm, by default). The closed-form "inverse" formulas
  found in many libraries are wrong by up to a few metres.
* A NaN coordinate gives a NaN result (NaN points count as outside China, so in
  the GCJ-02 step the other coordinate of such a point passes through unchanged).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from gisplan.errors import CRSError
from gisplan.i18n import _
from gisplan.offsets import CHINA_BOX, FloatArray, Pair, check_solver_args, invert
from gisplan.offsets import bd_to_gcj_approx as _bd_to_gcj_approx_flat
from gisplan.offsets import gcj_to_bd as _gcj_to_bd_flat
from gisplan.offsets import in_china as _in_china
from gisplan.offsets import wgs_to_gcj as _wgs_to_gcj_flat

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CHINESE_SYSTEMS",
    "SYSTEMS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "to_wgs84",
    "transform_geometries",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Coordinate systems used by Chinese web maps (GCJ-02: Amap/Tencent; BD-09: Baidu).
CHINESE_SYSTEMS: tuple[str, ...] = ("gcj02", "bd09")
#: Every system name accepted by :func:`to_wgs84`, :func:`from_wgs84` and
#: :func:`transform_geometries` (case-insensitive).
SYSTEMS: tuple[str, ...] = ("wgs84", *CHINESE_SYSTEMS)

# The formulas and the fixed-point solver live in gisplan.offsets; this module broadcasts, names the
# systems and holds the start grid of the GCJ-02 inverse.
_LON_MIN, _LON_MAX, _LAT_MIN, _LAT_MAX = CHINA_BOX


# --------------------------------------------------------------------------- helpers


def _flatten(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
    """Broadcast ``lon`` and ``lat``, return flat float64 copies and the common shape."""
    lon_arr = np.asarray(lon, dtype=np.float64)
    lat_arr = np.asarray(lat, dtype=np.float64)
    lon_b, lat_b = np.broadcast_arrays(lon_arr, lat_arr)
    shape = lon_b.shape
    # reshape(-1) of a broadcast view may be a view; copy so callers may write in place.
    return lon_b.reshape(-1).copy(), lat_b.reshape(-1).copy(), shape


def _broadcast(step: Callable[[FloatArray, FloatArray], Pair], lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Run a step on flat arrays over broadcast `lon`, `lat` (copies) and give its results their shape."""
    flon, flat, shape = _flatten(lon, lat)
    out_lon, out_lat = step(flon, flat)
    return out_lon.reshape(shape), out_lat.reshape(shape)


def _unchanged(lon: FloatArray, lat: FloatArray) -> Pair:
    return lon, lat


_GRID_MIN_POINTS = 100_000  # below this, a start grid costs more than it saves
_GRID_STEP_DEG = 0.02  # start values off by ~3e-6 degree: 3 forward evaluations instead of 5
_GRID_POINTS_PER_NODE = 16  # a coarser grid for sparse data, so the grid never costs more than the points


class _OffsetGrid:
    """The exact inverse GCJ-02 offset (WGS84 - GCJ-02) at the nodes of a regular grid over the data.

    Bilinear interpolation between the nodes gives each point a start value within a few 1e-6 degree
    of its solution, so the fixed-point iteration needs about three forward evaluations instead of
    five. Only the start changes: every point is still iterated until its own residual is below the
    tolerance.
    """

    def __init__(self, lon0: float, lat0: float, step: float, d_lon: FloatArray, d_lat: FloatArray) -> None:
        self.lon0, self.lat0, self.step = lon0, lat0, step
        self.d_lon, self.d_lat = d_lon, d_lat

    @classmethod
    def over(cls, lon: FloatArray, lat: FloatArray, *, tol_deg: float, max_iter: int) -> _OffsetGrid | None:
        """A grid over the points inside China's box, or None when it would not pay (few points, data
        spread thinly over a large area, or near the edge of the box where the offset switches off)."""
        inside = _in_china(lon, lat)
        n = int(np.count_nonzero(inside))
        if n < _GRID_MIN_POINTS:
            return None
        lo_lon, hi_lon = float(lon[inside].min()), float(lon[inside].max())
        lo_lat, hi_lat = float(lat[inside].min()), float(lat[inside].max())
        area = max(hi_lon - lo_lon, 1e-9) * max(hi_lat - lo_lat, 1e-9)
        step = max(_GRID_STEP_DEG, math.sqrt(area * _GRID_POINTS_PER_NODE / n))
        margin = 2 * step + 0.05  # every node well inside the box, where the offset is smooth
        if (lo_lon - margin < _LON_MIN or hi_lon + margin > _LON_MAX or lo_lat - margin < _LAT_MIN
                or hi_lat + margin > _LAT_MAX or step > 4 * _GRID_STEP_DEG):
            return None
        nx = math.floor((hi_lon - lo_lon) / step) + 2
        ny = math.floor((hi_lat - lo_lat) / step) + 2
        g_lon = np.tile(lo_lon + step * np.arange(nx), ny)
        g_lat = np.repeat(lo_lat + step * np.arange(ny), nx)
        w_lon, w_lat = invert(_wgs_to_gcj_flat, (g_lon, g_lat), (g_lon, g_lat), tol_deg=tol_deg, max_iter=max_iter,
                              name="gcj02_to_wgs84 (start grid)")
        return cls(lo_lon, lo_lat, step, (w_lon - g_lon).reshape(ny, nx), (w_lat - g_lat).reshape(ny, nx))

    def improve(self, lon: FloatArray, lat: FloatArray, out_lon: FloatArray, out_lat: FloatArray) -> None:
        """Write the interpolated WGS84 start of each GCJ-02 point inside the grid into `out_*`."""
        ny, nx = self.d_lon.shape
        fx = (lon - self.lon0) / self.step
        fy = (lat - self.lat0) / self.step
        if len(fx) == 0:
            return
        # the grid lies inside China's box, so a point on the grid is inside it too
        if fx.min() >= 0 and fy.min() >= 0 and fx.max() < nx - 1 and fy.max() < ny - 1:  # False with NaN
            on: slice | NDArray[np.bool_] = slice(None)
        else:
            on = (fx >= 0) & (fy >= 0) & (fx < nx - 1) & (fy < ny - 1)
            fx, fy = fx[on], fy[on]
        ix, iy = fx.astype(np.int64), fy.astype(np.int64)
        tx, ty = fx - ix, fy - iy
        cell = iy * nx + ix
        for field, target, out in ((self.d_lon, lon, out_lon), (self.d_lat, lat, out_lat)):
            flat = field.ravel()
            low = flat[cell] + tx * (flat[cell + 1] - flat[cell])
            high = flat[cell + nx] + tx * (flat[cell + nx + 1] - flat[cell + nx])
            out[on] = target[on] + low + ty * (high - low)


def _normalise_system(system: object, argname: str = "system") -> str:
    if isinstance(system, str):
        key = system.strip().lower()
        if key in SYSTEMS:
            return key
    accepted = ", ".join(repr(s) for s in SYSTEMS)
    msg = _("Unknown coordinate system {argname}={system!r}; accepted values are {accepted} "
            "(case-insensitive).").format(
            argname=argname, system=system, accepted=accepted)
    raise CRSError(msg)


# --------------------------------------------------------------------------- public API


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Convert WGS84 coordinates to GCJ-02 (Amap/Tencent "Mars" coordinates).

    Parameters
    ----------
    lon, lat : array_like of float
        WGS84 longitude and latitude in decimal degrees. Broadcast against each other.

    Returns
    -------
    lon, lat : numpy.ndarray of float64
        GCJ-02 longitude and latitude in decimal degrees, with the broadcast shape of the
        inputs (0-d arrays for scalar input). Points outside China's bounding box
        (lon 72.004-137.8347, lat 0.8293-55.8271) are returned unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
    >>> round(float(lon), 8), round(float(lat), 8)
    (116.4102445, 39.91640428)
    """
    return _broadcast(_wgs_to_gcj_flat, lon, lat)


def gcj02_to_wgs84(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    tol_deg: float = 1e-10,
    max_iter: int = 30,
) -> Pair:
    """Convert GCJ-02 coordinates to WGS84 exactly, by iteration.

    Solves ``wgs84_to_gcj02(result) == (lon, lat)`` with the fixed-point iteration
    ``w <- w - (wgs84_to_gcj02(w) - g)``, starting from ``w = g``. It usually
    converges to 1e-10 degree in 4-5 iterations.

    Parameters
    ----------
    lon, lat : array_like of float
        GCJ-02 longitude and latitude in decimal degrees. Broadcast against each other.
    tol_deg : float, optional
        Stop when ``max(|dlon|, |dlat|)`` of the forward residual is below this many
        degrees (default 1e-10 degree, about 0.01 mm).
    max_iter : int, optional
        Maximum number of forward evaluations (default 30). Points that have not
        converged by then keep their best estimate and a
        :class:`~gisplan.errors.GisplanWarning` is issued.

    Returns
    -------
    lon, lat : numpy.ndarray of float64
        WGS84 longitude and latitude in decimal degrees, with the broadcast shape of the
        inputs (0-d arrays for scalar input). Points outside China's bounding box are
        returned unchanged.

    Raises
    ------
    ValueError
        If ``tol_deg`` is not positive or ``max_iter`` is not a positive integer.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(116.41024449916938, 39.91640428150164)
    >>> round(float(lon), 9), round(float(lat), 9)
    (116.404, 39.915)
    """
    flon, flat, shape = _flatten(lon, lat)
    check_solver_args(tol_deg, max_iter)
    grid = _OffsetGrid.over(flon, flat, tol_deg=tol_deg, max_iter=max_iter)
    # called from here, so that its warning (stacklevel 3) points at the caller of this function
    out_lon, out_lat = invert(_wgs_to_gcj_flat, (flon, flat), (flon, flat), tol_deg=tol_deg, max_iter=max_iter,
                              name="gcj02_to_wgs84", refine=grid.improve if grid is not None else None)
    return out_lon.reshape(shape), out_lat.reshape(shape)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Convert GCJ-02 coordinates to BD-09 (Baidu).

    The BD-09 formula is applied to every point, including points outside China.

    Parameters
    ----------
    lon, lat : array_like of float
        GCJ-02 longitude and latitude in decimal degrees. Broadcast against each other.

    Returns
    -------
    lon, lat : numpy.ndarray of float64
        BD-09 longitude and latitude in decimal degrees, with the broadcast shape of the
        inputs (0-d arrays for scalar input).

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(116.404, 39.915)
    >>> round(float(lon), 8), round(float(lat), 8)
    (116.41036949, 39.92133699)
    """
    return _broadcast(_gcj_to_bd_flat, lon, lat)


def bd09_to_gcj02(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    tol_deg: float = 1e-10,
    max_iter: int = 30,
) -> Pair:
    """Convert BD-09 (Baidu) coordinates to GCJ-02 exactly, by iteration.

    Starts from the usual closed-form approximation (which is off by up to about a
    metre) and refines it with ``g <- g - (gcj02_to_bd09(g) - b)`` until the forward
    transform reproduces the input to ``tol_deg``.

    Parameters
    ----------
    lon, lat : array_like of float
        BD-09 longitude and latitude in decimal degrees. Broadcast against each other.
    tol_deg : float, optional
        Stop when ``max(|dlon|, |dlat|)`` of the forward residual is below this many
        degrees (default 1e-10 degree, about 0.01 mm).
    max_iter : int, optional
        Maximum number of forward evaluations (default 30).

    Returns
    -------
    lon, lat : numpy.ndarray of float64
        GCJ-02 longitude and latitude in decimal degrees, with the broadcast shape of the
        inputs (0-d arrays for scalar input).

    Raises
    ------
    ValueError
        If ``tol_deg`` is not positive or ``max_iter`` is not a positive integer.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(116.41036949371029, 39.92133699351022)
    >>> round(float(lon), 9), round(float(lat), 9)
    (116.404, 39.915)
    """
    flon, flat, shape = _flatten(lon, lat)
    out_lon, out_lat = invert(_gcj_to_bd_flat, (flon, flat), _bd_to_gcj_approx_flat(flon, flat), tol_deg=tol_deg,
                              max_iter=max_iter, name="bd09_to_gcj02")
    return out_lon.reshape(shape), out_lat.reshape(shape)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Convert WGS84 coordinates to BD-09 (Baidu), via GCJ-02.

    Parameters
    ----------
    lon, lat : array_like of float
        WGS84 longitude and latitude in decimal degrees. Broadcast against each other.

    Returns
    -------
    lon, lat : numpy.ndarray of float64
        BD-09 longitude and latitude in decimal degrees, with the broadcast shape of the
        inputs (0-d arrays for scalar input). Outside China only the BD-09 step applies.

    Examples
    --------
    >>> lon, lat = wgs84_to_bd09(116.404, 39.915)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.416627, 39.9227)
    """
    return _broadcast(lambda flon, flat: _gcj_to_bd_flat(*_wgs_to_gcj_flat(flon, flat)), lon, lat)


def bd09_to_wgs84(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    tol_deg: float = 1e-10,
    max_iter: int = 30,
) -> Pair:
    """Convert BD-09 (Baidu) coordinates to WGS84 exactly, via GCJ-02.

    Parameters
    ----------
    lon, lat : array_like of float
        BD-09 longitude and latitude in decimal degrees. Broadcast against each other.
    tol_deg : float, optional
        Residual tolerance in degrees for each of the two iterative steps
        (default 1e-10 degree).
    max_iter : int, optional
        Maximum number of forward evaluations per step (default 30).

    Returns
    -------
    lon, lat : numpy.ndarray of float64
        WGS84 longitude and latitude in decimal degrees, with the broadcast shape of the
        inputs (0-d arrays for scalar input).

    Examples
    --------
    >>> lon, lat = bd09_to_wgs84(*wgs84_to_bd09(116.404, 39.915))
    >>> round(float(lon), 9), round(float(lat), 9)
    (116.404, 39.915)
    """
    g_lon, g_lat = bd09_to_gcj02(lon, lat, tol_deg=tol_deg, max_iter=max_iter)
    return gcj02_to_wgs84(g_lon, g_lat, tol_deg=tol_deg, max_iter=max_iter)


def to_wgs84(lon: ArrayLike, lat: ArrayLike, *, system: str) -> Pair:
    """Convert coordinates in a named system to WGS84.

    Parameters
    ----------
    lon, lat : array_like of float
        Longitude and latitude in decimal degrees, in ``system``.
    system : {"wgs84", "gcj02", "bd09"}
        The system the input is in (case-insensitive).

    Returns
    -------
    lon, lat : numpy.ndarray of float64
        WGS84 longitude and latitude in decimal degrees, with the broadcast shape of the
        inputs (0-d arrays for scalar input). New arrays even when ``system="wgs84"``.

    Raises
    ------
    gisplan.errors.CRSError
        If ``system`` is not one of the accepted names.

    Examples
    --------
    >>> lon, lat = to_wgs84([116.41024449916938], [39.91640428150164], system="GCJ02")
    >>> [round(float(v), 9) for v in (lon[0], lat[0])]
    [116.404, 39.915]
    """
    key = _normalise_system(system)
    if key == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if key == "bd09":
        return bd09_to_wgs84(lon, lat)
    return _broadcast(_unchanged, lon, lat)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, *, system: str) -> Pair:
    """Convert WGS84 coordinates to a named system.

    Parameters
    ----------
    lon, lat : array_like of float
        WGS84 longitude and latitude in decimal degrees.
    system : {"wgs84", "gcj02", "bd09"}
        The target system (case-insensitive).

    Returns
    -------
    lon, lat : numpy.ndarray of float64
        Longitude and latitude in decimal degrees in ``system``, with the broadcast shape
        of the inputs (0-d arrays for scalar input).

    Raises
    ------
    gisplan.errors.CRSError
        If ``system`` is not one of the accepted names.

    Examples
    --------
    >>> lon, lat = from_wgs84(116.404, 39.915, system="gcj02")
    >>> round(float(lon), 8), round(float(lat), 8)
    (116.4102445, 39.91640428)
    """
    key = _normalise_system(system)
    if key == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if key == "bd09":
        return wgs84_to_bd09(lon, lat)
    return _broadcast(_unchanged, lon, lat)


def _convert(lon: FloatArray, lat: FloatArray, source: str, target: str) -> Pair:
    """Convert between two normalised system names (via WGS84 unless a direct step exists)."""
    if source == target:
        return lon.copy(), lat.copy()
    if source == "gcj02" and target == "bd09":
        return gcj02_to_bd09(lon, lat)
    if source == "bd09" and target == "gcj02":
        return bd09_to_gcj02(lon, lat)
    w_lon, w_lat = to_wgs84(lon, lat, system=source)
    return from_wgs84(w_lon, w_lat, system=target)


def transform_geometries(
    geoms: Iterable[Any] | NDArray[np.object_],
    *,
    source: str,
    target: str = "wgs84",
) -> NDArray[np.object_]:
    """Convert every vertex of shapely geometries from one system to another.

    All vertices of all geometries are converted in one vectorised call through
    :func:`shapely.transform`. Z values (if any) are kept unchanged.

    Parameters
    ----------
    geoms : numpy.ndarray, geopandas.GeoSeries or sequence of shapely geometries
        Geometries with longitude/latitude vertices in decimal degrees, in ``source``.
        ``None`` and empty geometries pass through unchanged. No CRS metadata is read:
        a GeoSeries in a projected CRS is *not* detected.
    source : {"wgs84", "gcj02", "bd09"}
        System of the input vertices (case-insensitive).
    target : {"wgs84", "gcj02", "bd09"}, optional
        System of the output vertices (case-insensitive, default "wgs84").

    Returns
    -------
    numpy.ndarray of object
        New shapely geometries (same geometry types and vertex counts), same shape as
        ``numpy.asarray(geoms, dtype=object)``.

    Raises
    ------
    gisplan.errors.CRSError
        If ``source`` or ``target`` is not an accepted system name.

    Examples
    --------
    >>> from shapely import Point
    >>> out = transform_geometries([Point(116.41024449916938, 39.91640428150164), None],
    ...                            source="gcj02")
    >>> round(out[0].x, 9), round(out[0].y, 9), out[1] is None
    (116.404, 39.915, True)
    """
    src = _normalise_system(source, "source")
    tgt = _normalise_system(target, "target")
    if hasattr(geoms, "to_numpy") and not isinstance(geoms, np.ndarray):
        arr = np.asarray(geoms.to_numpy(), dtype=object)
    else:
        arr = np.asarray(geoms, dtype=object)
    if src == tgt:
        return arr.copy()

    def _func(coords: FloatArray) -> FloatArray:
        out = np.array(coords, dtype=np.float64, copy=True)
        out[:, 0], out[:, 1] = _convert(coords[:, 0], coords[:, 1], src, tgt)
        return out

    # include_z=None keeps each geometry's own dimension (shapely >= 2.1); the stubs lag behind
    result = shapely.transform(arr, _func, include_z=None)  # type: ignore[call-overload]
    return np.asarray(result, dtype=object)

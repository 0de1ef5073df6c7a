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
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from gisplan import settings
from gisplan.errors import CRSError, GisplanWarning

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

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

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
# Rough bounding box of China used by every GCJ-02 implementation.
_LON_MIN, _LON_MAX = 72.004, 137.8347
_LAT_MIN, _LAT_MAX = 0.8293, 55.8271
# BD-09 constants.
_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

_FloatArray = NDArray[np.float64]
_Pair = tuple[_FloatArray, _FloatArray]


# --------------------------------------------------------------------------- helpers


def _flatten(lon: ArrayLike, lat: ArrayLike) -> tuple[_FloatArray, _FloatArray, tuple[int, ...]]:
    """Broadcast ``lon`` and ``lat``, return flat float64 copies and the common shape."""
    lon_arr = np.asarray(lon, dtype=np.float64)
    lat_arr = np.asarray(lat, dtype=np.float64)
    lon_b, lat_b = np.broadcast_arrays(lon_arr, lat_arr)
    shape = lon_b.shape
    # reshape(-1) of a broadcast view may be a view; copy so callers may write in place.
    return lon_b.reshape(-1).copy(), lat_b.reshape(-1).copy(), shape


def _in_china(lon: _FloatArray, lat: _FloatArray) -> NDArray[np.bool_]:
    """Return True where a point lies inside the GCJ-02 bounding box (NaN -> False)."""
    return (lon >= _LON_MIN) & (lon <= _LON_MAX) & (lat >= _LAT_MIN) & (lat <= _LAT_MAX)


def _gcj_offset(lon: _FloatArray, lat: _FloatArray) -> _Pair:
    """Return the GCJ-02 offset (dlon, dlat) in degrees at WGS84 points, ignoring the box.

    This is the standard transformLat/transformLon polynomial on the Krasovsky
    ellipsoid. Trigonometry dominates the cost, so ``sin(3t)`` is computed from
    ``sin(t)`` with the triple-angle identity ``sin(3t) = sin(t) * (3 - 4 sin(t)**2)``
    and ``cos(lat)`` as ``sqrt(1 - sin(lat)**2)`` (|lat| <= 90); both are exact
    identities and change results only at the 1e-15 degree level.
    """
    x = lon - 105.0
    y = lat - 35.0
    x_pi = x * math.pi
    y_pi = y * math.pi
    s_2x = np.sin(2.0 * x_pi)
    s_6x = s_2x * (3.0 - 4.0 * s_2x * s_2x)  # sin(6 pi x)
    s_x3 = np.sin(x_pi / 3.0)
    s_x = s_x3 * (3.0 - 4.0 * s_x3 * s_x3)  # sin(pi x)
    s_y3 = np.sin(y_pi / 3.0)
    s_y = s_y3 * (3.0 - 4.0 * s_y3 * s_y3)  # sin(pi y)
    common = (20.0 * s_6x + 20.0 * s_2x) * 2.0 / 3.0
    abs_x = np.abs(x)
    t_lat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(abs_x)
        + common
        + (20.0 * s_y + 40.0 * s_y3) * 2.0 / 3.0
        + (160.0 * np.sin(y_pi / 12.0) + 320.0 * np.sin(y_pi / 30.0)) * 2.0 / 3.0
    )
    t_lon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(abs_x)
        + common
        + (20.0 * s_x + 40.0 * s_x3) * 2.0 / 3.0
        + (150.0 * np.sin(x_pi / 12.0) + 300.0 * np.sin(x_pi / 30.0)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * math.pi
    sin_lat = np.sin(rad_lat)
    sin2_lat = sin_lat * sin_lat
    cos_lat = np.sqrt(np.maximum(1.0 - sin2_lat, 0.0))
    magic = 1.0 - _EE * sin2_lat
    sqrt_magic = np.sqrt(magic)
    dlat = (t_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (t_lon * 180.0) / (_A / sqrt_magic * cos_lat * math.pi)
    return dlon, dlat


def _wgs_to_gcj_flat(lon: _FloatArray, lat: _FloatArray) -> _Pair:
    """Forward GCJ-02 on flat arrays; returns new arrays."""
    out_lon = lon.copy()
    out_lat = lat.copy()
    inside = _in_china(lon, lat)
    if inside.all():
        dlon, dlat = _gcj_offset(lon, lat)
        out_lon += dlon
        out_lat += dlat
    elif inside.any():
        dlon, dlat = _gcj_offset(lon[inside], lat[inside])
        out_lon[inside] += dlon
        out_lat[inside] += dlat
    return out_lon, out_lat


def _gcj_to_bd_flat(lon: _FloatArray, lat: _FloatArray) -> _Pair:
    """Forward BD-09 (from GCJ-02) on flat arrays; returns new arrays."""
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def _bd_to_gcj_approx_flat(lon: _FloatArray, lat: _FloatArray) -> _Pair:
    """Closed-form approximate BD-09 -> GCJ-02 (error up to about a metre); a start value."""
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _check_solver_args(tol_deg: float, max_iter: int) -> None:
    if not (tol_deg > 0.0 and math.isfinite(tol_deg)):
        msg = f"tol_deg must be a positive finite number of degrees, got {tol_deg!r}."
        raise ValueError(msg)
    if int(max_iter) != max_iter or max_iter < 1:
        msg = f"max_iter must be a positive integer, got {max_iter!r}."
        raise ValueError(msg)


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

    def __init__(self, lon0: float, lat0: float, step: float, d_lon: _FloatArray, d_lat: _FloatArray) -> None:
        self.lon0, self.lat0, self.step = lon0, lat0, step
        self.d_lon, self.d_lat = d_lon, d_lat

    @classmethod
    def over(cls, lon: _FloatArray, lat: _FloatArray, *, tol_deg: float, max_iter: int) -> _OffsetGrid | None:
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
        w_lon, w_lat = _invert(_wgs_to_gcj_flat, g_lon, g_lat, g_lon, g_lat, tol_deg=tol_deg, max_iter=max_iter,
                               name="gcj02_to_wgs84 (start grid)")
        return cls(lo_lon, lo_lat, step, (w_lon - g_lon).reshape(ny, nx), (w_lat - g_lat).reshape(ny, nx))

    def improve(self, lon: _FloatArray, lat: _FloatArray, out_lon: _FloatArray, out_lat: _FloatArray) -> None:
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


_BLOCK = 1 << 13  # points per block: the solver's temporaries stay in cache and on the heap (64 KB)


def _invert(  # noqa: PLR0913 - the solver's inputs, all keyword after the arrays
    forward: Callable[[_FloatArray, _FloatArray], _Pair],
    target_lon: _FloatArray,
    target_lat: _FloatArray,
    start_lon: _FloatArray,
    start_lat: _FloatArray,
    *,
    tol_deg: float,
    max_iter: int,
    name: str,
    refine: _OffsetGrid | None = None,
) -> _Pair:
    """Solve ``forward(x) == target`` by fixed-point iteration ``x <- x - (forward(x) - target)``.

    Works on flat arrays, in blocks of :data:`_BLOCK` points. The iteration converges because
    every forward transform here is the identity plus a slowly varying offset (contraction
    factor of order 1e-2). For each point the iterate with the smallest residual
    ``max(|dlon|, |dlat|)`` is kept; a point is finished once that residual is below
    ``tol_deg``. Points that do not converge within ``max_iter`` forward evaluations keep
    their best iterate and trigger one :class:`~gisplan.errors.GisplanWarning` per call.
    `refine`, when given, replaces the start values block by block with better ones (fewer iterations;
    the same stopping rule, so the same accuracy).
    """
    _check_solver_args(tol_deg, max_iter)
    out_lon = start_lon.copy()
    out_lat = start_lat.copy()

    def solve(lo: int) -> tuple[int, float]:
        block = slice(lo, lo + _BLOCK)
        if refine is not None:
            refine.improve(target_lon[block], target_lat[block], out_lon[block], out_lat[block])
        return _invert_block(forward, target_lon[block], target_lat[block], out_lon[block], out_lat[block],
                             tol_deg=tol_deg, max_iter=max_iter)

    starts = range(0, target_lon.size, _BLOCK)
    if len(starts) > 1:  # numpy releases the GIL: blocks (disjoint slices of the output) on every core
        with ThreadPoolExecutor(max_workers=settings.thread_count()) as pool:
            results = list(pool.map(solve, starts))
    else:
        results = [solve(lo) for lo in starts]
    stuck = sum(n for n, _ in results)
    worst = max((w for _, w in results), default=0.0)
    if stuck:
        msg = (
            f"{name}: {stuck} point(s) did not converge to "
            f"{tol_deg:g} degree in {int(max_iter)} iterations (worst residual {worst:.3g} "
            f"degree, about {worst * 111_320:.3g} m); their best estimate is returned. For "
            "GCJ-02 this happens in the thin band along the edge of China's bounding box, "
            "where the offset switches off and some GCJ-02 points have no WGS84 preimage."
        )
        warnings.warn(msg, GisplanWarning, stacklevel=3)
    return out_lon, out_lat


def _invert_block(
    forward: Callable[[_FloatArray, _FloatArray], _Pair],
    target_lon: _FloatArray,
    target_lat: _FloatArray,
    out_lon: _FloatArray,
    out_lat: _FloatArray,
    *,
    tol_deg: float,
    max_iter: int,
) -> tuple[int, float]:
    """Solve one block in place (`out_*` hold the start values); return (unconverged, worst residual)."""
    # NaN / inf inputs cannot converge; leave them alone (NaN in, NaN out).
    ok = np.isfinite(target_lon) & np.isfinite(target_lat)
    ok &= np.isfinite(out_lon) & np.isfinite(out_lat)
    idx = np.flatnonzero(ok)
    # Working set: current iterate x, target t, best iterate so far and its residual.
    x_lon, x_lat = out_lon[idx], out_lat[idx]
    t_lon, t_lat = target_lon[idx], target_lat[idx]
    b_lon, b_lat = x_lon.copy(), x_lat.copy()
    b_res = np.full(idx.shape, np.inf)
    active = np.ones(idx.shape, dtype=bool)
    for _ in range(int(max_iter)):
        if not active.any():
            break
        f_lon, f_lat = forward(x_lon, x_lat)
        r_lon = f_lon - t_lon
        r_lat = f_lat - t_lat
        res = np.maximum(np.abs(r_lon), np.abs(r_lat))
        better = res < b_res  # NaN residuals (overflow) never count as better
        np.copyto(b_lon, x_lon, where=better)
        np.copyto(b_lat, x_lat, where=better)
        np.copyto(b_res, res, where=better)
        active = ~(b_res < tol_deg)
        x_lon -= r_lon
        x_lat -= r_lat
        n_active = int(np.count_nonzero(active))
        if n_active and n_active < active.size // 2:
            done = ~active
            out_lon[idx[done]] = b_lon[done]
            out_lat[idx[done]] = b_lat[done]
            idx = idx[active]
            x_lon, x_lat = x_lon[active], x_lat[active]
            t_lon, t_lat = t_lon[active], t_lat[active]
            b_lon, b_lat, b_res = b_lon[active], b_lat[active], b_res[active]
            active = np.ones(idx.shape, dtype=bool)
    out_lon[idx] = b_lon
    out_lat[idx] = b_lat
    if not active.any():
        return 0, 0.0
    bad = b_res[active]
    worst = float(np.max(bad)) if np.isfinite(bad).all() else math.inf
    return int(np.count_nonzero(active)), worst


def _normalise_system(system: object, argname: str = "system") -> str:
    if isinstance(system, str):
        key = system.strip().lower()
        if key in SYSTEMS:
            return key
    accepted = ", ".join(repr(s) for s in SYSTEMS)
    msg = f"Unknown coordinate system {argname}={system!r}; accepted values are {accepted} (case-insensitive)."
    raise CRSError(msg)


# --------------------------------------------------------------------------- public API


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> _Pair:
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
    flon, flat, shape = _flatten(lon, lat)
    out_lon, out_lat = _wgs_to_gcj_flat(flon, flat)
    return out_lon.reshape(shape), out_lat.reshape(shape)


def gcj02_to_wgs84(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    tol_deg: float = 1e-10,
    max_iter: int = 30,
) -> _Pair:
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
    _check_solver_args(tol_deg, max_iter)
    out_lon, out_lat = _invert(
        _wgs_to_gcj_flat,
        flon,
        flat,
        flon,
        flat,
        tol_deg=tol_deg,
        max_iter=max_iter,
        name="gcj02_to_wgs84",
        refine=_OffsetGrid.over(flon, flat, tol_deg=tol_deg, max_iter=max_iter),
    )
    return out_lon.reshape(shape), out_lat.reshape(shape)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> _Pair:
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
    flon, flat, shape = _flatten(lon, lat)
    out_lon, out_lat = _gcj_to_bd_flat(flon, flat)
    return out_lon.reshape(shape), out_lat.reshape(shape)


def bd09_to_gcj02(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    tol_deg: float = 1e-10,
    max_iter: int = 30,
) -> _Pair:
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
    start_lon, start_lat = _bd_to_gcj_approx_flat(flon, flat)
    out_lon, out_lat = _invert(
        _gcj_to_bd_flat,
        flon,
        flat,
        start_lon,
        start_lat,
        tol_deg=tol_deg,
        max_iter=max_iter,
        name="bd09_to_gcj02",
    )
    return out_lon.reshape(shape), out_lat.reshape(shape)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> _Pair:
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
    flon, flat, shape = _flatten(lon, lat)
    out_lon, out_lat = _gcj_to_bd_flat(*_wgs_to_gcj_flat(flon, flat))
    return out_lon.reshape(shape), out_lat.reshape(shape)


def bd09_to_wgs84(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    tol_deg: float = 1e-10,
    max_iter: int = 30,
) -> _Pair:
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


def to_wgs84(lon: ArrayLike, lat: ArrayLike, *, system: str) -> _Pair:
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
    flon, flat, shape = _flatten(lon, lat)
    return flon.reshape(shape), flat.reshape(shape)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, *, system: str) -> _Pair:
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
    flon, flat, shape = _flatten(lon, lat)
    return flon.reshape(shape), flat.reshape(shape)


def _convert(lon: _FloatArray, lat: _FloatArray, source: str, target: str) -> _Pair:
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

    def _func(coords: _FloatArray) -> _FloatArray:
        out = np.array(coords, dtype=np.float64, copy=True)
        out[:, 0], out[:, 1] = _convert(coords[:, 0], coords[:, 1], src, tgt)
        return out

    # include_z=None keeps each geometry's own dimension (shapely >= 2.1); the stubs lag behind
    result = shapely.transform(arr, _func, include_z=None)  # type: ignore[call-overload]
    return np.asarray(result, dtype=object)

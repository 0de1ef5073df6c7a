"""The GCJ-02 and BD-09 offsets on flat arrays, and the exact inverse of any such transform.

The formulas behind :mod:`gisplan.coords`: the forward GCJ-02 offset (the transformLat/transformLon
polynomial on the Krasovsky ellipsoid, applied inside China's rough bounding box), the BD-09 rotation and
shift, and :func:`invert`, the fixed-point solver that makes every inverse conversion exact. Everything here
works on flat ``float64`` arrays; broadcasting, scalars and the public names live in :mod:`gisplan.coords`.
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from gisplan import settings
from gisplan.errors import GisplanWarning
from gisplan.i18n import _

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "BLOCK",
    "CHINA_BOX",
    "FloatArray",
    "Pair",
    "bd_to_gcj_approx",
    "check_solver_args",
    "gcj_offset",
    "gcj_to_bd",
    "in_china",
    "invert",
    "wgs_to_gcj",
]

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

FloatArray = NDArray[np.float64]
Pair = tuple[FloatArray, FloatArray]

#: China's rough bounding box (lon min, lon max, lat min, lat max) of every GCJ-02 implementation.
CHINA_BOX = (_LON_MIN, _LON_MAX, _LAT_MIN, _LAT_MAX)


def in_china(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    """Return True where a point lies inside the GCJ-02 bounding box (NaN -> False)."""
    return (lon >= _LON_MIN) & (lon <= _LON_MAX) & (lat >= _LAT_MIN) & (lat <= _LAT_MAX)


def gcj_offset(lon: FloatArray, lat: FloatArray) -> Pair:
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


def wgs_to_gcj(lon: FloatArray, lat: FloatArray) -> Pair:
    """Forward GCJ-02 on flat arrays; returns new arrays."""
    out_lon = lon.copy()
    out_lat = lat.copy()
    inside = in_china(lon, lat)
    if inside.all():
        dlon, dlat = gcj_offset(lon, lat)
        out_lon += dlon
        out_lat += dlat
    elif inside.any():
        dlon, dlat = gcj_offset(lon[inside], lat[inside])
        out_lon[inside] += dlon
        out_lat[inside] += dlat
    return out_lon, out_lat


def gcj_to_bd(lon: FloatArray, lat: FloatArray) -> Pair:
    """Forward BD-09 (from GCJ-02) on flat arrays; returns new arrays."""
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def bd_to_gcj_approx(lon: FloatArray, lat: FloatArray) -> Pair:
    """Closed-form approximate BD-09 -> GCJ-02 (error up to about a metre); a start value."""
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def check_solver_args(tol_deg: float, max_iter: int) -> None:
    """Raise ValueError unless `tol_deg` is a positive finite number and `max_iter` a positive integer."""
    if not (tol_deg > 0.0 and math.isfinite(tol_deg)):
        msg = _("tol_deg must be a positive finite number of degrees, got {tol_deg!r}.").format(tol_deg=tol_deg)
        raise ValueError(msg)
    if int(max_iter) != max_iter or max_iter < 1:
        msg = _("max_iter must be a positive integer, got {max_iter!r}.").format(max_iter=max_iter)
        raise ValueError(msg)


BLOCK = 1 << 13  # points per block: the solver's temporaries stay in cache and on the heap (64 KB)


def invert(
    forward: Callable[[FloatArray, FloatArray], Pair],
    target: Pair,
    start: Pair,
    *,
    tol_deg: float,
    max_iter: int,
    name: str,
    refine: Callable[[FloatArray, FloatArray, FloatArray, FloatArray], None] | None = None,
) -> Pair:
    """Solve ``forward(x) == target`` by fixed-point iteration ``x <- x - (forward(x) - target)``.

    Works on flat arrays, in blocks of :data:`BLOCK` points. The iteration converges because
    every forward transform here is the identity plus a slowly varying offset (contraction
    factor of order 1e-2). For each point the iterate with the smallest residual
    ``max(|dlon|, |dlat|)`` is kept; a point is finished once that residual is below
    ``tol_deg``. Points that do not converge within ``max_iter`` forward evaluations keep
    their best iterate and trigger one :class:`~gisplan.errors.GisplanWarning` per call.
    `target` and `start` are (lon, lat) pairs of flat arrays of one length. `refine`, when given, is called
    as ``refine(target_lon, target_lat, start_lon, start_lat)`` on each block and may overwrite the start
    values in place with better ones (fewer iterations; the same stopping rule, so the same accuracy).
    """
    check_solver_args(tol_deg, max_iter)
    target_lon, target_lat = target
    out_lon = start[0].copy()
    out_lat = start[1].copy()

    def solve(lo: int) -> tuple[int, float]:
        block = slice(lo, lo + BLOCK)
        if refine is not None:
            refine(target_lon[block], target_lat[block], out_lon[block], out_lat[block])
        return _invert_block(forward, target_lon[block], target_lat[block], out_lon[block], out_lat[block],
                             tol_deg=tol_deg, max_iter=max_iter)

    starts = range(0, target_lon.size, BLOCK)
    if len(starts) > 1:  # numpy releases the GIL: blocks (disjoint slices of the output) on every core
        with ThreadPoolExecutor(max_workers=settings.thread_count()) as pool:
            results = list(pool.map(solve, starts))
    else:
        results = [solve(lo) for lo in starts]
    stuck = sum(n for n, _ in results)
    worst = max((w for _, w in results), default=0.0)
    if stuck:
        msg = (
            _("{name}: {stuck} point(s) did not converge to {tol_deg:g} degree in {max_iter} iterations (worst "
              "residual {worst:.3g} degree, about {worst2:.3g} m); their best estimate is returned. For GCJ-02 "
              "this happens in the thin band along the edge of China's bounding box, where the offset switches off "
              "and some GCJ-02 points have no WGS84 preimage.").format(
                name=name, stuck=stuck, tol_deg=tol_deg, max_iter=int(max_iter), worst=worst, worst2=worst * 111_320)
        )
        warnings.warn(msg, GisplanWarning, stacklevel=3)
    return out_lon, out_lat


def _invert_block(
    forward: Callable[[FloatArray, FloatArray], Pair],
    target_lon: FloatArray,
    target_lat: FloatArray,
    out_lon: FloatArray,
    out_lat: FloatArray,
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
    for _step in range(int(max_iter)):
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

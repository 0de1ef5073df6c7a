"""Tests for gisplan.coords (WGS84 / GCJ-02 / BD-09 conversions)."""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, shape

from gisplan import coords
from gisplan.coords import (
    CHINESE_SYSTEMS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    transform_geometries,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from gisplan.errors import CRSError, GisplanWarning
from tests.conftest import peer, shared_data

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from numpy.typing import ArrayLike, NDArray

GEOD = Geod(ellps="WGS84")
# eviltransform uses the WGS84 equatorial radius where the GCJ-02 algorithm uses Krasovsky's.
EVIL_EARTH_R = 6378137.0
KRASOVSKY_A = 6378245.0

YONGCHUAN = (105.9, 29.35)


# --------------------------------------------------------------------------- helpers


def dist_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> NDArray:
    """Geodesic distance in metres on the WGS84 ellipsoid, element-wise."""
    arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2)))
    _, _, d = GEOD.inv(*arrays)
    return np.asarray(d, dtype=float)


def shared_data_dir() -> Path:
    """Return ``../shared/data``, or skip (fail under CI=true) if it is missing."""
    return shared_data()


def random_points(n: int, seed: int) -> tuple[NDArray, NDArray]:
    """Seeded uniform points inside China's extent, well clear of the GCJ-02 box edges."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(73.6, 134.7, n)
    lat = rng.uniform(18.2, 53.5, n)
    # The offset polynomial has a sqrt(|lon - 105|) cusp: include points right on it.
    lon[:5] = [105.0, 105.0 + 1e-12, 105.0 - 1e-9, 105.000001, 104.99999]
    lon[5:7] = YONGCHUAN[0], 117.2
    lat[5:7] = YONGCHUAN[1], 29.3
    return lon, lat


@pytest.fixture(scope="module")
def grid() -> tuple[NDArray, NDArray]:
    return random_points(20_000, seed=20240501)


@pytest.fixture(scope="module")
def peer_points() -> tuple[NDArray, NDArray]:
    return random_points(200, seed=7)


# --------------------------------------------------------------------------- 5. textbook values


def test_textbook_wgs84_to_gcj02() -> None:
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41024449916938, abs=1e-6)
    assert float(lat) == pytest.approx(39.91640428150164, abs=1e-6)
    # Much tighter than required: same formula, same constants.
    assert abs(float(lon) - 116.41024449916938) < 1e-11
    assert abs(float(lat) - 39.91640428150164) < 1e-11


def test_textbook_gcj02_to_bd09() -> None:
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41036949371029, abs=1e-6)
    assert float(lat) == pytest.approx(39.92133699351022, abs=1e-6)
    assert abs(float(lon) - 116.41036949371029) < 1e-11
    assert abs(float(lat) - 39.92133699351022) < 1e-11


def test_textbook_inverses_recover_the_input() -> None:
    lon, lat = gcj02_to_wgs84(116.41024449916938, 39.91640428150164)
    assert abs(float(lon) - 116.404) < 1e-9
    assert abs(float(lat) - 39.915) < 1e-9
    lon, lat = bd09_to_gcj02(116.41036949371029, 39.92133699351022)
    assert abs(float(lon) - 116.404) < 1e-9
    assert abs(float(lat) - 39.915) < 1e-9


# --------------------------------------------------------------------------- 1. round trips


def test_forward_offsets_are_plausible(grid: tuple[NDArray, NDArray]) -> None:
    """Guards the round-trip tests against a do-nothing implementation."""
    lon, lat = grid
    gl, ga = wgs84_to_gcj02(lon, lat)
    shift = dist_m(lon, lat, gl, ga)
    assert shift.min() > 10.0, shift.min()
    assert shift.max() < 1000.0, shift.max()
    bl, ba = gcj02_to_bd09(gl, ga)
    shift_bd = dist_m(gl, ga, bl, ba)
    assert shift_bd.min() > 400.0, shift_bd.min()
    assert shift_bd.max() < 1200.0, shift_bd.max()


@pytest.mark.parametrize(
    ("name", "forward", "inverse"),
    [
        ("wgs84->gcj02->wgs84", wgs84_to_gcj02, gcj02_to_wgs84),
        ("wgs84->bd09->wgs84", wgs84_to_bd09, bd09_to_wgs84),
        ("gcj02->bd09->gcj02", gcj02_to_bd09, bd09_to_gcj02),
    ],
)
def test_round_trip(
    grid: tuple[NDArray, NDArray],
    name: str,
    forward: Callable[..., tuple[NDArray, NDArray]],
    inverse: Callable[..., tuple[NDArray, NDArray]],
) -> None:
    lon, lat = grid
    assert lon.size >= 10_000
    with warnings.catch_warnings():
        warnings.simplefilter("error", GisplanWarning)
        back_lon, back_lat = inverse(*forward(lon, lat))
    err_m = dist_m(lon, lat, back_lon, back_lat)
    assert err_m.max() <= 1.0, f"{name}: max round-trip error {err_m.max():.3g} m"
    assert err_m.max() <= 0.01, f"{name}: max round-trip error {err_m.max():.3g} m"
    err_deg = np.maximum(np.abs(back_lon - lon), np.abs(back_lat - lat))
    assert err_deg.max() <= 1e-9, f"{name}: max round-trip error {err_deg.max():.3g} degree"


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [(wgs84_to_gcj02, gcj02_to_wgs84), (gcj02_to_bd09, bd09_to_gcj02)],
)
def test_inverse_residual_below_tolerance(
    grid: tuple[NDArray, NDArray],
    forward: Callable[..., tuple[NDArray, NDArray]],
    inverse: Callable[..., tuple[NDArray, NDArray]],
) -> None:
    """Inverting arbitrary (not round-tripped) input: forward(inverse(p)) == p to 1e-10 degree."""
    lon, lat = grid
    inv_lon, inv_lat = inverse(lon, lat)
    f_lon, f_lat = forward(inv_lon, inv_lat)
    residual = np.maximum(np.abs(f_lon - lon), np.abs(f_lat - lat))
    assert residual.max() < 1e-10, residual.max()
    # The inverse genuinely moved the points (a no-op would have residual ~ the offset).
    assert dist_m(lon, lat, inv_lon, inv_lat).min() > 10.0


def test_start_grid_for_many_points_gives_the_same_answer_in_fewer_iterations(monkeypatch: pytest.MonkeyPatch) -> None:
    """200,000 scattered points over central Chongqing take the interpolated start values; every residual is
    still below the tolerance, the answer equals the plain iteration's to 3e-10 degree (0.03 mm), and
    the solver evaluates the forward transform fewer times (here 3.3 per point, grid included, against
    4.1; on the Chongqing road vertices 3 against 5)."""
    rng = np.random.default_rng(5)
    lon = rng.uniform(106.0, 108.2, 200_000)
    lat = rng.uniform(29.0, 31.2, 200_000)
    lon[:3], lat[:3] = np.nan, (30.0, np.nan, np.nan)  # NaN in, NaN out, through the grid path too
    lon[3], lat[3] = 2.35, 48.85  # outside China: unchanged
    grid = coords._OffsetGrid.over(lon, lat, tol_deg=1e-10, max_iter=30)
    assert grid is not None
    assert grid.step == pytest.approx(0.02)
    calls = {"points": 0}
    forward = coords._wgs_to_gcj_flat

    def counting(a: NDArray, b: NDArray) -> tuple[NDArray, NDArray]:
        calls["points"] += len(a)
        return forward(a, b)

    monkeypatch.setattr(coords, "_wgs_to_gcj_flat", counting)
    got = gcj02_to_wgs84(lon, lat)
    with_grid = calls["points"]
    monkeypatch.setattr(coords._OffsetGrid, "over", classmethod(lambda *_a, **_k: None))
    calls["points"] = 0
    plain = gcj02_to_wgs84(lon, lat)
    assert with_grid < 0.85 * calls["points"]
    f_lon, f_lat = wgs84_to_gcj02(*got)
    residual = np.maximum(np.abs(f_lon - lon), np.abs(f_lat - lat))
    assert np.nanmax(residual) < 1e-10
    assert np.isnan(got[0][:3]).all()
    assert np.isnan(got[1][1:3]).all()
    assert (got[0][3], got[1][3]) == (2.35, 48.85)
    assert np.nanmax(np.abs(got[0] - plain[0])) < 3e-10
    assert np.nanmax(np.abs(got[1] - plain[1])) < 3e-10


def test_no_start_grid_near_the_edge_of_the_gcj02_box_or_for_few_points() -> None:
    rng = np.random.default_rng(6)
    near_edge = (rng.uniform(72.01, 74.0, 150_000), rng.uniform(38.0, 40.0, 150_000))
    assert coords._OffsetGrid.over(*near_edge, tol_deg=1e-10, max_iter=30) is None
    few = (rng.uniform(105.3, 110.2, 1000), rng.uniform(28.2, 32.2, 1000))
    assert coords._OffsetGrid.over(*few, tol_deg=1e-10, max_iter=30) is None


def test_looser_tolerance_is_honoured_and_cheaper(grid: tuple[NDArray, NDArray]) -> None:
    lon, lat = grid
    exact = gcj02_to_wgs84(lon, lat)
    loose = gcj02_to_wgs84(lon, lat, tol_deg=1e-5)
    f_lon, f_lat = wgs84_to_gcj02(*loose)
    residual = np.maximum(np.abs(f_lon - lon), np.abs(f_lat - lat))
    assert residual.max() < 1e-5
    # With a loose tolerance the answer is less exact than the default (it stopped earlier).
    assert np.abs(loose[0] - exact[0]).max() > 1e-10


def test_bad_solver_arguments_raise() -> None:
    with pytest.raises(ValueError, match="tol_deg"):
        gcj02_to_wgs84(105.9, 29.35, tol_deg=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        bd09_to_gcj02(105.9, 29.35, max_iter=0)


def test_named_dispatch_matches_direct_functions(grid: tuple[NDArray, NDArray]) -> None:
    lon, lat = grid[0][:500], grid[1][:500]
    np.testing.assert_array_equal(from_wgs84(lon, lat, system="gcj02")[0], wgs84_to_gcj02(lon, lat)[0])
    np.testing.assert_array_equal(from_wgs84(lon, lat, system="BD09")[1], wgs84_to_bd09(lon, lat)[1])
    np.testing.assert_array_equal(to_wgs84(lon, lat, system="Gcj02")[0], gcj02_to_wgs84(lon, lat)[0])
    np.testing.assert_array_equal(to_wgs84(lon, lat, system="bd09")[1], bd09_to_wgs84(lon, lat)[1])
    w_lon, w_lat = to_wgs84(lon, lat, system="WGS84")
    np.testing.assert_array_equal(w_lon, lon)
    np.testing.assert_array_equal(w_lat, lat)
    assert w_lon is not lon  # a new array, not the caller's
    assert CHINESE_SYSTEMS == ("gcj02", "bd09")


# --------------------------------------------------------------------------- 2. peer libraries


def _peer_loop(
    func: Callable[[float, float], tuple[float, float]], lon: NDArray, lat: NDArray
) -> tuple[NDArray, NDArray]:
    """Apply a scalar peer function (lon, lat) -> (lon, lat) point by point (tests only)."""
    out = np.array([func(float(x), float(y)) for x, y in zip(lon, lat, strict=True)], dtype=float)
    return out[:, 0], out[:, 1]


def _evil(name: str) -> Callable[[float, float], tuple[float, float]]:
    """eviltransform takes and returns (lat, lon); adapt it to (lon, lat)."""
    def wrapped(lon: float, lat: float) -> tuple[float, float]:
        out_lat, out_lon = getattr(peer("eviltransform"), name)(lat, lon)
        return out_lon, out_lat

    return wrapped


def _cc(name: str) -> Callable[[float, float], tuple[float, float]]:
    """coord_convert's function, imported when a test first calls it (a missing peer fails that test only)."""

    def wrapped(lon: float, lat: float) -> tuple[float, float]:
        return getattr(peer("coord_convert.transform"), name)(lon, lat)  # type: ignore[no-any-return]

    return wrapped


FORWARD_CASES = [
    ("coord_convert.wgs2gcj", _cc("wgs2gcj"), wgs84_to_gcj02),
    ("coord_convert.gcj2bd", _cc("gcj2bd"), gcj02_to_bd09),
    ("coord_convert.wgs2bd", _cc("wgs2bd"), wgs84_to_bd09),
    ("eviltransform.gcj2bd", _evil("gcj2bd"), gcj02_to_bd09),
]


@pytest.mark.parametrize(("peer_name", "peer", "ours"), FORWARD_CASES, ids=[c[0] for c in FORWARD_CASES])
def test_forward_agrees_with_peer(
    peer_points: tuple[NDArray, NDArray],
    peer_name: str,
    peer: Callable[[float, float], tuple[float, float]],
    ours: Callable[..., tuple[NDArray, NDArray]],
) -> None:
    lon, lat = peer_points
    p_lon, p_lat = _peer_loop(peer, lon, lat)
    o_lon, o_lat = ours(lon, lat)
    diff = dist_m(p_lon, p_lat, o_lon, o_lat)
    assert diff.max() <= 0.01, f"{peer_name}: max difference {diff.max():.3g} m"
    # The points really moved, so agreement is not trivial.
    assert dist_m(lon, lat, o_lon, o_lat).min() > 10.0


@pytest.mark.parametrize("peer_name", ["wgs2gcj", "wgs2bd"])
def test_forward_agrees_with_eviltransform(peer_points: tuple[NDArray, NDArray], peer_name: str) -> None:
    """eviltransform's forward differs by up to ~1.2 cm: it uses R = 6378137 m, not Krasovsky's 6378245 m.

    Its GCJ-02 offset is therefore ours times 6378245/6378137 (1 + 1.7e-5). Once that
    scale is taken out the two agree to well under a millimetre.
    """
    lon, lat = peer_points
    p_lon, p_lat = _peer_loop(_evil(peer_name), lon, lat)
    if peer_name == "wgs2gcj":
        ref_lon, ref_lat = wgs84_to_gcj02(lon, lat)
        # Undo eviltransform's radius: scale its offset back to the Krasovsky radius.
        scale = EVIL_EARTH_R / KRASOVSKY_A
        adj_lon = lon + (p_lon - lon) * scale
        adj_lat = lat + (p_lat - lat) * scale
    else:
        ref_lon, ref_lat = wgs84_to_bd09(lon, lat)
        # Same correction, applied in the GCJ-02 stage (gcj2bd is identical in both libraries).
        e_gcj_lon, e_gcj_lat = _peer_loop(_evil("wgs2gcj"), lon, lat)
        scale = EVIL_EARTH_R / KRASOVSKY_A
        adj_lon, adj_lat = gcj02_to_bd09(lon + (e_gcj_lon - lon) * scale, lat + (e_gcj_lat - lat) * scale)
    raw = dist_m(p_lon, p_lat, ref_lon, ref_lat)
    adjusted = dist_m(adj_lon, adj_lat, ref_lon, ref_lat)
    assert raw.max() <= 0.015, f"eviltransform.{peer_name}: raw max difference {raw.max():.3g} m"
    assert adjusted.max() <= 1e-4, f"eviltransform.{peer_name}: radius-corrected max {adjusted.max():.3g} m"
    # The raw difference is real (so the radius explanation is tested, not assumed).
    assert raw.max() > 1e-3


INVERSE_CASES = [
    ("eviltransform.gcj2wgs", _evil("gcj2wgs"), gcj02_to_wgs84, wgs84_to_gcj02),
    ("eviltransform.gcj2wgs_exact", _evil("gcj2wgs_exact"), gcj02_to_wgs84, wgs84_to_gcj02),
    ("coord_convert.gcj2wgs", _cc("gcj2wgs"), gcj02_to_wgs84, wgs84_to_gcj02),
    ("eviltransform.bd2gcj", _evil("bd2gcj"), bd09_to_gcj02, gcj02_to_bd09),
    ("coord_convert.bd2gcj", _cc("bd2gcj"), bd09_to_gcj02, gcj02_to_bd09),
    ("eviltransform.bd2wgs", _evil("bd2wgs"), bd09_to_wgs84, wgs84_to_bd09),
    ("coord_convert.bd2wgs", _cc("bd2wgs"), bd09_to_wgs84, wgs84_to_bd09),
]


@pytest.mark.parametrize(
    ("peer_name", "peer", "ours", "exact_forward"), INVERSE_CASES, ids=[c[0] for c in INVERSE_CASES]
)
def test_inverse_at_least_as_accurate_as_peer(
    peer_points: tuple[NDArray, NDArray],
    peer_name: str,
    peer: Callable[[float, float], tuple[float, float]],
    ours: Callable[..., tuple[NDArray, NDArray]],
    exact_forward: Callable[..., tuple[NDArray, NDArray]],
) -> None:
    """Error of an inverse = distance between the input and exact_forward(inverse(input))."""
    lon, lat = peer_points
    o_lon, o_lat = ours(lon, lat)
    p_lon, p_lat = _peer_loop(peer, lon, lat)
    ours_err = dist_m(lon, lat, *exact_forward(o_lon, o_lat))
    peer_err = dist_m(lon, lat, *exact_forward(p_lon, p_lat))
    assert ours_err.max() <= 1e-4, f"ours ({peer_name} case): max error {ours_err.max():.3g} m"
    assert ours_err.max() <= peer_err.max(), (
        f"{peer_name}: ours max {ours_err.max():.3g} m > peer max {peer_err.max():.3g} m"
    )
    assert np.all(ours_err <= peer_err + 1e-4), f"{peer_name}: worse than the peer at some point"
    # And the two answers are the same place to within the peer's own error (the error is
    # measured after the forward map, which stretches distances by up to ~1 %, plus 1 cm).
    assert dist_m(o_lon, o_lat, p_lon, p_lat).max() <= 1.02 * peer_err.max() + 0.01


# --------------------------------------------------------------------------- 3. reference files


def _vertices(path: Path) -> tuple[NDArray, NDArray]:
    """All vertices of a GeoJSON file, and the feature name each belongs to."""
    with path.open(encoding="utf-8") as fh:
        features = json.load(fh)["features"]
    geoms = np.asarray([shape(f["geometry"]) for f in features], dtype=object)
    names = np.repeat([str(f["properties"].get("name")) for f in features], shapely.get_num_coordinates(geoms))
    return shapely.get_coordinates(geoms), names


# (stem, decimals of the WGS84 reference file, features repaired with make_valid in each file separately)
TWINS = [("yongchuan_500118_district", 6, ()), ("zhushan_360203_district", 6, ()),
         ("jingdezhen_360200_city", 6, ()), ("yongchuan_townships", 6, ("何埂镇", "南大街街道")),
         ("chongqing_districts", 7, ()), ("yongchuan_sichuan_neighbours", 7, ())]


@pytest.mark.parametrize(("stem", "decimals", "repaired"), TWINS)
def test_matches_independent_gcj02_inverse(stem: str, decimals: int, repaired: tuple[str, ...]) -> None:
    """Each vertex lies within the rounding of the reference file: half a unit of its last decimal per axis
    (plus 1e-9° for our inverse's residual) — 0.074 m at 29° N for 1e-6°, 0.0074 m for 1e-7°. The two 永川
    townships SOURCES.md says were repaired with make_valid differ by up to two roundings (1e-6°, 0.11 m)."""
    boundaries = shared_data_dir() / "boundaries"
    gcj, names = _vertices(boundaries / f"{stem}_gcj02.geojson")
    wgs, _ = _vertices(boundaries / f"{stem}_wgs84.geojson")
    assert gcj.shape == wgs.shape, (gcj.shape, wgs.shape)
    assert len(gcj) > 500
    lon, lat = gcj02_to_wgs84(gcj[:, 0], gcj[:, 1])
    axis = np.maximum(np.abs(lon - wgs[:, 0]), np.abs(lat - wgs[:, 1]))
    half = 0.5 * 10.0**-decimals + 1e-9
    twice = np.isin(names, repaired)
    assert axis[~twice].max() <= half, f"{stem}: {axis[~twice].max():.3g}° beyond the file's rounding"
    assert axis[twice].max(initial=0) <= 2 * half
    err = dist_m(lon, lat, wgs[:, 0], wgs[:, 1])
    assert err[~twice].max() <= 0.074 * 10.0 ** (6 - decimals), f"{stem}: {err.max():.4f} m"
    assert err.max() <= 0.112 * 10.0 ** (6 - decimals), f"{stem}: {err.max():.4f} m"
    # The files really are ~300-600 m apart, so the agreement means something.
    shift = dist_m(gcj[:, 0], gcj[:, 1], wgs[:, 0], wgs[:, 1])
    assert shift.min() > 300.0, shift.min()


# --------------------------------------------------------------------------- 4. behaviour


OUTSIDE = np.array(
    [
        [2.3522, 48.8566],  # Paris
        [-74.006, 40.7128],  # New York
        [139.6917, 35.6895],  # Tokyo (east of the box)
        [100.5, 0.5],  # south of the box
        [71.9, 40.0],  # just west of the box
        [106.0, 56.0],  # just north of the box
        [-180.0, -90.0],
    ]
)


@pytest.mark.parametrize("func", [wgs84_to_gcj02, gcj02_to_wgs84])
def test_gcj02_leaves_points_outside_china_unchanged(func: Callable[..., tuple[NDArray, NDArray]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", GisplanWarning)
        lon, lat = func(OUTSIDE[:, 0], OUTSIDE[:, 1])
    np.testing.assert_array_equal(lon, OUTSIDE[:, 0])
    np.testing.assert_array_equal(lat, OUTSIDE[:, 1])
    # ... while a point inside is moved by hundreds of metres.
    in_lon, in_lat = func(*YONGCHUAN)
    assert 300.0 < dist_m(*YONGCHUAN, in_lon, in_lat)[0] < 600.0


def test_bd09_outside_china_applies_only_the_bd09_step() -> None:
    lon, lat = OUTSIDE[:, 0], OUTSIDE[:, 1]
    bl, ba = wgs84_to_bd09(lon, lat)
    dl, da = gcj02_to_bd09(lon, lat)
    np.testing.assert_array_equal(bl, dl)
    np.testing.assert_array_equal(ba, da)
    assert np.abs(bl - lon).max() > 1e-3  # the BD-09 step is not a no-op
    wl, wa = bd09_to_wgs84(bl, ba)
    keep = np.abs(lat) < 89.0  # the pole is degenerate in longitude
    assert dist_m(lon[keep], lat[keep], wl[keep], wa[keep]).max() < 1e-3


def test_nan_in_nan_out_without_warning() -> None:
    lon = np.array([np.nan, 105.9, 105.9])
    lat = np.array([29.35, np.nan, 29.35])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for func in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84):
            out_lon, out_lat = func(lon, lat)
            # A NaN coordinate stays NaN (the other one may pass through unchanged).
            assert np.isnan(out_lon[0]), func.__name__
            assert np.isnan(out_lat[1]), func.__name__
            assert np.isfinite(out_lon[2]), func.__name__
            assert np.isfinite(out_lat[2]), func.__name__


def test_point_without_preimage_warns_and_returns_best_estimate() -> None:
    # The GCJ-02 offset switches off at lon 72.004 and is about +0.004 degree there, so GCJ-02
    # longitudes just east of the edge have no WGS84 preimage.
    with pytest.warns(GisplanWarning, match="did not converge"):
        lon, lat = gcj02_to_wgs84([72.0045, 105.9], [40.0, 29.35])
    assert np.isfinite(lon).all()
    assert np.isfinite(lat).all()
    # The well-behaved point in the same call is still exact.
    f_lon, f_lat = wgs84_to_gcj02(lon[1], lat[1])
    assert abs(float(f_lon) - 105.9) < 1e-10
    assert abs(float(f_lat) - 29.35) < 1e-10


ALL_FUNCS = [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84]


@pytest.mark.parametrize("func", ALL_FUNCS, ids=[f.__name__ for f in ALL_FUNCS])
def test_scalar_input_gives_0d_float64_arrays(func: Callable[..., tuple[NDArray, NDArray]]) -> None:
    lon, lat = func(105.9, 29.35)
    assert isinstance(lon, np.ndarray)
    assert isinstance(lat, np.ndarray)
    assert lon.shape == ()
    assert lat.shape == ()
    assert lon.dtype == np.float64
    assert lat.dtype == np.float64
    a_lon, a_lat = func(np.array([105.9]), np.array([29.35]))
    assert float(lon) == a_lon[0]
    assert float(lat) == a_lat[0]
    assert 300.0 < dist_m(105.9, 29.35, lon, lat)[0] < 1600.0
    # Integers and lists are accepted too.
    i_lon, _ = func([106, 105], 29)
    assert i_lon.dtype == np.float64
    assert i_lon.shape == (2,)


@pytest.mark.parametrize("func", ALL_FUNCS, ids=[f.__name__ for f in ALL_FUNCS])
def test_shapes_are_preserved(func: Callable[..., tuple[NDArray, NDArray]], grid: tuple[NDArray, NDArray]) -> None:
    lon2d = grid[0][:1200].reshape(30, 40)
    lat2d = grid[1][:1200].reshape(30, 40)
    out_lon, out_lat = func(lon2d, lat2d)
    assert out_lon.shape == (30, 40)
    assert out_lat.shape == (30, 40)
    flat_lon, flat_lat = func(lon2d.ravel(), lat2d.ravel())
    np.testing.assert_allclose(out_lon, flat_lon.reshape(30, 40), rtol=0, atol=1e-12)
    np.testing.assert_allclose(out_lat, flat_lat.reshape(30, 40), rtol=0, atol=1e-12)
    # Broadcasting: (3, 1) against (4,) gives (3, 4).
    b_lon, b_lat = func(np.array([[105.8], [105.9], [106.0]]), np.array([29.2, 29.3, 29.4, 29.5]))
    assert b_lon.shape == (3, 4)
    assert b_lat.shape == (3, 4)
    # Inputs are not modified in place.
    assert np.array_equal(lon2d, grid[0][:1200].reshape(30, 40))


@pytest.mark.parametrize("func", [to_wgs84, from_wgs84])
def test_unknown_system_raises_crserror(func: Callable[..., tuple[NDArray, NDArray]]) -> None:
    with pytest.raises(CRSError, match="epsg:9999") as info:
        func(105.9, 29.35, system="epsg:9999")
    assert isinstance(info.value, ValueError)
    for accepted in ("wgs84", "gcj02", "bd09"):
        assert accepted in str(info.value)
    with pytest.raises(CRSError, match="None"):
        func(105.9, 29.35, system=None)  # type: ignore[arg-type]


def test_transform_geometries_rejects_unknown_systems() -> None:
    with pytest.raises(CRSError, match="mars"):
        transform_geometries([Point(105.9, 29.35)], source="mars")
    with pytest.raises(CRSError, match="EPSG:4490"):
        transform_geometries([Point(105.9, 29.35)], source="gcj02", target="EPSG:4490")


def _yongchuan_geoms() -> list[object]:
    x0, y0 = YONGCHUAN
    point = Point(x0, y0)
    line = LineString([(x0 - 0.05, y0 - 0.02), (x0, y0), (x0 + 0.04, y0 + 0.03)])
    shell = [(x0 - 0.1, y0 - 0.1), (x0 + 0.1, y0 - 0.1), (x0 + 0.1, y0 + 0.1), (x0 - 0.1, y0 + 0.1)]
    hole = [(x0 - 0.02, y0 - 0.02), (x0 + 0.02, y0 - 0.02), (x0, y0 + 0.03)]
    polygon = Polygon(shell, [hole])
    multi = MultiPolygon(
        [
            Polygon([(x0 + 0.2, y0), (x0 + 0.3, y0), (x0 + 0.3, y0 + 0.1)]),
            Polygon([(x0 - 0.3, y0), (x0 - 0.2, y0), (x0 - 0.2, y0 - 0.1), (x0 - 0.3, y0 - 0.1)]),
        ]
    )
    return [point, line, polygon, multi]


def test_transform_geometries_keeps_types_and_vertices() -> None:
    geoms = _yongchuan_geoms()
    assert len(geoms[2].interiors) == 1
    out = transform_geometries(geoms, source="gcj02")
    assert isinstance(out, np.ndarray)
    assert out.dtype == object
    assert out.shape == (4,)
    assert [g.geom_type for g in out] == ["Point", "LineString", "Polygon", "MultiPolygon"]
    assert len(out[2].interiors) == 1
    assert [len(g.geoms) for g in (geoms[3], out[3])] == [2, 2]
    np.testing.assert_array_equal(shapely.get_num_coordinates(out), shapely.get_num_coordinates(geoms))
    before = shapely.get_coordinates(np.asarray(geoms, dtype=object))
    after = shapely.get_coordinates(out)
    moved = dist_m(before[:, 0], before[:, 1], after[:, 0], after[:, 1])
    assert moved.min() >= 300.0, moved.min()
    assert moved.max() <= 600.0, moved.max()
    # Every vertex is exactly what the point function gives.
    exp_lon, exp_lat = gcj02_to_wgs84(before[:, 0], before[:, 1])
    np.testing.assert_allclose(after[:, 0], exp_lon, rtol=0, atol=1e-12)
    np.testing.assert_allclose(after[:, 1], exp_lat, rtol=0, atol=1e-12)
    # The inputs are untouched.
    assert geoms[0].equals(Point(*YONGCHUAN))


def test_transform_geometries_round_trip_and_systems() -> None:
    geoms = np.asarray(_yongchuan_geoms(), dtype=object)
    bd = transform_geometries(geoms, source="wgs84", target="BD09")
    back = transform_geometries(bd, source="bd09", target="wgs84")
    a = shapely.get_coordinates(geoms)
    b = shapely.get_coordinates(back)
    assert np.abs(a - b).max() < 1e-9
    gcj = transform_geometries(geoms, source="wgs84", target="gcj02")
    via_gcj = transform_geometries(gcj, source="gcj02", target="bd09")
    np.testing.assert_allclose(shapely.get_coordinates(via_gcj), shapely.get_coordinates(bd), rtol=0, atol=1e-12)
    same = transform_geometries(geoms, source="gcj02", target="gcj02")
    np.testing.assert_array_equal(shapely.get_coordinates(same), a)


def test_transform_geometries_none_empty_z_and_geoseries() -> None:
    import geopandas
    geoms = [Point(105.9, 29.35, 250.0), None, Polygon(), LineString([(105.9, 29.35), (105.91, 29.36)])]
    out = transform_geometries(geoms, source="gcj02")
    assert out[1] is None
    assert out[2].is_empty
    assert out[2].geom_type == "Polygon"
    assert out[0].has_z
    assert out[0].z == 250.0
    assert 300.0 < dist_m(105.9, 29.35, out[0].x, out[0].y)[0] < 600.0
    series = geopandas.GeoSeries(geoms, index=[10, 11, 12, 13], crs="EPSG:4326")
    from_series = transform_geometries(series, source="gcj02")
    assert isinstance(from_series, np.ndarray)
    assert from_series.shape == (4,)
    assert from_series[0].equals(out[0])
    assert from_series[3].equals(out[3])
    assert from_series[1] is None or from_series[1].is_empty


def test_module_declares_systems() -> None:
    assert coords.SYSTEMS == ("wgs84", "gcj02", "bd09")

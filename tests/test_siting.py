"""Candidate sites and proposals on a small street grid, checked by brute force."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from shapely import LineString, box

from gisplan.catalogue import load_catalogue
from gisplan.coords import wgs84_to_gcj02
from gisplan.network.graph import build_network
from gisplan.siting.proposals import SiteQuestion, generate_candidates, propose_sites

if TYPE_CHECKING:
    from pathlib import Path

UTM = "EPSG:32648"
WALK = load_catalogue().profiles["walk"]
X0, Y0 = 580_000.0, 3_248_000.0


def grid(n: int = 7, step: float = 400.0):
    lines = [LineString([(X0, Y0 + i * step), (X0 + (n - 1) * step, Y0 + i * step)]) for i in range(n)]
    lines += [LineString([(X0 + i * step, Y0), (X0 + i * step, Y0 + (n - 1) * step)]) for i in range(n)]
    # split at the crossings so that every crossing is a node
    pieces = shapely.get_parts(shapely.union_all(lines))
    return build_network(gpd.GeoDataFrame(geometry=pieces, crs=UTM), min_piece_m=0)


def demand(n: int = 80, seed: int = 3) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    xy = rng.uniform([X0, Y0], [X0 + 2400, Y0 + 2400], (n, 2))
    return gpd.GeoDataFrame({"population": rng.integers(10, 200, n).astype(float),
                             "households": rng.integers(5, 80, n).astype(float),
                             "pop_60plus": rng.integers(1, 40, n).astype(float)},
                            geometry=shapely.points(xy), crs=UTM)


def test_candidates_are_thinned_inside_the_area_and_outside_exclusions(tmp_path: Path) -> None:
    net = grid()
    all_nodes = generate_candidates(net, spacing_m=1)
    assert len(all_nodes) == net.n_nodes == 49
    coarse = generate_candidates(net, spacing_m=800)
    assert len(coarse) == 16  # one node per 800 m cell of the 2.4 km grid
    inside = generate_candidates(net, within=gpd.GeoDataFrame(geometry=[box(X0 - 1, Y0 - 1, X0 + 1000, Y0 + 1000)],
                                                                crs=UTM), spacing_m=1)
    assert len(inside) == 9
    fewer = generate_candidates(net, within=None, spacing_m=1,
                                exclusions=gpd.GeoDataFrame(geometry=[box(X0 - 1, Y0 - 1, X0 + 1, Y0 + 2401)], crs=UTM))
    assert len(fewer) == 42  # the western column of nodes is excluded
    path = tmp_path / "mask.tif"
    with rasterio.open(path, "w", driver="GTiff", width=27, height=27, count=1, dtype="uint8", crs=UTM,
                       transform=from_origin(X0 - 100, Y0 + 2500, 100, 100)) as dst:
        values = np.zeros((27, 27), dtype="uint8")
        values[:, :2] = 1  # x < X0 + 100: the western column
        dst.write(values, 1)
    masked = generate_candidates(net, spacing_m=1, mask=path)
    assert len(masked) == 42


def _brute_force(cands: gpd.GeoDataFrame, dem: gpd.GeoDataFrame, net: object, p: int, minutes: float) -> float:
    """Best population covered by any p candidates (each set evaluated with the engine's own minutes)."""
    from gisplan.network.routing import pairwise_minutes
    from gisplan.network.snapping import snap_index, snap_points

    index = snap_index(net)  # type: ignore[arg-type]
    cxy = shapely.get_coordinates(cands.geometry.to_numpy())
    dxy = shapely.get_coordinates(dem.geometry.to_numpy())
    pairs = pairwise_minutes(net, WALK, snap_points(index, cxy[:, 0], cxy[:, 1], max_snap_m=1000),  # type: ignore[arg-type]
                             snap_points(index, dxy[:, 0], dxy[:, 1], max_snap_m=1000), cutoff_minutes=minutes)
    w = dem["population"].to_numpy()
    best = 0.0
    for combo in itertools.combinations(range(len(cands)), p):
        covered = np.unique(pairs.loc[pairs["source"].isin(combo), "demand"])
        best = max(best, float(w[covered].sum()))
    return best


def test_count_question_equals_brute_force() -> None:
    net = grid()
    dem = demand()
    cands = generate_candidates(net, spacing_m=800)
    existing = gpd.GeoDataFrame({"facility_id": []}, geometry=[], crs=UTM)
    proposal = propose_sites(SiteQuestion("count", 2), network=net, profile=WALK, demand=dem, existing=existing,
                             candidates=cands, threshold_minutes=6.0)
    assert len(proposal.selection.selected) == 2
    assert proposal.covered_after == pytest.approx(_brute_force(cands, dem, net, 2, 6.0))
    assert proposal.covered_before == 0
    sites = proposal.sites
    assert sites["rank"].tolist() == [1, 2]
    assert sites["population_added"].sum() == pytest.approx(proposal.covered_after)
    assert sites.crs.to_epsg() == 4326
    glon, glat = wgs84_to_gcj02(sites["lon"].to_numpy(), sites["lat"].to_numpy())
    assert np.abs(glon - sites["lon_gcj02"]).max() < 1e-6
    assert np.abs(glat - sites["lat_gcj02"]).max() < 1e-6


def test_existing_facilities_are_kept_and_shares_reached() -> None:
    net = grid()
    dem = demand()
    existing = gpd.GeoDataFrame({"facility_id": ["E1"]}, geometry=[shapely.Point(X0 + 1200, Y0 + 1200)], crs=UTM)
    cands = generate_candidates(net, spacing_m=400)
    proposal = propose_sites(SiteQuestion("share", 0.9), network=net, profile=WALK, demand=dem, existing=existing,
                             candidates=cands, threshold_minutes=8.0)
    assert proposal.selection.fixed == ("existing:E1",)
    assert proposal.covered_before > 0
    assert proposal.covered_after >= 0.9 * proposal.total - 1e-9
    assert "existing:E1" not in proposal.selection.selected


def test_units_question_puts_one_site_in_each_lacking_division() -> None:
    net = grid()
    dem = demand()
    towns = gpd.GeoDataFrame({"code12": ["500118001000", "500118002000", "500118003000"]},
                             geometry=[box(X0 - 50, Y0 - 50, X0 + 1000, Y0 + 2450),
                                       box(X0 + 1000, Y0 - 50, X0 + 1700, Y0 + 2450),
                                       box(X0 + 1700, Y0 - 50, X0 + 2450, Y0 + 2450)], crs=UTM)
    cands = generate_candidates(net, spacing_m=1)
    proposal = propose_sites(SiteQuestion("units", 2, ("500118001000", "500118003000")), network=net, profile=WALK,
                             demand=dem, existing=gpd.GeoDataFrame({"facility_id": []}, geometry=[], crs=UTM),
                             candidates=cands, threshold_minutes=6.0, townships=towns,
                             names={"500118001000": "甲街道", "500118003000": "丙镇"})
    assert sorted(proposal.sites["township"]) == ["丙镇", "甲街道"]


def _homes_and_sites(seed: int, n_sites: int) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """80 demand points with populations and `n_sites` site coordinates scattered over the test grid."""
    rng = np.random.default_rng(seed)
    dem = gpd.GeoDataFrame({"population": rng.integers(1, 50, 80).astype(float)},
                           geometry=gpd.points_from_xy(X0 + rng.uniform(0, 2400, 80), Y0 + rng.uniform(0, 2400, 80)),
                           crs=UTM)
    return dem, np.column_stack([X0 + rng.uniform(0, 2400, n_sites), Y0 + rng.uniform(0, 2400, n_sites)])


def test_site_pairs_searched_once_equal_a_fresh_search() -> None:
    """The pairs a run keeps per site (issue 17) are those a fresh search of all the sites gives, in its order."""
    from gisplan.network.graph import edge_minutes
    from gisplan.network.routing import pairwise_minutes
    from gisplan.network.snapping import snap_index, snap_points
    from gisplan.siting.proposals import _site_costs

    net = grid()
    dem, xy = _homes_and_sites(3, 30)
    first = gpd.GeoDataFrame({"candidate_id": [f"a{i}" for i in range(20)]}, geometry=shapely.points(xy[:20]), crs=UTM)
    # the second asks for ten sites met before (in another order) and ten new ones
    again = gpd.GeoDataFrame({"candidate_id": [f"b{i}" for i in range(20)]},
                             geometry=shapely.points(np.concatenate([xy[9::-1], xy[20:]])), crs=UTM)
    for sites in (first, again):
        table = _site_costs(net, WALK, sites, dem, threshold_minutes=9.0, weight="population", max_snap_m=1000)
        index = snap_index(net, usable=~np.isnan(edge_minutes(net, WALK)))
        sxy, dxy = shapely.get_coordinates(sites.geometry.to_numpy()), shapely.get_coordinates(dem.geometry.to_numpy())
        fresh = pairwise_minutes(net, WALK, snap_points(index, sxy[:, 0], sxy[:, 1], max_snap_m=1000),
                                 snap_points(index, dxy[:, 0], dxy[:, 1], max_snap_m=1000), cutoff_minutes=9.0)
        assert len(fresh) > 100
        assert np.array_equal(table.pair_candidate, fresh["source"].to_numpy())
        assert np.array_equal(table.pair_demand, fresh["demand"].to_numpy())
        assert np.array_equal(table.cost, fresh["minutes"].to_numpy())  # bit for bit


def test_site_pairs_from_the_coverages_demand_snap_equal_a_fresh_snap() -> None:
    """The proposals search from the demand as the coverage snapped it (issue 17): the same pairs, bit for bit, as
    when they snap the demand again."""
    from gisplan.network.graph import edge_minutes
    from gisplan.network.snapping import snap_index, snap_points
    from gisplan.siting.proposals import _site_costs

    net = grid()
    dem, xy = _homes_and_sites(3, 30)
    sites = gpd.GeoDataFrame({"candidate_id": [f"a{i}" for i in range(30)]}, geometry=shapely.points(xy), crs=UTM)
    dxy = shapely.get_coordinates(dem.geometry.to_numpy())
    index = snap_index(net, usable=~np.isnan(edge_minutes(net, WALK)))
    known = snap_points(index, dxy[:, 0], dxy[:, 1], max_snap_m=1000)
    given = _site_costs(net, WALK, sites, dem, threshold_minutes=9.0, weight="population", max_snap_m=1000,
                        demand_snap=known)
    fresh = _site_costs(net, WALK, sites, dem.copy(), threshold_minutes=9.0, weight="population", max_snap_m=1000)
    assert len(fresh.cost) > 100
    assert np.array_equal(given.pair_candidate, fresh.pair_candidate)
    assert np.array_equal(given.pair_demand, fresh.pair_demand)
    assert np.array_equal(given.cost, fresh.cost)
    with pytest.raises(ValueError, match="holds 29 points but the demand has 30 rows"):
        _site_costs(net, WALK, sites, dem.iloc[:30].copy(), threshold_minutes=9.0, weight="population",
                    max_snap_m=1000, demand_snap=snap_points(index, dxy[:29, 0], dxy[:29, 1], max_snap_m=1000))


def test_sites_asked_on_two_threads_are_searched_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows of two types asking for overlapping sites at the same time (propose_rows on two threads): each
    site is searched by one thread only, the other waits for it, and both get a fresh search's pairs."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import gisplan.siting.proposals as proposals_module

    net = grid()
    dem, xy = _homes_and_sites(4, 60)
    searched: list[tuple[float, float]] = []
    real, start = proposals_module._search, threading.Barrier(2)

    def search(*args: Any, **kwargs: Any) -> Any:
        searched.extend(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(proposals_module, "_search", search)

    def costs(rows: np.ndarray) -> proposals_module.CostTable:
        sites = gpd.GeoDataFrame({"candidate_id": [f"c{i}" for i in rows]}, geometry=shapely.points(xy[rows]), crs=UTM)
        start.wait()
        return proposals_module._site_costs(net, WALK, sites, dem, threshold_minutes=9.0, weight="population",
                                            max_snap_m=1000)

    halves = (np.arange(0, 40), np.arange(60)[::-1][:40])  # 20 sites in both
    with ThreadPoolExecutor(max_workers=2) as pool:
        tables = list(pool.map(costs, halves))
    assert len(searched) == len(set(searched)) == 60
    monkeypatch.setattr(proposals_module, "_search", real)
    for rows, table in zip(halves, tables, strict=True):
        fresh = proposals_module._site_costs(net, WALK, gpd.GeoDataFrame(
            {"candidate_id": [f"c{i}" for i in rows]}, geometry=shapely.points(xy[rows]), crs=UTM), dem.copy(),
            threshold_minutes=9.0, weight="population", max_snap_m=1000)  # another demand frame: searched afresh
        assert np.array_equal(table.pair_candidate, fresh.pair_candidate)
        assert np.array_equal(table.pair_demand, fresh.pair_demand)
        assert np.array_equal(table.cost, fresh.cost)


def test_inside_polygons_equals_the_union() -> None:
    """Points inside the union of overlapping and touching polygons, without building it; points on shared edges,
    on the outer boundary and at vertices included."""
    from gisplan.siting.proposals import inside_polygons

    polys = np.array([box(0, 0, 2, 2), box(2, 0, 4, 2), box(1, 1, 3, 3), box(10, 10, 11, 11)], dtype=object)
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(-1, 12, 2000), [2, 2, 0, 4, 1, 10.5, 3, 11]])
    y = np.concatenate([rng.uniform(-1, 12, 2000), [1, 0, 1, 1, 3, 10.5, 3, 10]])
    got = inside_polygons(polys, x, y)
    assert np.array_equal(got, shapely.contains_xy(shapely.union_all(polys), x, y))
    assert got[-8:].tolist() == [True, False, False, False, False, True, False, False]

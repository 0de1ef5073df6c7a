"""Coverage: hand-computed access legs and partial edges, one-way rules, and a brute-force check on the
real 永川 network with every demand and facility point inserted into a networkx graph built straight from the
road file (tests/roadref.py), not from gisplan's arcs."""

from __future__ import annotations

import functools
import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString

from gisplan.analysis.coverage import TypeTarget, measure_coverage, unit_totals
from gisplan.catalogue import load_catalogue
from gisplan.errors import CRSError
from gisplan.network import snapping
from gisplan.network.chains import through_chains
from gisplan.network.graph import RoadNetwork, build_network
from gisplan.network.routing import (
    _substrings,
    demand_minutes,
    reach_from_facilities,
    reached_lines,
    service_area_polygons,
    straight_line_nearest,
)
from gisplan.network.snapping import EdgeSnap, snap_index, snap_points
from tests import roadref
from tests.conftest import shared_data

PROFILES = load_catalogue().profiles
WALK = PROFILES["walk"]  # 66.667 m/min, access legs at the same speed
DRIVE = PROFILES["drive"]  # 500 m/min without a class, access legs at 66.667 m/min
UTM = "EPSG:32648"


def network(*coords: list[tuple[float, float]], **columns: list[object]) -> RoadNetwork:
    gdf = gpd.GeoDataFrame(columns, geometry=[LineString(c) for c in coords], crs=UTM)
    return build_network(gdf, min_piece_m=0)


def snap(net: RoadNetwork, *points: tuple[float, float], max_snap_m: float = 500.0) -> EdgeSnap:
    xy = np.array(points, dtype=float)
    return snap_points(snap_index(net), xy[:, 0], xy[:, 1], max_snap_m=max_snap_m)


def minutes(net: RoadNetwork, profile: object, facilities: EdgeSnap, demand: EdgeSnap, cutoff: float = 60.0) -> np.ndarray:
    (reach,) = reach_from_facilities(net, profile, facilities, [np.arange(len(facilities.edge))],  # type: ignore[arg-type]
                                     cutoff_minutes=cutoff)
    return demand_minutes(net, profile, reach, demand, facilities).minutes  # type: ignore[arg-type]


def test_points_snap_to_the_projected_point_on_the_edge() -> None:
    net = network([(0, 0), (1000, 0)], [(1000, 0), (1000, 800)])
    s = snap(net, (300, 40), (1030, 500), (400, -501))
    assert s.edge[:2].tolist() == [0, 1]
    assert s.offset_m[:2] == pytest.approx([300, 500])
    assert s.access_m[:2] == pytest.approx([40, 30])
    assert s.snapped_xy[0] == pytest.approx([300, 0])
    assert s.edge[2] == -1  # 501 m from the road, beyond 500 m
    assert np.isnan(s.offset_m[2])


def test_a_point_at_the_end_of_a_one_way_edge_is_at_that_node() -> None:
    """A point snapped exactly onto an end node of a one-way edge (offset 0 or the edge's length) is at that
    node, whichever edge the tie between the edges meeting there named: reached from the node and reaching it
    at no cost, against the one-way rule or not."""
    # edge 0 two-way (0,0)-(1000,0); edge 1 one-way end→start, i.e. from (1000,800) down to (1000,0)
    net = network([(0, 0), (1000, 0)], [(1000, 0), (1000, 800)], direction=[1, 3])
    assert net.forward.tolist() == [True, False]
    fac = EdgeSnap(np.array([0]), np.array([0.0]), np.array([0.0]), np.array([[0.0, 0.0]]))
    at_corner = np.array([[1000.0, 0.0]])
    on_one_way = EdgeSnap(np.array([1]), np.array([0.0]), np.array([0.0]), at_corner)  # at its u end
    on_two_way = EdgeSnap(np.array([0]), np.array([1000.0]), np.array([0.0]), at_corner)  # at its v end
    expected = 1000 / 500  # 1 km of road at the drive profile's 500 m/min
    assert minutes(net, DRIVE, fac, on_one_way)[0] == pytest.approx(expected, abs=1e-9)
    assert minutes(net, DRIVE, fac, on_two_way)[0] == pytest.approx(expected, abs=1e-9)
    # and the other way round: a facility at the corner named on the one-way edge serves the far end
    home = EdgeSnap(np.array([0]), np.array([0.0]), np.array([0.0]), np.array([[0.0, 0.0]]))
    assert minutes(net, DRIVE, on_one_way, home)[0] == pytest.approx(expected, abs=1e-9)
    # a home on the one-way edge's own end node, the facility there too: no time at all
    assert minutes(net, DRIVE, on_one_way, on_one_way)[0] == pytest.approx(0.0, abs=1e-12)


def test_snapping_to_a_vertex_names_its_edge_end_exactly() -> None:
    """A point projected onto an edge's last vertex gets the edge's own length as offset, not a sum of segment
    lengths an ulp short of it; its first vertex gives 0."""
    net = network([(0, 0), (0.1, 0.3), (0.7, 0.2), (1000.3, 0.1)], [(1000.3, 0.1), (1000.3, 800)])
    s = snap(net, (1010.0, -30.0), (-5.0, -5.0))
    assert s.edge.tolist() == [0, 0]
    assert s.offset_m[0] == net.length_m[0]
    assert s.offset_m[1] == 0.0


def test_partial_edges_and_access_legs_are_hand_computed() -> None:
    net = network([(0, 0), (1000, 0)], [(1000, 0), (1000, 800)])
    fac = snap(net, (1020, 500))  # 20 m off the second road, 500 m along it
    dem = snap(net, (300, 40))  # 40 m off the first road, 300 m along it
    # 40 m access + 700 m to the corner + 500 m up + 20 m access = 1,260 m at 66.667 m/min
    assert minutes(net, WALK, fac, dem)[0] == pytest.approx(1260 / 66.667, abs=1e-9)
    # driving: legs at walking speed, road at 500 m/min
    assert minutes(net, DRIVE, fac, dem)[0] == pytest.approx(60 / 66.667 + 1200 / 500, abs=1e-9)


def test_demand_on_the_facility_edge_goes_straight_along_it() -> None:
    net = network([(0, 0), (1000, 0)])
    fac = snap(net, (600, 10))
    dem = snap(net, (450, -5), (900, 0))
    got = minutes(net, WALK, fac, dem)
    assert got == pytest.approx([(5 + 150 + 10) / 66.667, (300 + 10) / 66.667], abs=1e-9)


def test_one_way_links_bind_driving() -> None:
    # a one-way street start -> end (2), and a two-way detour back round a block
    net = network([(0, 0), (1000, 0)], [(1000, 0), (1000, 500), (0, 500), (0, 0)], direction=[2, 1])
    fac = snap(net, (800, 0))
    dem = snap(net, (200, 0))
    # with the flow: 600 m; walking ignores the rule in both directions
    assert minutes(net, DRIVE, fac, dem)[0] == pytest.approx(600 / 500)
    assert minutes(net, WALK, fac, dem)[0] == pytest.approx(600 / 66.667)
    # against the flow a car must go round: 200 m on the one-way to its end, then the 2,000 m detour... it
    # cannot: the one-way leads away; from 800 to 200 it drives 200 m to (1000,0), round the block 2,000 m
    # to (0,0), then 200 m along the one-way = 2,400 m
    assert minutes(net, DRIVE, dem, fac)[0] == pytest.approx(2400 / 500)
    assert minutes(net, WALK, dem, fac)[0] == pytest.approx(600 / 66.667)


def test_cutoff_unsnapped_and_excluded_roads() -> None:
    net = network([(0, 0), (3000, 0)], [(3000, 0), (3000, 100)], highway=["residential", "motorway"])
    fac = snap(net, (0, 0))
    dem = snap(net, (900, 0), (1100, 0), (1000, 2000))
    got = minutes(net, WALK, fac, dem, cutoff=15.0)
    assert got[0] == pytest.approx(900 / 66.667)
    assert np.isnan(got[1])  # 16.5 min > 15
    assert np.isnan(got[2])  # beyond the snapping distance
    # a walker is not put on the motorway: the point by it snaps to the residential road
    walk_index = snap_index(net, usable=np.array([True, False]))
    s = snap_points(walk_index, np.array([3010.0]), np.array([60.0]), max_snap_m=500)
    assert s.edge.tolist() == [0]
    assert s.access_m[0] == pytest.approx(np.hypot(10, 60))


def test_nearest_facility_is_named() -> None:
    net = network([(0, 0), (2000, 0)])
    fac = snap(net, (100, 0), (1900, 0), (1000, 0))
    (reach,) = reach_from_facilities(net, WALK, fac, [np.array([0, 1])], cutoff_minutes=60)
    near = demand_minutes(net, WALK, reach, snap(net, (300, 5), (1500, 5)), fac)
    assert near.facility.tolist() == [0, 1]  # facility 2 is not in the group
    assert near.minutes == pytest.approx([205 / 66.667, 405 / 66.667])


def test_reached_lines_include_partial_edges() -> None:
    net = network([(0, 0), (2000, 0)], [(2000, 0), (2000, 3000)])
    fac = snap(net, (500, 0))
    (reach,) = reach_from_facilities(net, WALK, fac, [np.array([0])], cutoff_minutes=20)
    lines = reached_lines(net, WALK, reach, fac, minutes=15)
    # 15 min at 66.667 m/min = 1,000.005 m each way from the facility, along the first road only
    assert shapely.length(shapely.union_all(lines)) == pytest.approx(1500.005, abs=1e-3)
    poly = service_area_polygons(lines, trim_m=100)
    assert poly.bounds == pytest.approx((-100, -100, 1600.005, 100), abs=1e-3)
    assert not poly.contains(shapely.Point(2000, 500))
    with pytest.raises(ValueError, match="exceeds the cutoff"):
        reached_lines(net, WALK, reach, fac, minutes=25)


def test_straight_line_method() -> None:
    dist, idx = straight_line_nearest(np.array([[0.0, 0.0], [900.0, 0.0], [5000.0, 0.0]]),
                                      np.array([[0.0, 300.0], [1000.0, 0.0]]), radius_m=1000)
    assert dist[:2] == pytest.approx([300.0, 100.0])
    assert idx.tolist() == [0, 1, -1]
    assert np.isnan(dist[2])


def test_unit_totals_are_hand_computed() -> None:
    # three communities in two townships; community C has no households (share NaN, not inf)
    demand = pd.DataFrame({
        "population": [100.0, 300.0, 50.0, 0.0],
        "households": [40.0, 120.0, 20.0, 0.0],
        "pop_60plus": [10.0, 30.0, np.nan, 0.0],
        "township_code12": ["500118001000", "500118001000", "500118002000", "500118002000"],
        "code12": ["500118001001", "500118001002", "500118002001", "500118002003"],
    })
    covered = {("t", 15.0): np.array([True, False, True, True])}
    reachable = np.array([True, False, True, True])
    names = {"500118001001": "A", "500118002003": "C"}
    out = unit_totals(demand, covered, reachable, names=names, district_code="500118000000")
    district = out[out["level"] == "district"].iloc[0]
    assert district["population_share"] == pytest.approx(150 / 450)
    assert district["households_share"] == pytest.approx(60 / 180)
    assert district["pop_60plus_share"] == pytest.approx(10 / 40)  # the unknown 60+ count is left out
    assert district["population_unreachable"] == 300
    towns = out[out["level"] == "township"].set_index("code12")
    assert towns.loc["500118001000", "population_share"] == pytest.approx(0.25)
    assert towns.loc["500118002000", "population_share"] == pytest.approx(1.0)
    villages = out[out["level"] == "village"].set_index("code12")
    assert np.isnan(villages.loc["500118002003", "households_share"])
    assert villages.loc["500118002003", "name"] == "C"
    assert np.isnan(villages.loc["500118002001", "pop_60plus_share"])
    assert set(out["threshold_unit"]) == {"min"}


def _brute_force(net: RoadNetwork, profile_id: str, fac: EdgeSnap, dem: EdgeSnap, cutoff: float) -> np.ndarray:
    """Insert every snapped point into its link of a networkx graph built straight from the road file
    (tests/roadref.py: own lengths, own `Direction` reading, own speeds) and run Dijkstra from a sink."""
    links = roadref.yongchuan_links()
    ref_of = roadref.node_ids(links, net.node_xy)  # gisplan's node -> the reference node at its place
    link_of = net.source_row  # gisplan's edge -> the link (row of the file) it was built from
    assert np.array_equal(ref_of[net.edge_u], links.start[link_of])  # offsets run from the link's start
    assert np.array_equal(ref_of[net.edge_v], links.end[link_of])
    on_link: dict[int, list[tuple[float, object]]] = {}
    for kind, s in (("f", fac), ("d", dem)):
        for i in np.flatnonzero(s.snapped):
            on_link.setdefault(int(link_of[s.edge[i]]), []).append((float(s.offset_m[i]), (kind, int(i))))
    g = nx.DiGraph()

    def add(a: object, b: object, w: float) -> None:
        if not g.has_edge(a, b) or g[a][b]["weight"] > w:
            g.add_edge(a, b, weight=w)

    for t, h, w, e in zip(*(a.tolist() for a in roadref.arcs(links, profile_id)), strict=True):
        if e not in on_link:
            add(t, h, w)
            continue
        length = links.length_m[e]
        chain = [(0.0, int(links.start[e])), *sorted(on_link[e], key=lambda p: p[0]), (length, int(links.end[e]))]
        if t != links.start[e]:  # travelling end -> start: walk the chain backwards
            chain = [(length - o, p) for o, p in reversed(chain)]
        for (o1, a), (o2, b) in itertools.pairwise(chain):
            add(a, b, (o2 - o1) / length * w)
            if o2 == o1:  # two points at one spot (at a node, say) reach each other whatever the direction
                add(b, a, 0.0)
    speed = roadref.M_PER_MIN["walk"]  # access legs are walked, whatever the profile
    for i in np.flatnonzero(fac.snapped):
        add(("f", int(i)), "sink", fac.access_m[i] / speed)
    dist = nx.single_source_dijkstra_path_length(g.reverse(copy=False), "sink", cutoff=cutoff)
    out = np.array([dist.get(("d", i), np.inf) + dem.access_m[i] / speed if dem.snapped[i] else np.inf
                    for i in range(len(dem.edge))])
    return np.where(out <= cutoff, out, np.nan)


@functools.cache
def _yongchuan() -> RoadNetwork:
    return build_network(gpd.read_file(shared_data("roads", "yongchuan_roadlinks_wgs84.geojson")), crs=UTM)


def _yongchuan_points(
    *, seed: int, n_facilities: int, n_demand: int, sigma_m: float,
) -> tuple[RoadNetwork, EdgeSnap, EdgeSnap]:
    """The real 永川 network with seeded facilities and homes scattered around its nodes, snapped."""
    net = _yongchuan()
    rng = np.random.default_rng(seed)
    index = snap_index(net)
    fxy = net.node_xy[rng.integers(0, net.n_nodes, n_facilities)] + rng.normal(0, sigma_m, (n_facilities, 2))
    dxy = net.node_xy[rng.integers(0, net.n_nodes, n_demand)] + rng.normal(0, sigma_m, (n_demand, 2))
    return (net, snap_points(index, fxy[:, 0], fxy[:, 1], max_snap_m=1000),
            snap_points(index, dxy[:, 0], dxy[:, 1], max_snap_m=1000))


@pytest.mark.parametrize(("profile_id", "cutoff"), [("walk", 15.0), ("drive", 6.0)])
def test_yongchuan_minutes_equal_brute_force(profile_id: str, cutoff: float) -> None:
    net, fac, dem = _yongchuan_points(seed=3, n_facilities=40, n_demand=2000, sigma_m=200)
    profile = PROFILES[profile_id]
    ours = minutes(net, profile, fac, dem, cutoff=cutoff)
    expected = _brute_force(net, profile_id, fac, dem, cutoff)
    assert np.array_equal(np.isnan(ours), np.isnan(expected))
    assert (~np.isnan(ours)).sum() > 200
    assert np.nanmax(np.abs(ours - expected)) <= 1e-6


def test_crowded_edges_minutes_and_nearest_facility_equal_brute_force() -> None:
    """Facilities and homes crowded around six junctions of the real 永川 roads, so that many homes share an
    edge with one or several facilities: minutes equal the networkx brute force, the sparse result holds
    exactly the points within the cutoff, and the facility named for each point is one at that time."""
    from gisplan.network.routing import pairwise_minutes

    net = _yongchuan()
    rng = np.random.default_rng(21)
    hubs = rng.integers(0, net.n_nodes, 6)
    index = snap_index(net)
    fxy = net.node_xy[rng.choice(hubs, 30)] + rng.normal(0, 40, (30, 2))
    dxy = net.node_xy[rng.choice(hubs, 3000)] + rng.normal(0, 60, (3000, 2))
    fac = snap_points(index, fxy[:, 0], fxy[:, 1], max_snap_m=1000)
    dem = snap_points(index, dxy[:, 0], dxy[:, 1], max_snap_m=1000)
    assert (np.bincount(fac.edge[fac.snapped]) > 1).any()  # edges holding several facilities
    assert np.isin(dem.edge, fac.edge).sum() > 100  # homes on a facility's own edge
    for profile in (WALK, DRIVE):
        (reach,) = reach_from_facilities(net, profile, fac, [np.arange(30)], cutoff_minutes=10.0)
        near = demand_minutes(net, profile, reach, dem, fac)
        expected = _brute_force(net, profile.id, fac, dem, 10.0)
        assert sorted(near.points.tolist()) == np.flatnonzero(~np.isnan(expected)).tolist()
        assert np.abs(near.point_minutes - expected[near.points]).max() <= 1e-6
        own = pairwise_minutes(net, profile, fac, dem, cutoff_minutes=10.0).set_index(["demand", "source"])
        named = own.loc[list(zip(near.points.tolist(), near.point_facility.tolist(), strict=True)), "minutes"]
        assert np.abs(named.to_numpy() - near.point_minutes).max() <= 1e-9


def test_measure_coverage_refuses_mismatched_crs() -> None:

    net = network([(0, 0), (1000, 0)])
    fac = gpd.GeoDataFrame({"facility_id": ["F"]}, geometry=[shapely.Point(0, 0)], crs=UTM)
    target = TypeTarget("t", "t", fac, WALK, 15.0)
    lonlat = gpd.GeoDataFrame({"population": [1.0]}, geometry=[shapely.Point(105.9, 29.3)], crs=4326)
    with pytest.raises(CRSError, match="projected CRS in metres"):
        measure_coverage(lonlat, [target], network=net)
    other = lonlat.to_crs("EPSG:32649")
    with pytest.raises(CRSError, match="is in EPSG:32649 but the network in EPSG:32648"):
        measure_coverage(other, [target], network=net)


def test_pairwise_minutes_equal_demand_minutes_per_source() -> None:
    from gisplan.network.routing import pairwise_minutes

    net, fac, dem = _yongchuan_points(seed=8, n_facilities=30, n_demand=1500, sigma_m=150)
    for profile in (WALK, DRIVE):
        pairs = pairwise_minutes(net, profile, fac, dem, cutoff_minutes=12.0, block=7)
        groups = [np.array([i]) for i in range(30)]
        reaches = reach_from_facilities(net, profile, fac, groups, cutoff_minutes=12.0)
        expected = []
        for i, reach in enumerate(reaches):
            m = demand_minutes(net, profile, reach, dem, fac).minutes
            expected += [(d, i, m[d]) for d in np.flatnonzero(~np.isnan(m))]
        exp = pd.DataFrame(expected, columns=["demand", "source", "minutes"]).sort_values(["demand", "source"])
        got = pairs.sort_values(["demand", "source"])
        assert got[["demand", "source"]].to_numpy().tolist() == exp[["demand", "source"]].to_numpy().tolist()
        assert np.abs(got["minutes"].to_numpy() - exp["minutes"].to_numpy()).max() <= 1e-9


def test_snapping_equals_geos_nearest_on_the_real_network() -> None:
    """50,000 scattered points (more than one block: the Z-ordered path) on the real 永川 roads: the access
    distance equals GEOS's nearest distance to 1e-9 m, the offset equals line_locate_point on the chosen
    edge, and points beyond max_snap_m stay unsnapped."""
    net = _yongchuan()
    rng = np.random.default_rng(11)
    xy = net.node_xy[rng.integers(0, net.n_nodes, 50_000)] + rng.normal(0, 300, (50_000, 2))
    snap = snap_points(snap_index(net), xy[:, 0], xy[:, 1], max_snap_m=400)
    points = shapely.points(xy)
    nearest, dist = shapely.STRtree(net.geometry).query_nearest(points, return_distance=True, all_matches=False)
    order = np.argsort(nearest[0])
    geos_m = np.empty(len(xy))
    geos_m[nearest[0][order]] = dist[order]
    inside = geos_m <= 400
    assert np.array_equal(snap.snapped, inside)
    assert 0.01 < (~inside).mean() < 0.5  # both kinds occur
    assert np.abs(snap.access_m[inside] - geos_m[inside]).max() <= 1e-9
    got = snap.edge[inside]
    located = shapely.line_locate_point(net.geometry[got], points[inside])
    assert np.abs(snap.offset_m[inside] - located).max() <= 1e-6
    assert np.abs(shapely.distance(points[inside], shapely.points(snap.snapped_xy[inside]))
                  - geos_m[inside]).max() <= 1e-9


def test_whole_edges_cut_from_end_to_end_are_their_own_geometry() -> None:
    """reached_lines gives a whole reached edge as its geometry instead of cutting it from 0 to its length: on
    every edge of the real 永川 roads the cut is the same line (at most its last vertex twice), and a reached
    area's polygon is the same either way."""
    net = _yongchuan()
    every = np.arange(net.n_edges)
    cut = _substrings(net, every, np.zeros(net.n_edges), net.length_m)
    assert shapely.equals(cut, net.geometry).all()
    assert np.array_equal(shapely.get_coordinates(shapely.remove_repeated_points(cut, 0.0)),
                          shapely.get_coordinates(shapely.remove_repeated_points(net.geometry, 0.0)))
    net2, fac, _dem = _yongchuan_points(seed=3, n_facilities=40, n_demand=10, sigma_m=200)
    (reach,) = reach_from_facilities(net2, WALK, fac, [np.arange(40)], cutoff_minutes=15)
    lines = reached_lines(net2, WALK, reach, fac, minutes=15)
    edge_of = {id(g): e for e, g in enumerate(net2.geometry)}
    whole = np.array([edge_of.get(id(g), -1) for g in lines])
    k = int((whole >= 0).sum())
    assert k > 100
    assert (whole[:k] >= 0).all()  # the whole edges come first, as the cut pieces did
    cut_again = _substrings(net2, whole[:k], np.zeros(k), net2.length_m[whole[:k]])
    old = service_area_polygons(np.concatenate([cut_again, lines[k:]]), trim_m=100)
    new = service_area_polygons(lines, trim_m=100)
    assert new.area > 1e6
    assert shapely.symmetric_difference(new, old).area <= 1e-9 * old.area


def test_service_areas_from_chains_cover_what_the_pieces_cover() -> None:
    """The reached roads of 40 facilities on the real 永川 roads, buffered as chains joined through the junctions
    (service_area_polygons) and as line_merge's pieces (the code before): the same ground but for the octagonal
    arcs at the joins — a symmetric difference under 0.1 % of the area — with a third as many buffers."""
    net, fac, _dem = _yongchuan_points(seed=3, n_facilities=40, n_demand=10, sigma_m=200)
    (reach,) = reach_from_facilities(net, WALK, fac, [np.arange(40)], cutoff_minutes=15)
    lines = reached_lines(net, WALK, reach, fac, minutes=15)
    simple = shapely.simplify(lines, 25.0, preserve_topology=False)
    pieces = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(simple)))
    before = shapely.disjoint_subset_union_all(shapely.buffer(pieces, 100.0, quad_segs=2))
    now = service_area_polygons(lines, trim_m=100)
    assert now.area > 1e6
    assert shapely.symmetric_difference(now, before).area <= 1e-3 * before.area
    assert len(through_chains(shapely.get_parts(simple))) < 0.6 * len(pieces)


@pytest.mark.parametrize("strips", [2, 3])
def test_snapping_with_the_index_in_strips_equals_one_tree(monkeypatch: pytest.MonkeyPatch, strips: int) -> None:
    """A city network's index is split into strips of x, one k-d tree each (built in parallel); forced on the
    real 永川 roads with 2 and 3 strips, 50,000 points (many near the cuts, some beyond max_snap_m) snap at the
    same distance as with one tree and GEOS's nearest, on the same edge except where two edges are equally near."""
    net = _yongchuan()
    rng = np.random.default_rng(12)
    xy = net.node_xy[rng.integers(0, net.n_nodes, 50_000)] + rng.normal(0, 300, (50_000, 2))
    one = snap_index(net)
    assert len(one.trees) == 1
    monkeypatch.setattr(snapping, "_SPLIT_MIN", 1)
    monkeypatch.setenv("GISPLAN_THREADS", str(strips))
    split = snap_index(net)
    assert len(split.trees) == strips
    assert split.n_samples == one.n_samples
    assert np.array_equal(np.sort(np.concatenate(split.ids)), np.arange(one.n_samples))
    # points right at the cuts too
    cut_xy = np.column_stack([np.repeat(split.cuts, 500), rng.uniform(*np.sort(xy[:2, 1]), 500 * len(split.cuts))])
    xy = np.concatenate([xy, cut_xy])
    a = snap_points(one, xy[:, 0], xy[:, 1], max_snap_m=400)
    b = snap_points(split, xy[:, 0], xy[:, 1], max_snap_m=400)
    assert 0.01 < (~a.snapped).mean() < 0.5
    _assert_same_snaps(a, b)
    points = shapely.points(xy)
    pairs, dist = shapely.STRtree(net.geometry).query_nearest(points[b.snapped], return_distance=True,
                                                               all_matches=False)
    geos_m = np.empty(len(dist))
    geos_m[pairs[0]] = dist
    assert np.abs(b.access_m[b.snapped] - geos_m).max() <= 1e-9


def test_chongqing_snaps_in_strips_equal_one_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the whole Chongqing network (6.5 million samples: split into strips on 2 threads) 200,000 scattered
    points snap at exactly the distances one k-d tree gives, on the same edge at the same offset except at
    ties (the same point on two edges)."""
    from gisplan.network.roadfile import read_road_parquet

    roads = read_road_parquet(shared_data("roads", "chongqing_roadlinks_gcj02.parquet"), crs=UTM, system="gcj02")
    net = build_network(roads, snap_tolerance_m=1.0, min_piece_m=1000.0)
    rng = np.random.default_rng(17)
    xy = net.node_xy[rng.integers(0, net.n_nodes, 200_000)] + rng.normal(0, 300, (200_000, 2))
    monkeypatch.setenv("GISPLAN_THREADS", "2")
    split = snap_index(net)
    assert len(split.trees) == 2
    b = snap_points(split, xy[:, 0], xy[:, 1], max_snap_m=1000)
    del split
    monkeypatch.setattr(snapping, "_SPLIT_MIN", 10**12)
    one = snap_index(net)
    assert len(one.trees) == 1
    a = snap_points(one, xy[:, 0], xy[:, 1], max_snap_m=1000)
    _assert_same_snaps(a, b)


def _assert_same_snaps(a: EdgeSnap, b: EdgeSnap) -> None:
    """The same points snapped, at exactly the same distances; on the same edge at the same offset, or at a tie
    (the same point on two segments at their shared vertex, as near to both)."""
    assert np.array_equal(a.snapped, b.snapped)
    assert np.array_equal(a.access_m[a.snapped], b.access_m[b.snapped])
    same = a.edge == b.edge
    assert same.mean() > 0.99
    tie = ~same & a.snapped
    assert np.array_equal(a.snapped_xy[tie], b.snapped_xy[tie])
    # on the same edge, a point at a vertex between two of its segments may be placed from either (1e-12 m apart)
    assert np.abs(a.offset_m[same & a.snapped] - b.offset_m[same & b.snapped]).max() <= 1e-6

"""Road networks: nodes from end points, one-way codes, disconnected pieces; real networks against networkx."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from shapely import LineString, MultiLineString

from gisplan.catalogue import Profile, load_catalogue
from gisplan.errors import CRSError, NetworkError
from gisplan.io.osm import read_osm_roads
from gisplan.network.graph import RoadNetwork, build_network, direction_flags, edge_minutes, min_csr, travel_graph
from gisplan.network.ordering import stable_argsort
from gisplan.network.routing import reach_from_facilities
from gisplan.network.snapping import EdgeSnap
from tests import roadref
from tests.conftest import shared_data

if TYPE_CHECKING:
    from pathlib import Path

PROFILES = load_catalogue().profiles
UTM = "EPSG:32648"


def lines(*coords: list[tuple[float, float]], crs: str = UTM, **columns: list[object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[LineString(c) for c in coords], crs=crs)


def test_end_points_within_the_tolerance_become_one_node() -> None:
    # the second line starts 0.4 m from where the first ends (a tile edge in real data)
    gdf = lines([(0, 0), (100, 0)], [(100.4, 0), (200, 0)], [(200, 0), (200, 300)])
    joined = build_network(gdf, snap_tolerance_m=1.0, min_piece_m=0)
    assert joined.n_nodes == 4
    assert joined.report.merged_end_points == 2
    assert joined.report.pieces == 1
    apart = build_network(gdf, snap_tolerance_m=0.1, min_piece_m=0)
    assert apart.n_nodes == 5
    assert apart.report.pieces == 2


def test_ids_are_never_used_for_topology() -> None:
    # NavInfo-style node ids that disagree across a tile edge: geometry decides
    gdf = lines([(0, 0), (100, 0)], [(100, 0), (200, 0)], SnodeID=[1, 99], EnodeID=[2, 100])
    net = build_network(gdf, min_piece_m=0)
    assert net.n_nodes == 3
    assert net.edge_v[0] == net.edge_u[1]


def test_multilines_are_split_into_edges_and_zero_length_links_dropped() -> None:
    gdf = gpd.GeoDataFrame(geometry=[MultiLineString([[(0, 0), (50, 0)], [(50, 0), (50, 80)]]),
                                     LineString([(50, 80), (50.3, 80)])], crs=UTM)
    net = build_network(gdf, min_piece_m=0)
    assert net.n_edges == 2
    assert net.report.zero_length_dropped == 1
    assert net.source_row.tolist() == [0, 0]
    assert sorted(net.length_m.round(6).tolist()) == [50.0, 80.0]


@pytest.mark.parametrize(("column", "values", "forward", "backward"), [
    ("direction", [0, 1, 2, 3], [True, True, True, False], [True, True, False, True]),
    ("oneway", ["yes", "no", "-1", None], [True, True, False, True], [False, True, True, True]),
    ("oneway", ["1", "true", "reverse", "F"], [True, True, False, True], [False, False, True, False]),
    ("oneway", ["B", "F", "T", "B"], [True, True, False, True], [True, False, True, True]),
    ("oneway", [True, False, True, False], [True, True, True, True], [False, True, False, True]),
    ("方向", ["双向", "正向", "反向", "双向"], [True, True, False, True], [True, False, True, True]),
])
def test_one_way_codes(column: str, values: list[object], forward: list[bool], backward: list[bool]) -> None:
    f, b = direction_flags(pd.Series(values, dtype=object), column=column)
    assert f.tolist() == forward
    assert b.tolist() == backward


def test_unknown_one_way_codes_are_refused_with_rows() -> None:
    with pytest.raises(NetworkError, match=r"column `direction` holds 2 one-way value\(s\).*row 2: 7.*row 4: 'x'"):
        direction_flags(pd.Series([1, 7, 2, "x"], dtype=object), column="direction")


def test_layer_without_crs_or_lines_is_refused() -> None:
    with pytest.raises(CRSError, match="has no CRS"):
        build_network(gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])]))
    with pytest.raises(NetworkError, match="no usable lines"):
        build_network(gpd.GeoDataFrame(geometry=[LineString()], crs=UTM))


def test_small_pieces_are_dropped_and_reported() -> None:
    main = [[(i * 500, 0), ((i + 1) * 500, 0)] for i in range(6)]  # 3 km
    island = [[(0, 5000), (300, 5000)]]  # 300 m fragment
    village = [[(0, 9000), (800, 9000)], [(800, 9000), (1600, 9000)]]  # 1.6 km isolated village roads
    net = build_network(lines(*main, *island, *village), min_piece_m=1000)
    r = net.report
    assert (r.pieces, r.pieces_dropped) == (3, 1)
    assert r.dropped_length_m == pytest.approx(300)
    assert r.kept_length_m == pytest.approx(4600)
    assert r.largest_piece_share == pytest.approx(3000 / 4600)
    assert net.n_edges == 8
    assert "3 disconnected pieces" in r.summary()


def test_profiles_speeds_classes_and_exclusions() -> None:
    gdf = lines([(0, 0), (1000, 0)], [(1000, 0), (2000, 0)], [(2000, 0), (3000, 0)],
                highway=["motorway", "residential", "footway"])
    net = build_network(gdf, min_piece_m=0)
    walk = edge_minutes(net, PROFILES["walk"])
    assert np.isnan(walk[0])
    assert walk[1:] == pytest.approx([1000 / 66.667] * 2)
    drive = edge_minutes(net, PROFILES["drive"])
    assert drive[:2] == pytest.approx([1000 / (80_000 / 60), 1000 / (20_000 / 60)])
    assert np.isnan(drive[2])


def test_one_way_binds_driving_not_walking() -> None:
    gdf = lines([(0, 0), (500, 0)], direction=[3])  # one way, end -> start
    net = build_network(gdf, min_piece_m=0)
    drive = travel_graph(net, PROFILES["drive"]).toarray()
    assert drive[0, 1] == 0  # no arc start -> end
    assert drive[1, 0] == pytest.approx(1.0)
    walk = travel_graph(net, PROFILES["walk"]).toarray()
    assert walk[0, 1] == walk[1, 0] == pytest.approx(500 / 66.667)


def test_parallel_links_keep_the_shortest() -> None:
    gdf = lines([(0, 0), (100, 0)], [(0, 0), (50, 50), (100, 0)])
    g = travel_graph(build_network(gdf, min_piece_m=0), PROFILES["walk"])
    assert g.nnz == 2
    assert g.toarray()[0, 1] == pytest.approx(100 / 66.667)


def _enterable(net: RoadNetwork, profile: Profile) -> np.ndarray:
    """Edges the profile may use, travelled u→v, that are not loops (snapping only ever uses usable edges)."""
    return ~np.isnan(edge_minutes(net, profile)) & net.forward & (net.edge_u != net.edge_v)


def _at_nodes(net: RoadNetwork, profile: Profile, nodes: np.ndarray) -> EdgeSnap:
    """Facilities exactly on nodes: at offset 0 of an edge leaving the node u→v-wards, no access leg."""
    ok = _enterable(net, profile)
    first_edge = {int(n): int(e) for e, n in reversed(list(enumerate(net.edge_u))) if ok[e]}
    edge = np.array([first_edge[int(n)] for n in nodes])
    zeros = np.zeros(len(nodes))
    return EdgeSnap(edge=edge, offset_m=zeros, access_m=zeros, snapped_xy=net.node_xy[nodes])


def _reference_graph(net: RoadNetwork, profile_id: str) -> nx.DiGraph:
    """networkx graph built straight from the 永川 road file (tests/roadref.py), its nodes named by gisplan's
    node at the same place; nodes of the pieces gisplan dropped keep a name of their own."""
    links = roadref.yongchuan_links()
    name: dict[int, object] = {int(r): int(i) for i, r in enumerate(roadref.node_ids(links, net.node_xy))}
    g = nx.DiGraph()
    g.add_nodes_from(range(net.n_nodes))
    for t, h, w, _ in zip(*roadref.arcs(links, profile_id), strict=True):
        a, b = name.get(int(t), ("dropped", int(t))), name.get(int(h), ("dropped", int(h)))
        if not g.has_edge(a, b) or g[a][b]["weight"] > w:
            g.add_edge(a, b, weight=float(w))
    return g


def _osm_reference_graph(net: RoadNetwork, path: Path, profile_id: str) -> nx.DiGraph:
    """networkx graph of an OSM extract as osmnx reads it (tests/roadref.py), its nodes named by gisplan's node
    at the same place; the nodes along a way keep osmnx's ids."""
    tails, heads, minutes, xy = roadref.osm_arcs(path, net.crs, profile_id)
    osm_ids = list(xy)
    dist, at = cKDTree(np.array([xy[n] for n in osm_ids])).query(net.node_xy)
    assert dist.max() <= 1e-3, dist.max()
    name: dict[object, object] = {osm_ids[j]: int(i) for i, j in enumerate(at)}
    g = nx.DiGraph()
    g.add_nodes_from(range(net.n_nodes))
    for t, h, w in zip(tails, heads, minutes, strict=True):
        a, b = name.get(t, ("osm", t)), name.get(h, ("osm", h))
        if not g.has_edge(a, b) or g[a][b]["weight"] > w:
            g.add_edge(a, b, weight=w)
    return g


def _compare_with_networkx(net: RoadNetwork, profile_id: str, cutoff: float, seed: int, g: nx.DiGraph) -> int:
    """Node minutes to 12 facilities on nodes equal networkx's multi-source Dijkstra on the reference graph `g`,
    built from the road file without gisplan."""
    profile = PROFILES[profile_id]
    rng = np.random.default_rng(seed)
    candidates = np.unique(net.edge_u[_enterable(net, profile)])
    sources = rng.choice(candidates, size=12, replace=False)
    (reach,) = reach_from_facilities(net, profile, _at_nodes(net, profile, sources), [np.arange(len(sources))],
                                     cutoff_minutes=cutoff)
    # minutes *to* the facilities: Dijkstra on the reversed graph
    expected = nx.multi_source_dijkstra_path_length(g.reverse(copy=False),
                                                    set(sources.tolist()), cutoff=cutoff)
    expected = {k: v for k, v in expected.items() if not isinstance(k, tuple)}  # gisplan's nodes only
    ours = {int(i): float(m) for i, m in enumerate(reach.node_minutes) if np.isfinite(m)}
    assert set(ours) == set(expected)
    assert max(abs(ours[k] - expected[k]) for k in expected) <= 1e-6
    # the nearest facility named for each node is one at that node's distance
    nearest = sources[reach.node_facility[list(ours)]]
    sample = list(ours)[:: max(1, len(ours) // 50)]
    for node, fac in zip(sample, nearest[:: max(1, len(ours) // 50)], strict=False):
        assert nx.dijkstra_path_length(g, node, int(fac)) == pytest.approx(ours[node], abs=1e-6)
    return len(expected)


def test_yongchuan_network_is_built_from_end_points() -> None:
    gdf = gpd.read_file(shared_data("roads", "yongchuan_roadlinks_wgs84.geojson"))
    net = build_network(gdf, crs=UTM)
    r = net.report
    # SOURCES.md: by end-point coordinates 16 components, 9,139 nodes; 1,553 + 1,182 one-way links
    assert (r.links_in, r.pieces, r.pieces_dropped) == (10_830, 16, 1)
    assert r.one_way_edges == 1553 + 1182
    # nodes, edges and length of the kept pieces (≥ 1 km of road) derived from the file itself (tests/roadref.py)
    links = roadref.yongchuan_links()
    n_ref = len(links.node_xy)
    pieces = connected_components(coo_array((np.ones(len(links.start)), (links.start, links.end)),
                                            shape=(n_ref, n_ref)), directed=False)[1]
    piece_m = np.bincount(pieces[links.start], weights=links.length_m)
    kept = piece_m[pieces[links.start]] >= 1000.0
    assert (r.pieces, r.pieces_dropped) == (len(piece_m), (piece_m < 1000.0).sum())
    assert (net.n_edges, net.n_nodes) == (kept.sum(), np.isin(pieces, np.flatnonzero(piece_m >= 1000.0)).sum())
    assert r.kept_length_m == pytest.approx(links.length_m[kept].sum(), abs=1e-6)
    assert r.kept_length_m / 1000 == pytest.approx(2946.3, abs=0.1)  # the README's figure


def test_lines_are_projected_exactly_as_to_crs() -> None:
    """build_network projects plain 2-D lines from their coordinates (issue 17): the same numbers, bit for bit,
    as GeoDataFrame.to_crs, which it used before, and so the same network."""
    gdf = gpd.read_file(shared_data("roads", "yongchuan_roadlinks_wgs84.geojson"))
    fast = build_network(gdf, crs=UTM)
    slow = build_network(gdf.to_crs(UTM))  # the layer projected by to_crs: used as it is
    assert fast.crs == slow.crs
    assert np.array_equal(fast.node_xy, slow.node_xy)
    assert np.array_equal(fast.length_m, slow.length_m)
    assert (fast.n_edges, fast.n_nodes) == (slow.n_edges, slow.n_nodes)
    assert np.array_equal(np.column_stack([fast.edge_u, fast.edge_v]), np.column_stack([slow.edge_u, slow.edge_v]))
    assert all(shapely.equals_exact(fast.geometry, slow.geometry, tolerance=0))
    # a multi-part layer takes to_crs itself; the result is the same network
    multi = gdf.copy()
    multi.loc[0, "geometry"] = MultiLineString([multi.geometry.iloc[0]])
    assert np.array_equal(build_network(multi, crs=UTM).node_xy, slow.node_xy)


@pytest.mark.parametrize(("profile_id", "cutoff"), [("walk", 15.0), ("drive", 4.0)])
def test_yongchuan_shortest_paths_equal_networkx(profile_id: str, cutoff: float) -> None:
    gdf = gpd.read_file(shared_data("roads", "yongchuan_roadlinks_wgs84.geojson"))
    net = build_network(gdf, crs=UTM)
    reached = _compare_with_networkx(net, profile_id, cutoff, seed=5, g=_reference_graph(net, profile_id))
    assert reached > 500


@pytest.mark.parametrize("name", ["aguascalientes.osm.pbf", "West-Oakland.osm.bz2"])
@pytest.mark.parametrize(("profile_id", "cutoff"), [("walk", 10.0), ("drive", 2.0)])
def test_osm_shortest_paths_equal_networkx(name: str, profile_id: str, cutoff: float) -> None:
    roads = read_osm_roads(shared_data("fallback", "osmnx_test_osm", name))
    net = build_network(roads, min_piece_m=0)
    xml = shared_data("fallback", "osmnx_test_osm", name.replace(".osm.pbf", ".osm.bz2"))  # osmnx reads XML
    reference = _osm_reference_graph(net, xml, profile_id)
    assert _compare_with_networkx(net, profile_id, cutoff, seed=11, g=reference) >= 12


def _lexsort_min_csr(tail: np.ndarray, head: np.ndarray, weight: np.ndarray, n: int, cols: int) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    """min_csr as first written (575c18b): sorted by tail, head and weight, each pair's first arc kept."""
    order = np.lexsort((weight, head, tail))
    t, h, w = tail[order], head[order], weight[order]
    first = np.ones(len(t), dtype=bool)
    first[1:] = (t[1:] != t[:-1]) | (h[1:] != h[:-1])
    t, h, w = t[first], h[first], w[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(t, minlength=n), out=indptr[1:])
    return indptr, h, w


@pytest.mark.parametrize(("n_arcs", "n", "n_cols"), [(0, 3, None), (1, 1, None), (5_000, 40, None), (5_000, 30, 70)])
def test_min_csr_equals_the_sorted_first_arc(n_arcs: int, n: int, n_cols: int | None) -> None:
    """Parallel arcs, zero weights and NaN weights (all NaN on some pairs): the same matrix, bit for bit."""
    rng = np.random.default_rng(n_arcs + n)
    cols = n if n_cols is None else n_cols
    tail, head = rng.integers(0, n, n_arcs), rng.integers(0, cols, n_arcs)
    weight = rng.choice([0.0, 0.5, 1.25, 3.0, np.nan], n_arcs) + rng.integers(0, 3, n_arcs)
    weight[(tail == 1) & (head == 2)] = np.nan
    got = min_csr(tail, head, weight, n, n_cols=n_cols)
    indptr, indices, data = _lexsort_min_csr(tail, head, weight, n, cols)
    assert got.shape == (n, cols)
    assert got.indptr.tolist() == indptr.tolist()
    assert got.indices.tolist() == indices.tolist()
    assert got.data.tobytes() == data.tobytes()


@pytest.mark.parametrize("keys", [
    np.array([], dtype=np.int64), np.array([7]), np.random.default_rng(1).integers(0, 50, 10_000),
    np.random.default_rng(2).integers(0, 600_000, 200_000).astype(np.int32),
    np.random.default_rng(3).integers(0, 9, 1_000).astype(np.uint16), np.array([3, -1, 3, 0, -1]),
    np.array([2**62, 1, 2**62, 0]), np.array([2**63 + 5, 1, 2**63 + 5], dtype=np.uint64),
])
def test_stable_argsort_is_numpys_stable_sort(keys: np.ndarray) -> None:
    assert stable_argsort(keys).tolist() == np.argsort(keys, kind="stable").tolist()


@pytest.mark.parametrize("column", ["direction", "oneway", "ONEWAY", "方向"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "Int64"])
def test_integer_one_way_codes_read_as_their_text(column: str, dtype: str) -> None:
    """Whole-number codes (read without text) give the flags, or the message, of the same codes as text."""
    for codes in ([0, 1, 2, 3, 2, 0], [-1, 0, 1, 2, 3], [0, 5, 2, 4], [1, 1, 1]):
        if dtype == "uint8" and min(codes) < 0:
            continue
        assert _flags_or_message(pd.Series(codes, dtype=dtype), column) == _flags_or_message(
            pd.Series([str(c) for c in codes], dtype=object), column)


def test_unsigned_codes_beyond_int64_go_to_the_text_rules() -> None:
    """A uint64 code of 2**64 - 1 is no code (it wrapped to -1, end→start, when read as int64): the message, as for
    the same value as text; unsigned codes that int64 holds still take the fast path."""
    big = pd.Series([0, 2**64 - 1, 2], dtype="uint64")
    assert _flags_or_message(big, "direction") == _flags_or_message(pd.Series(["0", str(2**64 - 1), "2"]),
                                                                     "direction")
    assert "one-way value(s) that mean nothing known" in str(_flags_or_message(big, "direction"))
    small = pd.Series([0, 3, 2], dtype="uint64")
    assert _flags_or_message(small, "direction") == [[True, False, True], [True, True, False]]


def _flags_or_message(values: pd.Series, column: str) -> object:
    try:
        return [f.tolist() for f in direction_flags(values, column=column)]
    except NetworkError as exc:
        return str(exc).replace("'", "")  # row 2: 5 as a number, row 2: '5' as text

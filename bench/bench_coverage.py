"""Benchmark: the network-coverage engine end to end on the real Yongchuan and Chongqing road networks.

Only the roads are real (../shared/data/roads, GCJ-02). Demand and facilities are SYNTHETIC
(illustrative, seeded): demand points are random road vertices plus normal jitter of a few hundred
metres, with random population / households / 60+ weights and grid-cell unit codes; ten facility
types (the catalogue's ids, used as labels only) get seeded counts and are placed the same way.
Every type is measured with the ``walk`` profile and a 20-minute cutoff.

Stages, timed per network:

* ``load``: read the road file, GCJ-02 → WGS84 (:func:`gisplan.coords.gcj02_to_wgs84`, exact inverse)
  and project to UTM 48N (EPSG:32648) in one pass over the coordinates (the GeoParquet file through
  :func:`gisplan.network.roadfile.read_road_parquet`: only the geometry and ``direction`` columns, WKB cut
  with numpy; a workspace stores roads in WGS84 already, so a scenario run only projects);
* ``build``: :func:`gisplan.network.graph.build_network` and the profile's routable graph
  (:func:`gisplan.network.graph.travel_graph`, cached on the network);
* then :func:`gisplan.analysis.coverage.measure_coverage`, the product's own path, which reports its stages:
  ``snap`` (index the edges, snap all demand and all facilities, group the demand by edge),
  ``coverage`` (one multi-source search per type and the minutes of every demand point),
  ``aggregate`` (the per-point columns, and per-unit totals at the type's 15 min and 5/10/15/20),
  ``polygons`` (reached roads simplified, joined end to end through the junctions, buffered by 100 m and merged,
  per type);
* ``total``: end to end, wall clock from reading the file to the last polygon.

The coverage step is then run again exactly as ``measure_coverage`` runs it
(:func:`gisplan.network.routing.reach_from_facilities` for all types, :func:`gisplan.network.routing.demand_minutes`
per type) for five rounds, alternating with the bare kernel, and the ratio of the two medians is
the verdict: on a noisy 2-core machine one call of either can be off by half. The step's time
inside the end-to-end run (its first call, on fresh memory) is printed beside it.

Peers, measured in the same run on the identical graph (:func:`gisplan.network.graph.travel_graph`), the same
sources (the ``u`` node of each facility's snapped edge, i.e. no snapping offsets) and the same cutoff:
the bare kernel ``scipy.sparse.csgraph.dijkstra(..., min_only=True, limit=20)`` once per type, and
networkx ``multi_source_dijkstra_path_length(..., cutoff=20)`` once per type (its graph build is
timed but left out of the ratio; on a time budget it runs a subset of types and is scaled up by the
nodes settled, which is printed). Sanity checks assert that the kernel and networkx agree to 1e-6 and
that the engine's node minutes equal the kernel's when one type's facilities sit exactly on nodes.

Targets: engine coverage ≤ 3x the bare kernel; Chongqing end to end ≤ 10 s with peak RSS ≤ 2 GB (issue 17;
the earlier targets were ≤ 20 s and ≤ 4 GB).

Run: ``.venv/bin/python bench/bench_coverage.py [--network {yongchuan,chongqing,both}]
[--demand N] [--skip-networkx] [--seed S]``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.sparse import csgraph

from gisplan.analysis.coverage import TypeTarget, measure_coverage
from gisplan.catalogue import load_catalogue
from gisplan.coords import gcj02_to_wgs84
from gisplan.network.graph import build_network, edge_minutes, travel_graph
from gisplan.network.roadfile import read_road_parquet
from gisplan.network.routing import demand_minutes, place_demand, reach_from_facilities
from gisplan.network.snapping import EdgeSnap, snap_index, snap_points

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from gisplan.catalogue import Profile
    from gisplan.network.graph import RoadNetwork

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ROADS = {
    "yongchuan": SHARED / "roads" / "yongchuan_roadlinks_gcj02.geojson",
    "chongqing": SHARED / "roads" / "chongqing_roadlinks_gcj02.parquet",
}
PLANNING_CRS = "EPSG:32648"
CUTOFF_MIN = 20.0
BANDS_MIN = (5.0, 10.0, 15.0, 20.0)
POLYGON_MIN = 15.0
MAX_SNAP_M = 1000.0
DEMAND_JITTER_M = 300.0
FACILITY_JITTER_M = 100.0
#: facility counts per type, smallest to largest (seeded placement)
FACILITY_COUNTS = {"yongchuan": (5, 300), "chongqing": (20, 2000)}
DEFAULT_DEMAND = 1_000_000  # Chongqing; Yongchuan gets a fifth of it
TARGET_RATIO = 3.0
TARGET_RSS_KB = 2 * 1024 * 1024  # issue 17 (was 4 GB)
TARGET_TOTAL_S = 10.0  # issue 17 (was 20 s)
NX_BUDGET_S = 150.0
ROUNDS = 5  # the coverage step and the kernel, alternately: medians compare them under the same noise
STAGES = ("load", "build", "snap", "coverage", "aggregate", "polygons")


@dataclass
class Synthetic:
    """Seeded synthetic demand and facilities (planning CRS)."""

    demand_xy: NDArray[np.float64]
    demand: pd.DataFrame
    facility_xy: NDArray[np.float64]
    groups: list[NDArray[np.int64]]
    type_ids: list[str]


@dataclass
class EngineRun:
    """What the engine stages produced and how long they took."""

    seconds: dict[str, float] = field(default_factory=dict)
    network: RoadNetwork | None = None
    fsnap: EdgeSnap | None = None
    dsnap: EdgeSnap | None = None
    dsnap_share: float = 0.0
    rss_kb: int = 0
    units_rows: int = 0
    covered_share: float = 0.0


def read_roads(name: str) -> gpd.GeoDataFrame:
    """Read the road file, convert GCJ-02 to WGS84 and project to the planning CRS, in one pass over the
    coordinates: the GeoParquet file with :func:`gisplan.network.roadfile.read_road_parquet` (pyarrow and
    numpy, no geometry objects until the projected lines), the GeoJSON with geopandas,
    :func:`gisplan.coords.gcj02_to_wgs84` and pyproj."""
    path = ROADS[name]
    if path.suffix == ".parquet":
        return read_road_parquet(path, crs=PLANNING_CRS, system="gcj02")
    links = gpd.read_file(path, engine="pyogrio")
    geoms = links.geometry.to_numpy()
    xy, owner = shapely.get_coordinates(geoms, return_index=True)
    lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
    x, y = Transformer.from_crs("EPSG:4326", PLANNING_CRS, always_xy=True).transform(lon, lat)
    xy = np.column_stack([x, y])
    if np.all(shapely.get_type_id(geoms) == shapely.GeometryType.LINESTRING) and not shapely.is_empty(geoms).any():
        projected = shapely.linestrings(xy, indices=owner)  # new lines from the coordinates: 3x faster than a copy
    else:
        projected = shapely.set_coordinates(geoms.copy(), xy)
    return links.set_geometry(gpd.GeoSeries(projected, crs=PLANNING_CRS, index=links.index))


def near_roads(rng: np.random.Generator, vertices: NDArray[np.float64], n: int, sigma_m: float) -> NDArray[np.float64]:
    """`n` points at random road vertices plus normal jitter of `sigma_m` metres."""
    pick = rng.integers(0, len(vertices), n)
    return vertices[pick] + rng.normal(0.0, sigma_m, (n, 2))


def synthesise(roads: gpd.GeoDataFrame, name: str, n_demand: int, seed: int) -> Synthetic:
    """Synthetic demand with weights and unit codes, and ten facility types (not timed)."""
    rng = np.random.default_rng(seed)
    vertices = shapely.get_coordinates(roads.geometry.to_numpy())
    dxy = near_roads(rng, vertices, n_demand, DEMAND_JITTER_M)
    population = np.maximum(1.0, np.round(rng.lognormal(3.0, 1.0, n_demand)))
    households = np.maximum(1.0, np.round(population / rng.uniform(2.2, 3.2, n_demand)))
    pop_60plus = rng.binomial(population.astype(np.int64), 0.22).astype(float)
    # villages: 2 km grid cells; townships: 10 km cells (12-character codes, synthetic)
    x0, y0 = dxy.min(axis=0)
    vx, vy = ((dxy[:, 0] - x0) // 2000).astype(np.int64), ((dxy[:, 1] - y0) // 2000).astype(np.int64)
    village = pd.Series(500_000_000_000 + vx * 100_000 + vy).astype(str)
    township = pd.Series(500_000_000_000 + ((vx // 5) * 1000 + vy // 5) * 1000).astype(str)
    demand = pd.DataFrame({
        "population": population, "households": households, "pop_60plus": pop_60plus,
        "township_code12": township.to_numpy(dtype=object), "code12": village.to_numpy(dtype=object),
    })
    lo, hi = FACILITY_COUNTS[name]
    counts = np.round(np.geomspace(lo, hi, 10)).astype(np.int64)
    fxy = near_roads(rng, vertices, int(counts.sum()), FACILITY_JITTER_M)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    groups = [np.arange(bounds[i], bounds[i + 1], dtype=np.int64) for i in range(len(counts))]
    type_ids = sorted(load_catalogue().types)[:10]
    return Synthetic(dxy, demand, fxy, groups, type_ids)


def run_engine(name: str, profile: Profile, n_demand: int, seed: int) -> tuple[EngineRun, Synthetic]:
    """Time every stage of the product path: load, build, then :func:`gisplan.analysis.coverage.measure_coverage`
    (snap, coverage, aggregate, polygons); synthetic inputs are made between load and build, untimed."""
    run = EngineRun()
    t0 = time.perf_counter()
    roads = read_roads(name)
    run.seconds["load"] = time.perf_counter() - t0
    syn = synthesise(roads, name, n_demand, seed)
    demand = gpd.GeoDataFrame(syn.demand, geometry=shapely.points(syn.demand_xy), crs=PLANNING_CRS)
    targets = []
    for type_id, group in zip(syn.type_ids, syn.groups, strict=True):
        fac = gpd.GeoDataFrame({"facility_id": [f"{type_id}-{i}" for i in range(len(group))]},
                               geometry=shapely.points(syn.facility_xy[group]), crs=PLANNING_CRS)
        targets.append(TypeTarget(type_id, type_id, fac, profile, POLYGON_MIN))

    t0 = time.perf_counter()
    # already projected: crs=None keeps the layer's EPSG:32648 (no second projection)
    network = build_network(roads, snap_tolerance_m=1.0, min_piece_m=1000.0)
    travel_graph(network, profile, reverse=True)  # the routable graph (cached on the network) is part of building
    run.seconds["build"] = time.perf_counter() - t0
    run.network = network

    t0 = time.perf_counter()
    result = measure_coverage(demand, targets, network=network, bands_minutes=BANDS_MIN, max_snap_m=MAX_SNAP_M,
                              trim_m=100.0, polygons=True, district_code="500000000000")
    wall = time.perf_counter() - t0
    for stage in ("snap", "coverage", "aggregate", "polygons"):
        run.seconds[stage] = result.seconds[stage]
    run.seconds["other"] = wall - sum(result.seconds.values())
    run.seconds["total"] = run.seconds["load"] + run.seconds["build"] + wall
    run.rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run.units_rows = len(result.units)
    units = result.units
    district = units[(units["level"] == "district") & (units["threshold"] == POLYGON_MIN)]
    run.covered_share = float(district["population_share"].mean())
    run.dsnap_share = float(result.demand["snapped"].mean())
    # the facilities and the demand snap again (untimed), for the repeated coverage step and the peers
    index = snap_index(network, usable=~np.isnan(edge_minutes(network, profile)))
    run.fsnap = snap_points(index, syn.facility_xy[:, 0], syn.facility_xy[:, 1], max_snap_m=MAX_SNAP_M)
    run.dsnap = snap_points(index, syn.demand_xy[:, 0], syn.demand_xy[:, 1], max_snap_m=MAX_SNAP_M)
    return run, syn


def coverage_rounds(
    network: RoadNetwork, profile: Profile, run: EngineRun, syn: Synthetic, sources: list[NDArray[np.int64]],
) -> tuple[list[float], list[float], list[float], list[NDArray[np.float64]]]:
    """The coverage step exactly as :func:`gisplan.analysis.coverage.measure_coverage` runs it (one
    :func:`reach_from_facilities` for all types, then :func:`demand_minutes` per type), and the bare
    kernel, alternately for :data:`ROUNDS` rounds; seconds of each (the step also split into its
    shortest paths), and the kernel's distances."""
    assert run.fsnap is not None
    assert run.dsnap is not None
    placed = place_demand(network, profile, run.dsnap)  # the snap stage's work, not timed here
    graph = travel_graph(network, profile)
    step, paths, kernel = [], [], []
    dists: list[NDArray[np.float64]] = []
    for _ in range(ROUNDS):
        k_s, dists = run_kernel(graph, sources)
        kernel.append(k_s)
        t0 = time.perf_counter()
        reaches = reach_from_facilities(network, profile, run.fsnap, syn.groups, cutoff_minutes=CUTOFF_MIN)
        t1 = time.perf_counter()
        for reach in reaches:
            demand_minutes(network, profile, reach, run.dsnap, run.fsnap, placed=placed)
        step.append(time.perf_counter() - t0)
        paths.append(t1 - t0)
    return step, paths, kernel, dists


def kernel_sources(network: RoadNetwork, fsnap: EdgeSnap, groups: list[NDArray[np.int64]]) -> list[NDArray[np.int64]]:
    """Per type, the distinct ``u`` nodes of the facilities' snapped edges."""
    out = []
    for g in groups:
        members = g[fsnap.snapped[g]]
        out.append(np.unique(network.edge_u[fsnap.edge[members]]))
    return out


def run_kernel(graph: object, sources: list[NDArray[np.int64]]) -> tuple[float, list[NDArray[np.float64]]]:
    """The bare scipy kernel, once per type; seconds and the distances."""
    dists = []
    t0 = time.perf_counter()
    for src in sources:
        dists.append(csgraph.dijkstra(graph, directed=True, indices=src, min_only=True, limit=CUTOFF_MIN))
    return time.perf_counter() - t0, dists


def nx_graph(graph: object) -> tuple[float, nx.DiGraph]:
    """A networkx DiGraph with the same arcs and weights as the CSR `graph`."""
    t0 = time.perf_counter()
    coo = graph.tocoo()  # type: ignore[attr-defined]
    g = nx.DiGraph()
    g.add_nodes_from(range(coo.shape[0]))
    g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True))
    return time.perf_counter() - t0, g


def check_agree(kernel: NDArray[np.float64], peer: dict[int, float], what: str) -> None:
    """Assert that two node-distance results agree to 1e-6 (nodes at the cutoff itself may differ)."""
    nodes = np.fromiter(peer.keys(), dtype=np.int64, count=len(peer))
    vals = np.fromiter(peer.values(), dtype=np.float64, count=len(peer))
    diff = np.abs(kernel[nodes] - vals)
    edge_case = np.abs(vals - CUTOFF_MIN) < 1e-6
    assert np.all((diff <= 1e-6) | edge_case), f"{what}: max difference {np.nanmax(diff):.3g} min"
    finite = np.flatnonzero(np.isfinite(kernel))
    missing = np.setdiff1d(finite, nodes)
    assert np.all(np.abs(kernel[missing] - CUTOFF_MIN) < 1e-6), f"{what}: {len(missing)} nodes only in one result"


def run_networkx(
    graph: object, sources: list[NDArray[np.int64]], dists: list[NDArray[np.float64]], budget_s: float,
) -> tuple[float, float, int, float]:
    """networkx per type until the budget is spent; returns build s, measured s, types run, estimate for all."""
    build_s, g = nx_graph(graph)
    spent, done = 0.0, 0
    for src, kernel in zip(sources, dists, strict=True):
        if spent > budget_s:
            break
        t0 = time.perf_counter()
        peer = nx.multi_source_dijkstra_path_length(g, set(src.tolist()), cutoff=CUTOFF_MIN, weight="weight")
        spent += time.perf_counter() - t0
        done += 1
        check_agree(kernel, peer, f"kernel vs networkx, type {done}")
    settled = np.array([np.isfinite(d).sum() for d in dists], dtype=float)
    estimate = spent * settled.sum() / settled[:done].sum() if settled[:done].sum() > 0 else spent
    return build_s, spent, done, estimate


def check_engine_on_nodes(
    network: RoadNetwork, profile: Profile, fsnap: EdgeSnap, group: NDArray[np.int64], kernel: NDArray[np.float64],
) -> None:
    """With the facilities exactly on their edges' u nodes, the engine's node minutes equal the kernel's."""
    edges = fsnap.edge[group[fsnap.snapped[group]]]
    on_nodes = EdgeSnap(edge=edges, offset_m=np.zeros(len(edges)), access_m=np.zeros(len(edges)),
                        snapped_xy=network.node_xy[network.edge_u[edges]])
    (reach,) = reach_from_facilities(network, profile, on_nodes, [np.arange(len(edges))], cutoff_minutes=CUTOFF_MIN)
    got = reach.node_minutes
    finite = np.isfinite(kernel) | np.isfinite(got)
    diff = np.abs(np.where(finite, got, 0.0) - np.where(finite, kernel, 0.0))
    edge_case = np.abs(np.where(np.isfinite(kernel), kernel, got) - CUTOFF_MIN) < 1e-6
    assert np.all((diff <= 1e-6) | edge_case), f"engine vs kernel: max difference {np.nanmax(diff):.3g} min"


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def report(name: str, run: EngineRun, syn: Synthetic, peers: dict[str, float]) -> None:
    """Print the table and the ratios for one network."""
    net = run.network
    assert net is not None
    assert run.fsnap is not None
    counts = [len(g) for g in syn.groups]
    print(f"\n=== {name}: real roads ({ROADS[name].name}), SYNTHETIC demand and facilities (illustrative, seeded) ===")
    print(f"network: {net.report.summary()}")
    print(f"demand: {len(syn.demand):,} synthetic points ({run.dsnap_share:.1%} snapped within "
          f"{MAX_SNAP_M:g} m); facilities: {sum(counts):,} synthetic in 10 types ({min(counts)}..{max(counts)} "
          f"each, {run.fsnap.snapped.mean():.1%} snapped); walk, cutoff {CUTOFF_MIN:g} min")
    print(f"{'stage':<10} {'seconds':>8}")
    for stage in (*STAGES, "other", "total"):
        note = "  (measure_coverage outside its stages: copies, ids, columns)" if stage == "other" else ""
        print(f"{stage:<10} {run.seconds[stage]:>8.2f}{note}")
    print(f"(unit_totals rows: {run.units_rows:,}; mean population share covered at {POLYGON_MIN:g} min: "
          f"{run.covered_share:.1%})")
    cov, kern, step = run.seconds["coverage"], peers["kernel"], peers["step"]
    print(f"bare scipy kernel (dijkstra min_only, limit {CUTOFF_MIN:g}, 10 types), median of {ROUNDS}: {kern:.3f} s")
    ratio = step / kern
    print(f"engine coverage step / bare kernel, medians of {ROUNDS} alternate rounds: {step:.3f} s / {kern:.3f} s = "
          f"{ratio:.2f}x (target <= {TARGET_RATIO:g}x) {verdict(ratio <= TARGET_RATIO)}")
    print(f"  the same step inside the end-to-end run above (its first call, on fresh memory): {cov:.3f} s = "
          f"{cov / kern:.2f}x")
    print("  (the step builds the graph with the facilities on their edges, runs one search per type that also "
          f"names each node's nearest facility, and gives the minutes of all {len(syn.demand):,} demand points "
          "per type, which the kernel does not)")
    paths = peers["paths"]
    print(f"engine shortest paths alone (reach_from_facilities: graph build + 10 searches), median: {paths:.3f} s = "
          f"{paths / kern:.1f}x the bare kernel")
    if "nx_est" in peers:
        done = int(peers["nx_done"])
        scope = ("all 10 types" if done == len(syn.groups) else
                 f"{done} of 10 types in {peers['nx_spent']:.2f} s, scaled to 10 by nodes settled")
        print(f"networkx multi_source_dijkstra_path_length: {peers['nx_est']:.2f} s ({scope}); "
              f"graph build {peers['nx_build']:.2f} s, not in the ratio")
        print(f"engine coverage step / networkx: {step / peers['nx_est']:.3f}x (networkx / engine coverage step: "
              f"{peers['nx_est'] / step:.2f}x); engine shortest paths alone / networkx: "
              f"{paths / peers['nx_est']:.3f}x; kernel vs networkx agree to 1e-6: yes")
    else:
        print("networkx: skipped (--skip-networkx)")
    print("engine node minutes == kernel with facilities on nodes (one type): yes")
    rss_mb = run.rss_kb / 1024
    print(f"peak RSS after the engine stages: {rss_mb:,.0f} MB (target <= {TARGET_RSS_KB / 1024:,.0f} MB) "
          f"{verdict(run.rss_kb <= TARGET_RSS_KB)}")
    if name == "chongqing":
        total = run.seconds["total"]
        print(f"Chongqing end to end: {total:.2f} s (target <= {TARGET_TOTAL_S:g} s) "
              f"{verdict(total <= TARGET_TOTAL_S)}")


def bench(name: str, n_demand: int, seed: int, *, skip_networkx: bool) -> None:
    """Run the engine, then the peers, on one network and print the results."""
    profile = load_catalogue().profiles["walk"]
    run, syn = run_engine(name, profile, n_demand, seed)
    assert run.network is not None
    assert run.fsnap is not None
    graph = travel_graph(run.network, profile)
    sources = kernel_sources(run.network, run.fsnap, syn.groups)
    step, paths, kernel, dists = coverage_rounds(run.network, profile, run, syn, sources)
    print(f"\n{name}: coverage step / bare kernel, {ROUNDS} rounds alternately (s): "
          + ", ".join(f"{a:.3f}/{b:.3f}" for a, b in zip(step, kernel, strict=True)))
    peers = {"kernel": float(np.median(kernel)), "step": float(np.median(step)), "paths": float(np.median(paths))}
    check_engine_on_nodes(run.network, profile, run.fsnap, syn.groups[0], dists[0])
    if not skip_networkx:
        build_s, spent, done, estimate = run_networkx(graph, sources, dists, NX_BUDGET_S)
        peers.update(nx_build=build_s, nx_spent=spent, nx_done=float(done), nx_est=estimate)
    report(name, run, syn, peers)
    end_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS including the peers: {end_rss / 1024:,.0f} MB")


def main() -> None:
    """Parse the options, check the data and run the chosen networks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=("yongchuan", "chongqing", "both"), default="both")
    parser.add_argument("--demand", type=int, default=DEFAULT_DEMAND,
                        help="synthetic demand points for Chongqing (Yongchuan uses a fifth); default 1,000,000")
    parser.add_argument("--skip-networkx", action="store_true", help="do not run the networkx peer")
    parser.add_argument("--seed", type=int, default=20201231, help="seed of the synthetic demand and facilities")
    args = parser.parse_args()
    names = ("yongchuan", "chongqing") if args.network == "both" else (args.network,)
    missing = [str(ROADS[n]) for n in names if not ROADS[n].is_file()]
    if missing:
        sys.exit(f"bench_coverage: road data not found: {', '.join(missing)}. The benchmark reads the shared data "
                 f"folder next to the repository ({SHARED}); it is not shipped with gisplan.")
    if args.demand < 1:
        sys.exit("bench_coverage: --demand must be a positive number of points.")
    for name in names:
        n = args.demand if name == "chongqing" else max(1, args.demand // 5)
        bench(name, n, args.seed, skip_networkx=args.skip_networkx)


if __name__ == "__main__":
    main()

"""Benchmark: MCLP on the real Chongqing road network, gisplan (HiGHS) against spopt (PuLP/CBC).

The road network is real (../shared/data/roads/chongqing_roadlinks_gcj02.parquet); demand points and
candidate sites are SYNTHETIC (seeded random network nodes, demand weights 1–50). Costs are shortest
road distances in metres (one scipy Dijkstra per block of candidates, limited to the cutoff), kept
only within the cutoff: a sparse long-form table. Both solvers get the identical instance; spopt gets
it as the dense matrix its ``from_cost_matrix`` needs.

1. ~8,000 demand x 1,000 candidates, p = 50, 1,000 m: spopt, the previous solve (before issue 17: the
   unreduced program with scipy.optimize.milp) and gisplan in the same run; the objectives must be equal
   (target: gisplan in <= 1/20 of spopt's time).
2. 100,000 demand x 10,000 candidates, p = 500, 1,000 m: gisplan alone, with a 60 s HiGHS time limit;
   prints status, objective, bound and gap.

Run: ``.venv/bin/python bench/bench_optimise.py [--skip-large] [--skip-spopt] [--seed S]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
from scipy.sparse import csgraph

from gisplan.catalogue import Profile
from gisplan.coords import transform_geometries
from gisplan.network.graph import build_network, travel_graph
from gisplan.siting.models import CostTable, mclp

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ROADS = SHARED / "roads" / "chongqing_roadlinks_gcj02.parquet"
CUTOFF_M = 1000.0
#: a "profile" at 1 m per minute: edge minutes are metres
METRES = Profile("metres", "米", speed_m_per_min=1.0)


def network_costs(graph: object, demand_nodes: np.ndarray, candidate_nodes: np.ndarray, block: int) -> pd.DataFrame:
    """Long-form (demand, candidate, metres) within the cutoff, by Dijkstra from blocks of candidates."""
    position = np.full(graph.shape[0], -1, dtype=np.int64)  # type: ignore[attr-defined]
    position[demand_nodes] = np.arange(len(demand_nodes))
    parts = []
    for lo in range(0, len(candidate_nodes), block):
        src = candidate_nodes[lo:lo + block]
        dist = csgraph.dijkstra(graph, directed=False, indices=src, limit=CUTOFF_M)[:, demand_nodes]
        c, d = np.nonzero(np.isfinite(dist))
        parts.append(pd.DataFrame({"d": d, "c": c + lo, "m": dist[c, d]}))
    return pd.concat(parts, ignore_index=True)


def instance(graph: object, n_nodes: int, n_d: int, n_c: int, seed: int) -> tuple[CostTable, float]:
    rng = np.random.default_rng(seed)
    nodes = rng.permutation(n_nodes)
    demand_nodes, candidate_nodes = np.sort(nodes[:n_d]), np.sort(nodes[n_d:n_d + n_c])
    t0 = time.perf_counter()
    pairs = network_costs(graph, demand_nodes, candidate_nodes, block=200)
    build_s = time.perf_counter() - t0
    weights = rng.integers(1, 51, n_d).astype(float)
    table = CostTable(
        demand_ids=np.array([f"d{i}" for i in range(n_d)], dtype=object),
        candidate_ids=np.array([f"c{j}" for j in range(n_c)], dtype=object),
        weights=weights, capacity=None,
        pair_demand=pairs["d"].to_numpy(np.int64), pair_candidate=pairs["c"].to_numpy(np.int64),
        cost=pairs["m"].to_numpy(float),
    )
    return table, build_s


def spopt_mclp(table: CostTable, p: int) -> tuple[float, float]:
    from spopt.locate import MCLP  # noqa: PLC0415 - test/bench-only peer

    dense = np.full((table.n_demand, table.n_candidates), 1e9)
    dense[table.pair_demand, table.pair_candidate] = table.cost
    t0 = time.perf_counter()
    model = MCLP.from_cost_matrix(dense, table.weights, service_radius=CUTOFF_M, p_facilities=p, name="bench")
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    seconds = time.perf_counter() - t0
    sites = [j for j, f in enumerate(model.fac2cli) if f]
    covered = (dense[:, sites] <= CUTOFF_M).any(axis=1)
    return float(table.weights[covered].sum()), seconds


def previous_mclp(table: CostTable, p: int) -> tuple[float, float]:
    """The MCLP as solved before issue 17: every candidate a column, no reductions, no start, scipy's HiGHS."""
    from scipy import sparse  # noqa: PLC0415
    from scipy.optimize import Bounds, LinearConstraint, milp  # noqa: PLC0415

    from gisplan.siting.costs import coverage_matrix  # noqa: PLC0415
    from gisplan.siting.reduce import distinct_rows  # noqa: PLC0415 - the row merging, unchanged

    t0 = time.perf_counter()
    a, w = distinct_rows(coverage_matrix(table, CUTOFF_M), table.weights)
    n_c, n_y = table.n_candidates, a.shape[0]
    link = sparse.hstack([-a, sparse.identity(n_y, format="csr")], format="csr")
    count = np.concatenate([np.ones(n_c), np.zeros(n_y)])[None, :]
    res = milp(np.concatenate([np.zeros(n_c), -w]), integrality=np.concatenate([np.ones(n_c), np.zeros(n_y)]),
               bounds=Bounds(0, 1), constraints=[LinearConstraint(link, -np.inf, 0), LinearConstraint(count, p, p)],
               options={"disp": False, "mip_rel_gap": 1e-9})
    return -float(res.fun), time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-large", action="store_true", help="skip the 100,000 x 10,000 instance")
    parser.add_argument("--skip-spopt", action="store_true", help="do not run spopt")
    parser.add_argument("--seed", type=int, default=20201231)
    args = parser.parse_args()
    if not ROADS.is_file():
        sys.exit(f"bench_optimise: {ROADS} not found; the benchmark reads the shared data folder beside the "
                 "repository.")
    t0 = time.perf_counter()
    links = gpd.read_parquet(ROADS)
    wgs = links.set_geometry(gpd.GeoSeries(transform_geometries(links.geometry.to_numpy(), source="gcj02"),
                                           crs="EPSG:4326", index=links.index))
    network = build_network(wgs, crs="EPSG:32648")
    graph = travel_graph(network, METRES)
    print(f"network: {network.n_nodes:,} nodes, {network.n_edges:,} edges ({time.perf_counter() - t0:.1f} s); "
          "demand and candidates: SYNTHETIC seeded network nodes")

    table, build_s = instance(graph, network.n_nodes, 8_000, 1_000, args.seed)
    print(f"\n[1] {table.n_demand:,} demand x {table.n_candidates:,} candidates, p = 50, {CUTOFF_M:g} m: "
          f"{len(table.cost):,} pairs within reach (built in {build_s:.1f} s)")
    ours = mclp(table, p=50, cutoff=CUTOFF_M)
    print(f"gisplan (HiGHS): {ours.status}, objective {ours.objective:,.0f}, bound {ours.bound:,.0f}, "
          f"gap {ours.gap:.2%}, {ours.seconds:.2f} s")
    before, before_s = previous_mclp(table, 50)
    print(f"previous solve (unreduced, scipy.optimize.milp, no start): objective {before:,.0f}, {before_s:.2f} s; "
          f"same objective: {'yes' if abs(before - ours.objective) <= 1e-9 * before else 'NO'}; "
          f"gisplan / previous time: {ours.seconds / before_s:.3f}")
    if not args.skip_spopt:
        peer, peer_s = spopt_mclp(table, 50)
        print(f"spopt (PuLP/CBC): objective {peer:,.0f}, {peer_s:.2f} s")
        same = abs(peer - ours.objective) <= 1e-6 * max(1.0, peer)
        ratio = ours.seconds / peer_s
        print(f"same objective: {'yes' if same else 'NO'}; gisplan / spopt time: {ratio:.3f} "
              f"(target <= 0.05) {'PASS' if ratio <= 0.05 and same else 'FAIL'}")
        if not same:
            sys.exit("bench_optimise: objectives differ")

    if not args.skip_large:
        table, build_s = instance(graph, network.n_nodes, 100_000, 10_000, args.seed + 1)
        print(f"\n[2] {table.n_demand:,} demand x {table.n_candidates:,} candidates, p = 500, {CUTOFF_M:g} m: "
              f"{len(table.cost):,} pairs (built in {build_s:.1f} s)")
        big = mclp(table, p=500, cutoff=CUTOFF_M, time_limit_s=55.0)
        print(f"gisplan (HiGHS): {big.status}, exact {big.exact}, objective {big.objective:,.0f}, bound "
              f"{big.bound:,.0f}, gap {big.gap:.3%}, {big.seconds:.1f} s (target <= 60 s) "
              f"{'PASS' if big.seconds <= 60 else 'FAIL'}")


if __name__ == "__main__":
    main()

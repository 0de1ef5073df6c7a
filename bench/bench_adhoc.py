"""Benchmark: the ad-hoc ``gisplan coverage`` on the whole Chongqing road network with 1,000,000 demand points.

Only the roads are real (../shared/data/roads, 293,467 links, GCJ-02, read from there and never copied).
The demand points and facilities are SYNTHETIC (示意, seeded): random road vertices plus normal jitter of
150 m, written as two CSVs (``demand_id,lon,lat`` and ``facility_id,名称,lon,lat``) into a temporary folder
that is removed afterwards (``--keep DIR`` keeps the inputs and outputs there instead).

Timed, in the same run, alternating:

* ``gisplan``: the whole CLI process, ``gisplan -v coverage --roads … --facilities fac.csv --demand dem.csv
  --crs EPSG:4326 --profile walk --minutes 15 --out OUT`` (Python start-up, imports, validation of both
  tables, network build, snapping, coverage and the default outputs: at a million points only
  ``demand_minutes.parquet``, GeoParquet with the CSV's columns and the points (``--geo-format auto``, no
  ``--csv``; up to 250,000 points ``demand_minutes.csv`` and ``.gpkg``)); its ``-v`` stage line is printed too;
* ``peer``: the plain in-memory scipy pipeline of issue 17, in this process after its imports: pandas reads the
  two CSVs, geopandas reads the road file, projects to UTM 48N, the graph is built from end-point coordinates,
  every point snaps to its nearest node with a k-d tree, one multi-source Dijkstra with the 15-minute cutoff,
  nothing written.

The ratio gisplan/peer per round, wall clock and CPU seconds (user + system; steadier when other work shares
the machine), and their medians are the verdict (issue 17 asks ≤ 1.5x). Both sides read the same files.
The peer is the floor, not an equivalent: it drops the access leg, projects demand onto nodes instead of edges,
validates nothing and writes nothing.

With ``--compare DIR`` (another checkout of gisplan, e.g. ``git archive`` of an older commit) that code's CLI
process is timed too in every round, on the same inputs, and the two outputs are compared column by column
(they must be equal). ``--keep DIR`` keeps the inputs; run again with the same ``--keep DIR`` and the inputs
there are used instead of generating them anew.

Run: ``PYTHONPATH=$PWD .venv/bin/python bench/bench_adhoc.py [--demand N] [--facilities N] [--rounds R]
[--seed S] [--keep DIR] [--compare DIR]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix, csgraph
from scipy.spatial import cKDTree

ROADS = Path(__file__).resolve().parents[2] / "shared" / "data" / "roads" / "chongqing_roadlinks_gcj02.parquet"
PLANNING_CRS = "EPSG:32648"
SPEED_M_PER_MIN = 66.667  # the catalogue's walk profile
MINUTES = 15.0


def generate(folder: Path, n_demand: int, n_facilities: int, seed: int) -> tuple[Path, Path]:
    """Write the synthetic (示意) demand and facility CSVs near the real roads."""
    rng = np.random.default_rng(seed)
    roads = gpd.read_parquet(ROADS)
    vertices = shapely.get_coordinates(roads.geometry.to_numpy())
    deg_per_m = 1 / 111_000  # jitter in degrees; 150 m at Chongqing's latitude, near enough for made-up points

    def near(n: int) -> np.ndarray:
        return vertices[rng.integers(0, len(vertices), n)] + rng.normal(0.0, 150 * deg_per_m, (n, 2))

    dem, fac = near(n_demand), near(n_facilities)
    demand = pd.DataFrame({"demand_id": [f"D{i:07d}" for i in range(n_demand)],
                           "lon": np.round(dem[:, 0], 7), "lat": np.round(dem[:, 1], 7)})
    facilities = pd.DataFrame({"facility_id": [f"F{i:05d}" for i in range(n_facilities)],
                               "名称": [f"示意设施{i}" for i in range(n_facilities)],
                               "lon": np.round(fac[:, 0], 7), "lat": np.round(fac[:, 1], 7)})
    dem_path, fac_path = folder / "dem.csv", folder / "fac.csv"
    demand.to_csv(dem_path, index=False)
    facilities.to_csv(fac_path, index=False, encoding="utf-8-sig")
    return dem_path, fac_path


def run_gisplan(dem: Path, fac: Path, out: Path, code: Path | None = None) -> tuple[float, float, str]:
    """The whole CLI process (of the checkout `code`, else the one on PYTHONPATH): wall clock, CPU seconds (user +
    system), its stderr's timing line."""
    cmd = [str(Path(sys.executable).with_name("gisplan")), "-v", "coverage", "--roads", str(ROADS),
           "--facilities", str(fac), "--demand", str(dem), "--crs", "EPSG:4326", "--profile", "walk",
           "--minutes", f"{MINUTES:g}", "--out", str(out)]
    env = os.environ.copy()
    if code is not None:
        env["PYTHONPATH"] = str(code)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"gisplan failed ({done.returncode}):\n{done.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    timing = [line for line in done.stderr.splitlines() if "wall" in line]
    return seconds, cpu, timing[-1] if timing else "(no timing line)"


def run_peer(dem: Path, fac: Path) -> tuple[float, float, np.ndarray]:
    """The plain in-memory scipy pipeline; returns its seconds, CPU seconds and the minutes per demand point."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    d = pd.read_csv(dem)
    f = pd.read_csv(fac, encoding="utf-8-sig")
    roads = gpd.read_parquet(ROADS).to_crs(PLANNING_CRS)
    geoms = roads.geometry.to_numpy()
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(geoms, 0)),
                      shapely.get_coordinates(shapely.get_point(geoms, -1))])
    nodes, inverse = np.unique(np.round(ends, 3), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n_links = len(geoms)
    u, v = inverse[:n_links], inverse[n_links:]
    minutes = shapely.length(geoms) / SPEED_M_PER_MIN
    graph = coo_matrix((np.r_[minutes, minutes], (np.r_[u, v], np.r_[v, u])), shape=(len(nodes),) * 2).tocsr()
    points = gpd.GeoSeries(gpd.points_from_xy(np.r_[d["lon"], f["lon"]], np.r_[d["lat"], f["lat"]]),
                           crs="EPSG:4326").to_crs(PLANNING_CRS)
    _, snapped = cKDTree(nodes).query(shapely.get_coordinates(points.to_numpy()), workers=-1)
    dem_nodes, fac_nodes = snapped[: len(d)], snapped[len(d):]
    dist = csgraph.dijkstra(graph, directed=False, indices=np.unique(fac_nodes), min_only=True, limit=MINUTES)
    result = dist[dem_nodes]
    return time.perf_counter() - t0, time.process_time() - c0, result


def same_outputs(ours: Path, theirs: Path) -> bool:
    """The per-point files of two runs hold the same columns and values (the file's metadata aside)."""
    import pyarrow.parquet as pq  # noqa: PLC0415 - only with --compare

    a, b = pq.read_table(ours / "demand_minutes.parquet"), pq.read_table(theirs / "demand_minutes.parquet")
    return a.column_names == b.column_names and all(a.column(c).equals(b.column(c)) for c in a.column_names)


def main() -> None:
    """Generate the inputs, time both sides alternately and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demand", type=int, default=1_000_000)
    parser.add_argument("--facilities", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--keep", type=Path, help="keep inputs and outputs in this folder (never the repo); "
                        "inputs already there are used")
    parser.add_argument("--compare", type=Path, help="also time the CLI of this gisplan checkout (its root)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if (folder / "dem.csv").exists() and (folder / "fac.csv").exists():
            dem, fac = folder / "dem.csv", folder / "fac.csv"
            print(f"示意 inputs: {dem} and {fac} as they are (made by an earlier run)")
        else:
            dem, fac = generate(folder, args.demand, args.facilities, args.seed)
            print(f"示意 inputs: {args.demand:,} demand points, {args.facilities:,} facilities "
                  f"(seed {args.seed}) generated in {time.perf_counter() - t0:.1f} s")
        ratios: list[float] = []
        cpu_ratios: list[float] = []
        for r in range(args.rounds):
            print(f"round {r + 1}: load average {Path('/proc/loadavg').read_text().split()[:3]}")
            if args.compare is not None:
                old, old_cpu, timing = run_gisplan(dem, fac, folder / "out-compare", args.compare)
                print(f"round {r + 1}: {args.compare} CLI process {old:.2f} s (CPU {old_cpu:.2f} s)   "
                      f"[{timing.strip()}]")
            ours, ours_cpu, timing = run_gisplan(dem, fac, folder / "out")
            print(f"round {r + 1}: gisplan CLI process {ours:.2f} s (CPU {ours_cpu:.2f} s)   [{timing.strip()}]")
            if args.compare is not None:
                same = same_outputs(folder / "out", folder / "out-compare")
                print(f"round {r + 1}: outputs of the two checkouts {'equal' if same else 'DIFFER'}; this one "
                      f"against {args.compare}: wall {ours / old:.2f}x, CPU {ours_cpu / old_cpu:.2f}x")
            peer, peer_cpu, minutes = run_peer(dem, fac)
            reached = np.isfinite(minutes).mean()
            print(f"round {r + 1}: peer (pandas + geopandas + k-d tree + scipy dijkstra) {peer:.2f} s "
                  f"(CPU {peer_cpu:.2f} s; {reached:.1%} of points at a node within {MINUTES:g} min)")
            ratios.append(ours / peer)
            cpu_ratios.append(ours_cpu / peer_cpu)
            print(f"round {r + 1}: ratio gisplan/peer wall {ratios[-1]:.2f}x, CPU {cpu_ratios[-1]:.2f}x")
        # on a shared machine the load changes between the two halves of a round: the CPU ratio is steadier
        print(f"median ratio gisplan/peer: wall {statistics.median(ratios):.2f}x, CPU "
              f"{statistics.median(cpu_ratios):.2f}x (target ≤ 1.5x)")


if __name__ == "__main__":
    main()

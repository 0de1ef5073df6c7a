"""Benchmark: writing and reading one layer through the Workspace, GeoPackage against PostGIS, with the raw
pyogrio GeoPackage write/read as the floor measured in the same run; and the latency of single-row edits.

The layer is SYNTHETIC (示意, seeded): N points in the 永川 bounding box with text, integer, float and boolean
columns. PostgreSQL runs as a throwaway cluster (tests/pg.py: Debian's postgresql-15 + postgis, loopback, fsync
off as in the tests), started and removed by this script.

Run: ``PYTHONPATH=$PWD .venv/bin/python bench/bench_store_backends.py [--rows N] [--rounds R] [--edits E]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from gisplan.store import LayerWrite, PostGISWorkspace, open_workspace
from tests import pg


def _points(rows: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(105.6, 106.1, rows), rng.uniform(29.0, 29.6, rows)
    return gpd.GeoDataFrame({
        "facility_id": [f"F{i:07d}" for i in range(rows)],
        "name": [f"示意设施{i}" for i in range(rows)],
        "beds": rng.integers(0, 200, rows),
        "floor_area_m2": rng.uniform(50, 5000, rows).round(1),
        "open": rng.random(rows) < 0.9,
    }, geometry=shapely.points(lon, lat), crs="EPSG:4326")


def _timed(func: object) -> float:
    started = time.perf_counter()
    func()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    """Time the backends and print the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    data = _points(args.rows, args.seed)
    times: dict[str, list[float]] = {k: [] for k in ("raw write", "raw read", "gpkg write", "gpkg read",
                                                     "postgis write", "postgis read")}
    with pg.cluster() as uri, tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            raw = Path(tmp) / f"raw{r}.gpkg"
            times["raw write"].append(_timed(lambda raw=raw: pyogrio.write_dataframe(data, raw, layer="p")))
            times["raw read"].append(_timed(lambda raw=raw: pyogrio.read_dataframe(raw, layer="p")))
            gpkg = open_workspace(Path(tmp) / f"ws{r}.gpkg")
            times["gpkg write"].append(_timed(lambda gpkg=gpkg: gpkg.write([LayerWrite("p", "result", data)],
                                                                              action="bench")))
            times["gpkg read"].append(_timed(lambda gpkg=gpkg: gpkg.read_layer("p")))
            ws = open_workspace(f"{uri}?schema=bench{r}")
            times["postgis write"].append(_timed(lambda ws=ws: ws.write([LayerWrite("p", "result", data)],
                                                                        action="bench")))
            times["postgis read"].append(_timed(lambda ws=ws: ws.read_layer("p")))
        assert isinstance(ws, PostGISWorkspace)
        edits = []
        for k in range(args.edits):
            fid = 1 + k % args.rows
            version = 1 + k // args.rows
            edits.append(_timed(lambda fid=fid, version=version, k=k: ws.edit_row(
                "p", fid, {"beds": k}, base_version=version, user="bench")))
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.rows:,} synthetic (示意) points, {args.rounds} rounds, medians:")
    for key, value in median.items():
        print(f"  {key:14s} {value:7.3f} s")
    print(f"  postgis/gpkg   write {median['postgis write'] / median['gpkg write']:.2f}x, "
          f"read {median['postgis read'] / median['gpkg read']:.2f}x")
    print(f"  postgis/raw    write {median['postgis write'] / median['raw write']:.2f}x, "
          f"read {median['postgis read'] / median['raw read']:.2f}x")
    print(f"  edit_row       p50 {statistics.median(edits) * 1000:.1f} ms, "
          f"p95 {np.percentile(edits, 95) * 1000:.1f} ms over {args.edits} edits (lock, check, history, log)")


if __name__ == "__main__":
    main()

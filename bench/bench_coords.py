"""Benchmark: GCJ-02 → WGS84 for every vertex of the Chongqing road network (../shared/data).

Prints seconds for gisplan's vectorised exact inverse and, on a sample, for the peer
``coord_convert.transform.gcj2wgs`` (a per-point Python function), measured in the same run, and
the ratio per point. Run: ``.venv/bin/python bench/bench_coords.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from coord_convert.transform import gcj2wgs

from gisplan.coords import gcj02_to_wgs84

ROADS = Path(__file__).resolve().parents[2] / "shared" / "data" / "roads" / "chongqing_roadlinks_gcj02.parquet"


def main() -> None:
    """Time both conversions and print the per-point ratio."""
    links = gpd.read_parquet(ROADS)
    xy = shapely.get_coordinates(links.geometry.to_numpy())
    t0 = time.perf_counter()
    lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
    ours = time.perf_counter() - t0
    sample = xy[:: max(1, len(xy) // 50_000)]
    t0 = time.perf_counter()
    peer = np.array([gcj2wgs(x, y) for x, y in sample])
    theirs = time.perf_counter() - t0
    per_ours, per_peer = ours / len(xy), theirs / len(sample)
    print(f"vertices: {len(xy):,} (links {len(links):,}); sample for the peer: {len(sample):,}")
    print(f"gisplan gcj02_to_wgs84 (exact, vectorised): {ours:.3f} s = {per_ours * 1e9:.0f} ns/point")
    print(f"coord_convert gcj2wgs (per point):          {theirs:.3f} s = {per_peer * 1e9:.0f} ns/point")
    print(f"ratio peer/gisplan per point: {per_peer / per_ours:.1f}x")
    step = max(1, len(xy) // 50_000)
    diff = np.hypot(lon[::step] - peer[:, 0], lat[::step] - peer[:, 1]).max() * 111_000
    print(f"max difference from the peer on the sample: {diff:.4f} m")


if __name__ == "__main__":
    main()

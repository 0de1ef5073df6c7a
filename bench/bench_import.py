"""Benchmark: validated, atomic import of the whole Chongqing road network (../shared/data).

Compares ``gisplan.workflows.importing.import_layers`` (read, GCJ-02 → WGS84, every geometry check, atomic
GeoPackage write with metadata and change log) with the bare floor measured in the same run, alternately:
read (``geopandas.read_parquet``, as gisplan reads a .parquet file: GDAL's Parquet driver is not usable here)
+ the same coordinate conversion + pyogrio write through Arrow (``use_arrow=True``, the fastest a bare script
gets; issue 17 asks ≤ 1.2x of it), with no checks and no atomicity. The floor of the earlier version of this
benchmark (the same, written feature by feature) is printed beside it.
Run: ``PYTHONPATH=$PWD .venv/bin/python bench/bench_import.py [--rounds R]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import pyogrio

from gisplan.catalogue import load_catalogue
from gisplan.coords import transform_geometries
from gisplan.store import open_workspace
from gisplan.workflows.importing import ImportSpec, import_layers

ROADS = Path(__file__).resolve().parents[2] / "shared" / "data" / "roads" / "chongqing_roadlinks_gcj02.parquet"


def bare(folder: Path, *, arrow: bool) -> float:
    """Read, convert, write with nothing else; seconds."""
    t0 = time.perf_counter()
    links = gpd.read_parquet(ROADS)  # this GDAL's Parquet driver does not load (libduckdb), so pyarrow reads
    geoms = transform_geometries(links.geometry.to_numpy(), source="gcj02")
    floor = links.set_geometry(gpd.GeoSeries(geoms, crs="EPSG:4326"))
    pyogrio.write_dataframe(floor, folder / f"floor_{arrow}.gpkg", layer="roads", use_arrow=arrow)
    return time.perf_counter() - t0


def main() -> None:
    """Time the three alternately and print the ratios of the medians."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    catalogue = load_catalogue()
    arrow_s: list[float] = []
    old_s: list[float] = []
    ours_s: list[float] = []
    rows = 0
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            arrow_s.append(bare(Path(tmp), arrow=True))
            old_s.append(bare(Path(tmp), arrow=False))
            t0 = time.perf_counter()
            results = import_layers(open_workspace(Path(tmp) / "ws.gpkg"),
                                    [ImportSpec(ROADS, "roads", crs="gcj02")], catalogue=catalogue)
            ours_s.append(time.perf_counter() - t0)
            rows = results[0].rows
        print(f"round {r + 1}: bare Arrow write {arrow_s[-1]:.2f} s, bare feature write "
              f"{old_s[-1]:.2f} s, gisplan {ours_s[-1]:.2f} s")
    arrow, old, ours = (statistics.median(x) for x in (arrow_s, old_s, ours_s))
    print(f"links: {rows:,}")
    print(f"bare read + convert + pyogrio write, Arrow (no checks, not atomic): {arrow:.2f} s")
    print(f"bare read + convert + feature-by-feature write:                    {old:.2f} s")
    print(f"gisplan import (validated, atomic, with metadata):                 {ours:.2f} s")
    print(f"ratio gisplan/bare Arrow: {ours / arrow:.2f}x (target ≤ 1.2x); gisplan/bare feature write: "
          f"{ours / old:.2f}x")


if __name__ == "__main__":
    main()

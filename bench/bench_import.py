"""Benchmark: validated, atomic import of the whole Chongqing road network (../shared/data).

Compares ``gisplan.workflows.importing.import_layers`` (read, GCJ-02 → WGS84, every geometry check, atomic
GeoPackage write with metadata and change log) with the bare floor measured in the same run:
pyogrio read + the same coordinate conversion + pyogrio write, with no checks and no atomicity.
Run: ``.venv/bin/python bench/bench_import.py``.
"""

from __future__ import annotations

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


def main() -> None:
    """Time both and print the ratio."""
    catalogue = load_catalogue()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        links = gpd.read_parquet(ROADS)
        geoms = transform_geometries(links.geometry.to_numpy(), source="gcj02")
        floor = links.set_geometry(gpd.GeoSeries(geoms, crs="EPSG:4326"))
        pyogrio.write_dataframe(floor, Path(tmp) / "floor.gpkg", layer="roads")
        bare = time.perf_counter() - t0

        t0 = time.perf_counter()
        results = import_layers(open_workspace(Path(tmp) / "ws.gpkg"), [ImportSpec(ROADS, "roads", crs="gcj02")],
                                catalogue=catalogue)
        ours = time.perf_counter() - t0
    print(f"links: {results[0].rows:,}")
    print(f"bare read + convert + write (no checks, not atomic): {bare:.2f} s")
    print(f"gisplan import (validated, atomic, with metadata):    {ours:.2f} s")
    print(f"ratio gisplan/bare: {ours / bare:.2f}x")


if __name__ == "__main__":
    main()

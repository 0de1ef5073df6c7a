"""Benchmark: validated, atomic import of the whole Chongqing road network (../shared/data).

Compares ``gisplan.workflows.importing.import_layers`` (read, GCJ-02 → WGS84, every geometry check, atomic
GeoPackage write with metadata and change log) with its peer measured in the same run: a plain read + the
same coordinate conversion + a pyogrio write through Arrow, with no checks and no atomicity (issue 17 asks
≤ 1.2x of it; GDAL's Parquet driver is not usable here, so both read .parquet with geopandas/pyarrow).
Both are measured warm (one untimed read of the file first), in alternating rounds; the medians and their
ratio are printed, in wall and in CPU seconds (steadier on a shared machine), and both outputs are checked to hold
the same rows.
Run: ``.venv/bin/python bench/bench_import.py [FILE] [--rounds N]``.
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


def _read(path: Path) -> gpd.GeoDataFrame:
    return gpd.read_parquet(path) if path.suffix == ".parquet" else pyogrio.read_dataframe(path)


def peer_import(path: Path, out: Path) -> int:
    """The floor: read, GCJ-02 → WGS84, write one GeoPackage layer; no checks, no metadata, not atomic."""
    links = _read(path)
    geoms = transform_geometries(links.geometry.to_numpy(), source="gcj02")
    pyogrio.write_dataframe(links.set_geometry(gpd.GeoSeries(geoms, crs="EPSG:4326")), out, layer="roads",
                            use_arrow=True)  # the fastest a bare script gets
    return len(links)


def gisplan_import(path: Path, out: Path) -> int:
    """gisplan's validated, atomic import into a new workspace."""
    results = import_layers(open_workspace(out), [ImportSpec(path, "roads", crs="gcj02")], catalogue=load_catalogue())
    return results[0].rows


def measure(path: Path, rounds: int) -> dict[str, float]:
    """Median seconds of both over `rounds` alternating rounds (after one untimed warm-up read), and the rows
    each wrote (which must agree)."""
    _read(path)  # warm: the file in the page cache, the libraries loaded
    times: dict[str, list[float]] = {"peer": [], "gisplan": []}
    cpu: dict[str, list[float]] = {"peer": [], "gisplan": []}
    rows: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            for name, run in (("peer", peer_import), ("gisplan", gisplan_import)):
                out = Path(tmp) / f"{name}{i}.gpkg"
                t0, c0 = time.perf_counter(), time.process_time()
                rows[name] = run(path, out)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
                written = pyogrio.read_info(out, layer="roads")["features"]
                if written != rows[name]:
                    msg = f"{name} wrote {written} rows of {rows[name]}"
                    raise AssertionError(msg)
    if rows["peer"] != rows["gisplan"]:
        msg = f"the peer wrote {rows['peer']} rows, gisplan {rows['gisplan']}"
        raise AssertionError(msg)
    peer, ours = statistics.median(times["peer"]), statistics.median(times["gisplan"])
    peer_cpu, ours_cpu = statistics.median(cpu["peer"]), statistics.median(cpu["gisplan"])
    return {"rows": rows["gisplan"], "peer_s": peer, "gisplan_s": ours, "ratio": ours / peer,
            "peer_cpu_s": peer_cpu, "gisplan_cpu_s": ours_cpu, "cpu_ratio": ours_cpu / peer_cpu}


def main() -> None:
    """Time both and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=ROADS)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = measure(args.path, args.rounds)
    print(f"links: {result['rows']:,}  (medians of {args.rounds} alternating warm rounds)")
    print(f"peer: read + convert + pyogrio write (no checks, not atomic): {result['peer_s']:.2f} s")
    print(f"gisplan import (validated, atomic, with metadata):           {result['gisplan_s']:.2f} s")
    print(f"ratio gisplan/peer: {result['ratio']:.2f}x")
    # CPU seconds (every thread of the process) are steadier than wall time on a shared machine
    print(f"CPU: peer {result['peer_cpu_s']:.2f} s, gisplan {result['gisplan_cpu_s']:.2f} s, "
          f"ratio {result['cpu_ratio']:.2f}x")


if __name__ == "__main__":
    main()

"""Benchmark `gisplan batch`: every district of 重庆 (or --only some) in-process and on a dask LocalCluster, in one
run, with per-stage timings, the speed-up and the peak memory of each worker.

    PYTHONPATH=. .venv/bin/python bench/bench_batch.py                       # all 38 districts, 2 workers
    PYTHONPATH=. .venv/bin/python bench/bench_batch.py --only 500118,500153,500229 --workers 2

The road network is ../shared/data/roads/chongqing_roadlinks_gcj02.parquet: each process (this one for the
in-process run, each worker for the cluster run) reads it once, on its first district (stage "read roads"). Goals
(issue 18): speed-up ≥ 1.6× with 2 workers on a 2-core machine; the whole municipality ≤ 5 minutes on 2 workers.
The peer of the cluster run is the in-process run of the same districts in the same process, so a loaded machine
slows both; the CPU seconds of this process and its children are printed beside the wall seconds.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gisplan.outputs.batch import write_district, write_municipal  # noqa: E402
from gisplan.workflows.batch import BatchResult, jobs_for_region, load_region, run_batch  # noqa: E402
from gisplan.workflows.engine import ROADS_STAGE, clear_shared_roads  # noqa: E402

if TYPE_CHECKING:
    from gisplan.progress import Tick


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _tick(tick: Tick) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {tick.message}", file=sys.stderr, flush=True)


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _stages(result: BatchResult) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    for outcome in result.outcomes:
        for stage, seconds in outcome.seconds.items():
            total[stage] += seconds
    return dict(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", type=Path, default=ROOT / "scenarios" / "chongqing-districts.toml")
    parser.add_argument("--only", default=None, help="comma-separated district codes (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one)")
    args = parser.parse_args()
    os.environ.setdefault("GISPLAN_OFFLINE", "1")  # a district without links in the road file: no download
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_batch_"))
    region = load_region(args.region)
    if region.roads is None or not region.roads.exists():
        sys.exit(f"the region's road file is missing ({region.roads}); the benchmark needs ../shared/data")
    only = args.only.split(",") if args.only else None
    print(f"region {region.name}; roads: {region.roads} ({region.roads.stat().st_size / 1e6:.0f} MB); out: {out}; "
          f"{os.cpu_count()} cores; load average {_load()}", flush=True)
    runs: dict[str, BatchResult] = {}
    cpu: dict[str, float] = {}
    for label, workers in (("in-process", None), (f"LocalCluster({args.workers})", args.workers)):
        jobs = jobs_for_region(region, out / label.split("(")[0], only=only)
        print(f"\n{label}: {len(jobs)} districts …", flush=True)
        c0 = _cpu()
        result = run_batch(jobs, write=write_district, workers=workers, force=True, progress=_tick)
        clear_shared_roads()  # the in-process copy of the network: not held during the cluster run
        t1 = time.perf_counter()
        write_municipal(result, out / label.split("(")[0], title=region.name)
        cpu[label] = _cpu() - c0
        runs[label] = result
        print(f"{label}: wall {result.seconds:.1f} s (+ municipal tables and map {time.perf_counter() - t1:.1f} s), "
              f"CPU of this process and its children {cpu[label]:.1f} s; {result.count('done')} done, "
              f"{result.count('failed')} failed; load average {_load()}", flush=True)
        for o in result.outcomes:
            if o.status == "failed":
                print(f"  failed {o.code} {o.name}: {o.error.splitlines()[0]}")
    inproc, cluster = runs["in-process"], runs[f"LocalCluster({args.workers})"]
    print("\nper-stage seconds, summed over the districts (in-process | cluster):")
    a, b = _stages(inproc), _stages(cluster)
    for stage in dict.fromkeys([*a, *b]):
        print(f"  {stage:<40} {a.get(stage, 0.0):8.1f} | {b.get(stage, 0.0):8.1f}")
    for label, result in runs.items():
        readers = [o.worker for o in result.outcomes if ROADS_STAGE in o.seconds]
        print(f"road file read by {label}: {len(readers)} time(s), in {', '.join(readers) or '—'}")
    peak: dict[str, float] = defaultdict(float)
    for o in cluster.outcomes:
        peak[o.worker] = max(peak[o.worker], o.peak_rss_mb)
    print(f"CPU seconds inside the district tasks: in-process {sum(o.cpu_s for o in inproc.outcomes):.1f} s, "
          f"cluster {sum(o.cpu_s for o in cluster.outcomes):.1f} s (wall/CPU shows the machine's load)")
    print("peak resident memory per worker: " + ", ".join(f"{w} {mb:.0f} MB" for w, mb in sorted(peak.items())))
    inproc_peak = max((o.peak_rss_mb for o in inproc.outcomes), default=float("nan"))
    print(f"peak resident memory of the in-process run: {inproc_peak:.0f} MB")
    speed = inproc.seconds / cluster.seconds if cluster.seconds else float("nan")
    print(f"\nspeed-up: {speed:.2f}× (in-process {inproc.seconds:.1f} s / LocalCluster({args.workers}) "
          f"{cluster.seconds:.1f} s; goal ≥ 1.6× on 2 cores); municipality on {args.workers} workers: "
          f"{cluster.seconds / 60:.1f} min (goal ≤ 5 min for all 38)")


if __name__ == "__main__":
    main()

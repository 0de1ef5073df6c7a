"""The batch's engine: the road network each process reads once, the Dask cluster a batch runs on, and the
board that reports its progress (:mod:`gisplan.workflows.batch` plans the districts and runs them on it).

The municipal road network is never pickled into a task or sent from the client: each worker process reads the
road file once, keyed by its SHA-256 (:func:`shared_roads`), builds its spatial index once and clips every
district it runs from that copy. A LocalCluster's workers get ``OMP_NUM_THREADS`` and the like
(:func:`worker_env`) so that workers × threads never exceeds the cores.
"""

from __future__ import annotations

import os
import resource
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from gisplan import settings
from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.io.spatial import file_sha256, read_spatial
from gisplan.progress import ProgressSink, Tick

if TYPE_CHECKING:
    from collections.abc import Callable

    from gisplan.workflows.batch import DistrictOutcome

__all__ = [
    "ROADS_STAGE",
    "Board",
    "clear_shared_roads",
    "cpu_note",
    "distributed",
    "open_client",
    "peak_rss_mb",
    "read_roads_file",
    "read_shared_roads",
    "shared_roads",
    "worker_env",
]

ROADS_STAGE = "read roads (once per process)"  # the stage of the one task per process that reads the road file


def read_roads_file(path: Path) -> gpd.GeoDataFrame:
    """A road file (GeoParquet read whole with pyarrow, or any file gisplan reads)."""
    if path.suffix.lower() == ".parquet":
        return gpd.read_parquet(path)
    return read_spatial(path)


_ROADS: dict[tuple[str, str], gpd.GeoDataFrame] = {}
_ROADS_LOCK = threading.Lock()


def shared_roads(path: Path, sha256: str) -> gpd.GeoDataFrame:
    """The road links of `path`, read once per process and kept for every later task (a Dask worker reads the
    municipal network on its first district, not once per district, and nothing is sent from the client); its
    spatial index is built once too. The copy is keyed by the file's SHA-256, so a changed file is read again.

    Raises
    ------
    ConfigError
        If the file this process sees is not the one the batch was planned with (`sha256`): on an existing
        cluster the workers must read the client's paths (a shared file system).
    """
    return read_shared_roads(path, sha256)[0]


def read_shared_roads(path: Path, sha256: str) -> tuple[gpd.GeoDataFrame, bool]:
    """:func:`shared_roads` and whether this call read the file."""
    key = (str(path.resolve()), sha256)
    with _ROADS_LOCK:  # a worker with several threads reads the file once
        found = _ROADS.get(key)
        fresh = found is None
        if found is None:
            seen = file_sha256(path) if path.exists() else "missing"
            if seen != sha256:
                msg = _("road file {path} on {host} is not the one the batch was planned with (SHA-256 {seen} ≠ "
                        "{expected}); every worker must read the same file (a shared file system), and the file must "
                        "not change during a batch.").format(path=path, host=socket.gethostname(), seen=seen[:12],
                                                             expected=sha256[:12])
                raise ConfigError(msg)
            found = read_roads_file(path)
            _index = found.sindex  # built once, then every district's clip is a tree query
            _ROADS.clear()  # one network per process: a new file replaces the old copy
            _ROADS[key] = found
        return found, fresh


def clear_shared_roads() -> None:
    """Drop this process's copy of the road network (:func:`shared_roads`), giving its memory back."""
    with _ROADS_LOCK:
        _ROADS.clear()


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB): Linux's VmHWM, which starts afresh in a new program, where
    ``ru_maxrss`` carries over the peak of the process that started it (a Dask worker would report its parent's)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux, bytes on macOS


class Board:
    """The batch's progress: districts done, running and failed, elapsed and (estimated) remaining time."""

    def __init__(self, total: int, slots: int, skipped: int, progress: ProgressSink) -> None:
        self.total, self.slots, self.progress = total, max(1, slots), progress
        self.start = time.perf_counter()
        self.done, self.failed, self.skipped, self.started = 0, 0, skipped, 0
        self.tick("")

    def tick(self, message: str) -> None:
        finished = self.done + self.failed
        todo = self.total - self.skipped
        running = min(self.slots, todo - finished)
        elapsed = time.perf_counter() - self.start
        left = elapsed / finished * (todo - finished) if finished else None
        eta = f"{left:.0f} s" if left is not None else "—"
        text = (f"完成 done {self.done + self.skipped}/{self.total}（跳过 skipped {self.skipped}）· 运行 running "
                f"{running} · 失败 failed {self.failed} · 用时 elapsed {elapsed:.0f} s · 剩余 remaining {eta}")
        self.progress(Tick("batch", done=self.done + self.failed + self.skipped, total=self.total,
                           message=f"{text}{' · ' + message if message else ''}"))

    def record(self, outcome: DistrictOutcome) -> None:
        if outcome.status == "failed":
            self.failed += 1
        else:
            self.done += 1
        self.tick(f"{outcome.code} {outcome.name} {outcome.status}")


def distributed() -> Any:
    try:
        import distributed  # noqa: PLC0415
    except ImportError as exc:
        msg = _("Dask engines need `distributed` ({exc}); pip install \"dask[distributed]\".").format(exc=exc)
        raise ImportError(msg) from None
    return distributed


def worker_env(threads: int) -> dict[str, str]:
    """The environment of a LocalCluster's worker processes: their OpenMP/BLAS/numba pools and gisplan's own
    kernels get `threads` each, so that workers × threads stays within the cores."""
    n = str(threads)
    return {"OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "MKL_NUM_THREADS": n, "NUMBA_NUM_THREADS": n,
            "VECLIB_MAXIMUM_THREADS": n, settings.THREADS_ENV: n}


def open_client(dd: Any, *, workers: int | None, scheduler: str | None) -> tuple[Any, Any, int, int | None, str]:
    """Join the Dask cluster at `scheduler`, or start a ``LocalCluster`` of `workers` processes (`dd`: the
    ``distributed`` module). Returns the cluster (None when joined), the client, the task slots, each task's kernel
    threads (None: each worker's ``GISPLAN_THREADS``, else 1) and the engine's description."""
    cores = os.cpu_count() or 1
    if scheduler is not None:
        try:
            cluster, client = None, dd.Client(scheduler)
        except (OSError, TimeoutError, ValueError) as exc:  # nothing listening, a wrong address
            msg = _("--scheduler {scheduler}: no Dask scheduler answers there ({reason}). gisplan joins a running "
                    "cluster and does not start one: start it first (`dask scheduler`, then `dask worker ADDRESS` on "
                    "each node; see the README), or use --workers N for a cluster on this machine.").format(
                scheduler=scheduler, reason=exc)
            raise ConfigError(msg) from None
        slots = sum(client.nthreads().values()) or 1
        threads: int | None = None  # each worker's GISPLAN_THREADS, else 1 (see run_district)
        engine = f"dask scheduler {scheduler} ({len(client.nthreads())} workers)"
    else:
        n = int(workers or 1)
        threads = max(1, cores // n)
        import dask  # noqa: PLC0415  (installed with distributed)

        # the workers' statistical profiler samples every task's stack 100 times a second: off for CPU-bound
        # tasks; the nanny's own thread settings (1 each) give way to the batch's share of the cores
        with dask.config.set({"distributed.worker.profile.enabled": False,
                              "distributed.nanny.pre-spawn-environ": {"MALLOC_TRIM_THRESHOLD_": 65536,
                                                                      **worker_env(threads)}}):
            cluster = dd.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                      host="127.0.0.1")
        client = dd.Client(cluster)
        slots = n
        engine = f"dask LocalCluster ({n} workers × {threads} threads, {cores} cores)"
    return cluster, client, slots, threads, engine


def cpu_note(workers: int | None, callback: Callable[[str], None]) -> None:
    """Say when a LocalCluster asks for more workers than the machine has cores."""
    cores = os.cpu_count() or 1
    if workers is not None and workers > cores:
        callback(f"--workers {workers} on {cores} cores: each worker gets one kernel thread; expect no speed-up "
                 "past the core count.")

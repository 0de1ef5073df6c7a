"""`gisplan batch` as a workflow: many district scenarios in one run, in-process or on Dask.

A batch is a list of :class:`DistrictJob`: existing scenario files (a folder or a list), or the districts of a
region file (``scenarios/chongqing-districts.toml``), each generated from the region's shared data by
:func:`gisplan.workflows.districts.write_district_scenario` with its roads clipped from the municipal road file.

Engines: in this process (default), a ``distributed.LocalCluster`` of `workers` processes, or an existing Dask
cluster at `scheduler` (:mod:`gisplan.workflows.engine`: each process reads the municipal road file once, and
each task narrows the numerical kernels to its share of the cores). Workers write each district's outputs
themselves and return only a small :class:`DistrictOutcome`; the largest districts start first. A district that
fails is reported with its error and the others complete. A district whose inputs (content hashes) have not
changed since it last completed is skipped, so a crashed batch resumes where it stopped. Progress of the whole
batch goes to a :class:`~gisplan.progress.ProgressSink`.

Task functions are module-level, so Dask workers (fresh processes) import them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import time
import tomllib
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gisplan import settings
from gisplan.catalogue import load_catalogue
from gisplan.config import load_scenario
from gisplan.errors import ConfigError
from gisplan.i18n import _
from gisplan.io.spatial import file_sha256
from gisplan.laps import Laps
from gisplan.progress import ProgressSink, silent
from gisplan.scenariocat import check_scenario_types
from gisplan.store import open_workspace
from gisplan.workflows.districts import (
    REGION_BOUNDARIES,
    REGION_GAZETTEER,
    TEMPLATE,
    DistrictData,
    clip_roads,
    district_data,
    read_region_data,
    write_district_scenario,
)
from gisplan.workflows.engine import ROADS_STAGE, Board, distributed, open_client, peak_rss_mb, read_shared_roads
from gisplan.workflows.importing import import_scenario
from gisplan.workflows.plan import RunResult, run_scenario

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import geopandas as gpd

    from gisplan.catalogue import Catalogue
    from gisplan.config import Scenario
    from gisplan.store import Workspace

__all__ = [
    "BatchResult",
    "DistrictJob",
    "DistrictOutcome",
    "DistrictWriter",
    "Region",
    "jobs_for_region",
    "jobs_for_scenarios",
    "load_region",
    "run_batch",
    "run_district",
]

logger = logging.getLogger(__name__)

MARKER = "batch.json"  # written into a district's folder last, when all its outputs are written
_REGION_KEYS = frozenset({"name", "code", "boundaries", "gazetteer", "template", "seed", "illustrative",
                          "road_buffer_m"})
_ROADS_KEYS = frozenset({"path", "crs", "osm_fallback"})


class DistrictWriter(Protocol):
    """Writes one district's usual outputs (tables, ``results.gpkg``, map) into `out_dir`; returns the files.
    :func:`gisplan.outputs.batch.write_district` is the one the CLI passes (module-level, so Dask can ship it)."""

    def __call__(self, result: RunResult, *, out_dir: Path, workspace: Workspace, scenario: Scenario,
                 catalogue: Catalogue) -> list[Path]: ...


@dataclass(frozen=True, slots=True)
class Region:
    """A region file: where the district outlines, gazetteer, template and roads come from.

    Attributes
    ----------
    path : Path
        The region TOML.
    name, code : str
        The region (``重庆市``, ``500000``).
    boundaries, gazetteer, template : Path
        District outlines, gazetteer and indicator template (default: the shipped Chongqing data and template).
    seed : int
        Seed of the generated 示意 layers (each district's stream is (seed, district code)).
    illustrative : bool
        Generate 示意 township/village polygons, households and facilities for every district.
    road_buffer_m : float
        The district's roads are the links touching its outline widened by this many metres.
    roads : Path or None
        A municipal road file (tests and benchmarks: ``../shared/data/roads/chongqing_roadlinks_gcj02.parquet``);
        when absent, each district fetches OpenStreetMap roads (`osm_fallback`), as ``gisplan roads fetch`` does.
    roads_crs : str or None
        The CRS of the road coordinates (``gcj02``).
    osm_fallback : bool
    """

    path: Path
    name: str
    code: str
    boundaries: Path = REGION_BOUNDARIES
    gazetteer: Path = REGION_GAZETTEER
    template: Path = TEMPLATE
    seed: int = 20231231
    illustrative: bool = True
    road_buffer_m: float = settings.OSM_BUFFER_M
    roads: Path | None = None
    roads_crs: str | None = None
    osm_fallback: bool = True


def load_region(path: Path) -> Region:
    """Read a region file (a ``[region]`` table and an optional ``[roads]`` table; paths relative to the file).

    Raises
    ------
    ConfigError
        If the file is not TOML, has no ``[region]``, or has unknown keys or wrong values.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        msg = _("region file {path}: cannot read it as UTF-8 TOML ({exc}).").format(path=path, exc=exc)
        raise ConfigError(msg) from None
    region, roads = raw.get("region"), raw.get("roads", {})
    if not isinstance(region, dict) or not isinstance(roads, dict):
        msg = _("region file {path}: it needs a [region] table (name, code …) and may have a [roads] table.").format(
                path=path)
        raise ConfigError(msg)
    unknown = sorted((set(region) - _REGION_KEYS) | {f"roads.{k}" for k in set(roads) - _ROADS_KEYS}
                     | (set(raw) - {"region", "roads"}))
    if unknown:
        msg = (_("region file {path}: unknown key(s) {unknown}; [region] takes {region_keys} and [roads] "
                 "{roads_keys}.").format(
                path=path, unknown=', '.join(unknown), region_keys=', '.join(sorted(_REGION_KEYS)),
                roads_keys=', '.join(sorted(_ROADS_KEYS))))
        raise ConfigError(msg)
    base = path.resolve().parent  # absolute: the workers of an existing cluster have another working folder
    seed, buffer_m = region.get("seed", 20231231), region.get("road_buffer_m", settings.OSM_BUFFER_M)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        msg = _("region file {path}: [region] `seed` must be a whole number ≥ 0 (got {seed!r}).").format(
                path=path, seed=seed)
        raise ConfigError(msg)
    if not isinstance(buffer_m, int | float) or isinstance(buffer_m, bool) or not 0 <= buffer_m <= 50_000:
        msg = _("region file {path}: [region] `road_buffer_m` must be metres between 0 and 50000 (got "
                "{buffer_m!r}).").format(path=path, buffer_m=buffer_m)
        raise ConfigError(msg)

    def file(table: dict[str, Any], key: str, default: Path | None) -> Path | None:
        return Path(os.path.normpath(base / str(table[key]))) if table.get(key) else default

    return Region(
        path=path, name=str(region.get("name", path.stem)), code=str(region.get("code", "")),
        boundaries=file(region, "boundaries", REGION_BOUNDARIES) or REGION_BOUNDARIES,
        gazetteer=file(region, "gazetteer", REGION_GAZETTEER) or REGION_GAZETTEER,
        template=file(region, "template", TEMPLATE) or TEMPLATE, seed=seed,
        illustrative=bool(region.get("illustrative", True)), road_buffer_m=float(buffer_m),
        roads=file(roads, "path", None), roads_crs=roads.get("crs"), osm_fallback=bool(roads.get("osm_fallback", True)),
    )


@dataclass(frozen=True, slots=True, eq=False)
class DistrictJob:
    """One district of a batch.

    Attributes
    ----------
    code, name : str
        6-digit district code and name.
    folder : Path
        The district's folder in the batch output (``<out>/<code>``): its scenario (when generated), workspace
        (``work/<code>.gpkg``), outputs (``results/``) and the marker ``batch.json``.
    inputs_hash : str
        SHA-256 over everything the district's results depend on; a rerun skips the district when it is unchanged.
    scenario : Path or None
        An existing scenario file (folder or list batches).
    data : DistrictData or None
        The district's outline and gazetteer (region batches), from which its scenario is generated.
    region : Region or None
    size : int
        Work estimate (villages, or layer bytes) so that the largest districts start first.
    roads_sha256 : str
        SHA-256 of the region's road file (region jobs with one): the key of each worker's copy.
    """

    code: str
    name: str
    folder: Path
    inputs_hash: str
    scenario: Path | None = None
    data: DistrictData | None = None
    region: Region | None = None
    size: int = 0
    roads_sha256: str = ""

    @property
    def results(self) -> Path:
        """The district's output folder."""
        return self.folder / "results"


@dataclass(frozen=True, slots=True)
class DistrictOutcome:
    """How one district went: ``done``, ``skipped`` (inputs unchanged since it completed) or ``failed`` (with
    its error), the wall seconds of each stage, the worker process, its peak resident memory and the CPU seconds
    the task's process used meanwhile (all its threads)."""

    code: str
    name: str
    status: str
    folder: Path
    error: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    worker: str = ""
    peak_rss_mb: float = float("nan")
    files: tuple[str, ...] = ()
    cpu_s: float = float("nan")


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Every district's outcome (in job order), the engine used and the batch's wall seconds."""

    outcomes: tuple[DistrictOutcome, ...]
    engine: str
    seconds: float

    def count(self, status: str) -> int:
        """How many districts ended with `status`."""
        return sum(o.status == status for o in self.outcomes)


def _hash(parts: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _version() -> str:
    from gisplan import __version__  # noqa: PLC0415  (tier-0 import of the package root, at call time)

    return __version__


def jobs_for_region(region: Region, out: Path, *, only: Sequence[str] | None = None) -> list[DistrictJob]:
    """One job per district of the region (those in `only`, when given), largest first.

    Raises
    ------
    ConfigError
        If a code of `only` is not a district of the region.
    """
    out = out.resolve()  # the workers of an existing cluster have another working folder
    outlines, gazetteer = read_region_data(region.boundaries, region.gazetteer)
    codes = sorted(outlines["code12"].str.slice(0, 6))
    chosen = list(dict.fromkeys(c.strip()[:6] for c in only)) if only else codes
    wrong = [c for c in chosen if c not in codes]
    if wrong:
        msg = (_("--only: {wrong} not in the region ({name}); its districts are {codes}.").format(
                wrong=', '.join(wrong), name=region.path.name, codes=', '.join(codes)))
        raise ConfigError(msg)
    roads_sha = file_sha256(region.roads) if region.roads is not None and region.roads.exists() else ""
    if region.roads is not None and not roads_sha:
        logger.warning("region roads %s not found: districts use OpenStreetMap roads when online", region.roads)
    common = [_version(), file_sha256(region.template), str(region.seed), str(region.illustrative),
              str(region.road_buffer_m), str(region.roads_crs), str(region.osm_fallback), roads_sha or "no roads"]
    jobs = []
    for code in chosen:
        data = district_data(code, outlines, gazetteer)
        own = [data.outline.geometry.iloc[0].wkb_hex, data.gazetteer.to_csv(index=False)]
        jobs.append(DistrictJob(code, data.name, out / code, _hash(common + own), data=data, region=region,
                                size=int((data.gazetteer["level"] == "5").sum()), roads_sha256=roads_sha))
    return sorted(jobs, key=lambda j: (-j.size, j.code))


def jobs_for_scenarios(paths: Sequence[Path], out: Path, *, only: Sequence[str] | None = None) -> list[DistrictJob]:
    """One job per scenario file (a folder's ``*.toml`` files, or the files given), largest inputs first.

    Raises
    ------
    ConfigError, ConfigFileError
        If a file is not a scenario, or two scenarios are for the same district.
    """
    out = out.resolve()  # the workers of an existing cluster have another working folder
    files: list[Path] = []
    for path in (p.resolve() for p in paths):
        files += [p for p in sorted(path.glob("*.toml")) if not _is_region_file(p)] if path.is_dir() else [path]
    jobs: list[DistrictJob] = []
    seen: dict[str, Path] = {}
    for path in files:
        sc = load_scenario(path)
        if only and sc.district_code not in {c.strip()[:6] for c in only}:
            continue
        if sc.district_code in seen:
            msg = _("{path} and {seen} are both for district {district_code}; give one.").format(
                    path=path, seen=seen[sc.district_code], district_code=sc.district_code)
            raise ConfigError(msg)
        seen[sc.district_code] = path
        inputs = [s.path for s in sc.layers] + [p for p in (sc.reported_values, sc.catalogue) if p is not None]
        if sc.roads is not None and sc.roads.path is not None:
            inputs.append(sc.roads.path)
        hashes = [file_sha256(p) if p.exists() else f"missing {p}" for p in inputs]
        size = sum(p.stat().st_size for p in inputs if p.exists())
        jobs.append(DistrictJob(sc.district_code, sc.name, out / sc.district_code,
                                _hash([_version(), path.read_text(encoding="utf-8"), *hashes]), scenario=path,
                                size=size))
    return sorted(jobs, key=lambda j: (-j.size, j.code))


def _is_region_file(path: Path) -> bool:
    """A TOML file with a ``[region]`` table (a folder of scenarios may hold one; it is not a scenario)."""
    try:
        return "region" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def _marker(job: DistrictJob) -> dict[str, Any] | None:
    try:
        found = json.loads((job.folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _unchanged(job: DistrictJob) -> DistrictOutcome | None:
    """The district's last outcome when it completed with the same inputs (and its files are still there)."""
    found = _marker(job)
    if not found or found.get("status") != "done" or found.get("inputs_hash") != job.inputs_hash:
        return None
    files = tuple(str(f) for f in found.get("files", []))
    if not all((job.folder / f).exists() for f in files):
        return None
    return DistrictOutcome(job.code, job.name, "skipped", job.folder, seconds=dict(found.get("seconds", {})),
                           files=files)


def run_district(
    job: DistrictJob, *, write: DistrictWriter, threads: int | None = None,
    catalogue_files: tuple[Path, ...] = (),
) -> DistrictOutcome:
    """Run one district: generate its scenario (region jobs), import its layers into a fresh workspace, run the
    plan, write its outputs with `write`, then the marker. Never raises: a failure is returned as an outcome with
    its error, so the other districts of a batch complete.

    Parameters
    ----------
    job : DistrictJob
        A region job with a road file clips its roads from this process's copy of it
        (:func:`~gisplan.workflows.engine.shared_roads`).
    write : DistrictWriter
        Writes the district's outputs.
    threads : int, optional
        Worker threads the numerical kernels of this task may use; default ``GISPLAN_THREADS`` of the process
        that runs it, else 1 (a worker of an existing cluster shares its machine with other workers).
    catalogue_files : tuple of Path
        Extra facility-type catalogues.
    """
    laps, cpu = Laps(), time.process_time()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    (job.folder / MARKER).unlink(missing_ok=True)
    try:
        n_threads = threads if threads is not None else (
            settings.thread_count() if os.environ.get(settings.THREADS_ENV, "").strip() else 1)
        with settings.threads(n_threads):
            roads, fresh = read_shared_roads(job.region.roads, job.roads_sha256) \
                if job.region is not None and job.region.roads is not None and job.roads_sha256 else (None, False)
            if fresh:
                laps.lap(ROADS_STAGE)
            scenario_path = job.scenario if job.scenario is not None else _generate(job, roads)
            laps.lap("generate")
            sc = load_scenario(scenario_path)
            workspace_path = job.folder / "work" / f"{job.code}.gpkg"
            shutil.rmtree(workspace_path.parent, ignore_errors=True)  # a fresh workspace: no stale layers
            ws = open_workspace(workspace_path)
            cat = load_catalogue(*([sc.catalogue] if sc.catalogue else []), *catalogue_files)
            check_scenario_types(sc, cat)
            import_scenario(sc, ws, cat)
            laps.lap("import")
            result = run_scenario(ws, sc, cat, propose=True)
            laps.lap("run", result.seconds)
            shutil.rmtree(job.results, ignore_errors=True)
            files = write(result, out_dir=job.results, workspace=ws, scenario=sc, catalogue=cat)
            laps.lap("write")
    except Exception as exc:  # a district's failure is reported; the batch goes on
        logger.warning("district %s %s failed: %s", job.code, job.name, exc)
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        logger.debug("district %s traceback:\n%s", job.code, traceback.format_exc())
        failed = {"status": "failed", "inputs_hash": job.inputs_hash, "error": detail}
        job.folder.mkdir(parents=True, exist_ok=True)
        (job.folder / MARKER).write_text(json.dumps(failed, ensure_ascii=False, indent=1), encoding="utf-8")
        return DistrictOutcome(job.code, job.name, "failed", job.folder, error=detail, seconds=laps.stages,
                               worker=worker, peak_rss_mb=peak_rss_mb(), cpu_s=time.process_time() - cpu)
    rel = tuple(os.path.relpath(f, job.folder) for f in files)
    marker = {"status": "done", "inputs_hash": job.inputs_hash, "seconds": laps.stages, "files": list(rel)}
    tmp = job.folder / f".{MARKER}.tmp"
    tmp.write_text(json.dumps(marker, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(job.folder / MARKER)  # last: a crash before here leaves the district to be run again
    return DistrictOutcome(job.code, job.name, "done", job.folder, seconds=laps.stages, worker=worker,
                           peak_rss_mb=peak_rss_mb(), files=rel, cpu_s=time.process_time() - cpu)


def _generate(job: DistrictJob, roads: gpd.GeoDataFrame | None) -> Path:
    """Write a region job's scenario folder: real outline and gazetteer, 示意 layers, its clipped roads."""
    region, data = job.region, job.data
    if region is None or data is None:
        msg = _("district {code}: a job needs a scenario file or region data.").format(code=job.code)
        raise ConfigError(msg)
    clipped = clip_roads(roads, data.outline, buffer_m=region.road_buffer_m, system=region.roads_crs or "wgs84") \
        if roads is not None else None
    return write_district_scenario(
        data, job.folder / "scenario", template=region.template, illustrative=region.illustrative, seed=region.seed,
        roads=clipped, roads_crs=region.roads_crs if clipped is not None else None,
        osm_fallback=region.osm_fallback, workspace=job.folder / "work" / f"{job.code}.gpkg")


def run_batch(
    jobs: Sequence[DistrictJob],
    *,
    write: DistrictWriter,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    catalogue_files: tuple[Path, ...] = (),
    progress: ProgressSink = silent,
) -> BatchResult:
    """Run every job: in this process (default), on a ``LocalCluster`` of `workers` processes, or on the Dask
    cluster at `scheduler`.

    Parameters
    ----------
    jobs : sequence of DistrictJob
    write : DistrictWriter
        Writes each district's outputs (module-level, so Dask can ship it). The workers write them; only a small
        :class:`DistrictOutcome` comes back.
    workers : int, optional
        Start a ``distributed.LocalCluster`` with this many worker processes of one task each; each task's
        kernels use cores ÷ workers threads (at least 1), and the workers' OpenMP/BLAS pools as many.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``); its workers must import gisplan and reach
        the same paths. Tasks use 1 kernel thread unless the workers' ``GISPLAN_THREADS`` says otherwise.
    force : bool
        Run districts whose inputs are unchanged too.
    catalogue_files : tuple of Path
        Extra facility-type catalogues.
    progress : ProgressSink
        Receives a ``batch`` tick when the batch starts and whenever a district ends.

    Raises
    ------
    ConfigError
        If both `workers` and `scheduler` are given, or `workers` < 1.
    ImportError
        If a Dask engine is asked for and ``distributed`` is not installed.
    """
    if workers is not None and scheduler is not None:
        msg = _("give either --workers (a LocalCluster) or --scheduler (an existing cluster), not both.")
        raise ConfigError(msg)
    if workers is not None and workers < 1:
        msg = _("--workers must be at least 1 (got {workers}).").format(workers=workers)
        raise ConfigError(msg)
    start = time.perf_counter()
    kept = {j.code: o for j in jobs if not force and (o := _unchanged(j)) is not None}
    todo = [j for j in jobs if j.code not in kept]
    if workers is None and scheduler is None:
        engine = "in-process"
        board = Board(len(jobs), 1, len(kept), progress)
        ran = {}
        for job in todo:
            ran[job.code] = run_district(job, write=write, threads=settings.thread_count(),
                                         catalogue_files=catalogue_files)
            board.record(ran[job.code])
    else:
        engine, ran = _run_dask(todo, write=write, workers=workers, scheduler=scheduler,
                                catalogue_files=catalogue_files, progress=progress, skipped=len(kept),
                                total=len(jobs))
    outcomes = tuple(kept.get(j.code) or ran[j.code] for j in jobs)
    return BatchResult(outcomes, engine, time.perf_counter() - start)


def _run_dask(
    todo: Sequence[DistrictJob], *, write: DistrictWriter, workers: int | None,
    scheduler: str | None, catalogue_files: tuple[Path, ...], progress: ProgressSink, skipped: int, total: int,
) -> tuple[str, dict[str, DistrictOutcome]]:
    dd = distributed()
    cluster, client, slots, threads, engine = open_client(dd, workers=workers, scheduler=scheduler)
    ran: dict[str, DistrictOutcome] = {}
    try:
        board = Board(total, slots, skipped, progress)
        # largest first (the jobs come sorted): a higher priority runs earlier, so no big district starts last
        futures = {client.submit(run_district, job, write=write, threads=threads, catalogue_files=catalogue_files,
                                 key=f"district-{job.code}", pure=False, priority=len(todo) - i): job
                   for i, job in enumerate(todo)}
        for future in dd.as_completed(list(futures)):
            job = futures[future]
            if future.status == "finished":
                outcome = future.result()
            else:  # the worker died (memory, a crash): the district is reported, the others go on
                err = future.exception()
                outcome = DistrictOutcome(job.code, job.name, "failed", job.folder,
                                          error=f"{type(err).__name__}: {err}")
            ran[job.code] = outcome
            board.record(outcome)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return engine, ran



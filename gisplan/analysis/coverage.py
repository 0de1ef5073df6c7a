"""Coverage of every facility type for every demand point, and its totals per district, township and village.

This ties the network engine together: snap demand and facilities per travel profile, run one
multi-source search per facility type, and add up covered population, households and persons 60+
at each type's threshold and at the reporting bands (5/10/15/20 min). The straight-line method
(service radius) is a separate, labelled method with the same outputs.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan import settings
from gisplan.analysis.demand import WEIGHTS
from gisplan.divisions import division_code_at
from gisplan.errors import CRSError
from gisplan.i18n import _
from gisplan.network.graph import edge_minutes
from gisplan.network.routing import (
    Nearest,
    Reach,
    demand_minutes,
    place_demand,
    reach_from_facilities,
    reached_lines,
    service_area_polygons,
    straight_line_nearest,
)
from gisplan.network.snapping import snap_index, snap_points
from gisplan.progress import ProgressSink, Tick, silent

if TYPE_CHECKING:
    from collections.abc import Mapping

    from numpy.typing import NDArray

    from gisplan.catalogue import Profile
    from gisplan.network.graph import NetworkReport, RoadNetwork
    from gisplan.network.snapping import EdgeSnap

__all__ = ["METHOD_LABELS", "CoverageResult", "TypeTarget", "assign_units", "measure_coverage", "unit_totals"]

logger = logging.getLogger(__name__)

METHOD_LABELS = {
    "network": "network travel time (路网通行时间)",
    "straight_line": "straight-line service radius (直线服务半径, not network)",
}


@dataclass(frozen=True, slots=True)
class TypeTarget:
    """What to measure for one facility type: its facilities, profile and threshold."""

    type_id: str
    name_zh: str
    facilities: gpd.GeoDataFrame
    profile: Profile
    threshold_minutes: float


@dataclass(frozen=True, slots=True, eq=False)
class CoverageResult:
    """Everything :func:`measure_coverage` found.

    Attributes
    ----------
    method : str
        ``network`` or ``straight_line``.
    demand : geopandas.GeoDataFrame
        The demand points with, per type, ``minutes_<type>`` (or ``distance_m_<type>``),
        ``facility_<type>`` (nearest facility id) and ``covered_<type>`` (at the type's threshold),
        plus ``access_m`` and ``snapped`` for the first profile used.
    units : pandas.DataFrame
        Long form: one row per level, unit, type and threshold (see :func:`unit_totals`).
    areas : geopandas.GeoDataFrame
        Display polygons of the reached area per type at its threshold (network method only).
    facilities : pandas.DataFrame
        Per type: facilities given, snapped to a road, and left off (beyond the snapping distance).
    network : NetworkReport or None
    seconds : dict of str to float
        Time per stage.
    type_thresholds : dict of str to float
        Each type's own threshold (minutes, or the radius in metres for the straight-line method).
    demand_snaps : tuple of (Profile, float, EdgeSnap)
        Network method: `demand`'s points snapped onto the roads each travel profile may use, with the maximum
        snapping distance (metres); the proposals search from them instead of snapping the points again
        (:meth:`demand_snap`).
    """

    method: str
    demand: gpd.GeoDataFrame
    units: pd.DataFrame
    areas: gpd.GeoDataFrame
    facilities: pd.DataFrame
    network: NetworkReport | None
    seconds: dict[str, float] = field(default_factory=dict)
    type_thresholds: dict[str, float] = field(default_factory=dict)
    demand_snaps: tuple[tuple[Profile, float, EdgeSnap], ...] = ()

    def demand_snap(self, profile: Profile, max_snap_m: float) -> EdgeSnap | None:
        """`demand`'s points snapped for `profile` within `max_snap_m` as the coverage did, or None."""
        return next((snap for p, m, snap in self.demand_snaps if p == profile and m == max_snap_m), None)


# one measured type: its target, the nearest facility of every point, its facilities' indices into the
# profile's facility snaps, and the thresholds to report
_Found = tuple[TypeTarget, Nearest, "NDArray[np.int64]", list[float]]


def assign_units(
    demand: gpd.GeoDataFrame,
    *,
    townships: gpd.GeoDataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Fill missing ``township_code12`` / ``code12`` of demand points from the polygons they fall in."""
    out = demand.copy()
    if out.crs is None:
        msg = _("`demand` has no CRS; build it with gisplan.demand (planning CRS).")
        raise CRSError(msg)
    for column, polys in (("township_code12", townships), ("code12", villages)):
        if polys is None or len(polys) == 0:
            continue
        missing = out[column].isna().to_numpy()
        if not missing.any():
            continue
        values = out[column].to_numpy(dtype=object).copy()
        points = gpd.GeoSeries(out.geometry.to_numpy()[missing], crs=out.crs)
        values[np.flatnonzero(missing)] = division_code_at(points, polys)
        out[column] = values
    if "township_code12" in out and out["township_code12"].isna().any() and out["code12"].notna().any():
        code = out["code12"].astype("string")
        guess = (code.str.slice(0, 9) + "000").where(code.str.len() == 12)
        out["township_code12"] = out["township_code12"].where(out["township_code12"].notna(), guess).astype(object)
    return out


def _unit_levels(demand: pd.DataFrame, district_code: str) -> list[tuple[str, NDArray[np.int64], pd.Index]]:
    """Each level (district, township, village) present: its name, every point's unit (-1: no code) and
    the units' codes."""
    levels: list[tuple[str, NDArray[np.int64], pd.Index]] = [
        ("district", np.zeros(len(demand), dtype=np.int64), pd.Index([district_code], dtype=object))]
    for level, column in (("township", "township_code12"), ("village", "code12")):
        if column in demand and demand[column].notna().any():
            # factorize the column as it is (no object copy); -1 marks a missing code
            codes, uniques = pd.factorize(demand[column], sort=True)
            levels.append((level, np.asarray(codes, dtype=np.int64), pd.Index(uniques, dtype=object)))
    return levels


def unit_totals(
    demand: pd.DataFrame,
    covered: Mapping[tuple[str, float], NDArray[np.int64] | NDArray[np.bool_]],
    reachable: NDArray[np.bool_],
    *,
    names: Mapping[str, str] | None = None,
    district_code: str = "",
    method: str = "network",
) -> pd.DataFrame:
    """Covered population, households and 60+ per district, township and village.

    Parameters
    ----------
    demand : pandas.DataFrame
        Demand points with the weight columns, ``township_code12`` and ``code12``.
    covered : mapping of (type id, threshold) to int or bool array
        The covered demand points: their indices (row positions), or a mask over every point. The
        threshold is minutes (network) or metres (straight line).
    reachable : ndarray of bool
        Whether each point reached a road (False: beyond the snapping distance).
    names : mapping of code12 to name, optional
    district_code : str
        12-digit code of the district row.

    Returns
    -------
    pandas.DataFrame
        Columns ``level, code12, name, facility_type, threshold, threshold_unit, method`` and, for
        each weight, ``<w>``, ``<w>_covered``, ``<w>_share`` and (population only)
        ``population_unreachable``. Shares of units with a zero total are NaN, never inf.
    """
    names = names or {}
    combos = list(covered)
    if not combos:
        return pd.DataFrame()
    levels = _unit_levels(demand, district_code)
    weights = {w: demand[w].to_numpy(dtype=float) for w in WEIGHTS if w in demand}
    clean = {w: np.nan_to_num(v) for w, v in weights.items()}
    known = {w: ~np.isnan(v) for w, v in weights.items()}
    unreachable_pop = clean.get("population", np.zeros(len(demand))) * ~np.asarray(reachable, dtype=bool)
    # the covered points of each combination, as row positions (only those are read below)
    hits = [np.flatnonzero(f) if f.dtype == bool else np.asarray(f, dtype=np.int64)
            for f in (np.asarray(covered[c]) for c in combos)]
    n_combo = len(combos)
    thresholds = np.array([float(c[1]) for c in combos])
    type_names = pd.Index(sorted({c[0] for c in combos}), dtype=object)
    combo_type = type_names.get_indexer(pd.Index([c[0] for c in combos], dtype=object))
    # every number goes straight into one block (a row per column), so the frame is made without copies
    numbers = ["threshold", *(f"{w}{suffix}" for w in weights for suffix in ("", "_covered", "_share")),
               "population_unreachable"]
    n_rows = n_combo * sum(len(uniques) for _, _, uniques in levels)
    block = np.empty((len(numbers), n_rows))
    by_name = dict(zip(numbers, block, strict=True))
    level_of = np.empty(n_rows, dtype=np.int64)
    unit_of = np.empty(n_rows, dtype=np.int64)  # into the codes of every level, end to end
    type_of = np.empty(n_rows, dtype=np.int64)
    all_codes, all_names = [], []
    row = unit_base = 0
    for i, (_level, keys, uniques) in enumerate(levels):
        n_units = len(uniques)
        rows = slice(row, row + n_combo * n_units)
        row = rows.stop
        bins = keys + 1  # bin 0 collects the points without a code at this level; it is dropped

        def per_unit(values: NDArray[Any], at: NDArray[np.int64] | None = None, *, n: int = n_units,
                     b: NDArray[np.int64] = bins) -> NDArray[np.float64]:
            counts = np.bincount(b if at is None else b[at], values if at is None else values[at], n + 1)
            return np.asarray(counts[1:], dtype=np.float64)

        def grid(name: str, rows: slice = rows, n_units: int = n_units) -> NDArray[np.float64]:
            return by_name[name][rows].reshape(n_combo, n_units)  # a view: combos × units

        level_of[rows] = i
        unit_of[rows] = np.tile(np.arange(unit_base, unit_base + n_units), n_combo)
        unit_base += n_units
        type_of[rows] = np.repeat(combo_type, n_units)
        all_codes.append(np.asarray(uniques, dtype=object))
        all_names.append(np.array([names.get(str(c), "") for c in uniques], dtype=object))
        grid("threshold")[:] = thresholds[:, None]
        for w in weights:
            total = np.where(per_unit(known[w].astype(float)) > 0, per_unit(clean[w]), np.nan)
            grid(w)[:] = total
            got = grid(f"{w}_covered")
            for c, hit in enumerate(hits):
                got[c] = per_unit(clean[w], hit)
            got[:, np.isnan(total)] = np.nan
            share = grid(f"{w}_share")
            share[:] = np.nan
            np.divide(got, total, out=share, where=total > 0)
        grid("population_unreachable")[:] = per_unit(unreachable_pop)
    frame = pd.DataFrame(block.T, columns=numbers, copy=False)
    # the text columns around the numbers: level, code12, name, facility_type | threshold | unit, method
    text = [
        (0, "level", pd.Series(np.array([lv for lv, _, _ in levels], dtype=object)[level_of], dtype="str")),
        # codes and names stay Python strings (object), as the tables have always given them
        (1, "code12", pd.Series(np.concatenate(all_codes)[unit_of], dtype=object)),
        (2, "name", pd.Series(np.concatenate(all_names)[unit_of], dtype=object)),
        (3, "facility_type", pd.Series(pd.Categorical.from_codes(type_of, categories=type_names))),
        (5, "threshold_unit", "min" if method == "network" else "m"),
        (6, "method", method),
    ]
    for position, name, values in text:
        frame.insert(position, name, values)
    return frame


def _id_at(ids: NDArray[np.object_], points: NDArray[np.int64], idx: NDArray[np.int64], n: int) -> pd.Categorical:
    """A categorical of `n` rows holding ``ids[idx]`` at rows `points` and missing elsewhere (no string
    per row is built)."""
    categories, codes = np.unique(ids.astype(str), return_inverse=True)
    # the smallest code type pandas would pick anyway: no second copy of a million codes
    code_type = np.int8 if len(categories) < 2**7 else np.int16 if len(categories) < 2**15 else np.int32
    mapped: NDArray[np.integer[Any]] = np.full(n, -1, dtype=code_type)
    mapped[points] = codes[idx]
    return pd.Categorical.from_codes(mapped, categories=pd.Index(categories, dtype=object))


def _ids(gdf: gpd.GeoDataFrame) -> NDArray[np.object_]:
    for column in ("facility_id", "id"):
        if column in gdf:
            return gdf[column].astype(str).to_numpy(dtype=object)
    return (np.arange(1, len(gdf) + 1)).astype(str).astype(object)


def _xy(gdf: gpd.GeoDataFrame, crs: Any) -> NDArray[np.float64]:
    if gdf.crs is None:
        msg = _("a facility layer has no CRS; import it through `gisplan layers import`.")
        raise CRSError(msg)
    geoms = gdf.to_crs(crs).geometry.to_numpy()
    return shapely.get_coordinates(shapely.point_on_surface(geoms)) if len(geoms) else np.empty((0, 2))


def _demand_columns(out: gpd.GeoDataFrame, found: list[_Found]) -> dict[tuple[str, float], NDArray[np.int64]]:
    """Add each type's ``minutes_``, ``facility_`` and ``covered_`` columns to `out` (in place) and return
    the covered points per (type, threshold)."""
    covered: dict[tuple[str, float], NDArray[np.int64]] = {}
    for tgt, near, mem, thresholds in found:
        local = near.point_facility - mem[0] if len(mem) else near.point_facility
        out[f"minutes_{tgt.type_id}"] = near.minutes
        out[f"facility_{tgt.type_id}"] = _id_at(_ids(tgt.facilities), near.points, local, len(out))
        flag = np.zeros(len(out), dtype=bool)
        flag[near.within(tgt.threshold_minutes)] = True
        out[f"covered_{tgt.type_id}"] = flag
        for th in thresholds:
            covered[(tgt.type_id, th)] = near.within(th)
    return covered


def _service_areas(
    network: RoadNetwork, jobs: list[tuple[Profile, Reach, EdgeSnap, float]], *, trim_m: float,
) -> list[shapely.Geometry]:
    """The display polygon of each (profile, reach, facility snaps, minutes): reached road, buffered and
    merged. GEOS and numpy release the GIL, so the types run on every core, largest first."""

    def area(job: tuple[Profile, Reach, EdgeSnap, float]) -> shapely.Geometry:
        profile, reach, fsnap, minutes = job
        return service_area_polygons(reached_lines(network, profile, reach, fsnap, minutes=minutes), trim_m=trim_m)

    # the reached node count predicts the work: the largest types start first, so the cores end together
    size = [int(np.isfinite(job[1].node_minutes).sum()) for job in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -size[i])
    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), settings.thread_count()))) as pool:
        merged = list(pool.map(lambda i: area(jobs[i]), order))
    geoms: list[shapely.Geometry] = [shapely.Polygon()] * len(jobs)
    for i, geom in zip(order, merged, strict=True):
        geoms[i] = geom
    return geoms


@dataclass(frozen=True, slots=True, eq=False)
class _Measured:
    """What one method found, before the per-unit totals: the demand with its new columns, the covered points
    per (type, threshold), which points reach a road, the facility and area rows, and the time per stage."""

    demand: gpd.GeoDataFrame
    covered: dict[tuple[str, float], NDArray[np.int64]]
    reachable: NDArray[np.bool_]
    facilities: list[dict[str, object]]
    areas: list[dict[str, object]]
    seconds: dict[str, float]
    snaps: tuple[tuple[Profile, float, EdgeSnap], ...] = ()


def _straight_line_coverage(demand: gpd.GeoDataFrame, targets: list[TypeTarget], *, radius_m: float) -> _Measured:
    """The straight-line (service-radius) method: the nearest facility of each type within `radius_m`."""
    out = demand.copy()
    dxy = shapely.get_coordinates(out.geometry.to_numpy())
    t0 = time.perf_counter()
    covered: dict[tuple[str, float], NDArray[np.int64]] = {}
    fac_rows: list[dict[str, object]] = []
    for tgt in targets:
        fxy = _xy(tgt.facilities, out.crs)
        dist, idx = straight_line_nearest(dxy, fxy, radius_m=radius_m)
        ids = _ids(tgt.facilities)
        out[f"distance_m_{tgt.type_id}"] = dist
        hit = np.flatnonzero(idx >= 0)
        out[f"facility_{tgt.type_id}"] = _id_at(ids, hit, idx[hit], len(out))
        out[f"covered_{tgt.type_id}"] = idx >= 0
        covered[(tgt.type_id, radius_m)] = hit
        fac_rows.append({"facility_type": tgt.type_id, "given": len(fxy), "snapped": len(fxy), "unsnapped": 0})
    return _Measured(out, covered, np.ones(len(out), dtype=bool), fac_rows, [],
                     {"coverage": time.perf_counter() - t0})


@dataclass(frozen=True, slots=True, eq=False)
class _ProfileRun:
    """The types of one travel profile, measured: demand and facility snaps, each type's result and reach."""

    profile: Profile
    dsnap: EdgeSnap
    fsnap: EdgeSnap
    found: list[_Found]
    reaches: tuple[Reach, ...]
    snap_s: float
    coverage_s: float


def _profile_coverage(
    network: RoadNetwork, group: list[TypeTarget], dxy: NDArray[np.float64], *,
    bands_minutes: tuple[float, ...], max_snap_m: float, progress: ProgressSink, done: int, total: int,
) -> _ProfileRun:
    """Snap the demand and the facilities of every type in `group` (one profile) onto the roads that profile
    may use, run one multi-source search per type, and read every point's minutes from it."""
    profile = group[0].profile
    progress(Tick("coverage", done, total, profile.id))  # snapping and the searches come before the first type
    t0 = time.perf_counter()
    usable = ~np.isnan(edge_minutes(network, profile))
    index = snap_index(network, usable=usable)
    dsnap = snap_points(index, dxy[:, 0], dxy[:, 1], max_snap_m=max_snap_m)
    fxys = [_xy(t.facilities, network.crs) for t in group]
    all_fxy = np.concatenate(fxys) if fxys else np.empty((0, 2))
    fsnap = snap_points(index, all_fxy[:, 0], all_fxy[:, 1], max_snap_m=max_snap_m)
    del index  # hundreds of MB on a city network: freed before the searches and polygons reuse them
    placed = place_demand(network, profile, dsnap)  # the demand on its edges, for every type
    bounds = np.cumsum([0, *(len(f) for f in fxys)])
    members = [np.arange(bounds[i], bounds[i + 1]) for i in range(len(group))]
    snap_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    thresholds = {t.type_id: sorted({*bands_minutes, t.threshold_minutes}) for t in group}
    cutoff = max(max(v) for v in thresholds.values())
    reaches = reach_from_facilities(network, profile, fsnap, members, cutoff_minutes=cutoff)
    found: list[_Found] = []
    steps = zip(group, reaches, members, strict=True)
    for k, (tgt, reach, mem) in enumerate(steps):
        progress(Tick("coverage", done + k, total, tgt.type_id))
        near = demand_minutes(network, profile, reach, dsnap, fsnap, placed=placed)
        found.append((tgt, near, mem, thresholds[tgt.type_id]))
    return _ProfileRun(profile, dsnap, fsnap, found, reaches, snap_s, time.perf_counter() - t0)


def _network_coverage(
    demand: gpd.GeoDataFrame, targets: list[TypeTarget], network: RoadNetwork, *,
    bands_minutes: tuple[float, ...], max_snap_m: float, trim_m: float, polygons: bool, progress: ProgressSink,
) -> _Measured:
    """The network method: each travel profile's types measured together, then the display polygons, then
    each type's columns on the demand."""
    out = demand.copy()
    dxy = shapely.get_coordinates(out.geometry.to_numpy())
    by_profile: dict[str, list[TypeTarget]] = {}
    for tgt in targets:
        by_profile.setdefault(tgt.profile.id, []).append(tgt)
    seconds = {"snap": 0.0, "coverage": 0.0, "polygons": 0.0}
    reachable = np.ones(len(out), dtype=bool)
    found: list[_Found] = []
    fac_rows: list[dict[str, object]] = []
    area_rows: list[dict[str, object]] = []
    jobs: list[tuple[Profile, Reach, EdgeSnap, float]] = []
    snaps: list[tuple[Profile, float, EdgeSnap]] = []
    for n, group in enumerate(by_profile.values()):
        run = _profile_coverage(network, group, dxy, bands_minutes=bands_minutes, max_snap_m=max_snap_m,
                                progress=progress, done=len(found), total=len(targets))
        snaps.append((run.profile, float(max_snap_m), run.dsnap))
        seconds["snap"] += run.snap_s
        seconds["coverage"] += run.coverage_s
        if n == 0:  # the first profile's snap is the one reported per point
            out["snapped"] = run.dsnap.snapped
            out["access_m"] = run.dsnap.access_m
            reachable = run.dsnap.snapped
        found += run.found
        for (tgt, _key, mem, _extra), reach in zip(run.found, run.reaches, strict=True):
            snapped = int(run.fsnap.snapped[mem].sum()) if len(mem) else 0
            fac_rows.append({"facility_type": tgt.type_id, "given": len(mem), "snapped": snapped,
                             "unsnapped": len(mem) - snapped})
            if polygons:
                jobs.append((run.profile, reach, run.fsnap, tgt.threshold_minutes))
                area_rows.append({"facility_type": tgt.type_id, "name_zh": tgt.name_zh,
                                  "minutes": tgt.threshold_minutes, "profile": run.profile.id})
    progress(Tick("coverage", len(found), len(targets)))
    t0 = time.perf_counter()
    if jobs:
        progress(Tick("service areas", 0, len(jobs)))
        for row, geom in zip(area_rows, _service_areas(network, jobs, trim_m=trim_m), strict=True):
            row["geometry"] = geom
        progress(Tick("service areas", len(jobs), len(jobs)))
    seconds["polygons"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    covered = _demand_columns(out, found)
    seconds["aggregate"] = time.perf_counter() - t0
    return _Measured(out, covered, reachable, fac_rows, area_rows, seconds, tuple(snaps))


def measure_coverage(  # noqa: PLR0913 - keyword-only layers and options
    demand: gpd.GeoDataFrame,
    targets: list[TypeTarget],
    *,
    network: RoadNetwork | None,
    method: str = "network",
    bands_minutes: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0),
    max_snap_m: float = settings.MAX_SNAP_M,
    radius_m: float = settings.RADIUS_M,
    trim_m: float = settings.TRIM_M,
    polygons: bool = True,
    names: Mapping[str, str] | None = None,
    district_code: str = "",
    progress: ProgressSink = silent,
) -> CoverageResult:
    """Nearest-facility minutes for every demand point and type, and the per-unit totals.

    Parameters
    ----------
    demand : geopandas.GeoDataFrame
        Demand points in the planning CRS (:mod:`gisplan.demand`), with unit codes.
    targets : list of TypeTarget
        The facility types to measure.
    network : RoadNetwork or None
        Required for ``method="network"``.
    method : {"network", "straight_line"}
    bands_minutes : tuple of float
        Reporting thresholds besides each type's own.
    max_snap_m : float
        Demand farther than this from a usable road is unreachable (counted, never dropped).
    radius_m : float
        Service radius of the straight-line method.
    trim_m : float
        Buffer of the display polygons.
    polygons : bool
        Build the display polygons.
    names : mapping of code12 to name, optional
        Unit names for the tables.
    district_code : str
        12-digit code of the district row of the tables.
    progress : ProgressSink
        Told of every facility type measured (stage ``coverage``) and of the service areas drawn.

    Returns
    -------
    CoverageResult

    Raises
    ------
    CRSError
        If `demand` is not projected, or not in the network's CRS.
    """
    if demand.crs is None or not demand.crs.is_projected:
        msg = (_("`demand` must be in a projected CRS in metres (got {crs}); build it with gisplan.demand or call "
                 "gisplan.crs.to_planning_crs first.").format(crs=demand.crs))
        raise CRSError(msg)
    if network is not None and method == "network" and not demand.crs.equals(network.crs):
        msg = _("`demand` is in {demand_crs} but the network in {network_crs}; use one CRS.").format(
                demand_crs=demand.crs.to_string(), network_crs=network.crs.to_string())
        raise CRSError(msg)
    if method == "straight_line":
        measured = _straight_line_coverage(demand, targets, radius_m=radius_m)
    elif network is None:
        msg = _("the network method needs a road network; give roads, or choose method = \"straight_line\".")
        raise ValueError(msg)
    else:
        measured = _network_coverage(demand, targets, network, bands_minutes=bands_minutes, max_snap_m=max_snap_m,
                                     trim_m=trim_m, polygons=polygons, progress=progress)
    out, seconds = measured.demand, measured.seconds
    t0 = time.perf_counter()
    units = unit_totals(out, measured.covered, measured.reachable, names=names, district_code=district_code,
                        method=method)
    seconds["aggregate"] = seconds.get("aggregate", 0.0) + time.perf_counter() - t0
    areas = gpd.GeoDataFrame(pd.DataFrame(measured.areas, columns=["facility_type", "name_zh", "minutes", "profile",
                                                                   "geometry"]),
                             geometry="geometry", crs=out.crs)
    return CoverageResult(
        method=method,
        demand=out,
        units=units,
        areas=areas,
        facilities=pd.DataFrame(measured.facilities, columns=["facility_type", "given", "snapped", "unsnapped"]),
        network=network.report if network is not None and method == "network" else None,
        seconds=seconds,
        type_thresholds={t.type_id: (radius_m if method == "straight_line" else t.threshold_minutes)
                         for t in targets},
        demand_snaps=measured.snaps,
    )

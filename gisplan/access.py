"""Coverage of every facility type for every demand point, and its totals per district, township and village.

This ties the network engine together: snap demand and facilities per travel profile, run one
multi-source search per facility type, and add up covered population, households and persons 60+
at each type's threshold and at the reporting bands (5/10/15/20 min). The straight-line method
(service radius) is a separate, labelled method with the same outputs.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm import tqdm

from gisplan.coverage import (
    demand_minutes,
    place_demand,
    reach_from_facilities,
    reached_lines,
    service_area_polygons,
    straight_line_nearest,
)
from gisplan.demand import WEIGHTS
from gisplan.errors import CRSError
from gisplan.network import edge_minutes
from gisplan.snapping import snap_index, snap_points

if TYPE_CHECKING:
    from collections.abc import Mapping

    from numpy.typing import NDArray

    from gisplan.catalogue import Profile
    from gisplan.network import NetworkReport, RoadNetwork

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
    """

    method: str
    demand: gpd.GeoDataFrame
    units: pd.DataFrame
    areas: gpd.GeoDataFrame
    facilities: pd.DataFrame
    network: NetworkReport | None
    seconds: dict[str, float] = field(default_factory=dict)
    type_thresholds: dict[str, float] = field(default_factory=dict)


def assign_units(
    demand: gpd.GeoDataFrame,
    *,
    townships: gpd.GeoDataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Fill missing ``township_code12`` / ``code12`` of demand points from the polygons they fall in."""
    out = demand.copy()
    if out.crs is None:
        msg = "`demand` has no CRS; build it with gisplan.demand (planning CRS)."
        raise CRSError(msg)
    xy = shapely.get_coordinates(out.geometry.to_numpy())
    for column, polys in (("township_code12", townships), ("code12", villages)):
        if polys is None or len(polys) == 0:
            continue
        missing = out[column].isna().to_numpy()
        if not missing.any():
            continue
        geoms = polys.to_crs(out.crs).geometry.to_numpy()
        tree = shapely.STRtree(geoms)
        pts = shapely.points(xy[missing])
        p_idx, g_idx = tree.query(pts, predicate="within")
        first = np.unique(p_idx, return_index=True)[1]
        codes = np.full(int(missing.sum()), None, dtype=object)
        codes[p_idx[first]] = polys["code12"].astype(str).to_numpy(dtype=object)[g_idx[first]]
        values = out[column].to_numpy(dtype=object).copy()
        values[np.flatnonzero(missing)] = codes
        out[column] = values
    if "township_code12" in out and out["township_code12"].isna().any() and out["code12"].notna().any():
        code = out["code12"].astype("string")
        guess = (code.str.slice(0, 9) + "000").where(code.str.len() == 12)
        out["township_code12"] = out["township_code12"].where(out["township_code12"].notna(), guess).astype(object)
    return out


def unit_totals(
    demand: pd.DataFrame,
    covered: Mapping[tuple[str, float], NDArray[np.bool_]],
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
    covered : mapping of (type id, threshold) to bool array
        Whether each demand point is covered. The threshold is minutes (network) or metres
        (straight line).
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
    unit = "min" if method == "network" else "m"
    levels: list[tuple[str, NDArray[np.int64], pd.Index]] = [
        ("district", np.zeros(len(demand), dtype=np.int64), pd.Index([district_code], dtype=object))]
    for level, column in (("township", "township_code12"), ("village", "code12")):
        if column in demand and demand[column].notna().any():
            # factorize the column as it is (no object copy); -1 marks a missing code
            codes, uniques = pd.factorize(demand[column], sort=True)
            levels.append((level, np.asarray(codes, dtype=np.int64), pd.Index(uniques, dtype=object)))
    weights = {w: demand[w].to_numpy(dtype=float) for w in WEIGHTS if w in demand}
    combos = list(covered)
    n_combo = len(combos)
    frames = []
    for level, all_keys, uniques in levels:
        known = all_keys >= 0
        everyone = bool(known.all())
        key = all_keys if everyone else all_keys[known]
        n_units = len(uniques)
        clean = {w: np.nan_to_num(v if everyone else v[known]) for w, v in weights.items()}
        has = {w: np.bincount(key, ~np.isnan(v if everyone else v[known]), n_units) > 0 for w, v in weights.items()}
        totals = {w: np.where(has[w], np.bincount(key, clean[w], n_units), np.nan) for w in weights}
        pop = clean.get("population", np.zeros(len(key)))
        unreachable = np.bincount(key, pop * ~(reachable if everyone else reachable[known]), n_units)
        unit_codes = np.tile(np.arange(n_units), n_combo)
        type_names, type_codes = np.unique(np.array([c[0] for c in combos], dtype=str), return_inverse=True)
        name_cats, name_codes = np.unique(np.array([names.get(str(c), "") for c in uniques], dtype=str),
                                          return_inverse=True)
        # categoricals: no string is built per row (a municipality has tens of thousands of units)
        data: dict[str, object] = {
            "level": level,
            "code12": pd.Categorical.from_codes(unit_codes, categories=pd.Index(uniques, dtype=object)),
            "name": pd.Categorical.from_codes(name_codes[unit_codes], categories=pd.Index(name_cats, dtype=object)),
            "facility_type": pd.Categorical.from_codes(np.repeat(type_codes, n_units),
                                                       categories=pd.Index(type_names, dtype=object)),
            "threshold": np.repeat(np.array([float(c[1]) for c in combos]), n_units),
            "threshold_unit": unit,
            "method": method,
        }
        cov = {w: np.empty((n_combo, n_units)) for w in weights}
        for c, combo in enumerate(combos):
            flag = covered[combo] if everyone else covered[combo][known]
            hit = np.flatnonzero(flag)
            for w in weights:
                cov[w][c] = np.bincount(key[hit], clean[w][hit], n_units)
        for w in weights:
            total = np.tile(totals[w], n_combo)
            cov_flat = np.where(np.isnan(total), np.nan, cov[w].ravel())
            data[w] = total
            data[f"{w}_covered"] = cov_flat
            with np.errstate(invalid="ignore", divide="ignore"):
                data[f"{w}_share"] = np.where(total > 0, cov_flat / np.where(total > 0, total, 1.0), np.nan)
        data["population_unreachable"] = np.tile(unreachable, n_combo)
        frames.append(pd.DataFrame(data))
    if not frames or not combos:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def _id_at(ids: NDArray[np.object_], idx: NDArray[np.int64]) -> pd.Categorical:
    """``ids[idx]`` as a categorical (no string per row is built), missing where ``idx`` is -1."""
    categories, codes = np.unique(ids.astype(str), return_inverse=True)
    mapped = np.where(idx >= 0, codes[np.maximum(idx, 0)] if len(codes) else -1, -1)
    return pd.Categorical.from_codes(mapped, categories=pd.Index(categories, dtype=object))


def _ids(gdf: gpd.GeoDataFrame) -> NDArray[np.object_]:
    for column in ("facility_id", "id"):
        if column in gdf:
            return gdf[column].astype(str).to_numpy(dtype=object)
    return (np.arange(1, len(gdf) + 1)).astype(str).astype(object)


def _xy(gdf: gpd.GeoDataFrame, crs: Any) -> NDArray[np.float64]:
    if gdf.crs is None:
        msg = "a facility layer has no CRS; import it through `gisplan layers import`."
        raise CRSError(msg)
    geoms = gdf.to_crs(crs).geometry.to_numpy()
    return shapely.get_coordinates(shapely.point_on_surface(geoms)) if len(geoms) else np.empty((0, 2))


def measure_coverage(  # noqa: PLR0912, PLR0913, PLR0915 - one orchestration step, kept in one place
    demand: gpd.GeoDataFrame,
    targets: list[TypeTarget],
    *,
    network: RoadNetwork | None,
    method: str = "network",
    bands_minutes: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0),
    max_snap_m: float = 1000.0,
    radius_m: float = 1000.0,
    trim_m: float = 100.0,
    polygons: bool = True,
    names: Mapping[str, str] | None = None,
    district_code: str = "",
    progress: bool = False,
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
    progress : bool
        Show a progress bar over the facility types (stderr).

    Returns
    -------
    CoverageResult

    Raises
    ------
    CRSError
        If `demand` is not projected, or not in the network's CRS.
    """
    if demand.crs is None or not demand.crs.is_projected:
        msg = (f"`demand` must be in a projected CRS in metres (got {demand.crs}); build it with gisplan.demand "
               "or call gisplan.io.to_planning_crs first.")
        raise CRSError(msg)
    if network is not None and method == "network" and not demand.crs.equals(network.crs):
        msg = f"`demand` is in {demand.crs.to_string()} but the network in {network.crs.to_string()}; use one CRS."
        raise CRSError(msg)
    seconds: dict[str, float] = {}
    out = demand.copy()
    covered: dict[tuple[str, float], NDArray[np.bool_]] = {}
    fac_rows = []
    area_rows: list[dict[str, object]] = []
    reachable = np.ones(len(out), dtype=bool)
    dxy = shapely.get_coordinates(out.geometry.to_numpy())
    if method == "straight_line":
        t0 = time.perf_counter()
        for tgt in targets:
            fxy = _xy(tgt.facilities, out.crs)
            dist, idx = straight_line_nearest(dxy, fxy, radius_m=radius_m)
            ids = _ids(tgt.facilities)
            out[f"distance_m_{tgt.type_id}"] = dist
            out[f"facility_{tgt.type_id}"] = _id_at(ids, idx)
            out[f"covered_{tgt.type_id}"] = idx >= 0
            covered[(tgt.type_id, radius_m)] = idx >= 0
            fac_rows.append({"facility_type": tgt.type_id, "given": len(fxy), "snapped": len(fxy), "unsnapped": 0})
        seconds["coverage"] = time.perf_counter() - t0
    else:
        if network is None:
            msg = "the network method needs a road network; give roads, or choose method = \"straight_line\"."
            raise ValueError(msg)
        by_profile: dict[str, list[TypeTarget]] = {}
        for tgt in targets:
            by_profile.setdefault(tgt.profile.id, []).append(tgt)
        first = True
        seconds.update({"snap": 0.0, "coverage": 0.0, "polygons": 0.0})
        for group in by_profile.values():
            profile = group[0].profile
            t0 = time.perf_counter()
            usable = ~np.isnan(edge_minutes(network, profile))
            index = snap_index(network, usable=usable)
            dsnap = snap_points(index, dxy[:, 0], dxy[:, 1], max_snap_m=max_snap_m)
            fxys = [_xy(t.facilities, network.crs) for t in group]
            all_fxy = np.concatenate(fxys) if fxys else np.empty((0, 2))
            fsnap = snap_points(index, all_fxy[:, 0], all_fxy[:, 1], max_snap_m=max_snap_m)
            del index  # hundreds of MB on a city network: freed before the searches and polygons reuse them
            bounds = np.cumsum([0, *(len(f) for f in fxys)])
            members = [np.arange(bounds[i], bounds[i + 1]) for i in range(len(group))]
            seconds["snap"] += time.perf_counter() - t0
            if first:
                out["snapped"] = dsnap.snapped
                out["access_m"] = dsnap.access_m
                reachable = dsnap.snapped
                first = False
            t0 = time.perf_counter()
            thresholds = {t.type_id: sorted({*bands_minutes, t.threshold_minutes}) for t in group}
            cutoff = max(max(v) for v in thresholds.values())
            reaches = reach_from_facilities(network, profile, fsnap, members, cutoff_minutes=cutoff)
            placed = place_demand(network, profile, dsnap)
            steps = zip(group, reaches, members, strict=True)
            for tgt, reach, mem in tqdm(steps, total=len(group), desc=f"coverage ({profile.id})", unit="type",
                                        disable=not progress):
                near = demand_minutes(network, profile, reach, dsnap, fsnap, placed=placed)
                ids = _ids(tgt.facilities)
                local = near.facility - mem[0] if len(mem) else near.facility
                out[f"minutes_{tgt.type_id}"] = near.minutes
                out[f"facility_{tgt.type_id}"] = _id_at(ids, np.where(near.facility >= 0, local, -1))
                out[f"covered_{tgt.type_id}"] = near.minutes <= tgt.threshold_minutes
                for th in thresholds[tgt.type_id]:
                    covered[(tgt.type_id, th)] = near.minutes <= th  # NaN compares False
                snapped = int(fsnap.snapped[mem].sum()) if len(mem) else 0
                fac_rows.append({"facility_type": tgt.type_id, "given": len(mem), "snapped": snapped,
                                 "unsnapped": len(mem) - snapped})
                if polygons:
                    t1 = time.perf_counter()
                    lines = reached_lines(network, profile, reach, fsnap, minutes=tgt.threshold_minutes)
                    area_rows.append({
                        "facility_type": tgt.type_id, "name_zh": tgt.name_zh, "minutes": tgt.threshold_minutes,
                        "profile": profile.id, "geometry": lines,
                    })
                    seconds["polygons"] += time.perf_counter() - t1
            seconds["coverage"] += time.perf_counter() - t0
        seconds["coverage"] -= seconds["polygons"]
        t0 = time.perf_counter()
        # GEOS releases the GIL: merge the types' buffers on every core, largest first (balanced cores)
        lines_of: list[NDArray[np.object_]] = [row["geometry"] for row in area_rows]  # type: ignore[misc]
        largest_first = sorted(range(len(lines_of)), key=lambda i: -len(lines_of[i]))
        with ThreadPoolExecutor(max_workers=max(1, min(len(area_rows), os.cpu_count() or 1))) as pool:
            merged = list(pool.map(lambda i: service_area_polygons(lines_of[i], trim_m=trim_m), largest_first))
        for i, geom in zip(largest_first, merged, strict=True):
            area_rows[i]["geometry"] = geom
        seconds["polygons"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    units = unit_totals(out, covered, reachable, names=names, district_code=district_code, method=method)
    seconds["aggregate"] = time.perf_counter() - t0
    areas = gpd.GeoDataFrame(pd.DataFrame(area_rows, columns=["facility_type", "name_zh", "minutes", "profile",
                                                              "geometry"]),
                             geometry="geometry", crs=out.crs)
    return CoverageResult(
        method=method,
        demand=out,
        units=units,
        areas=areas,
        facilities=pd.DataFrame(fac_rows, columns=["facility_type", "given", "snapped", "unsnapped"]),
        network=network.report if network is not None and method == "network" else None,
        seconds=seconds,
        type_thresholds={t.type_id: (radius_m if method == "straight_line" else t.threshold_minutes)
                         for t in targets},
    )

"""Gaps: where residents are not covered, grouped into contiguous areas, and divisions lacking a facility."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from gisplan import settings
from gisplan.analysis.demand import WEIGHTS
from gisplan.analysis.indicators import administrative_coverage, existing_only
from gisplan.divisions import units_in_scope
from gisplan.i18n import _
from gisplan.vocab import CoverageKind

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gisplan.catalogue import Catalogue

__all__ = ["GAP_COLUMNS", "GAP_LACKING", "GAP_NOT_COMPUTED", "admin_gaps", "coverage_gaps", "coverage_gaps_by_type"]

logger = logging.getLogger(__name__)

GAP_COLUMNS = ("facility_type", "rank", *WEIGHTS, "points", "township_code12", "township", "village_code12",
               "village", "area_km2")


def _top_by(key: pd.Series, weight: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """For each group, the key value carrying the most weight (None where the group has no key; on a tie the
    smallest key). The keys are summed as integer codes of their sorted values, not as Python objects."""
    out = np.full(n_groups, None, dtype=object)
    codes, uniques = pd.factorize(key.to_numpy(dtype=object), sort=True)  # code order is the values' order
    keep = codes >= 0
    if not keep.any():
        return out
    frame = pd.DataFrame({"g": group[keep], "k": codes[keep], "w": weight[keep]})
    sums = frame.groupby(["g", "k"], sort=False)["w"].sum().reset_index()
    best = sums.sort_values(["g", "w", "k"], ascending=[True, False, True]).drop_duplicates("g")
    out[best["g"].to_numpy()] = np.asarray(uniques, dtype=object)[best["k"].to_numpy()]
    return out


def coverage_gaps(
    demand: gpd.GeoDataFrame,
    *,
    type_id: str,
    link_m: float = 250.0,
    names: Mapping[str, str] | None = None,
    split_by: str | None = "code12",
) -> gpd.GeoDataFrame:
    """Uncovered demand of one facility type, grouped into contiguous areas and ranked by population.

    Parameters
    ----------
    demand : geopandas.GeoDataFrame
        Demand points in a projected CRS with ``covered_<type_id>`` (from
        :func:`gisplan.analysis.coverage.measure_coverage`), the weights, ``township_code12`` and ``code12``.
        Points beyond the snapping distance count as uncovered.
    type_id : str
    link_m : float
        Uncovered points closer than this (metres) belong to one area. Use more than the spacing of the
        demand points (100 m when spread along roads).
    names : mapping of code12 to name, optional
    split_by : str or None
        Cut areas at the boundaries of this unit column (``code12``: villages/communities), so that a
        long uncovered stretch of road is reported per village it runs through; None keeps whole
        contiguous areas.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per area, ranked (1 = most residents): ``facility_type, rank, population, households,
        pop_60plus, points, township_code12, township, village_code12, village, area_km2`` and a
        polygon (the concave hull of the points widened by ``link_m / 2``), in the demand's CRS. Areas without residents
        are left out.

    Raises
    ------
    ValueError
        If the demand lacks ``covered_<type_id>`` or is not projected.
    """
    return _one_type(demand, type_id=type_id, link_m=link_m, names=names, split_by=split_by, shapes={})


def coverage_gaps_by_type(
    demand: gpd.GeoDataFrame,
    *,
    type_ids: Sequence[str],
    link_m: float = 250.0,
    names: Mapping[str, str] | None = None,
    split_by: str | None = "code12",
) -> gpd.GeoDataFrame:
    """:func:`coverage_gaps` of each of `type_ids`, one after the other in one frame (ranked within each type).

    An area of exactly the same points as an area of a type before it gets that area's polygon without drawing it
    again: the types with few facilities leave most of a district uncovered, and their areas are largely the same
    (on 永川's four types the concave hulls were 80 % of the time).

    Raises
    ------
    ValueError
        As :func:`coverage_gaps`.
    """
    shapes: dict[bytes, tuple[shapely.Geometry, float]] = {}
    frames = [_one_type(demand, type_id=t, link_m=link_m, names=names, split_by=split_by, shapes=shapes)
              for t in type_ids]
    if not frames:
        return gpd.GeoDataFrame(pd.DataFrame(columns=list(GAP_COLUMNS)), geometry=[], crs=demand.crs)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=demand.crs)


def _one_type(
    demand: gpd.GeoDataFrame, *, type_id: str, link_m: float, names: Mapping[str, str] | None,
    split_by: str | None, shapes: dict[bytes, tuple[shapely.Geometry, float]],
) -> gpd.GeoDataFrame:
    """:func:`coverage_gaps`, taking the polygon and area of an area from `shapes` (keyed by its points' rows in
    `demand`) when an earlier type drew it, and adding those it draws."""
    column = f"covered_{type_id}"
    if column not in demand:
        msg = _("`demand` has no `{column}` column; run gisplan.analysis.coverage.measure_coverage for {type_id} "
                "first.").format(column=column, type_id=type_id)
        raise ValueError(msg)
    if demand.crs is None or not demand.crs.is_projected:
        msg = _("`demand` must be in a projected CRS in metres.")
        raise ValueError(msg)
    names = names or {}
    # only the columns read below: a copy of every type's minutes and facilities is most of the work otherwise
    wanted = [c for c in (*WEIGHTS, "township_code12", "code12", split_by) if c is not None and c in demand]
    uncovered = ~demand[column].fillna(value=False).astype(bool).to_numpy()
    gaps = pd.DataFrame({c: demand[c].to_numpy()[uncovered] for c in dict.fromkeys(wanted)})
    points = demand.geometry.to_numpy()[uncovered]
    xy = shapely.get_coordinates(points)
    n = len(gaps)
    empty = gpd.GeoDataFrame(pd.DataFrame(columns=list(GAP_COLUMNS)), geometry=[], crs=demand.crs)
    if n == 0:
        return empty
    pairs = cKDTree(xy).query_pairs(link_m, output_type="ndarray")
    adj = sparse.coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    n_areas, area = csgraph.connected_components(adj, directed=False)
    if split_by is not None and split_by in gaps and gaps[split_by].notna().any():
        unit = pd.factorize(gaps[split_by].astype(object).to_numpy())[0]  # -1 where unknown
        area, uniques = pd.factorize(pd.Series(area.astype(np.int64) * (int(unit.max()) + 2) + unit + 1))
        area = np.asarray(area, dtype=np.int64)
        n_areas = len(uniques)
    weights = {w: np.nan_to_num(gaps[w].to_numpy(dtype=float)) if w in gaps else np.zeros(n) for w in WEIGHTS}
    pop = weights["population"] if "population" in gaps else weights["households"]
    data: dict[str, object] = {"facility_type": type_id}
    for w in WEIGHTS:
        data[w] = np.bincount(area, weights[w], n_areas) if w in gaps else np.full(n_areas, np.nan)
    data["points"] = np.bincount(area, minlength=n_areas)
    town = _top_by(gaps["township_code12"] if "township_code12" in gaps else pd.Series([None] * n), pop, area,
                   n_areas)
    village = _top_by(gaps["code12"] if "code12" in gaps else pd.Series([None] * n), pop, area, n_areas)
    data["township_code12"] = town
    data["township"] = [names.get(str(c), "") if c is not None else "" for c in town]
    data["village_code12"] = village
    data["village"] = [names.get(str(c), "") if c is not None else "" for c in village]
    blobs, data["area_km2"] = _polygons(xy, area, np.flatnonzero(uncovered), n_areas, link_m=link_m, shapes=shapes)
    out = gpd.GeoDataFrame(pd.DataFrame(data), geometry=blobs, crs=demand.crs)
    ranking = np.asarray(data["population"] if "population" in gaps else data["households"], dtype=float)
    out = out[ranking > 0].assign(_w=ranking[ranking > 0]).sort_values(["_w", "points"], ascending=False)
    out = out.drop(columns="_w").reset_index(drop=True)
    out.insert(1, "rank", np.arange(1, len(out) + 1))
    logger.info("coverage_gaps: %s: %d uncovered areas", type_id, len(out))
    return out


def _polygons(
    xy: np.ndarray, area: np.ndarray, rows: np.ndarray, n_areas: int, *, link_m: float,
    shapes: dict[bytes, tuple[shapely.Geometry, float]],
) -> tuple[np.ndarray, np.ndarray]:
    """The polygon and km² of each area of the points `xy` (`area`: each point's area; `rows`: its row in the
    demand). Each area's points, in order, name its polygon in `shapes`: one drawn before is taken as it was, the
    others are drawn and added."""
    order = np.argsort(area, kind="stable")
    sorted_area = area[order]
    starts = np.searchsorted(sorted_area, np.arange(n_areas))
    keys = [part.tobytes() for part in np.split(rows[order], starts[1:])]
    todo = np.array([k not in shapes for k in keys], dtype=bool)
    if todo.any():
        pick = todo[sorted_area]
        new_index = np.cumsum(todo) - 1  # the areas to draw, numbered 0, 1, … in order
        # a concave hull of each area's points, widened by half the link distance (buffering the points
        # themselves would merge thousands of circles per area)
        clouds = shapely.multipoints(xy[order][pick], indices=new_index[sorted_area[pick]])
        drawn = _hull_blobs(clouds, np.bincount(new_index[sorted_area[pick]]), link_m=link_m)
        new_keys = [k for k, t in zip(keys, todo, strict=True) if t]
        for key, blob, km2 in zip(new_keys, drawn, shapely.area(drawn) / 1e6, strict=True):
            shapes[key] = (blob, float(km2))
    return (np.array([shapes[k][0] for k in keys], dtype=object),
            np.array([shapes[k][1] for k in keys], dtype=float))


def _hull_blobs(clouds: np.ndarray, sizes: np.ndarray, *, link_m: float) -> np.ndarray:
    """The concave hull of each multipoint of `clouds` (`sizes`: its point counts) widened by ``link_m / 2``; GEOS
    releases the GIL, so the clouds are drawn on every core, in runs of about equal point counts."""
    n_parts = max(1, min(settings.thread_count(), len(clouds)))

    def draw(part: np.ndarray) -> np.ndarray:
        return np.asarray(shapely.buffer(shapely.concave_hull(part, ratio=0.2), link_m / 2, quad_segs=4))

    if n_parts == 1:
        return draw(clouds)
    cuts = np.searchsorted(np.cumsum(sizes), np.arange(1, n_parts) * sizes.sum() / n_parts)
    with ThreadPoolExecutor(max_workers=n_parts) as pool:
        return np.concatenate(list(pool.map(draw, np.split(clouds, cuts))))


def admin_gaps(
    facilities: Mapping[str, pd.DataFrame], gazetteer: pd.DataFrame, catalogue: Catalogue,
) -> pd.DataFrame:
    """Each division that lacks a facility it should have, for every administratively covered type.

    Returns
    -------
    pandas.DataFrame
        ``facility_type, name_zh, level, code12, name, status`` for each division in the type's scope
        (townships, towns, urban communities or rural villages) with no facility of that type (status
        ``lacking``). A type with no layer in `facilities` cannot be computed: it gets one row with status
        ``not_computed`` and no division, never a row for every division (no 台账 is not "lacking everywhere").
    """
    rows = []
    for ftype in catalogue.types.values():
        if CoverageKind.ADMINISTRATIVE not in ftype.coverage:
            continue
        layer = facilities.get(ftype.id)
        if layer is None:
            rows.append(pd.DataFrame({"facility_type": [ftype.id], "name_zh": [ftype.name_zh],
                                      "level": [ftype.admin_level], "code12": [None], "name": [None],
                                      "status": [GAP_NOT_COMPUTED]}))
            continue
        units = units_in_scope(gazetteer, level=ftype.admin_level, scope=ftype.admin_scope)
        has = administrative_coverage(existing_only(layer), units, level=ftype.admin_level)
        missing = units[~has.to_numpy(dtype=bool)]
        rows.append(pd.DataFrame({"facility_type": ftype.id, "name_zh": ftype.name_zh, "level": ftype.admin_level,
                                  "code12": missing["code12"].to_numpy(), "name": missing["name"].to_numpy(),
                                  "status": GAP_LACKING}))
    if not rows:
        return pd.DataFrame(columns=["facility_type", "name_zh", "level", "code12", "name", "status"])
    return pd.concat(rows, ignore_index=True)


#: `admin_gaps` status of a division without a facility of the type
GAP_LACKING = "lacking"
#: `admin_gaps` status of a type without any layer: not computed (say so, never "lacking everywhere")
GAP_NOT_COMPUTED = "not_computed"

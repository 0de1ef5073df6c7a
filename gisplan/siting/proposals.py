"""Candidate sites on the road network, and the new sites that close the gap to a plan target.

For one facility type: candidates (a user layer, or network nodes thinned to a spacing inside the
areas that need them, minus exclusions), the existing facilities kept open (fixed), the minutes from
every demand point to every site within the type's threshold (:func:`gisplan.network.routing.pairwise_minutes`),
then an exact model (:mod:`gisplan.siting.models`) chosen by what the target counts: a number of facilities
(MCLP with p = the shortfall), a share of divisions (one site per lacking division, as many as the
target needs), or a share of residents within reach (LSCP with that share).

Types that serve a whole division rather than a walking catchment (the catalogue's ``siting = "area"``:
cemeteries, funeral stations) are placed by :func:`gisplan.siting.arearule.propose_by_area` instead: one site in
each lacking division, at least a minimum distance from residential demand, no solver.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan import settings
from gisplan.analysis.demand import WEIGHTS
from gisplan.coords import wgs84_to_gcj02
from gisplan.divisions import division_code_at
from gisplan.errors import InfeasibleError
from gisplan.i18n import _
from gisplan.network.graph import edge_minutes
from gisplan.network.routing import pairwise_minutes
from gisplan.network.snapping import snap_index, snap_points
from gisplan.progress import silent
from gisplan.siting.costs import CostTable, coverage_matrix, covered_rows, marginal_gains
from gisplan.siting.models import SiteSelection, best_in_each_unit, lscp, mclp, one_per_unit
from gisplan.vocab import Level, QuestionKind

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from gisplan.catalogue import Profile
    from gisplan.network.graph import RoadNetwork
    from gisplan.network.snapping import EdgeSnap, SnapIndex
    from gisplan.progress import ProgressSink

__all__ = ["Proposal", "SiteQuestion", "division_codes", "generate_candidates", "inside_polygons", "place_sites",
           "propose_sites"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SiteQuestion:
    """What one target asks for.

    Attributes
    ----------
    kind : QuestionKind
        ``count``: ``amount`` more facilities; ``units``: a facility in ``amount`` of the divisions in
        ``lacking``; ``share``: reach ``amount`` (0–1) of the demand weight (a plain string is parsed).
    amount : float
    lacking : tuple of str
        Codes of the divisions still lacking one (``units``), whose polygons hold the candidates.
    """

    kind: QuestionKind
    amount: float
    lacking: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", QuestionKind(self.kind))


@dataclass(frozen=True, slots=True, eq=False)
class Proposal:
    """New sites for one facility type and target, in phased order.

    Attributes
    ----------
    selection : SiteSelection
    sites : geopandas.GeoDataFrame
        One row per new site: ``rank``, ``candidate_id``, ``township_code12``, ``township``,
        ``village_code12``, ``village``, the population/households/60+ it adds within the threshold
        (in build order), ``lon``, ``lat`` (WGS84) and ``lon_gcj02``, ``lat_gcj02``; points in EPSG:4326.
    covered_before, covered_after, total : float
        Demand weight within the threshold before and after, and all demand weight.
    """

    selection: SiteSelection
    sites: gpd.GeoDataFrame
    covered_before: float
    covered_after: float
    total: float


def generate_candidates(
    network: RoadNetwork,
    *,
    within: gpd.GeoDataFrame | None = None,
    spacing_m: float = 300.0,
    exclusions: gpd.GeoDataFrame | None = None,
    mask: str | Path | None = None,
) -> gpd.GeoDataFrame:
    """Network nodes as candidate sites: at most one per `spacing_m` grid cell, inside `within`.

    Parameters
    ----------
    network : RoadNetwork
    within : geopandas.GeoDataFrame, optional
        Polygons (gap areas, the lacking townships …); all nodes when None.
    spacing_m : float
        Grid cell of the thinning (metres).
    exclusions : geopandas.GeoDataFrame, optional
        Polygons where no site may go (water, protected land, military …).
    mask : path, optional
        A raster; nodes on a non-zero cell are excluded (e.g. an ecological red-line mask).

    Returns
    -------
    geopandas.GeoDataFrame
        ``candidate_id`` (``N<node>``) and points, in the network's CRS.
    """
    xy = network.node_xy
    keep = np.ones(len(xy), dtype=bool)
    if within is not None:
        keep &= _inside(within.to_crs(network.crs).geometry.to_numpy(), xy[:, 0], xy[:, 1], _node_tree(network))
    if exclusions is not None and len(exclusions):
        keep &= ~_inside(exclusions.to_crs(network.crs).geometry.to_numpy(), xy[:, 0], xy[:, 1], _node_tree(network))
    if mask is not None:
        keep &= ~_masked(Path(mask), xy, network.crs)
    idx = np.flatnonzero(keep)
    cells = np.floor(xy[idx] / spacing_m).astype(np.int64)
    _, first = np.unique(cells, axis=0, return_index=True)
    chosen = np.sort(idx[first])
    return gpd.GeoDataFrame({"candidate_id": [f"N{i}" for i in chosen]}, geometry=shapely.points(xy[chosen]),
                            crs=network.crs)


def inside_polygons(
    polygons: NDArray[np.object_], x: NDArray[np.float64], y: NDArray[np.float64],
) -> NDArray[np.bool_]:
    """Which points lie inside the union of `polygons`: ``shapely.contains_xy(shapely.union_all(polygons), x, y)``,
    the union built only when a point lies on a polygon's boundary.

    A point inside one of the polygons is inside their union; a point that touches none is outside it. Only a
    point on a boundary and inside none (on the edge two villages share, or on the outline) needs the union
    itself. The union of the 永川 gap polygons took 0.1–0.2 s per proposal (1.6 s of the proposals' 13 s
    under load, cProfile); on the 9,137 road nodes of 永川 the prepared polygons take 0.02 s, with the same answer for
    every node against the townships, the villages, the district and each type's gaps. (Where polygons
    overlap, the union's own rounding can move a boundary by a hair: of 14,847 vertices of all 1,245 gap
    polygons of every type at once, 56 came out differently. The candidates' areas are one type's gaps, or
    divisions, which do not overlap.) The work follows the points in the polygons' boxes, not the polygons'
    complexity: for hundreds of thousands of points, the union can be faster.

    Examples
    --------
    >>> squares = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> inside_polygons(squares, np.array([0.5, 1.0, 2.0, 5.0]), np.array([0.5, 0.5, 0.5, 5.0])).tolist()
    [True, True, False, False]
    """
    if not len(x):
        return np.zeros(0, dtype=bool)
    return _inside(polygons, x, y, shapely.STRtree(np.asarray(shapely.points(x, y), dtype=object)))


def _inside(
    polygons: NDArray[np.object_], x: NDArray[np.float64], y: NDArray[np.float64], tree: shapely.STRtree,
) -> NDArray[np.bool_]:
    """:func:`inside_polygons` with the points' tree given (`tree`: the points at `x`, `y`, in their order)."""
    inside = np.zeros(len(x), dtype=bool)
    polygons = np.asarray(polygons, dtype=object)
    polygons = polygons[~shapely.is_missing(polygons)]
    if not len(polygons) or not len(x):
        return inside
    inside[tree.query(polygons, predicate="contains_properly")[1]] = True
    touch = np.unique(tree.query(polygons, predicate="intersects")[1])
    touch = touch[~inside[touch]]  # of the others, the ones on a boundary
    if len(touch):
        inside[touch] = shapely.contains_xy(shapely.union_all(polygons), x[touch], y[touch])
    return inside


#: the road nodes of the last few networks as a tree of points: every row's candidates are the nodes inside its
#: area (building the 9,137 points of 永川 and their tree took a third of each row's candidate search)
_NODES: dict[int, tuple[RoadNetwork, shapely.STRtree]] = {}


def _node_tree(network: RoadNetwork) -> shapely.STRtree:
    with _CACHE_LOCK:
        if id(network) not in _NODES or _NODES[id(network)][0] is not network:
            while len(_NODES) >= 2:
                _NODES.pop(next(iter(_NODES)))
            tree = shapely.STRtree(np.asarray(shapely.points(network.node_xy), dtype=object))
            tree.query(shapely.box(0.0, 0.0, 0.0, 0.0))  # built now, before other threads query it
            _NODES[id(network)] = (network, tree)
        return _NODES[id(network)][1]


#: the division code12 of every point met so far, by its coordinates and CRS, for the last few division layers
#: (the rows of one run look up the same candidates again: 38 lookups took 0.6 s of the 永川 proposals)
_CODES: dict[int, tuple[gpd.GeoDataFrame, dict[tuple[float, float, str], str | None]]] = {}
#: guards the caches of this module (:data:`_NODES`, :data:`_CODES`, :data:`_PAIRS`, :data:`_SNAPPED`): the rows of
#: different facility types are proposed on several threads (:func:`gisplan.workflows.proposing.propose_rows`)
_CACHE_LOCK = threading.RLock()


def division_codes(points: gpd.GeoSeries, divisions: gpd.GeoDataFrame | None) -> NDArray[np.object_]:
    """:func:`gisplan.divisions.division_code_at` of `points`, each point looked up once per layer of
    `divisions` (the object, kept with its entry; not to be changed in place while a run uses it)."""
    geoms = points.to_numpy()
    if (divisions is None or len(divisions) == 0 or len(points) == 0 or points.crs is None
            or not (shapely.get_type_id(geoms) == shapely.GeometryType.POINT).all()):
        return division_code_at(points, divisions)
    with _CACHE_LOCK:  # the rows of different types look up their sites on several threads
        if id(divisions) not in _CODES or _CODES[id(divisions)][0] is not divisions:
            while len(_CODES) >= 4:
                _CODES.pop(next(iter(_CODES)))
            _CODES[id(divisions)] = (divisions, {})
        known = _CODES[id(divisions)][1]
    crs = str(points.crs)
    at = [(x, y, crs) for x, y in zip(shapely.get_x(geoms).tolist(), shapely.get_y(geoms).tolist(), strict=True)]
    new = [i for i, k in enumerate(at) if k not in known]
    if new:  # a point another thread looks up meanwhile is looked up twice, with the same answer
        found = division_code_at(gpd.GeoSeries(points.iloc[new]), divisions)
        with _CACHE_LOCK:
            known.update(zip((at[i] for i in new), found, strict=True))
    return np.asarray([known[k] for k in at], dtype=object)


def _masked(path: Path, xy: NDArray[np.float64], crs: object) -> NDArray[np.bool_]:
    import rasterio  # noqa: PLC0415 - only with a mask
    from pyproj import Transformer  # noqa: PLC0415

    with rasterio.open(path) as src:
        x, y = Transformer.from_crs(crs, src.crs, always_xy=True).transform(xy[:, 0], xy[:, 1])
        values = np.array([v[0] for v in src.sample(zip(x, y, strict=True), masked=True)], dtype=object)
    return np.array([v is not np.ma.masked and v != 0 for v in values], dtype=bool)


def propose_sites(  # noqa: PLR0913 - keyword-only layers and options
    question: SiteQuestion,
    *,
    network: RoadNetwork,
    profile: Profile,
    demand: gpd.GeoDataFrame,
    existing: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    threshold_minutes: float,
    weight: str = "population",
    townships: gpd.GeoDataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
    unit_level: Level = Level.TOWNSHIP,
    names: dict[str, str] | None = None,
    max_snap_m: float = settings.MAX_SNAP_M,
    time_limit_s: float | None = None,
    progress: ProgressSink = silent,
    own_unit: bool = False,
    demand_snap: EdgeSnap | None = None,
) -> Proposal:
    """Choose the new sites that answer `question` for one facility type.

    Parameters
    ----------
    question : SiteQuestion
    network, profile : the road network and the type's travel profile
    demand : geopandas.GeoDataFrame
        Demand points in the network's CRS with the weight columns.
    existing : geopandas.GeoDataFrame
        The type's existing facilities (kept open).
    candidates : geopandas.GeoDataFrame
        ``candidate_id`` and points (:func:`generate_candidates` or a user layer).
    threshold_minutes : float
    weight : str
        Demand column to cover.
    unit_level : Level
        Division level of a ``units`` question.
    time_limit_s : float, optional
        HiGHS time limit; the best solution found and its gap are returned when it runs out.
    progress : ProgressSink
        Receives the solver's ticks (:func:`gisplan.siting.highs.solve_mip`).
    own_unit : bool
        For a ``units`` question: each new site serves its own division only (a type counted by division, such
        as a village's 社会工作室), so it is placed where it reaches most of that division's demand
        (:func:`~gisplan.siting.models.best_in_each_unit`); otherwise the sites are chosen jointly
        (:func:`~gisplan.siting.models.one_per_unit`).
    demand_snap : EdgeSnap, optional
        `demand`'s points already snapped onto the roads `profile` may use within `max_snap_m` (the coverage's,
        :meth:`~gisplan.analysis.coverage.CoverageResult.demand_snap`): not snapped again.

    Raises
    ------
    InfeasibleError
        If the candidates cannot answer the question (the message says what is missing).
    """
    cand = candidates.to_crs(network.crs)
    sites, n_fixed = _sites(existing.to_crs(network.crs), cand)
    table = _site_costs(network, profile, sites, demand, threshold_minutes=threshold_minutes, weight=weight,
                        max_snap_m=max_snap_m, demand_snap=demand_snap)
    fixed_mask = np.arange(table.n_candidates) < n_fixed
    cover = coverage_matrix(table, threshold_minutes)
    polys = townships if unit_level == Level.TOWNSHIP else villages
    demand_unit = None
    if own_unit:
        column = "township_code12" if unit_level == Level.TOWNSHIP else "code12"
        demand_unit = (demand[column].astype(object).to_numpy() if column in demand
                       else division_code_at(demand.geometry, polys))
    selection = _answer(question, table, n_fixed=n_fixed, candidates=cand, polys=polys,
                        threshold_minutes=threshold_minutes, time_limit_s=time_limit_s, progress=progress,
                        demand_unit=demand_unit)
    order = [int(i) for i in pd.Index(table.candidate_ids).get_indexer(pd.Index(list(selection.selected)))]
    out = _added(sites.iloc[order], table, order, fixed=fixed_mask, cutoff=threshold_minutes, demand=demand)
    out = place_sites(out, townships=townships, villages=villages, names=names or {})
    after = fixed_mask | np.isin(np.arange(table.n_candidates), order)
    before = float(table.weights[covered_rows(cover, fixed_mask)].sum())
    return Proposal(selection, out, before, float(table.weights[covered_rows(cover, after)].sum()),
                    float(table.weights.sum()))


def _sites(existing: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """The existing facilities (``existing:<facility_id>``, kept open) then the candidates, as one layer in
    the candidates' CRS; and how many existing ones lead it."""
    crs = candidates.crs
    ex_ids = [f"existing:{i}" for i in (existing["facility_id"].astype(str) if "facility_id" in existing
                                        else range(len(existing)))]
    sites = pd.concat([gpd.GeoDataFrame({"candidate_id": ex_ids}, geometry=existing.geometry.to_numpy(), crs=crs),
                       candidates[["candidate_id", "geometry"]]], ignore_index=True)
    return gpd.GeoDataFrame(sites, geometry="geometry", crs=crs), len(ex_ids)


def _site_costs(
    network: RoadNetwork, profile: Profile, sites: gpd.GeoDataFrame, demand: gpd.GeoDataFrame, *,
    threshold_minutes: float, weight: str, max_snap_m: float, demand_snap: EdgeSnap | None = None,
) -> CostTable:
    """The cost table of the sites: minutes from every demand point to every site within the threshold, on
    the roads `profile` may use; each point weighs its `weight` (1 where the demand has no such column)."""
    sxy = shapely.get_coordinates(shapely.point_on_surface(sites.geometry.to_numpy()))
    found = _site_pairs(network, profile, demand, sxy, threshold_minutes=threshold_minutes, max_snap_m=max_snap_m,
                        demand_snap=demand_snap)
    counts = np.fromiter((len(d) for d, _ in found), dtype=np.int64, count=len(found))
    w = demand[weight].to_numpy(dtype=float) if weight in demand else np.ones(len(demand))
    return CostTable(
        demand_ids=np.arange(len(demand)).astype(str).astype(object),
        candidate_ids=sites["candidate_id"].to_numpy(dtype=object), weights=np.nan_to_num(w), capacity=None,
        pair_demand=np.concatenate([d for d, _ in found]) if found else np.empty(0, np.int64),
        pair_candidate=np.repeat(np.arange(len(found), dtype=np.int64), counts),
        cost=np.concatenate([m for _, m in found]) if found else np.empty(0),
    )


#: a site's pairs: the demand points (indices) within the cutoff and their minutes, in the order
#: :func:`~gisplan.network.routing.pairwise_minutes` gives them
_Pairs = tuple["NDArray[np.int64]", "NDArray[np.float64]"]
#: the pairs of every site met so far, by its coordinates, for the last few (network, profile, demand, snapping,
#: cutoff): the rows of one run share their candidates and the existing facilities of their type, and one
#: site's minutes do not depend on the other sites (each source is its own search), so each site's search runs
#: once a run (the 永川 run's seven models ask for 12,874 sites; 6,792 are searched)
_Sites = dict[tuple[float, float], _Pairs]
_PAIRS: dict[tuple[int, int, int, float, float],
             tuple[tuple[object, ...], _Sites, dict[tuple[float, float], threading.Event]]] = {}


def _site_pairs(
    network: RoadNetwork, profile: Profile, demand: gpd.GeoDataFrame, sxy: NDArray[np.float64], *,
    threshold_minutes: float, max_snap_m: float, demand_snap: EdgeSnap | None = None,
) -> list[_Pairs]:
    """The pairs of each site at `sxy` (network CRS): searched for the sites not met before in this run. A site
    another thread is searching is waited for, not searched twice (the types' rows run side by side)."""
    key = (id(network), id(profile), id(demand), float(max_snap_m), float(threshold_minutes))
    at = list(zip(sxy[:, 0].tolist(), sxy[:, 1].tolist(), strict=True))
    with _CACHE_LOCK:
        if key not in _PAIRS:
            while len(_PAIRS) >= 8:  # a few profiles and thresholds per run
                _PAIRS.pop(next(iter(_PAIRS)))
            _PAIRS[key] = ((network, profile, demand), {}, {})
        _, known, running = _PAIRS[key]
        missing = [xy for xy in dict.fromkeys(at) if xy not in known]
        new = [xy for xy in missing if xy not in running]
        awaited = list({id(e): e for e in (running[xy] for xy in missing if xy in running)}.values())
        done = threading.Event()
        running.update(dict.fromkeys(new, done))
    try:
        if new:  # searched outside the lock
            found = _search(network, profile, demand, new, threshold_minutes=threshold_minutes,
                            max_snap_m=max_snap_m, demand_snap=demand_snap)
            with _CACHE_LOCK:
                known.update(found)
    finally:
        with _CACHE_LOCK:
            for xy in new:
                running.pop(xy, None)
        done.set()
    for event in awaited:
        event.wait()
    if any(xy not in known for xy in missing):  # another thread's search failed: search them here
        return _site_pairs(network, profile, demand, sxy, threshold_minutes=threshold_minutes, max_snap_m=max_snap_m,
                           demand_snap=demand_snap)
    return [known[xy] for xy in at]


def _search(
    network: RoadNetwork, profile: Profile, demand: gpd.GeoDataFrame, sites: list[tuple[float, float]], *,
    threshold_minutes: float, max_snap_m: float, demand_snap: EdgeSnap | None = None,
) -> dict[tuple[float, float], _Pairs]:
    """The pairs of each of `sites` (coordinates in the network's CRS; each source's search is its own, so a
    site's pairs do not depend on the others searched with it)."""
    index, dsnap = _demand_snap(network, profile, demand, max_snap_m, demand_snap)
    nxy = np.asarray(sites, dtype=np.float64).reshape(-1, 2)
    ssnap = snap_points(index, nxy[:, 0], nxy[:, 1], max_snap_m=max_snap_m)
    pairs = pairwise_minutes(network, profile, ssnap, dsnap, cutoff_minutes=threshold_minutes)
    source = pairs["source"].to_numpy(np.int64)
    order = np.argsort(source, kind="stable")  # by source, each in the order found
    bounds = np.cumsum(np.bincount(source, minlength=len(sites)))[:-1]
    demand_of = np.split(pairs["demand"].to_numpy(np.int64)[order], bounds)
    minutes_of = np.split(pairs["minutes"].to_numpy(np.float64)[order], bounds)
    return dict(zip(sites, zip(demand_of, minutes_of, strict=True), strict=True))


#: the snap index and snapped demand of the last few (network, profile, demand) triples: the rows of one run
#: share them (the objects are kept with the entry, so their ids cannot be reused while it lives)
_SNAPPED: dict[tuple[int, int, int, float], tuple[tuple[object, ...], tuple[SnapIndex, EdgeSnap]]] = {}


def _demand_snap(
    network: RoadNetwork, profile: Profile, demand: gpd.GeoDataFrame, max_snap_m: float, known: EdgeSnap | None,
) -> tuple[SnapIndex, EdgeSnap]:
    """The profile's snap index of `network` and `demand` snapped to it (`known`: as the coverage snapped it, the
    same points on the same index), computed once per run."""
    if known is not None and len(known.edge) != len(demand):
        msg = _("`demand_snap` holds {n} points but the demand has {m} rows: give the snap of these points (the "
                "coverage's CoverageResult.demand_snap of the same demand), or none.").format(
                n=len(known.edge), m=len(demand))
        raise ValueError(msg)
    key = (id(network), id(profile), id(demand), float(max_snap_m))
    with _CACHE_LOCK:  # built once: a second thread asking for it waits
        if key not in _SNAPPED:
            index = snap_index(network, usable=~np.isnan(edge_minutes(network, profile)))
            if known is None:
                dxy = shapely.get_coordinates(demand.geometry.to_numpy())
                known = snap_points(index, dxy[:, 0], dxy[:, 1], max_snap_m=max_snap_m)
            while len(_SNAPPED) >= 4:  # a few profiles per run
                _SNAPPED.pop(next(iter(_SNAPPED)))
            _SNAPPED[key] = ((network, profile, demand), (index, known))
        return _SNAPPED[key][1]


def _answer(  # noqa: PLR0913 - the question, its table and keyword-only options
    question: SiteQuestion, table: CostTable, *, n_fixed: int, candidates: gpd.GeoDataFrame,
    polys: gpd.GeoDataFrame | None, threshold_minutes: float, time_limit_s: float | None, progress: ProgressSink,
    demand_unit: NDArray[np.object_] | None = None,
) -> SiteSelection:
    """The model that answers `question` on the cost table: MCLP for a count, LSCP for a share, one site per
    lacking division (in `polys`) for units."""
    fixed = [str(c) for c in table.candidate_ids[:n_fixed]]
    if question.kind is QuestionKind.COUNT:
        p = min(math.ceil(question.amount - 1e-9), len(candidates))
        if p < math.ceil(question.amount - 1e-9):
            logger.warning("only %d candidates for %g new sites", len(candidates), question.amount)
        return mclp(table, p=p, cutoff=threshold_minutes, fixed=fixed, time_limit_s=time_limit_s, progress=progress)
    if question.kind is QuestionKind.SHARE:
        return lscp(table, cutoff=threshold_minutes, share=question.amount, fixed=fixed, time_limit_s=time_limit_s,
                    progress=progress)
    unit = np.concatenate([np.full(n_fixed, None, dtype=object), division_codes(candidates.geometry, polys)])
    present = set(unit[n_fixed:])
    placeable = [u for u in question.lacking if u in present]
    if len(placeable) < question.amount:
        msg = (_("{n_without} of the lacking divisions have no candidate site (no road node inside them); give "
                 "candidates there.").format(n_without=len(question.lacking) - len(placeable)))
        if not placeable:
            raise InfeasibleError(msg)
        logger.warning(msg)
    if demand_unit is not None:
        return best_in_each_unit(table, list(unit), placeable, list(demand_unit), cutoff=threshold_minutes,
                                 fixed=fixed, count=min(math.ceil(question.amount - 1e-9), len(placeable)))
    return one_per_unit(table, list(unit), placeable, cutoff=threshold_minutes, fixed=fixed,
                        count=min(math.ceil(question.amount - 1e-9), len(placeable)), time_limit_s=time_limit_s,
                        progress=progress)


def _added(
    chosen: gpd.GeoDataFrame, table: CostTable, order: list[int], *, fixed: NDArray[np.bool_], cutoff: float,
    demand: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """The chosen sites in build order: ``rank``, ``candidate_id`` and the population, households and 60+ each
    adds within the cutoff (NaN-free: missing weights count as 0)."""
    chosen = chosen.reset_index(drop=True)
    out = gpd.GeoDataFrame({"rank": np.arange(1, len(order) + 1), "candidate_id": chosen["candidate_id"]},
                           geometry=chosen.geometry.to_numpy(), crs=chosen.crs)
    for wname in WEIGHTS:
        values = demand[wname].to_numpy(dtype=float) if wname in demand else np.full(len(demand), np.nan)
        out[f"{wname}_added"] = marginal_gains(table, order, fixed=fixed, cutoff=cutoff, weights=values)
    return out


def place_sites(
    sites: gpd.GeoDataFrame, *, townships: gpd.GeoDataFrame | None, villages: gpd.GeoDataFrame | None,
    names: dict[str, str],
) -> gpd.GeoDataFrame:
    """`sites` with the township and village each lies in (codes and names) and its WGS84 and GCJ-02
    longitude/latitude, in EPSG:4326."""
    out = sites.copy()
    town = division_codes(out.geometry, townships)
    village = division_codes(out.geometry, villages)
    out["township_code12"] = town
    out["township"] = [names.get(str(c), "") if c else "" for c in town]
    out["village_code12"] = village
    out["village"] = [names.get(str(c), "") if c else "" for c in village]
    out = out.to_crs("EPSG:4326")
    lonlat = shapely.get_coordinates(out.geometry.to_numpy())
    out["lon"], out["lat"] = np.round(lonlat[:, 0], 7), np.round(lonlat[:, 1], 7)
    glon, glat = wgs84_to_gcj02(lonlat[:, 0], lonlat[:, 1])
    out["lon_gcj02"], out["lat_gcj02"] = np.round(glon, 7), np.round(glat, 7)
    return out

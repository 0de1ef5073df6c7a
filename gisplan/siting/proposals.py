"""Candidate sites on the road network, and the new sites that close the gap to a plan target.

For one facility type: candidates (a user layer, or network nodes thinned to a spacing inside the
areas that need them, minus exclusions), the existing facilities kept open (fixed), the minutes from
every demand point to every site within the type's threshold (:func:`gisplan.network.routing.pairwise_minutes`),
then an exact model (:mod:`gisplan.optimise`) chosen by what the target counts: a number of facilities
(MCLP with p = the shortfall), a share of divisions (one site per lacking division, as many as the
target needs), or a share of residents within reach (LSCP with that share).
"""

from __future__ import annotations

import logging
import math
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
from gisplan.network.graph import edge_minutes
from gisplan.network.routing import pairwise_minutes
from gisplan.network.snapping import snap_index, snap_points
from gisplan.progress import ProgressSink, Tick, silent
from gisplan.siting.costs import CostTable, coverage_matrix, covered_rows, marginal_gains
from gisplan.siting.models import lscp, mclp, one_per_unit
from gisplan.vocab import Level, QuestionKind

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from gisplan.catalogue import Profile
    from gisplan.network.graph import RoadNetwork
    from gisplan.siting.models import SiteSelection

__all__ = ["Proposal", "SiteQuestion", "generate_candidates", "propose_sites"]

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
        area = shapely.union_all(within.to_crs(network.crs).geometry.to_numpy())
        keep &= np.asarray(shapely.contains_xy(area, xy[:, 0], xy[:, 1]), dtype=bool)
    if exclusions is not None and len(exclusions):
        banned = shapely.union_all(exclusions.to_crs(network.crs).geometry.to_numpy())
        keep &= ~np.asarray(shapely.contains_xy(banned, xy[:, 0], xy[:, 1]), dtype=bool)
    if mask is not None:
        keep &= ~_masked(Path(mask), xy, network.crs)
    idx = np.flatnonzero(keep)
    cells = np.floor(xy[idx] / spacing_m).astype(np.int64)
    _, first = np.unique(cells, axis=0, return_index=True)
    chosen = np.sort(idx[first])
    return gpd.GeoDataFrame({"candidate_id": [f"N{i}" for i in chosen]}, geometry=shapely.points(xy[chosen]),
                            crs=network.crs)


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
        Told of the solver's progress (stage ``solver``: elapsed time, incumbent, gap).

    Raises
    ------
    InfeasibleError
        If the candidates cannot answer the question (the message says what is missing).
    """
    progress(Tick("solver", message=str(question.kind)))
    cand = candidates.to_crs(network.crs)
    sites, n_fixed = _sites(existing.to_crs(network.crs), cand)
    table = _site_costs(network, profile, sites, demand, threshold_minutes=threshold_minutes, weight=weight,
                        max_snap_m=max_snap_m)
    fixed_mask = np.arange(table.n_candidates) < n_fixed
    cover = coverage_matrix(table, threshold_minutes)
    polys = townships if unit_level == Level.TOWNSHIP else villages
    selection = _answer(question, table, n_fixed=n_fixed, candidates=cand, polys=polys,
                        threshold_minutes=threshold_minutes, time_limit_s=time_limit_s)
    order = [list(table.candidate_ids).index(s) for s in selection.selected]
    out = _added(sites.iloc[order], table, order, fixed=fixed_mask, cutoff=threshold_minutes, demand=demand)
    out = _where(out, townships=townships, villages=villages, names=names or {})
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
    threshold_minutes: float, weight: str, max_snap_m: float,
) -> CostTable:
    """The cost table of the sites: minutes from every demand point to every site within the threshold, on
    the roads `profile` may use; each point weighs its `weight` (1 where the demand has no such column)."""
    index = snap_index(network, usable=~np.isnan(edge_minutes(network, profile)))
    sxy = shapely.get_coordinates(shapely.point_on_surface(sites.geometry.to_numpy()))
    dxy = shapely.get_coordinates(demand.geometry.to_numpy())
    ssnap = snap_points(index, sxy[:, 0], sxy[:, 1], max_snap_m=max_snap_m)
    dsnap = snap_points(index, dxy[:, 0], dxy[:, 1], max_snap_m=max_snap_m)
    pairs = pairwise_minutes(network, profile, ssnap, dsnap, cutoff_minutes=threshold_minutes)
    w = demand[weight].to_numpy(dtype=float) if weight in demand else np.ones(len(demand))
    return CostTable(
        demand_ids=np.arange(len(demand)).astype(str).astype(object),
        candidate_ids=sites["candidate_id"].to_numpy(dtype=object), weights=np.nan_to_num(w), capacity=None,
        pair_demand=pairs["demand"].to_numpy(np.int64), pair_candidate=pairs["source"].to_numpy(np.int64),
        cost=pairs["minutes"].to_numpy(float),
    )


def _answer(
    question: SiteQuestion, table: CostTable, *, n_fixed: int, candidates: gpd.GeoDataFrame,
    polys: gpd.GeoDataFrame | None, threshold_minutes: float, time_limit_s: float | None,
) -> SiteSelection:
    """The model that answers `question` on the cost table: MCLP for a count, LSCP for a share, one site per
    lacking division (in `polys`) for units."""
    fixed = [str(c) for c in table.candidate_ids[:n_fixed]]
    if question.kind is QuestionKind.COUNT:
        p = min(math.ceil(question.amount - 1e-9), len(candidates))
        if p < math.ceil(question.amount - 1e-9):
            logger.warning("only %d candidates for %g new sites", len(candidates), question.amount)
        return mclp(table, p=p, cutoff=threshold_minutes, fixed=fixed, time_limit_s=time_limit_s)
    if question.kind is QuestionKind.SHARE:
        return lscp(table, cutoff=threshold_minutes, share=question.amount, fixed=fixed, time_limit_s=time_limit_s)
    unit = np.concatenate([np.full(n_fixed, None, dtype=object), division_code_at(candidates.geometry, polys)])
    placeable = [u for u in question.lacking if (unit == u).any()]
    if len(placeable) < question.amount:
        msg = (f"{len(question.lacking) - len(placeable)} of the lacking divisions have no candidate site "
               "(no road node inside them); give candidates there.")
        if not placeable:
            raise InfeasibleError(msg)
        logger.warning(msg)
    return one_per_unit(table, list(unit), placeable, cutoff=threshold_minutes, fixed=fixed,
                        count=min(math.ceil(question.amount - 1e-9), len(placeable)), time_limit_s=time_limit_s)


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


def _where(
    sites: gpd.GeoDataFrame, *, townships: gpd.GeoDataFrame | None, villages: gpd.GeoDataFrame | None,
    names: dict[str, str],
) -> gpd.GeoDataFrame:
    """`sites` with the township and village each lies in (codes and names) and its WGS84 and GCJ-02
    longitude/latitude, in EPSG:4326."""
    out = sites.copy()
    town = division_code_at(out.geometry, townships)
    village = division_code_at(out.geometry, villages)
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

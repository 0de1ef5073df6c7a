"""New sites for a type that serves a whole division rather than a walking catchment (the catalogue's
``siting = "area"``: cemeteries, funeral stations): one site in each lacking division, at least a minimum distance
from residential demand, no solver."""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.analysis.demand import WEIGHTS
from gisplan.divisions import division_code_at
from gisplan.errors import InfeasibleError
from gisplan.i18n import _
from gisplan.siting.models import SiteSelection
from gisplan.siting.proposals import Proposal, SiteQuestion, division_codes, place_sites
from gisplan.vocab import Level

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["AREA_RULE_RESIDENT_SHARE", "AREA_RULE_STATUS", "propose_by_area"]

#: the status of a proposal placed by the area rule (no solver runs)
AREA_RULE_STATUS = "规则选址 rule (no solver)"
#: the area rule's "away from homes": at most this share of the division's residents within the minimum
#: distance of the site (demand spread along rural roads puts a few scattered houses near every road node)
AREA_RULE_RESIDENT_SHARE = 0.01

logger = logging.getLogger(__name__)


def propose_by_area(  # noqa: PLR0913 - keyword-only layers and options
    question: SiteQuestion,
    *,
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    min_distance_m: float,
    unit_level: Level = Level.TOWNSHIP,
    weight: str = "population",
    townships: gpd.GeoDataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
    names: dict[str, str] | None = None,
) -> Proposal:
    """New sites for a type that serves a whole division (cemetery, funeral station): one in each division of
    ``question.lacking`` (the most populous first when the question asks for fewer), no solver.

    A candidate keeps the distance from residential demand when at most :data:`AREA_RULE_RESIDENT_SHARE` (1 %)
    of its division's residents (demand weight) live within `min_distance_m` of it — none, where the demand is
    concentrated; a few scattered houses where it is spread along rural roads. In each division the site is
    the candidate nearest the division's demand-weighted centre among those that keep the distance. Where none
    does, the one with the fewest residents within the distance is taken and ``rule_met`` says False (the
    row's status says so). Candidates must already be outside the scenario's exclusion polygons.

    Returns
    -------
    Proposal
        ``sites`` as in :func:`propose_sites` plus ``distance_to_homes_m`` (to the nearest demand point),
        ``residents_within_min_distance`` and ``rule_met``; the ``*_added``
        columns are NaN (the rule does not measure walking reach). The selection's model is ``area_rule`` and its
        status :data:`AREA_RULE_STATUS`.

    Raises
    ------
    InfeasibleError
        If no lacking division holds a candidate.
    """
    started = time.perf_counter()
    crs = candidates.crs
    polys = townships if unit_level == Level.TOWNSHIP else villages
    unit = division_codes(candidates.geometry, polys)
    cxy = shapely.get_coordinates(candidates.geometry.to_numpy())
    dem = demand.to_crs(candidates.crs) if candidates.crs is not None else demand
    w = dem[weight].to_numpy(dtype=float) if weight in dem else np.ones(len(dem))
    w = np.nan_to_num(w)
    dxy = shapely.get_coordinates(dem.geometry.to_numpy())
    distance, near_w = _homes_near(cxy, dxy, w, min_distance_m)
    column = "township_code12" if unit_level == Level.TOWNSHIP else "code12"
    dunit = dem[column].astype(object).to_numpy() if column in dem else division_code_at(dem.geometry, polys)
    d = pd.DataFrame({"unit": dunit, "w": w, "x": dxy[:, 0] * w, "y": dxy[:, 1] * w}).dropna(subset=["unit"])
    sums = d.groupby("unit")[["w", "x", "y"]].sum()
    centre = sums[["x", "y"]].div(sums["w"].where(sums["w"] > 0), axis=0)
    frame = pd.DataFrame({"i": np.arange(len(cxy)), "unit": unit, "distance": distance, "near_w": near_w})
    frame = frame[frame["unit"].isin(set(question.lacking))]
    if frame.empty:
        msg = _("none of the lacking divisions holds a candidate site (no road node inside them); give candidates "
                "there.")
        raise InfeasibleError(msg)
    cx = frame["unit"].map(centre["x"]).to_numpy(dtype=float)
    cy = frame["unit"].map(centre["y"]).to_numpy(dtype=float)
    own = cxy[frame["i"].to_numpy()]
    near = np.hypot(own[:, 0] - np.where(np.isnan(cx), own[:, 0], cx),
                    own[:, 1] - np.where(np.isnan(cy), own[:, 1], cy))
    allowed_w = AREA_RULE_RESIDENT_SHARE * frame["unit"].map(sums["w"]).fillna(0.0).to_numpy(dtype=float)
    frame = frame.assign(met=frame["near_w"].to_numpy() <= allowed_w, near=near)
    # eligible first, nearest the centre; else the fewest residents within the distance
    frame["key"] = np.where(frame["met"], frame["near"], frame["near_w"])
    best = frame.sort_values(["unit", "met", "key"], ascending=[True, False, True]).groupby("unit").head(1)
    missing = [u for u in question.lacking if u not in set(best["unit"])]
    if missing:
        logger.warning("%d of the lacking divisions have no candidate site (no road node inside them); give "
                       "candidates there.", len(missing))
    best = best.assign(pop=best["unit"].map(sums["w"]).fillna(0.0).to_numpy())
    best = best.sort_values(["pop", "unit"], ascending=[False, True]).head(max(0, math.ceil(question.amount - 1e-9)))
    chosen = candidates.iloc[best["i"].to_numpy()].reset_index(drop=True)
    out = gpd.GeoDataFrame({"rank": np.arange(1, len(best) + 1), "candidate_id": chosen["candidate_id"].astype(str)},
                           geometry=chosen.geometry.to_numpy(), crs=crs)
    for wname in WEIGHTS:
        out[f"{wname}_added"] = np.nan
    out["distance_to_homes_m"] = np.round(best["distance"].to_numpy(dtype=float), 1)
    out["residents_within_min_distance"] = np.round(best["near_w"].to_numpy(dtype=float), 0)
    out["rule_met"] = best["met"].to_numpy(dtype=bool)
    out = place_sites(out, townships=townships, villages=villages, names=names or {})
    n = float(len(out))
    selection = SiteSelection(model="area_rule", status=AREA_RULE_STATUS, exact=True, objective=n, bound=n, gap=0.0,
                              selected=tuple(out["candidate_id"]), fixed=(), covered_weight=float("nan"),
                              total_weight=float(w.sum()), seconds=time.perf_counter() - started)
    logger.info("area_rule: %d new site(s) in %d lacking division(s), %d keep %g m from homes, %.2f s", len(out),
                len(question.lacking), int(out["rule_met"].sum()), min_distance_m, selection.seconds)
    return Proposal(selection, out, float("nan"), float("nan"), float(w.sum()))


def _homes_near(
    cxy: NDArray[np.float64], dxy: NDArray[np.float64], w: NDArray[np.float64], min_distance_m: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """For each candidate: metres to the nearest demand point with weight, and the weight within `min_distance_m`."""
    homes = w > 0
    if not homes.any():
        return np.full(len(cxy), np.inf), np.zeros(len(cxy))
    from scipy.spatial import cKDTree  # noqa: PLC0415 - only for area siting

    tree = cKDTree(dxy[homes])
    distance = np.asarray(tree.query(cxy)[0], dtype=np.float64)
    if min_distance_m <= 0:
        return distance, np.zeros(len(cxy))
    pairs = cKDTree(cxy).sparse_distance_matrix(tree, min_distance_m, output_type="coo_matrix")
    return distance, np.bincount(pairs.row, weights=w[homes][pairs.col], minlength=len(cxy)).astype(np.float64)

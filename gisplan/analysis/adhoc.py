"""The ad-hoc service-area question on coordinate arrays: minutes from every demand point to its nearest facility.

:func:`gisplan.analysis.coverage.measure_coverage` answers it for a scenario, on GeoDataFrames with unit codes,
and adds up the units. An ad-hoc question (``gisplan coverage --roads … --facilities … --demand …``) has no units
and wants only each point's minutes: here the same network calls, in the same order, on the planning-CRS
coordinates, so a million demand points need no geometry, no frame and no per-unit totals (the minutes and
nearest facilities are those :func:`~gisplan.analysis.coverage.measure_coverage` gives; tests/test_adhoc.py
compares them).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gisplan.i18n import _
from gisplan.network.graph import edge_minutes
from gisplan.network.routing import demand_minutes, place_demand, reach_from_facilities
from gisplan.network.snapping import snap_index, snap_points

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from gisplan.catalogue import Profile
    from gisplan.network.graph import RoadNetwork

__all__ = ["NearestMinutes", "nearest_facility_minutes"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, eq=False)
class NearestMinutes:
    """Every demand point's nearest facility within the threshold.

    Attributes
    ----------
    minutes : ndarray of float64
        Minutes to the nearest facility; NaN where none is within the threshold or the point is farther than
        the snapping distance from every usable road.
    facility : ndarray of int64
        That facility (index into the facility coordinates), -1 where none.
    covered : ndarray of bool
        The nearest facility is within the threshold.
    snapped : ndarray of bool
        The point reached a usable road within the snapping distance.
    access_m : ndarray of float64
        Straight-line metres from the point to that road (NaN where not snapped).
    facilities_snapped : int
        Facilities within the snapping distance of a usable road (the others serve no one).
    seconds : dict of str to float
        ``snap`` (index, snapping, placing the demand on its edges) and ``coverage`` (the search and the
        minutes of every point).
    """

    minutes: NDArray[np.float64]
    facility: NDArray[np.int64]
    covered: NDArray[np.bool_]
    snapped: NDArray[np.bool_]
    access_m: NDArray[np.float64]
    facilities_snapped: int
    seconds: dict[str, float]


def nearest_facility_minutes(
    network: RoadNetwork,
    profile: Profile,
    demand_xy: NDArray[np.float64],
    facility_xy: NDArray[np.float64],
    *,
    threshold_minutes: float,
    max_snap_m: float,
) -> NearestMinutes:
    """Minutes from every demand point to its nearest facility, up to `threshold_minutes`.

    Parameters
    ----------
    network : RoadNetwork
        In the planning CRS.
    profile : Profile
        The travel profile (speed, roads it may use, one-way rules).
    demand_xy, facility_xy : ndarray, shape (n, 2)
        Coordinates in the network's CRS (metres).
    threshold_minutes : float
        The search stops there; points farther are not covered.
    max_snap_m : float
        Points farther than this from every usable road are unreachable (counted, never dropped).

    Returns
    -------
    NearestMinutes

    Raises
    ------
    ValueError
        If `threshold_minutes` is not positive.
    """
    if not threshold_minutes > 0:
        msg = _("`threshold_minutes` must be positive (got {value}).").format(value=threshold_minutes)
        raise ValueError(msg)
    demand_xy = np.asarray(demand_xy, dtype=float).reshape(-1, 2)
    facility_xy = np.asarray(facility_xy, dtype=float).reshape(-1, 2)
    t0 = time.perf_counter()
    # the calls of measure_coverage's _profile_coverage, for one profile and one type
    index = snap_index(network, usable=~np.isnan(edge_minutes(network, profile)))
    dsnap = snap_points(index, demand_xy[:, 0], demand_xy[:, 1], max_snap_m=max_snap_m)
    fsnap = snap_points(index, facility_xy[:, 0], facility_xy[:, 1], max_snap_m=max_snap_m)
    del index  # hundreds of MB on a city network
    placed = place_demand(network, profile, dsnap)
    snap_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    (reach,) = reach_from_facilities(network, profile, fsnap, [np.arange(len(facility_xy))],
                                     cutoff_minutes=threshold_minutes)
    near = demand_minutes(network, profile, reach, dsnap, fsnap, placed=placed)
    covered = np.zeros(len(demand_xy), dtype=bool)
    covered[near.within(threshold_minutes)] = True
    logger.info("nearest_facility_minutes: %d of %d points within %g min of %d facilities", int(covered.sum()),
                len(demand_xy), threshold_minutes, len(facility_xy))
    return NearestMinutes(near.minutes, near.facility, covered, dsnap.snapped, dsnap.access_m,
                          int(fsnap.snapped.sum()), {"snap": snap_s, "coverage": time.perf_counter() - t0})

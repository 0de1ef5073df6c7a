"""The service area of each featured proposed site: the road its type's travel profile reaches within the type's
threshold from the new site (one multi-source search per profile, one group per site, as
:func:`gisplan.analysis.coverage.measure_coverage` does for the existing facilities), drawn as the trimmed
service-area polygon (:func:`gisplan.network.routing.service_area_polygons`), and the demand points the new site
reaches within the threshold. Computed only for the sites that get a page of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy.spatial import cKDTree

from gisplan.network.graph import edge_minutes
from gisplan.network.routing import (
    demand_minutes,
    reach_from_facilities,
    reached_lines,
    service_area_polygons,
)
from gisplan.network.snapping import snap_index, snap_points

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from gisplan.catalogue import Profile
    from gisplan.network.graph import RoadNetwork

__all__ = ["SiteArea", "site_service_areas"]


@dataclass(frozen=True, slots=True, eq=False)
class SiteArea:
    """One proposed site's service area, in the planning CRS (metres).

    Attributes
    ----------
    polygon : shapely.Geometry
        The reached road within `minutes` and the site's leg to the road, buffered by the trim distance (empty
        when the site is beyond the snapping distance of every road its profile may use).
    minutes : float
        The type's threshold.
    profile : str
        The travel profile's id.
    reached : ndarray of int64
        Positions (in the demand frame given) of the demand points the new site reaches within `minutes`.
    reached_access_m : ndarray of float64
        Their straight-line distance to the road (the access leg, which the polygon's trim covers up to
        three quarters of the trim distance).
    """

    polygon: shapely.Geometry
    minutes: float
    profile: str
    reached: NDArray[np.int64]
    reached_access_m: NDArray[np.float64]

    @property
    def area_km2(self) -> float:
        """The polygon's area in km²."""
        return float(shapely.area(self.polygon)) / 1e6


def _reach_radius_m(profile: Profile, minutes: float, max_snap_m: float) -> float:
    """How far (straight line) anything reached within `minutes` can be: the fastest speed of the profile
    times the minutes, plus the access leg."""
    fastest = max([profile.speed_m_per_min, *profile.class_speeds_m_per_min.values()])
    return fastest * minutes + max_snap_m


def site_service_areas(
    network: RoadNetwork, sites_xy: NDArray[np.float64], *, profiles: list[Profile], minutes: list[float],
    demand_xy: NDArray[np.float64] | None, max_snap_m: float, trim_m: float,
) -> list[SiteArea]:
    """The service area of each site (`sites_xy`, planning CRS) for its profile and threshold.

    Parameters
    ----------
    network : RoadNetwork
        The run's road network (planning CRS).
    sites_xy : ndarray, shape (n, 2)
    profiles, minutes : list
        Each site's travel profile and threshold (minutes).
    demand_xy : ndarray, shape (m, 2), optional
        Demand points (planning CRS); only those within reach of a site are snapped and measured.
    max_snap_m, trim_m : float
        The scenario's snapping limit and the polygon's trim distance (metres).

    Returns
    -------
    list of SiteArea
        One per site, in order.
    """
    out: list[SiteArea | None] = [None] * len(sites_xy)
    by_profile: dict[str, list[int]] = {}
    for i, profile in enumerate(profiles):
        by_profile.setdefault(profile.id, []).append(i)
    empty_i, empty_f = np.empty(0, dtype=np.int64), np.empty(0, dtype=float)
    for members in by_profile.values():
        profile = profiles[members[0]]
        index = snap_index(network, usable=~np.isnan(edge_minutes(network, profile)))
        xy = sites_xy[members]
        fsnap = snap_points(index, xy[:, 0], xy[:, 1], max_snap_m=max_snap_m)
        cutoff = max(minutes[i] for i in members)
        groups = [np.array([k]) for k in range(len(members))]
        reaches = reach_from_facilities(network, profile, fsnap, groups, cutoff_minutes=cutoff)
        radius = _reach_radius_m(profile, cutoff, max_snap_m)
        near_pts = empty_i
        if demand_xy is not None and len(demand_xy):
            # nearest site of the group per demand point (a tree: no points × sites matrix of distances)
            nearest_m, _site = cKDTree(xy).query(demand_xy, distance_upper_bound=radius)
            near_pts = np.flatnonzero(np.isfinite(nearest_m))
        dsnap = snap_points(index, demand_xy[near_pts, 0], demand_xy[near_pts, 1], max_snap_m=max_snap_m) \
            if len(near_pts) and demand_xy is not None else None
        for k, i in enumerate(members):
            reach, limit = reaches[k], minutes[i]
            if not fsnap.snapped[k]:
                out[i] = SiteArea(shapely.Polygon(), limit, profile.id, empty_i, empty_f)
                continue
            lines = reached_lines(network, profile, reach, fsnap, minutes=limit)
            # the site's own leg to the road belongs to its area too (a site may stand farther off the road than
            # the trim distance)
            leg = shapely.linestrings([xy[k], fsnap.snapped_xy[k]])
            own = shapely.buffer(leg, trim_m, quad_segs=2)
            polygon = shapely.union(service_area_polygons(lines, trim_m=trim_m), own)
            reached, access = empty_i, empty_f
            if dsnap is not None:
                got = demand_minutes(network, profile, reach, dsnap, fsnap).within(limit)
                got = np.sort(got)
                reached, access = near_pts[got], dsnap.access_m[got]
            out[i] = SiteArea(polygon, limit, profile.id, reached, access)
    return [a for a in out if a is not None]

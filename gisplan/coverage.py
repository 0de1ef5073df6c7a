"""Network coverage: minutes from every demand point to the nearest facility, and service areas.

A resident's time is the access leg from home to the nearest road (straight, at the profile's access
speed), then along the roads, then the leg from the road to the facility. Facilities and demand sit on
edges at their projected points, so a partial edge counts by its length, not by a detour to a node.

All facilities of all groups (facility types) become virtual nodes of one reversed graph, with arcs to
the two ends of their edge weighted by the partial edge and access leg. Each group is then one
multi-source Dijkstra (scipy.sparse.csgraph, ``min_only``) with a cutoff, which also names the
nearest facility of every node. Demand on the same edge as a facility is checked directly along it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from gisplan.network import edge_minutes, travel_graph

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from gisplan.catalogue import Profile
    from gisplan.network import RoadNetwork
    from gisplan.snapping import EdgeSnap

__all__ = [
    "Nearest",
    "PlacedDemand",
    "Reach",
    "demand_minutes",
    "pairwise_minutes",
    "place_demand",
    "reach_from_facilities",
    "reached_lines",
    "service_area_polygons",
    "straight_line_nearest",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, eq=False)
class Reach:
    """Minutes from every node to the nearest facility of one group, within a cutoff.

    Attributes
    ----------
    node_minutes : ndarray of float64
        ``inf`` where no facility is reached within ``cutoff_minutes``.
    node_facility : ndarray of int64
        Index (into the facility snaps) of the nearest facility, -1 where none.
    members : ndarray of int64
        The facilities of this group (indices into the facility snaps), unsnapped ones left out.
    cutoff_minutes : float
    """

    node_minutes: NDArray[np.float64]
    node_facility: NDArray[np.int64]
    members: NDArray[np.int64]
    cutoff_minutes: float


@dataclass(frozen=True, slots=True, eq=False)
class Nearest:
    """For each demand point: minutes to the nearest facility and which one.

    Attributes
    ----------
    minutes : ndarray of float64
        NaN where no facility is within the cutoff, or the point is beyond the snapping distance.
    facility : ndarray of int64
        Index of the nearest facility (into the facility arrays), -1 where none.
    cutoff_minutes : float
    """

    minutes: NDArray[np.float64]
    facility: NDArray[np.int64]
    cutoff_minutes: float


def _edge_dirs(network: RoadNetwork, profile: Profile, edge: NDArray[np.int64]) -> tuple[NDArray[np.bool_], ...]:
    """May one travel u→v (`up`) and v→u (`down`) along these edges under `profile`."""
    if not profile.oneway:
        ones = np.ones(len(edge), dtype=bool)
        return ones, ones
    return network.forward[edge], network.backward[edge]


def _facility_graph(network: RoadNetwork, profile: Profile, facilities: EdgeSnap) -> sparse.csr_array:
    """The reversed road graph plus one virtual node per facility (id ``n_nodes + i``) with arcs to the ends
    of its edge, weighted by the access leg and the partial edge.

    The road part is built once per profile (:func:`gisplan.network.travel_graph`); the facilities' rows
    are appended after it, so only their few arcs are sorted.
    """
    road = travel_graph(network, profile, reverse=True)
    minutes = edge_minutes(network, profile)
    n = network.n_nodes
    snapped = np.flatnonzero(facilities.snapped)
    e = facilities.edge[snapped]
    frac = facilities.offset_m[snapped] / np.where(network.length_m[e] > 0, network.length_m[e], 1.0)
    access = facilities.access_m[snapped] / profile.access_speed_m_per_min
    up, down = _edge_dirs(network, profile, e)
    # reversed graph: facility -> node means "node reaches the facility"; u reaches it going u→v
    tail = np.concatenate([snapped[up], snapped[down]])
    head = np.concatenate([network.edge_u[e[up]], network.edge_v[e[down]]])
    weight = np.concatenate([access[up] + frac[up] * minutes[e[up]],
                             access[down] + (1 - frac[down]) * minutes[e[down]]])
    order = np.lexsort((weight, head, tail))
    tail, head, weight = tail[order], head[order], weight[order]
    first = np.ones(len(tail), dtype=bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])  # a loop edge: both ends are one node
    tail, head, weight = tail[first], head[first], weight[first]
    n_f = len(facilities.edge)
    fac_ptr = np.zeros(n_f + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=n_f), out=fac_ptr[1:])
    indptr = np.concatenate([road.indptr, road.indptr[-1] + fac_ptr[1:]])
    indices = np.concatenate([road.indices, head]).astype(road.indices.dtype)
    total = n + n_f
    return sparse.csr_array((np.concatenate([road.data, weight]), indices, indptr), shape=(total, total))


def pairwise_minutes(
    network: RoadNetwork,
    profile: Profile,
    sources: EdgeSnap,
    demand: EdgeSnap,
    *,
    cutoff_minutes: float,
    block: int = 128,
) -> pd.DataFrame:
    """Minutes from every demand point to every source (candidate site) within the cutoff, long form.

    One Dijkstra per source, run by scipy in blocks (no Python loop over nodes or edges); the time of a
    pair is computed exactly as in :func:`demand_minutes` (access legs, partial edges, same-edge paths).

    Returns
    -------
    pandas.DataFrame
        ``demand`` and ``source`` (indices into the snaps) and ``minutes``, for pairs within the cutoff.
    """
    n = network.n_nodes
    graph = _facility_graph(network, profile, sources)
    placed = place_demand(network, profile, demand)
    ok = np.flatnonzero(placed.ok)
    todo = np.flatnonzero(sources.snapped)
    parts = []
    for lo in range(0, len(todo), block):
        src = todo[lo:lo + block]
        dist = csgraph.dijkstra(graph, directed=True, indices=n + src, limit=cutoff_minutes)[:, :n]
        # only demand on an edge with a reached end, or on a source's own edge, can be within the cutoff
        reached = np.isfinite(dist).any(axis=0)
        near = ok[reached[placed.u[ok]] | reached[placed.v[ok]] | np.isin(placed.edge[ok], sources.edge[src])]
        via = np.minimum(dist[:, placed.u[near]] + placed.to_u[near], dist[:, placed.v[near]] + placed.to_v[near])
        # a source on the demand's own edge: straight along it
        same_s, same_d = np.nonzero(sources.edge[src][:, None] == placed.edge[near][None, :])
        if len(same_s):
            f, dd = src[same_s], near[same_d]
            length = placed.length_m[dd]
            span = (sources.offset_m[f] - demand.offset_m[dd]) / np.where(length > 0, length, 1.0)
            allowed = np.where(span >= 0, placed.up[dd], placed.down[dd])
            direct = np.where(allowed, np.abs(span) * placed.edge_minutes[dd]
                              + sources.access_m[f] / profile.access_speed_m_per_min, np.inf)
            via[same_s, same_d] = np.minimum(via[same_s, same_d], direct)
        total = via + placed.access_minutes[near][None, :]
        s_i, d_i = np.nonzero(total <= cutoff_minutes)
        parts.append(pd.DataFrame({"demand": near[d_i], "source": src[s_i], "minutes": total[s_i, d_i]}))
    if not parts:
        return pd.DataFrame({"demand": np.empty(0, np.int64), "source": np.empty(0, np.int64),
                             "minutes": np.empty(0)})
    return pd.concat(parts, ignore_index=True)


def reach_from_facilities(
    network: RoadNetwork,
    profile: Profile,
    facilities: EdgeSnap,
    groups: Sequence[NDArray[np.int64]],
    *,
    cutoff_minutes: float,
) -> tuple[Reach, ...]:
    """Multi-source shortest paths *to* the facilities of each group, for every node.

    Parameters
    ----------
    network : RoadNetwork
    profile : Profile
        Speeds, one-way rule and access speed.
    facilities : EdgeSnap
        Every facility of every group, snapped with the same profile's usable edges.
    groups : sequence of ndarray of int
        For each group (facility type), the indices of its facilities in `facilities`.
    cutoff_minutes : float
        Nodes farther than this from every facility of a group get ``inf``.

    Returns
    -------
    tuple of Reach
        One per group, in order.
    """
    if not cutoff_minutes > 0:
        msg = f"`cutoff_minutes` must be positive (got {cutoff_minutes})."
        raise ValueError(msg)
    n = network.n_nodes
    graph = _facility_graph(network, profile, facilities)
    snapped = np.flatnonzero(facilities.snapped)
    out = []
    for group in groups:
        members = np.asarray(group, dtype=np.int64)
        members = members[facilities.snapped[members]]
        if len(members) == 0:
            out.append(Reach(np.full(n, np.inf), np.full(n, -1, dtype=np.int64), members, cutoff_minutes))
            continue
        dist, _, src = csgraph.dijkstra(graph, directed=True, indices=n + members, min_only=True,
                                        limit=cutoff_minutes, return_predecessors=True)
        node_fac = np.where(src[:n] >= 0, src[:n].astype(np.int64) - n, -1)
        out.append(Reach(dist[:n].copy(), node_fac, members, float(cutoff_minutes)))
    logger.info("reach_from_facilities: %d groups, %d facilities, %d nodes, cutoff %g min",
                len(groups), len(snapped), n, cutoff_minutes)
    return tuple(out)


@dataclass(frozen=True, slots=True, eq=False)
class PlacedDemand:
    """Demand points on the network under one profile: what :func:`demand_minutes` needs per point,
    computed once for all facility types. Minutes to the ``u`` end are ``to_u``, to ``v`` ``to_v``
    (``inf`` where the one-way rule forbids that direction)."""

    ok: NDArray[np.bool_]
    edge: NDArray[np.int64]
    u: NDArray[np.int64]
    v: NDArray[np.int64]
    to_u: NDArray[np.float64]
    to_v: NDArray[np.float64]
    access_minutes: NDArray[np.float64]
    length_m: NDArray[np.float64]
    edge_minutes: NDArray[np.float64]
    up: NDArray[np.bool_]
    down: NDArray[np.bool_]


def place_demand(network: RoadNetwork, profile: Profile, demand: EdgeSnap) -> PlacedDemand:
    """Precompute the per-point terms of :func:`demand_minutes` (shared by every facility type)."""
    ok = demand.snapped
    e = np.where(ok, demand.edge, 0)
    length = network.length_m[e]
    w = edge_minutes(network, profile)[e]
    frac = np.where(ok, demand.offset_m, 0.0) / np.where(length > 0, length, 1.0)
    up, down = _edge_dirs(network, profile, e)
    u, v = network.edge_u[e], network.edge_v[e]
    # to u the demand travels v→u (down); to v it travels u→v (up)
    return PlacedDemand(
        ok=ok, edge=e, u=u, v=v,
        to_u=np.where(down, frac * w, np.inf), to_v=np.where(up, (1 - frac) * w, np.inf),
        access_minutes=np.where(ok, demand.access_m, np.nan) / profile.access_speed_m_per_min,
        length_m=length, edge_minutes=w, up=up, down=down,
    )


def demand_minutes(
    network: RoadNetwork,
    profile: Profile,
    reach: Reach,
    demand: EdgeSnap,
    facilities: EdgeSnap,
    *,
    placed: PlacedDemand | None = None,
) -> Nearest:
    """Minutes from each demand point to its nearest facility of the group behind `reach`.

    The time is: access leg + partial edge to an end node + the node's minutes; or, when a facility
    sits on the demand's own edge, the legs and the stretch of edge between them. Only the points on an
    edge with a reached end, or on a facility's edge, are computed: all others are beyond the cutoff.

    Parameters
    ----------
    placed : PlacedDemand, optional
        :func:`place_demand` of the same network, profile and demand, to reuse across groups.

    Returns
    -------
    Nearest
        Minutes above ``reach.cutoff_minutes`` are NaN.
    """
    n_d = len(demand.edge)
    minutes_out = np.full(n_d, np.nan)
    facility_out = np.full(n_d, -1, dtype=np.int64)
    if n_d == 0:
        return Nearest(minutes_out, facility_out, reach.cutoff_minutes)
    p = placed if placed is not None else place_demand(network, profile, demand)
    f_edge = facilities.edge[reach.members]
    on_facility_edge = np.zeros(network.n_edges, dtype=bool)
    on_facility_edge[f_edge] = True
    reached = np.isfinite(reach.node_minutes)
    # edges with a reached end or a facility on them, then one gather per point: no sorting
    live = reached[network.edge_u] | reached[network.edge_v] | on_facility_edge
    near = np.flatnonzero(live[p.edge] & p.ok)
    u, v = p.u[near], p.v[near]
    via_u = reach.node_minutes[u] + p.to_u[near]
    via_v = reach.node_minutes[v] + p.to_v[near]
    best = np.minimum(via_u, via_v)
    fac = np.where(via_u <= via_v, reach.node_facility[u], reach.node_facility[v])
    # facilities on the demand's own edge
    e = p.edge[near]
    on_edge = on_facility_edge[e]
    if on_edge.any():
        d_loc = np.flatnonzero(on_edge)
        order = np.argsort(f_edge, kind="stable")
        fe_sorted = f_edge[order]
        lo = np.searchsorted(fe_sorted, e[d_loc], side="left")
        hi = np.searchsorted(fe_sorted, e[d_loc], side="right")
        cnt = hi - lo
        rows = np.repeat(d_loc, cnt)
        pick = order[np.repeat(lo, cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))]
        f = reach.members[pick]
        g = near[rows]
        length = p.length_m[g]
        span = (facilities.offset_m[f] - demand.offset_m[g]) / np.where(length > 0, length, 1.0)
        allowed = np.where(span >= 0, p.up[g], p.down[g])
        direct = np.where(allowed, np.abs(span) * p.edge_minutes[g]
                          + facilities.access_m[f] / profile.access_speed_m_per_min, np.inf)
        # smallest direct time per demand row
        o = np.lexsort((direct, rows))
        first = np.ones(len(o), dtype=bool)
        first[1:] = rows[o][1:] != rows[o][:-1]
        r_best, d_best, f_best = rows[o][first], direct[o][first], f[o][first]
        better = d_best < best[r_best]
        best[r_best[better]] = d_best[better]
        fac[r_best[better]] = f_best[better]
    total = p.access_minutes[near] + best
    within = total <= reach.cutoff_minutes
    minutes_out[near[within]] = total[within]
    facility_out[near[within]] = fac[within]
    return Nearest(minutes=minutes_out, facility=facility_out, cutoff_minutes=reach.cutoff_minutes)


def straight_line_nearest(
    demand_xy: NDArray[np.float64], facility_xy: NDArray[np.float64], *, radius_m: float,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Straight-line (service-radius) distance to the nearest facility, for the 城市体检-style method.

    This is not network coverage and is never used in its place; outputs carry the method's name.

    Returns
    -------
    distance_m : ndarray of float64
        NaN beyond `radius_m`.
    facility : ndarray of int64
        Index of the nearest facility, -1 beyond `radius_m`.
    """
    if len(facility_xy) == 0:
        return np.full(len(demand_xy), np.nan), np.full(len(demand_xy), -1, dtype=np.int64)
    dist, idx = cKDTree(facility_xy).query(demand_xy, k=1, distance_upper_bound=radius_m, workers=-1)
    inside = np.isfinite(dist)
    return np.where(inside, dist, np.nan), np.where(inside, idx, -1).astype(np.int64)


def _substrings(
    network: RoadNetwork, edge: NDArray[np.int64], start_m: NDArray[np.float64], end_m: NDArray[np.float64],
) -> NDArray[np.object_]:
    """Vectorised ``line_substring``: the stretch of each edge between two distances from its u end."""
    if len(edge) == 0:
        return np.empty(0, dtype=object)
    coords, owner = shapely.get_coordinates(network.geometry[edge], return_index=True)
    seg = np.hypot(*np.diff(coords, axis=0).T)
    same = owner[1:] == owner[:-1]
    seg = np.where(same, seg, 0.0)
    chain = np.concatenate([[0.0], np.cumsum(seg)])
    first = np.searchsorted(owner, np.arange(len(edge)))
    chain = chain - chain[first][owner]  # distance from each line's start
    s, t = start_m[owner], end_m[owner]
    inner = (chain > s) & (chain < t)
    # start and end points by interpolation
    start_pt = shapely.get_coordinates(shapely.line_interpolate_point(network.geometry[edge], start_m))
    end_pt = shapely.get_coordinates(shapely.line_interpolate_point(network.geometry[edge], end_m))
    xy = np.concatenate([start_pt, coords[inner], end_pt])
    line_of = np.concatenate([np.arange(len(edge)), owner[inner], np.arange(len(edge))])
    pos = np.concatenate([np.full(len(edge), -np.inf), chain[inner], np.full(len(edge), np.inf)])
    order = np.lexsort((pos, line_of))
    return np.asarray(shapely.linestrings(xy[order], indices=line_of[order]), dtype=object)


def reached_lines(
    network: RoadNetwork,
    profile: Profile,
    reach: Reach,
    facilities: EdgeSnap,
    *,
    minutes: float,
) -> NDArray[np.object_]:
    """The road reached within `minutes` of a group's facilities: whole and partial edges, as lines.

    A point of an edge counts when the road time from it to the nearest facility is ≤ `minutes`
    (access legs of homes are not included; the polygons add them as a buffer).
    """
    if minutes > reach.cutoff_minutes:
        msg = f"`minutes` ({minutes}) exceeds the cutoff the reach was computed with ({reach.cutoff_minutes})."
        raise ValueError(msg)
    w = edge_minutes(network, profile)
    ok = ~np.isnan(w)
    length = network.length_m
    up, down = _edge_dirs(network, profile, np.arange(network.n_edges))
    tu, tv = reach.node_minutes[network.edge_u], reach.node_minutes[network.edge_v]
    with np.errstate(invalid="ignore", divide="ignore"):
        # from u's side: points within (minutes - tu) of u travelling toward u (down)
        from_u = np.where(ok & down & (tu <= minutes), np.minimum(length, (minutes - tu) / w * length), -1.0)
        from_v = np.where(ok & up & (tv <= minutes), np.minimum(length, (minutes - tv) / w * length), -1.0)
    edges, starts, ends = [], [], []
    whole = (from_u >= 0) & (from_v >= 0) & (from_u + from_v >= length)
    full = np.flatnonzero(whole | (from_u >= length) | (from_v >= length))
    edges.append(full)
    starts.append(np.zeros(len(full)))
    ends.append(length[full])
    rest = np.ones(network.n_edges, dtype=bool)
    rest[full] = False
    pu = np.flatnonzero(rest & (from_u > 0))
    edges.append(pu)
    starts.append(np.zeros(len(pu)))
    ends.append(from_u[pu])
    pv = np.flatnonzero(rest & (from_v > 0))
    edges.append(pv)
    starts.append(length[pv] - from_v[pv])
    ends.append(length[pv])
    # stretches around each facility on its own edge
    f = reach.members
    fe = facilities.edge[f]
    budget = minutes - facilities.access_m[f] / profile.access_speed_m_per_min
    wf = w[fe]
    with np.errstate(invalid="ignore", divide="ignore"):
        reach_m = np.where(budget > 0, budget / wf * length[fe], 0.0)
    fup, fdown = _edge_dirs(network, profile, fe)
    # points before the facility travel up to it; points after it travel down
    lo = np.where(fup, np.maximum(0.0, facilities.offset_m[f] - reach_m), facilities.offset_m[f])
    hi = np.where(fdown, np.minimum(length[fe], facilities.offset_m[f] + reach_m), facilities.offset_m[f])
    has = (hi - lo) > 0
    edges.append(fe[has])
    starts.append(lo[has])
    ends.append(hi[has])
    e = np.concatenate(edges)
    return _substrings(network, e, np.concatenate(starts), np.concatenate(ends))


def service_area_polygons(lines: NDArray[np.object_], *, trim_m: float = 100.0) -> shapely.Geometry:
    """A display polygon around reached road: the lines buffered by `trim_m` and merged.

    Like ArcGIS's trimmed service-area polygons, this is built from the reached edges (never a convex
    hull), so it follows the roads and leaves out land far from them.
    """
    if trim_m <= 0:
        msg = f"`trim_m` must be positive metres (got {trim_m})."
        raise ValueError(msg)
    if len(lines) == 0:
        return shapely.Polygon()
    # buffering each simplified line and merging the buffers is ~15x faster in GEOS than buffering
    # their union or a MultiLineString of them; merging disjoint subsets first saves another ~25 %
    # for display: lines simplified to a quarter of the trim and octagonal caps (error < trim / 4);
    # pieces that meet end to end are merged first, so there are fewer buffers to merge
    merged = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(shapely.simplify(lines, trim_m / 4))))
    return shapely.disjoint_subset_union_all(shapely.buffer(merged, trim_m, quad_segs=2))

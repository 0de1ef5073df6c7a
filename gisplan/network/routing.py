"""Network coverage: minutes from every demand point to the nearest facility, and service areas.

A resident's time is the access leg from home to the nearest road (straight, at the profile's access
speed), then along the roads, then the leg from the road to the facility. Facilities and demand sit on
edges at their projected points, so a partial edge counts by its length, not by a detour to a node.

All facilities of all groups (facility types) become virtual nodes of one reversed graph, with arcs to
the two ends of their edge weighted by the partial edge and access leg. Each group is then one
multi-source Dijkstra (scipy.sparse.csgraph, ``min_only``) with a cutoff, which also names the
nearest facility of every node. Demand on the same edge as a facility is checked directly along it.

The demand is held in edge order (:func:`place_demand`), so each search reads only the points on the
edges it reached, and keeps only those within its cutoff (:class:`Nearest`): the work follows the
reached area, not the number of points.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from gisplan import settings
from gisplan.i18n import _
from gisplan.network.chains import through_chains
from gisplan.network.graph import edge_minutes, index_dtype, min_csr, node_edges, travel_graph
from gisplan.network.ordering import stable_argsort

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from gisplan.catalogue import Profile
    from gisplan.network.graph import RoadNetwork
    from gisplan.network.snapping import EdgeSnap

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
    node_source : ndarray of int
        The search's source of every node as scipy returns it: facility ``i`` is the virtual node
        ``n_nodes + i``; negative where none (see :attr:`node_facility`).
    members : ndarray of int64
        The facilities of this group (indices into the facility snaps), unsnapped ones left out.
    cutoff_minutes : float
    """

    node_minutes: NDArray[np.float64]
    node_source: NDArray[np.integer[Any]]
    members: NDArray[np.int64]
    cutoff_minutes: float

    @property
    def node_facility(self) -> NDArray[np.int64]:
        """Index (into the facility snaps) of every node's nearest facility, -1 where none."""
        n = len(self.node_minutes)
        return np.where(self.node_source >= n, self.node_source.astype(np.int64) - n, -1)


@dataclass(frozen=True, slots=True, eq=False)
class Nearest:
    """For each demand point: minutes to the nearest facility and which one.

    Only the points reached within the cutoff are stored (``points``), because in a city
    most points are beyond the cutoff of most types; :attr:`minutes` and :attr:`facility` give the
    full arrays.

    Attributes
    ----------
    points : ndarray of int64
        Demand points (indices, each once, in no set order) with a facility within the cutoff.
    point_minutes : ndarray of float64
        Their minutes to the nearest facility.
    point_facility : ndarray of int64
        Their nearest facility (index into the facility arrays).
    n_points : int
        Number of demand points in all.
    cutoff_minutes : float
    """

    points: NDArray[np.int64]
    point_minutes: NDArray[np.float64]
    point_facility: NDArray[np.int64]
    n_points: int
    cutoff_minutes: float

    @property
    def minutes(self) -> NDArray[np.float64]:
        """Minutes of every point; NaN where no facility is within the cutoff, or the point is beyond
        the snapping distance."""
        out = np.full(self.n_points, np.nan)
        out[self.points] = self.point_minutes
        return out

    @property
    def facility(self) -> NDArray[np.int64]:
        """Nearest facility of every point (index into the facility arrays), -1 where none."""
        out = np.full(self.n_points, -1, dtype=np.int64)
        out[self.points] = self.point_facility
        return out

    def within(self, minutes: float) -> NDArray[np.int64]:
        """The points whose nearest facility is at most `minutes` away."""
        return self.points[self.point_minutes <= minutes]


def _edge_dirs(network: RoadNetwork, profile: Profile, edge: NDArray[np.int64]) -> tuple[NDArray[np.bool_], ...]:
    """May one travel u→v (`up`) and v→u (`down`) along these edges under `profile`."""
    if not profile.oneway:
        ones = np.ones(len(edge), dtype=bool)
        return ones, ones
    return network.forward[edge], network.backward[edge]


def _facility_graph(network: RoadNetwork, profile: Profile, facilities: EdgeSnap) -> sparse.csr_array:
    """The reversed road graph plus one virtual node per facility (id ``n_nodes + i``) with arcs to the ends
    of its edge, weighted by the access leg and the partial edge.

    The road part is built once per profile (:func:`gisplan.network.graph.travel_graph`); the facilities' rows
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
    # a facility exactly at an end node is reached from that node, whatever the one-way rule
    up, down = up | (facilities.offset_m[snapped] == 0), down | (facilities.offset_m[snapped] == network.length_m[e])
    # reversed graph: facility -> node means "node reaches the facility"; u reaches it going u→v
    tail = np.concatenate([snapped[up], snapped[down]])
    head = np.concatenate([network.edge_u[e[up]], network.edge_v[e[down]]])
    weight = np.concatenate([access[up] + frac[up] * minutes[e[up]],
                             access[down] + (1 - frac[down]) * minutes[e[down]]])
    n_f = len(facilities.edge)
    # one row per facility; a loop edge gives two arcs to one node, of which the shorter is kept
    fac = min_csr(tail, head, weight, n_f, n_cols=n)
    total = n + n_f
    itype = index_dtype(total, len(road.indices) + len(fac.indices))
    indptr = np.concatenate([road.indptr, road.indptr[-1] + fac.indptr[1:].astype(np.int64)]).astype(itype, copy=False)
    indices = np.concatenate([road.indices, fac.indices]).astype(itype, copy=False)
    return sparse.csr_array((np.concatenate([road.data, fac.data]), indices, indptr), shape=(total, total))


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
    Only each source's own reached area is read: the points on the edges at its reached nodes and on its own
    edge (before, every point near any source of the block was computed for every source of it, as a dense
    block × points array).

    Returns
    -------
    pandas.DataFrame
        ``demand`` and ``source`` (indices into the snaps) and ``minutes``, for pairs within the cutoff,
        ordered by source, then by the demand points' position along the network (edge by edge).
    """
    n = network.n_nodes
    graph = _facility_graph(network, profile, sources)
    placed = place_demand(network, profile, demand)
    ptr, incident = node_edges(network)
    todo = np.flatnonzero(sources.snapped)
    parts = []
    for lo in range(0, len(todo), block):
        src = todo[lo:lo + block]
        dist = csgraph.dijkstra(graph, directed=True, indices=n + src, limit=cutoff_minutes)[:, :n]
        s_i, d_i, total = _source_pairs(network, profile, placed, dist, sources, src, (ptr, incident))
        keep = total <= cutoff_minutes
        parts.append(pd.DataFrame({"demand": placed.point[d_i[keep]], "source": src[s_i[keep]],
                                   "minutes": total[keep]}))
    if not parts:
        return pd.DataFrame({"demand": np.empty(0, np.int64), "source": np.empty(0, np.int64),
                             "minutes": np.empty(0)})
    return pd.concat(parts, ignore_index=True)


def _source_pairs(
    network: RoadNetwork, profile: Profile, placed: PlacedDemand, dist: NDArray[np.float64], sources: EdgeSnap,
    src: NDArray[np.int64], incidence: tuple[NDArray[np.integer[Any]], NDArray[np.integer[Any]]],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """For the sources `src` of one block (`dist`: their minutes to every node), the (source row, demand slot)
    pairs that can be within the cutoff — the points on an edge with an end the source reached, or on the
    source's own edge — sorted by source then slot, and their minutes."""
    ptr, incident = incidence
    n_edges = network.n_edges
    row, node = np.nonzero(np.isfinite(dist))
    edge_at, pair = _runs(ptr[node], ptr[node + 1] - ptr[node])
    key = np.unique(np.concatenate([row[pair] * n_edges + incident[edge_at],
                                    np.arange(len(src), dtype=np.int64) * n_edges + sources.edge[src]]))
    k_row, k_edge = key // n_edges, key % n_edges
    start = placed.edge_ptr[k_edge]
    slot, owner = _runs(start, placed.edge_ptr[k_edge + 1] - start)
    s_i = k_row[owner]
    pu, pv = network.edge_u[placed.edge[slot]], network.edge_v[placed.edge[slot]]
    via = np.minimum(dist[s_i, pu] + placed.to_u[slot], dist[s_i, pv] + placed.to_v[slot])
    via -= placed.access_minutes[slot]  # to_u / to_v hold the access leg too
    # a source on the demand's own edge: straight along it
    same = np.flatnonzero(sources.edge[src][s_i] == placed.edge[slot])
    if len(same):
        direct = _along_edge_minutes(network, profile, placed, slot[same], sources, src[s_i[same]])
        via[same] = np.minimum(via[same], direct)
    return s_i, slot, via + placed.access_minutes[slot]


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
        msg = _("`cutoff_minutes` must be positive (got {cutoff_minutes}).").format(cutoff_minutes=cutoff_minutes)
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
        dist, _pred, src = csgraph.dijkstra(graph, directed=True, indices=n + members, min_only=True,
                                        limit=cutoff_minutes, return_predecessors=True)
        out.append(Reach(dist[:n], src[:n], members, float(cutoff_minutes)))
    logger.info("reach_from_facilities: %d groups, %d facilities, %d nodes, cutoff %g min",
                len(groups), len(snapped), n, cutoff_minutes)
    return tuple(out)


@dataclass(frozen=True, slots=True, eq=False)
class PlacedDemand:
    """The snapped demand points on the network under one profile, computed once for all facility types.

    The points are held in *edge order*: slot ``s`` is demand point ``point[s]``, and the points on
    edge ``e`` fill slots ``edge_ptr[e]`` to ``edge_ptr[e + 1]``. A search then reads only the slots of
    the edges it reached, as contiguous runs. Minutes from a point to its edge's ``u`` end, access leg
    included, are ``to_u``, to ``v`` ``to_v`` (``inf`` where the one-way rule forbids that direction).
    """

    point: NDArray[np.int64]
    edge_ptr: NDArray[np.int64]
    edge: NDArray[np.int64]
    to_u: NDArray[np.float64]
    to_v: NDArray[np.float64]
    access_minutes: NDArray[np.float64]
    offset_m: NDArray[np.float64]
    n_points: int
    whole_edge_minutes: NDArray[np.float64]


def place_demand(network: RoadNetwork, profile: Profile, demand: EdgeSnap) -> PlacedDemand:
    """Group the snapped demand points by edge and precompute their terms of :func:`demand_minutes`."""
    on = np.flatnonzero(demand.snapped)
    point = on[stable_argsort(demand.edge[on])]
    e = demand.edge[point]
    edge_ptr = np.zeros(network.n_edges + 1, dtype=np.int64)
    np.cumsum(np.bincount(e, minlength=network.n_edges), out=edge_ptr[1:])
    length = network.length_m[e]
    whole = edge_minutes(network, profile)
    w = whole[e]
    offset = demand.offset_m[point]
    frac = offset / np.where(length > 0, length, 1.0)
    up, down = _edge_dirs(network, profile, e)
    # a point exactly at an end node reaches that node, whatever the one-way rule
    up, down = up | (offset == length), down | (offset == 0)
    access = demand.access_m[point] / profile.access_speed_m_per_min
    # to u the demand travels v→u (down); to v it travels u→v (up)
    return PlacedDemand(
        point=point, edge_ptr=edge_ptr, edge=e,
        to_u=np.where(down, frac * w + access, np.inf), to_v=np.where(up, (1 - frac) * w + access, np.inf),
        access_minutes=access, offset_m=offset,
        n_points=len(demand.edge), whole_edge_minutes=whole,
    )


def _runs(start: NDArray[np.integer[Any]], count: NDArray[np.integer[Any]]) -> tuple[NDArray[np.int64], ...]:
    """The runs ``arange(s, s + c)`` for each (s, c) end to end, and which run each element is from."""
    owner = np.repeat(np.arange(len(count)), count)
    offset = np.asarray(start, dtype=np.int64) - (np.cumsum(count) - count)
    return np.arange(len(owner)) + offset[owner], owner


def _along_edge_minutes(
    network: RoadNetwork, profile: Profile, p: PlacedDemand, slots: NDArray[np.int64],
    facilities: EdgeSnap, f: NDArray[np.int64],
) -> NDArray[np.float64]:
    """Minutes from demand slot ``slots[i]`` straight along its edge to facility ``f[i]`` on the same edge,
    the facility's access leg included and the demand's not (``inf`` against a one-way edge)."""
    ge = p.edge[slots]
    length = network.length_m[ge]
    span = (facilities.offset_m[f] - p.offset_m[slots]) / np.where(length > 0, length, 1.0)
    up, down = _edge_dirs(network, profile, ge)
    # two points at one spot reach each other whatever the one-way rule
    return np.where(np.where(span > 0, up, np.where(span < 0, down, True)),
                    np.abs(span) * p.whole_edge_minutes[ge] + facilities.access_m[f] / profile.access_speed_m_per_min,
                    np.inf)


def _same_edge_minutes(
    network: RoadNetwork, profile: Profile, p: PlacedDemand, edges: NDArray[np.int64], first_slot: NDArray[np.int64],
    facilities: EdgeSnap, members: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """The demand points on `edges` (each holding some of the facilities `members`; its points start at
    ``first_slot`` of the caller's slot list): the direct time along the edge (the facility's access leg
    included, the demand's not) to the nearest of those facilities.

    Returns positions into the caller's slot list, their minutes and that facility."""
    f_edge = facilities.edge[members]
    order = stable_argsort(f_edge)
    fe_sorted = f_edge[order]
    lo_e = np.searchsorted(fe_sorted, edges, side="left")
    cnt_e = np.searchsorted(fe_sorted, edges, side="right") - lo_e
    n_pts = p.edge_ptr[edges + 1] - p.edge_ptr[edges]
    # every (point, facility) pair on a shared edge: for each edge, points × facilities
    position, edge_of_point = _runs(first_slot, n_pts)
    pair_count = cnt_e[edge_of_point]
    pair_fac, pair_row = _runs(lo_e[edge_of_point], pair_count)
    f = members[order[pair_fac]]
    g = p.edge_ptr[edges][edge_of_point][pair_row] + (position - first_slot[edge_of_point])[pair_row]
    direct = _along_edge_minutes(network, profile, p, g, facilities, f)
    # the smallest per point: pairs come grouped by point, so one reduceat, then the first facility at it
    group_start = np.cumsum(pair_count) - pair_count
    best = np.minimum.reduceat(direct, group_start) if len(direct) else direct
    at_best = np.flatnonzero(direct == best[pair_row])
    first = np.ones(len(at_best), dtype=bool)
    first[1:] = pair_row[at_best][1:] != pair_row[at_best][:-1]
    return position, best, f[at_best[first]]


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
    edge with a reached end, or on a facility's edge, are read: all others are beyond the cutoff, so
    the work follows the reached area, not the number of points.

    Parameters
    ----------
    placed : PlacedDemand, optional
        :func:`place_demand` of the same network, profile and demand, to reuse across groups.

    Returns
    -------
    Nearest
        The points within ``reach.cutoff_minutes``.
    """
    p = placed if placed is not None else place_demand(network, profile, demand)
    f_edge = facilities.edge[reach.members]
    # edges with a reached end or a facility on them, then the runs of their points
    ptr, incident = node_edges(network)
    nodes = np.flatnonzero(reach.node_minutes <= reach.cutoff_minutes)
    live = np.zeros(network.n_edges, dtype=bool)
    live[incident[_runs(ptr[nodes], ptr[nodes + 1] - ptr[nodes])[0]]] = True
    live[f_edge] = True
    edges = np.flatnonzero(live)
    start = p.edge_ptr[edges]
    count = p.edge_ptr[edges + 1] - start
    slots, owner = _runs(start, count)
    # node terms per edge, spread over its points (sequential reads, no per-point gather of nodes)
    eu, ev = network.edge_u[edges], network.edge_v[edges]
    via_u = reach.node_minutes[eu][owner]
    via_u += p.to_u[slots]
    via_v = reach.node_minutes[ev][owner]
    via_v += p.to_v[slots]
    from_u = via_u <= via_v
    best = np.minimum(via_u, via_v)
    # a facility on the point's own edge may be nearer straight along it
    has_facility = np.zeros(network.n_edges, dtype=bool)
    has_facility[f_edge] = True
    with_f = np.flatnonzero(has_facility[edges])
    first_slot = np.cumsum(count)[with_f] - count[with_f]
    along, direct, along_f = _same_edge_minutes(network, profile, p, edges[with_f], first_slot, facilities,
                                                reach.members)
    direct += p.access_minutes[slots[along]]
    better = direct < best[along]
    along, along_f = along[better], along_f[better]
    best[along] = direct[better]
    within = np.flatnonzero(best <= reach.cutoff_minutes)
    # the nearest facility, only for the points within: the source of the nearer end, or the one along
    edge_of = owner[within]
    source = np.where(from_u[within], reach.node_source[eu][edge_of], reach.node_source[ev][edge_of])
    fac = source.astype(np.int64) - network.n_nodes
    pos = np.searchsorted(within, along)  # `along` and `within` are both ascending
    hit = pos < len(within)
    hit[hit] = within[pos[hit]] == along[hit]
    fac[pos[hit]] = along_f[hit]
    return Nearest(points=p.point[slots[within]], point_minutes=best[within], point_facility=fac,
                   n_points=p.n_points, cutoff_minutes=reach.cutoff_minutes)


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
        msg = _("`minutes` ({minutes}) exceeds the cutoff the reach was computed with ({cutoff_minutes}).").format(
                minutes=minutes, cutoff_minutes=reach.cutoff_minutes)
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
    # whole edges are their own geometry (cutting them from 0 to their length gives the same line, at most
    # with its last vertex twice, at ~3x the cost: most reached road is whole edges)
    parts = _substrings(network, e, np.concatenate(starts), np.concatenate(ends))
    return np.concatenate([network.geometry[full], parts])


def service_area_polygons(lines: NDArray[np.object_], *, trim_m: float = settings.TRIM_M) -> shapely.Geometry:
    """A display polygon around reached road: the lines buffered by `trim_m` and merged.

    Like ArcGIS's trimmed service-area polygons, this is built from the reached edges (never a convex
    hull), so it follows the roads and leaves out land far from them.
    """
    if trim_m <= 0:
        msg = _("`trim_m` must be positive metres (got {trim_m}).").format(trim_m=trim_m)
        raise ValueError(msg)
    if len(lines) == 0:
        return shapely.Polygon()
    # buffering each simplified line and merging the buffers is ~15x faster in GEOS than buffering
    # their union or a MultiLineString of them; merging disjoint subsets first saves another ~25 %
    # for display: lines simplified to a quarter of the trim and octagonal caps (error < trim / 4);
    # (plain Douglas-Peucker: a line that crosses itself buffers the same, and it is 5x faster);
    # the pieces are then joined end to end through the junctions (through_chains: a third as many
    # buffers, fewer overlapping at each junction; the union takes half the time of line_merge's pieces)
    simple = shapely.simplify(lines, trim_m / 4, preserve_topology=False)
    chains = through_chains(shapely.get_parts(simple))
    return shapely.disjoint_subset_union_all(shapely.buffer(chains, trim_m, quad_segs=2))

"""Snap points onto the nearest road *edge* (the projected point), not the nearest node.

The search is exact and vectorised. The samples are every vertex of the usable edges and, on segments
longer than ``spacing_m``, points laid along them no more than ``spacing_m`` apart. A k-d tree over the
samples gives each query point a few candidate segments (a vertex stands for the segments that start and
end at it); the exact point-to-segment distance picks the nearest. The answer is certified: the true
nearest segment has a sample within ``sqrt(d² + (spacing/2)²)`` of the query, so once the k-th sample is
farther than that, no segment was missed. The few points that fail the check (dense junctions) are
searched again with a ball query of that radius.

A segment is named by the index of its first vertex, so the index holds only the vertices (as
``shapely.get_coordinates`` gives them), never a table per segment: on a city network (4.3 million
segments) that table and its samples cost more than the k-d tree itself.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy.spatial import cKDTree

from gisplan import settings
from gisplan.i18n import _

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from gisplan.network.graph import RoadNetwork

__all__ = ["EdgeSnap", "SnapIndex", "snap_index", "snap_points"]

logger = logging.getLogger(__name__)

_K = 6  # candidate samples per point in the first pass (fewer: faster, but more points re-searched)
_CHUNK = 32_768  # points per block: small temporaries are reused instead of re-faulted
_SPLIT_MIN = 2_000_000  # samples from which the index is split into strips, one k-d tree each, built in parallel


@dataclass(frozen=True, slots=True)
class EdgeSnap:
    """Where points meet the network.

    Attributes
    ----------
    edge : ndarray of int64
        Edge index in the network, -1 where the nearest usable road is farther than ``max_snap_m``.
    offset_m : ndarray of float64
        Distance along the edge geometry from its ``u`` end to the snapped point (NaN if unsnapped).
    access_m : ndarray of float64
        Straight-line distance from the point to the road (NaN if unsnapped).
    snapped_xy : ndarray, shape (n, 2)
        The snapped point on the road (NaN if unsnapped).
    """

    edge: NDArray[np.int64]
    offset_m: NDArray[np.float64]
    access_m: NDArray[np.float64]
    snapped_xy: NDArray[np.float64]

    @property
    def snapped(self) -> NDArray[np.bool_]:
        """True where the point reached a road within the maximum snapping distance."""
        return self.edge >= 0


@dataclass(frozen=True, slots=True, eq=False)
class SnapIndex:
    """The vertices of the usable edges, samples along their long segments, and k-d trees over both.

    A segment is named by its first vertex ``i`` (it runs from ``xy[i]`` to ``xy[i + 1]``; ``last[i]`` is
    false). Sample number ``j < len(xy)`` is vertex ``j``, the rest the extra samples. On a city network the
    samples are split into strips of x, one k-d tree each, built at the same time on every core (a tree is
    built on one core: 6.5 million samples took about a second).
    """

    xy: NDArray[np.float64]  # (n_vertices, 2): every vertex of every usable edge, edge after edge
    vertex_edge: NDArray[np.int64]  # the network edge of each vertex
    chain_m: NDArray[np.float64]  # distance along the edge from its u end to each segment's first vertex
    first: NDArray[np.bool_]  # the vertex begins its edge
    last: NDArray[np.bool_]  # the vertex ends its edge (no segment starts there)
    extra_start: NDArray[np.int64]  # the segment (first vertex) each extra sample lies on
    edge_length_m: NDArray[np.float64]  # the network's edge lengths, by network edge
    trees: tuple[cKDTree, ...]  # one per strip of x; together every sample once
    ids: tuple[NDArray[np.int64], ...]  # each tree's points as sample numbers (vertices first, then extras)
    cuts: NDArray[np.float64]  # the x between strips (strip k holds cuts[k-1] <= x < cuts[k])
    spacing_m: float

    @property
    def n_samples(self) -> int:
        """Samples in all trees."""
        return sum(int(t.n) for t in self.trees)


def snap_index(network: RoadNetwork, *, usable: NDArray[np.bool_] | None = None, spacing_m: float = 25.0) -> SnapIndex:
    """Index the edges of `network` (only those flagged in `usable`) for :func:`snap_points`.

    Parameters
    ----------
    network : RoadNetwork
    usable : ndarray of bool, optional
        Edges a profile may use; others are never snapped to (a walker is not put on a motorway).
    spacing_m : float
        Largest gap between samples along a segment (metres). Smaller is more samples and fewer
        re-searches.
    """
    if spacing_m <= 0:
        msg = _("`spacing_m` must be positive metres (got {spacing_m}).").format(spacing_m=spacing_m)
        raise ValueError(msg)
    edges = np.arange(network.n_edges) if usable is None else np.flatnonzero(usable)
    xy, owner = shapely.get_coordinates(network.geometry[edges], return_index=True)
    n = len(xy)
    first = np.ones(n, dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = first[1:]
    step = np.diff(xy, axis=0)  # the segment starting at each vertex (across an edge's end: not a segment)
    seg_len = np.zeros(n)
    seg_len[:-1] = np.hypot(step[:, 0], step[:, 1])
    seg_len[last] = 0.0
    # chainage from the edge's u end: cumulative length within each edge (adding the zeros changes no sum)
    chain = np.cumsum(seg_len)
    chain -= seg_len
    chain -= np.maximum.accumulate(np.where(first, chain, 0.0))
    # extra samples inside the segments longer than the spacing
    n_per = np.ceil(seg_len / spacing_m).astype(np.int64)
    long = np.flatnonzero(n_per > 1)
    n_extra = n_per[long] - 1
    seg_x = np.repeat(long, n_extra)
    k = 1 + np.arange(len(seg_x)) - np.repeat(np.cumsum(n_extra) - n_extra, n_extra)
    frac = (k / n_per[seg_x])[:, None]
    del n_per, long, n_extra, k, seg_len
    pts = np.empty((n + len(seg_x), 2))
    pts[:n] = xy
    pts[n:] = xy[seg_x] + frac * step[seg_x]
    del step, frac
    trees, ids, cuts = _trees(pts)
    return SnapIndex(xy, edges[owner].astype(np.int64), chain, first, last, seg_x.astype(np.int64),
                     network.length_m, trees, ids, cuts, float(spacing_m))


def _trees(pts: NDArray[np.float64]) -> tuple[tuple[cKDTree, ...], tuple[NDArray[np.int64], ...], NDArray[np.float64]]:
    """k-d trees over strips of x holding equal shares of `pts` (one strip below :data:`_SPLIT_MIN` samples or
    on one core), built in threads (scipy builds without the GIL); each tree's sample numbers; the cuts."""
    n_strips = max(1, settings.thread_count()) if len(pts) >= _SPLIT_MIN else 1
    if n_strips == 1:
        everything = np.arange(len(pts), dtype=np.int64)
        # an unbalanced tree builds twice as fast here and queries as fast
        return (cKDTree(pts, leafsize=32, balanced_tree=False, compact_nodes=False),), (everything,), np.empty(0)
    cuts = np.quantile(pts[:, 0], np.arange(1, n_strips) / n_strips)
    strip = np.searchsorted(cuts, pts[:, 0], side="right")
    order = np.argsort(strip, kind="stable")
    bounds = np.searchsorted(strip[order], np.arange(n_strips + 1))
    ids = tuple(order[bounds[k]:bounds[k + 1]].astype(np.int64) for k in range(n_strips))
    with ThreadPoolExecutor(max_workers=n_strips) as pool:
        trees = tuple(pool.map(lambda i: cKDTree(pts[i], leafsize=32, balanced_tree=False, compact_nodes=False),
                               ids))
    return trees, ids, cuts


def _tags(index: SnapIndex, sample: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The segment a sample lies on and, for a vertex, also the segment ending there (the segment starting
    there first; an edge's last vertex has only the one ending there, its first only the one starting)."""
    n_v = len(index.xy)
    vertex = sample < n_v
    v = np.where(vertex, sample, 0)
    own = np.where(index.last[v], v - 1, v)
    before = np.where(index.first[v], own, v - 1)
    if len(index.extra_start) == 0:
        return own, before
    extra = index.extra_start[np.where(vertex, 0, sample - n_v)]
    return np.where(vertex, own, extra), np.where(vertex, before, extra)


def _nearest_of(
    index: SnapIndex, px: NDArray[np.float64], py: NDArray[np.float64], cand: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Nearest of the candidate segments (n × m, -1 = none): segment and distance."""
    valid = cand >= 0
    d2 = _distance2(index, px[:, None], py[:, None], np.where(valid, cand, 0))
    d2[~valid] = np.inf
    j = np.argmin(d2, axis=1)
    r = np.arange(len(px))
    return cand[r, j], np.sqrt(d2[r, j])


def _distance2(
    index: SnapIndex, px: NDArray[np.float64], py: NDArray[np.float64], seg: NDArray[np.int64],
) -> NDArray[np.float64]:
    """Squared distance from each point to each segment (`seg`: first vertices; the points broadcast against it)."""
    xy = index.xy
    # row i of this view is (x_i, y_i, x_i+1, y_i+1): one gather of both ends of every candidate
    ends = np.lib.stride_tricks.as_strided(xy, shape=(len(xy) - 1, 4), strides=(xy.strides[0], xy.strides[1]),
                                           writeable=False)[seg]  # (*seg.shape, 4)
    dx = ends[..., 2] - ends[..., 0]
    dy = ends[..., 3] - ends[..., 1]
    qx = px - ends[..., 0]
    qy = py - ends[..., 1]
    len2 = dx * dx + dy * dy
    t = qx * dx + qy * dy
    np.divide(t, len2, out=t, where=len2 > 0)
    t[len2 <= 0] = 0.0
    np.clip(t, 0.0, 1.0, out=t)
    qx -= t * dx
    qy -= t * dy
    d2: NDArray[np.float64] = qx * qx + qy * qy
    return d2


def snap_points(
    index: SnapIndex, x: NDArray[np.float64], y: NDArray[np.float64], *, max_snap_m: float,
) -> EdgeSnap:
    """Snap points (planning CRS) to the nearest indexed edge within `max_snap_m`.

    Parameters
    ----------
    index : SnapIndex
        From :func:`snap_index`.
    x, y : ndarray
        Point coordinates in the network's CRS (metres).
    max_snap_m : float
        Points farther than this from every road are not snapped (``edge == -1``): the caller reports
        them as unreachable.

    Returns
    -------
    EdgeSnap
    """
    if max_snap_m <= 0:
        msg = _("`max_snap_m` must be positive metres (got {max_snap_m}).").format(max_snap_m=max_snap_m)
        raise ValueError(msg)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) <= _CHUNK:
        return _snap(index, x, y, max_snap_m=max_snap_m)
    # in Z-order, neighbouring queries walk the same tree nodes: 2-3x faster on a million scattered points
    order = _z_order(x, y)
    got = _snap(index, x[order], y[order], max_snap_m=max_snap_m)
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return EdgeSnap(edge=got.edge[back], offset_m=got.offset_m[back], access_m=got.access_m[back],
                    snapped_xy=got.snapped_xy[back])


def _z_order(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
    """A permutation putting points in Morton (Z) order on a 2^16 grid over their extent."""
    xy = np.nan_to_num(np.column_stack([x, y]), nan=0.0, posinf=0.0, neginf=0.0)
    lo = xy.min(axis=0)
    span = float((xy.max(axis=0) - lo).max()) or 1.0
    q = ((xy - lo) * ((2**16 - 1) / span)).astype(np.uint64)

    def spread(v: NDArray[np.uint64]) -> NDArray[np.uint64]:  # 16 bits to the even bits of 32
        for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
            v = (v | (v << np.uint64(shift))) & np.uint64(mask)
        return v

    return np.argsort(spread(q[:, 0]) | (spread(q[:, 1]) << np.uint64(1)))  # ties (one cell) in any order


def _nearest_samples(
    index: SnapIndex, px: NDArray[np.float64], py: NDArray[np.float64], strip: NDArray[np.intp], *, k: int,
    bound: float,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The `k` nearest samples of each point in its own strip's tree: distances and sample numbers (-1:
    none within the bound)."""
    if len(index.trees) == 1:
        d_s, i_s = index.trees[0].query(np.column_stack([px, py]), k=k, distance_upper_bound=bound, workers=1)
        d_s, i_s = d_s.reshape(len(px), k), i_s.reshape(len(px), k)
        return d_s, np.where(i_s < index.trees[0].n, i_s, -1)
    d_all = np.full((len(px), k), np.inf)
    i_all = np.full((len(px), k), -1, dtype=np.int64)
    for t in np.unique(strip).tolist():  # in Z-order a block is nearly always in one strip
        rows = np.flatnonzero(strip == t)
        d_s, i_s = index.trees[t].query(np.column_stack([px[rows], py[rows]]), k=k, distance_upper_bound=bound,
                                        workers=1)
        d_s, i_s = d_s.reshape(len(rows), k), i_s.reshape(len(rows), k)
        inside = i_s < index.trees[t].n
        d_all[rows] = d_s
        i_all[rows] = np.where(inside, index.ids[t][np.where(inside, i_s, 0)], -1)
    return d_all, i_all


def _search_again(
    index: SnapIndex, x: NDArray[np.float64], y: NDArray[np.float64], dist: NDArray[np.float64], *, max_snap_m: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The nearest segment of the few points the first pass could not certify: every sample of every tree within
    the certified radius (from the distance `dist` found so far) is a candidate. They are found with k-nearest
    queries of all such points at once, k growing until each point's k-th sample lies beyond its radius."""
    radius = np.hypot(np.minimum(dist, max_snap_m), index.spacing_m / 2.0) * (1 + 1e-9) + 1e-9
    q = np.column_stack([x, y])
    bound = float(radius.max()) if len(radius) else 0.0
    hit_row: list[NDArray[np.int64]] = []
    hit_sample: list[NDArray[np.int64]] = []
    for tree, ids in zip(index.trees, index.ids, strict=True):
        rows = np.arange(len(x))
        k = min(4 * _K, int(tree.n))
        while len(rows):
            d_s, i_s = tree.query(q[rows], k=k, distance_upper_bound=bound, workers=-1)
            d_s, i_s = d_s.reshape(len(rows), k), i_s.reshape(len(rows), k)
            # complete: the k-th sample is beyond the radius (inf when fewer were within the bound), or all are here
            done = (d_s[:, -1] > radius[rows]) | (k >= tree.n)
            r, c = np.nonzero(done[:, None] & (d_s <= radius[rows, None]) & (i_s < tree.n))
            hit_row.append(rows[r])
            hit_sample.append(ids[i_s[r, c]])
            rows = rows[~done]
            k = min(4 * k, int(tree.n))
    row = np.concatenate(hit_row)
    sample = np.concatenate(hit_sample)
    # in sample order within each point, as one tree's ball query gives them (ties then go the same way)
    order = np.lexsort((sample, row))
    row, sample = row[order], sample[order]
    # a point's candidates as they were tried in one row before: the segments its samples lie on, then the segments
    # ending at them; the first of equally near ones wins. As a flat list, not a row per point as wide as the most
    # candidates of any (a point far off the roads may have thousands)
    seg_h, prev_h = _tags(index, sample)
    by_row = np.argsort(np.concatenate([row, row]), kind="stable")
    cand_row = np.concatenate([row, row])[by_row]
    cand = np.concatenate([seg_h, prev_h])[by_row]
    seg = np.full(len(x), -1, dtype=np.int64)
    dist = np.full(len(x), np.inf)
    if len(cand):
        d2 = _distance2(index, x[cand_row], y[cand_row], cand)
        first = np.flatnonzero(np.r_[True, cand_row[1:] != cand_row[:-1]])
        low = np.minimum.reduceat(d2, first)
        at_low = np.flatnonzero(d2 == np.repeat(low, np.diff(np.r_[first, len(d2)])))
        points, pick = np.unique(cand_row[at_low], return_index=True)  # the first nearest of each point
        seg[points] = cand[at_low[pick]]
        dist[points] = np.sqrt(d2[at_low[pick]])
    return seg, dist


def _snap(index: SnapIndex, x: NDArray[np.float64], y: NDArray[np.float64], *, max_snap_m: float) -> EdgeSnap:
    """:func:`snap_points` on points in the order given."""
    n = len(x)
    half = index.spacing_m / 2.0
    bound = float(np.hypot(max_snap_m, half)) * (1 + 1e-9) + 1e-9
    seg = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    k = min(_K, *(int(t.n) for t in index.trees))
    # the x range of each strip, and each point's strip
    lo_x = np.concatenate([[-np.inf], index.cuts])
    hi_x = np.concatenate([index.cuts, [np.inf]])

    def block(lo: int) -> NDArray[np.int64]:
        sl = slice(lo, min(n, lo + _CHUNK))
        px, py = x[sl], y[sl]
        strip = np.searchsorted(index.cuts, px, side="right")
        d_s, i_s = _nearest_samples(index, px, py, strip, k=k, bound=bound)
        found = i_s >= 0
        seg_c, prev_c = _tags(index, np.where(found, i_s, 0))
        cand = np.concatenate([np.where(found, seg_c, -1), np.where(found, prev_c, -1)], axis=1)
        s, dd = _nearest_of(index, px, py, cand)
        seg[sl], dist[sl] = s, dd
        radius = np.hypot(np.minimum(dd, max_snap_m), half)
        # uncertain: the k-th sample is within the radius (more may be), or the radius reaches another strip
        redo = found[:, -1] & (d_s[:, -1] <= radius)
        if len(index.cuts):
            reach = radius * (1 + 1e-9) + 1e-9
            redo |= (px - lo_x[strip] <= reach) | (hi_x[strip] - px <= reach)
        return np.flatnonzero(redo) + lo

    # blocks in threads: the k-d tree query and numpy release the GIL, so every core works
    with ThreadPoolExecutor(max_workers=settings.thread_count()) as pool:
        redo = list(pool.map(block, range(0, n, _CHUNK)))
    again = np.concatenate(redo) if redo else np.empty(0, dtype=np.int64)
    if len(again):
        seg[again], dist[again] = _search_again(index, x[again], y[again], dist[again], max_snap_m=max_snap_m)
    ok = (seg >= 0) & (dist <= max_snap_m)
    s = np.where(ok, seg, 0)
    # the chosen segment's projection once more, in one fixed order of operations (the search's own
    # arithmetic is free to differ by an ulp)
    a = index.xy[s]
    dx = index.xy[s + 1, 0] - a[:, 0]
    dy = index.xy[s + 1, 1] - a[:, 1]
    seg_len = np.hypot(dx, dy)
    len2 = seg_len * seg_len
    inv = np.divide(1.0, len2, out=np.zeros_like(len2), where=len2 > 0)
    qx, qy = x - a[:, 0], y - a[:, 1]
    tt = np.clip((qx * dx + qy * dy) * inv, 0.0, 1.0)
    qx -= tt * dx
    qy -= tt * dy
    access = np.sqrt(qx * qx + qy * qy)
    tt[~ok] = np.nan
    snapped = np.column_stack([a[:, 0] + tt * dx, a[:, 1] + tt * dy])
    edge = index.vertex_edge[s]
    # clipped to the edge's own length (the sum of segment lengths may differ from it by ~1e-9 m)
    # and a point projected onto the edge's v end is exactly there (as one on its u end is at 0)
    offset = np.clip(index.chain_m[s] + tt * seg_len, 0.0, index.edge_length_m[edge])
    at_v = (tt == 1.0) & index.last[s + 1]
    offset[at_v] = index.edge_length_m[edge[at_v]]
    logger.debug("snap_points: %d points, %d re-searched, %d beyond %g m", n, len(again), int((~ok).sum()),
                 max_snap_m)
    return EdgeSnap(
        edge=np.where(ok, edge, -1),
        offset_m=np.where(ok, offset, np.nan),
        access_m=np.where(ok, access, np.nan),
        snapped_xy=snapped,
    )

"""through_chains: lines joined end to end through junctions hold every segment of the lines exactly once."""

from __future__ import annotations

import numpy as np
import shapely

from gisplan.network.chains import through_chains


def _segments(lines: np.ndarray) -> np.ndarray:
    """Every segment of `lines` as (x0, y0, x1, y1) with its ends in a fixed order, sorted (a multiset)."""
    xy, owner = shapely.get_coordinates(lines, return_index=True)
    same = owner[1:] == owner[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    rows = np.column_stack([np.where(swap[:, None], b, a), np.where(swap[:, None], a, b)])
    return rows[np.lexsort(rows.T[::-1])]


def _grid_lines(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """A random share of the edges of an n x n grid, each in a random direction, some with a middle vertex."""
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    starts = np.column_stack([i.ravel(), j.ravel()]).astype(float)
    ends = np.concatenate([starts + np.array([1.0, 0.0]), starts + np.array([0.0, 1.0])])
    starts = np.concatenate([starts, starts])
    pick = rng.random(len(starts)) < share
    a, b = starts[pick], ends[pick]
    flip = rng.random(len(a)) < 0.5
    a, b = np.where(flip[:, None], b, a), np.where(flip[:, None], a, b)
    mid = (a + b) / 2 + rng.normal(0, 0.1, a.shape)
    bent = rng.random(len(a)) < 0.3
    lines = [shapely.LineString([p, m, q]) if k else shapely.LineString([p, q])
             for p, m, q, k in zip(a, mid, b, bent, strict=True)]
    return np.array(lines, dtype=object)


def test_random_grids_keep_every_segment_once() -> None:
    """Random parts of grids (junctions of degree 1 to 4, cycles, lines in either direction): the chains hold the
    same segments as the lines, each once; no vertex is doubled at a join; fewer lines; the same every time."""
    rng = np.random.default_rng(5)
    for share in (0.3, 0.6, 0.9, 1.0):
        lines = _grid_lines(rng, 15, share)
        chains = through_chains(lines)
        assert np.array_equal(_segments(chains), _segments(lines))
        assert (shapely.get_type_id(chains) == shapely.GeometryType.LINESTRING).all()
        joins = len(lines) - len(chains)
        assert shapely.get_num_coordinates(chains).sum() == shapely.get_num_coordinates(lines).sum() - joins
        assert len(chains) < len(lines)
        assert all(a.equals_exact(b, 0) for a, b in zip(chains, through_chains(lines), strict=True))


def test_cycles_rings_and_other_geometries() -> None:
    """Four lines around a square are one closed chain; a closed line stays one; an empty line and a point pass
    through unchanged, after the chains, also beside a single line (which comes back as it is)."""
    square = [shapely.LineString([(0, 0), (1, 0)]), shapely.LineString([(1, 1), (1, 0)]),
              shapely.LineString([(1, 1), (0, 1)]), shapely.LineString([(0, 0), (0, 1)])]
    ring = shapely.LineString([(5, 5), (6, 5), (6, 6), (5, 5)])
    odd = [shapely.LineString(), shapely.Point(9, 9)]
    chains = through_chains(np.array([*square, ring, *odd], dtype=object))
    assert len(chains) == 4
    assert chains[0].is_closed
    assert len(chains[0].coords) == 5
    assert np.array_equal(_segments(chains[:1]), _segments(np.array(square, dtype=object)))
    assert chains[1].equals_exact(ring, 0)
    assert chains[2].is_empty
    assert chains[3].equals(odd[1])
    one = np.array([square[0]], dtype=object)
    assert through_chains(one)[0] is square[0]
    point_first = through_chains(np.array([odd[1], square[0]], dtype=object))
    assert point_first[0] is square[0]
    assert point_first[1] is odd[1]

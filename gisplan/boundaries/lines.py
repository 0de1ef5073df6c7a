"""Administrative boundary lines (行政区域界线) from a district outline and its neighbours' polygons, and the
boundary markers (界桩) placed along them.

Real neighbouring polygons do not share exact edges (two sources, two digitisations): each segment of the
outline goes to the nearest neighbour boundary within a tolerance (one STRtree query for all segments), and
the consecutive segments of one neighbour are merged into its line.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from gisplan.boundaries.topology import require_projected
from gisplan.errors import CRSError
from gisplan.i18n import _
from gisplan.vocab import LineLevel, MarkerState

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LINE_COLUMNS", "MARKER_COLUMNS", "boundary_lines", "place_markers"]

logger = logging.getLogger(__name__)

#: the columns of the boundary-lines layer (plus ``geometry``)
LINE_COLUMNS = ("line_id", "side_a_code", "side_a_name", "side_b_code", "side_b_name", "level", "length_km",
                "parts")
#: the columns of the markers layer (plus ``geometry``)
MARKER_COLUMNS = ("marker_no", "marker_type", "line_id", "side_a_name", "side_b_name", "state", "illustrative",
                  "note")


def _province(code: str) -> str:
    return code[:2]


def boundary_lines(
    outline: gpd.GeoDataFrame,
    neighbours: gpd.GeoDataFrame,
    *,
    tolerance_m: float = 200.0,
) -> gpd.GeoDataFrame:
    """The district's boundary lines, one per neighbour, with their two sides, level and length.

    Parameters
    ----------
    outline : geopandas.GeoDataFrame
        The district: one row with ``code12``, ``name`` and its polygon, in a projected CRS in metres.
    neighbours : geopandas.GeoDataFrame
        ``code12``, ``name`` (and optionally ``province``) and polygons of the surrounding divisions, same
        CRS; rows with the district's own code are ignored, as are divisions that do not come near it.
    tolerance_m : float
        How far (m) a segment of the outline may lie from a neighbour's boundary and still be shared with it.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`LINE_COLUMNS` and (Multi)LineString geometry, in the input CRS, longest line first. Level
        ``省级`` when the neighbour is in another province (first two digits of the code), else ``县级``
        (``乡级`` between townships). Outline segments with no neighbour within the tolerance (a river
        frontier with no polygon given) form a line with an empty side B.

    Raises
    ------
    CRSError
        If the layers are not projected or not in one CRS.

    Examples
    --------
    >>> d = gpd.GeoDataFrame({"code12": ["500118000000"], "name": ["甲区"]}, geometry=[shapely.box(0, 0, 10, 10)],
    ...                      crs="EPSG:32648")
    >>> n = gpd.GeoDataFrame({"code12": ["500119000000", "510521000000"], "name": ["乙区", "丙县"]},
    ...                      geometry=[shapely.box(10, 0, 20, 10), shapely.box(-10, -10, 30, 0)], crs="EPSG:32648")
    >>> lines = boundary_lines(d, n, tolerance_m=1)
    >>> lines[["side_b_name", "level", "length_km"]].to_numpy().tolist()
    [['丙县', '省级', 0.01], ['乙区', '县级', 0.01], ['', '县级', 0.02]]
    """
    crs = require_projected(outline, "outline")
    theirs = require_projected(neighbours, "neighbours")
    if not theirs.equals(crs):
        msg = _("`neighbours` is in {theirs} but `outline` in {crs}; reproject both to one planning CRS.").format(
            theirs=theirs.to_string(), crs=crs.to_string())
        raise CRSError(msg)
    code = str(outline["code12"].iloc[0])
    name = str(outline["name"].iloc[0])
    shape = shapely.union_all(shapely.make_valid(outline.geometry.to_numpy()))
    others = neighbours[neighbours["code12"].astype(str) != code]
    others = others[others.geometry.dwithin(shape, tolerance_m)].reset_index(drop=True)
    parts = shapely.get_parts(shape)
    rings = shapely.get_exterior_ring(parts)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring_of[:-1] == ring_of[1:]
    segments = np.asarray(shapely.linestrings(np.stack([coords[:-1][same_ring], coords[1:][same_ring]], axis=1)),
                          dtype=object)
    middles = shapely.line_interpolate_point(segments, 0.5, normalized=True)
    owner = np.full(len(segments), -1)
    if len(others):
        tree = shapely.STRtree(shapely.boundary(shapely.make_valid(others.geometry.to_numpy())))
        seg, nb = tree.query_nearest(middles, max_distance=tolerance_m, all_matches=False)
        owner[seg] = nb
    codes = np.append(others["code12"].astype(str).to_numpy(dtype=object), "")
    names = np.append(others["name"].astype(str).to_numpy(dtype=object), "")
    rows = []
    for k in np.unique(owner):  # one row per neighbour (a handful): the segments are grouped vectorised
        merged: shapely.Geometry = shapely.line_merge(shapely.multilinestrings(segments[owner == k]))
        side_code = str(codes[k])
        level = (LineLevel.PROVINCIAL if side_code and _province(side_code) != _province(code)
                 else LineLevel.TOWNSHIP if code[6:9] != "000" else LineLevel.COUNTY)
        rows.append({"side_a_code": code, "side_a_name": name, "side_b_code": side_code,
                     "side_b_name": str(names[k]), "level": level.value,
                     "length_km": round(float(shapely.length(merged)) / 1000, 2),
                     "parts": int(shapely.get_num_geometries(merged)), "geometry": merged})
    lines = gpd.GeoDataFrame(rows, geometry="geometry", crs=outline.crs)
    lines["matched"] = lines["side_b_code"] != ""
    lines = lines.sort_values(["matched", "level", "length_km"], ascending=False, key=_level_key)
    lines = lines.drop(columns="matched").reset_index(drop=True)
    lines.insert(0, "line_id", [f"{code[:6]}-{c[:6] if c else 'XXXXXX'}" for c in lines["side_b_code"]])
    logger.info("boundary_lines: %s, %d lines, %.1f km", name, len(lines), lines["length_km"].sum())
    return lines


def _level_key(column: pd.Series) -> pd.Series:
    if column.name == "level":  # 省级 before 县级 before 乡级
        return column.map({LineLevel.PROVINCIAL.value: 3, LineLevel.COUNTY.value: 2, LineLevel.TOWNSHIP.value: 1})
    return column


def place_markers(
    lines: gpd.GeoDataFrame,
    counts: dict[str, int],
    *,
    rng: int | np.random.Generator | None = None,
    marker_type: str = "单立",
) -> gpd.GeoDataFrame:
    """Illustrative (示意) boundary markers: `counts[line_id]` points spread along each line, jittered by `rng`.

    Real marker positions are not public; these show how the register and the joint-inspection sheet work.
    Markers sit at evenly spaced fractions of each line's length, each moved by up to a quarter of the spacing.

    Parameters
    ----------
    lines : geopandas.GeoDataFrame
        From :func:`boundary_lines`, projected.
    counts : dict of str to int
        Markers per ``line_id``; lines not named get none.
    rng : int, numpy.random.Generator or None
        Seed.
    marker_type : str
        界桩 type written in ``marker_type`` (单立, 双立, 三立 …).

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`MARKER_COLUMNS` and points on the lines, in the lines' CRS; ``marker_no`` like
        ``500118-510521-01``.

    Examples
    --------
    >>> l = gpd.GeoDataFrame({"line_id": ["a-b"], "side_a_name": ["甲"], "side_b_name": ["乙"]},
    ...                      geometry=[shapely.LineString([(0, 0), (1000, 0)])], crs="EPSG:32648")
    >>> m = place_markers(l, {"a-b": 2}, rng=1)
    >>> m["marker_no"].tolist(), bool((m.geometry.y == 0).all())
    (['a-b-01', 'a-b-02'], True)
    """
    gen = np.random.default_rng(rng)
    chosen = lines[lines["line_id"].isin(list(counts))].reset_index(drop=True)
    n = chosen["line_id"].map(counts).astype(int).to_numpy()
    which = np.repeat(np.arange(len(chosen)), n)
    k = np.concatenate([np.arange(c) for c in n]) if len(n) else np.empty(0, int)
    spacing = 1.0 / np.repeat(n, n)
    fraction = np.clip((k + 0.5) * spacing + gen.uniform(-0.25, 0.25, len(k)) * spacing, 0, 1)
    merged = np.asarray(shapely.line_merge(chosen.geometry.to_numpy()), dtype=object)
    longest = np.array([max(shapely.get_parts(g), key=shapely.length) for g in merged], dtype=object)
    points = shapely.line_interpolate_point(longest[which], fraction, normalized=True)
    ids = chosen["line_id"].astype(str).to_numpy()[which]
    return gpd.GeoDataFrame({
        "marker_no": [f"{i}-{j + 1:02d}" for i, j in zip(ids, k, strict=True)],
        "marker_type": marker_type,
        "line_id": ids,
        "side_a_name": chosen["side_a_name"].to_numpy()[which],
        "side_b_name": chosen["side_b_name"].to_numpy()[which],
        "state": MarkerState.GOOD.value,
        "illustrative": True,
        "note": "示意 illustrative: generated position, not a surveyed marker",
    }, geometry=points, crs=lines.crs)

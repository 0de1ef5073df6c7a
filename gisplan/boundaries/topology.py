"""Topology checks of a division layer (乡镇/街道 or 村/社区 polygons) and the repair a user reviews.

Every check works on geometry in a projected CRS in metres and reports areas in km². The checks:
invalid rings; overlaps and gaps between sibling units (with their area, a location and the units involved);
slivers (gaps, overlaps or unit parts thinner than a width); the union of the units against the parent outline;
duplicate and malformed codes; a parent hierarchy that disagrees with the geometry; boundary markers too far
from their line. Coverage edges that do not match exactly come from shapely's ``coverage_invalid_edges``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan import divisions
from gisplan.errors import CRSError
from gisplan.i18n import _
from gisplan.vocab import TopologyCheck

if TYPE_CHECKING:
    from collections.abc import Mapping

    from numpy.typing import NDArray
    from pyproj import CRS

__all__ = ["PROBLEM_COLUMNS", "TopologyReport", "check_topology", "repair_coverage", "require_projected"]

logger = logging.getLogger(__name__)

#: the columns of the problems layer (plus ``geometry``), one row per problem
PROBLEM_COLUMNS = ("check", "severity", "codes", "names", "area_km2", "length_m", "distance_m", "message")

_M2_PER_KM2 = 1_000_000.0
_POINT_IN_REASON = re.compile(r"\[\s*(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)\s*\]")


def require_projected(gdf: gpd.GeoDataFrame, what: str) -> CRS:
    """Return the CRS of `gdf`; raise CRSError unless it is projected in metres.

    Examples
    --------
    >>> require_projected(gpd.GeoDataFrame(geometry=[], crs="EPSG:32648"), "townships").to_epsg()
    32648
    """
    crs = gdf.crs
    if crs is None or not crs.is_projected:
        got = "no CRS" if crs is None else crs.to_string()
        msg = (_("`{what}` must be in a projected CRS in metres (got {got}); call gisplan.crs.to_planning_crs "
                 "first.").format(what=what, got=got))
        raise CRSError(msg)
    return crs


@dataclass(frozen=True, slots=True)
class TopologyReport:
    """What :func:`check_topology` found.

    Attributes
    ----------
    problems : geopandas.GeoDataFrame
        One row per problem (:data:`PROBLEM_COLUMNS` and geometry, in the input CRS): ``check`` is a
        :class:`~gisplan.vocab.TopologyCheck`, ``severity`` ``error`` or ``warning``, ``codes``/``names`` the
        units involved joined with "；", ``area_km2`` for areas, ``length_m`` for edges, ``distance_m`` for
        markers.
    totals : Mapping[str, float]
        ``overlap_km2`` (all overlaps between siblings), ``gap_km2`` (holes between siblings inside their
        union), ``outline_gap_km2`` (outline area in no unit, holes included), ``outside_outline_km2`` (unit area
        outside the outline), ``units_km2``, ``outline_km2`` and ``edge_mismatch_km``.
    """

    problems: gpd.GeoDataFrame
    totals: Mapping[str, float]

    def counts(self) -> pd.Series:
        """Number of problems per check, in the order of :class:`~gisplan.vocab.TopologyCheck`."""
        counts = self.problems["check"].value_counts()
        return counts.reindex([c.value for c in TopologyCheck]).fillna(0).astype(int).rename("problems")


def _rows(  # noqa: PLR0913 - the columns of a problem row
    check: TopologyCheck, geoms: NDArray[np.object_], *, severity: str, codes: list[str], names: list[str],
          messages: list[str], area_km2: NDArray[np.float64] | None = None,
          length_m: NDArray[np.float64] | None = None, distance_m: NDArray[np.float64] | None = None,
          ) -> pd.DataFrame:
    n = len(geoms)
    nan = np.full(n, np.nan)
    return pd.DataFrame({
        "check": check.value, "severity": severity, "codes": codes, "names": names,
        "area_km2": nan if area_km2 is None else area_km2, "length_m": nan if length_m is None else length_m,
        "distance_m": nan if distance_m is None else distance_m, "message": messages, "geometry": geoms,
    }, index=pd.RangeIndex(n))


def _joined(values: NDArray[np.object_], a: NDArray[np.int64], b: NDArray[np.int64]) -> list[str]:
    return [f"{x}；{y}" for x, y in zip(values[a], values[b], strict=True)]


def _mean_width_m(geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    """Twice the area over the perimeter: the mean width of a thin strip (m)."""
    perimeter = shapely.length(geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(perimeter > 0, 2 * shapely.area(geoms) / perimeter, 0.0)


def _invalid(units: gpd.GeoDataFrame, codes: NDArray[np.object_], names: NDArray[np.object_]) -> pd.DataFrame:
    geoms = units.geometry.to_numpy()
    bad = np.flatnonzero(~shapely.is_valid(geoms) | shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if len(bad) == 0:
        return _rows(TopologyCheck.INVALID_RING, np.empty(0, object), severity="error", codes=[], names=[],
                     messages=[])
    reasons = shapely.is_valid_reason(geoms[bad])
    points = []
    for reason, geom in zip(reasons, geoms[bad], strict=True):  # a handful at most: the reason text names a point
        found = _POINT_IN_REASON.search(str(reason))
        points.append(shapely.Point(float(found[1]), float(found[2])) if found else shapely.point_on_surface(geom))
    messages = [f"{n} ({c}) 的边界无效 invalid ring: {r}；请用 `gisplan boundaries check --repair` 修复"
                for c, n, r in zip(codes[bad], names[bad], reasons, strict=True)]
    return _rows(TopologyCheck.INVALID_RING, np.array(points, dtype=object), severity="error",
                 codes=list(codes[bad]), names=list(names[bad]), messages=messages)


def _overlaps(geoms: NDArray[np.object_], codes: NDArray[np.object_], names: NDArray[np.object_], *,
              min_area_m2: float, sliver_width_m: float) -> tuple[pd.DataFrame, float]:
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    pieces = shapely.intersection(geoms[a], geoms[b])
    area = shapely.area(pieces)
    total = float(area.sum())
    big = area >= min_area_m2
    a, b, pieces, area = a[big], b[big], pieces[big], area[big]
    thin = _mean_width_m(pieces) < sliver_width_m
    checks = np.where(thin, TopologyCheck.SLIVER.value, TopologyCheck.OVERLAP.value)
    messages = [f"{x} 与 {y} 重叠 {s / _M2_PER_KM2:.3f} km²{'（狭长碎片 sliver）' if t else ''}"
                for x, y, s, t in zip(names[a], names[b], area, thin, strict=True)]
    rows = _rows(TopologyCheck.OVERLAP, shapely.point_on_surface(pieces), severity="error",
                 codes=_joined(codes, a, b), names=_joined(names, a, b), messages=messages,
                 area_km2=area / _M2_PER_KM2)
    rows["check"] = checks
    rows["geometry"] = pieces
    return rows, total / _M2_PER_KM2


def _touching(pieces: NDArray[np.object_], geoms: NDArray[np.object_], codes: NDArray[np.object_],
              names: NDArray[np.object_], *, within_m: float) -> tuple[list[str], list[str]]:
    """The units each piece touches (within `within_m`), joined with "；"."""
    p, u = shapely.STRtree(geoms).query(pieces, predicate="dwithin", distance=within_m)
    frame = pd.DataFrame({"p": p, "code": codes[u], "name": names[u]}).sort_values(["p", "code"])
    joined = frame.groupby("p").agg({"code": "；".join, "name": "；".join})
    joined = joined.reindex(range(len(pieces))).fillna("")
    return joined["code"].tolist(), joined["name"].tolist()


def _gaps(union: shapely.Geometry, geoms: NDArray[np.object_], codes: NDArray[np.object_],
          names: NDArray[np.object_], *, min_area_m2: float, sliver_width_m: float) -> tuple[pd.DataFrame, float]:
    """Holes inside the union of the units: area that no sibling covers, surrounded by siblings."""
    parts = shapely.get_parts(union)
    rings = shapely.get_rings(parts)
    holes = rings[~np.isin(rings, shapely.get_exterior_ring(parts))] if len(rings) else rings
    holes = np.asarray(shapely.polygons(holes[shapely.is_closed(holes)]) if len(holes) else np.empty(0, object))
    area = shapely.area(holes) if len(holes) else np.empty(0)
    total = float(area.sum()) / _M2_PER_KM2
    holes, area = holes[area >= min_area_m2], area[area >= min_area_m2]
    near_codes, near_names = _touching(holes, geoms, codes, names, within_m=1.0)
    thin = _mean_width_m(holes) < sliver_width_m
    messages = [f"{n or '?'} 之间有缝隙 gap {s / _M2_PER_KM2:.3f} km²{'（狭长碎片 sliver）' if t else ''}"
                for n, s, t in zip(near_names, area, thin, strict=True)]
    rows = _rows(TopologyCheck.GAP, holes, severity="error", codes=near_codes, names=near_names,
                 messages=messages, area_km2=area / _M2_PER_KM2)
    rows["check"] = np.where(thin, TopologyCheck.SLIVER.value, TopologyCheck.GAP.value)
    return rows, total


def _against_outline(union: shapely.Geometry, outline: shapely.Geometry, geoms: NDArray[np.object_],
                     codes: NDArray[np.object_], names: NDArray[np.object_], *, outline_name: str,
                     tolerance_m2: float) -> tuple[pd.DataFrame, float, float]:
    """The outline's area in no unit (and not a hole between units) and the units' area outside the outline."""
    filled = shapely.union_all(shapely.polygons(shapely.get_exterior_ring(shapely.get_parts(union))))
    missing = shapely.get_parts(shapely.difference(outline, filled))  # holes between units are listed as gaps
    outside = shapely.get_parts(shapely.difference(union, outline))
    frames, totals = [], []
    all_missing_km2 = float(shapely.area(shapely.difference(outline, union))) / _M2_PER_KM2
    for found, check, verb in ((missing, TopologyCheck.OUTLINE_GAP, f"在{outline_name}内但不属于任何单元"),
                               (outside, TopologyCheck.OUTSIDE_OUTLINE, f"超出{outline_name}界线")):
        area = shapely.area(found) if len(found) else np.empty(0)
        totals.append(float(area.sum()) / _M2_PER_KM2)
        pieces, area = found[area >= tolerance_m2], area[area >= tolerance_m2]
        near_codes, near_names = _touching(pieces, geoms, codes, names, within_m=1.0)
        messages = [f"{s / _M2_PER_KM2:.3f} km² {verb}（邻近 {n or '—'}）"
                    for s, n in zip(area, near_names, strict=True)]
        frames.append(_rows(check, pieces, severity="warning", codes=near_codes, names=near_names,
                            messages=messages, area_km2=area / _M2_PER_KM2))
    return pd.concat(frames, ignore_index=True), all_missing_km2, totals[1]


def _codes(units: gpd.GeoDataFrame, *, level: str, gazetteer: pd.DataFrame | None) -> pd.DataFrame:
    codes = units["code12"].astype(str).str.strip()
    names = units["name"].astype(str)
    geoms = shapely.point_on_surface(units.geometry.to_numpy())
    malformed = ~codes.str.fullmatch(r"\d{12}")
    wrong_level = ~malformed & (divisions.division_level(codes.where(~malformed, "0" * 12)) != level)
    duplicated = codes.duplicated(keep=False) & ~malformed
    unknown = pd.Series(False, index=units.index)
    renamed = pd.Series(False, index=units.index)
    if gazetteer is not None:
        standard = dict(zip(gazetteer["code12"].astype(str), gazetteer["name"].astype(str), strict=True))
        unknown = ~malformed & ~codes.isin(standard)
        renamed = ~malformed & ~unknown & (codes.map(standard) != names)
    frames = []
    checks = ((malformed, TopologyCheck.MALFORMED_CODE, "代码 {c} 不是12位统计用区划代码"),
              (wrong_level, TopologyCheck.MALFORMED_CODE, f"代码 {{c}} 不是{level}级代码"),
              (duplicated, TopologyCheck.DUPLICATE_CODE, "代码 {c} 重复"),
              (unknown, TopologyCheck.UNKNOWN_CODE, "代码 {c} 不在区划代码表 gazetteer 中"),
              (renamed, TopologyCheck.NAME_MISMATCH, "{n} ({c}) 与区划代码表中的名称不一致"))
    for mask, check, text in checks:
        m = mask.to_numpy()
        msgs = [text.format(c=c, n=n) for c, n in zip(codes[m], names[m], strict=True)]
        frames.append(_rows(check, geoms[m], severity="error", codes=codes[m].tolist(), names=names[m].tolist(),
                            messages=msgs))
    return pd.concat(frames, ignore_index=True)


def _hierarchy(units: gpd.GeoDataFrame, parents: gpd.GeoDataFrame) -> pd.DataFrame:
    """Each unit's parent (by code) against the parent polygon that holds most of it."""
    geoms = units.geometry.to_numpy()
    pgeoms = parents.geometry.to_numpy()
    u, p = shapely.STRtree(pgeoms).query(geoms, predicate="intersects")
    share = shapely.area(shapely.intersection(geoms[u], pgeoms[p]))
    best = pd.DataFrame({"u": u, "p": p, "share": share}).sort_values("share").drop_duplicates("u", keep="last")
    holder = np.full(len(units), None, dtype=object)
    holder[best["u"].to_numpy()] = parents["code12"].astype(str).to_numpy()[best["p"].to_numpy()]
    codes = units["code12"].astype(str).to_numpy()
    series = pd.Series(codes, dtype=object).astype(str)
    by_township = parents_level_is_township(parents)
    parent_code = (series.str.slice(0, 9) + "000" if by_township else series.str.slice(0, 6) + "000000").to_numpy()
    bad = np.flatnonzero(holder != parent_code)
    pnames = dict(zip(parents["code12"].astype(str), parents["name"].astype(str), strict=True))
    names = units["name"].astype(str).to_numpy()
    msgs = [f"{names[i]} ({codes[i]}) 的代码属于 {pnames.get(parent_code[i], parent_code[i])}，"
            f"但其范围主要位于 {pnames.get(holder[i], '（无上级区域）') if holder[i] else '（无上级区域）'}"
            for i in bad]
    return _rows(TopologyCheck.PARENT_MISMATCH, shapely.point_on_surface(geoms[bad]), severity="error",
                 codes=list(codes[bad]), names=list(names[bad]), messages=msgs)


def parents_level_is_township(parents: gpd.GeoDataFrame) -> bool:
    """Whether the parent polygons are townships (else a district)."""
    return bool(len(parents)) and bool((divisions.division_level(parents["code12"].astype(str)) == "township").all())


def _markers(markers: gpd.GeoDataFrame, lines: gpd.GeoDataFrame, *, max_m: float) -> pd.DataFrame:
    by_id = dict(zip(lines["line_id"].astype(str), lines.geometry.to_numpy(), strict=True))
    line_geoms = np.array([by_id.get(str(x)) for x in markers["line_id"]], dtype=object)
    pts = markers.geometry.to_numpy()
    dist = np.where(shapely.is_missing(line_geoms), np.inf, shapely.distance(pts, line_geoms))
    bad = np.flatnonzero(dist > max_m)
    numbers = markers["marker_no"].astype(str).to_numpy()
    msgs = [f"界桩 {numbers[i]} 距界线 {markers['line_id'].iloc[i]} "
            + ("——界线不存在" if np.isinf(dist[i]) else f"{dist[i]:.0f} m（容许 {max_m:.0f} m）") for i in bad]
    return _rows(TopologyCheck.MARKER_OFF_LINE, pts[bad], severity="warning", codes=list(numbers[bad]),
                 names=[str(markers["line_id"].iloc[i]) for i in bad], messages=msgs,
                 distance_m=np.where(np.isinf(dist[bad]), np.nan, dist[bad]))


def _polygonal(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """The polygons of each geometry: make_valid may return a collection with stray lines or points."""
    out = np.asarray(geoms, dtype=object).copy()
    mixed = np.flatnonzero(shapely.get_type_id(out) == shapely.GeometryType.GEOMETRYCOLLECTION)
    if len(mixed):  # only the few units make_valid had to repair
        parts, owner = shapely.get_parts(out[mixed], return_index=True)
        polygonal = shapely.get_type_id(parts) >= shapely.GeometryType.POLYGON
        out[mixed] = [shapely.union_all(parts[polygonal & (owner == k)]) for k in range(len(mixed))]
    return out


def check_topology(  # noqa: PLR0913 - every input is an optional layer or threshold the checks use
    units: gpd.GeoDataFrame,
    *,
    level: str = "township",
    outline: gpd.GeoDataFrame | None = None,
    parents: gpd.GeoDataFrame | None = None,
    gazetteer: pd.DataFrame | None = None,
    markers: gpd.GeoDataFrame | None = None,
    lines: gpd.GeoDataFrame | None = None,
    min_area_m2: float = 100.0,
    sliver_width_m: float = 20.0,
    outline_tolerance_m2: float = 10_000.0,
    marker_max_m: float = 50.0,
) -> TopologyReport:
    """Check a layer of sibling division polygons (townships of a district, villages of townships).

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        ``code12``, ``name`` and polygons, in a projected CRS in metres.
    level : str
        ``township`` or ``village``: the level every code must have.
    outline : geopandas.GeoDataFrame, optional
        The parent outline (the district) the units' union must match, same CRS.
    parents : geopandas.GeoDataFrame, optional
        Parent polygons with ``code12`` (townships for villages, the district for townships), same CRS: each
        unit's code must name the parent that holds most of its area.
    gazetteer : pandas.DataFrame, optional
        ``code12`` and ``name``: codes must be in it, names must match.
    markers, lines : geopandas.GeoDataFrame, optional
        Boundary markers (``marker_no``, ``line_id``) and lines (``line_id``), same CRS.
    min_area_m2 : float
        Overlaps and gaps smaller than this (m²) are counted in the totals but not listed.
    sliver_width_m : float
        A gap or overlap whose mean width (2 × area / perimeter) is below this (m) is listed as a sliver.
    outline_tolerance_m2 : float
        Pieces against the outline smaller than this (m²) are counted in the totals but not listed.
    marker_max_m : float
        How far (m) a marker may lie from its line.

    Returns
    -------
    TopologyReport
        Problems in the input CRS, and the totals in km².

    Raises
    ------
    CRSError
        If a layer is not in a projected CRS, or the layers' CRSs differ.

    Examples
    --------
    >>> a = gpd.GeoDataFrame({"code12": ["500118001000", "500118002000"], "name": ["甲街道", "乙镇"]},
    ...                      geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(900, 0, 2000, 1000)],
    ...                      crs="EPSG:32648")
    >>> report = check_topology(a)
    >>> report.problems[["check", "names", "area_km2"]].head(1).to_numpy().tolist()
    [['overlap', '甲街道；乙镇', 0.1]]
    >>> report.counts()[["overlap", "edge_mismatch"]].tolist()  # the overlap's edges are not shared either
    [1, 2]
    """
    crs = require_projected(units, "units")
    for other, what in ((outline, "outline"), (parents, "parents"), (markers, "markers"), (lines, "lines")):
        if other is not None:
            theirs = require_projected(other, what)
            if not theirs.equals(crs):
                msg = _("`{what}` is in {theirs} but `units` in {crs}; use one CRS.").format(
                        what=what, theirs=theirs.to_string(), crs=crs.to_string())
                raise CRSError(msg)
    codes = units["code12"].astype(str).to_numpy(dtype=object)
    names = units["name"].astype(str).to_numpy(dtype=object)
    frames = [_invalid(units, codes, names)]
    geoms = _polygonal(shapely.make_valid(units.geometry.to_numpy()))
    overlaps, overlap_km2 = _overlaps(geoms, codes, names, min_area_m2=min_area_m2, sliver_width_m=sliver_width_m)
    union = shapely.union_all(geoms)
    gaps, gap_km2 = _gaps(union, geoms, codes, names, min_area_m2=min_area_m2, sliver_width_m=sliver_width_m)
    frames += [overlaps, gaps]
    totals = {"overlap_km2": overlap_km2, "gap_km2": gap_km2, "units_km2": float(shapely.area(geoms).sum()) / 1e6}
    if outline is not None and len(outline):
        shape = shapely.union_all(shapely.make_valid(outline.geometry.to_numpy()))
        name = str(outline["name"].iloc[0]) if "name" in outline else "上级区域"
        vs, missing_km2, outside_km2 = _against_outline(union, shape, geoms, codes, names, outline_name=name,
                                                        tolerance_m2=outline_tolerance_m2)
        frames.append(vs)
        totals |= {"outline_gap_km2": missing_km2, "outside_outline_km2": outside_km2,
                   "outline_km2": float(shapely.area(shape)) / 1e6}
    edges = shapely.coverage_invalid_edges(geoms)
    length = shapely.length(edges)
    bad = np.flatnonzero(length > 0)
    frames.append(_rows(TopologyCheck.EDGE_MISMATCH, edges[bad], severity="warning", codes=list(codes[bad]),
                        names=list(names[bad]), length_m=length[bad],
                        messages=[f"{names[i]} 有 {length[i] / 1000:.2f} km 边界与相邻单元不重合 "
                                  "(coverage_invalid_edges)" for i in bad]))
    totals["edge_mismatch_km"] = float(length.sum()) / 1000
    frames.append(_codes(units, level=level, gazetteer=gazetteer))
    if parents is not None and len(parents):
        frames.append(_hierarchy(units, parents))
    if markers is not None and lines is not None and len(markers):
        frames.append(_markers(markers, lines, max_m=marker_max_m))
    problems = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) \
        else _rows(TopologyCheck.GAP, np.empty(0, object), severity="", codes=[], names=[], messages=[])
    problems = gpd.GeoDataFrame(problems, geometry="geometry", crs=units.crs)
    logger.info("check_topology: %d units, %d problems, overlaps %.2f km², outline gap %.2f km²", len(units),
                len(problems), overlap_km2, totals.get("outline_gap_km2", 0.0))
    return TopologyReport(problems, MappingProxyType(totals))


def repair_coverage(
    units: gpd.GeoDataFrame,
    *,
    outline: gpd.GeoDataFrame | None = None,
    gap_width_m: float = 200.0,
    frame_m: float = 2000.0,
) -> gpd.GeoDataFrame:
    """A repaired copy of `units` for the user to review: overlaps removed, shared edges matched, gaps narrower
    than `gap_width_m` given to a neighbour, and (with `outline`) the units snapped to the outline.

    Uses :func:`shapely.coverage_clean` (shapely ≥ 2.2, merge strategy ``longest_border``). With an outline, the
    area outside it is added as one more polygon of the coverage while cleaning, so that slivers inside and
    outside the outline go to the side they share the longest border with; it is dropped afterwards.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        ``code12``, ``name``, polygons in a projected CRS in metres.
    outline : geopandas.GeoDataFrame, optional
        The parent outline, same CRS.
    gap_width_m : float
        Gaps narrower than this (m) are closed.
    frame_m : float
        How far (m) the outside polygon reaches beyond the outline.

    Returns
    -------
    geopandas.GeoDataFrame
        Same rows, index and columns as `units`, with ``area_km2_before``/``area_km2_after``.

    Raises
    ------
    CRSError
        If `units` is not in a projected CRS.

    Examples
    --------
    >>> a = gpd.GeoDataFrame({"code12": ["500118001000", "500118002000"], "name": ["甲", "乙"]},
    ...                      geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(900, 0, 2000, 1000)],
    ...                      crs="EPSG:32648")
    >>> fixed = repair_coverage(a)
    >>> bool(shapely.coverage_is_valid(fixed.geometry.to_numpy())), round(float(fixed["area_km2_after"].sum()), 3)
    (True, 2.0)
    """
    require_projected(units, "units")
    geoms = shapely.make_valid(units.geometry.to_numpy())
    extra: NDArray[np.object_] = np.empty(0, dtype=object)
    if outline is not None and len(outline):
        shape = shapely.union_all(shapely.make_valid(outline.geometry.to_numpy()))
        box = shapely.box(*shapely.buffer(shapely.union_all([shape, *geoms]), frame_m).bounds)
        extra = np.array([shapely.difference(box, shape)], dtype=object)
    clean = shapely.coverage_clean  # type: ignore[attr-defined]  # shapely ≥ 2.2; its stubs lag behind
    cleaned = clean(np.concatenate([geoms, extra]), gap_width=gap_width_m, merge_strategy="longest_border")
    cleaned = cleaned[: len(geoms)]
    out = units.copy()
    out["area_km2_before"] = shapely.area(geoms) / _M2_PER_KM2
    out["area_km2_after"] = shapely.area(cleaned) / _M2_PER_KM2
    return out.set_geometry(gpd.GeoSeries(cleaned, index=units.index, crs=units.crs))

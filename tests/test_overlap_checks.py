"""The overlap check of division polygons (issue 17): pairs whose shared area the other polygon's bounding box
already bounds below the share are not intersected; the problems are those of the check before, which
intersected every pair whose boxes overlapped enough (kept here as it was)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from shapely import affinity

from gisplan.validation.crosschecks import _OVERLAP_SHARE, _overlap_checks
from gisplan.validation.rules import Context, _Collector
from tests.conftest import ROOT

LAYERS = ROOT / "layers"


def _before(gdf: gpd.GeoDataFrame, planning_crs: str) -> list[tuple[int, int, float, float]]:
    """(row, other row, km², share) of every polygon the check before refused, as it computed them."""
    geoms = gdf.to_crs(planning_crs).geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    areas = shapely.area(geoms)
    smaller = np.minimum(areas[left], areas[right])
    bounds = shapely.bounds(geoms)
    box = (np.clip(np.minimum(bounds[left, 2], bounds[right, 2]) - np.maximum(bounds[left, 0], bounds[right, 0]),
                   0, None)
           * np.clip(np.minimum(bounds[left, 3], bounds[right, 3]) - np.maximum(bounds[left, 1], bounds[right, 1]),
                     0, None))
    could = (smaller > 0) & (box > _OVERLAP_SHARE * smaller)
    left, right, smaller = left[could], right[could], smaller[could]
    shared = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    share = shared / smaller
    hit = share > _OVERLAP_SHARE
    first: dict[int, tuple[int, int, float, float]] = {}
    for a, b, km2, frac in zip(left[hit], right[hit], shared[hit] / 1e6, share[hit], strict=True):
        first.setdefault(int(b), (int(b), int(a), float(km2), float(frac)))
    return sorted(first.values())


def _now(gdf: gpd.GeoDataFrame, planning_crs: str) -> list[str]:
    col = _Collector("t", np.arange(1, len(gdf) + 1))
    _overlap_checks(gdf, Context(planning_crs=planning_crs), np.ones(len(gdf), dtype=bool), col)
    return [f"{p.row}: {p.message}" for p in col.problems]


def test_the_same_polygons_are_refused_as_before() -> None:
    """The 永川 townships and villages as they are, and with polygons moved onto their neighbours by 40–70 % of
    their width (overlaps on both sides of the share) and copied (one unit drawn twice)."""
    rng = np.random.default_rng(17)
    crs = "EPSG:32648"
    for path, layer in ((LAYERS / "yongchuan_boundaries.gpkg", "townships"),
                        (LAYERS / "yongchuan_villages_illustrative.gpkg", "villages")):
        real = pyogrio.read_dataframe(path, layer=layer)
        moved = real.copy()
        metric = moved.to_crs(crs)
        picks = rng.choice(len(moved), size=max(4, len(moved) // 5), replace=False)
        geoms = metric.geometry.to_numpy().copy()
        for k, i in enumerate(picks):
            x0, _, x1, _ = geoms[i].bounds
            geoms[i] = affinity.translate(geoms[i], xoff=(0.4 + 0.3 * k / len(picks)) * (x1 - x0))
        geoms[picks[0]] = geoms[picks[1]]
        moved = gpd.GeoDataFrame(moved.drop(columns="geometry"), geometry=geoms, crs=crs).to_crs(real.crs)
        for gdf in (real, moved):
            before = _before(gdf, crs)
            now = _now(gdf, crs)
            assert [int(p.split(":")[0]) for p in now] == [b + 1 for b, *_ in before]
            for (_b, a, km2, share), text in zip(before, now, strict=True):
                assert f"(row {a + 1}) by {km2:,.2f} km², {share:.0%}" in text
        assert _now(moved, crs)  # the moved polygons do overlap some neighbours by more than the share

"""Coverage gaps of several types at once: the same frames as one type at a time, polygons shared where the
uncovered areas are the same, and the same on one thread as on several."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geopandas.testing import assert_geodataframe_equal

from gisplan import settings
from gisplan.analysis.gaps import GAP_COLUMNS, coverage_gaps, coverage_gaps_by_type


def _demand() -> gpd.GeoDataFrame:
    """Three clusters along a line, 100 m apart within a cluster (示意); type a covers the middle cluster's first
    point, type b nothing, type c everything."""
    rng = np.random.default_rng(17)
    xs = np.concatenate([np.arange(0, 1000, 100), np.arange(5000, 5600, 100), np.arange(9000, 9300, 100)])
    n = len(xs)
    covered_a = np.zeros(n, dtype=bool)
    covered_a[10] = True
    return gpd.GeoDataFrame({
        "population": rng.integers(1, 50, n).astype(float),
        "households": rng.integers(1, 20, n).astype(float),
        "township_code12": ["500118001000"] * 10 + ["500118100000"] * 9,
        "code12": ["500118001001"] * 10 + ["500118100001"] * 6 + ["500118100002"] * 3,
        "covered_a": covered_a, "covered_b": np.zeros(n, dtype=bool), "covered_c": np.ones(n, dtype=bool),
    }, geometry=shapely.points(xs, rng.normal(0.0, 20.0, n)), crs="EPSG:32648")


def test_by_type_is_each_type_in_turn() -> None:
    demand = _demand()
    one_by_one = [coverage_gaps(demand, type_id=t, link_m=150) for t in ("a", "b", "c")]
    expected = gpd.GeoDataFrame(pd.concat(one_by_one, ignore_index=True), geometry="geometry", crs=demand.crs)
    got = coverage_gaps_by_type(demand, type_ids=["a", "b", "c"], link_m=150)
    assert_geodataframe_equal(got, expected, check_crs=True)
    assert got.groupby("facility_type").size().to_dict() == {"a": 3, "b": 3}  # c covers everyone: no area
    # the first and last clusters are the same points for a and b: one polygon, drawn once, both rows
    a, b = got[got["facility_type"] == "a"], got[got["facility_type"] == "b"]
    first_a = a.geometry[a["village_code12"].eq("500118001001")].iloc[0]
    first_b = b.geometry[b["village_code12"].eq("500118001001")].iloc[0]
    assert first_a is first_b
    assert a["points"].sum() == 18
    assert b["points"].sum() == 19


def test_threads_draw_the_same_polygons() -> None:
    demand = _demand()
    with settings.threads(1):
        single = coverage_gaps_by_type(demand, type_ids=["a", "b"], link_m=150)
    with settings.threads(3):
        several = coverage_gaps_by_type(demand, type_ids=["a", "b"], link_m=150)
    assert_geodataframe_equal(single, several, check_crs=True)
    assert (shapely.to_wkb(single.geometry.to_numpy()) == shapely.to_wkb(several.geometry.to_numpy())).all()


def test_no_types_gives_the_empty_gap_frame() -> None:
    demand = _demand()
    got = coverage_gaps_by_type(demand, type_ids=[], link_m=150)
    assert list(got.columns) == [*GAP_COLUMNS, "geometry"]
    assert len(got) == 0
    assert got.crs == demand.crs

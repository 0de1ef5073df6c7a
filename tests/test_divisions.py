"""The one point-in-polygon division lookup (gisplan.divisions), used by coverage, demand and siting."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gisplan.divisions import division_code_at, points_within
from gisplan.errors import CRSError

UTM = "EPSG:32648"  # metres, around Yongchuan


def _towns() -> gpd.GeoDataFrame:
    # two 1 km squares side by side that overlap in the strip 900–1000 m
    return gpd.GeoDataFrame({"code12": [500118001000, "500118002000"]},
                            geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(900, 0, 1900, 1000)], crs=UTM)


def test_points_within_lists_every_pair_in_point_order() -> None:
    polygons = _towns().geometry.to_numpy()
    pts = shapely.points([(1500, 500), (950, 500), (5000, 5000), (100, 100)])
    point, polygon = points_within(pts, polygons)
    assert point.tolist() == [0, 1, 1, 3]
    assert polygon.tolist() == [1, 0, 1, 0]
    assert point.dtype == polygon.dtype == np.int64


def test_points_within_empty_inputs() -> None:
    point, polygon = points_within(np.empty(0, dtype=object), _towns().geometry.to_numpy())
    assert (point.tolist(), polygon.tolist()) == ([], [])
    point, polygon = points_within(shapely.points([(1, 1)]), np.empty(0, dtype=object))
    assert (point.tolist(), polygon.tolist()) == ([], [])


def test_division_code_at_names_the_polygon_or_none() -> None:
    pts = gpd.GeoSeries(shapely.points([(500, 500), (1500, 500), (950, 500), (-10, 500)]), crs=UTM)
    codes = division_code_at(pts, _towns())
    # codes are text even when the layer holds numbers; the overlap takes the first polygon; outside: None
    assert codes.tolist() == ["500118001000", "500118002000", "500118001000", None]
    assert codes.dtype == object


def test_division_code_at_reprojects_the_divisions_to_the_points() -> None:
    towns = _towns().to_crs("EPSG:4326")
    pts = gpd.GeoSeries(shapely.points([(1500, 500), (500, 500)]), crs=UTM)
    assert division_code_at(pts, towns).tolist() == ["500118002000", "500118001000"]


def test_division_code_at_without_divisions_or_points() -> None:
    pts = gpd.GeoSeries(shapely.points([(500, 500)]), crs=UTM)
    assert division_code_at(pts, None).tolist() == [None]
    assert division_code_at(pts, _towns().iloc[:0]).tolist() == [None]
    assert division_code_at(gpd.GeoSeries([], crs=UTM), _towns()).tolist() == []


def test_division_code_at_refuses_points_without_a_crs() -> None:
    with pytest.raises(CRSError, match="`points` has no CRS"):
        division_code_at(gpd.GeoSeries(shapely.points([(500, 500)])), _towns())

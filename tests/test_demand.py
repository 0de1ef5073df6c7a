"""Demand from a population raster, household points, and a table spread over villages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from shapely import LineString, box

from gisplan.analysis.coverage import assign_units
from gisplan.analysis.demand import demand_from_points, demand_from_raster, demand_from_table
from gisplan.errors import CRSError, SchemaError
from gisplan.network.graph import build_network

if TYPE_CHECKING:
    from pathlib import Path

UTM = "EPSG:32648"


def _codes(series: pd.Series) -> list[str | None]:
    return [c if isinstance(c, str) else None for c in series]


def _raster(path: Path, values: np.ndarray, *, crs: str | None = UTM, nodata: float | None = -1.0) -> Path:
    """A GeoTIFF of persons per 100 m cell with its top-left corner at (600000, 3250000)."""
    with rasterio.open(path, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1,
                       dtype="float32", crs=crs, transform=from_origin(600_000, 3_250_000, 100, 100),
                       nodata=nodata) as dst:
        dst.write(values.astype("float32"), 1)
    return path


def test_raster_cells_become_weighted_points(tmp_path: Path) -> None:
    values = np.array([[0, 12.5, -1], [3, 0, 40]])  # -1 is nodata
    demand = demand_from_raster(_raster(tmp_path / "pop.tif", values), crs=UTM)
    assert demand["demand_id"].tolist() == ["r0c1", "r1c0", "r1c2"]
    assert demand["population"].tolist() == [12.5, 3.0, 40.0]
    assert demand["households"].isna().all()
    xy = shapely.get_coordinates(demand.geometry.to_numpy())
    assert xy.tolist() == [[600_150.0, 3_249_950.0], [600_050.0, 3_249_850.0], [600_250.0, 3_249_850.0]]
    assert set(demand["spread_over"]) == {"raster cell"}


def test_raster_is_read_only_inside_the_area(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(1, 9, (50, 50)).astype(float)
    path = _raster(tmp_path / "pop.tif", values)
    area = gpd.GeoDataFrame(geometry=[box(601_000, 3_246_000, 602_000, 3_247_000)], crs=UTM).to_crs(4326)
    demand = demand_from_raster(path, crs=UTM, area=area)
    # cells with centres inside a 1 km square: rows 30..39, columns 10..19
    assert len(demand) == 100
    assert demand["population"].sum() == pytest.approx(values[30:40, 10:20].sum())


def test_raster_without_crs_or_not_a_raster(tmp_path: Path) -> None:
    path = _raster(tmp_path / "nocrs.tif", np.ones((2, 2)), crs=None)
    with pytest.raises(CRSError, match="has no CRS"):
        demand_from_raster(path, crs=UTM)
    bad = tmp_path / "pop.tif.txt"
    bad.write_text("not a raster", encoding="utf-8")
    with pytest.raises(SchemaError, match="cannot read the file as a raster"):
        demand_from_raster(bad, crs=UTM)


def test_household_points() -> None:
    pts = gpd.GeoDataFrame({"household_id": ["a", "b"], "households": [1, 3], "code12": ["500118001001", None]},
                           geometry=[shapely.Point(105.9, 29.35), shapely.Point(105.91, 29.36)], crs=4326)
    demand = demand_from_points(pts, crs=UTM)
    assert demand["demand_id"].tolist() == ["a", "b"]
    assert demand["households"].tolist() == [1.0, 3.0]
    assert demand["population"].isna().all()
    assert _codes(demand["township_code12"]) == ["500118001000", None]
    assert demand.crs.to_epsg() == 32648


def _villages() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    towns = gpd.GeoDataFrame({"code12": ["500118001000", "500118002000"]},
                             geometry=[box(0, 0, 2000, 1000), box(2000, 0, 4000, 1000)], crs=UTM)
    villages = gpd.GeoDataFrame({"code12": ["500118001001", "500118001002"]},
                                geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)], crs=UTM)
    return towns, villages


def test_table_spread_over_village_area_keeps_totals() -> None:
    towns, villages = _villages()
    table = pd.DataFrame({"code12": ["500118001001", "500118001002", "500118002007"],
                          "population": [1000, 300, 90], "households": [400, 120, 30]})
    demand = demand_from_table(table, villages=villages, townships=towns, crs=UTM, spread="area", spacing_m=100)
    totals = demand.groupby("code12")[["population", "households"]].sum()
    assert totals.loc["500118001001"].tolist() == pytest.approx([1000, 400])
    assert totals.loc["500118002007"].tolist() == pytest.approx([90, 30])
    counts = demand.groupby("code12").size()
    assert counts.tolist() == [100, 100, 200]  # 100 m grids over 1 km², 1 km² and the 2 km² township
    spread = demand.groupby("code12")["spread_over"].first()
    assert spread.tolist() == ["village area", "village area", "township area"]
    assert demand["township_code12"].iloc[-1] == "500118002000"


def test_table_spread_along_roads() -> None:
    towns, villages = _villages()
    roads = gpd.GeoDataFrame(geometry=[LineString([(0, 500), (1000, 500)]), LineString([(1000, 500), (1000, 900)])],
                             crs=UTM)
    net = build_network(roads, min_piece_m=0)
    table = pd.DataFrame({"code12": ["500118001001", "500118001002"], "population": [600, 50]})
    demand = demand_from_table(table, villages=villages, townships=towns, crs=UTM, spread="roads", spacing_m=100,
                               network=net, )
    first = demand[demand["code12"] == "500118001001"]
    # 10 points along the 1 km road; the 400 m spur lies on the boundary x = 1000, inside neither polygon
    assert len(first) == 10
    assert first["population"].sum() == pytest.approx(600)
    assert set(first["spread_over"]) == {"village roads"}
    second = demand[demand["code12"] == "500118001002"]
    assert set(second["spread_over"]) == {"village area"}  # no road inside: spread over the area
    assert second["population"].sum() == pytest.approx(50)


def test_table_code_without_any_polygon_is_reported() -> None:
    towns, villages = _villages()
    table = pd.DataFrame({"code12": ["500118009001"], "population": [5]})
    with pytest.raises(SchemaError, match=r"row 1, field `code12`: no village or township polygon for 500118009001"):
        demand_from_table(table, villages=villages, townships=towns, crs=UTM, spread="area")


def test_units_are_assigned_by_location() -> None:
    towns, villages = _villages()
    pts = gpd.GeoDataFrame({"households": [1, 1, 1]},
                           geometry=[shapely.Point(500, 500), shapely.Point(3000, 500), shapely.Point(9000, 0)],
                           crs=UTM)
    demand = assign_units(demand_from_points(pts, crs=UTM), townships=towns, villages=villages)
    assert _codes(demand["township_code12"]) == ["500118001000", "500118002000", None]
    assert _codes(demand["code12"]) == ["500118001001", None, None]


def test_household_points_are_projected_exactly_as_to_crs() -> None:
    """demand_from_points projects the coordinates directly (no second geometry array): the same numbers,
    bit for bit, as GeoDataFrame.to_crs, which it used before (issue 17)."""
    rng = np.random.default_rng(17)
    lon, lat = rng.uniform(105.2, 106.4, 5000), rng.uniform(28.8, 30.2, 5000)
    pts = gpd.GeoDataFrame({"households": np.ones(5000)}, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    got = shapely.get_coordinates(demand_from_points(pts, crs=UTM).geometry.to_numpy())
    want = shapely.get_coordinates(pts.to_crs(UTM).geometry.to_numpy())
    assert np.array_equal(got, want)
    # already in the planning CRS: to_crs itself
    same = demand_from_points(pts.to_crs(UTM), crs=UTM)
    assert np.array_equal(shapely.get_coordinates(same.geometry.to_numpy()), want)

"""The ad-hoc `gisplan coverage` on coordinate arrays gives what the GeoDataFrame pipeline gave (issue 17): the same
planning CRS, minutes, nearest facilities, snaps and points, bit for bit, on the real 永川 roads; its GeoParquet
file is what geopandas writes; its table reading keeps every message."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import shapely
from click.testing import CliRunner

from gisplan.analysis.coverage import TypeTarget, measure_coverage
from gisplan.analysis.demand import demand_from_points
from gisplan.catalogue import load_catalogue
from gisplan.cli.coverage import _all_distinct, read_point_arrays, read_points
from gisplan.cli.main import cli
from gisplan.coords import transform_geometries
from gisplan.crs import parse_crs, to_storage_crs, utm_crs_of_lonlat
from gisplan.io.geoparquet import point_wkb, write_points_parquet
from gisplan.io.spatial import read_spatial
from gisplan.network.graph import build_network
from tests.conftest import shared_data

if TYPE_CHECKING:
    from pathlib import Path

ROADS = ("roads", "yongchuan_roadlinks_wgs84.geojson")


@functools.cache
def _points(seed: int, n_demand: int, n_facilities: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded (示意) homes and facilities scattered 150 m around the real 永川 road vertices, as lon/lat."""
    roads = gpd.read_file(shared_data(*ROADS))
    vertices = shapely.get_coordinates(roads.geometry.to_numpy())
    rng = np.random.default_rng(seed)

    def near(n: int) -> np.ndarray:
        return vertices[rng.integers(0, len(vertices), n)] + rng.normal(0.0, 150 / 111_000, (n, 2))

    dem, fac = near(n_demand), near(n_facilities)
    demand = pd.DataFrame({"编号": [f"H{i:05d}" for i in range(n_demand)], "经度": np.round(dem[:, 0], 7),
                           "纬度": np.round(dem[:, 1], 7)})
    facilities = pd.DataFrame({"id": [f"F{i:03d}" for i in range(n_facilities)], "名称": "示意站",
                               "lon": np.round(fac[:, 0], 7), "lat": np.round(fac[:, 1], 7)})
    return demand, facilities


def _reference(roads: Path, fac_csv: Path, dem_csv: Path, profile_id: str, minutes: float) -> gpd.GeoDataFrame:
    """The ad-hoc pipeline as it was before issue 17's array path: points as GeoDataFrames, the planning CRS from
    estimate_utm_crs, the demand layer from demand_from_points, and measure_coverage."""
    declared = parse_crs("EPSG:4326")
    fac, dem = read_points(fac_csv, declared, role="facilities"), read_points(dem_csv, declared, role="demand")
    planning = dem.estimate_utm_crs()
    network = build_network(to_storage_crs(read_spatial(roads), declared, source=roads.name), crs=planning)
    slim = gpd.GeoDataFrame({"demand_id": dem["id"].to_numpy(dtype=object)}, geometry=dem.geometry.to_numpy(),
                            crs=dem.crs)
    profile = load_catalogue().profiles[profile_id]
    target = TypeTarget("facilities", "fac", fac.assign(facility_id=fac["id"]), profile, minutes)
    result = measure_coverage(demand_from_points(slim, crs=planning, source="dem"), [target], network=network,
                              bands_minutes=(minutes,), max_snap_m=1000.0, polygons=False)
    d = result.demand
    return gpd.GeoDataFrame({
        "demand_id": d["demand_id"].to_numpy(),
        "nearest_facility_id": d["facility_facilities"].astype(object).to_numpy(),
        "minutes": np.round(d["minutes_facilities"].to_numpy(dtype=float), 6),
        "covered": d["covered_facilities"].to_numpy(dtype=bool),
        "access_m": np.round(d["access_m"].to_numpy(dtype=float), 3),
        "reached_road": d["snapped"].to_numpy(dtype=bool),
    }, geometry=dem.geometry.to_numpy(), crs="EPSG:4326")


@pytest.mark.parametrize(("profile_id", "minutes"), [("walk", 15.0), ("drive", 4.0)])
def test_array_path_equals_the_geodataframe_pipeline_on_real_roads(profile_id: str, minutes: float,
                                                                    tmp_path: Path) -> None:
    demand, facilities = _points(17, 30_000, 60)
    dem_csv, fac_csv = tmp_path / "小区.csv", tmp_path / "fac.csv"
    demand.to_csv(dem_csv, index=False, encoding="gbk")
    facilities.to_csv(fac_csv, index=False, encoding="utf-8-sig")
    roads = shared_data(*ROADS)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["coverage", "--roads", str(roads), "--facilities", str(fac_csv), "--demand",
                                      str(dem_csv), "--crs", "EPSG:4326", "--profile", profile_id, "--minutes",
                                      f"{minutes:g}", "--geo-format", "parquet", "--csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    got = gpd.read_parquet(out / "demand_minutes.parquet")
    want = _reference(roads, fac_csv, dem_csv, profile_id, minutes)
    assert 0.05 < want["covered"].mean() < 0.95  # a real mix of covered, uncovered and unreachable points
    assert (~want["reached_road"]).any()
    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                  pd.DataFrame(want.drop(columns="geometry")), check_exact=True)
    # the points as they were read, byte for byte
    assert shapely.to_wkb(got.geometry.to_numpy()).tolist() == shapely.to_wkb(want.geometry.to_numpy()).tolist()
    table = pd.read_csv(out / "demand_minutes.csv", dtype={"demand_id": str, "nearest_facility_id": str})
    assert table["demand_id"].tolist() == want["demand_id"].tolist()
    assert table["minutes"].to_numpy() == pytest.approx(want["minutes"].to_numpy(), nan_ok=True, rel=0, abs=1e-9)
    assert table["covered"].tolist() == want["covered"].tolist()


@pytest.mark.parametrize("crs", ["EPSG:4326", "gcj02"])
def test_geoparquet_roads_give_what_the_same_roads_as_geojson_give(crs: str, tmp_path: Path) -> None:
    """A GeoParquet road file goes through network.roadfile.read_road_parquet straight into the planning CRS;
    the same roads as GeoJSON through the general reader: the same minutes, facilities and snaps, exactly."""
    demand, facilities = _points(23, 10_000, 40)
    dem_csv, fac_csv = tmp_path / "dem.csv", tmp_path / "fac.csv"
    demand.to_csv(dem_csv, index=False)
    facilities.to_csv(fac_csv, index=False)
    geojson = shared_data(*ROADS)
    parquet = tmp_path / "roads.parquet"
    gpd.read_file(geojson).to_parquet(parquet)
    got = {}
    for roads in (geojson, parquet):
        out = tmp_path / roads.suffix.strip(".")
        result = CliRunner().invoke(cli, ["coverage", "--roads", str(roads), "--facilities", str(fac_csv),
                                          "--demand", str(dem_csv), "--crs", crs, "--profile", "walk", "--minutes",
                                          "15", "--geo-format", "parquet", "--out", str(out)])
        assert result.exit_code == 0, result.output
        got[roads.suffix] = pd.DataFrame(gpd.read_parquet(out / "demand_minutes.parquet").drop(columns="geometry"))
    assert 0.01 < got[".parquet"]["covered"].mean() < 0.99  # some points reach a facility, not all
    pd.testing.assert_frame_equal(got[".parquet"], got[".geojson"], check_exact=True)


@pytest.mark.parametrize("bounds", [
    (105.3, 28.9, 106.2, 29.6),  # 永川
    (-74.3, 40.5, -73.7, 40.9),  # west and north
    (150.8, -34.1, 151.3, -33.6),  # south
    (101.0, 29.0, 103.0, 30.0),  # centre on the 102°E zone edge
    (-10.0, -1.0, 10.0, 1.0),  # centre on the equator and the 0° edge
    (20.0, 83.0, 21.0, 86.0),  # beyond 84°N: the database decides
    (-179.9, 10.0, 179.9, 11.0),  # centre near the antimeridian
])
def test_utm_zone_of_coordinate_arrays_equals_estimate_utm_crs(bounds: tuple[float, float, float, float]) -> None:
    west, south, east, north = bounds
    rng = np.random.default_rng(3)
    lon = np.r_[west, east, rng.uniform(west, east, 50)]
    lat = np.r_[south, north, rng.uniform(south, north, 50)]
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    try:
        want = points.estimate_utm_crs()
    except RuntimeError:  # no UTM zone (polar): the same refusal
        with pytest.raises(RuntimeError):
            utm_crs_of_lonlat(lon, lat)
        return
    assert utm_crs_of_lonlat(lon, lat) == want


def test_point_wkb_and_the_geoparquet_file_are_what_geopandas_writes(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-180, 180, 1000), rng.uniform(-90, 90, 1000)
    assert point_wkb(x, y).to_pylist() == shapely.to_wkb(shapely.points(x, y)).tolist()
    import pyarrow as pa

    path = tmp_path / "p.parquet"
    write_points_parquet({"id": pa.array([f"点{i}" for i in range(1000)]),
                          "minutes": pa.array(np.where(x > 0, y, np.nan), from_pandas=True)}, x, y, path)
    ours = gpd.read_parquet(path)
    theirs = gpd.GeoDataFrame({"id": [f"点{i}" for i in range(1000)], "minutes": np.where(x > 0, y, np.nan)},
                              geometry=shapely.points(x, y), crs="EPSG:4326")
    theirs.to_parquet(tmp_path / "g.parquet", index=False)
    assert ours.crs == theirs.crs
    pd.testing.assert_frame_equal(pd.DataFrame(ours.drop(columns="geometry")),
                                  pd.DataFrame(gpd.read_parquet(tmp_path / "g.parquet").drop(columns="geometry")))
    assert ours.geometry.geom_equals_exact(theirs.geometry, tolerance=0).all()
    # the GeoParquet metadata readers use (GDAL/QGIS, DuckDB): geopandas' own, the creator aside
    ours_geo, theirs_geo = (json.loads(pq.read_schema(f).metadata[b"geo"]) for f in (path, tmp_path / "g.parquet"))
    ours_geo.pop("creator")
    theirs_geo.pop("creator")
    assert ours_geo == theirs_geo
    assert pq.read_schema(path).field("geometry") == pq.read_schema(tmp_path / "g.parquet").field("geometry")


def test_point_arrays_keep_the_reading_rules_and_messages(tmp_path: Path) -> None:
    declared = parse_crs("4326")
    dup = tmp_path / "dup.csv"
    dup.write_text("永川区小区（示意）\nid,lon,lat\nA,105.9,29.3\nB,105.8,29.3\nA,105.7,29.3\n合计,,\n", encoding="utf-8")
    with pytest.raises(Exception, match="duplicate id 'A'") as err:
        read_point_arrays(dup, declared, role="demand")
    assert [(p.row, p.field) for p in err.value.problems] == [(3, "id"), (5, "id")]  # type: ignore[attr-defined]
    empty = tmp_path / "empty_id.csv"
    empty.write_text("id,lon,lat\n,105.9,29.3\nB,105.8,29.3\n", encoding="utf-8")
    points = read_point_arrays(empty, declared, role="demand")
    assert points.ids.to_pylist() == ["None", "B"]  # as the frame's astype(str) always named an empty id
    assert points.lon.tolist() == [105.9, 105.8]
    noid = tmp_path / "noid.csv"
    noid.write_text("经度,纬度\n105.9,29.3\n105.8,29.4\n", encoding="utf-8")
    assert read_point_arrays(noid, declared, role="demand").ids.to_pylist() == ["1", "2"]
    gcj = read_point_arrays(noid, parse_crs("gcj02"), role="demand")
    # the numbers to_storage_crs gave the points (coords.transform_geometries), without the points
    before = transform_geometries(shapely.points([105.9, 105.8], [29.3, 29.4]), source="gcj02")
    assert np.array_equal(np.column_stack([gcj.lon, gcj.lat]), shapely.get_coordinates(before))
    frame = read_points(noid, parse_crs("gcj02"), role="demand")
    assert frame.columns.tolist() == ["经度", "纬度", "geometry", "id"]
    assert frame["id"].tolist() == ["1", "2"]


def test_plain_coordinates_are_the_numbers_to_crs_gives() -> None:
    """The roads' vertices in the planning CRS, transformed in place of pyproj's copies, bit for bit."""
    from pyproj import CRS

    from gisplan.crs import plain_coordinates_in, transform_xy

    roads = gpd.read_file(shared_data(*ROADS))
    xy, owner = plain_coordinates_in(roads.geometry.to_numpy(), roads.crs, CRS.from_epsg(32648))
    want, want_owner = shapely.get_coordinates(roads.to_crs(32648).geometry.to_numpy(), return_index=True)
    assert np.array_equal(xy, want)
    assert np.array_equal(owner, want_owner)
    x, y = transform_xy(want[:100, 0], want[:100, 1], "EPSG:32648", "EPSG:32648")  # the same CRS: unchanged
    assert np.array_equal(y, want[:100, 1])
    assert np.array_equal(x, want[:100, 0])


@pytest.mark.parametrize("ids", [
    ["D1", "D2", "D3"], ["D3", "D1", "D2"], ["A", "B", "A"], ["B", "A", "A"], ["1", "10", "9", "10"], ["x"], [],
    ["", "a", ""], ["养老", "养老站", "养"], ["a", "b", "c", "b", "d"],
])
def test_ids_are_distinct_as_the_dictionary_says(ids: list[str]) -> None:
    """The quick test of duplicate ids (ascending ids, else sorted ones) agrees with the dictionary's count."""
    arr = pa.array(ids, type=pa.string())
    assert _all_distinct(arr) == (len(pc.unique(arr)) == len(arr))
    assert _all_distinct(arr.cast(pa.large_string())) == (len(set(ids)) == len(ids))


def test_geoparquet_dictionary_columns_change_the_encoding_not_the_table(tmp_path: Path) -> None:
    """The ad-hoc file dictionary-encodes only the nearest facility (few values); the table read is the same."""
    rng = np.random.default_rng(6)
    x, y = rng.uniform(105, 106, 5000), rng.uniform(29, 30, 5000)
    columns = {"demand_id": pa.array([f"D{i:05d}" for i in range(5000)]),
               "nearest_facility_id": pa.array([f"F{i % 7}" if i % 3 else None for i in range(5000)])}
    write_points_parquet(columns, x, y, tmp_path / "all.parquet")
    write_points_parquet(columns, x, y, tmp_path / "some.parquet", dictionary=["nearest_facility_id"])
    assert pq.read_table(tmp_path / "some.parquet").equals(pq.read_table(tmp_path / "all.parquet"))
    group = pq.ParquetFile(tmp_path / "some.parquet").metadata.row_group(0)
    encodings = {group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)}
    assert "RLE_DICTIONARY" in encodings["nearest_facility_id"]
    assert "RLE_DICTIONARY" not in encodings["demand_id"]
    assert "RLE_DICTIONARY" not in encodings["geometry"]

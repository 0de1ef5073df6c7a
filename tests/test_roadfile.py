"""The fast GeoParquet road reader: numpy's cut of the WKB equals shapely's decoding, and the lines it gives equal
the geopandas read + exact GCJ-02 inverse + pyproj path bit for bit (a small file of every shape, and the real
Chongqing file, 293,467 links)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from gisplan.coords import gcj02_to_wgs84, transform_geometries
from gisplan.errors import CRSError
from gisplan.network.roadfile import read_road_parquet, wkb_linestring_coordinates
from tests.conftest import shared_data

if TYPE_CHECKING:
    import pathlib

UTM = "EPSG:32648"


def _cut(geoms: list[shapely.Geometry], byte_order: int = 1) -> tuple[np.ndarray, np.ndarray] | None:
    blobs = [shapely.to_wkb(g, byte_order=byte_order) for g in geoms]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])])
    return wkb_linestring_coordinates(offsets, np.frombuffer(b"".join(blobs), dtype=np.uint8))


def test_wkb_cut_equals_shapely_at_every_alignment() -> None:
    rng = np.random.default_rng(5)
    # 1 to 9 vertices per line: the rows start at every remainder modulo 8
    lines = [shapely.linestrings(rng.uniform(-180, 180, (int(k), 2))) for k in rng.integers(2, 10, 200)]
    got = _cut(lines)
    assert got is not None
    xy, owner = shapely.get_coordinates(np.array(lines), return_index=True)
    assert np.array_equal(got[0], xy)
    assert np.array_equal(got[1], owner)


def test_wkb_cut_of_a_slice_of_the_buffer() -> None:
    """Rows that start after other bytes (a chunk of a column, an Arrow slice): only their own bytes are read, -0.0 and
    every other bit pattern as they are."""
    lines = [shapely.linestrings([[0.5, 5e-324], [2, -0.0]]), shapely.linestrings([[1e300, 3], [4, 5], [6, 7]])]
    blobs = [shapely.to_wkb(g, byte_order=1) for g in lines]
    data = np.frombuffer(b"junk!!7" + b"".join(blobs) + b"tail", dtype=np.uint8)
    offsets = 7 + np.concatenate([[0], np.cumsum([len(b) for b in blobs])])
    got = wkb_linestring_coordinates(offsets, data)
    assert got is not None
    xy, owner = shapely.get_coordinates(np.array(lines), return_index=True)
    assert got[0].tobytes() == xy.tobytes()
    assert got[1].tolist() == owner.tolist()


@pytest.mark.parametrize("odd", [
    shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3)]]),
    shapely.LineString([(0, 0, 1), (1, 1, 2)]),
    shapely.Point(0, 0),
])
def test_wkb_cut_declines_what_is_not_a_plain_line(odd: shapely.Geometry) -> None:
    assert _cut([shapely.LineString([(0, 0), (1, 1)]), odd]) is None


def test_wkb_cut_declines_big_endian() -> None:
    assert _cut([shapely.LineString([(0, 0), (1, 1)])], byte_order=0) is None


def _expected(frame: gpd.GeoDataFrame) -> np.ndarray:
    """The old way: geopandas' geometries, the exact GCJ-02 inverse, then pyproj."""
    xy = shapely.get_coordinates(frame.geometry.to_numpy())
    lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
    x, y = Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(lon, lat)
    return np.column_stack([x, y])


def test_small_file_equals_the_geopandas_path(tmp_path: object) -> None:
    rng = np.random.default_rng(8)
    n = 300
    starts = np.column_stack([rng.uniform(105.5, 106.5, n), rng.uniform(29.0, 30.0, n)])
    lines = [shapely.linestrings(s + np.cumsum(rng.normal(0, 1e-3, (int(k), 2)), axis=0))
             for s, k in zip(starts, rng.integers(2, 12, n), strict=True)]
    frame = gpd.GeoDataFrame({"direction": rng.integers(0, 4, n), "name": ["路"] * n}, geometry=lines,
                             crs="EPSG:4326")
    path = tmp_path / "roads.parquet"  # type: ignore[operator]
    frame.to_parquet(path)
    got = read_road_parquet(path, crs=UTM, system="gcj02")
    assert got.columns.tolist() == ["direction", "geometry"]  # only the columns asked for
    assert got.crs.equals(UTM)
    assert np.array_equal(got["direction"].to_numpy(), frame["direction"].to_numpy())
    assert np.array_equal(shapely.get_coordinates(got.geometry.to_numpy()), _expected(frame))
    assert np.array_equal(shapely.get_num_coordinates(got.geometry.to_numpy()),
                          shapely.get_num_coordinates(frame.geometry.to_numpy()))
    # WGS84 declared: the file's own CRS, projected only
    plain = read_road_parquet(path, crs=UTM)
    assert np.array_equal(shapely.get_coordinates(plain.geometry.to_numpy()),
                          shapely.get_coordinates(frame.to_crs(UTM).geometry.to_numpy()))


def test_multilines_take_the_shapely_path_with_the_same_result(tmp_path: object) -> None:
    lines = [shapely.LineString([(106.0, 29.5), (106.01, 29.51)]),
             shapely.MultiLineString([[(106.1, 29.6), (106.11, 29.6)], [(106.2, 29.7), (106.2, 29.71)]])]
    frame = gpd.GeoDataFrame({"direction": [0, 2]}, geometry=lines, crs="EPSG:4326")
    path = tmp_path / "multi.parquet"  # type: ignore[operator]
    frame.to_parquet(path)
    got = read_road_parquet(path, crs=UTM, system="gcj02")
    expected = gpd.GeoSeries(transform_geometries(frame.geometry.to_numpy(), source="gcj02"),
                             crs="EPSG:4326").to_crs(UTM)
    assert shapely.get_type_id(got.geometry.to_numpy()).tolist() == [1, 5]
    assert np.allclose(shapely.get_coordinates(got.geometry.to_numpy()),
                       shapely.get_coordinates(expected.to_numpy()), rtol=0, atol=1e-6)
    assert got["direction"].tolist() == [0, 2]


def test_geographic_planning_crs_is_refused(tmp_path: object) -> None:
    frame = gpd.GeoDataFrame(geometry=[shapely.LineString([(106.0, 29.5), (106.01, 29.51)])], crs="EPSG:4326")
    path = tmp_path / "r.parquet"  # type: ignore[operator]
    frame.to_parquet(path)
    with pytest.raises(CRSError, match="projected CRS"):
        read_road_parquet(path, crs="EPSG:4326")


def test_chongqing_equals_the_geopandas_path_bit_for_bit() -> None:
    path = shared_data("roads", "chongqing_roadlinks_gcj02.parquet")
    frame = gpd.read_parquet(path)
    got = read_road_parquet(path, crs=UTM, system="gcj02")
    assert len(got) == len(frame) == 293_467
    xy, owner = shapely.get_coordinates(got.geometry.to_numpy(), return_index=True)
    _, expected_owner = shapely.get_coordinates(frame.geometry.to_numpy(), return_index=True)
    assert np.array_equal(owner, expected_owner)
    assert np.array_equal(xy, _expected(frame))
    assert np.array_equal(got["direction"].to_numpy(), frame["direction"].to_numpy())


def test_a_null_crs_is_unknown_not_wgs84(tmp_path: pathlib.Path) -> None:
    """GeoParquet's ``"crs": null`` means the CRS is unknown (an absent key means OGC:CRS84): the reader asks for
    it instead of reading projected metres as degrees (every coordinate came back infinite); a declared one is used."""
    path = tmp_path / "unknown.parquet"
    gpd.GeoDataFrame({"direction": [1]}, geometry=[shapely.LineString([(500000, 3250000), (500100, 3250050)])],
                     crs=None).to_parquet(path)
    with pytest.raises(CRSError, match="does not say which coordinate system"):
        read_road_parquet(path, crs=UTM)
    lines = read_road_parquet(path, crs=UTM, source_crs=UTM)
    assert shapely.get_coordinates(lines.geometry.to_numpy()).tolist() == [[500000.0, 3250000.0], [500100.0, 3250050.0]]


def test_columns_are_found_whatever_their_case(tmp_path: pathlib.Path) -> None:
    """A vendor's ``DIRECTION`` and ``FCLASS`` are kept under their own names, as build_network finds them."""
    path = tmp_path / "upper.parquet"
    gpd.GeoDataFrame({"DIRECTION": [2], "FCLASS": ["primary"], "NAME": ["x"]},
                     geometry=[shapely.LineString([(105.9, 29.3), (105.91, 29.31)])], crs="EPSG:4326").to_parquet(path)
    lines = read_road_parquet(path, crs=UTM, columns=("direction", "fclass"))
    assert list(lines.columns) == ["DIRECTION", "FCLASS", "geometry"]
    assert lines["DIRECTION"].tolist() == [2]

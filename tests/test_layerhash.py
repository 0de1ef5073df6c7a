"""The row hashes history records are fixed by the records already written: however they are computed, the values
stay bit for bit what they were (the geometry hashed as the hex text of its WKB, through pandas)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.store.layerhash import frame_wkb, layer_hash, row_hashes
from tests.conftest import shared_data


def _frame() -> gpd.GeoDataFrame:
    geoms = [shapely.Point(106.5, 29.5), None, shapely.LineString([(0, 0), (1, 1)]), shapely.Polygon(),
             shapely.Point(1, 2, 3), shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3)]])]
    return gpd.GeoDataFrame({"code12": ["500118001", None, "养老", "", "x", "y"], "n": [1, 2, 3, 4, 5, 6]},
                            geometry=geoms, crs="EPSG:4326")


def _hex_text_hashes(wkb: np.ndarray) -> np.ndarray:
    """The geometry's hashes as first computed: ``bytes.hex`` of each WKB, hashed as a text column."""
    missing = pd.isna(wkb)
    hexed = np.full(len(wkb), None, dtype=object)
    hexed[~missing] = [bytes.hex(b) for b in wkb[~missing]]
    hashed = pd.util.hash_pandas_object(pd.Series(hexed, dtype=object), index=False, categorize=False)
    return np.where(missing, np.iinfo(np.uint64).max, hashed.to_numpy(dtype=np.uint64))


def _geometry_hashes(frame: gpd.GeoDataFrame) -> np.ndarray:
    """The row hashes of the geometry alone (a frame of no other column)."""
    return row_hashes(gpd.GeoDataFrame(geometry=frame.geometry, crs=frame.crs))


def test_the_recorded_values_stay() -> None:
    """Values computed by the code of 575c18b (before the geometry's hashing went through hexlify), pinned."""
    assert [int(h) for h in row_hashes(_frame())] == [
        1446504856405164567, 787098079915670971, 6132421755053764820, 10808745147571324831, 2884970191117706470,
        1514244456712173282]
    assert layer_hash(_frame()) == "h2:ae74c807d81222096257e1e8b45a6c8c:2cc8683adead6e5001fd349b984a9e4a"


def test_the_recorded_values_stay_for_every_kind_of_text_column() -> None:
    """Text as object (with NaN), mixed objects and pandas' str dtype: values computed by the code of 575c18b."""
    frame = gpd.GeoDataFrame({"text": pd.Series(["a", None, "养老", "", np.nan, "z"], dtype=object),
                              "mixed": pd.Series([1, "1", None, 2.5, "x", True], dtype=object),
                              "s": pd.Series(["p", "q", None, "r", "s", "t"], dtype="str")},
                             geometry=[shapely.Point(i, i) for i in range(6)], crs="EPSG:4326")
    assert [int(h) for h in row_hashes(frame)] == [
        7632939640417452038, 3400173989905498764, 12005675692012811584, 10058819697977489103, 2869789278517189808,
        741379967182692045]


def test_geometry_hashes_equal_the_hex_text_hashes() -> None:
    rng = np.random.default_rng(28)
    lines = [shapely.linestrings(rng.uniform(-180, 180, (int(k), 2))) for k in rng.integers(2, 300, 500)]
    geoms = np.array([*lines, None, shapely.Point(), shapely.Point(0, -0.0)], dtype=object)
    frame = gpd.GeoDataFrame(geometry=geoms, crs="EPSG:4326")
    hashes = _geometry_hashes(frame)
    assert np.array_equal(hashes, _combine_one(_hex_text_hashes(frame_wkb(frame))))
    assert len(np.unique(hashes)) == len(frame)  # every geometry its own hash, None and empty ones too


def _combine_one(column: np.ndarray) -> np.ndarray:
    """``_combine_hashes`` of one column, written out (CPython's tuple hash of a 1-tuple)."""
    out = np.full(len(column), 0x345678, dtype=np.uint64) ^ column
    out *= np.uint64(1000003)
    return out + np.uint64(97531)


def test_chongqing_roads_hash_as_before() -> None:
    roads = gpd.read_parquet(shared_data("roads", "chongqing_roadlinks_gcj02.parquet")).iloc[::7]
    wkb = frame_wkb(roads)
    assert np.array_equal(_geometry_hashes(roads), _combine_one(_hex_text_hashes(wkb)))
    assert np.array_equal(row_hashes(roads, wkb), row_hashes(roads))

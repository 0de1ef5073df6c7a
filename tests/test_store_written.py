"""A commit records a written layer's hash and rows from its attributes read back and the geometry as written
(gisplan/store/written.py, issue 17): on both backends the recorded hash equals the hash of the layer read back
whole, for every column type and geometry kind the stores take, on a creation and on a replacement (whose row
records then equal a diff against the whole read); the GeoPackage's Arrow read of the attributes gives the
row-wise read's frame or is not used.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely import wkt

from gisplan.store import GeoPackageWorkspace, LayerWrite, Workspace, diff_layer, layer_hash, open_workspace
from gisplan.store.gpkgwrite import prepare as _prepare
from gisplan.store.gpkgwrite import read_attributes as _read_attributes
from gisplan.store.gpkgwrite import write_layer
from gisplan.store.written import with_written_geometry

if TYPE_CHECKING:
    from pathlib import Path

GEOMETRIES = {
    "points": ["POINT (106.1 29.3)", "POINT (106.123456789012345 29.98765432109876)", "POINT (106 29)"],
    "lines": ["LINESTRING (106 29, 106.1 29.1)", "MULTILINESTRING ((106 29, 106.1 29.1), (106.2 29.2, 106.3 29.3))",
              "LINESTRING (106 29, 106.5 29.5, 106.7 29.1)"],
    "polygons": ["POLYGON ((106 29, 106.1 29, 106.1 29.1, 106 29))",
                 "MULTIPOLYGON (((106 29, 106.1 29, 106.1 29.1, 106 29)), ((107 29, 107.1 29, 107.1 29.1, 107 29)))",
                 "POLYGON ((106 29, 107 29, 107 30, 106 30, 106 29), (106.2 29.2, 106.4 29.2, 106.4 29.4, 106.2 29.2))"],
    "z": ["POINT Z (106 29 3.5)", "LINESTRING Z (106 29 1, 106.1 29.1 2)", "POINT Z (106 29 0)"],
    "mixed_z": ["POINT Z (106 29 3)", "POINT (106 29)", "POINT (106.5 29)"],
    "empty_and_missing": ["POINT (106 29)", "POINT EMPTY", None],
    "collection": ["GEOMETRYCOLLECTION (POINT (106 29), LINESTRING (106 29, 106.1 29.1))", "POINT (106 29)",
                   "LINESTRING EMPTY"],
    "measured": ["POINT M (106 29 3)", "POINT M (106 29 4)", "POINT M (106 29 5)"],  # M is dropped: read back
}


def _attributes(*, dates: bool = True) -> dict[str, pd.Series]:
    """Columns of every type the stores take (PostGIS takes no date objects)."""
    columns = {
        "code12": pd.Series(["500118001001", "500118001002", "500118002001"], dtype=object),
        "name": pd.Series(["中山路社区", None, "兴隆村"], dtype="str"),
        "households": pd.Series([1200, 340, 0], dtype="int64"),
        "rank": pd.Series([1, 2, 3], dtype="int32"),
        "share": pd.Series([0.5, np.nan, 1e-17]),
        "ratio32": pd.Series([0.5, np.nan, 2.0], dtype="float32"),
        "beds": pd.Series([10, None, 25], dtype="Int64"),
        "urban": pd.Series([True, False, True]),
        "open": pd.Series([True, None, False], dtype=object),  # true/false with an empty cell
        "founded": pd.Series(pd.to_datetime(["1990-01-01", None, "2015-03-03T08:30:00"],
                                            format="ISO8601")).astype("datetime64[ms]"),
        "surveyed": pd.Series([dt.date(2024, 1, 1), None, dt.date(2024, 5, 3)], dtype=object),
        "remark": pd.Series([None, None, None], dtype=object),  # empty in every row: object, not str
    }
    if not dates:
        del columns["surveyed"]
    return columns


def _layer(kind: str, crs: str = "EPSG:4326", *, ws: Workspace | None = None) -> gpd.GeoDataFrame:
    geoms = [wkt.loads(g) if g else None for g in GEOMETRIES[kind]]
    return gpd.GeoDataFrame(_attributes(dates=ws is None or isinstance(ws, GeoPackageWorkspace)), geometry=geoms,
                            crs=crs)


@pytest.fixture(params=["gpkg", "postgis"])
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Workspace:
    return open_workspace(request.getfixturevalue("postgis_uri") if request.param == "postgis"
                          else tmp_path / "w.gpkg")


def _recorded(ws: Workspace, name: str) -> str | None:
    changes = ws.layer_changes(layer=name)
    return changes[-1][1].hash_after


# GDAL warns that it drops measured (M) coordinates, on writing and on every read (the old whole read did too)
_KINDS = [pytest.param(k, marks=pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning"))
          if k == "measured" else k for k in GEOMETRIES]


@pytest.mark.parametrize("kind", _KINDS)
def test_the_recorded_hash_is_the_hash_of_the_layer_read_back(workspace: Workspace, kind: str) -> None:
    workspace.write([LayerWrite("layer_a", "result", _layer(kind, ws=workspace))], action="import")
    whole = workspace.read_layer("layer_a")
    assert _recorded(workspace, "layer_a") == layer_hash(whole)
    assert _recorded(workspace, "layer_a").startswith("h2:")  # type: ignore[union-attr]


def test_a_fid_column_out_of_order_is_recorded_as_read_back(workspace: Workspace) -> None:
    """GDAL takes an integer ``fid`` column as the GeoPackage's feature id and gives the rows back in its order:
    the attributes read back no longer line up with the geometry as written, so the layer is read back whole
    (a rewrite's row records and the hash are those of the stored layer; they were not)."""
    frame = gpd.GeoDataFrame({"FID": [3, 1, 2], "name": ["c", "a", "b"]},
                             geometry=[shapely.Point(3, 3), shapely.Point(1, 1), shapely.Point(2, 2)], crs="EPSG:4326")
    workspace.write([LayerWrite("layer_f", "result", frame)], action="import")
    whole = workspace.read_layer("layer_f")
    assert _recorded(workspace, "layer_f") == layer_hash(whole)
    pairs = dict(zip(whole["name"], whole.geometry.x, strict=True))
    assert pairs == {"a": 1.0, "b": 2.0, "c": 3.0}
    workspace.write([LayerWrite("layer_f", "result", frame.assign(name=["c2", "a", "b"]))], action="edit")
    assert _recorded(workspace, "layer_f") == layer_hash(workspace.read_layer("layer_f"))


def test_a_layer_of_rings_is_written_as_lines(workspace: Workspace) -> None:
    """A layer of LinearRings is declared as lines: a LinearRing layer crashed GDAL (the process died)."""
    rings = gpd.GeoDataFrame({"n": [1, 2]}, geometry=[shapely.LinearRing([(0, 0), (1, 0), (1, 1)]),
                                                      shapely.LinearRing([(2, 2), (3, 2), (3, 3)])], crs="EPSG:4326")
    workspace.write([LayerWrite("rings", "result", rings)], action="import")
    back = workspace.read_layer("rings")
    assert _recorded(workspace, "rings") == layer_hash(back)
    assert back.geometry.geom_type.tolist() == ["LineString", "LineString"]


@pytest.mark.parametrize("crs", ["EPSG:4545", "+proj=tmerc +lat_0=0 +lon_0=105 +k=1 +x_0=500000 +y_0=0 "
                                              "+ellps=GRS80 +units=m +no_defs"])
def test_a_projected_or_custom_crs_is_recorded_as_read_back(workspace: Workspace, crs: str) -> None:
    layer = _layer("points", ws=workspace).to_crs(crs)
    workspace.write([LayerWrite("layer_p", "result", layer)], action="import")
    assert _recorded(workspace, "layer_p") == layer_hash(workspace.read_layer("layer_p"))


def test_a_table_and_a_replacement_are_recorded_as_read_back(workspace: Workspace) -> None:
    table = pd.DataFrame(_attributes(dates=isinstance(workspace, GeoPackageWorkspace)))
    first = _layer("lines", ws=workspace)
    workspace.write([LayerWrite("layer_t", "result", table), LayerWrite("layer_r", "result", first)],
                    action="import")
    assert _recorded(workspace, "layer_t") == layer_hash(workspace.read_table("layer_t"))
    before = workspace.read_layer("layer_r")
    second = first.copy()
    second.loc[1, "households"] = 7
    second.loc[2, "geometry"] = shapely.Point(106.9, 29.9)
    second = pd.concat([second, first.iloc[[0]].assign(code12="500118009009")], ignore_index=True)
    workspace.write([LayerWrite("layer_r", "result", gpd.GeoDataFrame(second, crs=first.crs))], action="import")
    whole = workspace.read_layer("layer_r")
    recorded = workspace.layer_changes(layer="layer_r")[-1][1]
    expected = diff_layer("layer_r", before, whole)
    assert recorded.hash_after == layer_hash(whole) == expected.hash_after
    assert recorded.counts == expected.counts == {"insert": 1, "update": 2, "delete": 0}
    assert [(r.op, r.key, r.before, r.after, r.before_geom, r.after_geom) for r in recorded.rows] == \
        [(r.op, r.key, r.before, r.after, r.before_geom, r.after_geom) for r in expected.rows]


def test_a_write_then_a_drop_in_one_transaction_records_the_drop(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "d.gpkg")
    ws.write([LayerWrite("layer_a", "result", _layer("points"))], action="import")
    with ws.transaction(action="edit") as tx:
        tx.write(LayerWrite("layer_a", "result", _layer("lines")))
        tx.drop("layer_a")
    assert _recorded(ws, "layer_a") is None
    assert "layer_a" not in set(ws.metadata()["layer"])


@pytest.mark.parametrize("column", list(_attributes()))
def test_the_arrow_read_of_attributes_is_the_row_wise_read(tmp_path: Path, column: str) -> None:
    path = tmp_path / "a.gpkg"
    layer = gpd.GeoDataFrame({column: _attributes()[column]}, geometry=gpd.points_from_xy([106, 106.1, 106.2],
                                                                                            [29, 29, 29]), crs=4326)
    pyogrio.write_dataframe(_prepare(layer), path, layer="a", driver="GPKG", promote_to_multi=False, use_arrow=True)
    row_wise = pyogrio.read_dataframe(path, layer="a", read_geometry=False)
    read = _read_attributes(path, "a", pyogrio.read_info(path, layer="a"))
    assert list(read.dtypes.astype(str)) == list(row_wise.dtypes.astype(str))
    assert read.equals(row_wise)
    assert layer_hash(read) == layer_hash(row_wise)


def test_measured_geometry_or_another_row_count_is_read_back_instead() -> None:
    attributes = pd.DataFrame({"n": [1, 2, 3]})
    assert with_written_geometry(attributes, _layer("measured"), crs="EPSG:4326", spatial=True) is None
    assert with_written_geometry(attributes.iloc[:2], _layer("points"), crs="EPSG:4326", spatial=True) is None
    assert with_written_geometry(attributes, _layer("points"), crs="EPSG:4326", spatial=False) is None
    back = with_written_geometry(attributes, _layer("points"), crs="EPSG:4326", spatial=True)
    assert back is not None
    assert list(back.columns) == ["n", "geometry"]
    assert back.geometry.iloc[1].wkt == "POINT (106.12345678901235 29.98765432109876)"


@pytest.mark.parametrize("kind", [pytest.param("measured", marks=pytest.mark.filterwarnings(
    "ignore::UserWarning", "ignore::RuntimeWarning")), "lines"])
def test_only_the_layer_before_is_read_whole(workspace: Workspace, kind: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A replacement reads the layer before whole and, after it, only the attributes (unless M coordinates)."""
    from gisplan.store import gpkg, pghistory

    workspace.write([LayerWrite("layer_a", "result", _layer(kind, ws=workspace))], action="import")
    module, name = ((gpkg, "_read_file_layer") if isinstance(workspace, GeoPackageWorkspace)
                    else (pghistory, "read_stored"))
    whole_reads: list[str] = []
    real = getattr(module, name)

    def counted(*args: object, **kwargs: object) -> object:
        whole_reads.append(str(args[-1]))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    workspace.write([LayerWrite("layer_a", "result", _layer(kind, ws=workspace).iloc[::-1])], action="import")
    assert whole_reads == (["layer_a"] if kind == "lines" else ["layer_a", "layer_a"])
    assert _recorded(workspace, "layer_a") == layer_hash(workspace.read_layer("layer_a"))


def _stored(path: Path, name: str) -> dict[str, object]:
    """Everything GDAL stored for layer `name`: its rows with the geometry blobs, its column definitions, its
    geometry column entry, its contents row (without the time stamp), its feature count and spatial index."""
    with contextlib.closing(sqlite3.connect(path)) as con:
        (column,) = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?",
                                (name,)).fetchone()
        return {
            "rows": con.execute(f'SELECT * FROM "{name}" ORDER BY fid').fetchall(),
            "columns": con.execute(f'PRAGMA table_info("{name}")').fetchall(),
            "geometry": con.execute("SELECT * FROM gpkg_geometry_columns WHERE table_name = ?", (name,)).fetchall(),
            "contents": con.execute("SELECT table_name, data_type, identifier, description, min_x, min_y, max_x, "
                                    "max_y, srs_id FROM gpkg_contents WHERE table_name = ?", (name,)).fetchall(),
            "count": con.execute("SELECT * FROM gpkg_ogr_contents WHERE table_name = ?", (name,)).fetchall(),
            "srs": con.execute("SELECT s.* FROM gpkg_spatial_ref_sys s JOIN gpkg_contents c ON c.srs_id = s.srs_id "
                               "WHERE c.table_name = ?", (name,)).fetchall(),
            "extensions": con.execute("SELECT * FROM gpkg_extensions WHERE table_name = ?", (name,)).fetchall(),
            "index": con.execute(f'SELECT * FROM "rtree_{name}_{column}" ORDER BY id').fetchall(),
        }


@pytest.mark.parametrize(("kind", "crs"), [(k, "EPSG:4326") for k in GEOMETRIES if k != "measured"]
                         + [("points", "EPSG:4545"), ("lines", "+proj=tmerc +lat_0=0 +lon_0=105 +k=1 +x_0=500000 "
                                                              "+y_0=0 +ellps=GRS80 +units=m +no_defs")])
def test_the_arrow_write_stores_what_pyogrio_write_dataframe_stores(tmp_path: Path, kind: str, crs: str) -> None:
    layer = _layer(kind).to_crs(crs)
    plain = layer.drop(columns=["founded", "surveyed", "remark"])  # dates and an all-empty column: write_dataframe
    ours, theirs = tmp_path / "ours.gpkg", tmp_path / "theirs.gpkg"
    wkb = write_layer(ours, "layer_a", plain)
    pyogrio.write_dataframe(_prepare(plain), theirs, layer="layer_a", driver="GPKG", promote_to_multi=False,
                            use_arrow=True)
    assert wkb is not None
    assert list(wkb) == list(shapely.to_wkb(plain.geometry.to_numpy()))
    assert _stored(ours, "layer_a") == _stored(theirs, "layer_a")
    info_ours, info_theirs = pyogrio.read_info(ours, layer="layer_a"), pyogrio.read_info(theirs, layer="layer_a")
    for key in ("crs", "geometry_type", "fields", "dtypes", "features"):
        assert np.array_equal(np.asarray(info_ours[key]), np.asarray(info_theirs[key])), key
    assert write_layer(tmp_path / "dates.gpkg", "layer_a", layer) is None  # dates: through write_dataframe

"""What only the PostGIS workspace does: row versions and optimistic concurrency (two editors, one conflict), the
append-only row history, `gisplan db init` / `gisplan db copy` both ways without loss, and imports through the
real import workflow in one transaction. The shared Workspace contract runs against PostGIS in test_workspace.py."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely
from click.testing import CliRunner
from geopandas.testing import assert_geodataframe_equal
from psycopg import sql

from gisplan.cli.main import cli
from gisplan.errors import ConflictError, StoreError
from gisplan.store import LayerWrite, PostGISWorkspace, open_workspace
from gisplan.store.copy import row_hashes
from gisplan.workflows.importing import ImportSpec, import_layers
from tests.conftest import FACILITIES, LAYERS

if TYPE_CHECKING:
    from pathlib import Path

    from gisplan.catalogue import Catalogue


def dump_schema(uri: str) -> object:
    """Every table of the workspace's schema with all its rows (None when the schema has no tables): equal dumps
    mean an unchanged workspace."""
    parts = urlsplit(uri)
    schema = dict(parse_qsl(parts.query))["schema"]
    with psycopg.connect(parts._replace(query="").geturl()) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name",
            (schema,)).fetchall()]
        if not tables:
            return None
        return {t: con.execute(sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(schema, t))).fetchall()
                for t in tables}


# ------------------------------------------------------------------------------------------ tests


def _pg(uri: str) -> PostGISWorkspace:
    ws = open_workspace(uri)
    assert isinstance(ws, PostGISWorkspace)
    return ws


def _points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["大安街道社区服务中心", "陈食街道社区服务中心"], "beds": [10, 20]},
                            geometry=shapely.points([[105.9, 29.3], [105.8, 29.4]]), crs="EPSG:4326")


def _layer_hashes(ws: object, name: str) -> list[int]:
    return row_hashes(ws.read(name)).tolist()


def test_real_layers_imported_through_the_workflow_equal_the_geopackage_row_by_row(
        base_store: Path, postgis_uri: str, catalogue: Catalogue) -> None:
    ws = _pg(postgis_uri)
    import_layers(ws, [
        ImportSpec(LAYERS / "yongchuan_gazetteer.csv", "gazetteer"),
        ImportSpec(LAYERS / "yongchuan_boundaries.gpkg", "district", layer="district"),
        ImportSpec(LAYERS / "yongchuan_boundaries.gpkg", "townships", layer="townships"),
        ImportSpec(FACILITIES, "facilities", "community_service_centre", layer="community_service_centre"),
    ], catalogue=catalogue)
    gpkg = open_workspace(base_store)
    assert ws.layer_names() == gpkg.layer_names()
    assert ws.changelog()["revision"].tolist() == [1] * 5  # init + four layers, one transaction
    for name in sorted(gpkg.layer_names()):
        assert _layer_hashes(ws, name) == _layer_hashes(gpkg, name), name
    assert len(ws.read_layer("townships")) == 23
    assert len(ws.read_layer("facilities_community_service_centre")) == 267
    assert_geodataframe_equal(ws.read_layer("townships"), gpkg.read_layer("townships"), check_crs=True)


def test_db_copy_moves_a_workspace_both_ways_without_loss(base_store: Path, postgis_uri: str, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "copy", str(base_store), postgis_uri])
    assert result.exit_code == 0, result.output
    assert "copied 4 layer(s)" in result.output
    assert "every row hash equal" in result.output
    back = tmp_path / "back.gpkg"
    result = runner.invoke(cli, ["db", "copy", postgis_uri, str(back)])
    assert result.exit_code == 0, result.output
    source, middle, target = open_workspace(base_store), open_workspace(postgis_uri), open_workspace(back)
    for name in sorted(source.layer_names()):
        assert _layer_hashes(source, name) == _layer_hashes(middle, name) == _layer_hashes(target, name), name
    # provenance survives both hops, import times included
    columns = ["layer", "kind", "facility_type", "source_path", "source_sha256", "source_layer", "imported_at",
               "crs_given", "stored_crs", "row_count", "illustrative", "note"]
    pd.testing.assert_frame_equal(target.metadata()[columns], source.metadata()[columns])
    pd.testing.assert_frame_equal(middle.metadata()[columns], source.metadata()[columns])
    log = middle.changelog()
    assert log["action"].tolist() == ["init"] + ["copy"] * 4
    assert json.loads(log["detail"].iloc[1])["from"] == str(base_store)
    # a second copy into a workspace that has layers is refused, nothing written
    result = runner.invoke(cli, ["db", "copy", str(base_store), postgis_uri])
    assert result.exit_code == 1
    assert "already has layers" in result.output
    assert middle.changelog()["action"].tolist() == ["init"] + ["copy"] * 4


def test_db_init_creates_the_schema_once(postgis_uri: str) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "init", postgis_uri])
    assert result.exit_code == 0, result.output
    assert "workspace created (revision 1)" in result.output
    result = runner.invoke(cli, ["db", "init", postgis_uri])
    assert "already existed (revision 1)" in result.output
    assert dump_schema(postgis_uri) is not None
    assert _pg(postgis_uri).changelog()["action"].tolist() == ["init"]


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "init", "postgresql://planner:s3cret@127.0.0.1:1/civil?schema=yc"])
    assert result.exit_code == 1
    assert "cannot connect to workspace postgresql://planner:…@127.0.0.1:1/civil?schema=yc" in result.output
    assert "s3cret" not in result.output
    assert "Traceback" not in result.output


def test_two_editors_of_one_row_one_wins_the_other_gets_a_conflict(postgis_uri: str) -> None:
    ws = _pg(postgis_uri)
    ws.write([LayerWrite("centres", "facilities", _points())], action="import")
    versions = ws.row_versions("centres")
    assert versions["version"].tolist() == [1, 1]
    fid = int(versions["fid"].iloc[0])
    # both read version 1; 张三 saves first
    saved = ws.edit_row("centres", fid, {"beds": 12}, base_version=1, user="张三")
    assert (saved.version, saved.changed_by) == (2, "张三")
    with pytest.raises(ConflictError, match=r"已被 张三 于 .* 修改（当前版本 2，你的修改基于版本 1）") as info:
        ws.edit_row("centres", fid, {"beds": 99}, base_version=1, user="李四")
    assert saved.changed_at in str(info.value)
    assert ws.read_layer("centres")["beds"].tolist() == [12, 20]  # 张三's edit stands, 李四's wrote nothing
    # both versions are kept: the original in the row history, the new one in the layer
    history = ws.row_history("centres", fid)
    assert history["version"].tolist() == [1]
    assert json.loads(history["row"].iloc[0])["beds"] == 10
    # 李四 re-reads and edits on top of version 2, with a new geometry
    again = ws.edit_row("centres", fid, {"beds": 15, "name": "大安街道社区服务中心（新址）"}, base_version=2,
                        user="李四", geometry=shapely.Point(105.91, 29.31))
    assert again.version == 3
    layer = ws.read_layer("centres")
    assert layer.loc[0, "name"] == "大安街道社区服务中心（新址）"
    assert layer.geometry.iloc[0].equals(shapely.Point(105.91, 29.31))
    history = ws.row_history("centres", fid)
    assert history["version"].tolist() == [1, 2]
    assert history["changed_by"].iloc[1] == "张三"
    assert json.loads(history["row"].iloc[1])["beds"] == 12
    log = ws.changelog()
    edits = log[log["action"] == "edit"]
    assert [json.loads(d)["by"] for d in edits["detail"]] == ["张三", "李四"]
    assert edits["revision"].tolist() == [2, 3]


def test_concurrent_editors_lose_nothing(postgis_uri: str) -> None:
    """Eight threads edit the same row, each re-reading and retrying on a conflict: every acknowledged edit is
    one version, and the history holds every version before the last."""
    ws = _pg(postgis_uri)
    ws.write([LayerWrite("centres", "facilities", _points())], action="import")
    fid = int(ws.row_versions("centres")["fid"].iloc[1])
    acknowledged: list[int] = []
    conflicts: list[int] = []

    def editor(k: int) -> None:
        for _ in range(3):
            while True:
                base = int(ws.row_versions("centres").set_index("fid").loc[fid, "version"])
                try:
                    acknowledged.append(ws.edit_row("centres", fid, {"beds": k}, base_version=base,
                                                    user=f"editor{k}").version)
                    break
                except ConflictError:
                    conflicts.append(k)

    threads = [threading.Thread(target=editor, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(acknowledged) == list(range(2, 26))  # 24 edits, each one version
    assert int(ws.row_versions("centres").set_index("fid").loc[fid, "version"]) == 25
    assert ws.row_history("centres", fid)["version"].tolist() == list(range(1, 25))
    assert (ws.changelog()["action"] == "edit").sum() == 24


@pytest.mark.parametrize("statement", ["UPDATE {} SET revision = revision", "DELETE FROM {}", "TRUNCATE {}"])
def test_change_log_and_row_history_are_append_only(postgis_uri: str, statement: str) -> None:
    from psycopg import errors

    ws = _pg(postgis_uri)
    ws.write([LayerWrite("centres", "facilities", _points())], action="import")
    before = dump_schema(postgis_uri)
    for table in ("gisplan_changelog", "gisplan_row_history"):
        with psycopg.connect(ws.conninfo) as con, pytest.raises(errors.RaiseException, match="append-only"):
            con.execute(sql.SQL(statement).format(sql.Identifier(ws.schema, table)))
    assert dump_schema(postgis_uri) == before


@pytest.mark.parametrize("hostile", ["x'); DROP TABLE gisplan_layers; --", 'a"; DROP SCHEMA public CASCADE; --',
                                     "../../etc/passwd", "名称 with space"])
def test_hostile_column_names_and_values_are_stored_as_data(postgis_uri: str, hostile: str) -> None:
    ws = _pg(postgis_uri)
    frame = pd.DataFrame({hostile: [hostile, None], "n": [1, 2]})
    ws.write([LayerWrite("hostile", "result", frame, note=hostile)], action="import", detail={"why": hostile})
    back = ws.read_table("hostile")
    pd.testing.assert_frame_equal(back, frame)
    assert ws.metadata().set_index("layer").loc["hostile", "note"] == hostile
    fid = int(ws.row_versions("hostile")["fid"].iloc[1])
    ws.edit_row("hostile", fid, {hostile: hostile + "'"}, base_version=1, user=hostile)
    assert ws.read_table("hostile")[hostile].tolist() == [hostile, hostile + "'"]
    assert {"gisplan_layers", "gisplan_changelog"} <= set(dump_schema(postgis_uri))


def test_edits_to_unknown_rows_or_columns_are_refused(postgis_uri: str) -> None:
    ws = _pg(postgis_uri)
    ws.write([LayerWrite("centres", "facilities", _points())], action="import")
    before = dump_schema(postgis_uri)
    with pytest.raises(StoreError, match="has no row 99"):
        ws.edit_row("centres", 99, {"beds": 1}, base_version=1, user="x")
    with pytest.raises(StoreError, match="has no column"):
        ws.edit_row("centres", 1, {"gisplan_version": 1}, base_version=1, user="x")
    with pytest.raises(StoreError, match="no layer 'villages'"):
        ws.edit_row("villages", 1, {"beds": 1}, base_version=1, user="x")
    assert dump_schema(postgis_uri) == before


def test_a_layer_write_refuses_reserved_column_names(postgis_uri: str) -> None:
    ws = _pg(postgis_uri)
    with pytest.raises(StoreError, match="reserved for gisplan"):
        ws.write([LayerWrite("bad", "result", pd.DataFrame({"gisplan_fid": [1]}))], action="import")
    assert dump_schema(postgis_uri) is None


def test_undo_is_a_new_revision_and_refused_when_the_row_has_moved_on(postgis_uri: str) -> None:
    ws = _pg(postgis_uri)
    ws.write([LayerWrite("centres", "facilities", _points())], action="import")
    fid = 1
    moved = shapely.Point(105.95, 29.33)
    ws.edit_row("centres", fid, {"beds": 12, "name": "新名称"}, base_version=1, user="张三", geometry=moved)
    ws.edit_row("centres", fid, {"beds": 13}, base_version=2, user="李四")
    # 张三 wants to undo his edit (version 2), but 李四 has changed the row since: refused, nothing written
    before = dump_schema(postgis_uri)
    with pytest.raises(ConflictError, match=r"已被 李四 于 .* 修改（当前版本 3，你的修改基于版本 2）"):
        ws.undo_row("centres", fid, base_version=2, user="张三")
    assert dump_schema(postgis_uri) == before
    # 李四 undoes his own edit: a new version 4 with version 2's values
    undone = ws.undo_row("centres", fid, base_version=3, user="李四")
    assert undone.version == 4
    layer = ws.read_layer("centres")
    assert (layer.loc[0, "beds"], layer.loc[0, "name"]) == (12, "新名称")
    assert layer.geometry.iloc[0].equals(moved)
    # undo again (of the undo): back to 13; every version stays in the history
    ws.undo_row("centres", fid, base_version=4, user="李四")
    assert ws.read_layer("centres").loc[0, "beds"] == 13
    assert ws.row_history("centres", fid)["version"].tolist() == [1, 2, 3, 4]
    log = ws.changelog()
    assert log["action"].tolist()[-4:] == ["edit", "edit", "undo", "undo"]
    assert log["revision"].is_monotonic_increasing
    # a geometry edit is undone too, and the original row is restored exactly
    fresh = ws.row_versions("centres").set_index("fid").loc[2, "version"]
    ws.edit_row("centres", 2, {"beds": 0}, base_version=int(fresh), user="王五", geometry=moved)
    ws.undo_row("centres", 2, base_version=int(fresh) + 1, user="王五")
    assert_geodataframe_equal(ws.read_layer("centres").iloc[[1]], _points().iloc[[1]], check_crs=True)
    ws.write([LayerWrite("other", "result", _points())], action="import")
    with pytest.raises(StoreError, match="no earlier version"):
        ws.undo_row("other", 1, base_version=1, user="x")


def test_layers_commands_take_a_postgis_uri(postgis_uri: str) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["layers", "import", str(LAYERS / "yongchuan_gazetteer.csv"), "--kind", "gazetteer",
                                 "-w", postgis_uri])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["layers", "list", "-w", postgis_uri])
    assert result.exit_code == 0, result.output
    assert "gazetteer" in result.output
    assert "291" in result.output
    assert len(_pg(postgis_uri).read_table("gazetteer")) == 291

"""History, as-of reads, undo and revert of workspace layers (issue 15 items 5 and 8; issue 16 item 1-2), on both
backends: a GeoPackage and PostGIS in the session's throwaway cluster (tests/pg.py; it fails under CI=true when the
cluster cannot start).

Every edit kind is undone and the layer compared with what it was, row by row as read back (`layer_hash`: columns,
dtypes, values, geometries, order) and cell for cell in the stored table (a GeoPackage's every stored cell with its
geometry blobs; a PostGIS table's every column but the row-version stamps, geometry as EWKB), with its metadata row.
In PostGIS an undo is a new revision too, and it is refused naming who changed the layer since and when.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gisplan.cli.main import cli
from gisplan.errors import ConflictError, StoreError
from gisplan.store import (
    GeoPackageWorkspace,
    LayerChange,
    LayerWrite,
    PostGISWorkspace,
    Workspace,
    diff_layer,
    layer_hash,
    open_workspace,
    undo_change,
)
from gisplan.store.history import row_edit_change
from gisplan.store.layerhash import hash_matches, legacy_layer_hash, row_hashes

ROOT = Path(__file__).resolve().parents[1]


def _villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "code12": ["500118001001", "500118001002", "500118002001", "500118002002"],
        "name": ["中山路社区居民委员会", "兴隆村村民委员会", "兴隆村村民委员会", "朱龙花村村民委员会"],
        "households": np.array([1200, 340, 410, 280], dtype="int64"),
        "share": [0.5, np.nan, 0.25, 1.0],
        "urban": [True, False, False, False],
        "founded": pd.to_datetime(["1990-01-01", "2001-06-30", None, "2015-03-03"]).astype("datetime64[ms]"),
        "remark": pd.Series([None] * 4, dtype=object),  # all empty: reads back as object, not str
    }, geometry=[shapely.box(105.9 + i / 10, 29.3, 106.0 + i / 10, 29.4) for i in range(4)], crs="EPSG:4326")


def _ledger() -> pd.DataFrame:
    return pd.DataFrame({"facility_id": ["F1", "F2", "F3"], "name": ["甲站", "乙站", "丙站"],
                         "beds": np.array([10, 0, 25], dtype="int64")})


def _table_bytes(path: Path, name: str) -> list[tuple[object, ...]]:
    """Every stored row of a GeoPackage table, geometry blobs included, in fid order."""
    with contextlib.closing(sqlite3.connect(path)) as con:
        return con.execute(f'SELECT * FROM "{name}" ORDER BY fid').fetchall()


def _stored_rows(ws: Workspace, name: str) -> list[tuple[object, ...]]:
    """Every stored cell of layer `name` in row order: a GeoPackage table as stored; a PostGIS table without the
    row-version stamps (a write gives every row a new version), geometry as EWKB."""
    if isinstance(ws, GeoPackageWorkspace):
        return _table_bytes(ws.path, name)
    assert isinstance(ws, PostGISWorkspace)
    import psycopg
    from psycopg import sql

    with psycopg.connect(ws.conninfo) as con:
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "AND column_name NOT IN ('gisplan_version', 'gisplan_changed_by', 'gisplan_changed_at') "
            "ORDER BY ordinal_position", (ws.schema, name)).fetchall()]
        selected = [sql.SQL("ST_AsEWKB({})").format(sql.Identifier(c)) if c == "geometry" else sql.Identifier(c)
                    for c in columns]
        return con.execute(sql.SQL("SELECT {} FROM {} ORDER BY gisplan_fid").format(
            sql.SQL(", ").join(selected), sql.Identifier(ws.schema, name))).fetchall()


def _meta(ws: Workspace, name: str) -> dict[str, object]:
    row = ws.metadata().set_index("layer").loc[name]
    return {k: (None if pd.isna(v) else v) for k, v in row.items()}


def _imported(uri: str | Path) -> Workspace:
    w = open_workspace(uri)
    w.write([LayerWrite("villages", "villages", _villages(), source_path="/data/村.geojson"),
             LayerWrite("facilities_elderly_day_care", "facilities", _ledger(), facility_type="elderly_day_care")],
            action="import", user="张三", note="首次导入")
    return w


@pytest.fixture(params=["gpkg", "postgis"])
def ws(request: pytest.FixtureRequest, tmp_path: Path) -> Workspace:
    """Villages and a ledger imported as revision 1 by 张三, in a GeoPackage and in PostGIS."""
    return _imported(request.getfixturevalue("postgis_uri") if request.param == "postgis" else tmp_path / "h.gpkg")


@pytest.fixture
def gpkg_ws(tmp_path: Path) -> Workspace:
    return _imported(tmp_path / "h.gpkg")


def _edit_kinds() -> dict[str, object]:
    v = _villages()
    moved = v.copy()
    moved.loc[1, "geometry"] = shapely.box(106.0, 29.3, 106.05, 29.35)
    renamed = v.copy()
    renamed.loc[3, "name"] = "朱龙村村民委员会"
    merged = v.drop(index=[2]).reset_index(drop=True)
    merged.loc[1, "households"] = 750
    merged.loc[1, "geometry"] = shapely.union(v.geometry[1], v.geometry[2])
    added = pd.concat([v, v.iloc[[0]].assign(code12="500118003001", name="新华社区居民委员会")], ignore_index=True)
    filled = v.copy()
    filled.loc[2, "remark"] = "撤并待定"
    return {
        "fill an empty text column": filled,
        "rename": renamed,
        "move geometry": moved,
        "merge two rows": merged,
        "insert a row": gpd.GeoDataFrame(added, crs=v.crs),
        "reorder rows": v.iloc[::-1].reset_index(drop=True),
        "add a column": v.assign(remarks2="备注"),
        "change a dtype": v.assign(households=v["households"].astype("float64")),
        "recode": v.assign(code12=v["code12"].str.replace("500118002", "500118009")),
        "empty the layer": v.iloc[:0],
    }


@pytest.mark.parametrize("kind", list(_edit_kinds()))
def test_every_edit_kind_round_trips_through_undo(ws: Workspace, kind: str) -> None:
    before_rows = _stored_rows(ws, "villages")
    before_hash = layer_hash(ws.read("villages"))
    before_meta = _meta(ws, "villages")
    edited = _edit_kinds()[kind]
    rev = ws.write([LayerWrite("villages", "villages", edited, note="edited")], action="edit", note=kind)
    assert layer_hash(ws.read("villages")) != before_hash
    undo_rev = ws.undo(user="李四")
    assert undo_rev == rev + 1
    assert layer_hash(ws.read("villages")) == before_hash
    assert _stored_rows(ws, "villages") == before_rows
    assert _meta(ws, "villages") == before_meta
    revs = ws.revisions().set_index("revision")
    assert revs.loc[undo_rev, "undoes"] == rev
    assert revs.loc[undo_rev, "user"] == "李四"
    assert revs.loc[rev, "note"] == kind


def test_create_and_drop_round_trip(ws: Workspace) -> None:
    rows = _stored_rows(ws, "facilities_elderly_day_care")
    with ws.transaction(action="tidy") as tx:
        tx.drop("facilities_elderly_day_care")
        tx.write(LayerWrite("scratch", "result", pd.DataFrame({"code12": ["1"]})))
    ws.undo()
    assert "scratch" not in ws.layer_names()
    assert _stored_rows(ws, "facilities_elderly_day_care") == rows


def test_repeated_undo_walks_back_and_revert_of_an_undo_redoes(ws: Workspace) -> None:
    v0 = layer_hash(ws.read("villages"))
    kinds = _edit_kinds()
    r1 = ws.write([LayerWrite("villages", "villages", kinds["rename"])], action="edit")
    v1 = layer_hash(ws.read("villages"))
    ws.write([LayerWrite("villages", "villages", kinds["add a column"])], action="edit")
    ws.undo()
    assert layer_hash(ws.read("villages")) == v1
    ws.undo()
    assert layer_hash(ws.read("villages")) == v0
    undo_of_r1 = ws.revision()
    ws.revert(undo_of_r1)  # redo r1
    assert layer_hash(ws.read("villages")) == v1
    assert ws.revisions().set_index("revision").loc[ws.revision(), "undoes"] == undo_of_r1
    assert r1 == 2


def test_revert_refuses_a_revision_whose_layer_changed_later(ws: Workspace) -> None:
    kinds = _edit_kinds()
    r1 = ws.write([LayerWrite("villages", "villages", kinds["rename"])], action="edit")
    r2 = ws.write([LayerWrite("villages", "villages", kinds["move geometry"])], action="edit", user="王五")
    before = ws.revision()
    with pytest.raises(ConflictError, match=rf"cannot revert revision {r1}: `villages` \(changed again in revision "
                                            rf"{r2} by 王五 at \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d CST\)"):
        ws.revert(r1)
    assert ws.revision() == before


def test_as_of_reads_rebuild_every_revision(ws: Workspace) -> None:
    hashes = {1: layer_hash(ws.read("villages"))}
    for kind, frame in list(_edit_kinds().items())[:5]:
        rev = ws.write([LayerWrite("villages", "villages", frame)], action="edit", note=kind)
        hashes[rev] = layer_hash(ws.read("villages"))
    for rev, expected in hashes.items():
        assert layer_hash(ws.read_layer("villages", as_of=rev)) == expected
    # a date: everything committed today (China Standard Time) is in; yesterday nothing was
    today = pd.Timestamp.now(tz="Asia/Shanghai").date()
    assert layer_hash(ws.read_layer("villages", as_of=today.isoformat())) == hashes[max(hashes)]
    with pytest.raises(StoreError, match="had no layer 'villages' at revision 0"):
        ws.read_layer("villages", as_of=str(today - pd.Timedelta(days=1)))
    assert ws.read_table("facilities_elderly_day_care", as_of=1)["beds"].tolist() == [10, 0, 25]


def test_history_per_unit_and_name_says_who_when_why(ws: Workspace) -> None:
    ws.write([LayerWrite("villages", "villages", _edit_kinds()["rename"])], action="edit", user="王五",
             note="民政复〔2024〕12号 更名")
    h = ws.history(unit="500118002002")
    assert h["op"].tolist() == ["insert", "update"]
    last = h.iloc[-1]
    assert (last["user"], last["note"], last["layer"]) == ("王五", "民政复〔2024〕12号 更名", "villages")
    assert json.loads(last["before"])["name"] == "朱龙花村村民委员会"
    assert json.loads(last["after"])["name"] == "朱龙村村民委员会"
    assert not last["geometry_changed"]
    assert set(ws.history(name="朱龙")["key"]) == {"500118002002"}
    assert ws.history(layer="facilities_elderly_day_care")["key"].tolist() == ["F1", "F2", "F3"]


def test_two_years_of_a_ledger_compare_by_facility(ws: Workspace) -> None:
    first = ws.revision()
    ledger = _ledger()
    ledger.loc[1, "beds"] = 12
    ledger = pd.concat([ledger.drop(index=[0]), pd.DataFrame({"facility_id": ["F4"], "name": ["丁站"],
                                                             "beds": [30]})], ignore_index=True)
    ws.write([LayerWrite("facilities_elderly_day_care", "facilities", ledger, facility_type="elderly_day_care")],
             action="import", note="2024 台账")
    change = ws.diff("facilities_elderly_day_care", since=first)
    assert change.counts == {"insert": 1, "update": 1, "delete": 1}
    assert {r.op: r.key for r in change.rows} == {"update": "F2", "delete": "F1", "insert": "F4"}


def test_keyless_rows_are_matched_by_content() -> None:
    a = pd.DataFrame({"text": ["甲", "乙", "乙"]})
    b = pd.DataFrame({"text": ["乙", "丙", "乙"]})
    change = diff_layer("notes", a, b)
    assert change.key_column == "#content"
    restored = undo_change(b, change)
    assert restored is not None
    assert layer_hash(restored) == layer_hash(a)



def test_history_records_and_hashes_are_those_of_earlier_versions() -> None:
    """The column-wise records and hashes (issue 17: a 293k-row first import) are the very text and hashes the
    row-by-row code recorded before (pinned here), so histories written by earlier versions still undo."""
    layer = gpd.GeoDataFrame({
        "code12": ["500118001001", "500118001002", "500118001003"],
        "name": pd.Series(['联"合\\村\n', None, "双石"], dtype="str"),
        "note": pd.Series(["甲", None, "\x01"], dtype=object),
        "households": np.array([310, -2, 10**15], dtype="int64"),
        "floors": np.array([1, 2, 255], dtype="uint8"),
        "open": [True, False, True],
        "area_m2": [0.1, np.nan, np.inf],
        "ratio": np.array([0.1, -0.0, 3.5], dtype="float32"),
        "beds": pd.array([1, None, 3], dtype="Int64"),
        "opened": pd.to_datetime(["2024-01-02T00:00:00", None, "1999-12-31T23:59:59"], format="ISO8601"),
        "mixed": pd.Series([1, "1", 1.5], dtype=object),
        "empty": pd.Series([None, None, None], dtype=object),
    }, geometry=gpd.GeoSeries([shapely.Point(105.9, 29.3), None, shapely.LineString([(0, 0), (1, 1)])],
                              crs="EPSG:4326"))
    # the row hashes are those of earlier versions: hashes recorded in the earlier (SHA-256) form still match
    assert hash_matches(layer, "c767ab353480333c1c3719f3f796f1917a6a642b5a96587bbecad30c84ae198b")
    assert hash_matches(pd.DataFrame(layer.drop(columns="geometry")),
                        "a6ab4e5f786e47cfc4d46b64cb315cc699f628781b4cf2a2d26e0e90675164bf")
    rows = diff_layer("x", None, layer).rows
    assert [(r.op, r.key, r.label) for r in rows] == [
        ("insert", "500118001001", '联"合\\村\n'), ("insert", "500118001002", None),
        ("insert", "500118001003", "双石")]
    assert [r.after for r in rows] == [
        '{"code12": "500118001001", "name": "联\\"合\\\\村\\n", "note": "甲", "households": 310, "floors": 1, '
        '"open": true, "area_m2": 0.1, "ratio": 0.10000000149011612, "beds": 1, "opened": "2024-01-02T00:00:00", '
        '"mixed": 1, "empty": null}',
        '{"code12": "500118001002", "name": null, "note": null, "households": -2, "floors": 2, "open": false, '
        '"area_m2": null, "ratio": -0.0, "beds": "<NA>", "opened": null, "mixed": "1", "empty": null}',
        '{"code12": "500118001003", "name": "双石", "note": "\\u0001", "households": 1000000000000000, '
        '"floors": 255, "open": true, "area_m2": Infinity, "ratio": 3.5, "beds": 3, '
        '"opened": "1999-12-31T23:59:59", "mixed": 1.5, "empty": null}']
    assert [r.after_geom for r in rows] == [shapely.to_wkb(g) if g is not None else None for g in layer.geometry]
    # each record is the row's json.dumps, row by row
    assert json.loads(rows[2].after)["households"] == 10**15
    assert json.dumps(json.loads(rows[0].after), ensure_ascii=False) == rows[0].after

_KILLED_WRITER = """
import sys, time
import gisplan.store.gpkg as g
from gisplan.store import LayerWrite, open_workspace
import geopandas as gpd, shapely
real = g._commit_file
def slow(tmp, path):
    print("WRITTEN", flush=True)   # the temporary copy is complete, the rename not done
    time.sleep(60)
    real(tmp, path)
g._commit_file = slow
ws = open_workspace(sys.argv[1])
v = ws.read("villages")
v.loc[0, "name"] = "被杀死的编辑"
ws.write([LayerWrite("villages", "villages", v)], action="edit", note="killed")
"""


def test_a_kill_in_the_middle_of_an_edit_keeps_the_last_committed_state(gpkg_ws: Workspace, tmp_path: Path) -> None:
    ws = gpkg_ws
    path = Path(ws.label)
    ws.write([LayerWrite("villages", "villages", _edit_kinds()["rename"])], action="edit", note="committed")
    committed = (layer_hash(ws.read("villages")), ws.revision(), len(ws.history()))
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(_KILLED_WRITER), encoding="utf-8")
    with subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "WRITTEN"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert list(tmp_path.glob(".h.gpkg.*.importing.gpkg"))  # killed with its complete temporary copy
    assert (layer_hash(ws.read("villages")), ws.revision(), len(ws.history())) == committed
    ws.undo()  # the history is whole: the committed edit still undoes exactly
    assert ws.read("villages")["name"].tolist() == _villages()["name"].tolist()
    assert not list(tmp_path.glob(".h.gpkg.*.importing.gpkg"))  # the next writer removed the leftover


@pytest.mark.parametrize("backend", ["gpkg", "postgis"])
def test_kills_at_random_moments_never_lose_a_commit(request: pytest.FixtureRequest, tmp_path: Path,
                                                     backend: str) -> None:
    """Kill a loop of edits at several moments; the workspace always reads as its last committed revision."""
    path = request.getfixturevalue("postgis_uri") if backend == "postgis" else str(tmp_path / "loop.gpkg")
    ws = open_workspace(path)
    ws.write([LayerWrite("villages", "villages", _villages())], action="import")
    script = tmp_path / "loop.py"
    script.write_text(textwrap.dedent("""
        import sys
        from gisplan.store import LayerWrite, open_workspace
        ws = open_workspace(sys.argv[1])
        for i in range(1000):
            v = ws.read("villages")
            v["households"] = v["households"] + 1
            ws.write([LayerWrite("villages", "villages", v)], action="edit", note=str(i))
            print("COMMITTED", flush=True)
    """), encoding="utf-8")
    rng = np.random.default_rng(15)
    for delay in rng.uniform(0.0, 1.5, size=3):
        with subprocess.Popen([sys.executable, str(script), str(path)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}) as proc:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "COMMITTED"
            time.sleep(float(delay))  # somewhere in a later edit
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        rev = ws.revision()
        hh = ws.read("villages")["households"]
        # every committed edit added 1 and is in the history; the killed one left no trace
        assert (hh - _villages()["households"]).eq(rev - 1).all()
        earlier = ws.layer_at("villages", rev - 1)  # and the history rebuilds the one before
        assert earlier is not None
        assert (earlier["households"] - _villages()["households"]).eq(rev - 2).all()
        assert int(ws.revisions()["revision"].max()) == rev


def test_filling_an_empty_text_column_records_one_row_not_all(ws: Workspace) -> None:
    # GDAL reads an all-empty text column as object; PostGIS keeps the text type it was written with
    assert str(ws.read("villages")["remark"].dtype) == ("object" if isinstance(ws, GeoPackageWorkspace) else "str")
    rev = ws.write([LayerWrite("villages", "villages", _edit_kinds()["fill an empty text column"])], action="edit")
    assert str(ws.read("villages")["remark"].dtype) == "str"
    (change,) = [c for _, c in ws.layer_changes(revision=rev)]
    assert change.counts == {"insert": 0, "update": 1, "delete": 0}
    assert change.rows[0].key == "500118002001"


# ------------------------------------------------------------------------------- a shared store (PostGIS)


@pytest.fixture
def pg(postgis_uri: str) -> PostGISWorkspace:
    w = _imported(postgis_uri)
    assert isinstance(w, PostGISWorkspace)
    return w


def test_row_edits_are_in_the_history_and_undo_as_new_revisions(pg: PostGISWorkspace) -> None:
    original = layer_hash(pg.read("villages"))
    fid = 4  # 朱龙花村村民委员会, 500118002002
    edited = pg.edit_row("villages", fid, {"name": "朱龙村村民委员会"}, base_version=1, user="王五",
                         note="民政复〔2024〕12号 更名")
    h = pg.history(unit="500118002002")
    assert h["op"].tolist() == ["insert", "update"]
    last = h.iloc[-1]
    assert (last["user"], last["action"], last["note"]) == ("王五", "edit", "民政复〔2024〕12号 更名")
    assert json.loads(last["after"])["name"] == "朱龙村村民委员会"
    assert pg.read_layer("villages", as_of=1)["name"].iloc[3] == "朱龙花村村民委员会"
    assert pg.undoable() == edited.version  # revision 2 is the edit
    undo_rev = pg.undo(user="李四")
    assert layer_hash(pg.read("villages")) == original
    revs = pg.revisions().set_index("revision")
    assert (revs.loc[undo_rev, "undoes"], revs.loc[undo_rev, "user"]) == (2, "李四")
    # nothing recorded was rewritten: three revisions, the edit's history rows still there
    assert revs.index.tolist() == [1, 2, 3]
    assert pg.history(unit="500118002002")["op"].tolist() == ["insert", "update", "update"]
    # the undo rewrote the layer: every row has a version above the old ones, so an edit based on them is refused
    versions = pg.row_versions("villages")
    assert versions["version"].tolist() == [3, 3, 3, 3]
    with pytest.raises(ConflictError, match=r"已被 李四 于 .* 修改（当前版本 3，你的修改基于版本 2）"):
        pg.edit_row("villages", fid, {"name": "迟到的修改"}, base_version=2, user="王五")


def test_a_row_edit_reads_one_row_not_the_layer(pg: PostGISWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from gisplan.store import pgedits

    whole: list[str] = []
    real = pgedits.read_stored

    def spy(con: object, schema: str, name: str, *, fid: int | None = None) -> pd.DataFrame | None:
        if fid is None:
            whole.append(name)
        return real(con, schema, name, fid=fid)  # type: ignore[arg-type]

    monkeypatch.setattr(pgedits, "read_stored", spy)
    pg.edit_row("villages", 2, {"households": 345}, base_version=1, user="王五")
    pg.edit_row("villages", 2, {"name": "兴隆村"}, base_version=2, user="李四")
    assert whole == []
    # the hash recorded from the two rows is the layer's as read back whole, so undo takes both edits back
    recorded = pg.layer_changes(layer="villages")[-1][1]
    assert recorded.hash_after == layer_hash(pg.read("villages"))
    assert recorded.counts == {"insert": 0, "update": 1, "delete": 0}
    pg.undo(user="李四")
    pg.undo(user="王五")
    assert layer_hash(pg.read("villages")) == layer_hash(_imported_frame(pg))


def test_undo_is_refused_naming_who_changed_a_row_since(pg: PostGISWorkspace) -> None:
    kinds = _edit_kinds()
    pg.write([LayerWrite("villages", "villages", kinds["move geometry"])], action="edit", user="张三")
    pg.edit_row("villages", 1, {"households": 1250}, base_version=2, user="李四")
    with pytest.raises(ConflictError, match=r"cannot revert revision 2: `villages` \(changed again in revision 3 "
                                            r"by 李四 at .* CST\)"):
        pg.revert(2)
    # the last change (李四's row edit) undoes; then 张三's whole-layer edit can be taken back too
    pg.undo(user="李四")
    pg.undo(user="张三")
    assert layer_hash(pg.read("villages")) == layer_hash(_imported_frame(pg))
    assert pg.revisions()["action"].tolist() == ["import", "edit", "edit", "undo", "undo"]


def _imported_frame(ws: Workspace) -> pd.DataFrame:
    frame = ws.layer_at("villages", 1)
    assert frame is not None
    return frame


@pytest.mark.parametrize("backend", ["gpkg", "postgis"])
def test_history_undo_revert_and_as_of_commands(request: pytest.FixtureRequest, tmp_path: Path,
                                                backend: str) -> None:
    uri = str(request.getfixturevalue("postgis_uri") if backend == "postgis" else tmp_path / "cli.gpkg")
    ws = _imported(uri)
    ws.write([LayerWrite("villages", "villages", _edit_kinds()["rename"])], action="edit", user="王五",
             note="民政复〔2024〕12号")
    runner = CliRunner()
    listed = runner.invoke(cli, ["history", "-w", uri])
    assert listed.exit_code == 0, listed.output
    assert "王五" in listed.output
    assert "民政复〔2024〕12号" in listed.output
    unit = runner.invoke(cli, ["history", "-w", uri, "--unit", "500118002002"])
    assert unit.exit_code == 0, unit.output
    assert "name: 朱龙花村村民委员会 → 朱龙村村民委员会" in unit.output
    shown = runner.invoke(cli, ["layers", "show", "villages", "--as-of", "1", "-w", uri])
    assert shown.exit_code == 0, shown.output
    assert "朱龙花村村民委员会" in shown.output
    undone = runner.invoke(cli, ["undo", "-w", uri, "--user", "李四"])
    assert undone.exit_code == 0, undone.output
    assert "undid revision 2" in undone.output
    assert "villages: 0 added, 1 changed, 0 removed" in undone.output
    assert ws.read("villages")["name"].tolist() == _villages()["name"].tolist()
    redone = runner.invoke(cli, ["revert", "3", "-w", uri])
    assert redone.exit_code == 0, redone.output
    assert ws.read("villages")["name"].iloc[3] == "朱龙村村民委员会"
    ws.write([LayerWrite("villages", "villages", _edit_kinds()["reorder rows"])], action="edit", user="赵六")
    # revision 2's layer was changed again since (undo, redo, 赵六's edit): refused, exit 1, nothing written
    refused = runner.invoke(cli, ["revert", "2", "-w", uri])
    assert refused.exit_code == 1
    assert "changed again in revision 3 by 李四 at" in refused.output
    assert ", 5 by 赵六 at" in refused.output
    assert "Traceback" not in refused.output
    assert ws.revision() == 5


def test_a_row_edit_is_recorded_as_the_whole_layer_diff_would() -> None:
    before = _villages()
    after = before.copy()
    after.loc[2, ["name", "households"]] = ["兴隆社区", 420]
    expected = diff_layer("villages", before, after, meta_before={"layer": "villages"},
                          meta_after={"layer": "villages"})
    row_before, row_after = before.iloc[[2]].reset_index(drop=True), after.iloc[[2]].reset_index(drop=True)
    quick = row_edit_change("villages", row_before, row_after, 2, key_column="code12",
                            hash_before=layer_hash(before), meta={"layer": "villages"})
    # from the two rows alone: the same record, the layer hash after updated from the row hashes
    assert quick == expected
    assert quick is not None
    assert quick.hash_after == layer_hash(after) != layer_hash(before)
    assert undo_change(after, quick) is not None
    assert layer_hash(undo_change(after, quick)) == layer_hash(before)
    # an edit that changes nothing keeps the hash; a second edit chains on the first's hash
    same = row_edit_change("villages", row_after, row_after, 2, key_column="code12",
                           hash_before=quick.hash_after, meta=None)
    assert same is not None
    assert same.rows == ()
    assert same.hash_after == layer_hash(after)
    again = after.copy()
    again.loc[0, "name"] = "朱龙村"
    chained = row_edit_change("villages", after.iloc[[0]].reset_index(drop=True),
                              again.iloc[[0]].reset_index(drop=True), 0, key_column="code12",
                              hash_before=quick.hash_after, meta=None)
    assert chained is not None
    assert chained.hash_after == layer_hash(again)
    # a hash of the earlier form, another schema, or a changed key: None (the caller compares whole layers)
    assert row_edit_change("villages", row_before, row_after, 2, key_column="code12",
                           hash_before="0" * 64, meta=None) is None
    assert row_edit_change("villages", row_before, row_after.assign(extra=1), 2, key_column="code12",
                           hash_before=layer_hash(before), meta=None) is None
    assert row_edit_change("villages", row_before, row_after.assign(code12="500118009001"), 2,
                           key_column="code12", hash_before=layer_hash(before), meta=None) is None


def test_hashes_recorded_in_the_earlier_form_still_undo() -> None:
    before = _villages()
    after = before.copy()
    after.loc[1, "name"] = "旧式哈希"
    change = diff_layer("villages", before, after)
    legacy = dataclasses.replace(change, hash_before=legacy_layer_hash(before, row_hashes(before)),
                                 hash_after=legacy_layer_hash(after, row_hashes(after)))
    assert len(str(legacy.hash_after)) == 64
    assert hash_matches(after, legacy.hash_after)
    assert not hash_matches(before, legacy.hash_after)
    assert layer_hash(undo_change(after, legacy)) == layer_hash(before)
    with pytest.raises(ValueError, match="is not as revision left it"):
        undo_change(before, legacy)


# ------------------------------------------------------------------ a creation recorded as one snapshot (issue 17)

_SHOWN = ["revision", "user", "action", "note", "layer", "op", "key", "label", "before", "after", "geometry_changed"]


def test_a_creation_is_one_snapshot_whose_inserts_history_rebuilds(ws: Workspace) -> None:
    created = {c.layer: c for _rev, c in ws.layer_changes(revision=1)}
    # no insert record per row is stored, only the count
    assert {n: (c.rows, c.counts) for n, c in created.items()} == {
        "villages": ((), {"insert": 4, "update": 0, "delete": 0}),
        "facilities_elderly_day_care": ((), {"insert": 3, "update": 0, "delete": 0})}
    expected = diff_layer("villages", None, ws.layer_at("villages", 1)).rows  # the records made row by row
    ws.write([LayerWrite("villages", "villages", _edit_kinds()["rename"])], action="edit", user="王五")
    h = ws.history(layer="villages")
    assert h["op"].tolist() == ["insert"] * 4 + ["update"]
    assert h["key"].tolist()[:4] == [r.key for r in expected]
    assert h["label"].tolist()[:4] == [r.label for r in expected]
    assert h["after"].tolist()[:4] == [r.after for r in expected]  # the state right after revision 1, not now
    assert h["before"].iloc[:4].isna().all()
    assert h["geometry_changed"].tolist() == [True, True, True, True, False]
    assert (h["user"].iloc[0], h["note"].iloc[0], h["action"].iloc[0]) == ("张三", "首次导入", "import")
    assert ws.history(name="兴隆村")["key"].tolist() == ["500118001002", "500118002001"]


def test_histories_recorded_row_by_row_read_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A workspace whose creations were recorded with an insert record per row (every version before snapshots)
    reads, filters and undoes exactly as one recorded with snapshots."""
    import gisplan.store.gpkg as gpkg_module

    real = gpkg_module.diff_layer

    def row_by_row(*args: Any, snapshot: bool = False, **kwargs: Any) -> LayerChange:
        assert snapshot  # the commit asks for a snapshot, and gets the records of earlier versions
        return real(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(gpkg_module, "diff_layer", row_by_row)
        old = _imported(tmp_path / "old.gpkg")
    new = _imported(tmp_path / "new.gpkg")
    for name, records in (("old.gpkg", 7), ("new.gpkg", 0)):
        with contextlib.closing(sqlite3.connect(tmp_path / name)) as con:
            assert con.execute("SELECT count(*) FROM gisplan_row_history").fetchone()[0] == records
    for w in (old, new):
        w.write([LayerWrite("villages", "villages", _edit_kinds()["merge two rows"])], action="edit", user="王五")
    for query in ({}, {"unit": "500118002001"}, {"name": "兴隆"}, {"layer": "facilities_elderly_day_care"}):
        assert old.history(**query)[_SHOWN].equals(new.history(**query)[_SHOWN]), query
    for w in (old, new):
        w.undo()
        w.undo()
        assert w.layer_names() == frozenset()

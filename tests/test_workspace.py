"""The Workspace contract: what every backend must do, run against each through one fixture.

Both backends run every test: the GeoPackage (its snapshot is the file's hash) and PostGIS in the session's
throwaway cluster (its snapshot is a dump of every table of the workspace's schema). What only a GeoPackage can
show (QGIS compatibility, SIGKILL during a write, the SQLite triggers) is in ``test_store.py``; what only PostGIS
does (row versions and conflicts, `db copy`) is in ``test_postgis.py``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from gisplan.catalogue import facility_layer_name, facility_type_of
from gisplan.errors import StoreError
from gisplan.store import (
    LOG_COLUMNS,
    META_COLUMNS,
    Drop,
    GeoPackageWorkspace,
    LayerWrite,
    PostGISWorkspace,
    Transaction,
    Workspace,
    open_workspace,
)
from tests.conftest import sha256

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

BACKENDS = ["gpkg", "postgis"]


@dataclass(frozen=True)
class Backend:
    """A fresh workspace of one backend, and a snapshot of everything it stores (compared with ``==``)."""

    workspace: Workspace
    snapshot: Callable[[], object]


def _gpkg(tmp_path: Path) -> Backend:
    path = tmp_path / "contract.gpkg"
    return Backend(open_workspace(f"gpkg:{path}"), lambda: sha256(path) if path.exists() else None)


def _postgis(uri: str) -> Backend:
    from tests.test_postgis import dump_schema

    return Backend(open_workspace(uri), lambda: dump_schema(uri))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A new, empty workspace of each backend (not created yet)."""
    if request.param == "postgis":
        return _postgis(request.getfixturevalue("postgis_uri"))
    return _gpkg(tmp_path)


@pytest.fixture
def ws(backend: Backend) -> Workspace:
    return backend.workspace


# ------------------------------------------------------------------------------------------------ data


def _centres() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "facility_id": ["F1", "F2", "F3"],
        "name": ["中山路街道社区服务中心", "胜利路街道社区服务中心", "卫星湖街道社区服务中心"],
        "beds": np.array([10, 0, 25], dtype="int64"),
        "floor_area_m2": [120.5, np.nan, 300.0],
        "open": [True, False, True],
    }, geometry=shapely.points([[105.90, 29.35], [105.92, 29.36], [105.95, 29.40]]), crs="EPSG:4326")


def _townships() -> gpd.GeoDataFrame:
    two_parts = shapely.MultiPolygon([shapely.box(105.9, 29.3, 106.0, 29.4), shapely.box(106.1, 29.3, 106.2, 29.4)])
    return gpd.GeoDataFrame({"code12": ["500118001000", "500118002000"], "name": ["中山路街道", "胜利路街道"]},
                            geometry=[shapely.box(105.8, 29.3, 105.9, 29.4), two_parts], crs="EPSG:4326")


def _gazetteer() -> pd.DataFrame:
    return pd.DataFrame({"code12": ["500118000000", "500118001000", "500118002000"],
                         "name": ["永川区", "中山路街道", "胜利路街道"], "level": [1, 2, 2]})


CENTRES = facility_layer_name("community_service_centre")


def _writes() -> list[LayerWrite]:
    return [
        LayerWrite(CENTRES, "facilities", _centres(), source_path="/data/台账.xlsx", source_sha256="ab" * 32,
                   source_layer="2023", crs_given="gcj02", facility_type="community_service_centre",
                   illustrative=True, note="示意 illustrative (generated data)"),
        LayerWrite("townships", "townships", _townships(), source_path="/data/镇街.geojson"),
        LayerWrite("gazetteer", "gazetteer", _gazetteer(), source_path="/data/区划代码.csv"),
    ]


def _scratch(name: str = "scratch") -> LayerWrite:
    return LayerWrite(name, "result", pd.DataFrame({"code12": ["500118000000"]}))


@pytest.fixture
def filled(ws: Workspace) -> Workspace:
    """The workspace with three layers written in one step."""
    ws.write(_writes(), action="import", detail={"files": 3})
    return ws


# --------------------------------------------------------------------------------- opening and creating


def test_a_new_workspace_is_empty_until_written(backend: Backend) -> None:
    ws = backend.workspace
    assert not ws.exists()
    assert ws.layer_names() == frozenset()
    assert not ws.has_layer("townships")
    assert ws.revision() == 0
    assert ws.facility_layers() == {}
    assert ws.illustrative() is False
    with pytest.raises(StoreError, match="does not exist; import a layer first"):
        ws.metadata()
    with pytest.raises(StoreError, match="does not exist"):
        ws.read_layer("townships")
    assert backend.snapshot() is None  # nothing was created by looking


def test_create_logs_init_once(ws: Workspace) -> None:
    assert ws.create() is ws
    assert ws.exists()
    assert list(ws.metadata().columns) == list(META_COLUMNS)
    assert ws.metadata().empty
    log = ws.changelog()
    assert list(log.columns) == list(LOG_COLUMNS)
    assert log["action"].tolist() == ["init"]
    assert ws.revision() == 1
    ws.create()  # an existing workspace: nothing to log
    assert ws.changelog()["action"].tolist() == ["init"]
    assert ws.revision() == 1


def test_reopening_by_uri_sees_the_same_workspace(filled: Workspace) -> None:
    again = open_workspace(filled.uri)
    assert again.label == filled.label
    assert again.layer_names() == filled.layer_names()
    pd.testing.assert_frame_equal(again.changelog(), filled.changelog())


# ------------------------------------------------------------------------------- writing and reading


def test_several_layers_written_in_one_step_read_back_equal(filled: Workspace) -> None:
    assert filled.layer_names() == {CENTRES, "townships", "gazetteer"}
    assert_geodataframe_equal(filled.read_layer(CENTRES), _centres(), check_crs=True)
    assert_geodataframe_equal(filled.read_layer("townships"), _townships(), check_crs=True)
    pd.testing.assert_frame_equal(filled.read_table("gazetteer"), _gazetteer())
    # read(): whatever the layer is; read_table() of a spatial layer: its attributes
    assert_geodataframe_equal(filled.read("townships"), _townships(), check_crs=True)
    assert not isinstance(filled.read("gazetteer"), gpd.GeoDataFrame)
    pd.testing.assert_frame_equal(filled.read_table("townships"), pd.DataFrame(_townships().drop(columns="geometry")))
    assert [filled.is_spatial(n) for n in (CENTRES, "townships", "gazetteer")] == [True, True, False]
    log = filled.changelog()
    assert log["action"].tolist() == ["init", "import", "import", "import"]
    assert log["revision"].tolist() == [1, 1, 1, 1]  # one write, one revision


def test_an_attribute_table_is_not_read_as_a_layer(filled: Workspace) -> None:
    with pytest.raises(StoreError, match=r"'gazetteer' .* is an attribute table without geometry"):
        filled.read_layer("gazetteer")
    with pytest.raises(StoreError, match="no layer 'villages'"):
        filled.is_spatial("villages")


def test_an_unknown_layer_is_refused_naming_the_layers(filled: Workspace) -> None:
    with pytest.raises(StoreError, match=r"no layer 'roads' \(layers: facilities_community_service_centre, "
                                         r"gazetteer, townships\)"):
        filled.read_table("roads")


def test_metadata_records_every_layer_with_its_provenance(filled: Workspace) -> None:
    meta = filled.metadata()
    assert meta["layer"].tolist() == sorted([CENTRES, "townships", "gazetteer"])
    rows = meta.set_index("layer")
    centres = rows.loc[CENTRES]
    assert (centres["kind"], centres["facility_type"], centres["row_count"]) == ("facilities",
                                                                                 "community_service_centre", 3)
    assert (centres["source_path"], centres["source_sha256"], centres["source_layer"]) == ("/data/台账.xlsx",
                                                                                           "ab" * 32, "2023")
    assert (centres["crs_given"], centres["stored_crs"], centres["illustrative"]) == ("gcj02", "EPSG:4326", 1)
    assert centres["note"] == "示意 illustrative (generated data)"
    assert rows.loc["townships", "stored_crs"] == "EPSG:4326"
    assert rows.loc["townships", "row_count"] == 2
    assert pd.isna(rows.loc["gazetteer", "stored_crs"])
    assert rows.loc["gazetteer", "illustrative"] == 0
    stamp = datetime.strptime(rows.loc["gazetteer", "imported_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60
    assert filled.facility_layers() == {"community_service_centre": CENTRES}
    assert filled.illustrative() is True


def test_facility_layer_names_have_one_spelling() -> None:
    assert facility_layer_name("public_cemetery") == "facilities_public_cemetery"
    assert facility_type_of("facilities_public_cemetery") == "public_cemetery"
    assert facility_type_of("townships") is None
    assert facility_type_of(facility_layer_name("a_b")) == "a_b"


def test_replacing_a_layer_replaces_its_rows_and_metadata(filled: Workspace) -> None:
    fewer = _centres().iloc[:1]
    filled.write([LayerWrite(CENTRES, "facilities", fewer, facility_type="community_service_centre")],
                 action="import", detail={})
    assert_geodataframe_equal(filled.read_layer(CENTRES), fewer, check_crs=True)
    row = filled.metadata().set_index("layer").loc[CENTRES]
    assert (row["row_count"], row["illustrative"]) == (1, 0)
    assert filled.illustrative() is False


# ------------------------------------------------------------------------------------------ change log


def test_change_log_only_grows(filled: Workspace) -> None:
    before = filled.changelog()
    filled.write([_scratch()], action="coverage", detail={"method": "network"})
    with filled.transaction(action="tidy") as tx:
        tx.drop("scratch")
    after = filled.changelog()
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)  # old rows untouched
    assert after["seq"].is_monotonic_increasing
    assert after["seq"].is_unique
    new = after.iloc[len(before):]
    assert new[["action", "layer"]].to_numpy().tolist() == [["coverage", "scratch"], ["tidy", "scratch"]]
    assert json.loads(new["detail"].iloc[0]) == {"method": "network", "rows": 1, "source": None}
    assert json.loads(new["detail"].iloc[1]) == {"dropped": True}
    assert new["revision"].tolist() == [2, 3]


# ------------------------------------------------------------------------------ all or nothing


def test_a_failing_write_leaves_the_workspace_unchanged(backend: Backend, filled: Workspace) -> None:
    before, log, meta = backend.snapshot(), filled.changelog(), filled.metadata()
    bad = LayerWrite("scratch_bad", None, pd.DataFrame({"a": [1]}))  # type: ignore[arg-type]  # kind is required
    with pytest.raises(StoreError, match="unchanged"):
        filled.write([_scratch("scratch_ok"), bad], action="import", detail={})
    unwritable = LayerWrite("complex", "result", pd.DataFrame({"a": [1 + 2j]}))
    with pytest.raises(StoreError, match="unchanged"):
        filled.write([unwritable], action="import", detail={})
    assert backend.snapshot() == before
    pd.testing.assert_frame_equal(filled.changelog(), log)
    pd.testing.assert_frame_equal(filled.metadata(), meta)
    assert filled.revision() == 1


@pytest.mark.parametrize("name", ["a; DROP TABLE x", "Facilities", "", "1townships", "_townships", "town-ships",
                                  "镇街", "x" * 64, "townships\n"])
def test_unsafe_layer_names_are_refused(backend: Backend, filled: Workspace, name: str) -> None:
    before = backend.snapshot()
    with pytest.raises(StoreError, match="lower_snake_case"):
        filled.write([LayerWrite(name, "result", pd.DataFrame({"a": [1]}))], action="import")
    with pytest.raises(StoreError, match="lower_snake_case"):
        filled.read_table(name)
    with pytest.raises(StoreError, match="lower_snake_case"), filled.transaction(action="edit") as tx:
        tx.drop(name)
    assert backend.snapshot() == before


# ------------------------------------------------------------------------------------------ writer lock


def test_a_writer_waits_for_the_lock(backend: Backend, filled: Workspace) -> None:
    """While one holder keeps the lock, a writer that waits too little is refused (nothing written) and one that
    waits long enough goes through once the lock is released."""
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with filled.lock():
            held.set()
            release.wait(10)
            time.sleep(0.3)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(10)
        before = backend.snapshot()
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"another gisplan process \(waited 0.2 s\)"):
            filled.write([_scratch()], action="import", wait_s=0.2)
        assert time.monotonic() - started >= 0.2
        assert backend.snapshot() == before
        release.set()
        started = time.monotonic()
        filled.write([_scratch()], action="import", wait_s=10)
        assert time.monotonic() - started >= 0.2  # it waited for the holder to let go
    finally:
        release.set()
        thread.join()
    assert filled.has_layer("scratch")


def test_reads_and_writes_under_one_held_lock(filled: Workspace) -> None:
    """Validate against the workspace and write, with nobody in between: hold the lock, write with lock=False."""
    with filled.lock(wait_s=1):
        rows = len(filled.read_table("gazetteer"))
        filled.write([LayerWrite("counts", "result", pd.DataFrame({"rows": [rows]}))], action="count", lock=False)
    assert filled.read_table("counts")["rows"].tolist() == [3]


# ---------------------------------------------------------------------------- transactions and revisions


def test_a_transaction_commits_writes_and_drops_as_one_revision(backend: Backend, filled: Workspace) -> None:
    with filled.transaction(action="rename", detail={"by": "测试"}) as tx:
        assert (tx.revision, tx.committed) == (2, False)
        tx.write(LayerWrite("towns_2024", "townships", _townships()))
        tx.drop("townships")
        assert not filled.has_layer("towns_2024")  # nothing is visible before the commit
        assert [type(op) for op in tx.operations] == [LayerWrite, Drop]
    assert tx.committed
    assert filled.layer_names() == {CENTRES, "gazetteer", "towns_2024"}
    assert_geodataframe_equal(filled.read_layer("towns_2024"), _townships(), check_crs=True)
    log = filled.changelog()
    rows = log[log["revision"] == 2]
    assert rows[["action", "layer"]].to_numpy().tolist() == [["rename", "towns_2024"], ["rename", "townships"]]
    assert all(json.loads(d)["by"] == "测试" for d in rows["detail"])
    assert filled.revision() == 2
    # a dropped layer's name is free again
    filled.write([LayerWrite("townships", "townships", _townships())], action="import")
    assert_geodataframe_equal(filled.read_layer("townships"), _townships(), check_crs=True)
    assert filled.revision() == 3
    with pytest.raises(StoreError, match="transaction is over"):
        tx.write(_scratch())


def test_an_error_inside_a_transaction_commits_nothing(backend: Backend, filled: Workspace) -> None:
    before = backend.snapshot()
    seen: list[Transaction] = []

    def edit() -> None:
        with filled.transaction(action="edit") as tx:
            seen.append(tx)
            tx.write(_scratch())
            tx.drop("townships")
            raise KeyError("oops")

    with pytest.raises(KeyError):
        edit()
    assert not seen[0].committed
    assert backend.snapshot() == before
    assert filled.revision() == 1


def test_only_stored_or_written_layers_can_be_dropped(filled: Workspace) -> None:
    with filled.transaction(action="edit") as tx:
        with pytest.raises(StoreError, match="no layer 'villages' to drop"):
            tx.drop("villages")
        tx.write(_scratch())
        tx.drop("scratch")  # written, then dropped again: fine
        with pytest.raises(StoreError, match="no layer 'scratch' to drop"):
            tx.drop("scratch")
    assert "scratch" not in filled.layer_names()


def _history(tx: Transaction) -> None:
    """A history hook like the place-name issue's: one row per changed layer, with the revision, appended."""
    ws = tx.workspace
    old = ws.read_table("history") if ws.has_layer("history") else pd.DataFrame(
        {"revision": pd.Series([], dtype="int64"), "action": pd.Series([], dtype=str),
         "layer": pd.Series([], dtype=str)})
    rows = pd.DataFrame({"revision": [tx.revision] * len(tx.operations), "action": [tx.action] * len(tx.operations),
                         "layer": [op.name for op in tx.operations]})
    tx.write(LayerWrite("history", "history", pd.concat([old, rows], ignore_index=True)))


def test_a_hook_adds_history_rows_inside_every_transaction(backend: Backend, filled: Workspace) -> None:
    tracked = filled.with_hook(_history)
    assert filled.hooks == ()  # the workspace itself is unchanged
    assert tracked.hooks == (_history,)
    tracked.write([_scratch()], action="import")
    with tracked.transaction(action="tidy") as tx:
        tx.drop("scratch")
    history = tracked.read_table("history")
    assert history.to_numpy().tolist() == [[2, "import", "scratch"], [3, "tidy", "scratch"]]
    log = tracked.changelog()
    # the hook's own write is part of the same revision
    assert log[log["revision"] == 3][["action", "layer"]].to_numpy().tolist() == [["tidy", "scratch"],
                                                                                  ["tidy", "history"]]
    # an untracked write adds no history
    filled.write([_scratch("other")], action="import")
    assert len(filled.read_table("history")) == 2
    assert backend.snapshot() is not None


def test_a_failing_hook_aborts_the_transaction(backend: Backend, filled: Workspace) -> None:
    def refuse(tx: Transaction) -> None:
        if any(op.name == "townships" for op in tx.operations):
            msg = "townships are edited through the boundary workflow"
            raise StoreError(msg)

    guarded = filled.with_hook(_history).with_hook(refuse)
    before = backend.snapshot()
    with pytest.raises(StoreError, match="boundary workflow"), guarded.transaction(action="edit") as tx:
        tx.drop("townships")
    assert not tx.committed
    assert backend.snapshot() == before
    assert not filled.has_layer("history")
    guarded.write([_scratch()], action="import")  # allowed: both hooks ran, one wrote history
    assert guarded.read_table("history")["layer"].tolist() == ["scratch"]


# ----------------------------------------------------------------------------------------- open_workspace


def test_paths_and_gpkg_uris_open_a_geopackage(tmp_path: Path) -> None:
    path = tmp_path / "yc.gpkg"
    for given in (path, str(path), f"gpkg:{path}", f"  gpkg:{path} "):
        ws = open_workspace(given)
        assert isinstance(ws, GeoPackageWorkspace)
        assert ws.path == path
        assert ws.uri == f"gpkg:{path}"
    assert open_workspace(r"C:\work\yc.gpkg").label == r"C:\work\yc.gpkg"  # a drive letter is not a scheme
    ws = open_workspace(path)
    assert open_workspace(ws) is ws
    assert ws.derived_path("_results") == tmp_path / "yc_results"


@pytest.mark.parametrize("uri", ["postgresql://planner:s3cret@db.example/yongchuan?schema=yc",
                                 "postgres://planner:s3cret@db/yc?schema=yc", "postgis://planner:s3cret@db/yc?schema=yc"])
def test_postgis_uris_open_a_postgis_workspace_without_showing_the_password(uri: str) -> None:
    ws = open_workspace(uri)
    assert isinstance(ws, PostGISWorkspace)
    assert ws.schema == "yc"
    assert "s3cret" not in ws.label
    assert ws.label.startswith(uri.split(":", 1)[0] + "://planner:…@")
    assert ws.uri == uri  # reopens the same workspace


@pytest.mark.parametrize(("uri", "message"), [
    ("postgresql://planner:s3cret@db/yc?schema=Bad;DROP", "schema 'Bad;DROP' must be lower_snake_case"),
    ("postgresql://planner:s3cret@db?schema=yc", "name the database"),
])
def test_bad_postgis_uris_are_refused_without_showing_the_password(uri: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as info:
        open_workspace(uri)
    assert "s3cret" not in str(info.value)  # never echo a password


@pytest.mark.parametrize(("uri", "message"), [
    ("s3://bucket/yc.gpkg", "unknown kind of workspace `s3:`"),
    ("", "the workspace is empty"),
    ("gpkg:", "the workspace is empty"),
])
def test_other_uris_are_refused(uri: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        open_workspace(uri)

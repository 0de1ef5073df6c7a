"""The workspace store: metadata, GeoPackage/QGIS compatibility, the append-only change log, atomic
writes (errors and SIGKILL), the writer lock and layer-name checks.

Every test works on its own copy of a store; nothing is mocked. The kill tests run the real `gisplan`
command in a subprocess and SIGKILL it while it writes. The tests of the import contract (`any_store`: change log,
all-or-nothing imports, re-checks, unknown layers) run on a GeoPackage and on a PostGIS workspace.
"""

from __future__ import annotations

import contextlib
import fcntl
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyogrio
import pytest

from gisplan.errors import SchemaError, StoreError
from gisplan.store import HISTORY_TABLES, LOG_TABLE, META_TABLE, LayerWrite, check_layer_name, open_workspace
from gisplan.workflows.importing import ImportSpec, import_layers, validate_imports
from tests.conftest import FACILITIES, LAYERS, sha256, shared_data

if TYPE_CHECKING:
    from collections.abc import Callable

    from gisplan.catalogue import Catalogue
    from gisplan.store import Workspace

GAZETTEER = LAYERS / "yongchuan_gazetteer.csv"
BOUNDARIES = LAYERS / "yongchuan_boundaries.gpkg"
HOUSEHOLDS = LAYERS / "yongchuan_households_illustrative.csv"
TMP_SUFFIX = ".importing.gpkg"
ROADS_ROWS = 10_830
HEX64 = re.compile(r"^[0-9a-f]{64}$")


# --------------------------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class StoreCase:
    """The base workspace (gazetteer, district, townships, 267 centres) in one backend, and a snapshot of all it
    stores (equal snapshots: unchanged)."""

    workspace: Workspace
    snapshot: Callable[[], object]


def _base_specs() -> list[ImportSpec]:
    return [ImportSpec(GAZETTEER, "gazetteer"), ImportSpec(BOUNDARIES, "district", layer="district"),
            ImportSpec(BOUNDARIES, "townships", layer="townships"),
            ImportSpec(FACILITIES, "facilities", "community_service_centre", layer="community_service_centre")]


@pytest.fixture(params=["gpkg", "postgis"])
def any_store(request: pytest.FixtureRequest, store: Path, catalogue: Catalogue) -> StoreCase:
    """The contract tests of this module run on a GeoPackage copy of the base store and on a PostGIS workspace
    built by the same import."""
    if request.param == "gpkg":
        return StoreCase(open_workspace(store), lambda: sha256(store))
    from tests.test_postgis import dump_schema

    uri = request.getfixturevalue("postgis_uri")
    ws = open_workspace(uri)
    import_layers(ws, _base_specs(), catalogue=catalogue)
    return StoreCase(ws, lambda: dump_schema(uri))


def _temps(store: Path) -> list[Path]:
    """Temporary files of writers to `store` (not their -journal files)."""
    return sorted(store.parent.glob(f".{store.name}.*{TMP_SUFFIX}"))


def _leftovers(store: Path) -> list[Path]:
    """Temporary files of writers to `store` with their SQLite -journal/-wal/-shm companions."""
    return sorted(store.parent.glob(f".{store.name}.*{TMP_SUFFIX}*"))


def _sql(store: Path, query: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as con:
        return con.execute(query, params).fetchall()


def _integrity(store: Path) -> str:
    return str(_sql(store, "PRAGMA integrity_check")[0][0])


def _gdal_layers(store: Path) -> set[str]:
    return {str(name) for name, _ in pyogrio.list_layers(store)}


def _gisplan_exe() -> Path:
    exe = Path(sys.executable).with_name("gisplan")
    if exe.exists():
        return exe
    found = shutil.which("gisplan")
    if found is None:
        pytest.fail("the `gisplan` console script is not installed next to the interpreter or on PATH")
    return Path(found)


def _facility_layers() -> list[str]:
    return [str(name) for name, _ in pyogrio.list_layers(FACILITIES)]


def _source_rows(spec: ImportSpec) -> int:
    if spec.path.suffix == ".csv":
        return len(pd.read_csv(spec.path, dtype=str))
    return int(pyogrio.read_info(spec.path, layer=spec.layer)["features"])


def _all_specs() -> list[ImportSpec]:
    """Every 永川 layer shipped in layers/: real boundaries and gazetteer, illustrative rest."""
    return [
        ImportSpec(GAZETTEER, "gazetteer"),
        ImportSpec(BOUNDARIES, "district", layer="district"),
        ImportSpec(BOUNDARIES, "townships", layer="townships"),
        ImportSpec(HOUSEHOLDS, "households"),
        *(ImportSpec(FACILITIES, "facilities", name, layer=name) for name in _facility_layers()),
    ]


@dataclass(frozen=True)
class FullStore:
    path: Path
    specs: tuple[ImportSpec, ...]
    started: datetime
    finished: datetime


@pytest.fixture(scope="module")
def full_store(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> FullStore:
    """A workspace built in one import from every 永川 file in layers/."""
    path = tmp_path_factory.mktemp("full") / "full.gpkg"
    specs = tuple(_all_specs())
    started = datetime.now(UTC)
    import_layers(open_workspace(path), specs, catalogue=catalogue)
    return FullStore(path, specs, started, datetime.now(UTC))


@pytest.fixture
def full_copy(full_store: FullStore, tmp_path: Path) -> Path:
    path = tmp_path / "full.gpkg"
    shutil.copyfile(full_store.path, path)
    return path


# ------------------------------------------------------------------------------------------ 1. metadata


def test_metadata_has_one_row_per_layer_with_provenance(full_store: FullStore) -> None:
    meta = open_workspace(full_store.path).metadata()
    expected = {
        "gazetteer", "district", "townships", "households",
        *(f"facilities_{name}" for name in _facility_layers()),
    }
    assert len(_facility_layers()) == 10  # the demo's ten 示意 facility layers, minor-protection stations included
    assert list(meta["layer"]) == sorted(expected)  # one row each, sorted, no duplicates
    rows = meta.set_index("layer")

    for spec in full_store.specs:
        name = spec.kind if spec.kind != "facilities" else f"facilities_{spec.facility_type}"
        row = rows.loc[name]
        assert row["kind"] == spec.kind
        assert row["source_path"] == str(spec.path.resolve())
        assert HEX64.match(row["source_sha256"]), row["source_sha256"]
        assert row["source_sha256"] == sha256(spec.path)
        assert row["row_count"] == _source_rows(spec), name

        stamp = row["imported_at"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp), stamp
        when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert full_store.started <= when <= full_store.finished, (stamp, full_store.started)

        spatial = spec.path.suffix == ".gpkg"
        if spatial:
            assert row["stored_crs"] == "EPSG:4326", name
            assert row["crs_given"] == "EPSG:4326", name  # the file's own label, none given on import
            assert row["source_layer"] == spec.layer
        else:
            assert pd.isna(row["stored_crs"]), name
            assert pd.isna(row["crs_given"]), name

        if spec.kind == "facilities":
            assert row["facility_type"] == spec.facility_type
        else:
            assert pd.isna(row["facility_type"])

    assert rows.loc["gazetteer", "row_count"] == 291
    assert rows.loc["townships", "row_count"] == 23
    assert rows.loc["households", "row_count"] == 267
    assert rows.loc["facilities_community_service_centre", "row_count"] == 267

    illustrative = rows["illustrative"].to_dict()
    for name, flag in illustrative.items():
        want = 1 if name.startswith("facilities_") or name == "households" else 0
        assert flag == want, (name, flag)
        if want:
            assert "示意" in rows.loc[name, "note"]
        else:
            assert pd.isna(rows.loc[name, "note"])


def test_crs_given_records_the_declared_crs(store: Path, catalogue: Catalogue) -> None:
    """A `--crs` given on import is what `crs_given` records; the stored CRS is still EPSG:4326."""
    gcj = store.parent / "points_gcj02.geojson"
    wgs = pyogrio.read_dataframe(FACILITIES, layer="public_cemetery")
    pyogrio.write_dataframe(wgs, gcj, driver="GeoJSON")  # coordinates reinterpreted as GCJ-02 below
    ws = open_workspace(store)
    import_layers(ws, [ImportSpec(gcj, "facilities", "public_cemetery", crs="gcj02")], catalogue=catalogue)
    row = ws.metadata().set_index("layer").loc["facilities_public_cemetery"]
    assert row["crs_given"] == "gcj02"
    assert row["stored_crs"] == "EPSG:4326"
    assert row["row_count"] == 2
    moved = ws.read_layer("facilities_public_cemetery")
    # GCJ-02 → WGS84 shifts points a few hundred metres in 永川: the stored rows are not the raw ones
    shift = (moved.geometry.x.to_numpy() - wgs.geometry.x.to_numpy())
    assert ((abs(shift) > 1e-3) & (abs(shift) < 1e-2)).all(), shift


# --------------------------------------------------------------------------------- 2. QGIS compatibility


def test_store_is_a_valid_geopackage_for_gdal_and_qgis(full_store: FullStore) -> None:
    path = full_store.path
    names = open_workspace(path).layer_names()

    gdal = _gdal_layers(path)
    assert names | {META_TABLE, LOG_TABLE, *HISTORY_TABLES} == gdal

    contents = dict(_sql(path, "SELECT table_name, data_type FROM gpkg_contents"))
    assert set(contents) == gdal
    assert contents[META_TABLE] == "attributes"
    assert contents[LOG_TABLE] == "attributes"
    assert contents["gazetteer"] == "attributes"
    assert contents["households"] == "attributes"
    for name in names:
        if name.startswith("facilities_") or name in {"district", "townships"}:
            assert contents[name] == "features", name

    geometry_columns = dict(_sql(path, "SELECT table_name, srs_id FROM gpkg_geometry_columns"))
    assert set(geometry_columns) == {n for n, t in contents.items() if t == "features"}
    assert set(geometry_columns.values()) == {4326}

    assert _integrity(path) == "ok"
    assert _sql(path, "PRAGMA foreign_key_check") == []
    assert _sql(path, "PRAGMA application_id")[0][0] == 0x47504B47  # 'GPKG'

    info = pyogrio.read_info(path, layer="townships")
    assert info["driver"] == "GPKG"
    assert info["features"] == 23
    assert info["crs"] == "EPSG:4326"
    assert info["geometry_type"] == "MultiPolygon"
    points = pyogrio.read_info(path, layer="facilities_volunteer_service_point")
    assert points["geometry_type"] == "Point"
    assert points["features"] == 107
    # the change log reads through GDAL too (QGIS shows it as a table)
    log = pyogrio.read_dataframe(path, layer=LOG_TABLE, read_geometry=False)
    assert len(log) == len(open_workspace(path).changelog())


# ------------------------------------------------------------------------------------- 3. change log


def test_changelog_grows_by_one_row_per_layer(any_store: StoreCase, catalogue: Catalogue) -> None:
    ws = any_store.workspace
    before = ws.changelog()
    assert list(before["action"]) == ["init", "import", "import", "import", "import"]
    assert list(before["revision"]) == [1, 1, 1, 1, 1]  # created by one import: one revision

    import_layers(ws, [ImportSpec(HOUSEHOLDS, "households")], catalogue=catalogue)
    one = ws.changelog()
    assert len(one) == len(before) + 1
    assert one["revision"].iloc[-1] == 2

    import_layers(ws, [
        ImportSpec(FACILITIES, "facilities", "township_elderly_centre", layer="township_elderly_centre"),
        ImportSpec(FACILITIES, "facilities", "elderly_institution", layer="elderly_institution"),
    ], catalogue=catalogue)
    two = ws.changelog()
    assert len(two) == len(one) + 2

    pd.testing.assert_frame_equal(two.iloc[: len(before)], before)  # old rows are untouched
    assert two["seq"].is_monotonic_increasing
    assert two["seq"].is_unique
    new = two.iloc[len(before):]
    assert list(new["action"]) == ["import"] * 3
    assert list(new["layer"]) == ["households", "facilities_township_elderly_centre",
                                  "facilities_elderly_institution"]
    assert '"rows": 267' in new.iloc[0]["detail"]
    assert '"rows": 15' in new.iloc[1]["detail"]
    assert '"rows": 20' in new.iloc[2]["detail"]
    assert list(new["revision"]) == [2, 3, 3]
    assert ws.revision() == 3


@pytest.mark.parametrize("statement", [
    f"UPDATE {LOG_TABLE} SET action = 'forged' WHERE seq = 1",
    f"UPDATE {LOG_TABLE} SET detail = NULL",
    f"DELETE FROM {LOG_TABLE}",
    f"DELETE FROM {LOG_TABLE} WHERE seq = (SELECT max(seq) FROM {LOG_TABLE})",
])
def test_changelog_is_append_only(store: Path, statement: str) -> None:
    before = open_workspace(store).changelog()
    assert len(before) > 0
    with contextlib.closing(sqlite3.connect(store, isolation_level=None)) as con:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(statement)
        assert con.in_transaction is False
    pd.testing.assert_frame_equal(open_workspace(store).changelog(), before)
    assert _integrity(store) == "ok"


# ---------------------------------------------------------------------- 4. failed imports change nothing


def _bad_households(tmp: Path) -> Path:
    lines = HOUSEHOLDS.read_text(encoding="utf-8").splitlines()
    fields = lines[5].split(",")
    assert fields[5].isdigit()  # households column
    fields[5] = "很多"
    lines[5] = ",".join(fields)
    path = tmp / "households_bad.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _institutions_csv(tmp: Path, *, bad: bool) -> Path:
    gdf = pyogrio.read_dataframe(FACILITIES, layer="elderly_institution")
    frame = pd.DataFrame(gdf.drop(columns="geometry"))
    frame.insert(3, "lon", gdf.geometry.x.round(6))
    frame.insert(4, "lat", gdf.geometry.y.round(6))
    frame = frame.astype({"beds": object})
    if bad:
        frame.loc[3, "beds"] = "-12"
    path = tmp / ("institutions_bad.csv" if bad else "institutions_good.csv")
    frame.to_csv(path, index=False)
    return path


def test_import_with_a_bad_row_leaves_the_store_unchanged(any_store: StoreCase, store: Path, tmp_path: Path,
                                                          catalogue: Catalogue) -> None:
    bad = _bad_households(tmp_path)
    ws = any_store.workspace
    before = any_store.snapshot()
    with pytest.raises(SchemaError) as info:
        import_layers(ws, [ImportSpec(bad, "households")], catalogue=catalogue)
    assert any(p.row is not None and p.field == "households" for p in info.value.problems), info.value
    assert any_store.snapshot() == before
    assert _temps(store) == []
    assert not ws.has_layer("households")


def test_multi_file_import_with_a_bad_second_file_writes_nothing(any_store: StoreCase, store: Path, tmp_path: Path,
                                                                 catalogue: Catalogue) -> None:
    good = _institutions_csv(tmp_path, bad=False)
    bad = _institutions_csv(tmp_path, bad=True)
    ws = any_store.workspace
    # control: the same file without the bad row passes, so the failure below is that row's
    assert len(validate_imports([ImportSpec(good, "facilities", "elderly_institution", crs="EPSG:4326")],
                                workspace=ws, catalogue=catalogue)) == 1

    before = any_store.snapshot()
    layers_before = ws.metadata()
    specs = [ImportSpec(HOUSEHOLDS, "households"), ImportSpec(bad, "facilities", "elderly_institution", crs="EPSG:4326")]
    with pytest.raises(SchemaError) as info:
        import_layers(ws, specs, catalogue=catalogue)
    problems = info.value.problems
    assert problems
    assert all(p.source == bad.name for p in problems), problems
    assert any(p.row is not None and p.field == "beds" for p in problems), problems
    assert any_store.snapshot() == before
    assert _temps(store) == []
    pd.testing.assert_frame_equal(ws.metadata(), layers_before)


def test_write_failing_on_the_second_layer_leaves_the_store_unchanged(store: Path) -> None:
    """A failure after the first layer is already in the temporary copy: nothing reaches the store."""
    ws = open_workspace(store)
    before = sha256(store)
    log_before = ws.changelog()
    first = LayerWrite("scratch_ok", "gazetteer", pd.DataFrame({"code12": ["500118000000"]}))
    second = LayerWrite("scratch_bad", None, pd.DataFrame({"code12": ["500118001000"]}))  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="unchanged"):
        ws.write([first, second], action="import", detail={})
    assert sha256(store) == before
    assert _temps(store) == []
    assert not {"scratch_ok", "scratch_bad"} & _gdal_layers(store)
    pd.testing.assert_frame_equal(ws.changelog(), log_before)


# --------------------------------------------------------------------------------- 5. SIGKILL atomicity

_RNG = random.Random(20201231)
_KILL_POINTS = [
    pytest.param(None, id="when-temp-appears"),
    # later moments: the temp file lives ~0.1-0.2 s, so these land mid-write or after the rename
    pytest.param(round(_RNG.uniform(0.02, 0.2), 3), id="temp+short"),
    pytest.param(round(_RNG.uniform(0.2, 0.6), 3), id="temp+long"),
]


@dataclass(frozen=True)
class Run:
    pid: int
    returncode: int
    seen_temp: bool
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL

    def __str__(self) -> str:
        return f"rc={self.returncode} stdout={self.stdout!r} stderr={self.stderr[-2000:]!r}"


def _import_roads_and_kill(store: Path, roads: Path, delay: float | None) -> Run:
    """Run `gisplan layers import` on the roads; SIGKILL it `delay` s after its temp file appears."""
    out, err = store.parent / "stdout.txt", store.parent / "stderr.txt"
    cmd = [str(_gisplan_exe()), "layers", "import", str(roads), "--kind", "roads", "--crs", "gcj02",
           "-w", str(store)]
    seen = False
    with out.open("w") as out_fh, err.open("w") as err_fh:
        proc = subprocess.Popen(cmd, stdout=out_fh, stderr=err_fh)
        try:
            deadline = time.monotonic() + 30.0
            while time.monotonic() < deadline and proc.poll() is None:
                if _temps(store):
                    seen = True
                    break
                time.sleep(0.005)
            if seen and delay is not None:
                time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)  # a no-op if it exits in between
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return Run(proc.pid, proc.returncode, seen, out.read_text(), err.read_text())


@pytest.mark.parametrize("delay", _KILL_POINTS)
def test_sigkill_during_import_leaves_the_store_intact(
    store: Path, catalogue: Catalogue, delay: float | None
) -> None:
    roads = shared_data("roads", "yongchuan_roadlinks_gcj02.geojson")
    ws = open_workspace(store)
    before_sha = sha256(store)
    before_meta = ws.metadata()
    before_gdal = _gdal_layers(store)
    assert "roads" not in before_gdal

    run = _import_roads_and_kill(store, roads, delay)
    # either the kill landed, or the import ended on its own and succeeded
    assert run.killed or run.returncode == 0, run
    # the writer works on a temporary copy that lives ~0.1 s: polling every 5 ms must see it
    assert run.seen_temp, f"no temporary file .{store.name}.*{TMP_SUFFIX} seen while importing; {run}"

    stale = _temps(store)
    assert len(stale) <= 1, stale
    assert _integrity(store) == "ok"
    if run.killed and stale:
        outcome = "mid-write"
        assert stale[0].name.startswith(f".{store.name}.{run.pid}-")
        assert sha256(store) == before_sha
        pd.testing.assert_frame_equal(ws.metadata(), before_meta)
        assert _gdal_layers(store) == before_gdal
    else:
        # the process finished, or was killed after the rename: the import landed whole
        outcome = "landed-then-killed" if run.killed else "finished"
        assert stale == []
        assert sha256(store) != before_sha
        meta = ws.metadata().set_index("layer")
        assert set(meta.index) == set(before_meta["layer"]) | {"roads"}
        assert meta.loc["roads", "row_count"] == ROADS_ROWS
        assert meta.loc["roads", "crs_given"] == "gcj02"
        assert pyogrio.read_info(store, layer="roads")["features"] == ROADS_ROWS
        if not run.killed:
            assert f"imported {ROADS_ROWS} rows into layer `roads`" in run.stdout
    print(f"kill outcome (delay={delay}): {outcome}")
    if delay is None:  # killed the moment the temporary copy appears: the write cannot have finished
        assert outcome == "mid-write", run

    # the next writer succeeds and clears the leftover temporary file
    names_now = ws.layer_names()
    results = import_layers(ws, [ImportSpec(HOUSEHOLDS, "households")], catalogue=catalogue)
    assert [(r.layer, r.rows) for r in results] == [("households", 267)]
    assert _leftovers(store) == []
    assert ws.layer_names() == names_now | {"households"}
    assert _integrity(store) == "ok"
    assert len(ws.read_layer("townships")) == 23


# ------------------------------------------------------------------------------------ 6. writer lock


def test_second_writer_is_refused_while_the_lock_is_held(store: Path) -> None:
    ws = open_workspace(store)
    before = sha256(store)
    write = LayerWrite("scratch", "gazetteer", pd.DataFrame({"code12": ["500118000000"]}))
    lock = store.with_name(f".{store.name}.lock")
    with lock.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            started = time.monotonic()
            with pytest.raises(StoreError, match=r"another gisplan process \(waited 0.3 s\)"):
                ws.write([write], action="import", detail={}, wait_s=0.3)
            assert time.monotonic() - started >= 0.3
            assert sha256(store) == before
            assert _temps(store) == []
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    # released: the same write now goes through
    ws.write([write], action="import", detail={})
    assert ws.has_layer("scratch")
    assert sha256(store) != before


def test_concurrent_imports_wait_for_each_other(store: Path, tmp_path: Path) -> None:
    """Two imports started while the test holds the writer lock both wait (nothing written, both still running
    seconds later), and both land once it is released: each waits for the lock instead of failing."""
    gisplan = Path(sys.executable).with_name("gisplan")
    hh = ["layers", "import", str(HOUSEHOLDS), "--kind", "households", "-w", str(store)]
    inst = ["layers", "import", str(FACILITIES), "--kind", "facilities", "--type", "elderly_institution",
            "--layer", "elderly_institution", "-w", str(store)]
    before = sha256(store)
    with store.with_name(f".{store.name}.lock").open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            procs = [subprocess.Popen([str(gisplan), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for args in (hh, inst)]
            time.sleep(8.0)  # long enough for both to validate (about 3 s each here) and reach the lock
            assert [p.poll() for p in procs] == [None, None], "an import finished while the lock was held"
            assert sha256(store) == before
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert {"households", "facilities_elderly_institution"} <= open_workspace(store).layer_names()
    assert _integrity(store) == "ok"


# ----------------------------------------------------------------------------------- 7. layer names


@pytest.mark.parametrize("name", [
    "a; DROP TABLE x",
    "Facilities",
    "",
    "1townships",
    "_townships",
    "town-ships",
    "townships;",
    "镇街",
    "x" * 64,
    "townships\n",
])
def test_unsafe_layer_names_are_refused(name: str, store: Path) -> None:
    with pytest.raises(StoreError, match="lower_snake_case"):
        check_layer_name(name)
    ws = open_workspace(store)
    before = sha256(store)
    with pytest.raises(StoreError, match="lower_snake_case"):
        ws.write([LayerWrite(name, "gazetteer", pd.DataFrame({"a": [1]}))], action="import", detail={})
    assert sha256(store) == before
    with pytest.raises(StoreError):
        ws.read_table(name)


@pytest.mark.parametrize("name", ["a", "townships", "facilities_public_cemetery", "x" * 63, "r2d2"])
def test_safe_layer_names_pass(name: str) -> None:
    assert check_layer_name(name) == name


def test_reading_an_unknown_layer_lists_the_layers(any_store: StoreCase) -> None:
    ws = any_store.workspace
    with pytest.raises(StoreError, match="no layer 'roads'") as info:
        ws.read_layer("roads")
    message = str(info.value)
    for name in ("district", "facilities_community_service_centre", "gazetteer", "townships"):
        assert name in message
    assert "gisplan_changelog" not in message  # only gisplan's layers, not its bookkeeping tables
    assert len(ws.read_table("gazetteer")) == 291


def test_stale_temp_files_and_journals_are_removed_by_the_next_writer(store: Path) -> None:
    """What a killed writer can leave (temp copy, -journal, -wal) is cleared under the lock."""
    junk = [store.with_name(f".{store.name}.4242-deadbeef.importing.gpkg{s}") for s in ("", "-journal", "-wal")]
    for path in junk:
        path.write_bytes(b"left by a killed writer")
    other = store.with_name(".other.gpkg.4242-deadbeef.importing.gpkg")
    other.write_bytes(b"belongs to another store")
    ws = open_workspace(store)
    ws.write([LayerWrite("scratch", "gazetteer", pd.DataFrame({"code12": ["500118000000"]}))],
             action="test", detail={})
    assert [p for p in junk if p.exists()] == []
    assert other.exists()
    assert ws.has_layer("scratch")


def test_unwritable_column_type_is_a_store_error(store: Path) -> None:
    before = sha256(store)
    bad = LayerWrite("cplx", "gazetteer", pd.DataFrame({"a": [1 + 2j]}))
    with pytest.raises(StoreError, match="the store is unchanged"):
        open_workspace(store).write([bad], action="test", detail={})
    assert sha256(store) == before
    assert _leftovers(store) == []


def test_plain_geopackage_becomes_a_workspace(tmp_path: Path, catalogue) -> None:
    """A GeoPackage without gisplan's tables is an empty workspace; its own layers stay."""
    path = tmp_path / "mine.gpkg"
    shutil.copyfile(LAYERS / "zhushan_boundaries.gpkg", path)
    ws = open_workspace(path)
    assert ws.metadata().empty
    assert ws.changelog().empty
    assert ws.layer_names() == frozenset()
    import_layers(ws, [ImportSpec(LAYERS / "zhushan_gazetteer.csv", "gazetteer")], catalogue=catalogue)
    assert ws.layer_names() == {"gazetteer"}
    assert {"district", "gazetteer"} <= {str(n) for n in pyogrio.list_layers(path)[:, 0]}


def test_not_a_geopackage(tmp_path: Path) -> None:
    path = tmp_path / "notes.gpkg"
    path.write_text("not a database", encoding="utf-8")
    ws = open_workspace(path)
    with pytest.raises(StoreError, match="is not a GeoPackage"):
        ws.metadata()
    with pytest.raises(StoreError, match="is not a GeoPackage"):
        ws.changelog()
    with pytest.raises(StoreError, match="is not a GeoPackage"):
        ws.layer_names()


def test_replacing_a_layer_rechecks_the_layers_that_depend_on_it(any_store: StoreCase, tmp_path: Path,
                                                                 catalogue) -> None:
    """Renumbered centres would orphan the volunteer points; another district's gazetteer would orphan
    every facility code: both are refused, naming the workspace layer and row, and nothing is written."""
    ws = any_store.workspace
    import_layers(ws, [ImportSpec(FACILITIES, "facilities", "volunteer_service_point",
                                  layer="volunteer_service_point")], catalogue=catalogue)
    centres = pyogrio.read_dataframe(FACILITIES, layer="community_service_centre")
    same = tmp_path / "same.gpkg"
    pyogrio.write_dataframe(centres, same, layer="c")
    import_layers(ws, [ImportSpec(same, "facilities", "community_service_centre")], catalogue=catalogue)
    renumbered = tmp_path / "renumbered.gpkg"
    pyogrio.write_dataframe(centres.assign(facility_id="N" + centres["facility_id"]), renumbered, layer="c")
    before = any_store.snapshot()
    with pytest.raises(SchemaError) as err:
        import_layers(ws, [ImportSpec(renumbered, "facilities", "community_service_centre")], catalogue=catalogue)
    text = str(err.value)
    assert "workspace layer `facilities_volunteer_service_point` (checked again: this import replaces " \
           "facilities_community_service_centre), row 1, field `host_facility_id`" in text
    assert "107 problems found" in text
    with pytest.raises(SchemaError, match=r"(?s)1 problem found.*zhushan_gazetteer.csv: this gazetteer covers district "
                                          r"360203, but the workspace holds district 500118"):
        import_layers(ws, [ImportSpec(LAYERS / "zhushan_gazetteer.csv", "gazetteer")], catalogue=catalogue)
    assert any_store.snapshot() == before


def test_replacing_the_district_rechecks_township_polygons(tmp_path: Path, catalogue) -> None:
    """A district outline shrunk to one township leaves 22 township polygons outside: refused."""
    store = tmp_path / "ws.gpkg"
    ws = open_workspace(store)
    import_layers(ws, [ImportSpec(LAYERS / "yongchuan_gazetteer.csv", "gazetteer"),
                       ImportSpec(LAYERS / "yongchuan_boundaries.gpkg", "district", layer="district"),
                       ImportSpec(LAYERS / "yongchuan_boundaries.gpkg", "townships", layer="townships")],
                  catalogue=catalogue)
    towns = pyogrio.read_dataframe(LAYERS / "yongchuan_boundaries.gpkg", layer="townships")
    tiny = tmp_path / "tiny.gpkg"
    pyogrio.write_dataframe(towns.iloc[[0]].assign(code12="500118000000", name="永川区"), tiny, layer="d")
    before = sha256(store)
    with pytest.raises(SchemaError) as err:
        import_layers(ws, [ImportSpec(tiny, "district")], catalogue=catalogue)
    assert "22 problems found" in str(err.value)
    assert "workspace layer `townships` (checked again: this import replaces district)" in str(err.value)
    assert sha256(store) == before


def test_create_new_and_existing(tmp_path: Path) -> None:
    new = open_workspace(tmp_path / "sub" / "new.gpkg").create()
    assert new.metadata().empty
    assert new.changelog()["action"].tolist() == ["init"]
    existing = tmp_path / "plain.gpkg"
    shutil.copyfile(LAYERS / "zhushan_boundaries.gpkg", existing)
    open_workspace(existing).create()
    assert open_workspace(existing).changelog()["action"].tolist() == ["init"]
    assert "district" in {str(n) for n in pyogrio.list_layers(existing)[:, 0]}


@pytest.mark.parametrize("folder", ["p#1", "q%41", "r?x", "永川 数据"])
def test_a_workspace_in_a_folder_with_uri_characters_reads_back(tmp_path: Path, folder: str) -> None:
    """SQLite opens the workspace by a percent-encoded URI: in a folder named with #, ? or % (or in Chinese) the
    layers read back (the path was cut at # or ?, %41 read as A: "not a GeoPackage", and SQLite made a stray file),
    and nothing is created outside the folder."""
    import geopandas as gpd
    import shapely

    where = tmp_path / folder
    where.mkdir()
    ws = open_workspace(str(where / "ws.gpkg"))
    points = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(105.9, 29.3)], crs=4326)
    ws.write([LayerWrite(name="pts", kind="result", data=points),
              LayerWrite(name="tab", kind="result", data=pd.DataFrame({"a": [1, 2]}))], action="test")
    assert sorted(ws.layer_names()) == ["pts", "tab"]
    assert isinstance(ws.read("pts"), gpd.GeoDataFrame)
    assert ws.read("tab")["a"].tolist() == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder]


def test_a_geopackage_of_attribute_tables_without_a_geometry_register_reads(tmp_path: Path) -> None:
    """Another tool's GeoPackage of attribute tables alone may have no gpkg_geometry_columns table (the
    specification asks for it only with feature tables): its layer reads as a table instead of failing with
    SQLite's 'no such table'."""
    path = tmp_path / "foreign.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"a": [1, 2]}), path, layer="t", driver="GPKG")
    with contextlib.closing(sqlite3.connect(path)) as con:
        con.execute("DROP TABLE gpkg_geometry_columns")
        con.commit()
    from gisplan.store.gpkgread import has_geometry

    assert not has_geometry(path, "t")

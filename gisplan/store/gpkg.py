"""The workspace store: one GeoPackage holding every layer, a metadata table and a change log.

Writes are all-or-nothing. :func:`write_layers` copies the store to a temporary file beside it,
writes every layer and record there, flushes it to disk and then atomically renames it over the
store. An error, or a kill at any moment, leaves the store exactly as it was; a leftover temporary
file is removed by the next writer. One writer at a time is enforced with a lock file.

Layer names are checked against ``^[a-z][a-z0-9_]{0,62}$`` and are only ever passed to GDAL as layer
names or bound as SQL parameters, never pasted into SQL text.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import pyogrio

from gisplan.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    "LOG_TABLE",
    "META_TABLE",
    "LayerWrite",
    "init_store",
    "list_layers",
    "read_changelog",
    "read_store_layer",
    "store_layer_names",
    "write_layers",
    "writer_lock",
]

logger = logging.getLogger(__name__)

META_TABLE = "gisplan_layers"
LOG_TABLE = "gisplan_changelog"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_TMP_SUFFIX = ".importing.gpkg"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {META_TABLE} (
    layer TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    facility_type TEXT,
    source_path TEXT,
    source_sha256 TEXT,
    source_layer TEXT,
    imported_at TEXT NOT NULL,
    crs_given TEXT,
    stored_crs TEXT,
    row_count INTEGER NOT NULL,
    illustrative INTEGER NOT NULL CHECK (illustrative IN (0, 1)),
    note TEXT
);
CREATE TABLE IF NOT EXISTS {LOG_TABLE} (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user TEXT,
    action TEXT NOT NULL,
    layer TEXT,
    detail TEXT
);
CREATE TRIGGER IF NOT EXISTS {LOG_TABLE}_no_update BEFORE UPDATE ON {LOG_TABLE}
BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {LOG_TABLE}_no_delete BEFORE DELETE ON {LOG_TABLE}
BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END;
"""


@dataclass(frozen=True, slots=True)
class LayerWrite:
    """One layer to write, with its provenance.

    Attributes
    ----------
    name : str
        Store layer name (``townships``, ``facilities_public_cemetery`` …).
    kind : str
        Layer kind (see :data:`gisplan.validation.schema.KINDS`).
    data : pandas.DataFrame or geopandas.GeoDataFrame
        Validated rows; geometry in EPSG:4326.
    source_path, source_sha256, source_layer, crs_given : str or None
        Where the rows came from and the CRS the user declared for them.
    facility_type : str or None
        Facility type id for facility layers.
    illustrative : bool
        Generated (示意) data rather than real data.
    note : str or None
        Free text.
    """

    name: str
    kind: str
    data: pd.DataFrame
    source_path: str | None = None
    source_sha256: str | None = None
    source_layer: str | None = None
    crs_given: str | None = None
    facility_type: str | None = None
    illustrative: bool = False
    note: str | None = None


def check_layer_name(name: str) -> str:
    """Return `name` if it is a safe store layer name, else raise StoreError."""
    if not _NAME_RE.fullmatch(name):
        msg = f"layer name {name!r} must be lower_snake_case ASCII (a-z, 0-9, _), starting with a letter."
        raise StoreError(msg)
    return name


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA foreign_keys = ON")
    return con


def _ensure_tables(path: Path) -> None:
    now = _now()
    with contextlib.closing(_connect(path)) as con:
        con.executescript(_SCHEMA)
        con.execute("BEGIN")
        has_contents = con.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'gpkg_contents'"
        ).fetchone()[0]
        if has_contents:
            for table, text in ((META_TABLE, "gisplan layer metadata"), (LOG_TABLE, "gisplan change log")):
                con.execute(
                    "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, "
                    "last_change) VALUES (?, 'attributes', ?, ?, ?)",
                    (table, table, text, now),
                )
        con.execute("COMMIT")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def init_store(path: str | Path) -> Path:
    """Create an empty workspace GeoPackage (or make sure an existing one has gisplan's tables).

    Parameters
    ----------
    path : str or Path
        The ``.gpkg`` file.

    Returns
    -------
    Path
    """
    path = Path(path)
    write_layers(path, [], action="init", detail={})  # atomic, like every write; logs "init" once
    return path


def _has_tables(path: Path) -> bool:
    with contextlib.closing(_connect(path)) as con:
        found = con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (META_TABLE,)).fetchone()[0]
    return bool(found)


def _scaffold(tmp: Path) -> None:
    """Write an empty GeoPackage with gisplan's tables to `tmp`."""
    # GDAL writes the GeoPackage scaffolding (gpkg_contents, spatial_ref_sys …)
    empty = pd.DataFrame({"seq": pd.Series([], dtype="int64")})
    pyogrio.write_dataframe(empty, tmp, layer="gisplan_init", driver="GPKG")
    _drop_init_table(tmp)
    _ensure_tables(tmp)


def _drop_init_table(path: Path) -> None:
    with contextlib.closing(_connect(path)) as con:
        con.execute("BEGIN")
        con.execute("DROP TABLE IF EXISTS gisplan_init")
        con.execute("DELETE FROM gpkg_contents WHERE table_name = ?", ("gisplan_init",))
        con.execute("COMMIT")


def _log(path: Path, action: str, layer: str | None, detail: dict[str, Any]) -> None:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    with contextlib.closing(_connect(path)) as con:
        con.execute(
            f"INSERT INTO {LOG_TABLE} (at, user, action, layer, detail) VALUES (?, ?, ?, ?, ?)",  # noqa: S608
            (_now(), user, action, layer, json.dumps(detail, ensure_ascii=False, sort_keys=True)),
        )


def _tmp_path(path: Path) -> Path:
    # pid plus a random token: a reused pid can never meet a stale file (or its journal) of another run
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{_TMP_SUFFIX}")


if sys.platform == "win32":  # planners' desktops: the same lock through msvcrt
    import msvcrt

    def _try_lock(fh: IO[str]) -> bool:
        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fh: IO[str]) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fh: IO[str]) -> bool:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fh: IO[str]) -> None:
        fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def writer_lock(path: str | Path, *, wait_s: float = 600.0) -> Iterator[None]:
    """Hold the store's writer lock (a ``.<name>.lock`` file beside it), waiting up to `wait_s`.

    Hold it around reading the workspace for validation *and* writing, so that no other writer
    changes what was validated against. Leftover temporary files of interrupted writers are removed
    once the lock is held.

    Raises
    ------
    StoreError
        If another process still holds the lock after `wait_s` seconds.
    """
    path = Path(path)
    lock_path = path.with_name(f".{path.name}.lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = lock_path.open("a+")
    except OSError as exc:
        msg = f"cannot write a workspace at {path} ({exc.strerror or exc}); choose a folder you can write to."
        raise StoreError(msg) from None
    deadline = time.monotonic() + wait_s
    waited = False
    with fh:
        while not _try_lock(fh):
            if time.monotonic() >= deadline:
                msg = (f"{path} is being written by another gisplan process (waited {wait_s:g} s); "
                       "wait for it to finish and retry.")
                raise StoreError(msg)
            if not waited:
                logger.warning("%s is being written by another gisplan process; waiting …", path)
                waited = True
            time.sleep(0.05)
        try:
            for stale in path.parent.glob(f".{path.name}.*{_TMP_SUFFIX}*"):  # with -journal/-wal/-shm
                logger.info("removing %s, left by an interrupted write", stale)
                stale.unlink(missing_ok=True)
            yield
        finally:
            _unlock(fh)


def _remove_tmp(tmp: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        tmp.with_name(tmp.name + suffix).unlink(missing_ok=True)


def _commit_file(tmp: Path, path: Path) -> None:
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    tmp.replace(path)
    if os.name == "posix":  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if column == getattr(out, "_geometry_column_name", None):
            continue
        series = out[column]
        if series.dtype == object:
            kinds = {type(v) for v in series.dropna()}
            if kinds == {bool}:
                out[column] = series.astype("boolean")
    return out


def write_layers(
    path: str | Path,
    writes: Sequence[LayerWrite],
    *,
    action: str,
    detail: dict[str, Any],
    lock: bool = True,
    wait_s: float = 600.0,
) -> None:
    """Write several layers and their metadata in one all-or-nothing step.

    Parameters
    ----------
    path : str or Path
        The workspace GeoPackage; created if missing.
    writes : sequence of LayerWrite
        Layers to create or replace.
    action : str
        Change-log action (``import`` …).
    detail : dict
        JSON-serialisable detail for the change log.
    lock : bool
        Take the writer lock; ``False`` when the caller holds it already (see :func:`writer_lock`).
    wait_s : float
        Seconds to wait for another writer to finish.

    Raises
    ------
    StoreError
        If another process holds the store longer than `wait_s`, a layer name is unsafe, or writing
        fails (the store is then unchanged).
    """
    path = Path(path)
    for w in writes:
        check_layer_name(w.name)
    with writer_lock(path, wait_s=wait_s) if lock else contextlib.nullcontext():
        tmp = _tmp_path(path)
        try:
            if path.exists():
                shutil.copyfile(path, tmp)
                new_workspace = not _has_tables(tmp)
                _ensure_tables(tmp)
            else:
                _scaffold(tmp)
                new_workspace = True
            if new_workspace:
                _log(tmp, "init", None, {"path": str(path)})
            for w in writes:
                data = _prepare(w.data)
                if isinstance(data, gpd.GeoDataFrame):
                    pyogrio.write_dataframe(data, tmp, layer=w.name, driver="GPKG", promote_to_multi=False)
                else:
                    pyogrio.write_dataframe(pd.DataFrame(data), tmp, layer=w.name, driver="GPKG")
                _record(tmp, w)
                _log(tmp, action, w.name, {**detail, "rows": len(w.data), "source": w.source_path})
            _commit_file(tmp, path)
        except (OSError, sqlite3.Error, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                NotImplementedError, TypeError, ValueError) as exc:
            msg = f"writing {path} failed ({exc}); the store is unchanged."
            raise StoreError(msg) from exc
        finally:
            _remove_tmp(tmp)
    logger.info("write_layers: %d layer(s) written to %s", len(writes), path)


def _record(path: Path, w: LayerWrite) -> None:
    stored_crs = None
    if isinstance(w.data, gpd.GeoDataFrame) and w.data.crs is not None:
        stored_crs = w.data.crs.to_string()
    with contextlib.closing(_connect(path)) as con:
        con.execute(
            f"INSERT OR REPLACE INTO {META_TABLE} (layer, kind, facility_type, source_path, source_sha256, "  # noqa: S608
            "source_layer, imported_at, crs_given, stored_crs, row_count, illustrative, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (w.name, w.kind, w.facility_type, w.source_path, w.source_sha256, w.source_layer, _now(),
             w.crs_given, stored_crs, len(w.data), int(w.illustrative), w.note),
        )


def list_layers(path: str | Path) -> pd.DataFrame:
    """Return the metadata table (one row per layer), sorted by layer name.

    Raises
    ------
    StoreError
        If `path` does not exist or is not a GeoPackage. A GeoPackage without gisplan's tables has
        no layers yet (its own layers are left alone).
    """
    return _read_table(path, META_TABLE, "layer")


def store_layer_names(path: str | Path) -> set[str]:
    """Return the names of the layers recorded in the store (empty if it does not exist)."""
    if not Path(path).exists():
        return set()
    return set(list_layers(path)["layer"])


def read_changelog(path: str | Path) -> pd.DataFrame:
    """Return the change log, oldest first."""
    return _read_table(path, LOG_TABLE, "seq")


_COLUMNS = {
    META_TABLE: ["layer", "kind", "facility_type", "source_path", "source_sha256", "source_layer", "imported_at",
                 "crs_given", "stored_crs", "row_count", "illustrative", "note"],
    LOG_TABLE: ["seq", "at", "user", "action", "layer", "detail"],
}


def _read_table(path: str | Path, table: str, order: str) -> pd.DataFrame:
    """Read one of gisplan's own tables; a GeoPackage without them reads as empty (a new workspace)."""
    path = _existing(path)
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "gpkg_contents" not in tables:
                msg = f"{path} is not a GeoPackage; give a .gpkg workspace (a new name creates one)."
                raise StoreError(msg)
            if table not in tables:
                return pd.DataFrame(columns=_COLUMNS[table])
            # table and order are this module's constants, never user input
            return pd.read_sql_query(f"SELECT * FROM {table} ORDER BY {order}", con)  # noqa: S608
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        msg = f"{path} is not a GeoPackage ({exc}); give a .gpkg workspace (a new name creates one)."
        raise StoreError(msg) from None


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        msg = f"workspace {path} does not exist; import a layer first (`gisplan layers import`)."
        raise StoreError(msg)
    return path


def read_store_layer(path: str | Path, name: str) -> pd.DataFrame:
    """Read one layer of the store: a GeoDataFrame for spatial layers, a DataFrame for tables.

    Raises
    ------
    StoreError
        If the layer is not in the store; the message lists the layers that are.
    """
    path = _existing(path)
    check_layer_name(name)
    names = store_layer_names(path)
    if name not in names:
        msg = f"{path} has no layer {name!r} (layers: {', '.join(sorted(names)) or 'none'})."
        raise StoreError(msg)
    info = pyogrio.read_info(path, layer=name)
    if info["geometry_type"] is None:
        return pd.DataFrame(pyogrio.read_dataframe(path, layer=name, read_geometry=False))
    gdf: gpd.GeoDataFrame = pyogrio.read_dataframe(path, layer=name)
    return gdf

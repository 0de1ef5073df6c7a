"""The GeoPackage workspace: one ``.gpkg`` file holding every layer, a metadata table and a change log.

Writes are all-or-nothing. A commit copies the GeoPackage to a temporary file beside it, applies every write
and drop there, logs them, flushes the file to disk and atomically renames it over the workspace (then flushes
the folder, so the rename itself is durable). An error, or a kill at any moment, leaves the workspace exactly as
it was; a leftover temporary file is removed by the next writer. One writer at a time is enforced with a lock
file. The file stays a plain GeoPackage that QGIS and GDAL open (gisplan's two tables are attribute tables).

Layer names are checked against ``^[a-z][a-z0-9_]{0,62}$``. They are passed to GDAL as layer names or bound as
SQL parameters; the one statement that must name a table (``DROP TABLE`` when a layer is dropped) quotes a
checked name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import json
import logging
import os
import secrets
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import pyogrio

from gisplan.errors import StoreError
from gisplan.settings import gpkg_dataset_options
from gisplan.store.workspace import (
    LOG_COLUMNS,
    LOG_TABLE,
    META_COLUMNS,
    META_TABLE,
    Drop,
    Hook,
    LayerWrite,
    Operation,
    Workspace,
    check_layer_name,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path

__all__ = ["GeoPackageWorkspace"]

logger = logging.getLogger(__name__)

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
    detail TEXT,
    revision INTEGER
);
CREATE TRIGGER IF NOT EXISTS {LOG_TABLE}_no_update BEFORE UPDATE ON {LOG_TABLE}
BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {LOG_TABLE}_no_delete BEFORE DELETE ON {LOG_TABLE}
BEGIN SELECT RAISE(ABORT, 'the change log is append-only'); END;
"""


@dataclass(frozen=True, slots=True)
class GeoPackageWorkspace(Workspace):
    """A workspace in one GeoPackage file (created by the first write). Open it with
    :func:`gisplan.store.open_workspace`.

    Attributes
    ----------
    path : Path
        The ``.gpkg`` file.
    hooks : tuple of callables
        Run inside every transaction before it commits (see :meth:`Workspace.with_hook`).
    """

    path: Path
    hooks: tuple[Hook, ...] = ()

    @property
    def uri(self) -> str:
        """``gpkg:`` and the file's path."""
        return f"gpkg:{self.path}"

    @property
    def label(self) -> str:
        """The file's path as given."""
        return str(self.path)

    def exists(self) -> bool:
        """Whether the GeoPackage file exists."""
        return self.path.exists()

    def derived_path(self, suffix: str) -> Path:
        """``<stem><suffix>`` beside the GeoPackage."""
        return self.path.with_name(f"{self.path.stem}{suffix}")

    def with_hook(self, hook: Hook) -> GeoPackageWorkspace:
        """The same workspace with `hook` run inside every transaction, after the hooks it has."""
        return dataclasses.replace(self, hooks=(*self.hooks, hook))

    def metadata(self) -> pd.DataFrame:
        """The metadata table, sorted by layer name.

        Raises
        ------
        StoreError
            If the file does not exist or is not a GeoPackage. A GeoPackage without gisplan's tables has no
            layers yet (its own layers are left alone).
        """
        return _read_own_table(self.path, META_TABLE, "layer")

    def changelog(self) -> pd.DataFrame:
        """The change log, oldest first (``revision`` is empty for rows written before revisions existed)."""
        log = _read_own_table(self.path, LOG_TABLE, "seq")
        return log.assign(revision=log["revision"].astype("Int64"))

    def _is_spatial(self, name: str) -> bool:
        return pyogrio.read_info(self.path, layer=name)["geometry_type"] is not None

    def _read_spatial(self, name: str) -> gpd.GeoDataFrame:
        gdf: gpd.GeoDataFrame = pyogrio.read_dataframe(self.path, layer=name)
        return gdf

    def _read_attributes(self, name: str) -> pd.DataFrame:
        return pd.DataFrame(pyogrio.read_dataframe(self.path, layer=name, read_geometry=False))

    def lock(self, *, wait_s: float = 600.0) -> contextlib.AbstractContextManager[None]:
        """Hold the writer lock (a ``.<name>.lock`` file beside the GeoPackage), waiting up to `wait_s`;
        leftover temporary files of interrupted writers are removed once it is held.

        Raises
        ------
        StoreError
            If another process still holds the lock after `wait_s` seconds, or the folder is not writable.
        """
        return _writer_lock(self.path, wait_s=wait_s)

    def _commit(
        self, operations: Sequence[Operation], *, action: str, detail: Mapping[str, Any], revision: int,
    ) -> None:
        path = self.path
        tmp = _tmp_path(path)
        try:
            if path.exists():
                shutil.copyfile(path, tmp)
                new_workspace = not _has_tables(tmp)
                _ensure_tables(tmp)
            else:
                _scaffold(tmp)
                new_workspace = True
            last = _last_revision(tmp)
            if last != revision - 1:
                msg = (f"{path} changed during the transaction (revision {last}, expected {revision - 1}); "
                       "hold the writer lock around it. The store is unchanged.")
                raise StoreError(msg)
            if new_workspace:
                _log(tmp, "init", None, {"path": str(path)}, revision)
            for op in operations:
                if isinstance(op, Drop):
                    _drop(tmp, op.name, label=str(path))
                    _log(tmp, action, op.name, {**detail, "dropped": True}, revision)
                else:
                    _write(tmp, op)
                    _log(tmp, action, op.name, {**detail, "rows": len(op.data), "source": op.source_path},
                         revision)
            _commit_file(tmp, path)
        except (OSError, sqlite3.Error, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                NotImplementedError, TypeError, ValueError) as exc:
            msg = f"writing {path} failed ({exc}); the store is unchanged."
            raise StoreError(msg) from exc
        finally:
            _remove_tmp(tmp)
        logger.info("commit: %d operation(s) written to %s (revision %d)", len(operations), path, revision)


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA foreign_keys = ON")
    return con


def _ensure_tables(path: Path) -> None:
    now = _now()
    with contextlib.closing(_connect(path)) as con:
        con.executescript(_SCHEMA)
        con.execute("BEGIN")
        columns = {row[1] for row in con.execute(f"PRAGMA table_info({LOG_TABLE})")}
        if "revision" not in columns:  # a workspace written before revisions existed
            con.execute(f"ALTER TABLE {LOG_TABLE} ADD COLUMN revision INTEGER")
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


def _has_tables(path: Path) -> bool:
    with contextlib.closing(_connect(path)) as con:
        found = con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (META_TABLE,)).fetchone()[0]
    return bool(found)


def _last_revision(path: Path) -> int:
    with contextlib.closing(_connect(path)) as con:
        found = con.execute(f"SELECT coalesce(max(revision), 0) FROM {LOG_TABLE}").fetchone()[0]  # noqa: S608
    return int(found)


def _scaffold(tmp: Path) -> None:
    """Write an empty GeoPackage with gisplan's tables to `tmp`."""
    # GDAL writes the GeoPackage scaffolding (gpkg_contents, spatial_ref_sys …)
    empty = pd.DataFrame({"seq": pd.Series([], dtype="int64")})
    pyogrio.write_dataframe(empty, tmp, layer="gisplan_init", driver="GPKG", dataset_options=gpkg_dataset_options())
    _drop_init_table(tmp)
    _ensure_tables(tmp)


def _drop_init_table(path: Path) -> None:
    with contextlib.closing(_connect(path)) as con:
        con.execute("BEGIN")
        con.execute("DROP TABLE IF EXISTS gisplan_init")
        con.execute("DELETE FROM gpkg_contents WHERE table_name = ?", ("gisplan_init",))
        con.execute("COMMIT")


def _log(path: Path, action: str, layer: str | None, detail: Mapping[str, Any], revision: int) -> None:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    with contextlib.closing(_connect(path)) as con:
        con.execute(
            f"INSERT INTO {LOG_TABLE} (at, user, action, layer, detail, revision) "  # noqa: S608
            "VALUES (?, ?, ?, ?, ?, ?)",
            (_now(), user, action, layer, json.dumps(dict(detail), ensure_ascii=False, sort_keys=True), revision),
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
def _writer_lock(path: Path, *, wait_s: float = 600.0) -> Iterator[None]:
    """Hold the store's writer lock (a ``.<name>.lock`` file beside it), waiting up to `wait_s`.

    Hold it around reading the workspace for validation *and* writing, so that no other writer
    changes what was validated against. Leftover temporary files of interrupted writers are removed
    once the lock is held.

    Raises
    ------
    StoreError
        If another process still holds the lock after `wait_s` seconds.
    """
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


def _write(tmp: Path, w: LayerWrite) -> None:
    check_layer_name(w.name)
    data = _prepare(w.data)
    if isinstance(data, gpd.GeoDataFrame):
        pyogrio.write_dataframe(data, tmp, layer=w.name, driver="GPKG", promote_to_multi=False, use_arrow=True)
    else:
        pyogrio.write_dataframe(pd.DataFrame(data), tmp, layer=w.name, driver="GPKG", use_arrow=True)
    _record(tmp, w)


def _record(path: Path, w: LayerWrite) -> None:
    stored_crs = None
    if isinstance(w.data, gpd.GeoDataFrame) and w.data.crs is not None:
        stored_crs = w.data.crs.to_string()
    with contextlib.closing(_connect(path)) as con:
        con.execute(
            f"INSERT OR REPLACE INTO {META_TABLE} (layer, kind, facility_type, source_path, source_sha256, "  # noqa: S608
            "source_layer, imported_at, crs_given, stored_crs, row_count, illustrative, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (w.name, w.kind, w.facility_type, w.source_path, w.source_sha256, w.source_layer, w.imported_at or _now(),
             w.crs_given, stored_crs, len(w.data), int(w.illustrative), w.note),
        )


# GeoPackage bookkeeping rows that name a table (the feature count, extensions such as the R-tree index, column
# descriptions, metadata links); each is deleted with the table when present
_BOOKKEEPING = ("gpkg_ogr_contents", "gpkg_extensions", "gpkg_data_columns", "gpkg_metadata_reference")


def _drop(tmp: Path, name: str, *, label: str) -> None:
    """Remove layer `name`, its GeoPackage bookkeeping and its metadata row from the temporary copy."""
    check_layer_name(name)  # the table name below is pasted into SQL: only a checked name ever is
    with contextlib.closing(_connect(tmp)) as con:
        con.execute("BEGIN")
        if not con.execute(f"SELECT count(*) FROM {META_TABLE} WHERE layer = ?", (name,)).fetchone()[0]:  # noqa: S608
            con.execute("ROLLBACK")
            msg = f"{label} has no layer {name!r} to drop; the store is unchanged."
            raise StoreError(msg)
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        geometry = (con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (name,))
                    .fetchall() if "gpkg_geometry_columns" in tables else [])
        for (column,) in geometry:
            rtree = f"rtree_{name}_{column}"
            if rtree in tables:
                con.execute(f'DROP TABLE "{rtree}"')
        for table in ("gpkg_geometry_columns", *_BOOKKEEPING):
            if table in tables:
                con.execute(f"DELETE FROM {table} WHERE table_name = ?", (name,))  # noqa: S608
        con.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (name,))
        con.execute(f'DROP TABLE IF EXISTS "{name}"')
        con.execute(f"DELETE FROM {META_TABLE} WHERE layer = ?", (name,))  # noqa: S608
        con.execute("COMMIT")


def _read_own_table(path: Path, table: str, order: str) -> pd.DataFrame:
    """Read one of gisplan's own tables; a GeoPackage without them reads as empty (a new workspace)."""
    columns = list(META_COLUMNS if table == META_TABLE else LOG_COLUMNS)
    if not path.exists():
        msg = f"workspace {path} does not exist; import a layer first (`gisplan layers import`)."
        raise StoreError(msg)
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "gpkg_contents" not in tables:
                msg = f"{path} is not a GeoPackage; give a .gpkg workspace (a new name creates one)."
                raise StoreError(msg)
            if table not in tables:
                return pd.DataFrame(columns=columns)
            # table and order are this module's constants, never user input
            frame = pd.read_sql_query(f"SELECT * FROM {table} ORDER BY {order}", con)  # noqa: S608
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        msg = f"{path} is not a GeoPackage ({exc}); give a .gpkg workspace (a new name creates one)."
        raise StoreError(msg) from None
    for column in columns:  # a change log written before revisions existed has no `revision`
        if column not in frame:
            frame[column] = None
    return frame

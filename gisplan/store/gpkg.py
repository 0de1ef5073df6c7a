"""The GeoPackage workspace: one ``.gpkg`` file holding every layer, a metadata table and a change log.

Writes are all-or-nothing. A commit copies the GeoPackage to a temporary file beside it, applies every write
and drop there, logs them, flushes the file to disk and atomically renames it over the workspace (then flushes
the folder, so the rename itself is durable). An error, or a kill at any moment, leaves the workspace exactly as
it was; a leftover temporary file is removed by the next writer. One writer at a time is enforced with a lock
file (the lock, the temporary copy and the durable rename are in :mod:`gisplan.store.gpkgfile`). The file stays
a plain GeoPackage that QGIS and GDAL open (gisplan's own tables are attribute tables).

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
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import pyogrio

from gisplan.errors import StoreError
from gisplan.i18n import _
from gisplan.settings import gpkg_dataset_options
from gisplan.store.gpkgfile import commit_file as _commit_file
from gisplan.store.gpkgfile import remove_tmp as _remove_tmp
from gisplan.store.gpkgfile import sweep_stale
from gisplan.store.gpkgfile import tmp_path as _tmp_path
from gisplan.store.gpkgfile import writer_lock as _writer_lock
from gisplan.store.gpkgread import has_geometry, own_layer_names, read_own_table, sqlite_uri
from gisplan.store.gpkgwrite import read_attributes, sqlite_unsynced, write_layer
from gisplan.store.history import LayerChange, RowChange, created, diff_layer, history_filters
from gisplan.store.operations import (
    HISTORY_COLUMNS,
    LOG_TABLE,
    META_TABLE,
    REVISION_COLUMNS,
    Drop,
    Hook,
    LayerWrite,
    Operation,
    check_layer_name,
)
from gisplan.store.revisions import with_snapshot_rows
from gisplan.store.workspace import Workspace
from gisplan.store.written import with_written_geometry

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    import numpy as np

__all__ = ["HISTORY_TABLES", "GeoPackageWorkspace"]

logger = logging.getLogger(__name__)

# the history (see gisplan.store.history): one row per revision, per (revision, layer) and per changed row
REV_TABLE = "gisplan_revisions"
LAYER_HISTORY_TABLE = "gisplan_layer_history"
ROW_HISTORY_TABLE = "gisplan_row_history"
HISTORY_TABLES = (REV_TABLE, LAYER_HISTORY_TABLE, ROW_HISTORY_TABLE)

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
    note TEXT,
    options TEXT
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
CREATE TABLE IF NOT EXISTS {REV_TABLE} (
    revision INTEGER PRIMARY KEY NOT NULL,
    at TEXT NOT NULL,
    user TEXT,
    action TEXT NOT NULL,
    note TEXT,
    undoes INTEGER,
    layers TEXT,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS {LAYER_HISTORY_TABLE} (
    revision INTEGER NOT NULL,
    layer TEXT NOT NULL,
    key_column TEXT NOT NULL,
    schema_before TEXT,
    schema_after TEXT,
    meta_before TEXT,
    meta_after TEXT,
    hash_before TEXT,
    hash_after TEXT,
    order_before TEXT,
    inserted INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    PRIMARY KEY (revision, layer)
);
CREATE TABLE IF NOT EXISTS {ROW_HISTORY_TABLE} (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    revision INTEGER NOT NULL,
    layer TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    key TEXT NOT NULL,
    label TEXT,
    pos_before INTEGER,
    before TEXT,
    after TEXT,
    before_geom BLOB,
    after_geom BLOB
);
CREATE INDEX IF NOT EXISTS {ROW_HISTORY_TABLE}_layer ON {ROW_HISTORY_TABLE} (layer, revision);
CREATE INDEX IF NOT EXISTS {ROW_HISTORY_TABLE}_key ON {ROW_HISTORY_TABLE} (key);
"""
_APPEND_ONLY = "".join(
    f"""CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t}
BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t}
BEGIN SELECT RAISE(ABORT, 'the history is append-only'); END;
""" for t in (REV_TABLE, LAYER_HISTORY_TABLE, ROW_HISTORY_TABLE))


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

    def layer_names(self) -> frozenset[str]:
        """The names of the layers in the workspace (empty if it does not exist yet)."""
        if not self.exists():
            return frozenset()
        sweep_stale(self.path)
        return own_layer_names(self.path)

    def metadata(self) -> pd.DataFrame:
        """The metadata table, sorted by layer name.

        Raises
        ------
        StoreError
            If the file does not exist or is not a GeoPackage. A GeoPackage without gisplan's tables has no
            layers yet (its own layers are left alone).
        """
        sweep_stale(self.path)
        return read_own_table(self.path, META_TABLE, "layer")

    def changelog(self) -> pd.DataFrame:
        """The change log, oldest first (``revision`` is empty for rows written before revisions existed)."""
        log = read_own_table(self.path, LOG_TABLE, "seq")
        return log.assign(revision=log["revision"].astype("Int64"))

    def revisions(self) -> pd.DataFrame:
        """Every recorded revision, oldest first (who, when, why, what it undid, the layers it touched)."""
        rows = _history_query(self.path, f"SELECT * FROM {REV_TABLE} ORDER BY revision", ())  # noqa: S608
        frame = pd.DataFrame([dict(r) for r in rows], columns=list(REVISION_COLUMNS))
        return frame.assign(revision=frame["revision"].astype("int64"), undoes=frame["undoes"].astype("Int64"))

    def layer_changes(
        self, *, layer: str | None = None, revision: int | None = None, after: int | None = None,
    ) -> list[tuple[int, LayerChange]]:
        """The recorded layer changes as (revision, change), oldest first (see :meth:`Workspace.layer_changes`)."""
        where, params = _filters(layer=layer, revision=revision, after=after)
        heads = _history_query(self.path, f"SELECT * FROM {LAYER_HISTORY_TABLE}{where} "  # noqa: S608
                               "ORDER BY revision, layer", params)
        if not heads:
            return []
        rows = _history_query(self.path, f"SELECT * FROM {ROW_HISTORY_TABLE}{where} ORDER BY seq", params)  # noqa: S608
        by_layer: dict[tuple[int, str], list[RowChange]] = {}
        for r in rows:
            by_layer.setdefault((r["revision"], r["layer"]), []).append(RowChange(
                r["op"], r["key"], r["label"], r["pos_before"], r["before"], r["after"], r["before_geom"],
                r["after_geom"]))
        return [(int(h["revision"]), LayerChange(
            layer=h["layer"], key_column=h["key_column"], schema_before=h["schema_before"],
            schema_after=h["schema_after"], meta_before=h["meta_before"], meta_after=h["meta_after"],
            hash_before=h["hash_before"], hash_after=h["hash_after"], order_before=h["order_before"],
            rows=tuple(found), created=created(h["schema_before"], h["inserted"], found)))
            for h in heads for found in [by_layer.get((h["revision"], h["layer"]), [])]]

    def history(
        self, *, layer: str | None = None, unit: str | None = None, name: str | None = None,
    ) -> pd.DataFrame:
        """Row-level history, oldest first (see :meth:`Workspace.history`)."""
        clauses, params = history_filters(layer=layer, unit=unit, name=name, param="?", contains="instr")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = _history_query(
            self.path,
            "SELECT h.revision, r.at, r.user, r.action, r.note, h.layer, h.op, h.key, h.label, h.before, h.after, "  # noqa: S608
            "coalesce(h.before_geom, x'') != coalesce(h.after_geom, x'') AS geometry_changed, h.seq "
            f"FROM {ROW_HISTORY_TABLE} h JOIN {REV_TABLE} r ON r.revision = h.revision{where} ORDER BY h.seq",
            params)
        frame = pd.DataFrame([dict(r) for r in rows], columns=[*HISTORY_COLUMNS, "seq"])
        # creations recorded as one snapshot: their insert records are rebuilt from the layer
        snapshots = _history_query(
            self.path,
            f"SELECT l.revision, l.layer, l.key_column FROM {LAYER_HISTORY_TABLE} l WHERE l.schema_before IS NULL "  # noqa: S608
            f"AND l.inserted > 0 AND NOT EXISTS (SELECT 1 FROM {ROW_HISTORY_TABLE} h WHERE h.layer = l.layer AND "
            f"h.revision = l.revision){' AND l.layer = ?' if layer is not None else ''} ORDER BY l.revision",
            [layer] if layer is not None else [])
        return with_snapshot_rows(self, frame.assign(geometry_changed=frame["geometry_changed"].astype(bool)),
                                  [(int(r[0]), str(r[1]), str(r[2])) for r in snapshots], unit=unit, name=name)

    def _is_spatial(self, name: str) -> bool:
        return has_geometry(self.path, name)

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
        user: str | None = None, note: str | None = None, undoes: int | None = None,
    ) -> None:
        path = self.path
        tmp = _tmp_path(path)
        user = user or _os_user()
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
                msg = (_("{path} changed during the transaction (revision {last}, expected {expected}); hold the "
                         "writer lock around it. The store is unchanged.").format(
                         path=path, last=last, expected=revision - 1))
                raise StoreError(msg)
            touched = list(dict.fromkeys(op.name for op in operations))
            meta_before = _meta_rows(tmp, touched)  # one connection for every layer (each opening parses the schema)
            before = {name: (_read_file_layer(tmp, name) if meta is not None else None, meta)
                      for name, meta in meta_before.items()}
            wkbs: dict[str, np.ndarray | None] = {}  # each written layer's geometry as WKB, where the write has it
            if new_workspace:
                _log(tmp, "init", None, {"path": str(path)}, revision, user)
            for op in operations:
                if isinstance(op, Drop):
                    _drop(tmp, op.name, label=str(path))
                    _log(tmp, action, op.name, {**detail, "dropped": True}, revision, user)
                else:
                    options = {"options": json.loads(op.options)} if op.options else {}
                    wkbs[op.name] = _write(tmp, op, action, {**detail, "rows": len(op.data), "source": op.source_path,
                                                             **options}, revision, user)
            last_op = {op.name: op for op in operations}  # the last operation on a layer decides what it holds
            meta_after = _meta_rows(tmp, touched)
            changes = [diff_layer(name, before[name][0], after, meta_before=before[name][1],
                                  meta_after=meta_after[name], snapshot=True,
                                  wkb_after=wkbs.get(name) if as_written else None)
                       for name in touched for after, as_written in [_read_written(tmp, last_op[name])]]
            if operations or new_workspace:
                _record_history(tmp, revision, changes, action=action, user=user, note=note, undoes=undoes,
                                detail=detail)
            _commit_file(tmp, path)
        except (OSError, sqlite3.Error, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                NotImplementedError, TypeError, ValueError) as exc:
            msg = _("writing {path} failed ({exc}); the store is unchanged.").format(path=path, exc=exc)
            raise StoreError(msg) from exc
        finally:
            _remove_tmp(tmp)
        logger.info("commit: %d operation(s) written to %s (revision %d)", len(operations), path, revision)


def _read_stored(path: Path, name: str) -> pd.DataFrame | None:
    """Layer `name` as stored in `path` (None when gisplan holds no such layer there)."""
    return _read_file_layer(path, name) if _meta_row(path, name) is not None else None


def _read_file_layer(path: Path, name: str) -> pd.DataFrame:
    """Layer `name` of `path`, which holds it."""
    if pyogrio.read_info(path, layer=name)["geometry_type"] is not None:
        gdf: gpd.GeoDataFrame = pyogrio.read_dataframe(path, layer=name)
        return gdf
    return pd.DataFrame(pyogrio.read_dataframe(path, layer=name, read_geometry=False))


def _read_written(path: Path, op: Operation) -> tuple[pd.DataFrame | None, bool]:
    """Layer ``op.name`` as stored in `path` after `op`, the last operation on it: for a write, its attributes read
    back and the geometry as written (:func:`~gisplan.store.written.with_written_geometry`), else the layer read
    back whole; and whether the geometry is the one written."""
    if isinstance(op, Drop):
        return _read_stored(path, op.name), False
    info = pyogrio.read_info(path, layer=op.name)
    fid = str(info.get("fid_column") or "").lower()
    if fid and any(str(c).lower() == fid for c in op.data.columns):  # GDAL took it as the feature id: rows come
        return _read_stored(path, op.name), False  # back in its order, not as written
    spatial = info["geometry_type"] is not None
    found = with_written_geometry(read_attributes(path, op.name, info), op.data, crs=info["crs"], spatial=spatial)
    return (found, True) if found is not None else (_read_stored(path, op.name), False)


def _meta_row(path: Path, name: str) -> dict[str, Any] | None:
    return _meta_rows(path, [name])[name]


def _meta_rows(path: Path, names: Sequence[str]) -> dict[str, dict[str, Any] | None]:
    """The metadata row of each of `names` (None where there is none), read through one connection."""
    with contextlib.closing(_connect(path)) as con:
        con.row_factory = sqlite3.Row
        rows = [con.execute(f"SELECT * FROM {META_TABLE} WHERE layer = ?", (name,)).fetchone()  # noqa: S608
                for name in names]
    return {name: dict(row) if row is not None else None for name, row in zip(names, rows, strict=True)}


def _record_history(
    path: Path, revision: int, changes: Sequence[LayerChange], *, action: str, user: str | None,
    note: str | None, undoes: int | None, detail: Mapping[str, Any],
) -> None:
    """Append the revision, its layer changes and their row changes (one SQLite transaction)."""
    with contextlib.closing(_connect(path)) as con:
        # `path` is the transaction's temporary copy: fsynced once before it replaces the workspace and thrown
        # away on any failure, so SQLite's own journal and syncs would only slow a large history write down
        con.execute("PRAGMA synchronous = OFF")
        con.execute("PRAGMA journal_mode = MEMORY")
        con.execute("BEGIN")
        con.execute(
            f"INSERT INTO {REV_TABLE} (revision, at, user, action, note, undoes, layers, detail) "  # noqa: S608
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (revision, _now(), user, action, note, undoes, ",".join(c.layer for c in changes) or None,
             json.dumps(dict(detail), ensure_ascii=False, sort_keys=True, default=str)),
        )
        for c in changes:
            counts = c.counts
            con.execute(
                f"INSERT INTO {LAYER_HISTORY_TABLE} (revision, layer, key_column, schema_before, "  # noqa: S608
                "schema_after, meta_before, meta_after, hash_before, hash_after, order_before, inserted, updated, "
                "deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (revision, c.layer, c.key_column, c.schema_before, c.schema_after, c.meta_before, c.meta_after,
                 c.hash_before, c.hash_after, c.order_before, counts["insert"], counts["update"], counts["delete"]),
            )
            con.executemany(
                f"INSERT INTO {ROW_HISTORY_TABLE} (revision, layer, op, key, label, pos_before, before, after, "  # noqa: S608
                "before_geom, after_geom) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(revision, c.layer, *r) for r in c.rows],  # RowChange's fields in the table's order
            )
        con.execute("COMMIT")


def _history_query(path: Path, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
    """Run a read-only query on the history tables (empty where a workspace has none yet)."""
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(sqlite_uri(path), uri=True)) as con:
        con.row_factory = sqlite3.Row
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if REV_TABLE not in tables:
            return []
        return con.execute(sql, tuple(params)).fetchall()


def _filters(*, layer: str | None, revision: int | None, after: int | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for clause, value in (("layer = ?", layer), ("revision = ?", revision), ("revision > ?", after)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _connect(path: Path) -> sqlite3.Connection:
    """A connection to a commit's temporary copy (the only file this module writes through SQLite): fsynced once
    before it replaces the workspace and thrown away on any failure, so SQLite's own syncs at every small
    transaction would only add waits (16 metadata and log rows of an import cost 0.8 s of fsyncs)."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA synchronous = OFF")
    return con


def _ensure_tables(path: Path) -> None:
    now = _now()
    with contextlib.closing(_connect(path)) as con:
        con.executescript(_SCHEMA + _APPEND_ONLY)
        con.execute("BEGIN")
        columns = {row[1] for row in con.execute(f"PRAGMA table_info({LOG_TABLE})")}
        if "revision" not in columns:  # a workspace written before revisions existed
            con.execute(f"ALTER TABLE {LOG_TABLE} ADD COLUMN revision INTEGER")
        meta_columns = {row[1] for row in con.execute(f"PRAGMA table_info({META_TABLE})")}
        if "options" not in meta_columns:  # a workspace written before per-layer options were kept
            con.execute(f"ALTER TABLE {META_TABLE} ADD COLUMN options TEXT")
        has_contents = con.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'gpkg_contents'"
        ).fetchone()[0]
        if has_contents:
            for table, text in ((META_TABLE, "gisplan layer metadata"), (LOG_TABLE, "gisplan change log"),
                                (REV_TABLE, "gisplan revisions: who, when, why"),
                                (LAYER_HISTORY_TABLE, "gisplan layer history"),
                                (ROW_HISTORY_TABLE, "gisplan row history: before and after")):
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
    with sqlite_unsynced():
        pyogrio.write_dataframe(empty, tmp, layer="gisplan_init", driver="GPKG",
                                dataset_options=gpkg_dataset_options())
    _drop_init_table(tmp)
    _ensure_tables(tmp)


def _drop_init_table(path: Path) -> None:
    with contextlib.closing(_connect(path)) as con:
        con.execute("BEGIN")
        con.execute("DROP TABLE IF EXISTS gisplan_init")
        con.execute("DELETE FROM gpkg_contents WHERE table_name = ?", ("gisplan_init",))
        con.execute("COMMIT")


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _log(path: Path, action: str, layer: str | None, detail: Mapping[str, Any], revision: int,
         user: str | None = None) -> None:
    with contextlib.closing(_connect(path)) as con:
        _log_row(con, action, layer, detail, revision, user)


def _log_row(con: sqlite3.Connection, action: str, layer: str | None, detail: Mapping[str, Any], revision: int,
             user: str | None = None) -> None:
    con.execute(
        f"INSERT INTO {LOG_TABLE} (at, user, action, layer, detail, revision) "  # noqa: S608
        "VALUES (?, ?, ?, ?, ?, ?)",
        (_now(), user or _os_user(), action, layer, json.dumps(dict(detail), ensure_ascii=False, sort_keys=True),
         revision),
    )


def _write(
        tmp: Path, w: LayerWrite, action: str, detail: Mapping[str, Any], revision: int, user: str | None,
) -> np.ndarray | None:
    """Write layer ``w``, its metadata row and its log row (the two rows through one connection: each opening
    parses the GeoPackage's schema); the geometry's WKB when :func:`write_layer` hands it back."""
    check_layer_name(w.name)
    wkb = write_layer(tmp, w.name, w.data)
    with contextlib.closing(_connect(tmp)) as con:
        _record(con, w)
        _log_row(con, action, w.name, detail, revision, user)
    return wkb


def _record(con: sqlite3.Connection, w: LayerWrite) -> None:
    stored_crs = None
    if isinstance(w.data, gpd.GeoDataFrame) and w.data.crs is not None:
        stored_crs = w.data.crs.to_string()
    con.execute(
        f"INSERT OR REPLACE INTO {META_TABLE} (layer, kind, facility_type, source_path, source_sha256, "  # noqa: S608
        "source_layer, imported_at, crs_given, stored_crs, row_count, illustrative, note, options) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (w.name, w.kind, w.facility_type, w.source_path, w.source_sha256, w.source_layer, w.imported_at or _now(),
         w.crs_given, stored_crs, len(w.data), int(w.illustrative), w.note, w.options),
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
            msg = _("{label} has no layer {name!r} to drop; the store is unchanged.").format(label=label, name=name)
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

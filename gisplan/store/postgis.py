"""The PostGIS workspace: one PostgreSQL schema holding every layer, a metadata table, a change log and the history.

Open one with ``open_workspace("postgresql://user@host:5432/db?schema=yongchuan")``. Each layer is a table of the
schema with gisplan's four bookkeeping columns in front (``gisplan_fid`` keeps the row order, ``gisplan_version``,
``gisplan_changed_by`` and ``gisplan_changed_at`` carry the row's version for optimistic concurrency), then the
layer's columns and, for a spatial layer, a PostGIS ``geometry`` column with a GiST index. ``gisplan_columns``
records each column's pandas dtype so that a layer reads back exactly as it was written. The change log, the
history of every revision (:mod:`gisplan.store.pghistory`: the same records a GeoPackage keeps, so history, as-of
reads, undo and revert work alike) and the old versions of edited rows (``gisplan_row_history``) are append-only
(triggers refuse UPDATE, DELETE and TRUNCATE).

A commit is one PostgreSQL transaction (DDL included): every write, drop, metadata row, change-log row and history
row, or nothing. One writer at a time is enforced with a session advisory lock keyed on the schema. A row edit
(:meth:`PostGISWorkspace.edit_row`, :mod:`gisplan.store.pgedits`) names the version it was based on and is refused
with :class:`~gisplan.errors.ConflictError`, naming who changed the row and when, if the row has moved on since. A
whole-layer write gives every row of the layer a version above any it had, so an edit based on the old layer is
refused too. An undo is a new revision that restores the layers; nothing recorded is ever rewritten.

The SQL of this backend lives in the ``store/pg*`` modules. Schema, table and column names are only ever passed
through psycopg's :class:`psycopg.sql.Identifier`; every value is bound.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import geopandas as gpd
import pandas as pd
import shapely

from gisplan.errors import StoreError
from gisplan.i18n import _
from gisplan.store import pgedits, pghistory
from gisplan.store.operations import (
    LOG_COLUMNS,
    LOG_TABLE,
    META_COLUMNS,
    META_TABLE,
    Drop,
    Hook,
    LayerWrite,
    Operation,
    check_layer_name,
)
from gisplan.store.pgedits import RowVersion
from gisplan.store.pgframes import check_columns, pg_type, python_values, split_geometry
from gisplan.store.pgschema import (
    CHANGED_AT,
    CHANGED_BY,
    COLUMNS_TABLE,
    FID,
    GEOMETRY,
    HISTORY_TABLE,
    OWN_TABLES,
    PASSWORD_IN_URI,
    VERSION,
    ensure_history,
    parse_postgres_uri,
)
from gisplan.store.pgschema import driver as _driver
from gisplan.store.pgschema import has_table as _has_table
from gisplan.store.pgschema import scaffold as _scaffold
from gisplan.store.pgschema import sql_composition as _sql
from gisplan.store.pgtables import columns as _columns
from gisplan.store.pgtables import first_line as _first_line
from gisplan.store.pgtables import last_revision, log, now, os_user, read_frame, table
from gisplan.store.revisions import with_snapshot_rows
from gisplan.store.workspace import Workspace

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    import psycopg
    from psycopg import sql as sql_module

    from gisplan.store.history import LayerChange

__all__ = ["COLUMNS_TABLE", "HISTORY_TABLE", "PostGISWorkspace", "RowVersion", "parse_postgres_uri"]

logger = logging.getLogger(__name__)

_IDENTIFIER_BYTES = 63  # PostgreSQL truncates longer names silently: refuse them instead
_IDLE: dict[tuple[int, str], list[Any]] = {}  # (pid, conninfo) -> idle connections, shared by the threads
_IDLE_LOCK = threading.Lock()
_MAX_IDLE = 8


@atexit.register
def _close_idle() -> None:
    with _IDLE_LOCK:
        for connections in _IDLE.values():
            for con in connections:
                con.close()
        _IDLE.clear()


@dataclass(frozen=True, slots=True)
class PostGISWorkspace(Workspace):
    """A workspace in one schema of a PostgreSQL database with PostGIS (created by the first write or by
    ``gisplan db init``). Open it with :func:`gisplan.store.open_workspace`.

    Attributes
    ----------
    given : str
        The URI as given (it may carry a password: messages use :attr:`label`).
    hooks : tuple of callables
        Run inside every transaction before it commits (see :meth:`Workspace.with_hook`).
    """

    given: str
    hooks: tuple[Hook, ...] = ()
    conninfo: str = dataclasses.field(init=False, repr=False)
    schema: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        conninfo, schema = parse_postgres_uri(self.given)
        object.__setattr__(self, "conninfo", conninfo)
        object.__setattr__(self, "schema", schema)

    # ------------------------------------------------------------------------------------------ identity

    @property
    def uri(self) -> str:
        """The URI as given (with ``?schema=``), to reopen the same workspace."""
        return self.given.strip()

    @property
    def label(self) -> str:
        """The URI without its password."""
        return PASSWORD_IN_URI.sub(r"\1:…@", self.given.strip())

    def exists(self) -> bool:
        """Whether the schema holds gisplan's metadata table (looking creates nothing)."""
        with self._connect() as con:
            return _has_table(con, self.schema, META_TABLE)

    def revision(self) -> int:
        """The last committed revision (0 for a workspace that has none yet): one ``max()`` over the change log,
        not the whole log (`gisplan serve` asks on every request)."""
        psycopg = _driver()
        with self._connect() as con:
            try:
                return last_revision(con, self.schema)
            except psycopg.errors.UndefinedTable:
                return 0

    def derived_path(self, suffix: str) -> Path:
        """``<database>_<schema><suffix>`` in the current folder (a database has no folder of its own)."""
        database = urlsplit(self.conninfo).path.strip("/") or "postgres"
        return Path(f"{re.sub(r'[^A-Za-z0-9_-]', '_', database)}_{self.schema}{suffix}")

    def with_hook(self, hook: Hook) -> PostGISWorkspace:
        """The same workspace with `hook` run inside every transaction, after the hooks it has."""
        return dataclasses.replace(self, hooks=(*self.hooks, hook))

    # ------------------------------------------------------------------------------------------ reading

    def metadata(self) -> pd.DataFrame:
        """The metadata table, sorted by layer name.

        Raises
        ------
        StoreError
            If the workspace does not exist or the database cannot be reached.
        """
        sql = _sql()
        query = sql.SQL("SELECT {} FROM {} ORDER BY layer").format(
            sql.SQL(", ").join(map(sql.Identifier, META_COLUMNS)), table(self.schema, META_TABLE))
        return self._read_own(query, META_COLUMNS)

    def changelog(self) -> pd.DataFrame:
        """The change log, oldest first."""
        sql = _sql()
        query = sql.SQL("SELECT {} FROM {} ORDER BY seq").format(
            sql.SQL(", ").join(map(sql.Identifier, LOG_COLUMNS)), table(self.schema, LOG_TABLE))
        log_rows = self._read_own(query, LOG_COLUMNS)
        return log_rows.assign(seq=log_rows["seq"].astype("int64"), revision=log_rows["revision"].astype("Int64"))

    def _read_own(self, query: sql_module.Composed, columns: Sequence[str]) -> pd.DataFrame:
        with self._connect() as con:
            if not _has_table(con, self.schema, META_TABLE):
                msg = _("workspace {label} does not exist; import a layer first (`gisplan layers import`).").format(
                    label=self.label)
                raise StoreError(msg)
            rows = con.execute(query).fetchall()
        frame = pd.DataFrame(rows, columns=list(columns))
        for column in ("row_count", "illustrative"):
            if column in frame:
                frame[column] = frame[column].astype("int64")
        return frame

    def _is_spatial(self, name: str) -> bool:
        with self._connect() as con:
            return any(c == GEOMETRY and d == "geometry" for c, d in _columns(con, self.schema, name))

    def _read_spatial(self, name: str) -> gpd.GeoDataFrame:
        with self._connect() as con:
            frame, geometry, crs = read_frame(con, self.schema, name, geometry=True)
        return gpd.GeoDataFrame(frame, geometry=geometry, crs=crs)

    def _read_attributes(self, name: str) -> pd.DataFrame:
        with self._connect() as con:
            frame, _, _ = read_frame(con, self.schema, name, geometry=False)
        return frame

    def row_versions(self, name: str) -> pd.DataFrame:
        """The version of every row of layer `name`, in row order: ``fid``, ``version``, ``changed_by``,
        ``changed_at`` (index-aligned with :meth:`read` of the same layer).

        Raises
        ------
        StoreError
            If there is no such layer.
        """
        sql = _sql()
        self._require(name)
        query = sql.SQL("SELECT {}, {}, {}, {} FROM {} ORDER BY {}").format(
            sql.Identifier(FID), sql.Identifier(VERSION), sql.Identifier(CHANGED_BY), sql.Identifier(CHANGED_AT),
            table(self.schema, name), sql.Identifier(FID))
        with self._connect() as con:
            rows = con.execute(query).fetchall()
        frame = pd.DataFrame(rows, columns=["fid", "version", "changed_by", "changed_at"])
        return frame.astype({"fid": "int64", "version": "int64"})

    def row_history(self, name: str, fid: int) -> pd.DataFrame:
        """Every earlier version of row `fid` of layer `name`, oldest first: ``version``, ``changed_by``,
        ``changed_at``, ``revision`` (the revision that replaced it) and ``row`` (its attributes as JSON text; the
        geometry is kept as EWKB in the table)."""
        sql = _sql()
        self._require(name)
        query = sql.SQL("SELECT version, changed_by, changed_at, revision, row::text FROM {} "
                        "WHERE layer = %s AND fid = %s ORDER BY seq").format(table(self.schema, HISTORY_TABLE))
        with self._connect() as con:
            rows = con.execute(query, (name, int(fid))).fetchall()
        return pd.DataFrame(rows, columns=["version", "changed_by", "changed_at", "revision", "row"])

    # ------------------------------------------------------------------------------------------ writing

    def lock(self, *, wait_s: float = 600.0) -> contextlib.AbstractContextManager[None]:
        """Hold the writer lock (a PostgreSQL advisory lock keyed on the schema), waiting up to `wait_s`.

        Raises
        ------
        StoreError
            If another process still holds the lock after `wait_s` seconds, or the database cannot be reached.
        """
        return self._writer_lock(wait_s)

    @contextlib.contextmanager
    def _writer_lock(self, wait_s: float) -> Iterator[None]:
        with self.locked_connection(wait_s):
            yield

    @contextlib.contextmanager
    def locked_connection(self, wait_s: float) -> Iterator[psycopg.Connection[Any]]:
        """An autocommit connection holding the schema's advisory writer lock (row edits run their transaction on
        it: one connection per edit).

        Raises
        ------
        StoreError
            If another process still holds the lock after `wait_s` seconds, or the database cannot be reached.
        """
        key = f"gisplan:{self.schema}"
        deadline = time.monotonic() + wait_s
        waited = False
        with self._connect() as con:
            while not con.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()[0]:  # type: ignore[index]
                if time.monotonic() >= deadline:
                    msg = _("{label} is being written by another gisplan process (waited {wait_s:g} s); wait for it "
                            "to finish and retry.").format(label=self.label, wait_s=wait_s)
                    raise StoreError(msg)
                if not waited:
                    logger.warning("%s is being written by another gisplan process; waiting …", self.label)
                    waited = True
                time.sleep(0.05)
            try:
                yield con
            finally:
                con.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


    def _commit(
        self, operations: Sequence[Operation], *, action: str, detail: Mapping[str, Any], revision: int,
        user: str | None = None, note: str | None = None, undoes: int | None = None,
    ) -> None:
        psycopg = _driver()
        user = user or os_user()
        logged = {**detail, "note": note} if note else detail
        try:
            with self._connect() as con, con.transaction():
                new_workspace = not _has_table(con, self.schema, META_TABLE)
                if new_workspace:
                    _scaffold(con, self.schema)
                else:
                    ensure_history(con, self.schema)
                last = last_revision(con, self.schema)
                if last != revision - 1:
                    msg = _("{label} changed during the transaction (revision {last}, expected {expected}); hold the "
                            "writer lock around it. The store is unchanged.").format(
                        label=self.label, last=last, expected=revision - 1)
                    raise StoreError(msg)
                before = pghistory.snapshot(con, self.schema, [op.name for op in operations])
                if new_workspace:
                    log(con, self.schema, "init", None, {"uri": self.label}, revision, user)
                for op in operations:
                    if isinstance(op, Drop):
                        self._drop(con, op.name)
                        log(con, self.schema, action, op.name, {**logged, "dropped": True}, revision, user)
                    else:
                        self._write(con, op, user)
                        options = {"options": json.loads(op.options)} if op.options else {}
                        log(con, self.schema, action, op.name, {**logged, "rows": len(op.data),
                                                                "source": op.source_path, **options}, revision, user)
                if operations or new_workspace:
                    written = {op.name: None if isinstance(op, Drop) else op.data for op in operations}
                    changes = pghistory.changes_since(con, self.schema, before, written)
                    pghistory.record_revision(con, self.schema, revision, changes, action=action, user=user,
                                              note=note, undoes=undoes, detail=detail)
        except (psycopg.Error, TypeError, ValueError, OverflowError) as exc:
            msg = _("writing {label} failed ({reason}); the store is unchanged.").format(
                label=self.label, reason=_first_line(exc))
            raise StoreError(msg) from exc
        logger.info("commit: %d operation(s) written to %s (revision %d)", len(operations), self.label, revision)

    def _write(self, con: psycopg.Connection[Any], w: LayerWrite, user: str | None) -> None:
        sql = _sql()
        check_layer_name(w.name)
        if w.name in OWN_TABLES:
            msg = _("layer name {name!r} is one of gisplan's own tables; choose another name.").format(name=w.name)
            raise ValueError(msg)
        frame, geometry, srid = split_geometry(w.data)
        columns = [(str(c), pg_type(frame[c], str(c))) for c in frame.columns]
        check_columns([c for c, _ in columns], spatial=geometry is not None)
        layer = table(self.schema, w.name)
        version = 1  # every row above any version the layer had: an edit based on the old layer is refused
        if _has_table(con, self.schema, w.name):
            found = con.execute(sql.SQL("SELECT coalesce(max({}), 0) FROM {}").format(
                sql.Identifier(VERSION), layer)).fetchone()
            version = int(found[0]) + 1 if found else 1
        con.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(layer))
        definitions = [sql.SQL("{} bigint PRIMARY KEY").format(sql.Identifier(FID)),
                       sql.SQL("{} integer NOT NULL DEFAULT 1").format(sql.Identifier(VERSION)),
                       sql.SQL("{} text").format(sql.Identifier(CHANGED_BY)),
                       sql.SQL("{} text NOT NULL").format(sql.Identifier(CHANGED_AT))]
        definitions += [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(pg)) for c, (pg, _) in columns]
        if geometry is not None:
            definitions.append(sql.SQL("{} geometry").format(sql.Identifier(GEOMETRY)))
        con.execute(sql.SQL("CREATE TABLE {} ({})").format(layer, sql.SQL(", ").join(definitions)))
        if geometry is not None:
            con.execute(sql.SQL("CREATE INDEX {} ON {} USING gist ({})").format(
                sql.Identifier(f"{w.name}_geometry_gist"[:_IDENTIFIER_BYTES]), layer, sql.Identifier(GEOMETRY)))
        con.execute(sql.SQL("DELETE FROM {} WHERE layer = %s").format(table(self.schema, COLUMNS_TABLE)), (w.name,))
        described = [(c, dtype) for c, (_, dtype) in columns] + ([(GEOMETRY, "geometry")] if geometry is not None
                                                                 else [])
        with con.cursor() as cur:
            cur.executemany(sql.SQL("INSERT INTO {} (layer, position, name, dtype) VALUES (%s, %s, %s, %s)").format(
                table(self.schema, COLUMNS_TABLE)), [(w.name, i, c, d) for i, (c, d) in enumerate(described)])
        self._copy_rows(con, layer, frame, geometry, srid, user=user, version=version)
        self._record(con, w)

    def _copy_rows(self, con: psycopg.Connection[Any], layer: sql_module.Composable, frame: pd.DataFrame,
                   geometry: gpd.GeoSeries | None, srid: int, *, user: str | None, version: int) -> None:
        sql = _sql()
        n = len(frame)
        values: list[list[Any]] = [list(range(1, n + 1)), [version] * n, [user] * n, [now()] * n]
        values += [python_values(frame[c]) for c in frame.columns]
        names = [FID, VERSION, CHANGED_BY, CHANGED_AT, *map(str, frame.columns)]
        if geometry is not None:
            geoms = shapely.set_srid(geometry.to_numpy(), srid)
            values.append(list(shapely.to_wkb(geoms, hex=True, include_srid=True)))
            names.append(GEOMETRY)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(layer, sql.SQL(", ").join(map(sql.Identifier, names)))
        with con.cursor() as cur, cur.copy(statement) as copy:
            # the driver takes one row at a time; the values were converted column by column above
            for row in zip(*values, strict=True):
                copy.write_row(row)

    def _record(self, con: psycopg.Connection[Any], w: LayerWrite) -> None:
        sql = _sql()
        stored_crs = None
        if isinstance(w.data, gpd.GeoDataFrame) and w.data.crs is not None:
            stored_crs = w.data.crs.to_string()
        con.execute(sql.SQL("DELETE FROM {} WHERE layer = %s").format(table(self.schema, META_TABLE)), (w.name,))
        con.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                table(self.schema, META_TABLE), sql.SQL(", ").join(map(sql.Identifier, META_COLUMNS)),
                sql.SQL(", ").join(sql.Placeholder() * len(META_COLUMNS))),
            (w.name, w.kind, w.facility_type, w.source_path, w.source_sha256, w.source_layer,
             w.imported_at or now(), w.crs_given, stored_crs, len(w.data), int(w.illustrative),
             w.note, w.options),
        )

    def _drop(self, con: psycopg.Connection[Any], name: str) -> None:
        sql = _sql()
        check_layer_name(name)
        found = con.execute(sql.SQL("SELECT count(*) FROM {} WHERE layer = %s").format(table(self.schema, META_TABLE)),
                            (name,)).fetchone()
        if not found or not found[0]:
            msg = _("{label} has no layer {name!r} to drop; the store is unchanged.").format(
                label=self.label, name=name)
            raise StoreError(msg)
        con.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table(self.schema, name)))
        for own in (META_TABLE, COLUMNS_TABLE):
            con.execute(sql.SQL("DELETE FROM {} WHERE layer = %s").format(table(self.schema, own)), (name,))

    # ------------------------------------------------------------------------------------------ history

    def revisions(self) -> pd.DataFrame:
        """Every recorded revision, oldest first (who, when, why, what it undid, the layers it touched)."""
        with self._connect() as con:
            return pghistory.revisions(con, self.schema)

    def layer_changes(
        self, *, layer: str | None = None, revision: int | None = None, after: int | None = None,
    ) -> list[tuple[int, LayerChange]]:
        """The recorded layer changes as (revision, change), oldest first (see :meth:`Workspace.layer_changes`)."""
        with self._connect() as con:
            return pghistory.layer_changes(con, self.schema, layer=layer, revision=revision, after=after)

    def history(
        self, *, layer: str | None = None, unit: str | None = None, name: str | None = None,
    ) -> pd.DataFrame:
        """Row-level history, oldest first (see :meth:`Workspace.history`); row edits are in it too."""
        with self._connect() as con:
            recorded, snapshots = pghistory.history(con, self.schema, layer=layer, unit=unit, name=name)
        return with_snapshot_rows(self, recorded, snapshots, unit=unit, name=name)

    # ------------------------------------------------------------------------------------------ row edits

    def edit_row(
        self,
        name: str,
        fid: int,
        values: Mapping[str, Any],
        *,
        base_version: int,
        user: str,
        geometry: shapely.Geometry | None = None,
        note: str | None = None,
        wait_s: float = 30.0,
    ) -> RowVersion:
        """Change one row of layer `name`, if it is still at `base_version` (optimistic concurrency).

        The old version of the row goes to the append-only row history, the row's version goes up by one, and the
        change log and the history record the edit under a new revision — all in one transaction.

        Parameters
        ----------
        name : str
            Layer name.
        fid : int
            The row (``fid`` of :meth:`row_versions`).
        values : Mapping
            New values by column name (columns of the layer; not gisplan's own).
        base_version : int
            The version the editor read and changed.
        user : str
            Who makes the edit (recorded with the row, in the change log and the history).
        geometry : shapely geometry, optional
            A new geometry, in the layer's CRS (spatial layers only).
        note : str, optional
            Why (the history's note).
        wait_s : float
            Seconds to wait for another writer.

        Returns
        -------
        RowVersion
            The row's new version.

        Raises
        ------
        ConflictError
            If the row has changed since `base_version`; the message names who changed it and when, and nothing
            is written.
        StoreError
            If there is no such layer, row or column.
        """
        return pgedits.edit_row(self, name, fid, values, base_version=base_version, user=user, geometry=geometry,
                                note=note, wait_s=wait_s)

    def edit_row_at(
        self,
        name: str,
        position: int,
        values: Mapping[str, Any],
        *,
        base_version: int,
        user: str,
        geometry: shapely.Geometry | None = None,
        note: str | None = None,
        wait_s: float = 30.0,
    ) -> RowVersion:
        """:meth:`edit_row` of the row at 1-based `position` in stored order (``gisplan serve``'s feature id),
        found inside the edit's transaction; the answer carries the row's ``fid``, ``position`` and the
        ``revision`` that recorded the edit.

        Raises
        ------
        ConflictError
            If the row has changed since `base_version`.
        StoreError
            If there is no such layer, row or column.
        """
        return pgedits.edit_row(self, name, None, values, base_version=base_version, user=user, geometry=geometry,
                                note=note, wait_s=wait_s, position=position)

    def undo_row(self, name: str, fid: int, *, base_version: int, user: str, note: str | None = None,
                 wait_s: float = 30.0) -> RowVersion:
        """Undo the last change of row `fid`: a new version with the values it had before (history is never
        rewritten; the undone version stays in the row history). Undoing twice restores the undone change.

        Raises
        ------
        ConflictError
            If the row has changed since `base_version` (someone edited it after the change you meant to undo).
        StoreError
            If there is no such layer or row, or the row has no earlier version.
        """
        return pgedits.undo_row(self, name, fid, base_version=base_version, user=user, note=note, wait_s=wait_s)

    # ------------------------------------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[Any]]:
        """An autocommit connection to the database, reused (at most 8 idle per database): a new PostgreSQL
        connection costs a process fork and loading PostGIS (about 45 ms of a 90 ms row edit here); writes open
        ``con.transaction()``. A connection comes back to the idle list only when it is idle and healthy; they are
        closed at exit."""
        psycopg = _driver()
        key = (os.getpid(), self.conninfo)
        con = None
        with _IDLE_LOCK:
            idle = _IDLE.setdefault(key, [])
            while idle and con is None:
                candidate = idle.pop()
                con = None if candidate.closed else candidate
        if con is None:
            try:
                con = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=10, application_name="gisplan")
            except psycopg.Error as exc:
                msg = _("cannot connect to workspace {label} ({reason}); check the host, port, user and database, "
                        "and that the server is running (password: PGPASSWORD or ~/.pgpass).").format(
                    label=self.label, reason=_first_line(exc))
                raise StoreError(msg) from None
        try:
            yield con
        finally:
            healthy = not con.closed and con.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            with _IDLE_LOCK:
                idle = _IDLE.setdefault(key, [])
                keep = healthy and len(idle) < _MAX_IDLE
                if keep:
                    idle.append(con)
            if not keep:
                con.close()

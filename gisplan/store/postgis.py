"""The PostGIS workspace: one PostgreSQL schema holding every layer, a metadata table and a change log.

Open one with ``open_workspace("postgresql://user@host:5432/db?schema=yongchuan")``. Each layer is a table of the
schema with gisplan's four bookkeeping columns in front (``gisplan_fid`` keeps the row order, ``gisplan_version``,
``gisplan_changed_by`` and ``gisplan_changed_at`` carry the row's version for optimistic concurrency), then the
layer's columns and, for a spatial layer, a PostGIS ``geometry`` column with a GiST index. ``gisplan_columns``
records each column's pandas dtype so that a layer reads back exactly as it was written. The change log and the row
history (``gisplan_row_history``, the old version of every edited row) are append-only (triggers refuse UPDATE and
DELETE).

A commit is one PostgreSQL transaction (DDL included): every write, drop, metadata row and change-log row, or
nothing. One writer at a time is enforced with a session advisory lock keyed on the schema. A row edit
(:meth:`PostGISWorkspace.edit_row`) names the version it was based on and is refused with
:class:`~gisplan.errors.ConflictError`, naming who changed the row and when, if the row has moved on since.

All SQL of this backend lives in this module. Schema, table and column names are only ever passed through psycopg's
:class:`psycopg.sql.Identifier`; every value is bound.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import getpass
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.errors import ConflictError, StoreError
from gisplan.store.pgframes import check_columns, pg_type, python_scalar, python_values, restore, split_geometry
from gisplan.store.pgschema import (
    CHANGED_AT,
    CHANGED_BY,
    COLUMNS_TABLE,
    FID,
    GEOMETRY,
    HISTORY_TABLE,
    OWN_TABLES,
    PASSWORD_IN_URI,
    RESERVED_COLUMNS,
    VERSION,
    parse_postgres_uri,
)
from gisplan.store.pgschema import driver as _driver
from gisplan.store.pgschema import has_table as _has_table
from gisplan.store.pgschema import scaffold as _scaffold
from gisplan.store.pgschema import sql_composition as _sql
from gisplan.store.workspace import (
    LOG_COLUMNS,
    LOG_TABLE,
    META_COLUMNS,
    META_TABLE,
    REVISION_COLUMNS,
    Drop,
    Hook,
    LayerWrite,
    Operation,
    Workspace,
    check_layer_name,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    import psycopg
    from psycopg import sql as sql_module

    from gisplan.store.history import LayerChange

__all__ = ["COLUMNS_TABLE", "HISTORY_TABLE", "PostGISWorkspace", "RowVersion", "parse_postgres_uri"]

logger = logging.getLogger(__name__)

_NO_HISTORY = ("{label}: row-level history, undo, revert and as-of reads of whole-layer writes are kept in GeoPackage "
               "workspaces only for now; copy the workspace to a GeoPackage (gisplan db copy) to use them. "
               "Row edits on PostGIS keep every version (gisplan_row_history).")

_IDENTIFIER_BYTES = 63
_IDLE: dict[tuple[int, str], list[Any]] = {}  # (pid, conninfo) -> idle connections, shared by the threads
_IDLE_LOCK = threading.Lock()
_MAX_IDLE = 8


@atexit.register
def _close_idle() -> None:
    with _IDLE_LOCK:
        for connections in _IDLE.values():
            for con in connections:
                con.close()
        _IDLE.clear()  # PostgreSQL truncates longer names silently: refuse them instead




@dataclass(frozen=True, slots=True)
class RowVersion:
    """The version of one row of a layer: who changed it last, and when (ISO 8601, UTC)."""

    fid: int
    version: int
    changed_by: str | None
    changed_at: str


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
        sql = psycopg.sql
        with self._connect() as con:
            try:
                found = con.execute(sql.SQL("SELECT coalesce(max(revision), 0) FROM {}").format(
                    self._table(LOG_TABLE))).fetchone()
            except psycopg.errors.UndefinedTable:
                return 0
        return int(found[0]) if found else 0

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
            sql.SQL(", ").join(map(sql.Identifier, META_COLUMNS)), self._table(META_TABLE))
        return self._read_own(query, META_COLUMNS)

    def changelog(self) -> pd.DataFrame:
        """The change log, oldest first."""
        sql = _sql()
        query = sql.SQL("SELECT {} FROM {} ORDER BY seq").format(
            sql.SQL(", ").join(map(sql.Identifier, LOG_COLUMNS)), self._table(LOG_TABLE))
        log = self._read_own(query, LOG_COLUMNS)
        return log.assign(seq=log["seq"].astype("int64"), revision=log["revision"].astype("Int64"))

    def _read_own(self, query: sql_module.Composed, columns: Sequence[str]) -> pd.DataFrame:
        with self._connect() as con:
            if not _has_table(con, self.schema, META_TABLE):
                msg = f"workspace {self.label} does not exist; import a layer first (`gisplan layers import`)."
                raise StoreError(msg)
            rows = con.execute(query).fetchall()
        frame = pd.DataFrame(rows, columns=list(columns))
        for column in ("row_count", "illustrative"):
            if column in frame:
                frame[column] = frame[column].astype("int64")
        return frame

    def _columns(self, con: psycopg.Connection[Any], name: str) -> list[tuple[str, str]]:
        sql = _sql()
        query = sql.SQL("SELECT name, dtype FROM {} WHERE layer = %s ORDER BY position").format(
            self._table(COLUMNS_TABLE))
        return [(str(n), str(d)) for n, d in con.execute(query, (name,)).fetchall()]

    def _layer_columns(self, con: psycopg.Connection[Any], name: str) -> list[tuple[str, str]]:
        """The columns of layer `name`, which must exist (StoreError listing the layers otherwise)."""
        columns = self._columns(con, name) if _has_table(con, self.schema, COLUMNS_TABLE) else []
        if not columns:
            self._require(name)  # the message that lists the layers
        return columns

    def _is_spatial(self, name: str) -> bool:
        with self._connect() as con:
            return any(column == GEOMETRY and dtype == "geometry" for column, dtype in self._columns(con, name))

    def _read_spatial(self, name: str) -> gpd.GeoDataFrame:
        frame, geometry, crs = self._read(name, geometry=True)
        return gpd.GeoDataFrame(frame, geometry=geometry, crs=crs)

    def _read_attributes(self, name: str) -> pd.DataFrame:
        frame, _, _ = self._read(name, geometry=False)
        return frame

    def _read(self, name: str, *, geometry: bool) -> tuple[pd.DataFrame, gpd.GeoSeries | None, str | None]:
        sql = _sql()
        check_layer_name(name)
        with self._connect() as con:
            columns = self._columns(con, name)
            attributes = [(c, d) for c, d in columns if d != "geometry"]
            spatial = geometry and any(d == "geometry" for _, d in columns)
            selected = [sql.Identifier(c) for c, _ in attributes]
            if spatial:
                selected.append(sql.SQL("ST_AsBinary({})").format(sql.Identifier(GEOMETRY)))
            query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
                sql.SQL(", ").join(selected) if selected else sql.SQL("NULL"), self._table(name),
                sql.Identifier(FID))
            rows = con.execute(query).fetchall()
            crs = con.execute(sql.SQL("SELECT stored_crs FROM {} WHERE layer = %s").format(self._table(META_TABLE)),
                              (name,)).fetchone()
        names = [c for c, _ in attributes]
        table = pd.DataFrame(rows, columns=[*names, GEOMETRY] if spatial else (names or None))
        if not names and not spatial:
            table = pd.DataFrame(index=pd.RangeIndex(len(rows)))
        frame = pd.DataFrame({c: restore(table[c], dtype) for c, dtype in attributes}, index=table.index)
        if not spatial:
            return frame, None, None
        wkb = table[GEOMETRY].to_numpy(dtype=object)
        geoms = gpd.GeoSeries(shapely.from_wkb(np.array([None if v is None else bytes(v) for v in wkb],
                                                        dtype=object)), index=table.index)
        return frame, geoms, (crs[0] if crs else None)

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
            self._table(name), sql.Identifier(FID))
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
                        "WHERE layer = %s AND fid = %s ORDER BY seq").format(self._table(HISTORY_TABLE))
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
        with self._locked_connection(wait_s):
            yield

    @contextlib.contextmanager
    def _locked_connection(self, wait_s: float) -> Iterator[psycopg.Connection[Any]]:
        """An autocommit connection holding the schema's advisory writer lock (row edits run their transaction on
        it: one connection per edit)."""
        key = f"gisplan:{self.schema}"
        deadline = time.monotonic() + wait_s
        waited = False
        with self._connect() as con:
            while not con.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()[0]:  # type: ignore[index]
                if time.monotonic() >= deadline:
                    msg = (f"{self.label} is being written by another gisplan process (waited {wait_s:g} s); "
                           "wait for it to finish and retry.")
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
        if undoes is not None:
            raise StoreError(_NO_HISTORY.format(label=self.label))
        detail = {**detail, "note": note} if note else detail
        try:
            with self._connect() as con, con.transaction():
                new_workspace = not _has_table(con, self.schema, META_TABLE)
                if new_workspace:
                    _scaffold(con, self.schema)
                last = self._last_revision(con)
                if last != revision - 1:
                    msg = (f"{self.label} changed during the transaction (revision {last}, expected "
                           f"{revision - 1}); hold the writer lock around it. The store is unchanged.")
                    raise StoreError(msg)
                if new_workspace:
                    self._log(con, "init", None, {"uri": self.label}, revision, user)
                for op in operations:
                    if isinstance(op, Drop):
                        self._drop(con, op.name)
                        self._log(con, action, op.name, {**detail, "dropped": True}, revision, user)
                    else:
                        self._write(con, op)
                        options = {"options": json.loads(op.options)} if op.options else {}
                        self._log(con, action, op.name, {**detail, "rows": len(op.data), "source": op.source_path,
                                                         **options}, revision, user)
        except (psycopg.Error, TypeError, ValueError, OverflowError) as exc:
            msg = f"writing {self.label} failed ({_first_line(exc)}); the store is unchanged."
            raise StoreError(msg) from exc
        logger.info("commit: %d operation(s) written to %s (revision %d)", len(operations), self.label, revision)

    def _write(self, con: psycopg.Connection[Any], w: LayerWrite) -> None:
        sql = _sql()
        check_layer_name(w.name)
        if w.name in OWN_TABLES:
            msg = f"layer name {w.name!r} is one of gisplan's own tables; choose another name."
            raise ValueError(msg)
        frame, geometry, srid = split_geometry(w.data)
        columns = [(str(c), pg_type(frame[c], str(c))) for c in frame.columns]
        check_columns([c for c, _ in columns], spatial=geometry is not None)
        table = self._table(w.name)
        con.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        definitions = [sql.SQL("{} bigint PRIMARY KEY").format(sql.Identifier(FID)),
                       sql.SQL("{} integer NOT NULL DEFAULT 1").format(sql.Identifier(VERSION)),
                       sql.SQL("{} text").format(sql.Identifier(CHANGED_BY)),
                       sql.SQL("{} text NOT NULL").format(sql.Identifier(CHANGED_AT))]
        definitions += [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(pg)) for c, (pg, _) in columns]
        if geometry is not None:
            definitions.append(sql.SQL("{} geometry").format(sql.Identifier(GEOMETRY)))
        con.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(definitions)))
        if geometry is not None:
            con.execute(sql.SQL("CREATE INDEX {} ON {} USING gist ({})").format(
                sql.Identifier(f"{w.name}_geometry_gist"[:_IDENTIFIER_BYTES]), table, sql.Identifier(GEOMETRY)))
        con.execute(sql.SQL("DELETE FROM {} WHERE layer = %s").format(self._table(COLUMNS_TABLE)), (w.name,))
        described = [(c, dtype) for c, (_, dtype) in columns] + ([(GEOMETRY, "geometry")] if geometry is not None
                                                                 else [])
        with con.cursor() as cur:
            cur.executemany(sql.SQL("INSERT INTO {} (layer, position, name, dtype) VALUES (%s, %s, %s, %s)").format(
                self._table(COLUMNS_TABLE)), [(w.name, i, c, d) for i, (c, d) in enumerate(described)])
        self._copy_rows(con, table, frame, geometry, srid)
        self._record(con, w)

    def _copy_rows(self, con: psycopg.Connection[Any], table: sql_module.Composable, frame: pd.DataFrame,
                   geometry: gpd.GeoSeries | None, srid: int) -> None:
        sql = _sql()
        n = len(frame)
        user, now = _user(), _now()
        values: list[list[Any]] = [list(range(1, n + 1)), [user] * n, [now] * n]
        values += [python_values(frame[c]) for c in frame.columns]
        names = [FID, CHANGED_BY, CHANGED_AT, *map(str, frame.columns)]
        if geometry is not None:
            geoms = shapely.set_srid(geometry.to_numpy(), srid)
            values.append(list(shapely.to_wkb(geoms, hex=True, include_srid=True)))
            names.append(GEOMETRY)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(table, sql.SQL(", ").join(map(sql.Identifier, names)))
        with con.cursor() as cur, cur.copy(statement) as copy:
            # the driver takes one row at a time; the values were converted column by column above
            for row in zip(*values, strict=True):
                copy.write_row(row)

    def _record(self, con: psycopg.Connection[Any], w: LayerWrite) -> None:
        sql = _sql()
        stored_crs = None
        if isinstance(w.data, gpd.GeoDataFrame) and w.data.crs is not None:
            stored_crs = w.data.crs.to_string()
        con.execute(sql.SQL("DELETE FROM {} WHERE layer = %s").format(self._table(META_TABLE)), (w.name,))
        con.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                self._table(META_TABLE), sql.SQL(", ").join(map(sql.Identifier, META_COLUMNS)),
                sql.SQL(", ").join(sql.Placeholder() * len(META_COLUMNS))),
            (w.name, w.kind, w.facility_type, w.source_path, w.source_sha256, w.source_layer,
             w.imported_at or _now(), w.crs_given, stored_crs, len(w.data), int(w.illustrative),
             w.note, w.options),
        )

    def _drop(self, con: psycopg.Connection[Any], name: str) -> None:
        sql = _sql()
        check_layer_name(name)
        found = con.execute(sql.SQL("SELECT count(*) FROM {} WHERE layer = %s").format(self._table(META_TABLE)),
                            (name,)).fetchone()
        if not found or not found[0]:
            msg = f"{self.label} has no layer {name!r} to drop; the store is unchanged."
            raise StoreError(msg)
        con.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._table(name)))
        for own in (META_TABLE, COLUMNS_TABLE):
            con.execute(sql.SQL("DELETE FROM {} WHERE layer = %s").format(self._table(own)), (name,))

    def _log(self, con: psycopg.Connection[Any], action: str, layer: str | None, detail: Mapping[str, Any],
             revision: int, user: str | None = None) -> None:
        sql = _sql()
        con.execute(
            sql.SQL('INSERT INTO {} (at, "user", action, layer, detail, revision) VALUES (%s, %s, %s, %s, %s, %s)')
            .format(self._table(LOG_TABLE)),
            (_now(), user or _user(), action, layer, json.dumps(dict(detail), ensure_ascii=False, sort_keys=True),
             revision),
        )

    # ------------------------------------------------------------------------------------------ history
    def revisions(self) -> pd.DataFrame:
        """Every revision, oldest first, from the change log (who, when, why, the layers it touched); a shared
        store takes nothing back, so ``undoes`` is always empty."""
        log = self.changelog()
        if log.empty:
            return pd.DataFrame(columns=list(REVISION_COLUMNS))
        details = log["detail"].map(lambda d: json.loads(d) if isinstance(d, str) and d else {})
        log = log.assign(note=details.map(lambda d: d.get("note")), layers=log["layer"].fillna(""))
        grouped = log.groupby("revision", sort=True)
        out = pd.DataFrame({
            "revision": grouped["revision"].first(), "at": grouped["at"].first(), "user": grouped["user"].first(),
            "action": grouped["action"].first(), "note": grouped["note"].first(), "undoes": None,
            "layers": grouped["layers"].agg(lambda x: json.dumps(sorted({v for v in x if v}), ensure_ascii=False)),
            "detail": grouped["detail"].first(),
        })
        return out.reset_index(drop=True)[list(REVISION_COLUMNS)]

    def layer_changes(
        self, *, layer: str | None = None, revision: int | None = None, after: int | None = None,
    ) -> list[tuple[int, LayerChange]]:
        """Not kept on PostGIS yet: row-level history of whole-layer writes, undo, revert and as-of reads are
        GeoPackage features for now (raises StoreError saying so)."""
        del layer, revision, after
        raise StoreError(_NO_HISTORY.format(label=self.label))

    def history(
        self, *, layer: str | None = None, unit: str | None = None, name: str | None = None,
    ) -> pd.DataFrame:
        """Not kept on PostGIS yet (see :meth:`layer_changes`); row edits keep their versions in
        ``gisplan_row_history`` (:meth:`row_versions`)."""
        del layer, unit, name
        raise StoreError(_NO_HISTORY.format(label=self.label))

    def _last_revision(self, con: psycopg.Connection[Any]) -> int:
        sql = _sql()
        found = con.execute(sql.SQL("SELECT coalesce(max(revision), 0) FROM {}").format(
            self._table(LOG_TABLE))).fetchone()
        return int(found[0]) if found else 0

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
        wait_s: float = 30.0,
    ) -> RowVersion:
        """Change one row of layer `name`, if it is still at `base_version` (optimistic concurrency).

        The old version of the row goes to the append-only row history, the row's version goes up by one, and the
        change log records the edit under a new revision — all in one transaction.

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
            Who makes the edit (recorded with the row and in the change log).
        geometry : shapely geometry, optional
            A new geometry, in the layer's CRS (spatial layers only).
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
        psycopg = _driver()
        sql = psycopg.sql
        check_layer_name(name)
        with self._locked_connection(wait_s) as con:
            try:
                with con.transaction():
                    known = dict(self._layer_columns(con, name))
                    unknown = sorted(set(values) - set(known) - {GEOMETRY})
                    if unknown or (geometry is not None and known.get(GEOMETRY) != "geometry"):
                        msg = (f"layer {name!r} of {self.label} has no column(s) {', '.join(unknown) or GEOMETRY}; "
                               f"its columns are {', '.join(c for c in known if c != GEOMETRY)}.")
                        raise StoreError(msg)
                    self._check_version(con, name, fid, base_version)
                    revision = self._last_revision(con) + 1
                    table = self._table(name)
                    self._archive(con, name, fid, revision, spatial=known.get(GEOMETRY) == "geometry")
                    now = _now()
                    assignments = [sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values]
                    params: list[Any] = [python_scalar(v) for v in values.values()]
                    if geometry is not None:
                        srid = con.execute(sql.SQL("SELECT ST_SRID({}) FROM {} WHERE {} = %s").format(
                            sql.Identifier(GEOMETRY), table, sql.Identifier(FID)), (int(fid),)).fetchone()
                        assignments.append(sql.SQL("{} = ST_GeomFromWKB(%s, %s)").format(sql.Identifier(GEOMETRY)))
                        params += [shapely.to_wkb(geometry), int(srid[0]) if srid and srid[0] is not None else 0]
                    assignments += [sql.SQL("{} = {} + 1").format(sql.Identifier(VERSION), sql.Identifier(VERSION)),
                                    sql.SQL("{} = %s").format(sql.Identifier(CHANGED_BY)),
                                    sql.SQL("{} = %s").format(sql.Identifier(CHANGED_AT))]
                    params += [user, now, int(fid), base_version]
                    con.execute(sql.SQL("UPDATE {} SET {} WHERE {} = %s AND {} = %s").format(
                        table, sql.SQL(", ").join(assignments), sql.Identifier(FID), sql.Identifier(VERSION)), params)
                    detail = {"fid": int(fid), "from_version": base_version, "to_version": base_version + 1,
                              "by": user, "columns": sorted(values) + ([GEOMETRY] if geometry is not None else [])}
                    self._log(con, "edit", name, detail, revision)
            except psycopg.Error as exc:
                msg = f"editing row {fid} of {name} in {self.label} failed ({_first_line(exc)}); nothing was written."
                raise StoreError(msg) from exc
        return RowVersion(int(fid), base_version + 1, user, now)

    def _check_version(self, con: psycopg.Connection[Any], name: str, fid: int, base_version: int) -> None:
        current = self._current(con, name, fid)
        if current.version != base_version:
            msg = (f"第 {fid} 行（图层 {name}）已被 {current.changed_by or '未知用户'} 于 {current.changed_at} 修改"
                   f"（当前版本 {current.version}，你的修改基于版本 {base_version}）；请重新读取后再改。row {fid} of "
                   f"{name} was changed by {current.changed_by} at {current.changed_at}; nothing was written.")
            raise ConflictError(msg)

    def _archive(self, con: psycopg.Connection[Any], name: str, fid: int, revision: int, *, spatial: bool) -> None:
        """Append the row's current version to the row history (attributes as JSON, geometry as EWKB)."""
        sql = _sql()
        geometry = (sql.SQL("ST_AsEWKB(t.{})").format(sql.Identifier(GEOMETRY)) if spatial
                    else sql.SQL("NULL::bytea"))
        con.execute(
            sql.SQL("INSERT INTO {} (layer, fid, version, changed_by, changed_at, revision, row, geometry) "
                    "SELECT %s, {}, {}, {}, {}, %s, to_jsonb(t) - %s::text[], {} FROM {} AS t WHERE {} = %s").format(
                self._table(HISTORY_TABLE), sql.Identifier(FID), sql.Identifier(VERSION), sql.Identifier(CHANGED_BY),
                sql.Identifier(CHANGED_AT), geometry, self._table(name), sql.Identifier(FID)),
            (name, revision, sorted(RESERVED_COLUMNS | {GEOMETRY}), int(fid)))

    def undo_row(self, name: str, fid: int, *, base_version: int, user: str, wait_s: float = 30.0) -> RowVersion:
        """Undo the last change of row `fid`: a new version with the values it had before (history is never
        rewritten; the undone version stays in the row history). Undoing twice restores the undone change.

        Raises
        ------
        ConflictError
            If the row has changed since `base_version` (someone edited it after the change you meant to undo).
        StoreError
            If there is no such layer or row, or the row has no earlier version.
        """
        psycopg = _driver()
        sql = psycopg.sql
        check_layer_name(name)
        with self._locked_connection(wait_s) as con:
            try:
                with con.transaction():
                    columns = self._layer_columns(con, name)
                    spatial = any(c == GEOMETRY and d == "geometry" for c, d in columns)
                    attributes = [c for c, d in columns if d != "geometry"]
                    self._check_version(con, name, fid, base_version)
                    before = con.execute(
                        sql.SQL("SELECT version, row, geometry FROM {} WHERE layer = %s AND fid = %s "
                                "ORDER BY seq DESC LIMIT 1").format(self._table(HISTORY_TABLE)),
                        (name, int(fid))).fetchone()
                    if before is None:
                        msg = f"row {fid} of {name} in {self.label} has no earlier version to go back to."
                        raise StoreError(msg)
                    revision = self._last_revision(con) + 1
                    self._archive(con, name, fid, revision, spatial=spatial)
                    table = self._table(name)
                    targets = [sql.Identifier(c) for c in attributes]
                    assignments = [sql.SQL("({}) = (SELECT {} FROM jsonb_populate_record(NULL::{}, %s::jsonb))").format(
                        sql.SQL(", ").join(targets), sql.SQL(", ").join(targets), table)] if attributes else []
                    params: list[Any] = [json.dumps(before[1])] if attributes else []
                    if spatial:
                        assignments.append(sql.SQL("{} = ST_GeomFromEWKB(%s)").format(sql.Identifier(GEOMETRY)))
                        params.append(before[2])
                    now = _now()
                    assignments += [sql.SQL("{} = {} + 1").format(sql.Identifier(VERSION), sql.Identifier(VERSION)),
                                    sql.SQL("{} = %s").format(sql.Identifier(CHANGED_BY)),
                                    sql.SQL("{} = %s").format(sql.Identifier(CHANGED_AT))]
                    params += [user, now, int(fid)]
                    con.execute(sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
                        table, sql.SQL(", ").join(assignments), sql.Identifier(FID)), params)
                    self._log(con, "undo", name, {"fid": int(fid), "restored_version": int(before[0]),
                                                  "to_version": base_version + 1, "by": user}, revision)
            except psycopg.Error as exc:
                msg = f"undoing row {fid} of {name} in {self.label} failed ({_first_line(exc)}); nothing was written."
                raise StoreError(msg) from exc
        return RowVersion(int(fid), base_version + 1, user, now)

    def _current(self, con: psycopg.Connection[Any], name: str, fid: int) -> RowVersion:
        sql = _sql()
        found = con.execute(sql.SQL("SELECT {}, {}, {}, {} FROM {} WHERE {} = %s FOR UPDATE").format(
            sql.Identifier(FID), sql.Identifier(VERSION), sql.Identifier(CHANGED_BY), sql.Identifier(CHANGED_AT),
            self._table(name), sql.Identifier(FID)), (int(fid),)).fetchone()
        if found is None:
            msg = f"layer {name!r} of {self.label} has no row {fid}; nothing was written."
            raise StoreError(msg)
        return RowVersion(int(found[0]), int(found[1]), found[2], str(found[3]))

    # ------------------------------------------------------------------------------------------ plumbing

    def _table(self, name: str) -> sql_module.Composable:
        sql = _sql()
        table: sql_module.Composable = sql.Identifier(self.schema, name)
        return table

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
                msg = (f"cannot connect to workspace {self.label} ({_first_line(exc)}); check the host, port, user "
                       "and database, and that the server is running (password: PGPASSWORD or ~/.pgpass).")
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


# ------------------------------------------------------------------------------------------ helpers




def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

"""Row edits of a PostGIS workspace with optimistic concurrency (:meth:`PostGISWorkspace.edit_row` and
:meth:`~PostGISWorkspace.undo_row` call these).

An edit names the version of the row it was based on and is refused with :class:`~gisplan.errors.ConflictError`,
naming who changed the row and when, if the row has moved on since. Each edit is one transaction under the writer
lock: the row's old version goes to the append-only row history (``gisplan_row_history``), the row's version goes
up by one, and the change log and the workspace history (:mod:`gisplan.store.pghistory`) record it as a new
revision, so ``gisplan history`` shows it and ``gisplan undo`` takes it back like any other change.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
import shapely

from gisplan.errors import ConflictError, StoreError
from gisplan.i18n import _
from gisplan.store.history import diff_layer, row_edit_change
from gisplan.store.operations import check_layer_name
from gisplan.store.pgframes import python_scalar
from gisplan.store.pghistory import last_change, record_revision
from gisplan.store.pgschema import CHANGED_AT, CHANGED_BY, FID, GEOMETRY, HISTORY_TABLE, RESERVED_COLUMNS, VERSION
from gisplan.store.pgschema import driver as _driver
from gisplan.store.pgtables import columns, first_line, last_revision, log, meta_row, now, read_stored, table

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    import psycopg

    from gisplan.store.history import LayerChange
    from gisplan.store.postgis import PostGISWorkspace

__all__ = ["RowVersion", "edit_row", "undo_row"]


@dataclass(frozen=True, slots=True)
class RowVersion:
    """The version of one row of a layer: who changed it last, and when (ISO 8601, UTC)."""

    fid: int
    version: int
    changed_by: str | None
    changed_at: str


@dataclass(slots=True)
class _Edit:
    """One row edit in progress: its connection (inside the transaction), revision and the layer's columns; the
    body sets the change-log detail."""

    con: psycopg.Connection[Any]
    revision: int
    columns: dict[str, str]
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def spatial(self) -> bool:
        return self.columns.get(GEOMETRY) == "geometry"


@contextlib.contextmanager
def _row_edit(ws: PostGISWorkspace, name: str, fid: int, *, action: str, user: str, note: str | None,
              wait_s: float) -> Iterator[_Edit]:
    """The preamble and ending every row edit shares: the writer lock, one transaction, the layer's columns, the
    row's version checked by the body; then the change log and the history; a driver error becomes StoreError."""
    psycopg = _driver()
    check_layer_name(name)
    with ws.locked_connection(wait_s) as con:
        try:
            with con.transaction():
                known = dict(columns(con, ws.schema, name))
                if not known:
                    ws.is_spatial(name)  # raises: no such layer (the message lists the layers)
                edit = _Edit(con, last_revision(con, ws.schema) + 1, known)
                before_row, meta = read_stored(con, ws.schema, name, fid=fid), meta_row(con, ws.schema, name)
                previous = last_change(con, ws.schema, name)
                yield edit
                log(con, ws.schema, action, name, edit.detail, edit.revision, user)
                change = _change(ws, con, name, fid, before_row, meta, previous)
                record_revision(con, ws.schema, edit.revision, [change], action=action, user=user, note=note,
                                undoes=None, detail=edit.detail)
        except psycopg.Error as exc:
            undo = action == "undo"
            text = (_("undoing row {fid} of {name} in {label} failed ({reason}); nothing was written.") if undo
                    else _("editing row {fid} of {name} in {label} failed ({reason}); nothing was written."))
            msg = text.format(fid=fid, name=name, label=ws.label, reason=first_line(exc))
            raise StoreError(msg) from exc


def _change(ws: PostGISWorkspace, con: psycopg.Connection[Any], name: str, fid: int, before_row: pd.DataFrame | None,
            meta: dict[str, Any] | None, previous: tuple[str, str | None] | None) -> LayerChange:
    """What the edit did to the layer, for the history: from the row before and after it and the layer's last
    recorded hash (reads one row, whatever the layer's size), or, where that does not apply (no history yet, a hash
    of the earlier form, the row's dtypes not the layer's), by comparing the layer before and after whole."""
    sql = _driver().sql
    after_row = read_stored(con, ws.schema, name, fid=fid)
    if after_row is None or len(after_row) != 1 or before_row is None or len(before_row) != 1:
        msg = _("row {fid} of {name} in {label} was not found while recording the edit; nothing was written.").format(
            fid=fid, name=name, label=ws.label)
        raise StoreError(msg)
    found = con.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} < %s").format(
        table(ws.schema, name), sql.Identifier(FID)), (int(fid),)).fetchone()
    position = int(found[0]) if found else 0
    change = row_edit_change(name, before_row, after_row, position, key_column=previous[0],
                             hash_before=previous[1], meta=meta) if previous is not None else None
    if change is None:
        after = read_stored(con, ws.schema, name)
        if after is None:
            msg = _("layer {name} of {label} was not found while recording the edit; nothing was written.").format(
                name=name, label=ws.label)
            raise StoreError(msg)
        before = pd.concat([after.iloc[:position], before_row, after.iloc[position + 1:]], ignore_index=True)
        change = diff_layer(name, before, after, meta_before=meta, meta_after=meta)
    return change


def edit_row(  # noqa: PLR0913 - the method's parameters, keyword-only options
    ws: PostGISWorkspace, name: str, fid: int, values: Mapping[str, Any], *, base_version: int, user: str,
    geometry: shapely.Geometry | None, note: str | None, wait_s: float,
) -> RowVersion:
    """See :meth:`gisplan.store.PostGISWorkspace.edit_row`."""
    sql = _driver().sql
    with _row_edit(ws, name, fid, action="edit", user=user, note=note, wait_s=wait_s) as edit:
        con = edit.con
        unknown = sorted(set(values) - set(edit.columns) - {GEOMETRY})
        if unknown or (geometry is not None and not edit.spatial):
            msg = _("layer {name!r} of {label} has no column(s) {unknown}; its columns are {columns}.").format(
                name=name, label=ws.label, unknown=", ".join(unknown) or GEOMETRY,
                columns=", ".join(c for c in edit.columns if c != GEOMETRY))
            raise StoreError(msg)
        _check_version(ws, con, name, fid, base_version)
        _archive(ws, con, name, fid, edit.revision, spatial=edit.spatial)
        at = now()
        layer = table(ws.schema, name)
        assignments = [sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values]
        params: list[Any] = [python_scalar(v) for v in values.values()]
        if geometry is not None:
            srid = con.execute(sql.SQL("SELECT ST_SRID({}) FROM {} WHERE {} = %s").format(
                sql.Identifier(GEOMETRY), layer, sql.Identifier(FID)), (int(fid),)).fetchone()
            assignments.append(sql.SQL("{} = ST_GeomFromWKB(%s, %s)").format(sql.Identifier(GEOMETRY)))
            params += [shapely.to_wkb(geometry), int(srid[0]) if srid and srid[0] is not None else 0]
        con.execute(sql.SQL("UPDATE {} SET {} WHERE {} = %s AND {} = %s").format(
            layer, sql.SQL(", ").join([*assignments, *_stamp()]), sql.Identifier(FID), sql.Identifier(VERSION)),
            [*params, user, at, int(fid), base_version])
        edit.detail = {"fid": int(fid), "from_version": base_version, "to_version": base_version + 1, "by": user,
                       "columns": sorted(values) + ([GEOMETRY] if geometry is not None else [])}
    return RowVersion(int(fid), base_version + 1, user, at)


def undo_row(ws: PostGISWorkspace, name: str, fid: int, *, base_version: int, user: str, note: str | None,
             wait_s: float) -> RowVersion:
    """See :meth:`gisplan.store.PostGISWorkspace.undo_row`."""
    sql = _driver().sql
    with _row_edit(ws, name, fid, action="undo", user=user, note=note, wait_s=wait_s) as edit:
        con = edit.con
        attributes = [c for c, d in edit.columns.items() if d != "geometry"]
        _check_version(ws, con, name, fid, base_version)
        before = con.execute(
            sql.SQL("SELECT version, row, geometry FROM {} WHERE layer = %s AND fid = %s "
                    "ORDER BY seq DESC LIMIT 1").format(table(ws.schema, HISTORY_TABLE)), (name, int(fid))).fetchone()
        if before is None:
            msg = _("row {fid} of {name} in {label} has no earlier version to go back to.").format(
                fid=fid, name=name, label=ws.label)
            raise StoreError(msg)
        _archive(ws, con, name, fid, edit.revision, spatial=edit.spatial)
        layer = table(ws.schema, name)
        targets = [sql.Identifier(c) for c in attributes]
        assignments = [sql.SQL("({}) = (SELECT {} FROM jsonb_populate_record(NULL::{}, %s::jsonb))").format(
            sql.SQL(", ").join(targets), sql.SQL(", ").join(targets), layer)] if attributes else []
        params: list[Any] = [json.dumps(before[1])] if attributes else []
        if edit.spatial:
            assignments.append(sql.SQL("{} = ST_GeomFromEWKB(%s)").format(sql.Identifier(GEOMETRY)))
            params.append(before[2])
        at = now()
        con.execute(sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
            layer, sql.SQL(", ").join([*assignments, *_stamp()]), sql.Identifier(FID)), [*params, user, at, int(fid)])
        edit.detail = {"fid": int(fid), "restored_version": int(before[0]), "to_version": base_version + 1,
                       "by": user}
    return RowVersion(int(fid), base_version + 1, user, at)


def _stamp() -> list[Any]:
    """The assignments that bump a row's version and stamp who and when (two bound values follow)."""
    sql = _driver().sql
    return [sql.SQL("{} = {} + 1").format(sql.Identifier(VERSION), sql.Identifier(VERSION)),
            sql.SQL("{} = %s").format(sql.Identifier(CHANGED_BY)),
            sql.SQL("{} = %s").format(sql.Identifier(CHANGED_AT))]


def _check_version(ws: PostGISWorkspace, con: psycopg.Connection[Any], name: str, fid: int,
                   base_version: int) -> None:
    current = _current(ws, con, name, fid)
    if current.version != base_version:
        msg = (f"第 {fid} 行（图层 {name}）已被 {current.changed_by or '未知用户'} 于 {current.changed_at} 修改"
               f"（当前版本 {current.version}，你的修改基于版本 {base_version}）；请重新读取后再改。row {fid} of "
               f"{name} was changed by {current.changed_by} at {current.changed_at}; nothing was written.")
        raise ConflictError(msg)


def _archive(ws: PostGISWorkspace, con: psycopg.Connection[Any], name: str, fid: int, revision: int, *,
             spatial: bool) -> None:
    """Append the row's current version to the row history (attributes as JSON, geometry as EWKB)."""
    sql = _driver().sql
    geometry = sql.SQL("ST_AsEWKB(t.{})").format(sql.Identifier(GEOMETRY)) if spatial else sql.SQL("NULL::bytea")
    con.execute(
        sql.SQL("INSERT INTO {} (layer, fid, version, changed_by, changed_at, revision, row, geometry) "
                "SELECT %s, {}, {}, {}, {}, %s, to_jsonb(t) - %s::text[], {} FROM {} AS t WHERE {} = %s").format(
            table(ws.schema, HISTORY_TABLE), sql.Identifier(FID), sql.Identifier(VERSION), sql.Identifier(CHANGED_BY),
            sql.Identifier(CHANGED_AT), geometry, table(ws.schema, name), sql.Identifier(FID)),
        (name, revision, sorted(RESERVED_COLUMNS | {GEOMETRY}), int(fid)))


def _current(ws: PostGISWorkspace, con: psycopg.Connection[Any], name: str, fid: int) -> RowVersion:
    sql = _driver().sql
    found = con.execute(sql.SQL("SELECT {}, {}, {}, {} FROM {} WHERE {} = %s FOR UPDATE").format(
        sql.Identifier(FID), sql.Identifier(VERSION), sql.Identifier(CHANGED_BY), sql.Identifier(CHANGED_AT),
        table(ws.schema, name), sql.Identifier(FID)), (int(fid),)).fetchone()
    if found is None:
        msg = _("layer {name!r} of {label} has no row {fid}; nothing was written.").format(
            name=name, label=ws.label, fid=fid)
        raise StoreError(msg)
    return RowVersion(int(found[0]), int(found[1]), found[2], str(found[3]))

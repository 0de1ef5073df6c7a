"""Row edits of a PostGIS workspace with optimistic concurrency (:meth:`PostGISWorkspace.edit_row` and
:meth:`~PostGISWorkspace.undo_row` call these).

An edit names the version of the row it was based on and is refused with :class:`~gisplan.errors.ConflictError`,
naming who changed the row and when, if the row has moved on since. Each edit is one transaction under the writer
lock: the row's old version goes to the append-only row history (``gisplan_row_history``), the row's version goes
up by one, and the change log and the workspace history (:mod:`gisplan.store.pghistory`) record it as a new
revision, so ``gisplan history`` shows it and ``gisplan undo`` takes it back like any other change.

An edit costs a handful of statements whatever the layer's size: one reads the layer's columns, metadata, last
revision and last recorded hash; one locks and reads the row; one archives and updates it (returning the row as
stored); the change log and history rows go in one pipeline with the commit. Edits of one process queue on a
lock of that process before they take a connection, so a dozen waiting editors do not each hold (and poll with) a
database connection.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gisplan.errors import ConflictError, StoreError
from gisplan.i18n import _
from gisplan.store.history import LABEL_COLUMNS, LayerChange, RowChange, _dumps, diff_layer, row_edit_change
from gisplan.store.layerhash import _combine_hashes, rehashed, schema_digest
from gisplan.store.operations import LOG_TABLE, META_COLUMNS, META_TABLE, check_layer_name
from gisplan.store.pgframes import python_scalar, restore
from gisplan.store.pghistory import record_revision
from gisplan.store.pgschema import (
    CHANGED_AT,
    CHANGED_BY,
    COLUMNS_TABLE,
    FID,
    GEOMETRY,
    HISTORY_TABLE,
    LAYER_CHANGES_TABLE,
    RESERVED_COLUMNS,
    VERSION,
)
from gisplan.store.pgschema import driver as _driver
from gisplan.store.pgtables import first_line, log, now, read_stored, table

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    import psycopg

    from gisplan.store.postgis import PostGISWorkspace

__all__ = ["RowVersion", "edit_row", "undo_row"]


@dataclass(frozen=True, slots=True)
class RowVersion:
    """The version of one row of a layer: who changed it last, and when (ISO 8601, UTC); for the version an edit
    made, also the revision that recorded it and the row's position (1-based, in stored order)."""

    fid: int
    version: int
    changed_by: str | None
    changed_at: str
    revision: int | None = None
    position: int | None = None


@dataclass(frozen=True, slots=True)
class _Layer:
    """What an edit needs to know of its layer, read in one statement: columns and dtypes (in order), the last
    revision of the workspace, the metadata row and the key column and hash of the layer's last recorded change."""

    columns: dict[str, str]
    last_revision: int
    meta: dict[str, Any] | None
    previous: tuple[str, str | None] | None

    @property
    def spatial(self) -> bool:
        return self.columns.get(GEOMETRY) == "geometry"

    @property
    def attributes(self) -> list[tuple[str, str]]:
        return [(c, d) for c, d in self.columns.items() if d != "geometry"]


@dataclass(slots=True)
class _Edit:
    """One row edit in progress: its connection (inside the transaction), revision, layer and the row as stored
    before it (its version, position and values); the body sets the change-log detail and the row after it."""

    con: psycopg.Connection[Any]
    revision: int
    layer: _Layer
    fid: int
    position: int  # 0-based
    current: RowVersion
    before: tuple[Any, ...]  # the attributes in column order, then the geometry as WKB when spatial
    after: tuple[Any, ...] | None = None
    detail: dict[str, Any] = field(default_factory=dict)


_QUEUES: dict[tuple[str, str], threading.Lock] = {}
_QUEUES_GUARD = threading.Lock()


@contextlib.contextmanager
def _queued(ws: PostGISWorkspace, wait_s: float) -> Iterator[None]:
    """This process's turn among its own row edits of `ws` (threads wait here, not on a database connection)."""
    with _QUEUES_GUARD:
        queue = _QUEUES.setdefault((ws.conninfo, ws.schema), threading.Lock())
    if not queue.acquire(timeout=max(wait_s, 0.0)):
        msg = _("{label} is being written by another gisplan process (waited {wait_s:g} s); wait for it "
                "to finish and retry.").format(label=ws.label, wait_s=wait_s)
        raise StoreError(msg)
    try:
        yield
    finally:
        queue.release()


@contextlib.contextmanager
def _row_edit(ws: PostGISWorkspace, name: str, *, fid: int | None, position: int | None, action: str, user: str,
              note: str | None, wait_s: float) -> Iterator[_Edit]:
    """The preamble and ending every row edit shares: the writer lock, one transaction, the layer and the row (by
    `fid`, or by 1-based `position` in stored order), locked; then the change log and the history; a driver error
    becomes StoreError."""
    psycopg = _driver()
    check_layer_name(name)
    deadline = time.monotonic() + wait_s
    shown = fid if fid is not None else f"#{position}"
    with _queued(ws, wait_s), ws.locked_connection(max(deadline - time.monotonic(), 0.0)) as con:
        try:
            with con.transaction():
                layer = _read_layer(con, ws.schema, name)
                if not layer.columns:
                    ws.is_spatial(name)  # raises: no such layer (the message lists the layers)
                edit = _lock_row(ws, con, name, layer, fid=fid, position=position)
                yield edit
                if edit.after is None:
                    msg = _("row {fid} of {name} in {label} was not found while recording the edit; nothing was "
                            "written.").format(fid=edit.fid, name=name, label=ws.label)
                    raise StoreError(msg)
                change = _change(ws, con, name, edit)
                with con.pipeline():  # the records go with the commit: no round trip each
                    log(con, ws.schema, action, name, edit.detail, edit.revision, user)
                    record_revision(con, ws.schema, edit.revision, [change], action=action, user=user, note=note,
                                    undoes=None, detail=edit.detail)
        except psycopg.Error as exc:
            undo = action == "undo"
            text = (_("undoing row {fid} of {name} in {label} failed ({reason}); nothing was written.") if undo
                    else _("editing row {fid} of {name} in {label} failed ({reason}); nothing was written."))
            msg = text.format(fid=shown, name=name, label=ws.label, reason=first_line(exc))
            raise StoreError(msg) from exc


def _read_layer(con: psycopg.Connection[Any], schema: str, name: str) -> _Layer:
    """The layer's columns, the last revision, its metadata row and its last recorded change, in one statement."""
    sql = _driver().sql
    found = con.execute(sql.SQL(
        "SELECT (SELECT coalesce(json_agg(json_build_array(name, dtype) ORDER BY position), '[]'::json) FROM {} "
        "WHERE layer = %s), (SELECT coalesce(max(revision), 0) FROM {}), (SELECT row_to_json(m) FROM {} AS m "
        "WHERE m.layer = %s), (SELECT json_build_array(key_column, hash_after) FROM {} WHERE layer = %s "
        "ORDER BY revision DESC LIMIT 1)").format(
        table(schema, COLUMNS_TABLE), table(schema, LOG_TABLE), table(schema, META_TABLE),
        table(schema, LAYER_CHANGES_TABLE)), (name, name, name)).fetchone()
    assert found is not None  # a SELECT of four scalars: one row
    described, last, meta, previous = found
    return _Layer({str(c): str(d) for c, d in described}, int(last),
                  None if meta is None else {c: meta.get(c) for c in META_COLUMNS},
                  None if previous is None or previous[1] is None else (str(previous[0]), previous[1]))


def _selected(layer: _Layer) -> list[Any]:
    """The row's attributes in column order, then its geometry as WKB (spatial layers)."""
    sql = _driver().sql
    out = [sql.Identifier(c) for c, _ in layer.attributes]
    if layer.spatial:
        out.append(sql.SQL("ST_AsBinary({})").format(sql.Identifier(GEOMETRY)))
    return out


def _lock_row(ws: PostGISWorkspace, con: psycopg.Connection[Any], name: str, layer: _Layer, *, fid: int | None,
              position: int | None) -> _Edit:
    """Lock the row (by fid or 1-based position) and read its version, position and values."""
    sql = _driver().sql
    heads = [sql.Identifier(c) for c in (FID, VERSION, CHANGED_BY, CHANGED_AT)]
    t = table(ws.schema, name)
    if fid is not None:
        query = sql.SQL("SELECT {}, (SELECT count(*) FROM {} WHERE {} < %s) FROM {} WHERE {} = %s FOR UPDATE").format(
            sql.SQL(", ").join([*heads, *_selected(layer)]), t, sql.Identifier(FID), t, sql.Identifier(FID))
        found = con.execute(query, (int(fid), int(fid))).fetchone()
    else:
        query = sql.SQL("SELECT {}, %s::bigint FROM {} ORDER BY {} OFFSET %s LIMIT 1 FOR UPDATE").format(
            sql.SQL(", ").join([*heads, *_selected(layer)]), t, sql.Identifier(FID))
        at = int(position) - 1 if position is not None else -1
        found = con.execute(query, (at, at)).fetchone() if at >= 0 else None
    if found is None:
        msg = _("layer {name!r} of {label} has no row {fid}; nothing was written.").format(
            name=name, label=ws.label, fid=fid if fid is not None else f"#{position}")
        raise StoreError(msg)
    current = RowVersion(int(found[0]), int(found[1]), found[2], str(found[3]))
    return _Edit(con, layer.last_revision + 1, layer, current.fid, int(found[-1]), current, tuple(found[4:-1]))


@functools.lru_cache(maxsize=16)
def _crs(stored: str) -> pyproj.CRS:
    return pyproj.CRS.from_user_input(stored)


def _row_frame(layer: _Layer, values: tuple[Any, ...]) -> pd.DataFrame:
    """One row as :func:`gisplan.store.pgtables.read_stored` reads it (same columns, dtypes, geometry and CRS)."""
    attributes = layer.attributes
    names = [c for c, _ in attributes]
    raw = pd.DataFrame([list(values)], columns=[*names, GEOMETRY] if layer.spatial else (names or None))
    if not names and not layer.spatial:
        raw = pd.DataFrame(index=pd.RangeIndex(1))
    frame = pd.DataFrame({c: restore(raw[c], dtype) for c, dtype in attributes}, index=raw.index)
    if not layer.spatial:
        return frame
    wkb = values[-1]
    stored = (layer.meta or {}).get("stored_crs")
    geometry = gpd.GeoSeries(shapely.from_wkb(np.array([None if wkb is None else bytes(wkb)], dtype=object)),
                             index=raw.index, crs=_crs(stored) if stored else None)
    return gpd.GeoDataFrame(frame, geometry=geometry)


#: The dtypes (as a layer reads back) whose values :func:`plain_row_change` hashes and writes without pandas.
_PLAIN_DTYPES = frozenset({"str", "object", "int64", "float64", "bool"})
_MISSING_HASH = np.iinfo(np.uint64).max
_NO_FRAME = pd.DataFrame()


@functools.lru_cache(maxsize=16)
def _crs_wkt(stored: str) -> str:
    return _crs(stored).to_wkt()


def _plain(dtype: str, value: Any) -> tuple[bool, Any, int]:
    """Whether `value` (as the driver returns it) reads back as `dtype` without surprises; the value as the read
    layer holds it (a Python scalar, None where missing) and its hash as :func:`~gisplan.store.layerhash.row_hashes`
    hashes that column."""
    if dtype in {"str", "object"}:
        if value is None:
            return True, None, int(_MISSING_HASH)
        if isinstance(value, str):
            return True, value, int(pd.util.hash_array(np.array([value], dtype=object), categorize=False)[0])
    elif dtype == "int64":
        if isinstance(value, int) and not isinstance(value, bool) and -2**63 <= value < 2**63:
            return True, value, int(pd.util.hash_array(np.array([value], dtype=np.int64))[0])
    elif dtype == "float64":
        if value is None or (isinstance(value, float | int) and not isinstance(value, bool)):
            number = np.nan if value is None else float(value)
            hashed = int(pd.util.hash_array(np.array([number], dtype=np.float64))[0])
            return True, None if np.isnan(number) else number, hashed
    elif dtype == "bool" and isinstance(value, bool):
        return True, value, int(pd.util.hash_array(np.array([value], dtype=bool))[0])
    return False, None, 0


@dataclass(frozen=True, slots=True)
class _PlainRow:
    values: dict[str, Any]  # by column, as the read layer holds them
    wkb: bytes | None  # as frame_wkb gives it
    hash: int  # as row_hashes gives it


def _plain_row(layer: _Layer, stored: tuple[Any, ...]) -> _PlainRow | None:
    """One row as stored (attributes in column order, then WKB) read without pandas; None when a value does not
    fit :data:`_PLAIN_DTYPES` (then the caller builds frames)."""
    values: dict[str, Any] = {}
    hashes: list[np.ndarray] = []
    for (column, dtype), value in zip(layer.attributes, stored, strict=False):
        ok, plain, hashed = _plain(dtype, value)
        if not ok or dtype not in _PLAIN_DTYPES:
            return None
        values[column] = plain
        hashes.append(np.array([hashed], dtype=np.uint64))
    wkb = None
    if layer.spatial and stored[-1] is not None:
        wkb = shapely.to_wkb(shapely.from_wkb(bytes(stored[-1])), include_srid=False)  # as frame_wkb writes it
    hexed = int(_MISSING_HASH) if wkb is None else int(pd.util.hash_array(np.array([wkb.hex()], dtype=object),
                                                                           categorize=False)[0])
    hashes.append(np.array([hexed], dtype=np.uint64))
    return _PlainRow(values, wkb, int(_combine_hashes(hashes)[0]))


def plain_row_change(name: str, layer: _Layer, before: tuple[Any, ...], after: tuple[Any, ...],
                     position: int) -> LayerChange | None:
    """:func:`~gisplan.store.history.row_edit_change` of one row as stored before and after an edit, computed from
    the values alone — no one-row frames, same record — or None when it does not apply (a dtype or value outside
    :data:`_PLAIN_DTYPES`, no usable key, no recorded hash of the current form: the caller then builds the frames,
    which decide the same way). tests/test_history.py checks that both give equal records."""
    previous = layer.previous
    if previous is None or len(before) != len(after):
        return None
    key_column, hash_before = previous
    old, new = _plain_row(layer, before), _plain_row(layer, after)
    if old is None or new is None or key_column not in new.values:
        return None
    key_old, key_new = old.values[key_column], new.values[key_column]
    key_dtype = layer.columns[key_column]
    if key_new is None or _key_text(key_dtype, key_old) != str(key_new):
        return None
    stored = (layer.meta or {}).get("stored_crs") if layer.spatial else None
    names = [c for c, _ in layer.attributes]
    schema = {"columns": [*names, GEOMETRY] if layer.spatial else names,
              "dtypes": [d for _, d in layer.attributes] + (["geometry"] if layer.spatial else []),
              "geometry": GEOMETRY if layer.spatial else None, "crs": _crs_wkt(stored) if stored else None}
    digest = schema_digest(_NO_FRAME, schema)
    hash_after = rehashed(hash_before, digest, position, old.hash, new.hash)
    if hash_after is None:
        return None
    rows: tuple[RowChange, ...] = ()
    if old.hash != new.hash:
        label = next((new.values[c] for c in LABEL_COLUMNS if c in new.values), None)
        rows = (RowChange("update", str(key_new), label, position, _record(old.values), _record(new.values),
                          old.wkb, new.wkb),)
    text, meta = _dumps(schema), _dumps(layer.meta)
    return LayerChange(layer=name, key_column=key_column, schema_before=text, schema_after=text, meta_before=meta,
                       meta_after=meta, hash_before=hash_before, hash_after=hash_after, order_before=None, rows=rows)


def _key_text(dtype: str, value: Any) -> str:
    """The key as ``str()`` of the read layer's cell gives it (a missing text or float cell is NaN there)."""
    if value is None:
        return "nan" if dtype in {"str", "float64"} else "None"
    return str(value)


def _record(values: dict[str, Any]) -> str:
    """The row's attributes as the history writes them (``json.dumps(dict(row), ensure_ascii=False)``)."""
    return json.dumps(values, ensure_ascii=False)


def _change(ws: PostGISWorkspace, con: psycopg.Connection[Any], name: str, edit: _Edit) -> LayerChange:
    """What the edit did to the layer, for the history: from the row before and after it and the layer's last
    recorded hash (whatever the layer's size) — from the plain values where they allow, else from one-row frames —,
    or, where that does not apply (no history yet, a hash of the earlier form, the row's dtypes not the layer's), by
    comparing the layer before and after whole."""
    layer = edit.layer
    assert edit.after is not None  # checked by the caller
    change = plain_row_change(name, layer, edit.before, edit.after, edit.position)
    if change is not None:
        return change
    before_row, after_row = _row_frame(layer, edit.before), _row_frame(layer, edit.after)
    previous = layer.previous
    change = row_edit_change(name, before_row, after_row, edit.position, key_column=previous[0],
                             hash_before=previous[1], meta=layer.meta) if previous is not None else None
    if change is None:
        after = read_stored(con, ws.schema, name)
        if after is None:
            msg = _("layer {name} of {label} was not found while recording the edit; nothing was written.").format(
                name=name, label=ws.label)
            raise StoreError(msg)
        position = edit.position
        before = pd.concat([after.iloc[:position], before_row, after.iloc[position + 1:]], ignore_index=True)
        change = diff_layer(name, before, after, meta_before=layer.meta, meta_after=layer.meta)
    return change


def _check_version(name: str, edit: _Edit, base_version: int) -> None:
    current = edit.current
    if current.version != base_version:
        msg = (f"第 {current.fid} 行（图层 {name}）已被 {current.changed_by or '未知用户'} 于 {current.changed_at} 修改"
               f"（当前版本 {current.version}，你的修改基于版本 {base_version}）；请重新读取后再改。row {current.fid} "
               f"of {name} was changed by {current.changed_by} at {current.changed_at}; nothing was written.")
        raise ConflictError(msg)


def _archive_and_update(ws: PostGISWorkspace, edit: _Edit, name: str, assignments: list[Any],
                        params: list[Any], user: str, at: str) -> None:
    """In one statement: append the row's current version to the row history (attributes as JSON, geometry as
    EWKB) and update it (bumping its version, stamping who and when); keep the row as stored after."""
    sql = _driver().sql
    layer = table(ws.schema, name)
    geometry = sql.SQL("ST_AsEWKB(t.{})").format(sql.Identifier(GEOMETRY)) if edit.layer.spatial \
        else sql.SQL("NULL::bytea")
    query = sql.SQL(
        "WITH archived AS (INSERT INTO {} (layer, fid, version, changed_by, changed_at, revision, row, geometry) "
        "SELECT %s, {}, {}, {}, {}, %s, to_jsonb(t) - %s::text[], {} FROM {} AS t WHERE {} = %s) "
        "UPDATE {} SET {} WHERE {} = %s AND {} = %s RETURNING {}").format(
        table(ws.schema, HISTORY_TABLE), sql.Identifier(FID), sql.Identifier(VERSION), sql.Identifier(CHANGED_BY),
        sql.Identifier(CHANGED_AT), geometry, layer, sql.Identifier(FID),
        layer, sql.SQL(", ").join([*assignments, *_stamp()]), sql.Identifier(FID), sql.Identifier(VERSION),
        sql.SQL(", ").join(_selected(edit.layer)) if _selected(edit.layer) else sql.SQL("NULL"))
    found = edit.con.execute(query, (name, edit.revision, sorted(RESERVED_COLUMNS | {GEOMETRY}), edit.fid,
                                     *params, user, at, edit.fid, edit.current.version)).fetchone()
    if found is not None:
        edit.after = tuple(found) if _selected(edit.layer) else ()


def edit_row(  # noqa: PLR0913 - the method's parameters, keyword-only options
    ws: PostGISWorkspace, name: str, fid: int | None, values: Mapping[str, Any], *, base_version: int, user: str,
    geometry: shapely.Geometry | None, note: str | None, wait_s: float, position: int | None = None,
) -> RowVersion:
    """See :meth:`gisplan.store.PostGISWorkspace.edit_row` (and :meth:`~PostGISWorkspace.edit_row_at`: the row by
    its 1-based `position` in stored order, found inside the transaction, when `fid` is None)."""
    sql = _driver().sql
    with _row_edit(ws, name, fid=fid, position=position, action="edit", user=user, note=note,
                   wait_s=wait_s) as edit:
        columns = edit.layer.columns
        unknown = sorted(set(values) - set(columns) - {GEOMETRY})
        if unknown or (geometry is not None and not edit.layer.spatial):
            msg = _("layer {name!r} of {label} has no column(s) {unknown}; its columns are {columns}.").format(
                name=name, label=ws.label, unknown=", ".join(unknown) or GEOMETRY,
                columns=", ".join(c for c in columns if c != GEOMETRY))
            raise StoreError(msg)
        _check_version(name, edit, base_version)
        at = now()
        assignments = [sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values]
        params: list[Any] = [python_scalar(v) for v in values.values()]
        if geometry is not None:  # in the SRID the row's geometry had (0 where it had none)
            assignments.append(sql.SQL("{} = ST_GeomFromWKB(%s, coalesce(ST_SRID({}), 0))").format(
                sql.Identifier(GEOMETRY), sql.Identifier(GEOMETRY)))
            params.append(shapely.to_wkb(geometry))
        _archive_and_update(ws, edit, name, assignments, params, user, at)
        edit.detail = {"fid": edit.fid, "from_version": base_version, "to_version": base_version + 1, "by": user,
                       "columns": sorted(values) + ([GEOMETRY] if geometry is not None else [])}
    return RowVersion(edit.fid, base_version + 1, user, at, edit.revision, edit.position + 1)


def undo_row(ws: PostGISWorkspace, name: str, fid: int, *, base_version: int, user: str, note: str | None,
             wait_s: float) -> RowVersion:
    """See :meth:`gisplan.store.PostGISWorkspace.undo_row`."""
    sql = _driver().sql
    with _row_edit(ws, name, fid=fid, position=None, action="undo", user=user, note=note, wait_s=wait_s) as edit:
        con = edit.con
        attributes = [c for c, _ in edit.layer.attributes]
        _check_version(name, edit, base_version)
        before = con.execute(
            sql.SQL("SELECT version, row, geometry FROM {} WHERE layer = %s AND fid = %s "
                    "ORDER BY seq DESC LIMIT 1").format(table(ws.schema, HISTORY_TABLE)), (name, int(fid))).fetchone()
        if before is None:
            msg = _("row {fid} of {name} in {label} has no earlier version to go back to.").format(
                fid=fid, name=name, label=ws.label)
            raise StoreError(msg)
        layer = table(ws.schema, name)
        targets = [sql.Identifier(c) for c in attributes]
        assignments = [sql.SQL("({}) = (SELECT {} FROM jsonb_populate_record(NULL::{}, %s::jsonb))").format(
            sql.SQL(", ").join(targets), sql.SQL(", ").join(targets), layer)] if attributes else []
        params: list[Any] = [json.dumps(before[1])] if attributes else []
        if edit.layer.spatial:
            assignments.append(sql.SQL("{} = ST_GeomFromEWKB(%s)").format(sql.Identifier(GEOMETRY)))
            params.append(before[2])
        at = now()
        _archive_and_update(ws, edit, name, assignments, params, user, at)
        edit.detail = {"fid": int(fid), "restored_version": int(before[0]), "to_version": base_version + 1,
                       "by": user}
    return RowVersion(int(fid), base_version + 1, user, at, edit.revision, edit.position + 1)


def _stamp() -> list[Any]:
    """The assignments that bump a row's version and stamp who and when (two bound values follow)."""
    sql = _driver().sql
    return [sql.SQL("{} = {} + 1").format(sql.Identifier(VERSION), sql.Identifier(VERSION)),
            sql.SQL("{} = %s").format(sql.Identifier(CHANGED_BY)),
            sql.SQL("{} = %s").format(sql.Identifier(CHANGED_AT))]

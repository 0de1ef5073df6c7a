"""The history of a PostGIS workspace: every revision (who, when, why, what it took back), every layer it changed
(:class:`~gisplan.store.history.LayerChange`) and every row, in three append-only tables of the workspace's schema
(``gisplan_revisions``, ``gisplan_layer_history``, ``gisplan_row_changes``). The same records as a GeoPackage
keeps, so that history, as-of reads, undo and revert (:mod:`gisplan.store.revisions`) work alike on both.

Whole-layer writes and row edits both record here, in the transaction that makes the change: an undo is a new
revision that restores the layers, never a rewrite of what is recorded.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from gisplan.store.history import LayerChange, RowChange, created, diff_layer, history_filters
from gisplan.store.operations import HISTORY_COLUMNS, REVISION_COLUMNS
from gisplan.store.pgschema import LAYER_CHANGES_TABLE, REVISIONS_TABLE, ROW_CHANGES_TABLE, has_table
from gisplan.store.pgschema import sql_composition as _sql
from gisplan.store.pgtables import columns, meta_row, now, read_frame, read_stored, table
from gisplan.store.written import with_written_geometry

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import psycopg

__all__ = ["Before", "changes_since", "history", "last_change", "layer_changes", "record_revision", "revisions",
           "snapshot"]

#: Each touched layer as stored before a revision, with its metadata row (None where absent).
Before = dict[str, tuple[pd.DataFrame | None, dict[str, Any] | None]]

_LAYER_FIELDS = ("revision", "layer", "key_column", "schema_before", "schema_after", "meta_before", "meta_after",
                 "hash_before", "hash_after", "order_before")
_ROW_FIELDS = ("revision", "layer", "op", "key", "label", "pos_before", "before", "after", "before_geom",
               "after_geom")


def snapshot(con: psycopg.Connection[Any], schema: str, names: Sequence[str]) -> Before:
    """The layers `names` as stored now, seen from `con`, with their metadata rows (before a change)."""
    return {name: (read_stored(con, schema, name), meta_row(con, schema, name)) for name in dict.fromkeys(names)}


def changes_since(con: psycopg.Connection[Any], schema: str, before: Before,
                  written: Mapping[str, pd.DataFrame | None] | None = None) -> list[LayerChange]:
    """Every layer in `before` compared with the layer as stored now (inside the same transaction). `written`: the
    frame each layer was last written from (None for a drop), whose geometry stands for the stored one
    (:func:`~gisplan.store.written.with_written_geometry`; only the attributes are read back)."""
    written = written or {}
    return [diff_layer(name, frame, _stored_now(con, schema, name, written.get(name)), meta_before=meta,
                       meta_after=meta_row(con, schema, name), snapshot=True) for name, (frame, meta) in before.items()]


def _stored_now(con: psycopg.Connection[Any], schema: str, name: str,
                data: pd.DataFrame | None) -> pd.DataFrame | None:
    meta = meta_row(con, schema, name)
    if data is None or meta is None:
        return read_stored(con, schema, name)
    attributes, _, _ = read_frame(con, schema, name, geometry=False)
    spatial = any(dtype == "geometry" for _, dtype in columns(con, schema, name))
    found = with_written_geometry(attributes, data, crs=meta["stored_crs"], spatial=spatial)
    return found if found is not None else read_stored(con, schema, name)


def last_change(con: psycopg.Connection[Any], schema: str, layer: str) -> tuple[str, str | None] | None:
    """The key column and the layer hash after the last recorded change of `layer` (None if none, or the layer
    was dropped then)."""
    sql = _sql()
    if not has_table(con, schema, LAYER_CHANGES_TABLE):
        return None
    found = con.execute(sql.SQL("SELECT key_column, hash_after FROM {} WHERE layer = %s ORDER BY revision DESC "
                                "LIMIT 1").format(table(schema, LAYER_CHANGES_TABLE)), (layer,)).fetchone()
    return (str(found[0]), found[1]) if found is not None and found[1] is not None else None


def record_revision(  # noqa: PLR0913 - the revision's who, why and detail, keyword-only
    con: psycopg.Connection[Any], schema: str, revision: int, changes: Sequence[LayerChange], *, action: str,
    user: str | None, note: str | None, undoes: int | None, detail: Mapping[str, Any],
) -> None:
    """Append the revision (who, when, why), its layer changes and their row changes."""
    sql = _sql()
    con.execute(
        sql.SQL('INSERT INTO {} (revision, at, "user", action, note, undoes, layers, detail) '
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)").format(table(schema, REVISIONS_TABLE)),
        (revision, now(), user, action, note, undoes, ",".join(c.layer for c in changes) or None,
         json.dumps(dict(detail), ensure_ascii=False, sort_keys=True, default=str)))
    with con.cursor() as cur:
        for c in changes:
            counts = c.counts
            cur.execute(
                sql.SQL("INSERT INTO {} ({}, inserted, updated, deleted) VALUES ({})").format(
                    table(schema, LAYER_CHANGES_TABLE), sql.SQL(", ").join(map(sql.Identifier, _LAYER_FIELDS)),
                    sql.SQL(", ").join(sql.Placeholder() * (len(_LAYER_FIELDS) + 3))),
                (revision, c.layer, c.key_column, c.schema_before, c.schema_after, c.meta_before, c.meta_after,
                 c.hash_before, c.hash_after, c.order_before, counts["insert"], counts["update"], counts["delete"]))
            if c.rows:
                cur.executemany(
                    sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                        table(schema, ROW_CHANGES_TABLE), sql.SQL(", ").join(map(sql.Identifier, _ROW_FIELDS)),
                        sql.SQL(", ").join(sql.Placeholder() * len(_ROW_FIELDS))),
                    [(revision, c.layer, r.op, r.key, r.label, r.pos_before, r.before, r.after, r.before_geom,
                      r.after_geom) for r in c.rows])


def revisions(con: psycopg.Connection[Any], schema: str) -> pd.DataFrame:
    """Every recorded revision, oldest first (:data:`~gisplan.store.REVISION_COLUMNS`)."""
    sql = _sql()
    rows: list[Any] = []
    if has_table(con, schema, REVISIONS_TABLE):
        rows = con.execute(sql.SQL("SELECT {} FROM {} ORDER BY revision").format(
            sql.SQL(", ").join(map(sql.Identifier, REVISION_COLUMNS)), table(schema, REVISIONS_TABLE))).fetchall()
    frame = pd.DataFrame(rows, columns=list(REVISION_COLUMNS))
    return frame.assign(revision=frame["revision"].astype("int64"), undoes=frame["undoes"].astype("Int64"))


def layer_changes(
    con: psycopg.Connection[Any], schema: str, *, layer: str | None, revision: int | None, after: int | None,
) -> list[tuple[int, LayerChange]]:
    """The recorded layer changes as (revision, change), oldest first, filtered as given."""
    sql = _sql()
    if not has_table(con, schema, LAYER_CHANGES_TABLE):
        return []
    clauses, params = [], []
    for clause, value in (("layer = %s", layer), ("revision = %s", revision), ("revision > %s", after)):
        if value is not None:
            clauses.append(sql.SQL(clause))
            params.append(value)
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("")
    heads = con.execute(sql.SQL("SELECT {}, inserted FROM {}{} ORDER BY revision, layer").format(
        sql.SQL(", ").join(map(sql.Identifier, _LAYER_FIELDS)), table(schema, LAYER_CHANGES_TABLE), where),
        params).fetchall()
    if not heads:
        return []
    rows = con.execute(sql.SQL("SELECT {} FROM {}{} ORDER BY seq").format(
        sql.SQL(", ").join(map(sql.Identifier, _ROW_FIELDS)), table(schema, ROW_CHANGES_TABLE), where),
        params).fetchall()
    by_layer: dict[tuple[int, str], list[RowChange]] = {}
    for r in rows:
        by_layer.setdefault((int(r[0]), r[1]), []).append(RowChange(
            r[2], r[3], r[4], r[5], r[6], r[7], _bytes(r[8]), _bytes(r[9])))
    return [(int(h[0]), LayerChange(
        layer=h[1], key_column=h[2], schema_before=h[3], schema_after=h[4], meta_before=h[5], meta_after=h[6],
        hash_before=h[7], hash_after=h[8], order_before=h[9], rows=tuple(found),
        created=created(h[3], int(h[10]), found)))
        for h in heads for found in [by_layer.get((int(h[0]), h[1]), [])]]


def history(
    con: psycopg.Connection[Any], schema: str, *, layer: str | None, unit: str | None, name: str | None,
) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
    """Row-level history from the row records, oldest first (:data:`~gisplan.store.HISTORY_COLUMNS` and ``seq``),
    filtered as in :meth:`gisplan.store.Workspace.history`, and the creations recorded as one snapshot (revision,
    layer, key column), whose insert records :func:`gisplan.store.revisions.with_snapshot_rows` rebuilds."""
    sql = _sql()
    rows: list[Any] = []
    snapshots: list[Any] = []
    if has_table(con, schema, ROW_CHANGES_TABLE):
        clauses, params = history_filters(layer=layer, unit=unit, name=name, param="%s", contains="strpos")
        where = sql.SQL(" WHERE " + " AND ".join(clauses)) if clauses else sql.SQL("")
        rows = con.execute(sql.SQL(
            'SELECT h.revision, r.at, r."user", r.action, r.note, h.layer, h.op, h.key, h.label, h.before, h.after, '
            "coalesce(h.before_geom, ''::bytea) <> coalesce(h.after_geom, ''::bytea), h.seq "
            "FROM {} h JOIN {} r ON r.revision = h.revision{} ORDER BY h.seq").format(
            table(schema, ROW_CHANGES_TABLE), table(schema, REVISIONS_TABLE), where), params).fetchall()
        own = sql.SQL(" AND l.layer = %s") if layer is not None else sql.SQL("")
        snapshots = con.execute(sql.SQL(
            "SELECT l.revision, l.layer, l.key_column FROM {} l WHERE l.schema_before IS NULL AND l.inserted > 0 "
            "AND NOT EXISTS (SELECT 1 FROM {} h WHERE h.layer = l.layer AND h.revision = l.revision){} "
            "ORDER BY l.revision").format(table(schema, LAYER_CHANGES_TABLE), table(schema, ROW_CHANGES_TABLE),
                                          own), [layer] if layer is not None else []).fetchall()
    frame = pd.DataFrame(rows, columns=[*HISTORY_COLUMNS, "seq"])
    return (frame.assign(revision=frame["revision"].astype("int64"),
                         geometry_changed=frame["geometry_changed"].astype(bool)),
            [(int(r[0]), str(r[1]), str(r[2])) for r in snapshots])


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)

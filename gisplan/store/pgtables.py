"""SQL on one open connection of a PostGIS workspace, shared by the workspace (:mod:`gisplan.store.postgis`), its
row edits (:mod:`gisplan.store.pgedits`) and its history (:mod:`gisplan.store.pghistory`): table identifiers, a
layer's columns, reading a layer as stored, its metadata row, the last revision and the change-log insert.

Names only ever pass through :class:`psycopg.sql.Identifier`; every value is bound.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisplan.store.operations import LOG_TABLE, META_COLUMNS, META_TABLE, check_layer_name
from gisplan.store.pgframes import restore
from gisplan.store.pgschema import COLUMNS_TABLE, FID, GEOMETRY, has_table
from gisplan.store.pgschema import sql_composition as _sql

if TYPE_CHECKING:
    from collections.abc import Mapping

    import psycopg
    from psycopg import sql as sql_module

__all__ = ["columns", "first_line", "last_revision", "log", "meta_row", "now", "os_user", "read_frame",
           "read_stored", "table"]


def table(schema: str, name: str) -> sql_module.Composable:
    """The schema-qualified identifier of table `name`."""
    composed: sql_module.Composable = _sql().Identifier(schema, name)
    return composed


def columns(con: psycopg.Connection[Any], schema: str, name: str) -> list[tuple[str, str]]:
    """(column, pandas dtype) of layer `name` in order; empty if there is no such layer."""
    sql = _sql()
    query = sql.SQL("SELECT name, dtype FROM {} WHERE layer = %s ORDER BY position").format(
        table(schema, COLUMNS_TABLE))
    return [(str(n), str(d)) for n, d in con.execute(query, (name,)).fetchall()]


def read_frame(con: psycopg.Connection[Any], schema: str, name: str, *, geometry: bool,
               fid: int | None = None) -> tuple[pd.DataFrame, gpd.GeoSeries | None, str | None]:
    """The attributes of layer `name` in row order, its geometry (None without, or if not asked for) and CRS; only
    row `fid` when given."""
    sql = _sql()
    check_layer_name(name)
    described = columns(con, schema, name)
    attributes = [(c, d) for c, d in described if d != "geometry"]
    spatial = geometry and any(d == "geometry" for _, d in described)
    selected = [sql.Identifier(c) for c, _ in attributes]
    if spatial:
        selected.append(sql.SQL("ST_AsBinary({})").format(sql.Identifier(GEOMETRY)))
    where = sql.SQL(" WHERE {} = %s").format(sql.Identifier(FID)) if fid is not None else sql.SQL("")
    query = sql.SQL("SELECT {} FROM {}{} ORDER BY {}").format(
        sql.SQL(", ").join(selected) if selected else sql.SQL("NULL"), table(schema, name), where,
        sql.Identifier(FID))
    rows = con.execute(query, (int(fid),) if fid is not None else None).fetchall()
    crs = con.execute(sql.SQL("SELECT stored_crs FROM {} WHERE layer = %s").format(table(schema, META_TABLE)),
                      (name,)).fetchone()
    names = [c for c, _ in attributes]
    frame_rows = pd.DataFrame(rows, columns=[*names, GEOMETRY] if spatial else (names or None))
    if not names and not spatial:
        frame_rows = pd.DataFrame(index=pd.RangeIndex(len(rows)))
    frame = pd.DataFrame({c: restore(frame_rows[c], dtype) for c, dtype in attributes}, index=frame_rows.index)
    if not spatial:
        return frame, None, None
    wkb = frame_rows[GEOMETRY].to_numpy(dtype=object)
    geoms = gpd.GeoSeries(shapely.from_wkb(np.array([None if v is None else bytes(v) for v in wkb], dtype=object)),
                          index=frame_rows.index)
    return frame, geoms, (crs[0] if crs else None)


def read_stored(con: psycopg.Connection[Any], schema: str, name: str, *, fid: int | None = None) -> pd.DataFrame | None:
    """Layer `name` as stored, seen from `con` (inside its transaction): a GeoDataFrame for a spatial layer, a
    DataFrame for a table, None when the workspace holds no such layer; only row `fid` when given."""
    if meta_row(con, schema, name) is None:
        return None
    frame, geoms, crs = read_frame(con, schema, name, geometry=True, fid=fid)
    return frame if geoms is None else gpd.GeoDataFrame(frame, geometry=geoms, crs=crs)


def meta_row(con: psycopg.Connection[Any], schema: str, name: str) -> dict[str, Any] | None:
    """Layer `name`'s metadata row (:data:`~gisplan.store.META_COLUMNS`), None if there is none."""
    sql = _sql()
    if not has_table(con, schema, META_TABLE):
        return None
    found = con.execute(sql.SQL("SELECT {} FROM {} WHERE layer = %s").format(
        sql.SQL(", ").join(map(sql.Identifier, META_COLUMNS)), table(schema, META_TABLE)), (name,)).fetchone()
    return dict(zip(META_COLUMNS, found, strict=True)) if found is not None else None


def last_revision(con: psycopg.Connection[Any], schema: str) -> int:
    """The last revision in the change log (0 if none)."""
    sql = _sql()
    found = con.execute(sql.SQL("SELECT coalesce(max(revision), 0) FROM {}").format(
        table(schema, LOG_TABLE))).fetchone()
    return int(found[0]) if found else 0


def log(con: psycopg.Connection[Any], schema: str, action: str, layer: str | None, detail: Mapping[str, Any],
        revision: int, user: str | None = None) -> None:
    """Append one change-log row."""
    sql = _sql()
    con.execute(
        sql.SQL('INSERT INTO {} (at, "user", action, layer, detail, revision) VALUES (%s, %s, %s, %s, %s, %s)')
        .format(table(schema, LOG_TABLE)),
        (now(), user or os_user(), action, layer, json.dumps(dict(detail), ensure_ascii=False, sort_keys=True),
         revision),
    )


def os_user() -> str | None:
    """The operating-system user (None where there is none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def now() -> str:
    """The time now, ISO 8601 UTC to the microsecond."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (the driver's detail lines stay out of user messages)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

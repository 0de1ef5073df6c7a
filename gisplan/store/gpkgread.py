"""Reading a GeoPackage workspace's own tables (read-only SQL, no DataFrame where a list will do): gisplan's
metadata and change log, the names of its layers and whether a layer has geometry — asked many times a run."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import TYPE_CHECKING, TypeVar

import pandas as pd

from gisplan.errors import StoreError
from gisplan.i18n import _
from gisplan.store.operations import LOG_COLUMNS, META_COLUMNS, META_TABLE

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["has_geometry", "own_layer_names", "read_own_table", "sqlite_uri"]

_T = TypeVar("_T")


def sqlite_uri(path: Path, mode: str = "ro") -> str:
    """SQLite's URI of the file `path` opened in `mode` (``"ro"`` or ``"rw"``): the path percent-encoded, so that a
    folder named with ``#``, ``?`` or ``%`` (or in Chinese) is the folder meant, never a query or a fragment."""
    return f"{path.absolute().as_uri()}?mode={mode}"


def has_geometry(path: Path, name: str) -> bool:
    """Whether layer `name` of the GeoPackage `path` has a geometry column: the GeoPackage's own register of them,
    one query (GDAL's read_info opens the whole dataset: 4–10 ms a layer, 18 times a run)."""
    with contextlib.closing(sqlite3.connect(sqlite_uri(path), uri=True)) as con:
        if not con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'gpkg_geometry_columns'").fetchone()[0]:
            return False  # the register is only required of a GeoPackage with feature tables: another tool's
            # GeoPackage of attribute tables alone may lack it
        found = con.execute("SELECT count(*) FROM gpkg_geometry_columns WHERE lower(table_name) = lower(?)",
                            (name,)).fetchone()[0]
    return bool(found)


def read_own_table(path: Path, table: str, order: str) -> pd.DataFrame:
    """Read one of gisplan's own tables; a GeoPackage without them reads as empty (a new workspace)."""
    columns = list(META_COLUMNS if table == META_TABLE else LOG_COLUMNS)
    # table and order are this module's constants, never user input
    frame = _query(path, table, lambda con: pd.read_sql_query(
        f"SELECT * FROM {table} ORDER BY {order}", con))  # noqa: S608
    if frame is None:
        return pd.DataFrame(columns=columns)
    for column in columns:  # a change log written before revisions existed has no `revision`
        if column not in frame:
            frame[column] = None
    return frame


def own_layer_names(path: Path) -> frozenset[str]:
    """The layers of the metadata table, read without a DataFrame (a run asks 28 times)."""
    names = _query(path, META_TABLE, lambda con: [row[0] for row in con.execute(
        f"SELECT layer FROM {META_TABLE}")])  # noqa: S608
    return frozenset(str(n) for n in names or ())


def _query(path: Path, table: str, query: Callable[[sqlite3.Connection], _T]) -> _T | None:
    """`query` on a read-only connection to `path` when it holds gisplan's `table`; None when the GeoPackage has
    no such table yet (a new workspace)."""
    if not path.exists():
        msg = _("workspace {path} does not exist; import a layer first (`gisplan layers import`).").format(path=path)
        raise StoreError(msg)
    try:
        with contextlib.closing(sqlite3.connect(sqlite_uri(path), uri=True)) as con:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "gpkg_contents" not in tables:
                msg = _("{path} is not a GeoPackage; give a .gpkg workspace (a new name creates one).").format(
                        path=path)
                raise StoreError(msg)
            return query(con) if table in tables else None
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        msg = _("{path} is not a GeoPackage ({exc}); give a .gpkg workspace (a new name creates one).").format(
                path=path, exc=exc)
        raise StoreError(msg) from None

"""The service's own tables in a workspace: API tokens (``service_tokens``) and the write audit (``service_audit``).

They are gisplan's own tables, like the change log: not layers (absent from the metadata table, so never served,
listed, copied or undone), kept in the workspace itself on both backends so that whoever holds the workspace holds
its tokens and its audit. The token table stores only a salted hash of each token (the token is shown once, when it
is made; see :mod:`gisplan.service.auth`). The audit is append-only: rows are only ever inserted.

On a GeoPackage every write holds the workspace's writer lock (a commit replaces the file, so a row written beside
it without the lock could be lost); on PostGIS rows are inserted in their own transaction. Table and column names
are constants of this module; every value is bound.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import TYPE_CHECKING, Any

import pandas as pd

from gisplan.errors import StoreError
from gisplan.i18n import _
from gisplan.store.gpkg import GeoPackageWorkspace
from gisplan.store.gpkgread import sqlite_uri
from gisplan.store.operations import LOG_TABLE
from gisplan.store.pgschema import has_table, sql_composition
from gisplan.store.postgis import PostGISWorkspace

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from gisplan.store.workspace import Workspace

__all__ = [
    "AUDIT_COLUMNS",
    "AUDIT_TABLE",
    "TOKEN_COLUMNS",
    "TOKEN_TABLE",
    "add_token_row",
    "append_audit",
    "layer_revisions",
    "read_audit",
    "read_tokens",
    "revoke_token_row",
]

TOKEN_TABLE = "service_tokens"  # noqa: S105 - a table name
AUDIT_TABLE = "service_audit"
TOKEN_COLUMNS = ("token_id", "user", "role", "salt", "hash", "created_at", "revoked_at")
AUDIT_COLUMNS = ("seq", "at", "user", "role", "method", "path", "client", "status", "summary", "request_id")

_SQLITE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TOKEN_TABLE} (token_id TEXT PRIMARY KEY NOT NULL, user TEXT NOT NULL, "
    "role TEXT NOT NULL, salt TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)",
    f"CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, user TEXT, "
    "role TEXT, method TEXT NOT NULL, path TEXT NOT NULL, client TEXT, status INTEGER NOT NULL, summary TEXT, "
    "request_id TEXT)",
    f"CREATE TRIGGER IF NOT EXISTS {AUDIT_TABLE}_no_update BEFORE UPDATE ON {AUDIT_TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'service_audit is append-only'); END",
    f"CREATE TRIGGER IF NOT EXISTS {AUDIT_TABLE}_no_delete BEFORE DELETE ON {AUDIT_TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'service_audit is append-only'); END",
)
_PG_DDL = (
    "CREATE TABLE IF NOT EXISTS {tokens} (token_id text PRIMARY KEY, \"user\" text NOT NULL, role text NOT NULL, "
    "salt text NOT NULL, hash text NOT NULL, created_at text NOT NULL, revoked_at text)",
    "CREATE TABLE IF NOT EXISTS {audit} (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at text NOT NULL, "
    "\"user\" text, role text, method text NOT NULL, path text NOT NULL, client text, status integer NOT NULL, "
    "summary text, request_id text)",
)


def _require(ws: Workspace) -> None:
    if not isinstance(ws, GeoPackageWorkspace | PostGISWorkspace):
        msg = _("the service tables are kept in GeoPackage and PostGIS workspaces only (got {kind}).").format(
                kind=type(ws).__name__)
        raise StoreError(msg)
    if not ws.exists():
        msg = _("workspace {label} does not exist; create it first (`gisplan db init {label}`).").format(
                label=ws.label)
        raise StoreError(msg)


# ------------------------------------------------------------------------------------------ GeoPackage


@contextlib.contextmanager
def _sqlite(ws: GeoPackageWorkspace, *, write: bool) -> Iterator[sqlite3.Connection]:
    """A connection to the GeoPackage: read-only, or read-write with the tables made, under the writer lock."""
    with ws.lock(wait_s=30.0) if write else contextlib.nullcontext():
        uri = sqlite_uri(ws.path, "rw" if write else "ro")
        try:
            con = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)
        except sqlite3.Error as exc:
            msg = _("cannot open {label} ({exc}).").format(label=ws.label, exc=exc)
            raise StoreError(msg) from None
        with contextlib.closing(con):
            if write:
                for statement in _SQLITE_DDL:
                    con.execute(statement)
            yield con


def _sqlite_has(con: sqlite3.Connection, table: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


# ------------------------------------------------------------------------------------------ PostGIS


@contextlib.contextmanager
def _pg(ws: PostGISWorkspace, *, write: bool) -> Iterator[Any]:
    sql = sql_composition()
    with ws._connect() as con:
        if write and not (has_table(con, ws.schema, TOKEN_TABLE) and has_table(con, ws.schema, AUDIT_TABLE)):
            with con.transaction():
                for statement in _PG_DDL:
                    con.execute(sql.SQL(statement).format(tokens=sql.Identifier(ws.schema, TOKEN_TABLE),
                                                          audit=sql.Identifier(ws.schema, AUDIT_TABLE)))
        yield con


def _pg_table(ws: PostGISWorkspace, table: str) -> Any:
    return sql_composition().Identifier(ws.schema, table)


def _pg_columns(columns: tuple[str, ...]) -> Any:
    sql = sql_composition()
    return sql.SQL(", ").join(map(sql.Identifier, columns))


# ------------------------------------------------------------------------------------------ both


def _insert(ws: Workspace, table: str, row: Mapping[str, Any]) -> None:
    _require(ws)
    columns = tuple(row)
    if isinstance(ws, GeoPackageWorkspace):
        names = ", ".join(f'"{c}"' for c in columns)  # constants of this module, never user text
        with _sqlite(ws, write=True) as con:
            con.execute(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})",  # noqa: S608
                        tuple(row.values()))
        return
    assert isinstance(ws, PostGISWorkspace)
    sql = sql_composition()
    with _pg(ws, write=True) as con:
        con.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            _pg_table(ws, table), _pg_columns(columns), sql.SQL(", ").join(sql.Placeholder() * len(columns))),
            tuple(row.values()))


def _select(ws: Workspace, table: str, columns: tuple[str, ...], *, order: str, descending: bool = False,
            limit: int | None = None, offset: int = 0) -> pd.DataFrame:
    """Rows of an own table (empty when the table is not there yet)."""
    _require(ws)
    direction = "DESC" if descending else "ASC"
    if isinstance(ws, GeoPackageWorkspace):
        names = ", ".join(f'"{c}"' for c in columns)
        with _sqlite(ws, write=False) as con:
            if not _sqlite_has(con, table):
                return pd.DataFrame(columns=list(columns))
            rows = con.execute(f'SELECT {names} FROM {table} ORDER BY "{order}" {direction} '  # noqa: S608
                               "LIMIT ? OFFSET ?", (-1 if limit is None else limit, offset)).fetchall()
        return pd.DataFrame(rows, columns=list(columns))
    assert isinstance(ws, PostGISWorkspace)
    sql = sql_composition()
    with _pg(ws, write=False) as con:
        if not has_table(con, ws.schema, table):
            return pd.DataFrame(columns=list(columns))
        rows = con.execute(sql.SQL("SELECT {} FROM {} ORDER BY {} {} LIMIT %s OFFSET %s").format(
            _pg_columns(columns), _pg_table(ws, table), sql.Identifier(order), sql.SQL(direction)),
            (limit, offset)).fetchall()
    return pd.DataFrame(rows, columns=list(columns))


def add_token_row(ws: Workspace, row: Mapping[str, Any]) -> None:
    """Insert one token row (:data:`TOKEN_COLUMNS` but ``revoked_at``); the table is made when missing.

    Raises
    ------
    StoreError
        If the workspace does not exist or cannot be written.
    """
    _insert(ws, TOKEN_TABLE, {c: row[c] for c in TOKEN_COLUMNS if c != "revoked_at"})


def read_tokens(ws: Workspace) -> pd.DataFrame:
    """Every token row, oldest first (:data:`TOKEN_COLUMNS`; empty when none was ever made)."""
    return _select(ws, TOKEN_TABLE, TOKEN_COLUMNS, order="created_at")


def revoke_token_row(ws: Workspace, token_id: str, *, at: str) -> bool:
    """Mark token `token_id` revoked at `at` (ISO 8601); False when there is no such live token."""
    _require(ws)
    if isinstance(ws, GeoPackageWorkspace):
        with _sqlite(ws, write=True) as con:
            done = con.execute(f"UPDATE {TOKEN_TABLE} SET revoked_at = ? "  # noqa: S608
                               "WHERE token_id = ? AND revoked_at IS NULL", (at, token_id))
            return done.rowcount == 1
    assert isinstance(ws, PostGISWorkspace)
    sql = sql_composition()
    with _pg(ws, write=True) as con:
        done = con.execute(sql.SQL("UPDATE {} SET revoked_at = %s WHERE token_id = %s AND revoked_at IS NULL").format(
            _pg_table(ws, TOKEN_TABLE)), (at, token_id))
        return bool(done.rowcount == 1)


def append_audit(ws: Workspace, row: Mapping[str, Any]) -> None:
    """Append one audit row (:data:`AUDIT_COLUMNS` but ``seq``).

    Raises
    ------
    StoreError
        If the workspace does not exist or cannot be written.
    """
    _insert(ws, AUDIT_TABLE, {c: row.get(c) for c in AUDIT_COLUMNS if c != "seq"})


def read_audit(ws: Workspace, *, limit: int | None = None, offset: int = 0) -> pd.DataFrame:
    """Audit rows, newest first (:data:`AUDIT_COLUMNS`)."""
    frame = _select(ws, AUDIT_TABLE, AUDIT_COLUMNS, order="seq", descending=True, limit=limit, offset=offset)
    return frame.astype({"seq": "int64", "status": "int64"}) if len(frame) else frame


def layer_revisions(ws: Workspace) -> tuple[int, dict[str, int]]:
    """The workspace's last revision and, per layer, the last revision that wrote or dropped it — in one query on the
    change log (a service asks this per request, to keep what it read of the other layers; ``(0, {})`` for a
    workspace that does not exist yet)."""
    if isinstance(ws, GeoPackageWorkspace):
        if not ws.path.exists():
            return 0, {}
        with _sqlite(ws, write=False) as con:
            if not _sqlite_has(con, LOG_TABLE):
                return 0, {}
            rows = con.execute(f"SELECT layer, max(revision) FROM {LOG_TABLE} GROUP BY layer").fetchall()  # noqa: S608
    elif isinstance(ws, PostGISWorkspace):
        sql = sql_composition()
        with _pg(ws, write=False) as con:
            if not has_table(con, ws.schema, LOG_TABLE):
                return 0, {}
            rows = con.execute(sql.SQL("SELECT layer, max(revision) FROM {} GROUP BY layer").format(
                _pg_table(ws, LOG_TABLE))).fetchall()
    else:
        return ws.revision(), {}
    by_layer = {str(layer): int(rev) for layer, rev in rows if layer is not None and rev is not None}
    last = max((int(rev) for _rid, rev in rows if rev is not None), default=0)
    return last, by_layer

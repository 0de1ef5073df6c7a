"""The PostGIS workspace's schema: the driver (psycopg 3, imported on first use), the workspace URI, gisplan's
own tables and their append-only triggers. SQL names go through ``psycopg.sql`` composition only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gisplan.errors import StoreError
from gisplan.i18n import _
from gisplan.store.operations import LOG_TABLE, META_TABLE

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "CHANGED_AT", "CHANGED_BY", "COLUMNS_TABLE", "FID", "GEOMETRY", "HISTORY_TABLE", "LAYER_CHANGES_TABLE",
    "OWN_TABLES", "PASSWORD_IN_URI", "RESERVED_COLUMNS", "REVISIONS_TABLE", "ROW_CHANGES_TABLE", "VERSION", "driver",
    "ensure_history", "has_table", "parse_postgres_uri", "scaffold", "sql_composition",
]

#: Per-layer column dtypes, and the append-only history of edited rows.
COLUMNS_TABLE = "gisplan_columns"
HISTORY_TABLE = "gisplan_row_history"
#: The bookkeeping columns in front of every layer table.
FID, VERSION, CHANGED_BY, CHANGED_AT = "gisplan_fid", "gisplan_version", "gisplan_changed_by", "gisplan_changed_at"
RESERVED_COLUMNS = frozenset({FID, VERSION, CHANGED_BY, CHANGED_AT})
GEOMETRY = "geometry"
#: The history of every revision (see gisplan.store.history): who, when, why; each layer it changed; each row.
REVISIONS_TABLE = "gisplan_revisions"
LAYER_CHANGES_TABLE = "gisplan_layer_history"
ROW_CHANGES_TABLE = "gisplan_row_changes"
OWN_TABLES = frozenset({META_TABLE, LOG_TABLE, COLUMNS_TABLE, HISTORY_TABLE, REVISIONS_TABLE, LAYER_CHANGES_TABLE,
                        ROW_CHANGES_TABLE})
_SCHEMA_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_DEFAULT_SCHEMA = "gisplan"
PASSWORD_IN_URI = re.compile(r"(//[^/:@]*):[^/@]*@")


def driver() -> Any:
    """psycopg 3, imported when a PostGIS workspace is first used (the optional `postgis` extra)."""
    try:
        import psycopg  # noqa: PLC0415
    except ImportError:
        msg = _("PostGIS workspaces need psycopg 3: pip install 'gisplan[postgis]' (or pip install "
                "'psycopg[binary]')")
        raise ImportError(msg) from None
    return psycopg


def sql_composition() -> Any:
    """psycopg's ``sql`` module (identifier composition)."""
    return driver().sql


def parse_postgres_uri(uri: str) -> tuple[str, str]:
    """Split a ``postgresql://…?schema=NAME`` URI into (libpq connection URI, schema name).

    Parameters
    ----------
    uri : str
        ``postgresql://user[:password]@host[:port]/database[?schema=name&…]``; ``postgres://`` and ``postgis://``
        are accepted too. Without ``schema`` the workspace is the schema ``gisplan``.

    Returns
    -------
    tuple of str
        The URI libpq understands (``postgresql://``, other query options kept) and the schema.

    Raises
    ------
    StoreError
        If the schema name is not lower_snake_case ASCII or there is no database.

    Examples
    --------
    >>> parse_postgres_uri("postgis://planner@db.example:5433/civil?schema=yongchuan")
    ('postgresql://planner@db.example:5433/civil', 'yongchuan')
    """
    parts = urlsplit(uri.strip())
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    schema = schemas[-1] if schemas else _DEFAULT_SCHEMA
    shown = PASSWORD_IN_URI.sub(r"\1:…@", uri.strip())
    if not _SCHEMA_RE.fullmatch(schema):
        msg = (_("workspace {shown}: schema {schema!r} must be lower_snake_case ASCII (a-z, 0-9, _), starting with "
                 "a letter (`?schema=yongchuan`).").format(shown=shown, schema=schema))
        raise StoreError(msg)
    if not parts.path.strip("/"):
        msg = _("workspace {shown}: name the database (`postgresql://user@host:5432/DATABASE?schema={schema}`).").format(
                shown=shown, schema=schema)
        raise StoreError(msg)
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(("postgresql", parts.netloc, parts.path, rest, "")), schema


def has_table(con: psycopg.Connection[Any], schema: str, table: str) -> bool:
    found = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                        (schema, table)).fetchone()
    return bool(found and found[0])


def scaffold(con: psycopg.Connection[Any], schema: str) -> None:
    """Create the schema, gisplan's tables and their append-only triggers (inside the commit's transaction)."""
    sql = sql_composition()
    has_postgis = con.execute("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'").fetchone()
    if not has_postgis or not has_postgis[0]:
        con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    s = sql.Identifier(schema)
    con.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s))
    statements = [
        """CREATE TABLE {meta} (layer text PRIMARY KEY, kind text NOT NULL, facility_type text, source_path text,
           source_sha256 text, source_layer text, imported_at text NOT NULL, crs_given text, stored_crs text,
           row_count bigint NOT NULL, illustrative integer NOT NULL CHECK (illustrative IN (0, 1)), note text,
           options text)""",
        """CREATE TABLE {log} (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at text NOT NULL, "user" text,
           action text NOT NULL, layer text, detail text, revision integer)""",
        """CREATE TABLE {columns} (layer text NOT NULL, position integer NOT NULL, name text NOT NULL,
           dtype text NOT NULL, PRIMARY KEY (layer, position))""",
        """CREATE TABLE {history} (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, layer text NOT NULL,
           fid bigint NOT NULL, version integer NOT NULL, changed_by text, changed_at text NOT NULL,
           revision integer NOT NULL, row jsonb NOT NULL, geometry bytea)""",
        """CREATE FUNCTION {refuse}() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'the change log is append-only'; END $$""",
    ]
    names = {"meta": sql.Identifier(schema, META_TABLE), "log": sql.Identifier(schema, LOG_TABLE),
             "columns": sql.Identifier(schema, COLUMNS_TABLE), "history": sql.Identifier(schema, HISTORY_TABLE),
             "refuse": sql.Identifier(schema, "gisplan_append_only")}
    for statement in statements:
        con.execute(sql.SQL(statement).format(**names))
    for table in (LOG_TABLE, HISTORY_TABLE):
        _append_only(con, schema, table)
    ensure_history(con, schema)


_HISTORY_DDL = (
    """CREATE TABLE IF NOT EXISTS {revisions} (revision integer PRIMARY KEY, at text NOT NULL, "user" text,
       action text NOT NULL, note text, undoes integer, layers text, detail text)""",
    """CREATE TABLE IF NOT EXISTS {layers} (revision integer NOT NULL, layer text NOT NULL, key_column text NOT NULL,
       schema_before text, schema_after text, meta_before text, meta_after text, hash_before text, hash_after text,
       order_before text, inserted integer NOT NULL, updated integer NOT NULL, deleted integer NOT NULL,
       PRIMARY KEY (revision, layer))""",
    """CREATE TABLE IF NOT EXISTS {rows} (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       revision integer NOT NULL, layer text NOT NULL, op text NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
       key text NOT NULL, label text, pos_before integer, before text, after text, before_geom bytea,
       after_geom bytea)""",
    "CREATE INDEX IF NOT EXISTS {rows_layer} ON {rows} (layer, revision)",
    "CREATE INDEX IF NOT EXISTS {rows_key} ON {rows} (key)",
)


def ensure_history(con: psycopg.Connection[Any], schema: str) -> None:
    """Create the append-only history tables if the schema lacks them (a workspace made before they existed
    starts its history with its next commit)."""
    sql = sql_composition()
    if has_table(con, schema, ROW_CHANGES_TABLE):
        return
    names = {"revisions": sql.Identifier(schema, REVISIONS_TABLE),
             "layers": sql.Identifier(schema, LAYER_CHANGES_TABLE), "rows": sql.Identifier(schema, ROW_CHANGES_TABLE),
             "rows_layer": sql.Identifier(f"{ROW_CHANGES_TABLE}_layer"),
             "rows_key": sql.Identifier(f"{ROW_CHANGES_TABLE}_key")}
    for statement in _HISTORY_DDL:
        con.execute(sql.SQL(statement).format(**names))
    for table in (REVISIONS_TABLE, LAYER_CHANGES_TABLE, ROW_CHANGES_TABLE):
        _append_only(con, schema, table)


def _append_only(con: psycopg.Connection[Any], schema: str, table: str) -> None:
    sql = sql_composition()
    con.execute(sql.SQL("CREATE OR REPLACE TRIGGER {} BEFORE UPDATE OR DELETE OR TRUNCATE ON {} "
                        "FOR EACH STATEMENT EXECUTE FUNCTION {}()").format(
        sql.Identifier(f"{table}_append_only"), sql.Identifier(schema, table),
        sql.Identifier(schema, "gisplan_append_only")))

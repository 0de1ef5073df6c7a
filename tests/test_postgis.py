"""What only the PostGIS workspace does: row versions and optimistic concurrency (two editors, one conflict), the
append-only row history, `gisplan db init` / `gisplan db copy` both ways without loss, and imports through the
real import workflow in one transaction. The shared Workspace contract runs against PostGIS in test_workspace.py."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import psycopg
from psycopg import sql


def dump_schema(uri: str) -> object:
    """Every table of the workspace's schema with all its rows (None when the schema has no tables): equal dumps
    mean an unchanged workspace."""
    parts = urlsplit(uri)
    schema = dict(parse_qsl(parts.query))["schema"]
    with psycopg.connect(parts._replace(query="").geturl()) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name",
            (schema,)).fetchall()]
        if not tables:
            return None
        return {t: con.execute(sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(schema, t))).fetchall()
                for t in tables}

"""`gisplan db`: create a workspace (PostGIS schema or GeoPackage) and copy a workspace between backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
import pandas as pd

from gisplan.cli.options import WORKSPACE, format_table
from gisplan.errors import StoreError
from gisplan.i18n import _
from gisplan.store.copy import copy_workspace

if TYPE_CHECKING:
    from gisplan.store import Workspace

_EPILOG_INIT = """\b
Examples:
  gisplan db init "postgresql://planner@db.example:5432/civil?schema=yongchuan"
  gisplan db init work/yongchuan.gpkg
\b
The password comes from PGPASSWORD or ~/.pgpass (never write it into a script). The database needs the postgis
extension, or a user who may create it (`CREATE EXTENSION postgis` once, as its owner).
"""

_EPILOG_COPY = """\b
Examples:
  gisplan db copy work/yongchuan.gpkg "postgresql://planner@db:5432/civil?schema=yongchuan"
  gisplan db copy "postgresql://planner@db:5432/civil?schema=yongchuan" backup/yongchuan-2026.gpkg
\b
Every layer is copied with its provenance in one transaction, then read back and compared row by row (row
hashes); exit 1 if any layer differs. The target must be new or empty.
"""


@click.group()
def db() -> None:
    """共享工作区：建库与迁移。 Create a workspace and move it between GeoPackage and PostGIS."""


@db.command("init", epilog=_EPILOG_INIT)
@click.argument("workspace", type=WORKSPACE)
def db_init(workspace: Workspace) -> None:
    """创建工作区（PostGIS 模式或 GeoPackage）。 Create the workspace's schema and gisplan's tables (idempotent)."""
    existed = workspace.exists()
    workspace.create()
    state = "already existed" if existed else "created"
    click.echo(_("{label}: workspace {state} (revision {revision})").format(
            label=workspace.label, state=state, revision=workspace.revision()))


@db.command("copy", epilog=_EPILOG_COPY)
@click.argument("source", type=WORKSPACE)
@click.argument("target", type=WORKSPACE)
def db_copy(source: Workspace, target: Workspace) -> None:
    """复制工作区（GeoPackage ⇄ PostGIS），逐行校验。 Copy every layer of SOURCE into TARGET and verify row hashes."""
    if not source.exists():
        msg = _("workspace {label} does not exist; nothing to copy.").format(label=source.label)
        raise StoreError(msg)
    report = copy_workspace(source, target)
    table = pd.DataFrame({"layer": [c.layer for c in report], "rows": [c.rows for c in report],
                          "row hashes": ["equal" if c.equal else "DIFFERENT" for c in report]})
    click.echo(format_table(table))
    different = [c.layer for c in report if not c.equal]
    if different:
        msg = (_("{label}: layer(s) {different} read back differently from {label2}; the copy is committed but not "
                 "faithful — report this with both files.").format(
                label=target.label, different=', '.join(different), label2=source.label))
        raise StoreError(msg)
    click.echo(_("copied {n} layer(s) from {label} to {label2}; every row hash equal").format(
            n=len(report), label=source.label, label2=target.label))

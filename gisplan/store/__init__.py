"""Tier 1 — the Workspace: every layer, its metadata and the change log, behind one object.

Open one with :func:`open_workspace` (a GeoPackage path, or ``postgresql://…?schema=…`` for PostGIS), read with
:meth:`Workspace.read_layer` / :meth:`Workspace.read_table`, and write several layers in one all-or-nothing
step with :meth:`Workspace.write` or :meth:`Workspace.transaction`.
"""

from __future__ import annotations

from gisplan.store.gpkg import GeoPackageWorkspace
from gisplan.store.postgis import PostGISWorkspace, RowVersion
from gisplan.store.uri import open_workspace
from gisplan.store.workspace import (
    LOG_COLUMNS,
    LOG_TABLE,
    META_COLUMNS,
    META_TABLE,
    Drop,
    Hook,
    LayerWrite,
    Operation,
    Transaction,
    Workspace,
    check_layer_name,
)

__all__ = [
    "LOG_COLUMNS",
    "LOG_TABLE",
    "META_COLUMNS",
    "META_TABLE",
    "Drop",
    "GeoPackageWorkspace",
    "Hook",
    "LayerWrite",
    "Operation",
    "PostGISWorkspace",
    "RowVersion",
    "Transaction",
    "Workspace",
    "check_layer_name",
    "open_workspace",
]

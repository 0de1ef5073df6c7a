"""Tier 1 — the Workspace: every layer, its metadata and the change log, behind one object.

Open one with :func:`open_workspace` (a GeoPackage path, or ``postgresql://…?schema=…`` for PostGIS), read with
:meth:`Workspace.read_layer` / :meth:`Workspace.read_table` (now, or ``as_of`` a revision or date), and
write several layers in one all-or-nothing step with :meth:`Workspace.write` or :meth:`Workspace.transaction`.
Every commit (GeoPackage or PostGIS) records who, when, why and each changed row before and after
(:mod:`gisplan.store.history`); :meth:`Workspace.undo` and :meth:`Workspace.revert` take changes back exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gisplan.lazyexports import lazy_exports
from gisplan.store.gpkg import HISTORY_TABLES, GeoPackageWorkspace
from gisplan.store.history import LayerChange, RowChange, diff_layer, undo_change
from gisplan.store.layerhash import layer_hash
from gisplan.store.operations import (
    HISTORY_COLUMNS,
    LOG_COLUMNS,
    LOG_TABLE,
    META_COLUMNS,
    META_TABLE,
    REVISION_COLUMNS,
    AsOf,
    Drop,
    Hook,
    LayerWrite,
    Operation,
    Transaction,
    check_layer_name,
)
from gisplan.store.uri import open_workspace
from gisplan.store.workspace import Workspace

if TYPE_CHECKING:
    from gisplan.store.postgis import PostGISWorkspace, RowVersion

__all__ = [
    "HISTORY_COLUMNS",
    "HISTORY_TABLES",
    "LOG_COLUMNS",
    "LOG_TABLE",
    "META_COLUMNS",
    "META_TABLE",
    "REVISION_COLUMNS",
    "AsOf",
    "Drop",
    "GeoPackageWorkspace",
    "Hook",
    "LayerChange",
    "LayerWrite",
    "Operation",
    "PostGISWorkspace",
    "RowChange",
    "RowVersion",
    "Transaction",
    "Workspace",
    "check_layer_name",
    "diff_layer",
    "layer_hash",
    "open_workspace",
    "undo_change",
]

# the PostGIS backend (and its SQL modules, a fifth of the store's code) imported when first asked for: a GeoPackage
# workspace, as every `gisplan run` on a file, never loads it
__getattr__, __dir__ = lazy_exports(__name__, {"PostGISWorkspace": "gisplan.store.postgis",
                                               "RowVersion": "gisplan.store.postgis"})

"""Tier 1 — the Workspace: every layer, its metadata and the change log, behind one object."""

from __future__ import annotations

from gisplan.store.gpkg import (
    LOG_TABLE,
    META_TABLE,
    LayerWrite,
    init_store,
    list_layers,
    read_changelog,
    read_store_layer,
    store_layer_names,
    write_layers,
    writer_lock,
)

__all__ = [
    "LOG_TABLE",
    "META_TABLE",
    "LayerWrite",
    "init_store",
    "list_layers",
    "read_changelog",
    "read_store_layer",
    "store_layer_names",
    "write_layers",
    "writer_lock",
]

"""Tier 5 — services over a workspace: OGC API – Features (read-only) for QGIS and other GIS clients."""

from __future__ import annotations

from gisplan.service.features import CONFORMANCE, SENSITIVE_LAYERS, create_app

__all__ = ["CONFORMANCE", "SENSITIVE_LAYERS", "create_app"]

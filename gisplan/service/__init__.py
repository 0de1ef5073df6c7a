"""Tier 5 — services over a workspace: OGC API – Features for QGIS and other GIS clients, place-name query,
authenticated row edits and the naming workflow, with tokens, roles and an audit of every write."""

from __future__ import annotations

from gisplan.service.app import DEFAULT_MAX_BODY_BYTES, create_app
from gisplan.service.auth import list_tokens, make_token, revoke_token
from gisplan.service.features import CONFORMANCE, SENSITIVE_LAYERS

__all__ = ["CONFORMANCE", "DEFAULT_MAX_BODY_BYTES", "SENSITIVE_LAYERS", "create_app", "list_tokens", "make_token",
           "revoke_token"]

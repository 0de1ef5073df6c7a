"""Tier 1 — layer schemas and the checks that collect every problem of a layer (cells, geometry, CRS,
division codes, cross-layer rules) before anything is written.
"""

from __future__ import annotations

from gisplan.validation.schema import KINDS, Context, LayerSchema, layer_schema, validate_layer

__all__ = ["KINDS", "Context", "LayerSchema", "layer_schema", "validate_layer"]

"""Tier 5 — results as files: CSV tables, ``results.gpkg``, coverage files and the HTML map."""

from __future__ import annotations

from gisplan.outputs.coverage import demand_table, write_coverage
from gisplan.outputs.results import map_layers, write_map, write_results
from gisplan.outputs.webmap import (
    BASEMAPS,
    MapLayers,
    build_map,
    check_basemap,
    choropleth_choices,
    layer_counts,
    render_map_html,
)

__all__ = [
    "BASEMAPS",
    "MapLayers",
    "build_map",
    "check_basemap",
    "choropleth_choices",
    "demand_table",
    "layer_counts",
    "map_layers",
    "render_map_html",
    "write_coverage",
    "write_map",
    "write_results",
]

"""Tier 5 — results as files: CSV tables, ``results.gpkg``, coverage files, the HTML map and exports for other
tools (GeoPackage, Shapefile, GeoJSON, KMZ, DXF, XLSX)."""

from __future__ import annotations

from gisplan.outputs.coverage import demand_table, write_coverage
from gisplan.outputs.export import ExportOptions, ExportSource, export_layers, results_source, workspace_source
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
    "ExportOptions",
    "ExportSource",
    "MapLayers",
    "build_map",
    "check_basemap",
    "choropleth_choices",
    "demand_table",
    "export_layers",
    "layer_counts",
    "map_layers",
    "render_map_html",
    "results_source",
    "workspace_source",
    "write_coverage",
    "write_map",
    "write_results",
]

"""Tier 5 — results as files: CSV tables, ``results.gpkg``, coverage files, the HTML map and exports for other
tools (GeoPackage, Shapefile, GeoJSON, KMZ, DXF, XLSX)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gisplan.lazyexports import lazy_exports

if TYPE_CHECKING:
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

# each public name and its module, imported on first use (PEP 562): `gisplan run` does not load the modules of
# the other commands (exports, boundary repair, road downloads …) through this package
_PUBLIC = {
    "BASEMAPS": "gisplan.outputs.webmap",
    "ExportOptions": "gisplan.outputs.export",
    "ExportSource": "gisplan.outputs.export",
    "MapLayers": "gisplan.outputs.webmap",
    "build_map": "gisplan.outputs.webmap",
    "check_basemap": "gisplan.outputs.webmap",
    "choropleth_choices": "gisplan.outputs.webmap",
    "demand_table": "gisplan.outputs.coverage",
    "export_layers": "gisplan.outputs.export",
    "layer_counts": "gisplan.outputs.webmap",
    "map_layers": "gisplan.outputs.results",
    "render_map_html": "gisplan.outputs.webmap",
    "results_source": "gisplan.outputs.export",
    "workspace_source": "gisplan.outputs.export",
    "write_coverage": "gisplan.outputs.coverage",
    "write_map": "gisplan.outputs.results",
    "write_results": "gisplan.outputs.results",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)

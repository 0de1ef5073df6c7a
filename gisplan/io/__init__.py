"""Tier 1 — reading and writing files: tables as the user typed them (any Chinese encoding, XLSX with title
rows), vector files, OpenStreetMap roads, and atomic writers for every output file.
"""

from __future__ import annotations

from gisplan.io.atomic import write_atomic_csv, write_atomic_gpkg, write_atomic_text
from gisplan.io.export import stage_files, write_vector_file, write_xlsx
from gisplan.io.osm import OSM_SUFFIXES, OsmRoads, fetch_osm_roads, is_osm_file, read_osm_roads, roads_from_graphs
from gisplan.io.osmcache import OSM_ATTRIBUTION, check_osm_cache
from gisplan.io.spatial import SPATIAL_SUFFIXES, file_sha256, list_file_layers, read_file_layer, read_spatial
from gisplan.io.tables import (
    COORDINATE_HEADERS,
    LAT_HEADERS,
    LON_HEADERS,
    LONLAT_HEADERS,
    TABLE_SUFFIXES,
    WKT_HEADERS,
    RawTable,
    read_table,
)

__all__ = [
    "COORDINATE_HEADERS",
    "LAT_HEADERS",
    "LONLAT_HEADERS",
    "LON_HEADERS",
    "OSM_ATTRIBUTION",
    "OSM_SUFFIXES",
    "SPATIAL_SUFFIXES",
    "TABLE_SUFFIXES",
    "WKT_HEADERS",
    "OsmRoads",
    "RawTable",
    "check_osm_cache",
    "fetch_osm_roads",
    "file_sha256",
    "is_osm_file",
    "list_file_layers",
    "read_file_layer",
    "read_osm_roads",
    "read_spatial",
    "read_table",
    "roads_from_graphs",
    "stage_files",
    "write_atomic_csv",
    "write_atomic_gpkg",
    "write_atomic_text",
    "write_vector_file",
    "write_xlsx",
]

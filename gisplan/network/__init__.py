"""Tier 2 — road graphs, snapping to the nearest edge, and the routing kernels (multi-source Dijkstra,
reached lines, service areas).
"""

from __future__ import annotations

from gisplan.network.graph import (
    CLASS_COLUMNS,
    DIRECTION_COLUMNS,
    NetworkReport,
    RoadNetwork,
    build_network,
    direction_flags,
    edge_minutes,
    index_dtype,
    min_csr,
    node_edges,
    travel_arcs,
    travel_graph,
)
from gisplan.network.routing import (
    Nearest,
    PlacedDemand,
    Reach,
    demand_minutes,
    pairwise_minutes,
    place_demand,
    reach_from_facilities,
    reached_lines,
    service_area_polygons,
    straight_line_nearest,
)
from gisplan.network.snapping import EdgeSnap, SnapIndex, snap_index, snap_points

__all__ = [
    "CLASS_COLUMNS",
    "DIRECTION_COLUMNS",
    "EdgeSnap",
    "Nearest",
    "NetworkReport",
    "PlacedDemand",
    "Reach",
    "RoadNetwork",
    "SnapIndex",
    "build_network",
    "demand_minutes",
    "direction_flags",
    "edge_minutes",
    "index_dtype",
    "min_csr",
    "node_edges",
    "pairwise_minutes",
    "place_demand",
    "reach_from_facilities",
    "reached_lines",
    "service_area_polygons",
    "snap_index",
    "snap_points",
    "straight_line_nearest",
    "travel_arcs",
    "travel_graph",
]

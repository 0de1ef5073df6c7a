"""Tier 2 — the division model: topology checks of division polygons and their repair, administrative boundary
lines and markers (界线, 界桩), and division changes (区划调整) with their crosswalk of old to new codes."""

from __future__ import annotations

from gisplan.boundaries.changes import (
    CROSSWALK_COLUMNS,
    Change,
    ChangeResult,
    apply_change,
    apply_crosswalk,
    crosswalk_rows,
)
from gisplan.boundaries.lines import LINE_COLUMNS, MARKER_COLUMNS, boundary_lines, place_markers
from gisplan.boundaries.topology import (
    PROBLEM_COLUMNS,
    TopologyReport,
    check_topology,
    repair_coverage,
    require_projected,
)

__all__ = [
    "CROSSWALK_COLUMNS",
    "LINE_COLUMNS",
    "MARKER_COLUMNS",
    "PROBLEM_COLUMNS",
    "Change",
    "ChangeResult",
    "TopologyReport",
    "apply_change",
    "apply_crosswalk",
    "boundary_lines",
    "check_topology",
    "crosswalk_rows",
    "place_markers",
    "repair_coverage",
    "require_projected",
]

"""Tier 3 — demand points, 15-minute coverage, the plan indicators (and the metric registry that computes each
plan row) and the coverage gaps."""

from __future__ import annotations

from gisplan.analysis.coverage import (
    METHOD_LABELS,
    CoverageResult,
    TypeTarget,
    assign_units,
    measure_coverage,
    unit_totals,
)
from gisplan.analysis.demand import DEMAND_COLUMNS, WEIGHTS, demand_from_points, demand_from_raster, demand_from_table
from gisplan.analysis.gaps import GAP_COLUMNS, admin_gaps, coverage_gaps, coverage_gaps_by_type
from gisplan.analysis.indicators import (
    BedShares,
    administrative_coverage,
    bed_shares,
    existing_only,
    floor_area_per_100_households,
    floor_area_table,
    meets_target,
    parse_target,
    populous_units,
    target_status,
)
from gisplan.analysis.metrics import REGISTRY, MetricDef, MetricInputs, evaluate_indicators, types_used

__all__ = [
    "DEMAND_COLUMNS",
    "GAP_COLUMNS",
    "METHOD_LABELS",
    "REGISTRY",
    "WEIGHTS",
    "BedShares",
    "CoverageResult",
    "MetricDef",
    "MetricInputs",
    "TypeTarget",
    "admin_gaps",
    "administrative_coverage",
    "assign_units",
    "bed_shares",
    "coverage_gaps",
    "coverage_gaps_by_type",
    "demand_from_points",
    "demand_from_raster",
    "demand_from_table",
    "evaluate_indicators",
    "existing_only",
    "floor_area_per_100_households",
    "floor_area_table",
    "measure_coverage",
    "meets_target",
    "parse_target",
    "populous_units",
    "target_status",
    "types_used",
    "unit_totals",
]

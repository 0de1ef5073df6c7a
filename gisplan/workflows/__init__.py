"""Tier 5 — scenario workflows (import, coverage, the whole plan run), callable without the CLI so that Dask
workers can run them: no click, no printing, no sys.exit.
"""

from __future__ import annotations

from gisplan.workflows.boundaries import (
    apply_repair,
    check_workspace,
    derive_lines,
    inspection_sheet,
    propose_repair,
    record_inspection,
    write_markers,
)
from gisplan.workflows.coverage import coverage_for_scenario, scenario_demand, scenario_network
from gisplan.workflows.divisions import DivisionOutcome, change_divisions, recode_table
from gisplan.workflows.importing import (
    ImportResult,
    ImportSpec,
    import_layers,
    layer_name_for,
    load_context,
    validate_imports,
)
from gisplan.workflows.plan import RunResult, apply_reported_values, run_scenario
from gisplan.workflows.roads import RoadsFetched, district_outline, fetch_roads, scenario_outline
from gisplan.workflows.workspace import WorkspaceProposal, propose_for_type, with_minutes, workspace_scenario

__all__ = [
    "DivisionOutcome",
    "ImportResult",
    "ImportSpec",
    "RoadsFetched",
    "RunResult",
    "WorkspaceProposal",
    "apply_repair",
    "apply_reported_values",
    "change_divisions",
    "check_workspace",
    "coverage_for_scenario",
    "derive_lines",
    "district_outline",
    "fetch_roads",
    "import_layers",
    "inspection_sheet",
    "layer_name_for",
    "load_context",
    "propose_for_type",
    "propose_repair",
    "recode_table",
    "record_inspection",
    "run_scenario",
    "scenario_demand",
    "scenario_network",
    "scenario_outline",
    "validate_imports",
    "with_minutes",
    "workspace_scenario",
    "write_markers",
]

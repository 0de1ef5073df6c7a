"""Tier 5 — scenario workflows (import, coverage, the whole plan run), callable without the CLI so that Dask
workers can run them: no click, no printing, no sys.exit.
"""

from __future__ import annotations

from gisplan.workflows.coverage import coverage_for_scenario, scenario_demand, scenario_network
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
    "ImportResult",
    "ImportSpec",
    "RoadsFetched",
    "RunResult",
    "WorkspaceProposal",
    "apply_reported_values",
    "coverage_for_scenario",
    "district_outline",
    "fetch_roads",
    "import_layers",
    "layer_name_for",
    "load_context",
    "propose_for_type",
    "run_scenario",
    "scenario_demand",
    "scenario_network",
    "scenario_outline",
    "validate_imports",
    "with_minutes",
    "workspace_scenario",
]

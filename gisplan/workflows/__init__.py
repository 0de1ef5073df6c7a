"""Tier 5 — scenario workflows (import, coverage, the whole plan run), callable without the CLI so that Dask
workers can run them: no click, no printing, no sys.exit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gisplan.lazyexports import lazy_exports

if TYPE_CHECKING:
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

# each public name and its module, imported on first use (PEP 562): `gisplan run` does not load the modules of
# the other commands (exports, boundary repair, road downloads …) through this package
_PUBLIC = {
    "DivisionOutcome": "gisplan.workflows.divisions",
    "ImportResult": "gisplan.workflows.importing",
    "ImportSpec": "gisplan.workflows.importing",
    "RoadsFetched": "gisplan.workflows.roads",
    "RunResult": "gisplan.workflows.plan",
    "WorkspaceProposal": "gisplan.workflows.workspace",
    "apply_repair": "gisplan.workflows.boundaries",
    "apply_reported_values": "gisplan.workflows.plan",
    "change_divisions": "gisplan.workflows.divisions",
    "check_workspace": "gisplan.workflows.boundaries",
    "coverage_for_scenario": "gisplan.workflows.coverage",
    "derive_lines": "gisplan.workflows.boundaries",
    "district_outline": "gisplan.workflows.roads",
    "fetch_roads": "gisplan.workflows.roads",
    "import_layers": "gisplan.workflows.importing",
    "inspection_sheet": "gisplan.workflows.boundaries",
    "layer_name_for": "gisplan.workflows.importing",
    "load_context": "gisplan.workflows.importing",
    "propose_for_type": "gisplan.workflows.workspace",
    "propose_repair": "gisplan.workflows.boundaries",
    "recode_table": "gisplan.workflows.divisions",
    "record_inspection": "gisplan.workflows.boundaries",
    "run_scenario": "gisplan.workflows.plan",
    "scenario_demand": "gisplan.workflows.coverage",
    "scenario_network": "gisplan.workflows.coverage",
    "scenario_outline": "gisplan.workflows.roads",
    "validate_imports": "gisplan.workflows.importing",
    "with_minutes": "gisplan.workflows.workspace",
    "workspace_scenario": "gisplan.workflows.workspace",
    "write_markers": "gisplan.workflows.boundaries",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
